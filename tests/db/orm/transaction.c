/*
 * transaction.c: atomic blocks (db.h): nesting with savepoints, rollback of
 * an inner block only, set_rollback, status passthrough, deferred foreign
 * keys at COMMIT, blocks marked for rollback by a failed model operation
 * (Django's mark_for_rollback_on_error), and on_commit:
 * runs after the outermost commit in registration order, is discarded
 * (discard called) with the block that registered it, runs at once
 * outside any block.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "support.h"

TestSuite(atomic, .init = fx_setup, .fini = fx_teardown);
TestSuite(on_commit, .init = fx_setup, .fini = fx_teardown);

static int64_t tags(void)
{
	return sql_int("SELECT count(*) FROM shop_tag");
}

static void add_tag(const char *name)
{
	sh_instance *t = MAKE("shop.Tag", FV("name", T(name)));
	sh_instance_free(t);
}

Test(atomic, depth_counts_nested_blocks)
{
	cr_assert_eq(sh_atomic_depth(fx.db), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_atomic_depth(fx.db), 2);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(sh_atomic_depth(fx.db), 1);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(sh_atomic_depth(fx.db), 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), SH_EINVAL, "no block open");
}

Test(atomic, outer_commit_keeps_rows_and_other_connections_see_them_only_then)
{
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	add_tag("a");
	sqlite3 *other;
	cr_assert_eq(sqlite3_open(fx.path, &other), SQLITE_OK);
	sqlite3_stmt *stmt;
	cr_assert_eq(sqlite3_prepare_v2(other, "SELECT count(*) FROM shop_tag", -1, &stmt, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW);
	cr_assert_eq(sqlite3_column_int(stmt, 0), 0, "uncommitted row visible elsewhere");
	sqlite3_reset(stmt);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW);
	cr_assert_eq(sqlite3_column_int(stmt, 0), 1);
	sqlite3_finalize(stmt);
	sqlite3_close(other);
}

Test(atomic, failing_status_rolls_back_and_is_returned)
{
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	add_tag("a");
	cr_assert_eq(sh_atomic_end(fx.db, -4242), -4242);
	cr_assert_eq(tags(), 0);
	cr_assert_eq(sh_atomic_depth(fx.db), 0);
}

Test(atomic, inner_rollback_keeps_the_outer_work)
{
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	add_tag("outer");
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	add_tag("inner");
	cr_assert_eq(tags(), 2);
	cr_assert_eq(sh_atomic_end(fx.db, SH_ERROR), SH_ERROR);
	cr_assert_eq(tags(), 1);
	add_tag("after");
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(tags(), 2);
	cr_assert_str_eq(sql_text("SELECT group_concat(name, ',') FROM (SELECT name FROM shop_tag ORDER BY id)"),
		"outer,after");
}

Test(atomic, outer_rollback_drops_committed_inner_blocks)
{
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	add_tag("inner");
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(sh_atomic_end(fx.db, SH_ERROR), SH_ERROR);
	cr_assert_eq(tags(), 0);
}

Test(atomic, set_rollback_rolls_back_quietly)
{
	cr_assert_eq(sh_atomic_set_rollback(fx.db), SH_EINVAL, "outside a block");
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	add_tag("kept");
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	add_tag("dropped");
	cr_assert_eq(sh_atomic_set_rollback(fx.db), 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0, "a marked block ends with 0");
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(tags(), 1);
}

Test(atomic, deep_nesting)
{
	for (int i = 0; i < 20; i++)
		cr_assert_eq(sh_atomic_begin(fx.db), 0);
	add_tag("deep");
	for (int i = 0; i < 19; i++)
		cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(sh_atomic_end(fx.db, SH_ERROR), SH_ERROR);
	cr_assert_eq(tags(), 0);
}

Test(atomic, deferred_foreign_key_fails_the_commit)
{
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sqlite3_exec(sh_conn_sqlite(fx.db),
		"INSERT INTO shop_lock (owner_id) VALUES (999)", NULL, NULL, NULL), SQLITE_OK);
	int rc = sh_atomic_end(fx.db, 0);
	cr_assert_eq(rc, SH_EINTEGRITY, "%d %s", rc, last_message());
	cr_assert_eq(sh_atomic_depth(fx.db), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_lock"), 0, "rolled back");
	/* the connection is usable again */
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
}

Test(atomic, deferred_foreign_key_of_a_raw_write_fails_even_a_nested_commit_at_the_end)
{
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sqlite3_exec(sh_conn_sqlite(fx.db),
		"INSERT INTO shop_lock (owner_id) VALUES (999)", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0, "a RELEASE does not check deferred keys");
	int rc = sh_atomic_end(fx.db, 0);
	cr_assert_eq(rc, SH_EINTEGRITY, "%d %s", rc, last_message());
	cr_assert(strstr(last_message(), "FOREIGN KEY") != NULL, "%s", last_message());
}

Test(atomic, a_failed_query_update_marks_the_block)
{
	sh_instance *o = MAKE("shop.Owner", FV("name", T("o")));
	sh_instance *l = MAKE("shop.Lock", FV("owner", I(1)));
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	add_tag("in block");
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, M("shop.Lock")), 0);
	sh_field_value v[] = { FV("owner", I(77)) };
	int64_t n = -1;
	cr_assert_eq(sh_query_update(q, v, 1, &n), SH_EINTEGRITY);
	cr_assert(strstr(last_message(), "shop.Lock.owner") != NULL, "%s", last_message());
	cr_assert_eq(n, 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), SH_EINTEGRITY);
	cr_assert_eq(tags(), 0);
	cr_assert_eq(sql_int("SELECT owner_id FROM shop_lock"), 1);
	sh_query_free(q);
	sh_instance_free(l);
	sh_instance_free(o);
}

