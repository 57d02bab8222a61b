/*
 * database.c: the database (sh_database_*, db.h) and its per-thread
 * connections (sh_conn_*).
 *
 * Each thread gets its own SQLite connection on its first
 * sh_database_connection() call, kept in a pthread key whose destructor
 * closes it when the thread exits; sh_database_close() closes the rest.
 * Both unlink the connection from the database's list under the database
 * lock, so a connection is closed exactly once, by whichever comes first.
 * (The key is deleted before close frees anything, so a thread that exits
 * later runs no destructor; a thread still exiting while close runs is the
 * one case the contract "no thread may use it any more" rules out.)
 *
 * Connections are opened with SQLITE_OPEN_NOMUTEX: a connection is used by
 * one thread only, so SQLite's per-connection mutex would be pure cost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

#define SH__BUSY_TIMEOUT_MS 5000

/* ---- connections ---- */

static void sh_db__conn_stmts_free(struct sh__conn_stmts *cs)
{
	if (cs == NULL)
		return;
	for (size_t i = 0; i < cs->model_count; i++) {
		sh__model_stmts *ms = &cs->models[i];
		for (int k = 0; k < SH__SQL_KIND_COUNT; k++)
			sqlite3_finalize(ms->stmt[k]);
		for (int k = 0; k < SH__PARTIAL_MAX; k++)
			sqlite3_finalize(ms->partial[k].stmt);
	}
	for (int k = 0; k < SH__TX_KIND_COUNT; k++)
		sqlite3_finalize(cs->tx[k]);
	free(cs->models);
	free(cs);
}

/* Closes a connection that is no longer on the database's list: pending
 * on_commit callbacks are discarded, statements finalized, and an open
 * transaction is rolled back by SQLite as it closes. */
static void sh_db__conn_free(sh_conn *db)
{
	for (size_t i = 0; i < db->on_commit_count; i++)
		if (db->on_commit[i].discard != NULL)
			db->on_commit[i].discard(db->on_commit[i].payload);
	free(db->on_commit);
	for (size_t i = 0; i < db->stmt_count; i++) {
		sqlite3_finalize(db->stmts[i].stmt);
		free(db->stmts[i].sql);
	}
	free(db->stmts);
	for (size_t i = 0; i < db->spare_count; i++)
		sqlite3_finalize(db->spares[i].stmt);
	free(db->spares);
	sh_db__conn_stmts_free(db->model_stmts);
	for (int i = 0; i < db->depth; i++)
		free(db->blocks[i].reason);
	free(db->blocks);
	sh_db__durable_drop_held(db);
	/* A block left open: closing rolls its transaction back; let the
	 * other writers of the process in. */
	if (db->depth > 0)
		pthread_mutex_unlock(&db->database->write_lock);
	sqlite3_close_v2(db->sqlite);
	free(db);
}

