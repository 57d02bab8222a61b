/*
 * copy.c: the argument copiers of the signals the model layer sends, so
 * that asynchronous receivers (signal.h) can hear them.
 *
 * An async receiver runs later, on a worker thread, after the send
 * returned and the sender may have freed or changed everything the args
 * pointed at. So each copier makes a deep copy that owns all it points at:
 * instances become detached copies (the model and a copy of every value,
 * text included, in one allocation, with no connection: db is NULL, so
 * reading works and save, delete and the m2m calls refuse it with
 * SH_EINVAL, since a connection belongs to the sending thread); name sets,
 * pk sets, pre_init's args and kwargs are copied with their strings.
 * Models, senders and the `using` alias are not copied: the registry and
 * the library outlive the jobs (the registry must not be freed before the
 * executor is drained). connection_created's connection is the one pointer
 * kept as is; an async receiver must not use it (it belongs to the thread
 * that opened it).
 *
 * Each copy is released by its free function only: the args struct comes
 * first in its allocation or holds the pointers to what was allocated.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

/* ---- pieces ---- */

/* A detached copy of an instance (NULL for NULL). Returns false when out of
 * memory. */
static bool sh_db__instance_copy(const sh_instance *inst, sh_instance **out)
{
	*out = NULL;
	if (inst == NULL)
		return true;
	sh_instance *copy;
	if (sh_db__instance_build(&copy, NULL, inst->model, inst->values) < 0)
		return false;
	copy->adding = inst->adding;
	*out = copy;
	return true;
}

/* A copy of a name set in one allocation (NULL for NULL). */
static bool sh_db__names_copy(const sh_name_set *set, const sh_name_set **out)
{
	*out = NULL;
	if (set == NULL)
		return true;
	size_t text = 0;
	for (size_t i = 0; i < set->count; i++)
		text += strlen(set->names[i]) + 1;
	sh_name_set *copy = malloc(sizeof *copy + set->count * sizeof(char *) + text);
	if (copy == NULL)
		return false;
	const char **names = (const char **)(copy + 1);
	char *p = (char *)(names + set->count);
	for (size_t i = 0; i < set->count; i++) {
		size_t n = strlen(set->names[i]) + 1;
		memcpy(p, set->names[i], n);
		names[i] = p;
		p += n;
	}
	copy->names = set->count ? names : NULL;
	copy->count = set->count;
	*out = copy;
	return true;
}

/* Bytes of the text a datum carries, its NUL included (0 for other types). */
static size_t sh_db__datum_text(const sh_datum *d)
{
	return d->type == SH_DATUM_TEXT && d->v.s != NULL ? strlen(d->v.s) + 1 : 0;
}

/* Copies a datum's text to *arena (advanced). */
static sh_datum sh_db__datum_copy(sh_datum d, char **arena)
{
	size_t n = sh_db__datum_text(&d);
	if (n > 0) {
		memcpy(*arena, d.v.s, n);
		d.v.s = *arena;
		*arena += n;
	}
	return d;
}

/* ---- one copier per signal ---- */

/* pre_init: args, kwargs (names and text) in one allocation. */
static void *sh_db__copy_pre_init(const void *args)
{
	const sh_pre_init_args *a = args;
	size_t text = 0;
	for (size_t i = 0; i < a->args_count; i++)
		text += sh_db__datum_text(&a->args[i]);
	for (size_t i = 0; i < a->kwargs_count; i++)
		text += sh_db__datum_text(&a->kwargs[i].value)
			+ (a->kwargs[i].name != NULL ? strlen(a->kwargs[i].name) + 1 : 0);
	size_t flags = a->deferred != NULL ? a->args_count : 0;
	sh_pre_init_args *copy = malloc(sizeof *copy + a->args_count * sizeof(sh_datum)
		+ a->kwargs_count * sizeof(sh_field_value) + text + flags);
	if (copy == NULL)
		return NULL;
	sh_datum *values = (sh_datum *)(copy + 1);
	sh_field_value *kwargs = (sh_field_value *)(values + a->args_count);
	char *arena = (char *)(kwargs + a->kwargs_count);
	for (size_t i = 0; i < a->args_count; i++)
		values[i] = sh_db__datum_copy(a->args[i], &arena);
	for (size_t i = 0; i < a->kwargs_count; i++) {
		const char *name = a->kwargs[i].name;
		if (name != NULL) {
			size_t n = strlen(name) + 1;
			memcpy(arena, name, n);
			name = arena;
			arena += n;
		}
		kwargs[i].name = name;
		kwargs[i].value = sh_db__datum_copy(a->kwargs[i].value, &arena);
	}
	bool *deferred = NULL;
	if (flags > 0) {
		deferred = (bool *)arena;
		memcpy(deferred, a->deferred, flags * sizeof *deferred);
	}
	*copy = (sh_pre_init_args){ a->args_count ? values : NULL, a->args_count,
		a->kwargs_count ? kwargs : NULL, a->kwargs_count, deferred };
	return copy;
}

static void *sh_db__copy_post_init(const void *args)
{
	const sh_post_init_args *a = args;
	sh_post_init_args *copy = malloc(sizeof *copy);
	if (copy == NULL || !sh_db__instance_copy(a->instance, &copy->instance)) {
		free(copy);
		return NULL;
	}
	return copy;
}

static void sh_db__free_post_init(void *copy)
{
	sh_post_init_args *a = copy;
	sh_instance_free(a->instance);
	free(a);
}

/* pre_save and post_save: the same work on two structs, an instance and
 * update_fields at the given offsets of an args struct of `size` bytes. */
