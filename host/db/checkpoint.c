/*
 * checkpoint.c: the database's checkpointer, a thread that copies the
 * write-ahead log back into the database file.
 *
 * SQLite checkpoints by itself on the connection whose commit takes the
 * log past 1000 pages, inside that COMMIT, and with synchronous=NORMAL
 * the checkpoint is where the disk syncs happen. Here that COMMIT runs
 * while the connection holds the database's write_lock, so every writer
 * of the process would queue behind the sync (a p99 of hundreds of ms under
 * a load of creates). Instead each connection's WAL hook only notes that
 * the log is long and wakes this thread, which runs a PASSIVE checkpoint
 * (it never blocks readers or writers) on a handle of its own; only a log
 * that still grows past four times that makes the commit checkpoint. The thread
 * starts the first time it is needed, so commands that write little never
 * start it, and stops in sh_database_close().
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "orm.h"

/* SQLite's own threshold (SQLITE_DEFAULT_WAL_AUTOCHECKPOINT). */
#define SH__CHECKPOINT_PAGES 1000
/* The thread cannot always keep up: a log only starts again from its head
 * once a checkpoint has copied all of it, which writes that never pause
 * prevent. Past this length the committing connection checkpoints too, as
 * SQLite would, which slows the writers down: the log stays bounded. */
#define SH__CHECKPOINT_PAGES_HARD 4000

void sh_db__checkpointer_init(sh_database *database)
{
	sh__checkpointer *c = &database->checkpointer;
	memset(c, 0, sizeof *c);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
}

static void *sh_db__checkpointer_main(void *arg)
{
	sh_database *database = arg;
	sh__checkpointer *c = &database->checkpointer;
	sqlite3 *handle = NULL;
	if (sqlite3_open_v2(database->path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			NULL) == SQLITE_OK) {
		sqlite3_busy_timeout(handle, database->busy_timeout_ms);
		/* a new handle learns that the file is in WAL mode at its first read;
		 * until then a checkpoint "succeeds" without copying a frame */
		sqlite3_exec(handle, "SELECT 1 FROM sqlite_master LIMIT 1", NULL, NULL, NULL);
	}
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->pending && !c->stop)
			pthread_cond_wait(&c->wake, &c->lock);
		if (c->stop)
			break;
		c->pending = false;
		pthread_mutex_unlock(&c->lock);
		int log = -1;
		int rc = sqlite3_wal_checkpoint_v2(handle, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, NULL);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			sh_hub_log(database->hub, SH_LOG_WARNING, "sighost.db",
				"checkpoint of %s failed: %s", database->path, sqlite3_errmsg(handle));
		pthread_mutex_lock(&c->lock);
		if (rc == SQLITE_OK && log >= 0)   /* -1: it did not run (not in WAL mode) */
			c->runs++;
	}
	pthread_mutex_unlock(&c->lock);
	sqlite3_close_v2(handle);
	return NULL;
}

/* sqlite3_wal_hook: called after each commit (its frames written, the
 * write lock released) with the log's length. A group connection's commit
 * is numbered for the sync thread (durable.c); one made outside any atomic
 * block (a statement that committed on its own) waits for it here, and a
 * failed sync is that statement's error. */
static int sh_db__wal_hook(void *arg, sqlite3 *sqlite, const char *schema, int pages)
{
	sh_conn *db = arg;
	sh_database *database = db->database;
	sh__checkpointer *c = &database->checkpointer;
	int result = SQLITE_OK;
	if (db->group) {
		sh_db__syncer_committed(db, sqlite);
		if (db->depth == 0 && !sh_db__deferring(db) && sh_db__durable_wait_now(db) < 0)
			result = SQLITE_IOERR_FSYNC;
	}
	if (pages < SH__CHECKPOINT_PAGES)
		return result;
	pthread_mutex_lock(&c->lock);
	bool running = c->started && !c->stop;
	if (!c->started && !c->stop && !c->failed) {
		/* the thread inherits this one's signal mask (the server's
		 * threads block the signals the main thread reads) */
		c->failed = pthread_create(&c->thread, NULL, sh_db__checkpointer_main, database) != 0;
		c->started = running = !c->failed;
	}
	if (running) {
		c->pending = true;
		pthread_cond_signal(&c->wake);
	}
	bool here = !running || pages >= SH__CHECKPOINT_PAGES_HARD;   /* as SQLite would */
	c->commit_runs += here;
	pthread_mutex_unlock(&c->lock);
	if (here)
		sqlite3_wal_checkpoint_v2(sqlite, schema, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return result;
}

void sh_db__checkpointer_attach(sh_conn *db)
{
	sqlite3_wal_hook(db->sqlite, sh_db__wal_hook, db);   /* replaces the auto-checkpoint */
}

void sh_db__checkpointer_stop(sh_database *database)
{
	sh__checkpointer *c = &database->checkpointer;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	bool started = c->started;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	if (started)
		pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
}

unsigned long sh_database_checkpoints(sh_database *database)
{
	if (database == NULL)
		return 0;
	sh__checkpointer *c = &database->checkpointer;
	pthread_mutex_lock(&c->lock);
	unsigned long runs = c->runs;
	pthread_mutex_unlock(&c->lock);
	return runs;
}

unsigned long sh_database_commit_checkpoints(sh_database *database)
{
	if (database == NULL)
		return 0;
	sh__checkpointer *c = &database->checkpointer;
	pthread_mutex_lock(&c->lock);
	unsigned long runs = c->commit_runs;
	pthread_mutex_unlock(&c->lock);
	return runs;
}
