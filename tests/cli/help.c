/*
 * help.c: the command line's help and usage errors, through the sighost
 * binary: every command answers --help and -h like `sighost help CMD`;
 * an unknown command or option is exit 2 with the nearest name; runserver
 * is serve; docs/cli.md and the built man page are what the binary
 * prints from its one table; a missing manifest names --settings and
 * SIGHOST_SETTINGS.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"

TestSuite(cli, .init = e2e_setup, .fini = e2e_cleanup);

/* The command names `sighost help` lists (two-space indent, a name, a
 * summary), NULL-terminated, newly allocated. */
static char **commands(void)
{
	t_run r = E2E_RUN("help");
	cr_assert_eq(r.status, 0);
	char **names = calloc(64, sizeof *names);
	size_t n = 0;
	char *text = strstr(r.out, "commands:\n");
	cr_assert_not_null(text);
	for (char *line = strtok(text + 10, "\n"); line != NULL && n < 63; line = strtok(NULL, "\n")) {
		char name[64];
		if (strncmp(line, "  sighost", 9) == 0 || sscanf(line, "  %63s", name) != 1)
			continue;
		names[n++] = strdup(name);
	}
	t_run_free(&r);
	cr_assert_geq(n, 12, "help lists %zu commands", n);
	return names;
}

Test(cli, every_command_answers_help_and_h_as_help_command_does)
{
	char **names = commands();
	for (size_t i = 0; names[i] != NULL; i++) {
		t_run h = E2E_RUN(names[i], "--help"), s = E2E_RUN(names[i], "-h"),
			viahelp = E2E_RUN("help", names[i]);
		cr_assert_eq(h.status, 0, "%s --help: %s", names[i], h.err);
		cr_assert_eq(s.status, 0, "%s -h: %s", names[i], s.err);
		char usage[128];
		snprintf(usage, sizeof usage, "usage: sighost %s", names[i]);
		e2e_has(h.out, usage);
		e2e_has(h.out, "-h, --help");
		e2e_has(h.out, "exit status:");
		cr_assert_str_eq(h.out, s.out);
		cr_assert_str_eq(h.out, viahelp.out);
		t_run_free(&h);
		t_run_free(&s);
		t_run_free(&viahelp);
		free(names[i]);
	}
	free(names);
}

Test(cli, an_unknown_command_suggests_the_nearest)
{
	t_run r = E2E_RUN("serv");
	cr_assert_eq(r.status, 2);
	e2e_has(r.err, "unknown command 'serv': did you mean 'serve'?");
	t_run_free(&r);
	r = E2E_RUN("help", "makemigration");
	cr_assert_eq(r.status, 2);
	e2e_has(r.err, "did you mean 'makemigrations'?");
	t_run_free(&r);
}

Test(cli, an_unknown_option_suggests_the_nearest)
{
	t_run r = E2E_RUN("serve", "--lisen", "127.0.0.1:0");
	cr_assert_eq(r.status, 2);
	e2e_has(r.err, "sighost serve: unknown option '--lisen': did you mean '--listen'?");
	t_run_free(&r);
	r = E2E_RUN("check", "--deplyo");
	cr_assert_eq(r.status, 2);
	e2e_has(r.err, "did you mean '--deploy'?");
	t_run_free(&r);
	r = E2E_RUN("migrate", "--setings=x.yaml");
	cr_assert_eq(r.status, 2);
	e2e_has(r.err, "did you mean '--settings'?");
	t_run_free(&r);
}

Test(cli, runserver_is_serve)
{
	t_run r = E2E_RUN("runserver", "--help");
	cr_assert_eq(r.status, 0);
	e2e_has(r.out, "usage: sighost serve");
	t_run_free(&r);
	/* it runs serve: the same usage error for a bad --threads */
	r = E2E_RUN("runserver", "--threads", "0");
	cr_assert_eq(r.status, 2);
	e2e_has(r.err, "sighost serve: --threads takes a number from 1 to 256");
	t_run_free(&r);
}

Test(cli, no_command_is_a_usage_error)
{
	t_run r = E2E_RUN("--log-level", "debug");
	cr_assert_eq(r.status, 2);
	t_run_free(&r);
	const char *none[] = { NULL };
	r = e2e_run(none);
	cr_assert_eq(r.status, 2);
	e2e_has(r.err, "usage: sighost COMMAND");
	t_run_free(&r);
}

