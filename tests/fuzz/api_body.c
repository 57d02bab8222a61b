/*
 * api_body.c: libFuzzer target for the JSON API of models: request bodies
 * (and query strings) turned into field values, update_fields and
 * many-to-many changes, validated by the API and then by the model layer
 * for real, on a SQLite database.
 *
 * A project with one app without a library (fz: Tag, and Alert with a
 * field of every type, foreign keys, a many-to-many field and model
 * routes for collections, items and the relation) is read and loaded once
 * through the manifest loader, a server is made for it (never started),
 * and a few rows are created. The database is a file in a scratch
 * directory (on tmpfs when /dev/shm is there). Each input is a request:
 *
 *     METHOD PATH[?QUERY]
 *     Header: value          (any number, up to an empty line)
 *
 *     body
 *
 * It is matched by the server's router and given to the route's view
 * (the model API) as the handler does, inside an atomic block that is
 * always rolled back, so every input sees the same rows. The view must
 * answer a client error with a JSON object {"error": ...} (400, 404, 409,
 * 415) or succeed (200, 201, 204) with JSON; a failure of the host (a
 * negative code: a 500) is a bug for any input, there being no receiver.
 *
 * The target reaches the host's internal request structure, so it links
 * libsighost's objects instead of the shared library (tests/fuzz/meson.build).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sighost/sys/sighost.h>

#include "web/internal.h"
#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sh_project *project;
static sh_server *server;
static sh_conn *db;
static bool verbose;   /* SIGHOST_FUZZ_VERBOSE set: print each answer */

/* Splits "a=1&b=2" in place into r->query (values not decoded). */
static void parse_query(sh_request *r, char *text)
{
	size_t n = 1;
	for (const char *c = text; *c != '\0'; c++)
		n += *c == '&';
	r->query = calloc(n, sizeof *r->query);
	if (r->query == NULL)
		abort();
	char *save = NULL;
	for (char *pair = strtok_r(text, "&", &save); pair != NULL; pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');
		if (eq != NULL)
			*eq = '\0';
		r->query[r->query_count].name = pair;
		r->query[r->query_count++].value = eq != NULL ? eq + 1 : "";
	}
}

/* Reads header lines "Name: value" from *text up to an empty line. */
static void parse_headers(sh_request *r, char **text)
{
	size_t n = 0;
	for (const char *c = *text; *c != '\0'; c++)
		n += *c == '\n';
	r->headers = calloc(n + 1, sizeof *r->headers);
	if (r->headers == NULL)
		abort();
	char *line = *text;
	while (line != NULL && *line != '\0') {
		char *end = strchr(line, '\n');
		if (end != NULL)
			*end = '\0';
		if (*line == '\0') {
			line = end != NULL ? end + 1 : NULL;
			break;
		}
		char *colon = strchr(line, ':');
		if (colon != NULL) {
			*colon = '\0';
			const char *value = colon + 1;
			while (*value == ' ')
				value++;
			r->headers[r->header_count].name = line;
			r->headers[r->header_count++].value = value;
		}
		line = end != NULL ? end + 1 : NULL;
	}
	*text = line;
}

/* The body of the response as a JSON object, or abort. */
static json_t *response_object(const sh_request *r)
{
	const sh__wbuf *body = &r->response.body;
	json_error_t error;
	json_t *v = body->len > 0 ? json_loadb(body->data, body->len, 0, &error) : NULL;
	if (!json_is_object(v)) {
		fprintf(stderr, "fuzz-api_body: %s %s: %d with a body that is not a JSON object: %.*s\n",
			r->method, r->path, r->response.status, (int)body->len, body->data ? body->data : "");
		abort();
	}
	return v;
}

/* Runs one request; `commit` keeps its writes (the setup's rows). Returns
 * the status. */
