/*
 * fixture.c: values between sighost's datums and Django's JSON fixtures
 * (fixture.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

void sh_cli_fixture_label(char *buf, size_t size, const sh_model *model)
{
	snprintf(buf, size, "%s", sh_model_label(model));
	for (char *p = buf; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
}

int sh_cli_fixture_value(json_t **out, const sh_field *f, sh_datum d)
{
	json_t *v = NULL;
	switch (d.type) {
	case SH_DATUM_NULL: v = json_null(); break;
	case SH_DATUM_INT: v = json_integer(d.v.i); break;
	case SH_DATUM_REAL: v = json_real(d.v.r); break;
	case SH_DATUM_BOOL: v = json_boolean(d.v.b); break;
	case SH_DATUM_TEXT:
		v = sh_field_type_of(f) == SH_FIELD_JSON ? json_loads(d.v.s, JSON_DECODE_ANY, NULL)
			: json_string(d.v.s);
		break;
	}
	if (v == NULL)
		return sh_error_set(d.type == SH_DATUM_TEXT && sh_field_type_of(f) == SH_FIELD_JSON
			? SH_EINVAL : SH_ENOMEM, "cannot write field '%s' as JSON", sh_field_name(f));
	*out = v;
	return 0;
}

int sh_cli_fixture_datum(sh_datum *out, char **text, const sh_field *f, const json_t *v)
{
	*text = NULL;
	if (sh_field_type_of(f) == SH_FIELD_JSON && !json_is_null(v)) {
		*text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (*text == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory reading field '%s'", sh_field_name(f));
		*out = sh_datum_text(*text);
		return sh_field_validate(f, *out);
	}
	switch (json_typeof(v)) {
	case JSON_NULL: *out = sh_datum_null(); break;
	case JSON_INTEGER: *out = sh_datum_int(json_integer_value(v)); break;
	case JSON_REAL: *out = sh_datum_real(json_real_value(v)); break;
	case JSON_TRUE: *out = sh_datum_bool(true); break;
	case JSON_FALSE: *out = sh_datum_bool(false); break;
	case JSON_STRING: *out = sh_datum_text(json_string_value(v)); break;
	default:
		return sh_error_set(SH_EINVAL, "field '%s' takes a single value, not a JSON %s",
			sh_field_name(f), json_is_array(v) ? "list" : "object");
	}
	return sh_field_validate(f, *out);
}
