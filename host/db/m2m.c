/*
 * m2m.c: many-to-many relations from either side (instance.h's sh_m2m_*),
 * Django's ManyRelatedManager: add, remove, clear, set and reading the
 * related pks, each change in one transaction between a pre_ and a post_
 * m2m_changed: its own outside any atomic block; inside one no savepoint,
 * and a failure after the checks marks that block for rollback (Django's
 * atomic(savepoint=False)), as every operation of the model layer does.
 *
 * A relation is named by the instance's model: its many-to-many field
 * (forward) or the related_name of a many-to-many field of another model
 * that targets it (reverse). m2m_changed goes out with Django's arguments:
 * sender the join model, instance, reverse, model the class of the rows
 * added or removed, pk_set (sorted ascending; NULL for the clear actions),
 * using. As Django's: add() sends the pks not related yet (an empty, non-NULL
 * set when none is new, and both actions are still sent); remove() sends
 * every pk given (Django's _remove_items), related or not, and deletes the
 * join rows of those that were. The sends are skipped when nobody listens,
 * as Django's must_send_signals.
 *
 * Join rows are rows of the automatic join model: written with plain
 * INSERT and DELETE, never as instances, so they send no
 * pre_init/post_init/save/delete signal. An explicit `through` model has
 * fields of its own to fill: its rows are created and deleted as instances
 * of that model, and the sh_m2m_ changes refuse it (SH_EINVAL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

/* The empty pk set (non-NULL, so receivers tell it from clear's NULL). */
static const int64_t sh__no_pks[1] = { 0 };

static bool sh_db__hidden(const char *related_name)
{
	size_t n = strlen(related_name);
	return n > 0 && related_name[n - 1] == '+';
}

bool sh_db__m2m_relation(const sh_conn *db, const sh_model *m, const char *name, sh__rel *rel)
{
	const sh_field *f = sh_db__model_field(m, name);
	if (f != NULL && f->type == SH_FIELD_MANY_TO_MANY) {
		const sh_model *join = f->through;
		*rel = (sh__rel){ f, join, join->fields[f->through_source].column,
			join->fields[f->through_target].column, f->target, false, f->name };
		return true;
	}
	const sh__model_sql *msql = sh__sql_of(db, m);
	for (size_t i = 0; i < msql->reverse_m2m_count; i++) {
		const sh__reverse *r = &msql->reverse_m2m[i];
		const sh_field *g = &r->from->fields[r->field];
		if (g->related_name == NULL || sh_db__hidden(g->related_name)
			|| strcmp(g->related_name, name) != 0)
			continue;
		const sh_model *join = g->through;
		*rel = (sh__rel){ g, join, join->fields[g->through_target].column,
			join->fields[g->through_source].column, g->model, true, g->related_name };
		return true;
	}
	return false;
}

static int sh_db__m2m_resolve(const sh_instance *inst, const char *name, sh__rel *rel)
{
	if (inst == NULL || name == NULL)
		return sh_error_set(SH_EINVAL, "many-to-many: NULL instance or relation name");
	int rc = sh__attached(inst, "use the many-to-many relations of");
	if (rc < 0)
		return rc;
	if (sh_db__m2m_relation(inst->db, inst->model, name, rel))
		return 0;
	return sh_error_set(SH_EINVAL, "%s has no many-to-many relation '%s' (neither a field nor "
		"the related_name of one that points at it)", inst->model->label, name);
}

static int sh_db__need_pk(const sh_instance *inst, const sh__rel *rel)
{
	if (inst->values[inst->model->pk].type != SH_DATUM_INT)
		return sh_error_set(SH_EINVAL, "%s needs a primary key before its relation '%s' can be "
			"used: save it first", inst->model->label, rel->name);
	return 0;
}

static int sh_db__need_auto(const sh_instance *inst, const sh__rel *rel)
{
	if (rel->join->auto_created)
		return 0;
	return sh_error_set(SH_EINVAL, "%s.%s goes through the explicit model %s: create and "
		"delete %s instances instead (its own fields need values)", inst->model->label,
		rel->name, rel->join->label, rel->join->label);
}

