/*
 * live.c: `sighost serve` end to end for live settings and async
 * receivers: editing the project manifest (renamed over, or written in
 * place) or SIGHUP sends setting_changed for exactly the changed keys and
 * plugins read the new values; a broken edit is logged with its position
 * and changes nothing; a changed server key needs a restart; async
 * receivers run on the pool, off the request thread, with copies of their
 * arguments; SIGTERM drains the queue before the plugins are torn down.
 * The test plugin t_live (plugins/t_live.c) is installed as app `live`.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sighost/error.h>

#include "../support/web.h"

TestSuite(live, .init = w_setup, .fini = w_cleanup, .timeout = 120);

/* The settings every project of this file starts from. */
#define BASE_SETTINGS "  audit: {path: audit.jsonl}\n  live: {path: live.log}\n"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* The text of project.yaml: audit and live installed, `top` lines (may be
 * NULL) before `settings:`, whose lines are `settings`. */
static char *project_text(const char *top, const char *settings)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: web\nplugin_dirs: [%s, plugins]\n"
		"installed_apps: [audit, live]\n%ssettings:\n%s", t_env("SIGHOST_PLUGIN_DIR"),
		top ? top : "", settings), 0);
	return text;
}

/* Writes project.yaml as most editors save: a new file renamed over it. */
static void save_by_rename(const char *text)
{
	char *tmp = t_write(w_dir, ".project.yaml.swp", text);
	char *path = t_path(w_dir, "project.yaml");
	cr_assert_eq(rename(tmp, path), 0);
	free(tmp);
	free(path);
}

/* Writes project.yaml in place (truncated and rewritten). */
static void save_in_place(const char *text)
{
	free(t_write(w_dir, "project.yaml", text));
}

/* Installs t_live as app `live` with its routes and template, writes the
 * project and starts serve with `args`. */
static void serve(w_server *s, const char *top, const char *settings, const char *const *args)
{
	char *from = NULL;
	cr_assert_geq(asprintf(&from, "%s/t_live.so", t_env("SIGHOST_WEB_PLUGIN_DIR")), 0);
	free(t_copy(from, w_plugins, "live.so", 0755));
	free(from);
	w_manifest("live", "label: live\nlibrary: live.so\nroutes:\n"
		"  - {path: /whoami, view: whoami}\n"
		"  - {path: /setting, view: setting}\n"
		"  - {path: /fail, methods: [GET, POST], view: fail}\n"
		"  - {path: /render, view: render}\n");
	w_template("live", "page.html", "<p>{{ name }}</p>\n");
	char *text = project_text(top, settings);
	save_in_place(text);
	free(text);
	w_start(s, args);
}

/* The JSON lines of `file` (in the scratch directory) whose "signal" is
 * `signal` (NULL: every line), as an array. */
static json_t *lines_of(const char *file, const char *signal)
{
	char *path = t_path(w_dir, file);
	char *text = t_read(path);
	json_t *out = json_array();
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		json_t *entry = json_loads(line, 0, NULL);
		cr_assert_not_null(entry, "bad line in %s: %s", file, line);
		const char *name = json_string_value(json_object_get(entry, "signal"));
		if (signal == NULL || (name != NULL && strcmp(name, signal) == 0))
			json_array_append(out, entry);
		json_decref(entry);
	}
	free(text);
	free(path);
	return out;
}

/* Waits (at most 10 s) until `file` has `count` lines of `signal`; returns them. */
static json_t *wait_lines(const char *file, const char *signal, size_t count)
{
	double end = now() + 10;
	for (;;) {
		json_t *lines = lines_of(file, signal);
		if (json_array_size(lines) >= count || now() > end)
			return lines;
		json_decref(lines);
		nap(20);
	}
}

/* Waits (at most 10 s) until the server's stderr holds `needle`; returns it. */
static char *wait_stderr(const w_server *s, const char *needle)
{
	double end = now() + 10;
	for (;;) {
		char *err = t_read(s->err_path);
		if (strstr(err, needle) != NULL || now() > end)
			return err;
		free(err);
		nap(20);
	}
}

/* GET /setting?key=KEY: the setting's text as the plugin reads it ("(none)"
 * when unset), newly allocated. */
static char *setting(unsigned port, const char *key)
{
	char path[256];
	snprintf(path, sizeof path, "/setting?key=%s", key);
	w_resp r = w_request(port, "GET", path, NULL, NULL);
	cr_assert_eq(r.status, 200, "%s\n%s", r.head, r.body);
	json_t *j = json_loads(r.body, 0, NULL);
	cr_assert_not_null(j, "%s", r.body);
	const json_t *value = json_object_get(j, "value");
	const char *text = json_string_value(json_object_get(value, "text"));
	char *out = strdup(json_is_null(value) ? "(none)" : text ? text : "(no text)");
	json_decref(j);
	w_resp_free(&r);
	return out;
}

