/*
 * model_api.c: the generic JSON API of a model (Django REST framework's
 * ModelViewSet, docs/web.md), the view of every `model:` route:
 *
 *   collection  GET lists (filters, ordering, limit/offset), POST creates
 *   item        GET retrieves, PUT replaces, PATCH updates the given
 *               fields (save with update_fields), DELETE deletes
 *   relation    GET lists the related pks, POST {"add": [...],
 *               "remove": [...]}, DELETE clears
 *
 * Every read and write goes through the model layer on the thread's
 * connection (sh_app_conn), so every model signal is sent as from C. Each
 * write runs in its own atomic block (a savepoint inside atomic_requests),
 * rolled back on any failure: a request that fails writes nothing. Client
 * errors are answered here as JSON ({"error": ..., "field": ...}); a
 * failure of the host or of a receiver is returned, and the handler
 * answers 500 (503 for SH_EUNAVAILABLE: the database is full, read-only or
 * locked) and sends got_request_exception.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "model_api.h"

/* ---- helpers ---------------------------------------------------------- */

/* The field called `name` exactly (a foreign key's column name is not one
 * of the API's names), NULL when none. */
static const sh_field *sh_web__field_exact(const sh_model *model, const char *name)
{
	const sh_field *f = sh_model_field(model, name);
	return f != NULL && strcmp(sh_field_name(f), name) == 0 ? f : NULL;
}

/* Answers 400 for an unknown field, with the nearest name. */
static int sh_web__unknown_field(sh__api *api, const char *what, const char *name)
{
	size_t n = sh_model_field_count(api->model);
	const char *names[256];
	size_t k = 0;
	for (size_t i = 0; i < n && k < SH__COUNT(names); i++)
		names[k++] = sh_field_name(sh_model_field_at(api->model, i));
	const char *near = sh_base__suggest(name, names, k);
	return sh_web__api_error(api, 400, name, "unknown %s '%s': %s has no such field%s%s%s", what,
		name, sh_model_label(api->model), near ? " (did you mean '" : "", near ? near : "",
		near ? "'?)" : "");
}

/* Describes the fields of the request's model into `fields` (room for
 * SH__API_MAX_FIELDS); returns their number, or SH_EINVAL past it. */
static int sh_web__fields(sh__api *api, sh__api_field *fields, size_t *n)
{
	*n = sh_model_field_count(api->model);
	if (*n > SH__API_MAX_FIELDS)
		return sh_error_set(SH_EINVAL, "%s has too many fields for the JSON API",
			sh_model_label(api->model));
	for (size_t i = 0; i < *n; i++)
		sh_web__api_describe(&fields[i], api, i);
	return 0;
}

/* Sends the object of `instance` with `status`. */
static int sh_web__reply_object(sh__api *api, int status, sh_instance *instance)
{
	sh__api_field fields[SH__API_MAX_FIELDS];
	size_t n;
	sh__wbuf out = { 0 };
	int rc = sh_web__fields(api, fields, &n);
	if (rc == 0)
		rc = sh_web__api_write_object(&out, api, fields, n, instance);
	if (rc == 0)
		return sh_web__response_json_text(api->response, status, &out);
	sh_web__wbuf_dispose(&out);
	return rc;
}

/* The pk of the item or relation route's <int:...> parameter. */
static int64_t sh_web__route_pk(const sh__api *api)
{
	int64_t pk = 0;
	sh_request_param_int(api->request, api->route->pattern.names[0], &pk);
	return pk;
}

/* Loads the instance of the route's pk; answers 404 when there is none. */
static int sh_web__model_api_load(sh_instance **out, sh__api *api)
{
	int64_t pk = sh_web__route_pk(api);
	int rc = sh_query_get(out, api->db, api->model, pk);
	if (rc == SH_ENOTFOUND)
		return sh_web__api_error(api, 404, NULL, "%s matching pk=%lld does not exist",
			sh_model_label(api->model), (long long)pk);
	return rc;
}

/* Opens the atomic block of a write. */
static int sh_web__begin(sh__api *api)
{
	return sh_atomic_begin(api->db);
}

/* Closes it: commits when `rc` is 0, rolls back otherwise (a client error
 * included). Returns `rc`, or the commit's failure. */
static int sh_web__end(sh__api *api, int rc)
{
	int end = sh_atomic_end(api->db, rc == 0 ? 0 : rc < 0 ? rc : SH_ERROR);
	return rc != 0 ? rc : end;
}

/* Sets "Location" to the item route of the model for `pk`, when the
 * router has one. */
