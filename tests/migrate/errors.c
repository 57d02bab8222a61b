/*
 * errors.c: bad migration files are reported with the file, line and
 * column concerned, every problem and not only the first: a dependency
 * cycle (named), a dependency on a missing migration or app, two leaf
 * migrations in one app, an unknown operation or key, a model or field an
 * operation names that the state does not have, a bad field definition,
 * and an app without migrations that points at one with migrations.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(errors, .init = mt_setup, .fini = mt_teardown);

/* Loads the migrations, expecting problems; returns them, one per line,
 * with the scratch directory shown as "@". */
static char *problems(void)
{
	sh_project *p = mt_open();
	sh_migrate_graph *g = NULL;
	cr_assert_eq(sh_migrate_load(&g, p), SH_EMANIFEST);
	cr_assert_not_null(g);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	for (size_t i = 0; i < sh_migrate_problem_count(g); i++) {
		const char *t = sh_migrate_problem(g, i)->text;
		for (const char *c = t; *c != '\0'; c++) {
			if (strncmp(c, mt_dir, strlen(mt_dir)) == 0) {
				fputc('@', out);
				c += strlen(mt_dir) - 1;
			} else {
				fputc(*c, out);
			}
		}
		fputc('\n', out);
	}
	fclose(out);
	/* The error channel holds the first problem. */
	cr_assert_eq(sh_error_last()->code, SH_EMANIFEST);
	cr_assert_eq(strcmp(sh_error_last()->message, sh_migrate_problem(g, 0)->text), 0);
	sh_plan_step *plan;
	size_t n;
	cr_assert_eq(sh_migrate_plan(&plan, &n, g, NULL, NULL), SH_EINVAL);
	cr_assert_eq(sh_migrate_run(g, NULL), SH_EINVAL);
	sh_migrate_free(g);
	sh_project_free(p);
	return text;
}

static void problems_are(const char *want)
{
	char *got = problems();
	cr_assert_str_eq(got, want);
	free(got);
}

static const char initial[] =
	"operations:\n"
	"  - create_model: {name: Item, fields: {title: {type: text}}}\n";

Test(errors, a_cycle_is_named_where_it_closes)
{
	mt_app("a", NULL);
	mt_app("b", NULL);
	mt_project("a, b");
	mt_migration("a", "0001_initial", "dependencies:\n  - [b, 0001_x]\n");
	mt_migration("b", "0001_x", "dependencies:\n  - [a, 0001_initial]\n");
	problems_are("@/migrations/b/0001_x.yaml:2:5: dependency cycle: a.0001_initial -> "
		"b.0001_x -> a.0001_initial (each depends on the next)\n");
}

Test(errors, missing_migrations_and_apps_are_named)
{
	mt_app("a", NULL);
	mt_app_plain("c", NULL);
	mt_project("a, c");
	mt_migration("a", "0001_initial", initial);
	mt_migration("a", "0002_y",
		"dependencies:\n"
		"  - [a, 0001_initial]\n"
		"  - [a, 0001_nope]\n"
		"  - [zzz, 0001_initial]\n"
		"  - [c, 0001_initial]\n"
		"  - [c, __first__]\n");
	problems_are(
		"@/migrations/a/0002_y.yaml:3:5: a.0002_y depends on a.0001_nope, which does not exist "
		"(no file 0001_nope.yaml in @/migrations/a)\n"
		"@/migrations/a/0002_y.yaml:4:5: a.0002_y depends on app 'zzz', which is not "
		"installed\n"
		"@/migrations/a/0002_y.yaml:5:5: a.0002_y depends on c.0001_initial, but app 'c' has "
		"no migrations\n");
}

Test(errors, two_leaves_in_one_app_are_a_conflict)
{
	mt_app("a", NULL);
	mt_project("a");
	mt_migration("a", "0001_initial", initial);
	mt_migration("a", "0002_x", "dependencies: [[a, 0001_initial]]\n");
	mt_migration("a", "0002_y", "dependencies: [[a, 0001_initial]]\n");
	problems_are("@/migrations/a/0002_y.yaml:1:1: conflicting migrations in app 'a': 0002_x and "
		"0002_y are both latest (nothing in the app depends on them); add a migration that "
		"depends on each of them to merge them\n");
}

