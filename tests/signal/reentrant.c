/*
 * reentrant.c: receivers that change connections or send while a send is
 * running. A send works on the snapshot it started with: a receiver
 * connected during it runs from the next send on, one disconnected during
 * it still runs in it. Receivers may send signals, the same one included.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <sighost/sys/sighost.h>

static sh_hub *hub;
static sh_signal *post_save, *pre_delete;
static char trail[256];
static char a[] = "a", b[] = "b", c[] = "c", x[] = "x", y[] = "y";

/* What the receivers under test did, for the test to check. */
static int last_rc;
static sh_connection_id target_id;

static void setup(void)
{
	cr_assert_eq(sh_hub_new(&hub), 0);
	post_save = sh_hub_builtin(hub, SH_POST_SAVE);
	pre_delete = sh_hub_builtin(hub, SH_PRE_DELETE);
	trail[0] = '\0';
	last_rc = -999;
	target_id = 0;
}

static void teardown(void)
{
	sh_hub_free(hub);
	hub = NULL;
}

TestSuite(reentrant, .init = setup, .fini = teardown);

static int append(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args;
	strcat(trail, payload);
	*response = payload;
	return 0;
}

static const char *send_post_save(void)
{
	trail[0] = '\0';
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, NULL), 0);
	return trail;
}

/* Connects append(c) to the signal it runs for. */
static int connect_c(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)sender, (void)args, (void)response;
	strcat(trail, payload);
	last_rc = sh_signal_connect(NULL, (sh_signal *)signal, append, c, NULL);
	return 0;
}

/* Disconnects the connection target_id. */
static int disconnect_target(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)sender, (void)args, (void)response;
	strcat(trail, payload);
	last_rc = sh_signal_disconnect((sh_signal *)signal, target_id);
	return 0;
}

/* Disconnects and at once reconnects append(c). */
static int reconnect_c(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)sender, (void)args, (void)response;
	strcat(trail, payload);
	if (sh_signal_disconnect_receiver((sh_signal *)signal, append, c, NULL) == 1)
		last_rc = sh_signal_connect(NULL, (sh_signal *)signal, append, c, NULL);
	return 0;
}

Test(reentrant, receiver_connected_during_send_runs_from_next_send)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, connect_c, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, NULL), 0);
	cr_assert_str_eq(send_post_save(), "ab");
	cr_assert_eq(last_rc, 0, "the connect made in the receiver succeeded");
	cr_assert_eq(sh_signal_connection_count(post_save), 3);
	cr_assert_str_eq(send_post_save(), "abc");
	cr_assert_eq(last_rc, 1, "the second connect is a duplicate");
	cr_assert_str_eq(send_post_save(), "abc");
}

Test(reentrant, receiver_connected_during_send_does_not_appear_in_its_responses)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, connect_c, a, NULL), 0);
	sh_responses out = SH_RESPONSES_INIT;
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, &out), 0);
	cr_assert_eq(out.count, 1);
	sh_responses_dispose(&out);
	cr_assert_eq(sh_signal_send_robust(post_save, NULL, NULL, &out), 0);
	cr_assert_eq(out.count, 2);
	cr_assert_eq(out.items[1].payload, c);
	sh_responses_dispose(&out);
}

Test(reentrant, later_receiver_disconnected_during_send_still_runs_in_it)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, disconnect_target, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, NULL), 0);
	cr_assert_eq(sh_signal_connect(&target_id, post_save, append, c, NULL), 0);
	cr_assert_str_eq(send_post_save(), "abc");
	cr_assert_eq(last_rc, 1);
	cr_assert_eq(sh_signal_connection_count(post_save), 2);
	cr_assert_str_eq(send_post_save(), "ab");
	cr_assert_eq(last_rc, 0, "already gone");
}

Test(reentrant, receiver_disconnecting_itself_finishes_the_send)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(&target_id, post_save, disconnect_target, b, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, c, NULL), 0);
	cr_assert_str_eq(send_post_save(), "abc");
	cr_assert_eq(last_rc, 1);
	cr_assert_str_eq(send_post_save(), "ac");
}

Test(reentrant, disconnect_and_reconnect_during_send_runs_once_per_send)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, reconnect_c, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, c, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, NULL), 0);
	cr_assert_str_eq(send_post_save(), "acb", "this send keeps its snapshot");
	cr_assert_eq(last_rc, 0);
	cr_assert_str_eq(send_post_save(), "abc", "c was reconnected at the end");
}

static int disconnect_owner(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	strcat(trail, payload);
	last_rc = sh_hub_disconnect_owner(hub, "shop");
	return 0;
}

