/*
 * web.h: the dispatch loop: views, the requests and responses they work on,
 * and (for the host) the router and the HTTP server behind `sighost serve`.
 *
 * A view is a function a plugin exports with SH_VIEW(name); an app manifest
 * routes URL paths to it by that name:
 *
 *     routes:
 *       - path: /alerts/<int:id>
 *         methods: [GET]
 *         view: alert_detail
 *
 *     SH_VIEW(alert_detail)
 *     {
 *         int64_t id;
 *         sh_request_param_int(request, "id", &id);
 *         json_t *body = json_pack("{s:I}", "id", (json_int_t)id);
 *         int rc = sh_http_response_json(response, 200, body);
 *         json_decref(body);
 *         return rc;
 *     }
 *
 * A view returns 0 when it produced its response (any status it set), or a
 * negative code after saying why with sh_error_set(): the client then gets
 * a 500 whose body says nothing of the error, the error is logged, and
 * got_request_exception is sent with the request.
 *
 * Threads. The server runs views on its worker threads, several at once,
 * one request per thread at a time: a view must be safe to run
 * concurrently with itself and with the plugin's other views and receivers.
 * Every signal a request causes (request_started, the model signals of the
 * view, template_rendered, got_request_exception, request_finished) is sent
 * on the thread that runs the view. Each worker thread has its own database
 * connection (the app's, see sh_app_db()), used by that thread only.
 *
 * Ownership. The host owns the request and the response. Both, and every
 * pointer they hand out, are valid only while the view runs (for
 * got_request_exception receivers: during the send), on that thread. The
 * response copies whatever it is given (bodies, headers, JSON).
 */
#ifndef SIGHOST_WEB_H
#define SIGHOST_WEB_H

#include <jansson.h>

#include "app.h"
#include "builtins.h"
#include "common.h"
#include "project.h"
#include "settings.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The response a view fills in. (Not sh_response, which is what a signal
 * send reports of one receiver, see signal.h.) */
typedef struct sh_http_response sh_http_response;

/* A view: see the top of this header. `payload` is what the app stored
 * with sh_app_set_data() (its state), NULL when nothing. */
typedef int (*sh_view_fn)(sh_request *request, sh_http_response *response, void *payload);

/* The prefix of a view's exported symbol: the view `hello` of a manifest is
 * the symbol sh_view_hello of the app's plugin. */
#define SH_VIEW_PREFIX "sh_view_"

/*
 * Defines the view `name` (an identifier), exported from the plugin under
 * SH_VIEW_PREFIX `name` with the sh_view_fn signature, its parameters
 * named request, response and payload. Only symbols defined this way can be
 * routed to, so a manifest cannot route to ready() or any other function.
 */
#define SH_VIEW(name)                                                              \
	SH__PLUGIN_EXPORT int sh_view_##name(sh_request *request,                  \
		sh_http_response *response, void *payload);                        \
	SH__PLUGIN_EXPORT int sh_view_##name(                                      \
		sh_request *request __attribute__((unused)),                       \
		sh_http_response *response __attribute__((unused)),                \
		void *payload __attribute__((unused)))

/* ---- the request ------------------------------------------------------ */

/* Returns the request method as the client sent it ("GET", "POST"). */
SH_API const char *sh_request_method(const sh_request *request);

/* Returns the URL path, percent-decoded, without the query string
 * ("/alerts/12"). */
SH_API const char *sh_request_path(const sh_request *request);

/* Returns the query string as sent (still encoded, without the '?'), ""
 * when there is none. */
SH_API const char *sh_request_query_string(const sh_request *request);

/* Returns the decoded value of the first query parameter called `name`,
 * NULL when there is none ("" for "?flag" or "?flag="). */
SH_API const char *sh_request_query(const sh_request *request, const char *name);

/* Returns how many query parameters the request has (repeats counted). */
SH_API size_t sh_request_query_count(const sh_request *request);

/* Returns the decoded value of query parameter `index` (in the order sent)
 * and stores its name in *name when name is non-NULL; NULL when out of
 * range. */
SH_API const char *sh_request_query_at(const sh_request *request, size_t index,
	const char **name);

/* Returns the value of the first header called `name` (compared without
 * case), NULL when there is none. */
