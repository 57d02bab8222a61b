/*
 * internal.h: the data structures of host/migrate/ (migration files read
 * into operations, the dependency graph, the model state, the schema
 * editor), shared by its files and by nothing else.
 *
 * Ownership: a graph owns its migrations, a migration its dependencies and
 * operations, an operation its strings and field definitions. A state owns
 * its models and their fields and the registry rendered from them; it
 * borrows the private hub of the graph (or of whoever made it). Field
 * definitions are sh_field_decl whose strings (name, to, through,
 * related_name, where, a text default) are owned by whoever holds them
 * (see fields.c).
 */
#ifndef SH_MIGRATE_INTERNAL_H
#define SH_MIGRATE_INTERNAL_H

#include <sqlite3.h>
#include <stdio.h>

#include <sighost/app.h>
#include <sighost/db.h>
#include <sighost/error.h>
#include <sighost/sys/migrate.h>
#include <sighost/model.h>
#include <sighost/sys/project.h>

#include "base/text.h"

#include "app/app.h"

/* ---- owned field definitions (fields.c) ---- */

/* A growable list of field definitions with owned strings. */
typedef struct sh__fields {
	sh_field_decl *items;
	size_t count;
	size_t capacity;
} sh__fields;

/* Copies `src` into `dst`, duplicating its strings. Returns 0 or SH_ENOMEM
 * (dst is then empty). */
int sh_migrate__fdecl_copy(sh_field_decl *dst, const sh_field_decl *src);

/* Frees the strings of a definition made by sh_migrate__fdecl_copy(). */
void sh_migrate__fdecl_dispose(sh_field_decl *decl);

/* True when two definitions declare the same field (`where` ignored;
 * relation targets compared as labels, the model name without regard to
 * case; `app_label` qualifies bare model names of both). */
bool sh_migrate__fdecl_same(const sh_field_decl *a, const sh_field_decl *b, const char *app_label);

/* Appends a copy of `decl`. Returns 0 or SH_ENOMEM. */
int sh_migrate__fields_append(sh__fields *fields, const sh_field_decl *decl);

/* Copies a whole list. Returns 0 or SH_ENOMEM. */
int sh_migrate__fields_copy(sh__fields *dst, const sh__fields *src);

/* Returns the index of the field called `name` (without regard to case,
 * as SQLite compares columns), or -1. */
long sh_migrate__fields_find(const sh__fields *fields, const char *name);

/* Removes field `index`, freeing it. */
void sh_migrate__fields_remove(sh__fields *fields, size_t index);

/* Frees every field and the list. */
void sh_migrate__fields_dispose(sh__fields *fields);

/* Makes a relation target a label: "self" and "Model" become
 * "app_label.Model" (of `model` for self). Returns a new string, NULL on
 * ENOMEM. */
char *sh_migrate__qualify(const char *target, const char *app_label, const char *model);

/* Compares two model labels: the app exactly, the model name without
 * regard to case. */
bool sh_migrate__label_eq(const char *a, const char *b);

/* ---- the model state (state.c) ---- */

/* An index an add_index operation made (Django's Meta.indexes). */
typedef struct sh__index {
	char *name;
	char **fields;
	size_t count;
} sh__index;

/* One model of the state. */
typedef struct sh__smodel {
	char *app_label;
	char *name;
	char *where;                /* "file:line:col" of its definition, NULL */
	sh__fields fields;          /* as declared: no automatic "id" */
	sh__index *indexes;
	size_t index_count;
	bool unmigrated;            /* of an app without migrations (from its manifest) */
} sh__smodel;

struct sh_state {
	sh__smodel **models;        /* in the order they were added */
	size_t count;
	size_t capacity;
	sh_hub *hub;                /* borrowed: the private hub registries send through */
	sh_models *registry;        /* rendered on demand; NULL when stale */
};

/* Creates an empty state whose registries use `hub`. Returns 0 or SH_ENOMEM. */
int sh_migrate__state_new(sh_state **out, sh_hub *hub);

/* Frees a state. NULL is a no-op. */
void sh_migrate__state_free(sh_state *state);

