/*
 * delete.c: the collector: cascades over two levels with Django's signal
 * order and origin, counts, pk cleared; PROTECT and RESTRICT refusals
 * naming the blocking rows (RESTRICT allowed when the same delete cascades
 * to the rows); SET_NULL; join rows deleted without signals; fast deletes
 * without loading; rollback on a failing receiver, and inside a block the
 * block marked for rollback; queryset deletes; origin_model.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "support.h"

TestSuite(delete, .init = fx_setup, .fini = fx_teardown);

#define COUNT(table) sql_int("SELECT count(*) FROM " table)

typedef struct tree {
	sh_instance *owner, *a1, *a2, *c1, *c2, *c3, *r1;
} tree;

/* owner 1 -> alerts 1, 2; alert 1 -> comments 1, 2; alert 2 -> comment 3;
 * comment 2 -> reply 1 */
static tree grow(void)
{
	tree t;
	t.owner = MAKE("shop.Owner", FV("name", T("ann")));
	t.a1 = MAKE("shop.Alert", FV("content", T("a1")), FV("owner", I(1)));
	t.a2 = MAKE("shop.Alert", FV("content", T("a2")), FV("owner", I(1)));
	t.c1 = MAKE("shop.Comment", FV("alert", I(1)), FV("body", T("c1")));
	t.c2 = MAKE("shop.Comment", FV("alert", I(1)), FV("body", T("c2")));
	t.c3 = MAKE("shop.Comment", FV("alert", I(2)), FV("body", T("c3")));
	t.r1 = MAKE("shop.Reply", FV("comment", I(2)), FV("body", T("r1")));
	return t;
}

static void cut(tree *t)
{
	sh_instance *all[] = { t->owner, t->a1, t->a2, t->c1, t->c2, t->c3, t->r1 };
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		sh_instance_free(all[i]);
}

static const char *only(const char *prefix1, const char *prefix2)
{
	static char out[8192];
	out[0] = '\0';
	for (const char *p = log_text(); *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (strncmp(p, prefix1, strlen(prefix1)) == 0 || strncmp(p, prefix2, strlen(prefix2)) == 0)
			strncat(out, p, n);
		p += n;
	}
	return out;
}

Test(delete, cascade_over_two_levels_in_djangos_order)
{
	tree t = grow();
	rec_connect();
	log_clear();
	int64_t count = -1;
	cr_assert_eq(sh_instance_delete(t.owner, &count), 0, "%s", last_message());
	cr_assert_eq(count, 7);
	cr_assert_eq(COUNT("shop_owner") + COUNT("shop_alert") + COUNT("shop_comment") + COUNT("shop_reply"), 0);
	/* pre_delete: dependents first, each model's rows by pk; post_delete:
	 * model by model in the same order, rows in reverse pk order */
	cr_assert_str_eq(only("pre_delete", "post_delete"),
		"pre_delete shop.Reply shop.Reply:1 origin=shop.Owner:1\n"
		"pre_delete shop.Comment shop.Comment:1 origin=shop.Owner:1\n"
		"pre_delete shop.Comment shop.Comment:2 origin=shop.Owner:1\n"
		"pre_delete shop.Comment shop.Comment:3 origin=shop.Owner:1\n"
		"pre_delete shop.Alert shop.Alert:1 origin=shop.Owner:1\n"
		"pre_delete shop.Alert shop.Alert:2 origin=shop.Owner:1\n"
		"pre_delete shop.Owner shop.Owner:1 origin=shop.Owner:1\n"
		"post_delete shop.Reply shop.Reply:1 origin=shop.Owner:1\n"
		"post_delete shop.Comment shop.Comment:3 origin=shop.Owner:1\n"
		"post_delete shop.Comment shop.Comment:2 origin=shop.Owner:1\n"
		"post_delete shop.Comment shop.Comment:1 origin=shop.Owner:1\n"
		"post_delete shop.Alert shop.Alert:2 origin=shop.Owner:1\n"
		"post_delete shop.Alert shop.Alert:1 origin=shop.Owner:1\n"
		"post_delete shop.Owner shop.Owner:1 origin=shop.Owner:1\n", "%s", log_text());
	/* (the pks are cleared after the last post_delete, as Django's) */
	/* the cascaded rows were loaded: pre_init/post_init for each */
	cr_assert_eq(log_count("post_init shop.Alert"), 2);
	cr_assert_eq(log_count("post_init shop.Comment"), 3);
	cr_assert_eq(log_count("post_init shop.Reply"), 1);
	/* Django sets the pk to None */
	cr_assert_eq(sh_instance_pk(t.owner), 0);
	sh_datum d;
	cr_assert_eq(sh_instance_get(t.owner, "name", &d), 0);
	cr_assert_str_eq(d.v.s, "ann", "the values stay");
	cut(&t);
}

