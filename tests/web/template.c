/*
 * template.c: the template engine: variables, escaping, filters, if/elif/
 * else, for/empty with forloop, comments, syntax errors with positions,
 * bounded nesting, template_rendered, and app templates read from
 * templates/<label>/ without traversal.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sighost/sys/sighost.h>

#include "../support/web.h"

TestSuite(template, .init = w_setup, .fini = w_cleanup);

/* Renders `source` with the JSON `context` (text) and returns the output. */
static char *render(const char *source, const char *context)
{
	sh_template *t;
	int rc = sh_template_compile(&t, NULL, "test.html", source, strlen(source));
	cr_assert_eq(rc, 0, "%s", sh_error_last()->message);
	json_t *ctx = context ? json_loads(context, 0, NULL) : NULL;
	cr_assert(context == NULL || ctx != NULL, "bad context %s", context);
	char *out;
	size_t len;
	rc = sh_template_render(&out, &len, t, ctx);
	cr_assert_eq(rc, 0, "%s", sh_error_last()->message);
	cr_assert_eq(len, strlen(out));
	json_decref(ctx);
	sh_template_free(t);
	return out;
}

static void renders(const char *source, const char *context, const char *expected)
{
	char *out = render(source, context);
	cr_assert_str_eq(out, expected, "template: %s", source);
	free(out);
}

/* Compiling `source` fails with `message`. */
static void fails(const char *source, const char *message)
{
	sh_template *t = NULL;
	int rc = sh_template_compile(&t, NULL, "bad.html", source, strlen(source));
	cr_assert_eq(rc, SH_EINVAL, "compiled: %s", source);
	cr_assert_null(t);
	cr_assert_str_eq(sh_error_last()->message, message, "template: %s", source);
}

Test(template, variables_print_with_django_spelling)
{
	renders("Hi {{ name }}!", "{\"name\": \"Ada\"}", "Hi Ada!");
	renders("{{a.b.c}}|{{ list.1 }}|{{ list.9 }}|{{ missing }}|{{ a.missing.x }}",
		"{\"a\": {\"b\": {\"c\": 7}}, \"list\": [\"x\", \"y\"]}", "7|y|||");
	renders("{{ t }} {{ f }} {{ n }} {{ i }} {{ r }} {{ whole }}",
		"{\"t\": true, \"f\": false, \"n\": null, \"i\": -12, \"r\": 0.1, \"whole\": 2.0}",
		"True False None -12 0.1 2.0");
	renders("{{ list }}", "{\"list\": [1, \"a\"]}", "[1,&quot;a&quot;]");
	renders("no tags at all", NULL, "no tags at all");
	renders("", NULL, "");
	renders("{ not a tag } {x}", NULL, "{ not a tag } {x}");
}

Test(template, variables_are_escaped_unless_safe)
{
	renders("{{ v }}", "{\"v\": \"<a href='x'>&\\\"</a>\"}",
		"&lt;a href=&#x27;x&#x27;&gt;&amp;&quot;&lt;/a&gt;");
	renders("{{ v|safe }}", "{\"v\": \"<b>bold</b>\"}", "<b>bold</b>");
	renders("{{ v|safe|escape }}", "{\"v\": \"<b>\"}", "&lt;b&gt;");
	renders("<p>{{ v }}</p>", "{\"v\": \"ok\"}", "<p>ok</p>");
}

Test(template, filters_length_and_default)
{
	renders("{{ s|length }} {{ l|length }} {{ o|length }} {{ x|length }}",
		"{\"s\": \"h\u00e9llo\", \"l\": [1,2,3], \"o\": {\"a\": 1}}", "5 3 1 0");
	renders("{{ x|default:\"none\" }} {{ e|default:'empty' }} {{ y|default:\"no\" }}",
		"{\"e\": \"\", \"y\": \"yes\"}", "none empty yes");
	renders("{{ x|default:fallback }}", "{\"fallback\": \"<fb>\"}", "&lt;fb&gt;");
	renders("{% if l|length == 3 %}three{% endif %}", "{\"l\": [1,2,3]}", "three");
}

