/*
 * support.c: the helpers of support.h.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "web.h"

char *w_dir;
char *w_plugins;

char *w_auth;

void w_setup(void)
{
	w_auth = NULL;
	w_dir = t_mkdtemp();
	w_plugins = t_path(w_dir, "plugins");
	cr_assert_eq(mkdir(w_plugins, 0755), 0);
}

void w_cleanup(void)
{
	t_rmtree(w_dir);
	free(w_dir);
	free(w_plugins);
	free(w_auth);
	w_auth = NULL;
}

void w_project(const char *apps, const char *extra)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: web\nplugin_dirs: [%s, plugins]\n"
		"installed_apps: [audit%s%s]\nsettings:\n  audit: {path: audit.jsonl}\n%s",
		t_env("SIGHOST_PLUGIN_DIR"), apps && *apps ? ", " : "", apps ? apps : "",
		extra ? extra : ""), 0);
	free(t_write(w_dir, "project.yaml", text));
	free(text);
}

void w_manifest(const char *label, const char *text)
{
	char *name = NULL;
	cr_assert_geq(asprintf(&name, "%s.yaml", label), 0);
	free(t_write(w_plugins, name, text));
	free(name);
}

void w_app(const char *label, const char *body)
{
	char *from = NULL, *so = NULL, *text = NULL;
	cr_assert_geq(asprintf(&from, "%s/t_web.so", t_env("SIGHOST_WEB_PLUGIN_DIR")), 0);
	cr_assert_geq(asprintf(&so, "%s.so", label), 0);
	cr_assert_geq(asprintf(&text, "label: %s\nlibrary: %s\n%s", label, so, body ? body : ""), 0);
	free(t_copy(from, w_plugins, so, 0755));
	w_manifest(label, text);
	free(from);
	free(so);
	free(text);
}

void w_template(const char *label, const char *name, const char *text)
{
	char *dir = t_path(w_plugins, "templates");
	mkdir(dir, 0755);
	char *sub = t_path(dir, label);
	mkdir(sub, 0755);
	free(t_write(sub, name, text));
	free(sub);
	free(dir);
}

/* ---- the server process ----------------------------------------------- */

static double w_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts the server (with --listen 127.0.0.1:0 unless `listen` is false or
 * args name their own); returns the read end of its stdout. */
static int w_spawn(w_server *s, const char *const *args, bool listen)
{
	*s = (w_server){ 0 };
	s->err_path = t_path(w_dir, "serve.stderr");
	const char *bin = t_env("SIGHOST_BIN");
	int out[2];
	cr_assert_eq(pipe(out), 0);
	size_t extra = 0;
	while (args != NULL && args[extra] != NULL)
		extra++;
	const char **argv = calloc(extra + 7, sizeof *argv);
	cr_assert_not_null(argv);
	size_t n = 0;
	argv[n++] = bin;
	argv[n++] = "serve";
	argv[n++] = "--settings";
	argv[n++] = "project.yaml";
	for (size_t i = 0; i < extra; i++)
		listen = listen && strcmp(args[i], "--listen") != 0;
	if (listen) {
		argv[n++] = "--listen";
		argv[n++] = "127.0.0.1:0";
	}
	for (size_t i = 0; i < extra; i++)
		argv[n++] = args[i];
	s->pid = fork();
	cr_assert_geq(s->pid, 0);
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);   /* a test that fails midway leaves no server */
		int err = open(s->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(out[1], 1);
		dup2(err, 2);
		close(out[0]);
		if (chdir(w_dir) != 0)
			_exit(126);
		unsetenv("SIGHOST_SETTINGS");
		t_exec(argv);
		_exit(127);
	}
	free(argv);
	close(out[1]);
	return out[0];
}

/* Reads the server's stdout until `marker`, EOF or the deadline. */
static bool w_read_until(w_server *s, int fd, const char *marker, double seconds)
{
	size_t len = s->out ? strlen(s->out) : 0;
	double end = w_now() + seconds;
	while (s->out == NULL || strstr(s->out, marker) == NULL) {
		double left = end - w_now();
		if (left <= 0)
			return false;
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		char buf[1024];
		ssize_t got = read(fd, buf, sizeof buf);
		if (got <= 0)
			return false;
		s->out = realloc(s->out, len + (size_t)got + 1);
		memcpy(s->out + len, buf, (size_t)got);
		len += (size_t)got;
		s->out[len] = '\0';
	}
	return true;
}

