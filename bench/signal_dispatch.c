/*
 * signal_dispatch.c: what a send costs, beside the same work done by hand.
 *
 * Each figure is printed next to its reference measured in the same run,
 * interleaved round by round (this machine slows down in bursts): a send
 * with no receiver against an empty function call, a send with N receivers
 * against a raw loop over a C array of the same receiver functions, a
 * sender-filtered send with 0 or 100 receivers waiting on other senders,
 * and the throughput of 1 and 2 sending threads against the raw loop's.
 * Per-op figures are the minimum over rounds; ratios are of those minima.
 *
 * The receivers live in a shared object of their own (receivers.c), as a
 * plugin's do: both the raw loop and sighost call them across a DSO
 * boundary. One extra row shows the raw loop over receivers compiled into
 * this executable, which on some CPUs (seen: AMD EPYC) calls noticeably
 * faster; a plugin host cannot be in that position, so it is shown for
 * reference and not held against a target.
 *
 *   build/bench/bench_signal_dispatch [rounds]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sighost/sys/sighost.h>

#include "receivers.h"

/* A receiver in this executable, for the one row that shows what a loop
 * whose receivers sit beside it costs (a host never has that). */
static int local_receiver(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal; (void)sender; (void)args; (void)response; (void)payload;
	__asm__ volatile("" ::: "memory");
	return 0;
}

static __attribute__((noinline)) int empty_call(sh_signal *signal, const sh_sender *sender,
	const void *args, sh_responses *out)
{
	(void)signal; (void)sender; (void)args; (void)out;
	__asm__ volatile("" ::: "memory");
	return 0;
}

/* The same shape as sh_signal_send, called through a pointer the compiler cannot see through. */
static int (*volatile empty_ref)(sh_signal *, const sh_sender *, const void *,
	sh_responses *) = empty_call;

typedef struct raw_receivers {
	sh_receiver_fn fns[128];
	void *payloads[128];
	size_t count;
} raw_receivers;