static int sh_web__location(sh__api *api, int64_t pk)
{
	const sh_router *router = api->request->server->router;
	for (size_t i = 0; i < router->count; i++) {
		const sh_route *route = router->routes[i];
		if (route->model_ref != api->model || route->model_kind != SH__API_ITEM)
			continue;
		sh__wbuf url = { 0 };
		int rc = 0;
		for (size_t k = 0; rc == 0 && k < route->pattern.piece_count; k++) {
			const sh__piece *p = &route->pattern.pieces[k];
			rc = p->param < 0 ? sh_web__wbuf_add(&url, p->text, p->len)
				: sh_web__wbuf_printf(&url, "%lld", (long long)pk);
		}
		if (rc == 0)
			rc = sh_web__wbuf_finish(&url);
		if (rc == 0)
			rc = sh_http_response_set_header(api->response, "Location", url.data);
		sh_web__wbuf_dispose(&url);
		return rc;
	}
	return 0;
}

/* ---- list ------------------------------------------------------------- */

/* Applies ?ordering=a,-b. */
static int sh_web__ordering(sh__api *api, sh_query *query, const char *text)
{
	size_t terms = 1;
	for (const char *c = text; *c != '\0'; c++)
		terms += *c == ',';
	if (terms > SH_QUERY_MAX_ORDER)
		return sh_web__api_error(api, 400, "ordering", "'ordering' has %zu terms, at most %d",
			terms, SH_QUERY_MAX_ORDER);
	char *copy = strdup(text);
	if (copy == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	int rc = 0;
	char *save = NULL;
	for (char *key = strtok_r(copy, ",", &save); rc == 0 && key != NULL;
		key = strtok_r(NULL, ",", &save)) {
		const char *name = key[0] == '-' ? key + 1 : key;
		const sh_field *f = strcmp(name, "pk") == 0 ? sh_model_pk(api->model)
			: sh_model_field(api->model, name);
		if (f == NULL)
			rc = sh_web__unknown_field(api, "ordering field", name);
		else if (sh_field_type_of(f) == SH_FIELD_MANY_TO_MANY)
			rc = sh_web__api_error(api, 400, name, "cannot order by the many-to-many field '%s'",
				name);
		else if ((rc = sh_query_order_by(query, key)) < 0)
			rc = sh_web__api_fail(api, rc, name);
	}
	free(copy);
	return rc;
}

static bool sh_web__is_lookup(const char *op)
{
	static const char *const ops[] = { "exact", "lt", "lte", "gt", "gte", "isnull" };
	for (size_t i = 0; i < SH__COUNT(ops); i++)
		if (strcmp(op, ops[i]) == 0)
			return true;
	return false;
}

/* Applies the filter ?lookup=value. */
static int sh_web__filter(sh__api *api, sh_query *query, const char *lookup, const char *value)
{
	char name[128];
	if (!sh_base__utf8_valid(lookup, strlen(lookup)) || strlen(lookup) >= sizeof name)
		return sh_web__api_error(api, 400, NULL, "bad filter name");
	snprintf(name, sizeof name, "%s", lookup);
	const char *op = "exact";
	char *sep = strstr(name, "__");
	if (sep != NULL) {
		if (strstr(sep + 2, "__") != NULL || !sh_web__is_lookup(sep + 2))
			return sh_web__api_error(api, 400, lookup, "unknown filter '%s': lookups are "
				"field, field__exact, __lt, __lte, __gt, __gte and __isnull", lookup);
		*sep = '\0';
		op = sep + 2;
	}
	const sh_field *f = strcmp(name, "pk") == 0 ? sh_model_pk(api->model)
		: sh_model_field(api->model, name);
	if (f == NULL)
		return sh_web__unknown_field(api, "filter", name);
	if (sh_field_type_of(f) == SH_FIELD_MANY_TO_MANY)
		return sh_web__api_error(api, 400, lookup, "cannot filter on the many-to-many field '%s'",
			name);
	sh_datum datum;
	int rc = sh_web__api_query_datum(&datum, api, f, strcmp(op, "isnull") == 0, lookup, value);
	if (rc != 0)
		return rc;
	rc = sh_query_filter(query, lookup, datum);
	return rc < 0 ? sh_web__api_fail(api, rc, lookup) : 0;
}

/* Reads ?limit= or ?offset=. */
static int sh_web__page_value(sh__api *api, const char *name, const char *text, int64_t min,
	int64_t *out)
{
	if (!sh_web__api_int(text, out) || *out < min)
		return sh_web__api_error(api, 400, name, "'%s' must be an integer from %lld on, not '%s'",
			name, (long long)min, text);
	return 0;
}

/* Writes the rows of `query` as the items of the list's "results". */
static int sh_web__list_rows(sh__api *api, sh_query *query, sh__wbuf *out)
{
	sh__api_field fields[SH__API_MAX_FIELDS];
	size_t n;
	int rc = sh_web__fields(api, fields, &n);
	sh_instance *row;
	for (bool first = true; rc == 0 && (rc = sh_query_next(query, &row)) == 1; first = false) {
		rc = first ? 0 : sh_web__wbuf_add(out, ",", 1);
		if (rc == 0)
			rc = sh_web__api_write_object(out, api, fields, n, row);
		sh_instance_free(row);
	}
	return rc;
}

static int sh_web__model_api_list(sh__api *api)
{
	sh_query *query;
	int rc = sh_query_new(&query, api->db, api->model);
	if (rc < 0)
		return rc;
	int64_t limit = SH__API_PAGE_SIZE, offset = 0;
	for (size_t i = 0; rc == 0 && i < sh_request_query_count(api->request); i++) {
		const char *name;
		const char *value = sh_request_query_at(api->request, i, &name);
		if (strcmp(name, "ordering") == 0)
			rc = sh_web__ordering(api, query, value);
		else if (strcmp(name, "limit") == 0)
			rc = sh_web__page_value(api, "limit", value, 1, &limit);
		else if (strcmp(name, "offset") == 0)
			rc = sh_web__page_value(api, "offset", value, 0, &offset);
		else
			rc = sh_web__filter(api, query, name, value);
	}
	if (limit > SH__API_MAX_PAGE_SIZE)
		limit = SH__API_MAX_PAGE_SIZE;   /* as DRF's max_limit */
	int64_t count = 0;
	if (rc == 0)
		rc = sh_query_count(query, &count);
	if (rc == 0)
		rc = sh_query_slice(query, offset, limit);
	/* {"count":N,"results":[...]}, as json_dumps(JSON_COMPACT) of the page */
	sh__wbuf out = { 0 };
	if (rc == 0)
		rc = sh_web__wbuf_printf(&out, "{\"count\":%lld,\"results\":[", (long long)count);
	if (rc == 0)
		rc = sh_web__list_rows(api, query, &out);
	sh_query_free(query);
	if (rc == 0)
		rc = sh_web__wbuf_add(&out, "]}", 2);
	if (rc == 0)
		return sh_web__response_json_text(api->response, 200, &out);
	sh_web__wbuf_dispose(&out);
	return rc;
}

/* ---- create and update ------------------------------------------------ */

/* The fields a body gives, checked: names, types, what PUT and create
 * require. */
typedef struct sh__changes {
	sh_field_value values[128];     /* the non-many-to-many fields given */
	const char *names[128];         /* their names: update_fields */
	char *owned[128];               /* JSON texts the values point into */
	size_t count;
	const sh__api_field *m2m[32];   /* the many-to-many fields given */
	const json_t *m2m_value[32];
	size_t m2m_count;
	sh__api_field fields[128];
} sh__changes;

static void sh_web__changes_free(sh__changes *c)
{
	for (size_t i = 0; i < c->count; i++)
		free(c->owned[i]);
}

typedef enum sh__mode { SH__MODE_CREATE, SH__MODE_REPLACE, SH__MODE_PATCH } sh__mode;

static int sh_web__changes_read(sh__changes *c, sh__api *api, const json_t *body, sh__mode mode)
{
	size_t n = sh_model_field_count(api->model);
	if (n > SH__COUNT(c->fields))
		return sh_error_set(SH_EINVAL, "%s has too many fields for the JSON API",
			sh_model_label(api->model));
	for (size_t i = 0; i < n; i++)
		sh_web__api_describe(&c->fields[i], api, i);
	const char *key;
	const json_t *value;
	json_object_foreach((json_t *)body, key, value) {
		const sh_field *f = sh_web__field_exact(api->model, key);
		if (f == NULL)
			return sh_web__unknown_field(api, "field", key);
	}
	for (size_t i = 0; i < n; i++) {
		const sh__api_field *f = &c->fields[i];
		value = json_object_get(body, f->name);
		if (f->read_only)
			continue;   /* ignored, as DRF's read-only fields */
		if (value == NULL) {
			bool needed = mode == SH__MODE_REPLACE || (mode == SH__MODE_CREATE && f->required);
			if (needed)
				return sh_web__api_error(api, 400, f->name, "field '%s' is required%s", f->name,
					mode == SH__MODE_REPLACE ? " (PUT replaces every field; PATCH changes some)" : "");
			continue;
		}
		if (f->forward_m2m) {
			if (c->m2m_count == SH__COUNT(c->m2m))
				return sh_error_set(SH_EINVAL, "too many many-to-many fields");
			c->m2m[c->m2m_count] = f;
			c->m2m_value[c->m2m_count++] = value;
			continue;
		}
		int rc = sh_web__api_datum(&c->values[c->count].value, &c->owned[c->count], api, f, value);
		if (rc != 0)
			return rc;
		c->values[c->count].name = f->name;
		c->names[c->count++] = f->name;
	}
	return 0;
}

/* Sets the many-to-many fields the body gave (the instance is saved). */
static int sh_web__m2m_apply(sh__api *api, sh__changes *c, sh_instance *instance)
{
	for (size_t i = 0; i < c->m2m_count; i++) {
		int64_t *pks;
		size_t count;
		int rc = sh_web__api_pks(&pks, &count, api, c->m2m[i]->name, c->m2m_value[i]);
		if (rc != 0)
			return rc;
		rc = sh_m2m_set(instance, c->m2m[i]->name, pks, count);
		free(pks);
		if (rc < 0)
			return sh_web__api_fail(api, rc, c->m2m[i]->name);
	}
	return 0;
}

/* POST on the collection. */
static int sh_web__create(sh__api *api)
{
	json_t *body;
	int rc = sh_web__api_body(&body, api);
	if (rc != 0)
		return rc;
	sh__changes *c = calloc(1, sizeof *c);
	if (c == NULL) {
		json_decref(body);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	sh_instance *instance = NULL;
	rc = sh_web__changes_read(c, api, body, SH__MODE_CREATE);
	if (rc == 0 && (rc = sh_web__begin(api)) == 0) {
		rc = sh_instance_new(&instance, api->db, api->model, c->values, c->count);
		if (rc == 0 && (rc = sh_instance_save(instance, NULL)) == 0)
			rc = sh_web__m2m_apply(api, c, instance);
		rc = rc < 0 ? sh_web__api_fail(api, rc, NULL) : rc;
		rc = sh_web__end(api, rc);
	}
	if (rc == 0)
		rc = sh_web__location(api, sh_instance_pk(instance));
	if (rc == 0)
		rc = sh_web__reply_object(api, 201, instance);
	sh_instance_free(instance);
	sh_web__changes_free(c);
	free(c);
	json_decref(body);
	return rc;
}

/* PUT and PATCH on an item. */
static int sh_web__update(sh__api *api, sh__mode mode)
{
	json_t *body;
	int rc = sh_web__api_body(&body, api);
	if (rc != 0)
		return rc;
	sh__changes *c = calloc(1, sizeof *c);
	if (c == NULL) {
		json_decref(body);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	sh_instance *instance = NULL;
	rc = sh_web__changes_read(c, api, body, mode);
	if (rc == 0 && (rc = sh_web__begin(api)) == 0) {
		rc = sh_web__model_api_load(&instance, api);
		for (size_t i = 0; rc == 0 && i < c->count; i++)
			if ((rc = sh_instance_set(instance, c->names[i], c->values[i].value)) < 0)
				rc = sh_web__api_fail(api, rc, c->names[i]);
		if (rc == 0) {
			sh_save_opts opts = SH_SAVE_OPTS_INIT;
			opts.update_fields = c->names;
			opts.update_fields_count = c->count;
			rc = sh_instance_save(instance, mode == SH__MODE_PATCH ? &opts : NULL);
			rc = rc < 0 ? sh_web__api_fail(api, rc, NULL) : rc;
		}
		if (rc == 0)
			rc = sh_web__m2m_apply(api, c, instance);
		rc = sh_web__end(api, rc);
	}
	if (rc == 0)
		rc = sh_web__reply_object(api, 200, instance);
	sh_instance_free(instance);
	sh_web__changes_free(c);
	free(c);
	json_decref(body);
	return rc;
}

/* ---- retrieve and delete ---------------------------------------------- */

static int sh_web__retrieve(sh__api *api)
{
	sh_instance *instance = NULL;
	int rc = sh_web__model_api_load(&instance, api);
	if (rc == 0)
		rc = sh_web__reply_object(api, 200, instance);
	sh_instance_free(instance);
	return rc;
}

static int sh_web__delete(sh__api *api)
{
	sh_instance *instance = NULL;
	int rc = sh_web__begin(api);
	if (rc < 0)
		return rc;
	rc = sh_web__model_api_load(&instance, api);
	if (rc == 0 && (rc = sh_instance_delete(instance, NULL)) < 0)
		rc = sh_web__api_fail(api, rc, NULL);
	rc = sh_web__end(api, rc);
	sh_instance_free(instance);
	if (rc == 0)
		rc = sh_http_response_set_status(api->response, 204);
	return rc;
}

/* ---- relations -------------------------------------------------------- */

static int sh_web__reply_relation(sh__api *api, sh_instance *instance)
{
	int64_t *pks = NULL;
	size_t count = 0;
	int rc = sh_m2m_pks(instance, api->route->relation, &pks, &count);
	if (rc < 0)
		return rc;
	json_t *list = json_array();
	for (size_t i = 0; list != NULL && i < count; i++)
		json_array_append_new(list, json_integer((json_int_t)pks[i]));
	free(pks);
	json_t *reply = list != NULL ? json_pack("{s:o}", api->route->relation, list) : NULL;
	rc = reply != NULL ? sh_http_response_json(api->response, 200, reply)
		: sh_error_set(SH_ENOMEM, "out of memory");
	json_decref(reply);
	return rc;
}

/* POST {"add": [...], "remove": [...]}: the removes, then the adds. */
static int sh_web__relation_change(sh__api *api, sh_instance *instance, const json_t *body)
{
	const char *key;
	const json_t *value;
	json_object_foreach((json_t *)body, key, value)
		if (strcmp(key, "add") != 0 && strcmp(key, "remove") != 0)
			return sh_web__api_error(api, 400, key, "unknown key '%s': the body is "
				"{\"add\": [pks], \"remove\": [pks]}", key);
	if (json_object_size(body) == 0)
		return sh_web__api_error(api, 400, NULL, "nothing to do: the body is "
			"{\"add\": [pks], \"remove\": [pks]}");
	static const char *const actions[] = { "remove", "add" };
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < SH__COUNT(actions); i++) {
		value = json_object_get(body, actions[i]);
		if (value == NULL)
			continue;
		int64_t *pks;
		size_t count;
		if ((rc = sh_web__api_pks(&pks, &count, api, actions[i], value)) != 0)
			break;
		rc = i == 0 ? sh_m2m_remove(instance, api->route->relation, pks, count)
			: sh_m2m_add(instance, api->route->relation, pks, count);
		free(pks);
		if (rc < 0)
			rc = sh_web__api_fail(api, rc, actions[i]);
	}
	return rc;
}

static int sh_web__model_api_relation(sh__api *api, const char *method)
{
	bool get = strcmp(method, "GET") == 0;
	json_t *body = NULL;
	int rc = 0;
	if (strcmp(method, "POST") == 0 && (rc = sh_web__api_body(&body, api)) != 0)
		return rc;
	sh_instance *instance = NULL;
	if (!get)
		rc = sh_web__begin(api);
	if (rc < 0) {
		json_decref(body);
		return rc;
	}
	rc = sh_web__model_api_load(&instance, api);
	if (rc == 0 && body != NULL)
		rc = sh_web__relation_change(api, instance, body);
	else if (rc == 0 && !get && (rc = sh_m2m_clear(instance, api->route->relation)) < 0)
		rc = sh_web__api_fail(api, rc, NULL);
	if (!get)
		rc = sh_web__end(api, rc);
	if (rc == 0)
		rc = strcmp(method, "DELETE") == 0 ? sh_http_response_set_status(api->response, 204)
			: sh_web__reply_relation(api, instance);
	sh_instance_free(instance);
	json_decref(body);
	return rc;
}

/* ---- the view --------------------------------------------------------- */

int sh_web__model_api(sh_request *request, sh_http_response *response, void *payload)
{
	(void)payload;
	const sh_route *route = request->match.route;
	sh__api api = { request, response, route, route->model_ref, NULL };
	int rc = sh_app_conn(&api.db, route->app);
	if (rc < 0)
		return rc;
	const char *method = sh_request_method(request);
	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	switch (route->model_kind) {
	case SH__API_COLLECTION:
		rc = strcmp(method, "POST") == 0 ? sh_web__create(&api) : sh_web__model_api_list(&api);
		break;
	case SH__API_ITEM:
		if (strcmp(method, "GET") == 0)
			rc = sh_web__retrieve(&api);
		else if (strcmp(method, "DELETE") == 0)
			rc = sh_web__delete(&api);
		else
			rc = sh_web__update(&api, strcmp(method, "PUT") == 0 ? SH__MODE_REPLACE : SH__MODE_PATCH);
		break;
	default:
		rc = sh_web__model_api_relation(&api, method);
		break;
	}
	return rc < 0 ? rc : 0;
}