Test(template, if_elif_else_with_not_comparisons_and_logic)
{
	const char *src = "{% if n == 1 %}one{% elif n == 2 %}two{% elif not n %}zero"
		"{% else %}many{% endif %}";
	renders(src, "{\"n\": 1}", "one");
	renders(src, "{\"n\": 2}", "two");
	renders(src, "{\"n\": 0}", "zero");
	renders(src, "{}", "zero");
	renders(src, "{\"n\": 5}", "many");
	renders("{% if a and b or c %}y{% else %}n{% endif %}", "{\"a\": 1, \"b\": 0, \"c\": 1}", "y");
	renders("{% if a and b or c %}y{% else %}n{% endif %}", "{\"a\": 1, \"b\": 0, \"c\": 0}", "n");
	renders("{% if not a and b %}y{% else %}n{% endif %}", "{\"a\": 0, \"b\": 1}", "y");
	renders("{% if s != \"x\" %}y{% endif %}", "{\"s\": \"z\"}", "y");
	renders("{% if s == 'x' %}y{% else %}n{% endif %}", "{\"s\": \"x\"}", "y");
	renders("{% if f == 1.0 and t == True and z == None %}y{% endif %}",
		"{\"f\": 1, \"t\": true, \"z\": null}", "y");
	renders("{% if missing == None %}y{% endif %}", "{}", "y");
	renders("{% if e %}y{% else %}n{% endif %}", "{\"e\": []}", "n");
	renders("{% if e %}y{% else %}n{% endif %}", "{\"e\": {}}", "n");
	renders("{% if e %}y{% else %}n{% endif %}", "{\"e\": \"\"}", "n");
	renders("{% if e %}y{% else %}n{% endif %}", "{\"e\": \"0\"}", "y");
}

Test(template, for_loops_with_forloop_empty_and_reversed)
{
	renders("{% for x in xs %}{{ forloop.counter }}:{{ x }}{% if not forloop.last %}, "
		"{% endif %}{% endfor %}", "{\"xs\": [\"a\", \"b\", \"c\"]}", "1:a, 2:b, 3:c");
	renders("{% for x in xs %}[{{ forloop.counter0 }}{{ forloop.revcounter }}"
		"{{ forloop.first }}]{% endfor %}", "{\"xs\": [1, 2]}", "[02True][11False]");
	renders("{% for x in xs %}x{% empty %}nothing{% endfor %}", "{\"xs\": []}", "nothing");
	renders("{% for x in xs %}x{% empty %}nothing{% endfor %}", "{}", "nothing");
	renders("{% for x in xs %}x{% empty %}nothing{% endfor %}", "{\"xs\": \"abc\"}", "nothing");
	renders("{% for x in xs reversed %}{{ x }}{% endfor %}", "{\"xs\": [1, 2, 3]}", "321");
	renders("{% for row in rows %}{% for c in row %}{{ forloop.parentloop.counter }}.{{ "
		"forloop.counter }}={{ c }} {% endfor %}{% endfor %}",
		"{\"rows\": [[\"a\", \"b\"], [\"c\"]]}", "1.1=a 1.2=b 2.1=c ");
	renders("{% for a in as %}{{ a.name }}{% endfor %}{{ a }}",
		"{\"as\": [{\"name\": \"x\"}], \"a\": \"outer\"}", "xouter");
	renders("{% for x in obj.items %}{{ x }}{% endfor %}", "{\"obj\": {\"items\": [1, 2]}}", "12");
}

Test(template, comments_are_dropped)
{
	renders("a{# one #}b{# {{ not rendered }} #}c", NULL, "abc");
	renders("a{% comment %}{{ x }}{% if %} anything{% endcomment %}b", NULL, "ab");
	renders("line\n{# multi\nline #}\nend", NULL, "line\n\nend");
}