Test(delete, without_receivers_leaves_are_fast_deleted_unloaded)
{
	tree t = grow();
	/* a receiver of post_init only: the collector loads what it must,
	 * and Reply (nothing points at it, no delete receiver) is never loaded */
	static int code = -5;
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_INIT),
		fail_with, &code, NULL), 0);
	int64_t count = 0;
	int rc = sh_instance_delete(t.c2, &count);
	cr_assert_eq(rc, 0, "no row loaded, so the failing post_init never ran: %s", last_message());
	cr_assert_eq(count, 2);
	cr_assert_eq(COUNT("shop_reply"), 0);
	cr_assert_eq(COUNT("shop_comment"), 2);
	cut(&t);
}

Test(delete, failing_receiver_rolls_everything_back)
{
	tree t = grow();
	static int code = -33;
	connect_failing(SH_POST_DELETE, "shop.Owner", &code);   /* the very last send */
	int64_t count = -1;
	cr_assert_eq(sh_instance_delete(t.owner, &count), -33);
	cr_assert_eq(count, 0);
	cr_assert_eq(COUNT("shop_owner"), 1);
	cr_assert_eq(COUNT("shop_alert"), 2);
	cr_assert_eq(COUNT("shop_comment"), 3);
	cr_assert_eq(COUNT("shop_reply"), 1);
	cr_assert_eq(sh_instance_pk(t.owner), 1, "the pk stays on failure");
	cut(&t);
}

Test(delete, protect_refuses_naming_the_blocking_rows)
{
	tree t = grow();
	sh_instance *l1 = MAKE("shop.Lock", FV("owner", I(1)));
	sh_instance *l2 = MAKE("shop.Lock", FV("owner", I(1)));
	rec_connect();
	log_clear();
	cr_assert_eq(sh_instance_delete(t.owner, NULL), SH_EPROTECTED);
	const char *msg = last_message();
	cr_assert(strstr(msg, "shop.Lock pk=1 protects shop.Owner pk=1") != NULL, "%s", msg);
	cr_assert(strstr(msg, "shop.Lock pk=2") != NULL, "%s", msg);
	cr_assert(strstr(msg, "PROTECT key shop.Lock.owner") != NULL, "%s", msg);
	cr_assert_eq(log_count("pre_delete"), 0, "refused before any signal of the delete");
	cr_assert_eq(COUNT("shop_owner"), 1);
	cr_assert_eq(COUNT("shop_alert"), 2);
	cr_assert_eq(sh_instance_pk(t.owner), 1);
	/* once the locks are gone it works */
	cr_assert_eq(sh_instance_delete(l1, NULL), 0);
	cr_assert_eq(sh_instance_delete(l2, NULL), 0);
	cr_assert_eq(sh_instance_delete(t.owner, NULL), 0);
	sh_instance_free(l1);
	sh_instance_free(l2);
	cut(&t);
}

