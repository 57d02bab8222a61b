/*
 * models.c: models in app manifests, through the project API: the
 * `models` section is checked with file:line:column (unknown keys with a
 * suggestion, wrong types, options that do not fit the type, the
 * registry's own checks at the field's position), installed apps' models
 * are declared in load order and their relations resolve in either order,
 * and loading runs as Django's: early() of every plugin, class_prepared,
 * the database, then ready().
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sighost/sys/sighost.h>

#include "../support/support.h"

static char *dir;
static char *apps;
static sh_project *project;
static char logbuf[8192];

static void capture(sh_log_level level, const char *origin, const char *message, void *payload)
{
	(void)level; (void)payload;
	size_t used = strlen(logbuf);
	snprintf(logbuf + used, sizeof logbuf - used, "[%s] %s\n", origin, message);
}

static void setup(void)
{
	logbuf[0] = '\0';
	dir = t_mkdtemp();
	apps = t_path(dir, "apps");
	cr_assert_eq(mkdir(apps, 0755), 0);
	cr_assert_eq(sh_project_new(&project), 0);
	sh_hub_set_logger(sh_project_hub(project), capture, NULL);
}

static void cleanup(void)
{
	sh_project_free(project);
	t_rmtree(dir);
	free(dir);
	free(apps);
}

TestSuite(models, .init = setup, .fini = cleanup);

static void app(const char *name, const char *yaml)
{
	free(t_write(apps, name, yaml));
}

/* Installs test plugin `file` as app `label` with `extra` manifest lines. */
static void plugin(const char *file, const char *label, const char *extra)
{
	char *from = NULL, *so = NULL, *yaml_name = NULL, *yaml = NULL;
	cr_assert_geq(asprintf(&from, "%s/%s.so", t_env("SIGHOST_TEST_PLUGIN_DIR"), file), 0);
	cr_assert_geq(asprintf(&so, "%s.so", label), 0);
	cr_assert_geq(asprintf(&yaml_name, "%s.yaml", label), 0);
	cr_assert_geq(asprintf(&yaml, "label: %s\nlibrary: %s\n%s", label, so, extra ? extra : ""), 0);
	free(t_copy(from, apps, so, 0755));
	app(yaml_name, yaml);
	free(from);
	free(so);
	free(yaml_name);
	free(yaml);
}

/* Reads a project with plugin_dirs `dirs` and installed apps `installed`. */
static int read_project(const char *dirs, const char *installed, const char *extra)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: t\nplugin_dirs: [%s]\ninstalled_apps: [%s]\n%s",
		dirs, installed, extra ? extra : ""), 0);
	char *path = t_write(dir, "project.yaml", text);
	int rc = sh_project_read(project, path);
	free(text);
	free(path);
	return rc;
}

/* Asserts that a problem's text ends with `tail`, e.g. "/apps/x.yaml:3:5: ...". */
static void assert_problem(const char *tail)
{
	size_t n = sh_project_problem_count(project);
	for (size_t i = 0; i < n; i++) {
		const char *text = sh_project_problem(project, i)->text;
		size_t lt = strlen(text), ls = strlen(tail);
		if (lt >= ls && strcmp(text + lt - ls, tail) == 0)
			return;
	}
	fprintf(stderr, "problems:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  %s\n", sh_project_problem(project, i)->text);
	cr_assert_fail("no problem ends with: %s", tail);
}

static const sh_model *lookup(const char *label)
{
	const sh_model *m = NULL;
	cr_assert_eq(sh_models_lookup(&m, sh_project_models(project), label), 0, "%s",
		sh_error_last()->message);
	return m;
}

