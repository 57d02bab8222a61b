/*
 * bulk.c: sh_bulk_create(), Django's QuerySet.bulk_create: the unsaved
 * instances are inserted in one atomic block with no signal at all (no
 * pre_save/post_save; their pre_init/post_init went out when they were
 * constructed). As in Django, auto_now and auto_now_add fields are set
 * (the insert compiler calls each field's pre_save), and every instance
 * gets its pk and stops adding. Either all rows are inserted or none, and
 * then no instance changes. Like every operation of the model layer it is a
 * transaction of its own outside any atomic block; inside one it opens no
 * savepoint and a failure marks that block for rollback (Django's
 * bulk_create uses atomic(savepoint=False)).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

static int sh_db__bulk_check(sh_instance *const *instances, size_t count)
{
	const sh_instance *first = instances[0];
	for (size_t i = 0; i < count; i++) {
		const sh_instance *inst = instances[i];
		if (inst == NULL)
			return sh_error_set(SH_EINVAL, "bulk_create: instance %zu is NULL", i);
		int rc = sh__attached(inst, "bulk create");
		if (rc < 0)
			return rc;
		if (inst->model != first->model || inst->db != first->db)
			return sh_error_set(SH_EINVAL, "bulk_create: instance %zu is a %s%s, the first "
				"a %s: every instance must be of one model and connection", i,
				inst->model->label, inst->db != first->db ? " of another connection" : "",
				first->model->label);
		if (!inst->adding)
			return sh_error_set(SH_EINVAL, "bulk_create: instance %zu (%s) was saved already",
				i, inst->model->label);
		const sh_datum *pk = &inst->values[inst->model->pk];
		if (pk->type == SH_DATUM_NULL && inst->model->fields[inst->model->pk].type != SH_FIELD_AUTO)
			return sh_error_set(SH_EINVAL, "bulk_create: instance %zu (%s) has no value for its "
				"primary key '%s'", i, inst->model->label,
				inst->model->fields[inst->model->pk].name);
	}
	return 0;
}

int sh_bulk_create(sh_instance *const *instances, size_t count)
{
	if (instances == NULL && count > 0)
		return sh_error_set(SH_EINVAL, "sh_bulk_create: NULL instances");
	if (count == 0)
		return 0;
	int rc = sh_db__bulk_check(instances, count);
	if (rc < 0)
		return rc;
	sh_conn *db = instances[0]->db;
	const sh_model *m = instances[0]->model;
	const sh__model_sql *msql = sh__sql_of(db, m);
	for (size_t i = 0; i < count; i++) {
		if (msql->has_auto_now && (rc = sh_db__apply_auto_now(instances[i], NULL, true)) < 0)
			return rc;
		if ((rc = sh_db__check_not_null(instances[i], NULL, "bulk creating")) < 0)
			return rc;
	}
	bool *assigned = calloc(count, sizeof *assigned);
	if (assigned == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory in bulk_create of %s", m->label);
	char what[160];
	snprintf(what, sizeof what, "bulk creating %s", m->label);
	bool own;
	if ((rc = sh__op_begin(db, &own)) == 0) {
		for (size_t i = 0; rc == 0 && i < count; i++) {
			sh_instance *inst = instances[i];
			bool pk_set = inst->values[m->pk].type != SH_DATUM_NULL;
			sqlite3_stmt *stmt;
			rc = sh_db__model_stmt(db, msql, pk_set ? SH__SQL_INSERT_PK : SH__SQL_INSERT, &stmt);
			if (rc == 0) {
				int next = sh_db__bind_columns(db, stmt, msql, inst, !pk_set, 1);
				rc = next < 0 ? next : 0;
			}
			if (rc == 0)
				rc = sh_db__conn_exec(db, stmt, what);
			if (rc == 0 && !pk_set) {
				inst->values[m->pk] = sh_datum_int(sqlite3_last_insert_rowid(db->sqlite));
				assigned[i] = true;
			}
		}
		/* Keys are checked at COMMIT: name a dangling one now. */
		for (size_t i = 0; rc == 0 && msql->has_fk && i < count; i++)
			rc = sh_db__instance_fk_check(instances[i], NULL, what);
		rc = sh_db__op_end(db, own, rc, "bulk creating", m->label);
	}
	for (size_t i = 0; i < count; i++) {
		if (rc < 0 && assigned[i])
			instances[i]->values[m->pk] = sh_datum_null();
		else if (rc == 0)
			instances[i]->adding = false;
	}
	free(assigned);
	return rc;
}
