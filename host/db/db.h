/*
 * db.h: host/db/'s one narrow header for the layers above (app, migrate):
 * the model registry's structs, which the migration state and the schema
 * editor read, the schema SQL of a model, and the registry's check without
 * preparing (`sighost check --manifests-only`), and the one mapping of
 * SQLite's errors to the host's codes for a raw handle (migrate runs its
 * own SQL on sh_conn_sqlite()). Everything else of db stays in internal.h.
 */
#ifndef SH_DB_DB_H
#define SH_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <sighost/datum.h>
#include <sighost/db.h>
#include <sighost/model.h>

/* ---- models (registry.c, prepare.c) ---- */

struct sh_field {
	char *name;
	char *column;               /* "<name>_id" for keys; NULL for many-to-many */
	sh_field_type type;
	bool null, blank, unique, db_index, primary_key, auto_now, auto_now_add;
	int max_length;
	bool has_default;
	sh_datum default_value;     /* text owned by the field */
	char *to;                   /* as declared, made "app.Model" at declaration */
	sh_on_delete on_delete;
	char *through_label;        /* as declared, "app.Model"; NULL for automatic */
	char *related_name;         /* never NULL once prepared */
	char *where;                /* NULL when not given */
	/* set by sh_models_prepare() */
	struct sh_model *target;    /* FOREIGN_KEY, MANY_TO_MANY */
	struct sh_model *through;   /* MANY_TO_MANY: the join model */
	size_t through_source;      /* MANY_TO_MANY: field index in the join model of the key to this model */
	size_t through_target;      /* ... and of the key to the target */
	struct sh_model *model;     /* the model that declares the field */
	size_t index;               /* its index in model->fields */
};

/* A relation that points at a model from elsewhere: the reverse side of a
 * foreign key or many-to-many field. */
typedef struct sh__reverse {
	struct sh_model *from;      /* the model that declares the field */
	size_t field;               /* its index in from->fields */
} sh__reverse;

/* Fields whose values are unique together (Django's Meta.unique_together):
 * indexes into the model's fields. Set by sh_models_prepare() on a join
 * model (its two keys); the schema makes a unique index of each. */
typedef struct sh__unique_together {
	size_t *fields;
	size_t count;
} sh__unique_together;

struct sh_model {
	struct sh_models *registry;
	char *app_label;
	char *name;
	char *label;                /* "app_label.Name" */
	char *table;                /* "app_label_name" */
	char *where;
	const sh_sender *sender;
	bool auto_created;          /* a join model */
	sh_field *fields;           /* declaration order; an added "id" first */
	size_t field_count;
	size_t pk;                  /* index of the primary key */
	/* set by sh_models_prepare() */
	sh__reverse *reverse_fks;   /* foreign keys to this model, registry order; the
	                             * keys of join models are included (from->auto_created,
	                             * related_name "<Join>+", on_delete CASCADE) */
	size_t reverse_fk_count;
	sh__reverse *reverse_m2m;   /* many-to-many fields to this model */
	size_t reverse_m2m_count;
	sh__unique_together *unique_together;
	size_t unique_together_count;
	size_t index;               /* in the registry */
};

struct sh_models {
	sh_hub *hub;
	sh_model **models;          /* declaration order; join models after their model */
	size_t count;
	size_t capacity;
	bool prepared;
	sh_problem_fn reporter;
	void *reporter_payload;
	int first_problem;          /* code of the current call's first problem, 0: none yet */
};

/* Reports a problem through the registry's reporter and, for the first
 * one of a call, the error channel. Returns `code`. */
int sh_db__models_problem(sh_models *models, int code, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Returns the field called `name` or, for a key, its column; NULL if none. */
sh_field *sh_db__model_field(const sh_model *model, const char *name);

/* ---- the schema (schema.c) ---- */

/*
 * Stores in *stmts (allocated) the DDL statements that create the table of
 * `model` (a model of a prepared registry) as Django's SQLite schema editor
 * writes them, and their number in *count: CREATE TABLE, then a CREATE
 * UNIQUE INDEX per unique-together set, then a CREATE INDEX per indexed
 * column (db_index and foreign keys, unless unique). Join models are models
 * of their own: a many-to-many field adds nothing to its model's SQL.
 * Identifiers come from validated names and are quoted. Free with
 * sh_db__schema_free(). Returns 0, SH_EINVAL (an unprepared registry),
 * SH_ENOMEM.
 */
int sh_db__schema_model_sql(const sh_model *model, char ***stmts, size_t *count);

/* Frees what sh_db__schema_model_sql() stored. NULL is a no-op. */
void sh_db__schema_free(char **stmts, size_t count);

/* Writes `name` as an SQL identifier: in double quotes, each '"' doubled
 * (schema.c; the schema editor of migrate writes its DDL with it too). */
void sh_db__quote(FILE *out, const char *name);

/* ---- checking the registry (prepare.c) ---- */

/*
 * Runs every check of sh_models_prepare() on the declared models and
 * reports each problem through the registry's reporter, then leaves the
 * registry as it was: nothing is prepared and no signal is sent. Returns
 * 0, the first problem's code, SH_EINVAL for a prepared registry, or
 * SH_ENOMEM.
 */
int sh_db__models_check(sh_models *models);

/* ---- SQLite's errors (connection.c) ---- */

struct sqlite3;

/* The one mapping of SQLite's errors to the host's codes, for a handle of
 * `database` with no sh_conn (yet, one that failed to open, or a raw handle
 * lent by sh_conn_sqlite(); sh_db__conn_error() of internal.h adds constraint
 * naming for a connection and calls this): SQLite's last error on `sqlite` (non-NULL) as
 * SH_EUNAVAILABLE, SH_ENOMEM or SH_EDB, with no constraint naming; the
 * message names the database's file and quotes its busy timeout. It
 * starts with `what` and ": "; with `what` NULL, with what happened. */
int sh_db__sqlite_error(struct sqlite3 *sqlite, const sh_database *database, const char *what);

/* Stores in *exists whether the database of the handle `sqlite` has a
 * table named `table` (SQLite's names ignore case) (schema.c). Returns
 * SQLITE_OK or SQLite's error code, raising nothing: the caller maps it
 * (sh_db__conn_error, or migrate's sh_migrate__sql_error). */
int sh_db__table_exists(struct sqlite3 *sqlite, const char *table, bool *exists);

#endif
