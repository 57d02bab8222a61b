/*
 * hostile.c: hostile HTTP against the real `sighost serve` with the
 * example's apps (audit, alert and its JSON API and dashboard view) and
 * the test app `web` (t_web.so: a view rendering the template a query
 * parameter names, echo views). One table of raw requests: malformed
 * HTTP, oversized bodies, invalid JSON, wrong types, unknown fields, huge
 * numbers, invalid UTF-8, path traversal in template names and request
 * paths, encoded NULs, and SQL metacharacters in every field name, query
 * parameter and path parameter. Each row gets its status (or is cut off),
 * after each the database is the same to the byte (a digest of every
 * table) and the server still answers. SQL metacharacters in accepted
 * fields are stored verbatim; slow clients (slowloris) are cut off after
 * request_timeout while others are served.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rel_support.h"

TestSuite(hostile, .init = w_setup, .fini = w_cleanup, .timeout = 240);

/* The expected "status" of a request the server must drop unanswered. */
#define CUT 0

/* The project's limits, small so that rows reach them cheaply. */
#define MAX_BODY 8192
#define TIMEOUT 2

static const char *const web_routes =
	"routes:\n"
	"  - {path: /render, view: render}\n"
	"  - {path: '/files/<path:rest>', view: echo}\n"
	"  - {path: '/echo/<str:name>', methods: [GET, POST], view: echo}\n";

/* alice's API token (alert's /dashboard/create is login_required). */
static char *alice;

/* The project: audit, alert (migrated) and web; a template of web, a
 * template of another folder, a file outside the templates and a symbolic
 * link that leads out; started. Seeds tag 1, alert 1 (tagged 1) and,
 * through the dashboard, owner 1 (alice) with alert 2. */
static void serve_hostile(w_server *s)
{
	w_app("web", web_routes);
	w_template("web", "page.html", "<p>{{ name }}</p>\n");
	w_template("other", "private.html", "SECRET of another folder\n");
	free(t_write(w_plugins, "secret.txt", "SECRET outside the templates\n"));
	char *link = NULL;
	cr_assert_geq(asprintf(&link, "%s/templates/web/link.html", w_plugins), 0);
	cr_assert_eq(symlink("../../secret.txt", link), 0);
	free(link);
	/* a FIFO where a template is expected: opening it must not block */
	cr_assert_geq(asprintf(&link, "%s/templates/web/fifo.html", w_plugins), 0);
	cr_assert_eq(mkfifo(link, 0600), 0);
	free(link);
	char extra[128];
	snprintf(extra, sizeof extra, "max_body_size: %d\nrequest_timeout: %d\n", MAX_BODY, TIMEOUT);
	w_project("alert, web", extra);
	a_migrate();
	alice = a_token("alice");
	/* model routes need a token: every request below carries alice's,
	 * unless it names an Authorization of its own (forged ones) */
	cr_assert_geq(asprintf(&w_auth, "Authorization: Token %s\r\n", alice), 0);
	w_start(s, NULL);
	const char *seeds[][2] = {
		{ "/api/tags", "{\"name\": \"red\"}" },
		{ "/api/alerts", "{\"content\": \"seed\", \"tags\": [1]}" },
	};
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		w_resp r = a_json(s->port, "POST", seeds[i][0], NULL, seeds[i][1]);
		cr_assert_eq(r.status, 201, "%s: %s", seeds[i][0], r.body);
		w_resp_free(&r);
	}
	char *auth = NULL;
	cr_assert_geq(asprintf(&auth, "Authorization: Token %s\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\n", alice), 0);
	w_resp r = w_request(s->port, "POST", "/dashboard/create", auth, "content=from+alice");
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_resp_free(&r);
	free(auth);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM alert_alert"), 2);
}

static void stop(w_server *s)
{
	w_stop(s);
	cr_assert_eq(s->status, 0, "exit status %d, stderr:\n%s", s->status, s->err);
	w_lacks(s->err, "runtime error:");   /* UBSan reports without failing the exit */
	w_lacks(s->err, "AddressSanitizer");
	free(alice);
	alice = NULL;
}

/* ---- one row ---------------------------------------------------------- */

typedef struct table_run {
	unsigned port;
	char *db;
	uint64_t first;      /* the digest of the database before the first row */
	uint64_t digest;     /* and before the current row */
	size_t rows;
	size_t changed;      /* rows after which the digest was not `first` */
} table_run;

/* Set while a row marked `anonymous` is sent. */
static bool anonymous_row;

/* `raw` (len bytes, *len updated) with w_auth after its "Host: x" line,
 * when it has one, names no Authorization and is not an anonymous row
 * (newly allocated). */
static char *with_token(const char *raw, size_t *len)
{
	const char *host = memmem(raw, *len, "\r\nHost: x\r\n", 11);
	bool own = memmem(raw, *len, "\r\nAuthorization:", 16) != NULL;
	size_t extra = host != NULL && !own && !anonymous_row && w_auth != NULL ? strlen(w_auth) : 0;
	char *out = malloc(*len + extra + 1);
	cr_assert_not_null(out);
	size_t head = extra ? (size_t)(host - raw) + 11 : *len;
	memcpy(out, raw, head);
	memcpy(out + head, w_auth != NULL ? w_auth : "", extra);
	memcpy(out + head + extra, raw + head, *len - head);
	*len += extra;
	out[*len] = '\0';
	return out;
}

/* Sends `raw` on a new connection and checks the answer: `status` (or CUT:
 * the connection ends with no response, within request_timeout and a
 * margin), `needle` in the body when given; no secret leaks; then the
 * database is unchanged and the server answers a GET. */
