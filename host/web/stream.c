/*
 * stream.c: responses whose body a view produces in chunks
 * (sh_http_response_stream, Django's StreamingHttpResponse), on
 * libmicrohttpd's callback responses. The rules of this file:
 *
 * - Memory is bounded: libmicrohttpd asks for the next chunk only when
 *   its write buffer has room, and the view writes it straight into that
 *   buffer (at most SH__STREAM_BLOCK bytes); nothing else is kept, so a
 *   body of any length streams in the connection's own memory.
 * - Everything runs on the connection's worker thread: the view, each
 *   chunk, the close callback, request_finished.
 * - The close callback runs exactly once, before request_finished, however
 *   the response ends: the last chunk sent, the view's callback failing,
 *   the client going away mid-stream, the server stopping, or the response
 *   never being sent. libmicrohttpd calls the reader no more once it has
 *   reported the request completed, which is where the host closes it: the
 *   state is the request's and freed with it, not by libmicrohttpd.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"

/* The block size libmicrohttpd is asked to use for a stream's chunks. */
#define SH__STREAM_BLOCK ((size_t)16 * 1024)

/* A callback that writes nothing this many times in a row fails the
 * stream, rather than spinning a worker thread. */
#define SH__STREAM_MAX_EMPTY 64

typedef struct sh__stream {
	sh__stream_spec spec;
	sh_request *request;
	uint64_t sent;              /* bytes handed to libmicrohttpd */
	bool done;                  /* the callback said it wrote its last chunk */
	bool failed;                /* the callback failed: the connection is closed */
	bool closed;                /* the close callback ran */
} sh__stream;

/* MHD_ContentReaderCallback: the next chunk, straight into libmicrohttpd's
 * buffer. */
static ssize_t sh_web__stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	sh__stream *st = cls;
	if (st->done || st->failed)
		return st->done ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
	for (int empty = 0;;) {
		size_t written = 0;
		sh_error_clear();
		int rc = st->spec.next(buf, max, &written, st->spec.payload);
		if (rc >= 0 && written > max)
			rc = sh_error_set(SH_ERROR, "the stream's callback wrote %zu bytes into a chunk "
				"of %zu", written, max);
		if (rc >= 0 && written == 0 && rc == 0 && ++empty == SH__STREAM_MAX_EMPTY)
			rc = sh_error_set(SH_ERROR, "the stream's callback wrote nothing %d times in a "
				"row", SH__STREAM_MAX_EMPTY);
		if (rc < 0) {
			st->failed = true;
			char line[512];
			sh_web__request_line(line, sizeof line, st->request);
			const char *said = sh_error_last()->message;
			sh_hub_log(st->request->server->hub, SH_LOG_ERROR, "sighost.server",
				"the stream of \"%s\" failed after %llu bytes (the connection is closed): "
				"%s: %s", line, (unsigned long long)st->sent, sh_error_name(rc),
				said[0] != '\0' ? said : "(no reason given)");
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		st->sent += written;
		st->done = rc > 0;
		if (written > 0)
			return (ssize_t)written;
		if (st->done)
			return MHD_CONTENT_READER_END_OF_STREAM;
	}
}

struct MHD_Response *sh_web__stream_response(sh_request *r)
{
	sh__stream *st = calloc(1, sizeof *st);
	if (st == NULL)
		return NULL;
	struct MHD_Response *m = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
		SH__STREAM_BLOCK, sh_web__stream_read, st, NULL);
	if (m == NULL) {
		free(st);
		return NULL;
	}
	st->spec = r->response.stream;
	st->request = r;
	r->response.stream = (sh__stream_spec){ 0 };
	r->stream = st;
	return m;
}

void sh_web__stream_close(sh_request *r)
{
	sh__stream *st = r->stream;
	if (st == NULL) {
		sh__stream_spec spec = r->response.stream;   /* never queued */
		r->response.stream = (sh__stream_spec){ 0 };
		if (spec.close != NULL)
			spec.close(spec.payload);
		return;
	}
	if (st->closed)
		return;
	st->closed = true;
	if (st->spec.close != NULL)
		st->spec.close(st->spec.payload);
}

void sh_web__stream_log(sh_request *r, enum MHD_RequestTerminationCode toe)
{
	sh__stream *st = r->stream;
	sh_server *s = r->server;
	char line[512];
	sh_web__request_line(line, sizeof line, r);
	bool head = r->method != NULL && strcmp(r->method, "HEAD") == 0;   /* no body asked */
	bool whole = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && (st->done || head);
	if (s->config.access_log)
		sh_hub_log(s->hub, SH_LOG_INFO, "sighost.server", "\"%s\" %d %llu%s", line,
			r->response.status, (unsigned long long)st->sent, whole ? "" : " (cut short)");
	if (!whole && !st->failed)
		sh_hub_log(s->hub, SH_LOG_INFO, "sighost.server", "the stream of \"%s\" ended after "
			"%llu bytes: %s", line, (unsigned long long)st->sent,
			toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "the server is stopping"
			: toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "the client stopped reading"
			: "the client went away");
}

void sh_web__stream_free(sh_request *r)
{
	sh_web__stream_close(r);
	free(r->stream);
	r->stream = NULL;
}
