/*
 * faults.c: what the real `sighost serve` does when its SQLite file fails
 * under it, and when receivers fail during requests.
 *
 * Database faults, each made real on the file the server uses, from
 * outside the server: a lock another process holds past the busy timeout,
 * a full disk (the server's file size limit lowered with prlimit(2) below
 * its write-ahead log), a read-only file (chmod; when the tests run as
 * root, the server is started without CAP_DAC_OVERRIDE so that the mode
 * binds it). Each time a write answers 503 with Retry-After and a body
 * that tells nothing of the cause, the log and got_request_exception have
 * the clear reason, reads keep working, nothing is half-written, the
 * server stays up, and once the fault is gone the same write succeeds.
 *
 * Failing receivers (test plugin t_fault): a failing post_save makes the
 * request 500 with nothing saved; a failing pre_save of the second save
 * of a request undoes the first too under atomic requests, and only
 * itself without; a failing got_request_exception receiver does not stop
 * the others (send_robust).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sighost/error.h>

#include "../support/api.h"

TestSuite(faults, .init = w_setup, .fini = w_cleanup, .timeout = 120);

/* The app: the model the JSON API writes, and t_fault's view. */
static const char *const fault_app =
	"models:\n"
	"  Entry:\n"
	"    fields:\n"
	"      title: {type: text, max_length: 100}\n"
	"routes:\n"
	"  - {path: /api/entries, methods: [GET, POST], model: fault.Entry}\n"
	"  - {path: /pair, methods: [POST], view: pair, atomic: true}\n"
	"  - {path: /pair/free, methods: [POST], view: pair, atomic: false}\n";

/* The busy timeout the project sets (database.timeout, seconds). */
#define TIMEOUT_S 1

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Installs t_fault as the app `fault`, writes the project (atomic_requests
 * as given), makes the tables with `sighost migrate` and starts serve. */
static void serve_fault(w_server *s, bool atomic_requests)
{
	char *from = NULL, *extra = NULL;
	cr_assert_geq(asprintf(&from, "%s/t_fault.so", t_env("SIGHOST_WEB_PLUGIN_DIR")), 0);
	free(t_copy(from, w_plugins, "fault.so", 0755));
	free(from);
	cr_assert_geq(asprintf(&extra, "label: fault\nlibrary: fault.so\n%s", fault_app), 0);
	w_manifest("fault", extra);
	free(extra);
	cr_assert_geq(asprintf(&extra, "database: {engine: sqlite, name: db.sqlite3, timeout: %d}\n"
		"atomic_requests: %s\n", TIMEOUT_S, atomic_requests ? "true" : "false"), 0);
	w_project("fault", extra);
	free(extra);
	a_migrate();
	a_login("faulty");   /* model routes need a token */
	w_start(s, NULL);
}

static void stop(w_server *s)
{
	w_stop(s);
	cr_assert_eq(s->status, 0, "exit status %d, stderr:\n%s", s->status, s->err);
}

static w_resp post_entry(unsigned port, const char *title)
{
	char body[256];
	snprintf(body, sizeof body, "{\"title\": \"%s\"}", title);
	return a_json(port, "POST", "/api/entries", NULL, body);
}

static void created(unsigned port, const char *title)
{
	w_resp r = post_entry(port, title);
	cr_assert_eq(r.status, 201, "POST %s gave %d: %s", title, r.status, r.body);
	w_resp_free(&r);
}

/* Asserts the host's 503: Retry-After, a fixed JSON body naming nothing
 * of the cause. */
static void unavailable(const w_resp *r)
{
	cr_assert_eq(r->status, 503, "expected 503, got %d: %s", r->status, r->body);
	w_header_is(r, "Retry-After", "5");
	w_header_is(r, "Content-Type", "application/json");
	cr_assert_str_eq(r->body, "{\"error\":\"service unavailable, try again later\"}");
}

/* GET /api/entries answers 200 with `count` entries. */
static void listed(unsigned port, int count)
{
	w_resp r = w_request(port, "GET", "/api/entries", NULL, NULL);
	cr_assert_eq(r.status, 200, "GET gave %d: %s", r.status, r.body);
	json_t *page = a_body(&r);
	cr_assert_eq(json_integer_value(json_object_get(page, "count")), count, "%s", r.body);
	json_decref(page);
	w_resp_free(&r);
}

/* The file is whole and holds `count` entries. */
static void consistent(int64_t count)
{
	char *check = a_sql("PRAGMA integrity_check");
	cr_assert_str_eq(check, "ok");
	free(check);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM fault_entry"), count);
}

