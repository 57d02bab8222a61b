/*
 * powercut_shim.c: an LD_PRELOAD library for the power-loss test
 * (powercut.c), in the manner of ALICE and LazyFS. Preloaded into
 * `sighost serve`, it lets every call through and appends to a trace, in
 * the order the calls happened, what a disk would need to know:
 *
 *   WRITE   file, offset, the bytes   write/pwrite/pwrite64 to the database,
 *                                     its -wal or its -journal
 *   TRUNC   file, size                ftruncate (and open with O_TRUNC)
 *   SYNC    file                      fsync/fdatasync of one of them
 *   UNLINK  file                      unlink of one of them
 *   SEND    socket, the bytes         what the server sends on an accepted
 *                                     connection (its HTTP answers)
 *   CLOSE   socket                    the connection is closed
 *
 * The test then builds, for any point of the trace, the files a disk could
 * hold had the power gone there: what was synced, plus any subset of the
 * later writes, torn at sector boundaries. SEND records say when each
 * answer left the server: from that point on, what it acknowledged must be
 * in every such file.
 *
 * The -shm file is not traced: SQLite maps it to memory (its writes are
 * stores, not system calls), never syncs it, and the first connection to
 * open a database after a crash truncates it and rebuilds the index from
 * the -wal file (unixLockSharedMemory), so its content after a power cut
 * never matters. The images the test builds have none.
 *
 * Environment: SIGHOST_POWERCUT_DB (the database's absolute path) and
 * SIGHOST_POWERCUT_TRACE (the trace file, appended to). Without both the
 * library only passes calls through. Only the process that loaded it
 * traces: a forked child (the plugin probe) passes calls through.
 *
 * Every traced call runs under one lock, the real call and its record
 * together (fsync included), so that the trace's order is the order in
 * which the calls took effect.
 */
/* the 64-bit names are defined here, not redirected to */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "powercut_trace.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_FD 65536

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int trace_fd = -1;
static pid_t tracer;
static char paths[PC_FILES][PATH_MAX];   /* database, -wal, -journal */
static signed char kinds[MAX_FD];        /* PC_NONE, a file, or PC_SOCKET */

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static int fault;           /* 0, 1 nosync, 2 lag */
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_unlink)(const char *);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);

#define RESOLVE(name) (real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name))

static void init(void)
{
	RESOLVE(open), RESOLVE(open64), RESOLVE(openat), RESOLVE(openat64), RESOLVE(close);
	RESOLVE(write), RESOLVE(pwrite), RESOLVE(pwrite64), RESOLVE(writev);
	RESOLVE(ftruncate), RESOLVE(ftruncate64), RESOLVE(fsync), RESOLVE(fdatasync);
	RESOLVE(unlink), RESOLVE(accept), RESOLVE(accept4), RESOLVE(send), RESOLVE(sendmsg);
	memset(kinds, PC_NONE, sizeof kinds);
	const char *db = getenv("SIGHOST_POWERCUT_DB"), *trace = getenv("SIGHOST_POWERCUT_TRACE");
	if (db == NULL || trace == NULL || db[0] != '/' || strlen(db) + 9 >= PATH_MAX)
		return;
	snprintf(paths[PC_DB], PATH_MAX, "%s", db);
	snprintf(paths[PC_WAL], PATH_MAX, "%s-wal", db);
	snprintf(paths[PC_JOURNAL], PATH_MAX, "%s-journal", db);
	const char *f = getenv("SIGHOST_POWERCUT_FAULT");
	fault = f == NULL ? 0 : strcmp(f, "nosync") == 0 ? 1 : strcmp(f, "lag") == 0 ? 2 : 0;
	trace_fd = real_open(trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	tracer = getpid();
}

/* Whether this process traces (resolving the real functions first). */
static bool tracing(void)
{
	pthread_once(&once, init);
	return trace_fd >= 0 && getpid() == tracer;
}

static int kind_of(int fd)
{
	return fd >= 0 && fd < MAX_FD ? kinds[fd] : PC_NONE;
}

static void set_kind(int fd, int kind)
{
	if (fd >= 0 && fd < MAX_FD)
		kinds[fd] = (signed char)kind;
}

/* Appends one record (under the lock); the trace must be whole, so a
 * failed write ends the process. */
static void record(uint32_t type, int32_t target, int64_t offset, const void *data, uint64_t len)
{
	pc_record r = { PC_MAGIC, type, target, offset, len };
	struct iovec iov[2] = { { &r, sizeof r }, { (void *)data, (size_t)len } };
	size_t want = sizeof r + (size_t)len;
	ssize_t n = real_writev(trace_fd, iov, data != NULL ? 2 : 1);
	if (n != (ssize_t)want && !(data == NULL && n == (ssize_t)sizeof r))
		abort();
}

/* Which traced file `path` is (PC_NONE when none). */
static int file_of(int dirfd, const char *path)
{
	char full[PATH_MAX];
	if (path == NULL)
		return PC_NONE;
	if (path[0] != '/') {
		char dir[PATH_MAX];
		if (dirfd != AT_FDCWD) {
			char link[64];
			snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
			ssize_t n = readlink(link, dir, sizeof dir - 1);
			if (n < 0)
				return PC_NONE;
			dir[n] = '\0';
		} else if (getcwd(dir, sizeof dir) == NULL) {
			return PC_NONE;
		}
		if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, path) >= sizeof full)
			return PC_NONE;
		path = full;
	}
	for (int k = 0; k < PC_FILES; k++)
		if (strcmp(path, paths[k]) == 0)
			return k;
	return PC_NONE;
}

