/*
 * connection.c: the database and its per-thread connections (db.h), the
 * statement caches, and turning SQLite's errors into sighost's.
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
 *
 * Statements come from two caches of the connection: the per-model
 * statements (INSERT, UPDATE, SELECT by pk, ...), whose SQL the database
 * builds once per model at open, reached by index with no lookup at all on
 * the save path; and a small cache keyed by SQL text (sh__db_prepare) for
 * the statements queries and the collector build. A cached statement is
 * always stepped to its end (or reset) before any receiver runs, so a
 * receiver that runs the same statement cannot disturb it; iteration,
 * which must call receivers between rows, prepares a statement of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

#define SH__BUSY_TIMEOUT_MS 5000
#define SH__STMT_CACHE_MAX 64
/* Spare iteration statements kept per connection: enough for the
 * distinct queries a request runs, few enough to stay small. */
#define SH__STMT_SPARES_MAX 16

/* ---- per-model SQL, built once ---- */

static void sh__model_sql_free(sh__model_sql *msql)
{
	free(msql->columns);
	free(msql->kinds);
	free(msql->defaults);
	free(msql->required);
	free(msql->select);
	for (int k = 0; k < SH__SQL_KIND_COUNT; k++)
		free(msql->sql[k]);
	free(msql->related);
	free(msql->reverse_m2m);
}

static void sh__orm_free(struct sh__orm *orm)
{
	if (orm == NULL)
		return;
	for (size_t i = 0; i < orm->model_count; i++)
		sh__model_sql_free(&orm->models[i]);
	free(orm->models);
	free(orm);
}

/* Appends "c1", "c2", ... of the columns, the pk skipped when `skip_pk`. */
static void sh__add_columns(sh__buf *buf, const sh__model_sql *msql, bool skip_pk,
	const char *suffix)
{
	const sh_model *m = msql->model;
	bool first = true;
	for (size_t i = 0; i < msql->column_count; i++) {
		const sh_field *f = &m->fields[msql->columns[i]];
		if (skip_pk && f->index == m->pk)
			continue;
		if (!first)
			sh__buf_add(buf, ", ");
		sh__buf_ident(buf, f->column);
		sh__buf_add(buf, suffix);
		first = false;
	}
}

static char *sh__where_pk(const sh_model *m, const char *head)
{
	sh__buf buf = { 0 };
	sh__buf_add(&buf, head);
	sh__buf_add(&buf, " WHERE ");
	sh__buf_ident(&buf, m->fields[m->pk].column);
	sh__buf_add(&buf, " = ?");
	return sh__buf_take(&buf);
}

