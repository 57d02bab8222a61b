/*
 * manifest.c: what `sighost check` finds in manifests, through the public
 * API: every problem with file:line:column, unknown keys with the nearest
 * valid one suggested, wrong types, duplicates, unknown apps, dependency
 * cycles named in order, and the load order.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sighost/sys/sighost.h>

#include "../support/support.h"

static char *dir;
static char *apps;
static char *project_path;
static sh_project *project;

static void setup(void)
{
	dir = t_mkdtemp();
	apps = t_path(dir, "apps");
	cr_assert_eq(mkdir(apps, 0700), 0);
	cr_assert_eq(sh_project_new(&project), 0);
}

static void cleanup(void)
{
	sh_project_free(project);
	t_rmtree(dir);
	free(dir);
	free(apps);
	free(project_path);
}

TestSuite(manifest, .init = setup, .fini = cleanup);

static void app(const char *name, const char *yaml)
{
	free(t_write(apps, name, yaml));
}

static int read_project(const char *yaml)
{
	project_path = t_write(dir, "project.yaml", yaml);
	return sh_project_read(project, project_path);
}

/* Asserts that some problem's text ends with "project.yaml" + `tail` or
 * equals `tail` after the scratch directory. */
static void assert_problem(const char *tail)
{
	size_t n = sh_project_problem_count(project);
	for (size_t i = 0; i < n; i++) {
		const char *text = sh_project_problem(project, i)->text;
		size_t lt = strlen(text), ls = strlen(tail);
		if (lt >= ls && strcmp(text + lt - ls, tail) == 0)
			return;
	}
	fprintf(stderr, "problems:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  %s\n", sh_project_problem(project, i)->text);
	cr_assert_fail("no problem ends with: %s", tail);
}

Test(manifest, unknown_key_names_its_position_and_the_nearest_valid_key)
{
	cr_assert_eq(read_project("project: t\ninstaled_apps: []\n"), SH_EMANIFEST);
	cr_assert_eq(sh_project_problem_count(project), 1);
	const sh_problem *p = sh_project_problem(project, 0);
	cr_assert_eq(p->line, 2);
	cr_assert_eq(p->column, 1);
	cr_assert_str_eq(p->message,
		"unknown key 'instaled_apps' in project manifest (did you mean 'installed_apps'?)");
	cr_assert_not_null(strstr(p->text, "project.yaml:2:1: unknown key"));
	cr_assert_eq(sh_error_last()->code, SH_EMANIFEST);
	cr_assert_str_eq(sh_error_last()->message, p->text);
}

Test(manifest, a_key_far_from_every_valid_one_gets_no_suggestion)
{
	cr_assert_eq(read_project("project: t\nfrobnicate: 1\n"), SH_EMANIFEST);
	assert_problem(":2:1: unknown key 'frobnicate' in project manifest");
}

Test(manifest, wrong_types_say_what_was_expected)
{
	cr_assert_eq(read_project("project: t\nplugin_dirs: apps\ninstalled_apps: [1]\n"
		"settings: [a]\n"), SH_EMANIFEST);
	assert_problem(":2:14: 'plugin_dirs' must be a list of strings, not a string");
	assert_problem(":3:18: items of 'installed_apps' must be a string, not an integer");
	assert_problem(":4:11: 'settings' must be a map, not a list");
}

Test(manifest, a_missing_required_key_is_reported)
{
	cr_assert_eq(read_project("installed_apps: []\n"), SH_EMANIFEST);
	assert_problem(":1:1: missing key 'project' in project manifest");
}

Test(manifest, malformed_yaml_is_reported_with_its_position)
{
	cr_assert_eq(read_project("project: t\nsettings:\n  a: [1, 2\n  b: 3\n"), SH_EMANIFEST);
	cr_assert_eq(sh_project_problem_count(project), 1);
	const sh_problem *p = sh_project_problem(project, 0);
	cr_assert_not_null(strstr(p->message, "malformed YAML"), "%s", p->text);
	cr_assert_gt(p->line, 2, "%s", p->text);
}

