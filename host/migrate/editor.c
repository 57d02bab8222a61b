/*
 * editor.c: the schema editor of migrations on SQLite (Django's
 * DatabaseSchemaEditor for sqlite3, rewritten from its facts): creating and
 * dropping the tables of rendered state models, rebuilding a table by
 * SQLite's documented procedure (lang_altertable.html, "making other
 * kinds of table schema changes"), renames through ALTER TABLE, and
 * keeping each table's indexes those its model declares.
 *
 * Every CREATE TABLE and CREATE INDEX comes from sh_db__schema_model_sql(),
 * the DDL syncdb runs, so a migrated table is exactly a synced one. Names
 * come from validated identifiers and are quoted; values (defaults copied
 * into rebuilt tables) are bound, never written into SQL. The caller holds
 * the transaction and has turned foreign key enforcement off (SQLite
 * cannot change it inside a transaction), as the procedure requires.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "internal.h"

/* A growing SQL text. */
typedef struct sh__sql {
	char *text;
	size_t len;
	FILE *out;
} sh__sql;

static int sh_migrate__sql_open(sh__sql *s)
{
	s->text = NULL;
	s->len = 0;
	s->out = open_memstream(&s->text, &s->len);
	return s->out ? 0 : sh_error_set(SH_ENOMEM, "out of memory");
}

/* Closes the stream; returns the text (owned) or NULL on ENOMEM. */
static char *sh_migrate__sql_close(sh__sql *s)
{
	if (fclose(s->out) != 0) {
		free(s->text);
		sh_error_set(SH_ENOMEM, "out of memory");
		return NULL;
	}
	return s->text;
}

int sh_migrate__exec(sqlite3 *db, const char *sql)
{
	char *why = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &why) == SQLITE_OK)
		return 0;
	sqlite3_free(why);   /* the same text as sqlite3_errmsg(), which the mapping reads */
	return sh_migrate__sql_error(db, NULL);
}

int sh_migrate__exec_named(sqlite3 *db, const char *before, const char *name, const char *after)
{
	sh__sql s;
	int rc = sh_migrate__sql_open(&s);
	if (rc < 0)
		return rc;
	fputs(before, s.out);
	sh_db__quote(s.out, name);
	fputs(after, s.out);
	char *sql = sh_migrate__sql_close(&s);
	if (sql == NULL)
		return SH_ENOMEM;
	rc = sh_migrate__exec(db, sql);
	free(sql);
	return rc;
}

