/*
 * support.c: the helpers of support.h.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

char *t_mkdtemp(void)
{
	char *dir = strdup("/tmp/sighost-test-XXXXXX");
	cr_assert_not_null(dir);
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	return dir;
}

static int t_unlink_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	chmod(path, 0700);
	return remove(path);
}

void t_rmtree(const char *dir)
{
	if (dir != NULL)
		nftw(dir, t_unlink_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *t_path(const char *dir, const char *name)
{
	char *path = NULL;
	cr_assert_geq(asprintf(&path, "%s/%s", dir, name), 0);
	return path;
}

char *t_write(const char *dir, const char *name, const char *text)
{
	char *path = t_path(dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
	return path;
}

char *t_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	cr_assert_not_null(out);
	if (f != NULL) {
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, f)) > 0)
			fwrite(buf, 1, n, out);
		fclose(f);
	}
	fclose(out);
	return text;
}

char *t_copy(const char *from, const char *dir, const char *name, mode_t mode)
{
	char *path = t_path(dir, name);
	int in = open(from, O_RDONLY);
	cr_assert_geq(in, 0, "cannot open %s: %s", from, strerror(errno));
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(out, 0, "cannot create %s: %s", path, strerror(errno));
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		cr_assert_eq(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	cr_assert_eq(chmod(path, mode), 0);
	return path;
}

const char *t_env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v != NULL && v[0] != '\0', "environment variable %s is not set", name);
	return v;
}

t_run t_sighost(const char *cwd, const char *env_settings, const char *const *argv)
{
	return t_sighost_within(cwd, env_settings, argv, 0);
}

static double t_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

t_run t_sighost_within(const char *cwd, const char *env_settings, const char *const *argv,
	double seconds)
{
	const char *bin = t_env("SIGHOST_BIN");
	char out_path[] = "/tmp/sighost-out-XXXXXX", err_path[] = "/tmp/sighost-err-XXXXXX";
	int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
	cr_assert(out_fd >= 0 && err_fd >= 0);
	size_t argc = 0;
	while (argv[argc] != NULL)
		argc++;
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		const char **args = calloc(argc + 2, sizeof *args);
		args[0] = bin;
		memcpy(args + 1, argv, argc * sizeof *args);
		dup2(out_fd, 1);
		dup2(err_fd, 2);
		if (seconds > 0)
			setpgid(0, 0);   /* so that a deadline kills its children too */
		if (cwd != NULL && chdir(cwd) != 0)
			_exit(126);
		if (env_settings != NULL)
			setenv("SIGHOST_SETTINGS", env_settings, 1);
		else
			unsetenv("SIGHOST_SETTINGS");
		t_exec(args);
		_exit(127);
	}
	int status;
	bool late = false;
	if (seconds > 0) {
		const char *wrapper = getenv("SIGHOST_WRAPPER");
		double limit = wrapper != NULL && wrapper[0] != '\0' ? 10 * seconds : seconds;
		double end = t_now() + limit;
		pid_t got;
		while ((got = waitpid(pid, &status, WNOHANG)) == 0 && !(late = t_now() > end)) {
			struct timespec nap = { 0, 10 * 1000 * 1000 };
			nanosleep(&nap, NULL);
		}
		if (late) {
			kill(-pid, SIGKILL);
			got = waitpid(pid, &status, 0);
		}
		cr_assert_eq(got, pid);
		seconds = limit;
	} else {
		cr_assert_eq(waitpid(pid, &status, 0), pid);
	}
	close(out_fd);
	close(err_fd);
	t_run run = { 0, t_read(out_path), t_read(err_path) };
	if (late) {
		unlink(out_path);
		unlink(err_path);
		cr_assert_fail("sighost %s did not end within its deadline of %.0f s (killed)\n"
			"stdout:\n%s\nstderr:\n%s", argv[0] ? argv[0] : "", seconds, run.out, run.err);
	}
	unlink(out_path);
	unlink(err_path);
	run.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return run;
}

void t_exec(const char *const *argv)
{
	const char *wrapper = getenv("SIGHOST_WRAPPER");
	if (wrapper == NULL || wrapper[0] == '\0') {
		execv(argv[0], (char *const *)argv);
		return;
	}
	size_t argc = 0, words = 0;
	while (argv[argc] != NULL)
		argc++;
	char *copy = strdup(wrapper);
	const char **all = calloc(strlen(wrapper) / 2 + 2 + argc, sizeof *all);
	if (copy == NULL || all == NULL)
		return;
	char *save = NULL;
	for (char *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
		all[words++] = w;
	memcpy(all + words, argv, (argc + 1) * sizeof *all);
	execvp(all[0], (char *const *)all);
}

void t_run_free(t_run *run)
{
	free(run->out);
	free(run->err);
	run->out = run->err = NULL;
}

size_t t_lines(const char *text)
{
	size_t n = 0;
	for (; *text != '\0'; text++)
		n += *text == '\n';
	return n;
}

long t_rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kib = -1;
	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kib;
}
