/*
 * scratch.c: the scratch directory of scratch.h.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scratch.h"

static char dir[128];
static char joined[512];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void remove_scratch(void)
{
	if (dir[0] != '\0')
		nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_scratch(const char *name)
{
	snprintf(dir, sizeof dir, "%s/sighost-fuzz-%s-XXXXXX",
		access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", name);
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(remove_scratch);
	return dir;
}

const char *fuzz_path(const char *rel)
{
	snprintf(joined, sizeof joined, "%s/%s", dir, rel);
	return joined;
}

void fuzz_write(const char *rel, const void *data, size_t size)
{
	FILE *f = fopen(fuzz_path(rel), "wb");
	if (f == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();
}

void fuzz_write_text(const char *rel, const char *text)
{
	fuzz_write(rel, text, strlen(text));
}

void fuzz_mkdir(const char *rel)
{
	if (mkdir(fuzz_path(rel), 0755) != 0)
		abort();
}
