/*
 * check.c: `sighost check`: reads the project and app manifests, probes
 * and loads every plugin (ready() included) and nothing else, and lists
 * every problem found. A plugin that crashes or hangs while it loads is a
 * problem naming it; one of an optional app is a warning (the app is left
 * out), as Django's check separates errors from warnings. Exit status 0
 * when there is no problem (warnings or not), 1 otherwise, 2 for a usage
 * error.
 */
#include <getopt.h>
#include <stdio.h>

#include <sighost/sys/web.h>

#include "cli.h"
#include "project_open.h"

/* Prints a warning for every route that lets clients without an API
 * token write (sh_route_anonymous_writes()); returns how many. */
static size_t sh_cli__warn_anonymous_writes(const sh_router *router)
{
	size_t warned = 0;
	for (size_t i = 0; i < sh_router_route_count(router); i++) {
		const sh_route *route = sh_router_route_at(router, i);
		char methods[64];
		if (sh_route_anonymous_writes(methods, sizeof methods, route) == 0)
			continue;
		fprintf(stderr, "warning: app '%s': route '%s' (model %s) lets clients without an API "
			"token %s: its 'anonymous' opens them to anyone\n",
			sh_app_label(sh_route_app(route)), sh_route_path(route), sh_route_model(route),
			methods);
		warned++;
	}
	return warned;
}

/* Validates every installed app's routes (and, when the plugins are
 * loaded, finds their views), printing each problem and a warning for
 * each anonymous write route (*warnings). Returns how many problems there
 * were, or -1 when the router could not be made. */
static long sh_cli__check_routes(sh_project *project, bool loaded, size_t *routes, size_t *warnings)
{
	sh_router *router;
	if (sh_router_new(&router) < 0)
		return -1;
	for (size_t i = 0; i < sh_project_app_count(project); i++)
		sh_router_add_app(router, sh_project_app_at(project, i));
	if (loaded)
		sh_router_resolve(router);
	size_t n = sh_router_problem_count(router);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s\n", sh_router_problem(router, i)->text);
	*routes = sh_router_route_count(router);
	*warnings = n == 0 ? sh_cli__warn_anonymous_writes(router) : 0;
	sh_router_free(router);
	return (long)n;
}

int sh_cli_check(int argc, char **argv)
{
	static const struct option options[] = {
		SH_CLI_SETTINGS_OPTION,
		{ "manifests-only", 0, NULL, 'm' },
		{ NULL, 0, NULL, 0 }
	};
	const char *settings = NULL;
	bool load = true;
	for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
		if (c == 's')
			settings = optarg;
		else if (c == 'm')
			load = false;
		else
			return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "sighost check: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	sh_project *project;
	int rc = sh_cli_open_project(&project, settings, load);
	if (sh_cli_print_problems(project, "check") == 0 && rc < 0)
		fprintf(stderr, "sighost check: %s\n", sh_error_last()->message);
	size_t routes = 0, route_warnings = 0;
	if (rc == 0) {
		long route_problems = sh_cli__check_routes(project, load, &routes, &route_warnings);
		if (route_problems != 0) {
			if (route_problems > 0)
				fprintf(stderr, "sighost check: %ld problem%s found\n", route_problems,
					route_problems == 1 ? "" : "s");
			rc = SH_EMANIFEST;
		}
	}
	if (rc == 0) {
		size_t apps = sh_project_app_count(project), plugins = 0;
		for (size_t i = 0; i < apps; i++)
			plugins += sh_app_library_path(sh_project_app_at(project, i)) != NULL;
		size_t warnings = sh_project_warning_count(project) + route_warnings;
		char left_out[64] = "";
		if (warnings > 0)
			snprintf(left_out, sizeof left_out, " (%zu warning%s)", warnings,
				warnings == 1 ? "" : "s");
		printf("project '%s' (%s): %zu app%s, %zu plugin%s%s, %zu route%s; no problems found%s\n",
			sh_project_name(project), sh_project_path(project), apps, apps == 1 ? "" : "s",
			plugins, plugins == 1 ? "" : "s", load ? " loaded" : " (not loaded)",
			routes, routes == 1 ? "" : "s", left_out);
	}
	sh_project_free(project);
	return rc == 0 ? 0 : 1;
}
