/*
 * routes.c: the `routes:` list of app manifests: validation (every problem
 * with its file, line and column; unknown keys with a suggestion),
 * conflicts between routes, and finding each view in its plugin. The
 * shape of a route is described by the key table below; add a key: add a
 * row and read it in sh_web__route_read().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "internal.h"

typedef struct sh__route_key {
	const char *name;
	sh_value_type type;
	sh_value_type item_type;   /* for lists */
} sh__route_key;

static const sh__route_key sh__route_keys[] = {
	{ "path",           SH_VALUE_STRING, SH_VALUE_NULL },
	{ "methods",        SH_VALUE_LIST,   SH_VALUE_STRING },
	{ "view",           SH_VALUE_STRING, SH_VALUE_NULL },
	{ "model",          SH_VALUE_STRING, SH_VALUE_NULL },
	{ "login_required", SH_VALUE_BOOL,   SH_VALUE_NULL },
	{ "anonymous",      SH_VALUE_LIST,   SH_VALUE_STRING },
	{ "atomic",         SH_VALUE_BOOL,   SH_VALUE_NULL },
};

/* The methods that change something (not safe in RFC 9110's sense). */
#define SH__WRITES (SH__POST | SH__PUT | SH__PATCH | SH__DELETE)

static const char *const sh__method_names[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"
};

unsigned sh_web__method_bit(const char *method)
{
	for (size_t i = 0; i < SH__COUNT(sh__method_names); i++)
		if (strcmp(method, sh__method_names[i]) == 0)
			return 1u << i;
	return 0;
}

int sh_web__methods_text(char *buf, size_t size, unsigned mask)
{
	if (mask & SH__GET)
		mask |= SH__HEAD;
	int total = 0;
	if (size > 0)
		buf[0] = '\0';
	for (size_t i = 0; i < SH__COUNT(sh__method_names); i++) {
		if (!(mask & (1u << i)))
			continue;
		size_t used = (size_t)total < size ? (size_t)total : size;
		int n = snprintf(buf + used, size - used, "%s%s", total ? ", " : "", sh__method_names[i]);
		total += n;
	}
	return total;
}

/* The methods a route answers: HEAD wherever GET. */
static unsigned sh_web__effective_methods(unsigned methods)
{
	return methods & SH__GET ? methods | SH__HEAD : methods;
}

/* Checks one route map's keys and types. Returns how many problems. */
static size_t sh_web__route_schema(sh__problems *problems, const sh_value *map, const char *what)
{
	size_t found = 0;
	const char *names[SH__COUNT(sh__route_keys)];
	for (size_t k = 0; k < SH__COUNT(sh__route_keys); k++)
		names[k] = sh__route_keys[k].name;
	for (size_t i = 0; i < sh_value_length(map); i++) {
		const char *key = sh_value_key_at(map, i);
		const sh_value *v = sh_value_at(map, i);
		const sh__route_key *spec = NULL;
		for (size_t k = 0; k < SH__COUNT(sh__route_keys) && spec == NULL; k++)
			if (strcmp(key, sh__route_keys[k].name) == 0)
				spec = &sh__route_keys[k];
		if (spec == NULL) {
			const char *near = sh_base__suggest(key, names, SH__COUNT(names));
			unsigned line, col;
			sh_app__value_key_position(map, i, &line, &col);
			if (near != NULL)
				sh_manifest__problem_add(problems, SH_EMANIFEST, sh_value_file(map), line, col,
					"unknown key '%s' in %s (did you mean '%s'?)", key, what, near);
			else
				sh_manifest__problem_add(problems, SH_EMANIFEST, sh_value_file(map), line, col,
					"unknown key '%s' in %s (known: path, methods, view, model, "
					"login_required, anonymous, atomic)", key, what);
			found++;
			continue;
		}
		if (sh_value_type_of(v) != spec->type) {
			sh_manifest__problem_at(problems, SH_EMANIFEST, v, "'%s' must be %s%s, not %s", key,
				sh_value_type_name(spec->type),
				spec->type == SH_VALUE_LIST ? " of strings" : "",
				sh_value_type_name(sh_value_type_of(v)));
			found++;
			continue;
		}
		if (spec->type != SH_VALUE_LIST)
			continue;
		for (size_t j = 0; j < sh_value_length(v); j++) {
			const sh_value *item = sh_value_at(v, j);
			if (sh_value_type_of(item) == spec->item_type)
				continue;
			sh_manifest__problem_at(problems, SH_EMANIFEST, item, "items of '%s' must be %s, not %s",
				key, sh_value_type_name(spec->item_type),
				sh_value_type_name(sh_value_type_of(item)));
			found++;
		}
	}
	return found;
}

