/*
 * t_noabi.c: a test plugin with a ready() but no ABI record.
 */
#include <sighost/sighost.h>

__attribute__((visibility("default"))) int ready(sh_app *app);

int ready(sh_app *app)
{
	(void)app;
	return 0;
}
