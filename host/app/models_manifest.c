/*
 * models_manifest.c: the `models` section of app manifests (see
 * docs/models.md), checked against tables of keys like every section, and
 * turned into declarations of the project's model registry:
 *
 *     models:
 *       Alert:
 *         fields:
 *           content: {type: text, max_length: 200}
 *           owner: {type: foreign_key, to: Owner, on_delete: cascade, null: true}
 *
 * This file checks the shape (keys, types, which options fit which field
 * type, type and on_delete names) with the position of each key; the
 * registry checks the rest (names, defaults, primary keys, relations) and
 * reports through sh_app__models_reporter, with the "file:line:col" this file
 * passes as `where`. Only installed apps' models are declared, in load
 * order; the other manifests get the shape checks. sh_app__fields_read()
 * (fields_read.h) lends the field reading to migration files.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "app.h"
#include "base/text.h"
#include "internal.h"

#define SH__COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const sh__key sh__model_keys[] = {
	{ "fields", SH_VALUE_MAP, SH__ANY, false },   /* none: only the automatic id */
};

/* The keys of a field, in the order of sh__field_options' bits. */
static const sh__key sh__field_keys[] = {
	{ "type",         SH_VALUE_STRING, SH__ANY, true  },
	{ "null",         SH_VALUE_BOOL,   SH__ANY, false },
	{ "blank",        SH_VALUE_BOOL,   SH__ANY, false },
	{ "unique",       SH_VALUE_BOOL,   SH__ANY, false },
	{ "db_index",     SH_VALUE_BOOL,   SH__ANY, false },
	{ "primary_key",  SH_VALUE_BOOL,   SH__ANY, false },
	{ "auto_now",     SH_VALUE_BOOL,   SH__ANY, false },
	{ "auto_now_add", SH_VALUE_BOOL,   SH__ANY, false },
	{ "max_length",   SH_VALUE_INT,    SH__ANY, false },
	{ "default",      SH__ANY,         SH__ANY, false },
	{ "to",           SH_VALUE_STRING, SH__ANY, false },
	{ "on_delete",    SH_VALUE_STRING, SH__ANY, false },
	{ "through",      SH_VALUE_STRING, SH__ANY, false },
	{ "related_name", SH_VALUE_STRING, SH__ANY, false },
};

/* Bits of the keys (index in sh__field_keys) a field type accepts. */
#define SH__K(i) (1u << (i))
#define SH__COMMON (SH__K(1) | SH__K(2) | SH__K(3) | SH__K(4) | SH__K(9))
#define SH__PK SH__K(5)
#define SH__DATES (SH__K(6) | SH__K(7))
#define SH__MAXLEN SH__K(8)
#define SH__RELATION (SH__K(10) | SH__K(13))
#define SH__ON_DELETE SH__K(11)
#define SH__THROUGH SH__K(12)

/* The field types as manifests name them, with the keys each accepts. */
static const struct sh_app__type_row {
	const char *name;
	sh_field_type type;
	unsigned keys;
} sh__types[] = {
	{ "integer",      SH_FIELD_INTEGER,      SH__COMMON | SH__PK },
	{ "big_integer",  SH_FIELD_BIG_INTEGER,  SH__COMMON | SH__PK },
	{ "real",         SH_FIELD_REAL,         SH__COMMON },
	{ "text",         SH_FIELD_TEXT,         SH__COMMON | SH__MAXLEN },
	{ "boolean",      SH_FIELD_BOOLEAN,      SH__COMMON },
	{ "date",         SH_FIELD_DATE,         SH__COMMON | SH__DATES },
	{ "datetime",     SH_FIELD_DATETIME,     SH__COMMON | SH__DATES },
	{ "json",         SH_FIELD_JSON,         SH__COMMON },
	{ "foreign_key",  SH_FIELD_FOREIGN_KEY,  SH__COMMON | SH__RELATION | SH__ON_DELETE },
	{ "many_to_many", SH_FIELD_MANY_TO_MANY, SH__K(2) | SH__RELATION | SH__THROUGH },
	{ "auto",         SH_FIELD_AUTO,         SH__PK },
};

static const char *const sh__on_delete_names[] = { "cascade", "protect", "set_null", "restrict" };

/* ---- the registry's problems ---- */

void sh_app__models_reporter(int code, const char *where, const char *message, void *payload)
{
	sh_project *p = payload;
	char file[4096];
	unsigned line = 0, column = 0;
	if (where != NULL && sh_base__where_split(where, file, sizeof file, &line, &column))
		sh_manifest__problem_add(&p->problems, code, file, line, column, "%s", message);
	else
		sh_manifest__problem_add(&p->problems, code, where, 0, 0, "%s", message);
}

