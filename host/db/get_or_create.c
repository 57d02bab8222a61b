/*
 * get_or_create.c: Django's QuerySet.get_or_create() and
 * update_or_create() (query.h).
 *
 * get_or_create, as Django's (django/db/models/query.py):
 *
 *     try: return self.get(**kwargs), False                 (outside any block)
 *     except DoesNotExist:
 *         params = {k: v for k in kwargs if "__" not in k} | defaults
 *         try:
 *             with transaction.atomic(): return self.create(**params), True
 *         except IntegrityError:
 *             try: return self.get(**kwargs), False
 *             except DoesNotExist: pass
 *             raise
 *
 * The lookup is outside the block, so two connections may both miss; the
 * second INSERT then fails on the unique constraint, its block rolls back
 * and the lookup finds the row the first one made.
 *
 * update_or_create wraps the whole in one block (Django's atomic around
 * select_for_update().get_or_create(): on SQLite the block's BEGIN
 * IMMEDIATE takes the write lock before the lookup, which is what the row
 * lock is for) and on a hit saves the defaults with update_fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

/* Django's MAX_GET_RESULTS: get() reads at most this many rows to say how
 * many matched. */
#define SH__MAX_GET_RESULTS 21

/* Django's get(**lookups): the one matching row, loaded. Returns 0 with
 * *out, SH_ENOTFOUND, SH_EINVAL (several rows or a bad lookup), or an
 * error. */
static int sh_db__get(sh_instance **out, sh_conn *db, const sh_model *model,
	const sh_field_value *lookups, size_t n)
{
	*out = NULL;
	sh_query *q;
	int rc = sh_query_new(&q, db, model);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = lookups[i].name != NULL ? sh_query_filter(q, lookups[i].name, lookups[i].value)
			: sh_error_set(SH_EINVAL, "get of %s: lookup %zu has no name", model->label, i);
	if (rc == 0)
		rc = sh_query_slice(q, 0, SH__MAX_GET_RESULTS);
	sh_instance *first = NULL;
	int found = 0;
	while (rc == 0) {
		sh_instance *inst;
		int step = sh_query_next(q, &inst);
		if (step < 0)
			rc = step;
		if (step <= 0)
			break;
		if (found++ == 0)
			first = inst;
		else
			sh_instance_free(inst);
	}
	sh_query_free(q);
	if (rc < 0 || found == 1) {
		if (rc < 0)
			sh_instance_free(first);
		else
			*out = first;
		return rc;
	}
	sh_instance_free(first);
	if (found == 0)
		return sh_error_set(SH_ENOTFOUND, "%s matching query does not exist", model->label);
	return sh_error_set(SH_EINVAL, "get() returned more than one %s -- it returned %s%d!",
		model->label, found == SH__MAX_GET_RESULTS ? "more than " : "",
		found == SH__MAX_GET_RESULTS ? SH__MAX_GET_RESULTS - 1 : found);
}

/* Django's _extract_model_params: the lookups without "__", then the
 * defaults (one of the same name takes the lookup's place); "pk" names the
 * primary key. */
static sh_field_value *sh_db__params(const sh_model *model, const sh_field_value *lookups,
	size_t nl, const sh_field_value *defaults, size_t nd, size_t *count)
{
	sh_field_value *params = malloc((nl + nd + 1) * sizeof *params);
	if (params == NULL)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < nl; i++) {
		if (strstr(lookups[i].name, "__") != NULL)
			continue;
		params[n] = lookups[i];
		if (strcmp(params[n].name, "pk") == 0)
			params[n].name = model->fields[model->pk].name;
		n++;
	}
	for (size_t i = 0; i < nd; i++) {
		size_t k = 0;
		while (k < n && strcmp(params[k].name, defaults[i].name) != 0)
			k++;
		params[k] = defaults[i];
		if (k == n)
			n++;
	}
	*count = n;
	return params;
}

/* Django raises FieldError for names that are not fields before creating
 * anything: so no pre_init is sent for them. */
static int sh_db__check_params(const sh_model *model, const sh_field_value *params, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const sh_field *f = sh_db__model_field(model, params[i].name);
		if (f == NULL || f->type == SH_FIELD_MANY_TO_MANY)
			return sh_error_set(SH_EINVAL, "Invalid field name(s) for model %s: '%s'.",
				model->label, params[i].name);
	}
	return 0;
}

/* Django's create(**params): the constructor, then save(force_insert=True). */
static int sh_db__create(sh_instance **out, sh_conn *db, const sh_model *model,
	const sh_field_value *params, size_t n)
{
	int rc = sh_instance_new(out, db, model, params, n);
	if (rc < 0)
		return rc;
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.force_insert = true;
	if ((rc = sh_instance_save(*out, &opts)) < 0) {
		sh_instance_free(*out);
		*out = NULL;
	}
	return rc;
}