static __attribute__((noinline)) int raw_send(const raw_receivers *raw, sh_signal *signal,
	const sh_sender *sender, const void *args)
{
	for (size_t i = 0; i < raw->count; i++) {
		void *response = NULL;
		int rc = raw->fns[i](signal, sender, args, &response, raw->payloads[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum { KIND_EMPTY, KIND_RAW, KIND_SEND };

typedef struct job {
	int kind;
	const raw_receivers *raw;
	sh_signal *signal;
	const sh_sender *sender;
	long iters;
} job;

static void run_job(const job *j)
{
	sh_post_save_args args = { .created = true, .using_ = "default" };
	for (long i = 0; i < j->iters; i++) {
		switch (j->kind) {
		case KIND_EMPTY: empty_ref(j->signal, j->sender, &args, NULL); break;
		case KIND_RAW: raw_send(j->raw, j->signal, j->sender, &args); break;
		default: sh_signal_send(j->signal, j->sender, &args, NULL); break;
		}
	}
}

/* ns per operation of one job. */
static double time_job(const job *j)
{
	double t0 = now_s();
	run_job(j);
	return (now_s() - t0) * 1e9 / (double)j->iters;
}

static void *thread_main(void *arg)
{
	run_job(arg);
	return NULL;
}

/* Operations per second of `threads` threads each running `j`. */
static double throughput(const job *j, int threads)
{
	pthread_t tid[2];
	double t0 = now_s();
	for (int t = 0; t < threads; t++)
		pthread_create(&tid[t], NULL, thread_main, (void *)j);
	for (int t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	return (double)j->iters * threads / (now_s() - t0);
}

static double min2(double a, double b)
{
	return a < b ? a : b;
}

static double max2(double a, double b)
{
	return a > b ? a : b;
}

static void must(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "bench: %s: %s\n", what, sh_error_last()->message);
		exit(1);
	}
}

/* A fresh signal with `n` any-sender receivers, and the raw array of the same. */
static sh_signal *make_signal(sh_hub *hub, const char *name, size_t n, raw_receivers *raw)
{
	sh_signal *signal;
	must(sh_signal_named(&signal, hub, name), "signal");
	raw->count = n;
	for (size_t i = 0; i < n; i++) {
		sh_receiver_fn fn = i % 2 ? bench_nop_receiver2 : bench_nop_receiver;
		raw->fns[i] = fn;
		raw->payloads[i] = (void *)(uintptr_t)(i + 1);
		must(sh_signal_connect(NULL, signal, fn, raw->payloads[i], NULL), "connect");
	}
	return signal;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 15;
	sh_hub *hub;
	must(sh_hub_new(&hub), "hub");
	const sh_sender *sender, *target;
	must(sh_sender_intern(&sender, hub, "bench.Sender"), "sender");
	must(sh_sender_intern(&target, hub, "bench.Target"), "sender");

	static const size_t sizes[] = { 0, 1, 10, 100 };
	raw_receivers raw[4];
	sh_signal *sig[4];
	for (int k = 0; k < 4; k++) {
		char name[32];
		snprintf(name, sizeof name, "bench.n%zu", sizes[k]);
		sig[k] = make_signal(hub, name, sizes[k], &raw[k]);
	}

	/* Sender-filtered: one receiver on `target`; the loaded signal also has
	 * 100 receivers waiting on 100 other senders. */
	sh_signal *filtered[2];
	raw_receivers raw_one = { { bench_nop_receiver }, { NULL }, 1 };
	for (int k = 0; k < 2; k++) {
		must(sh_signal_named(&filtered[k], hub, k ? "bench.filtered100" : "bench.filtered0"), "signal");
		sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
		opts.sender = target;
		must(sh_signal_connect(NULL, filtered[k], bench_nop_receiver, NULL, &opts), "connect");
		for (int i = 0; k == 1 && i < 100; i++) {
			char name[32];
			snprintf(name, sizeof name, "bench.Other%d", i);
			must(sh_sender_intern(&opts.sender, hub, name), "sender");
			must(sh_signal_connect(NULL, filtered[k], bench_nop_receiver2, NULL, &opts), "connect");
		}
	}

	raw_receivers raw_local = raw[2];
	for (size_t i = 0; i < raw_local.count; i++)
		raw_local.fns[i] = local_receiver;
	double best_local = 1e9;

	const long iters = 2000000;
	double best_ref[4], best_send[4], best_f[2] = { 1e9, 1e9 }, best_f_raw = 1e9;
	for (int k = 0; k < 4; k++)
		best_ref[k] = best_send[k] = 1e9;
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < 4; k++) {
			long n = sizes[k] >= 100 ? iters / 50 : sizes[k] >= 10 ? iters / 5 : iters;
			job ref = { k == 0 ? KIND_EMPTY : KIND_RAW, &raw[k], sig[k], sender, n };
			job snd = { KIND_SEND, NULL, sig[k], sender, n };
			best_ref[k] = min2(best_ref[k], time_job(&ref));
			best_send[k] = min2(best_send[k], time_job(&snd));
		}
		job lr = { KIND_RAW, &raw_local, sig[2], sender, iters / 5 };
		best_local = min2(best_local, time_job(&lr));
		job fr = { KIND_RAW, &raw_one, filtered[0], target, iters };
		best_f_raw = min2(best_f_raw, time_job(&fr));
		for (int k = 0; k < 2; k++) {
			job f = { KIND_SEND, NULL, filtered[k], target, iters };
			best_f[k] = min2(best_f[k], time_job(&f));
		}
	}

	printf("sighost signal dispatch, %d interleaved rounds, minimum ns per send\n\n", rounds);
	printf("%-44s %10s %12s %8s %s\n", "case", "send ns", "reference ns", "ratio", "target");
	printf("%-44s %10.2f %12.2f %8.2f %s\n", "0 receivers vs empty function call",
		best_send[0], best_ref[0], best_send[0] / best_ref[0], "<= 2.0");
	static const char *targets[] = { "", "<= 2.0", "<= 1.2", "<= 1.2" };
	for (int k = 1; k < 4; k++) {
		char label[64];
		snprintf(label, sizeof label, "%zu receiver(s) vs raw loop", sizes[k]);
		printf("%-44s %10.2f %12.2f %8.2f %s\n", label, best_send[k], best_ref[k],
			best_send[k] / best_ref[k], targets[k]);
	}
	printf("%-44s %10.2f %12.2f %8.2f %s\n", "10 receivers vs raw loop, receivers in-binary",
		best_send[2], best_local, best_send[2] / best_local, "(for reference)");
	printf("%-44s %10.2f %12.2f %8.2f %s\n", "sender-filtered, 0 others vs raw loop of 1",
		best_f[0], best_f_raw, best_f[0] / best_f_raw, "");
	printf("%-44s %10.2f %12.2f %8.2f %s\n", "sender-filtered, 100 others vs 0 others",
		best_f[1], best_f[0], best_f[1] / best_f[0], "~ 1.0");

	/* Threads: 10 receivers, best of interleaved rounds. */
	double raw1 = 0, raw2 = 0, snd1 = 0, snd2 = 0;
	job tr = { KIND_RAW, &raw[2], sig[2], sender, iters / 4 };
	job ts = { KIND_SEND, NULL, sig[2], sender, iters / 4 };
	for (int r = 0; r < rounds; r++) {
		raw1 = max2(raw1, throughput(&tr, 1));
		snd1 = max2(snd1, throughput(&ts, 1));
		raw2 = max2(raw2, throughput(&tr, 2));
		snd2 = max2(snd2, throughput(&ts, 2));
	}
	printf("\nthroughput with 10 receivers, best of %d rounds (sends per second)\n", rounds);
	printf("%-12s %14s %14s %10s\n", "", "1 thread", "2 threads", "speed-up");
	printf("%-12s %14.0f %14.0f %10.2f\n", "raw loop", raw1, raw2, raw2 / raw1);
	printf("%-12s %14.0f %14.0f %10.2f\n", "sh send", snd1, snd2, snd2 / snd1);
	printf("speed-up of sh send / speed-up of raw loop: %.2f (target >= 0.9)\n",
		(snd2 / snd1) / (raw2 / raw1));
	sh_hub_free(hub);
	return 0;
}
