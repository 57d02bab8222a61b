/*
 * util.c: the small string and array helpers of host/migrate/.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "internal.h"

char *sh_migrate__dup(const char *s, bool *oom)
{
	if (s == NULL)
		return NULL;
	char *copy = strdup(s);
	if (copy == NULL)
		*oom = true;
	return copy;
}

int sh_migrate__push(void ***items, size_t *count, size_t *capacity, void *item)
{
	if (*count == *capacity) {
		size_t cap = *capacity ? *capacity * 2 : 8;
		void **grown = realloc(*items, cap * sizeof *grown);
		if (grown == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		*items = grown;
		*capacity = cap;
	}
	(*items)[(*count)++] = item;
	return 0;
}

int sh_migrate__error_prefix(int code, const char *fmt, ...)
{
	char saved[1024], prefix[1024];
	snprintf(saved, sizeof saved, "%s", sh_error_last()->message);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	return sh_error_set(code, "%s: %s", prefix, saved);
}

/* The connection migrating on this thread (set by run.c when it takes the
 * connection): its handle, compared before its database is used, so a
 * stale pair is never read. */
static _Thread_local const sqlite3 *sh_migrate__sqlite;
static _Thread_local const sh_database *sh_migrate__database;

void sh_migrate__use_conn(sh_conn *db)
{
	sh_migrate__sqlite = db != NULL ? sh_conn_sqlite(db) : NULL;
	sh_migrate__database = db != NULL ? sh_conn_database(db) : NULL;
}

int sh_migrate__sql_error(sqlite3 *sqlite, const char *what)
{
	int ext = sqlite3_extended_errcode(sqlite);
	if ((ext & 0xff) != SQLITE_CONSTRAINT && sqlite == sh_migrate__sqlite
		&& sh_migrate__database != NULL)
		return sh_db__sqlite_error(sqlite, sh_migrate__database, what);
	if (what != NULL)
		return sh_error_set(SH_EDB, "%s: %s", what, sqlite3_errmsg(sqlite));
	return sh_error_set(SH_EDB, "%s", sqlite3_errmsg(sqlite));
}
