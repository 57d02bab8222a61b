/*
 * project_open.h: what the commands that work on a project share: the
 * --settings option, opening and loading the project with a logger that
 * prints to stderr, and printing its problems.
 */
#ifndef SH_CLI_PROJECT_OPEN_H
#define SH_CLI_PROJECT_OPEN_H

#include <stdbool.h>

#include <sighost/sys/sighost.h>

/* The long option every project command takes, for getopt_long tables. */
#define SH_CLI_SETTINGS_OPTION { "settings", 1, NULL, 's' }

/*
 * Creates a project, installs the stderr logger on its hub, reads the
 * manifest picked by sh_project_settings_path(settings) and, when `load`,
 * probes the plugins (sh_project_probe: a crash or hang is a problem, or
 * for an optional app a warning), prints the warnings to stderr
 * ("warning: ...") and loads the apps. Stores the project in *out in every
 * case but ENOMEM (the caller frees it) and returns the first failing
 * step's code, 0 when all went well.
 */
int sh_cli_open_project(sh_project **out, const char *settings, bool load);

/* Parses the options of a command whose only option is --settings: stores
 * its value (or NULL) in *settings and returns 0, or 2 (the exit status
 * for a usage error; getopt has printed why). Positional arguments are
 * left from optind on. */
int sh_cli_settings_only(int argc, char **argv, const char **settings);

/*
 * sh_cli_open_project() for the commands that cannot go on without the
 * project: on failure prints its problems (or the error) to stderr as
 * "sighost COMMAND: ...", frees it and returns NULL; else returns it (the
 * caller frees it).
 */
sh_project *sh_cli_project(const char *settings, bool load, const char *command);

/* Stores the calling thread's connection to the project's database in
 * *out (owned by the database). Returns 0, SH_EINVAL when the project has
 * no database, or sh_database_connection()'s error. */
int sh_cli_conn(sh_conn **out, sh_project *project);

/* Prints every warning of the project to stderr, "warning: TEXT" one per
 * line. Returns the count. */
size_t sh_cli_print_warnings(const sh_project *project);

/* Prints every problem of the project to stderr, one per line, then a
 * count line "sighost CMD: N problem(s) found". Returns the count. */
size_t sh_cli_print_problems(const sh_project *project, const char *command);

#endif
