/*
 * failure.c: a migration that fails rolls back completely and stops the
 * run, naming the migration, the operation and SQLite's message; the
 * migrations before it stay applied and recorded, post_migrate is not sent.
 * A backwards plan with an irreversible step is refused before anything
 * changes. A migration that leaves a dangling foreign key fails the
 * foreign key check and rolls back.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "support.h"

TestSuite(failure, .init = mt_setup, .fini = mt_teardown);

static void people(const char *broken_ops)
{
	mt_app("people", NULL);
	mt_project("people");
	mt_migration("people", "0001_initial",
		"operations:\n"
		"  - create_model: {name: Person, fields: {name: {type: text}}}\n");
	char *yaml = NULL;
	cr_assert_geq(asprintf(&yaml, "dependencies: [[people, 0001_initial]]\n"
		"operations:\n%s", broken_ops), 0);
	mt_migration("people", "0002_broken", yaml);
	free(yaml);
	mt_migration("people", "0003_after",
		"dependencies: [[people, 0002_broken]]\n"
		"operations:\n"
		"  - create_model: {name: After}\n");
}

static int count_post(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal; (void)sender; (void)args; (void)response;
	(*(int *)payload)++;
	return 0;
}

Test(failure, a_failing_migration_rolls_back_and_earlier_ones_stay)
{
	people("  - create_model: {name: Pet, fields: {kind: {type: text}}}\n"      /* line 3 */
		"  - add_field: {model: Person, name: age, field: {type: integer, null: true}}\n"
		"  - run_sql: {sql: \"INSERT INTO nowhere VALUES (1)\"}\n");          /* line 5 */
	sh_project *p = mt_open();
	int posts = 0;
	cr_assert_geq(sh_signal_connect(NULL, sh_hub_builtin(sh_project_hub(p), SH_POST_MIGRATE),
		count_post, &posts, NULL), 0);
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, NULL, NULL), SH_EDB);
	const char *message = sh_error_last()->message;
	mt_has(message, "applying people.0002_broken failed at operation 3 (Raw SQL operation, ");
	mt_has(message, "/migrations/people/0002_broken.yaml:5:5): no such table: nowhere");
	cr_assert_eq(posts, 0);

	char *recorded = mt_query("SELECT name FROM sighost_migrations");
	cr_assert_str_eq(recorded, "0001_initial\n");
	free(recorded);
	char *tables = mt_query("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
		"LIKE 'people_%' ORDER BY name");
	cr_assert_str_eq(tables, "people_person\n");   /* no people_pet, no people_after */
	free(tables);
	char *columns = mt_query("SELECT name FROM pragma_table_info('people_person')");
	cr_assert_str_eq(columns, "id\nname\n");       /* no age */
	free(columns);
	/* The run can be taken up again once the migration is fixed. */
	mt_migration("people", "0002_broken",
		"dependencies: [[people, 0001_initial]]\n"
		"operations:\n"
		"  - create_model: {name: Pet, fields: {kind: {type: text}}}\n");
	sh_migrate_free(g);
	g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, NULL, NULL), 0, "%s", sh_error_last()->message);
	recorded = mt_query("SELECT name FROM sighost_migrations ORDER BY id");
	cr_assert_str_eq(recorded, "0001_initial\n0002_broken\n0003_after\n");
	free(recorded);
	cr_assert_eq(posts, 1);
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(failure, the_database_is_unchanged_by_the_failing_migration)
{
	people("  - alter_field: {model: Person, name: name, field: {type: text, max_length: 5}}\n"
		"  - run_sql: {sql: \"UPDATE people_person SET name = 'changed'\"}\n"
		"  - run_sql: {sql: \"SELECT * FROM nowhere\"}\n");
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, "people", "0001"), 0, "%s", sh_error_last()->message);
	mt_exec("INSERT INTO people_person (name) VALUES ('ann'), ('bob')");
	char *path = t_path(mt_dir, "db.sqlite3");
	char *before = mt_schema(path);
	cr_assert_eq(mt_migrate(g, NULL, NULL), SH_EDB);
	char *after = mt_schema(path);
	cr_assert_str_eq(after, before);
	char *rows = mt_query("SELECT id, name FROM people_person ORDER BY id");
	cr_assert_str_eq(rows, "1|ann\n2|bob\n");
	free(rows);
	free(before);
	free(after);
	free(path);
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(failure, an_irreversible_step_is_refused_before_anything_changes)
{
	people("  - create_model: {name: Pet}\n"
		"  - run_sql: {sql: \"INSERT INTO people_pet (id) VALUES (7)\"}\n");
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, NULL, NULL), 0, "%s", sh_error_last()->message);
	int pres = 0;
	cr_assert_geq(sh_signal_connect(NULL, sh_hub_builtin(sh_project_hub(p), SH_PRE_MIGRATE),
		count_post, &pres, NULL), 0);
	cr_assert_eq(mt_migrate(g, "people", "zero"), SH_EPERM);
	mt_has(sh_error_last()->message, "migration people.0002_broken is not reversible: "
		"operation 2 (Raw SQL operation, ");
	mt_has(sh_error_last()->message, "0002_broken.yaml:4:5) has no reverse_sql");
	cr_assert_eq(pres, 0);
	/* 0003 would have been unapplied first: it is still there. */
	char *recorded = mt_query("SELECT count(*) FROM sighost_migrations");
	cr_assert_str_eq(recorded, "3\n");
	free(recorded);
	char *rows = mt_query("SELECT id FROM people_pet");
	cr_assert_str_eq(rows, "7\n");
	free(rows);
	cr_assert_eq(mt_migrate(g, "people", "0002"), 0, "%s", sh_error_last()->message);
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(failure, a_reverse_sql_makes_run_sql_reversible)
{
	people("  - create_model: {name: Pet}\n"
		"  - run_sql: {sql: \"INSERT INTO people_pet (id) VALUES (7)\",\n"
		"              reverse_sql: \"DELETE FROM people_pet WHERE id = 7\"}\n");
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, NULL, NULL), 0, "%s", sh_error_last()->message);
	cr_assert_eq(mt_migrate(g, "people", "zero"), 0, "%s", sh_error_last()->message);
	char *tables = mt_query("SELECT count(*) FROM sqlite_master WHERE name LIKE 'people_%'");
	cr_assert_str_eq(tables, "0\n");
	free(tables);
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(failure, a_dangling_foreign_key_fails_the_check_and_rolls_back)
{
	people("  - create_model:\n"
		"      name: Pet\n"
		"      fields: {owner: {type: foreign_key, to: Person, on_delete: cascade}}\n"
		"  - run_sql: {sql: \"INSERT INTO people_pet (owner_id) VALUES (42)\"}\n");
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, NULL, NULL), SH_EINTEGRITY);
	mt_has(sh_error_last()->message, "applying people.0002_broken: foreign key check failed: "
		"row 1 of \"people_pet\" points at a row of \"people_person\" that does not exist");
	char *tables = mt_query("SELECT count(*) FROM sqlite_master WHERE name = 'people_pet'");
	cr_assert_str_eq(tables, "0\n");
	free(tables);
	/* Foreign keys are enforced again on the connection afterwards. */
	sh_conn *db;
	cr_assert_eq(sh_database_connection(&db, sh_project_database(p)), 0);
	sqlite3_stmt *stmt;
	cr_assert_eq(sqlite3_prepare_v2(sh_conn_sqlite(db), "PRAGMA foreign_keys", -1, &stmt, NULL),
		SQLITE_OK);
	cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW);
	cr_assert_eq(sqlite3_column_int(stmt, 0), 1);
	sqlite3_finalize(stmt);
	sh_migrate_free(g);
	sh_project_free(p);
}

