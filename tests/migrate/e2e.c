/*
 * e2e.c: the migration commands end to end, through the sighost binary:
 * migrate's output (Django's), forwards, backwards and to zero;
 * showmigrations; makemigrations with --check on a clean and a dirty
 * project, --dry-run, and writing; problems with file:line:col and exit
 * status 1; the bundled alert plugin's migration and its post_migrate
 * receiver loading the default tags.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/e2e.h"

TestSuite(e2e, .init = e2e_setup, .fini = e2e_cleanup);

static void migration(const char *label, const char *name, const char *yaml)
{
	char *dir = NULL, *file = NULL;
	cr_assert_geq(asprintf(&dir, "%s/migrations", e2e_dir), 0);
	mkdir(dir, 0755);
	free(dir);
	cr_assert_geq(asprintf(&dir, "%s/migrations/%s", e2e_dir, label), 0);
	mkdir(dir, 0755);
	cr_assert_geq(asprintf(&file, "%s.yaml", name), 0);
	free(t_write(dir, file, yaml));
	free(file);
	free(dir);
}

static bool exists(const char *relative)
{
	char *path = t_path(e2e_dir, relative);
	bool found = access(path, F_OK) == 0;
	free(path);
	return found;
}

static char *query(const char *sql)
{
	char *path = t_path(e2e_dir, "db.sqlite3");
	sqlite3 *db;
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *stmt;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK, "%s",
		sqlite3_errmsg(db));
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	while (sqlite3_step(stmt) == SQLITE_ROW)
		fprintf(out, "%s\n", (const char *)sqlite3_column_text(stmt, 0));
	fclose(out);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	free(path);
	return text;
}

static void run_is(t_run r, int status, const char *out)
{
	cr_assert_eq(r.status, status, "status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
	cr_assert_str_eq(r.out, out, "stderr:\n%s", r.err);
}

#define ITEM_V1 "models:\n  Item: {fields: {title: {type: text}}}\n"
#define ITEM_V2 "models:\n  Item: {fields: {title: {type: text}, size: {type: integer, default: 0}}}\n"

static void project_a(const char *models)
{
	e2e_project("project: t\ndatabase: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [plugins]\ninstalled_apps: [a, notes]\n");
	char *yaml = NULL;
	cr_assert_geq(asprintf(&yaml, "label: a\nmigrations: ../migrations/a\n%s", models), 0);
	e2e_manifest("a.yaml", yaml);
	free(yaml);
	e2e_manifest("notes.yaml", "label: notes\nmodels:\n  Note: {fields: {text: {type: text}}}\n");
	migration("a", "0001_initial", "initial: true\noperations:\n"
		"  - create_model: {name: Item, fields: {title: {type: text}}}\n");
	migration("a", "0002_item_size", "dependencies: [[a, 0001_initial]]\noperations:\n"
		"  - add_field: {model: Item, name: size, field: {type: integer, default: 0}}\n");
}

#define RUN(...) E2E_RUN(__VA_ARGS__, "--settings", "project.yaml")

Test(e2e, migrate_prints_what_django_prints)
{
	project_a(ITEM_V2);
	t_run r = RUN("migrate");
	run_is(r, 0,
		"Operations to perform:\n"
		"  Synchronize unmigrated apps: notes\n"
		"  Apply all migrations: a\n"
		"Synchronizing apps without migrations:\n"
		"  Creating tables...\n"
		"    Creating table notes_note\n"
		"    Running deferred SQL...\n"
		"Running migrations:\n"
		"  Applying a.0001_initial... OK\n"
		"  Applying a.0002_item_size... OK\n");
	cr_assert_str_eq(r.err, "");
	t_run_free(&r);
	r = RUN("migrate");
	run_is(r, 0,
		"Operations to perform:\n"
		"  Synchronize unmigrated apps: notes\n"
		"  Apply all migrations: a\n"
		"Synchronizing apps without migrations:\n"
		"  Creating tables...\n"
		"    Running deferred SQL...\n"
		"Running migrations:\n"
		"  No migrations to apply.\n");
	t_run_free(&r);
	r = RUN("showmigrations");
	run_is(r, 0, "a\n [X] 0001_initial\n [X] 0002_item_size\nnotes\n (no migrations)\n");
	t_run_free(&r);
	r = RUN("migrate", "a", "0001");
	run_is(r, 0,
		"Operations to perform:\n"
		"  Target specific migration: 0001_initial, from a\n"
		"Running migrations:\n"
		"  Unapplying a.0002_item_size... OK\n");
	t_run_free(&r);
	r = RUN("showmigrations", "a");
	run_is(r, 0, "a\n [X] 0001_initial\n [ ] 0002_item_size\n");
	t_run_free(&r);
	r = RUN("migrate", "a", "zero", "--plan");
	run_is(r, 0, "Planned operations:\na.0001_initial\n    Undo Create model Item\n");
	t_run_free(&r);
	r = RUN("migrate", "a", "zero");
	run_is(r, 0,
		"Operations to perform:\n"
		"  Unapply all migrations: a\n"
		"Running migrations:\n"
		"  Unapplying a.0001_initial... OK\n");
	t_run_free(&r);
	char *tables = query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
		"LIKE 'sqlite_%' ORDER BY name");
	cr_assert_str_eq(tables, "notes_note\nsighost_migrations\n");
	free(tables);
}

Test(e2e, makemigrations_check_on_a_clean_and_a_dirty_project)
{
	project_a(ITEM_V2);
	t_run r = RUN("makemigrations", "--check");
	run_is(r, 0, "No changes detected\n");
	t_run_free(&r);

	project_a("models:\n  Item: {fields: {title: {type: text}, size: {type: integer, "
		"default: 0}, color: {type: text, null: true}}}\n");
	r = RUN("makemigrations", "--check");
	run_is(r, 1, "Migrations for 'a':\n  migrations/a/0003_item_color.yaml\n"
		"    - Add field color to item\n");
	cr_assert_not(exists("migrations/a/0003_item_color.yaml"));
	t_run_free(&r);
	r = RUN("makemigrations", "--dry-run");
	cr_assert_eq(r.status, 0);
	cr_assert_not(exists("migrations/a/0003_item_color.yaml"));
	t_run_free(&r);
	r = RUN("migrate");
	e2e_has(r.out, "  Applying a.0002_item_size... OK\n");
	t_run_free(&r);
	r = RUN("migrate");
	e2e_has(r.out, "  No migrations to apply.\n  Your models in app(s): 'a' have changes that "
		"are not yet reflected in a migration, and so won't be applied.\n");
	t_run_free(&r);

	r = RUN("makemigrations");
	run_is(r, 0, "Migrations for 'a':\n  migrations/a/0003_item_color.yaml\n"
		"    - Add field color to item\n");
	cr_assert(exists("migrations/a/0003_item_color.yaml"));
	t_run_free(&r);
	r = RUN("makemigrations", "--check");
	run_is(r, 0, "No changes detected\n");
	t_run_free(&r);
	r = RUN("makemigrations", "a");
	run_is(r, 0, "No changes detected in app 'a'\n");
	t_run_free(&r);
	r = RUN("migrate");
	e2e_has(r.out, "  Applying a.0003_item_color... OK\n");
	t_run_free(&r);
	char *columns = query("SELECT name FROM pragma_table_info('a_item')");
	cr_assert_str_eq(columns, "id\ntitle\nsize\ncolor\n");
	free(columns);
}

Test(e2e, problems_name_the_file_line_and_column)
{
	project_a(ITEM_V2);
	migration("a", "0003_bad", "dependencies: [[a, 0002_item_size]]\noperations:\n"
		"  - add_feild: {model: Item}\n");
	const char *commands[] = { "migrate", "showmigrations", "makemigrations" };
	for (size_t i = 0; i < 3; i++) {
		t_run r = RUN(commands[i]);
		cr_assert_eq(r.status, 1, "%s", commands[i]);
		cr_assert_str_eq(r.out, "");
		e2e_has(r.err, "/migrations/a/0003_bad.yaml:3:5: unknown operation 'add_feild' (did "
			"you mean 'add_field'?)\n");
		char *count = NULL;
		cr_assert_geq(asprintf(&count, "sighost %s: 1 problem found\n", commands[i]), 0);
		e2e_has(r.err, count);
		free(count);
		t_run_free(&r);
	}
}

Test(e2e, a_failing_migration_is_named_and_the_earlier_ones_stay)
{
	project_a(ITEM_V2);
	migration("a", "0003_bad", "dependencies: [[a, 0002_item_size]]\noperations:\n"
		"  - run_sql: {sql: \"DROP TABLE nothing_here\"}\n");
	t_run r = RUN("migrate");
	cr_assert_eq(r.status, 1);
	e2e_has(r.out, "  Applying a.0002_item_size... OK\n  Applying a.0003_bad... FAILED\n");
	e2e_has(r.err, "sighost migrate: applying a.0003_bad failed at operation 1 (Raw SQL "
		"operation, ");
	e2e_has(r.err, "/migrations/a/0003_bad.yaml:3:5): no such table: nothing_here\n");
	t_run_free(&r);
	r = RUN("showmigrations", "a");
	run_is(r, 0, "a\n [X] 0001_initial\n [X] 0002_item_size\n [ ] 0003_bad\n");
	t_run_free(&r);
}

Test(e2e, an_irreversible_migration_is_refused)
{
	project_a(ITEM_V2);
	migration("a", "0003_data", "dependencies: [[a, 0002_item_size]]\noperations:\n"
		"  - run_sql: {sql: \"INSERT INTO a_item (title, size) VALUES ('x', 1)\"}\n");
	t_run r = RUN("migrate");
	cr_assert_eq(r.status, 0, "%s", r.err);
	t_run_free(&r);
	r = RUN("migrate", "a", "0001");
	cr_assert_eq(r.status, 1);
	e2e_has(r.err, "sighost migrate: migration a.0003_data is not reversible: operation 1 (Raw "
		"SQL operation, ");
	t_run_free(&r);
	char *rows = query("SELECT title FROM a_item");
	cr_assert_str_eq(rows, "x\n");
	free(rows);
}

Test(e2e, the_alert_plugin_migrates_and_loads_its_default_tags)
{
	char *yaml = NULL;
	cr_assert_geq(asprintf(&yaml, "project: t\ndatabase: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [%s]\ninstalled_apps: [alert]\n", t_env("SIGHOST_PLUGIN_DIR")), 0);
	e2e_project(yaml);
	free(yaml);
	t_run r = RUN("migrate");
	run_is(r, 0,
		"Operations to perform:\n"
		"  Apply all migrations: alert\n"
		"Running migrations:\n"
		"  Applying alert.0001_initial... OK\n"
		"  Applying alert.0002_alter_owner_name... OK\n");
	t_run_free(&r);
	char *tags = query("SELECT name FROM alert_tag ORDER BY name");
	cr_assert_str_eq(tags, "critical\ninfo\nwarning\n");
	free(tags);
	r = RUN("migrate");
	cr_assert_eq(r.status, 0, "%s", r.err);
	t_run_free(&r);
	tags = query("SELECT count(*) FROM alert_tag");
	cr_assert_str_eq(tags, "3\n");
	free(tags);
	/* The committed migration gives exactly the manifest's models. */
	r = RUN("makemigrations", "--check");
	run_is(r, 0, "No changes detected\n");
	t_run_free(&r);
	r = RUN("migrate", "alert", "zero");
	cr_assert_eq(r.status, 0, "%s", r.err);
	t_run_free(&r);
	tags = query("SELECT count(*) FROM sqlite_master WHERE name = 'alert_tag'");
	cr_assert_str_eq(tags, "0\n");
	free(tags);
}

