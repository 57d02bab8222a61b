/*
 * buf.c: the growable byte buffer every part of host/web/ builds text in
 * (bodies, rendered templates, messages).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Makes room for `n` more bytes and a NUL. */
static int sh_web__wbuf_reserve(sh__wbuf *buf, size_t n)
{
	if (n > SIZE_MAX - buf->len - 1)
		return sh_error_set(SH_ENOMEM, "out of memory");
	size_t need = buf->len + n + 1;
	if (need <= buf->cap)
		return 0;
	size_t cap = buf->cap ? buf->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *data = realloc(buf->data, cap);
	if (data == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	buf->data = data;
	buf->cap = cap;
	return 0;
}

int sh_web__wbuf_add(sh__wbuf *buf, const void *bytes, size_t n)
{
	if (n == 0)
		return 0;
	int rc = sh_web__wbuf_reserve(buf, n);
	if (rc < 0)
		return rc;
	memcpy(buf->data + buf->len, bytes, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
	return 0;
}

int sh_web__wbuf_puts(sh__wbuf *buf, const char *s)
{
	return sh_web__wbuf_add(buf, s, strlen(s));
}

int sh_web__wbuf_printf(sh__wbuf *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return sh_error_set(SH_EINVAL, "bad format");
	int rc = sh_web__wbuf_reserve(buf, (size_t)n);
	if (rc < 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf->len += (size_t)n;
	return 0;
}

int sh_web__wbuf_finish(sh__wbuf *buf)
{
	int rc = sh_web__wbuf_reserve(buf, 0);
	if (rc == 0)
		buf->data[buf->len] = '\0';
	return rc;
}

void sh_web__wbuf_dispose(sh__wbuf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = buf->cap = 0;
}
