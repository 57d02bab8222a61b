/*
 * serve.c: `sighost serve` end to end: the real binary on a free loopback
 * port, real HTTP requests over sockets, and the audit plugin's log of the
 * request signals. Covers the views' API, 400/401/404/405/413/500,
 * slow clients, keep-alive, graceful shutdown and refusing to start.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../support/web.h"

TestSuite(serve, .init = w_setup, .fini = w_cleanup, .timeout = 120);

/* The routes of the test app `web` (t_web.so). */
static const char *const web_routes =
	"models:\n"
	"  Note:\n"
	"    fields:\n"
	"      title: {type: text, max_length: 100}\n"
	"routes:\n"
	"  - {path: /hello, view: hello}\n"
	"  - {path: /echo, methods: [GET, POST, PUT], view: echo}\n"
	"  - {path: '/echo/<int:id>/<slug:slug>', methods: [GET, POST], view: echo}\n"
	"  - {path: '/items/<int:id>/<slug:slug>', view: item}\n"
	"  - {path: '/files/<path:rest>', view: echo}\n"
	"  - {path: /boom, view: boom}\n"
	"  - {path: /render, view: render}\n"
	"  - {path: /slow, view: slow}\n"
	"  - {path: /headers, view: headers}\n"
	"  - {path: /raw, view: raw}\n"
	"  - {path: /private, view: hello, login_required: true}\n"
	"  - {path: '/notes/<int:id>', methods: [GET, DELETE], model: web.Note, anonymous: [GET]}\n";

/* A project with audit and the web app, `extra` top-level lines, started. */
static void serve(w_server *s, const char *extra)
{
	w_app("web", web_routes);
	w_template("web", "page.html",
		"<h1>{{ name|default:\"nobody\" }}</h1>\n"
		"{% for i in items %}{{ forloop.counter }}={{ i }};{% endfor %}\n");
	w_template("web", "broken.html", "ok\n   {% if x %}\n");
	w_project("web", extra);
	w_start(s, NULL);
}

static void stop(w_server *s)
{
	w_stop(s);
	cr_assert_eq(s->status, 0, "exit status %d, stderr:\n%s", s->status, s->err);
}

Test(serve, says_where_it_serves_and_answers_a_view)
{
	w_server s;
	serve(&s, NULL);
	w_has(s.out, "Starting development server at http://127.0.0.1:");
	w_has(s.out, "Quit the server with CONTROL-C.\n");
	w_has(s.out, "project 'web' (project.yaml): 2 apps, 12 routes");
	w_resp r = w_request(s.port, "GET", "/hello", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.head);
	cr_assert_str_eq(r.body, "Hello, world!\n");
	w_header_is(&r, "Content-Type", "text/plain; charset=utf-8");
	w_header_is(&r, "Content-Length", "14");
	w_resp_free(&r);
	json_t *log = w_audit("request_finished", 1);
	char *names = w_audit_names(log);
	cr_assert_str_eq(names, "request_started,request_finished");
	json_t *started = json_array_get(log, 0);
	cr_assert_str_eq(json_string_value(json_object_get(started, "sender")), "sighost.handler");
	json_t *env = json_object_get(json_object_get(started, "args"), "environ");
	cr_assert_str_eq(json_string_value(json_object_get(env, "REQUEST_METHOD")), "GET");
	cr_assert_str_eq(json_string_value(json_object_get(env, "PATH_INFO")), "/hello");
	cr_assert_str_eq(json_string_value(json_object_get(env, "REMOTE_ADDR")), "127.0.0.1");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(log, 1), "sender")),
		"sighost.handler");
	free(names);
	json_decref(log);
	stop(&s);
	w_has(s.err, "\"GET /hello HTTP/1.1\" 200 14");
	w_server_free(&s);
}

