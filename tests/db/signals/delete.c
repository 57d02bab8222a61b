/*
 * delete.c: pre_delete and post_delete for sh_instance_delete() and
 * sh_query_delete(), through cascades, SET_NULL, PROTECT and RESTRICT.
 *
 * Django's behaviour (django/db/models/deletion.py, Collector; Model.delete
 * in django/db/models/base.py; QuerySet.delete in query.py), with a
 * receiver connected for every sender (so nothing is "fast-deleted":
 * can_fast_delete() is false for a model with pre_delete/post_delete
 * listeners, and every cascaded row is loaded as an instance):
 * - Model.delete() makes Collector(using, origin=self) and collects [self];
 *   QuerySet.delete() makes Collector(origin=<the queryset>) and collects
 *   the queryset's rows (loading them). origin (Django 4.1+) is passed to
 *   every pre_delete and post_delete of that delete: the very object whose
 *   delete() was called, or the queryset.
 * - collect() walks the reverse foreign keys of each newly collected model,
 *   depth first. For CASCADE it loads the related rows (each sends
 *   pre_init/post_init, from_db) and collects them, recording that the
 *   target model depends on them (add_dependency(source, model)) unless the
 *   key is nullable. PROTECT raises ProtectedError while collecting.
 *   RESTRICT records the rows and raises RestrictedError at the end of the
 *   top-level collect() unless every such row was also collected through a
 *   CASCADE of the same delete. Both errors come before any pre_delete is
 *   sent and before anything is written.
 * - SET_NULL carries lazy_sub_objs = True (Django 4.2+): its rows are not
 *   loaded (no pre_init/post_init) and the key is cleared by one UPDATE of
 *   a queryset (QuerySet.update: no save signals), inside the delete's
 *   transaction, after the pre_delete sends.
 * - delete(): instances of each model sorted by pk; models sorted so that a
 *   model comes after the models that depend on it (sort()): with
 *   A <- B <- C (non-null CASCADE keys) the order is C, B, A. Then, in one
 *   transaction: pre_delete for every instance in that order (dependents
 *   first, pk ascending within a model); field updates (SET_NULL); then
 *   each model's instance list is reversed and, model by model, its rows are
 *   DELETEd and post_delete is sent for each of its instances right after
 *   that model's DELETE - so post_delete goes pk descending within a model.
 *   Auto-created (join) models get neither signal.
 * - Model.delete() of an instance without a pk raises ValueError before
 *   collecting: no signal at all.
 * - The instance in the origin's own pre_delete/post_delete is the very
 *   object whose delete() was called (collect([self])).
 * - Afterwards every deleted instance's pk is set to None; the instance
 *   keeps its other values. Model.delete returns the count of rows deleted.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(delete, .init = fx_setup, .fini = fx_teardown);
TestSuite(protect, .init = fx_setup, .fini = fx_teardown);
TestSuite(query_delete, .init = fx_setup, .fini = fx_teardown);

/* A probe connected after the recorder: after each delete send, notes
 * how many rows of t.A, t.B and t.C the database holds at that moment. */
static int probe(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	log_note("  rows A=%lld B=%lld C=%lld",
		(long long)sql_int("SELECT count(*) FROM t_a"),
		(long long)sql_int("SELECT count(*) FROM t_b"),
		(long long)sql_int("SELECT count(*) FROM t_c"));
	return 0;
}

static void connect_probe(void)
{
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_PRE_DELETE), probe, NULL,
		NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_DELETE), probe, NULL,
		NULL), 0);
}

/* Builds A1 <- B1, B2 <- C1 (on B1), C2, C3 (on B2), plus A2 <- B3 <- C4
 * that no delete of A1 may touch. */
typedef struct chain {
	sh_instance *a1, *a2, *b1, *b2, *b3, *c1, *c2, *c3, *c4;
} chain;