static int sh_migrate__exec_all(sqlite3 *db, char **stmts, size_t from, size_t count)
{
	for (size_t i = from; i < count; i++) {
		int rc = sh_migrate__exec(db, stmts[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int sh_migrate__editor_table_sql(sqlite3 *db, const char *table, char **out)
{
	*out = NULL;
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = 'table' "
		"AND name = ?1", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sh_migrate__sql_error(db, NULL);
	sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0) != NULL) {
		*out = strdup((const char *)sqlite3_column_text(stmt, 0));
		if (*out == NULL) {
			sqlite3_finalize(stmt);
			return sh_error_set(SH_ENOMEM, "out of memory");
		}
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = sh_migrate__sql_error(db, NULL);
		sqlite3_finalize(stmt);
		return rc;
	}
	sqlite3_finalize(stmt);
	return 0;
}

/* True when field `f` is a many-to-many field with an automatic join model. */
static bool sh_migrate__auto_m2m(const sh_field *f)
{
	return f->type == SH_FIELD_MANY_TO_MANY && f->through != NULL && f->through->auto_created;
}

char *sh_migrate__editor_index_sql(const sh_model *model, const sh__index *index)
{
	sh__sql s;
	if (sh_migrate__sql_open(&s) < 0)
		return NULL;
	fputs("CREATE INDEX ", s.out);
	sh_db__quote(s.out, index->name);
	fputs(" ON ", s.out);
	sh_db__quote(s.out, model->table);
	fputs(" (", s.out);
	bool ok = true;
	for (size_t i = 0; i < index->count; i++) {
		const sh_field *f = sh_model_field(model, index->fields[i]);
		if (f == NULL || f->column == NULL) {
			ok = false;
			sh_error_set(SH_EMANIFEST, "index '%s': %s.%s is not a field with a column",
				index->name, model->label, index->fields[i]);
			break;
		}
		if (i > 0)
			fputs(", ", s.out);
		sh_db__quote(s.out, f->column);
	}
	fputs(")", s.out);
	char *sql = sh_migrate__sql_close(&s);
	if (!ok) {
		free(sql);
		return NULL;
	}
	return sql;
}

static int sh_migrate__create_indexes(sqlite3 *db, const sh_model *model, const sh__index *indexes,
	size_t count)
{
	for (size_t i = 0; i < count; i++) {
		char *sql = sh_migrate__editor_index_sql(model, &indexes[i]);
		if (sql == NULL)
			return sh_error_last()->code ? sh_error_last()->code : SH_ENOMEM;
		int rc = sh_migrate__exec(db, sql);
		free(sql);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int sh_migrate__create_one(sqlite3 *db, const sh_model *model)
{
	char **stmts;
	size_t count;
	int rc = sh_db__schema_model_sql(model, &stmts, &count);
	if (rc == 0)
		rc = sh_migrate__exec_all(db, stmts, 0, count);
	sh_db__schema_free(stmts, count);
	return rc;
}

int sh_migrate__editor_create(sqlite3 *db, const sh_model *model)
{
	int rc = sh_migrate__create_one(db, model);
	for (size_t i = 0; rc == 0 && i < model->field_count; i++)
		if (sh_migrate__auto_m2m(&model->fields[i]))
			rc = sh_migrate__create_one(db, model->fields[i].through);
	return rc;
}

int sh_migrate__editor_delete(sqlite3 *db, const sh_model *model)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < model->field_count; i++)
		if (sh_migrate__auto_m2m(&model->fields[i]))
			rc = sh_migrate__exec_named(db, "DROP TABLE ", model->fields[i].through->table, "");
	if (rc == 0)
		rc = sh_migrate__exec_named(db, "DROP TABLE ", model->table, "");
	return rc;
}

/* ---- rebuilding a table ---- */

static int sh_migrate__bind(sqlite3_stmt *stmt, int index, sh_datum v)
{
	switch (v.type) {
	case SH_DATUM_NULL: return sqlite3_bind_null(stmt, index);
	case SH_DATUM_INT: return sqlite3_bind_int64(stmt, index, v.v.i);
	case SH_DATUM_REAL: return sqlite3_bind_double(stmt, index, v.v.r);
	case SH_DATUM_TEXT: return sqlite3_bind_text(stmt, index, v.v.s, -1, SQLITE_TRANSIENT);
	case SH_DATUM_BOOL: return sqlite3_bind_int(stmt, index, v.v.b ? 1 : 0);
	}
	return SQLITE_MISUSE;
}

/* INSERT INTO "new" (columns) SELECT sources FROM "old", values bound. */
static int sh_migrate__copy_rows(sqlite3 *db, const char *new_table, const char *old_table,
	const sh__copy *copies, size_t n)
{
	if (n == 0)
		return 0;
	sh__sql s;
	int rc = sh_migrate__sql_open(&s);
	if (rc < 0)
		return rc;
	fputs("INSERT INTO ", s.out);
	sh_db__quote(s.out, new_table);
	fputs(" (", s.out);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", s.out);
		sh_db__quote(s.out, copies[i].column);
	}
	fputs(") SELECT ", s.out);
	int param = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", s.out);
		if (copies[i].from != NULL && copies[i].coalesce) {
			fputs("coalesce(", s.out);
			sh_db__quote(s.out, copies[i].from);
			fprintf(s.out, ", ?%d)", ++param);
		} else if (copies[i].from != NULL) {
			sh_db__quote(s.out, copies[i].from);
		} else {
			fprintf(s.out, "?%d", ++param);
		}
	}
	fputs(" FROM ", s.out);
	sh_db__quote(s.out, old_table);
	char *sql = sh_migrate__sql_close(&s);
	if (sql == NULL)
		return SH_ENOMEM;
	sqlite3_stmt *stmt = NULL;
	int src = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	free(sql);
	param = 0;
	for (size_t i = 0; src == SQLITE_OK && i < n; i++)
		if (copies[i].from == NULL || copies[i].coalesce)
			src = sh_migrate__bind(stmt, ++param, copies[i].value);
	if (src == SQLITE_OK)
		src = sqlite3_step(stmt);
	rc = src == SQLITE_DONE ? 0 : sh_migrate__sql_error(db, NULL);
	sqlite3_finalize(stmt);
	return rc;
}

/* Reads the AUTOINCREMENT sequence of `table` into *seq; *found false
 * when it has none (or there is no sqlite_sequence yet). */
static void sh_migrate__read_seq(sqlite3 *db, const char *table, int64_t *seq, bool *found)
{
	*found = false;
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(db, "SELECT seq FROM sqlite_sequence WHERE name = ?1", -1, &stmt,
			NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		*seq = sqlite3_column_int64(stmt, 0);
		*found = true;
	}
	sqlite3_finalize(stmt);
}

