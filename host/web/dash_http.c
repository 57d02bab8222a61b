/*
 * dash_http.c: the requests under the dashboard's prefix (dash.h). They
 * are the host's own pages, like its 404s: no request signal is sent for
 * them, so watching the stream does not feed the stream. Everything is
 * read-only (GET and HEAD; anything else is 405).
 *
 *   <prefix>            the page (index.html); without a valid token the
 *                       login refusal (login.html), status 401, and no data
 *   <prefix>api         the JSON document (dash_json.c)
 *   <prefix>stream      the live stream of signals (dash_stream.c), Server-
 *                       Sent Events; ?signal=NAME&sender=NAME filter it
 *   <prefix><asset>     the page's CSS and JavaScript (no data: no token)
 *
 * The token is an API token (`sighost createtoken`), in the Authorization
 * header as for the JSON API, or in the cookie `sighost_token`, which the
 * login page sets: a browser's EventSource cannot send a header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "dash.h"
#include "handler.h"
#include "internal.h"

#define SH__COOKIE "sighost_token"
/* The socket send buffer of a stream (SO_SNDBUF; Linux doubles it). */
#define SH__STREAM_SNDBUF (64 * 1024)

/* The page's files, embedded by the build (dash_assets.c, made from dash/). */
typedef struct sh__asset {
	const char *name;
	const char *type;
	const unsigned char *data;
	size_t size;
} sh__asset;

extern const sh__asset sh__dash_assets[];
extern const size_t sh__dash_asset_count;

static const sh__asset *sh_web__asset_named(const char *name)
{
	for (size_t i = 0; i < sh__dash_asset_count; i++)
		if (strcmp(sh__dash_assets[i].name, name) == 0)
			return &sh__dash_assets[i];
	return NULL;
}

/* Headers every answer of the dashboard carries: nothing is cached, no
 * script or style from elsewhere runs, no other site frames it. */
