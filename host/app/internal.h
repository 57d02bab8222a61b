/*
 * internal.h: the data structures of host/app/ (the project, its apps, the
 * plugin loader, live settings), shared by its files and by nothing else.
 * Documents, values and problem lists are host/manifest/'s (manifest.h).
 *
 * Ownership: a project owns its documents (one per manifest file read);
 * a document owns its tree of values and the file name they point to; a
 * project owns its apps, and an app borrows its strings from its document.
 */
#ifndef SH_APP_INTERNAL_H
#define SH_APP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <sighost/app.h>
#include <sighost/db.h>
#include <sighost/error.h>
#include <sighost/model.h>
#include <sighost/sys/project.h>
#include <sighost/settings.h>

#include "base/suggest.h"
#include "manifest/manifest.h"

struct sh_app {
	sh_project *project;
	const char *label;          /* borrowed from the document */
	const sh_value *root;       /* the app manifest */
	const sh_value *label_value;
	const sh_value *depends_value;  /* NULL when none */
	const sh_value *models_value;   /* the `models` map, NULL when none */
	const char *version;        /* "" when none */
	char *library_path;         /* absolute; NULL for an app without library */
	const char **depends;       /* labels, borrowed */
	size_t depends_count;
	bool installed;
	bool optional;              /* listed in the project's optional_apps */
	bool crashed;               /* the probe found it crashing or hanging (a problem is
	                               recorded): sh_project_load() does not load it */
	/* set while loading */
	bool ready;
	bool failed;
	bool started;               /* early() or ready() returned 0: teardown() is due */
	void *handle;               /* dlopen handle, NULL when not loaded */
	int (*ready_fn)(sh_app *app);
	void (*teardown)(sh_app *app);
	void *data;                 /* the plugin's, see sh_app_set_data */
	uint64_t open_ns;           /* how long dlopen, the ABI check and early() took */
	uint64_t ready_ns;          /* how long ready() took */
};

/* One override of sh_settings_override(), on the project's stack. */
typedef struct sh__override {
	char *key;                  /* the dotted key */
	const sh_value *value;      /* in a document the project keeps; NULL: removed */
	bool first;                 /* the first key of its override (a restore pops up to it) */
} sh__override;

/*
 * Live settings (settings_reload.c, override.c). The published settings,
 * project->settings, are `base` (the `settings` map of the last good read
 * of the manifest) with every override applied in stack order. They change
 * only under `lock` (recursive, so a setting_changed receiver may override
 * too), by a reload, an override or a restore, and are published with one
 * atomic store: readers never lock. Every document made for a change is
 * kept in `kept` until the project is freed, so no value handed out is
 * ever freed under a reader.
 */
typedef struct sh__live {
	pthread_mutex_t lock;
	bool lock_ready;
	const sh_value *base;
	sh__override *overrides;
	size_t override_count;
	size_t override_capacity;
	struct sh__doc **kept;
	size_t kept_count;
	size_t kept_capacity;
	const sh_sender *sender;    /* "sighost.settings" */
	int watch_fd;               /* inotify on the manifest's directory, -1 when none */
	char *watch_name;           /* the manifest's name in that directory */
	int project_wd;             /* the watch of the manifest's directory */
	int *other_wds;             /* plugin dirs and template dirs: changes there need a */
	char **other_dirs;          /* restart, which the watch says (see settings_reload.c) */
	size_t other_count;
	char *last_told;            /* the file last said to need a restart, and when */
	long long last_told_ms;
} sh__live;

/* A field that sh_project_read() fills must also be reset by sh__unread()
 * (project.c), which the probe uses to read the project again. */
