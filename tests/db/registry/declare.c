/*
 * declare.c: sh_models_declare(): what a declared model looks like (the
 * automatic id, columns, Django's defaults) and every check of a model
 * alone, each reported with its position, the model and the field; a bad
 * declaration declares nothing.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "support.h"

TestSuite(declare, .init = reg_setup, .fini = reg_teardown);

/* Declares app.Bad with `fields`, expecting `code` and a problem holding
 * `needle`; nothing may be declared. */
static void refused(int code, const sh_field_decl *fields, size_t count, const char *needle)
{
	size_t before = sh_models_count(models);
	int rc = sh_models_declare(models, "app", "Bad", fields, count, "models.yaml:1:1");
	cr_assert_eq(rc, code, "got %s: %s", sh_error_name(rc), sh_error_last()->message);
	assert_problem(needle);
	cr_assert_eq(sh_models_count(models), before, "nothing is declared");
}

Test(declare, a_model_gets_an_automatic_id_first)
{
	sh_field_decl f[] = { fd("content", SH_FIELD_TEXT) };
	f[0].max_length = 200;
	declare_ok("alert", "Alert", f, N(f));
	const sh_model *m = model("alert.Alert");
	cr_assert_str_eq(sh_model_label(m), "alert.Alert");
	cr_assert_str_eq(sh_model_app_label(m), "alert");
	cr_assert_str_eq(sh_model_name(m), "Alert");
	cr_assert_str_eq(sh_model_table(m), "alert_alert");
	cr_assert_str_eq(sh_sender_name(sh_model_sender(m)), "alert.Alert");
	cr_assert_not(sh_model_auto_created(m));
	cr_assert_eq(sh_model_field_count(m), 2);
	const sh_field *id = sh_model_field_at(m, 0);
	cr_assert_str_eq(sh_field_name(id), "id");
	cr_assert_eq(sh_field_type_of(id), SH_FIELD_AUTO);
	cr_assert(sh_field_primary_key(id));
	cr_assert(sh_field_unique(id), "a primary key is unique, as in Django");
	cr_assert_eq(sh_model_pk(m), id);
	const sh_field *content = sh_model_field_at(m, 1);
	cr_assert_str_eq(sh_field_column(content), "content");
	cr_assert_eq(sh_field_max_length(content), 200);
	cr_assert_null(sh_model_field_at(m, 2));
	cr_assert_eq(sh_models_count(models), 1);
	cr_assert_eq(sh_models_at(models, 0), m);
	cr_assert_null(sh_models_at(models, 1));
	cr_assert_eq(problem_count, 0);
}

Test(declare, the_sender_is_the_one_a_receiver_interned_by_name_before)
{
	const sh_sender *early = NULL;
	cr_assert_eq(sh_sender_intern(&early, hub, "alert.Alert"), 0);
	declare_ok("alert", "Alert", NULL, 0);
	cr_assert_eq(sh_model_sender(model("alert.Alert")), early);
}

Test(declare, a_declared_primary_key_replaces_the_automatic_id)
{
	sh_field_decl f[] = { fd("name", SH_FIELD_TEXT), fd("code", SH_FIELD_BIG_INTEGER) };
	f[1].primary_key = true;
	declare_ok("shop", "Item", f, N(f));
	const sh_model *m = model("shop.Item");
	cr_assert_eq(sh_model_field_count(m), 2);
	cr_assert_str_eq(sh_field_name(sh_model_pk(m)), "code");
	cr_assert_eq(sh_model_pk(m), sh_model_field_at(m, 1), "declaration order is kept");
	cr_assert_null(sh_model_field(m, "id"));
}

