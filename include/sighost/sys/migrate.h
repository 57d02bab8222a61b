/*
 * sys/migrate.h: running migrations (host only): loading a project's
 * migration files into a graph, planning, migrating, showmigrations and
 * makemigrations. A plugin sees only ../migrate.h (the model state its
 * pre_migrate and post_migrate receivers get).
 */
#ifndef SIGHOST_SYS_MIGRATE_H
#define SIGHOST_SYS_MIGRATE_H

#include "../migrate.h"
#include "project.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- loading ---- */

/*
 * Loads the migrations of every installed app of `project` (read, not
 * necessarily loaded): for each app whose manifest names a `migrations`
 * folder that exists, every "*.yaml" file in it, in name order. Checks
 * each file (keys, operations, field definitions), the dependencies (a
 * missing migration, a cycle, two leaf migrations of one app, an app
 * without migrations whose models point at an app with migrations), and
 * replays every operation on an empty state to check that the models and
 * fields they name exist. Every problem is recorded with its file, line
 * and column (sh_migrate_problem), not only the first.
 *
 * Stores the graph in *out in every case but SH_ENOMEM and SH_EINVAL (the
 * caller frees it with sh_migrate_free(), before the project). Returns 0,
 * SH_EMANIFEST when a problem was recorded (the error channel holds the
 * first), SH_EINVAL for a NULL argument or a project that was not read
 * successfully, SH_ENOMEM.
 */
SH_API int sh_migrate_load(sh_migrate_graph **out, sh_project *project);

/* Frees a graph and everything it holds. NULL is a no-op. */
SH_API void sh_migrate_free(sh_migrate_graph *graph);
/* Returns how many relations of apps awaiting their first migration
 * loading found: an app with a `migrations` folder but no migration in it
 * whose models point at models of an app with migrations. Not problems:
 * sh_migrate_detect() writes that first migration (with the dependency);
 * sh_migrate_run() refuses to run until it exists. */
SH_API size_t sh_migrate_pending_count(const sh_migrate_graph *graph);

/* Returns pending relation `index` (its text says which field and what to
 * run), NULL when out of range. Owned by the graph. */
SH_API const sh_problem *sh_migrate_pending(const sh_migrate_graph *graph, size_t index);


/* Returns how many problems loading recorded. */
SH_API size_t sh_migrate_problem_count(const sh_migrate_graph *graph);

/* Returns problem `index` (in the order found), NULL when out of range.
 * Owned by the graph. */
SH_API const sh_problem *sh_migrate_problem(const sh_migrate_graph *graph, size_t index);

/* ---- what was loaded ---- */

/*
 * Returns true when the installed app `app_label` has migrations (its
 * manifest names a folder holding at least one migration file); false for
 * an app without, or an unknown label. An app without migrations has its
 * tables created by sh_migrate_run() as its manifest declares them.
 */
SH_API bool sh_migrate_app_migrated(const sh_migrate_graph *graph, const char *app_label);

/*
 * Returns the absolute path of the app's migrations folder as its
 * manifest names it (it may not exist yet), NULL when the manifest has no
 * `migrations` key or the label is unknown. Owned by the graph.
 */
SH_API const char *sh_migrate_app_dir(const sh_migrate_graph *graph, const char *app_label);

/* One migration, as sh_migrate_at() describes it. Strings are owned by
 * the graph. */
typedef struct sh_migration_info {
	const char *app_label;
	const char *name;             /* "0001_initial" */
	const char *path;             /* the file */
	size_t dependency_count;
	size_t operation_count;
	bool initial;                 /* the file says `initial: true` */
	bool applied;                 /* as of the last sh_migrate_read_applied() */
} sh_migration_info;

/*
 * Returns how many migrations the app `app_label` has (every app's when
 * NULL).
 */
SH_API size_t sh_migrate_count(const sh_migrate_graph *graph, const char *app_label);

/*
 * Describes migration `index` of app `app_label` (of all migrations when
 * NULL) in *out. An app's migrations come in the order they apply
 * (dependencies first, then by name); with NULL, apps come in load order.
 * Returns 0, SH_ENOTFOUND when out of range.
 */
SH_API int sh_migrate_at(sh_migration_info *out, const sh_migrate_graph *graph,
	const char *app_label, size_t index);

/*
 * Writes into buf (at most `size` bytes, always NUL-terminated when size
 * > 0) Django's description of operation `op` of the migration
 * `app_label`.`name` ("Add field priority to alert", "Raw SQL operation").
 * Returns the length of the full description (as snprintf), SH_ENOTFOUND
 * when there is no such migration or operation.
 */
SH_API int sh_migrate_describe(char *buf, size_t size, const sh_migrate_graph *graph,
	const char *app_label, const char *name, size_t op);

