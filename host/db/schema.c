/*
 * schema.c: the DDL of models, written as Django's SQLite schema editor
 * writes it (column types of django/db/backends/sqlite3, inline foreign
 * keys DEFERRABLE INITIALLY DEFERRED, indexes for db_index and keys, a
 * unique index per unique-together set), and sh_database_syncdb() that runs
 * it for the models without a table. The schema editor of host/migrate/
 * writes its CREATE TABLE with sh_db__schema_model_sql() too (db.h).
 *
 * Identifiers come only from names the registry validated
 * ([A-Za-z_][A-Za-z0-9_]*) and are quoted all the same; no value is ever
 * written into SQL (Django puts no DEFAULT in CREATE TABLE either: the
 * host applies defaults).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Django's max_name_length() for SQLite is None; its schema editor then
 * keeps index names to 200 characters. */
#define SH__MAX_NAME 200

/* Writes `name` as a quoted identifier ("name", '"' doubled). */
void sh_db__quote(FILE *out, const char *name)
{
	fputc('"', out);
	for (const char *c = name; *c != '\0'; c++) {
		if (*c == '"')
			fputc('"', out);
		fputc(*c, out);
	}
	fputc('"', out);
}

/* The column type of a field that is not a key (Django's data_types). */
static const char *sh_db__plain_type(const sh_field *f, char *buf, size_t size)
{
	switch (f->type) {
	case SH_FIELD_AUTO: return "integer";
	case SH_FIELD_INTEGER: return "integer";
	case SH_FIELD_BIG_INTEGER: return "bigint";
	case SH_FIELD_REAL: return "real";
	case SH_FIELD_BOOLEAN: return "bool";
	case SH_FIELD_DATE: return "date";
	case SH_FIELD_DATETIME: return "datetime";
	case SH_FIELD_JSON: return "text";
	case SH_FIELD_TEXT:
		if (f->max_length <= 0)
			return "text";
		snprintf(buf, size, "varchar(%d)", f->max_length);
		return buf;
	default: return NULL;
	}
}

/* The column type of a field; a key takes its target's primary key's
 * rel_db_type: an AUTO key (Django's BigAutoField) is referenced as bigint. */
static const char *sh_db__column_type(const sh_field *f, char *buf, size_t size)
{
	if (f->type != SH_FIELD_FOREIGN_KEY)
		return sh_db__plain_type(f, buf, size);
	const sh_field *pk = &f->target->fields[f->target->pk];
	return pk->type == SH_FIELD_AUTO ? "bigint" : sh_db__plain_type(pk, buf, size);
}

/* One column definition, as Django's create_model writes it: type, NULL,
 * PRIMARY KEY or UNIQUE, CHECK, AUTOINCREMENT, then an inline REFERENCES. */
static void sh_db__column_sql(FILE *out, const sh_field *f)
{
	char buf[32];
	sh_db__quote(out, f->column);
	fprintf(out, " %s %s", sh_db__column_type(f, buf, sizeof buf), f->null ? "NULL" : "NOT NULL");
	if (f->primary_key)
		fputs(" PRIMARY KEY", out);
	else if (f->unique)
		fputs(" UNIQUE", out);
	if (f->type == SH_FIELD_JSON) {
		fputs(" CHECK ((JSON_VALID(", out);
		sh_db__quote(out, f->column);
		fputs(") OR ", out);
		sh_db__quote(out, f->column);
		fputs(" IS NULL))", out);
	}
	if (f->type == SH_FIELD_AUTO)
		fputs(" AUTOINCREMENT", out);
	if (f->type == SH_FIELD_FOREIGN_KEY) {
		const sh_model *t = f->target;
		fputs(" REFERENCES ", out);
		sh_db__quote(out, t->table);
		fputs(" (", out);
		sh_db__quote(out, t->fields[t->pk].column);
		fputs(") DEFERRABLE INITIALLY DEFERRED", out);
	}
}

/* FNV-1a, 32 bits, over the strings in turn: the short digest in index
 * names (where Django puts the first 8 hex digits of an MD5). */
static uint32_t sh_db__digest(const char *table, const char *const *columns, size_t count)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i <= count; i++)
		for (const char *c = i == 0 ? table : columns[i - 1]; *c != '\0'; c++) {
			h ^= (unsigned char)*c;
			h *= 16777619u;
		}
	return h;
}

/* Django's _create_index_name: "<table>_<columns>_<digest><suffix>",
 * shortened to 200 characters, and never starting with '_' or a digit. */
static char *sh_db__index_name(const char *table, const char *const *columns, size_t count,
	const char *suffix)
{
	char hash[64];
	snprintf(hash, sizeof hash, "%08x%s", sh_db__digest(table, columns, count), suffix);
	char *joined = NULL;
	size_t joined_len = 0;
	FILE *j = open_memstream(&joined, &joined_len);
	if (j == NULL)
		return NULL;
	for (size_t i = 0; i < count; i++)
		fprintf(j, "%s%s", i ? "_" : "", columns[i]);
	if (fclose(j) != 0) {
		free(joined);
		return NULL;
	}
	char *name = NULL;
	int n;
	if (strlen(table) + joined_len + strlen(hash) + 2 <= SH__MAX_NAME) {
		n = asprintf(&name, "%s_%s_%s", table, joined, hash);
	} else {
		int other = (int)((SH__MAX_NAME - strlen(hash)) / 2 - 1);
		n = asprintf(&name, "%.*s_%.*s_%s", other, table, other, joined, hash);
	}
	free(joined);
	if (n < 0)
		return NULL;
	if (name[0] == '_' || (name[0] >= '0' && name[0] <= '9')) {
		memmove(name + 1, name, strlen(name) - 1);
		name[0] = 'D';
	}
	return name;
}

