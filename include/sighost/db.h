/*
 * db.h: the database, its connections and transactions (Django's
 * connections and transaction.atomic / on_commit).
 *
 * A database is the SQLite file the project manifest names, with the model
 * registry it stores. Each thread that touches models uses its own
 * connection, opened on its first sh_database_connection() call (WAL
 * journal, foreign keys on, a busy timeout) and announced with
 * connection_created, whose receivers may run PRAGMAs on it. A connection
 * is owned by the database: it is closed when its thread exits or the
 * database is closed, whichever comes first. A connection is used only by
 * the thread that got it.
 */
#ifndef SIGHOST_DB_H
#define SIGHOST_DB_H

#include "common.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sh_database sh_database;

/* The alias of sighost's one database, as Django's `using` names it. */
#define SH_DB_DEFAULT_ALIAS "default"

/* The sender of connection_created: the backend ("sqlite"). */
#define SH_DB_BACKEND_SENDER "sqlite"

/*
 * Creates the database of file `path` (created if missing, with its
 * directory expected to exist) for the prepared registry `models`; no
 * connection is opened yet. Returns 0 and stores it in *out, SH_EINVAL
 * when the registry is not prepared, SH_ENOMEM. Free with sh_database_close().
 */
SH_API int sh_database_open(sh_database **out, const char *path, sh_models *models);

/* How each commit reaches the disk: SQLite's PRAGMA synchronous in WAL
 * mode. FULL (the default) syncs the write-ahead log at every commit, so a
 * committed transaction survives a power loss. NORMAL syncs it only at
 * checkpoints: a process crash (even SIGKILL) still loses nothing and the
 * file never corrupts, but the last commits before a power loss or kernel
 * crash may roll back; commits no longer wait for the disk. */
typedef enum sh_db_sync { SH_DB_SYNC_FULL = 0, SH_DB_SYNC_NORMAL = 1 } sh_db_sync;

/*
 * Sets the synchronous mode of the database's connections. Call it before
 * the first connection opens (connections are per thread and set up once).
 * Returns 0; SH_EINVAL for a NULL database, an unknown mode, or when a
 * connection is open already.
 */
SH_API int sh_database_set_sync(sh_database *database, sh_db_sync sync);

/*
 * Sets how long a connection waits for a lock that another process holds
 * (SQLite's busy timeout) before the operation fails with SH_EUNAVAILABLE;
 * 5000 ms unless set, 0 fails at once. Threads of this process never wait
 * on it: their writers queue on the database's own lock. Call it before
 * the first connection opens. Returns 0; SH_EINVAL for a NULL database, a
 * negative time, or when a connection is open already.
 */
SH_API int sh_database_set_timeout(sh_database *database, int milliseconds);

/*
 * Checks that the calling thread's connection still has the database's
 * file: that the file was not deleted, renamed or replaced by another
 * since it was opened (SQLite's SQLITE_FCNTL_HAS_MOVED: one stat() of the
 * path). Returns 0 (also when the thread has no connection yet: opening
 * one checks the file against the one the first connection opened), or
 * SH_EUNAVAILABLE naming the file; SH_EINVAL for NULL. The server calls it
 * before every request: writes to a file that is no longer the database
 * are lost, so it answers 503 instead.
 */
SH_API int sh_database_check_file(sh_database *database);

/* The rows one delete may collect (load, cascade to) unless set. */
#define SH_DELETE_MAX_ROWS 1000000

/*
 * Sets how many rows one delete (sh_instance_delete(), sh_query_delete())
 * may collect through its cascades: past it the delete fails with
 * SH_EINVAL before anything is sent or written (the collector's memory
 * grows with the rows it loads). SH_DELETE_MAX_ROWS unless set. Returns 0;
 * SH_EINVAL for a NULL database or 0 rows.
 */
SH_API int sh_database_set_max_delete_rows(sh_database *database, size_t rows);

