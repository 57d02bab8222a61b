/*
 * save.c: pre_save and post_save around sh_instance_save(), and the bulk
 * operations that send no save signals.
 *
 * Django's behaviour (django/db/models/base.py, Model.save, save_base,
 * _save_table; django/db/models/query.py, bulk_create and update):
 * - save_base sends pre_save(sender=cls, instance, raw, using,
 *   update_fields) before any write, then _save_table does the write, then
 *   post_save(sender=cls, instance, created=not updated, update_fields, raw,
 *   using). `using` is the alias, "default".
 * - _save_table: with a pk it first tries an UPDATE; when that matched no
 *   row (and no force_update / update_fields) it INSERTs, and that counts
 *   as created=True. Without a pk it INSERTs. So a second save of the same
 *   instance is created=False, and saving an instance whose row vanished
 *   inserts it again with created=True.
 * - save(update_fields=[...]) passes frozenset(update_fields) to both
 *   signals (an unordered set: compared sorted here) and only those columns
 *   are in the UPDATE. save(update_fields=[]) returns at once: "If
 *   update_fields is empty, skip the save ... This bailout is still needed
 *   for skipping signal sending" - no signal, no write. A name that is not
 *   a concrete non-pk field raises ValueError in save(), before any signal.
 * - raw=True (fixture loading, Model.save_base(raw=True)) is passed as is
 *   to both signals.
 * - A pre_save receiver that raises stops the save before the write and
 *   post_save is never sent. A receiver may change the instance in
 *   pre_save and the change is saved (the write reads the instance after).
 * - A post_save receiver that raises: in Django's autocommit mode the row
 *   is already written (save_base uses mark_for_rollback_on_error, not a
 *   transaction, for a model without parents). sighost documents a
 *   different choice (instance.h, docs/models.md): outside any atomic block
 *   a save is a transaction of its own and a failing post_save receiver
 *   rolls the write back. These tests check sighost's documented choice.
 *   Inside an atomic block sighost does what Django does: the failure
 *   marks the block for rollback (tests/db/signals/transaction.c).
 * - The receivers get the very object being saved (instance=self).
 * - auto_now / auto_now_add: DateTimeField.pre_save(instance, add) sets the
 *   attribute during the write (_save_table / SQLInsertCompiler), i.e. AFTER
 *   the pre_save signal: in Django a pre_save receiver still sees the old
 *   value (None for a new instance) and post_save sees the new one. With
 *   raw=True the values are written as they are (pre_save_val / the
 *   UPDATE read getattr() when raw), so auto_now does not apply; without
 *   raw, auto_now_add replaces a given value on insert. sighost does the
 *   same (instance.h, save.c): the tests below check it.
 * - QuerySet.bulk_create and QuerySet.update send no pre_save/post_save
 *   (neither calls save_base; the docs say so for both).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(save, .init = fx_setup, .fini = fx_teardown);
TestSuite(bulk, .init = fx_setup, .fini = fx_teardown);

static char *name_of_row(int64_t pk)
{
	sh_instance *got = NULL;
	cr_assert_eq(sh_query_get(&got, fx.db, fx_model("t.Author"), pk), 0);
	sh_datum d;
	cr_assert_eq(sh_instance_get(got, "name", &d), 0);
	char *s = strdup(d.type == SH_DATUM_TEXT ? d.v.s : "(not text)");
	sh_instance_free(got);
	return s;
}

Test(save, new_instance_sends_pre_save_then_post_save_created)
{
	sh_instance *a = NEW("t.Author", FV("name", T("Ann")), FV("age", I(30)));
	log_clear();
	cr_assert_eq(sh_instance_save(a, NULL), 0);
	cr_assert_str_eq(log_text(),
		"pre_save t.Author pk=None raw=False using=default update_fields=None\n"
		"post_save t.Author pk=1 created=True raw=False using=default update_fields=None\n");
	cr_assert_eq(sh_instance_pk(a), 1);
	cr_assert_not(sh_instance_adding(a));
	cr_assert_eq(sql_int("SELECT age FROM t_author WHERE id = 1"), 30);
	sh_instance_free(a);
}

Test(save, second_save_sends_created_false_and_updates)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")));
	log_clear();
	cr_assert_eq(sh_instance_set(a, "age", I(31)), 0);
	cr_assert_eq(sh_instance_save(a, NULL), 0);
	cr_assert_str_eq(log_text(),
		"pre_save t.Author pk=1 raw=False using=default update_fields=None\n"
		"post_save t.Author pk=1 created=False raw=False using=default update_fields=None\n");
	cr_assert_eq(rows_of("t.Author"), 1);
	cr_assert_eq(sql_int("SELECT age FROM t_author WHERE id = 1"), 31);
	sh_instance_free(a);
}

/* Row counts as a post_save receiver sees them: the write is done. */
static int64_t rows_seen_in_post_save = -1;

