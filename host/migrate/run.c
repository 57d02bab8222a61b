/*
 * run.c: migrating (Django's migrate command and MigrationExecutor):
 * reading the applied set, plans as the public API gives them, the
 * irreversibility check, pre_migrate and post_migrate, the tables of apps
 * without migrations (run_syncdb), and each migration applied or unapplied
 * in its own transaction with foreign key enforcement off around it (the
 * table rebuild procedure needs it, and SQLite cannot change it inside a
 * transaction) and PRAGMA foreign_key_check before the commit.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "internal.h"

/* ---- the connection and the applied set ---- */

static int sh_migrate__connection(sh_conn **out, sh_migrate_graph *g)
{
	sh_database *database = sh_project_database(g->project);
	if (database == NULL)
		return sh_error_set(SH_EINVAL, "the project's database is not open: load the project "
			"first");
	int rc = sh_database_connection(out, database);
	if (rc == 0)
		sh_migrate__use_conn(*out);
	return rc;
}

static int sh_migrate__graph_ok(const sh_migrate_graph *g)
{
	if (g == NULL)
		return sh_error_set(SH_EINVAL, "no migration graph");
	if (g->problems.count > 0)
		return sh_error_set(SH_EINVAL, "the migrations have problems: %s",
			g->problems.items[0].text);
	if (g->pending.count > 0)
		return sh_error_set(SH_EINVAL, "%s", g->pending.items[0].text);
	return 0;
}

/* Django's InconsistentMigrationHistory. */
static int sh_migrate__check_history(const sh_migrate_graph *g)
{
	for (size_t i = 0; i < g->count; i++) {
		const sh__migration *m = g->all[i];
		for (size_t k = 0; m->applied && k < m->parent_count; k++)
			if (!m->parents[k]->applied)
				return sh_error_set(SH_EINVAL, "migration %s.%s is applied before its "
					"dependency %s.%s on database '" SH_DB_DEFAULT_ALIAS "'", m->app_label,
					m->name, m->parents[k]->app_label, m->parents[k]->name);
	}
	return 0;
}

int sh_migrate_read_applied(sh_migrate_graph *g)
{
	int rc = sh_migrate__graph_ok(g);
	sh_conn *db;
	if (rc == 0)
		rc = sh_migrate__connection(&db, g);
	bool has_table;
	if (rc == 0)
		rc = sh_migrate__recorder_read(g, db, &has_table);
	if (rc == 0)
		g->applied_read = true;
	return rc == 0 ? sh_migrate__check_history(g) : rc;
}

/* ---- plans ---- */