/* The audit log's got_request_exception entries (waiting for `count`):
 * asserts that the last one has `code` and a message holding `needle`. */
static void exception_logged(size_t count, int code, const char *needle)
{
	json_t *log = a_audit_all("got_request_exception", count);
	json_t *last = NULL;
	size_t seen = 0;
	for (size_t i = 0; i < json_array_size(log); i++) {
		json_t *e = json_array_get(log, i);
		if (strcmp(json_string_value(json_object_get(e, "signal")), "got_request_exception") == 0) {
			last = json_object_get(e, "args");
			seen++;
		}
	}
	cr_assert_eq(seen, count, "got_request_exception sent %zu times, not %zu", seen, count);
	cr_assert_eq(json_integer_value(json_object_get(last, "error")), code);
	w_has(json_string_value(json_object_get(last, "message")), needle);
	json_decref(log);
}

/* ---- database faults ---------------------------------------------------- */

Test(faults, a_lock_held_past_the_timeout_is_503_and_the_write_succeeds_once_released)
{
	w_server s;
	serve_fault(&s, false);
	created(s.port, "before");

	/* another process takes the write lock and keeps it */
	char *path = t_path(w_dir, "db.sqlite3");
	sqlite3 *other;
	cr_assert_eq(sqlite3_open(path, &other), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK,
		"%s", sqlite3_errmsg(other));
	double start = now();
	w_resp r = post_entry(s.port, "during");
	double waited = now() - start;
	unavailable(&r);
	w_resp_free(&r);
	cr_assert_geq(waited, TIMEOUT_S * 0.9, "answered after %.2f s: it did not wait for the lock",
		waited);
	cr_assert_lt(waited, TIMEOUT_S + 4.0, "answered after %.2f s: not the timeout", waited);
	listed(s.port, 1);                        /* readers are not locked out */
	/* a view on an atomic route: its transaction cannot begin; HTML */
	r = w_request(s.port, "POST", "/pair?first=x&second=y", NULL, "");
	cr_assert_eq(r.status, 503, "%d: %s", r.status, r.body);
	w_header_is(&r, "Retry-After", "5");
	cr_assert_str_eq(r.body, "<h1>Service Unavailable (503)</h1><p>Please try again later.</p>");
	w_resp_free(&r);
	cr_assert_eq(kill(s.pid, 0), 0);

	/* the lock goes: the same requests succeed */
	cr_assert_eq(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	created(s.port, "during");
	r = w_request(s.port, "POST", "/pair?first=x&second=y", NULL, "");
	cr_assert_eq(r.status, 201, "%d: %s", r.status, r.body);
	w_resp_free(&r);
	listed(s.port, 4);
	consistent(4);
	exception_logged(2, SH_EUNAVAILABLE, "is locked by another process (gave up after waiting "
		"1000 ms");
	stop(&s);
	w_has(s.err, "SH_EUNAVAILABLE: cannot begin a transaction: database ");
	w_has(s.err, "SH_EUNAVAILABLE: cannot open the request's transaction: cannot begin a "
		"transaction: database ");
	w_has(s.err, path);
	free(path);
	w_server_free(&s);
}

/* The size of file `name` of the scratch directory (0 when missing). */
static off_t file_size(const char *name)
{
	char *path = t_path(w_dir, name);
	struct stat st;
	off_t size = stat(path, &st) == 0 ? st.st_size : 0;
	free(path);
	return size;
}

/* Sets the soft RLIMIT_FSIZE of process `pid`. */
static void limit_file_size(pid_t pid, rlim_t bytes)
{
	struct rlimit old, set;
	cr_assert_eq(prlimit(pid, RLIMIT_FSIZE, NULL, &old), 0);
	set = (struct rlimit){ bytes, old.rlim_max };
	cr_assert_eq(prlimit(pid, RLIMIT_FSIZE, &set, NULL), 0, "prlimit: %m");
}

Test(faults, a_full_disk_is_503_writes_nothing_and_clears_without_a_restart)
{
	/* A write past the limit fails with EFBIG and comes with a SIGXFSZ,
	 * whose default action would end the process: sighost ignores it
	 * itself, so the test leaves the default for the server to inherit. */
	signal(SIGXFSZ, SIG_DFL);
	w_server s;
	serve_fault(&s, true);                    /* the request's COMMIT is what fails */
	created(s.port, "before");

	/* Another connection writes 512 KiB to the write-ahead log, which
	 * stays (the server's connections are open, and nothing checkpoints
	 * below 1000 pages): the server's next write goes past its end. */
	char *path = t_path(w_dir, "db.sqlite3");
	sqlite3 *other;
	cr_assert_eq(sqlite3_open(path, &other), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(other, "PRAGMA wal_autocheckpoint=0; CREATE TABLE filler(b); "
		"INSERT INTO filler VALUES (zeroblob(512 * 1024))", NULL, NULL, NULL), SQLITE_OK,
		"%s", sqlite3_errmsg(other));
	sqlite3_close(other);
	off_t wal = file_size("db.sqlite3-wal");
	cr_assert_gt(wal, 512 * 1024);
	/* the limit: below the log's end, above the files the server appends
	 * its log lines to (so that only the database is full) */
	off_t limit = wal / 2;
	cr_assert_lt(file_size("audit.jsonl") + 64 * 1024, limit);
	cr_assert_lt(file_size("serve.stderr") + 64 * 1024, limit);
	limit_file_size(s.pid, (rlim_t)limit);

	w_resp r = post_entry(s.port, "during");
	unavailable(&r);
	w_resp_free(&r);
	r = post_entry(s.port, "again");
	unavailable(&r);
	w_resp_free(&r);
	listed(s.port, 1);
	consistent(1);                            /* nothing half-written */
	cr_assert_eq(kill(s.pid, 0), 0);
	exception_logged(2, SH_EUNAVAILABLE, "I/O error writing database");

	/* room again, as when the disk is cleaned up: the same server writes */
	limit_file_size(s.pid, RLIM_INFINITY);
	created(s.port, "during");
	created(s.port, "again");
	listed(s.port, 3);
	consistent(3);
	stop(&s);
	w_has(s.err, "SH_EUNAVAILABLE: cannot commit the request's transaction: cannot commit: I/O "
		"error writing database ");
	w_has(s.err, "the disk may be full");
	free(path);
	w_server_free(&s);
}

/* chmod `mode` on the database and its -wal and -shm files. */
static void chmod_database(mode_t mode)
{
	static const char *const names[] = { "db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm" };
	for (size_t i = 0; i < 3; i++) {
		char *path = t_path(w_dir, names[i]);
		cr_assert_eq(chmod(path, mode), 0, "chmod %s: %m", path);
		free(path);
	}
}

Test(faults, a_read_only_file_is_503_reads_still_work_and_writes_resume_once_writable)
{
	/* root writes whatever the mode says: the server must run without
	 * CAP_DAC_OVERRIDE for the mode to bind it. Dropped from the bounding
	 * set, it is not given back at exec (this test's process keeps its
	 * own: it restores the mode below). */
	if (geteuid() == 0 && prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0)
		cr_skip_test("running as root without CAP_SETPCAP: cannot make a file read-only to "
			"the server");
	w_server s;
	serve_fault(&s, false);                   /* the main thread's connection opens writable */
	chmod_database(0444);

	/* each request is served by a worker thread whose connection opens
	 * now, on a file it may only read */
	for (int i = 0; i < 3; i++) {
		w_resp r = post_entry(s.port, "during");
		unavailable(&r);
		w_resp_free(&r);
		listed(s.port, 0);
	}
	consistent(0);
	cr_assert_eq(kill(s.pid, 0), 0);
	exception_logged(3, SH_EUNAVAILABLE, "is read-only");

	/* writable again: every write succeeds, whichever thread serves it */
	chmod_database(0644);
	for (int i = 0; i < 4; i++)
		created(s.port, "after");
	listed(s.port, 4);
	consistent(4);
	stop(&s);
	w_has(s.err, "is read-only: this process may not write the file");
	w_server_free(&s);
}

Test(faults, database_timeout_is_validated_with_its_position)
{
	w_project("", "database: {engine: sqlite, name: db.sqlite3, timeout: -1}\n");
	w_server s;
	w_start_fails(&s, NULL);
	cr_assert_neq(s.status, 0);
	w_has(s.err, "project.yaml:6:");
	w_has(s.err, "database.timeout must be from 0 to 3600 seconds, not -1");
	w_server_free(&s);
}

/* ---- failing receivers -------------------------------------------------- */

Test(faults, a_failing_post_save_makes_the_request_500_and_saves_nothing)
{
	w_server s;
	serve_fault(&s, false);
	created(s.port, "kept");
	w_resp r = post_entry(s.port, "refuse-post");
	cr_assert_eq(r.status, 500, "%d: %s", r.status, r.body);
	cr_assert_str_eq(r.body, "{\"error\":\"server error\"}");
	w_resp_free(&r);
	consistent(1);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM fault_entry WHERE title = 'refuse-post'"), 0);
	/* t_fault's first got_request_exception receiver fails, and the audit
	 * plugin's and t_fault's last one still run (send_robust) */
	exception_logged(1, SH_ERECEIVER, "post_save refuses the title refuse-post");
	created(s.port, "after");
	stop(&s);
	w_has(s.err, "error calling receiver of signal 'got_request_exception': t_fault: the first "
		"got_request_exception receiver fails");
	w_has(s.err, "t_fault: the last got_request_exception receiver ran (error SH_ERECEIVER)");
	w_server_free(&s);
}

/* POSTs /pair (or /pair/free) with a second entry that pre_save refuses. */
static void pair_refused(unsigned port, const char *route, const char *first)
{
	char path[128];
	snprintf(path, sizeof path, "%s?first=%s&second=refuse-pre", route, first);
	w_resp r = w_request(port, "POST", path, NULL, "");
	cr_assert_eq(r.status, 500, "POST %s gave %d: %s", path, r.status, r.body);
	w_resp_free(&r);
}

Test(faults, a_failing_pre_save_undoes_the_whole_atomic_request_and_only_itself_otherwise)
{
	w_server s;
	serve_fault(&s, false);
	w_resp r = w_request(s.port, "POST", "/pair?first=a&second=b", NULL, "");
	cr_assert_eq(r.status, 201, "%d: %s", r.status, r.body);
	w_resp_free(&r);
	consistent(2);

	pair_refused(s.port, "/pair", "undone");        /* the route is atomic */
	consistent(2);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM fault_entry WHERE title = 'undone'"), 0);

	pair_refused(s.port, "/pair/free", "stays");    /* autocommit: the first save stays */
	consistent(3);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM fault_entry WHERE title = 'stays'"), 1);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM fault_entry WHERE title = 'refuse-pre'"), 0);
	exception_logged(2, SH_ERECEIVER, "pre_save refuses the title refuse-pre");
	stop(&s);
	w_server_free(&s);
}

