/*
 * send.c: sh_signal_send() and sh_signal_send_robust(). Receivers run in
 * connection order and see the send's signal, sender, args and their own
 * payload; responses are collected in that order; send stops at the first
 * failure and reports it; send_robust runs everyone, records each failure
 * in place of its response and logs it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <sighost/sys/sighost.h>

static sh_hub *hub;
static sh_signal *post_save;
static char trail[256];
static char a[] = "a", b[] = "b", c[] = "c", d[] = "d";

static void setup(void)
{
	cr_assert_eq(sh_hub_new(&hub), 0);
	post_save = sh_hub_builtin(hub, SH_POST_SAVE);
	cr_assert_not_null(post_save);
	trail[0] = '\0';
}

static void teardown(void)
{
	sh_hub_free(hub);
	hub = NULL;
}

TestSuite(send, .init = setup, .fini = teardown);
TestSuite(send_robust, .init = setup, .fini = teardown);

/* Appends its payload to the trail and answers with the payload. */
static int append(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args;
	strcat(trail, payload);
	*response = payload;
	return 0;
}

/* Fails with SH_EDB and a message naming its payload. */
static int fail_db(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args;
	strcat(trail, payload);
	*response = payload;
	return sh_error_set(SH_EDB, "receiver %s: table locked", (const char *)payload);
}

/* Fails with a code of its own. */
static int fail_custom(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	strcat(trail, payload);
	return sh_error_set(-4242, "receiver %s: quota exceeded", (const char *)payload);
}

/* Returns a positive value, which the header counts as a failure. */
static int return_positive(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	strcat(trail, payload);
	sh_error_set(SH_ERECEIVER, "receiver %s returned 7", (const char *)payload);
	return 7;
}

static void connect_all(sh_receiver_fn fns[], char *payloads[], size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(sh_signal_connect(NULL, post_save, fns[i], payloads[i], NULL), 0);
}

/* ---- send ------------------------------------------------------------- */

Test(send, without_receivers_returns_0_and_no_responses)
{
	sh_responses out = SH_RESPONSES_INIT;
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, &out), 0);
	cr_assert_eq(out.count, 0);
	cr_assert_eq(sh_signal_send_robust(post_save, NULL, NULL, &out), 0);
	cr_assert_eq(out.count, 0);
	sh_responses_dispose(&out);
	cr_assert_eq(sh_signal_has_listeners(post_save, NULL), false);
}

Test(send, runs_receivers_in_connection_order)
{
	sh_receiver_fn fns[] = { append, append, append, append };
	char *payloads[] = { c, a, d, b };
	connect_all(fns, payloads, 4);
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, NULL), 0);
	cr_assert_str_eq(trail, "cadb");
}

Test(send, collects_responses_in_order_with_value_id_and_payload)
{
	sh_connection_id ids[3];
	char *payloads[] = { b, c, a };
	for (int i = 0; i < 3; i++)
		cr_assert_eq(sh_signal_connect(&ids[i], post_save, append, payloads[i], NULL), 0);

	sh_responses out = SH_RESPONSES_INIT;
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, &out), 0);
	cr_assert_eq(out.count, 3);
	cr_assert_not_null(out.items);
	for (int i = 0; i < 3; i++) {
		const sh_response *r = &out.items[i];
		cr_assert_eq(r->connection, ids[i], "response %d", i);
		cr_assert(r->receiver == append, "response %d", i);
		cr_assert_eq(r->payload, payloads[i], "response %d", i);
		cr_assert_eq(r->value, payloads[i], "response %d", i);
		cr_assert_eq(r->error, 0, "response %d", i);
	}
	sh_responses_dispose(&out);
}

struct seen {
	const sh_signal *signal;
	const sh_sender *sender;
	const void *args;
	void *payload;
	bool response_was_null;
	int calls;
};

static int record_call(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	struct seen *s = payload;
	s->signal = signal;
	s->sender = sender;
	s->args = args;
	s->payload = payload;
	s->response_was_null = *response == NULL;
	s->calls++;
	*response = s;
	return 0;
}

