/*
 * async.c: asynchronous receivers and the worker pool: an async receiver
 * runs on a pool thread with a copy of the args, the send does not wait,
 * failures are logged, the queue drains on free, a full queue makes the
 * submitter run the job itself (never wait, from a pool thread either),
 * close ends a chain of jobs, and without an executor async receivers run inline.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sighost/sys/sighost.h>

typedef struct seen {
	atomic_int calls;
	atomic_int value_sum;
	pthread_t thread;
	atomic_bool off_thread;
} seen;

typedef struct msg_args {
	int value;
} msg_args;

static atomic_int copies, frees;

static void *copy_msg(const void *args)
{
	msg_args *c = malloc(sizeof *c);
	if (c != NULL) {
		*c = *(const msg_args *)args;
		atomic_fetch_add(&copies, 1);
	}
	return c;
}

static void free_msg(void *copy)
{
	atomic_fetch_add(&frees, 1);
	free(copy);
}

static int record(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal; (void)sender; (void)response;
	seen *s = payload;
	atomic_fetch_add(&s->value_sum, args ? ((const msg_args *)args)->value : 0);
	if (!pthread_equal(pthread_self(), s->thread))
		atomic_store(&s->off_thread, true);
	atomic_fetch_add(&s->calls, 1);
	return 0;
}

static int fail(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal; (void)sender; (void)args; (void)response; (void)payload;
	return sh_error_set(SH_ERROR, "smtp down");
}

typedef struct logbook {
	pthread_mutex_t lock;
	char text[4096];
} logbook;

static void log_to_book(sh_log_level level, const char *origin, const char *message, void *payload)
{
	logbook *b = payload;
	pthread_mutex_lock(&b->lock);
	size_t n = strlen(b->text);
	snprintf(b->text + n, sizeof b->text - n, "%d %s %s\n", (int)level, origin, message);
	pthread_mutex_unlock(&b->lock);
}

static sh_hub *hub;
static sh_signal *sig;
static sh_pool *pool;

static void setup(void)
{
	atomic_store(&copies, 0);
	atomic_store(&frees, 0);
	cr_assert_eq(sh_hub_new(&hub), 0);
	cr_assert_eq(sh_signal_declare(&sig, hub, "mail.send", "mail"), 0);
	cr_assert_eq(sh_signal_set_copier(sig, copy_msg, free_msg), 0);
	cr_assert_eq(sh_pool_new(&pool, 2, 4), 0);
	sh_hub_set_executor(hub, sh_pool_executor, pool);
}

static void finish(void)
{
	sh_pool_free(pool);
	sh_hub_free(hub);
}

static sh_connection_id connect_async(sh_receiver_fn fn, void *payload)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.async = true;
	opts.owner = "mail";
	opts.name = "worker";
	sh_connection_id id = 0;
	cr_assert_eq(sh_signal_connect(&id, sig, fn, payload, &opts), 0);
	return id;
}

TestSuite(async, .init = setup, .fini = finish, .timeout = 20);

Test(async, runs_off_the_sending_thread_with_a_copy_of_the_args)
{
	seen s = { .thread = pthread_self() };
	connect_async(record, &s);
	for (int i = 1; i <= 10; i++) {
		msg_args a = { i };
		sh_responses out = SH_RESPONSES_INIT;
		cr_assert_eq(sh_signal_send(sig, NULL, &a, &out), 0);
		cr_assert_eq(out.count, 1);
		cr_assert_null(out.items[0].value, "an async receiver gives no response");
		sh_responses_dispose(&out);
		a.value = -1000;  /* the copy is what the receiver sees */
	}
	sh_pool_wait_idle(pool);
	cr_assert_eq(atomic_load(&s.calls), 10);
	cr_assert_eq(atomic_load(&s.value_sum), 55);
	cr_assert(atomic_load(&s.off_thread), "ran on a pool thread");
	cr_assert_eq(atomic_load(&copies), 10);
	cr_assert_eq(atomic_load(&frees), 10, "every copy is freed after its run");
}

Test(async, sync_receivers_still_run_inline_in_order)
{
	seen inline_seen = { .thread = pthread_self() };
	seen async_seen = { .thread = pthread_self() };
	connect_async(record, &async_seen);
	cr_assert_eq(sh_signal_connect(NULL, sig, record, &inline_seen, NULL), 0);
	msg_args a = { 7 };
	cr_assert_eq(sh_signal_send(sig, NULL, &a, NULL), 0);
	cr_assert_eq(atomic_load(&inline_seen.calls), 1, "the sync receiver ran before send returned");
	cr_assert_not(atomic_load(&inline_seen.off_thread));
	sh_pool_wait_idle(pool);
	cr_assert_eq(atomic_load(&async_seen.calls), 1);
}