Test(errors, unknown_operations_keys_and_fields_are_pointed_at)
{
	mt_app("a", NULL);
	mt_project("a");
	mt_migration("a", "0001_initial",
		"initial: yes\n"                                                    /* 1 */
		"operations:\n"                                                     /* 2 */
		"  - add_feild: {model: Item, name: x}\n"                           /* 3 */
		"  - add_field: {modle: Item, name: x, field: {type: integer}}\n"   /* 4 */
		"  - create_model: {name: Item, fields: {t: {type: txt}}}\n"        /* 5 */
		"  - create_model: {name: 9lives}\n"                                /* 6 */
		"  - {create_model: {name: A}, delete_model: {name: A}}\n"          /* 7 */
		"dependencies: [a]\n"                                               /* 8 */
		"dependency: []\n");                                                /* 9 */
	problems_are(
		"@/migrations/a/0001_initial.yaml:9:1: unknown key 'dependency' in migration file "
		"(did you mean 'dependencies'?)\n"
		"@/migrations/a/0001_initial.yaml:1:10: 'initial' must be a boolean, not a string\n"
		"@/migrations/a/0001_initial.yaml:8:16: items of 'dependencies' must be a list, not a "
		"string\n"
		"@/migrations/a/0001_initial.yaml:3:5: unknown operation 'add_feild' (did you mean "
		"'add_field'?)\n"
		"@/migrations/a/0001_initial.yaml:4:17: unknown key 'modle' in operation add_field "
		"(did you mean 'model'?)\n"
		"@/migrations/a/0001_initial.yaml:4:16: missing key 'model' in operation add_field\n"
		"@/migrations/a/0001_initial.yaml:5:51: unknown field type 'txt' (did you mean "
		"'text'?)\n"
		"@/migrations/a/0001_initial.yaml:6:26: '9lives' is not a valid name for 'name': use "
		"letters, digits and '_', not starting with a digit\n"
		"@/migrations/a/0001_initial.yaml:7:5: an operation is a map of one key, its kind "
		"(create_model, add_field, ...), not 2 keys\n");
}

Test(errors, operations_on_what_the_state_lacks_are_refused)
{
	mt_app("a", NULL);
	mt_project("a");
	mt_migration("a", "0001_initial", initial);
	mt_migration("a", "0002_x",
		"dependencies: [[a, 0001_initial]]\n"
		"operations:\n"
		"  - remove_field: {model: Item, name: nope}\n");
	problems_are("@/migrations/a/0002_x.yaml:3:39: remove_field: no field 'nope' on a.Item in "
		"the migration state\n");
	mt_migration("a", "0002_x",
		"dependencies: [[a, 0001_initial]]\n"
		"operations:\n"
		"  - add_field: {model: Itm, name: n, field: {type: integer}}\n");
	problems_are("@/migrations/a/0002_x.yaml:3:24: add_field: no model 'a.Itm' in the "
		"migration state (no earlier migration creates it)\n");
	mt_migration("a", "0002_x",
		"dependencies: [[a, 0001_initial]]\n"
		"operations:\n"
		"  - create_model: {name: item}\n");
	problems_are("@/migrations/a/0002_x.yaml:3:26: create_model: model 'a.item' already exists "
		"in the migration state\n");
	mt_migration("a", "0002_x",
		"dependencies: [[a, 0001_initial]]\n"
		"operations:\n"
		"  - create_model: {name: Pet, fields: {o: {type: foreign_key, to: Ghost, "
		"on_delete: cascade}}}\n");
	problems_are("the models the migrations make are not valid: @/migrations/a/0002_x.yaml:3:40: "
		"a.Pet.o: 'to' 'a.Ghost' is not a declared model (no installed app declares it)\n");
}

Test(errors, an_app_without_migrations_cannot_point_at_one_with)
{
	mt_app("a", "models:\n  Item: {fields: {title: {type: text}}}\n");
	mt_app_plain("c", "models:\n  Note:\n    fields:\n"
		"      item: {type: foreign_key, to: a.Item, on_delete: cascade}\n");
	mt_project("a, c");
	mt_migration("a", "0001_initial", initial);
	problems_are("@/plugins/c.yaml:5:7: c.Note.item points at a.Item, a model of an app with "
		"migrations, but app 'c' has none: give it a migrations folder (sighost "
		"makemigrations c)\n");
}

Test(errors, a_bad_file_name_is_reported)
{
	mt_app("a", NULL);
	mt_project("a");
	mt_migration("a", "0001-initial", initial);
	problems_are("@/migrations/a/0001-initial.yaml: '0001-initial' is not a valid migration "
		"name: use letters, digits and '_' (0002_alert_priority.yaml)\n");
}
