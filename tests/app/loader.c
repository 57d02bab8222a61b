/*
 * loader.c: loading plugins through the public API: the bundled plugins
 * connect and work, broken plugins are refused with a reason that names
 * them, unsafe files are refused, failed apps take their dependents down
 * and leave no connection behind, teardown runs in reverse order, and
 * receivers are named for `sighost signals`.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sighost/sys/sighost.h>

#include "../../plugins/billing/billing.h"
#include "../support/support.h"

static char *dir;
static char *apps;
static sh_project *project;
static char logbuf[8192];

static void capture(sh_log_level level, const char *origin, const char *message, void *payload)
{
	(void)level; (void)payload;
	size_t used = strlen(logbuf);
	snprintf(logbuf + used, sizeof logbuf - used, "[%s] %s\n", origin, message);
}

static void setup(void)
{
	logbuf[0] = '\0';
	dir = t_mkdtemp();
	apps = t_path(dir, "apps");
	cr_assert_eq(mkdir(apps, 0755), 0);
	cr_assert_eq(sh_project_new(&project), 0);
	sh_hub_set_logger(sh_project_hub(project), capture, NULL);
}

static void cleanup(void)
{
	sh_project_free(project);
	t_rmtree(dir);
	free(dir);
	free(apps);
}

TestSuite(loader, .init = setup, .fini = cleanup);

/* Installs test plugin `file` (t_ok...) as app `label`: label.so beside
 * label.yaml, with `extra` manifest lines. Returns the .so's path. */
static char *install(const char *file, const char *label, const char *extra)
{
	char *from = NULL, *so = NULL, *yaml_name = NULL, *yaml = NULL;
	cr_assert_geq(asprintf(&from, "%s/%s.so", t_env("SIGHOST_TEST_PLUGIN_DIR"), file), 0);
	cr_assert_geq(asprintf(&so, "%s.so", label), 0);
	cr_assert_geq(asprintf(&yaml_name, "%s.yaml", label), 0);
	cr_assert_geq(asprintf(&yaml, "label: %s\nlibrary: %s\n%s", label, so, extra ? extra : ""), 0);
	char *path = t_copy(from, apps, so, 0755);
	free(t_write(apps, yaml_name, yaml));
	free(from);
	free(so);
	free(yaml_name);
	free(yaml);
	return path;
}

static int read_project(const char *installed, const char *settings)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: t\nplugin_dirs: [apps]\ninstalled_apps: [%s]\n"
		"settings:\n  trace: %s/trace.txt\n%s", installed, dir, settings ? settings : ""), 0);
	char *path = t_write(dir, "project.yaml", text);
	int rc = sh_project_read(project, path);
	free(text);
	free(path);
	return rc;
}

static void assert_problem_has(const char *needle)
{
	size_t n = sh_project_problem_count(project);
	for (size_t i = 0; i < n; i++)
		if (strstr(sh_project_problem(project, i)->text, needle) != NULL)
			return;
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  %s\n", sh_project_problem(project, i)->text);
	cr_assert_fail("no problem contains: %s", needle);
}

static sh_signal *signal_named(const char *name)
{
	sh_signal *s = NULL;
	cr_assert_eq(sh_signal_lookup(&s, sh_project_hub(project), name), 0);
	return s;
}

Test(loader, a_good_plugin_is_loaded_and_ready)
{
	free(install("t_ok", "good", NULL));
	cr_assert_eq(read_project("good", NULL), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_project_load(project), 0, "%s", sh_error_last()->message);
	cr_assert(sh_app_is_ready(sh_project_app(project, "good")));
	cr_assert_str_eq(logbuf, "[good] ready\n");
	cr_assert_eq(sh_signal_connection_count(signal_named("request_finished")), 1);
	cr_assert_eq(sh_project_load(project), SH_EINVAL, "loading twice is refused");
}

Test(loader, loading_needs_a_successful_read)
{
	cr_assert_eq(read_project("ghost", NULL), SH_EMANIFEST);
	cr_assert_eq(sh_project_load(project), SH_EINVAL);
}

