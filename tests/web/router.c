/*
 * router.c: matching requests against routes read from app manifests:
 * typed parameters (int, str, slug, uuid, path), overflow, the order of
 * routes, 405 with the allowed methods, HEAD where GET, bounded work.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sighost/sys/sighost.h>

#include "../support/web.h"

TestSuite(router, .init = w_setup, .fini = w_cleanup);

/* A project (read, not loaded) whose app `site` has `routes`, and a
 * router with its routes. */
typedef struct fixture {
	sh_project *project;
	sh_router *router;
} fixture;

static fixture routes_of(const char *routes)
{
	fixture f = { 0 };
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "label: site\nroutes:\n%s", routes), 0);
	w_manifest("site", text);
	free(text);
	free(t_write(w_dir, "project.yaml",
		"project: web\nplugin_dirs: [plugins]\ninstalled_apps: [site]\n"));
	char *path = t_path(w_dir, "project.yaml");
	cr_assert_eq(sh_project_new(&f.project), 0);
	cr_assert_eq(sh_project_read(f.project, path), 0, "%s", sh_error_last()->message);
	free(path);
	cr_assert_eq(sh_router_new(&f.router), 0);
	int rc = sh_router_add_app(f.router, sh_project_app(f.project, "site"));
	cr_assert_eq(rc, 0, "%s", sh_router_problem_count(f.router)
		? sh_router_problem(f.router, 0)->text : sh_error_last()->message);
	return f;
}

static void fixture_free(fixture *f)
{
	sh_router_free(f->router);
	sh_project_free(f->project);
}

/* Matches and returns the view name of the route, or "404"/"405". */
static const char *view_for(const fixture *f, const char *method, const char *path,
	sh_route_match **out)
{
	sh_route_match *m = NULL;
	int rc = sh_router_match(&m, f->router, method, path);
	cr_assert_not_null(m);
	const char *answer = rc == SH_ENOTFOUND ? "404" : rc == SH_EPERM ? "405"
		: sh_route_view(sh_route_match_route(m));
	cr_assert(rc == 0 || rc == SH_ENOTFOUND || rc == SH_EPERM, "rc %d", rc);
	if (out != NULL)
		*out = m;
	else
		sh_route_match_free(m);
	return answer;
}

Test(router, int_parameter_matches_digits_and_converts_them)
{
	fixture f = routes_of("  - {path: /alerts/<int:id>, view: detail}\n");
	sh_route_match *m;
	cr_assert_str_eq(view_for(&f, "GET", "/alerts/0042", &m), "detail");
	int64_t id = 0;
	cr_assert_eq(sh_route_match_param_int(m, "id", &id), 0);
	cr_assert_eq(id, 42);
	const char *name;
	cr_assert_str_eq(sh_route_match_param_at(m, 0, &name), "0042");
	cr_assert_str_eq(name, "id");
	cr_assert_eq(sh_route_match_param_count(m), 1);
	cr_assert_eq(sh_route_match_param_int(m, "nope", &id), SH_ENOTFOUND);
	sh_route_match_free(m);
	cr_assert_str_eq(view_for(&f, "GET", "/alerts/abc", NULL), "404");
	cr_assert_str_eq(view_for(&f, "GET", "/alerts/-1", NULL), "404");
	cr_assert_str_eq(view_for(&f, "GET", "/alerts/", NULL), "404");
	cr_assert_str_eq(view_for(&f, "GET", "/alerts/12/", NULL), "404");
	fixture_free(&f);
}

Test(router, int_parameter_that_overflows_does_not_match)
{
	fixture f = routes_of("  - {path: /alerts/<int:id>, view: detail}\n");
	sh_route_match *m;
	cr_assert_str_eq(view_for(&f, "GET", "/alerts/9223372036854775807", &m), "detail");
	int64_t id = 0;
	cr_assert_eq(sh_route_match_param_int(m, "id", &id), 0);
	cr_assert_eq(id, INT64_MAX);
	sh_route_match_free(m);
	cr_assert_str_eq(view_for(&f, "GET", "/alerts/9223372036854775808", NULL), "404");
	cr_assert_str_eq(view_for(&f, "GET", "/alerts/99999999999999999999999999", NULL), "404");
	fixture_free(&f);
}

