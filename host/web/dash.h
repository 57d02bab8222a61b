/*
 * dash.h: the introspection dashboard of `sighost serve` (docs/dashboard.md),
 * shared by the dash_*.c files of host/web/ and by server.c and handler.c,
 * which start it and hand it the requests under its prefix.
 *
 *   dash_stats.c   per-receiver call counts and time histograms, fixed size
 *   dash_ring.c    a stream client's bounded buffer of events (drop-and-count)
 *   dash_stream.c  the trace hook, the set of stream clients and the thread
 *                  that wakes their suspended connections
 *   dash_json.c    the JSON document behind the page (apps, signals, models...)
 *   dash_http.c    the routes under the prefix: page, assets, JSON, SSE stream
 *   dash_assets.c  the page's files, embedded at build time (the files of dash/)
 *
 * The data structures of dash_stats.c and dash_ring.c depend on nothing but
 * libc, so their unit tests compile them on their own.
 */
#ifndef SH_WEB_DASH_H
#define SH_WEB_DASH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <microhttpd.h>

/* ---- per-receiver histograms (dash_stats.c) ----------------------------
 *
 * One record per receiver (keyed by its connection id) in a table whose
 * size is fixed when it is made: a receiver that finds the table full is
 * not tracked, only counted. A record holds its calls, its failures and a
 * histogram of its times with 4 buckets per power of two (so a percentile
 * is within 12.5% of the true value), updated with relaxed atomic adds
 * from any thread: no lock, no allocation after creation. */

#define SH__HIST_BUCKETS 252   /* 4 exact values, then 4 per octave up to 2^64 ns */

typedef struct sh__hist {
	atomic_uint_least64_t id;       /* the connection id, 0 while the record is free */
	atomic_uint_least64_t calls;
	atomic_uint_least64_t failures;
	atomic_uint_least64_t max_ns;
	atomic_uint_least32_t buckets[SH__HIST_BUCKETS];
} sh__hist;

typedef struct sh__stats {
	size_t mask;                    /* capacity - 1 (capacity a power of two) */
	atomic_uint_least64_t untracked;/* calls of receivers that found the table full */
	sh__hist *records;
} sh__stats;

/* What sh_web__stats_get() reports of one receiver. */
typedef struct sh__stats_summary {
	uint64_t calls;
	uint64_t failures;
	uint64_t p50_ns;                /* the middle of the bucket holding the percentile */
	uint64_t p99_ns;
	uint64_t max_ns;
} sh__stats_summary;

/* Makes a table for at least `capacity` receivers (rounded up to a power
 * of two, at least 16). Returns 0 or SH_ENOMEM. */
int sh_web__stats_new(sh__stats **out, size_t capacity);

/* Frees the table. NULL is a no-op. */
void sh_web__stats_free(sh__stats *stats);

/* Counts one call of receiver `id` (non-zero) that took `ns`. */
void sh_web__stats_record(sh__stats *stats, uint64_t id, uint64_t ns, bool failed);

/* Fills *out for receiver `id`; returns false (and zeroes *out) when it
 * was never recorded. */
bool sh_web__stats_get(const sh__stats *stats, uint64_t id, sh__stats_summary *out);

/* Calls not recorded because the table was full. */
uint64_t sh_web__stats_untracked(const sh__stats *stats);

/* The bucket of a time, and the range [*low, *high] of a bucket. */
size_t sh_web__hist_bucket(uint64_t ns);
void sh_web__hist_range(size_t bucket, uint64_t *low, uint64_t *high);

/* ---- a stream client's buffer (dash_ring.c) ----------------------------
 *
 * Events are fixed-size records whose strings are the hub's (signal
 * names, interned sender names: they live as long as the hub), so a send
 * copies a few words and allocates nothing. A full ring drops the new
 * event and counts it: the sender never waits for the reader. */

typedef struct sh__dash_event {
	uint64_t seq;                   /* order of the send among all the traced ones */
	int64_t time_us;                /* CLOCK_REALTIME, microseconds */
	const char *signal;
	const char *sender;             /* NULL: sent without a sender */
	int64_t pk;                     /* the instance's pk; -1 when none or not set */
	int created;                    /* post_save: 0 or 1; -1 for other signals */
	const char *action;             /* m2m_changed's action; NULL otherwise */
	uint32_t calls;                 /* receivers run */
	uint64_t ns;                    /* the whole send */
	int status;                     /* the send's result */
} sh__dash_event;

typedef struct sh__ring {
	pthread_mutex_t lock;           /* held for a copy in or out, never longer */
	sh__dash_event *items;
	size_t capacity;
	size_t head;                    /* the oldest event */
	size_t count;
	uint64_t dropped;               /* events that found it full */
} sh__ring;

/* Makes an empty ring of `capacity` (>= 1) events. Returns 0 or SH_ENOMEM. */
int sh_web__ring_init(sh__ring *ring, size_t capacity);

/* Frees what the ring holds. */
void sh_web__ring_dispose(sh__ring *ring);

