/*
 * probe.c: plugins that crash, abort, exit or hang while they load, end to
 * end: the real sighost binary (check, apps, serve) against scratch
 * projects with the test plugin t_crash (which misbehaves as its settings
 * say) and t_ok. The probe must name the plugin and the step, keep going
 * past it, leave out an optional app (and its dependents) with a warning,
 * and validate optional_apps and ready_timeout. Every run has a deadline
 * of its own (check: 20 s, serve: 30 s to start), so a probe that fails
 * to stop a hang fails here with a message.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../support/e2e.h"
#include "../support/web.h"

static void probe_setup(void)
{
	e2e_setup();
	w_dir = e2e_dir;          /* the serve helpers of tests/web work here */
	w_plugins = e2e_plugins;
}

static void probe_cleanup(void)
{
	w_dir = w_plugins = NULL;
	e2e_cleanup();
}

TestSuite(probe, .init = probe_setup, .fini = probe_cleanup, .timeout = 120);

/* Writes project.yaml: plugin_dirs [bundled, plugins], installed_apps
 * [installed], then `extra` lines (settings...). */
static void project(const char *installed, const char *extra)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: shop\nplugin_dirs: [%s, plugins]\n"
		"installed_apps: [%s]\n%s", t_env("SIGHOST_PLUGIN_DIR"), installed,
		extra ? extra : ""), 0);
	e2e_project(text);
	free(text);
}

/* `sighost check`, which must end within 20 s: a plugin that hangs must
 * be stopped by the probe (ready_timeout), not by meson's timeout. */
static t_run check(void)
{
	return e2e_run_within(20, (const char *const[]){ "check", "--settings", "project.yaml",
		NULL });
}

/* The problem line of plugin `label` (a copy of t_crash or t_ok), up to
 * and with `rest`. */
static char *plugin_line(const char *label, const char *rest)
{
	char *s = NULL;
	cr_assert_geq(asprintf(&s, "plugin '%s' (%s/%s.so): %s", label, e2e_plugins, label, rest), 0);
	return s;
}

static void has_plugin_line(const char *text, const char *label, const char *rest)
{
	char *line = plugin_line(label, rest);
	e2e_has(text, line);
	free(line);
}

static size_t count(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *at = text; (at = strstr(at, needle)) != NULL; at += strlen(needle))
		n++;
	return n;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* crashy (t_crash, misbehaving as `settings`) and good (t_ok), which does
 * not depend on it. */
static void crashy_and_good(const char *settings)
{
	char *extra = NULL;
	cr_assert_geq(asprintf(&extra, "ready_timeout: 1\nsettings:\n  crashy: %s\n", settings), 0);
	project("crashy, good", extra);
	e2e_plugin("t_crash", "crashy", NULL);
	e2e_plugin("t_ok", "good", NULL);
	free(extra);
}

Test(probe, check_names_a_plugin_that_segfaults_in_ready)
{
	crashy_and_good("{ready: segv}");
	t_run r = check();
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert_str_eq(r.out, "");
	has_plugin_line(r.err, "crashy", "crashed in ready(): SIGSEGV (Segmentation fault); "
		"last output: t_crash: crashy ready: segv\n");
	/* the other plugin is loaded for real, and its output is not doubled by
	 * the probe's child */
	cr_assert_eq(count(r.err, "[good] info: ready\n"), 1, "%s", r.err);
	e2e_has(r.err, "sighost check: 1 problem found\n");
	t_run_free(&r);
}

Test(probe, check_names_a_plugin_that_aborts_in_ready)
{
	crashy_and_good("{ready: abort}");
	t_run r = check();
	cr_assert_eq(r.status, 1, "%s", r.err);
	has_plugin_line(r.err, "crashy", "crashed in ready(): SIGABRT (Aborted); "
		"last output: t_crash: crashy ready: abort\n");
	t_run_free(&r);
}

Test(probe, check_names_a_plugin_that_hangs_in_ready_after_ready_timeout)
{
	crashy_and_good("{ready: hang}");
	double start = now();
	t_run r = check();
	double took = now() - start;
	cr_assert_eq(r.status, 1, "%s", r.err);
	has_plugin_line(r.err, "crashy", "hung in ready(): no return within 1 s (ready_timeout); "
		"killed; last output: t_crash: crashy ready: hang\n");
	cr_assert(took >= 1.0 && took < 10.0, "check took %.1f s", took);
	t_run_free(&r);
}

