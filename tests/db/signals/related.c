/*
 * related.c: select_related and prefetch_related: the init signals of
 * every instance loaded, in Django's order, and related instances reached
 * afterwards without another statement.
 *
 * Django's behaviour (django/db/models/query.py):
 * - select_related: ModelIterable.__iter__ builds, for each row,
 *   obj = model_cls.from_db(...) (pre_init args=the row's values,
 *   post_init), then for each related populator rel_obj = from_db(...)
 *   (pre_init, post_init) unless the key is NULL (no object, no signal);
 *   the object is cached on obj (fields_cache): obj.fk costs no query.
 * - prefetch_related: _fetch_all() loads every row first (their
 *   pre_init/post_init), then prefetch_related_objects runs one query per
 *   lookup, in the order given, loading each related row (pre_init,
 *   post_init): a forward key with filter(pk__in=...) (each target once);
 *   a reverse key with filter(<key>__in=instances); a many-to-many relation
 *   with the target model joined to the join table, one object per join
 *   row (a target related to two instances is loaded twice).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(select_related, .init = fx_setup, .fini = fx_teardown);
TestSuite(prefetch_related, .init = fx_setup, .fini = fx_teardown);
TestSuite(related_access, .init = fx_setup, .fini = fx_teardown);

typedef struct world {
	sh_instance *a1, *a2, *b1, *b2, *b3, *n1;
} world;

static world make_world(void)
{
	world w;
	w.a1 = SAVED("t.A", FV("name", T("a1")));
	w.a2 = SAVED("t.A", FV("name", T("a2")));
	w.b1 = SAVED("t.B", FV("a", I(1)), FV("name", T("b1")));
	w.b2 = SAVED("t.B", FV("a", I(1)), FV("name", T("b2")));
	w.b3 = SAVED("t.B", FV("a", I(2)), FV("name", T("b3")));
	w.n1 = SAVED("t.N", FV("name", T("n1")));
	log_clear();
	return w;
}

static void free_world(world *w)
{
	sh_instance *all[] = { w->a1, w->a2, w->b1, w->b2, w->b3, w->n1 };
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		sh_instance_free(all[i]);
}

/* Reads every row of `q` into rows[] (at most `max`); returns the count. */
static size_t read_all(sh_query *q, sh_instance **rows, size_t max)
{
	size_t n = 0;
	for (;;) {
		sh_instance *inst;
		int rc = sh_query_next(q, &inst);
		cr_assert_geq(rc, 0, "next: %d %s", rc, sh_error_last()->message);
		if (rc == 0)
			break;
		cr_assert_lt(n, max);
		rows[n++] = inst;
	}
	return n;
}

static const char *text_of(const sh_instance *inst, const char *field)
{
	sh_datum d;
	int rc = sh_instance_get(inst, field, &d);
	cr_assert_eq(rc, 0, "get %s: %s", field, sh_error_last()->message);
	cr_assert_eq(d.type, SH_DATUM_TEXT);
	return d.v.s;
}

static sh_query *query_of(const char *label)
{
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, fx_model(label)), 0);
	return q;
}

/* ---- select_related ---- */