struct sh_project {
	sh_hub *hub;
	sh__problems problems;
	char *path;                 /* the project manifest, as given */
	char *dir;                  /* its directory, absolute */
	sh__doc *doc;               /* the project manifest */
	sh__doc **app_docs;         /* every app manifest read */
	size_t app_doc_count;
	sh_app **apps;              /* every valid app manifest, in discovery order */
	size_t app_count;
	sh_app **order;             /* installed apps, load order */
	size_t order_count;
	const char *name;
	const char *db_engine;
	char *db_name;              /* absolute */
	sh_db_sync db_sync;         /* database.synchronous */
	const sh_value *db_timeout; /* database.timeout (seconds), NULL when absent or invalid */
	/* the published `settings` map (see sh__live): an atomic pointer, so
	 * plain reads and writes of it are atomic loads and stores */
	const sh_value *_Atomic settings;
	sh__live live;
	char **plugin_dirs;         /* absolute */
	const sh_value **plugin_dir_values;
	size_t plugin_dir_count;
	const sh_value *installed_value;
	sh_models *models;          /* the model registry, on the project's hub */
	sh_database *database;      /* opened by sh_project_load() once models are prepared */
	const sh_value *optional_value;  /* the optional_apps list, NULL when none */
	unsigned ready_timeout;     /* seconds the probe waits for one step of a plugin */
	sh__problems warnings;      /* what was left out, and why (survives a re-read) */
	struct sh__verdict *verdicts;    /* what the probe found (probe.c) */
	size_t verdict_count;
	int probe_fd;               /* in the probe's child: where steps are reported; else -1 */
	bool probe_done;
	bool probe_fatal;           /* the probe's child failed in a step of the host's:
	                               sh_project_load() loads nothing */
	bool read_done;
	bool read_ok;
	bool load_done;
};

/* ---- manifests ---- */

/* Validates the project manifest of `project` (project_manifest.c), once
 * its document was read without fatal problem, and fills its fields;
 * problems are recorded. */
void sh_app__project_manifest_apply(sh_project *project);

/* Validates the app manifest `doc` (app_manifest.c), read without fatal
 * problem, and when it is valid creates its app in *out (NULL otherwise).
 * Problems are recorded. Returns 0 or SH_ENOMEM. */
int sh_app__app_from_manifest(sh_app **out, sh_project *project, const sh__doc *doc);

/* Frees an app (not its document). NULL is a no-op. */
void sh_app__app_free(sh_app *app);

/* Reads every app manifest in the project's plugin_dirs (discover.c). */
void sh_app__discover_apps(sh_project *project);

/* Checks labels, installed_apps and depends, and fills project->order in
 * dependency order (order.c). */
void sh_app__resolve_apps(sh_project *project);

/* ---- loading ---- */

/* What sh_app__path_is_safe remembers between files of one load pass: the
 * last directory found safe, absolute as named (NULL: none yet). */
typedef struct sh__safety {
	char *dir;
} sh__safety;

/*
 * Checks that the file `path` (absolute) and every directory above it are
 * safe to load code from (safety.c): the file and its directory owned by
 * root or the host's user and not writable by group or others; a directory
 * further up may be writable by others only with the sticky bit (as /tmp).
 * `cache` (may be NULL) spares re-checking a directory found safe for the
 * previous file. Returns 0, SH_ENOTFOUND when the file does not exist, or
 * SH_EPERM, with the reason (naming the path) in the error channel.
 */
int sh_app__path_is_safe(const char *path, sh__safety *cache);

/* Frees what the cache holds. */
void sh_app__safety_dispose(sh__safety *cache);

/* Opens one app (loader.c): safety (with `cache`, see sh_app__path_is_safe),
 * dlopen, ABI, finds ready() and calls early() when the plugin defines it.
 * An app without a library has nothing to open. Returns 0 or a negative
 * code with the reason in the error channel (not prefixed by the plugin's
 * name); the plugin is closed again then. */
int sh_app__app_open(sh_app *app, sh__safety *cache);

/* Calls ready() of an opened app (loader.c) and marks it ready. Returns 0
 * or a negative code with the reason in the error channel; the plugin is
 * unloaded then. */
int sh_app__app_ready(sh_app *app);

/* Unloads one app (loader.c): teardown() when early() or ready() returned
 * 0, disconnect its connections, wait for sends, dlclose. Safe on an app
 * that is not loaded. */
