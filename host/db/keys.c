/*
 * keys.c: rows by key, for the save, delete and prefetch paths: the
 * foreign-key checks a write makes (SQLite's deferred-violation status,
 * then which value points at no row), and statements over a list of keys
 * (the collector's "rows whose key is one of these", prefetch's "rows
 * related to these").
 *
 * A list of keys is bound as one JSON array and expanded by SQLite's
 * json_each(), so one cached statement serves any number of keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

bool sh_db__fk_pending(sh_conn *db)
{
	int cur = 0, high = 0;
	sqlite3_db_status(db->sqlite, SQLITE_DBSTATUS_DEFERRED_FKS, &cur, &high, 0);
	return cur != 0;
}

int sh_db__fk_missing(sh_conn *db, const sh_field *f, int64_t value)
{
	sqlite3_stmt *stmt;
	int rc = sh_db__model_stmt(db, sh__sql_of(db, f->target), SH__SQL_EXISTS_PK, &stmt);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, value);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return 1;
	return sh_db__conn_error(db, "checking a foreign key");
}

/* SQLite's status only says whether some violation is pending: when one
 * is, look for a value among `fields` whose target row is missing. */
int sh_db__deferred_fk_check(sh_conn *db, const sh_field *const *fields, const sh_datum *values,
	size_t count, const char *what)
{
	if (!sh_db__fk_pending(db))
		return 0;
	for (size_t i = 0; i < count; i++) {
		const sh_field *f = fields[i];
		if (f->type != SH_FIELD_FOREIGN_KEY || values[i].type != SH_DATUM_INT)
			continue;
		int rc = sh_db__fk_missing(db, f, values[i].v.i);
		if (rc < 0)
			return rc;
		if (rc == 1)
			return sh_error_set(SH_EINTEGRITY, "%s: FOREIGN KEY constraint failed: %s.%s is "
				"%lld, but no %s has that pk", what, f->model->label, f->name,
				(long long)values[i].v.i, f->target->label);
	}
	return 0;
}

char *sh_db__json_keys(const int64_t *keys, size_t count)
{
	sh__buf buf = { 0 };
	sh_db__buf_add(&buf, "[");
	for (size_t i = 0; i < count; i++)
		sh_db__buf_addf(&buf, i ? ",%lld" : "%lld", (long long)keys[i]);
	sh_db__buf_add(&buf, "]");
	return sh_db__buf_take(&buf);
}

int sh_db__load_where_in(sh_conn *db, const sh_model *model, const sh_field *field,
	const int64_t *keys, size_t key_count, sh_instance ***items, size_t *count,
	size_t *capacity)
{
	const sh__model_sql *msql = sh__sql_of(db, model);
	sh__buf buf = { 0 };
	sh_db__buf_add(&buf, msql->select);
	sh_db__buf_add(&buf, " WHERE ");
	sh_db__buf_ident(&buf, field->column);
	sh_db__buf_add(&buf, " IN (SELECT value FROM json_each(?)) ORDER BY ");
	sh_db__buf_ident(&buf, model->fields[model->pk].column);
	char *sql = sh_db__buf_take(&buf);
	char *json = sh_db__json_keys(keys, key_count);
	size_t first = *count;
	int rc = 0;
	if (sql == NULL || json == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory loading %s", model->label);
	sqlite3_stmt *stmt = NULL;
	if (rc == 0)
		rc = sh_db__conn_prepare(db, sql, &stmt);
	if (rc == 0)
		rc = sh_db__conn_bind(db, stmt, 1, sh_datum_text(json));
	/* Read every row before any receiver runs: the statement is cached. */
	while (rc == 0) {
		int step = sqlite3_step(stmt);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW) {
			rc = sh_db__conn_error(db, "loading related rows");
			break;
		}
		if (*count == *capacity) {
			size_t cap = *capacity ? 2 * *capacity : 16;
			sh_instance **grown = realloc(*items, cap * sizeof *grown);
			if (grown == NULL) {
				rc = sh_error_set(SH_ENOMEM, "out of memory loading %s", model->label);
				break;
			}
			*items = grown;
			*capacity = cap;
		}
		rc = sh_db__instance_from_row(&(*items)[*count], db, msql, stmt);
		if (rc == 0)
			(*count)++;
	}
	if (stmt != NULL)
		sqlite3_reset(stmt);
	free(sql);
	free(json);
	for (size_t i = first; rc == 0 && i < *count; i++)
		rc = sh_db__instance_loaded((*items)[i]);
	return rc;
}

int sh_db__exec_where_in(sh_conn *db, const char *sql_head, const char *column,
	const sh_datum *pre, size_t pre_count, const int64_t *keys, size_t key_count,
	int64_t *changes, const char *what)
{
	sh__buf buf = { 0 };
	sh_db__buf_add(&buf, sql_head);
	sh_db__buf_add(&buf, strstr(sql_head, " WHERE ") ? " AND " : " WHERE ");
	sh_db__buf_ident(&buf, column);
	sh_db__buf_add(&buf, " IN (SELECT value FROM json_each(?))");
	char *sql = sh_db__buf_take(&buf);
	char *json = sh_db__json_keys(keys, key_count);
	int rc = 0;
	if (sql == NULL || json == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory: %s", what);
	sqlite3_stmt *stmt = NULL;
	if (rc == 0)
		rc = sh_db__conn_prepare(db, sql, &stmt);
	for (size_t i = 0; rc == 0 && i < pre_count; i++)
		rc = sh_db__conn_bind(db, stmt, (int)i + 1, pre[i]);
	if (rc == 0)
		rc = sh_db__conn_bind(db, stmt, (int)pre_count + 1, sh_datum_text(json));
	if (rc == 0)
		rc = sh_db__conn_exec(db, stmt, what);
	if (rc == 0 && changes != NULL)
		*changes += sqlite3_changes64(db->sqlite);
	free(sql);
	free(json);
	return rc;
}
