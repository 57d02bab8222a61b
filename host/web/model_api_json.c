/*
 * model_api_json.c: the JSON API's values (model_api.h): instances to JSON
 * objects, JSON values and query text to datums with the field's type
 * checked, the request body read strictly, and the JSON error answers.
 * Everything the client sends is checked here before the model layer sees
 * it; the model layer's own checks (lengths, dates, NOT NULL, uniqueness)
 * come back through sh_web__api_fail.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/utf8.h"
#include "model_api.h"

/* Replaces the bytes of `s` that are not UTF-8 by '?', in place. */
static void sh_web__utf8_scrub(char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		unsigned c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
			: (c & 0xf8) == 0xf0 ? 4 : 0;
		if (len == 0 || i + len > n || !sh_base__utf8_valid(s + i, len)) {
			s[i++] = '?';
			continue;
		}
		i += len;
	}
}

int sh_web__api_error(sh__api *api, int status, const char *field, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	sh_web__utf8_scrub(message);
	json_t *body = json_pack("{s:s}", "error", message);
	if (body != NULL && field != NULL) {
		char name[256];
		snprintf(name, sizeof name, "%s", field);
		sh_web__utf8_scrub(name);
		json_object_set_new(body, "field", json_string(name));
	}
	int rc = body != NULL ? sh_http_response_json(api->response, status, body)
		: sh_error_set(SH_ENOMEM, "out of memory");
	json_decref(body);
	return rc < 0 ? rc : SH__ANSWERED;
}

/* The field of the model that a model-layer message names
 * ("alert.Alert.content: ..."), NULL when none. */
static const char *sh_web__field_named(const sh__api *api, const char *message)
{
	const char *label = sh_model_label(api->model);
	size_t n = strlen(label);
	for (const char *at = strstr(message, label); at != NULL; at = strstr(at + 1, label)) {
		if (at[n] != '.')
			continue;
		for (size_t i = 0; i < sh_model_field_count(api->model); i++) {
			const char *name = sh_field_name(sh_model_field_at(api->model, i));
			size_t k = strlen(name);
			char next = at[n + 1 + k];
			if (strncmp(at + n + 1, name, k) == 0 && !(next == '_' || (next >= 'a' && next <= 'z')
				|| (next >= 'A' && next <= 'Z') || (next >= '0' && next <= '9')))
				return name;
		}
	}
	return NULL;
}

int sh_web__api_fail(sh__api *api, int rc, const char *field)
{
	char message[1024];
	snprintf(message, sizeof message, "%s", sh_error_last()->message);
	switch (rc) {
	case SH_EINVAL:
	case SH_EINTEGRITY:
	case SH_ENOTFOUND:
		return sh_web__api_error(api, 400, field != NULL ? field : sh_web__field_named(api, message),
			"%s", message);
	case SH_EPROTECTED:
		return sh_web__api_error(api, 409, NULL, "%s", message);
	default:
		return rc;
	}
}

/* ---- instances to JSON text ------------------------------------------ *
 *
 * The lists and objects the API answers are written straight into the
 * response's buffer, with no jansson tree per item: the same bytes as
 * json_dumps(JSON_COMPACT) of the tree of the same values (tests/web/api.c
 * checks them against it). */

/* Appends `n` bytes of `s` (UTF-8 already checked) as a JSON string, with
 * jansson's escapes: \" \\ \b \f \n \r \t, \u00XX for the other control
 * characters, everything else as it is. */
static int sh_web__json_escaped(sh__wbuf *out, const char *s, size_t n)
{
	int rc = sh_web__wbuf_add(out, "\"", 1);
	size_t run = 0;   /* bytes copied as they are, pending */
	for (size_t i = 0; rc == 0 && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			run++;
			continue;
		}
		rc = sh_web__wbuf_add(out, s + i - run, run);
		run = 0;
		char esc[8];
		const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
			: c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
		if (e == NULL) {
			snprintf(esc, sizeof esc, "\\u%04X", c);
			e = esc;
		}
		if (rc == 0)
			rc = sh_web__wbuf_puts(out, e);
	}
	if (rc == 0)
		rc = sh_web__wbuf_add(out, s + n - run, run);
	return rc == 0 ? sh_web__wbuf_add(out, "\"", 1) : rc;
}

/* Appends a real as jansson does: "%.17g", ".0" when that looks like an
 * integer, no '+' and no leading zeros in the exponent. */
static int sh_web__json_real(sh__wbuf *out, double value)
{
	char text[64];
	int n = snprintf(text, sizeof text, "%.17g", value);
	if (n < 0 || (size_t)n >= sizeof text - 2)
		return sh_error_set(SH_EINVAL, "cannot format a real");
	if (strchr(text, '.') == NULL && strchr(text, 'e') == NULL) {
		memcpy(text + n, ".0", 3);
		n += 2;
	}
	char *e = strchr(text, 'e');
	if (e != NULL) {
		char *start = e + 1, *end = e + 2;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, (size_t)(text + n + 1 - end));
			n -= (int)(end - start);
		}
	}
	return sh_web__wbuf_add(out, text, (size_t)n);
}

