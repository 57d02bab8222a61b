/*
 * priority_trace.c: priority bands and the trace hook. Lower priorities run
 * first and equal ones keep connection order; foreach_connection reports
 * the order a send uses, with each connection's details. The trace hook
 * reports each receiver run and the end of each send, and nothing once
 * disabled.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sighost/sys/sighost.h>

static sh_hub *hub;
static sh_signal *post_save;
static char trail[256];
static char a[] = "a", b[] = "b", c[] = "c", d[] = "d", e[] = "e", f[] = "f";

static void setup(void)
{
	cr_assert_eq(sh_hub_new(&hub), 0);
	post_save = sh_hub_builtin(hub, SH_POST_SAVE);
	trail[0] = '\0';
}

static void teardown(void)
{
	sh_hub_free(hub);
	hub = NULL;
}

TestSuite(priority, .init = setup, .fini = teardown);
TestSuite(trace, .init = setup, .fini = teardown);

static int append(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	strcat(trail, payload);
	return 0;
}

static int fail(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	strcat(trail, payload);
	return sh_error_set(SH_EDB, "receiver %s failed", (const char *)payload);
}

static sh_connection_id connect_prio(sh_receiver_fn fn, char *tag, int priority, const sh_sender *sender)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.priority = priority;
	opts.sender = sender;
	sh_connection_id id = 0;
	cr_assert_eq(sh_signal_connect(&id, post_save, fn, tag, &opts), 0);
	return id;
}

static const char *send_from(const sh_sender *sender)
{
	trail[0] = '\0';
	cr_assert_eq(sh_signal_send(post_save, sender, NULL, NULL), 0);
	return trail;
}

/* ---- priority --------------------------------------------------------- */

Test(priority, last_connected_first_runs_after_middle)
{
	connect_prio(append, a, SH_PRIORITY_LAST, NULL);
	connect_prio(append, b, SH_PRIORITY_MIDDLE, NULL);
	cr_assert_str_eq(send_from(NULL), "ba");
}

Test(priority, first_connected_last_runs_before_middle)
{
	connect_prio(append, a, SH_PRIORITY_MIDDLE, NULL);
	connect_prio(append, b, SH_PRIORITY_FIRST, NULL);
	cr_assert_str_eq(send_from(NULL), "ba");
}

Test(priority, default_opts_run_in_the_middle_band)
{
	connect_prio(append, a, SH_PRIORITY_LAST, NULL);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, NULL), 0);
	connect_prio(append, c, SH_PRIORITY_FIRST, NULL);
	cr_assert_str_eq(send_from(NULL), "cba");
}

Test(priority, all_bands_and_any_int_are_ordered)
{
	connect_prio(append, a, SH_PRIORITY_REALLY_LAST, NULL);
	connect_prio(append, b, 15, NULL);
	connect_prio(append, c, SH_PRIORITY_REALLY_FIRST, NULL);
	connect_prio(append, d, -1000, NULL);
	connect_prio(append, e, SH_PRIORITY_LAST, NULL);
	connect_prio(append, f, SH_PRIORITY_FIRST, NULL);
	cr_assert_str_eq(send_from(NULL), "dcfbea");
}

Test(priority, equal_priorities_keep_connection_order)
{
	connect_prio(append, a, SH_PRIORITY_LAST, NULL);
	connect_prio(append, b, SH_PRIORITY_MIDDLE, NULL);
	connect_prio(append, c, SH_PRIORITY_LAST, NULL);
	connect_prio(append, d, SH_PRIORITY_MIDDLE, NULL);
	connect_prio(append, e, SH_PRIORITY_LAST, NULL);
	cr_assert_str_eq(send_from(NULL), "bdace");
}

Test(priority, applies_across_sender_filters)
{
	const sh_sender *order = NULL;
	cr_assert_eq(sh_sender_intern(&order, hub, "shop.Order"), 0);
	connect_prio(append, a, SH_PRIORITY_LAST, NULL);
	connect_prio(append, b, SH_PRIORITY_MIDDLE, order);
	connect_prio(append, c, SH_PRIORITY_FIRST, NULL);
	connect_prio(append, d, SH_PRIORITY_MIDDLE, NULL);
	cr_assert_str_eq(send_from(order), "cbda");
	cr_assert_str_eq(send_from(NULL), "cda");
}

