/*
 * state.c: the model state (Django's ProjectState): the models as the
 * migrations made them, each a list of field definitions, and its
 * rendering into a registry of its own (Django's StateApps) so that the
 * schema editor can take DDL from the same code as syncdb
 * (sh_db__schema_model_sql). A rendered registry sends class_prepared through
 * a private hub with no receivers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/app.h"
#include "internal.h"

int sh_migrate__state_new(sh_state **out, sh_hub *hub)
{
	sh_state *s = calloc(1, sizeof *s);
	if (s == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	s->hub = hub;
	*out = s;
	return 0;
}

static void sh_migrate__index_dispose(sh__index *index)
{
	free(index->name);
	for (size_t i = 0; i < index->count; i++)
		free(index->fields[i]);
	free(index->fields);
}

static void sh_migrate__smodel_free(sh__smodel *m)
{
	if (m == NULL)
		return;
	free(m->app_label);
	free(m->name);
	free(m->where);
	sh_migrate__fields_dispose(&m->fields);
	for (size_t i = 0; i < m->index_count; i++)
		sh_migrate__index_dispose(&m->indexes[i]);
	free(m->indexes);
	free(m);
}

void sh_migrate__state_changed(sh_state *s)
{
	sh_models_free(s->registry);
	s->registry = NULL;
}

void sh_migrate__state_free(sh_state *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->count; i++)
		sh_migrate__smodel_free(s->models[i]);
	free(s->models);
	sh_models_free(s->registry);
	free(s);
}

static int sh_migrate__index_copy(sh__index *dst, const sh__index *src)
{
	bool oom = false;
	dst->name = sh_migrate__dup(src->name, &oom);
	dst->fields = calloc(src->count ? src->count : 1, sizeof *dst->fields);
	dst->count = 0;
	if (dst->fields == NULL)
		oom = true;
	for (size_t i = 0; !oom && i < src->count; i++)
		dst->fields[dst->count++] = sh_migrate__dup(src->fields[i], &oom);
	if (oom) {
		sh_migrate__index_dispose(dst);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	return 0;
}

static int sh_migrate__smodel_copy(sh__smodel **out, const sh__smodel *src)
{
	sh__smodel *m = calloc(1, sizeof *m);
	if (m == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	bool oom = false;
	m->app_label = sh_migrate__dup(src->app_label, &oom);
	m->name = sh_migrate__dup(src->name, &oom);
	m->where = sh_migrate__dup(src->where, &oom);
	m->unmigrated = src->unmigrated;
	if (!oom && sh_migrate__fields_copy(&m->fields, &src->fields) < 0)
		oom = true;
	if (!oom && src->index_count > 0) {
		m->indexes = calloc(src->index_count, sizeof *m->indexes);
		oom = m->indexes == NULL;
		for (size_t i = 0; !oom && i < src->index_count; i++) {
			oom = sh_migrate__index_copy(&m->indexes[i], &src->indexes[i]) < 0;
			if (!oom)
				m->index_count++;
		}
	}
	if (oom) {
		sh_migrate__smodel_free(m);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	*out = m;
	return 0;
}

int sh_migrate__state_copy(sh_state **out, const sh_state *src)
{
	sh_state *s = NULL;
	int rc = sh_migrate__state_new(&s, src->hub);
	for (size_t i = 0; rc == 0 && i < src->count; i++) {
		sh__smodel *m = NULL;
		rc = sh_migrate__smodel_copy(&m, src->models[i]);
		if (rc == 0 && (rc = sh_migrate__push((void ***)&s->models, &s->count, &s->capacity, m)) < 0)
			sh_migrate__smodel_free(m);
	}
	if (rc < 0) {
		sh_migrate__state_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

sh__smodel *sh_migrate__state_find(const sh_state *s, const char *app_label, const char *name)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->models[i]->app_label, app_label) == 0
				&& strcasecmp(s->models[i]->name, name) == 0)
			return s->models[i];
	return NULL;
}

sh__smodel *sh_migrate__state_find_label(const sh_state *s, const char *label)
{
	const char *dot = strchr(label, '.');
	if (dot == NULL)
		return NULL;
	for (size_t i = 0; i < s->count; i++) {
		const sh__smodel *m = s->models[i];
		if (strlen(m->app_label) == (size_t)(dot - label)
				&& strncmp(m->app_label, label, (size_t)(dot - label)) == 0
				&& strcasecmp(m->name, dot + 1) == 0)
			return s->models[i];
	}
	return NULL;
}

/* Qualifies the relation targets of a copied definition in place. */
static int sh_migrate__qualify_decl(sh_field_decl *d, const char *app_label, const char *model)
{
	if (d->to != NULL) {
		char *q = sh_migrate__qualify(d->to, app_label, model);
		if (q == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		free((char *)d->to);
		d->to = q;
	}
	if (d->through != NULL) {
		char *q = sh_migrate__qualify(d->through, app_label, model);
		if (q == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		free((char *)d->through);
		d->through = q;
	}
	return 0;
}

int sh_migrate__smodel_add_field(sh__smodel *m, const sh_field_decl *decl)
{
	int rc = sh_migrate__fields_append(&m->fields, decl);
	if (rc == 0)
		rc = sh_migrate__qualify_decl(&m->fields.items[m->fields.count - 1], m->app_label, m->name);
	return rc;
}

int sh_migrate__smodel_set_field(sh__smodel *m, size_t index, const sh_field_decl *decl)
{
	sh_field_decl copy;
	int rc = sh_migrate__fdecl_copy(&copy, decl);
	if (rc == 0 && (rc = sh_migrate__qualify_decl(&copy, m->app_label, m->name)) < 0)
		sh_migrate__fdecl_dispose(&copy);
	if (rc < 0)
		return rc;
	sh_migrate__fdecl_dispose(&m->fields.items[index]);
	m->fields.items[index] = copy;
	return 0;
}

int sh_migrate__state_add(sh__smodel **out, sh_state *s, const char *app_label, const char *name,
	const sh__fields *fields, bool unmigrated, const char *where)
{
	sh__smodel *m = calloc(1, sizeof *m);
	if (m == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	bool oom = false;
	m->app_label = sh_migrate__dup(app_label, &oom);
	m->name = sh_migrate__dup(name, &oom);
	m->where = sh_migrate__dup(where, &oom);
	m->unmigrated = unmigrated;
	for (size_t i = 0; !oom && fields != NULL && i < fields->count; i++)
		oom = sh_migrate__smodel_add_field(m, &fields->items[i]) < 0;
	if (oom || sh_migrate__push((void ***)&s->models, &s->count, &s->capacity, m) < 0) {
		sh_migrate__smodel_free(m);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	sh_migrate__state_changed(s);
	if (out != NULL)
		*out = m;
	return 0;
}

void sh_migrate__state_remove(sh_state *s, sh__smodel *m)
{
	for (size_t i = 0; i < s->count; i++)
		if (s->models[i] == m) {
			memmove(&s->models[i], &s->models[i + 1], (s->count - i - 1) * sizeof *s->models);
			s->count--;
			break;
		}
	sh_migrate__smodel_free(m);
	sh_migrate__state_changed(s);
}

int sh_migrate__state_render(sh_models **out, sh_state *s)
{
	if (s->registry != NULL) {
		*out = s->registry;
		return 0;
	}
	sh_models *r;
	int rc = sh_models_new(&r, s->hub);
	for (size_t i = 0; rc == 0 && i < s->count; i++) {
		const sh__smodel *m = s->models[i];
		rc = sh_models_declare(r, m->app_label, m->name, m->fields.items, m->fields.count,
			m->where);
	}
	if (rc == 0)
		rc = sh_models_prepare(r);
	if (rc < 0) {
		if (rc != SH_ENOMEM) {
			char message[1024];
			snprintf(message, sizeof message, "%s", sh_error_last()->message);
			rc = sh_error_set(SH_EMANIFEST, "%s", message);
		}
		sh_models_free(r);
		return rc;
	}
	s->registry = r;
	*out = r;
	return 0;
}

/* The index of the model of label `label`, -1. */
static long sh_migrate__state_state_index(const sh_state *s, const char *label)
{
	const sh__smodel *m = sh_migrate__state_find_label(s, label);
	for (size_t i = 0; m != NULL && i < s->count; i++)
		if (s->models[i] == m)
			return (long)i;
	return -1;
}

int sh_migrate__state_render_part(sh_models **out, const sh_state *s, const char *app_label,
	const char *name)
{
	*out = NULL;
	bool *in = calloc(s->count + 1, sizeof *in);
	size_t *queue = calloc(s->count + 1, sizeof *queue);
	int rc = in && queue ? 0 : sh_error_set(SH_ENOMEM, "out of memory");
	size_t head = 0, tail = 0;
	const sh__smodel *start = rc == 0 ? sh_migrate__state_find(s, app_label, name) : NULL;
	for (size_t i = 0; start != NULL && i < s->count; i++)
		if (s->models[i] == start) {
			in[i] = true;
			queue[tail++] = i;
		}
	/* Every model the relations reach, so that preparing resolves them all. */
	while (head < tail) {
		const sh__smodel *m = s->models[queue[head++]];
		for (size_t k = 0; k < m->fields.count; k++) {
			const char *targets[2] = { m->fields.items[k].to, m->fields.items[k].through };
			for (size_t t = 0; t < 2; t++) {
				long j = targets[t] ? sh_migrate__state_state_index(s, targets[t]) : -1;
				if (j >= 0 && !in[j]) {
					in[j] = true;
					queue[tail++] = (size_t)j;
				}
			}
		}
	}
	sh_models *r = NULL;
	if (rc == 0)
		rc = sh_models_new(&r, s->hub);
	for (size_t i = 0; rc == 0 && i < s->count; i++)
		if (in[i])
			rc = sh_models_declare(r, s->models[i]->app_label, s->models[i]->name,
				s->models[i]->fields.items, s->models[i]->fields.count, s->models[i]->where);
	if (rc == 0)
		rc = sh_models_prepare(r);
	free(in);
	free(queue);
	if (rc < 0) {
		if (rc != SH_ENOMEM) {
			char message[1024];
			snprintf(message, sizeof message, "%s", sh_error_last()->message);
			rc = sh_error_set(SH_EMANIFEST, "%s", message);
		}
		sh_models_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

const sh_model *sh_migrate__state_model(const sh_state *s, const char *app_label, const char *name)
{
	if (s->registry == NULL)
		return NULL;
	char label[512];
	const sh_model *m = NULL;
	if ((size_t)snprintf(label, sizeof label, "%s.%s", app_label, name) < sizeof label)
		sh_models_lookup(&m, s->registry, label);
	return m;
}

const sh_models *sh_state_models(const sh_state *state)
{
	return state != NULL ? state->registry : NULL;
}

/* ---- models of a manifest ---- */

static int sh_migrate__state_collect(const sh_field_decl *field, void *payload)
{
	return sh_migrate__fields_append(payload, field);
}

int sh_migrate__state_add_manifest(sh_state *s, const sh_app *app, bool unmigrated,
	sh__problems *problems)
{
	const sh_value *models = sh_value_get(sh_app_manifest(app), "models");
	if (sh_value_type_of(models) != SH_VALUE_MAP)
		return 0;
	const char *label = sh_app_label(app);
	int rc = 0;
	for (size_t i = 0; rc >= 0 && i < models->count; i++) {
		const sh__entry *e = &models->entries[i];
		if (sh_manifest__value_entry(models, e->key) != e)
			continue;   /* a duplicate key, reported by the reader */
		sh__fields fields = { NULL, 0, 0 };
		rc = sh_app__fields_read(problems, label, e->key, sh_value_get(e->value, "fields"),
			sh_migrate__state_collect, &fields);
		char *where = rc >= 0 ? sh_base__format("%s:%u:%u", e->value->file, e->line, e->column) : NULL;
		if (rc >= 0 && where == NULL)
			rc = sh_error_set(SH_ENOMEM, "out of memory");
		if (rc >= 0)
			rc = sh_migrate__state_add(NULL, s, label, e->key, &fields, unmigrated, where);
		free(where);
		sh_migrate__fields_dispose(&fields);
	}
	return rc < 0 ? rc : 0;
}
