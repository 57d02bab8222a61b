/*
 * operations_db.c: what each migration operation does to the database
 * (Django's database_forwards and database_backwards).
 *
 * The database side always works between two states: `from`, the state
 * before the change, and `to`, after it. Undoing an operation is the same
 * work with the states swapped (from: after the operation, to: before),
 * so an operation and its inverse share one function: add_field forwards
 * is remove_field backwards, and so on. The states are rendered into
 * registries on demand; the schema editor (editor.c) takes its DDL from
 * them.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "db/db.h"
#include "internal.h"

/* ---- the database ---- */

/* Django's effective_default: the value existing rows get for a field
 * that is added, or made NOT NULL. `now` holds the text of a date. */
static sh_datum sh_migrate__effective_default(const sh_field *f, char *now, size_t size)
{
	if (f->has_default)
		return f->default_value;
	if (!f->null && f->blank && f->type == SH_FIELD_TEXT)
		return sh_datum_text("");
	if ((f->auto_now || f->auto_now_add)
			&& (f->type == SH_FIELD_DATE || f->type == SH_FIELD_DATETIME)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		if (f->type == SH_FIELD_DATE)
			strftime(now, size, "%Y-%m-%d", &tm);
		else {
			char base[32];
			strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
			snprintf(now, size, "%s.%06ldZ", base, ts.tv_nsec / 1000);
		}
		return sh_datum_text(now);
	}
	return sh_datum_null();
}

/* The rendered model `app`.`name` of a state (rendering it). */
static int sh_migrate__rendered(const sh_model **out, sh_state *s, const char *app, const char *name)
{
	sh_models *r;
	int rc = sh_migrate__state_render(&r, s);
	if (rc < 0)
		return rc;
	*out = sh_migrate__state_model(s, app, name);
	if (*out == NULL)
		return sh_error_set(SH_EMANIFEST, "no model %s.%s in the state", app, name);
	return 0;
}

static const sh__smodel *sh_migrate__smodel_of(const sh_state *s, const sh_model *m)
{
	return sh_migrate__state_find(s, m->app_label, m->name);
}

#define SH__INDEXES(sm) ((sm) ? (sm)->indexes : NULL), ((sm) ? (sm)->index_count : 0)

/* Rebuilds `to_model` from `from_model` with `copies`. */
static int sh_migrate__remake(sqlite3 *db, const sh_model *from_model, const sh_model *to_model,
	const sh_state *to, const sh__copy *copies, size_t n)
{
	return sh_migrate__editor_remake(db, from_model->table, to_model, copies, n,
		SH__INDEXES(sh_migrate__smodel_of(to, to_model)));
}

/* After a change to `model`'s table, rebuilds the tables whose keys point
 * at it when their DDL changed (the type of a key follows its target's
 * primary key). */
static int sh_migrate__refresh_dependents(sqlite3 *db, const sh_model *model, sh_state *from,
	sh_state *to)
{
	for (size_t i = 0; i < model->reverse_fk_count; i++) {
		const sh_model *dep = model->reverse_fks[i].from;
		if (dep == model)
			continue;
		const sh_model *old = sh_migrate__state_model(from, dep->app_label, dep->name);
		if (old == NULL && dep->auto_created)
			continue;
		if (old == NULL)
			continue;
		char **a, **b;
		size_t an, bn;
		int rc = sh_db__schema_model_sql(old, &a, &an);
		if (rc < 0)
			return rc;
		if ((rc = sh_db__schema_model_sql(dep, &b, &bn)) < 0) {
			sh_db__schema_free(a, an);
			return rc;
		}
		bool same = strcmp(a[0], b[0]) == 0;
		sh_db__schema_free(a, an);
		sh_db__schema_free(b, bn);
		if (!same && (rc = sh_migrate__editor_remake_same(db, old, dep,
				SH__INDEXES(sh_migrate__smodel_of(to, dep)))) < 0)
			return rc;
	}
	return 0;
}

/* The rendered model `app`.`name` of `state` for work on that model and
 * its join tables only: the state's registry when it is rendered already,
 * else a registry of the model and what it points at, stored in *part
 * (the caller frees it). */
static int sh_migrate__rendered_alone(const sh_model **out, sh_models **part, sh_state *state,
	const char *app, const char *name)
{
	*part = NULL;
	if (state->registry != NULL)
		return sh_migrate__rendered(out, state, app, name);
	int rc = sh_migrate__state_render_part(part, state, app, name);
	if (rc < 0)
		return rc;
	char label[512];
	snprintf(label, sizeof label, "%s.%s", app, name);
	if (sh_models_lookup(out, *part, label) < 0)
		return sh_error_set(SH_EMANIFEST, "no model %s in the state", label);
	return 0;
}