Test(priority, reconnecting_goes_to_the_end_of_its_band)
{
	sh_connection_id ida = connect_prio(append, a, SH_PRIORITY_MIDDLE, NULL);
	connect_prio(append, b, SH_PRIORITY_MIDDLE, NULL);
	connect_prio(append, c, SH_PRIORITY_LAST, NULL);
	cr_assert_eq(sh_signal_disconnect(post_save, ida), 1);
	connect_prio(append, a, SH_PRIORITY_MIDDLE, NULL);
	cr_assert_str_eq(send_from(NULL), "bac");
}

struct listing {
	int count;
	sh_connection_info infos[8];
	char names[8][32], owners[8][32], uids[8][32];
	int stop_at;
};

static int list_connection(const sh_connection_info *info, void *payload)
{
	struct listing *l = payload;
	if (l->count < 8) {
		int i = l->count;
		l->infos[i] = *info;
		snprintf(l->names[i], 32, "%s", info->name ? info->name : "(null)");
		snprintf(l->owners[i], 32, "%s", info->owner ? info->owner : "(null)");
		snprintf(l->uids[i], 32, "%s", info->dispatch_uid ? info->dispatch_uid : "(null)");
	}
	l->count++;
	return l->count == l->stop_at ? 5 : 0;
}

Test(priority, foreach_connection_reports_send_order_with_details)
{
	const sh_sender *order = NULL;
	cr_assert_eq(sh_sender_intern(&order, hub, "shop.Order"), 0);
	sh_connect_opts late = SH_CONNECT_OPTS_INIT;
	late.priority = SH_PRIORITY_LAST;
	late.owner = "audit";
	late.name = "audit_late";
	sh_connect_opts mid = SH_CONNECT_OPTS_INIT;
	mid.owner = "shop";
	mid.name = "shop_mid";
	mid.dispatch_uid = "shop.mid";
	mid.sender = order;
	sh_connect_opts early = SH_CONNECT_OPTS_INIT;
	early.priority = SH_PRIORITY_FIRST;
	early.name = "early";

	sh_connection_id id_late = 0, id_mid = 0, id_early = 0;
	cr_assert_eq(sh_signal_connect(&id_late, post_save, append, a, &late), 0);
	cr_assert_eq(sh_signal_connect(&id_mid, post_save, fail, b, &mid), 0);
	cr_assert_eq(sh_signal_connect(&id_early, post_save, append, c, &early), 0);
	cr_assert_eq(sh_signal_connection_count(post_save), 3);

	struct listing l = { 0 };
	cr_assert_eq(sh_signal_foreach_connection(post_save, list_connection, &l), 0);
	cr_assert_eq(l.count, 3);

	cr_assert_eq(l.infos[0].id, id_early);
	cr_assert(l.infos[0].receiver == append);
	cr_assert_eq(l.infos[0].payload, c);
	cr_assert_null(l.infos[0].sender);
	cr_assert_eq(l.infos[0].priority, SH_PRIORITY_FIRST);
	cr_assert_str_eq(l.names[0], "early");
	cr_assert_str_eq(l.owners[0], "(null)");
	cr_assert_str_eq(l.uids[0], "(null)");

	cr_assert_eq(l.infos[1].id, id_mid);
	cr_assert(l.infos[1].receiver == fail);
	cr_assert_eq(l.infos[1].payload, b);
	cr_assert_eq(l.infos[1].sender, order);
	cr_assert_eq(l.infos[1].priority, SH_PRIORITY_MIDDLE);
	cr_assert_str_eq(l.names[1], "shop_mid");
	cr_assert_str_eq(l.owners[1], "shop");
	cr_assert_str_eq(l.uids[1], "shop.mid");

	cr_assert_eq(l.infos[2].id, id_late);
	cr_assert_eq(l.infos[2].priority, SH_PRIORITY_LAST);
	cr_assert_str_eq(l.names[2], "audit_late");
	cr_assert_str_eq(l.owners[2], "audit");
}

