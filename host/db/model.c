/*
 * model.c: the read-only accessors of a model (sh_model_*, model.h).
 * Models are immutable once the registry is prepared, so these take no
 * lock and any thread may call them.
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
