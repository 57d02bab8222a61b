/*
 * soak.c: a bounded soak of `sighost serve` (audit and the example's alert
 * app, receivers connected) with wrk on loopback: create, read, update and
 * delete through the JSON API (soak.lua) for SIGHOST_SOAK_SECONDS (default
 * 20; run it by hand with 180 or more). Asserts: no error response and no
 * socket error; after a warm-up, resident memory (its highest sample)
 * grows by at most a bound per request served; the open descriptors come
 * back to their count after the warm-up; the audit log holds exactly one send of each signal per operation wrk
 * saw answered. Prints the figures. Not run under sanitizers (their
 * allocator makes RSS meaningless and the rates too low to soak).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rel_support.h"

TestSuite(soak, .init = w_setup, .fini = w_cleanup, .timeout = 0);

/* How much resident memory may grow per request served, from the
 * baseline after the warm-up to the highest sample taken during the soak.
 * Everything that grows with use is filled by the warm-up: each worker's
 * SQLite connection (its page cache, 2 MiB at most by SQLite's default,
 * and prepared statements), malloc's per-thread arenas, libmicrohttpd's
 * connection pools; what a request allocates goes back to the arenas.
 * What is left is arena fragmentation, measured at 0.2 to 0.4 MiB over 20
 * to 180 s runs (under 5 bytes a request in a default run of about 90,000
 * requests, 0.1 in a long one): 32 bytes a request leaves room for a run
 * at a quarter of that rate, and a leak of 48 bytes a request (64 with
 * malloc's header) exceeds it however long the run. */
#define RSS_BYTES_PER_REQUEST 32

/* What one wrk run reported (its SOAK line). */
typedef struct wrk_result {
	long create, read, update, delete_, errors, requests, socket_errors, p99_us;
	char first_error[256];
} wrk_result;

/* The API token wrk's requests carry (model routes need one). */
static char *soak_token;

/* Runs wrk for `seconds` against the server with soak.lua, sampling the
 * server's RSS and descriptors once a second; returns the SOAK line. */
static wrk_result run_wrk(const w_server *s, unsigned seconds, long *rss_max, int *fds_max)
{
	char *out = t_path(w_dir, "wrk.out");
	pid_t pid = r_spawn_wrk(s->port, 4, seconds, soak_token, out);
	*rss_max = 0;
	*fds_max = 0;
	int status;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		long rss = t_rss_kib(s->pid);
		int fds = r_fd_count(s->pid);
		*rss_max = rss > *rss_max ? rss : *rss_max;
		*fds_max = fds > *fds_max ? fds : *fds_max;
		r_sleep(0.25);
	}
	char *text = t_read(out);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wrk failed:\n%s", text);
	const char *line = strstr(text, "SOAK ");
	cr_assert_not_null(line, "no SOAK line from soak.lua:\n%s", text);
	json_error_t error;
	json_t *j = json_loads(line + 5, JSON_DISABLE_EOF_CHECK, &error);
	cr_assert_not_null(j, "%s: %s", error.text, line);
	wrk_result r = { 0 };
	cr_assert_eq(json_unpack(j, "{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "create", &r.create,
		"read", &r.read, "update", &r.update, "delete", &r.delete_, "errors", &r.errors,
		"requests", &r.requests, "socket_errors", &r.socket_errors, "latency_p99_us", &r.p99_us),
		0, "%s", line);
	snprintf(r.first_error, sizeof r.first_error, "%s",
		json_string_value(json_object_get(j, "first_error")));
	json_decref(j);
	cr_log_info("soak: wrk %u s:\n%s", seconds, text);
	free(text);
	free(out);
	return r;
}

/* Sends of each signal counted in the audit log. */
typedef struct audit_counts {
	long request_started, request_finished, got_request_exception;
	long pre_save, post_save, created, pre_delete, post_delete, m2m_changed;
	long lines;
} audit_counts;

static audit_counts count_audit(void)
{
	char *path = t_path(w_dir, "audit.jsonl");
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	audit_counts c = { 0 };
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		json_t *e = json_loads(line, 0, NULL);
		cr_assert_not_null(e, "bad audit line: %s", line);
		const char *signal = json_string_value(json_object_get(e, "signal"));
		const char *sender = json_string_value(json_object_get(e, "sender"));
		bool alert = sender != NULL && strcmp(sender, "alert.Alert") == 0;
		c.lines++;
		c.request_started += strcmp(signal, "request_started") == 0;
		c.request_finished += strcmp(signal, "request_finished") == 0;
		c.got_request_exception += strcmp(signal, "got_request_exception") == 0;
		c.pre_save += alert && strcmp(signal, "pre_save") == 0;
		c.pre_delete += alert && strcmp(signal, "pre_delete") == 0;
		c.post_delete += alert && strcmp(signal, "post_delete") == 0;
		c.m2m_changed += strcmp(signal, "m2m_changed") == 0;
		if (alert && strcmp(signal, "post_save") == 0) {
			c.post_save++;
			c.created += json_is_true(json_object_get(json_object_get(e, "args"), "created"));
		}
		json_decref(e);
	}
	free(line);
	fclose(f);
	free(path);
	return c;
}

/* Waits (10 s at most) until the audit log holds `finished`
 * request_finished sends: the last one is sent after its response. */
static audit_counts audit_after(long finished)
{
	double end = r_now() + 10;
	audit_counts c;
	while ((c = count_audit()).request_finished < finished && r_now() < end)
		r_sleep(0.1);
	return c;
}

/* Waits (5 s at most) for the server's descriptors to come down to `want`
 * (libmicrohttpd closes the connections as wrk's go); returns the count. */