SH_API const char *sh_request_header(const sh_request *request, const char *name);

/* Returns how many headers the request has, and header `index` in the
 * order sent (NULL when out of range). */
SH_API size_t sh_request_header_count(const sh_request *request);
SH_API const sh_header *sh_request_header_at(const sh_request *request, size_t index);

/* Returns the text of the path parameter `name` of the matched route
 * ("12" for <int:id>, "notes/a.txt" for <path:file>), NULL when the route
 * has no such parameter. */
SH_API const char *sh_request_param(const sh_request *request, const char *name);

/* Stores the value of the <int:...> path parameter `name` in *out and
 * returns 0; SH_ENOTFOUND when the route has no such parameter, SH_EINVAL
 * when the parameter is not an int one (*out is left alone then). */
SH_API int sh_request_param_int(const sh_request *request, const char *name, int64_t *out);

/* Returns how many path parameters the matched route has, and the text of
 * parameter `index` in pattern order, with its name in *name when name is
 * non-NULL (NULL when out of range). */
SH_API size_t sh_request_param_count(const sh_request *request);
SH_API const char *sh_request_param_at(const sh_request *request, size_t index,
	const char **name);

/* Returns the request body and stores its length in *length (when length is
 * non-NULL). The body is followed by a NUL byte that the length does not
 * count, so a text body can be read as a string; "" with length 0 when the
 * request has none. */
SH_API const char *sh_request_body(const sh_request *request, size_t *length);

/*
 * Parses the body as JSON (once; later calls return the same value) and
 * stores it in *out, borrowed: the request owns it (json_incref() it to
 * keep it). Returns 0, SH_EINVAL when the body is empty or not JSON (the
 * error channel says where: "request body is not JSON: line 1, column 9:
 * ..."), SH_ENOMEM. A view usually answers 400 then.
 */
SH_API int sh_request_json(const json_t **out, sh_request *request);

/*
 * Returns the value of the first field `name` of an
 * application/x-www-form-urlencoded body ("content=disk+full" gives
 * "disk full"), newly allocated (free with free()); NULL when the body has
 * no such field, is not of that Content-Type, or decodes to text that is
 * not UTF-8 or holds a NUL byte (the error channel says which, SH_ENOTFOUND
 * or SH_EINVAL), or SH_ENOMEM.
 */
SH_API char *sh_request_form(const sh_request *request, const char *name);

/*
 * Returns the authenticated user's name, NULL for an anonymous request.
 * A request is authenticated by an API token (see sh_token_create) in its
 * `Authorization: Token KEY` header (Django REST framework's scheme;
 * `Bearer KEY` is accepted too). Owned by the request.
 */
SH_API const char *sh_request_user(const sh_request *request);

/* Returns the app whose route matched: the app of the view. */
SH_API sh_app *sh_request_app(const sh_request *request);

/* Returns the client's address ("127.0.0.1", "::1"). */
SH_API const char *sh_request_remote_addr(const sh_request *request);

/* Returns the `path` pattern of the matched route ("/alerts/<int:id>"). */
SH_API const char *sh_request_route(const sh_request *request);

/* ---- the response ----------------------------------------------------- */

/*
 * A response starts as 200 with no header and an empty body; when no
 * Content-Type is set, the server sends "text/html; charset=utf-8", as
 * Django does. A view that fails (returns < 0) has its response thrown away.
 */

/* Sets the status code. Returns 0, or SH_EINVAL (status unchanged) when
 * `status` is not in 200..599. */
SH_API int sh_http_response_set_status(sh_http_response *response, int status);

/* Returns the status code set so far. */
SH_API int sh_http_response_status(const sh_http_response *response);

/*
 * Sets header `name` to `value`, replacing every header of that name
 * (compared without case); copies both. Returns 0, SH_EINVAL when the name
 * is empty or not an HTTP token, or the value holds CR, LF or another
 * control character other than tab (no header injection), SH_ENOMEM.
 * Content-Length and Connection are the server's: SH_EINVAL for them.
 */
SH_API int sh_http_response_set_header(sh_http_response *response, const char *name,
	const char *value);

/* Adds a header like sh_http_response_set_header() without removing the
 * ones of the same name (Set-Cookie). Same returns. */
SH_API int sh_http_response_add_header(sh_http_response *response, const char *name,
	const char *value);