Test(models, the_alert_plugin_declares_the_running_example)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "%s", t_env("SIGHOST_PLUGIN_DIR")), 0);
	cr_assert_eq(read_project(text, "alert", NULL), 0, "%s", sh_error_last()->message);
	sh_models *models = sh_project_models(project);
	cr_assert_eq(sh_models_count(models), 3, "declared at read, joins come with prepare");
	cr_assert_not(sh_models_prepared(models));
	cr_assert_null(sh_project_database(project));
	cr_assert_eq(sh_project_load(project), 0, "%s", sh_error_last()->message);
	cr_assert(sh_models_prepared(models));
	cr_assert_eq(sh_models_count(models), 4);
	const char *labels[] = { "alert.Owner", "alert.Tag", "alert.Alert", "alert.Alert_tags" };
	for (size_t i = 0; i < 4; i++)
		cr_assert_str_eq(sh_model_label(sh_models_at(models, i)), labels[i]);
	const sh_model *alert = lookup("alert.Alert");
	const sh_field *owner = sh_model_field(alert, "owner");
	cr_assert_eq(sh_field_target(owner), lookup("alert.Owner"));
	cr_assert(sh_field_null(owner));
	cr_assert_eq(sh_field_on_delete(owner), SH_ON_DELETE_CASCADE);
	cr_assert_eq(sh_field_max_length(sh_model_field(alert, "content")), 200);
	cr_assert_str_eq(sh_field_related_name(sh_model_field(alert, "tags")), "alerts");
	cr_assert(sh_field_unique(sh_model_field(lookup("alert.Tag"), "name")));
	cr_assert_eq(sh_field_type_of(sh_model_field(alert, "created")), SH_FIELD_DATETIME);
	free(text);
}

Test(models, the_database_defaults_to_db_sqlite3_beside_the_manifest_and_is_not_opened)
{
	app("notes.yaml", "label: notes\nmodels:\n  Note:\n    fields:\n"
		"      body: {type: text}\n");
	cr_assert_eq(read_project("apps", "notes", NULL), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_project_load(project), 0, "%s", sh_error_last()->message);
	sh_database *db = sh_project_database(project);
	cr_assert_not_null(db);
	char *expected = t_path(dir, "db.sqlite3");
	cr_assert_str_eq(sh_database_path(db), expected);
	cr_assert_eq(sh_database_models(db), sh_project_models(project));
	cr_assert_null(sh_project_db_name(project), "the manifest named none");
	cr_assert_neq(access(expected, F_OK), 0, "no connection is opened while loading");
	free(expected);
}

Test(models, the_database_of_the_manifest_is_used)
{
	app("notes.yaml", "label: notes\n");
	cr_assert_eq(read_project("apps", "notes", "database: {engine: sqlite, name: data/x.db}\n"),
		0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_project_load(project), 0, "%s", sh_error_last()->message);
	char *expected = t_path(dir, "data/x.db");
	cr_assert_str_eq(sh_database_path(sh_project_database(project)), expected);
	free(expected);
}

/* App `a` points at b.Thing; `b` declares it. */
static void two_apps(const char *installed)
{
	app("a.yaml", "label: a\nmodels:\n  Ref:\n    fields:\n"
		"      thing: {type: foreign_key, to: b.thing, on_delete: protect}\n"
		"      things: {type: many_to_many, to: b.Thing, related_name: refs}\n");
	app("b.yaml", "label: b\nmodels:\n  Thing: {}\n");
	cr_assert_eq(read_project("apps", installed, NULL), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_project_load(project), 0, "%s", sh_error_last()->message);
	const sh_model *ref = lookup("a.Ref"), *thing = lookup("b.Thing");
	cr_assert_eq(sh_field_target(sh_model_field(ref, "thing")), thing);
	cr_assert_eq(sh_field_target(sh_model_field(ref, "things")), thing);
	cr_assert_eq(sh_model_field_count(thing), 1, "only the automatic id");
}

Test(models, relations_across_apps_resolve_with_the_target_loaded_later)
{
	two_apps("a, b");
	cr_assert_str_eq(sh_model_label(sh_models_at(sh_project_models(project), 0)), "a.Ref",
		"declared in load order");
}

Test(models, relations_across_apps_resolve_with_the_target_loaded_first)
{
	two_apps("b, a");
	cr_assert_str_eq(sh_model_label(sh_models_at(sh_project_models(project), 0)), "b.Thing");
}

Test(models, only_installed_apps_declare_models)
{
	app("a.yaml", "label: a\nmodels: {Kept: {}}\n");
	app("b.yaml", "label: b\nmodels: {Ignored: {}}\n");
	cr_assert_eq(read_project("apps", "a", NULL), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_models_count(sh_project_models(project)), 1);
	const sh_model *m = NULL;
	cr_assert_eq(sh_models_lookup(&m, sh_project_models(project), "b.Ignored"), SH_ENOTFOUND);
}