/* ---- one model ---- */

/* What declaring one model allocates, freed once it is declared. */
typedef struct sh__model_decl {
	sh__problems *problems;     /* where problems are recorded */
	const char *app_label;
	const char *model;
	sh_field_decl *fields;
	size_t count;
	char **strings;             /* `where`s and JSON defaults */
	size_t string_count;
	size_t found;               /* problems recorded */
} sh__model_decl;

static void sh_app__model_decl_dispose(sh__model_decl *d)
{
	for (size_t i = 0; i < d->string_count; i++)
		free(d->strings[i]);
	free(d->strings);
	free(d->fields);
}

/* Keeps `s` until the model is declared. Returns it, NULL on ENOMEM. */
static char *sh_app__keep(sh__model_decl *d, char *s)
{
	char **grown = s ? realloc(d->strings, (d->string_count + 1) * sizeof *grown) : NULL;
	if (grown == NULL) {
		free(s);
		d->problems->oom = true;
		return NULL;
	}
	d->strings = grown;
	d->strings[d->string_count++] = s;
	return s;
}

static const char *sh_app__where(sh__model_decl *d, const char *file, unsigned line, unsigned column)
{
	char *s = NULL;
	if (asprintf(&s, "%s:%u:%u", file, line, column) < 0)
		s = NULL;
	return sh_app__keep(d, s);
}

