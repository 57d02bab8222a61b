/*
 * registry_model.c: builds a model from checked declarations and frees it.
 * Building is where Django's defaults land: the AUTO "id" primary key when
 * none is declared, "<name>_id" columns for keys, keys indexed, primary
 * keys unique, related names "<model>_set", targets as "app.Model".
 */
#include <stdlib.h>
#include <string.h>

#include "registry_private.h"

static void sh_db__field_dispose(sh_field *f)
{
	free(f->name);
	free(f->column);
	if (f->default_value.type == SH_DATUM_TEXT)
		free((char *)f->default_value.v.s);
	free(f->to);
	free(f->through_label);
	free(f->related_name);
	free(f->where);
}

void sh_db__model_free(sh_model *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->field_count; i++)
		sh_db__field_dispose(&m->fields[i]);
	free(m->fields);
	free(m->reverse_fks);
	free(m->reverse_m2m);
	for (size_t i = 0; i < m->unique_together_count; i++)
		free(m->unique_together[i].fields);
	free(m->unique_together);
	free(m->app_label);
	free(m->name);
	free(m->label);
	free(m->table);
	free(m->where);
	free(m);
}

const char *sh_db__field_where(const sh_field *field)
{
	return field->where != NULL ? field->where : field->model->where;
}

/* "Model" and "self" mean a model of the declaring app; "app.Model" is kept. */
static char *sh_db__qualify(const char *target, const char *app_label, const char *name)
{
	if (strchr(target, '.') != NULL)
		return strdup(target);
	if (strcmp(target, "self") == 0)
		return sh_base__format("%s.%s", app_label, name);
	return sh_base__format("%s.%s", app_label, target);
}

static char *sh_db__dup_or_null(const char *s, bool *oom)
{
	if (s == NULL)
		return NULL;
	char *copy = strdup(s);
	if (copy == NULL)
		*oom = true;
	return copy;
}

/* Copies declaration `d` into `f` of model `m`. Returns false on ENOMEM. */
static bool sh_db__field_fill(sh_field *f, const sh_field_decl *d, sh_model *m)
{
	bool oom = false;
	bool relation = d->type == SH_FIELD_FOREIGN_KEY || d->type == SH_FIELD_MANY_TO_MANY;
	f->name = sh_db__dup_or_null(d->name, &oom);
	f->type = d->type;
	if (d->type == SH_FIELD_FOREIGN_KEY)
		oom |= (f->column = sh_base__format("%s_id", d->name)) == NULL;
	else if (d->type != SH_FIELD_MANY_TO_MANY)
		f->column = sh_db__dup_or_null(d->name, &oom);
	f->null = d->null;
	f->blank = d->blank;
	f->primary_key = d->primary_key;
	f->unique = d->unique || d->primary_key;
	/* Django indexes foreign keys (ForeignKey.db_index defaults to True). */
	f->db_index = d->db_index || d->type == SH_FIELD_FOREIGN_KEY;
	f->auto_now = d->auto_now;
	f->auto_now_add = d->auto_now_add;
	f->max_length = d->max_length;
	f->has_default = d->has_default;
	f->default_value = d->has_default ? d->default_value : sh_datum_null();
	if (d->has_default && d->default_value.type == SH_DATUM_TEXT)
		oom |= (f->default_value.v.s = strdup(d->default_value.v.s)) == NULL;
	if (d->has_default && d->type == SH_FIELD_REAL && d->default_value.type == SH_DATUM_INT)
		f->default_value = sh_datum_real((double)d->default_value.v.i);
	f->on_delete = d->on_delete;
	if (relation) {
		oom |= (f->to = sh_db__qualify(d->to, m->app_label, m->name)) == NULL;
		if (d->related_name != NULL)
			f->related_name = sh_db__dup_or_null(d->related_name, &oom);
		else
			oom |= (f->related_name = sh_base__format("%s_set", m->table
				+ strlen(m->app_label) + 1)) == NULL;
	}
	if (d->type == SH_FIELD_MANY_TO_MANY && d->through != NULL)
		oom |= (f->through_label = sh_db__qualify(d->through, m->app_label, m->name)) == NULL;
	f->where = sh_db__dup_or_null(d->where, &oom);
	f->model = m;
	return !oom;
}

/* Fills the added primary key "id". */
static bool sh_db__field_auto_id(sh_field *f, sh_model *m)
{
	f->name = strdup("id");
	f->column = strdup("id");
	f->type = SH_FIELD_AUTO;
	f->primary_key = true;
	f->unique = true;
	f->model = m;
	return f->name != NULL && f->column != NULL;
}

static bool sh_db__model_names(sh_model *m, const char *app_label, const char *name,
	const char *where)
{
	bool oom = false;
	m->app_label = sh_db__dup_or_null(app_label, &oom);
	m->name = sh_db__dup_or_null(name, &oom);
	m->label = sh_base__format("%s.%s", app_label, name);
	char *lower = sh_base__lower(name);
	m->table = lower ? sh_base__format("%s_%s", app_label, lower) : NULL;
	free(lower);
	m->where = sh_db__dup_or_null(where, &oom);
	return !oom && m->label != NULL && m->table != NULL;
}

int sh_db__model_build(sh_model **out, sh_models *models, const char *app_label,
	const char *name, const sh_field_decl *fields, size_t count, const char *where,
	bool auto_created)
{
	*out = NULL;
	sh_model *m = calloc(1, sizeof *m);
	if (m == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	m->registry = models;
	m->auto_created = auto_created;
	size_t pk = SIZE_MAX;
	for (size_t i = 0; i < count && pk == SIZE_MAX; i++)
		if (fields[i].primary_key)
			pk = i;
	size_t extra = pk == SIZE_MAX ? 1 : 0;
	bool ok = sh_db__model_names(m, app_label, name, where);
	m->fields = ok ? calloc(count + extra, sizeof *m->fields) : NULL;
	if (m->fields != NULL) {
		m->field_count = count + extra;
		if (extra)
			ok = sh_db__field_auto_id(&m->fields[0], m);
		for (size_t i = 0; ok && i < count; i++)
			ok = sh_db__field_fill(&m->fields[i + extra], &fields[i], m);
		for (size_t i = 0; i < m->field_count; i++)
			m->fields[i].index = i;
		m->pk = extra ? 0 : pk;
	}
	if (ok && m->fields != NULL && sh_sender_intern(&m->sender, models->hub, m->label) == 0) {
		*out = m;
		return 0;
	}
	sh_db__model_free(m);
	return sh_error_set(SH_ENOMEM, "out of memory");
}
