/*
 * common.h: what every public header of sighost needs: the export macro,
 * the ABI version and the opaque types that several modules share.
 *
 * A plugin includes <sighost/sighost.h>; this header is pulled in by all.
 */
#ifndef SIGHOST_COMMON_H
#define SIGHOST_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a function or object as part of libsighost's public ABI. */
#if defined(SH__BUILDING_LIBRARY)
#define SH_API __attribute__((visibility("default")))
#else
#define SH_API
#endif

/* The host's version, as a string and as numbers. */
#define SH_VERSION "0.1.0"
#define SH_VERSION_MAJOR 0
#define SH_VERSION_MINOR 1
#define SH_VERSION_PATCH 0

/*
 * The plugin ABI, major.minor. A plugin records the pair it was compiled
 * with (SH_PLUGIN_ABI in app.h); the host loads a plugin of its own major
 * whose minor is at most its own, and refuses any other (SH_EABI).
 * The minor goes up when something is added (a public function, a field
 * at the end of a versioned option struct): plugins built earlier keep
 * loading. The major goes up, and the minor back to 0, when something a
 * plugin sees changes or goes (docs/architecture.md).
 * `pkg-config --variable=abi sighost` prints "MAJOR.MINOR".
 */
#define SH_ABI_MAJOR 1
#define SH_ABI_MINOR 1

/* The major alone, as before minors existed (a plugin that records only
 * sh_plugin_abi is taken as MAJOR.0). */
#define SH_ABI_VERSION SH_ABI_MAJOR

/* Types owned by the host and only handled through pointers by plugins. */
typedef struct sh_hub sh_hub;           /* signals, senders, receivers */
typedef struct sh_signal sh_signal;     /* one signal, built-in or custom */
typedef struct sh_sender sh_sender;     /* an interned sender name */
typedef struct sh_app sh_app;           /* an installed app */
typedef struct sh_value sh_value;       /* a settings value */
typedef struct sh_model sh_model;       /* a model class */
typedef struct sh_instance sh_instance; /* a model instance */
typedef struct sh_state sh_state;       /* the model state (Django's `apps`) */
typedef struct sh_conn sh_conn;         /* a database connection */
typedef struct sh_template sh_template; /* a loaded template */
typedef struct sh_context sh_context;   /* a template context */
typedef struct sh_request sh_request;   /* an HTTP request */

/* Returns the library's version string (SH_VERSION of the build). */
SH_API const char *sh_version(void);

/* Returns the ABI major the library was built with (SH_ABI_MAJOR). */
SH_API int sh_abi_version(void);

/* Returns the ABI minor the library was built with (SH_ABI_MINOR). Since
 * ABI 1.1. */
SH_API int sh_abi_minor(void);

#ifdef __cplusplus
}
#endif

#endif
