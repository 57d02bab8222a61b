/*
 * graph.c: the dependency graph of migrations (Django's MigrationGraph):
 * resolving each migration's dependencies, the checks Django's loader
 * makes (a dependency on a missing migration, a cycle, two leaf
 * migrations in one app), and plans: forwards (a migration after its
 * dependencies), backwards (a migration after what depends on it), and
 * Django's migration_plan for a target.
 *
 * Nodes are visited in a fixed order (parents and children sorted by
 * app load order, then name), so plans are the same from run to run.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

sh__gapp *sh_migrate__graph_app(const sh_migrate_graph *g, const char *label)
{
	for (size_t i = 0; i < g->app_count; i++)
		if (strcmp(g->apps[i].label, label) == 0)
			return &g->apps[i];
	return NULL;
}

void sh_migrate__mlist_dispose(sh__mlist *l)
{
	free(l->items);
	free(l->backwards);
	*l = (sh__mlist){ NULL, NULL, 0, 0 };
}

static int sh_migrate__mlist_add(sh__mlist *l, sh__migration *m, bool backwards)
{
	if (l->count == l->capacity) {
		size_t cap = l->capacity ? l->capacity * 2 : 16;
		sh__migration **items = realloc(l->items, cap * sizeof *items);
		if (items == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		l->items = items;
		bool *flags = realloc(l->backwards, cap * sizeof *flags);
		if (flags == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		l->backwards = flags;
		l->capacity = cap;
	}
	l->items[l->count] = m;
	l->backwards[l->count++] = backwards;
	return 0;
}

/* Migrations are ordered by their index in graph->all: apps in load
 * order, names in order within an app. */
static int sh_migrate__by_index(const void *a, const void *b)
{
	const sh__migration *x = *(sh__migration *const *)a, *y = *(sh__migration *const *)b;
	return (x->index > y->index) - (x->index < y->index);
}

/* ---- resolving ---- */

static sh__migration *sh_migrate__find(const sh__gapp *a, const char *name)
{
	for (size_t i = 0; i < a->count; i++)
		if (strcmp(a->migrations[i]->name, name) == 0)
			return a->migrations[i];
	return NULL;
}

/* The app's migrations without a parent in their own app, by name. */
static sh__migration *sh_migrate__first_root(const sh__gapp *a)
{
	for (size_t i = 0; i < a->count; i++) {
		const sh__migration *m = a->migrations[i];
		bool root = true;
		for (size_t k = 0; k < m->parent_count && root; k++)
			root = strcmp(m->parents[k]->app_label, m->app_label) != 0;
		if (root)
			return a->migrations[i];
	}
	return NULL;
}

sh__migration *sh_migrate__graph_leaf(const sh__gapp *a)
{
	for (size_t i = a->count; i-- > 0;) {
		const sh__migration *m = a->migrations[i];
		bool leaf = true;
		for (size_t k = 0; k < m->child_count && leaf; k++)
			leaf = strcmp(m->children[k]->app_label, m->app_label) != 0;
		if (leaf)
			return a->migrations[i];
	}
	return NULL;
}

