/*
 * t_readyfail.c: a test plugin whose ready() connects a receiver and then
 * fails, saying why; the host must drop the connection it made.
 */
#include <sighost/sighost.h>

SH_PLUGIN_ABI;

SH_RECEIVER(t_readyfail_on_finished, "request_finished", NULL)
{
	return 0;
}

int ready(sh_app *app)
{
	int rc = SH_APP_CONNECT_RECEIVERS(app, app);
	if (rc < 0)
		return rc;
	return sh_error_set(SH_EDB, "database 'ledger' unreachable");
}