Test(probe, check_names_a_plugin_that_exits_in_ready)
{
	crashy_and_good("{ready: exit}");
	t_run r = check();
	cr_assert_eq(r.status, 1, "%s", r.err);
	has_plugin_line(r.err, "crashy", "exited in ready() with status 3; ");
	t_run_free(&r);
}

Test(probe, every_crashing_plugin_is_named_with_its_step_and_dependents_are_skipped)
{
	project("a, b, c, d, good",
		"settings:\n  a: {early: segv}\n  b: {ready: abort}\n  c: {teardown: segv}\n");
	e2e_plugin("t_crash", "a", NULL);
	e2e_plugin("t_crash", "b", NULL);
	e2e_plugin("t_crash", "c", NULL);
	e2e_plugin("t_ok", "d", "depends: [b]\n");
	e2e_plugin("t_ok", "good", NULL);
	t_run r = check();
	cr_assert_eq(r.status, 1, "%s", r.err);
	has_plugin_line(r.err, "a", "crashed in early(): SIGSEGV (Segmentation fault); ");
	has_plugin_line(r.err, "b", "crashed in ready(): SIGABRT (Aborted); ");
	has_plugin_line(r.err, "c", "crashed in teardown(): SIGSEGV (Segmentation fault); ");
	e2e_has(r.err, "app 'd' not loaded: it depends on 'b', which failed to load\n");
	cr_assert_eq(count(r.err, "[good] info: ready\n"), 1, "%s", r.err);
	e2e_has(r.err, "sighost check: 4 problems found\n");
	t_run_free(&r);
}

Test(probe, a_crash_in_a_class_prepared_receiver_stops_the_load)
{
	/* the crash happens in the host's step (preparing the models), in a
	 * receiver connected by early(): the host must not load for real, or
	 * it would crash too */
	project("crashy, good", "settings:\n  crashy: {prepared: abort}\n");
	e2e_plugin("t_crash", "crashy", "models:\n  Thing: {}\n");
	e2e_plugin("t_ok", "good", NULL);
	t_run r = check();
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert_str_eq(r.err, "loading the plugins crashed while the models were prepared "
		"(class_prepared receivers): SIGABRT (Aborted); last output: t_crash: crashy "
		"prepared: abort\n"
		"sighost check: 1 problem found\n");
	t_run_free(&r);
}

Test(probe, a_crash_leaves_no_database_file_behind)
{
	/* ready() opens the database and creates a table, then teardown()
	 * crashes: the probe's child must not create db.sqlite3, and the app
	 * is not loaded for real */
	project("maker", "settings:\n  maker: {db: true, teardown: segv}\n");
	e2e_plugin("t_crash", "maker", NULL);
	t_run r = check();
	cr_assert_eq(r.status, 1, "%s", r.err);
	has_plugin_line(r.err, "maker", "crashed in teardown(): SIGSEGV (Segmentation fault); ");
	char *db = t_path(e2e_dir, "db.sqlite3");
	struct stat st;
	cr_assert_neq(stat(db, &st), 0, "the probe left %s", db);
	free(db);
	t_run_free(&r);
}

/* crashy (t_crash, misbehaving as `settings`, optional), needs (t_ok,
 * depends on crashy), good (t_ok) and the bundled pages app. */
static void optional_crashy(const char *settings)
{
	char *extra = NULL;
	cr_assert_geq(asprintf(&extra, "optional_apps: [crashy]\nready_timeout: 1\n"
		"settings:\n  trace: trace.txt\n  crashy: %s\n", settings), 0);
	project("crashy, needs, good, pages", extra);
	e2e_plugin("t_crash", "crashy", NULL);
	e2e_plugin("t_ok", "needs", "depends: [crashy]\n");
	e2e_plugin("t_ok", "good", NULL);
	free(extra);
}

static void has_left_out_warnings(const char *err, const char *what)
{
	char *line = plugin_line("crashy", what), *warning = NULL;
	cr_assert_geq(asprintf(&warning, "warning: optional app 'crashy' left out: %s", line), 0);
	e2e_has(err, warning);
	e2e_has(err, "warning: app 'needs' left out: it depends on 'crashy', which was left out\n");
	free(warning);
	free(line);
}