Test(priority, foreach_connection_stops_at_a_nonzero_return)
{
	connect_prio(append, a, SH_PRIORITY_MIDDLE, NULL);
	connect_prio(append, b, SH_PRIORITY_MIDDLE, NULL);
	connect_prio(append, c, SH_PRIORITY_MIDDLE, NULL);
	struct listing l = { .stop_at = 2 };
	cr_assert_eq(sh_signal_foreach_connection(post_save, list_connection, &l), 5);
	cr_assert_eq(l.count, 2);
	cr_assert_eq(l.infos[1].payload, b);
}

/* ---- trace ------------------------------------------------------------ */

struct trace_log {
	int count;
	struct {
		sh_trace_kind kind;
		const sh_signal *signal;
		const sh_sender *sender;
		bool robust;
		sh_connection_id receiver_id;
		char receiver_name[32];
		uint64_t ns;
		int status;
		const void *args;
		size_t calls;
	} events[16];
};

static void record_trace(const sh_trace_event *event, void *payload)
{
	struct trace_log *log = payload;
	if (log->count < 16) {
		int i = log->count;
		log->events[i].kind = event->kind;
		log->events[i].signal = event->signal;
		log->events[i].sender = event->sender;
		log->events[i].robust = event->robust;
		log->events[i].ns = event->ns;
		log->events[i].status = event->status;
		log->events[i].args = event->args;
		log->events[i].calls = event->calls;
		log->events[i].receiver_id = event->receiver ? event->receiver->id : 0;
		snprintf(log->events[i].receiver_name, 32, "%s",
			event->receiver && event->receiver->name ? event->receiver->name : "(null)");
	}
	log->count++;
}

Test(trace, reports_each_receiver_then_the_send)
{
	const sh_sender *order = NULL;
	cr_assert_eq(sh_sender_intern(&order, hub, "shop.Order"), 0);
	sh_connect_opts named = SH_CONNECT_OPTS_INIT;
	named.name = "failing_one";
	sh_connection_id ida = connect_prio(append, a, SH_PRIORITY_MIDDLE, NULL);
	sh_connection_id idb = 0;
	cr_assert_eq(sh_signal_connect(&idb, post_save, fail, b, &named), 0);
	sh_connection_id idc = connect_prio(append, c, SH_PRIORITY_MIDDLE, order);

	struct trace_log log = { 0 };
	cr_assert_eq(sh_hub_set_trace(hub, record_trace, &log), 0);
	cr_assert_eq(sh_signal_send_robust(post_save, order, NULL, NULL), 0);

	cr_assert_eq(log.count, 4, "3 receivers + 1 send, got %d events", log.count);
	sh_connection_id ids[] = { ida, idb, idc };
	int statuses[] = { 0, SH_EDB, 0 };
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(log.events[i].kind, SH_TRACE_RECEIVER, "event %d", i);
		cr_assert_eq(log.events[i].receiver_id, ids[i], "event %d", i);
		cr_assert_eq(log.events[i].status, statuses[i], "event %d", i);
		cr_assert_eq(log.events[i].signal, post_save, "event %d", i);
		cr_assert_eq(log.events[i].sender, order, "event %d", i);
		cr_assert(log.events[i].robust, "event %d", i);
	}
	cr_assert_str_eq(log.events[1].receiver_name, "failing_one");
	cr_assert_eq(log.events[3].kind, SH_TRACE_SEND);
	cr_assert_eq(log.events[3].status, 0, "send_robust itself succeeded");
	cr_assert_eq(log.events[3].signal, post_save);
	cr_assert_eq(log.events[3].sender, order);
	cr_assert(log.events[3].robust);
}

Test(trace, plain_send_reports_its_failure)
{
	connect_prio(append, a, SH_PRIORITY_MIDDLE, NULL);
	connect_prio(fail, b, SH_PRIORITY_MIDDLE, NULL);
	connect_prio(append, c, SH_PRIORITY_MIDDLE, NULL);
	struct trace_log log = { 0 };
	cr_assert_eq(sh_hub_set_trace(hub, record_trace, &log), 0);
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, NULL), SH_EDB);
	cr_assert_eq(log.count, 3, "2 receivers ran + 1 send, got %d events", log.count);
	cr_assert_eq(log.events[0].kind, SH_TRACE_RECEIVER);
	cr_assert_eq(log.events[0].status, 0);
	cr_assert_eq(log.events[1].kind, SH_TRACE_RECEIVER);
	cr_assert_eq(log.events[1].status, SH_EDB);
	cr_assert_eq(log.events[2].kind, SH_TRACE_SEND);
	cr_assert_eq(log.events[2].status, SH_EDB);
	cr_assert_not(log.events[2].robust);
	cr_assert_null(log.events[2].sender);
}

