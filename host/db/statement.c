/*
 * statement.c: the statement caches of a connection, and preparing,
 * binding and running statements.
 *
 * Statements come from two caches of the connection: the per-model
 * statements (INSERT, UPDATE, SELECT by pk, ...), whose SQL the database
 * builds once per model at open (model_sql.c), reached by index with no
 * lookup at all on the save path; and a small cache keyed by SQL text
 * (sh_db__conn_prepare) for the statements queries and the collector
 * build. A cached statement is always stepped to its end (or reset) before
 * any receiver runs, so a receiver that runs the same statement cannot
 * disturb it; iteration, which must call receivers between rows, prepares
 * a statement of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

#define SH__STMT_CACHE_MAX 64
/* Spare iteration statements kept per connection: enough for the
 * distinct queries a request runs, few enough to stay small. */
#define SH__STMT_SPARES_MAX 16

/* ---- statements ---- */

static int sh_db__prepare_raw(sh_conn *db, const char *sql, unsigned flags, sqlite3_stmt **out)
{
	int rc = sqlite3_prepare_v3(db->sqlite, sql, -1, flags, out, NULL);
	if (rc != SQLITE_OK) {
		*out = NULL;
		char what[512];
		snprintf(what, sizeof what, "cannot prepare SQL [%s]", sql);
		return sh_db__conn_error(db, what);
	}
	return 0;
}

int sh_db__conn_stmt_take(sh_conn *db, const char *sql, sqlite3_stmt **out)
{
	uint64_t hash = sh_db__hash(sql);
	for (size_t i = 0; i < db->spare_count; i++) {
		sh__stmt *s = &db->spares[i];
		if (s->hash == hash && strcmp(sqlite3_sql(s->stmt), sql) == 0) {
			*out = s->stmt;
			*s = db->spares[--db->spare_count];
			return 0;
		}
	}
	return sh_db__prepare_raw(db, sql, SQLITE_PREPARE_PERSISTENT, out);
}

void sh_db__conn_stmt_give(sh_conn *db, sqlite3_stmt *stmt)
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
	db->spares[db->spare_count++] = (sh__stmt){ NULL, stmt, sh_db__hash(sqlite3_sql(stmt)) };
}

int sh_db__conn_prepare(sh_conn *db, const char *sql, sqlite3_stmt **out)
{
	uint64_t hash = sh_db__hash(sql);
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
	int rc = sh_db__prepare_raw(db, sql, SQLITE_PREPARE_PERSISTENT, &stmt);
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

int sh_db__model_stmt(sh_conn *db, const sh__model_sql *msql, sh__sql_kind kind,
	sqlite3_stmt **out)
{
	sqlite3_stmt **slot = &db->model_stmts->models[msql->model->index].stmt[kind];
	if (SH__LIKELY(*slot != NULL)) {
		*out = *slot;
		return 0;
	}
	if (msql->sql[kind] == NULL)
		return sh_error_set(SH_EINVAL, "%s has no statement of kind %d", msql->model->label, (int)kind);
	int rc = sh_db__prepare_raw(db, msql->sql[kind], SQLITE_PREPARE_PERSISTENT, slot);
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

int sh_db__tx_stmt(sh_conn *db, sh__tx_kind kind, sqlite3_stmt **out)
{
	sqlite3_stmt **slot = &db->model_stmts->tx[kind];
	if (SH__LIKELY(*slot != NULL)) {
		*out = *slot;
		return 0;
	}
	int rc = sh_db__prepare_raw(db, sh__tx_sql[kind], SQLITE_PREPARE_PERSISTENT, slot);
	*out = *slot;
	return rc;
}

int sh_db__conn_exec(sh_conn *db, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);
	int code = 0;
	if (SH__UNLIKELY(rc != SQLITE_DONE && rc != SQLITE_ROW))
		code = sh_db__conn_error(db, what);
	sqlite3_reset(stmt);
	return code;
}

int sh_db__conn_bind(sh_conn *db, sqlite3_stmt *stmt, int index, sh_datum value)
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
		return sh_db__conn_error(db, what);
	}
	return 0;
}
