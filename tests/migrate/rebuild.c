/*
 * rebuild.c: operations SQLite cannot do in place rebuild the table by its
 * documented procedure and keep the rows: added fields get their default,
 * altered fields keep their values (NULLs take the default when the field
 * stops allowing them), renamed fields and models keep everything, join
 * tables and foreign keys of other tables follow a renamed model, ids are
 * not reused; the result is exactly the schema syncdb gives, and going
 * back restores the first schema.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(rebuild, .init = mt_setup, .fini = mt_teardown);

/* The models as the last migration leaves them, for the syncdb side. */
static const char final_models[] =
	"models:\n"
	"  Club:\n"
	"    fields:\n"
	"      title: {type: text, max_length: 30}\n"
	"  Human:\n"
	"    fields:\n"
	"      full_name: {type: text, max_length: 40}\n"
	"      nick: {type: text, max_length: 20, default: none}\n"
	"      clubs: {type: many_to_many, to: Club, related_name: members}\n"
	"  Pet:\n"
	"    fields:\n"
	"      owner: {type: foreign_key, to: Human, on_delete: cascade}\n";

static void zoo(void)
{
	mt_app("zoo", final_models);
	mt_project("zoo");
	mt_migration("zoo", "0001_initial",
		"operations:\n"
		"  - create_model: {name: Club, fields: {title: {type: text, max_length: 30}}}\n"
		"  - create_model:\n"
		"      name: Person\n"
		"      fields:\n"
		"        name: {type: text, max_length: 20}\n"
		"        nick: {type: text, max_length: 20, null: true}\n"
		"        clubs: {type: many_to_many, to: Club, related_name: members}\n"
		"  - create_model:\n"
		"      name: Pet\n"
		"      fields: {owner: {type: foreign_key, to: Person, on_delete: cascade}}\n");
	mt_migration("zoo", "0002_person_age",
		"dependencies: [[zoo, 0001_initial]]\n"
		"operations:\n"
		"  - add_field: {model: Person, name: age, field: {type: integer, default: 7}}\n");
	mt_migration("zoo", "0003_alter_person_name",
		"dependencies: [[zoo, 0002_person_age]]\n"
		"operations:\n"
		"  - alter_field: {model: Person, name: name, field: {type: text, max_length: 40}}\n");
	mt_migration("zoo", "0004_alter_person_nick",
		"dependencies: [[zoo, 0003_alter_person_name]]\n"
		"operations:\n"
		"  - alter_field:\n"
		"      model: Person\n"
		"      name: nick\n"
		"      field: {type: text, max_length: 20, default: none}\n");
	mt_migration("zoo", "0005_rename_name_person_full_name",
		"dependencies: [[zoo, 0004_alter_person_nick]]\n"
		"operations:\n"
		"  - rename_field: {model: Person, old_name: name, new_name: full_name}\n");
	mt_migration("zoo", "0006_remove_person_age",
		"dependencies: [[zoo, 0005_rename_name_person_full_name]]\n"
		"operations:\n"
		"  - remove_field: {model: Person, name: age, field: {type: integer, default: 7}}\n");
	mt_migration("zoo", "0007_rename_person_human",
		"dependencies: [[zoo, 0006_remove_person_age]]\n"
		"operations:\n"
		"  - rename_model: {old_name: Person, new_name: Human}\n");
}

static void migrate_to(sh_migrate_graph *g, const char *target)
{
	cr_assert_eq(mt_migrate(g, "zoo", target), 0, "to %s: %s", target,
		sh_error_last()->message);
}

static void rows_are(const char *sql, const char *want)
{
	char *rows = mt_query(sql);
	cr_assert_str_eq(rows, want, "%s", sql);
	free(rows);
}

