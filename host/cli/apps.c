/*
 * apps.c: `sighost apps`: the installed apps in load order, with their
 * version, library and dependencies, after loading them.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "project_open.h"

static void sh_cli__print_app(size_t index, const sh_app *app)
{
	const char *library = sh_app_library_path(app);
	const char *version = sh_app_version(app);
	printf("%2zu. %-16s %-8s %s\n", index + 1, sh_app_label(app),
		version[0] ? version : "-", library ? library : "(no library)");
	size_t n = sh_app_depends_count(app);
	if (n == 0)
		return;
	printf("    depends on:");
	for (size_t k = 0; k < n; k++)
		printf("%s %s", k ? "," : "", sh_app_depends_at(app, k));
	printf("\n");
}

int sh_cli_apps(int argc, char **argv)
{
	const char *settings;
	if (sh_cli_settings_only(argc, argv, &settings) != 0)
		return 2;
	sh_project *project = sh_cli_project(settings, true, "apps");
	if (project == NULL) {
		return 1;
	}
	for (size_t i = 0; i < sh_project_app_count(project); i++)
		sh_cli__print_app(i, sh_project_app_at(project, i));
	sh_project_free(project);
	return 0;
}