Test(async, a_failure_is_logged_and_does_not_fail_the_send)
{
	logbook book = { PTHREAD_MUTEX_INITIALIZER, "" };
	sh_hub_set_logger(hub, log_to_book, &book);
	seen s = { .thread = pthread_self() };
	connect_async(fail, NULL);
	cr_assert_eq(sh_signal_connect(NULL, sig, record, &s, NULL), 0);
	msg_args a = { 1 };
	cr_assert_eq(sh_signal_send(sig, NULL, &a, NULL), 0, "send does not see the async failure");
	cr_assert_eq(atomic_load(&s.calls), 1, "the receiver after it ran");
	sh_pool_wait_idle(pool);
	pthread_mutex_lock(&book.lock);
	cr_assert_not_null(strstr(book.text, "mail async receiver worker of signal 'mail.send' failed: smtp down"),
		"%s", book.text);
	pthread_mutex_unlock(&book.lock);
}

Test(async, without_a_copier_args_cannot_travel)
{
	logbook book = { PTHREAD_MUTEX_INITIALIZER, "" };
	sh_hub_set_logger(hub, log_to_book, &book);
	sh_signal *bare;
	cr_assert_eq(sh_signal_named(&bare, hub, "mail.bare"), 0);
	seen s = { .thread = pthread_self() };
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.async = true;
	cr_assert_eq(sh_signal_connect(NULL, bare, record, &s, &opts), 0);
	msg_args a = { 3 };
	cr_assert_eq(sh_signal_send(bare, NULL, &a, NULL), 0);
	cr_assert_eq(sh_signal_send(bare, NULL, NULL, NULL), 0);
	sh_pool_wait_idle(pool);
	cr_assert_eq(atomic_load(&s.calls), 1, "only the send without args reached it");
	cr_assert_not_null(strstr(book.text, "has no argument copier"), "%s", book.text);
}

Test(async, without_an_executor_async_receivers_run_inline)
{
	sh_hub_set_executor(hub, NULL, NULL);
	seen s = { .thread = pthread_self() };
	connect_async(record, &s);
	msg_args a = { 4 };
	cr_assert_eq(sh_signal_send(sig, NULL, &a, NULL), 0);
	cr_assert_eq(atomic_load(&s.calls), 1);
	cr_assert_not(atomic_load(&s.off_thread));
	cr_assert_eq(atomic_load(&copies), 0, "nothing copied inline");
}

static int note_async(const sh_connection_info *info, void *payload)
{
	*(bool *)payload = info->async;
	return 0;
}

Test(async, connection_info_says_async)
{
	seen s = { .thread = pthread_self() };
	sh_connection_id id = connect_async(record, &s);
	cr_assert_neq(id, 0);
	bool async = false;
	int rc = sh_signal_foreach_connection(sig, note_async, &async);
	cr_assert_eq(rc, 0);
	cr_assert(async);
}

/* ---- the pool on its own ---- */

typedef struct gate {
	pthread_mutex_t lock;
	pthread_cond_t open_cond;
	bool open;
	atomic_int ran;
	int entered;          /* jobs that reached the gate (under lock) */
	pthread_cond_t entered_cond;
} gate;

static void count_here(void *context)
{
	atomic_fetch_add((atomic_int *)context, 1);
}

