/*
 * project.c: the project's life (project.h): read the manifests (and
 * declare the installed apps' models), load the installed apps in order as
 * Django loads apps (open every plugin and call early(), prepare the
 * models, open the database, call every ready()), answer questions about
 * them, unload and free; and read again, leaving out the optional apps the
 * probe (probe.c) found failing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int sh_project_new(sh_project **out)
{
	sh_project *p = calloc(1, sizeof *p);
	if (p == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	int rc = sh_hub_new(&p->hub);
	if (rc < 0) {
		free(p);
		return rc;
	}
	rc = sh_models_new(&p->models, p->hub);
	if (rc < 0) {
		sh_hub_free(p->hub);
		free(p);
		return rc;
	}
	sh_models_set_reporter(p->models, sh_app__models_reporter, p);
	rc = sh_app__live_init(p);
	if (rc < 0) {
		sh_models_free(p->models);
		sh_hub_free(p->hub);
		free(p);
		return rc;
	}
	p->name = "";
	p->ready_timeout = 10;
	p->probe_fd = -1;
	*out = p;
	return 0;
}

void sh_project_free(sh_project *p)
{
	if (p == NULL)
		return;
	for (size_t i = p->order_count; i-- > 0;)
		sh_app__app_unload(p->order[i]);
	sh_database_close(p->database);
	sh_models_free(p->models);
	for (size_t i = 0; i < p->app_count; i++)
		sh_app__app_free(p->apps[i]);
	free(p->apps);
	free(p->order);
	for (size_t i = 0; i < p->app_doc_count; i++)
		sh_manifest__doc_free(p->app_docs[i]);
	free(p->app_docs);
	sh_manifest__doc_free(p->doc);
	sh_app__live_dispose(p);   /* after the apps: values they were given stay valid until then */
	for (size_t i = 0; i < p->plugin_dir_count; i++)
		free(p->plugin_dirs[i]);
	free(p->plugin_dirs);
	free(p->plugin_dir_values);
	free(p->db_name);
	free(p->dir);
	free(p->path);
	sh_manifest__problems_dispose(&p->problems);
	sh_manifest__problems_dispose(&p->warnings);
	sh_app__verdicts_dispose(p);
	sh_hub_free(p->hub);
	free(p);
}

const char *sh_project_settings_path(const char *option)
{
	if (option != NULL)
		return option;
	const char *env = getenv(SH_SETTINGS_ENV);
	if (env != NULL && env[0] != '\0')
		return env;
	return SH_PROJECT_DEFAULT_PATH;
}

/* The result of reading or loading, from what was recorded. */
static int sh_app__outcome(const sh_project *p, int code)
{
	if (p->problems.oom)
		return sh_error_set(SH_ENOMEM, "out of memory");
	if (p->problems.count == 0)
		return 0;
	sh_error_set(code, "%s", p->problems.items[0].text);
	return code;
}

/* Marks the installed apps listed in optional_apps. */
static void sh_app__mark_optional(sh_project *p)
{
	for (size_t i = 0; i < sh_value_length(p->optional_value); i++) {
		const char *label = sh_value_string(sh_value_at(p->optional_value, i));
		sh_app *app = label ? sh_project_app(p, label) : NULL;
		if (app != NULL)
			app->optional = true;
	}
}

/* Returns the optional verdict about `label`, NULL when none. */
static const sh__verdict *sh_app__left_out_verdict(const sh_project *p, const char *label)
{
	for (size_t i = 0; i < p->verdict_count; i++)
		if (p->verdicts[i].optional && strcmp(p->verdicts[i].label, label) == 0)
			return &p->verdicts[i];
	return NULL;
}

/* Returns the app labelled `label` among every app read, NULL when none. */
static const sh_app *sh_app__any_app(const sh_project *p, const char *label)
{
	for (size_t i = 0; i < p->app_count; i++)
		if (strcmp(p->apps[i]->label, label) == 0)
			return p->apps[i];
	return NULL;
}

/*
 * Takes out of the load order (as if they were not installed) the optional
 * apps the probe found failing and every app that depends on one, in load
 * order so that a dependency is decided before its dependents; records a
 * warning for each.
 */