static int sh_web__json_dump_cb(const char *buffer, size_t size, void *data)
{
	return sh_web__wbuf_add(data, buffer, size) < 0 ? -1 : 0;
}

/* Appends a datum: a JSON field's text as the JSON it holds (as text when
 * it holds none), a non-finite real and text that is not UTF-8 as null. */
static int sh_web__json_datum(sh__wbuf *out, const sh_datum *d, sh_field_type type)
{
	char text[32];
	switch (d->type) {
	case SH_DATUM_INT:
		snprintf(text, sizeof text, "%lld", (long long)d->v.i);
		return sh_web__wbuf_puts(out, text);
	case SH_DATUM_REAL:
		return isfinite(d->v.r) ? sh_web__json_real(out, d->v.r) : sh_web__wbuf_puts(out, "null");
	case SH_DATUM_BOOL:
		return sh_web__wbuf_puts(out, d->v.b ? "true" : "false");
	case SH_DATUM_TEXT: {
		if (type == SH_FIELD_JSON) {
			json_t *parsed = json_loads(d->v.s, JSON_DECODE_ANY, NULL);
			if (parsed != NULL) {
				int rc = json_dump_callback(parsed, sh_web__json_dump_cb, out,
					JSON_COMPACT | JSON_ENCODE_ANY);
				json_decref(parsed);
				return rc == 0 ? 0 : sh_error_set(SH_ENOMEM, "out of memory");
			}
		}
		size_t n = strlen(d->v.s);
		if (!sh_base__utf8_valid(d->v.s, n))
			return sh_web__wbuf_puts(out, "null");   /* written from C: as json_string() */
		return sh_web__json_escaped(out, d->v.s, n);
	}
	case SH_DATUM_NULL:
	default:
		return sh_web__wbuf_puts(out, "null");
	}
}

int sh_web__api_write_object(sh__wbuf *out, sh__api *api, const sh__api_field *fields, size_t n,
	sh_instance *instance)
{
	int rc = sh_web__wbuf_add(out, "{", 1);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const sh__api_field *f = &fields[i];
		if (i > 0)
			rc = sh_web__wbuf_add(out, ",", 1);
		if (rc == 0)
			rc = sh_web__json_escaped(out, f->name, strlen(f->name));
		if (rc == 0)
			rc = sh_web__wbuf_add(out, ":", 1);
		if (rc < 0)
			break;
		if (f->type == SH_FIELD_MANY_TO_MANY) {
			int64_t *pks = NULL;
			size_t count = 0;
			if ((rc = sh_m2m_pks(instance, f->name, &pks, &count)) < 0)
				break;
			rc = sh_web__wbuf_add(out, "[", 1);
			for (size_t k = 0; rc == 0 && k < count; k++)
				rc = sh_web__wbuf_printf(out, k > 0 ? ",%lld" : "%lld", (long long)pks[k]);
			free(pks);
			if (rc == 0)
				rc = sh_web__wbuf_add(out, "]", 1);
		} else {
			sh_datum d;
			if ((rc = sh_instance_get(instance, f->name, &d)) == 0)
				rc = sh_web__json_datum(out, &d, f->type);
		}
	}
	(void)api;
	return rc == 0 ? sh_web__wbuf_add(out, "}", 1) : rc;
}

/* ---- JSON and query text to datums ------------------------------------ */

static const char *sh_web__json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

int sh_web__api_datum(sh_datum *out, char **owned, sh__api *api, const sh__api_field *f,
	const json_t *v)
{
	*owned = NULL;
	if (json_is_null(v)) {
		if (!sh_field_null(f->field))
			return sh_web__api_error(api, 400, f->name, "field '%s' may not be null", f->name);
		*out = sh_datum_null();
		return 0;
	}
	const char *want = NULL;
	switch (f->type) {
	case SH_FIELD_AUTO:
	case SH_FIELD_INTEGER:
	case SH_FIELD_BIG_INTEGER:
	case SH_FIELD_FOREIGN_KEY:
		if (json_is_integer(v)) {
			*out = sh_datum_int((int64_t)json_integer_value(v));
			return 0;
		}
		want = f->type == SH_FIELD_FOREIGN_KEY ? "an integer (the primary key of the target)"
			: "an integer";
		break;
	case SH_FIELD_REAL:
		if (json_is_number(v)) {
			*out = sh_datum_real(json_number_value(v));
			return 0;
		}
		want = "a number";
		break;
	case SH_FIELD_BOOLEAN:
		if (json_is_boolean(v)) {
			*out = sh_datum_bool(json_is_true(v));
			return 0;
		}
		want = "true or false";
		break;
	case SH_FIELD_TEXT:
	case SH_FIELD_DATE:
	case SH_FIELD_DATETIME:
		if (json_is_string(v)) {
			*out = sh_datum_text(json_string_value(v));
			return 0;
		}
		want = f->type == SH_FIELD_TEXT ? "a string" : f->type == SH_FIELD_DATE
			? "a date string (\"YYYY-MM-DD\")" : "a datetime string (ISO 8601)";
		break;
	case SH_FIELD_JSON:
		*owned = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		if (*owned == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		*out = sh_datum_text(*owned);
		return 0;
	default:
		want = "a value";
		break;
	}
	return sh_web__api_error(api, 400, f->name, "field '%s' must be %s, not %s", f->name, want,
		sh_web__json_type_name(v));
}

bool sh_web__api_int(const char *text, int64_t *out)
{
	if (text == NULL || text[0] == '\0' || strlen(text) > 20)
		return false;
	const char *s = text[0] == '-' || text[0] == '+' ? text + 1 : text;
	if (*s == '\0')
		return false;
	for (const char *c = s; *c != '\0'; c++)
		if (*c < '0' || *c > '9')
			return false;
	errno = 0;
	char *end;
	long long v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = (int64_t)v;
	return true;
}

static bool sh_web__parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "true", "True", "1" }, *const no[] = { "false", "False", "0" };
	for (size_t i = 0; i < SH__COUNT(yes); i++) {
		if (strcmp(text, yes[i]) == 0)
			return *out = true, true;
		if (strcmp(text, no[i]) == 0)
			return *out = false, true;
	}
	return false;
}

