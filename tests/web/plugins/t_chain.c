/*
 * t_chain.c: the test plugin of tests/reliability/asyncload.c. ready()
 * connects an async post_save receiver of alert.Alert that saves another
 * model (four alert.Owner rows named "chained", each in its own
 * transaction, so that the pool falls behind the requests) on its pool
 * thread: the
 * pattern docs/plugins.md suggests for work kept off the request, and the
 * one that deadlocked the pool when its own threads waited for room in
 * the queue they drain.
 */
#include <stdio.h>

#include <sighost/sighost.h>

SH_PLUGIN_ABI;

static int on_alert_saved(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response;
	const sh_post_save_args *a = args;
	if (!a->created)
		return 0;
	sh_app *app = payload;
	const sh_model *owner = NULL;
	sh_conn *db = NULL;
	int rc = sh_models_lookup(&owner, sh_app_models(app), "alert.Owner");
	if (rc == 0)
		rc = sh_app_conn(&db, app);
	sh_field_value values[] = { { "name", sh_datum_text("chained") } };
	for (int i = 0; rc == 0 && i < 4; i++) {
		sh_instance *inst = NULL;
		rc = sh_instance_new(&inst, db, owner, values, 1);
		if (rc == 0)
			rc = sh_instance_save(inst, NULL);
		sh_instance_free(inst);
	}
	return rc;
}

int ready(sh_app *app)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.async = true;
	opts.name = "chain.on_alert_saved";
	return sh_app_connect(NULL, app, "post_save", "alert.Alert", on_alert_saved, app, &opts);
}