static int sh_migrate__db_create(sqlite3 *db, const char *app, const char *name, sh_state *to)
{
	const sh_model *m;
	sh_models *part;
	int rc = sh_migrate__rendered_alone(&m, &part, to, app, name);
	if (rc == 0)
		rc = sh_migrate__editor_create(db, m);
	const sh__smodel *sm = rc == 0 ? sh_migrate__smodel_of(to, m) : NULL;
	for (size_t i = 0; rc == 0 && sm != NULL && i < sm->index_count; i++) {
		char *sql = sh_migrate__editor_index_sql(m, &sm->indexes[i]);
		rc = sql ? sh_migrate__exec(db, sql) : SH_ENOMEM;
		free(sql);
	}
	sh_models_free(part);
	return rc;
}

static int sh_migrate__db_delete(sqlite3 *db, const char *app, const char *name, sh_state *from)
{
	const sh_model *m;
	sh_models *part;
	int rc = sh_migrate__rendered_alone(&m, &part, from, app, name);
	if (rc == 0)
		rc = sh_migrate__editor_delete(db, m);
	sh_models_free(part);
	return rc;
}

/* Adds field `field` (present in `to`, not in `from`) of the model, `old`
 * in `from` and `new_model` in `to`. */
static int sh_migrate__add_field_models(sqlite3 *db, const sh_model *old, const sh_model *new_model,
	const char *field, sh_state *from, sh_state *to)
{
	int rc;
	const sh_field *f = sh_model_field(new_model, field);
	if (f == NULL)
		return sh_error_set(SH_EMANIFEST, "no field %s on %s", field, new_model->label);
	if (f->type == SH_FIELD_MANY_TO_MANY)
		return f->through->auto_created ? sh_migrate__editor_create(db, f->through) : 0;
	char **os, **ns;
	size_t on, nn;
	if ((rc = sh_db__schema_model_sql(old, &os, &on)) < 0)
		return rc;
	if ((rc = sh_db__schema_model_sql(new_model, &ns, &nn)) < 0) {
		sh_db__schema_free(os, on);
		return rc;
	}
	/* SQLite's ADD COLUMN appends ", <column>" to the stored CREATE TABLE,
	 * which gives exactly the model's DDL when the column is the last one
	 * and needs no value (Django takes this path for such fields too). */
	size_t ol = strlen(os[0]);
	bool simple = f->null && !f->unique && !f->primary_key && !f->has_default
		&& !f->auto_now && !f->auto_now_add && ol > 0
		&& strncmp(ns[0], os[0], ol - 1) == 0 && strncmp(ns[0] + ol - 1, ", ", 2) == 0;
	if (simple) {
		char *column = sh_base__format(" ADD COLUMN %.*s", (int)(strlen(ns[0]) - ol - 2), ns[0] + ol + 1);
		rc = column ? sh_migrate__exec_named(db, "ALTER TABLE ", new_model->table, column)
			: sh_error_set(SH_ENOMEM, "out of memory");
		free(column);
		const sh__smodel *fs = sh_migrate__smodel_of(from, old), *ts = sh_migrate__smodel_of(to, new_model);
		if (rc == 0)
			rc = sh_migrate__editor_sync_indexes(db, old, SH__INDEXES(fs), new_model, SH__INDEXES(ts));
	} else {
		char now[64];
		sh__copy *copies = calloc(new_model->field_count, sizeof *copies);
		size_t n = 0;
		if (copies == NULL)
			rc = sh_error_set(SH_ENOMEM, "out of memory");
		for (size_t i = 0; rc == 0 && i < new_model->field_count; i++) {
			const sh_field *c = &new_model->fields[i];
			if (c->column == NULL)
				continue;
			if (c == f) {
				copies[n++] = (sh__copy){ c->column, NULL, false,
					sh_migrate__effective_default(c, now, sizeof now) };
				continue;
			}
			const sh_field *o = sh_db__model_field(old, c->column);
			if (o != NULL && o->column != NULL)
				copies[n++] = (sh__copy){ c->column, o->column, false, sh_datum_null() };
		}
		if (rc == 0)
			rc = sh_migrate__remake(db, old, new_model, to, copies, n);
		free(copies);
	}
	sh_db__schema_free(os, on);
	sh_db__schema_free(ns, nn);
	return rc;
}

