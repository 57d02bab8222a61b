/*
 * instance.c: model instances (instance.h): construction with pre_init and
 * post_init, typed field access with conversion and validation, and
 * building instances from database rows for the loading paths.
 *
 * Memory: an instance is one allocation holding the struct, one sh_datum
 * per field, one `owned` byte per field, the text of its values (a loaded
 * row's, or the constructor's) and a room for each auto_now field's time.
 * A value's text is either in that block or borrowed from the model (a
 * default) or a malloc'd copy marked in `owned`, made when a set value did
 * not fit where the old one was (a set that fits overwrites in place).
 * Creating or loading an instance therefore costs one malloc however many
 * text columns it has, a save none, and sh_instance_free() frees only what
 * `owned` marks.
 *
 * Values are kept in canonical form, so that equality and ordering in SQL
 * agree with the values' meaning: booleans as SH_DATUM_BOOL (stored 0/1),
 * reals as SH_DATUM_REAL, dates "YYYY-MM-DD", datetimes converted to UTC
 * "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (the fraction only when not zero, as
 * Python's isoformat writes it).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/utf8.h"
#include "orm.h"

static const char *sh_db__datum_name(sh_datum_type type)
{
	switch (type) {
	case SH_DATUM_NULL: return "null";
	case SH_DATUM_INT: return "integer";
	case SH_DATUM_REAL: return "real";
	case SH_DATUM_TEXT: return "text";
	case SH_DATUM_BOOL: return "boolean";
	}
	return "unknown";
}

/* ---- text checks ---- */

/* ---- dates ---- */

static bool sh_db__instance_digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool sh_db__leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int sh_db__days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && sh_db__leap(y) ? 29 : days[m - 1];
}

/* Parses "YYYY-MM-DD" at the start of s: a real calendar day of years 1 to 9999. */
static SH__NOINLINE bool sh_db__parse_date(const char *s, int *y, int *m, int *d)
{
	return sh_db__instance_digits(s, 4, y) && s[4] == '-' && sh_db__instance_digits(s + 5, 2, m) && s[7] == '-'
		&& sh_db__instance_digits(s + 8, 2, d) && *y >= 1 && *m >= 1 && *m <= 12 && *d >= 1
		&& *d <= sh_db__days_in_month(*y, *m);
}

/* Days since 1970-01-01 of a civil date, and back (Howard Hinnant's algorithms). */
static int64_t sh_db__days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void sh_db__civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/*
 * Parses an ISO-8601 datetime: "YYYY-MM-DD" then "T" (or a space) then
 * "HH:MM[:SS[.f...]]" (1 to 6 fraction digits) then "Z", "+HH:MM", "-HH:MM",
 * "+HHMM", "+HH" or nothing (taken as UTC). Writes the UTC time in
 * canonical form to out. Returns false when it is not such a datetime.
 */
