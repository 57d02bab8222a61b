/*
 * app_manifest.c: the keys of an app manifest (label.yaml, beside the
 * app's shared object in a plugin directory) and the app made from it.
 * The `models` map is checked and declared by models_manifest.c; the
 * `migrations` path (the app's migrations folder, relative to the
 * manifest) is checked here and read by host/migrate; `routes` is accepted
 * here as it is.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SH__COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const sh__key sh__app_keys[] = {
	{ "label",       SH_VALUE_STRING, SH__ANY,         true  },
	{ "library",     SH_VALUE_STRING, SH__ANY,         false },
	{ "abi",         SH_VALUE_INT,    SH__ANY,         false },
	{ "version",     SH__ANY,         SH__ANY,         false },
	{ "description", SH_VALUE_STRING, SH__ANY,         false },
	{ "depends",     SH_VALUE_LIST,   SH_VALUE_STRING, false },
	{ "models",      SH_VALUE_MAP,    SH__ANY,         false },
	{ "migrations",  SH_VALUE_STRING, SH__ANY,         false },
	{ "routes",      SH__ANY,         SH__ANY,         false },
};

/* A label is an identifier: [A-Za-z_][A-Za-z0-9_]*, as Django's. */
static bool sh_app__label_ok(const char *s)
{
	if (*s == '\0' || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s != '\0'; s++) {
		bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
			|| (*s >= '0' && *s <= '9') || *s == '_';
		if (!ok)
			return false;
	}
	return true;
}

/* Checks what the schema cannot. Returns how many problems it recorded. */
static size_t sh_app__app_rules(sh__problems *problems, const sh_value *root)
{
	size_t found = 0;
	const sh_value *label = sh_value_get(root, "label");
	if (sh_value_string(label) != NULL && !sh_app__label_ok(label->text)) {
		sh_manifest__problem_at(problems, SH_EMANIFEST, label,
			"label '%s' is not valid: use letters, digits and '_', not starting with a digit",
			label->text);
		found++;
	} else if (sh_label_reserved(sh_value_string(label))) {
		sh_manifest__problem_at(problems, SH_EMANIFEST, label,
			"label '%s' is reserved: the host keeps its own tables under 'sighost_' (tokens, "
			"applied migrations) and SQLite under 'sqlite_'; choose another label",
			label->text);
		found++;
	}
	const sh_value *version = sh_value_get(root, "version");
	if (version != NULL && (version->type == SH_VALUE_LIST || version->type == SH_VALUE_MAP)) {
		sh_manifest__problem_at(problems, SH_EMANIFEST, version, "'version' must be a string, not %s",
			sh_value_type_name(version->type));
		found++;
	}
	int64_t abi;
	const sh_value *abi_value = sh_value_get(root, "abi");
	if (sh_value_int(&abi, abi_value) == 0 && abi != SH_ABI_VERSION) {
		sh_manifest__problem_at(problems, SH_EABI, abi_value,
			"app '%s' is for ABI %lld, host is %d", sh_value_path_string(root, "label", "?"),
			(long long)abi, SH_ABI_VERSION);
		found++;
	}
	const char *migrations = sh_value_path_string(root, "migrations", NULL);
	if (migrations != NULL && migrations[0] == '\0') {
		sh_manifest__problem_at(problems, SH_EMANIFEST, sh_value_get(root, "migrations"),
			"'migrations' is empty; name the migrations folder (e.g. migrations) or leave "
			"it out for an app without migrations");
		found++;
	}
	const char *library = sh_value_path_string(root, "library", NULL);
	if (library != NULL && library[0] == '\0') {
		sh_manifest__problem_at(problems, SH_EMANIFEST, sh_value_get(root, "library"),
			"'library' is empty; leave it out for an app without a library");
		found++;
	}
	return found;
}

static int sh_app__app_fill(sh_app *app, const sh__doc *doc)
{
	const sh_value *root = doc->root;
	app->root = root;
	app->label_value = sh_value_get(root, "label");
	app->label = app->label_value->text;
	const sh_value *version = sh_value_get(root, "version");
	app->version = version && version->text ? version->text : "";
	const char *library = sh_value_path_string(root, "library", NULL);
	if (library != NULL) {
		char *dir = sh_manifest__path_dir(doc->path);
		app->library_path = dir ? sh_manifest__path_join(dir, library) : NULL;
		free(dir);
		if (app->library_path == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
	}
	const sh_value *models = sh_value_get(root, "models");
	if (sh_value_type_of(models) == SH_VALUE_MAP)
		app->models_value = models;
	const sh_value *depends = sh_value_get(root, "depends");
	if (sh_value_type_of(depends) == SH_VALUE_LIST && depends->count > 0) {
		app->depends_value = depends;
		app->depends = calloc(depends->count, sizeof *app->depends);
		if (app->depends == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		for (size_t i = 0; i < depends->count; i++)
			app->depends[app->depends_count++] = depends->entries[i].value->text;
	}
	return 0;
}

int sh_app__app_from_manifest(sh_app **out, sh_project *project, const sh__doc *doc)
{
	*out = NULL;
	if (doc->root == NULL) {
		sh_manifest__problem_add(&project->problems, SH_EMANIFEST, doc->path, 0, 0,
			"the app manifest is empty; expected a map with at least 'label'");
		return 0;
	}
	size_t found = sh_manifest__schema_check(&project->problems, doc->root, sh__app_keys,
		SH__COUNT(sh__app_keys), "app manifest");
	if (doc->root->type != SH_VALUE_MAP)
		return 0;
	found += sh_app__app_rules(&project->problems, doc->root);
	if (found > 0)
		return 0;
	sh_app *app = calloc(1, sizeof *app);
	if (app == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	app->project = project;
	int rc = sh_app__app_fill(app, doc);
	if (rc < 0) {
		sh_app__app_free(app);
		return rc;
	}
	*out = app;
	return 0;
}

void sh_app__app_free(sh_app *app)
{
	if (app == NULL)
		return;
	free(app->library_path);
	free(app->depends);
	free(app);
}
