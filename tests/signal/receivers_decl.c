/*
 * receivers_decl.c: receiver.h. SH_RECEIVER and SH_RECEIVER_EX record
 * receivers in this executable's "sh_receivers" section; SH_CONNECT_RECEIVERS
 * connects them all in source order (file, then line, whatever order the
 * section holds them in), with the owner and payload given, named after
 * their functions. sh_receivers_connect() stops at the first bad declaration
 * in that order and names its function.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <sighost/sys/sighost.h>

struct ctx {
	char trail[128];
};

static void note(void *payload, const char *what)
{
	struct ctx *ctx = payload;
	strcat(ctx->trail, what);
	strcat(ctx->trail, ",");
}

/* Declared first, but its priority puts it after the other post_save ones. */
SH_RECEIVER_EX(on_late_post_save, "post_save", NULL, NULL, SH_PRIORITY_LAST)
{
	note(payload, "late");
	return 0;
}

SH_RECEIVER(on_any_post_save, "post_save", NULL)
{
	note(payload, sender ? sh_sender_name(sender) : "any");
	*response = payload;
	return 0;
}

SH_RECEIVER(on_order_post_save, "post_save", "shop.Order")
{
	const sh_post_save_args *a = args;
	note(payload, a && a->created ? "order-created" : "order");
	return 0;
}

SH_RECEIVER_EX(on_escalated, "alert.escalated", NULL, "alert.escalate", SH_PRIORITY_FIRST)
{
	note(payload, sh_signal_name(signal));
	return 0;
}

/* receivers_decl_extra.c declares on_cross_file_extra for the same signal. */
SH_RECEIVER(on_cross_file_main, "alert.cross_file", NULL)
{
	note(payload, "cross");
	return 0;
}

#define DECLARED_HERE 5
#define DECLARED (DECLARED_HERE + 1)   /* with receivers_decl_extra.c */

static sh_hub *hub;
static struct ctx ctx;

static void setup(void)
{
	cr_assert_eq(sh_hub_new(&hub), 0);
	memset(&ctx, 0, sizeof ctx);
}

static void teardown(void)
{
	sh_hub_free(hub);
	hub = NULL;
}

TestSuite(receiver_decl, .init = setup, .fini = teardown);

