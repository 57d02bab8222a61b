/*
 * dashboard.c: the introspection dashboard of `sighost serve` in a real
 * browser (Debian's headless chromium, browser.h) and over plain HTTP.
 * The project is the example's apps (audit, alert, billing, mailer,
 * pages, the bundled plugins) with the dashboard enabled. Each view is
 * saved as a PNG in $SIGHOST_ARTEFACT_DIR (build/tests/web/dashboard/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../support/api.h"
#include "browser.h"

TestSuite(dashboard, .init = w_setup, .fini = w_cleanup, .timeout = 180);

#define EXAMPLE_APPS "alert, billing, mailer, pages"

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The example's apps, migrated, with the dashboard on; returns a token. */
static char *example(const char *extra)
{
	w_project(EXAMPLE_APPS, extra != NULL ? extra : "dashboard: {enabled: true}\n");
	a_migrate();
	return a_token("alice");
}

/* "Authorization: Token KEY\r\n", with a form's Content-Type when `form`
 * (a static buffer: one at a time). */
static const char *headers_for(const char *token, bool form)
{
	static char h[256];
	snprintf(h, sizeof h, "Authorization: Token %s\r\n%s", token,
		form ? "Content-Type: application/x-www-form-urlencoded\r\n" : "");
	return h;
}

/* Creates an alert through the example's view, as a user would. */
static void create_alert(unsigned port, const char *token, const char *content)
{
	char body[128];
	snprintf(body, sizeof body, "content=%s", content);
	w_resp r = w_request(port, "POST", "/dashboard/create", headers_for(token, true), body);
	cr_assert_lt(r.status, 400, "create: %d %s", r.status, r.body);
	w_resp_free(&r);
}

static char *url(const w_server *s, const char *path)
{
	char *u = NULL;
	cr_assert_geq(asprintf(&u, "http://127.0.0.1:%u%s", s->port, path), 0);
	return u;
}

/* Where a screenshot of `view` goes. */
static char *artefact(const char *view)
{
	const char *dir = getenv("SIGHOST_ARTEFACT_DIR");
	cr_assert_not_null(dir, "SIGHOST_ARTEFACT_DIR is not set (meson sets it)");
	mkdir(dir, 0755);
	char *path = NULL;
	cr_assert_geq(asprintf(&path, "%s/%s.png", dir, view), 0);
	return path;
}

static void shoot(b_browser *b, const char *view)
{
	char *path = artefact(view);
	b_screenshot(b, path);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_gt(st.st_size, 1000, "%s is too small to show anything", path);
	free(path);
}

/* Shows a view (#name) and waits for `ready` to be true in the page. */
static void show(b_browser *b, const char *view, const char *ready)
{
	char js[256];
	snprintf(js, sizeof js, "location.hash = '#%s'; true", view);
	json_decref(b_eval(b, js));
	cr_assert_geq(b_wait_true(b, ready, 10000), 0, "view %s: never true: %s", view, ready);
}

static char *text_of(b_browser *b, const char *expression)
{
	json_t *v = b_eval(b, expression);
	cr_assert(json_is_string(v), "%s is not a string", expression);
	char *s = strdup(json_string_value(v));
	json_decref(v);
	return s;
}

Test(dashboard, page_without_token_shows_the_login_refusal_not_data)
{
	free(example(NULL));
	w_server s;
	w_start(&s, NULL);
	b_browser b;
	b_start(&b);
	char *u = url(&s, "/_sighost/");
	b_goto(&b, u);
	char *body = text_of(&b, "document.body.innerText");
	w_has(body, "token required");
	w_lacks(body, "post_save");
	w_lacks(body, "alert.so");
	json_t *data = b_eval(&b, "document.getElementById('apps') === null");
	cr_assert(json_is_true(data), "the refusal page has the data views");
	json_decref(data);
	shoot(&b, "login");
	/* and the page's JSON is refused too, from the page's own origin */
	json_t *status = b_eval(&b, "fetch('api').then(r => r.status)");
	cr_assert_eq(json_integer_value(status), 401, "the page's fetch of api was not refused");
	json_decref(status);
	free(body);
	free(u);
	b_stop(&b);
	w_stop(&s);
	w_server_free(&s);
}

