/*
 * auth.c: API tokens and the running example end to end: `sighost
 * createtoken`, the hashed token table, `Authorization: Token KEY` (and
 * Bearer) on login_required routes, and the bundled alert app's
 * POST /dashboard/create answering "Response" with its signals in the
 * audit log, its row in the database, and nothing written when a request
 * fails.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sighost/sys/sighost.h>

#include "../support/api.h"

TestSuite(auth, .init = w_setup, .fini = w_cleanup, .timeout = 120);

/* The bundled audit and alert apps, plus the test app `web` with a
 * login_required view and a public one; migrated. */
static void alert_project(const char *extra)
{
	w_app("web",
		"routes:\n"
		"  - {path: /private, view: echo, login_required: true}\n"
		"  - {path: /public, view: echo}\n");
	w_project("alert, web", extra);
	a_migrate();
}

static void stop(w_server *s)
{
	w_stop(s);
	cr_assert_eq(s->status, 0, "exit status %d, stderr:\n%s", s->status, s->err);
}

/* An Authorization header line. */
static char *auth(const char *scheme, const char *key)
{
	char *line = NULL;
	cr_assert_geq(asprintf(&line, "Authorization: %s %s\r\n", scheme, key), 0);
	return line;
}

Test(auth, createtoken_prints_a_key_once_and_stores_only_its_hash)
{
	alert_project(NULL);
	char *key = a_token("alice");
	char *other = a_token("alice");
	cr_assert_str_neq(key, other, "every token is new");
	cr_assert_eq(a_sql_int("SELECT count(*) FROM sighost_token WHERE user = 'alice'"), 2);
	char *hash = a_sql("SELECT key_hash FROM sighost_token WHERE id = 1");
	cr_assert_eq(strlen(hash), 64);
	cr_assert_str_neq(hash, key, "the key itself is not stored");
	char *query = NULL;
	cr_assert_geq(asprintf(&query, "SELECT count(*) FROM sighost_token WHERE key_hash = '%s' "
		"OR user = '%s'", key, key), 0);
	cr_assert_eq(a_sql_int(query), 0);
	char *created = a_sql("SELECT created FROM sighost_token WHERE id = 1");
	cr_assert_eq(strlen(created), 20, "%s", created);   /* 2026-11-27T12:00:00Z */
	free(created);
	free(query);
	free(hash);
	free(key);
	free(other);
}

Test(auth, createtoken_refuses_bad_users_and_usage)
{
	alert_project(NULL);
	const char *no_user[] = { "createtoken", "--settings", "project.yaml", NULL };
	t_run r = t_sighost(w_dir, NULL, no_user);
	cr_assert_eq(r.status, 2);
	w_has(r.err, "usage: sighost createtoken USER");
	t_run_free(&r);
	const char *empty[] = { "createtoken", "", "--settings", "project.yaml", NULL };
	r = t_sighost(w_dir, NULL, empty);
	cr_assert_eq(r.status, 1);
	w_has(r.err, "sighost createtoken: bad user name");
	cr_assert_str_eq(r.out, "");
	t_run_free(&r);
	const char *control[] = { "createtoken", "a\tb", "--settings", "project.yaml", NULL };
	r = t_sighost(w_dir, NULL, control);
	cr_assert_eq(r.status, 1);
	t_run_free(&r);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM sqlite_master WHERE name = 'sighost_token'"), 0,
		"a refused user makes no table");
}

