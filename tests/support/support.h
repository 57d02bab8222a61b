/*
 * support.h: helpers shared by the tests of tests/app and tests/e2e: a
 * scratch directory per test, writing and copying files into it, and
 * running the sighost binary with its output captured.
 */
#ifndef SH_TEST_SUPPORT_H
#define SH_TEST_SUPPORT_H

#include <stddef.h>
#include <sys/types.h>

/* Creates a new directory under /tmp (mode 0700) and returns its path,
 * owned by the caller (free()). Fails the test on error. */
char *t_mkdtemp(void);

/* Removes a directory tree made by the tests (best effort). */
void t_rmtree(const char *dir);

/* Writes `text` to dir/name (creating subdirectories is the caller's job)
 * and returns the path, owned by the caller. Fails the test on error. */
char *t_write(const char *dir, const char *name, const char *text);

/* Copies the file `from` to dir/name with `mode`; returns the new path,
 * owned by the caller. Fails the test on error. */
char *t_copy(const char *from, const char *dir, const char *name, mode_t mode);

/* Returns the value of environment variable `name`; fails the test when
 * it is unset (meson sets them, see the meson.build files of tests/). */
const char *t_env(const char *name);

/* Returns dir/name, newly allocated. */
char *t_path(const char *dir, const char *name);

/* Reads a whole file into a new NUL-terminated string ("" when missing). */
char *t_read(const char *path);

/* The captured result of a run of the sighost binary. */
typedef struct t_run {
	int status;      /* exit status, or 128 + signal number */
	char *out;       /* stdout, owned */
	char *err;       /* stderr, owned */
} t_run;

/*
 * Runs $SIGHOST_BIN with the NULL-terminated arguments in `argv` (without
 * the program name) in the working directory `cwd` (NULL: unchanged), with
 * `env_settings` as SIGHOST_SETTINGS (NULL: unset). Fails the test when it
 * cannot run.
 */
t_run t_sighost(const char *cwd, const char *env_settings, const char *const *argv);

/*
 * t_sighost() with a deadline: when the run has not ended `seconds` after
 * it started (ten times that under a SIGHOST_WRAPPER such as valgrind),
 * its process group is killed with SIGKILL and the test fails with a
 * message naming the command and the deadline, and with what it printed.
 */
t_run t_sighost_within(const char *cwd, const char *env_settings, const char *const *argv,
	double seconds);

/* Frees what a run captured. */
void t_run_free(t_run *run);

/*
 * In a child about to become sighost: execs argv (argv[0] the binary,
 * NULL-terminated). When SIGHOST_WRAPPER is set (`meson test --setup
 * valgrind`), its words (separated by spaces) come first, so the binary
 * runs under that command. Returns only when exec failed.
 */
void t_exec(const char *const *argv);

/* Counts the lines of `text`. */
size_t t_lines(const char *text);

/* The resident set of process `pid` in KiB (/proc/PID/status VmRSS), -1
 * when unknown. */
long t_rss_kib(pid_t pid);

#endif