/* Deep-copies a state (not its registry). Returns 0 or SH_ENOMEM. */
int sh_migrate__state_copy(sh_state **out, const sh_state *state);

/* Returns the model `app_label`.`name` (name without regard to case), NULL. */
sh__smodel *sh_migrate__state_find(const sh_state *state, const char *app_label, const char *name);

/* Returns the model of label "app.Model", NULL. */
sh__smodel *sh_migrate__state_find_label(const sh_state *state, const char *label);

/* Adds a model with copies of `fields` (relation targets qualified),
 * defined at `where` (may be NULL). Stores it in *out (out may be NULL).
 * Returns 0 or SH_ENOMEM. */
int sh_migrate__state_add(sh__smodel **out, sh_state *state, const char *app_label, const char *name,
	const sh__fields *fields, bool unmigrated, const char *where);

/* Adds a copy of `decl` to model `m`, its relation targets qualified.
 * Returns 0 or SH_ENOMEM. */
int sh_migrate__smodel_add_field(sh__smodel *m, const sh_field_decl *decl);

/* Replaces field `index` of `m` by a copy of `decl` (targets qualified). */
int sh_migrate__smodel_set_field(sh__smodel *m, size_t index, const sh_field_decl *decl);

/* Removes and frees model `m`. */
void sh_migrate__state_remove(sh_state *state, sh__smodel *m);

/* Marks the rendered registry stale (after a change). */
void sh_migrate__state_changed(sh_state *state);

/*
 * Renders the state: a new registry on the state's hub with every model
 * declared and prepared (join models made). Kept until the state changes.
 * Stores it in *out. Returns 0, or SH_EMANIFEST with the registry's first
 * problem (its `where` names the file, line and column of the definition),
 * SH_ENOMEM.
 */
int sh_migrate__state_render(sh_models **out, sh_state *state);

/*
 * Renders only the model `app_label`.`name` and the models its relations
 * reach (recursively), into a new registry stored in *out (the caller
 * frees it): enough for that model's DDL and its join tables, at a
 * fraction of a whole render when the state is large. Returns as
 * sh_migrate__state_render().
 */
int sh_migrate__state_render_part(sh_models **out, const sh_state *state, const char *app_label,
	const char *name);

/* Returns the rendered model of `app_label`.`name`, NULL (the state must
 * be rendered). */
const sh_model *sh_migrate__state_model(const sh_state *state, const char *app_label, const char *name);

/* Reads the models of an app manifest (its `models` map) into the state,
 * flagged unmigrated as told. Problems go to `problems`. Returns 0 or
 * SH_ENOMEM. */
int sh_migrate__state_add_manifest(sh_state *state, const sh_app *app, bool unmigrated,
	sh__problems *problems);

/* ---- operations (operations.c) ---- */

typedef enum sh__op_kind {
	SH__OP_CREATE_MODEL,
	SH__OP_DELETE_MODEL,
	SH__OP_ADD_FIELD,
	SH__OP_REMOVE_FIELD,
	SH__OP_ALTER_FIELD,
	SH__OP_RENAME_FIELD,
	SH__OP_RENAME_MODEL,
	SH__OP_ADD_INDEX,
	SH__OP_REMOVE_INDEX,
	SH__OP_RUN_SQL,
	SH__OP_KIND_COUNT
} sh__op_kind;

/* Returns the operation's name as files write it ("add_field"). */
const char *sh_migrate__op_name(sh__op_kind kind);

/* One operation of a migration. */
typedef struct sh__op {
	sh__op_kind kind;
	char *where;                /* "file:line:col" of the operation */
	char *model;                /* the model (rename_model: its old name) */
	char *name;                 /* field ops: the field (rename_field: the old name);
	                             * index ops: the index; rename_model: NULL */
	char *new_name;             /* rename_field, rename_model */
	char *where_model;          /* positions of model and name in the file, for messages */
	char *where_name;
	sh__fields fields;          /* create_model, delete_model: the model's fields;
	                             * add/remove/alter_field: the one field */
	bool has_fields;            /* delete_model, remove_field: the definition was written */
	char **index_fields;        /* add_index, remove_index */
	size_t index_field_count;
	char *sql;                  /* run_sql */
	char *reverse_sql;          /* run_sql: NULL when irreversible */
} sh__op;

