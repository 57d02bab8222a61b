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
 *
 * Models and the early hook. Loading follows Django's app loading: the
 * host reads every manifest, declares the models of every installed app
 * (in load order), opens each plugin (dlopen, ABI check) and calls its
 * optional early(app), then prepares the models, which sends
 * class_prepared once per model, then calls each ready(). A receiver
 * connected in ready() therefore hears no class_prepared; a plugin that
 * must (the counterpart of a Django app connecting before its models
 * module is imported) connects in early():
 *
 *     int early(sh_app *app)
 *     {
 *         return sh_app_connect(NULL, app, "class_prepared", NULL, on_prepared, app, NULL);
 *     }
 *
 * In early() the models are declared but not prepared (relations are not
 * resolved, join models do not exist yet) and there is no database:
 * sh_app_conn() fails. early() returns 0 or a negative code after
 * sh_error_set(); the host then reports "plugin 'x' (path): early()
 * failed: <message>" and loads neither the app nor its dependents.
 * Connections made in early() are owned by the app like those of ready().
 * teardown() is called for a plugin whose early() or ready() returned 0,
 * also when its ready() was never called (a later step failed), so it can
 * free what early() allocated.
 *
 * The probe. The sighost commands load the plugins first in a child
 * process (sh_project_probe, project.h) that runs the same steps (dlopen,
 * early(), ready(), then teardown()) and exits, so that a plugin that
 * crashes or hangs there is named, not fatal. Each entry point therefore
 * runs twice per command, once in that child: write them so that running
 * again is harmless, as Django asks of AppConfig.ready().
 */
#ifndef SIGHOST_APP_H
#define SIGHOST_APP_H

#include "common.h"
#include "model.h"
#include "receiver.h"
#include "settings.h"
#include "signal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The names of the symbols the host looks up in a plugin. */
#define SH_PLUGIN_ABI_SYMBOL "sh_plugin_abi"
#define SH_PLUGIN_ABI_MINOR_SYMBOL "sh_plugin_abi_minor"
#define SH_PLUGIN_READY_SYMBOL "ready"
#define SH_PLUGIN_TEARDOWN_SYMBOL "teardown"
#define SH_PLUGIN_EARLY_SYMBOL "early"

#define SH__PLUGIN_EXPORT __attribute__((visibility("default")))

/* The ABI a plugin records: the headers' own unless defined before
 * sighost.h is included (or with -D). A plugin that uses nothing added
 * after 1.0 may say so, `-DSH_PLUGIN_ABI_MINOR=0`, and load on every 1.x
 * host. */
#ifndef SH_PLUGIN_ABI_MAJOR
#define SH_PLUGIN_ABI_MAJOR SH_ABI_MAJOR
#endif
#ifndef SH_PLUGIN_ABI_MINOR
#define SH_PLUGIN_ABI_MINOR SH_ABI_MINOR
#endif

/* Records, in the plugin, the ABI major.minor it is compiled against
 * (sh_plugin_abi and sh_plugin_abi_minor), and
 * declares the entry points the plugin defines (so they are exported and
 * checked against these prototypes): ready() is required, teardown() and
 * early() are optional. Write it once at file scope in the source file that defines
 * them: `SH_PLUGIN_ABI;`. Only a plugin sees these prototypes, so other
 * code that includes sighost.h may use the names freely. */
#define SH_PLUGIN_ABI \
	SH__PLUGIN_EXPORT int ready(sh_app *app); \
	SH__PLUGIN_EXPORT void teardown(sh_app *app); \
	SH__PLUGIN_EXPORT int early(sh_app *app); \
	SH__PLUGIN_EXPORT extern const int sh_plugin_abi; \
	SH__PLUGIN_EXPORT const int sh_plugin_abi = SH_PLUGIN_ABI_MAJOR; \
	SH__PLUGIN_EXPORT extern const int sh_plugin_abi_minor; \
	SH__PLUGIN_EXPORT const int sh_plugin_abi_minor = SH_PLUGIN_ABI_MINOR

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

/*
 * Settings are live: `sighost serve` reloads them when the project
 * manifest changes (or on SIGHUP), and sh_app_settings_override() changes
 * them for a scope; each changed key sends setting_changed (sender
 * "sighost.settings"; see "Live settings" in project.h). The two functions
 * below always answer with the settings as they stand now, from any
 * thread, without locking. A value they return is never freed or changed
 * while the app is loaded, even after the settings change (it then is the
 * old value): keep pointers if you like, but call again to see a change.
 * Read sh_app_settings() once per job to see one consistent version of
 * the whole section.
 */

