/*
 * error.h: the one error channel of sighost.
 *
 * Every library function that can fail returns an int: 0 (or a documented
 * non-negative value) on success, a negative SH_E* code on failure. The
 * human-readable reason is kept per thread and read with sh_error_last();
 * the library never prints.
 */
#ifndef SIGHOST_ERROR_H
#define SIGHOST_ERROR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. Negative, so `if (rc < 0)` tests for any failure. */
typedef enum sh_error_code {
	SH_OK = 0,
	SH_ERROR = -1,       /* a failure with no more specific code */
	SH_ENOMEM = -2,      /* out of memory */
	SH_EINVAL = -3,      /* an argument is invalid (NULL, empty, out of range) */
	SH_ENOTFOUND = -4,   /* the named thing does not exist */
	SH_EEXISTS = -5,     /* the thing exists already */
	SH_EMANIFEST = -6,   /* a manifest is malformed or invalid */
	SH_ELOAD = -7,       /* a plugin could not be loaded */
	SH_EABI = -8,        /* a plugin was built for another ABI */
	SH_EPERM = -9,       /* refused for safety (e.g. a writable plugin file) */
	SH_EDB = -10,        /* the database reported an error */
	SH_ERECEIVER = -11,  /* a receiver failed without a code of its own */
	SH_EIO = -12,        /* reading or writing a file failed */
	SH_EPROTECTED = -13, /* a delete is refused by PROTECT or RESTRICT keys */
	SH_EINTEGRITY = -14, /* a unique, not-null or foreign key constraint failed */
	SH_EUNAVAILABLE = -15, /* the database cannot be written or read for now: the disk
	                       * is full, the file is read-only or locked by another
	                       * process, or an I/O error; retrying after the cause is
	                       * gone may succeed (the server answers 503) */
	SH_EHTTP404 = -16     /* a view's Django `raise Http404`: the server answers 404 as
	                       * for a path no route matches (see sh_http_not_found) */
} sh_error_code;

/* The last error raised on the calling thread. */
typedef struct sh_error {
	int code;            /* one of sh_error_code, or a receiver's own negative code */
	const char *message; /* never NULL; "" when no error was raised */
} sh_error;

/*
 * Returns the last error raised on the calling thread. The pointer and its
 * message stay valid until the next sighost call on this thread that raises
 * or clears an error. Never returns NULL: with no error, code is 0 and
 * message is "".
 */
SH_API const sh_error *sh_error_last(void);

/*
 * Raises an error on the calling thread: records code and the printf-style
 * message (truncated to 1023 bytes) and returns code, so a function can
 * `return sh_error_set(SH_EINVAL, "...")`. Receivers and plugins use it to
 * say why they failed.
 */
SH_API int sh_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Clears the calling thread's error (code 0, message ""). */
SH_API void sh_error_clear(void);

/* Returns a short constant name for an error code, e.g. "SH_ENOTFOUND";
 * "SH_E(unknown)" for a code that is not one of sh_error_code. Never NULL. */
SH_API const char *sh_error_name(int code);

#ifdef __cplusplus
}
#endif

#endif
