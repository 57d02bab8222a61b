/*
 * signal.h: the signal dispatcher, django.dispatch.Signal in C.
 *
 * A hub owns the signals (Django's 16 built-ins and the custom ones declared
 * by name), the interned senders and every connection. Receivers connect to
 * a signal, optionally for one sender only; a send calls the receivers that
 * match, in connection order (within priority bands), and collects their
 * responses.
 *
 * Threads. Any thread may send at any time, also while other threads connect
 * and disconnect: a send reads an immutable snapshot of the receiver list
 * and takes no lock. Connect and disconnect are serialised per hub. A send
 * works on the snapshot it started with: a receiver connected during a send
 * is called from the next send on, one disconnected during a send is still
 * called by that send. Receivers run on the sending thread, one at a time.
 * A receiver may send signals and connect or disconnect receivers, itself
 * included.
 */
#ifndef SIGHOST_SIGNAL_H
#define SIGHOST_SIGNAL_H

#include "builtins.h"
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A receiver. `signal` and `sender` identify the send (sender may be NULL
 * when the sender sent none), `args` is the signal's argument struct (see
 * builtins.h; for custom signals whatever the sender documents), `payload`
 * the user data given at connect. A receiver may store a response in
 * `*response` (it starts NULL; the receiver keeps ownership of what it points
 * to). It returns 0 on success or a negative code on failure, after saying
 * why with sh_error_set().
 */
typedef int (*sh_receiver_fn)(sh_signal *signal, const sh_sender *sender,
	const void *args, void **response, void *payload);

/* Identifies one connection. 0 is never a valid connection. */
typedef uint64_t sh_connection_id;

/* Priority bands, as Apache's hook order. Lower runs first; equal
 * priorities keep connection order. Any int is accepted. */
enum {
	SH_PRIORITY_REALLY_FIRST = -10,
	SH_PRIORITY_FIRST = 0,
	SH_PRIORITY_MIDDLE = 10,
	SH_PRIORITY_LAST = 20,
	SH_PRIORITY_REALLY_LAST = 30
};

/* Options of sh_signal_connect(). Initialise with SH_CONNECT_OPTS_INIT. */
typedef struct sh_connect_opts {
	unsigned int version;       /* SH_CONNECT_OPTS_VERSION */
	const sh_sender *sender;    /* hear only this sender; NULL for every sender */
	const char *dispatch_uid;   /* identity of the connection instead of the receiver; copied */
	const char *owner;          /* the app that owns it (its label), or NULL; copied */
	int priority;               /* SH_PRIORITY_MIDDLE unless set */
	const char *name;           /* the receiver's name for introspection, or NULL
	                             * (then `sighost signals` asks dladdr); copied */
	bool async;                 /* run on the hub's executor, off the sending thread
	                             * (see "Asynchronous receivers" below) */
} sh_connect_opts;

#define SH_CONNECT_OPTS_VERSION 1
#define SH_CONNECT_OPTS_INIT { SH_CONNECT_OPTS_VERSION, NULL, NULL, NULL, SH_PRIORITY_MIDDLE, NULL, false }

/* What a send reports of one receiver that ran. */
typedef struct sh_response {
	sh_connection_id connection;
	sh_receiver_fn receiver;
	void *payload;              /* the connection's user data */
	void *value;                /* what the receiver stored in *response */
	int error;                  /* 0, or the receiver's negative status (SH_ERECEIVER
	                             * when it returned a positive value) */
	char *message;              /* the receiver's error message when error != 0,
	                             * NULL when it succeeded; owned by the responses */
} sh_response;

/* The responses of one send, in the order the receivers ran. The caller
 * owns it: initialise with SH_RESPONSES_INIT, release with
 * sh_responses_dispose(). A send appends to it. */
typedef struct sh_responses {
	sh_response *items;
	size_t count;
	size_t capacity;
} sh_responses;

#define SH_RESPONSES_INIT { NULL, 0, 0 }

/*
 * How deeply sends may nest on one thread: a receiver that sends (or
 * saves, deletes, ...) runs its own sends inside the outer one. A send
 * that would call receivers past this depth calls none and fails with
 * SH_ERROR naming the signal, the receiver that sent it and the one it
 * would call (a receiver whose sends reach itself); the failure travels
 * back through every level like any receiver's error.
 */
