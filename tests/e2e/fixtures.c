/*
 * fixtures.c: `sighost dumpdata` and `sighost loaddata` end to end, on a
 * scratch project with the bundled audit plugin recording every signal:
 * Django's JSON fixture format both ways, loaddata's raw saves and their
 * order (Django's loaddata: Model(**data), save_base(raw=True), then each
 * many-to-many set()), one transaction (a bad fixture changes nothing and
 * names the object and field), keys checked at the end.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"

TestSuite(fixtures, .init = e2e_setup, .fini = e2e_cleanup);

static const char shop[] =
	"label: shop\n"
	"models:\n"
	"  Owner:\n"
	"    fields:\n"
	"      name: {type: text, max_length: 10}\n"
	"  Tag:\n"
	"    fields:\n"
	"      name: {type: text}\n"
	"  Item:\n"
	"    fields:\n"
	"      name: {type: text}\n"
	"      owner: {type: foreign_key, to: Owner, on_delete: cascade, null: true}\n"
	"      price: {type: real, default: 0}\n"
	"      meta: {type: json, null: true}\n"
	"      tags: {type: many_to_many, to: Tag}\n";

/* The item names a later owner and later tags: loading must allow it. */
static const char fixture[] =
	"[{\"model\": \"shop.item\", \"pk\": 1, \"fields\": {\"name\": \"lamp\", \"owner\": 2, "
	"\"price\": 9.5, \"meta\": {\"a\": [1, 2]}, \"tags\": [1, 2]}},\n"
	" {\"model\": \"shop.owner\", \"pk\": 2, \"fields\": {\"name\": \"ann\"}},\n"
	" {\"model\": \"shop.tag\", \"pk\": 1, \"fields\": {\"name\": \"t1\"}},\n"
	" {\"model\": \"shop.tag\", \"pk\": 2, \"fields\": {\"name\": \"t2\"}}]\n";

/* dumpdata's output for it: registry order, rows by pk, one line. */
static const char dumped[] =
	"[{\"model\": \"shop.owner\", \"pk\": 2, \"fields\": {\"name\": \"ann\"}}, "
	"{\"model\": \"shop.tag\", \"pk\": 1, \"fields\": {\"name\": \"t1\"}}, "
	"{\"model\": \"shop.tag\", \"pk\": 2, \"fields\": {\"name\": \"t2\"}}, "
	"{\"model\": \"shop.item\", \"pk\": 1, \"fields\": {\"name\": \"lamp\", \"owner\": 2, "
	"\"price\": 9.5, \"meta\": {\"a\": [1, 2]}, \"tags\": [1, 2]}}]\n";

#define RUN(...) E2E_RUN(__VA_ARGS__, "--settings", "project.yaml")

static void setup_project(void)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: shop\nplugin_dirs: [%s, plugins]\n"
		"installed_apps: [audit, shop]\nsettings:\n  audit: {path: audit.jsonl}\n",
		t_env("SIGHOST_PLUGIN_DIR")), 0);
	e2e_project(text);
	free(text);
	e2e_manifest("shop.yaml", shop);
	t_run r = RUN("migrate");
	cr_assert_eq(r.status, 0, "migrate: %s", r.err);
	t_run_free(&r);
}

static void write_file(const char *name, const char *text)
{
	free(t_write(e2e_dir, name, text));
}

static char *dump(void)
{
	t_run r = RUN("dumpdata");
	cr_assert_eq(r.status, 0, "dumpdata: %s", r.err);
	char *out = r.out;
	r.out = NULL;
	t_run_free(&r);
	return out;
}

/* The audit lines of model signals, "signal sender args" without times. */
static char *audit_signals(void)
{
	char *path = t_path(e2e_dir, "audit.jsonl");
	char *text = t_read(path);
	free(path);
	size_t cap = strlen(text) + 1, o = 0;
	char *out = calloc(1, cap);
	cr_assert_not_null(out);
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		char *sig = strstr(line, "\"signal\":");
		if (sig == NULL || strstr(line, "migrate") != NULL
			|| strstr(line, "connection_created") != NULL)
			continue;
		o += (size_t)snprintf(out + o, cap - o, "%s\n", sig);
	}
	free(text);
	return out;
}

Test(fixtures, loaddata_then_dumpdata_is_djangos_format)
{
	setup_project();
	write_file("f.json", fixture);
	t_run r = RUN("loaddata", "f.json");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "Installed 4 object(s) from 1 fixture(s)\n");
	t_run_free(&r);
	char *out = dump();
	cr_assert_str_eq(out, dumped);
	/* the dump loads back into an empty database and dumps the same */
	write_file("again.json", out);
	char *db = t_path(e2e_dir, "db.sqlite3");
	cr_assert_eq(remove(db), 0);
	free(db);
	r = RUN("migrate");
	t_run_free(&r);
	r = RUN("loaddata", "again.json");
	cr_assert_eq(r.status, 0, "%s", r.err);
	t_run_free(&r);
	char *again = dump();
	cr_assert_str_eq(again, dumped);
	free(again);
	free(out);
}

