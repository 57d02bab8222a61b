/*
 * migration.c: libFuzzer target for migration files, read and run as
 * `sighost migrate` does. A project of two apps without libraries (fz,
 * and other, which depends on fz), both with a `migrations` folder, is read
 * and loaded once, its database a file in a scratch directory (on tmpfs
 * when /dev/shm is there). Each input is split at "\n---8<---\n" into up
 * to three migration files: fz/0001_initial, fz/0002_change and
 * other/0001_initial (a part left out removes its file). Then, as the
 * command does: load the graph (every problem must have a text); when it
 * has no problem, describe every operation, read the applied set, plan,
 * compare with the manifests' models (makemigrations), and run the plan
 * on an emptied database: forwards, then fz back to zero. A forward run
 * that succeeds must leave nothing to plan.
 *
 * run_sql runs its text on the database, so the connection is fenced:
 * no ATTACH (nor VACUUM INTO, which attaches), values of at most 1 MiB,
 * and a budget of SQLite VM steps per input (a recursive CTE must not spin
 * until libFuzzer's timeout).
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sighost/sys/sighost.h>

#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The files an input becomes, in the order of its parts. */
static const char *const files[] = {
	"migrations/fz/0001_initial.yaml",
	"migrations/fz/0002_change.yaml",
	"migrations/other/0001_initial.yaml",
};

static sh_project *project;
static sh_conn *db;
static unsigned steps;   /* progress callbacks of this input */
static bool verbose;     /* SIGHOST_FUZZ_VERBOSE set: say what each input did */

static void say(const char *what, int rc)
{
	if (verbose)
		fprintf(stderr, "fuzz-migration: %s: %d %s\n", what, rc,
			rc != 0 ? sh_error_last()->message : "");
}

/* Every 1000 VM instructions: stop a statement past ~2M of them. */
static int on_progress(void *payload)
{
	(void)payload;
	return ++steps > 2000;
}

static void init(void)
{
	fuzz_scratch("migration");
	fuzz_mkdir("plugins");
	fuzz_mkdir("migrations");
	fuzz_mkdir("migrations/fz");
	fuzz_mkdir("migrations/other");
	fuzz_write_text("plugins/fz.yaml",
		"label: fz\n"
		"migrations: ../migrations/fz\n"
		"models:\n"
		"  Person:\n"
		"    fields:\n"
		"      name: {type: text, max_length: 50}\n"
		"      age: {type: integer, default: 0}\n"
		"  Item:\n"
		"    fields:\n"
		"      title: {type: text, max_length: 100, db_index: true}\n"
		"      owner: {type: foreign_key, to: Person, on_delete: cascade, null: true}\n"
		"      done: {type: boolean, default: false}\n");
	fuzz_write_text("plugins/other.yaml",
		"label: other\n"
		"depends: [fz]\n"
		"migrations: ../migrations/other\n"
		"models:\n"
		"  Label:\n"
		"    fields:\n"
		"      text: {type: text, unique: true}\n"
		"      items: {type: many_to_many, to: fz.Item, related_name: labels}\n");
	fuzz_write_text("project.yaml",
		"project: fz\n"
		"database: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [plugins]\n"
		"installed_apps: [fz, other]\n");
	if (sh_project_new(&project) < 0 || sh_project_read(project, fuzz_path("project.yaml")) < 0
		|| sh_project_load(project) < 0) {
		fprintf(stderr, "fuzz-migration: %s\n", sh_error_last()->message);
		abort();
	}
	if (sh_database_connection(&db, sh_project_database(project)) < 0)
		abort();
	sqlite3 *sqlite = sh_conn_sqlite(db);
	sqlite3_limit(sqlite, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(sqlite, SQLITE_LIMIT_LENGTH, 1 << 20);
	sqlite3_progress_handler(sqlite, 1000, on_progress, NULL);
}

/* Empties the database (SQLite's documented reset: every table, index,
 * view and trigger goes, the records of migrations too). */
static void reset_database(void)
{
	sqlite3 *sqlite = sh_conn_sqlite(db);
	sqlite3_limit(sqlite, SQLITE_LIMIT_ATTACHED, 1);   /* VACUUM attaches its copy */
	sqlite3_db_config(sqlite, SQLITE_DBCONFIG_RESET_DATABASE, 1, 0);
	int rc = sqlite3_exec(sqlite, "VACUUM", NULL, NULL, NULL);
	sqlite3_db_config(sqlite, SQLITE_DBCONFIG_RESET_DATABASE, 0, 0);
	sqlite3_limit(sqlite, SQLITE_LIMIT_ATTACHED, 0);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "fuzz-migration: reset: %s\n", sqlite3_errmsg(sqlite));
		abort();
	}
	/* run_sql may have turned enforcement off for the connection */
	sqlite3_exec(sqlite, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
}

