/*
 * internal.h: the data structures of host/db/ (the model registry, the
 * database and its connections, instances and queries), shared by its
 * files and by nothing else. What the layers above may see (the model and
 * field structs, the schema SQL) is in db.h.
 *
 * Ownership: the registry owns its models, a model its fields and every
 * string in them. A database owns its connections; a connection owns its
 * statement cache and its transaction state. An instance owns its values'
 * text. Models are immutable once the registry is prepared.
 */
#ifndef SH_DB_INTERNAL_H
#define SH_DB_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <sighost/builtins.h>
#include <sighost/db.h>
#include <sighost/error.h>
#include <sighost/instance.h>
#include <sighost/model.h>
#include <sighost/query.h>
#include <sighost/signal.h>

#include "db.h"

/* ---- models: the structs and the schema SQL are in db.h ---- */

/* Sets the argument copiers of the signals the model layer sends
 * (pre_init, post_init, pre_save, post_save, pre_delete, post_delete,
 * m2m_changed, class_prepared, connection_created) on `hub`, so that async
 * receivers can hear them (copy.c). Called by sh_models_new(). Returns 0
 * or SH_EINVAL. */
int sh_db__set_model_copiers(sh_hub *hub);

/* ---- the database and connections (connection.c) ---- */

/* One cached prepared statement. */
typedef struct sh__stmt {
	char *sql;
	sqlite3_stmt *stmt;
	uint64_t hash;              /* of sql, checked before comparing the text */
} sh__stmt;

/* One open atomic block. A block is marked for rollback by
 * sh_atomic_set_rollback() (failure 0) or by a model operation that failed
 * inside it (failure: its code, reason: its message, malloc'd), Django's
 * needs_rollback and mark_for_rollback_on_error. */
typedef struct sh__block {
	bool rollback;
	int failure;
	char *reason;               /* NULL when none or when it could not be copied */
} sh__block;

/* An on_commit registration. */
typedef struct sh__on_commit {
	void (*fn)(void *payload);
	void *payload;
	void (*discard)(void *payload);
	int depth;                  /* the atomic depth it was registered at */
} sh__on_commit;

struct sh_conn {
	sh_database *database;
	sqlite3 *sqlite;
	sh__stmt *stmts;            /* statement cache, keyed by SQL text */
	size_t stmt_count;
	size_t stmt_capacity;
	sh__stmt *spares;           /* statements given back by sh_db__conn_stmt_give (sql NULL) */
	size_t spare_count;
	int depth;                  /* open atomic blocks */
	bool unusable;              /* a failure showed that only a new connection can
	                             * write (sh_db__conn_error, sh_database_close_unusable) */
	sh__block *blocks;          /* per depth, blocks[depth - 1] the innermost */
	size_t block_capacity;
	sh__on_commit *on_commit;
	size_t on_commit_count;
	size_t on_commit_capacity;
	struct sh_conn *next;       /* the database's list of connections */
	struct sh__conn_stmts *model_stmts; /* per model and transaction statements (orm.h) */
	/* group commit (durable.c) */
	bool group;                 /* commits at NORMAL and waits for the sync thread */
	uint64_t pending;           /* the last commit not waited for yet, 0: none */
	sh__on_commit *held;        /* on_commit callbacks of deferred commits */
	size_t held_count;
	size_t held_capacity;
};

/* The database's checkpointer (checkpoint.c). */
typedef struct sh__checkpointer {
	pthread_mutex_t lock;       /* guards the rest */
	pthread_cond_t wake;
	pthread_t thread;
	bool started, failed, stop;
	bool pending;               /* a commit found the log long */
	unsigned long runs;         /* the thread's checkpoints that succeeded
	                             * (sh_database_checkpoints) */
	unsigned long commit_runs;  /* checkpoints run inside a commit
	                             * (sh_database_commit_checkpoints) */
} sh__checkpointer;

/* Sets up the checkpointer of a new database (no thread yet). */
void sh_db__checkpointer_init(sh_database *database);

/* Installs the WAL hook of a new connection: its commits wake the
 * checkpointer when the log is long, instead of checkpointing themselves,
 * and, on a group connection, are numbered for the sync thread. */