Test(declare, a_foreign_key_has_an_id_column_and_answers_to_both_names)
{
	sh_field_decl f[] = { fk("owner", "Owner"), m2m("tags", "Tag") };
	f[0].null = true;
	f[0].on_delete = SH_ON_DELETE_SET_NULL;
	declare_ok("alert", "Alert", f, N(f));
	const sh_model *m = model("alert.Alert");
	const sh_field *owner = sh_model_field(m, "owner");
	cr_assert_not_null(owner);
	cr_assert_str_eq(sh_field_column(owner), "owner_id");
	cr_assert_eq(sh_model_field(m, "owner_id"), owner);
	cr_assert_eq(sh_field_on_delete(owner), SH_ON_DELETE_SET_NULL);
	cr_assert(sh_field_null(owner));
	cr_assert_str_eq(sh_field_related_name(owner), "alert_set", "Django's default");
	const sh_field *tags = sh_model_field(m, "tags");
	cr_assert_null(sh_field_column(tags), "a many-to-many field has no column");
	cr_assert_null(sh_model_field(m, "tags_id"));
	cr_assert_null(sh_field_target(owner), "targets are resolved by prepare");
	cr_assert_null(sh_model_field(m, "nothing"));
}

Test(declare, an_explicit_related_name_is_kept)
{
	sh_field_decl f[] = { m2m("tags", "Tag") };
	f[0].related_name = "alerts";
	declare_ok("alert", "Alert", f, N(f));
	cr_assert_str_eq(sh_field_related_name(sh_model_field(model("alert.Alert"), "tags")),
		"alerts");
}

Test(declare, names_are_checked)
{
	sh_field_decl none[] = { fd("x", SH_FIELD_INTEGER) };
	cr_assert_eq(sh_models_declare(models, "bad-label", "M", none, 1, "m.yaml:1:1"),
		SH_EMANIFEST);
	assert_problem("m.yaml:1:1: app label 'bad-label' is not valid");
	cr_assert_eq(sh_models_declare(models, "app", "2Fast", none, 1, "m.yaml:2:1"),
		SH_EMANIFEST);
	assert_problem("m.yaml:2:1: '2Fast' is not a valid model name (in app 'app')");

	sh_field_decl bad[] = { fd("not valid", SH_FIELD_INTEGER) };
	refused(SH_EMANIFEST, bad, 1, "app.Bad.not valid: 'not valid' is not a valid field name");
	sh_field_decl trailing[] = { fd("name_", SH_FIELD_INTEGER) };
	refused(SH_EMANIFEST, trailing, 1, "app.Bad.name_: field names must not end with '_'");
	sh_field_decl dunder[] = { fd("a__b", SH_FIELD_INTEGER) };
	refused(SH_EMANIFEST, dunder, 1, "app.Bad.a__b: field names must not contain '__'");
	sh_field_decl pk[] = { fd("pk", SH_FIELD_INTEGER) };
	refused(SH_EMANIFEST, pk, 1, "app.Bad.pk: 'pk' is reserved");
	sh_field_decl key_id[] = { fk("owner_id", "Owner") };
	refused(SH_EMANIFEST, key_id, 1, "app.Bad.owner_id: a foreign key is named without '_id' "
		"(its column is 'owner_id_id'); call it 'owner'");
	sh_field_decl unnamed[] = { fd(NULL, SH_FIELD_INTEGER) };
	refused(SH_EMANIFEST, unnamed, 1, "models.yaml:1:1: app.Bad: a field has no name");
}

Test(declare, the_problem_names_the_where_of_the_field)
{
	sh_field_decl f[] = { fd("ok", SH_FIELD_INTEGER), fd("n", SH_FIELD_INTEGER) };
	f[1].where = "plugins/alert.yaml:7:9";
	f[1].max_length = 3;
	refused(SH_EMANIFEST, f, N(f), "plugins/alert.yaml:7:9: app.Bad.n: 'max_length' is only "
		"for text fields, not integer");
	cr_assert_str_eq(sh_error_last()->message, "plugins/alert.yaml:7:9: app.Bad.n: "
		"'max_length' is only for text fields, not integer");
}

Test(declare, a_model_declared_twice_exists_already)
{
	declare_ok("shop", "Tag", NULL, 0);
	cr_assert_eq(sh_models_declare(models, "shop", "Tag", NULL, 0, "b.yaml:4:3"), SH_EEXISTS);
	assert_problem("[SH_EEXISTS] b.yaml:4:3: model shop.Tag is declared twice (first at "
		"models.yaml:1:1)");
	cr_assert_eq(sh_models_declare(models, "shop", "TAG", NULL, 0, "b.yaml:5:3"), SH_EEXISTS);
	assert_problem("model shop.TAG clashes with shop.Tag (declared at models.yaml:1:1): "
		"model names are compared without regard to case");
	declare_ok("other", "Tag", NULL, 0);
	cr_assert_eq(sh_models_count(models), 2);
}

