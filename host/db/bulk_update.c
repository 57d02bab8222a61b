/*
 * bulk_update.c: sh_bulk_update(), Django's QuerySet.bulk_update: the
 * named fields of saved instances written with one statement per batch,
 *
 *     UPDATE t SET f = CASE "id" WHEN ? THEN ? ... END, ...
 *     WHERE "id" IN (SELECT value FROM json_each(?))
 *
 * no signal at all (no pre_save/post_save; Django builds the CASE from the
 * attribute values without calling save()), auto_now fields untouched
 * unless named, in one atomic block (atomic(savepoint=False)), the rows
 * matched counted as Django 4+ returns them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

static int sh_db__bulk_update_check(sh_instance *const *instances, size_t count,
	const char *const *fields, size_t nf, const sh_field **out)
{
	if (nf == 0)
		return sh_error_set(SH_EINVAL, "bulk_update: field names must be given");
	const sh_instance *first = instances[0];
	if (first == NULL)
		return sh_error_set(SH_EINVAL, "bulk_update: instance 0 is NULL");
	const sh_model *m = first->model;
	for (size_t i = 0; i < nf; i++) {
		const sh_field *f = fields[i] != NULL ? sh_db__model_field(m, fields[i]) : NULL;
		if (f == NULL)
			return sh_error_set(SH_EINVAL, "bulk_update of %s: it has no field '%s'", m->label,
				fields[i] ? fields[i] : "(null)");
		if (f->type == SH_FIELD_MANY_TO_MANY || f->primary_key)
			return sh_error_set(SH_EINVAL, "bulk_update of %s: '%s' is %s, which bulk_update "
				"cannot set (Django: only concrete fields that are not primary keys)",
				m->label, f->name, f->primary_key ? "the primary key" : "a many-to-many relation");
		out[i] = f;
	}
	for (size_t i = 0; i < count; i++) {
		const sh_instance *inst = instances[i];
		if (inst == NULL)
			return sh_error_set(SH_EINVAL, "bulk_update: instance %zu is NULL", i);
		int rc = sh__attached(inst, "bulk update");
		if (rc < 0)
			return rc;
		if (inst->model != m || inst->db != first->db)
			return sh_error_set(SH_EINVAL, "bulk_update: instance %zu is a %s%s, the first a "
				"%s: every instance must be of one model and connection", i, inst->model->label,
				inst->db != first->db ? " of another connection" : "", m->label);
		if (inst->values[m->pk].type == SH_DATUM_NULL)
			return sh_error_set(SH_EINVAL, "bulk_update: instance %zu (%s) has no primary key "
				"(Django: all bulk_update() objects must have a primary key set)", i, m->label);
		for (size_t k = 0; k < nf; k++)
			if (inst->values[out[k]->index].type == SH_DATUM_NULL && !out[k]->null)
				return sh_error_set(SH_EINVAL, "bulk_update: instance %zu (%s pk=%lld): field "
					"'%s' is NULL but does not allow null", i, m->label,
					(long long)sh_instance_pk(inst), out[k]->name);
	}
	return 0;
}

/* The UPDATE of one batch of `n` instances. */
static char *sh_db__bulk_update_sql(const sh_model *m, const sh_field *const *fields, size_t nf,
	size_t n)
{
	const char *pk = m->fields[m->pk].column;
	sh__buf buf = { 0 };
	sh_db__buf_add(&buf, "UPDATE ");
	sh_db__buf_ident(&buf, m->table);
	sh_db__buf_add(&buf, " SET ");
	for (size_t k = 0; k < nf; k++) {
		sh_db__buf_add(&buf, k ? ", " : "");
		sh_db__buf_ident(&buf, fields[k]->column);
		sh_db__buf_add(&buf, " = CASE ");
		sh_db__buf_ident(&buf, pk);
		for (size_t i = 0; i < n; i++)
			sh_db__buf_add(&buf, " WHEN ? THEN ?");
		sh_db__buf_add(&buf, " END");
	}
	sh_db__buf_add(&buf, " WHERE ");
	sh_db__buf_ident(&buf, pk);
	sh_db__buf_add(&buf, " IN (SELECT value FROM json_each(?))");
	return sh_db__buf_take(&buf);
}

