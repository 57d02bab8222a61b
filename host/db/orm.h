/*
 * orm.h: what the files of the database half of host/db/ share (connection,
 * transactions, instances, save, queries, delete, m2m, bulk) and nothing
 * else includes: the SQL each model needs, built once when the database is
 * opened, the statements each connection prepares from it, and the small
 * helpers (SQL text building, value conversion, signal sends) they all use.
 *
 * Ownership: the database owns its sh__orm (freed at close); a connection
 * owns its sh__conn_stmts (finalized when it closes). Everything here is
 * derived from the prepared, immutable registry, so it is read without locks.
 */
#ifndef SH_DB_ORM_H
#define SH_DB_ORM_H

#include <stdarg.h>

#include "internal.h"

#define SH__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SH__LIKELY(x) __builtin_expect(!!(x), 1)

/* Rare paths (errors, formats other than plain text, update_fields) are
 * kept out of line, so the per-row paths (create, set, save, load) take
 * few instruction-cache lines beside SQLite's interpreter. */
#define SH__COLD __attribute__((cold, noinline))
#define SH__NOINLINE __attribute__((noinline))

/* The statements every model has, one SQL text each. */
typedef enum sh__sql_kind {
	SH__SQL_INSERT,      /* every column but an AUTO primary key */
	SH__SQL_INSERT_PK,   /* every column, the primary key included */
	SH__SQL_UPDATE,      /* every non-pk column, WHERE pk = ? */
	SH__SQL_SELECT_PK,   /* every column, WHERE pk = ? */
	SH__SQL_EXISTS_PK,   /* SELECT 1 ... WHERE pk = ? */
	SH__SQL_KIND_COUNT
} sh__sql_kind;

/* How a column's value is read back (by field type). */
enum { SH__KIND_INT, SH__KIND_REAL, SH__KIND_BOOL, SH__KIND_TEXT };

/* What the database knows of one model beyond the registry. */
typedef struct sh__model_sql {
	const sh_model *model;
	size_t *columns;          /* indexes of the fields with a column, field order */
	unsigned char *kinds;     /* SH__KIND_ of each column */
	size_t column_count;
	char *select;             /* "SELECT <columns> FROM <table>" */
	char *sql[SH__SQL_KIND_COUNT];
	sh_datum *defaults;       /* per field: a new instance's value (Django's get_default();
	                           * text borrowed from the field), NULL for many-to-many */
	size_t *required;         /* the non-pk columns that do not allow null, field order */
	size_t required_count;
	size_t first_field;       /* where a name lookup starts guessing: the first non-pk field */
	bool has_m2m;             /* some field has no column: loading compacts pre_init's args */
	bool has_auto_now;        /* some field is auto_now or auto_now_add */
	size_t auto_count;        /* how many are */
	bool auto_pk;             /* the primary key is an AUTO field */
	bool has_fk;              /* some field is a foreign key */
	/* Foreign keys pointing at this model, from every model (join models
	 * included), in registry then field order: Django's candidate relations
	 * to delete. */
	sh__reverse *related;
	size_t related_count;
	/* Many-to-many fields whose target is this model (their reverse side). */
	sh__reverse *reverse_m2m;
	size_t reverse_m2m_count;
} sh__model_sql;

struct sh__orm {
	size_t model_count;
	sh__model_sql *models;    /* indexed by sh_model.index */
	sh_signal *signals[SH_BUILTIN_COUNT];
};

/* A cached UPDATE of some fields only (save with update_fields). */
typedef struct sh__partial_update {
	uint64_t mask;            /* bit i: field i is set */
	sqlite3_stmt *stmt;
} sh__partial_update;

#define SH__PARTIAL_MAX 4

/* One model's statements on one connection, prepared on first use. */
typedef struct sh__model_stmts {
	sqlite3_stmt *stmt[SH__SQL_KIND_COUNT];
	sh__partial_update partial[SH__PARTIAL_MAX];
	unsigned partial_next;    /* the slot the next new mask replaces */
} sh__model_stmts;