Test(declare, duplicate_fields_and_columns)
{
	sh_field_decl twice[] = { fd("name", SH_FIELD_TEXT), fd("Name", SH_FIELD_TEXT) };
	refused(SH_EMANIFEST, twice, N(twice), "app.Bad.Name: field 'name' is declared twice "
		"(first at models.yaml:");
	sh_field_decl column[] = { fk("owner", "Owner"), fd("owner_id", SH_FIELD_INTEGER) };
	refused(SH_EMANIFEST, column, N(column), "app.Bad.owner_id: clashes with field 'owner': "
		"both would use the name or column 'owner_id'");
}

Test(declare, one_primary_key_of_an_integer_type)
{
	sh_field_decl two[] = { fd("a", SH_FIELD_INTEGER), fd("b", SH_FIELD_INTEGER) };
	two[0].primary_key = two[1].primary_key = true;
	refused(SH_EMANIFEST, two, N(two), "app.Bad.b: a second primary key (the model's primary "
		"key is 'a')");
	sh_field_decl text[] = { fd("code", SH_FIELD_TEXT) };
	text[0].primary_key = true;
	refused(SH_EMANIFEST, text, 1, "app.Bad.code: a primary key must be auto, integer or "
		"big_integer");
	sh_field_decl null[] = { fd("code", SH_FIELD_INTEGER) };
	null[0].primary_key = null[0].null = true;
	refused(SH_EMANIFEST, null, 1, "app.Bad.code: a primary key cannot allow null");
	sh_field_decl autofield[] = { fd("serial", SH_FIELD_AUTO) };
	refused(SH_EMANIFEST, autofield, 1, "app.Bad.serial: an auto field must be the primary key");
	sh_field_decl id[] = { fd("id", SH_FIELD_INTEGER) };
	refused(SH_EMANIFEST, id, 1, "app.Bad.id: 'id' names the automatic primary key");
	sh_field_decl own_auto[] = { fd("serial", SH_FIELD_AUTO) };
	own_auto[0].primary_key = true;
	declare_ok("app", "Own", own_auto, 1);
	cr_assert_eq(sh_model_field_count(model("app.Own")), 1);
}

Test(declare, options_must_fit_the_type)
{
	sh_field_decl f[] = { fd("n", SH_FIELD_INTEGER) };
	f[0].auto_now = true;
	refused(SH_EMANIFEST, f, 1, "app.Bad.n: 'auto_now' is only for date and datetime fields, "
		"not integer");
	sh_field_decl both[] = { fd("at", SH_FIELD_DATETIME) };
	both[0].auto_now = both[0].auto_now_add = true;
	refused(SH_EMANIFEST, both, 1, "app.Bad.at: auto_now, auto_now_add and default are "
		"mutually exclusive");
	sh_field_decl negative[] = { fd("t", SH_FIELD_TEXT) };
	negative[0].max_length = -1;
	refused(SH_EMANIFEST, negative, 1, "app.Bad.t: max_length -1 is negative");
	sh_field_decl to[] = { fd("n", SH_FIELD_INTEGER) };
	to[0].to = "app.Other";
	refused(SH_EMANIFEST, to, 1, "app.Bad.n: 'to' is only for foreign_key and many_to_many "
		"fields, not integer");
	sh_field_decl related[] = { fd("n", SH_FIELD_TEXT) };
	related[0].related_name = "bads";
	refused(SH_EMANIFEST, related, 1, "app.Bad.n: 'related_name' is only for foreign_key");
	sh_field_decl on_delete[] = { fd("n", SH_FIELD_TEXT) };
	on_delete[0].on_delete = SH_ON_DELETE_PROTECT;
	refused(SH_EMANIFEST, on_delete, 1, "app.Bad.n: 'on_delete' is only for foreign_key "
		"fields, not text");
	sh_field_decl through[] = { fk("owner", "Owner") };
	through[0].through = "Membership";
	refused(SH_EMANIFEST, through, 1, "app.Bad.owner: 'through' is only for many_to_many "
		"fields, not foreign_key");
	sh_field_decl type[] = { fd("n", (sh_field_type)42) };
	refused(SH_EMANIFEST, type, 1, "app.Bad.n: unknown field type 42");
}