/* Frees what an operation holds. */
void sh_migrate__op_dispose(sh__op *op);

/* The index of the index called `name` (any case) of a state model, -1
 * when there is none (operations.c). */
long sh_migrate__index_find(const sh__smodel *m, const char *name);

/*
 * Applies the operation to the state (Django's state_forwards) for a
 * migration of app `app_label`, checking that what it names exists (and
 * what it makes does not). Returns 0, or SH_EMANIFEST with a message
 * naming the file, line and column, also recorded in `problems` when
 * non-NULL.
 */
int sh_migrate__op_state_forwards(const sh__op *op, const char *app_label, sh_state *state,
	sh__problems *problems);

/* True when the operation can be unapplied. */
bool sh_migrate__op_reversible(const sh__op *op);

/* Writes Django's description of the operation into buf (snprintf's
 * rules); returns the full length. */
int sh_migrate__op_describe(char *buf, size_t size, const sh__op *op);

/* Django's migration_name_fragment of the operation, into buf; "" when it
 * has none. */
void sh_migrate__op_fragment(char *buf, size_t size, const sh__op *op);

/*
 * Changes the database as the operation does, between `from` (the state
 * before it) and `to` (after it) — Django's database_forwards — or undoes
 * it when `backwards` (then `from` is the state after the operation and
 * `to` the state before). Runs inside the caller's transaction. Returns 0
 * or SH_EDB/SH_EMANIFEST with the reason; the caller names the operation
 * (run.c adds the migration, the operation and its file:line:col).
 */
int sh_migrate__op_database(const sh__op *op, const char *app_label, sqlite3 *db, sh_state *from,
	sh_state *to, bool backwards);

/* ---- the schema editor (editor.c) ---- */

/* Runs one SQL statement; on failure raises SH_EDB with SQLite's message. */
int sh_migrate__exec(sqlite3 *db, const char *sql);

/* Runs `before` "name" `after`, the name quoted (DROP TABLE "x"). */
int sh_migrate__exec_named(sqlite3 *db, const char *before, const char *name, const char *after);

/* Creates the table, indexes and join tables of a rendered model. */
int sh_migrate__editor_create(sqlite3 *db, const sh_model *model);

/* Drops the tables of a rendered model and its join tables. */
int sh_migrate__editor_delete(sqlite3 *db, const sh_model *model);

/* One column of a table rebuild: where the new column's values come from. */
typedef struct sh__copy {
	const char *column;         /* the new table's column */
	const char *from;           /* the old table's column, NULL: the value */
	bool coalesce;              /* from, and the value where it is NULL */
	sh_datum value;             /* bound, never written into SQL */
} sh__copy;

/*
 * Rebuilds the table of `old_table` into the table of `model` (a model of
 * a rendered state) by SQLite's documented procedure: CREATE TABLE
 * "new__<table>" as the model declares it, INSERT ... SELECT the columns
 * of `copies`, DROP the old table, rename the new one, create the
 * model's indexes and `indexes` (the state's add_index ones); keeps the
 * AUTOINCREMENT sequence. The caller turned foreign key enforcement off.
 * Returns 0 or SH_EDB.
 */
int sh_migrate__editor_remake(sqlite3 *db, const char *old_table, const sh_model *model,
	const sh__copy *copies, size_t copy_count, const sh__index *indexes, size_t index_count);

/* Rebuilds a table keeping every column of `model` whose column exists in
 * `old` (a model of the state before), as Django's _remake_table(model). */
int sh_migrate__editor_remake_same(sqlite3 *db, const sh_model *old, const sh_model *model,
	const sh__index *indexes, size_t index_count);

/*
 * Brings the table of `old` (a model of the state before) to `model` (of
 * the state after) when only names changed: renames the table and the
 * columns that differ, position by position (ALTER TABLE ... RENAME,
 * which also rewrites the references of other tables), then drops and
 * recreates the indexes whose definition changed. Falls back to a rebuild
 * when the CREATE TABLE SQLite stores differs from the model's. Returns 0
 * or SH_EDB.
 */