Test(serve, access_log_false_leaves_out_the_line_per_request)
{
	w_server s;
	serve(&s, "access_log: false\n");
	w_resp r = w_request(s.port, "GET", "/hello", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.head);
	w_resp_free(&r);
	r = w_request(s.port, "GET", "/boom", NULL, NULL);
	cr_assert_eq(r.status, 500, "%s", r.head);
	w_resp_free(&r);
	stop(&s);
	w_lacks(s.err, "\"GET /hello HTTP/1.1\"");
	w_lacks(s.err, "\"GET /boom HTTP/1.1\" 500");
	w_has(s.err, "view web.boom failed");   /* errors are still logged */
	w_server_free(&s);
}

Test(serve, a_view_reads_method_path_query_headers_params_and_json_body)
{
	w_server s;
	serve(&s, NULL);
	w_resp r = w_request(s.port, "POST", "/echo/42/a-slug?x=1%202&y=&x=3", "X-Test: hi there\r\n"
		"Content-Type: application/json\r\n", "{\"k\": [1, \"\\u00e9\"]}");
	cr_assert_eq(r.status, 200, "%s\n%s", r.head, r.body);
	w_header_is(&r, "Content-Type", "application/json");
	json_t *j = json_loads(r.body, 0, NULL);
	cr_assert_not_null(j, "%s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(j, "method")), "POST");
	cr_assert_str_eq(json_string_value(json_object_get(j, "path")), "/echo/42/a-slug");
	cr_assert_str_eq(json_string_value(json_object_get(j, "query_string")), "x=1%202&y=&x=3");
	cr_assert_str_eq(json_string_value(json_object_get(j, "x")), "1 2");
	cr_assert_str_eq(json_string_value(json_object_get(j, "header")), "hi there");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "params"), "id")), "42");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "params"), "slug")),
		"a-slug");
	char *query = json_dumps(json_object_get(j, "query"), JSON_COMPACT);
	cr_assert_str_eq(query, "[[\"x\",\"1 2\"],[\"y\",\"\"],[\"x\",\"3\"]]");
	free(query);
	cr_assert_str_eq(json_string_value(json_object_get(j, "body")), "{\"k\": [1, \"\\u00e9\"]}");
	char *parsed = json_dumps(json_object_get(j, "json"), JSON_COMPACT);
	cr_assert_str_eq(parsed, "{\"k\":[1,\"\xc3\xa9\"]}");
	free(parsed);
	cr_assert_str_eq(json_string_value(json_object_get(j, "app")), "web");
	cr_assert_str_eq(json_string_value(json_object_get(j, "route")), "/echo/<int:id>/<slug:slug>");
	cr_assert(json_is_true(json_object_get(j, "anonymous")));
	json_decref(j);
	w_resp_free(&r);
	/* a body that is not JSON: the view sees it raw, and no JSON */
	r = w_request(s.port, "PUT", "/echo", NULL, "not json");
	cr_assert_eq(r.status, 200);
	j = json_loads(r.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(j, "body")), "not json");
	cr_assert(json_is_null(json_object_get(j, "json")));
	json_decref(j);
	w_resp_free(&r);
	stop(&s);
	w_server_free(&s);
}

Test(serve, typed_path_parameters_route_or_404)
{
	w_server s;
	serve(&s, NULL);
	w_resp r = w_request(s.port, "GET", "/items/7/seven", NULL, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "{\"id\":7,\"slug\":\"seven\"}");
	w_resp_free(&r);
	const char *misses[] = { "/items/seven/x", "/items/99999999999999999999/x", "/items/7/a.b",
		"/items/7", "/items/-7/x" };
	for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++) {
		r = w_request(s.port, "GET", misses[i], NULL, NULL);
		cr_assert_eq(r.status, 404, "%s gave %d", misses[i], r.status);
		w_has(r.body, "Not Found");
		w_resp_free(&r);
	}
	r = w_request(s.port, "GET", "/files/a/b%2Fc/d.txt", NULL, NULL);
	cr_assert_eq(r.status, 200);
	json_t *j = json_loads(r.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "params"), "rest")),
		"a/b/c/d.txt");
	json_decref(j);
	w_resp_free(&r);
	stop(&s);
	w_server_free(&s);
}

