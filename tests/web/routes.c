/*
 * routes.c: validation of the `routes:` of app manifests: every problem
 * is found (not only the first), with file, line and column, unknown keys
 * and converters get suggestions, conflicts name the other route, and
 * views are found (or not) in the loaded plugin.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <sighost/sys/sighost.h>

#include "../support/web.h"

TestSuite(routes, .init = w_setup, .fini = w_cleanup);

/* Reads a project whose apps are written already and returns every
 * problem the router finds, one per line (newly allocated). */
static char *problems_of(const char *apps, bool load, size_t *count)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: web\nplugin_dirs: [plugins]\ninstalled_apps: [%s]\n",
		apps), 0);
	free(t_write(w_dir, "project.yaml", text));
	free(text);
	char *path = t_path(w_dir, "project.yaml");
	sh_project *p;
	cr_assert_eq(sh_project_new(&p), 0);
	cr_assert_eq(sh_project_read(p, path), 0, "%s", sh_error_last()->message);
	if (load)
		cr_assert_eq(sh_project_load(p), 0, "%s", sh_error_last()->message);
	sh_router *r;
	cr_assert_eq(sh_router_new(&r), 0);
	int worst = 0;
	for (size_t i = 0; i < sh_project_app_count(p); i++) {
		int rc = sh_router_add_app(r, sh_project_app_at(p, i));
		worst = rc < worst ? rc : worst;
	}
	if (load && sh_router_resolve(r) < 0)
		worst = SH_EMANIFEST;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	for (size_t i = 0; i < sh_router_problem_count(r); i++)
		fprintf(f, "%s\n", sh_router_problem(r, i)->text);
	fclose(f);
	*count = sh_router_problem_count(r);
	cr_assert_eq(worst, *count > 0 ? SH_EMANIFEST : 0, "result %d with problems:\n%s", worst, out);
	sh_router_free(r);
	sh_project_free(p);
	free(path);
	return out;
}

Test(routes, unknown_keys_are_reported_with_position_and_suggestion)
{
	w_manifest("site",
		"label: site\n"
		"routes:\n"
		"  - path: /a\n"
		"    metods: [GET]\n"
		"    view: a\n"
		"    colour: red\n");
	size_t n;
	char *out = problems_of("site", false, &n);
	cr_assert_eq(n, 2, "%s", out);
	w_has(out, "plugins/site.yaml:4:5: unknown key 'metods' in route (did you mean 'methods'?)");
	w_has(out, "plugins/site.yaml:6:5: unknown key 'colour' in route (known: path, methods, "
		"view, model, login_required, anonymous, atomic)");
	free(out);
}

Test(routes, every_bad_route_is_reported_not_only_the_first)
{
	w_manifest("site",
		"label: site\n"
		"routes:\n"
		"  - {path: alerts, view: a}\n"
		"  - {path: '/a/<intt:id>', view: b}\n"
		"  - {path: '/a/<int:id>/<str:id>', view: c}\n"
		"  - {path: '/a/<int:id', view: d}\n"
		"  - {path: /b, view: e, model: x.Y}\n"
		"  - {path: /c}\n"
		"  - {path: /d, view: 'not a name'}\n"
		"  - {path: /e, model: Note}\n"
		"  - {view: f}\n"
		"  - just a string\n"
		"  - {path: /f, view: f, login_required: yes}\n");
	size_t n;
	char *out = problems_of("site", false, &n);
	w_has(out, "site.yaml:3:12: bad path 'alerts': a path must start with '/' (\"/alerts\"?)");
	w_has(out, "site.yaml:4:12: bad path '/a/<intt:id>': unknown converter 'intt' (did you mean "
		"'int'?)");
	w_has(out, "bad path '/a/<int:id>/<str:id>': parameter 'id' appears twice");
	w_has(out, "bad path '/a/<int:id': '<' is not closed by '>'");
	w_has(out, "site.yaml:7:32: a route has either 'view' or 'model', not both");
	w_has(out, "site.yaml:8:5: a route needs 'view: NAME'");
	w_has(out, "view 'not a name' is not a valid name");
	w_has(out, "model 'Note' must be written 'app_label.ModelName'");
	w_has(out, "site.yaml:11:5: missing key 'path' in route");
	w_has(out, "site.yaml:12:5: a route must be a map (path, methods, view or model), not a string");
	w_has(out, "'login_required' must be a boolean, not a string");
	cr_assert_eq(n, 11, "%s", out);
	free(out);
}

