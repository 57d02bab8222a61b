/*
 * alert.c: the running example of a plugin. The app `alert` hears post_save
 * from its model alert.Alert (the model itself comes with the models
 * issue; the string sender lets the receiver connect before it exists)
 * and logs "Alert Created" through its app's logger when a row was
 * inserted.
 */
#include <sighost/sighost.h>

SH_PLUGIN_ABI;

SH_RECEIVER(on_alert_saved, "post_save", "alert.Alert")
{
	const sh_post_save_args *saved = args;
	if (saved != NULL && saved->created)
		sh_app_log(payload, SH_LOG_INFO, "Alert Created");
	return 0;
}

int ready(sh_app *app)
{
	return SH_APP_CONNECT_RECEIVERS(app, app);
}