Test(router, a_route_that_fails_to_convert_lets_the_next_one_match)
{
	fixture f = routes_of(
		"  - {path: /x/<int:n>, view: number}\n"
		"  - {path: /x/<str:s>, view: text}\n");
	cr_assert_str_eq(view_for(&f, "GET", "/x/12", NULL), "number");
	cr_assert_str_eq(view_for(&f, "GET", "/x/99999999999999999999", NULL), "text");
	cr_assert_str_eq(view_for(&f, "GET", "/x/twelve", NULL), "text");
	fixture_free(&f);
}

Test(router, str_stops_at_slashes_and_path_does_not)
{
	fixture f = routes_of(
		"  - {path: /s/<name>, view: str}\n"
		"  - {path: /p/<path:rest>, view: path}\n");
	sh_route_match *m;
	cr_assert_str_eq(view_for(&f, "GET", "/s/a.b c", NULL), "str");
	cr_assert_str_eq(view_for(&f, "GET", "/s/a/b", NULL), "404");
	cr_assert_str_eq(view_for(&f, "GET", "/p/a/b/c.txt", &m), "path");
	cr_assert_str_eq(sh_route_match_param_at(m, 0, NULL), "a/b/c.txt");
	int64_t n;
	cr_assert_eq(sh_route_match_param_int(m, "rest", &n), SH_EINVAL);
	sh_route_match_free(m);
	cr_assert_str_eq(view_for(&f, "GET", "/p/", NULL), "404");
	fixture_free(&f);
}

Test(router, slug_and_uuid_accept_only_their_characters)
{
	fixture f = routes_of(
		"  - {path: /slug/<slug:s>, view: slug}\n"
		"  - {path: /uuid/<uuid:u>, view: uuid}\n");
	cr_assert_str_eq(view_for(&f, "GET", "/slug/Hello-World_2", NULL), "slug");
	cr_assert_str_eq(view_for(&f, "GET", "/slug/hello.world", NULL), "404");
	cr_assert_str_eq(view_for(&f, "GET", "/uuid/123e4567-e89b-12d3-a456-426614174000", NULL),
		"uuid");
	cr_assert_str_eq(view_for(&f, "GET", "/uuid/123E4567-E89B-12D3-A456-426614174000", NULL),
		"404");
	cr_assert_str_eq(view_for(&f, "GET", "/uuid/123e4567e89b12d3a456426614174000", NULL), "404");
	cr_assert_str_eq(view_for(&f, "GET", "/uuid/123e4567-e89b-12d3-a456-4266141740001", NULL),
		"404");
	fixture_free(&f);
}

Test(router, parameters_inside_a_segment_backtrack_like_django)
{
	fixture f = routes_of(
		"  - {path: '/files/<str:name>.<str:ext>', view: file}\n"
		"  - {path: '/<path:dir>/edit', view: edit}\n");
	sh_route_match *m;
	cr_assert_str_eq(view_for(&f, "GET", "/files/archive.tar.gz", &m), "file");
	cr_assert_str_eq(sh_route_match_param_at(m, 0, NULL), "archive.tar");
	cr_assert_str_eq(sh_route_match_param_at(m, 1, NULL), "gz");
	sh_route_match_free(m);
	cr_assert_str_eq(view_for(&f, "GET", "/a/b/edit", &m), "edit");
	cr_assert_str_eq(sh_route_match_param_at(m, 0, NULL), "a/b");
	sh_route_match_free(m);
	cr_assert_str_eq(view_for(&f, "GET", "/files/noext", NULL), "404");
	fixture_free(&f);
}

Test(router, the_method_picks_among_routes_of_one_path)
{
	fixture f = routes_of(
		"  - {path: /alerts, view: list}\n"
		"  - {path: /alerts, methods: [POST], view: create}\n"
		"  - {path: /alerts/<int:id>, methods: [PUT, PATCH, DELETE], view: change}\n");
	cr_assert_str_eq(view_for(&f, "GET", "/alerts", NULL), "list");
	cr_assert_str_eq(view_for(&f, "HEAD", "/alerts", NULL), "list");
	cr_assert_str_eq(view_for(&f, "POST", "/alerts", NULL), "create");
	cr_assert_str_eq(view_for(&f, "PATCH", "/alerts/3", NULL), "change");
	sh_route_match *m;
	cr_assert_str_eq(view_for(&f, "DELETE", "/alerts", &m), "405");
	cr_assert_str_eq(sh_route_match_allow(m), "GET, HEAD, POST");
	cr_assert_null(sh_route_match_route(m));
	sh_route_match_free(m);
	cr_assert_str_eq(view_for(&f, "GET", "/alerts/3", &m), "405");
	cr_assert_str_eq(sh_route_match_allow(m), "PUT, PATCH, DELETE");
	sh_route_match_free(m);
	cr_assert_str_eq(view_for(&f, "BREW", "/alerts", NULL), "405");
	cr_assert_str_eq(view_for(&f, "get", "/alerts", NULL), "405");
	fixture_free(&f);
}