Test(auth, login_required_needs_a_valid_token)
{
	alert_project(NULL);
	char *key = a_token("alice");
	w_server s;
	w_start(&s, NULL);
	w_resp r = w_request(s.port, "GET", "/private", NULL, NULL);
	cr_assert_eq(r.status, 401);
	w_header_is(&r, "WWW-Authenticate", "Token");
	w_resp_free(&r);
	char *good = auth("Token", key);
	r = w_request(s.port, "GET", "/private", good, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_has(r.body, "\"anonymous\":false");
	w_resp_free(&r);
	char *bearer = auth("Bearer", key);
	r = w_request(s.port, "GET", "/private", bearer, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_resp_free(&r);
	char *lower = auth("token", key);
	r = w_request(s.port, "GET", "/private", lower, NULL);
	cr_assert_eq(r.status, 200, "the scheme is compared without case");
	w_resp_free(&r);
	/* wrong, truncated, upper-case and malformed keys */
	char wrong[65];
	snprintf(wrong, sizeof wrong, "%s", key);
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	char upper[65];
	for (size_t i = 0; i < 65; i++)
		upper[i] = (char)(key[i] >= 'a' && key[i] <= 'f' ? key[i] - 32 : key[i]);
	const char *bad[] = { wrong, "abc", upper, "", "x' OR '1'='1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *line = auth("Token", bad[i]);
		r = w_request(s.port, "GET", "/private", line, NULL);
		cr_assert_eq(r.status, 401, "key '%s' gave %d", bad[i], r.status);
		w_header_is(&r, "WWW-Authenticate", "Token");
		w_resp_free(&r);
		free(line);
	}
	char *spaced = auth("Token", "a b");
	r = w_request(s.port, "GET", "/private", spaced, NULL);
	cr_assert_eq(r.status, 401);
	w_resp_free(&r);
	/* a bad token is refused on a public route too (DRF), another scheme is ignored */
	char *wrong_line = auth("Token", wrong);
	r = w_request(s.port, "GET", "/public", wrong_line, NULL);
	cr_assert_eq(r.status, 401);
	w_resp_free(&r);
	r = w_request(s.port, "GET", "/public", "Authorization: Basic YWxpY2U6c2VjcmV0\r\n", NULL);
	cr_assert_eq(r.status, 200);
	w_has(r.body, "\"anonymous\":true");
	w_resp_free(&r);
	/* a model route answers 401 in JSON */
	r = w_request(s.port, "GET", "/api/alerts", wrong_line, NULL);
	a_error(&r, 401, "invalid token", NULL);
	w_header_is(&r, "WWW-Authenticate", "Token");
	w_resp_free(&r);
	stop(&s);
	w_server_free(&s);
	free(wrong_line);
	free(spaced);
	free(lower);
	free(bearer);
	free(good);
	free(key);
}

/* The alert rows as "content/owner name", joined with ';'. */
static char *alerts(void)
{
	return a_sql("SELECT ifnull(group_concat(a.content || '/' || o.name, ';'), '') "
		"FROM alert_alert a JOIN alert_owner o ON o.id = a.owner_id");
}

Test(auth, the_dashboard_example_creates_an_alert_for_the_user_and_answers_response)
{
	alert_project(NULL);
	char *key = a_token("alice");
	w_server s;
	w_start(&s, NULL);
	char *headers = NULL;
	cr_assert_geq(asprintf(&headers, "Authorization: Token %s\r\n"
		"Content-Type: application/x-www-form-urlencoded\r\n", key), 0);
	w_resp r = w_request(s.port, "POST", "/dashboard/create", headers, "content=disk+full%21");
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(r.body, "Response");
	w_resp_free(&r);
	char *rows = alerts();
	cr_assert_str_eq(rows, "disk full!/alice");
	free(rows);
	/* the signals of the request, in order (alert.Alert's and the request's) */
	json_t *log = a_audit_all("request_finished", 1);
	char *trace = a_audit_trace(log, "alert.Alert");
	cr_assert_str_eq(trace, "request_started,pre_init:alert.Alert,post_init:alert.Alert,"
		"pre_save:alert.Alert,post_save:alert.Alert,request_finished");
	free(trace);
	for (size_t i = 0; i < json_array_size(log); i++) {
		json_t *e = json_array_get(log, i);
		if (strcmp(json_string_value(json_object_get(e, "signal")), "post_save") == 0
			&& strcmp(json_string_value(json_object_get(e, "sender")), "alert.Alert") == 0)
			cr_assert(json_is_true(json_object_get(json_object_get(e, "args"), "created")));
	}
	json_decref(log);
	/* JSON bodies, and a default content; the Owner is reused */
	char *json_headers = NULL;
	cr_assert_geq(asprintf(&json_headers, "Authorization: Token %s\r\n", key), 0);
	r = a_json(s.port, "POST", "/dashboard/create", json_headers, "{\"content\": \"cpu hot\"}");
	cr_assert_str_eq(r.body, "Response");
	w_resp_free(&r);
	r = w_request(s.port, "POST", "/dashboard/create", json_headers, NULL);
	cr_assert_eq(r.status, 200);
	w_resp_free(&r);
	rows = alerts();
	cr_assert_str_eq(rows, "disk full!/alice;cpu hot/alice;New alert/alice");
	free(rows);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM alert_owner"), 1);
	/* anonymous: 401 and nothing written */
	r = w_request(s.port, "POST", "/dashboard/create", NULL, NULL);
	cr_assert_eq(r.status, 401);
	w_resp_free(&r);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM alert_alert"), 3);
	/* the JSON API shows the same rows (to a token holder) */
	r = w_request(s.port, "GET", "/api/alerts?ordering=-id&limit=1", json_headers, NULL);
	cr_assert_eq(r.status, 200);
	w_has(r.body, "{\"count\":3,\"results\":[{\"id\":3,\"content\":\"New alert\",\"owner\":1,"
		"\"tags\":[],\"created\":\"");
	w_resp_free(&r);
	stop(&s);
	w_has(s.err, "[alert] info: Alert Created");
	w_has(s.err, "\"POST /dashboard/create HTTP/1.1\" 200 8");
	w_server_free(&s);
	free(json_headers);
	free(headers);
	free(key);
}

Test(auth, a_failing_request_writes_nothing)
{
	alert_project("atomic_requests: true\n");
	char *key = a_token("bob");
	w_server s;
	w_start(&s, NULL);
	char *headers = auth("Token", key);
	w_resp r = a_json(s.port, "POST", "/dashboard/create", headers, "{\"content\": \"first\"}");
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_resp_free(&r);
	/* too long for max_length 200: refused by the model, the owner is not kept either */
	char body[400];
	snprintf(body, sizeof body, "{\"content\": \"%0250d\"}", 0);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM alert_owner"), 1);
	char *other = a_token("carol");
	char *carol = auth("Token", other);
	r = a_json(s.port, "POST", "/dashboard/create", carol, body);
	cr_assert_eq(r.status, 400, "%s", r.body);
	w_has(r.body, "max_length 200");
	w_resp_free(&r);
	/* a PATCH whose save succeeds and whose tag does not exist */
	r = a_json(s.port, "PATCH", "/api/alerts/1", headers,
		"{\"content\": \"changed\", \"tags\": [1, 999]}");
	a_error(&r, 400, "pk=999 does not exist", "tags");
	w_resp_free(&r);
	char *rows = alerts();
	cr_assert_str_eq(rows, "first/bob", "the database is unchanged");
	free(rows);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM alert_alert_tags"), 0);
	/* the tags post_migrate made are there, and a good PATCH goes through */
	cr_assert_eq(a_sql_int("SELECT count(*) FROM alert_tag"), 3);
	r = a_json(s.port, "PATCH", "/api/alerts/1", headers, "{\"tags\": [3, 1]}");
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_has(r.body, "\"tags\":[1,3]");
	w_resp_free(&r);
	stop(&s);
	w_server_free(&s);
	free(carol);
	free(other);
	free(headers);
	free(key);
}

Test(auth, serve_refuses_unapplied_migrations_unless_told_to_migrate)
{
	w_app("web", "routes:\n  - {path: /public, view: echo}\n");
	w_project("alert, web", NULL);
	w_server refused = { 0 };
	w_start_fails(&refused, NULL);
	cr_assert_eq(refused.status, 1, "stderr:\n%s", refused.err);
	w_has(refused.err, "you have 2 unapplied migrations:\n  alert.0001_initial\n  alert.0002_alter_owner_name\n");
	w_has(refused.err, "sighost serve --migrate");
	w_server_free(&refused);

	const char *const migrate[] = { "--migrate", NULL };
	w_server s = { 0 };
	w_start(&s, migrate);
	w_has(s.out, "Applied 2 migrations.");
	w_resp r = w_request(s.port, "GET", "/api/tags", NULL, NULL);   /* anonymous: [GET] */
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_resp_free(&r);
	stop(&s);
	w_server_free(&s);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM sighost_migrations WHERE app = 'alert'"), 2);
}

/* Sends METHOD PATH (with a small JSON body for writes) without a token
 * and returns the status. */
static int anonymous_status(unsigned port, const char *method, const char *path)
{
	bool write = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0
		&& strcmp(method, "DELETE") != 0;
	w_resp r = a_json(port, method, path, NULL, write ? "{\"name\": \"anon\"}" : NULL);
	int status = r.status;
	w_resp_free(&r);
	return status;
}

Test(auth, model_routes_need_a_token_for_every_method_unless_anonymous_opens_it)
{
	/* The example's /api/alerts let anyone create, edit and delete alerts. */
	alert_project(NULL);
	char *key = a_token("dave");
	w_server s;
	w_start(&s, NULL);
	const char *alerts[][2] = {
		{ "GET", "/api/alerts" }, { "HEAD", "/api/alerts" }, { "POST", "/api/alerts" },
		{ "GET", "/api/alerts/1" }, { "PUT", "/api/alerts/1" }, { "PATCH", "/api/alerts/1" },
		{ "DELETE", "/api/alerts/1" }, { "GET", "/api/alerts/1/tags" },
		{ "POST", "/api/alerts/1/tags" }, { "DELETE", "/api/alerts/1/tags" },
		/* the tags' `anonymous: [GET]` opens reads only */
		{ "POST", "/api/tags" }, { "PUT", "/api/tags/1" }, { "PATCH", "/api/tags/1" },
		{ "DELETE", "/api/tags/1" },
	};
	for (size_t i = 0; i < sizeof alerts / sizeof *alerts; i++)
		cr_expect_eq(anonymous_status(s.port, alerts[i][0], alerts[i][1]), 401, "%s %s",
			alerts[i][0], alerts[i][1]);
	cr_expect_eq(anonymous_status(s.port, "GET", "/api/tags"), 200);
	cr_expect_eq(anonymous_status(s.port, "HEAD", "/api/tags"), 200);
	cr_expect_eq(anonymous_status(s.port, "GET", "/api/tags/1"), 200);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM alert_alert"), 0, "nothing was written");
	cr_assert_eq(a_sql_int("SELECT count(*) FROM alert_tag"), 3, "nothing was written");
	/* with the token every method goes through */
	char *headers = auth("Token", key);
	w_resp r = a_json(s.port, "POST", "/api/alerts", headers, "{\"content\": \"by dave\"}");
	cr_assert_eq(r.status, 201, "%s", r.body);
	w_resp_free(&r);
	r = a_json(s.port, "DELETE", "/api/alerts/1", headers, NULL);
	cr_assert_eq(r.status, 204, "%s", r.body);
	w_resp_free(&r);
	stop(&s);
	w_server_free(&s);
	free(headers);
	free(key);
}

Test(auth, anonymous_is_checked_and_check_warns_about_anonymous_writes)
{
	w_app("web",
		"models:\n"
		"  Note:\n"
		"    fields:\n"
		"      body: {type: text, max_length: 20}\n"
		"routes:\n"
		"  - {path: /notes, methods: [GET, POST], model: web.Note, anonymous: [GET, POST]}\n"
		"  - {path: '/notes/<int:pk>', methods: [GET, DELETE], model: web.Note, "
		"anonymous: [GET]}\n");
	w_project("web", NULL);
	const char *argv[] = { "check", "--settings", "project.yaml", NULL };
	t_run r = t_sighost(w_dir, NULL, argv);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	w_has(r.err, "warning: app 'web': route '/notes' (model web.Note) lets clients without "
		"an API token POST");
	w_lacks(r.err, "'/notes/<int:pk>'");
	w_has(r.out, "(1 warning)");
	t_run_free(&r);
	/* a method the route does not answer, and anonymous on a view route */
	w_app("web",
		"routes:\n"
		"  - {path: /notes, methods: [GET], model: web.Note, anonymous: [DELETE]}\n"
		"  - {path: /page, view: echo, anonymous: [GET]}\n");
	r = t_sighost(w_dir, NULL, argv);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	w_has(r.err, "web.yaml:4:");
	w_has(r.err, "'anonymous' lists DELETE, which the route does not answer");
	w_has(r.err, "'anonymous' is for model routes");
	t_run_free(&r);
}

Test(auth, an_app_may_not_take_the_hosts_label_or_tables)
{
	/* An app labelled sighost declared sighost.Token and took over the
	 * token table: its anonymous POST minted working tokens. */
	w_app("sighost",
		"models:\n"
		"  Token:\n"
		"    fields:\n"
		"      user: {type: text, max_length: 150}\n"
		"      key_hash: {type: text, max_length: 64}\n"
		"routes:\n"
		"  - {path: /tokens, methods: [POST], model: sighost.Token, anonymous: [POST]}\n");
	w_project("sighost", NULL);
	const char *argv[] = { "check", "--settings", "project.yaml", NULL };
	t_run r = t_sighost(w_dir, NULL, argv);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	w_has(r.err, "sighost.yaml:1:8: label 'sighost' is reserved");
	t_run_free(&r);
	const char *migrate[] = { "migrate", "--settings", "project.yaml", NULL };
	r = t_sighost(w_dir, NULL, migrate);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	w_has(r.err, "label 'sighost' is reserved");
	t_run_free(&r);
}

/* Runs `sql` on the project's database (made if missing). */
static void exec_sql(const char *sql)
{
	char *path = t_path(w_dir, "db.sqlite3");
	sqlite3 *db = NULL;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	free(path);
}

Test(auth, host_tables_made_another_way_are_refused_before_use)
{
	/* a token table without the unique hash, made before the host's */
	alert_project(NULL);
	exec_sql("CREATE TABLE sighost_token (id integer PRIMARY KEY, user text, key_hash text, "
		"created text)");
	const char *token[] = { "createtoken", "mallory", "--settings", "project.yaml", NULL };
	t_run r = t_sighost(w_dir, NULL, token);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	w_has(r.err, "the host's table sighost_token exists but was not made by sighost");
	t_run_free(&r);
	w_server s;
	w_start_fails(&s, NULL);
	cr_assert_eq(s.status, 1, "%s", s.err);
	w_has(s.err, "the host's table sighost_token exists but was not made by sighost");
	w_server_free(&s);
	/* the applied migrations, likewise */
	exec_sql("DROP TABLE sighost_token; DROP TABLE sighost_migrations; "
		"CREATE TABLE sighost_migrations (app text, name text)");
	const char *migrate[] = { "migrate", "--settings", "project.yaml", NULL };
	r = t_sighost(w_dir, NULL, migrate);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	w_has(r.err, "the host's table sighost_migrations exists but was not made by sighost");
	t_run_free(&r);
}

Test(auth, the_longest_user_createtoken_accepts_can_use_the_dashboard)
{
	/* createtoken took 150 characters, the example stored 100: a 500 */
	alert_project(NULL);
	char user[SH_USER_MAX + 2];
	memset(user, 'u', SH_USER_MAX);
	user[SH_USER_MAX] = '\0';
	char *key = a_token(user);
	w_server s;
	w_start(&s, NULL);
	char *headers = auth("Token", key);
	w_resp r = a_json(s.port, "POST", "/dashboard/create", headers, "{\"content\": \"long\"}");
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_resp_free(&r);
	char *name = a_sql("SELECT name FROM alert_owner");
	cr_assert_eq(strlen(name), SH_USER_MAX);
	free(name);
	stop(&s);
	w_server_free(&s);
	/* one more character is refused by the one check, sh_user_valid() */
	strcat(user, "u");
	cr_assert_not(sh_user_valid(user));
	const char *argv[] = { "createtoken", user, "--settings", "project.yaml", NULL };
	t_run t = t_sighost(w_dir, NULL, argv);
	cr_assert_eq(t.status, 1);
	w_has(t.err, "a user is 1 to 150 characters");
	t_run_free(&t);
	free(headers);
	free(key);
}
