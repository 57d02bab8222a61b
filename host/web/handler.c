/*
 * handler.c: one HTTP request, from libmicrohttpd's callbacks to the view
 * and back (Django's BaseHandler). libmicrohttpd calls, on one worker
 * thread per connection:
 *
 *   sh_web__on_uri        the request line is in: the request object is made
 *   sh_web__on_access     headers in: the request is filled; a body announced
 *                     larger than max_body_size is answered 413 at once
 *                     (libmicrohttpd then closes the connection)
 *   sh_web__on_access     with each piece of the body: accumulated
 *   sh_web__on_access     body complete: request_started, routing, the view,
 *                     got_request_exception on failure, the response
 *   (suspended)       with group commit, when the view's commits are not
 *                     durable yet: the database's sync thread resumes it
 *   sh_web__on_access     once more: the answer leaves (sh_web__durable_answer)
 *   sh_web__on_completed  the response was sent or the connection ended:
 *                     request_finished, the request is freed
 *
 * Answers the host makes itself (404, 405, 500...) carry fixed bodies that
 * say nothing of the error; the error goes to the log. A failure whose
 * code is SH_EUNAVAILABLE (the database is full, read-only, locked by
 * another process...) is answered 503 with Retry-After instead of 500:
 * the request was fine and may succeed once the fault clears.
 */
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "handler.h"

#define SH__HTML "text/html; charset=utf-8"
/* Seconds a client is asked to wait after a 503: about the default busy
 * timeout, a hint rather than a promise. */
#define SH__RETRY_AFTER "5"

void *sh_web__on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
	sh_server *s = cls;
	sh_request *r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->server = s;
	r->connection = connection;
	r->raw_uri = strdup(uri != NULL ? uri : "");
	/* Too many parameters: counted here, in the request line, because
	 * libmicrohttpd stores each one right after this callback, in the
	 * connection's 32 KiB, and a request that fills it gets no answer.
	 * Past the bound its query is cut in libmicrohttpd's buffer (it has
	 * not parsed it yet: it calls this "before we modify URI or args"), so
	 * nothing is stored, and the request is answered 400. */
	const char *q = uri != NULL ? strchr(uri, '?') : NULL;
	if (q != NULL && q[1] != '\0') {
		size_t params = 1;
		for (const char *c = q + 1; *c != '\0'; c++)
			params += *c == '&' || *c == ';';
		r->query_params_sent = params;
		if (params > SH_MAX_QUERY_PARAMS) {
			/* cppcheck-suppress unreadVariable ; libmicrohttpd reads it next, as its arguments */
			((char *)q)[1] = '\0';   /* NOLINT: libmicrohttpd's own, writable line buffer */
		}
	}
	r->response.request = r;
	r->response.status = 200;
	atomic_fetch_add(&s->in_flight, 1);
	return r;
}

/* ---- filling the request ---------------------------------------------- */

typedef struct sh__collect {
	sh_header *items;
	size_t count;
	size_t capacity;
} sh__collect;

static enum MHD_Result sh_web__collect_one(void *cls, enum MHD_ValueKind kind, const char *key,
	const char *value)
{
	(void)kind;
	sh__collect *c = cls;
	if (c->count < c->capacity)
		c->items[c->count++] = (sh_header){ key != NULL ? key : "", value != NULL ? value : "" };
	return MHD_YES;
}

