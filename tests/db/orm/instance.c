/*
 * instance.c: constructing instances (defaults, pre_init with the given
 * values as kwargs, post_init), typed get/set with conversion and
 * validation naming the model and field, and the accessors.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "support.h"

TestSuite(instance, .init = fx_setup, .fini = fx_teardown);
TestSuite(values, .init = fx_setup, .fini = fx_teardown);

static sh_instance *alert;

static void new_alert(void)
{
	alert = NULL;
	cr_assert_eq(sh_instance_new(&alert, fx.db, M("shop.Alert"), NULL, 0), 0, "%s", last_message());
}

static sh_datum get(const char *name)
{
	sh_datum d;
	cr_assert_eq(sh_instance_get(alert, name, &d), 0, "%s: %s", name, last_message());
	return d;
}

static void expect_invalid(const char *name, sh_datum value, const char *needle)
{
	sh_datum before;
	cr_assert_eq(sh_instance_get(alert, name, &before), 0);
	cr_assert_eq(sh_instance_set(alert, name, value), SH_EINVAL, "%s accepted", name);
	cr_assert(strstr(last_message(), needle) != NULL, "message '%s' lacks '%s'", last_message(), needle);
	cr_assert(strstr(last_message(), "shop.Alert") != NULL, "no model in '%s'", last_message());
	sh_datum after;
	cr_assert_eq(sh_instance_get(alert, name, &after), 0);
	cr_assert_eq(after.type, before.type, "the instance changed");
}

Test(instance, defaults_and_state_of_a_new_instance)
{
	new_alert();
	cr_assert(sh_instance_adding(alert));
	cr_assert_eq(sh_instance_pk(alert), 0);
	cr_assert_eq(sh_instance_model(alert), M("shop.Alert"));
	cr_assert_eq(sh_instance_conn(alert), fx.db);
	cr_assert_eq(get("level").type, SH_DATUM_INT);
	cr_assert_eq(get("level").v.i, 1);
	cr_assert_eq(get("active").type, SH_DATUM_BOOL);
	cr_assert(get("active").v.b);
	cr_assert_eq(get("score").type, SH_DATUM_NULL);
	/* Django: a text field without null defaults to "" */
	cr_assert_eq(get("content").type, SH_DATUM_TEXT);
	cr_assert_str_eq(get("content").v.s, "");
	cr_assert_eq(get("id").type, SH_DATUM_NULL);
	sh_instance_free(alert);
}

Test(instance, construction_sends_pre_init_with_kwargs_then_post_init)
{
	rec_connect();
	sh_field_value v[] = { FV("content", T("hi")), FV("level", I(3)) };
	cr_assert_eq(sh_instance_new(&alert, fx.db, M("shop.Alert"), v, 2), 0);
	cr_assert_str_eq(log_text(),
		"pre_init shop.Alert args=0 kwargs=2\n"
		"post_init shop.Alert shop.Alert:0\n");
	cr_assert_str_eq(get("content").v.s, "hi");
	cr_assert_eq(get("level").v.i, 3);
	sh_instance_free(alert);
}

static const sh_field_value *seen_kwargs;
static size_t seen_count;

static int look_kwargs(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_pre_init_args *a = args;
	seen_kwargs = a->kwargs;
	seen_count = a->kwargs_count;
	return 0;
}

Test(instance, pre_init_kwargs_are_the_values_given)
{
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_PRE_INIT), look_kwargs, NULL,
		NULL), 0);
	sh_field_value v[] = { FV("content", T("x")) };
	cr_assert_eq(sh_instance_new(&alert, fx.db, M("shop.Alert"), v, 1), 0);
	cr_assert_eq(seen_kwargs, v);
	cr_assert_eq(seen_count, 1);
	sh_instance_free(alert);
}

Test(instance, unknown_field_or_bad_value_returns_nothing)
{
	rec_connect();
	sh_field_value v[] = { FV("colour", T("red")) };
	alert = (sh_instance *)0x1;
	cr_assert_eq(sh_instance_new(&alert, fx.db, M("shop.Alert"), v, 1), SH_EINVAL);
	cr_assert_null(alert);
	cr_assert(strstr(last_message(), "colour") != NULL, "%s", last_message());
	/* as Django's __init__: pre_init went out, post_init did not */
	cr_assert_str_eq(log_text(), "pre_init shop.Alert args=0 kwargs=1\n");
	sh_field_value w[] = { FV("level", T("three")) };
	cr_assert_eq(sh_instance_new(&alert, fx.db, M("shop.Alert"), w, 1), SH_EINVAL);
	cr_assert(strstr(last_message(), "shop.Alert.level") != NULL, "%s", last_message());
}

