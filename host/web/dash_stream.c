/*
 * dash_stream.c: the dashboard's trace hook and its live stream (dash.h).
 *
 * The hook runs on the sending thread. A receiver's run goes into its
 * histogram (dash_stats.c); the end of a send becomes an event, but only
 * while a stream is open: with none, the hook returns after one relaxed
 * load. With streams, the event (a few words, its strings the hub's) is
 * copied into the ring of each stream whose filters it passes; a full
 * ring drops it and counts (dash_ring.c). The sender never waits for a
 * client and never writes to a socket.
 *
 * Each stream is a libmicrohttpd callback response (text/event-stream).
 * Its content reader, on the connection's thread, hands over what the ring
 * holds as Server-Sent Events; with nothing to send it suspends its
 * connection (MHD_suspend_connection) and returns 0. The waker thread
 * looks every SH__WAKE_MS at the suspended streams and resumes those whose
 * ring has events or whose keep-alive is due (a comment line, so that a
 * vanished client is noticed when the write fails and its slot freed).
 * Senders thus never make the system call a resume costs.
 *
 * Watching: the trace hook is set only while someone watches: a stream is
 * open, or the page read the JSON document less than SH__WATCH_MS ago (the
 * page reads it every few seconds while it is open). Otherwise the hook is
 * cleared and a send costs its one untaken branch, as without a dashboard.
 * So the per-receiver statistics count the calls made while the dashboard
 * was watched; the waker thread clears the hook when watching stops.
 *
 * Locks: a stream's `lock` guards its connection pointer and `suspended`;
 * it is taken before libmicrohttpd's own (suspend and resume), never after.
 * The free callback clears the connection under it, so the waker never
 * resumes a connection that is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include <sighost/instance.h>

#include "dash.h"
#include "internal.h"
#include "../base/clock.h"

/* How often the waker looks at the suspended streams: the most an event
 * waits before its stream is resumed. */
#define SH__WAKE_MS 25
/* Events handed over in one call of the content reader. */
#define SH__READ_BATCH 256
/* The longest gap between two writes to a quiet stream. */
#define SH__BEAT_MAX_MS 10000
/* How long after the page last read the JSON document the hook stays set
 * (the page reads it every 2 s). */
#define SH__WATCH_MS 10000

/* ---- the trace hook ------------------------------------------------------ */

/* The primary key of an instance argument; -1 when it has none yet. */
static int64_t sh_web__pk_of(const sh_instance *instance)
{
	int64_t pk = instance != NULL ? sh_instance_pk(instance) : 0;
	return pk > 0 ? pk : -1;
}

/* Reads the key arguments of the signals whose args the host knows. */
static void sh_web__key_args(const struct sh__dash *d, const sh_trace_event *ev, sh__dash_event *out)
{
	const sh_signal *s = ev->signal;
	if (ev->args == NULL)
		return;
	if (s == d->post_save) {
		const sh_post_save_args *a = ev->args;
		out->pk = sh_web__pk_of(a->instance);
		out->created = a->created ? 1 : 0;
	} else if (s == d->pre_save) {
		out->pk = sh_web__pk_of(((const sh_pre_save_args *)ev->args)->instance);
	} else if (s == d->pre_delete || s == d->post_delete) {
		out->pk = sh_web__pk_of(((const sh_delete_args *)ev->args)->instance);
	} else if (s == d->post_init) {
		out->pk = sh_web__pk_of(((const sh_post_init_args *)ev->args)->instance);
	} else if (s == d->m2m_changed) {
		const sh_m2m_changed_args *a = ev->args;
		out->pk = sh_web__pk_of(a->instance);
		out->action = sh_m2m_action_name(a->action);
	}
}

/* Copies a send's event into the streams it passes the filters of. */
static void sh_web__publish(struct sh__dash *d, const sh_trace_event *ev)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	sh__dash_event e = {
		.seq = atomic_fetch_add_explicit(&d->seq, 1, memory_order_relaxed) + 1,
		.time_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000,
		.signal = sh_signal_name(ev->signal),
		.sender = ev->sender != NULL ? sh_sender_name(ev->sender) : NULL,
		.pk = -1, .created = -1, .action = NULL,
		.calls = (uint32_t)ev->calls, .ns = ev->ns, .status = ev->status,
	};
	sh_web__key_args(d, ev, &e);
	for (unsigned i = 0; i < d->config.stream_clients; i++) {
		sh__stream_client *c = &d->clients[i];
		if (!atomic_load_explicit(&c->in_use, memory_order_acquire))
			continue;
		if (c->signal != NULL && c->signal != ev->signal)
			continue;
		if (c->sender[0] != '\0' && (e.sender == NULL || strcmp(c->sender, e.sender) != 0))
			continue;
		if (sh_web__ring_push(&c->ring, &e) && c->ring.count == c->ring.capacity / 2)
			pthread_cond_signal(&d->waker_wake);   /* filling fast: don't wait for the tick */
	}
}

