/*
 * override.c: overriding settings for a scope (project.h and app.h), the
 * counterpart of Django's override_settings: a stack of (dotted key,
 * value) on top of the settings read from the manifest. Pushing one sends
 * setting_changed with enter true and the new value; popping it sends
 * enter false with the value restored. The published settings are rebuilt
 * from the base for every change (see sh__live in internal.h), so a reload
 * of the manifest under an override keeps the override on top.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The name of documents made for overrides, in values' sh_value_file(). */
#define SH__OVERRIDES_FILE "(settings overrides)"

/* ---- building trees --------------------------------------------------- */

/* Returns a deep copy of `v` (NULL on ENOMEM). The copy keeps the original
 * positions and file name (its document is kept by the project). */
static sh_value *sh_app__value_copy(const sh_value *v)
{
	sh_value *c = sh_manifest__value_new(v->type, v->file, v->line, v->column);
	if (c == NULL)
		return NULL;
	c->integer = v->integer;
	c->boolean = v->boolean;
	if (v->text != NULL && (c->text = strdup(v->text)) == NULL) {
		sh_manifest__value_free(c);
		return NULL;
	}
	for (size_t i = 0; i < v->count; i++) {
		const sh__entry *e = &v->entries[i];
		char *key = NULL;
		sh_value *item = sh_app__value_copy(e->value);
		if (item == NULL || (e->key != NULL && (key = strdup(e->key)) == NULL)
			|| sh_manifest__value_append(c, key, e->line, e->column, item) < 0) {
			if (item != NULL && e->key != NULL && key == NULL)
				sh_manifest__value_free(item);
			sh_manifest__value_free(c);
			return NULL;
		}
	}
	return c;
}

/* Returns the index of the entry `key` (its first `len` bytes) of a map,
 * or -1. */
static long sh_app__override_find(const sh_value *map, const char *key, size_t len)
{
	for (size_t i = 0; i < map->count; i++)
		if (strncmp(map->entries[i].key, key, len) == 0 && map->entries[i].key[len] == '\0')
			return (long)i;
	return -1;
}

/* Removes entry `index` of a map and frees it. */
static void sh_app__remove(sh_value *map, size_t index)
{
	free(map->entries[index].key);
	sh_manifest__value_free(map->entries[index].value);
	memmove(&map->entries[index], &map->entries[index + 1],
		(map->count - index - 1) * sizeof *map->entries);
	map->count--;
}

/*
 * Sets the dotted `key` of the map `root` (a tree being built, owned by
 * the caller) to a copy of `value`, making maps on the way where there are
 * none (or something else), or removes it when value is NULL. Returns 0 or
 * SH_ENOMEM.
 */
static int sh_app__set_path(sh_value *root, const char *key, const sh_value *value)
{
	sh_value *node = root;
	for (const char *seg = key;;) {
		const char *dot = strchr(seg, '.');
		size_t len = dot != NULL ? (size_t)(dot - seg) : strlen(seg);
		long at = sh_app__override_find(node, seg, len);
		if (dot == NULL && value == NULL) {
			if (at >= 0)
				sh_app__remove(node, (size_t)at);
			return 0;
		}
		if (dot == NULL || at < 0 || node->entries[at].value->type != SH_VALUE_MAP) {
			if (dot != NULL && value == NULL)
				return 0;   /* nothing below to remove */
			sh_value *item = dot == NULL ? sh_app__value_copy(value)
				: sh_manifest__value_new(SH_VALUE_MAP, root->file, 0, 0);
			if (item == NULL)
				return sh_error_set(SH_ENOMEM, "out of memory");
			if (at >= 0) {
				sh_manifest__value_free(node->entries[at].value);
				node->entries[at].value = item;
			} else {
				char *name = strndup(seg, len);
				if (name == NULL) {
					sh_manifest__value_free(item);
					return sh_error_set(SH_ENOMEM, "out of memory");
				}
				if (sh_manifest__value_append(node, name, 0, 0, item) < 0)
					return SH_ENOMEM;
				at = (long)node->count - 1;
			}
			if (dot == NULL)
				return 0;
		}
		node = node->entries[at].value;
		/* cppcheck-suppress nullPointerArithmeticRedundantCheck ; the block
		 * above returned when dot is NULL (the last segment) */
		seg = dot + 1;
	}
}

