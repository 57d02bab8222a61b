/*
 * registry_access.c: the read-only accessors of models and fields
 * (model.h). Models are immutable once the registry is prepared, so these
 * take no lock and any thread may call them.
 */
#include <string.h>

#include "registry_private.h"

const char *sh_model_label(const sh_model *model)
{
	return model->label;
}

const char *sh_model_app_label(const sh_model *model)
{
	return model->app_label;
}

const char *sh_model_name(const sh_model *model)
{
	return model->name;
}

const char *sh_model_table(const sh_model *model)
{
	return model->table;
}

const sh_sender *sh_model_sender(const sh_model *model)
{
	return model->sender;
}

bool sh_model_auto_created(const sh_model *model)
{
	return model->auto_created;
}

size_t sh_model_field_count(const sh_model *model)
{
	return model->field_count;
}

const sh_field *sh_model_field_at(const sh_model *model, size_t index)
{
	return index < model->field_count ? &model->fields[index] : NULL;
}

sh_field *sh_db__model_field(const sh_model *model, const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < model->field_count; i++)
		if (strcmp(model->fields[i].name, name) == 0)
			return &model->fields[i];
	for (size_t i = 0; i < model->field_count; i++)
		if (model->fields[i].type == SH_FIELD_FOREIGN_KEY
				&& strcmp(model->fields[i].column, name) == 0)
			return &model->fields[i];
	return NULL;
}

const sh_field *sh_model_field(const sh_model *model, const char *name)
{
	return sh_db__model_field(model, name);
}

const sh_field *sh_model_pk(const sh_model *model)
{
	return &model->fields[model->pk];
}

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