Test(template, syntax_errors_name_line_and_column)
{
	fails("{% if x %}\n  open", "bad.html:1:1: 'if' tag is not closed (expected '{% endif %}')");
	fails("ok\n  {% endfi %}", "bad.html:2:6: unknown tag 'endfi' (did you mean 'endif'?)");
	fails("{% load static %}", "bad.html:1:4: unknown tag 'load' (sighost templates know "
		"if, elif, else, endif, for, empty, endfor, comment, endcomment, block, endblock, "
		"extends, include)");
	fails("a\nb {{ x", "bad.html:2:3: '{{' is not closed by '}}'");
	fails("{{ x|upper }}", "bad.html:1:6: unknown filter 'upper' (known: safe, escape, length, "
		"default)");
	fails("{{ x|saef }}", "bad.html:1:6: unknown filter 'saef' (did you mean 'safe'?)");
	fails("{{ }}", "bad.html:1:1: empty variable tag '{{ }}'");
	fails("{{ 1abc }}", "bad.html:1:4: '1abc' is not a variable name");
	fails("{{ _x }}", "bad.html:1:4: '_x': variables and attributes may not begin with '_'");
	fails("{{ a b }}", "bad.html:1:6: unexpected 'b' in '{{ }}' tag");
	fails("{% endif %}", "bad.html:1:4: unexpected 'endif' (no block is open)");
	fails("{% for x in y %}{% endif %}", "bad.html:1:20: unexpected 'endif' (expected 'endfor')");
	fails("{% for x on y %}{% endfor %}", "bad.html:1:10: expected 'in' after 'x' in '{% for %}'");
	fails("{% if a == %}{% endif %}", "bad.html:1:12: expected a value after '=='");
	fails("{% if a == b == c %}{% endif %}",
		"bad.html:1:14: comparisons cannot be chained; use 'and'");
	fails("{% if %}{% endif %}", "bad.html:1:7: the condition ends where a value was expected");
	fails("{% if x %}{% else %}{% elif y %}{% endif %}",
		"bad.html:1:24: unexpected 'elif' (expected 'endif')");
	fails("{{ x|default }}", "bad.html:1:6: filter 'default' needs an argument (default:\"text\")");
	fails("{{ x|safe:1 }}", "bad.html:1:10: filter 'safe' takes no argument");
	fails("{{ 'open }}", "bad.html:1:4: the string starting here is not closed");
	fails("{% if x %}{% endif extra %}", "bad.html:1:20: unexpected 'extra' in 'endif' tag");
	fails("\xc3\xa9\xc3\xa9{{ @ }}", "bad.html:1:6: unexpected '@'");
}

Test(template, nesting_is_bounded)
{
	char source[64 * 12 + 64 * 12 + 64];
	size_t n = 0;
	for (int i = 0; i < 65; i++)
		n += (size_t)sprintf(source + n, "{%% if x %%}");
	source[n] = '\0';
	sh_template *t;
	cr_assert_eq(sh_template_compile(&t, NULL, "deep.html", source, n), SH_EINVAL);
	w_has(sh_error_last()->message, "blocks nest deeper than 64");
	/* 64 levels are fine */
	n = 0;
	for (int i = 0; i < 64; i++)
		n += (size_t)sprintf(source + n, "{%% if x %%}");
	for (int i = 0; i < 64; i++)
		n += (size_t)sprintf(source + n, "{%% endif %%}");
	cr_assert_eq(sh_template_compile(&t, NULL, "deep.html", source, n), 0,
		"%s", sh_error_last()->message);
	sh_template_free(t);
	/* a long condition is refused, not recursed into */
	char cond[4096];
	n = (size_t)sprintf(cond, "{%% if a");
	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(cond + n, " and a");
	n += (size_t)sprintf(cond + n, " %%}{%% endif %%}");
	cr_assert_eq(sh_template_compile(&t, NULL, "long.html", cond, n), SH_EINVAL);
	w_has(sh_error_last()->message, "the condition has more than 64 values");
	n = 0;
	for (int i = 0; i < 200; i++)
		n += (size_t)sprintf(cond + n, "not ");
	char wrapped[4200];
	snprintf(wrapped, sizeof wrapped, "{%% if %sx %%}{%% endif %%}", cond);
	cr_assert_eq(sh_template_compile(&t, NULL, "not.html", wrapped, strlen(wrapped)), SH_EINVAL);
	w_has(sh_error_last()->message, "the condition nests too deeply");
}

