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
 * It is used from one thread; sends through its hub may come from any.
 */
#ifndef SIGHOST_PROJECT_H
#define SIGHOST_PROJECT_H

#include "common.h"
#include "settings.h"
#include "signal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sh_project sh_project;

/* The default project manifest, relative to the working directory, used
 * when neither --settings nor SIGHOST_SETTINGS names one. */
#define SH_PROJECT_DEFAULT_PATH "manifests/project.yaml"

/* The environment variable that names the project manifest. */
#define SH_SETTINGS_ENV "SIGHOST_SETTINGS"

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

/* Returns the project's hub (set its logger before sh_project_load). */
SH_API sh_hub *sh_project_hub(const sh_project *project);

/* Returns the number of problems recorded so far. */
SH_API size_t sh_project_problem_count(const sh_project *project);

/* Returns problem `index` (in the order found), NULL when out of range. */
SH_API const sh_problem *sh_project_problem(const sh_project *project, size_t index);

/* Returns the `project` name of the manifest, "" before it was read. */
SH_API const char *sh_project_name(const sh_project *project);

/* Returns the path of the project manifest, NULL before it was read. */
SH_API const char *sh_project_path(const sh_project *project);

/* Returns the `settings` map of the project manifest, NULL when none. */
SH_API const sh_value *sh_project_settings(const sh_project *project);

/* Returns the database engine and file of the manifest (the file made
 * absolute against the manifest's directory), NULL when not given. */
SH_API const char *sh_project_db_engine(const sh_project *project);
SH_API const char *sh_project_db_name(const sh_project *project);

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

/* Returns how many apps the app depends on, and dependency `index`. */
SH_API size_t sh_app_depends_count(const sh_app *app);
SH_API const char *sh_app_depends_at(const sh_app *app, size_t index);

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
