/*
 * async.c: asynchronous receivers (signal.h). A snapshot holds
 * sh_signal__async_receiver in place of an async connection's function, so the
 * send path has no extra branch for them: the stand-in copies the args and
 * hands a job to the hub's executor, which later calls the real receiver
 * with the copy on one of its threads.
 */
#include <stdlib.h>
#include <string.h>

#include <sighost/error.h>

#include "internal.h"

/* One queued call. Everything it needs is copied: the connection may be
 * disconnected and freed before the job runs. */
typedef struct sh__async_job {
	sh_receiver_fn fn;
	void *payload;
	sh_signal *signal;
	const sh_sender *sender;
	void *args;              /* the copy, NULL when sent without args */
	sh_args_free_fn free_args;
	char *origin;            /* the owner, for the log */
	char *name;              /* the receiver's name, for the log */
} sh__async_job;

static void sh_signal__async_job_free(sh__async_job *job)
{
	if (job->args != NULL)
		job->free_args(job->args);
	free(job->origin);
	free(job->name);
	free(job);
}

static void sh_signal__async_run(void *context)
{
	sh__async_job *job = context;
	void *response = NULL;
	int status = job->fn(job->signal, job->sender, job->args, &response, job->payload);
	if (status != 0)
		sh_hub_log(job->signal->hub, SH_LOG_ERROR, job->origin,
			"async receiver %s of signal '%s' failed: %s", job->name,
			job->signal->name, sh_error_last()->message);
	sh_signal__async_job_free(job);
}

static const char *sh_signal__conn_label(const sh__conn *conn)
{
	return conn->info.name != NULL ? conn->info.name : "(unnamed)";
}

static char *sh_signal__dup(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

int sh_signal__async_receiver(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	const sh__conn *conn = payload;
	sh_hub *hub = signal->hub;
	if (hub->executor == NULL)
		return conn->info.receiver(signal, sender, args, response, conn->info.payload);

	const char *origin = conn->info.owner != NULL ? conn->info.owner : "sighost";
	if (args != NULL && signal->copy_args == NULL) {
		sh_hub_log(hub, SH_LOG_ERROR, origin, "async receiver %s of signal '%s' not run: "
			"the signal has no argument copier", sh_signal__conn_label(conn), signal->name);
		return 0;
	}
	sh__async_job *job = calloc(1, sizeof *job);
	if (job == NULL) {
		sh_hub_log(hub, SH_LOG_ERROR, origin, "async receiver %s of signal '%s' not run: "
			"out of memory", sh_signal__conn_label(conn), signal->name);
		return 0;
	}
	*job = (sh__async_job){ conn->info.receiver, conn->info.payload, signal, sender, NULL,
		signal->free_args, sh_signal__dup(origin), sh_signal__dup(sh_signal__conn_label(conn)) };
	if (args != NULL && (job->args = signal->copy_args(args)) == NULL) {
		sh_hub_log(hub, SH_LOG_ERROR, origin, "async receiver %s of signal '%s' not run: "
			"copying its arguments failed", sh_signal__conn_label(conn), signal->name);
		sh_signal__async_job_free(job);
		return 0;
	}
	if (job->origin == NULL || job->name == NULL
		|| hub->executor(sh_signal__async_run, job, hub->executor_payload) < 0) {
		sh_hub_log(hub, SH_LOG_ERROR, origin, "async receiver %s of signal '%s' not run: "
			"the executor refused it", sh_signal__conn_label(conn), signal->name);
		sh_signal__async_job_free(job);
	}
	return 0;
}

int sh_signal_set_copier(sh_signal *signal, sh_args_copy_fn copy, sh_args_free_fn free_fn)
{
	if (signal == NULL || copy == NULL || free_fn == NULL)
		return sh_error_set(SH_EINVAL, "sh_signal_set_copier: an argument is NULL");
	signal->copy_args = copy;
	signal->free_args = free_fn;
	return 0;
}

void sh_hub_set_executor(sh_hub *hub, sh_executor_fn fn, void *payload)
{
	hub->executor = fn;
	hub->executor_payload = payload;
}
