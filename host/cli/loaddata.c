/*
 * loaddata.c: `sighost loaddata FILE... [--settings FILE]`, Django's
 * loaddata for JSON fixtures (the format dumpdata.c writes).
 *
 * As Django's (django/core/management/commands/loaddata.py and
 * django/core/serializers/python.py), all in one transaction:
 *
 *   for each object, in file order:
 *     Model(**data)            pre_init (kwargs: the pk's field, then the
 *                              fields in the file's order, keys by their
 *                              column "<name>_id"), post_init
 *     save_base(raw=True)      pre_save raw=True, UPDATE by pk or INSERT,
 *                              post_save raw=True (created: inserted)
 *     for each many-to-many:   relation.set(pks): m2m_changed as set() sends
 *   then every foreign key is checked (Django's check_constraints), and
 *   the transaction commits: "Installed N object(s) from M fixture(s)".
 *
 * A key may point at an object later in the fixture (raw saves defer the
 * key check to the end, as Django disables constraint checks while it
 * loads). Any problem rolls everything back, prints what and where
 * ("FILE: object 3 (shop.item pk=7): field 'price': ...") and exits 1;
 * a usage error exits 2. A fixture file may be at most
 * SH_CLI_FIXTURE_MAX bytes (64 MiB).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "fixture.h"
#include "project_open.h"

/* Where an object is, for messages: "FILE: object N (label pk=P)". */
typedef struct where {
	const char *file;
	size_t index;          /* 1-based */
	char label[256];
	char pk[64];
} where;

static int fail(const where *w, const char *field, int code, const char *reason)
{
	char what[512];
	snprintf(what, sizeof what, "%s: object %zu", w->file, w->index);
	if (w->label[0] != '\0')
		snprintf(what + strlen(what), sizeof what - strlen(what), " (%s%s%s)", w->label,
			w->pk[0] ? " pk=" : "", w->pk);
	if (field != NULL)
		return sh_error_set(code, "%s: field '%s': %s", what, field, reason);
	return sh_error_set(code, "%s: %s", what, reason);
}

/* The last error's message, copied before the next sh_error_set. */
static const char *last(char *buf, size_t size)
{
	snprintf(buf, size, "%s", sh_error_last()->message);
	return buf;
}

/* A fixture's values for sh_instance_new() and its many-to-many lists. */
typedef struct values {
	sh_field_value *kw;
	char **texts;          /* JSON fields' text, freed after the save */
	size_t count;
	const sh_field **m2m;
	const json_t **m2m_lists;
	size_t m2m_count;
} values;

static void values_free(values *v)
{
	for (size_t i = 0; i < v->count; i++)
		free(v->texts[i]);
	free(v->kw);
	free(v->texts);
	free(v->m2m);
	free(v->m2m_lists);
}

static int add_value(values *v, const where *w, const sh_field *f, const json_t *json)
{
	size_t i = v->count;
	int rc = sh_cli_fixture_datum(&v->kw[i].value, &v->texts[i], f, json);
	if (rc < 0) {
		char reason[512];
		return fail(w, sh_field_name(f), rc, last(reason, sizeof reason));
	}
	/* Django's data[field.attname]: a key goes by its column */
	v->kw[i].name = sh_field_type_of(f) == SH_FIELD_FOREIGN_KEY ? sh_field_column(f)
		: sh_field_name(f);
	v->count++;
	return 0;
}