void w_start(w_server *s, const char *const *args)
{
	int fd = w_spawn(s, args, true);
	bool up = w_read_until(s, fd, "Quit the server with CONTROL-C.\n", 30);
	close(fd);
	if (!up) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		char *err = t_read(s->err_path);
		cr_assert_fail("sighost serve did not start:\nstdout:\n%s\nstderr:\n%s",
			s->out ? s->out : "", err);
	}
	const char *at = strstr(s->out, "Starting development server at http://127.0.0.1:");
	cr_assert_not_null(at, "%s", s->out);
	s->port = (unsigned)strtoul(at + strlen("Starting development server at http://127.0.0.1:"),
		NULL, 10);
	cr_assert_gt(s->port, 0u);
}

/* Waits for the child's exit for at most `seconds`; kills it after. */
static int w_wait(pid_t pid, double seconds)
{
	double end = w_now() + seconds;
	int status;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (w_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		struct timespec nap = { 0, 20 * 1000 * 1000 };
		nanosleep(&nap, NULL);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void w_start_fails(w_server *s, const char *const *args)
{
	int fd = w_spawn(s, args, false);
	w_read_until(s, fd, "\x01never\x01", 30);   /* to EOF */
	close(fd);
	s->status = w_wait(s->pid, 30);
	s->err = t_read(s->err_path);
	if (s->out == NULL)
		s->out = strdup("");
}

void w_stop(w_server *s)
{
	cr_assert_eq(kill(s->pid, SIGTERM), 0);
	s->status = w_wait(s->pid, 30);
	s->err = t_read(s->err_path);
}

void w_server_free(w_server *s)
{
	free(s->out);
	free(s->err);
	free(s->err_path);
	*s = (w_server){ 0 };
}

/* ---- HTTP ------------------------------------------------------------- */

int w_connect(unsigned port)
{
	return w_connect_rcvbuf(port, 0);
}

int w_connect_rcvbuf(unsigned port, int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	if (rcvbuf > 0)   /* before connect: it sets the window the peer is offered */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in addr = { 0 };
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0,
		"connect to port %u: %s", port, strerror(errno));
	return fd;
}

bool w_send(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

w_resp w_read(int fd, bool head_only)
{
	w_resp r = { 0 };
	char *data = NULL;
	size_t len = 0, cap = 0;
	long want = -1;              /* body length, -1: to EOF */
	char *end_of_head = NULL;
	for (;;) {
		if (end_of_head != NULL) {
			size_t have = len - (size_t)(end_of_head + 4 - data);
			if (head_only || (want >= 0 && have >= (size_t)want))
				break;
		}
		if (len + 4096 + 1 > cap) {
			size_t head_at = end_of_head != NULL ? (size_t)(end_of_head - data) : 0;
			cap = cap ? cap * 2 : 8192;
			data = realloc(data, cap);
			cr_assert_not_null(data);
			if (end_of_head != NULL)   /* it pointed into the old block */
				end_of_head = data + head_at;
		}
		ssize_t n = recv(fd, data + len, cap - len - 1, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		data[len] = '\0';
		if (end_of_head == NULL && (end_of_head = strstr(data, "\r\n\r\n")) != NULL) {
			*end_of_head = '\0';
			r.head = strdup(data);
			*end_of_head = '\r';
			char *cl = w_header(&r, "Content-Length");
			if (cl != NULL)
				want = strtol(cl, NULL, 10);
			free(cl);
		}
	}
	if (data == NULL)
		data = calloc(1, 1);
	if (end_of_head != NULL) {
		size_t body_at = (size_t)(end_of_head + 4 - data);
		r.body_len = len - body_at;
		r.body = malloc(r.body_len + 1);
		memcpy(r.body, data + body_at, r.body_len);
		r.body[r.body_len] = '\0';
		sscanf(r.head, "HTTP/1.%*d %d", &r.status);
	} else {
		r.head = strdup(data);
		r.body = strdup("");
	}
	free(data);
	return r;
}

w_resp w_raw(unsigned port, const char *raw, size_t len)
{
	int fd = w_connect(port);
	w_send(fd, raw, len);
	w_resp r = w_read(fd, false);
	close(fd);
	return r;
}

/* `headers` with w_auth in front when set and they have no Authorization
 * (newly allocated). */
char *w_with_auth(const char *headers)
{
	const char *h = headers != NULL ? headers : "";
	bool own = strcasestr(h, "Authorization:") != NULL;
	char *all = NULL;
	cr_assert_geq(asprintf(&all, "%s%s", w_auth != NULL && !own ? w_auth : "", h), 0);
	return all;
}

w_resp w_request(unsigned port, const char *method, const char *path, const char *headers_in,
	const char *body)
{
	char *headers = w_with_auth(headers_in);
	char *raw = NULL;
	int n = body != NULL
		? asprintf(&raw, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
			"Content-Length: %zu\r\n\r\n%s", method, path, headers ? headers : "",
			strlen(body), body)
		: asprintf(&raw, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n",
			method, path, headers ? headers : "");
	cr_assert_geq(n, 0);
	free(headers);
	w_resp r = w_raw(port, raw, strlen(raw));
	free(raw);
	return r;
}

char *w_header(const w_resp *resp, const char *name)
{
	if (resp->head == NULL)
		return NULL;
	size_t n = strlen(name);
	for (const char *line = strstr(resp->head, "\r\n"); line != NULL;
		line = strstr(line + 2, "\r\n")) {
		const char *at = line + 2;
		if (strncasecmp(at, name, n) == 0 && at[n] == ':') {
			at += n + 1;
			while (*at == ' ')
				at++;
			const char *end = strstr(at, "\r\n");
			return strndup(at, end ? (size_t)(end - at) : strlen(at));
		}
	}
	return NULL;
}

void w_header_is(const w_resp *resp, const char *name, const char *value)
{
	char *got = w_header(resp, name);
	cr_assert_not_null(got, "no header %s in\n%s", name, resp->head);
	cr_assert_str_eq(got, value, "header %s", name);
	free(got);
}

void w_resp_free(w_resp *resp)
{
	free(resp->head);
	free(resp->body);
	*resp = (w_resp){ 0 };
}

/* ---- the audit log ---------------------------------------------------- */

static bool w_request_signal(const char *name)
{
	return strcmp(name, "request_started") == 0 || strcmp(name, "request_finished") == 0
		|| strcmp(name, "got_request_exception") == 0 || strcmp(name, "template_rendered") == 0;
}

json_t *w_audit(const char *signal, size_t count)
{
	char *path = t_path(w_dir, "audit.jsonl");
	double end = w_now() + 10;
	json_t *entries = NULL;
	for (;;) {
		char *text = t_read(path);
		json_decref(entries);
		entries = json_array();
		size_t seen = 0;
		for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
			json_t *entry = json_loads(line, 0, NULL);
			cr_assert_not_null(entry, "bad audit line: %s", line);
			const char *name = json_string_value(json_object_get(entry, "signal"));
			seen += name != NULL && strcmp(name, signal) == 0;
			if (name != NULL && w_request_signal(name))
				json_array_append(entries, entry);
			json_decref(entry);
		}
		free(text);
		if (seen >= count || w_now() > end)
			break;
		struct timespec nap = { 0, 20 * 1000 * 1000 };
		nanosleep(&nap, NULL);
	}
	free(path);
	return entries;
}

char *w_audit_names(const json_t *entries)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	for (size_t i = 0; i < json_array_size(entries); i++)
		fprintf(f, "%s%s", i ? "," : "",
			json_string_value(json_object_get(json_array_get(entries, i), "signal")));
	fclose(f);
	return out;
}

void w_audit_names_are(const char *signal, size_t count, const char *expected)
{
	json_t *log = w_audit(signal, count);
	char *names = w_audit_names(log);
	cr_assert_str_eq(names, expected);
	free(names);
	json_decref(log);
}

void w_has(const char *text, const char *needle)
{
	cr_assert_not_null(strstr(text, needle), "expected to find\n  %s\nin\n%s", needle, text);
}

void w_lacks(const char *text, const char *needle)
{
	cr_assert_null(strstr(text, needle), "did not expect\n  %s\nin\n%s", needle, text);
}
