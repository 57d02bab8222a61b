/*
 * template_inherit.c: {% extends %}, {% block %}, {{ block.super }} and
 * {% include %} (with ... only), checked against what
 * django/template/loader_tags.py does: the output, and template_rendered
 * for the template, its parents and every include, in Django's order (the
 * template, each parent in turn, then each include when the render reaches
 * it) with the context each renders with; names found in the app, then the
 * project (a parent already in the chain skipped, as Django's extends
 * history); the errors and bounds (cycles, nesting, bad tags).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sighost/sys/sighost.h>

#include "../support/web.h"

static sh_project *project;
static sh_app *site;
static sh_templates *cache;

/* Every template_rendered heard: "sender {context}" joined with '\n'. */
static char heard[8192];

static int on_rendered(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal;
	(void)response;
	(void)payload;
	const sh_template_rendered_args *a = args;
	char *ctx = json_dumps(sh_context_json(a->context), JSON_COMPACT | JSON_SORT_KEYS);
	size_t n = strlen(heard);
	snprintf(heard + n, sizeof heard - n, "%s%s %s", n > 0 ? "\n" : "", sh_sender_name(sender),
		ctx);
	free(ctx);
	cr_assert_str_eq(sh_sender_name(sender) + strlen(SH_TEMPLATE_SENDER_PREFIX),
		sh_template_name(a->template_), "the sender names the template");
	return 0;
}

/* A read project with app `site`, a cache on its hub with the project
 * folder `templates/` of the scratch directory, and the recorder. */
static void setup(void)
{
	w_setup();
	w_manifest("site", "label: site\n");
	free(t_write(w_dir, "project.yaml",
		"project: web\nplugin_dirs: [plugins]\ninstalled_apps: [site]\n"));
	char *path = t_path(w_dir, "project.yaml");
	cr_assert_eq(sh_project_new(&project), 0);
	cr_assert_eq(sh_project_read(project, path), 0, "%s", sh_error_last()->message);
	free(path);
	site = sh_project_app(project, "site");
	sh_hub *hub = sh_project_hub(project);
	cr_assert_eq(sh_templates_new(&cache, hub), 0);
	char *dir = t_path(w_dir, "templates");
	cr_assert_eq(mkdir(dir, 0755), 0);
	cr_assert_eq(sh_templates_set_dir(cache, dir), 0);
	free(dir);
	heard[0] = '\0';
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(hub, SH_TEMPLATE_RENDERED), on_rendered,
		NULL, NULL), 0);
}

static void teardown(void)
{
	sh_templates_free(cache);
	sh_project_free(project);
	w_cleanup();
}

TestSuite(template_inherit, .init = setup, .fini = teardown, .timeout = 60);

/* Adds app template `name` of site (app NULL: the project's). */
static void add(const sh_app *app, const char *name, const char *source)
{
	cr_assert_eq(sh_templates_add(cache, app, name, source, strlen(source)), 0, "%s: %s", name,
		sh_error_last()->message);
}

/* Renders site's `name` with the JSON `context`; returns the code and
 * stores the text in *out (NULL on failure). */
static int render_rc(const char *name, const char *context, char **out)
{
	const sh_template *t;
	int rc = sh_templates_get(&t, cache, site, name);
	cr_assert_eq(rc, 0, "%s", sh_error_last()->message);
	json_t *ctx = context != NULL ? json_loads(context, 0, NULL) : NULL;
	cr_assert(context == NULL || ctx != NULL);
	rc = sh_template_render(out, NULL, t, ctx);
	json_decref(ctx);
	return rc;
}

static void renders(const char *name, const char *context, const char *expected)
{
	char *out = NULL;
	cr_assert_eq(render_rc(name, context, &out), 0, "%s", sh_error_last()->message);
	cr_assert_str_eq(out, expected);
	free(out);
}