static void check(table_run *t, const char *name, const char *raw, size_t len, int status,
	const char *needle)
{
	double t0 = r_now();
	char *authed = with_token(raw, &len);
	w_resp r = w_raw(t->port, authed, len);
	free(authed);
	double took = r_now() - t0;
	t->rows++;
	if (status == CUT) {
		cr_expect_eq(r.status, 0, "[%s] expected to be cut off, got %d: %s", name, r.status,
			r.body);
		cr_expect_lt(took, TIMEOUT + 3.0, "[%s] cut off after %.1f s", name, took);
	} else {
		cr_expect_eq(r.status, status, "[%s] expected %d, got %d: %s", name, status, r.status,
			r.body);
	}
	if (needle != NULL)
		cr_expect_not_null(strstr(r.body, needle), "[%s] expected '%s' in\n%s", name, needle,
			r.body);
	cr_expect_null(strstr(r.body, "SECRET"), "[%s] leaked a file: %s", name, r.body);
	w_resp_free(&r);
	uint64_t digest = r_db_checksum(t->db);
	cr_expect_eq(digest, t->digest, "[%s] changed the database", name);
	t->digest = digest;   /* the next row is judged on its own */
	t->changed += digest != t->first;
	int alive = 0;
	r_http(t->port, "GET", "/api/alerts?limit=1", NULL, NULL, 10, &alive, NULL);
	cr_expect_eq(alive, 200, "[%s] the server no longer answers (%d)", name, alive);
}

/* A request with Host and Connection: close, `headers` (CRLF-terminated
 * lines) and, when `body` is non-NULL, the body with its Content-Length
 * and, unless `headers` name one, Content-Type application/json. */
static char *request_text(const char *method, const char *target, const char *headers,
	const char *body)
{
	char *raw = NULL;
	const char *h = headers ? headers : "";
	int n = body != NULL
		? asprintf(&raw, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s"
			"Content-Length: %zu\r\n\r\n%s", method, target, h,
			strstr(h, "Content-Type") ? "" : "Content-Type: application/json\r\n",
			strlen(body), body)
		: asprintf(&raw, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n", method,
			target, h);
	cr_assert_geq(n, 0);
	return raw;
}

static void check_request(table_run *t, const char *name, const char *method,
	const char *target, const char *headers, const char *body, int status, const char *needle)
{
	char *raw = request_text(method, target, headers, body);
	check(t, name, raw, strlen(raw), status, needle);
	free(raw);
}

/* ---- the table -------------------------------------------------------- */

typedef struct row {
	const char *name;
	const char *method;    /* NULL: `raw` is sent as it is */
	const char *target;
	const char *headers;   /* extra header lines, CRLF-terminated */
	const char *body;      /* JSON unless `headers` give a Content-Type */
	int status;            /* CUT: no answer, the connection is closed */
	const char *needle;    /* in the body of the answer */
	const char *raw;
	bool anonymous;        /* sent without alice's token (w_auth) */
} row;

#define JSON_ERR "\"error\":"
#define BAD_JSON "the body is not valid JSON"

