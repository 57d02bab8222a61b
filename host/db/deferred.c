/*
 * deferred.c: Django's refresh_from_db() and deferred fields: a field left
 * out by only()/defer() is loaded on first access by a refresh of that
 * field alone (Django's DeferredAttribute.__get__), and a save of an
 * instance with deferred fields writes its loaded fields only.
 *
 * A refresh reads the row as a new instance, which gets the loading
 * signals (pre_init with DEFERRED for the fields not read, post_init), as
 * Django's db_instance_qs.get() does, then copies the values read into the
 * refreshed instance, which gets no signal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

static bool sh_db__is_deferred(const sh_instance *inst, size_t field)
{
	return inst->extra != NULL && inst->extra->deferred != NULL && inst->extra->deferred[field];
}

int sh_instance_is_deferred(const sh_instance *instance, const char *name, bool *out)
{
	if (instance == NULL || name == NULL || out == NULL)
		return sh_error_set(SH_EINVAL, "sh_instance_is_deferred: NULL argument");
	const sh_field *f = sh_db__model_field(instance->model, name);
	if (f == NULL)
		return sh_error_set(SH_EINVAL, "%s has no field '%s'", instance->model->label, name);
	*out = sh_db__is_deferred(instance, f->index);
	return 0;
}

/* Reads the fields `read` marks (the pk always) of the instance's row as a
 * new instance with the loading signals. */
