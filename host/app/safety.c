/*
 * safety.c: the host's StrictModes. Code is loaded only from a file that
 * no other user could have written or swapped: the file and the directory
 * holding it must belong to root or to the host's own user and must not be
 * writable by group or others; a directory further up may be writable by
 * others only when its sticky bit keeps them from renaming what is in it
 * (as /tmp), and must belong to root or the host's user too.
 *
 * Plugins come in batches from a few directories, so the last directory
 * found safe is remembered (sh__safety): the next file in it costs one
 * lstat, not a walk up to the root. The cache lives for one load pass.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static const char *sh_app__who_writes(mode_t mode)
{
	if ((mode & S_IWGRP) && (mode & S_IWOTH))
		return "group and others";
	return (mode & S_IWGRP) ? "group" : "others";
}

/* Checks one path; `kind` is "file" or "directory"; `near` for the file
 * and its own directory, where a sticky bit excuses nothing. */
static int sh_app__safety_check(const char *path, const struct stat *st, const char *kind, bool near)
{
	uid_t me = geteuid();
	if (st->st_uid != 0 && st->st_uid != me)
		return sh_error_set(SH_EPERM,
			"bad ownership for %s %s: owned by uid %u, not by root or the host's user (uid %u)",
			kind, path, (unsigned)st->st_uid, (unsigned)me);
	mode_t writable = st->st_mode & (S_IWGRP | S_IWOTH);
	if (writable == 0 || (!near && (st->st_mode & S_ISVTX)))
		return 0;
	return sh_error_set(SH_EPERM,
		"bad modes for %s %s: writable by %s (mode %04o); fix with chmod go-w %s",
		kind, path, sh_app__who_writes(st->st_mode), (unsigned)(st->st_mode & 07777), path);
}

static int sh_app__check_file(const char *real, const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return sh_error_set(SH_ELOAD, "%s is not a regular file", real);
	return sh_app__safety_check(real, st, "file", true);
}

/* Checks the directory `dir` (absolute, resolved) and every one above it. */
static int sh_app__check_dirs(const char *dir)
{
	char *walk = strdup(dir);
	if (walk == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	int rc = 0;
	bool near = true;
	for (;;) {
		struct stat st;
		if (stat(walk, &st) != 0)
			rc = sh_error_set(SH_EIO, "cannot stat %s: %s", walk, strerror(errno));
		else
			rc = sh_app__safety_check(walk, &st, "directory", near);
		char *slash = strrchr(walk, '/');
		if (rc < 0 || slash == NULL || strcmp(walk, "/") == 0)
			break;
		if (slash == walk)
			slash[1] = '\0';
		else
			*slash = '\0';
		near = false;
	}
	free(walk);
	return rc;
}

/* The slow path: resolve every link, then check the file and all above. */
static int sh_app__check_resolved(const char *path, sh__safety *cache)
{
	char *real = realpath(path, NULL);
	if (real == NULL) {
		int err = errno;
		if (err == ENOENT)
			return sh_error_set(SH_ENOTFOUND, "file not found");
		return sh_error_set(SH_EIO, "cannot resolve %s: %s", path, strerror(err));
	}
	struct stat st;
	int rc;
	if (stat(real, &st) != 0)
		rc = sh_error_set(SH_EIO, "cannot stat %s: %s", real, strerror(errno));
	else
		rc = sh_app__check_file(real, &st);
	char *slash = strrchr(real, '/');
	if (rc == 0) {
		if (slash == real)
			slash[1] = '\0';
		else
			*slash = '\0';
		rc = sh_app__check_dirs(real);
	}
	free(real);
	if (rc == 0 && cache != NULL) {
		/* Remember the directory as named and as resolved. */
		free(cache->dir);
		cache->dir = sh_manifest__path_dir(path);
	}
	return rc;
}

int sh_app__path_is_safe(const char *path, sh__safety *cache)
{
	const char *slash = strrchr(path, '/');
	if (cache == NULL || cache->dir == NULL || slash == NULL
			|| strlen(cache->dir) != (size_t)(slash - path)
			|| strncmp(cache->dir, path, (size_t)(slash - path)) != 0)
		return sh_app__check_resolved(path, cache);
	struct stat st;
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return sh_error_set(SH_ENOTFOUND, "file not found");
		return sh_error_set(SH_EIO, "cannot stat %s: %s", path, strerror(errno));
	}
	if (S_ISLNK(st.st_mode))
		return sh_app__check_resolved(path, NULL);
	return sh_app__check_file(path, &st);
}

void sh_app__safety_dispose(sh__safety *cache)
{
	free(cache->dir);
	cache->dir = NULL;
}
