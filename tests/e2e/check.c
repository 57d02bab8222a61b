/*
 * check.c: `sighost check` end to end: the real binary against manifests
 * written to a scratch directory and real plugins built by meson, good
 * and broken. Asserts on stdout, stderr and the exit status.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../support/e2e.h"

TestSuite(check, .init = e2e_setup, .fini = e2e_cleanup);

/* A project with the given installed apps, its plugin dir and settings. */
static void simple_project(const char *installed)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: shop\nplugin_dirs: [plugins]\n"
		"installed_apps: [%s]\n", installed), 0);
	e2e_project(text);
	free(text);
}

static t_run check(void)
{
	return E2E_RUN("check", "--settings", "project.yaml");
}

Test(check, a_good_project_passes)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: shop\ndatabase: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [%s, plugins]\ninstalled_apps: [audit, alert, billing, mailer, good, notes]\n"
		"settings:\n  audit: {path: audit.jsonl}\n", t_env("SIGHOST_PLUGIN_DIR")), 0);
	e2e_project(text);
	e2e_plugin("t_ok", "good", NULL);
	e2e_manifest("notes.yaml", "label: notes\n");
	t_run r = check();
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_str_eq(r.out,
		"project 'shop' (project.yaml): 6 apps, 5 plugins loaded, 6 routes; no problems found\n");
	cr_assert_str_eq(r.err, "[good] info: ready\n");
	t_run_free(&r);
	free(text);
}

Test(check, lists_every_problem_one_per_line_and_exits_1)
{
	e2e_project("project: shop\ninstaled_apps: [a]\nplugin_dirs: plugins\n"
		"database: {engine: postgres, name: x}\nsettings: 3\n");
	t_run r = check();
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.out, "");
	cr_assert_str_eq(r.err,
		"project.yaml:2:1: unknown key 'instaled_apps' in project manifest (did you mean 'installed_apps'?)\n"
		"project.yaml:3:14: 'plugin_dirs' must be a list of strings, not a string\n"
		"project.yaml:5:11: 'settings' must be a map, not an integer\n"
		"project.yaml:4:20: unknown database engine 'postgres' (sighost supports 'sqlite')\n"
		"sighost check: 4 problems found\n");
	t_run_free(&r);
}

Test(check, malformed_yaml_is_reported_with_line_and_column)
{
	e2e_project("project: shop\ninstalled_apps: [a, b\nplugin_dirs: []\n");
	t_run r = check();
	cr_assert_eq(r.status, 1);
	e2e_has(r.err, "project.yaml:3:12: malformed YAML: ");
	cr_assert_eq(t_lines(r.err), 2, "%s", r.err);
	t_run_free(&r);
}

Test(check, a_malformed_app_manifest_is_named)
{
	simple_project("");
	e2e_manifest("bad.yaml", "label: bad\ndepends: [x\n  - y\n");
	t_run r = check();
	cr_assert_eq(r.status, 1);
	e2e_has(r.err, "plugins/bad.yaml:");
	e2e_has(r.err, "malformed YAML");
	t_run_free(&r);
}

Test(check, wrong_types_in_an_app_manifest)
{
	simple_project("x");
	e2e_manifest("x.yaml", "label: x\ndepends: billing\nabi: one\n");
	t_run r = check();
	cr_assert_eq(r.status, 1);
	e2e_has(r.err, "/plugins/x.yaml:2:10: 'depends' must be a list of strings, not a string\n");
	e2e_has(r.err, "/plugins/x.yaml:3:6: 'abi' must be an integer, not a string\n");
	t_run_free(&r);
}

Test(check, duplicate_labels)
{
	simple_project("shop");
	e2e_manifest("a.yaml", "label: shop\n");
	e2e_manifest("b.yaml", "label: shop\n");
	t_run r = check();
	cr_assert_eq(r.status, 1);
	e2e_has(r.err, "/plugins/b.yaml:1:8: duplicate app label 'shop' (also declared at ");
	e2e_has(r.err, "/plugins/a.yaml:1:8)\n");
	t_run_free(&r);
}

Test(check, unknown_apps_in_installed_apps_and_depends)
{
	simple_project("alert, mailer, alrt");
	e2e_manifest("alert.yaml", "label: alert\n");
	e2e_manifest("mailer.yaml", "label: mailer\ndepends: [biling]\n");
	e2e_manifest("billing.yaml", "label: billing\n");
	t_run r = check();
	cr_assert_eq(r.status, 1);
	e2e_has(r.err, "project.yaml:3:33: unknown app 'alrt' in installed_apps (did you mean 'alert'?)\n");
	e2e_has(r.err, "/plugins/mailer.yaml:2:11: unknown app 'biling' in the depends of 'mailer' (did you mean 'billing'?)\n");
	e2e_has(r.err, "sighost check: 2 problems found\n");
	t_run_free(&r);
}

