/*
 * manifest.h: host/manifest/, for its own files and the layers above (app,
 * migrate, web): YAML documents read into values, the list of problems
 * found in them ("file:line:col: message"), schema checks of a map and
 * path helpers.
 *
 * Ownership: a document owns its tree of values and the file name they
 * point to; a problem list owns its problems' strings.
 */
#ifndef SH_MANIFEST_MANIFEST_H
#define SH_MANIFEST_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sighost/error.h>
#include <sighost/sys/project.h>
#include <sighost/settings.h>

#include "base/suggest.h"

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

/* A list of problems: a project's (manifests, loading, migrations), a
 * router's and a server's. `oom` is set when one could not be recorded,
 * and then turns the project's result into SH_ENOMEM. The first problem
 * is raised on the error channel too; with `raise_each` (the router's
 * and the server's lists) every one is, and a failure to record one
 * raises SH_ENOMEM. */
typedef struct sh__problems {
	sh_problem *items;
	size_t count;
	size_t capacity;
	bool oom;
	bool raise_each;
} sh__problems;

/* ---- values (value_build.c) ---- */

/* Allocates a value of `type` at (file, line, column). NULL on ENOMEM. */
sh_value *sh_manifest__value_new(sh_value_type type, const char *file, unsigned line, unsigned column);

/* Frees a value and everything below it. NULL is a no-op. */
void sh_manifest__value_free(sh_value *value);

/* Appends `item` under `key` (NULL for a list), taking ownership of both
 * (also on failure, when both are freed). Returns 0 or SH_ENOMEM. */
int sh_manifest__value_append(sh_value *container, char *key, unsigned line, unsigned column,
	sh_value *item);

/* Returns the entry of `key` in a map, NULL when none. */
const sh__entry *sh_manifest__value_entry(const sh_value *map, const char *key);

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
int sh_manifest__doc_read(sh__doc **out, const char *path, sh__problems *problems);

/* Frees a document and its values. NULL is a no-op. */
void sh_manifest__doc_free(sh__doc *doc);

/* ---- problems (problems.c) ---- */

/* Records a problem at (file, line, column); file may be NULL and line 0
 * ("file: message"), column 0 ("file:line: message"). Returns the
 * problem's code, or SH_ENOMEM (and sets problems->oom) when it cannot. */
int sh_manifest__problem_add(sh__problems *problems, int code, const char *file,
	unsigned line, unsigned column, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Records a problem at the position of `where` (which may be NULL), as
 * sh_manifest__problem_add(). */
int sh_manifest__problem_at(sh__problems *problems, int code, const sh_value *where,
	const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Frees the problems' strings and array. */
void sh_manifest__problems_dispose(sh__problems *problems);

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
size_t sh_manifest__schema_check(sh__problems *problems, const sh_value *map,
	const sh__key *keys, size_t key_count, const char *what);

/* ---- paths (paths.c) ---- */

/* Returns `path` made absolute against `dir` (unchanged when absolute),
 * newly allocated; NULL on ENOMEM. */
char *sh_manifest__path_join(const char *dir, const char *path);

/* Returns the absolute directory of the file `path`, newly allocated; NULL
 * on ENOMEM or when the working directory cannot be found. */
char *sh_manifest__path_dir(const char *path);

/* Reads `length` bytes of YAML `text` into a new document named `label`
 * (yaml_read.c), as sh_manifest__doc_read() reads a file. */
int sh_manifest__doc_read_text(sh__doc **out, const char *label, const char *text, size_t length,
	sh__problems *problems);

#endif
