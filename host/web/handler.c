/*
 * handler.c: one HTTP request, from libmicrohttpd's callbacks to the view
 * and back (Django's BaseHandler). libmicrohttpd calls, on one worker
 * thread per connection:
 *
 *   sh__on_uri        the request line is in: the request object is made
 *   sh__on_access     headers in: the request is filled; a body announced
 *                     larger than max_body_size is answered 413 at once
 *                     (libmicrohttpd then closes the connection)
 *   sh__on_access     with each piece of the body: accumulated
 *   sh__on_access     body complete: request_started, routing, the view,
 *                     got_request_exception on failure, the response
 *   sh__on_completed  the response was sent or the connection ended:
 *                     request_finished, the request is freed
 *
 * Answers the host makes itself (404, 405, 500...) carry fixed bodies that
 * say nothing of the error; the error goes to the log. A failure whose
 * code is SH_EUNAVAILABLE (the database is full, read-only, locked by
 * another process...) is answered 503 with Retry-After instead of 500:
 * the request was fine and may succeed once the fault clears.
 */
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

void *sh__on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
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

static enum MHD_Result sh__collect_one(void *cls, enum MHD_ValueKind kind, const char *key,
	const char *value)
{
	(void)kind;
	sh__collect *c = cls;
	if (c->count < c->capacity)
		c->items[c->count++] = (sh_header){ key != NULL ? key : "", value != NULL ? value : "" };
	return MHD_YES;
}

static int sh__collect_all(struct MHD_Connection *connection, enum MHD_ValueKind kind,
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
	MHD_get_connection_values(connection, kind, sh__collect_one, &c);
	*out = c.items;
	*count = c.count;
	return 0;
}

static void sh__remote_addr(sh_request *r)
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

static int sh__request_fill(sh_request *r, const char *url, const char *method,
	const char *version)
{
	r->method = method;
	r->path = url;
	r->version = version;
	const char *q = r->raw_uri != NULL ? strchr(r->raw_uri, '?') : NULL;
	r->query_string = q != NULL ? q + 1 : "";
	sh__remote_addr(r);
	int rc = sh__collect_all(r->connection, MHD_HEADER_KIND, &r->headers, &r->header_count);
	if (rc == 0)
		rc = sh__collect_all(r->connection, MHD_GET_ARGUMENT_KIND, &r->query, &r->query_count);
	return rc;
}

/* ---- answering -------------------------------------------------------- */

/* The request line for the log, with control characters made visible. */
static void sh__request_line(char *buf, size_t size, const sh_request *r)
{
	snprintf(buf, size, "%s %s %s", r->method ? r->method : "-",
		r->raw_uri ? r->raw_uri : "-", r->version ? r->version : "-");
	for (char *c = buf; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '"')
			*c = '?';
}