/* "key=value" of each setting_changed line of the audit log, joined with
 * ';' (value as compact JSON, "enter" appended when false). */
static char *changes_text(const json_t *lines)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	for (size_t i = 0; i < json_array_size(lines); i++) {
		const json_t *args = json_object_get(json_array_get(lines, i), "args");
		char *value = json_dumps(json_object_get(args, "value"), JSON_COMPACT | JSON_ENCODE_ANY);
		fprintf(f, "%s%s=%s%s", i ? ";" : "", json_string_value(json_object_get(args, "setting")),
			value, json_is_true(json_object_get(args, "enter")) ? "" : " (exit)");
		free(value);
	}
	fclose(f);
	return out;
}

/* Whether process `pid` holds an inotify descriptor (how serve watches the
 * manifest). */
static bool watches_files(pid_t pid)
{
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "%s", dir);
	bool found = false;
	for (struct dirent *e; !found && (e = readdir(d)) != NULL;) {
		char link[384], target[64];
		snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n > 0) {
			target[n] = '\0';
			found = strcmp(target, "anon_inode:inotify") == 0;
		}
	}
	closedir(d);
	return found;
}

/* Sends SIGHUP and waits for its reload to be logged with nothing changed:
 * everything the server was told before has been handled by then (its
 * main thread reads signals and the watch in one loop). Returns stderr. */
static char *quiet_reload(const w_server *s)
{
	char *before = t_read(s->err_path);
	size_t had = 0;
	for (const char *at = before; (at = strstr(at, "no setting changed")) != NULL; at++)
		had++;
	free(before);
	cr_assert_eq(kill(s->pid, SIGHUP), 0);
	double end = now() + 10;
	for (;;) {
		char *err = t_read(s->err_path);
		size_t n = 0;
		for (const char *at = err; (at = strstr(at, "no setting changed")) != NULL; at++)
			n++;
		if (n > had)
			return err;
		cr_assert(now() < end, "no quiet reload logged within 10 s of SIGHUP:\n%s", err);
		free(err);
		nap(20);
	}
}

static void stop(w_server *s)
{
	w_stop(s);
	cr_assert_eq(s->status, 0, "exit status %d, stderr:\n%s", s->status, s->err);
}

/* ---- live settings ---------------------------------------------------- */

Test(live, editing_the_manifest_sends_setting_changed_for_exactly_the_changed_keys)
{
	w_server s;
	serve(&s, NULL, BASE_SETTINGS "  debug: false\n  mailer: {from: a@example.com, port: 25}\n"
		"  hosts: [a, b]\n  gone: 1\n  same: x\n", NULL);
	char *before = setting(s.port, "mailer.from");
	cr_assert_str_eq(before, "a@example.com");
	free(before);
	char *text = project_text(NULL, BASE_SETTINGS "  debug: true\n"
		"  mailer: {port: 25, from: b@example.com}\n  hosts: [a, b, c]\n  same: x\n"
		"  new: {deep: 1}\n");
	save_by_rename(text);
	free(text);
	json_t *lines = wait_lines("audit.jsonl", "setting_changed", 5);
	free(wait_stderr(&s, "settings reloaded"));
	/* nothing more comes: a reload on SIGHUP, logged with nothing changed,
	 * comes after whatever the edit set off */
	char *err = quiet_reload(&s);
	json_decref(lines);
	lines = lines_of("audit.jsonl", "setting_changed");
	char *changes = changes_text(lines);
	cr_assert_str_eq(changes, "debug=true;gone=null;hosts=[\"a\",\"b\",\"c\"];"
		"mailer.from=\"b@example.com\";new.deep=1", "%s", err);
	for (size_t i = 0; i < json_array_size(lines); i++)
		cr_assert_str_eq(json_string_value(json_object_get(json_array_get(lines, i), "sender")),
			"sighost.settings");
	w_has(err, "[sighost.server] info: project.yaml: reloading the settings");
	w_has(err, "settings reloaded from project.yaml: 5 changed "
		"(debug, gone, hosts, mailer.from, new.deep)");
	/* the plugin reads the new values */
	char *debug = setting(s.port, "debug"), *from = setting(s.port, "mailer.from"),
		*gone = setting(s.port, "gone");
	cr_assert_str_eq(debug, "true");
	cr_assert_str_eq(from, "b@example.com");
	cr_assert_str_eq(gone, "(none)");
	free(debug);
	free(from);
	free(gone);
	/* the async receiver of t_live heard them too, with their copied args */
	json_t *heard = wait_lines("live.log", "setting_changed", 5);
	cr_assert_eq(json_array_size(heard), 5);
	const json_t *from_line = NULL;   /* two pool threads: any order */
	for (size_t i = 0; i < json_array_size(heard); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(heard, i), "setting")),
				"mailer.from") == 0)
			from_line = json_array_get(heard, i);
	cr_assert_not_null(from_line);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(from_line, "value"),
		"text")), "b@example.com");
	cr_assert(json_is_true(json_object_get(from_line, "enter")));
	json_decref(heard);
	free(changes);
	free(err);
	json_decref(lines);
	stop(&s);
	w_server_free(&s);
}