static int run(const uint8_t *data, size_t size, bool commit)
{
	char *text = malloc(size + 1);
	sh_request *r = calloc(1, sizeof *r);
	if (text == NULL || r == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	r->server = server;
	r->response.request = r;
	r->response.status = 200;
	r->version = "HTTP/1.1";

	char *line_end = strchr(text, '\n');
	char *rest = line_end != NULL ? line_end + 1 : NULL;
	if (line_end != NULL)
		*line_end = '\0';
	char *space = strchr(text, ' ');
	r->method = "GET";
	char *target = text;
	if (space != NULL) {
		*space = '\0';
		r->method = text;
		target = space + 1;
	}
	r->raw_uri = strdup(target);
	if (r->raw_uri == NULL)
		abort();
	char *q = strchr(target, '?');
	r->query_string = "";
	if (q != NULL) {
		*q = '\0';
		r->query_string = strchr(r->raw_uri, '?') + 1;
		parse_query(r, q + 1);
	}
	r->path = target;
	if (rest != NULL)
		parse_headers(r, &rest);
	if (rest != NULL) {
		/* the body: what follows the empty line, NULs included */
		size_t offset = (size_t)(rest - text);
		if (sh_web__wbuf_add(&r->body, data + offset, size - offset) < 0)
			abort();
	}

	int status = 0;
	if (sh_web__router_match(&r->match, server->router, r->method, r->path) == 0) {
		const sh_route *route = r->match.route;
		r->app = route->app;
		if (sh_atomic_begin(db) < 0)
			abort();
		sh_error_clear();
		int rc = route->fn(r, &r->response, sh_app_data(route->app));
		int end = sh_atomic_end(db, commit && rc == 0 ? 0 : SH_ERROR);
		if (rc < 0) {
			fprintf(stderr, "fuzz-api_body: %s %s failed (a 500): %s: %s\n", r->method,
				r->raw_uri, sh_error_name(rc), sh_error_last()->message);
			abort();
		}
		if (commit && end < 0)
			abort();
		status = r->response.status;
		if (verbose)
			fprintf(stderr, "fuzz-api_body: %s %s: %d %.*s\n", r->method, r->raw_uri, status,
				(int)r->response.body.len, r->response.body.data ? r->response.body.data : "");
		switch (status) {
		case 200:
		case 201:
			json_decref(response_object(r));
			break;
		case 204:
			if (r->response.body.len != 0)
				abort();
			break;
		case 400:
		case 404:
		case 409:
		case 415: {
			json_t *v = response_object(r);
			if (!json_is_string(json_object_get(v, "error")))
				abort();
			json_decref(v);
			break;
		}
		default:
			fprintf(stderr, "fuzz-api_body: unexpected status %d\n", status);
			abort();
		}
	}
	sh_web__request_free(r);
	free(text);
	return status;
}

static void setup_request(const char *request, int want)
{
	int status = run((const uint8_t *)request, strlen(request), true);
	if (status != want) {
		fprintf(stderr, "fuzz-api_body: setup request gave %d: %s\n", status, request);
		abort();
	}
}

static void init(void)
{
	fuzz_scratch("api_body");
	fuzz_mkdir("plugins");
	fuzz_write_text("plugins/fz.yaml",
		"label: fz\n"
		"models:\n"
		"  Tag:\n"
		"    fields:\n"
		"      name: {type: text, max_length: 20, unique: true}\n"
		"  Alert:\n"
		"    fields:\n"
		"      title: {type: text, max_length: 40}\n"
		"      note: {type: text, blank: true}\n"
		"      level: {type: integer, default: 1}\n"
		"      big: {type: big_integer, null: true}\n"
		"      score: {type: real, null: true}\n"
		"      done: {type: boolean, default: false}\n"
		"      due: {type: date, null: true}\n"
		"      at: {type: datetime, null: true}\n"
		"      created: {type: datetime, auto_now_add: true}\n"
		"      changed: {type: datetime, auto_now: true}\n"
		"      meta: {type: json, default: {}}\n"
		"      parent: {type: foreign_key, to: self, on_delete: set_null, null: true}\n"
		"      tag: {type: foreign_key, to: Tag, on_delete: protect, null: true}\n"
		"      tags: {type: many_to_many, to: Tag, related_name: alerts}\n"
		"  Pin:\n"
		"    fields:\n"
		"      code: {type: integer, unique: true}\n"
		"      alert: {type: foreign_key, to: Alert, on_delete: cascade}\n"
		"routes:\n"
		"  - {path: /tags, methods: [GET, POST], model: fz.Tag}\n"
		"  - {path: '/tags/<int:pk>', methods: [GET, PUT, PATCH, DELETE], model: fz.Tag}\n"
		"  - {path: '/tags/<int:pk>/alerts', methods: [GET, POST, DELETE], model: fz.Tag}\n"
		"  - {path: /alerts, methods: [GET, POST], model: fz.Alert}\n"
		"  - {path: '/alerts/<int:pk>', methods: [GET, PUT, PATCH, DELETE], model: fz.Alert}\n"
		"  - {path: '/alerts/<int:pk>/tags', methods: [GET, POST, DELETE], model: fz.Alert}\n"
		"  - {path: /pins, methods: [GET, POST], model: fz.Pin}\n"
		"  - {path: '/pins/<int:pk>', methods: [GET, PUT, PATCH, DELETE], model: fz.Pin}\n");
	fuzz_write_text("project.yaml",
		"project: fz\n"
		"database: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [plugins]\n"
		"installed_apps: [fz]\n");
	if (sh_project_new(&project) < 0 || sh_project_read(project, fuzz_path("project.yaml")) < 0
		|| sh_project_load(project) < 0 || sh_server_new(&server, project, NULL) < 0) {
		fprintf(stderr, "fuzz-api_body: %s\n", sh_error_last()->message);
		abort();
	}
	if (sh_app_conn(&db, sh_project_app(project, "fz")) < 0 || sh_database_syncdb(db) < 0) {
		fprintf(stderr, "fuzz-api_body: %s\n", sh_error_last()->message);
		abort();
	}
	setup_request("POST /tags\n" "Content-Type: application/json\n\n{\"name\": \"a\"}", 201);
	setup_request("POST /tags\n" "Content-Type: application/json\n\n{\"name\": \"b\"}", 201);
	setup_request("POST /alerts\n" "Content-Type: application/json\n\n"
		"{\"title\": \"one\", \"tag\": 1, \"tags\": [1, 2], \"meta\": {\"k\": [1]}}", 201);
	setup_request("POST /alerts\n" "Content-Type: application/json\n\n"
		"{\"title\": \"two\", \"parent\": 1, \"due\": \"2026-01-02\", "
		"\"at\": \"2026-01-02T03:04:05Z\", \"score\": 1.5, \"big\": 9000000000}", 201);
	setup_request("POST /pins\n" "Content-Type: application/json\n\n"
		"{\"code\": 7, \"alert\": 2}", 201);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (server == NULL) {
		verbose = getenv("SIGHOST_FUZZ_VERBOSE") != NULL;
		init();
	}
	run(data, size, false);
	return 0;
}
