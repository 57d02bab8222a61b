/*
 * alert.c: the running example of a plugin. The app `alert` hears post_save
 * from its model alert.Alert (the model itself comes with the models
 * issue; the string sender lets the receiver connect before it exists)
 * and logs "Alert Created" through its app's logger when a row was
 * inserted. After `sighost migrate` it makes sure the default tags exist
 * (post_migrate, as a Django app loads initial data). Its view
 * dashboard_create (POST /dashboard/create, for a user with an API token)
 * creates an Alert and answers "Response", as the seed's Django example.
 */
#include <stdlib.h>
#include <string.h>

#include <sighost/sighost.h>

SH_PLUGIN_ABI;

SH_RECEIVER(on_alert_saved, "post_save", "alert.Alert")
{
	const sh_post_save_args *saved = args;
	if (saved != NULL && saved->created)
		sh_app_log(payload, SH_LOG_INFO, "Alert Created");
	return 0;
}

/* The tags an alert database starts with. */
static const char *const default_tags[] = { "info", "warning", "critical" };

static int ensure_tag(sh_conn *db, const sh_model *tag, const char *name)
{
	sh_query *q;
	int64_t n = 0;
	int rc = sh_query_new(&q, db, tag);
	if (rc == 0 && (rc = sh_query_filter(q, "name", sh_datum_text(name))) == 0)
		rc = sh_query_count(q, &n);
	sh_query_free(q);
	if (rc < 0 || n > 0)
		return rc;
	sh_instance *row;
	sh_field_value value = { "name", sh_datum_text(name) };
	if ((rc = sh_instance_new(&row, db, tag, &value, 1)) < 0)
		return rc;
	rc = sh_instance_save(row, NULL);
	sh_instance_free(row);
	return rc;
}

SH_RECEIVER(on_post_migrate, "post_migrate", "alert")
{
	const sh_migrate_args *migrated = args;
	const sh_model *tag;
	sh_conn *db;
	/* Nothing to do when the migrations left no Tag table (migrate alert zero). */
	if (sh_models_lookup(&tag, sh_state_models(migrated->apps), "alert.Tag") < 0) {
		sh_error_clear();
		return 0;
	}
	int rc = sh_app_model(&tag, payload, "Tag");
	if (rc == 0)
		rc = sh_app_conn(&db, payload);
	for (size_t i = 0; rc == 0 && i < sizeof default_tags / sizeof *default_tags; i++)
		rc = ensure_tag(db, tag, default_tags[i]);
	return rc;
}

/* ---- the dashboard view (POST /dashboard/create, login_required) ---- */

/* The content of an alert created without one. */
#define DEFAULT_CONTENT "New alert"

/* Stores in *pk the Owner named `user`, created when missing (Django's
 * Owner.objects.get_or_create(name=user)). */
static int owner_of(int64_t *pk, sh_conn *db, const sh_model *owner, const char *user)
{
	sh_query *q;
	sh_instance *row = NULL;
	int rc = sh_query_new(&q, db, owner);
	if (rc == 0 && (rc = sh_query_filter(q, "name", sh_datum_text(user))) == 0)
		rc = sh_query_next(q, &row);
	sh_query_free(q);
	if (rc == 0) {
		sh_field_value name = { "name", sh_datum_text(user) };
		if ((rc = sh_instance_new(&row, db, owner, &name, 1)) == 0)
			rc = sh_instance_save(row, NULL);
	}
	*pk = rc >= 0 ? sh_instance_pk(row) : 0;
	sh_instance_free(row);
	return rc < 0 ? rc : 0;
}

/* The "content" of the form or JSON body, newly allocated; NULL when the
 * body has none. */
static char *content_of(sh_request *request)
{
	char *content = sh_request_form(request, "content");
	const json_t *body;
	if (content == NULL && sh_request_json(&body, request) == 0
		&& json_is_string(json_object_get(body, "content")))
		content = strdup(json_string_value(json_object_get(body, "content")));
	sh_error_clear();
	return content;
}

/* Creates an Alert for the authenticated user and answers "Response"; the
 * post_save receiver above logs "Alert Created". */
SH_VIEW(dashboard_create)
{
	sh_app *app = sh_request_app(request);
	const char *user = sh_request_user(request);   /* the route is login_required */
	const sh_model *alert, *owner;
	sh_conn *db;
	int rc = sh_app_model(&alert, app, "Alert");
	if (rc == 0)
		rc = sh_app_model(&owner, app, "Owner");
	if (rc == 0)
		rc = sh_app_conn(&db, app);
	if (rc < 0)
		return rc;
	/* the content is checked (constructing the Alert) before anything is written */
	char *content = content_of(request);
	sh_field_value value = { "content", sh_datum_text(content ? content : DEFAULT_CONTENT) };
	sh_instance *created = NULL;
	rc = sh_instance_new(&created, db, alert, &value, 1);
	free(content);
	if (rc == SH_EINVAL)   /* a content the model refuses (too long): the client's */
		return sh_http_response_text(response, 400, sh_error_last()->message);
	int64_t owner_pk = 0;
	if (rc == 0)
		rc = owner_of(&owner_pk, db, owner, user != NULL ? user : "anonymous");
	if (rc == 0)
		rc = sh_instance_set(created, "owner", sh_datum_int(owner_pk));
	if (rc == 0)
		rc = sh_instance_save(created, NULL);
	sh_instance_free(created);
	if (rc < 0)
		return rc;
	return sh_http_response_set_body(response, "Response", strlen("Response"));
}

int ready(sh_app *app)
{
	return SH_APP_CONNECT_RECEIVERS(app, app);
}
