/*
 * internal.h: the data structures of host/web/ (the router, requests and
 * responses, the server, the template engine), shared by its files and by
 * nothing else.
 *
 * Ownership: a server owns its router, its template cache and its
 * libmicrohttpd daemon; a router owns its routes and its problems; a
 * request (one per HTTP request, created by libmicrohttpd's URI callback
 * and freed by its completion callback) owns its body, its response and
 * its match; a template owns its tree of nodes.
 */
#ifndef SH_WEB_INTERNAL_H
#define SH_WEB_INTERNAL_H

#include <stdatomic.h>

#include <sighost/error.h>
#include <sighost/pool.h>
#include <sighost/template.h>
#include <sighost/web.h>

#include "base/suggest.h"

#define SH__COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- growable byte buffer (buf.c) ------------------------------------- */

/* A byte string that grows; `data` is NUL-terminated whenever len > 0 or
 * after sh__wbuf_finish. */
typedef struct sh__wbuf {
	char *data;
	size_t len;
	size_t cap;
} sh__wbuf;

/* Appends `n` bytes. Returns 0 or SH_ENOMEM (the buffer is unchanged). */
int sh__wbuf_add(sh__wbuf *buf, const void *bytes, size_t n);

/* Appends a C string. */
int sh__wbuf_puts(sh__wbuf *buf, const char *s);