/*
 * Closes the calling thread's connection when it can never write again:
 * SQLite opened the file read-only (it was not writable then), or a
 * failure found the file, its -wal or -shm file read-only or could not
 * open one; SQLite keeps a connection that way even once the file is
 * writable. The thread's next sh_database_connection() then opens a new
 * one, which sees the file as it is by then (Django's
 * close_if_unusable_or_obsolete).
 * Call it only where the thread holds nothing of the connection: no
 * instance, query or atomic block (the server does after each request).
 * Returns 1 when it closed the connection, 0 when there was none to close
 * (none, usable, or inside an atomic block).
 */
SH_API int sh_database_close_unusable(sh_database *database);

/*
 * Returns how many checkpoints the database's checkpointer thread has run
 * successfully (a failed one is logged and not counted). When a commit
 * leaves the write-ahead log longer than 1000 pages, a thread of the
 * database (started then) copies it back into the database file, so that
 * no commit waits for that copy and its disk syncs. For tests and
 * monitoring; 0 for NULL.
 */
SH_API unsigned long sh_database_checkpoints(sh_database *database);

/*
 * Returns how many commits ran a checkpoint themselves, inside the commit:
 * when the thread could not start, or the log grew past 4000 pages because
 * writes never paused long enough for the thread to copy all of it. 0
 * while the checkpointer keeps up. For tests and monitoring; 0 for NULL.
 */
SH_API unsigned long sh_database_commit_checkpoints(sh_database *database);
/* ---- group commit ---- */

/*
 * Makes the commits of this database's connections opened from now on
 * share disk syncs (group commit), when its synchronous mode is FULL (for
 * NORMAL it does nothing: commits do not wait for the disk there). Such a
 * connection commits at SQLite's synchronous=NORMAL and then waits until a
 * thread of the database (started at the first commit) has synced the
 * write-ahead log past its commit with fdatasync; one sync covers every
 * commit made before it started, so concurrent writers share it. A commit
 * is durable when sh_atomic_end() (or sqlite3_step() of a statement that
 * committed on its own) returns, exactly as at FULL; a lone commit waits
 * for one sync, as at FULL. Differences: another connection may read a
 * commit before it is durable; and when a sync fails, the commits it
 * covered stay visible but are reported failed (SH_EUNAVAILABLE), as is
 * every later commit of the process (the kernel may have dropped the
 * unsynced pages: a later sync proves nothing), until the database is
 * closed. docs/instances.md, "Group commit", has the argument. `sighost
 * serve` turns it on; commands and migrations leave it off. Returns 0;
 * SH_EINVAL for a NULL database.
 */
SH_API int sh_database_set_group_commit(sh_database *database, bool on);

/* Returns how many syncs of the write-ahead log the group commit thread
 * has made (each covers one or more commits). For tests and the
 * benchmarks; 0 for NULL or when group commit never ran. */
SH_API unsigned long sh_database_syncs(sh_database *database);

/* A request's wait for the durability of its commits (group commit). */
typedef struct sh_durable sh_durable;

/*
 * For the server: until sh_database_defer_end(), the commits of the calling
 * thread's connection to `database` (one opened meanwhile included; with
 * group commit on) do not wait for the disk: an outermost sh_atomic_end() returns once the COMMIT is
 * done, and holds the transaction's on_commit callbacks instead of running
 * them. The caller then waits for durability without holding its thread
 * (sh_durable_notify) and answers afterwards, so the thread serves other
 * requests meanwhile and more commits share each sync. Nested calls count
 * (the outermost pair acts); a call for another database while one is
 * deferred is ignored. NULL is a no-op.
 */
SH_API void sh_database_defer_begin(sh_database *database);

/*
 * Ends what sh_database_defer_begin() started on the calling thread.
 * Returns 0 when nothing is left to wait for: the on_commit callbacks it
 * held ran, in registration order, before it returned. Returns 1 and stores
 * in *out a ticket when a commit made since is not durable yet (the
 * callbacks are in the ticket): pass it to sh_durable_notify(), then to
 * sh_durable_finish(). Returns SH_EUNAVAILABLE when the sync of a commit
 * failed already (the callbacks were discarded; *out NULL).
 */
SH_API int sh_database_defer_end(sh_database *database, sh_durable **out);