Test(select_related, each_row_sends_its_init_then_the_targets)
{
	world w = make_world();
	sh_query *q = query_of("t.B");
	cr_assert_eq(sh_query_select_related(q, "a"), 0);
	sh_instance *rows[8];
	stmt_count_start();
	size_t n = read_all(q, rows, 8);
	int statements = stmt_count_stop();
	cr_assert_eq(n, 3);
	cr_assert_eq(statements, 1, "one query, the join:\n%s", stmt_sql_log());
	cr_assert_str_eq(log_text(),
		"pre_init t.B args=[1, 1, 'b1'] kwargs={}\n"
		"post_init t.B pk=1\n"
		"pre_init t.A args=[1, 'a1'] kwargs={}\n"
		"post_init t.A pk=1\n"
		"pre_init t.B args=[2, 1, 'b2'] kwargs={}\n"
		"post_init t.B pk=2\n"
		"pre_init t.A args=[1, 'a1'] kwargs={}\n"
		"post_init t.A pk=1\n"
		"pre_init t.B args=[3, 2, 'b3'] kwargs={}\n"
		"post_init t.B pk=3\n"
		"pre_init t.A args=[2, 'a2'] kwargs={}\n"
		"post_init t.A pk=2\n");
	log_clear();
	stmt_count_start();
	for (size_t i = 0; i < n; i++) {
		sh_instance *a = NULL;
		cr_assert_eq(sh_instance_related(rows[i], "a", &a), 0, "%s", sh_error_last()->message);
		cr_assert_not_null(a);
		cr_assert_str_eq(text_of(a, "name"), i < 2 ? "a1" : "a2");
	}
	cr_assert_eq(stmt_count_stop(), 0, "no statement may run:\n%s", stmt_sql_log());
	cr_assert_eq(stmt_prepared_since_start(), 0, "no statement may be prepared");
	cr_assert_str_eq(log_text(), "");
	for (size_t i = 0; i < n; i++)
		sh_instance_free(rows[i]);
	sh_query_free(q);
	free_world(&w);
}

Test(select_related, a_null_key_loads_no_target_and_sends_nothing_for_it)
{
	world w = make_world();
	sh_query *q = query_of("t.N");
	cr_assert_eq(sh_query_select_related(q, "a"), 0);
	sh_instance *rows[2];
	cr_assert_eq(read_all(q, rows, 2), 1);
	cr_assert_str_eq(log_text(),
		"pre_init t.N args=[1, None, 'n1'] kwargs={}\n"
		"post_init t.N pk=1\n");
	stmt_count_start();
	sh_instance *a = (sh_instance *)1;
	cr_assert_eq(sh_instance_related(rows[0], "a", &a), 0);
	cr_assert_null(a);
	cr_assert_eq(stmt_count_stop(), 0);
	sh_instance_free(rows[0]);
	sh_query_free(q);
	free_world(&w);
}

Test(select_related, filters_and_ordering_name_the_main_table_in_a_join)
{
	/* t_b and t_a both have a "name" column: the filter must mean B's. */
	world w = make_world();
	sh_query *q = query_of("t.B");
	cr_assert_eq(sh_query_select_related(q, "a"), 0);
	cr_assert_eq(sh_query_filter(q, "name", T("b3")), 0);
	cr_assert_eq(sh_query_order_by(q, "-name"), 0);
	sh_instance *rows[4];
	cr_assert_eq(read_all(q, rows, 4), 1);
	cr_assert_eq(sh_instance_pk(rows[0]), 3);
	sh_instance_free(rows[0]);
	sh_query_free(q);
	free_world(&w);
}

Test(select_related, refuses_what_is_not_a_foreign_key)
{
	sh_query *q = query_of("t.Post");
	cr_assert_eq(sh_query_select_related(q, "tags"), SH_EINVAL);
	cr_assert_eq(sh_query_select_related(q, "title"), SH_EINVAL);
	cr_assert_eq(sh_query_select_related(q, "nope"), SH_EINVAL);
	sh_query_free(q);
}

/* ---- prefetch_related ---- */