Test(rebuild, every_step_keeps_the_rows)
{
	zoo();
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	migrate_to(g, "0001");
	mt_exec("INSERT INTO zoo_club (title) VALUES ('chess');"
		"INSERT INTO zoo_person (name, nick) VALUES ('ann', NULL), ('bob', 'b'), ('cy', 'c');"
		"INSERT INTO zoo_pet (owner_id) VALUES (1), (2);"
		"INSERT INTO zoo_person_clubs (person_id, club_id) VALUES (1, 1);"
		"DELETE FROM zoo_person WHERE id = 3;");

	migrate_to(g, "0002");
	rows_are("SELECT id, name, nick, age FROM zoo_person", "1|ann|NULL|7\n2|bob|b|7\n");
	migrate_to(g, "0003");
	rows_are("SELECT id, name, age FROM zoo_person", "1|ann|7\n2|bob|7\n");
	char *table = mt_query("SELECT sql FROM sqlite_master WHERE name = 'zoo_person'");
	mt_has(table, "\"name\" varchar(40) NOT NULL");
	free(table);
	migrate_to(g, "0004");
	rows_are("SELECT id, nick FROM zoo_person", "1|none\n2|b\n");
	migrate_to(g, "0005");
	rows_are("SELECT id, full_name FROM zoo_person", "1|ann\n2|bob\n");
	migrate_to(g, "0006");
	rows_are("SELECT name FROM pragma_table_info('zoo_person')", "id\nfull_name\nnick\n");
	migrate_to(g, "0007");
	rows_are("SELECT id, full_name, nick FROM zoo_human", "1|ann|none\n2|bob|b\n");
	rows_are("SELECT owner_id FROM zoo_pet ORDER BY id", "1\n2\n");
	rows_are("SELECT human_id, club_id FROM zoo_human_clubs", "1|1\n");
	rows_are("SELECT count(*) FROM sqlite_master WHERE name LIKE 'zoo_person%'", "0\n");
	/* The deleted id 3 is not given again. */
	mt_exec("INSERT INTO zoo_human (full_name, nick) VALUES ('dee', 'd')");
	rows_are("SELECT id FROM zoo_human WHERE full_name = 'dee'", "4\n");
	rows_are("PRAGMA foreign_key_check", "");
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(rebuild, the_result_is_exactly_the_synced_schema)
{
	zoo();
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, NULL, NULL), 0, "%s", sh_error_last()->message);
	char *path = t_path(mt_dir, "db.sqlite3");
	char *migrated = mt_schema(path), *synced = mt_synced_schema(p);
	cr_assert_str_eq(migrated, synced);
	mt_has(migrated, "zoo_pet: CREATE TABLE \"zoo_pet\" (\"id\" integer NOT NULL PRIMARY KEY "
		"AUTOINCREMENT, \"owner_id\" bigint NOT NULL REFERENCES \"zoo_human\" (\"id\") "
		"DEFERRABLE INITIALLY DEFERRED)");
	free(migrated);
	free(synced);
	free(path);
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(rebuild, going_back_restores_the_first_schema_and_keeps_the_rows)
{
	zoo();
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	char *path = t_path(mt_dir, "db.sqlite3");
	migrate_to(g, "0001");
	char *first = mt_schema(path);
	mt_exec("INSERT INTO zoo_club (title) VALUES ('chess');"
		"INSERT INTO zoo_person (name, nick) VALUES ('ann', 'a'), ('bob', 'b');"
		"INSERT INTO zoo_pet (owner_id) VALUES (2);"
		"INSERT INTO zoo_person_clubs (person_id, club_id) VALUES (2, 1);");
	migrate_to(g, NULL);
	migrate_to(g, "0001");
	char *back = mt_schema(path);
	cr_assert_str_eq(back, first);
	rows_are("SELECT id, name, nick FROM zoo_person", "1|ann|a\n2|bob|b\n");
	rows_are("SELECT person_id, club_id FROM zoo_person_clubs", "2|1\n");
	rows_are("SELECT owner_id FROM zoo_pet", "2\n");
	free(first);
	free(back);
	free(path);
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(rebuild, indexes_follow_db_index_and_add_index)
{
	mt_app("zoo", NULL);
	mt_project("zoo");
	mt_migration("zoo", "0001_initial",
		"operations:\n"
		"  - create_model: {name: Cat, fields: {name: {type: text}, age: {type: integer}}}\n"
		"  - add_index: {model: Cat, name: zoo_cat_name_age, fields: [name, age]}\n");
	mt_migration("zoo", "0002_alter_cat_age",
		"dependencies: [[zoo, 0001_initial]]\n"
		"operations:\n"
		"  - alter_field: {model: Cat, name: age, field: {type: integer, db_index: true}}\n"
		"  - rename_field: {model: Cat, old_name: name, new_name: title}\n");
	mt_migration("zoo", "0003_remove_index",
		"dependencies: [[zoo, 0002_alter_cat_age]]\n"
		"operations:\n"
		"  - remove_index: {model: Cat, name: zoo_cat_name_age}\n");
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	migrate_to(g, "0001");
	rows_are("SELECT name, sql FROM sqlite_master WHERE type = 'index'",
		"zoo_cat_name_age|CREATE INDEX \"zoo_cat_name_age\" ON \"zoo_cat\" (\"name\", \"age\")\n");
	migrate_to(g, "0002");
	char *indexes = mt_query("SELECT sql FROM sqlite_master WHERE type = 'index' ORDER BY name");
	mt_has(indexes, "CREATE INDEX \"zoo_cat_age_");
	mt_has(indexes, "CREATE INDEX \"zoo_cat_name_age\" ON \"zoo_cat\" (\"title\", \"age\")");
	cr_assert_eq(t_lines(indexes), 2, "%s", indexes);
	free(indexes);
	migrate_to(g, "0003");
	rows_are("SELECT count(*) FROM sqlite_master WHERE name = 'zoo_cat_name_age'", "0\n");
	migrate_to(g, "0001");
	rows_are("SELECT name, sql FROM sqlite_master WHERE type = 'index'",
		"zoo_cat_name_age|CREATE INDEX \"zoo_cat_name_age\" ON \"zoo_cat\" (\"name\", \"age\")\n");
	sh_migrate_free(g);
	sh_project_free(p);
}