static int count_rows(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	rows_seen_in_post_save = sql_int("SELECT count(*) FROM t_author");
	return 0;
}

static int64_t rows_seen_in_pre_save = -1;

static int count_rows_pre(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	rows_seen_in_pre_save = sql_int("SELECT count(*) FROM t_author");
	return 0;
}

Test(save, pre_save_runs_before_the_write_and_post_save_after)
{
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_PRE_SAVE), count_rows_pre,
		NULL, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_SAVE), count_rows,
		NULL, NULL), 0);
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")));
	cr_assert_eq(rows_seen_in_pre_save, 0);
	cr_assert_eq(rows_seen_in_post_save, 1);
	sh_instance_free(a);
}

Test(save, update_fields_are_passed_to_both_and_only_they_are_written)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")), FV("age", I(30)));
	cr_assert_eq(sh_instance_set(a, "name", T("Changed")), 0);
	cr_assert_eq(sh_instance_set(a, "age", I(99)), 0);
	log_clear();
	const char *const fields[] = { "age" };
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.update_fields = fields;
	opts.update_fields_count = 1;
	cr_assert_eq(sh_instance_save(a, &opts), 0);
	cr_assert_str_eq(log_text(),
		"pre_save t.Author pk=1 raw=False using=default update_fields=['age']\n"
		"post_save t.Author pk=1 created=False raw=False using=default update_fields=['age']\n");
	cr_assert_eq(sql_int("SELECT age FROM t_author WHERE id = 1"), 99);
	cr_assert_eq(sql_int("SELECT count(*) FROM t_author WHERE id = 1 AND name = 'Ann'"), 1,
		"name is not in update_fields: the row keeps the old name");
	char *n = name_of_row(1);
	cr_assert_str_eq(n, "Ann");
	free(n);
	sh_instance_free(a);
}

Test(save, two_update_fields_are_passed_as_a_set)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")), FV("age", I(30)));
	cr_assert_eq(sh_instance_set(a, "name", T("Bo")), 0);
	cr_assert_eq(sh_instance_set(a, "age", I(5)), 0);
	log_clear();
	const char *const fields[] = { "name", "age" };
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.update_fields = fields;
	opts.update_fields_count = 2;
	cr_assert_eq(sh_instance_save(a, &opts), 0);
	cr_assert_str_eq(log_text(),
		"pre_save t.Author pk=1 raw=False using=default update_fields=['age', 'name']\n"
		"post_save t.Author pk=1 created=False raw=False using=default update_fields=['age', 'name']\n");
	cr_assert_eq(sql_int("SELECT count(*) FROM t_author WHERE name = 'Bo' AND age = 5"), 1);
	sh_instance_free(a);
}

Test(save, empty_update_fields_sends_nothing_and_writes_nothing)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")), FV("age", I(30)));
	cr_assert_eq(sh_instance_set(a, "age", I(77)), 0);
	log_clear();
	const char *const none[] = { "age" };   /* a non-NULL list of 0 names */
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.update_fields = none;
	opts.update_fields_count = 0;
	cr_assert_eq(sh_instance_save(a, &opts), 0);
	cr_assert_str_eq(log_text(), "");
	cr_assert_eq(sql_int("SELECT age FROM t_author WHERE id = 1"), 30);
	sh_instance_free(a);
}

Test(save, unknown_update_field_fails_before_any_signal)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")));
	log_clear();
	const char *const fields[] = { "nope" };
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.update_fields = fields;
	opts.update_fields_count = 1;
	cr_assert_eq(sh_instance_save(a, &opts), SH_EINVAL);
	cr_assert_str_eq(log_text(), "");
	cr_assert_not_null(strstr(sh_error_last()->message, "nope"), "message: %s",
		sh_error_last()->message);
	sh_instance_free(a);
}

Test(save, raw_is_passed_to_both_signals)
{
	sh_instance *a = NEW("t.Author", FV("name", T("Fixture")));
	log_clear();
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.raw = true;
	cr_assert_eq(sh_instance_save(a, &opts), 0);
	cr_assert_str_eq(log_text(),
		"pre_save t.Author pk=None raw=True using=default update_fields=None\n"
		"post_save t.Author pk=1 created=True raw=True using=default update_fields=None\n");
	cr_assert_eq(rows_of("t.Author"), 1);
	sh_instance_free(a);
}

