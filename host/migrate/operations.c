/*
 * operations.c: what each operation does to the model state (Django's
 * state_forwards) and how Django describes and names it; what it does to
 * the database is in operations_db.c.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "db/db.h"
#include "internal.h"

static const char *const sh__op_names[SH__OP_KIND_COUNT] = {
	"create_model", "delete_model", "add_field", "remove_field", "alter_field",
	"rename_field", "rename_model", "add_index", "remove_index", "run_sql",
};

const char *sh_migrate__op_name(sh__op_kind kind)
{
	return kind < SH__OP_KIND_COUNT ? sh__op_names[kind] : "?";
}

void sh_migrate__op_dispose(sh__op *op)
{
	free(op->where);
	free(op->model);
	free(op->name);
	free(op->new_name);
	free(op->where_model);
	free(op->where_name);
	sh_migrate__fields_dispose(&op->fields);
	for (size_t i = 0; i < op->index_field_count; i++)
		free(op->index_fields[i]);
	free(op->index_fields);
	free(op->sql);
	free(op->reverse_sql);
	memset(op, 0, sizeof *op);
}

bool sh_migrate__op_reversible(const sh__op *op)
{
	return op->kind != SH__OP_RUN_SQL || op->reverse_sql != NULL;
}

/* ---- descriptions (Django's describe() and migration_name_fragment) ---- */

int sh_migrate__op_describe(char *buf, size_t size, const sh__op *op)
{
	char *lower = op->model ? sh_base__lower(op->model) : NULL;
	const char *m = lower ? lower : "?";
	int n;
	switch (op->kind) {
	case SH__OP_CREATE_MODEL: n = snprintf(buf, size, "Create model %s", op->model); break;
	case SH__OP_DELETE_MODEL: n = snprintf(buf, size, "Delete model %s", op->model); break;
	case SH__OP_ADD_FIELD: n = snprintf(buf, size, "Add field %s to %s", op->name, m); break;
	case SH__OP_REMOVE_FIELD:
		n = snprintf(buf, size, "Remove field %s from %s", op->name, m);
		break;
	case SH__OP_ALTER_FIELD: n = snprintf(buf, size, "Alter field %s on %s", op->name, m); break;
	case SH__OP_RENAME_FIELD:
		n = snprintf(buf, size, "Rename field %s on %s to %s", op->name, m, op->new_name);
		break;
	case SH__OP_RENAME_MODEL:
		n = snprintf(buf, size, "Rename model %s to %s", op->model, op->new_name);
		break;
	case SH__OP_ADD_INDEX: {
		char fields[256] = "";
		for (size_t i = 0; i < op->index_field_count; i++) {
			size_t len = strlen(fields);
			snprintf(fields + len, sizeof fields - len, "%s%s", i ? ", " : "",
				op->index_fields[i]);
		}
		n = snprintf(buf, size, "Create index %s on field(s) %s of model %s", op->name,
			fields, m);
		break;
	}
	case SH__OP_REMOVE_INDEX:
		n = snprintf(buf, size, "Remove index %s from %s", op->name, m);
		break;
	default: n = snprintf(buf, size, "Raw SQL operation"); break;
	}
	free(lower);
	return n;
}

void sh_migrate__op_fragment(char *buf, size_t size, const sh__op *op)
{
	char *m = op->model ? sh_base__lower(op->model) : NULL;
	char *f = op->name ? sh_base__lower(op->name) : NULL;
	char *nn = op->new_name ? sh_base__lower(op->new_name) : NULL;
	const char *M = m ? m : "", *F = f ? f : "", *N = nn ? nn : "";
	switch (op->kind) {
	case SH__OP_CREATE_MODEL: snprintf(buf, size, "%s", M); break;
	case SH__OP_DELETE_MODEL: snprintf(buf, size, "delete_%s", M); break;
	case SH__OP_ADD_FIELD: snprintf(buf, size, "%s_%s", M, F); break;
	case SH__OP_REMOVE_FIELD: snprintf(buf, size, "remove_%s_%s", M, F); break;
	case SH__OP_ALTER_FIELD: snprintf(buf, size, "alter_%s_%s", M, F); break;
	case SH__OP_RENAME_FIELD: snprintf(buf, size, "rename_%s_%s_%s", F, M, N); break;
	case SH__OP_RENAME_MODEL: snprintf(buf, size, "rename_%s_%s", M, N); break;
	case SH__OP_ADD_INDEX: snprintf(buf, size, "%s_%s", M, F); break;
	case SH__OP_REMOVE_INDEX: snprintf(buf, size, "remove_%s_%s", M, F); break;
	default: snprintf(buf, size, "%s", ""); break;
	}
	free(m);
	free(f);
	free(nn);
}

