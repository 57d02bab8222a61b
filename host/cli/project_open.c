/*
 * project_open.c: opening a project for a command (project_open.h), and the
 * logger that turns the hub's log lines into stderr lines. Every command
 * that loads the plugins probes them first (sh_project_probe), so that a
 * plugin that crashes or hangs is named, not fatal.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "project_open.h"

int sh_cli_open_project(sh_project **out, const char *settings, bool load)
{
	*out = NULL;
	sh_project *project;
	int rc = sh_project_new(&project);
	if (rc < 0)
		return rc;
	*out = project;
	sh_hub_set_logger(sh_project_hub(project), sh_cli_logger, NULL);
	const char *path = sh_project_settings_path(settings);
	if (access(path, F_OK) != 0 && errno == ENOENT)
		fprintf(stderr, "sighost: no project manifest at %s (%s); name one with --settings FILE "
			"or the environment variable SIGHOST_SETTINGS=FILE, or run from the project's "
			"directory\n", path, settings != NULL ? "--settings"
			: getenv("SIGHOST_SETTINGS") != NULL ? "from SIGHOST_SETTINGS"
			: "the default, as neither --settings nor SIGHOST_SETTINGS is set");
	rc = sh_project_read(project, path);
	if (rc == 0 && sh_cli_log_configure(project) != 0)
		rc = sh_error_set(SH_EMANIFEST, "bad log settings in %s", sh_project_path(project));
	if (rc == 0 && load) {
		rc = sh_project_probe(project);
		sh_cli_print_warnings(project);
		/* after a crash of a required app, loading the others still lists
		 * their problems (the crashed one is skipped) */
		if (rc == 0 || rc == SH_ELOAD)
			rc = sh_project_load(project);
	}
	return rc;
}

size_t sh_cli_print_warnings(const sh_project *project)
{
	size_t n = sh_project_warning_count(project);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "warning: %s\n", sh_project_warning(project, i)->text);
	return n;
}

int sh_cli_settings_only(int argc, char **argv, const char **settings)
{
	static const struct option options[] = {
		SH_CLI_SETTINGS_OPTION,
		{ NULL, 0, NULL, 0 }
	};
	*settings = NULL;
	for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
		if (c != 's')
			return 2;
		*settings = optarg;
	}
	return 0;
}

sh_project *sh_cli_project(const char *settings, bool load, const char *command)
{
	sh_project *project;
	if (sh_cli_open_project(&project, settings, load) == 0)
		return project;
	if (sh_cli_print_problems(project, command) == 0)
		fprintf(stderr, "sighost %s: %s\n", command, sh_error_last()->message);
	sh_project_free(project);
	return NULL;
}

size_t sh_cli_print_problems(const sh_project *project, const char *command)
{
	if (project == NULL)
		return 0;
	size_t n = sh_project_problem_count(project);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s\n", sh_project_problem(project, i)->text);
	if (n > 0)
		fprintf(stderr, "sighost %s: %zu problem%s found\n", command, n, n == 1 ? "" : "s");
	return n;
}

int sh_cli_conn(sh_conn **out, sh_project *project)
{
	sh_database *database = sh_project_database(project);
	return database != NULL ? sh_database_connection(out, database)
		: sh_error_set(SH_EINVAL, "the project has no database");
}