static void sh_web__secure(sh_http_response *resp)
{
	sh_http_response_set_header(resp, "Cache-Control", "no-store");
	sh_http_response_set_header(resp, "X-Content-Type-Options", "nosniff");
	sh_http_response_set_header(resp, "Content-Security-Policy", "default-src 'self'; "
		"img-src 'self' data:; frame-ancestors 'none'; form-action 'none'");
	sh_http_response_set_header(resp, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result sh_web__send_asset(sh_request *r, int status, const sh__asset *asset)
{
	sh_http_response *resp = &r->response;
	sh_web__response_reset(resp);
	resp->status = status;
	sh_web__secure(resp);
	sh_http_response_set_header(resp, "Content-Type", asset->type);
	if (sh_http_response_set_body(resp, asset->data, asset->size) < 0)
		return sh_web__handler_answer(r, 500);
	return sh_web__handler_queue(r);
}

static enum MHD_Result sh_web__send_json(sh_request *r, int status, const char *text)
{
	sh_http_response *resp = &r->response;
	sh_web__response_reset(resp);
	resp->status = status;
	sh_web__secure(resp);
	sh_http_response_set_header(resp, "Content-Type", "application/json");
	if (status == 401)
		sh_http_response_set_header(resp, "WWW-Authenticate", "Token");
	if (sh_http_response_set_body(resp, text, strlen(text)) < 0)
		return sh_web__handler_answer(r, 500);
	return sh_web__handler_queue(r);
}

/* Authenticates from the header, else from the cookie. Returns 0 (r->user
 * set, or anonymous), 1 for credentials that are not valid, or a negative
 * code when the tokens cannot be read. */
static int sh_web__authenticate(sh_request *r)
{
	int rc = sh_web__request_authenticate(r);
	if (rc != 0 || r->user != NULL || sh_request_header(r, "Authorization") != NULL)
		return rc;
	const char *key = MHD_lookup_connection_value(r->connection, MHD_COOKIE_KIND, SH__COOKIE);
	return key != NULL && key[0] != '\0' ? sh_web__request_authenticate_key(r, key) : 0;
}

static enum MHD_Result sh_web__send_document(sh_request *r)
{
	json_t *doc = NULL;
	sh_web__dash_touch(r->server->dash);   /* the page is open: count the receivers' calls */
	if (sh_web__dash_document(&doc, r->server->dash) < 0) {
		sh_hub_log(r->server->hub, SH_LOG_ERROR, "sighost.dashboard", "%s",
			sh_error_last()->message);
		return sh_web__handler_answer(r, 500);
	}
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (text == NULL)
		return sh_web__handler_answer(r, 500);
	enum MHD_Result result = sh_web__send_json(r, 200, text);
	free(text);
	return result;
}

/* Opens a stream: checks the filters, claims a slot, answers with the
 * callback response. */
static enum MHD_Result sh_web__open_stream(sh_request *r)
{
	struct sh__dash *d = r->server->dash;
	const char *signal_name = sh_request_query(r, "signal");
	const char *sender = sh_request_query(r, "sender");
	sh_signal *signal = NULL;
	if (signal_name != NULL && signal_name[0] != '\0'
		&& sh_signal_lookup(&signal, r->server->hub, signal_name) < 0)
		return sh_web__send_json(r, 400, "{\"error\":\"signal: no signal of that name\"}");
	if (sender != NULL && strlen(sender) >= sizeof d->clients[0].sender)
		return sh_web__send_json(r, 400, "{\"error\":\"sender: longer than 160 bytes\"}");
	sh__stream_client *c = sh_web__dash_stream_open(d, r->connection, signal, sender);
	if (c == NULL) {
		sh_http_response_set_header(&r->response, "Retry-After", "5");
		return sh_web__send_json(r, 503, "{\"error\":\"too many streams open; see "
			"dashboard.stream_clients\"}");
	}
	/* the kernel holds at most this much for a client that stopped reading
	 * (Linux's autotuning would let it grow to megabytes); then the ring */
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(r->connection,
		MHD_CONNECTION_INFO_CONNECTION_FD);
	int sndbuf = SH__STREAM_SNDBUF;
	if (info != NULL)
		setsockopt(info->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	struct MHD_Response *m = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
		sh_web__dash_stream_read, c, sh_web__dash_stream_closed);
	if (m == NULL) {
		sh_web__dash_stream_closed(c);
		return sh_web__handler_answer(r, 500);
	}
	MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(m, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(m, "X-Content-Type-Options", "nosniff");
	enum MHD_Result result = MHD_queue_response(r->connection, MHD_HTTP_OK, m);
	MHD_destroy_response(m);   /* the connection keeps it; its end frees the slot */
	r->answered = true;
	sh_hub_log(r->server->hub, SH_LOG_INFO, "sighost.dashboard", "stream opened by %s "
		"(signal %s, sender %s)", r->user, signal_name != NULL && signal_name[0] ? signal_name
		: "any", sender != NULL && sender[0] ? sender : "any");
	return result;
}

enum MHD_Result sh_web__dash_answer(sh_request *r)
{
	struct sh__dash *d = r->server->dash;
	if (r->too_large || r->failed)   /* a body, which no page here takes */
		return sh_web__handler_answer(r, r->too_large ? 413 : 500);
	size_t n = strlen(d->config.prefix);
	if (strlen(r->path) < n) {   /* the prefix without its slash */
		sh_http_response_set_status(&r->response, 308);
		sh_http_response_set_header(&r->response, "Location", d->config.prefix);
		return sh_web__handler_queue(r);
	}
	const char *rest = r->path + n;
	bool head = strcmp(r->method, "HEAD") == 0;
	if (strcmp(r->method, "GET") != 0 && !head) {
		sh_http_response_set_header(&r->response, "Allow", "GET, HEAD");
		return sh_web__send_json(r, 405, "{\"error\":\"the dashboard is read-only\"}");
	}
	bool page = rest[0] == '\0' || strcmp(rest, "index.html") == 0;
	bool api = strcmp(rest, "api") == 0, stream = strcmp(rest, "stream") == 0;
	if (!page && !api && !stream) {
		const sh__asset *asset = strcmp(rest, "login.html") != 0 ? sh_web__asset_named(rest) : NULL;
		return asset != NULL ? sh_web__send_asset(r, 200, asset) : sh_web__handler_answer(r, 404);
	}
	int rc = sh_web__authenticate(r);
	if (rc < 0) {
		sh_hub_log(r->server->hub, SH_LOG_ERROR, "sighost.dashboard",
			"cannot check the API token: %s", sh_error_last()->message);
		return sh_web__handler_answer(r, rc == SH_EUNAVAILABLE ? 503 : 500);
	}
	if (rc > 0 || r->user == NULL) {
		if (page)
			return sh_web__send_asset(r, 401, sh_web__asset_named("login.html"));
		return sh_web__send_json(r, 401, rc > 0 ? "{\"error\":\"invalid token\"}"
			: "{\"error\":\"authentication credentials were not provided\"}");
	}
	if (page)
		return sh_web__send_asset(r, 200, sh_web__asset_named("index.html"));
	if (api)
		return sh_web__send_document(r);
	if (head)
		return sh_web__send_json(r, 405, "{\"error\":\"the stream answers GET only\"}");
	return sh_web__open_stream(r);
}