static void sh_web__dash_trace(const sh_trace_event *ev, void *payload)
{
	struct sh__dash *d = payload;
	if (ev->kind == SH_TRACE_RECEIVER) {
		sh_web__stats_record(d->stats, ev->receiver->id, ev->ns, ev->status != 0);
		return;
	}
	if (atomic_load_explicit(&d->streams, memory_order_relaxed) == 0)
		return;
	sh_web__publish(d, ev);
}

/* Sets or clears the trace hook. */
static void sh_web__dash_watch(struct sh__dash *d, bool on)
{
	pthread_mutex_lock(&d->trace_lock);
	if (on != d->traced && sh_hub_set_trace(d->hub, on ? sh_web__dash_trace : NULL,
			on ? d : NULL) == 0)
		d->traced = on;
	pthread_mutex_unlock(&d->trace_lock);
}

void sh_web__dash_touch(struct sh__dash *d)
{
	atomic_store(&d->watched_until_ms, sh__monotonic_ms() + SH__WATCH_MS);
	sh_web__dash_watch(d, true);
}

/* ---- streams --------------------------------------------------------------- */

/* Forgets the encoded names of a stream. */
static void sh_web__names_clear(sh__stream_client *c)
{
	for (size_t i = 0; i < SH__COUNT(c->names); i++) {
		free(c->names[i].json);
		c->names[i] = (struct sh__json_name_slot){ NULL, NULL };
	}
}


sh__stream_client *sh_web__dash_stream_open(struct sh__dash *d, void *connection,
	const sh_signal *signal, const char *sender)
{
	if (atomic_load(&d->closing))
		return NULL;
	for (unsigned i = 0; i < d->config.stream_clients; i++) {
		sh__stream_client *c = &d->clients[i];
		bool expected = false;
		pthread_mutex_lock(&c->lock);
		bool free_slot = c->connection == NULL && !atomic_load(&c->in_use);
		if (!free_slot) {
			pthread_mutex_unlock(&c->lock);
			continue;
		}
		sh_web__ring_reset(&c->ring);
		c->connection = connection;
		c->suspended = false;
		c->signal = signal;
		snprintf(c->sender, sizeof c->sender, "%s", sender != NULL ? sender : "");
		free(c->out);
		c->out = NULL;
		c->out_len = c->out_off = 0;
		sh_web__names_clear(c);
		c->dropped_told = 0;
		c->beat_ms = 0;   /* the first read says hello at once */
		atomic_compare_exchange_strong(&c->in_use, &expected, true);
		pthread_mutex_unlock(&c->lock);
		atomic_fetch_add(&d->streams, 1);
		sh_web__dash_watch(d, true);
		return c;
	}
	return NULL;
}

void sh_web__dash_stream_closed(void *cls)
{
	sh__stream_client *c = cls;
	struct sh__dash *d = c->dash;
	pthread_mutex_lock(&c->lock);
	atomic_store(&c->in_use, false);
	c->connection = NULL;
	c->suspended = false;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	sh_web__names_clear(c);
	pthread_mutex_unlock(&c->lock);
	atomic_fetch_sub(&d->streams, 1);
}

/* Appends one SSE message "event: NAME\ndata: JSON\n\n" to the stream's
 * pending bytes. Returns false when out of memory. */
static bool sh_web__emit(sh__wbuf *out, const char *name, json_t *data)
{
	char *text = data != NULL ? json_dumps(data, JSON_COMPACT) : NULL;
	json_decref(data);
	if (text == NULL)
		return false;
	int rc = sh_web__wbuf_printf(out, "event: %s\ndata: %s\n\n", name, text);
	free(text);
	return rc == 0;
}

/* `name` as a JSON string ("null" for NULL), encoded by jansson once per
 * name and stream: names are the hub's, so their pointers are stable.
 * NULL when out of memory. */
