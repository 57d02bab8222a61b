/*
 * init.c: pre_init and post_init, for constructing an instance and for
 * loading rows from the database.
 *
 * Django's behaviour (django/db/models/base.py, Model.__init__ and
 * Model.from_db; django/db/models/query.py):
 * - Model.__init__(*args, **kwargs) sends pre_init(sender=cls, args=args,
 *   kwargs=kwargs) first, before any field is set, then assigns the fields
 *   (defaults, then the given values) and sends post_init(sender=cls,
 *   instance=self) last. A constructor call with keywords gives args=()
 *   and kwargs={...} as given; an unexpected keyword raises TypeError after
 *   pre_init was sent, so no post_init.
 * - Model.from_db(db, field_names, values) builds the instance with
 *   cls(*values): loading a row sends pre_init with args = the row's
 *   values in concrete-field order (the primary key first, a foreign key as
 *   its raw key value; many-to-many fields have no column) and kwargs = {},
 *   then post_init with the instance, already holding its values. A
 *   queryset builds one instance per row as it is iterated, so the pair
 *   comes once per row, row after row; get() loads one row.
 * - count(), exists(), values() build no instances and send nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(init, .init = fx_setup, .fini = fx_teardown);
TestSuite(loading, .init = fx_setup, .fini = fx_teardown);

/* ---- constructing ----------------------------------------------------- */

Test(init, construct_sends_pre_init_with_kwargs_then_post_init)
{
	sh_instance *a = NEW("t.Author", FV("name", T("Ann")), FV("age", I(41)));
	cr_assert_str_eq(log_text(),
		"pre_init t.Author args=[] kwargs={'name': 'Ann', 'age': 41}\n"
		"post_init t.Author pk=None\n");
	cr_assert(sh_instance_adding(a));
	sh_instance_free(a);
}

Test(init, construct_without_values_sends_empty_kwargs)
{
	sh_instance *inst = NULL;
	cr_assert_eq(sh_instance_new(&inst, fx.db, fx_model("t.Author"), NULL, 0), 0);
	cr_assert_str_eq(log_text(),
		"pre_init t.Author args=[] kwargs={}\n"
		"post_init t.Author pk=None\n");
	sh_instance_free(inst);
}

Test(init, kwargs_keep_the_order_given)
{
	sh_instance *a = NEW("t.Author", FV("age", I(7)), FV("name", T("Zed")));
	cr_assert_str_eq(log_text(),
		"pre_init t.Author args=[] kwargs={'age': 7, 'name': 'Zed'}\n"
		"post_init t.Author pk=None\n");
	sh_instance_free(a);
}

/* What a post_init receiver sees of the instance: its fields are set. */
static char seen_name[64];
static int64_t seen_age = -1;

static int read_fields(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_post_init_args *a = args;
	sh_datum d;
	if (sh_instance_get(a->instance, "name", &d) == 0 && d.type == SH_DATUM_TEXT)
		snprintf(seen_name, sizeof seen_name, "%s", d.v.s);
	if (sh_instance_get(a->instance, "age", &d) == 0 && d.type == SH_DATUM_INT)
		seen_age = d.v.i;
	return 0;
}

Test(init, post_init_sees_the_values_and_defaults_already_set)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = sh_model_sender(fx_model("t.Author"));
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_INIT), read_fields,
		NULL, &opts), 0);
	sh_instance *a = NEW("t.Author", FV("name", T("Bea")));
	cr_assert_str_eq(seen_name, "Bea");
	cr_assert_eq(seen_age, 0, "the default of age is set before post_init");
	sh_instance_free(a);
}

Test(init, failing_pre_init_receiver_returns_its_code_and_no_post_init)
{
	static int code = -71;
	connect_failing(SH_PRE_INIT, "t.Author", &code);
	sh_instance *inst = NULL;
	sh_field_value v[] = { FV("name", T("x")) };
	int rc = sh_instance_new(&inst, fx.db, fx_model("t.Author"), v, 1);
	cr_assert_eq(rc, -71);
	cr_assert_null(inst, "nothing is returned when a receiver fails");
	cr_assert_str_eq(log_text(), "pre_init t.Author args=[] kwargs={'name': 'x'}\n");
}

Test(init, failing_post_init_receiver_returns_its_code)
{
	static int code = -72;
	connect_failing(SH_POST_INIT, "t.Author", &code);
	sh_instance *inst = NULL;
	int rc = sh_instance_new(&inst, fx.db, fx_model("t.Author"), NULL, 0);
	cr_assert_eq(rc, -72);
	cr_assert_null(inst);
	cr_assert_eq(log_count("post_init t.Author"), 1);
}

Test(init, unknown_field_fails_without_post_init)
{
	sh_instance *inst = NULL;
	sh_field_value v[] = { FV("nope", I(1)) };
	int rc = sh_instance_new(&inst, fx.db, fx_model("t.Author"), v, 1);
	cr_assert_eq(rc, SH_EINVAL);
	cr_assert_null(inst);
	cr_assert_eq(log_count("post_init"), 0, "log:\n%s", log_text());
	cr_assert_not_null(strstr(sh_error_last()->message, "nope"), "message: %s",
		sh_error_last()->message);
}

Test(init, constructing_writes_nothing)
{
	sh_instance *a = NEW("t.Author", FV("name", T("Ann")));
	cr_assert_eq(rows_of("t.Author"), 0);
	cr_assert_eq(log_count("pre_save"), 0);
	sh_instance_free(a);
}

/* ---- loading ---------------------------------------------------------- */