Test(prefetch_related, a_reverse_key_loads_all_rows_then_one_query_of_related)
{
	world w = make_world();
	sh_query *q = query_of("t.A");
	cr_assert_eq(sh_query_prefetch_related(q, "b_set"), 0);
	sh_instance *rows[4];
	stmt_count_start();
	size_t n = read_all(q, rows, 4);
	int statements = stmt_count_stop();
	cr_assert_eq(n, 2);
	cr_assert_eq(statements, 2, "the rows, then one query:\n%s", stmt_sql_log());
	cr_assert_str_eq(log_text(),
		"pre_init t.A args=[1, 'a1'] kwargs={}\n"
		"post_init t.A pk=1\n"
		"pre_init t.A args=[2, 'a2'] kwargs={}\n"
		"post_init t.A pk=2\n"
		"pre_init t.B args=[1, 1, 'b1'] kwargs={}\n"
		"post_init t.B pk=1\n"
		"pre_init t.B args=[2, 1, 'b2'] kwargs={}\n"
		"post_init t.B pk=2\n"
		"pre_init t.B args=[3, 2, 'b3'] kwargs={}\n"
		"post_init t.B pk=3\n");
	log_clear();
	stmt_count_start();
	sh_instance *const *bs;
	size_t count;
	cr_assert_eq(sh_instance_prefetched(rows[0], "b_set", &bs, &count), 0);
	cr_assert_eq(count, 2);
	cr_assert_str_eq(text_of(bs[0], "name"), "b1");
	cr_assert_str_eq(text_of(bs[1], "name"), "b2");
	cr_assert_eq(sh_instance_prefetched(rows[1], "b_set", &bs, &count), 0);
	cr_assert_eq(count, 1);
	cr_assert_str_eq(text_of(bs[0], "name"), "b3");
	cr_assert_eq(stmt_count_stop(), 0, "no statement may run:\n%s", stmt_sql_log());
	cr_assert_eq(stmt_prepared_since_start(), 0, "no statement may be prepared");
	cr_assert_str_eq(log_text(), "");
	for (size_t i = 0; i < n; i++)
		sh_instance_free(rows[i]);
	sh_query_free(q);
	free_world(&w);
}

Test(prefetch_related, a_forward_key_loads_each_target_once)
{
	world w = make_world();
	sh_query *q = query_of("t.B");
	cr_assert_eq(sh_query_prefetch_related(q, "a"), 0);
	sh_instance *rows[4];
	stmt_count_start();
	size_t n = read_all(q, rows, 4);
	cr_assert_eq(stmt_count_stop(), 2, "%s", stmt_sql_log());
	cr_assert_eq(n, 3);
	cr_assert_str_eq(log_text(),
		"pre_init t.B args=[1, 1, 'b1'] kwargs={}\n"
		"post_init t.B pk=1\n"
		"pre_init t.B args=[2, 1, 'b2'] kwargs={}\n"
		"post_init t.B pk=2\n"
		"pre_init t.B args=[3, 2, 'b3'] kwargs={}\n"
		"post_init t.B pk=3\n"
		"pre_init t.A args=[1, 'a1'] kwargs={}\n"
		"post_init t.A pk=1\n"
		"pre_init t.A args=[2, 'a2'] kwargs={}\n"
		"post_init t.A pk=2\n");
	stmt_count_start();
	sh_instance *x = NULL, *y = NULL, *z = NULL;
	cr_assert_eq(sh_instance_related(rows[0], "a", &x), 0);
	cr_assert_eq(sh_instance_related(rows[1], "a", &y), 0);
	cr_assert_eq(sh_instance_related(rows[2], "a", &z), 0);
	cr_assert_eq(stmt_count_stop(), 0);
	cr_assert_eq(x, y, "b1 and b2 share their target, as Django's prefetch does");
	cr_assert_eq(sh_instance_pk(z), 2);
	/* Freed in any order: the shared target lives until the last goes. */
	sh_instance_free(rows[0]);
	cr_assert_str_eq(text_of(y, "name"), "a1");
	sh_instance_free(rows[1]);
	sh_instance_free(rows[2]);
	sh_query_free(q);
	free_world(&w);
}

static void tag_world(sh_instance **p1, sh_instance **p2, sh_instance **t1, sh_instance **t2)
{
	*p1 = SAVED("t.Post", FV("title", T("p1")));
	*p2 = SAVED("t.Post", FV("title", T("p2")));
	*t1 = SAVED("t.Tag", FV("name", T("t1")));
	*t2 = SAVED("t.Tag", FV("name", T("t2")));
	cr_assert_eq(sh_m2m_add(*p1, "tags", (int64_t[]){ 1, 2 }, 2), 0);
	cr_assert_eq(sh_m2m_add(*p2, "tags", (int64_t[]){ 2 }, 1), 0);
	log_clear();
}