Test(delete, restrict_is_allowed_only_through_a_cascade_of_the_same_delete)
{
	sh_instance *artist = MAKE("shop.Artist", FV("name", T("x")));
	sh_instance *album = MAKE("shop.Album", FV("artist", I(1)));
	sh_instance *song = MAKE("shop.Song", FV("artist", I(1)), FV("album", I(1)));
	/* the album alone: its song restricts it */
	cr_assert_eq(sh_instance_delete(album, NULL), SH_EPROTECTED);
	cr_assert(strstr(last_message(), "shop.Song pk=1 protects shop.Album pk=1 through the RESTRICT key shop.Song.album") != NULL,
		"%s", last_message());
	cr_assert_eq(COUNT("shop_album"), 1);
	/* the artist: the song goes by the artist's cascade too, so it may */
	rec_connect();
	int64_t count = 0;
	cr_assert_eq(sh_instance_delete(artist, &count), 0, "%s", last_message());
	cr_assert_eq(count, 3);
	cr_assert_eq(COUNT("shop_song") + COUNT("shop_album") + COUNT("shop_artist"), 0);
	cr_assert_str_eq(only("pre_delete", "post_delete"),
		"pre_delete shop.Song shop.Song:1 origin=shop.Artist:1\n"
		"pre_delete shop.Album shop.Album:1 origin=shop.Artist:1\n"
		"pre_delete shop.Artist shop.Artist:1 origin=shop.Artist:1\n"
		"post_delete shop.Song shop.Song:1 origin=shop.Artist:1\n"
		"post_delete shop.Album shop.Album:1 origin=shop.Artist:1\n"
		"post_delete shop.Artist shop.Artist:1 origin=shop.Artist:1\n");
	sh_instance_free(artist);
	sh_instance_free(album);
	sh_instance_free(song);
}

Test(delete, restrict_with_fast_deleted_rows)
{
	/* no receivers: Song (nothing points at it) is fast-deleted through the
	 * artist's cascade, and that still clears the album's restriction */
	sh_instance *artist = MAKE("shop.Artist", FV("name", T("x")));
	sh_instance *album = MAKE("shop.Album", FV("artist", I(1)));
	sh_instance *song = MAKE("shop.Song", FV("artist", I(1)), FV("album", I(1)));
	int64_t count = 0;
	cr_assert_eq(sh_instance_delete(artist, &count), 0, "%s", last_message());
	cr_assert_eq(count, 3);
	sh_instance_free(artist);
	sh_instance_free(album);
	sh_instance_free(song);
}

Test(delete, set_null_updates_the_key_without_loading)
{
	tree t = grow();
	sh_instance *n1 = MAKE("shop.Note", FV("alert", I(1)), FV("body", T("n1")));
	sh_instance *n2 = MAKE("shop.Note", FV("alert", I(2)), FV("body", T("n2")));
	rec_connect();
	log_clear();
	cr_assert_eq(sh_instance_delete(t.a1, NULL), 0, "%s", last_message());
	cr_assert_eq(COUNT("shop_note"), 2);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_note WHERE alert_id IS NULL"), 1);
	cr_assert_eq(sql_int("SELECT alert_id FROM shop_note WHERE id = 2"), 2);
	cr_assert_eq(log_count("post_init shop.Note"), 0, "Django 4.2: SET_NULL rows are not loaded");
	cr_assert_eq(log_count("pre_save"), 0);
	sh_instance_free(n1);
	sh_instance_free(n2);
	cut(&t);
}

Test(delete, join_rows_go_without_signals_and_are_not_counted)
{
	sh_instance *owner = MAKE("shop.Owner", FV("name", T("ann")));
	sh_instance *a = MAKE("shop.Alert", FV("content", T("a")), FV("owner", I(1)));
	sh_instance *tag = MAKE("shop.Tag", FV("name", T("t")));
	cr_assert_eq(sh_m2m_add(a, "tags", (int64_t[]){ 1 }, 1), 0);
	rec_connect();
	log_clear();
	int64_t count = 0;
	cr_assert_eq(sh_instance_delete(tag, &count), 0, "%s", last_message());
	cr_assert_eq(count, 1);
	cr_assert_eq(COUNT("shop_alert_tags"), 0);
	cr_assert_str_eq(log_text(),
		"pre_delete shop.Tag shop.Tag:1 origin=shop.Tag:1\n"
		"post_delete shop.Tag shop.Tag:1 origin=shop.Tag:1\n");
	cr_assert_eq(COUNT("shop_alert"), 1);
	sh_instance_free(owner);
	sh_instance_free(a);
	sh_instance_free(tag);
}

