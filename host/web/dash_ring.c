/*
 * dash_ring.c: a stream client's bounded buffer of events (dash.h). The
 * sending thread copies an event in, the client's connection copies
 * events out; the lock is held for those copies only, so a client that
 * never reads costs a sender one short lock and one compare: once the
 * ring is full, new events are dropped and counted.
 */
#include <stdlib.h>

#include <sighost/error.h>

#include "dash.h"

int sh_web__ring_init(sh__ring *ring, size_t capacity)
{
	*ring = (sh__ring){ .capacity = capacity };
	if (capacity == 0)
		return sh_error_set(SH_EINVAL, "a stream buffer holds at least one event");
	ring->items = calloc(capacity, sizeof *ring->items);
	if (ring->items == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory for a stream buffer of %zu events",
			capacity);
	int rc = pthread_mutex_init(&ring->lock, NULL);
	if (rc != 0) {
		free(ring->items);
		ring->items = NULL;
		return sh_error_set(SH_ENOMEM, "cannot make a lock for a stream buffer");
	}
	return 0;
}

void sh_web__ring_dispose(sh__ring *ring)
{
	if (ring->items == NULL)
		return;
	pthread_mutex_destroy(&ring->lock);
	free(ring->items);
	ring->items = NULL;
}

void sh_web__ring_reset(sh__ring *ring)
{
	pthread_mutex_lock(&ring->lock);
	ring->head = ring->count = 0;
	ring->dropped = 0;
	pthread_mutex_unlock(&ring->lock);
}

bool sh_web__ring_push(sh__ring *ring, const sh__dash_event *event)
{
	pthread_mutex_lock(&ring->lock);
	bool room = ring->count < ring->capacity;
	if (room)
		ring->items[(ring->head + ring->count++) % ring->capacity] = *event;
	else
		ring->dropped++;
	pthread_mutex_unlock(&ring->lock);
	return room;
}

size_t sh_web__ring_pop(sh__ring *ring, sh__dash_event *out, size_t max, uint64_t *dropped)
{
	pthread_mutex_lock(&ring->lock);
	size_t n = ring->count < max ? ring->count : max;
	for (size_t i = 0; i < n; i++)
		out[i] = ring->items[(ring->head + i) % ring->capacity];
	ring->head = (ring->head + n) % ring->capacity;
	ring->count -= n;
	*dropped = ring->dropped;
	pthread_mutex_unlock(&ring->lock);
	return n;
}