Test(loader, teardown_runs_in_reverse_load_order)
{
	free(install("t_ok", "second", "depends: [first]\n"));
	free(install("t_ok", "first", NULL));
	free(install("t_ok", "third", NULL));
	cr_assert_eq(read_project("second, first, third", NULL), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_project_load(project), 0, "%s", sh_error_last()->message);
	sh_project_free(project);
	project = NULL;
	char *trace_path = t_path(dir, "trace.txt");
	char *trace = t_read(trace_path);
	cr_assert_str_eq(trace, "ready first\nready second\nready third\n"
		"teardown third\nteardown second\nteardown first\n");
	free(trace);
	free(trace_path);
}

Test(loader, a_failing_ready_is_reported_and_leaves_no_connection)
{
	char *path = install("t_readyfail", "flaky", NULL);
	cr_assert_eq(read_project("flaky", NULL), 0);
	cr_assert_eq(sh_project_load(project), SH_ELOAD);
	cr_assert_eq(sh_project_problem_count(project), 1);
	const sh_problem *p = sh_project_problem(project, 0);
	char *expected = NULL;
	cr_assert_geq(asprintf(&expected, "plugin 'flaky' (%s): ready() failed: database 'ledger' unreachable", path), 0);
	cr_assert_str_eq(p->text, expected);
	cr_assert_eq(p->code, SH_EDB);
	cr_assert_not(sh_app_is_ready(sh_project_app(project, "flaky")));
	cr_assert_eq(sh_signal_connection_count(signal_named("request_finished")), 0);
	free(expected);
	free(path);
}

Test(loader, dependents_of_a_failed_app_are_not_loaded_the_others_are)
{
	free(install("t_readyfail", "flaky", NULL));
	free(install("t_ok", "needy", "depends: [flaky]\n"));
	free(install("t_ok", "loner", NULL));
	cr_assert_eq(read_project("flaky, needy, loner", NULL), 0);
	cr_assert_eq(sh_project_load(project), SH_ELOAD);
	cr_assert_eq(sh_project_problem_count(project), 2);
	assert_problem_has("app 'needy' not loaded: it depends on 'flaky', which failed to load");
	cr_assert(sh_app_is_ready(sh_project_app(project, "loner")));
	cr_assert_not(sh_app_is_ready(sh_project_app(project, "needy")));
}

Test(loader, broken_plugins_are_refused_with_their_reason)
{
	free(install("t_noready", "noready", NULL));
	free(install("t_badabi", "badabi", NULL));
	free(install("t_noabi", "noabi", NULL));
	free(install("t_undefined", "undef", NULL));
	free(t_write(apps, "fake.so", "this is not an ELF file\n"));
	free(t_write(apps, "fake.yaml", "label: fake\nlibrary: fake.so\n"));
	free(t_write(apps, "gone.yaml", "label: gone\nlibrary: gone.so\n"));
	cr_assert_eq(read_project("noready, badabi, noabi, undef, fake, gone", NULL), 0);
	cr_assert_eq(sh_project_load(project), SH_ELOAD);
	cr_assert_eq(sh_project_problem_count(project), 6);
	assert_problem_has("noready.so): missing symbol: ");
	assert_problem_has("undefined symbol: ready");
	assert_problem_has("badabi.so): ABI mismatch: built for ABI 42, host is 1");
	assert_problem_has("noabi.so): missing symbol sh_plugin_abi");
	assert_problem_has("undef.so): dlopen failed: ");
	assert_problem_has("undefined symbol: t_missing_function");
	assert_problem_has("fake.so): not a shared object (no ELF header)");
	assert_problem_has("gone.so): file not found");
	cr_assert_eq(sh_project_problem(project, 0)->code, SH_ELOAD);
	cr_assert_eq(sh_project_problem(project, 1)->code, SH_EABI);
}

/* The host is SH_ABI_MAJOR.SH_ABI_MINOR (1.1); the plugins below are t_ok
 * built with SH_PLUGIN_ABI_MAJOR / _MINOR overridden (plugins/meson.build). */
Test(loader, a_plugin_for_an_older_minor_loads)
{
	cr_assert_geq(SH_ABI_MINOR, 1, "the host's minor is past 0");
	free(install("t_abi_older_minor", "older", NULL));
	cr_assert_eq(read_project("older", NULL), 0);
	cr_assert_eq(sh_project_load(project), 0, "%s", sh_error_last()->message);
	cr_assert(sh_app_is_ready(sh_project_app(project, "older")));
}

