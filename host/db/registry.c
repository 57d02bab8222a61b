/*
 * registry.c: the model registry (model.h), Django's `apps`: create and
 * free it, report problems, declare models and look them up. Declaring
 * checks a model alone (registry_decl.c) and builds it (registry_model.c);
 * relations and join models come with sh_models_prepare() (prepare.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_private.h"

int sh_models_new(sh_models **out, sh_hub *hub)
{
	if (out == NULL || hub == NULL)
		return sh_error_set(SH_EINVAL, "sh_models_new: out and hub are required");
	/* Async receivers of the model signals get deep copies of their args. */
	int rc = sh_db__set_model_copiers(hub);
	if (rc < 0)
		return rc;
	sh_models *models = calloc(1, sizeof *models);
	if (models == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	models->hub = hub;
	*out = models;
	return 0;
}

void sh_models_free(sh_models *models)
{
	if (models == NULL)
		return;
	for (size_t i = 0; i < models->count; i++)
		sh_db__model_free(models->models[i]);
	free(models->models);
	free(models);
}

void sh_models_set_reporter(sh_models *models, sh_problem_fn fn, void *payload)
{
	if (models == NULL)
		return;
	models->reporter = fn;
	models->reporter_payload = payload;
}

int sh_db__models_problem(sh_models *models, int code, const char *where, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	bool first = models->first_problem == 0;
	if (first)
		models->first_problem = code;
	if (models->reporter != NULL)
		models->reporter(code, where, message, models->reporter_payload);
	/* After the reporter: it may call into sighost and clear the channel. */
	if (first) {
		if (where != NULL)
			sh_error_set(code, "%s: %s", where, message);
		else
			sh_error_set(code, "%s", message);
	}
	return code;
}

int sh_db__ascii_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = sh__ascii_lower((unsigned char)*a), cb = sh__ascii_lower((unsigned char)*b);
		if (ca != cb || ca == '\0')
			return ca - cb;
	}
}

sh_model *sh_db__models_find(const sh_models *models, const char *app_label, const char *name)
{
	for (size_t i = 0; i < models->count; i++) {
		sh_model *m = models->models[i];
		if (strcmp(m->app_label, app_label) == 0 && sh_db__ascii_casecmp(m->name, name) == 0)
			return m;
	}
	return NULL;
}

sh_model *sh_db__models_find_label(const sh_models *models, const char *label)
{
	const char *dot = strchr(label, '.');
	if (dot == NULL || dot == label || strchr(dot + 1, '.') != NULL)
		return NULL;
	char app[256];
	size_t len = (size_t)(dot - label);
	if (len >= sizeof app)
		return NULL;
	memcpy(app, label, len);
	app[len] = '\0';
	return sh_db__models_find(models, app, dot + 1);
}

int sh_db__models_append(sh_models *models, sh_model *model)
{
	if (models->count == models->capacity) {
		size_t cap = models->capacity ? models->capacity * 2 : 16;
		sh_model **grown = realloc(models->models, cap * sizeof *grown);
		if (grown == NULL) {
			sh_db__model_free(model);
			return sh_error_set(SH_ENOMEM, "out of memory");
		}
		models->models = grown;
		models->capacity = cap;
	}
	model->index = models->count;
	models->models[models->count++] = model;
	return 0;
}

/* ---- declaring ---- */

int sh_models_declare(sh_models *models, const char *app_label, const char *name,
	const sh_field_decl *fields, size_t count, const char *where)
{
	if (models == NULL || app_label == NULL || name == NULL || (count > 0 && fields == NULL))
		return sh_error_set(SH_EINVAL,
			"sh_models_declare: registry, app label, name and fields are required");
	if (models->prepared)
		return sh_error_set(SH_EINVAL,
			"cannot declare %s.%s: the registry is prepared already (declare every model "
			"before sh_models_prepare())", app_label, name);
	models->first_problem = 0;
	if (sh_db__decl_check(models, app_label, name, fields, count, where) > 0)
		return models->first_problem;
	sh_model *model;
	int rc = sh_db__model_build(&model, models, app_label, name, fields, count, where, false);
	if (rc == 0)
		rc = sh_db__models_append(models, model);
	return rc;
}

/* ---- reading ---- */

bool sh_models_prepared(const sh_models *models)
{
	return models != NULL && models->prepared;
}

sh_hub *sh_models_hub(const sh_models *models)
{
	return models != NULL ? models->hub : NULL;
}

size_t sh_models_count(const sh_models *models)
{
	return models != NULL ? models->count : 0;
}

const sh_model *sh_models_at(const sh_models *models, size_t index)
{
	return models != NULL && index < models->count ? models->models[index] : NULL;
}

int sh_models_lookup(const sh_model **out, const sh_models *models, const char *label)
{
	if (out == NULL || models == NULL || label == NULL)
		return sh_error_set(SH_EINVAL, "sh_models_lookup: out, registry and label are required");
	const sh_model *m = sh_db__models_find_label(models, label);
	if (m == NULL) {
		if (strchr(label, '.') == NULL)
			return sh_error_set(SH_ENOTFOUND,
				"no model '%s': a model label is \"app_label.ModelName\"", label);
		return sh_error_set(SH_ENOTFOUND, "no model '%s'", label);
	}
	*out = m;
	return 0;
}

const char *sh_datum_type_name(sh_datum_type type)
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
