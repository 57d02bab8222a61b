/*
 * t_noready.c: a test plugin that records its ABI but defines no ready().
 */
#include <sighost/sighost.h>

SH_PLUGIN_ABI;

__attribute__((visibility("default"))) int t_noready_unused(void);

int t_noready_unused(void)
{
	return 0;
}
