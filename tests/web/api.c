/*
 * api.c: the generic JSON API of models end to end: the real `sighost
 * serve` with a test app `shop` (models of every field type, a PROTECT
 * key, a many-to-many relation) whose tables `sighost migrate` makes.
 * Covers list (filters, ordering, pagination), create, retrieve, PUT,
 * PATCH (update_fields), DELETE (cascade, 409), relations, and the client
 * errors (400, 404, 405, 409, 413, 415), each checked against the
 * database: a request that fails writes nothing.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/api.h"

TestSuite(api, .init = w_setup, .fini = w_cleanup, .timeout = 120);

static const char *const shop =
	"models:\n"
	"  Owner:\n"
	"    fields:\n"
	"      name: {type: text, max_length: 20}\n"
	"  Lock:\n"
	"    fields:\n"
	"      owner: {type: foreign_key, to: Owner, on_delete: protect}\n"
	"  Tag:\n"
	"    fields:\n"
	"      name: {type: text, max_length: 20, unique: true}\n"
	"  Item:\n"
	"    fields:\n"
	"      title: {type: text, max_length: 10}\n"
	"      count: {type: integer, default: 0}\n"
	"      price: {type: real, null: true}\n"
	"      active: {type: boolean, default: true}\n"
	"      day: {type: date, null: true}\n"
	"      meta: {type: json, default: {}}\n"
	"      owner: {type: foreign_key, to: Owner, on_delete: cascade, null: true}\n"
	"      tags: {type: many_to_many, to: Tag, related_name: items}\n"
	"      created: {type: datetime, auto_now_add: true}\n"
	"routes:\n"
	"  - {path: /api/items, methods: [GET, POST], model: shop.Item}\n"
	"  - {path: '/api/items/<int:pk>', methods: [GET, PUT, PATCH, DELETE], model: shop.Item}\n"
	"  - {path: '/api/items/<int:pk>/tags', methods: [GET, POST, DELETE], model: shop.Item}\n"
	"  - {path: '/api/tags/<int:id>/items', methods: [GET], model: shop.Tag}\n"
	"  - {path: /api/owners, methods: [GET, POST], model: shop.Owner}\n"
	"  - {path: '/api/owners/<int:pk>', methods: [GET, DELETE], model: shop.Owner}\n"
	"  - {path: /api/locks, methods: [POST], model: shop.Lock}\n"
	"  - {path: /api/tags, methods: [POST], model: shop.Tag}\n";

/* The shop project, migrated and served; `extra` top-level lines. */
static void serve_shop(w_server *s, const char *extra)
{
	w_app("shop", shop);
	w_project("shop", extra);
	a_migrate();
	a_login("shopper");   /* model routes need a token for every method */
	w_start(s, NULL);
}

static void stop(w_server *s)
{
	w_stop(s);
	cr_assert_eq(s->status, 0, "exit status %d, stderr:\n%s", s->status, s->err);
	w_server_free(s);
}

/* POSTs `body` to `path`, expects 201 and returns the new pk. */
static int64_t create(unsigned port, const char *path, const char *body)
{
	w_resp r = a_json(port, "POST", path, NULL, body);
	cr_assert_eq(r.status, 201, "POST %s %s gave %d: %s", path, body, r.status, r.body);
	json_t *j = a_body(&r);
	int64_t pk = json_integer_value(json_object_get(j, "id"));
	cr_assert_gt(pk, 0);
	json_decref(j);
	w_resp_free(&r);
	return pk;
}

/* GETs `path` and returns the JSON body, expecting 200. */
static json_t *get(unsigned port, const char *path)
{
	w_resp r = w_request(port, "GET", path, NULL, NULL);
	cr_assert_eq(r.status, 200, "GET %s gave %d: %s", path, r.status, r.body);
	w_header_is(&r, "Content-Type", "application/json");
	json_t *j = a_body(&r);
	w_resp_free(&r);
	return j;
}

