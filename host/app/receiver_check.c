/*
 * receiver_check.c: what `sighost check` finds in the receivers the loaded
 * plugins connected, which would otherwise never run and never say so: a
 * receiver of a signal nobody declares whose name is one edit or so from a
 * real signal ("post_delet"), a model signal's sender naming no installed
 * model ("notes.Nte"), a migrate signal's sender naming no installed app
 * (problems, with the nearest name as a suggestion: Django's check reports
 * lazy references to missing models the same way), and a receiver of a
 * custom signal no loaded app declares (a warning: another project may
 * install the app that sends it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../base/suggest.h"

/* Names to suggest from, collected once per check. */
typedef struct sh__names {
	const char **items;
	size_t count;
	size_t capacity;
	bool oom;
} sh__names;

static void sh_app__names_add(sh__names *n, const char *name)
{
	if (n->count == n->capacity) {
		size_t cap = n->capacity ? n->capacity * 2 : 32;
		const char **grown = realloc(n->items, cap * sizeof *grown);
		if (grown == NULL) {
			n->oom = true;
			return;
		}
		n->items = grown;
		n->capacity = cap;
	}
	n->items[n->count++] = name;
}

typedef struct sh__check {
	sh_project *project;
	sh__names signals;          /* built-in and declared signal names */
	sh__names models;           /* installed model labels */
	sh__names apps;             /* installed app labels */
	const sh_signal *signal;    /* the signal being walked */
	size_t found;
} sh__check;

static int sh_app__signal_name(sh_signal *signal, void *payload)
{
	sh__check *c = payload;
	if (sh_signal_is_builtin(signal) || sh_signal_declared_by(signal) != NULL)
		sh_app__names_add(&c->signals, sh_signal_name(signal));
	return 0;
}

/* "receiver on_x of app 'a' (plugins/a.so)" into buf. */
static void sh_app__who(char *buf, size_t size, const sh__check *c, const sh_connection_info *info)
{
	char fn[160];
	sh_receiver_describe(fn, sizeof fn, info);
	const sh_app *app = info->owner ? sh_project_app(c->project, info->owner) : NULL;
	const char *lib = app ? sh_app_library_path(app) : NULL;
	if (info->owner == NULL)
		snprintf(buf, size, "receiver %s", fn);
	else if (lib == NULL)
		snprintf(buf, size, "receiver %s of app '%s'", fn, info->owner);
	else
		snprintf(buf, size, "receiver %s of app '%s' (%s)", fn, info->owner, lib);
}

static bool sh_app__sender_listed(const sh__names *n, const char *name)
{
	for (size_t i = 0; i < n->count; i++)
		if (strcmp(n->items[i], name) == 0)
			return true;
	return false;
}

/* The sender names a signal's senders are checked against, NULL when any
 * name goes (custom signals, the request and settings signals). */
static const sh__names *sh_app__sender_names(const sh__check *c, const sh_signal *signal)
{
	sh_hub *hub = sh_signal_hub(signal);
	for (int b = SH_PRE_INIT; b <= SH_CLASS_PREPARED; b++)
		if (sh_hub_builtin(hub, (sh_builtin)b) == signal)
			return &c->models;
	if (signal == sh_hub_builtin(hub, SH_PRE_MIGRATE) || signal == sh_hub_builtin(hub, SH_POST_MIGRATE))
		return &c->apps;
	return NULL;
}

static void sh_app__suggestion(char *buf, size_t size, const char *near)
{
	if (near != NULL)
		snprintf(buf, size, ": did you mean '%s'?", near);
	else
		buf[0] = '\0';
}

static int sh_app__connection(const sh_connection_info *info, void *payload)
{
	sh__check *c = payload;
	sh_project *p = c->project;
	const char *name = sh_signal_name(c->signal);
	char who[512], hint[200];
	sh_app__who(who, sizeof who, c, info);
	if (!sh_signal_is_builtin(c->signal) && sh_signal_declared_by(c->signal) == NULL) {
		const char *near = sh_base__suggest(name, c->signals.items, c->signals.count);
		sh_app__suggestion(hint, sizeof hint, near);
		if (near != NULL)
			sh_manifest__problem_add(&p->problems, SH_EMANIFEST, NULL, 0, 0, "%s is connected to "
				"signal '%s', which no app declares, so it never runs%s", who, name, hint);
		else
			sh_manifest__problem_add(&p->warnings, SH_EMANIFEST, NULL, 0, 0, "%s is connected to "
				"custom signal '%s', which no loaded app declares (sh_app_declare_signal); "
				"it runs only once one does", who, name);
		c->found++;
		return 0;
	}
	const sh__names *senders = sh_app__sender_names(c, c->signal);
	if (senders == NULL || info->sender == NULL || sh_app__sender_listed(senders, sh_sender_name(info->sender)))
		return 0;
	const char *sender = sh_sender_name(info->sender);
	sh_app__suggestion(hint, sizeof hint, sh_base__suggest(sender, senders->items, senders->count));
	sh_manifest__problem_add(&p->problems, SH_EMANIFEST, NULL, 0, 0, "%s is connected to %s from "
		"sender '%s', which names no installed %s, so it never runs%s", who, name, sender,
		senders == &c->models ? "model" : "app", hint);
	c->found++;
	return 0;
}

static int sh_app__walk(sh_signal *signal, void *payload)
{
	sh__check *c = payload;
	c->signal = signal;
	return sh_signal_foreach_connection(signal, sh_app__connection, c);
}

int sh_project_check_receivers(sh_project *project)
{
	if (project == NULL || !project->load_done)
		return sh_error_set(SH_EINVAL, "sh_project_check_receivers: the project is not loaded");
	sh__check c = { .project = project };
	sh_hub_foreach_signal(project->hub, sh_app__signal_name, &c);
	const sh_models *models = sh_project_models(project);
	for (size_t i = 0; models != NULL && i < sh_models_count(models); i++)
		sh_app__names_add(&c.models, sh_model_label(sh_models_at(models, i)));
	for (size_t i = 0; i < project->order_count; i++)
		sh_app__names_add(&c.apps, sh_app_label(project->order[i]));
	int rc = 0;
	if (c.signals.oom || c.models.oom || c.apps.oom)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	else
		sh_hub_foreach_signal(project->hub, sh_app__walk, &c);
	free(c.signals.items);
	free(c.models.items);
	free(c.apps.items);
	if (rc == 0 && (project->problems.oom || project->warnings.oom))
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	return rc < 0 ? rc : (int)(c.found > 0);
}
