/*
 * response.c: what a view writes of its response (web.h): status, headers
 * (checked, so a view cannot inject a header or break the framing), body,
 * and the text, JSON and template helpers. handler.c turns it into a
 * libmicrohttpd response once the view returns.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static bool sh_web__status_ok(int status)
{
	return status >= 200 && status <= 599;
}

static bool sh_web__token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		|| (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int sh_web__header_check(const char *name, const char *value)
{
	if (name == NULL || value == NULL || name[0] == '\0')
		return sh_error_set(SH_EINVAL, "a header needs a name and a value");
	for (const char *c = name; *c != '\0'; c++)
		if (!sh_web__token_char(*c))
			return sh_error_set(SH_EINVAL, "header name '%s' is not an HTTP token", name);
	for (const char *c = value; *c != '\0'; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return sh_error_set(SH_EINVAL, "the value of header '%s' holds a control character",
				name);
	if (strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Connection") == 0
		|| strcasecmp(name, "Transfer-Encoding") == 0)
		return sh_error_set(SH_EINVAL, "header '%s' is set by the server", name);
	return 0;
}

void sh_web__response_reset(sh_http_response *response)
{
	sh__stream_spec stream = response->stream;
	response->stream = (sh__stream_spec){ 0 };
	if (stream.close != NULL)
		stream.close(stream.payload);   /* a stream never sent is closed all the same */
	for (size_t i = 0; i < response->header_count; i++) {
		free(response->headers[i].name);
		free(response->headers[i].value);
	}
	response->header_count = 0;
	sh_web__wbuf_dispose(&response->body);
	response->status = 200;
}

int sh_http_response_set_status(sh_http_response *response, int status)
{
	if (!sh_web__status_ok(status))
		return sh_error_set(SH_EINVAL, "status %d is not in 200..599", status);
	response->status = status;
	return 0;
}

int sh_http_response_status(const sh_http_response *response)
{
	return response->status;
}

static void sh_web__header_remove(sh_http_response *response, const char *name)
{
	size_t kept = 0;
	for (size_t i = 0; i < response->header_count; i++) {
		if (strcasecmp(response->headers[i].name, name) == 0) {
			free(response->headers[i].name);
			free(response->headers[i].value);
		} else {
			response->headers[kept++] = response->headers[i];
		}
	}
	response->header_count = kept;
}

