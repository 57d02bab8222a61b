/*
 * receiver.h: declare receivers next to their functions, as Django's
 * @receiver decorator does, and connect them all with one call.
 *
 *     SH_RECEIVER(on_alert_saved, "post_save", "alert.Alert")
 *     {
 *         const sh_post_save_args *a = args;
 *         ...
 *         return 0;
 *     }
 *
 *     int ready(sh_app *app) { return SH_CONNECT_RECEIVERS(hub, "alert", NULL); }
 *
 * SH_RECEIVER defines a static receiver function whose parameters are named
 * signal, sender, args, response and payload (see sh_receiver_fn), and
 * records (signal name, sender name, function) in the ELF section
 * "sh_receivers" of the shared object it is compiled into. SH_CONNECT_RECEIVERS
 * connects every record of the calling shared object in source order: by
 * line within a file, files in the order of their names (the order the
 * compiler and linker lay records out in is not kept).
 */
#ifndef SIGHOST_RECEIVER_H
#define SIGHOST_RECEIVER_H

#include "signal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One declared receiver. */
typedef struct sh_receiver_decl {
	unsigned int version;      /* SH_RECEIVER_DECL_VERSION */
	const char *signal;        /* built-in ("post_save") or custom signal name */
	const char *sender;        /* sender name, NULL for any sender */
	sh_receiver_fn fn;
	const char *dispatch_uid;  /* NULL for none */
	int priority;
	const char *fn_name;       /* the function's name, for messages */
	const char *file;          /* where it was declared: __FILE__ */
	int line;                  /* and __LINE__ */
} sh_receiver_decl;

#define SH_RECEIVER_DECL_VERSION 1

/*
 * Connects each declaration in [begin, end) with `payload`, owned by
 * `owner` (may be NULL), in source order (file name, then line): looks the
 * signal up by name (creating a custom one
 * as sh_signal_named() does) and interns the sender. Stops at the first
 * failure and returns its code, with the declaration's function named in
 * the error message; returns 0 when all are connected (already connected
 * ones included). Empty or NULL ranges connect nothing.
 */
SH_API int sh_receivers_connect(sh_hub *hub, const char *owner, void *payload,
	const sh_receiver_decl *begin, const sh_receiver_decl *end);

#define SH__RECEIVER_PARAMS \
	sh_signal *signal __attribute__((unused)), \
	const sh_sender *sender __attribute__((unused)), \
	const void *args __attribute__((unused)), \
	void **response __attribute__((unused)), \
	void *payload __attribute__((unused))

/* Declares and defines receiver `fn` with priority and dispatch_uid. */
#define SH_RECEIVER_EX(fn, signal_name, sender_name, uid, prio)                     \
	static int fn(SH__RECEIVER_PARAMS);                                          \
	static const sh_receiver_decl sh__decl_##fn                                  \
		__attribute__((used, section("sh_receivers"), aligned(sizeof(void *)))) = \
		{ SH_RECEIVER_DECL_VERSION, (signal_name), (sender_name), fn, (uid), (prio), #fn, \
		  __FILE__, __LINE__ };                                                  \
	static int fn(SH__RECEIVER_PARAMS)

/* Declares and defines receiver `fn` of `signal_name` for `sender_name`
 * (NULL: any sender), with the default priority and no dispatch_uid. */
#define SH_RECEIVER(fn, signal_name, sender_name) \
	SH_RECEIVER_EX(fn, signal_name, sender_name, NULL, SH_PRIORITY_MIDDLE)

/* The linker's bounds of this shared object's "sh_receivers" section; weak,
 * so a shared object that declares no receiver sees two NULLs. The names
 * are the ones the linker gives (__start_SECTION, __stop_SECTION).
 * NOLINTBEGIN(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
extern const sh_receiver_decl __start_sh_receivers[] __attribute__((weak, visibility("hidden")));
extern const sh_receiver_decl __stop_sh_receivers[] __attribute__((weak, visibility("hidden")));
/* NOLINTEND(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */

/* Connects every receiver the calling shared object declared with SH_RECEIVER. */
#define SH_CONNECT_RECEIVERS(hub, owner, payload) \
	sh_receivers_connect((hub), (owner), (payload), __start_sh_receivers, __stop_sh_receivers)

#ifdef __cplusplus
}
#endif

#endif
