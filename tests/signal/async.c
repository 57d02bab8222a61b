/*
 * async.c: asynchronous receivers and the worker pool: an async receiver
 * runs on a pool thread with a copy of the args, the send does not wait,
 * failures are logged, the queue drains on free, a full queue makes the
 * sender wait (asleep, until a job leaves the queue: waited for as events
 * with deadlines, never a fixed sleep), and without an executor async receivers run inline.
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

typedef struct submitter {
	sh_pool *pool;
	gate *g;
	atomic_int tid;
	atomic_bool done;
	bool gate_was_open;   /* when the submit returned */
} submitter;

static void *submit_one(void *arg)
{
	submitter *s = arg;
	atomic_store(&s->tid, (int)gettid());
	sh_pool_submit(s->pool, wait_at_gate, s->g);
	pthread_mutex_lock(&s->g->lock);
	s->gate_was_open = s->g->open;
	pthread_mutex_unlock(&s->g->lock);
	atomic_store(&s->done, true);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The scheduler's state of thread `tid` of this process ('S' when it
 * sleeps, as in a wait on a condition variable), '?' when unknown. */
static char thread_state(int tid)
{
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return '?';
	char *got = fgets(line, sizeof line, f);
	fclose(f);
	const char *end = got != NULL ? strrchr(line, ')') : NULL;   /* after the name */
	return end != NULL && end[1] == ' ' ? end[2] : '?';
}

Test(pool, a_full_queue_makes_the_submitter_wait)
{
	sh_pool *p;
	cr_assert_eq(sh_pool_new(&p, 1, 2), 0);
	gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0,
		PTHREAD_COND_INITIALIZER };
	/* one job blocks the only worker, two fill the queue */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(sh_pool_submit(p, wait_at_gate, &g), 0);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&g.lock);
	while (g.entered == 0
		&& pthread_cond_timedwait(&g.entered_cond, &g.lock, &deadline) == 0)
		;
	int entered = g.entered;
	pthread_mutex_unlock(&g.lock);
	cr_assert_eq(entered, 1, "the worker took the first job within 10 s (the queue holds two)");
	/* a fourth submit: it must wait, asleep, until the gate opens */
	submitter s = { .pool = p, .g = &g };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, submit_one, &s), 0);
	double end = now_s() + 10;
	while (!atomic_load(&s.done) && (atomic_load(&s.tid) == 0
			|| thread_state(atomic_load(&s.tid)) != 'S') && now_s() < end)
		sched_yield();
	cr_assert_not(atomic_load(&s.done), "the fourth submit returned while the queue was full");
	cr_assert_eq(thread_state(atomic_load(&s.tid)), 'S', "the fourth submit did not sleep "
		"within 10 s");
	pthread_mutex_lock(&g.lock);
	g.open = true;
	pthread_cond_broadcast(&g.open_cond);
	pthread_mutex_unlock(&g.lock);
	pthread_join(t, NULL);
	cr_assert(atomic_load(&s.done));
	cr_assert(s.gate_was_open, "the fourth submit returned before a job left the queue");
	sh_pool_wait_idle(p);
	cr_assert_eq(atomic_load(&g.ran), 4);
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