static int sh_db__cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Copies pks sorted, without duplicates (Django works on sets). */
static int sh_db__sorted_set(const int64_t *pks, size_t count, int64_t **out, size_t *n)
{
	*out = malloc((count ? count : 1) * sizeof **out);
	if (*out == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory in a many-to-many change");
	if (count > 0) {
		memcpy(*out, pks, count * sizeof **out);
		qsort(*out, count, sizeof **out, sh_db__cmp_i64);
	}
	size_t k = 0;
	for (size_t i = 0; i < count; i++)
		if (k == 0 || (*out)[k - 1] != (*out)[i])
			(*out)[k++] = (*out)[i];
	*n = k;
	return 0;
}

/* Runs `sql` (cached) with the instance's pk and, when `has_key`, `key`. */
static int sh_db__rel_exec(sh_instance *inst, const char *sql, bool has_key, int64_t key,
	const char *what)
{
	sqlite3_stmt *stmt;
	int rc = sh_db__conn_prepare(inst->db, sql, &stmt);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, inst->values[inst->model->pk].v.i);
	if (has_key)
		sqlite3_bind_int64(stmt, 2, key);
	return sh_db__conn_exec(inst->db, stmt, what);
}

/* Builds one of the relation's statements. */
enum { SH__REL_SELECT, SH__REL_INSERT, SH__REL_DELETE, SH__REL_CLEAR };

static char *sh_db__rel_sql(const sh__rel *rel, int kind)
{
	sh__buf buf = { 0 };
	switch (kind) {
	case SH__REL_SELECT:
		sh_db__buf_add(&buf, "SELECT ");
		sh_db__buf_ident(&buf, rel->target);
		sh_db__buf_add(&buf, " FROM ");
		sh_db__buf_ident(&buf, rel->join->table);
		sh_db__buf_add(&buf, " WHERE ");
		sh_db__buf_ident(&buf, rel->source);
		sh_db__buf_add(&buf, " = ? ORDER BY ");
		sh_db__buf_ident(&buf, rel->target);
		break;
	case SH__REL_INSERT:
		sh_db__buf_add(&buf, "INSERT INTO ");
		sh_db__buf_ident(&buf, rel->join->table);
		sh_db__buf_add(&buf, " (");
		sh_db__buf_ident(&buf, rel->source);
		sh_db__buf_add(&buf, ", ");
		sh_db__buf_ident(&buf, rel->target);
		sh_db__buf_add(&buf, ") VALUES (?, ?)");
		break;
	default:
		sh_db__buf_add(&buf, "DELETE FROM ");
		sh_db__buf_ident(&buf, rel->join->table);
		sh_db__buf_add(&buf, " WHERE ");
		sh_db__buf_ident(&buf, rel->source);
		sh_db__buf_add(&buf, " = ?");
		if (kind == SH__REL_DELETE) {
			sh_db__buf_add(&buf, " AND ");
			sh_db__buf_ident(&buf, rel->target);
			sh_db__buf_add(&buf, " = ?");
		}
		break;
	}
	char *sql = sh_db__buf_take(&buf);
	if (sql == NULL)
		sh_error_set(SH_ENOMEM, "out of memory in a many-to-many change");
	return sql;
}

/* The related pks, ascending. */
static int sh_db__related(sh_instance *inst, const sh__rel *rel, int64_t **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	char *sql = sh_db__rel_sql(rel, SH__REL_SELECT);
	if (sql == NULL)
		return SH_ENOMEM;
	sqlite3_stmt *stmt;
	int rc = sh_db__conn_prepare(inst->db, sql, &stmt);
	free(sql);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, inst->values[inst->model->pk].v.i);
	size_t capacity = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (*count == capacity) {
			capacity = capacity ? 2 * capacity : 16;
			int64_t *grown = realloc(*out, capacity * sizeof *grown);
			if (grown == NULL) {
				sqlite3_reset(stmt);
				free(*out);
				*out = NULL;
				*count = 0;
				return sh_error_set(SH_ENOMEM, "out of memory reading a relation");
			}
			*out = grown;
		}
		(*out)[(*count)++] = sqlite3_column_int64(stmt, 0);
	}
	if (rc != SQLITE_DONE) {
		rc = sh_db__conn_error(inst->db, "reading a many-to-many relation");
		sqlite3_reset(stmt);
		free(*out);
		*out = NULL;
		*count = 0;
		return rc;
	}
	sqlite3_reset(stmt);
	return 0;
}