Test(send, passes_signal_sender_args_and_payload)
{
	const sh_sender *order = NULL;
	cr_assert_eq(sh_sender_intern(&order, hub, "shop.Order"), 0);
	struct seen first = { 0 }, second = { 0 };
	cr_assert_eq(sh_signal_connect(NULL, post_save, record_call, &first, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, record_call, &second, NULL), 0);

	sh_post_save_args args = { .instance = NULL, .created = true, .using_ = "default" };
	cr_assert_eq(sh_signal_send(post_save, order, &args, NULL), 0);
	cr_assert_eq(first.calls, 1);
	cr_assert_eq(first.signal, post_save);
	cr_assert_eq(first.sender, order);
	cr_assert_eq(first.args, &args);
	cr_assert_eq(first.payload, &first);
	cr_assert(first.response_was_null);
	/* The second receiver's *response starts NULL too, not with the first's value. */
	cr_assert_eq(second.calls, 1);
	cr_assert(second.response_was_null);
	cr_assert_eq(second.payload, &second);
}

Test(send, appends_to_responses_and_dispose_empties_them)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, NULL), 0);
	sh_responses out = SH_RESPONSES_INIT;
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, &out), 0);
	cr_assert_eq(sh_signal_send_robust(post_save, NULL, NULL, &out), 0);
	cr_assert_eq(out.count, 4);
	cr_assert_eq(out.items[2].value, a);
	cr_assert_eq(out.items[3].value, b);

	sh_responses_dispose(&out);
	cr_assert_eq(out.count, 0);

	/* It can be reused. */
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, &out), 0);
	cr_assert_eq(out.count, 2);
	cr_assert_eq(out.items[0].value, a);
	sh_responses_dispose(&out);
	cr_assert_eq(out.count, 0);
}

Test(send, stops_at_the_first_failure_and_returns_its_code)
{
	sh_receiver_fn fns[] = { append, fail_db, append, fail_custom };
	char *payloads[] = { a, b, c, d };
	connect_all(fns, payloads, 4);

	sh_error_clear();
	sh_responses out = SH_RESPONSES_INIT;
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, &out), SH_EDB);
	cr_assert_str_eq(trail, "ab", "receivers after the failing one must not run");

	cr_assert_eq(sh_error_last()->code, SH_EDB);
	cr_assert_str_eq(sh_error_last()->message, "receiver b: table locked");

	cr_assert_eq(out.count, 2, "responses so far, the failing one included");
	cr_assert_eq(out.items[0].error, 0);
	cr_assert_eq(out.items[0].value, a);
	cr_assert_eq(out.items[1].error, SH_EDB);
	cr_assert_eq(out.items[1].payload, b);
	cr_assert_not_null(out.items[1].message);
	cr_assert_str_eq(out.items[1].message, "receiver b: table locked");
	sh_responses_dispose(&out);
}

Test(send, returns_a_receivers_own_negative_code)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, fail_custom, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, NULL), 0);
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, NULL), -4242);
	cr_assert_str_eq(trail, "a");
	cr_assert_str_eq(sh_error_last()->message, "receiver a: quota exceeded");
}

Test(send, positive_return_is_a_failure_reported_as_ereceiver)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, return_positive, b, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, c, NULL), 0);
	sh_responses out = SH_RESPONSES_INIT;
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, &out), SH_ERECEIVER);
	cr_assert_str_eq(trail, "ab");
	cr_assert_eq(out.count, 2);
	cr_assert_eq(out.items[1].error, SH_ERECEIVER,
		"the response's error is negative (\"0, or the receiver's negative status\")");
	sh_responses_dispose(&out);
}

Test(send, without_out_still_stops_and_reports)
{
	sh_receiver_fn fns[] = { fail_db, append };
	char *payloads[] = { a, b };
	connect_all(fns, payloads, 2);
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, NULL), SH_EDB);
	cr_assert_str_eq(trail, "a");
}

/* ---- send_robust ------------------------------------------------------ */

struct log_capture {
	int calls;
	int errors;
	char messages[4][256];
};

static void capture_log(sh_log_level level, const char *origin, const char *message, void *payload)
{
	(void)origin;
	struct log_capture *cap = payload;
	if (cap->calls < 4)
		snprintf(cap->messages[cap->calls], sizeof cap->messages[0], "%s", message ? message : "");
	cap->calls++;
	if (level == SH_LOG_ERROR)
		cap->errors++;
}

