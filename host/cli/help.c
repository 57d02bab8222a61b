/*
 * help.c: everything printed from the table of commands.c: `sighost help`,
 * one command's help (`sighost help CMD`, `sighost CMD --help`), the check
 * of a command line's options with the nearest one suggested, and the three
 * generated files: the man page sighost(1), docs/cli.md and the bash
 * completion script (meson builds the first and the last with the built
 * binary; a test compares the second with docs/cli.md).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include <sighost/sys/suggest.h>

void sh_cli_print_help(FILE *out)
{
	fprintf(out, "usage: sighost COMMAND [options]\n\ncommands:\n");
	for (const sh_cli_command *c = sh_cli_commands; c->name != NULL; c++)
		fprintf(out, "  %-16s %s\n", c->name, c->summary);
	fprintf(out, "\n  sighost --version    print the version\n"
		"  sighost help COMMAND, sighost COMMAND --help: a command's options\n");
}

/* "--listen HOST:PORT" into buf. */
static void sh_cli__option_text(char *buf, size_t size, const sh_cli_option *o)
{
	snprintf(buf, size, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

static void sh_cli__print_options(const sh_cli_option *options)
{
	for (const sh_cli_option *o = options; o->name != NULL; o++) {
		char text[64];
		sh_cli__option_text(text, sizeof text, o);
		printf("  %-22s %s\n", text, o->help);
	}
}

void sh_cli_print_command_help(const sh_cli_command *c)
{
	printf("usage: sighost %s%s%s [options]\n\n%s\n", c->name, c->args[0] ? " " : "", c->args,
		c->summary);
	if (c->alias != NULL)
		printf("(also: sighost %s)\n", c->alias);
	printf("\noptions:\n");
	sh_cli__print_options(c->options);
	if (c->project)
		sh_cli__print_options(sh_cli_project_options);
	printf("  %-22s %s\n", "-h, --help", "show this help");
	printf("\nexit status:\n");
	for (size_t i = 0; sh_cli_exit_codes[i] != NULL; i++)
		printf("  %s\n", sh_cli_exit_codes[i]);
}

/* Copies the long names of the options ("--listen") into names[]. */
static size_t sh_cli__long_names(const sh_cli_option *options, const char **names, size_t n, size_t max)
{
	for (const sh_cli_option *o = options; o->name != NULL && n < max; o++) {
		const char *dash = strstr(o->name, "--");
		names[n++] = dash ? dash : o->name;
	}
	return n;
}

/* True when `arg` is one of the options (a long name, "--name=value", or a
 * short one such as "-v" or "-v2"). */
static bool sh_cli__known(const char *arg, const char *const *names, size_t n,
	const sh_cli_command *c)
{
	size_t len = strcspn(arg, "=");
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == len && strncmp(names[i], arg, len) == 0)
			return true;
	if (arg[1] != '-')
		for (const sh_cli_option *o = c->options; o->name != NULL; o++)
			if (o->name[0] == '-' && o->name[1] == arg[1] && o->name[2] == ',')
				return true;
	return false;
}

int sh_cli_precheck(const sh_cli_command *c, int argc, char **argv)
{
	const char *names[2 * SH_CLI_OPTIONS_MAX + 4];
	size_t n = sh_cli__long_names(c->options, names, 0, SH_CLI_OPTIONS_MAX);
	if (c->project)
		n = sh_cli__long_names(sh_cli_project_options, names, n, sizeof names / sizeof *names);
	bool takes_value = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (takes_value) {
			takes_value = false;
			continue;
		}
		if (strcmp(a, "--") == 0)
			break;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			sh_cli_print_command_help(c);
			return 0;
		}
		if (a[0] != '-' || a[1] == '\0')
			continue;
		if (!sh_cli__known(a, names, n, c)) {
			char word[128];
			snprintf(word, sizeof word, "%.*s", (int)strcspn(a, "="), a);
			const char *near = sh_suggest(word, names, n);
			fprintf(stderr, "sighost %s: unknown option '%s'", c->name, word);
			if (near != NULL)
				fprintf(stderr, ": did you mean '%s'?", near);
			fprintf(stderr, "\nRun 'sighost %s --help' for its options.\n", c->name);
			return 2;
		}
		/* an option that takes a value as the next word */
		for (const sh_cli_option *o = c->options; o->name != NULL; o++)
			if (o->arg != NULL && strchr(a, '=') == NULL && strstr(o->name, a) != NULL
					&& strlen(a) > 2)
				takes_value = true;
		for (const sh_cli_option *o = sh_cli_project_options; c->project && o->name; o++)
			if (strchr(a, '=') == NULL && strcmp(o->name, a) == 0)
				takes_value = true;
	}
	return -1;
}

