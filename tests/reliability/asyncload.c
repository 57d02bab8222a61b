/*
 * asyncload.c: `sighost serve` with async receivers that write: the
 * plugin t_chain's async post_save receiver of alert.Alert saves an
 * alert.Owner on the pool thread, whose post_save the audit plugin (async
 * too) hears, so pool threads submit to their own pool. Under wrk's load
 * of creates for SIGHOST_ASYNCLOAD_SECONDS (default 20) with the default
 * pool (async_threads 2, async_queue 1024), every request must be
 * answered, and SIGTERM must end the server within the grace the docs
 * give (request_timeout for the requests in flight, then the queue).
 * Before the fix, pool threads waited for room in the queue only they
 * drained: every write hung and SIGTERM never returned.
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

TestSuite(asyncload, .init = w_setup, .fini = w_cleanup, .timeout = 0);

/* request_timeout in the test's manifest: the grace of the requests in
 * flight at SIGTERM. */
#define GRACE 5

Test(asyncload, async_receivers_that_save_under_wrk_then_sigterm_ends_in_time)
{
	const char *env = getenv("SIGHOST_ASYNCLOAD_SECONDS");
	unsigned seconds = env != NULL && *env != '\0' ? (unsigned)strtoul(env, NULL, 10) : 20;
	char *from = t_path(t_env("SIGHOST_WEB_PLUGIN_DIR"), "t_chain.so");
	free(t_copy(from, w_plugins, "t_chain.so", 0755));
	free(from);
	w_manifest("chain", "label: chain\nlibrary: t_chain.so\ndepends: [alert]\n");
	char *project = NULL;
	cr_assert_geq(asprintf(&project, "project: web\nplugin_dirs: [%s, plugins]\n"
		"installed_apps: [audit, alert, chain]\nrequest_timeout: %d\n"
		"threads: 8\n"
		"settings:\n  audit: {path: audit.jsonl, async: true}\n",
		t_env("SIGHOST_PLUGIN_DIR"), GRACE), 0);
	free(t_write(w_dir, "project.yaml", project));
	free(project);
	a_migrate();
	char *token = a_token("loader");
	w_server s;
	w_start(&s, NULL);

	char *out = t_path(w_dir, "wrk.out");
	pid_t wrk = r_spawn_wrk(s.port, 8, seconds, token, out);
	int status = r_wait(wrk, seconds + 30);
	char *text = t_read(out);
	cr_log_info("asyncload: wrk %u s:\n%s", seconds, text);
	cr_assert_eq(status, 0, "wrk failed or hung (%d):\n%s", status, text);
	const char *line = strstr(text, "SOAK ");
	cr_assert_not_null(line, "no SOAK line:\n%s", text);
	json_t *j = json_loads(line + 5, JSON_DISABLE_EOF_CHECK, NULL);
	cr_assert_not_null(j, "%s", line);
	json_int_t creates = json_integer_value(json_object_get(j, "create"));
	json_int_t errors = json_integer_value(json_object_get(j, "errors"));
	json_int_t socket_errors = json_integer_value(json_object_get(j, "socket_errors"));
	json_decref(j);
	cr_assert_eq(errors, 0, "%s", text);
	cr_assert_eq(socket_errors, 0, "%s (requests that hung are timeouts)", text);
	/* a few hundred creates filled the queue before the fix */
	cr_assert_gt(creates, 500, "%s", text);

	double t0 = r_now();
	cr_assert_eq(kill(s.pid, SIGTERM), 0);
	/* the grace: request_timeout for requests in flight (none here), then
	 * the queued jobs; 10 s more for a slow machine */
	int code = r_wait(s.pid, GRACE + 10);
	double took = r_now() - t0;
	cr_log_info("asyncload: %lld creates; SIGTERM to exit %.2f s", (long long)creates, took);
	cr_assert_eq(code, 0, "sighost did not exit within %d s of SIGTERM (%d)", GRACE + 10, code);
	/* every create's chained save ran (the queue drained at shutdown) */
	cr_assert_geq(a_sql_int("SELECT count(*) FROM alert_owner WHERE name = 'chained'"),
		4 * creates);
	free(text);
	free(out);
	free(token);
	w_server_free(&s);
}
