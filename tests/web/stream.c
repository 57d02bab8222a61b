/*
 * stream.c: streamed responses (sh_http_response_stream, Django's
 * StreamingHttpResponse) end to end through `sighost serve`, with the test
 * plugin's stream view (chunks of letters, a close callback that logs, and
 * a request_finished receiver that says whether the stream was closed
 * before it): the chunks arrive in order with Transfer-Encoding: chunked;
 * request_finished comes after the last chunk has been sent, never while
 * the client has not read it; the server's memory stays bounded while a
 * body many times its size streams; a client that goes away mid-stream
 * gets its stream closed and request_finished sent; a failing callback
 * cuts the body, is logged, and is no got_request_exception (the view had
 * returned, as in Django); a view that fails after starting a stream has it
 * closed; HEAD and HTTP/1.0.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../support/web.h"

TestSuite(stream, .init = w_setup, .fini = w_cleanup, .timeout = 180);

static void serve(w_server *s)
{
	w_app("web", "routes:\n"
		"  - {path: /stream, view: stream}\n"
		"  - {path: /hello, view: hello}\n");
	w_project("web", "threads: 2\n");
	w_start(s, NULL);
}

static void stop(w_server *s)
{
	w_stop(s);
	cr_assert_eq(s->status, 0, "exit status %d, stderr:\n%s", s->status, s->err);
}

/* Sends a GET of `path` (HTTP/1.1 unless `version`), Connection: close. */
static int get(unsigned port, const char *method, const char *path, const char *version)
{
	int fd = w_connect(port);
	char raw[512];
	snprintf(raw, sizeof raw, "%s %s %s\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
		method, path, version != NULL ? version : "HTTP/1.1");
	cr_assert(w_send(fd, raw, strlen(raw)));
	return fd;
}