static const row table[] = {
	/* malformed HTTP: libmicrohttpd answers or drops it; nothing reaches a view */
	{ "no request line", .raw = "GARBAGE\r\n\r\n", .status = CUT },
	{ "HTTP/1.1 without Host", .raw = "GET /api/alerts HTTP/1.1\r\nConnection: close\r\n\r\n",
		.status = 400 },
	{ "header line without a colon",
		.raw = "GET /api/alerts HTTP/1.1\r\nHost: x\r\nBadHeader\r\nConnection: close\r\n\r\n",
		.status = 400 },
	{ "HTTP/2.0 request line", .raw = "GET /api/alerts HTTP/2.0\r\nHost: x\r\n\r\n", .status = 505 },
	{ "HTTP/0.9 request", .raw = "GET /api/alerts\r\n\r\n", .status = 400 },
	{ "a space inside the target",
		.raw = "GET /api/al erts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", .status = CUT },
	{ "unknown method", "FOO", "/api/alerts", .status = 405 },
	{ "lowercase method", "get", "/api/alerts", .status = 405 },
	{ "TRACE", "TRACE", "/api/alerts", .status = 405 },
	{ "absolute-form target", "GET", "http://x/api/alerts", .status = 404 },
	{ "asterisk target", "OPTIONS", "*", .status = 404 },
	{ "Transfer-Encoding gzip",
		.raw = "POST /api/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
		"application/json\r\nTransfer-Encoding: gzip\r\n\r\n{}", .status = CUT },
	{ "a bad chunk size",
		.raw = "POST /api/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
		"application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", .status = 400 },
	{ "negative Content-Length",
		.raw = "POST /api/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
		"application/json\r\nContent-Length: -1\r\n\r\n{}", .status = 400 },
	/* regressions: a body framed two ways was read one way (libmicrohttpd's),
	 * while a proxy in front may read it the other (request smuggling) */
	{ "Content-Length and Transfer-Encoding",
		.raw = "POST /api/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
		"application/json\r\nContent-Length: 16\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
		"{\"content\":\"x\"}", .status = 400, .needle = "Bad Request" },
	{ "two Content-Lengths that differ",
		.raw = "POST /api/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
		"application/json\r\nContent-Length: 16\r\nContent-Length: 2\r\n\r\n"
		"{\"content\":\"x\"}", .status = 400, .needle = "Bad Request" },
	{ "two Content-Lengths that agree (allowed; the body is read)",
		.raw = "POST /api/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
		"application/json\r\nContent-Length: 13\r\nContent-Length: 13\r\n\r\n"
		"{\"content\":5}", .status = 400, .needle = "must be a string" },
	/* oversized bodies */
	{ "Content-Length past max_body_size (body never sent)",
		.raw = "POST /api/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
		"application/json\r\nContent-Length: 8193\r\n\r\n", .status = 413 },
	{ "Content-Length past 64 bits",
		.raw = "POST /api/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
		"application/json\r\nContent-Length: 99999999999999999999999\r\n\r\n{}", .status = 413 },
	{ "Expect: 100-continue with a body past max_body_size",
		.raw = "POST /api/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
		"application/json\r\nExpect: 100-continue\r\nContent-Length: 99999999\r\n\r\n", .status = 413 },
	{ "a body shorter than its Content-Length (then silence)",
		.raw = "POST /api/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
		"application/json\r\nContent-Length: 100\r\n\r\n{\"content\":", .status = CUT },
	/* invalid JSON */
	{ "unclosed object", "POST", "/api/alerts", .body = "{", .status = 400, .needle = BAD_JSON },
	{ "a key without value", "POST", "/api/alerts", .body = "{\"content\": }", .status = 400,
		.needle = BAD_JSON },
	{ "trailing garbage", "POST", "/api/alerts", .body = "{\"content\": \"x\"} x", .status = 400,
		.needle = BAD_JSON },
	{ "two objects", "POST", "/api/alerts", .body = "{\"content\": \"x\"}{\"content\": \"y\"}",
		.status = 400, .needle = BAD_JSON },
	{ "a byte order mark", "POST", "/api/alerts", .body = "\xef\xbb\xbf{\"content\": \"x\"}",
		.status = 400, .needle = BAD_JSON },
	{ "single quotes", "POST", "/api/alerts", .body = "{'content': 'x'}", .status = 400,
		.needle = BAD_JSON },
	{ "a comment", "POST", "/api/alerts", .body = "{\"content\": \"x\" /* c */}", .status = 400,
		.needle = BAD_JSON },
	{ "NaN", "POST", "/api/alerts", .body = "{\"content\": \"x\", \"owner\": NaN}", .status = 400,
		.needle = BAD_JSON },
	{ "a list", "POST", "/api/alerts", .body = "[]", .status = 400, .needle = "JSON object" },
	{ "null", "POST", "/api/alerts", .body = "null", .status = 400, .needle = JSON_ERR },
	{ "an empty body", "POST", "/api/alerts", .body = "", .status = 400,
		.needle = "the body is empty" },
	{ "a duplicate key", "POST", "/api/alerts", .body = "{\"content\": \"a\", \"content\": \"b\"}",
		.status = 400, .needle = "duplicate" },
	{ "not JSON at all: a form", "POST", "/api/alerts",
		.headers = "Content-Type: application/x-www-form-urlencoded\r\n", .body = "content=x",
		.status = 415 },
	{ "a Content-Type with a control character", "POST", "/api/alerts",
		.headers = "Content-Type: application/json\x01\r\n", .body = "{\"content\": \"x\"}",
		.status = 415 },
	{ "application/jsonx", "POST", "/api/alerts", .headers = "Content-Type: application/jsonx\r\n",
		.body = "{\"content\": \"x\"}", .status = 415 },
	/* wrong types */
	{ "content: integer", "POST", "/api/alerts", .body = "{\"content\": 5}", .status = 400,
		.needle = "must be a string" },
	{ "content: list", "POST", "/api/alerts", .body = "{\"content\": []}", .status = 400,
		.needle = "must be a string" },
	{ "content: object", "POST", "/api/alerts", .body = "{\"content\": {}}", .status = 400,
		.needle = "must be a string" },
	{ "content: true", "POST", "/api/alerts", .body = "{\"content\": true}", .status = 400,
		.needle = "must be a string" },
	{ "content: null", "POST", "/api/alerts", .body = "{\"content\": null}", .status = 400,
		.needle = "null" },
	{ "owner: string", "POST", "/api/alerts", .body = "{\"content\": \"x\", \"owner\": \"1\"}",
		.status = 400, .needle = "must be an integer" },
	{ "owner: real", "POST", "/api/alerts", .body = "{\"content\": \"x\", \"owner\": 1.5}",
		.status = 400, .needle = "must be an integer" },
	{ "owner: boolean", "POST", "/api/alerts", .body = "{\"content\": \"x\", \"owner\": true}",
		.status = 400, .needle = "must be an integer" },
	{ "tags: string", "POST", "/api/alerts", .body = "{\"content\": \"x\", \"tags\": \"1\"}",
		.status = 400, .needle = "list of primary keys" },
	{ "tags: [null]", "POST", "/api/alerts", .body = "{\"content\": \"x\", \"tags\": [null]}",
		.status = 400, .needle = "tags" },
	{ "tags: [1.5]", "POST", "/api/alerts", .body = "{\"content\": \"x\", \"tags\": [1.5]}",
		.status = 400, .needle = "tags" },
	{ "tags: object", "POST", "/api/alerts", .body = "{\"content\": \"x\", \"tags\": {\"a\": 1}}",
		.status = 400, .needle = "list of primary keys" },
	{ "PATCH content: integer", "PATCH", "/api/alerts/1", .body = "{\"content\": 5}", .status = 400,
		.needle = "must be a string" },
	{ "PUT without every field", "PUT", "/api/alerts/1", .body = "{\"content\": \"x\"}",
		.status = 400, .needle = "is required" },
	{ "relation add: string", "POST", "/api/alerts/1/tags", .body = "{\"add\": \"1\"}",
		.status = 400, .needle = "list of primary keys" },
	{ "relation add: [true]", "POST", "/api/alerts/1/tags", .body = "{\"add\": [true]}",
		.status = 400, .needle = "add" },
	/* unknown fields */
	{ "an unknown field", "POST", "/api/alerts", .body = "{\"content\": \"x\", \"nope\": 1}",
		.status = 400, .needle = "unknown field 'nope'" },
	{ "__proto__", "POST", "/api/alerts", .body = "{\"content\": \"x\", \"__proto__\": {}}",
		.status = 400, .needle = "unknown field" },
	{ "the column name of a key", "POST", "/api/alerts",
		.body = "{\"content\": \"x\", \"owner_id\": 1}", .status = 400, .needle = "unknown field" },
	{ "an empty field name", "POST", "/api/alerts", .body = "{\"content\": \"x\", \"\": 1}",
		.status = 400, .needle = "unknown field" },
	{ "relation: unknown key", "POST", "/api/alerts/1/tags", .body = "{\"put\": [1]}",
		.status = 400, .needle = "unknown key" },
	{ "an unknown filter", "GET", "/api/alerts?nope=1", .status = 400, .needle = "unknown filter" },
	{ "an unknown lookup", "GET", "/api/alerts?content__regex=.*", .status = 400,
		.needle = "unknown filter" },
	/* huge numbers */
	{ "owner past 64 bits", "POST", "/api/alerts",
		.body = "{\"content\": \"x\", \"owner\": 99999999999999999999}", .status = 400,
		.needle = "too big integer" },
	{ "owner INT64_MAX", "POST", "/api/alerts",
		.body = "{\"content\": \"x\", \"owner\": 9223372036854775807}", .status = 400 },
	{ "owner INT64_MIN", "POST", "/api/alerts",
		.body = "{\"content\": \"x\", \"owner\": -9223372036854775808}", .status = 400 },
	{ "tags [INT64_MAX]", "POST", "/api/alerts",
		.body = "{\"content\": \"x\", \"tags\": [9223372036854775807]}", .status = 400,
		.needle = "does not exist" },
	{ "owner 1e400", "POST", "/api/alerts", .body = "{\"content\": \"x\", \"owner\": 1e400}",
		.status = 400, .needle = "real number overflow" },
	{ "pk past 64 bits", "GET", "/api/alerts/99999999999999999999", .status = 404 },
	{ "pk INT64_MAX", "GET", "/api/alerts/9223372036854775807", .status = 404,
		.needle = "does not exist" },
	{ "DELETE pk INT64_MAX + 1", "DELETE", "/api/alerts/9223372036854775808", .status = 404 },
	{ "limit past 64 bits", "GET", "/api/alerts?limit=99999999999999999999", .status = 400,
		.needle = "limit" },
	{ "offset INT64_MAX", "GET", "/api/alerts?offset=9223372036854775807", .status = 200,
		.needle = "\"results\":[]" },
	{ "a filter past 64 bits", "GET", "/api/alerts?owner=99999999999999999999", .status = 400,
		.needle = "64 bits" },
	{ "a filter at INT64_MIN", "GET", "/api/alerts?id__gt=-9223372036854775808", .status = 200,
		.needle = "\"count\":2" },
	/* invalid UTF-8 */
	{ "a body with 0xff", "POST", "/api/alerts", .body = "{\"content\": \"\xff\xfe\"}",
		.status = 400, .needle = BAD_JSON },
	{ "an overlong encoding", "POST", "/api/alerts", .body = "{\"content\": \"\xc0\xaf\"}",
		.status = 400, .needle = BAD_JSON },
	{ "a raw surrogate", "POST", "/api/alerts", .body = "{\"content\": \"\xed\xa0\x80\"}",
		.status = 400, .needle = BAD_JSON },
	{ "a truncated sequence", "POST", "/api/alerts", .body = "{\"content\": \"\xe2\x82\"}",
		.status = 400, .needle = BAD_JSON },
	{ "an escaped lone surrogate", "POST", "/api/alerts", .body = "{\"content\": \"\\ud800\"}",
		.status = 400, .needle = BAD_JSON },
	{ "a field name with 0xff", "POST", "/api/alerts", .body = "{\"content\": \"x\", \"\xff\": 1}",
		.status = 400, .needle = BAD_JSON },
	{ "a filter value with 0xff", "GET", "/api/alerts?content=%FF", .status = 400,
		.needle = "not UTF-8" },
	{ "a pk with 0xff", "GET", "/api/alerts/%FF", .status = 404 },
	/* regression: a template name that is not UTF-8 was a 500 (its error
	 * message could not be sent as JSON); it is refused by name */
	{ "a template name with 0xff", "GET", "/render?template=%FF", .status = 400,
		.needle = "UTF-8" },
	{ "a header with 0xff", "GET", "/api/alerts", .headers = "X-Test: \xff\xfe\r\n", .status = 200 },
	/* encoded NULs: regressions, %00 used to end the decoded path, so that
	 * DELETE /api/alerts/1%00x deleted alert 1 */
	{ "DELETE with %00 after the pk", "DELETE", "/api/alerts/1%00x", .status = 404 },
	{ "GET with %00 after the pk", "GET", "/api/alerts/1%00", .status = 404 },
	{ "PATCH with %00 after the pk", "PATCH", "/api/alerts/1%00", .body = "{\"content\": \"z\"}",
		.status = 404 },
	{ "DELETE a relation with %00", "DELETE", "/api/alerts/1%00/tags", .status = 404 },
	{ "a filter value with %00", "GET", "/api/alerts?content=seed%00x", .status = 200,
		.needle = "\"count\":0" },
	{ "a JSON \\u0000", "POST", "/api/alerts", .body = "{\"content\": \"a\\u0000b\"}",
		.status = 400, .needle = "\\\\u0000" },
	/* template names from the request: nothing outside templates/web/ */
	{ "template ../..", "GET", "/render?template=../../secret.txt", .status = 400,
		.needle = "no path traversal" },
	{ "template ../.. encoded", "GET", "/render?template=%2e%2e%2F%2e%2e%2Fsecret.txt",
		.status = 400, .needle = "no path traversal" },
	{ "template of another folder", "GET", "/render?template=../other/private.html",
		.status = 400, .needle = "no path traversal" },
	{ "template absolute", "GET", "/render?template=/etc/passwd", .status = 400,
		.needle = "absolute" },
	{ "template through a symbolic link", "GET", "/render?template=link.html", .status = 400,
		.needle = "resolves outside" },
	{ "template that is a FIFO (not read: it would block a worker)", "GET",
		"/render?template=fifo.html", .status = 400, .needle = "not a regular file" },
	{ "template with backslashes", "GET", "/render?template=..%5C..%5Csecret.txt", .status = 400,
		.needle = "refused character" },
	{ "template a/../b", "GET", "/render?template=x/../page.html", .status = 400,
		.needle = "no path traversal" },
	{ "template ending in /..", "GET", "/render?template=page.html/..", .status = 400,
		.needle = "no path traversal" },
	/* regression: the %00 cut the name to page.html */
	{ "template with %00 then ../..", "GET", "/render?template=page.html%00../../secret.txt",
		.status = 400, .needle = "no path traversal" },
	{ "template a directory", "GET", "/render?template=..", .status = 400,
		.needle = "no path traversal" },
	/* request paths that try to reach a login_required view: the router
	 * never normalizes a path */
	{ "dashboard without a token", "POST", "/dashboard/create",
		.headers = "Content-Type: application/x-www-form-urlencoded\r\n", .body = "content=x",
		.status = 401, .anonymous = true },
	{ "dashboard through ../..", "POST", "/api/alerts/../../dashboard/create",
		.headers = "Content-Type: application/x-www-form-urlencoded\r\n", .body = "content=x",
		.status = 404 },
	{ "dashboard through /api/..", "POST", "/api/../dashboard/create",
		.headers = "Content-Type: application/x-www-form-urlencoded\r\n", .body = "content=x",
		.status = 404 },
	{ "dashboard through %2e%2e", "POST", "/api/%2e%2e/dashboard/create",
		.headers = "Content-Type: application/x-www-form-urlencoded\r\n", .body = "content=x",
		.status = 404 },
	{ "dashboard/.", "POST", "/dashboard/create/.", .status = 404 },
	{ "dashboard//create", "POST", "/dashboard//create", .status = 404 },
	{ "dashboard with %2F", "POST", "/dashboard%2Fcreate", .status = 401, .anonymous = true },
	/* model routes without a token: every method but what `anonymous`
	 * opens (the example opens GET of the tags) is 401, nothing written */
	{ "anonymous create", "POST", "/api/alerts", .body = "{\"content\": \"x\"}", .status = 401,
		.needle = "credentials were not provided", .anonymous = true },
	{ "anonymous list", "GET", "/api/alerts", .status = 401, .anonymous = true },
	{ "anonymous read", "GET", "/api/alerts/1", .status = 401, .anonymous = true },
	{ "anonymous put", "PUT", "/api/alerts/1", .body = "{\"content\": \"x\"}", .status = 401,
		.anonymous = true },
	{ "anonymous patch", "PATCH", "/api/alerts/1", .body = "{\"content\": \"x\"}",
		.status = 401, .anonymous = true },
	{ "anonymous delete", "DELETE", "/api/alerts/1", .status = 401, .anonymous = true },
	{ "anonymous tagging", "POST", "/api/alerts/1/tags", .body = "{\"add\": [1]}",
		.status = 401, .anonymous = true },
	{ "anonymous untagging", "DELETE", "/api/alerts/1/tags", .status = 401, .anonymous = true },
	{ "anonymous tag create", "POST", "/api/tags", .body = "{\"name\": \"x\"}", .status = 401,
		.anonymous = true },
	{ "anonymous tag delete", "DELETE", "/api/tags/1", .status = 401, .anonymous = true },
	{ "anonymous tag read (anonymous: [GET])", "GET", "/api/tags/1", .status = 200,
		.anonymous = true },
	{ "DASHBOARD", "POST", "/DASHBOARD/create", .status = 404 },
	{ "a path parameter holding ../..", "GET", "/files/..%2F..%2Fetc%2Fpasswd", .status = 200,
		.needle = "\"rest\":\"../../etc/passwd\"" },
	/* API tokens */
	{ "a token of SQL", "GET", "/api/alerts", .headers = "Authorization: Token ' OR 1=1 --\r\n",
		.status = 401 },
	{ "a bearer of zeros", "GET", "/api/alerts", .headers = "Authorization: Bearer "
		"0000000000000000000000000000000000000000000000000000000000000000\r\n", .status = 401 },
	{ "an empty token", "GET", "/api/alerts", .headers = "Authorization: Token \r\n",
		.status = 401 },
	{ "a token with a NUL escape", "GET", "/api/alerts",
		.headers = "Authorization: Token %00\r\n", .status = 401 },
};