int sh_cli_unknown_command(const char *name)
{
	const char *names[64];
	size_t n = 0;
	for (const sh_cli_command *c = sh_cli_commands; c->name != NULL && n < 62; c++) {
		names[n++] = c->name;
		if (c->alias != NULL)
			names[n++] = c->alias;
	}
	const char *near = sh_suggest(name, names, n);
	fprintf(stderr, "sighost: unknown command '%s'", name);
	if (near != NULL)
		fprintf(stderr, ": did you mean '%s'?", near);
	fprintf(stderr, "\nRun 'sighost help' for the list.\n");
	return 2;
}

/* ---- the man page ---- */

/* Prints text with roff's special characters escaped. */
static void sh_cli__roff(FILE *out, const char *text)
{
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\e", out);
		else if (*p == '-')
			fputs("\\-", out);
		else if ((*p == '.' || *p == '\'') && (p == text || p[-1] == '\n'))
			fprintf(out, "\\&%c", *p);
		else
			fputc(*p, out);
	}
}

static void sh_cli__man_options(FILE *out, const sh_cli_option *options)
{
	for (const sh_cli_option *o = options; o->name != NULL; o++) {
		fputs(".TP\n.B ", out);
		sh_cli__roff(out, o->name);
		if (o->arg != NULL) {
			fputs(" \" \"\n.I ", out);
			sh_cli__roff(out, o->arg);
		}
		fputc('\n', out);
		sh_cli__roff(out, o->help);
		fputc('\n', out);
	}
}

void sh_cli_print_man(FILE *out)
{
	fprintf(out, ".TH SIGHOST 1 \"\" \"sighost %s\" \"User Commands\"\n", sh_version());
	fputs(".SH NAME\nsighost \\- a plugin host that brings Django's signals to native code\n"
		".SH SYNOPSIS\n.B sighost\n.I COMMAND\n[\\fIoptions\\fR]\n.SH DESCRIPTION\n"
		"sighost reads YAML manifests, opens a SQLite database, loads receiver plugins "
		"(shared objects) and sends Django's signals from its models, migrations and HTTP "
		"requests.\n.SH COMMANDS\n", out);
	for (const sh_cli_command *c = sh_cli_commands; c->name != NULL; c++) {
		fprintf(out, ".SS \"%s", c->name);
		if (c->args[0] != '\0') {
			fputc(' ', out);
			sh_cli__roff(out, c->args);
		}
		fputs("\"\n", out);
		sh_cli__roff(out, c->summary);
		fputs(".\n", out);
		if (c->alias != NULL)
			fprintf(out, "Also called \\fB%s\\fR.\n", c->alias);
		sh_cli__man_options(out, c->options);
	}
	fputs(".SH \"OPTIONS OF THE PROJECT COMMANDS\"\n", out);
	sh_cli__man_options(out, sh_cli_project_options);
	fputs(".TP\n.B \\-h, \\-\\-help\nshow the command's options\n", out);
	fputs(".SH \"EXIT STATUS\"\n", out);
	for (size_t i = 0; sh_cli_exit_codes[i] != NULL; i++) {
		fputs(".TP\n", out);
		fprintf(out, ".B %c\n", sh_cli_exit_codes[i][0]);
		sh_cli__roff(out, sh_cli_exit_codes[i] + 3);
		fputc('\n', out);
	}
	fputs(".SH ENVIRONMENT\n.TP\n.B SIGHOST_SETTINGS\nthe project manifest when "
		"\\-\\-settings is not given\n.TP\n.B NOTIFY_SOCKET\nset by systemd: serve reports "
		"readiness, reloads and stopping there\n.SH \"SEE ALSO\"\n"
		"docs/tutorial.md and docs/cli.md in the sighost sources\n", out);
}