Test(serve, unknown_path_is_404_with_request_signals_and_no_exception)
{
	w_server s;
	serve(&s, NULL);
	w_resp r = w_request(s.port, "GET", "/nowhere?x=1", NULL, NULL);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body, "<h1>Not Found</h1><p>The requested resource was not found on "
		"this server.</p>");
	w_header_is(&r, "Content-Type", "text/html; charset=utf-8");
	w_resp_free(&r);
	json_t *log = w_audit("request_finished", 1);
	char *names = w_audit_names(log);
	cr_assert_str_eq(names, "request_started,request_finished");
	json_t *env = json_object_get(json_object_get(json_array_get(log, 0), "args"), "environ");
	cr_assert_str_eq(json_string_value(json_object_get(env, "QUERY_STRING")), "x=1");
	free(names);
	json_decref(log);
	stop(&s);
	w_server_free(&s);
}

Test(serve, wrong_method_is_405_with_allow_and_head_is_get_without_body)
{
	w_server s;
	serve(&s, NULL);
	w_resp r = w_request(s.port, "DELETE", "/hello", NULL, NULL);
	cr_assert_eq(r.status, 405);
	w_header_is(&r, "Allow", "GET, HEAD");
	w_resp_free(&r);
	r = w_request(s.port, "PATCH", "/echo", NULL, "x");
	cr_assert_eq(r.status, 405);
	w_header_is(&r, "Allow", "GET, HEAD, POST, PUT");
	w_resp_free(&r);
	r = w_request(s.port, "HEAD", "/hello", NULL, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.body_len, 0);
	w_header_is(&r, "Content-Length", "14");
	w_resp_free(&r);
	stop(&s);
	w_server_free(&s);
}

Test(serve, a_body_past_max_body_size_is_413_announced_or_chunked)
{
	w_server s;
	serve(&s, "max_body_size: 100\n");
	/* announced: answered as soon as the headers are in, the body never sent */
	const char *announced = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
	w_resp r = w_raw(s.port, announced, strlen(announced));
	cr_assert_eq(r.status, 413, "%s", r.head);
	w_has(r.body, "Request Entity Too Large");
	w_resp_free(&r);
	json_decref(w_audit("request_finished", 1));   /* one request at a time in the log */
	/* chunked: counted as it arrives */
	char chunked[2048];
	int n = snprintf(chunked, sizeof chunked, "POST /echo HTTP/1.1\r\nHost: x\r\n"
		"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3e8\r\n");
	memset(chunked + n, 'a', 1000);
	n += 1000;
	n += snprintf(chunked + n, sizeof chunked - (size_t)n, "\r\n0\r\n\r\n");
	r = w_raw(s.port, chunked, (size_t)n);
	cr_assert_eq(r.status, 413, "%s", r.head);
	w_resp_free(&r);
	json_decref(w_audit("request_finished", 2));
	/* at the limit is fine */
	char body[101];
	memset(body, 'b', 100);
	body[100] = '\0';
	r = w_request(s.port, "POST", "/echo", NULL, body);
	cr_assert_eq(r.status, 200);
	w_resp_free(&r);
	json_t *log = w_audit("request_finished", 3);
	char *names = w_audit_names(log);
	cr_assert_str_eq(names, "request_started,request_finished,request_started,request_finished,"
		"request_started,request_finished");
	free(names);
	json_decref(log);
	stop(&s);
	w_server_free(&s);
}