static void render_fails(const char *name, int code, const char *message)
{
	char *out = (char *)"x";
	cr_assert_eq(render_rc(name, NULL, &out), code, "%s", sh_error_last()->message);
	cr_assert_null(out);
	cr_assert_str_eq(sh_error_last()->message, message);
}

Test(template_inherit, a_child_fills_the_parents_blocks_and_its_other_text_is_dropped)
{
	add(site, "base.html", "<title>{% block title %}Site{% endblock %}</title>"
		"<main>{% block content %}empty{% endblock content %}</main>");
	add(site, "page.html", "\n{% extends \"base.html\" %}dropped {{ x }}"
		"{% block content %}Hello {{ x }}{% endblock %}dropped too");
	/* text before extends stays, as in Django; the title block is the parent's */
	renders("page.html", "{\"x\": \"Ada\"}", "\n<title>Site</title><main>Hello Ada</main>");
}

Test(template_inherit, block_super_renders_each_parents_version_down_a_chain)
{
	add(site, "root.html", "[{% block x %}root{% endblock %}|{% block y %}ry{% endblock %}]");
	add(site, "mid.html", "{% extends 'root.html' %}{% block x %}mid<{{ block.super }}>"
		"{% endblock %}");
	add(site, "leaf.html", "{% extends 'mid.html' %}{% block x %}leaf<{{ block.super }}>"
		"{% endblock %}{% block y %}{{ block.super|length }}{% endblock %}");
	renders("leaf.html", NULL, "[leaf<mid<root>>|2]");
	renders("mid.html", NULL, "[mid<root>|ry]");
	/* the root's own block has nothing under it: "" */
	add(site, "leaf2.html", "{% extends 'root.html' %}{% block x %}{% endblock %}"
		"{% block y %}{% if block.super %}has:{{ block.super }}{% endif %}{% endblock %}");
	renders("leaf2.html", NULL, "[|has:ry]");
}

Test(template_inherit, blocks_nest_and_a_child_may_fill_a_block_its_parent_defined_inside_one)
{
	add(site, "root.html", "{% block outer %}O({% block inner %}i{% endblock %}){% endblock %}");
	add(site, "child.html", "{% extends 'root.html' %}{% block inner %}I{% endblock %}");
	renders("child.html", NULL, "O(I)");
	add(site, "mid.html", "{% extends 'root.html' %}{% block outer %}M[{% block inner %}m"
		"{% endblock %}]{% endblock %}");
	add(site, "leaf.html", "{% extends 'mid.html' %}{% block inner %}L{{ block.super }}"
		"{% endblock %}");
	renders("leaf.html", NULL, "M[Lm]");
}

Test(template_inherit, blocks_in_loops_see_the_loop_and_escaping_holds)
{
	add(site, "root.html", "{% for i in items %}{% block row %}-{{ i }}{% endblock %}{% endfor %}");
	add(site, "child.html", "{% extends 'root.html' %}{% block row %}"
		"{{ forloop.counter }}:{{ i }}{{ block.super }};{% endblock %}");
	renders("child.html", "{\"items\": [\"a\", \"<b>\"]}", "1:a-a;2:&lt;b&gt;-&lt;b&gt;;");
}