static int sh_db__read_row(sh_instance *inst, const bool *read, sh_instance **out)
{
	sh_conn *db = inst->db;
	const sh_model *m = inst->model;
	const sh__model_sql *msql = sh__sql_of(db, m);
	bool *deferred = malloc(m->field_count * sizeof *deferred);
	if (deferred == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory refreshing a %s", m->label);
	bool any = false;
	for (size_t i = 0; i < m->field_count; i++) {
		deferred[i] = m->fields[i].type != SH_FIELD_MANY_TO_MANY && !read[i] && i != m->pk;
		any = any || deferred[i];
	}
	sh__buf buf = { 0 };
	sh_db__buf_add(&buf, "SELECT ");
	sh_db__buf_columns(&buf, msql, deferred, NULL);
	sh_db__buf_add(&buf, " FROM ");
	sh_db__buf_ident(&buf, m->table);
	sh_db__buf_add(&buf, " WHERE ");
	sh_db__buf_ident(&buf, m->fields[m->pk].column);
	sh_db__buf_add(&buf, " = ?");
	char *sql = sh_db__buf_take(&buf);
	int rc = sql == NULL ? sh_error_set(SH_ENOMEM, "out of memory refreshing a %s", m->label) : 0;
	sqlite3_stmt *stmt = NULL;
	if (rc == 0)
		rc = sh_db__conn_prepare(db, sql, &stmt);
	if (rc == 0)
		rc = sh_db__conn_bind(db, stmt, 1, inst->values[m->pk]);
	*out = NULL;
	if (rc == 0) {
		int step = sqlite3_step(stmt);
		if (step == SQLITE_ROW)
			rc = sh_db__instance_from_row_at(out, db, msql, stmt, 0, any ? deferred : NULL);
		else if (step == SQLITE_DONE)
			rc = sh_error_set(SH_ENOTFOUND, "%s matching pk=%lld does not exist", m->label,
				(long long)sh_instance_pk(inst));
		else
			rc = sh_db__conn_error(db, "refreshing a row");
		sqlite3_reset(stmt);
	}
	free(sql);
	free(deferred);
	/* The statement is reset before receivers run: they may read rows too. */
	if (rc == 0 && (rc = sh_db__instance_loaded(*out)) < 0) {
		sh_instance_free(*out);
		*out = NULL;
	}
	return rc;
}

/* Copies the fields `read` marks from the row read into the instance. */
static int sh_db__copy_read(sh_instance *inst, const sh_instance *row, const bool *read)
{
	const sh_model *m = inst->model;
	for (size_t i = 0; i < m->field_count; i++) {
		const sh_field *f = &m->fields[i];
		if (!read[i] || f->type == SH_FIELD_MANY_TO_MANY)
			continue;
		int rc = sh_db__instance_store(inst, i, row->values[i]);
		if (rc < 0)
			return rc;
		if (inst->extra != NULL && inst->extra->deferred != NULL)
			inst->extra->deferred[i] = false;
		if (f->type == SH_FIELD_FOREIGN_KEY)
			sh_db__relcache_drop(inst, f->name);
	}
	return 0;
}

/* Marks the fields named in `fields` in read[]; a name that is a relation
 * cached as a prefetch drops that cache instead (Django). Stores how many
 * fields are to be read in *n. */
static int sh_db__fields_to_read(sh_instance *inst, const char *const *fields, size_t count,
	bool *read, size_t *n)
{
	const sh_model *m = inst->model;
	*n = 0;
	for (size_t i = 0; i < count; i++) {
		const char *name = fields[i];
		if (name == NULL)
			return sh_error_set(SH_EINVAL, "refresh of %s: a NULL field name", m->label);
		const sh_field *f = sh_db__model_field(m, name);
		if (f == NULL || f->type == SH_FIELD_MANY_TO_MANY) {
			/* a prefetched relation (Django: "if field in prefetched_objects_cache") */
			if (sh_db__relation_known(inst->db, m, name) == 0) {
				sh_db__relcache_drop(inst, name);
				continue;
			}
			return sh_error_set(SH_EINVAL, "refresh of %s: it has no field '%s'", m->label, name);
		}
		if (!read[f->index])
			(*n)++;
		read[f->index] = true;
	}
	return 0;
}

int sh_instance_refresh(sh_instance *instance, const char *const *fields, size_t count)
{
	if (instance == NULL || (fields == NULL && count > 0))
		return sh_error_set(SH_EINVAL, "sh_instance_refresh: NULL argument");
	int rc = sh__attached(instance, "refresh");
	if (rc < 0)
		return rc;
	const sh_model *m = instance->model;
	if (sh_instance_pk(instance) == 0)
		return sh_error_set(SH_EINVAL, "cannot refresh a %s that has no primary key",
			m->label);
	bool *read = calloc(m->field_count, sizeof *read);
	if (read == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory refreshing a %s", m->label);
	size_t n = 0;
	if (fields == NULL) {
		/* Every field not deferred; the prefetched relations go (Django). */
		sh_db__relcache_clear(instance);
		for (size_t i = 0; i < m->field_count; i++)
			read[i] = !sh_db__is_deferred(instance, i);
		n = 1;
	} else {
		rc = sh_db__fields_to_read(instance, fields, count, read, &n);
	}
	sh_instance *row = NULL;
	if (rc == 0 && n > 0)
		rc = sh_db__read_row(instance, read, &row);
	if (rc == 0 && row != NULL)
		rc = sh_db__copy_read(instance, row, read);
	sh_instance_free(row);
	free(read);
	return rc;
}

int sh_db__load_deferred(sh_instance *instance, size_t field)
{
	const char *name = instance->model->fields[field].name;
	return sh_instance_refresh(instance, &name, 1);
}

int sh_db__deferred_update_fields(const sh_instance *instance, const char ***names, size_t *count)
{
	const sh_model *m = instance->model;
	*names = NULL;
	*count = 0;
	const char **list = malloc(m->field_count * sizeof *list);
	if (list == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory saving a %s", m->label);
	size_t n = 0;
	for (size_t i = 0; i < m->field_count; i++) {
		const sh_field *f = &m->fields[i];
		if (i == m->pk || f->type == SH_FIELD_MANY_TO_MANY || sh_db__is_deferred(instance, i))
			continue;
		list[n++] = f->column;   /* Django's attname */
	}
	*names = list;
	*count = n;
	return 0;
}

bool sh_db__has_deferred(const sh_instance *instance)
{
	if (instance->extra == NULL || instance->extra->deferred == NULL)
		return false;
	for (size_t i = 0; i < instance->model->field_count; i++)
		if (instance->extra->deferred[i])
			return true;
	return false;
}