Test(template, bytes_that_are_not_tags_pass_through)
{
	const char source[] = "a\0b{{ x }}\xff";
	sh_template *t;
	cr_assert_eq(sh_template_compile(&t, NULL, "bin", source, sizeof source - 1), 0);
	json_t *ctx = json_pack("{s:s}", "x", "<");
	char *out;
	size_t len;
	cr_assert_eq(sh_template_render(&out, &len, t, ctx), 0);
	cr_assert_eq(len, 8);
	cr_assert_eq(memcmp(out, "a\0b&lt;\xff", 8), 0);
	free(out);
	json_decref(ctx);
	json_t *not_object = json_array();
	cr_assert_eq(sh_template_render(&out, &len, t, not_object), SH_EINVAL);
	cr_assert_null(out);
	json_decref(not_object);
	sh_template_free(t);
	cr_assert_eq(sh_template_compile(&t, NULL, "", "x", 1), SH_EINVAL);
	cr_assert_eq(sh_template_compile(&t, NULL, NULL, "x", 1), SH_EINVAL);
}

/* A template_rendered receiver that records what it saw. */
typedef struct seen {
	int calls;
	char sender[128];
	char name[128];
	char context[256];
	bool fail;
} seen;

static int on_rendered(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal;
	(void)response;
	seen *s = payload;
	const sh_template_rendered_args *a = args;
	s->calls++;
	snprintf(s->sender, sizeof s->sender, "%s", sh_sender_name(sender));
	snprintf(s->name, sizeof s->name, "%s", sh_template_name(a->template_));
	char *text = json_dumps(sh_context_json(a->context), JSON_COMPACT);
	snprintf(s->context, sizeof s->context, "%s", text);
	free(text);
	return s->fail ? sh_error_set(SH_ERROR, "receiver says no") : 0;
}

Test(template, every_render_sends_template_rendered_with_template_and_context)
{
	sh_hub *hub;
	cr_assert_eq(sh_hub_new(&hub), 0);
	seen s = { 0 };
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(hub, SH_TEMPLATE_RENDERED), on_rendered,
		&s, NULL), 0);
	sh_template *t;
	cr_assert_eq(sh_template_compile(&t, hub, "pages/x.html", "{{ a }}", 7), 0);
	json_t *ctx = json_pack("{s:i}", "a", 1);
	char *out;
	cr_assert_eq(sh_template_render(&out, NULL, t, ctx), 0);
	cr_assert_str_eq(out, "1");
	free(out);
	cr_assert_eq(s.calls, 1);
	cr_assert_str_eq(s.sender, "template:pages/x.html");
	cr_assert_str_eq(s.name, "pages/x.html");
	cr_assert_str_eq(s.context, "{\"a\":1}");
	cr_assert_eq(sh_template_render(&out, NULL, t, NULL), 0);
	free(out);
	cr_assert_eq(s.calls, 2);
	cr_assert_str_eq(s.context, "{}");
	s.fail = true;
	cr_assert_eq(sh_template_render(&out, NULL, t, ctx), SH_ERROR);
	cr_assert_null(out);
	cr_assert_null(sh_template_origin(t));
	json_decref(ctx);
	sh_template_free(t);
	sh_hub_free(hub);
}

/* A project (read only) with app `site` and its templates. */
static sh_project *site_project(void)
{
	w_manifest("site", "label: site\n");
	free(t_write(w_dir, "project.yaml",
		"project: web\nplugin_dirs: [plugins]\ninstalled_apps: [site]\n"));
	char *path = t_path(w_dir, "project.yaml");
	sh_project *p;
	cr_assert_eq(sh_project_new(&p), 0);
	cr_assert_eq(sh_project_read(p, path), 0, "%s", sh_error_last()->message);
	free(path);
	return p;
}