/* POSTs `n` entries on fresh connections (so they spread over the
 * server's threads) and asserts each is the host's 503. */
static void all_unavailable(unsigned port, int n, const char *title)
{
	for (int i = 0; i < n; i++) {
		w_resp r = post_entry(port, title);
		unavailable(&r);
		w_resp_free(&r);
		r = w_request(port, "GET", "/api/entries", NULL, NULL);
		unavailable(&r);
		w_resp_free(&r);
	}
}

Test(faults, a_database_deleted_or_replaced_while_serving_is_503_never_2xx)
{
	/* 11 POSTs got 201 and were lost; a thread made a new empty file;
	 * valid tokens got 401. */
	w_server s;
	serve_fault(&s, false);
	for (int i = 0; i < 8; i++)
		created(s.port, "before");   /* several threads open their connection */
	char *path = t_path(w_dir, "db.sqlite3"), *aside = t_path(w_dir, "aside.sqlite3");
	/* deleted: the open connections write to a file nobody will read, new
	 * ones would make a new empty database */
	cr_assert_eq(rename(path, aside), 0);
	all_unavailable(s.port, 12, "deleted");
	struct stat st;
	cr_assert_neq(stat(path, &st), 0, "no new database file was made");
	/* replaced by another file (a copy, so another inode) */
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", aside, path);
	cr_assert_eq(system(cmd), 0);
	all_unavailable(s.port, 12, "replaced");
	stop(&s);
	w_has(s.err, "error: refusing \"POST /api/entries\": database ");
	w_has(s.err, "was deleted, moved or replaced while the server had it open");
	size_t created_lines = 0;
	for (const char *p = s.err; (p = strstr(p, "\" 201 ")) != NULL; p++)
		created_lines++;
	cr_assert_eq(created_lines, 8, "only the eight before are logged 201:\n%s", s.err);
	/* nothing after the first eight reached either file */
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(rename(aside, path), 0);
	consistent(8);
	w_server_free(&s);
	free(path);
	free(aside);
}

