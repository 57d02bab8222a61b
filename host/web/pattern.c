/*
 * pattern.c: route path patterns with typed parameters, Django's path()
 * syntax: "/alerts/<int:id>/files/<path:name>". A pattern compiles to a
 * list of literal pieces and parameters; a path matches when the pieces
 * consume it whole, each parameter taking a run of the characters its
 * converter allows (longest first, backtracking when what follows fails,
 * as Django's regular expressions do). The work of one match is bounded,
 * so no pattern and path can make matching slow.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const sh__conv_names[] = { "str", "int", "slug", "uuid", "path" };

static int sh_web__fail(sh__pattern_error *err, size_t where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int sh_web__fail(sh__pattern_error *err, size_t where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof err->text, fmt, ap);
	va_end(ap);
	err->at = where;
	return SH_EINVAL;
}

static int sh_web__piece_add(sh__pattern *p, const char *text, size_t len, int param)
{
	sh__piece *pieces = realloc(p->pieces, (p->piece_count + 1) * sizeof *pieces);
	if (pieces == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	p->pieces = pieces;
	p->pieces[p->piece_count++] = (sh__piece){ text, len, param };
	return 0;
}

/* Parses the parameter "<conv:name>" between source[open] and source[close]. */
static int sh_web__param(sh__pattern *p, sh__wbuf *shape, size_t open, size_t close,
	sh__pattern_error *err)
{
	const char *source = p->source;
	char inside[256];
	size_t n = close - open - 1;
	if (n == 0 || n >= sizeof inside)
		return sh_web__fail(err, open,
			n == 0 ? "empty parameter '<>'" : "parameter too long");
	memcpy(inside, source + open + 1, n);
	inside[n] = '\0';
	char *colon = strchr(inside, ':');
	const char *conv_name = "str", *name = inside;
	if (colon != NULL) {
		*colon = '\0';
		conv_name = inside;
		name = colon + 1;
	}
	int conv = -1;
	for (size_t i = 0; i < SH__COUNT(sh__conv_names); i++)
		if (strcmp(conv_name, sh__conv_names[i]) == 0)
			conv = (int)i;
	if (conv < 0) {
		const char *near = sh_base__suggest(conv_name, sh__conv_names, SH__COUNT(sh__conv_names));
		if (near != NULL)
			return sh_web__fail(err, open + 1,
				"unknown converter '%s' (did you mean '%s'?)", conv_name, near);
		return sh_web__fail(err, open + 1,
			"unknown converter '%s' (known: int, str, slug, uuid, path)", conv_name);
	}
	if (!sh_base__is_identifier(name, 64))
		return sh_web__fail(err, open + 1 + (size_t)(name - inside),
			"parameter name '%s' is not an identifier", name);
	for (size_t i = 0; i < p->param_count; i++)
		if (strcmp(p->names[i], name) == 0)
			return sh_web__fail(err, open + 1 + (size_t)(name - inside),
				"parameter '%s' appears twice", name);
	if (p->param_count == SH__MAX_PARAMS)
		return sh_web__fail(err, open,
			"more than %d parameters", SH__MAX_PARAMS);
	if ((p->names[p->param_count] = strdup(name)) == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	p->convs[p->param_count] = (sh__conv)conv;
	int rc = sh_web__piece_add(p, NULL, 0, (int)p->param_count);
	p->param_count++;
	if (rc == 0)
		rc = sh_web__wbuf_printf(shape, "<%s>", conv_name);
	return rc;
}

static int sh_web__compile(sh__pattern *p, sh__wbuf *shape, sh__pattern_error *err)
{
	const char *s = p->source;
	size_t len = strlen(s);
	if (len == 0)
		return sh_web__fail(err, 0, "the path is empty");
	if (s[0] != '/')
		return sh_web__fail(err, 0,
			"a path must start with '/' (\"/%s\"?)", s);
	if (len > SH__MAX_PATTERN)
		return sh_web__fail(err, 0, "the path is longer than %d bytes",
			SH__MAX_PATTERN);
	size_t literal = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return sh_web__fail(err, i,
				"a control character cannot appear in a path");
		if (c == '?' || c == '#')
			return sh_web__fail(err, i,
				"'%c' cannot appear in a path (routes match the path only)", c);
		if (c == '>')
			return sh_web__fail(err, i, "'>' without '<'");
		if (c != '<')
			continue;
		const char *close = strchr(s + i, '>');
		const char *reopen = strchr(s + i + 1, '<');
		if (close == NULL || (reopen != NULL && reopen < close))
			return sh_web__fail(err, i, "'<' is not closed by '>'");
		int rc = 0;
		if (i > literal) {
			rc = sh_web__piece_add(p, s + literal, i - literal, -1);
			if (rc == 0)
				rc = sh_web__wbuf_add(shape, s + literal, i - literal);
		}
		if (rc == 0)
			rc = sh_web__param(p, shape, i, (size_t)(close - s), err);
		if (rc < 0)
			return rc;
		i = (size_t)(close - s);
		literal = i + 1;
	}
	if (len > literal) {
		int rc = sh_web__piece_add(p, s + literal, len - literal, -1);
		if (rc == 0)
			rc = sh_web__wbuf_add(shape, s + literal, len - literal);
		if (rc < 0)
			return rc;
	}
	return sh_web__wbuf_finish(shape);
}

