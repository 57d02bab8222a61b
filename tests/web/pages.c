/*
 * pages.c: the pages the host answers by itself, from the project's
 * templates as Django's page_not_found and server_error
 * (django/views/defaults.py) render them, end to end through `sighost
 * serve`: 404.html for an unmatched path (exception "Resolver404") and for
 * a view that raises not-found (its message, or "Http404"), with the
 * quoted request_path; 500.html with an empty context after
 * got_request_exception; the built-in pages when there is no template or
 * it cannot render; app templates extending and including the project's
 * templates, with template_rendered in Django's order.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../support/web.h"

TestSuite(pages, .init = w_setup, .fini = w_cleanup, .timeout = 120);

static const char *const routes =
	"routes:\n"
	"  - {path: /hello, view: hello}\n"
	"  - {path: /boom, view: boom}\n"
	"  - {path: /render, view: render}\n"
	"  - {path: /missing, view: raise_404}\n"
	"  - {path: '/notes/<int:id>', methods: [GET], model: web.Note, anonymous: [GET]}\n"
	"models:\n"
	"  Note:\n"
	"    fields:\n"
	"      title: {type: text, max_length: 100}\n";

/* Writes templates/<name> beside project.yaml. */
static void project_template(const char *name, const char *text)
{
	char *dir = t_path(w_dir, "templates");
	mkdir(dir, 0755);
	free(t_write(dir, name, text));
	free(dir);
}

static void serve(w_server *s)
{
	w_app("web", routes);
	w_project("web", NULL);
	w_start(s, NULL);
}

static void stop(w_server *s)
{
	w_stop(s);
	cr_assert_eq(s->status, 0, "exit status %d, stderr:\n%s", s->status, s->err);
}

/* The audit entry `i` of `log`: its sender, and its args as compact JSON. */
static void entry_is(const json_t *log, size_t i, const char *signal, const char *sender,
	const char *args)
{
	json_t *e = json_array_get(log, i);
	cr_assert_not_null(e, "no entry %zu", i);
	cr_assert_str_eq(json_string_value(json_object_get(e, "signal")), signal);
	if (sender != NULL)
		cr_assert_str_eq(json_string_value(json_object_get(e, "sender")), sender);
	if (args != NULL) {
		char *text = json_dumps(json_object_get(e, "args"), JSON_COMPACT | JSON_SORT_KEYS);
		cr_assert_str_eq(text, args);
		free(text);
	}
}

Test(pages, an_unmatched_path_renders_the_projects_404_html)
{
	project_template("404.html", "<p>{{ request_path }}|{{ exception }}</p>");
	w_server s;
	serve(&s);
	w_resp r = w_request(s.port, "GET", "/no/where%3Cb%3E%20x?q=1", NULL, NULL);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body, "<p>/no/where%3Cb%3E%20x|Resolver404</p>",
		"request_path is quoted as Django's quote(request.path)");
	w_header_is(&r, "Content-Type", "text/html; charset=utf-8");
	w_resp_free(&r);
	json_t *log = w_audit("request_finished", 1);
	char *names = w_audit_names(log);
	cr_assert_str_eq(names, "request_started,template_rendered,request_finished");
	entry_is(log, 1, "template_rendered", "template:404.html", "{\"context\":{\"exception\":"
		"\"Resolver404\",\"request_path\":\"/no/where%3Cb%3E%20x\"},\"template\":\"404.html\"}");
	free(names);
	json_decref(log);
	stop(&s);
	w_server_free(&s);
}

Test(pages, a_view_raising_not_found_gets_the_same_404_without_an_exception_signal)
{
	project_template("404.html", "<p>{{ request_path }}|{{ exception }}</p>");
	w_server s;
	serve(&s);
	w_resp r = w_request(s.port, "GET", "/missing?id=5", NULL, NULL);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body, "<p>/missing|No note 5</p>");
	w_resp_free(&r);
	w_audit_names_are("request_finished", 1, "request_started,template_rendered,request_finished");
	r = w_request(s.port, "GET", "/missing?bare", NULL, NULL);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body, "<p>/missing|Http404</p>", "no message: the class name, as Django");
	w_resp_free(&r);
	r = w_request(s.port, "GET", "/notes/99", NULL, NULL);
	cr_assert_eq(r.status, 404);
	w_has(r.body, "{\"error\":");   /* a model route keeps its JSON */
	w_resp_free(&r);
	stop(&s);
	w_lacks(s.err, "failed on");
	w_has(s.err, "\"GET /missing?id=5 HTTP/1.1\" 404 25");
	w_server_free(&s);
}

