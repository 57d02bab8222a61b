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

#endif