/* a \ b (in_b false) or a ∩ b (in_b true), both sorted; into out (room for na). */
static size_t sh_db__merge(const int64_t *a, size_t na, const int64_t *b, size_t nb, bool in_b,
	int64_t *out)
{
	size_t k = 0, j = 0;
	for (size_t i = 0; i < na; i++) {
		while (j < nb && b[j] < a[i])
			j++;
		bool found = j < nb && b[j] == a[i];
		if (found == in_b)
			out[k++] = a[i];
	}
	return k;
}

/* Checks that every pk is a row of the related model (and the instance a
 * row of its own), so a change never leaves a dangling join row. */
static int sh_db__check_rows(sh_instance *inst, const sh__rel *rel, const int64_t *pks, size_t n)
{
	sh_conn *db = inst->db;
	sqlite3_stmt *stmt;
	int rc = sh_db__model_stmt(db, sh__sql_of(db, inst->model), SH__SQL_EXISTS_PK, &stmt);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, inst->values[inst->model->pk].v.i);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW) {
		char text[128];
		return rc == SQLITE_DONE
			? sh_error_set(SH_ENOTFOUND, "%s has no row: its relation '%s' cannot change",
				sh_db__pk_text(inst, text, sizeof text), rel->name)
			: sh_db__conn_error(db, "checking a row exists");
	}
	if ((rc = sh_db__model_stmt(db, sh__sql_of(db, rel->other), SH__SQL_EXISTS_PK, &stmt)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(stmt, 1, pks[i]);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (rc == SQLITE_DONE)
			return sh_error_set(SH_ENOTFOUND, "%s matching pk=%lld does not exist (adding to "
				"%s.%s)", rel->other->label, (long long)pks[i], inst->model->label, rel->name);
		if (rc != SQLITE_ROW)
			return sh_db__conn_error(db, "checking a row exists");
	}
	return 0;
}

static int sh_db__send_m2m(sh_instance *inst, const sh__rel *rel, sh_m2m_action action,
	const int64_t *pks, size_t n, bool clear)
{
	sh_m2m_changed_args args = { action, inst, rel->reverse, rel->other,
		clear ? NULL : (n ? pks : sh__no_pks), clear ? 0 : n, SH_DB_DEFAULT_ALIAS };
	return sh_signal_send(sh__signal(inst->db, SH_M2M_CHANGED), rel->join->sender, &args, NULL);
}

/* Inserts (or deletes) the join rows of `pks`, between the pre_ and post_
 * sends of `pre`/`pre + 1`. The caller holds the operation's transaction. */
static int sh_db__change(sh_instance *inst, const sh__rel *rel, sh_m2m_action pre,
	const int64_t *pks, size_t n)
{
	bool hear = sh_signal_has_listeners(sh__signal(inst->db, SH_M2M_CHANGED), rel->join->sender);
	int rc = hear ? sh_db__send_m2m(inst, rel, pre, pks, n, false) : 0;
	if (rc < 0)
		return rc;
	bool adding = pre == SH_M2M_PRE_ADD;
	char *sql = n ? sh_db__rel_sql(rel, adding ? SH__REL_INSERT : SH__REL_DELETE) : NULL;
	if (n && sql == NULL)
		return SH_ENOMEM;
	char what[192];
	snprintf(what, sizeof what, "%s %s.%s", adding ? "adding to" : "removing from",
		inst->model->label, rel->name);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = sh_db__rel_exec(inst, sql, true, pks[i], what);
	free(sql);
	if (rc == 0 && hear)
		rc = sh_db__send_m2m(inst, rel, (sh_m2m_action)(pre + 1), pks, n, false);
	return rc;
}

/* Prepares an add or remove: resolves, checks, and computes the pks that
 * change (into *change, allocated). */
static int sh_db__plan(sh_instance *inst, const char *name, const int64_t *pks, size_t count,
	bool adding, sh__rel *rel, int64_t **change, size_t *n)
{
	*change = NULL;
	*n = 0;
	int rc;
	if ((rc = sh_db__m2m_resolve(inst, name, rel)) < 0 || (rc = sh_db__need_auto(inst, rel)) < 0
		|| (rc = sh_db__need_pk(inst, rel)) < 0)
		return rc;
	if (pks == NULL && count > 0)
		return sh_error_set(SH_EINVAL, "many-to-many: NULL pks");
	int64_t *ids, *current;
	size_t nids, ncurrent;
	if ((rc = sh_db__sorted_set(pks, count, &ids, &nids)) < 0)
		return rc;
	if (!adding) {   /* remove: every pk given (Django's _remove_items) */
		*n = nids;
		*change = ids;
		return 0;
	}
	if ((rc = sh_db__check_rows(inst, rel, ids, nids)) < 0
		|| (rc = sh_db__related(inst, rel, &current, &ncurrent)) < 0) {
		free(ids);
		return rc;
	}
	/* add: the ones not related yet (Django's _get_missing_target_ids) */
	*n = sh_db__merge(ids, nids, current, ncurrent, false, ids);
	*change = ids;
	free(current);
	return 0;
}

