/*
 * symbol.h: the few facts of host/app/ that the upper layers of the
 * library (host/web/) need and that are not public API. Defined in
 * symbol.c, which is the only file of host/app/ that host/web/ reaches.
 */
#ifndef SH_APP_SYMBOL_H
#define SH_APP_SYMBOL_H

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

#endif
