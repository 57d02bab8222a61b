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
 * run concurrently. A full queue never grows and never makes anyone wait:
 * sh_pool_submit() then runs the job itself, on the submitting thread
 * (back-pressure without a wait, so no thread can wait on a queue that
 * only it, or a lock it holds, lets drain).
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
 * Queues job(context). When the queue is full, job(context) runs at once
 * on the calling thread instead (also when the pool is draining and the
 * caller is one of its threads); at most 256 such inline jobs nest on a
 * thread, past which the submit is refused with SH_EINVAL. Never waits.
 * Returns 0, or SH_EINVAL when refused (draining and the caller is not
 * one of the pool's threads, or too deeply nested): the job is not run and
 * the caller still owns context.
 */
SH_API int sh_pool_submit(sh_pool *pool, void (*job)(void *context), void *context);

/* sh_pool_submit() in the shape of an sh_executor_fn (payload: the pool). */
SH_API int sh_pool_executor(void (*job)(void *context), void *context, void *payload);

/* Refuses further jobs from threads other than the pool's own (those run
 * inline, see sh_pool_submit()), so that sh_pool_wait_idle() and
 * sh_pool_free() end once the queued jobs have run. */
SH_API void sh_pool_close(sh_pool *pool);

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