static const char *sh_web__json_name(sh__stream_client *c, const char *name)
{
	if (name == NULL)
		return "null";
	size_t n = SH__COUNT(c->names);
	size_t home = (size_t)(((uintptr_t)name >> 4) * 0x9E3779B97F4A7C15ull >> 58) % n;
	for (size_t k = 0; k < 4; k++) {
		struct sh__json_name_slot *e = &c->names[(home + k) % n];
		if (e->name == name)
			return e->json;
		if (e->name == NULL) {
			home = (home + k) % n;
			break;
		}
	}
	struct sh__json_name_slot *slot = &c->names[home];   /* free, or evicted */
	json_t *str = json_string(name);
	char *json = str != NULL ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
	json_decref(str);
	if (json == NULL)
		return NULL;
	free(slot->json);
	*slot = (struct sh__json_name_slot){ name, json };
	return json;
}

/* Appenders for sh_web__emit_event: each writes at `p` and returns the end. */
static char *sh_web__dash_stream_put(char *p, const char *text)
{
	return stpcpy(p, text);   /* its NUL is overwritten by what follows, or ends the text */
}

static char *sh_web__put_u64(char *p, uint64_t v)
{
	char digits[20];
	int n = 0;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

static char *sh_web__put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return sh_web__put_u64(p, (uint64_t)0 - (uint64_t)v);
	}
	return sh_web__put_u64(p, (uint64_t)v);
}

/* The most bytes sh_web__emit_event writes besides its names: its fixed text
 * and eight numbers of at most 20 digits and a sign. */
#define SH__EVENT_FIXED 320

/* Appends one event as "event: signal\ndata: {...}\n\n": a stream formats
 * thousands of events a second, so its numbers are written here rather
 * than through printf (several times the cost), and its names, the hub's
 * (stable pointers), are JSON-encoded by jansson once per stream
 * (sh_web__json_name). Returns false when out of memory. */
static bool sh_web__emit_event(sh__wbuf *out, sh__stream_client *c, const sh__dash_event *e,
	uint64_t dropped)
{
	const char *signal = sh_web__json_name(c, e->signal), *sender = sh_web__json_name(c, e->sender);
	const char *action = e->action != NULL ? sh_web__json_name(c, e->action) : NULL;
	if (signal == NULL || sender == NULL || (e->action != NULL && action == NULL))
		return false;
	size_t need = SH__EVENT_FIXED + strlen(signal) + strlen(sender)
		+ (action != NULL ? strlen(action) : 0);
	if (out->data == NULL || out->cap - out->len < need + 1) {
		size_t cap = out->cap * 2 > out->len + need + 1 ? out->cap * 2 : out->len + need + 1;
		char *grown = realloc(out->data, cap);
		if (grown == NULL)
			return false;
		out->data = grown;
		out->cap = cap;
	}
	char *p = out->data + out->len;
	p = sh_web__dash_stream_put(p, "event: signal\ndata: {\"seq\":");
	p = sh_web__put_u64(p, e->seq);
	p = sh_web__dash_stream_put(p, ",\"time_us\":");
	p = sh_web__put_i64(p, e->time_us);
	p = sh_web__dash_stream_put(sh_web__dash_stream_put(p, ",\"signal\":"), signal);
	p = sh_web__dash_stream_put(sh_web__dash_stream_put(p, ",\"sender\":"), sender);
	p = sh_web__put_u64(sh_web__dash_stream_put(p, ",\"receivers\":"), e->calls);
	p = sh_web__put_u64(sh_web__dash_stream_put(p, ",\"ns\":"), e->ns);
	p = sh_web__put_u64(sh_web__dash_stream_put(p, ",\"dropped\":"), dropped);
	p = sh_web__put_i64(sh_web__dash_stream_put(p, ",\"status\":"), e->status);
	if (e->pk >= 0)
		p = sh_web__put_i64(sh_web__dash_stream_put(p, ",\"pk\":"), e->pk);
	if (e->created >= 0)
		p = sh_web__dash_stream_put(p, e->created ? ",\"created\":true" : ",\"created\":false");
	if (action != NULL)
		p = sh_web__dash_stream_put(sh_web__dash_stream_put(p, ",\"action\":"), action);
	p = sh_web__dash_stream_put(p, "}\n\n");
	out->len = (size_t)(p - out->data);
	out->data[out->len] = '\0';
	return true;
}

/* Formats what the stream has to say now into its pending bytes: events,
 * a change of the drop count, a keep-alive. Returns false when there is
 * nothing to say. */
