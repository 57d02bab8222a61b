/*
 * stress.c: sends from several threads while other threads connect and
 * disconnect. Every send must see a consistent snapshot (receivers in
 * order, each at most once), receivers connected throughout must be called
 * by every send, and what the receivers counted must match what the sends
 * reported. sh_hub_synchronize() must wait out sends that could still call
 * a disconnected receiver. Bounded to a few seconds, also under ASan.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sighost/sys/sighost.h>

#define SENDERS 4
#define SENDS_PER_THREAD 50000     /* at least; more while the churners are slow */
#define CHURN_CYCLES_WANTED 2000   /* senders go on until each churner did this many ... */
#define SEND_SECONDS_MAX 5         /* ... or this much time went by */
#define STABLE 4
#define CHURNERS 2

struct counter {
	atomic_ulong calls;
};

static sh_hub *hub;
static sh_signal *post_save;
static const sh_sender *order;

/* stable[0..1] run in the middle band before any churner, stable[2..3] last. */
static struct counter stable[STABLE];
static struct counter churn[CHURNERS];
static atomic_bool senders_done;

static atomic_ulong sends_made;          /* every send, the churners' own included */
static atomic_ulong order_sends_made;    /* those from shop.Order */
static atomic_ulong inconsistent_sends;  /* a send saw a snapshot that cannot exist */
static atomic_ulong failed_sends;        /* a send returned non-zero */
static atomic_ulong failed_changes;      /* a connect or disconnect returned the unexpected */
static atomic_ulong unseen_changes;      /* a churner's own send missed its connect or disconnect */
static atomic_ulong responses_seen;      /* sum of out.count over all sends */
static atomic_ulong churn_responses[CHURNERS];
static atomic_ulong churn_cycles[CHURNERS];

static void setup(void)
{
	cr_assert_eq(sh_hub_new(&hub), 0);
	post_save = sh_hub_builtin(hub, SH_POST_SAVE);
	cr_assert_eq(sh_sender_intern(&order, hub, "shop.Order"), 0);
}

static void teardown(void)
{
	sh_hub_free(hub);
	hub = NULL;
}

TestSuite(stress, .init = setup, .fini = teardown, .timeout = 60);

static int count_call(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args;
	struct counter *c = payload;
	atomic_fetch_add_explicit(&c->calls, 1, memory_order_relaxed);
	*response = payload;
	return 0;
}

static int churn_index(const void *payload)
{
	for (int i = 0; i < CHURNERS; i++)
		if (payload == &churn[i])
			return i;
	return -1;
}

/* The responses of one send must read: stable 0, stable 1, at most one of
 * each churner (churner 1 only for shop.Order), stable 2, stable 3. Returns
 * false for anything else; stores in *seen which churners ran. */
static bool consistent(const sh_responses *out, const sh_sender *sender, bool seen[CHURNERS])
{
	size_t n = out->count;
	for (int c = 0; c < CHURNERS; c++)
		seen[c] = false;
	if (n < STABLE || n > STABLE + CHURNERS)
		return false;
	if (out->items[0].payload != &stable[0] || out->items[1].payload != &stable[1] ||
	    out->items[n - 2].payload != &stable[2] || out->items[n - 1].payload != &stable[3])
		return false;
	for (size_t i = 2; i < n - 2; i++) {
		int c = churn_index(out->items[i].payload);
		if (c < 0 || seen[c] || (c == 1 && sender != order))
			return false;
		seen[c] = true;
	}
	for (size_t i = 0; i < n; i++)
		if (out->items[i].error != 0 || out->items[i].value != out->items[i].payload)
			return false;
	return true;
}

/* Sends once, checks and accounts for the result; returns which churners ran. */
static void send_and_check(const sh_sender *sender, bool robust, bool seen[CHURNERS])
{
	sh_responses out = SH_RESPONSES_INIT;
	int rc = robust ? sh_signal_send_robust(post_save, sender, NULL, &out)
	                : sh_signal_send(post_save, sender, NULL, &out);
	atomic_fetch_add(&sends_made, 1);
	if (sender == order)
		atomic_fetch_add(&order_sends_made, 1);
	if (rc != 0)
		atomic_fetch_add(&failed_sends, 1);
	atomic_fetch_add_explicit(&responses_seen, out.count, memory_order_relaxed);
	if (!consistent(&out, sender, seen))
		atomic_fetch_add(&inconsistent_sends, 1);
	for (int c = 0; c < CHURNERS; c++)
		if (seen[c])
			atomic_fetch_add_explicit(&churn_responses[c], 1, memory_order_relaxed);
	sh_responses_dispose(&out);
}