/* ---- the state ---- */

static int sh_migrate__fail(sh__problems *problems, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Raises SH_EMANIFEST "where: message" and records it when `problems`. */
static int sh_migrate__fail(sh__problems *problems, const char *where, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	if (problems != NULL)
		sh_migrate__problem_where(problems, SH_EMANIFEST, where, "%s", message);
	if (where != NULL)
		return sh_error_set(SH_EMANIFEST, "%s: %s", where, message);
	return sh_error_set(SH_EMANIFEST, "%s", message);
}

static const char *sh_migrate__at(const char *specific, const sh__op *op)
{
	return specific != NULL ? specific : op->where;
}

static sh__smodel *sh_migrate__need_model(const sh__op *op, const char *app, sh_state *s,
	sh__problems *problems, int *rc)
{
	sh__smodel *m = sh_migrate__state_find(s, app, op->model);
	if (m == NULL)
		*rc = sh_migrate__fail(problems, sh_migrate__at(op->where_model, op), "%s: no model '%s.%s' in the "
			"migration state (no earlier migration creates it)", sh_migrate__op_name(op->kind), app,
			op->model);
	return m;
}

static long sh_migrate__need_field(const sh__op *op, const char *app, const sh__smodel *m,
	const char *name, sh__problems *problems, int *rc)
{
	long i = sh_migrate__fields_find(&m->fields, name);
	if (i < 0)
		*rc = sh_migrate__fail(problems, sh_migrate__at(op->where_name, op), "%s: no field '%s' on %s.%s in "
			"the migration state", sh_migrate__op_name(op->kind), name, app, m->name);
	return i;
}

static bool sh_migrate__fields_same(const sh__fields *a, const sh__fields *b, const char *app)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++)
		if (!sh_migrate__fdecl_same(&a->items[i], &b->items[i], app))
			return false;
	return true;
}

/* Relations to `old` (a label) are made relations to `new`. */
static int sh_migrate__retarget(sh_state *s, const char *old, const char *new_label)
{
	for (size_t i = 0; i < s->count; i++) {
		sh__smodel *m = s->models[i];
		for (size_t k = 0; k < m->fields.count; k++) {
			sh_field_decl *f = &m->fields.items[k];
			const char **slots[2] = { &f->to, &f->through };
			for (size_t j = 0; j < 2; j++) {
				if (*slots[j] == NULL || !sh_migrate__label_eq(*slots[j], old))
					continue;
				char *copy = strdup(new_label);
				if (copy == NULL)
					return sh_error_set(SH_ENOMEM, "out of memory");
				free((char *)*slots[j]);
				*slots[j] = copy;
			}
		}
	}
	return 0;
}

long sh_migrate__index_find(const sh__smodel *m, const char *name)
{
	for (size_t i = 0; i < m->index_count; i++)
		if (strcasecmp(m->indexes[i].name, name) == 0)
			return (long)i;
	return -1;
}

static void sh_migrate__index_remove(sh__smodel *m, size_t i)
{
	free(m->indexes[i].name);
	for (size_t k = 0; k < m->indexes[i].count; k++)
		free(m->indexes[i].fields[k]);
	free(m->indexes[i].fields);
	memmove(&m->indexes[i], &m->indexes[i + 1], (m->index_count - i - 1) * sizeof *m->indexes);
	m->index_count--;
}

