/*
 * plan.c: plans across three apps with dependencies between them, as
 * Django's migration_plan makes them: forwards (dependencies first, only
 * what is not applied), to one app's latest, back to a migration (only
 * what follows it in its app, and what depends on that), to zero, with
 * name prefixes; and running them forwards and backwards.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(plan, .init = mt_setup, .fini = mt_teardown);

#define FULL "people.0001_initial people.0002_person_age shop.0001_initial " \
	"shop.0002_item_price orders.0001_initial"

static void plan_is(sh_migrate_graph *g, const char *app, const char *target, const char *want)
{
	char *text = mt_plan(g, app, target);
	cr_assert_str_eq(text, want, "plan %s %s", app ? app : "(all)", target ? target : "");
	free(text);
}

Test(plan, forwards_puts_every_dependency_first_across_apps)
{
	mt_three_apps();
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	plan_is(g, NULL, NULL, FULL);
	/* orders needs shop.0001 and people.0002, not shop.0002. */
	plan_is(g, "orders", NULL, "people.0001_initial people.0002_person_age "
		"shop.0001_initial orders.0001_initial");
	plan_is(g, "shop", "0001", "people.0001_initial shop.0001_initial");
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(plan, forwards_skips_what_is_applied)
{
	mt_three_apps();
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, "shop", "0001_initial"), 0, "%s", sh_error_last()->message);
	plan_is(g, NULL, NULL, "people.0002_person_age shop.0002_item_price orders.0001_initial");
	sh_migration_info info;
	cr_assert_eq(sh_migrate_at(&info, g, "shop", 0), 0);
	cr_assert_str_eq(info.name, "0001_initial");
	cr_assert(info.applied);
	cr_assert_eq(sh_migrate_at(&info, g, "shop", 1), 0);
	cr_assert_not(info.applied);
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(plan, backwards_unapplies_dependents_first)
{
	mt_three_apps();
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, NULL, NULL), 0, "%s", sh_error_last()->message);
	plan_is(g, NULL, NULL, "");
	plan_is(g, "people", "zero", "-orders.0001_initial -people.0002_person_age "
		"-shop.0002_item_price -shop.0001_initial -people.0001_initial");
	/* Back to an applied migration: what follows it in its app, and what
	 * depends on that, but not its own dependencies. */
	plan_is(g, "people", "0001_initial", "-orders.0001_initial -people.0002_person_age");
	plan_is(g, "shop", "0001", "-shop.0002_item_price");
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(plan, running_backwards_then_forwards_changes_tables_and_records)
{
	mt_three_apps();
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, NULL, NULL), 0, "%s", sh_error_last()->message);
	char *tables = mt_query("SELECT name FROM sqlite_master WHERE type = 'table' "
		"AND name NOT LIKE 'sqlite_%' ORDER BY name");
	cr_assert_str_eq(tables, "notes_note\norders_order\norders_order_lines\npeople_person\n"
		"shop_item\nsighost_migrations\n");
	free(tables);

	cr_assert_eq(mt_migrate(g, "people", "0001"), 0, "%s", sh_error_last()->message);
	tables = mt_query("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
		"LIKE 'orders%'");
	cr_assert_str_eq(tables, "");
	free(tables);
	char *columns = mt_query("SELECT name FROM pragma_table_info('people_person')");
	cr_assert_str_eq(columns, "id\nname\n");
	free(columns);
	char *recorded = mt_query("SELECT app || '.' || name FROM sighost_migrations ORDER BY id");
	cr_assert_str_eq(recorded, "people.0001_initial\nshop.0001_initial\nshop.0002_item_price\n");
	free(recorded);

	cr_assert_eq(mt_migrate(g, "people", "zero"), 0, "%s", sh_error_last()->message);
	tables = mt_query("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
		"NOT LIKE 'sqlite_%' ORDER BY name");
	cr_assert_str_eq(tables, "notes_note\nsighost_migrations\n");
	free(tables);
	recorded = mt_query("SELECT count(*) FROM sighost_migrations");
	cr_assert_str_eq(recorded, "0\n");
	free(recorded);

	cr_assert_eq(mt_migrate(g, NULL, NULL), 0, "%s", sh_error_last()->message);
	recorded = mt_query("SELECT app || '.' || name FROM sighost_migrations ORDER BY id");
	cr_assert_str_eq(recorded, "people.0001_initial\npeople.0002_person_age\nshop.0001_initial\n"
		"shop.0002_item_price\norders.0001_initial\n");
	free(recorded);
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(plan, targets_are_names_or_unambiguous_prefixes)
{
	mt_three_apps();
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(sh_migrate_read_applied(g), 0);
	sh_plan_step *plan;
	size_t n;
	cr_assert_eq(sh_migrate_plan(&plan, &n, g, "people", "0"), SH_EINVAL);
	mt_has(sh_error_last()->message, "more than one migration of 'people' matches '0': "
		"0001_initial, 0002_person_age");
	cr_assert_eq(sh_migrate_plan(&plan, &n, g, "people", "0009"), SH_ENOTFOUND);
	mt_has(sh_error_last()->message, "cannot find a migration matching '0009' from app 'people'");
	cr_assert_eq(sh_migrate_plan(&plan, &n, g, "nobody", NULL), SH_ENOTFOUND);
	cr_assert_eq(sh_migrate_plan(&plan, &n, g, "notes", NULL), SH_ENOTFOUND);
	mt_has(sh_error_last()->message, "app 'notes' does not have migrations");
	cr_assert_eq(sh_migrate_plan(&plan, &n, g, "people", "0002"), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(plan[1].name, "0002_person_age");
	cr_assert_not(plan[1].backwards);
	sh_migrate_plan_free(plan);
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(plan, unapplied_counts_what_serve_would_refuse)
{
	mt_three_apps();
	sh_project *p = mt_open();
	sh_plan_step *plan;
	size_t n;
	cr_assert_eq(sh_migrate_unapplied(&plan, &n, p), 5);
	cr_assert_eq(n, 5);
	char *text = mt_plan_text(plan, n);
	cr_assert_str_eq(text, FULL);
	free(text);
	sh_migrate_plan_free(plan);
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, "orders", NULL), 0, "%s", sh_error_last()->message);
	sh_migrate_free(g);
	cr_assert_eq(sh_migrate_unapplied(NULL, &n, p), 1);
	cr_assert_eq(n, 1);
	sh_project_free(p);
}
