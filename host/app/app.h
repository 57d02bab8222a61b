/*
 * app.h: host/app/'s one narrow header for the layers above (migrate,
 * web): the few facts of a project they need that are not public API.
 * Never host/app/internal.h: the project's struct stays app's.
 */
#ifndef SH_APP_APP_H
#define SH_APP_APP_H

#include <stdbool.h>
#include <stdint.h>

#include <sighost/model.h>
#include <sighost/sys/project.h>
#include <sighost/settings.h>

#include "manifest/manifest.h"

/* Returns whether sh_project_read() ran on `project` and succeeded
 * (symbol.c). */
bool sh_app__project_was_read(const sh_project *project);

/* Returns the root of the project manifest (a map after a successful
 * read), NULL before the project was read or when the file was empty. */
const sh_value *sh_app__project_manifest(const sh_project *project);

/* Stores where the key of entry `index` of a map starts (1-based), so a
 * message about a key points at the key rather than its value; 0 and 0
 * when out of range or not a map. */
void sh_app__value_key_position(const sh_value *map, size_t index, unsigned *line,
	unsigned *column);

/* ---- fields of a model (models_manifest.c), for migration files ---- */

/*
 * Reads every field of the map `fields` (each key a field name, each value
 * its options) of model `app_label`.`model`: checks keys, types and the
 * options that fit each type as the models section does, recording each
 * problem with its file, line and column in `problems`, and calls
 * fn(field, payload) for each field without a problem, in map order. The
 * declaration passed to fn is valid only during the call: its strings
 * borrow from the value tree or from storage freed on return (`where`,
 * "file:line:col" of the field's key, and a json default). A duplicate key
 * is skipped (the reader reported it). Stops when fn returns a negative
 * code and returns it; otherwise returns how many problems were recorded
 * (0: every field was passed to fn), or SH_ENOMEM.
 */
int sh_app__fields_read(sh__problems *problems, const char *app_label, const char *model,
	const sh_value *fields, int (*fn)(const sh_field_decl *field, void *payload), void *payload);

/* ---- how apps loaded and where settings came from (the dashboard) ---- */

/* What the dashboard (host/web/dash_json.c) shows of how an app loaded. */
typedef struct sh__app_load_facts {
	uint64_t open_ns;     /* dlopen, the ABI check and early(); 0 without plugin */
	uint64_t ready_ns;    /* ready() */
	int abi;              /* the ABI its plugin was built for; -1 without a loaded plugin */
	const char *verdict;  /* what the probe found wrong with it, NULL when nothing */
	bool probed;          /* the probe ran (sh_project_probe) */
} sh__app_load_facts;

/* Fills *out for `app`. Strings are the project's, valid while it lives. */
void sh_app__app_load_facts_get(const sh_app *app, sh__app_load_facts *out);

/* Where the live value of the setting `key` (dotted) comes from:
 * "override" (sh_settings_override, on the stack now), "manifest" (as the
 * project manifest was first read; *line and *column say where, else 0)
 * or "reload" (a live reload changed or added it). */
const char *sh_app__setting_origin(sh_project *project, const char *key, const sh_value *value,
	unsigned *line, unsigned *column);

#endif
