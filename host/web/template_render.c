/*
 * template_render.c: renders a compiled template (template_tree.h) with a
 * JSON context, and the template API of template.h around it (compile,
 * render, template_rendered). Variables are looked up in the loop scopes
 * first (innermost loop variable, forloop), then in the context object.
 * Rendering never fails on data: a missing variable prints "", a loop over
 * something that is not a list runs its {% empty %} branch. What can fail
 * is memory, a template_rendered receiver, and the templates a tag names
 * ({% extends %} and {% include %}: not found, a cycle, too deep).
 *
 * Inheritance works as django/template/loader_tags.py does it. A render
 * of a template keeps a block context: for each block name, a stack of
 * the blocks that define it, the root template's at the bottom and the
 * most derived one on top. {% extends %} pushes its template's blocks
 * under the ones already there (BlockContext.add_blocks), and the root's
 * too when the parent extends nothing, then renders the parent with the
 * same context. A {% block %} of the root renders the top of its stack
 * (itself when the stack is empty), taken off while it renders, so that
 * {{ block.super }} renders the next one down. template_rendered is sent
 * whenever a template starts rendering (Django's instrumented
 * Template._render): the template, then each parent in turn, then each
 * {% include %} when the render reaches it, each with its own context.
 */
#include <math.h>
#include <stdarg.h>
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

/* One block of the block context, and the template it belongs to. */
typedef struct sh__block_def {
	const sh__node *node;
	const sh_template *template_;
} sh__block_def;

/* The stack of blocks of one name, the most derived on top (last). */
typedef struct sh__block_stack {
	const char *name;
	sh__block_def *items;
	size_t count, capacity;
} sh__block_stack;

/* Django's BlockContext: one stack per block name. */
typedef struct sh__blocks {
	sh__block_stack *stacks;
	size_t count, capacity;
} sh__blocks;

/* The templates of one extends chain, from the one rendered on: a parent
 * already among them would make a cycle (Django's extends history). */
typedef struct sh__chain {
	const sh_template *items[SH__TEMPLATE_MAX_NESTING + 1];
	size_t count;
} sh__chain;

/* What rendering a list of nodes needs. */
typedef struct sh__rctx {
	sh__wbuf *out;
	const json_t *context;
	const sh_template *template_;  /* whose nodes these are: messages, names of tags */
	sh__blocks *blocks;            /* NULL unless the render went through {% extends %} */
	const char *block;             /* the block being rendered, NULL outside one */
	sh__chain *chain;
	int *nesting;                  /* templates in progress in the whole render */
} sh__rctx;

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
	const sh__rctx *r);

static int sh_web__apply_filter(sh__val *v, const sh__filter *f, const sh__scope *scope,
	const sh__rctx *r)
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
		int rc = sh_web__eval(&arg, f->arg, scope, r);
		if (rc < 0)
			return rc;
		sh_web__val_set(v, arg.json, arg.owned);
		return 0;
	}
	return 0;
}

static int sh_web__block_super(sh__val *out, const sh__scope *scope, const sh__rctx *r);

static bool sh_web__is_block_super(const sh__operand *o)
{
	return o->literal == NULL && o->part_count == 2 && strcmp(o->parts[0], "block") == 0
		&& strcmp(o->parts[1], "super") == 0;
}