Test(live, a_write_in_place_is_seen_too)
{
	w_server s;
	serve(&s, NULL, BASE_SETTINGS "  debug: false\n", NULL);
	cr_assert(watches_files(s.pid), "serve watches the manifest with inotify");
	char *text = project_text(NULL, BASE_SETTINGS "  debug: true\n");
	save_in_place(text);
	free(text);
	json_t *lines = wait_lines("audit.jsonl", "setting_changed", 1);
	char *changes = changes_text(lines);
	cr_assert_str_eq(changes, "debug=true");
	char *debug = setting(s.port, "debug");
	cr_assert_str_eq(debug, "true");
	free(debug);
	free(changes);
	json_decref(lines);
	stop(&s);
	w_server_free(&s);
}

Test(live, sighup_reloads_and_no_watch_ignores_edits)
{
	w_server s;
	const char *const args[] = { "--no-watch", NULL };
	serve(&s, NULL, BASE_SETTINGS "  debug: false\n", args);
	char *text = project_text(NULL, BASE_SETTINGS "  debug: true\n");
	/* --no-watch: nothing watches the file, so an edit alone cannot reload */
	cr_assert_not(watches_files(s.pid), "--no-watch: the server holds an inotify descriptor");
	save_by_rename(text);
	free(text);
	json_t *lines = lines_of("audit.jsonl", "setting_changed");
	cr_assert_eq(json_array_size(lines), 0, "--no-watch: an edit alone reloads nothing");
	json_decref(lines);
	char *debug = setting(s.port, "debug");
	cr_assert_str_eq(debug, "false");
	free(debug);
	cr_assert_eq(kill(s.pid, SIGHUP), 0);
	lines = wait_lines("audit.jsonl", "setting_changed", 1);
	char *changes = changes_text(lines);
	cr_assert_str_eq(changes, "debug=true");
	char *err = wait_stderr(&s, "settings reloaded");
	w_has(err, "[sighost.server] info: SIGHUP: reloading the settings");
	debug = setting(s.port, "debug");
	cr_assert_str_eq(debug, "true");
	/* SIGHUP with nothing changed: reloaded, no signal */
	free(err);
	err = quiet_reload(&s);
	w_has(err, "settings reloaded from project.yaml: no setting changed");
	w_lacks(err, "project.yaml: reloading the settings");   /* never from the edit */
	json_decref(lines);
	lines = lines_of("audit.jsonl", "setting_changed");
	cr_assert_eq(json_array_size(lines), 1);
	free(err);
	free(debug);
	free(changes);
	json_decref(lines);
	stop(&s);
	w_server_free(&s);
}

