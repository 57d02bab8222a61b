/*
 * migrate.c: `sighost migrate [APP [TARGET]]`: reads and loads the
 * project, loads its migrations and brings the database to the target,
 * printing what Django's migrate prints:
 *
 *     Operations to perform:
 *       Synchronize unmigrated apps: audit, billing
 *       Apply all migrations: alert
 *     Synchronizing apps without migrations:
 *       Creating tables...
 *         Creating table notes_note
 *         Running deferred SQL...
 *     Running migrations:
 *       Applying alert.0001_initial... OK
 *
 * Also sh_cli_load_migrations(), shared with showmigrations and
 * makemigrations. Exit status: 0 when the database is at the target, 1 on
 * any problem (printed to stderr), 2 for a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "project_open.h"

int sh_cli_load_migrations(sh_migrate_graph **out, sh_project *project, const char *command)
{
	int rc = sh_migrate_load(out, project);
	size_t n = sh_migrate_problem_count(*out);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s\n", sh_migrate_problem(*out, i)->text);
	if (n > 0)
		fprintf(stderr, "sighost %s: %zu problem%s found\n", command, n, n == 1 ? "" : "s");
	else if (rc < 0)
		fprintf(stderr, "sighost %s: %s\n", command, sh_error_last()->message);
	return rc;
}

static int sh_cli__migrate_by_label(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Prints "  <what>: a, b" with the labels of the installed apps that
 * are (migrated) or are not (!migrated) migrated, sorted as Django does. */
static void sh_cli__print_apps(sh_project *project, const sh_migrate_graph *g, bool migrated,
	const char *what)
{
	size_t n = sh_project_app_count(project), k = 0;
	const char **labels = calloc(n + 1, sizeof *labels);
	if (labels == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *label = sh_app_label(sh_project_app_at(project, i));
		if (sh_migrate_app_migrated(g, label) == migrated)
			labels[k++] = label;
	}
	qsort(labels, k, sizeof *labels, sh_cli__migrate_by_label);
	if (k > 0 || migrated) {
		printf("  %s: ", what);
		for (size_t i = 0; i < k; i++)
			printf("%s%s", i ? ", " : "", labels[i]);
		printf("%s\n", k == 0 ? "(none)" : "");
	}
	free(labels);
}

/* The full name of the app's migration `target` names (a prefix). */
static const char *sh_cli__target_name(const sh_migrate_graph *g, const char *app, const char *target)
{
	sh_migration_info info;
	const char *found = NULL;
	for (size_t i = 0; sh_migrate_at(&info, g, app, i) == 0; i++) {
		if (strcmp(info.name, target) == 0)
			return info.name;
		if (strncmp(info.name, target, strlen(target)) == 0)
			found = info.name;
	}
	return found ? found : target;
}

typedef struct sh__progress {
	int verbosity;
} sh__progress;

static void sh_cli__on_event(const sh_migrate_event *e, void *payload)
{
	const sh__progress *p = payload;
	switch (e->kind) {
	case SH_MIGRATE_SYNC_START:
		printf("Synchronizing apps without migrations:\n  Creating tables...\n");
		break;
	case SH_MIGRATE_SYNC_TABLE:
		printf("    Creating table %s\n", e->table);
		break;
	case SH_MIGRATE_SYNC_END:
		printf("    Running deferred SQL...\n");
		break;
	case SH_MIGRATE_RUN_START:
		printf("Running migrations:\n");
		if (e->plan_count == 0)
			printf("  No migrations to apply.\n");
		break;
	case SH_MIGRATE_STEP_START:
		printf("  %s %s.%s...", e->step->backwards ? "Unapplying" : "Applying",
			e->step->app_label, e->step->name);
		break;
	case SH_MIGRATE_STEP_DONE:
		if (p->verbosity >= 2)
			printf(" OK (%.3fs)\n", e->seconds);
		else
			printf(" OK\n");
		break;
	case SH_MIGRATE_STEP_FAILED:
		printf(" FAILED\n");
		break;
	}
	fflush(stdout);
}

/* Django's hint when the models changed but no migration says so. */
static void sh_cli__hint_changes(const sh_migrate_graph *g, const char *app)
{
	sh_migrate_changes *changes = NULL;
	if (sh_migrate_detect(&changes, g, app) < 0 || sh_migrate_changes_count(changes) == 0) {
		sh_migrate_changes_free(changes);
		return;
	}
	printf("  Your models in app(s): ");
	for (size_t i = 0; i < sh_migrate_changes_count(changes); i++)
		printf("%s'%s'", i ? ", " : "", sh_migrate_changes_at(changes, i)->app_label);
	printf(" have changes that are not yet reflected in a migration, and so won't be "
		"applied.\n  Run 'sighost makemigrations' to make new migrations, and then re-run "
		"'sighost migrate' to apply them.\n");
	sh_migrate_changes_free(changes);
}

