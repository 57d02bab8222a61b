/*
 * text.h: small string helpers every layer needs: formatting into a new
 * string, reading the "file:line:col" positions that declarations carry
 * for messages, identifiers and ASCII lower case. UTF-8 is utf8.h's.
 */
#ifndef SH_BASE_TEXT_H
#define SH_BASE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Returns a new printf-formatted string (free with free()); NULL on ENOMEM. */
char *sh_base__format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Splits "file:line:col" (the file may itself hold ':') into the file
 * (copied into `file`, of `size` bytes), line and column. Returns false
 * when `where` has not that form or the file does not fit. */
bool sh_base__where_split(const char *where, char *file, size_t size, unsigned *line,
	unsigned *column);

/* True for [A-Za-z_][A-Za-z0-9_]* of at most `max` bytes (SIZE_MAX: any
 * length). */
bool sh_base__is_identifier(const char *s, size_t max);

/* Returns c in ASCII lower case (the C locale's tolower, whatever the
 * process's locale). */
static inline int sh__ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Returns a copy of `s` in ASCII lower case (free with free()); NULL on
 * ENOMEM. */
char *sh_base__lower(const char *s);

#endif