static int sh__model_sql_build(sh__model_sql *msql, const sh_model *m, const sh_models *models)
{
	msql->model = m;
	msql->auto_pk = m->fields[m->pk].type == SH_FIELD_AUTO;
	size_t n = m->field_count ? m->field_count : 1;
	msql->columns = calloc(n, sizeof *msql->columns);
	msql->kinds = calloc(n, sizeof *msql->kinds);
	msql->defaults = calloc(n, sizeof *msql->defaults);
	msql->required = calloc(n, sizeof *msql->required);
	if (msql->columns == NULL || msql->kinds == NULL || msql->defaults == NULL
		|| msql->required == NULL)
		return SH_ENOMEM;
	msql->first_field = m->pk == 0 && m->field_count > 1 ? 1 : 0;
	for (size_t i = 0; i < m->field_count; i++) {
		const sh_field *f = &m->fields[i];
		/* Django's Field.get_default(): the declared default, else "" for
		 * text fields that do not allow null (CharField and TextField take
		 * empty strings), else NULL. */
		msql->defaults[i] = f->type == SH_FIELD_MANY_TO_MANY ? sh_datum_null()
			: f->has_default ? f->default_value
			: f->type == SH_FIELD_TEXT && !f->null ? sh_datum_text("")
			: sh_datum_null();
		if (f->column != NULL && i != m->pk && !f->null)
			msql->required[msql->required_count++] = i;
		msql->kinds[msql->column_count] = f->type == SH_FIELD_REAL ? SH__KIND_REAL
			: f->type == SH_FIELD_BOOLEAN ? SH__KIND_BOOL
			: (f->type == SH_FIELD_TEXT || f->type == SH_FIELD_DATE
				|| f->type == SH_FIELD_DATETIME || f->type == SH_FIELD_JSON) ? SH__KIND_TEXT
			: SH__KIND_INT;
		if (f->auto_now || f->auto_now_add) {
			msql->has_auto_now = true;
			msql->auto_count++;
		}
		if (f->type == SH_FIELD_FOREIGN_KEY)
			msql->has_fk = true;
		if (f->column == NULL)
			msql->has_m2m = true;
		else
			msql->columns[msql->column_count++] = i;
	}
	size_t non_pk = msql->column_count - 1;

	sh__buf buf = { 0 };
	sh__buf_add(&buf, "SELECT ");
	sh__add_columns(&buf, msql, false, "");
	sh__buf_add(&buf, " FROM ");
	sh__buf_ident(&buf, m->table);
	msql->select = sh__buf_take(&buf);
	if (msql->select == NULL)
		return SH_ENOMEM;

	sh__buf_add(&buf, "INSERT INTO ");
	sh__buf_ident(&buf, m->table);
	if (non_pk == 0) {
		sh__buf_add(&buf, " DEFAULT VALUES");
	} else {
		sh__buf_add(&buf, " (");
		sh__add_columns(&buf, msql, true, "");
		sh__buf_add(&buf, ") VALUES (");
		sh__buf_params(&buf, non_pk);
		sh__buf_add(&buf, ")");
	}
	msql->sql[SH__SQL_INSERT] = sh__buf_take(&buf);

	sh__buf_add(&buf, "INSERT INTO ");
	sh__buf_ident(&buf, m->table);
	sh__buf_add(&buf, " (");
	sh__add_columns(&buf, msql, false, "");
	sh__buf_add(&buf, ") VALUES (");
	sh__buf_params(&buf, msql->column_count);
	sh__buf_add(&buf, ")");
	msql->sql[SH__SQL_INSERT_PK] = sh__buf_take(&buf);

	if (non_pk > 0) {
		sh__buf_add(&buf, "UPDATE ");
		sh__buf_ident(&buf, m->table);
		sh__buf_add(&buf, " SET ");
		sh__add_columns(&buf, msql, true, " = ?");
		char *head = sh__buf_take(&buf);
		if (head == NULL)
			return SH_ENOMEM;
		msql->sql[SH__SQL_UPDATE] = sh__where_pk(m, head);
		free(head);
		if (msql->sql[SH__SQL_UPDATE] == NULL)
			return SH_ENOMEM;
	}
	msql->sql[SH__SQL_SELECT_PK] = sh__where_pk(m, msql->select);
	sh__buf_add(&buf, "SELECT 1 FROM ");
	sh__buf_ident(&buf, m->table);
	char *head = sh__buf_take(&buf);
	if (head == NULL)
		return SH_ENOMEM;
	msql->sql[SH__SQL_EXISTS_PK] = sh__where_pk(m, head);
	free(head);
	for (int k = 0; k < SH__SQL_KIND_COUNT; k++)
		if (msql->sql[k] == NULL && k != SH__SQL_UPDATE)
			return SH_ENOMEM;

	/* Relations pointing at m, from every model of the registry: counted,
	 * then stored. */
	size_t count = sh_models_count(models);
	for (int pass = 0; pass < 2; pass++) {
		size_t nr = 0, nm = 0;
		for (size_t j = 0; j < count; j++) {
			sh_model *from = (sh_model *)sh_models_at(models, j);
			for (size_t k = 0; k < from->field_count; k++) {
				const sh_field *f = &from->fields[k];
				if (f->target != m)
					continue;
				if (f->type == SH_FIELD_FOREIGN_KEY) {
					if (pass == 1)
						msql->related[nr] = (sh__reverse){ from, k };
					nr++;
				} else if (f->type == SH_FIELD_MANY_TO_MANY) {
					if (pass == 1)
						msql->reverse_m2m[nm] = (sh__reverse){ from, k };
					nm++;
				}
			}
		}
		if (pass == 0) {
			msql->related = calloc(nr ? nr : 1, sizeof *msql->related);
			msql->reverse_m2m = calloc(nm ? nm : 1, sizeof *msql->reverse_m2m);
			if (msql->related == NULL || msql->reverse_m2m == NULL)
				return SH_ENOMEM;
		} else {
			msql->related_count = nr;
			msql->reverse_m2m_count = nm;
		}
	}
	return 0;
}

