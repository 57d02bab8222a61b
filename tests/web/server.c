/*
 * server.c: the server API in process (sh_server_*): options and misuse,
 * many clients at once on the worker threads (every request signalled
 * exactly once), a failing request_started receiver, receivers of
 * template_rendered for one template, and the exact sequence of what a
 * streamed response and a view's not-found send, heard in process.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sighost/sys/sighost.h>

#include "../support/web.h"

TestSuite(server, .init = w_setup, .fini = w_cleanup, .timeout = 120);

static const char *const routes =
	"routes:\n"
	"  - {path: /hello, view: hello}\n"
	"  - {path: '/items/<int:id>/<slug:slug>', view: item}\n"
	"  - {path: /render, view: render}\n"
	"  - {path: /stream, view: stream}\n"
	"  - {path: /missing, view: raise_404}\n";

/* A loaded project with audit and `web` (t_web). */
static sh_project *loaded(const char *extra)
{
	w_app("web", routes);
	w_template("web", "page.html", "{{ name }}");
	w_project("web", extra);
	char *path = t_path(w_dir, "project.yaml");
	sh_project *p;
	cr_assert_eq(sh_project_new(&p), 0);
	cr_assert_eq(sh_project_read(p, path), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_project_load(p), 0, "%s", sh_error_last()->message);
	free(path);
	return p;
}

static sh_server *started(sh_project *p, unsigned threads)
{
	sh_server_opts opts = SH_SERVER_OPTS_INIT;
	opts.listen = "127.0.0.1:0";
	opts.threads = threads;
	sh_server *s = NULL;
	cr_assert_eq(sh_server_new(&s, p, &opts), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_server_start(s), 0, "%s", sh_error_last()->message);
	return s;
}

Test(server, options_and_misuse_are_refused_with_reasons)
{
	sh_project *p = loaded("threads: 2\n");
	sh_server *s = (sh_server *)1;
	cr_assert_eq(sh_server_new(&s, NULL, NULL), SH_EINVAL);
	cr_assert_null(s);
	sh_server_opts opts = SH_SERVER_OPTS_INIT;
	opts.version = 99;
	cr_assert_eq(sh_server_new(&s, p, &opts), SH_EINVAL);
	cr_assert_null(s);
	opts = (sh_server_opts)SH_SERVER_OPTS_INIT;
	opts.listen = "[::1:80";
	opts.threads = 300;
	cr_assert_eq(sh_server_new(&s, p, &opts), SH_EINVAL);
	cr_assert_not_null(s);
	cr_assert_eq(sh_server_problem_count(s), 2);
	cr_assert_str_eq(sh_server_problem(s, 0)->text, "threads must be from 1 to 256, not 300");
	cr_assert_str_eq(sh_server_problem(s, 1)->text,
		"bad listen address '[::1:80': write an IPv6 address as [ADDRESS]:PORT");
	cr_assert_null(sh_server_problem(s, 2));
	cr_assert_eq(sh_server_start(s), SH_EINVAL, "a server with problems does not start");
	sh_server_free(s);

	s = started(p, 0);
	cr_assert_str_eq(sh_server_host(s), "127.0.0.1");
	cr_assert_gt(sh_server_port(s), 0u);
	cr_assert_eq(sh_router_route_count(sh_server_router(s)), 5);
	cr_assert_eq(sh_server_start(s), SH_EINVAL, "started twice");
	w_resp r = w_request(sh_server_port(s), "GET", "/hello", NULL, NULL);
	cr_assert_eq(r.status, 200);
	w_resp_free(&r);
	sh_server_stop(s);
	sh_server_stop(s);   /* a no-op */
	sh_server_free(s);
	sh_server_free(NULL);
	sh_project_free(p);
}

/* Counts the request signals. Receivers run on the server's threads, so
 * they record what is wrong (`bad`) instead of asserting there. */
typedef struct counts {
	atomic_int started, finished, rendered;
	atomic_bool fail_started;
	atomic_bool bad;
	char context[128];
} counts;

