/*
 * tutorial.c: runs docs/tutorial.md as written: every ```sh block, in
 * order, in one bash (set -euo pipefail) with HOME a scratch directory
 * holding a copy of the source tree (build directories left out), so the
 * tutorial's install, startapp, build, migrations, server, JSON API and
 * test of one's own plugin all run for real. Each block's time is printed
 * (the walk-through quotes them). Slow (a full build into the
 * tutorial's prefix): suite `docs`.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/support.h"

/* A free loopback port (bound to 0, read, closed). */
static unsigned free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* The script: each ```sh block, timed, its number echoed first. */
static char *script_of(const char *page, size_t *blocks)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	fprintf(out, "set -euo pipefail\nstep() { echo \"=== step $1: $(( $(date +%%s%%N) / 1000000 - "
		"T0 )) ms\" >>\"$HOME/timings\"; T0=$(( $(date +%%s%%N) / 1000000 )); }\n"
		"T0=$(( $(date +%%s%%N) / 1000000 ))\n");
	*blocks = 0;
	for (const char *p = strstr(page, "\n```sh\n"); p != NULL; p = strstr(p, "\n```sh\n")) {
		p += 7;
		const char *end = strstr(p, "\n```\n");
		cr_assert_not_null(end, "an unterminated sh block");
		fprintf(out, "echo '### block %zu'\n%.*s\nstep %zu\n", *blocks + 1, (int)(end - p), p,
			*blocks + 1);
		(*blocks)++;
		p = end;
	}
	fclose(out);
	return text;
}

Test(docs, the_tutorial_runs_as_written, .timeout = 3600)
{
	const char *src = t_env("SIGHOST_SOURCE_ROOT");
	char *page_path = t_path(src, "docs/tutorial.md"), *page = t_read(page_path);
	size_t blocks;
	char *script = script_of(page, &blocks);
	cr_assert_geq(blocks, 9, "the tutorial has %zu sh blocks", blocks);
	char *home = t_mkdtemp();
	free(t_write(home, "tutorial.sh", script));
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "mkdir '%s/sighost' && tar -C '%s' --exclude='./build*' "
		"--exclude=./.git -cf - . | tar -C '%s/sighost' -xf -", home, src, home);
	cr_assert_eq(system(cmd), 0, "copying the source tree failed");
	snprintf(cmd, sizeof cmd, "cd '%s' && env -u SIGHOST_SETTINGS -u LD_LIBRARY_PATH "
		"-u PKG_CONFIG_PATH HOME='%s' PORT=%u bash tutorial.sh >'%s/out.log' 2>&1", home, home,
		free_port(), home);
	int rc = system(cmd);
	char *log_path = t_path(home, "out.log"), *log = t_read(log_path);
	char *times_path = t_path(home, "timings"), *times = t_read(times_path);
	cr_log_info("tutorial step times:\n%s", times);
	printf("tutorial step times:\n%s", times);
	cr_assert_eq(WEXITSTATUS(rc), 0, "the tutorial failed (%s):\n%s", home, log);
	cr_assert_eq(t_lines(times), blocks, "%s", times);
	/* what the page promises the reader sees */
	cr_assert_not_null(strstr(log, "sighost 0.1.0"), "%s", log);
	cr_assert_not_null(strstr(log, "Applying journal.0001_initial... OK"), "%s", log);
	cr_assert_not_null(strstr(log, "\"title\":\"First light\""), "%s", log);
	cr_assert_not_null(strstr(log, "heard that entry 1 was published: First light"), "%s", log);
	cr_assert_not_null(strstr(log, "ok: entry_published sent once with the title"), "%s", log);
	t_rmtree(home);
	free(home);
	free(times);
	free(times_path);
	free(log);
	free(log_path);
	free(script);
	free(page);
	free(page_path);
}