/* A post_save receiver whose own save fails and who ignores it: the
 * failure marked the outer save's own transaction, so that save fails too. */
static int save_a_duplicate_and_ignore_it(sh_signal *signal, const sh_sender *sender,
	const void *args, void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	sh_instance *dup = NULL;
	sh_field_value v[] = { FV("name", T("taken")) };
	if (sh_instance_new(&dup, fx.db, M("shop.Owner"), v, 1) == 0)
		(void)sh_instance_save(dup, NULL);   /* SH_EINTEGRITY, ignored */
	sh_instance_free(dup);
	return 0;
}

Test(atomic, a_failure_a_receiver_ignores_still_rolls_back_the_operation)
{
	sh_instance *o = MAKE("shop.Owner", FV("name", T("taken")));
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = sh_model_sender(M("shop.Tag"));
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_SAVE),
		save_a_duplicate_and_ignore_it, NULL, &opts), 0);
	sh_instance *t = NULL;
	sh_field_value v[] = { FV("name", T("t")) };
	cr_assert_eq(sh_instance_new(&t, fx.db, M("shop.Tag"), v, 1), 0);
	cr_assert_eq(sh_instance_save(t, NULL), SH_EINTEGRITY);
	cr_assert(strstr(last_message(), "rolled back") != NULL, "%s", last_message());
	cr_assert(strstr(last_message(), "shop.Owner.name") != NULL, "%s", last_message());
	cr_assert_eq(sh_instance_pk(t), 0);
	cr_assert_eq(tags(), 0);
	cr_assert_eq(sh_atomic_depth(fx.db), 0);
	sh_instance_free(t);
	sh_instance_free(o);
}

/* ---- on_commit ---- */

static char trail[256];

static void append(void *payload)
{
	strcat(trail, payload);
}

static void discarded(void *payload)
{
	strcat(trail, "~");
	strcat(trail, payload);
}

static void reset(void)
{
	trail[0] = '\0';
}

Test(on_commit, outside_a_block_runs_at_once)
{
	reset();
	cr_assert_eq(sh_on_commit(fx.db, append, "a", discarded), 0);
	cr_assert_str_eq(trail, "a");
}

Test(on_commit, runs_after_the_outermost_commit_in_order)
{
	reset();
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, append, "a", discarded), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, append, "b", discarded), 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_str_eq(trail, "", "not before the outermost commit");
	cr_assert_eq(sh_on_commit(fx.db, append, "c", discarded), 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_str_eq(trail, "abc");
}

Test(on_commit, rolled_back_savepoint_discards_its_callbacks_only)
{
	reset();
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, append, "a", discarded), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, append, "b", discarded), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, append, "c", discarded), 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);          /* c moves to b's block */
	cr_assert_eq(sh_atomic_end(fx.db, SH_ERROR), SH_ERROR);   /* b's block: b and c go */
	cr_assert_str_eq(trail, "~b~c");
	cr_assert_eq(sh_on_commit(fx.db, append, "d", NULL), 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_str_eq(trail, "~b~cad");
}

Test(on_commit, outer_rollback_discards_everything)
{
	reset();
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, append, "a", discarded), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, append, "b", NULL), 0);   /* no discard: nothing called */
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(sh_atomic_set_rollback(fx.db), 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_str_eq(trail, "~a");
}

static sh_conn *reentrant_db;

static void register_more(void *payload)
{
	strcat(trail, payload);
	/* at depth 0 again: runs at once */
	sh_on_commit(reentrant_db, append, "+", NULL);
	if (sh_atomic_begin(reentrant_db) == 0) {
		sh_on_commit(reentrant_db, append, "n", NULL);
		sh_atomic_end(reentrant_db, 0);
	}
}

Test(on_commit, callbacks_may_register_more_and_open_blocks)
{
	reset();
	reentrant_db = fx.db;
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, register_more, "a", NULL), 0);
	cr_assert_eq(sh_on_commit(fx.db, append, "b", NULL), 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_str_eq(trail, "a+nb");
	cr_assert_eq(sh_atomic_depth(fx.db), 0);
}

/* A post_save receiver that sends "mail" only once the row is committed. */
static int mail_on_commit(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	return sh_on_commit(fx.db, append, "mail", discarded);
}

Test(on_commit, post_save_receiver_mail_waits_for_commit_and_is_dropped_on_rollback)
{
	reset();
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = sh_model_sender(M("shop.Tag"));
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_SAVE), mail_on_commit,
		NULL, &opts), 0);
	add_tag("alone");   /* the save's own block is the outermost: mail after it */
	cr_assert_str_eq(trail, "mail");
	reset();
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	add_tag("inside");
	cr_assert_str_eq(trail, "");
	cr_assert_eq(sh_atomic_end(fx.db, SH_ERROR), SH_ERROR);
	cr_assert_str_eq(trail, "~mail");
	cr_assert_eq(tags(), 1);
}

Test(on_commit, null_arguments)
{
	cr_assert_eq(sh_on_commit(NULL, append, "a", NULL), SH_EINVAL);
	cr_assert_eq(sh_on_commit(fx.db, NULL, "a", NULL), SH_EINVAL);
	cr_assert_eq(sh_atomic_begin(NULL), SH_EINVAL);
	cr_assert_eq(sh_atomic_depth(NULL), 0);
}