static int on_request(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)response;
	counts *c = payload;
	const char *name = sh_signal_name(signal);
	if (sender == NULL || strcmp(sh_sender_name(sender), SH_HANDLER_SENDER) != 0)
		atomic_store(&c->bad, true);
	if (strcmp(name, "request_started") == 0) {
		const sh_request_started_args *a = args;
		if (a->environ->method == NULL || a->environ->header_count < 1
			|| strcmp(a->environ->remote_addr, "127.0.0.1") != 0)
			atomic_store(&c->bad, true);
		atomic_fetch_add(&c->started, 1);
		if (atomic_load(&c->fail_started))
			return sh_error_set(SH_ERROR, "request_started says no");
	} else {
		if (args != NULL)
			atomic_store(&c->bad, true);
		atomic_fetch_add(&c->finished, 1);
	}
	return 0;
}

static void connect_counts(sh_project *p, counts *c)
{
	sh_hub *hub = sh_project_hub(p);
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(hub, SH_REQUEST_STARTED), on_request, c,
		NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(hub, SH_REQUEST_FINISHED), on_request, c,
		NULL), 0);
}

typedef struct client {
	unsigned port;
	int index;
	int ok;
} client;

static void *run_client(void *arg)
{
	client *c = arg;
	for (int i = 0; i < 25; i++) {
		char path[64], expected[64];
		snprintf(path, sizeof path, "/items/%d/c%d", c->index * 100 + i, c->index);
		snprintf(expected, sizeof expected, "{\"id\":%d,\"slug\":\"c%d\"}", c->index * 100 + i,
			c->index);
		w_resp r = w_request(c->port, "GET", path, NULL, NULL);
		c->ok += r.status == 200 && strcmp(r.body, expected) == 0;
		w_resp_free(&r);
	}
	return NULL;
}

Test(server, many_clients_at_once_are_all_served_and_signalled_once)
{
	sh_project *p = loaded(NULL);
	counts c = { 0 };
	connect_counts(p, &c);
	sh_server *s = started(p, 4);
	client clients[8];
	pthread_t threads[8];
	for (int i = 0; i < 8; i++) {
		clients[i] = (client){ sh_server_port(s), i, 0 };
		cr_assert_eq(pthread_create(&threads[i], NULL, run_client, &clients[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(threads[i], NULL);
		cr_assert_eq(clients[i].ok, 25, "client %d: %d of 25 right", i, clients[i].ok);
	}
	sh_server_free(s);   /* waits for the last request_finished */
	cr_assert_eq(atomic_load(&c.started), 200);
	cr_assert_eq(atomic_load(&c.finished), 200);
	cr_assert_not(atomic_load(&c.bad));
	sh_project_free(p);
}

Test(server, a_failing_request_started_receiver_gives_500_and_still_finishes)
{
	sh_project *p = loaded(NULL);
	counts c = { 0 };
	atomic_store(&c.fail_started, true);
	connect_counts(p, &c);
	sh_server *s = started(p, 1);
	w_resp r = w_request(sh_server_port(s), "GET", "/hello", NULL, NULL);
	cr_assert_eq(r.status, 500);
	cr_assert_str_eq(r.body, "<h1>Server Error (500)</h1>");
	w_resp_free(&r);
	sh_server_free(s);
	cr_assert_eq(atomic_load(&c.started), 1);
	cr_assert_eq(atomic_load(&c.finished), 1);
	sh_project_free(p);
}

static int on_page(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal;
	(void)sender;
	(void)response;
	counts *c = payload;
	const sh_template_rendered_args *a = args;
	if (strcmp(sh_template_name(a->template_), "web/page.html") != 0)
		atomic_store(&c->bad, true);
	const char *name = json_string_value(json_object_get(sh_context_json(a->context), "name"));
	snprintf(c->context, sizeof c->context, "%s", name ? name : "(none)");
	atomic_fetch_add(&c->rendered, 1);
	return 0;
}

Test(server, a_receiver_can_listen_to_one_template)
{
	sh_project *p = loaded(NULL);
	counts c = { 0 };
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	cr_assert_eq(sh_sender_intern(&opts.sender, sh_project_hub(p), "template:web/page.html"), 0);
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(sh_project_hub(p), SH_TEMPLATE_RENDERED),
		on_page, &c, &opts), 0);
	sh_server *s = started(p, 2);
	w_resp r = w_request(sh_server_port(s), "GET", "/render?name=Ada", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(r.body, "Ada");
	w_resp_free(&r);
	sh_server_free(s);
	cr_assert_eq(atomic_load(&c.rendered), 1);
	cr_assert_str_eq(c.context, "Ada");
	cr_assert_not(atomic_load(&c.bad));
	sh_project_free(p);
}

/* What one request did, in order: signals heard and the app's log lines
 * ("request_started", "log: ...", "template_rendered 404.html {...}",
 * "request_finished sighost.handler"), joined with '|'. */
typedef struct sequence {
	pthread_mutex_t lock;
	char text[4096];
} sequence;

static void seq_add(sequence *q, const char *item)
{
	pthread_mutex_lock(&q->lock);
	size_t n = strlen(q->text);
	snprintf(q->text + n, sizeof q->text - n, "%s%s", n > 0 ? "|" : "", item);
	pthread_mutex_unlock(&q->lock);
}

static int seq_signal(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)response;
	char item[512];
	if (strcmp(sh_signal_name(signal), "template_rendered") == 0) {
		const sh_template_rendered_args *a = args;
		char *ctx = json_dumps(sh_context_json(a->context), JSON_COMPACT | JSON_SORT_KEYS);
		snprintf(item, sizeof item, "template_rendered %s %s", sh_template_name(a->template_), ctx);
		free(ctx);
	} else {
		snprintf(item, sizeof item, "%s %s", sh_signal_name(signal),
			sender != NULL ? sh_sender_name(sender) : "(none)");
	}
	seq_add(payload, item);
	return 0;
}

static void seq_log(sh_log_level level, const char *origin, const char *message, void *payload)
{
	(void)level;
	if (strcmp(origin, "web") != 0)
		return;   /* the server's own lines (access log) are not part of the sequence */
	char item[512];
	snprintf(item, sizeof item, "log: %s", message);
	seq_add(payload, item);
}

/* A loaded project whose request signals and app log go to `q`. */
static sh_project *recorded(sequence *q)
{
	sh_project *p = loaded(NULL);
	sh_hub *hub = sh_project_hub(p);
	pthread_mutex_init(&q->lock, NULL);
	q->text[0] = '\0';
	sh_hub_set_logger(hub, seq_log, q);
	static const sh_builtin ids[] = { SH_REQUEST_STARTED, SH_GOT_REQUEST_EXCEPTION,
		SH_TEMPLATE_RENDERED, SH_REQUEST_FINISHED };
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
		cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(hub, ids[i]), seq_signal, q, NULL), 0);
	return p;
}