static int sh_web__collect_all(struct MHD_Connection *connection, enum MHD_ValueKind kind,
	sh_header **out, size_t *count)
{
	int n = MHD_get_connection_values(connection, kind, NULL, NULL);
	*out = NULL;
	*count = 0;
	if (n <= 0)
		return 0;
	sh__collect c = { calloc((size_t)n, sizeof(sh_header)), 0, (size_t)n };
	if (c.items == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	MHD_get_connection_values(connection, kind, sh_web__collect_one, &c);
	*out = c.items;
	*count = c.count;
	return 0;
}

static void sh_web__remote_addr(sh_request *r)
{
	snprintf(r->remote_addr, sizeof r->remote_addr, "unknown");
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(r->connection,
		MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (info == NULL || info->client_addr == NULL)
		return;
	const struct sockaddr *addr = info->client_addr;
	socklen_t len = addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		: sizeof(struct sockaddr_in);
	getnameinfo(addr, len, r->remote_addr, sizeof r->remote_addr, NULL, 0, NI_NUMERICHOST);
}

static int sh_web__request_fill(sh_request *r, const char *url, const char *method,
	const char *version)
{
	r->method = method;
	r->path = url;
	r->version = version;
	const char *q = r->raw_uri != NULL ? strchr(r->raw_uri, '?') : NULL;
	r->query_string = q != NULL ? q + 1 : "";
	sh_web__remote_addr(r);
	int rc = sh_web__collect_all(r->connection, MHD_HEADER_KIND, &r->headers, &r->header_count);
	if (rc == 0)
		rc = sh_web__collect_all(r->connection, MHD_GET_ARGUMENT_KIND, &r->query, &r->query_count);
	return rc;
}

/* ---- answering -------------------------------------------------------- */

void sh_web__request_line(char *buf, size_t size, const sh_request *r)
{
	snprintf(buf, size, "%s %s %s", r->method ? r->method : "-",
		r->raw_uri ? r->raw_uri : "-", r->version ? r->version : "-");
	for (char *c = buf; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '"')
			*c = '?';
}

/* Sends the request's response; takes its body. */
enum MHD_Result sh_web__handler_queue(sh_request *r)
{
	sh_server *s = r->server;
	sh_http_response *resp = &r->response;
	size_t length = resp->body.len;
	struct MHD_Response *m;
	bool streamed = resp->stream.next != NULL;
	if (streamed) {
		m = sh_web__stream_response(r);
	} else if (length > 0) {
		m = MHD_create_response_from_buffer(length, resp->body.data, MHD_RESPMEM_MUST_FREE);
		if (m != NULL)
			resp->body = (sh__wbuf){ 0 };   /* libmicrohttpd frees it */
	} else {
		m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (m == NULL) {
		sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server", "cannot create a response: out of memory");
		return MHD_NO;
	}
	bool typed = false;
	for (size_t i = 0; i < resp->header_count; i++) {
		typed = typed || strcasecmp(resp->headers[i].name, "Content-Type") == 0;
		MHD_add_response_header(m, resp->headers[i].name, resp->headers[i].value);
	}
	if (!typed)
		MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, SH__HTML);
	/* libmicrohttpd 0.9.75 sends the last chunk ("0\r\n\r\n") after the head
	 * of a chunked answer to HEAD: the connection is closed after it, so
	 * those bytes cannot be read as the start of a next response */
	bool head_of_stream = streamed && r->method != NULL && strcmp(r->method, "HEAD") == 0;
	if (atomic_load(&s->stopping) || head_of_stream)
		MHD_add_response_header(m, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result result = MHD_queue_response(r->connection, (unsigned)resp->status, m);
	MHD_destroy_response(m);
	r->answered = true;
	if (!s->config.access_log || streamed)   /* a stream's line comes at its end */
		return result;
	char line[512];
	sh_web__request_line(line, sizeof line, r);
	sh_hub_log(s->hub, SH_LOG_INFO, "sighost.server", "\"%s\" %d %zu", line, resp->status,
		length);
	return result;
}

#define SH__STR_(x) #x
#define SH__STR(x) SH__STR_(x)

/* The bodies of the answers the host makes itself (its only 400: too many
 * query parameters). */
static const char *sh_web__status_body(int status)
{
	switch (status) {
	case 400: return "<h1>Bad Request (400)</h1><p>Too many query parameters: at most "
		SH__STR(SH_MAX_QUERY_PARAMS) ".</p>";
	case 401: return "<h1>Unauthorized (401)</h1>";
	case 404: return "<h1>Not Found</h1><p>The requested resource was not found on this server.</p>";
	case 405: return "<h1>Method Not Allowed (405)</h1>";
	case 413: return "<h1>Request Entity Too Large (413)</h1>";
	case 501: return "<h1>Not Implemented (501)</h1>";
	case 503: return "<h1>Service Unavailable (503)</h1><p>Please try again later.</p>";
	default: return "<h1>Server Error (500)</h1>";
	}
}

/* Django's quote(request.path): every byte but letters, digits, "_.-~"
 * and "/" as %XX, so a path cannot inject markup into the page. */
static int sh_web__quote_path(sh__wbuf *out, const char *path)
{
	int rc = 0;
	for (const unsigned char *c = (const unsigned char *)path; *c != '\0' && rc == 0; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')
			|| strchr("_.-~/", *c) != NULL)
			rc = sh_web__wbuf_add(out, c, 1);
		else
			rc = sh_web__wbuf_printf(out, "%%%02X", *c);
	}
	return rc == 0 ? sh_web__wbuf_finish(out) : rc;
}

/*
 * Django's page_not_found and server_error: renders the project's
 * 404.html (with request_path and exception) or 500.html (with an empty
 * context) into the response, sending template_rendered. Returns false
 * when the project has no such template (or it cannot be rendered, which
 * is logged): the built-in page is answered then.
 */
static bool sh_web__error_page(sh_request *r, int status, const char *exception)
{
	sh_server *s = r->server;
	const char *name = status == 404 ? "404.html" : "500.html";
	const sh_template *t;
	int rc = sh_templates_get(&t, s->templates, NULL, name);
	if (rc == SH_ENOTFOUND)
		return false;
	json_t *context = NULL;
	sh__wbuf quoted = { 0 };
	if (rc == 0 && status == 404) {
		rc = sh_web__quote_path(&quoted, r->path != NULL ? r->path : "");
		context = rc == 0 ? json_pack("{s:s, s:s}", "request_path", quoted.data,
			"exception", exception) : NULL;
	} else if (rc == 0) {
		context = json_object();
	}
	if (rc == 0 && context == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	char *text = NULL;
	size_t length = 0;
	if (rc == 0)
		rc = sh_template_render(&text, &length, t, context);
	json_decref(context);
	sh_web__wbuf_dispose(&quoted);
	if (rc < 0) {
		sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server", "cannot render the project's %s "
			"(the built-in page is answered): %s", name, sh_error_last()->message);
		return false;
	}
	sh_web__wbuf_dispose(&r->response.body);
	r->response.body = (sh__wbuf){ text, length, length + 1 };
	return true;
}

/* The JSON bodies of the host's answers on a model route (the JSON API). */
static const char *sh_web__status_json(const sh_request *r, int status)
{
	switch (status) {
	case 400: return "{\"error\":\"too many query parameters: at most "
		SH__STR(SH_MAX_QUERY_PARAMS) "\"}";
	case 401:
		return sh_request_header(r, "Authorization") != NULL
			? "{\"error\":\"invalid token\"}"
			: "{\"error\":\"authentication credentials were not provided\"}";
	case 501: return "{\"error\":\"not implemented\"}";
	case 503: return "{\"error\":\"service unavailable, try again later\"}";
	default: return "{\"error\":\"server error\"}";
	}
}

/* Makes one of the host's own responses, not yet queued; for a 404 or a
 * 500 on a route that is not a model's, with the project's 404.html or
 * 500.html when `page` (`exception` is 404.html's context). */
static void sh_web__answer_make(sh_request *r, int status, bool page, const char *exception)
{
	sh_http_response *resp = &r->response;
	sh_web__response_reset(resp);
	resp->status = status;
	bool json = r->match.route != NULL && r->match.route->model != NULL;
	const char *body = json ? sh_web__status_json(r, status) : sh_web__status_body(status);
	if (json || !page || (status != 404 && status != 500) || !sh_web__error_page(r, status, exception))
		if (sh_web__wbuf_puts(&resp->body, body) < 0)
			sh_web__wbuf_dispose(&resp->body);   /* an empty body then */
	if (json)
		sh_http_response_set_header(resp, "Content-Type", "application/json");
	if (status == 405) {
		char allow[128];
		sh_web__methods_text(allow, sizeof allow, r->match.allow);
		sh_http_response_set_header(resp, "Allow", allow);
	} else if (status == 401) {
		sh_http_response_set_header(resp, "WWW-Authenticate", "Token");
	} else if (status == 503) {
		sh_http_response_set_header(resp, "Retry-After", SH__RETRY_AFTER);
	}
}

/* Answers with one of the host's own responses, the project's 404.html or
 * 500.html when `page` (see sh_web__answer_make). */
static enum MHD_Result sh_web__answer_as(sh_request *r, int status, bool page, const char *exception)
{
	sh_web__answer_make(r, status, page, exception);
	return sh_web__handler_queue(r);
}

/* Answers with one of the host's own responses, always the built-in page. */
enum MHD_Result sh_web__handler_answer(sh_request *r, int status)
{
	return sh_web__answer_as(r, status, false, NULL);
}

/* The status of the host's answer to a request that failed with `rc`. */
static int sh_web__failure_status(int rc)
{
	return rc == SH_EUNAVAILABLE ? 503 : 500;
}

/* Whether the route runs in one transaction: its own `atomic`, else the
 * project's atomic_requests. */
static bool sh_web__atomic(const sh_server *s, const sh_route *route)
{
	return route->atomic >= 0 ? route->atomic == 1 : s->config.atomic_requests;
}

/* Calls the view, inside a transaction of the thread's connection when the
 * route is atomic (Django's ATOMIC_REQUESTS): a failing view's writes are
 * rolled back, a successful one's committed before the response is sent.
 * Returns the view's status, or the failure to open or commit the block;
 * `message` gets the failure's text. */
static int sh_web__call_view(sh_request *r, const sh_route *route, char *message, size_t size)
{
	sh_conn *db = NULL;
	bool atomic = sh_web__atomic(r->server, route);
	sh_error_clear();
	int rc = atomic ? sh_app_conn(&db, route->app) : 0;
	if (rc == 0 && atomic)
		rc = sh_atomic_begin(db);
	if (rc < 0) {
		snprintf(message, size, "cannot open the request's transaction: %s",
			sh_error_last()->message);
		return rc;
	}
	rc = route->fn(r, &r->response, sh_app_data(route->app));
	if (rc < 0) {
		const char *said = sh_error_last()->code != 0 ? sh_error_last()->message : "";
		snprintf(message, size, "%s", said[0] != '\0' || rc == SH_EHTTP404 ? said
			: "(the view gave no reason)");
	}
	if (atomic) {
		int end = sh_atomic_end(db, rc < 0 ? rc : 0);
		if (rc >= 0 && end < 0) {
			snprintf(message, size, "cannot commit the request's transaction: %s",
				sh_error_last()->message);
			rc = end;
		}
	}
	return rc;
}

/* settings.debug of the project (read at each failure, so a live change
 * of the manifest takes effect at once). */
static bool sh_web__debug(const sh_server *s)
{
	return sh_value_path_bool(sh_project_settings(s->project), "debug", false);
}

/* Django's technical 500 page, when settings.debug is true: the host's
 * answer plus what failed, where and why (the log line's text), as text,
 * or as a "debug" object beside "error" for the JSON API. */
static enum MHD_Result sh_web__answer_debug(sh_request *r, int status, const char *what)
{
	sh_web__answer_make(r, status, false, NULL);
	sh_http_response *resp = &r->response;
	if (r->match.route != NULL && r->match.route->model != NULL) {
		json_t *body = json_pack("{s:s, s:s}", "error", "server error", "debug", what);
		char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
		if (text != NULL) {
			sh_web__wbuf_dispose(&resp->body);
			if (sh_web__wbuf_puts(&resp->body, text) < 0)
				sh_web__wbuf_dispose(&resp->body);
		}
		free(text);
		json_decref(body);
	} else {
		/* the message may hold anything a client sent: escaped, as HTML */
		bool failed = sh_web__wbuf_puts(&resp->body, "\n<pre>") < 0;
		for (const char *p = what; !failed && *p != '\0'; p++) {
			char one[2] = { *p, '\0' };
			const char *text = *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '&' ? "&amp;"
				: *p == '"' ? "&quot;" : one;
			failed = sh_web__wbuf_puts(&resp->body, text) < 0;
		}
		if (failed || sh_web__wbuf_puts(&resp->body, "</pre>\n<p>settings.debug is true, so this "
				"page says what failed; set it to false in production.</p>\n") < 0)
			sh_web__wbuf_dispose(&resp->body);
	}
	return sh_web__handler_queue(r);
}

/* Answers the view's outcome: its response, or on failure logs, sends
 * got_request_exception and answers 500 (503 when the database is
 * unavailable), with the failure's details when settings.debug is true. */
static enum MHD_Result sh_web__view_answer(sh_request *r, const sh_route *route, int rc,
	const char *message)
{
	sh_server *s = r->server;
	if (rc >= 0)
		return sh_web__handler_queue(r);
	if (rc == SH_EHTTP404)   /* Django's Http404: page_not_found, no exception signal */
		return sh_web__answer_as(r, 404, true, message[0] != '\0' ? message : "Http404");
	char line[512];
	sh_web__request_line(line, sizeof line, r);
	char what[2048];
	if (route->view != NULL)
		snprintf(what, sizeof what, "view %s.%s failed on \"%s\": %s: %s",
			sh_app_label(route->app), route->view, line, sh_error_name(rc), message);
	else
		snprintf(what, sizeof what, "the JSON API of %s failed on \"%s\": %s: %s",
			route->model, line, sh_error_name(rc), message);
	sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server", "%s", what);
	sh_got_request_exception_args args = { r, rc, message };
	sh_signal_send_robust(s->got_request_exception, NULL, &args, NULL);
	if (sh_web__debug(s))
		return sh_web__answer_debug(r, sh_web__failure_status(rc), what);
	return sh_web__answer_as(r, sh_web__failure_status(rc), true, NULL);
}

/* sh_durable_notify's wake, on the database's sync thread: the view's
 * commits are durable (or failed); libmicrohttpd calls the access handler
 * again, which answers (sh_web__durable_answer). */
static void sh_web__durable_wake(void *payload)
{
	sh_request *r = payload;
	MHD_resume_connection(r->connection);
}

/* Runs the view. With group commit its commits do not wait for the disk
 * (sh_database_defer_begin): when one is not durable yet, the connection
 * is suspended and its thread serves others until the sync thread wakes
 * it; the answer, whatever it is, leaves only after that. */
static enum MHD_Result sh_web__run_view(sh_request *r, const sh_route *route)
{
	char message[1024] = "";
	sh_database *database = sh_project_database(r->server->project);
	sh_database_defer_begin(database);
	int rc = sh_web__call_view(r, route, message, sizeof message);
	sh_durable *durable = NULL;
	int end = sh_database_defer_end(database, &durable);
	if (end == 1) {
		r->durable = durable;
		r->view_rc = rc;
		r->view_failure = rc < 0 ? strdup(message) : NULL;
		MHD_suspend_connection(r->connection);   /* before the wake can come */
		sh_durable_notify(durable, sh_web__durable_wake, r);
		return MHD_YES;
	}
	if (end < 0 && rc >= 0) {
		rc = end;
		snprintf(message, sizeof message, "%s", sh_error_last()->message);
	}
	return sh_web__view_answer(r, route, rc, message);
}

/* The access handler's call after the sync thread resumed a suspended
 * request: runs the on_commit callbacks its commits held, then answers. */
static enum MHD_Result sh_web__durable_answer(sh_request *r)
{
	sh_durable *durable = r->durable;
	r->durable = NULL;
	int rc = r->view_rc;
	const char *message = r->view_failure != NULL ? r->view_failure : "";
	char failure[1024];
	int end = sh_durable_finish(durable);
	if (end < 0 && rc >= 0) {
		rc = end;
		snprintf(failure, sizeof failure, "%s", sh_error_last()->message);
		message = failure;
	}
	return sh_web__view_answer(r, r->match.route, rc, message);
}

/* The whole request is in: Django's get_response. */
static enum MHD_Result sh_web__dispatch(sh_request *r)
{
	sh_server *s = r->server;
	sh_environ env = { r->method, r->path, r->query_string, r->remote_addr,
		r->headers, r->header_count };
	sh_request_started_args started = { &env };
	if (s->dash != NULL && sh_web__dash_claims(s->dash, r->path))
		return sh_web__dash_answer(r);   /* the host's own pages: no signal */
	r->started = true;
	int rc = sh_signal_send(s->request_started, s->handler, &started, NULL);
	if (rc < 0) {
		sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server",
			"a request_started receiver failed: %s", sh_error_last()->message);
		return sh_web__handler_answer(r, sh_web__failure_status(rc));
	}
	if (r->too_large)
		return sh_web__handler_answer(r, 413);
	if (r->query_params_sent > SH_MAX_QUERY_PARAMS) {
		(void)sh_web__router_match(&r->match, s->router, r->method, r->path);   /* JSON or not */
		return sh_web__handler_answer(r, 400);
	}
	if (r->failed)
		return sh_web__handler_answer(r, 500);
	rc = sh_web__router_match(&r->match, s->router, r->method, r->path);
	if (rc == SH_ENOTFOUND)   /* the resolver's Http404 (Resolver404) */
		return sh_web__answer_as(r, 404, true, "Resolver404");
	if (rc == SH_EPERM)
		return sh_web__handler_answer(r, 405);
	if (rc < 0)
		return sh_web__handler_answer(r, 500);
	const sh_route *route = r->match.route;
	r->app = route->app;
	/* A database file deleted, moved or replaced under the server: every
	 * write would be lost (or land in a new empty file), tokens would not
	 * be found. Refused before anything reads or writes. */
	rc = sh_database_check_file(sh_project_database(s->project));
	if (rc < 0) {
		sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server", "refusing \"%s %s\": %s",
			r->method, r->path, sh_error_last()->message);
		return sh_web__handler_answer(r, sh_web__failure_status(rc));
	}
	/* DRF's order: a bad token is refused whatever the route needs */
	rc = sh_web__request_authenticate(r);
	if (rc < 0) {
		sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server", "cannot check the API token: %s",
			sh_error_last()->message);
		return sh_web__handler_answer(r, sh_web__failure_status(rc));
	}
	if (rc > 0 || (sh_request_user(r) == NULL && !sh_route_open_to_anonymous(route, r->method)))
		return sh_web__handler_answer(r, 401);
	if (route->fn == NULL)
		return sh_web__handler_answer(r, 501);   /* not resolved: sh_server_new refuses that */
	return sh_web__run_view(r, route);
}

