/*
 * sqlbuf.c: building SQL text. Only identifiers from the validated registry
 * and fixed keywords ever go into SQL: values are always bound as
 * parameters. Identifiers are double-quoted anyway, so a field called
 * "order" or "group" stays a name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

static bool sh_db__buf_reserve(sh__buf *buf, size_t more)
{
	if (buf->failed)
		return false;
	if (buf->len + more + 1 <= buf->cap)
		return true;
	size_t cap = buf->cap ? buf->cap : 128;
	while (cap < buf->len + more + 1)
		cap *= 2;
	char *grown = realloc(buf->data, cap);
	if (grown == NULL) {
		buf->failed = true;
		return false;
	}
	buf->data = grown;
	buf->cap = cap;
	return true;
}

void sh_db__buf_add(sh__buf *buf, const char *s)
{
	size_t n = strlen(s);
	if (!sh_db__buf_reserve(buf, n))
		return;
	memcpy(buf->data + buf->len, s, n + 1);
	buf->len += n;
}

void sh_db__buf_addf(sh__buf *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		buf->failed = true;
		return;
	}
	if (!sh_db__buf_reserve(buf, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf->len += (size_t)n;
}

void sh_db__buf_ident(sh__buf *buf, const char *name)
{
	/* Registry names are identifier-like; a quote in one would be a
	 * registry bug, and doubling it keeps the SQL well-formed regardless. */
	sh_db__buf_add(buf, "\"");
	for (const char *p = name; *p != '\0'; p++) {
		char c[3] = { *p, *p == '"' ? '"' : '\0', '\0' };
		sh_db__buf_add(buf, c);
	}
	sh_db__buf_add(buf, "\"");
}

void sh_db__buf_params(sh__buf *buf, size_t count)
{
	for (size_t i = 0; i < count; i++)
		sh_db__buf_add(buf, i == 0 ? "?" : ", ?");
}

char *sh_db__buf_take(sh__buf *buf)
{
	char *s = NULL;
	if (!buf->failed)
		s = buf->data != NULL ? buf->data : strdup("");
	else
		free(buf->data);
	*buf = (sh__buf){ 0 };
	return s;
}

uint64_t sh_db__hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		h ^= *p;
		h *= 1099511628211ull;
	}
	return h;
}