Test(declare, relations_need_a_well_formed_target)
{
	sh_field_decl none[] = { fd("owner", SH_FIELD_FOREIGN_KEY) };
	refused(SH_EMANIFEST, none, 1, "app.Bad.owner: a field of type foreign_key needs 'to'");
	sh_field_decl dots[] = { fk("owner", "a.b.C") };
	refused(SH_EMANIFEST, dots, 1, "app.Bad.owner: 'to' is 'a.b.C': expected "
		"\"app_label.Model\", \"Model\" or \"self\"");
	sh_field_decl through[] = { m2m("tags", "Tag") };
	through[0].through = "no good";
	refused(SH_EMANIFEST, through, 1, "app.Bad.tags: 'through' is 'no good'");
	sh_field_decl related[] = { fk("owner", "Owner") };
	related[0].related_name = "two__parts";
	refused(SH_EMANIFEST, related, 1, "app.Bad.owner: related_name 'two__parts' is not valid");
	sh_field_decl hidden[] = { fk("owner", "Owner") };
	hidden[0].related_name = "+";
	declare_ok("app", "Hidden", hidden, 1);
}

Test(declare, set_null_needs_null)
{
	sh_field_decl f[] = { fk("owner", "Owner") };
	f[0].on_delete = SH_ON_DELETE_SET_NULL;
	refused(SH_EMANIFEST, f, 1, "app.Bad.owner: on_delete is set_null but the field does not "
		"allow null (add null: true)");
	sh_field_decl range[] = { fk("owner", "Owner") };
	range[0].on_delete = (sh_on_delete)9;
	refused(SH_EMANIFEST, range, 1, "app.Bad.owner: on_delete 9 is not one of");
}

Test(declare, many_to_many_takes_no_column_options)
{
	sh_field_decl unique[] = { m2m("tags", "Tag") };
	unique[0].unique = true;
	refused(SH_EMANIFEST, unique, 1, "app.Bad.tags: a many_to_many field cannot be unique");
	sh_field_decl null[] = { m2m("tags", "Tag") };
	null[0].null = true;
	refused(SH_EMANIFEST, null, 1, "app.Bad.tags: 'null' has no effect on a many_to_many field");
	sh_field_decl index[] = { m2m("tags", "Tag") };
	index[0].db_index = true;
	refused(SH_EMANIFEST, index, 1, "app.Bad.tags: 'db_index' has no effect");
	sh_field_decl def[] = { m2m("tags", "Tag") };
	def[0].has_default = true;
	def[0].default_value = sh_datum_int(1);
	refused(SH_EMANIFEST, def, 1, "app.Bad.tags: a field of type many_to_many takes no default");
}

/* Declares app.M with one field of `type` and `value` as default. */
static int with_default(sh_field_type type, sh_datum value, int max_length, bool null)
{
	sh_field_decl f[] = { fd("v", type) };
	f[0].has_default = true;
	f[0].default_value = value;
	f[0].max_length = max_length;
	f[0].null = null;
	if (type == SH_FIELD_FOREIGN_KEY)
		f[0].to = "Other";
	int rc = sh_models_declare(models, "app", "M", f, 1, "m.yaml:1:1");
	if (rc == 0) {
		sh_models_free(models);
		cr_assert_eq(sh_models_new(&models, hub), 0);
	}
	return rc;
}

Test(declare, defaults_have_the_field_type)
{
	cr_assert_eq(with_default(SH_FIELD_INTEGER, sh_datum_int(3), 0, false), 0);
	cr_assert_eq(with_default(SH_FIELD_REAL, sh_datum_int(3), 0, false), 0);
	cr_assert_eq(with_default(SH_FIELD_REAL, sh_datum_real(2.5), 0, false), 0);
	cr_assert_eq(with_default(SH_FIELD_BOOLEAN, sh_datum_bool(true), 0, false), 0);
	cr_assert_eq(with_default(SH_FIELD_TEXT, sh_datum_text("héllo"), 5, false), 0,
		"five characters, six bytes");
	cr_assert_eq(with_default(SH_FIELD_DATE, sh_datum_text("2024-02-29"), 0, false), 0);
	cr_assert_eq(with_default(SH_FIELD_DATETIME, sh_datum_text("2026-11-27T10:00:00.5Z"), 0,
		false), 0);
	cr_assert_eq(with_default(SH_FIELD_JSON, sh_datum_text("{\"a\": [1, 2]}"), 0, false), 0);
	cr_assert_eq(with_default(SH_FIELD_FOREIGN_KEY, sh_datum_int(1), 0, false), 0);
	cr_assert_eq(with_default(SH_FIELD_TEXT, sh_datum_null(), 0, true), 0);
}