static int sh_web__header_add(sh_http_response *response, const char *name, const char *value,
	bool replace)
{
	int rc = sh_web__header_check(name, value);
	if (rc < 0)
		return rc;
	if (response->header_count == response->header_capacity) {
		size_t cap = response->header_capacity ? response->header_capacity * 2 : 8;
		sh__owned_header *headers = realloc(response->headers, cap * sizeof *headers);
		if (headers == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		response->headers = headers;
		response->header_capacity = cap;
	}
	char *n = strdup(name), *v = strdup(value);
	if (n == NULL || v == NULL) {
		free(n);
		free(v);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	if (replace)
		sh_web__header_remove(response, name);
	response->headers[response->header_count++] = (sh__owned_header){ n, v };
	return 0;
}

int sh_http_response_set_header(sh_http_response *response, const char *name,
	const char *value)
{
	return sh_web__header_add(response, name, value, true);
}

int sh_http_response_add_header(sh_http_response *response, const char *name,
	const char *value)
{
	return sh_web__header_add(response, name, value, false);
}

const char *sh_http_response_header(const sh_http_response *response, const char *name)
{
	for (size_t i = 0; name != NULL && i < response->header_count; i++)
		if (strcasecmp(response->headers[i].name, name) == 0)
			return response->headers[i].value;
	return NULL;
}

/* Refuses to give a body to a response that streams one. */
static int sh_web__not_streaming(const sh_http_response *response, const char *function)
{
	if (response->stream.next != NULL)
		return sh_error_set(SH_EINVAL, "%s: the response streams its body "
			"(sh_http_response_stream)", function);
	return 0;
}

int sh_http_response_set_body(sh_http_response *response, const void *data, size_t length)
{
	if (sh_web__not_streaming(response, "sh_http_response_set_body") < 0)
		return SH_EINVAL;
	if (data == NULL && length > 0)
		return sh_error_set(SH_EINVAL, "sh_http_response_set_body: NULL data");
	sh__wbuf body = { 0 };
	int rc = sh_web__wbuf_add(&body, data, length);
	if (rc < 0)
		return rc;
	sh_web__wbuf_dispose(&response->body);
	response->body = body;
	return 0;
}

int sh_http_response_write(sh_http_response *response, const void *data, size_t length)
{
	if (sh_web__not_streaming(response, "sh_http_response_write") < 0)
		return SH_EINVAL;
	if (data == NULL && length > 0)
		return sh_error_set(SH_EINVAL, "sh_http_response_write: NULL data");
	return sh_web__wbuf_add(&response->body, data, length);
}

/* Sets status, Content-Type and takes `body` (malloc'd, `length` bytes). */
static int sh_web__response_take(sh_http_response *response, int status, const char *type,
	char *body, size_t length)
{
	int rc = sh_web__not_streaming(response, "a response helper");
	if (rc == 0)
		rc = sh_web__header_add(response, "Content-Type", type, true);
	if (rc < 0) {
		free(body);
		return rc;
	}
	sh_web__wbuf_dispose(&response->body);
	response->body = (sh__wbuf){ body, length, length + 1 };
	response->status = status;
	return 0;
}

int sh_http_response_text(sh_http_response *response, int status, const char *text)
{
	if (!sh_web__status_ok(status) || text == NULL)
		return sh_error_set(SH_EINVAL, "sh_http_response_text: status in 200..599 and a text "
			"are required");
	char *copy = strdup(text);
	if (copy == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	return sh_web__response_take(response, status, "text/plain; charset=utf-8", copy, strlen(copy));
}

int sh_http_response_json(sh_http_response *response, int status, const json_t *value)
{
	if (!sh_web__status_ok(status) || value == NULL)
		return sh_error_set(SH_EINVAL, "sh_http_response_json: status in 200..599 and a value "
			"are required");
	char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	if (text == NULL)
		return sh_error_set(SH_EINVAL, "the value cannot be encoded as JSON");
	return sh_web__response_take(response, status, "application/json", text, strlen(text));
}

int sh_web__response_json_text(sh_http_response *response, int status, sh__wbuf *body)
{
	int rc = sh_web__wbuf_finish(body);
	sh__wbuf taken = *body;
	*body = (sh__wbuf){ 0 };
	if (rc < 0) {
		sh_web__wbuf_dispose(&taken);
		return rc;
	}
	return sh_web__response_take(response, status, "application/json", taken.data, taken.len);
}

int sh_http_response_render(sh_http_response *response, int status, const char *name,
	const json_t *context)
{
	if (!sh_web__status_ok(status))
		return sh_error_set(SH_EINVAL, "status %d is not in 200..599", status);
	sh_request *request = response->request;
	if (request == NULL || request->server == NULL || request->app == NULL)
		return sh_error_set(SH_EINVAL, "sh_http_response_render: not a server response");
	const sh_template *t;
	int rc = sh_templates_get(&t, request->server->templates, request->app, name);
	if (rc < 0)
		return rc;
	char *text;
	size_t length;
	if ((rc = sh_template_render(&text, &length, t, context)) < 0)
		return rc;
	return sh_web__response_take(response, status, "text/html; charset=utf-8", text, length);
}

int sh_http_not_found(const char *fmt, ...)
{
	char message[1024] = "";
	if (fmt != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(message, sizeof message, fmt, ap);
		va_end(ap);
	}
	return sh_error_set(SH_EHTTP404, "%s", message);
}

int sh_http_response_stream(sh_http_response *response, int status, sh_stream_fn next,
	sh_stream_close_fn close, void *payload)
{
	if (response == NULL || next == NULL || !sh_web__status_ok(status))
		return sh_error_set(SH_EINVAL, "sh_http_response_stream: a response, a callback and "
			"a status in 200..599 are required");
	if (response->stream.next != NULL)
		return sh_error_set(SH_EINVAL, "sh_http_response_stream: the response streams a body "
			"already");
	sh_web__wbuf_dispose(&response->body);
	response->status = status;
	response->stream = (sh__stream_spec){ next, close, payload };
	return 0;
}
