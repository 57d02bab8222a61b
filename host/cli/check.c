/*
 * check.c: `sighost check`: reads the project and app manifests, probes
 * and loads every plugin (ready() included), then checks what the later
 * commands would refuse or silently ignore, and lists every problem found:
 *
 *   - the routes (and, loaded, their views);
 *   - the receivers (sh_project_check_receivers): a misspelt signal, a
 *     sender naming no installed model or app (problems, with the nearest
 *     name), a custom signal nobody declares (a warning);
 *   - the migrations (sh_migrate_load: files, dependencies, replay) and
 *     the models against them (sh_migrate_detect): model changes without
 *     a migration, or an app awaiting its first one, are warnings naming
 *     the command to run;
 *   - with --deploy, settings unsafe in production (deploy.c), warnings.
 *
 * A plugin that crashes or hangs while it loads is a problem naming it;
 * one of an optional app is a warning (the app is left out), as Django's
 * check separates errors from warnings. Exit status 0 when there is no
 * problem (warnings or not), 1 otherwise, 2 for a usage error.
 */
#include <getopt.h>
#include <stdio.h>

#include <sighost/sys/web.h>

#include "cli.h"
#include "deploy.h"
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
 * loaded, finds their views), printing each problem. Returns how many
 * problems there were, or -1 when the router could not be made. Leaves
 * the router in *out (the caller frees it). */
static long sh_cli__check_routes(sh_router **out, sh_project *project, bool loaded)
{
	*out = NULL;
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
	*out = router;
	return (long)n;
}

/* Checks the migrations and the models against them. Prints problems and
 * warnings; returns the problems' count, adds the warnings' to *warnings. */
static size_t sh_cli__check_migrations(sh_project *project, size_t *warnings)
{
	sh_migrate_graph *g = NULL;
	sh_migrate_load(&g, project);
	size_t problems = sh_migrate_problem_count(g);
	for (size_t i = 0; i < problems; i++)
		fprintf(stderr, "%s\n", sh_migrate_problem(g, i)->text);
	if (g == NULL)
		return 1;
	for (size_t i = 0; i < sh_migrate_pending_count(g); i++, (*warnings)++)
		fprintf(stderr, "warning: %s\n", sh_migrate_pending(g, i)->text);
	sh_migrate_changes *changes = NULL;
	if (problems == 0 && sh_migrate_pending_count(g) == 0) {
		if (sh_migrate_detect(&changes, g, NULL) < 0) {
			fprintf(stderr, "%s\n", sh_error_last()->message);
			problems++;
		}
		for (size_t i = 0; i < sh_migrate_changes_count(changes); i++, (*warnings)++) {
			const sh_migrate_change *c = sh_migrate_changes_at(changes, i);
			fprintf(stderr, "warning: app '%s' has model changes that are not yet in a "
				"migration (%s): run 'sighost makemigrations %s', then 'sighost migrate'\n",
				c->app_label, c->operation_count > 0 ? c->descriptions[0] : "?", c->app_label);
		}
	}
	sh_migrate_changes_free(changes);
	sh_migrate_free(g);
	return problems;
}

int sh_cli_check(int argc, char **argv)
{
	static const struct option options[] = {
		SH_CLI_SETTINGS_OPTION,
		{ "manifests-only", 0, NULL, 'm' },
		{ "deploy", 0, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	const char *settings = NULL;
	bool load = true, deploy = false;
	for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
		if (c == 's')
			settings = optarg;
		else if (c == 'm')
			load = false;
		else if (c == 'd')
			deploy = true;
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
	size_t routes = 0, problems = 0, warnings = sh_project_warning_count(project);
	sh_router *router = NULL;
	bool anonymous_ok = false;   /* the routes are valid: warn about their anonymous writes */
	if (rc == 0) {
		long route_problems = sh_cli__check_routes(&router, project, load);
		routes = router != NULL ? sh_router_route_count(router) : 0;
		problems += route_problems < 0 ? 1 : (size_t)route_problems;
		anonymous_ok = route_problems == 0;
	}
	if (rc == 0 && load) {
		size_t before = sh_project_problem_count(project);
		if (sh_project_check_receivers(project) < 0) {
			fprintf(stderr, "sighost check: %s\n", sh_error_last()->message);
			problems++;
		}
		for (size_t i = before; i < sh_project_problem_count(project); i++, problems++)
			fprintf(stderr, "%s\n", sh_project_problem(project, i)->text);
		for (size_t i = warnings; i < sh_project_warning_count(project); i++)
			fprintf(stderr, "warning: %s\n", sh_project_warning(project, i)->text);
		warnings = sh_project_warning_count(project);
		problems += sh_cli__check_migrations(project, &warnings);
	}
	if (anonymous_ok)
		warnings += sh_cli__warn_anonymous_writes(router);
	if (rc == 0 && deploy)
		warnings += sh_cli_deploy_check(project, router);
	sh_router_free(router);
	if (rc == 0 && problems > 0) {
		fprintf(stderr, "sighost check: %zu problem%s found\n", problems,
			problems == 1 ? "" : "s");
		rc = SH_EMANIFEST;
	}
	if (rc == 0) {
		size_t apps = sh_project_app_count(project), plugins = 0;
		for (size_t i = 0; i < apps; i++)
			plugins += sh_app_library_path(sh_project_app_at(project, i)) != NULL;
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
