/*
 * t_ok.c: a well-behaved test plugin, copied under several names by the
 * tests. ready() connects two unnamed receivers (one exported, one static,
 * for `sighost signals`' names) and appends "ready LABEL" to the file of
 * settings.trace; teardown() appends "teardown LABEL".
 */
#include <stdio.h>

#include <sighost/sighost.h>

SH_PLUGIN_ABI;

__attribute__((visibility("default"))) int t_ok_on_finished(sh_signal *signal,
	const sh_sender *sender, const void *args, void **response, void *payload);

int t_ok_on_finished(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal; (void)sender; (void)args; (void)response; (void)payload;
	return 0;
}

static int on_started(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal; (void)sender; (void)args; (void)response; (void)payload;
	return 0;
}

static void trace(const sh_app *app, const char *what)
{
	const char *path = sh_value_string(sh_app_setting(app, "trace"));
	FILE *f = path ? fopen(path, "a") : NULL;
	if (f == NULL)
		return;
	fprintf(f, "%s %s\n", what, sh_app_label(app));
	fclose(f);
}

int ready(sh_app *app)
{
	int rc = sh_app_connect(NULL, app, "request_finished", NULL, t_ok_on_finished, app, NULL);
	if (rc >= 0)
		rc = sh_app_connect(NULL, app, "request_started", "t.Handler", on_started, app, NULL);
	if (rc < 0)
		return rc;
	sh_app_log(app, SH_LOG_INFO, "ready");
	trace(app, "ready");
	return 0;
}

void teardown(sh_app *app)
{
	trace(app, "teardown");
}
