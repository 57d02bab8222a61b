/*
 * slowsync.c: an LD_PRELOAD library for crashkill.c's kill between a
 * commit and its sync. Preloaded into `sighost serve`, it makes every
 * fsync and fdatasync of a file whose name ends in "-wal" (SQLite's
 * write-ahead log) wait SIGHOST_SLOWSYNC_MS milliseconds before the real
 * call, so that commits sit written but not yet durable for that long: a
 * test can see them committed (another connection reads them) and kill
 * the server inside that window. Everything else passes straight through.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* Waits before syncing `fd` when it is a -wal file. */
static void slow_if_wal(int fd)
{
	const char *ms = getenv("SIGHOST_SLOWSYNC_MS");
	if (ms == NULL)
		return;
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n < 4 || memcmp(path + n - 4, "-wal", 4) != 0)
		return;
	long wait = strtol(ms, NULL, 10);
	struct timespec nap = { wait / 1000, (wait % 1000) * 1000000L };
	while (nanosleep(&nap, &nap) != 0)
		;
}

EXPORT int fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	slow_if_wal(fd);
	return real(fd);
}

EXPORT int fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	slow_if_wal(fd);
	return real(fd);
}
