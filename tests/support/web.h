/*
 * support.h: what the web tests share: scratch projects with the test
 * plugin t_web installed under labels of their choosing, the real
 * `sighost serve` run as a child process on a free loopback port, a tiny
 * HTTP client over plain sockets, and the audit plugin's signal log.
 */
#ifndef SH_WEB_TEST_SUPPORT_H
#define SH_WEB_TEST_SUPPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "support.h"

/* The scratch directory of the running test and its plugins/ folder. */
extern char *w_dir;
extern char *w_plugins;

/* An "Authorization: Token KEY\r\n" line that w_request() (and so
 * a_json(), r_http()) adds to every request whose headers name no
 * Authorization of their own; NULL (the default, reset by w_setup) sends
 * none. Model routes answer 401 without a token: set it with a_login(). */
extern char *w_auth;

/* Criterion .init/.fini of the web suites. */
void w_setup(void);

/* `headers` (may be NULL) with w_auth in front when it is set and they
 * name no Authorization of their own; newly allocated. */
char *w_with_auth(const char *headers);
void w_cleanup(void);

/* Writes project.yaml: project "web", plugin_dirs [bundled plugins,
 * plugins], installed_apps [audit, <apps>], settings.audit.path
 * audit.jsonl, then `extra` (top-level YAML lines, may be NULL). */
void w_project(const char *apps, const char *extra);

/* Installs t_web as plugins/<label>.so beside plugins/<label>.yaml holding
 * label, library and `body` (YAML lines: routes...). */
void w_app(const char *label, const char *body);

/* Writes plugins/<label>.yaml with `text` as it is (an app without the
 * test plugin, or a manifest with deliberate faults). */
void w_manifest(const char *label, const char *text);

/* Writes plugins/templates/<label>/<name>. */
void w_template(const char *label, const char *name, const char *text);

/* A running `sighost serve`. */
typedef struct w_server {
	pid_t pid;
	unsigned port;
	char *out;          /* stdout so far */
	char *err_path;     /* where stderr goes */
	char *err;          /* stderr, read by w_stop */
	int status;         /* exit status, set by w_stop */
} w_server;

/* Starts `sighost serve --settings project.yaml --listen 127.0.0.1:0`
 * plus `args` (NULL-terminated, may be NULL) in the scratch directory and
 * waits for "Quit the server with CONTROL-C."; fails the test when it does
 * not come within 30 s (the stderr is shown). */
void w_start(w_server *server, const char *const *args);

/* Like w_start but expects the server to exit by itself (a problem):
 * returns once it has, with status, out and err set. No --listen is added
 * (the manifest's applies) unless `args` give one. */
void w_start_fails(w_server *server, const char *const *args);

/* Sends SIGTERM, waits for the exit (at most 30 s), reads stderr and
 * stores the exit status. */
void w_stop(w_server *server);

/* Frees what the server record holds. */
void w_server_free(w_server *server);

/* A response as read from the socket. */
typedef struct w_resp {
	int status;         /* 0 when no status line came */
	char *head;         /* status line and headers */
	char *body;         /* NUL-terminated */
	size_t body_len;
} w_resp;

/* Opens a connection to 127.0.0.1:port (10 s receive timeout). */
int w_connect(unsigned port);
/* Like w_connect, with a receive buffer of `rcvbuf` bytes (0: the
 * system's), for a client that reads slowly or not at all. */
int w_connect_rcvbuf(unsigned port, int rcvbuf);


/* Sends all `len` bytes (MSG_NOSIGNAL). Returns false when it could not. */
bool w_send(int fd, const char *data, size_t len);

/* Reads one response: up to the end of its headers, then Content-Length
 * bytes (none when `head_only`), or to EOF when there is no
 * Content-Length. */
w_resp w_read(int fd, bool head_only);

/* Sends the raw request on a new connection and reads one response. */
w_resp w_raw(unsigned port, const char *raw, size_t len);

/* Sends "METHOD PATH HTTP/1.1" with Host, Connection: close, `headers`
 * (CRLF-terminated lines, may be NULL) and `body` (may be NULL), and reads
 * the response. */
w_resp w_request(unsigned port, const char *method, const char *path, const char *headers,
	const char *body);

/* The value of response header `name` (without case), newly allocated, or
 * NULL. */
char *w_header(const w_resp *resp, const char *name);

/* Asserts that header `name` is `value`. */
void w_header_is(const w_resp *resp, const char *name, const char *value);

void w_resp_free(w_resp *resp);

/* Waits until the audit log holds `count` sends of `signal` (at most
 * 10 s), then returns the request-related entries (request_started,
 * got_request_exception, template_rendered, request_finished) in order,
 * as a JSON array of the audit lines. The caller decrefs it. */
json_t *w_audit(const char *signal, size_t count);

/* The signal names of w_audit's entries joined with ',' (newly allocated). */
char *w_audit_names(const json_t *entries);

/* Waits as w_audit() does, then asserts that the signal names of the
 * request-related entries are `expected` (comma-separated). */
void w_audit_names_are(const char *signal, size_t count, const char *expected);

/* Asserts that `text` holds `needle`. */
void w_has(const char *text, const char *needle);

/* Asserts that `text` does not hold `needle`. */
void w_lacks(const char *text, const char *needle);

#endif
