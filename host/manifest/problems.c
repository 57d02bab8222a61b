/*
 * problems.c: the lists of problems a project (while it reads and loads),
 * a router and a server collect, so that `sighost check` can show all of
 * them, not only the first. The first problem recorded is also raised on
 * the error channel; every one with raise_each.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

static __attribute__((format(printf, 1, 0))) char *sh_manifest__vformat(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

static int sh_manifest__problem_store(sh__problems *problems, int code, const char *file,
	unsigned line, unsigned column, char *message)
{
	if (problems->count == problems->capacity) {
		size_t cap = problems->capacity ? problems->capacity * 2 : 8;
		sh_problem *grown = realloc(problems->items, cap * sizeof *grown);
		if (grown == NULL)
			return -1;
		problems->items = grown;
		problems->capacity = cap;
	}
	char *file_copy = file ? strdup(file) : NULL;
	char *text = NULL;
	int n;
	if (file == NULL)
		n = asprintf(&text, "%s", message);
	else if (line == 0)
		n = asprintf(&text, "%s: %s", file, message);
	else if (column == 0)
		n = asprintf(&text, "%s:%u: %s", file, line, message);
	else
		n = asprintf(&text, "%s:%u:%u: %s", file, line, column, message);
	if (n < 0 || (file != NULL && file_copy == NULL)) {
		free(file_copy);
		if (n >= 0)
			free(text);
		return -1;
	}
	if (problems->count == 0 || problems->raise_each)
		sh_error_set(code, "%s", text);
	problems->items[problems->count++] = (sh_problem){
		code, file_copy, line, column, message, text };
	return 0;
}

static __attribute__((format(printf, 6, 0))) int sh_manifest__problem_vadd(sh__problems *problems, int code, const char *file,
	unsigned line, unsigned column, const char *fmt, va_list ap)
{
	char *message = sh_manifest__vformat(fmt, ap);
	if (message == NULL || sh_manifest__problem_store(problems, code, file, line, column, message) < 0) {
		free(message);
		problems->oom = true;
		return problems->raise_each ? sh_error_set(SH_ENOMEM, "out of memory") : SH_ENOMEM;
	}
	return code;
}

int sh_manifest__problem_add(sh__problems *problems, int code, const char *file,
	unsigned line, unsigned column, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = sh_manifest__problem_vadd(problems, code, file, line, column, fmt, ap);
	va_end(ap);
	return rc;
}

int sh_manifest__problem_at(sh__problems *problems, int code, const sh_value *where,
	const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = sh_manifest__problem_vadd(problems, code, sh_value_file(where), sh_value_line(where),
		sh_value_column(where), fmt, ap);
	va_end(ap);
	return rc;
}

void sh_manifest__problems_dispose(sh__problems *problems)
{
	for (size_t i = 0; i < problems->count; i++) {
		free((char *)problems->items[i].file);
		free((char *)problems->items[i].message);
		free((char *)problems->items[i].text);
	}
	free(problems->items);
	*problems = (sh__problems){ .raise_each = problems->raise_each };
}