static chain make_chain(void)
{
	chain c;
	c.a1 = SAVED("t.A", FV("name", T("a1")));
	c.b1 = SAVED("t.B", FV("a", I(1)), FV("name", T("b1")));
	c.b2 = SAVED("t.B", FV("a", I(1)), FV("name", T("b2")));
	c.c1 = SAVED("t.C", FV("b", I(1)), FV("name", T("c1")));
	c.c2 = SAVED("t.C", FV("b", I(2)), FV("name", T("c2")));
	c.c3 = SAVED("t.C", FV("b", I(2)), FV("name", T("c3")));
	c.a2 = SAVED("t.A", FV("name", T("a2")));
	c.b3 = SAVED("t.B", FV("a", I(2)), FV("name", T("b3")));
	c.c4 = SAVED("t.C", FV("b", I(3)), FV("name", T("c4")));
	cr_assert_eq(sh_instance_pk(c.c4), 4);
	log_clear();
	return c;
}

static void free_chain(chain *c)
{
	sh_instance *all[] = { c->a1, c->a2, c->b1, c->b2, c->b3, c->c1, c->c2, c->c3, c->c4 };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		sh_instance_free(all[i]);
}

Test(delete, two_level_cascade_in_djangos_order)
{
	chain c = make_chain();
	connect_probe();
	rec_expected_origin = c.a1;
	int64_t count = -1;
	cr_assert_eq(sh_instance_delete(c.a1, &count), 0, "%s", sh_error_last()->message);
	cr_assert_str_eq(log_text(),
		/* collecting: the cascaded rows are loaded, depth first */
		"pre_init t.B args=[1, 1, 'b1'] kwargs={}\n"
		"post_init t.B pk=1\n"
		"pre_init t.B args=[2, 1, 'b2'] kwargs={}\n"
		"post_init t.B pk=2\n"
		"pre_init t.C args=[1, 1, 'c1'] kwargs={}\n"
		"post_init t.C pk=1\n"
		"pre_init t.C args=[2, 2, 'c2'] kwargs={}\n"
		"post_init t.C pk=2\n"
		"pre_init t.C args=[3, 2, 'c3'] kwargs={}\n"
		"post_init t.C pk=3\n"
		/* every pre_delete first: dependents first, pk ascending, nothing deleted yet */
		"pre_delete t.C pk=1 using=default origin=t.A:1\n"
		"  rows A=2 B=3 C=4\n"
		"pre_delete t.C pk=2 using=default origin=t.A:1\n"
		"  rows A=2 B=3 C=4\n"
		"pre_delete t.C pk=3 using=default origin=t.A:1\n"
		"  rows A=2 B=3 C=4\n"
		"pre_delete t.B pk=1 using=default origin=t.A:1\n"
		"  rows A=2 B=3 C=4\n"
		"pre_delete t.B pk=2 using=default origin=t.A:1\n"
		"  rows A=2 B=3 C=4\n"
		"pre_delete t.A pk=1 using=default origin=t.A:1\n"
		"  rows A=2 B=3 C=4\n"
		/* then model by model: the DELETE, then post_delete, pk descending */
		"post_delete t.C pk=3 using=default origin=t.A:1\n"
		"  rows A=2 B=3 C=1\n"
		"post_delete t.C pk=2 using=default origin=t.A:1\n"
		"  rows A=2 B=3 C=1\n"
		"post_delete t.C pk=1 using=default origin=t.A:1\n"
		"  rows A=2 B=3 C=1\n"
		"post_delete t.B pk=2 using=default origin=t.A:1\n"
		"  rows A=2 B=1 C=1\n"
		"post_delete t.B pk=1 using=default origin=t.A:1\n"
		"  rows A=2 B=1 C=1\n"
		"post_delete t.A pk=1 using=default origin=t.A:1\n"
		"  rows A=1 B=1 C=1\n");
	cr_assert_eq(count, 6);
	cr_assert_eq(sql_int("SELECT count(*) FROM t_a WHERE name = 'a2'"), 1);
	cr_assert_eq(sql_int("SELECT count(*) FROM t_b WHERE name = 'b3'"), 1);
	cr_assert_eq(sql_int("SELECT count(*) FROM t_c WHERE name = 'c4'"), 1);
	free_chain(&c);
}

Test(delete, deleted_instance_has_no_pk_and_keeps_its_values)
{
	chain c = make_chain();
	cr_assert_eq(sh_instance_delete(c.a1, NULL), 0);
	cr_assert_eq(sh_instance_pk(c.a1), 0);
	sh_datum d;
	cr_assert_eq(sh_instance_get(c.a1, "name", &d), 0);
	cr_assert_eq(d.type, SH_DATUM_TEXT);
	cr_assert_str_eq(d.v.s, "a1");
	free_chain(&c);
}