static bool sh_web__refill(sh__stream_client *c)
{
	sh__wbuf out = { 0 };
	sh__dash_event batch[SH__READ_BATCH];
	uint64_t dropped = 0;
	size_t n = sh_web__ring_pop(&c->ring, batch, SH__READ_BATCH, &dropped);
	bool ok = true;
	int64_t now = sh__monotonic_ms();
	if (c->beat_ms == 0)   /* a new stream: say so, and how many it may drop */
		ok = sh_web__emit(&out, "hello", json_pack("{s:I}", "buffer",
			(json_int_t)c->ring.capacity));
	for (size_t i = 0; ok && i < n; i++)
		ok = sh_web__emit_event(&out, c, &batch[i], dropped);
	if (ok && dropped != c->dropped_told)
		ok = sh_web__emit(&out, "dropped", json_pack("{s:I}", "dropped", (json_int_t)dropped));
	c->dropped_told = dropped;
	if (ok && out.len == 0 && now >= c->beat_ms)
		ok = sh_web__wbuf_puts(&out, ": keep-alive\n\n") == 0;
	if (!ok || out.len == 0) {
		sh_web__wbuf_dispose(&out);
		return false;
	}
	c->beat_ms = now + c->dash->beat_interval_ms;
	c->out = out.data;
	c->out_len = out.len;
	c->out_off = 0;
	return true;
}

ssize_t sh_web__dash_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	sh__stream_client *c = cls;
	struct sh__dash *d = c->dash;
	if (c->out_off == c->out_len) {
		free(c->out);
		c->out = NULL;
		c->out_len = c->out_off = 0;
		if (atomic_load(&d->closing))
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!sh_web__refill(c)) {
			pthread_mutex_lock(&c->lock);
			if (atomic_load(&d->closing)) {
				pthread_mutex_unlock(&c->lock);
				return MHD_CONTENT_READER_END_OF_STREAM;
			}
			c->suspended = true;
			MHD_suspend_connection(c->connection);
			pthread_mutex_unlock(&c->lock);
			return 0;
		}
	}
	size_t n = c->out_len - c->out_off;
	if (n > max)
		n = max;
	memcpy(buf, c->out + c->out_off, n);
	c->out_off += n;
	return (ssize_t)n;
}