Test(models, the_shape_of_the_section_is_checked_with_positions)
{
	app("shop.yaml",
		"label: shop\n"                                                   /* 1 */
		"models:\n"                                                       /* 2 */
		"  Item:\n"                                                       /* 3 */
		"    fields:\n"                                                   /* 4 */
		"      name: {type: txt, max_length: 20}\n"                       /* 5 */
		"      price: {type: real, nul: true}\n"                          /* 6 */
		"      count: {type: integer, max_length: 3}\n"                   /* 7 */
		"      size: {type: text, max_length: '20'}\n"                    /* 8 */
		"      owner: {type: foreign_key, to: Owner}\n"                   /* 9 */
		"      maker: {type: foreign_key, to: Owner, on_delete: cascde}\n"/* 10 */
		"      tags: {type: many_to_many, to: Tag, null: true}\n"         /* 11 */
		"      color: text\n"                                             /* 12 */
		"      big: {type: integer, default: [1]}\n"                      /* 13 */
		"  Owner: []\n"                                                   /* 14 */
		"  Tag:\n"                                                        /* 15 */
		"    field: {}\n");                                               /* 16 */
	cr_assert_eq(read_project("apps", "shop", NULL), SH_EMANIFEST);
	assert_problem("/apps/shop.yaml:5:20: unknown field type 'txt' (did you mean 'text'?)");
	assert_problem("/apps/shop.yaml:6:27: unknown key 'nul' in field 'price' of shop.Item "
		"(did you mean 'null'?)");
	assert_problem("/apps/shop.yaml:7:30: 'max_length' does not apply to a field of type integer");
	assert_problem("/apps/shop.yaml:8:38: 'max_length' must be an integer, not a string");
	assert_problem("/apps/shop.yaml:9:14: a foreign_key field needs 'on_delete' (cascade, "
		"protect, set_null or restrict)");
	assert_problem("/apps/shop.yaml:10:56: unknown on_delete 'cascde' (did you mean 'cascade'?)");
	assert_problem("/apps/shop.yaml:11:43: 'null' does not apply to a field of type many_to_many");
	assert_problem("/apps/shop.yaml:12:14: field 'color' of shop.Item must be a map, not a string");
	assert_problem("/apps/shop.yaml:13:37: the default must be a single value, not a list "
		"(only a json field takes lists and maps; this field is of type integer)");
	assert_problem("/apps/shop.yaml:14:10: model shop.Owner must be a map, not a list");
	assert_problem("/apps/shop.yaml:16:5: unknown key 'field' in model shop.Tag (did you mean "
		"'fields'?)");
	cr_assert_eq(sh_project_problem_count(project), 11);
	cr_assert_eq(sh_models_count(sh_project_models(project)), 2, "Item and Tag are declared "
		"with the fields that passed, so that the registry checks those too");
}

Test(models, the_registry_checks_carry_the_position_of_the_field)
{
	app("shop.yaml",
		"label: shop\n"
		"models:\n"
		"  Item:\n"
		"    fields:\n"
		"      code: {type: integer, primary_key: true}\n"
		"      serial: {type: big_integer, primary_key: true}\n"
		"      opened: {type: date, default: 2024-02-30}\n"
		"      owner: {type: foreign_key, to: Owner, on_delete: set_null}\n"
		"  9Lives: {}\n");
	cr_assert_eq(read_project("apps", "shop", NULL), SH_EMANIFEST);
	assert_problem("/apps/shop.yaml:6:7: shop.Item.serial: a second primary key (the model's "
		"primary key is 'code')");
	assert_problem("/apps/shop.yaml:7:7: shop.Item.opened: the default '2024-02-30' is not a "
		"date (YYYY-MM-DD)");
	assert_problem("/apps/shop.yaml:8:7: shop.Item.owner: on_delete is set_null but the field "
		"does not allow null (add null: true)");
	assert_problem("/apps/shop.yaml:9:3: '9Lives' is not a valid model name (in app 'shop'): "
		"use letters, digits and '_', not starting with a digit");
	cr_assert_eq(sh_project_problem_count(project), 4);
	const sh_problem *p = sh_project_problem(project, 0);
	cr_assert_eq(p->line, 7);
	cr_assert_eq(p->column, 7);
	cr_assert_not_null(strstr(p->file, "/apps/shop.yaml"));
	cr_assert_str_eq(p->message, "shop.Item.opened: the default '2024-02-30' is not a date "
		"(YYYY-MM-DD)");
	cr_assert_eq(p->code, SH_EMANIFEST);
}

