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
 * got_request_exception is sent with the request. The code SH_EHTTP404
 * (return sh_http_not_found("No alert %lld", id)) is Django's
 * `raise Http404`: the client gets the same 404 as for a path no route
 * matches, nothing is logged as an error and got_request_exception is not
 * sent. A 404 or a 500 answered by the host renders the project's
 * templates/404.html or templates/500.html when it has them (Django's
 * page_not_found and server_error, see docs/web.md).
 *
 * Threads. The server runs views on its worker threads, several at once,
 * one request per thread at a time: a view must be safe to run
 * concurrently with itself and with the plugin's other views and receivers.
 * Every signal a request causes (request_started, the model signals of the
 * view, template_rendered, got_request_exception, request_finished) is sent
 * on the thread that runs the view. Each worker thread has its own database
 * connection (the app's, see sh_app_conn()), used by that thread only.
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
/*
 * Django's `raise Http404(message)` for a view: records SH_EHTTP404 with
 * the printf-style message (NULL or "" for none) in the error channel and
 * returns SH_EHTTP404, so a view writes `return sh_http_not_found(...)`.
 * The server then answers 404 as for an unmatched path: the project's
 * 404.html rendered with {"request_path": the quoted path, "exception":
 * the message, or "Http404" without one}, else the built-in page. A route
 * running in a transaction (atomic) has it rolled back, as an exception
 * leaving Django's atomic block does.
 */
SH_API int sh_http_not_found(const char *fmt, ...) __attribute__((format(printf, 1, 2)));


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
/*
 * A streamed body's producer: writes the next chunk, at most `size` bytes
 * (1 or more; 16 KiB at most), into `buf` and stores how many it wrote in
 * *written. Returns 0 to be called again, 1 when this was the last chunk
 * (*written may be 0 then), or a negative code after sh_error_set() to
 * abort: the connection is closed (the client sees a cut chunked body) and
 * the error is logged. Writing nothing 64 times in a row is a failure.
 */
typedef int (*sh_stream_fn)(void *buf, size_t size, size_t *written, void *payload);

/* Releases what a stream holds (its `payload`); see
 * sh_http_response_stream for when it runs. */
typedef void (*sh_stream_close_fn)(void *payload);

/*
 * Makes the response stream its body, Django's StreamingHttpResponse: the
 * status is set, a body set before is dropped, and once the view has
 * returned 0 (and its transaction, if any, committed) the server sends the
 * headers and then asks `next` for one chunk at a time, whenever the
 * connection can take one, until it returns 1. The body goes out with
 * Transfer-Encoding: chunked (to HTTP/1.0 clients, until the connection
 * closes): it is never held whole, so its length has no bound and memory
 * stays at one chunk. `next` and `close` run on the request's worker
 * thread, after the view, outside its transaction; the request and the
 * response may not be used from them.
 *
 * `close` (may be NULL) runs exactly once, before request_finished (as
 * Django's response.close() closes the iterator, then sends it): after the
 * last chunk has been sent, after `next` failed, when the client goes away
 * or stops reading mid-stream, when the server stops, or when the response
 * is never sent (the view failed after calling this). request_finished
 * comes after the last chunk has been sent, or the connection has ended.
 *
 * Headers may still be set after this call; sh_http_response_set_body,
 * _write, _text, _json and _render are refused (SH_EINVAL) on a response
 * that streams. Returns 0; SH_EINVAL for a NULL response or `next`, a
 * status not in 200..599, or a response that streams already (then
 * `close` is not called: the payload stays the caller's).
 */
SH_API int sh_http_response_stream(sh_http_response *response, int status, sh_stream_fn next,
	sh_stream_close_fn close, void *payload);


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
SH_API int sh_token_table_ensure(sh_conn *db);

/*
 * Creates a token for `user` (creating the table when needed) and stores
 * its key, NUL-terminated and newly allocated, in *out: the only time the
 * key exists outside the client (free it with free()). Returns 0,
 * SH_EINVAL for a bad user name, SH_EIO when the system gives no random
 * bytes, SH_EDB, SH_ENOMEM; *out is NULL on failure.
 */
SH_API int sh_token_create(char **out, sh_conn *db, const char *user);

/*
 * Looks `key` up: hashes it and compares the hash with the stored one in
 * constant time. Stores the token's user, newly allocated (free()), in *out
 * and returns 0 for a valid key; SH_ENOTFOUND for a key that is not one
 * (wrong length or digits, unknown, or no token table), SH_EDB, SH_ENOMEM.
 * *out is NULL on failure.
 */
SH_API int sh_token_authenticate(char **out, sh_conn *db, const char *key);

#ifdef __cplusplus
}
#endif

#endif
