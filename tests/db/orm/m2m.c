/*
 * m2m.c: many-to-many relations from both sides: add (only new pks in
 * pk_set, an empty set when none is new), remove (every pk given, as
 * Django's _remove_items), clear (pk_set NULL), set (a remove then an
 * add), pks; the m2m_changed arguments; errors; atomicity (inside a block a
 * failure marks it for rollback); explicit through models.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(m2m, .init = fx_setup, .fini = fx_teardown);

static sh_instance *owner, *alerts[2], *tagv[4];

static void world(void)
{
	owner = MAKE("shop.Owner", FV("name", T("ann")));
	for (int i = 0; i < 2; i++)
		alerts[i] = MAKE("shop.Alert", FV("content", T("a")), FV("owner", I(1)));
	for (int i = 0; i < 4; i++)
		tagv[i] = MAKE("shop.Tag", FV("name", T("t")));
}

static void unworld(void)
{
	sh_instance_free(owner);
	for (int i = 0; i < 2; i++)
		sh_instance_free(alerts[i]);
	for (int i = 0; i < 4; i++)
		sh_instance_free(tagv[i]);
}

static const char *related(sh_instance *inst, const char *name)
{
	static char out[256];
	int64_t *pks = NULL;
	size_t n = 0;
	cr_assert_eq(sh_m2m_pks(inst, name, &pks, &n), 0, "%s", last_message());
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char s[32];
		snprintf(s, sizeof s, "%s%" PRId64, i ? "," : "", pks[i]);
		strcat(out, s);
	}
	free(pks);
	return out;
}

#define PKS(...) (const int64_t[]){ __VA_ARGS__ }, sizeof((const int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)

static const char *m2m_log(void)
{
	static char out[4096];
	out[0] = '\0';
	for (const char *p = log_text(); *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (strncmp(p, "m2m_changed", 11) == 0)
			strncat(out, p, n);
		p += n;
	}
	return out;
}

Test(m2m, add_forward_sends_only_new_pks)
{
	world();
	rec_connect();
	cr_assert_eq(sh_m2m_add(alerts[0], "tags", PKS(3, 1, 3)), 0, "%s", last_message());
	cr_assert_str_eq(related(alerts[0], "tags"), "1,3");
	log_clear();
	cr_assert_eq(sh_m2m_add(alerts[0], "tags", PKS(2, 3)), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed shop.Alert_tags pre_add shop.Alert:1 reverse=0 model=shop.Tag pks=[2]\n"
		"m2m_changed shop.Alert_tags post_add shop.Alert:1 reverse=0 model=shop.Tag pks=[2]\n",
		"join rows send no pre_init/save signal: %s", log_text());
	log_clear();
	cr_assert_eq(sh_m2m_add(alerts[0], "tags", PKS(1, 2)), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed shop.Alert_tags pre_add shop.Alert:1 reverse=0 model=shop.Tag pks=[]\n"
		"m2m_changed shop.Alert_tags post_add shop.Alert:1 reverse=0 model=shop.Tag pks=[]\n",
		"Django still sends, with an empty pk_set");
	cr_assert_str_eq(related(alerts[0], "tags"), "1,2,3");
	cr_assert_str_eq(related(alerts[1], "tags"), "");
	log_clear();
	cr_assert_eq(sh_m2m_add(alerts[0], "tags", NULL, 0), 0);
	cr_assert_str_eq(log_text(), "", "adding nothing sends nothing");
	unworld();
}

Test(m2m, reverse_side_by_related_name)
{
	world();
	rec_connect();
	cr_assert_eq(sh_m2m_add(tagv[1], "alerts", PKS(1, 2)), 0, "%s", last_message());
	cr_assert_str_eq(m2m_log(),
		"m2m_changed shop.Alert_tags pre_add shop.Tag:2 reverse=1 model=shop.Alert pks=[1,2]\n"
		"m2m_changed shop.Alert_tags post_add shop.Tag:2 reverse=1 model=shop.Alert pks=[1,2]\n");
	cr_assert_str_eq(related(tagv[1], "alerts"), "1,2");
	cr_assert_str_eq(related(alerts[0], "tags"), "2");
	cr_assert_str_eq(related(alerts[1], "tags"), "2");
	log_clear();
	cr_assert_eq(sh_m2m_remove(tagv[1], "alerts", PKS(2)), 0);
	cr_assert_str_eq(m2m_log(),
		"m2m_changed shop.Alert_tags pre_remove shop.Tag:2 reverse=1 model=shop.Alert pks=[2]\n"
		"m2m_changed shop.Alert_tags post_remove shop.Tag:2 reverse=1 model=shop.Alert pks=[2]\n");
	cr_assert_str_eq(related(alerts[1], "tags"), "");
	unworld();
}

Test(m2m, remove_sends_every_pk_given_and_deletes_those_related)
{
	world();
	cr_assert_eq(sh_m2m_add(alerts[0], "tags", PKS(1, 2)), 0);
	cr_assert_eq(sh_m2m_add(alerts[1], "tags", PKS(4)), 0);
	rec_connect();
	cr_assert_eq(sh_m2m_remove(alerts[0], "tags", PKS(4, 2, 4)), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed shop.Alert_tags pre_remove shop.Alert:1 reverse=0 model=shop.Tag pks=[2,4]\n"
		"m2m_changed shop.Alert_tags post_remove shop.Alert:1 reverse=0 model=shop.Tag pks=[2,4]\n");
	cr_assert_str_eq(related(alerts[0], "tags"), "1");
	cr_assert_str_eq(related(alerts[1], "tags"), "4", "another instance's row stays");
	log_clear();
	cr_assert_eq(sh_m2m_remove(alerts[0], "tags", PKS(3)), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed shop.Alert_tags pre_remove shop.Alert:1 reverse=0 model=shop.Tag pks=[3]\n"
		"m2m_changed shop.Alert_tags post_remove shop.Alert:1 reverse=0 model=shop.Tag pks=[3]\n",
		"none related: both still sent with every pk given");
	cr_assert_str_eq(related(alerts[0], "tags"), "1");
	unworld();
}

Test(m2m, clear_sends_no_pk_set_and_set_is_remove_then_add)
{
	world();
	cr_assert_eq(sh_m2m_add(alerts[0], "tags", PKS(1, 2)), 0);
	cr_assert_eq(sh_m2m_add(alerts[1], "tags", PKS(1)), 0);
	rec_connect();
	cr_assert_eq(sh_m2m_set(alerts[0], "tags", PKS(2, 3, 4)), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed shop.Alert_tags pre_remove shop.Alert:1 reverse=0 model=shop.Tag pks=[1]\n"
		"m2m_changed shop.Alert_tags post_remove shop.Alert:1 reverse=0 model=shop.Tag pks=[1]\n"
		"m2m_changed shop.Alert_tags pre_add shop.Alert:1 reverse=0 model=shop.Tag pks=[3,4]\n"
		"m2m_changed shop.Alert_tags post_add shop.Alert:1 reverse=0 model=shop.Tag pks=[3,4]\n");
	cr_assert_str_eq(related(alerts[0], "tags"), "2,3,4");
	log_clear();
	cr_assert_eq(sh_m2m_set(alerts[0], "tags", PKS(4, 3, 2)), 0);
	cr_assert_str_eq(log_text(), "", "nothing to change, nothing sent");
	cr_assert_eq(sh_m2m_clear(alerts[0], "tags"), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed shop.Alert_tags pre_clear shop.Alert:1 reverse=0 model=shop.Tag pks=None\n"
		"m2m_changed shop.Alert_tags post_clear shop.Alert:1 reverse=0 model=shop.Tag pks=None\n");
	cr_assert_str_eq(related(alerts[0], "tags"), "");
	cr_assert_str_eq(related(alerts[1], "tags"), "1", "other instances keep theirs");
	cr_assert_eq(sh_m2m_clear(tagv[0], "alerts"), 0);
	cr_assert_str_eq(related(alerts[1], "tags"), "");
	unworld();
}

static int64_t seen_pks[8];
static size_t seen_count;

static int check_db_during(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_m2m_changed_args *a = args;
	seen_pks[seen_count++] = sql_int("SELECT count(*) FROM shop_alert_tags") * 10 + a->action;
	return 0;
}

Test(m2m, pre_runs_before_the_write_and_post_after)
{
	world();
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_M2M_CHANGED), check_db_during,
		NULL, NULL), 0);
	seen_count = 0;
	cr_assert_eq(sh_m2m_add(alerts[0], "tags", PKS(1, 2)), 0);
	cr_assert_eq(seen_count, 2);
	cr_assert_eq(seen_pks[0], 0 * 10 + SH_M2M_PRE_ADD);
	cr_assert_eq(seen_pks[1], 2 * 10 + SH_M2M_POST_ADD);
	unworld();
}

Test(m2m, failing_receiver_changes_nothing)
{
	world();
	cr_assert_eq(sh_m2m_add(alerts[0], "tags", PKS(1)), 0);
	static int code = -71;
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = sh_model_sender(M("shop.Alert_tags"));
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_M2M_CHANGED), fail_with,
		&code, &opts), 0);
	cr_assert_eq(sh_m2m_add(alerts[0], "tags", PKS(2)), -71);
	cr_assert_eq(sh_m2m_set(alerts[0], "tags", PKS(3)), -71);
	cr_assert_eq(sh_m2m_clear(alerts[0], "tags"), -71);
	cr_assert_str_eq(related(alerts[0], "tags"), "1");
	unworld();
}

Test(m2m, a_failure_inside_a_block_marks_it_for_rollback)
{
	world();
	cr_assert_eq(sh_m2m_add(alerts[0], "tags", PKS(1)), 0);
	static int code = -72;
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = sh_model_sender(M("shop.Alert_tags"));
	sh_connection_id id = 0;
	cr_assert_eq(sh_signal_connect(&id, sh_hub_builtin(fx.hub, SH_M2M_CHANGED), fail_with,
		&code, &opts), 0);
	/* pks without a row are refused before anything is sent or written:
	 * the block is left alone */
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_m2m_add(alerts[0], "tags", PKS(99)), SH_ENOTFOUND);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	/* a receiver's failure marks the block */
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *t = MAKE("shop.Tag", FV("name", T("in block")));
	cr_assert_eq(sh_m2m_remove(alerts[0], "tags", PKS(1)), -72);
	cr_assert_eq(sh_atomic_end(fx.db, 0), -72);
	cr_assert(strstr(last_message(), "receiver vetoed") != NULL, "%s", last_message());
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_tag"), 4, "the block's tag went too");
	/* in a block of its own the failure stays there */
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *u = MAKE("shop.Tag", FV("name", T("kept")));
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_atomic_end(fx.db, sh_m2m_clear(alerts[0], "tags")), -72);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_tag"), 5);
	cr_assert_str_eq(related(alerts[0], "tags"), "1");
	cr_assert_eq(sh_signal_disconnect(sh_hub_builtin(fx.hub, SH_M2M_CHANGED), id), 1);
	sh_instance_free(t);
	sh_instance_free(u);
	unworld();
}