/* ---- generated rows ----------------------------------------------------- */

/* `n` bytes of `c`, NUL-terminated (newly allocated). */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	cr_assert_not_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void check_generated(table_run *t)
{
	/* a header past the 64 KiB of a connection: 431 */
	char *big = repeat('a', 70000), *raw = NULL;
	cr_assert_geq(asprintf(&raw, "GET /api/alerts HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", big), 0);
	check(t, "a 70 KB header", raw, strlen(raw), 431, NULL);
	free(raw);
	/* a target as long: 414 */
	cr_assert_geq(asprintf(&raw, "GET /api/alerts?%s HTTP/1.1\r\nHost: x\r\n\r\n", big), 0);
	check(t, "a 70 KB target", raw, strlen(raw), 414, NULL);
	free(raw);
	free(big);
	/* 5000 headers */
	char *many = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&many, &len);
	fputs("GET /api/alerts HTTP/1.1\r\nHost: x\r\n", f);
	for (int i = 0; i < 5000; i++)
		fprintf(f, "X-%d: v\r\n", i);
	fputs("\r\n", f);
	fclose(f);
	check(t, "5000 headers", many, len, 431, NULL);
	free(many);
	/* 600 query parameters: answered at once, never left to time out (the
	 * connection's memory ran out and nothing was sent) */
	f = open_memstream(&many, &len);
	fputs("GET /api/alerts?", f);
	for (int i = 0; i < 600; i++)
		fprintf(f, "%sp%d=1", i ? "&" : "", i);
	fputs(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", f);
	fclose(f);
	check(t, "600 query parameters", many, len, 400, "query parameters");
	free(many);
	/* ordering by 3000 terms: a 400 naming the bound, not a 500 */
	f = open_memstream(&many, &len);
	fputs("GET /api/alerts?ordering=", f);
	for (int i = 0; i < 3000; i++)
		fprintf(f, "%sid", i ? "," : "");
	fputs(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", f);
	fclose(f);
	check(t, "ordering by 3000 terms", many, len, 400, "ordering");
	free(many);
	/* a chunked body past max_body_size: 413 as it arrives */
	f = open_memstream(&many, &len);
	fputs("POST /api/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
		"application/json\r\nTransfer-Encoding: chunked\r\n\r\n", f);
	for (int i = 0; i < 10; i++)
		fprintf(f, "3e8\r\n%01000d\r\n", 0);
	fputs("0\r\n\r\n", f);
	fclose(f);
	check(t, "a chunked body past max_body_size", many, len, 413, NULL);
	free(many);
	/* bodies of max_body_size and one byte more */
	for (size_t size = MAX_BODY; size <= MAX_BODY + 1; size++) {
		size_t pad = size - strlen("{\"content\": \"\"}");
		char *text = repeat('x', pad), *body = NULL;
		cr_assert_geq(asprintf(&body, "{\"content\": \"%s\"}", text), 0);
		cr_assert_eq(strlen(body), size);
		check_request(t, size == MAX_BODY ? "a body of max_body_size (content too long)"
			: "a body of max_body_size + 1", "POST", "/api/alerts", NULL, body,
			size == MAX_BODY ? 400 : 413, size == MAX_BODY ? "alert.Alert.content" : NULL);
		free(text);
		free(body);
	}
	/* JSON nested past jansson's depth limit */
	char *open = repeat('[', 3000), *close_ = repeat(']', 3000), *deep = NULL;
	cr_assert_geq(asprintf(&deep, "%s%s", open, close_), 0);
	check_request(t, "JSON nested 3000 deep", "POST", "/api/alerts", NULL, deep, 400, BAD_JSON);
	free(open);
	free(close_);
	free(deep);
	/* a request smuggled behind differing Content-Lengths on a keep-alive
	 * connection: one answer, 400, and the connection is closed */
	static const char smuggle[] = "POST /api/alerts HTTP/1.1\r\nHost: x\r\nContent-Type: "
		"application/json\r\nContent-Length: 2\r\nContent-Length: 63\r\n\r\n{}"
		"DELETE /api/alerts/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	int fd = w_connect(t->port);
	cr_assert(w_send(fd, smuggle, sizeof smuggle - 1));
	char *all = NULL;
	size_t got = 0;
	f = open_memstream(&all, &got);
	char buf[4096];
	for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;)
		fwrite(buf, 1, (size_t)n, f);
	fclose(f);
	close(fd);
	cr_expect_eq(strncmp(all, "HTTP/1.1 400 ", 13), 0, "[smuggling] %s", all);
	cr_expect_null(strstr(all + 1, "HTTP/1.1 "), "[smuggling] a second answer: %s", all);
	free(all);
	cr_expect_eq(r_db_checksum(t->db), t->digest, "[smuggling] changed the database");
	t->rows++;
	/* a NUL byte in the request line itself */
	static const char nul_line[] = "GET /api/al\0erts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	check(t, "a NUL byte in the request line", nul_line, sizeof nul_line - 1, 404, NULL);
}