Test(models, relation_problems_are_found_when_reading)
{
	app("shop.yaml",
		"label: shop\n"
		"models:\n"
		"  Item:\n"
		"    fields:\n"
		"      owner: {type: foreign_key, to: people.Ownr, on_delete: cascade}\n");
	app("people.yaml", "label: people\nmodels: {Owner: {}}\n");
	cr_assert_eq(read_project("apps", "shop, people", NULL), SH_EMANIFEST);
	assert_problem("/apps/shop.yaml:5:7: shop.Item.owner: 'to' 'people.Ownr' is not a declared "
		"model (did you mean 'people.Owner'?)");
	cr_assert_eq(sh_project_problem_count(project), 1);
	cr_assert_not(sh_models_prepared(sh_project_models(project)), "reading never prepares");
}

Test(models, manifests_of_apps_not_installed_get_the_shape_checks)
{
	app("spare.yaml", "label: spare\nmodels:\n  Thing:\n    fields:\n"
		"      n: {type: integr}\n");
	app("main.yaml", "label: main\n");
	cr_assert_eq(read_project("apps", "main", NULL), SH_EMANIFEST);
	assert_problem("/apps/spare.yaml:5:17: unknown field type 'integr' (did you mean 'integer'?)");
}

Test(models, a_duplicate_model_key_is_reported_once)
{
	app("a.yaml", "label: a\nmodels:\n  Thing: {}\n  Thing: {}\n");
	cr_assert_eq(read_project("apps", "a", NULL), SH_EMANIFEST);
	cr_assert_eq(sh_project_problem_count(project), 1);
	assert_problem("/apps/a.yaml:4:3: duplicate key 'Thing' (first at line 3, column 3)");
	cr_assert_eq(sh_models_count(sh_project_models(project)), 1);
}

Test(models, models_must_be_a_map)
{
	app("a.yaml", "label: a\nmodels: [Thing]\n");
	cr_assert_eq(read_project("apps", "", NULL), SH_EMANIFEST);
	assert_problem("/apps/a.yaml:2:9: 'models' must be a map, not a list");
}

Test(models, defaults_are_typed_for_the_field)
{
	app("a.yaml", "label: a\nmodels:\n  Thing:\n    fields:\n"
		"      ratio: {type: real, default: '1.5'}\n"
		"      whole: {type: real, default: 2}\n"
		"      flag: {type: boolean, default: true}\n"
		"      data: {type: json, default: {a: [1, true, null]}}\n"
		"      word: {type: json, default: hello}\n"
		"      nothing: {type: text, null: true, default: null}\n");
	cr_assert_eq(read_project("apps", "a", NULL), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_project_load(project), 0, "%s", sh_error_last()->message);
	sh_conn *db = NULL;
	cr_assert_eq(sh_database_connection(&db, sh_project_database(project)), 0, "%s",
		sh_error_last()->message);
	sh_instance *thing = NULL;
	cr_assert_eq(sh_instance_new(&thing, db, lookup("a.Thing"), NULL, 0), 0, "%s",
		sh_error_last()->message);
	sh_datum v;
	cr_assert_eq(sh_instance_get(thing, "ratio", &v), 0);
	cr_assert_eq(v.type, SH_DATUM_REAL);
	cr_assert_float_eq(v.v.r, 1.5, 1e-9);
	cr_assert_eq(sh_instance_get(thing, "whole", &v), 0);
	cr_assert_eq(v.type, SH_DATUM_REAL);
	cr_assert_float_eq(v.v.r, 2.0, 1e-9);
	cr_assert_eq(sh_instance_get(thing, "flag", &v), 0);
	cr_assert(v.type == SH_DATUM_BOOL && v.v.b);
	cr_assert_eq(sh_instance_get(thing, "data", &v), 0);
	cr_assert_str_eq(v.v.s, "{\"a\":[1,true,null]}");
	cr_assert_eq(sh_instance_get(thing, "word", &v), 0);
	cr_assert_str_eq(v.v.s, "\"hello\"", "a YAML string is a JSON string");
	cr_assert_eq(sh_instance_get(thing, "nothing", &v), 0);
	cr_assert_eq(v.type, SH_DATUM_NULL);
	sh_instance_free(thing);
}