/* Packs a plan into one block: the steps, then their strings. */
static int sh_migrate__pack(sh_plan_step **out, size_t *count, const sh__mlist *list)
{
	*out = NULL;
	*count = 0;
	if (list->count == 0)
		return 0;
	size_t bytes = list->count * sizeof(sh_plan_step);
	for (size_t i = 0; i < list->count; i++)
		bytes += strlen(list->items[i]->app_label) + strlen(list->items[i]->name) + 2;
	sh_plan_step *steps = malloc(bytes);
	if (steps == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	char *text = (char *)(steps + list->count);
	for (size_t i = 0; i < list->count; i++) {
		size_t a = strlen(list->items[i]->app_label) + 1, n = strlen(list->items[i]->name) + 1;
		memcpy(text, list->items[i]->app_label, a);
		steps[i].app_label = text;
		text += a;
		memcpy(text, list->items[i]->name, n);
		steps[i].name = text;
		text += n;
		steps[i].backwards = list->backwards[i];
	}
	*out = steps;
	*count = list->count;
	return 0;
}

int sh_migrate_plan(sh_plan_step **out, size_t *count, const sh_migrate_graph *g,
	const char *app_label, const char *target)
{
	if (out == NULL || count == NULL)
		return sh_error_set(SH_EINVAL, "sh_migrate_plan: out and count are required");
	*out = NULL;
	*count = 0;
	int rc = sh_migrate__graph_ok(g);
	if (rc < 0)
		return rc;
	sh__mlist list;
	if ((rc = sh_migrate__graph_plan(&list, g, app_label, target)) < 0)
		return rc;
	rc = sh_migrate__pack(out, count, &list);
	sh_migrate__mlist_dispose(&list);
	return rc;
}

void sh_migrate_plan_free(sh_plan_step *plan)
{
	free(plan);
}

int sh_migrate_unapplied(sh_plan_step **out, size_t *count, sh_project *project)
{
	if (out != NULL)
		*out = NULL;
	if (count == NULL || project == NULL)
		return sh_error_set(SH_EINVAL, "sh_migrate_unapplied: count and project are required");
	*count = 0;
	if (sh_project_database(project) == NULL)
		return sh_error_set(SH_EINVAL, "sh_migrate_unapplied: the project is not loaded");
	sh_migrate_graph *g = NULL;
	int rc = sh_migrate_load(&g, project);
	if (rc == 0)
		rc = sh_migrate_read_applied(g);
	sh_plan_step *plan = NULL;
	if (rc == 0)
		rc = sh_migrate_plan(&plan, count, g, NULL, NULL);
	if (rc == SH_EMANIFEST && g != NULL && g->problems.count > 0)
		sh_error_set(SH_EMANIFEST, "%s", g->problems.items[0].text);
	sh_migrate_free(g);
	if (rc < 0)
		return rc;
	if (out != NULL)
		*out = plan;
	else
		sh_migrate_plan_free(plan);
	return (int)*count;
}

/* ---- signals ---- */

static int sh_migrate__send(sh_migrate_graph *g, sh_builtin which, sh_state *state,
	const sh_plan_step *plan, size_t plan_count, const sh_migrate_opts *o)
{
	sh_models *registry;
	int rc = sh_migrate__state_render(&registry, state);
	if (rc < 0)
		return rc;
	sh_hub *hub = sh_project_hub(g->project);
	sh_signal *signal = sh_hub_builtin(hub, which);
	for (size_t i = 0; rc == 0 && i < sh_project_app_count(g->project); i++) {
		const sh_app *app = sh_project_app_at(g->project, i);
		const sh_sender *sender;
		if ((rc = sh_sender_intern(&sender, hub, sh_app_label(app))) < 0)
			break;
		sh_migrate_args args = { app, o->verbosity, o->interactive, SH_DB_DEFAULT_ALIAS, state,
			plan, plan_count };
		rc = sh_signal_send(signal, sender, &args, NULL);
		if (rc < 0)
			rc = sh_migrate__error_prefix(rc, "a %s receiver failed for app '%s'",
				sh_builtin_name(which), sh_app_label(app));
	}
	return rc;
}

/* ---- apps without migrations ---- */

static void sh_migrate__run_event(const sh_migrate_opts *o, sh_migrate_event_kind kind,
	const sh_plan_step *plan, size_t n, const sh_plan_step *step, const char *table,
	double seconds)
{
	if (o->progress == NULL)
		return;
	sh_migrate_event e = { kind, plan, n, step, table, seconds };
	o->progress(&e, o->payload);
}

/* Creates the missing tables of the apps without migrations in scope
 * (Django's sync_apps): every table first, then their indexes. */
static int sh_migrate__sync_body(sh_migrate_graph *g, sqlite3 *db, const sh_migrate_opts *o)
{
	const sh_models *models = sh_project_models(g->project);
	char **deferred = NULL;
	size_t deferred_count = 0, deferred_capacity = 0;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sh_models_count(models); i++) {
		const sh_model *m = sh_models_at(models, i);
		const sh__gapp *a = sh_migrate__graph_app(g, sh_model_app_label(m));
		if (a == NULL || a->count > 0 || (o->app_label && strcmp(o->app_label, a->label) != 0))
			continue;
		bool exists = false;
		if (sh_db__table_exists(db, sh_model_table(m), &exists) != SQLITE_OK)
			rc = sh_migrate__sql_error(db, NULL);
		if (rc < 0 || exists)
			continue;
		sh_migrate__run_event(o, SH_MIGRATE_SYNC_TABLE, NULL, 0, NULL, sh_model_table(m), 0);
		char **stmts;
		size_t count;
		if ((rc = sh_db__schema_model_sql(m, &stmts, &count)) < 0)
			break;
		rc = sh_migrate__exec(db, stmts[0]);
		if (rc < 0)
			rc = sh_migrate__error_prefix(rc, "cannot create table \"%s\" of %s", sh_model_table(m),
				sh_model_label(m));
		for (size_t k = 1; k < count; k++) {
			if (rc == 0 && sh_migrate__push((void ***)&deferred, &deferred_count, &deferred_capacity,
					stmts[k]) == 0)
				stmts[k] = NULL;
			else if (rc == 0)
				rc = SH_ENOMEM;
		}
		sh_db__schema_free(stmts, count);
	}
	if (rc == 0)
		sh_migrate__run_event(o, SH_MIGRATE_SYNC_END, NULL, 0, NULL, NULL, 0);
	for (size_t i = 0; rc == 0 && i < deferred_count; i++)
		rc = sh_migrate__exec(db, deferred[i]);
	for (size_t i = 0; i < deferred_count; i++)
		free(deferred[i]);
	free(deferred);
	return rc;
}