/* Logs the browser in with the cookie the login page would set. */
static void login(b_browser *b, const w_server *s, const char *token)
{
	char *u = url(s, "/_sighost/");
	json_t *r = b_call(b, true, "Network.setCookie", json_pack("{s:s, s:s, s:s}",
		"name", "sighost_token", "value", token, "url", u), 10000);
	cr_assert(json_is_true(json_object_get(r, "success")));
	json_decref(r);
	b_goto(b, u);
	free(u);
}

/* The example served, a browser logged in to its dashboard. */
typedef struct session {
	char *token;
	w_server s;
	b_browser b;
} session;

static void session_open(session *x)
{
	x->token = example(NULL);
	w_start(&x->s, NULL);
	b_start(&x->b);
	login(&x->b, &x->s, x->token);
}

static void session_close(session *x)
{
	b_stop(&x->b);
	w_stop(&x->s);
	w_server_free(&x->s);
	free(x->token);
}

Test(dashboard, views_list_the_examples_apps_signals_and_alert_receiver)
{
	session x;
	session_open(&x);
	b_browser *b = &x.b;

	show(b, "apps", "document.querySelectorAll('#apps tr').length >= 5");
	char *apps = text_of(b, "document.getElementById('apps').innerText");
	const char *labels[] = { "audit", "alert", "billing", "mailer", "pages", "alert.so" };
	for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
		w_has(apps, labels[i]);
	w_has(apps, "passed");   /* the probe's verdict */
	shoot(b, "apps");

	/* the page is open, so the receivers' calls are counted: two creates show up
	 * in on_alert_saved's row when the page next reads the host (every 2 s) */
	create_alert(x.s.port, x.token, "one");
	create_alert(x.s.port, x.token, "two");
	show(b, "signals", "[...document.querySelectorAll('#signals tr')].some(tr => "
		"tr.dataset.receiver === 'on_alert_saved' && tr.cells[7].textContent === '2')");
	char *post_save = text_of(b,
		"document.querySelector('#signals [data-signal=\"post_save\"]').innerText");
	w_has(post_save, "on_alert_saved");
	w_has(post_save, "alert.Alert");
	w_has(post_save, " µs");   /* its p50 and p99 */
	char *signals = text_of(b, "document.getElementById('signals').innerText");
	w_has(signals, "request_started");
	w_has(signals, "audit_record");
	shoot(b, "signals");

	show(b, "models", "document.querySelectorAll('#models tr').length >= 3");
	char *models = text_of(b, "document.getElementById('models').innerText");
	w_has(models, "alert.Alert");
	w_has(models, "alert_alert");
	shoot(b, "models");

	show(b, "migrations", "document.querySelectorAll('#migrations tr').length >= 1");
	char *migrations = text_of(b, "document.getElementById('migrations').innerText");
	w_has(migrations, "0001_initial");
	w_has(migrations, "applied");
	shoot(b, "migrations");

	show(b, "settings", "document.querySelectorAll('#settings tr').length >= 1");
	char *settings = text_of(b, "document.getElementById('settings').innerText");
	w_has(settings, "audit.path");
	w_has(settings, "manifest");
	shoot(b, "settings");

	free(apps);
	free(post_save);
	free(signals);
	free(models);
	free(migrations);
	free(settings);
	session_close(&x);
}