static int sh_db__add_or_remove(sh_instance *instance, const char *name, const int64_t *pks,
	size_t count, bool adding)
{
	if (instance == NULL || name == NULL)
		return sh_error_set(SH_EINVAL, "many-to-many: NULL instance or relation name");
	sh__rel rel;
	int64_t *change;
	size_t n;
	if (count == 0) {
		/* Django's add() and remove() of nothing send nothing, but the
		 * relation must still exist. */
		int rc = sh_db__m2m_resolve(instance, name, &rel);
		return rc < 0 ? rc : sh_db__need_auto(instance, &rel);
	}
	int rc = sh_db__plan(instance, name, pks, count, adding, &rel, &change, &n);
	if (rc < 0)
		return rc;
	bool own;
	if ((rc = sh__op_begin(instance->db, &own)) == 0)
		rc = sh_db__op_end(instance->db, own,
			sh_db__change(instance, &rel, adding ? SH_M2M_PRE_ADD : SH_M2M_PRE_REMOVE, change, n),
			adding ? "adding to" : "removing from", rel.join->label);
	free(change);
	return rc;
}

int sh_m2m_add(sh_instance *instance, const char *name, const int64_t *pks, size_t count)
{
	return sh_db__add_or_remove(instance, name, pks, count, true);
}

int sh_m2m_remove(sh_instance *instance, const char *name, const int64_t *pks, size_t count)
{
	return sh_db__add_or_remove(instance, name, pks, count, false);
}

/* The checks of every change: the relation exists, goes through an
 * automatic join model, and the instance has a pk; pks are not NULL. */
static int sh_db__changeable(sh_instance *instance, const char *name, const int64_t *pks,
	size_t count, sh__rel *rel)
{
	int rc;
	if ((rc = sh_db__m2m_resolve(instance, name, rel)) < 0 || (rc = sh_db__need_auto(instance, rel)) < 0
		|| (rc = sh_db__need_pk(instance, rel)) < 0)
		return rc;
	if (pks == NULL && count > 0)
		return sh_error_set(SH_EINVAL, "many-to-many: NULL pks");
	return 0;
}

int sh_m2m_clear(sh_instance *instance, const char *name)
{
	sh__rel rel;
	int rc = sh_db__changeable(instance, name, NULL, 0, &rel);
	if (rc < 0)
		return rc;
	char *sql = sh_db__rel_sql(&rel, SH__REL_CLEAR);
	if (sql == NULL)
		return SH_ENOMEM;
	bool hear = sh_signal_has_listeners(sh__signal(instance->db, SH_M2M_CHANGED), rel.join->sender);
	bool own;
	if ((rc = sh__op_begin(instance->db, &own)) == 0) {
		if (hear)
			rc = sh_db__send_m2m(instance, &rel, SH_M2M_PRE_CLEAR, NULL, 0, true);
		char what[192];
		snprintf(what, sizeof what, "clearing %s.%s", instance->model->label, name);
		if (rc == 0)
			rc = sh_db__rel_exec(instance, sql, false, 0, what);
		if (rc == 0 && hear)
			rc = sh_db__send_m2m(instance, &rel, SH_M2M_POST_CLEAR, NULL, 0, true);
		rc = sh_db__op_end(instance->db, own, rc, "clearing", rel.join->label);
	}
	free(sql);
	return rc;
}

static int sh_db__set(sh_instance *instance, const char *name, const int64_t *pks, size_t count,
	bool check);

int sh_m2m_set(sh_instance *instance, const char *name, const int64_t *pks, size_t count)
{
	return sh_db__set(instance, name, pks, count, true);
}

int sh_m2m_set_unchecked(sh_instance *instance, const char *name, const int64_t *pks,
	size_t count)
{
	return sh_db__set(instance, name, pks, count, false);
}

