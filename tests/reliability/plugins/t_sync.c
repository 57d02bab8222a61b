/*
 * t_sync.c: the test plugin of tests/reliability/powercut.c, which makes
 * commits less durable than the host's on purpose, to show that the
 * power-loss test catches it. Setting settings.<label>.mode:
 *
 *   off    every connection runs PRAGMA synchronous=OFF when it is created
 *          (connection_created): a commit never syncs the write-ahead log
 *   late   the same, and request_finished (sent after the answer) syncs the
 *          log: an answer given before its fsync, as a group commit that
 *          replied before its sync would
 *   (unset or anything else) nothing: the host's own durability
 */
#include <sqlite3.h>
#include <string.h>

#include <sighost/sighost.h>

SH_PLUGIN_ABI;

static int on_connection_created(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_connection_created_args *a = args;
	if (sqlite3_exec(sh_conn_sqlite(a->connection), "PRAGMA synchronous=OFF", NULL, NULL,
			NULL) != SQLITE_OK)
		return sh_error_set(SH_EDB, "t_sync: PRAGMA synchronous=OFF failed");
	return 0;
}

/* Syncs the write-ahead log of the calling thread's connection, after the
 * answer went out. */
static int on_request_finished(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	sh_conn *db = NULL;
	if (sh_app_conn(&db, payload) < 0)
		return 0;
	sqlite3_file *wal = NULL;
	if (sqlite3_file_control(sh_conn_sqlite(db), "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal)
			== SQLITE_OK && wal != NULL && wal->pMethods != NULL)
		wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
	return 0;
}

int ready(sh_app *app)
{
	const char *mode = sh_value_path_string(sh_app_settings(app), "mode", NULL);
	if (mode == NULL || (strcmp(mode, "off") != 0 && strcmp(mode, "late") != 0))
		return 0;
	int rc = sh_app_connect(NULL, app, "connection_created", NULL, on_connection_created, app,
		NULL);
	if (rc >= 0 && strcmp(mode, "late") == 0)
		rc = sh_app_connect(NULL, app, "request_finished", NULL, on_request_finished, app, NULL);
	return rc < 0 ? rc : 0;
}