Test(instance, failing_receivers_return_their_code_and_no_instance)
{
	static int code = -501;
	connect_failing(SH_POST_INIT, "shop.Alert", &code);
	alert = (sh_instance *)0x1;
	cr_assert_eq(sh_instance_new(&alert, fx.db, M("shop.Alert"), NULL, 0), -501);
	cr_assert_null(alert);
}

Test(instance, model_of_another_registry_is_refused)
{
	sh_models *other;
	cr_assert_eq(sh_models_new(&other, fx.hub), 0);
	sh_field_decl d = SH_FIELD_DECL_INIT;
	d.name = "x";
	cr_assert_eq(sh_models_declare(other, "zz", "Thing", &d, 1, NULL), 0);
	cr_assert_eq(sh_models_prepare(other), 0);
	const sh_model *thing;
	cr_assert_eq(sh_models_lookup(&thing, other, "zz.Thing"), 0);
	cr_assert_eq(sh_instance_new(&alert, fx.db, thing, NULL, 0), SH_EINVAL);
	sh_models_free(other);
}

Test(values, integers_reals_booleans_convert)
{
	new_alert();
	cr_assert_eq(sh_instance_set(alert, "level", sh_datum_bool(true)), 0);
	cr_assert_eq(get("level").type, SH_DATUM_INT);
	cr_assert_eq(get("level").v.i, 1);
	cr_assert_eq(sh_instance_set(alert, "score", I(2)), 0);
	cr_assert_eq(get("score").type, SH_DATUM_REAL);
	cr_assert_float_eq(get("score").v.r, 2.0, 1e-12);
	cr_assert_eq(sh_instance_set(alert, "active", I(0)), 0);
	cr_assert_eq(get("active").type, SH_DATUM_BOOL);
	cr_assert(!get("active").v.b);
	cr_assert_eq(sh_instance_set(alert, "big", I(INT64_MAX)), 0);
	cr_assert_eq(get("big").v.i, INT64_MAX);
	expect_invalid("active", I(2), "boolean");
	expect_invalid("level", sh_datum_real(1.5), "integer");
	expect_invalid("score", T("1.5"), "real");
	expect_invalid("content", I(5), "text");
	sh_instance_free(alert);
}

Test(values, null_is_accepted_here_and_refused_at_save)
{
	new_alert();
	cr_assert_eq(sh_instance_set(alert, "level", sh_datum_null()), 0);
	cr_assert_eq(get("level").type, SH_DATUM_NULL);
	sh_instance_free(alert);
}

Test(values, text_length_counts_utf8_characters)
{
	new_alert();
	/* ten characters, twenty bytes: within max_length 10 */
	cr_assert_eq(sh_instance_set(alert, "content", T("éééééééééé")), 0, "%s", last_message());
	expect_invalid("content", T("ééééééééééé"), "max_length 10");
	expect_invalid("content", T("bad \xff byte"), "UTF-8");
	expect_invalid("content", T("\xc0\xaf"), "UTF-8");   /* overlong */
	cr_assert_str_eq(get("content").v.s, "éééééééééé");
	sh_instance_free(alert);
}

Test(values, text_is_copied)
{
	new_alert();
	char buf[8] = "abc";
	cr_assert_eq(sh_instance_set(alert, "content", T(buf)), 0);
	strcpy(buf, "zzz");
	cr_assert_str_eq(get("content").v.s, "abc");
	/* setting a field from its own value is safe */
	cr_assert_eq(sh_instance_set(alert, "content", get("content")), 0);
	cr_assert_str_eq(get("content").v.s, "abc");
	sh_instance_free(alert);
}