Test(save, saving_an_instance_whose_row_vanished_inserts_with_created_true)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")));
	sh_instance *loaded = NULL;
	cr_assert_eq(sh_query_get(&loaded, fx.db, fx_model("t.Author"), 1), 0);
	/* The row goes away behind the loaded instance's back. */
	cr_assert_eq(sh_instance_delete(a, NULL), 0);
	cr_assert_eq(rows_of("t.Author"), 0);
	log_clear();
	cr_assert_eq(sh_instance_save(loaded, NULL), 0);
	cr_assert_str_eq(log_text(),
		"pre_save t.Author pk=1 raw=False using=default update_fields=None\n"
		"post_save t.Author pk=1 created=True raw=False using=default update_fields=None\n");
	cr_assert_eq(sql_int("SELECT count(*) FROM t_author WHERE id = 1"), 1);
	sh_instance_free(loaded);
	sh_instance_free(a);
}

Test(save, failing_pre_save_receiver_aborts_with_its_code_and_writes_nothing)
{
	static int code = -81;
	sh_instance *a = NEW("t.Author", FV("name", T("Ann")));
	connect_failing(SH_PRE_SAVE, "t.Author", &code);
	log_clear();
	cr_assert_eq(sh_instance_save(a, NULL), -81);
	cr_assert_str_eq(log_text(),
		"pre_save t.Author pk=None raw=False using=default update_fields=None\n",
		"no post_save after a failing pre_save receiver");
	cr_assert_eq(rows_of("t.Author"), 0);
	cr_assert_eq(sh_instance_pk(a), 0);
	cr_assert(sh_instance_adding(a));
	sh_instance_free(a);
}

Test(save, failing_pre_save_receiver_leaves_an_existing_row_unchanged)
{
	static int code = -82;
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")), FV("age", I(1)));
	connect_failing(SH_PRE_SAVE, "t.Author", &code);
	cr_assert_eq(sh_instance_set(a, "age", I(2)), 0);
	log_clear();
	cr_assert_eq(sh_instance_save(a, NULL), -82);
	cr_assert_eq(log_count("post_save"), 0);
	cr_assert_eq(sql_int("SELECT age FROM t_author WHERE id = 1"), 1);
	sh_instance_free(a);
}

Test(save, failing_post_save_receiver_rolls_the_insert_back)
{
	static int code = -83;
	sh_instance *a = NEW("t.Author", FV("name", T("Ann")));
	connect_failing(SH_POST_SAVE, "t.Author", &code);
	log_clear();
	cr_assert_eq(sh_instance_save(a, NULL), -83);
	cr_assert_str_eq(log_text(),
		"pre_save t.Author pk=None raw=False using=default update_fields=None\n"
		"post_save t.Author pk=1 created=True raw=False using=default update_fields=None\n");
	cr_assert_eq(rows_of("t.Author"), 0, "sighost's documented choice: the write is rolled back");
	cr_assert_eq(sh_atomic_depth(fx.db), 0, "no block is left open");
	sh_instance_free(a);
}

Test(save, failing_post_save_receiver_rolls_the_update_back)
{
	static int code = -84;
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")), FV("age", I(1)));
	connect_failing(SH_POST_SAVE, "t.Author", &code);
	cr_assert_eq(sh_instance_set(a, "age", I(2)), 0);
	cr_assert_eq(sh_instance_save(a, NULL), -84);
	cr_assert_eq(sql_int("SELECT age FROM t_author WHERE id = 1"), 1);
	sh_instance_free(a);
}

/* A pre_save receiver that changes what is saved. */
static int shout(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_pre_save_args *a = args;
	return sh_instance_set(a->instance, "name", T("CHANGED IN PRE_SAVE"));
}

Test(save, pre_save_receiver_changes_are_saved)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = sh_model_sender(fx_model("t.Author"));
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_PRE_SAVE), shout, NULL,
		&opts), 0);
	sh_instance *a = SAVED("t.Author", FV("name", T("quiet")));
	cr_assert_eq(sql_int("SELECT count(*) FROM t_author WHERE name = 'CHANGED IN PRE_SAVE'"), 1);
	sh_instance_free(a);
}

Test(save, receiver_for_another_model_does_not_hear_the_save)
{
	static int code = -85;
	connect_failing(SH_PRE_SAVE, "t.A", &code);   /* vetoes t.A only */
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")));
	cr_assert_eq(rows_of("t.Author"), 1);
	sh_instance_free(a);
}

/* The receivers get the very instance being saved. */
static const sh_instance *seen_pre, *seen_post;

static int note_instance(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response;
	if (payload == NULL)
		seen_pre = ((const sh_pre_save_args *)args)->instance;
	else
		seen_post = ((const sh_post_save_args *)args)->instance;
	return 0;
}

Test(save, receivers_get_the_very_instance_saved)
{
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_PRE_SAVE), note_instance,
		NULL, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_SAVE), note_instance,
		(void *)1, NULL), 0);
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")));
	cr_assert_eq(seen_pre, a);
	cr_assert_eq(seen_post, a);
	sh_instance_free(a);
}

