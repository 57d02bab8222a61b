/*
 * deferred.c: only(), defer(), loading a deferred field on first access,
 * saving an instance with deferred fields, and refresh_from_db().
 *
 * Django's behaviour (django/db/models/base.py, query_utils.py):
 * - Model.from_db: when fewer values than concrete fields were read, the
 *   missing ones are DEFERRED in cls(*values): pre_init's args hold
 *   DEFERRED in their places; the pk is always read.
 * - DeferredAttribute.__get__: a field not in __dict__ is loaded with
 *   instance.refresh_from_db(fields=[attname]).
 * - refresh_from_db(fields): filter(pk=self.pk).only(*fields).get() (so
 *   the row read is a new instance: pre_init with the others DEFERRED,
 *   post_init), then its loaded values are set on self (no signal for
 *   self); fields=None reloads every non-deferred field and empties the
 *   prefetched objects cache; a field name that is a prefetched relation
 *   only drops that cache (no query when it is the only one).
 * - save() of an instance with deferred fields (not force_insert):
 *   update_fields = the attnames of the loaded non-pk concrete fields.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(deferred, .init = fx_setup, .fini = fx_teardown);
TestSuite(refresh, .init = fx_setup, .fini = fx_teardown);

static sh_instance *load_one(const char *label, bool only, const char *const *fields,
	size_t count)
{
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, fx_model(label)), 0);
	int rc = only ? sh_query_only(q, fields, count) : sh_query_defer(q, fields, count);
	cr_assert_eq(rc, 0, "%s", sh_error_last()->message);
	sh_instance *inst = NULL;
	rc = sh_query_next(q, &inst);
	cr_assert_eq(rc, 1, "next: %d %s", rc, sh_error_last()->message);
	sh_query_free(q);
	return inst;
}

#define NAMES(...) (const char *const[]){ __VA_ARGS__ }, \
	sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *)

Test(deferred, only_sends_deferred_in_pre_init_and_loads_the_field_on_first_access)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("ann")), FV("age", I(7)));
	log_clear();
	sh_instance *x = load_one("t.Author", true, NAMES("name"));
	cr_assert_str_eq(log_text(),
		"pre_init t.Author args=[1, 'ann', DEFERRED] kwargs={}\n"
		"post_init t.Author pk=1\n");
	bool deferred = false;
	cr_assert_eq(sh_instance_is_deferred(x, "age", &deferred), 0);
	cr_assert(deferred);
	log_clear();
	stmt_count_start();
	sh_datum age;
	cr_assert_eq(sh_instance_get(x, "age", &age), 0, "%s", sh_error_last()->message);
	cr_assert_eq(stmt_count_stop(), 1, "%s", stmt_sql_log());
	cr_assert_eq(age.type, SH_DATUM_INT);
	cr_assert_eq(age.v.i, 7);
	/* Django: refresh_from_db(fields=['age']): only('age').get() */
	cr_assert_str_eq(log_text(),
		"pre_init t.Author args=[1, DEFERRED, 7] kwargs={}\n"
		"post_init t.Author pk=1\n");
	cr_assert_eq(sh_instance_is_deferred(x, "age", &deferred), 0);
	cr_assert_not(deferred);
	log_clear();
	stmt_count_start();
	cr_assert_eq(sh_instance_get(x, "age", &age), 0);
	cr_assert_eq(stmt_count_stop(), 0);
	cr_assert_str_eq(log_text(), "");
	sh_instance_free(x);
	sh_instance_free(a);
}

Test(deferred, defer_leaves_out_the_named_fields)
{
	sh_instance *b = NULL;
	sh_instance *a = SAVED("t.A", FV("name", T("a1")));
	b = SAVED("t.B", FV("a", I(1)), FV("name", T("b1")));
	log_clear();
	sh_instance *x = load_one("t.B", false, NAMES("name", "a"));
	cr_assert_str_eq(log_text(),
		"pre_init t.B args=[1, DEFERRED, DEFERRED] kwargs={}\n"
		"post_init t.B pk=1\n");
	sh_instance_free(x);
	sh_instance_free(b);
	sh_instance_free(a);
}

Test(deferred, a_deferred_field_set_before_access_is_not_loaded)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("ann")), FV("age", I(7)));
	sh_instance *x = load_one("t.Author", true, NAMES("name"));
	cr_assert_eq(sh_instance_set(x, "age", I(9)), 0);
	log_clear();
	stmt_count_start();
	sh_datum age;
	cr_assert_eq(sh_instance_get(x, "age", &age), 0);
	cr_assert_eq(stmt_count_stop(), 0);
	cr_assert_eq(age.v.i, 9);
	sh_instance_free(x);
	sh_instance_free(a);
}