int sh_web__api_query_datum(sh_datum *out, sh__api *api, const sh_field *field, bool isnull,
	const char *param, const char *text)
{
	bool b;
	if (isnull || sh_field_type_of(field) == SH_FIELD_BOOLEAN) {
		if (!sh_web__parse_bool(text, &b))
			return sh_web__api_error(api, 400, param, "filter '%s' takes true or false, not '%s'",
				param, text);
		*out = sh_datum_bool(b);
		return 0;
	}
	switch (sh_field_type_of(field)) {
	case SH_FIELD_AUTO:
	case SH_FIELD_INTEGER:
	case SH_FIELD_BIG_INTEGER:
	case SH_FIELD_FOREIGN_KEY: {
		int64_t i;
		if (!sh_web__api_int(text, &i))
			return sh_web__api_error(api, 400, param,
				"filter '%s' takes an integer that fits in 64 bits, not '%s'", param, text);
		*out = sh_datum_int(i);
		return 0;
	}
	case SH_FIELD_REAL: {
		char *end;
		errno = 0;
		double r = strtod(text, &end);
		if (text[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(r))
			return sh_web__api_error(api, 400, param, "filter '%s' takes a number, not '%s'",
				param, text);
		*out = sh_datum_real(r);
		return 0;
	}
	default:
		if (!sh_base__utf8_valid(text, strlen(text)))
			return sh_web__api_error(api, 400, param, "filter '%s': the value is not UTF-8 text",
				param);
		*out = sh_datum_text(text);
		return 0;
	}
}

/* ---- the body --------------------------------------------------------- */

/* True for "application/json", any case, parameters allowed. */
static bool sh_web__is_json_type(const char *type)
{
	static const char json[] = "application/json";
	if (type == NULL)
		return false;
	while (*type == ' ' || *type == '\t')
		type++;
	size_t n = sizeof json - 1;
	return strncasecmp(type, json, n) == 0
		&& (type[n] == '\0' || type[n] == ';' || type[n] == ' ' || type[n] == '\t');
}

int sh_web__api_body(json_t **out, sh__api *api)
{
	*out = NULL;
	const char *type = sh_request_header(api->request, "Content-Type");
	if (!sh_web__is_json_type(type))
		return sh_web__api_error(api, 415, NULL, "unsupported media type '%s': send "
			"'Content-Type: application/json'", type != NULL ? type : "(none)");
	size_t length;
	const char *body = sh_request_body(api->request, &length);
	if (length == 0)
		return sh_web__api_error(api, 400, NULL, "the body is empty (a JSON object is expected)");
	json_error_t error;
	json_t *value = json_loadb(body, length, JSON_REJECT_DUPLICATES, &error);
	if (value == NULL)
		return sh_web__api_error(api, 400, NULL, "the body is not valid JSON: line %d, column %d: %s",
			error.line, error.column, error.text);
	if (!json_is_object(value)) {
		json_decref(value);   /* not JSON_DECODE_ANY: an array is all it can be */
		return sh_web__api_error(api, 400, NULL, "the body must be a JSON object, not a list");
	}
	*out = value;
	return 0;
}

int sh_web__api_pks(int64_t **out, size_t *count, sh__api *api, const char *name,
	const json_t *value)
{
	*out = NULL;
	*count = 0;
	if (!json_is_array(value))
		return sh_web__api_error(api, 400, name, "'%s' must be a list of primary keys, not %s",
			name, sh_web__json_type_name(value));
	size_t n = json_array_size(value);
	int64_t *pks = malloc((n > 0 ? n : 1) * sizeof *pks);
	if (pks == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_t *item = json_array_get(value, i);
		if (!json_is_integer(item)) {
			free(pks);
			return sh_web__api_error(api, 400, name, "'%s' must be a list of primary keys "
				"(integers); item %zu is %s", name, i, sh_web__json_type_name(item));
		}
		pks[i] = (int64_t)json_integer_value(item);
	}
	*out = pks;
	*count = n;
	return 0;
}
