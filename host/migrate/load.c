/*
 * load.c: loading a project's migrations (Django's MigrationLoader): each
 * installed app's migrations folder, each file in it, the graph, and a
 * replay of every operation on an empty state that checks what the
 * operations name; then what the graph answers about them (migrate.h).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

void sh_migrate__problem_where(sh__problems *problems, int code, const char *where,
	const char *fmt, ...)
{
	char message[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	char file[4096];
	unsigned line = 0, column = 0;
	if (where != NULL && sh_base__where_split(where, file, sizeof file, &line, &column))
		sh_manifest__problem_add(problems, code, file, line, column, "%s", message);
	else
		sh_manifest__problem_add(problems, code, where, 0, 0, "%s", message);
}

/* ---- reading the folders ---- */

/* The app's migrations folder: the manifest's `migrations`, relative to
 * the manifest's directory. */
static int sh_migrate__app_dir(sh__gapp *a)
{
	const char *rel = sh_value_path_string(sh_app_manifest(a->app), "migrations", NULL);
	if (rel == NULL)
		return 0;
	char *dir = sh_manifest__path_dir(sh_app_manifest_path(a->app));
	a->dir = dir ? sh_manifest__path_join(dir, rel) : NULL;
	free(dir);
	if (a->dir == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	/* "plugins/../migrations/x" reads better as "migrations/x" in messages. */
	char *real = realpath(a->dir, NULL);
	if (real != NULL) {
		free(a->dir);
		a->dir = real;
	}
	return 0;
}

static int sh_migrate__by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the migration files in `dir`, sorted ("0001_initial.yaml"). */
static int sh_migrate__list(char ***out, size_t *count, const char *dir)
{
	*out = NULL;
	*count = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT || errno == ENOTDIR ? 0 : sh_error_set(SH_EIO, "cannot read "
			"the migrations folder %s: %s", dir, strerror(errno));
	size_t capacity = 0;
	int rc = 0;
	for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
		size_t n = strlen(e->d_name);
		/* Django skips names starting with '_' or '~'; editors leave '.' files. */
		if (n <= 5 || strcmp(e->d_name + n - 5, ".yaml") != 0 || e->d_name[0] == '.'
				|| e->d_name[0] == '_' || e->d_name[0] == '~')
			continue;
		char *name = strdup(e->d_name);
		if (name == NULL || sh_migrate__push((void ***)out, count, &capacity, name) < 0) {
			free(name);
			rc = sh_error_set(SH_ENOMEM, "out of memory");
		}
	}
	closedir(d);
	if (rc == 0 && *count > 1)
		qsort(*out, *count, sizeof **out, sh_migrate__by_name);
	return rc;
}