Test(loader, a_plugin_for_a_newer_minor_is_refused_with_what_to_do)
{
	free(install("t_abi_newer_minor", "newer", NULL));
	cr_assert_eq(read_project("newer", NULL), 0);
	cr_assert_eq(sh_project_load(project), SH_ELOAD);
	cr_assert_eq(sh_project_problem_count(project), 1);
	cr_assert_eq(sh_project_problem(project, 0)->code, SH_EABI);
	char want[256];
	snprintf(want, sizeof want, "newer.so): ABI mismatch: built for ABI %d.%d, host is %d.%d "
		"(a newer minor, which this host lacks): rebuild the plugin against sighost %s: "
		"pkg-config --modversion sighost", SH_ABI_MAJOR, SH_ABI_MINOR + 1, SH_ABI_MAJOR,
		SH_ABI_MINOR, SH_VERSION);
	assert_problem_has(want);
	cr_assert_not(sh_app_is_ready(sh_project_app(project, "newer")));
}

Test(loader, a_plugin_for_another_major_is_refused_with_what_to_do)
{
	free(install("t_abi_next_major", "next", NULL));
	cr_assert_eq(read_project("next", NULL), 0);
	cr_assert_eq(sh_project_load(project), SH_ELOAD);
	cr_assert_eq(sh_project_problem(project, 0)->code, SH_EABI);
	char want[256];
	snprintf(want, sizeof want, "next.so): ABI mismatch: built for ABI %d.0, host is %d.%d "
		"(another major): rebuild the plugin against sighost %s: pkg-config --modversion sighost",
		SH_ABI_MAJOR + 1, SH_ABI_MAJOR, SH_ABI_MINOR, SH_VERSION);
	assert_problem_has(want);
}

Test(loader, a_world_writable_directory_is_refused)
{
	free(install("t_ok", "good", NULL));
	cr_assert_eq(chmod(apps, 0777), 0);
	cr_assert_eq(read_project("good", NULL), 0);
	cr_assert_eq(sh_project_load(project), SH_ELOAD);
	char *expected = NULL;
	cr_assert_geq(asprintf(&expected, "bad modes for directory %s: writable by group and others (mode 0777); fix with chmod go-w %s", apps, apps), 0);
	assert_problem_has(expected);
	cr_assert_eq(sh_project_problem(project, 0)->code, SH_EPERM);
	cr_assert_str_eq(logbuf, "", "ready() must not have run");
	free(expected);
}

Test(loader, a_group_writable_file_is_refused)
{
	char *path = install("t_ok", "good", NULL);
	cr_assert_eq(chmod(path, 0775), 0);
	cr_assert_eq(read_project("good", NULL), 0);
	cr_assert_eq(sh_project_load(project), SH_ELOAD);
	char *expected = NULL;
	cr_assert_geq(asprintf(&expected, "bad modes for file %s: writable by group (mode 0775)", path), 0);
	assert_problem_has(expected);
	free(expected);
	free(path);
}

Test(loader, a_file_owned_by_another_user_is_refused)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to give a file away");
	char *path = install("t_ok", "good", NULL);
	cr_assert_eq(chown(path, 4242, 4242), 0);
	cr_assert_eq(read_project("good", NULL), 0);
	cr_assert_eq(sh_project_load(project), SH_ELOAD);
	char *expected = NULL;
	cr_assert_geq(asprintf(&expected, "bad ownership for file %s: owned by uid 4242", path), 0);
	assert_problem_has(expected);
	free(expected);
	free(path);
}

/* Collects receiver names of one signal, joined by commas. */
static int describe_one(const sh_connection_info *info, void *payload)
{
	char name[200];
	sh_receiver_describe(name, sizeof name, info);
	strcat(payload, name);
	strcat(payload, ",");
	return 0;
}

