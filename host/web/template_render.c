/*
 * template_render.c: renders a compiled template (template_tree.h) with a
 * JSON context, and the template API of template.h around it (compile,
 * render, template_rendered). Variables are looked up in the loop scopes
 * first (innermost loop variable, forloop), then in the context object.
 * Rendering never fails on data: a missing variable prints "", a loop over
 * something that is not a list runs its {% empty %} branch; only memory
 * can run out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "template_tree.h"

/* One loop level: its variable and its forloop object. */
typedef struct sh__scope {
	const struct sh__scope *up;
	const char *name;
	const json_t *value;
	json_t *forloop;
} sh__scope;

/* A value being evaluated: borrowed, or owned when a filter made it. */
typedef struct sh__val {
	json_t *json;              /* NULL for a missing variable */
	bool owned;
	bool safe;
} sh__val;

static void sh_web__val_set(sh__val *v, json_t *json, bool owned)
{
	if (v->owned)
		json_decref(v->json);
	v->json = json;
	v->owned = owned;
}

static void sh_web__val_dispose(sh__val *v)
{
	sh_web__val_set(v, NULL, false);
}

/* ---- lookups ---------------------------------------------------------- */

static bool sh_web__all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static json_t *sh_web__step(json_t *v, const char *part)
{
	if (json_is_object(v))
		return json_object_get(v, part);
	if (json_is_array(v) && sh_web__all_digits(part) && strlen(part) < 10)
		return json_array_get(v, (size_t)strtoul(part, NULL, 10));
	return NULL;
}

static json_t *sh_web__lookup(const sh__operand *o, const sh__scope *scope, const json_t *context)
{
	const char *first = o->parts[0];
	json_t *v = NULL;
	bool found = false;
	for (const sh__scope *s = scope; s != NULL && !found; s = s->up) {
		if (strcmp(first, s->name) == 0) {
			v = (json_t *)s->value;
			found = true;
		} else if (strcmp(first, "forloop") == 0) {
			v = s->forloop;
			found = true;
		}
	}
	if (!found)
		v = json_object_get(context, first);
	for (size_t i = 1; i < o->part_count && v != NULL; i++)
		v = sh_web__step(v, o->parts[i]);
	return v;
}

static bool sh_web__truthy(const json_t *v)
{
	if (v == NULL)
		return false;
	switch (json_typeof(v)) {
	case JSON_OBJECT: return json_object_size(v) > 0;
	case JSON_ARRAY: return json_array_size(v) > 0;
	case JSON_STRING: return json_string_length(v) > 0;
	case JSON_INTEGER: return json_integer_value(v) != 0;
	case JSON_REAL: return json_real_value(v) != 0.0;
	case JSON_TRUE: return true;
	case JSON_FALSE:
	case JSON_NULL: return false;
	}
	return false;
}

static int sh_web__eval(sh__val *out, const sh__operand *o, const sh__scope *scope,
	const json_t *context);

static int sh_web__apply_filter(sh__val *v, const sh__filter *f, const sh__scope *scope,
	const json_t *context)
{
	switch (f->kind) {
	case SH__FILTER_SAFE:
		v->safe = true;
		return 0;
	case SH__FILTER_ESCAPE:
		v->safe = false;
		return 0;
	case SH__FILTER_LENGTH: {
		size_t n = 0;
		if (json_is_array(v->json))
			n = json_array_size(v->json);
		else if (json_is_object(v->json))
			n = json_object_size(v->json);
		else if (json_is_string(v->json))
			n = sh_base__utf8_length(json_string_value(v->json), json_string_length(v->json));
		json_t *len = json_integer((json_int_t)n);
		if (len == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		sh_web__val_set(v, len, true);
		return 0;
	}
	case SH__FILTER_DEFAULT:
		if (sh_web__truthy(v->json))
			return 0;
		sh__val arg = { 0 };
		int rc = sh_web__eval(&arg, f->arg, scope, context);
		if (rc < 0)
			return rc;
		sh_web__val_set(v, arg.json, arg.owned);
		return 0;
	}
	return 0;
}

static int sh_web__eval(sh__val *out, const sh__operand *o, const sh__scope *scope,
	const json_t *context)
{
	*out = (sh__val){ 0 };
	out->json = o->literal != NULL ? o->literal : sh_web__lookup(o, scope, context);
	for (size_t i = 0; i < o->filter_count; i++) {
		int rc = sh_web__apply_filter(out, &o->filters[i], scope, context);
		if (rc < 0) {
			sh_web__val_dispose(out);
			return rc;
		}
	}
	return 0;
}

/* ---- conditions ------------------------------------------------------- */

static bool sh_web__is_number(const json_t *v)
{
	return json_is_integer(v) || json_is_real(v) || json_is_boolean(v);
}

static double sh_web__template_render_number(const json_t *v)
{
	return json_is_integer(v) ? (double)json_integer_value(v) : json_is_real(v)
		? json_real_value(v) : json_is_true(v) ? 1.0 : 0.0;
}

/* Python's ==: None == None, numbers by value (True == 1), else structure. */
static bool sh_web__equal(const json_t *a, const json_t *b)
{
	if ((a == NULL || json_is_null(a)) && (b == NULL || json_is_null(b)))
		return true;
	if (a == NULL || b == NULL)
		return false;
	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) == json_integer_value(b);
	if (sh_web__is_number(a) && sh_web__is_number(b))
		return sh_web__template_render_number(a) == sh_web__template_render_number(b);
	return json_equal((json_t *)a, (json_t *)b) != 0;
}