Test(trace, events_carry_the_args_and_the_send_counts_the_receivers_run)
{
	connect_prio(append, a, SH_PRIORITY_MIDDLE, NULL);
	connect_prio(fail, b, SH_PRIORITY_MIDDLE, NULL);
	connect_prio(append, c, SH_PRIORITY_MIDDLE, NULL);
	struct trace_log log = { 0 };
	int args = 42;
	cr_assert_eq(sh_hub_set_trace(hub, record_trace, &log), 0);
	cr_assert_eq(sh_signal_send(post_save, NULL, &args, NULL), SH_EDB);
	cr_assert_eq(log.count, 3);
	cr_assert_eq(log.events[0].args, &args, "a receiver's event has the send's args");
	cr_assert_eq(log.events[2].args, &args, "the send's event has its args");
	cr_assert_eq(log.events[2].calls, 2, "send stopped at the failing receiver: 2 ran");
	log.count = 0;
	cr_assert_eq(sh_signal_send_robust(post_save, NULL, &args, NULL), 0);
	cr_assert_eq(log.events[3].kind, SH_TRACE_SEND);
	cr_assert_eq(log.events[3].calls, 3, "send_robust ran all 3");
}

Test(trace, reports_a_send_without_receivers)
{
	struct trace_log log = { 0 };
	cr_assert_eq(sh_hub_set_trace(hub, record_trace, &log), 0);
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, NULL), 0);
	cr_assert_eq(log.count, 1, "\"every send reports ... one SH_TRACE_SEND event\"");
	cr_assert_eq(log.events[0].kind, SH_TRACE_SEND);
	cr_assert_eq(log.events[0].status, 0);
}

static int sleep_2ms(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	while (nanosleep(&ts, &ts) != 0)
		;
	return 0;
}

Test(trace, measures_receiver_and_send_time)
{
	connect_prio(sleep_2ms, NULL, SH_PRIORITY_MIDDLE, NULL);
	struct trace_log log = { 0 };
	cr_assert_eq(sh_hub_set_trace(hub, record_trace, &log), 0);
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, NULL), 0);
	cr_assert_eq(log.count, 2);
	cr_assert_geq(log.events[0].ns, 2000000, "receiver took %llu ns", (unsigned long long)log.events[0].ns);
	cr_assert_geq(log.events[1].ns, log.events[0].ns, "the send includes its receiver");
	cr_assert_lt(log.events[1].ns, 10ull * 1000 * 1000 * 1000, "ns is nanoseconds, not garbage");
}

Test(trace, disabled_reports_nothing)
{
	connect_prio(append, a, SH_PRIORITY_MIDDLE, NULL);
	struct trace_log log = { 0 };
	cr_assert_eq(sh_hub_set_trace(hub, record_trace, &log), 0);
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, NULL), 0);
	cr_assert_eq(log.count, 2);
	cr_assert_eq(sh_hub_set_trace(hub, NULL, NULL), 0);
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, NULL), 0);
	cr_assert_eq(sh_signal_send_robust(post_save, NULL, NULL, NULL), 0);
	cr_assert_eq(log.count, 2);
	cr_assert_str_eq(trail, "aaa", "the receiver still ran each time");
}

Test(trace, hook_can_be_replaced)
{
	connect_prio(append, a, SH_PRIORITY_MIDDLE, NULL);
	struct trace_log first = { 0 }, second = { 0 };
	cr_assert_eq(sh_hub_set_trace(hub, record_trace, &first), 0);
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, NULL), 0);
	cr_assert_eq(sh_hub_set_trace(hub, record_trace, &second), 0);
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, NULL), 0);
	cr_assert_eq(first.count, 2);
	cr_assert_eq(second.count, 2);
}
