/*
 * connection.c: the database and its connections (db.h): one connection
 * per thread, opened on first use with WAL and foreign keys on, announced
 * with connection_created once each (sender "sqlite"); a failing receiver
 * refuses the connection; accessors; errors.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "support.h"

TestSuite(connection, .init = fx_setup_bare, .fini = fx_teardown);

static int created_count;
static sh_conn *created_last;
static const sh_sender *created_sender;
static pthread_mutex_t created_lock = PTHREAD_MUTEX_INITIALIZER;

static int on_created(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)response, (void)payload;
	const sh_connection_created_args *a = args;
	pthread_mutex_lock(&created_lock);
	created_count++;
	created_last = a->connection;
	created_sender = sender;
	pthread_mutex_unlock(&created_lock);
	return 0;
}

static void connect_created(void)
{
	created_count = 0;
	created_last = NULL;
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_CONNECTION_CREATED),
		on_created, NULL, NULL), 0);
}

Test(connection, first_call_opens_and_announces_once_per_thread)
{
	connect_created();
	sh_conn *a = NULL, *b = NULL;
	cr_assert_eq(sh_database_connection(&a, fx.database), 0);
	cr_assert_eq(sh_database_connection(&b, fx.database), 0);
	cr_assert_eq(a, b, "the same thread gets the same connection");
	cr_assert_eq(created_count, 1);
	cr_assert_eq(created_last, a);
	cr_assert_str_eq(sh_sender_name(created_sender), SH_DB_BACKEND_SENDER);
}

Test(connection, wal_foreign_keys_and_accessors)
{
	sh_conn *db;
	cr_assert_eq(sh_database_connection(&db, fx.database), 0);
	fx.db = db;
	cr_assert_str_eq(sql_text("PRAGMA journal_mode"), "wal");
	cr_assert_eq(sql_int("PRAGMA foreign_keys"), 1);
	cr_assert_gt(sql_int("PRAGMA busy_timeout"), 0);
	cr_assert_eq(sh_conn_database(db), fx.database);
	cr_assert_str_eq(sh_conn_alias(db), "default");
	cr_assert_str_eq(sh_database_path(fx.database), fx.path);
	cr_assert_eq(sh_database_models(fx.database), fx.models);
	cr_assert_not_null(sh_conn_sqlite(db));
}

typedef struct thread_out {
	sh_conn *db;
	int rc;
	int64_t pk;
} thread_out;

static void *thread_main(void *arg)
{
	thread_out *out = arg;
	out->rc = sh_database_connection(&out->db, fx.database);
	if (out->rc == 0) {
		/* the connection works from its own thread */
		sh_instance *owner = NULL;
		char name[32];
		snprintf(name, sizeof name, "t%p", (void *)out);
		sh_field_value v[] = { FV("name", T(name)) };
		out->rc = sh_instance_new(&owner, out->db, M("shop.Owner"), v, 1);
		if (out->rc == 0)
			out->rc = sh_instance_save(owner, NULL);
		out->pk = sh_instance_pk(owner);
		sh_instance_free(owner);
	}
	return NULL;
}

Test(connection, two_threads_get_their_own_connection_each_announced_once)
{
	cr_assert_eq(sh_database_connection(&fx.db, fx.database), 0);
	cr_assert_eq(sh_database_syncdb(fx.db), 0);
	connect_created();
	thread_out outs[2] = { { 0 }, { 0 } };
	pthread_t threads[2];
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&threads[i], NULL, thread_main, &outs[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	cr_assert_eq(outs[0].rc, 0, "%s", last_message());
	cr_assert_eq(outs[1].rc, 0);
	cr_assert_neq(outs[0].db, outs[1].db);
	cr_assert_neq(outs[0].db, fx.db);
	cr_assert_eq(created_count, 2, "connection_created once per thread");
	cr_assert_neq(outs[0].pk, outs[1].pk);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_owner"), 2);
	/* the threads' connections closed when they exited: only ours is left,
	 * and a new thread gets a fresh one */
	thread_out again = { 0 };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, thread_main, &again), 0);
	pthread_join(t, NULL);
	cr_assert_eq(again.rc, 0);
	cr_assert_eq(created_count, 3);
}

static void *thread_connect_only(void *arg)
{
	thread_out *out = arg;
	out->rc = sh_database_connection(&out->db, fx.database);
	return NULL;
}

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void *thread_connect_and_wait(void *arg)
{
	thread_out *out = arg;
	out->rc = sh_database_connection(&out->db, fx.database);
	pthread_mutex_lock(&gate);   /* held by the test until the database is closed */
	pthread_mutex_unlock(&gate);
	return NULL;
}

