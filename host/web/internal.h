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
#include <sighost/sys/web.h>

#include "base/suggest.h"
#include "base/text.h"
#include "manifest/manifest.h"
#include "dash.h"

#define SH__COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- growable byte buffer (buf.c) ------------------------------------- */

/* A byte string that grows; `data` is NUL-terminated whenever len > 0 or
 * after sh_web__wbuf_finish. */
typedef struct sh__wbuf {
	char *data;
	size_t len;
	size_t cap;
} sh__wbuf;

/* Appends `n` bytes. Returns 0 or SH_ENOMEM (the buffer is unchanged). */
int sh_web__wbuf_add(sh__wbuf *buf, const void *bytes, size_t n);

/* Appends a C string. */
int sh_web__wbuf_puts(sh__wbuf *buf, const char *s);

/* Appends printf-style text. */
int sh_web__wbuf_printf(sh__wbuf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Makes sure data is a NUL-terminated string ("" for an empty buffer).
 * Returns 0 or SH_ENOMEM. */
int sh_web__wbuf_finish(sh__wbuf *buf);

/* Frees the buffer's memory and empties it. */
void sh_web__wbuf_dispose(sh__wbuf *buf);

/* ---- problems: sh__problems of manifest.h, with raise_each set ---------- */


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
int sh_web__pattern_compile(sh__pattern *out, const char *source, sh__pattern_error *err);

void sh_web__pattern_dispose(sh__pattern *pattern);

/* A path matched against a pattern: each parameter's span in the path. */
typedef struct sh__spans {
	size_t start[SH__MAX_PARAMS];
	size_t len[SH__MAX_PARAMS];
	int64_t ints[SH__MAX_PARAMS];
} sh__spans;

/* Matches the whole of `path` against the pattern, storing the spans and
 * the converted int parameters. An int that overflows int64_t does not
 * match (Django's converter raising ValueError). */
bool sh_web__pattern_match(const sh__pattern *pattern, const char *path, sh__spans *spans);

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
unsigned sh_web__method_bit(const char *method);

/* Writes the methods of `mask` as "GET, HEAD, POST" (HEAD added where GET
 * is). Returns as snprintf. */
int sh_web__methods_text(char *buf, size_t size, unsigned mask);

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
	sh__problems problems;
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
int sh_web__router_match(sh__match *m, const sh_router *router, const char *method,
	const char *path);

void sh_web__match_dispose(sh__match *m);

/* Parameter lookups shared by requests and public matches. */
const char *sh_web__match_param(const sh__match *m, const char *name, int *index);

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
 * sh_web__model_api when the route is fine. Returns 0, or SH_EMANIFEST after
 * recording a problem. */
int sh_web__model_route_resolve(sh_router *router, sh_route *route);

/* The view that answers every model route. */
int sh_web__model_api(sh_request *request, sh_http_response *response, void *payload);

/* ---- templates (template_*.c) ----------------------------------------- */

typedef struct sh__node sh__node;

struct sh_template {
	char *name;                 /* "pages/index.html" */
	char *origin;               /* the file, NULL for a compiled string */
	sh_signal *signal;          /* template_rendered, NULL without a hub */
	const sh_sender *sender;    /* "template:<name>" */
	sh__node *root;             /* the top-level node list */
	const sh__node **blocks;    /* every {% block %} node, at any depth */
	size_t block_count;
	bool extends;               /* its first tag is {% extends %} */
	sh_templates *cache;        /* the cache that holds it, NULL for sh_template_compile */
	const sh_app *app;          /* its app in that cache, NULL for a project template */
};

struct sh_context {
	const json_t *json;
};

/* Parses `source` into a node list (template_parse.c). `label` names the
 * template in messages (its file, or its name). Returns 0 with *out, or
 * SH_EINVAL (syntax error, "label:line:col: ..." in the error channel),
 * SH_ENOMEM. */
int sh_web__template_parse(sh__node **out, const char *label, const char *source, size_t length);

/* Compiles a template read from the file `origin` (template_render.c):
 * sh_template_compile() with the origin kept and named in messages. */
int sh_web__template_load(sh_template **out, sh_hub *hub, const char *name, const char *origin,
	const char *source, size_t length);

/* Frees a node list. */
void sh_web__nodes_free(sh__node *nodes);

/* Sends template_rendered for `t` with `context` when it has a hub
 * (template_render.c). Returns 0 or the failing receiver's code. */
int sh_web__template_signal(const sh_template *t, const json_t *context);

/*
 * Finds the template called `name` for a tag ({% extends %}, {% include %})
 * of template `from` (template_cache.c): in the cache that holds `from`,
 * the name of from's app first, then the project's templates folder (when
 * the cache has one), skipping the templates in skip[] (Django's extends
 * history). Returns 0 with *out; SH_EEXISTS when every template of that
 * name was skipped (a cycle); SH_ENOTFOUND; SH_EINVAL when `from` was
 * compiled from a string (no cache) or the name is refused; the errors of
 * sh_templates_get().
 */
int sh_web__template_find(const sh_template **out, const sh_template *from, const char *name,
	const sh_template *const *skip, size_t nskip);

/* Appends `text` HTML-escaped (Django's escape()). */
int sh_web__html_escape(sh__wbuf *out, const char *text, size_t len);

/* ---- requests and responses (request.c, response.c) ------------------- */

typedef struct sh__owned_header {
	char *name;
	char *value;
} sh__owned_header;

/* A streamed body as the view gave it (sh_http_response_stream). */
typedef struct sh__stream_spec {
	sh_stream_fn next;          /* NULL: the body is `body` */
	sh_stream_close_fn close;   /* may be NULL */
	void *payload;
} sh__stream_spec;

struct sh_http_response {
	sh_request *request;
	int status;
	sh__owned_header *headers;
	size_t header_count;
	size_t header_capacity;
	sh__wbuf body;
	sh__stream_spec stream;     /* until the response is queued (then request->stream) */
};

/* Makes `body` (JSON text the caller wrote) the response's body, with
 * `status` and Content-Type application/json; takes it (*body is emptied,
 * also on failure). Returns 0 or SH_ENOMEM. */
int sh_web__response_json_text(sh_http_response *response, int status, sh__wbuf *body);

/* Empties a response back to 200, no header, no body; a stream it holds
 * is closed (its close callback runs). */
void sh_web__response_reset(sh_http_response *response);

struct sh__stream;

/* Closes the request's stream, queued or not (stream.c): its close
 * callback runs once. Called before request_finished (Django's
 * response.close() runs the closers, then sends it). */
void sh_web__stream_close(sh_request *request);

/* Closes and frees request->stream. */
void sh_web__stream_free(sh_request *request);

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
	struct sh__stream *stream;  /* the streamed body once queued (stream.c), NULL when none */
	/* group commit: the view's commits are not durable yet (handler.c) */
	struct sh_durable *durable; /* the wait; the connection is suspended */
	int view_rc;                /* what the view returned meanwhile */
	char *view_failure;         /* and its failure's message, when it failed */
};

