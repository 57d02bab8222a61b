/*
 * send.c: the read side of the dispatcher: send, send_robust and
 * has_listeners. This is the hot path: no lock, no allocation unless the
 * caller collects responses, no string compare, and one predictable branch
 * for the trace hook. A send that calls receivers counts its nesting on
 * the thread (two thread-local stores per receiver) so that a receiver
 * whose sends reach itself fails with an error naming both, past
 * SH_SIGNAL_MAX_DEPTH, instead of overflowing the stack.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sighost/error.h>

#include "internal.h"

#define SH__UNLIKELY(x) __builtin_expect(!!(x), 0)

void sh_responses_dispose(sh_responses *responses)
{
	if (responses == NULL)
		return;
	for (size_t i = 0; i < responses->count; i++)
		free(responses->items[i].message);
	free(responses->items);
	*responses = (sh_responses)SH_RESPONSES_INIT;
}

static int sh_signal__record(sh_responses *out, const sh__slot *slot, void *value, int error)
{
	if (out->count == out->capacity) {
		size_t cap = out->capacity ? 2 * out->capacity : 8;
		sh_response *grown = realloc(out->items, cap * sizeof *grown);
		if (grown == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory recording a response");
		out->items = grown;
		out->capacity = cap;
	}
	char *message = NULL;
	if (error != 0 && (message = strdup(sh_error_last()->message)) == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory recording a receiver's error");
	out->items[out->count++] = (sh_response){
		.connection = slot->conn->info.id,
		.receiver = slot->fn,
		.payload = slot->payload,
		.value = value,
		.error = error,
		.message = message,
	};
	return 0;
}

/* The slots a send from `sender` calls. */
static inline const sh__slot *sh_signal__match(const sh__snapshot *snap, const sh_sender *sender,
	size_t *count)
{
	if (snap->buckets != NULL && sender != NULL) {
		size_t b = sh__sender_slot(sender, snap->shift);
		for (;;) {
			const sh__bucket *bucket = &snap->buckets[b];
			if (bucket->sender == sender) {
				*count = bucket->count;
				return bucket->slots;
			}
			if (bucket->sender == NULL)
				break;
			b = (b + 1) & snap->mask;
		}
	}
	*count = snap->any_count;
	return snap->any;
}

/* Turns a receiver's non-zero status into the error a send reports, making
 * sure the error channel says which receiver failed. */
static int sh_signal__receiver_failed(sh_signal *signal, const sh__slot *slot, int status)
{
	int code = status < 0 ? status : SH_ERECEIVER;
	const sh_error *last = sh_error_last();
	if (last->code != status || last->message[0] == '\0') {
		const char *name = slot->conn->info.name ? slot->conn->info.name : "a receiver";
		sh_error_set(code, "%s of signal '%s' failed with status %d", name, signal->name, status);
	} else if (code != status) {
		sh_error_set(code, "%s", last->message);
	}
	return code;
}

/* How deep the sends of this thread are nested, and the receiver running
 * at the innermost one (initial-exec: no call to reach them). */
static __thread unsigned sh__depth __attribute__((tls_model("initial-exec")));
static __thread const sh_connection_info *sh__running
	__attribute__((tls_model("initial-exec")));

static __attribute__((noinline, cold)) int sh_signal__too_deep(const sh_signal *signal,
	const sh__slot *next)
{
	const char *running = sh__running != NULL && sh__running->name != NULL
		? sh__running->name : "(unnamed)";
	const char *owner = sh__running != NULL && sh__running->owner != NULL
		? sh__running->owner : "sighost";
	const char *callee = next->conn->info.name ? next->conn->info.name : "(unnamed)";
	return sh_error_set(SH_ERROR, "signal '%s' not sent: sends nested %d deep "
		"(SH_SIGNAL_MAX_DEPTH); receiver %s of %s sent it, and would call receiver %s again: "
		"a receiver whose sends reach itself", signal->name, SH_SIGNAL_MAX_DEPTH, running,
		owner, callee);
}

static uint64_t sh_signal__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Calls the receivers of one send. Inlined into each caller with constant
 * `robust` and `trace`, so the plain send compiles to a tight loop.
 */