Test(reentrant, owner_disconnected_during_send_still_runs_in_it)
{
	sh_connect_opts shop = SH_CONNECT_OPTS_INIT;
	shop.owner = "shop";
	cr_assert_eq(sh_signal_connect(NULL, post_save, disconnect_owner, a, &shop), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, &shop), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, c, NULL), 0);
	cr_assert_str_eq(send_post_save(), "abc");
	cr_assert_eq(last_rc, 2);
	cr_assert_str_eq(send_post_save(), "c");
}

/* Sends pre_delete from inside post_save, brackets around what it causes. */
static int send_pre_delete(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)payload;
	strcat(trail, "[");
	sh_responses inner = SH_RESPONSES_INIT;
	last_rc = sh_signal_send(pre_delete, sender, args, &inner);
	*response = (void *)(uintptr_t)inner.count;
	sh_responses_dispose(&inner);
	strcat(trail, "]");
	return 0;
}

Test(reentrant, receiver_may_send_another_signal)
{
	cr_assert_eq(sh_signal_connect(NULL, pre_delete, append, x, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, pre_delete, append, y, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, send_pre_delete, NULL, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, NULL), 0);

	sh_responses out = SH_RESPONSES_INIT;
	trail[0] = '\0';
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, &out), 0);
	cr_assert_str_eq(trail, "a[xy]b");
	cr_assert_eq(last_rc, 0);
	cr_assert_eq(out.count, 3, "the inner send's responses stay in the inner list");
	cr_assert_eq((uintptr_t)out.items[1].value, 2);
	cr_assert_eq(out.items[2].payload, b);
	sh_responses_dispose(&out);
}

static int depth;

/* Sends its own signal again, two levels deep. */
static int recurse(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)response, (void)payload;
	strcat(trail, "r");
	if (depth < 2) {
		depth++;
		int rc = sh_signal_send(signal, sender, args, NULL);
		depth--;
		if (rc != 0)
			return rc;
	}
	strcat(trail, ".");
	return 0;
}

Test(reentrant, receiver_may_send_its_own_signal)
{
	depth = 0;
	cr_assert_eq(sh_signal_connect(NULL, post_save, recurse, NULL, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, NULL), 0);
	cr_assert_str_eq(send_post_save(), "rrr.b.b.b");
}

/* Fails in a nested send; the outer receiver passes the failure on. */
static int fail(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	strcat(trail, "!");
	return sh_error_set(SH_EDB, "inner failure");
}

static int send_pre_delete_and_fail_with_it(sh_signal *signal, const sh_sender *sender,
	const void *args, void **response, void *payload)
{
	(void)signal, (void)response, (void)payload;
	return sh_signal_send(pre_delete, sender, args, NULL);
}

Test(reentrant, nested_failure_reaches_the_outer_caller)
{
	cr_assert_eq(sh_signal_connect(NULL, pre_delete, fail, NULL, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, send_pre_delete_and_fail_with_it, NULL, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, NULL), 0);
	trail[0] = '\0';
	sh_responses out = SH_RESPONSES_INIT;
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, &out), SH_EDB);
	cr_assert_str_eq(trail, "!");
	cr_assert_str_eq(sh_error_last()->message, "inner failure");
	cr_assert_eq(out.count, 1);
	cr_assert_str_eq(out.items[0].message, "inner failure");
	sh_responses_dispose(&out);
}

static int loops;

/* Sends the signal it runs for again, every time: a receiver whose send
 * reaches itself. */
static int resend(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)response, (void)payload;
	loops++;
	return sh_signal_send(signal, sender, args, NULL);
}

Test(reentrant, a_receiver_whose_send_reaches_itself_stops_at_the_depth_bound)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.name = "shop.resend";
	cr_assert_eq(sh_signal_connect(NULL, post_save, resend, NULL, &opts), 0);
	loops = 0;
	int rc = sh_signal_send(post_save, NULL, NULL, NULL);
	cr_assert_eq(rc, SH_ERROR, "rc %d: %s", rc, sh_error_last()->message);
	cr_assert_eq(loops, SH_SIGNAL_MAX_DEPTH);
	const char *message = sh_error_last()->message;
	cr_assert_not_null(strstr(message, "signal 'post_save'"), "%s", message);
	cr_assert_not_null(strstr(message, "receiver shop.resend"), "%s", message);
	cr_assert_not_null(strstr(message, "SH_SIGNAL_MAX_DEPTH"), "%s", message);
	/* the thread's depth is back to 0: an ordinary send works */
	cr_assert_eq(sh_signal_disconnect_receiver(post_save, resend, NULL, NULL), 1);
	cr_assert_str_eq(send_post_save(), "");
}