/* Writes CREATE [UNIQUE] INDEX for `columns` of `model`; NULL on ENOMEM. */
static char *sh_db__index_sql(const sh_model *model, const char *const *columns, size_t count,
	bool unique)
{
	char *name = sh_db__index_name(model->table, columns, count, unique ? "_uniq" : "");
	if (name == NULL)
		return NULL;
	char *sql = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&sql, &len);
	if (out == NULL) {
		free(name);
		return NULL;
	}
	fprintf(out, "CREATE %sINDEX ", unique ? "UNIQUE " : "");
	sh_db__quote(out, name);
	fputs(" ON ", out);
	sh_db__quote(out, model->table);
	fputs(" (", out);
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			fputs(", ", out);
		sh_db__quote(out, columns[i]);
	}
	fputs(")", out);
	free(name);
	if (fclose(out) != 0) {
		free(sql);
		return NULL;
	}
	return sql;
}

static char *sh_db__table_sql(const sh_model *model)
{
	char *sql = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&sql, &len);
	if (out == NULL)
		return NULL;
	fputs("CREATE TABLE ", out);
	sh_db__quote(out, model->table);
	fputs(" (", out);
	bool first = true;
	for (size_t i = 0; i < model->field_count; i++) {
		const sh_field *f = &model->fields[i];
		if (f->type == SH_FIELD_MANY_TO_MANY)
			continue;
		if (!first)
			fputs(", ", out);
		first = false;
		sh_db__column_sql(out, f);
	}
	fputs(")", out);
	if (fclose(out) != 0) {
		free(sql);
		return NULL;
	}
	return sql;
}

void sh_db__schema_free(char **stmts, size_t count)
{
	if (stmts == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free(stmts[i]);
	free(stmts);
}

int sh_db__schema_model_sql(const sh_model *model, char ***stmts, size_t *count)
{
	*stmts = NULL;
	*count = 0;
	if (model == NULL || !model->registry->prepared)
		return sh_error_set(SH_EINVAL, "the schema needs a model of a prepared registry");
	size_t max = 1 + model->unique_together_count + model->field_count;
	char **list = calloc(max, sizeof *list);
	if (list == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	size_t n = 0;
	bool ok = (list[n++] = sh_db__table_sql(model)) != NULL;
	for (size_t u = 0; ok && u < model->unique_together_count; u++) {
		const sh__unique_together *set = &model->unique_together[u];
		const char *columns[16];
		size_t c = 0;
		for (; c < set->count && c < 16; c++)
			columns[c] = model->fields[set->fields[c]].column;
		ok = (list[n++] = sh_db__index_sql(model, columns, c, true)) != NULL;
	}
	/* Django's _field_should_be_indexed: db_index and not unique. */
	for (size_t i = 0; ok && i < model->field_count; i++) {
		const sh_field *f = &model->fields[i];
		if (f->column == NULL || !f->db_index || f->unique)
			continue;
		const char *column = f->column;
		ok = (list[n++] = sh_db__index_sql(model, &column, 1, false)) != NULL;
	}
	if (!ok) {
		sh_db__schema_free(list, n);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	*stmts = list;
	*count = n;
	return 0;
}

/* ---- syncdb ---- */

int sh_db__table_exists(sqlite3 *sqlite, const char *table, bool *exists)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(sqlite, "SELECT 1 FROM sqlite_master WHERE type = 'table' "
		"AND name = ?1 COLLATE NOCASE", -1, &stmt, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		*exists = rc == SQLITE_ROW;
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* Stores in *exists whether the table of `model` exists. Returns 0 or the
 * error of sh_db__conn_error(). */
static int sh_db__model_table_exists(sh_conn *db, const sh_model *model, bool *exists)
{
	if (sh_db__table_exists(sh_conn_sqlite(db), model->table, exists) != SQLITE_OK) {
		char what[256];
		snprintf(what, sizeof what, "cannot look for table \"%s\"", model->table);
		return sh_db__conn_error(db, what);
	}
	return 0;
}

static int sh_db__create_model(sh_conn *db, const sh_model *model)
{
	sqlite3 *s = sh_conn_sqlite(db);
	char **stmts;
	size_t count;
	int rc = sh_db__schema_model_sql(model, &stmts, &count);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		if (sqlite3_exec(s, stmts[i], NULL, NULL, NULL) != SQLITE_OK) {
			char what[512];
			snprintf(what, sizeof what, "cannot create table \"%s\" of %s", model->table,
				model->label);
			rc = sh_db__conn_error(db, what);
		}
	}
	sh_db__schema_free(stmts, count);
	return rc;
}

static int sh_db__syncdb_models(sh_conn *db, const sh_models *models)
{
	for (size_t i = 0; i < models->count; i++) {
		bool exists = false;
		int rc = sh_db__model_table_exists(db, models->models[i], &exists);
		if (rc == 0 && !exists)
			rc = sh_db__create_model(db, models->models[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int sh_database_syncdb(sh_conn *db)
{
	if (db == NULL)
		return sh_error_set(SH_EINVAL, "sh_database_syncdb: the connection is required");
	const sh_models *models = sh_database_models(sh_conn_database(db));
	if (models == NULL || !models->prepared)
		return sh_error_set(SH_EINVAL, "sh_database_syncdb: the registry is not prepared");
	int rc = sh_atomic_begin(db);
	if (rc == 0)
		rc = sh_atomic_end(db, sh_db__syncdb_models(db, models));
	return rc;
}
