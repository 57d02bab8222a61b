/*
 * router.c: matching a request's method and path against the routes:
 * the first route whose pattern matches and whose methods include the
 * method answers; patterns that match without the method make a 405 (their
 * methods go to Allow); nothing matching makes a 404.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct sh_route_match {
	sh__match m;
	char allow[128];
};

/* Copies the matched parameters' texts, NUL-terminated, into one block. */
static int sh_web__match_texts(sh__match *m, const char *path)
{
	const sh__pattern *p = &m->route->pattern;
	if (p->param_count == 0)
		return 0;
	size_t total = 0;
	for (size_t i = 0; i < p->param_count; i++)
		total += m->spans.len[i] + 1;
	if ((m->texts = malloc(total)) == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	char *at = m->texts;
	for (size_t i = 0; i < p->param_count; i++) {
		memcpy(at, path + m->spans.start[i], m->spans.len[i]);
		at[m->spans.len[i]] = '\0';
		m->param_text[i] = at;
		at += m->spans.len[i] + 1;
	}
	return 0;
}

int sh_web__router_match(sh__match *m, const sh_router *router, const char *method,
	const char *path)
{
	*m = (sh__match){ 0 };
	unsigned bit = sh_web__method_bit(method);
	sh__spans spans;
	for (size_t i = 0; i < router->count; i++) {
		const sh_route *route = router->routes[i];
		if (!sh_web__pattern_match(&route->pattern, path, &spans))
			continue;
		unsigned methods = route->methods & SH__GET ? route->methods | SH__HEAD : route->methods;
		if ((methods & bit) == 0) {
			m->allow |= methods;
			continue;
		}
		m->route = route;
		m->spans = spans;
		int rc = sh_web__match_texts(m, path);
		if (rc < 0)
			m->route = NULL;
		return rc;
	}
	return m->allow != 0 ? SH_EPERM : SH_ENOTFOUND;
}

void sh_web__match_dispose(sh__match *m)
{
	free(m->texts);
	*m = (sh__match){ 0 };
}

const char *sh_web__match_param(const sh__match *m, const char *name, int *index)
{
	if (m->route == NULL || name == NULL)
		return NULL;
	const sh__pattern *p = &m->route->pattern;
	for (size_t i = 0; i < p->param_count; i++) {
		if (strcmp(p->names[i], name) == 0) {
			if (index != NULL)
				*index = (int)i;
			return m->param_text[i];
		}
	}
	return NULL;
}

int sh_router_match(sh_route_match **out, const sh_router *router, const char *method,
	const char *path)
{
	if (out == NULL)
		return sh_error_set(SH_EINVAL, "sh_router_match: out is required");
	*out = NULL;
	if (router == NULL || method == NULL || path == NULL)
		return sh_error_set(SH_EINVAL, "sh_router_match: router, method and path are required");
	sh_route_match *match = calloc(1, sizeof *match);
	if (match == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	int rc = sh_web__router_match(&match->m, router, method, path);
	if (rc == SH_ENOMEM) {
		free(match);
		return rc;
	}
	sh_web__methods_text(match->allow, sizeof match->allow, match->m.allow);
	*out = match;
	if (rc == SH_ENOTFOUND)
		return sh_error_set(rc, "no route matches %s", path);
	if (rc == SH_EPERM)
		return sh_error_set(rc, "%s is not allowed on %s (allowed: %s)", method, path,
			match->allow);
	return rc;
}

void sh_route_match_free(sh_route_match *match)
{
	if (match == NULL)
		return;
	sh_web__match_dispose(&match->m);
	free(match);
}

const sh_route *sh_route_match_route(const sh_route_match *match)
{
	return match != NULL ? match->m.route : NULL;
}

const char *sh_route_match_allow(const sh_route_match *match)
{
	return match != NULL ? match->allow : "";
}

size_t sh_route_match_param_count(const sh_route_match *match)
{
	return match != NULL && match->m.route != NULL ? match->m.route->pattern.param_count : 0;
}

const char *sh_route_match_param_at(const sh_route_match *match, size_t index,
	const char **name)
{
	if (index >= sh_route_match_param_count(match))
		return NULL;
	if (name != NULL)
		*name = match->m.route->pattern.names[index];
	return match->m.param_text[index];
}

int sh_route_match_param_int(const sh_route_match *match, const char *name, int64_t *out)
{
	int index = -1;
	if (match == NULL || sh_web__match_param(&match->m, name, &index) == NULL)
		return sh_error_set(SH_ENOTFOUND, "no path parameter '%s'", name ? name : "(null)");
	if (match->m.route->pattern.convs[index] != SH__CONV_INT)
		return sh_error_set(SH_EINVAL, "path parameter '%s' is not an <int:...>", name);
	*out = match->m.spans.ints[index];
	return 0;
}