Test(loading, get_sends_pre_init_with_row_values_as_args_then_post_init)
{
	sh_instance *a = SAVED("t.A", FV("name", T("a1")));
	sh_instance *b = SAVED("t.B", FV("a", I(sh_instance_pk(a))), FV("name", T("b1")));
	log_clear();

	sh_instance *got = NULL;
	cr_assert_eq(sh_query_get(&got, fx.db, fx_model("t.B"), sh_instance_pk(b)), 0);
	cr_assert_str_eq(log_text(),
		"pre_init t.B args=[1, 1, 'b1'] kwargs={}\n"
		"post_init t.B pk=1\n");
	cr_assert_not(sh_instance_adding(got), "a loaded instance is not adding");
	sh_instance_free(got);
	sh_instance_free(b);
	sh_instance_free(a);
}

Test(loading, loaded_row_args_hold_null_and_every_column_in_field_order)
{
	sh_instance *n = SAVED("t.N", FV("name", T("orphan")));
	log_clear();
	sh_instance *got = NULL;
	cr_assert_eq(sh_query_get(&got, fx.db, fx_model("t.N"), sh_instance_pk(n)), 0);
	cr_assert_str_eq(log_text(),
		"pre_init t.N args=[1, None, 'orphan'] kwargs={}\n"
		"post_init t.N pk=1\n");
	sh_instance_free(got);
	sh_instance_free(n);
}

Test(loading, many_to_many_fields_are_not_in_the_row_args)
{
	sh_instance *p = SAVED("t.Post", FV("title", T("hello")));
	log_clear();
	sh_instance *got = NULL;
	cr_assert_eq(sh_query_get(&got, fx.db, fx_model("t.Post"), sh_instance_pk(p)), 0);
	cr_assert_str_eq(log_text(),
		"pre_init t.Post args=[1, 'hello'] kwargs={}\n"
		"post_init t.Post pk=1\n");
	sh_instance_free(got);
	sh_instance_free(p);
}

Test(loading, get_of_missing_pk_sends_nothing)
{
	sh_instance *got = NULL;
	cr_assert_eq(sh_query_get(&got, fx.db, fx_model("t.A"), 42), SH_ENOTFOUND);
	cr_assert_null(got);
	cr_assert_str_eq(log_text(), "");
}

Test(loading, iterating_sends_the_pair_once_per_row_as_rows_are_read)
{
	sh_instance *a1 = SAVED("t.A", FV("name", T("x")));
	sh_instance *a2 = SAVED("t.A", FV("name", T("y")));
	sh_instance *a3 = SAVED("t.A", FV("name", T("z")));
	log_clear();

	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, fx_model("t.A")), 0);
	cr_assert_eq(sh_query_order_by(q, "-name"), 0);
	sh_instance *got = NULL;
	int n = 0;
	int rc;
	while ((rc = sh_query_next(q, &got)) == 1) {
		n++;
		log_note("-- row %d read", n);
		sh_instance_free(got);
	}
	cr_assert_eq(rc, 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(log_text(),
		"pre_init t.A args=[3, 'z'] kwargs={}\n"
		"post_init t.A pk=3\n"
		"-- row 1 read\n"
		"pre_init t.A args=[2, 'y'] kwargs={}\n"
		"post_init t.A pk=2\n"
		"-- row 2 read\n"
		"pre_init t.A args=[1, 'x'] kwargs={}\n"
		"post_init t.A pk=1\n"
		"-- row 3 read\n");
	sh_query_free(q);
	sh_instance_free(a1);
	sh_instance_free(a2);
	sh_instance_free(a3);
}

Test(loading, filtered_query_loads_only_matching_rows)
{
	sh_instance *a1 = SAVED("t.A", FV("name", T("keep")));
	sh_instance *a2 = SAVED("t.A", FV("name", T("skip")));
	log_clear();
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, fx_model("t.A")), 0);
	cr_assert_eq(sh_query_filter(q, "name", T("keep")), 0);
	sh_instance *got = NULL;
	cr_assert_eq(sh_query_next(q, &got), 1);
	sh_instance_free(got);
	cr_assert_eq(sh_query_next(q, &got), 0);
	cr_assert_str_eq(log_text(),
		"pre_init t.A args=[1, 'keep'] kwargs={}\n"
		"post_init t.A pk=1\n");
	sh_query_free(q);
	sh_instance_free(a1);
	sh_instance_free(a2);
}

Test(loading, count_sends_nothing)
{
	sh_instance *a1 = SAVED("t.A", FV("name", T("x")));
	sh_instance *a2 = SAVED("t.A", FV("name", T("y")));
	log_clear();
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, fx_model("t.A")), 0);
	int64_t n = -1;
	cr_assert_eq(sh_query_count(q, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(log_text(), "", "count() loads no instance");
	sh_query_free(q);
	sh_instance_free(a1);
	sh_instance_free(a2);
}

Test(loading, empty_query_sends_nothing)
{
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, fx_model("t.A")), 0);
	sh_instance *got = NULL;
	cr_assert_eq(sh_query_next(q, &got), 0);
	cr_assert_str_eq(log_text(), "");
	sh_query_free(q);
}

Test(loading, failing_post_init_receiver_stops_the_iteration_with_its_code)
{
	sh_instance *a1 = SAVED("t.A", FV("name", T("x")));
	static int code = -73;
	connect_failing(SH_POST_INIT, "t.A", &code);
	log_clear();
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, fx_model("t.A")), 0);
	sh_instance *got = NULL;
	cr_assert_eq(sh_query_next(q, &got), -73);
	sh_query_free(q);
	sh_instance_free(a1);
}