static int sh_migrate__link(sh__migration *m, sh__migration *parent)
{
	for (size_t i = 0; i < m->parent_count; i++)
		if (m->parents[i] == parent)
			return 0;
	sh__migration **grown = realloc(m->parents, (m->parent_count + 1) * sizeof *grown);
	if (grown == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	m->parents = grown;
	m->parents[m->parent_count++] = parent;
	return sh_migrate__push((void ***)&parent->children, &parent->child_count, &parent->child_capacity,
		m);
}

/* Resolves the dependencies named `pass` 0: by name, 1: __first__ and
 * __latest__ (which need the app's roots and leaves, from pass 0). */
static int sh_migrate__resolve(sh_migrate_graph *g, int pass)
{
	for (size_t i = 0; i < g->count; i++) {
		sh__migration *m = g->all[i];
		for (size_t k = 0; k < m->dep_count; k++) {
			sh__dep *d = &m->deps[k];
			bool special = strcmp(d->name, "__first__") == 0 || strcmp(d->name, "__latest__") == 0;
			if (special != (pass == 1))
				continue;
			const sh__gapp *a = sh_migrate__graph_app(g, d->app_label);
			if (a == NULL) {
				sh_migrate__problem_where(&g->problems, SH_EMANIFEST, d->where, "%s.%s depends on "
					"app '%s', which is not installed", m->app_label, m->name, d->app_label);
				continue;
			}
			if (special) {
				/* Django: an app without migrations satisfies these at once. */
				d->target = d->name[2] == 'f' ? sh_migrate__first_root(a) : sh_migrate__graph_leaf(a);
			} else if ((d->target = sh_migrate__find(a, d->name)) == NULL) {
				if (a->count == 0)
					sh_migrate__problem_where(&g->problems, SH_EMANIFEST, d->where, "%s.%s depends on "
						"%s.%s, but app '%s' has no migrations", m->app_label, m->name,
						d->app_label, d->name, d->app_label);
				else
					sh_migrate__problem_where(&g->problems, SH_EMANIFEST, d->where, "%s.%s depends on "
						"%s.%s, which does not exist (no file %s.yaml in %s)", m->app_label,
						m->name, d->app_label, d->name, d->name, a->dir);
				continue;
			}
			if (d->target == m) {
				sh_migrate__problem_where(&g->problems, SH_EMANIFEST, d->where, "%s.%s depends on "
					"itself", m->app_label, m->name);
				d->target = NULL;
				continue;
			}
			if (d->target != NULL && sh_migrate__link(m, d->target) < 0)
				return SH_ENOMEM;
		}
	}
	return 0;
}

/* ---- cycles ---- */

/* Depth-first from every node; a node met again while on the path closes
 * a cycle, reported once, at the dependency that closes it. */
static int sh_migrate__check_cycles(sh_migrate_graph *g, bool *found)
{
	*found = false;
	unsigned char *color = calloc(g->count ? g->count : 1, 1);   /* 0 new, 1 on path, 2 done */
	size_t *next = calloc(g->count ? g->count : 1, sizeof *next);
	sh__migration **path = calloc(g->count ? g->count : 1, sizeof *path);
	if (color == NULL || next == NULL || path == NULL) {
		free(color);
		free(next);
		free(path);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	for (size_t s = 0; s < g->count && !*found; s++) {
		if (color[s] != 0)
			continue;
		size_t depth = 0;
		path[depth++] = g->all[s];
		color[s] = 1;
		next[s] = 0;
		while (depth > 0 && !*found) {
			sh__migration *m = path[depth - 1];
			if (next[m->index] == m->parent_count) {
				color[m->index] = 2;
				depth--;
				continue;
			}
			sh__migration *p = m->parents[next[m->index]++];
			if (color[p->index] == 0) {
				color[p->index] = 1;
				next[p->index] = 0;
				path[depth++] = p;
			} else if (color[p->index] == 1) {
				/* path: ... p ... m, and m depends on p */
				char text[2048] = "";
				size_t start = depth;
				while (start > 0 && path[start - 1] != p)
					start--;
				start--;
				for (size_t i = start; i < depth; i++) {
					size_t len = strlen(text);
					snprintf(text + len, sizeof text - len, "%s.%s -> ", path[i]->app_label,
						path[i]->name);
				}
				size_t len = strlen(text);
				snprintf(text + len, sizeof text - len, "%s.%s", p->app_label, p->name);
				const char *where = m->where;
				for (size_t k = 0; k < m->dep_count; k++)
					if (m->deps[k].target == p)
						where = m->deps[k].where;
				sh_migrate__problem_where(&g->problems, SH_EMANIFEST, where, "dependency cycle: %s "
					"(each depends on the next)", text);
				*found = true;
			}
		}
	}
	free(color);
	free(next);
	free(path);
	return 0;
}

/* ---- plans ---- */

/* Depth-first post-order over parents (forwards) or children
 * (backwards), in sorted order, from `target`. Appends each node reached
 * for which keep(node) holds and skip is not set, then sets skip. */
static int sh_migrate__walk(sh__mlist *list, const sh_migrate_graph *g, sh__migration *target,
	bool *skip, bool backwards, bool applied_only)
{
	bool *seen = calloc(g->count ? g->count : 1, sizeof *seen);
	size_t *next = calloc(g->count ? g->count : 1, sizeof *next);
	sh__migration **stack = calloc(g->count ? g->count : 1, sizeof *stack);
	int rc = seen && next && stack ? 0 : sh_error_set(SH_ENOMEM, "out of memory");
	size_t depth = 0;
	if (rc == 0) {
		stack[depth++] = target;
		seen[target->index] = true;
	}
	while (rc == 0 && depth > 0) {
		sh__migration *m = stack[depth - 1];
		sh__migration **edges = backwards ? m->children : m->parents;
		size_t n = backwards ? m->child_count : m->parent_count;
		if (next[m->index] < n) {
			sh__migration *e = edges[next[m->index]++];
			if (!seen[e->index]) {
				seen[e->index] = true;
				stack[depth++] = e;
			}
			continue;
		}
		depth--;
		if (skip[m->index] || (applied_only && !m->applied))
			continue;
		skip[m->index] = true;
		rc = sh_migrate__mlist_add(list, m, backwards);
	}
	free(seen);
	free(next);
	free(stack);
	return rc;
}

int sh_migrate__graph_forwards(sh__mlist *list, const sh_migrate_graph *g, sh__migration *target,
	bool *skip)
{
	return sh_migrate__walk(list, g, target, skip, false, false);
}

int sh_migrate__graph_backwards(sh__mlist *list, const sh_migrate_graph *g, sh__migration *target,
	bool *skip)
{
	return sh_migrate__walk(list, g, target, skip, true, true);
}

/* The migration of `a` that `target` names (a name or a unique prefix). */
static int sh_migrate__match(sh__migration **out, const sh__gapp *a, const char *target)
{
	*out = sh_migrate__find(a, target);
	if (*out != NULL)
		return 0;
	size_t n = strlen(target), hits = 0;
	char list[1024] = "";
	for (size_t i = 0; i < a->count; i++)
		if (strncmp(a->migrations[i]->name, target, n) == 0) {
			*out = a->migrations[i];
			size_t len = strlen(list);
			snprintf(list + len, sizeof list - len, "%s%s", hits ? ", " : "",
				a->migrations[i]->name);
			hits++;
		}
	if (hits == 1)
		return 0;
	*out = NULL;
	if (hits > 1)
		return sh_error_set(SH_EINVAL, "more than one migration of '%s' matches '%s': %s",
			a->label, target, list);
	return sh_error_set(SH_ENOTFOUND, "cannot find a migration matching '%s' from app '%s'",
		target, a->label);
}

int sh_migrate__graph_plan(sh__mlist *list, const sh_migrate_graph *g, const char *app_label,
	const char *target)
{
	*list = (sh__mlist){ NULL, NULL, 0, 0 };
	/* `planned` marks what the plan holds, and for forwards what is applied. */
	bool *planned = calloc(g->count ? g->count : 1, sizeof *planned);
	if (planned == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	int rc = 0;
	const sh__gapp *a = app_label ? sh_migrate__graph_app(g, app_label) : NULL;
	if (app_label != NULL && a == NULL)
		rc = sh_error_set(SH_ENOTFOUND, "no installed app with label '%s'", app_label);
	else if (a != NULL && a->count == 0)
		rc = sh_error_set(SH_ENOTFOUND, "app '%s' does not have migrations", app_label);
	sh__migration *node = NULL;
	bool zero = target != NULL && strcmp(target, "zero") == 0;
	if (rc == 0 && a != NULL && target != NULL && !zero)
		rc = sh_migrate__match(&node, a, target);
	for (size_t i = 0; rc == 0 && i < g->count; i++)
		planned[i] = (a == NULL || target == NULL || (node != NULL && !node->applied))
			&& g->all[i]->applied;
	if (rc == 0 && a == NULL) {
		for (size_t i = 0; rc == 0 && i < g->app_count; i++) {
			sh__migration *leaf = sh_migrate__graph_leaf(&g->apps[i]);
			if (leaf != NULL)
				rc = sh_migrate__graph_forwards(list, g, leaf, planned);
		}
	} else if (rc == 0 && (target == NULL || (node != NULL && !node->applied))) {
		rc = sh_migrate__graph_forwards(list, g, node ? node : sh_migrate__graph_leaf(a), planned);
	} else if (rc == 0 && zero) {
		for (size_t i = 0; rc == 0 && i < a->count; i++) {
			sh__migration *m = a->migrations[i];
			bool root = true;
			for (size_t k = 0; k < m->parent_count && root; k++)
				root = strcmp(m->parents[k]->app_label, a->label) != 0;
			if (root)
				rc = sh_migrate__graph_backwards(list, g, m, planned);
		}
	} else if (rc == 0 && node != NULL) {
		/* Applied: roll back what follows it in its app, not further. */
		for (size_t k = 0; rc == 0 && k < node->child_count; k++)
			if (strcmp(node->children[k]->app_label, a->label) == 0)
				rc = sh_migrate__graph_backwards(list, g, node->children[k], planned);
	}
	free(planned);
	if (rc < 0)
		sh_migrate__mlist_dispose(list);
	return rc;
}

/* ---- building ---- */

/* Each app's migrations in apply order: graph->order filtered. */
static int sh_migrate__order(sh_migrate_graph *g)
{
	bool *planned = calloc(g->count ? g->count : 1, sizeof *planned);
	if (planned == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	sh__mlist all = { NULL, NULL, 0, 0 };
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < g->count; i++)
		rc = sh_migrate__graph_forwards(&all, g, g->all[i], planned);
	free(planned);
	if (rc < 0) {
		sh_migrate__mlist_dispose(&all);
		return rc;
	}
	g->order = all.items;
	free(all.backwards);
	for (size_t i = 0; i < g->app_count; i++) {
		sh__gapp *a = &g->apps[i];
		size_t n = 0;
		/* sh_migrate__graph_forwards put each of the g->count migrations in `all`,
		 * so g->order has that many. */
		for (size_t k = 0; k < g->count; k++)
			/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
			if (strcmp(g->order[k]->app_label, a->label) == 0)
				a->migrations[n++] = g->order[k];
	}
	return 0;
}

/* Two leaves in one app: Django's "Conflicting migrations detected". */
static void sh_migrate__check_conflicts(sh_migrate_graph *g)
{
	for (size_t i = 0; i < g->app_count; i++) {
		const sh__gapp *a = &g->apps[i];
		const sh__migration *leaves[64];
		size_t n = 0;
		for (size_t k = 0; k < a->count && n < 64; k++) {
			const sh__migration *m = a->migrations[k];
			bool leaf = true;
			for (size_t c = 0; c < m->child_count && leaf; c++)
				leaf = strcmp(m->children[c]->app_label, a->label) != 0;
			if (leaf)
				leaves[n++] = m;
		}
		if (n < 2)
			continue;
		char names[1024] = "";
		for (size_t k = 0; k < n; k++) {
			size_t len = strlen(names);
			snprintf(names + len, sizeof names - len, "%s%s", k == 0 ? "" : k + 1 == n
				? " and " : ", ", leaves[k]->name);
		}
		sh_migrate__problem_where(&g->problems, SH_EMANIFEST, leaves[n - 1]->where, "conflicting "
			"migrations in app '%s': %s are %s latest (nothing in the app depends on them); "
			"add a migration that depends on each of them to merge them", a->label, names,
			n == 2 ? "both" : "all");
	}
}

int sh_migrate__graph_build(sh_migrate_graph *g)
{
	for (size_t i = 0; i < g->count; i++)
		g->all[i]->index = i;
	if (sh_migrate__resolve(g, 0) < 0 || sh_migrate__resolve(g, 1) < 0)
		return SH_ENOMEM;
	for (size_t i = 0; i < g->count; i++) {
		sh__migration *m = g->all[i];
		if (m->parent_count > 1)
			qsort(m->parents, m->parent_count, sizeof *m->parents, sh_migrate__by_index);
		if (m->child_count > 1)
			qsort(m->children, m->child_count, sizeof *m->children, sh_migrate__by_index);
	}
	bool cycle = false;
	int rc = sh_migrate__check_cycles(g, &cycle);
	if (rc < 0 || cycle)
		return rc;
	if ((rc = sh_migrate__order(g)) < 0)
		return rc;
	sh_migrate__check_conflicts(g);
	return 0;
}