/* Resumes a suspended stream; with `all`, whether or not it has events. */
static void sh_web__wake(sh__stream_client *c, bool all, int64_t now)
{
	pthread_mutex_lock(&c->lock);
	if (c->connection != NULL && c->suspended) {
		pthread_mutex_lock(&c->ring.lock);
		bool due = all || c->ring.count > 0 || c->ring.dropped != c->dropped_told
			|| now >= c->beat_ms;
		pthread_mutex_unlock(&c->ring.lock);
		if (due) {
			c->suspended = false;
			MHD_resume_connection(c->connection);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

static void *sh_web__waker_main(void *arg)
{
	struct sh__dash *d = arg;
	pthread_mutex_lock(&d->waker_lock);
	while (!d->waker_stop) {
		pthread_mutex_unlock(&d->waker_lock);
		int64_t now = sh__monotonic_ms();
		bool streams = atomic_load_explicit(&d->streams, memory_order_relaxed) > 0;
		for (unsigned i = 0; streams && i < d->config.stream_clients; i++)
			sh_web__wake(&d->clients[i], false, now);
		if (!atomic_load(&d->closing))
			sh_web__dash_watch(d, streams || now < atomic_load(&d->watched_until_ms));
		pthread_mutex_lock(&d->waker_lock);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += SH__WAKE_MS * 1000L * 1000;
		if (until.tv_nsec >= 1000L * 1000 * 1000) {
			until.tv_sec++;
			until.tv_nsec -= 1000L * 1000 * 1000;
		}
		if (!d->waker_stop)
			pthread_cond_timedwait(&d->waker_wake, &d->waker_lock, &until);
	}
	pthread_mutex_unlock(&d->waker_lock);
	return NULL;
}

/* ---- life ------------------------------------------------------------------ */

static void sh_web__dash_free(struct sh__dash *d)
{
	if (d == NULL)
		return;
	for (unsigned i = 0; d->clients != NULL && i < d->config.stream_clients; i++) {
		sh_web__ring_dispose(&d->clients[i].ring);
		pthread_mutex_destroy(&d->clients[i].lock);
		free(d->clients[i].out);
		sh_web__names_clear(&d->clients[i]);
	}
	free(d->clients);
	if (d->trace_lock_ready)
		pthread_mutex_destroy(&d->trace_lock);
	sh_web__stats_free(d->stats);
	free(d);
}

/* Looks up the built-in signals whose args the stream shows. */
static void sh_web__dash_signals(struct sh__dash *d)
{
	d->post_save = sh_hub_builtin(d->hub, SH_POST_SAVE);
	d->pre_save = sh_hub_builtin(d->hub, SH_PRE_SAVE);
	d->pre_delete = sh_hub_builtin(d->hub, SH_PRE_DELETE);
	d->post_delete = sh_hub_builtin(d->hub, SH_POST_DELETE);
	d->post_init = sh_hub_builtin(d->hub, SH_POST_INIT);
	d->m2m_changed = sh_hub_builtin(d->hub, SH_M2M_CHANGED);
}

int sh_web__dash_start(sh_server *server)
{
	const sh__dash_config *config = &server->config.dash;
	server->dash = NULL;
	if (!config->enabled)
		return 0;
	struct sh__dash *d = calloc(1, sizeof *d);
	if (d == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	d->server = server;
	d->hub = server->hub;
	d->config = *config;
	atomic_init(&d->streams, 0);
	atomic_init(&d->seq, 0);
	atomic_init(&d->closing, false);
	atomic_init(&d->watched_until_ms, 0);
	int64_t beat = (int64_t)server->config.request_timeout * 1000 / 2;
	d->beat_interval_ms = beat < SH__BEAT_MAX_MS ? beat : SH__BEAT_MAX_MS;
	sh_web__dash_signals(d);
	int rc = sh_web__stats_new(&d->stats, config->receivers);
	d->clients = rc == 0 ? calloc(config->stream_clients, sizeof *d->clients) : NULL;
	if (rc == 0 && d->clients == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	unsigned made = 0;
	for (; rc == 0 && made < config->stream_clients; made++) {
		sh__stream_client *c = &d->clients[made];
		c->dash = d;
		atomic_init(&c->in_use, false);
		if ((rc = sh_web__ring_init(&c->ring, config->stream_buffer)) == 0
			&& pthread_mutex_init(&c->lock, NULL) != 0) {
			sh_web__ring_dispose(&c->ring);
			rc = sh_error_set(SH_ENOMEM, "cannot make a lock for a stream");
		}
	}
	if (rc < 0) {
		d->config.stream_clients = made > 0 ? made - 1 : 0;   /* the ones fully made */
		sh_web__dash_free(d);
		return rc;
	}
	if (pthread_mutex_init(&d->trace_lock, NULL) != 0) {
		sh_web__dash_free(d);
		return sh_error_set(SH_ENOMEM, "cannot make a lock for the dashboard");
	}
	d->trace_lock_ready = true;
	if (pthread_mutex_init(&d->waker_lock, NULL) != 0
		|| pthread_cond_init(&d->waker_wake, NULL) != 0
		|| pthread_create(&d->waker, NULL, sh_web__waker_main, d) != 0) {
		sh_web__dash_free(d);
		return sh_error_set(SH_ENOMEM, "cannot start the dashboard's stream thread");
	}
	d->waker_running = true;
	server->dash = d;
	return 0;
}

void sh_web__dash_close_streams(struct sh__dash *d)
{
	if (d == NULL)
		return;
	atomic_store(&d->closing, true);
	int64_t now = sh__monotonic_ms();
	for (unsigned i = 0; i < d->config.stream_clients; i++)
		sh_web__wake(&d->clients[i], true, now);
}

void sh_web__dash_stop(struct sh__dash *d)
{
	if (d == NULL)
		return;
	if (d->waker_running) {
		pthread_mutex_lock(&d->waker_lock);
		d->waker_stop = true;
		pthread_cond_signal(&d->waker_wake);
		pthread_mutex_unlock(&d->waker_lock);
		pthread_join(d->waker, NULL);
		pthread_cond_destroy(&d->waker_wake);
		pthread_mutex_destroy(&d->waker_lock);
	}
	if (d->trace_lock_ready)
		sh_web__dash_watch(d, false);
	sh_hub_synchronize(d->hub);   /* no send still reports to this hook */
	sh_web__dash_free(d);
}

bool sh_web__dash_claims(const struct sh__dash *d, const char *path)
{
	size_t n = strlen(d->config.prefix);
	/* "/_sighost" without its slash is the dashboard too */
	return strncmp(path, d->config.prefix, n) == 0
		|| (strncmp(path, d->config.prefix, n - 1) == 0 && path[n - 1] == '\0');
}