Test(delete, leaf_delete_sends_one_pair_and_loads_nothing)
{
	chain c = make_chain();
	rec_expected_origin = c.c4;
	int64_t count = -1;
	cr_assert_eq(sh_instance_delete(c.c4, &count), 0);
	cr_assert_str_eq(log_text(),
		"pre_delete t.C pk=4 using=default origin=t.C:4\n"
		"post_delete t.C pk=4 using=default origin=t.C:4\n");
	cr_assert_eq(count, 1);
	cr_assert_eq(rows_of("t.C"), 3);
	free_chain(&c);
}

Test(delete, middle_delete_cascades_one_level)
{
	chain c = make_chain();
	rec_expected_origin = c.b2;
	cr_assert_eq(sh_instance_delete(c.b2, NULL), 0);
	cr_assert_str_eq(log_text(),
		"pre_init t.C args=[2, 2, 'c2'] kwargs={}\n"
		"post_init t.C pk=2\n"
		"pre_init t.C args=[3, 2, 'c3'] kwargs={}\n"
		"post_init t.C pk=3\n"
		"pre_delete t.C pk=2 using=default origin=t.B:2\n"
		"pre_delete t.C pk=3 using=default origin=t.B:2\n"
		"pre_delete t.B pk=2 using=default origin=t.B:2\n"
		"post_delete t.C pk=3 using=default origin=t.B:2\n"
		"post_delete t.C pk=2 using=default origin=t.B:2\n"
		"post_delete t.B pk=2 using=default origin=t.B:2\n");
	cr_assert_eq(rows_of("t.B"), 2);
	cr_assert_eq(rows_of("t.C"), 2);
	free_chain(&c);
}

Test(delete, failing_pre_delete_receiver_deletes_nothing)
{
	chain c = make_chain();
	static int code = -91;
	connect_failing(SH_PRE_DELETE, "t.B", &code);
	log_clear();
	cr_assert_eq(sh_instance_delete(c.a1, NULL), -91);
	cr_assert_eq(log_count("post_delete"), 0);
	cr_assert_eq(rows_of("t.A"), 2);
	cr_assert_eq(rows_of("t.B"), 3);
	cr_assert_eq(rows_of("t.C"), 4);
	cr_assert_eq(sh_instance_pk(c.a1), 1, "a failed delete leaves the pk");
	free_chain(&c);
}

Test(delete, failing_post_delete_receiver_rolls_everything_back)
{
	chain c = make_chain();
	static int code = -92;
	connect_failing(SH_POST_DELETE, "t.A", &code);   /* the last send of the delete */
	cr_assert_eq(sh_instance_delete(c.a1, NULL), -92);
	cr_assert_eq(rows_of("t.A"), 2, "one transaction: on any failure nothing is deleted");
	cr_assert_eq(rows_of("t.B"), 3);
	cr_assert_eq(rows_of("t.C"), 4);
	free_chain(&c);
}

Test(delete, set_null_clears_the_key_without_save_or_delete_signals)
{
	sh_instance *a1 = SAVED("t.A", FV("name", T("a1")));
	sh_instance *n1 = SAVED("t.N", FV("a", I(1)), FV("name", T("n1")));
	sh_instance *n2 = SAVED("t.N", FV("a", I(1)), FV("name", T("n2")));
	log_clear();
	cr_assert_eq(sh_instance_delete(a1, NULL), 0);
	char *sends = log_only("pre_save post_save pre_delete post_delete m2m_changed");
	cr_assert_str_eq(sends,
		"pre_delete t.A pk=1 using=default origin=t.A:1\n"
		"post_delete t.A pk=1 using=default origin=t.A:1\n");
	free(sends);
	cr_assert_eq(rows_of("t.N"), 2, "SET_NULL rows stay");
	cr_assert_eq(sql_int("SELECT count(*) FROM t_n WHERE a_id IS NULL"), 2);
	sh_instance_free(a1);
	sh_instance_free(n1);
	sh_instance_free(n2);
}