/*
 * Reads which migrations are applied from the table sighost_migrations of
 * the calling thread's connection to the project's database (none when
 * the table does not exist; nothing is created). Checks that the applied
 * history is consistent: a migration applied while one of its
 * dependencies is not is SH_EINVAL naming both, as Django's
 * InconsistentMigrationHistory. Returns 0, SH_EINVAL, SH_EDB, or what
 * opening the connection returns.
 */
SH_API int sh_migrate_read_applied(sh_migrate_graph *graph);

/* ---- plans ---- */

/*
 * Computes the plan that brings the database to a target, from the
 * applied set last read (sh_migrate_read_applied; none before), as
 * Django's migration_plan:
 *  - app_label NULL: apply every unapplied migration (all apps' latest);
 *  - app_label with target NULL: apply up to that app's latest migration;
 *  - target "zero": unapply every migration of the app, and first every
 *    applied migration that depends on one of them, whatever its app;
 *  - target a migration name or an unambiguous prefix of one ("0002"):
 *    apply up to it if it is not applied, else unapply the migrations of
 *    the app that come after it (and what depends on them).
 * Stores in *out an array of *count steps (NULL and 0 when there is
 * nothing to do), in order; free it with sh_migrate_plan_free(). Returns
 * 0, SH_ENOTFOUND for an app without migrations or an unknown target,
 * SH_EINVAL for an ambiguous prefix, a graph with problems, or a NULL
 * argument, SH_ENOMEM.
 */
SH_API int sh_migrate_plan(sh_plan_step **out, size_t *count, const sh_migrate_graph *graph,
	const char *app_label, const char *target);

/* Frees a plan made by sh_migrate_plan() or sh_migrate_unapplied() (its
 * strings live in the same block). NULL is a no-op. */
SH_API void sh_migrate_plan_free(sh_plan_step *plan);

/*
 * Tells `sighost serve` (and any embedder) whether the database is behind
 * the migrations: loads the project's migrations, reads the applied set
 * from the project's database (the project must be loaded) and stores the
 * migrations still to apply in *out (a plan of forward steps, in order;
 * NULL when none; free it with sh_migrate_plan_free()) and their number
 * in *count. Returns the number of unapplied migrations (0: up to date),
 * SH_EMANIFEST when the migration files have problems (the error channel
 * holds the first), SH_EINVAL when the project is not loaded or the
 * history is inconsistent, SH_EDB, SH_ENOMEM. `out` may be NULL when only
 * the count is wanted.
 */
SH_API int sh_migrate_unapplied(sh_plan_step **out, size_t *count, sh_project *project);

/* ---- migrating ---- */

/* What sh_migrate_run() reports as it goes (for a command to print). */
typedef enum sh_migrate_event_kind {
	SH_MIGRATE_SYNC_START,    /* apps without migrations are about to be synced */
	SH_MIGRATE_SYNC_TABLE,    /* a table of such an app is being created: table */
	SH_MIGRATE_SYNC_END,      /* their indexes are being created (Django's
	                           * "Running deferred SQL...") */
	SH_MIGRATE_RUN_START,     /* the migrations start: plan, plan_count (0: none) */
	SH_MIGRATE_STEP_START,    /* a migration starts: step */
	SH_MIGRATE_STEP_DONE,     /* it was applied (or unapplied) and recorded: step, seconds */
	SH_MIGRATE_STEP_FAILED    /* it failed and was rolled back: step */
} sh_migrate_event_kind;

typedef struct sh_migrate_event {
	sh_migrate_event_kind kind;
	const sh_plan_step *plan;     /* the whole plan */
	size_t plan_count;
	const sh_plan_step *step;     /* STEP_*: the step */
	const char *table;            /* SYNC_TABLE: the table */
	double seconds;               /* STEP_DONE: wall time of the migration */
} sh_migrate_event;

/* Receives progress events, on the migrating thread. */
typedef void (*sh_migrate_progress_fn)(const sh_migrate_event *event, void *payload);

/* Options of sh_migrate_run(). Initialise with SH_MIGRATE_OPTS_INIT. */
typedef struct sh_migrate_opts {
	unsigned int version;         /* SH_MIGRATE_OPTS_VERSION */
	const char *app_label;        /* NULL: every app; see sh_migrate_plan() */
	const char *target;           /* with app_label: a name, a prefix, "zero"; NULL: latest */
	int verbosity;                /* passed to pre_migrate and post_migrate (1) */
	bool interactive;             /* passed to pre_migrate and post_migrate */
	sh_migrate_progress_fn progress;  /* NULL: no reports */
	void *payload;                /* given to progress */
} sh_migrate_opts;