/* Transaction statements. */
typedef enum sh__tx_kind {
	SH__TX_BEGIN, SH__TX_COMMIT, SH__TX_ROLLBACK,
	SH__TX_SAVEPOINT, SH__TX_RELEASE, SH__TX_ROLLBACK_TO,
	SH__TX_KIND_COUNT
} sh__tx_kind;

struct sh__conn_stmts {
	size_t model_count;
	sh__model_stmts *models;  /* indexed by sh_model.index */
	sqlite3_stmt *tx[SH__TX_KIND_COUNT];
};

/* ---- connection.c ---- */

/* The collation every connection registers for datetime comparisons. */
#define SH__DATETIME_COLLATION "sh_datetime"

/* Returns the model's SQL, or NULL (SH_EINVAL raised) when the model is
 * not one of the connection's registry. */
static inline const sh__model_sql *sh__sql_of(const sh_conn *db, const sh_model *model)
{
	const struct sh__orm *orm = db->database->orm;
	if (SH__UNLIKELY(model == NULL || model->registry != db->database->models
			|| model->index >= orm->model_count))
		return NULL;
	return &orm->models[model->index];
}

/* Raises the error of a model that does not belong to the connection's
 * registry. Returns SH_EINVAL. */
int sh_db__foreign_model(const sh_conn *db, const sh_model *model);

/* Returns the connection's statement `kind` of `model`, prepared on first
 * use and reset. Stores it in *out. Returns 0 or SH_EDB. */
int sh_db__model_stmt(sh_conn *db, const sh__model_sql *msql, sh__sql_kind kind,
	sqlite3_stmt **out);

/* Returns the connection's transaction statement `kind`, reset. */
int sh_db__tx_stmt(sh_conn *db, sh__tx_kind kind, sqlite3_stmt **out);

/* Returns the signal `id` of the database's hub. */
static inline sh_signal *sh__signal(const sh_conn *db, sh_builtin id)
{
	return db->database->orm->signals[id];
}

/* Steps a statement that returns no row, then resets it. Returns 0 or the
 * error of sh_db__conn_error() with `what`. */
int sh_db__conn_exec(sh_conn *db, sqlite3_stmt *stmt, const char *what);

/* Hands out a statement for `sql` that the caller holds until it gives it
 * back with sh_db__conn_stmt_give(): one of the connection's spares when one was
 * prepared from the same text, else a newly prepared one. For statements
 * that stay open while receivers run (iteration), which may take statements
 * of the same text meanwhile. Returns 0, or SH_EDB with *out NULL. */
int sh_db__conn_stmt_take(sh_conn *db, const char *sql, sqlite3_stmt **out);

/* Takes back a statement from sh_db__conn_stmt_take(): resets it and keeps it
 * as a spare, or finalizes it when the connection has enough spares. NULL
 * is a no-op. */
void sh_db__conn_stmt_give(sh_conn *db, sqlite3_stmt *stmt);

/* Maps "table.column" (SQLite's constraint messages) to "app.Model.field"
 * in buf; returns buf, or NULL when the table is not a model's. */
const char *sh_db__describe_column(const sh_database *database, const char *table_column,
	char *buf, size_t size);

/* ---- transaction.c ---- */

/*
 * The atomicity of the model layer's operations (save, delete, the m2m
 * changes, bulk create, query update), as Django's: outside any atomic
 * block an operation runs in a transaction of its own (BEGIN IMMEDIATE ...
 * COMMIT, ROLLBACK when it fails); inside one it opens no savepoint, and
 * when it fails it marks the innermost block for rollback with its code
 * (Django's atomic(savepoint=False) and mark_for_rollback_on_error), so
 * that block's sh_atomic_end() rolls back and reports the failure.
 *
 * sh__op_begin() stores in *own whether the operation opened its own
 * transaction and returns 0 or sh_atomic_begin()'s error. sh_db__op_end()
 * closes it (or marks the block) and returns the operation's result:
 * `status`, or the commit's error, or the code of an operation of its
 * receivers that failed in its own transaction (and so marked it), or
 * SH_EDB when a receiver marked that transaction with
 * sh_atomic_set_rollback() (the operation was undone: it must not report
 * success). `verb` and
 * `label` name the operation for that message ("saving", "shop.Alert").
 */