/* Returns the value of the first header called `name` set so far, NULL
 * when none. */
SH_API const char *sh_http_response_header(const sh_http_response *response, const char *name);

/* Replaces the body by a copy of `length` bytes at `data` (data may be
 * NULL when length is 0). Returns 0 or SH_ENOMEM. */
SH_API int sh_http_response_set_body(sh_http_response *response, const void *data,
	size_t length);

/* Appends a copy of `length` bytes at `data` to the body. Returns 0 or
 * SH_ENOMEM. */
SH_API int sh_http_response_write(sh_http_response *response, const void *data, size_t length);

/* Sets status, Content-Type "text/plain; charset=utf-8" and the body to
 * `text`. Returns 0, SH_EINVAL (bad status or NULL text), SH_ENOMEM. */
SH_API int sh_http_response_text(sh_http_response *response, int status, const char *text);

/* Sets status, Content-Type "application/json" and the body to `value`
 * serialised compactly (key order kept). `value` stays the caller's.
 * Returns 0, SH_EINVAL (bad status, NULL value, or a value jansson cannot
 * encode), SH_ENOMEM. */
SH_API int sh_http_response_json(sh_http_response *response, int status, const json_t *value);

/*
 * Renders the template `name` of the request's app (the file
 * templates/<app label>/<name> beside its manifest, see template.h) with
 * `context` (a JSON object, or NULL for an empty one), sending
 * template_rendered, and sets status, Content-Type
 * "text/html; charset=utf-8" and the body to the result. Returns 0,
 * SH_EINVAL (bad status, a refused name, a context that is not an object,
 * a syntax error naming file, line and column), SH_ENOTFOUND (no such
 * template), SH_EIO, SH_ENOMEM, or a failing template_rendered receiver's
 * code. The response is unchanged on failure.
 */
SH_API int sh_http_response_render(sh_http_response *response, int status, const char *name,
	const json_t *context);

/* ---- API tokens ------------------------------------------------------- */

/*
 * API tokens authenticate requests (`Authorization: Token KEY`). A token is
 * 32 random bytes shown once as 64 lowercase hex digits (the key); the
 * database keeps only the SHA-256 of the key, in the host-owned table
 * sighost_token (id, user, key_hash, created), created when first needed.
 * A user is any name of 1 to 150 characters of UTF-8 without control
 * characters (there is no user table: a token names its user).
 */

/* The table of API tokens. */
#define SH_TOKEN_TABLE "sighost_token"

/* The query parameters a request may have: more is answered 400 "too
 * many query parameters" before libmicrohttpd stores them (their records
 * would fill the connection's memory, and the request got no answer). */
#define SH_MAX_QUERY_PARAMS 100

/* The length of a key, in hex digits. */
#define SH_TOKEN_KEY_LENGTH 64

/* The longest user name, in characters (Django's username max_length).
 * A model that stores the user of a request (sh_request_user) needs a
 * text field of at least this max_length: the alert example's Owner.name
 * has it. */
#define SH_USER_MAX 150

/* The one check of a user name, made by sh_token_create() (and so by
 * `sighost createtoken`): true for UTF-8 text of 1 to SH_USER_MAX
 * characters without control characters; false for NULL. */
SH_API bool sh_user_valid(const char *user);

/* Creates the token table when it does not exist (CREATE TABLE IF NOT
 * EXISTS) and checks that one that exists was made so (sh_db_host_table).
 * Returns 0, SH_EDB for a table made another way, or SQLite's error. */
SH_API int sh_token_table_ensure(sh_db *db);

/*
 * Creates a token for `user` (creating the table when needed) and stores
 * its key, NUL-terminated and newly allocated, in *out: the only time the
 * key exists outside the client (free it with free()). Returns 0,
 * SH_EINVAL for a bad user name, SH_EIO when the system gives no random
 * bytes, SH_EDB, SH_ENOMEM; *out is NULL on failure.
 */
SH_API int sh_token_create(char **out, sh_db *db, const char *user);

/*
 * Looks `key` up: hashes it and compares the hash with the stored one in
 * constant time. Stores the token's user, newly allocated (free()), in *out
 * and returns 0 for a valid key; SH_ENOTFOUND for a key that is not one
 * (wrong length or digits, unknown, or no token table), SH_EDB, SH_ENOMEM.
 * *out is NULL on failure.
 */