/* Removes db from the database's list; returns whether it was there. */
static bool sh_db__unlink(sh_database *database, sh_conn *db)
{
	bool found = false;
	pthread_mutex_lock(&database->lock);
	for (sh_conn **p = &database->connections; *p != NULL; p = &(*p)->next) {
		if (*p == db) {
			*p = db->next;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&database->lock);
	return found;
}

/* The pthread key's destructor: the thread exits, its connection closes,
 * unless sh_database_close() took it first. */
static void sh_db__thread_exit(void *value)
{
	sh_conn *db = value;
	if (sh_db__unlink(db->database, db))
		sh_db__conn_free(db);
}

int sh_database_open(sh_database **out, const char *path, sh_models *models)
{
	if (out == NULL || path == NULL || models == NULL)
		return sh_error_set(SH_EINVAL, "sh_database_open: NULL argument");
	*out = NULL;
	if (!sh_models_prepared(models))
		return sh_error_set(SH_EINVAL, "cannot open database %s: the model registry is not prepared", path);
	sh_database *database = calloc(1, sizeof *database);
	if (database == NULL || (database->path = strdup(path)) == NULL) {
		free(database);
		return sh_error_set(SH_ENOMEM, "out of memory opening database %s", path);
	}
	database->models = models;
	database->hub = sh_models_hub(models);
	int rc = sh_sender_intern(&database->backend, database->hub, SH_DB_BACKEND_SENDER);
	if (rc < 0) {
		free(database->path);
		free(database);
		return rc;
	}
	if (pthread_key_create(&database->key, sh_db__thread_exit) != 0) {
		free(database->path);
		free(database);
		return sh_error_set(SH_ENOMEM, "cannot open database %s: no thread key left", path);
	}
	pthread_mutex_init(&database->lock, NULL);
	pthread_mutex_init(&database->write_lock, NULL);
	sh_db__checkpointer_init(database);
	sh_db__syncer_init(database);
	database->busy_timeout_ms = SH__BUSY_TIMEOUT_MS;
	database->max_delete_rows = SH_DELETE_MAX_ROWS;
	rc = sh_db__orm_build(database);
	if (rc < 0) {
		sh_database_close(database);
		return rc;
	}
	*out = database;
	return 0;
}

void sh_database_close(sh_database *database)
{
	if (database == NULL)
		return;
	/* After the key is deleted no exiting thread runs the destructor, so
	 * every connection left on the list is ours to close. */
	pthread_key_delete(database->key);
	sh_db__checkpointer_stop(database);
	sh_db__syncer_stop(database);
	pthread_mutex_lock(&database->lock);
	sh_conn *list = database->connections;
	database->connections = NULL;
	pthread_mutex_unlock(&database->lock);
	while (list != NULL) {
		sh_conn *next = list->next;
		sh_db__conn_free(list);
		list = next;
	}
	pthread_mutex_destroy(&database->lock);
	pthread_mutex_destroy(&database->write_lock);
	sh_db__orm_free(database->orm);
	free(database->path);
	free(database);
}

const char *sh_database_path(const sh_database *database)
{
	return database != NULL ? database->path : NULL;
}

int sh_database_set_sync(sh_database *database, sh_db_sync sync)
{
	if (database == NULL || (sync != SH_DB_SYNC_FULL && sync != SH_DB_SYNC_NORMAL))
		return sh_error_set(SH_EINVAL, "sh_database_set_sync: no database or an unknown mode");
	pthread_mutex_lock(&database->lock);
	bool opened = database->connections != NULL;
	if (!opened)
		database->sync = sync;
	pthread_mutex_unlock(&database->lock);
	if (opened)
		return sh_error_set(SH_EINVAL, "sh_database_set_sync: %s has open connections already",
			database->path);
	return 0;
}

int sh_database_set_timeout(sh_database *database, int milliseconds)
{
	if (database == NULL || milliseconds < 0)
		return sh_error_set(SH_EINVAL, "sh_database_set_timeout: no database or a negative "
			"timeout");
	pthread_mutex_lock(&database->lock);
	bool opened = database->connections != NULL;
	if (!opened)
		database->busy_timeout_ms = milliseconds;
	pthread_mutex_unlock(&database->lock);
	if (opened)
		return sh_error_set(SH_EINVAL, "sh_database_set_timeout: %s has open connections "
			"already", database->path);
	return 0;
}

int sh_database_set_max_delete_rows(sh_database *database, size_t rows)
{
	if (database == NULL || rows == 0)
		return sh_error_set(SH_EINVAL, "sh_database_set_max_delete_rows: no database or 0 rows");
	database->max_delete_rows = rows;
	return 0;
}

int sh_database_close_unusable(sh_database *database)
{
	sh_conn *db = database != NULL ? pthread_getspecific(database->key) : NULL;
	if (db == NULL || db->depth > 0)
		return 0;
	/* Opened READWRITE, SQLite fell back to read-only: the file was not
	 * writable then, and the connection will not notice when it is. */
	if (!db->unusable && sqlite3_db_readonly(db->sqlite, "main") != 1)
		return 0;
	pthread_setspecific(database->key, NULL);
	if (sh_db__unlink(database, db))
		sh_db__conn_free(db);
	return 1;
}

sh_models *sh_database_models(const sh_database *database)
{
	return database != NULL ? database->models : NULL;
}

/* Runs a PRAGMA on a new connection of `database` and, when `expect` is
 * non-NULL, checks its one-row answer. */
static int sh_db__pragma(sqlite3 *sqlite, const char *sql, const char *expect,
	const sh_database *database)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(sqlite, sql, -1, &stmt, NULL);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			const char *got = (const char *)sqlite3_column_text(stmt, 0);
			if (expect != NULL && (got == NULL || strcmp(got, expect) != 0)) {
				sh_error_set(SH_EDB, "cannot set up database %s: %s answered '%s', not '%s'",
					database->path, sql, got ? got : "NULL", expect);
				sqlite3_finalize(stmt);
				return SH_EDB;
			}
		}
	}
	if (rc != SQLITE_DONE) {
		char what[256];
		snprintf(what, sizeof what, "cannot set up the connection: %s", sql);
		rc = sh_db__sqlite_error(sqlite, database, what);
		sqlite3_finalize(stmt);
		return rc;
	}
	sqlite3_finalize(stmt);
	return 0;
}

