/*
 * internal.h: the data structures of host/app/ (manifests, values, the app
 * registry, the plugin loader), shared by its files and by nothing else.
 *
 * Ownership: a project owns its documents (one per manifest file read);
 * a document owns its tree of values and the file name they point to; a
 * project owns its apps, and an app borrows its strings from its document.
 */
#ifndef SH_APP_INTERNAL_H
#define SH_APP_INTERNAL_H

#include <sighost/app.h>
#include <sighost/error.h>
#include <sighost/project.h>
#include <sighost/settings.h>

/* One item of a list (key NULL) or entry of a map. */
typedef struct sh__entry {
	char *key;                  /* map key; NULL in a list */
	unsigned line, column;      /* where the key starts (1-based) */
	struct sh_value *value;
} sh__entry;

/* A node of a manifest. Scalars keep their source text. */
struct sh_value {
	sh_value_type type;
	unsigned line, column;      /* 1-based */
	const char *file;           /* the document's path */
	char *text;                 /* scalars: as written; NULL for lists and maps */
	int64_t integer;            /* SH_VALUE_INT */
	bool boolean;               /* SH_VALUE_BOOL */
	sh__entry *entries;         /* SH_VALUE_LIST and SH_VALUE_MAP */
	size_t count;
	size_t capacity;
};

/* A manifest file read into values. */
typedef struct sh__doc {
	char *path;                 /* as opened */
	struct sh_value *root;      /* NULL when the file was empty or unreadable */
} sh__doc;

/* The problems a project collects. `oom` is set when one could not be
 * recorded, and then turns the project's result into SH_ENOMEM. */
typedef struct sh__problems {
	sh_problem *items;
	size_t count;
	size_t capacity;
	bool oom;
} sh__problems;

struct sh_app {
	sh_project *project;
	const char *label;          /* borrowed from the document */
	const sh_value *root;       /* the app manifest */
	const sh_value *label_value;
	const sh_value *depends_value;  /* NULL when none */
	const char *version;        /* "" when none */
	char *library_path;         /* absolute; NULL for an app without library */
	const char **depends;       /* labels, borrowed */
	size_t depends_count;
	bool installed;
	/* set while loading */
	bool ready;
	bool failed;
	void *handle;               /* dlopen handle, NULL when not loaded */
	void (*teardown)(sh_app *app);
	void *data;                 /* the plugin's, see sh_app_set_data */
};

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
	const sh_value *settings;
	char **plugin_dirs;         /* absolute */
	const sh_value **plugin_dir_values;
	size_t plugin_dir_count;
	const sh_value *installed_value;
	bool read_done;
	bool read_ok;
	bool load_done;
};

/* ---- values (value_build.c) ---- */

/* Allocates a value of `type` at (file, line, column). NULL on ENOMEM. */
sh_value *sh__value_new(sh_value_type type, const char *file, unsigned line, unsigned column);

/* Frees a value and everything below it. NULL is a no-op. */
void sh__value_free(sh_value *value);

/* Appends `item` under `key` (NULL for a list), taking ownership of both
 * (also on failure, when both are freed). Returns 0 or SH_ENOMEM. */
int sh__value_append(sh_value *container, char *key, unsigned line, unsigned column,
	sh_value *item);

/* Returns the entry of `key` in a map, NULL when none. */
const sh__entry *sh__value_entry(const sh_value *map, const char *key);

/* ---- documents (yaml_read.c) ---- */

/*
 * Reads the YAML file at `path` into a new document stored in *out (also
 * on failure; then its root is NULL). Problems are recorded in `problems`
 * with their position. Fatal ones (malformed YAML, an alias, a second
 * document, a non-scalar key) leave the root NULL and return SH_EMANIFEST;
 * a file that cannot be opened returns SH_EIO (recorded too). Duplicate
 * keys and bad tags are recorded but not fatal: the root is kept and 0
 * returned. An empty file gives a NULL root and 0. SH_ENOMEM on ENOMEM.
 */
