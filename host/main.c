/*
 * main.c: the sighost executable. Thin: it finds the command named on the
 * command line and runs it; everything else lives in libsighost and in
 * host/cli/.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sighost/sys/sighost.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		sh_cli_print_help();
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
		sh_cli_print_help();
		return 0;
	}
	const sh_cli_command *cmd = sh_cli_find(name);
	if (cmd == NULL) {
		fprintf(stderr, "sighost: unknown command '%s'. Run 'sighost help' for the list.\n", name);
		return 2;
	}
	return cmd->run(argc - 1, argv + 1);
}