/* SQL metacharacters, as values and as names. None holds CR or LF (they
 * go into headers too). */
static const char *const metas[] = {
	"'; DROP TABLE alert_alert; --",
	"\" OR 1=1 --",
	"1 OR 1=1",
	"1; DELETE FROM alert_alert",
	"1) UNION SELECT name, sql FROM sqlite_master --",
	"*/ DROP TABLE alert_tag /*",
	"'; ATTACH DATABASE '/tmp/x.db' AS x; --",
	"\\'; PRAGMA writable_schema=1; --",
	"?1", ":content", "@x", "$1",
};

/* Every place of a request a metacharacter can go, with what it must get.
 * "@" in `target` stands for the metacharacters percent-encoded, in
 * `headers` for them as they are, in `body` for them as a JSON string. */
typedef struct meta_row {
	const char *method;
	const char *target;
	const char *headers;
	const char *body;
	int status;
	const char *needle;
} meta_row;

static const meta_row meta_rows[] = {
	/* path parameters of <int:pk> routes, every method: no route matches */
	{ "GET", "/api/alerts/@", NULL, NULL, 404, NULL },
	{ "DELETE", "/api/alerts/@", NULL, NULL, 404, NULL },
	{ "DELETE", "/api/alerts/1@", NULL, NULL, 404, NULL },
	{ "PUT", "/api/alerts/@", NULL, "{\"content\": \"x\", \"owner\": null, \"tags\": []}", 404, NULL },
	{ "PATCH", "/api/tags/1@", NULL, "{\"name\": \"x\"}", 404, NULL },
	{ "POST", "/api/alerts/@/tags", NULL, "{\"add\": [1]}", 404, NULL },
	{ "DELETE", "/api/alerts/1/tags@", NULL, NULL, 404, NULL },
	/* query parameters: names, integer values, ordering, paging */
	{ "GET", "/api/alerts?owner=@", NULL, NULL, 400, "owner" },
	{ "GET", "/api/alerts?ordering=@", NULL, NULL, 400, "ordering" },
	{ "GET", "/api/alerts?@=1", NULL, NULL, 400, "unknown filter" },
	{ "GET", "/api/alerts?limit=@", NULL, NULL, 400, "limit" },
	{ "GET", "/api/alerts?offset=@", NULL, NULL, 400, "offset" },
	/* a text filter takes it as a value: nothing matches */
	{ "GET", "/api/alerts?content=@", NULL, NULL, 200, "\"count\":0" },
	/* field names and non-text fields of bodies */
	{ "POST", "/api/alerts", NULL, "{\"content\": \"x\", @: 1}", 400, "unknown field" },
	{ "POST", "/api/alerts", NULL, "{\"content\": \"x\", \"owner\": @}", 400, "owner" },
	{ "POST", "/api/alerts", NULL, "{\"content\": \"x\", \"tags\": [@]}", 400, "tags" },
	{ "PATCH", "/api/alerts/1", NULL, "{@: \"x\"}", 400, "unknown field" },
	{ "POST", "/api/alerts/1/tags", NULL, "{\"add\": [@]}", 400, "add" },
	{ "POST", "/api/alerts/1/tags", NULL, "{@: [1]}", 400, "unknown key" },
	/* template names, API tokens */
	{ "GET", "/render?template=@", NULL, NULL, 400, JSON_ERR },
	{ "GET", "/api/alerts", "Authorization: Token @\r\n", NULL, 401, NULL },
	{ "POST", "/dashboard/create", "Authorization: Bearer @\r\n", "{}", 401, NULL },
};