Test(loader, receivers_are_named_by_connect_name_exact_symbol_or_address)
{
	free(install("t_ok", "good", NULL));
	cr_assert_eq(read_project("good", NULL), 0);
	cr_assert_eq(sh_project_load(project), 0, "%s", sh_error_last()->message);
	char names[1024] = "";
	sh_signal_foreach_connection(signal_named("request_finished"), describe_one, names);
	cr_assert_str_eq(names, "t_ok_on_finished,");
	names[0] = '\0';
	sh_signal_foreach_connection(signal_named("request_started"), describe_one, names);
	cr_assert(strncmp(names, "0x", 2) == 0 && strstr(names, " in good.so,") != NULL,
		"a static function is named by its address: %s", names);
	sh_connection_info named = { .name = "given_name" };
	char out[8];
	cr_assert_eq(sh_receiver_describe(out, sizeof out, &named), 10);
	cr_assert_str_eq(out, "given_n", "truncated like snprintf");
}

/* ---- the bundled plugins ---- */

static void read_bundled(void)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: t\nplugin_dirs: [%s]\n"
		"installed_apps: [audit, alert, mailer, billing]\n"
		"settings:\n  audit:\n    path: audit.jsonl\n  mailer:\n    from: me@example.org\n",
		t_env("SIGHOST_PLUGIN_DIR")), 0);
	char *path = t_write(dir, "project.yaml", text);
	cr_assert_eq(sh_project_read(project, path), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_project_load(project), 0, "%s", sh_error_last()->message);
	free(text);
	free(path);
}

static char *audit_log(void)
{
	char *path = t_path(dir, "audit.jsonl");
	char *text = t_read(path);
	free(path);
	return text;
}

Test(loader, alert_logs_alert_created_for_new_alerts_only)
{
	read_bundled();
	sh_hub *hub = sh_project_hub(project);
	const sh_sender *alert, *other;
	cr_assert_eq(sh_sender_intern(&alert, hub, "alert.Alert"), 0);
	cr_assert_eq(sh_sender_intern(&other, hub, "shop.Order"), 0);
	sh_signal *post_save = sh_hub_builtin(hub, SH_POST_SAVE);
	sh_post_save_args created = { .created = true, .using_ = "default" };
	sh_post_save_args updated = { .created = false, .using_ = "default" };
	cr_assert_eq(sh_signal_send(post_save, alert, &created, NULL), 0);
	cr_assert_eq(sh_signal_send(post_save, alert, &updated, NULL), 0);
	cr_assert_eq(sh_signal_send(post_save, other, &created, NULL), 0);
	cr_assert_str_eq(logbuf, "[alert] Alert Created\n");
}

Test(loader, audit_writes_one_json_line_per_signal)
{
	read_bundled();
	sh_hub *hub = sh_project_hub(project);
	for (int i = 0; i < SH_BUILTIN_COUNT; i++)
		cr_assert_eq(sh_signal_send(sh_hub_builtin(hub, (sh_builtin)i), NULL, NULL, NULL), 0);
	char *text = audit_log();
	cr_assert_eq(t_lines(text), SH_BUILTIN_COUNT, "%s", text);
	for (int i = 0; i < SH_BUILTIN_COUNT; i++) {
		char needle[80];
		snprintf(needle, sizeof needle, "\"signal\":\"%s\",\"sender\":null,\"args\":{}",
			sh_builtin_name((sh_builtin)i));
		cr_assert_not_null(strstr(text, needle), "no line has %s", needle);
	}
	free(text);
}

Test(loader, audit_records_the_arguments_with_json_escaping)
{
	read_bundled();
	sh_hub *hub = sh_project_hub(project);
	const sh_sender *alert;
	cr_assert_eq(sh_sender_intern(&alert, hub, "alert.Alert"), 0);
	const char *fields[] = { "title", "body" };
	sh_name_set update = { fields, 2 };
	sh_post_save_args saved = { .created = false, .using_ = "default", .update_fields = &update };
	cr_assert_eq(sh_signal_send(sh_hub_builtin(hub, SH_POST_SAVE), alert, &saved, NULL), 0);
	sh_got_request_exception_args failed = { .error = -3, .message = "bad \"quote\"\n" };
	cr_assert_eq(sh_signal_send(sh_hub_builtin(hub, SH_GOT_REQUEST_EXCEPTION), NULL, &failed, NULL), 0);
	sh_setting_changed_args changed = { .setting = "mailer",
		.value = sh_value_get(sh_project_settings(project), "mailer"), .enter = true };
	cr_assert_eq(sh_signal_send(sh_hub_builtin(hub, SH_SETTING_CHANGED), NULL, &changed, NULL), 0);
	char *text = audit_log();
	cr_assert_eq(t_lines(text), 3, "%s", text);
	cr_assert_not_null(strstr(text, "\"signal\":\"post_save\",\"sender\":\"alert.Alert\",\"args\":"
		"{\"created\":false,\"raw\":false,\"using\":\"default\",\"update_fields\":[\"title\",\"body\"]}}\n"), "%s", text);
	cr_assert_not_null(strstr(text, "{\"error\":-3,\"message\":\"bad \\\"quote\\\"\\n\"}"), "%s", text);
	cr_assert_not_null(strstr(text, "{\"setting\":\"mailer\",\"value\":{\"from\":\"me@example.org\"},\"enter\":true}"), "%s", text);
	cr_assert_not_null(strstr(text, "{\"time\":\"20"), "lines start with a timestamp: %s", text);
	free(text);
}

