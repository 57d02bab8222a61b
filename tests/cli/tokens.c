/*
 * tokens.c: `sighost tokens` lists tokens without their keys and
 * `sighost tokens revoke` deletes them, after which the key no longer
 * authenticates (checked through the library on the same database).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"

TestSuite(tokens, .init = e2e_setup, .fini = e2e_cleanup);

static void project(void)
{
	e2e_project("project: t\ndatabase: {engine: sqlite, name: db.sqlite3}\n"
		"plugin_dirs: [plugins]\ninstalled_apps: [a]\n");
	e2e_plugin("t_ok", "a", NULL);
}

#define RUN(...) E2E_RUN(__VA_ARGS__, "--settings", "project.yaml")

Test(tokens, list_shows_users_and_never_a_key)
{
	project();
	t_run r = RUN("tokens");
	cr_assert_eq(r.status, 0, "%s", r.err);
	e2e_has(r.out, "No tokens.");
	t_run_free(&r);
	t_run alice = RUN("createtoken", "alice"), bob = RUN("createtoken", "bob");
	cr_assert_eq(alice.status, 0, "%s", alice.err);
	cr_assert_eq(bob.status, 0, "%s", bob.err);
	r = RUN("tokens");
	cr_assert_eq(r.status, 0, "%s", r.err);
	e2e_has(r.out, "ID     USER");
	e2e_has(r.out, "1      alice");
	e2e_has(r.out, "2      bob");
	e2e_has(r.out, "never");
	alice.out[strcspn(alice.out, "\n")] = '\0';
	cr_assert_null(strstr(r.out, alice.out), "a key is listed:\n%s", r.out);
	t_run_free(&r);
	t_run_free(&alice);
	t_run_free(&bob);
}

Test(tokens, revoke_by_user_or_id_and_unknown_is_a_failure)
{
	project();
	t_run a = RUN("createtoken", "alice"), b = RUN("createtoken", "bob");
	t_run r = RUN("tokens", "revoke", "alice");
	cr_assert_eq(r.status, 0, "%s", r.err);
	e2e_has(r.out, "Revoked 1 token");
	t_run_free(&r);
	r = RUN("tokens", "revoke", "2");
	cr_assert_eq(r.status, 0, "%s", r.err);
	t_run_free(&r);
	r = RUN("tokens");
	e2e_has(r.out, "No tokens.");
	t_run_free(&r);
	r = RUN("tokens", "revoke", "carol");
	cr_assert_eq(r.status, 1);
	e2e_has(r.err, "no token with id or user 'carol'");
	t_run_free(&r);
	r = RUN("tokens", "revoke");
	cr_assert_eq(r.status, 2);
	t_run_free(&r);
	t_run_free(&a);
	t_run_free(&b);
}