/*
 * The collation of datetime columns in comparisons and ORDER BY: canonical
 * datetimes end "SSZ" or "SS.ffffffZ", and plain byte order would put
 * "10:00:00.5Z" before "10:00:00Z" ('.' < 'Z'). Ranking the final 'Z'
 * below every other byte restores time order.
 */
static int sh_db__datetime_cmp(void *payload, int alen, const void *a, int blen, const void *b)
{
	(void)payload;
	const unsigned char *x = a, *y = b;
	int n = alen < blen ? alen : blen;
	for (int i = 0; i < n; i++) {
		unsigned cx = x[i] == 'Z' ? 1 : x[i], cy = y[i] == 'Z' ? 1 : y[i];
		if (cx != cy)
			return cx < cy ? -1 : 1;
	}
	return alen == blen ? 0 : (alen < blen ? -1 : 1);
}

/* The error of a database file that is not the one the first connection
 * opened. */
static int sh_db__file_gone(const sh_database *database, const char *how)
{
	return sh_error_set(SH_EUNAVAILABLE, "database %s was deleted, moved or replaced while "
		"the server had it open (%s): refusing to use it, restart the server once the right "
		"file is back", database->path, how);
}

/* Records the file's identity at the first open; later, compares. */
static int sh_db__same_file(sh_database *database)
{
	struct stat st;
	bool memory = strcmp(database->path, ":memory:") == 0 || database->path[0] == '\0';
	if (memory)
		return 0;
	if (stat(database->path, &st) != 0)
		return sh_db__file_gone(database, "it is missing");
	pthread_mutex_lock(&database->lock);
	bool first = !database->opened_once;
	if (first) {
		database->opened_once = true;
		database->dev = st.st_dev;
		database->ino = st.st_ino;
	}
	bool same = first || (database->dev == st.st_dev && database->ino == st.st_ino);
	pthread_mutex_unlock(&database->lock);
	return same ? 0 : sh_db__file_gone(database, "another file has its name");
}

