/*
 * makemigrations.c: sh_migrate_detect() for each kind of change (new
 * model, new field, altered field, removed field, deleted model, a renamed
 * field as removal and addition, models pointing at each other), each
 * followed by writing the file, migrating, and comparing the migrated
 * schema with the one syncdb makes from the manifests; dependencies on
 * other apps' migrations; the file's exact text; nothing to do after.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(makemigrations, .init = mt_setup, .fini = mt_teardown);

/* Detects (and writes) changes of a freshly read project; returns one
 * line per new migration: "app name: description; description". */
static char *make(const char *app, bool write)
{
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	sh_migrate_changes *changes;
	cr_assert_eq(sh_migrate_detect(&changes, g, app), 0, "%s", sh_error_last()->message);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	for (size_t i = 0; i < sh_migrate_changes_count(changes); i++) {
		const sh_migrate_change *c = sh_migrate_changes_at(changes, i);
		fprintf(out, "%s %s:", c->app_label, c->name);
		for (size_t k = 0; k < c->operation_count; k++)
			fprintf(out, "%s %s", k ? ";" : "", c->descriptions[k]);
		fputc('\n', out);
	}
	fclose(out);
	if (write)
		cr_assert_eq(sh_migrate_changes_write(changes), 0, "%s", sh_error_last()->message);
	sh_migrate_changes_free(changes);
	sh_migrate_free(g);
	sh_project_free(p);
	return text;
}

static void make_is(const char *want)
{
	char *got = make(NULL, true);
	cr_assert_str_eq(got, want);
	free(got);
}

/* Migrates, compares with syncdb's schema, and finds nothing more to do. */
static void migrate_matches_manifests(void)
{
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, NULL, NULL), 0, "%s", sh_error_last()->message);
	char *path = t_path(mt_dir, "db.sqlite3");
	char *migrated = mt_schema(path), *synced = mt_synced_schema(p);
	cr_assert_str_eq(migrated, synced);
	free(migrated);
	free(synced);
	free(path);
	sh_migrate_free(g);
	sh_project_free(p);
	char *again = make(NULL, false);
	cr_assert_str_eq(again, "");
	free(again);
}

static void shop(const char *models)
{
	char *yaml = NULL;
	cr_assert_geq(asprintf(&yaml, "models:\n%s", models), 0);
	mt_app("shop", yaml);
	free(yaml);
}

#define OWNER "  Owner: {fields: {name: {type: text, max_length: 50}}}\n"
#define TAG "  Tag: {fields: {name: {type: text, unique: true}}}\n"
#define ITEM(extra) \
	"  Item:\n" \
	"    fields:\n" \
	"      title: {type: text, max_length: 100}\n" \
	"      owner: {type: foreign_key, to: Owner, on_delete: cascade, null: true}\n" \
	"      tags: {type: many_to_many, to: Tag}\n" extra