void sh_app__app_unload(sh_app *app);

/* Calls teardown() of an app whose early() or ready() returned 0
 * (loader.c), telling the probe first; nothing else. */
void sh_app__app_teardown(sh_app *app);

/* ---- the probe (probe.c) ---- */

/* What a process loading the plugins is doing, as the probe's child
 * reports it before each step: a plugin's (app non-NULL) or the host's. */
typedef enum sh__step {
	SH__STEP_START,      /* the host, before anything */
	SH__STEP_OPEN,       /* dlopen of a plugin: its constructors run */
	SH__STEP_EARLY,      /* early() */
	SH__STEP_MODELS,     /* the host prepares the models (class_prepared receivers run) */
	SH__STEP_READY,      /* ready() */
	SH__STEP_TEARDOWN    /* teardown() */
} sh__step;

/* What the probe found about one app: it crashed, hung or exited in one
 * of its steps, or (for an optional app) its loading failed. */
typedef struct sh__verdict {
	char *label;
	char *text;          /* "plugin 'x' (path): crashed in ready(): ..." */
	bool optional;       /* the app was in optional_apps: it is left out */
} sh__verdict;

/* In the probe's child (project->probe_fd >= 0), reports that `step` of
 * `app` (NULL: the host's) begins; a no-op otherwise. */
void sh_app__probe_step(const sh_project *project, const sh_app *app, sh__step step);

/* In the probe's child, reports that loading `app` failed with the
 * problem `text`; a no-op otherwise. */
void sh_app__probe_failed(const sh_project *project, const sh_app *app, const char *text);

/* Frees the verdicts of a project. */
void sh_app__verdicts_dispose(sh_project *project);

/* ---- reading again (project.c) ---- */

/*
 * Forgets what sh_project_read() read (documents, apps, models, problems;
 * not the warnings, verdicts or hub) and reads the manifest again,
 * leaving out the optional apps the verdicts name and every installed app
 * that depends on one, each with a warning. Returns as sh_project_read().
 */
int sh_app__project_reread(sh_project *project);

/* ---- live settings (settings_reload.c, override.c) ---- */

/* Prepares the live settings of a new project: the lock, the sender
 * SH_SETTINGS_SENDER, and setting_changed's argument copier. Returns 0 or a negative code. */
int sh_app__live_init(sh_project *project);

/* Frees every kept document, the overrides and the watch. Called by
 * sh_project_free() once every app is unloaded. */
void sh_app__live_dispose(sh_project *project);

/* Keeps `doc` until the project is freed (taking it; freed at once on
 * failure). Returns 0 or SH_ENOMEM. */
int sh_app__live_keep(sh_project *project, struct sh__doc *doc);

/* Sends setting_changed (robustly) from the settings sender. */
void sh_app__live_send(sh_project *project, const char *key, const sh_value *value, bool enter);

/* Builds the settings `base` with the project's overrides applied
 * (override.c): `base` itself when there is none, else a new tree in a
 * kept document. Returns 0 with *out (NULL when the result is empty and
 * there was no base), or SH_ENOMEM. Called under the lock. */
int sh_app__live_effective(const sh_value **out, sh_project *project, const sh_value *base);

/* Checks the project manifest's root against the table of project keys
 * (project_manifest.c), recording problems. Returns how many. */
size_t sh_app__project_manifest_check(sh__problems *problems, const sh_value *root);

/* ---- models (models_manifest.c) ---- */

/* Records a problem the model registry reports ("file:line:col" in
 * `where`); the registry's reporter for the project (payload: project). */
void sh_app__models_reporter(int code, const char *where, const char *message, void *payload);

/*
 * Checks the `models` section of every app manifest and declares the
 * models of the installed apps, in load order, in the project's registry;
 * when every declaration went through, checks their relations too (without
 * preparing). Problems are recorded with file, line and column.
 */
void sh_app__project_declare_models(sh_project *project);

#endif