SH_API int sh_token_authenticate(char **out, sh_db *db, const char *key);

/* ---- the router (host side) ------------------------------------------- */

/*
 * The routes of every app, from the `routes:` list of their manifests, in
 * app load order and then file order. Each route is a path pattern with
 * typed parameters, the methods it answers and what answers them:
 *
 *   path            "/alerts/<int:id>"; converters as Django's: int
 *                   ([0-9]+, fits in int64_t), str (default; no '/'), slug
 *                   ([-A-Za-z0-9_]+), uuid (lowercase 8-4-4-4-12 hex), path
 *                   (anything, '/' included, not empty)
 *   methods         [GET] by default; HEAD is answered wherever GET is
 *   view: NAME      the SH_VIEW(NAME) of the app's plugin
 *   model: app.M    the generic JSON API of a model (docs/web.md): the
 *                   path has no parameter (the collection: GET lists,
 *                   POST creates), one <int:...> at its end (an item: GET,
 *                   PUT, PATCH, DELETE), or <int:...>/NAME with NAME a
 *                   many-to-many relation (GET, POST add/remove, DELETE
 *                   clears)
 *   login_required  true: requests without a valid API token get 401
 *                   (view routes; a model route always needs a token)
 *   anonymous       model routes: the methods that clients without a
 *                   token may call, e.g. [GET] (HEAD goes with GET);
 *                   every other method of a model route answers 401
 *                   without a valid API token. Not on view routes.
 *   atomic          true/false: overrides the project's atomic_requests
 *
 * A request goes to the first route whose pattern matches its path and
 * whose methods include its method; when patterns match but none allows
 * the method the answer is 405 with Allow; when none matches, 404. Two
 * routes with the same pattern (parameter names aside) and a method in
 * common conflict, which is a problem.
 */
typedef struct sh_router sh_router;
typedef struct sh_route sh_route;
typedef struct sh_route_match sh_route_match;

/* Creates an empty router. Returns 0 and stores it in *out, or SH_ENOMEM.
 * Free with sh_router_free(). */
SH_API int sh_router_new(sh_router **out);

/* Frees a router and its routes and problems. NULL is a no-op. */
SH_API void sh_router_free(sh_router *router);

/*
 * Reads and validates the `routes:` of the app's manifest and adds its
 * valid routes. Every problem is recorded (with file, line and column), not
 * only the first: unknown keys (with a suggestion), wrong types, bad
 * patterns, unknown methods, a route with both or neither of view and
 * model, conflicts with routes added before. Returns 0 when the app added
 * no problem, SH_EMANIFEST when it did (the error channel has the first),
 * SH_EINVAL for NULL arguments, SH_ENOMEM.
 */
SH_API int sh_router_add_app(sh_router *router, sh_app *app);

/*
 * Finds the function of every view route in its app's loaded plugin
 * (sh_app_symbol of SH_VIEW_PREFIX + name). A view that cannot be found, or
 * an app without a plugin, is a problem at the route's `view`. Resolves
 * every model route against the model registry of the loaded project: an
 * unknown model, a path that is none of the three shapes above, an unknown
 * relation, or a method the shape does not answer is a problem. Returns 0,
 * or SH_EMANIFEST when a problem was recorded.
 */
SH_API int sh_router_resolve(sh_router *router);

/* Returns how many problems were recorded, and problem `index` (NULL when
 * out of range). Owned by the router. */
SH_API size_t sh_router_problem_count(const sh_router *router);
SH_API const sh_problem *sh_router_problem(const sh_router *router, size_t index);

/* Returns how many routes the router holds, and route `index` in matching
 * order (NULL when out of range). Owned by the router. */
SH_API size_t sh_router_route_count(const sh_router *router);
SH_API const sh_route *sh_router_route_at(const sh_router *router, size_t index);

/* A route's pattern, app, view name (NULL for a model route), model label
 * (NULL for a view route), login_required, and atomic (-1 when the route
 * does not say, else 0 or 1). Strings are owned by the router. */