int sh_web__pattern_compile(sh__pattern *out, const char *source, sh__pattern_error *err)
{
	*out = (sh__pattern){ 0 };
	err->text[0] = '\0';
	err->at = 0;
	if ((out->source = strdup(source)) == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	sh__wbuf shape = { 0 };
	int rc = sh_web__compile(out, &shape, err);
	if (rc < 0) {
		sh_web__wbuf_dispose(&shape);
		sh_web__pattern_dispose(out);
		return rc;
	}
	out->shape = shape.data;
	return 0;
}

void sh_web__pattern_dispose(sh__pattern *pattern)
{
	free(pattern->source);
	free(pattern->shape);
	free(pattern->pieces);
	for (size_t i = 0; i < pattern->param_count; i++)
		free(pattern->names[i]);
	*pattern = (sh__pattern){ 0 };
}

/* ---- matching --------------------------------------------------------- */

typedef struct sh__mctx {
	const sh__pattern *p;
	const char *path;
	size_t n;
	sh__spans *spans;
	unsigned budget;     /* steps left; 0 gives up (no match) */
} sh__mctx;

static bool sh_web__slug_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		|| c == '-' || c == '_';
}

static bool sh_web__hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The longest run at s (of `avail` bytes) that the converter allows. */
static size_t sh_web__run(sh__conv conv, const char *s, size_t avail)
{
	size_t n = 0;
	switch (conv) {
	case SH__CONV_PATH:
		return avail;
	case SH__CONV_STR:
		while (n < avail && s[n] != '/')
			n++;
		return n;
	case SH__CONV_INT:
		while (n < avail && s[n] >= '0' && s[n] <= '9')
			n++;
		return n;
	case SH__CONV_SLUG:
		while (n < avail && sh_web__slug_char(s[n]))
			n++;
		return n;
	case SH__CONV_UUID:
		if (avail < 36)
			return 0;
		for (size_t i = 0; i < 36; i++) {
			bool dash = i == 8 || i == 13 || i == 18 || i == 23;
			if (dash ? s[i] != '-' : !sh_web__hex_lower(s[i]))
				return 0;
		}
		return 36;
	}
	return 0;
}

static bool sh_web__match_at(sh__mctx *c, size_t piece, size_t pos)
{
	if (c->budget == 0)
		return false;
	c->budget--;
	if (piece == c->p->piece_count)
		return pos == c->n;
	const sh__piece *pc = &c->p->pieces[piece];
	if (pc->param < 0) {
		if (c->n - pos < pc->len || memcmp(c->path + pos, pc->text, pc->len) != 0)
			return false;
		return sh_web__match_at(c, piece + 1, pos + pc->len);
	}
	sh__conv conv = c->p->convs[pc->param];
	size_t max = sh_web__run(conv, c->path + pos, c->n - pos);
	size_t min = conv == SH__CONV_UUID ? max : 1;
	c->spans->start[pc->param] = pos;
	if (piece + 1 == c->p->piece_count) {   /* the last piece must take the rest */
		c->spans->len[pc->param] = max;
		return max > 0 && pos + max == c->n;
	}
	for (size_t len = max; len >= min && len > 0; len--) {
		c->spans->len[pc->param] = len;
		if (sh_web__match_at(c, piece + 1, pos + len))
			return true;
		if (c->budget == 0)
			return false;
	}
	return false;
}

/* Converts the digits of an int parameter; false when it overflows. */
static bool sh_web__to_int64(const char *s, size_t len, int64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = (int64_t)v;
	return true;
}

bool sh_web__pattern_match(const sh__pattern *pattern, const char *path, sh__spans *spans)
{
	/* quick reject: the literal prefix */
	if (pattern->piece_count > 0 && pattern->pieces[0].param < 0
		&& strncmp(path, pattern->pieces[0].text, pattern->pieces[0].len) != 0)
		return false;
	sh__mctx c = { pattern, path, strlen(path), spans, 10000 };
	if (!sh_web__match_at(&c, 0, 0))
		return false;
	for (size_t i = 0; i < pattern->param_count; i++) {
		spans->ints[i] = 0;
		if (pattern->convs[i] == SH__CONV_INT
			&& !sh_web__to_int64(path + spans->start[i], spans->len[i], &spans->ints[i]))
			return false;
	}
	return true;
}