Test(check, a_dependency_cycle_is_named)
{
	simple_project("a, b, c");
	e2e_manifest("a.yaml", "label: a\ndepends: [c]\n");
	e2e_manifest("b.yaml", "label: b\ndepends: [a]\n");
	e2e_manifest("c.yaml", "label: c\ndepends: [b]\n");
	t_run r = check();
	cr_assert_eq(r.status, 1);
	e2e_has(r.err, "/plugins/a.yaml:2:10: dependency cycle: a -> c -> b -> a\n");
	t_run_free(&r);
}

/* Installs one test plugin as app `label` and runs check. */
static t_run check_plugin(const char *file, const char *label)
{
	simple_project(label);
	e2e_plugin(file, label, NULL);
	return check();
}

/* The expected start of a plugin problem line. */
static char *plugin_line(const char *label, const char *reason)
{
	char *s = NULL;
	cr_assert_geq(asprintf(&s, "plugin '%s' (%s/%s.so): %s", label, e2e_plugins, label, reason), 0);
	return s;
}

Test(check, a_plugin_without_ready)
{
	t_run r = check_plugin("t_noready", "lazy");
	cr_assert_eq(r.status, 1);
	char *line = plugin_line("lazy", "missing symbol: ");
	e2e_has(r.err, line);
	e2e_has(r.err, "undefined symbol: ready\n");
	free(line);
	t_run_free(&r);
}

Test(check, a_plugin_built_for_another_abi)
{
	t_run r = check_plugin("t_badabi", "old");
	cr_assert_eq(r.status, 1);
	char *line = plugin_line("old", "ABI mismatch: built for ABI 42, host is 1.1 (another major): "
		"rebuild the plugin against sighost 0.1.0: pkg-config --modversion sighost\n");
	e2e_has(r.err, line);
	free(line);
	t_run_free(&r);
}

Test(check, a_plugin_whose_ready_fails)
{
	t_run r = check_plugin("t_readyfail", "alert");
	cr_assert_eq(r.status, 1);
	char *line = plugin_line("alert", "ready() failed: database 'ledger' unreachable\n");
	cr_assert_eq(strncmp(r.err, line, strlen(line)), 0, "%s", r.err);
	free(line);
	t_run_free(&r);
}

Test(check, a_file_that_is_not_a_shared_object)
{
	simple_project("x");
	e2e_manifest("x.so", "#!/bin/sh\necho not a plugin\n");
	e2e_manifest("x.yaml", "label: x\nlibrary: x.so\n");
	t_run r = check();
	cr_assert_eq(r.status, 1);
	char *line = plugin_line("x", "not a shared object (no ELF header)\n");
	e2e_has(r.err, line);
	free(line);
	t_run_free(&r);
}

Test(check, a_missing_library_file)
{
	simple_project("x");
	e2e_manifest("x.yaml", "label: x\nlibrary: x.so\n");
	t_run r = check();
	cr_assert_eq(r.status, 1);
	char *line = plugin_line("x", "file not found\n");
	e2e_has(r.err, line);
	free(line);
	t_run_free(&r);
}

Test(check, a_plugin_in_a_world_writable_directory_is_refused)
{
	simple_project("good");
	e2e_plugin("t_ok", "good", NULL);
	cr_assert_eq(chmod(e2e_plugins, 0777), 0);
	t_run r = check();
	cr_assert_eq(r.status, 1);
	char *reason = NULL;
	cr_assert_geq(asprintf(&reason, "bad modes for directory %s: writable by group and others "
		"(mode 0777); fix with chmod go-w %s\n", e2e_plugins, e2e_plugins), 0);
	char *line = plugin_line("good", reason);
	e2e_has(r.err, line);
	cr_assert_null(strstr(r.err, "ready"), "ready() must not run: %s", r.err);
	free(line);
	free(reason);
	t_run_free(&r);
}

Test(check, manifests_only_skips_loading)
{
	simple_project("old");
	e2e_plugin("t_badabi", "old", NULL);
	t_run r = E2E_RUN("check", "--settings", "project.yaml", "--manifests-only");
	cr_assert_eq(r.status, 0, "%s", r.err);
	e2e_has(r.out, "1 app, 1 plugin (not loaded), 0 routes; no problems found");
	t_run_free(&r);
}