/* The "title" of each result of a list, joined with ','. */
static char *titles(const json_t *page)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	json_t *results = json_object_get(page, "results");
	for (size_t i = 0; i < json_array_size(results); i++)
		fprintf(f, "%s%s", i ? "," : "",
			json_string_value(json_object_get(json_array_get(results, i), "title")));
	fclose(f);
	return out;
}

static void list_is(unsigned port, const char *path, int64_t count, const char *expected)
{
	json_t *page = get(port, path);
	cr_assert_eq(json_integer_value(json_object_get(page, "count")), count, "%s: count", path);
	char *got = titles(page);
	cr_assert_str_eq(got, expected, "%s", path);
	free(got);
	json_decref(page);
}

static void seed_items(unsigned port)
{
	create(port, "/api/owners", "{\"name\": \"ada\"}");
	create(port, "/api/items", "{\"title\": \"a\", \"count\": 3, \"price\": 1.5, \"owner\": 1}");
	create(port, "/api/items", "{\"title\": \"b\", \"count\": 1, \"active\": false}");
	create(port, "/api/items", "{\"title\": \"c\", \"count\": 2, \"price\": 9, \"owner\": 1, "
		"\"day\": \"2026-01-02\"}");
	create(port, "/api/items", "{\"title\": \"d\", \"count\": 5, \"active\": false}");
}

Test(api, list_filters_orders_and_paginates)
{
	w_server s;
	serve_shop(&s, NULL);
	seed_items(s.port);
	list_is(s.port, "/api/items", 4, "a,b,c,d");
	list_is(s.port, "/api/items?ordering=-count", 4, "d,a,c,b");
	list_is(s.port, "/api/items?ordering=active,-title", 4, "d,b,c,a");
	list_is(s.port, "/api/items?count__gte=2&count__lt=5", 2, "a,c");
	list_is(s.port, "/api/items?active=false", 2, "b,d");
	list_is(s.port, "/api/items?owner=1", 2, "a,c");
	list_is(s.port, "/api/items?owner__isnull=true", 2, "b,d");
	list_is(s.port, "/api/items?price__lt=2", 1, "a");
	list_is(s.port, "/api/items?title__exact=c", 1, "c");
	list_is(s.port, "/api/items?pk__gt=3", 1, "d");
	list_is(s.port, "/api/items?day=2026-01-02", 1, "c");
	list_is(s.port, "/api/items?title=nothing", 0, "");
	/* pagination: count is the whole match, results the page */
	list_is(s.port, "/api/items?ordering=-count&limit=2", 4, "d,a");
	list_is(s.port, "/api/items?ordering=-count&limit=2&offset=2", 4, "c,b");
	list_is(s.port, "/api/items?offset=10", 4, "");
	list_is(s.port, "/api/items?limit=1000000", 4, "a,b,c,d");   /* clamped to the max */
	/* HEAD is GET without a body */
	w_resp r = w_request(s.port, "HEAD", "/api/items", NULL, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.body_len, 0);
	w_resp_free(&r);
	stop(&s);
}