struct listing {
	int count;
	sh_connection_info infos[8];
	char names[8][32], owners[8][32], uids[8][32];
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
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

Test(receiver_decl, section_holds_this_executables_declarations_with_their_place)
{
	static const char *const in_source_order[DECLARED_HERE] = {
		"on_late_post_save", "on_any_post_save", "on_order_post_save", "on_escalated",
		"on_cross_file_main",
	};
	cr_assert_not_null(__start_sh_receivers);
	cr_assert_eq(__stop_sh_receivers - __start_sh_receivers, DECLARED);
	/* The section's order is the compiler's; the records say where they come from. */
	int lines[DECLARED_HERE] = { 0 };
	int extra = 0;
	for (const sh_receiver_decl *d = __start_sh_receivers; d < __stop_sh_receivers; d++) {
		cr_assert_eq(d->version, SH_RECEIVER_DECL_VERSION);
		cr_assert_not_null(d->file);
		if (strcmp(d->fn_name, "on_cross_file_extra") == 0) {
			cr_assert(ends_with(d->file, "receivers_decl_extra.c"), "file is %s", d->file);
			extra++;
			continue;
		}
		cr_assert(ends_with(d->file, "receivers_decl.c"), "file is %s", d->file);
		int found = -1;
		for (int i = 0; i < DECLARED_HERE; i++)
			if (strcmp(d->fn_name, in_source_order[i]) == 0)
				found = i;
		cr_assert_geq(found, 0, "unexpected declaration %s", d->fn_name);
		lines[found] = d->line;
	}
	cr_assert_eq(extra, 1);
	for (int i = 1; i < DECLARED_HERE; i++)
		cr_assert_lt(lines[i - 1], lines[i], "%s declared after %s",
			in_source_order[i], in_source_order[i - 1]);
}

Test(receiver_decl, files_are_connected_in_the_order_of_their_names)
{
	cr_assert_eq(SH_CONNECT_RECEIVERS(hub, "alert", &ctx), 0);
	sh_signal *cross = NULL;
	cr_assert_eq(sh_signal_lookup(&cross, hub, "alert.cross_file"), 0);
	struct listing l = { 0 };
	cr_assert_eq(sh_signal_foreach_connection(cross, list_connection, &l), 0);
	cr_assert_eq(l.count, 2);
	/* receivers_decl.c < receivers_decl_extra.c, though the linker saw them the other way. */
	cr_assert_str_eq(l.names[0], "on_cross_file_main");
	cr_assert_str_eq(l.names[1], "on_cross_file_extra");
}

Test(receiver_decl, connect_receivers_connects_every_declaration)
{
	cr_assert_eq(SH_CONNECT_RECEIVERS(hub, "alert", &ctx), 0);
	sh_signal *post_save = sh_hub_builtin(hub, SH_POST_SAVE);
	cr_assert_eq(sh_signal_connection_count(post_save), 3);

	sh_signal *escalated = NULL;
	cr_assert_eq(sh_signal_lookup(&escalated, hub, "alert.escalated"), 0,
		"the custom signal is created as sh_signal_named() does");
	cr_assert_null(sh_signal_declared_by(escalated));
	cr_assert_eq(sh_signal_connection_count(escalated), 1);
	cr_assert_eq(sh_hub_disconnect_owner(hub, "alert"), DECLARED);
}

Test(receiver_decl, connections_carry_names_owner_payload_sender_and_priority)
{
	cr_assert_eq(SH_CONNECT_RECEIVERS(hub, "alert", &ctx), 0);
	const sh_sender *order = NULL;
	cr_assert_eq(sh_sender_intern(&order, hub, "shop.Order"), 0);

	struct listing l = { 0 };
	cr_assert_eq(sh_signal_foreach_connection(sh_hub_builtin(hub, SH_POST_SAVE), list_connection, &l), 0);
	cr_assert_eq(l.count, 3);
	cr_assert_str_eq(l.names[0], "on_any_post_save");
	cr_assert_str_eq(l.names[1], "on_order_post_save");
	cr_assert_str_eq(l.names[2], "on_late_post_save");
	for (int i = 0; i < 3; i++) {
		cr_assert_str_eq(l.owners[i], "alert", "connection %d", i);
		cr_assert_eq(l.infos[i].payload, &ctx, "connection %d", i);
		cr_assert_str_eq(l.uids[i], "(null)", "connection %d", i);
	}
	cr_assert_null(l.infos[0].sender);
	cr_assert_eq(l.infos[1].sender, order);
	cr_assert_eq(l.infos[0].priority, SH_PRIORITY_MIDDLE);
	cr_assert_eq(l.infos[2].priority, SH_PRIORITY_LAST);

	sh_signal *escalated = NULL;
	cr_assert_eq(sh_signal_lookup(&escalated, hub, "alert.escalated"), 0);
	struct listing custom = { 0 };
	cr_assert_eq(sh_signal_foreach_connection(escalated, list_connection, &custom), 0);
	cr_assert_eq(custom.count, 1);
	cr_assert_str_eq(custom.names[0], "on_escalated");
	cr_assert_str_eq(custom.uids[0], "alert.escalate");
	cr_assert_eq(custom.infos[0].priority, SH_PRIORITY_FIRST);
}

Test(receiver_decl, declared_receivers_run_on_send)
{
	cr_assert_eq(SH_CONNECT_RECEIVERS(hub, "alert", &ctx), 0);
	const sh_sender *order = NULL, *customer = NULL;
	cr_assert_eq(sh_sender_intern(&order, hub, "shop.Order"), 0);
	cr_assert_eq(sh_sender_intern(&customer, hub, "shop.Customer"), 0);
	sh_signal *post_save = sh_hub_builtin(hub, SH_POST_SAVE);

	sh_post_save_args args = { .created = true, .using_ = "default" };
	sh_responses out = SH_RESPONSES_INIT;
	cr_assert_eq(sh_signal_send(post_save, order, &args, &out), 0);
	cr_assert_str_eq(ctx.trail, "shop.Order,order-created,late,");
	cr_assert_eq(out.count, 3);
	cr_assert_eq(out.items[0].value, &ctx);
	sh_responses_dispose(&out);

	ctx.trail[0] = '\0';
	cr_assert_eq(sh_signal_send(post_save, customer, &args, NULL), 0);
	cr_assert_str_eq(ctx.trail, "shop.Customer,late,");

	ctx.trail[0] = '\0';
	sh_signal *escalated = NULL;
	cr_assert_eq(sh_signal_named(&escalated, hub, "alert.escalated"), 0);
	cr_assert_eq(sh_signal_send(escalated, NULL, NULL, NULL), 0);
	cr_assert_str_eq(ctx.trail, "alert.escalated,");
}

Test(receiver_decl, connecting_twice_changes_nothing)
{
	cr_assert_eq(SH_CONNECT_RECEIVERS(hub, "alert", &ctx), 0);
	cr_assert_eq(SH_CONNECT_RECEIVERS(hub, "alert", &ctx), 0, "already connected ones count as success");
	cr_assert_eq(sh_signal_connection_count(sh_hub_builtin(hub, SH_POST_SAVE)), 3);
	cr_assert_eq(sh_hub_disconnect_owner(hub, "alert"), DECLARED);
}

Test(receiver_decl, declared_receivers_are_ordinary_connections_for_disconnect)
{
	cr_assert_eq(SH_CONNECT_RECEIVERS(hub, NULL, &ctx), 0);
	sh_signal *post_save = sh_hub_builtin(hub, SH_POST_SAVE);
	cr_assert_eq(sh_signal_disconnect_receiver(post_save, on_any_post_save, &ctx, NULL), 1);
	sh_signal *escalated = NULL;
	cr_assert_eq(sh_signal_lookup(&escalated, hub, "alert.escalated"), 0);
	cr_assert_eq(sh_signal_disconnect_uid(escalated, "alert.escalate", NULL), 1);
	cr_assert_eq(sh_hub_disconnect_owner(hub, "alert"), 0, "connected without an owner");
	cr_assert_eq(sh_signal_connection_count(post_save), 2);
}

Test(receiver_decl, empty_or_null_range_connects_nothing)
{
	cr_assert_eq(sh_receivers_connect(hub, "alert", NULL, NULL, NULL), 0);
	cr_assert_eq(sh_receivers_connect(hub, "alert", NULL, __start_sh_receivers, __start_sh_receivers), 0);
	cr_assert_eq(sh_hub_disconnect_owner(hub, "alert"), 0);
}

/* Declarations built by hand, outside the section, in source order. */
static const sh_receiver_decl with_bad_version[] = {
	{ SH_RECEIVER_DECL_VERSION, "pre_save", NULL, on_any_post_save, NULL, SH_PRIORITY_MIDDLE,
	  "good_before", "hand.c", 10 },
	{ SH_RECEIVER_DECL_VERSION + 100, "pre_save", NULL, on_late_post_save, NULL, SH_PRIORITY_MIDDLE,
	  "from_the_future", "hand.c", 20 },
	{ SH_RECEIVER_DECL_VERSION, "pre_save", NULL, on_order_post_save, NULL, SH_PRIORITY_MIDDLE,
	  "good_after", "hand.c", 30 },
};

Test(receiver_decl, stops_at_an_unknown_version_and_names_the_function)
{
	int rc = sh_receivers_connect(hub, "alert", &ctx, with_bad_version, with_bad_version + 3);
	cr_assert_lt(rc, 0);
	cr_assert_eq(sh_error_last()->code, rc);
	cr_assert_not_null(strstr(sh_error_last()->message, "from_the_future"),
		"message: \"%s\"", sh_error_last()->message);
	/* Whether the one before it got connected is the library's choice (it may
	 * check every version first); the one after it must not be. */
	sh_signal *pre_save = sh_hub_builtin(hub, SH_PRE_SAVE);
	cr_assert_leq(sh_signal_connection_count(pre_save), 1);
	cr_assert_eq(sh_signal_disconnect_receiver(pre_save, on_order_post_save, &ctx, NULL), 0,
		"the declaration after the failing one was connected");
}

static const sh_receiver_decl with_null_signal[] = {
	{ SH_RECEIVER_DECL_VERSION, "pre_save", NULL, on_any_post_save, NULL, SH_PRIORITY_MIDDLE,
	  "good_before", "hand.c", 10 },
	{ SH_RECEIVER_DECL_VERSION, NULL, NULL, on_late_post_save, NULL, SH_PRIORITY_MIDDLE,
	  "nameless_signal", "hand.c", 20 },
	{ SH_RECEIVER_DECL_VERSION, "pre_save", NULL, on_order_post_save, NULL, SH_PRIORITY_MIDDLE,
	  "good_after", "hand.c", 30 },
};

Test(receiver_decl, stops_at_a_null_signal_name_with_einval)
{
	int rc = sh_receivers_connect(hub, "alert", &ctx, with_null_signal, with_null_signal + 3);
	cr_assert_eq(rc, SH_EINVAL);
	cr_assert_not_null(strstr(sh_error_last()->message, "nameless_signal"),
		"message: \"%s\"", sh_error_last()->message);
	cr_assert_eq(sh_signal_connection_count(sh_hub_builtin(hub, SH_PRE_SAVE)), 1);
}

static const sh_receiver_decl with_empty_sender[] = {
	{ SH_RECEIVER_DECL_VERSION, "pre_save", "", on_any_post_save, NULL, SH_PRIORITY_MIDDLE,
	  "empty_sender", "hand.c", 10 },
};

Test(receiver_decl, stops_at_an_empty_sender_name_with_einval)
{
	int rc = sh_receivers_connect(hub, "alert", &ctx, with_empty_sender, with_empty_sender + 1);
	cr_assert_eq(rc, SH_EINVAL);
	cr_assert_not_null(strstr(sh_error_last()->message, "empty_sender"),
		"message: \"%s\"", sh_error_last()->message);
	cr_assert_eq(sh_signal_connection_count(sh_hub_builtin(hub, SH_PRE_SAVE)), 0);
}

/* Out of source order on purpose: array order must not matter. */
static const sh_receiver_decl shuffled[] = {
	{ SH_RECEIVER_DECL_VERSION, "pre_save", NULL, on_escalated, NULL, SH_PRIORITY_MIDDLE,
	  "b_file_line_5", "plugin/b.c", 5 },
	{ SH_RECEIVER_DECL_VERSION, "pre_save", NULL, on_order_post_save, NULL, SH_PRIORITY_MIDDLE,
	  "a_file_line_12", "plugin/a.c", 12 },
	{ SH_RECEIVER_DECL_VERSION, "pre_save", NULL, on_any_post_save, NULL, SH_PRIORITY_MIDDLE,
	  "a_file_line_3", "plugin/a.c", 3 },
	{ SH_RECEIVER_DECL_VERSION, "pre_save", NULL, on_late_post_save, NULL, SH_PRIORITY_MIDDLE,
	  "a_file_line_100", "plugin/a.c", 100 },
};

Test(receiver_decl, connects_by_file_name_then_line_not_by_array_order)
{
	cr_assert_eq(sh_receivers_connect(hub, "plugin", &ctx, shuffled, shuffled + 4), 0);
	struct listing l = { 0 };
	cr_assert_eq(sh_signal_foreach_connection(sh_hub_builtin(hub, SH_PRE_SAVE), list_connection, &l), 0);
	cr_assert_eq(l.count, 4);
	cr_assert_str_eq(l.names[0], "a_file_line_3");
	cr_assert_str_eq(l.names[1], "a_file_line_12", "line 12 after line 3: numeric, not text order");
	cr_assert_str_eq(l.names[2], "a_file_line_100");
	cr_assert_str_eq(l.names[3], "b_file_line_5");
	/* The caller's declarations are left as they were. */
	cr_assert_str_eq(shuffled[0].fn_name, "b_file_line_5");
	cr_assert_str_eq(shuffled[2].fn_name, "a_file_line_3");
}

static const sh_receiver_decl bad_first_in_array[] = {
	{ SH_RECEIVER_DECL_VERSION, NULL, NULL, on_late_post_save, NULL, SH_PRIORITY_MIDDLE,
	  "later_in_source", "plugin/b.c", 1 },
	{ SH_RECEIVER_DECL_VERSION, "pre_save", NULL, on_any_post_save, NULL, SH_PRIORITY_MIDDLE,
	  "earlier_in_source", "plugin/a.c", 1 },
};

Test(receiver_decl, first_failure_is_first_in_source_order)
{
	cr_assert_eq(sh_receivers_connect(hub, "plugin", &ctx, bad_first_in_array, bad_first_in_array + 2),
		SH_EINVAL);
	cr_assert_not_null(strstr(sh_error_last()->message, "later_in_source"),
		"message: \"%s\"", sh_error_last()->message);
	cr_assert_eq(sh_signal_connection_count(sh_hub_builtin(hub, SH_PRE_SAVE)), 1,
		"the declaration earlier in source order was connected before the failure");
}
