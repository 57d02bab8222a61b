/*
 * schema.c: checks a map of a manifest against a table of the keys it may
 * hold, so that every manifest section is described by data (add a key:
 * add a row) and reports unknown keys, missing keys and wrong types the
 * same way.
 */
#include <string.h>

#include "manifest.h"

/* "strings", "integers"...: the plural for "a list of ..." messages. */
static const char *sh_manifest__plural(int type)
{
	switch (type) {
	case SH_VALUE_STRING: return "strings";
	case SH_VALUE_INT: return "integers";
	case SH_VALUE_BOOL: return "booleans";
	case SH_VALUE_LIST: return "lists";
	case SH_VALUE_MAP: return "maps";
	default: return "values";
	}
}

static bool sh_manifest__type_ok(int want, const sh_value *v)
{
	return want == SH__ANY || sh_value_type_of(v) == (sh_value_type)want;
}

static void sh_manifest__check_unknown(sh__problems *problems, const sh_value *map,
	const sh__key *keys, size_t key_count, const char *what, size_t *found)
{
	const char *names[64];
	size_t n = key_count < 64 ? key_count : 64;
	/* cppcheck-suppress knownConditionTrueFalse ; every caller passes its
	 * table's size, cppcheck follows one it cannot read */
	for (size_t i = 0; i < n; i++)
		names[i] = keys[i].name;
	for (size_t e = 0; e < map->count; e++) {
		const sh__entry *entry = &map->entries[e];
		bool known = false;
		for (size_t k = 0; k < key_count && !known; k++)
			known = strcmp(entry->key, keys[k].name) == 0;
		if (known)
			continue;
		const char *near = sh_base__suggest(entry->key, names, n);
		if (near != NULL)
			sh_manifest__problem_add(problems, SH_EMANIFEST, map->file, entry->line, entry->column,
				"unknown key '%s' in %s (did you mean '%s'?)", entry->key, what, near);
		else
			sh_manifest__problem_add(problems, SH_EMANIFEST, map->file, entry->line, entry->column,
				"unknown key '%s' in %s", entry->key, what);
		(*found)++;
	}
}

static void sh_manifest__check_key(sh__problems *problems, const sh_value *map, const sh__key *key,
	const char *what, size_t *found)
{
	const sh__entry *entry = sh_manifest__value_entry(map, key->name);
	const sh_value *v = entry ? entry->value : NULL;
	if (v == NULL || (v->type == SH_VALUE_NULL && !key->required && key->type != SH_VALUE_NULL)) {
		if (key->required) {
			sh_manifest__problem_at(problems, SH_EMANIFEST, map, "missing key '%s' in %s",
				key->name, what);
			(*found)++;
		}
		return;
	}
	if (!sh_manifest__type_ok(key->type, v)) {
		if (key->type == SH_VALUE_LIST && key->item_type != SH__ANY)
			sh_manifest__problem_at(problems, SH_EMANIFEST, v,
				"'%s' must be a list of %s, not %s", key->name,
				sh_manifest__plural(key->item_type),
				sh_value_type_name(v->type));
		else
			sh_manifest__problem_at(problems, SH_EMANIFEST, v, "'%s' must be %s, not %s",
				key->name, sh_value_type_name((sh_value_type)key->type),
				sh_value_type_name(v->type));
		(*found)++;
		return;
	}
	if (v->type != SH_VALUE_LIST)
		return;
	for (size_t i = 0; i < v->count; i++) {
		const sh_value *item = v->entries[i].value;
		if (sh_manifest__type_ok(key->item_type, item))
			continue;
		sh_manifest__problem_at(problems, SH_EMANIFEST, item, "items of '%s' must be %s, not %s",
			key->name, sh_value_type_name((sh_value_type)key->item_type),
			sh_value_type_name(item->type));
		(*found)++;
	}
}

size_t sh_manifest__schema_check(sh__problems *problems, const sh_value *map,
	const sh__key *keys, size_t key_count, const char *what)
{
	size_t found = 0;
	if (map == NULL || map->type != SH_VALUE_MAP) {
		sh_manifest__problem_at(problems, SH_EMANIFEST, map, "%s must be a map, not %s", what,
			sh_value_type_name(sh_value_type_of(map)));
		return 1;
	}
	sh_manifest__check_unknown(problems, map, keys, key_count, what, &found);
	for (size_t k = 0; k < key_count; k++)
		sh_manifest__check_key(problems, map, &keys[k], what, &found);
	return found;
}
