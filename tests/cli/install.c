/*
 * install.c: `meson install` into a temporary root (DESTDIR), then, with
 * nothing but what was installed and without LD_LIBRARY_PATH:
 *
 *   - the installed binary finds its library (RUNPATH) and runs check and
 *     migrate on the installed example project, in place;
 *   - the man page, bash completion, systemd unit, plugins and sighost.pc
 *     (with pluginsdir) are where docs/install.md says;
 *   - `sighost startapp` writes an app out of tree that builds with its
 *     Makefile (cc and pkg-config against the installed sighost.pc),
 *     passes check, migrates, and serves its route; a token used on a
 *     request then shows a last-used time in `sighost tokens`.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/web.h"

TestSuite(install, .init = w_setup, .fini = w_cleanup, .timeout = 600);

static int sh_run(const char *command)
{
	int rc = system(command);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* Installs into w_dir/root; returns the prefix inside it (newly
 * allocated), e.g. ROOT/usr/local. */
static char *install(void)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "meson install -C '%s' --destdir '%s/root' --no-rebuild --quiet "
		">'%s/install.log' 2>&1", t_env("SIGHOST_BUILD_ROOT"), w_dir, w_dir);
	cr_assert_eq(sh_run(cmd), 0, "meson install failed: see %s/install.log", w_dir);
	char *prefix = NULL;
	cr_assert_geq(asprintf(&prefix, "%s/root%s", w_dir, t_env("SIGHOST_PREFIX")), 0);
	return prefix;
}

static bool exists(const char *prefix, const char *rel)
{
	char *path = NULL;
	cr_assert_geq(asprintf(&path, "%s/%s", prefix, rel), 0);
	bool found = access(path, F_OK) == 0;
	free(path);
	return found;
}

/* Runs the installed binary (SIGHOST_BIN) in `cwd`. */
static t_run installed(const char *cwd, const char *const *args)
{
	return t_sighost(cwd, NULL, args);
}

#define INSTALLED(cwd, ...) installed(cwd, (const char *const[]){ __VA_ARGS__, NULL })

static void ok(t_run r, const char *what)
{
	cr_assert_eq(r.status, 0, "%s: status %d\n%s%s", what, r.status, r.out, r.err);
}

