/*
 * app.h: what a plugin sees of its app, and the plugin contract.
 *
 * A plugin is a shared object beside its app manifest (alert.so beside
 * alert.yaml in one of the project's plugin_dirs). It records the ABI it
 * was built for and defines ready(), and optionally teardown():
 *
 *     #include <sighost/sighost.h>
 *
 *     SH_PLUGIN_ABI;
 *
 *     SH_RECEIVER(on_alert_saved, "post_save", "alert.Alert")
 *     {
 *         sh_app_log(payload, SH_LOG_INFO, "Alert Created");
 *         return 0;
 *     }
 *
 *     int ready(sh_app *app) { return SH_APP_CONNECT_RECEIVERS(app, app); }
 *
 * The host loads apps in dependency order, each once: dlopen (RTLD_NOW |
 * RTLD_LOCAL), checks sh_plugin_abi against SH_ABI_VERSION, then calls
 * ready(app) on the main thread after every model is registered. ready()
 * returns 0, or a negative code after saying why with sh_error_set(); the
 * host then reports "plugin 'alert' (path): ready() failed: <message>" and
 * does not start. At shutdown, in reverse load order, the host calls
 * teardown(app) when the plugin defines it, disconnects every connection
 * the app owns, waits for running sends to leave its receivers, and
 * dlcloses it. Nothing of the plugin runs after teardown() returns.
 *
 * The sh_app handle is owned by the host and valid from ready() until
 * teardown() returns; every pointer it hands out lives as long.
 */
#ifndef SIGHOST_APP_H
#define SIGHOST_APP_H

#include "common.h"
#include "receiver.h"
#include "settings.h"
#include "signal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The names of the symbols the host looks up in a plugin. */
#define SH_PLUGIN_ABI_SYMBOL "sh_plugin_abi"
#define SH_PLUGIN_READY_SYMBOL "ready"
#define SH_PLUGIN_TEARDOWN_SYMBOL "teardown"

#define SH__PLUGIN_EXPORT __attribute__((visibility("default")))

/* Records, in the plugin, the ABI version it is compiled against, and
 * declares the entry points the plugin defines (so they are exported and
 * checked against these prototypes): ready() is required, teardown() is
 * optional. Write it once at file scope in the source file that defines
 * them: `SH_PLUGIN_ABI;`. Only a plugin sees these prototypes, so other
 * code that includes sighost.h may use the names freely. */
#define SH_PLUGIN_ABI \
	SH__PLUGIN_EXPORT int ready(sh_app *app); \
	SH__PLUGIN_EXPORT void teardown(sh_app *app); \
	SH__PLUGIN_EXPORT extern const int sh_plugin_abi; \
	SH__PLUGIN_EXPORT const int sh_plugin_abi = SH_ABI_VERSION

/* Returns the app's label ("alert"); owned by the host. */
SH_API const char *sh_app_label(const sh_app *app);

/* Returns the hub the app connects its receivers to. */
SH_API sh_hub *sh_app_hub(const sh_app *app);

/* Returns the `version` of the app manifest, "" when it names none. */
SH_API const char *sh_app_version(const sh_app *app);

/* Returns the path of the app manifest; owned by the host. */
SH_API const char *sh_app_manifest_path(const sh_app *app);

/* Returns the path of the app's shared object, NULL for an app without a
 * library. Owned by the host. */
SH_API const char *sh_app_library_path(const sh_app *app);

/* Returns the directory of the project manifest, which relative paths in
 * settings are meant against (no trailing slash). Owned by the host. */
SH_API const char *sh_app_project_dir(const sh_app *app);

/* Returns the app's own settings section, `settings.<label>` of the project
 * manifest (normally a map), NULL when the project gives none. */
SH_API const sh_value *sh_app_settings(const sh_app *app);

/* Returns the project setting at the dotted `key` ("debug", "audit.path"),
 * NULL when it is not set. */
SH_API const sh_value *sh_app_setting(const sh_app *app, const char *key);

/* Stores a pointer of the plugin's own (its state) in the app, so that
 * teardown() can find it. The plugin keeps ownership. */
SH_API void sh_app_set_data(sh_app *app, void *data);

/* Returns what sh_app_set_data() stored, NULL before. */
SH_API void *sh_app_data(const sh_app *app);

/* Logs `fmt` (printf-style) through the hub's logger with the app's label
 * as origin. The message is truncated to 1023 bytes. Any thread. */
SH_API void sh_app_log(const sh_app *app, sh_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Connects `receiver` with `payload` to the signal called `signal_name` (a
 * built-in or a custom name, see sh_signal_named) for the sender called
 * `sender_name` (NULL: every sender), owned by the app: the owner in
 * `opts` is replaced by the app's label, the other options are kept (`opts`
 * may be NULL). Stores the connection's id in *out when out is non-NULL.
 * Returns 0 when connected, 1 when that identity was connected already,
 * SH_EINVAL for a NULL app, name or receiver, SH_ENOMEM; the error channel
 * says which signal.
 */
SH_API int sh_app_connect(sh_connection_id *out, sh_app *app, const char *signal_name,
	const char *sender_name, sh_receiver_fn receiver, void *payload,
	const sh_connect_opts *opts);

/*
 * Declares the custom signal `name` ("billing.invoice_paid") on behalf of
 * the app and stores it in *out. The name should start with the app's
 * label and a dot. Returns 0, SH_EINVAL for an empty name or the name of a
 * built-in, SH_ENOMEM.
 */
SH_API int sh_app_declare_signal(sh_signal **out, sh_app *app, const char *name);

/* Connects every receiver the calling plugin declared with SH_RECEIVER,
 * owned by `app`, with `payload` (often the app itself). Returns as
 * sh_receivers_connect(). */
#define SH_APP_CONNECT_RECEIVERS(app, payload) \
	SH_CONNECT_RECEIVERS(sh_app_hub(app), sh_app_label(app), (payload))

#ifdef __cplusplus
}
#endif

#endif