int sh_migrate__editor_morph(sqlite3 *db, const sh_model *old, const sh_model *model,
	const sh__index *old_indexes, size_t old_index_count,
	const sh__index *indexes, size_t index_count);

/*
 * Makes the indexes of `model`'s table those the model and `indexes`
 * declare, where `old` (may be NULL) and `old_indexes` declared theirs:
 * drops the old ones that are gone or changed, creates the missing ones.
 * Indexes neither declares (a run_sql's) are left alone.
 */
int sh_migrate__editor_sync_indexes(sqlite3 *db, const sh_model *old, const sh__index *old_indexes,
	size_t old_index_count, const sh_model *model, const sh__index *indexes,
	size_t index_count);

/* The CREATE INDEX of an add_index index on the table of `model`; newly
 * allocated, NULL on ENOMEM or an unknown field (then raised). */
char *sh_migrate__editor_index_sql(const sh_model *model, const sh__index *index);

/* Stores in *out (newly allocated) the SQL SQLite keeps for table `table`,
 * NULL when there is none. Returns 0 or SH_EDB. */
int sh_migrate__editor_table_sql(sqlite3 *db, const char *table, char **out);

/* ---- migration files (file.c) ---- */

/* One dependency of a migration. */
typedef struct sh__dep {
	char *app_label;
	char *name;                 /* "__first__" / "__latest__" allowed */
	char *where;
	struct sh__migration *target;   /* resolved by the graph; NULL for none */
} sh__dep;

/* One migration, read from its file. */
typedef struct sh__migration {
	char *app_label;
	char *name;
	char *path;
	char *where;                /* "path:1:1" */
	bool initial;
	sh__dep *deps;
	size_t dep_count;
	sh__op *ops;
	size_t op_count;
	/* the graph */
	struct sh__migration **parents;   /* resolved dependencies, unique, sorted */
	size_t parent_count;
	struct sh__migration **children;  /* migrations that depend on this one, sorted */
	size_t child_count;
	size_t child_capacity;
	size_t index;               /* in graph->all */
	bool applied;
} sh__migration;

/*
 * Reads the migration file `path` of app `app_label`, named `name` (the
 * file name without ".yaml"), into *out (NULL when it had problems, which
 * are recorded with file, line and column). Returns 0 or SH_ENOMEM.
 */
int sh_migrate__migration_read(sh__migration **out, const char *path, const char *app_label,
	const char *name, sh__problems *problems);

/* Frees a migration. NULL is a no-op. */
void sh_migrate__migration_free(sh__migration *migration);

/* True when `name` is a valid migration name: [A-Za-z0-9_]+ */
bool sh_migrate__migration_name_ok(const char *name);

/* ---- the graph (graph.c, load.c) ---- */

/* An installed app as migrations see it. */
typedef struct sh__gapp {
	sh_app *app;
	const char *label;          /* borrowed from the app */
	char *dir;                  /* its migrations folder, absolute; NULL: no key */
	sh__migration **migrations; /* in apply order (dependencies, then name) */
	size_t count;
} sh__gapp;

struct sh_migrate_graph {
	sh_project *project;
	sh__gapp *apps;             /* installed apps, load order */
	size_t app_count;
	sh__migration **all;        /* every migration: apps in load order, names in order */
	size_t count;
	size_t capacity;
	sh__migration **order;      /* every migration, dependencies first (full plan) */
	sh__problems problems;
	sh__problems pending;       /* apps awaiting their first migration (makemigrations) */
	sh_hub *hub;                /* private: the state registries send through it */
	sh_state *final;            /* every migration applied, with apps without migrations */
	bool applied_read;
};

/* Returns the app `label` of the graph, NULL. */
sh__gapp *sh_migrate__graph_app(const sh_migrate_graph *graph, const char *label);

/* Resolves dependencies, builds parents/children, checks missing nodes,
 * cycles and conflicts (problems recorded) and computes graph->order and
 * each app's order. Returns 0 or SH_ENOMEM. */
int sh_migrate__graph_build(sh_migrate_graph *graph);