Test(install, the_installed_binary_runs_the_installed_example_and_a_new_app)
{
	char *prefix = install();
	const char *libdir = t_env("SIGHOST_LIBDIR");
	char *bin = NULL, *example = NULL, *pcdir = NULL, *plugins = NULL;
	cr_assert_geq(asprintf(&bin, "%s/bin/sighost", prefix), 0);
	cr_assert_geq(asprintf(&example, "%s/share/sighost/example", prefix), 0);
	cr_assert_geq(asprintf(&pcdir, "%s/%s/pkgconfig", prefix, libdir), 0);
	cr_assert_geq(asprintf(&plugins, "%s/%s/sighost/plugins", prefix, libdir), 0);
	setenv("SIGHOST_BIN", bin, 1);
	unsetenv("LD_LIBRARY_PATH");

	cr_assert(exists(prefix, "share/man/man1/sighost.1"));
	cr_assert(exists(prefix, "share/bash-completion/completions/sighost"));
	cr_assert(exists(prefix, "share/sighost/sighost.service"));
	cr_assert(exists(prefix, "share/sighost/migrations/alert/0001_initial.yaml"));
	char *rel = NULL;
	cr_assert_geq(asprintf(&rel, "%s/sighost/plugins/alert.so", libdir), 0);
	cr_assert(exists(prefix, rel));
	free(rel);
	cr_assert_geq(asprintf(&rel, "%s/sighost/plugins/templates/pages/index.html", libdir), 0);
	cr_assert(exists(prefix, rel));
	free(rel);

	/* the installed bash completion completes commands and options */
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "bash -c 'source \"%s/share/bash-completion/completions/sighost\"; "
		"COMP_WORDS=(sighost runs); COMP_CWORD=1; _sighost; test \"${COMPREPLY[*]}\" = runserver; "
		"COMP_WORDS=(sighost serve --lis); COMP_CWORD=2; _sighost; "
		"test \"${COMPREPLY[*]}\" = --listen'", prefix);
	cr_assert_eq(sh_run(cmd), 0, "the installed completion does not complete");

	/* the installed example, in place */
	t_run r = INSTALLED(example, "check", "--settings", "project.yaml");
	ok(r, "check of the installed example");
	w_has(r.out, "6 apps, 5 plugins loaded");
	t_run_free(&r);
	r = INSTALLED(example, "migrate", "--settings", "project.yaml");
	ok(r, "migrate of the installed example");
	w_has(r.out, "Applying alert.0001_initial... OK");
	t_run_free(&r);

	/* pkg-config: the installed sighost.pc, with pluginsdir */
	snprintf(cmd, sizeof cmd, "PKG_CONFIG_PATH='%s' PKG_CONFIG_SYSROOT_DIR='%s/root' "
		"pkg-config --variable=pluginsdir sighost | grep -q '/sighost/plugins$'", pcdir, w_dir);
	cr_assert_eq(sh_run(cmd), 0, "sighost.pc has no pluginsdir");

	/* a new app, out of tree */
	r = INSTALLED(w_dir, "startapp", "diary");
	ok(r, "startapp");
	t_run_free(&r);
	r = INSTALLED(w_dir, "startapp", "diary");
	cr_assert_eq(r.status, 1, "startapp over an existing app must fail");
	w_has(r.err, "already exists; nothing was written");
	t_run_free(&r);
	snprintf(cmd, sizeof cmd, "cd '%s/diary' && PKG_CONFIG_PATH='%s' "
		"PKG_CONFIG_SYSROOT_DIR='%s/root' make >'%s/make.log' 2>&1", w_dir, pcdir, w_dir, w_dir);
	cr_assert_eq(sh_run(cmd), 0, "make of the new app failed: see %s/make.log", w_dir);
	char *yaml = NULL;
	cr_assert_geq(asprintf(&yaml, "project: mine\ndatabase: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [%s, diary]\ninstalled_apps: [diary]\n", plugins), 0);
	free(t_write(w_dir, "project.yaml", yaml));
	free(yaml);
	r = INSTALLED(w_dir, "check", "--settings", "project.yaml");
	ok(r, "check of the new app");
	w_has(r.out, "1 app, 1 plugin loaded, 1 route; no problems found");
	t_run_free(&r);
	r = INSTALLED(w_dir, "migrate", "--settings", "project.yaml");
	ok(r, "migrate of the new app");
	w_has(r.err, "[diary] info: diary is migrated");   /* its post_migrate receiver ran */
	t_run_free(&r);
	t_run token = INSTALLED(w_dir, "createtoken", "alice", "--settings", "project.yaml");
	ok(token, "createtoken");
	token.out[strcspn(token.out, "\n")] = '\0';

	w_server s;
	w_start(&s, NULL);
	char headers[256];
	snprintf(headers, sizeof headers, "Authorization: Token %s\r\n", token.out);
	w_resp resp = w_request(s.port, "GET", "/diary/", headers, NULL);
	cr_assert_eq(resp.status, 200, "%s", resp.head);
	cr_assert_str_eq(resp.body, "Hello from diary\n");
	w_resp_free(&resp);
	w_stop(&s);
	cr_assert_eq(s.status, 0, "%s", s.err);
	/* serve's lines carry a UTC timestamp; the access log is one of them */
	w_has(s.err, "Z [sighost.server] info: \"GET /diary/ HTTP/1.1\" 200");
	w_server_free(&s);
	r = INSTALLED(w_dir, "tokens", "--settings", "project.yaml");
	ok(r, "tokens");
	cr_assert_null(strstr(r.out, "never"), "the used token shows no last use:\n%s", r.out);
	t_run_free(&r);
	t_run_free(&token);
	free(bin);
	free(example);
	free(pcdir);
	free(plugins);
	free(prefix);
}