static void write_parts(const uint8_t *data, size_t size)
{
	static const char cut[] = "\n---8<---\n";
	size_t part = 0;
	while (part < sizeof files / sizeof files[0]) {
		const uint8_t *end = memmem(data, size, cut, sizeof cut - 1);
		size_t n = end != NULL ? (size_t)(end - data) : size;
		fuzz_write(files[part++], data, n);
		if (end == NULL)
			break;
		size -= n + sizeof cut - 1;
		data = end + sizeof cut - 1;
	}
	while (part < sizeof files / sizeof files[0])
		unlink(fuzz_path(files[part++]));
}

/* Describes every operation of every migration, as --plan prints them. */
static void describe_all(const sh_migrate_graph *g)
{
	sh_migration_info info;
	for (size_t i = 0; sh_migrate_at(&info, g, NULL, i) == 0; i++) {
		for (size_t op = 0; op < info.operation_count; op++) {
			char small[8], buf[512];
			int n = sh_migrate_describe(small, sizeof small, g, info.app_label, info.name, op);
			int m = sh_migrate_describe(buf, sizeof buf, g, info.app_label, info.name, op);
			if (n < 0 || n != m || strlen(small) >= sizeof small
				|| ((size_t)m < sizeof buf && strlen(buf) != (size_t)m))
				abort();
		}
	}
}

static void plan_and_run(sh_migrate_graph *g)
{
	if (sh_migrate_read_applied(g) < 0)
		return;
	sh_plan_step *plan = NULL;
	size_t count = 0;
	if (sh_migrate_plan(&plan, &count, g, NULL, NULL) == 0)
		sh_migrate_plan_free(plan);
	sh_migrate_changes *changes = NULL;
	if (sh_migrate_detect(&changes, g, NULL) == 0) {
		for (size_t i = 0; i < sh_migrate_changes_count(changes); i++)
			if (sh_migrate_changes_at(changes, i)->text == NULL)
				abort();
	}
	sh_migrate_changes_free(changes);

	int rc = sh_migrate_run(g, NULL);
	say("forwards", rc);
	if (rc != 0)
		return;
	/* Everything applied: nothing may be left to plan. */
	if (sh_migrate_read_applied(g) != 0 || sh_migrate_plan(&plan, &count, g, NULL, NULL) != 0)
		abort();
	if (count != 0) {
		fprintf(stderr, "fuzz-migration: %zu steps left after a full run\n", count);
		abort();
	}
	sh_migrate_plan_free(plan);
	sh_migrate_opts back = SH_MIGRATE_OPTS_INIT;
	back.app_label = "fz";
	back.target = "zero";
	say("fz to zero", sh_migrate_run(g, &back));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (project == NULL) {
		verbose = getenv("SIGHOST_FUZZ_VERBOSE") != NULL;
		init();
	}
	write_parts(data, size);
	reset_database();
	steps = 0;
	sh_migrate_graph *g = NULL;
	int rc = sh_migrate_load(&g, project);
	say("load", rc);
	for (size_t i = 0; i < sh_migrate_problem_count(g); i++) {
		if (sh_migrate_problem(g, i)->text == NULL)
			abort();
		if (verbose)
			fprintf(stderr, "  %s\n", sh_migrate_problem(g, i)->text);
	}
	if (rc == 0) {
		describe_all(g);
		plan_and_run(g);
	}
	sh_migrate_free(g);
	sh_error_clear();
	return 0;
}
