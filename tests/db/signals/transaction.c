/*
 * transaction.c: atomic blocks, savepoints and on_commit, as model signal
 * receivers meet them.
 *
 * Django's behaviour (django/db/transaction.py, Atomic; django/db/backends/
 * base/base.py, on_commit, savepoint_rollback, run_and_clear_commit_hooks):
 * - atomic() at the outermost level opens a transaction; nested, a
 *   savepoint. An inner block that fails rolls back to its savepoint only:
 *   what the outer block wrote before and after stays and commits.
 * - on_commit(func) inside a block appends (the set of open savepoint ids,
 *   func) to run_on_commit; outside any block in autocommit mode it calls
 *   func at once.
 * - A savepoint rollback drops every callback registered while that
 *   savepoint was open (the others stay); a rollback of the outermost
 *   block drops them all. Callbacks of a released (committed) savepoint
 *   stay and wait for the outermost commit.
 * - After the outermost COMMIT, run_and_clear_commit_hooks runs the
 *   callbacks in registration order, with no atomic block open any more.
 * - Signals are sent where the operation happens: post_save runs inside
 *   the caller's transaction, right after the write; a post_save receiver
 *   that wants to act only once the row is committed (send the e-mail)
 *   registers an on_commit callback, which then runs after the outermost
 *   commit, or never if the block rolls back.
 * - Django has no "discard" callback; sighost's sh_on_commit() adds one,
 *   called instead of fn when the registration is dropped (db.h).
 * - Model operations inside a block open no savepoint (save_base uses
 *   mark_for_rollback_on_error; delete, bulk_create and the m2m changes
 *   atomic(savepoint=False)): when one fails, the innermost block is
 *   marked for rollback (needs_rollback) and rolls back when it exits.
 *   Django's advice to go on after a failure: wrap the operation in an
 *   atomic block of its own.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(atomic, .init = fx_setup, .fini = fx_teardown);
TestSuite(on_commit, .init = fx_setup, .fini = fx_teardown);

static int64_t authors_named(const char *name)
{
	return sql_int("SELECT count(*) FROM t_author WHERE name = '%s'", name);
}

/* ---- atomic ------------------------------------------------------------ */

Test(atomic, inner_rollback_keeps_the_outer_writes)
{
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *outer = SAVED("t.Author", FV("name", T("outer")));
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_atomic_depth(fx.db), 2);
	sh_instance *inner = SAVED("t.Author", FV("name", T("inner")));
	cr_assert_eq(sh_atomic_end(fx.db, -5), -5, "end returns the failing status");
	cr_assert_eq(sh_atomic_depth(fx.db), 1);
	sh_instance *after = SAVED("t.Author", FV("name", T("after")));
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(sh_atomic_depth(fx.db), 0);

	cr_assert_eq(authors_named("outer"), 1);
	cr_assert_eq(authors_named("inner"), 0, "the inner block was rolled back");
	cr_assert_eq(authors_named("after"), 1);
	/* The signals were sent when the writes happened, rollback or not. */
	cr_assert_eq(log_count("post_save t.Author"), 3, "%s", log_text());
	sh_instance_free(outer);
	sh_instance_free(inner);
	sh_instance_free(after);
}

Test(atomic, outer_rollback_drops_everything)
{
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *a = SAVED("t.Author", FV("name", T("a")));
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *b = SAVED("t.Author", FV("name", T("b")));
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(sh_atomic_end(fx.db, -1), -1);
	cr_assert_eq(rows_of("t.Author"), 0);
	sh_instance_free(a);
	sh_instance_free(b);
}

Test(atomic, set_rollback_rolls_back_with_status_zero)
{
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *a = SAVED("t.Author", FV("name", T("a")));
	cr_assert_eq(sh_atomic_set_rollback(fx.db), 0);
	sh_atomic_end(fx.db, 0);
	cr_assert_eq(sh_atomic_depth(fx.db), 0);
	cr_assert_eq(rows_of("t.Author"), 0);
	sh_instance_free(a);
}

/* A post_save receiver sees the transaction open: it runs right after the
 * write, inside the caller's block. */
static int depth_in_post_save = -1;

static int note_depth(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_post_save_args *a = args;
	depth_in_post_save = sh_atomic_depth(sh_instance_conn(a->instance));
	return 0;
}

Test(atomic, post_save_runs_inside_the_callers_block)
{
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_SAVE), note_depth, NULL,
		NULL), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *a = SAVED("t.Author", FV("name", T("a")));
	cr_assert_geq(depth_in_post_save, 1);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	sh_instance_free(a);
}