Test(live, a_broken_edit_is_logged_with_its_position_and_the_settings_stay)
{
	w_server s;
	serve(&s, NULL, BASE_SETTINGS "  debug: false\n", NULL);
	/* malformed YAML */
	char *text = project_text(NULL, BASE_SETTINGS "  debug: [true\n");
	save_by_rename(text);
	free(text);
	char *err = wait_stderr(&s, "settings not reloaded");
	w_has(err, "[sighost.settings] error: project.yaml:");
	w_has(err, ": malformed YAML: ");
	w_has(err, "settings not reloaded: 1 problem in project.yaml; the running settings stay");
	char *debug = setting(s.port, "debug");
	cr_assert_str_eq(debug, "false");
	free(debug);
	free(err);
	/* well-formed but invalid: an unknown key and a wrong type, at their positions */
	text = project_text("instaled_apps: [audit]\nasync_threads: many\n",
		BASE_SETTINGS "  debug: true\n");
	save_in_place(text);
	free(text);
	err = wait_stderr(&s, "2 problems in project.yaml");
	w_has(err, "[sighost.settings] error: project.yaml:4:1: unknown key 'instaled_apps' in "
		"project manifest (did you mean 'installed_apps'?)");
	w_has(err, "[sighost.settings] error: project.yaml:5:16: ");
	debug = setting(s.port, "debug");
	cr_assert_str_eq(debug, "false");
	free(debug);
	json_t *lines = lines_of("audit.jsonl", "setting_changed");
	cr_assert_eq(json_array_size(lines), 0);
	json_decref(lines);
	/* fixed: the next edit goes through */
	text = project_text(NULL, BASE_SETTINGS "  debug: true\n");
	save_by_rename(text);
	free(text);
	lines = wait_lines("audit.jsonl", "setting_changed", 1);
	char *changes = changes_text(lines);
	cr_assert_str_eq(changes, "debug=true");
	free(changes);
	json_decref(lines);
	free(err);
	stop(&s);
	w_server_free(&s);
}

Test(live, a_changed_server_key_needs_a_restart_and_is_ignored)
{
	w_server s;
	serve(&s, "threads: 2\n", BASE_SETTINGS "  debug: false\n", NULL);
	char *text = project_text("threads: 3\nrequest_timeout: 5\n", BASE_SETTINGS "  debug: false\n");
	save_by_rename(text);
	free(text);
	char *err = wait_stderr(&s, "settings reloaded");
	w_has(err, "[sighost.settings] warning: project.yaml:5:18: 'request_timeout' changed: "
		"it needs a restart (the running value stays until then)");
	w_has(err, "[sighost.settings] warning: project.yaml:4:10: 'threads' changed: "
		"it needs a restart");
	w_has(err, "settings reloaded from project.yaml: no setting changed");
	cr_assert(strstr(err, "'request_timeout' changed") < strstr(err, "'threads' changed"),
		"sorted by key");
	json_t *lines = lines_of("audit.jsonl", "setting_changed");
	cr_assert_eq(json_array_size(lines), 0);
	json_decref(lines);
	/* still serving with what it started with */
	w_resp r = w_request(s.port, "GET", "/whoami", NULL, NULL);
	cr_assert_eq(r.status, 200);
	w_resp_free(&r);
	free(err);
	stop(&s);
	w_server_free(&s);
}

/* ---- async receivers -------------------------------------------------- */

Test(live, an_async_receiver_runs_off_the_request_thread_after_the_response)
{
	w_server s;
	serve(&s, NULL, "  audit: {path: audit.jsonl}\n  live: {path: live.log, sleep_ms: 1500}\n",
		NULL);
	double t0 = now();
	w_resp r = w_request(s.port, "GET", "/whoami", "X-Probe: copied\r\n", NULL);
	double took = now() - t0;
	cr_assert_eq(r.status, 200, "%s", r.head);
	cr_assert_lt(took, 1.0, "the response waited %.3f s for a slow async receiver", took);
	json_t *early = lines_of("live.log", "request_started");
	cr_assert_eq(json_array_size(early), 0, "the slow receiver had not finished yet");
	json_decref(early);
	json_t *body = json_loads(r.body, 0, NULL);
	json_int_t view_thread = json_integer_value(json_object_get(body, "thread"));
	cr_assert_gt(view_thread, 0);
	json_t *lines = wait_lines("live.log", "request_started", 1);
	cr_assert_eq(json_array_size(lines), 1);
	const json_t *line = json_array_get(lines, 0);
	json_int_t receiver_thread = json_integer_value(json_object_get(line, "thread"));
	cr_assert_gt(receiver_thread, 0);
	cr_assert_neq(receiver_thread, view_thread, "ran on the request thread");
	cr_assert_str_eq(json_string_value(json_object_get(line, "path")), "/whoami");
	cr_assert_str_eq(json_string_value(json_object_get(line, "method")), "GET");
	cr_assert_str_eq(json_string_value(json_object_get(line, "probe")), "copied");
	cr_assert_str_eq(json_string_value(json_object_get(line, "sender")), "sighost.handler");
	json_decref(lines);
	json_decref(body);
	w_resp_free(&r);
	stop(&s);
	w_server_free(&s);
}