static int fds_settle(pid_t pid, int want)
{
	double end = r_now() + 5;
	int fds;
	while ((fds = r_fd_count(pid)) > want && r_now() < end)
		r_sleep(0.05);
	return fds;
}

static void no_errors(const wrk_result *r, const char *phase)
{
	cr_assert_eq(r->errors, 0, "%s: %ld error responses, the first: %s", phase, r->errors,
		r->first_error);
	cr_assert_eq(r->socket_errors, 0, "%s: %ld socket errors", phase, r->socket_errors);
	cr_assert_eq(r->requests, r->create + r->read + r->update + r->delete_,
		"%s: wrk's total is not the sum of the kinds", phase);
	cr_assert_gt(r->delete_, 0, "%s: nothing was done", phase);
}

Test(soak, crud_under_wrk_keeps_memory_descriptors_and_signal_counts)
{
	const char *env = getenv("SIGHOST_SOAK_SECONDS");
	unsigned seconds = env != NULL && *env != '\0' ? (unsigned)strtoul(env, NULL, 10) : 20;
	unsigned warm = seconds / 5 < 2 ? 2 : seconds / 5;
	cr_assert_gt(seconds, 0);
	w_project("alert", "threads: 4\ndatabase: {engine: sqlite, name: db.sqlite3, "
		"synchronous: normal}\n");
	a_migrate();
	soak_token = a_token("soaker");
	cr_assert_geq(asprintf(&w_auth, "Authorization: Token %s\r\n", soak_token), 0);
	w_server s;
	w_start(&s, NULL);
	long rss_start = t_rss_kib(s.pid);
	int fds_start = r_fd_count(s.pid);
	/* warm-up: every worker opens its connection, caches fill */
	long rss_max;
	int fds_max;
	wrk_result w = run_wrk(&s, warm, &rss_max, &fds_max);
	no_errors(&w, "warm-up");
	/* wrk's few connections may all land on some of libmicrohttpd's threads;
	 * short connections reach every one, so each has opened its database
	 * connection before the baseline is taken */
	for (int i = 0; i < 100; i++) {
		int status = 0;
		r_http(s.port, "GET", "/api/alerts?limit=1", NULL, NULL, 10, &status, NULL);
		cr_assert_eq(status, 200);
	}
	audit_counts a0 = audit_after(w.requests + 100);
	cr_assert_eq(a0.request_finished, w.requests + 100, "warm-up: request_finished");
	int fds_warm = fds_settle(s.pid, fds_start);
	long rss_warm = t_rss_kib(s.pid);
	/* the soak */
	double t0 = r_now();
	wrk_result r = run_wrk(&s, seconds, &rss_max, &fds_max);
	double took = r_now() - t0;
	no_errors(&r, "soak");
	audit_counts a1 = audit_after(w.requests + r.requests);
	int fds_end = fds_settle(s.pid, fds_warm);
	long rss_end = t_rss_kib(s.pid);
	cr_log_info("soak: %u s (%.1f s with the wait), %ld requests (%.0f/s): %ld creates, %ld reads, "
		"%ld updates, %ld deletes, p99 %.1f ms; RSS KiB: start %ld, after warm-up %ld, max "
		"%ld, end %ld (%+ld); descriptors: start %d, after warm-up %d, max %d, end %d; "
		"audit: %ld lines", seconds, took, r.requests, (double)r.requests / seconds, r.create,
		r.read, r.update, r.delete_, (double)r.p99_us / 1000, rss_start, rss_warm, rss_max,
		rss_end, rss_end - rss_warm, fds_start, fds_warm, fds_max, fds_end, a1.lines - a0.lines);
	/* exactly one send of each signal per operation */
	long requests = r.requests;
	cr_expect_eq(a1.request_started - a0.request_started, requests, "request_started");
	cr_expect_eq(a1.request_finished - a0.request_finished, requests, "request_finished");
	cr_expect_eq(a1.got_request_exception - a0.got_request_exception, 0, "got_request_exception");
	cr_expect_eq(a1.pre_save - a0.pre_save, r.create + r.update, "pre_save of alert.Alert");
	cr_expect_eq(a1.post_save - a0.post_save, r.create + r.update, "post_save of alert.Alert");
	cr_expect_eq(a1.created - a0.created, r.create, "post_save with created true");
	cr_expect_eq(a1.pre_delete - a0.pre_delete, r.delete_, "pre_delete of alert.Alert");
	cr_expect_eq(a1.post_delete - a0.post_delete, r.delete_, "post_delete of alert.Alert");
	cr_expect_eq(a1.m2m_changed - a0.m2m_changed, 2 * r.create,
		"m2m_changed (pre_add and post_add of each create's tag)");
	/* and the database agrees: every alert made was deleted */
	cr_expect_eq(a_sql_int("SELECT count(*) FROM alert_alert"), 0);
	cr_expect_eq(a_sql_int("SELECT count(*) FROM alert_alert_tags"), 0);
	/* resources */
	cr_expect_eq(fds_end, fds_warm, "descriptors after the soak: %d, after the warm-up: %d",
		fds_end, fds_warm);
	double per_request = (double)(rss_max - rss_warm) * 1024 / (double)r.requests;
	cr_log_info("soak: RSS grew %.1f bytes a request at most (bound %d)", per_request,
		RSS_BYTES_PER_REQUEST);
	cr_expect_leq(per_request, RSS_BYTES_PER_REQUEST, "RSS grew from %ld KiB after the warm-up "
		"to %ld KiB at most over %ld requests: %.1f bytes a request", rss_warm, rss_max,
		r.requests, per_request);
	w_stop(&s);
	cr_assert_eq(s.status, 0, "%s", s.err);
	w_server_free(&s);
}