static void sh_app__problem(sh__model_decl *d, const sh_value *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void sh_app__problem(sh__model_decl *d, const sh_value *at, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	sh_manifest__problem_at(d->problems, SH_EMANIFEST, at, "%s", message);
	d->found++;
}

/* A YAML value as JSON (jansson), for the default of a json field. */
static json_t *sh_app__to_json(const sh_value *v)
{
	switch (v->type) {
	case SH_VALUE_NULL: return json_null();
	case SH_VALUE_STRING: return json_string(v->text);
	case SH_VALUE_INT: return json_integer((json_int_t)v->integer);
	case SH_VALUE_BOOL: return json_boolean(v->boolean);
	case SH_VALUE_LIST: {
		json_t *a = json_array();
		for (size_t i = 0; a != NULL && i < v->count; i++)
			if (json_array_append_new(a, sh_app__to_json(v->entries[i].value)) < 0) {
				json_decref(a);
				a = NULL;
			}
		return a;
	}
	case SH_VALUE_MAP: {
		json_t *o = json_object();
		for (size_t i = 0; o != NULL && i < v->count; i++)
			if (json_object_set_new(o, v->entries[i].key, sh_app__to_json(v->entries[i].value)) < 0) {
				json_decref(o);
				o = NULL;
			}
		return o;
	}
	}
	return NULL;
}

/* The default as the registry takes it: YAML scalars as they are, except
 * that a real field reads numbers written as text ("1.5" is a string in
 * YAML's core schema) and a json field takes any value, as JSON text. */
static void sh_app__default(sh__model_decl *d, sh_field_decl *f, const sh_value *v,
	const char *type_name)
{
	f->has_default = true;
	if (v->type == SH_VALUE_NULL) {
		f->default_value = sh_datum_null();
	} else if (f->type == SH_FIELD_JSON) {
		json_t *j = sh_app__to_json(v);
		if (j == NULL) {
			sh_app__problem(d, v, "the default cannot be written as JSON");
			return;
		}
		char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(j);
		f->default_value = sh_datum_text(sh_app__keep(d, text));
	} else if (v->type == SH_VALUE_LIST || v->type == SH_VALUE_MAP) {
		sh_app__problem(d, v, "the default must be a single value, not %s (only a json field "
			"takes lists and maps; this field is of type %s)", sh_value_type_name(v->type),
			type_name);
	} else if (v->type == SH_VALUE_INT) {
		f->default_value = f->type == SH_FIELD_REAL ? sh_datum_real((double)v->integer)
			: sh_datum_int(v->integer);
	} else if (v->type == SH_VALUE_BOOL) {
		f->default_value = sh_datum_bool(v->boolean);
	} else {
		char *end;
		double r = f->type == SH_FIELD_REAL ? strtod(v->text, &end) : 0;
		if (f->type == SH_FIELD_REAL && end != v->text && *end == '\0' && isfinite(r))
			f->default_value = sh_datum_real(r);
		else
			f->default_value = sh_datum_text(v->text);
	}
}

static const struct sh_app__type_row *sh_app__type_row(sh__model_decl *d, const sh_value *type)
{
	for (size_t i = 0; i < SH__COUNT(sh__types); i++)
		if (strcmp(type->text, sh__types[i].name) == 0)
			return &sh__types[i];
	const char *names[SH__COUNT(sh__types)];
	for (size_t i = 0; i < SH__COUNT(sh__types); i++)
		names[i] = sh__types[i].name;
	const char *near = sh_base__suggest(type->text, names, SH__COUNT(names));
	if (near != NULL)
		sh_app__problem(d, type, "unknown field type '%s' (did you mean '%s'?)", type->text, near);
	else
		sh_app__problem(d, type, "unknown field type '%s' (one of integer, big_integer, real, "
			"text, boolean, date, datetime, json, foreign_key, many_to_many, auto)",
			type->text);
	return NULL;
}

static void sh_app__on_delete(sh__model_decl *d, sh_field_decl *f, const sh_value *v)
{
	for (size_t i = 0; i < SH__COUNT(sh__on_delete_names); i++)
		if (strcmp(v->text, sh__on_delete_names[i]) == 0) {
			f->on_delete = (sh_on_delete)i;
			return;
		}
	const char *near = sh_base__suggest(v->text, sh__on_delete_names, SH__COUNT(sh__on_delete_names));
	sh_app__problem(d, v, "unknown on_delete '%s' (%s%s%s)", v->text,
		near ? "did you mean '" : "one of cascade, protect, set_null, restrict",
		near ? near : "", near ? "'?" : "");
}

/* Reports the keys that do not fit the field's type. */
static void sh_app__fitting_keys(sh__model_decl *d, const sh_value *map,
	const struct sh_app__type_row *row)
{
	for (size_t k = 1; k < SH__COUNT(sh__field_keys); k++) {
		const sh__entry *e = sh_manifest__value_entry(map, sh__field_keys[k].name);
		if (e == NULL || (row->keys & SH__K(k)))
			continue;
		sh_manifest__problem_add(d->problems, SH_EMANIFEST, map->file, e->line, e->column,
			"'%s' does not apply to a field of type %s", e->key, row->name);
		d->found++;
	}
	if (row->type == SH_FIELD_FOREIGN_KEY && sh_manifest__value_entry(map, "on_delete") == NULL) {
		sh_app__problem(d, map, "a foreign_key field needs 'on_delete' (cascade, protect, "
			"set_null or restrict)");
	}
}

static bool sh_app__flag(const sh_value *map, const char *key)
{
	bool b = false;
	sh_value_bool(&b, sh_value_get(map, key));
	return b;
}

/* Fills `f` from the field `entry`; problems are recorded. Returns false
 * when there was any. */
static bool sh_app__field(sh__model_decl *d, const sh__entry *entry, sh_field_decl *f)
{
	size_t before = d->found;
	const sh_value *map = entry->value;
	char what[512];
	snprintf(what, sizeof what, "field '%s' of %s.%s", entry->key, d->app_label, d->model);
	size_t found = sh_manifest__schema_check(d->problems, map, sh__field_keys,
		SH__COUNT(sh__field_keys), what);
	d->found += found;
	const sh_value *type = sh_value_get(map, "type");
	if (sh_value_string(type) == NULL)
		return false;
	const struct sh_app__type_row *row = sh_app__type_row(d, type);
	if (row == NULL || found > 0)
		return false;
	sh_app__fitting_keys(d, map, row);
	*f = (sh_field_decl)SH_FIELD_DECL_INIT;
	f->name = entry->key;
	f->type = row->type;
	f->where = sh_app__where(d, map->file, entry->line, entry->column);
	f->null = sh_app__flag(map, "null");
	f->blank = sh_app__flag(map, "blank");
	f->unique = sh_app__flag(map, "unique");
	f->db_index = sh_app__flag(map, "db_index");
	f->primary_key = sh_app__flag(map, "primary_key");
	f->auto_now = sh_app__flag(map, "auto_now");
	f->auto_now_add = sh_app__flag(map, "auto_now_add");
	int64_t max_length = 0;
	const sh_value *max = sh_value_get(map, "max_length");
	if (sh_value_int(&max_length, max) == 0 && (max_length < 0 || max_length > 1000000000))
		sh_app__problem(d, max, "max_length %lld is out of range (0 to 1000000000; 0: unlimited)",
			(long long)max_length);
	else
		f->max_length = (int)max_length;
	f->to = sh_value_path_string(map, "to", NULL);
	f->through = sh_value_path_string(map, "through", NULL);
	f->related_name = sh_value_path_string(map, "related_name", NULL);
	const sh_value *on_delete = sh_value_get(map, "on_delete");
	if (sh_value_string(on_delete) != NULL && row->type == SH_FIELD_FOREIGN_KEY)
		sh_app__on_delete(d, f, on_delete);
	const sh__entry *def = sh_manifest__value_entry(map, "default");
	if (def != NULL && (row->keys & SH__K(9)))
		sh_app__default(d, f, def->value, row->name);
	return d->found == before;
}

/* True when `entry` is not the first entry of its key in `map` (the
 * reader reported the duplicate key already). */
static bool sh_app__duplicate(const sh_value *map, const sh__entry *entry)
{
	return sh_manifest__value_entry(map, entry->key) != entry;
}

/* Checks model `entry` of `app` and, when `declare`, declares it with
 * the fields that passed the checks, so that the registry's own checks
 * report on those too (`sighost check` lists every problem). Returns
 * false when the model had any problem. */
static bool sh_app__model(sh_project *p, const sh_app *app, const sh__entry *entry, bool declare)
{
	sh__model_decl d = { .problems = &p->problems, .app_label = app->label, .model = entry->key };
	char what[512];
	snprintf(what, sizeof what, "model %s.%s", app->label, entry->key);
	d.found = sh_manifest__schema_check(&p->problems, entry->value, sh__model_keys,
		SH__COUNT(sh__model_keys), what);
	const sh_value *fields = sh_value_get(entry->value, "fields");
	size_t n = sh_value_type_of(fields) == SH_VALUE_MAP ? fields->count : 0;
	d.fields = calloc(n + 1, sizeof *d.fields);
	if (d.fields == NULL) {
		p->problems.oom = true;
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (!sh_app__duplicate(fields, &fields->entries[i])
				&& sh_app__field(&d, &fields->entries[i], &d.fields[d.count]))
			d.count++;
	bool ok = d.found == 0 && !p->problems.oom;
	if (declare && sh_value_type_of(entry->value) == SH_VALUE_MAP && !p->problems.oom) {
		const char *where = sh_app__where(&d, entry->value->file, entry->line, entry->column);
		int rc = where ? sh_models_declare(p->models, app->label, entry->key, d.fields,
			d.count, where) : SH_ENOMEM;
		if (rc == SH_ENOMEM)
			p->problems.oom = true;
		ok = ok && rc == 0;
	}
	sh_app__model_decl_dispose(&d);
	return ok;
}

/* Checks (and declares) every model of `app`. Returns false when one
 * could not be. */
static bool sh_app__app_models(sh_project *p, const sh_app *app, bool declare)
{
	const sh_value *models = app->models_value;
	bool ok = true;
	for (size_t i = 0; i < sh_value_length(models); i++)
		if (!sh_app__duplicate(models, &models->entries[i]))
			ok &= sh_app__model(p, app, &models->entries[i], declare);
	return ok;
}

void sh_app__project_declare_models(sh_project *p)
{
	bool ok = true;
	for (size_t i = 0; i < p->order_count; i++)
		ok &= sh_app__app_models(p, p->order[i], true);
	for (size_t i = 0; i < p->app_count; i++)
		if (!p->apps[i]->installed)
			sh_app__app_models(p, p->apps[i], false);
	/* Relations only once every declaration went through: a misspelt model
	 * would otherwise also make every reference to it a problem. */
	if (ok && sh_db__models_check(p->models) == SH_ENOMEM)
		p->problems.oom = true;
}

int sh_app__fields_read(sh__problems *problems, const char *app_label, const char *model,
	const sh_value *fields, int (*fn)(const sh_field_decl *field, void *payload), void *payload)
{
	sh__model_decl d = { .problems = problems, .app_label = app_label, .model = model };
	int rc = 0;
	for (size_t i = 0; rc >= 0 && i < sh_value_length(fields); i++) {
		sh_field_decl f;
		if (!sh_app__duplicate(fields, &fields->entries[i])
				&& sh_app__field(&d, &fields->entries[i], &f) && !problems->oom)
			rc = fn(&f, payload);
	}
	sh_app__model_decl_dispose(&d);
	if (rc < 0)
		return rc;
	if (problems->oom)
		return sh_error_set(SH_ENOMEM, "out of memory");
	return (int)d.found;
}
