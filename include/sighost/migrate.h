/*
 * migrate.h: migrations, as Django's migrate, showmigrations and
 * makemigrations do them (see docs/migrations.md).
 *
 * Each app whose manifest names a `migrations` folder keeps there one YAML
 * file per migration ("0001_initial.yaml"): its dependencies (migrations of
 * its own app and of others) and its operations. The host loads them into
 * a graph, plans which to apply or unapply, applies each in its own
 * transaction, records them in the table `sighost_migrations`, and sends
 * pre_migrate and post_migrate for every installed app. Apps without
 * migrations get their tables created as they are declared (Django's
 * run_syncdb).
 *
 *     sh_migrate_graph *g;
 *     if (sh_migrate_load(&g, project) == 0) {
 *         sh_migrate_opts opts = SH_MIGRATE_OPTS_INIT;
 *         sh_migrate_run(g, &opts);
 *     }
 *     sh_migrate_free(g);
 *
 * The model state. Replaying operations on an empty state gives the models
 * as the migrations made them: Django's historical `apps`. pre_migrate and
 * post_migrate carry it as `apps` (an sh_state); sh_state_models() is its
 * registry, a registry of its own that shares nothing with the project's
 * (its class_prepared went through a private hub nobody listens to).
 *
 * Everything here is used from one thread, the thread whose database
 * connection migrates. The library never prints: progress is reported
 * through a callback, problems through sh_migrate_problem() and the error
 * channel.
 */
#ifndef SIGHOST_MIGRATE_H
#define SIGHOST_MIGRATE_H

#include "builtins.h"
#include "common.h"
#include "db.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The name of the table that records applied migrations (Django's
 * django_migrations): columns id, app, name, applied (UTC datetime). */
#define SH_MIGRATE_TABLE "sighost_migrations"

/* The loaded migrations of a project and their dependency graph. */
typedef struct sh_migrate_graph sh_migrate_graph;

/* ---- the model state ---- */

/*
 * Returns the registry of a model state: every model of the state,
 * prepared (relations resolved, join models made). Receivers of
 * pre_migrate and post_migrate look models up in it (sh_models_lookup) to
 * learn what the schema is at that moment, as Django's receivers call
 * apps.get_model(). Owned by the state; valid while the state is (during
 * the send). NULL for NULL.
 */
SH_API const sh_models *sh_state_models(const sh_state *state);

#ifdef __cplusplus
}
#endif

#endif