Test(routes, methods_are_checked)
{
	w_manifest("site",
		"label: site\n"
		"routes:\n"
		"  - {path: /a, view: a, methods: [get]}\n"
		"  - {path: /b, view: b, methods: [GTE]}\n"
		"  - {path: /c, view: c, methods: [BREW]}\n"
		"  - {path: /d, view: d, methods: [POST, POST]}\n"
		"  - {path: /e, view: e, methods: []}\n"
		"  - {path: /f, view: f, methods: GET}\n"
		"  - {path: /g, view: g, methods: [1]}\n");
	size_t n;
	char *out = problems_of("site", false, &n);
	w_has(out, "site.yaml:3:35: method 'get' must be written in capitals: 'GET'");
	w_has(out, "unknown method 'GTE' (did you mean 'GET'?)");
	w_has(out, "unknown method 'BREW' (known: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)");
	w_has(out, "method 'POST' is listed twice");
	w_has(out, "'methods' is empty; leave it out to mean [GET]");
	w_has(out, "'methods' must be a list of strings, not a string");
	w_has(out, "items of 'methods' must be a string, not an integer");
	cr_assert_eq(n, 7, "%s", out);
	free(out);
}

Test(routes, conflicting_routes_name_each_other_across_apps)
{
	w_manifest("one",
		"label: one\n"
		"routes:\n"
		"  - {path: '/a/<int:id>', view: a, methods: [GET, POST]}\n"
		"  - {path: /b, view: b}\n");
	w_manifest("two",
		"label: two\n"
		"routes:\n"
		"  - {path: '/a/<int:pk>', view: c, methods: [POST]}\n"
		"  - {path: '/a/<str:pk>', view: d, methods: [POST]}\n"
		"  - {path: /b, view: e, methods: [HEAD]}\n"
		"  - {path: /b, view: f, methods: [DELETE]}\n");
	size_t n;
	char *out = problems_of("one, two", false, &n);
	w_has(out, "two.yaml:3:12: route '/a/<int:pk>' (POST) conflicts with route '/a/<int:id>' "
		"of app 'one' at ");
	w_has(out, "one.yaml:3:12: same path, same methods");
	w_has(out, "two.yaml:5:12: route '/b' (HEAD) conflicts with route '/b' of app 'one'");
	cr_assert_eq(n, 2, "%s", out);
	free(out);
}

Test(routes, routes_must_be_a_list)
{
	w_manifest("site", "label: site\nroutes: {path: /a}\n");
	size_t n;
	char *out = problems_of("site", false, &n);
	w_has(out, "site.yaml:2:9: 'routes' must be a list of routes, not a map");
	cr_assert_eq(n, 1);
	free(out);
}

Test(routes, a_valid_manifest_has_no_problem)
{
	w_manifest("site",
		"label: site\n"
		"routes:\n"
		"  - path: /\n"
		"    view: index\n"
		"  - path: /alerts/<int:id>\n"
		"    methods: [GET, PUT, PATCH, DELETE]\n"
		"    model: site.Alert\n"
		"    login_required: true\n"
		"    atomic: true\n"
		"  - {path: '/u/<uuid:u>/<slug:s>/<path:rest>', view: deep}\n");
	size_t n;
	char *out = problems_of("site", false, &n);
	cr_assert_eq(n, 0, "%s", out);
	free(out);
}

Test(routes, views_are_found_in_the_plugin_or_reported)
{
	w_app("site",
		"routes:\n"
		"  - {path: /a, view: hello}\n"
		"  - {path: /b, view: nope}\n"
		"  - {path: /c, view: ready}\n");
	w_manifest("bare", "label: bare\nroutes:\n  - {path: /d, view: hello}\n");
	size_t n;
	char *out = problems_of("site, bare", true, &n);
	w_has(out, "site.yaml:5:22: view 'nope' not found in ");
	w_has(out, "site.so (define it with SH_VIEW(nope))");
	w_has(out, "view 'ready' not found in");   /* only SH_VIEW symbols are views */
	w_has(out, "bare.yaml:3:22: view 'hello': app 'bare' has no plugin ('library') to define it");
	cr_assert_eq(n, 3, "%s", out);
	free(out);
}

Test(routes, sh_app_symbol_finds_only_the_plugins_own_symbols)
{
	w_app("site", NULL);
	w_project("site", NULL);
	char *path = t_path(w_dir, "project.yaml");
	sh_project *p;
	cr_assert_eq(sh_project_new(&p), 0);
	cr_assert_eq(sh_project_read(p, path), 0, "%s", sh_error_last()->message);
	sh_app *site = sh_project_app(p, "site");
	cr_assert_null(sh_app_symbol(site, "sh_view_hello"));   /* not loaded yet */
	cr_assert_eq(sh_error_last()->code, SH_ENOTFOUND);
	cr_assert_eq(sh_project_load(p), 0, "%s", sh_error_last()->message);
	cr_assert_not_null(sh_app_symbol(site, "sh_view_hello"));
	cr_assert_null(sh_app_symbol(site, "sh_view_nope"));
	cr_assert_null(sh_app_symbol(site, "sh_version"));   /* libsighost's, not the plugin's */
	cr_assert_null(sh_app_symbol(site, "json_pack"));
	cr_assert_null(sh_app_symbol(site, ""));
	cr_assert_eq(sh_error_last()->code, SH_EINVAL);
	cr_assert_eq(sh_value_type_of(sh_app_manifest(site)), SH_VALUE_MAP);
	cr_assert_str_eq(sh_value_path_string(sh_app_manifest(site), "label", ""), "site");
	sh_project_free(p);
	free(path);
}