Test(template_inherit, template_rendered_for_the_template_its_parents_and_includes_in_djangos_order)
{
	add(site, "grand.html", "{% include 'head.html' %}{% block body %}{% endblock %}");
	add(site, "parent.html", "{% extends 'grand.html' %}{% block body %}P"
		"{% include 'row.html' with n=0 %}{% endblock %}");
	add(site, "child.html", "{% extends 'parent.html' %}{% block body %}"
		"{% for r in rows %}{% include 'row.html' with n=r only %}{% endfor %}"
		"{{ block.super }}{% endblock %}");
	add(site, "head.html", "H");
	add(site, "row.html", "<{{ n }}{{ user }}>");
	renders("child.html", "{\"rows\": [1, 2], \"user\": \"u\"}", "H<1><2>P<0u>");
	/* Django: Template.render(child) -> ExtendsNode -> parent._render ->
	 * ExtendsNode -> grand._render, each sending template_rendered with the
	 * same context; then the nodes render: grand's include, the child's
	 * block (its loop, its block.super: the parent's block and its include) */
	cr_assert_str_eq(heard,
		"template:site/child.html {\"rows\":[1,2],\"user\":\"u\"}\n"
		"template:site/parent.html {\"rows\":[1,2],\"user\":\"u\"}\n"
		"template:site/grand.html {\"rows\":[1,2],\"user\":\"u\"}\n"
		"template:site/head.html {\"rows\":[1,2],\"user\":\"u\"}\n"
		"template:site/row.html {\"n\":1}\n"
		"template:site/row.html {\"n\":2}\n"
		"template:site/row.html {\"n\":0,\"rows\":[1,2],\"user\":\"u\"}");
}

Test(template_inherit, an_include_sees_the_context_loop_variables_and_with_values_or_only_them)
{
	add(site, "part.html", "{{ a }},{{ b }},{{ x }},{{ forloop.counter }}|");
	add(site, "page.html", "{% include 'part.html' %}"
		"{% for x in xs %}{% include 'part.html' with b=x|length a='lit' %}{% endfor %}"
		"{% include 'part.html' with b=a only %}");
	renders("page.html", "{\"a\": \"A\", \"b\": \"B\", \"xs\": [\"xy\"]}",
		"A,B,,|lit,2,xy,1|,A,,|");
	/* the includer's context is not changed by an include */
	cr_assert_str_eq(strrchr(heard, '\n') + 1, "template:site/part.html {\"b\":\"A\"}");
}

Test(template_inherit, names_are_found_in_the_app_then_the_project_and_a_parent_in_the_chain_is_skipped)
{
	char *dir = t_path(w_dir, "templates");
	free(t_write(dir, "base.html", "<project>{% block c %}p{% endblock %}</project>"));
	free(t_write(dir, "foot.html", "F{{ y }}"));
	free(dir);
	add(site, "page.html", "{% extends 'base.html' %}{% block c %}page:{{ block.super }}"
		"{% endblock %}");
	/* the app's base.html extends "base.html": itself is in the chain, so
	 * the project's is the next (Django's extends history) */
	add(site, "base.html", "{% extends 'base.html' %}{% block c %}app:{{ block.super }}"
		"{% include 'foot.html' %}{% endblock %}");
	renders("page.html", "{\"y\": 1}", "<project>page:app:pF1</project>");
	cr_assert_str_eq(heard,
		"template:site/page.html {\"y\":1}\n"
		"template:site/base.html {\"y\":1}\n"
		"template:base.html {\"y\":1}\n"
		"template:foot.html {\"y\":1}", "project templates send from template:<name>");
	const sh_template *t;
	cr_assert_eq(sh_templates_get(&t, cache, NULL, "foot.html"), 0);
	cr_assert_str_eq(sh_template_name(t), "foot.html");
	w_has(sh_template_origin(t), "/templates/foot.html");
}

Test(template_inherit, an_extends_cycle_is_an_error_naming_the_chain)
{
	add(site, "a.html", "{% extends 'b.html' %}");
	add(site, "b.html", "\n  {% extends 'a.html' %}");
	render_fails("a.html", SH_EINVAL, "site/b.html:2:3: 'site/b.html' extends 'a.html', which is "
		"already one of the templates of this render (an extends cycle: site/a.html -> "
		"site/b.html -> a.html)");
	add(site, "self.html", "{% extends 'self.html' %}");
	render_fails("self.html", SH_EINVAL, "site/self.html:1:1: 'site/self.html' extends "
		"'self.html', which is already one of the templates of this render (an extends cycle: "
		"site/self.html -> self.html)");
}

