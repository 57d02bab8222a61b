/*
 * internal.h: the data structures of the dispatcher, shared by the files of
 * host/signal/ and by nothing else.
 *
 * Writers (connect, disconnect, declare, intern) hold hub->lock and keep, per
 * signal, the list of connections in send order (`conns`). After each change
 * they build an immutable snapshot from that list and publish it with
 * rcu_assign_pointer(); the replaced snapshot, and the connections it alone
 * still names, are freed by call_rcu() once no send can be reading them.
 * Senders read the snapshot inside an RCU read-side section (urcu-bp: no
 * registration, no lock, no shared write) and never touch `conns`.
 *
 * A snapshot keeps, besides the list of all connections, one ready-made
 * slot array per sender that has receivers of its own (those receivers
 * merged in order with the any-sender ones), found through a small
 * open-addressing table keyed by the sender's pointer. So a send does one
 * lookup and then walks exactly the receivers it calls, whatever number
 * wait on other senders.
 */
#ifndef SH_SIGNAL_INTERNAL_H
#define SH_SIGNAL_INTERNAL_H

/*
 * _LGPL_SOURCE inlines liburcu's read-side lock into the send path (a few
 * instructions instead of two calls). Sanitizer builds call the library's
 * functions instead: liburcu-bp 0.13 hands out reader records less aligned
 * than the type it declares for them, which UBSan reports inside the
 * inlined header code; the misalignment is liburcu's and harmless on x86.
 */
#ifndef SH__URCU_NO_INLINE
#define _LGPL_SOURCE 1
#endif
#include <pthread.h>
#include <urcu-bp.h>

#include <sighost/signal.h>

/* An interned sender: immutable once created, freed with the hub. */
struct sh_sender {
	struct sh_sender *next;  /* hash chain in the hub's intern table */
	uint64_t hash;
	char name[];
};

/* One connection. Immutable once created; freed after a grace period. */
typedef struct sh__conn {
	sh_connection_info info;  /* strings below are owned by the connection */
	char *uid;
	char *owner;
	char *name;
} sh__conn;

/* What a send needs of one receiver, kept inline for a tight loop. */
typedef struct sh__slot {
	sh_receiver_fn fn;
	void *payload;
	const sh__conn *conn;
} sh__slot;

typedef struct sh__bucket {
	const sh_sender *sender;  /* NULL: empty bucket */
	size_t count;
	const sh__slot *slots;
} sh__bucket;

typedef struct sh__snapshot {
	struct rcu_head rcu;
	size_t any_count;         /* receivers connected for any sender */
	const sh__slot *any;
	unsigned int shift;       /* 64 - log2(bucket count) */
	size_t mask;              /* bucket count - 1; 0 with no buckets */
	const sh__bucket *buckets;/* NULL when no receiver filters on a sender */
	size_t all_count;         /* every connection, in send order */
	sh__conn **all;
	sh__conn **dead;          /* set when retired: connections to free with it */
	size_t dead_count;
} sh__snapshot;

struct sh_signal {
	sh__snapshot *snap;       /* RCU-published; NULL when nothing is connected */
	bool traced;              /* the hub's trace hook is set: a copy kept here so
	                           * the send path tests it without reaching the hub */
	sh_hub *hub;
	char *name;
	bool builtin;
	char *declared_by;
	sh_args_copy_fn copy_args;  /* for async receivers; NULL: none */
	sh_args_free_fn free_args;
	/* writer side, under hub->lock */
	sh__conn **conns;
	size_t conn_count;
	size_t conn_capacity;
};

/* The trace hook, published like a snapshot. */
typedef struct sh__trace {
	struct rcu_head rcu;
	sh_trace_fn fn;
	void *payload;
} sh__trace;

struct sh_hub {
	sh__trace *trace;         /* RCU-published; NULL when tracing is off */
	struct sh_signal builtins[SH_BUILTIN_COUNT];
	pthread_mutex_t lock;
	sh_signal **customs;      /* in creation order */
	size_t custom_count;
	size_t custom_capacity;
	struct sh_sender **senders; /* intern table, chained */
	size_t sender_buckets;
	size_t sender_count;
	sh_connection_id next_id;
	sh_log_fn log_fn;
	void *log_payload;
	sh_executor_fn executor;  /* runs async receivers; NULL: they run inline */
	void *executor_payload;
};

/* The bucket index of a sender pointer in a snapshot's table. */
static inline size_t sh__sender_slot(const sh_sender *sender, unsigned int shift)
{
	return (size_t)(((uint64_t)(uintptr_t)sender * 0x9E3779B97F4A7C15ull) >> shift);
}

/* Initialises a signal of `hub` called `name` (copied). Returns 0 or SH_ENOMEM. */
int sh_signal__signal_init(sh_signal *signal, sh_hub *hub, const char *name, bool builtin);

/* Frees what a signal owns (not the struct). No send may be running. */
void sh_signal__signal_release(sh_signal *signal);

/* Removes every connection of `signal` for which match(conn, ctx) is true,
 * publishing a new snapshot. Caller holds hub->lock. Returns the count
 * removed, or SH_ENOMEM (then nothing was removed). */
int sh_signal__signal_remove_locked(sh_signal *signal,
	bool (*match)(const sh__conn *conn, const void *ctx), const void *ctx);

/* Frees a connection and its strings. */
void sh_signal__conn_free(sh__conn *conn);

/* The receiver that stands in a snapshot for an async connection (whose
 * sh__conn is the payload): hands the call to the hub's executor (async.c). */
int sh_signal__async_receiver(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload);

#endif