int sh_database_check_file(sh_database *database)
{
	if (database == NULL)
		return sh_error_set(SH_EINVAL, "sh_database_check_file: NULL database");
	sh_conn *db = pthread_getspecific(database->key);
	if (db == NULL)
		return 0;   /* no connection yet: opening one checks the file */
	int moved = 0;
	if (sqlite3_file_control(db->sqlite, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK
		&& moved)
		return sh_db__file_gone(database, "its name no longer leads to the open file");
	return 0;
}

static int sh_db__conn_open(sh_conn **out, sh_database *database)
{
	sqlite3 *sqlite = NULL;
	pthread_mutex_lock(&database->lock);
	bool create = !database->opened_once;
	pthread_mutex_unlock(&database->lock);
	int rc = sqlite3_open_v2(database->path, &sqlite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
		| (create ? SQLITE_OPEN_CREATE : 0), NULL);
	if (rc != SQLITE_OK && !create && (rc & 0xff) == SQLITE_CANTOPEN) {
		sqlite3_close_v2(sqlite);
		return sh_db__file_gone(database, "it is missing");
	}
	if (rc != SQLITE_OK) {
		if (sqlite != NULL)
			rc = sh_db__sqlite_error(sqlite, database, "cannot open a connection");
		else
			rc = sh_error_set(SH_ENOMEM, "cannot open database %s: %s", database->path,
				sqlite3_errstr(rc));
		sqlite3_close_v2(sqlite);
		return rc;
	}
	if ((rc = sh_db__same_file(database)) < 0) {
		sqlite3_close_v2(sqlite);
		return rc;
	}
	sqlite3_extended_result_codes(sqlite, 1);
	sqlite3_busy_timeout(sqlite, database->busy_timeout_ms);
	sqlite3_create_collation_v2(sqlite, SH__DATETIME_COLLATION, SQLITE_UTF8, NULL,
		sh_db__datetime_cmp, NULL);
	bool memory = strcmp(database->path, ":memory:") == 0;
	/* Group commit: a FULL database's commits are made at NORMAL and then
	 * synced by the database's thread (durable.c). */
	pthread_mutex_lock(&database->syncer.lock);
	bool group = database->syncer.on && database->sync == SH_DB_SYNC_FULL && !memory;
	pthread_mutex_unlock(&database->syncer.lock);
	if ((rc = sh_db__pragma(sqlite, "PRAGMA journal_mode=WAL", memory ? "memory" : "wal",
			database)) < 0
		|| (rc = sh_db__pragma(sqlite, "PRAGMA foreign_keys=ON", NULL, database)) < 0
		|| (rc = sh_db__pragma(sqlite, database->sync == SH_DB_SYNC_NORMAL || group
			? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", NULL, database)) < 0) {
		sqlite3_close_v2(sqlite);
		return rc;
	}
	sh_conn *db = calloc(1, sizeof *db);
	struct sh__conn_stmts *cs = calloc(1, sizeof *cs);
	size_t models = database->orm->model_count;
	sh__model_stmts *ms = calloc(models ? models : 1, sizeof *ms);
	if (db == NULL || cs == NULL || ms == NULL) {
		free(db), free(cs), free(ms);
		sqlite3_close_v2(sqlite);
		return sh_error_set(SH_ENOMEM, "out of memory opening database %s", database->path);
	}
	cs->models = ms;
	cs->model_count = models;
	db->database = database;
	db->sqlite = sqlite;
	db->model_stmts = cs;
	db->group = group;
	sh_db__checkpointer_attach(db);
	*out = db;
	return 0;
}

int sh_database_connection(sh_conn **out, sh_database *database)
{
	if (out == NULL || database == NULL)
		return sh_error_set(SH_EINVAL, "sh_database_connection: NULL argument");
	sh_conn *db = pthread_getspecific(database->key);
	if (SH__LIKELY(db != NULL)) {
		*out = db;
		return 0;
	}
	*out = NULL;
	int rc = sh_db__conn_open(&db, database);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&database->lock);
	/* sh_db__conn_open stores the connection whenever it returns 0; the analyzer
	 * stops following it before its end.
	 * NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	db->next = database->connections;
	database->connections = db;
	pthread_mutex_unlock(&database->lock);
	if (pthread_setspecific(database->key, db) != 0) {
		sh_db__unlink(database, db);
		sh_db__conn_free(db);
		return sh_error_set(SH_ENOMEM, "cannot keep the connection of database %s", database->path);
	}
	/* Announced once it is this thread's connection, so a receiver that
	 * asks for the thread's connection gets this one. */
	sh_connection_created_args args = { db };
	rc = sh_signal_send(database->orm->signals[SH_CONNECTION_CREATED], database->backend,
		&args, NULL);
	if (rc < 0) {
		pthread_setspecific(database->key, NULL);
		sh_db__unlink(database, db);
		sh_db__conn_free(db);
		return rc;
	}
	*out = db;
	return 0;
}

sqlite3 *sh_conn_sqlite(sh_conn *db)
{
	return db != NULL ? db->sqlite : NULL;
}

int sh_conn_error(sh_conn *db, const char *what)
{
	if (db == NULL || what == NULL)
		return sh_error_set(SH_EINVAL, "sh_conn_error: db and what are required");
	return sh_db__conn_error(db, what);
}

sh_database *sh_conn_database(const sh_conn *db)
{
	return db != NULL ? db->database : NULL;
}

const char *sh_conn_alias(const sh_conn *db)
{
	(void)db;
	return SH_DB_DEFAULT_ALIAS;
}

int sh_db__foreign_model(const sh_conn *db, const sh_model *model)
{
	if (model == NULL)
		return sh_error_set(SH_EINVAL, "no model given");
	return sh_error_set(SH_EINVAL, "model %s is not a model of the registry of database %s",
		model->label, db->database->path);
}
