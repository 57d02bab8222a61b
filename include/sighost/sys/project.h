/*
 * project.h: the host side of apps: read a project and its app manifests,
 * validate them, load the plugins in dependency order and unload them.
 * The sighost executable, tests and embedders use it; plugins do not.
 *
 *     sh_project *p;
 *     sh_project_new(&p);
 *     if (sh_project_read(p, "manifests/project.yaml") == 0 && sh_project_load(p) == 0)
 *         ... send signals through sh_project_hub(p) ...
 *     for (size_t i = 0; i < sh_project_problem_count(p); i++)
 *         puts(sh_project_problem(p, i)->text);
 *     sh_project_free(p);   (tears down and unloads every plugin)
 *
 * A project owns its hub, its apps and every value read from its manifests.
 * It is used from one thread; sends through its hub may come from any, and
 * so may the live settings functions below (reload, override, restore),
 * which serialise on a lock of the project.
 */
#ifndef SIGHOST_PROJECT_H
#define SIGHOST_PROJECT_H

#include "../common.h"
#include "../db.h"
#include "../model.h"
#include "../settings.h"
#include "../signal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sh_project sh_project;

/* The default project manifest, relative to the working directory, used
 * when neither --settings nor SIGHOST_SETTINGS names one. */
#define SH_PROJECT_DEFAULT_PATH "manifests/project.yaml"

/* The environment variable that names the project manifest. */
#define SH_SETTINGS_ENV "SIGHOST_SETTINGS"

/* The largest manifest (project, app or migration file) that is read, in
 * bytes. A manifest must be a regular file of at most this size: anything
 * else (a FIFO, a device, a directory, a bigger file) is a problem
 * "cannot read manifest: ..." at once, never a read that blocks. */
#define SH_MANIFEST_MAX_SIZE (8u << 20)

/* One problem found in a project. Strings are owned by the project. */
typedef struct sh_problem {
	int code;              /* SH_EMANIFEST, SH_ELOAD, SH_EABI, SH_EPERM, ... */
	const char *file;      /* the file concerned, NULL when none */
	unsigned line;         /* 1-based, 0 when unknown */
	unsigned column;       /* 1-based, 0 when unknown */
	const char *message;   /* what is wrong, without the position */
	const char *text;      /* "file:line:col: message", as printed */
} sh_problem;

/*
 * Creates an empty project with a new hub. Returns 0 and stores it in *out,
 * or SH_ENOMEM. The caller frees it with sh_project_free().
 */
SH_API int sh_project_new(sh_project **out);

/*
 * Unloads every loaded app in reverse load order (teardown(), then its
 * connections are disconnected, running sends are waited for, then
 * dlclose) and frees the project, its hub and its values. NULL is a no-op.
 */
SH_API void sh_project_free(sh_project *project);

/*
 * Picks the project manifest: `option` (the --settings value) when
 * non-NULL, else the SIGHOST_SETTINGS environment variable when set and
 * non-empty, else SH_PROJECT_DEFAULT_PATH. Never NULL; the string is
 * `option`, the environment's, or a constant.
 */
SH_API const char *sh_project_settings_path(const char *option);

/*
 * Reads the project manifest at `path`, then every app manifest (*.yaml) in
 * its plugin_dirs, validates them and orders the installed apps by their
 * dependencies (installed_apps order breaks ties). Every problem found is
 * recorded, not only the first. Returns 0 when there is none, SH_EMANIFEST
 * when there is at least one (the error channel holds the first),
 * SH_EINVAL when the project was read already, SH_ENOMEM.
 */
SH_API int sh_project_read(sh_project *project, const char *path);

/*
 * Loads the installed apps in order: for an app with a library, checks
 * the file's safety (owner and modes of the file and its directories),
 * dlopens it, checks its ABI, finds ready() and calls it. An app whose
 * loading fails is recorded as a problem naming the plugin and the reason;
 * the apps that depend on it are not loaded (also a problem), the others
 * are. Returns 0 when every app is ready, SH_ELOAD when any problem was
 * recorded (the error channel holds the first), SH_EINVAL when the project
 * was not read successfully or was loaded already.
 */
SH_API int sh_project_load(sh_project *project);