#define SH_MIGRATE_OPTS_VERSION 1
#define SH_MIGRATE_OPTS_INIT { SH_MIGRATE_OPTS_VERSION, NULL, NULL, 1, false, NULL, NULL }

/*
 * Migrates the project's database on the calling thread's connection (the
 * project must be loaded: receivers connect in ready()), as Django's
 * migrate:
 *  1. reads the applied set and computes the plan (sh_migrate_plan); a
 *     backwards plan with an irreversible operation (run_sql without
 *     reverse_sql) is refused with SH_EPERM naming the migration and the
 *     operation, before anything is sent or changed;
 *  2. sends pre_migrate once per installed app, in load order (sender:
 *     the app label interned on the project's hub; args sh_migrate_args
 *     with the app, verbosity, interactive, using_ "default", apps = the
 *     state of the applied migrations, and the whole plan);
 *  3. creates the missing tables of the apps without migrations (of the
 *     named app only, when app_label names one without migrations);
 *  4. applies or unapplies each migration of the plan in its own
 *     transaction, foreign key enforcement off around it and
 *     PRAGMA foreign_key_check before the commit, and records it in (or
 *     deletes it from) sighost_migrations in the same transaction;
 *  5. sends post_migrate once per installed app, in the same order, with
 *     apps = the state after the plan.
 * Both signals are sent also when there is nothing to migrate. A failing
 * migration is rolled back completely and stops the run: the earlier ones
 * stay applied and recorded, post_migrate is not sent, and the error
 * (SH_EDB, or SH_EINTEGRITY when foreign_key_check fails) names the
 * migration, the operation and SQLite's message. A failing receiver stops
 * the run with its code. `opts` may be NULL for the defaults. Returns 0,
 * SH_EINVAL (a graph with problems, an open transaction on the
 * connection, an inconsistent history, an unknown opts version),
 * SH_ENOTFOUND (see sh_migrate_plan), SH_EPERM, SH_EDB, SH_EINTEGRITY,
 * SH_ENOMEM, or a receiver's code.
 */
SH_API int sh_migrate_run(sh_migrate_graph *graph, const sh_migrate_opts *opts);

/* ---- makemigrations ---- */

/* The migrations makemigrations would write. */
typedef struct sh_migrate_changes sh_migrate_changes;

/* One new migration. Strings are owned by the changes. */
typedef struct sh_migrate_change {
	const char *app_label;
	const char *name;                   /* "0002_alert_priority" */
	const char *path;                   /* the file it goes to */
	const char *text;                   /* its YAML */
	size_t operation_count;
	const char *const *descriptions;    /* one per operation ("Add field priority to alert") */
} sh_migrate_change;

/*
 * Compares the models the manifests declare with the state the migrations
 * build, for every installed app whose manifest has a `migrations` key
 * (only `app_label` when non-NULL), and composes one new migration per app
 * that differs: created and deleted models, added, removed and altered
 * fields (a renamed field or model is seen as a removal and an addition,
 * as Django's makemigrations --noinput does). Its dependencies are the
 * app's latest migration and, for relations to models of other apps with
 * migrations, the migration that gives those models (the other app's
 * latest, or its new one). Its name is Django's: "0001_initial" for an
 * app's first, else after its operations ("0002_alert_priority"). Nothing
 * is written. Stores the result in *out (possibly holding none; free with
 * sh_migrate_changes_free()). Returns 0, SH_EINVAL for a graph with
 * problems or an app_label without a `migrations` key, SH_ENOTFOUND for
 * an app that is not installed, SH_EMANIFEST when the composed migrations
 * would not give the declared models (the message says why), SH_ENOMEM.
 */
SH_API int sh_migrate_detect(sh_migrate_changes **out, const sh_migrate_graph *graph,
	const char *app_label);

/* Returns how many new migrations the changes hold (0: no changes). */
SH_API size_t sh_migrate_changes_count(const sh_migrate_changes *changes);

/* Returns new migration `index`, NULL when out of range. */
SH_API const sh_migrate_change *sh_migrate_changes_at(const sh_migrate_changes *changes,
	size_t index);

/*
 * Writes every new migration to its file, creating the app's migrations
 * folder when it does not exist (not its parents); an existing file is
 * not overwritten (SH_EEXISTS). Returns 0, SH_EEXISTS, SH_EIO naming the
 * path and the system's reason (files written before stay written).
 */
SH_API int sh_migrate_changes_write(const sh_migrate_changes *changes);

/* Frees changes. NULL is a no-op. */
SH_API void sh_migrate_changes_free(sh_migrate_changes *changes);

#ifdef __cplusplus
}
#endif

#endif
