/*
 * handler.h: libmicrohttpd's callbacks (handler.c), which turn its events
 * into sighost requests; server.c registers them. `cls` is the server.
 */
#ifndef SH_WEB_HANDLER_H
#define SH_WEB_HANDLER_H

#include <microhttpd.h>

#include "internal.h"

/* MHD_OPTION_URI_LOG_CALLBACK: creates the request. */
void *sh_web__on_uri(void *cls, const char *uri, struct MHD_Connection *connection);

/* The access handler: headers, body chunks, then the dispatch. */
enum MHD_Result sh_web__on_access(void *cls, struct MHD_Connection *connection, const char *url,
	const char *method, const char *version, const char *upload_data,
	size_t *upload_data_size, void **con_cls);

/* MHD_OPTION_NOTIFY_COMPLETED: request_finished, then frees the request. */
void sh_web__on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
	enum MHD_RequestTerminationCode toe);

/* Queues the request's response (its status, headers and body, which it
 * takes) and writes the access log line. */
enum MHD_Result sh_web__handler_queue(sh_request *request);

/* Answers with one of the host's own fixed responses (401, 404, 500...). */
enum MHD_Result sh_web__handler_answer(sh_request *request, int status);
/* ---- streamed bodies (stream.c) ---- */

/* Makes the libmicrohttpd response of a request whose view streams its
 * body: chunked (or closed at the end for HTTP/1.0), each chunk asked of
 * the view's callback when libmicrohttpd has room for it, so at most one
 * chunk (SH__STREAM_BLOCK bytes) is held. The stream moves from the
 * response to request->stream. NULL on ENOMEM (the stream stays with the
 * response, closed when it is reset). */
struct MHD_Response *sh_web__stream_response(sh_request *request);

/* Logs the access line of a streamed response once it has ended, with
 * the bytes sent and, when it did not end well, why. */
void sh_web__stream_log(sh_request *request, enum MHD_RequestTerminationCode toe);

/* The request line for the log, control characters made visible
 * (handler.c). */
void sh_web__request_line(char *buf, size_t size, const sh_request *r);

#endif