Test(template_inherit, include_nesting_is_bounded)
{
	add(site, "deep.html", "{% if n %}x{% include 'deep.html' %}{% endif %}");
	char *out = NULL;
	cr_assert_eq(render_rc("deep.html", "{\"n\": 1}", &out), SH_EINVAL);
	w_has(sh_error_last()->message, "site/deep.html:1:12: {% include 'deep.html' %}: "
		"more than 32 templates in progress");
	heard[0] = '\0';
	renders("deep.html", "{\"n\": 0}", "");
	/* a bounded recursion renders: a tree through an include of itself */
	add(site, "tree.html", "({{ node.v }}{% for node in node.kids %}"
		"{% include 'tree.html' %}{% endfor %})");
	renders("tree.html", "{\"node\": {\"v\": 1, \"kids\": [{\"v\": 2, \"kids\": [{\"v\": 3}]}, "
		"{\"v\": 4}]}}", "(1(2(3))(4))");
}

Test(template_inherit, missing_templates_and_bad_names_fail_at_the_tag)
{
	add(site, "nope.html", "ok\n{% include 'missing.html' %}");
	char *out = NULL;
	cr_assert_eq(render_rc("nope.html", NULL, &out), SH_ENOTFOUND);
	w_has(sh_error_last()->message, "site/nope.html:2:1: {% include 'missing.html' %}: "
		"template 'missing.html' of app 'site' not found");
	w_has(sh_error_last()->message, "project template 'missing.html' not found");
	add(site, "var.html", "{% extends parent %}");
	render_fails("var.html", SH_EINVAL, "site/var.html:1:1: invalid template name in 'extends' "
		"tag: the name must be a non-empty string");
	add(site, "up.html", "{% include 'a/../../x.html' %}");
	cr_assert_eq(render_rc("up.html", NULL, &out), SH_EINVAL);
	w_has(sh_error_last()->message, "site/up.html:1:1: {% include 'a/../../x.html' %}: template "
		"name 'a/../../x.html' has an empty, '.' or '..' part");
	add(site, "base.html", "{% block b %}{% endblock %}");
	add(site, "dyn.html", "{% extends parent %}{% block b %}dyn{% endblock %}");
	renders("dyn.html", "{\"parent\": \"base.html\"}", "dyn");
}

Test(template_inherit, block_super_without_a_parent_and_strings_naming_templates_fail)
{
	add(site, "alone.html", "{% block b %}{{ block.super }}{% endblock %}");
	render_fails("alone.html", SH_EINVAL, "site/alone.html: {{ block.super }} in block 'b' of a "
		"template rendered without {% extends %}: there is no parent block to render");
	add(site, "plain.html", "{% block b %}B{% endblock %}{{ block.super }}");
	renders("plain.html", NULL, "B");
	sh_template *t;
	cr_assert_eq(sh_template_compile(&t, NULL, "s.html", "{% include 'x' %}", 17), 0);
	char *out = NULL;
	cr_assert_eq(sh_template_render(&out, NULL, t, NULL), SH_EINVAL);
	w_has(sh_error_last()->message, "s.html:1:1: {% include 'x' %}: template 's.html' was "
		"compiled from a string");
	sh_template_free(t);
}

/* Compiling `source` fails with `message`. */
static void compile_fails(const char *source, const char *message)
{
	cr_assert_eq(sh_templates_add(cache, site, "bad.html", source, strlen(source)), SH_EINVAL,
		"compiled: %s", source);
	cr_assert_str_eq(sh_error_last()->message, message);
}

