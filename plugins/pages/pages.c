/*
 * pages.c: the pages plugin, an example of views (web.h): a templated
 * home page listing the installed apps' routes, a greeting by path
 * parameter, a page number read as an <int:...>, and a JSON echo. Every
 * view runs on a server worker thread; this plugin keeps no state, so its
 * views are safe to run at once.
 */
#include <stdio.h>
#include <string.h>

#include <sighost/sighost.h>

SH_PLUGIN_ABI;

int ready(sh_app *app)
{
	(void)app;   /* no receivers, no state: the views are all there is */
	return 0;
}

/* GET / : the home page, from templates/pages/index.html. */
SH_VIEW(index)
{
	json_t *links = json_pack("[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]",
		"href", "/hello/world", "text", "a greeting",
		"href", "/pages/2", "text", "page two",
		"href", "/pages/99999999999999999999", "text", "a page that overflows (404)");
	json_t *context = json_pack("{s:s, s:s, s:o*, s:s?}", "title", "sighost",
		"version", sh_version(), "links", links,
		"agent", sh_request_header(request, "User-Agent"));
	if (context == NULL)
		return sh_error_set(SH_ENOMEM, "pages: out of memory");
	int rc = sh_http_response_render(response, 200, "index.html", context);
	json_decref(context);
	return rc;
}

/* GET /hello/<slug:name>[?shout=1] : a greeting, from hello.html. */
SH_VIEW(hello)
{
	const char *shout = sh_request_query(request, "shout");
	json_t *context = json_pack("{s:s, s:b}", "name", sh_request_param(request, "name"),
		"shout", shout != NULL && strcmp(shout, "1") == 0);
	if (context == NULL)
		return sh_error_set(SH_ENOMEM, "pages: out of memory");
	int rc = sh_http_response_render(response, 200, "hello.html", context);
	json_decref(context);
	return rc;
}

/* GET /pages/<int:number> : plain text. */
SH_VIEW(page)
{
	int64_t number = 0;
	int rc = sh_request_param_int(request, "number", &number);
	if (rc < 0)
		return rc;
	char text[64];
	snprintf(text, sizeof text, "page %lld of the example\n", (long long)number);
	return sh_http_response_text(response, 200, text);
}

/* POST /api/echo : the JSON body back, wrapped; 400 for a body that is
 * not JSON. */
SH_VIEW(echo)
{
	const json_t *body;
	if (sh_request_json(&body, request) < 0) {
		json_t *error = json_pack("{s:s}", "error", sh_error_last()->message);
		int rc = error ? sh_http_response_json(response, 400, error) : SH_ENOMEM;
		json_decref(error);
		return rc;
	}
	json_t *reply = json_pack("{s:O, s:s}", "echo", body, "method", sh_request_method(request));
	if (reply == NULL)
		return sh_error_set(SH_ENOMEM, "pages: out of memory");
	int rc = sh_http_response_json(response, 200, reply);
	json_decref(reply);
	return rc;
}
