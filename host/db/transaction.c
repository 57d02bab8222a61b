/*
 * transaction.c: atomic blocks and on_commit (db.h), Django's
 * transaction.atomic and transaction.on_commit on one connection.
 *
 * The outermost block is a transaction opened with BEGIN IMMEDIATE: the
 * connection takes SQLite's write lock at once. Threads of this process
 * first queue on the database's write_lock, held from BEGIN to the end of
 * the outermost block: SQLite's busy handler waits by sleeping and
 * retrying, which under many concurrent writers (the server's worker
 * threads) gives some of them waits of seconds while the lock is free; a
 * mutex hands it over at once. Other processes still meet SQLite's lock
 * and its busy timeout. A deferred BEGIN
 * would read first and fail with SQLITE_BUSY (no waiting possible) when it
 * tries to upgrade to a writer after another connection committed; atomic
 * blocks exist to write, so taking the lock up front is the right trade.
 * Inner blocks are savepoints, all called "sh_atomic": RELEASE and
 * ROLLBACK TO act on the innermost savepoint of that name, which is always
 * the innermost block.
 *
 * on_commit registrations remember the depth they were made at. Releasing
 * a savepoint hands its registrations to the enclosing block; rolling a
 * block back discards the registrations made inside it (calling discard);
 * committing the outermost block runs them all in registration order,
 * after the COMMIT, at depth 0, and with group commit once the commit is
 * durable (durable.c), or hands them to the server's deferral.
 *
 * A block is marked for rollback by sh_atomic_set_rollback() or by a
 * model operation that failed inside it (sh_db__mark_failed: Django's
 * mark_for_rollback_on_error, since such an operation opens no savepoint of
 * its own). Its sh_atomic_end() rolls back; for a failure it returns the
 * failure's code and says so, keeping the failure's message, so that the
 * caller learns that its work was undone even if it ignored the failure.
 *
 * SQLite may roll a whole transaction back by itself (disk full, I/O
 * error). Every block still open then ends as rolled back, and one that
 * was meant to commit reports SH_EDB.
 */
#include <stdlib.h>
#include <string.h>

#include "orm.h"

/* Steps a transaction statement; on failure raises the error and returns it. */
static int sh_db__tx(sh_conn *db, sh__tx_kind kind, const char *what)
{
	sqlite3_stmt *stmt;
	int rc = sh_db__tx_stmt(db, kind, &stmt);
	if (rc < 0)
		return rc;
	return sh_db__conn_exec(db, stmt, what);
}

/* Steps a rollback statement, leaving the error channel as it was: a
 * rollback happens because something else failed, and that is the error
 * the caller reports. */
static void sh_db__tx_quiet(sh_conn *db, sh__tx_kind kind)
{
	sqlite3_stmt *stmt;
	if (sh_db__tx_stmt(db, kind, &stmt) == 0) {
		sqlite3_step(stmt);
		sqlite3_reset(stmt);
	}
}