Test(deferred, saving_writes_the_loaded_fields_only_by_their_attnames)
{
	sh_instance *a1 = SAVED("t.A", FV("name", T("a1")));
	sh_instance *a2 = SAVED("t.A", FV("name", T("a2")));
	sh_instance *b = SAVED("t.B", FV("a", I(1)), FV("name", T("b1")));
	sh_instance *x = load_one("t.B", true, NAMES("a"));
	cr_assert_eq(sh_instance_set(x, "a", I(2)), 0);
	sql_exec("UPDATE t_b SET name = 'changed elsewhere' WHERE id = 1");
	log_clear();
	cr_assert_eq(sh_instance_save(x, NULL), 0, "%s", sh_error_last()->message);
	cr_assert_str_eq(log_text(),
		"pre_save t.B pk=1 raw=False using=default update_fields=['a_id']\n"
		"post_save t.B pk=1 created=False raw=False using=default update_fields=['a_id']\n");
	cr_assert_eq(sql_int("SELECT a_id FROM t_b WHERE id = 1"), 2);
	cr_assert_eq(sql_int("SELECT count(*) FROM t_b WHERE name = 'changed elsewhere'"), 1,
		"the deferred name must not be written");
	sh_instance_free(x);
	sh_instance_free(b);
	sh_instance_free(a1);
	sh_instance_free(a2);
}

Test(deferred, refuses_unknown_and_many_to_many_fields)
{
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, fx_model("t.Post")), 0);
	cr_assert_eq(sh_query_only(q, NAMES("tags")), SH_EINVAL);
	cr_assert_eq(sh_query_defer(q, NAMES("nope")), SH_EINVAL);
	sh_query_free(q);
}

/* ---- refresh_from_db ---- */

Test(refresh, reloads_every_field_through_a_new_instance)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("ann")), FV("age", I(7)));
	sql_exec("UPDATE t_author SET age = 9 WHERE id = 1");
	log_clear();
	cr_assert_eq(sh_instance_refresh(a, NULL, 0), 0, "%s", sh_error_last()->message);
	cr_assert_str_eq(log_text(),
		"pre_init t.Author args=[1, 'ann', 9] kwargs={}\n"
		"post_init t.Author pk=1\n");
	sh_datum age;
	cr_assert_eq(sh_instance_get(a, "age", &age), 0);
	cr_assert_eq(age.v.i, 9);
	sh_instance_free(a);
}

Test(refresh, some_fields_read_only_those)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("ann")), FV("age", I(7)));
	sql_exec("UPDATE t_author SET age = 9, name = 'bob' WHERE id = 1");
	log_clear();
	cr_assert_eq(sh_instance_refresh(a, NAMES("age")), 0, "%s", sh_error_last()->message);
	cr_assert_str_eq(log_text(),
		"pre_init t.Author args=[1, DEFERRED, 9] kwargs={}\n"
		"post_init t.Author pk=1\n");
	sh_datum d;
	cr_assert_eq(sh_instance_get(a, "name", &d), 0);
	cr_assert_str_eq(d.v.s, "ann", "name was not refreshed");
	sh_instance_free(a);
}

Test(refresh, a_deleted_row_is_not_found)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("ann")));
	sql_exec("DELETE FROM t_author");
	log_clear();
	cr_assert_eq(sh_instance_refresh(a, NULL, 0), SH_ENOTFOUND);
	cr_assert_str_eq(log_text(), "");
	sh_instance_free(a);
}

Test(refresh, a_prefetched_relation_name_drops_that_cache_only)
{
	sh_instance *a = SAVED("t.A", FV("name", T("a1")));
	sh_instance *b = SAVED("t.B", FV("a", I(1)), FV("name", T("b1")));
	sh_instance *const *bs;
	size_t count;
	cr_assert_eq(sh_instance_prefetched(a, "b_set", &bs, &count), 0);
	cr_assert_eq(count, 1);
	sh_instance *b2 = SAVED("t.B", FV("a", I(1)), FV("name", T("b2")));
	log_clear();
	stmt_count_start();
	cr_assert_eq(sh_instance_refresh(a, NAMES("b_set")), 0, "%s", sh_error_last()->message);
	cr_assert_eq(stmt_count_stop(), 0, "%s", stmt_sql_log());
	cr_assert_str_eq(log_text(), "");
	cr_assert_eq(sh_instance_prefetched(a, "b_set", &bs, &count), 0);
	cr_assert_eq(count, 2, "read again after the refresh dropped it");
	sh_instance_free(b2);
	sh_instance_free(b);
	sh_instance_free(a);
}