/*
 * Probes the plugins before sh_project_load(), so that one that crashes
 * or hangs while it loads is named instead of taking the caller down.
 * Call it after a successful sh_project_read(), before any settings
 * override, from a process with no other thread running (it forks).
 *
 * A child process (fork) loads the installed apps exactly as
 * sh_project_load() would (dlopen, ABI, early(), the models, ready();
 * every plugin's code runs), then calls their teardown() and exits; its
 * stdout and stderr go to a memory file, not to the caller's. The parent
 * allows each step (a plugin's dlopen, early(), ready() or teardown()) the
 * manifest's ready_timeout seconds (default 10). When the child dies by a
 * signal, exits, or overruns a step, the plugin in that step gets a
 * verdict, "plugin 'x' (path): crashed in ready(): SIGSEGV (Segmentation
 * fault)" (or "hung in ready(): ...", "exited in ready() with status 3"),
 * followed by "; last output: ..." when that step printed something; and
 * the child runs again without that app and its dependents, until a run
 * ends well. An optional app (optional_apps) whose loading fails in the
 * child the ordinary way gets a verdict too.
 *
 * Then: the project is read again without the optional apps that got a
 * verdict and without every installed app that depends on one, as if they
 * were not installed (their models too), each with a warning
 * (sh_project_warning: "optional app 'x' left out: <verdict>", "app 'y'
 * left out: it depends on 'x', which was left out"); sh_app pointers taken
 * before are then invalid. A required app with a verdict is a problem
 * (the verdict's text); sh_project_load() will not load it, and reports
 * its dependents as usual. When the child fails in a step of the host's
 * (the models' class_prepared receivers run there), no plugin can be
 * blamed: that is a problem too ("loading the plugins crashed while the
 * models were prepared ..."), and sh_project_load() then loads nothing.
 *
 * Returns 0 when no required app crashed or hung (also when no installed
 * app has a library: then nothing is forked); SH_ELOAD when one did, or
 * when the child failed in the host's own steps (a problem says so; the
 * error channel holds the first); SH_EMANIFEST when reading again failed;
 * SH_EIO when it could not fork or make its pipe; SH_EINVAL when the
 * project was not read successfully, was loaded or probed already, or an
 * override is in force; SH_ENOMEM.
 */
SH_API int sh_project_probe(sh_project *project);

/* Returns the project manifest's ready_timeout: the seconds the probe
 * allows one step of a plugin (10 when not given). */
SH_API unsigned sh_project_ready_timeout(const sh_project *project);

/* Returns the number of warnings recorded (apps left out by the probe). */
SH_API size_t sh_project_warning_count(const sh_project *project);

/* Returns warning `index` (in the order found), NULL when out of range.
 * Its strings are owned by the project. */
SH_API const sh_problem *sh_project_warning(const sh_project *project, size_t index);

/* Returns the project's hub (set its logger before sh_project_load). */
SH_API sh_hub *sh_project_hub(const sh_project *project);

/* Returns the number of problems recorded so far. */
SH_API size_t sh_project_problem_count(const sh_project *project);

/* Returns problem `index` (in the order found), NULL when out of range. */
SH_API const sh_problem *sh_project_problem(const sh_project *project, size_t index);
/*
 * Checks the receivers the loaded plugins connected for those that can
 * never run (`sighost check` calls it after sh_project_load): a receiver
 * of an undeclared signal whose name is near a built-in or declared one
 * ("post_delet": did you mean 'post_delete'?), and a model signal's sender
 * naming no installed model ("notes.Nte") or a migrate signal's naming no
 * installed app, are problems (sh_project_problem), each naming the
 * receiver, its app and plugin, with the nearest name when there is one; a
 * receiver of a custom signal no loaded app declares is a warning
 * (sh_project_warning). Returns 1 when it recorded anything, 0 when not,
 * SH_EINVAL when the project is not loaded, SH_ENOMEM.
 */
SH_API int sh_project_check_receivers(sh_project *project);

/* Returns the root of the project manifest (a map after a successful
 * read), NULL before it was read. Owned by the project; valid until it is
 * read again or freed. */
SH_API const sh_value *sh_project_manifest(const sh_project *project);


/* Returns the `project` name of the manifest, "" before it was read. */
SH_API const char *sh_project_name(const sh_project *project);

/* Returns the path of the project manifest, NULL before it was read. */
SH_API const char *sh_project_path(const sh_project *project);

/* Returns the `settings` map of the project manifest as it stands now
 * (after reloads and overrides, see "Live settings" below), NULL when
 * there is none. The pointer stays valid until the project is freed, also
 * after the settings change; read it once to see one consistent version. */
SH_API const sh_value *sh_project_settings(const sh_project *project);

/* Returns the database engine and file of the manifest (the file made
 * absolute against the manifest's directory), NULL when not given. */