Test(loader, audit_refuses_to_start_without_its_path)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: t\nplugin_dirs: [%s]\ninstalled_apps: [audit]\n",
		t_env("SIGHOST_PLUGIN_DIR")), 0);
	char *path = t_write(dir, "project.yaml", text);
	cr_assert_eq(sh_project_read(project, path), 0);
	cr_assert_eq(sh_project_load(project), SH_ELOAD);
	assert_problem_has("ready() failed: settings.audit.path is not set");
	free(text);
	free(path);
}

Test(loader, mailer_hears_the_signal_billing_declares)
{
	read_bundled();
	sh_signal *paid = signal_named(BILLING_INVOICE_PAID);
	cr_assert_str_eq(sh_signal_declared_by(paid), "billing");
	cr_assert_eq(sh_signal_connection_count(paid), 1);
	billing_invoice_paid_args args = { "INV-7", "ada@example.org", 1250 };
	cr_assert_eq(sh_signal_send(paid, NULL, &args, NULL), 0);
	cr_assert_str_eq(logbuf,
		"[mailer] receipt for invoice INV-7 (12.50) sent to ada@example.org from me@example.org\n");
	cr_assert_lt(sh_signal_send(paid, NULL, NULL, NULL), 0, "no args is the receiver's error");
	cr_assert_str_eq(sh_error_last()->message, "invoice_paid sent without an email");
}

Test(loader, receivers_of_bundled_plugins_keep_their_names_and_order)
{
	read_bundled();
	char names[1024] = "";
	sh_signal_foreach_connection(sh_hub_builtin(sh_project_hub(project), SH_POST_SAVE),
		describe_one, names);
	cr_assert_str_eq(names, "audit_record,on_alert_saved,");
}

Test(loader, each_file_is_checked_even_in_a_directory_found_safe)
{
	free(install("t_ok", "good", NULL));
	char *bad = install("t_ok", "later", NULL);
	cr_assert_eq(chmod(bad, 0666), 0);
	cr_assert_eq(read_project("good, later", NULL), 0);
	cr_assert_eq(sh_project_load(project), SH_ELOAD);
	cr_assert_eq(sh_project_problem_count(project), 1);
	assert_problem_has("later.so): bad modes for file ");
	assert_problem_has("writable by group and others (mode 0666)");
	cr_assert(sh_app_is_ready(sh_project_app(project, "good")));
	free(bad);
}

Test(loader, a_symlink_is_judged_by_where_it_points)
{
	char *elsewhere = t_path(dir, "open");
	cr_assert_eq(mkdir(elsewhere, 0700), 0);
	char *target = t_write(elsewhere, "x.so", "any file: the check comes before dlopen\n");
	cr_assert_eq(chmod(elsewhere, 0777), 0);
	char *link = t_path(apps, "linked.so");
	cr_assert_eq(symlink(target, link), 0);
	free(t_write(apps, "linked.yaml", "label: linked\nlibrary: linked.so\n"));
	cr_assert_eq(read_project("linked", NULL), 0);
	cr_assert_eq(sh_project_load(project), SH_ELOAD);
	char *expected = NULL;
	cr_assert_geq(asprintf(&expected, "bad modes for directory %s: writable by group and others", elsewhere), 0);
	assert_problem_has(expected);
	free(expected);
	free(link);
	free(target);
	free(elsewhere);
}