/* Keeps ids from being reused after a rebuild: the new table's sequence
 * becomes at least the old one's. */
static int sh_migrate__restore_seq(sqlite3 *db, const char *table, int64_t seq)
{
	sqlite3_stmt *stmt;
	int src = sqlite3_prepare_v2(db, "UPDATE sqlite_sequence SET seq = max(seq, ?2) "
		"WHERE name = ?1", -1, &stmt, NULL);
	if (src == SQLITE_OK) {
		sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, seq);
		src = sqlite3_step(stmt);
		sqlite3_finalize(stmt);
	}
	if (src == SQLITE_DONE && sqlite3_changes(db) == 0) {
		src = sqlite3_prepare_v2(db, "INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)",
			-1, &stmt, NULL);
		if (src == SQLITE_OK) {
			sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
			sqlite3_bind_int64(stmt, 2, seq);
			src = sqlite3_step(stmt);
			sqlite3_finalize(stmt);
		}
	}
	return src == SQLITE_DONE ? 0 : sh_migrate__sql_error(db, NULL);
}

/* The CREATE TABLE of `stmt0` (made for `table`) for the table `other`. */
static char *sh_migrate__create_as(const char *stmt0, const char *table, const char *other)
{
	sh__sql s;
	if (sh_migrate__sql_open(&s) < 0)
		return NULL;
	fputs("CREATE TABLE ", s.out);
	sh_db__quote(s.out, table);
	char *prefix = sh_migrate__sql_close(&s);
	if (prefix == NULL)
		return NULL;
	size_t n = strlen(prefix);
	bool ok = strncmp(stmt0, prefix, n) == 0;
	free(prefix);
	if (!ok) {
		sh_error_set(SH_EDB, "unexpected DDL for table \"%s\"", table);
		return NULL;
	}
	if (sh_migrate__sql_open(&s) < 0)
		return NULL;
	fputs("CREATE TABLE ", s.out);
	sh_db__quote(s.out, other);
	fputs(stmt0 + n, s.out);
	return sh_migrate__sql_close(&s);
}

int sh_migrate__editor_remake(sqlite3 *db, const char *old_table, const sh_model *model,
	const sh__copy *copies, size_t copy_count, const sh__index *indexes, size_t index_count)
{
	char **stmts;
	size_t count;
	int rc = sh_db__schema_model_sql(model, &stmts, &count);
	if (rc < 0)
		return rc;
	char *temp = sh_base__format("new__%s", model->table);
	char *create = temp ? sh_migrate__create_as(stmts[0], model->table, temp) : NULL;
	if (create == NULL) {
		int last = sh_error_last()->code;
		rc = last < 0 ? last : SH_ENOMEM;
	}
	int64_t seq = 0;
	bool has_seq = false;
	if (rc == 0) {
		sh_migrate__read_seq(db, old_table, &seq, &has_seq);
		rc = sh_migrate__exec(db, create);
	}
	if (rc == 0)
		rc = sh_migrate__copy_rows(db, temp, old_table, copies, copy_count);
	if (rc == 0)
		rc = sh_migrate__exec_named(db, "DROP TABLE ", old_table, "");
	if (rc == 0) {
		sh__sql s;
		rc = sh_migrate__sql_open(&s);
		if (rc == 0) {
			fputs("ALTER TABLE ", s.out);
			sh_db__quote(s.out, temp);
			fputs(" RENAME TO ", s.out);
			sh_db__quote(s.out, model->table);
			char *sql = sh_migrate__sql_close(&s);
			rc = sql ? sh_migrate__exec(db, sql) : SH_ENOMEM;
			free(sql);
		}
	}
	if (rc == 0)
		rc = sh_migrate__exec_all(db, stmts, 1, count);
	if (rc == 0)
		rc = sh_migrate__create_indexes(db, model, indexes, index_count);
	if (rc == 0 && has_seq && model->fields[model->pk].type == SH_FIELD_AUTO)
		rc = sh_migrate__restore_seq(db, model->table, seq);
	free(create);
	free(temp);
	sh_db__schema_free(stmts, count);
	return rc;
}