/* Reads `methods` (default [GET]) or `anonymous` (default []) into *mask.
 * Returns how many problems. */
static size_t sh_web__route_methods(sh__problems *problems, const sh_value *list, unsigned *mask,
	unsigned absent)
{
	*mask = 0;
	if (list == NULL || sh_value_type_of(list) != SH_VALUE_LIST) {
		*mask = absent;   /* absent, or a wrong type the schema reported */
		return 0;
	}
	size_t found = 0;
	if (sh_value_length(list) == 0 && absent != 0) {
		sh_manifest__problem_at(problems, SH_EMANIFEST, list,
			"'methods' is empty; leave it out to mean [GET]");
		return 1;
	}
	for (size_t i = 0; i < sh_value_length(list); i++) {
		const sh_value *item = sh_value_at(list, i);
		const char *name = sh_value_string(item);
		if (name == NULL)
			continue;   /* reported by the schema */
		unsigned bit = sh_web__method_bit(name);
		if (bit == 0) {
			char upper[16];
			size_t n = 0;
			for (; name[n] != '\0' && n + 1 < sizeof upper; n++)
				upper[n] = (char)(name[n] >= 'a' && name[n] <= 'z' ? name[n] - 'a' + 'A' : name[n]);
			upper[n] = '\0';
			const char *near = sh_web__method_bit(upper) && name[n] == '\0' ? NULL
				: sh_base__suggest(name, sh__method_names, SH__COUNT(sh__method_names));
			if (sh_web__method_bit(upper) && name[n] == '\0')
				sh_manifest__problem_at(problems, SH_EMANIFEST, item,
					"method '%s' must be written in capitals: '%s'", name, upper);
			else if (near != NULL)
				sh_manifest__problem_at(problems, SH_EMANIFEST, item,
					"unknown method '%s' (did you mean '%s'?)", name, near);
			else
				sh_manifest__problem_at(problems, SH_EMANIFEST, item,
					"unknown method '%s' (known: GET, HEAD, POST, PUT, PATCH, DELETE, "
					"OPTIONS)", name);
			found++;
		} else if (*mask & bit) {
			sh_manifest__problem_at(problems, SH_EMANIFEST, item, "method '%s' is listed twice", name);
			found++;
		}
		*mask |= bit;
	}
	return found;
}

/* "app.Model": an app label, a dot, a model name. */
static bool sh_web__model_label_ok(const char *s)
{
	const char *dot = strchr(s, '.');
	if (dot == NULL || strchr(dot + 1, '.') != NULL || (size_t)(dot - s) > 100)
		return false;
	char label[128];
	memcpy(label, s, (size_t)(dot - s));
	label[dot - s] = '\0';
	return sh_base__is_identifier(label, 100) && sh_base__is_identifier(dot + 1, 100);
}

/* Reads `view` or `model`, exactly one. Returns how many problems; sets
 * *oom on ENOMEM. */
