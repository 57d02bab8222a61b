/*
 * check.c: `sighost check`: reads the project and app manifests, loads
 * every plugin (ready() included) and nothing else, and lists every
 * problem found. Exit status 0 when there is none, 1 otherwise, 2 for a
 * usage error.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "project_open.h"

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
	if (rc == 0) {
		size_t apps = sh_project_app_count(project), plugins = 0;
		for (size_t i = 0; i < apps; i++)
			plugins += sh_app_library_path(sh_project_app_at(project, i)) != NULL;
		printf("project '%s' (%s): %zu app%s, %zu plugin%s%s; no problems found\n",
			sh_project_name(project), sh_project_path(project), apps, apps == 1 ? "" : "s",
			plugins, plugins == 1 ? "" : "s", load ? " loaded" : " (not loaded)");
	}
	sh_project_free(project);
	return rc == 0 ? 0 : 1;
}
