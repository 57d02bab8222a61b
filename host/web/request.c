/*
 * request.c: what a view reads of its request (web.h). The request is
 * filled by handler.c before the view runs: method, path and headers point
 * into libmicrohttpd's memory for the request, the body and the matched
 * parameters are the request's own.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

const char *sh_request_method(const sh_request *request)
{
	return request->method;
}

const char *sh_request_path(const sh_request *request)
{
	return request->path;
}

const char *sh_request_query_string(const sh_request *request)
{
	return request->query_string;
}

const char *sh_request_query(const sh_request *request, const char *name)
{
	for (size_t i = 0; name != NULL && i < request->query_count; i++)
		if (strcmp(request->query[i].name, name) == 0)
			return request->query[i].value;
	return NULL;
}

size_t sh_request_query_count(const sh_request *request)
{
	return request->query_count;
}

const char *sh_request_query_at(const sh_request *request, size_t index, const char **name)
{
	if (index >= request->query_count)
		return NULL;
	if (name != NULL)
		*name = request->query[index].name;
	return request->query[index].value;
}

const char *sh_request_header(const sh_request *request, const char *name)
{
	for (size_t i = 0; name != NULL && i < request->header_count; i++)
		if (strcasecmp(request->headers[i].name, name) == 0)
			return request->headers[i].value;
	return NULL;
}

size_t sh_request_header_count(const sh_request *request)
{
	return request->header_count;
}

const sh_header *sh_request_header_at(const sh_request *request, size_t index)
{
	return index < request->header_count ? &request->headers[index] : NULL;
}

const char *sh_request_param(const sh_request *request, const char *name)
{
	return sh_web__match_param(&request->match, name, NULL);
}

int sh_request_param_int(const sh_request *request, const char *name, int64_t *out)
{
	int index = -1;
	if (sh_web__match_param(&request->match, name, &index) == NULL)
		return sh_error_set(SH_ENOTFOUND, "no path parameter '%s'", name ? name : "(null)");
	if (request->match.route->pattern.convs[index] != SH__CONV_INT)
		return sh_error_set(SH_EINVAL, "path parameter '%s' is not an <int:...>", name);
	*out = request->match.spans.ints[index];
	return 0;
}

size_t sh_request_param_count(const sh_request *request)
{
	return request->match.route != NULL ? request->match.route->pattern.param_count : 0;
}

const char *sh_request_param_at(const sh_request *request, size_t index, const char **name)
{
	if (index >= sh_request_param_count(request))
		return NULL;
	if (name != NULL)
		*name = request->match.route->pattern.names[index];
	return request->match.param_text[index];
}

const char *sh_request_body(const sh_request *request, size_t *length)
{
	if (length != NULL)
		*length = request->body.len;
	return request->body.len > 0 ? request->body.data : "";
}

int sh_request_json(const json_t **out, sh_request *request)
{
	if (out == NULL || request == NULL)
		return sh_error_set(SH_EINVAL, "sh_request_json: out and request are required");
	*out = NULL;
	if (!request->json_done) {
		if (request->body.len == 0)
			return sh_error_set(SH_EINVAL, "request body is not JSON: the body is empty");
		json_error_t error;
		json_t *value = json_loadb(request->body.data, request->body.len, JSON_DECODE_ANY,
			&error);
		if (value == NULL)
			return sh_error_set(SH_EINVAL, "request body is not JSON: line %d, column %d: %s",
				error.line, error.column, error.text);
		request->json = value;
		request->json_done = true;
	}
	*out = request->json;
	return 0;
}

const char *sh_request_user(const sh_request *request)
{
	return request->user;
}

static int sh_web__hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes `n` bytes of a form field ('+' is a space, %XX a byte) into a
 * new string; NULL with the error set when it is not UTF-8 text. */
static char *sh_web__form_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	if (out == NULL) {
		sh_error_set(SH_ENOMEM, "out of memory");
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '+')
			out[k++] = ' ';
		else if (s[i] == '%' && i + 2 < n
			&& (hi = sh_web__hexval(s[i + 1])) >= 0 && (lo = sh_web__hexval(s[i + 2])) >= 0) {
			out[k++] = (char)(hi * 16 + lo);
			i += 2;
		} else
			out[k++] = s[i];
	}
	out[k] = '\0';
	json_t *check = json_stringn(out, k);   /* jansson checks UTF-8 and NUL */
	if (check == NULL || strlen(out) != k) {
		json_decref(check);
		free(out);
		sh_error_set(SH_EINVAL, "the form field is not UTF-8 text");
		return NULL;
	}
	json_decref(check);
	return out;
}

char *sh_request_form(const sh_request *request, const char *name)
{
	if (request == NULL || name == NULL) {
		sh_error_set(SH_EINVAL, "sh_request_form: request and name are required");
		return NULL;
	}
	const char *type = sh_request_header(request, "Content-Type");
	size_t tn = strlen("application/x-www-form-urlencoded");
	if (type == NULL || strncasecmp(type, "application/x-www-form-urlencoded", tn) != 0
		|| (type[tn] != '\0' && type[tn] != ';' && type[tn] != ' ')) {
		sh_error_set(SH_ENOTFOUND, "the body is not a form (application/x-www-form-urlencoded)");
		return NULL;
	}
	size_t length;
	const char *body = sh_request_body(request, &length);
	size_t want = strlen(name);
	for (size_t at = 0; at < length;) {
		const char *end = memchr(body + at, '&', length - at);
		size_t n = end != NULL ? (size_t)(end - (body + at)) : length - at;
		const char *field = body + at;
		const char *eq = memchr(field, '=', n);
		size_t key_len = eq != NULL ? (size_t)(eq - field) : n;
		char *key = sh_web__form_decode(field, key_len);
		if (key == NULL)
			return NULL;
		bool hit = strlen(key) == want && strcmp(key, name) == 0;
		free(key);
		if (hit)
			return eq != NULL ? sh_web__form_decode(eq + 1, n - key_len - 1)
				: sh_web__form_decode("", 0);
		at += n + 1;
	}
	sh_error_set(SH_ENOTFOUND, "the form has no field '%s'", name);
	return NULL;
}

sh_app *sh_request_app(const sh_request *request)
{
	return request->app;
}

const char *sh_request_remote_addr(const sh_request *request)
{
	return request->remote_addr;
}

const char *sh_request_route(const sh_request *request)
{
	return request->match.route != NULL ? request->match.route->pattern.source : NULL;
}

void sh_web__request_free(sh_request *request)
{
	if (request == NULL)
		return;
	sh_web__stream_free(request);
	sh_web__response_reset(&request->response);
	free(request->response.headers);
	sh_web__wbuf_dispose(&request->body);
	sh_web__match_dispose(&request->match);
	json_decref(request->json);
	free(request->user);
	free(request->headers);
	free(request->query);
	free(request->raw_uri);
	free(request->view_failure);
	free(request);
}