/*
 * Calls wake(payload) once when the ticket's commits are durable or their
 * sync failed: from the database's sync thread, or from this call when that
 * is so already. wake must be quick and must not call into the database
 * (the server resumes a suspended connection there). The ticket stays the
 * caller's until sh_durable_finish().
 */
SH_API void sh_durable_notify(sh_durable *ticket, void (*wake)(void *payload), void *payload);

/*
 * Ends a ticket: waits until its commits are durable or their sync failed
 * (no wait after wake was called), then runs the on_commit callbacks it
 * holds, in order, on the calling thread, and returns 0; when the sync
 * failed it discards them and returns SH_EUNAVAILABLE with the reason. A
 * wake not called yet is cancelled (it will not be called). Frees the
 * ticket; NULL returns 0.
 */
SH_API int sh_durable_finish(sh_durable *ticket);

/* Closes every connection of the database and frees it. No thread may use
 * it any more. NULL is a no-op. */
SH_API void sh_database_close(sh_database *database);

/* Returns the database's file path. */
SH_API const char *sh_database_path(const sh_database *database);

/* Returns the registry the database stores. */
SH_API sh_models *sh_database_models(const sh_database *database);

/*
 * Stores in *out the calling thread's connection, opening it (and sending
 * connection_created with the connection, sender "sqlite") on the first
 * call from this thread. Returns 0, SH_EDB when SQLite cannot open the file
 * or set it up (the message has SQLite's reason and the path), or the code
 * of a failing connection_created receiver (the connection is then closed).
 */
SH_API int sh_database_connection(sh_conn **out, sh_database *database);

/*
 * Creates the tables (and indexes, and join tables) of every model that has
 * none yet, as Django's `migrate --run-syncdb` does for apps without
 * migrations, in one transaction. Returns 0, or SH_EDB naming the table and
 * SQLite's message (nothing created then).
 */
SH_API int sh_database_syncdb(sh_conn *db);

/* Returns the connection's SQLite handle, for receivers that need raw
 * access (PRAGMAs in connection_created). Owned by the database. */
SH_API struct sqlite3 *sh_conn_sqlite(sh_conn *db);

/*
 * For code that runs its own SQL on sh_conn_sqlite(): turns SQLite's last
 * error on the connection into the host's code and message, as the model
 * layer does: SH_EUNAVAILABLE when the database is full, read-only, locked
 * by another process or failing (the server answers 503), SH_EINTEGRITY
 * for a constraint, SH_ENOMEM, else SH_EDB. The message starts with `what`
 * and names the file. Returns the code; SH_EINVAL for a NULL argument.
 */
SH_API int sh_conn_error(sh_conn *db, const char *what);

/*
 * Checks every foreign key of every table of the connection's database
 * (Django's connection.check_constraints(), which loaddata runs after its
 * raw saves): returns 0 when each points at a row, else SH_EINTEGRITY
 * naming the first offender ("shop.Item pk=3: field 'owner' points at no
 * row of shop_owner"), SH_EDB when SQLite fails.
 */
SH_API int sh_db_check_keys(sh_conn *db);

/*
 * A table the host keeps for itself (sighost_token, sighost_migrations):
 * with `create`, runs `ddl` (a CREATE TABLE IF NOT EXISTS); then checks
 * that a table named `table`, if there is one, is exactly what `ddl` makes
 * (its schema in sqlite_master, as SQLite stores `ddl`). Returns 0 (also
 * when there is no such table and `create` is false); SH_EDB naming the
 * file, the table and both schemas when the table was made some other way
 * (a model that took the name: its rows must not be trusted); an error of
 * sh_conn_error() when SQLite fails; SH_EINVAL for NULL arguments.
 */
SH_API int sh_db_host_table(sh_conn *db, const char *table, const char *ddl, bool create);

/* Returns the database a connection belongs to. */
SH_API sh_database *sh_conn_database(const sh_conn *db);

/* Returns the connection's alias, SH_DB_DEFAULT_ALIAS. */
SH_API const char *sh_conn_alias(const sh_conn *db);

/* ---- transactions ---- */