static int sh_migrate__index_add(sh__smodel *m, const sh__op *op)
{
	sh__index *grown = realloc(m->indexes, (m->index_count + 1) * sizeof *grown);
	if (grown == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	m->indexes = grown;
	sh__index *x = &m->indexes[m->index_count];
	bool oom = false;
	x->name = sh_migrate__dup(op->name, &oom);
	x->fields = calloc(op->index_field_count ? op->index_field_count : 1, sizeof *x->fields);
	x->count = 0;
	oom |= x->fields == NULL;
	for (size_t i = 0; !oom && i < op->index_field_count; i++)
		x->fields[x->count++] = sh_migrate__dup(op->index_fields[i], &oom);
	m->index_count++;
	if (oom) {
		sh_migrate__index_remove(m, m->index_count - 1);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	return 0;
}

static int sh_migrate__state_create(const sh__op *op, const char *app, sh_state *s, sh__problems *p)
{
	if (sh_migrate__state_find(s, app, op->model) != NULL)
		return sh_migrate__fail(p, sh_migrate__at(op->where_model, op), "create_model: model '%s.%s' already "
			"exists in the migration state", app, op->model);
	return sh_migrate__state_add(NULL, s, app, op->model, &op->fields, false, op->where);
}

static int sh_migrate__state_delete(const sh__op *op, const char *app, sh_state *s, sh__problems *p)
{
	int rc = 0;
	sh__smodel *m = sh_migrate__need_model(op, app, s, p, &rc);
	if (m == NULL)
		return rc;
	if (op->has_fields && !sh_migrate__fields_same(&op->fields, &m->fields, app))
		return sh_migrate__fail(p, op->where, "delete_model: the fields it keeps for %s.%s differ from "
			"the model's in the migration state", app, m->name);
	sh_migrate__state_remove(s, m);
	return 0;
}

static int sh_migrate__state_field(const sh__op *op, const char *app, sh_state *s, sh__problems *p)
{
	int rc = 0;
	sh__smodel *m = sh_migrate__need_model(op, app, s, p, &rc);
	if (m == NULL)
		return rc;
	long i = sh_migrate__fields_find(&m->fields, op->name);
	if (op->kind == SH__OP_ADD_FIELD) {
		if (i >= 0)
			return sh_migrate__fail(p, sh_migrate__at(op->where_name, op), "add_field: %s.%s already has a "
				"field '%s'", app, m->name, m->fields.items[i].name);
		rc = sh_migrate__smodel_add_field(m, &op->fields.items[0]);
	} else if ((i = sh_migrate__need_field(op, app, m, op->name, p, &rc)) < 0) {
		return rc;
	} else if (op->kind == SH__OP_REMOVE_FIELD) {
		if (op->has_fields && !sh_migrate__fdecl_same(&op->fields.items[0], &m->fields.items[i], app))
			return sh_migrate__fail(p, op->where, "remove_field: the definition it keeps for %s.%s.%s "
				"differs from the field's in the migration state", app, m->name, op->name);
		sh_migrate__fields_remove(&m->fields, (size_t)i);
		/* An index of the field goes with it, as its column does. */
		for (size_t k = m->index_count; k-- > 0;)
			for (size_t j = 0; j < m->indexes[k].count; j++)
				if (strcasecmp(m->indexes[k].fields[j], op->name) == 0) {
					sh_migrate__index_remove(m, k);
					break;
				}
	} else {
		const sh_field_decl *old = &m->fields.items[i], *new_def = &op->fields.items[0];
		bool old_m2m = old->type == SH_FIELD_MANY_TO_MANY;
		bool new_m2m = new_def->type == SH_FIELD_MANY_TO_MANY;
		if (old_m2m != new_m2m)
			return sh_migrate__fail(p, op->where, "alter_field: %s.%s.%s cannot change %s a "
				"many_to_many field; remove the field and add it again", app, m->name,
				op->name, old_m2m ? "from" : "into");
		if (old_m2m && ((old->through == NULL) != (new_def->through == NULL)
				|| (old->through != NULL && !sh_migrate__label_eq(old->through, new_def->through))))
			return sh_migrate__fail(p, op->where, "alter_field: %s.%s.%s cannot change its 'through' "
				"model; remove the field and add it again", app, m->name, op->name);
		rc = sh_migrate__smodel_set_field(m, (size_t)i, new_def);
	}
	sh_migrate__state_changed(s);
	return rc;
}

static int sh_migrate__state_rename_field(const sh__op *op, const char *app, sh_state *s,
	sh__problems *p)
{
	int rc = 0;
	sh__smodel *m = sh_migrate__need_model(op, app, s, p, &rc);
	long i = m ? sh_migrate__need_field(op, app, m, op->name, p, &rc) : -1;
	if (i < 0)
		return rc;
	long other = sh_migrate__fields_find(&m->fields, op->new_name);
	if (other >= 0 && other != i)
		return sh_migrate__fail(p, op->where, "rename_field: %s.%s already has a field '%s'", app,
			m->name, op->new_name);
	char *copy = strdup(op->new_name);
	if (copy == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	free((char *)m->fields.items[i].name);
	m->fields.items[i].name = copy;
	for (size_t k = 0; k < m->index_count; k++)
		for (size_t j = 0; j < m->indexes[k].count; j++)
			if (strcasecmp(m->indexes[k].fields[j], op->name) == 0) {
				char *name = strdup(op->new_name);
				if (name == NULL)
					return sh_error_set(SH_ENOMEM, "out of memory");
				free(m->indexes[k].fields[j]);
				m->indexes[k].fields[j] = name;
			}
	sh_migrate__state_changed(s);
	return 0;
}

static int sh_migrate__state_rename_model(const sh__op *op, const char *app, sh_state *s,
	sh__problems *p)
{
	int rc = 0;
	sh__smodel *m = sh_migrate__need_model(op, app, s, p, &rc);
	if (m == NULL)
		return rc;
	sh__smodel *other = sh_migrate__state_find(s, app, op->new_name);
	if (other != NULL && other != m)
		return sh_migrate__fail(p, sh_migrate__at(op->where_name, op), "rename_model: model '%s.%s' already "
			"exists in the migration state", app, other->name);
	char *old = sh_base__format("%s.%s", app, m->name), *new_label = sh_base__format("%s.%s", app, op->new_name);
	char *name = strdup(op->new_name);
	if (old == NULL || new_label == NULL || name == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	if (rc == 0)
		rc = sh_migrate__retarget(s, old, new_label);
	if (rc == 0) {
		free(m->name);
		m->name = name;
		name = NULL;
	}
	free(name);
	free(old);
	free(new_label);
	sh_migrate__state_changed(s);
	return rc;
}

static int sh_migrate__operations_state_index(const sh__op *op, const char *app, sh_state *s, sh__problems *p)
{
	int rc = 0;
	sh__smodel *m = sh_migrate__need_model(op, app, s, p, &rc);
	if (m == NULL)
		return rc;
	long i = sh_migrate__index_find(m, op->name);
	if (op->kind == SH__OP_REMOVE_INDEX) {
		if (i < 0)
			return sh_migrate__fail(p, sh_migrate__at(op->where_name, op), "remove_index: %s.%s has no index "
				"'%s' in the migration state", app, m->name, op->name);
		sh_migrate__index_remove(m, (size_t)i);
		sh_migrate__state_changed(s);
		return 0;
	}
	for (size_t k = 0; k < s->count; k++)
		if (sh_migrate__index_find(s->models[k], op->name) >= 0)
			return sh_migrate__fail(p, sh_migrate__at(op->where_name, op), "add_index: an index named '%s' "
				"exists already (on %s.%s)", op->name, s->models[k]->app_label,
				s->models[k]->name);
	for (size_t k = 0; k < op->index_field_count; k++) {
		long f = sh_migrate__need_field(op, app, m, op->index_fields[k], p, &rc);
		if (f < 0)
			return rc;
		if (m->fields.items[f].type == SH_FIELD_MANY_TO_MANY)
			return sh_migrate__fail(p, op->where, "add_index: %s.%s.%s is a many_to_many field, "
				"which has no column to index", app, m->name, op->index_fields[k]);
	}
	rc = sh_migrate__index_add(m, op);
	sh_migrate__state_changed(s);
	return rc;
}

int sh_migrate__op_state_forwards(const sh__op *op, const char *app, sh_state *s,
	sh__problems *problems)
{
	switch (op->kind) {
	case SH__OP_CREATE_MODEL: return sh_migrate__state_create(op, app, s, problems);
	case SH__OP_DELETE_MODEL: return sh_migrate__state_delete(op, app, s, problems);
	case SH__OP_ADD_FIELD:
	case SH__OP_REMOVE_FIELD:
	case SH__OP_ALTER_FIELD: return sh_migrate__state_field(op, app, s, problems);
	case SH__OP_RENAME_FIELD: return sh_migrate__state_rename_field(op, app, s, problems);
	case SH__OP_RENAME_MODEL: return sh_migrate__state_rename_model(op, app, s, problems);
	case SH__OP_ADD_INDEX:
	case SH__OP_REMOVE_INDEX: return sh_migrate__operations_state_index(op, app, s, problems);
	default: return 0;
	}
}