Test(delete, query_delete_uses_the_collector_with_origin_model)
{
	tree t = grow();
	rec_connect();
	log_clear();
	sh_query *q;
	cr_assert_eq(sh_query_new(&q, fx.db, M("shop.Alert")), 0);
	cr_assert_eq(sh_query_filter(q, "content", T("a2")), 0);
	int64_t count = 0;
	cr_assert_eq(sh_query_delete(q, &count), 0, "%s", last_message());
	cr_assert_eq(count, 2);
	cr_assert_str_eq(only("pre_delete", "post_delete"),
		"pre_delete shop.Comment shop.Comment:3 origin=shop.Alert\n"
		"pre_delete shop.Alert shop.Alert:2 origin=shop.Alert\n"
		"post_delete shop.Comment shop.Comment:3 origin=shop.Alert\n"
		"post_delete shop.Alert shop.Alert:2 origin=shop.Alert\n");
	sh_query_free(q);
	cr_assert_eq(sh_query_new(&q, fx.db, M("shop.Alert")), 0);
	cr_assert_eq(sh_query_slice(q, 0, 1), 0);
	cr_assert_eq(sh_query_delete(q, NULL), SH_EINVAL, "no delete of a slice");
	sh_query_free(q);
	cut(&t);
}

Test(delete, query_delete_without_receivers_or_relations_is_one_statement)
{
	for (int i = 0; i < 5; i++) {
		sh_instance *tag = MAKE("shop.Tag", FV("name", T("t")));
		sh_instance_free(tag);
	}
	static int code = -5;
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_INIT), fail_with,
		&code, NULL), 0);
	/* Tag is pointed at by the join model: it cannot be fast-deleted... */
	sh_query *q;
	cr_assert_eq(sh_query_new(&q, fx.db, M("shop.Tag")), 0);
	cr_assert_eq(sh_query_delete(q, NULL), -5, "rows loaded, post_init failed");
	sh_query_free(q);
	cr_assert_eq(COUNT("shop_tag"), 5);
	/* ...but Reply can: no row is loaded */
	cr_assert_eq(sqlite3_exec(sh_conn_sqlite(fx.db), "INSERT INTO shop_owner (name) VALUES ('o');"
		"INSERT INTO shop_alert (content, owner_id, level, active, created) VALUES ('a', 1, 1, 1, 'x');"
		"INSERT INTO shop_comment (alert_id, body) VALUES (1, 'c');"
		"INSERT INTO shop_reply (comment_id, body) VALUES (1, 'r'), (1, 's');", NULL, NULL, NULL),
		SQLITE_OK);
	cr_assert_eq(sh_query_new(&q, fx.db, M("shop.Reply")), 0);
	cr_assert_eq(sh_query_filter(q, "body", T("r")), 0);
	int64_t count = 0;
	cr_assert_eq(sh_query_delete(q, &count), 0, "%s", last_message());
	cr_assert_eq(count, 1);
	cr_assert_eq(COUNT("shop_reply"), 1);
	sh_query_free(q);
}

Test(delete, unsaved_instance_is_einval_and_sends_nothing)
{
	sh_instance *tag = NULL;
	cr_assert_eq(sh_instance_new(&tag, fx.db, M("shop.Tag"), NULL, 0), 0);
	rec_connect();
	log_clear();
	int64_t count = 5;
	cr_assert_eq(sh_instance_delete(tag, &count), SH_EINVAL);
	cr_assert(strstr(last_message(), "no primary key") != NULL, "%s", last_message());
	cr_assert_eq(count, 0);
	cr_assert_str_eq(log_text(), "", "nothing is sent");
	/* nor inside a block, which it leaves alone */
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_instance_delete(tag, NULL), SH_EINVAL);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_str_eq(log_text(), "");
	sh_instance_free(tag);
}

static const sh_model *seen_origin_model[2];
static const sh_instance *seen_origin[2];

static int note_origin(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response;
	const sh_delete_args *a = args;
	seen_origin_model[payload != NULL] = a->origin_model;
	seen_origin[payload != NULL] = a->origin;
	return 0;
}

