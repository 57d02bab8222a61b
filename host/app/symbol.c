/*
 * symbol.c: what the layers above (app.h) ask of an app: a symbol of
 * its own plugin (a view, SH_VIEW), its manifest root (the `routes:` it
 * declares), the project manifest root (the server's keys) and where a
 * map's keys are (for messages about unknown keys), whether the project
 * was read (migrate). Kept apart
 * from app.c so the needs of the layers above (app.h) stay in one place.
 */
#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "internal.h"
#include "app.h"

/* True when `address` lies in the object loaded as `handle` itself, not in
 * one of the libraries it depends on. */
static bool sh_app__in_object(void *handle, const void *address)
{
	struct link_map *map = NULL;
	Dl_info info;
	if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map == NULL)
		return false;
	if (dladdr(address, &info) == 0 || info.dli_fname == NULL)
		return false;
	return strcmp(info.dli_fname, map->l_name) == 0;
}

void *sh_app_symbol(const sh_app *app, const char *name)
{
	if (app == NULL || name == NULL || name[0] == '\0') {
		sh_error_set(SH_EINVAL, "sh_app_symbol: app and name are required");
		return NULL;
	}
	if (app->library_path == NULL) {
		sh_error_set(SH_ENOTFOUND, "app '%s' has no plugin (no 'library' in %s)", app->label,
			app->root->file);
		return NULL;
	}
	if (app->handle == NULL) {
		sh_error_set(SH_ENOTFOUND, "app '%s' is not loaded", app->label);
		return NULL;
	}
	dlerror();
	void *symbol = dlsym(app->handle, name);
	if (symbol == NULL || !sh_app__in_object(app->handle, symbol)) {
		sh_error_set(SH_ENOTFOUND, "%s does not export '%s'", app->library_path, name);
		return NULL;
	}
	return symbol;
}

const sh_value *sh_app_manifest(const sh_app *app)
{
	return app != NULL ? app->root : NULL;
}

const sh_value *sh_app__project_manifest(const sh_project *project)
{
	return project != NULL && project->doc != NULL ? project->doc->root : NULL;
}

const sh_value *sh_project_manifest(const sh_project *project)
{
	return sh_app__project_manifest(project);
}

void sh_app__value_key_position(const sh_value *map, size_t index, unsigned *line,
	unsigned *column)
{
	*line = *column = 0;
	if (map == NULL || map->type != SH_VALUE_MAP || index >= map->count)
		return;
	*line = map->entries[index].line;
	*column = map->entries[index].column;
}

bool sh_app__project_was_read(const sh_project *project)
{
	return project != NULL && project->read_ok;
}

void sh_app__app_load_facts_get(const sh_app *app, sh__app_load_facts *out)
{
	const sh_project *p = app->project;
	*out = (sh__app_load_facts){ app->open_ns, app->ready_ns, -1, NULL, p->probe_done };
	if (app->handle != NULL) {
		const int *abi = dlsym(app->handle, SH_PLUGIN_ABI_SYMBOL);
		out->abi = abi != NULL ? *abi : -1;
	}
	for (size_t i = 0; i < p->verdict_count; i++)
		if (strcmp(p->verdicts[i].label, app->label) == 0)
			out->verdict = p->verdicts[i].text;
}

/* True when `key` is `prefix` or lies below it ("audit.path" below "audit"). */
static bool sh_app__key_within(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(key, prefix, n) == 0 && (key[n] == '\0' || key[n] == '.');
}

/* True when two scalars read the same (the same type and text). */
static bool sh_app__same_scalar(const sh_value *a, const sh_value *b)
{
	return a != NULL && b != NULL && a->type == b->type && a->text != NULL && b->text != NULL
		&& strcmp(a->text, b->text) == 0;
}

const char *sh_app__setting_origin(sh_project *project, const char *key, const sh_value *value,
	unsigned *line, unsigned *column)
{
	*line = *column = 0;
	bool overridden = false;
	pthread_mutex_lock(&project->live.lock);
	for (size_t i = 0; i < project->live.override_count && !overridden; i++) {
		const char *o = project->live.overrides[i].key;
		overridden = sh_app__key_within(key, o) || sh_app__key_within(o, key);
	}
	pthread_mutex_unlock(&project->live.lock);
	if (overridden)
		return "override";
	const sh_value *root = sh_app__project_manifest(project);
	const sh_value *first = sh_value_path(sh_value_get(root, "settings"), key);
	if (first != NULL && (first == value || sh_app__same_scalar(first, value))) {
		*line = first->line;
		*column = first->column;
		return "manifest";
	}
	return "reload";
}