#define SH_SIGNAL_MAX_DEPTH 64

/* Releases what a send stored in `responses` and empties it (it may be reused). */
SH_API void sh_responses_dispose(sh_responses *responses);

/* A connection, as introspection shows it. Strings are owned by the hub. */
typedef struct sh_connection_info {
	sh_connection_id id;
	sh_receiver_fn receiver;
	void *payload;
	const sh_sender *sender;    /* NULL for any sender */
	const char *dispatch_uid;   /* NULL when none */
	const char *owner;          /* NULL when none */
	int priority;
	const char *name;           /* the name given at connect, NULL when none */
	bool async;                 /* connected to run on the executor */
} sh_connection_info;

/* One event of the trace hook. */
typedef enum sh_trace_kind {
	SH_TRACE_RECEIVER,          /* a receiver ran: receiver, ns and status are set */
	SH_TRACE_SEND               /* the send ended: ns is the whole send, status its result */
} sh_trace_kind;

typedef struct sh_trace_event {
	sh_trace_kind kind;
	const sh_signal *signal;
	const sh_sender *sender;
	bool robust;                         /* sent with sh_signal_send_robust() */
	const sh_connection_info *receiver;  /* SH_TRACE_RECEIVER only */
	uint64_t ns;                         /* wall time taken, in nanoseconds */
	int status;                          /* 0 or a negative error code */
	/* Added after the first release (readers built earlier ignore them): */
	const void *args;                    /* the send's args, as the receivers got them */
	size_t calls;                        /* SH_TRACE_SEND: receivers called */
} sh_trace_event;

/* A trace hook. Called on the sending thread; must not connect, disconnect
 * or change the trace hook. */
typedef void (*sh_trace_fn)(const sh_trace_event *event, void *payload);

/* Log levels of the hub's logger. */
typedef enum sh_log_level { SH_LOG_DEBUG, SH_LOG_INFO, SH_LOG_WARNING, SH_LOG_ERROR } sh_log_level;

/* A logger: `origin` names who speaks (an app label, or "sighost"). */
typedef void (*sh_log_fn)(sh_log_level level, const char *origin, const char *message, void *payload);

/* ---- the hub ---------------------------------------------------------- */

/*
 * Creates an empty hub with the 16 built-in signals and no receivers.
 * Returns 0 and stores the hub in *out, or SH_ENOMEM. The caller owns the
 * hub and frees it with sh_hub_free().
 */
SH_API int sh_hub_new(sh_hub **out);

/*
 * Frees a hub, every signal, sender and connection in it. No send may be
 * running and no other thread may use the hub. NULL is a no-op.
 */
SH_API void sh_hub_free(sh_hub *hub);

/* Returns the built-in signal `id` of `hub`, or NULL when id is out of range. */
SH_API sh_signal *sh_hub_builtin(sh_hub *hub, sh_builtin id);

/*
 * Sets the logger send_robust reports failing receivers to (and the host
 * logs through). NULL restores the default, which discards messages.
 * Set it before sends start: it is not synchronised with running sends.
 */
SH_API void sh_hub_set_logger(sh_hub *hub, sh_log_fn fn, void *payload);

