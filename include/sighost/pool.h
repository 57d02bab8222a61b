/*
 * pool.h: a fixed pool of worker threads with a bounded queue, the
 * executor the dispatch loop gives its hub for asynchronous receivers.
 *
 *     sh_pool *pool;
 *     sh_pool_new(&pool, 4, 1024);
 *     sh_hub_set_executor(hub, sh_pool_executor, pool);
 *     ...
 *     sh_pool_free(pool);   (runs every queued job, then joins the threads)
 *
 * Jobs run in submission order per queue; with several threads, jobs may
 * run concurrently. A full queue makes sh_pool_submit() wait for room
 * (back-pressure) instead of growing.
 */
#ifndef SIGHOST_POOL_H
#define SIGHOST_POOL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sh_pool sh_pool;

/*
 * Starts `threads` workers (1 or more) sharing a queue of at most
 * `capacity` waiting jobs (1 or more). Returns 0 and stores the pool in
 * *out, SH_EINVAL, SH_ENOMEM, or SH_ERROR when a thread cannot start.
 */
SH_API int sh_pool_new(sh_pool **out, unsigned int threads, size_t capacity);

/*
 * Queues job(context), waiting while the queue is full. Returns 0, or
 * SH_EINVAL once the pool is draining (the job is not queued: the caller
 * still owns context). Must not be called from a job of the same pool
 * while the queue may be full (it could wait for itself).
 */
SH_API int sh_pool_submit(sh_pool *pool, void (*job)(void *context), void *context);

/* sh_pool_submit() in the shape of an sh_executor_fn (payload: the pool). */
SH_API int sh_pool_executor(void (*job)(void *context), void *context, void *payload);

/* Waits until every job queued so far has run. Jobs may still be queued
 * meanwhile by other threads; those are waited for too. */
SH_API void sh_pool_wait_idle(sh_pool *pool);

/* Returns how many jobs have run to completion since the pool started. */
SH_API uint64_t sh_pool_completed(const sh_pool *pool);

/* Refuses further jobs, runs every queued job, joins the threads and
 * frees the pool. NULL is a no-op. */
SH_API void sh_pool_free(sh_pool *pool);

#ifdef __cplusplus
}
#endif

#endif