static inline int sh__op_begin(sh_conn *db, bool *own)
{
	/* A transaction opened with raw SQL, outside sh_atomic_begin(), is the
	 * caller's to end: the operation runs in it and has no block to mark. */
	*own = db->depth == 0 && sqlite3_get_autocommit(db->sqlite);
	return *own ? sh_atomic_begin(db) : 0;
}

int sh_db__op_end(sh_conn *db, bool own, int status, const char *verb, const char *label);

/* Marks the innermost open block for rollback because an operation failed
 * with `code` (its message, the error channel's, is kept for the block's
 * end). Keeps the first failure of a block. Returns `code`. */
int sh_db__mark_failed(sh_conn *db, int code);

/* ---- detached copies (copy.c; sh_db__set_model_copiers is in internal.h) ---- */

/* Refuses a detached instance (an async receiver's copy) for `what`
 * ("save", "delete", "change the relations of"). Returns 0 or SH_EINVAL. */
static inline int sh__attached(const sh_instance *instance, const char *what)
{
	if (SH__LIKELY(instance->db != NULL))
		return 0;
	return sh_error_set(SH_EINVAL, "cannot %s this %s: it is a copy handed to an asynchronous "
		"receiver and belongs to no connection; reload it on the worker's own connection "
		"(sh_database_connection(), then sh_query_get() by its pk) and use that one", what,
		instance->model->label);
}

/* ---- sql text (sqlbuf.c) ---- */

/* A growing NUL-terminated string. `failed` is sticky: check it once at the end. */
typedef struct sh__buf {
	char *data;
	size_t len, cap;
	bool failed;
} sh__buf;