Test(probe, check_leaves_out_an_optional_app_with_warnings_and_passes)
{
	optional_crashy("{ready: segv}");
	t_run r = check();
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "project 'shop' (project.yaml): 2 apps, 2 plugins loaded, "
		"4 routes; no problems found (2 warnings)\n");
	has_left_out_warnings(r.err, "crashed in ready(): SIGSEGV (Segmentation fault); ");
	t_run_free(&r);
	r = E2E_RUN("apps", "--settings", "project.yaml");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_null(strstr(r.out, "crashy"), "%s", r.out);
	cr_assert_null(strstr(r.out, "needs"), "%s", r.out);
	e2e_has(r.out, "good");
	t_run_free(&r);
}

Test(probe, an_optional_app_whose_ready_fails_is_left_out_too)
{
	optional_crashy("{ready: fail}");
	t_run r = check();
	cr_assert_eq(r.status, 0, "%s", r.err);
	has_left_out_warnings(r.err, "ready() failed: ready() fails on purpose\n");
	t_run_free(&r);
}

Test(probe, serve_refuses_to_start_naming_the_plugin)
{
	crashy_and_good("{ready: segv}");
	w_server s;
	w_start_fails(&s, (const char *const[]){ "--listen", "127.0.0.1:0", NULL });
	cr_assert_eq(s.status, 1, "stderr:\n%s", s.err);
	has_plugin_line(s.err, "crashy", "crashed in ready(): SIGSEGV (Segmentation fault); ");
	e2e_has(s.err, "sighost serve: 1 problem found\n");
	cr_assert_null(strstr(s.out, "Starting development server"), "%s", s.out);
	w_server_free(&s);
}

Test(probe, serve_starts_without_an_optional_app_that_hangs_and_says_so)
{
	optional_crashy("{ready: hang}");
	w_server s;
	w_start(&s, NULL);
	e2e_has(s.out, "project 'shop' (project.yaml): 2 apps, 4 routes\n");
	w_resp resp = w_request(s.port, "GET", "/", NULL, NULL);
	cr_assert_eq(resp.status, 200, "%s", resp.head);
	w_resp_free(&resp);
	w_stop(&s);
	cr_assert_eq(s.status, 0, "stderr:\n%s", s.err);
	has_left_out_warnings(s.err, "hung in ready(): no return within 1 s (ready_timeout); ");
	/* ready() of `good` ran in the probe's child and for real; `needs`
	 * never ran, `crashy` only in the child */
	char *trace_path = t_path(e2e_dir, "trace.txt"), *trace = t_read(trace_path);
	cr_assert_eq(count(trace, "ready good\n"), 2, "%s", trace);
	cr_assert_eq(count(trace, "teardown good\n"), 2, "%s", trace);
	cr_assert_eq(count(trace, "needs"), 0, "%s", trace);
	free(trace);
	free(trace_path);
	w_server_free(&s);
}

Test(probe, bad_optional_apps_and_ready_timeout_are_named_with_their_position)
{
	project("crashy, good", "optional_apps: [good, crashy, good, gods, zzz]\n"
		"ready_timeout: 0\n");
	e2e_plugin("t_crash", "crashy", NULL);
	e2e_plugin("t_ok", "good", NULL);
	t_run r = check();
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert_str_eq(r.err,
		"project.yaml:4:31: app 'good' is listed twice in optional_apps\n"
		"project.yaml:4:37: app 'gods' in optional_apps is not in installed_apps (did you mean 'good'?)\n"
		"project.yaml:4:43: app 'zzz' in optional_apps is not in installed_apps\n"
		"project.yaml:5:16: 'ready_timeout' must be from 1 to 3600 seconds, not 0\n"
		"sighost check: 4 problems found\n");
	t_run_free(&r);
	project("good", "optional_apps: good\nready_timeout: soon\n");
	r = check();
	cr_assert_eq(r.status, 1, "%s", r.err);
	e2e_has(r.err, "project.yaml:4:16: 'optional_apps' must be a list of strings, not a string\n");
	e2e_has(r.err, "project.yaml:5:16: 'ready_timeout' must be an integer, not a string\n");
	t_run_free(&r);
}

Test(probe, a_good_project_with_optional_apps_passes)
{
	project("crashy, good", "optional_apps: [crashy]\nready_timeout: 5\n");
	e2e_plugin("t_crash", "crashy", NULL);
	e2e_plugin("t_ok", "good", NULL);
	t_run r = check();
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "project 'shop' (project.yaml): 2 apps, 2 plugins loaded, "
		"0 routes; no problems found\n");
	cr_assert_str_eq(r.err, "[good] info: ready\n");
	t_run_free(&r);
}
