/*
 * main.c: the sighost executable. Thin: it finds the command named on the
 * command line (suggesting the nearest for an unknown one), answers
 * --help/-h and rejects unknown options from the table of commands.c,
 * takes the logging options, and runs the command; everything else lives
 * in libsighost and in host/cli/. Exit status: 0 ok, 1 failure, 2 usage.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sighost/sys/sighost.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		sh_cli_print_help(stderr);
		return 2;
	}
	/* A write past a file size limit (ulimit -f) then fails with EFBIG and
	 * is reported like a full disk, instead of SIGXFSZ ending the process. */
	signal(SIGXFSZ, SIG_IGN);
	const char *name = argv[1];
	if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
		printf("sighost %s (ABI %d)\n", sh_version(), sh_abi_version());
		return 0;
	}
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
		sh_cli_print_help(stdout);
		return 0;
	}
	const sh_cli_command *cmd = sh_cli_find(name);
	if (cmd == NULL)
		return sh_cli_unknown_command(name);
	int rc = sh_cli_precheck(cmd, argc - 1, argv + 1);
	if (rc >= 0)
		return rc;
	int cargc = argc - 1;
	if (cmd->project && sh_cli_log_strip(&cargc, argv + 1) != 0)
		return 2;
	return cmd->run(cargc, argv + 1);
}