static bool churners_had_enough(void)
{
	for (int c = 0; c < CHURNERS; c++)
		if (atomic_load(&churn_cycles[c]) < CHURN_CYCLES_WANTED)
			return false;
	return true;
}

static void *sender_thread(void *arg)
{
	uintptr_t self = (uintptr_t)arg;
	time_t deadline = time(NULL) + SEND_SECONDS_MAX;
	for (unsigned long i = 0;
	     i < SENDS_PER_THREAD || (!churners_had_enough() && time(NULL) < deadline); i++) {
		/* Half the sends come from shop.Order, half from no sender; a quarter are robust. */
		const sh_sender *sender = (i + self) % 2 ? order : NULL;
		bool seen[CHURNERS];
		send_and_check(sender, i % 4 == 3, seen);
	}
	return NULL;
}

/* Churner 0: any sender, connect and disconnect by id. Its own sends must
 * see each change it made (a send that starts after connect returns calls
 * the receiver; one that starts after disconnect returns does not). */
static void *churn_by_id(void *arg)
{
	(void)arg;
	while (!atomic_load(&senders_done)) {
		sh_connection_id id = 0;
		bool seen[CHURNERS];
		if (sh_signal_connect(&id, post_save, count_call, &churn[0], NULL) != 0)
			atomic_fetch_add(&failed_changes, 1);
		send_and_check(NULL, false, seen);
		if (!seen[0])
			atomic_fetch_add(&unseen_changes, 1);
		if (sh_signal_disconnect(post_save, id) != 1)
			atomic_fetch_add(&failed_changes, 1);
		send_and_check(NULL, true, seen);
		if (seen[0])
			atomic_fetch_add(&unseen_changes, 1);
		atomic_fetch_add(&churn_cycles[0], 1);
	}
	return NULL;
}

/* Churner 1: shop.Order only, with a dispatch_uid and an owner; removed by
 * uid and by owner in turn. */
static void *churn_by_uid_and_owner(void *arg)
{
	(void)arg;
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = order;
	opts.dispatch_uid = "stress.churn";
	opts.owner = "churn";
	for (unsigned long i = 0; !atomic_load(&senders_done); i++) {
		if (sh_signal_connect(NULL, post_save, count_call, &churn[1], &opts) != 0)
			atomic_fetch_add(&failed_changes, 1);
		if (!sh_signal_has_listeners(post_save, order))
			atomic_fetch_add(&unseen_changes, 1);
		int removed = i % 2 ? sh_signal_disconnect_uid(post_save, "stress.churn", order)
		                    : sh_hub_disconnect_owner(hub, "churn");
		if (removed != 1)
			atomic_fetch_add(&failed_changes, 1);
		atomic_fetch_add(&churn_cycles[1], 1);
	}
	return NULL;
}