Test(values, a_set_that_fits_overwrites_in_place_and_others_stay)
{
	sh_instance *owner = MAKE("shop.Owner", FV("name", T("ann")));
	sh_instance *a = MAKE("shop.Alert", FV("content", T("hello")), FV("owner", I(1)));
	sh_instance *row = NULL;
	cr_assert_eq(sh_query_get(&row, fx.db, M("shop.Alert"), 1), 0);
	sh_datum before, meta, after;
	cr_assert_eq(sh_instance_set(row, "meta", T("[1]")), 0);
	cr_assert_eq(sh_instance_get(row, "content", &before), 0);
	cr_assert_eq(sh_instance_get(row, "meta", &meta), 0);
	/* shorter: written over the loaded text, in the instance's block */
	cr_assert_eq(sh_instance_set(row, "content", T("hey")), 0);
	cr_assert_eq(sh_instance_get(row, "content", &after), 0);
	cr_assert_eq(after.v.s, before.v.s, "in place");
	cr_assert_str_eq(after.v.s, "hey");
	cr_assert_str_eq(meta.v.s, "[1]", "the other values are untouched");
	/* longer: a copy of its own */
	cr_assert_eq(sh_instance_set(row, "content", T("much more")), 0);
	cr_assert_eq(sh_instance_get(row, "content", &after), 0);
	cr_assert_str_eq(after.v.s, "much more");
	cr_assert_eq(sh_instance_save(row, NULL), 0, "%s", last_message());
	cr_assert_str_eq(sql_text("SELECT content || meta FROM shop_alert"), "much more[1]");
	sh_instance_free(row);
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(values, dates_must_be_real_calendar_days)
{
	new_alert();
	cr_assert_eq(sh_instance_set(alert, "day", T("2024-02-29")), 0);
	cr_assert_str_eq(get("day").v.s, "2024-02-29");
	expect_invalid("day", T("2023-02-29"), "2023-02-29");
	expect_invalid("day", T("2024-13-01"), "date");
	expect_invalid("day", T("2024-04-31"), "date");
	expect_invalid("day", T("2024-4-1"), "date");
	expect_invalid("day", T("2024-04-01T00:00:00Z"), "date");
	expect_invalid("day", I(20240401), "date");
	sh_instance_free(alert);
}

Test(values, datetimes_are_validated_and_stored_in_utc)
{
	new_alert();
	cr_assert_eq(sh_instance_set(alert, "modified", T("2026-11-27T10:00:00Z")), 0);
	cr_assert_str_eq(get("modified").v.s, "2026-11-27T10:00:00Z");
	cr_assert_eq(sh_instance_set(alert, "modified", T("2026-11-27 10:00:00.5")), 0);
	cr_assert_str_eq(get("modified").v.s, "2026-11-27T10:00:00.500000Z");
	cr_assert_eq(sh_instance_set(alert, "modified", T("2026-01-01T01:30:00+02:00")), 0);
	cr_assert_str_eq(get("modified").v.s, "2025-12-31T23:30:00Z");
	cr_assert_eq(sh_instance_set(alert, "modified", T("2024-02-28T23:00:00-0130")), 0);
	cr_assert_str_eq(get("modified").v.s, "2024-02-29T00:30:00Z");
	cr_assert_eq(sh_instance_set(alert, "modified", T("2026-11-27T10:00Z")), 0);
	cr_assert_str_eq(get("modified").v.s, "2026-11-27T10:00:00Z");
	expect_invalid("modified", T("2026-11-27T24:00:00Z"), "datetime");
	expect_invalid("modified", T("2026-11-31T10:00:00Z"), "datetime");
	expect_invalid("modified", T("2026-11-27T10:00:00.1234567Z"), "datetime");
	expect_invalid("modified", T("2026-11-27T10:00:00Zjunk"), "datetime");
	expect_invalid("modified", T("yesterday"), "datetime");
	sh_instance_free(alert);
}

Test(values, json_is_validated)
{
	new_alert();
	cr_assert_eq(sh_instance_set(alert, "meta", T("{\"a\": [1, 2, null]}")), 0);
	cr_assert_eq(sh_instance_set(alert, "meta", T("42")), 0, "any JSON value");
	cr_assert_eq(sh_instance_set(alert, "meta", T("\"text\"")), 0);
	expect_invalid("meta", T("{\"a\": }"), "invalid JSON");
	expect_invalid("meta", T("{'a': 1}"), "shop.Alert.meta");
	sh_instance_free(alert);
}

Test(values, foreign_keys_by_name_or_column)
{
	new_alert();
	cr_assert_eq(sh_instance_set(alert, "owner", I(7)), 0);
	cr_assert_eq(get("owner_id").v.i, 7);
	cr_assert_eq(sh_instance_set(alert, "owner_id", I(8)), 0);
	cr_assert_eq(get("owner").v.i, 8);
	expect_invalid("owner", T("8"), "primary key");
	sh_instance_free(alert);
}

Test(values, unknown_and_many_to_many_fields)
{
	new_alert();
	sh_datum d;
	cr_assert_eq(sh_instance_set(alert, "nope", I(1)), SH_EINVAL);
	cr_assert(strstr(last_message(), "'nope'") != NULL);
	cr_assert_eq(sh_instance_get(alert, "nope", &d), SH_EINVAL);
	cr_assert_eq(sh_instance_get(alert, "tags", &d), SH_EINVAL);
	cr_assert(strstr(last_message(), "sh_m2m_pks") != NULL, "%s", last_message());
	cr_assert_eq(sh_instance_set(alert, "tags", I(1)), SH_EINVAL);
	cr_assert_eq(sh_instance_get(NULL, "x", &d), SH_EINVAL);
	sh_instance_free(alert);
	sh_instance_free(NULL);
}
