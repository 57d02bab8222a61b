/*
 * hub.c: the hub's life cycle, its signals by name, the logger and the
 * trace hook. The hub is the one owner of signals, senders and connections.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sighost/error.h>

#include "internal.h"

int sh_hub_new(sh_hub **out)
{
	if (out == NULL)
		return sh_error_set(SH_EINVAL, "sh_hub_new: out is NULL");
	sh_hub *hub = calloc(1, sizeof *hub);
	if (hub == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory creating a hub");
	pthread_mutex_init(&hub->lock, NULL);
	for (int i = 0; i < SH_BUILTIN_COUNT; i++) {
		if (sh_signal__signal_init(&hub->builtins[i], hub, sh_builtin_name((sh_builtin)i), true) < 0) {
			sh_hub_free(hub);
			return SH_ENOMEM;
		}
	}
	*out = hub;
	return 0;
}

void sh_hub_free(sh_hub *hub)
{
	if (hub == NULL)
		return;
	/* Let every deferred free of earlier snapshots run first. */
	rcu_barrier();
	for (int i = 0; i < SH_BUILTIN_COUNT; i++)
		sh_signal__signal_release(&hub->builtins[i]);
	for (size_t i = 0; i < hub->custom_count; i++) {
		sh_signal__signal_release(hub->customs[i]);
		free(hub->customs[i]);
	}
	free(hub->customs);
	for (size_t b = 0; b < hub->sender_buckets; b++) {
		for (struct sh_sender *s = hub->senders[b], *next; s != NULL; s = next) {
			next = s->next;
			free(s);
		}
	}
	free(hub->senders);
	free(hub->trace);
	pthread_mutex_destroy(&hub->lock);
	free(hub);
}

sh_signal *sh_hub_builtin(sh_hub *hub, sh_builtin id)
{
	if (hub == NULL || (unsigned)id >= SH_BUILTIN_COUNT)
		return NULL;
	return &hub->builtins[id];
}

void sh_hub_set_logger(sh_hub *hub, sh_log_fn fn, void *payload)
{
	hub->log_fn = fn;
	hub->log_payload = payload;
}

void sh_hub_log(sh_hub *hub, sh_log_level level, const char *origin, const char *fmt, ...)
{
	if (hub == NULL || hub->log_fn == NULL)
		return;
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	hub->log_fn(level, origin, message, hub->log_payload);
}

static void sh_signal__trace_free_rcu(struct rcu_head *head)
{
	free(caa_container_of(head, sh__trace, rcu));
}

