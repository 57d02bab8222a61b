/*
 * bulk_update.c: bulk_update sends no signal and runs one statement per
 * batch; a row of an automatically created join model saved directly
 * sends no save signal.
 *
 * Django's behaviour (django/db/models/query.py, base.py):
 * - bulk_update(objs, fields, batch_size): checks (fields given, concrete,
 *   not the pk; every obj has a pk), then inside atomic(savepoint=False)
 *   one queryset.filter(pk__in=batch).update(field=Case(When(pk=..,
 *   then=value), ...)) per batch: no pre_save/post_save, no init signal;
 *   returns the number of rows matched.
 * - save_base(): "if not meta.auto_created: pre_save.send(...)" and the
 *   same for post_save: the join model of a ManyToManyField made without
 *   `through` is auto_created, so saving one of its rows sends neither
 *   (its construction still sends pre_init/post_init, as every model's).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(bulk_update, .init = fx_setup, .fini = fx_teardown);
TestSuite(join_save, .init = fx_setup, .fini = fx_teardown);

static void three_authors(sh_instance **a)
{
	a[0] = SAVED("t.Author", FV("name", T("a")), FV("age", I(1)));
	a[1] = SAVED("t.Author", FV("name", T("b")), FV("age", I(2)));
	a[2] = SAVED("t.Author", FV("name", T("c")), FV("age", I(3)));
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(sh_instance_set(a[i], "age", I(10 * (i + 1))), 0);
		cr_assert_eq(sh_instance_set(a[i], "name", T("changed")), 0);
	}
	log_clear();
}

Test(bulk_update, writes_the_named_fields_in_one_statement_without_signals)
{
	sh_instance *a[3];
	three_authors(a);
	int64_t rows = -1;
	const char *fields[] = { "age" };
	stmt_count_start();
	int rc = sh_bulk_update(a, 3, fields, 1, 0, &rows);
	int statements = stmt_count_stop();
	cr_assert_eq(rc, 0, "%d %s", rc, sh_error_last()->message);
	cr_assert_eq(rows, 3);
	cr_assert_str_eq(log_text(), "", "bulk_update sends no signal");
	/* BEGIN, the UPDATE, COMMIT */
	cr_assert_eq(statements, 3, "%s", stmt_sql_log());
	cr_assert_not_null(strstr(stmt_sql_log(), "UPDATE \"t_author\" SET \"age\" = CASE"));
	cr_assert_eq(sql_int("SELECT sum(age) FROM t_author"), 60);
	cr_assert_eq(sql_int("SELECT count(*) FROM t_author WHERE name = 'changed'"), 0,
		"fields not named are not written");
	for (int i = 0; i < 3; i++)
		sh_instance_free(a[i]);
}

Test(bulk_update, runs_one_update_per_batch)
{
	sh_instance *a[3];
	three_authors(a);
	int64_t rows = 0;
	const char *fields[] = { "age", "name" };
	stmt_count_start();
	int rc = sh_bulk_update(a, 3, fields, 2, 2, &rows);
	stmt_count_stop();
	cr_assert_eq(rc, 0, "%d %s", rc, sh_error_last()->message);
	cr_assert_eq(rows, 3);
	size_t updates = 0;
	for (const char *p = stmt_sql_log(); (p = strstr(p, "UPDATE ")) != NULL; p++)
		updates++;
	cr_assert_eq(updates, 2, "a batch of 2 and a batch of 1:\n%s", stmt_sql_log());
	cr_assert_eq(sql_int("SELECT count(*) FROM t_author WHERE name = 'changed'"), 3);
	cr_assert_str_eq(log_text(), "");
	for (int i = 0; i < 3; i++)
		sh_instance_free(a[i]);
}

Test(bulk_update, refuses_before_writing_anything)
{
	sh_instance *a[3];
	three_authors(a);
	sh_instance *unsaved = NEW("t.Author", FV("name", T("new")));
	sh_instance *mixed[] = { a[0], unsaved };
	const char *age[] = { "age" }, *pk[] = { "id" }, *nope[] = { "nope" };
	int64_t rows = 7;
	cr_assert_eq(sh_bulk_update(mixed, 2, age, 1, 0, &rows), SH_EINVAL);
	cr_assert_eq(rows, 0);
	cr_assert_eq(sh_bulk_update(a, 3, pk, 1, 0, NULL), SH_EINVAL);
	cr_assert_eq(sh_bulk_update(a, 3, nope, 1, 0, NULL), SH_EINVAL);
	cr_assert_eq(sh_bulk_update(a, 3, age, 0, 0, NULL), SH_EINVAL);
	cr_assert_eq(sql_int("SELECT sum(age) FROM t_author"), 6);
	sh_instance_free(unsaved);
	for (int i = 0; i < 3; i++)
		sh_instance_free(a[i]);
}

Test(join_save, saving_a_join_row_directly_sends_no_save_signal)
{
	sh_instance *p = SAVED("t.Post", FV("title", T("p")));
	sh_instance *t = SAVED("t.Tag", FV("name", T("t")));
	const sh_model *join = sh_field_through(sh_model_field(fx_model("t.Post"), "tags"));
	cr_assert_not_null(join);
	cr_assert(sh_model_auto_created(join));
	/* the join model's keys: field 1 to the Post, field 2 to the Tag */
	const char *to_post = sh_field_name(sh_model_field_at(join, 1));
	const char *to_tag = sh_field_name(sh_model_field_at(join, 2));
	log_clear();
	sh_instance *row = NULL;
	sh_field_value values[] = { FV(to_post, I(1)), FV(to_tag, I(1)) };
	cr_assert_eq(sh_instance_new(&row, fx.db, join, values, 2), 0, "%s",
		sh_error_last()->message);
	cr_assert_eq(sh_instance_save(row, NULL), 0, "%s", sh_error_last()->message);
	char expected[256];
	snprintf(expected, sizeof expected,
		"pre_init t.Post_tags args=[] kwargs={'%s': 1, '%s': 1}\n"
		"post_init t.Post_tags pk=None\n", to_post, to_tag);
	cr_assert_str_eq(log_text(), expected);
	cr_assert_eq(sql_int("SELECT count(*) FROM \"%s\"", sh_model_table(join)), 1);
	sh_instance_free(row);
	sh_instance_free(p);
	sh_instance_free(t);
}