/* A list of migrations (a plan in progress). */
typedef struct sh__mlist {
	sh__migration **items;
	bool *backwards;
	size_t count;
	size_t capacity;
} sh__mlist;

void sh_migrate__mlist_dispose(sh__mlist *list);

/* Appends to `list` the forwards plan of `target` (its dependencies
 * first, depth first in sorted order, then itself), skipping what `skip`
 * marks (indexed by migration index) and marking what it adds. */
int sh_migrate__graph_forwards(sh__mlist *list, const sh_migrate_graph *graph, sh__migration *target,
	bool *skip);

/* Appends the backwards plan of `target`: what depends on it first. */
int sh_migrate__graph_backwards(sh__mlist *list, const sh_migrate_graph *graph, sh__migration *target,
	bool *skip);

/* Computes Django's migration_plan into `list` from the applied flags.
 * Returns 0, SH_ENOTFOUND, SH_EINVAL, SH_ENOMEM. */
int sh_migrate__graph_plan(sh__mlist *list, const sh_migrate_graph *graph, const char *app_label,
	const char *target);

/* Returns the leaf migration of an app (NULL for none). */
sh__migration *sh_migrate__graph_leaf(const sh__gapp *app);

/*
 * Makes the state of the migrations `applied` marks (indexed by migration
 * index; NULL: all), replayed in graph order, plus the models of the apps
 * without migrations. Returns 0, SH_EMANIFEST, SH_ENOMEM.
 */
int sh_migrate__graph_state(sh_state **out, const sh_migrate_graph *graph, const bool *applied);

/* Records a problem at "file:line:col" `where` (may be NULL). */
void sh_migrate__problem_where(sh__problems *problems, int code, const char *where,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));


/* "file:line:col" of a value, newly allocated (NULL on ENOMEM). */
char *sh_migrate__where_of(const sh_value *value);

/* ---- the recorder (recorder.c) ---- */

/* Reads the applied set into the graph's flags (none without the table). */
int sh_migrate__recorder_read(sh_migrate_graph *graph, sh_conn *db, bool *has_table);

/* Creates the table when missing; refuses one made another way. */
int sh_migrate__recorder_ensure(sh_conn *db);

/* Records (applied true) or forgets a migration. */
int sh_migrate__recorder_set(sqlite3 *db, const sh__migration *migration, bool applied);

/* ---- writing YAML (writer.c) ---- */

/* Writes the migration `ops` with dependencies `deps` as a YAML document
 * into *out (newly allocated), through libyaml's emitter. Returns 0,
 * SH_ENOMEM, SH_ERROR (the emitter's message). */
int sh_migrate__write_migration(char **out, bool initial, const sh__dep *deps, size_t dep_count,
	const sh__op *ops, size_t op_count);

/* ---- small helpers (util.c) ---- */

/* strdup that accepts NULL (returns NULL) and reports ENOMEM in *oom. */
char *sh_migrate__dup(const char *s, bool *oom);

/* Raises `code` with the message "<fmt...>: <the current message>" (the
 * current one is copied first: it lives in the buffer being written).
 * Returns code. */
int sh_migrate__error_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Makes `db` the connection whose SQL errors sh_migrate__sql_error() maps
 * on this thread (NULL: none). */
void sh_migrate__use_conn(sh_conn *db);

/*
 * Raises SQLite's last error on `sqlite` (migrate's own SQL: the recorder,
 * the schema editor, run_sql) and returns its code. On the connection
 * given to sh_migrate__use_conn() it goes through the db layer's one
 * mapping (sh_db__sqlite_error: SH_EUNAVAILABLE for a full, read-only, locked
 * or failing database, naming the file; SH_ENOMEM); a constraint failure,
 * or another handle, is SH_EDB with SQLite's message. The message starts
 * with "`what`: " unless `what` is NULL.
 */
int sh_migrate__sql_error(sqlite3 *sqlite, const char *what);

/* Appends a pointer to a growable array. Returns 0 or SH_ENOMEM. */
int sh_migrate__push(void ***items, size_t *count, size_t *capacity, void *item);

#endif
