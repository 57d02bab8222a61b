/*
 * recorder.c: the table sighost_migrations (Django's MigrationRecorder and
 * django_migrations): one row per applied migration (id, app, name,
 * applied). It is created when a migration is first applied; reading a
 * database without it means that nothing is applied.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "internal.h"

static const char sh__recorder_ddl[] = "CREATE TABLE IF NOT EXISTS \"" SH_MIGRATE_TABLE "\" ("
	"\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "
	"\"app\" varchar(255) NOT NULL, \"name\" varchar(255) NOT NULL, "
	"\"applied\" datetime NOT NULL)";

int sh_migrate__recorder_ensure(sh_conn *db)
{
	return sh_db_host_table(db, SH_MIGRATE_TABLE, sh__recorder_ddl, true);
}

static int sh_migrate__db_fail(sqlite3 *db, const char *what)
{
	return sh_migrate__sql_error(db, what);
}

int sh_migrate__recorder_read(sh_migrate_graph *g, sh_conn *conn, bool *has_table)
{
	*has_table = false;
	/* a table of this name made another way is refused before it is read */
	int checked = sh_db_host_table(conn, SH_MIGRATE_TABLE, sh__recorder_ddl, false);
	if (checked < 0)
		return checked;
	sqlite3 *db = sh_conn_sqlite(conn);
	for (size_t i = 0; i < g->count; i++)
		g->all[i]->applied = false;
	if (sh_db__table_exists(db, SH_MIGRATE_TABLE, has_table) != SQLITE_OK)
		return sh_migrate__db_fail(db, "cannot read the applied migrations");
	if (!*has_table)
		return 0;
	sqlite3_stmt *stmt;
	int rc;
	if (sqlite3_prepare_v2(db, "SELECT app, name FROM \"" SH_MIGRATE_TABLE "\"", -1, &stmt,
			NULL) != SQLITE_OK)
		return sh_migrate__db_fail(db, "cannot read " SH_MIGRATE_TABLE);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *app = (const char *)sqlite3_column_text(stmt, 0);
		const char *name = (const char *)sqlite3_column_text(stmt, 1);
		const sh__gapp *a = app ? sh_migrate__graph_app(g, app) : NULL;
		for (size_t i = 0; a != NULL && name != NULL && i < a->count; i++)
			if (strcmp(a->migrations[i]->name, name) == 0)
				a->migrations[i]->applied = true;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sh_migrate__db_fail(db, "cannot read " SH_MIGRATE_TABLE);
	return 0;
}

int sh_migrate__recorder_set(sqlite3 *db, const sh__migration *m, bool applied)
{
	sqlite3_stmt *stmt;
	const char *sql = applied
		? "INSERT INTO \"" SH_MIGRATE_TABLE "\" (\"app\", \"name\", \"applied\") "
		  "VALUES (?1, ?2, ?3)"
		: "DELETE FROM \"" SH_MIGRATE_TABLE "\" WHERE \"app\" = ?1 AND \"name\" = ?2";
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return sh_migrate__db_fail(db, "cannot record the migration");
	/* cppcheck-suppress variableScope ; bound SQLITE_STATIC: lives until the step */
	char now[64] = "";
	if (applied) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		char base[32];
		strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(now, sizeof now, "%s.%06ldZ", base, ts.tv_nsec / 1000);
		sqlite3_bind_text(stmt, 3, now, -1, SQLITE_STATIC);
	}
	sqlite3_bind_text(stmt, 1, m->app_label, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, m->name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : sh_migrate__db_fail(db, "cannot record the migration");
}