Test(atomic, failing_post_save_inside_a_block_marks_the_block_for_rollback)
{
	static int code = -41;
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *a = SAVED("t.Author", FV("name", T("earlier")));
	connect_failing(SH_POST_SAVE, "t.Author", &code);
	sh_instance *b = NEW("t.Author", FV("name", T("failing")));
	cr_assert_eq(sh_instance_save(b, NULL), -41);
	cr_assert_eq(sh_atomic_depth(fx.db), 1, "the caller's block is still open");
	cr_assert_eq(sh_atomic_end(fx.db, 0), -41, "and rolls back, reporting the failure");
	cr_assert_eq(authors_named("earlier"), 0);
	cr_assert_eq(authors_named("failing"), 0);
	sh_instance_free(a);
	sh_instance_free(b);
}

Test(atomic, failing_post_save_in_a_block_of_its_own_rolls_back_only_that_save)
{
	static int code = -43;
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *a = SAVED("t.Author", FV("name", T("kept")));
	connect_failing(SH_POST_SAVE, "t.Author", &code);
	sh_instance *b = NEW("t.Author", FV("name", T("dropped")));
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_atomic_end(fx.db, sh_instance_save(b, NULL)), -43);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(authors_named("kept"), 1);
	cr_assert_eq(authors_named("dropped"), 0);
	sh_instance_free(a);
	sh_instance_free(b);
}

Test(atomic, failing_post_delete_inside_a_block_marks_it_and_nothing_stays_deleted)
{
	static int code = -44;
	sh_instance *a1 = SAVED("t.A", FV("name", T("a1")));
	sh_instance *b1 = SAVED("t.B", FV("a", I(1)), FV("name", T("b1")));
	connect_failing(SH_POST_DELETE, "t.B", &code);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_instance_delete(a1, NULL), -44);
	cr_assert_eq(sh_instance_pk(a1), 1, "a failed delete keeps the pk");
	cr_assert_eq(sh_atomic_end(fx.db, 0), -44);
	cr_assert_eq(rows_of("t.A"), 1);
	cr_assert_eq(rows_of("t.B"), 1);
	sh_instance_free(a1);
	sh_instance_free(b1);
}

Test(atomic, delete_inside_a_rolled_back_block_is_undone_but_signals_were_sent)
{
	sh_instance *a1 = SAVED("t.A", FV("name", T("a1")));
	sh_instance *b1 = SAVED("t.B", FV("a", I(1)), FV("name", T("b1")));
	log_clear();
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_instance_delete(a1, NULL), 0);
	cr_assert_eq(sh_atomic_end(fx.db, -1), -1);
	cr_assert_eq(rows_of("t.A"), 1);
	cr_assert_eq(rows_of("t.B"), 1);
	cr_assert_eq(log_count("post_delete"), 2, "%s", log_text());
	sh_instance_free(a1);
	sh_instance_free(b1);
}

/* ---- on_commit ----------------------------------------------------------- */

typedef struct cb {
	const char *name;
	int ran, discarded;
	int depth_when_run;
	int autocommit_when_run;
} cb;

static void run_cb(void *payload)
{
	cb *c = payload;
	c->ran++;
	c->depth_when_run = sh_atomic_depth(fx.db);
	c->autocommit_when_run = sqlite3_get_autocommit(sh_conn_sqlite(fx.db));
	log_note("on_commit %s", c->name);
}

static void discard_cb(void *payload)
{
	cb *c = payload;
	c->discarded++;
	log_note("discard %s", c->name);
}

Test(on_commit, runs_after_the_outermost_commit_in_registration_order)
{
	cb c1 = { "c1", 0, 0, -1, -1 }, c2 = { "c2", 0, 0, -1, -1 }, c3 = { "c3", 0, 0, -1, -1 };
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, run_cb, &c1, discard_cb), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, run_cb, &c2, discard_cb), 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(c2.ran, 0, "a released savepoint does not run its callbacks");
	cr_assert_eq(sh_on_commit(fx.db, run_cb, &c3, discard_cb), 0);
	cr_assert_eq(c1.ran + c2.ran + c3.ran, 0);
	log_note("commit");
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_str_eq(log_text(), "commit\non_commit c1\non_commit c2\non_commit c3\n");
	cr_assert_eq(c1.ran, 1);
	cr_assert_eq(c2.ran, 1);
	cr_assert_eq(c3.ran, 1);
	cr_assert_eq(c1.discarded + c2.discarded + c3.discarded, 0);
	cr_assert_eq(c1.depth_when_run, 0, "run with no block open");
	cr_assert_neq(c1.autocommit_when_run, 0, "run after the COMMIT");
}

Test(on_commit, rollback_drops_the_callbacks_and_discards_them)
{
	cb c1 = { "c1", 0, 0, -1, -1 };
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, run_cb, &c1, discard_cb), 0);
	cr_assert_eq(sh_atomic_end(fx.db, -3), -3);
	cr_assert_eq(c1.ran, 0);
	cr_assert_eq(c1.discarded, 1);
	/* A later commit does not resurrect it. */
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(c1.ran, 0);
	cr_assert_eq(c1.discarded, 1);
}

