/*
 * durable.c: group commit (db.h, docs/instances.md "Group commit"): one
 * fdatasync of the write-ahead log makes the commits of many connections
 * durable at once.
 *
 * A group connection commits at SQLite's synchronous=NORMAL: COMMIT writes
 * the transaction's frames into the -wal file and returns without syncing.
 * Its WAL hook, which SQLite calls after those writes, numbers the commit
 * (`committed`, under the lock). The sync thread reads `committed`, syncs
 * the -wal file with fdatasync, and then knows every commit up to the
 * number it read durable: their frames were written before the sync began.
 * A writer waits until `synced` reaches its number, then its commit counts
 * as done (on_commit callbacks run, the server answers). A lone commit
 * waits for one sync, as at synchronous=FULL; commits made while a sync
 * runs share the next one.
 *
 * The rules of this file:
 * - Nothing waits for durability while holding the database's write_lock:
 *   the hook only numbers a commit made inside an atomic block, and
 *   sh_atomic_end() waits after releasing the lock.
 * - One sync runs at a time (the thread's, or when the thread could not
 *   start, the waiter's that found none running), so the -wal descriptor
 *   is only ever touched by the round in flight.
 * - A failed sync is sticky: the kernel may have dropped the pages it
 *   could not write, so a later sync that succeeds proves nothing about
 *   earlier frames, and a frame lost breaks the WAL's checksum chain for
 *   every frame after it. From then on every commit reports failure.
 * - Tickets (sh_durable, the server's waits) are woken outside the lock;
 *   a ticket is freed only once its wake has returned (state DONE).
 * Bounds: one ticket per request in flight (the server's connection
 * limit); the callbacks a ticket holds are those its request registered.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orm.h"

typedef enum sh__ticket_state {
	SH__TICKET_HELD,      /* made by sh_database_defer_end(), not registered */
	SH__TICKET_WAITING,   /* on the syncer's list */
	SH__TICKET_WAKING,    /* taken off it; its wake is running */
	SH__TICKET_DONE,      /* woken or cancelled */
} sh__ticket_state;

struct sh_durable {
	sh_database *database;
	uint64_t seq;               /* the last commit it waits for */
	sh__on_commit *items;       /* the held on_commit callbacks */
	size_t count;
	void (*wake)(void *payload);
	void *payload;
	sh__ticket_state state;
	struct sh_durable *next;
};

void sh_db__syncer_init(sh_database *database)
{
	sh__syncer *s = &database->syncer;
	memset(s, 0, sizeof *s);
	s->fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->done, NULL);
}

int sh_database_set_group_commit(sh_database *database, bool on)
{
	if (database == NULL)
		return sh_error_set(SH_EINVAL, "sh_database_set_group_commit: NULL database");
	pthread_mutex_lock(&database->syncer.lock);
	database->syncer.on = on;
	pthread_mutex_unlock(&database->syncer.lock);
	return 0;
}

unsigned long sh_database_syncs(sh_database *database)
{
	if (database == NULL)
		return 0;
	pthread_mutex_lock(&database->syncer.lock);
	unsigned long n = database->syncer.syncs;
	pthread_mutex_unlock(&database->syncer.lock);
	return n;
}

/* Syncs the -wal file, reopening it when its path names another file than
 * the one open (SQLite deletes the log when the last connection closes and
 * a later one makes a new file). The committers being waited for keep
 * their connections open, so the log they wrote is the one at the path.
 * Called by the one round in flight, without the lock. */