/* Django 4.2+: SET_NULL has lazy_sub_objs, its rows are updated through a
 * queryset and never loaded. */
Test(delete, set_null_rows_are_not_loaded)
{
	sh_instance *a1 = SAVED("t.A", FV("name", T("a1")));
	sh_instance *n1 = SAVED("t.N", FV("a", I(1)), FV("name", T("n1")));
	log_clear();
	cr_assert_eq(sh_instance_delete(a1, NULL), 0);
	cr_assert_str_eq(log_text(),
		"pre_delete t.A pk=1 using=default origin=t.A:1\n"
		"post_delete t.A pk=1 using=default origin=t.A:1\n");
	sh_instance_free(a1);
	sh_instance_free(n1);
}

/* The key is cleared after every pre_delete and before the DELETEs. */
static int probe_n(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	log_note("  null keys=%lld", (long long)sql_int("SELECT count(*) FROM t_n WHERE a_id IS NULL"));
	return 0;
}

Test(delete, set_null_update_comes_after_pre_delete_and_before_post_delete)
{
	sh_instance *a1 = SAVED("t.A", FV("name", T("a1")));
	sh_instance *n1 = SAVED("t.N", FV("a", I(1)), FV("name", T("n1")));
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_PRE_DELETE), probe_n, NULL,
		NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_DELETE), probe_n, NULL,
		NULL), 0);
	log_clear();
	cr_assert_eq(sh_instance_delete(a1, NULL), 0);
	char *sends = log_only("pre_delete post_delete");
	cr_assert_str_eq(sends,
		"pre_delete t.A pk=1 using=default origin=t.A:1\n"
		"post_delete t.A pk=1 using=default origin=t.A:1\n");
	free(sends);
	cr_assert_eq(log_count("  null keys=0"), 1, "at pre_delete the key is still set:\n%s",
		log_text());
	cr_assert_eq(log_count("  null keys=1"), 1, "at post_delete it is cleared:\n%s", log_text());
	sh_instance_free(a1);
	sh_instance_free(n1);
}

Test(delete, unsaved_instance_cannot_be_deleted_and_nothing_is_sent)
{
	sh_instance *a = NEW("t.A", FV("name", T("never saved")));
	log_clear();
	int rc = sh_instance_delete(a, NULL);
	cr_assert_lt(rc, 0, "Django: ValueError, the pk is None");
	cr_assert_str_eq(log_text(), "");
	sh_instance_free(a);
}

static const sh_instance *pre_seen, *post_seen;

static int note_a(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response;
	const sh_delete_args *a = args;
	if (strcmp(sh_sender_name(sender), "t.A") != 0)
		return 0;
	if (payload == NULL)
		pre_seen = a->instance;
	else
		post_seen = a->instance;
	return 0;
}

Test(delete, the_deleted_object_itself_is_the_instance_of_its_signals)
{
	chain c = make_chain();
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_PRE_DELETE), note_a, NULL,
		NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_DELETE), note_a,
		(void *)1, NULL), 0);
	cr_assert_eq(sh_instance_delete(c.a1, NULL), 0);
	cr_assert_eq(pre_seen, c.a1);
	cr_assert_eq(post_seen, c.a1);
	free_chain(&c);
}

/* ---- PROTECT and RESTRICT ---------------------------------------------- */

Test(protect, protect_refuses_before_any_pre_delete_and_deletes_nothing)
{
	sh_instance *a1 = SAVED("t.A", FV("name", T("a1")));
	sh_instance *b1 = SAVED("t.B", FV("a", I(1)), FV("name", T("b1")));
	sh_instance *p1 = SAVED("t.P", FV("b", I(1)), FV("name", T("p1")));
	log_clear();
	int64_t count = -1;
	cr_assert_eq(sh_instance_delete(a1, &count), SH_EPROTECTED);
	char *sends = log_only("pre_delete post_delete pre_save post_save");
	cr_assert_str_eq(sends, "");
	free(sends);
	cr_assert_not_null(strstr(sh_error_last()->message, "t.P"), "names the blocking model: %s",
		sh_error_last()->message);
	cr_assert_not_null(strstr(sh_error_last()->message, "pk=1"), "names the blocking row: %s",
		sh_error_last()->message);
	cr_assert_eq(rows_of("t.A"), 1);
	cr_assert_eq(rows_of("t.B"), 1);
	cr_assert_eq(rows_of("t.P"), 1);
	cr_assert_eq(sh_instance_pk(a1), 1);
	sh_instance_free(a1);
	sh_instance_free(b1);
	sh_instance_free(p1);
}