Test(check, the_manifest_comes_from_the_environment_or_the_default_path)
{
	char *manifests = t_path(e2e_dir, "manifests");
	cr_assert_eq(mkdir(manifests, 0755), 0);
	free(manifests);
	free(t_write(e2e_dir, "manifests/project.yaml", "project: by_default\n"));
	free(t_write(e2e_dir, "env.yaml", "project: by_env\n"));
	e2e_project("project: by_option\n");
	t_run r = t_sighost(e2e_dir, NULL, (const char *const[]){ "check", NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	e2e_has(r.out, "project 'by_default' (manifests/project.yaml)");
	t_run_free(&r);
	r = t_sighost(e2e_dir, "env.yaml", (const char *const[]){ "check", NULL });
	e2e_has(r.out, "project 'by_env' (env.yaml)");
	t_run_free(&r);
	r = t_sighost(e2e_dir, "env.yaml", (const char *const[]){ "check", "--settings=project.yaml", NULL });
	e2e_has(r.out, "project 'by_option' (project.yaml)");
	t_run_free(&r);
}

Test(check, a_missing_project_manifest)
{
	t_run r = E2E_RUN("check", "--settings", "nope.yaml");
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "sighost: no project manifest at nope.yaml (--settings); name one "
		"with --settings FILE or the environment variable SIGHOST_SETTINGS=FILE, or run from "
		"the project's directory\n"
		"nope.yaml: cannot read manifest: No such file or directory\n"
		"sighost check: 1 problem found\n");
	t_run_free(&r);
}

Test(check, a_bad_option_is_a_usage_error)
{
	t_run r = E2E_RUN("check", "--frobnicate");
	cr_assert_eq(r.status, 2);
	e2e_has(r.err, "frobnicate");
	t_run_free(&r);
}

Test(check, route_problems_are_listed_with_their_position)
{
	e2e_project("project: shop\nplugin_dirs: [plugins]\ninstalled_apps: [shop]\n");
	e2e_manifest("shop.yaml",
		"label: shop\n"
		"routes:\n"
		"  - {path: /a, view: a}\n"
		"  - {path: /b, view: b, methd: [GET]}\n");
	t_run r = E2E_RUN("check", "--settings", "project.yaml");
	cr_assert_eq(r.status, 1, "%s", r.err);
	e2e_has(r.err, "shop.yaml:4:");
	e2e_has(r.err, "unknown key 'methd'");
	e2e_has(r.err, "did you mean 'methods'?");
	t_run_free(&r);
}

/* A receiver of a misspelt signal and one from a sender naming no model
 * are problems with the nearest name; one of a custom signal nobody
 * declares is a warning naming the receiver and its plugin. */
Test(check, receivers_that_never_run_are_reported_with_a_suggestion)
{
	e2e_project("project: t\ndatabase: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [plugins]\ninstalled_apps: [notes, bad]\n");
	e2e_manifest("notes.yaml", "label: notes\nmodels:\n  Note: {fields: {text: {type: text}}}\n");
	e2e_plugin("t_misspelt", "bad", NULL);
	t_run r = check();
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	e2e_has(r.err, "is connected to signal 'post_delet', which no app declares, so it never "
		"runs: did you mean 'post_delete'?");
	e2e_has(r.err, "on_deleted of app 'bad'");
	e2e_has(r.err, "sender 'notes.Nte', which names no installed model, so it never runs: did "
		"you mean 'notes.Note'?");
	e2e_has(r.err, "warning: receiver on_never of app 'bad' (");
	e2e_has(r.err, "bad.so) is connected to custom signal 't.never_declared'");
	e2e_has(r.err, "sighost check: 2 problems found");
	t_run_free(&r);
}

/* check loads the migrations too: a broken migration file fails check,
 * as it would fail migrate. */
/* A project whose one app, notes, has a migrations folder; returns it. */
static char *notes_with_migrations(void)
{
	e2e_project("project: t\ndatabase: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [plugins]\ninstalled_apps: [notes]\n");
	e2e_manifest("notes.yaml", "label: notes\nmigrations: mig\n"
		"models:\n  Note: {fields: {text: {type: text}}}\n");
	char *mig = t_path(e2e_plugins, "mig");
	cr_assert_eq(mkdir(mig, 0755), 0);
	return mig;
}

Test(check, a_bad_migration_fails_check)
{
	char *mig = notes_with_migrations();
	free(t_write(mig, "0001_initial.yaml", "initial: true\ndependencies: [[notes, 0000_nope]]\n"
		"operations: []\n"));
	t_run r = check();
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	e2e_has(r.err, "0000_nope");
	t_run_free(&r);
	free(mig);
}

/* Model changes without a migration are a warning naming the command. */
Test(check, model_changes_without_a_migration_are_a_warning)
{
	char *mig = notes_with_migrations();
	t_run r = check();
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	e2e_has(r.err, "warning: app 'notes' has model changes that are not yet in a migration");
	e2e_has(r.err, "run 'sighost makemigrations notes'");
	t_run_free(&r);
	free(mig);
}
