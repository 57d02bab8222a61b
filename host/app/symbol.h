/*
 * symbol.h: the few facts of host/app/ that the upper layers of the
 * library (host/web/) need and that are not public API. Defined in
 * symbol.c, which is the only file of host/app/ that host/web/ reaches.
 */
#ifndef SH_APP_SYMBOL_H
#define SH_APP_SYMBOL_H

#include <stdbool.h>
#include <stdint.h>

#include <sighost/project.h>
#include <sighost/settings.h>

/* Returns the root of the project manifest (a map after a successful
 * read), NULL before the project was read or when the file was empty. */
const sh_value *sh__project_manifest(const sh_project *project);

/* Stores where the key of entry `index` of a map starts (1-based), so a
 * message about a key points at the key rather than its value; 0 and 0
 * when out of range or not a map. */
void sh__value_key_position(const sh_value *map, size_t index, unsigned *line,
	unsigned *column);

/* What the dashboard (host/web/dash_json.c) shows of how an app loaded. */
typedef struct sh__app_load_facts {
	uint64_t open_ns;     /* dlopen, the ABI check and early(); 0 without plugin */
	uint64_t ready_ns;    /* ready() */
	int abi;              /* the ABI its plugin was built for; -1 without a loaded plugin */
	const char *verdict;  /* what the probe found wrong with it, NULL when nothing */
	bool probed;          /* the probe ran (sh_project_probe) */
} sh__app_load_facts;

/* Fills *out for `app`. Strings are the project's, valid while it lives. */
void sh__app_load_facts_get(const sh_app *app, sh__app_load_facts *out);

/* Where the live value of the setting `key` (dotted) comes from:
 * "override" (sh_settings_override, on the stack now), "manifest" (as the
 * project manifest was first read; *line and *column say where, else 0)
 * or "reload" (a live reload changed or added it). */
const char *sh__setting_origin(sh_project *project, const char *key, const sh_value *value,
	unsigned *line, unsigned *column);

#endif