Test(on_commit, inner_rollback_drops_only_the_inner_callbacks)
{
	cb outer = { "outer", 0, 0, -1, -1 }, inner = { "inner", 0, 0, -1, -1 };
	cb nested = { "nested", 0, 0, -1, -1 };
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, run_cb, &outer, discard_cb), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, run_cb, &inner, discard_cb), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, run_cb, &nested, discard_cb), 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);    /* nested released into inner */
	cr_assert_eq(sh_atomic_end(fx.db, -1), -1);  /* inner rolled back: inner and nested go */
	cr_assert_eq(inner.discarded, 1);
	cr_assert_eq(nested.discarded, 1);
	cr_assert_eq(outer.discarded, 0);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_eq(outer.ran, 1);
	cr_assert_eq(inner.ran, 0);
	cr_assert_eq(nested.ran, 0);
}

Test(on_commit, set_rollback_drops_the_callbacks)
{
	cb c1 = { "c1", 0, 0, -1, -1 };
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, run_cb, &c1, discard_cb), 0);
	cr_assert_eq(sh_atomic_set_rollback(fx.db), 0);
	sh_atomic_end(fx.db, 0);
	cr_assert_eq(c1.ran, 0);
	cr_assert_eq(c1.discarded, 1);
}

Test(on_commit, outside_a_block_runs_at_once)
{
	cb c1 = { "c1", 0, 0, -1, -1 };
	cr_assert_eq(sh_on_commit(fx.db, run_cb, &c1, discard_cb), 0);
	cr_assert_eq(c1.ran, 1, "ran before sh_on_commit returned");
	cr_assert_eq(c1.discarded, 0);
}

Test(on_commit, null_discard_is_allowed_on_rollback)
{
	cb c1 = { "c1", 0, 0, -1, -1 };
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, run_cb, &c1, NULL), 0);
	cr_assert_eq(sh_atomic_end(fx.db, -1), -1);
	cr_assert_eq(c1.ran, 0);
}

/* A post_save receiver that defers its work with on_commit: the e-mail of
 * the running example goes out only once the row is committed. */
static cb mail = { "mail", 0, 0, -1, -1 };
static int64_t rows_committed_when_mailed = -1;

static void send_mail(void *payload)
{
	run_cb(payload);
	rows_committed_when_mailed = sql_int("SELECT count(*) FROM t_author");
}

static int defer_mail(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_post_save_args *a = args;
	log_note("post_save receiver registers on_commit");
	return sh_on_commit(sh_instance_conn(a->instance), send_mail, &mail, discard_cb);
}

static void connect_defer_mail(void)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = sh_model_sender(fx_model("t.Author"));
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_SAVE), defer_mail,
		NULL, &opts), 0);
}

Test(on_commit, post_save_receiver_callback_runs_only_after_commit)
{
	connect_defer_mail();
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")));
	cr_assert_eq(mail.ran, 0, "not while the block is open");
	log_note("commit");
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_str_eq(log_text(),
		"pre_init t.Author args=[] kwargs={'name': 'Ann'}\n"
		"post_init t.Author pk=None\n"
		"pre_save t.Author pk=None raw=False using=default update_fields=None\n"
		"post_save t.Author pk=1 created=True raw=False using=default update_fields=None\n"
		"post_save receiver registers on_commit\n"
		"commit\n"
		"on_commit mail\n");
	cr_assert_eq(mail.ran, 1);
	cr_assert_eq(mail.depth_when_run, 0);
	cr_assert_eq(rows_committed_when_mailed, 1);
	sh_instance_free(a);
}

Test(on_commit, post_save_receiver_callback_never_runs_after_rollback)
{
	connect_defer_mail();
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")));
	cr_assert_eq(sh_atomic_end(fx.db, -9), -9);
	cr_assert_eq(mail.ran, 0);
	cr_assert_eq(mail.discarded, 1);
	cr_assert_eq(rows_of("t.Author"), 0);
	sh_instance_free(a);
}

Test(on_commit, post_save_receiver_callback_outside_a_block_runs_once_the_save_committed)
{
	connect_defer_mail();
	sh_instance *a = SAVED("t.Author", FV("name", T("Ann")));
	cr_assert_eq(mail.ran, 1, "ran by the time save returned");
	cr_assert_eq(mail.depth_when_run, 0, "after the save's own block closed");
	cr_assert_eq(rows_committed_when_mailed, 1, "the row was there");
	cr_assert_neq(mail.autocommit_when_run, 0, "and committed");
	sh_instance_free(a);
}

Test(on_commit, failing_post_save_after_registration_drops_the_callback)
{
	static int code = -42;
	connect_defer_mail();                      /* registers on_commit ... */
	connect_failing(SH_POST_SAVE, "t.Author", &code);   /* ... then the save fails */
	sh_instance *a = NEW("t.Author", FV("name", T("Ann")));
	cr_assert_eq(sh_instance_save(a, NULL), -42);
	cr_assert_eq(mail.ran, 0, "the save was rolled back: no mail");
	cr_assert_eq(mail.discarded, 1);
	cr_assert_eq(rows_of("t.Author"), 0);
	sh_instance_free(a);
}
