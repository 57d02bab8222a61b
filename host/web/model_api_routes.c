/*
 * model_api_routes.c: what a `model: app.Model` route is (model_api.h,
 * internal.h): its model, found in the loaded project's registry, and its
 * shape, read from its path pattern:
 *
 *   /api/alerts                    no parameter: the collection (GET, POST)
 *   /api/alerts/<int:pk>           one int parameter at the end: an item
 *                                  (GET, PUT, PATCH, DELETE)
 *   /api/alerts/<int:pk>/tags      an int parameter then "/NAME", NAME a
 *                                  many-to-many relation of the model (its
 *                                  field, or the related_name of another
 *                                  model's field to it): GET, POST, DELETE
 *
 * Also the options of a field that the registry does not expose (auto_now,
 * auto_now_add, blank, default), read from the model's app manifest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_api.h"

/* Methods each shape answers (HEAD comes with GET). */
static unsigned sh_web__kind_methods(int kind)
{
	switch (kind) {
	case SH__API_COLLECTION: return SH__GET | SH__HEAD | SH__POST;
	case SH__API_ITEM: return SH__GET | SH__HEAD | SH__PUT | SH__PATCH | SH__DELETE;
	default: return SH__GET | SH__HEAD | SH__POST | SH__DELETE;
	}
}

static const char *sh_web__kind_name(int kind)
{
	return kind == SH__API_COLLECTION ? "a collection route" : kind == SH__API_ITEM
		? "an item route" : "a relation route";
}

/* The relation called `name` from `model`: its many-to-many field, or the
 * related_name of a many-to-many field of any model that points at it.
 * Returns the model at the other end, NULL when there is no such relation. */
static const sh_model *sh_web__model_api_routes_relation(const sh_models *models, const sh_model *model,
	const char *name)
{
	const sh_field *own = sh_model_field(model, name);
	if (own != NULL)
		return sh_field_type_of(own) == SH_FIELD_MANY_TO_MANY ? sh_field_target(own) : NULL;
	for (size_t i = 0; i < sh_models_count(models); i++) {
		const sh_model *other = sh_models_at(models, i);
		for (size_t k = 0; k < sh_model_field_count(other); k++) {
			const sh_field *f = sh_model_field_at(other, k);
			if (sh_field_type_of(f) == SH_FIELD_MANY_TO_MANY && sh_field_target(f) == model
				&& strcmp(sh_field_related_name(f), name) == 0)
				return other;
		}
	}
	return NULL;
}

/* Reads the shape of the route's pattern into route->model_kind (and
 * route->relation). Returns 0, SH_EINVAL for a pattern of no shape,
 * SH_ENOMEM. */
static int sh_web__route_shape(sh_route *route)
{
	const sh__pattern *p = &route->pattern;
	if (p->param_count == 0) {
		route->model_kind = SH__API_COLLECTION;
		return 0;
	}
	if (p->param_count != 1 || p->convs[0] != SH__CONV_INT)
		return SH_EINVAL;
	const sh__piece *last = &p->pieces[p->piece_count - 1];
	if (last->param == 0) {
		route->model_kind = SH__API_ITEM;
		return 0;
	}
	if (p->piece_count < 2 || p->pieces[p->piece_count - 2].param != 0 || last->len < 2
		|| last->text[0] != '/')
		return SH_EINVAL;
	char name[128];
	if (last->len - 1 >= sizeof name)
		return SH_EINVAL;
	memcpy(name, last->text + 1, last->len - 1);
	name[last->len - 1] = '\0';
	if (!sh_base__is_identifier(name, 100))
		return SH_EINVAL;
	if ((route->relation = strdup(name)) == NULL)
		return SH_ENOMEM;
	route->model_kind = SH__API_RELATION;
	return 0;
}

int sh_web__model_route_resolve(sh_router *router, sh_route *route)
{
	const sh_value *at_model = sh_value_get(route->where, "model");
	const sh_value *at_path = sh_value_get(route->where, "path");
	const sh_models *models = sh_app_models(route->app);
	const sh_model *model = NULL;
	if (models == NULL || sh_models_lookup(&model, models, route->model) < 0
		|| sh_model_auto_created(model))
		return sh_manifest__problem_at(&router->problems, SH_EMANIFEST, at_model,
			"model '%s' is not a model of an installed app", route->model);
	int rc = sh_web__route_shape(route);
	if (rc == SH_ENOMEM)
		return sh_error_set(SH_ENOMEM, "out of memory");
	if (rc < 0)
		return sh_manifest__problem_at(&router->problems, SH_EMANIFEST, at_path,
			"model route '%s' must be a collection (no parameter: /api/alerts), an item "
			"(one <int:pk> at the end: /api/alerts/<int:pk>) or a relation "
			"(/api/alerts/<int:pk>/tags)", route->pattern.source);
	if (route->model_kind == SH__API_RELATION
		&& (route->related = sh_web__model_api_routes_relation(models, model, route->relation)) == NULL)
		return sh_manifest__problem_at(&router->problems, SH_EMANIFEST, at_path,
			"'%s' is not a many-to-many relation of %s", route->relation,
			sh_model_label(model));
	unsigned extra = route->methods & ~sh_web__kind_methods(route->model_kind);
	if (extra != 0) {
		char methods[128], allowed[128];
		sh_web__methods_text(methods, sizeof methods, extra);
		sh_web__methods_text(allowed, sizeof allowed, sh_web__kind_methods(route->model_kind));
		const sh_value *at = sh_value_get(route->where, "methods");
		return sh_manifest__problem_at(&router->problems, SH_EMANIFEST, at != NULL ? at : at_path,
			"%s of a model answers %s, not %s", sh_web__kind_name(route->model_kind), allowed,
			methods);
	}
	route->model_ref = model;
	route->fn = sh_web__model_api;
	return 0;
}

/* ---- field options ---------------------------------------------------- */

void sh_web__api_describe(sh__api_field *out, const sh__api *api, size_t index)
{
	const sh_field *f = sh_model_field_at(api->model, index);
	*out = (sh__api_field){ 0 };
	out->field = f;
	out->name = sh_field_name(f);
	out->type = sh_field_type_of(f);
	out->forward_m2m = out->type == SH_FIELD_MANY_TO_MANY;
	bool auto_now = sh_field_auto_now(f) || sh_field_auto_now_add(f);
	bool blank = sh_field_blank(f);
	bool has_default = sh_field_has_default(f);
	out->read_only = sh_field_primary_key(f) || out->type == SH_FIELD_AUTO || auto_now;
	out->required = !out->read_only && out->type != SH_FIELD_MANY_TO_MANY && !sh_field_null(f)
		&& !has_default && !(blank && out->type == SH_FIELD_TEXT);
}
