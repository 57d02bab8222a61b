/*
 * order.c: the app registry's consistency and the load order. Checks that
 * labels are unique, that installed_apps and every `depends` name known
 * apps, and orders the installed apps so that each comes after what it
 * depends on, installed_apps order breaking ties; a dependency cycle is
 * reported with its members in order ("a -> b -> a").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Returns the first app labelled `label`, NULL when none. */
static sh_app *sh_app__order_find(const sh_project *p, const char *label)
{
	for (size_t i = 0; i < p->app_count; i++)
		if (strcmp(p->apps[i]->label, label) == 0)
			return p->apps[i];
	return NULL;
}

/* Reports an unknown label at `where`, suggesting the nearest known one. */
static void sh_app__unknown_app(sh_project *p, const sh_value *where, const char *context)
{
	const char **labels = calloc(p->app_count + 1, sizeof *labels);
	if (labels == NULL) {
		p->problems.oom = true;
		return;
	}
	for (size_t i = 0; i < p->app_count; i++)
		labels[i] = p->apps[i]->label;
	const char *near = sh_base__suggest(where->text, labels, p->app_count);
	if (near != NULL)
		sh_manifest__problem_at(&p->problems, SH_EMANIFEST, where,
			"unknown app '%s' in %s (did you mean '%s'?)", where->text, context, near);
	else
		sh_manifest__problem_at(&p->problems, SH_EMANIFEST, where,
			"unknown app '%s' in %s (no app manifest in the plugin directories has this label)",
			where->text, context);
	free(labels);
}

static void sh_app__check_labels(sh_project *p)
{
	for (size_t i = 0; i < p->app_count; i++) {
		sh_app *first = sh_app__order_find(p, p->apps[i]->label);
		if (first == p->apps[i])
			continue;
		const sh_value *at = first->label_value;
		sh_manifest__problem_at(&p->problems, SH_EMANIFEST, p->apps[i]->label_value,
			"duplicate app label '%s' (also declared at %s:%u:%u)", p->apps[i]->label,
			at->file, at->line, at->column);
	}
}

static void sh_app__check_installed(sh_project *p)
{
	const sh_value *list = p->installed_value;
	size_t n = sh_value_length(list);
	p->order = calloc(n + 1, sizeof *p->order);
	p->order_count = 0;
	if (p->order == NULL) {
		p->problems.oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const sh_value *item = sh_value_at(list, i);
		if (sh_value_string(item) == NULL)
			continue;   /* reported by the schema */
		sh_app *app = sh_app__order_find(p, item->text);
		if (app == NULL) {
			sh_app__unknown_app(p, item, "installed_apps");
		} else if (app->installed) {
			sh_manifest__problem_at(&p->problems, SH_EMANIFEST, item,
				"app '%s' is listed twice in installed_apps", item->text);
		} else {
			app->installed = true;
			p->order[p->order_count++] = app;
		}
	}
}

static void sh_app__check_depends(sh_project *p, sh_app *app)
{
	for (size_t k = 0; k < app->depends_count; k++) {
		const sh_value *item = sh_value_at(app->depends_value, k);
		sh_app *dep = sh_app__order_find(p, app->depends[k]);
		if (dep == NULL) {
			char context[300];
			snprintf(context, sizeof context, "the depends of '%s'", app->label);
			sh_app__unknown_app(p, item, context);
		} else if (app->installed && !dep->installed) {
			sh_manifest__problem_at(&p->problems, SH_EMANIFEST, item,
				"app '%s' depends on '%s', which is not in installed_apps",
				app->label, dep->label);
		}
	}
}

/* Returns true when every installed dependency of `app` is placed. */
static bool sh_app__deps_placed(const sh_project *p, const sh_app *app, const bool *placed)
{
	for (size_t k = 0; k < app->depends_count; k++)
		for (size_t j = 0; j < p->order_count; j++)
			if (!placed[j] && strcmp(p->order[j]->label, app->depends[k]) == 0)
				return false;
	return true;
}

static size_t sh_app__index_of(const sh_project *p, const char *label)
{
	for (size_t j = 0; j < p->order_count; j++)
		if (strcmp(p->order[j]->label, label) == 0)
			return j;
	return SIZE_MAX;
}

/* Reports the cycle reached from the unplaced app `start` (in the
 * installed list) and marks its members placed, so ordering can go on. */
static void sh_app__report_cycle(sh_project *p, size_t start, bool *placed)
{
	size_t n = p->order_count;
	size_t *path = calloc(n + 1, sizeof *path);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (path == NULL || out == NULL) {
		free(path);
		if (out)
			fclose(out);
		free(text);
		p->problems.oom = true;
		return;
	}
	size_t steps = 0, at = start, first = 0;
	for (;;) {
		for (first = 0; first < steps && path[first] != at; first++)
			;
		if (first < steps || steps == n)
			break;
		path[steps++] = at;
		const sh_app *app = p->order[at];
		for (size_t k = 0; k < app->depends_count; k++) {
			size_t j = sh_app__index_of(p, app->depends[k]);
			if (j != SIZE_MAX && !placed[j]) {
				at = j;
				break;
			}
		}
	}
	for (size_t s = first; s < steps; s++) {
		fprintf(out, "%s -> ", p->order[path[s]]->label);
		placed[path[s]] = true;
	}
	fprintf(out, "%s", p->order[path[first]]->label);
	fclose(out);
	const sh_app *head = p->order[path[first]];
	sh_manifest__problem_at(&p->problems, SH_EMANIFEST,
		head->depends_value ? head->depends_value : head->label_value,
		"dependency cycle: %s", text);
	free(text);
	free(path);
}

/* Orders p->order in place: dependencies first, installed order otherwise. */
static void sh_app__sort(sh_project *p)
{
	size_t n = p->order_count;
	bool *placed = calloc(n + 1, sizeof *placed);
	sh_app **sorted = calloc(n + 1, sizeof *sorted);
	if (placed == NULL || sorted == NULL) {
		free(placed);
		free(sorted);
		p->problems.oom = true;
		return;
	}
	size_t done = 0, placed_count = 0;
	while (placed_count < n) {
		size_t pick = SIZE_MAX;
		for (size_t j = 0; j < n && pick == SIZE_MAX; j++)
			if (!placed[j] && sh_app__deps_placed(p, p->order[j], placed))
				pick = j;
		if (pick == SIZE_MAX) {
			size_t start = 0;
			while (placed[start])
				start++;
			sh_app__report_cycle(p, start, placed);
		} else {
			placed[pick] = true;
			sorted[done++] = p->order[pick];
		}
		placed_count = 0;
		for (size_t j = 0; j < n; j++)
			placed_count += placed[j];
	}
	free(p->order);
	p->order = sorted;
	p->order_count = done;
	free(placed);
}

void sh_app__resolve_apps(sh_project *p)
{
	sh_app__check_labels(p);
	sh_app__check_installed(p);
	for (size_t i = 0; i < p->app_count; i++)
		if (sh_app__order_find(p, p->apps[i]->label) == p->apps[i])
			sh_app__check_depends(p, p->apps[i]);
	if (p->order != NULL)
		sh_app__sort(p);
}
