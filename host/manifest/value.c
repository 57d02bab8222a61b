/*
 * value.c: the read-only accessors of settings values (settings.h).
 */
#include <string.h>

#include "manifest.h"

sh_value_type sh_value_type_of(const sh_value *value)
{
	return value ? value->type : SH_VALUE_NULL;
}

const char *sh_value_type_name(sh_value_type type)
{
	switch (type) {
	case SH_VALUE_NULL: return "null";
	case SH_VALUE_STRING: return "a string";
	case SH_VALUE_INT: return "an integer";
	case SH_VALUE_BOOL: return "a boolean";
	case SH_VALUE_LIST: return "a list";
	case SH_VALUE_MAP: return "a map";
	}
	return "a value";
}

const char *sh_value_string(const sh_value *value)
{
	return value && value->type == SH_VALUE_STRING ? value->text : NULL;
}

const char *sh_value_text(const sh_value *value)
{
	return value ? value->text : NULL;
}

int sh_value_int(int64_t *out, const sh_value *value)
{
	if (value == NULL || value->type != SH_VALUE_INT)
		return SH_EINVAL;
	*out = value->integer;
	return 0;
}

int sh_value_bool(bool *out, const sh_value *value)
{
	if (value == NULL || value->type != SH_VALUE_BOOL)
		return SH_EINVAL;
	*out = value->boolean;
	return 0;
}

size_t sh_value_length(const sh_value *value)
{
	if (value == NULL || (value->type != SH_VALUE_LIST && value->type != SH_VALUE_MAP))
		return 0;
	return value->count;
}

const sh_value *sh_value_at(const sh_value *value, size_t index)
{
	if (index >= sh_value_length(value))
		return NULL;
	return value->entries[index].value;
}

const char *sh_value_key_at(const sh_value *value, size_t index)
{
	if (value == NULL || value->type != SH_VALUE_MAP || index >= value->count)
		return NULL;
	return value->entries[index].key;
}

const sh_value *sh_value_get(const sh_value *value, const char *key)
{
	const sh__entry *e = sh_manifest__value_entry(value, key);
	return e ? e->value : NULL;
}

const sh_value *sh_value_path(const sh_value *value, const char *path)
{
	if (path == NULL)
		return NULL;
	while (value != NULL && *path != '\0') {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);
		const sh_value *next = NULL;
		if (value->type == SH_VALUE_MAP)
			for (size_t i = 0; i < value->count && next == NULL; i++)
				if (strncmp(value->entries[i].key, path, len) == 0
						&& value->entries[i].key[len] == '\0')
					next = value->entries[i].value;
		value = next;
		path += len + (dot != NULL);
		if (dot != NULL && *path == '\0')
			return NULL;   /* "a." names no key */
	}
	return value;
}

const char *sh_value_path_string(const sh_value *value, const char *path, const char *fallback)
{
	const char *s = sh_value_string(sh_value_path(value, path));
	return s ? s : fallback;
}

int64_t sh_value_path_int(const sh_value *value, const char *path, int64_t fallback)
{
	int64_t n = fallback;
	sh_value_int(&n, sh_value_path(value, path));
	return n;
}

bool sh_value_path_bool(const sh_value *value, const char *path, bool fallback)
{
	bool b = fallback;
	sh_value_bool(&b, sh_value_path(value, path));
	return b;
}

unsigned sh_value_line(const sh_value *value)
{
	return value ? value->line : 0;
}

unsigned sh_value_column(const sh_value *value)
{
	return value ? value->column : 0;
}

const char *sh_value_file(const sh_value *value)
{
	return value ? value->file : NULL;
}
