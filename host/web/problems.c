/*
 * problems.c: the problems the router and the server record, in the
 * format the rest of sighost prints ("file:line:col: message"), and the
 * "did you mean" suggestions of their messages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static __attribute__((format(printf, 6, 0))) int sh__wproblem_vadd(sh__problems *problems, int code, const char *file,
	unsigned line, unsigned column, const char *fmt, va_list ap)
{
	char message[1024];
	vsnprintf(message, sizeof message, fmt, ap);
	if (problems->count == problems->capacity) {
		size_t cap = problems->capacity ? problems->capacity * 2 : 8;
		sh_problem *items = realloc(problems->items, cap * sizeof *items);
		if (items == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		problems->items = items;
		problems->capacity = cap;
	}
	char *text = NULL, *file_copy = NULL, *message_copy = strdup(message);
	int n;
	if (file != NULL && line > 0)
		n = asprintf(&text, "%s:%u:%u: %s", file, line, column, message);
	else if (file != NULL)
		n = asprintf(&text, "%s: %s", file, message);
	else
		n = asprintf(&text, "%s", message);
	if (file != NULL)
		file_copy = strdup(file);
	if (n < 0 || message_copy == NULL || (file != NULL && file_copy == NULL)) {
		if (n >= 0)
			free(text);
		free(file_copy);
		free(message_copy);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	problems->items[problems->count++] = (sh_problem){ code, file_copy, line, column,
		message_copy, text };
	sh_error_set(code, "%s", text);
	/* cppcheck-suppress memleak ; the copies are the problem's, freed with it */
	return code;
}

int sh__problem_add(sh__problems *problems, int code, const char *file, unsigned line,
	unsigned column, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = sh__wproblem_vadd(problems, code, file, line, column, fmt, ap);
	va_end(ap);
	return rc;
}

int sh__problem_at(sh__problems *problems, int code, const sh_value *where,
	const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = sh__wproblem_vadd(problems, code, sh_value_file(where), sh_value_line(where),
		sh_value_column(where), fmt, ap);
	va_end(ap);
	return rc;
}

void sh__problems_dispose(sh__problems *problems)
{
	for (size_t i = 0; i < problems->count; i++) {
		free((char *)problems->items[i].file);
		free((char *)problems->items[i].message);
		free((char *)problems->items[i].text);
	}
	free(problems->items);
	*problems = (sh__problems){ 0 };
}

bool sh__is_identifier(const char *s, size_t max)
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