Test(serve, malformed_requests_get_400_and_the_host_stays_up)
{
	w_server s;
	serve(&s, NULL);
	const char *bad[] = {
		"GET /hello HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n",
		"GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
		"GET /hello HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",   /* HTTP/1.1 without Host */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		w_resp r = w_raw(s.port, bad[i], strlen(bad[i]));
		cr_assert_eq(r.status, 400, "request %zu gave %d:\n%s", i, r.status, r.head);
		w_resp_free(&r);
	}
	/* garbage: the connection is answered or closed, never crashes the host */
	const char garbage[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n";
	w_resp r = w_raw(s.port, garbage, sizeof garbage - 1);
	cr_assert(r.status == 0 || r.status == 400, "%d", r.status);
	w_resp_free(&r);
	r = w_request(s.port, "GET", "/hello", NULL, NULL);
	cr_assert_eq(r.status, 200);
	w_resp_free(&r);
	/* MHD answered the malformed ones itself: they sent no request signal */
	json_t *log = w_audit("request_finished", 1);
	char *names = w_audit_names(log);
	cr_assert_str_eq(names, "request_started,request_finished");
	free(names);
	json_decref(log);
	stop(&s);
	w_server_free(&s);
}

Test(serve, a_failing_view_is_500_leaking_nothing_logged_and_signalled)
{
	w_server s;
	serve(&s, NULL);
	w_resp r = w_request(s.port, "GET", "/boom", NULL, NULL);
	cr_assert_eq(r.status, 500);
	cr_assert_str_eq(r.body, "<h1>Server Error (500)</h1>");
	w_lacks(r.head, "secret");
	w_resp_free(&r);
	json_t *log = w_audit("request_finished", 1);
	char *names = w_audit_names(log);
	cr_assert_str_eq(names, "request_started,got_request_exception,request_finished");
	json_t *exception = json_array_get(log, 1);
	cr_assert(json_is_null(json_object_get(exception, "sender")) ||
		json_object_get(exception, "sender") == NULL);
	json_t *args = json_object_get(exception, "args");
	cr_assert_str_eq(json_string_value(json_object_get(args, "message")),
		"secret internal detail 42");
	cr_assert_eq(json_integer_value(json_object_get(args, "error")), -1);
	free(names);
	json_decref(log);
	r = w_request(s.port, "GET", "/hello", NULL, NULL);
	cr_assert_eq(r.status, 200, "the host is still up");
	w_resp_free(&r);
	stop(&s);
	w_has(s.err, "view web.boom failed on \"GET /boom HTTP/1.1\": SH_ERROR: secret internal "
		"detail 42");
	w_has(s.err, "\"GET /boom HTTP/1.1\" 500 27");
	w_server_free(&s);
}

Test(serve, template_views_render_escape_and_send_template_rendered)
{
	w_server s;
	serve(&s, NULL);
	w_resp r = w_request(s.port, "GET", "/render?name=%3Cb%3EAda%3C/b%3E", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_header_is(&r, "Content-Type", "text/html; charset=utf-8");
	cr_assert_str_eq(r.body, "<h1>&lt;b&gt;Ada&lt;/b&gt;</h1>\n1=a;2=b;3=c;\n");
	w_resp_free(&r);
	json_decref(w_audit("request_finished", 1));   /* one request at a time in the log */
	r = w_request(s.port, "GET", "/render", NULL, NULL);
	w_has(r.body, "<h1>nobody</h1>");
	w_resp_free(&r);
	json_t *log = w_audit("request_finished", 2);
	char *names = w_audit_names(log);
	cr_assert_str_eq(names, "request_started,template_rendered,request_finished,"
		"request_started,template_rendered,request_finished");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(log, 1), "sender")),
		"template:web/page.html");
	free(names);
	json_decref(log);
	stop(&s);
	w_server_free(&s);
}

Test(serve, template_errors_are_refused_traversal_and_syntax)
{
	w_server s;
	serve(&s, NULL);
	w_resp r = w_request(s.port, "GET", "/render?template=../../project.yaml", NULL, NULL);
	cr_assert_eq(r.status, 400);
	w_has(r.body, "no path traversal");
	w_resp_free(&r);
	r = w_request(s.port, "GET", "/render?template=nothere.html", NULL, NULL);
	cr_assert_eq(r.status, 400);
	w_has(r.body, "SH_ENOTFOUND");
	w_resp_free(&r);
	r = w_request(s.port, "GET", "/render?template=broken.html", NULL, NULL);
	cr_assert_eq(r.status, 400);
	w_has(r.body, "templates/web/broken.html:2:4: 'if' tag is not closed (expected "
		"'{% endif %}')");
	w_resp_free(&r);
	/* unhandled by the view: a 500 that says nothing, the position in the log */
	r = w_request(s.port, "GET", "/render?template=broken.html&strict=1", NULL, NULL);
	cr_assert_eq(r.status, 500);
	w_lacks(r.body, "broken");
	w_resp_free(&r);
	stop(&s);
	w_has(s.err, "templates/web/broken.html:2:4: 'if' tag is not closed");
	w_server_free(&s);
}