static inline __attribute__((always_inline)) int sh_signal__dispatch(sh_signal *signal, const sh_sender *sender,
	const void *args, sh_responses *out, bool robust, const sh__trace *trace)
{
	int result = 0;
	uint64_t start = trace != NULL ? sh_signal__now_ns() : 0;
	rcu_read_lock();
	const sh__snapshot *snap = rcu_dereference(signal->snap);
	size_t count = 0;
	const sh__slot *slots = snap != NULL ? sh_signal__match(snap, sender, &count) : NULL;
	if (SH__UNLIKELY(count > 0 && sh__depth >= SH_SIGNAL_MAX_DEPTH)) {
		rcu_read_unlock();
		return sh_signal__too_deep(signal, &slots[0]);
	}
	const sh_connection_info *outer = sh__running;
	sh__depth++;
	size_t calls = 0;
	for (size_t i = 0; i < count; i++) {
		calls++;
		void *response = NULL;
		uint64_t t0 = trace != NULL ? sh_signal__now_ns() : 0;
		sh__running = &slots[i].conn->info;
		int status = slots[i].fn(signal, sender, args, &response, slots[i].payload);
		int error = SH__UNLIKELY(status != 0) ? sh_signal__receiver_failed(signal, &slots[i], status) : 0;
		if (trace != NULL) {
			sh_trace_event ev = { SH_TRACE_RECEIVER, signal, sender, robust,
				&slots[i].conn->info, sh_signal__now_ns() - t0, error, args, 0 };
			trace->fn(&ev, trace->payload);
		}
		if (SH__UNLIKELY(error != 0) && robust) {
			const char *owner = slots[i].conn->info.owner;
			sh_hub_log(signal->hub, SH_LOG_ERROR, owner ? owner : "sighost",
				"error calling receiver of signal '%s': %s", signal->name,
				sh_error_last()->message);
		}
		if (out != NULL && sh_signal__record(out, &slots[i], response, error) < 0) {
			result = SH_ENOMEM;
			break;
		}
		if (SH__UNLIKELY(error != 0) && !robust) {
			result = error;
			break;
		}
	}
	sh__depth--;
	sh__running = outer;
	rcu_read_unlock();
	if (trace != NULL) {
		sh_trace_event ev = { SH_TRACE_SEND, signal, sender, robust, NULL,
			sh_signal__now_ns() - start, result, args, calls };
		trace->fn(&ev, trace->payload);
	}
	return result;
}

/* The slow path, taken only while a trace hook is set. */
static __attribute__((noinline)) int sh_signal__send_traced(sh_signal *signal,
	const sh_sender *sender, const void *args, sh_responses *out, bool robust)
{
	rcu_read_lock();
	const sh__trace *trace = rcu_dereference(signal->hub->trace);
	int rc = trace != NULL
		? (robust ? sh_signal__dispatch(signal, sender, args, out, true, trace)
		          : sh_signal__dispatch(signal, sender, args, out, false, trace))
		: (robust ? sh_signal__dispatch(signal, sender, args, out, true, NULL)
		          : sh_signal__dispatch(signal, sender, args, out, false, NULL));
	rcu_read_unlock();
	return rc;
}

/* The untraced sends, one copy per (robust, collecting) pair, so that the
 * entry points below stay small enough to return at once when nothing is
 * connected. */
static __attribute__((noinline)) int sh_signal__send_plain(sh_signal *signal,
	const sh_sender *sender, const void *args)
{
	return sh_signal__dispatch(signal, sender, args, NULL, false, NULL);
}

static __attribute__((noinline)) int sh_signal__send_collect(sh_signal *signal,
	const sh_sender *sender, const void *args, sh_responses *out)
{
	return sh_signal__dispatch(signal, sender, args, out, false, NULL);
}

static __attribute__((noinline)) int sh_signal__send_robust(sh_signal *signal,
	const sh_sender *sender, const void *args, sh_responses *out)
{
	return sh_signal__dispatch(signal, sender, args, out, true, NULL);
}

int sh_signal_send(sh_signal *signal, const sh_sender *sender, const void *args,
	sh_responses *out)
{
	if (SH__UNLIKELY(CMM_LOAD_SHARED(signal->traced)))
		return sh_signal__send_traced(signal, sender, args, out, false);
	if (CMM_LOAD_SHARED(signal->snap) == NULL)
		return 0;
	return out == NULL ? sh_signal__send_plain(signal, sender, args)
	                   : sh_signal__send_collect(signal, sender, args, out);
}

int sh_signal_send_robust(sh_signal *signal, const sh_sender *sender, const void *args,
	sh_responses *out)
{
	if (SH__UNLIKELY(CMM_LOAD_SHARED(signal->traced)))
		return sh_signal__send_traced(signal, sender, args, out, true);
	if (CMM_LOAD_SHARED(signal->snap) == NULL)
		return 0;
	return sh_signal__send_robust(signal, sender, args, out);
}

bool sh_signal_has_listeners(const sh_signal *signal, const sh_sender *sender)
{
	if (CMM_LOAD_SHARED(signal->snap) == NULL)
		return false;
	rcu_read_lock();
	const sh__snapshot *snap = rcu_dereference(signal->snap);
	size_t count = 0;
	if (snap != NULL)
		sh_signal__match(snap, sender, &count);
	rcu_read_unlock();
	return count > 0;
}