SH_API const char *sh_route_path(const sh_route *route);
SH_API sh_app *sh_route_app(const sh_route *route);
SH_API const char *sh_route_view(const sh_route *route);
SH_API const char *sh_route_model(const sh_route *route);
SH_API bool sh_route_login_required(const sh_route *route);
SH_API int sh_route_atomic(const sh_route *route);

/* Returns true when a request of `method` without a valid API token may
 * reach the route: a view route unless login_required, a model route for
 * the methods its `anonymous` lists (HEAD where GET). */
SH_API bool sh_route_open_to_anonymous(const sh_route *route, const char *method);

/*
 * The one predicate for "this route lets anonymous clients write": returns
 * how many of POST, PUT, PATCH and DELETE a model route's `anonymous`
 * opens (0 for a view route: its view decides, see login_required) and,
 * when buf is non-NULL, writes their names ("POST, DELETE") into buf
 * (size bytes, NUL-terminated, truncated when short). `sighost check`
 * warns about every route for which it is not 0.
 */
SH_API int sh_route_anonymous_writes(char *buf, size_t size, const sh_route *route);

/* Returns true when the route answers `method` (HEAD where GET is). */
SH_API bool sh_route_allows(const sh_route *route, const char *method);

/* Writes the route's methods, comma-separated ("GET, HEAD, POST"), into
 * buf (at most `size` bytes, NUL-terminated when size > 0). Returns the
 * length of the full text, as snprintf does. */
SH_API int sh_route_methods(char *buf, size_t size, const sh_route *route);

/*
 * Matches `method` and `path` (decoded, without query) against the routes
 * and stores the result in *out (free with sh_route_match_free), whatever
 * the outcome. Returns 0 when a route answers (sh_route_match_route),
 * SH_ENOTFOUND when no pattern matches (404), SH_EPERM when patterns match
 * but none allows the method (405; sh_route_match_allow lists the methods),
 * SH_EINVAL for NULL arguments, SH_ENOMEM (then *out is NULL).
 */
SH_API int sh_router_match(sh_route_match **out, const sh_router *router, const char *method,
	const char *path);

/* Frees a match. NULL is a no-op. */
SH_API void sh_route_match_free(sh_route_match *match);

/* The matched route, NULL unless sh_router_match returned 0. */
SH_API const sh_route *sh_route_match_route(const sh_route_match *match);

/* The methods of every route whose pattern matched ("GET, HEAD, POST"),
 * "" when none. Owned by the match. */
SH_API const char *sh_route_match_allow(const sh_route_match *match);

/* The path parameters of the matched route, as sh_request_param_*. */
SH_API size_t sh_route_match_param_count(const sh_route_match *match);
SH_API const char *sh_route_match_param_at(const sh_route_match *match, size_t index,
	const char **name);
SH_API int sh_route_match_param_int(const sh_route_match *match, const char *name,
	int64_t *out);

/* ---- the server (host side) ------------------------------------------- */

/*
 * The HTTP server of `sighost serve`, on libmicrohttpd: a listening socket,
 * a pool of worker threads, the router and the template cache. Settings
 * come from the project manifest, with these top-level keys:
 *
 *   listen           "HOST:PORT" ("[::1]:8000" for IPv6); 127.0.0.1:8000.
 *                    Port 0 picks a free port (see sh_server_port).
 *   threads          worker threads, 1..256; 4
 *   max_body_size    bytes a request body may have, 0..1 GiB; 2621440
 *                    (Django's DATA_UPLOAD_MAX_MEMORY_SIZE). Larger: 413.
 *   request_timeout  seconds a connection may stay idle (a slow client
 *                    included) before it is closed, 1..3600; 30
 *   atomic_requests  run each view in one transaction of its thread's
 *                    connection (Django's ATOMIC_REQUESTS): committed when
 *                    the view succeeds, rolled back when it fails (then a
 *                    failed request writes nothing); false. A route's
 *                    `atomic` overrides it.
 *   async_threads    threads of the pool that runs async receivers
 *                    (signal.h) while the server runs, 1..256; 2
 *   async_queue      jobs that may wait for them, 1..1048576; 1024. When
 *                    it is full the sending thread runs the job itself.
 *
 * Per request: request_started (sender "sighost.handler", the environ),
 * routing (404, 405), authentication (an Authorization header of the
 * Token or Bearer scheme whose key is not valid: 401), login_required
 * (401), the view or the JSON API of a model route (in its transaction
 * when atomic; a failed commit fails the request), got_request_exception when the view fails (sender NULL, as
 * Django's; the client gets a 500), and request_finished (sender
 * "sighost.handler") once the response has been sent or the connection
 * ended. Malformed requests get 400 from libmicrohttpd and send nothing.
 * Each response is logged through the hub's logger at SH_LOG_INFO
 * ("\"GET /hello HTTP/1.1\" 200 5"); failures at SH_LOG_ERROR.
 */