int sh__doc_read(sh__doc **out, const char *path, sh__problems *problems);

/* Frees a document and its values. NULL is a no-op. */
void sh__doc_free(sh__doc *doc);

/* ---- problems (problems.c) ---- */

/* Records a problem at (file, line, column); file may be NULL and line 0.
 * Sets problems->oom when it cannot. */
void sh__problem_add(sh__problems *problems, int code, const char *file,
	unsigned line, unsigned column, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Records a problem at the position of `where` (which may be NULL). */
void sh__problem_at(sh__problems *problems, int code, const sh_value *where,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Frees the problems' strings and array. */
void sh__problems_dispose(sh__problems *problems);

/* ---- suggestions (suggest.c) ---- */

/* Returns the candidate nearest to `word` by edit distance when it is near
 * enough to be a plausible typo, else NULL. */
const char *sh__suggest(const char *word, const char *const *candidates, size_t count);

/* ---- schemas (schema.c) ---- */

/* Any type is accepted (for a key's type or a list's items). */
#define SH__ANY ((int)-1)

/* One key a map may hold. */
typedef struct sh__key {
	const char *name;
	int type;          /* an sh_value_type, or SH__ANY */
	int item_type;     /* for lists: the items' type, or SH__ANY */
	bool required;
} sh__key;

/*
 * Checks the map `map` against `keys`: unknown keys (with the nearest valid
 * key suggested), missing required keys, values of the wrong type (null is
 * taken as absent for a key that is not required). `what` names the map in
 * messages ("project manifest", "database"). Records each problem with its
 * position; returns how many it recorded. A `map` that is not a map is one
 * problem.
 */
size_t sh__schema_check(sh__problems *problems, const sh_value *map,
	const sh__key *keys, size_t key_count, const char *what);

/* ---- paths (paths.c) ---- */

/* Returns `path` made absolute against `dir` (unchanged when absolute),
 * newly allocated; NULL on ENOMEM. */
char *sh__path_join(const char *dir, const char *path);

/* Returns the absolute directory of the file `path`, newly allocated; NULL
 * on ENOMEM or when the working directory cannot be found. */
char *sh__path_dir(const char *path);

/* ---- manifests ---- */

/* Validates the project manifest of `project` (project_manifest.c), once
 * its document was read without fatal problem, and fills its fields;
 * problems are recorded. */
void sh__project_manifest_apply(sh_project *project);

/* Validates the app manifest `doc` (app_manifest.c), read without fatal
 * problem, and when it is valid creates its app in *out (NULL otherwise).
 * Problems are recorded. Returns 0 or SH_ENOMEM. */
int sh__app_from_manifest(sh_app **out, sh_project *project, const sh__doc *doc);

/* Frees an app (not its document). NULL is a no-op. */
void sh__app_free(sh_app *app);

/* Reads every app manifest in the project's plugin_dirs (discover.c). */
void sh__discover_apps(sh_project *project);

/* Checks labels, installed_apps and depends, and fills project->order in
 * dependency order (order.c). */
void sh__resolve_apps(sh_project *project);

/* ---- loading ---- */

/* What sh__path_is_safe remembers between files of one load pass: the
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
int sh__path_is_safe(const char *path, sh__safety *cache);

/* Frees what the cache holds. */
void sh__safety_dispose(sh__safety *cache);

/* Loads one app (loader.c): safety (with `cache`, see sh__path_is_safe),
 * dlopen, ABI, ready(). Returns 0 or a negative code with the reason in
 * the error channel (not prefixed by the plugin's name). */
int sh__app_load(sh_app *app, sh__safety *cache);

/* Unloads one app (loader.c): teardown(), disconnect its connections,
 * wait for sends, dlclose. Safe on an app that is not loaded. */
void sh__app_unload(sh_app *app);

#endif
