/*
 * support.c: the helpers of support.h.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

char *mt_dir;

void mt_setup(void)
{
	mt_dir = t_mkdtemp();
	char *plugins = t_path(mt_dir, "plugins"), *migrations = t_path(mt_dir, "migrations");
	cr_assert_eq(mkdir(plugins, 0755), 0);
	cr_assert_eq(mkdir(migrations, 0755), 0);
	free(plugins);
	free(migrations);
}

void mt_teardown(void)
{
	t_rmtree(mt_dir);
	free(mt_dir);
	mt_dir = NULL;
}

static void mt_write_app(const char *label, const char *text)
{
	char *plugins = t_path(mt_dir, "plugins"), *name = NULL;
	cr_assert_geq(asprintf(&name, "%s.yaml", label), 0);
	free(t_write(plugins, name, text));
	free(name);
	free(plugins);
}

void mt_app(const char *label, const char *extra)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "label: %s\nmigrations: ../migrations/%s\n%s", label, label,
		extra ? extra : ""), 0);
	mt_write_app(label, text);
	free(text);
}

void mt_app_plain(const char *label, const char *extra)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "label: %s\n%s", label, extra ? extra : ""), 0);
	mt_write_app(label, text);
	free(text);
}

static char *mt_folder(const char *label)
{
	char *dir = NULL;
	cr_assert_geq(asprintf(&dir, "%s/migrations/%s", mt_dir, label), 0);
	mkdir(dir, 0755);
	return dir;
}

void mt_migration(const char *label, const char *name, const char *yaml)
{
	char *dir = mt_folder(label), *file = NULL;
	cr_assert_geq(asprintf(&file, "%s.yaml", name), 0);
	free(t_write(dir, file, yaml));
	free(file);
	free(dir);
}

void mt_unlink_migration(const char *label, const char *name)
{
	char *path = NULL;
	cr_assert_geq(asprintf(&path, "%s/migrations/%s/%s.yaml", mt_dir, label, name), 0);
	cr_assert_eq(unlink(path), 0, "unlink %s", path);
	free(path);
}

void mt_project(const char *installed)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: t\ndatabase: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [plugins]\ninstalled_apps: [%s]\n", installed), 0);
	free(t_write(mt_dir, "project.yaml", text));
	free(text);
}

sh_project *mt_open(void)
{
	sh_project *p;
	cr_assert_eq(sh_project_new(&p), 0);
	char *path = t_path(mt_dir, "project.yaml");
	int rc = sh_project_read(p, path);
	if (rc == 0)
		rc = sh_project_load(p);
	free(path);
	cr_assert_eq(rc, 0, "project: %s", sh_error_last()->message);
	return p;
}

sh_migrate_graph *mt_graph(sh_project *p)
{
	sh_migrate_graph *g = NULL;
	int rc = sh_migrate_load(&g, p);
	cr_assert_eq(rc, 0, "migrations: %s", sh_error_last()->message);
	cr_assert_eq(sh_migrate_problem_count(g), 0);
	return g;
}

int mt_migrate(sh_migrate_graph *g, const char *app, const char *target)
{
	sh_migrate_opts opts = SH_MIGRATE_OPTS_INIT;
	opts.app_label = app;
	opts.target = target;
	return sh_migrate_run(g, &opts);
}

static char *mt_rows(const char *path, const char *sql)
{
	sqlite3 *db;
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", path);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	sqlite3_stmt *stmt;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK, "%s: %s", sql,
		sqlite3_errmsg(db));
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(stmt); i++) {
			const unsigned char *v = sqlite3_column_text(stmt, i);
			fprintf(out, "%s%s", i ? "|" : "", v ? (const char *)v : "NULL");
		}
		fputc('\n', out);
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	fclose(out);
	return text;
}

char *mt_query(const char *sql)
{
	char *path = t_path(mt_dir, "db.sqlite3");
	char *rows = mt_rows(path, sql);
	free(path);
	return rows;
}

char *mt_schema(const char *path)
{
	return mt_rows(path, "SELECT name || ': ' || sql FROM sqlite_master WHERE sql IS NOT NULL "
		"AND name NOT LIKE 'sqlite_%' AND name != '" SH_MIGRATE_TABLE "' ORDER BY name");
}

char *mt_synced_schema(sh_project *p)
{
	char *path = t_path(mt_dir, "synced.sqlite3");
	sh_database *database;
	cr_assert_eq(sh_database_open(&database, path, sh_project_models(p)), 0);
	sh_conn *db;
	cr_assert_eq(sh_database_connection(&db, database), 0);
	cr_assert_eq(sh_database_syncdb(db), 0, "%s", sh_error_last()->message);
	sh_database_close(database);
	char *schema = mt_schema(path);
	unlink(path);
	free(path);
	return schema;
}

char *mt_plan_text(const sh_plan_step *plan, size_t count)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	for (size_t i = 0; i < count; i++)
		fprintf(out, "%s%s%s.%s", i ? " " : "", plan[i].backwards ? "-" : "", plan[i].app_label,
			plan[i].name);
	fclose(out);
	return text;
}

char *mt_plan(sh_migrate_graph *g, const char *app, const char *target)
{
	cr_assert_eq(sh_migrate_read_applied(g), 0, "%s", sh_error_last()->message);
	sh_plan_step *plan;
	size_t n;
	int rc = sh_migrate_plan(&plan, &n, g, app, target);
	cr_assert_eq(rc, 0, "plan: %s", sh_error_last()->message);
	char *text = mt_plan_text(plan, n);
	sh_migrate_plan_free(plan);
	return text;
}

void mt_has(const char *text, const char *needle)
{
	cr_assert_not_null(text);
	cr_assert_not_null(strstr(text, needle), "expected to find\n  %s\nin\n%s", needle, text);
}

void mt_exec(const char *sql)
{
	char *path = t_path(mt_dir, "db.sqlite3");
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	char *why = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &why);
	cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, why ? why : "");
	sqlite3_close(db);
	free(path);
}

void mt_three_apps(void)
{
	mt_app("people", NULL);
	mt_app("shop", NULL);
	mt_app("orders", NULL);
	mt_app_plain("notes", "models:\n  Note:\n    fields:\n      text: {type: text}\n");
	mt_project("people, shop, orders, notes");
	mt_migration("people", "0001_initial",
		"initial: true\n"
		"operations:\n"
		"  - create_model: {name: Person, fields: {name: {type: text, max_length: 50}}}\n");
	mt_migration("people", "0002_person_age",
		"dependencies: [[people, 0001_initial]]\n"
		"operations:\n"
		"  - add_field: {model: Person, name: age, field: {type: integer, default: 0}}\n");
	mt_migration("shop", "0001_initial",
		"initial: true\n"
		"dependencies: [[people, 0001_initial]]\n"
		"operations:\n"
		"  - create_model:\n"
		"      name: Item\n"
		"      fields:\n"
		"        title: {type: text}\n"
		"        seller: {type: foreign_key, to: people.Person, on_delete: cascade}\n");
	mt_migration("shop", "0002_item_price",
		"dependencies: [[shop, 0001_initial]]\n"
		"operations:\n"
		"  - add_field: {model: Item, name: price, field: {type: real, null: true}}\n");
	mt_migration("orders", "0001_initial",
		"initial: true\n"
		"dependencies: [[shop, 0001_initial], [people, 0002_person_age]]\n"
		"operations:\n"
		"  - create_model:\n"
		"      name: Order\n"
		"      fields:\n"
		"        item: {type: foreign_key, to: shop.Item, on_delete: protect}\n"
		"        buyer: {type: foreign_key, to: people.Person, on_delete: cascade}\n"
		"        lines: {type: many_to_many, to: shop.Item, related_name: orders}\n");
}
