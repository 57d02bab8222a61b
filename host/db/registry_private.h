/*
 * registry_private.h: what the files of the model registry (registry.c,
 * registry_decl.c, registry_access.c, prepare.c) share beyond internal.h:
 * name rules, building and freeing models, and the declaration checks.
 * Nothing outside the registry includes it.
 */
#ifndef SH_DB_REGISTRY_PRIVATE_H
#define SH_DB_REGISTRY_PRIVATE_H

#include "base/text.h"
#include "internal.h"

/* Compares ASCII strings without regard to case, as strcmp does. */
int sh_db__ascii_casecmp(const char *a, const char *b);


/* Returns the model labelled app_label.name (the name matched without
 * regard to case), NULL when none. */
sh_model *sh_db__models_find(const sh_models *models, const char *app_label, const char *name);

/* Returns the model of a label "app.Model" (case-insensitive name), NULL
 * when none or the label has no dot. */
sh_model *sh_db__models_find_label(const sh_models *models, const char *label);

/*
 * Checks one declared model: names, field options and the fields taken
 * together, reporting each problem. `label` is "app.Model" for messages.
 * Returns how many problems it reported.
 */
size_t sh_db__decl_check(sh_models *models, const char *app_label, const char *name,
	const sh_field_decl *fields, size_t count, const char *where);

/*
 * Makes a model (not yet in the registry) from checked declarations:
 * copies every string, normalises `to` and `through` to "app.Model", adds
 * an AUTO "id" first when no field is a primary key, fills columns, the
 * default related names and the Django defaults (a key is indexed, a
 * primary key is unique), and interns its sender. Returns 0 or SH_ENOMEM.
 */
int sh_db__model_build(sh_model **out, sh_models *models, const char *app_label,
	const char *name, const sh_field_decl *fields, size_t count, const char *where,
	bool auto_created);

/* Frees a model and everything it owns. NULL is a no-op. */
void sh_db__model_free(sh_model *model);

/* Appends `model` to the registry (taking it over, also on failure).
 * Returns 0 or SH_ENOMEM. */
int sh_db__models_append(sh_models *models, sh_model *model);

/* Undoes the work of a preparation: removes the join models, clears what
 * preparing set in fields and models. */
void sh_db__prepare_reset(sh_models *models);

/* The position to name for a field in messages: its own, else its model's. */
const char *sh_db__field_where(const sh_field *field);

#endif