/* `text` with each '@' replaced by `with` (newly allocated; NULL for NULL). */
static char *subst(const char *text, const char *with)
{
	if (text == NULL)
		return NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	for (const char *c = text; *c != '\0'; c++)
		if (*c == '@')
			fputs(with, f);
		else
			fputc(*c, f);
	fclose(f);
	return out;
}

static void check_metas(table_run *t)
{
	for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++) {
		char *enc = r_urlencode(metas[i]), *js = r_json_string(metas[i]);
		for (size_t k = 0; k < sizeof meta_rows / sizeof meta_rows[0]; k++) {
			const meta_row *m = &meta_rows[k];
			char *target = subst(m->target, enc), *headers = subst(m->headers, metas[i]);
			char *body = subst(m->body, js), name[200];
			snprintf(name, sizeof name, "%s %s%s%s with %s", m->method, m->target,
				m->body ? " " : "", m->body ? m->body : "", metas[i]);
			check_request(t, name, m->method, target, headers, body, m->status, m->needle);
			free(target);
			free(headers);
			free(body);
		}
		free(enc);
		free(js);
	}
}

Test(hostile, every_hostile_request_gets_its_4xx_or_is_cut_off_and_changes_nothing)
{
	w_server s;
	serve_hostile(&s);
	table_run t = { s.port, r_db_path(), 0, 0, 0, 0 };
	t.first = t.digest = r_db_checksum(t.db);
	char *tables_before = a_sql("SELECT group_concat(name) FROM sqlite_master");
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const row *r = &table[i];
		anonymous_row = r->anonymous;
		if (r->method == NULL)
			check(&t, r->name, r->raw, strlen(r->raw), r->status, r->needle);
		else
			check_request(&t, r->name, r->method, r->target, r->headers, r->body, r->status,
				r->needle);
	}
	anonymous_row = false;
	check_generated(&t);
	check_metas(&t);
	cr_log_info("hostile: %zu requests, database digest %016llx unchanged", t.rows,
		(unsigned long long)t.first);
	cr_assert_eq(t.changed, 0);
	cr_assert_eq(t.digest, t.first);
	char *tables_after = a_sql("SELECT group_concat(name) FROM sqlite_master");
	cr_assert_str_eq(tables_after, tables_before);
	char *ok = r_db_integrity(t.db);
	cr_assert_str_eq(ok, "ok");
	cr_assert_eq(a_sql_int("SELECT count(*) FROM alert_alert"), 2);
	free(ok);
	free(tables_before);
	free(tables_after);
	free(t.db);
	stop(&s);
	w_server_free(&s);
}

