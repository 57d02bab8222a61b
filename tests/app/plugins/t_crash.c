/*
 * t_crash.c: a test plugin that misbehaves on request, for the probe's
 * tests. Each entry point (early, ready, teardown) reads the setting
 * settings.<label>.<entry point> and, after printing "t_crash: <label>
 * <entry point>: <what>" to stderr, does what it says:
 *   segv    writes through a bad pointer (a real SIGSEGV)
 *   abort   calls abort() (SIGABRT)
 *   hang    waits forever
 *   exit    calls exit(3)
 *   fail    fails the ordinary way (sh_error_set)
 * and returns 0 without printing when the setting is absent. When
 * settings.<label>.prepared is set, early() connects a class_prepared
 * receiver that misbehaves so (entry point "prepared"). With
 * settings.<label>.db set, ready() first opens the database and creates a
 * table, so a test can see what a probe leaves in the database file.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sighost/sighost.h>

SH_PLUGIN_ABI;

/* Where a NULL struct pointer's field would be: not NULL itself, so the
 * sanitizers' null checks let the write through to the kernel's fault. */
static int *volatile bad_pointer = (int *)16;

static int misbehave(const sh_app *app, const char *entry)
{
	const char *what = sh_value_path_string(sh_app_settings(app), entry, NULL);
	if (what == NULL)
		return 0;
	fprintf(stderr, "t_crash: %s %s: %s\n", sh_app_label(app), entry, what);
	if (strcmp(what, "segv") == 0)
		*bad_pointer = 42;
	else if (strcmp(what, "abort") == 0)
		abort();
	else if (strcmp(what, "hang") == 0)
		for (;;)
			pause();
	else if (strcmp(what, "exit") == 0)
		exit(3);
	else if (strcmp(what, "fail") == 0)
		return sh_error_set(SH_ERROR, "%s() fails on purpose", entry);
	return 0;
}

static int on_prepared(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	return misbehave(payload, "prepared");
}

int early(sh_app *app)
{
	if (sh_value_path_string(sh_app_settings(app), "prepared", NULL) != NULL) {
		int rc = sh_app_connect(NULL, app, "class_prepared", NULL, on_prepared, app, NULL);
		if (rc < 0)
			return rc;
	}
	return misbehave(app, "early");
}

int ready(sh_app *app)
{
	if (sh_value_path_bool(sh_app_settings(app), "db", false)) {
		sh_conn *db;
		int rc = sh_app_conn(&db, app);
		if (rc < 0)
			return rc;
		if (sqlite3_exec(sh_conn_sqlite(db), "CREATE TABLE IF NOT EXISTS t_crash (id INTEGER)",
				NULL, NULL, NULL) != SQLITE_OK)
			return sh_error_set(SH_EDB, "%s", sqlite3_errmsg(sh_conn_sqlite(db)));
	}
	return misbehave(app, "ready");
}

void teardown(sh_app *app)
{
	misbehave(app, "teardown");
}