Test(delete, origin_model_is_the_origins_model)
{
	tree t = grow();
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_PRE_DELETE), note_origin,
		NULL, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_DELETE), note_origin,
		(void *)1, NULL), 0);
	/* an instance delete: origin the instance, origin_model its model,
	 * also in the sends for the cascaded rows of other models */
	cr_assert_eq(sh_instance_delete(t.c2, NULL), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(seen_origin[i], t.c2);
		cr_assert_eq(seen_origin_model[i], M("shop.Comment"));
	}
	/* a queryset delete: origin NULL, origin_model the query's model */
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, M("shop.Alert")), 0);
	cr_assert_eq(sh_query_delete(q, NULL), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_null(seen_origin[i]);
		cr_assert_eq(seen_origin_model[i], M("shop.Alert"));
	}
	sh_query_free(q);
	cut(&t);
}

Test(delete, inside_a_block_a_failure_marks_it_and_a_refusal_does_not)
{
	tree t = grow();
	sh_instance *lock = MAKE("shop.Lock", FV("owner", I(1)));
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_instance_delete(t.owner, NULL), SH_EPROTECTED);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0, "refused while collecting: the block commits");
	static int code = -34;
	connect_failing(SH_POST_DELETE, "shop.Alert", &code);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *tag = MAKE("shop.Tag", FV("name", T("in block")));
	cr_assert_eq(sh_instance_delete(t.a1, NULL), -34);
	cr_assert_eq(sh_instance_pk(t.a1), 1, "the pk stays");
	cr_assert_eq(sh_atomic_end(fx.db, 0), -34, "the block reports the failed delete");
	cr_assert_eq(COUNT("shop_alert"), 2);
	cr_assert_eq(COUNT("shop_comment"), 3);
	cr_assert_eq(COUNT("shop_tag"), 0, "the block's other work went too");
	sh_instance_free(tag);
	sh_instance_free(lock);
	cut(&t);
}

Test(delete, deleted_instance_can_be_saved_again_as_new)
{
	sh_instance *tag = MAKE("shop.Tag", FV("name", T("t")));
	cr_assert_eq(sh_instance_delete(tag, NULL), 0);
	cr_assert_eq(sh_instance_delete(tag, NULL), SH_EINVAL, "no pk any more");
	cr_assert_eq(sh_instance_save(tag, NULL), 0);
	cr_assert_eq(sh_instance_pk(tag), 2);
	cr_assert_eq(COUNT("shop_tag"), 1);
	sh_instance_free(tag);
}

/* A chain of `depth` shop.Node rows, each the child of the one before,
 * built in one SQL statement (the collector is what is under test). */
static void chain(int depth)
{
	char sql[400];
	snprintf(sql, sizeof sql, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
		"WHERE i < %d) INSERT INTO shop_node (id, parent_id) SELECT i, "
		"CASE WHEN i = 1 THEN NULL ELSE i - 1 END FROM n", depth);
	char *err = NULL;
	cr_assert_eq(sqlite3_exec(sh_conn_sqlite(fx.db), sql, NULL, NULL, &err), SQLITE_OK, "%s", err);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_node"), depth);
}

Test(delete, cascade_through_a_100000_level_self_reference_chain, .timeout = 300)
{
	/* The recursive collector took two stack frames per level and died
	 * of a stack overflow near 50,000 levels. */
	chain(100000);
	sh_instance *head = NULL;
	cr_assert_eq(sh_query_get(&head, fx.db, M("shop.Node"), 1), 0, "%s", last_message());
	int64_t count = -1;
	cr_assert_eq(sh_instance_delete(head, &count), 0, "%s", last_message());
	cr_assert_eq(count, 100000);
	cr_assert_eq(COUNT("shop_node"), 0);
	sh_instance_free(head);
}

Test(delete, a_cascade_past_max_delete_rows_is_refused_before_anything_is_written)
{
	chain(50);
	cr_assert_eq(sh_database_set_max_delete_rows(fx.database, 20), 0);
	sh_instance *head = NULL;
	cr_assert_eq(sh_query_get(&head, fx.db, M("shop.Node"), 1), 0, "%s", last_message());
	rec_connect();
	log_clear();
	cr_assert_eq(sh_instance_delete(head, NULL), SH_EINVAL);
	cr_assert_not_null(strstr(last_message(), "max_delete_rows"), "%s", last_message());
	cr_assert_eq(COUNT("shop_node"), 50);
	cr_assert_eq(log_count("pre_delete"), 0);
	sh_instance_free(head);
}
