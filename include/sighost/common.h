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
 * The plugin ABI version. A plugin records the value it was compiled with
 * (see SH_PLUGIN_ABI in app.h); the host refuses a plugin whose value
 * differs from its own. Raised whenever a public struct changes layout in a
 * way an older plugin would misread.
 */
#define SH_ABI_VERSION 1

/* Types owned by the host and only handled through pointers by plugins. */
typedef struct sh_hub sh_hub;           /* signals, senders, receivers */
typedef struct sh_signal sh_signal;     /* one signal, built-in or custom */
typedef struct sh_sender sh_sender;     /* an interned sender name */
typedef struct sh_app sh_app;           /* an installed app */
typedef struct sh_value sh_value;       /* a settings value */
typedef struct sh_model sh_model;       /* a model class */
typedef struct sh_instance sh_instance; /* a model instance */
typedef struct sh_state sh_state;       /* the model state (Django's `apps`) */
typedef struct sh_db sh_db;             /* a database connection */
typedef struct sh_template sh_template; /* a loaded template */
typedef struct sh_context sh_context;   /* a template context */
typedef struct sh_request sh_request;   /* an HTTP request */

/* Returns the library's version string (SH_VERSION of the build). */
SH_API const char *sh_version(void);

/* Returns the ABI version the library was built with (SH_ABI_VERSION). */
SH_API int sh_abi_version(void);

#ifdef __cplusplus
}
#endif

#endif