/* A connection from `source` (a loopback address) to the server, left
 * idle; -1 when refused. */
static int idle_connection(const char *source, unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in from = { .sin_family = AF_INET }, to = { .sin_family = AF_INET };
	inet_pton(AF_INET, source, &from.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	to.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&from, sizeof from) != 0
		|| connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

Test(faults, one_clients_1024_idle_connections_do_not_lock_out_another, .timeout = 120)
{
	/* 1024 idle connections from one client took every slot for 30 s */
	struct rlimit files;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &files), 0);
	files.rlim_cur = files.rlim_max < 4096 ? files.rlim_max : 4096;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &files), 0);
	cr_assert_geq(files.rlim_cur, 1100, "needs 1100 descriptors, the hard limit is %ld",
		(long)files.rlim_max);
	w_server s;
	serve_fault(&s, false);
	created(s.port, "first");
	int fds[1024];
	size_t opened = 0;
	for (size_t i = 0; i < 1024; i++)
		if ((fds[i] = idle_connection("127.0.0.2", s.port)) >= 0)
			opened++;
	cr_assert_gt(opened, 1000, "the kernel accepts them all (%zu)", opened);
	/* another client (127.0.0.1) is served at once, again and again */
	for (int i = 0; i < 10; i++) {
		double t0 = now();
		w_resp r = w_request(s.port, "GET", "/api/entries", NULL, NULL);
		double took = now() - t0;
		cr_assert_eq(r.status, 200, "request %d of the other client: %d after %.1f s", i,
			r.status, took);
		cr_assert_lt(took, 2.0, "request %d took %.1f s", i, took);
		w_resp_free(&r);
	}
	for (size_t i = 0; i < 1024; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	stop(&s);
	/* the refusals are logged at warning level */
	w_has(s.err, "warning: libmicrohttpd: Server reached connection limit");
	w_server_free(&s);
}