/* --plan: the operations of each step, as Django's migrate --plan. */
static void sh_cli__print_plan(const sh_migrate_graph *g, const sh_plan_step *plan, size_t n)
{
	printf("Planned operations:\n");
	if (n == 0)
		printf("  No planned migration operations.\n");
	for (size_t i = 0; i < n; i++) {
		printf("%s.%s\n", plan[i].app_label, plan[i].name);
		sh_migration_info info;
		size_t ops = 0;
		for (size_t k = 0; sh_migrate_at(&info, g, plan[i].app_label, k) == 0; k++)
			if (strcmp(info.name, plan[i].name) == 0)
				ops = info.operation_count;
		for (size_t k = 0; k < ops; k++) {
			size_t j = plan[i].backwards ? ops - 1 - k : k;
			char text[512];
			sh_migrate_describe(text, sizeof text, g, plan[i].app_label, plan[i].name, j);
			printf("    %s%s\n", plan[i].backwards ? "Undo " : "", text);
		}
	}
}

typedef struct sh__args {
	const char *settings;
	const char *app;
	const char *target;
	int verbosity;
	bool interactive;
	bool plan;
} sh__args;

static int sh_cli__migrate_parse(int argc, char **argv, sh__args *a)
{
	static const struct option options[] = {
		SH_CLI_SETTINGS_OPTION,
		{ "verbosity", 1, NULL, 'v' },
		{ "noinput", 0, NULL, 'n' },
		{ "no-input", 0, NULL, 'n' },
		{ "plan", 0, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	for (int c; (c = getopt_long(argc, argv, "v:", options, NULL)) != -1;) {
		if (c == 's') {
			a->settings = optarg;
		} else if (c == 'v') {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < 0 || v > 3) {
				fprintf(stderr, "sighost %s: --verbosity takes 0, 1, 2 or 3\n", argv[0]);
				return 2;
			}
			a->verbosity = (int)v;
		} else if (c == 'n') {
			a->interactive = false;
		} else if (c == 'p') {
			a->plan = true;
		} else {
			return 2;
		}
	}
	if (optind < argc)
		a->app = argv[optind++];
	if (optind < argc)
		a->target = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "sighost migrate: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

static void sh_cli__print_header(sh_project *project, const sh_migrate_graph *g, const sh__args *a)
{
	printf("Operations to perform:\n");
	if (a->app != NULL && !sh_migrate_app_migrated(g, a->app))
		printf("  Synchronize unmigrated app: %s\n", a->app);
	else if (a->app != NULL && a->target != NULL && strcmp(a->target, "zero") == 0)
		printf("  Unapply all migrations: %s\n", a->app);
	else if (a->app != NULL && a->target != NULL)
		printf("  Target specific migration: %s, from %s\n",
			sh_cli__target_name(g, a->app, a->target), a->app);
	else if (a->app != NULL)
		printf("  Apply all migrations: %s\n", a->app);
	else {
		sh_cli__print_apps(project, g, false, "Synchronize unmigrated apps");
		sh_cli__print_apps(project, g, true, "Apply all migrations");
	}
}

/* Checks the arguments against the graph and computes the plan. */
static int sh_cli__plan(sh_plan_step **plan, size_t *n, sh_project *project, sh_migrate_graph *g,
	const sh__args *a)
{
	*plan = NULL;
	*n = 0;
	if (a->app != NULL && sh_project_app(project, a->app) == NULL) {
		fprintf(stderr, "sighost migrate: no installed app with label '%s'\n", a->app);
		return 1;
	}
	int rc = sh_migrate_read_applied(g);
	if (rc == 0 && a->app != NULL && !sh_migrate_app_migrated(g, a->app)) {
		if (a->target == NULL)
			return 0;
		fprintf(stderr, "sighost migrate: app '%s' does not have migrations\n", a->app);
		return 1;
	}
	if (rc == 0)
		rc = sh_migrate_plan(plan, n, g, a->app, a->target);
	if (rc < 0) {
		fprintf(stderr, "sighost migrate: %s\n", sh_error_last()->message);
		return 1;
	}
	return 0;
}

int sh_cli_migrate(int argc, char **argv)
{
	sh__args a = { NULL, NULL, NULL, 1, true, false };
	int rc = sh_cli__migrate_parse(argc, argv, &a);
	if (rc != 0)
		return rc;
	sh_project *project;
	project = sh_cli_project(a.settings, true, "migrate");
	if (project == NULL) {
		return 1;
	}
	sh_migrate_graph *g = NULL;
	sh_plan_step *plan = NULL;
	size_t n = 0;
	int status = sh_cli_load_migrations(&g, project, "migrate") < 0 ? 1 : 0;
	if (status == 0)
		status = sh_cli__plan(&plan, &n, project, g, &a);
	if (status == 0 && a.plan) {
		sh_cli__print_plan(g, plan, n);
	} else if (status == 0) {
		if (a.verbosity >= 1)
			sh_cli__print_header(project, g, &a);
		sh__progress progress = { a.verbosity };
		sh_migrate_opts opts = SH_MIGRATE_OPTS_INIT;
		opts.app_label = a.app;
		opts.target = a.target;
		opts.verbosity = a.verbosity;
		opts.interactive = a.interactive;
		opts.progress = a.verbosity >= 1 ? sh_cli__on_event : NULL;
		opts.payload = &progress;
		if (sh_migrate_run(g, &opts) < 0) {
			fprintf(stderr, "sighost migrate: %s\n", sh_error_last()->message);
			status = 1;
		} else if (n == 0 && a.verbosity >= 1) {
			sh_cli__hint_changes(g, NULL);
		}
	}
	sh_migrate_plan_free(plan);
	sh_migrate_free(g);
	sh_project_free(project);
	return status;
}
