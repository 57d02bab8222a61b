/*
 * audit.c: the audit plugin. Connects one receiver to every built-in
 * signal, first in call order, and appends one JSON line per send to the
 * file named by settings.audit.path (relative to the project manifest's
 * directory):
 *
 *   {"time":"2026-01-02T03:04:05.678Z","signal":"post_save",
 *    "sender":"alert.Alert","args":{"created":true,...}}
 *
 * With settings.audit.async true (default false) the receivers are
 * connected async: they run on the worker pool of `sighost serve`, off the
 * request threads, with copies of the signals' arguments, and "time" is
 * when the line is written rather than when the signal was sent. The
 * setting is read once, in ready().
 *
 * Sends may come from several threads (request threads, and pool threads
 * at once when async): lines are serialised outside the lock and written
 * whole, and flushed, under a lock owned by the plugin's state, which
 * lives in its app (no globals). The pool is drained before teardown()
 * closes the file.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"

SH_PLUGIN_ABI;

typedef struct audit_state {
	sh_hub *hub;
	FILE *out;
	pthread_mutex_t lock;
} audit_state;

static sh_builtin builtin_of(const audit_state *state, const sh_signal *signal)
{
	for (int i = 0; i < SH_BUILTIN_COUNT; i++)
		if (sh_hub_builtin(state->hub, (sh_builtin)i) == signal)
			return (sh_builtin)i;
	return SH_BUILTIN_COUNT;
}

static void now_iso8601(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static int audit_record(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)response;
	audit_state *state = payload;
	char when[40];
	now_iso8601(when, sizeof when);
	json_t *line = json_pack("{s:s, s:s, s:s?, s:o*}", "time", when,
		"signal", sh_signal_name(signal), "sender", sender ? sh_sender_name(sender) : NULL,
		"args", audit_args_json(builtin_of(state, signal), args));
	char *text = line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(line);
	if (text == NULL)
		return sh_error_set(SH_ENOMEM, "audit: out of memory");
	pthread_mutex_lock(&state->lock);
	int failed = fputs(text, state->out) < 0 || fputc('\n', state->out) < 0
		|| fflush(state->out) != 0;
	pthread_mutex_unlock(&state->lock);
	free(text);
	return failed ? sh_error_set(SH_EIO, "audit: cannot write the audit log") : 0;
}

/* Opens the file of settings.audit.path, or says why not. */
static int open_log(FILE **out, sh_app *app)
{
	const char *path = sh_value_path_string(sh_app_settings(app), "path", NULL);
	if (path == NULL || path[0] == '\0')
		return sh_error_set(SH_EINVAL, "settings.%s.path is not set (the file to write to)",
			sh_app_label(app));
	char full[4096];
	if (path[0] == '/')
		snprintf(full, sizeof full, "%s", path);
	else
		snprintf(full, sizeof full, "%s/%s", sh_app_project_dir(app), path);
	*out = fopen(full, "a");
	if (*out == NULL)
		return sh_error_set(SH_EIO, "cannot open %s for appending", full);
	return 0;
}

/* Reads settings.audit.async into *out: absent is false. */
static int read_async(bool *out, sh_app *app)
{
	const sh_value *value = sh_value_get(sh_app_settings(app), "async");
	*out = false;
	if (value == NULL || sh_value_bool(out, value) == 0)
		return 0;
	return sh_error_set(SH_EINVAL, "%s:%u:%u: settings.%s.async must be true or false, not %s",
		sh_value_file(value), sh_value_line(value), sh_value_column(value),
		sh_app_label(app), sh_value_type_name(sh_value_type_of(value)));
}

static int connect_all(sh_app *app, audit_state *state)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.priority = SH_PRIORITY_REALLY_FIRST;
	opts.name = "audit_record";
	int rc = read_async(&opts.async, app);
	if (rc < 0)
		return rc;
	for (int i = 0; i < SH_BUILTIN_COUNT && rc >= 0; i++)
		rc = sh_app_connect(NULL, app, sh_builtin_name((sh_builtin)i), NULL, audit_record,
			state, &opts);
	return rc < 0 ? rc : 0;
}

int ready(sh_app *app)
{
	audit_state *state = calloc(1, sizeof *state);
	if (state == NULL)
		return sh_error_set(SH_ENOMEM, "audit: out of memory");
	state->hub = sh_app_hub(app);
	pthread_mutex_init(&state->lock, NULL);
	int rc = open_log(&state->out, app);
	if (rc == 0)
		rc = connect_all(app, state);
	if (rc < 0) {
		if (state->out)
			fclose(state->out);
		pthread_mutex_destroy(&state->lock);
		free(state);
		return rc;
	}
	sh_app_set_data(app, state);
	return 0;
}

void teardown(sh_app *app)
{
	audit_state *state = sh_app_data(app);
	if (state == NULL)
		return;
	fclose(state->out);
	pthread_mutex_destroy(&state->lock);
	free(state);
	sh_app_set_data(app, NULL);
}
