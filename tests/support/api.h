/*
 * api_support.h: what the tests of the JSON API and of tokens share: the
 * project's tables made with `sighost migrate`, tokens made with
 * `sighost createtoken`, JSON requests, reading the SQLite file directly,
 * and the whole audit log.
 */
#ifndef SH_WEB_API_SUPPORT_H
#define SH_WEB_API_SUPPORT_H

#include <stdint.h>

#include "web.h"

/* Runs `sighost migrate --settings project.yaml` in the scratch directory
 * and asserts that it succeeded. */
void a_migrate(void);

/* Runs `sighost createtoken USER` and returns the key it printed (newly
 * allocated), asserting it is 64 hex digits. */
char *a_token(const char *user);

/* Creates a token for `user` (a_token) and makes it w_auth: the requests
 * that follow carry it. */
void a_login(const char *user);

/* Sends METHOD PATH with a JSON body (Content-Type application/json; no
 * body when NULL) and `headers` (CRLF-terminated lines, may be NULL). */
w_resp a_json(unsigned port, const char *method, const char *path, const char *headers,
	const char *body);

/* Parses a response body as JSON, failing the test when it is not. */
json_t *a_body(const w_resp *resp);

/* Asserts that the response is `status` with a JSON error body whose
 * "error" holds `needle` and, when field is non-NULL, whose "field" is it. */
void a_error(const w_resp *resp, int status, const char *needle, const char *field);

/* Runs one SQL query on the scratch db.sqlite3 and returns the first
 * column of its first row as text (newly allocated; "(none)" when no row,
 * "(null)" for NULL). */
char *a_sql(const char *sql);

/* Runs one SQL query and returns the first column of the first row as an
 * integer (-1 when no row). */
int64_t a_sql_int(const char *sql);

/* Waits until the audit log holds `count` sends of `signal` (10 s at
 * most), then returns every entry of the log (a JSON array; decref). */
json_t *a_audit_all(const char *signal, size_t count);

/* The entries of `log` whose signal is a request signal or whose sender is
 * `sender`, as "signal" or "signal:sender" joined with ',' (newly
 * allocated). */
char *a_audit_trace(const json_t *log, const char *sender);

#endif
