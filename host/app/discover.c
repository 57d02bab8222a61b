/*
 * discover.c: finds the app manifests: every *.yaml file in the project's
 * plugin directories, in directory order and, within one directory, by
 * file name (so results never depend on readdir order).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool sh_app__is_manifest(const char *name)
{
	size_t len = strlen(name);
	return name[0] != '.' && len > 5 && strcmp(name + len - 5, ".yaml") == 0;
}

static int sh_app__by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Stores the sorted manifest file names of `dir` in *out. Returns the count,
 * or -1 when the directory cannot be read (a problem is recorded). */
static long sh_app__list_dir(sh_project *p, size_t index, char ***out)
{
	*out = NULL;
	DIR *d = opendir(p->plugin_dirs[index]);
	if (d == NULL) {
		sh_manifest__problem_at(&p->problems, SH_EIO, p->plugin_dir_values[index],
			"cannot read plugin directory %s", p->plugin_dirs[index]);
		return -1;
	}
	char **names = NULL;
	size_t count = 0, cap = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (!sh_app__is_manifest(e->d_name))
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			char **grown = realloc(names, cap * sizeof *grown);
			if (grown == NULL)
				break;
			names = grown;
		}
		if ((names[count] = strdup(e->d_name)) == NULL)
			break;
		count++;
	}
	closedir(d);
	if (count > 1)
		qsort(names, count, sizeof *names, sh_app__by_name);
	*out = names;
	return (long)count;
}

static int sh_app__keep_doc(sh_project *p, sh__doc *doc)
{
	sh__doc **grown = realloc(p->app_docs, (p->app_doc_count + 1) * sizeof *grown);
	if (grown == NULL) {
		sh_manifest__doc_free(doc);
		return -1;
	}
	p->app_docs = grown;
	p->app_docs[p->app_doc_count++] = doc;
	return 0;
}

static int sh_app__keep_app(sh_project *p, sh_app *app)
{
	sh_app **grown = realloc(p->apps, (p->app_count + 1) * sizeof *grown);
	if (grown == NULL) {
		sh_app__app_free(app);
		return -1;
	}
	p->apps = grown;
	p->apps[p->app_count++] = app;
	return 0;
}

/* Reads one manifest and keeps its document and, when valid, its app. */
static void sh_app__discover_read_manifest(sh_project *p, const char *dir, const char *name)
{
	char *path = sh_manifest__path_join(dir, name);
	sh__doc *doc = NULL;
	int rc = path ? sh_manifest__doc_read(&doc, path, &p->problems) : SH_ENOMEM;
	free(path);
	if (doc == NULL || sh_app__keep_doc(p, doc) < 0) {
		p->problems.oom = true;
		return;
	}
	if (rc == SH_ENOMEM)
		p->problems.oom = true;
	if (rc < 0)
		return;
	sh_app *app = NULL;
	if (sh_app__app_from_manifest(&app, p, doc) < 0)
		p->problems.oom = true;
	else if (app != NULL && sh_app__keep_app(p, app) < 0)
		p->problems.oom = true;
}

void sh_app__discover_apps(sh_project *p)
{
	for (size_t i = 0; i < p->plugin_dir_count; i++) {
		char **names;
		long n = sh_app__list_dir(p, i, &names);
		for (long k = 0; k < n; k++) {
			sh_app__discover_read_manifest(p, p->plugin_dirs[i], names[k]);
			free(names[k]);
		}
		free(names);
	}
}