static int sh_migrate__sync(sh_migrate_graph *g, sh_conn *db, const sh_migrate_opts *o)
{
	bool any = false;
	for (size_t i = 0; i < g->app_count; i++)
		any |= g->apps[i].count == 0 && (o->app_label == NULL
			|| strcmp(o->app_label, g->apps[i].label) == 0);
	if (!any)
		return 0;
	sh_migrate__run_event(o, SH_MIGRATE_SYNC_START, NULL, 0, NULL, NULL, 0);
	int rc = sh_atomic_begin(db);
	if (rc == 0)
		rc = sh_atomic_end(db, sh_migrate__sync_body(g, sh_conn_sqlite(db), o));
	return rc;
}

/* ---- one migration ---- */

/* True when the operation's database work needs only the state after
 * it (forwards), so the state can change in place. */
static bool sh_migrate__needs_only_to(const sh__op *op)
{
	return op->kind == SH__OP_CREATE_MODEL || op->kind == SH__OP_ADD_INDEX
		|| op->kind == SH__OP_RUN_SQL;
}

/* ... or only the state before it. */
static bool sh_migrate__needs_only_from(const sh__op *op)
{
	return op->kind == SH__OP_DELETE_MODEL || op->kind == SH__OP_REMOVE_INDEX;
}

/* Names the migration and operation in the error of operation `k`. */
static int sh_migrate__op_failed(const sh__migration *m, size_t k, bool backwards, int rc)
{
	char what[256];
	sh_migrate__op_describe(what, sizeof what, &m->ops[k]);
	return sh_migrate__error_prefix(rc, "%s %s.%s failed at operation %zu (%s, %s)",
		backwards ? "unapplying" : "applying", m->app_label, m->name, k + 1, what,
		m->ops[k].where);
}

/* Applies the operations of `m` to the database and `*state`. */
static int sh_migrate__forwards(const sh__migration *m, sqlite3 *db, sh_state **state)
{
	for (size_t k = 0; k < m->op_count; k++) {
		const sh__op *op = &m->ops[k];
		sh_state *from = *state, *to = NULL;
		int rc;
		if (sh_migrate__needs_only_to(op)) {
			rc = sh_migrate__op_state_forwards(op, m->app_label, from, NULL);
			if (rc == 0)
				rc = sh_migrate__op_database(op, m->app_label, db, NULL, from, false);
		} else if (sh_migrate__needs_only_from(op)) {
			rc = sh_migrate__op_database(op, m->app_label, db, from, NULL, false);
			if (rc == 0)
				rc = sh_migrate__op_state_forwards(op, m->app_label, from, NULL);
		} else {
			rc = sh_migrate__state_copy(&to, from);
			if (rc == 0)
				rc = sh_migrate__op_state_forwards(op, m->app_label, to, NULL);
			if (rc == 0)
				rc = sh_migrate__op_database(op, m->app_label, db, from, to, false);
			if (rc == 0) {
				sh_migrate__state_free(from);
				*state = to;
			} else {
				sh_migrate__state_free(to);
			}
		}
		if (rc < 0)
			return sh_migrate__op_failed(m, k, false, rc);
	}
	return 0;
}

/* Undoes the operations of `m`, last first; `before` is the state before
 * `m` (kept). */
