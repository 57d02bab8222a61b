/*
 * makemigrations.c: `sighost makemigrations [APP] [--check] [--dry-run]`:
 * compares the models the manifests declare with the state the migrations
 * build and writes the next migration of each app that changed, printing
 * what Django's makemigrations prints:
 *
 *     Migrations for 'alert':
 *       plugins/alert/migrations/0002_alert_priority.yaml
 *         - Add field priority to alert
 *
 * or "No changes detected". --dry-run writes nothing (with --verbosity 3
 * it prints the files); --check writes nothing and exits 1 when a
 * migration is missing, for CI. The project is read, not loaded: no
 * plugin runs and the database is not opened. Exit status: 0, 1 on a
 * problem (or changes with --check), 2 for a usage error.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "project_open.h"

/* The path relative to the working directory when it is below it. */
static const char *sh_cli__shown_path(const char *path, const char *cwd)
{
	size_t n = strlen(cwd);
	if (cwd[0] != '\0' && strncmp(path, cwd, n) == 0 && path[n] == '/')
		return path + n + 1;
	return path;
}

static void sh_cli__print(const sh_migrate_changes *changes, int verbosity, bool dry_run)
{
	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof cwd) == NULL)
		cwd[0] = '\0';
	for (size_t i = 0; i < sh_migrate_changes_count(changes); i++) {
		const sh_migrate_change *c = sh_migrate_changes_at(changes, i);
		printf("Migrations for '%s':\n  %s\n", c->app_label, sh_cli__shown_path(c->path, cwd));
		for (size_t k = 0; k < c->operation_count; k++)
			printf("    - %s\n", c->descriptions[k]);
		if (dry_run && verbosity >= 3)
			printf("Full migrations file '%s.yaml':\n%s\n", c->name, c->text);
	}
}

int sh_cli_makemigrations(int argc, char **argv)
{
	static const struct option options[] = {
		SH_CLI_SETTINGS_OPTION,
		{ "check", 0, NULL, 'c' },
		{ "dry-run", 0, NULL, 'd' },
		{ "verbosity", 1, NULL, 'v' },
		{ "noinput", 0, NULL, 'n' },
		{ "no-input", 0, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	const char *settings = NULL;
	bool check = false, dry_run = false;
	int verbosity = 1;
	for (int c; (c = getopt_long(argc, argv, "v:", options, NULL)) != -1;) {
		if (c == 's') {
			settings = optarg;
		} else if (c == 'c') {
			check = true;
		} else if (c == 'd') {
			dry_run = true;
		} else if (c == 'v') {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < 0 || v > 3) {
				fprintf(stderr, "sighost makemigrations: --verbosity takes 0, 1, 2 or 3\n");
				return 2;
			}
			verbosity = (int)v;
		} else if (c != 'n') {
			return 2;
		}
	}
	const char *app = optind < argc ? argv[optind++] : NULL;
	if (optind < argc) {
		fprintf(stderr, "sighost makemigrations: one app label at most ('%s' is one too "
			"many)\n", argv[optind]);
		return 2;
	}
	sh_project *project = sh_cli_project(settings, false, "makemigrations");
	if (project == NULL) {
		return 1;
	}
	sh_migrate_graph *g = NULL;
	sh_migrate_changes *changes = NULL;
	int status = sh_cli_load_migrations(&g, project, "makemigrations") < 0 ? 1 : 0;
	if (status == 0 && sh_migrate_detect(&changes, g, app) < 0) {
		fprintf(stderr, "sighost makemigrations: %s\n", sh_error_last()->message);
		status = 1;
	}
	size_t n = sh_migrate_changes_count(changes);
	if (status == 0 && n == 0) {
		if (verbosity >= 1)
			printf(app ? "No changes detected in app '%s'\n" : "No changes detected\n", app);
	} else if (status == 0) {
		if (verbosity >= 1)
			sh_cli__print(changes, verbosity, dry_run || check);
		if (check) {
			status = 1;
		} else if (!dry_run && sh_migrate_changes_write(changes) < 0) {
			fprintf(stderr, "sighost makemigrations: %s\n", sh_error_last()->message);
			status = 1;
		}
	}
	sh_migrate_changes_free(changes);
	sh_migrate_free(g);
	sh_project_free(project);
	return status;
}