Test(m2m, errors)
{
	world();
	cr_assert_eq(sh_m2m_add(alerts[0], "tags", PKS(1, 99)), SH_ENOTFOUND);
	cr_assert(strstr(last_message(), "shop.Tag matching pk=99") != NULL, "%s", last_message());
	cr_assert_str_eq(related(alerts[0], "tags"), "", "nothing added");
	cr_assert_eq(sh_m2m_set(alerts[0], "tags", PKS(98)), SH_ENOTFOUND);
	cr_assert_eq(sh_m2m_add(alerts[0], "labels", PKS(1)), SH_EINVAL);
	cr_assert(strstr(last_message(), "'labels'") != NULL, "%s", last_message());
	cr_assert_eq(sh_m2m_add(alerts[0], "content", PKS(1)), SH_EINVAL, "not a relation");
	sh_instance *fresh = NULL;
	cr_assert_eq(sh_instance_new(&fresh, fx.db, M("shop.Alert"), NULL, 0), 0);
	cr_assert_eq(sh_m2m_add(fresh, "tags", PKS(1)), SH_EINVAL, "unsaved");
	cr_assert(strstr(last_message(), "save it first") != NULL, "%s", last_message());
	int64_t *pks = (int64_t *)0x1;
	size_t n = 9;
	cr_assert_eq(sh_m2m_pks(fresh, "tags", &pks, &n), SH_EINVAL);
	cr_assert_null(pks);
	cr_assert_eq(n, 0);
	sh_instance_free(fresh);
	unworld();
}