/* Sends the request's response; takes its body. */
static enum MHD_Result sh__queue(sh_request *r)
{
	sh_server *s = r->server;
	sh_http_response *resp = &r->response;
	size_t length = resp->body.len;
	struct MHD_Response *m;
	if (length > 0) {
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
	if (atomic_load(&s->stopping))
		MHD_add_response_header(m, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result result = MHD_queue_response(r->connection, (unsigned)resp->status, m);
	MHD_destroy_response(m);
	r->answered = true;
	if (!s->config.access_log)
		return result;
	char line[512];
	sh__request_line(line, sizeof line, r);
	sh_hub_log(s->hub, SH_LOG_INFO, "sighost.server", "\"%s\" %d %zu", line, resp->status,
		length);
	return result;
}

#define SH__STR_(x) #x
#define SH__STR(x) SH__STR_(x)

/* The bodies of the answers the host makes itself (its only 400: too many
 * query parameters). */
static const char *sh__status_body(int status)
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

/* The JSON bodies of the host's answers on a model route (the JSON API). */
static const char *sh__status_json(const sh_request *r, int status)
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

/* Answers with one of the host's own responses. */
static enum MHD_Result sh__answer(sh_request *r, int status)
{
	sh_http_response *resp = &r->response;
	sh__response_reset(resp);
	resp->status = status;
	bool json = r->match.route != NULL && r->match.route->model != NULL;
	const char *body = json ? sh__status_json(r, status) : sh__status_body(status);
	if (sh__wbuf_puts(&resp->body, body) < 0)
		sh__wbuf_dispose(&resp->body);   /* an empty body then */
	if (json)
		sh_http_response_set_header(resp, "Content-Type", "application/json");
	if (status == 405) {
		char allow[128];
		sh__methods_text(allow, sizeof allow, r->match.allow);
		sh_http_response_set_header(resp, "Allow", allow);
	} else if (status == 401) {
		sh_http_response_set_header(resp, "WWW-Authenticate", "Token");
	} else if (status == 503) {
		sh_http_response_set_header(resp, "Retry-After", SH__RETRY_AFTER);
	}
	return sh__queue(r);
}

/* The status of the host's answer to a request that failed with `rc`. */
static int sh__failure_status(int rc)
{
	return rc == SH_EUNAVAILABLE ? 503 : 500;
}

/* Whether the route runs in one transaction: its own `atomic`, else the
 * project's atomic_requests. */
static bool sh__atomic(const sh_server *s, const sh_route *route)
{
	return route->atomic >= 0 ? route->atomic == 1 : s->config.atomic_requests;
}

/* Calls the view, inside a transaction of the thread's connection when the
 * route is atomic (Django's ATOMIC_REQUESTS): a failing view's writes are
 * rolled back, a successful one's committed before the response is sent.
 * Returns the view's status, or the failure to open or commit the block;
 * `message` gets the failure's text. */
static int sh__call_view(sh_request *r, const sh_route *route, char *message, size_t size)
{
	sh_db *db = NULL;
	bool atomic = sh__atomic(r->server, route);
	sh_error_clear();
	int rc = atomic ? sh_app_db(&db, route->app) : 0;
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
		snprintf(message, size, "%s", said[0] != '\0' ? said : "(the view gave no reason)");
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

/* Runs the view; on failure logs, sends got_request_exception, answers 500
 * (503 when the database is unavailable). */
static enum MHD_Result sh__run_view(sh_request *r, const sh_route *route)
{
	sh_server *s = r->server;
	char message[1024];
	int rc = sh__call_view(r, route, message, sizeof message);
	if (rc >= 0)
		return sh__queue(r);
	char line[512];
	sh__request_line(line, sizeof line, r);
	if (route->view != NULL)
		sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server", "view %s.%s failed on \"%s\": %s: %s",
			sh_app_label(route->app), route->view, line, sh_error_name(rc), message);
	else
		sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server",
			"the JSON API of %s failed on \"%s\": %s: %s", route->model, line,
			sh_error_name(rc), message);
	sh_got_request_exception_args args = { r, rc, message };
	sh_signal_send_robust(s->got_request_exception, NULL, &args, NULL);
	return sh__answer(r, sh__failure_status(rc));
}

/* The whole request is in: Django's get_response. */
static enum MHD_Result sh__dispatch(sh_request *r)
{
	sh_server *s = r->server;
	sh_environ env = { r->method, r->path, r->query_string, r->remote_addr,
		r->headers, r->header_count };
	sh_request_started_args started = { &env };
	r->started = true;
	int rc = sh_signal_send(s->request_started, s->handler, &started, NULL);
	if (rc < 0) {
		sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server",
			"a request_started receiver failed: %s", sh_error_last()->message);
		return sh__answer(r, sh__failure_status(rc));
	}
	if (r->too_large)
		return sh__answer(r, 413);
	if (r->query_params_sent > SH_MAX_QUERY_PARAMS) {
		(void)sh__router_match(&r->match, s->router, r->method, r->path);   /* JSON or not */
		return sh__answer(r, 400);
	}
	if (r->failed)
		return sh__answer(r, 500);
	rc = sh__router_match(&r->match, s->router, r->method, r->path);
	if (rc == SH_ENOTFOUND)
		return sh__answer(r, 404);
	if (rc == SH_EPERM)
		return sh__answer(r, 405);
	if (rc < 0)
		return sh__answer(r, 500);
	const sh_route *route = r->match.route;
	r->app = route->app;
	/* A database file deleted, moved or replaced under the server: every
	 * write would be lost (or land in a new empty file), tokens would not
	 * be found. Refused before anything reads or writes. */
	rc = sh_database_check_file(sh_project_database(s->project));
	if (rc < 0) {
		sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server", "refusing \"%s %s\": %s",
			r->method, r->path, sh_error_last()->message);
		return sh__answer(r, sh__failure_status(rc));
	}
	/* DRF's order: a bad token is refused whatever the route needs */
	rc = sh__request_authenticate(r);
	if (rc < 0) {
		sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server", "cannot check the API token: %s",
			sh_error_last()->message);
		return sh__answer(r, sh__failure_status(rc));
	}
	if (rc > 0 || (sh_request_user(r) == NULL && !sh_route_open_to_anonymous(route, r->method)))
		return sh__answer(r, 401);
	if (route->fn == NULL)
		return sh__answer(r, 501);   /* not resolved: sh_server_new refuses that */
	return sh__run_view(r, route);
}

enum MHD_Result sh__on_access(void *cls, struct MHD_Connection *connection, const char *url,
	const char *method, const char *version, const char *upload_data,
	size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)connection;
	sh_request *r = *con_cls;
	if (r == NULL || r->answered)
		return r == NULL ? MHD_NO : MHD_YES;
	if (!r->begun) {
		r->begun = true;
		r->failed = sh__request_fill(r, url, method, version) < 0;
		const char *declared = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND,
			MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (declared != NULL && strtoull(declared, NULL, 10) > r->server->config.max_body_size) {
			r->too_large = true;
			return sh__dispatch(r);   /* 413 before the body is read */
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
			sh__wbuf_dispose(&r->body);
		} else if (sh__wbuf_add(&r->body, upload_data, n) < 0) {
			r->failed = true;
			sh__wbuf_dispose(&r->body);
		}
		return MHD_YES;
	}
	return sh__dispatch(r);
}

void sh__on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
	enum MHD_RequestTerminationCode toe)
{
	(void)connection;
	(void)toe;
	sh_server *s = cls;
	sh_request *r = *con_cls;
	if (r == NULL)
		return;
	*con_cls = NULL;
	if (r->started && sh_signal_send(s->request_finished, s->handler, NULL, NULL) < 0)
		sh_hub_log(s->hub, SH_LOG_ERROR, "sighost.server",
			"a request_finished receiver failed: %s", sh_error_last()->message);
	/* A connection that found the database read-only stays so: let the
	 * thread's next request open a new one (Django closes unusable
	 * connections at request_finished too). */
	if (sh_database_close_unusable(sh_project_database(s->project)) == 1)
		sh_hub_log(s->hub, SH_LOG_INFO, "sighost.server", "closed this thread's database "
			"connection, which cannot write; the next request opens a new one");
	sh__request_free(r);
	atomic_fetch_sub(&s->in_flight, 1);
}