int sh_hub_set_trace(sh_hub *hub, sh_trace_fn fn, void *payload)
{
	sh__trace *next = NULL;
	if (fn != NULL) {
		next = calloc(1, sizeof *next);
		if (next == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory setting the trace hook");
		next->fn = fn;
		next->payload = payload;
	}
	pthread_mutex_lock(&hub->lock);
	sh__trace *prev = hub->trace;
	rcu_assign_pointer(hub->trace, next);
	for (size_t i = 0; i < SH_BUILTIN_COUNT + hub->custom_count; i++) {
		sh_signal *s = i < SH_BUILTIN_COUNT ? &hub->builtins[i] : hub->customs[i - SH_BUILTIN_COUNT];
		CMM_STORE_SHARED(s->traced, next != NULL);
	}
	pthread_mutex_unlock(&hub->lock);
	if (prev != NULL)
		call_rcu(&prev->rcu, sh_signal__trace_free_rcu);
	return 0;
}

void sh_hub_synchronize(sh_hub *hub)
{
	(void)hub;
	synchronize_rcu();
}

static bool sh_signal__match_owner(const sh__conn *c, const void *owner)
{
	return c->owner != NULL && strcmp(c->owner, owner) == 0;
}

int sh_hub_disconnect_owner(sh_hub *hub, const char *owner)
{
	if (hub == NULL || owner == NULL)
		return sh_error_set(SH_EINVAL, "sh_hub_disconnect_owner: %s is NULL",
			hub == NULL ? "hub" : "owner");
	int total = 0;
	pthread_mutex_lock(&hub->lock);
	for (size_t i = 0; i < SH_BUILTIN_COUNT + hub->custom_count && total >= 0; i++) {
		sh_signal *s = i < SH_BUILTIN_COUNT ? &hub->builtins[i] : hub->customs[i - SH_BUILTIN_COUNT];
		int rc = sh_signal__signal_remove_locked(s, sh_signal__match_owner, owner);
		total = rc < 0 ? rc : total + rc;
	}
	pthread_mutex_unlock(&hub->lock);
	return total;
}

int sh_hub_foreach_signal(sh_hub *hub, int (*fn)(sh_signal *signal, void *payload), void *payload)
{
	for (int i = 0; i < SH_BUILTIN_COUNT; i++) {
		int rc = fn(&hub->builtins[i], payload);
		if (rc != 0)
			return rc;
	}
	/* Custom signals are never removed, so a copy of the list made under
	 * the lock stays valid while fn runs without it. */
	pthread_mutex_lock(&hub->lock);
	size_t n = hub->custom_count;
	sh_signal **copy = n ? malloc(n * sizeof *copy) : NULL;
	if (copy != NULL)
		memcpy(copy, hub->customs, n * sizeof *copy);
	pthread_mutex_unlock(&hub->lock);
	if (n > 0 && copy == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory listing signals");
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = fn(copy[i], payload);
	free(copy);
	return rc;
}

/* ---- signals by name ---------------------------------------------------- */

static sh_signal *sh_signal__find_locked(sh_hub *hub, const char *name)
{
	for (int i = 0; i < SH_BUILTIN_COUNT; i++)
		if (strcmp(hub->builtins[i].name, name) == 0)
			return &hub->builtins[i];
	for (size_t i = 0; i < hub->custom_count; i++)
		if (strcmp(hub->customs[i]->name, name) == 0)
			return hub->customs[i];
	return NULL;
}

static int sh_signal__create_locked(sh_signal **out, sh_hub *hub, const char *name)
{
	if (hub->custom_count == hub->custom_capacity) {
		size_t cap = hub->custom_capacity ? 2 * hub->custom_capacity : 8;
		sh_signal **grown = realloc(hub->customs, cap * sizeof *grown);
		if (grown == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory creating signal '%s'", name);
		hub->customs = grown;
		hub->custom_capacity = cap;
	}
	sh_signal *s = malloc(sizeof *s);
	if (s == NULL || sh_signal__signal_init(s, hub, name, false) < 0) {
		free(s);
		return sh_error_set(SH_ENOMEM, "out of memory creating signal '%s'", name);
	}
	s->traced = hub->trace != NULL;
	hub->customs[hub->custom_count++] = s;
	*out = s;
	return 0;
}

static int sh_signal__check_name(sh_signal **out, sh_hub *hub, const char *name, const char *what)
{
	if (out == NULL || hub == NULL || name == NULL || name[0] == '\0')
		return sh_error_set(SH_EINVAL, "%s: %s is NULL or empty", what,
			out == NULL ? "out" : hub == NULL ? "hub" : "name");
	return 0;
}

int sh_signal_named(sh_signal **out, sh_hub *hub, const char *name)
{
	int rc = sh_signal__check_name(out, hub, name, "sh_signal_named");
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&hub->lock);
	sh_signal *s = sh_signal__find_locked(hub, name);
	if (s != NULL)
		*out = s;
	else
		rc = sh_signal__create_locked(out, hub, name);
	pthread_mutex_unlock(&hub->lock);
	return rc;
}

int sh_signal_declare(sh_signal **out, sh_hub *hub, const char *name, const char *owner)
{
	int rc = sh_signal__check_name(out, hub, name, "sh_signal_declare");
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&hub->lock);
	sh_signal *s = sh_signal__find_locked(hub, name);
	if (s != NULL && s->builtin) {
		rc = sh_error_set(SH_EINVAL, "'%s' is a built-in signal and cannot be declared", name);
	} else if (s == NULL) {
		rc = sh_signal__create_locked(&s, hub, name);
	}
	if (rc == 0 && s->declared_by == NULL && owner != NULL) {
		s->declared_by = strdup(owner);
		if (s->declared_by == NULL)
			rc = sh_error_set(SH_ENOMEM, "out of memory declaring '%s'", name);
	}
	pthread_mutex_unlock(&hub->lock);
	if (rc == 0)
		*out = s;
	return rc;
}

int sh_signal_lookup(sh_signal **out, sh_hub *hub, const char *name)
{
	int rc = sh_signal__check_name(out, hub, name, "sh_signal_lookup");
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&hub->lock);
	sh_signal *s = sh_signal__find_locked(hub, name);
	pthread_mutex_unlock(&hub->lock);
	if (s == NULL)
		return sh_error_set(SH_ENOTFOUND, "no signal named '%s'", name);
	*out = s;
	return 0;
}

const char *sh_signal_name(const sh_signal *signal)
{
	return signal->name;
}

bool sh_signal_is_builtin(const sh_signal *signal)
{
	return signal->builtin;
}

const char *sh_signal_declared_by(const sh_signal *signal)
{
	pthread_mutex_lock(&signal->hub->lock);
	const char *owner = signal->declared_by;
	pthread_mutex_unlock(&signal->hub->lock);
	return owner;
}

sh_hub *sh_signal_hub(const sh_signal *signal)
{
	return signal->hub;
}
