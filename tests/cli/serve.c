/*
 * serve.c: what `sighost serve` and `sighost check --deploy` tell a user:
 * settings.debug turns a failing view's 500 into a page that says what
 * failed (and only then); an edit the running server ignores (an app
 * manifest, a plugin, a template) is logged as needing a restart; systemd
 * hears READY=1 and STOPPING=1 on NOTIFY_SOCKET (a real datagram socket
 * bound here); check --deploy warns about each unsafe setting.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../support/web.h"

TestSuite(serve, .init = w_setup, .fini = w_cleanup, .timeout = 120);

static const char *const routes =
	"models:\n  Note: {fields: {title: {type: text}}}\n"
	"routes:\n"
	"  - {path: /boom, view: boom}\n"
	"  - {path: /hello, view: hello}\n"
	"  - {path: /private, view: hello, login_required: true}\n"
	"  - {path: /notes, methods: [GET, POST], model: web.Note, anonymous: [GET, POST]}\n";

Test(serve, debug_pages_say_what_failed_only_when_debug_is_true)
{
	w_project("web", "  debug: true\n");
	w_app("web", routes);
	w_server s;
	w_start(&s, (const char *const[]){ "--migrate", NULL });
	w_resp r = w_request(s.port, "GET", "/boom", NULL, NULL);
	cr_assert_eq(r.status, 500);
	w_has(r.body, "<h1>Server Error (500)</h1>");
	w_has(r.body, "<pre>view web.boom failed on &quot;GET /boom HTTP/1.1&quot;: SH_ERROR: "
		"secret internal detail 42</pre>");
	w_has(r.body, "settings.debug is true");
	w_resp_free(&r);
	w_stop(&s);
	w_server_free(&s);

	w_project("web", "  debug: false\n");
	w_start(&s, NULL);
	r = w_request(s.port, "GET", "/boom", NULL, NULL);
	cr_assert_eq(r.status, 500);
	cr_assert_str_eq(r.body, "<h1>Server Error (500)</h1>");
	w_resp_free(&r);
	w_stop(&s);
	w_server_free(&s);
}

/* Reads serve's stderr file until it holds `needle` (at most 20 s). */
static bool err_has(const w_server *s, const char *needle)
{
	for (int i = 0; i < 200; i++) {
		char *text = t_read(s->err_path);
		bool found = strstr(text, needle) != NULL;
		free(text);
		if (found)
			return true;
		usleep(100 * 1000);
	}
	return false;
}

Test(serve, edits_the_server_ignores_are_said_to_need_a_restart)
{
	w_project("web", NULL);
	w_app("web", routes);
	char *templates = t_path(w_plugins, "templates");
	cr_assert_eq(mkdir(templates, 0755), 0);
	char *web_templates = t_path(templates, "web");
	cr_assert_eq(mkdir(web_templates, 0755), 0);
	free(t_write(web_templates, "page.html", "v1"));
	w_server s;
	w_start(&s, (const char *const[]){ "--migrate", NULL });

	char *manifest = t_path(w_plugins, "web.yaml"), *text = t_read(manifest);
	w_manifest("web", text);   /* an app manifest rewritten */
	cr_assert(err_has(&s, "/web.yaml changed: it needs a restart"), "%s", t_read(s.err_path));
	free(t_write(web_templates, "page.html", "v2"));
	cr_assert(err_has(&s, "/templates/web/page.html changed: it needs a restart"));
	char *so = t_path(w_plugins, "web.so");
	char *copy = t_path(w_dir, "web.so.new");
	free(t_copy(so, w_dir, "web.so.new", 0755));
	cr_assert_eq(rename(copy, so), 0);   /* a plugin replaced, as make install does */
	cr_assert(err_has(&s, "/web.so changed: it needs a restart"));
	w_stop(&s);
	cr_assert_eq(s.status, 0);
	w_server_free(&s);
	free(so);
	free(copy);
	free(text);
	free(manifest);
	free(web_templates);
	free(templates);
}

/* Appends the datagrams of fd to got until it holds `state` (at most 10 s
 * without one). */