/* Removes field `field` (present in `from`, not in `to`). */
static int sh_migrate__remove_field_models(sqlite3 *db, const sh_model *old, const sh_model *new_model,
	const char *field, sh_state *to)
{
	const sh_field *f = sh_model_field(old, field);
	if (f == NULL)
		return sh_error_set(SH_EMANIFEST, "no field %s on %s", field, old->label);
	if (f->type == SH_FIELD_MANY_TO_MANY) {
		if (!f->through->auto_created)
			return 0;
		return sh_migrate__exec_named(db, "DROP TABLE ", f->through->table, "");
	}
	return sh_migrate__editor_remake_same(db, old, new_model,
		SH__INDEXES(sh_migrate__smodel_of(to, new_model)));
}

/* Alters field `field` from its `from` to its `to` definition (the same
 * name in both). */
static int sh_migrate__alter_field_models(sqlite3 *db, const sh_model *old, const sh_model *new_model,
	const char *field, sh_state *from, sh_state *to)
{
	int rc;
	const sh_field *of = sh_model_field(old, field), *nf = sh_model_field(new_model, field);
	if (of == NULL || nf == NULL)
		return sh_error_set(SH_EMANIFEST, "no field %s on %s", field, old->label);
	const sh__smodel *fs = sh_migrate__smodel_of(from, old), *ts = sh_migrate__smodel_of(to, new_model);
	if (nf->type == SH_FIELD_MANY_TO_MANY) {
		const sh_model *oj = of->through, *nj = nf->through;
		if (!oj->auto_created || !nj->auto_created)
			return 0;
		char **a, **b;
		size_t an, bn;
		if ((rc = sh_db__schema_model_sql(oj, &a, &an)) < 0)
			return rc;
		if ((rc = sh_db__schema_model_sql(nj, &b, &bn)) < 0) {
			sh_db__schema_free(a, an);
			return rc;
		}
		bool same = an == bn;
		for (size_t i = 0; same && i < an; i++)
			same = strcmp(a[i], b[i]) == 0;
		sh_db__schema_free(a, an);
		sh_db__schema_free(b, bn);
		if (same)
			return 0;
		/* Repoint the join table: its rows keep their keys, position by
		 * position (id, this side, the other side). */
		sh__copy copies[3];
		for (size_t i = 0; i < 3; i++)
			copies[i] = (sh__copy){ nj->fields[i].column, oj->fields[i].column, false,
				sh_datum_null() };
		return sh_migrate__editor_remake(db, oj->table, nj, copies, 3, NULL, 0);
	}
	char **a, **b;
	size_t an, bn;
	if ((rc = sh_db__schema_model_sql(old, &a, &an)) < 0)
		return rc;
	if ((rc = sh_db__schema_model_sql(new_model, &b, &bn)) < 0) {
		sh_db__schema_free(a, an);
		return rc;
	}
	bool same_table = strcmp(a[0], b[0]) == 0;
	sh_db__schema_free(a, an);
	sh_db__schema_free(b, bn);
	if (same_table)   /* only indexes (db_index) or nothing of the database changed */
		return sh_migrate__editor_sync_indexes(db, old, SH__INDEXES(fs), new_model, SH__INDEXES(ts));
	char now[64];
	sh__copy *copies = calloc(new_model->field_count, sizeof *copies);
	if (copies == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	size_t n = 0;
	for (size_t i = 0; i < new_model->field_count; i++) {
		const sh_field *c = &new_model->fields[i];
		if (c->column == NULL)
			continue;
		if (c == nf) {
			bool coalesce = of->null && !nf->null;
			copies[n++] = (sh__copy){ c->column, of->column, coalesce,
				coalesce ? sh_migrate__effective_default(nf, now, sizeof now) : sh_datum_null() };
			continue;
		}
		const sh_field *o = sh_db__model_field(old, c->column);
		if (o != NULL && o->column != NULL)
			copies[n++] = (sh__copy){ c->column, o->column, false, sh_datum_null() };
	}
	rc = sh_migrate__remake(db, old, new_model, to, copies, n);
	free(copies);
	if (rc == 0 && nf->primary_key)
		rc = sh_migrate__refresh_dependents(db, new_model, from, to);
	return rc;
}

/* The model in the states before and after a change of one of its
 * fields; registries of their own when the states are not rendered whole
 * (see sh_migrate__rendered_alone), freed by sh_migrate__pair_free(). */
typedef struct sh__pair {
	const sh_model *old;
	const sh_model *new_model;
	sh_models *parts[2];
} sh__pair;

static int sh_migrate__pair_get(sh__pair *p, const char *app, const char *from_name, sh_state *from,
	const char *to_name, sh_state *to)
{
	p->parts[1] = NULL;
	int rc = sh_migrate__rendered_alone(&p->old, &p->parts[0], from, app, from_name);
	if (rc == 0)
		rc = sh_migrate__rendered_alone(&p->new_model, &p->parts[1], to, app, to_name);
	return rc;
}

static void sh_migrate__pair_free(sh__pair *p)
{
	sh_models_free(p->parts[0]);
	sh_models_free(p->parts[1]);
}

static int sh_migrate__db_add_field(sqlite3 *db, const char *app, const char *model, const char *field,
	sh_state *from, sh_state *to)
{
	sh__pair p;
	int rc = sh_migrate__pair_get(&p, app, model, from, model, to);
	if (rc == 0)
		rc = sh_migrate__add_field_models(db, p.old, p.new_model, field, from, to);
	sh_migrate__pair_free(&p);
	return rc;
}

static int sh_migrate__db_remove_field(sqlite3 *db, const char *app, const char *model,
	const char *field, sh_state *from, sh_state *to)
{
	sh__pair p;
	int rc = sh_migrate__pair_get(&p, app, model, from, model, to);
	if (rc == 0)
		rc = sh_migrate__remove_field_models(db, p.old, p.new_model, field, to);
	sh_migrate__pair_free(&p);
	return rc;
}

static int sh_migrate__db_alter_field(sqlite3 *db, const char *app, const char *model,
	const char *field, sh_state *from, sh_state *to)
{
	/* A primary key's type reaches the keys that point at it: those
	 * tables are looked for in whole registries. */
	const sh__smodel *sm = sh_migrate__state_find(to, app, model);
	long i = sm ? sh_migrate__fields_find(&sm->fields, field) : -1;
	if (i >= 0 && sm->fields.items[i].primary_key) {
		const sh_model *old, *new_model;
		int rc = sh_migrate__rendered(&old, from, app, model);
		if (rc == 0)
			rc = sh_migrate__rendered(&new_model, to, app, model);
		return rc == 0 ? sh_migrate__alter_field_models(db, old, new_model, field, from, to) : rc;
	}
	sh__pair p;
	int rc = sh_migrate__pair_get(&p, app, model, from, model, to);
	if (rc == 0)
		rc = sh_migrate__alter_field_models(db, p.old, p.new_model, field, from, to);
	sh_migrate__pair_free(&p);
	return rc;
}

/* The join models of automatic many-to-many fields that a rename may
 * have renamed: every such field of `to`, matched with the same field of
 * `from` (the model looked up by its name there, `old_label` standing for
 * `new_label`). */
static int sh_migrate__morph_joins(sqlite3 *db, sh_models *from_r, sh_models *to_r,
	const char *old_label, const char *new_label)
{
	for (size_t i = 0; i < sh_models_count(to_r); i++) {
		const sh_model *m = sh_models_at(to_r, i);
		if (m->auto_created)
			continue;
		const sh_model *om = NULL;
		const char *label = new_label && sh_migrate__label_eq(m->label, new_label) ? old_label : m->label;
		if (sh_models_lookup(&om, from_r, label) < 0)
			continue;
		for (size_t k = 0; k < m->field_count; k++) {
			const sh_field *f = &m->fields[k];
			if (f->type != SH_FIELD_MANY_TO_MANY || !f->through->auto_created)
				continue;
			const sh_field *of = sh_model_field(om, f->name);
			if (of == NULL || of->type != SH_FIELD_MANY_TO_MANY || !of->through->auto_created)
				continue;
			int rc = sh_migrate__editor_morph(db, of->through, f->through, NULL, 0, NULL, 0);
			if (rc < 0)
				return rc;
		}
	}
	sh_error_clear();
	return 0;
}

/* A field renamed from `field_from` to `field_to`. */
static int sh_migrate__rename_field_models(sqlite3 *db, const sh_model *old, const sh_model *new_model,
	const char *field_from, const char *field_to, sh_state *from, sh_state *to)
{
	const sh__smodel *fs = sh_migrate__smodel_of(from, old), *ts = sh_migrate__smodel_of(to, new_model);
	const sh_field *of = sh_model_field(old, field_from), *nf = sh_model_field(new_model,
		field_to);
	if (of == NULL || nf == NULL)
		return sh_error_set(SH_EMANIFEST, "no field %s on %s", field_from, old->label);
	if (of->type == SH_FIELD_MANY_TO_MANY) {
		if (!of->through->auto_created)
			return 0;
		return sh_migrate__editor_morph(db, of->through, nf->through, NULL, 0, NULL, 0);
	}
	return sh_migrate__editor_morph(db, old, new_model, SH__INDEXES(fs), SH__INDEXES(ts));
}

/* A rename of a field or model: `from` and `to` name the same model,
 * differently for a model rename. */
static int sh_migrate__db_rename(sqlite3 *db, const char *app, const char *from_name,
	const char *to_name, const char *field_from, const char *field_to, sh_state *from,
	sh_state *to)
{
	if (field_from != NULL) {
		sh__pair p;
		int rc = sh_migrate__pair_get(&p, app, from_name, from, to_name, to);
		if (rc == 0)
			rc = sh_migrate__rename_field_models(db, p.old, p.new_model, field_from, field_to, from,
				to);
		sh_migrate__pair_free(&p);
		return rc;
	}
	const sh_model *old, *new_model;
	int rc = sh_migrate__rendered(&old, from, app, from_name);
	if (rc == 0)
		rc = sh_migrate__rendered(&new_model, to, app, to_name);
	if (rc < 0)
		return rc;
	const sh__smodel *fs = sh_migrate__smodel_of(from, old), *ts = sh_migrate__smodel_of(to, new_model);
	rc = sh_migrate__editor_morph(db, old, new_model, SH__INDEXES(fs), SH__INDEXES(ts));
	if (rc == 0)
		rc = sh_migrate__morph_joins(db, from->registry, to->registry, old->label, new_model->label);
	return rc;
}

static int sh_migrate__db_index(sqlite3 *db, const char *app, const sh__op *op, bool create,
	sh_state *state)
{
	if (!create)
		return sh_migrate__exec_named(db, "DROP INDEX ", op->name, "");
	const sh_model *m;
	int rc = sh_migrate__rendered(&m, state, app, op->model);
	if (rc < 0)
		return rc;
	const sh__smodel *sm = sh_migrate__smodel_of(state, m);
	long i = sm ? sh_migrate__index_find(sm, op->name) : -1;
	if (i < 0)
		return sh_error_set(SH_EMANIFEST, "no index %s in the state", op->name);
	char *sql = sh_migrate__editor_index_sql(m, &sm->indexes[i]);
	if (sql == NULL)
		return sh_error_last()->code < 0 ? sh_error_last()->code : SH_ENOMEM;
	rc = sh_migrate__exec(db, sql);
	free(sql);
	return rc;
}

int sh_migrate__op_database(const sh__op *op, const char *app, sqlite3 *db, sh_state *from,
	sh_state *to, bool backwards)
{
	switch (op->kind) {
	case SH__OP_CREATE_MODEL:
		return backwards ? sh_migrate__db_delete(db, app, op->model, from)
			: sh_migrate__db_create(db, app, op->model, to);
	case SH__OP_DELETE_MODEL:
		return backwards ? sh_migrate__db_create(db, app, op->model, to)
			: sh_migrate__db_delete(db, app, op->model, from);
	case SH__OP_ADD_FIELD:
		return backwards ? sh_migrate__db_remove_field(db, app, op->model, op->name, from, to)
			: sh_migrate__db_add_field(db, app, op->model, op->name, from, to);
	case SH__OP_REMOVE_FIELD:
		return backwards ? sh_migrate__db_add_field(db, app, op->model, op->name, from, to)
			: sh_migrate__db_remove_field(db, app, op->model, op->name, from, to);
	case SH__OP_ALTER_FIELD:
		return sh_migrate__db_alter_field(db, app, op->model, op->name, from, to);
	case SH__OP_RENAME_FIELD:
		return backwards
			? sh_migrate__db_rename(db, app, op->model, op->model, op->new_name, op->name, from, to)
			: sh_migrate__db_rename(db, app, op->model, op->model, op->name, op->new_name, from, to);
	case SH__OP_RENAME_MODEL:
		return backwards
			? sh_migrate__db_rename(db, app, op->new_name, op->model, NULL, NULL, from, to)
			: sh_migrate__db_rename(db, app, op->model, op->new_name, NULL, NULL, from, to);
	case SH__OP_ADD_INDEX:
		return backwards ? sh_migrate__db_index(db, app, op, false, from)
			: sh_migrate__db_index(db, app, op, true, to);
	case SH__OP_REMOVE_INDEX:
		return backwards ? sh_migrate__db_index(db, app, op, true, to)
			: sh_migrate__db_index(db, app, op, false, from);
	case SH__OP_RUN_SQL: {
		const char *sql = backwards ? op->reverse_sql : op->sql;
		if (sql == NULL)
			return sh_error_set(SH_EPERM, "run_sql has no reverse_sql: it cannot be unapplied");
		return sh_migrate__exec(db, sql);
	}
	default:
		return sh_error_set(SH_EINVAL, "unknown operation");
	}
}
