/*
 * settings_recorder.c: the helpers of settings_recorder.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settings_recorder.h"
#include "../support/support.h"

char *rec_dir;
sh_project *rec_project;
recorder rec;

static void rec_logger(sh_log_level level, const char *origin, const char *message,
	void *payload)
{
	static const char *const names[] = { "debug", "info", "warning", "error" };
	recorder *r = payload;
	char *line = NULL;
	int n = asprintf(&line, "%s: %s: %s\n", names[level], origin ? origin : "-", message);
	if (n < 0)
		return;
	pthread_mutex_lock(&r->lock);
	char *grown = realloc(r->log, r->log_len + (size_t)n + 1);
	if (grown != NULL) {
		memcpy(grown + r->log_len, line, (size_t)n + 1);
		r->log = grown;
		r->log_len += (size_t)n;
	}
	pthread_mutex_unlock(&r->lock);
	free(line);
}

void rec_setup(void)
{
	rec_dir = t_mkdtemp();
	cr_assert_eq(sh_project_new(&rec_project), 0);
	rec = (recorder){ 0 };
	pthread_mutex_init(&rec.lock, NULL);
	rec.log = strdup("");
	sh_hub *hub = sh_project_hub(rec_project);
	sh_hub_set_logger(hub, rec_logger, &rec);
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(hub, SH_SETTING_CHANGED),
		rec_receiver, &rec, NULL), 0);
}

void rec_cleanup(void)
{
	sh_project_free(rec_project);
	rec_clear();
	free(rec.log);
	pthread_mutex_destroy(&rec.lock);
	t_rmtree(rec_dir);
	free(rec_dir);
}

void rec_write(const char *top, const char *settings)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: t\n%s%s%s", top ? top : "",
		settings ? "settings:\n" : "", settings ? settings : ""), 0);
	free(t_write(rec_dir, "project.yaml", text));
	free(text);
}

void rec_read(const char *top, const char *settings)
{
	rec_write(top, settings);
	char *path = t_path(rec_dir, "project.yaml");
	int rc = sh_project_read(rec_project, path);
	cr_assert_eq(rc, 0, "read failed: %s", sh_error_last()->message);
	free(path);
}

static void rec_render(FILE *f, const sh_value *v)
{
	switch (sh_value_type_of(v)) {
	case SH_VALUE_LIST:
		fputc('[', f);
		for (size_t i = 0; i < sh_value_length(v); i++) {
			fputs(i ? "," : "", f);
			rec_render(f, sh_value_at(v, i));
		}
		fputc(']', f);
		return;
	case SH_VALUE_MAP:
		fputc('{', f);
		for (size_t i = 0; i < sh_value_length(v); i++) {
			fprintf(f, "%s%s:", i ? "," : "", sh_value_key_at(v, i));
			rec_render(f, sh_value_at(v, i));
		}
		fputc('}', f);
		return;
	case SH_VALUE_NULL:
		fputs(v == NULL ? "(none)" : "~", f);
		return;
	default:
		fputs(sh_value_text(v), f);
	}
}

char *rec_value_text(const sh_value *value)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	rec_render(f, value);
	fclose(f);
	return out;
}

int rec_receiver(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal;
	(void)response;
	const sh_setting_changed_args *a = args;
	recorder *r = payload;
	rec_event e = { strdup(a->setting), a->value, rec_value_text(a->value), a->enter,
		strdup(sender ? sh_sender_name(sender) : "(no sender)") };
	pthread_mutex_lock(&r->lock);
	r->items = realloc(r->items, (r->count + 1) * sizeof *r->items);
	r->items[r->count++] = e;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

char *rec_events(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	pthread_mutex_lock(&rec.lock);
	for (size_t i = 0; i < rec.count; i++)
		fprintf(f, "%s%s=%s%s", i ? ";" : "", rec.items[i].setting, rec.items[i].text,
			rec.items[i].enter ? "" : " (exit)");
	pthread_mutex_unlock(&rec.lock);
	fclose(f);
	return out;
}

void rec_clear(void)
{
	pthread_mutex_lock(&rec.lock);
	for (size_t i = 0; i < rec.count; i++) {
		free(rec.items[i].setting);
		free(rec.items[i].text);
		free(rec.items[i].sender);
	}
	free(rec.items);
	rec.items = NULL;
	rec.count = 0;
	pthread_mutex_unlock(&rec.lock);
}
