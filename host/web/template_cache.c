/*
 * template_cache.c: app templates (template.h): finding the file of a
 * template name under the app's templates/<label>/ folder (or the
 * project's templates/ folder) without letting a name reach outside it,
 * reading and compiling it once, and keeping it for every later render;
 * templates added from memory; and the lookup of the names that
 * {% extends %} and {% include %} give. Lookups take a read lock; a
 * template is compiled outside any lock and the first one stored wins.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/file.h"
#include "internal.h"
#include "base/utf8.h"

#define SH__TEMPLATE_MAX_SIZE (4u << 20)

typedef struct sh__cached {
	const sh_app *app;          /* NULL for a project template */
	char *name;
	sh_template *template_;
} sh__cached;

struct sh_templates {
	sh_hub *hub;
	char *dir;                  /* the project's templates folder, NULL when none */
	pthread_rwlock_t lock;
	sh__cached *items;
	size_t count;
	size_t capacity;
};

int sh_templates_new(sh_templates **out, sh_hub *hub)
{
	sh_templates *cache = calloc(1, sizeof *cache);
	if (cache == NULL || pthread_rwlock_init(&cache->lock, NULL) != 0) {
		free(cache);
		*out = NULL;
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	cache->hub = hub;
	*out = cache;
	return 0;
}

void sh_templates_free(sh_templates *cache)
{
	if (cache == NULL)
		return;
	for (size_t i = 0; i < cache->count; i++) {
		free(cache->items[i].name);
		sh_template_free(cache->items[i].template_);
	}
	free(cache->items);
	free(cache->dir);
	pthread_rwlock_destroy(&cache->lock);
	free(cache);
}

/* Refuses names that could leave the templates folder. */
static int sh_web__name_check(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return sh_error_set(SH_EINVAL, "a template name is required");
	if (strlen(name) > 1024)
		return sh_error_set(SH_EINVAL, "template name too long");
	/* the name goes into messages, logs and the sender "template:<label>/<name>"
	 * (JSON in the audit log): bytes that are not text are refused unechoed */
	if (!sh_base__utf8_valid(name, strlen(name)))
		return sh_error_set(SH_EINVAL, "a template name must be UTF-8 text");
	if (name[0] == '/')
		return sh_error_set(SH_EINVAL, "template name '%s' is absolute; give it relative to "
			"the app's templates folder", name);
	for (const char *c = name; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\')
			return sh_error_set(SH_EINVAL, "template name '%s' holds a refused character", name);
	const char *part = name;
	for (;;) {
		const char *slash = strchr(part, '/');
		size_t n = slash ? (size_t)(slash - part) : strlen(part);
		if (n == 0 || (n == 1 && part[0] == '.') || (n == 2 && part[0] == '.' && part[1] == '.'))
			return sh_error_set(SH_EINVAL, "template name '%s' has an empty, '.' or '..' part "
				"(no path traversal)", name);
		if (slash == NULL)
			return 0;
		part = slash + 1;
	}
}

/* The app's templates folder, templates/<label> beside its manifest. */
static char *sh_web__templates_dir(const sh_app *app)
{
	const char *manifest = sh_app_manifest_path(app);
	const char *slash = manifest ? strrchr(manifest, '/') : NULL;
	char *dir = NULL;
	int n = slash != NULL
		? asprintf(&dir, "%.*s/templates/%s", (int)(slash - manifest), manifest, sh_app_label(app))
		: asprintf(&dir, "templates/%s", sh_app_label(app));
	return n < 0 ? NULL : dir;
}

/* The full name of a template: "<label>/<name>" for an app's, the name
 * for the project's. */
static char *sh_web__full_name(const sh_app *app, const char *name)
{
	char *full = NULL;
	if (app == NULL)
		return strdup(name);
	return asprintf(&full, "%s/%s", sh_app_label(app), name) < 0 ? NULL : full;
}

/* "template 'x' of app 'y'" or "project template 'x'", for messages. */
static void sh_web__what(char *buf, size_t size, const sh_app *app, const char *name)
{
	if (app != NULL)
		snprintf(buf, size, "template '%s' of app '%s'", name, sh_app_label(app));
	else
		snprintf(buf, size, "project template '%s'", name);
}

/* Finds, reads and compiles app `app`'s template `name` (the project's
 * when app is NULL). */
static int sh_web__load(sh_template **out, sh_templates *cache, const sh_app *app, const char *name)
{
	char *dir = app != NULL ? sh_web__templates_dir(app) : strdup(cache->dir);
	char *path = NULL, *full = NULL, *real_dir = NULL, *real = NULL, *source = NULL;
	size_t length = 0;
	int rc = 0;
	char what[1200];
	sh_web__what(what, sizeof what, app, name);
	if (dir == NULL || asprintf(&path, "%s/%s", dir, name) < 0)
		path = NULL;
	if (path == NULL || (full = sh_web__full_name(app, name)) == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	if (rc == 0 && ((real_dir = realpath(dir, NULL)) == NULL || (real = realpath(path, NULL)) == NULL))
		rc = errno == ENOENT
			? sh_error_set(SH_ENOTFOUND, "%s not found (looked for %s)", what, path)
			: sh_error_set(SH_EIO, "cannot resolve %s: %s", path, strerror(errno));
	if (rc == 0) {
		size_t n = strlen(real_dir);
		if (strncmp(real, real_dir, n) != 0 || real[n] != '/')
			rc = sh_error_set(SH_EINVAL, "%s resolves outside %s (no path traversal)", what, dir);
	}
	if (rc == 0)
		rc = sh_base__read_regular_file(real, "template", SH__TEMPLATE_MAX_SIZE, &source, &length);
	if (rc == 0)
		rc = sh_web__template_load(out, cache->hub, full, path, source, length);
	if (rc == 0) {
		(*out)->cache = cache;
		(*out)->app = app;
	}
	free(dir);
	free(path);
	free(full);
	free(real_dir);
	free(real);
	free(source);
	return rc;
}

static sh_template *sh_web__template_cache_find(const sh_templates *cache, const sh_app *app, const char *name)
{
	for (size_t i = 0; i < cache->count; i++)
		if (cache->items[i].app == app && strcmp(cache->items[i].name, name) == 0)
			return cache->items[i].template_;
	return NULL;
}

/* Stores a freshly compiled template, or hands back the one another thread
 * stored first (freeing ours). */
static int sh_web__store(sh_templates *cache, const sh_app *app, const char *name, sh_template **t)
{
	int rc = 0;
	pthread_rwlock_wrlock(&cache->lock);
	sh_template *other = sh_web__template_cache_find(cache, app, name);
	if (other != NULL) {
		sh_template_free(*t);
		*t = other;
	} else {
		if (cache->count == cache->capacity) {
			size_t cap = cache->capacity ? cache->capacity * 2 : 16;
			sh__cached *items = realloc(cache->items, cap * sizeof *items);
			if (items != NULL) {
				cache->items = items;
				cache->capacity = cap;
			}
		}
		char *copy = strdup(name);
		if (cache->count < cache->capacity && copy != NULL)
			cache->items[cache->count++] = (sh__cached){ app, copy, *t };
		else {
			free(copy);
			rc = SH_ENOMEM;
		}
		/* cppcheck-suppress memleak ; `copy` went into cache->items, or was freed */
	}
	pthread_rwlock_unlock(&cache->lock);
	if (rc < 0) {
		sh_template_free(*t);
		*t = NULL;
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	return 0;
}

int sh_templates_set_dir(sh_templates *cache, const char *dir)
{
	if (cache == NULL)
		return sh_error_set(SH_EINVAL, "sh_templates_set_dir: a cache is required");
	char *copy = NULL;
	if (dir != NULL && (copy = strdup(dir)) == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	pthread_rwlock_wrlock(&cache->lock);
	free(cache->dir);
	cache->dir = copy;
	pthread_rwlock_unlock(&cache->lock);
	return 0;
}

int sh_templates_add(sh_templates *cache, const sh_app *app, const char *name,
	const char *source, size_t length)
{
	if (cache == NULL || (source == NULL && length > 0))
		return sh_error_set(SH_EINVAL, "sh_templates_add: a cache and a source are required");
	int rc = sh_web__name_check(name);
	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&cache->lock);
	bool there = sh_web__template_cache_find(cache, app, name) != NULL;
	pthread_rwlock_unlock(&cache->lock);
	char what[1200];
	sh_web__what(what, sizeof what, app, name);
	if (there)
		return sh_error_set(SH_EEXISTS, "%s is in the cache already", what);
	char *full = sh_web__full_name(app, name);
	if (full == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	sh_template *t = NULL;
	rc = sh_web__template_load(&t, cache->hub, full, NULL, source, length);
	free(full);
	if (rc < 0)
		return rc;
	t->cache = cache;
	t->app = app;
	sh_template *stored = t;
	if ((rc = sh_web__store(cache, app, name, &stored)) < 0)
		return rc;
	return stored == t ? 0 : sh_error_set(SH_EEXISTS, "%s is in the cache already", what);
}

int sh_web__template_find(const sh_template **out, const sh_template *from, const char *name,
	const sh_template *const *skip, size_t nskip)
{
	*out = NULL;
	if (from->cache == NULL)
		return sh_error_set(SH_EINVAL, "template '%s' was compiled from a string: it cannot "
			"name other templates (load it through a template cache)", from->name);
	sh_templates *cache = from->cache;
	const sh_app *places[2] = { from->app, NULL };
	size_t first = from->app != NULL ? 0 : 1;
	pthread_rwlock_rdlock(&cache->lock);
	size_t last = cache->dir != NULL ? 2 : 1;
	pthread_rwlock_unlock(&cache->lock);
	bool skipped = false;
	char looked[2048] = "";
	for (size_t k = first; k < last; k++) {
		const sh_template *t = NULL;
		int rc = sh_templates_get(&t, cache, places[k], name);
		if (rc == SH_ENOTFOUND) {
			size_t n = strlen(looked);
			snprintf(looked + n, sizeof looked - n, "%s%s", n > 0 ? "; " : "",
				sh_error_last()->message);
			continue;
		}
		if (rc < 0)
			return rc;
		bool seen = false;
		for (size_t i = 0; i < nskip && !seen; i++)
			seen = skip[i] == t;
		if (!seen) {
			*out = t;
			return 0;
		}
		skipped = true;
	}
	if (skipped)
		return SH_EEXISTS;
	return sh_error_set(SH_ENOTFOUND, "%s", looked[0] != '\0' ? looked
		: "no templates folder to look in");
}

int sh_templates_get(const sh_template **out, sh_templates *cache, const sh_app *app,
	const char *name)
{
	if (out == NULL || cache == NULL)
		return sh_error_set(SH_EINVAL, "sh_templates_get: out and cache are required");
	if (app == NULL) {
		pthread_rwlock_rdlock(&cache->lock);
		bool dir = cache->dir != NULL;
		pthread_rwlock_unlock(&cache->lock);
		if (!dir)
			return sh_error_set(SH_EINVAL, "sh_templates_get: an app is required (the cache "
				"has no project templates folder)");
	}
	*out = NULL;
	int rc = sh_web__name_check(name);
	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&cache->lock);
	sh_template *t = sh_web__template_cache_find(cache, app, name);
	pthread_rwlock_unlock(&cache->lock);
	if (t == NULL) {
		if ((rc = sh_web__load(&t, cache, app, name)) < 0)
			return rc;
		if ((rc = sh_web__store(cache, app, name, &t)) < 0)
			return rc;
	}
	*out = t;
	return 0;
}