/* What pre_save and post_save receivers see of the auto_now fields. */
static char stamp_seen[4][64];
static int stamp_n;

static void note_text(const sh_instance *inst, const char *field, char *out, size_t n)
{
	sh_datum d;
	if (sh_instance_get(inst, field, &d) != 0)
		snprintf(out, n, "(error)");
	else if (d.type == SH_DATUM_NULL)
		snprintf(out, n, "None");
	else if (d.type == SH_DATUM_TEXT)
		snprintf(out, n, "%s", d.v.s);
	else
		snprintf(out, n, "(type %d)", (int)d.type);
}

static int note_stamp(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	/* pre_save and post_save args both start with the instance. */
	const sh_instance *inst = *(sh_instance *const *)args;
	if (stamp_n < 4) {
		note_text(inst, "created", stamp_seen[stamp_n], sizeof stamp_seen[0]);
		stamp_n++;
	}
	return 0;
}

Test(save, auto_now_add_is_set_during_the_write_as_django_does)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = sh_model_sender(fx_model("t.Stamp"));
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_PRE_SAVE), note_stamp, NULL,
		&opts), 0);
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_SAVE), note_stamp, NULL,
		&opts), 0);
	sh_instance *s = SAVED("t.Stamp", FV("note", T("x")));
	cr_assert_eq(stamp_n, 2);
	/* Django's DateTimeField.pre_save(add) sets it in _save_table, after
	 * the pre_save signal. */
	cr_assert_str_eq(stamp_seen[0], "None", "pre_save sees the value before the write");
	cr_assert_str_neq(stamp_seen[1], "None", "post_save sees the value written");
	cr_assert_eq(sql_int("SELECT count(*) FROM t_stamp WHERE created = '%s'", stamp_seen[1]), 1);
	cr_assert_eq(sql_int("SELECT count(*) FROM t_stamp WHERE created IS NOT NULL "
		"AND updated IS NOT NULL"), 1);
	sh_instance_free(s);
}

Test(save, raw_save_writes_auto_now_values_as_given)
{
	sh_instance *s = NEW("t.Stamp", FV("note", T("fixture")),
		FV("created", T("2001-02-03T04:05:06Z")), FV("updated", T("2001-02-03T04:05:06Z")));
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.raw = true;
	cr_assert_eq(sh_instance_save(s, &opts), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sql_int("SELECT count(*) FROM t_stamp WHERE created LIKE '2001-02-03%%' "
		"AND updated LIKE '2001-02-03%%'"), 1, "raw: saved exactly as presented");
	sh_instance_free(s);
}

Test(save, non_raw_save_replaces_a_given_auto_now_add_value)
{
	sh_instance *s = NEW("t.Stamp", FV("note", T("live")),
		FV("created", T("2001-02-03T04:05:06Z")));
	cr_assert_eq(sh_instance_save(s, NULL), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sql_int("SELECT count(*) FROM t_stamp WHERE created LIKE '2001-02-03%%'"), 0,
		"auto_now_add sets now on insert");
	sh_instance_free(s);
}

/* ---- bulk ------------------------------------------------------------- */

Test(bulk, bulk_create_sends_no_save_signals)
{
	sh_instance *list[3];
	list[0] = NEW("t.Author", FV("name", T("a")));
	list[1] = NEW("t.Author", FV("name", T("b")));
	list[2] = NEW("t.Author", FV("name", T("c")));
	log_clear();
	cr_assert_eq(sh_bulk_create(list, 3), 0);
	cr_assert_str_eq(log_text(), "");
	cr_assert_eq(rows_of("t.Author"), 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_neq(sh_instance_pk(list[i]), 0);
		cr_assert_not(sh_instance_adding(list[i]));
		sh_instance_free(list[i]);
	}
}

Test(bulk, query_update_sends_nothing_and_updates_the_rows)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("a")), FV("age", I(1)));
	sh_instance *b = SAVED("t.Author", FV("name", T("b")), FV("age", I(1)));
	sh_instance *c = SAVED("t.Author", FV("name", T("c")), FV("age", I(50)));
	log_clear();
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, fx_model("t.Author")), 0);
	cr_assert_eq(sh_query_filter(q, "age__lt", I(10)), 0);
	sh_field_value v[] = { FV("age", I(20)) };
	int64_t n = -1;
	cr_assert_eq(sh_query_update(q, v, 1, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(log_text(), "", "QuerySet.update sends no signal and loads no instance");
	cr_assert_eq(sql_int("SELECT count(*) FROM t_author WHERE age = 20"), 2);
	cr_assert_eq(sql_int("SELECT age FROM t_author WHERE name = 'c'"), 50);
	sh_query_free(q);
	sh_instance_free(a);
	sh_instance_free(b);
	sh_instance_free(c);
}