static SH__NOINLINE bool sh_db__parse_datetime(const char *s, char *out)
{
	int y, mo, d, h, mi, sec = 0, micro = 0;
	if (!sh_db__parse_date(s, &y, &mo, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
		return false;
	const char *p = s + 11;
	if (!sh_db__instance_digits(p, 2, &h) || p[2] != ':' || !sh_db__instance_digits(p + 3, 2, &mi) || h > 23 || mi > 59)
		return false;
	p += 5;
	if (*p == ':') {
		if (!sh_db__instance_digits(p + 1, 2, &sec) || sec > 59)
			return false;
		p += 3;
		if (*p == '.') {
			p++;
			int n = 0;
			while (p[n] >= '0' && p[n] <= '9' && n < 6) {
				micro = micro * 10 + (p[n] - '0');
				n++;
			}
			if (n == 0 || (p[n] >= '0' && p[n] <= '9'))
				return false;
			for (int i = n; i < 6; i++)
				micro *= 10;
			p += n;
		}
	}
	int offset = 0;   /* minutes east of UTC */
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om = 0;
		p++;
		if (!sh_db__instance_digits(p, 2, &oh) || oh > 23)
			return false;
		p += 2;
		if (*p == ':')
			p++;
		if (*p >= '0' && *p <= '9') {
			if (!sh_db__instance_digits(p, 2, &om) || om > 59)
				return false;
			p += 2;
		}
		offset = sign * (oh * 60 + om);
	}
	if (*p != '\0')
		return false;
	if (offset != 0) {
		int64_t minutes = sh_db__days_from_civil(y, mo, d) * 1440 + (int64_t)h * 60 + mi - offset;
		int64_t days = minutes >= 0 ? minutes / 1440 : -((-minutes + 1439) / 1440);
		int64_t rest = minutes - days * 1440;
		sh_db__civil_from_days(days, &y, &mo, &d);
		h = (int)(rest / 60);
		mi = (int)(rest % 60);
		if (y < 1 || y > 9999)
			return false;
	}
	if (micro != 0)
		snprintf(out, SH__SCRATCH, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, mo, d, h, mi, sec, micro);
	else
		snprintf(out, SH__SCRATCH, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, sec);
	return true;
}

void sh_db__now_text(sh_field_type type, char *buf)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	long micro = ts.tv_nsec / 1000;
	if (type == SH_FIELD_DATE)
		snprintf(buf, SH__SCRATCH, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	else if (micro != 0)
		snprintf(buf, SH__SCRATCH, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
			tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micro);
	else
		snprintf(buf, SH__SCRATCH, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
			tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- conversion ---- */

static SH__COLD int sh_db__wrong_type(const sh_field *field, const char *expected, sh_datum in)
{
	return sh_error_set(SH_EINVAL, "%s.%s: a %s takes %s, not %s", field->model->label,
		field->name, sh_field_type_name(field->type), expected, sh_db__datum_name(in.type));
}

/* A JSON field's value: JSON text, checked with jansson. */
static SH__NOINLINE int sh_db__convert_json(const sh_field *field, sh_datum in, sh_datum *out,
	size_t *len)
{
	if (in.type != SH_DATUM_TEXT)
		return sh_db__wrong_type(field, "JSON text", in);
	json_error_t err;
	json_t *json = json_loads(in.v.s, JSON_DECODE_ANY, &err);
	if (json == NULL)
		return sh_error_set(SH_EINVAL, "%s.%s: invalid JSON: %s (line %d, column %d)",
			field->model->label, field->name, err.text, err.line, err.column);
	json_decref(json);
	*out = in;
	*len = strlen(in.v.s);
	return 0;
}

int sh_db__convert(const sh_field *field, sh_datum in, sh_datum *out, char *scratch)
{
	size_t len;
	return sh_db__convert_len(field, in, out, scratch, &len);
}

int sh_db__convert_len(const sh_field *field, sh_datum in, sh_datum *out, char *scratch,
	size_t *len)
{
	const char *label = field->model->label;
	*len = 0;
	if (in.type == SH_DATUM_NULL || (in.type == SH_DATUM_TEXT && in.v.s == NULL)) {
		*out = sh_datum_null();
		return 0;
	}
	switch (field->type) {
	case SH_FIELD_AUTO:
	case SH_FIELD_INTEGER:
	case SH_FIELD_BIG_INTEGER:
	case SH_FIELD_FOREIGN_KEY:
		if (in.type == SH_DATUM_INT) {
			*out = in;
			return 0;
		}
		if (in.type == SH_DATUM_BOOL) {
			*out = sh_datum_int(in.v.b ? 1 : 0);
			return 0;
		}
		return sh_db__wrong_type(field, field->type == SH_FIELD_FOREIGN_KEY
			? "the integer primary key of its target" : "an integer or a boolean", in);
	case SH_FIELD_REAL:
		if (in.type == SH_DATUM_REAL) {
			*out = in;
			return 0;
		}
		if (in.type == SH_DATUM_INT) {
			*out = sh_datum_real((double)in.v.i);
			return 0;
		}
		return sh_db__wrong_type(field, "a real or an integer", in);
	case SH_FIELD_BOOLEAN:
		if (in.type == SH_DATUM_BOOL) {
			*out = in;
			return 0;
		}
		if (in.type == SH_DATUM_INT && (in.v.i == 0 || in.v.i == 1)) {
			*out = sh_datum_bool(in.v.i == 1);
			return 0;
		}
		return sh_db__wrong_type(field, "a boolean (or the integer 0 or 1)", in);
	case SH_FIELD_TEXT: {
		if (in.type != SH_DATUM_TEXT)
			return sh_db__wrong_type(field, "text", in);
		long chars = sh_base__utf8_chars(in.v.s, len);
		if (chars < 0)
			return sh_error_set(SH_EINVAL, "%s.%s: the text is not valid UTF-8", label, field->name);
		if (field->max_length > 0 && chars > field->max_length)
			return sh_error_set(SH_EINVAL, "%s.%s: the text has %ld characters, more than "
				"max_length %d", label, field->name, chars, field->max_length);
		*out = in;
		return 0;
	}
	case SH_FIELD_DATE: {
		int y, m, d;
		if (in.type != SH_DATUM_TEXT)
			return sh_db__wrong_type(field, "a date as text \"YYYY-MM-DD\"", in);
		if (!sh_db__parse_date(in.v.s, &y, &m, &d) || in.v.s[10] != '\0')
			return sh_error_set(SH_EINVAL, "%s.%s: '%.40s' is not a date \"YYYY-MM-DD\" of "
				"the calendar", label, field->name, in.v.s);
		*out = in;
		*len = 10;
		return 0;
	}
	case SH_FIELD_DATETIME:
		if (in.type != SH_DATUM_TEXT)
			return sh_db__wrong_type(field, "an ISO-8601 datetime as text", in);
		if (!sh_db__parse_datetime(in.v.s, scratch))
			return sh_error_set(SH_EINVAL, "%s.%s: '%.40s' is not an ISO-8601 datetime "
				"\"YYYY-MM-DDTHH:MM:SS[.ffffff]Z\" of the calendar", label, field->name, in.v.s);
		*out = sh_datum_text(scratch);
		*len = strlen(scratch);
		return 0;
	case SH_FIELD_JSON:
		return sh_db__convert_json(field, in, out, len);
	case SH_FIELD_MANY_TO_MANY:
	default:
		return sh_error_set(SH_EINVAL, "%s.%s is a many-to-many relation: change it with "
			"sh_m2m_add() and the other sh_m2m_ calls", label, field->name);
	}
}

/* ---- allocation ---- */

#define SH__ALIGN(n) (((n) + 7) & ~(size_t)7)

/*
 * Allocates an instance with room for `text` bytes of text after its
 * values, and SH__AUTO_TEXT bytes for each of `autos` auto_now /
 * auto_now_add fields (where saves write the current time, so that a save
 * allocates nothing; 0 for copies, which are never saved). With `init`,
 * every value is NULL; without, the caller sets them all (loading). The
 * `owned` bytes are set up lazily: owned[n] (one byte past the fields)
 * says whether owned[0..n) is valid, which it becomes on the first
 * sh_db__instance_store_len(); until then nothing is owned, and freeing an
 * instance that never had a value set is a single free().
 */
static sh_instance *sh_db__instance_alloc(const sh_model *model, sh_conn *db, size_t text,
	size_t autos, char **arena, bool init)
{
	size_t n = model->field_count;
	size_t values_at = SH__ALIGN(sizeof(sh_instance));
	size_t owned_at = values_at + n * sizeof(sh_datum);
	size_t text_at = owned_at + n + 1;
	char *block = malloc(text_at + text + autos * SH__AUTO_TEXT);
	if (block == NULL)
		return NULL;
	sh_instance *inst = (sh_instance *)block;
	inst->model = model;
	inst->db = db;
	inst->values = (sh_datum *)(block + values_at);
	inst->owned = (unsigned char *)(block + owned_at);
	inst->owned[n] = 0;
	inst->adding = true;
	inst->hint = model->pk == 0 && n > 1 ? 1 : 0;
	inst->auto_text = autos > 0 ? block + text_at + text : NULL;
	inst->block_end = block + text_at + text + autos * SH__AUTO_TEXT;
	inst->refs = 1;
	inst->extra = NULL;
	if (init)
		for (size_t i = 0; i < n; i++)
			inst->values[i] = sh_datum_null();
	if (arena != NULL)
		*arena = block + text_at;
	return inst;
}

void sh_instance_free(sh_instance *instance)
{
	if (instance == NULL || --instance->refs > 0)
		return;
	if (instance->extra != NULL)
		sh_db__instance_extra_free(instance);
	size_t n = instance->model->field_count;
	if (instance->owned[n])
		for (size_t i = 0; i < n; i++)
			if (instance->owned[i])
				free((char *)instance->values[i].v.s);
	free(instance);
}

int sh_db__instance_store(sh_instance *instance, size_t field, sh_datum value)
{
	return sh_db__instance_store_len(instance, field, value,
		value.type == SH_DATUM_TEXT ? strlen(value.v.s) : 0);
}

int sh_db__instance_store_len(sh_instance *instance, size_t field, sh_datum value, size_t len)
{
	sh_datum *slot = &instance->values[field];
	size_t n = instance->model->field_count;
	if (!instance->owned[n]) {
		memset(instance->owned, 0, n);
		instance->owned[n] = 1;
	}
	unsigned char *owned = &instance->owned[field];
	if (value.type != SH_DATUM_TEXT) {
		if (*owned)
			free((char *)slot->v.s);
		*owned = 0;
		*slot = value;
		return 0;
	}
	/* Overwrite the current text in place when it is ours (a copy made for
	 * it, or its room in the instance's block) and the new one fits: no
	 * allocation, and the value stays beside the others. */
	const char *old = slot->type == SH_DATUM_TEXT ? slot->v.s : NULL;
	uintptr_t at = (uintptr_t)old;
	bool ours = old != NULL && (*owned || (at >= (uintptr_t)(instance->owned + n + 1)
		&& at < (uintptr_t)instance->block_end));
	if (ours && strlen(old) >= len) {
		memmove((char *)old, value.v.s, len + 1);
		return 0;
	}
	char *copy = malloc(len + 1);
	if (copy == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory setting %s.%s", instance->model->label,
			instance->model->fields[field].name);
	memcpy(copy, value.v.s, len + 1);
	if (*owned)
		free((char *)slot->v.s);
	*owned = 1;
	slot->type = SH_DATUM_TEXT;
	slot->v.s = copy;
	return 0;
}

/* ---- the public instance API ---- */

/* sh_db__model_field() tuned for the path of every sh_instance_new() and
 * sh_instance_set(): callers name fields in declaration order, so the
 * field at `hint` (the one after the previous lookup's) is tried first,
 * then every field with the first byte compared before the rest. */
static inline bool sh_db__same(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b)
		a++, b++;
	return *a == *b;
}

static const sh_field *sh_db__field_named(const sh_model *model, const char *name, size_t hint)
{
	const sh_field *fields = model->fields;
	if (hint < model->field_count && fields[hint].name[0] == name[0]
		&& sh_db__same(fields[hint].name, name))
		return &fields[hint];
	for (size_t i = 0; i < model->field_count; i++)
		if (fields[i].name[0] == name[0] && sh_db__same(fields[i].name, name))
			return &fields[i];
	return sh_db__model_field(model, name);   /* a key by its column */
}

#define SH__NEW_STACK 8

/* A value of sh_instance_new(), converted: its field, value and text length. */
typedef struct sh__conv {
	size_t index;
	sh_datum value;
	size_t len;
} sh__conv;

int sh_instance_new(sh_instance **out, sh_conn *db, const sh_model *model,
	const sh_field_value *values, size_t count)
{
	if (out == NULL || db == NULL || model == NULL || (values == NULL && count > 0))
		return sh_error_set(SH_EINVAL, "sh_instance_new: NULL argument");
	*out = NULL;
	const sh__model_sql *msql = sh__sql_of(db, model);
	if (msql == NULL)
		return sh_db__foreign_model(db, model);

	/* Django's Model.__init__: pre_init first, then the values, then post_init. */
	sh_pre_init_args pre = { NULL, 0, count ? values : NULL, count, NULL };
	int rc = sh_signal_send(sh__signal(db, SH_PRE_INIT), model->sender, &pre, NULL);
	if (rc < 0)
		return rc;

	/* Convert every value first, so that the instance and the text of its
	 * values are one allocation. */
	sh__conv small[SH__NEW_STACK];
	char small_scratch[SH__NEW_STACK][SH__SCRATCH];
	sh__conv *conv = small;
	char (*scratch)[SH__SCRATCH] = small_scratch;
	if (count > SH__NEW_STACK) {
		conv = malloc(count * sizeof *conv);
		scratch = malloc(count * sizeof *scratch);
		if (conv == NULL || scratch == NULL) {
			rc = sh_error_set(SH_ENOMEM, "out of memory creating a %s", model->label);
			goto out;
		}
	}
	size_t text = 0, hint = msql->first_field;
	for (size_t i = 0; i < count; i++) {
		const char *name = values[i].name;
		const sh_field *f = name != NULL ? sh_db__field_named(model, name, hint) : NULL;
		if (f == NULL) {
			rc = name == NULL
				? sh_error_set(SH_EINVAL, "creating a %s: value %zu has no field name",
					model->label, i)
				: sh_error_set(SH_EINVAL, "%s has no field '%s'", model->label, name);
			goto out;
		}
		hint = f->index + 1;
		conv[i].index = f->index;
		if ((rc = sh_db__convert_len(f, values[i].value, &conv[i].value, scratch[i],
				&conv[i].len)) < 0)
			goto out;
		if (conv[i].value.type == SH_DATUM_TEXT)
			text += conv[i].len + 1;
	}
	char *arena;
	sh_instance *inst = sh_db__instance_alloc(model, db, text, msql->auto_count, &arena, false);
	if (inst == NULL) {
		rc = sh_error_set(SH_ENOMEM, "out of memory creating a %s", model->label);
		goto out;
	}
	/* Django's Field.get_default() of each field, borrowed from the model */
	memcpy(inst->values, msql->defaults, model->field_count * sizeof *inst->values);
	for (size_t i = 0; i < count; i++) {
		sh_datum v = conv[i].value;
		if (v.type == SH_DATUM_TEXT) {
			memcpy(arena, v.v.s, conv[i].len + 1);
			v.v.s = arena;
			arena += conv[i].len + 1;
		}
		inst->values[conv[i].index] = v;
	}
	sh_post_init_args post = { inst };
	rc = sh_signal_send(sh__signal(db, SH_POST_INIT), model->sender, &post, NULL);
	if (rc < 0)
		sh_instance_free(inst);
	else
		*out = inst;
out:
	if (conv != small) {
		free(conv);
		free(scratch);
	}
	return rc;
}

const sh_model *sh_instance_model(const sh_instance *instance)
{
	return instance != NULL ? instance->model : NULL;
}

sh_conn *sh_instance_conn(const sh_instance *instance)
{
	return instance != NULL ? instance->db : NULL;
}

bool sh_instance_adding(const sh_instance *instance)
{
	return instance != NULL && instance->adding;
}

int64_t sh_instance_pk(const sh_instance *instance)
{
	if (instance == NULL)
		return 0;
	const sh_datum *pk = &instance->values[instance->model->pk];
	return pk->type == SH_DATUM_INT ? pk->v.i : 0;
}

int sh_instance_set(sh_instance *instance, const char *name, sh_datum value)
{
	if (instance == NULL || name == NULL)
		return sh_error_set(SH_EINVAL, "sh_instance_set: NULL argument");
	const sh_field *field = sh_db__field_named(instance->model, name, instance->hint);
	if (field == NULL)
		return sh_error_set(SH_EINVAL, "%s has no field '%s'", instance->model->label, name);
	instance->hint = (uint32_t)field->index + 1;
	char scratch[SH__SCRATCH];
	sh_datum converted;
	size_t len;
	int rc = sh_db__convert_len(field, value, &converted, scratch, &len);
	if (rc < 0)
		return rc;
	if (SH__UNLIKELY(instance->extra != NULL)) {
		/* A set value is loaded (Django: it is in __dict__ now); a key set
		 * to another value forgets the object cached for the old one. */
		if (instance->extra->deferred != NULL)
			instance->extra->deferred[field->index] = false;
		if (field->type == SH_FIELD_FOREIGN_KEY)
			sh_db__relcache_drop(instance, field->name);
	}
	return sh_db__instance_store_len(instance, field->index, converted, len);
}

int sh_instance_get(const sh_instance *instance, const char *name, sh_datum *out)
{
	if (instance == NULL || name == NULL || out == NULL)
		return sh_error_set(SH_EINVAL, "sh_instance_get: NULL argument");
	const sh_field *field = sh_db__field_named(instance->model, name, instance->hint);
	if (field == NULL)
		return sh_error_set(SH_EINVAL, "%s has no field '%s'", instance->model->label, name);
	/* The hint is a lookup cache, not a value: the instance (never const
	 * itself, and used by one thread only) keeps it for the next get. */
	((sh_instance *)instance)->hint = (uint32_t)field->index + 1;
	if (field->type == SH_FIELD_MANY_TO_MANY)
		return sh_error_set(SH_EINVAL, "%s.%s is a many-to-many relation: read it with "
			"sh_m2m_pks()", instance->model->label, name);
	if (SH__UNLIKELY(instance->extra != NULL && instance->extra->deferred != NULL
			&& instance->extra->deferred[field->index])) {
		/* Loading on first access changes the instance's values, not what
		 * the caller sees of it: same cast as the hint's. */
		int rc = sh_db__load_deferred((sh_instance *)instance, field->index);
		if (rc < 0)
			return rc;
	}
	*out = instance->values[field->index];
	return 0;
}

const char *sh_db__pk_text(const sh_instance *instance, char *buf, size_t size)
{
	const sh_datum *pk = &instance->values[instance->model->pk];
	if (pk->type == SH_DATUM_INT)
		snprintf(buf, size, "%s pk=%lld", instance->model->label, (long long)pk->v.i);
	else if (pk->type == SH_DATUM_TEXT)
		snprintf(buf, size, "%s pk='%s'", instance->model->label, pk->v.s);
	else
		snprintf(buf, size, "%s (unsaved)", instance->model->label);
	return buf;
}

/* ---- loading ---- */

int sh_db__instance_build(sh_instance **out, sh_conn *db, const sh_model *model,
	const sh_datum *values)
{
	size_t text = 0;
	for (size_t i = 0; i < model->field_count; i++)
		if (values[i].type == SH_DATUM_TEXT)
			text += strlen(values[i].v.s) + 1;
	char *arena;
	size_t autos = db != NULL ? sh__sql_of(db, model)->auto_count : 0;
	sh_instance *inst = sh_db__instance_alloc(model, db, text, autos, &arena, false);
	if (inst == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory loading a %s", model->label);
	for (size_t i = 0; i < model->field_count; i++) {
		inst->values[i] = values[i];
		if (values[i].type == SH_DATUM_TEXT) {
			size_t n = strlen(values[i].v.s) + 1;
			memcpy(arena, values[i].v.s, n);
			inst->values[i].v.s = arena;
			arena += n;
		}
	}
	inst->adding = false;
	*out = inst;
	return 0;
}

/* Reads the row through sqlite3_column_value(): one accessor call per
 * column, where sqlite3_column_type() + sqlite3_column_int64() cost two,
 * each entering the statement's mutex. Reading an unprotected value is
 * safe here because the connection is used by one thread only. */
#define SH__ROW_STACK 32

/* Reads the model's columns from column `first` of the row, skipping the
 * fields `deferred` marks (NULL: none), which stay NULL. Inlined into its
 * two callers, so the plain loading path keeps no test per column. */
static inline __attribute__((always_inline)) int sh_db__from_row(sh_instance **out, sh_conn *db,
	const sh__model_sql *msql, sqlite3_stmt *stmt, int first, const bool *deferred)
{
	const sh_model *model = msql->model;
	const unsigned char *kinds = msql->kinds;
	size_t columns = msql->column_count;
	sqlite3_value *small[SH__ROW_STACK];
	sqlite3_value **vals = small;
	if (columns > SH__ROW_STACK && (vals = malloc(columns * sizeof *vals)) == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory loading a %s", model->label);
	size_t text = 0;
	int at = first;
	for (size_t c = 0; c < columns; c++) {
		if (deferred != NULL && deferred[msql->columns[c]]) {
			vals[c] = NULL;
			continue;
		}
		sqlite3_value *v = vals[c] = sqlite3_column_value(stmt, at++);
		if (kinds[c] == SH__KIND_TEXT && sqlite3_value_type(v) != SQLITE_NULL) {
			sqlite3_value_text(v);
			text += (size_t)sqlite3_value_bytes(v) + 1;
		}
	}
	char *arena;
	sh_instance *inst = sh_db__instance_alloc(model, db, text, msql->auto_count, &arena,
		msql->has_m2m || deferred != NULL);
	if (SH__UNLIKELY(inst == NULL)) {
		if (vals != small)
			free(vals);
		return sh_error_set(SH_ENOMEM, "out of memory loading a %s", model->label);
	}
	const size_t *index = msql->columns;
	for (size_t c = 0; c < columns; c++) {
		sqlite3_value *col = vals[c];
		sh_datum *v = &inst->values[index[c]];
		if (col == NULL || sqlite3_value_type(col) == SQLITE_NULL) {
			*v = sh_datum_null();
			continue;
		}
		switch (kinds[c]) {
		case SH__KIND_REAL:
			*v = sh_datum_real(sqlite3_value_double(col));
			break;
		case SH__KIND_BOOL:
			*v = sh_datum_bool(sqlite3_value_int64(col) != 0);
			break;
		case SH__KIND_TEXT: {
			const unsigned char *s = sqlite3_value_text(col);
			size_t n = (size_t)sqlite3_value_bytes(col);
			memcpy(arena, s, n);
			arena[n] = '\0';
			*v = sh_datum_text(arena);
			arena += n + 1;
			break;
		}
		default:
			*v = sh_datum_int(sqlite3_value_int64(col));
			break;
		}
	}
	if (vals != small)
		free(vals);
	inst->adding = false;
	*out = inst;
	return 0;
}

int sh_db__instance_from_row(sh_instance **out, sh_conn *db, const sh__model_sql *msql,
	sqlite3_stmt *stmt)
{
	return sh_db__from_row(out, db, msql, stmt, 0, NULL);
}

int sh_db__instance_from_row_at(sh_instance **out, sh_conn *db, const sh__model_sql *msql,
	sqlite3_stmt *stmt, int first, const bool *deferred)
{
	int rc = sh_db__from_row(out, db, msql, stmt, first, deferred);
	if (rc < 0 || deferred == NULL)
		return rc;
	sh_instance *inst = *out;
	size_t n = msql->model->field_count;
	inst->extra = calloc(1, sizeof *inst->extra);
	bool *flags = inst->extra != NULL ? malloc(n * sizeof *flags) : NULL;
	if (flags == NULL) {
		sh_instance_free(inst);
		*out = NULL;
		return sh_error_set(SH_ENOMEM, "out of memory loading a %s", msql->model->label);
	}
	memcpy(flags, deferred, n * sizeof *flags);
	inst->extra->deferred = flags;
	return 0;
}

int sh_db__instance_loaded(sh_instance *instance)
{
	const sh_model *model = instance->model;
	sh_conn *db = instance->db;
	sh_signal *pre_init = sh__signal(db, SH_PRE_INIT);
	if (sh_signal_has_listeners(pre_init, model->sender)) {
		/* Django's from_db: cls(*values), the values of the concrete fields. */
		const sh__model_sql *msql = sh__sql_of(db, model);
		/* cppcheck-suppress variableScope ; args may point here until the send */
		sh_datum small[32];
		sh_datum *args = instance->values, *heap = NULL;
		size_t count = model->field_count;
		const bool *flags = instance->extra != NULL ? instance->extra->deferred : NULL;
		bool *compact = NULL;
		if (msql->has_m2m) {
			count = msql->column_count;
			args = count <= 32 ? small : (heap = malloc(count * sizeof *heap));
			if (args == NULL)
				return sh_error_set(SH_ENOMEM, "out of memory loading a %s", model->label);
			for (size_t c = 0; c < count; c++)
				args[c] = instance->values[msql->columns[c]];
			if (flags != NULL
				&& (compact = malloc((count ? count : 1) * sizeof *compact)) == NULL) {
				free(heap);
				return sh_error_set(SH_ENOMEM, "out of memory loading a %s", model->label);
			}
			for (size_t c = 0; compact != NULL && c < count; c++)
				compact[c] = flags[msql->columns[c]];
			if (flags != NULL)
				flags = compact;
		}
		sh_pre_init_args pre = { count ? args : NULL, count, NULL, 0, flags };
		int rc = sh_signal_send(pre_init, model->sender, &pre, NULL);
		free(heap);
		free(compact);
		if (rc < 0)
			return rc;
	}
	sh_post_init_args post = { instance };
	return sh_signal_send(sh__signal(db, SH_POST_INIT), model->sender, &post, NULL);
}

int sh_field_validate(const sh_field *field, sh_datum value)
{
	if (field == NULL)
		return sh_error_set(SH_EINVAL, "sh_field_validate: NULL field");
	char scratch[SH__SCRATCH];
	sh_datum converted;
	return sh_db__convert(field, value, &converted, scratch);
}

int sh_db__instance_cmp_pk(const void *a, const void *b)
{
	int64_t x = sh_instance_pk(*(sh_instance *const *)a);
	int64_t y = sh_instance_pk(*(sh_instance *const *)b);
	return (x > y) - (x < y);
}