enum MHD_Result sh_web__on_access(void *cls, struct MHD_Connection *connection, const char *url,
	const char *method, const char *version, const char *upload_data,
	size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)connection;
	sh_request *r = *con_cls;
	if (r != NULL && r->durable != NULL)
		return sh_web__durable_answer(r);   /* resumed: its commits are durable */
	if (r == NULL || r->answered)
		return r == NULL ? MHD_NO : MHD_YES;
	if (!r->begun) {
		r->begun = true;
		r->failed = sh_web__request_fill(r, url, method, version) < 0;
		const char *declared = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND,
			MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (declared != NULL && strtoull(declared, NULL, 10) > r->server->config.max_body_size) {
			r->too_large = true;
			return sh_web__dispatch(r);   /* 413 before the body is read */
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->too_large || r->failed)
			return MHD_YES;
		if (r->body.len + n > r->server->config.max_body_size) {
			r->too_large = true;   /* a chunked body past the limit */
			sh_web__wbuf_dispose(&r->body);
		} else if (sh_web__wbuf_add(&r->body, upload_data, n) < 0) {
			r->failed = true;
			sh_web__wbuf_dispose(&r->body);
		}
		return MHD_YES;
	}
	return sh_web__dispatch(r);
}

void sh_web__on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
	enum MHD_RequestTerminationCode toe)
{
	(void)connection;
	sh_server *s = cls;
	sh_request *r = *con_cls;
	if (r == NULL)
		return;
	*con_cls = NULL;
	/* closed while suspended (the server stopping): the wait is cancelled
	 * and finished here, its callbacks run once the commits are durable */
	if (r->durable != NULL && sh_durable_finish(r->durable) < 0)
		sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server", "%s", sh_error_last()->message);
	r->durable = NULL;
	if (r->stream != NULL)
		sh_web__stream_log(r, toe);
	sh_web__stream_close(r);   /* the closers first, then request_finished, as Django's close() */
	if (r->started && sh_signal_send(s->request_finished, s->handler, NULL, NULL) < 0)
		sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server",
			"a request_finished receiver failed: %s", sh_error_last()->message);
	/* A connection that found the database read-only stays so: let the
	 * thread's next request open a new one (Django closes unusable
	 * connections at request_finished too). */
	if (sh_database_close_unusable(sh_project_database(s->project)) == 1)
		sh_hub_log(s->hub, SH_LOG_INFO, "sighost.server", "closed this thread's database "
			"connection, which cannot write; the next request opens a new one");
	sh_web__request_free(r);
	atomic_fetch_sub(&s->in_flight, 1);
}
