/*
 * t_web.c: the views the web tests route to (the manifests are written
 * by the tests): plain text, a JSON echo of everything a view can read,
 * path parameters, a failing view, template views, a slow view (for the
 * graceful shutdown), header checks. Its teardown() logs, so a test can see
 * it ran after the last request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sighost/sighost.h>

SH_PLUGIN_ABI;

/* The label of this app's Note model ("web.Note"), when it declares one. */
static const sh_model *note_model(const sh_app *app)
{
	char label[128];
	const sh_model *model = NULL;
	snprintf(label, sizeof label, "%s.Note", sh_app_label(app));
	return sh_models_lookup(&model, sh_app_models(app), label) == 0 ? model : NULL;
}

/* The stream views' progress on this worker thread: 1 while a stream is
 * open, 2 once its close callback ran; request_finished reports and
 * forgets it, so a test sees whether the stream was closed before. */
static __thread int stream_state;

static int on_request_finished(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal;
	(void)sender;
	(void)args;
	(void)response;
	if (stream_state != 0)
		sh_app_log(payload, SH_LOG_INFO, "request_finished: the stream was %s",
			stream_state == 2 ? "closed before" : "NOT closed");
	stream_state = 0;
	return 0;
}

int ready(sh_app *app)
{
	sh_conn *db;
	int rc = sh_app_connect(NULL, app, "request_finished", NULL, on_request_finished, app, NULL);
	if (rc < 0 || note_model(app) == NULL)
		return rc;
	rc = sh_app_conn(&db, app);   /* no migrations yet: make the tables here */
	return rc < 0 ? rc : sh_database_syncdb(db);
}

void teardown(sh_app *app)
{
	sh_app_log(app, SH_LOG_INFO, "t_web teardown");
}

SH_VIEW(hello)
{
	return sh_http_response_text(response, 200, "Hello, world!\n");
}

/* Everything the request shows, as JSON. */
SH_VIEW(echo)
{
	json_t *params = json_object(), *query = json_array();
	for (size_t i = 0; i < sh_request_param_count(request); i++) {
		const char *name;
		const char *value = sh_request_param_at(request, i, &name);
		json_object_set_new(params, name, json_string(value));
	}
	for (size_t i = 0; i < sh_request_query_count(request); i++) {
		const char *name;
		const char *value = sh_request_query_at(request, i, &name);
		json_array_append_new(query, json_pack("[s,s]", name, value));
	}
	size_t length;
	const char *body = sh_request_body(request, &length);
	const json_t *parsed = NULL;
	bool is_json = sh_request_json(&parsed, request) == 0;
	json_t *reply = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:o, s:o, s:s%, s:O?, s:s, s:s?, s:b}",
		"method", sh_request_method(request), "path", sh_request_path(request),
		"query_string", sh_request_query_string(request),
		"x", sh_request_query(request, "x"),
		"header", sh_request_header(request, "x-test"),
		"params", params, "query", query, "body", body, length,
		"json", is_json ? parsed : NULL,
		"app", sh_app_label(sh_request_app(request)),
		"route", sh_request_route(request),
		"anonymous", sh_request_user(request) == NULL);
	int rc = reply ? sh_http_response_json(response, 200, reply) : SH_ENOMEM;
	json_decref(reply);
	return rc;
}

SH_VIEW(item)
{
	int64_t id = 0;
	int rc = sh_request_param_int(request, "id", &id);
	if (rc < 0)
		return rc;
	json_t *reply = json_pack("{s:I, s:s}", "id", (json_int_t)id,
		"slug", sh_request_param(request, "slug"));
	rc = sh_http_response_json(response, 200, reply);
	json_decref(reply);
	return rc;
}

SH_VIEW(boom)
{
	sh_http_response_text(response, 200, "this must never be sent");
	return sh_error_set(SH_ERROR, "secret internal detail 42");
}

/* Renders the template named by ?template= (page.html by default) with
 * the query as context; a render failure is answered 400 with its message. */
SH_VIEW(render)
{
	const char *name = sh_request_query(request, "template");
	json_t *context = json_object();
	for (size_t i = 0; i < sh_request_query_count(request); i++) {
		const char *key;
		const char *value = sh_request_query_at(request, i, &key);
		json_object_set_new(context, key, json_string(value));
	}
	json_object_set_new(context, "items", json_pack("[s,s,s]", "a", "b", "c"));
	int rc = sh_http_response_render(response, 200, name ? name : "page.html", context);
	json_decref(context);
	if (rc < 0 && sh_request_query(request, "strict") == NULL) {
		json_t *error = json_pack("{s:s, s:s}", "error", sh_error_last()->message,
			"code", sh_error_name(rc));
		rc = sh_http_response_json(response, 400, error);
		json_decref(error);
	}
	return rc;
}

SH_VIEW(slow)
{
	struct timespec nap = { 1, 0 };
	nanosleep(&nap, NULL);
	return sh_http_response_text(response, 200, "slow done\n");
}

/* Header rules: a good header is kept, injection and framing headers are
 * refused. */
