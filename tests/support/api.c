/*
 * api_support.c: the helpers of api_support.h.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"

void a_migrate(void)
{
	const char *argv[] = { "migrate", "--settings", "project.yaml", NULL };
	t_run r = t_sighost(w_dir, NULL, argv);
	cr_assert_eq(r.status, 0, "sighost migrate failed:\n%s\n%s", r.out, r.err);
	t_run_free(&r);
}

char *a_token(const char *user)
{
	const char *argv[] = { "createtoken", user, "--settings", "project.yaml", NULL };
	t_run r = t_sighost(w_dir, NULL, argv);
	cr_assert_eq(r.status, 0, "sighost createtoken failed:\n%s", r.err);
	cr_assert_eq(strlen(r.out), 65, "not a key and a newline: '%s'", r.out);
	cr_assert_eq(strspn(r.out, "0123456789abcdef"), 64, "'%s'", r.out);
	char *key = strndup(r.out, 64);
	t_run_free(&r);
	return key;
}

void a_login(const char *user)
{
	char *key = a_token(user);
	free(w_auth);
	w_auth = NULL;
	cr_assert_geq(asprintf(&w_auth, "Authorization: Token %s\r\n", key), 0);
	free(key);
}

w_resp a_json(unsigned port, const char *method, const char *path, const char *headers,
	const char *body)
{
	char *all = NULL;
	cr_assert_geq(asprintf(&all, "%s%s", body != NULL ? "Content-Type: application/json\r\n" : "",
		headers != NULL ? headers : ""), 0);
	w_resp r = w_request(port, method, path, all, body);
	free(all);
	return r;
}

json_t *a_body(const w_resp *resp)
{
	json_error_t error;
	json_t *j = json_loads(resp->body, JSON_DECODE_ANY, &error);
	cr_assert_not_null(j, "not JSON (%s): %s\n%s", error.text, resp->head, resp->body);
	return j;
}

void a_error(const w_resp *resp, int status, const char *needle, const char *field)
{
	cr_assert_eq(resp->status, status, "expected %d, got %d: %s", status, resp->status,
		resp->body);
	w_header_is(resp, "Content-Type", "application/json");
	json_t *j = a_body(resp);
	const char *error = json_string_value(json_object_get(j, "error"));
	cr_assert_not_null(error, "no error in %s", resp->body);
	w_has(error, needle);
	if (field != NULL) {
		const char *got = json_string_value(json_object_get(j, "field"));
		cr_assert_not_null(got, "no field in %s", resp->body);
		cr_assert_str_eq(got, field, "%s", resp->body);
	}
	json_decref(j);
}

char *a_sql(const char *query)
{
	char *path = t_path(w_dir, "db.sqlite3");
	sqlite3 *db = NULL;
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", path);
	sqlite3_busy_timeout(db, 5000);
	sqlite3_stmt *stmt = NULL;
	cr_assert_eq(sqlite3_prepare_v2(db, query, -1, &stmt, NULL), SQLITE_OK, "%s: %s", query,
		sqlite3_errmsg(db));
	int rc = sqlite3_step(stmt);
	char *out;
	if (rc == SQLITE_ROW) {
		const unsigned char *text = sqlite3_column_text(stmt, 0);
		out = strdup(text != NULL ? (const char *)text : "(null)");
	} else {
		cr_assert_eq(rc, SQLITE_DONE, "%s: %s", query, sqlite3_errmsg(db));
		out = strdup("(none)");
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	free(path);
	return out;
}

int64_t a_sql_int(const char *query)
{
	char *text = a_sql(query);
	int64_t v = strcmp(text, "(none)") == 0 ? -1 : strtoll(text, NULL, 10);
	free(text);
	return v;
}

json_t *a_audit_all(const char *signal, size_t count)
{
	json_decref(w_audit(signal, count));   /* waits */
	char *path = t_path(w_dir, "audit.jsonl");
	char *text = t_read(path);
	json_t *entries = json_array();
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		json_t *entry = json_loads(line, 0, NULL);
		cr_assert_not_null(entry, "bad audit line: %s", line);
		json_array_append_new(entries, entry);
	}
	free(text);
	free(path);
	return entries;
}

char *a_audit_trace(const json_t *log, const char *sender)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	bool first = true;
	for (size_t i = 0; i < json_array_size(log); i++) {
		json_t *e = json_array_get(log, i);
		const char *name = json_string_value(json_object_get(e, "signal"));
		const char *from = json_string_value(json_object_get(e, "sender"));
		bool request = strncmp(name, "request_", 8) == 0 || strcmp(name, "got_request_exception") == 0;
		if (!request && (from == NULL || sender == NULL || strcmp(from, sender) != 0))
			continue;
		fprintf(f, "%s%s%s%s", first ? "" : ",", name, request ? "" : ":", request ? "" : from);
		first = false;
	}
	fclose(f);
	return out;
}
