/*
 * t_undefined.c: a test plugin that needs a symbol nothing defines, so
 * dlopen(RTLD_NOW) refuses it.
 */
#include <sighost/sighost.h>

SH_PLUGIN_ABI;

int t_missing_function(void);

int ready(sh_app *app)
{
	(void)app;
	return t_missing_function();
}