static int sh__orm_build(sh_database *database)
{
	struct sh__orm *orm = calloc(1, sizeof *orm);
	if (orm == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory opening database %s", database->path);
	database->orm = orm;
	sh_models *models = database->models;
	size_t count = sh_models_count(models);
	orm->models = calloc(count ? count : 1, sizeof *orm->models);
	if (orm->models == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory opening database %s", database->path);
	orm->model_count = count;
	for (int id = 0; id < SH_BUILTIN_COUNT; id++)
		orm->signals[id] = sh_hub_builtin(database->hub, (sh_builtin)id);
	for (size_t i = 0; i < count; i++) {
		const sh_model *m = sh_models_at(models, i);
		if (m->index >= count || orm->models[m->index].model != NULL)
			return sh_error_set(SH_EINVAL, "model %s has a bad registry index", m->label);
		int rc = sh__model_sql_build(&orm->models[m->index], m, models);
		if (rc < 0)
			return sh_error_set(rc, "out of memory building the SQL of %s", m->label);
	}
	return 0;
}

/* ---- connections ---- */

static void sh__conn_stmts_free(struct sh__conn_stmts *cs)
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
static void sh__db_free(sh_db *db)
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
	sh__conn_stmts_free(db->model_stmts);
	for (int i = 0; i < db->depth; i++)
		free(db->blocks[i].reason);
	free(db->blocks);
	sh__durable_drop_held(db);
	/* A block left open: closing rolls its transaction back; let the
	 * other writers of the process in. */
	if (db->depth > 0)
		pthread_mutex_unlock(&db->database->write_lock);
	sqlite3_close_v2(db->sqlite);
	free(db);
}

/* Removes db from the database's list; returns whether it was there. */
static bool sh__unlink(sh_database *database, sh_db *db)
{
	bool found = false;
	pthread_mutex_lock(&database->lock);
	for (sh_db **p = &database->connections; *p != NULL; p = &(*p)->next) {
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
static void sh__thread_exit(void *value)
{
	sh_db *db = value;
	if (sh__unlink(db->database, db))
		sh__db_free(db);
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
	if (pthread_key_create(&database->key, sh__thread_exit) != 0) {
		free(database->path);
		free(database);
		return sh_error_set(SH_ENOMEM, "cannot open database %s: no thread key left", path);
	}
	pthread_mutex_init(&database->lock, NULL);
	pthread_mutex_init(&database->write_lock, NULL);
	sh__checkpointer_init(database);
	sh__syncer_init(database);
	database->busy_timeout_ms = SH__BUSY_TIMEOUT_MS;
	rc = sh__orm_build(database);
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
	sh__checkpointer_stop(database);
	sh__syncer_stop(database);
	pthread_mutex_lock(&database->lock);
	sh_db *list = database->connections;
	database->connections = NULL;
	pthread_mutex_unlock(&database->lock);
	while (list != NULL) {
		sh_db *next = list->next;
		sh__db_free(list);
		list = next;
	}
	pthread_mutex_destroy(&database->lock);
	pthread_mutex_destroy(&database->write_lock);
	sh__orm_free(database->orm);
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

int sh_database_close_unusable(sh_database *database)
{
	sh_db *db = database != NULL ? pthread_getspecific(database->key) : NULL;
	if (db == NULL || db->depth > 0)
		return 0;
	/* Opened READWRITE, SQLite fell back to read-only: the file was not
	 * writable then, and the connection will not notice when it is. */
	if (!db->unusable && sqlite3_db_readonly(db->sqlite, "main") != 1)
		return 0;
	pthread_setspecific(database->key, NULL);
	if (sh__unlink(database, db))
		sh__db_free(db);
	return 1;
}

sh_models *sh_database_models(const sh_database *database)
{
	return database != NULL ? database->models : NULL;
}

/* Runs a PRAGMA on a new connection of `database` and, when `expect` is
 * non-NULL, checks its one-row answer. */
static int sh__pragma(sqlite3 *sqlite, const char *sql, const char *expect,
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
		rc = sh__sqlite_error(sqlite, database, what);
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
static int sh__datetime_cmp(void *payload, int alen, const void *a, int blen, const void *b)
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

static int sh__db_open(sh_db **out, sh_database *database)
{
	sqlite3 *sqlite = NULL;
	int rc = sqlite3_open_v2(database->path, &sqlite,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		if (sqlite != NULL)
			rc = sh__sqlite_error(sqlite, database, "cannot open a connection");
		else
			rc = sh_error_set(SH_ENOMEM, "cannot open database %s: %s", database->path,
				sqlite3_errstr(rc));
		sqlite3_close_v2(sqlite);
		return rc;
	}
	sqlite3_extended_result_codes(sqlite, 1);
	sqlite3_busy_timeout(sqlite, database->busy_timeout_ms);
	sqlite3_create_collation_v2(sqlite, SH__DATETIME_COLLATION, SQLITE_UTF8, NULL,
		sh__datetime_cmp, NULL);
	bool memory = strcmp(database->path, ":memory:") == 0;
	/* Group commit: a FULL database's commits are made at NORMAL and then
	 * synced by the database's thread (durable.c). */
	pthread_mutex_lock(&database->syncer.lock);
	bool group = database->syncer.on && database->sync == SH_DB_SYNC_FULL && !memory;
	pthread_mutex_unlock(&database->syncer.lock);
	if ((rc = sh__pragma(sqlite, "PRAGMA journal_mode=WAL", memory ? "memory" : "wal",
			database)) < 0
		|| (rc = sh__pragma(sqlite, "PRAGMA foreign_keys=ON", NULL, database)) < 0
		|| (rc = sh__pragma(sqlite, database->sync == SH_DB_SYNC_NORMAL || group
			? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", NULL, database)) < 0) {
		sqlite3_close_v2(sqlite);
		return rc;
	}
	sh_db *db = calloc(1, sizeof *db);
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
	sh__checkpointer_attach(db);
	*out = db;
	return 0;
}

int sh_database_connection(sh_db **out, sh_database *database)
{
	if (out == NULL || database == NULL)
		return sh_error_set(SH_EINVAL, "sh_database_connection: NULL argument");
	sh_db *db = pthread_getspecific(database->key);
	if (SH__LIKELY(db != NULL)) {
		*out = db;
		return 0;
	}
	*out = NULL;
	int rc = sh__db_open(&db, database);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&database->lock);
	/* sh__db_open stores the connection whenever it returns 0; the analyzer
	 * stops following it before its end.
	 * NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	db->next = database->connections;
	database->connections = db;
	pthread_mutex_unlock(&database->lock);
	if (pthread_setspecific(database->key, db) != 0) {
		sh__unlink(database, db);
		sh__db_free(db);
		return sh_error_set(SH_ENOMEM, "cannot keep the connection of database %s", database->path);
	}
	/* Announced once it is this thread's connection, so a receiver that
	 * asks for the thread's connection gets this one. */
	sh_connection_created_args args = { db };
	rc = sh_signal_send(database->orm->signals[SH_CONNECTION_CREATED], database->backend,
		&args, NULL);
	if (rc < 0) {
		pthread_setspecific(database->key, NULL);
		sh__unlink(database, db);
		sh__db_free(db);
		return rc;
	}
	*out = db;
	return 0;
}

sqlite3 *sh_db_sqlite(sh_db *db)
{
	return db != NULL ? db->sqlite : NULL;
}

int sh_db_error(sh_db *db, const char *what)
{
	if (db == NULL || what == NULL)
		return sh_error_set(SH_EINVAL, "sh_db_error: db and what are required");
	return sh__db_error(db, what);
}

sh_database *sh_db_database(const sh_db *db)
{
	return db != NULL ? db->database : NULL;
}

const char *sh_db_alias(const sh_db *db)
{
	(void)db;
	return SH_DB_DEFAULT_ALIAS;
}

int sh__foreign_model(const sh_db *db, const sh_model *model)
{
	if (model == NULL)
		return sh_error_set(SH_EINVAL, "no model given");
	return sh_error_set(SH_EINVAL, "model %s is not a model of the registry of database %s",
		model->label, db->database->path);
}

/* ---- statements ---- */

static int sh__prepare_raw(sh_db *db, const char *sql, unsigned flags, sqlite3_stmt **out)
{
	int rc = sqlite3_prepare_v3(db->sqlite, sql, -1, flags, out, NULL);
	if (rc != SQLITE_OK) {
		*out = NULL;
		char what[512];
		snprintf(what, sizeof what, "cannot prepare SQL [%s]", sql);
		return sh__db_error(db, what);
	}
	return 0;
}

int sh__db_stmt_take(sh_db *db, const char *sql, sqlite3_stmt **out)
{
	uint64_t hash = sh__hash(sql);
	for (size_t i = 0; i < db->spare_count; i++) {
		sh__stmt *s = &db->spares[i];
		if (s->hash == hash && strcmp(sqlite3_sql(s->stmt), sql) == 0) {
			*out = s->stmt;
			*s = db->spares[--db->spare_count];
			return 0;
		}
	}
	return sh__prepare_raw(db, sql, SQLITE_PREPARE_PERSISTENT, out);
}

void sh__db_stmt_give(sh_db *db, sqlite3_stmt *stmt)
{
	if (stmt == NULL)
		return;
	if (db->spares == NULL)
		db->spares = calloc(SH__STMT_SPARES_MAX, sizeof *db->spares);
	if (db->spares == NULL || db->spare_count == SH__STMT_SPARES_MAX) {
		sqlite3_finalize(stmt);
		return;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	db->spares[db->spare_count++] = (sh__stmt){ NULL, stmt, sh__hash(sqlite3_sql(stmt)) };
}

int sh__db_prepare(sh_db *db, const char *sql, sqlite3_stmt **out)
{
	uint64_t hash = sh__hash(sql);
	for (size_t i = 0; i < db->stmt_count; i++) {
		sh__stmt *s = &db->stmts[i];
		if (s->hash == hash && strcmp(s->sql, sql) == 0) {
			sqlite3_reset(s->stmt);
			sqlite3_clear_bindings(s->stmt);
			*out = s->stmt;
			return 0;
		}
	}
	sqlite3_stmt *stmt;
	int rc = sh__prepare_raw(db, sql, SQLITE_PREPARE_PERSISTENT, &stmt);
	if (rc < 0)
		return rc;
	char *copy = strdup(sql);
	if (copy == NULL) {
		sqlite3_finalize(stmt);
		return sh_error_set(SH_ENOMEM, "out of memory caching a statement");
	}
	size_t slot;
	if (db->stmt_count < SH__STMT_CACHE_MAX) {
		if (db->stmt_count == db->stmt_capacity) {
			size_t cap = db->stmt_capacity ? 2 * db->stmt_capacity : 8;
			sh__stmt *grown = realloc(db->stmts, cap * sizeof *grown);
			if (grown == NULL) {
				free(copy);
				sqlite3_finalize(stmt);
				return sh_error_set(SH_ENOMEM, "out of memory caching a statement");
			}
			db->stmts = grown;
			db->stmt_capacity = cap;
		}
		slot = db->stmt_count++;
	} else {
		/* Full: replace the oldest entry. No cached statement is in use
		 * across calls (see the file comment), so finalizing it is safe. */
		sqlite3_finalize(db->stmts[0].stmt);
		free(db->stmts[0].sql);
		memmove(db->stmts, db->stmts + 1, (db->stmt_count - 1) * sizeof *db->stmts);
		slot = db->stmt_count - 1;
	}
	db->stmts[slot] = (sh__stmt){ copy, stmt, hash };
	*out = stmt;
	return 0;
}

int sh__model_stmt(sh_db *db, const sh__model_sql *msql, sh__sql_kind kind,
	sqlite3_stmt **out)
{
	sqlite3_stmt **slot = &db->model_stmts->models[msql->model->index].stmt[kind];
	if (SH__LIKELY(*slot != NULL)) {
		*out = *slot;
		return 0;
	}
	if (msql->sql[kind] == NULL)
		return sh_error_set(SH_EINVAL, "%s has no statement of kind %d", msql->model->label, (int)kind);
	int rc = sh__prepare_raw(db, msql->sql[kind], SQLITE_PREPARE_PERSISTENT, slot);
	*out = *slot;
	return rc;
}

static const char *const sh__tx_sql[SH__TX_KIND_COUNT] = {
	[SH__TX_BEGIN] = "BEGIN IMMEDIATE",
	[SH__TX_COMMIT] = "COMMIT",
	[SH__TX_ROLLBACK] = "ROLLBACK",
	[SH__TX_SAVEPOINT] = "SAVEPOINT sh_atomic",
	[SH__TX_RELEASE] = "RELEASE sh_atomic",
	[SH__TX_ROLLBACK_TO] = "ROLLBACK TO sh_atomic",
};

int sh__tx_stmt(sh_db *db, sh__tx_kind kind, sqlite3_stmt **out)
{
	sqlite3_stmt **slot = &db->model_stmts->tx[kind];
	if (SH__LIKELY(*slot != NULL)) {
		*out = *slot;
		return 0;
	}
	int rc = sh__prepare_raw(db, sh__tx_sql[kind], SQLITE_PREPARE_PERSISTENT, slot);
	*out = *slot;
	return rc;
}

int sh__db_exec(sh_db *db, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);
	int code = 0;
	if (SH__UNLIKELY(rc != SQLITE_DONE && rc != SQLITE_ROW))
		code = sh__db_error(db, what);
	sqlite3_reset(stmt);
	return code;
}

int sh__db_bind(sh_db *db, sqlite3_stmt *stmt, int index, sh_datum value)
{
	int rc;
	switch (value.type) {
	case SH_DATUM_INT: rc = sqlite3_bind_int64(stmt, index, value.v.i); break;
	case SH_DATUM_REAL: rc = sqlite3_bind_double(stmt, index, value.v.r); break;
	case SH_DATUM_TEXT: rc = sqlite3_bind_text(stmt, index, value.v.s, -1, SQLITE_STATIC); break;
	case SH_DATUM_BOOL: rc = sqlite3_bind_int(stmt, index, value.v.b ? 1 : 0); break;
	default: rc = sqlite3_bind_null(stmt, index); break;
	}
	if (SH__UNLIKELY(rc != SQLITE_OK)) {
		char what[64];
		snprintf(what, sizeof what, "cannot bind parameter %d", index);
		return sh__db_error(db, what);
	}
	return 0;
}

const char *sh__describe_column(const sh_database *database, const char *table_column,
	char *buf, size_t size)
{
	const char *dot = strchr(table_column, '.');
	if (dot == NULL)
		return NULL;
	size_t tlen = (size_t)(dot - table_column);
	const char *column = dot + 1;
	size_t count = sh_models_count(database->models);
	for (size_t i = 0; i < count; i++) {
		const sh_model *m = sh_models_at(database->models, i);
		if (strlen(m->table) != tlen || strncmp(m->table, table_column, tlen) != 0)
			continue;
		for (size_t k = 0; k < m->field_count; k++) {
			const sh_field *f = &m->fields[k];
			if (f->column != NULL && strcmp(f->column, column) == 0) {
				snprintf(buf, size, "%s.%s", m->label, f->name);
				return buf;
			}
		}
	}
	return NULL;
}

/* What an I/O error was doing, from its extended code. */
static const char *sh__ioerr_doing(int ext)
{
	switch (ext) {
	case SQLITE_IOERR_READ:
	case SQLITE_IOERR_SHORT_READ: return "reading";
	case SQLITE_IOERR_WRITE: return "writing";
	case SQLITE_IOERR_FSYNC:
	case SQLITE_IOERR_DIR_FSYNC: return "syncing";
	case SQLITE_IOERR_TRUNCATE: return "truncating";
	case SQLITE_IOERR_SHMOPEN:
	case SQLITE_IOERR_SHMSIZE:
	case SQLITE_IOERR_SHMMAP: return "mapping the -shm file of";
	case SQLITE_IOERR_LOCK:
	case SQLITE_IOERR_RDLOCK:
	case SQLITE_IOERR_UNLOCK:
	case SQLITE_IOERR_SHMLOCK: return "locking";
	default: return "accessing";
	}
}

int sh__sqlite_error(sqlite3 *sqlite, const sh_database *database, const char *what)
{
	int ext = sqlite3_extended_errcode(sqlite);
	const char *msg = sqlite3_errmsg(sqlite);
	const char *path = database->path;   /* a handle that failed to open has no file name */
	int busy_ms = database->busy_timeout_ms;
	int sys = sqlite3_system_errno(sqlite);
	char errno_text[160] = "";
	if (sys != 0)
		snprintf(errno_text, sizeof errno_text, "; the system said: %s", strerror(sys));
	switch (ext & 0xff) {
	case SQLITE_FULL:
		return sh_error_set(SH_EUNAVAILABLE, "%s: database %s is full: the disk or a quota "
			"has no room left (%s%s)", what, path, msg, errno_text);
	case SQLITE_READONLY:
		if (ext == SQLITE_READONLY_DBMOVED)
			return sh_error_set(SH_EUNAVAILABLE, "%s: database %s is read-only: its file was "
				"moved or deleted while open (%s)", what, path, msg);
		return sh_error_set(SH_EUNAVAILABLE, "%s: database %s is read-only: this process may "
			"not write the file, its -wal or -shm file or their directory (%s)", what, path, msg);
	case SQLITE_BUSY:
		return sh_error_set(SH_EUNAVAILABLE, "%s: database %s is locked by another process "
			"(gave up after waiting %d ms; %s)", what, path, busy_ms, msg);
	case SQLITE_PROTOCOL:
		return sh_error_set(SH_EUNAVAILABLE, "%s: database %s is too busy: its locks kept "
			"changing hands (%s)", what, path, msg);
	case SQLITE_IOERR:
		return sh_error_set(SH_EUNAVAILABLE, "%s: I/O error %s database %s: the disk may be "
			"full, over a quota or a file size limit, or failing (%s, SQLite code %d%s)", what,
			sh__ioerr_doing(ext), path, msg, ext, errno_text);
	case SQLITE_CANTOPEN:
		return sh_error_set(SH_EUNAVAILABLE, "%s: cannot open database %s or its -wal or -shm "
			"file (%s%s)", what, path, msg, errno_text);
	case SQLITE_NOMEM:
		return sh_error_set(SH_ENOMEM, "%s: out of memory (%s)", what, msg);
	default:
		return sh_error_set(SH_EDB, "%s: %s", what, msg);
	}
}

int sh__db_error(sh_db *db, const char *what)
{
	int ext = sqlite3_extended_errcode(db->sqlite);
	if ((ext & 0xff) != SQLITE_CONSTRAINT) {
		/* SQLite keeps a connection that found its file read-only (or
		 * could not open a -wal or -shm file) that way for good: only a
		 * new connection sees the file writable again. */
		int base = ext & 0xff;
		db->unusable = db->unusable || base == SQLITE_READONLY || base == SQLITE_CANTOPEN;
		return sh__sqlite_error(db->sqlite, db->database, what);
	}
	const char *msg = sqlite3_errmsg(db->sqlite);
	/* "UNIQUE constraint failed: table.column[, table.column]" */
	const char *colon = strstr(msg, "failed: ");
	char first[256] = "";
	if (colon != NULL) {
		const char *start = colon + strlen("failed: ");
		size_t n = strcspn(start, ", ");
		if (n < sizeof first) {
			memcpy(first, start, n);
			first[n] = '\0';
		}
	}
	char field[256];
	const char *named = first[0] ? sh__describe_column(db->database, first, field, sizeof field) : NULL;
	if (named != NULL)
		return sh_error_set(SH_EINTEGRITY, "%s: %s (field %s)", what, msg, named);
	return sh_error_set(SH_EINTEGRITY, "%s: %s", what, msg);
}
