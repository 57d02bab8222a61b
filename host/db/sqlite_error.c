/*
 * sqlite_error.c: the one mapping of SQLite's errors to sighost's codes
 * and messages (SH_EUNAVAILABLE for a full, read-only, locked or failing
 * database, naming the file; SH_EINTEGRITY naming the model and field of
 * a constraint; SH_ENOMEM; else SH_EDB). Every layer's SQL errors go
 * through it (migrate's through db.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

const char *sh_db__describe_column(const sh_database *database, const char *table_column,
	char *buf, size_t size)
{
	const char *dot = strchr(table_column, '.');
	if (dot == NULL)
		return NULL;
	size_t tlen = (size_t)(dot - table_column);
	const char *column = dot + 1;
	size_t count = sh_models_count(database->models);
	for (size_t i = 0; i < count; i++) {
		const sh_model *m = sh_models_at(database->models, i);
		if (strlen(m->table) != tlen || strncmp(m->table, table_column, tlen) != 0)
			continue;
		for (size_t k = 0; k < m->field_count; k++) {
			const sh_field *f = &m->fields[k];
			if (f->column != NULL && strcmp(f->column, column) == 0) {
				snprintf(buf, size, "%s.%s", m->label, f->name);
				return buf;
			}
		}
	}
	return NULL;
}

/* What an I/O error was doing, from its extended code. */
static const char *sh_db__ioerr_doing(int ext)
{
	switch (ext) {
	case SQLITE_IOERR_READ:
	case SQLITE_IOERR_SHORT_READ: return "reading";
	case SQLITE_IOERR_WRITE: return "writing";
	case SQLITE_IOERR_FSYNC:
	case SQLITE_IOERR_DIR_FSYNC: return "syncing";
	case SQLITE_IOERR_TRUNCATE: return "truncating";
	case SQLITE_IOERR_SHMOPEN:
	case SQLITE_IOERR_SHMSIZE:
	case SQLITE_IOERR_SHMMAP: return "mapping the -shm file of";
	case SQLITE_IOERR_LOCK:
	case SQLITE_IOERR_RDLOCK:
	case SQLITE_IOERR_UNLOCK:
	case SQLITE_IOERR_SHMLOCK: return "locking";
	default: return "accessing";
	}
}

int sh_db__sqlite_error(sqlite3 *sqlite, const sh_database *database, const char *what)
{
	int ext = sqlite3_extended_errcode(sqlite);
	const char *msg = sqlite3_errmsg(sqlite);
	const char *sep = ": ";
	if (what == NULL)
		what = sep = "";   /* no lead: the message starts with what happened */
	const char *path = database->path;   /* a handle that failed to open has no file name */
	int busy_ms = database->busy_timeout_ms;
	int sys = sqlite3_system_errno(sqlite);
	char errno_text[160] = "";
	if (sys != 0)
		snprintf(errno_text, sizeof errno_text, "; the system said: %s", strerror(sys));
	switch (ext & 0xff) {
	case SQLITE_FULL:
		return sh_error_set(SH_EUNAVAILABLE, "%s%sdatabase %s is full: the disk or a quota "
			"has no room left (%s%s)", what, sep, path, msg, errno_text);
	case SQLITE_READONLY:
		if (ext == SQLITE_READONLY_DBMOVED)
			return sh_error_set(SH_EUNAVAILABLE, "%s%sdatabase %s is read-only: its file was "
				"moved or deleted while open (%s)", what, sep, path, msg);
		return sh_error_set(SH_EUNAVAILABLE, "%s%sdatabase %s is read-only: this process may "
			"not write the file, its -wal or -shm file or their directory (%s)", what, sep, path, msg);
	case SQLITE_BUSY:
		return sh_error_set(SH_EUNAVAILABLE, "%s%sdatabase %s is locked by another process "
			"(gave up after waiting %d ms; %s)", what, sep, path, busy_ms, msg);
	case SQLITE_PROTOCOL:
		return sh_error_set(SH_EUNAVAILABLE, "%s%sdatabase %s is too busy: its locks kept "
			"changing hands (%s)", what, sep, path, msg);
	case SQLITE_IOERR:
		return sh_error_set(SH_EUNAVAILABLE, "%s%sI/O error %s database %s: the disk may be "
			"full, over a quota or a file size limit, or failing (%s, SQLite code %d%s)", what,
			sep, sh_db__ioerr_doing(ext), path, msg, ext, errno_text);
	case SQLITE_CANTOPEN:
		return sh_error_set(SH_EUNAVAILABLE, "%s%scannot open database %s or its -wal or -shm "
			"file (%s%s)", what, sep, path, msg, errno_text);
	case SQLITE_NOMEM:
		return sh_error_set(SH_ENOMEM, "%s%sout of memory (%s)", what, sep, msg);
	default:
		return sh_error_set(SH_EDB, "%s%s%s", what, sep, msg);
	}
}

int sh_db__conn_error(sh_conn *db, const char *what)
{
	int ext = sqlite3_extended_errcode(db->sqlite);
	if ((ext & 0xff) != SQLITE_CONSTRAINT) {
		/* SQLite keeps a connection that found its file read-only (or
		 * could not open a -wal or -shm file) that way for good: only a
		 * new connection sees the file writable again. */
		int base = ext & 0xff;
		db->unusable = db->unusable || base == SQLITE_READONLY || base == SQLITE_CANTOPEN;
		return sh_db__sqlite_error(db->sqlite, db->database, what);
	}
	const char *msg = sqlite3_errmsg(db->sqlite);
	/* "UNIQUE constraint failed: table.column[, table.column]" */
	const char *colon = strstr(msg, "failed: ");
	char first[256] = "";
	if (colon != NULL) {
		const char *start = colon + strlen("failed: ");
		size_t n = strcspn(start, ", ");
		if (n < sizeof first) {
			memcpy(first, start, n);
			first[n] = '\0';
		}
	}
	char field[256];
	const char *named = first[0] ? sh_db__describe_column(db->database, first, field, sizeof field) : NULL;
	if (named != NULL)
		return sh_error_set(SH_EINTEGRITY, "%s: %s (field %s)", what, msg, named);
	return sh_error_set(SH_EINTEGRITY, "%s: %s", what, msg);
}
