/*
 * browser.c: Chromium over the DevTools protocol on pipes (browser.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <nettle/base64.h>

#include "browser.h"

static long b_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

const char *b_program(void)
{
	const char *env = getenv("SIGHOST_CHROMIUM");
	if (env != NULL && env[0] != '\0')
		return env;
	static const char *const candidates[] = { "/usr/bin/chromium", "/usr/bin/chromium-browser" };
	for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
		if (access(candidates[i], X_OK) == 0)
			return candidates[i];
	return NULL;
}

/* In the child: the pipe ends become fds 3 and 4, output goes to a log in
 * the profile, then the browser runs. */
static void b_exec(const char *program, int in, int out, const char *profile)
{
	setpgid(0, 0);
	int a = fcntl(in, F_DUPFD, 10), c = fcntl(out, F_DUPFD, 10);
	if (a < 0 || c < 0 || dup2(a, 3) < 0 || dup2(c, 4) < 0)
		_exit(126);
	char log[4096];
	snprintf(log, sizeof log, "%s/chromium.log", profile);
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	for (int f = 5; f < 1024; f++)
		close(f);
	char dir[4200];
	snprintf(dir, sizeof dir, "--user-data-dir=%s", profile);
	execl(program, program, "--headless=new", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
		"--disable-extensions", "--disable-background-networking", "--disable-sync",
		"--remote-debugging-pipe", dir, "about:blank", (char *)NULL);
	_exit(127);
}

void b_start(b_browser *b)
{
	*b = (b_browser){ .pid = -1, .to = -1, .from = -1, .next_id = 1 };
	const char *program = b_program();
	cr_assert_not_null(program, "no chromium: scripts/deps installs it");
	char tmpl[] = "/tmp/sighost-chromium.XXXXXX";
	cr_assert_not_null(mkdtemp(tmpl));
	b->profile = strdup(tmpl);
	int in[2], out[2];
	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	b->pid = fork();
	cr_assert_geq(b->pid, 0);
	if (b->pid == 0)
		b_exec(program, in[0], out[1], b->profile);
	close(in[0]);
	close(out[1]);
	b->to = in[1];
	b->from = out[0];
	json_t *target = b_call(b, false, "Target.createTarget",
		json_pack("{s:s}", "url", "about:blank"), 30000);
	json_t *attached = b_call(b, false, "Target.attachToTarget", json_pack("{s:s, s:b}",
		"targetId", json_string_value(json_object_get(target, "targetId")), "flatten", 1), 10000);
	b->session = strdup(json_string_value(json_object_get(attached, "sessionId")));
	json_decref(target);
	json_decref(attached);
	json_decref(b_call(b, true, "Emulation.setDeviceMetricsOverride", json_pack(
		"{s:i, s:i, s:i, s:b}", "width", 1280, "height", 900, "deviceScaleFactor", 1,
		"mobile", 0), 10000));
	json_decref(b_call(b, true, "Page.enable", NULL, 10000));
	json_decref(b_call(b, true, "Network.enable", NULL, 10000));
}

/* Reads until a whole message is buffered or the deadline passes; returns
 * it parsed (decref it), NULL at the deadline. */
static json_t *b_next(b_browser *b, long deadline)
{
	for (;;) {
		char *end = b->len > 0 ? memchr(b->buf, '\0', b->len) : NULL;
		if (end != NULL) {
			size_t n = (size_t)(end - b->buf);
			json_t *m = json_loadb(b->buf, n, 0, NULL);
			memmove(b->buf, end + 1, b->len - n - 1);
			b->len -= n + 1;
			cr_assert_not_null(m, "the browser sent a message that is not JSON");
			return m;
		}
		long left = deadline - b_now_ms();
		if (left <= 0)
			return NULL;
		struct pollfd p = { b->from, POLLIN, 0 };
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		if (b->cap - b->len < 65536) {
			b->cap = b->cap * 2 + 65536;
			b->buf = realloc(b->buf, b->cap);
			cr_assert_not_null(b->buf);
		}
		ssize_t got = read(b->from, b->buf + b->len, b->cap - b->len);
		cr_assert_gt(got, 0, "the browser closed its pipe (see %s/chromium.log)", b->profile);
		b->len += (size_t)got;
	}
}