static size_t sh_web__route_target(sh__problems *problems, const sh_value *map, sh_route *route,
	bool *oom)
{
	const sh_value *view = sh_value_get(map, "view"), *model = sh_value_get(map, "model");
	const char *view_name = sh_value_string(view), *model_name = sh_value_string(model);
	if (view != NULL && model != NULL) {
		sh_manifest__problem_at(problems, SH_EMANIFEST, model,
			"a route has either 'view' or 'model', not both");
		return 1;
	}
	if (view == NULL && model == NULL) {
		sh_manifest__problem_at(problems, SH_EMANIFEST, map,
			"a route needs 'view: NAME' (an SH_VIEW of the app's plugin) or "
			"'model: app.Model' (the JSON API of a model)");
		return 1;
	}
	if (view_name != NULL && !sh_base__is_identifier(view_name, 200)) {
		sh_manifest__problem_at(problems, SH_EMANIFEST, view,
			"view '%s' is not a valid name: use letters, digits and '_', not starting "
			"with a digit (the plugin defines it with SH_VIEW(name))", view_name);
		return 1;
	}
	if (model_name != NULL && !sh_web__model_label_ok(model_name)) {
		sh_manifest__problem_at(problems, SH_EMANIFEST, model,
			"model '%s' must be written 'app_label.ModelName'", model_name);
		return 1;
	}
	route->view_value = view;
	if ((view_name != NULL && (route->view = strdup(view_name)) == NULL)
		|| (model_name != NULL && (route->model = strdup(model_name)) == NULL))
		*oom = true;
	return 0;
}

/* Reads `anonymous`: the methods of a model route that clients without a
 * token may call. Returns how many problems. */
static size_t sh_web__route_anonymous(sh__problems *problems, const sh_value *map, sh_route *route)
{
	const sh_value *list = sh_value_get(map, "anonymous");
	size_t found = sh_web__route_methods(problems, list, &route->anonymous, 0);
	if (list == NULL || found > 0)
		return found;
	if (route->model == NULL) {
		sh_manifest__problem_at(problems, SH_EMANIFEST, list, "'anonymous' is for model routes: a view "
			"route is open to every client unless 'login_required: true' (its view may check "
			"sh_request_user() itself)");
		return 1;
	}
	if (route->login_required && route->anonymous != 0) {
		sh_manifest__problem_at(problems, SH_EMANIFEST, list, "a route cannot have both "
			"'login_required: true' and 'anonymous' methods");
		return 1;
	}
	unsigned extra = route->anonymous & ~sh_web__effective_methods(route->methods);
	if (extra != 0) {
		char names[128];
		sh_web__methods_text(names, sizeof names, extra);
		sh_manifest__problem_at(problems, SH_EMANIFEST, list, "'anonymous' lists %s, which the route "
			"does not answer (its methods: see 'methods')", names);
		return 1;
	}
	return 0;
}

static void sh_web__route_free(sh_route *route)
{
	if (route == NULL)
		return;
	sh_web__pattern_dispose(&route->pattern);
	free(route->view);
	free(route->model);
	free(route->relation);
	free(route);
}

/* Reads one route map into a new route (NULL when it has problems or on
 * ENOMEM, which sets *oom). */
static sh_route *sh_web__route_read(sh_router *router, sh_app *app, const sh_value *map,
	bool *oom)
{
	sh__problems *problems = &router->problems;
	if (sh_value_type_of(map) != SH_VALUE_MAP) {
		sh_manifest__problem_at(problems, SH_EMANIFEST, map,
			"a route must be a map (path, methods, view or model), not %s",
			sh_value_type_name(sh_value_type_of(map)));
		return NULL;
	}
	size_t found = sh_web__route_schema(problems, map, "route");
	const sh_value *path = sh_value_get(map, "path");
	if (path == NULL) {
		sh_manifest__problem_at(problems, SH_EMANIFEST, map, "missing key 'path' in route");
		found++;
	}
	sh_route *route = calloc(1, sizeof *route);
	if (route == NULL) {
		*oom = true;
		return NULL;
	}
	route->app = app;
	route->where = map;
	route->atomic = -1;
	const char *source = sh_value_string(path);
	if (source != NULL) {
		sh__pattern_error err;
		int rc = sh_web__pattern_compile(&route->pattern, source, &err);
		if (rc == SH_ENOMEM)
			*oom = true;
		else if (rc < 0) {
			sh_manifest__problem_at(problems, SH_EMANIFEST, path, "bad path '%s': %s", source,
				err.text);
			found++;
		}
	}
	found += sh_web__route_methods(problems, sh_value_get(map, "methods"), &route->methods, SH__GET);
	found += sh_web__route_target(problems, map, route, oom);
	route->login_required = sh_value_path_bool(map, "login_required", false);
	found += sh_web__route_anonymous(problems, map, route);
	bool atomic;
	if (sh_value_bool(&atomic, sh_value_get(map, "atomic")) == 0)
		route->atomic = atomic;
	if (found > 0 || *oom) {
		sh_web__route_free(route);
		return NULL;
	}
	return route;
}