Test(router, first_matching_route_wins_in_file_order)
{
	fixture f = routes_of(
		"  - {path: /a/<str:x>, view: first}\n"
		"  - {path: /a/special, view: second}\n");
	cr_assert_str_eq(view_for(&f, "GET", "/a/special", NULL), "first");
	fixture_free(&f);
}

Test(router, route_accessors_report_the_manifest)
{
	fixture f = routes_of(
		"  - {path: '/m/<int:id>', methods: [GET, DELETE], model: notes.Note,\n"
		"     login_required: true, atomic: false}\n"
		"  - {path: /v, view: v}\n");
	cr_assert_eq(sh_router_route_count(f.router), 2);
	const sh_route *r = sh_router_route_at(f.router, 0);
	cr_assert_str_eq(sh_route_path(r), "/m/<int:id>");
	cr_assert_null(sh_route_view(r));
	cr_assert_str_eq(sh_route_model(r), "notes.Note");
	cr_assert(sh_route_login_required(r));
	cr_assert_eq(sh_route_atomic(r), 0);
	cr_assert(sh_route_allows(r, "HEAD"));
	cr_assert(sh_route_allows(r, "DELETE"));
	cr_assert_not(sh_route_allows(r, "POST"));
	char methods[64];
	sh_route_methods(methods, sizeof methods, r);
	cr_assert_str_eq(methods, "GET, HEAD, DELETE");
	cr_assert_str_eq(sh_app_label(sh_route_app(r)), "site");
	const sh_route *v = sh_router_route_at(f.router, 1);
	cr_assert_eq(sh_route_atomic(v), -1);
	cr_assert_not(sh_route_login_required(v));
	cr_assert_null(sh_router_route_at(f.router, 2));
	fixture_free(&f);
}

Test(router, pathological_patterns_stay_fast)
{
	fixture f = routes_of(
		"  - {path: '/<path:a>/<path:b>/<path:c>/<path:d>/<path:e>/x', view: slow}\n");
	char path[4096];
	size_t n = 0;
	while (n + 2 < sizeof path - 2) {
		path[n++] = '/';
		path[n++] = 'a';
	}
	path[n++] = 'y';
	path[n] = '\0';
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_str_eq(view_for(&f, "GET", path, NULL), "404");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert_lt(seconds, 0.5, "matching took %.3f s", seconds);
	fixture_free(&f);
}

Test(router, an_app_without_routes_adds_none)
{
	w_manifest("plain", "label: plain\n");
	free(t_write(w_dir, "project.yaml",
		"project: web\nplugin_dirs: [plugins]\ninstalled_apps: [plain]\n"));
	char *path = t_path(w_dir, "project.yaml");
	sh_project *p;
	sh_router *r;
	cr_assert_eq(sh_project_new(&p), 0);
	cr_assert_eq(sh_project_read(p, path), 0);
	cr_assert_eq(sh_router_new(&r), 0);
	cr_assert_eq(sh_router_add_app(r, sh_project_app(p, "plain")), 0);
	cr_assert_eq(sh_router_route_count(r), 0);
	sh_route_match *m;
	cr_assert_eq(sh_router_match(&m, r, "GET", "/"), SH_ENOTFOUND);
	cr_assert_str_eq(sh_route_match_allow(m), "");
	sh_route_match_free(m);
	cr_assert_eq(sh_router_add_app(r, NULL), SH_EINVAL);
	cr_assert_eq(sh_router_match(&m, r, NULL, "/"), SH_EINVAL);
	cr_assert_null(m);
	sh_router_free(r);
	sh_project_free(p);
	free(path);
}