Test(connection, close_closes_the_connections_of_live_threads)
{
	cr_assert_eq(sh_database_connection(&fx.db, fx.database), 0);
	thread_out out = { 0 };
	pthread_t t;
	pthread_mutex_lock(&gate);
	cr_assert_eq(pthread_create(&t, NULL, thread_connect_and_wait, &out), 0);
	while (__atomic_load_n(&out.db, __ATOMIC_ACQUIRE) == NULL && out.rc == 0)
		sched_yield();
	cr_assert_eq(out.rc, 0);
	/* close while the thread lives: its connection is closed here, and the
	 * thread's exit afterwards must not close it again (ASan would see it) */
	sh_database_close(fx.database);
	fx.database = NULL;
	pthread_mutex_unlock(&gate);
	pthread_join(t, NULL);
}

Test(connection, failing_receiver_refuses_the_connection_with_its_code)
{
	static int code = -77;
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_CONNECTION_CREATED),
		fail_with, &code, NULL), 0);
	sh_conn *db = (sh_conn *)0x1;
	cr_assert_eq(sh_database_connection(&db, fx.database), -77);
	cr_assert_null(db);
	cr_assert_str_eq(last_message(), "receiver vetoed");
	/* the next call tries again (and fails again): nothing was kept */
	thread_out out = { 0 };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, thread_connect_only, &out), 0);
	pthread_join(t, NULL);
	cr_assert_eq(out.rc, -77);
	cr_assert_eq(sh_database_connection(&db, fx.database), -77);
}

static int run_pragma(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_connection_created_args *a = args;
	return sqlite3_exec(sh_conn_sqlite(a->connection), "PRAGMA cache_size = -1234", NULL, NULL,
		NULL) == SQLITE_OK ? 0 : sh_error_set(SH_EDB, "pragma failed");
}

Test(connection, receivers_may_run_pragmas_on_the_new_connection)
{
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_CONNECTION_CREATED),
		run_pragma, NULL, NULL), 0);
	cr_assert_eq(sh_database_connection(&fx.db, fx.database), 0);
	cr_assert_eq(sql_int("PRAGMA cache_size"), -1234);
}

Test(connection, unprepared_registry_is_refused)
{
	sh_models *models;
	cr_assert_eq(sh_models_new(&models, fx.hub), 0);
	sh_database *db = (sh_database *)0x1;
	cr_assert_eq(sh_database_open(&db, "/tmp/never.sqlite3", models), SH_EINVAL);
	cr_assert_null(db);
	cr_assert(strstr(last_message(), "not prepared") != NULL, "%s", last_message());
	sh_models_free(models);
}

Test(connection, unopenable_file_is_unavailable_naming_the_path)
{
	sh_database *db;
	cr_assert_eq(sh_database_open(&db, "/nonexistent-dir/x/db.sqlite3", fx.models), 0,
		"open does not touch the file");
	sh_conn *conn = NULL;
	cr_assert_eq(sh_database_connection(&conn, db), SH_EUNAVAILABLE);
	cr_assert(strstr(last_message(), "cannot open a connection: cannot open database "
		"/nonexistent-dir/x/db.sqlite3") != NULL, "%s", last_message());
	cr_assert(strstr(last_message(), "No such file or directory") != NULL, "%s", last_message());
	sh_database_close(db);
}

Test(connection, null_arguments)
{
	cr_assert_eq(sh_database_connection(NULL, fx.database), SH_EINVAL);
	sh_database_close(NULL);
	cr_assert_null(sh_database_path(NULL));
}

Test(connection, commits_sync_fully_unless_normal_is_set_before_the_first_connection)
{
	cr_assert_eq(sh_database_set_sync(fx.database, SH_DB_SYNC_NORMAL), 0);
	cr_assert_eq(sh_database_connection(&fx.db, fx.database), 0);
	cr_assert_eq(sql_int("PRAGMA synchronous"), 1, "NORMAL is 1");
	cr_assert_eq(sh_database_set_sync(fx.database, SH_DB_SYNC_FULL), SH_EINVAL,
		"too late: a connection is open");
	cr_assert(strstr(last_message(), "open connections") != NULL, "%s", last_message());
	cr_assert_eq(sh_database_set_sync(NULL, SH_DB_SYNC_FULL), SH_EINVAL);
}

Test(connection, commits_sync_fully_by_default)
{
	cr_assert_eq(sh_database_connection(&fx.db, fx.database), 0);
	cr_assert_eq(sql_int("PRAGMA synchronous"), 2, "FULL is 2");
}

