/*
 * fields_read.h: the one function of models_manifest.c that the rest of the
 * host uses beyond host/app: reading a `fields` map (the syntax of the
 * `models` section, see docs/models.md) into field declarations, with the
 * same checks and messages. Migration files (host/migrate) write their
 * fields this way.
 */
#ifndef SH_APP_FIELDS_READ_H
#define SH_APP_FIELDS_READ_H

#include "internal.h"

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
int sh__fields_read(sh__problems *problems, const char *app_label, const char *model,
	const sh_value *fields, int (*fn)(const sh_field_decl *field, void *payload), void *payload);

#endif