/* ---- docs/cli.md ---- */

static void sh_cli__md_options(FILE *out, const sh_cli_option *options)
{
	for (const sh_cli_option *o = options; o->name != NULL; o++) {
		char text[64];
		sh_cli__option_text(text, sizeof text, o);
		fprintf(out, "| `%s` | %s |\n", text, o->help);
	}
}

void sh_cli_print_markdown(FILE *out)
{
	fputs("# The command line\n\n"
		"<!-- Generated by `sighost help --markdown` from the table in host/cli/commands.c,\n"
		"     the same source as `--help` and the man page; tests/cli checks it is current. -->\n\n"
		"`sighost COMMAND [options]`. Every command takes `-h`/`--help`; `sighost help COMMAND`\n"
		"prints the same. An unknown command or option is a usage error that names the nearest\n"
		"one (\"did you mean 'serve'?\").\n\n| command | what |\n|---|---|\n", out);
	for (const sh_cli_command *c = sh_cli_commands; c->name != NULL; c++)
		fprintf(out, "| [`%s`](#%s) | %s |\n", c->name, c->name, c->summary);
	fputs("\n## Options of the project commands\n\nEvery command that reads a project "
		"(marked *project command* below) also takes:\n\n| option | what |\n|---|---|\n", out);
	sh_cli__md_options(out, sh_cli_project_options);
	fputs("\nThe project manifest is `--settings FILE`, else `$SIGHOST_SETTINGS`, else\n"
		"`manifests/project.yaml` in the working directory.\n\n## Exit status\n\n", out);
	for (size_t i = 0; sh_cli_exit_codes[i] != NULL; i++)
		fprintf(out, "- `%c`: %s\n", sh_cli_exit_codes[i][0], sh_cli_exit_codes[i] + 3);
	for (const sh_cli_command *c = sh_cli_commands; c->name != NULL; c++) {
		fprintf(out, "\n## %s\n\n`sighost %s%s%s`%s\n\n%s.\n", c->name, c->name,
			c->args[0] ? " " : "", c->args, c->project ? " (project command)" : "", c->summary);
		if (c->alias != NULL)
			fprintf(out, "Also called `%s`.\n", c->alias);
		if (c->options[0].name != NULL) {
			fputs("\n| option | what |\n|---|---|\n", out);
			sh_cli__md_options(out, c->options);
		}
	}
}

/* ---- bash completion ---- */

static void sh_cli__words(FILE *out, const sh_cli_option *options)
{
	for (const sh_cli_option *o = options; o->name != NULL; o++) {
		const char *dash = strstr(o->name, "--");
		fprintf(out, " %s", dash ? dash : o->name);
	}
}

void sh_cli_print_completion(FILE *out)
{
	fputs("# bash completion for sighost, generated by `sighost help --bash-completion`\n"
		"_sighost()\n{\n\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
		"\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n\t\tCOMPREPLY=($(compgen -W \"", out);
	for (const sh_cli_command *c = sh_cli_commands; c->name != NULL; c++)
		fprintf(out, "%s%s%s%s", c == sh_cli_commands ? "" : " ", c->name,
			c->alias ? " " : "", c->alias ? c->alias : "");
	fputs(" --version --help\" -- \"$cur\"))\n\t\treturn\n\tfi\n"
		"\tcase $prev in\n\t--settings) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
		"\t--log-level) COMPREPLY=($(compgen -W \"debug info warning error\" -- \"$cur\")); return ;;\n"
		"\t--log-format) COMPREPLY=($(compgen -W \"text json\" -- \"$cur\")); return ;;\n"
		"\tesac\n\tlocal opts\n\tcase ${COMP_WORDS[1]} in\n", out);
	for (const sh_cli_command *c = sh_cli_commands; c->name != NULL; c++) {
		fprintf(out, "\t%s%s%s) opts=\"--help", c->name, c->alias ? "|" : "",
			c->alias ? c->alias : "");
		sh_cli__words(out, c->options);
		if (c->project)
			sh_cli__words(out, sh_cli_project_options);
		fputs("\" ;;\n", out);
	}
	fputs("\t*) opts=\"--help\" ;;\n\tesac\n"
		"\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n}\ncomplete -F _sighost sighost\n", out);
}
