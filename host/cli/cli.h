/*
 * cli.h: the commands of the sighost executable (`sighost COMMAND [options]`).
 *
 * Each command lives in its own file under host/cli/ and is listed once in
 * the table of commands.c. A command returns the process exit status.
 */
#ifndef SH_CLI_H
#define SH_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <sighost/sys/sighost.h>

#include "log.h"   /* the logger main.c sets up */

/* One option of a command, as --help, the man page and docs/cli.md show it. */
typedef struct sh_cli_option {
	const char *name;      /* "--listen" (or "-v, --verbosity") */
	const char *arg;       /* "HOST:PORT", NULL for a flag */
	const char *help;      /* one line */
} sh_cli_option;

/* The most options a command has (the table's arrays are this long). */
#define SH_CLI_OPTIONS_MAX 12

typedef struct sh_cli_command {
	const char *name;      /* as typed: "check" */
	const char *summary;   /* one line for `sighost help` */
	const char *args;      /* positional arguments: "USER", "[APP [TARGET|zero]]", or "" */
	int (*run)(int argc, char **argv);  /* argv[0] is the command name */
	const char *alias;     /* another name it answers to ("runserver"), or NULL */
	bool project;          /* takes --settings and the logging options */
	sh_cli_option options[SH_CLI_OPTIONS_MAX];   /* ended by a NULL name */
} sh_cli_command;

/* The table of commands, ended by an entry with a NULL name. */
extern const sh_cli_command sh_cli_commands[];

/* The options every project command takes (--settings, --log-level,
 * --log-format), ended by a NULL name. */
extern const sh_cli_option sh_cli_project_options[];

/* Returns the command called `name` (or aliased so), NULL when none. */
const sh_cli_command *sh_cli_find(const char *name);

/* Prints the list of commands to `out` (`sighost help`). */
void sh_cli_print_help(FILE *out);

/* Prints one command's usage and options to stdout (`sighost help CMD`,
 * `sighost CMD --help`). */
void sh_cli_print_command_help(const sh_cli_command *command);

/*
 * Checks argv (argv[0] the command name) before the command runs: --help
 * or -h prints the command's help and returns 0; an option the table does
 * not list prints "unknown option ... did you mean ...?" and returns 2;
 * returns -1 when the command should run.
 */
int sh_cli_precheck(const sh_cli_command *command, int argc, char **argv);

/* Prints the nearest command for an unknown one, and returns 2. */
int sh_cli_unknown_command(const char *name);

/* `sighost help --man`, `--markdown`, `--bash-completion`: the man page,
 * docs/cli.md and the bash completion script, from the same table. */
void sh_cli_print_man(FILE *out);
void sh_cli_print_markdown(FILE *out);
void sh_cli_print_completion(FILE *out);

/* The exit statuses, one line each, for the help pages. */
extern const char *const sh_cli_exit_codes[];

/* `sighost startapp LABEL [DIR]` (startapp.c), `sighost tokens` (tokens.c). */
int sh_cli_startapp(int argc, char **argv);
int sh_cli_tokens(int argc, char **argv);

int sh_cli_demo(int argc, char **argv);

/* The project commands (check.c, signals.c, apps.c). */
int sh_cli_check(int argc, char **argv);
int sh_cli_signals(int argc, char **argv);
int sh_cli_apps(int argc, char **argv);

/* `sighost serve` (serve.c). */
int sh_cli_serve(int argc, char **argv);

/* `sighost createtoken USER` (createtoken.c). */
int sh_cli_createtoken(int argc, char **argv);

/* Migrations (migrate.c, showmigrations.c, makemigrations.c). */
int sh_cli_migrate(int argc, char **argv);
int sh_cli_showmigrations(int argc, char **argv);
int sh_cli_makemigrations(int argc, char **argv);

/* Fixtures (dumpdata.c, loaddata.c, fixture.c). */
int sh_cli_dumpdata(int argc, char **argv);
int sh_cli_loaddata(int argc, char **argv);

/* Loads the project's migrations into *out (free it with sh_migrate_free),
 * printing every problem to stderr with a count line "sighost COMMAND: N
 * problem(s) found". Returns what sh_migrate_load() returns. */
int sh_cli_load_migrations(sh_migrate_graph **out, sh_project *project, const char *command);

#endif
