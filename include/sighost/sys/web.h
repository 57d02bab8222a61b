/*
 * sys/web.h: the router and the HTTP server behind `sighost serve` (host
 * only). A plugin sees ../web.h: views, requests, responses, tokens.
 */
#ifndef SIGHOST_SYS_WEB_H
#define SIGHOST_SYS_WEB_H

#include "../web.h"
#include "project.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One token as sh_token_list() shows it: never its key (not stored) nor
 * its hash. The strings are valid only during the callback. */
typedef struct sh_token_info {
	int64_t id;
	const char *user;
	const char *created;     /* "YYYY-MM-DDTHH:MM:SSZ", UTC */
	const char *last_used;   /* the same, to the minute; NULL when never used */
} sh_token_info;

/* A callback of sh_token_list(): returns 0 to go on, non-zero to stop. */
typedef int (*sh_token_fn)(const sh_token_info *token, void *payload);

/*
 * Calls fn for every token, oldest first (creating the table when
 * needed). Returns 0, fn's value when it stopped the walk, SH_EINVAL for a
 * NULL argument, SH_EDB.
 */
SH_API int sh_token_list(sh_token_fn fn, void *payload, sh_conn *db);

/*
 * Deletes the token whose id is `id_or_user` (digits) or every token of
 * the user so named. Returns how many were deleted (> 0), SH_ENOTFOUND
 * when none matched, SH_EINVAL for a NULL argument, SH_EDB.
 */
SH_API int sh_token_revoke(sh_conn *db, const char *id_or_user);

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
/* ---- introspection ------------------------------------------------------ */

/*
 * Describes a loaded project as the dashboard's JSON endpoint does (see
 * docs/dashboard.md for every key): its apps (label, plugin file, ABI,
 * load and ready() times, probe verdict), every signal with its receivers
 * in call order, the models with their row counts, the migrations with
 * whether each is applied, and every setting with its origin. Without a
 * running dashboard the receivers carry no call statistics. Reads only:
 * nothing is written and no signal is sent. Stores a new JSON object in
 * *out, which the caller releases with json_decref(); a part that cannot
 * be read (a table not migrated yet, the migration files) says why in the
 * document rather than failing it. Returns 0, SH_EINVAL for a NULL
 * argument, SH_ENOMEM (then *out is NULL).
 */
SH_API int sh_introspect_project(json_t **out, sh_project *project);


#ifdef __cplusplus
}
#endif

#endif
