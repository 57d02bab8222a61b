/*
 * support.h: scratch projects for the migrate tests: a directory with a
 * project.yaml, app manifests in plugins/ (apps without a library) whose
 * `migrations` key points at migrations/<label>/, migration files, and
 * ways to look at the database from outside (a connection of its own).
 */
#ifndef SH_TEST_MIGRATE_SUPPORT_H
#define SH_TEST_MIGRATE_SUPPORT_H

#include <sighost/sys/sighost.h>

#include "../support/support.h"

/* The scratch directory of the running test (set by mt_setup). */
extern char *mt_dir;

/* Criterion .init/.fini of every suite here. */
void mt_setup(void);
void mt_teardown(void);

/* Writes plugins/<label>.yaml: label, `migrations: ../migrations/<label>`
 * and the `extra` lines (models, depends). */
void mt_app(const char *label, const char *extra);

/* Writes plugins/<label>.yaml without a migrations key. */
void mt_app_plain(const char *label, const char *extra);

/* Writes migrations/<label>/<name>.yaml (the folder made when missing). */
void mt_migration(const char *label, const char *name, const char *yaml);

/* Removes migrations/<label>/<name>.yaml. */
void mt_unlink_migration(const char *label, const char *name);

/* Writes project.yaml installing `installed` ("a, b, c"), database db.sqlite3. */
void mt_project(const char *installed);

/* Reads and loads the project; fails the test on any problem. */
sh_project *mt_open(void);

/* Loads the project's migrations; fails the test on any problem. */
sh_migrate_graph *mt_graph(sh_project *project);

/* Runs sh_migrate_run() with app and target (both may be NULL). */
int mt_migrate(sh_migrate_graph *graph, const char *app, const char *target);

/* Runs `sql` on the project's database through a connection of its own
 * and returns the rows, one per line, columns joined by '|' (owned). */
char *mt_query(const char *sql);

/* Runs `sql` (statements) on the project's database through a connection
 * of its own; fails the test on an error. */
void mt_exec(const char *sql);

/* The three apps of the plan and signal tests: people (0001_initial,
 * 0002_person_age), shop (0001_initial after people.0001, 0002_item_price)
 * and orders (0001_initial after shop.0001 and people.0002), plus notes,
 * an app without migrations with one model. Writes the project too. */
void mt_three_apps(void);

/* The schema of the database file `path`: every table and index but the
 * recorder's, by name, "name: sql" lines (owned). */
char *mt_schema(const char *path);

/* The schema a fresh database gets from sh_database_syncdb() of the
 * project's models (owned). */
char *mt_synced_schema(sh_project *project);

/* The plan as text: "a.0001_x b.0002_y" ("-" before a backwards step). */
char *mt_plan_text(const sh_plan_step *plan, size_t count);

/* The plan sh_migrate_plan() gives after reading the applied set. */
char *mt_plan(sh_migrate_graph *graph, const char *app, const char *target);

/* Asserts that `text` holds `needle`. */
void mt_has(const char *text, const char *needle);

#endif
