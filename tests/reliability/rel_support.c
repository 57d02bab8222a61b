/*
 * rel_support.c: the helpers of rel_support.h.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rel_support.h"

double r_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void r_sleep(double seconds)
{
	struct timespec nap = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
	while (nanosleep(&nap, &nap) != 0 && errno == EINTR)
		continue;
}

/* ---- the database ----------------------------------------------------- */

char *r_db_path(void)
{
	return t_path(w_dir, "db.sqlite3");
}

static sqlite3 *r_open(const char *path)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	cr_assert_eq(rc, SQLITE_OK, "cannot open %s: %s", path, sqlite3_errstr(rc));
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* Writes every row of `sql`'s answer to `f`, each value with its type. */
static void r_dump_rows(sqlite3 *db, const char *sql, FILE *f)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(stmt); i++) {
			switch (sqlite3_column_type(stmt, i)) {
			case SQLITE_INTEGER:
				fprintf(f, "%si:%lld", i ? "|" : "", (long long)sqlite3_column_int64(stmt, i));
				break;
			case SQLITE_FLOAT:
				fprintf(f, "%sf:%.17g", i ? "|" : "", sqlite3_column_double(stmt, i));
				break;
			case SQLITE_NULL:
				fprintf(f, "%sn", i ? "|" : "");
				break;
			default: {   /* text and blobs: their length, then the bytes */
				const void *bytes = sqlite3_column_blob(stmt, i);
				int n = sqlite3_column_bytes(stmt, i);
				fprintf(f, "%s%c%d:", i ? "|" : "",
					sqlite3_column_type(stmt, i) == SQLITE_TEXT ? 't' : 'b', n);
				if (n > 0)
					fwrite(bytes, 1, (size_t)n, f);
			}
			}
		}
		fputc('\n', f);
	}
	cr_assert_eq(rc, SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(stmt);
}

char *r_db_dump(const char *path)
{
	sqlite3 *db = r_open(path);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	fputs("== schema\n", f);
	r_dump_rows(db, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name", f);
	sqlite3_stmt *tables = NULL;
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' "
		"ORDER BY name", -1, &tables, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	while (sqlite3_step(tables) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(tables, 0);
		char *sql = sqlite3_mprintf("SELECT * FROM \"%w\" ORDER BY rowid", name);
		fprintf(f, "== %s\n", name);
		r_dump_rows(db, sql, f);
		sqlite3_free(sql);
	}
	sqlite3_finalize(tables);
	sqlite3_close(db);
	fclose(f);
	return out;
}

uint64_t r_db_checksum(const char *path)
{
	char *dump = r_db_dump(path);
	uint64_t h = 0xcbf29ce484222325u;
	for (const unsigned char *c = (const unsigned char *)dump; *c != '\0'; c++)
		h = (h ^ *c) * 0x100000001b3u;
	free(dump);
	return h;
}

static int r_stored_cmp(const void *a, const void *b)
{
	return strcmp(((const r_stored *)a)->marker, ((const r_stored *)b)->marker);
}

r_stored *r_stored_alerts(const char *path, const char *like, size_t *count)
{
	sqlite3 *db = r_open(path);
	sqlite3_stmt *stmt = NULL;
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT content, id FROM alert_alert WHERE content "
		"LIKE ?", -1, &stmt, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_bind_text(stmt, 1, like, -1, SQLITE_TRANSIENT);
	size_t n = 0, cap = 1024;
	r_stored *rows = malloc(cap * sizeof *rows);
	cr_assert_not_null(rows);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		if (n == cap)
			cr_assert_not_null(rows = realloc(rows, (cap *= 2) * sizeof *rows));
		snprintf(rows[n].marker, sizeof rows[n].marker, "%s", sqlite3_column_text(stmt, 0));
		rows[n++].id = sqlite3_column_int64(stmt, 1);
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	qsort(rows, n, sizeof *rows, r_stored_cmp);
	*count = n;
	return rows;
}

const r_stored *r_stored_find(const r_stored *rows, size_t count, const char *marker)
{
	r_stored key = { .id = 0 };
	snprintf(key.marker, sizeof key.marker, "%s", marker);
	return bsearch(&key, rows, count, sizeof *rows, r_stored_cmp);
}

char *r_db_integrity(const char *path)
{
	sqlite3 *db = r_open(path);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	sqlite3_stmt *stmt = NULL;
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL), SQLITE_OK,
		"%s: %s", path, sqlite3_errmsg(db));
	for (int i = 0; sqlite3_step(stmt) == SQLITE_ROW; i++)
		fprintf(f, "%s%s", i ? "\n" : "", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	fclose(f);
	return out;
}