Test(manifest, a_duplicate_key_points_at_the_first)
{
	cr_assert_eq(read_project("project: t\nproject: u\n"), SH_EMANIFEST);
	assert_problem(":2:1: duplicate key 'project' (first at line 1, column 1)");
}

Test(manifest, an_empty_or_non_map_manifest_is_a_problem)
{
	cr_assert_eq(read_project("- just\n- a list\n"), SH_EMANIFEST);
	assert_problem(":1:1: project manifest must be a map, not a list");
}

Test(manifest, every_problem_is_reported_not_only_the_first)
{
	app("a.yaml", "label: a\ndependss: [b]\n");
	int rc = read_project("project: t\nplugin_dirs: [apps]\ninstaled_apps: []\n"
		"database: {engine: postgres, name: x.db}\n");
	cr_assert_eq(rc, SH_EMANIFEST);
	cr_assert_eq(sh_project_problem_count(project), 3);
	assert_problem(":3:1: unknown key 'instaled_apps' in project manifest (did you mean 'installed_apps'?)");
	assert_problem(":4:20: unknown database engine 'postgres' (sighost supports 'sqlite')");
	assert_problem("a.yaml:2:1: unknown key 'dependss' in app manifest (did you mean 'depends'?)");
}

Test(manifest, database_synchronous_is_full_or_normal)
{
	cr_assert_eq(read_project("project: t\ndatabase:\n  engine: sqlite\n  name: x.db\n"
		"  synchronous: off\n"), SH_EMANIFEST);
	assert_problem(":5:16: database.synchronous must be 'full' or 'normal', not 'off'");
	sh_project_free(project);
	free(project_path);
	cr_assert_eq(sh_project_new(&project), 0);
	cr_assert_eq(read_project("project: t\ndatabase: {engine: sqlite, name: x.db, synchronous: normal}\n"), 0);
}

Test(manifest, a_missing_plugin_directory_is_reported)
{
	cr_assert_eq(read_project("project: t\nplugin_dirs: [nowhere]\n"), SH_EMANIFEST);
	cr_assert_not_null(strstr(sh_project_problem(project, 0)->text,
		":2:15: plugin directory 'nowhere' is not a directory"));
}

Test(manifest, duplicate_labels_name_both_files)
{
	app("a.yaml", "label: shop\n");
	app("b.yaml", "label: shop\n");
	cr_assert_eq(read_project("project: t\nplugin_dirs: [apps]\ninstalled_apps: [shop]\n"),
		SH_EMANIFEST);
	size_t n = sh_project_problem_count(project);
	cr_assert_eq(n, 1);
	const sh_problem *p = sh_project_problem(project, 0);
	cr_assert_not_null(strstr(p->text, "b.yaml:1:8: duplicate app label 'shop' (also declared at "));
	cr_assert_not_null(strstr(p->text, "a.yaml:1:8)"));
}

Test(manifest, unknown_apps_are_reported_with_a_suggestion)
{
	app("alert.yaml", "label: alert\n");
	app("mail.yaml", "label: mail\ndepends: [alrt]\n");
	cr_assert_eq(read_project("project: t\nplugin_dirs: [apps]\ninstalled_apps: [alerts, mail, zzz]\n"),
		SH_EMANIFEST);
	assert_problem(":3:18: unknown app 'alerts' in installed_apps (did you mean 'alert'?)");
	assert_problem(":3:32: unknown app 'zzz' in installed_apps (no app manifest in the plugin directories has this label)");
	assert_problem("mail.yaml:2:11: unknown app 'alrt' in the depends of 'mail' (did you mean 'alert'?)");
}

