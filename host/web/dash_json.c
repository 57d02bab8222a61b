/*
 * dash_json.c: the document behind the dashboard (GET <prefix>api) and
 * `sighost signals --json` (sh_introspect_project, web.h): what the host
 * knows of itself, read when asked, never cached:
 *
 *   apps        label, plugin file, ABI, load and ready() times, probe verdict
 *   signals     every signal with its receivers in call order; with a
 *               running dashboard, each receiver's calls, failures, p50/p99
 *   models      with their row counts (one COUNT query each)
 *   migrations  every migration with applied or not
 *   settings    every leaf of the live settings with its origin
 *
 * Everything here reads; nothing changes state (a row count sends no
 * signal). Bounds: the settings list stops at SH__SETTINGS_MAX leaves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sighost/sys/migrate.h>
#include <sighost/query.h>

#include "internal.h"
#include "app/app.h"

/* The most settings leaves listed (a manifest's settings are small; this
 * keeps a pathological one from making the page huge). */
#define SH__SETTINGS_MAX 2000

/* Adds `value` (stolen) to `array`; returns false when either is NULL
 * or the append failed. */
static bool sh_web__push(json_t *array, json_t *value)
{
	return value != NULL && json_array_append_new(array, value) == 0;
}

/* ---- apps ------------------------------------------------------------------ */

static json_t *sh_web__app_json(const sh_app *app)
{
	sh__app_load_facts facts;
	sh_app__app_load_facts_get(app, &facts);
	const char *library = sh_app_library_path(app);
	json_t *o = json_pack("{s:s, s:s, s:s?, s:b, s:f, s:f, s:s}",
		"label", sh_app_label(app), "version", sh_app_version(app), "library", library,
		"ready", sh_app_is_ready(app),
		"load_ms", (double)facts.open_ns / 1e6, "ready_ms", (double)facts.ready_ns / 1e6,
		"probe", facts.verdict != NULL ? "failed" : facts.probed ? "passed" : "not probed");
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "abi", facts.abi >= 0 ? json_integer(facts.abi) : json_null());
	if (facts.verdict != NULL)
		json_object_set_new(o, "verdict", json_string(facts.verdict));
	return o;
}

static json_t *sh_web__apps_json(const sh_project *project)
{
	json_t *apps = json_array();
	for (size_t i = 0; apps != NULL && i < sh_project_app_count(project); i++)
		if (!sh_web__push(apps, sh_web__app_json(sh_project_app_at(project, i)))) {
			json_decref(apps);
			return NULL;
		}
	return apps;
}

static json_t *sh_web__warnings_json(const sh_project *project)
{
	json_t *list = json_array();
	for (size_t i = 0; list != NULL && i < sh_project_warning_count(project); i++)
		if (!sh_web__push(list, json_string(sh_project_warning(project, i)->text))) {
			json_decref(list);
			return NULL;
		}
	return list;
}

/* ---- signals ----------------------------------------------------------------- */

typedef struct sh__signals_ctx {
	const sh__stats *stats;       /* NULL without a running dashboard */
	json_t *list;                 /* the signals */
	json_t *receivers;            /* the receivers of the signal being read */
	bool failed;
} sh__signals_ctx;