Test(m2m, explicit_through_models_are_read_only_here)
{
	sh_instance *member = MAKE("shop.Member", FV("name", T("m")));
	sh_instance *group = MAKE("shop.Group", FV("name", T("g")));
	cr_assert_eq(sh_m2m_add(group, "members", PKS(1)), SH_EINVAL);
	cr_assert(strstr(last_message(), "shop.Membership") != NULL, "%s", last_message());
	cr_assert_eq(sh_m2m_clear(group, "members"), SH_EINVAL);
	sh_instance *link = MAKE("shop.Membership", FV("member", I(1)), FV("group", I(1)),
		FV("role", T("chair")));
	cr_assert_str_eq(related(group, "members"), "1");
	cr_assert_str_eq(related(member, "group_set"), "1", "default related_name");
	sh_instance_free(link);
	sh_instance_free(member);
	sh_instance_free(group);
}

Test(m2m, deleting_either_side_removes_the_join_rows)
{
	world();
	cr_assert_eq(sh_m2m_add(alerts[0], "tags", PKS(1, 2)), 0);
	cr_assert_eq(sh_m2m_add(alerts[1], "tags", PKS(1)), 0);
	cr_assert_eq(sh_instance_delete(alerts[0], NULL), 0, "%s", last_message());
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert_tags"), 1);
	cr_assert_str_eq(related(tagv[0], "alerts"), "2");
	unworld();
}