Test(makemigrations, each_kind_of_change_migrates_to_the_declared_schema)
{
	mt_project("shop");
	shop(OWNER ITEM("") TAG);
	make_is("shop 0001_initial: Create model Owner; Create model Tag; Create model Item\n");
	migrate_matches_manifests();
	mt_exec("INSERT INTO shop_item (title) VALUES ('pen')");

	shop(OWNER ITEM("      price: {type: real, default: 1.5}\n") TAG);
	make_is("shop 0002_item_price: Add field price to item\n");
	migrate_matches_manifests();
	char *rows = mt_query("SELECT title, price FROM shop_item");
	cr_assert_str_eq(rows, "pen|1.5\n");
	free(rows);

	shop(OWNER
		"  Item:\n"
		"    fields:\n"
		"      title: {type: text, max_length: 200, null: true}\n"
		"      owner: {type: foreign_key, to: Owner, on_delete: cascade, null: true}\n"
		"      tags: {type: many_to_many, to: Tag}\n"
		"      price: {type: real, default: 1.5}\n" TAG);
	make_is("shop 0003_alter_item_title: Alter field title on item\n");
	migrate_matches_manifests();

	shop("  Owner: {}\n"
		"  Item:\n"
		"    fields:\n"
		"      title: {type: text, max_length: 200, null: true}\n"
		"      owner: {type: foreign_key, to: Owner, on_delete: cascade, null: true}\n"
		"      tags: {type: many_to_many, to: Tag}\n"
		"      price: {type: real, default: 1.5}\n" TAG);
	make_is("shop 0004_remove_owner_name: Remove field name from owner\n");
	migrate_matches_manifests();

	shop("  Owner: {}\n"
		"  Item:\n"
		"    fields:\n"
		"      title: {type: text, max_length: 200, null: true}\n"
		"      owner: {type: foreign_key, to: Owner, on_delete: cascade, null: true}\n"
		"      tags: {type: many_to_many, to: Tag}\n"
		"      price: {type: real, default: 1.5}\n" TAG
		"  Review:\n"
		"    fields:\n"
		"      item: {type: foreign_key, to: Item, on_delete: cascade}\n"
		"      stars: {type: integer, db_index: true}\n");
	make_is("shop 0005_review: Create model Review\n");
	migrate_matches_manifests();

	/* Tag goes, and with it the field that points at it. */
	shop("  Owner: {}\n"
		"  Item:\n"
		"    fields:\n"
		"      title: {type: text, max_length: 200, null: true}\n"
		"      owner: {type: foreign_key, to: Owner, on_delete: cascade, null: true}\n"
		"      price: {type: real, default: 1.5}\n"
		"  Review:\n"
		"    fields:\n"
		"      item: {type: foreign_key, to: Item, on_delete: cascade}\n"
		"      stars: {type: integer, db_index: true}\n");
	make_is("shop 0006_remove_item_tags_delete_tag: Remove field tags from item; "
		"Delete model Tag\n");
	migrate_matches_manifests();

	/* A renamed field is a removal and an addition (no questions asked). */
	shop("  Owner: {}\n"
		"  Item:\n"
		"    fields:\n"
		"      owner: {type: foreign_key, to: Owner, on_delete: cascade, null: true}\n"
		"      price: {type: real, default: 1.5}\n"
		"      name: {type: text, max_length: 200, null: true}\n"
		"  Review:\n"
		"    fields:\n"
		"      item: {type: foreign_key, to: Item, on_delete: cascade}\n"
		"      stars: {type: integer, db_index: true}\n");
	make_is("shop 0007_item_name_remove_item_title: Add field name to item; "
		"Remove field title from item\n");
	migrate_matches_manifests();
	rows = mt_query("SELECT id, name, price FROM shop_item");
	cr_assert_str_eq(rows, "1|NULL|1.5\n");
	free(rows);

	/* And back to the start, every step undone: making title NOT NULL again
	 * fails on the row whose title is NULL (and changes nothing) until the
	 * row is gone. */
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, "shop", "zero"), SH_EDB);
	mt_has(sh_error_last()->message, "unapplying shop.0003_alter_item_title failed at "
		"operation 1 (Alter field title on item, ");
	mt_has(sh_error_last()->message, "NOT NULL constraint failed");
	rows = mt_query("SELECT name FROM sighost_migrations ORDER BY id DESC LIMIT 1");
	cr_assert_str_eq(rows, "0003_alter_item_title\n");
	free(rows);
	mt_exec("DELETE FROM shop_item");
	cr_assert_eq(mt_migrate(g, "shop", "zero"), 0, "%s", sh_error_last()->message);
	rows = mt_query("SELECT count(*) FROM sqlite_master WHERE name LIKE 'shop%'");
	cr_assert_str_eq(rows, "0\n");
	free(rows);
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(makemigrations, models_that_point_at_each_other_are_split)
{
	mt_project("shop");
	shop("  Hen:\n"
		"    fields: {egg: {type: foreign_key, to: Egg, on_delete: cascade, null: true}}\n"
		"  Egg:\n"
		"    fields: {hen: {type: foreign_key, to: Hen, on_delete: cascade, null: true}}\n");
	make_is("shop 0001_initial: Create model Hen; Create model Egg; Add field egg to hen\n");
	migrate_matches_manifests();
}

Test(makemigrations, declaration_order_is_fixed_when_there_is_no_cycle)
{
	mt_project("shop");
	shop("  Item:\n"
		"    fields: {owner: {type: foreign_key, to: Owner, on_delete: cascade}}\n"
		OWNER);
	make_is("shop 0001_initial: Create model Owner; Create model Item\n");
	migrate_matches_manifests();
}

Test(makemigrations, the_file_is_the_format_migrations_are_read_in)
{
	mt_project("shop");
	shop("  Item:\n"
		"    fields:\n"
		"      title: {type: text, max_length: 100, blank: true, default: \"null\"}\n"
		"      count: {type: integer, default: 3, db_index: true}\n"
		"      data: {type: json, default: {a: [1, \"2\", true]}, null: true}\n"
		"      when: {type: datetime, auto_now: true}\n"
		"      parent: {type: foreign_key, to: self, on_delete: set_null, null: true, "
		"related_name: children}\n");
	char *got = make(NULL, true);
	free(got);
	char *path = t_path(mt_dir, "migrations/shop/0001_initial.yaml");
	char *text = t_read(path);
	const char *body = strchr(text, '\n');
	cr_assert_not_null(body);
	cr_assert_eq(strncmp(text, "# Generated by sighost ", 23), 0, "%s", text);
	cr_assert_str_eq(body + 1,
		"initial: true\n"
		"dependencies: []\n"
		"operations:\n"
		"- create_model:\n"
		"    name: Item\n"
		"    fields:\n"
		"      title: {type: text, blank: true, max_length: 100, default: \"null\"}\n"
		"      count: {type: integer, db_index: true, default: 3}\n"
		"      data: {type: json, null: true, default: {a: [1, \"2\", true]}}\n"
		"      when: {type: datetime, auto_now: true}\n"
		"      parent: {type: foreign_key, null: true, to: shop.Item, on_delete: set_null, "
		"related_name: children}\n");
	free(text);
	free(path);
	migrate_matches_manifests();
}

