/*
 * app.c: the app handle as plugins see it (app.h): label, hub, settings,
 * logger, owned connections and declared signals.
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

const char *sh_app_label(const sh_app *app)
{
	return app->label;
}

sh_hub *sh_app_hub(const sh_app *app)
{
	return app->project->hub;
}

const char *sh_app_version(const sh_app *app)
{
	return app->version;
}

const char *sh_app_manifest_path(const sh_app *app)
{
	return app->root->file;
}

const char *sh_app_library_path(const sh_app *app)
{
	return app->library_path;
}

const char *sh_app_project_dir(const sh_app *app)
{
	return app->project->dir;
}

const sh_value *sh_app_settings(const sh_app *app)
{
	return sh_value_get(app->project->settings, app->label);
}

const sh_value *sh_app_setting(const sh_app *app, const char *key)
{
	return sh_value_path(app->project->settings, key);
}

void sh_app_set_data(sh_app *app, void *data)
{
	app->data = data;
}

void *sh_app_data(const sh_app *app)
{
	return app->data;
}

void sh_app_log(const sh_app *app, sh_log_level level, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	sh_hub_log(app->project->hub, level, app->label, "%s", message);
}

int sh_app_connect(sh_connection_id *out, sh_app *app, const char *signal_name,
	const char *sender_name, sh_receiver_fn receiver, void *payload,
	const sh_connect_opts *opts)
{
	if (app == NULL || signal_name == NULL || receiver == NULL)
		return sh_error_set(SH_EINVAL, "sh_app_connect: app, signal name and receiver are required");
	sh_hub *hub = app->project->hub;
	sh_signal *signal;
	int rc = sh_signal_named(&signal, hub, signal_name);
	if (rc < 0)
		return rc;
	sh_connect_opts o = SH_CONNECT_OPTS_INIT;
	if (opts != NULL)
		o = *opts;
	o.owner = app->label;
	if (sender_name != NULL && (rc = sh_sender_intern(&o.sender, hub, sender_name)) < 0)
		return rc;
	rc = sh_signal_connect(out, signal, receiver, payload, &o);
	if (rc < 0) {
		char why[1024];
		snprintf(why, sizeof why, "%s", sh_error_last()->message);
		return sh_error_set(rc, "app '%s': cannot connect to %s: %s", app->label,
			signal_name, why);
	}
	return rc;
}

int sh_app_declare_signal(sh_signal **out, sh_app *app, const char *name)
{
	return sh_signal_declare(out, app->project->hub, name, app->label);
}