static int sh_web__eval(sh__val *out, const sh__operand *o, const sh__scope *scope,
	const sh__rctx *r)
{
	*out = (sh__val){ 0 };
	if (r->block != NULL && sh_web__is_block_super(o)) {
		int rc = sh_web__block_super(out, scope, r);
		if (rc < 0)
			return rc;
	} else {
		out->json = o->literal != NULL ? o->literal : sh_web__lookup(o, scope, r->context);
	}
	for (size_t i = 0; i < o->filter_count; i++) {
		int rc = sh_web__apply_filter(out, &o->filters[i], scope, r);
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

static int sh_web__test(bool *out, const sh__expr *e, const sh__scope *scope, const sh__rctx *r)
{
	int rc = 0;
	bool left = false, right = false;
	switch (e->kind) {
	case SH__EXPR_OPERAND: {
		sh__val v;
		if ((rc = sh_web__eval(&v, &e->operand, scope, r)) < 0)
			return rc;
		*out = sh_web__truthy(v.json);
		sh_web__val_dispose(&v);
		return 0;
	}
	case SH__EXPR_NOT:
		rc = sh_web__test(&left, e->a, scope, r);
		*out = !left;
		return rc;
	case SH__EXPR_AND:
		if ((rc = sh_web__test(&left, e->a, scope, r)) < 0 || !left) {
			*out = false;
			return rc;
		}
		rc = sh_web__test(&right, e->b, scope, r);
		*out = right;
		return rc;
	case SH__EXPR_OR:
		if ((rc = sh_web__test(&left, e->a, scope, r)) < 0 || left) {
			*out = left;
			return rc;
		}
		rc = sh_web__test(&right, e->b, scope, r);
		*out = right;
		return rc;
	case SH__EXPR_EQ:
	case SH__EXPR_NE: {
		sh__val a, b;
		if ((rc = sh_web__eval(&a, &e->a->operand, scope, r)) < 0)
			return rc;
		if ((rc = sh_web__eval(&b, &e->b->operand, scope, r)) < 0) {
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

static int sh_web__render(const sh__rctx *r, const sh__node *node, const sh__scope *scope);

/* Fails the render at a tag of the template being rendered. */
static int sh_web__tag_error(const sh__rctx *r, const sh__node *node, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int sh_web__tag_error(const sh__rctx *r, const sh__node *node, int code, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	const sh_template *t = r->template_;
	return sh_error_set(code, "%s:%u:%u: %s", t->origin != NULL ? t->origin : t->name,
		node->line, node->col, message);
}

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

static int sh_web__render_for(const sh__rctx *r, const sh__node *node, const sh__scope *scope)
{
	sh__val list;
	int rc = sh_web__eval(&list, &node->iterable, scope, r);
	if (rc < 0)
		return rc;
	size_t n = json_is_array(list.json) ? json_array_size(list.json) : 0;
	if (n == 0) {
		sh_web__val_dispose(&list);
		return sh_web__render(r, node->empty, scope);
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
			rc = sh_web__render(r, node->body, &inner);
	}
	json_decref(inner.forloop);
	sh_web__val_dispose(&list);
	return rc;
}

/* ---- the block context ------------------------------------------------ */

static sh__block_stack *sh_web__blocks_find(const sh__blocks *b, const char *name)
{
	for (size_t i = 0; i < b->count; i++)
		if (strcmp(b->stacks[i].name, name) == 0)
			return &b->stacks[i];
	return NULL;
}

/* Puts `def` at the bottom of its name's stack (add_blocks). */
static int sh_web__blocks_add(sh__blocks *b, sh__block_def def)
{
	const char *name = def.node->name;
	sh__block_stack *st = sh_web__blocks_find(b, name);
	if (st == NULL) {
		if (b->count == b->capacity) {
			size_t cap = b->capacity ? b->capacity * 2 : 8;
			sh__block_stack *grown = realloc(b->stacks, cap * sizeof *grown);
			if (grown == NULL)
				return sh_error_set(SH_ENOMEM, "out of memory");
			b->stacks = grown;
			b->capacity = cap;
		}
		st = &b->stacks[b->count++];
		*st = (sh__block_stack){ name, NULL, 0, 0 };
	}
	if (st->count == st->capacity) {
		size_t cap = st->capacity ? st->capacity * 2 : 4;
		sh__block_def *grown = realloc(st->items, cap * sizeof *grown);
		if (grown == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		st->items = grown;
		st->capacity = cap;
	}
	memmove(&st->items[1], &st->items[0], st->count * sizeof *st->items);
	st->items[0] = def;
	st->count++;
	return 0;
}

/* Adds every block of `t` (add_blocks of its block nodes). */
static int sh_web__blocks_add_all(sh__blocks *b, const sh_template *t)
{
	for (size_t i = 0; i < t->block_count; i++) {
		int rc = sh_web__blocks_add(b, (sh__block_def){ t->blocks[i], t });
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void sh_web__blocks_dispose(sh__blocks *b)
{
	for (size_t i = 0; i < b->count; i++)
		free(b->stacks[i].items);
	free(b->stacks);
	*b = (sh__blocks){ 0 };
}

/* BlockNode.render: renders the most derived block of `name` (`self` when
 * there is none left), taken off its stack while it renders. */
static int sh_web__render_block(const sh__rctx *r, const char *name, sh__block_def self,
	const sh__scope *scope)
{
	sh__block_stack *st = r->blocks != NULL ? sh_web__blocks_find(r->blocks, name) : NULL;
	bool popped = st != NULL && st->count > 0;
	sh__block_def def = popped ? st->items[--st->count] : self;
	sh__rctx inner = *r;
	inner.template_ = def.template_;
	inner.block = name;
	int rc = sh_web__render(&inner, def.node->body, scope);
	if (popped)
		st->items[st->count++] = def;   /* the capacity is there: it was just taken */
	return rc;
}

/* {{ block.super }}: the next block of this name down the stack, rendered
 * (safe, as Django's mark_safe), or "" when there is none. */
static int sh_web__block_super(sh__val *out, const sh__scope *scope, const sh__rctx *r)
{
	if (r->blocks == NULL)
		return sh_error_set(SH_EINVAL, "%s: {{ block.super }} in block '%s' of a template "
			"rendered without {%% extends %%}: there is no parent block to render",
			r->template_->origin != NULL ? r->template_->origin : r->template_->name, r->block);
	const sh__block_stack *st = sh_web__blocks_find(r->blocks, r->block);
	sh__wbuf buf = { 0 };
	int rc = 0;
	if (st != NULL && st->count > 0) {
		sh__rctx inner = *r;
		inner.out = &buf;
		rc = sh_web__render_block(&inner, r->block, st->items[st->count - 1], scope);
	}
	json_t *text = rc == 0 ? json_stringn_nocheck(buf.data != NULL ? buf.data : "", buf.len)
		: NULL;
	sh_web__wbuf_dispose(&buf);
	if (rc < 0)
		return rc;
	if (text == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	sh_web__val_set(out, text, true);
	out->safe = true;
	return 0;
}

/* ---- extends and include ---------------------------------------------- */

static int sh_web__render_template(const sh_template *t, sh__wbuf *out, const json_t *context,
	int *nesting);

/* The name a tag gives (a string, not empty), or an error at the tag. */
/* Django's construct_relative_path: a string starting with "./" or "../"
 * names a template relative to the folder of the template whose tag it is
 * ("./row.html" in "parts/list.html" is "parts/row.html"). */
static int sh_web__relative_name(char **out, const sh__rctx *r, const sh__node *node,
	const char *relative)
{
	const sh_template *t = r->template_;
	const char *own = t->name;   /* its name where it lives: without "<label>/" for an app's */
	if (t->app != NULL && strchr(own, '/') != NULL)
		own = strchr(own, '/') + 1;
	char *joined = NULL;
	const char *slash = strrchr(own, '/');
	if (asprintf(&joined, "%.*s%s%s", slash != NULL ? (int)(slash - own) : 0, own,
			slash != NULL ? "/" : "", relative) < 0)
		return sh_error_set(SH_ENOMEM, "out of memory");
	/* normalise in place: drop "." parts, let ".." take the part before it */
	char *parts[256] = { 0 };
	size_t n = 0;
	int rc = 0;
	for (char *save = NULL, *part = strtok_r(joined, "/", &save); part != NULL && rc == 0;
			part = strtok_r(NULL, "/", &save)) {
		if (strcmp(part, ".") == 0)
			continue;
		if (strcmp(part, "..") == 0 && n == 0)
			rc = sh_web__tag_error(r, node, SH_EINVAL, "the relative path '%s' points outside the "
				"file hierarchy that template '%s' is in", relative, own);
		else if (strcmp(part, "..") == 0)
			n--;
		else if (n == SH__COUNT(parts))
			rc = sh_web__tag_error(r, node, SH_EINVAL, "the relative path '%s' is too deep", relative);
		else
			parts[n++] = part;
	}
	sh__wbuf name = { 0 };
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = sh_web__wbuf_printf(&name, "%s%s", i > 0 ? "/" : "", parts[i]);
	if (rc == 0)
		rc = sh_web__wbuf_finish(&name);
	if (rc == 0 && strcmp(name.data, own) == 0)
		rc = sh_web__tag_error(r, node, SH_EINVAL, "the relative path '%s' was translated to template "
			"name '%s', the same template in which the tag appears", relative, own);
	free(joined);
	if (rc < 0) {
		sh_web__wbuf_dispose(&name);
		return rc;
	}
	*out = name.data;
	return 0;
}

static int sh_web__tag_name(char **out, const sh__rctx *r, const sh__node *node,
	const sh__scope *scope, const char *tag)
{
	*out = NULL;
	sh__val v;
	int rc = sh_web__eval(&v, &node->var, scope, r);
	if (rc < 0)
		return rc;
	if (!json_is_string(v.json) || json_string_length(v.json) == 0) {
		sh_web__val_dispose(&v);
		return sh_web__tag_error(r, node, SH_EINVAL, "invalid template name in '%s' tag: the "
			"name must be a non-empty string", tag);
	}
	const char *text = json_string_value(v.json);
	bool relative = node->var.literal != NULL
		&& (strncmp(text, "./", 2) == 0 || strncmp(text, "../", 3) == 0);
	rc = relative ? sh_web__relative_name(out, r, node, text)
		: (*out = strdup(text)) == NULL ? sh_error_set(SH_ENOMEM, "out of memory") : 0;
	sh_web__val_dispose(&v);
	return rc;
}

/* "a.html -> b.html" for a message. */
static void sh_web__chain_text(char *buf, size_t size, const sh__chain *chain, const char *last)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < chain->count && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s -> ", chain->items[i]->name);
	if (n < size)
		snprintf(buf + n, size - n, "%s", last);
}

/* ExtendsNode.render: the parent gets the blocks and renders in our place. */
static int sh_web__render_extends(const sh__rctx *r, const sh__node *node, const sh__scope *scope)
{
	char *name = NULL;
	int rc = sh_web__tag_name(&name, r, node, scope, "extends");
	if (rc < 0)
		return rc;
	if (*r->nesting >= SH__TEMPLATE_MAX_NESTING) {
		rc = sh_web__tag_error(r, node, SH_EINVAL, "'%s': more than %d templates in progress "
			"(extends and include nest too deeply)", name, SH__TEMPLATE_MAX_NESTING);
		free(name);
		return rc;
	}
	const sh_template *parent = NULL;
	rc = sh_web__template_find(&parent, r->template_, name, r->chain->items, r->chain->count);
	if (rc == SH_EEXISTS) {
		char path[768];
		sh_web__chain_text(path, sizeof path, r->chain, name);
		rc = sh_web__tag_error(r, node, SH_EINVAL, "'%s' extends '%s', which is already one of "
			"the templates of this render (an extends cycle: %s)", r->template_->name, name, path);
	} else if (rc < 0) {
		char why[768];
		snprintf(why, sizeof why, "%s", sh_error_last()->message);
		rc = sh_web__tag_error(r, node, rc, "{%% extends '%s' %%}: %s", name, why);
	}
	free(name);
	if (rc < 0)
		return rc;
	sh__blocks own = { 0 };
	sh__rctx inner = *r;
	if (inner.blocks == NULL)
		inner.blocks = &own;
	rc = sh_web__blocks_add_all(inner.blocks, r->template_);
	if (rc == 0 && !parent->extends)
		rc = sh_web__blocks_add_all(inner.blocks, parent);
	if (rc == 0) {
		r->chain->items[r->chain->count++] = parent;
		inner.template_ = parent;
		inner.block = NULL;
		++*r->nesting;
		rc = sh_web__template_signal(parent, r->context);
		if (rc == 0)
			rc = sh_web__render(&inner, parent->root, NULL);
		--*r->nesting;
	}
	sh_web__blocks_dispose(&own);
	return rc;
}

/* The context of an include: the current one with the loop variables and
 * the `with` values on top, or the `with` values only. */
static int sh_web__include_context(json_t **out, const sh__rctx *r, const sh__node *node,
	const sh__scope *scope)
{
	json_t *ctx = json_object();
	int rc = ctx == NULL ? sh_error_set(SH_ENOMEM, "out of memory") : 0;
	if (rc == 0 && !node->only) {
		rc = json_object_update(ctx, (json_t *)r->context) == 0 ? 0
			: sh_error_set(SH_ENOMEM, "out of memory");
		/* outermost loop first, so the innermost wins, as Django's context stack */
		const sh__scope *levels[SH__TEMPLATE_MAX_DEPTH + 1];
		size_t n = 0;
		for (const sh__scope *s = scope; s != NULL && n < SH__COUNT(levels); s = s->up)
			levels[n++] = s;
		while (rc == 0 && n-- > 0) {
			if (json_object_set(ctx, levels[n]->name, (json_t *)levels[n]->value) != 0
				|| json_object_set(ctx, "forloop", levels[n]->forloop) != 0)
				rc = sh_error_set(SH_ENOMEM, "out of memory");
		}
	}
	for (size_t i = 0; rc == 0 && i < node->with_count; i++) {
		sh__val v;
		if ((rc = sh_web__eval(&v, &node->with[i].value, scope, r)) < 0)
			break;
		json_t *value = v.json != NULL ? json_incref(v.json) : json_null();
		sh_web__val_dispose(&v);
		if (json_object_set_new(ctx, node->with[i].name, value) != 0)
			rc = sh_error_set(SH_ENOMEM, "out of memory");
	}
	if (rc < 0) {
		json_decref(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

/* IncludeNode.render: the template renders on its own, into our output. */
static int sh_web__render_include(const sh__rctx *r, const sh__node *node, const sh__scope *scope)
{
	char *name = NULL;
	int rc = sh_web__tag_name(&name, r, node, scope, "include");
	if (rc < 0)
		return rc;
	const sh_template *t = NULL;
	if (*r->nesting >= SH__TEMPLATE_MAX_NESTING)
		rc = sh_web__tag_error(r, node, SH_EINVAL, "{%% include '%s' %%}: more than %d templates "
			"in progress (an include that includes itself without end?)", name,
			SH__TEMPLATE_MAX_NESTING);
	else if ((rc = sh_web__template_find(&t, r->template_, name, NULL, 0)) < 0) {
		char why[768];
		snprintf(why, sizeof why, "%s", sh_error_last()->message);
		rc = sh_web__tag_error(r, node, rc, "{%% include '%s' %%}: %s", name, why);
	}
	free(name);
	json_t *ctx = NULL;
	if (rc == 0)
		rc = sh_web__include_context(&ctx, r, node, scope);
	if (rc == 0)
		rc = sh_web__render_template(t, r->out, ctx, r->nesting);
	json_decref(ctx);
	return rc;
}

static int sh_web__render(const sh__rctx *r, const sh__node *node, const sh__scope *scope)
{
	int rc = 0;
	for (; node != NULL && rc == 0; node = node->next) {
		switch (node->kind) {
		case SH__NODE_TEXT:
			rc = sh_web__wbuf_add(r->out, node->text, node->len);
			break;
		case SH__NODE_VAR: {
			sh__val v;
			if ((rc = sh_web__eval(&v, &node->var, scope, r)) == 0) {
				rc = sh_web__print(r->out, &v);
				sh_web__val_dispose(&v);
			}
			break;
		}
		case SH__NODE_IF:
			for (size_t i = 0; i < node->branch_count && rc == 0; i++) {
				bool yes = true;
				if (node->branches[i].cond != NULL)
					rc = sh_web__test(&yes, node->branches[i].cond, scope, r);
				if (rc == 0 && yes) {
					rc = sh_web__render(r, node->branches[i].body, scope);
					break;
				}
			}
			break;
		case SH__NODE_FOR:
			rc = sh_web__render_for(r, node, scope);
			break;
		case SH__NODE_BLOCK:
			rc = sh_web__render_block(r, node->name, (sh__block_def){ node, r->template_ }, scope);
			break;
		case SH__NODE_EXTENDS:
			return sh_web__render_extends(r, node, scope);   /* the rest is the parent's */
		case SH__NODE_INCLUDE:
			rc = sh_web__render_include(r, node, scope);
			break;
		}
	}
	return rc;
}

int sh_web__template_signal(const sh_template *t, const json_t *context)
{
	if (t->signal == NULL)
		return 0;
	sh_context ctx = { context };
	sh_template_rendered_args args = { t, &ctx };
	return sh_signal_send(t->signal, t->sender, &args, NULL);
}

/* Template.render: template_rendered, then the nodes with a block context
 * and an extends history of their own. */
static int sh_web__render_template(const sh_template *t, sh__wbuf *out, const json_t *context,
	int *nesting)
{
	sh__chain chain = { { t }, 1 };
	sh__rctx r = { out, context, t, NULL, NULL, &chain, nesting };
	++*nesting;
	int rc = sh_web__template_signal(t, context);
	if (rc == 0)
		rc = sh_web__render(&r, t->root, NULL);
	--*nesting;
	return rc;
}

/* Collects the block nodes under `node` (get_nodes_by_type(BlockNode)). */
static int sh_web__collect_blocks(sh_template *t, const sh__node *node)
{
	for (; node != NULL; node = node->next) {
		if (node->kind == SH__NODE_BLOCK) {
			const sh__node **grown = realloc(t->blocks, (t->block_count + 1) * sizeof *grown);
			if (grown == NULL)
				return sh_error_set(SH_ENOMEM, "out of memory");
			t->blocks = grown;
			t->blocks[t->block_count++] = node;
		}
		int rc = 0;
		for (size_t i = 0; i < node->branch_count && rc == 0; i++)
			rc = sh_web__collect_blocks(t, node->branches[i].body);
		if (rc == 0)
			rc = sh_web__collect_blocks(t, node->body);
		if (rc == 0)
			rc = sh_web__collect_blocks(t, node->empty);
		if (rc < 0)
			return rc;
	}
	return 0;
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
	if (rc == 0)
		rc = sh_web__collect_blocks(t, t->root);
	for (const sh__node *n = rc == 0 ? t->root : NULL; n != NULL; n = n->next) {
		if (n->kind != SH__NODE_TEXT) {
			t->extends = n->kind == SH__NODE_EXTENDS;
			break;
		}
	}
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
	free(template_->blocks);
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
	sh__wbuf buf = { 0 };
	int nesting = 0;
	int rc = sh_web__render_template(template_, &buf, context, &nesting);
	if (rc == 0)
		rc = sh_web__wbuf_finish(&buf);
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