Test(send_robust, runs_every_receiver_and_returns_0)
{
	sh_receiver_fn fns[] = { append, fail_db, append, fail_custom };
	char *payloads[] = { a, b, c, d };
	connect_all(fns, payloads, 4);
	sh_responses out = SH_RESPONSES_INIT;
	cr_assert_eq(sh_signal_send_robust(post_save, NULL, NULL, &out), 0);
	cr_assert_str_eq(trail, "abcd");
	cr_assert_eq(out.count, 4);
	cr_assert_eq(out.items[0].error, 0);
	cr_assert_eq(out.items[0].value, a);
	cr_assert_eq(out.items[2].error, 0);
	cr_assert_eq(out.items[2].value, c);
	cr_assert_eq(out.items[1].error, SH_EDB);
	cr_assert_eq(out.items[1].payload, b);
	cr_assert_eq(out.items[3].error, -4242);
	cr_assert_eq(out.items[3].payload, d);
	sh_responses_dispose(&out);
}

Test(send_robust, keeps_a_copy_of_each_failure_message)
{
	sh_receiver_fn fns[] = { fail_db, append, fail_custom };
	char *payloads[] = { a, b, c };
	connect_all(fns, payloads, 3);
	sh_responses out = SH_RESPONSES_INIT;
	cr_assert_eq(sh_signal_send_robust(post_save, NULL, NULL, &out), 0);
	/* Raising another error must not change the recorded messages. */
	sh_error_set(SH_EIO, "something else entirely");
	cr_assert_eq(out.count, 3);
	cr_assert_not_null(out.items[0].message);
	cr_assert_str_eq(out.items[0].message, "receiver a: table locked");
	cr_assert_not_null(out.items[2].message);
	cr_assert_str_eq(out.items[2].message, "receiver c: quota exceeded");
	cr_assert_neq(out.items[0].message, out.items[2].message);
	sh_responses_dispose(&out);
	cr_assert_eq(out.count, 0);
}

Test(send_robust, positive_return_is_a_failure)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, return_positive, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, NULL), 0);
	sh_responses out = SH_RESPONSES_INIT;
	cr_assert_eq(sh_signal_send_robust(post_save, NULL, NULL, &out), 0);
	cr_assert_str_eq(trail, "ab");
	cr_assert_eq(out.count, 2);
	cr_assert_eq(out.items[0].error, SH_ERECEIVER);
	cr_assert_eq(out.items[1].error, 0);
	sh_responses_dispose(&out);
}

Test(send_robust, logs_one_error_per_failing_receiver)
{
	struct log_capture cap = { 0 };
	sh_hub_set_logger(hub, capture_log, &cap);
	sh_receiver_fn fns[] = { fail_db, append, fail_custom, append };
	char *payloads[] = { a, b, c, d };
	connect_all(fns, payloads, 4);
	cr_assert_eq(sh_signal_send_robust(post_save, NULL, NULL, NULL), 0);
	cr_assert_eq(cap.errors, 2);
	cr_assert_eq(cap.calls, 2, "nothing but the failures is logged");

	/* A plain send does not log: the failure goes to the caller. */
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, NULL), SH_EDB);
	cr_assert_eq(cap.calls, 2);
}

Test(send_robust, log_message_carries_the_receivers_message)
{
	/* STYLE.md: an error message names what failed; the log is all an
	 * operator sees of a robust failure. */
	struct log_capture cap = { 0 };
	sh_hub_set_logger(hub, capture_log, &cap);
	cr_assert_eq(sh_signal_connect(NULL, post_save, fail_db, a, NULL), 0);
	cr_assert_eq(sh_signal_send_robust(post_save, NULL, NULL, NULL), 0);
	cr_assert_eq(cap.calls, 1);
	cr_assert_not_null(strstr(cap.messages[0], "receiver a: table locked"),
		"log message was \"%s\"", cap.messages[0]);
}

Test(send_robust, without_logger_discards_failures)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, fail_db, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, NULL), 0);
	cr_assert_eq(sh_signal_send_robust(post_save, NULL, NULL, NULL), 0);
	cr_assert_str_eq(trail, "ab");
}
