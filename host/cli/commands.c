/*
 * commands.c: the table of sighost's commands and `sighost help`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int run_help(int argc, char **argv);

const sh_cli_command sh_cli_commands[] = {
	{ "help", "show the commands, or one command's options", "help [COMMAND]", run_help },
	{ "demo", "send a few signals through a hub with receivers, no plugins", "demo", sh_cli_demo },
	{ "check", "validate the manifests and load every plugin; list all problems",
		"check [--settings FILE] [--manifests-only]", sh_cli_check },
	{ "signals", "every signal with its receivers in call order",
		"signals [--settings FILE] [--signal NAME] [--app LABEL] [--connected]", sh_cli_signals },
	{ "apps", "the installed apps in load order", "apps [--settings FILE]", sh_cli_apps },
	{ "serve", "serve the project's routes over HTTP (Ctrl-C stops gracefully)",
		"serve [--settings FILE] [--listen HOST:PORT] [--threads N] [--no-watch] [--migrate]",
		sh_cli_serve },
	{ "createtoken", "create an API token for USER and print its key (shown once)",
		"createtoken USER [--settings FILE]", sh_cli_createtoken },
	{ "migrate", "bring the database to the migrations (or back to a target)",
		"migrate [APP [TARGET|zero]] [--settings FILE] [--verbosity N] [--noinput] [--plan]",
		sh_cli_migrate },
	{ "showmigrations", "every app's migrations, [X] for applied",
		"showmigrations [APP...] [--settings FILE]", sh_cli_showmigrations },
	{ "makemigrations", "write the migrations the manifests' models need",
		"makemigrations [APP] [--check] [--dry-run] [--verbosity N] [--settings FILE]",
		sh_cli_makemigrations },
	{ "dumpdata", "write the rows of the installed apps' models as a JSON fixture",
		"dumpdata [APP[.Model]...] [--indent N] [-o|--output FILE] [--settings FILE]",
		sh_cli_dumpdata },
	{ "loaddata", "load JSON fixtures in one transaction (saves with raw=true)",
		"loaddata FILE... [--settings FILE]", sh_cli_loaddata },
	{ NULL, NULL, NULL, NULL }
};

const sh_cli_command *sh_cli_find(const char *name)
{
	for (const sh_cli_command *c = sh_cli_commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

void sh_cli_print_help(void)
{
	printf("usage: sighost COMMAND [options]\n\ncommands:\n");
	for (const sh_cli_command *c = sh_cli_commands; c->name != NULL; c++)
		printf("  %-16s %s\n", c->name, c->summary);
	printf("\n  sighost --version    print the version\n");
}

static int run_help(int argc, char **argv)
{
	if (argc < 2) {
		sh_cli_print_help();
		return 0;
	}
	const sh_cli_command *c = sh_cli_find(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "sighost help: unknown command '%s'\n", argv[1]);
		return 2;
	}
	printf("usage: sighost %s\n\n%s\n", c->usage, c->summary);
	return 0;
}