/* Makes a kept document named SH__OVERRIDES_FILE with no root yet. */
static int sh_app__new_kept_doc(sh__doc **out, sh_project *p)
{
	*out = NULL;
	sh__doc *doc = calloc(1, sizeof *doc);
	if (doc == NULL || (doc->path = strdup(SH__OVERRIDES_FILE)) == NULL) {
		free(doc);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	int rc = sh_app__live_keep(p, doc);
	if (rc == 0)
		*out = doc;
	return rc;
}

int sh_app__live_effective(const sh_value **out, sh_project *p, const sh_value *base)
{
	*out = base;
	if (p->live.override_count == 0)
		return 0;
	sh__doc *doc;
	int rc = sh_app__new_kept_doc(&doc, p);
	if (rc != 0)
		return rc;
	doc->root = base != NULL ? sh_app__value_copy(base)
		: sh_manifest__value_new(SH_VALUE_MAP, doc->path, 0, 0);
	if (doc->root == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	for (size_t i = 0; i < p->live.override_count; i++)
		if ((rc = sh_app__set_path(doc->root, p->live.overrides[i].key,
				p->live.overrides[i].value)) < 0)
			return rc;
	*out = doc->root;
	return 0;
}

/* ---- the stack -------------------------------------------------------- */

/* A key is one or more non-empty names joined by dots. */
static bool sh_app__key_valid(const char *key)
{
	if (key == NULL || key[0] == '\0' || key[0] == '.')
		return false;
	for (const char *c = key; *c != '\0'; c++)
		if (*c == '.' && (c[1] == '.' || c[1] == '\0'))
			return false;
	return true;
}

/* Rebuilds the settings from the base and the stack and publishes them;
 * stores the published tree in *out. Under the lock. */
static int sh_app__republish(const sh_value **out, sh_project *p)
{
	int rc = sh_app__live_effective(out, p, p->live.base);
	if (rc == 0)
		atomic_store_explicit(&p->settings, *out, memory_order_release);
	return rc;
}

/* Takes entries [from, from + n) off the stack, storing their keys in
 * keys[] (the caller frees them). */
static void sh_app__override_take(sh__live *live, size_t from, size_t n, char **keys)
{
	for (size_t i = 0; i < n; i++)
		keys[i] = live->overrides[from + i].key;
	memmove(&live->overrides[from], &live->overrides[from + n],
		(live->override_count - from - n) * sizeof *live->overrides);
	live->override_count -= n;
}

/*
 * Django's override_settings.disable(), once the settings are published
 * without the override: setting_changed with enter false for every key, in
 * the order they were given, each with the value it holds now, every
 * receiver running (send_robust). Returns 0, or the first failing
 * receiver's code with its message in the error channel (Django raises it
 * after the last send).
 */
static int sh_app__send_exit(sh_project *p, const sh_value *now, char *const *keys, size_t n)
{
	sh_signal *signal = sh_hub_builtin(p->hub, SH_SETTING_CHANGED);
	int failed = 0;
	char message[512] = "";
	for (size_t i = 0; i < n; i++) {
		sh_responses out = SH_RESPONSES_INIT;
		sh_setting_changed_args args = { keys[i], sh_value_path(now, keys[i]), false };
		sh_signal_send_robust(signal, p->live.sender, &args, &out);
		for (size_t k = 0; k < out.count && failed == 0; k++) {
			if (out.items[k].error < 0) {
				failed = out.items[k].error;
				snprintf(message, sizeof message, "a setting_changed receiver failed on "
					"leaving the override of '%s': %s", keys[i],
					out.items[k].message != NULL ? out.items[k].message : "(no message)");
			}
		}
		sh_responses_dispose(&out);
	}
	return failed < 0 ? sh_error_set(failed, "%s", message) : 0;
}

/* Frees n keys. */
static void sh_app__keys_free(char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
}

/*
 * Django's override_settings.enable() for n (key, value) pairs, values
 * kept by the project already: every key is applied and the settings
 * published once, then setting_changed is sent with enter true for each
 * key in the order given (sh_signal_send: a failing receiver stops it).
 * When a receiver fails, the override is taken off again, the settings
 * published without it and enter false sent for every key (as disable()
 * does), and the receiver's code returned. Under the lock.
 */
static int sh_app__enter(sh_project *p, const char *const *keys, const sh_value *const *values,
	size_t n)
{
	sh__live *live = &p->live;
	if (live->override_count + n > live->override_capacity) {
		size_t cap = live->override_capacity ? live->override_capacity : 4;
		while (cap < live->override_count + n)
			cap *= 2;
		sh__override *grown = realloc(live->overrides, cap * sizeof *grown);
		if (grown == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		live->overrides = grown;
		live->override_capacity = cap;
	}
	size_t from = live->override_count;
	for (size_t i = 0; i < n; i++) {
		char *copy = strdup(keys[i]);
		if (copy == NULL) {
			char *taken[SH_SETTINGS_OVERRIDE_MAX];
			sh_app__override_take(live, from, i, taken);
			sh_app__keys_free(taken, i);
			return sh_error_set(SH_ENOMEM, "out of memory");
		}
		live->overrides[live->override_count++] = (sh__override){ copy, values[i], i == 0 };
	}
	const sh_value *now;
	int rc = sh_app__republish(&now, p);
	char *taken[SH_SETTINGS_OVERRIDE_MAX];
	if (rc < 0) {
		sh_app__override_take(live, from, n, taken);
		sh_app__keys_free(taken, n);
		return rc;
	}
	sh_signal *signal = sh_hub_builtin(p->hub, SH_SETTING_CHANGED);
	for (size_t i = 0; i < n && rc == 0; i++) {
		/* a receiver may override in turn: our entries stay at [from, from + n) */
		const char *key = live->overrides[from + i].key;
		sh_setting_changed_args args = { key, sh_value_path(now, key), true };
		rc = sh_signal_send(signal, live->sender, &args, NULL);
	}
	if (rc == 0)
		return 0;
	char message[768];
	snprintf(message, sizeof message, "%s", sh_error_last()->message);
	sh_app__override_take(live, from, n, taken);
	if (sh_app__republish(&now, p) == 0)
		sh_app__send_exit(p, now, taken, n);
	sh_app__keys_free(taken, n);
	return sh_error_set(rc, "%s", message);
}

/* The checks every override entry point makes. */
static int sh_app__override_check(const sh_project *p, const char *key, const char *function)
{
	if (p == NULL)
		return sh_error_set(SH_EINVAL, "%s: a project is required", function);
	if (!p->read_ok)
		return sh_error_set(SH_EINVAL, "%s: the project was not read successfully", function);
	if (!sh_app__key_valid(key))
		return sh_error_set(SH_EINVAL, "%s: '%s' is not a setting key (names joined by dots, "
			"e.g. \"audit.path\")", function, key != NULL ? key : "(null)");
	return 0;
}

/* A copy of `value` (NULL: the key removed) in a kept document. */
static int sh_app__copy_value(const sh_value **out, sh_project *p, const sh_value *value)
{
	*out = NULL;
	if (value == NULL)
		return 0;
	sh__doc *doc = NULL;
	int rc = sh_app__new_kept_doc(&doc, p);
	if (rc == 0 && (doc->root = sh_app__value_copy(value)) == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	if (rc == 0)
		*out = doc->root;
	return rc;
}

int sh_settings_override_value(sh_project *p, const char *key, const sh_value *value)
{
	int rc = sh_app__override_check(p, key, "sh_settings_override_value");
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&p->live.lock);
	const sh_value *copy = NULL;
	rc = sh_app__copy_value(&copy, p, value);
	if (rc == 0)
		rc = sh_app__enter(p, &key, &copy, 1);
	pthread_mutex_unlock(&p->live.lock);
	return rc;
}

/* Reads `yaml` into a kept document and stores its root in *out (a null
 * value for empty text). Returns 0, SH_EINVAL naming the position, or
 * SH_ENOMEM. */
static int sh_app__parse_value(const sh_value **out, sh_project *p, const char *key,
	const char *yaml)
{
	char label[300];
	snprintf(label, sizeof label, "override of '%s'", key);
	sh__problems problems = { 0 };
	sh__doc *doc = NULL;
	int rc = sh_manifest__doc_read_text(&doc, label, yaml, strlen(yaml), &problems);
	if (rc == SH_ENOMEM || doc == NULL || problems.oom) {
		sh_manifest__problems_dispose(&problems);
		sh_manifest__doc_free(doc);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	if (problems.count > 0) {
		rc = sh_error_set(SH_EINVAL, "%s", problems.items[0].text);
		sh_manifest__problems_dispose(&problems);
		sh_manifest__doc_free(doc);
		return rc;
	}
	if (doc->root == NULL) {
		doc->root = sh_manifest__value_new(SH_VALUE_NULL, doc->path, 1, 1);
		if (doc->root == NULL || (doc->root->text = strdup("")) == NULL) {
			sh_manifest__doc_free(doc);
			return sh_error_set(SH_ENOMEM, "out of memory");
		}
	}
	if ((rc = sh_app__live_keep(p, doc)) < 0)
		return rc;
	*out = doc->root;
	return 0;
}

int sh_settings_override(sh_project *p, const char *key, const char *yaml)
{
	sh_settings_item item = { key, yaml };
	return sh_settings_override_many(p, &item, 1);
}

int sh_settings_override_many(sh_project *p, const sh_settings_item *items, size_t count)
{
	const char *function = count == 1 ? "sh_settings_override" : "sh_settings_override_many";
	if (items == NULL || count == 0 || count > SH_SETTINGS_OVERRIDE_MAX)
		return sh_error_set(SH_EINVAL, "%s: give 1 to %d keys", function,
			SH_SETTINGS_OVERRIDE_MAX);
	for (size_t i = 0; i < count; i++) {
		int rc = sh_app__override_check(p, items[i].key, function);
		if (rc < 0)
			return rc;
		for (size_t k = 0; k < i; k++)
			if (strcmp(items[k].key, items[i].key) == 0)
				return sh_error_set(SH_EINVAL, "%s: key '%s' is given twice", function,
					items[i].key);
	}
	const char *keys[SH_SETTINGS_OVERRIDE_MAX];
	const sh_value *values[SH_SETTINGS_OVERRIDE_MAX];
	pthread_mutex_lock(&p->live.lock);
	int rc = 0;
	for (size_t i = 0; i < count && rc == 0; i++) {
		keys[i] = items[i].key;
		values[i] = NULL;
		if (items[i].yaml != NULL)
			rc = sh_app__parse_value(&values[i], p, items[i].key, items[i].yaml);
	}
	if (rc == 0)
		rc = sh_app__enter(p, keys, values, count);
	pthread_mutex_unlock(&p->live.lock);
	return rc;
}

int sh_settings_restore(sh_project *p)
{
	if (p == NULL)
		return sh_error_set(SH_EINVAL, "sh_settings_restore: a project is required");
	pthread_mutex_lock(&p->live.lock);
	sh__live *live = &p->live;
	int rc;
	if (live->override_count == 0) {
		rc = sh_error_set(SH_EINVAL, "sh_settings_restore: no override to restore");
	} else {
		size_t from = live->override_count - 1;
		while (from > 0 && !live->overrides[from].first)
			from--;
		size_t n = live->override_count - from;
		sh__override saved[SH_SETTINGS_OVERRIDE_MAX];
		memcpy(saved, &live->overrides[from], n * sizeof *saved);
		char *taken[SH_SETTINGS_OVERRIDE_MAX];
		sh_app__override_take(live, from, n, taken);
		const sh_value *now;
		rc = sh_app__republish(&now, p);
		if (rc < 0) {
			/* still in force: put it back (the capacity is there) */
			memcpy(&live->overrides[live->override_count], saved, n * sizeof *saved);
			live->override_count += n;
		} else {
			rc = sh_app__send_exit(p, now, taken, n);
			sh_app__keys_free(taken, n);
		}
	}
	pthread_mutex_unlock(&p->live.lock);
	return rc;
}

size_t sh_settings_override_count(const sh_project *p)
{
	if (p == NULL)
		return 0;
	sh_project *q = (sh_project *)p;   /* the lock only */
	pthread_mutex_lock(&q->live.lock);
	size_t n = q->live.override_count;
	pthread_mutex_unlock(&q->live.lock);
	return n;
}

int sh_app_settings_override(sh_app *app, const char *key, const char *yaml)
{
	if (app == NULL)
		return sh_error_set(SH_EINVAL, "sh_app_settings_override: an app is required");
	return sh_settings_override(app->project, key, yaml);
}

int sh_app_settings_override_many(sh_app *app, const sh_settings_item *items, size_t count)
{
	if (app == NULL)
		return sh_error_set(SH_EINVAL, "sh_app_settings_override_many: an app is required");
	return sh_settings_override_many(app->project, items, count);
}

int sh_app_settings_restore(sh_app *app)
{
	if (app == NULL)
		return sh_error_set(SH_EINVAL, "sh_app_settings_restore: an app is required");
	return sh_settings_restore(app->project);
}