json_t *b_call(b_browser *b, bool page, const char *method, json_t *params, int timeout_ms)
{
	int id = b->next_id++;
	json_t *msg = json_pack("{s:i, s:s, s:o}", "id", id, "method", method,
		"params", params != NULL ? params : json_object());
	if (page)
		json_object_set_new(msg, "sessionId", json_string(b->session));
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	size_t n = strlen(text) + 1;   /* with its NUL */
	for (size_t off = 0; off < n;) {
		ssize_t w = write(b->to, text + off, n - off);
		cr_assert_gt(w, 0, "cannot write to the browser");
		off += (size_t)w;
	}
	free(text);
	long deadline = b_now_ms() + timeout_ms;
	for (;;) {
		json_t *m = b_next(b, deadline);
		cr_assert_not_null(m, "the browser did not answer %s within %d ms", method, timeout_ms);
		if (json_integer_value(json_object_get(m, "id")) != id) {
			json_decref(m);   /* an event, or another call's answer */
			continue;
		}
		json_t *error = json_object_get(m, "error");
		if (error != NULL) {
			char *why = json_dumps(error, 0);
			cr_assert_fail("%s failed: %s", method, why);
		}
		json_t *result = json_incref(json_object_get(m, "result"));
		json_decref(m);
		return result;
	}
}

json_t *b_eval(b_browser *b, const char *expression)
{
	json_t *r = b_call(b, true, "Runtime.evaluate", json_pack("{s:s, s:b, s:b}", "expression",
		expression, "returnByValue", 1, "awaitPromise", 1), 10000);
	json_t *exc = json_object_get(r, "exceptionDetails");
	cr_assert_null(exc, "the page threw evaluating %s", expression);
	json_t *value = json_incref(json_object_get(json_object_get(r, "result"), "value"));
	json_decref(r);
	return value != NULL ? value : json_null();
}

long b_wait_true(b_browser *b, const char *expression, int timeout_ms)
{
	long start = b_now_ms();
	for (;;) {
		json_t *v = b_eval(b, expression);
		bool yes = json_is_true(v);
		json_decref(v);
		long took = b_now_ms() - start;
		if (yes)
			return took;
		if (took > timeout_ms)
			return -1;
		struct timespec nap = { 0, 20L * 1000 * 1000 };
		nanosleep(&nap, NULL);
	}
}

void b_goto(b_browser *b, const char *url)
{
	json_decref(b_call(b, true, "Page.navigate", json_pack("{s:s}", "url", url), 20000));
	cr_assert_geq(b_wait_true(b, "document.readyState === 'complete'", 20000), 0,
		"%s did not load within 20 s", url);
}

void b_screenshot(b_browser *b, const char *path)
{
	json_t *r = b_call(b, true, "Page.captureScreenshot", json_pack("{s:s}", "format", "png"),
		20000);
	const char *data = json_string_value(json_object_get(r, "data"));
	cr_assert_not_null(data);
	size_t len = strlen(data);
	uint8_t *png = malloc(BASE64_DECODE_LENGTH(len));
	size_t out = BASE64_DECODE_LENGTH(len);
	struct base64_decode_ctx ctx;
	base64_decode_init(&ctx);
	cr_assert(base64_decode_update(&ctx, &out, png, len, data) && base64_decode_final(&ctx),
		"the screenshot is not base64");
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "cannot write %s", path);
	cr_assert_eq(fwrite(png, 1, out, f), out);
	fclose(f);
	free(png);
	json_decref(r);
}

void b_stop(b_browser *b)
{
	if (b->pid > 0) {
		const char *close_msg = "{\"id\":999999,\"method\":\"Browser.close\"}";
		if (b->to >= 0 && write(b->to, close_msg, strlen(close_msg) + 1) < 0)
			kill(-b->pid, SIGKILL);
		long deadline = b_now_ms() + 5000;
		int status;
		while (waitpid(b->pid, &status, WNOHANG) == 0) {
			if (b_now_ms() > deadline) {
				kill(-b->pid, SIGKILL);
				waitpid(b->pid, &status, 0);
				break;
			}
			struct timespec nap = { 0, 20L * 1000 * 1000 };
			nanosleep(&nap, NULL);
		}
		kill(-b->pid, SIGKILL);   /* whatever of its process group is left */
	}
	if (b->to >= 0)
		close(b->to);
	if (b->from >= 0)
		close(b->from);
	if (b->profile != NULL) {
		char cmd[4200];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->profile);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", b->profile);
	}
	free(b->profile);
	free(b->buf);
	free(b->session);
	*b = (b_browser){ .pid = -1, .to = -1, .from = -1 };
}
