/*
 * paths.c: making the relative paths of manifests absolute against the
 * directory of the file that names them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manifest.h"

char *sh_manifest__path_join(const char *dir, const char *path)
{
	char *out = NULL;
	if (path[0] == '/')
		return strdup(path);
	size_t len = strlen(dir);
	bool slash = len > 0 && dir[len - 1] == '/';
	if (strcmp(path, ".") == 0)
		return strdup(dir);
	if (asprintf(&out, "%s%s%s", dir, slash ? "" : "/", path) < 0)
		return NULL;
	return out;
}

char *sh_manifest__path_dir(const char *path)
{
	char *copy = strdup(path);
	if (copy == NULL)
		return NULL;
	char *slash = strrchr(copy, '/');
	const char *dir;
	if (slash == NULL)
		dir = ".";
	else if (slash == copy)
		dir = "/";
	else {
		*slash = '\0';
		dir = copy;
	}
	char *out;
	if (dir[0] == '/') {
		out = strdup(dir);
	} else {
		char *cwd = getcwd(NULL, 0);
		out = cwd ? (strcmp(dir, ".") == 0 ? strdup(cwd) : sh_manifest__path_join(cwd, dir)) : NULL;
		free(cwd);
	}
	free(copy);
	return out;
}