Test(protect, protect_refuses_a_direct_delete)
{
	sh_instance *a1 = SAVED("t.A", FV("name", T("a1")));
	sh_instance *b1 = SAVED("t.B", FV("a", I(1)), FV("name", T("b1")));
	sh_instance *p1 = SAVED("t.P", FV("b", I(1)), FV("name", T("p1")));
	log_clear();
	cr_assert_eq(sh_instance_delete(b1, NULL), SH_EPROTECTED);
	cr_assert_eq(log_count("pre_delete"), 0);
	cr_assert_eq(rows_of("t.B"), 1);
	/* Once the protecting row is gone, the delete goes through. */
	cr_assert_eq(sh_instance_delete(p1, NULL), 0);
	log_clear();
	cr_assert_eq(sh_instance_delete(b1, NULL), 0);
	cr_assert_str_eq(log_text(),
		"pre_delete t.B pk=1 using=default origin=t.B:1\n"
		"post_delete t.B pk=1 using=default origin=t.B:1\n");
	sh_instance_free(a1);
	sh_instance_free(b1);
	sh_instance_free(p1);
}

Test(protect, restrict_refuses_a_direct_delete)
{
	sh_instance *ar = SAVED("t.Artist", FV("name", T("artist")));
	sh_instance *al = SAVED("t.Album", FV("artist", I(1)), FV("name", T("album")));
	sh_instance *so = SAVED("t.Song", FV("artist", I(1)), FV("album", I(1)), FV("name", T("song")));
	log_clear();
	cr_assert_eq(sh_instance_delete(al, NULL), SH_EPROTECTED);
	char *sends = log_only("pre_delete post_delete");
	cr_assert_str_eq(sends, "");
	free(sends);
	cr_assert_not_null(strstr(sh_error_last()->message, "t.Song"), "%s", sh_error_last()->message);
	cr_assert_eq(rows_of("t.Album"), 1);
	cr_assert_eq(rows_of("t.Song"), 1);
	sh_instance_free(ar);
	sh_instance_free(al);
	sh_instance_free(so);
}

Test(protect, restrict_row_also_reached_by_a_cascade_is_deleted)
{
	sh_instance *ar = SAVED("t.Artist", FV("name", T("artist")));
	sh_instance *al = SAVED("t.Album", FV("artist", I(1)), FV("name", T("album")));
	sh_instance *so = SAVED("t.Song", FV("artist", I(1)), FV("album", I(1)), FV("name", T("song")));
	log_clear();
	int64_t count = -1;
	cr_assert_eq(sh_instance_delete(ar, &count), 0, "%s", sh_error_last()->message);
	/* Dependencies: Artist <- Album (cascade), Artist <- Song (cascade),
	 * Album <- Song (restrict adds the dependency too): Song, Album, Artist. */
	char *sends = log_only("pre_delete post_delete");
	cr_assert_str_eq(sends,
		"pre_delete t.Song pk=1 using=default origin=t.Artist:1\n"
		"pre_delete t.Album pk=1 using=default origin=t.Artist:1\n"
		"pre_delete t.Artist pk=1 using=default origin=t.Artist:1\n"
		"post_delete t.Song pk=1 using=default origin=t.Artist:1\n"
		"post_delete t.Album pk=1 using=default origin=t.Artist:1\n"
		"post_delete t.Artist pk=1 using=default origin=t.Artist:1\n");
	free(sends);
	cr_assert_eq(count, 3);
	cr_assert_eq(rows_of("t.Artist") + rows_of("t.Album") + rows_of("t.Song"), 0);
	sh_instance_free(ar);
	sh_instance_free(al);
	sh_instance_free(so);
}