Test(serve, response_headers_are_checked_and_defaults_applied)
{
	w_server s;
	serve(&s, NULL);
	w_resp r = w_request(s.port, "GET", "/headers", NULL, NULL);
	cr_assert_eq(r.status, 201);
	cr_assert_str_eq(r.body, "{\"good\":0,\"injected\":-3,\"framing\":-3,\"badname\":-3,"
		"\"status\":-3}");
	w_header_is(&r, "X-Good", "yes");
	w_lacks(r.head, "Set-Cookie");
	w_lacks(r.head, "X-Bad");
	w_has(r.head, "X-Multi: 1\r\n");
	w_has(r.head, "X-Multi: 2");
	w_resp_free(&r);
	r = w_request(s.port, "GET", "/raw", NULL, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "<p>raw</p>");
	w_header_is(&r, "Content-Type", "text/html; charset=utf-8");
	w_resp_free(&r);
	stop(&s);
	w_server_free(&s);
}

Test(serve, login_required_is_401_and_model_routes_answer_json)
{
	w_server s;
	serve(&s, NULL);
	w_resp r = w_request(s.port, "GET", "/private", NULL, NULL);
	cr_assert_eq(r.status, 401);
	w_header_is(&r, "WWW-Authenticate", "Token");
	w_lacks(r.body, "Hello");
	w_resp_free(&r);
	r = w_request(s.port, "GET", "/notes/1", NULL, NULL);
	cr_assert_eq(r.status, 404);
	w_header_is(&r, "Content-Type", "application/json");
	cr_assert_str_eq(r.body, "{\"error\":\"web.Note matching pk=1 does not exist\"}");
	w_resp_free(&r);
	/* a model route needs a token for every method `anonymous` does not list */
	r = w_request(s.port, "DELETE", "/notes/1", NULL, NULL);
	cr_assert_eq(r.status, 401);
	w_header_is(&r, "WWW-Authenticate", "Token");
	w_resp_free(&r);
	r = w_request(s.port, "POST", "/notes/1", NULL, "{}");
	cr_assert_eq(r.status, 405);
	w_header_is(&r, "Allow", "GET, HEAD, DELETE");
	w_resp_free(&r);
	stop(&s);
	w_server_free(&s);
}

Test(serve, keep_alive_serves_several_requests_on_one_connection)
{
	w_server s;
	serve(&s, NULL);
	int fd = w_connect(s.port);
	const char *first = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
	cr_assert(w_send(fd, first, strlen(first)));
	w_resp r = w_read(fd, false);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "Hello, world!\n");
	w_resp_free(&r);
	const char *second = "GET /items/3/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	cr_assert(w_send(fd, second, strlen(second)));
	r = w_read(fd, false);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "{\"id\":3,\"slug\":\"x\"}");
	w_resp_free(&r);
	close(fd);
	stop(&s);
	w_server_free(&s);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