/* ---- early() and the load sequence ---- */

static const char thing_model[] = "models:\n  Thing: {}\n";

Test(models, early_hears_class_prepared_and_runs_before_every_ready)
{
	plugin("t_early", "early", thing_model);
	plugin("t_ok", "good", NULL);
	app("late.yaml", "label: late\nmodels: {Other: {}}\n");
	cr_assert_eq(read_project("apps", "good, early, late", NULL), 0, "%s",
		sh_error_last()->message);
	cr_assert_eq(sh_project_load(project), 0, "%s", sh_error_last()->message);
	cr_assert_str_eq(logbuf,
		"[early] early: 2 models, not prepared, database not open, Thing early.Thing\n"
		"[early] class_prepared early.Thing\n"
		"[early] class_prepared late.Other\n"
		"[good] ready\n"
		"[early] ready: 2 models, prepared, database open, Thing early.Thing\n");
	sh_project_free(project);
	project = NULL;
	cr_assert_not_null(strstr(logbuf, "[early] teardown\n"));
}

Test(models, a_failing_early_is_reported_and_takes_dependents_down)
{
	plugin("t_early", "early", thing_model);
	plugin("t_ok", "needy", "depends: [early]\n");
	plugin("t_ok", "loner", NULL);
	char *path = t_path(apps, "early.so");
	cr_assert_eq(read_project("apps", "early, needy, loner",
		"settings:\n  early: {fail_early: true}\n"), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_project_load(project), SH_ELOAD);
	char *expected = NULL;
	cr_assert_geq(asprintf(&expected, "plugin 'early' (%s): early() failed: early() refuses "
		"on purpose", path), 0);
	cr_assert_str_eq(sh_project_problem(project, 0)->text, expected);
	cr_assert_eq(sh_project_problem(project, 0)->code, SH_EINVAL);
	assert_problem("app 'needy' not loaded: it depends on 'early', which failed to load");
	cr_assert_eq(sh_project_problem_count(project), 2);
	cr_assert(sh_app_is_ready(sh_project_app(project, "loner")));
	cr_assert_str_eq(logbuf, "[loner] ready\n", "no teardown for an app that never started");
	cr_assert(sh_models_prepared(sh_project_models(project)), "the models of a failed app "
		"stay declared, as its manifest is valid");
	free(expected);
	free(path);
}

Test(models, a_failing_class_prepared_receiver_stops_the_load_before_ready)
{
	plugin("t_early", "early", thing_model);
	plugin("t_ok", "good", NULL);
	cr_assert_eq(read_project("apps", "early, good", "settings:\n  early: {fail_prepared: "
		"true}\n"), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_project_load(project), SH_ELOAD);
	assert_problem("models: a class_prepared receiver failed for early.Thing: refusing "
		"early.Thing");
	cr_assert_eq(sh_project_problem_count(project), 1);
	cr_assert_not(sh_app_is_ready(sh_project_app(project, "good")));
	cr_assert_null(sh_project_database(project));
	sh_project_free(project);
	project = NULL;
	cr_assert_str_eq(logbuf, "[early] early: 1 models, not prepared, database not open, "
		"Thing early.Thing\n[early] teardown\n", "teardown runs for an app whose early() "
		"succeeded");
}

Test(models, sh_app_model_finds_own_and_other_apps_models)
{
	app("a.yaml", "label: a\nmodels: {Thing: {}}\n");
	app("b.yaml", "label: b\nmodels: {Other: {}}\n");
	cr_assert_eq(read_project("apps", "a, b", NULL), 0);
	cr_assert_eq(sh_project_load(project), 0);
	sh_app *a = sh_project_app(project, "a");
	const sh_model *m = NULL;
	cr_assert_eq(sh_app_model(&m, a, "THING"), 0);
	cr_assert_str_eq(sh_model_label(m), "a.Thing");
	cr_assert_eq(sh_app_model(&m, a, "b.Other"), 0);
	cr_assert_str_eq(sh_model_label(m), "b.Other");
	cr_assert_eq(sh_app_model(&m, a, "Other"), SH_ENOTFOUND);
	cr_assert_str_eq(sh_error_last()->message, "no model 'a.Other'");
	cr_assert_eq(sh_app_model(&m, a, NULL), SH_EINVAL);
	cr_assert_eq(sh_app_models(a), sh_project_models(project));
}