Test(faults, a_connection_that_sends_nothing_is_closed_after_silent_timeout)
{
	w_app("web", "routes:\n  - {path: /public, view: echo}\n");
	w_project("web", "silent_timeout: 1\nrequest_timeout: 30\n");
	w_server s;
	w_start(&s, NULL);
	int fd = idle_connection("127.0.0.1", s.port);
	cr_assert_geq(fd, 0);
	double t0 = now();
	char byte;
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	cr_assert_leq(recv(fd, &byte, 1, 0), 0, "closed without an answer");
	double took = now() - t0;
	cr_assert_lt(took, 3.5, "closed after %.1f s, not within silent_timeout 1 s", took);
	cr_assert_gt(took, 0.5, "closed after %.1f s, before silent_timeout 1 s", took);
	close(fd);
	/* a client that sends its request line in time has request_timeout */
	fd = idle_connection("127.0.0.1", s.port);
	cr_assert(w_send(fd, "GET /public HTTP/1.1\r\n", 22));
	usleep(1500 * 1000);
	cr_assert(w_send(fd, "Host: x\r\nConnection: close\r\n\r\n", 31));
	w_resp r = w_read(fd, false);
	cr_assert_eq(r.status, 200, "%d", r.status);
	w_resp_free(&r);
	close(fd);
	stop(&s);
	w_server_free(&s);
}

Test(faults, a_fifo_renamed_over_the_settings_file_neither_blocks_reload_nor_sigterm)
{
	/* The reload opened the FIFO and waited for a writer for ever, on the
	 * main thread: SIGTERM and SIGHUP were never handled again. */
	w_app("web", "routes:\n  - {path: /public, view: echo}\n");
	w_project("web", NULL);
	w_server s;
	w_start(&s, NULL);
	char *fifo = t_path(w_dir, "fifo"), *project = t_path(w_dir, "project.yaml");
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(rename(fifo, project), 0);   /* the watch sees it and reloads */
	usleep(300 * 1000);
	cr_assert_eq(kill(s.pid, SIGHUP), 0);     /* and again, by signal */
	usleep(300 * 1000);
	w_resp r = w_request(s.port, "GET", "/public", NULL, NULL);
	cr_assert_eq(r.status, 200, "still serving: %d", r.status);
	w_resp_free(&r);
	double t0 = now();
	cr_assert_eq(kill(s.pid, SIGTERM), 0);
	int status = -1;
	while (waitpid(s.pid, &status, WNOHANG) == 0 && now() - t0 < 10)
		usleep(20 * 1000);
	bool exited = now() - t0 < 10;
	if (!exited) {
		kill(s.pid, SIGKILL);
		waitpid(s.pid, &status, 0);
	}
	s.err = t_read(s.err_path);
	cr_assert(exited, "SIGTERM did not stop the server within 10 s:\n%s", s.err);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "stderr:\n%s", s.err);
	w_has(s.err, "cannot read manifest: not a regular file");
	w_has(s.err, "the running settings stay");
	w_server_free(&s);
	free(fifo);
	free(project);
}