/* After an open that returned `fd`: note a traced file, and its
 * truncation by O_TRUNC. Called with the lock held. */
static int opened(int fd, int dirfd, const char *path, int flags)
{
	if (fd < 0)
		return fd;
	int k = file_of(dirfd, path);
	set_kind(fd, k);
	if (k != PC_NONE && (flags & O_TRUNC) != 0)
		record(PC_TRUNC, k, 0, NULL, 0);
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) != 0 ? (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_BODY(call, dirfd)                                                   \
	va_list ap;                                                              \
	va_start(ap, flags);                                                     \
	mode_t mode = mode_arg(flags, ap);                                       \
	va_end(ap);                                                              \
	if (!tracing())                                                          \
		return call;                                                     \
	pthread_mutex_lock(&lock);                                               \
	int fd = opened(call, dirfd, path, flags);                               \
	pthread_mutex_unlock(&lock);                                             \
	return fd

EXPORT int open(const char *path, int flags, ...)
{
	OPEN_BODY(real_open(path, flags, mode), AT_FDCWD);
}

EXPORT int open64(const char *path, int flags, ...)
{
	OPEN_BODY(real_open64(path, flags, mode), AT_FDCWD);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	OPEN_BODY(real_openat(dirfd, path, flags, mode), dirfd);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	OPEN_BODY(real_openat64(dirfd, path, flags, mode), dirfd);
}

EXPORT int close(int fd)
{
	if (!tracing() || kind_of(fd) == PC_NONE)
		return real_close(fd);
	pthread_mutex_lock(&lock);
	if (kind_of(fd) == PC_SOCKET)
		record(PC_CLOSE, fd, 0, NULL, 0);
	set_kind(fd, PC_NONE);
	int rc = real_close(fd);
	pthread_mutex_unlock(&lock);
	return rc;
}

/* A write of `n` bytes at `offset` (-1: the descriptor's position). */
static ssize_t traced_write(int fd, const void *buf, size_t n, off_t offset,
	ssize_t (*call)(int, const void *, size_t, off_t))
{
	pthread_mutex_lock(&lock);
	int k = kind_of(fd);
	off_t at = offset >= 0 ? offset : lseek(fd, 0, SEEK_CUR);
	ssize_t got = offset >= 0 ? call(fd, buf, n, offset) : real_write(fd, buf, n);
	int saved = errno;
	if (got > 0 && k == PC_SOCKET)
		record(PC_SEND, fd, 0, buf, (uint64_t)got);
	else if (got > 0)
		record(PC_WRITE, k, (int64_t)at, buf, (uint64_t)got);
	pthread_mutex_unlock(&lock);
	errno = saved;
	return got;
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (!tracing() || kind_of(fd) == PC_NONE)
		return real_write(fd, buf, n);
	return traced_write(fd, buf, n, -1, NULL);
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t offset)
{
	if (!tracing() || kind_of(fd) == PC_NONE)
		return real_pwrite(fd, buf, n, offset);
	return traced_write(fd, buf, n, offset, real_pwrite);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t offset)
{
	if (!tracing() || kind_of(fd) == PC_NONE)
		return real_pwrite64(fd, buf, n, offset);
	return traced_write(fd, buf, n, offset, real_pwrite64);
}

/* The first `got` bytes of `iov` as one SEND record. */
static void record_sent(int fd, const struct iovec *iov, size_t count, ssize_t got)
{
	char *all = malloc(got > 0 ? (size_t)got : 1);
	if (all == NULL)
		abort();
	size_t len = 0;
	for (size_t i = 0; i < count && len < (size_t)got; i++) {
		size_t take = iov[i].iov_len < (size_t)got - len ? iov[i].iov_len : (size_t)got - len;
		memcpy(all + len, iov[i].iov_base, take);
		len += take;
	}
	record(PC_SEND, fd, 0, all, len);
	free(all);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int count)
{
	if (!tracing() || kind_of(fd) == PC_NONE)
		return real_writev(fd, iov, count);
	if (kind_of(fd) != PC_SOCKET)
		abort();   /* SQLite does not write its files this way: a trace would miss it */
	pthread_mutex_lock(&lock);
	ssize_t got = real_writev(fd, iov, count);
	int saved = errno;
	if (got > 0)
		record_sent(fd, iov, (size_t)count, got);
	pthread_mutex_unlock(&lock);
	errno = saved;
	return got;
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	if (!tracing() || kind_of(fd) != PC_SOCKET)
		return real_send(fd, buf, n, flags);
	pthread_mutex_lock(&lock);
	ssize_t got = real_send(fd, buf, n, flags);
	int saved = errno;
	if (got > 0)
		record(PC_SEND, fd, 0, buf, (uint64_t)got);
	pthread_mutex_unlock(&lock);
	errno = saved;
	return got;
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (!tracing() || kind_of(fd) != PC_SOCKET)
		return real_sendmsg(fd, msg, flags);
	pthread_mutex_lock(&lock);
	ssize_t got = real_sendmsg(fd, msg, flags);
	int saved = errno;
	if (got > 0)
		record_sent(fd, msg->msg_iov, msg->msg_iovlen, got);
	pthread_mutex_unlock(&lock);
	errno = saved;
	return got;
}

static int traced_truncate(int fd, off_t size, int (*call)(int, off_t))
{
	if (!tracing() || kind_of(fd) < 0 || kind_of(fd) >= PC_FILES)
		return call(fd, size);
	pthread_mutex_lock(&lock);
	int rc = call(fd, size);
	int saved = errno;
	if (rc == 0)
		record(PC_TRUNC, kind_of(fd), (int64_t)size, NULL, 0);
	pthread_mutex_unlock(&lock);
	errno = saved;
	return rc;
}

EXPORT int ftruncate(int fd, off_t size)
{
	pthread_once(&once, init);
	return traced_truncate(fd, size, real_ftruncate);
}

EXPORT int ftruncate64(int fd, off_t size)
{
	pthread_once(&once, init);
	return traced_truncate(fd, size, real_ftruncate64);
}

/*
 * SIGHOST_POWERCUT_FAULT makes the syncs lie, to show that the check has
 * teeth whatever the host's durability design (issue 19's mutations):
 *   nosync  a sync of a traced file does nothing and reports success (as
 *           synchronous=OFF, or a disk that ignores flushes)
 *   lag     a sync reports success at once and takes effect 50 ms later
 *           (a thread of the shim syncs a duplicate of the descriptor
 *           then): answers given meanwhile precede their fsync, as a group
 *           commit that answered before its sync would
 */
struct lagged {             /* lag: one sync still to be done */
	int fd;                 /* a dup of the synced descriptor */
	int kind;
	int (*call)(int);
};

/* lag: the sync of a lagged descriptor, 50 ms after it was asked for. */
static void *lagged_sync(void *arg)
{
	struct lagged *l = arg;
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	nanosleep(&nap, NULL);
	pthread_mutex_lock(&lock);
	if (l->call(l->fd) == 0)
		record(PC_SYNC, l->kind, 0, NULL, 0);
	pthread_mutex_unlock(&lock);
	real_close(l->fd);
	free(l);
	return NULL;
}

static int traced_sync(int fd, int (*call)(int))
{
	if (!tracing() || kind_of(fd) < 0 || kind_of(fd) >= PC_FILES)
		return call(fd);
	pthread_mutex_lock(&lock);
	if (fault == 1) {
		pthread_mutex_unlock(&lock);
		return 0;
	}
	if (fault == 2) {
		struct lagged *l = malloc(sizeof *l);
		pthread_t t;
		if (l != NULL) {
			*l = (struct lagged){ fcntl(fd, F_DUPFD_CLOEXEC, 0), kind_of(fd), call };
			if (l->fd < 0 || pthread_create(&t, NULL, lagged_sync, l) != 0) {
				if (l->fd >= 0)
					real_close(l->fd);
				free(l);
			} else {
				pthread_detach(t);
			}
		}
		pthread_mutex_unlock(&lock);
		return 0;
	}
	int rc = call(fd);
	int saved = errno;
	if (rc == 0)
		record(PC_SYNC, kind_of(fd), 0, NULL, 0);
	pthread_mutex_unlock(&lock);
	errno = saved;
	return rc;
}

EXPORT int fsync(int fd)
{
	pthread_once(&once, init);
	return traced_sync(fd, real_fsync);
}

EXPORT int fdatasync(int fd)
{
	pthread_once(&once, init);
	return traced_sync(fd, real_fdatasync);
}

EXPORT int unlink(const char *path)
{
	if (!tracing())
		return real_unlink(path);
	pthread_mutex_lock(&lock);
	int k = file_of(AT_FDCWD, path);
	int rc = real_unlink(path);
	int saved = errno;
	if (rc == 0 && k != PC_NONE)
		record(PC_UNLINK, k, 0, NULL, 0);
	pthread_mutex_unlock(&lock);
	errno = saved;
	return rc;
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	if (!tracing())
		return real_accept(fd, addr, len);
	int c = real_accept(fd, addr, len);
	set_kind(c, PC_SOCKET);
	return c;
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	if (!tracing())
		return real_accept4(fd, addr, len, flags);
	int c = real_accept4(fd, addr, len, flags);
	set_kind(c, PC_SOCKET);
	return c;
}