static int sh_web__test(bool *out, const sh__expr *e, const sh__scope *scope, const json_t *context)
{
	int rc = 0;
	bool left = false, right = false;
	switch (e->kind) {
	case SH__EXPR_OPERAND: {
		sh__val v;
		if ((rc = sh_web__eval(&v, &e->operand, scope, context)) < 0)
			return rc;
		*out = sh_web__truthy(v.json);
		sh_web__val_dispose(&v);
		return 0;
	}
	case SH__EXPR_NOT:
		rc = sh_web__test(&left, e->a, scope, context);
		*out = !left;
		return rc;
	case SH__EXPR_AND:
		if ((rc = sh_web__test(&left, e->a, scope, context)) < 0 || !left) {
			*out = false;
			return rc;
		}
		rc = sh_web__test(&right, e->b, scope, context);
		*out = right;
		return rc;
	case SH__EXPR_OR:
		if ((rc = sh_web__test(&left, e->a, scope, context)) < 0 || left) {
			*out = left;
			return rc;
		}
		rc = sh_web__test(&right, e->b, scope, context);
		*out = right;
		return rc;
	case SH__EXPR_EQ:
	case SH__EXPR_NE: {
		sh__val a, b;
		if ((rc = sh_web__eval(&a, &e->a->operand, scope, context)) < 0)
			return rc;
		if ((rc = sh_web__eval(&b, &e->b->operand, scope, context)) < 0) {
			sh_web__val_dispose(&a);
			return rc;
		}
		bool eq = sh_web__equal(a.json, b.json);
		*out = e->kind == SH__EXPR_EQ ? eq : !eq;
		sh_web__val_dispose(&a);
		sh_web__val_dispose(&b);
		return 0;
	}
	}
	return 0;
}

/* ---- output ----------------------------------------------------------- */

int sh_web__html_escape(sh__wbuf *out, const char *text, size_t len)
{
	size_t from = 0;
	for (size_t i = 0; i < len; i++) {
		const char *entity;
		switch (text[i]) {
		case '&': entity = "&amp;"; break;
		case '<': entity = "&lt;"; break;
		case '>': entity = "&gt;"; break;
		case '"': entity = "&quot;"; break;
		case '\'': entity = "&#x27;"; break;
		default: continue;
		}
		int rc = sh_web__wbuf_add(out, text + from, i - from);
		if (rc == 0)
			rc = sh_web__wbuf_puts(out, entity);
		if (rc < 0)
			return rc;
		from = i + 1;
	}
	return sh_web__wbuf_add(out, text + from, len - from);
}

/* A real as Python's repr prints it: the shortest text that reads back
 * the same, with ".0" for whole numbers. */
static void sh_web__real_text(char *buf, size_t size, double r)
{
	if (isnan(r)) {
		snprintf(buf, size, "nan");
		return;
	}
	if (isinf(r)) {
		snprintf(buf, size, r > 0 ? "inf" : "-inf");
		return;
	}
	for (int precision = 1; precision <= 17; precision++) {
		snprintf(buf, size, "%.*g", precision, r);
		if (strtod(buf, NULL) == r)
			break;
	}
	size_t len = strlen(buf);
	if (strpbrk(buf, ".en") == NULL && len + 2 < size)
		memcpy(buf + len, ".0", 3);
}

