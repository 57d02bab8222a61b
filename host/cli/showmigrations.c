/*
 * showmigrations.c: `sighost showmigrations [APP...]`: every installed
 * app (or those named), by label, with its migrations in the order they
 * apply, [X] for applied and [ ] for not, as Django's showmigrations:
 *
 *     alert
 *      [X] 0001_initial
 *      [ ] 0002_alert_priority
 *     audit
 *      (no migrations)
 *
 * Exit status: 0, 1 on a problem, 2 for a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "project_open.h"

static int sh_cli__showmigrations_by_label(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void sh_cli__show_app(const sh_migrate_graph *g, const char *label)
{
	printf("%s\n", label);
	sh_migration_info info;
	size_t i = 0;
	for (; sh_migrate_at(&info, g, label, i) == 0; i++)
		printf(" [%c] %s\n", info.applied ? 'X' : ' ', info.name);
	if (i == 0)
		printf(" (no migrations)\n");
}

int sh_cli_showmigrations(int argc, char **argv)
{
	const char *settings;
	if (sh_cli_settings_only(argc, argv, &settings) != 0)
		return 2;
	sh_project *project = sh_cli_project(settings, true, "showmigrations");
	if (project == NULL) {
		return 1;
	}
	for (int i = optind; i < argc; i++)
		if (sh_project_app(project, argv[i]) == NULL) {
			fprintf(stderr, "sighost showmigrations: no installed app with label '%s'\n",
				argv[i]);
			sh_project_free(project);
			return 1;
		}
	sh_migrate_graph *g = NULL;
	int status = sh_cli_load_migrations(&g, project, "showmigrations") < 0 ? 1 : 0;
	if (status == 0 && sh_migrate_read_applied(g) < 0) {
		fprintf(stderr, "sighost showmigrations: %s\n", sh_error_last()->message);
		status = 1;
	}
	size_t n = optind < argc ? (size_t)(argc - optind) : sh_project_app_count(project);
	const char **labels = status == 0 ? calloc(n + 1, sizeof *labels) : NULL;
	if (status == 0 && labels == NULL)
		status = 1;
	for (size_t i = 0; labels != NULL && i < n; i++)
		labels[i] = optind < argc ? argv[optind + (int)i]
			: sh_app_label(sh_project_app_at(project, i));
	if (labels != NULL && optind >= argc)
		qsort(labels, n, sizeof *labels, sh_cli__showmigrations_by_label);
	for (size_t i = 0; labels != NULL && i < n; i++)
		sh_cli__show_app(g, labels[i]);
	free(labels);
	sh_migrate_free(g);
	sh_project_free(project);
	return status;
}
