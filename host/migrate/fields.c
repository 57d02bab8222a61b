/*
 * fields.c: field definitions (sh_field_decl) that own their strings, as
 * the model state and the operations keep them, and comparing them the way
 * makemigrations does.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

int sh_migrate__fdecl_copy(sh_field_decl *dst, const sh_field_decl *src)
{
	bool oom = false;
	*dst = *src;
	dst->name = sh_migrate__dup(src->name, &oom);
	dst->to = sh_migrate__dup(src->to, &oom);
	dst->through = sh_migrate__dup(src->through, &oom);
	dst->related_name = sh_migrate__dup(src->related_name, &oom);
	dst->where = sh_migrate__dup(src->where, &oom);
	if (src->has_default && src->default_value.type == SH_DATUM_TEXT)
		dst->default_value.v.s = sh_migrate__dup(src->default_value.v.s, &oom);
	if (oom) {
		sh_migrate__fdecl_dispose(dst);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	return 0;
}

void sh_migrate__fdecl_dispose(sh_field_decl *d)
{
	free((char *)d->name);
	free((char *)d->to);
	free((char *)d->through);
	free((char *)d->related_name);
	free((char *)d->where);
	if (d->has_default && d->default_value.type == SH_DATUM_TEXT)
		free((char *)d->default_value.v.s);
	*d = (sh_field_decl)SH_FIELD_DECL_INIT;
}

char *sh_migrate__qualify(const char *target, const char *app_label, const char *model)
{
	if (target == NULL)
		return NULL;
	if (strchr(target, '.') != NULL)
		return strdup(target);
	if (strcmp(target, "self") == 0)
		return sh_base__format("%s.%s", app_label, model);
	return sh_base__format("%s.%s", app_label, target);
}

bool sh_migrate__label_eq(const char *a, const char *b)
{
	const char *da = strchr(a, '.'), *db = strchr(b, '.');
	if (da == NULL || db == NULL)
		return strcasecmp(a, b) == 0;
	return da - a == db - b && strncmp(a, b, (size_t)(da - a)) == 0
		&& strcasecmp(da + 1, db + 1) == 0;
}

static bool sh_migrate__str_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Relation targets: both qualified against the app, then compared. Bare
 * names cannot mean "self" here: the state and the manifests qualify
 * "self" before comparing. */
static bool sh_migrate__target_same(const char *a, const char *b, const char *app_label)
{
	if (a == NULL || b == NULL)
		return a == b;
	char *qa = sh_migrate__qualify(a, app_label, "?"), *qb = sh_migrate__qualify(b, app_label, "?");
	bool same = qa != NULL && qb != NULL && sh_migrate__label_eq(qa, qb);
	free(qa);
	free(qb);
	return same;
}

static bool sh_migrate__datum_same(sh_datum a, sh_datum b)
{
	if (a.type != b.type) {
		/* A real default may be read as an integer ("default: 1"). */
		if (a.type == SH_DATUM_REAL && b.type == SH_DATUM_INT)
			return a.v.r == (double)b.v.i;
		if (a.type == SH_DATUM_INT && b.type == SH_DATUM_REAL)
			return (double)a.v.i == b.v.r;
		return false;
	}
	switch (a.type) {
	case SH_DATUM_NULL: return true;
	case SH_DATUM_INT: return a.v.i == b.v.i;
	case SH_DATUM_REAL: return a.v.r == b.v.r || (isnan(a.v.r) && isnan(b.v.r));
	case SH_DATUM_TEXT: return strcmp(a.v.s, b.v.s) == 0;
	case SH_DATUM_BOOL: return a.v.b == b.v.b;
	}
	return false;
}

bool sh_migrate__fdecl_same(const sh_field_decl *a, const sh_field_decl *b, const char *app_label)
{
	if (strcmp(a->name, b->name) != 0 || a->type != b->type || a->null != b->null
			|| a->blank != b->blank || a->unique != b->unique
			|| a->db_index != b->db_index || a->primary_key != b->primary_key
			|| a->auto_now != b->auto_now || a->auto_now_add != b->auto_now_add
			|| a->max_length != b->max_length || a->has_default != b->has_default)
		return false;
	if (a->has_default && !sh_migrate__datum_same(a->default_value, b->default_value))
		return false;
	if (a->type == SH_FIELD_FOREIGN_KEY && a->on_delete != b->on_delete)
		return false;
	return sh_migrate__target_same(a->to, b->to, app_label)
		&& sh_migrate__target_same(a->through, b->through, app_label)
		&& sh_migrate__str_same(a->related_name, b->related_name);
}

int sh_migrate__fields_append(sh__fields *f, const sh_field_decl *decl)
{
	if (f->count == f->capacity) {
		size_t cap = f->capacity ? f->capacity * 2 : 8;
		sh_field_decl *grown = realloc(f->items, cap * sizeof *grown);
		if (grown == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		f->items = grown;
		f->capacity = cap;
	}
	int rc = sh_migrate__fdecl_copy(&f->items[f->count], decl);
	if (rc == 0)
		f->count++;
	return rc;
}

int sh_migrate__fields_copy(sh__fields *dst, const sh__fields *src)
{
	*dst = (sh__fields){ NULL, 0, 0 };
	for (size_t i = 0; i < src->count; i++) {
		int rc = sh_migrate__fields_append(dst, &src->items[i]);
		if (rc < 0) {
			sh_migrate__fields_dispose(dst);
			return rc;
		}
	}
	return 0;
}

long sh_migrate__fields_find(const sh__fields *f, const char *name)
{
	for (size_t i = 0; i < f->count; i++)
		if (strcasecmp(f->items[i].name, name) == 0)
			return (long)i;
	return -1;
}

void sh_migrate__fields_remove(sh__fields *f, size_t index)
{
	sh_migrate__fdecl_dispose(&f->items[index]);
	memmove(&f->items[index], &f->items[index + 1],
		(f->count - index - 1) * sizeof *f->items);
	f->count--;
}

void sh_migrate__fields_dispose(sh__fields *f)
{
	for (size_t i = 0; i < f->count; i++)
		sh_migrate__fdecl_dispose(&f->items[i]);
	free(f->items);
	*f = (sh__fields){ NULL, 0, 0 };
}