Test(live, async_receivers_get_copies_of_the_exception_and_template_arguments)
{
	w_server s;
	serve(&s, NULL, BASE_SETTINGS, NULL);
	w_resp r = w_request(s.port, "POST", "/fail?q=42", "X-Probe: boom\r\n", "the body");
	cr_assert_eq(r.status, 500);
	w_resp_free(&r);
	r = w_request(s.port, "GET", "/render", NULL, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "<p>Ada</p>\n");
	w_resp_free(&r);
	json_t *failed = wait_lines("live.log", "got_request_exception", 1);
	cr_assert_eq(json_array_size(failed), 1);
	const json_t *f = json_array_get(failed, 0);
	cr_assert_eq(json_integer_value(json_object_get(f, "error")), SH_EINVAL);
	cr_assert_str_eq(json_string_value(json_object_get(f, "message")),
		"t_live: the view failed on purpose");
	cr_assert_str_eq(json_string_value(json_object_get(f, "path")), "/fail");
	cr_assert_str_eq(json_string_value(json_object_get(f, "probe")), "boom");
	cr_assert_str_eq(json_string_value(json_object_get(f, "query")), "42");
	cr_assert_str_eq(json_string_value(json_object_get(f, "body")), "the body");
	json_t *rendered = wait_lines("live.log", "template_rendered", 1);
	cr_assert_eq(json_array_size(rendered), 1);
	const json_t *t = json_array_get(rendered, 0);
	cr_assert_str_eq(json_string_value(json_object_get(t, "template")), "live/page.html");
	cr_assert_str_eq(json_string_value(json_object_get(t, "sender")), "template:live/page.html");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(t, "context"), "name")),
		"Ada", "the copy is taken at the send, before the view changed its context");
	json_decref(failed);
	json_decref(rendered);
	stop(&s);
	w_server_free(&s);
}

Test(live, sigterm_drains_every_queued_job_before_teardown_and_audit_async_writes_all)
{
	w_server s;
	serve(&s, "async_threads: 1\n",
		"  audit: {path: audit.jsonl, async: true}\n  live: {path: live.log, sleep_ms: 700}\n",
		NULL);
	enum { N = 4 };
	double t0 = now();
	for (int i = 0; i < N; i++) {
		w_resp r = w_request(s.port, "GET", "/whoami", NULL, NULL);
		cr_assert_eq(r.status, 200);
		w_resp_free(&r);
	}
	double took = now() - t0;
	/* one pool thread, busy sleeping in live's first receiver: audit's
	 * jobs, queued behind it, have not run */
	json_t *early = lines_of("audit.jsonl", "request_started");
	if (took < 0.6)
		cr_assert_eq(json_array_size(early), 0, "audit wrote on the request thread");
	json_decref(early);
	stop(&s);
	json_t *started = lines_of("live.log", "request_started");
	json_t *finished = lines_of("live.log", "request_finished");
	cr_assert_eq(json_array_size(started), N, "every queued job ran before exit");
	cr_assert_eq(json_array_size(finished), N);
	json_t *all = lines_of("live.log", NULL);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(all,
		json_array_size(all) - 1), "signal")), "teardown", "teardown came after the drain");
	json_t *audit_started = lines_of("audit.jsonl", "request_started");
	json_t *audit_finished = lines_of("audit.jsonl", "request_finished");
	cr_assert_eq(json_array_size(audit_started), N, "audit (async) wrote every line");
	cr_assert_eq(json_array_size(audit_finished), N);
	w_has(s.err, "async receivers drained: ");
	cr_assert_null(strstr(s.err, "async receivers drained: 0 "), "%s", s.err);
	cr_assert_null(strstr(s.err, "not run"), "%s", s.err);
	json_decref(started);
	json_decref(finished);
	json_decref(all);
	json_decref(audit_started);
	json_decref(audit_finished);
	w_server_free(&s);
}

Test(live, the_pool_keys_are_checked)
{
	w_server s;
	char *from = NULL;
	cr_assert_geq(asprintf(&from, "%s/t_live.so", t_env("SIGHOST_WEB_PLUGIN_DIR")), 0);
	free(t_copy(from, w_plugins, "live.so", 0755));
	free(from);
	w_manifest("live", "label: live\nlibrary: live.so\n");
	char *text = project_text("async_threads: 0\nasync_queue: 2000000\n", BASE_SETTINGS);
	save_in_place(text);
	free(text);
	const char *const args[] = { "--listen", "127.0.0.1:0", NULL };
	w_start_fails(&s, args);
	cr_assert_eq(s.status, 1, "%s", s.err);
	w_has(s.err, "project.yaml:4:16: 'async_threads' must be from 1 to 256, not 0");
	w_has(s.err, "project.yaml:5:14: 'async_queue' must be from 1 to 1048576, not 2000000");
	w_server_free(&s);
}