static int sh_db__set(sh_instance *instance, const char *name, const int64_t *pks, size_t count,
	bool check)
{
	sh__rel rel;
	int rc = sh_db__changeable(instance, name, pks, count, &rel);
	if (rc < 0)
		return rc;
	int64_t *ids = NULL, *current = NULL, *gone = NULL, *fresh = NULL;
	size_t nids = 0, ncurrent = 0;
	if ((rc = sh_db__sorted_set(pks, count, &ids, &nids)) == 0
		&& (!check || (rc = sh_db__check_rows(instance, &rel, ids, nids)) == 0)
		&& (rc = sh_db__related(instance, &rel, &current, &ncurrent)) == 0) {
		gone = malloc((ncurrent ? ncurrent : 1) * sizeof *gone);
		fresh = malloc((nids ? nids : 1) * sizeof *fresh);
		if (gone == NULL || fresh == NULL)
			rc = sh_error_set(SH_ENOMEM, "out of memory in a many-to-many change");
	}
	bool own;
	if (rc == 0 && (rc = sh__op_begin(instance->db, &own)) == 0) {
		/* Django's set(): remove those no longer wanted, then add the new. */
		size_t ngone = sh_db__merge(current, ncurrent, ids, nids, false, gone);
		size_t nfresh = sh_db__merge(ids, nids, current, ncurrent, false, fresh);
		if (ngone > 0)
			rc = sh_db__change(instance, &rel, SH_M2M_PRE_REMOVE, gone, ngone);
		if (rc == 0 && nfresh > 0)
			rc = sh_db__change(instance, &rel, SH_M2M_PRE_ADD, fresh, nfresh);
		rc = sh_db__op_end(instance->db, own, rc, "setting", rel.join->label);
	}
	free(ids);
	free(current);
	free(gone);
	free(fresh);
	return rc;
}

int sh_m2m_set_clear(sh_instance *instance, const char *name, const int64_t *pks, size_t count)
{
	sh__rel rel;
	int rc = sh_db__changeable(instance, name, pks, count, &rel);
	if (rc < 0)
		return rc;
	int64_t *ids = NULL;
	size_t nids = 0;
	if ((rc = sh_db__sorted_set(pks, count, &ids, &nids)) == 0)
		rc = sh_db__check_rows(instance, &rel, ids, nids);
	free(ids);
	if (rc < 0)
		return rc;
	/* Django's set(clear=True): clear(), then add(*objs), in one
	 * atomic(savepoint=False); both are blocks of their own inside it. */
	bool own;
	if ((rc = sh__op_begin(instance->db, &own)) == 0) {
		rc = sh_m2m_clear(instance, name);
		if (rc == 0)
			rc = sh_m2m_add(instance, name, pks, count);
		rc = sh_db__op_end(instance->db, own, rc, "setting", rel.join->label);
	}
	return rc;
}

int sh_m2m_create(sh_instance **out, sh_instance *instance, const char *name,
	const sh_field_value *values, size_t count)
{
	if (out == NULL)
		return sh_error_set(SH_EINVAL, "sh_m2m_create: NULL argument");
	*out = NULL;
	sh__rel rel;
	int rc = sh_db__changeable(instance, name, NULL, 0, &rel);
	if (rc < 0)
		return rc;
	/* Django: QuerySet.create(**kwargs) on the related model (its
	 * constructor, then save(force_insert=True)), then self.add(new_obj). */
	sh_instance *obj;
	if ((rc = sh_instance_new(&obj, instance->db, rel.other, values, count)) < 0)
		return rc;
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.force_insert = true;
	if ((rc = sh_instance_save(obj, &opts)) == 0) {
		int64_t pk = sh_instance_pk(obj);
		rc = sh_m2m_add(instance, name, &pk, 1);
	}
	if (rc < 0) {
		sh_instance_free(obj);
		return rc;
	}
	*out = obj;
	return 0;
}

int sh_m2m_pks(sh_instance *instance, const char *name, int64_t **out, size_t *count)
{
	if (out == NULL || count == NULL)
		return sh_error_set(SH_EINVAL, "sh_m2m_pks: NULL argument");
	*out = NULL;
	*count = 0;
	sh__rel rel;
	int rc;
	if ((rc = sh_db__m2m_resolve(instance, name, &rel)) < 0 || (rc = sh_db__need_pk(instance, &rel)) < 0)
		return rc;
	return sh_db__related(instance, &rel, out, count);
}
