/*
 * receivers.c: two receivers that do nothing, built as a shared object
 * (see receivers.h). Two bodies, so a receiver array is not one target.
 */
#include "receivers.h"

int bench_nop_receiver(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal; (void)sender; (void)args; (void)response; (void)payload;
	__asm__ volatile("" ::: "memory");
	return 0;
}

int bench_nop_receiver2(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal; (void)sender; (void)args; (void)response; (void)payload;
	__asm__ volatile("" ::: "memory");
	return 0;
}