/* An out-of-tree app whose first model points at a model of the bundled
 * alert app (which has migrations): makemigrations writes 0001_initial
 * depending on alert's migration (Django's), migrate refuses before it
 * and applies both after it, and check says what to run meanwhile. */
Test(e2e, first_migration_of_an_app_pointing_at_another_apps_model)
{
	char *yaml = NULL;
	cr_assert_geq(asprintf(&yaml, "project: t\ndatabase: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [%s, apps]\ninstalled_apps: [alert, notes]\n",
		t_env("SIGHOST_PLUGIN_DIR")), 0);
	e2e_project(yaml);
	free(yaml);
	char *apps = t_path(e2e_dir, "apps"), *mig = t_path(e2e_dir, "apps/migrations");
	cr_assert_eq(mkdir(apps, 0755), 0);
	cr_assert_eq(mkdir(mig, 0755), 0);
	free(t_write(apps, "notes.yaml", "label: notes\nmigrations: migrations\nmodels:\n"
		"  Note:\n    fields:\n      text: {type: text}\n"
		"      alert: {type: foreign_key, to: alert.Alert, on_delete: cascade}\n"));

	t_run r = RUN("migrate");
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	e2e_has(r.err, "run 'sighost makemigrations notes'");
	t_run_free(&r);
	r = RUN("check");
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	e2e_has(r.err, "warning: ");
	e2e_has(r.err, "run 'sighost makemigrations notes'");
	t_run_free(&r);

	r = RUN("makemigrations", "notes");
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	e2e_has(r.out, "Migrations for 'notes':");
	t_run_free(&r);
	char *file = t_path(mig, "0001_initial.yaml"), *text = t_read(file);
	e2e_has(text, "dependencies:\n- [alert, 0002_alter_owner_name]\n");
	e2e_has(text, "to: alert.Alert");
	free(text);
	free(file);

	r = RUN("migrate");
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	e2e_has(r.out, "Applying notes.0001_initial... OK");
	t_run_free(&r);
	char *tables = query("SELECT name FROM sqlite_master WHERE name = 'notes_note'");
	cr_assert_str_eq(tables, "notes_note\n");
	free(tables);
	free(apps);
	free(mig);
}
