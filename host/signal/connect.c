/*
 * connect.c: the writer side of the dispatcher: connect, disconnect, and
 * the immutable snapshots that sends read (see internal.h for the scheme).
 */
#include <stdlib.h>
#include <string.h>

#include <sighost/error.h>

#include "internal.h"

static char *sh_signal__strdup_or_null(const char *s, bool *failed)
{
	if (s == NULL)
		return NULL;
	char *copy = strdup(s);
	if (copy == NULL)
		*failed = true;
	return copy;
}

void sh_signal__conn_free(sh__conn *conn)
{
	if (conn == NULL)
		return;
	free(conn->uid);
	free(conn->owner);
	free(conn->name);
	free(conn);
}

static void sh_signal__snapshot_free(sh__snapshot *snap)
{
	for (size_t i = 0; i < snap->dead_count; i++)
		sh_signal__conn_free(snap->dead[i]);
	free(snap->dead);
	free(snap);
}

static void sh_signal__snapshot_free_rcu(struct rcu_head *head)
{
	sh_signal__snapshot_free(caa_container_of(head, sh__snapshot, rcu));
}

static bool sh_signal__conn_hears(const sh__conn *conn, const sh_sender *sender)
{
	return conn->info.sender == NULL || conn->info.sender == sender;
}

/* Fills `slots` with the connections of `conns` that hear `sender` (NULL:
 * the any-sender ones), in order. Returns how many. */
static size_t sh_signal__fill_slots(sh__slot *slots, sh__conn *const *conns, size_t n,
	const sh_sender *sender)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (sender == NULL ? conns[i]->info.sender != NULL : !sh_signal__conn_hears(conns[i], sender))
			continue;
		slots[k++] = conns[i]->info.async
			? (sh__slot){ sh_signal__async_receiver, conns[i], conns[i] }
			: (sh__slot){ conns[i]->info.receiver, conns[i]->info.payload, conns[i] };
	}
	return k;
}

/*
 * Builds the snapshot of `conns` in one allocation: header, bucket table,
 * the list of all connections, the any-sender slots, then one slot array
 * per distinct sender. Returns NULL with *failed unset for an empty list.
 */
static sh__snapshot *sh_signal__snapshot_build(sh__conn *const *conns, size_t n, bool *failed)
{
	if (n == 0)
		return NULL;
	size_t any = 0, distinct = 0, specific = 0;
	for (size_t i = 0; i < n; i++) {
		const sh_sender *s = conns[i]->info.sender;
		if (s == NULL) {
			any++;
			continue;
		}
		specific++;
		size_t j = 0;
		while (j < i && conns[j]->info.sender != s)
			j++;
		if (j == i)
			distinct++;
	}
	size_t buckets = 0;
	unsigned int shift = 64;
	if (distinct > 0) {
		buckets = 2;
		shift = 63;
		while (buckets < 2 * distinct) {
			buckets <<= 1;
			shift--;
		}
	}
	size_t slot_total = any + specific + distinct * any;
	size_t size = sizeof(sh__snapshot) + buckets * sizeof(sh__bucket)
		+ n * sizeof(sh__conn *) + slot_total * sizeof(sh__slot);
	sh__snapshot *snap = calloc(1, size);
	if (snap == NULL) {
		*failed = true;
		return NULL;
	}
	sh__bucket *table = (sh__bucket *)(snap + 1);
	sh__conn **all = (sh__conn **)(table + buckets);
	sh__slot *slots = (sh__slot *)(all + n);

	memcpy(all, conns, n * sizeof *all);
	snap->all = all;
	snap->all_count = n;
	snap->any = slots;
	snap->any_count = sh_signal__fill_slots(slots, conns, n, NULL);
	slots += snap->any_count;
	if (buckets > 0) {
		snap->buckets = table;
		snap->mask = buckets - 1;
		snap->shift = shift;
		for (size_t i = 0; i < n; i++) {
			const sh_sender *s = conns[i]->info.sender;
			if (s == NULL)
				continue;
			size_t b = sh__sender_slot(s, shift);
			while (table[b].sender != NULL && table[b].sender != s)
				b = (b + 1) & snap->mask;
			if (table[b].sender == s)
				continue;
			table[b].sender = s;
			table[b].slots = slots;
			table[b].count = sh_signal__fill_slots(slots, conns, n, s);
			slots += table[b].count;
		}
	}
	return snap;
}

/*
 * Publishes a snapshot of signal->conns and retires the previous one, which
 * takes `dead` (connections no longer in the list) along to be freed after
 * the grace period. Caller holds the lock. On SH_ENOMEM nothing changed.
 */
