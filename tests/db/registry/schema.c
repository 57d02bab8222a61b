/*
 * schema.c: sh_database_syncdb() and the DDL it runs, read back from
 * sqlite_master (SQLite keeps each CREATE statement as written): Django's
 * SQLite column types for every field type, NULL / NOT NULL, PRIMARY KEY,
 * UNIQUE, the JSON check, inline foreign keys, indexes for keys and
 * db_index, join tables with their unique pair; tables that exist are
 * left alone, and a failure creates nothing.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

static char dir[] = "/tmp/sighost-schema-XXXXXX";
static char path[64];
static sh_database *database;
static sh_conn *db;

static void setup(void)
{
	reg_setup();
	strcpy(dir, "/tmp/sighost-schema-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/db.sqlite3", dir);
	database = NULL;
	db = NULL;
}

static void teardown(void)
{
	sh_database_close(database);
	reg_teardown();
	char *files[] = { "db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm" };
	for (size_t i = 0; i < N(files); i++) {
		char p[96];
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

TestSuite(schema, .init = setup, .fini = teardown);

/* Prepares the registry, opens the database and the thread's connection. */
static void open_db(void)
{
	int rc = sh_models_prepare(models);
	cr_assert_eq(rc, 0, "prepare: %s\n%s", sh_error_last()->message, problems);
	cr_assert_eq(sh_database_open(&database, path, models), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_database_connection(&db, database), 0, "%s", sh_error_last()->message);
}

static void syncdb_ok(void)
{
	int rc = sh_database_syncdb(db);
	cr_assert_eq(rc, 0, "syncdb: %s", sh_error_last()->message);
}

/* The SQL sqlite_master keeps for `name`, "" when there is none. */
static const char *master_sql(const char *name)
{
	static char text[4096];
	sqlite3_stmt *stmt;
	cr_assert_eq(sqlite3_prepare_v2(sh_conn_sqlite(db),
		"SELECT sql FROM sqlite_master WHERE name = ?1", -1, &stmt, NULL), SQLITE_OK);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	text[0] = '\0';
	if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != NULL)
		snprintf(text, sizeof text, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	return text;
}

/* Every CREATE INDEX on `table`, in creation order, one per line. */
static const char *indexes_of(const char *table)
{
	static char text[4096];
	sqlite3_stmt *stmt;
	cr_assert_eq(sqlite3_prepare_v2(sh_conn_sqlite(db), "SELECT sql FROM sqlite_master WHERE "
		"type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL ORDER BY rowid", -1, &stmt,
		NULL), SQLITE_OK);
	sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
	text[0] = '\0';
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		size_t used = strlen(text);
		snprintf(text + used, sizeof text - used, "%s\n", (const char *)sqlite3_column_text(stmt, 0));
	}
	sqlite3_finalize(stmt);
	return text;
}

static int exec(const char *sql)
{
	return sqlite3_exec(sh_conn_sqlite(db), sql, NULL, NULL, NULL);
}

/* FNV-1a over the table and columns: the digest in index names. */
static unsigned digest(const char *const *parts, size_t count)
{
	unsigned h = 2166136261u;
	for (size_t i = 0; i < count; i++)
		for (const char *c = parts[i]; *c != '\0'; c++) {
			h ^= (unsigned char)*c;
			h *= 16777619u;
		}
	return h;
}

Test(schema, every_field_type_has_djangos_sqlite_column_type)
{
	sh_field_decl f[] = {
		fd("count", SH_FIELD_INTEGER), fd("big", SH_FIELD_BIG_INTEGER),
		fd("ratio", SH_FIELD_REAL), fd("title", SH_FIELD_TEXT), fd("body", SH_FIELD_TEXT),
		fd("done", SH_FIELD_BOOLEAN), fd("day", SH_FIELD_DATE), fd("at", SH_FIELD_DATETIME),
		fd("data", SH_FIELD_JSON),
	};
	f[3].max_length = 200;
	declare_ok("kinds", "Every", f, N(f));
	open_db();
	syncdb_ok();
	cr_assert_str_eq(master_sql("kinds_every"), "CREATE TABLE \"kinds_every\" ("
		"\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "
		"\"count\" integer NOT NULL, "
		"\"big\" bigint NOT NULL, "
		"\"ratio\" real NOT NULL, "
		"\"title\" varchar(200) NOT NULL, "
		"\"body\" text NOT NULL, "
		"\"done\" bool NOT NULL, "
		"\"day\" date NOT NULL, "
		"\"at\" datetime NOT NULL, "
		"\"data\" text NOT NULL CHECK ((JSON_VALID(\"data\") OR \"data\" IS NULL)))");
	cr_assert_str_eq(indexes_of("kinds_every"), "", "nothing asks for an index");
}