Test(server, a_streamed_response_closes_its_stream_then_sends_request_finished)
{
	sequence q;
	sh_project *p = recorded(&q);
	sh_server *s = started(p, 1);
	w_resp r = w_request(sh_server_port(s), "GET", "/stream?n=2&size=4", NULL, NULL);
	cr_assert_eq(r.status, 200);
	w_has(r.body, "aaaa");
	w_resp_free(&r);
	sh_server_free(s);   /* waits for the request's end */
	cr_assert_str_eq(q.text, "request_started sighost.handler|"
		"log: stream closed after 2 chunks|"
		"log: request_finished: the stream was closed before|"
		"request_finished sighost.handler",
		"Django's close(): the closers, then request_finished");
	sh_project_free(p);
	pthread_mutex_destroy(&q.lock);
}

Test(server, a_view_raising_not_found_sends_no_exception_and_renders_the_project_404)
{
	char *dir = t_path(w_dir, "templates");
	cr_assert_eq(mkdir(dir, 0755), 0);
	free(t_write(dir, "404.html", "{{ exception }}"));
	free(dir);
	sequence q;
	sh_project *p = recorded(&q);
	sh_server *s = started(p, 1);
	w_resp r = w_request(sh_server_port(s), "GET", "/missing?id=7", NULL, NULL);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body, "No note 7");
	w_resp_free(&r);
	r = w_request(sh_server_port(s), "GET", "/nowhere/%3C", NULL, NULL);
	cr_assert_str_eq(r.body, "Resolver404");
	w_resp_free(&r);
	sh_server_free(s);
	cr_assert_str_eq(q.text, "request_started sighost.handler|"
		"template_rendered 404.html {\"exception\":\"No note 7\",\"request_path\":\"/missing\"}|"
		"request_finished sighost.handler|"
		"request_started sighost.handler|"
		"template_rendered 404.html {\"exception\":\"Resolver404\",\"request_path\":"
		"\"/nowhere/%3C\"}|"
		"request_finished sighost.handler");
	sh_project_free(p);
	pthread_mutex_destroy(&q.lock);
}
