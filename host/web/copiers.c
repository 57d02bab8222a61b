/*
 * copiers.c: the argument copiers of the request signals (signal.h,
 * "Asynchronous receivers"), which the server sets on its hub so that a
 * receiver connected with opts.async sees the same arguments, later, on a
 * thread of the worker pool, after the request they describe is gone:
 *
 *   request_started        a deep copy of the environ and its headers
 *   got_request_exception  error and message, and a detached copy of the
 *                          request: everything a view reads of it (method,
 *                          path, query, headers, body, route parameters,
 *                          user, app, remote address); it has no
 *                          connection and no response
 *   template_rendered      the template pointer as it is (a template of the
 *                          server's cache lives until the server is freed,
 *                          which drains the pool first); the context's
 *                          JSON deep-copied (json_deep_copy)
 *
 * request_finished has no arguments; setting_changed's copier is the
 * project's (host/app/settings_reload.c). Each copy is one block (plus
 * what it owns), freed by its free function after the receiver ran.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Bytes to copy `s` with its NUL, 0 for NULL. */
static size_t sh_web__len(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

/* Copies `s` to *at and advances it; returns the copy (NULL for NULL). */
static const char *sh_web__put(char **at, const char *s)
{
	if (s == NULL)
		return NULL;
	size_t n = strlen(s) + 1;
	char *copy = memcpy(*at, s, n);
	*at += n;
	return copy;
}

/* Bytes of the strings of `count` headers. */
static size_t sh_web__headers_len(const sh_header *headers, size_t count)
{
	size_t n = 0;
	for (size_t i = 0; i < count; i++)
		n += sh_web__len(headers[i].name) + sh_web__len(headers[i].value);
	return n;
}

/* Copies `count` headers into `to`, their strings to *at. */
static void sh_web__headers_put(sh_header *to, char **at, const sh_header *from, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		to[i].name = sh_web__put(at, from[i].name);
		to[i].value = sh_web__put(at, from[i].value);
	}
}

/* ---- request_started -------------------------------------------------- */

typedef struct sh__started_copy {
	sh_request_started_args args;
	sh_environ environ;
	sh_header headers[];        /* then the strings */
} sh__started_copy;

static void *sh_web__started_copy_args(const void *args)
{
	const sh_request_started_args *a = args;
	const sh_environ *e = a->environ;
	if (e == NULL) {
		sh__started_copy *c = calloc(1, sizeof *c);
		return c;   /* environ NULL, as sent */
	}
	size_t count = e->headers != NULL ? e->header_count : 0;
	size_t strings = sh_web__len(e->method) + sh_web__len(e->path) + sh_web__len(e->query_string)
		+ sh_web__len(e->remote_addr) + sh_web__headers_len(e->headers, count);
	sh__started_copy *c = malloc(sizeof *c + count * sizeof(sh_header) + strings);
	if (c == NULL)
		return NULL;
	char *at = (char *)&c->headers[count];
	c->environ = (sh_environ){ sh_web__put(&at, e->method), sh_web__put(&at, e->path),
		sh_web__put(&at, e->query_string), sh_web__put(&at, e->remote_addr),
		count > 0 ? c->headers : NULL, count };
	sh_web__headers_put(c->headers, &at, e->headers, count);
	c->args.environ = &c->environ;
	return c;
}

/* ---- got_request_exception -------------------------------------------- */

typedef struct sh__exception_copy {
	sh_got_request_exception_args args;
	sh_request request;
	sh_header pairs[];          /* headers, then query; then the strings */
} sh__exception_copy;

/* Bytes of the matched route's parameter texts. */
static size_t sh_web__params_len(const sh__match *m)
{
	size_t n = 0;
	size_t count = m->route != NULL ? m->route->pattern.param_count : 0;
	for (size_t i = 0; i < count; i++)
		n += sh_web__len(m->param_text[i]);
	return n;
}

/* Fills the detached request `to` from `from`; strings go to *at, header
 * and query pairs to `pairs`. Returns 0 or SH_ENOMEM (the body). */