Test(serve, a_slow_client_is_timed_out_and_others_are_served)
{
	w_server s;
	serve(&s, "request_timeout: 1\n");
	int slow = w_connect(s.port);
	const char *partial = "GET /hello HTTP/1.1\r\nHo";
	cr_assert(w_send(slow, partial, strlen(partial)));
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	w_resp other = w_request(s.port, "GET", "/hello", NULL, NULL);
	cr_assert_eq(other.status, 200, "served while a client stalls");
	w_resp_free(&other);
	char buf[256];
	ssize_t n = recv(slow, buf, sizeof buf, 0);   /* EOF (or reset) when the server drops it */
	double waited = seconds_since(&t0);
	cr_assert_leq(n, 0, "the server answered a half request");
	cr_assert_lt(waited, 5.0, "timed out after %.1f s", waited);
	close(slow);
	w_resp r = w_request(s.port, "GET", "/hello", NULL, NULL);
	cr_assert_eq(r.status, 200);
	w_resp_free(&r);
	stop(&s);
	w_server_free(&s);
}

/* Sends GET /slow and reads its response on another thread. */
typedef struct slow_call {
	unsigned port;
	w_resp resp;
} slow_call;

static void *call_slow(void *arg)
{
	slow_call *c = arg;
	c->resp = w_request(c->port, "GET", "/slow", NULL, NULL);
	return NULL;
}

Test(serve, sigterm_finishes_requests_in_flight_then_tears_plugins_down)
{
	w_server s;
	serve(&s, NULL);
	slow_call call = { s.port, { 0 } };
	pthread_t thread;
	cr_assert_eq(pthread_create(&thread, NULL, call_slow, &call), 0);
	json_t *log = w_audit("request_started", 1);   /* the slow view is running */
	json_decref(log);
	w_stop(&s);
	pthread_join(thread, NULL);
	cr_assert_eq(call.resp.status, 200, "the request in flight was cut: %s", call.resp.head);
	cr_assert_str_eq(call.resp.body, "slow done\n");
	w_header_is(&call.resp, "Connection", "close");
	w_resp_free(&call.resp);
	cr_assert_eq(s.status, 0, "%s", s.err);
	const char *served = strstr(s.err, "\"GET /slow HTTP/1.1\" 200");
	const char *torn = strstr(s.err, "t_web teardown");
	cr_assert(served != NULL && torn != NULL && served < torn, "%s", s.err);
	w_has(s.err, "SIGTERM: shutting down");
	log = w_audit("request_finished", 1);
	char *names = w_audit_names(log);
	cr_assert_str_eq(names, "request_started,request_finished");
	free(names);
	json_decref(log);
	w_server_free(&s);
}

Test(serve, bad_routes_or_views_keep_the_server_from_starting)
{
	w_app("web",
		"routes:\n"
		"  - {path: /a, metods: [GET], view: hello}\n"
		"  - {path: /b, view: missing}\n");
	w_project("web", NULL);
	w_server s;
	w_start_fails(&s, NULL);
	cr_assert_eq(s.status, 1, "%s", s.err);
	w_has(s.err, "plugins/web.yaml:4:16: unknown key 'metods' in route (did you mean "
		"'methods'?)");
	w_has(s.err, "plugins/web.yaml:5:22: view 'missing' not found in ");
	w_has(s.err, "sighost serve: 2 problems found");
	w_lacks(s.out, "Starting development server");
	w_server_free(&s);
}

Test(serve, bad_server_settings_are_reported)
{
	w_app("web", NULL);
	w_project("web", "threads: 0\nlisten: 'localhost:http'\nrequest_timeout: 99999\n");
	w_server s;
	const char *args[] = { "--listen", "127.0.0.1:0", NULL };
	w_start_fails(&s, args);
	cr_assert_eq(s.status, 1, "%s", s.err);
	w_has(s.err, "project.yaml:6:10: 'threads' must be from 1 to 256, not 0");
	w_has(s.err, "project.yaml:8:18: 'request_timeout' must be from 1 to 3600, not 99999");
	w_has(s.err, "sighost serve: 2 problems found");   /* --listen replaced the bad listen */
	w_server_free(&s);
	w_project("web", "listen: 'localhost:http'\n");
	w_start_fails(&s, NULL);
	cr_assert_eq(s.status, 1);
	w_has(s.err, "project.yaml:6:9: bad listen address 'localhost:http': the port must be a "
		"number from 0 to 65535");
	w_server_free(&s);
}

