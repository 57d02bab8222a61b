/*
 * t_fault.c: the test plugin of tests/web/faults.c (faults of the database
 * and failing receivers during requests). Its app declares a model Entry
 * (title) in the manifest the test writes; ready() connects:
 *
 *   pre_save  of <label>.Entry: fails for the title "refuse-pre"
 *   post_save of <label>.Entry: fails for the title "refuse-post"
 *   got_request_exception: a receiver that always fails, connected to run
 *             before every other one (the audit plugin's included), and a
 *             second one, run last, that logs the error it was given
 *
 * and its view `pair` saves two entries in one request, titled by the
 * query parameters `first` and `second`.
 */
#include <stdio.h>
#include <string.h>

#include <sighost/sighost.h>

SH_PLUGIN_ABI;

/* Whether the saved instance's title is `title`. */
static bool titled(const sh_instance *instance, const char *title)
{
	sh_datum value;
	return sh_instance_get(instance, "title", &value) == 0 && value.type == SH_DATUM_TEXT
		&& strcmp(value.v.s, title) == 0;
}

static int on_pre_save(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_pre_save_args *a = args;
	if (titled(a->instance, "refuse-pre"))
		return sh_error_set(SH_ERECEIVER, "t_fault: pre_save refuses the title refuse-pre");
	return 0;
}

static int on_post_save(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_post_save_args *a = args;
	if (titled(a->instance, "refuse-post"))
		return sh_error_set(SH_ERECEIVER, "t_fault: post_save refuses the title refuse-post");
	return 0;
}

static int on_exception_fail(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	return sh_error_set(SH_ERECEIVER, "t_fault: the first got_request_exception receiver fails");
}

static int on_exception_log(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response;
	const sh_got_request_exception_args *a = args;
	sh_app_log(payload, SH_LOG_INFO, "t_fault: the last got_request_exception receiver ran "
		"(error %s)", sh_error_name(a->error));
	return 0;
}

int ready(sh_app *app)
{
	char entry[128];
	snprintf(entry, sizeof entry, "%s.Entry", sh_app_label(app));
	sh_connect_opts first = SH_CONNECT_OPTS_INIT, last = SH_CONNECT_OPTS_INIT;
	first.priority = SH_PRIORITY_REALLY_FIRST - 10;
	last.priority = SH_PRIORITY_REALLY_LAST + 10;
	int rc = sh_app_connect(NULL, app, "pre_save", entry, on_pre_save, NULL, NULL);
	if (rc >= 0)
		rc = sh_app_connect(NULL, app, "post_save", entry, on_post_save, NULL, NULL);
	if (rc >= 0)
		rc = sh_app_connect(NULL, app, "got_request_exception", NULL, on_exception_fail, NULL,
			&first);
	if (rc >= 0)
		rc = sh_app_connect(NULL, app, "got_request_exception", NULL, on_exception_log, app,
			&last);
	return rc < 0 ? rc : 0;
}

/* Saves one Entry titled `title`. */
static int save_entry(sh_conn *db, const sh_model *model, const char *title)
{
	sh_field_value values[] = { { "title", sh_datum_text(title) } };
	sh_instance *entry;
	int rc = sh_instance_new(&entry, db, model, values, 1);
	if (rc < 0)
		return rc;
	rc = sh_instance_save(entry, NULL);
	sh_instance_free(entry);
	return rc;
}

/* POST /pair?first=A&second=B : saves Entry A, then Entry B. */
SH_VIEW(pair)
{
	sh_app *app = sh_request_app(request);
	char label[128];
	snprintf(label, sizeof label, "%s.Entry", sh_app_label(app));
	const sh_model *model = NULL;
	sh_conn *db;
	int rc = sh_models_lookup(&model, sh_app_models(app), label);
	if (rc == 0)
		rc = sh_app_conn(&db, app);
	const char *first = sh_request_query(request, "first");
	const char *second = sh_request_query(request, "second");
	if (rc == 0)
		rc = save_entry(db, model, first != NULL ? first : "first");
	if (rc == 0)
		rc = save_entry(db, model, second != NULL ? second : "second");
	return rc < 0 ? rc : sh_http_response_text(response, 201, "saved both\n");
}