static void sh_app__leave_out(sh_project *p)
{
	size_t kept = 0;
	for (size_t i = 0; i < p->order_count; i++) {
		sh_app *app = p->order[i];
		const sh__verdict *v = sh_app__left_out_verdict(p, app->label);
		const char *dep = NULL;
		for (size_t k = 0; v == NULL && dep == NULL && k < app->depends_count; k++) {
			const sh_app *d = sh_app__any_app(p, app->depends[k]);
			if (d != NULL && !d->installed)
				dep = d->label;
		}
		if (v != NULL)
			sh_manifest__problem_add(&p->warnings, SH_ELOAD, NULL, 0, 0,
				"optional app '%s' left out: %s", app->label, v->text);
		else if (dep != NULL)
			sh_manifest__problem_add(&p->warnings, SH_ELOAD, NULL, 0, 0,
				"app '%s' left out: it depends on '%s', which was left out", app->label, dep);
		if (v != NULL || dep != NULL)
			app->installed = false;   /* its dependents see it */
		else
			p->order[kept++] = app;
	}
	p->order_count = kept;
}

/* Reads the manifests into the project (which holds its path). */
static int sh_app__read(sh_project *p)
{
	int rc = sh_manifest__doc_read(&p->doc, p->path, &p->problems);
	if (rc == SH_ENOMEM || p->doc == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	if (rc == 0) {
		sh_app__project_manifest_apply(p);
		sh_app__discover_apps(p);
		sh_app__resolve_apps(p);
		sh_app__mark_optional(p);
		if (p->problems.count == 0 && p->verdict_count > 0)
			sh_app__leave_out(p);
		sh_app__project_declare_models(p);
	}
	rc = sh_app__outcome(p, SH_EMANIFEST);
	p->read_ok = rc == 0;
	return rc;
}

int sh_project_read(sh_project *p, const char *path)
{
	if (p == NULL || path == NULL)
		return sh_error_set(SH_EINVAL, "sh_project_read: project and path are required");
	if (p->read_done)
		return sh_error_set(SH_EINVAL, "the project was read already");
	p->read_done = true;
	p->path = strdup(path);
	p->dir = sh_manifest__path_dir(path);
	if (p->path == NULL || p->dir == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	return sh_app__read(p);
}

/* Forgets what sh_app__read() read, keeping the path, the hub, the warnings,
 * the verdicts, and the project document (settings handed out stay valid).
 * Every field that reading fills must be reset here. */
static int sh_app__unread(sh_project *p)
{
	sh_models_free(p->models);   /* first: it may borrow from the documents */
	p->models = NULL;
	for (size_t i = 0; i < p->app_count; i++)
		sh_app__app_free(p->apps[i]);
	free(p->apps);
	free(p->order);
	for (size_t i = 0; i < p->app_doc_count; i++)
		sh_manifest__doc_free(p->app_docs[i]);
	free(p->app_docs);
	for (size_t i = 0; i < p->plugin_dir_count; i++)
		free(p->plugin_dirs[i]);
	free(p->plugin_dirs);
	free(p->plugin_dir_values);
	free(p->db_name);
	sh_manifest__problems_dispose(&p->problems);
	p->apps = p->order = NULL;
	p->app_docs = NULL;
	p->plugin_dirs = NULL;
	p->plugin_dir_values = NULL;
	p->db_name = NULL;
	p->app_count = p->order_count = p->app_doc_count = p->plugin_dir_count = 0;
	p->name = "";
	p->db_engine = NULL;
	p->db_sync = 0;   /* as sh_project_new() leaves it */
	p->db_timeout = NULL;
	p->installed_value = p->optional_value = NULL;
	p->settings = p->live.base = NULL;
	sh__doc *doc = p->doc;
	p->doc = NULL;
	int rc = sh_app__live_keep(p, doc);
	if (rc == 0)
		rc = sh_models_new(&p->models, p->hub);
	if (rc == 0)
		sh_models_set_reporter(p->models, sh_app__models_reporter, p);
	return rc;
}

int sh_app__project_reread(sh_project *p)
{
	p->read_ok = false;
	int rc = sh_app__unread(p);
	return rc < 0 ? rc : sh_app__read(p);
}

/* Returns the first dependency of `app` that is not ready, NULL when none. */
static const sh_app *sh_app__unready_dependency(const sh_project *p, const sh_app *app)
{
	for (size_t k = 0; k < app->depends_count; k++) {
		const sh_app *dep = sh_project_app(p, app->depends[k]);
		if (dep != NULL && !dep->ready)
			return dep;
	}
	return NULL;
}

/* Returns the first dependency of `app` that failed, NULL when none. */
static const sh_app *sh_app__failed_dependency(const sh_project *p, const sh_app *app)
{
	for (size_t k = 0; k < app->depends_count; k++) {
		const sh_app *dep = sh_project_app(p, app->depends[k]);
		if (dep != NULL && dep->failed)
			return dep;
	}
	return NULL;
}

/* Marks `app` failed because of `dep` and unloads what was opened of it. */
static void sh_app__skip_dependent(sh_project *p, sh_app *app, const sh_app *dep)
{
	app->failed = true;
	sh_app__app_unload(app);
	sh_manifest__problem_add(&p->problems, SH_ELOAD, NULL, 0, 0,
		"app '%s' not loaded: it depends on '%s', which failed to load",
		app->label, dep->label);
}

static void sh_app__app_failed(sh_project *p, sh_app *app, int rc)
{
	app->failed = true;
	size_t before = p->problems.count;
	sh_manifest__problem_add(&p->problems, rc, NULL, 0, 0, "plugin '%s' (%s): %s",
		app->label, app->library_path, sh_error_last()->message);
	if (p->problems.count > before)
		sh_app__probe_failed(p, app, p->problems.items[before].text);
}

/* Step 1: open every plugin, calling early(), in load order. */
static void sh_app__open_apps(sh_project *p)
{
	sh__safety cache = { NULL };
	int rc;
	for (size_t i = 0; i < p->order_count; i++) {
		sh_app *app = p->order[i];
		const sh_app *dep = sh_app__failed_dependency(p, app);
		if (app->crashed)
			app->failed = true;   /* the probe recorded why */
		else if (dep != NULL)
			sh_app__skip_dependent(p, app, dep);
		else if ((rc = sh_app__app_open(app, &cache)) < 0)
			sh_app__app_failed(p, app, rc);
	}
	sh_app__safety_dispose(&cache);
}

/* Steps 2 and 3: prepare the models (class_prepared), open the database.
 * Returns false, with a problem recorded, when either fails. */
static bool sh_app__prepare_models(sh_project *p)
{
	size_t before = p->problems.count;
	int rc = sh_models_prepare(p->models);
	if (rc < 0) {
		if (p->problems.count == before)
			sh_manifest__problem_add(&p->problems, rc, NULL, 0, 0, "models: %s",
				sh_error_last()->message);
		return false;
	}
	char *path = p->db_name ? NULL : sh_manifest__path_join(p->dir, SH_PROJECT_DEFAULT_DB);
	if (p->db_name == NULL && path == NULL) {
		p->problems.oom = true;
		return false;
	}
	rc = sh_database_open(&p->database, p->db_name ? p->db_name : path, p->models);
	free(path);
	if (rc == 0 && ((p->db_timeout != NULL && (rc = sh_database_set_timeout(p->database,
			(int)p->db_timeout->integer * 1000)) < 0)
		|| (rc = sh_database_set_sync(p->database, p->db_sync)) < 0))
		sh_database_close(p->database);
	if (rc < 0) {
		p->database = NULL;
		sh_manifest__problem_add(&p->problems, rc, NULL, 0, 0, "database: %s",
			sh_error_last()->message);
		return false;
	}
	return true;
}

/* Step 4: ready() of every app that opened, in load order. */
static void sh_app__ready_apps(sh_project *p)
{
	for (size_t i = 0; i < p->order_count; i++) {
		sh_app *app = p->order[i];
		if (app->failed)
			continue;
		const sh_app *dep = sh_app__failed_dependency(p, app);
		if (dep == NULL)
			dep = sh_app__unready_dependency(p, app);
		int rc;
		if (dep != NULL)
			sh_app__skip_dependent(p, app, dep);
		else if ((rc = sh_app__app_ready(app)) < 0)
			sh_app__app_failed(p, app, rc);
	}
}

int sh_project_load(sh_project *p)
{
	if (p == NULL || !p->read_ok)
		return sh_error_set(SH_EINVAL, "the project was not read successfully");
	if (p->load_done)
		return sh_error_set(SH_EINVAL, "the project was loaded already");
	p->load_done = true;
	if (p->probe_fatal)
		return sh_app__outcome(p, SH_ELOAD);   /* it would crash here as well */
	sh_app__open_apps(p);
	sh_app__probe_step(p, NULL, SH__STEP_MODELS);
	if (sh_app__prepare_models(p))
		sh_app__ready_apps(p);
	return sh_app__outcome(p, SH_ELOAD);
}

sh_hub *sh_project_hub(const sh_project *p)
{
	return p->hub;
}

size_t sh_project_problem_count(const sh_project *p)
{
	return p->problems.count;
}

const sh_problem *sh_project_problem(const sh_project *p, size_t index)
{
	return index < p->problems.count ? &p->problems.items[index] : NULL;
}

const char *sh_project_name(const sh_project *p)
{
	return p->name;
}

const char *sh_project_path(const sh_project *p)
{
	return p->path;
}

const sh_value *sh_project_settings(const sh_project *p)
{
	return p->settings;
}

const char *sh_project_db_engine(const sh_project *p)
{
	return p->db_engine;
}

const char *sh_project_db_name(const sh_project *p)
{
	return p->db_name;
}

sh_models *sh_project_models(const sh_project *p)
{
	return p->models;
}

sh_database *sh_project_database(const sh_project *p)
{
	return p->database;
}

size_t sh_project_app_count(const sh_project *p)
{
	return p->order_count;
}

sh_app *sh_project_app_at(const sh_project *p, size_t index)
{
	return index < p->order_count ? p->order[index] : NULL;
}

sh_app *sh_project_app(const sh_project *p, const char *label)
{
	for (size_t i = 0; i < p->order_count; i++)
		if (strcmp(p->order[i]->label, label) == 0)
			return p->order[i];
	return NULL;
}

bool sh_app_is_ready(const sh_app *app)
{
	return app->ready;
}

bool sh_app_is_optional(const sh_app *app)
{
	return app->optional;
}

unsigned sh_project_ready_timeout(const sh_project *p)
{
	return p->ready_timeout;
}

size_t sh_project_warning_count(const sh_project *p)
{
	return p->warnings.count;
}

const sh_problem *sh_project_warning(const sh_project *p, size_t index)
{
	return index < p->warnings.count ? &p->warnings.items[index] : NULL;
}

const sh_models *sh_app_models(const sh_app *app)
{
	return app->project->models;
}

int sh_app_model(const sh_model **out, const sh_app *app, const char *name)
{
	if (out == NULL || app == NULL || name == NULL)
		return sh_error_set(SH_EINVAL, "sh_app_model: out, app and name are required");
	if (strchr(name, '.') != NULL)
		return sh_models_lookup(out, app->project->models, name);
	char label[512];
	if ((size_t)snprintf(label, sizeof label, "%s.%s", app->label, name) >= sizeof label)
		return sh_error_set(SH_ENOTFOUND, "no model '%s' in app '%s'", name, app->label);
	return sh_models_lookup(out, app->project->models, label);
}

int sh_app_conn(sh_conn **out, sh_app *app)
{
	if (out == NULL || app == NULL)
		return sh_error_set(SH_EINVAL, "sh_app_conn: out and app are required");
	if (app->project->database == NULL)
		return sh_error_set(SH_EINVAL, "app '%s': the database is not open yet (it opens "
			"after early(), once the models are prepared)", app->label);
	return sh_database_connection(out, app->project->database);
}

size_t sh_app_depends_count(const sh_app *app)
{
	return app->depends_count;
}

const char *sh_app_depends_at(const sh_app *app, size_t index)
{
	return index < app->depends_count ? app->depends[index] : NULL;
}