Test(serve, a_bad_listen_address_or_a_taken_port_is_reported)
{
	w_app("web", NULL);
	w_project("web", NULL);
	w_server s;
	const char *bad[] = { "--listen", "127.0.0.1:99999", NULL };
	w_start_fails(&s, bad);
	cr_assert_eq(s.status, 1);
	w_has(s.err, "bad listen address '127.0.0.1:99999': the port must be a number from 0 to "
		"65535");
	w_server_free(&s);
	w_server first;
	w_start(&first, NULL);
	char taken[64];
	snprintf(taken, sizeof taken, "127.0.0.1:%u", first.port);
	const char *again[] = { "--listen", taken, NULL };
	w_start_fails(&s, again);
	cr_assert_eq(s.status, 1);
	char expected[128];
	snprintf(expected, sizeof expected, "cannot listen on 127.0.0.1:%u: Address already in use",
		first.port);
	w_has(s.err, expected);
	w_server_free(&s);
	stop(&first);
	w_server_free(&first);
}

/* The web app with a Note model and routes that save notes; `extra`
 * configures atomic_requests. */
static void serve_notes(w_server *s, const char *extra)
{
	w_app("web",
		"models:\n"
		"  Note:\n"
		"    fields:\n"
		"      title: {type: text, max_length: 100}\n"
		"routes:\n"
		"  - {path: /notes, methods: [POST], view: note_create}\n"
		"  - {path: /notes/atomic, methods: [POST], view: note_create, atomic: true}\n"
		"  - {path: /notes/free, methods: [POST], view: note_create, atomic: false}\n"
		"  - {path: /notes/count, view: note_count}\n");
	w_project("web", extra);
	w_start(s, NULL);
}

static void post_expect(unsigned port, const char *path, int status)
{
	w_resp r = w_request(port, "POST", path, NULL, "");
	cr_assert_eq(r.status, status, "POST %s gave %d: %s", path, r.status, r.body);
	w_resp_free(&r);
}

static void count_is(unsigned port, const char *count)
{
	w_resp r = w_request(port, "GET", "/notes/count", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(r.body, count);
	w_resp_free(&r);
}

Test(serve, atomic_requests_roll_back_what_a_failing_view_wrote)
{
	w_server s;
	serve_notes(&s, "atomic_requests: true\n");
	post_expect(s.port, "/notes?title=kept", 201);
	count_is(s.port, "1");
	post_expect(s.port, "/notes?title=lost&fail=1", 500);
	count_is(s.port, "1");                                /* rolled back */
	post_expect(s.port, "/notes/free?title=stays&fail=1", 500);
	count_is(s.port, "2");                                /* the route opted out */
	stop(&s);
	w_has(s.err, "failing after the save, as asked");
	w_server_free(&s);
}

Test(serve, without_atomic_requests_a_failing_view_keeps_its_writes_unless_the_route_says)
{
	w_server s;
	serve_notes(&s, NULL);
	post_expect(s.port, "/notes?fail=1", 500);
	count_is(s.port, "1");                                /* autocommit, as Django's default */
	post_expect(s.port, "/notes/atomic?fail=1", 500);
	count_is(s.port, "1");                                /* the route is atomic */
	post_expect(s.port, "/notes/atomic", 201);
	count_is(s.port, "2");
	/* request_finished comes once the response is out, so requests that
	 * follow each other may interleave in the log: count */
	json_t *log = w_audit("request_finished", 6);
	size_t started = 0, exceptions = 0, finished = 0;
	for (size_t i = 0; i < json_array_size(log); i++) {
		const char *name = json_string_value(json_object_get(json_array_get(log, i), "signal"));
		started += strcmp(name, "request_started") == 0;
		exceptions += strcmp(name, "got_request_exception") == 0;
		finished += strcmp(name, "request_finished") == 0;
	}
	cr_assert_eq(started, 6);
	cr_assert_eq(exceptions, 2);
	cr_assert_eq(finished, 6);
	json_decref(log);
	stop(&s);
	w_server_free(&s);
}
