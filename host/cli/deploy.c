/*
 * deploy.c: `sighost check --deploy`, Django's check --deploy: warnings
 * about settings that are fine on a developer's machine and unsafe in
 * production. Each is a line "warning: (deploy) ..." saying what to
 * change; none makes check fail (Django's deploy checks are warnings too).
 *
 *   - a model route open to anonymous writes (sh_route_anonymous_writes);
 *   - settings.debug true (500 pages then say what failed and where);
 *   - `listen` on an address beyond loopback;
 *   - the database file or the project manifest readable or writable by
 *     other users;
 *   - routes that need a token while the project has none.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sighost/sys/web.h>

#include "cli.h"
#include "deploy.h"

/* True when some method the route answers needs an API token. */
static bool sh_cli__needs_token(const sh_route *route)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };
	for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
		if (sh_route_allows(route, methods[i]) && !sh_route_open_to_anonymous(route, methods[i]))
			return true;
	return false;
}

static bool sh_cli__loopback(const char *listen)
{
	char host[256];
	if (listen[0] == '[') {
		snprintf(host, sizeof host, "%.*s", (int)strcspn(listen + 1, "]"), listen + 1);
	} else {
		const char *colon = strrchr(listen, ':');
		snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - listen) : (int)strlen(listen),
			listen);
	}
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0
		|| strcmp(host, "localhost") == 0;
}

static size_t sh_cli__file_mode(const char *path, const char *what)
{
	struct stat st;
	if (path == NULL || stat(path, &st) != 0 || (st.st_mode & (S_IROTH | S_IWOTH)) == 0)
		return 0;
	fprintf(stderr, "warning: (deploy) the %s %s is %s by other users (mode %04o): chmod o-rw %s\n",
		what, path, (st.st_mode & S_IWOTH) ? ((st.st_mode & S_IROTH) ? "readable and writable"
		: "writable") : "readable", (unsigned)(st.st_mode & 07777), path);
	return 1;
}

/* How many API tokens the project's database holds, without creating the
 * table (-1 when it cannot tell). */
static long sh_cli__token_count(sh_project *project)
{
	sh_database *database = sh_project_database(project);
	sh_conn *db = NULL;
	if (database == NULL || sh_database_connection(&db, database) < 0)
		return -1;
	sqlite3_stmt *stmt = NULL;
	long n = 0;
	if (sqlite3_prepare_v2(sh_conn_sqlite(db), "SELECT count(*) FROM \"" SH_TOKEN_TABLE "\"", -1,
			&stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return n;
}

size_t sh_cli_deploy_check(sh_project *project, const sh_router *router)
{
	size_t found = 0, login = 0;
	for (size_t i = 0; router != NULL && i < sh_router_route_count(router); i++) {
		const sh_route *route = sh_router_route_at(router, i);
		char methods[64];
		login += sh_cli__needs_token(route);
		if (sh_route_anonymous_writes(methods, sizeof methods, route) > 0) {
			fprintf(stderr, "warning: (deploy) route %s (%s, app '%s') lets anonymous clients %s: "
				"take them out of its 'anonymous' list\n", sh_route_path(route), sh_route_model(route),
				sh_app_label(sh_route_app(route)), methods);
			found++;
		}
	}
	if (sh_value_path_bool(sh_project_settings(project), "debug", false)) {
		fprintf(stderr, "warning: (deploy) settings.debug is true: a failing request's page says what "
			"failed and where; set it to false in production\n");
		found++;
	}
	const char *listen = sh_value_path_string(sh_project_manifest(project), "listen",
		"127.0.0.1:8000");
	if (!sh_cli__loopback(listen)) {
		fprintf(stderr, "warning: (deploy) listen is %s, beyond loopback: serve speaks plain HTTP; put a "
			"TLS proxy in front and listen on 127.0.0.1\n", listen);
		found++;
	}
	found += sh_cli__file_mode(sh_project_db_name(project), "database file");
	found += sh_cli__file_mode(sh_project_path(project), "project manifest");
	if (login > 0 && sh_cli__token_count(project) == 0) {
		fprintf(stderr, "warning: (deploy) %zu route%s need%s a token and the project has none: "
			"create one with 'sighost createtoken USER'\n", login, login == 1 ? "" : "s",
			login == 1 ? "s" : "");
		found++;
	}
	return found;
}