/* Empties the ring and its drop count (a new client in a reused slot). */
void sh_web__ring_reset(sh__ring *ring);

/* Appends a copy of `event`; when the ring is full the event is dropped,
 * counted, and false returned. */
bool sh_web__ring_push(sh__ring *ring, const sh__dash_event *event);

/* Moves up to `max` of the oldest events into out[] and returns how many;
 * *dropped gets the drop count so far. */
size_t sh_web__ring_pop(sh__ring *ring, sh__dash_event *out, size_t max, uint64_t *dropped);

/* ---- the dashboard (dash_stream.c, dash_http.c) ------------------------ */

struct sh_server;
struct sh_request;
struct sh_signal;
struct sh_hub;
struct json_t;

/* One open stream (a slot of a fixed array: stream_clients bounds them). */
typedef struct sh__stream_client {
	struct sh__dash *dash;
	atomic_bool in_use;             /* the trace hook fills it */
	pthread_mutex_t lock;           /* guards connection and suspended */
	void *connection;               /* struct MHD_Connection; NULL once closed */
	bool suspended;                 /* its connection waits for events */
	const struct sh_signal *signal; /* filter; NULL: every signal */
	char sender[161];               /* filter; "": every sender */
	sh__ring ring;
	/* the connection's thread only */
	struct sh__json_name_slot {          /* names (the hub's, stable) already JSON-encoded */
		const char *name;
		char *json;
	} names[64];
	char *out;                      /* bytes formatted, not yet handed over */
	size_t out_len, out_off;
	uint64_t dropped_told;          /* the drop count last sent to the page */
	int64_t beat_ms;                /* when the next keep-alive is due */
} sh__stream_client;

/* The dashboard's settings (the manifest's `dashboard` map). */
typedef struct sh__dash_config {
	bool enabled;                   /* dashboard.enabled, else settings.debug */
	char prefix[65];                /* "/_sighost/" */
	unsigned stream_clients;        /* streams open at once */
	unsigned stream_buffer;         /* events buffered per stream client */
	unsigned receivers;             /* receivers with a histogram */
} sh__dash_config;

struct sh__dash {
	struct sh_server *server;
	struct sh_hub *hub;
	sh__dash_config config;
	sh__stats *stats;
	atomic_uint streams;            /* open streams: the trace hook's one test */
	atomic_uint_least64_t seq;
	atomic_bool closing;            /* the server stops: streams end */
	sh__stream_client *clients;     /* config.stream_clients of them */
	const struct sh_signal *post_save, *pre_save, *pre_delete, *post_delete,
		*post_init, *m2m_changed;   /* the signals whose args the stream shows */
	int64_t beat_interval_ms;       /* keep-alive comments, below the idle timeout */
	atomic_int_least64_t watched_until_ms;  /* the page read the JSON lately: trace until */
	pthread_mutex_t trace_lock;     /* serialises setting and clearing the trace hook */
	bool traced;                    /* the hook is set (under trace_lock) */
	bool trace_lock_ready;
	pthread_t waker;                /* resumes suspended streams that have events */
	pthread_mutex_t waker_lock;
	pthread_cond_t waker_wake;
	bool waker_stop;
	bool waker_running;
};

/* Notes that the page read the JSON document: the trace hook stays set
 * (statistics are counted) for SH__WATCH_MS from now. */
void sh_web__dash_touch(struct sh__dash *dash);

/* Claims a stream slot for `connection` with the given filters. Returns
 * the slot, NULL when every slot is taken. */
sh__stream_client *sh_web__dash_stream_open(struct sh__dash *dash, void *connection,
	const struct sh_signal *signal, const char *sender);

/* libmicrohttpd's content reader and its free callback for a stream. */
ssize_t sh_web__dash_stream_read(void *cls, uint64_t pos, char *buf, size_t max);
void sh_web__dash_stream_closed(void *cls);

/* Starts the dashboard of a server about to serve (its trace hook, the
 * stream's thread), stored in server->dash. Returns 0 or a negative code. */
int sh_web__dash_start(struct sh_server *server);

/* Ends every stream (their connections are resumed and finish), so that
 * the server can stop; the trace hook stays. */
void sh_web__dash_close_streams(struct sh__dash *dash);

/* Removes the trace hook, stops the thread and frees the dashboard. No
 * connection may be open any more. NULL is a no-op. */
void sh_web__dash_stop(struct sh__dash *dash);

/* Builds the JSON document of GET <prefix>api (dash_json.c) into *out,
 * with the receivers' statistics. Returns 0 or SH_ENOMEM. */
int sh_web__dash_document(struct json_t **out, struct sh__dash *dash);

/* True when `path` lies under the dashboard's prefix. */
bool sh_web__dash_claims(const struct sh__dash *dash, const char *path);

/* Answers a request under the prefix. Returns libmicrohttpd's result. */
enum MHD_Result sh_web__dash_answer(struct sh_request *request);

#endif
