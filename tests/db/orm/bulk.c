/*
 * bulk.c: sh_bulk_create(): one transaction, no save signals, pks assigned
 * and adding cleared; all or nothing on errors; argument checks.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "support.h"

TestSuite(bulk, .init = fx_setup, .fini = fx_teardown);

static sh_instance *tag(const char *name)
{
	sh_instance *t = NULL;
	sh_field_value v[] = { FV("name", T(name)) };
	cr_assert_eq(sh_instance_new(&t, fx.db, M("shop.Tag"), v, 1), 0);
	return t;
}

Test(bulk, inserts_all_without_save_signals)
{
	sh_instance *ts[3] = { tag("a"), tag("b"), tag("c") };
	rec_connect();
	cr_assert_eq(sh_bulk_create(ts, 3), 0, "%s", last_message());
	cr_assert_str_eq(log_text(), "");
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(sh_instance_pk(ts[i]), i + 1);
		cr_assert(!sh_instance_adding(ts[i]));
	}
	cr_assert_str_eq(sql_text("SELECT group_concat(name, '') FROM (SELECT name FROM shop_tag ORDER BY id)"), "abc");
	for (int i = 0; i < 3; i++)
		sh_instance_free(ts[i]);
}

Test(bulk, sets_auto_now_fields)
{
	sh_instance *o = MAKE("shop.Owner", FV("name", T("o")));
	sh_instance *a = NULL;
	sh_field_value v[] = { FV("content", T("x")), FV("owner", I(1)) };
	cr_assert_eq(sh_instance_new(&a, fx.db, M("shop.Alert"), v, 2), 0);
	cr_assert_eq(sh_bulk_create(&a, 1), 0, "%s", last_message());
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert WHERE created IS NOT NULL AND modified IS NOT NULL"), 1);
	sh_instance_free(a);
	sh_instance_free(o);
}

Test(bulk, all_or_nothing)
{
	sh_instance *o[3];
	for (int i = 0; i < 3; i++) {
		o[i] = NULL;
		sh_field_value v[] = { FV("name", T(i == 2 ? "dup" : (i ? "dup" : "x"))) };
		cr_assert_eq(sh_instance_new(&o[i], fx.db, M("shop.Owner"), v, 1), 0);
	}
	cr_assert_eq(sh_bulk_create(o, 3), SH_EINTEGRITY);
	cr_assert(strstr(last_message(), "shop.Owner.name") != NULL, "%s", last_message());
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_owner"), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(sh_instance_pk(o[i]), 0, "pks taken back");
		cr_assert(sh_instance_adding(o[i]));
		sh_instance_free(o[i]);
	}
}

Test(bulk, dangling_key_is_named_and_nothing_inserted)
{
	sh_instance *l = NULL;
	sh_field_value v[] = { FV("owner", I(5)) };
	cr_assert_eq(sh_instance_new(&l, fx.db, M("shop.Lock"), v, 1), 0);
	cr_assert_eq(sh_bulk_create(&l, 1), SH_EINTEGRITY);
	cr_assert(strstr(last_message(), "shop.Lock.owner") != NULL, "%s", last_message());
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_lock"), 0);
	sh_instance_free(l);
}

Test(bulk, refuses_saved_mixed_or_null_rows)
{
	sh_instance *saved = MAKE("shop.Tag", FV("name", T("s")));
	sh_instance *fresh = tag("f");
	sh_instance *pair[] = { fresh, saved };
	cr_assert_eq(sh_bulk_create(pair, 2), SH_EINVAL);
	cr_assert(strstr(last_message(), "saved already") != NULL, "%s", last_message());
	sh_instance *owner = NULL;
	cr_assert_eq(sh_instance_new(&owner, fx.db, M("shop.Owner"), NULL, 0), 0);
	sh_instance *mixed[] = { fresh, owner };
	cr_assert_eq(sh_bulk_create(mixed, 2), SH_EINVAL);
	sh_instance *nul[] = { fresh, NULL };
	cr_assert_eq(sh_bulk_create(nul, 2), SH_EINVAL);
	cr_assert_eq(sh_instance_set(fresh, "name", sh_datum_null()), 0);
	cr_assert_eq(sh_bulk_create(&fresh, 1), SH_EINVAL);
	cr_assert(strstr(last_message(), "'name'") != NULL, "%s", last_message());
	cr_assert_eq(sh_bulk_create(NULL, 0), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_tag"), 1);
	sh_instance_free(owner);
	sh_instance_free(fresh);
	sh_instance_free(saved);
}

Test(bulk, inside_a_block_a_failure_marks_it_for_rollback)
{
	sh_instance *o[2];
	for (int i = 0; i < 2; i++) {
		o[i] = NULL;
		sh_field_value v[] = { FV("name", T("same")) };
		cr_assert_eq(sh_instance_new(&o[i], fx.db, M("shop.Owner"), v, 1), 0);
	}
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *t = MAKE("shop.Tag", FV("name", T("in block")));
	cr_assert_eq(sh_bulk_create(o, 2), SH_EINTEGRITY);
	cr_assert_eq(sh_instance_pk(o[0]), 0, "pks taken back");
	cr_assert_eq(sh_atomic_depth(fx.db), 1);
	cr_assert_eq(sh_atomic_end(fx.db, 0), SH_EINTEGRITY);
	cr_assert(strstr(last_message(), "shop.Owner.name") != NULL, "%s", last_message());
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_owner"), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_tag"), 0);
	sh_instance_free(t);
	for (int i = 0; i < 2; i++)
		sh_instance_free(o[i]);
}