/* migrate's own SQL (here a run_sql that writes more than SQLite's page
 * cache holds, so the write-ahead log grows inside the statement) maps
 * SQLite's errors as the model layer does: a write past a file size limit
 * fails with SH_EUNAVAILABLE (the server would answer 503), and the
 * message names the database's file. */
Test(failure, a_full_disk_under_run_sql_is_unavailable_and_names_the_file)
{
	people("  - run_sql: {sql: \"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
		"WHERE x < 4000) INSERT INTO people_person (name) SELECT printf('%.2000c', 'x') FROM c\"}\n");
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, "people", "0001"), 0, "%s", sh_error_last()->message);
	/* The limit past which a write fails (EFBIG) instead of growing a file;
	 * SIGXFSZ is ignored, as the sighost binary does. */
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit limit = { 1024 * 1024, RLIM_INFINITY };
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &limit), 0);
	int rc = mt_migrate(g, NULL, NULL);
	limit.rlim_cur = RLIM_INFINITY;
	setrlimit(RLIMIT_FSIZE, &limit);
	cr_assert_eq(rc, SH_EUNAVAILABLE, "%d: %s", rc, sh_error_last()->message);
	char *path = t_path(mt_dir, "db.sqlite3");
	char *want = NULL;
	cr_assert_geq(asprintf(&want, " database %s: the disk may be full, over a quota or a file "
		"size limit, or failing", path), 0);
	mt_has(sh_error_last()->message, "applying people.0002_broken failed at operation 1 (Raw SQL operation, ");
	mt_has(sh_error_last()->message, want);
	free(want);
	free(path);
	char *rows = mt_query("SELECT count(*) FROM people_person");
	cr_assert_str_eq(rows, "0\n", "the failed migration wrote nothing");
	free(rows);
	sh_migrate_free(g);
	sh_project_free(p);
}