Test(fixtures, loaddata_sends_raw_saves_in_djangos_order)
{
	setup_project();
	write_file("f.json", fixture);
	t_run r = RUN("loaddata", "f.json");
	cr_assert_eq(r.status, 0, "%s", r.err);
	t_run_free(&r);
	char *seen = audit_signals();
	cr_assert_str_eq(seen,
		"\"signal\":\"pre_init\",\"sender\":\"shop.Item\",\"args\":{\"args\":[],\"kwargs\":"
		"{\"id\":1,\"name\":\"lamp\",\"owner_id\":2,\"price\":9.5,\"meta\":\"{\\\"a\\\":[1,2]}\"}}}\n"
		"\"signal\":\"post_init\",\"sender\":\"shop.Item\",\"args\":{}}\n"
		"\"signal\":\"pre_save\",\"sender\":\"shop.Item\",\"args\":{\"raw\":true,\"using\":"
		"\"default\",\"update_fields\":null}}\n"
		"\"signal\":\"post_save\",\"sender\":\"shop.Item\",\"args\":{\"created\":true,\"raw\":"
		"true,\"using\":\"default\",\"update_fields\":null}}\n"
		"\"signal\":\"m2m_changed\",\"sender\":\"shop.Item_tags\",\"args\":{\"action\":"
		"\"pre_add\",\"reverse\":false,\"pk_set\":[1,2],\"using\":\"default\"}}\n"
		"\"signal\":\"m2m_changed\",\"sender\":\"shop.Item_tags\",\"args\":{\"action\":"
		"\"post_add\",\"reverse\":false,\"pk_set\":[1,2],\"using\":\"default\"}}\n"
		"\"signal\":\"pre_init\",\"sender\":\"shop.Owner\",\"args\":{\"args\":[],\"kwargs\":"
		"{\"id\":2,\"name\":\"ann\"}}}\n"
		"\"signal\":\"post_init\",\"sender\":\"shop.Owner\",\"args\":{}}\n"
		"\"signal\":\"pre_save\",\"sender\":\"shop.Owner\",\"args\":{\"raw\":true,\"using\":"
		"\"default\",\"update_fields\":null}}\n"
		"\"signal\":\"post_save\",\"sender\":\"shop.Owner\",\"args\":{\"created\":true,\"raw\":"
		"true,\"using\":\"default\",\"update_fields\":null}}\n"
		"\"signal\":\"pre_init\",\"sender\":\"shop.Tag\",\"args\":{\"args\":[],\"kwargs\":"
		"{\"id\":1,\"name\":\"t1\"}}}\n"
		"\"signal\":\"post_init\",\"sender\":\"shop.Tag\",\"args\":{}}\n"
		"\"signal\":\"pre_save\",\"sender\":\"shop.Tag\",\"args\":{\"raw\":true,\"using\":"
		"\"default\",\"update_fields\":null}}\n"
		"\"signal\":\"post_save\",\"sender\":\"shop.Tag\",\"args\":{\"created\":true,\"raw\":"
		"true,\"using\":\"default\",\"update_fields\":null}}\n"
		"\"signal\":\"pre_init\",\"sender\":\"shop.Tag\",\"args\":{\"args\":[],\"kwargs\":"
		"{\"id\":2,\"name\":\"t2\"}}}\n"
		"\"signal\":\"post_init\",\"sender\":\"shop.Tag\",\"args\":{}}\n"
		"\"signal\":\"pre_save\",\"sender\":\"shop.Tag\",\"args\":{\"raw\":true,\"using\":"
		"\"default\",\"update_fields\":null}}\n"
		"\"signal\":\"post_save\",\"sender\":\"shop.Tag\",\"args\":{\"created\":true,\"raw\":"
		"true,\"using\":\"default\",\"update_fields\":null}}\n");
	free(seen);
}

Test(fixtures, loading_rows_that_exist_updates_them_with_created_false)
{
	setup_project();
	write_file("f.json", fixture);
	t_run r = RUN("loaddata", "f.json");
	t_run_free(&r);
	write_file("g.json", "[{\"model\": \"shop.owner\", \"pk\": 2, \"fields\": {\"name\": \"bo\"}}]");
	char *path = t_path(e2e_dir, "audit.jsonl");
	cr_assert_eq(remove(path), 0);
	r = RUN("loaddata", "g.json");
	cr_assert_eq(r.status, 0, "%s", r.err);
	t_run_free(&r);
	char *seen = audit_signals();
	e2e_has(seen, "\"signal\":\"post_save\",\"sender\":\"shop.Owner\",\"args\":{\"created\":"
		"false,\"raw\":true");
	free(seen);
	free(path);
	char *out = dump();
	e2e_has(out, "{\"model\": \"shop.owner\", \"pk\": 2, \"fields\": {\"name\": \"bo\"}}");
	free(out);
}