static int sh_db__sync_wal(sh__syncer *s, char *why, size_t size)
{
	struct stat st;
	if (s->wal == NULL) {
		snprintf(why, size, "SQLite gave no name for the write-ahead log");
		return -1;
	}
	if (stat(s->wal, &st) != 0) {
		snprintf(why, size, "cannot find the write-ahead log %s: %s", s->wal, strerror(errno));
		return -1;
	}
	if (s->fd < 0 || (unsigned long long)st.st_ino != s->ino
		|| (unsigned long long)st.st_dev != s->dev) {
		int fd = open(s->wal, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) != 0) {
			snprintf(why, size, "cannot open the write-ahead log %s: %s", s->wal,
				strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		if (s->fd >= 0)
			close(s->fd);
		s->fd = fd;
		s->ino = (unsigned long long)st.st_ino;
		s->dev = (unsigned long long)st.st_dev;
	}
	int rc;
	while ((rc = fdatasync(s->fd)) != 0 && errno == EINTR)
		;
	if (rc != 0) {
		snprintf(why, size, "fdatasync of the write-ahead log %s failed: %s", s->wal,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* One round: syncs every commit numbered so far, then wakes the tickets it
 * covered. Called with the lock held and `syncing` false; returns with it
 * held. */
static void sh_db__round(sh__syncer *s)
{
	s->syncing = true;
	uint64_t target = s->committed;
	bool failed = s->failure != 0;
	pthread_mutex_unlock(&s->lock);
	char why[sizeof s->reason] = "";
	int rc = failed ? -1 : sh_db__sync_wal(s, why, sizeof why);
	pthread_mutex_lock(&s->lock);
	s->syncing = false;
	if (rc == 0) {
		s->durable = target > s->durable ? target : s->durable;
		s->syncs++;
	} else if (!failed) {
		s->failure = SH_EUNAVAILABLE;
		snprintf(s->reason, sizeof s->reason, "%s", why);
	}
	s->synced = target > s->synced ? target : s->synced;
	/* take the covered tickets off the list, wake them outside the lock */
	struct sh_durable *woken = NULL, **link = &s->waiters;
	while (*link != NULL) {
		struct sh_durable *t = *link;
		if (t->seq <= s->synced) {
			*link = t->next;
			t->state = SH__TICKET_WAKING;
			t->next = woken;
			woken = t;
		} else {
			link = &t->next;
		}
	}
	pthread_cond_broadcast(&s->done);
	if (woken == NULL)
		return;
	pthread_mutex_unlock(&s->lock);
	for (struct sh_durable *t = woken; t != NULL; t = t->next)
		t->wake(t->payload);
	pthread_mutex_lock(&s->lock);
	while (woken != NULL) {   /* an owner may free its ticket once it is DONE */
		struct sh_durable *next = woken->next;
		woken->state = SH__TICKET_DONE;
		woken = next;
	}
	pthread_cond_broadcast(&s->done);
}

static void *sh_db__syncer_main(void *arg)
{
	sh__syncer *s = arg;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->stop && s->committed == s->synced)
			pthread_cond_wait(&s->wake, &s->lock);
		if (s->committed == s->synced)
			break;   /* stopping, nothing left to sync */
		sh_db__round(s);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Starts the thread if it is not running; called with the lock held. The
 * thread blocks every signal: the process's signal handling is its main
 * thread's business. */
static void sh_db__syncer_start(sh__syncer *s)
{
	if (s->started || s->failed_start || s->stop)
		return;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	s->failed_start = pthread_create(&s->thread, NULL, sh_db__syncer_main, s) != 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	s->started = !s->failed_start;
}

/* Waits, with the lock held, until commit `seq` was synced; when there is
 * no thread, runs the rounds itself. Returns 0 when it is durable, else
 * SH_EUNAVAILABLE with the reason. */
static int sh_db__wait_locked(sh__syncer *s, uint64_t seq, const char *path)
{
	while (s->synced < seq) {
		if (!s->started && !s->syncing)
			sh_db__round(s);
		else
			pthread_cond_wait(&s->done, &s->lock);
	}
	if (seq <= s->durable)
		return 0;
	return sh_error_set(SH_EUNAVAILABLE, "database %s: the commit was made but cannot be "
		"made durable: %s; no later commit can be either until sighost restarts (the disk "
		"may have dropped the pages it failed to write)", path, s->reason);
}

void sh_db__syncer_committed(sh_conn *db, sqlite3 *sqlite)
{
	sh__syncer *s = &db->database->syncer;
	pthread_mutex_lock(&s->lock);
	if (s->wal == NULL) {
		const char *wal = sqlite3_filename_wal(sqlite3_db_filename(sqlite, "main"));
		s->wal = wal != NULL ? strdup(wal) : NULL;   /* NULL: each sync fails, saying why */
	}
	uint64_t seq = ++s->committed;
	sh_db__syncer_start(s);
	if (s->started)
		pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	db->pending = seq;
}

int sh_db__durable_wait_now(sh_conn *db)
{
	uint64_t seq = db->pending;
	if (seq == 0)
		return 0;
	db->pending = 0;
	sh__syncer *s = &db->database->syncer;
	pthread_mutex_lock(&s->lock);
	int rc = sh_db__wait_locked(s, seq, db->database->path);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void sh_db__discard_items(sh__on_commit *items, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (items[i].discard != NULL)
			items[i].discard(items[i].payload);
	free(items);
}

void sh_db__durable_drop_held(sh_conn *db)
{
	sh_db__discard_items(db->held, db->held_count);
	db->held = NULL;
	db->held_count = db->held_capacity = 0;
}

/* Appends the connection's on_commit registrations to its held ones. */
static int sh_db__hold(sh_conn *db)
{
	if (db->on_commit_count == 0)
		return 0;
	size_t need = db->held_count + db->on_commit_count;
	if (need > db->held_capacity) {
		size_t cap = db->held_capacity ? db->held_capacity : 8;
		while (cap < need)
			cap *= 2;
		sh__on_commit *grown = realloc(db->held, cap * sizeof *grown);
		if (grown == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory holding on_commit callbacks");
		db->held = grown;
		db->held_capacity = cap;
	}
	memcpy(db->held + db->held_count, db->on_commit, db->on_commit_count * sizeof *db->held);
	db->held_count = need;
	db->on_commit_count = 0;
	return 0;
}

int sh_db__durable_after_commit(sh_conn *db)
{
	sh__on_commit *items = db->on_commit;
	size_t count = db->on_commit_count;
	if (sh_db__deferring(db) && (db->pending != 0 || db->held_count > 0)) {
		if (sh_db__hold(db) == 0)
			return 0;
		/* no room to hold them: wait here instead, as without deferral */
	}
	int rc = sh_db__durable_wait_now(db);
	db->on_commit = NULL;
	db->on_commit_count = db->on_commit_capacity = 0;
	if (rc < 0) {
		sh_db__discard_items(items, count);
		return rc;
	}
	sh_db__on_commit_run_items(items, count);
	return 0;
}

/* The calling thread's deferral: per thread, not per connection, so that
 * a connection the thread opens during the deferral (its first request)
 * defers too. One database at a time: a nested deferral of another
 * database is ignored. */
static _Thread_local sh_database *sh__defer_database;
static _Thread_local int sh__defer_depth;

bool sh_db__deferring(const sh_conn *db)
{
	return sh__defer_depth > 0 && sh__defer_database == db->database;
}

void sh_database_defer_begin(sh_database *database)
{
	if (database == NULL || (sh__defer_depth > 0 && sh__defer_database != database))
		return;
	sh__defer_database = database;
	sh__defer_depth++;
}

int sh_database_defer_end(sh_database *database, sh_durable **out)
{
	if (out != NULL)
		*out = NULL;
	if (database == NULL || sh__defer_depth == 0 || sh__defer_database != database
		|| --sh__defer_depth > 0)
		return 0;
	sh__defer_database = NULL;
	sh_conn *db = pthread_getspecific(database->key);
	if (db == NULL)
		return 0;
	sh__on_commit *items = db->held;
	size_t count = db->held_count;
	db->held = NULL;
	db->held_count = db->held_capacity = 0;
	uint64_t seq = db->pending;
	db->pending = 0;
	sh__syncer *s = &database->syncer;
	if (seq != 0) {
		pthread_mutex_lock(&s->lock);
		bool synced = s->synced >= seq;
		int rc = synced ? sh_db__wait_locked(s, seq, database->path) : 0;
		pthread_mutex_unlock(&s->lock);
		if (rc < 0) {
			sh_db__discard_items(items, count);
			return rc;
		}
		struct sh_durable *t = synced || out == NULL ? NULL : calloc(1, sizeof *t);
		if (t != NULL) {
			*t = (struct sh_durable){ database, seq, items, count, NULL, NULL,
				SH__TICKET_HELD, NULL };
			*out = t;
			return 1;
		}
		if (!synced) {   /* no ticket: wait here */
			db->pending = seq;
			if ((rc = sh_db__durable_wait_now(db)) < 0) {
				sh_db__discard_items(items, count);
				return rc;
			}
		}
	}
	sh_db__on_commit_run_items(items, count);
	return 0;
}

void sh_durable_notify(sh_durable *ticket, void (*wake)(void *payload), void *payload)
{
	if (ticket == NULL || wake == NULL || ticket->state != SH__TICKET_HELD)
		return;
	sh__syncer *s = &ticket->database->syncer;
	pthread_mutex_lock(&s->lock);
	ticket->wake = wake;
	ticket->payload = payload;
	if (s->synced >= ticket->seq) {
		ticket->state = SH__TICKET_DONE;
		pthread_mutex_unlock(&s->lock);
		wake(payload);
		return;
	}
	ticket->state = SH__TICKET_WAITING;
	ticket->next = s->waiters;
	s->waiters = ticket;
	sh_db__syncer_start(s);
	if (!s->started && !s->syncing)
		sh_db__round(s);   /* no thread: sync here (wakes this ticket) */
	pthread_mutex_unlock(&s->lock);
}

int sh_durable_finish(sh_durable *ticket)
{
	if (ticket == NULL)
		return 0;
	sh__syncer *s = &ticket->database->syncer;
	pthread_mutex_lock(&s->lock);
	if (ticket->state == SH__TICKET_WAITING) {   /* cancel its wake */
		for (struct sh_durable **link = &s->waiters; *link != NULL; link = &(*link)->next) {
			if (*link == ticket) {
				*link = ticket->next;
				break;
			}
		}
		ticket->state = SH__TICKET_DONE;
	}
	while (ticket->state == SH__TICKET_WAKING)
		pthread_cond_wait(&s->done, &s->lock);
	int rc = sh_db__wait_locked(s, ticket->seq, ticket->database->path);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		sh_db__discard_items(ticket->items, ticket->count);
	else
		sh_db__on_commit_run_items(ticket->items, ticket->count);
	free(ticket);
	return rc;
}

void sh_db__syncer_stop(sh_database *database)
{
	sh__syncer *s = &database->syncer;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	bool started = s->started;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (started)
		pthread_join(s->thread, NULL);
	if (s->fd >= 0)
		close(s->fd);
	free(s->wal);
	pthread_cond_destroy(&s->done);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
}