/* Authenticates the request from its Authorization header (auth.c):
 * "Token KEY" or "Bearer KEY". Sets request->user for a valid key.
 * Returns 0 (authenticated, or no credentials of these schemes: anonymous),
 * 1 when credentials of these schemes were given and are not valid (401),
 * or a negative code when the database failed (500). */
int sh_web__request_authenticate(sh_request *request);

/* Authenticates the request with the API key `key` given some other way
 * (the dashboard's cookie). Returns as sh_web__request_authenticate. */
int sh_web__request_authenticate_key(sh_request *request, const char *key);

/* Frees what a request owns (not the request's libmicrohttpd strings). */
void sh_web__request_free(sh_request *request);

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
	sh__dash_config dash;       /* the introspection dashboard (dash.h) */
} sh__server_config;

struct sh_server {
	sh_project *project;
	sh_hub *hub;
	sh_router *router;
	sh_templates *templates;
	sh__problems problems;     /* the settings' (the router keeps its own) */
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
	struct sh__dash *dash;      /* the dashboard while it runs, NULL when off (dash.h) */
};

/* Reads the server keys of the project manifest and `opts` into the
 * server's config, recording problems (server_config.c). Returns 0 or
 * SH_ENOMEM. */
int sh_web__server_config_read(sh_server *server, const sh_server_opts *opts);

void sh_web__server_config_dispose(sh__server_config *config);

/* Sets the argument copiers of request_started, got_request_exception and
 * template_rendered on `hub` (copiers.c), so async receivers can hear
 * them. Returns 0 or a negative code. */
int sh_web__web_set_copiers(sh_hub *hub);

#endif