static int sh_web__request_put(sh_request *to, sh_header *pairs, char **at, const sh_request *from)
{
	to->server = from->server;
	to->raw_uri = (char *)sh_web__put(at, from->raw_uri);
	to->method = sh_web__put(at, from->method);
	to->path = sh_web__put(at, from->path);
	to->version = sh_web__put(at, from->version);
	to->query_string = sh_web__put(at, from->query_string);
	to->headers = from->header_count > 0 ? pairs : NULL;
	to->header_count = from->header_count;
	sh_web__headers_put(pairs, at, from->headers, from->header_count);
	to->query = from->query_count > 0 ? pairs + from->header_count : NULL;
	to->query_count = from->query_count;
	sh_web__headers_put(pairs + from->header_count, at, from->query, from->query_count);
	memcpy(to->remote_addr, from->remote_addr, sizeof to->remote_addr);
	to->user = (char *)sh_web__put(at, from->user);
	to->app = from->app;
	to->match.route = from->match.route;
	to->match.allow = from->match.allow;
	to->match.spans = from->match.spans;
	size_t params = from->match.route != NULL ? from->match.route->pattern.param_count : 0;
	for (size_t i = 0; i < params; i++)
		to->match.param_text[i] = sh_web__put(at, from->match.param_text[i]);
	to->response.request = to;
	to->response.status = 200;
	to->begun = to->started = to->answered = true;
	if (from->body.len > 0 && sh_web__wbuf_add(&to->body, from->body.data, from->body.len) < 0)
		return SH_ENOMEM;
	return 0;
}

static void sh_web__exception_copy_free(void *copy)
{
	sh__exception_copy *c = copy;
	if (c == NULL)
		return;
	json_decref(c->request.json);   /* parsed by a receiver's sh_request_json() */
	sh_web__wbuf_dispose(&c->request.body);
	free(c);
}

static void *sh_web__exception_copy_args(const void *args)
{
	const sh_got_request_exception_args *a = args;
	const sh_request *r = a->request;
	size_t pairs = r != NULL ? r->header_count + r->query_count : 0;
	size_t strings = sh_web__len(a->message);
	if (r != NULL)
		strings += sh_web__len(r->raw_uri) + sh_web__len(r->method) + sh_web__len(r->path)
			+ sh_web__len(r->version) + sh_web__len(r->query_string) + sh_web__len(r->user)
			+ sh_web__headers_len(r->headers, r->header_count)
			+ sh_web__headers_len(r->query, r->query_count) + sh_web__params_len(&r->match);
	sh__exception_copy *c = calloc(1, sizeof *c + pairs * sizeof(sh_header) + strings);
	if (c == NULL)
		return NULL;
	char *at = (char *)&c->pairs[pairs];
	c->args.error = a->error;
	c->args.message = sh_web__put(&at, a->message);
	if (r != NULL) {
		if (sh_web__request_put(&c->request, c->pairs, &at, r) < 0) {
			sh_web__exception_copy_free(c);
			return NULL;
		}
		c->args.request = &c->request;
	}
	return c;
}

/* ---- template_rendered ------------------------------------------------ */

typedef struct sh__rendered_copy {
	sh_template_rendered_args args;
	sh_context context;
} sh__rendered_copy;

static void *sh_web__rendered_copy_args(const void *args)
{
	const sh_template_rendered_args *a = args;
	sh__rendered_copy *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->args.template_ = a->template_;
	if (a->context != NULL) {
		if (a->context->json != NULL
			&& (c->context.json = json_deep_copy(a->context->json)) == NULL) {
			free(c);
			return NULL;
		}
		c->args.context = &c->context;
	}
	return c;
}

static void sh_web__rendered_copy_free(void *copy)
{
	sh__rendered_copy *c = copy;
	if (c == NULL)
		return;
	json_decref((json_t *)c->context.json);
	free(c);
}

/* ---- setting them ----------------------------------------------------- */

int sh_web__web_set_copiers(sh_hub *hub)
{
	int rc = sh_signal_set_copier(sh_hub_builtin(hub, SH_REQUEST_STARTED),
		sh_web__started_copy_args, free);
	if (rc == 0)
		rc = sh_signal_set_copier(sh_hub_builtin(hub, SH_GOT_REQUEST_EXCEPTION),
			sh_web__exception_copy_args, sh_web__exception_copy_free);
	if (rc == 0)
		rc = sh_signal_set_copier(sh_hub_builtin(hub, SH_TEMPLATE_RENDERED),
			sh_web__rendered_copy_args, sh_web__rendered_copy_free);
	return rc;
}
