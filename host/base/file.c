/*
 * file.c: sh_base__read_regular_file() (file.h).
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sighost/error.h>

int sh_base__read_regular_file(const char *path, const char *what, size_t max, char **out,
	size_t *length)
{
	*out = NULL;
	*length = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return sh_error_set(errno == ENOENT ? SH_ENOTFOUND : SH_EIO, "cannot read %s %s: %s",
			what, path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return sh_error_set(SH_EIO, "cannot read %s %s: not a regular file", what, path);
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return sh_error_set(SH_EIO, "cannot read %s %s: %lld bytes, more than the %zu allowed",
			what, path, (long long)st.st_size, max);
	}
	size_t cap = (size_t)st.st_size + 1;
	char *data = malloc(cap + 1);
	if (data == NULL) {
		close(fd);
		return sh_error_set(SH_ENOMEM, "out of memory reading %s", path);
	}
	/* read one byte past the size to see a file that grew past the bound */
	size_t got = 0;
	while (got < cap) {
		ssize_t n = read(fd, data + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			close(fd);
			free(data);
			return sh_error_set(SH_EIO, "cannot read %s %s: %s", what, path, strerror(err));
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got > max) {
		free(data);
		return sh_error_set(SH_EIO, "cannot read %s %s: more than the %zu bytes allowed", what,
			path, max);
	}
	data[got] = '\0';
	*out = data;
	*length = got;
	return 0;
}
