/*
 * commands.c: the table of sighost's commands, their arguments and
 * options: the one source that `sighost help`, `sighost CMD --help`, the
 * man page sighost(1), docs/cli.md and the bash completion are made from
 * (help.c prints them), and that sh_cli_precheck() checks options against
 * before a command runs.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int run_help(int argc, char **argv);

#define SETTINGS_OPT { "--settings", "FILE", "the project manifest (else $SIGHOST_SETTINGS, else manifests/project.yaml)" }

const sh_cli_option sh_cli_project_options[] = {
	SETTINGS_OPT,
	{ "--log-level", "LEVEL", "debug, info, warning or error: the least that is logged (manifest `log_level`, default info)" },
	{ "--log-format", "FORMAT", "text or json (one JSON object a line) (manifest `log_format`, default text)" },
	{ NULL, NULL, NULL }
};

const char *const sh_cli_exit_codes[] = {
	"0  success (check: no problems; warnings do not count)",
	"1  failure: a problem was found or the command could not do its work (the reason is on stderr)",
	"2  usage error: unknown command or option, missing or extra argument",
	NULL
};

const sh_cli_command sh_cli_commands[] = {
	{ "help", "show the commands, or one command's options", "[COMMAND]", run_help, NULL, false, {
		{ "--man", NULL, "print the man page sighost(1) (roff)" },
		{ "--markdown", NULL, "print docs/cli.md" },
		{ "--bash-completion", NULL, "print the bash completion script" },
		{ NULL, NULL, NULL } } },
	{ "startapp", "write a new app: a compiling plugin, its manifest, a migrations folder, a Makefile",
		"LABEL [DIR]", sh_cli_startapp, NULL, false, { { NULL, NULL, NULL } } },
	{ "check", "validate the manifests, load every plugin, check receivers and migrations; list all problems",
		"", sh_cli_check, NULL, true, {
		{ "--manifests-only", NULL, "read the manifests only: load no plugin, check no migration" },
		{ "--deploy", NULL, "also warn about settings unsafe in production (Django's check --deploy)" },
		{ NULL, NULL, NULL } } },
	{ "makemigrations", "write the migrations the manifests' models need", "[APP]",
		sh_cli_makemigrations, NULL, true, {
		{ "--check", NULL, "write nothing; exit 1 when a migration is missing (for CI)" },
		{ "--dry-run", NULL, "write nothing; show what would be written" },
		{ "-v, --verbosity", "N", "0 to 3 (3 with --dry-run prints the files)" },
		{ "--noinput", NULL, "accepted for Django's sake: nothing is ever asked" },
		{ "--no-input", NULL, "the same as --noinput" },
		{ NULL, NULL, NULL } } },
	{ "migrate", "bring the database to the migrations (or back to a target)",
		"[APP [TARGET|zero]]", sh_cli_migrate, NULL, true, {
		{ "-v, --verbosity", "N", "0 to 3" },
		{ "--noinput", NULL, "accepted for Django's sake: nothing is ever asked" },
		{ "--no-input", NULL, "the same as --noinput" },
		{ "--plan", NULL, "show the operations that would run, run none" },
		{ NULL, NULL, NULL } } },
	{ "showmigrations", "every app's migrations, [X] for applied", "[APP...]",
		sh_cli_showmigrations, NULL, true, { { NULL, NULL, NULL } } },
	{ "serve", "serve the project's routes over HTTP (Ctrl-C stops gracefully)", "",
		sh_cli_serve, "runserver", true, {
		{ "--listen", "HOST:PORT", "where to listen (manifest `listen`, default 127.0.0.1:8000)" },
		{ "--threads", "N", "worker threads, 1 to 256 (manifest `threads`)" },
		{ "--no-watch", NULL, "do not reload the settings when the manifest changes (SIGHUP still does)" },
		{ "--migrate", NULL, "apply unapplied migrations before serving" },
		{ NULL, NULL, NULL } } },
	{ "createtoken", "create an API token for USER and print its key (shown once)", "USER",
		sh_cli_createtoken, NULL, true, { { NULL, NULL, NULL } } },
	{ "dumpdata", "write the rows of the installed apps' models as a JSON fixture (Django's format)",
		"[APP[.Model]...]", sh_cli_dumpdata, NULL, true, {
		{ "--indent", "N", "indent the JSON by N spaces (default: one object a line)" },
		{ "-o, --output", "FILE", "write to FILE instead of stdout" },
		{ NULL, NULL, NULL } } },
	{ "loaddata", "load JSON fixtures in one transaction (saves with raw=true; a bad fixture changes nothing)",
		"FILE...", sh_cli_loaddata, NULL, true, { { NULL, NULL, NULL } } },
	{ "tokens", "list the API tokens (id, user, created, last used; never a key), or revoke some",
		"[revoke ID|USER...]", sh_cli_tokens, NULL, true, { { NULL, NULL, NULL } } },
	{ "signals", "every signal with its receivers in call order", "", sh_cli_signals, NULL, true, {
		{ "--signal", "NAME", "only this signal" },
		{ "--app", "LABEL", "only the receivers this app connected" },
		{ "--connected", NULL, "hide signals without receivers" },
		{ "--json", NULL, "print the dashboard's JSON document (apps, signals, receivers, models, migrations, settings) instead" },
		{ NULL, NULL, NULL } } },
	{ "apps", "the installed apps in load order", "", sh_cli_apps, NULL, true,
		{ { NULL, NULL, NULL } } },
	{ "demo", "send a few signals through a hub with receivers, no plugins", "", sh_cli_demo,
		NULL, false, { { NULL, NULL, NULL } } },
	{ NULL, NULL, NULL, NULL, NULL, false, { { NULL, NULL, NULL } } }
};

const sh_cli_command *sh_cli_find(const char *name)
{
	for (const sh_cli_command *c = sh_cli_commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0 || (c->alias != NULL && strcmp(c->alias, name) == 0))
			return c;
	return NULL;
}

static int run_help(int argc, char **argv)
{
	if (argc < 2) {
		sh_cli_print_help(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--man") == 0)
		sh_cli_print_man(stdout);
	else if (strcmp(argv[1], "--markdown") == 0)
		sh_cli_print_markdown(stdout);
	else if (strcmp(argv[1], "--bash-completion") == 0)
		sh_cli_print_completion(stdout);
	else if (sh_cli_find(argv[1]) != NULL)
		sh_cli_print_command_help(sh_cli_find(argv[1]));
	else
		return sh_cli_unknown_command(argv[1]);
	return 0;
}
