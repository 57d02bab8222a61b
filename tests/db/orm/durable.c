/*
 * durable.c: group commit (db.h, host/db/durable.c): with it on, commits
 * of a synchronous=FULL database wait for the sync thread's fdatasync of
 * the write-ahead log, concurrent commits share syncs, on_commit runs
 * after the sync, a statement that commits on its own waits too, and the
 * server's deferral hands the wait and the callbacks to a ticket. Off (the
 * default: commands and migrations), SQLite syncs each commit itself.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "support.h"

/* The shop fixture with group commit on before the first connection. */
static void setup_group(void)
{
	fx_setup_bare();
	cr_assert_eq(sh_database_set_group_commit(fx.database, true), 0);
	cr_assert_eq(sh_database_connection(&fx.db, fx.database), 0, "%s", last_message());
	cr_assert_eq(sh_database_syncdb(fx.db), 0, "%s", last_message());
}

TestSuite(durable, .init = setup_group, .fini = fx_teardown);

/* Saves a Tag named `name` in an atomic block of `db`; asserts success. */
static void save_tag(sh_conn *db, const char *name)
{
	sh_instance *tag = NULL;
	sh_field_value v[] = { FV("name", T(name)) };
	cr_assert_eq(sh_atomic_begin(db), 0, "%s", last_message());
	cr_assert_eq(sh_instance_new(&tag, db, M("shop.Tag"), v, 1), 0, "%s", last_message());
	cr_assert_eq(sh_atomic_end(db, sh_instance_save(tag, NULL)), 0, "%s", last_message());
	sh_instance_free(tag);
}

static unsigned long syncs_seen_by_callback;

static void note_syncs(void *payload)
{
	(void)payload;
	syncs_seen_by_callback = sh_database_syncs(fx.database);
}

Test(durable, a_commit_waits_for_a_sync_and_on_commit_runs_after_it)
{
	cr_assert_eq(sql_int("PRAGMA synchronous"), 1, "group connections commit at NORMAL");
	unsigned long before = sh_database_syncs(fx.database);
	syncs_seen_by_callback = 0;
	sh_instance *tag = NULL;
	sh_field_value v[] = { FV("name", T("red")) };
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, note_syncs, NULL, NULL), 0);
	cr_assert_eq(sh_instance_new(&tag, fx.db, M("shop.Tag"), v, 1), 0);
	cr_assert_eq(sh_atomic_end(fx.db, sh_instance_save(tag, NULL)), 0, "%s", last_message());
	sh_instance_free(tag);
	cr_assert_gt(syncs_seen_by_callback, before, "on_commit ran before the sync of its commit");
	cr_assert_gt(sh_database_syncs(fx.database), before);
}

Test(durable, a_statement_that_commits_on_its_own_waits_for_its_sync)
{
	unsigned long before = sh_database_syncs(fx.database);
	cr_assert_eq(sqlite3_exec(sh_conn_sqlite(fx.db), "INSERT INTO shop_tag (name) VALUES ('raw')",
		NULL, NULL, NULL), SQLITE_OK);
	cr_assert_gt(sh_database_syncs(fx.database), before, "the INSERT returned before a sync");
}

#define WRITERS 4
#define COMMITS 25

static void *writer_main(void *arg)
{
	unsigned index = (unsigned)(uintptr_t)arg;
	sh_conn *db = NULL;
	cr_assert_eq(sh_database_connection(&db, fx.database), 0, "%s", last_message());
	for (unsigned i = 0; i < COMMITS; i++) {
		char name[32];
		snprintf(name, sizeof name, "w%u-%u", index, i);
		save_tag(db, name);
	}
	return NULL;
}

Test(durable, concurrent_writers_share_syncs_and_every_commit_is_there)
{
	unsigned long before = sh_database_syncs(fx.database);
	pthread_t threads[WRITERS];
	for (unsigned i = 0; i < WRITERS; i++)
		cr_assert_eq(pthread_create(&threads[i], NULL, writer_main, (void *)(uintptr_t)i), 0);
	for (unsigned i = 0; i < WRITERS; i++)
		pthread_join(threads[i], NULL);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_tag WHERE name LIKE 'w%'"),
		WRITERS * COMMITS);
	unsigned long syncs = sh_database_syncs(fx.database) - before;
	cr_assert(syncs >= 1 && syncs <= WRITERS * COMMITS, "%lu syncs", syncs);
	cr_log_info("group commit: %d commits of %d threads made durable by %lu syncs",
		WRITERS * COMMITS, WRITERS, syncs);
}

static atomic_bool woken;

static void wake(void *payload)
{
	(void)payload;
	atomic_store(&woken, true);
}

static bool ran;

static void set_ran(void *payload)
{
	*(bool *)payload = true;
}

Test(durable, a_deferred_commit_hands_its_wait_and_on_commit_to_a_ticket)
{
	unsigned long before = sh_database_syncs(fx.database);
	ran = false;
	atomic_store(&woken, false);
	sh_database_defer_begin(fx.database);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, set_ran, &ran, NULL), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_tag"), 0);
	cr_assert_eq(sqlite3_exec(sh_conn_sqlite(fx.db), "INSERT INTO shop_tag (name) VALUES "
		"('deferred')", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0, "%s", last_message());
	cr_assert(!ran, "on_commit ran while the commit was deferred");
	sh_durable *ticket = NULL;
	int rc = sh_database_defer_end(fx.database, &ticket);
	if (rc == 0) {   /* the sync thread was quicker: the callbacks ran */
		cr_assert(ran);
	} else {
		cr_assert_eq(rc, 1, "%s", last_message());
		cr_assert_not_null(ticket);
		cr_assert(!ran);
		sh_durable_notify(ticket, wake, NULL);
		struct timespec nap = { 0, 1000000 };
		for (int i = 0; i < 30000 && !atomic_load(&woken); i++)
			nanosleep(&nap, NULL);
		cr_assert(atomic_load(&woken), "the ticket was not woken within 30 s");
		cr_assert(!ran, "the callbacks run in sh_durable_finish, on its thread");
		cr_assert_eq(sh_durable_finish(ticket), 0, "%s", last_message());
		cr_assert(ran);
	}
	cr_assert_gt(sh_database_syncs(fx.database), before);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_tag WHERE name = 'deferred'"), 1);
	/* outside a deferral, commits wait again */
	before = sh_database_syncs(fx.database);
	save_tag(fx.db, "after");
	cr_assert_gt(sh_database_syncs(fx.database), before);
}

Test(durable, a_ticket_finished_before_its_wake_is_cancelled_and_waits)
{
	sh_database_defer_begin(fx.database);
	save_tag(fx.db, "early");
	sh_durable *ticket = NULL;
	int rc = sh_database_defer_end(fx.database, &ticket);
	cr_assert(rc == 0 || rc == 1, "%s", last_message());
	if (rc == 1) {
		atomic_store(&woken, false);
		cr_assert_eq(sh_durable_finish(ticket), 0, "%s", last_message());   /* never notified */
	}
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_tag WHERE name = 'early'"), 1);
	cr_assert_eq(sh_durable_finish(NULL), 0);
}

Test(durable, without_group_commit_sqlite_syncs_each_commit_itself, .init = fx_setup)
{
	cr_assert_eq(sql_int("PRAGMA synchronous"), 2, "FULL, as before group commit");
	save_tag(fx.db, "plain");
	cr_assert_eq(sh_database_syncs(fx.database), 0, "no sync thread without group commit");
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_tag WHERE name = 'plain'"), 1);
}