typedef struct sh_server sh_server;

/* Options of sh_server_new(); fields left at their zero value take the
 * project manifest's setting. Initialise with SH_SERVER_OPTS_INIT. */
typedef struct sh_server_opts {
	unsigned int version;   /* SH_SERVER_OPTS_VERSION */
	const char *listen;     /* "HOST:PORT", overrides the manifest's; copied */
	unsigned int threads;   /* overrides the manifest's when non-zero */
} sh_server_opts;

#define SH_SERVER_OPTS_VERSION 1
#define SH_SERVER_OPTS_INIT { SH_SERVER_OPTS_VERSION, NULL, 0 }

/* The sender of request_started and request_finished. */
#define SH_HANDLER_SENDER "sighost.handler"

/*
 * Creates a server for a project that was read and loaded: reads the server
 * settings of the project manifest and `opts` (may be NULL), then the
 * routes of every installed app, and resolves their views. Every problem
 * is recorded (see sh_server_problem), not only the first. Stores the
 * server in *out, also when it has problems (the caller frees it); *out is
 * NULL only after an argument error or SH_ENOMEM. Returns 0; the first
 * problem's code when there are problems
 * (SH_EMANIFEST for the manifests, SH_EINVAL for a bad value in `opts`),
 * with its text in the error channel; SH_EINVAL for a NULL project or an
 * opts version this library does not know; SH_ENOMEM. The project must
 * outlive the server.
 */
SH_API int sh_server_new(sh_server **out, sh_project *project, const sh_server_opts *opts);

/* Returns how many problems sh_server_new() recorded, and problem `index`
 * (NULL when out of range). Owned by the server. */
SH_API size_t sh_server_problem_count(const sh_server *server);
SH_API const sh_problem *sh_server_problem(const sh_server *server, size_t index);

/* Returns the server's router. */
SH_API const sh_router *sh_server_router(const sh_server *server);

/*
 * Creates the token table (sh_token_table_ensure) on the calling thread's
 * connection when the project has a database, then binds the listening
 * socket and starts the worker threads; requests are served from then on. Call it from the thread that will call
 * sh_server_stop(), with the signals the caller handles blocked (the
 * worker threads inherit the mask). Returns 0, SH_EIO when the address
 * cannot be bound or the server cannot start (the error channel says why,
 * naming the address), SH_EDB when the token table cannot be created,
 * SH_EINVAL when the server has problems or was started already.
 *
 * It also starts the pool of async receivers (async_threads, async_queue)
 * and makes it the hub's executor (sh_hub_set_executor), replacing any
 * other, until sh_server_stop(). The server sets argument copiers for
 * request_started, got_request_exception (a detached copy of the request)
 * and template_rendered when it is created (see docs/web.md).
 */
SH_API int sh_server_start(sh_server *server);

/* Returns the listen host as configured ("127.0.0.1"), and the port bound
 * (the real one when the configuration said 0; the configured one before
 * sh_server_start). */
SH_API const char *sh_server_host(const sh_server *server);
SH_API unsigned sh_server_port(const sh_server *server);

/*
 * Stops gracefully: stops accepting connections, lets the requests in
 * flight finish (waiting at most request_timeout seconds), then closes
 * every connection and joins the worker threads; then drains the pool of
 * async receivers (every job queued so far runs), joins its threads and
 * clears the hub's executor (async receivers run inline from then on). No
 * view and no async receiver runs after it returns, so the project's
 * plugins can be unloaded. A no-op when the server is not running.
 */
SH_API void sh_server_stop(sh_server *server);

/* Stops the server when it runs, then frees it. NULL is a no-op. Free the
 * server before its project. */
SH_API void sh_server_free(sh_server *server);

#ifdef __cplusplus
}
#endif

#endif