static int sh_signal__publish_locked(sh_signal *signal, sh__conn **dead, size_t dead_count)
{
	bool failed = false;
	sh__snapshot *next = sh_signal__snapshot_build(signal->conns, signal->conn_count, &failed);
	if (failed)
		return sh_error_set(SH_ENOMEM, "out of memory building the receivers of '%s'", signal->name);
	sh__snapshot *prev = signal->snap;
	rcu_assign_pointer(signal->snap, next);
	if (prev != NULL) {
		prev->dead = dead;
		prev->dead_count = dead_count;
		call_rcu(&prev->rcu, sh_signal__snapshot_free_rcu);
	} else {
		free(dead);
	}
	return 0;
}

static bool sh_signal__same_identity(const sh__conn *c, sh_receiver_fn fn, void *payload,
	const sh_sender *sender, const char *uid)
{
	if (c->info.sender != sender)
		return false;
	if (uid != NULL)
		return c->uid != NULL && strcmp(c->uid, uid) == 0;
	return c->uid == NULL && c->info.receiver == fn && c->info.payload == payload;
}

static sh__conn *sh_signal__conn_new(sh_hub *hub, sh_receiver_fn fn, void *payload,
	const sh_connect_opts *opts)
{
	sh__conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	bool failed = false;
	c->uid = sh_signal__strdup_or_null(opts->dispatch_uid, &failed);
	c->owner = sh_signal__strdup_or_null(opts->owner, &failed);
	c->name = sh_signal__strdup_or_null(opts->name, &failed);
	if (failed) {
		sh_signal__conn_free(c);
		return NULL;
	}
	c->info = (sh_connection_info){
		.id = ++hub->next_id,
		.receiver = fn,
		.payload = payload,
		.sender = opts->sender,
		.dispatch_uid = c->uid,
		.owner = c->owner,
		.priority = opts->priority,
		.name = c->name,
		.async = opts->async,
	};
	return c;
}

