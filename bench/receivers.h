/*
 * receivers.h: the receivers the dispatch benchmark connects. They live in
 * a shared object of their own, as receivers of a real plugin do, so that
 * sighost's send and the raw reference loop both call across a DSO
 * boundary.
 */
#ifndef SH_BENCH_RECEIVERS_H
#define SH_BENCH_RECEIVERS_H

#include <sighost/signal.h>

int bench_nop_receiver(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload);
int bench_nop_receiver2(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload);

#endif