/* ---- accepted fields ---------------------------------------------------- */

/* POSTs `body`, expects 201, returns the new id. */
static int64_t created(unsigned port, const char *path, const char *body)
{
	w_resp r = a_json(port, "POST", path, NULL, body);
	cr_assert_eq(r.status, 201, "POST %s %s: %d %s", path, body, r.status, r.body);
	json_t *j = a_body(&r);
	int64_t id = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	w_resp_free(&r);
	cr_assert_gt(id, 0);
	return id;
}

/* The first column of the query `sql` followed by the integer `id`, as
 * text. */
static char *column_at(const char *sql, int64_t id)
{
	char *q = NULL;
	cr_assert_geq(asprintf(&q, "%s%lld", sql, (long long)id), 0);
	char *v = a_sql(q);
	free(q);
	return v;
}

static int64_t count_of(const char *name)
{
	char *q = NULL;
	cr_assert_geq(asprintf(&q, "SELECT count(*) FROM %s", name), 0);
	int64_t n = a_sql_int(q);
	free(q);
	return n;
}

Test(hostile, sql_metacharacters_in_accepted_fields_are_stored_verbatim)
{
	w_server s;
	serve_hostile(&s);
	char *tables_before = a_sql("SELECT group_concat(name) FROM sqlite_master");
	const char *counted[] = { "alert_alert", "alert_tag", "alert_owner", "alert_alert_tags" };
	int64_t before[4];
	for (size_t k = 0; k < 4; k++)
		before[k] = count_of(counted[k]);
	size_t n = sizeof metas / sizeof metas[0];
	for (size_t i = 0; i < n; i++) {
		const char *m = metas[i];
		char *js = r_json_string(m), *enc = r_urlencode(m), *body = NULL, *path = NULL;
		/* create: the text is stored and read back as sent */
		cr_assert_geq(asprintf(&body, "{\"content\": %s, \"tags\": [1]}", js), 0);
		int64_t id = created(s.port, "/api/alerts", body);
		free(body);
		char *stored = column_at("SELECT content FROM alert_alert WHERE id = ", id);
		cr_assert_str_eq(stored, m);
		free(stored);
		/* filter by it: exactly that row */
		cr_assert_geq(asprintf(&path, "/api/alerts?content=%s", enc), 0);
		w_resp r = w_request(s.port, "GET", path, NULL, NULL);
		cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
		json_t *page = a_body(&r);
		cr_assert_eq(json_integer_value(json_object_get(page, "count")), 1, "%s: %s", path, r.body);
		cr_assert_eq(json_integer_value(json_object_get(json_array_get(
			json_object_get(page, "results"), 0), "id")), id);
		json_decref(page);
		w_resp_free(&r);
		free(path);
		/* PATCH it with more of the same */
		cr_assert_geq(asprintf(&path, "/api/alerts/%lld", (long long)id), 0);
		char *twice = NULL, *js2 = NULL;
		cr_assert_geq(asprintf(&twice, "%s%s", m, m), 0);
		js2 = r_json_string(twice);
		cr_assert_geq(asprintf(&body, "{\"content\": %s}", js2), 0);
		r = a_json(s.port, "PATCH", path, NULL, body);
		cr_assert_eq(r.status, 200, "%s", r.body);
		w_resp_free(&r);
		stored = column_at("SELECT content FROM alert_alert WHERE id = ", id);
		cr_assert_str_eq(stored, twice);
		free(stored);
		free(twice);
		free(js2);
		free(body);
		free(path);
		/* a unique text field of another model */
		cr_assert_geq(asprintf(&body, "{\"name\": %s}", js), 0);
		int64_t tag = created(s.port, "/api/tags", body);
		free(body);
		stored = column_at("SELECT name FROM alert_tag WHERE id = ", tag);
		cr_assert_str_eq(stored, m);
		free(stored);
		/* the dashboard view: a user named so, and a form field */
		char *key = a_token(m), *headers = NULL, *form = NULL;
		cr_assert_geq(asprintf(&headers, "Authorization: Token %s\r\n"
			"Content-Type: application/x-www-form-urlencoded\r\n", key), 0);
		cr_assert_geq(asprintf(&form, "content=%s", enc), 0);
		r = w_request(s.port, "POST", "/dashboard/create", headers, form);
		cr_assert_eq(r.status, 200, "%s", r.body);
		cr_assert_str_eq(r.body, "Response");
		w_resp_free(&r);
		int64_t last = a_sql_int("SELECT max(id) FROM alert_alert");
		stored = column_at("SELECT content FROM alert_alert WHERE id = ", last);
		cr_assert_str_eq(stored, m);
		free(stored);
		stored = column_at("SELECT o.name FROM alert_owner o JOIN alert_alert a "
			"ON a.owner_id = o.id WHERE a.id = ", last);
		cr_assert_str_eq(stored, m);
		free(stored);
		free(key);
		free(headers);
		free(form);
		free(js);
		free(enc);
	}
	char *tables_after = a_sql("SELECT group_concat(name) FROM sqlite_master");
	cr_assert_str_eq(tables_after, tables_before, "the schema changed");
	/* each round added two alerts (API, dashboard), a tag, an owner, a tagging */
	int64_t added[4] = { 2 * (int64_t)n, (int64_t)n, (int64_t)n, (int64_t)n };
	for (size_t k = 0; k < 4; k++)
		cr_assert_eq(count_of(counted[k]), before[k] + added[k], "rows of %s", counted[k]);
	char *db = r_db_path(), *ok = r_db_integrity(db);
	cr_assert_str_eq(ok, "ok");
	free(ok);
	free(db);
	free(tables_before);
	free(tables_after);
	stop(&s);
	w_server_free(&s);
}

