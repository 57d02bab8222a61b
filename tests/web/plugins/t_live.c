/*
 * t_live.c: the test plugin of the live settings and async receiver tests
 * (tests/web/live.c). Its receivers are connected with opts.async and run
 * first in their signals: each one appends a JSON line to the file named
 * by settings.<label>.path, with the signal, the thread it ran on (the
 * kernel's thread id) and what it saw of its copied arguments. A
 * request_started receiver first sleeps settings.<label>.sleep_ms (read at
 * every call, so a reload changes it). Views: whoami (the request
 * thread), setting (a setting as the plugin reads it now), fail (a failing
 * view), render (renders page.html). teardown() appends a last line.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <sighost/sighost.h>

SH_PLUGIN_ABI;

typedef struct live_state {
	sh_app *app;
	char path[4096];
	pthread_mutex_t lock;
} live_state;

static long thread_id(void)
{
	return (long)syscall(SYS_gettid);
}

/* Appends `line` (a JSON object, taken) to the log, whole. */
static int append(live_state *state, json_t *line)
{
	char *text = line != NULL ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(line);
	if (text == NULL)
		return sh_error_set(SH_ENOMEM, "t_live: out of memory");
	pthread_mutex_lock(&state->lock);
	FILE *f = fopen(state->path, "a");
	int failed = f == NULL || fprintf(f, "%s\n", text) < 0;
	if (f != NULL)
		failed = fclose(f) != 0 || failed;
	pthread_mutex_unlock(&state->lock);
	free(text);
	return failed ? sh_error_set(SH_EIO, "t_live: cannot write %s", state->path) : 0;
}

static json_t *value_json(const sh_value *value)
{
	if (value == NULL)
		return json_null();
	const char *text = sh_value_text(value);
	return json_pack("{s:s, s:s?}", "type", sh_value_type_name(sh_value_type_of(value)),
		"text", text);
}

static int on_started(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal;
	(void)response;
	live_state *state = payload;
	int64_t ms = sh_value_path_int(sh_app_settings(state->app), "sleep_ms", 0);
	if (ms > 0) {
		struct timespec nap = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
		nanosleep(&nap, NULL);
	}
	const sh_environ *e = ((const sh_request_started_args *)args)->environ;
	const char *probe = NULL;
	for (size_t i = 0; e != NULL && i < e->header_count; i++)
		if (strcasecmp(e->headers[i].name, "X-Probe") == 0)
			probe = e->headers[i].value;
	return append(state, json_pack("{s:s, s:I, s:s?, s:s?, s:s?, s:s?}", "signal",
		"request_started", "thread", (json_int_t)thread_id(), "sender",
		sender ? sh_sender_name(sender) : NULL, "method", e ? e->method : NULL,
		"path", e ? e->path : NULL, "probe", probe));
}

static int on_finished(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal;
	(void)sender;
	(void)args;
	(void)response;
	return append(payload, json_pack("{s:s, s:I}", "signal", "request_finished",
		"thread", (json_int_t)thread_id()));
}

static int on_exception(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal;
	(void)sender;
	(void)response;
	const sh_got_request_exception_args *a = args;
	const sh_request *r = a->request;
	return append(payload, json_pack("{s:s, s:I, s:i, s:s?, s:s?, s:s?, s:s?, s:s?}",
		"signal", "got_request_exception", "thread", (json_int_t)thread_id(),
		"error", a->error, "message", a->message,
		"path", r ? sh_request_path(r) : NULL,
		"probe", r ? sh_request_header(r, "X-Probe") : NULL,
		"query", r ? sh_request_query(r, "q") : NULL,
		"body", r ? sh_request_body(r, NULL) : NULL));
}

static int on_rendered(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal;
	(void)response;
	const sh_template_rendered_args *a = args;
	const json_t *context = a->context ? sh_context_json(a->context) : NULL;
	return append(payload, json_pack("{s:s, s:I, s:s?, s:s?, s:O?}", "signal",
		"template_rendered", "thread", (json_int_t)thread_id(),
		"sender", sender ? sh_sender_name(sender) : NULL,
		"template", a->template_ ? sh_template_name(a->template_) : NULL,
		"context", context));
}

static int on_setting(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal;
	(void)response;
	const sh_setting_changed_args *a = args;
	return append(payload, json_pack("{s:s, s:I, s:s?, s:s?, s:o, s:b}", "signal",
		"setting_changed", "thread", (json_int_t)thread_id(),
		"sender", sender ? sh_sender_name(sender) : NULL, "setting", a->setting,
		"value", value_json(a->value), "enter", a->enter));
}

int ready(sh_app *app)
{
	const char *path = sh_value_path_string(sh_app_settings(app), "path", NULL);
	if (path == NULL)
		return sh_error_set(SH_EINVAL, "settings.%s.path is not set", sh_app_label(app));
	live_state *state = calloc(1, sizeof *state);
	if (state == NULL)
		return sh_error_set(SH_ENOMEM, "t_live: out of memory");
	state->app = app;
	snprintf(state->path, sizeof state->path, "%s/%s", sh_app_project_dir(app), path);
	pthread_mutex_init(&state->lock, NULL);
	sh_app_set_data(app, state);
	static const struct {
		const char *signal;
		sh_receiver_fn fn;
	} receivers[] = {
		{ "request_started", on_started },
		{ "request_finished", on_finished },
		{ "got_request_exception", on_exception },
		{ "template_rendered", on_rendered },
		{ "setting_changed", on_setting },
	};
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.async = true;
	opts.priority = SH_PRIORITY_REALLY_FIRST - 10;   /* queued before audit's */
	for (size_t i = 0; i < sizeof receivers / sizeof receivers[0]; i++) {
		int rc = sh_app_connect(NULL, app, receivers[i].signal, NULL, receivers[i].fn, state,
			&opts);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void teardown(sh_app *app)
{
	live_state *state = sh_app_data(app);
	if (state == NULL)
		return;
	append(state, json_pack("{s:s}", "signal", "teardown"));
	pthread_mutex_destroy(&state->lock);
	free(state);
}

SH_VIEW(whoami)
{
	json_t *body = json_pack("{s:I}", "thread", (json_int_t)thread_id());
	int rc = body ? sh_http_response_json(response, 200, body) : SH_ENOMEM;
	json_decref(body);
	return rc;
}

/* The setting ?key=... as the plugin reads it now. */
SH_VIEW(setting)
{
	const char *key = sh_request_query(request, "key");
	const sh_value *value = sh_app_setting(sh_request_app(request), key ? key : "");
	json_t *body = json_pack("{s:s?, s:o}", "key", key, "value", value_json(value));
	int rc = body ? sh_http_response_json(response, 200, body) : SH_ENOMEM;
	json_decref(body);
	return rc;
}

SH_VIEW(fail)
{
	return sh_error_set(SH_EINVAL, "t_live: the view failed on purpose");
}

SH_VIEW(render)
{
	json_t *context = json_pack("{s:s}", "name", "Ada");
	int rc = context ? sh_http_response_render(response, 200, "page.html", context) : SH_ENOMEM;
	/* change the context after the render: the async receiver's copy must
	 * not see this */
	json_object_set_new(context, "name", json_string("changed"));
	json_decref(context);
	return rc;
}