Test(schema, null_unique_and_a_declared_primary_key)
{
	sh_field_decl f[] = { fd("code", SH_FIELD_INTEGER), fd("email", SH_FIELD_TEXT),
		fd("nick", SH_FIELD_TEXT), fd("data", SH_FIELD_JSON) };
	f[0].primary_key = true;
	f[1].max_length = 254;
	f[1].unique = true;
	f[2].null = true;
	f[3].null = true;
	f[3].unique = true;
	declare_ok("people", "Person", f, N(f));
	open_db();
	syncdb_ok();
	cr_assert_str_eq(master_sql("people_person"), "CREATE TABLE \"people_person\" ("
		"\"code\" integer NOT NULL PRIMARY KEY, "
		"\"email\" varchar(254) NOT NULL UNIQUE, "
		"\"nick\" text NULL, "
		"\"data\" text NULL UNIQUE CHECK ((JSON_VALID(\"data\") OR \"data\" IS NULL)))");
}

Test(schema, defaults_stay_out_of_the_ddl_as_in_django)
{
	sh_field_decl f[] = { fd("state", SH_FIELD_TEXT) };
	f[0].has_default = true;
	f[0].default_value = sh_datum_text("draft");
	declare_ok("docs", "Doc", f, N(f));
	open_db();
	syncdb_ok();
	cr_assert_str_eq(master_sql("docs_doc"), "CREATE TABLE \"docs_doc\" (\"id\" integer NOT "
		"NULL PRIMARY KEY AUTOINCREMENT, \"state\" text NOT NULL)");
}

Test(schema, a_foreign_key_is_inline_deferred_and_indexed)
{
	sh_field_decl owner[] = { fd("name", SH_FIELD_TEXT) };
	sh_field_decl alert[] = { fd("content", SH_FIELD_TEXT), fk("owner", "Owner") };
	alert[0].max_length = 200;
	alert[1].null = true;
	declare_ok("alert", "Alert", alert, N(alert));
	declare_ok("alert", "Owner", owner, N(owner));
	open_db();
	syncdb_ok();
	cr_assert_str_eq(master_sql("alert_alert"), "CREATE TABLE \"alert_alert\" ("
		"\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "
		"\"content\" varchar(200) NOT NULL, "
		"\"owner_id\" bigint NULL REFERENCES \"alert_owner\" (\"id\") DEFERRABLE INITIALLY "
		"DEFERRED)");
	const char *parts[] = { "alert_alert", "owner_id" };
	char expected[256];
	snprintf(expected, sizeof expected, "CREATE INDEX \"alert_alert_owner_id_%08x\" ON "
		"\"alert_alert\" (\"owner_id\")\n", digest(parts, 2));
	cr_assert_str_eq(indexes_of("alert_alert"), expected);
	cr_assert_str_neq(master_sql("alert_owner"), "", "the target's table too");
}

Test(schema, a_key_takes_the_type_of_the_target_primary_key)
{
	sh_field_decl item[] = { fd("sku", SH_FIELD_INTEGER) };
	item[0].primary_key = true;
	sh_field_decl line[] = { fk("item", "Item") };
	line[0].unique = true;
	line[0].on_delete = SH_ON_DELETE_PROTECT;
	declare_ok("shop", "Item", item, N(item));
	declare_ok("shop", "Line", line, N(line));
	open_db();
	syncdb_ok();
	cr_assert_str_eq(master_sql("shop_line"), "CREATE TABLE \"shop_line\" ("
		"\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "
		"\"item_id\" integer NOT NULL UNIQUE REFERENCES \"shop_item\" (\"sku\") DEFERRABLE "
		"INITIALLY DEFERRED)");
	cr_assert_str_eq(indexes_of("shop_line"), "", "a unique key needs no other index");
}

Test(schema, db_index_makes_an_index_in_field_order)
{
	sh_field_decl f[] = { fd("b", SH_FIELD_INTEGER), fd("a", SH_FIELD_TEXT),
		fd("c", SH_FIELD_TEXT) };
	f[0].db_index = true;
	f[1].db_index = true;
	f[2].db_index = true;
	f[2].unique = true;
	declare_ok("idx", "M", f, N(f));
	open_db();
	syncdb_ok();
	const char *b[] = { "idx_m", "b" }, *a[] = { "idx_m", "a" };
	char expected[512];
	snprintf(expected, sizeof expected,
		"CREATE INDEX \"idx_m_b_%08x\" ON \"idx_m\" (\"b\")\n"
		"CREATE INDEX \"idx_m_a_%08x\" ON \"idx_m\" (\"a\")\n", digest(b, 2), digest(a, 2));
	cr_assert_str_eq(indexes_of("idx_m"), expected);
}