Test(cli, docs_cli_md_is_what_the_table_prints)
{
	char *path = t_path(t_env("SIGHOST_SOURCE_ROOT"), "docs/cli.md");
	char *doc = t_read(path);
	t_run r = E2E_RUN("help", "--markdown");
	cr_assert_eq(r.status, 0);
	cr_assert_str_eq(doc, r.out, "docs/cli.md is stale: run "
		"`build/host/sighost help --markdown > docs/cli.md`");
	t_run_free(&r);
	free(doc);
	free(path);
}

Test(cli, the_man_page_and_completion_are_what_the_table_prints)
{
	char *man = t_read(t_env("SIGHOST_MAN_PAGE"));
	t_run r = E2E_RUN("help", "--man");
	cr_assert_str_eq(man, r.out);
	e2e_has(man, ".SS \"startapp LABEL [DIR]\"");
	e2e_has(man, ".B \\-\\-listen");
	t_run_free(&r);
	free(man);
	char *completion = t_read(t_env("SIGHOST_COMPLETION"));
	r = E2E_RUN("help", "--bash-completion");
	cr_assert_str_eq(completion, r.out);
	e2e_has(completion, "serve|runserver) opts=\"--help --listen");
	t_run_free(&r);
	free(completion);
}

Test(cli, a_missing_manifest_names_settings_and_the_variable)
{
	t_run r = E2E_RUN("check");
	cr_assert_eq(r.status, 1);
	e2e_has(r.err, "no project manifest at manifests/project.yaml");
	e2e_has(r.err, "--settings FILE");
	e2e_has(r.err, "SIGHOST_SETTINGS");
	t_run_free(&r);
}

Test(cli, the_log_options_choose_level_and_format)
{
	e2e_project("project: t\ndatabase: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [plugins]\ninstalled_apps: [a]\n");
	e2e_plugin("t_ok", "a", NULL);   /* its ready() logs "ready" at info */
	t_run r = E2E_RUN("check", "--settings", "project.yaml");
	cr_assert_eq(r.status, 0, "%s", r.err);
	e2e_has(r.err, "[a] info: ready\n");
	t_run_free(&r);
	r = E2E_RUN("check", "--settings", "project.yaml", "--log-level", "warning");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_null(strstr(r.err, "ready"), "%s", r.err);
	t_run_free(&r);
	r = E2E_RUN("check", "--settings", "project.yaml", "--log-format=json");
	e2e_has(r.err, "\"level\":\"info\",\"origin\":\"a\",\"message\":\"ready\"}");
	t_run_free(&r);
	setenv("JOURNAL_STREAM", "0:0", 1);   /* not stderr's: still text */
	r = E2E_RUN("check", "--settings", "project.yaml");
	e2e_has(r.err, "[a] info: ready\n");
	t_run_free(&r);
	unsetenv("JOURNAL_STREAM");
	/* stderr is the journal's stream (JOURNAL_STREAM names its device and
	 * inode, as systemd does): priority prefixes, no timestamp */
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "cd '%s' && JOURNAL_STREAM=$(stat -L -c %%d:%%i /proc/self/fd/2) "
		"exec '%s' check --settings project.yaml 2>journal.err",
		e2e_dir, t_env("SIGHOST_BIN")) ;
	cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
	char *journal_path = t_path(e2e_dir, "journal.err"), *journal = t_read(journal_path);
	cr_assert_str_eq(journal, "<6>[a] info: ready\n");
	free(journal);
	free(journal_path);
	r = E2E_RUN("check", "--settings", "project.yaml", "--log-level=loud");
	cr_assert_eq(r.status, 2);
	e2e_has(r.err, "--log-level takes debug, info, warning or error");
	t_run_free(&r);
	e2e_project("project: t\ndatabase: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [plugins]\ninstalled_apps: [a]\nlog_level: warning\nlog_format: json\n");
	r = E2E_RUN("check", "--settings", "project.yaml");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_null(strstr(r.err, "ready"), "%s", r.err);
	t_run_free(&r);
	r = E2E_RUN("check", "--settings", "project.yaml", "--log-level", "info");   /* the command line wins */
	e2e_has(r.err, "\"message\":\"ready\"}");
	t_run_free(&r);
	e2e_project("project: t\ndatabase: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [plugins]\ninstalled_apps: [a]\nlog_level: chatty\n");
	r = E2E_RUN("check", "--settings", "project.yaml");
	cr_assert_eq(r.status, 1);
	e2e_has(r.err, "log_level must be debug, info, warning or error, not 'chatty'");
	t_run_free(&r);
}