static int sh_migrate__load_app(sh_migrate_graph *g, sh__gapp *a)
{
	int rc = sh_migrate__app_dir(a);
	if (rc < 0 || a->dir == NULL)
		return rc;
	char **names;
	size_t n;
	if ((rc = sh_migrate__list(&names, &n, a->dir)) < 0) {
		sh_manifest__problem_add(&g->problems, rc, a->dir, 0, 0, "%s", sh_error_last()->message);
		return rc == SH_ENOMEM ? rc : 0;
	}
	a->migrations = calloc(n ? n : 1, sizeof *a->migrations);
	if (a->migrations == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char *path = sh_base__format("%s/%s", a->dir, names[i]);
		names[i][strlen(names[i]) - 5] = '\0';
		sh__migration *m = NULL;
		if (path == NULL)
			rc = sh_error_set(SH_ENOMEM, "out of memory");
		else if (!sh_migrate__migration_name_ok(names[i]))
			sh_manifest__problem_add(&g->problems, SH_EMANIFEST, path, 0, 0, "'%s' is not a valid "
				"migration name: use letters, digits and '_' (0002_alert_priority.yaml)",
				names[i]);
		else
			rc = sh_migrate__migration_read(&m, path, a->label, names[i], &g->problems);
		if (m != NULL) {
			a->migrations[a->count++] = m;
			rc = sh_migrate__push((void ***)&g->all, &g->count, &g->capacity, m);
		}
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* ---- states ---- */

int sh_migrate__graph_state(sh_state **out, const sh_migrate_graph *g, const bool *applied)
{
	*out = NULL;
	sh_state *s;
	int rc = sh_migrate__state_new(&s, g->hub);
	if (rc < 0)
		return rc;
	sh__problems scratch = { 0 };
	for (size_t i = 0; rc == 0 && i < g->app_count; i++)
		if (g->apps[i].count == 0)
			rc = sh_migrate__state_add_manifest(s, g->apps[i].app, true, &scratch);
	sh_manifest__problems_dispose(&scratch);
	for (size_t i = 0; rc == 0 && g->order != NULL && i < g->count; i++) {
		const sh__migration *m = g->order[i];
		if (applied != NULL && !applied[m->index])
			continue;
		for (size_t k = 0; rc == 0 && k < m->op_count; k++)
			rc = sh_migrate__op_state_forwards(&m->ops[k], m->app_label, s, NULL);
	}
	if (rc < 0) {
		sh_migrate__state_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Replays every migration in order on the state of the apps without
 * migrations, recording the first problem; then renders the result. */
static int sh_migrate__replay(sh_migrate_graph *g)
{
	sh_state *s;
	int rc = sh_migrate__state_new(&s, g->hub);
	if (rc < 0)
		return rc;
	sh__problems scratch = { 0 };
	for (size_t i = 0; rc == 0 && i < g->app_count; i++)
		if (g->apps[i].count == 0)
			rc = sh_migrate__state_add_manifest(s, g->apps[i].app, true, &scratch);
	sh_manifest__problems_dispose(&scratch);
	for (size_t i = 0; rc == 0 && i < g->count; i++) {
		const sh__migration *m = g->order[i];
		for (size_t k = 0; rc == 0 && k < m->op_count; k++)
			rc = sh_migrate__op_state_forwards(&m->ops[k], m->app_label, s, &g->problems);
	}
	if (rc == SH_EMANIFEST) {
		sh_migrate__state_free(s);
		return 0;
	}
	g->final = s;
	return rc;
}

/* An app without migrations cannot point at a model of an app with
 * migrations: its tables are made before any migration runs. */
static void sh_migrate__check_unmigrated(sh_migrate_graph *g)
{
	const sh_state *s = g->final;
	for (size_t i = 0; s != NULL && i < s->count; i++) {
		const sh__smodel *m = s->models[i];
		if (!m->unmigrated)
			continue;
		for (size_t k = 0; k < m->fields.count; k++) {
			const sh_field_decl *f = &m->fields.items[k];
			const char *targets[2] = { f->to, f->through };
			for (size_t t = 0; t < 2; t++) {
				const char *dot = targets[t] ? strchr(targets[t], '.') : NULL;
				if (dot == NULL)
					continue;
				char app[256];
				snprintf(app, sizeof app, "%.*s", (int)(dot - targets[t]), targets[t]);
				const sh__gapp *a = sh_migrate__graph_app(g, app);
				if (a == NULL || a->count == 0)
					continue;
				/* An app with a migrations folder but no migration yet is
				 * waiting for its first one (Django's 0001_initial with the
				 * dependency): makemigrations writes it, migrate refuses
				 * until then. */
				const sh__gapp *own = sh_migrate__graph_app(g, m->app_label);
				if (own != NULL && own->dir != NULL) {
					sh_migrate__problem_where(&g->pending, SH_EMANIFEST, f->where, "%s.%s.%s points "
						"at %s, a model of an app with migrations, and app '%s' has no "
						"migration yet: run 'sighost makemigrations %s'", m->app_label,
						m->name, f->name, targets[t], m->app_label, m->app_label);
					continue;
				}
				sh_migrate__problem_where(&g->problems, SH_EMANIFEST, f->where, "%s.%s.%s points at "
					"%s, a model of an app with migrations, but app '%s' has none: give it a "
					"migrations folder (sighost makemigrations %s)", m->app_label, m->name,
					f->name, targets[t], m->app_label, m->app_label);
			}
		}
	}
}

int sh_migrate_load(sh_migrate_graph **out, sh_project *project)
{
	if (out == NULL || project == NULL)
		return sh_error_set(SH_EINVAL, "sh_migrate_load: out and project are required");
	*out = NULL;
	if (!sh_app__project_was_read(project))
		return sh_error_set(SH_EINVAL, "sh_migrate_load: the project was not read successfully");
	sh_migrate_graph *g = calloc(1, sizeof *g);
	if (g == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	g->project = project;
	int rc = sh_hub_new(&g->hub);
	size_t n = sh_project_app_count(project);
	if (rc == 0 && (g->apps = calloc(n ? n : 1, sizeof *g->apps)) == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		sh__gapp *a = &g->apps[g->app_count++];
		a->app = sh_project_app_at(project, i);
		a->label = sh_app_label(a->app);
		rc = sh_migrate__load_app(g, a);
	}
	if (rc == 0 && g->problems.count == 0)
		rc = sh_migrate__graph_build(g);
	if (rc == 0 && g->problems.count == 0)
		rc = sh_migrate__replay(g);
	if (rc == 0 && g->problems.count == 0)
		sh_migrate__check_unmigrated(g);
	if (rc == 0 && g->problems.count == 0) {
		sh_models *r;
		if (sh_migrate__state_render(&r, g->final) < 0) {
			if (sh_error_last()->code == SH_ENOMEM)
				rc = SH_ENOMEM;
			else
				sh_migrate__problem_where(&g->problems, SH_EMANIFEST, NULL, "the models the migrations "
					"make are not valid: %s", sh_error_last()->message);
		}
	}
	if (rc == 0 && g->problems.oom)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	if (rc == SH_ENOMEM) {
		sh_migrate_free(g);
		return rc;
	}
	*out = g;
	if (g->problems.count > 0)
		return sh_error_set(SH_EMANIFEST, "%s", g->problems.items[0].text);
	return rc;
}

void sh_migrate_free(sh_migrate_graph *g)
{
	if (g == NULL)
		return;
	sh_migrate__state_free(g->final);
	for (size_t i = 0; i < g->count; i++)
		sh_migrate__migration_free(g->all[i]);
	free(g->all);
	free(g->order);
	for (size_t i = 0; i < g->app_count; i++) {
		free(g->apps[i].dir);
		free(g->apps[i].migrations);
	}
	free(g->apps);
	sh_manifest__problems_dispose(&g->problems);
	sh_manifest__problems_dispose(&g->pending);
	sh_hub_free(g->hub);
	free(g);
}

size_t sh_migrate_pending_count(const sh_migrate_graph *g)
{
	return g ? g->pending.count : 0;
}

const sh_problem *sh_migrate_pending(const sh_migrate_graph *g, size_t index)
{
	return g && index < g->pending.count ? &g->pending.items[index] : NULL;
}

size_t sh_migrate_problem_count(const sh_migrate_graph *g)
{
	return g ? g->problems.count : 0;
}

const sh_problem *sh_migrate_problem(const sh_migrate_graph *g, size_t index)
{
	return g && index < g->problems.count ? &g->problems.items[index] : NULL;
}

/* ---- what was loaded ---- */

bool sh_migrate_app_migrated(const sh_migrate_graph *g, const char *label)
{
	const sh__gapp *a = g && label ? sh_migrate__graph_app(g, label) : NULL;
	return a != NULL && a->count > 0;
}

const char *sh_migrate_app_dir(const sh_migrate_graph *g, const char *label)
{
	const sh__gapp *a = g && label ? sh_migrate__graph_app(g, label) : NULL;
	return a ? a->dir : NULL;
}

size_t sh_migrate_count(const sh_migrate_graph *g, const char *label)
{
	if (g == NULL)
		return 0;
	if (label == NULL)
		return g->count;
	const sh__gapp *a = sh_migrate__graph_app(g, label);
	return a ? a->count : 0;
}

/* Migration `index` of app `label` (of all, apps in load order, when NULL). */
static const sh__migration *sh_migrate__nth(const sh_migrate_graph *g, const char *label, size_t index)
{
	for (size_t i = 0; i < g->app_count; i++) {
		const sh__gapp *a = &g->apps[i];
		if (label != NULL && strcmp(a->label, label) != 0)
			continue;
		if (index < a->count)
			return a->migrations[index];
		if (label != NULL)
			return NULL;
		index -= a->count;
	}
	return NULL;
}

int sh_migrate_at(sh_migration_info *out, const sh_migrate_graph *g, const char *label,
	size_t index)
{
	const sh__migration *m = out && g ? sh_migrate__nth(g, label, index) : NULL;
	if (m == NULL)
		return sh_error_set(SH_ENOTFOUND, "no migration %zu%s%s", index, label ? " in app " : "",
			label ? label : "");
	*out = (sh_migration_info){ m->app_label, m->name, m->path, m->dep_count, m->op_count,
		m->initial, m->applied };
	return 0;
}

int sh_migrate_describe(char *buf, size_t size, const sh_migrate_graph *g, const char *label,
	const char *name, size_t op)
{
	const sh__gapp *a = g && label && name ? sh_migrate__graph_app(g, label) : NULL;
	for (size_t i = 0; a != NULL && i < a->count; i++)
		if (strcmp(a->migrations[i]->name, name) == 0 && op < a->migrations[i]->op_count)
			return sh_migrate__op_describe(buf, size, &a->migrations[i]->ops[op]);
	return sh_error_set(SH_ENOTFOUND, "no operation %zu in migration %s.%s", op,
		label ? label : "?", name ? name : "?");
}