Test(declare, a_default_of_the_wrong_type_is_refused)
{
	sh_models_set_reporter(models, NULL, NULL);
	cr_assert_eq(with_default(SH_FIELD_INTEGER, sh_datum_text("3"), 0, false), SH_EMANIFEST);
	cr_assert_str_eq(sh_error_last()->message, "models.yaml:2:5: app.M.v: the default must "
		"be an integer, not text (the field is of type integer)");
	cr_assert_eq(with_default(SH_FIELD_BOOLEAN, sh_datum_int(1), 0, false), SH_EMANIFEST);
	cr_assert_not_null(strstr(sh_error_last()->message, "must be a boolean"));
	cr_assert_eq(with_default(SH_FIELD_REAL, sh_datum_text("x"), 0, false), SH_EMANIFEST);
	cr_assert_not_null(strstr(sh_error_last()->message, "must be a number"));
	cr_assert_eq(with_default(SH_FIELD_TEXT, sh_datum_int(1), 0, false), SH_EMANIFEST);
	cr_assert_eq(with_default(SH_FIELD_TEXT, sh_datum_null(), 0, false), SH_EMANIFEST);
	cr_assert_not_null(strstr(sh_error_last()->message,
		"the default is null but the field does not allow null"));
	cr_assert_eq(with_default(SH_FIELD_TEXT, sh_datum_text("toolong"), 3, false), SH_EMANIFEST);
	cr_assert_not_null(strstr(sh_error_last()->message,
		"the default has 7 characters, more than max_length 3"));
	cr_assert_eq(with_default(SH_FIELD_DATE, sh_datum_text("2023-02-29"), 0, false),
		SH_EMANIFEST);
	cr_assert_not_null(strstr(sh_error_last()->message, "is not a date (YYYY-MM-DD)"));
	cr_assert_eq(with_default(SH_FIELD_DATETIME, sh_datum_text("2026-11-27 10:00:00"), 0,
		false), SH_EMANIFEST);
	cr_assert_not_null(strstr(sh_error_last()->message, "is not a UTC datetime"));
	cr_assert_eq(with_default(SH_FIELD_JSON, sh_datum_text("{oops"), 0, false), SH_EMANIFEST);
	cr_assert_not_null(strstr(sh_error_last()->message, "is not valid JSON"));
	cr_assert_eq(with_default(SH_FIELD_FOREIGN_KEY, sh_datum_text("1"), 0, false),
		SH_EMANIFEST);
}

Test(declare, a_datetime_with_auto_now_takes_no_default)
{
	sh_field_decl f[] = { fd("at", SH_FIELD_DATETIME) };
	f[0].auto_now_add = true;
	f[0].has_default = true;
	f[0].default_value = sh_datum_text("2026-11-27T10:00:00Z");
	refused(SH_EMANIFEST, f, 1, "app.Bad.at: auto_now, auto_now_add and default are mutually "
		"exclusive");
}

Test(declare, a_default_text_is_copied)
{
	char text[] = "draft";
	sh_field_decl f[] = { fd("state", SH_FIELD_TEXT) };
	f[0].has_default = true;
	f[0].default_value = sh_datum_text(text);
	declare_ok("app", "Doc", f, 1);
	strcpy(text, "XXXXX");
	/* The registry keeps its copy: a later prepare and lookup still work,
	 * and the schema test checks the value is not written to SQL. */
	cr_assert_str_eq(sh_field_name(sh_model_field(model("app.Doc"), "state")), "state");
}

