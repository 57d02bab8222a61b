/*
 * dash_stats.c: per-receiver calls, failures and time histograms for the
 * dashboard (dash.h). Written from the trace hook on every sending thread:
 * records are claimed with one compare-and-swap of their id and counted
 * with relaxed atomic adds; readers sum the buckets they see, so a reader
 * racing a writer may miss the newest call, never read a torn count.
 *
 * Buckets: times below 4 ns have one bucket each; from there on each power
 * of two is split in 4, bucket 4 + 4 * (msb - 2) + (the two bits below the
 * most significant one). 252 buckets cover every uint64_t.
 */
#include <stdlib.h>

#include <sighost/error.h>

#include "dash.h"

int sh_web__stats_new(sh__stats **out, size_t capacity)
{
	*out = NULL;
	size_t cap = 16;
	while (cap < capacity && cap < ((size_t)1 << 30))
		cap <<= 1;
	sh__stats *s = calloc(1, sizeof *s);
	sh__hist *records = s != NULL ? calloc(cap, sizeof *records) : NULL;
	if (records == NULL) {
		free(s);
		return sh_error_set(SH_ENOMEM, "out of memory for %zu receiver histograms", cap);
	}
	s->mask = cap - 1;
	s->records = records;
	atomic_init(&s->untracked, 0);
	*out = s;
	return 0;
}

void sh_web__stats_free(sh__stats *stats)
{
	if (stats == NULL)
		return;
	free(stats->records);
	free(stats);
}

size_t sh_web__hist_bucket(uint64_t ns)
{
	if (ns < 4)
		return (size_t)ns;
	unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
	return 4 + 4 * (size_t)(msb - 2) + (size_t)((ns >> (msb - 2)) & 3);
}

void sh_web__hist_range(size_t bucket, uint64_t *low, uint64_t *high)
{
	if (bucket < 4) {
		*low = *high = bucket;
		return;
	}
	unsigned msb = (unsigned)((bucket - 4) / 4) + 2;
	uint64_t sub = (bucket - 4) % 4;
	uint64_t width = (uint64_t)1 << (msb - 2);
	*low = (4 + sub) << (msb - 2);
	*high = *low + (width - 1);
}

/* The slot where the probe for `id` starts. */
static size_t sh_web__home(const sh__stats *s, uint64_t id)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & s->mask;
}

/* The record of `id`, claimed when `claim` and absent; NULL when absent
 * (or the table is full). */
static sh__hist *sh_web__find(const sh__stats *s, uint64_t id, bool claim)
{
	size_t at = sh_web__home(s, id);
	for (size_t probes = 0; probes <= s->mask; probes++, at = (at + 1) & s->mask) {
		sh__hist *h = &s->records[at];
		uint64_t seen = atomic_load_explicit(&h->id, memory_order_acquire);
		if (seen == id)
			return h;
		if (seen != 0)
			continue;
		if (!claim)
			return NULL;
		uint64_t expected = 0;
		if (atomic_compare_exchange_strong_explicit(&h->id, &expected, id,
				memory_order_acq_rel, memory_order_acquire) || expected == id)
			return h;
	}
	return NULL;
}

void sh_web__stats_record(sh__stats *stats, uint64_t id, uint64_t ns, bool failed)
{
	sh__hist *h = sh_web__find(stats, id, true);
	if (h == NULL) {
		atomic_fetch_add_explicit(&stats->untracked, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&h->buckets[sh_web__hist_bucket(ns)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->calls, 1, memory_order_relaxed);
	if (failed)
		atomic_fetch_add_explicit(&h->failures, 1, memory_order_relaxed);
	uint64_t max = atomic_load_explicit(&h->max_ns, memory_order_relaxed);
	while (ns > max && !atomic_compare_exchange_weak_explicit(&h->max_ns, &max, ns,
			memory_order_relaxed, memory_order_relaxed))
		;
}

/* The middle of the bucket holding the call of rank `rank` (1-based). */
static uint64_t sh_web__rank_ns(const uint32_t *counts, uint64_t rank)
{
	uint64_t seen = 0;
	for (size_t b = 0; b < SH__HIST_BUCKETS; b++) {
		seen += counts[b];
		if (seen >= rank) {
			uint64_t low, high;
			sh_web__hist_range(b, &low, &high);
			return low + (high - low) / 2;
		}
	}
	return 0;
}

bool sh_web__stats_get(const sh__stats *stats, uint64_t id, sh__stats_summary *out)
{
	*out = (sh__stats_summary){ 0 };
	const sh__hist *h = sh_web__find(stats, id, false);
	if (h == NULL)
		return false;
	uint32_t counts[SH__HIST_BUCKETS];
	uint64_t total = 0;
	for (size_t b = 0; b < SH__HIST_BUCKETS; b++) {
		counts[b] = atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
		total += counts[b];
	}
	out->calls = atomic_load_explicit(&h->calls, memory_order_relaxed);
	out->failures = atomic_load_explicit(&h->failures, memory_order_relaxed);
	out->max_ns = atomic_load_explicit(&h->max_ns, memory_order_relaxed);
	if (total > 0) {
		out->p50_ns = sh_web__rank_ns(counts, (total + 1) / 2);
		out->p99_ns = sh_web__rank_ns(counts, total - total / 100);   /* ceil(0.99 * total) */
	}
	return true;
}

uint64_t sh_web__stats_untracked(const sh__stats *stats)
{
	return atomic_load_explicit(&stats->untracked, memory_order_relaxed);
}