Test(prefetch_related, a_many_to_many_loads_one_object_per_join_row)
{
	sh_instance *p1, *p2, *t1, *t2;
	tag_world(&p1, &p2, &t1, &t2);
	sh_query *q = query_of("t.Post");
	cr_assert_eq(sh_query_prefetch_related(q, "tags"), 0);
	sh_instance *rows[4];
	stmt_count_start();
	size_t n = read_all(q, rows, 4);
	cr_assert_eq(stmt_count_stop(), 2, "%s", stmt_sql_log());
	cr_assert_eq(n, 2);
	cr_assert_str_eq(log_text(),
		"pre_init t.Post args=[1, 'p1'] kwargs={}\n"
		"post_init t.Post pk=1\n"
		"pre_init t.Post args=[2, 'p2'] kwargs={}\n"
		"post_init t.Post pk=2\n"
		"pre_init t.Tag args=[1, 't1'] kwargs={}\n"
		"post_init t.Tag pk=1\n"
		"pre_init t.Tag args=[2, 't2'] kwargs={}\n"
		"post_init t.Tag pk=2\n"
		"pre_init t.Tag args=[2, 't2'] kwargs={}\n"
		"post_init t.Tag pk=2\n");
	stmt_count_start();
	sh_instance *const *tags;
	size_t count;
	cr_assert_eq(sh_instance_prefetched(rows[0], "tags", &tags, &count), 0);
	cr_assert_eq(count, 2);
	cr_assert_str_eq(text_of(tags[1], "name"), "t2");
	cr_assert_eq(sh_instance_prefetched(rows[1], "tags", &tags, &count), 0);
	cr_assert_eq(count, 1);
	cr_assert_str_eq(text_of(tags[0], "name"), "t2");
	cr_assert_eq(stmt_count_stop(), 0);
	for (size_t i = 0; i < n; i++)
		sh_instance_free(rows[i]);
	sh_query_free(q);
	sh_instance *all[] = { p1, p2, t1, t2 };
	for (size_t i = 0; i < 4; i++)
		sh_instance_free(all[i]);
}

Test(prefetch_related, the_reverse_side_of_a_many_to_many_and_two_lookups_in_order)
{
	sh_instance *p1, *p2, *t1, *t2;
	tag_world(&p1, &p2, &t1, &t2);
	sh_instance *b = SAVED("t.Tag", FV("name", T("bare")));
	log_clear();
	sh_query *q = query_of("t.Tag");
	cr_assert_eq(sh_query_prefetch_related(q, "post_set"), 0);
	sh_instance *rows[4];
	stmt_count_start();
	size_t n = read_all(q, rows, 4);
	cr_assert_eq(stmt_count_stop(), 2, "%s", stmt_sql_log());
	cr_assert_eq(n, 3);
	char *init = log_only("pre_init");
	cr_assert_str_eq(init,
		"pre_init t.Tag args=[1, 't1'] kwargs={}\n"
		"pre_init t.Tag args=[2, 't2'] kwargs={}\n"
		"pre_init t.Tag args=[3, 'bare'] kwargs={}\n"
		"pre_init t.Post args=[1, 'p1'] kwargs={}\n"
		"pre_init t.Post args=[1, 'p1'] kwargs={}\n"
		"pre_init t.Post args=[2, 'p2'] kwargs={}\n");
	free(init);
	sh_instance *const *posts;
	size_t count;
	cr_assert_eq(sh_instance_prefetched(rows[1], "post_set", &posts, &count), 0);
	cr_assert_eq(count, 2);
	cr_assert_eq(sh_instance_pk(posts[0]), 1);
	cr_assert_eq(sh_instance_pk(posts[1]), 2);
	cr_assert_eq(sh_instance_prefetched(rows[2], "post_set", &posts, &count), 0);
	cr_assert_eq(count, 0);
	for (size_t i = 0; i < n; i++)
		sh_instance_free(rows[i]);
	sh_query_free(q);
	sh_instance *all[] = { p1, p2, t1, t2, b };
	for (size_t i = 0; i < 5; i++)
		sh_instance_free(all[i]);
}