Test(declare, every_problem_is_reported_and_the_channel_holds_the_first)
{
	sh_field_decl f[] = { fd("a_", SH_FIELD_INTEGER), fd("b", SH_FIELD_INTEGER),
		fd("c", SH_FIELD_BOOLEAN) };
	f[1].max_length = 4;
	f[2].auto_now = true;
	refused(SH_EMANIFEST, f, N(f), "app.Bad.a_:");
	assert_problem("app.Bad.b: 'max_length'");
	assert_problem("app.Bad.c: 'auto_now'");
	cr_assert_eq(problem_count, 3);
	cr_assert_not_null(strstr(sh_error_last()->message, "app.Bad.a_: field names must not "
		"end with '_'"));
	cr_assert_eq(sh_error_last()->code, SH_EMANIFEST);
}

Test(declare, without_a_reporter_the_first_problem_reaches_the_channel)
{
	sh_models_set_reporter(models, NULL, NULL);
	sh_field_decl f[] = { fd("a", SH_FIELD_INTEGER), fd("b", SH_FIELD_INTEGER) };
	f[0].max_length = 1;
	f[1].max_length = 2;
	cr_assert_eq(sh_models_declare(models, "app", "M", f, N(f), "m.yaml:1:1"), SH_EMANIFEST);
	cr_assert_not_null(strstr(sh_error_last()->message, "app.M.a: 'max_length'"),
		"%s", sh_error_last()->message);
	cr_assert_eq(problem_count, 0);
}

Test(declare, bad_arguments_and_versions)
{
	cr_assert_eq(sh_models_declare(NULL, "a", "M", NULL, 0, NULL), SH_EINVAL);
	cr_assert_eq(sh_models_declare(models, NULL, "M", NULL, 0, NULL), SH_EINVAL);
	cr_assert_eq(sh_models_declare(models, "a", NULL, NULL, 0, NULL), SH_EINVAL);
	cr_assert_eq(sh_models_declare(models, "a", "M", NULL, 1, NULL), SH_EINVAL);
	sh_field_decl f[] = { fd("n", SH_FIELD_INTEGER) };
	f[0].version = 99;
	cr_assert_eq(sh_models_declare(models, "a", "M", f, 1, NULL), SH_EINVAL);
	assert_problem("sh_field_decl version 99 is not 1");
	cr_assert_eq(sh_models_count(models), 0);
	cr_assert_eq(sh_models_new(NULL, hub), SH_EINVAL);
}

Test(declare, nothing_is_declared_after_prepare)
{
	declare_ok("app", "M", NULL, 0);
	cr_assert_eq(sh_models_prepare(models), 0);
	cr_assert_eq(sh_models_declare(models, "app", "Late", NULL, 0, NULL), SH_EINVAL);
	cr_assert_not_null(strstr(sh_error_last()->message, "prepared already"));
	cr_assert_eq(sh_models_count(models), 1);
}

Test(declare, type_names_are_djangos)
{
	cr_assert_str_eq(sh_field_type_name(SH_FIELD_AUTO), "AutoField");
	cr_assert_str_eq(sh_field_type_name(SH_FIELD_BIG_INTEGER), "BigIntegerField");
	cr_assert_str_eq(sh_field_type_name(SH_FIELD_REAL), "FloatField");
	cr_assert_str_eq(sh_field_type_name(SH_FIELD_DATETIME), "DateTimeField");
	cr_assert_str_eq(sh_field_type_name(SH_FIELD_JSON), "JSONField");
	cr_assert_str_eq(sh_field_type_name(SH_FIELD_FOREIGN_KEY), "ForeignKey");
	cr_assert_str_eq(sh_field_type_name(SH_FIELD_MANY_TO_MANY), "ManyToManyField");
	cr_assert_null(sh_field_type_name(SH_FIELD_TYPE_COUNT));
	cr_assert_str_eq(sh_datum_type_name(SH_DATUM_NULL), "null");
	cr_assert_str_eq(sh_datum_type_name(SH_DATUM_INT), "integer");
	cr_assert_str_eq(sh_datum_type_name(SH_DATUM_REAL), "real");
	cr_assert_str_eq(sh_datum_type_name(SH_DATUM_TEXT), "text");
	cr_assert_str_eq(sh_datum_type_name(SH_DATUM_BOOL), "boolean");
}