static int sh_db__bulk_update_batch(sh_conn *db, sh_instance *const *batch, size_t n,
	const sh_field *const *fields, size_t nf, int64_t *rows)
{
	const sh_model *m = batch[0]->model;
	char *sql = sh_db__bulk_update_sql(m, fields, nf, n);
	int64_t *pks = malloc(n * sizeof *pks);
	for (size_t i = 0; pks != NULL && i < n; i++)
		pks[i] = sh_instance_pk(batch[i]);
	char *json = pks != NULL ? sh_db__json_keys(pks, n) : NULL;
	int rc = sql == NULL || json == NULL
		? sh_error_set(SH_ENOMEM, "out of memory in bulk_update of %s", m->label) : 0;
	sqlite3_stmt *stmt = NULL;
	if (rc == 0)
		rc = sh_db__conn_prepare(db, sql, &stmt);
	int index = 1;
	for (size_t k = 0; rc == 0 && k < nf; k++)
		for (size_t i = 0; rc == 0 && i < n; i++) {
			if ((rc = sh_db__conn_bind(db, stmt, index++, batch[i]->values[m->pk])) == 0)
				rc = sh_db__conn_bind(db, stmt, index++, batch[i]->values[fields[k]->index]);
		}
	if (rc == 0)
		rc = sh_db__conn_bind(db, stmt, index, sh_datum_text(json));
	char what[160];
	snprintf(what, sizeof what, "bulk updating %s", m->label);
	if (rc == 0)
		rc = sh_db__conn_exec(db, stmt, what);
	if (rc == 0)
		*rows += sqlite3_changes64(db->sqlite);
	free(sql);
	free(json);
	free(pks);
	return rc;
}

int sh_bulk_update(sh_instance *const *instances, size_t count, const char *const *fields,
	size_t field_count, size_t batch_size, int64_t *rows)
{
	if (rows != NULL)
		*rows = 0;
	if ((instances == NULL && count > 0) || (fields == NULL && field_count > 0))
		return sh_error_set(SH_EINVAL, "sh_bulk_update: NULL argument");
	if (count == 0)
		return 0;   /* Django: no objects, nothing done */
	const sh_field **f = calloc(field_count ? field_count : 1, sizeof *f);
	if (f == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory in bulk_update");
	int rc = sh_db__bulk_update_check(instances, count, fields, field_count, f);
	if (rc < 0) {
		free(f);
		return rc;
	}
	sh_conn *db = instances[0]->db;
	/* Each instance binds two values per field and its pk rides in the
	 * key list: SQLite's limit on bound values sets the largest batch. */
	size_t limit = (size_t)sqlite3_limit(db->sqlite, SQLITE_LIMIT_VARIABLE_NUMBER, -1);
	size_t most = limit > 1 ? (limit - 1) / (2 * (field_count ? field_count : 1)) : 1;
	if (most == 0)
		most = 1;
	if (batch_size == 0 || batch_size > most)
		batch_size = most;
	int64_t matched = 0;
	bool own;
	if ((rc = sh__op_begin(db, &own)) == 0) {
		for (size_t at = 0; rc == 0 && at < count; at += batch_size) {
			size_t n = count - at < batch_size ? count - at : batch_size;
			rc = sh_db__bulk_update_batch(db, instances + at, n, f, field_count, &matched);
		}
		if (rc == 0 && sh_db__fk_pending(db)) {
			/* Keys are checked at COMMIT: name a dangling one now. */
			bool *selected = calloc(instances[0]->model->field_count, sizeof *selected);
			for (size_t k = 0; selected != NULL && k < field_count; k++)
				selected[f[k]->index] = true;
			for (size_t i = 0; rc == 0 && selected != NULL && i < count; i++)
				rc = sh_db__instance_fk_check(instances[i], selected, "bulk updating");
			if (selected == NULL)
				rc = sh_error_set(SH_ENOMEM, "out of memory in bulk_update");
			free(selected);
		}
		rc = sh_db__op_end(db, own, rc, "bulk updating", instances[0]->model->label);
	}
	if (rc == 0 && rows != NULL)
		*rows = matched;
	free(f);
	return rc;
}