Test(prefetch_related, two_relations_run_one_query_each_in_the_order_given)
{
	world w = make_world();
	sh_instance *c = SAVED("t.C", FV("b", I(1)), FV("name", T("c1")));
	log_clear();
	sh_query *q = query_of("t.B");
	cr_assert_eq(sh_query_prefetch_related(q, "c_set"), 0);
	cr_assert_eq(sh_query_prefetch_related(q, "a"), 0);
	sh_instance *rows[4];
	stmt_count_start();
	size_t n = read_all(q, rows, 4);
	cr_assert_eq(stmt_count_stop(), 3, "%s", stmt_sql_log());
	char *init = log_only("pre_init");
	cr_assert_str_eq(init,
		"pre_init t.B args=[1, 1, 'b1'] kwargs={}\n"
		"pre_init t.B args=[2, 1, 'b2'] kwargs={}\n"
		"pre_init t.B args=[3, 2, 'b3'] kwargs={}\n"
		"pre_init t.C args=[1, 1, 'c1'] kwargs={}\n"
		"pre_init t.A args=[1, 'a1'] kwargs={}\n"
		"pre_init t.A args=[2, 'a2'] kwargs={}\n");
	free(init);
	for (size_t i = 0; i < n; i++)
		sh_instance_free(rows[i]);
	sh_query_free(q);
	sh_instance_free(c);
	free_world(&w);
}

Test(prefetch_related, refuses_an_unknown_relation)
{
	sh_query *q = query_of("t.A");
	cr_assert_eq(sh_query_prefetch_related(q, "nope"), SH_EINVAL);
	cr_assert_eq(sh_query_prefetch_related(q, "name"), SH_EINVAL);
	sh_query_free(q);
}

/* ---- reaching a relation that was not loaded ---- */

Test(related_access, a_key_not_selected_is_read_once_then_kept)
{
	world w = make_world();
	sh_instance *b = NULL;
	cr_assert_eq(sh_query_get(&b, fx.db, fx_model("t.B"), 3), 0);
	log_clear();
	sh_instance *a = NULL;
	stmt_count_start();
	cr_assert_eq(sh_instance_related(b, "a", &a), 0);
	cr_assert_eq(stmt_count_stop(), 1);
	cr_assert_str_eq(log_text(),
		"pre_init t.A args=[2, 'a2'] kwargs={}\n"
		"post_init t.A pk=2\n");
	sh_instance *again = NULL;
	stmt_count_start();
	cr_assert_eq(sh_instance_related(b, "a", &again), 0);
	cr_assert_eq(stmt_count_stop(), 0);
	cr_assert_eq(a, again);
	/* Setting the key to another value forgets the cached object. */
	cr_assert_eq(sh_instance_set(b, "a", I(1)), 0);
	cr_assert_eq(sh_instance_related(b, "a", &again), 0);
	cr_assert_eq(sh_instance_pk(again), 1);
	sh_instance_free(b);
	free_world(&w);
}

Test(related_access, a_reverse_relation_not_prefetched_is_loaded_with_one_query)
{
	world w = make_world();
	log_clear();
	sh_instance *const *bs;
	size_t count;
	stmt_count_start();
	cr_assert_eq(sh_instance_prefetched(w.a1, "b_set", &bs, &count), 0);
	cr_assert_eq(stmt_count_stop(), 1);
	cr_assert_eq(stmt_prepared_since_start(), 1, "the query of b_set, prepared and cached");
	cr_assert_eq(count, 2);
	cr_assert_eq(log_count("pre_init t.B"), 2);
	free_world(&w);
}