static void wait_at_gate(void *context)
{
	gate *g = context;
	pthread_mutex_lock(&g->lock);
	g->entered++;
	pthread_cond_broadcast(&g->entered_cond);
	while (!g->open)
		pthread_cond_wait(&g->open_cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	atomic_fetch_add(&g->ran, 1);
}

Test(pool, a_full_queue_makes_the_submitter_run_the_job_itself, .timeout = 10)
{
	sh_pool *p;
	cr_assert_eq(sh_pool_new(&p, 1, 2), 0);
	gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0,
		PTHREAD_COND_INITIALIZER };
	/* one job blocks the only worker, two fill the queue */
	cr_assert_eq(sh_pool_submit(p, wait_at_gate, &g), 0);
	struct timespec deadline;   /* the worker takes it: an event, waited for with a deadline */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&g.lock);
	while (g.entered == 0
		&& pthread_cond_timedwait(&g.entered_cond, &g.lock, &deadline) == 0)
		;
	int entered = g.entered;
	pthread_mutex_unlock(&g.lock);
	cr_assert_eq(entered, 1, "the worker took the first job within 10 s (the queue holds two)");
	for (int i = 0; i < 2; i++)
		cr_assert_eq(sh_pool_submit(p, wait_at_gate, &g), 0);
	/* the fourth runs here, at once: it never waits for room (a waiting
	 * submitter that holds a lock the jobs need deadlocks) */
	pthread_mutex_lock(&g.lock);
	g.open = true;
	pthread_mutex_unlock(&g.lock);
	atomic_int here = 0;
	cr_assert_eq(sh_pool_submit(p, count_here, &here), 0);
	cr_assert_eq(atomic_load(&here), 1, "the job ran on the submitting thread");
	pthread_mutex_lock(&g.lock);
	pthread_cond_broadcast(&g.open_cond);
	pthread_mutex_unlock(&g.lock);
	sh_pool_wait_idle(p);
	cr_assert_eq(atomic_load(&g.ran), 3);
	cr_assert_eq(sh_pool_completed(p), 4);
	sh_pool_free(p);
}

static void count_job(void *context)
{
	usleep(1000);
	atomic_fetch_add((atomic_int *)context, 1);
}

Test(pool, free_runs_every_queued_job_then_refuses_new_ones)
{
	sh_pool *p;
	cr_assert_eq(sh_pool_new(&p, 2, 64), 0);
	atomic_int n = 0;
	for (int i = 0; i < 50; i++)
		cr_assert_eq(sh_pool_submit(p, count_job, &n), 0);
	sh_pool_free(p);
	cr_assert_eq(atomic_load(&n), 50, "the queue drained before the threads were joined");
}

Test(pool, bad_sizes_are_refused)
{
	sh_pool *p = NULL;
	cr_assert_eq(sh_pool_new(&p, 0, 4), SH_EINVAL);
	cr_assert_eq(sh_pool_new(&p, 1, 0), SH_EINVAL);
	cr_assert_null(p);
}

static sh_pool *own_pool;
static atomic_int leaves, refused;

static void leaf_job(void *context)
{
	(void)context;
	atomic_fetch_add(&leaves, 1);
}

/* Submits ten jobs to its own pool, whose queue holds two. */
static void spawn_job(void *context)
{
	(void)context;
	for (int i = 0; i < 10; i++)
		if (sh_pool_submit(own_pool, leaf_job, NULL) != 0)
			atomic_fetch_add(&refused, 1);   /* asserted on the test's thread */
}

Test(pool, a_job_submitting_to_its_own_full_pool_runs_the_job_inline, .timeout = 10)
{
	/* It waited for room only its own thread could make: a deadlock. */
	cr_assert_eq(sh_pool_new(&own_pool, 1, 2), 0);
	atomic_store(&leaves, 0);
	cr_assert_eq(sh_pool_submit(own_pool, spawn_job, NULL), 0);
	sh_pool_wait_idle(own_pool);
	cr_assert_eq(atomic_load(&refused), 0);
	cr_assert_eq(atomic_load(&leaves), 10);
	cr_assert_eq(sh_pool_completed(own_pool), 11);
	sh_pool_free(own_pool);
}

/* Queues itself again, forever: a chain of async receivers. */
static void chain_job(void *context)
{
	atomic_fetch_add(&leaves, 1);
	sh_pool_submit(own_pool, chain_job, context);
}

Test(pool, close_ends_a_chain_of_jobs_that_queue_each_other, .timeout = 10)
{
	cr_assert_eq(sh_pool_new(&own_pool, 2, 4), 0);
	atomic_store(&leaves, 0);
	cr_assert_eq(sh_pool_submit(own_pool, chain_job, NULL), 0);
	for (int i = 0; i < 10000 && atomic_load(&leaves) < 2; i++)   /* the chain runs: 10 s at most */
		usleep(1000);
	cr_assert_geq(atomic_load(&leaves), 2, "the chain of jobs did not start within 10 s");
	sh_pool_close(own_pool);
	sh_pool_wait_idle(own_pool);
	int ran = atomic_load(&leaves);
	cr_assert_gt(ran, 1);
	usleep(20000);   /* a quiet period: a job still queued would run in it */
	cr_assert_eq(atomic_load(&leaves), ran, "nothing runs once idle");
	cr_assert_eq(sh_pool_submit(own_pool, leaf_job, NULL), SH_EINVAL,
		"another thread's submit is refused once closed");
	sh_pool_free(own_pool);
}