Test(template, app_templates_are_read_once_and_cached)
{
	w_template("site", "page.html", "<p>{{ x }}</p>");
	char *sub = t_path(w_plugins, "templates/site/parts");
	cr_assert_eq(mkdir(sub, 0755), 0);
	free(t_write(sub, "row.html", "row"));
	free(sub);
	sh_project *p = site_project();
	sh_app *site = sh_project_app(p, "site");
	sh_templates *cache;
	cr_assert_eq(sh_templates_new(&cache, sh_project_hub(p)), 0);
	const sh_template *a, *b;
	cr_assert_eq(sh_templates_get(&a, cache, site, "page.html"), 0, "%s",
		sh_error_last()->message);
	cr_assert_str_eq(sh_template_name(a), "site/page.html");
	w_has(sh_template_origin(a), "plugins/templates/site/page.html");
	w_template("site", "page.html", "changed");
	cr_assert_eq(sh_templates_get(&b, cache, site, "page.html"), 0);
	cr_assert_eq(a, b, "a second get compiles again");
	char *out;
	cr_assert_eq(sh_template_render(&out, NULL, b, NULL), 0);
	cr_assert_str_eq(out, "<p></p>");
	free(out);
	cr_assert_eq(sh_templates_get(&b, cache, site, "parts/row.html"), 0);
	cr_assert_str_eq(sh_template_name(b), "site/parts/row.html");
	sh_templates_free(cache);
	sh_project_free(p);
}

Test(template, app_template_names_cannot_leave_the_templates_folder)
{
	w_template("site", "ok.html", "ok");
	free(t_write(w_plugins, "secret.txt", "secret"));
	char *link = t_path(w_plugins, "templates/site/link.html");
	char *target = t_path(w_plugins, "secret.txt");
	cr_assert_eq(symlink(target, link), 0);
	sh_project *p = site_project();
	sh_app *site = sh_project_app(p, "site");
	sh_templates *cache;
	cr_assert_eq(sh_templates_new(&cache, NULL), 0);
	const sh_template *t;
	const char *refused[] = { "../../secret.txt", "/etc/passwd", "a/../ok.html", "./ok.html",
		"a//b", "ok.html/", "..", "a\\b", "" };
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		cr_assert_eq(sh_templates_get(&t, cache, site, refused[i]), SH_EINVAL, "%s", refused[i]);
		cr_assert_null(t);
	}
	cr_assert_eq(sh_templates_get(&t, cache, site, NULL), SH_EINVAL);
	cr_assert_eq(sh_templates_get(&t, cache, site, "link.html"), SH_EINVAL);
	w_has(sh_error_last()->message, "resolves outside");
	cr_assert_eq(sh_templates_get(&t, cache, site, "nothere.html"), SH_ENOTFOUND);
	w_has(sh_error_last()->message, "template 'nothere.html' of app 'site' not found");
	cr_assert_eq(sh_templates_get(&t, cache, site, "ok.html"), 0);
	sh_templates_free(cache);
	sh_project_free(p);
	free(link);
	free(target);
}

Test(template, a_bad_app_template_names_its_file_and_is_not_cached)
{
	w_template("site", "bad.html", "line one\n{% if x %}\n");
	sh_project *p = site_project();
	sh_templates *cache;
	cr_assert_eq(sh_templates_new(&cache, NULL), 0);
	const sh_template *t;
	cr_assert_eq(sh_templates_get(&t, cache, sh_project_app(p, "site"), "bad.html"), SH_EINVAL);
	w_has(sh_error_last()->message, "plugins/templates/site/bad.html:2:1: 'if' tag is not closed");
	w_template("site", "bad.html", "fixed {{ x }}\n");
	cr_assert_eq(sh_templates_get(&t, cache, sh_project_app(p, "site"), "bad.html"), 0,
		"%s", sh_error_last()->message);
	sh_templates_free(cache);
	sh_project_free(p);
}