static int sh_migrate__backwards(const sh__migration *m, sqlite3 *db, const sh_state *before)
{
	sh_state **states = calloc(m->op_count + 1, sizeof *states);
	if (states == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	int rc = sh_migrate__state_copy(&states[0], before);
	for (size_t k = 0; rc == 0 && k < m->op_count; k++) {
		rc = sh_migrate__state_copy(&states[k + 1], states[k]);
		if (rc == 0)
			rc = sh_migrate__op_state_forwards(&m->ops[k], m->app_label, states[k + 1], NULL);
	}
	for (size_t k = m->op_count; rc == 0 && k-- > 0;) {
		rc = sh_migrate__op_database(&m->ops[k], m->app_label, db, states[k + 1], states[k], true);
		if (rc < 0)
			rc = sh_migrate__op_failed(m, k, true, rc);
	}
	for (size_t k = 0; k <= m->op_count; k++)
		sh_migrate__state_free(states[k]);
	free(states);
	return rc;
}

static int sh_migrate__foreign_key_check(sqlite3 *db)
{
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &stmt, NULL) != SQLITE_OK)
		return sh_migrate__sql_error(db, "PRAGMA foreign_key_check");
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *table = (const char *)sqlite3_column_text(stmt, 0);
		const char *parent = (const char *)sqlite3_column_text(stmt, 2);
		rc = sh_error_set(SH_EINTEGRITY, "foreign key check failed: row %lld of \"%s\" "
			"points at a row of \"%s\" that does not exist", sqlite3_column_int64(stmt, 1),
			table ? table : "?", parent ? parent : "?");
	} else {
		rc = rc == SQLITE_DONE ? 0 : sh_migrate__sql_error(db, "PRAGMA foreign_key_check");
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* Applies (or unapplies) `m` in its own transaction, recorded. */
static int sh_migrate__run_one(sh_conn *db, sh__migration *m, bool backwards, sh_state **state,
	const sh_state *before)
{
	sqlite3 *s = sh_conn_sqlite(db);
	int rc = sh_migrate__exec(s, "PRAGMA foreign_keys = OFF");
	if (rc == 0)
		rc = sh_atomic_begin(db);
	if (rc < 0) {
		sh_migrate__exec(s, "PRAGMA foreign_keys = ON");
		return rc;
	}
	int body = backwards ? sh_migrate__backwards(m, s, before) : sh_migrate__forwards(m, s, state);
	if (body == 0)
		body = sh_migrate__recorder_set(s, m, !backwards);
	if (body == 0 && (body = sh_migrate__foreign_key_check(s)) < 0)
		body = sh_migrate__error_prefix(body, "%s %s.%s", backwards ? "unapplying" : "applying",
			m->app_label, m->name);
	char message[1024] = "";
	if (body < 0)
		snprintf(message, sizeof message, "%s", sh_error_last()->message);
	rc = sh_atomic_end(db, body);
	if (body < 0)
		sh_error_set(body, "%s", message);   /* the rollback may have spoken since */
	int on = sh_migrate__exec(s, "PRAGMA foreign_keys = ON");
	if (rc == 0 && on < 0)
		rc = on;
	if (rc == 0)
		m->applied = !backwards;
	return rc;
}

/* The first irreversible operation of a backwards plan: SH_EPERM. */
static int sh_migrate__check_reversible(const sh__mlist *plan)
{
	for (size_t i = 0; i < plan->count; i++) {
		const sh__migration *m = plan->items[i];
		for (size_t k = 0; plan->backwards[i] && k < m->op_count; k++)
			if (!sh_migrate__op_reversible(&m->ops[k])) {
				char what[256];
				sh_migrate__op_describe(what, sizeof what, &m->ops[k]);
				return sh_error_set(SH_EPERM, "migration %s.%s is not reversible: operation %zu "
					"(%s, %s) has no reverse_sql; nothing was unapplied", m->app_label,
					m->name, k + 1, what, m->ops[k].where);
			}
	}
	return 0;
}

static double sh_migrate__now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The states before each migration a backwards plan unapplies (Django's
 * _migrate_all_backwards), indexed by migration index. */
static int sh_migrate__states_before(sh_state ***out, const sh_migrate_graph *g, const sh__mlist *plan)
{
	sh_state **states = calloc(g->count ? g->count : 1, sizeof *states);
	bool *undo = calloc(g->count ? g->count : 1, sizeof *undo);
	bool *none = calloc(g->count ? g->count : 1, sizeof *none);
	sh_state *s = NULL;
	int rc = states && undo && none ? 0 : sh_error_set(SH_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < plan->count; i++)
		undo[plan->items[i]->index] = true;
	if (rc == 0)
		rc = sh_migrate__graph_state(&s, g, none);
	for (size_t i = 0; rc == 0 && i < g->count; i++) {
		const sh__migration *m = g->order[i];
		if (undo[m->index])
			rc = sh_migrate__state_copy(&states[m->index], s);
		else if (!m->applied)
			continue;
		for (size_t k = 0; rc == 0 && k < m->op_count; k++)
			rc = sh_migrate__op_state_forwards(&m->ops[k], m->app_label, s, NULL);
	}
	sh_migrate__state_free(s);
	free(undo);
	free(none);
	if (rc < 0 && states != NULL) {
		for (size_t i = 0; i < g->count; i++)
			sh_migrate__state_free(states[i]);
		free(states);
		states = NULL;
	}
	*out = states;
	return rc;
}

static int sh_migrate__run_plan(sh_migrate_graph *g, sh_conn *db, const sh__mlist *list,
	const sh_plan_step *plan, sh_state **state, const sh_migrate_opts *o)
{
	sh_state **before = NULL;
	bool backwards = list->count > 0 && list->backwards[0];
	int rc = backwards ? sh_migrate__states_before(&before, g, list) : 0;
	if (rc == 0 && list->count > 0)
		rc = sh_migrate__recorder_ensure(db);
	for (size_t i = 0; rc == 0 && i < list->count; i++) {
		sh__migration *m = list->items[i];
		sh_migrate__run_event(o, SH_MIGRATE_STEP_START, plan, list->count, &plan[i], NULL, 0);
		double t0 = sh_migrate__now();
		rc = sh_migrate__run_one(db, m, list->backwards[i], state, before ? before[m->index] : NULL);
		sh_migrate__run_event(o, rc == 0 ? SH_MIGRATE_STEP_DONE : SH_MIGRATE_STEP_FAILED, plan,
			list->count, &plan[i], NULL, sh_migrate__now() - t0);
	}
	if (before != NULL) {
		for (size_t i = 0; i < g->count; i++)
			sh_migrate__state_free(before[i]);
		free(before);
	}
	return rc;
}

/* The applied flags of the graph, as an array by migration index. */
static bool *sh_migrate__applied(const sh_migrate_graph *g)
{
	bool *applied = calloc(g->count ? g->count : 1, sizeof *applied);
	for (size_t i = 0; applied != NULL && i < g->count; i++)
		applied[i] = g->all[i]->applied;
	return applied;
}

static int sh_migrate__state_now(sh_state **out, const sh_migrate_graph *g)
{
	bool *applied = sh_migrate__applied(g);
	if (applied == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	int rc = sh_migrate__graph_state(out, g, applied);
	free(applied);
	return rc;
}

/* Computes the plan of a run (none for an app without migrations). */
static int sh_migrate__run_plan_list(sh__mlist *list, const sh_migrate_graph *g,
	const sh_migrate_opts *o)
{
	*list = (sh__mlist){ NULL, NULL, 0, 0 };
	const sh__gapp *a = o->app_label ? sh_migrate__graph_app(g, o->app_label) : NULL;
	if (o->app_label != NULL && a == NULL)
		return sh_error_set(SH_ENOTFOUND, "no installed app with label '%s'", o->app_label);
	if (a != NULL && a->count == 0) {
		if (o->target != NULL)
			return sh_error_set(SH_ENOTFOUND, "app '%s' does not have migrations",
				o->app_label);
		return 0;   /* only its tables are synced */
	}
	return sh_migrate__graph_plan(list, g, o->app_label, o->target);
}

int sh_migrate_run(sh_migrate_graph *g, const sh_migrate_opts *opts)
{
	sh_migrate_opts defaults = SH_MIGRATE_OPTS_INIT;
	const sh_migrate_opts *o = opts ? opts : &defaults;
	if (o->version != SH_MIGRATE_OPTS_VERSION)
		return sh_error_set(SH_EINVAL, "sh_migrate_run: unknown opts version %u", o->version);
	int rc = sh_migrate__graph_ok(g);
	sh_conn *db = NULL;
	if (rc == 0)
		rc = sh_migrate__connection(&db, g);
	if (rc == 0 && sh_atomic_depth(db) > 0)
		rc = sh_error_set(SH_EINVAL, "sh_migrate_run: a transaction is open on the connection; "
			"migrations need their own");
	if (rc == 0)
		rc = sh_migrate_read_applied(g);
	if (rc < 0)
		return rc;
	sh__mlist list;
	if ((rc = sh_migrate__run_plan_list(&list, g, o)) < 0)
		return rc;
	sh_plan_step *plan = NULL;
	size_t plan_count = 0;
	sh_state *state = NULL;
	rc = sh_migrate__check_reversible(&list);
	if (rc == 0)
		rc = sh_migrate__pack(&plan, &plan_count, &list);
	if (rc == 0)
		rc = sh_migrate__state_now(&state, g);
	if (rc == 0)
		rc = sh_migrate__send(g, SH_PRE_MIGRATE, state, plan, plan_count, o);
	if (rc == 0)
		rc = sh_migrate__sync(g, db, o);
	if (rc == 0) {
		sh_migrate__run_event(o, SH_MIGRATE_RUN_START, plan, plan_count, NULL, NULL, 0);
		rc = sh_migrate__run_plan(g, db, &list, plan, &state, o);
	}
	if (rc == 0) {
		sh_migrate__state_free(state);
		state = NULL;
		rc = sh_migrate__state_now(&state, g);
	}
	if (rc == 0)
		rc = sh_migrate__send(g, SH_POST_MIGRATE, state, plan, plan_count, o);
	sh_migrate__state_free(state);
	sh_migrate_plan_free(plan);
	sh_migrate__mlist_dispose(&list);
	return rc;
}
