/*
 * dash_units.c: the dashboard's data structures on their own: the
 * per-receiver histograms (host/web/dash_stats.c) and a stream client's
 * bounded buffer (host/web/dash_ring.c), compiled into this test.
 */
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <criterion/criterion.h>

#include <sighost/error.h>

#include "dash.h"

Test(dash_stats, buckets_cover_every_time_in_order)
{
	size_t last = 0;
	for (uint64_t v = 0; v < 100000; v++) {
		size_t b = sh_web__hist_bucket(v);
		uint64_t low, high;
		sh_web__hist_range(b, &low, &high);
		cr_assert(low <= v && v <= high, "%llu is not in its bucket %zu [%llu, %llu]",
			(unsigned long long)v, b, (unsigned long long)low, (unsigned long long)high);
		cr_assert_geq(b, last, "buckets go back at %llu", (unsigned long long)v);
		last = b;
	}
	cr_assert_lt(sh_web__hist_bucket(UINT64_MAX), SH__HIST_BUCKETS);
	uint64_t low, high;
	sh_web__hist_range(sh_web__hist_bucket(UINT64_MAX), &low, &high);
	cr_assert_eq(high, UINT64_MAX);
}

Test(dash_stats, percentiles_are_within_an_eighth_of_the_truth)
{
	sh__stats *s;
	cr_assert_eq(sh_web__stats_new(&s, 16), 0);
	for (uint64_t v = 1; v <= 10000; v++)
		sh_web__stats_record(s, 7, v * 1000, v % 100 == 0);
	sh__stats_summary sum;
	cr_assert(sh_web__stats_get(s, 7, &sum));
	cr_assert_eq(sum.calls, 10000);
	cr_assert_eq(sum.failures, 100);
	cr_assert_eq(sum.max_ns, 10000000);
	cr_assert(sum.p50_ns >= 5000000 * 7 / 8 && sum.p50_ns <= 5000000 * 9 / 8, "p50 %llu",
		(unsigned long long)sum.p50_ns);
	cr_assert(sum.p99_ns >= 9900000 * 7 / 8 && sum.p99_ns <= 9900000 * 9 / 8, "p99 %llu",
		(unsigned long long)sum.p99_ns);
	cr_assert_not(sh_web__stats_get(s, 8, &sum), "a receiver never recorded has a record");
	cr_assert_eq(sum.calls, 0);
	sh_web__stats_free(s);
}

Test(dash_stats, a_full_table_counts_the_receivers_it_cannot_track)
{
	sh__stats *s;
	cr_assert_eq(sh_web__stats_new(&s, 1), 0);   /* rounded up to 16 */
	for (uint64_t id = 1; id <= 20; id++)
		sh_web__stats_record(s, id, 100, false);
	size_t tracked = 0;
	for (uint64_t id = 1; id <= 20; id++) {
		sh__stats_summary sum;
		tracked += sh_web__stats_get(s, id, &sum);
	}
	cr_assert_eq(tracked, 16);
	cr_assert_eq(sh_web__stats_untracked(s), 4);
	sh_web__stats_free(s);
}

typedef struct hammer {
	sh__stats *stats;
	uint64_t id;
} hammer;

static void *hammer_main(void *arg)
{
	hammer *h = arg;
	for (uint64_t i = 0; i < 100000; i++)
		sh_web__stats_record(h->stats, h->id + i % 3, i, false);
	return NULL;
}

Test(dash_stats, concurrent_records_lose_no_call)
{
	sh__stats *s;
	cr_assert_eq(sh_web__stats_new(&s, 64), 0);
	pthread_t t[4];
	hammer h = { s, 100 };
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, hammer_main, &h), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	uint64_t total = 0;
	for (uint64_t id = 100; id < 103; id++) {
		sh__stats_summary sum;
		cr_assert(sh_web__stats_get(s, id, &sum));
		total += sum.calls;
	}
	cr_assert_eq(total, 400000);
	cr_assert_eq(sh_web__stats_untracked(s), 0);
	sh_web__stats_free(s);
}

static sh__dash_event event(uint64_t seq)
{
	return (sh__dash_event){ .seq = seq, .signal = "post_save", .sender = "alert.Alert",
		.pk = (int64_t)seq, .created = 1 };
}

Test(dash_ring, a_client_that_never_reads_drops_and_counts_without_blocking)
{
	sh__ring ring;
	cr_assert_eq(sh_web__ring_init(&ring, 8), 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t kept = 0;
	for (uint64_t seq = 1; seq <= 1000000; seq++) {
		sh__dash_event e = event(seq);
		kept += sh_web__ring_push(&ring, &e);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert_eq(kept, 8);
	/* a million pushes into a full ring: a lock and a compare each, never a wait
	 * (bounded loosely: the machine is shared) */
	cr_assert_lt(secs, 5.0, "pushing into a full ring took %.2f s", secs);
	sh__dash_event out[16];
	uint64_t dropped = 0;
	size_t n = sh_web__ring_pop(&ring, out, 16, &dropped);
	cr_assert_eq(n, 8);
	cr_assert_eq(dropped, 1000000 - 8);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(out[i].seq, i + 1, "the oldest events are kept, in order");
	/* once read, it takes events again */
	sh__dash_event e = event(2000000);
	cr_assert(sh_web__ring_push(&ring, &e));
	sh_web__ring_dispose(&ring);
}

Test(dash_ring, events_come_out_in_order_across_the_wrap)
{
	sh__ring ring;
	cr_assert_eq(sh_web__ring_init(&ring, 4), 0);
	uint64_t next = 1, expect = 1, dropped;
	sh__dash_event out[3];
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 3; i++) {
			sh__dash_event e = event(next++);
			cr_assert(sh_web__ring_push(&ring, &e));
		}
		size_t n = sh_web__ring_pop(&ring, out, 3, &dropped);
		cr_assert_eq(n, 3);
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(out[i].seq, expect++);
	}
	cr_assert_eq(dropped, 0);
	sh_web__ring_reset(&ring);
	cr_assert_eq(sh_web__ring_pop(&ring, out, 3, &dropped), 0);
	sh_web__ring_dispose(&ring);
}

Test(dash_ring, a_ring_of_no_event_is_refused)
{
	sh__ring ring;
	cr_assert_eq(sh_web__ring_init(&ring, 0), SH_EINVAL);
}
