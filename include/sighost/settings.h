/*
 * settings.h: read-only values of the manifests, as plugins see their
 * settings.
 *
 * A value is a node of a YAML document the host has read: a string, an
 * integer, a boolean, null, a list or a map (keys are strings, in the order
 * the file wrote them). The host owns every value; a plugin borrows them
 * for as long as its app is loaded and never frees them. Values never
 * change once read: reading them from several threads is safe.
 *
 * Live settings. When the project's settings change (a reload of the
 * manifest, an override; see "Live settings" in project.h), the host
 * publishes a whole new tree of values: the old tree is not changed and
 * not freed (it is kept until the project is freed), so a value obtained
 * earlier stays valid and keeps its old contents. To see a change, ask
 * again (sh_app_setting, sh_app_settings, sh_project_settings) or listen to
 * setting_changed. A value given to sh_settings_override() as YAML text
 * reports the file "override of 'KEY'"; maps an override had to create
 * report line 0.
 *
 * How YAML scalars become values (YAML 1.2 core schema): a quoted scalar is
 * always a string; a plain one is null for "", "~" and "null"; a boolean
 * for "true"/"false" (also "True", "TRUE", "False", "FALSE"); an integer
 * for decimal digits with an optional sign that fit in int64_t; a string
 * otherwise (so "1.5" and "yes" are strings). Tags !!str, !!int, !!bool and
 * !!null force the type.
 *
 * Every accessor accepts NULL and then answers as for a missing value.
 */
#ifndef SIGHOST_SETTINGS_H
#define SIGHOST_SETTINGS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The type of a value. */
typedef enum sh_value_type {
	SH_VALUE_NULL,
	SH_VALUE_STRING,
	SH_VALUE_INT,
	SH_VALUE_BOOL,
	SH_VALUE_LIST,
	SH_VALUE_MAP
} sh_value_type;

/* One key of an override of several keys at once
 * (sh_settings_override_many in project.h, sh_app_settings_override_many
 * in app.h), as one keyword argument of Django's override_settings. */
typedef struct sh_settings_item {
	const char *key;    /* the dotted key: "debug", "mailer.from" */
	const char *yaml;   /* the value as YAML text ("true", "[a, b]"); NULL removes the key */
} sh_settings_item;

/* The most keys one override may set at once. */
#define SH_SETTINGS_OVERRIDE_MAX 256

/* Returns the type of `value`; SH_VALUE_NULL for a NULL pointer. */
SH_API sh_value_type sh_value_type_of(const sh_value *value);

/* Returns the name of a type as messages spell it ("a string", "a map"),
 * "a value" when out of range. */
SH_API const char *sh_value_type_name(sh_value_type type);

/* Returns the text of a string, NULL when `value` is not a string. Owned
 * by the host. */
SH_API const char *sh_value_string(const sh_value *value);

/* Returns the scalar's text as written in the file (also for integers,
 * booleans and null: "42", "true", ""); NULL for a list, a map or NULL. */
SH_API const char *sh_value_text(const sh_value *value);

/* Stores an integer value in *out and returns 0; returns SH_EINVAL, leaving
 * *out alone, when `value` is not an integer. */
SH_API int sh_value_int(int64_t *out, const sh_value *value);

/* Stores a boolean value in *out and returns 0; returns SH_EINVAL, leaving
 * *out alone, when `value` is not a boolean. */
SH_API int sh_value_bool(bool *out, const sh_value *value);

/* Returns the number of items of a list or entries of a map; 0 for any
 * other value. */
SH_API size_t sh_value_length(const sh_value *value);

/* Returns item `index` of a list, or the value of entry `index` of a map;
 * NULL when out of range or not a list or a map. */
SH_API const sh_value *sh_value_at(const sh_value *value, size_t index);

/* Returns the key of entry `index` of a map; NULL when out of range or not
 * a map. Owned by the host. */
SH_API const char *sh_value_key_at(const sh_value *value, size_t index);

/* Returns the value stored under `key` in a map, NULL when there is none
 * or `value` is not a map. */
SH_API const sh_value *sh_value_get(const sh_value *value, const char *key);

/*
 * Follows a dotted path through nested maps: sh_value_path(settings,
 * "audit.path") is settings["audit"]["path"]. Returns NULL as soon as a
 * step is missing or not a map. An empty path returns `value` itself.
 */
SH_API const sh_value *sh_value_path(const sh_value *value, const char *path);

/* The typed shortcuts: the value at a dotted `path` (see sh_value_path)
 * when it exists and has the type asked for, else `fallback`. */
SH_API const char *sh_value_path_string(const sh_value *value, const char *path,
	const char *fallback);
SH_API int64_t sh_value_path_int(const sh_value *value, const char *path, int64_t fallback);
SH_API bool sh_value_path_bool(const sh_value *value, const char *path, bool fallback);

/* Returns the 1-based line and column where the value starts in its file;
 * 0 for NULL. */
SH_API unsigned sh_value_line(const sh_value *value);
SH_API unsigned sh_value_column(const sh_value *value);

/* Returns the path of the file the value was read from (owned by the host),
 * NULL for NULL. */
SH_API const char *sh_value_file(const sh_value *value);

#ifdef __cplusplus
}
#endif

#endif