static int sh_signal__connect_locked(sh_connection_id *out, sh_signal *signal, sh_receiver_fn fn,
	void *payload, const sh_connect_opts *opts)
{
	for (size_t i = 0; i < signal->conn_count; i++) {
		if (sh_signal__same_identity(signal->conns[i], fn, payload, opts->sender, opts->dispatch_uid)) {
			if (out != NULL)
				*out = signal->conns[i]->info.id;
			return 1;
		}
	}
	if (signal->conn_count == signal->conn_capacity) {
		size_t cap = signal->conn_capacity ? 2 * signal->conn_capacity : 8;
		sh__conn **grown = realloc(signal->conns, cap * sizeof *grown);
		if (grown == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory connecting to '%s'", signal->name);
		signal->conns = grown;
		signal->conn_capacity = cap;
	}
	sh__conn *c = sh_signal__conn_new(signal->hub, fn, payload, opts);
	if (c == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory connecting to '%s'", signal->name);
	/* After every connection of the same or a lower priority: equal
	 * priorities keep connection order. */
	size_t at = signal->conn_count;
	while (at > 0 && signal->conns[at - 1]->info.priority > opts->priority)
		at--;
	memmove(signal->conns + at + 1, signal->conns + at,
		(signal->conn_count - at) * sizeof *signal->conns);
	signal->conns[at] = c;
	signal->conn_count++;
	int rc = sh_signal__publish_locked(signal, NULL, 0);
	if (rc < 0) {
		memmove(signal->conns + at, signal->conns + at + 1,
			(signal->conn_count - at - 1) * sizeof *signal->conns);
		signal->conn_count--;
		sh_signal__conn_free(c);
		return rc;
	}
	if (out != NULL)
		*out = c->info.id;
	return 0;
}

int sh_signal_connect(sh_connection_id *out, sh_signal *signal, sh_receiver_fn receiver,
	void *payload, const sh_connect_opts *opts)
{
	static const sh_connect_opts defaults = SH_CONNECT_OPTS_INIT;
	if (signal == NULL || receiver == NULL)
		return sh_error_set(SH_EINVAL, "sh_signal_connect: %s is NULL",
			signal == NULL ? "signal" : "receiver");
	if (opts == NULL)
		opts = &defaults;
	if (opts->version == 0 || opts->version > SH_CONNECT_OPTS_VERSION)
		return sh_error_set(SH_EINVAL, "sh_signal_connect: options version %u is not known "
			"(this library knows up to %d)", opts->version, SH_CONNECT_OPTS_VERSION);
	pthread_mutex_lock(&signal->hub->lock);
	int rc = sh_signal__connect_locked(out, signal, receiver, payload, opts);
	pthread_mutex_unlock(&signal->hub->lock);
	return rc;
}

int sh_signal__signal_remove_locked(sh_signal *signal,
	bool (*match)(const sh__conn *conn, const void *ctx), const void *ctx)
{
	size_t hits = 0;
	for (size_t i = 0; i < signal->conn_count; i++)
		hits += match(signal->conns[i], ctx);
	if (hits == 0)
		return 0;
	sh__conn **dead = malloc(hits * sizeof *dead);
	sh__conn **keep = malloc(signal->conn_count * sizeof *keep);
	if (dead == NULL || keep == NULL) {
		free(dead);
		free(keep);
		return sh_error_set(SH_ENOMEM, "out of memory disconnecting from '%s'", signal->name);
	}
	size_t kept = 0, gone = 0;
	for (size_t i = 0; i < signal->conn_count; i++) {
		if (match(signal->conns[i], ctx))
			dead[gone++] = signal->conns[i];
		else
			keep[kept++] = signal->conns[i];
	}
	sh__conn **old = signal->conns;
	size_t old_count = signal->conn_count;
	signal->conns = keep;
	signal->conn_count = kept;
	signal->conn_capacity = old_count;
	int rc = sh_signal__publish_locked(signal, dead, gone);
	if (rc < 0) {
		signal->conns = old;
		signal->conn_count = old_count;
		free(keep);
		free(dead);
		return rc;
	}
	free(old);
	return (int)gone;
}

/* Disconnects with `match` under the lock; 1 when removed, 0 when not. */
static int sh_signal__disconnect(sh_signal *signal, bool (*match)(const sh__conn *, const void *),
	const void *ctx)
{
	if (signal == NULL)
		return sh_error_set(SH_EINVAL, "disconnect: signal is NULL");
	pthread_mutex_lock(&signal->hub->lock);
	int rc = sh_signal__signal_remove_locked(signal, match, ctx);
	pthread_mutex_unlock(&signal->hub->lock);
	return rc > 0 ? 1 : rc;
}

static bool sh_signal__match_id(const sh__conn *c, const void *ctx)
{
	return c->info.id == *(const sh_connection_id *)ctx;
}

int sh_signal_disconnect(sh_signal *signal, sh_connection_id id)
{
	return sh_signal__disconnect(signal, sh_signal__match_id, &id);
}

struct sh__identity {
	sh_receiver_fn fn;
	void *payload;
	const sh_sender *sender;
	const char *uid;
};

static bool sh_signal__match_identity(const sh__conn *c, const void *ctx)
{
	const struct sh__identity *id = ctx;
	return sh_signal__same_identity(c, id->fn, id->payload, id->sender, id->uid);
}

int sh_signal_disconnect_receiver(sh_signal *signal, sh_receiver_fn receiver, void *payload,
	const sh_sender *sender)
{
	struct sh__identity id = { receiver, payload, sender, NULL };
	return sh_signal__disconnect(signal, sh_signal__match_identity, &id);
}

int sh_signal_disconnect_uid(sh_signal *signal, const char *dispatch_uid, const sh_sender *sender)
{
	if (dispatch_uid == NULL)
		return sh_error_set(SH_EINVAL, "sh_signal_disconnect_uid: dispatch_uid is NULL");
	struct sh__identity id = { NULL, NULL, sender, dispatch_uid };
	return sh_signal__disconnect(signal, sh_signal__match_identity, &id);
}

int sh_signal_foreach_connection(const sh_signal *signal,
	int (*fn)(const sh_connection_info *info, void *payload), void *payload)
{
	int rc = 0;
	rcu_read_lock();
	const sh__snapshot *snap = rcu_dereference(signal->snap);
	for (size_t i = 0; snap != NULL && i < snap->all_count && rc == 0; i++)
		rc = fn(&snap->all[i]->info, payload);
	rcu_read_unlock();
	return rc;
}

size_t sh_signal_connection_count(const sh_signal *signal)
{
	rcu_read_lock();
	const sh__snapshot *snap = rcu_dereference(signal->snap);
	size_t n = snap != NULL ? snap->all_count : 0;
	rcu_read_unlock();
	return n;
}

void sh_signal__signal_release(sh_signal *signal)
{
	if (signal->snap != NULL)
		sh_signal__snapshot_free(signal->snap);
	for (size_t i = 0; i < signal->conn_count; i++)
		sh_signal__conn_free(signal->conns[i]);
	free(signal->conns);
	free(signal->name);
	free(signal->declared_by);
}

int sh_signal__signal_init(sh_signal *signal, sh_hub *hub, const char *name, bool builtin)
{
	memset(signal, 0, sizeof *signal);
	signal->hub = hub;
	signal->builtin = builtin;
	signal->name = strdup(name);
	return signal->name != NULL ? 0 : sh_error_set(SH_ENOMEM, "out of memory naming signal '%s'", name);
}