void sh_db__checkpointer_attach(sh_conn *db);

/* Stops and joins the thread, if it ever started; frees the rest. */
void sh_db__checkpointer_stop(sh_database *database);

/* The database's group commit (durable.c): commits of group connections
 * are numbered in the order their WAL hook ran (after their frames were
 * written); a thread syncs the -wal file and then knows every commit up to
 * the number it read before the sync durable. */
typedef struct sh__syncer {
	pthread_mutex_t lock;       /* guards the rest */
	pthread_cond_t wake;        /* the thread waits here for commits */
	pthread_cond_t done;        /* waiters wait here for `synced` to move */
	pthread_t thread;
	bool on;                    /* new connections join (sh_database_set_group_commit) */
	bool started, failed_start, stop;
	bool syncing;               /* a round is in flight (one at a time) */
	uint64_t committed;         /* the number of the last commit */
	uint64_t synced;            /* every commit up to here was synced (or failed) */
	uint64_t durable;           /* every commit up to here is durable */
	int failure;                /* 0, or the code of the failed sync: sticky */
	char reason[256];           /* its message */
	char *wal;                  /* the -wal file's path, from the first commit */
	int fd;                     /* open on it, -1 until the first sync */
	unsigned long long ino, dev;  /* of `fd`: reopened when the path is another file */
	struct sh_durable *waiters; /* tickets to wake, in no order */
	unsigned long syncs;
} sh__syncer;

/* Sets up the group commit state of a new database (off, no thread). */
void sh_db__syncer_init(sh_database *database);

/* Stops and joins the thread after syncing what is pending; frees the rest. */
void sh_db__syncer_stop(sh_database *database);

/* Called by the WAL hook of a group connection after each commit: numbers
 * it and, outside an atomic block and a deferral, waits for it. */
void sh_db__syncer_committed(sh_conn *db, sqlite3 *sqlite);

/* After the outermost COMMIT of `db` (the write lock released): waits for
 * the commit's durability (not while deferred) and runs or holds the
 * on_commit callbacks. Returns 0 or SH_EUNAVAILABLE (the callbacks are
 * discarded then). */
int sh_db__durable_after_commit(sh_conn *db);

/* Waits until the last commit of `db` not waited for yet is durable.
 * Returns 0 (also when there is none) or SH_EUNAVAILABLE. */
int sh_db__durable_wait_now(sh_conn *db);

/* Whether the calling thread defers its waits on `db`'s database
 * (sh_database_defer_begin). */
bool sh_db__deferring(const sh_conn *db);

/* Frees the callbacks held by a deferral of `db` (discarding them). */
void sh_db__durable_drop_held(sh_conn *db);

/* Runs the on_commit callbacks in `items` (taken: freed here). */
void sh_db__on_commit_run_items(sh__on_commit *items, size_t count);

struct sh_database {
	char *path;
	sh_models *models;
	sh_hub *hub;
	pthread_key_t key;          /* the calling thread's sh_conn */
	pthread_mutex_t lock;       /* guards the list of connections */
	pthread_mutex_t write_lock; /* held by the connection whose outermost atomic
	                             * block is open: writers of this process queue
	                             * here instead of polling SQLite's lock */
	struct sh_conn *connections;
	const sh_sender *backend;   /* "sqlite" */
	sh_db_sync sync;            /* PRAGMA synchronous of new connections */
	int busy_timeout_ms;        /* how long a connection waits for another process's
	                             * lock (sh_database_set_timeout) */
	size_t max_delete_rows;     /* rows a delete may collect (sh_database_set_max_delete_rows) */
	bool opened_once;           /* a connection opened the file: later ones never create it */
	dev_t dev;                  /* the file's identity when opened_once (0, 0 for :memory:) */
	ino_t ino;
	struct sh__orm *orm;        /* per-model SQL and relations, built at open (orm.h) */
	sh__checkpointer checkpointer;
	sh__syncer syncer;
};

