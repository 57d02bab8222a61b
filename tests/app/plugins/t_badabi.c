/*
 * t_badabi.c: a test plugin built "for ABI 42": it writes the symbol by
 * hand instead of using SH_PLUGIN_ABI.
 */
#include <sighost/sighost.h>

__attribute__((visibility("default"))) extern const int sh_plugin_abi;
__attribute__((visibility("default"))) const int sh_plugin_abi = 42;

__attribute__((visibility("default"))) int ready(sh_app *app);

int ready(sh_app *app)
{
	(void)app;
	return 0;
}
