/*
 * models.c: models in manifests end to end: `sighost check` lists every bad
 * model declaration with file:line:col and exits 1, also with
 * --manifests-only; a good project with models (the running example and
 * an app that points at it) passes; a plugin's early() hears
 * class_prepared before any ready().
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../support/e2e.h"

TestSuite(models, .init = e2e_setup, .fini = e2e_cleanup);

static const char bad_shop[] =
	"label: shop\n"                                                        /* 1 */
	"models:\n"                                                            /* 2 */
	"  Item:\n"                                                            /* 3 */
	"    fields:\n"                                                        /* 4 */
	"      name: {type: text, max_lenght: 20}\n"                           /* 5 */
	"      price: {type: real, auto_now: true}\n"                          /* 6 */
	"      owner: {type: foreign_key, to: Ownr, on_delete: cascade}\n"     /* 7 */
	"      code: {type: integer, primary_key: true}\n"                     /* 8 */
	"      other: {type: integer, primary_key: true}\n"                    /* 9 */
	"  Order:\n"                                                           /* 10 */
	"    fields:\n"                                                        /* 11 */
	"      item: {type: foreign_key, to: Item, on_delete: set_null}\n";    /* 12 */

static t_run check(const char *option)
{
	if (option != NULL)
		return E2E_RUN("check", "--settings", "project.yaml", option);
	return E2E_RUN("check", "--settings", "project.yaml");
}

Test(models, check_lists_every_bad_declaration_with_its_position)
{
	e2e_project("project: shop\nplugin_dirs: [plugins]\ninstalled_apps: [shop]\n");
	e2e_manifest("shop.yaml", bad_shop);
	t_run r = check(NULL);
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert_str_eq(r.out, "");
	e2e_has(r.err, "/plugins/shop.yaml:5:26: unknown key 'max_lenght' in field 'name' of "
		"shop.Item (did you mean 'max_length'?)\n");
	e2e_has(r.err, "/plugins/shop.yaml:6:27: 'auto_now' does not apply to a field of type "
		"real\n");
	e2e_has(r.err, "/plugins/shop.yaml:9:7: shop.Item.other: a second primary key (the "
		"model's primary key is 'code')\n");
	e2e_has(r.err, "/plugins/shop.yaml:12:7: shop.Order.item: on_delete is set_null but the "
		"field does not allow null (add null: true)\n");
	e2e_has(r.err, "sighost check: 4 problems found\n");
	cr_assert_eq(t_lines(r.err), 5, "%s", r.err);
	t_run_free(&r);
}

Test(models, check_names_unknown_targets_once_declarations_are_good)
{
	e2e_project("project: shop\nplugin_dirs: [plugins]\ninstalled_apps: [shop]\n");
	e2e_manifest("shop.yaml",
		"label: shop\n"
		"models:\n"
		"  Owner: {}\n"
		"  Item:\n"
		"    fields:\n"
		"      owner: {type: foreign_key, to: Ownr, on_delete: cascade}\n"
		"      tags: {type: many_to_many, to: other.Tag}\n");
	for (int pass = 0; pass < 2; pass++) {
		t_run r = check(pass == 0 ? NULL : "--manifests-only");
		cr_assert_eq(r.status, 1, "%s", r.err);
		cr_assert_str_eq(r.out, "");
		e2e_has(r.err, "/plugins/shop.yaml:6:7: shop.Item.owner: 'to' 'shop.Ownr' is not a "
			"declared model (did you mean 'shop.Owner'?)\n");
		e2e_has(r.err, "/plugins/shop.yaml:7:7: shop.Item.tags: 'to' 'other.Tag' is not a "
			"declared model (no installed app declares it)\n");
		e2e_has(r.err, "sighost check: 2 problems found\n");
		t_run_free(&r);
	}
}

Test(models, a_good_project_with_models_passes)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: shop\n"
		"plugin_dirs: [%s, plugins]\ninstalled_apps: [notes, alert]\n",
		t_env("SIGHOST_PLUGIN_DIR")), 0);
	e2e_project(text);
	/* notes points at models of alert, which has migrations: notes has a
	 * migrations folder too (its first migration is yet to be made) */
	e2e_manifest("notes.yaml",
		"label: notes\n"
		"migrations: notes_migrations\n"
		"models:\n"
		"  Note:\n"
		"    fields:\n"
		"      body: {type: text}\n"
		"      alert: {type: foreign_key, to: alert.Alert, on_delete: set_null, null: true}\n"
		"      tags: {type: many_to_many, to: alert.tag, related_name: notes}\n"
		"      meta: {type: json, default: {}}\n");
	char *mig = t_path(e2e_plugins, "notes_migrations");
	cr_assert_eq(mkdir(mig, 0755), 0);
	free(mig);
	t_run r = check(NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "project 'shop' (project.yaml): 2 apps, 1 plugin loaded, 6 routes; "
		"no problems found (2 warnings)\n");
	e2e_has(r.err, "warning: ");
	e2e_has(r.err, "notes.Note.alert points at alert.Alert, a model of an app with migrations, "
		"and app 'notes' has no migration yet: run 'sighost makemigrations notes'\n");
	t_run_free(&r);
	char *db = t_path(e2e_dir, "db.sqlite3");
	char *content = t_read(db);
	cr_assert_str_eq(content, "", "check opens no database connection");
	free(content);
	free(db);
	free(text);
}

Test(models, early_hears_class_prepared_before_ready)
{
	e2e_project("project: shop\nplugin_dirs: [plugins]\ninstalled_apps: [early]\n");
	e2e_plugin("t_early", "early", "models:\n  Thing:\n    fields:\n"
		"      tags: {type: many_to_many, to: Thing}\n");
	t_run r = check(NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.err,
		"[early] info: early: 1 models, not prepared, database not open, Thing early.Thing\n"
		"[early] info: class_prepared early.Thing_tags\n"
		"[early] info: class_prepared early.Thing\n"
		"[early] info: ready: 2 models, prepared, database open, Thing early.Thing\n"
		"[early] info: teardown\n");
	t_run_free(&r);
}