SH_API const char *sh_project_db_engine(const sh_project *project);
SH_API const char *sh_project_db_name(const sh_project *project);

/* The database file of a project whose manifest has no `database`, in the
 * manifest's directory (Django's startproject default). */
#define SH_PROJECT_DEFAULT_DB "db.sqlite3"

/*
 * Returns the project's model registry (on the project's hub; owned by the
 * project). sh_project_read() declares the models of every installed app
 * in it, in load order, and checks their relations; sh_project_load()
 * prepares it (class_prepared) after the plugins' early() and before their
 * ready(). Never NULL for a project made by sh_project_new().
 */
SH_API sh_models *sh_project_models(const sh_project *project);

/*
 * Returns the project's database: the file of the manifest's `database`,
 * else SH_PROJECT_DEFAULT_DB beside the manifest. sh_project_load() opens
 * it (no connection yet: the first sh_database_connection() of a thread
 * opens one and sends connection_created) once the models are prepared,
 * before any ready(). NULL before, or when loading failed before it. Owned
 * by the project, closed by sh_project_free() after every app is unloaded.
 */
SH_API sh_database *sh_project_database(const sh_project *project);

/* Returns how many installed apps the project has (after a successful read). */
SH_API size_t sh_project_app_count(const sh_project *project);

/* Returns installed app `index` in load order (dependencies first), NULL
 * when out of range. */
SH_API sh_app *sh_project_app_at(const sh_project *project, size_t index);

/* Returns the installed app labelled `label`, NULL when there is none. */
SH_API sh_app *sh_project_app(const sh_project *project, const char *label);

/* Returns true once the app's ready() returned 0 (or, for an app without a
 * library, once its turn to load came). */
SH_API bool sh_app_is_ready(const sh_app *app);

/* Returns true when the project manifest lists the app in optional_apps:
 * when it fails to load, sh_project_probe() leaves it out instead of
 * failing. */
SH_API bool sh_app_is_optional(const sh_app *app);

/* Returns how many apps the app depends on, and dependency `index`. */
SH_API size_t sh_app_depends_count(const sh_app *app);
SH_API const char *sh_app_depends_at(const sh_app *app, size_t index);

/* ---- live settings ---------------------------------------------------- */

/*
 * The `settings:` map of the project manifest can change while the host
 * runs: the file is read again (sh_project_reload_settings, which
 * `sighost serve` calls when the file changes or on SIGHUP), or a key is
 * overridden for a scope (sh_settings_override, Django's
 * override_settings). Each change sends setting_changed
 * (sh_setting_changed_args) on the project's hub from the interned sender
 * SH_SETTINGS_SENDER, on the thread that made the change, after the new
 * settings are published: a receiver, and every reader from then on, sees
 * the new values through sh_project_settings(), sh_app_settings() and
 * sh_app_setting().
 *
 * Settings are keyed by dotted path: "debug", "audit.path". A map that
 * holds entries is walked into (its leaves are the settings); a scalar, a
 * list (compared whole) and an empty map are settings themselves.
 *
 * Threads and lifetime. The settings are published with one atomic store
 * of a new tree; readers take no lock and never see a tree change under
 * them. Every tree ever published, and every value handed out
 * (setting_changed's value included), stays valid until the project is
 * freed: each reload and override keeps its document (a few kilobytes)
 * for the project's life. Changes are serialised by a recursive lock of
 * the project, so a setting_changed receiver may override in turn.
 */

/* The sender of setting_changed. */
#define SH_SETTINGS_SENDER "sighost.settings"

/*
 * Reads the project manifest again. When it is well-formed and valid (the
 * same checks as sh_project_read makes of the project manifest's keys),
 * publishes its `settings` (with the overrides in force on top) and sends
 * setting_changed (enter true; value the new value, NULL for a key that
 * is gone) once per key whose value changed, sorted by key (strcmp
 * order). Keys other than `settings` (database, plugin_dirs,
 * installed_apps, listen, threads, ...) are read at start only: each one
 * whose value in the file differs from the running one is logged at
 * SH_LOG_WARNING as needing a restart, and ignored. The outcome is logged
 * through the hub's logger (origin "sighost.settings"). Returns 0 (also
 * when nothing changed); SH_EMANIFEST when the file is malformed or
 * invalid, or SH_EIO when it cannot be read: then every problem is logged
 * at SH_LOG_ERROR as "file:line:col: message", the error channel holds the
 * first, no signal is sent and the running settings stay. SH_EINVAL when
 * the project was not read successfully, SH_ENOMEM.
 */
