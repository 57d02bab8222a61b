/*
 * field.c: the read-only accessors of a field (sh_field_*, model.h).
 * Fields are immutable once the registry is prepared, so these take no
 * lock and any thread may call them.
 */
#include <string.h>

#include "registry_private.h"

const char *sh_field_name(const sh_field *field)
{
	return field->name;
}

sh_field_type sh_field_type_of(const sh_field *field)
{
	return field->type;
}

const char *sh_field_column(const sh_field *field)
{
	return field->column;
}

bool sh_field_null(const sh_field *field)
{
	return field->null;
}

bool sh_field_unique(const sh_field *field)
{
	return field->unique;
}

bool sh_field_primary_key(const sh_field *field)
{
	return field->primary_key;
}

int sh_field_max_length(const sh_field *field)
{
	return field->max_length;
}

bool sh_field_blank(const sh_field *field)
{
	return field->blank;
}

bool sh_field_auto_now(const sh_field *field)
{
	return field->auto_now;
}

bool sh_field_auto_now_add(const sh_field *field)
{
	return field->auto_now_add;
}

bool sh_field_has_default(const sh_field *field)
{
	return field->has_default;
}

const sh_model *sh_field_target(const sh_field *field)
{
	return field->target;
}

const sh_model *sh_field_through(const sh_field *field)
{
	return field->through;
}

sh_on_delete sh_field_on_delete(const sh_field *field)
{
	return field->on_delete;
}

const char *sh_field_related_name(const sh_field *field)
{
	return field->related_name;
}

const char *sh_field_type_name(sh_field_type type)
{
	static const char *const names[SH_FIELD_TYPE_COUNT] = {
		[SH_FIELD_AUTO] = "AutoField",
		[SH_FIELD_INTEGER] = "IntegerField",
		[SH_FIELD_BIG_INTEGER] = "BigIntegerField",
		[SH_FIELD_REAL] = "FloatField",
		[SH_FIELD_TEXT] = "CharField",
		[SH_FIELD_BOOLEAN] = "BooleanField",
		[SH_FIELD_DATE] = "DateField",
		[SH_FIELD_DATETIME] = "DateTimeField",
		[SH_FIELD_JSON] = "JSONField",
		[SH_FIELD_FOREIGN_KEY] = "ForeignKey",
		[SH_FIELD_MANY_TO_MANY] = "ManyToManyField",
	};
	return (unsigned)type < SH_FIELD_TYPE_COUNT ? names[type] : NULL;
}