Test(manifest, a_dependency_must_be_installed)
{
	app("billing.yaml", "label: billing\n");
	app("mailer.yaml", "label: mailer\ndepends: [billing]\n");
	cr_assert_eq(read_project("project: t\nplugin_dirs: [apps]\ninstalled_apps: [mailer]\n"),
		SH_EMANIFEST);
	assert_problem("mailer.yaml:2:11: app 'mailer' depends on 'billing', which is not in installed_apps");
}

Test(manifest, a_dependency_cycle_is_named_in_order)
{
	app("a.yaml", "label: a\ndepends: [b]\n");
	app("b.yaml", "label: b\ndepends: [c]\n");
	app("c.yaml", "label: c\ndepends: [a]\n");
	app("d.yaml", "label: d\ndepends: [d]\n");
	cr_assert_eq(read_project("project: t\nplugin_dirs: [apps]\ninstalled_apps: [a, b, c, d]\n"),
		SH_EMANIFEST);
	cr_assert_eq(sh_project_problem_count(project), 2);
	assert_problem("a.yaml:2:10: dependency cycle: a -> b -> c -> a");
	assert_problem("d.yaml:2:10: dependency cycle: d -> d");
}

Test(manifest, apps_load_after_their_dependencies_installed_order_breaking_ties)
{
	app("web.yaml", "label: web\ndepends: [db, auth]\n");
	app("auth.yaml", "label: auth\ndepends: [db]\n");
	app("db.yaml", "label: db\n");
	app("zoo.yaml", "label: zoo\n");
	cr_assert_eq(read_project("project: t\nplugin_dirs: [apps]\n"
		"installed_apps: [zoo, web, auth, db]\n"), 0, "%s", sh_error_last()->message);
	const char *expected[] = { "zoo", "db", "auth", "web" };
	cr_assert_eq(sh_project_app_count(project), 4);
	for (size_t i = 0; i < 4; i++)
		cr_assert_str_eq(sh_app_label(sh_project_app_at(project, i)), expected[i]);
	cr_assert_eq(sh_app_depends_count(sh_project_app(project, "web")), 2);
	cr_assert_str_eq(sh_app_depends_at(sh_project_app(project, "web"), 1), "auth");
}

Test(manifest, app_manifest_rules_labels_and_abi)
{
	app("x.yaml", "label: 9lives\n");
	app("y.yaml", "label: y\nabi: 7\nversion: [1]\n");
	cr_assert_eq(read_project("project: t\nplugin_dirs: [apps]\n"), SH_EMANIFEST);
	assert_problem("x.yaml:1:8: label '9lives' is not valid: use letters, digits and '_', not starting with a digit");
	assert_problem("y.yaml:2:6: app 'y' is for ABI 7, host is 1");
	assert_problem("y.yaml:3:10: 'version' must be a string, not a list");
}

Test(manifest, an_app_without_library_is_valid)
{
	app("notes.yaml", "label: notes\nversion: 2\nmodels: {Note: {}}\n");
	cr_assert_eq(read_project("project: t\nplugin_dirs: [apps]\ninstalled_apps: [notes]\n"), 0,
		"%s", sh_error_last()->message);
	sh_app *notes = sh_project_app(project, "notes");
	cr_assert_null(sh_app_library_path(notes));
	cr_assert_str_eq(sh_app_version(notes), "2");
	cr_assert_eq(sh_project_load(project), 0);
	cr_assert(sh_app_is_ready(notes));
}

Test(manifest, a_project_is_read_once)
{
	cr_assert_eq(read_project("project: t\n"), 0);
	cr_assert_eq(sh_project_read(project, project_path), SH_EINVAL);
	cr_assert_str_eq(sh_project_name(project), "t");
}

Test(manifest, the_database_file_is_made_absolute)
{
	cr_assert_eq(read_project("project: t\ndatabase:\n  engine: sqlite\n  name: data/x.db\n"), 0);
	cr_assert_str_eq(sh_project_db_engine(project), "sqlite");
	char *expected = t_path(dir, "data/x.db");
	cr_assert_str_eq(sh_project_db_name(project), expected);
	free(expected);
}