void sh_db__buf_add(sh__buf *buf, const char *s);
void sh_db__buf_addf(sh__buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends an identifier from the registry, double-quoted. */
void sh_db__buf_ident(sh__buf *buf, const char *name);
/* Appends ", ?" count times (no leading comma for the first). */
void sh_db__buf_params(sh__buf *buf, size_t count);
/* Returns the string (owned by the caller) or NULL after a failure, and
 * empties the buffer. */
char *sh_db__buf_take(sh__buf *buf);
/* FNV-1a over a string. */
uint64_t sh_db__hash(const char *s);

/* ---- instance.c ---- */

/* Converts `in` to the type of `field` and checks it (text length, ISO-8601
 * dates, JSON). Text results point into `in` or into `scratch` (a date or
 * datetime written in canonical form), which must hold SH__SCRATCH bytes.
 * Returns 0 or SH_EINVAL naming model and field. */
#define SH__SCRATCH 96
int sh_db__convert(const sh_field *field, sh_datum in, sh_datum *out, char *scratch);

/* sh_db__convert() that also stores the byte length of a text result in *len
 * (0 for other results), so the caller need not measure it again. */
int sh_db__convert_len(const sh_field *field, sh_datum in, sh_datum *out, char *scratch,
	size_t *len);

/* Sets values[field] of the instance to `value`, already converted, whose
 * text is `len` bytes long (for text values): copies its text (reusing the
 * current allocation when it fits). Returns 0 or SH_ENOMEM. */
/* qsort's comparison of two sh_instance pointers by primary key. */
int sh_db__instance_cmp_pk(const void *a, const void *b);
int sh_db__instance_store(sh_instance *instance, size_t field, sh_datum value);
int sh_db__instance_store_len(sh_instance *instance, size_t field, sh_datum value, size_t len);

/* Builds an instance from the current row of `stmt`, whose columns are the
 * model's columns from column 0, without sending signals. The instance is
 * one allocation (values and text together). Returns 0, SH_ENOMEM. */
int sh_db__instance_from_row(sh_instance **out, sh_conn *db, const sh__model_sql *msql,
	sqlite3_stmt *stmt);

/* The same reading the model's columns from column `first` of the row,
 * without the fields `deferred` marks (NULL: none; they stay NULL and the
 * instance remembers them as deferred). */
int sh_db__instance_from_row_at(sh_instance **out, sh_conn *db, const sh__model_sql *msql,
	sqlite3_stmt *stmt, int first, const bool *deferred);

/* The room an instance keeps for the text of each auto_now / auto_now_add
 * field: "YYYY-MM-DDTHH:MM:SS.ffffffZ" and its NUL fit. */
#define SH__AUTO_TEXT 32

/* Writes the current UTC time for an auto_now field of `type` (DATE or
 * DATETIME) into buf (SH__SCRATCH bytes). */
void sh_db__now_text(sh_field_type type, char *buf);

/* Returns "app.Model pk=N" style text of an instance's pk into buf. */
const char *sh_db__pk_text(const sh_instance *instance, char *buf, size_t size);

/* ---- save.c ---- */

/* Sets the auto_now (always) and auto_now_add (when `adding`) fields among
 * `selected` (NULL: every field). Returns 0 or SH_ENOMEM. */
int sh_db__apply_auto_now(sh_instance *instance, const bool *selected, bool adding);

/* Checks that no field among those written (`selected`, NULL: every
 * column but the pk) is NULL without null=true. Returns 0 or SH_EINVAL
 * ("<what> <model> pk=N: field 'x' is NULL ..."). */
int sh_db__check_not_null(const sh_instance *instance, const bool *selected, const char *what);

/* Binds the instance's values of the model's columns, skipping the pk when
 * `skip_pk`, from parameter `first`. Returns the next parameter index. */
int sh_db__bind_columns(sh_conn *db, sqlite3_stmt *stmt, const sh__model_sql *msql,
	const sh_instance *instance, bool skip_pk, int first);

/* After SQLITE_CONSTRAINT_FOREIGNKEY: finds which foreign key of the
 * instance points at no row and raises SH_EINTEGRITY naming it (or a
 * generic message). Returns SH_EINTEGRITY. */
int sh_db__foreign_key_error(sh_instance *instance, const char *what);

/* After a write inside a transaction, where SQLite defers foreign key
 * checks to COMMIT (the keys are DEFERRABLE INITIALLY DEFERRED, as
 * Django's): when SQLite has a violation pending, looks for a foreign key
 * among the written fields (`selected`, NULL: all) whose target row is
 * missing and raises SH_EINTEGRITY naming it. Returns 0 when none is. */
int sh_db__instance_fk_check(sh_instance *instance, const bool *selected, const char *what);

/* ---- query.c ---- */

/* Loads every row of `model` whose field `field` is one of `keys` (ordered
 * by pk), with the loading signals, appending the instances to *items
 * (grown as needed). Returns 0 or a negative code (instances loaded so far
 * stay in *items). */
int sh_db__load_where_in(sh_conn *db, const sh_model *model, const sh_field *field,
	const int64_t *keys, size_t key_count, sh_instance ***items, size_t *count,
	size_t *capacity);

/* Runs `sql_head` + " WHERE <column> IN (...)" (+ `sql_tail`) for `keys`
 * in batches, binding `pre` (count `pre_count`) first. Adds
 * sqlite3_changes() to *changes when non-NULL. Returns 0 or an error. */
int sh_db__exec_where_in(sh_conn *db, const char *sql_head, const char *column,
	const sh_datum *pre, size_t pre_count, const int64_t *keys, size_t key_count,
	int64_t *changes, const char *what);

/* Appends the model's column names, comma-separated, each qualified with
 * the quoted `alias` when non-NULL, skipping those `deferred` marks (NULL:
 * none). */
void sh_db__buf_columns(sh__buf *buf, const sh__model_sql *msql, const bool *deferred,
	const char *alias);

/* "[1,2,3]": a key list bound as one parameter and read with json_each().
 * Returns it (the caller frees) or NULL. */
char *sh_db__json_keys(const int64_t *keys, size_t count);

/* Whether SQLite has a foreign key violation pending on the connection. */
bool sh_db__fk_pending(sh_conn *db);

/* Whether no row of f's target has pk `value`. Returns 1 (missing), 0, or
 * a negative code. */
int sh_db__fk_missing(sh_conn *db, const sh_field *f, int64_t value);

/* The same check for values about to be or just written by an UPDATE of
 * `fields` (one value each). Returns 0 or SH_EINTEGRITY naming the field. */
int sh_db__deferred_fk_check(sh_conn *db, const sh_field *const *fields, const sh_datum *values,
	size_t count, const char *what);

/* Loads every row of the query (not sliced) with the loading signals,
 * appending them to *items. Returns 0 or a negative code. */
int sh_db__query_load_all(sh_query *query, sh_instance ***items, size_t *count, size_t *capacity);

/* Deletes the matching rows with one DELETE, no loading (a fast delete).
 * Adds the rows deleted to *changes. */
int sh_db__query_raw_delete(sh_query *query, int64_t *changes);

/* ---- m2m.c ---- */

/* One side of a many-to-many relation, as an instance of `model` sees it. */
typedef struct sh__rel {
	const sh_field *field;    /* the many-to-many field */
	const sh_model *join;
	const char *source;       /* join column holding the instance's pk */
	const char *target;       /* join column holding the related pks */
	const sh_model *other;    /* the model of the related rows */
	bool reverse;
	const char *name;         /* the relation's name (the field's, or its related_name) */
} sh__rel;

/* Finds the many-to-many relation `name` of model `m`: its field, or the
 * related_name of one that targets it. Returns false (no error raised)
 * when there is none. */
bool sh_db__m2m_relation(const sh_conn *db, const sh_model *m, const char *name, sh__rel *rel);

/* ---- related.c ---- */

/* Caches `count` instances as the relation `name` (a registry string) of
 * `inst`, taking a reference to each, replacing an earlier entry. */
int sh_db__relcache_put(sh_instance *inst, const char *name, sh_instance **items, size_t count,
	bool forward);

/* Drops every cached relation of the instance. */
void sh_db__relcache_clear(sh_instance *instance);

/* Returns 0 when `name` is a relation of `model` prefetch_related can
 * load, else SH_EINVAL naming it. */
int sh_db__relation_known(const sh_conn *db, const sh_model *model, const char *name);

/* Loads relation `name` of `model` for the n instances with one query
 * (prefetch_related) and caches it on each. Returns 0, SH_EINVAL for an
 * unknown relation, or an error. */
int sh_db__prefetch(sh_conn *db, const sh_model *model, sh_instance **items, size_t n,
	const char *name);

/* ---- deferred.c ---- */

/* Whether some field of the instance is deferred. */
bool sh_db__has_deferred(const sh_instance *instance);

/* The column names (Django's attnames) of the loaded non-pk fields of an
 * instance with deferred fields, for the update_fields of its save: stores
 * an allocated array (the caller frees it; the names are the registry's)
 * in *names. Returns 0 or SH_ENOMEM. */
int sh_db__deferred_update_fields(const sh_instance *instance, const char ***names, size_t *count);

/* ---- delete.c ---- */

/* Deletes `instances` (of one model) or, when instances is NULL, the rows
 * of `query`, through the collector. `origin` / `origin_model` as in
 * sh_delete_args. */
int sh_db__collector_delete(sh_conn *db, const sh_model *model, sh_instance **instances,
	size_t count, sh_query *query, const sh_instance *origin, int64_t *deleted);

/* ---- model_sql.c ---- */

/* Builds the SQL of every model's statements into database->orm, once,
 * when the database opens (sh_database_open). Returns 0, SH_ENOMEM or
 * SH_EINVAL (a model with a bad registry index); database->orm is set
 * even then, for sh_db__orm_free(). */
int sh_db__orm_build(sh_database *database);

/* Frees what sh_db__orm_build() built. NULL is a no-op. */
void sh_db__orm_free(struct sh__orm *orm);

#endif