static int sh_web__receiver(const sh_connection_info *info, void *payload)
{
	sh__signals_ctx *ctx = payload;
	char name[256];
	sh_receiver_describe(name, sizeof name, info);
	json_t *o = json_pack("{s:I, s:s?, s:s, s:s?, s:i, s:b, s:b, s:s?}",
		"id", (json_int_t)info->id, "owner", info->owner, "receiver", name,
		"sender", info->sender != NULL ? sh_sender_name(info->sender) : NULL,
		"priority", info->priority, "async", info->async, "cluster", false,
		"dispatch_uid", info->dispatch_uid);
	sh__stats_summary sum;
	if (o != NULL && ctx->stats != NULL) {
		sh_web__stats_get(ctx->stats, info->id, &sum);
		json_t *stats = json_pack("{s:I, s:I, s:I, s:I, s:I}", "calls", (json_int_t)sum.calls,
			"failures", (json_int_t)sum.failures, "p50_ns", (json_int_t)sum.p50_ns,
			"p99_ns", (json_int_t)sum.p99_ns, "max_ns", (json_int_t)sum.max_ns);
		if (stats == NULL || json_object_set_new(o, "stats", stats) < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	if (!sh_web__push(ctx->receivers, o)) {
		ctx->failed = true;
		return 1;
	}
	return 0;
}

static int sh_web__signal(sh_signal *signal, void *payload)
{
	sh__signals_ctx *ctx = payload;
	ctx->receivers = json_array();
	const char *kind = sh_signal_is_builtin(signal) ? "built-in" : "custom";
	json_t *o = json_pack("{s:s, s:s, s:s?}", "name", sh_signal_name(signal), "kind", kind,
		"declared_by", sh_signal_declared_by(signal));
	if (ctx->receivers == NULL || o == NULL
		|| sh_signal_foreach_connection(signal, sh_web__receiver, ctx) != 0
		|| json_object_set_new(o, "receivers", ctx->receivers) < 0) {
		json_decref(o);
		ctx->failed = true;
		return 1;
	}
	ctx->receivers = NULL;
	if (!sh_web__push(ctx->list, o)) {
		ctx->failed = true;
		return 1;
	}
	return 0;
}

static json_t *sh_web__signals_json(sh_hub *hub, const sh__stats *stats)
{
	sh__signals_ctx ctx = { stats, json_array(), NULL, false };
	if (ctx.list != NULL)
		sh_hub_foreach_signal(hub, sh_web__signal, &ctx);
	if (ctx.failed || ctx.list == NULL) {
		json_decref(ctx.receivers);
		json_decref(ctx.list);
		return NULL;
	}
	return ctx.list;
}

/* ---- models ------------------------------------------------------------------ */

/* The row count of a model, or null with the reason when it cannot be
 * counted (no table yet: not migrated). */
static json_t *sh_web__model_json(sh_conn *db, const sh_model *model)
{
	json_t *o = json_pack("{s:s, s:s, s:I}", "label", sh_model_label(model),
		"table", sh_model_table(model), "fields", (json_int_t)sh_model_field_count(model));
	if (o == NULL)
		return NULL;
	sh_query *q = NULL;
	int64_t rows = 0;
	int rc = db != NULL ? sh_query_new(&q, db, model) : SH_EUNAVAILABLE;
	if (rc == 0)
		rc = sh_query_count(q, &rows);
	sh_query_free(q);
	json_object_set_new(o, "rows", rc == 0 ? json_integer(rows) : json_null());
	if (rc < 0)
		json_object_set_new(o, "error", json_string(db != NULL ? sh_error_last()->message
			: "no database"));
	return o;
}

static json_t *sh_web__models_json(sh_project *project)
{
	const sh_models *models = sh_project_models(project);
	sh_database *database = sh_project_database(project);
	sh_conn *db = NULL;
	if (database == NULL || sh_database_connection(&db, database) < 0)
		db = NULL;
	json_t *list = json_array();
	size_t n = models != NULL ? sh_models_count(models) : 0;
	for (size_t i = 0; list != NULL && i < n; i++) {
		const sh_model *model = sh_models_at(models, i);
		if (sh_model_auto_created(model))
			continue;   /* join tables of many-to-many fields */
		if (!sh_web__push(list, sh_web__model_json(db, model))) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/* ---- migrations ----------------------------------------------------------------- */

static json_t *sh_web__migrations_json(sh_project *project)
{
	sh_migrate_graph *graph = NULL;
	int rc = sh_migrate_load(&graph, project);
	if (rc == 0)
		rc = sh_migrate_read_applied(graph);
	if (rc < 0) {
		sh_migrate_free(graph);
		return json_pack("{s:s}", "error", sh_error_last()->message);
	}
	json_t *list = json_array();
	size_t n = sh_migrate_count(graph, NULL);
	for (size_t i = 0; list != NULL && i < n; i++) {
		sh_migration_info info;
		if (sh_migrate_at(&info, graph, NULL, i) < 0)
			break;
		if (!sh_web__push(list, json_pack("{s:s, s:s, s:b, s:I}", "app", info.app_label,
				"name", info.name, "applied", info.applied,
				"operations", (json_int_t)info.operation_count))) {
			json_decref(list);
			list = NULL;
		}
	}
	sh_migrate_free(graph);
	return list;
}

/* ---- settings -------------------------------------------------------------------- */

typedef struct sh__settings_ctx {
	sh_project *project;
	json_t *list;
	bool truncated;
	bool failed;
} sh__settings_ctx;

/* Lists the leaves below `value`, whose dotted key is `key`. */
static void sh_web__settings_walk(sh__settings_ctx *ctx, const char *key, const sh_value *value)
{
	if (ctx->failed || ctx->truncated)
		return;
	if (sh_value_type_of(value) == SH_VALUE_MAP) {
		for (size_t i = 0; i < sh_value_length(value); i++) {
			char sub[512];
			int n = snprintf(sub, sizeof sub, "%s%s%s", key, key[0] ? "." : "",
				sh_value_key_at(value, i));
			if (n > 0 && (size_t)n < sizeof sub)
				sh_web__settings_walk(ctx, sub, sh_value_at(value, i));
		}
		return;
	}
	if (json_array_size(ctx->list) >= SH__SETTINGS_MAX) {
		ctx->truncated = true;
		return;
	}
	unsigned line, column;
	const char *origin = sh_app__setting_origin(ctx->project, key, value, &line, &column);
	const char *text = sh_value_text(value);
	char list_text[64];
	if (text == NULL) {
		snprintf(list_text, sizeof list_text, "(%s of %zu)",
			sh_value_type_name(sh_value_type_of(value)), sh_value_length(value));
		text = list_text;
	}
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "key", key, "value", text,
		"type", sh_value_type_name(sh_value_type_of(value)), "origin", origin);
	if (o != NULL && line > 0)
		json_object_set_new(o, "where", json_sprintf("%s:%u:%u",
			sh_project_path(ctx->project), line, column));
	ctx->failed = !sh_web__push(ctx->list, o);
}

static json_t *sh_web__settings_json(sh_project *project)
{
	sh__settings_ctx ctx = { project, json_array(), false, false };
	if (ctx.list == NULL)
		return NULL;
	sh_web__settings_walk(&ctx, "", sh_project_settings(project));
	json_t *o = ctx.failed ? NULL : json_pack("{s:o, s:b, s:I}", "items", ctx.list,
		"truncated", ctx.truncated, "overrides",
		(json_int_t)sh_settings_override_count(project));
	if (o == NULL && ctx.failed)
		json_decref(ctx.list);
	return o;
}

/* ---- the document ------------------------------------------------------------------ */

/* Builds the document; `stats` NULL without a running dashboard. */
static int sh_web__document(json_t **out, sh_project *project, const sh__stats *stats)
{
	*out = NULL;
	json_t *doc = json_pack("{s:s, s:s, s:s, s:o?, s:o?, s:o?, s:o?, s:o?, s:o?}",
		"project", sh_project_name(project), "manifest", sh_project_path(project),
		"version", sh_version(),
		"apps", sh_web__apps_json(project), "warnings", sh_web__warnings_json(project),
		"signals", sh_web__signals_json(sh_project_hub(project), stats),
		"models", sh_web__models_json(project), "migrations", sh_web__migrations_json(project),
		"settings", sh_web__settings_json(project));
	if (doc == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory describing the project");
	static const char *const parts[] = { "apps", "warnings", "signals", "models",
		"migrations", "settings" };
	for (size_t i = 0; i < SH__COUNT(parts); i++)
		if (json_object_get(doc, parts[i]) == NULL || json_is_null(json_object_get(doc, parts[i]))) {
			json_decref(doc);
			return sh_error_set(SH_ENOMEM, "out of memory describing the project's %s",
				parts[i]);
		}
	if (stats != NULL)
		json_object_set_new(doc, "untracked_calls", json_integer((json_int_t)
			sh_web__stats_untracked(stats)));
	*out = doc;
	return 0;
}

int sh_introspect_project(json_t **out, sh_project *project)
{
	if (out == NULL)
		return sh_error_set(SH_EINVAL, "sh_introspect_project: out is required");
	*out = NULL;
	if (project == NULL)
		return sh_error_set(SH_EINVAL, "sh_introspect_project: a project is required");
	return sh_web__document(out, project, NULL);
}

int sh_web__dash_document(json_t **out, struct sh__dash *dash)
{
	return sh_web__document(out, dash->server->project, dash->stats);
}
