/*
 * audit_json.c: the arguments of each built-in signal as a JSON object,
 * built with jansson (which does all escaping).
 */
#include "audit.h"

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *datum_json(sh_datum d)
{
	switch (d.type) {
	case SH_DATUM_INT: return json_integer((json_int_t)d.v.i);
	case SH_DATUM_REAL: return json_real(d.v.r);
	case SH_DATUM_TEXT: return json_string(d.v.s);
	case SH_DATUM_BOOL: return json_boolean(d.v.b);
	case SH_DATUM_NULL: break;
	}
	return json_null();
}

static json_t *name_set_json(const sh_name_set *set)
{
	if (set == NULL)
		return json_null();
	json_t *list = json_array();
	for (size_t i = 0; list != NULL && i < set->count; i++)
		json_array_append_new(list, string_or_null(set->names[i]));
	return list;
}

json_t *audit_value_json(const sh_value *value)
{
	int64_t n;
	bool b;
	switch (sh_value_type_of(value)) {
	case SH_VALUE_NULL:
		return json_null();
	case SH_VALUE_STRING:
		return json_string(sh_value_string(value));
	case SH_VALUE_INT:
		sh_value_int(&n, value);
		return json_integer((json_int_t)n);
	case SH_VALUE_BOOL:
		sh_value_bool(&b, value);
		return json_boolean(b);
	case SH_VALUE_LIST: {
		json_t *list = json_array();
		for (size_t i = 0; list != NULL && i < sh_value_length(value); i++)
			json_array_append_new(list, audit_value_json(sh_value_at(value, i)));
		return list;
	}
	case SH_VALUE_MAP: {
		json_t *map = json_object();
		for (size_t i = 0; map != NULL && i < sh_value_length(value); i++)
			json_object_set_new(map, sh_value_key_at(value, i),
				audit_value_json(sh_value_at(value, i)));
		return map;
	}
	}
	return json_null();
}

static json_t *pre_init_json(const sh_pre_init_args *a)
{
	json_t *positional = json_array(), *named = json_object();
	for (size_t i = 0; positional != NULL && i < a->args_count; i++)
		json_array_append_new(positional, datum_json(a->args[i]));
	for (size_t i = 0; named != NULL && i < a->kwargs_count; i++)
		json_object_set_new(named, a->kwargs[i].name, datum_json(a->kwargs[i].value));
	return json_pack("{s:o*, s:o*}", "args", positional, "kwargs", named);
}

static json_t *m2m_json(const sh_m2m_changed_args *a)
{
	json_t *pks = json_null();
	if (a->pk_set != NULL) {
		pks = json_array();
		for (size_t i = 0; pks != NULL && i < a->pk_count; i++)
			json_array_append_new(pks, json_integer((json_int_t)a->pk_set[i]));
	}
	return json_pack("{s:s?, s:b, s:o*, s:s?}", "action", sh_m2m_action_name(a->action),
		"reverse", a->reverse, "pk_set", pks, "using", a->using_);
}

static json_t *migrate_json(const sh_migrate_args *a)
{
	json_t *plan = json_array();
	for (size_t i = 0; plan != NULL && i < a->plan_count; i++)
		json_array_append_new(plan, json_pack("{s:s?, s:s?, s:b}",
			"app_label", a->plan[i].app_label, "name", a->plan[i].name,
			"backwards", a->plan[i].backwards));
	return json_pack("{s:s?, s:i, s:b, s:s?, s:o*}",
		"app_config", a->app_config ? sh_app_label(a->app_config) : NULL,
		"verbosity", a->verbosity, "interactive", a->interactive, "using", a->using_,
		"plan", plan);
}

static json_t *environ_json(const sh_request_started_args *a)
{
	const sh_environ *e = a->environ;
	if (e == NULL)
		return json_pack("{s:n}", "environ");
	return json_pack("{s:{s:s?, s:s?, s:s?, s:s?}}", "environ",
		"REQUEST_METHOD", e->method, "PATH_INFO", e->path,
		"QUERY_STRING", e->query_string, "REMOTE_ADDR", e->remote_addr);
}

json_t *audit_args_json(sh_builtin id, const void *args)
{
	if (args == NULL)
		return json_object();
	switch (id) {
	case SH_PRE_INIT:
		return pre_init_json(args);
	case SH_PRE_SAVE: {
		const sh_pre_save_args *a = args;
		return json_pack("{s:b, s:s?, s:o*}", "raw", a->raw, "using", a->using_,
			"update_fields", name_set_json(a->update_fields));
	}
	case SH_POST_SAVE: {
		const sh_post_save_args *a = args;
		return json_pack("{s:b, s:b, s:s?, s:o*}", "created", a->created, "raw", a->raw,
			"using", a->using_, "update_fields", name_set_json(a->update_fields));
	}
	case SH_PRE_DELETE:
	case SH_POST_DELETE: {
		const sh_delete_args *a = args;
		return json_pack("{s:s?, s:b}", "using", a->using_,
			"origin", a->origin != NULL || a->origin_model != NULL);
	}
	case SH_M2M_CHANGED:
		return m2m_json(args);
	case SH_PRE_MIGRATE:
	case SH_POST_MIGRATE:
		return migrate_json(args);
	case SH_REQUEST_STARTED:
		return environ_json(args);
	case SH_GOT_REQUEST_EXCEPTION: {
		const sh_got_request_exception_args *a = args;
		return json_pack("{s:i, s:s?}", "error", a->error, "message", a->message);
	}
	case SH_SETTING_CHANGED: {
		const sh_setting_changed_args *a = args;
		return json_pack("{s:s?, s:o*, s:b}", "setting", a->setting,
			"value", audit_value_json(a->value), "enter", a->enter);
	}
	case SH_TEMPLATE_RENDERED: {
		/* the template's name and a copy of the context it renders with */
		const sh_template_rendered_args *a = args;
		return json_pack("{s:s, s:O}", "template", sh_template_name(a->template_),
			"context", sh_context_json(a->context));
	}
	default:
		return json_object();   /* the other arguments are host objects */
	}
}