Test(api, bad_list_parameters_are_400_naming_them)
{
	w_server s;
	serve_shop(&s, NULL);
	seed_items(s.port);
	struct { const char *path, *needle, *field; } bad[] = {
		{ "/api/items?titel=a", "unknown filter 'titel'", "titel" },
		{ "/api/items?titel=a", "did you mean 'title'?", "titel" },
		{ "/api/items?count__like=2", "unknown filter 'count__like'", "count__like" },
		{ "/api/items?count__lt__gt=2", "unknown filter", "count__lt__gt" },
		{ "/api/items?count=two", "filter 'count' takes an integer", "count" },
		{ "/api/items?count=99999999999999999999", "fits in 64 bits", "count" },
		{ "/api/items?price__lt=1e999", "takes a number", "price__lt" },
		{ "/api/items?active=maybe", "takes true or false", "active" },
		{ "/api/items?owner__isnull=yes", "takes true or false", "owner__isnull" },
		{ "/api/items?tags=1", "many-to-many", "tags" },
		{ "/api/items?title=%FF%FE", "not UTF-8", "title" },
		{ "/api/items?ordering=-nope", "unknown ordering field 'nope'", "nope" },
		{ "/api/items?ordering=tags", "cannot order by", "tags" },
		{ "/api/items?limit=0", "'limit' must be an integer from 1", "limit" },
		{ "/api/items?limit=ten", "'limit' must be", "limit" },
		{ "/api/items?offset=-1", "'offset' must be an integer from 0", "offset" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		w_resp r = w_request(s.port, "GET", bad[i].path, NULL, NULL);
		a_error(&r, 400, bad[i].needle, bad[i].field);
		w_resp_free(&r);
	}
	stop(&s);
}

Test(api, create_assigns_the_pk_answers_201_with_location_and_serializes_every_field)
{
	w_server s;
	serve_shop(&s, NULL);
	create(s.port, "/api/owners", "{\"name\": \"ada\"}");
	create(s.port, "/api/tags", "{\"name\": \"red\"}");
	create(s.port, "/api/tags", "{\"name\": \"blue\"}");
	w_resp r = a_json(s.port, "POST", "/api/items", NULL,
		"{\"id\": 99, \"title\": \"caf\\u00e9\", \"count\": 7, \"price\": 2.5, \"active\": false, "
		"\"day\": \"2026-02-03\", \"meta\": {\"k\": [1, null]}, \"owner\": 1, \"tags\": [2, 1], "
		"\"created\": \"2000-01-01T00:00:00Z\"}");
	cr_assert_eq(r.status, 201, "%s", r.body);
	w_header_is(&r, "Location", "/api/items/1");   /* the id given is read-only */
	w_header_is(&r, "Content-Type", "application/json");
	json_t *j = a_body(&r);
	cr_assert_eq(json_integer_value(json_object_get(j, "id")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(j, "title")), "caf\xc3\xa9");
	cr_assert_eq(json_integer_value(json_object_get(j, "count")), 7);
	cr_assert_float_eq(json_real_value(json_object_get(j, "price")), 2.5, 1e-9);
	cr_assert(json_is_false(json_object_get(j, "active")));
	cr_assert_str_eq(json_string_value(json_object_get(j, "day")), "2026-02-03");
	char *meta = json_dumps(json_object_get(j, "meta"), JSON_COMPACT);
	cr_assert_str_eq(meta, "{\"k\":[1,null]}");
	free(meta);
	cr_assert_eq(json_integer_value(json_object_get(j, "owner")), 1);
	char *tags = json_dumps(json_object_get(j, "tags"), JSON_COMPACT);
	cr_assert_str_eq(tags, "[1,2]");
	free(tags);
	const char *created = json_string_value(json_object_get(j, "created"));
	cr_assert_not_null(created);
	cr_assert_str_neq(created, "2000-01-01T00:00:00Z", "auto_now_add is read-only");
	/* key order: the model's */
	const char *keys[] = { "id", "title", "count", "price", "active", "day", "meta", "owner",
		"tags", "created" };
	size_t k = 0;
	const char *key;
	json_t *value;
	json_object_foreach(j, key, value)
		cr_assert_str_eq(key, keys[k++]);
	cr_assert_eq(k, 10);
	json_decref(j);
	w_resp_free(&r);
	/* defaults apply to what is not given */
	r = a_json(s.port, "POST", "/api/items", NULL, "{\"title\": \"plain\"}");
	cr_assert_eq(r.status, 201, "%s", r.body);
	w_header_is(&r, "Location", "/api/items/2");
	w_has(r.body, "\"count\":0,\"price\":null,\"active\":true,\"day\":null,\"meta\":{},"
		"\"owner\":null,\"tags\":[]");
	w_resp_free(&r);
	/* the database has both, with their tags */
	cr_assert_eq(a_sql_int("SELECT count(*) FROM shop_item"), 2);
	char *title = a_sql("SELECT title FROM shop_item WHERE id = 1");
	cr_assert_str_eq(title, "caf\xc3\xa9");
	free(title);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM shop_item_tags WHERE item_id = 1"), 2);
	/* the same object comes back from the item route */
	json_t *again = get(s.port, "/api/items/1");
	cr_assert_eq(json_integer_value(json_object_get(again, "count")), 7);
	json_decref(again);
	stop(&s);
}

/* Asserts that `body` is exactly what jansson's json_dumps(JSON_COMPACT)
 * makes of the value it parses to: the API writes its JSON itself. */
static void jansson_would_write(const char *body)
{
	json_error_t error;
	json_t *value = json_loads(body, 0, &error);
	cr_assert_not_null(value, "%s: %s", body, error.text);
	char *again = json_dumps(value, JSON_COMPACT);
	cr_assert_str_eq(body, again);
	free(again);
	json_decref(value);
}

Test(api, list_and_item_text_is_what_jansson_writes_of_the_same_values)
{
	w_server s;
	serve_shop(&s, NULL);
	create(s.port, "/api/tags", "{\"name\": \"red\"}");
	create(s.port, "/api/items", "{\"title\": \"q\\\"b\\\\s/\", \"price\": 0.1, \"tags\": [1]}");
	create(s.port, "/api/items", "{\"title\": \"\\u0001\\t\\n\\u001f\\b\\f\\r\", \"price\": 1e20, "
		"\"count\": -9007199254740993}");
	create(s.port, "/api/items", "{\"title\": \"caf\\u00e9 \\ud83d\\ude00\", \"price\": 1e-5, "
		"\"meta\": {\"k\": \"\\u0002\\\"\", \"n\": [1.5, 2e300, true]}}");
	create(s.port, "/api/items", "{\"title\": \"x\", \"price\": 123456789, \"day\": \"2026-01-02\"}");
	create(s.port, "/api/items", "{\"title\": \"y\", \"price\": -0.000123}");
	/* written from C: text that is not UTF-8 (answered as null) */
	char *file = t_path(w_dir, "db.sqlite3");
	sqlite3 *db = NULL;
	cr_assert_eq(sqlite3_open(file, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	cr_assert_eq(sqlite3_exec(db, "UPDATE shop_item SET title = CAST(X'66ff6f' AS TEXT) "
		"WHERE id = 4", NULL, NULL, NULL),
		SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	free(file);
	w_resp r = w_request(s.port, "GET", "/api/items", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_has(r.body, "{\"count\":5,\"results\":[{\"id\":1,\"title\":\"q\\\"b\\\\s/\",\"count\":0,"
		"\"price\":0.10000000000000001,");
	w_has(r.body, "\"title\":\"\\u0001\\t\\n\\u001F\\b\\f\\r\"");
	w_has(r.body, "\"price\":1e20,");
	w_has(r.body, "\"price\":1.0000000000000001e-5,");
	w_has(r.body, "\"price\":123456789.0,");
	w_has(r.body, "\"id\":4,\"title\":null,");
	jansson_would_write(r.body);
	w_resp_free(&r);
	for (int id = 1; id <= 5; id++) {
		char path[32];
		snprintf(path, sizeof path, "/api/items/%d", id);
		r = w_request(s.port, "GET", path, NULL, NULL);
		cr_assert_eq(r.status, 200, "%s", r.body);
		jansson_would_write(r.body);
		w_resp_free(&r);
	}
	stop(&s);
}

Test(api, create_refuses_bad_fields_with_400_naming_them_and_writes_nothing)
{
	w_server s;
	serve_shop(&s, NULL);
	create(s.port, "/api/owners", "{\"name\": \"ada\"}");
	create(s.port, "/api/tags", "{\"name\": \"red\"}");
	struct { const char *body, *needle, *field; } bad[] = {
		{ "{\"title\": \"x\", \"colour\": 1}", "unknown field 'colour'", "colour" },
		{ "{\"titel\": \"x\"}", "did you mean 'title'?", "titel" },
		{ "{\"title\": \"x\", \"owner_id\": 1}", "unknown field 'owner_id'", "owner_id" },
		{ "{\"count\": 1}", "field 'title' is required", "title" },
		{ "{\"title\": 5}", "field 'title' must be a string, not an integer", "title" },
		{ "{\"title\": \"x\", \"count\": \"3\"}", "'count' must be an integer, not a string", "count" },
		{ "{\"title\": \"x\", \"count\": 1.5}", "must be an integer", "count" },
		{ "{\"title\": \"x\", \"count\": null}", "may not be null", "count" },
		{ "{\"title\": \"x\", \"active\": 1}", "must be true or false", "active" },
		{ "{\"title\": \"x\", \"price\": \"1\"}", "must be a number", "price" },
		{ "{\"title\": \"x\", \"owner\": \"1\"}", "must be an integer (the primary key", "owner" },
		{ "{\"title\": \"x\", \"tags\": 1}", "'tags' must be a list of primary keys", "tags" },
		{ "{\"title\": \"x\", \"tags\": [1, \"2\"]}", "item 1 is a string", "tags" },
		{ "{\"title\": \"01234567890\"}", "max_length 10", "title" },
		{ "{\"title\": \"x\", \"day\": \"2026-02-30\"}", "day", "day" },
		{ "{\"title\": \"x\", \"owner\": 42}", "no shop.Owner has that pk", "owner" },
		/* fails after the INSERT: the insert is rolled back too */
		{ "{\"title\": \"x\", \"tags\": [1, 77]}", "pk=77 does not exist", "tags" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		w_resp r = a_json(s.port, "POST", "/api/items", NULL, bad[i].body);
		a_error(&r, 400, bad[i].needle, bad[i].field);
		w_resp_free(&r);
	}
	cr_assert_eq(a_sql_int("SELECT count(*) FROM shop_item"), 0, "nothing was written");
	cr_assert_eq(a_sql_int("SELECT count(*) FROM shop_item_tags"), 0);
	/* unique: the model layer's integrity error */
	w_resp r = a_json(s.port, "POST", "/api/tags", NULL, "{\"name\": \"red\"}");
	a_error(&r, 400, "shop.Tag.name", "name");
	w_resp_free(&r);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM shop_tag"), 1);
	w_stop(&s);
	cr_assert_eq(s.status, 0, "%s", s.err);
	w_lacks(s.err, "failed on");   /* client errors are not view failures */
	w_has(s.err, "\"POST /api/items HTTP/1.1\" 400");
	w_server_free(&s);
}

Test(api, malformed_bodies_are_400_or_415_with_a_json_error_and_the_host_stays_up)
{
	w_server s;
	serve_shop(&s, NULL);
	struct { const char *body, *needle; } bad[] = {
		{ "{\"title\": ", "the body is not valid JSON: line 1" },
		{ "[1, 2]", "must be a JSON object, not a list" },
		{ "\"text\"", "not valid JSON" },
		{ "{\"title\": \"a\", \"title\": \"b\"}", "duplicate object key" },
		{ "{\"title\": \"x\", \"count\": 123456789012345678901234567890}", "too big integer" },
		{ "{\"title\": \"x\", \"price\": 1e400}", "real number overflow" },
		{ "{\"title\": \"x\\u0000y\"}", "\\u0000 is not allowed" },
		{ "{\"title\": \"\xff\xfe\"}", "unable to decode byte 0xff" },
		{ "{\"title\": \"\xc0\xaf\"}", "unable to decode byte" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		w_resp r = a_json(s.port, "POST", "/api/items", NULL, bad[i].body);
		a_error(&r, 400, bad[i].needle, NULL);
		w_resp_free(&r);
	}
	w_resp r = w_request(s.port, "POST", "/api/items", "Content-Type: application/json\r\n", "");
	a_error(&r, 400, "the body is empty", NULL);
	w_resp_free(&r);
	r = w_request(s.port, "POST", "/api/items", "Content-Type: text/plain\r\n", "{\"title\": \"x\"}");
	a_error(&r, 415, "unsupported media type 'text/plain'", NULL);
	w_resp_free(&r);
	r = w_request(s.port, "POST", "/api/items", NULL, "{\"title\": \"x\"}");
	a_error(&r, 415, "'(none)'", NULL);
	w_resp_free(&r);
	r = w_request(s.port, "POST", "/api/items", "Content-Type: Application/JSON; charset=utf-8\r\n",
		"{\"title\": \"ok\"}");
	cr_assert_eq(r.status, 201, "%s", r.body);
	w_resp_free(&r);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM shop_item"), 1);
	stop(&s);
}

Test(api, retrieve_put_and_patch_an_item)
{
	w_server s;
	serve_shop(&s, NULL);
	seed_items(s.port);
	json_t *a = get(s.port, "/api/items/1");
	cr_assert_str_eq(json_string_value(json_object_get(a, "title")), "a");
	json_decref(a);
	w_resp r = w_request(s.port, "GET", "/api/items/77", NULL, NULL);
	a_error(&r, 404, "shop.Item matching pk=77 does not exist", NULL);
	w_resp_free(&r);
	/* PATCH: only the fields given, saved with update_fields */
	r = a_json(s.port, "PATCH", "/api/items/1", NULL, "{\"count\": 11, \"tags\": []}");
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_has(r.body, "\"title\":\"a\",\"count\":11,\"price\":1.5");
	w_resp_free(&r);
	json_t *log = a_audit_all("post_save", 6);
	json_t *last = NULL;
	for (size_t i = 0; i < json_array_size(log); i++) {
		json_t *e = json_array_get(log, i);
		if (strcmp(json_string_value(json_object_get(e, "signal")), "post_save") == 0)
			last = e;
	}
	cr_assert_not_null(last);
	json_t *args = json_object_get(last, "args");
	cr_assert(json_is_false(json_object_get(args, "created")));
	char *fields = json_dumps(json_object_get(args, "update_fields"), JSON_COMPACT);
	cr_assert_str_eq(fields, "[\"count\"]", "%s", fields);
	free(fields);
	json_decref(log);
	/* PUT replaces: every writable field is needed */
	r = a_json(s.port, "PUT", "/api/items/1", NULL, "{\"title\": \"z\"}");
	a_error(&r, 400, "field 'count' is required (PUT replaces every field", "count");
	w_resp_free(&r);
	r = a_json(s.port, "PUT", "/api/items/1", NULL,
		"{\"title\": \"z\", \"count\": 0, \"price\": null, \"active\": true, \"day\": null, "
		"\"meta\": [1], \"owner\": null, \"tags\": []}");
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_has(r.body, "{\"id\":1,\"title\":\"z\",\"count\":0,\"price\":null,\"active\":true,"
		"\"day\":null,\"meta\":[1],\"owner\":null,\"tags\":[]");
	w_resp_free(&r);
	char *row = a_sql("SELECT title || '/' || count || '/' || ifnull(owner_id, 'none') "
		"FROM shop_item WHERE id = 1");
	cr_assert_str_eq(row, "z/0/none");
	free(row);
	r = a_json(s.port, "PATCH", "/api/items/77", NULL, "{\"count\": 1}");
	cr_assert_eq(r.status, 404);
	w_resp_free(&r);
	stop(&s);
}

Test(api, a_patch_that_fails_after_a_write_is_rolled_back)
{
	w_server s;
	serve_shop(&s, NULL);
	seed_items(s.port);
	create(s.port, "/api/tags", "{\"name\": \"red\"}");
	/* the save of title succeeds, then the tag 99 fails: nothing stays */
	w_resp r = a_json(s.port, "PATCH", "/api/items/1", NULL,
		"{\"title\": \"changed\", \"tags\": [1, 99]}");
	a_error(&r, 400, "pk=99 does not exist", "tags");
	w_resp_free(&r);
	char *title = a_sql("SELECT title FROM shop_item WHERE id = 1");
	cr_assert_str_eq(title, "a");
	free(title);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM shop_item_tags"), 0);
	/* and inside atomic_requests (a savepoint) it is the same */
	stop(&s);
	w_project("shop", "atomic_requests: true\n");
	w_start(&s, NULL);
	r = a_json(s.port, "PATCH", "/api/items/1", NULL, "{\"title\": \"changed\", \"tags\": [99]}");
	a_error(&r, 400, "pk=99 does not exist", "tags");
	w_resp_free(&r);
	r = a_json(s.port, "PATCH", "/api/items/2", NULL, "{\"title\": \"kept\", \"tags\": [1]}");
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_resp_free(&r);
	title = a_sql("SELECT group_concat(title) FROM shop_item");
	cr_assert_str_eq(title, "a,kept,c,d");
	free(title);
	stop(&s);
}

Test(api, delete_answers_204_cascades_and_409_when_protected)
{
	w_server s;
	serve_shop(&s, NULL);
	seed_items(s.port);
	w_resp r = w_request(s.port, "DELETE", "/api/items/2", NULL, NULL);
	cr_assert_eq(r.status, 204, "%s", r.body);
	cr_assert_eq(r.body_len, 0);
	w_resp_free(&r);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM shop_item WHERE id = 2"), 0);
	r = w_request(s.port, "DELETE", "/api/items/2", NULL, NULL);
	a_error(&r, 404, "does not exist", NULL);
	w_resp_free(&r);
	/* a PROTECT key refuses: 409 naming the blocking row, nothing deleted */
	create(s.port, "/api/locks", "{\"owner\": 1}");
	r = w_request(s.port, "DELETE", "/api/owners/1", NULL, NULL);
	a_error(&r, 409, "shop.Lock pk=1", NULL);
	w_resp_free(&r);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM shop_owner"), 1);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM shop_item"), 3);
	/* an owner without a lock cascades to its items */
	create(s.port, "/api/owners", "{\"name\": \"bob\"}");
	r = a_json(s.port, "PATCH", "/api/items/4", NULL, "{\"owner\": 2}");
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_resp_free(&r);
	r = w_request(s.port, "DELETE", "/api/owners/2", NULL, NULL);
	cr_assert_eq(r.status, 204, "%s", r.body);
	w_resp_free(&r);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM shop_item WHERE id = 4"), 0);
	json_t *log = a_audit_all("post_delete", 3);
	char *trace = a_audit_trace(log, "shop.Item");
	w_has(trace, "pre_delete:shop.Item,post_delete:shop.Item");
	free(trace);
	json_decref(log);
	stop(&s);
}

Test(api, relations_add_remove_clear_from_both_sides_with_m2m_changed)
{
	w_server s;
	serve_shop(&s, NULL);
	seed_items(s.port);
	create(s.port, "/api/tags", "{\"name\": \"red\"}");
	create(s.port, "/api/tags", "{\"name\": \"blue\"}");
	create(s.port, "/api/tags", "{\"name\": \"green\"}");
	json_t *j = get(s.port, "/api/items/1/tags");
	char *text = json_dumps(j, JSON_COMPACT);
	cr_assert_str_eq(text, "{\"tags\":[]}");
	free(text);
	json_decref(j);
	w_resp r = a_json(s.port, "POST", "/api/items/1/tags", NULL, "{\"add\": [3, 1, 2]}");
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(r.body, "{\"tags\":[1,2,3]}");
	w_resp_free(&r);
	r = a_json(s.port, "POST", "/api/items/1/tags", NULL, "{\"remove\": [2], \"add\": [2]}");
	cr_assert_str_eq(r.body, "{\"tags\":[1,2,3]}");   /* removes first, then adds */
	w_resp_free(&r);
	r = a_json(s.port, "POST", "/api/items/1/tags", NULL, "{\"remove\": [1, 3]}");
	cr_assert_str_eq(r.body, "{\"tags\":[2]}");
	w_resp_free(&r);
	/* the reverse side, under its related_name */
	j = get(s.port, "/api/tags/2/items");
	text = json_dumps(j, JSON_COMPACT);
	cr_assert_str_eq(text, "{\"items\":[1]}");
	free(text);
	json_decref(j);
	/* bad bodies write nothing */
	const char *bad[][3] = {
		{ "{\"add\": [1, 99]}", "pk=99 does not exist", "add" },
		{ "{\"remove\": [1], \"add\": [99]}", "does not exist", "add" },
		{ "{\"put\": [1]}", "unknown key 'put'", "put" },
		{ "{}", "nothing to do", NULL },
		{ "{\"add\": 1}", "'add' must be a list of primary keys", "add" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = a_json(s.port, "POST", "/api/items/1/tags", NULL, bad[i][0]);
		a_error(&r, 400, bad[i][1], bad[i][2]);
		w_resp_free(&r);
	}
	cr_assert_eq(a_sql_int("SELECT group_concat(tag_id) FROM shop_item_tags"), 2);
	r = w_request(s.port, "DELETE", "/api/items/1/tags", NULL, NULL);
	cr_assert_eq(r.status, 204);
	w_resp_free(&r);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM shop_item_tags"), 0);
	r = w_request(s.port, "GET", "/api/items/9/tags", NULL, NULL);
	cr_assert_eq(r.status, 404);
	w_resp_free(&r);
	json_t *log = a_audit_all("m2m_changed", 8);
	size_t pre_add = 0, post_clear = 0;
	for (size_t i = 0; i < json_array_size(log); i++) {
		json_t *e = json_array_get(log, i);
		if (strcmp(json_string_value(json_object_get(e, "signal")), "m2m_changed") != 0)
			continue;
		cr_assert_str_eq(json_string_value(json_object_get(e, "sender")), "shop.Item_tags");
		const char *action = json_string_value(json_object_get(json_object_get(e, "args"),
			"action"));
		pre_add += strcmp(action, "pre_add") == 0;
		post_clear += strcmp(action, "post_clear") == 0;
	}
	cr_assert_eq(pre_add, 2);
	cr_assert_eq(post_clear, 1);
	json_decref(log);
	stop(&s);
}

Test(api, methods_outside_the_route_are_405_and_big_bodies_413)
{
	w_server s;
	serve_shop(&s, "max_body_size: 64\n");
	w_resp r = a_json(s.port, "PATCH", "/api/items", NULL, "{}");
	cr_assert_eq(r.status, 405);
	w_header_is(&r, "Allow", "GET, HEAD, POST");
	w_resp_free(&r);
	r = a_json(s.port, "POST", "/api/owners/1", NULL, "{}");
	cr_assert_eq(r.status, 405);
	w_header_is(&r, "Allow", "GET, HEAD, DELETE");
	w_resp_free(&r);
	char body[200];
	snprintf(body, sizeof body, "{\"title\": \"%0120d\"}", 0);
	r = a_json(s.port, "POST", "/api/items", NULL, body);
	cr_assert_eq(r.status, 413);
	w_resp_free(&r);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM shop_item"), 0);
	stop(&s);
}

Test(api, model_routes_of_no_shape_keep_the_server_from_starting)
{
	w_app("shop",
		"models:\n"
		"  Item:\n"
		"    fields:\n"
		"      title: {type: text}\n"
		"routes:\n"
		"  - {path: /a, model: shop.Nope}\n"
		"  - {path: '/b/<str:name>', model: shop.Item}\n"
		"  - {path: '/c/<int:pk>/tags', model: shop.Item}\n"
		"  - {path: /d, methods: [GET, PUT], model: shop.Item}\n"
		"  - {path: '/e/<int:pk>', methods: [POST], model: shop.Item}\n");
	w_project("shop", NULL);
	w_server s;
	w_start_fails(&s, NULL);
	cr_assert_eq(s.status, 1, "%s", s.err);
	w_has(s.err, "shop.yaml:8:23: model 'shop.Nope' is not a model of an installed app");
	w_has(s.err, "model route '/b/<str:name>' must be a collection");
	w_has(s.err, "'tags' is not a many-to-many relation of shop.Item");
	w_has(s.err, "a collection route of a model answers GET, HEAD, POST, not PUT");
	w_has(s.err, "an item route of a model answers GET, HEAD, PUT, PATCH, DELETE, not POST");
	w_has(s.err, "sighost serve: 5 problems found");
	w_server_free(&s);
}