/* Appends printf-style text. */
int sh__wbuf_printf(sh__wbuf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Makes sure data is a NUL-terminated string ("" for an empty buffer).
 * Returns 0 or SH_ENOMEM. */
int sh__wbuf_finish(sh__wbuf *buf);

/* Frees the buffer's memory and empties it. */
void sh__wbuf_dispose(sh__wbuf *buf);

/* ---- problems (problems.c) -------------------------------------------- */

/* Problems found by the router and the server, as sh_problem records. */
typedef struct sh__wproblems {
	sh_problem *items;
	size_t count;
	size_t capacity;
} sh__wproblems;

/* Records a problem at (file, line, column); file may be NULL. Returns the
 * problem's code, or SH_ENOMEM when it could not be recorded. */
int sh__wproblem_add(sh__wproblems *problems, int code, const char *file, unsigned line,
	unsigned column, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Records a problem at the position of `where` (may be NULL). */
int sh__wproblem_at(sh__wproblems *problems, int code, const sh_value *where,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

void sh__wproblems_dispose(sh__wproblems *problems);


/* True for [A-Za-z_][A-Za-z0-9_]* of at most `max` bytes. */
bool sh__is_identifier(const char *s, size_t max);

/* ---- path patterns (pattern.c) ---------------------------------------- */

#define SH__MAX_PARAMS 16
#define SH__MAX_PATTERN 1024

typedef enum sh__conv {
	SH__CONV_STR,
	SH__CONV_INT,
	SH__CONV_SLUG,
	SH__CONV_UUID,
	SH__CONV_PATH
} sh__conv;

/* One piece of a pattern: literal text, or a parameter. */
typedef struct sh__piece {
	const char *text;   /* literal: into pattern->source; NULL for a parameter */
	size_t len;
	int param;          /* parameter index, -1 for a literal */
} sh__piece;

typedef struct sh__pattern {
	char *source;       /* as written: "/alerts/<int:id>" */
	char *shape;        /* parameter names dropped: "/alerts/<int>", for conflicts */
	sh__piece *pieces;
	size_t piece_count;
	char *names[SH__MAX_PARAMS];
	sh__conv convs[SH__MAX_PARAMS];
	size_t param_count;
} sh__pattern;

/* Why a pattern is bad, and where (0-based byte offset into it). */
typedef struct sh__pattern_error {
	char text[256];
	size_t at;
} sh__pattern_error;

/* Compiles `source` into *out. Returns 0, SH_EINVAL for a bad pattern
 * (described in *err; *out is left empty), SH_ENOMEM. */
int sh__pattern_compile(sh__pattern *out, const char *source, sh__pattern_error *err);

void sh__pattern_dispose(sh__pattern *pattern);

/* Returns the name of a converter ("int"). */
const char *sh__conv_name(sh__conv conv);

/* A path matched against a pattern: each parameter's span in the path. */
typedef struct sh__spans {
	size_t start[SH__MAX_PARAMS];
	size_t len[SH__MAX_PARAMS];
	int64_t ints[SH__MAX_PARAMS];
} sh__spans;

/* Matches the whole of `path` against the pattern, storing the spans and
 * the converted int parameters. An int that overflows int64_t does not
 * match (Django's converter raising ValueError). */
bool sh__pattern_match(const sh__pattern *pattern, const char *path, sh__spans *spans);

/* ---- routes (routes.c, router.c) -------------------------------------- */

/* Methods as bits. */
enum {
	SH__GET = 1u << 0,
	SH__HEAD = 1u << 1,
	SH__POST = 1u << 2,
	SH__PUT = 1u << 3,
	SH__PATCH = 1u << 4,
	SH__DELETE = 1u << 5,
	SH__OPTIONS = 1u << 6
};

/* Returns the bit of a method name (exact, uppercase), 0 when unknown. */
unsigned sh__method_bit(const char *method);

/* Writes the methods of `mask` as "GET, HEAD, POST" (HEAD added where GET
 * is). Returns as snprintf. */
int sh__methods_text(char *buf, size_t size, unsigned mask);

struct sh_route {
	sh__pattern pattern;
	sh_app *app;
	char *view;                 /* NULL for a model route */
	char *model;                /* NULL for a view route */
	unsigned methods;           /* as written; HEAD is implied by GET when matching */
	bool login_required;
	unsigned anonymous;         /* model routes: methods open without a token */
	int atomic;                 /* -1 unset, 0, 1 */
	sh_view_fn fn;              /* set by sh_router_resolve */
	const sh_value *where;      /* the route's map, for messages */
	const sh_value *view_value; /* its `view`, for resolve problems */
	/* model routes, set by sh_router_resolve (model_api_routes.c) */
	const sh_model *model_ref;  /* the model of `model` */
	int model_kind;             /* SH__API_COLLECTION, _ITEM, _RELATION */
	char *relation;             /* _RELATION: the many-to-many name */
	const sh_model *related;    /* _RELATION: the model at its other end */
};

struct sh_router {
	sh_route **routes;
	size_t count;
	size_t capacity;
	sh__wproblems problems;
};

/* The outcome of matching a request. */
typedef struct sh__match {
	const sh_route *route;      /* the route that answers, NULL for 404/405 */
	unsigned allow;             /* methods of every route whose pattern matched */
	sh__spans spans;
	char *texts;                /* the parameters' texts, NUL-separated; owned */
	const char *param_text[SH__MAX_PARAMS];
} sh__match;

/* Matches like sh_router_match into `m` (which the caller disposes). */
int sh__router_match(sh__match *m, const sh_router *router, const char *method,
	const char *path);

void sh__match_dispose(sh__match *m);

/* Parameter lookups shared by requests and public matches. */
const char *sh__match_param(const sh__match *m, const char *name, int *index);

/* ---- the JSON API of models (model_api*.c) ---------------------------- */

/* What a model route answers, from its pattern: no parameter (the
 * collection), one <int:...> at the end (an item), or an <int:...>
 * followed by "/NAME" where NAME is a many-to-many relation. */
enum {
	SH__API_COLLECTION = 1,
	SH__API_ITEM,
	SH__API_RELATION
};

/* Resolves a model route (its model, its kind, its methods), recording
 * problems at the route's `model` or `path`. Sets route->fn to
 * sh__model_api when the route is fine. Returns 0, or SH_EMANIFEST after
 * recording a problem. */
int sh__model_route_resolve(sh_router *router, sh_route *route);

/* The view that answers every model route. */
int sh__model_api(sh_request *request, sh_http_response *response, void *payload);

/* ---- templates (template_*.c) ----------------------------------------- */

typedef struct sh__node sh__node;

struct sh_template {
	char *name;                 /* "pages/index.html" */
	char *origin;               /* the file, NULL for a compiled string */
	sh_signal *signal;          /* template_rendered, NULL without a hub */
	const sh_sender *sender;    /* "template:<name>" */
	sh__node *root;             /* the top-level node list */
};

struct sh_context {
	const json_t *json;
};

/* Parses `source` into a node list (template_parse.c). `label` names the
 * template in messages (its file, or its name). Returns 0 with *out, or
 * SH_EINVAL (syntax error, "label:line:col: ..." in the error channel),
 * SH_ENOMEM. */
int sh__template_parse(sh__node **out, const char *label, const char *source, size_t length);

/* Compiles a template read from the file `origin` (template_render.c):
 * sh_template_compile() with the origin kept and named in messages. */
int sh__template_load(sh_template **out, sh_hub *hub, const char *name, const char *origin,
	const char *source, size_t length);

/* Frees a node list. */
void sh__nodes_free(sh__node *nodes);

/* Renders a node list with `context` into `out` (template_render.c). */
int sh__nodes_render(sh__wbuf *out, const sh__node *nodes, const json_t *context);

/* Appends `text` HTML-escaped (Django's escape()). */
int sh__html_escape(sh__wbuf *out, const char *text, size_t len);

/* ---- requests and responses (request.c, response.c) ------------------- */

typedef struct sh__owned_header {
	char *name;
	char *value;
} sh__owned_header;

struct sh_http_response {
	sh_request *request;
	int status;
	sh__owned_header *headers;
	size_t header_count;
	size_t header_capacity;
	sh__wbuf body;
};

/* Empties a response back to 200, no header, no body. */
void sh__response_reset(sh_http_response *response);

struct sh_server;

struct sh_request {
	struct sh_server *server;
	void *connection;           /* struct MHD_Connection */
	char *raw_uri;              /* as sent, query included */
	const char *method;         /* libmicrohttpd's, valid for the request */
	const char *path;
	const char *version;        /* "HTTP/1.1" */
	const char *query_string;   /* into raw_uri, "" when none */
	sh_header *headers;         /* strings are libmicrohttpd's */
	size_t header_count;
	sh_header *query;
	size_t query_count;
	size_t query_params_sent;   /* counted in the request line; past the bound: 400 */
	char remote_addr[64];
	sh__wbuf body;
	uint64_t body_limit;
	bool too_large;             /* the body is past max_body_size: 413 */
	bool failed;                /* out of memory while reading it: 500 */
	bool begun;                 /* the access handler saw the headers */
	bool started;               /* request_started was sent */
	bool answered;              /* a response was queued */
	bool json_done;
	json_t *json;
	char *user;                 /* the token's user, NULL when anonymous */
	sh__match match;
	sh_app *app;
	sh_http_response response;
};

/* Authenticates the request from its Authorization header (auth.c):
 * "Token KEY" or "Bearer KEY". Sets request->user for a valid key.
 * Returns 0 (authenticated, or no credentials of these schemes: anonymous),
 * 1 when credentials of these schemes were given and are not valid (401),
 * or a negative code when the database failed (500). */
int sh__request_authenticate(sh_request *request);

/* Frees what a request owns (not the request's libmicrohttpd strings). */
void sh__request_free(sh_request *request);

/* ---- the server (server.c, server_config.c, handler.c) ---------------- */

typedef struct sh__server_config {
	char *host;                 /* "127.0.0.1", "::1" */
	char *port;                 /* "8000" */
	unsigned threads;
	uint64_t max_body_size;
	unsigned request_timeout;
	unsigned silent_timeout;    /* seconds a new connection may send nothing */
	unsigned max_connections;   /* in total */
	unsigned max_connections_per_ip;
	bool atomic_requests;
	bool access_log;            /* one log line per request */
	unsigned async_threads;     /* workers of the pool for async receivers */
	size_t async_queue;         /* jobs that may wait in it */
} sh__server_config;

struct sh_server {
	sh_project *project;
	sh_hub *hub;
	sh_router *router;
	sh_templates *templates;
	sh__wproblems problems;     /* the settings' (the router keeps its own) */
	sh__server_config config;
	const sh_sender *handler;   /* "sighost.handler" */
	sh_signal *request_started;
	sh_signal *request_finished;
	sh_signal *got_request_exception;
	void *daemon;               /* struct MHD_Daemon */
	int listen_fd;
	unsigned bound_port;
	atomic_bool stopping;
	atomic_size_t in_flight;
	sh_pool *pool;              /* the hub's executor while the server runs */
	struct sh__reaper *reaper;  /* cuts off slow clients while it runs (server.c) */
};

/* Reads the server keys of the project manifest and `opts` into the
 * server's config, recording problems (server_config.c). Returns 0 or
 * SH_ENOMEM. */
int sh__server_config_read(sh_server *server, const sh_server_opts *opts);

void sh__server_config_dispose(sh__server_config *config);

/* Sets the argument copiers of request_started, got_request_exception and
 * template_rendered on `hub` (copiers.c), so async receivers can hear
 * them. Returns 0 or a negative code. */
int sh__web_set_copiers(sh_hub *hub);

#endif
