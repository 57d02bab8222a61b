/*
 * pool.c: worker threads with a bounded queue (pool.h). One mutex guards
 * the ring of waiting jobs; `work` wakes workers, `idle` wakes sh_pool_wait_idle().
 *
 * No thread ever waits for room in the queue: a submit that finds it full
 * runs the job inline, on the submitting thread (the caller-runs policy).
 * Waiting for room deadlocked: a pool thread waited on the queue it
 * drains, and a request thread that waited inside its transaction held
 * the database's write lock that the pool's jobs needed to make progress.
 * Running the job itself slows the submitter just as waiting did (the
 * back-pressure stays) without waiting on anyone. While the pool drains,
 * its own threads run what they submit inline too; other threads are
 * refused. Nesting is bounded by the signal depth guard for async
 * receivers (SH_SIGNAL_MAX_DEPTH) and by SH__POOL_MAX_INLINE for any job.
 */
#include <pthread.h>
#include <stdlib.h>

#include <sighost/error.h>
#include <sighost/pool.h>

typedef struct sh__job {
	void (*fn)(void *context);
	void *context;
} sh__job;

/* How deep inline jobs may nest on one thread before a submit is
 * refused (an async receiver's sends stop far earlier, at the signal
 * depth guard). */
#define SH__POOL_MAX_INLINE 256

/* The pool whose worker this thread is, NULL elsewhere, and how many
 * inline jobs it is running. */
static __thread struct sh_pool *sh__own_pool;
static __thread unsigned sh__inline_depth;

struct sh_pool {
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	sh__job *ring;
	size_t capacity, head, count;
	size_t running;             /* jobs taken by workers, not finished */
	uint64_t completed;
	bool draining;
	pthread_t *threads;
	unsigned int thread_count;
};

static void *sh_signal__pool_worker(void *arg)
{
	sh_pool *pool = arg;
	sh__own_pool = pool;
	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->count == 0 && !pool->draining)
			pthread_cond_wait(&pool->work, &pool->lock);
		if (pool->count == 0)
			break;                  /* draining and nothing left */
		sh__job job = pool->ring[pool->head];
		pool->head = (pool->head + 1) % pool->capacity;
		pool->count--;
		pool->running++;
		pthread_mutex_unlock(&pool->lock);
		job.fn(job.context);
		pthread_mutex_lock(&pool->lock);
		pool->running--;
		pool->completed++;
		if (pool->count == 0 && pool->running == 0)
			pthread_cond_broadcast(&pool->idle);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

int sh_pool_new(sh_pool **out, unsigned int threads, size_t capacity)
{
	if (out == NULL || threads == 0 || capacity == 0)
		return sh_error_set(SH_EINVAL, "sh_pool_new: threads and capacity must be at least 1");
	sh_pool *pool = calloc(1, sizeof *pool);
	if (pool == NULL || (pool->ring = calloc(capacity, sizeof *pool->ring)) == NULL
		|| (pool->threads = calloc(threads, sizeof *pool->threads)) == NULL) {
		if (pool != NULL)
			free(pool->ring);
		free(pool);
		return sh_error_set(SH_ENOMEM, "out of memory creating a pool");
	}
	pool->capacity = capacity;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->work, NULL);
	pthread_cond_init(&pool->idle, NULL);
	for (; pool->thread_count < threads; pool->thread_count++) {
		if (pthread_create(&pool->threads[pool->thread_count], NULL, sh_signal__pool_worker, pool) != 0) {
			unsigned failed = pool->thread_count + 1;   /* read before the pool is freed */
			sh_pool_free(pool);
			return sh_error_set(SH_ERROR, "cannot start worker thread %u of %u", failed,
				threads);
		}
	}
	*out = pool;
	return 0;
}

/* Runs job(context) on the calling thread (the queue is full, or the
 * pool drains and this is one of its threads). */
static int sh_signal__pool_inline(sh_pool *pool, void (*job)(void *context), void *context)
{
	if (sh__inline_depth >= SH__POOL_MAX_INLINE)
		return sh_error_set(SH_EINVAL, "the pool's queue is full and %d jobs are nested on "
			"this thread already", SH__POOL_MAX_INLINE);
	sh__inline_depth++;
	job(context);
	sh__inline_depth--;
	pthread_mutex_lock(&pool->lock);
	pool->completed++;
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

int sh_pool_submit(sh_pool *pool, void (*job)(void *context), void *context)
{
	pthread_mutex_lock(&pool->lock);
	if ((pool->count == pool->capacity && !pool->draining)
		|| (pool->draining && sh__own_pool == pool)) {
		pthread_mutex_unlock(&pool->lock);
		return sh_signal__pool_inline(pool, job, context);
	}
	if (pool->draining) {
		pthread_mutex_unlock(&pool->lock);
		return sh_error_set(SH_EINVAL, "the pool is shutting down");
	}
	pool->ring[(pool->head + pool->count) % pool->capacity] = (sh__job){ job, context };
	pool->count++;
	pthread_cond_signal(&pool->work);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

int sh_pool_executor(void (*job)(void *context), void *context, void *payload)
{
	return sh_pool_submit(payload, job, context);
}

void sh_pool_close(sh_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	pool->draining = true;
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->lock);
}

void sh_pool_wait_idle(sh_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	while (pool->count > 0 || pool->running > 0)
		pthread_cond_wait(&pool->idle, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
}

uint64_t sh_pool_completed(const sh_pool *pool)
{
	sh_pool *p = (sh_pool *)pool;
	pthread_mutex_lock(&p->lock);
	uint64_t n = p->completed;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void sh_pool_free(sh_pool *pool)
{
	if (pool == NULL)
		return;
	sh_pool_close(pool);
	for (unsigned int i = 0; i < pool->thread_count; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_cond_destroy(&pool->work);
	pthread_cond_destroy(&pool->idle);
	pthread_mutex_destroy(&pool->lock);
	free(pool->threads);
	free(pool->ring);
	free(pool);
}
