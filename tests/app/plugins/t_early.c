/*
 * t_early.c: a test plugin with the optional early() hook. early() logs
 * what it sees of the models (declared, not prepared, no database) and
 * connects a class_prepared receiver that logs each model; ready() logs
 * what it sees then; teardown() logs. Settings of the app (settings.<label>):
 * fail_early makes early() fail, fail_prepared makes the receiver fail.
 */
#include <sighost/sighost.h>

SH_PLUGIN_ABI;

static bool setting(const sh_app *app, const char *key)
{
	return sh_value_path_bool(sh_app_settings(app), key, false);
}

static int on_prepared(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response;
	const sh_class_prepared_args *a = args;
	sh_app *app = payload;
	if (setting(app, "fail_prepared"))
		return sh_error_set(SH_ERROR, "refusing %s", sh_model_label(a->model));
	sh_app_log(app, SH_LOG_INFO, "class_prepared %s", sh_model_label(a->model));
	return 0;
}

static void describe(sh_app *app, const char *when)
{
	const sh_models *models = sh_app_models(app);
	sh_conn *db = NULL;
	int db_rc = sh_app_conn(&db, app);
	const sh_model *thing = NULL;
	int thing_rc = sh_app_model(&thing, app, "thing");
	sh_app_log(app, SH_LOG_INFO, "%s: %zu models, %s, database %s, Thing %s", when,
		sh_models_count(models), sh_models_prepared(models) ? "prepared" : "not prepared",
		db_rc == SH_EINVAL ? "not open" : db_rc == 0 ? "open" : "failing",
		thing_rc == 0 ? sh_model_label(thing) : "missing");
}

int early(sh_app *app)
{
	if (setting(app, "fail_early"))
		return sh_error_set(SH_EINVAL, "early() refuses on purpose");
	describe(app, "early");
	int rc = sh_app_connect(NULL, app, "class_prepared", NULL, on_prepared, app, NULL);
	return rc < 0 ? rc : 0;
}

int ready(sh_app *app)
{
	describe(app, "ready");
	return 0;
}

void teardown(sh_app *app)
{
	sh_app_log(app, SH_LOG_INFO, "teardown");
}