/* ---- HTTP that never fails the test ----------------------------------- */

static int r_connect(unsigned port, double timeout)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = { (time_t)timeout, (suseconds_t)((timeout - (double)(time_t)timeout) * 1e6) };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct sockaddr_in addr = { 0 };
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int r_http(unsigned port, const char *method, const char *path, const char *headers,
	const char *body, double timeout, int *status, char **body_out)
{
	*status = 0;
	if (body_out != NULL)
		*body_out = NULL;
	int fd = r_connect(port, timeout);
	if (fd < 0)
		return -1;
	char *raw = NULL;
	char *all = w_with_auth(headers);
	int n = body != NULL
		? asprintf(&raw, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
			"Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", method, path,
			all, strlen(body), body)
		: asprintf(&raw, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n",
			method, path, all);
	free(all);
	if (n < 0 || !w_send(fd, raw, (size_t)n)) {
		free(raw);
		close(fd);
		return -1;
	}
	free(raw);
	w_resp r = w_read(fd, false);
	close(fd);
	/* whole: a status line, and the body Content-Length announced */
	char *cl = r.status != 0 ? w_header(&r, "Content-Length") : NULL;
	bool whole = r.status != 0 && (cl == NULL || strtoul(cl, NULL, 10) == r.body_len);
	free(cl);
	*status = r.status;
	if (whole && body_out != NULL) {
		*body_out = r.body;
		r.body = NULL;
	}
	w_resp_free(&r);
	return whole ? 0 : -1;
}

/* ---- child processes and /proc ---------------------------------------- */

pid_t r_spawn(const char *const *argv, const char *log)
{
	const char *bin = t_env("SIGHOST_BIN");
	char *out = NULL, *err = NULL;
	cr_assert_geq(asprintf(&out, "%s/%s.out", w_dir, log), 0);
	cr_assert_geq(asprintf(&err, "%s/%s.err", w_dir, log), 0);
	size_t argc = 0;
	while (argv[argc] != NULL)
		argc++;
	const char **args = calloc(argc + 2, sizeof *args);
	cr_assert_not_null(args);
	args[0] = bin;
	memcpy(args + 1, argv, argc * sizeof *args);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(o, 1);
		dup2(e, 2);
		if (chdir(w_dir) != 0)
			_exit(126);
		unsetenv("SIGHOST_SETTINGS");
		execv(bin, (char *const *)args);
		_exit(127);
	}
	free(args);
	free(out);
	free(err);
	return pid;
}

int r_wait(pid_t pid, double seconds)
{
	double end = r_now() + seconds;
	int status;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (r_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		r_sleep(0.005);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t r_spawn_wrk(unsigned port, unsigned threads, unsigned seconds, const char *token,
	const char *out)
{
	char url[64], duration[32], arg[32], count[16];
	snprintf(url, sizeof url, "http://127.0.0.1:%u", port);
	snprintf(duration, sizeof duration, "%us", seconds + 2);
	snprintf(arg, sizeof arg, "%u", seconds);
	snprintf(count, sizeof count, "%u", threads);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(t_env("WRK"), "wrk", "-t", count, "-c", count, "-d", duration, "--timeout", "10s",
			"-s", t_env("SOAK_LUA"), url, "--", arg, token, (char *)NULL);
		_exit(127);
	}
	return pid;
}

int r_fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *dir = opendir(path);
	if (dir == NULL)
		return -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(dir)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* ---- encoding --------------------------------------------------------- */

char *r_urlencode(const char *text)
{
	char *out = malloc(strlen(text) * 3 + 1);
	cr_assert_not_null(out);
	char *o = out;
	for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')
			|| *c == '-' || *c == '.' || *c == '_' || *c == '~')
			*o++ = (char)*c;
		else
			o += sprintf(o, "%%%02X", *c);
	}
	*o = '\0';
	return out;
}

char *r_json_string(const char *text)
{
	json_t *s = json_string(text);
	cr_assert_not_null(s, "not UTF-8: %s", text);
	char *out = json_dumps(s, JSON_ENCODE_ANY);
	json_decref(s);
	cr_assert_not_null(out);
	return out;
}
