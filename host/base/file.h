/*
 * file.h: reading a whole file that must be a regular file of bounded
 * size (manifests, migration files, templates): never blocks on a FIFO or
 * a device someone put in its place, never reads past the bound even if
 * the file grows meanwhile.
 */
#ifndef SH_BASE_FILE_H
#define SH_BASE_FILE_H

#include <stddef.h>

/*
 * Reads the regular file at `path` into *out (NUL-terminated, free with
 * free()), its length in *length. The file is opened with O_NONBLOCK, so a
 * FIFO or device at `path` is refused at once instead of blocking the
 * caller. Returns 0; SH_ENOTFOUND when it does not exist; SH_EIO (with
 * `what` and the path in the message) when it cannot be opened or read,
 * is not a regular file, or holds more than `max` bytes; SH_ENOMEM.
 */
int sh_base__read_regular_file(const char *path, const char *what, size_t max, char **out,
	size_t *length);

#endif