/* Loads `text`, expects exit 1 with `message` and an unchanged database. */
static void refused(const char *text, const char *message)
{
	setup_project();
	write_file("bad.json", text);
	t_run r = RUN("loaddata", "bad.json");
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert_str_eq(r.out, "");
	e2e_has(r.err, message);
	e2e_has(r.err, "nothing was loaded\n");
	t_run_free(&r);
	char *out = dump();
	cr_assert_str_eq(out, "[]\n", "a bad fixture changes nothing");
	free(out);
}

Test(fixtures, a_bad_value_names_the_object_and_field_and_loads_nothing)
{
	refused("[{\"model\": \"shop.tag\", \"pk\": 1, \"fields\": {\"name\": \"t1\"}},\n"
		" {\"model\": \"shop.owner\", \"pk\": 5, \"fields\": {\"name\": \"far too long a name\"}}]",
		"sighost loaddata: bad.json: object 2 (shop.owner pk=5): field 'name': shop.Owner.name: "
		"the text has 19 characters, more than max_length 10\n");
}

Test(fixtures, a_wrong_type_names_the_field)
{
	refused("[{\"model\": \"shop.item\", \"pk\": 3, \"fields\": {\"name\": \"x\", \"price\": "
		"\"cheap\"}}]",
		"bad.json: object 1 (shop.item pk=3): field 'price': shop.Item.price: a FloatField "
		"takes a real or an integer, not text\n");
}

Test(fixtures, an_unknown_field_or_model_is_named)
{
	refused("[{\"model\": \"shop.owner\", \"pk\": 1, \"fields\": {\"nmae\": \"x\"}}]",
		"bad.json: object 1 (shop.owner pk=1): shop.Owner has no field named 'nmae'\n");
	refused("[{\"model\": \"shop.ownr\", \"pk\": 1, \"fields\": {}}]",
		"bad.json: object 1 (shop.ownr pk=1): no installed app declares this model\n");
}

Test(fixtures, a_key_to_no_row_is_found_after_loading_and_undoes_everything)
{
	refused("[{\"model\": \"shop.tag\", \"pk\": 1, \"fields\": {\"name\": \"t1\"}},\n"
		" {\"model\": \"shop.item\", \"pk\": 4, \"fields\": {\"name\": \"x\", \"owner\": 9}}]",
		"sighost loaddata: shop.Item pk=4: field 'owner' points at no row of shop.Owner\n");
}

Test(fixtures, malformed_json_is_reported_with_its_position)
{
	refused("[{\"model\": \"shop.tag\",\n  \"pk\": 1 \"fields\": {}}]",
		"sighost loaddata: bad.json:2:18: '}' expected near '\"fields\"'\n");
}

Test(fixtures, usage_errors_exit_2_and_unknown_apps_exit_1)
{
	setup_project();
	t_run r = RUN("loaddata");
	cr_assert_eq(r.status, 2, "%s", r.err);
	t_run_free(&r);
	r = RUN("dumpdata", "--indent", "x");
	cr_assert_eq(r.status, 2, "%s", r.err);
	t_run_free(&r);
	r = RUN("dumpdata", "nope");
	cr_assert_eq(r.status, 1, "%s", r.err);
	e2e_has(r.err, "sighost dumpdata: no installed app with label 'nope'\n");
	t_run_free(&r);
	r = RUN("dumpdata", "shop.Nope");
	cr_assert_eq(r.status, 1, "%s", r.err);
	e2e_has(r.err, "sighost dumpdata: unknown model 'shop.Nope'\n");
	t_run_free(&r);
}

Test(fixtures, dumpdata_of_one_model_with_an_indent_to_a_file)
{
	setup_project();
	write_file("f.json", fixture);
	t_run r = RUN("loaddata", "f.json");
	t_run_free(&r);
	r = RUN("dumpdata", "shop.Tag", "--indent", "2", "-o", "tags.json");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "");
	t_run_free(&r);
	char *path = t_path(e2e_dir, "tags.json");
	char *text = t_read(path);
	cr_assert_str_eq(text,
		"[\n"
		"  {\n"
		"    \"model\": \"shop.tag\",\n"
		"    \"pk\": 1,\n"
		"    \"fields\": {\n"
		"      \"name\": \"t1\"\n"
		"    }\n"
		"  },\n"
		"  {\n"
		"    \"model\": \"shop.tag\",\n"
		"    \"pk\": 2,\n"
		"    \"fields\": {\n"
		"      \"name\": \"t2\"\n"
		"    }\n"
		"  }\n"
		"]\n");
	free(text);
	free(path);
}