/* Everything the server sends until it closes (or `limit` bytes). */
static char *read_all(int fd, size_t limit, size_t *length)
{
	size_t cap = 1 << 16, len = 0;
	char *data = malloc(cap + 1);
	cr_assert_not_null(data);
	while (len < limit) {
		if (len == cap) {
			cap *= 2;
			data = realloc(data, cap + 1);
			cr_assert_not_null(data);
		}
		ssize_t n = recv(fd, data + len, cap - len < limit - len ? cap - len : limit - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	data[len] = '\0';
	*length = len;
	return data;
}

/* Splits a response into its head and its chunked body decoded; *whole
 * says whether the terminating zero-length chunk came. */
static char *dechunk(const char *raw, size_t len, char **head, size_t *body_len, bool *whole)
{
	const char *end = strstr(raw, "\r\n\r\n");
	cr_assert_not_null(end, "no head in %.200s", raw);
	*head = strndup(raw, (size_t)(end - raw));
	const char *p = end + 4, *stop = raw + len;
	char *body = malloc(len + 1);
	size_t n = 0;
	*whole = false;
	while (p < stop) {
		char *after;
		unsigned long size = strtoul(p, &after, 16);
		if (after == p || after + 2 > stop || after[0] != '\r')
			break;
		p = after + 2;
		if (size == 0) {
			*whole = true;
			break;
		}
		if (p + size > stop)
			break;
		memcpy(body + n, p, size);
		n += size;
		p += size + 2;
	}
	body[n] = '\0';
	*body_len = n;
	return body;
}

/* A whole streamed answer to GET `path`: head, decoded body, and whether
 * the last chunk came. */
typedef struct chunked {
	char *head, *body;
	size_t body_len;
	bool whole;
} chunked;

static chunked fetch_chunked(unsigned port, const char *path)
{
	int fd = get(port, "GET", path, NULL);
	size_t len;
	char *raw = read_all(fd, SIZE_MAX, &len);
	close(fd);
	chunked c;
	c.body = dechunk(raw, len, &c.head, &c.body_len, &c.whole);
	free(raw);
	w_has(c.head, "HTTP/1.1 200");
	return c;
}

static void chunked_free(chunked *c)
{
	free(c->head);
	free(c->body);
}

/* How many times `signal` is in the audit log now (no waiting). */
static size_t audit_count(const char *signal)
{
	char *path = t_path(w_dir, "audit.jsonl");
	char *text = t_read(path);
	char needle[64];
	snprintf(needle, sizeof needle, "\"signal\":\"%s\"", signal);
	size_t count = 0;
	for (const char *c = text; (c = strstr(c, needle)) != NULL; c++)
		count++;
	free(text);
	free(path);
	return count;
}

/* The server's peak resident memory in KiB (VmHWM). */
static long peak_kib(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	char *text = t_read(path);
	const char *line = strstr(text, "VmHWM:");
	long kib = line != NULL ? strtol(line + 6, NULL, 10) : -1;
	free(text);
	cr_assert_gt(kib, 0);
	return kib;
}

static void nap_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

Test(stream, chunks_arrive_in_order_and_request_finished_follows_the_close)
{
	w_server s;
	serve(&s);
	chunked c = fetch_chunked(s.port, "/stream?n=3&size=5");
	w_resp r = { 200, c.head, NULL, 0 };
	w_header_is(&r, "Transfer-Encoding", "chunked");
	w_header_is(&r, "Content-Type", "text/plain");
	cr_assert_null(w_header(&r, "Content-Length"));
	cr_assert_str_eq(c.body, "aaaaabbbbbccccc");
	cr_assert(c.whole, "the last chunk came");
	w_audit_names_are("request_finished", 1, "request_started,request_finished");
	stop(&s);
	/* the close callback ran, then request_finished (Django: closers, then the signal) */
	const char *closed = strstr(s.err, "[web] info: stream closed after 3 chunks");
	const char *finished = strstr(s.err, "[web] info: request_finished: the stream was closed "
		"before");
	cr_assert(closed != NULL && finished != NULL && closed < finished, "%s", s.err);
	w_has(s.err, "\"GET /stream?n=3&size=5 HTTP/1.1\" 200 15\n");
	chunked_free(&c);
	w_server_free(&s);
}

Test(stream, request_finished_waits_until_the_last_chunk_has_been_sent)
{
	w_server s;
	serve(&s);
	/* 16 MiB: more than the socket buffers hold, so the server cannot send
	 * the last chunk before the client reads */
	int fd = get(s.port, "GET", "/stream?n=256&size=65536", NULL);
	size_t len;
	char *first = read_all(fd, 4096, &len);
	cr_assert_geq(len, 4096);
	free(first);
	nap_ms(700);
	cr_assert_eq(audit_count("request_started"), 1);
	cr_assert_eq(audit_count("request_finished"), 0, "not while the body is unread");
	char *rest = read_all(fd, SIZE_MAX, &len);
	close(fd);
	cr_assert_gt(len, (size_t)16 * 1024 * 1024 - 4096, "got %zu bytes", len);
	cr_assert_not_null(strstr(rest + len - 7, "\r\n0\r\n\r\n") ? rest : NULL,
		"the body ends with the last chunk");
	json_decref(w_audit("request_finished", 1));
	cr_assert_eq(audit_count("request_finished"), 1);
	free(rest);
	stop(&s);
	w_has(s.err, "\"GET /stream?n=256&size=65536 HTTP/1.1\" 200 16777216\n");
	w_server_free(&s);
}

Test(stream, memory_stays_bounded_while_a_large_body_streams)
{
	w_server s;
	serve(&s);
	w_resp warm = w_request(s.port, "GET", "/stream?n=4&size=65536", NULL, NULL);
	w_resp_free(&warm);
	long before = peak_kib(s.pid);
	int fd = get(s.port, "GET", "/stream?n=1024&size=65536", NULL);   /* 64 MiB */
	size_t total = 0;
	char buf[1 << 16];
	for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;)
		total += (size_t)n;
	close(fd);
	long after = peak_kib(s.pid);
	cr_assert_gt(total, (size_t)64 * 1024 * 1024);
	cr_log_info("peak RSS %ld KiB before, %ld KiB after streaming %zu bytes", before, after,
		total);
	cr_assert_lt(after - before, 8 * 1024, "the peak grew by %ld KiB while 64 MiB streamed",
		after - before);
	stop(&s);
	w_server_free(&s);
}

Test(stream, a_client_that_goes_away_mid_stream_has_it_closed_and_request_finished_sent)
{
	w_server s;
	serve(&s);
	int fd = get(s.port, "GET", "/stream?n=forever&size=65536", NULL);
	size_t len;
	free(read_all(fd, 256 * 1024, &len));
	cr_assert_eq(len, (size_t)256 * 1024);
	close(fd);   /* mid-stream: the body never ends */
	w_audit_names_are("request_finished", 1, "request_started,request_finished");
	w_resp r = w_request(s.port, "GET", "/hello", NULL, NULL);
	cr_assert_eq(r.status, 200, "the worker is free again");
	w_resp_free(&r);
	stop(&s);   /* under ASan, a leak of the stream fails the exit status */
	const char *closed = strstr(s.err, "[web] info: stream closed after");
	const char *finished = strstr(s.err, "request_finished: the stream was closed before");
	cr_assert(closed != NULL && finished != NULL && closed < finished, "%s", s.err);
	w_has(s.err, "the stream of \"GET /stream?n=forever&size=65536 HTTP/1.1\" ended after ");
	w_has(s.err, "bytes: the client went away");
	w_has(s.err, " (cut short)\n");
	w_lacks(s.err, "NOT closed");
	w_server_free(&s);
}

Test(stream, a_failing_callback_cuts_the_body_is_logged_and_is_no_request_exception)
{
	w_server s;
	serve(&s);
	chunked c = fetch_chunked(s.port, "/stream?n=5&size=5&fail=2");
	cr_assert_str_eq(c.body, "aaaaabbbbb");
	cr_assert_not(c.whole, "no last chunk: the client can tell the body was cut");
	w_audit_names_are("request_finished", 1, "request_started,request_finished");
	stop(&s);
	w_has(s.err, "the stream of \"GET /stream?n=5&size=5&fail=2 HTTP/1.1\" failed after 10 "
		"bytes (the connection is closed): SH_ERROR: stream broke at chunk 2");
	w_has(s.err, "stream closed after 2 chunks");
	w_has(s.err, "request_finished: the stream was closed before");
	chunked_free(&c);
	w_server_free(&s);
}

Test(stream, a_view_failing_after_starting_a_stream_has_it_closed)
{
	w_server s;
	serve(&s);
	w_resp r = w_request(s.port, "GET", "/stream?then_fail=1", NULL, NULL);
	cr_assert_eq(r.status, 500);
	w_resp_free(&r);
	w_audit_names_are("request_finished", 1, "request_started,got_request_exception,request_finished");
	stop(&s);
	w_has(s.err, "stream closed after 0 chunks");
	w_has(s.err, "request_finished: the stream was closed before");
	w_server_free(&s);
}

Test(stream, head_sends_no_body_and_http_1_0_gets_the_body_until_the_close)
{
	w_server s;
	serve(&s);
	/* keep-alive: libmicrohttpd 0.9.75 sends a last chunk after the head of
	 * a chunked HEAD answer, so the server closes the connection after it */
	int fd = w_connect(s.port);
	const char *req = "HEAD /stream?n=2&size=3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	cr_assert(w_send(fd, req, strlen(req)));
	size_t len;
	char *raw = read_all(fd, SIZE_MAX, &len);
	close(fd);
	w_has(raw, "HTTP/1.1 200");
	w_resp head = { 200, raw, NULL, 0 };
	w_header_is(&head, "Connection", "close");
	const char *body = strstr(raw, "\r\n\r\n") + 4;
	cr_assert(strcmp(body, "") == 0 || strcmp(body, "0\r\n\r\n") == 0,
		"HEAD: no chunk of the body, got %s", body);
	free(raw);
	json_decref(w_audit("request_finished", 1));
	fd = get(s.port, "GET", "/stream?n=2&size=3", "HTTP/1.0");
	raw = read_all(fd, SIZE_MAX, &len);
	close(fd);
	w_has(raw, " 200 OK");
	w_lacks(raw, "chunked");
	cr_assert_str_eq(strstr(raw, "\r\n\r\n") + 4, "aaabbb", "HTTP/1.0: the body, then the close");
	free(raw);
	json_decref(w_audit("request_finished", 2));
	stop(&s);
	w_lacks(s.err, "NOT closed");
	w_lacks(s.err, "cut short");
	w_server_free(&s);
}