int sh_atomic_begin(sh_conn *db)
{
	if (db == NULL)
		return sh_error_set(SH_EINVAL, "sh_atomic_begin: NULL connection");
	if (SH__UNLIKELY((size_t)db->depth + 1 > db->block_capacity)) {
		size_t cap = db->block_capacity ? 2 * db->block_capacity : 8;
		sh__block *grown = realloc(db->blocks, cap * sizeof *grown);
		if (grown == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory opening an atomic block");
		db->blocks = grown;
		db->block_capacity = cap;
	}
	bool in_tx = !sqlite3_get_autocommit(db->sqlite);
	int rc;
	if (db->depth == 0) {
		if (in_tx)
			return sh_error_set(SH_EDB, "cannot open an atomic block on %s: a transaction "
				"opened outside sh_atomic_begin() is in progress", db->database->path);
		pthread_mutex_lock(&db->database->write_lock);
		rc = sh_db__tx(db, SH__TX_BEGIN, "cannot begin a transaction");
		if (rc < 0)
			pthread_mutex_unlock(&db->database->write_lock);
	} else {
		if (!in_tx)
			return sh_error_set(SH_EDB, "cannot open a nested atomic block on %s: SQLite "
				"rolled the enclosing transaction back", db->database->path);
		rc = sh_db__tx(db, SH__TX_SAVEPOINT, "cannot open a savepoint");
	}
	if (rc < 0)
		return rc;
	db->blocks[db->depth++] = (sh__block){ false, 0, NULL };
	return 0;
}

/* Discards the on_commit registrations made at `depth` or deeper. */
static void sh_db__on_commit_drop(sh_conn *db, int depth)
{
	size_t kept = 0;
	for (size_t i = 0; i < db->on_commit_count; i++) {
		sh__on_commit *c = &db->on_commit[i];
		if (c->depth >= depth) {
			if (c->discard != NULL)
				c->discard(c->payload);
		} else {
			db->on_commit[kept++] = *c;
		}
	}
	db->on_commit_count = kept;
}

/* Hands the registrations of block `depth` to its enclosing block. */
static void sh_db__on_commit_lift(sh_conn *db, int depth)
{
	for (size_t i = 0; i < db->on_commit_count; i++)
		if (db->on_commit[i].depth >= depth)
			db->on_commit[i].depth = depth - 1;
}

/* Runs the registrations `items` of a commit, in order, and frees the
 * array. The caller detached it from the connection first: a callback may
 * register more (they run at once, the depth being 0) or open blocks of its
 * own. */
void sh_db__on_commit_run_items(sh__on_commit *items, size_t count)
{
	for (size_t i = 0; i < count; i++)
		items[i].fn(items[i].payload);
	free(items);
}

int sh_atomic_end(sh_conn *db, int status)
{
	if (db == NULL || db->depth == 0)
		return sh_error_set(SH_EINVAL, "sh_atomic_end: no atomic block is open");
	int depth = db->depth;
	sh__block block = db->blocks[depth - 1];
	bool tx_gone = sqlite3_get_autocommit(db->sqlite) != 0;

	if (status == 0 && !block.rollback && !tx_gone) {
		int rc = sh_db__tx(db, depth == 1 ? SH__TX_COMMIT : SH__TX_RELEASE,
			depth == 1 ? "cannot commit" : "cannot release a savepoint");
		if (rc == 0) {
			db->depth--;
			if (depth == 1) {
				pthread_mutex_unlock(&db->database->write_lock);
				return sh_db__durable_after_commit(db);   /* waits, then on_commit */
			} else {
				sh_db__on_commit_lift(db, depth);
			}
			return 0;
		}
		/* A failed COMMIT (a deferred foreign key: SH_EINTEGRITY; a busy
		 * reader) leaves the transaction open: roll it back so the block
		 * ends as a whole. */
		status = rc;
		tx_gone = sqlite3_get_autocommit(db->sqlite) != 0;
	}
	if (!tx_gone) {
		if (depth == 1) {
			sh_db__tx_quiet(db, SH__TX_ROLLBACK);
		} else {
			sh_db__tx_quiet(db, SH__TX_ROLLBACK_TO);
			sh_db__tx_quiet(db, SH__TX_RELEASE);
		}
	}
	sh_db__on_commit_drop(db, depth);
	db->depth--;
	if (depth == 1)
		pthread_mutex_unlock(&db->database->write_lock);
	if (status == 0 && block.failure != 0)
		status = sh_error_set(block.failure, "the atomic block was rolled back because an "
			"operation inside it failed: %s", block.reason != NULL ? block.reason
			: sh_error_name(block.failure));
	free(block.reason);
	if (status != 0)
		return status;
	if (tx_gone && !block.rollback)
		return sh_error_set(SH_EDB, "the atomic block could not commit: SQLite rolled the "
			"transaction back");
	return 0;
}

int sh_atomic_set_rollback(sh_conn *db)
{
	if (db == NULL || db->depth == 0)
		return sh_error_set(SH_EINVAL, "sh_atomic_set_rollback: no atomic block is open");
	db->blocks[db->depth - 1].rollback = true;
	return 0;
}

int sh_db__mark_failed(sh_conn *db, int code)
{
	if (db->depth == 0 || code >= 0)
		return code;
	sh__block *block = &db->blocks[db->depth - 1];
	block->rollback = true;
	if (block->failure == 0) {
		block->failure = code;
		block->reason = strdup(sh_error_last()->message);   /* NULL: the code is named */
	}
	return code;
}

int sh_db__op_end(sh_conn *db, bool own, int status, const char *verb, const char *label)
{
	if (!own)
		return status < 0 ? sh_db__mark_failed(db, status) : status;
	if (SH__UNLIKELY(db->depth == 0))   /* a receiver closed more blocks than it opened */
		return status != 0 ? status : sh_error_set(SH_EINVAL, "%s %s: a receiver closed the "
			"operation's own transaction", verb, label);
	/* A receiver that marked the operation's own transaction for rollback
	 * undid the operation: say so rather than report success. */
	const sh__block *block = &db->blocks[db->depth - 1];
	if (status == 0 && block->failure != 0)   /* a receiver's operation failed */
		status = sh_error_set(block->failure, "%s %s was rolled back because an operation of "
			"its receivers failed: %s", verb, label, block->reason != NULL ? block->reason
			: sh_error_name(block->failure));
	else if (status == 0 && block->rollback)
		status = sh_error_set(SH_EDB, "%s %s: a receiver marked the operation's transaction "
			"for rollback, so it was rolled back", verb, label);
	return sh_atomic_end(db, status);
}

int sh_atomic_depth(const sh_conn *db)
{
	return db != NULL ? db->depth : 0;
}

int sh_on_commit(sh_conn *db, void (*fn)(void *payload), void *payload,
	void (*discard)(void *payload))
{
	if (db == NULL || fn == NULL)
		return sh_error_set(SH_EINVAL, "sh_on_commit: NULL connection or callback");
	if (db->depth == 0) {
		fn(payload);
		return 0;
	}
	if (db->on_commit_count == db->on_commit_capacity) {
		size_t cap = db->on_commit_capacity ? 2 * db->on_commit_capacity : 8;
		sh__on_commit *grown = realloc(db->on_commit, cap * sizeof *grown);
		if (grown == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory registering an on_commit callback");
		db->on_commit = grown;
		db->on_commit_capacity = cap;
	}
	db->on_commit[db->on_commit_count++] = (sh__on_commit){ fn, payload, discard, db->depth };
	return 0;
}