Test(protect, restrict_row_not_reached_by_the_cascade_refuses)
{
	sh_instance *ar1 = SAVED("t.Artist", FV("name", T("one")));
	sh_instance *ar2 = SAVED("t.Artist", FV("name", T("two")));
	sh_instance *al = SAVED("t.Album", FV("artist", I(1)), FV("name", T("album of one")));
	/* A song by artist two on artist one's album. */
	sh_instance *so = SAVED("t.Song", FV("artist", I(2)), FV("album", I(1)), FV("name", T("guest")));
	log_clear();
	cr_assert_eq(sh_instance_delete(ar1, NULL), SH_EPROTECTED);
	char *sends = log_only("pre_delete post_delete");
	cr_assert_str_eq(sends, "");
	free(sends);
	cr_assert_eq(rows_of("t.Artist"), 2);
	cr_assert_eq(rows_of("t.Album"), 1);
	cr_assert_eq(rows_of("t.Song"), 1);
	sh_instance_free(ar1);
	sh_instance_free(ar2);
	sh_instance_free(al);
	sh_instance_free(so);
}

/* ---- queryset delete --------------------------------------------------- */

Test(query_delete, sends_both_signals_for_every_row_with_origin_model)
{
	chain c = make_chain();
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, fx_model("t.B")), 0);
	cr_assert_eq(sh_query_filter(q, "a", I(1)), 0);
	int64_t count = -1;
	cr_assert_eq(sh_query_delete(q, &count), 0, "%s", sh_error_last()->message);
	cr_assert_str_eq(log_text(),
		"pre_init t.B args=[1, 1, 'b1'] kwargs={}\n"
		"post_init t.B pk=1\n"
		"pre_init t.B args=[2, 1, 'b2'] kwargs={}\n"
		"post_init t.B pk=2\n"
		"pre_init t.C args=[1, 1, 'c1'] kwargs={}\n"
		"post_init t.C pk=1\n"
		"pre_init t.C args=[2, 2, 'c2'] kwargs={}\n"
		"post_init t.C pk=2\n"
		"pre_init t.C args=[3, 2, 'c3'] kwargs={}\n"
		"post_init t.C pk=3\n"
		"pre_delete t.C pk=1 using=default origin=qs:t.B\n"
		"pre_delete t.C pk=2 using=default origin=qs:t.B\n"
		"pre_delete t.C pk=3 using=default origin=qs:t.B\n"
		"pre_delete t.B pk=1 using=default origin=qs:t.B\n"
		"pre_delete t.B pk=2 using=default origin=qs:t.B\n"
		"post_delete t.C pk=3 using=default origin=qs:t.B\n"
		"post_delete t.C pk=2 using=default origin=qs:t.B\n"
		"post_delete t.C pk=1 using=default origin=qs:t.B\n"
		"post_delete t.B pk=2 using=default origin=qs:t.B\n"
		"post_delete t.B pk=1 using=default origin=qs:t.B\n");
	cr_assert_eq(count, 5);
	cr_assert_eq(rows_of("t.A"), 2);
	cr_assert_eq(rows_of("t.B"), 1);
	cr_assert_eq(rows_of("t.C"), 1);
	sh_query_free(q);
	free_chain(&c);
}

Test(query_delete, empty_query_sends_nothing)
{
	chain c = make_chain();
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, fx_model("t.B")), 0);
	cr_assert_eq(sh_query_filter(q, "name", T("no such")), 0);
	int64_t count = -1;
	cr_assert_eq(sh_query_delete(q, &count), 0);
	cr_assert_eq(count, 0);
	cr_assert_str_eq(log_text(), "");
	sh_query_free(q);
	free_chain(&c);
}

Test(query_delete, protect_refuses_a_queryset_delete_too)
{
	chain c = make_chain();
	sh_instance *p1 = SAVED("t.P", FV("b", I(3)), FV("name", T("p1")));
	log_clear();
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, fx_model("t.A")), 0);
	cr_assert_eq(sh_query_delete(q, NULL), SH_EPROTECTED);
	cr_assert_eq(log_count("pre_delete"), 0);
	cr_assert_eq(rows_of("t.A"), 2);
	cr_assert_eq(rows_of("t.C"), 4);
	sh_query_free(q);
	sh_instance_free(p1);
	free_chain(&c);
}