static int sh_web__print(sh__wbuf *out, const sh__val *v)
{
	if (v->json == NULL)
		return 0;   /* a missing variable prints nothing */
	char small[64];
	const char *text = NULL;
	size_t len = 0;
	char *dumped = NULL;
	switch (json_typeof(v->json)) {
	case JSON_STRING:
		text = json_string_value(v->json);
		len = json_string_length(v->json);
		break;
	case JSON_INTEGER:
		len = (size_t)snprintf(small, sizeof small, "%" JSON_INTEGER_FORMAT,
			json_integer_value(v->json));
		text = small;
		break;
	case JSON_REAL:
		sh_web__real_text(small, sizeof small, json_real_value(v->json));
		text = small;
		len = strlen(small);
		break;
	case JSON_TRUE: text = "True"; len = 4; break;
	case JSON_FALSE: text = "False"; len = 5; break;
	case JSON_NULL: text = "None"; len = 4; break;
	case JSON_OBJECT:
	case JSON_ARRAY:
		dumped = json_dumps(v->json, JSON_COMPACT | JSON_ENCODE_ANY);
		if (dumped == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		text = dumped;
		len = strlen(dumped);
		break;
	}
	int rc = v->safe ? sh_web__wbuf_add(out, text, len) : sh_web__html_escape(out, text, len);
	free(dumped);
	return rc;
}

/* ---- nodes ------------------------------------------------------------ */

static int sh_web__render(sh__wbuf *out, const sh__node *node, const sh__scope *scope,
	const json_t *context);

static int sh_web__forloop_set(json_t *forloop, size_t i, size_t n)
{
	int rc = json_object_set_new(forloop, "counter", json_integer((json_int_t)i + 1));
	rc |= json_object_set_new(forloop, "counter0", json_integer((json_int_t)i));
	rc |= json_object_set_new(forloop, "revcounter", json_integer((json_int_t)(n - i)));
	rc |= json_object_set_new(forloop, "revcounter0", json_integer((json_int_t)(n - i - 1)));
	rc |= json_object_set_new(forloop, "first", json_boolean(i == 0));
	rc |= json_object_set_new(forloop, "last", json_boolean(i + 1 == n));
	return rc != 0 ? sh_error_set(SH_ENOMEM, "out of memory") : 0;
}

static int sh_web__render_for(sh__wbuf *out, const sh__node *node, const sh__scope *scope,
	const json_t *context)
{
	sh__val list;
	int rc = sh_web__eval(&list, &node->iterable, scope, context);
	if (rc < 0)
		return rc;
	size_t n = json_is_array(list.json) ? json_array_size(list.json) : 0;
	if (n == 0) {
		sh_web__val_dispose(&list);
		return sh_web__render(out, node->empty, scope, context);
	}
	sh__scope inner = { scope, node->loop_var, NULL, json_object() };
	if (inner.forloop == NULL) {
		sh_web__val_dispose(&list);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	/* the enclosing loop's forloop, as Django's forloop.parentloop */
	for (const sh__scope *s = scope; s != NULL; s = s->up) {
		if (s->forloop != NULL) {
			rc = json_object_set(inner.forloop, "parentloop", s->forloop) != 0
				? sh_error_set(SH_ENOMEM, "out of memory") : 0;
			break;
		}
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		inner.value = json_array_get(list.json, node->reversed ? n - 1 - i : i);
		rc = sh_web__forloop_set(inner.forloop, i, n);
		if (rc == 0)
			rc = sh_web__render(out, node->body, &inner, context);
	}
	json_decref(inner.forloop);
	sh_web__val_dispose(&list);
	return rc;
}

static int sh_web__render(sh__wbuf *out, const sh__node *node, const sh__scope *scope,
	const json_t *context)
{
	int rc = 0;
	for (; node != NULL && rc == 0; node = node->next) {
		switch (node->kind) {
		case SH__NODE_TEXT:
			rc = sh_web__wbuf_add(out, node->text, node->len);
			break;
		case SH__NODE_VAR: {
			sh__val v;
			if ((rc = sh_web__eval(&v, &node->var, scope, context)) == 0) {
				rc = sh_web__print(out, &v);
				sh_web__val_dispose(&v);
			}
			break;
		}
		case SH__NODE_IF:
			for (size_t i = 0; i < node->branch_count && rc == 0; i++) {
				bool yes = true;
				if (node->branches[i].cond != NULL)
					rc = sh_web__test(&yes, node->branches[i].cond, scope, context);
				if (rc == 0 && yes) {
					rc = sh_web__render(out, node->branches[i].body, scope, context);
					break;
				}
			}
			break;
		case SH__NODE_FOR:
			rc = sh_web__render_for(out, node, scope, context);
			break;
		}
	}
	return rc;
}

int sh_web__nodes_render(sh__wbuf *out, const sh__node *nodes, const json_t *context)
{
	int rc = sh_web__render(out, nodes, NULL, context);
	if (rc == 0)
		rc = sh_web__wbuf_finish(out);
	return rc;
}

/* ---- the template API ------------------------------------------------- */

static int sh_web__template_make(sh_template **out, sh_hub *hub, const char *name,
	const char *origin, const char *source, size_t length)
{
	*out = NULL;
	if (name == NULL || name[0] == '\0' || (source == NULL && length > 0))
		return sh_error_set(SH_EINVAL, "sh_template_compile: a name and a source are required");
	sh_template *t = calloc(1, sizeof *t);
	if (t == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	int rc = 0;
	if ((t->name = strdup(name)) == NULL || (origin != NULL && (t->origin = strdup(origin)) == NULL))
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	if (rc == 0)
		rc = sh_web__template_parse(&t->root, origin != NULL ? origin : name,
			source != NULL ? source : "", length);
	if (rc == 0 && hub != NULL) {
		char *sender = NULL;
		t->signal = sh_hub_builtin(hub, SH_TEMPLATE_RENDERED);
		if (asprintf(&sender, "%s%s", SH_TEMPLATE_SENDER_PREFIX, name) < 0)
			rc = sh_error_set(SH_ENOMEM, "out of memory");
		else
			rc = sh_sender_intern(&t->sender, hub, sender);
		if (rc >= 0)
			free(sender);
	}
	if (rc < 0) {
		sh_template_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int sh_web__template_load(sh_template **out, sh_hub *hub, const char *name, const char *origin,
	const char *source, size_t length)
{
	return sh_web__template_make(out, hub, name, origin, source, length);
}

int sh_template_compile(sh_template **out, sh_hub *hub, const char *name,
	const char *source, size_t length)
{
	if (out == NULL)
		return sh_error_set(SH_EINVAL, "sh_template_compile: out is required");
	return sh_web__template_make(out, hub, name, NULL, source, length);
}

void sh_template_free(sh_template *template_)
{
	if (template_ == NULL)
		return;
	sh_web__nodes_free(template_->root);
	free(template_->name);
	free(template_->origin);
	free(template_);
}

const char *sh_template_name(const sh_template *template_)
{
	return template_->name;
}

const char *sh_template_origin(const sh_template *template_)
{
	return template_->origin;
}

const json_t *sh_context_json(const sh_context *context)
{
	return context->json;
}

int sh_template_render(char **out, size_t *length, const sh_template *template_,
	const json_t *context)
{
	if (out == NULL || template_ == NULL)
		return sh_error_set(SH_EINVAL, "sh_template_render: out and template are required");
	*out = NULL;
	if (length != NULL)
		*length = 0;
	json_t *empty = NULL;
	if (context == NULL && (context = empty = json_object()) == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	if (!json_is_object(context))
		return sh_error_set(SH_EINVAL, "the context of template '%s' must be a JSON object",
			template_->name);
	int rc = 0;
	if (template_->signal != NULL) {
		sh_context ctx = { context };
		sh_template_rendered_args args = { template_, &ctx };
		rc = sh_signal_send(template_->signal, template_->sender, &args, NULL);
	}
	sh__wbuf buf = { 0 };
	if (rc == 0)
		rc = sh_web__nodes_render(&buf, template_->root, context);
	json_decref(empty);
	if (rc < 0) {
		sh_web__wbuf_dispose(&buf);
		return rc;
	}
	*out = buf.data;
	if (length != NULL)
		*length = buf.len;
	return 0;
}