Test(dashboard, stream_shows_post_save_of_an_http_create_within_2s)
{
	session x;
	session_open(&x);
	b_browser *b = &x.b;
	const char *token = x.token;
	unsigned port = x.s.port;
	show(b, "stream", "document.getElementById('stream-state').textContent === 'live'");

	/* 2 s; under `meson test --setup valgrind` (SIGHOST_WRAPPER runs sighost
	 * under valgrind, tens of times slower) ten times that, as meson's timeouts */
	int limit = getenv("SIGHOST_WRAPPER") != NULL ? 20000 : 2000;
	long sent = now_ms();
	create_alert(port, token, "disk+full");
	long took = b_wait_true(b, "!!document.querySelector('#events tr[data-signal=\"post_save\"]"
		"[data-sender=\"alert.Alert\"]')", limit);
	long since_sent = now_ms() - sent;
	cr_assert_geq(took, 0, "no post_save in the page %d ms after the create", limit);
	cr_assert_leq(since_sent, limit, "post_save appeared %ld ms after the create", since_sent);
	char *row = text_of(b,
		"[...document.querySelectorAll('#events tr[data-sender=\"alert.Alert\"]')]"
		".map(tr => tr.innerText).join('\\n')");
	w_has(row, "alert.Alert");
	w_has(row, "created=true");
	w_has(row, "pk=1");
	shoot(b, "stream");

	/* pause: events are held, not shown, until resumed */
	json_decref(b_eval(b, "document.getElementById('pause').click(); true"));
	json_t *before = b_eval(b, "document.querySelectorAll('#events tr').length");
	create_alert(port, token, "second");
	cr_assert_geq(b_wait_true(b, "document.getElementById('held').textContent !== ''", 2000), 0,
		"nothing was held while paused");
	json_t *after = b_eval(b, "document.querySelectorAll('#events tr').length");
	cr_assert_eq(json_integer_value(before), json_integer_value(after),
		"rows were added while paused");
	json_decref(b_eval(b, "document.getElementById('pause').click(); true"));
	cr_assert_geq(b_wait_true(b, "document.querySelectorAll('#events tr[data-signal=\"post_save\"]"
		"[data-sender=\"alert.Alert\"]').length >= 2", 2000), 0,
		"resuming did not show the held events");
	json_decref(before);
	json_decref(after);
	free(row);
	session_close(&x);
}

/* ---- over plain HTTP -------------------------------------------------------- */

Test(dashboard, off_unless_enabled_or_debug)
{
	char *token = example("dashboard: {enabled: false}\n");
	w_server s;
	w_start(&s, NULL);
	w_resp r = w_request(s.port, "GET", "/_sighost/api", headers_for(token, false), NULL);
	cr_assert_eq(r.status, 404, "a disabled dashboard answered %d", r.status);
	w_resp_free(&r);
	w_stop(&s);
	w_server_free(&s);
	free(token);
}