Test(connection, sh_db_error_maps_raw_sql_failures_like_the_model_layer)
{
	cr_assert_eq(sh_database_set_timeout(fx.database, 0), 0);
	cr_assert_eq(sh_database_connection(&fx.db, fx.database), 0);
	sqlite3 *sql = sh_conn_sqlite(fx.db);
	cr_assert_neq(sqlite3_exec(sql, "SELEC 1", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_eq(sh_conn_error(fx.db, "running my SQL"), SH_EDB);
	cr_assert(strncmp(last_message(), "running my SQL: ", 16) == 0, "%s", last_message());

	/* another process's write lock: unavailable, not a plain database error */
	sqlite3 *other;
	cr_assert_eq(sqlite3_open(fx.path, &other), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_neq(sqlite3_exec(sql, "CREATE TABLE t_raw (x)", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_eq(sh_conn_error(fx.db, "creating t_raw"), SH_EUNAVAILABLE);
	cr_assert(strstr(last_message(), "is locked by another process") != NULL, "%s", last_message());
	cr_assert(strstr(last_message(), fx.path) != NULL, "%s", last_message());
	cr_assert_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	cr_assert_eq(sqlite3_exec(sql, "CREATE TABLE t_raw (x)", NULL, NULL, NULL), SQLITE_OK,
		"the fault cleared");
	cr_assert_eq(sh_conn_error(NULL, "x"), SH_EINVAL);
}

/* The size of the database's -wal file in bytes. */
static long long wal_size(void)
{
	char path[sizeof fx.path + 8];
	snprintf(path, sizeof path, "%s-wal", fx.path);
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Whether every frame of the log is copied back into the database, from
 * the -shm file (SQLite's walformat.html: the header's mxFrame, a u32 at
 * byte 16, and the checkpoint's nBackfill, a u32 at byte 96, in the
 * machine's byte order). */
static uint32_t last_max_frame, last_backfill;

static bool wal_copied_back(void)
{
	char path[sizeof fx.path + 8];
	snprintf(path, sizeof path, "%s-shm", fx.path);
	FILE *f = fopen(path, "rb");
	unsigned char head[100];
	bool whole = f != NULL && fread(head, 1, sizeof head, f) == sizeof head;
	if (f != NULL)
		fclose(f);
	uint32_t max_frame, backfill;
	memcpy(&max_frame, head + 16, 4);
	memcpy(&backfill, head + 96, 4);
	last_max_frame = max_frame;
	last_backfill = backfill;
	return whole && backfill == max_frame;
}

Test(connection, a_thread_of_the_database_checkpoints_a_long_log_and_commits_do_not)
{
	cr_assert_eq(sh_database_connection(&fx.db, fx.database), 0);
	sqlite3 *sql = sh_conn_sqlite(fx.db);
	cr_assert_eq(sqlite3_exec(sql, "CREATE TABLE t_ckpt (x)", NULL, NULL, NULL), SQLITE_OK);
	for (int i = 0; i < 200; i++)
		cr_assert_eq(sqlite3_exec(sql, "INSERT INTO t_ckpt VALUES (randomblob(3000))", NULL,
			NULL, NULL), SQLITE_OK);
	cr_assert_eq(sh_database_checkpoints(fx.database), 0, "a short log is left alone");
	/* ~3 pages per commit: 4000 commits would make a 48 MB log if nothing
	 * checkpointed it; checkpointed, it restarts from its head. Ten
	 * batches of 400 commits (~1200 pages each, past the thread's 1000
	 * and short of the 4000 where a commit would checkpoint itself), each
	 * followed by a pause until the thread has copied the whole log back
	 * (then the next commit starts the log again from its head). */
	for (int batch = 0; batch < 10; batch++) {
		unsigned long before = sh_database_checkpoints(fx.database);
		for (int i = 0; i < 400; i++)
			cr_assert_eq(sqlite3_exec(sql, "INSERT INTO t_ckpt VALUES (randomblob(3000))",
				NULL, NULL, NULL), SQLITE_OK);
		struct timespec start, now;
		clock_gettime(CLOCK_MONOTONIC, &start);
		do {
			usleep(1000);
			clock_gettime(CLOCK_MONOTONIC, &now);
		} while ((sh_database_checkpoints(fx.database) == before || !wal_copied_back())
			&& now.tv_sec - start.tv_sec < 10);
		cr_assert_gt(sh_database_checkpoints(fx.database), before, "batch %d: the thread ran "
			"no successful checkpoint within 10 s", batch);
		for (sqlite3_stmt *st = sqlite3_next_stmt(sql, NULL); st; st = sqlite3_next_stmt(sql, st))
			fprintf(stderr, "DEBUG stmt busy=%d %s\n", sqlite3_stmt_busy(st), sqlite3_sql(st));
		fprintf(stderr, "DEBUG autocommit %d\n", sqlite3_get_autocommit(sql));
		cr_assert(wal_copied_back(), "batch %d: the log is not copied back after 10 s (%u of "
			"its %u frames; %lu checkpoints)", batch, last_backfill, last_max_frame,
			sh_database_checkpoints(fx.database));
	}
	cr_assert_eq(sh_database_commit_checkpoints(fx.database), 0, "commits checkpointed "
		"themselves: the thread's job");
	cr_assert_lt(wal_size(), 12ll << 20, "the log is reused after checkpoints: %lld bytes",
		wal_size());
	cr_assert_eq(sql_int("SELECT count(*) FROM t_ckpt"), 4200);
}