SH_VIEW(headers)
{
	int good = sh_http_response_set_header(response, "X-Good", "yes");
	int injected = sh_http_response_set_header(response, "X-Bad", "a\r\nSet-Cookie: x=1");
	int framing = sh_http_response_set_header(response, "Content-Length", "1");
	int badname = sh_http_response_add_header(response, "Bad Name", "v");
	int status = sh_http_response_set_status(response, 99);
	sh_http_response_add_header(response, "X-Multi", "1");
	sh_http_response_add_header(response, "X-Multi", "2");
	json_t *reply = json_pack("{s:i, s:i, s:i, s:i, s:i}", "good", good, "injected", injected,
		"framing", framing, "badname", badname, "status", status);
	int rc = sh_http_response_json(response, 201, reply);
	json_decref(reply);
	return rc;
}

/* The body the view wrote, with no Content-Type set. */
SH_VIEW(raw)
{
	sh_http_response_write(response, "<p>", 3);
	sh_http_response_write(response, "raw</p>", 7);
	return 0;
}

/* POST /notes?title=T[&fail=1] : saves a Note, then fails when asked to
 * (so an atomic request rolls the note back). */
SH_VIEW(note_create)
{
	sh_app *app = sh_request_app(request);
	const sh_model *model = note_model(app);
	sh_conn *db;
	int rc = model != NULL ? sh_app_conn(&db, app) : sh_error_set(SH_ENOTFOUND, "no Note model");
	if (rc < 0)
		return rc;
	const char *title = sh_request_query(request, "title");
	sh_field_value values[] = { { "title", sh_datum_text(title ? title : "untitled") } };
	sh_instance *note;
	if ((rc = sh_instance_new(&note, db, model, values, 1)) < 0)
		return rc;
	rc = sh_instance_save(note, NULL);
	sh_instance_free(note);
	if (rc < 0)
		return rc;
	if (sh_request_query(request, "fail") != NULL)
		return sh_error_set(SH_ERROR, "failing after the save, as asked");
	return sh_http_response_text(response, 201, "created\n");
}

/* GET /notes/count : how many notes the database holds. */
SH_VIEW(note_count)
{
	sh_app *app = sh_request_app(request);
	sh_conn *db;
	sh_query *query;
	int64_t count = -1;
	int rc = sh_app_conn(&db, app);
	if (rc == 0 && (rc = sh_query_new(&query, db, note_model(app))) == 0) {
		rc = sh_query_count(query, &count);
		sh_query_free(query);
	}
	if (rc < 0)
		return rc;
	char text[32];
	snprintf(text, sizeof text, "%lld", (long long)count);
	return sh_http_response_text(response, 200, text);
}

/* Django's `raise Http404`: "No note <id>", or no message with ?bare. */
SH_VIEW(raise_404)
{
	if (sh_request_query(request, "bare") != NULL)
		return sh_http_not_found(NULL);
	const char *id = sh_request_query(request, "id");
	return sh_http_not_found("No note %s", id != NULL ? id : "?");
}

/* A body in chunks: ?n chunks (3; "forever" for no end) of ?size bytes
 * (5) each, chunk i made of the letter 'a' + i % 26; ?fail=k fails at
 * chunk k. Its close callback logs how far it got. */
typedef struct stream_job {
	sh_app *app;
	long chunk, chunks, fail_at;
	size_t size, left;          /* bytes per chunk, bytes left of this one */
	bool forever;
} stream_job;

static int stream_next(void *buf, size_t size, size_t *written, void *payload)
{
	stream_job *job = payload;
	if (!job->forever && job->chunk >= job->chunks)
		return 1;   /* no chunk at all: the end */
	if (job->chunk == job->fail_at)
		return sh_error_set(SH_ERROR, "stream broke at chunk %ld", job->chunk);
	if (job->left == 0)
		job->left = job->size;
	size_t n = job->left < size ? job->left : size;
	memset(buf, 'a' + (int)(job->chunk % 26), n);
	*written = n;
	job->left -= n;
	if (job->left == 0)
		job->chunk++;
	return !job->forever && job->chunk >= job->chunks ? 1 : 0;
}

static void stream_close(void *payload)
{
	stream_job *job = payload;
	sh_app_log(job->app, SH_LOG_INFO, "stream closed after %ld chunks", job->chunk);
	stream_state = 2;
	free(job);
}

SH_VIEW(stream)
{
	stream_job *job = calloc(1, sizeof *job);
	if (job == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	const char *n = sh_request_query(request, "n"), *size = sh_request_query(request, "size");
	const char *fail = sh_request_query(request, "fail");
	job->app = sh_request_app(request);
	job->forever = n != NULL && strcmp(n, "forever") == 0;
	job->chunks = n != NULL && !job->forever ? atol(n) : 3;
	job->size = size != NULL ? (size_t)atol(size) : 5;
	job->fail_at = fail != NULL ? atol(fail) : -1;
	sh_http_response_set_header(response, "Content-Type", "text/plain");
	int rc = sh_http_response_stream(response, 200, stream_next, stream_close, job);
	if (rc < 0) {
		free(job);
		return rc;
	}
	stream_state = 1;
	if (sh_request_query(request, "then_fail") != NULL)
		return sh_error_set(SH_ERROR, "the view failed after starting a stream");
	return sh_http_response_text(response, 200, "refused") == SH_EINVAL ? 0
		: sh_error_set(SH_ERROR, "a body was accepted on a streaming response");
}