/* ---- slow clients ------------------------------------------------------- */

/* One slow client on its own thread: sends `prefix` at once (after
 * `first`, a whole request answered first, when non-NULL), then `drip`
 * one byte every 0.5 s (faster than the idle timeout, so only a deadline
 * on the whole request can stop it), until the server closes the
 * connection or 10 s pass. */
typedef struct slow_client {
	unsigned port;
	const char *first;
	const char *prefix;
	const char *drip;
	/* results */
	bool cut;            /* the server closed the connection */
	bool answered;       /* response bytes came (for the drip) */
	double after;        /* seconds from the start of the slow request to the close */
} slow_client;

static void *slow_main(void *arg)
{
	slow_client *c = arg;
	int fd = w_connect(c->port);
	if (c->first != NULL) {
		w_send(fd, c->first, strlen(c->first));
		w_resp r = w_read(fd, false);   /* keep-alive: the connection stays */
		w_resp_free(&r);
	}
	double t0 = r_now();
	w_send(fd, c->prefix, strlen(c->prefix));
	size_t sent = 0, n = strlen(c->drip);
	while (r_now() - t0 < 10) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 500) > 0) {
			char buf[512];
			ssize_t got = recv(fd, buf, sizeof buf, 0);
			if (got > 0) {
				c->answered = true;
				continue;
			}
			c->cut = true;   /* EOF or reset */
			break;
		}
		if (sent < n && send(fd, c->drip + sent, 1, MSG_NOSIGNAL) != 1) {
			c->cut = true;
			break;
		}
		sent++;
	}
	c->after = r_now() - t0;
	close(fd);
	return NULL;
}

Test(hostile, slow_clients_are_cut_off_after_request_timeout_while_others_are_served)
{
	w_server s;
	serve_hostile(&s);
	char *db = r_db_path();
	uint64_t digest = r_db_checksum(db);
	const char *head = "GET /api/alerts HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
	const char *post_head = "POST /api/alerts HTTP/1.1\r\nHost: x\r\nContent-Type: "
		"application/json\r\nContent-Length: 40\r\n\r\n";
	const char *post_body = "{\"content\": \"dripped in, byte by byte\"}";
	slow_client clients[9];
	for (size_t i = 0; i < 9; i++) {
		clients[i] = (slow_client){ .port = s.port, .prefix = "", .drip = head };
		if (i == 6)   /* slow in the request line */
			clients[i].drip = "GET /api/alerts/1?padding=xxxxxxxxxxxxxxxxxxxxxxxxxx HTTP/1.1\r\n";
		if (i == 7) {   /* the head at once, the body slowly */
			clients[i].prefix = post_head;
			clients[i].drip = post_body;
		}
		if (i == 8)   /* slow in the second request of a keep-alive connection */
			clients[i].first = "GET /api/alerts/1 HTTP/1.1\r\nHost: x\r\n\r\n";
	}
	pthread_t threads[9];
	for (size_t i = 0; i < 9; i++)
		cr_assert_eq(pthread_create(&threads[i], NULL, slow_main, &clients[i]), 0);
	/* meanwhile, others are served, promptly */
	double worst = 0;
	for (int i = 0; i < 30; i++) {
		double t0 = r_now();
		int status = 0;
		r_http(s.port, "GET", "/api/alerts/1", NULL, NULL, 10, &status, NULL);
		double took = r_now() - t0;
		worst = took > worst ? took : worst;
		cr_expect_eq(status, 200, "request %d while slow clients hang on: %d", i, status);
		r_sleep(0.1);
	}
	cr_expect_lt(worst, 1.0, "a request took %.2f s while slow clients hang on", worst);
	for (size_t i = 0; i < 9; i++) {
		pthread_join(threads[i], NULL);
		cr_expect(clients[i].cut, "slow client %zu was never cut off (%.1f s)", i,
			clients[i].after);
		cr_expect_gt(clients[i].after, TIMEOUT - 0.5, "slow client %zu cut after %.2f s", i,
			clients[i].after);
		cr_expect_lt(clients[i].after, TIMEOUT + 1.5, "slow client %zu cut after %.2f s", i,
			clients[i].after);
		cr_expect(!clients[i].answered, "slow client %zu got an answer", i);
		cr_log_info("slow client %zu cut off after %.2f s", i, clients[i].after);
	}
	cr_expect_eq(r_db_checksum(db), digest, "the slow POST wrote something");
	free(db);
	/* a connection that is only idle is closed by the same deadline */
	int idle = w_connect(s.port);
	double t0 = r_now();
	char byte;
	cr_assert_leq(recv(idle, &byte, 1, 0), 0);
	cr_expect_lt(r_now() - t0, TIMEOUT + 1.5);
	close(idle);
	/* a client that sends its request in pieces, within the deadline, is served */
	int pieces = w_connect(s.port);
	const char *parts[] = { "GET /api/tags/1 HT", "TP/1.1\r\nHost: x\r\n", "Connection: close\r\n\r\n" };
	for (size_t i = 0; i < 3; i++) {
		cr_assert(w_send(pieces, parts[i], strlen(parts[i])));
		r_sleep(0.5);
	}
	w_resp r = w_read(pieces, false);
	cr_expect_eq(r.status, 200, "a request sent in pieces within %d s: %d", TIMEOUT, r.status);
	w_resp_free(&r);
	close(pieces);
	stop(&s);
	w_has(s.err, "that did not send a whole request within 2 s");
	w_server_free(&s);
}
