/*
 * cli.h: the commands of the sighost executable (`sighost COMMAND [options]`).
 *
 * Each command lives in its own file under host/cli/ and is listed once in
 * the table of commands.c. A command returns the process exit status.
 */
#ifndef SH_CLI_H
#define SH_CLI_H

#include <sighost/sys/sighost.h>

typedef struct sh_cli_command {
	const char *name;      /* as typed: "check" */
	const char *summary;   /* one line for `sighost help` */
	const char *usage;     /* options, for `sighost help COMMAND` */
	int (*run)(int argc, char **argv);  /* argv[0] is the command name */
} sh_cli_command;

/* The table of commands, ended by an entry with a NULL name. */
extern const sh_cli_command sh_cli_commands[];

/* Returns the command called `name`, NULL when there is none. */
const sh_cli_command *sh_cli_find(const char *name);

/* Prints the list of commands to stdout (`sighost help`). */
void sh_cli_print_help(void);

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