/* Logs `message` through the hub's logger, printf-style. */
SH_API void sh_hub_log(sh_hub *hub, sh_log_level level, const char *origin, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Enables the trace hook (fn non-NULL) or disables it (fn NULL). While
 * enabled, every send reports one SH_TRACE_RECEIVER event per receiver run
 * and one SH_TRACE_SEND event at its end (also a send that called none). Disabled, it costs a send one
 * predictable branch. Safe while other threads send; a send already running
 * may still report to the previous hook. Returns 0 or SH_ENOMEM.
 */
SH_API int sh_hub_set_trace(sh_hub *hub, sh_trace_fn fn, void *payload);

/*
 * Disconnects every connection whose owner is `owner` from every signal of
 * the hub. Returns how many were removed (0 when none), SH_EINVAL for a NULL
 * hub or owner, SH_ENOMEM.
 */
SH_API int sh_hub_disconnect_owner(sh_hub *hub, const char *owner);

/*
 * Waits until every send that started before the call has finished, so
 * that code of receivers disconnected before the call (a plugin about to be
 * dlclosed) is no longer running. Must not be called from a receiver.
 */
SH_API void sh_hub_synchronize(sh_hub *hub);

/*
 * Calls fn for every signal of the hub: the built-ins in sh_builtin order,
 * then the custom signals in the order they were first named. Stops early
 * and returns fn's value when fn returns non-zero; returns 0 otherwise.
 */
SH_API int sh_hub_foreach_signal(sh_hub *hub,
	int (*fn)(sh_signal *signal, void *payload), void *payload);

/* ---- senders ---------------------------------------------------------- */

/*
 * Interns `name` (a model's "app_label.ModelName", or any other name) and
 * stores the hub's unique sender for it in *out: equal names give the same
 * pointer, so matching a sender is a pointer compare. The sender lives as
 * long as the hub. Returns 0, SH_EINVAL for a NULL or empty name, SH_ENOMEM.
 */
SH_API int sh_sender_intern(const sh_sender **out, sh_hub *hub, const char *name);

/* Returns the name a sender was interned with; owned by the hub. */
SH_API const char *sh_sender_name(const sh_sender *sender);

/* ---- signals ---------------------------------------------------------- */

/*
 * Stores in *out the signal called `name`: a built-in by its Django name
 * ("post_save") or a custom signal by its full name ("billing.invoice_paid").
 * A custom name seen for the first time creates the signal, undeclared, so
 * a receiver can connect before the plugin that declares it loads. Returns 0,
 * SH_EINVAL for a NULL or empty name, SH_ENOMEM.
 */
SH_API int sh_signal_named(sh_signal **out, sh_hub *hub, const char *name);

/*
 * Declares the custom signal `name` on behalf of `owner` (an app label, or
 * NULL) and stores it in *out. Declaring a name twice returns the same
 * signal (the first declarer stays its owner). Returns 0, SH_EINVAL for a
 * NULL or empty name or the name of a built-in signal, SH_ENOMEM.
 */
SH_API int sh_signal_declare(sh_signal **out, sh_hub *hub, const char *name, const char *owner);

/*
 * Stores in *out the existing signal called `name` without creating one.
 * Returns 0 or SH_ENOTFOUND.
 */
SH_API int sh_signal_lookup(sh_signal **out, sh_hub *hub, const char *name);

/* Returns the signal's name; owned by the hub.
 *
 * sh_signal_named(), sh_signal_declare(), sh_signal_lookup() and
 * sh_sender_intern() may be called from any thread at any time; they
 * serialise on the hub's lock (they are not meant for the send path:
 * look a signal up and intern a sender once, keep the pointers). */
SH_API const char *sh_signal_name(const sh_signal *signal);

/* Returns true for a built-in signal. */
SH_API bool sh_signal_is_builtin(const sh_signal *signal);

/* Returns the app that declared a custom signal, NULL for a built-in or a
 * custom signal nobody declared (yet). */
SH_API const char *sh_signal_declared_by(const sh_signal *signal);

/* Returns the hub a signal belongs to. */
SH_API sh_hub *sh_signal_hub(const sh_signal *signal);

/*
 * Connects `receiver` with `payload` to `signal`. The identity of a
 * connection is (dispatch_uid, or else the pair receiver and payload)
 * together with the sender filter; connecting an identity that is already
 * connected changes nothing, as in Django. A connection with a dispatch_uid
 * and one without are different identities even for the same receiver. `opts` may be NULL for the
 * defaults. Stores the connection's id in *out (the existing one for a
 * duplicate) when out is non-NULL.
 * Returns 0 when connected, 1 when the identity was connected already,
 * SH_EINVAL for a NULL signal or receiver or an opts version this library
 * does not know, SH_ENOMEM.
 */
SH_API int sh_signal_connect(sh_connection_id *out, sh_signal *signal,
	sh_receiver_fn receiver, void *payload, const sh_connect_opts *opts);

/* Disconnects the connection `id`. Returns 1 when removed, 0 when there was
 * no such connection on this signal. */
SH_API int sh_signal_disconnect(sh_signal *signal, sh_connection_id id);

/* Disconnects (receiver, payload) connected for `sender` (NULL: connected
 * for any sender) without a dispatch_uid. Returns 1 when removed, 0 when not
 * connected. */
SH_API int sh_signal_disconnect_receiver(sh_signal *signal, sh_receiver_fn receiver,
	void *payload, const sh_sender *sender);

/* Disconnects the connection with `dispatch_uid` for `sender`. Returns 1
 * when removed, 0 when there was none, SH_EINVAL for a NULL uid. */
SH_API int sh_signal_disconnect_uid(sh_signal *signal, const char *dispatch_uid,
	const sh_sender *sender);

/* Returns true when a send from `sender` would call at least one receiver
 * (one connected for that sender or for any sender). */
SH_API bool sh_signal_has_listeners(const sh_signal *signal, const sh_sender *sender);

/*
 * Sends `signal` from `sender` (NULL: no sender; only receivers connected
 * for any sender hear it) with `args`. Calls each matching receiver in
 * order; the first one that fails stops the send. When `out` is non-NULL
 * one sh_response per receiver that ran is appended to it, the failing one
 * included. Returns 0 when every receiver succeeded (also when none
 * matched), else the failing receiver's code (SH_ERECEIVER if it returned
 * a positive value); the error channel then holds its message. Returns
 * SH_ENOMEM when a response could not be recorded (the receiver had run).
 */
SH_API int sh_signal_send(sh_signal *signal, const sh_sender *sender,
	const void *args, sh_responses *out);

/*
 * Sends like sh_signal_send() but every matching receiver runs: a failing
 * receiver's error code and message take the place of its response, and
 * the failure is logged through the hub's logger at SH_LOG_ERROR, with the
 * signal's name and the receiver's message, under the connection's owner. Returns 0 (the send
 * itself succeeded), or SH_ENOMEM when a response could not be recorded.
 */
SH_API int sh_signal_send_robust(sh_signal *signal, const sh_sender *sender,
	const void *args, sh_responses *out);

/*
 * Calls fn for every connection of the signal, in the order a send calls
 * them (a send from a sender calls the subset that matches it). The info
 * is valid only during the call. Stops early and returns fn's value when it
 * returns non-zero; returns 0 otherwise. fn must not connect or disconnect
 * receivers of the same hub.
 */
SH_API int sh_signal_foreach_connection(const sh_signal *signal,
	int (*fn)(const sh_connection_info *info, void *payload), void *payload);

/* Returns how many connections the signal has (for any sender). */
SH_API size_t sh_signal_connection_count(const sh_signal *signal);

/* ---- asynchronous receivers ---------------------------------------- */

/*
 * A receiver connected with opts.async set does not run on the sending
 * thread: the send copies the signal's arguments with the signal's copier
 * and hands a job to the hub's executor, which runs the receiver later on
 * one of its threads with the copy (then frees it). The send does not wait:
 * such a receiver counts as succeeded for the send, its response is NULL,
 * and its failure is logged through the hub's logger with its owner.
 * Without an executor (sh_hub_set_executor not called, as in `sighost
 * check` or `migrate`), async receivers run inline like the others.
 *
 * A signal whose args an async receiver must see needs a copier: the host
 * sets one for every built-in signal it sends with arguments; a plugin
 * that declares a custom signal sets one with sh_signal_set_copier(). A
 * signal without a copier can still reach async receivers when sent with
 * args NULL; with args it fails that receiver (logged) and runs the rest.
 */

/* Copies `args` for an async receiver. Returns the copy (owned by the
 * caller, released with the matching free function), NULL on failure. */
typedef void *(*sh_args_copy_fn)(const void *args);
typedef void (*sh_args_free_fn)(void *copy);

/*
 * Sets the functions that copy and free the signal's args for async
 * receivers. Returns 0, SH_EINVAL when either is NULL. Set it before
 * sends that reach async receivers (it is not synchronised with them).
 */
SH_API int sh_signal_set_copier(sh_signal *signal, sh_args_copy_fn copy, sh_args_free_fn free_fn);

/* An executor: runs job(context) later, on a thread of its own, exactly
 * once. Returns 0 when it took the job, a negative code when it did not
 * (then the caller runs nothing and cleans up). May block while full. */
typedef int (*sh_executor_fn)(void (*job)(void *context), void *context, void *payload);

/*
 * Sets the executor async receivers run on (NULL: none, run them inline).
 * The owner of the executor must drain it before the plugins whose
 * receivers it may still run are unloaded. Set it before sends start.
 */
SH_API void sh_hub_set_executor(sh_hub *hub, sh_executor_fn fn, void *payload);

#ifdef __cplusplus
}
#endif

#endif
