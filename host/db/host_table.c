/*
 * host_table.c: sh_database_host_table() (db.h): the tables the host keeps
 * for itself (sighost_token, sighost_migrations) are made by their exact
 * DDL, and a table of that name made any other way (by a model that took
 * the name, by hand, by an attacker) is refused before it is used.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* `ddl` as SQLite stores it in sqlite_master.sql: "IF NOT EXISTS " left
 * out. Returns false when it does not fit. */
static bool sh_db__stored_ddl(char *out, size_t size, const char *ddl)
{
	static const char ine[] = "IF NOT EXISTS ";
	const char *at = strstr(ddl, ine);
	int n = at != NULL
		? snprintf(out, size, "%.*s%s", (int)(at - ddl), ddl, at + strlen(ine))
		: snprintf(out, size, "%s", ddl);
	return n >= 0 && (size_t)n < size;
}

int sh_db_host_table(sh_conn *db, const char *table, const char *ddl, bool create)
{
	if (db == NULL || table == NULL || ddl == NULL)
		return sh_error_set(SH_EINVAL, "sh_db_host_table: NULL argument");
	char want[1024];
	if (!sh_db__stored_ddl(want, sizeof want, ddl))
		return sh_error_set(SH_EINVAL, "sh_db_host_table: the DDL of %s is too long", table);
	sqlite3 *sqlite = db->sqlite;
	if (create && sqlite3_exec(sqlite, ddl, NULL, NULL, NULL) != SQLITE_OK)
		return sh_conn_error(db, "cannot create the host's table");
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(sqlite, "SELECT type, sql FROM sqlite_master WHERE name = ?1", -1,
			&stmt, NULL) != SQLITE_OK)
		return sh_conn_error(db, "cannot read the schema");
	sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	int result = 0;
	if (rc == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(stmt, 0);
		const char *sql = (const char *)sqlite3_column_text(stmt, 1);
		if (type == NULL || strcmp(type, "table") != 0 || sql == NULL || strcmp(sql, want) != 0)
			result = sh_error_set(SH_EDB, "database %s: the host's table %s exists but was "
				"not made by sighost (its schema is %s%s%s, expected %s): refusing to use it; "
				"an app may not declare a model with this table (see 'sighost check')",
				db->database->path, table, type ? type : "?", sql ? " " : "", sql ? sql : "",
				want);
	} else if (rc != SQLITE_DONE) {
		result = sh_conn_error(db, "cannot read the schema");
	}
	sqlite3_finalize(stmt);
	return result;
}