int sh_migrate__editor_remake_same(sqlite3 *db, const sh_model *old, const sh_model *model,
	const sh__index *indexes, size_t index_count)
{
	sh__copy *copies = calloc(model->field_count ? model->field_count : 1, sizeof *copies);
	if (copies == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	size_t n = 0;
	for (size_t i = 0; i < model->field_count; i++) {
		const sh_field *f = &model->fields[i];
		if (f->column == NULL)
			continue;
		const sh_field *o = sh_db__model_field(old, f->column);
		if (o == NULL || o->column == NULL)
			continue;
		copies[n++] = (sh__copy){ f->column, o->column, false, sh_datum_null() };
	}
	int rc = sh_migrate__editor_remake(db, old->table, model, copies, n, indexes, index_count);
	free(copies);
	return rc;
}

/* ---- indexes ---- */

/* The quoted name of CREATE [UNIQUE] INDEX "name" ..., into buf. */
static bool sh_migrate__index_name(const char *sql, char *buf, size_t size)
{
	const char *q = strchr(sql, '"');
	if (q == NULL)
		return false;
	size_t n = 0;
	for (const char *c = q + 1; *c != '\0'; c++) {
		if (*c == '"') {
			if (c[1] != '"')
				break;
			c++;
		}
		if (n + 1 >= size)
			return false;
		buf[n++] = *c;
	}
	buf[n] = '\0';
	return true;
}

/* The index statements a model and its add_index indexes declare. */
typedef struct sh__index_set {
	char **sql;
	char **names;
	size_t count;
} sh__index_set;

static void sh_migrate__index_set_dispose(sh__index_set *set)
{
	for (size_t i = 0; i < set->count; i++) {
		free(set->sql[i]);
		free(set->names[i]);
	}
	free(set->sql);
	free(set->names);
	*set = (sh__index_set){ NULL, NULL, 0 };
}

static int sh_migrate__index_set_make(sh__index_set *set, const sh_model *model,
	const sh__index *indexes, size_t index_count)
{
	*set = (sh__index_set){ NULL, NULL, 0 };
	if (model == NULL)
		return 0;
	char **stmts;
	size_t count;
	int rc = sh_db__schema_model_sql(model, &stmts, &count);
	if (rc < 0)
		return rc;
	size_t max = count + index_count;
	set->sql = calloc(max ? max : 1, sizeof *set->sql);
	set->names = calloc(max ? max : 1, sizeof *set->names);
	if (set->sql == NULL || set->names == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	for (size_t i = 1; rc == 0 && i < count; i++) {
		set->sql[set->count] = stmts[i];
		stmts[i] = NULL;
		set->count++;
	}
	for (size_t i = 0; rc == 0 && i < index_count; i++) {
		if ((set->sql[set->count] = sh_migrate__editor_index_sql(model, &indexes[i])) == NULL)
			rc = sh_error_last()->code < 0 ? sh_error_last()->code : SH_ENOMEM;
		else
			set->count++;
	}
	for (size_t i = 0; rc == 0 && i < set->count; i++) {
		char name[512];
		if (!sh_migrate__index_name(set->sql[i], name, sizeof name)
				|| (set->names[i] = strdup(name)) == NULL)
			rc = sh_error_set(SH_ENOMEM, "out of memory");
	}
	sh_db__schema_free(stmts, count);
	if (rc < 0)
		sh_migrate__index_set_dispose(set);
	return rc;
}

static long sh_migrate__index_set_find(const sh__index_set *set, const char *name)
{
	for (size_t i = 0; i < set->count; i++)
		if (set->names[i] != NULL && strcmp(set->names[i], name) == 0)
			return (long)i;
	return -1;
}

int sh_migrate__editor_sync_indexes(sqlite3 *db, const sh_model *old, const sh__index *old_indexes,
	size_t old_index_count, const sh_model *model, const sh__index *indexes,
	size_t index_count)
{
	sh__index_set want, had;
	int rc = sh_migrate__index_set_make(&want, model, indexes, index_count);
	if (rc < 0)
		return rc;
	if ((rc = sh_migrate__index_set_make(&had, old, old_indexes, old_index_count)) < 0) {
		sh_migrate__index_set_dispose(&want);
		return rc;
	}
	bool *present = calloc(want.count ? want.count : 1, sizeof *present);
	char **drop = calloc(had.count + want.count + 1, sizeof *drop);
	size_t drop_count = 0;
	sqlite3_stmt *stmt = NULL;
	if (present == NULL || drop == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	else if (sqlite3_prepare_v2(db, "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
			"AND tbl_name = ?1 AND sql IS NOT NULL", -1, &stmt, NULL) != SQLITE_OK)
		rc = sh_migrate__sql_error(db, NULL);
	if (rc == 0) {
		sqlite3_bind_text(stmt, 1, model->table, -1, SQLITE_STATIC);
		int src;
		while (rc == 0 && (src = sqlite3_step(stmt)) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(stmt, 0);
			const char *sql = (const char *)sqlite3_column_text(stmt, 1);
			long w = sh_migrate__index_set_find(&want, name);
			if (w >= 0 && strcmp(want.sql[w], sql) == 0) {
				present[w] = true;
			} else if (w >= 0 || sh_migrate__index_set_find(&had, name) >= 0) {
				if ((drop[drop_count] = strdup(name)) == NULL)
					rc = sh_error_set(SH_ENOMEM, "out of memory");
				else
					drop_count++;
			}
		}
		if (rc == 0 && src != SQLITE_DONE)
			rc = sh_migrate__sql_error(db, NULL);
	}
	sqlite3_finalize(stmt);
	for (size_t i = 0; rc == 0 && i < drop_count; i++)
		rc = sh_migrate__exec_named(db, "DROP INDEX ", drop[i], "");
	for (size_t i = 0; rc == 0 && i < want.count; i++)
		if (!present[i])
			rc = sh_migrate__exec(db, want.sql[i]);
	for (size_t i = 0; i < drop_count; i++)
		free(drop[i]);
	free(drop);
	free(present);
	sh_migrate__index_set_dispose(&want);
	sh_migrate__index_set_dispose(&had);
	return rc;
}

/* ---- renames ---- */

static int sh_migrate__rename_table(sqlite3 *db, const char *from, const char *to)
{
	sh__sql s;
	int rc = sh_migrate__sql_open(&s);
	if (rc < 0)
		return rc;
	fputs("ALTER TABLE ", s.out);
	sh_db__quote(s.out, from);
	fputs(" RENAME TO ", s.out);
	sh_db__quote(s.out, to);
	char *sql = sh_migrate__sql_close(&s);
	rc = sql ? sh_migrate__exec(db, sql) : SH_ENOMEM;
	free(sql);
	return rc;
}

static int sh_migrate__rename_column(sqlite3 *db, const char *table, const char *from, const char *to)
{
	sh__sql s;
	int rc = sh_migrate__sql_open(&s);
	if (rc < 0)
		return rc;
	fputs("ALTER TABLE ", s.out);
	sh_db__quote(s.out, table);
	fputs(" RENAME COLUMN ", s.out);
	sh_db__quote(s.out, from);
	fputs(" TO ", s.out);
	sh_db__quote(s.out, to);
	char *sql = sh_migrate__sql_close(&s);
	rc = sql ? sh_migrate__exec(db, sql) : SH_ENOMEM;
	free(sql);
	return rc;
}

/* The columns of a model, in order (many-to-many fields have none). */
static size_t sh_migrate__columns(const sh_model *m, const char **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < m->field_count && n < max; i++)
		if (m->fields[i].column != NULL)
			out[n++] = m->fields[i].column;
	return n;
}

int sh_migrate__editor_morph(sqlite3 *db, const sh_model *old, const sh_model *model,
	const sh__index *old_indexes, size_t old_index_count,
	const sh__index *indexes, size_t index_count)
{
	int rc = 0;
	if (strcmp(old->table, model->table) != 0)
		rc = sh_migrate__rename_table(db, old->table, model->table);
	const char *oc[512], *nc[512];
	size_t on = sh_migrate__columns(old, oc, 512), nn = sh_migrate__columns(model, nc, 512);
	bool same_shape = on == nn && old->field_count < 512 && model->field_count < 512;
	for (size_t i = 0; rc == 0 && same_shape && i < nn; i++)
		if (strcmp(oc[i], nc[i]) != 0)
			rc = sh_migrate__rename_column(db, model->table, oc[i], nc[i]);
	if (rc < 0)
		return rc;
	/* What SQLite keeps must be what the model declares; else rebuild. */
	char **stmts;
	size_t count;
	if ((rc = sh_db__schema_model_sql(model, &stmts, &count)) < 0)
		return rc;
	char *actual = NULL;
	rc = sh_migrate__editor_table_sql(db, model->table, &actual);
	bool same = rc == 0 && actual != NULL && strcmp(actual, stmts[0]) == 0;
	free(actual);
	sh_db__schema_free(stmts, count);
	if (rc < 0)
		return rc;
	if (!same) {
		if (!same_shape)
			return sh_error_set(SH_EDB, "cannot rename the columns of \"%s\": its columns "
				"changed", model->table);
		return sh_migrate__editor_remake_same(db, model, model, indexes, index_count);
	}
	return sh_migrate__editor_sync_indexes(db, old, old_indexes, old_index_count, model, indexes,
		index_count);
}
