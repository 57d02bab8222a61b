/*
 * text.c: string helpers shared by every layer (text.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

char *sh_base__format(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

bool sh_base__where_split(const char *where, char *file, size_t size, unsigned *line,
	unsigned *column)
{
	const char *c2 = strrchr(where, ':');
	if (c2 == NULL || c2 == where)
		return false;
	const char *c1 = c2 - 1;
	while (c1 > where && *c1 != ':')
		c1--;
	char *end;
	unsigned long l = strtoul(c1 + 1, &end, 10), c = strtoul(c2 + 1, NULL, 10);
	if (*c1 != ':' || end != c2 || c2[1] == '\0' || (size_t)(c1 - where) >= size)
		return false;
	memcpy(file, where, (size_t)(c1 - where));
	file[c1 - where] = '\0';
	*line = (unsigned)l;
	*column = (unsigned)c;
	return true;
}

bool sh_base__is_identifier(const char *s, size_t max)
{
	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return false;
	size_t n = 0;
	for (; *s != '\0'; s++, n++) {
		bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
			|| (*s >= '0' && *s <= '9') || *s == '_';
		if (!ok || n >= max)
			return false;
	}
	return true;
}

char *sh_base__lower(const char *s)
{
	char *copy = strdup(s);
	for (char *c = copy; c != NULL && *c != '\0'; c++)
		*c = (char)sh__ascii_lower((unsigned char)*c);
	return copy;
}