Test(template_inherit, inheritance_tags_are_checked_when_compiled)
{
	compile_fails("{{ x }}{% extends 'b.html' %}",
		"site/bad.html:1:8: 'extends' must be the first tag in the template");
	compile_fails("{% extends 'a' %}{% extends 'b' %}",
		"site/bad.html:1:18: 'extends' cannot appear more than once in the same template");
	compile_fails("{% if x %}{% extends 'a' %}{% endif %}",
		"site/bad.html:1:11: 'extends' must be the first tag in the template");
	compile_fails("{% extends %}", "site/bad.html:1:12: 'extends' tag takes the name of a "
		"template ('{% extends \"base.html\" %}')");
	compile_fails("{% extends 'a' 'b' %}", "site/bad.html:1:16: unexpected 'b' in 'extends' tag");
	compile_fails("{% block a %}{% endblock %}{% block a %}{% endblock %}",
		"site/bad.html:1:28: 'block' tag with name 'a' appears more than once");
	compile_fails("{% block a %}{% block a %}{% endblock %}{% endblock %}",
		"site/bad.html:1:14: 'block' tag with name 'a' appears more than once");
	compile_fails("{% block %}{% endblock %}",
		"site/bad.html:1:10: 'block' tag takes one argument: the block's name");
	compile_fails("{% block a b %}{% endblock %}", "site/bad.html:1:12: unexpected 'b' in "
		"'block' tag");
	compile_fails("{% block a %}", "site/bad.html:1:1: 'block' tag is not closed (expected "
		"'{% endblock %}')");
	compile_fails("{% block a %}{% endblock b %}", "site/bad.html:1:26: 'endblock b' closes "
		"block 'a' (expected '{% endblock %}' or '{% endblock a %}')");
	compile_fails("{% endblock %}", "site/bad.html:1:4: unexpected 'endblock' (no block is open)");
	compile_fails("{% include %}", "site/bad.html:1:12: 'include' tag takes the name of a "
		"template ('{% include \"base.html\" %}')");
	compile_fails("{% include 'a' with %}",
		"site/bad.html:1:16: 'with' in 'include' needs at least one name=value");
	compile_fails("{% include 'a' only only %}",
		"site/bad.html:1:21: the 'only' option of 'include' is given more than once");
	compile_fails("{% include 'a' with x=1 with y=2 %}",
		"site/bad.html:1:25: the 'with' option of 'include' is given more than once");
	compile_fails("{% include 'a' using x %}", "site/bad.html:1:16: unknown argument 'using' of "
		"'include' (expected 'with name=value ...' or 'only')");
	compile_fails("{% include 'a' with _x=1 %}", "site/bad.html:1:21: '_x' is not a variable name");
	cr_assert_eq(sh_templates_add(cache, site, "fine.html", "x", 1), 0);
	cr_assert_eq(sh_templates_add(cache, site, "fine.html", "y", 1), SH_EEXISTS);
	cr_assert_eq(sh_templates_add(cache, NULL, "fine.html", "p", 1), 0,
		"the project's fine.html is another template");
}

Test(template_inherit, relative_names_are_taken_from_the_folder_of_the_template_that_gives_them)
{
	add(site, "parts/base.html", "[{% block b %}{% endblock %}]");
	add(site, "parts/row.html", "row");
	add(site, "top.html", "top");
	add(site, "parts/list.html", "{% extends './base.html' %}{% block b %}"
		"{% include './row.html' %}{% include \"../top.html\" %}{% endblock %}");
	renders("parts/list.html", NULL, "[rowtop]");
	cr_assert_str_eq(heard, "template:site/parts/list.html {}\n"
		"template:site/parts/base.html {}\n"
		"template:site/parts/row.html {}\n"
		"template:site/top.html {}");
	add(site, "out.html", "{% include '../x.html' %}");
	render_fails("out.html", SH_EINVAL, "site/out.html:1:1: the relative path '../x.html' points "
		"outside the file hierarchy that template 'out.html' is in");
	add(site, "parts/self.html", "{% include './self.html' %}");
	render_fails("parts/self.html", SH_EINVAL, "site/parts/self.html:1:1: the relative path "
		"'./self.html' was translated to template name 'parts/self.html', the same template in "
		"which the tag appears");
}