/* Returns the app's own settings section, `settings.<label>` of the project
 * manifest (normally a map), NULL when the project gives none. */
SH_API const sh_value *sh_app_settings(const sh_app *app);

/* Returns the project setting at the dotted `key` ("debug", "audit.path"),
 * NULL when it is not set. */
SH_API const sh_value *sh_app_setting(const sh_app *app, const char *key);

/*
 * Overrides the project setting at the dotted `key` with the value the
 * YAML text `yaml` reads as (NULL: removes the key) until the matching
 * sh_app_settings_restore(), sending setting_changed with enter true: the
 * counterpart of Django's override_settings, for tests and for plugins.
 * Overrides of every app and of the host share one stack per project:
 * restore in the reverse order. Returns as sh_settings_override()
 * (project.h); SH_EINVAL for a NULL app.
 */
SH_API int sh_app_settings_override(sh_app *app, const char *key, const char *yaml);

/* Overrides several keys at once, as sh_settings_override_many()
 * (project.h): Django's override_settings(A=..., B=...). Returns as it
 * does; SH_EINVAL for a NULL app. */
SH_API int sh_app_settings_override_many(sh_app *app, const sh_settings_item *items,
	size_t count);

/* Ends the most recent override in force (every key of it), sending
 * setting_changed with enter false and the restored value per key.
 * Returns as sh_settings_restore(); SH_EINVAL for a NULL app. */
SH_API int sh_app_settings_restore(sh_app *app);

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
 *
 * With opts->async set, the receiver runs off the sending thread, on the
 * worker pool of `sighost serve` (async_threads, async_queue in the
 * project manifest), with a copy of the signal's arguments (signal.h,
 * "Asynchronous receivers"): a slow receiver does not delay the response.
 * It may run on several pool threads at once, after the send returned;
 * pointers in the copy are valid during the call only; its failure is
 * logged with the app's label. Outside serve (check, migrate) there is no
 * pool and it runs inline. Every queued call runs before teardown().
 *
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

/*
 * Returns the address of the symbol `name` defined by the app's own plugin
 * (dlsym on the app's handle, never the global namespace; a symbol of a
 * library the plugin links is not the plugin's and is not returned). NULL,
 * with the reason in the error channel (SH_ENOTFOUND), when the app has no
 * library, is not loaded, or the plugin does not define `name`; SH_EINVAL
 * for a NULL app or an empty name. Valid while the app is loaded. The
 * router finds views (SH_VIEW, web.h) with it.
 */
SH_API void *sh_app_symbol(const sh_app *app, const char *name);

/* Returns the root of the app's manifest (a map), NULL for NULL. Owned by
 * the host, like every value. */
SH_API const sh_value *sh_app_manifest(const sh_app *app);

/* Returns the project's model registry: every installed app's models,
 * declared before early() and prepared before ready(). Owned by the host. */
SH_API const sh_models *sh_app_models(const sh_app *app);

/*
 * Stores in *out the model called `name`: "Alert" for a model of the app
 * itself, "other_app.Model" for another app's (the model name matched
 * without regard to case, as Django's get_model). Returns 0, SH_ENOTFOUND
 * naming the label, SH_EINVAL for a NULL argument.
 */
SH_API int sh_app_model(const sh_model **out, const sh_app *app, const char *name);

/*
 * Stores in *out the calling thread's connection to the project's
 * database (sh_database_connection: opened on the thread's first call,
 * which sends connection_created). Available from ready() on. Returns 0,
 * SH_EINVAL before the database is open (in early(), or when loading
 * failed before it), or as sh_database_connection().
 */
SH_API int sh_app_conn(sh_conn **out, sh_app *app);

/* Connects every receiver the calling plugin declared with SH_RECEIVER,
 * owned by `app`, with `payload` (often the app itself). Returns as
 * sh_receivers_connect(). */
#define SH_APP_CONNECT_RECEIVERS(app, payload) \
	SH_CONNECT_RECEIVERS(sh_app_hub(app), sh_app_label(app), (payload))

#ifdef __cplusplus
}
#endif

#endif
