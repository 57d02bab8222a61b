/*
 * value_build.c: building and freeing trees of values (internal.h). The
 * YAML reader is the only builder; everything else only reads values.
 */
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

sh_value *sh_manifest__value_new(sh_value_type type, const char *file, unsigned line, unsigned column)
{
	sh_value *v = calloc(1, sizeof *v);
	if (v == NULL)
		return NULL;
	v->type = type;
	v->file = file;
	v->line = line;
	v->column = column;
	return v;
}

void sh_manifest__value_free(sh_value *value)
{
	if (value == NULL)
		return;
	for (size_t i = 0; i < value->count; i++) {
		free(value->entries[i].key);
		sh_manifest__value_free(value->entries[i].value);
	}
	free(value->entries);
	free(value->text);
	free(value);
}

int sh_manifest__value_append(sh_value *container, char *key, unsigned line, unsigned column,
	sh_value *item)
{
	if (container->count == container->capacity) {
		size_t cap = container->capacity ? container->capacity * 2 : 4;
		sh__entry *grown = realloc(container->entries, cap * sizeof *grown);
		if (grown == NULL) {
			free(key);
			sh_manifest__value_free(item);
			return sh_error_set(SH_ENOMEM, "out of memory");
		}
		container->entries = grown;
		container->capacity = cap;
	}
	container->entries[container->count++] = (sh__entry){ key, line, column, item };
	return 0;
}

const sh__entry *sh_manifest__value_entry(const sh_value *map, const char *key)
{
	if (map == NULL || map->type != SH_VALUE_MAP || key == NULL)
		return NULL;
	for (size_t i = 0; i < map->count; i++)
		if (strcmp(map->entries[i].key, key) == 0)
			return &map->entries[i];
	return NULL;
}
