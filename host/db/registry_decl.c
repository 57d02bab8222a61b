/*
 * registry_decl.c: the checks of sh_models_declare(), what can be judged
 * of a model alone (Django's field and model system checks): names, the
 * options that fit each type, defaults of the field's type, duplicate
 * fields and columns, one primary key. Every problem is reported, each
 * message starting "app.Model.field:" as Django's check messages do.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "registry_private.h"

/* What the checks of one model share. */
typedef struct sh__decl {
	sh_models *models;
	const char *app_label;
	const char *name;
	const char *where;          /* the model's */
	size_t found;               /* problems reported */
} sh__decl;

static void sh_db__decl_problem(sh__decl *d, const sh_field_decl *f, int code,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Reports a problem of field `f` (NULL: of the model). */
static void sh_db__decl_problem(sh__decl *d, const sh_field_decl *f, int code,
	const char *fmt, ...)
{
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	const char *where = f != NULL && f->where != NULL ? f->where : d->where;
	if (f != NULL && f->name != NULL)
		sh_db__models_problem(d->models, code, where, "%s.%s.%s: %s", d->app_label, d->name,
			f->name, what);
	else
		sh_db__models_problem(d->models, code, where, "%s.%s: %s", d->app_label, d->name, what);
	d->found++;
}

static bool sh_db__is_relation(sh_field_type t)
{
	return t == SH_FIELD_FOREIGN_KEY || t == SH_FIELD_MANY_TO_MANY;
}

static bool sh_db__is_date(sh_field_type t)
{
	return t == SH_FIELD_DATE || t == SH_FIELD_DATETIME;
}

/* The manifest spelling of a field type, for messages. */
static const char *sh_db__type_word(sh_field_type t)
{
	static const char *const words[SH_FIELD_TYPE_COUNT] = {
		[SH_FIELD_AUTO] = "auto", [SH_FIELD_INTEGER] = "integer",
		[SH_FIELD_BIG_INTEGER] = "big_integer", [SH_FIELD_REAL] = "real",
		[SH_FIELD_TEXT] = "text", [SH_FIELD_BOOLEAN] = "boolean", [SH_FIELD_DATE] = "date",
		[SH_FIELD_DATETIME] = "datetime", [SH_FIELD_JSON] = "json",
		[SH_FIELD_FOREIGN_KEY] = "foreign_key", [SH_FIELD_MANY_TO_MANY] = "many_to_many",
	};
	return (unsigned)t < SH_FIELD_TYPE_COUNT ? words[t] : "?";
}

/* ---- names ---- */

static void sh_db__check_name(sh__decl *d, const sh_field_decl *f)
{
	const char *n = f->name;
	if (!sh_base__is_identifier(n, SIZE_MAX))
		sh_db__decl_problem(d, f, SH_EMANIFEST, "'%s' is not a valid field name: use letters, "
			"digits and '_', not starting with a digit", n);
	else if (n[strlen(n) - 1] == '_')
		sh_db__decl_problem(d, f, SH_EMANIFEST, "%s", "field names must not end with '_'");
	else if (strstr(n, "__") != NULL)
		sh_db__decl_problem(d, f, SH_EMANIFEST, "%s",
			"field names must not contain '__' (it separates lookups)");
	else if (strcmp(n, "pk") == 0)
		sh_db__decl_problem(d, f, SH_EMANIFEST, "%s",
			"'pk' is reserved: it always names the primary key");
	else if (f->type == SH_FIELD_FOREIGN_KEY && strlen(n) > 3
			&& strcmp(n + strlen(n) - 3, "_id") == 0)
		sh_db__decl_problem(d, f, SH_EMANIFEST, "a foreign key is named without '_id' "
			"(its column is '%s_id'); call it '%.*s'", n, (int)(strlen(n) - 3), n);
}

/* A relation target or through model: "Model", "app.Model" or "self". */
static bool sh_db__label_form_ok(const char *s)
{
	const char *dot = strchr(s, '.');
	if (dot == NULL)
		return sh_base__is_identifier(s, SIZE_MAX);
	char app[256];
	size_t len = (size_t)(dot - s);
	if (len == 0 || len >= sizeof app)
		return false;
	memcpy(app, s, len);
	app[len] = '\0';
	return sh_base__is_identifier(app, SIZE_MAX) && sh_base__is_identifier(dot + 1, SIZE_MAX);
}

static bool sh_db__related_name_ok(const char *s)
{
	size_t len = strlen(s);
	if (len > 0 && s[len - 1] == '+') {
		char head[256];
		if (len - 1 >= sizeof head)
			return false;
		memcpy(head, s, len - 1);
		head[len - 1] = '\0';
		return len == 1 || sh_base__is_identifier(head, SIZE_MAX);
	}
	return sh_base__is_identifier(s, SIZE_MAX) && strstr(s, "__") == NULL;
}

/* ---- values of defaults ---- */

static bool sh_db__registry_decl_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int sh_db__num(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* "YYYY-MM-DD", a real calendar date. */
static bool sh_db__date_ok(const char *s)
{
	if (strlen(s) < 10 || !sh_db__registry_decl_digits(s, 4) || s[4] != '-' || !sh_db__registry_decl_digits(s + 5, 2)
			|| s[7] != '-' || !sh_db__registry_decl_digits(s + 8, 2))
		return false;
	int y = sh_db__num(s, 4), m = sh_db__num(s + 5, 2), day = sh_db__num(s + 8, 2);
	static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (y < 1 || m < 1 || m > 12 || day < 1 || day > days[m - 1])
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(m == 2 && day == 29 && !leap);
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z", UTC. */
static bool sh_db__datetime_ok(const char *s)
{
	if (!sh_db__date_ok(s) || s[10] != 'T')
		return false;
	const char *t = s + 11;
	if (strlen(t) < 9 || !sh_db__registry_decl_digits(t, 2) || t[2] != ':' || !sh_db__registry_decl_digits(t + 3, 2)
			|| t[5] != ':' || !sh_db__registry_decl_digits(t + 6, 2))
		return false;
	if (sh_db__num(t, 2) > 23 || sh_db__num(t + 3, 2) > 59 || sh_db__num(t + 6, 2) > 59)
		return false;
	t += 8;
	if (*t == '.') {
		size_t n = strspn(t + 1, "0123456789");
		if (n < 1 || n > 6)
			return false;
		t += 1 + n;
	}
	return strcmp(t, "Z") == 0;
}

static bool sh_db__json_ok(const char *s)
{
	json_error_t error;
	json_t *j = json_loads(s, JSON_DECODE_ANY, &error);
	json_decref(j);
	return j != NULL;
}

static void sh_db__check_default(sh__decl *d, const sh_field_decl *f)
{
	if (!f->has_default)
		return;
	sh_datum v = f->default_value;
	sh_field_type t = f->type;
	if (t == SH_FIELD_AUTO || t == SH_FIELD_MANY_TO_MANY) {
		sh_db__decl_problem(d, f, SH_EMANIFEST, "a field of type %s takes no default",
			sh_db__type_word(t));
		return;
	}
	if (f->auto_now || f->auto_now_add) {
		sh_db__decl_problem(d, f, SH_EMANIFEST, "%s", "auto_now, auto_now_add and default "
			"are mutually exclusive");
		return;
	}
	if (v.type == SH_DATUM_NULL) {
		if (!f->null)
			sh_db__decl_problem(d, f, SH_EMANIFEST, "%s",
				"the default is null but the field does not allow null");
		return;
	}
	bool ok;
	switch (t) {
	case SH_FIELD_INTEGER: case SH_FIELD_BIG_INTEGER: case SH_FIELD_FOREIGN_KEY:
		ok = v.type == SH_DATUM_INT;
		break;
	case SH_FIELD_REAL:
		ok = v.type == SH_DATUM_INT || v.type == SH_DATUM_REAL;
		break;
	case SH_FIELD_BOOLEAN:
		ok = v.type == SH_DATUM_BOOL;
		break;
	default:
		ok = v.type == SH_DATUM_TEXT && v.v.s != NULL;
		break;
	}
	if (!ok) {
		const char *want = t == SH_FIELD_REAL ? "a number" : t == SH_FIELD_BOOLEAN
			? "a boolean" : t == SH_FIELD_INTEGER || t == SH_FIELD_BIG_INTEGER
			|| t == SH_FIELD_FOREIGN_KEY ? "an integer" : "text";
		sh_db__decl_problem(d, f, SH_EMANIFEST, "the default must be %s, not %s (the field "
			"is of type %s)", want, sh_datum_type_name(v.type), sh_db__type_word(t));
		return;
	}
	if (t == SH_FIELD_TEXT && f->max_length > 0 && sh_base__utf8_length(v.v.s, strlen(v.v.s)) > (size_t)f->max_length)
		sh_db__decl_problem(d, f, SH_EMANIFEST, "the default has %zu characters, more than "
			"max_length %d", sh_base__utf8_length(v.v.s, strlen(v.v.s)), f->max_length);
	else if (t == SH_FIELD_DATE && !sh_db__date_ok(v.v.s))
		sh_db__decl_problem(d, f, SH_EMANIFEST, "the default '%s' is not a date "
			"(YYYY-MM-DD)", v.v.s);
	else if (t == SH_FIELD_DATETIME && !sh_db__datetime_ok(v.v.s))
		sh_db__decl_problem(d, f, SH_EMANIFEST, "the default '%s' is not a UTC datetime "
			"(YYYY-MM-DDTHH:MM:SS[.ffffff]Z)", v.v.s);
	else if (t == SH_FIELD_JSON && !sh_db__json_ok(v.v.s))
		sh_db__decl_problem(d, f, SH_EMANIFEST, "the default '%s' is not valid JSON", v.v.s);
}

/* ---- options that fit the type ---- */

static void sh_db__check_relation(sh__decl *d, const sh_field_decl *f)
{
	sh_field_type t = f->type;
	if (!sh_db__is_relation(t)) {
		if (f->to != NULL)
			sh_db__decl_problem(d, f, SH_EMANIFEST, "'to' is only for foreign_key and "
				"many_to_many fields, not %s", sh_db__type_word(t));
		if (f->related_name != NULL)
			sh_db__decl_problem(d, f, SH_EMANIFEST, "'related_name' is only for foreign_key "
				"and many_to_many fields, not %s", sh_db__type_word(t));
		return;
	}
	if (f->to == NULL || f->to[0] == '\0')
		sh_db__decl_problem(d, f, SH_EMANIFEST, "a field of type %s needs 'to', the model it "
			"points at (\"app_label.Model\", or \"Model\" in app '%s')", sh_db__type_word(t),
			d->app_label);
	else if (!sh_db__label_form_ok(f->to))
		sh_db__decl_problem(d, f, SH_EMANIFEST, "'to' is '%s': expected \"app_label.Model\", "
			"\"Model\" or \"self\"", f->to);
	if (f->related_name != NULL && !sh_db__related_name_ok(f->related_name))
		sh_db__decl_problem(d, f, SH_EMANIFEST, "related_name '%s' is not valid: use an "
			"identifier without '__', or end it with '+' to have no reverse relation",
			f->related_name);
}

static void sh_db__check_foreign_key(sh__decl *d, const sh_field_decl *f)
{
	if ((unsigned)f->on_delete > SH_ON_DELETE_RESTRICT) {
		sh_db__decl_problem(d, f, SH_EMANIFEST, "on_delete %d is not one of cascade, protect, "
			"set_null, restrict", (int)f->on_delete);
		return;
	}
	if (f->type != SH_FIELD_FOREIGN_KEY) {
		if (f->on_delete != SH_ON_DELETE_CASCADE)
			sh_db__decl_problem(d, f, SH_EMANIFEST, "'on_delete' is only for foreign_key "
				"fields, not %s", sh_db__type_word(f->type));
		return;
	}
	if (f->on_delete == SH_ON_DELETE_SET_NULL && !f->null)
		sh_db__decl_problem(d, f, SH_EMANIFEST, "%s",
			"on_delete is set_null but the field does not allow null (add null: true)");
}

static void sh_db__check_many_to_many(sh__decl *d, const sh_field_decl *f)
{
	if (f->type != SH_FIELD_MANY_TO_MANY) {
		if (f->through != NULL)
			sh_db__decl_problem(d, f, SH_EMANIFEST, "'through' is only for many_to_many "
				"fields, not %s", sh_db__type_word(f->type));
		return;
	}
	if (f->through != NULL && !sh_db__label_form_ok(f->through))
		sh_db__decl_problem(d, f, SH_EMANIFEST, "'through' is '%s': expected "
			"\"app_label.Model\" or \"Model\"", f->through);
	const char *no_effect = f->null ? "null" : f->db_index ? "db_index"
		: f->primary_key ? "primary_key" : NULL;
	if (f->unique)
		sh_db__decl_problem(d, f, SH_EMANIFEST, "%s", "a many_to_many field cannot be unique");
	if (no_effect != NULL)
		sh_db__decl_problem(d, f, SH_EMANIFEST, "'%s' has no effect on a many_to_many field "
			"(it has no column)", no_effect);
}

static void sh_db__registry_decl_check_options(sh__decl *d, const sh_field_decl *f)
{
	sh_field_type t = f->type;
	if (f->max_length < 0)
		sh_db__decl_problem(d, f, SH_EMANIFEST, "max_length %d is negative (0: unlimited)",
			f->max_length);
	else if (f->max_length > 0 && t != SH_FIELD_TEXT)
		sh_db__decl_problem(d, f, SH_EMANIFEST, "'max_length' is only for text fields, not %s",
			sh_db__type_word(t));
	if ((f->auto_now || f->auto_now_add) && !sh_db__is_date(t))
		sh_db__decl_problem(d, f, SH_EMANIFEST, "'%s' is only for date and datetime fields, "
			"not %s", f->auto_now ? "auto_now" : "auto_now_add", sh_db__type_word(t));
	else if (f->auto_now && f->auto_now_add)
		sh_db__decl_problem(d, f, SH_EMANIFEST, "%s", "auto_now, auto_now_add and default "
			"are mutually exclusive");
	if (f->primary_key && t != SH_FIELD_AUTO && t != SH_FIELD_INTEGER
			&& t != SH_FIELD_BIG_INTEGER && t != SH_FIELD_MANY_TO_MANY)
		sh_db__decl_problem(d, f, SH_EMANIFEST, "a primary key must be auto, integer or "
			"big_integer (sighost's primary keys are 64-bit integers), not %s",
			sh_db__type_word(t));
	else if (f->primary_key && f->null)
		sh_db__decl_problem(d, f, SH_EMANIFEST, "%s", "a primary key cannot allow null");
	if (t == SH_FIELD_AUTO && !f->primary_key)
		sh_db__decl_problem(d, f, SH_EMANIFEST, "%s", "an auto field must be the primary key "
			"(add primary_key: true)");
	sh_db__check_relation(d, f);
	sh_db__check_foreign_key(d, f);
	sh_db__check_many_to_many(d, f);
	sh_db__check_default(d, f);
}

static void sh_db__check_field(sh__decl *d, const sh_field_decl *f)
{
	if (f->version != SH_FIELD_DECL_VERSION) {
		sh_db__decl_problem(d, f, SH_EINVAL, "sh_field_decl version %u is not %d (initialise "
			"it with SH_FIELD_DECL_INIT)", f->version, SH_FIELD_DECL_VERSION);
		return;
	}
	if (f->name == NULL || f->name[0] == '\0') {
		sh_db__decl_problem(d, NULL, SH_EMANIFEST, "%s", "a field has no name");
		return;
	}
	if ((unsigned)f->type >= SH_FIELD_TYPE_COUNT) {
		sh_db__decl_problem(d, f, SH_EMANIFEST, "unknown field type %d", (int)f->type);
		return;
	}
	size_t before = d->found;
	sh_db__check_name(d, f);
	if (d->found == before)
		sh_db__registry_decl_check_options(d, f);
}

/* ---- the fields together ---- */

/* The column a declared field will have ("<name>_id" for a key), in buf. */
static const char *sh_db__decl_column(const sh_field_decl *f, char *buf, size_t size)
{
	if (f->type != SH_FIELD_FOREIGN_KEY)
		return f->name;
	snprintf(buf, size, "%s_id", f->name);
	return buf;
}

static bool sh_db__decl_usable(const sh_field_decl *f)
{
	return f->version == SH_FIELD_DECL_VERSION && f->name != NULL && f->name[0] != '\0';
}

/* Reports names and columns used twice (SQLite compares them without
 * regard to case, so the check does too). */
static void sh_db__check_clashes(sh__decl *d, const sh_field_decl *fields, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (!sh_db__decl_usable(&fields[i]))
			continue;
		char ci[300];
		const char *col_i = sh_db__decl_column(&fields[i], ci, sizeof ci);
		for (size_t j = 0; j < i; j++) {
			if (!sh_db__decl_usable(&fields[j]))
				continue;
			char cj[300];
			const char *col_j = sh_db__decl_column(&fields[j], cj, sizeof cj);
			if (sh_db__ascii_casecmp(fields[i].name, fields[j].name) == 0) {
				sh_db__decl_problem(d, &fields[i], SH_EMANIFEST, "field '%s' is declared "
					"twice%s%s%s", fields[j].name, fields[j].where ? " (first at " : "",
					fields[j].where ? fields[j].where : "", fields[j].where ? ")" : "");
				break;
			}
			if (sh_db__ascii_casecmp(col_i, col_j) == 0 || sh_db__ascii_casecmp(col_i, fields[j].name) == 0
					|| sh_db__ascii_casecmp(fields[i].name, col_j) == 0) {
				sh_db__decl_problem(d, &fields[i], SH_EMANIFEST, "clashes with field '%s': "
					"both would use the name or column '%s'", fields[j].name,
					sh_db__ascii_casecmp(col_i, col_j) == 0 ? col_i
					: sh_db__ascii_casecmp(col_i, fields[j].name) == 0 ? col_i : fields[i].name);
				break;
			}
		}
	}
}

static void sh_db__check_primary_key(sh__decl *d, const sh_field_decl *fields, size_t count)
{
	const sh_field_decl *pk = NULL;
	for (size_t i = 0; i < count; i++) {
		if (!sh_db__decl_usable(&fields[i]) || !fields[i].primary_key)
			continue;
		if (pk == NULL)
			pk = &fields[i];
		else
			sh_db__decl_problem(d, &fields[i], SH_EMANIFEST, "a second primary key (the "
				"model's primary key is '%s')", pk->name);
	}
	if (pk != NULL)
		return;
	for (size_t i = 0; i < count; i++)
		if (sh_db__decl_usable(&fields[i]) && sh_db__ascii_casecmp(fields[i].name, "id") == 0)
			sh_db__decl_problem(d, &fields[i], SH_EMANIFEST, "%s", "'id' names the automatic "
				"primary key: set primary_key on this field, or rename it");
}

bool sh_label_reserved(const char *label)
{
	if (label == NULL)
		return false;
	char lower[16];
	size_t n = 0;
	for (; label[n] != '\0' && n + 1 < sizeof lower; n++)
		lower[n] = (char)(label[n] >= 'A' && label[n] <= 'Z' ? label[n] - 'A' + 'a' : label[n]);
	lower[n] = '\0';
	/* its tables are "<label>_<model>", lowercased: these prefixes are taken */
	return strcmp(lower, "sighost") == 0 || strncmp(lower, "sighost_", 8) == 0
		|| strncmp(lower, "sqlite", 6) == 0;
}

size_t sh_db__decl_check(sh_models *models, const char *app_label, const char *name,
	const sh_field_decl *fields, size_t count, const char *where)
{
	sh__decl d = { models, app_label, name, where, 0 };
	if (!sh_base__is_identifier(app_label, SIZE_MAX)) {
		sh_db__models_problem(models, SH_EMANIFEST, where, "app label '%s' is not valid: use "
			"letters, digits and '_', not starting with a digit", app_label);
		return 1;
	}
	if (sh_label_reserved(app_label)) {
		sh_db__models_problem(models, SH_EMANIFEST, where, "app label '%s' is reserved: the host "
			"keeps its own tables under 'sighost_' (tokens, applied migrations) and SQLite under "
			"'sqlite_'; choose another label for model %s", app_label, name);
		return 1;
	}
	if (!sh_base__is_identifier(name, SIZE_MAX)) {
		sh_db__models_problem(models, SH_EMANIFEST, where, "'%s' is not a valid model name "
			"(in app '%s'): use letters, digits and '_', not starting with a digit", name,
			app_label);
		return 1;
	}
	const sh_model *same = sh_db__models_find(models, app_label, name);
	if (same != NULL) {
		bool twice = strcmp(same->name, name) == 0;
		char at[300] = "";
		if (same->where != NULL)
			snprintf(at, sizeof at, " (%s at %s)", twice ? "first" : "declared", same->where);
		if (twice)
			sh_db__models_problem(models, SH_EEXISTS, where,
				"model %s.%s is declared twice%s", app_label, name, at);
		else
			sh_db__models_problem(models, SH_EEXISTS, where, "model %s.%s clashes with %s%s: "
				"model names are compared without regard to case", app_label, name,
				same->label, at);
		return 1;
	}
	for (size_t i = 0; i < count; i++)
		sh_db__check_field(&d, &fields[i]);
	sh_db__check_clashes(&d, fields, count);
	sh_db__check_primary_key(&d, fields, count);
	return d.found;
}