SH_API int sh_project_reload_settings(sh_project *project);

/*
 * Starts watching the project manifest for changes with inotify on its
 * directory (so an editor that saves by writing another file and renaming
 * it over the manifest is seen, as well as a write in place). Stores in
 * *out a descriptor that becomes readable (poll) when the directory sees
 * a change; then call sh_project_watch_changed(). The descriptor is the
 * project's (closed by sh_project_free; do not close it); a second call
 * returns the same one. Returns 0, SH_EINVAL when the project was not read
 * successfully, SH_EIO when inotify fails (the reason in the error
 * channel; *out is -1).
 */
SH_API int sh_project_watch(int *out, sh_project *project);

/*
 * Reads the pending events of the watch without blocking. Returns 1 when
 * the manifest was written or replaced since the last call (reload it;
 * waiting a few tens of milliseconds first lets an editor finish), 0 when
 * only other files changed or nothing, SH_EINVAL when the project is not
 * watched, SH_EIO.
 */
SH_API int sh_project_watch_changed(sh_project *project);

/*
 * Overrides the setting at the dotted `key` ("debug", "mailer.from") with
 * the value `yaml` reads as (YAML text with the manifest's typing: "true",
 * "42", "'42'", "[a, b]", "{from: x@y}"; "" is null), or removes the key
 * when `yaml` is NULL, until the matching sh_settings_restore(). Maps on
 * the way are created as needed. Publishes the settings with the override
 * on top, then sends setting_changed with setting `key`, the new value
 * (NULL when removed) and enter true. Overrides nest: they form a stack,
 * and a reload of the manifest keeps them on top of the file's values.
 * The same as sh_settings_override_many() with one item: see there for a
 * failing receiver. Returns 0; SH_EINVAL for a NULL project, a project not
 * read successfully, a key that is not names joined by dots, or YAML that
 * does not parse (the error channel says where); SH_ENOMEM; a failing
 * setting_changed receiver's code. No signal is sent for bad input.
 */
SH_API int sh_settings_override(sh_project *project, const char *key, const char *yaml);

/*
 * Overrides `count` keys at once (1 to SH_SETTINGS_OVERRIDE_MAX), Django's
 * override_settings(A=..., B=...): every item's YAML is read first (bad
 * YAML or key: SH_EINVAL, nothing changes, no signal); then every key is
 * applied in the order given and the settings are published once; then
 * setting_changed is sent with enter true once per key, in the order
 * given, each with the value the key holds in the new settings. So a
 * receiver of the first key already sees every key's new value. A
 * receiver that fails stops the sends (Django's send): the override is
 * taken off again, the settings published without it, setting_changed
 * sent with enter false for every key in the order given (every receiver
 * runs), and the failing receiver's code returned with its message; no
 * override stays in force then. The whole override is one entry of the
 * stack: one sh_settings_restore() ends it. The same key given twice is
 * SH_EINVAL. Returns 0, SH_EINVAL, SH_ENOMEM, or a failing receiver's code.
 */
SH_API int sh_settings_override_many(sh_project *project, const sh_settings_item *items,
	size_t count);

/* Like sh_settings_override() with a value read elsewhere (copied, so it
 * need not outlive the override); NULL removes the key. */
SH_API int sh_settings_override_value(sh_project *project, const char *key,
	const sh_value *value);

/*
 * Ends the most recent override still in force (all the keys of a
 * sh_settings_override_many() at once): publishes the settings without
 * it, then sends setting_changed with enter false once per key, in the
 * order the override gave them (Django's disable(): not reversed), each
 * with the value restored (what the key holds now, NULL when it holds
 * nothing); every receiver runs. Returns 0; the first failing receiver's
 * code (the override is ended all the same, as Django raises after the
 * sends); SH_EINVAL for a NULL project or when no override is in force;
 * SH_ENOMEM (the override then stays in force and nothing is sent).
 */
SH_API int sh_settings_restore(sh_project *project);

/* Returns how many overrides are in force (0 for NULL). */
SH_API size_t sh_settings_override_count(const sh_project *project);

/*
 * Writes a readable name of a connection's receiver into buf (at most
 * `size` bytes, always NUL-terminated when size > 0): the name given at
 * connect when there is one, else the exact symbol dladdr finds for the
 * function, else its address and the library holding it
 * ("0x1139 in alert.so"). Returns the length of the full name (as
 * snprintf does).
 */
SH_API int sh_receiver_describe(char *buf, size_t size, const sh_connection_info *info);

#ifdef __cplusplus
}
#endif

#endif
