/*
 * check_keys.c: sh_db_check_keys(), Django's check_constraints() on
 * SQLite: PRAGMA foreign_key_check, with the first row it reports turned
 * into the model, pk and field it concerns.
 */
#include <stdio.h>
#include <string.h>

#include "orm.h"

/* The field of `m` behind SQLite's foreign key number `fkid` of its table. */
static const sh_field *sh_db__key_field(sh_conn *db, const sh_model *m, int fkid)
{
	char sql[256];
	snprintf(sql, sizeof sql, "PRAGMA foreign_key_list(\"%s\")", m->table);
	sqlite3_stmt *st;
	const sh_field *f = NULL;
	if (sqlite3_prepare_v2(db->sqlite, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	while (sqlite3_step(st) == SQLITE_ROW)
		if (sqlite3_column_int(st, 0) == fkid)
			f = sh_db__model_field(m, (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	return f;
}

int sh_db_check_keys(sh_conn *db)
{
	if (db == NULL)
		return sh_error_set(SH_EINVAL, "sh_db_check_keys: NULL connection");
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->sqlite, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
		return sh_db__conn_error(db, "checking foreign keys");
	int rc = 0, step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		const char *table = (const char *)sqlite3_column_text(st, 0);
		int64_t rowid = sqlite3_column_int64(st, 1);
		char parent[128];
		snprintf(parent, sizeof parent, "%s", (const char *)sqlite3_column_text(st, 2));
		int fkid = sqlite3_column_int(st, 3);
		const sh_model *m = NULL;
		const sh_models *models = db->database->models;
		for (size_t i = 0; table != NULL && m == NULL && i < models->count; i++)
			if (strcmp(models->models[i]->table, table) == 0)
				m = models->models[i];
		const sh_field *f = m != NULL ? sh_db__key_field(db, m, fkid) : NULL;
		if (f != NULL)
			rc = sh_error_set(SH_EINTEGRITY, "%s pk=%lld: field '%s' points at no row of %s",
				m->label, (long long)rowid, f->name, f->target->label);
		else
			rc = sh_error_set(SH_EINTEGRITY, "table %s rowid %lld: a foreign key points at no "
				"row of %s", table ? table : "?", (long long)rowid, parent);
	} else if (step != SQLITE_DONE) {
		rc = sh_db__conn_error(db, "checking foreign keys");
	}
	sqlite3_finalize(st);
	return rc;
}