Test(pages, without_a_404_html_the_built_in_page_is_answered)
{
	w_server s;
	serve(&s);
	w_resp r = w_request(s.port, "GET", "/missing?id=5", NULL, NULL);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body, "<h1>Not Found</h1><p>The requested resource was not found on "
		"this server.</p>");
	w_resp_free(&r);
	w_audit_names_are("request_finished", 1, "request_started,request_finished");
	stop(&s);
	w_server_free(&s);
}

Test(pages, a_failing_view_renders_500_html_with_an_empty_context_after_the_exception_signal)
{
	project_template("500.html", "<b>oops{{ request_path }}{{ exception }}</b>");
	w_server s;
	serve(&s);
	w_resp r = w_request(s.port, "GET", "/boom", NULL, NULL);
	cr_assert_eq(r.status, 500);
	cr_assert_str_eq(r.body, "<b>oops</b>", "server_error renders with no context");
	w_lacks(r.body, "secret");
	w_resp_free(&r);
	json_t *log = w_audit("request_finished", 1);
	char *names = w_audit_names(log);
	cr_assert_str_eq(names, "request_started,got_request_exception,template_rendered,"
		"request_finished");
	entry_is(log, 2, "template_rendered", "template:500.html",
		"{\"context\":{},\"template\":\"500.html\"}");
	free(names);
	json_decref(log);
	stop(&s);
	w_server_free(&s);
}

Test(pages, a_404_html_that_cannot_render_falls_back_to_the_built_in_page_and_is_logged)
{
	project_template("404.html", "{% if %}");
	w_server s;
	serve(&s);
	w_resp r = w_request(s.port, "GET", "/nowhere", NULL, NULL);
	cr_assert_eq(r.status, 404);
	w_has(r.body, "<h1>Not Found</h1>");
	w_resp_free(&r);
	r = w_request(s.port, "GET", "/hello", NULL, NULL);
	cr_assert_eq(r.status, 200, "the host is still up");
	w_resp_free(&r);
	stop(&s);
	w_has(s.err, "cannot render the project's 404.html (the built-in page is answered): ");
	w_has(s.err, "templates/404.html:1:7: the condition ends where a value was expected");
	w_server_free(&s);
}

Test(pages, app_templates_extend_and_include_the_projects_in_djangos_signal_order)
{
	project_template("base.html", "<html>{% block body %}{% endblock %}"
		"{% include 'footer.html' with year=2026 %}</html>");
	project_template("footer.html", "<footer>{{ year }} {{ name }}</footer>");
	w_template("web", "child.html", "{% extends 'base.html' %}{% block body %}"
		"<h1>{{ name }}</h1>{% include 'row.html' with n=1 only %}{% endblock %}");
	w_template("web", "row.html", "<i>{{ n }}{{ name }}</i>");
	w_server s;
	serve(&s);
	w_resp r = w_request(s.port, "GET", "/render?template=child.html&name=Ada", NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(r.body, "<html><h1>Ada</h1><i>1</i><footer>2026 Ada</footer></html>");
	w_resp_free(&r);
	json_t *log = w_audit("request_finished", 1);
	char *names = w_audit_names(log);
	cr_assert_str_eq(names, "request_started,template_rendered,template_rendered,"
		"template_rendered,template_rendered,request_finished");
	const char *ctx = "{\"items\":[\"a\",\"b\",\"c\"],\"name\":\"Ada\",\"template\":\"child.html\"}";
	char expected[512];
	snprintf(expected, sizeof expected, "{\"context\":%s,\"template\":\"web/child.html\"}", ctx);
	entry_is(log, 1, "template_rendered", "template:web/child.html", expected);
	snprintf(expected, sizeof expected, "{\"context\":%s,\"template\":\"base.html\"}", ctx);
	entry_is(log, 2, "template_rendered", "template:base.html", expected);
	entry_is(log, 3, "template_rendered", "template:web/row.html",
		"{\"context\":{\"n\":1},\"template\":\"web/row.html\"}");
	entry_is(log, 4, "template_rendered", "template:footer.html",
		"{\"context\":{\"items\":[\"a\",\"b\",\"c\"],\"name\":\"Ada\",\"template\":"
		"\"child.html\",\"year\":2026},\"template\":\"footer.html\"}");
	free(names);
	json_decref(log);
	stop(&s);
	w_server_free(&s);
}
