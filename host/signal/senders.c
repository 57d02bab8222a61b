/*
 * senders.c: the hub's intern table of sender names. Interning makes the
 * send path's sender match a pointer compare; the table itself is only
 * touched when a name is interned (model registration, plugin ready()).
 */
#include <stdlib.h>
#include <string.h>

#include <sighost/error.h>

#include "internal.h"

static uint64_t sh_signal__hash_name(const char *name)
{
	uint64_t h = 1469598103934665603ull;          /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

static int sh_signal__grow_locked(sh_hub *hub)
{
	size_t buckets = hub->sender_buckets ? 2 * hub->sender_buckets : 64;
	struct sh_sender **table = calloc(buckets, sizeof *table);
	if (table == NULL)
		return SH_ENOMEM;
	for (size_t b = 0; b < hub->sender_buckets; b++) {
		for (struct sh_sender *s = hub->senders[b], *next; s != NULL; s = next) {
			next = s->next;
			size_t at = s->hash & (buckets - 1);
			s->next = table[at];
			table[at] = s;
		}
	}
	free(hub->senders);
	hub->senders = table;
	hub->sender_buckets = buckets;
	return 0;
}

static int sh_signal__intern_locked(const sh_sender **out, sh_hub *hub, const char *name)
{
	uint64_t hash = sh_signal__hash_name(name);
	if (hub->sender_buckets > 0) {
		for (struct sh_sender *s = hub->senders[hash & (hub->sender_buckets - 1)]; s; s = s->next) {
			if (s->hash == hash && strcmp(s->name, name) == 0) {
				*out = s;
				return 0;
			}
		}
	}
	if (hub->sender_count >= hub->sender_buckets && sh_signal__grow_locked(hub) < 0)
		return sh_error_set(SH_ENOMEM, "out of memory interning sender '%s'", name);
	size_t len = strlen(name);
	struct sh_sender *s = malloc(sizeof *s + len + 1);
	if (s == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory interning sender '%s'", name);
	s->hash = hash;
	memcpy(s->name, name, len + 1);
	size_t at = hash & (hub->sender_buckets - 1);
	s->next = hub->senders[at];
	hub->senders[at] = s;
	hub->sender_count++;
	*out = s;
	return 0;
}

int sh_sender_intern(const sh_sender **out, sh_hub *hub, const char *name)
{
	if (out == NULL || hub == NULL || name == NULL || name[0] == '\0')
		return sh_error_set(SH_EINVAL, "sh_sender_intern: %s is NULL or empty",
			out == NULL ? "out" : hub == NULL ? "hub" : "name");
	pthread_mutex_lock(&hub->lock);
	int rc = sh_signal__intern_locked(out, hub, name);
	pthread_mutex_unlock(&hub->lock);
	return rc;
}

const char *sh_sender_name(const sh_sender *sender)
{
	return sender != NULL ? sender->name : NULL;
}