static void *sh_db__copy_save(const void *args, size_t size, size_t instance_at, size_t names_at)
{
	char *copy = malloc(size);
	if (copy == NULL)
		return NULL;
	memcpy(copy, args, size);
	sh_instance **instance = (sh_instance **)(copy + instance_at);
	const sh_name_set **names = (const sh_name_set **)(copy + names_at);
	if (!sh_db__instance_copy(*(sh_instance *const *)((const char *)args + instance_at), instance)) {
		free(copy);
		return NULL;
	}
	if (!sh_db__names_copy(*(const sh_name_set *const *)((const char *)args + names_at), names)) {
		sh_instance_free(*instance);
		free(copy);
		return NULL;
	}
	return copy;
}

static void sh_db__free_save(void *copy, size_t instance_at, size_t names_at)
{
	sh_instance_free(*(sh_instance **)((char *)copy + instance_at));
	free(*(void **)((char *)copy + names_at));
	free(copy);
}

#define SH__SAVE_COPIER(kind, type)                                                 \
	static void *sh__copy_##kind(const void *args)                              \
	{                                                                           \
		return sh_db__copy_save(args, sizeof(type), offsetof(type, instance),  \
			offsetof(type, update_fields));                                 \
	}                                                                           \
	static void sh__free_##kind(void *copy)                                     \
	{                                                                           \
		sh_db__free_save(copy, offsetof(type, instance), offsetof(type, update_fields)); \
	}

SH__SAVE_COPIER(pre_save, sh_pre_save_args)
SH__SAVE_COPIER(post_save, sh_post_save_args)

/* pre_delete and post_delete: the instance and the origin (one copy when
 * the origin is the instance itself, so they stay the same object). */
static void *sh_db__copy_delete(const void *args)
{
	const sh_delete_args *a = args;
	sh_delete_args *copy = malloc(sizeof *copy);
	if (copy == NULL)
		return NULL;
	*copy = *a;
	sh_instance *origin = NULL;
	if (!sh_db__instance_copy(a->instance, &copy->instance)) {
		free(copy);
		return NULL;
	}
	if (a->origin != NULL && a->origin == a->instance) {
		origin = copy->instance;
	} else if (!sh_db__instance_copy(a->origin, &origin)) {
		sh_instance_free(copy->instance);
		free(copy);
		return NULL;
	}
	copy->origin = origin;
	return copy;
}

static void sh_db__free_delete(void *copy)
{
	sh_delete_args *a = copy;
	if (a->origin != a->instance)
		sh_instance_free((sh_instance *)a->origin);
	sh_instance_free(a->instance);
	free(a);
}

/* m2m_changed: the instance and the pk set (an empty set stays non-NULL,
 * NULL stays NULL). */
static void *sh_db__copy_m2m(const void *args)
{
	const sh_m2m_changed_args *a = args;
	sh_m2m_changed_args *copy = malloc(sizeof *copy);
	if (copy == NULL)
		return NULL;
	*copy = *a;
	int64_t *pks = NULL;
	if (a->pk_set != NULL) {
		pks = malloc((a->pk_count ? a->pk_count : 1) * sizeof *pks);
		if (pks == NULL) {
			free(copy);
			return NULL;
		}
		if (a->pk_count > 0)
			memcpy(pks, a->pk_set, a->pk_count * sizeof *pks);
	}
	copy->pk_set = pks;
	if (!sh_db__instance_copy(a->instance, &copy->instance)) {
		free(pks);
		free(copy);
		return NULL;
	}
	return copy;
}

static void sh_db__free_m2m(void *copy)
{
	sh_m2m_changed_args *a = copy;
	sh_instance_free(a->instance);
	free((void *)a->pk_set);
	free(a);
}

/* class_prepared and connection_created hold no pointer to copy: the model
 * outlives the job, and the connection is kept as a pointer only (an
 * async receiver must not use it: it belongs to the thread that opened it). */
static void *sh_db__memdup(const void *args, size_t size)
{
	void *copy = malloc(size);
	if (copy != NULL)
		memcpy(copy, args, size);
	return copy;
}

static void *sh_db__copy_class_prepared(const void *args)
{
	return sh_db__memdup(args, sizeof(sh_class_prepared_args));
}

static void *sh_db__copy_connection_created(const void *args)
{
	return sh_db__memdup(args, sizeof(sh_connection_created_args));
}

int sh_db__set_model_copiers(sh_hub *hub)
{
	static const struct {
		sh_builtin id;
		sh_args_copy_fn copy;
		sh_args_free_fn free_fn;
	} copiers[] = {
		{ SH_PRE_INIT, sh_db__copy_pre_init, free },
		{ SH_POST_INIT, sh_db__copy_post_init, sh_db__free_post_init },
		{ SH_PRE_SAVE, sh__copy_pre_save, sh__free_pre_save },
		{ SH_POST_SAVE, sh__copy_post_save, sh__free_post_save },
		{ SH_PRE_DELETE, sh_db__copy_delete, sh_db__free_delete },
		{ SH_POST_DELETE, sh_db__copy_delete, sh_db__free_delete },
		{ SH_M2M_CHANGED, sh_db__copy_m2m, sh_db__free_m2m },
		{ SH_CLASS_PREPARED, sh_db__copy_class_prepared, free },
		{ SH_CONNECTION_CREATED, sh_db__copy_connection_created, free },
	};
	for (size_t i = 0; i < sizeof copiers / sizeof *copiers; i++) {
		sh_signal *signal = sh_hub_builtin(hub, copiers[i].id);
		int rc = signal != NULL ? sh_signal_set_copier(signal, copiers[i].copy,
			copiers[i].free_fn) : sh_error_set(SH_EINVAL, "the hub has no signal %s",
			sh_builtin_name(copiers[i].id));
		if (rc < 0)
			return rc;
	}
	return 0;
}