Test(schema, a_join_table_has_two_keys_and_a_unique_pair)
{
	sh_field_decl tag[] = { fd("name", SH_FIELD_TEXT) };
	sh_field_decl alert[] = { m2m("tags", "Tag") };
	tag[0].unique = true;
	declare_ok("alert", "Alert", alert, N(alert));
	declare_ok("alert", "Tag", tag, N(tag));
	open_db();
	syncdb_ok();
	cr_assert_str_eq(master_sql("alert_alert"), "CREATE TABLE \"alert_alert\" (\"id\" integer "
		"NOT NULL PRIMARY KEY AUTOINCREMENT)", "a many-to-many field has no column");
	cr_assert_str_eq(master_sql("alert_alert_tags"), "CREATE TABLE \"alert_alert_tags\" ("
		"\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "
		"\"alert_id\" bigint NOT NULL REFERENCES \"alert_alert\" (\"id\") DEFERRABLE INITIALLY "
		"DEFERRED, "
		"\"tag_id\" bigint NOT NULL REFERENCES \"alert_tag\" (\"id\") DEFERRABLE INITIALLY "
		"DEFERRED)");
	const char *pair[] = { "alert_alert_tags", "alert_id", "tag_id" };
	const char *from[] = { "alert_alert_tags", "alert_id" };
	const char *to[] = { "alert_alert_tags", "tag_id" };
	char expected[1024];
	snprintf(expected, sizeof expected,
		"CREATE UNIQUE INDEX \"alert_alert_tags_alert_id_tag_id_%08x_uniq\" ON "
		"\"alert_alert_tags\" (\"alert_id\", \"tag_id\")\n"
		"CREATE INDEX \"alert_alert_tags_alert_id_%08x\" ON \"alert_alert_tags\" (\"alert_id\")\n"
		"CREATE INDEX \"alert_alert_tags_tag_id_%08x\" ON \"alert_alert_tags\" (\"tag_id\")\n",
		digest(pair, 3), digest(from, 2), digest(to, 2));
	cr_assert_str_eq(indexes_of("alert_alert_tags"), expected);
	cr_assert_eq(exec("INSERT INTO alert_alert (id) VALUES (1); "
		"INSERT INTO alert_tag (id, name) VALUES (1, 'x'); "
		"INSERT INTO alert_alert_tags (alert_id, tag_id) VALUES (1, 1)"), SQLITE_OK);
	cr_assert_eq(exec("INSERT INTO alert_alert_tags (alert_id, tag_id) VALUES (1, 1)") & 0xff,
		SQLITE_CONSTRAINT, "the pair is unique");
}

Test(schema, a_second_syncdb_leaves_existing_tables_alone)
{
	sh_field_decl tag[] = { fd("name", SH_FIELD_TEXT) };
	declare_ok("alert", "Tag", tag, N(tag));
	declare_ok("alert", "Owner", tag, N(tag));
	open_db();
	cr_assert_eq(exec("CREATE TABLE alert_owner (id integer PRIMARY KEY, legacy text)"),
		SQLITE_OK);
	syncdb_ok();
	cr_assert_str_eq(master_sql("alert_owner"),
		"CREATE TABLE alert_owner (id integer PRIMARY KEY, legacy text)");
	cr_assert_eq(exec("INSERT INTO alert_tag (name) VALUES ('kept')"), SQLITE_OK);
	syncdb_ok();
	sqlite3_stmt *stmt;
	cr_assert_eq(sqlite3_prepare_v2(sh_conn_sqlite(db), "SELECT count(*) FROM alert_tag", -1,
		&stmt, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW);
	cr_assert_eq(sqlite3_column_int(stmt, 0), 1, "the rows are kept");
	sqlite3_finalize(stmt);
	cr_assert_eq(sh_atomic_depth(db), 0, "the atomic block is closed");
}

Test(schema, a_failure_names_the_table_and_creates_nothing)
{
	declare_ok("app", "First", NULL, 0);
	declare_ok("app", "Second", NULL, 0);
	open_db();
	cr_assert_eq(exec("CREATE VIEW app_second AS SELECT 1 AS id"), SQLITE_OK);
	cr_assert_eq(sh_database_syncdb(db), SH_EDB);
	const char *message = sh_error_last()->message;
	cr_assert_not_null(strstr(message, "cannot create table \"app_second\" of app.Second: "),
		"%s", message);
	cr_assert_not_null(strstr(message, "already exists"), "SQLite's reason: %s", message);
	cr_assert_str_eq(master_sql("app_first"), "", "rolled back");
	cr_assert_eq(sh_atomic_depth(db), 0);
}

Test(schema, syncdb_needs_a_connection)
{
	cr_assert_eq(sh_database_syncdb(NULL), SH_EINVAL);
}