static void receive_until(int fd, char *got, size_t size, size_t *len, const char *state)
{
	struct pollfd p = { fd, POLLIN, 0 };
	while (strstr(got, state) == NULL && poll(&p, 1, 10000) == 1) {
		ssize_t n = recv(fd, got + *len, size - *len - 1, 0);
		cr_assert_gt(n, 0);
		*len += (size_t)n;
		got[*len] = '\0';
	}
	cr_assert_not_null(strstr(got, state), "got: %s", got);
}

Test(serve, systemd_hears_ready_reloading_and_stopping_on_notify_socket)
{
	w_project("web", NULL);
	w_app("web", routes);
	char *path = t_path(w_dir, "notify.sock");
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	cr_assert_lt(strlen(path), sizeof addr.sun_path);
	strcpy(addr.sun_path, path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
	setenv("NOTIFY_SOCKET", path, 1);
	w_server s;
	w_start(&s, (const char *const[]){ "--migrate", NULL });
	unsetenv("NOTIFY_SOCKET");
	char got[4096] = "";
	size_t len = 0;
	receive_until(fd, got, sizeof got, &len, "READY=1");
	got[0] = '\0';
	len = 0;
	kill(s.pid, SIGHUP);   /* systemctl reload */
	receive_until(fd, got, sizeof got, &len, "RELOADING=1");
	cr_assert_not_null(strstr(got, "MONOTONIC_USEC="), "got: %s", got);
	receive_until(fd, got, sizeof got, &len, "READY=1");
	w_stop(&s);
	receive_until(fd, got, sizeof got, &len, "STOPPING=1");
	w_server_free(&s);
	close(fd);
	free(path);
}

Test(serve, the_access_log_follows_the_log_format)
{
	w_project("web", "log_format: json\n");
	w_app("web", routes);
	w_server s;
	w_start(&s, (const char *const[]){ "--migrate", NULL });
	w_resp r = w_request(s.port, "GET", "/hello", NULL, NULL);
	cr_assert_eq(r.status, 200);
	w_resp_free(&r);
	w_stop(&s);
	w_has(s.err, "\"level\":\"info\",\"origin\":\"sighost.server\",\"message\":"
		"\"\\\"GET /hello HTTP/1.1\\\" 200 ");
	w_has(s.err, "{\"time\":\"");
	w_server_free(&s);
}

Test(serve, check_deploy_warns_about_each_unsafe_setting)
{
	w_project("web", "  debug: true\nlisten: 0.0.0.0:8000\n");
	w_app("web", routes);
	char *project = t_path(w_dir, "project.yaml");
	chmod(project, 0666);
	t_run r = t_sighost(w_dir, NULL, (const char *const[]){ "check", "--settings",
		"project.yaml", "--deploy", NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	w_has(r.err, "warning: (deploy) route /notes (web.Note, app 'web') lets anonymous clients POST");
	w_has(r.err, "warning: (deploy) settings.debug is true");
	w_has(r.err, "warning: (deploy) listen is 0.0.0.0:8000, beyond loopback");
	w_has(r.err, "project.yaml is readable and writable by other users (mode 0666)");
	w_has(r.err, "warning: (deploy) 1 route needs a token and the project has none");
	t_run_free(&r);
	/* without --deploy: none of them */
	r = t_sighost(w_dir, NULL, (const char *const[]){ "check", "--settings", "project.yaml", NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	w_lacks(r.err, "(deploy)");
	t_run_free(&r);
	/* a safe project: no deploy warning */
	w_project("web", "  debug: false\n");
	chmod(project, 0600);
	w_app("web", "routes:\n  - {path: /private, view: hello, login_required: true}\n");
	r = t_sighost(w_dir, NULL, (const char *const[]){ "createtoken", "alice", "--settings",
		"project.yaml", NULL });
	t_run_free(&r);
	char *db = t_path(w_dir, "db.sqlite3");
	chmod(db, 0600);
	r = t_sighost(w_dir, NULL, (const char *const[]){ "check", "--settings", "project.yaml",
		"--deploy", NULL });
	cr_assert_eq(r.status, 0, "%s", r.err);
	w_lacks(r.err, "(deploy)");
	t_run_free(&r);
	free(db);
	free(project);
}