Test(stress, concurrent_sends_and_connection_churn_keep_exact_counts)
{
	for (int i = 0; i < STABLE; i++) {
		sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
		opts.priority = i < 2 ? SH_PRIORITY_MIDDLE : SH_PRIORITY_LAST;
		cr_assert_eq(sh_signal_connect(NULL, post_save, count_call, &stable[i], &opts), 0);
	}

	pthread_t senders[SENDERS], churners[CHURNERS];
	cr_assert_eq(pthread_create(&churners[0], NULL, churn_by_id, NULL), 0);
	cr_assert_eq(pthread_create(&churners[1], NULL, churn_by_uid_and_owner, NULL), 0);
	for (uintptr_t i = 0; i < SENDERS; i++)
		cr_assert_eq(pthread_create(&senders[i], NULL, sender_thread, (void *)i), 0);
	for (int i = 0; i < SENDERS; i++)
		pthread_join(senders[i], NULL);
	atomic_store(&senders_done, true);
	for (int i = 0; i < CHURNERS; i++)
		pthread_join(churners[i], NULL);

	const unsigned long sends = atomic_load(&sends_made);
	const unsigned long order_sends = atomic_load(&order_sends_made);
	cr_assert_geq(sends, (unsigned long)SENDERS * SENDS_PER_THREAD);
	cr_assert_eq(atomic_load(&failed_sends), 0);
	cr_assert_eq(atomic_load(&failed_changes), 0);
	cr_assert_eq(atomic_load(&inconsistent_sends), 0,
		"%lu sends saw receivers out of order, twice or missing", atomic_load(&inconsistent_sends));
	cr_assert_eq(atomic_load(&unseen_changes), 0,
		"%lu times a churner's own send or has_listeners missed its change",
		atomic_load(&unseen_changes));

	/* Connected throughout: called by every send, exactly once. */
	for (int i = 0; i < STABLE; i++)
		cr_assert_eq(atomic_load(&stable[i].calls), sends,
			"stable receiver %d: %lu calls for %lu sends", i, atomic_load(&stable[i].calls), sends);

	/* What the churners counted is exactly what the sends reported of them. */
	unsigned long counted = 0;
	for (int i = 0; i < STABLE; i++)
		counted += atomic_load(&stable[i].calls);
	for (int i = 0; i < CHURNERS; i++) {
		unsigned long calls = atomic_load(&churn[i].calls);
		cr_assert_eq(calls, atomic_load(&churn_responses[i]),
			"churner %d: %lu calls, %lu responses", i, calls, atomic_load(&churn_responses[i]));
		cr_assert_leq(calls, i == 0 ? sends : order_sends);
		counted += calls;
	}
	cr_assert_eq(atomic_load(&responses_seen), counted);
	/* Churner 0's own sends after each connect called it at least that often. */
	cr_assert_geq(atomic_load(&churn[0].calls), atomic_load(&churn_cycles[0]));
	cr_assert_gt(atomic_load(&churn_cycles[1]), 0);

	/* The churners left nothing behind. */
	cr_assert_eq(sh_signal_connection_count(post_save), STABLE);
	unsigned long before = atomic_load(&churn[0].calls) + atomic_load(&churn[1].calls);
	cr_assert_eq(sh_signal_send(post_save, order, NULL, NULL), 0);
	cr_assert_eq(atomic_load(&churn[0].calls) + atomic_load(&churn[1].calls), before);
	cr_assert_eq(atomic_load(&stable[0].calls), sends + 1);
}

/* ---- synchronize ------------------------------------------------------ */

static struct counter victim, witness;
static atomic_int inside_victim;
static atomic_bool stop_sending;

/* Slow on purpose, so that sends are inside it when it is disconnected; it
 * counts on its way out. */
static int slow_victim(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	atomic_fetch_add(&inside_victim, 1);
	struct timespec ts = { 0, 200 * 1000 };
	nanosleep(&ts, NULL);
	atomic_fetch_add(&victim.calls, 1);
	atomic_fetch_sub(&inside_victim, 1);
	return 0;
}

static void *send_until_stopped(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_sending))
		if (sh_signal_send(post_save, NULL, NULL, NULL) != 0)
			atomic_fetch_add(&failed_sends, 1);
	return NULL;
}

/* Waits until counter reaches at least target; false after 20 s. */
static bool wait_for(struct counter *c, unsigned long target)
{
	struct timespec pause = { 0, 100 * 1000 };
	for (int i = 0; i < 200000; i++) {
		if (atomic_load(&c->calls) >= target)
			return true;
		nanosleep(&pause, NULL);
	}
	return false;
}

Test(stress, synchronize_waits_for_sends_that_saw_a_disconnected_receiver)
{
	sh_connection_id victim_id = 0;
	cr_assert_eq(sh_signal_connect(NULL, post_save, count_call, &witness, NULL), 0);
	cr_assert_eq(sh_signal_connect(&victim_id, post_save, slow_victim, NULL, NULL), 0);

	pthread_t threads[SENDERS];
	for (int i = 0; i < SENDERS; i++)
		cr_assert_eq(pthread_create(&threads[i], NULL, send_until_stopped, NULL), 0);

	bool warmed_up = wait_for(&victim, 200);
	cr_assert_eq(sh_signal_disconnect(post_save, victim_id), 1);
	sh_hub_synchronize(hub);
	int inside_after_sync = atomic_load(&inside_victim);
	unsigned long after_sync = atomic_load(&victim.calls);
	/* Let plenty of sends happen: none may call the victim any more. */
	bool kept_sending = wait_for(&witness, atomic_load(&witness.calls) + 20000);
	unsigned long later = atomic_load(&victim.calls);

	atomic_store(&stop_sending, true);
	for (int i = 0; i < SENDERS; i++)
		pthread_join(threads[i], NULL);

	cr_assert(warmed_up);
	cr_assert(kept_sending);
	cr_assert_eq(atomic_load(&failed_sends), 0);
	cr_assert_eq(inside_after_sync, 0, "%d sends still inside the receiver after sh_hub_synchronize()",
		inside_after_sync);
	cr_assert_eq(later, after_sync,
		"victim finished %lu more calls after sh_hub_synchronize() returned", later - after_sync);
}