Test(makemigrations, dependencies_name_the_migrations_of_other_apps)
{
	mt_app("a", "models:\n  Author: {fields: {name: {type: text}}}\n");
	mt_app("b", "models:\n  Book:\n    fields:\n"
		"      author: {type: foreign_key, to: a.Author, on_delete: cascade}\n"
		"      note: {type: foreign_key, to: c.Note, on_delete: cascade}\n");
	mt_app_plain("c", "models:\n  Note: {}\n");
	mt_project("a, b, c");
	make_is("a 0001_initial: Create model Author\nb 0001_initial: Create model Book\n");
	char *path = t_path(mt_dir, "migrations/b/0001_initial.yaml");
	char *text = t_read(path);
	mt_has(text, "dependencies:\n- [a, 0001_initial]\n- [c, __first__]\noperations:\n");
	free(text);
	free(path);
	migrate_matches_manifests();

	/* A later change in b depends on b's latest and on a's latest. */
	mt_app("a", "models:\n  Author: {fields: {name: {type: text}, born: {type: date, "
		"null: true}}}\n");
	make_is("a 0002_author_born: Add field born to author\n");
	mt_app("b", "models:\n  Book:\n    fields:\n"
		"      author: {type: foreign_key, to: a.Author, on_delete: cascade}\n"
		"      note: {type: foreign_key, to: c.Note, on_delete: cascade}\n"
		"      editor: {type: foreign_key, to: a.Author, on_delete: protect, null: true, "
		"related_name: edited}\n");
	make_is("b 0002_book_editor: Add field editor to book\n");
	path = t_path(mt_dir, "migrations/b/0002_book_editor.yaml");
	text = t_read(path);
	mt_has(text, "dependencies:\n- [b, 0001_initial]\n- [a, 0002_author_born]\n");
	free(text);
	free(path);
	migrate_matches_manifests();
}

Test(makemigrations, one_app_only_and_apps_without_the_key)
{
	mt_app("a", "models:\n  Author: {}\n");
	mt_app("b", "models:\n  Book: {}\n");
	mt_app_plain("c", "models:\n  Note: {}\n");
	mt_project("a, b, c");
	char *got = make("b", false);
	cr_assert_str_eq(got, "b 0001_initial: Create model Book\n");
	free(got);
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	sh_migrate_changes *changes;
	cr_assert_eq(sh_migrate_detect(&changes, g, "c"), SH_EINVAL);
	mt_has(sh_error_last()->message, "app 'c' has no 'migrations' key in its manifest");
	cr_assert_eq(sh_migrate_detect(&changes, g, "nope"), SH_ENOTFOUND);
	sh_migrate_free(g);
	sh_project_free(p);
}

/* The case through the API: a has its migration already, b has a
 * (missing) migrations folder and a first model pointing at a's. Loading
 * records a pending relation, not a problem; running refuses and names
 * the command; detecting writes b's 0001_initial depending on a's, after
 * which nothing is pending and the schema is the declared one. */
Test(makemigrations, an_apps_first_migration_may_point_at_another_apps_model)
{
	mt_app("a", "models:\n  Author: {fields: {name: {type: text}}}\n");
	mt_project("a");
	make_is("a 0001_initial: Create model Author\n");
	mt_app("b", "models:\n  Book:\n    fields:\n"
		"      author: {type: foreign_key, to: a.Author, on_delete: cascade}\n");
	mt_project("a, b");
	sh_project *p = mt_open();
	sh_migrate_graph *g = NULL;
	cr_assert_eq(sh_migrate_load(&g, p), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_migrate_problem_count(g), 0);
	cr_assert_eq(sh_migrate_pending_count(g), 1);
	mt_has(sh_migrate_pending(g, 0)->text, "b.Book.author points at a.Author");
	mt_has(sh_migrate_pending(g, 0)->text, "run 'sighost makemigrations b'");
	cr_assert_eq(sh_migrate_run(g, NULL), SH_EINVAL);
	mt_has(sh_error_last()->message, "run 'sighost makemigrations b'");
	sh_migrate_free(g);
	sh_project_free(p);

	make_is("b 0001_initial: Create model Book\n");
	char *path = t_path(mt_dir, "migrations/b/0001_initial.yaml");
	char *text = t_read(path);
	mt_has(text, "dependencies:\n- [a, 0001_initial]\noperations:\n");
	free(text);
	free(path);
	migrate_matches_manifests();
}