Test(dashboard, api_needs_a_token_and_is_read_only)
{
	char *token = example("dashboard: {enabled: true, prefix: /ops/}\n");
	w_server s;
	w_start(&s, NULL);
	w_resp r = w_request(s.port, "GET", "/ops/api", NULL, NULL);
	cr_assert_eq(r.status, 401);
	w_lacks(r.body, "alert");
	w_resp_free(&r);
	r = w_request(s.port, "GET", "/ops/api", "Authorization: Token "
		"0000000000000000000000000000000000000000000000000000000000000000\r\n", NULL);
	cr_assert_eq(r.status, 401);
	w_resp_free(&r);
	char auth[256];
	snprintf(auth, sizeof auth, "%s", headers_for(token, false));
	r = w_request(s.port, "POST", "/ops/api", auth, "{}");
	cr_assert_eq(r.status, 405);
	w_resp_free(&r);
	r = w_request(s.port, "GET", "/ops/api", auth, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *doc = a_body(&r);
	cr_assert_eq(json_array_size(json_object_get(doc, "apps")), 5);
	cr_assert_not_null(json_object_get(doc, "signals"));
	json_decref(doc);
	w_resp_free(&r);
	/* the page is watched now: the receivers' calls are counted */
	for (int i = 0; i < 3; i++)
		create_alert(s.port, token, "counted");
	r = w_request(s.port, "GET", "/ops/api", auth, NULL);
	doc = a_body(&r);
	json_t *signals = json_object_get(doc, "signals"), *stats = NULL;
	for (size_t i = 0; i < json_array_size(signals); i++) {
		json_t *sig = json_array_get(signals, i);
		if (strcmp(json_string_value(json_object_get(sig, "name")), "post_save") != 0)
			continue;
		json_t *receivers = json_object_get(sig, "receivers");
		for (size_t k = 0; k < json_array_size(receivers); k++)
			if (strcmp(json_string_value(json_object_get(json_array_get(receivers, k),
					"receiver")), "on_alert_saved") == 0)
				stats = json_object_get(json_array_get(receivers, k), "stats");
	}
	cr_assert_not_null(stats, "on_alert_saved has no stats");
	cr_assert_eq(json_integer_value(json_object_get(stats, "calls")), 3);
	cr_assert_eq(json_integer_value(json_object_get(stats, "failures")), 0);
	cr_assert_gt(json_integer_value(json_object_get(stats, "p50_ns")), 0);
	cr_assert_geq(json_integer_value(json_object_get(stats, "p99_ns")),
		json_integer_value(json_object_get(stats, "p50_ns")));
	json_decref(doc);
	w_resp_free(&r);
	r = w_request(s.port, "GET", "/_sighost/api", auth, NULL);
	cr_assert_eq(r.status, 404, "the default prefix answers although the manifest moved it");
	w_resp_free(&r);
	w_stop(&s);
	w_server_free(&s);
	free(token);
}

Test(dashboard, bad_dashboard_keys_are_refused_with_their_position)
{
	w_project(EXAMPLE_APPS, "dashboard:\n  prefix: no-slash\n  stream_clients: 0\n");
	a_migrate();   /* the ranges are the server's to check */
	w_server s;
	w_start_fails(&s, NULL);
	cr_assert_neq(s.status, 0);
	w_has(s.err, "project.yaml:");
	w_has(s.err, "dashboard.prefix");
	w_has(s.err, "stream_clients");
	w_server_free(&s);
}

/* Opens a stream of the dashboard on a socket whose receive buffer is
 * `rcvbuf` bytes (0: the default) and reads its head. */
static int open_stream(unsigned port, const char *token, const char *query, int rcvbuf)
{
	int fd = w_connect_rcvbuf(port, rcvbuf);
	char req[512];
	snprintf(req, sizeof req, "GET /_sighost/stream%s HTTP/1.1\r\nHost: x\r\n"
		"Authorization: Token %s\r\n\r\n", query, token);
	cr_assert(w_send(fd, req, strlen(req)));
	return fd;
}

/* Reads the stream until `needle` has been seen or `timeout_ms` passed;
 * returns everything read (free it). */
static char *read_until(int fd, const char *needle, int timeout_ms)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	cr_assert_not_null(buf);
	buf[0] = '\0';
	long deadline = now_ms() + timeout_ms;
	while (strstr(buf, needle) == NULL) {
		long left = deadline - now_ms();
		struct pollfd p = { fd, POLLIN, 0 };
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return buf;
}

Test(dashboard, stream_filters_by_signal_and_sender)
{
	char *token = example(NULL);
	w_server s;
	w_start(&s, NULL);
	int fd = open_stream(s.port, token, "?signal=post_save&sender=alert.Alert", 0);
	free(read_until(fd, "event: hello", 5000));
	create_alert(s.port, token, "one");
	char *got = read_until(fd, "\"signal\":\"post_save\",\"sender\":\"alert.Alert\"", 5000);
	w_has(got, "\"signal\":\"post_save\",\"sender\":\"alert.Alert\"");
	w_has(got, "\"created\":true");
	w_lacks(got, "alert.Owner");       /* post_save of the owner: another sender */
	w_lacks(got, "request_started");   /* another signal */
	close(fd);
	w_resp r = w_request(s.port, "GET", "/_sighost/stream?signal=no_such_signal",
		headers_for(token, false), NULL);
	cr_assert_eq(r.status, 400);
	w_has(r.body, "no signal of that name");
	w_resp_free(&r);
	free(got);
	w_stop(&s);
	w_server_free(&s);
	free(token);
}

Test(dashboard, a_stream_that_is_never_read_drops_and_counts_without_slowing_creates)
{
	char *token = example("dashboard: {enabled: true, stream_buffer: 16}\n");
	w_server s;
	w_start(&s, NULL);
	int fd = open_stream(s.port, token, "", 4096);
	free(read_until(fd, "event: hello", 5000));
	/* every create sends about a dozen signals; the client reads none of them */
	long start = now_ms();
	for (int i = 0; i < 400; i++) {
		create_alert(s.port, token, "flood");
		cr_assert_lt(now_ms() - start, 120000, "creates stalled behind a stream nobody reads");
	}
	/* now read: the stream says how many events it had to drop */
	char *got = read_until(fd, "event: dropped", 20000);
	w_has(got, "event: dropped");
	const char *at = strstr(got, "event: dropped\ndata: {\"dropped\":");
	cr_assert_not_null(at, "no drop count in the stream");
	long dropped = strtol(at + strlen("event: dropped\ndata: {\"dropped\":"), NULL, 10);
	cr_assert_gt(dropped, 0);
	free(got);
	close(fd);
	w_stop(&s);
	cr_assert_eq(s.status, 0);
	w_server_free(&s);
	free(token);
}

Test(dashboard, stream_clients_are_bounded)
{
	char *token = example("dashboard: {enabled: true, stream_clients: 1}\n");
	w_server s;
	w_start(&s, NULL);
	int first = open_stream(s.port, token, "", 0);
	char *hello = read_until(first, "event: hello", 5000);
	w_has(hello, "text/event-stream");
	w_resp second = w_request(s.port, "GET", "/_sighost/stream", headers_for(token, false), NULL);
	cr_assert_eq(second.status, 503, "a second stream got %d", second.status);
	w_has(second.body, "too many streams");
	w_resp_free(&second);
	free(hello);
	close(first);
	w_stop(&s);
	cr_assert_eq(s.status, 0, "serve did not stop cleanly with a stream open: %s", s.err);
	w_server_free(&s);
	free(token);
}

/* The value and origin of setting `key` in the document, as "value@origin"
 * (newly allocated; NULL when the key is not listed). */
static char *setting_of(unsigned port, const char *token, const char *key)
{
	w_resp r = w_request(port, "GET", "/_sighost/api", headers_for(token, false), NULL);
	json_t *doc = a_body(&r);
	json_t *items = json_object_get(json_object_get(doc, "settings"), "items");
	char *out = NULL;
	for (size_t i = 0; i < json_array_size(items) && out == NULL; i++) {
		json_t *item = json_array_get(items, i);
		if (strcmp(json_string_value(json_object_get(item, "key")), key) == 0)
			cr_assert_geq(asprintf(&out, "%s@%s", json_string_value(json_object_get(item, "value")),
				json_string_value(json_object_get(item, "origin"))), 0);
	}
	json_decref(doc);
	w_resp_free(&r);
	return out;
}

/* project.yaml as w_project writes it, with settings.greeting. */
static void project_greeting(const char *greeting)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: web\nplugin_dirs: [%s, plugins]\n"
		"installed_apps: [audit, " EXAMPLE_APPS "]\ndashboard: {enabled: true}\n"
		"settings:\n  audit: {path: audit.jsonl}\n  greeting: %s\n",
		t_env("SIGHOST_PLUGIN_DIR"), greeting), 0);
	free(t_write(w_dir, "project.yaml", text));
	free(text);
}

Test(dashboard, settings_say_whether_the_manifest_or_a_reload_set_them)
{
	char *token = example(NULL);
	project_greeting("hello");
	w_server s;
	w_start(&s, NULL);
	char *before = setting_of(s.port, token, "greeting");
	cr_assert_str_eq(before, "hello@manifest");
	project_greeting("bye");
	kill(s.pid, SIGHUP);
	char *after = NULL;
	long deadline = now_ms() + 10000;
	while ((after == NULL || strcmp(after, "bye@reload") != 0) && now_ms() < deadline) {
		free(after);
		struct timespec nap = { 0, 50L * 1000 * 1000 };
		nanosleep(&nap, NULL);
		after = setting_of(s.port, token, "greeting");
	}
	cr_assert_str_eq(after, "bye@reload");
	char *path = setting_of(s.port, token, "audit.path");
	cr_assert_str_eq(path, "audit.jsonl@manifest", "an unchanged key kept its origin");
	free(before);
	free(after);
	free(path);
	w_stop(&s);
	w_server_free(&s);
	free(token);
}