/* Reads "pk" and "fields" of one object into v. */
static int read_values(values *v, const where *w, const sh_model *m, const json_t *obj)
{
	const json_t *fields = json_object_get(obj, "fields");
	const json_t *pk = json_object_get(obj, "pk");
	if (!json_is_object(fields))
		return fail(w, NULL, SH_EINVAL, "it has no \"fields\" object");
	size_t n = json_object_size(fields) + 1;
	v->kw = calloc(n, sizeof *v->kw);
	v->texts = calloc(n, sizeof *v->texts);
	v->m2m = calloc(n, sizeof *v->m2m);
	v->m2m_lists = calloc(n, sizeof *v->m2m_lists);
	if (v->kw == NULL || v->texts == NULL || v->m2m == NULL || v->m2m_lists == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory loading %s", w->file);
	int rc = 0;
	if (pk != NULL && !json_is_null(pk))
		rc = add_value(v, w, sh_model_pk(m), pk);
	const char *name;
	const json_t *value;
	json_object_foreach((json_t *)fields, name, value) {
		if (rc < 0)
			break;
		const sh_field *f = sh_model_field(m, name);
		if (f == NULL || sh_field_primary_key(f)) {
			char reason[300];
			snprintf(reason, sizeof reason, "%s has no field named '%s'%s", sh_model_label(m),
				name, f != NULL ? " (the primary key goes in \"pk\")" : "");
			return fail(w, NULL, SH_EINVAL, reason);
		}
		if (sh_field_type_of(f) != SH_FIELD_MANY_TO_MANY) {
			rc = add_value(v, w, f, value);
			continue;
		}
		if (!json_is_array(value))
			return fail(w, name, SH_EINVAL, "a many-to-many field takes a list of pks");
		size_t k;
		const json_t *item;
		json_array_foreach(value, k, item)
			if (!json_is_integer(item))
				return fail(w, name, SH_EINVAL, "a many-to-many field takes a list of "
					"integer pks");
		v->m2m[v->m2m_count] = f;
		v->m2m_lists[v->m2m_count++] = value;
	}
	return rc;
}

static int set_m2m(sh_instance *inst, const where *w, const sh_field *f, const json_t *list)
{
	size_t n = json_array_size(list);
	int64_t *pks = malloc((n ? n : 1) * sizeof *pks);
	if (pks == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory loading %s", w->file);
	for (size_t i = 0; i < n; i++)
		pks[i] = json_integer_value(json_array_get(list, i));
	/* later objects may be named: the keys are checked at the end */
	int rc = sh_m2m_set_unchecked(inst, sh_field_name(f), pks, n);
	free(pks);
	char reason[512];
	return rc < 0 ? fail(w, sh_field_name(f), rc, last(reason, sizeof reason)) : 0;
}

/* Loads one object: construct, raw save, many-to-many sets. */
static int load_object(sh_conn *db, sh_models *models, where *w, const json_t *obj)
{
	char reason[512];
	if (!json_is_object(obj))
		return fail(w, NULL, SH_EINVAL, "it is not a JSON object");
	const char *label = json_string_value(json_object_get(obj, "model"));
	if (label == NULL)
		return fail(w, NULL, SH_EINVAL, "it has no \"model\" string");
	snprintf(w->label, sizeof w->label, "%s", label);
	const json_t *pk = json_object_get(obj, "pk");
	if (json_is_integer(pk))
		snprintf(w->pk, sizeof w->pk, "%lld", (long long)json_integer_value(pk));
	else if (json_is_string(pk))
		snprintf(w->pk, sizeof w->pk, "'%.40s'", json_string_value(pk));
	const sh_model *m;
	if (sh_models_lookup(&m, models, label) < 0)
		return fail(w, NULL, SH_EINVAL, "no installed app declares this model");
	if (sh_model_auto_created(m))
		return fail(w, NULL, SH_EINVAL, "an automatic join model: give its rows as the "
			"many-to-many field's list of pks");
	values v = { 0 };
	int rc = read_values(&v, w, m, obj);
	sh_instance *inst = NULL;
	if (rc == 0 && (rc = sh_instance_new(&inst, db, m, v.kw, v.count)) < 0)
		rc = fail(w, NULL, rc, last(reason, sizeof reason));
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.raw = true;
	if (rc == 0 && (rc = sh_instance_save(inst, &opts)) < 0)
		rc = fail(w, NULL, rc, last(reason, sizeof reason));
	for (size_t i = 0; rc == 0 && i < v.m2m_count; i++)
		rc = set_m2m(inst, w, v.m2m[i], v.m2m_lists[i]);
	sh_instance_free(inst);
	values_free(&v);
	return rc;
}

static json_t *read_fixture(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		sh_error_set(SH_EIO, "%s: cannot read the fixture: %m", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > SH_CLI_FIXTURE_MAX) {
		sh_error_set(SH_EINVAL, "%s: %s", path, !S_ISREG(st.st_mode) ? "not a regular file"
			: "larger than the 64 MiB a fixture may have");
		return NULL;
	}
	json_error_t err;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL)
		sh_error_set(SH_EINVAL, "%s:%d:%d: %s", path, err.line, err.column, err.text);
	else if (!json_is_array(root)) {
		sh_error_set(SH_EINVAL, "%s: a fixture is a JSON list of objects", path);
		json_decref(root);
		root = NULL;
	}
	return root;
}

static int load_files(sh_conn *db, sh_models *models, char **files, int count, size_t *objects)
{
	int rc = 0;
	for (int i = 0; rc == 0 && i < count; i++) {
		json_t *root = read_fixture(files[i]);
		if (root == NULL)
			return SH_EINVAL;
		size_t k;
		json_t *obj;
		json_array_foreach(root, k, obj) {
			where w = { files[i], k + 1, "", "" };
			if ((rc = load_object(db, models, &w, obj)) < 0)
				break;
			(*objects)++;
		}
		json_decref(root);
	}
	/* Django's connection.check_constraints() after loading */
	return rc == 0 ? sh_db_check_keys(db) : rc;
}

int sh_cli_loaddata(int argc, char **argv)
{
	const char *settings;
	if (sh_cli_settings_only(argc, argv, &settings) != 0)
		return 2;
	if (optind >= argc) {
		fprintf(stderr, "usage: sighost loaddata FILE... [--settings FILE]\n");
		return 2;
	}
	sh_project *project = sh_cli_project(settings, true, "loaddata");
	if (project == NULL)
		return 1;
	sh_conn *db = NULL;
	int rc = sh_cli_conn(&db, project);
	size_t objects = 0;
	if (rc == 0 && (rc = sh_atomic_begin(db)) == 0) {
		rc = load_files(db, sh_project_models(project), argv + optind, argc - optind, &objects);
		char reason[1024];
		if (rc < 0)
			last(reason, sizeof reason);
		int end = sh_atomic_end(db, rc);
		if (rc < 0)
			sh_error_set(rc, "%s", reason);   /* the object's message, not the rollback's */
		rc = end;
	}
	if (rc < 0)
		fprintf(stderr, "sighost loaddata: %s\nnothing was loaded\n", sh_error_last()->message);
	else
		printf("Installed %zu object(s) from %d fixture(s)\n", objects, argc - optind);
	sh_project_free(project);
	return rc < 0 ? 1 : 0;
}
