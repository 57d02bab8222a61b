/*
 * tokens.c: `sighost tokens` lists the API tokens, one a line (id, user,
 * created, last used), never a key: the database keeps only their
 * SHA-256. `sighost tokens revoke ID|USER...` deletes the token with that
 * id, or every token of that user (DRF has no such command; Django admin's
 * token list is the model). Exit status: 0, 1 when nothing matched one of
 * the names or the database failed, 2 for a usage error.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sighost/sys/web.h>

#include "cli.h"
#include "project_open.h"

static int sh_cli__tokens_print(const sh_token_info *t, void *payload)
{
	size_t *n = payload;
	if ((*n)++ == 0)
		printf("%-6s %-24s %-21s %s\n", "ID", "USER", "CREATED", "LAST USED");
	printf("%-6" PRId64 " %-24s %-21s %s\n", t->id, t->user, t->created,
		t->last_used ? t->last_used : "never");
	return 0;
}

int sh_cli_tokens(int argc, char **argv)
{
	const char *settings;
	if (sh_cli_settings_only(argc, argv, &settings) != 0)
		return 2;
	bool revoke = optind < argc && strcmp(argv[optind], "revoke") == 0;
	if ((optind < argc && !revoke) || (revoke && optind + 1 == argc)) {
		fprintf(stderr, "usage: sighost tokens [revoke ID|USER...] [--settings FILE]\n");
		return 2;
	}
	sh_project *project = sh_cli_project(settings, true, "tokens");
	if (project == NULL)
		return 1;
	sh_conn *db = NULL;
	int rc = sh_cli_conn(&db, project);
	int status = rc < 0 ? 1 : 0;
	if (rc < 0) {
		fprintf(stderr, "sighost tokens: %s\n", sh_error_last()->message);
	} else if (!revoke) {
		size_t n = 0;
		if (sh_token_list(sh_cli__tokens_print, &n, db) < 0) {
			fprintf(stderr, "sighost tokens: %s\n", sh_error_last()->message);
			status = 1;
		} else if (n == 0) {
			printf("No tokens. Create one with 'sighost createtoken USER'.\n");
		}
	} else {
		for (int i = optind + 1; i < argc; i++) {
			int n = sh_token_revoke(db, argv[i]);
			if (n < 0) {
				fprintf(stderr, "sighost tokens: %s\n", sh_error_last()->message);
				status = 1;
			} else {
				printf("Revoked %d token%s of '%s'.\n", n, n == 1 ? "" : "s", argv[i]);
			}
		}
	}
	sh_project_free(project);
	return status;
}
