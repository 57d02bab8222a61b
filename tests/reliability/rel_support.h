/*
 * rel_support.h: what the reliability tests (hostile input, crashes, the
 * soak) add to the web tests' support: a stable digest of a whole SQLite
 * file, its integrity check, an HTTP call that never fails the test (for
 * client threads and for servers that may be dead), child processes of
 * the sighost binary that a test may kill, and what /proc says of a
 * process (resident memory, open descriptors).
 */
#ifndef SH_REL_SUPPORT_H
#define SH_REL_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../support/api.h"

/* Monotonic seconds. */
double r_now(void);

/* Sleeps `seconds`. */
void r_sleep(double seconds);

/* A stable text dump of the SQLite file at `path`, opened read-only: the
 * schema (sqlite_master by type and name), then every table's rows in
 * rowid order, each value with its type. Newly allocated. Fails the test
 * when the file cannot be read. */
char *r_db_dump(const char *path);

/* FNV-1a (64 bits) of r_db_dump(path). */
uint64_t r_db_checksum(const char *path);

/* The answer of PRAGMA integrity_check, its rows joined with '\n' ("ok"
 * for a sound file), newly allocated. */
char *r_db_integrity(const char *path);

/* A row of alert_alert: its content (a test's unique marker) and its id. */
typedef struct r_stored {
	char marker[32];
	int64_t id;
} r_stored;

/* The rows of alert_alert in the SQLite file at `path` (opened read-only)
 * whose content is LIKE `like`, sorted by content (newly allocated);
 * *count gets their number. */
r_stored *r_stored_alerts(const char *path, const char *like, size_t *count);

/* The row of `rows` (from r_stored_alerts) whose content is `marker`, NULL
 * when there is none. */
const r_stored *r_stored_find(const r_stored *rows, size_t count, const char *marker);

/* The scratch project's database: w_dir/db.sqlite3 (newly allocated). */
char *r_db_path(void);

/* One HTTP exchange that never fails the test: sends METHOD PATH with
 * Host and Connection: close, `headers` (CRLF-terminated lines, may be
 * NULL) and `body` (may be NULL) as application/json, and reads the
 * response (`timeout` seconds at most). Returns 0 with *status set (and
 * *body_out, newly allocated, when non-NULL), or -1 when the connection
 * failed or ended before a whole response. */
int r_http(unsigned port, const char *method, const char *path, const char *headers,
	const char *body, double timeout, int *status, char **body_out);

/* Runs $SIGHOST_BIN with `argv` (NULL-terminated, without the program
 * name) in w_dir, stdout and stderr to w_dir/<log>.out and <log>.err; the
 * child dies with the test (PR_SET_PDEATHSIG). Returns its pid. */
pid_t r_spawn(const char *const *argv, const char *log);

/* Waits for the child's exit for at most `seconds` (then SIGKILLs it).
 * Returns its exit status, 128 + the signal that ended it, or -1 on the
 * timeout. */
int r_wait(pid_t pid, double seconds);

/* Starts $WRK with $SOAK_LUA against 127.0.0.1:port: `threads` threads
 * and connections, for `seconds` (wrk gets two more, its threads stop
 * first), the API token `token` for the script; stdout and stderr to
 * `out`. The child dies with the test. Returns its pid. */
pid_t r_spawn_wrk(unsigned port, unsigned threads, unsigned seconds, const char *token,
	const char *out);


/* The number of open descriptors of `pid` (-1 when unknown). */
int r_fd_count(pid_t pid);

/* Percent-encodes every byte of `text` outside A-Z a-z 0-9 - . _ ~
 * (newly allocated). */
char *r_urlencode(const char *text);

/* `text` as a JSON string literal, quotes included (newly allocated). */
char *r_json_string(const char *text);

#endif