/*
 * Returns the connection's cached statement for `sql`, preparing it on
 * first use; the statement is reset and its bindings cleared. Stores it in
 * *out. Returns 0 or SH_EDB (SQLite's message and the SQL in the error).
 */
int sh_db__conn_prepare(sh_conn *db, const char *sql, sqlite3_stmt **out);

/* Binds `value` at 1-based `index`. Returns 0 or SH_EDB. */
int sh_db__conn_bind(sh_conn *db, sqlite3_stmt *stmt, int index, sh_datum value);

/* Turns SQLite's last error on `db` into an sh error (sh_db__sqlite_error()
 * below is the one place that decides the code): SH_EUNAVAILABLE when the database is full, read-only,
 * locked by another process past the busy timeout, failing with an I/O
 * error or cannot be opened (the message names the file and says which,
 * in words; a read-only or unopenable file also marks `db` unusable);
 * SH_EINTEGRITY for constraint failures (naming the table and column
 * SQLite names); SH_ENOMEM; else SH_EDB. `what` says what was being done
 * and starts the message. Returns the code. */
int sh_db__conn_error(sh_conn *db, const char *what);

/* sh_db__sqlite_error(), the mapping for a handle with no sh_conn, is in db.h. */

/* ---- instances (instance.c) ---- */

struct sh_instance {
	const sh_model *model;
	sh_conn *db;                /* NULL for a detached copy (an async receiver's) */
	sh_datum *values;           /* one per field; many-to-many slots stay NULL */
	bool adding;
	uint32_t hint;              /* the field sh_instance_set() and _get() try first: the
	                             * one after the last looked up (callers go in order) */
	char *auto_text;            /* SH__AUTO_TEXT bytes per auto_now / auto_now_add field, in
	                             * the instance's block, where saves write the time; NULL
	                             * in copies (save.c) */
	const char *block_end;      /* the end of the instance's one allocation: text between
	                             * the owned bytes and here is the instance's own */
	unsigned char *owned;       /* per field: its text was allocated for it (else it is
	                             * borrowed from the model or lives in the instance's
	                             * block); one byte past the fields says whether the
	                             * others are valid yet (instance.c) */
	unsigned refs;              /* references: 1 for the owner, +1 for each relation
	                             * cache that holds it (a forward key prefetched for
	                             * several instances shares one); freed at 0 */
	struct sh__inst_extra *extra; /* deferred fields and cached relations
	                             * (related.c), NULL for most instances */
};

/* A relation cached on an instance: Django's fields_cache (a forward key
 * followed by select_related or read once) and _prefetched_objects_cache.
 * The entry holds one reference to each of its instances. */
typedef struct sh__relcache {
	struct sh__relcache *next;
	const char *name;           /* the relation's name, from the registry */
	sh_instance **items;        /* its instances (one or none for a forward key) */
	size_t count;
	bool forward;               /* a forward key (one object), else a list */
} sh__relcache;

typedef struct sh__inst_extra {
	bool *deferred;             /* per field: not loaded yet (Django's DEFERRED);
	                             * NULL when none is */
	sh__relcache *cache;
} sh__inst_extra;

/* Frees the relation caches and deferred flags of an instance (related.c). */
void sh_db__instance_extra_free(sh_instance *instance);

/* Drops the cached relation `name` of an instance, if any (related.c). */
void sh_db__relcache_drop(sh_instance *instance, const char *name);

/* Loads a deferred field of an instance on first access, as Django's
 * DeferredAttribute: a refresh of that field alone (deferred.c). */
int sh_db__load_deferred(sh_instance *instance, size_t field);

/* Builds an instance from `values` (one per field, copied with their text
 * into the instance's one allocation) without sending signals; it is not
 * adding. `db` may be NULL: the detached copies handed to asynchronous
 * receivers (copy.c). */
int sh_db__instance_build(sh_instance **out, sh_conn *db, const sh_model *model,
	const sh_datum *values);

/* Sends pre_init (args = the row's values of the non-many-to-many fields,
 * in field order, no kwargs, as Django's from_db) and post_init for a
 * loaded row. */
int sh_db__instance_loaded(sh_instance *instance);

#endif