static int sh_db__check_args(sh_instance **out, bool *created, const sh_conn *db,
	const sh_model *model,
	const sh_field_value *lookups, size_t nl, const sh_field_value *defaults, size_t nd)
{
	if (out == NULL || created == NULL || db == NULL || model == NULL
		|| (lookups == NULL && nl > 0) || (defaults == NULL && nd > 0))
		return sh_error_set(SH_EINVAL, "get_or_create: NULL argument");
	*out = NULL;
	*created = false;
	for (size_t i = 0; i < nd; i++)
		if (defaults[i].name == NULL)
			return sh_error_set(SH_EINVAL, "get_or_create of %s: default %zu has no name",
				model->label, i);
	for (size_t i = 0; i < nl; i++)
		if (lookups[i].name == NULL)
			return sh_error_set(SH_EINVAL, "get_or_create of %s: lookup %zu has no name",
				model->label, i);
	return 0;
}

int sh_get_or_create(sh_instance **out, bool *created, sh_conn *db, const sh_model *model,
	const sh_field_value *lookups, size_t lookup_count,
	const sh_field_value *defaults, size_t default_count)
{
	int rc = sh_db__check_args(out, created, db, model, lookups, lookup_count, defaults,
		default_count);
	if (rc < 0)
		return rc;
	rc = sh_db__get(out, db, model, lookups, lookup_count);
	if (rc != SH_ENOTFOUND)
		return rc;
	size_t n;
	sh_field_value *params = sh_db__params(model, lookups, lookup_count, defaults, default_count,
		&n);
	if (params == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory in get_or_create of %s", model->label);
	if ((rc = sh_db__check_params(model, params, n)) < 0) {
		free(params);
		return rc;
	}
	if ((rc = sh_atomic_begin(db)) == 0)
		rc = sh_atomic_end(db, sh_db__create(out, db, model, params, n));
	free(params);
	if (rc == 0) {
		*created = true;
		return 0;
	}
	if (*out != NULL) {   /* the commit failed after the save */
		sh_instance_free(*out);
		*out = NULL;
	}
	if (rc != SH_EINTEGRITY)
		return rc;
	/* Another connection created the row between our lookup and our
	 * INSERT: find it, or give the constraint's error back. */
	char reason[512];
	snprintf(reason, sizeof reason, "%s", sh_error_last()->message);
	int again = sh_db__get(out, db, model, lookups, lookup_count);
	if (again == SH_ENOTFOUND)
		return sh_error_set(SH_EINTEGRITY, "%s", reason);
	return again;
}

/* Django's update_fields for update_or_create: the defaults' names, plus
 * each field whose pre_save is its own (dates and datetimes here). */
static const char **sh_db__update_names(const sh_model *model, const sh_field_value *defaults,
	size_t nd, size_t *count)
{
	const char **names = malloc((nd + model->field_count + 1) * sizeof *names);
	if (names == NULL)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < nd; i++)
		names[n++] = defaults[i].name;
	for (size_t i = 0; i < model->field_count; i++) {
		const sh_field *f = &model->fields[i];
		if (f->primary_key || (f->type != SH_FIELD_DATE && f->type != SH_FIELD_DATETIME))
			continue;
		bool seen = false;
		for (size_t k = 0; k < nd && !seen; k++)
			seen = sh_db__model_field(model, defaults[k].name) == f;
		if (!seen)
			names[n++] = f->name;
	}
	*count = n;
	return names;
}

static int sh_db__update_hit(sh_instance *inst, const sh_field_value *defaults, size_t nd)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nd; i++)
		rc = sh_instance_set(inst, defaults[i].name, defaults[i].value);
	if (rc < 0)
		return rc;
	size_t n;
	const char **names = sh_db__update_names(inst->model, defaults, nd, &n);
	if (names == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory in update_or_create of %s",
			inst->model->label);
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.update_fields = names;   /* none: Django saves nothing and sends nothing */
	opts.update_fields_count = n;
	rc = sh_instance_save(inst, &opts);
	free(names);
	return rc;
}

int sh_update_or_create(sh_instance **out, bool *created, sh_conn *db, const sh_model *model,
	const sh_field_value *lookups, size_t lookup_count,
	const sh_field_value *defaults, size_t default_count)
{
	int rc = sh_db__check_args(out, created, db, model, lookups, lookup_count, defaults,
		default_count);
	if (rc < 0 || (rc = sh_atomic_begin(db)) < 0)
		return rc;
	rc = sh_get_or_create(out, created, db, model, lookups, lookup_count, defaults,
		default_count);
	if (rc == 0 && !*created)
		rc = sh_db__update_hit(*out, defaults, default_count);
	rc = sh_atomic_end(db, rc);
	if (rc < 0) {
		sh_instance_free(*out);
		*out = NULL;
		*created = false;
	}
	return rc;
}
