/*
 * createtoken.c: `sighost createtoken USER [--settings FILE]`, Django REST
 * framework's drf_create_token: reads and loads the project, creates an API
 * token for USER in the project's database (the table sighost_token is
 * made when missing) and prints its key on stdout, the only time it is
 * shown: the database keeps its SHA-256 only.
 *
 *     $ TOKEN=$(sighost createtoken alice)
 *     $ curl -H "Authorization: Token $TOKEN" -X POST localhost:8000/dashboard/create
 *
 * Exit status: 0 when the token was made, 1 on a problem (printed to
 * stderr), 2 for a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "project_open.h"

int sh_cli_createtoken(int argc, char **argv)
{
	const char *settings;
	if (sh_cli_settings_only(argc, argv, &settings) != 0)
		return 2;
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: sighost createtoken USER [--settings FILE]\n");
		return 2;
	}
	const char *user = argv[optind];
	sh_project *project = sh_cli_project(settings, true, "createtoken");
	if (project == NULL) {
		return 1;
	}
	sh_conn *db = NULL;
	char *key = NULL;
	int rc = sh_cli_conn(&db, project);
	if (rc == 0)
		rc = sh_token_create(&key, db, user);
	if (rc < 0)
		fprintf(stderr, "sighost createtoken: %s\n", sh_error_last()->message);
	else
		printf("%s\n", key);
	free(key);
	sh_project_free(project);
	return rc < 0 ? 1 : 0;
}