#define sh_web__effective sh_web__effective_methods

/* Reports a route that conflicts with one added before. */
static bool sh_web__route_conflicts(sh_router *router, const sh_route *route)
{
	for (size_t i = 0; i < router->count; i++) {
		const sh_route *other = router->routes[i];
		unsigned common = sh_web__effective(route->methods) & sh_web__effective(other->methods);
		/* sh_web__route_read keeps only routes whose path compiled: a missing path
		 * or one that is not a string is a problem of the schema.
		 * NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
		if (common == 0 || strcmp(route->pattern.shape, other->pattern.shape) != 0)
			continue;
		char methods[128];
		sh_web__methods_text(methods, sizeof methods, common);
		const sh_value *path = sh_value_get(route->where, "path");
		const sh_value *other_path = sh_value_get(other->where, "path");
		sh_manifest__problem_at(&router->problems, SH_EMANIFEST, path,
			"route '%s' (%s) conflicts with route '%s' of app '%s' at %s:%u:%u: "
			"same path, same methods",
			route->pattern.source, methods, other->pattern.source, sh_app_label(other->app),
			sh_value_file(other_path), sh_value_line(other_path), sh_value_column(other_path));
		return true;
	}
	return false;
}

static int sh_web__router_push(sh_router *router, sh_route *route)
{
	if (router->count == router->capacity) {
		size_t cap = router->capacity ? router->capacity * 2 : 16;
		sh_route **routes = realloc(router->routes, cap * sizeof *routes);
		if (routes == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		router->routes = routes;
		router->capacity = cap;
	}
	router->routes[router->count++] = route;
	return 0;
}

int sh_router_new(sh_router **out)
{
	*out = calloc(1, sizeof **out);
	if (*out == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	(*out)->problems.raise_each = true;
	return 0;
}

void sh_router_free(sh_router *router)
{
	if (router == NULL)
		return;
	for (size_t i = 0; i < router->count; i++)
		sh_web__route_free(router->routes[i]);
	free(router->routes);
	sh_manifest__problems_dispose(&router->problems);
	free(router);
}

int sh_router_add_app(sh_router *router, sh_app *app)
{
	if (router == NULL || app == NULL)
		return sh_error_set(SH_EINVAL, "sh_router_add_app: router and app are required");
	size_t before = router->problems.count;
	const sh_value *routes = sh_value_get(sh_app_manifest(app), "routes");
	if (routes != NULL && sh_value_type_of(routes) != SH_VALUE_LIST
		&& sh_value_type_of(routes) != SH_VALUE_NULL) {
		sh_manifest__problem_at(&router->problems, SH_EMANIFEST, routes,
			"'routes' must be a list of routes, not %s",
			sh_value_type_name(sh_value_type_of(routes)));
		return SH_EMANIFEST;
	}
	bool oom = false;
	for (size_t i = 0; i < sh_value_length(routes) && !oom; i++) {
		sh_route *route = sh_web__route_read(router, app, sh_value_at(routes, i), &oom);
		if (route == NULL)
			continue;
		if (sh_web__route_conflicts(router, route)) {
			sh_web__route_free(route);
			continue;
		}
		if (sh_web__router_push(router, route) < 0) {
			sh_web__route_free(route);
			oom = true;
		}
	}
	if (oom)
		return sh_error_set(SH_ENOMEM, "out of memory");
	if (router->problems.count > before) {
		sh_error_set(SH_EMANIFEST, "%s", router->problems.items[before].text);
		return SH_EMANIFEST;
	}
	return 0;
}

int sh_router_resolve(sh_router *router)
{
	if (router == NULL)
		return sh_error_set(SH_EINVAL, "sh_router_resolve: router is required");
	size_t before = router->problems.count;
	for (size_t i = 0; i < router->count; i++) {
		sh_route *route = router->routes[i];
		if (route->model != NULL && route->fn == NULL) {
			if (sh_web__model_route_resolve(router, route) == SH_ENOMEM)
				return SH_ENOMEM;
			continue;
		}
		if (route->view == NULL || route->fn != NULL)
			continue;
		char symbol[256];
		snprintf(symbol, sizeof symbol, "%s%s", SH_VIEW_PREFIX, route->view);
		void *address = sh_app_symbol(route->app, symbol);
		if (address == NULL) {
			const char *library = sh_app_library_path(route->app);
			if (library == NULL)
				sh_manifest__problem_at(&router->problems, SH_EMANIFEST, route->view_value,
					"view '%s': app '%s' has no plugin ('library') to define it",
					route->view, sh_app_label(route->app));
			else
				sh_manifest__problem_at(&router->problems, SH_EMANIFEST, route->view_value,
					"view '%s' not found in %s (define it with SH_VIEW(%s))",
					route->view, library, route->view);
			continue;
		}
		*(void **)&route->fn = address;
	}
	if (router->problems.count > before) {
		sh_error_set(SH_EMANIFEST, "%s", router->problems.items[before].text);
		return SH_EMANIFEST;
	}
	return 0;
}

size_t sh_router_problem_count(const sh_router *router)
{
	return router != NULL ? router->problems.count : 0;
}

const sh_problem *sh_router_problem(const sh_router *router, size_t index)
{
	return router != NULL && index < router->problems.count ? &router->problems.items[index]
		: NULL;
}

size_t sh_router_route_count(const sh_router *router)
{
	return router != NULL ? router->count : 0;
}

const sh_route *sh_router_route_at(const sh_router *router, size_t index)
{
	return router != NULL && index < router->count ? router->routes[index] : NULL;
}

const char *sh_route_path(const sh_route *route)
{
	return route->pattern.source;
}

sh_app *sh_route_app(const sh_route *route)
{
	return route->app;
}

const char *sh_route_view(const sh_route *route)
{
	return route->view;
}

const char *sh_route_model(const sh_route *route)
{
	return route->model;
}

bool sh_route_login_required(const sh_route *route)
{
	return route->login_required;
}

bool sh_route_open_to_anonymous(const sh_route *route, const char *method)
{
	unsigned bit = method != NULL ? sh_web__method_bit(method) : 0;
	if (route->model == NULL)
		return !route->login_required;
	return (sh_web__effective(route->anonymous) & bit) != 0;
}

int sh_route_anonymous_writes(char *buf, size_t size, const sh_route *route)
{
	unsigned writes = route->model != NULL ? route->anonymous & SH__WRITES : 0;
	if (buf != NULL)
		sh_web__methods_text(buf, size, writes);
	int count = 0;
	for (unsigned w = writes; w != 0; w &= w - 1)
		count++;
	return count;
}

int sh_route_atomic(const sh_route *route)
{
	return route->atomic;
}

bool sh_route_allows(const sh_route *route, const char *method)
{
	unsigned bit = method != NULL ? sh_web__method_bit(method) : 0;
	return (sh_web__effective(route->methods) & bit) != 0;
}

int sh_route_methods(char *buf, size_t size, const sh_route *route)
{
	return sh_web__methods_text(buf, size, route->methods);
}