/*
 * Atomic blocks are Django's transaction.atomic. The model layer's
 * operations (sh_instance_save, sh_instance_delete, sh_query_delete,
 * sh_query_update, sh_bulk_create, the sh_m2m_ changes) follow Django's
 * rules about them:
 *
 * - Outside any block, each operation runs in a transaction of its own
 *   (BEGIN IMMEDIATE ... COMMIT), its receivers' writes included, and is
 *   rolled back as a whole when it fails.
 * - Inside a block, an operation opens no savepoint. When it fails after
 *   its arguments were checked (a pre_ or post_ receiver failed, a
 *   constraint, a dangling foreign key, an SQLite error), it returns the
 *   failure's code and marks the innermost block for rollback with that
 *   code, as Django's mark_for_rollback_on_error: the block's
 *   sh_atomic_end() rolls back and returns the code even with status 0.
 *   Failures found before anything is sent or written (bad arguments,
 *   SH_ENOTFOUND for an m2m pk without a row, SH_EPROTECTED) leave the
 *   block alone. Further statements in a marked block still run (Django
 *   refuses them); they are rolled back with it.
 *
 * To go on after a failed operation inside a transaction, wrap the
 * operation in a block of its own (a savepoint), exactly Django's advice:
 *
 *     sh_atomic_begin(db);                        (the outer block)
 *     ...
 *     int rc = sh_atomic_begin(db);
 *     if (rc == 0)
 *         rc = sh_atomic_end(db, sh_instance_save(instance, NULL));
 *     if (rc < 0)
 *         ...                                     (only the save was undone)
 *     ...
 *     rc = sh_atomic_end(db, 0);                  (commits the rest)
 */

/*
 * Opens an atomic block on the connection: a transaction at the outermost
 * level (BEGIN IMMEDIATE), a savepoint inside another block. Returns 0,
 * SH_EDB, SH_ENOMEM.
 *
 * Every sh_atomic_begin() that returned 0 must be matched by one
 * sh_atomic_end() on the same thread:
 *
 *     int rc = sh_atomic_begin(db);
 *     if (rc == 0)
 *         rc = sh_atomic_end(db, do_work(db));
 */
SH_API int sh_atomic_begin(sh_conn *db);

/*
 * Closes the innermost atomic block: commits it (COMMIT, or RELEASE of its
 * savepoint) when `status` is 0 and the block was not marked for rollback,
 * else rolls it back (and the on_commit callbacks registered inside it are
 * discarded). Closing the outermost block with a commit runs the on_commit
 * callbacks, in registration order, after the COMMIT. Returns:
 * - `status` when it is non-zero (the block was rolled back);
 * - after a model operation inside the block failed and marked it, that
 *   failure's code, with the message "the atomic block was rolled back
 *   because an operation inside it failed: <the failure's message>";
 * - after sh_atomic_set_rollback() alone, 0 (the block was rolled back);
 * - SH_EINTEGRITY when the COMMIT fails on a deferred foreign key (a key
 *   pointing at no row; SQLite checks them at COMMIT, as Django's schema
 *   declares them DEFERRABLE INITIALLY DEFERRED), SH_EDB for another
 *   failed COMMIT; everything was rolled back then;
 * - SH_EINVAL when no block is open; else 0.
 */
SH_API int sh_atomic_end(sh_conn *db, int status);

/* Marks the innermost atomic block for rollback (Django's set_rollback):
 * its sh_atomic_end() rolls back and returns 0 (or the non-zero status it
 * is given). Returns 0 or SH_EINVAL outside a block. */
SH_API int sh_atomic_set_rollback(sh_conn *db);

/* Returns how many atomic blocks are open on the connection. */
SH_API int sh_atomic_depth(const sh_conn *db);

/*
 * Registers `fn(payload)` to run after the outermost atomic block commits,
 * on this thread; outside any block it runs at once. If the block (or the
 * enclosing block that holds the registration) rolls back, fn is not run
 * and `discard(payload)` is called instead, when discard is non-NULL, so
 * the payload can be freed. Returns 0 (after running fn at once, fn's
 * status is not seen), SH_ENOMEM (then neither fn nor discard runs).
 */
SH_API int sh_on_commit(sh_conn *db, void (*fn)(void *payload), void *payload,
	void (*discard)(void *payload));

#ifdef __cplusplus
}
#endif

#endif
