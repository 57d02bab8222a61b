/*
 * clock.h: the monotonic clock in milliseconds, for deadlines and
 * timeouts (the server's slow-client reaper, the plugin probe, serve's
 * settling of manifest edits), and in nanoseconds for short spans (how
 * long a plugin took to load).
 */
#ifndef SH_BASE_CLOCK_H
#define SH_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC: only differences mean anything. */
static inline int64_t sh__monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Nanoseconds of CLOCK_MONOTONIC: only differences mean anything. */
static inline uint64_t sh__monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
