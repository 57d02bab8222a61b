/*
 * save.c: sh_instance_save(): INSERT then UPDATE, created, update_fields,
 * auto_now / auto_now_add (set during the write, as Django), raw,
 * force_insert / force_update, NOT NULL, unique and foreign key errors
 * naming the field, and atomicity: a failing pre_save writes nothing;
 * outside any block a failing post_save rolls the save's own transaction
 * back; inside a block a failing save opens no savepoint and marks the
 * block for rollback (Django's mark_for_rollback_on_error), unless the
 * caller wrapped it in a block of its own.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

TestSuite(save, .init = fx_setup, .fini = fx_teardown);
TestSuite(save_errors, .init = fx_setup, .fini = fx_teardown);

static sh_instance *owner;

static sh_instance *new_alert(const char *content)
{
	sh_instance *a = NULL;
	sh_field_value v[] = { FV("content", T(content)), FV("owner", I(sh_instance_pk(owner))) };
	cr_assert_eq(sh_instance_new(&a, fx.db, M("shop.Alert"), v, 2), 0, "%s", last_message());
	return a;
}

static void setup_owner(void)
{
	owner = MAKE("shop.Owner", FV("name", T("ann")));
}

Test(save, insert_then_update_with_created_flags)
{
	setup_owner();
	rec_connect();
	sh_instance *a = new_alert("one");
	log_clear();
	cr_assert_eq(sh_instance_save(a, NULL), 0, "%s", last_message());
	cr_assert_eq(sh_instance_pk(a), 1);
	cr_assert(!sh_instance_adding(a));
	cr_assert_str_eq(log_text(),
		"pre_save shop.Alert shop.Alert:0 raw=0 uf=-1\n"
		"post_save shop.Alert shop.Alert:1 created=1 uf=-1\n");
	cr_assert_str_eq(sql_text("SELECT content FROM shop_alert WHERE id = 1"), "one");
	cr_assert_eq(sh_instance_set(a, "content", T("two")), 0);
	log_clear();
	cr_assert_eq(sh_instance_save(a, NULL), 0);
	cr_assert_str_eq(log_text(),
		"pre_save shop.Alert shop.Alert:1 raw=0 uf=-1\n"
		"post_save shop.Alert shop.Alert:1 created=0 uf=-1\n");
	cr_assert_str_eq(sql_text("SELECT content FROM shop_alert WHERE id = 1"), "two");
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 1);
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save, values_round_trip_through_the_database)
{
	setup_owner();
	sh_instance *a = new_alert("rt");
	cr_assert_eq(sh_instance_set(a, "score", sh_datum_real(2.5)), 0);
	cr_assert_eq(sh_instance_set(a, "active", sh_datum_bool(false)), 0);
	cr_assert_eq(sh_instance_set(a, "day", T("2026-11-27")), 0);
	cr_assert_eq(sh_instance_set(a, "meta", T("{\"k\":1}")), 0);
	cr_assert_eq(sh_instance_set(a, "big", I(INT64_MIN)), 0);
	cr_assert_eq(sh_instance_save(a, NULL), 0, "%s", last_message());
	sh_instance *b = NULL;
	cr_assert_eq(sh_query_get(&b, fx.db, M("shop.Alert"), sh_instance_pk(a)), 0);
	sh_datum d;
	cr_assert_eq(sh_instance_get(b, "score", &d), 0);
	cr_assert_eq(d.type, SH_DATUM_REAL);
	cr_assert_float_eq(d.v.r, 2.5, 1e-12);
	cr_assert_eq(sh_instance_get(b, "active", &d), 0);
	cr_assert_eq(d.type, SH_DATUM_BOOL);
	cr_assert(!d.v.b);
	cr_assert_eq(sh_instance_get(b, "day", &d), 0);
	cr_assert_str_eq(d.v.s, "2026-11-27");
	cr_assert_eq(sh_instance_get(b, "meta", &d), 0);
	cr_assert_str_eq(d.v.s, "{\"k\":1}");
	cr_assert_eq(sh_instance_get(b, "big", &d), 0);
	cr_assert_eq(d.v.i, INT64_MIN);
	cr_assert_eq(sh_instance_get(b, "owner", &d), 0);
	cr_assert_eq(d.v.i, sh_instance_pk(owner));
	cr_assert_eq(sh_instance_get(b, "modified", &d), 0);
	cr_assert_eq(d.type, SH_DATUM_TEXT, "auto_now set");
	cr_assert(!sh_instance_adding(b));
	sh_instance_free(a);
	sh_instance_free(b);
	sh_instance_free(owner);
}

Test(save, update_fields_writes_only_those_columns)
{
	setup_owner();
	rec_connect();
	sh_instance *a = new_alert("orig");
	cr_assert_eq(sh_instance_save(a, NULL), 0);
	cr_assert_eq(sh_instance_set(a, "content", T("new")), 0);
	cr_assert_eq(sh_instance_set(a, "level", I(9)), 0);
	const char *names[] = { "level" };
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.update_fields = names;
	opts.update_fields_count = 1;
	log_clear();
	cr_assert_eq(sh_instance_save(a, &opts), 0, "%s", last_message());
	cr_assert_str_eq(log_text(),
		"pre_save shop.Alert shop.Alert:1 raw=0 uf=1\n"
		"post_save shop.Alert shop.Alert:1 created=0 uf=1\n");
	cr_assert_str_eq(sql_text("SELECT content || '/' || level FROM shop_alert"), "orig/9");
	/* another field set, same statement cache slot logic */
	const char *two[] = { "content", "owner_id" };
	opts.update_fields = two;
	opts.update_fields_count = 2;
	cr_assert_eq(sh_instance_save(a, &opts), 0, "%s", last_message());
	cr_assert_str_eq(sql_text("SELECT content || '/' || level FROM shop_alert"), "new/9");
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save, empty_update_fields_saves_and_sends_nothing)
{
	setup_owner();
	rec_connect();
	sh_instance *a = new_alert("x");
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	const char *none[] = { NULL };
	opts.update_fields = none;
	opts.update_fields_count = 0;
	log_clear();
	cr_assert_eq(sh_instance_save(a, &opts), 0);
	cr_assert_str_eq(log_text(), "");
	cr_assert(sh_instance_adding(a));
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 0);
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save, update_fields_errors_name_the_field)
{
	setup_owner();
	sh_instance *a = new_alert("x");
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	const char *names[] = { "level" };
	opts.update_fields = names;
	opts.update_fields_count = 1;
	cr_assert_eq(sh_instance_save(a, &opts), SH_EINVAL, "never saved");
	cr_assert(strstr(last_message(), "never saved") != NULL, "%s", last_message());
	cr_assert_eq(sh_instance_save(a, NULL), 0);
	const char *bad[] = { "colour" };
	opts.update_fields = bad;
	cr_assert_eq(sh_instance_save(a, &opts), SH_EINVAL);
	cr_assert(strstr(last_message(), "'colour'") != NULL, "%s", last_message());
	const char *m2m[] = { "tags" };
	opts.update_fields = m2m;
	cr_assert_eq(sh_instance_save(a, &opts), SH_EINVAL);
	const char *pk[] = { "id" };
	opts.update_fields = pk;
	cr_assert_eq(sh_instance_save(a, &opts), SH_EINVAL);
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save, auto_now_add_once_auto_now_every_save)
{
	setup_owner();
	sh_instance *a = new_alert("t");
	sh_datum created, modified;
	cr_assert_eq(sh_instance_get(a, "created", &created), 0);
	cr_assert_eq(created.type, SH_DATUM_NULL);
	cr_assert_eq(sh_instance_save(a, NULL), 0, "%s", last_message());
	cr_assert_eq(sh_instance_get(a, "created", &created), 0);
	cr_assert_eq(created.type, SH_DATUM_TEXT);
	char first_created[64], first_modified[64];
	strcpy(first_created, created.v.s);
	cr_assert_eq(sh_instance_get(a, "modified", &modified), 0);
	strcpy(first_modified, modified.v.s);
	cr_assert_eq(strlen(first_created), strlen("2026-11-27T10:00:00.000000Z"), "%s", first_created);
	usleep(2000);
	cr_assert_eq(sh_instance_save(a, NULL), 0);
	cr_assert_eq(sh_instance_get(a, "created", &created), 0);
	cr_assert_str_eq(created.v.s, first_created, "auto_now_add only when inserted");
	cr_assert_eq(sh_instance_get(a, "modified", &modified), 0);
	cr_assert_str_neq(modified.v.s, first_modified, "auto_now on every save");
	cr_assert_str_eq(sql_text("SELECT modified FROM shop_alert"), modified.v.s);
	sh_instance_free(a);
	sh_instance_free(owner);
}

static char seen_modified[2][64];   /* what pre_save [0] and post_save [1] saw */

static int look_modified(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response;
	/* pre_save and post_save args both start with the instance */
	sh_datum d;
	sh_instance_get(*(sh_instance *const *)args, "modified", &d);
	snprintf(seen_modified[payload != NULL], sizeof seen_modified[0], "%s",
		d.type == SH_DATUM_TEXT ? d.v.s : "NULL");
	return 0;
}

Test(save, raw_skips_auto_now_and_reaches_the_signals)
{
	setup_owner();
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_PRE_SAVE), look_modified,
		NULL, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_SAVE), look_modified,
		(void *)1, NULL), 0);
	rec_connect();
	sh_instance *a = new_alert("raw");
	cr_assert_eq(sh_instance_set(a, "created", T("2020-01-01T00:00:00Z")), 0);
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.raw = true;
	log_clear();
	cr_assert_eq(sh_instance_save(a, &opts), 0, "%s", last_message());
	cr_assert(strstr(log_text(), "raw=1") != NULL, "%s", log_text());
	cr_assert_str_eq(seen_modified[1], "NULL", "raw: no auto_now");
	cr_assert_str_eq(sql_text("SELECT created FROM shop_alert"), "2020-01-01T00:00:00Z");
	cr_assert_str_eq(sql_text("SELECT coalesce(modified, 'NULL') FROM shop_alert"), "NULL");
	/* not raw: set during the write, as Django's pre_save(add) of the
	 * field: pre_save receivers see the old value, post_save the new one */
	cr_assert_eq(sh_instance_save(a, NULL), 0);
	cr_assert_str_eq(seen_modified[0], "NULL", "pre_save sees the value before the write");
	cr_assert_str_neq(seen_modified[1], "NULL", "post_save sees the value written");
	cr_assert_str_eq(sql_text("SELECT modified FROM shop_alert"), seen_modified[1]);
	char first[64];
	strcpy(first, seen_modified[1]);
	usleep(2000);
	cr_assert_eq(sh_instance_save(a, NULL), 0);
	cr_assert_str_eq(seen_modified[0], first, "pre_save still sees the previous value");
	cr_assert_str_neq(seen_modified[1], first);
	cr_assert_str_eq(sql_text("SELECT created FROM shop_alert"), "2020-01-01T00:00:00Z",
		"auto_now_add only on insert");
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save, auto_now_replaces_a_set_value_and_each_save_reuses_the_instances_room)
{
	setup_owner();
	sh_instance *a = new_alert("room");
	cr_assert_eq(sh_instance_set(a, "modified", T("2001-01-01T00:00:00Z")), 0);
	cr_assert_eq(sh_instance_save(a, NULL), 0, "%s", last_message());
	sh_datum first, again;
	cr_assert_eq(sh_instance_get(a, "modified", &first), 0);
	cr_assert_str_neq(first.v.s, "2001-01-01T00:00:00Z", "auto_now replaced the value set");
	cr_assert_str_eq(sql_text("SELECT modified FROM shop_alert"), first.v.s);
	const char *where = first.v.s;
	usleep(1000);
	cr_assert_eq(sh_instance_save(a, NULL), 0, "%s", last_message());
	cr_assert_eq(sh_instance_get(a, "modified", &again), 0);
	cr_assert_eq(again.v.s, where, "written in place: a save allocates nothing for it");
	cr_assert_str_eq(sql_text("SELECT modified FROM shop_alert"), again.v.s);
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save, update_fields_writes_auto_now_only_when_listed)
{
	setup_owner();
	sh_instance *a = new_alert("uf");
	cr_assert_eq(sh_instance_save(a, NULL), 0, "%s", last_message());
	char written[64];
	strcpy(written, sql_text("SELECT modified FROM shop_alert"));
	usleep(2000);
	const char *level[] = { "level" };
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.update_fields = level;
	opts.update_fields_count = 1;
	cr_assert_eq(sh_instance_save(a, &opts), 0, "%s", last_message());
	cr_assert_str_eq(sql_text("SELECT modified FROM shop_alert"), written,
		"auto_now not listed: not written (Django)");
	sh_datum d;
	cr_assert_eq(sh_instance_get(a, "modified", &d), 0);
	cr_assert_str_eq(d.v.s, written, "nor set on the instance");
	const char *both[] = { "level", "modified" };
	opts.update_fields = both;
	opts.update_fields_count = 2;
	cr_assert_eq(sh_instance_save(a, &opts), 0, "%s", last_message());
	cr_assert_str_neq(sql_text("SELECT modified FROM shop_alert"), written, "listed: written");
	cr_assert_eq(sh_instance_get(a, "modified", &d), 0);
	cr_assert_str_eq(sql_text("SELECT modified FROM shop_alert"), d.v.s);
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save, explicit_pk_of_a_missing_row_inserts)
{
	setup_owner();
	rec_connect();
	sh_instance *a = new_alert("pk");
	cr_assert_eq(sh_instance_set(a, "id", I(42)), 0);
	log_clear();
	cr_assert_eq(sh_instance_save(a, NULL), 0, "%s", last_message());
	cr_assert_eq(sh_instance_pk(a), 42);
	cr_assert(strstr(log_text(), "created=1") != NULL, "%s", log_text());
	cr_assert_eq(sql_int("SELECT id FROM shop_alert"), 42);
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save, force_insert_and_force_update)
{
	setup_owner();
	sh_instance *a = new_alert("f");
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.force_update = true;
	cr_assert_eq(sh_instance_save(a, &opts), SH_EINVAL, "nothing to update");
	opts.force_update = false;
	cr_assert_eq(sh_instance_save(a, NULL), 0);
	opts.force_insert = true;
	int rc = sh_instance_save(a, &opts);
	cr_assert_eq(rc, SH_EINTEGRITY, "the pk exists: %d %s", rc, last_message());
	cr_assert(strstr(last_message(), "shop.Alert.id") != NULL, "%s", last_message());
	opts.force_update = true;
	cr_assert_eq(sh_instance_save(a, &opts), SH_EINVAL, "both");
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save_errors, null_in_a_non_null_field_names_it)
{
	setup_owner();
	sh_instance *a = new_alert("n");
	cr_assert_eq(sh_instance_set(a, "level", sh_datum_null()), 0);
	cr_assert_eq(sh_instance_save(a, NULL), SH_EINVAL);
	cr_assert(strstr(last_message(), "'level'") != NULL, "%s", last_message());
	cr_assert(sh_instance_adding(a));
	cr_assert_eq(sh_instance_pk(a), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 0);
	sh_instance *orphan = NULL;
	cr_assert_eq(sh_instance_new(&orphan, fx.db, M("shop.Alert"), NULL, 0), 0);
	cr_assert_eq(sh_instance_save(orphan, NULL), SH_EINVAL);
	cr_assert(strstr(last_message(), "'owner'") != NULL, "%s", last_message());
	sh_instance_free(orphan);
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save_errors, unique_violation_is_eintegrity_naming_the_field)
{
	setup_owner();
	sh_instance *dup = NULL;
	sh_field_value v[] = { FV("name", T("ann")) };
	cr_assert_eq(sh_instance_new(&dup, fx.db, M("shop.Owner"), v, 1), 0);
	cr_assert_eq(sh_instance_save(dup, NULL), SH_EINTEGRITY);
	cr_assert(strstr(last_message(), "shop.Owner.name") != NULL, "%s", last_message());
	cr_assert(strstr(last_message(), "UNIQUE") != NULL, "%s", last_message());
	cr_assert_eq(sh_instance_pk(dup), 0);
	sh_instance_free(dup);
	sh_instance_free(owner);
}

static void expect_dangling_owner(sh_instance *a)
{
	cr_assert_eq(sh_instance_set(a, "owner", I(999)), 0);
	int rc = sh_instance_save(a, NULL);
	cr_assert_eq(rc, SH_EINTEGRITY, "%d %s", rc, last_message());
	cr_assert(strstr(last_message(), "shop.Alert.owner") != NULL, "%s", last_message());
	cr_assert(strstr(last_message(), "999") != NULL, "%s", last_message());
}

Test(save_errors, dangling_foreign_key_names_the_field_in_every_context)
{
	setup_owner();
	sh_instance *a = new_alert("fk");
	/* alone: SQLite checks at the statement's own commit */
	expect_dangling_owner(a);
	cr_assert_eq(sh_instance_pk(a), 0);
	/* with a receiver (the save's own transaction) */
	rec_connect();
	expect_dangling_owner(a);
	/* inside a transaction, where keys are checked only at COMMIT: wrapped
	 * in a block of its own (Django's advice), the failure stays there */
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	expect_dangling_owner(a);
	cr_assert_eq(sh_atomic_end(fx.db, 0), SH_EINTEGRITY, "the inner block reports it");
	cr_assert_eq(sh_instance_set(a, "owner", I(sh_instance_pk(owner))), 0);
	cr_assert_eq(sh_instance_save(a, NULL), 0, "the outer block is still good: %s",
		last_message());
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0, "%s", last_message());
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 1);
	/* an update too, right in the block: the block is marked and rolls back */
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	expect_dangling_owner(a);
	int rc = sh_atomic_end(fx.db, 0);
	cr_assert_eq(rc, SH_EINTEGRITY, "%d %s", rc, last_message());
	cr_assert(strstr(last_message(), "shop.Alert.owner") != NULL, "the original reason: %s",
		last_message());
	cr_assert_eq(sql_int("SELECT owner_id FROM shop_alert"), sh_instance_pk(owner));
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save_errors, failing_pre_save_writes_nothing)
{
	setup_owner();
	static int code = -61;
	connect_failing(SH_PRE_SAVE, "shop.Alert", &code);
	rec_connect();
	sh_instance *a = new_alert("veto");
	log_clear();
	cr_assert_eq(sh_instance_save(a, NULL), -61);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 0);
	cr_assert_eq(log_count("post_save"), 0);
	cr_assert(sh_instance_adding(a));
	cr_assert_eq(sh_instance_pk(a), 0);
	sh_instance_free(a);
	sh_instance_free(owner);
}

static int write_then_ok(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	sh_instance *t = NULL;
	sh_field_value v[] = { FV("name", T("side effect")) };
	int rc = sh_instance_new(&t, fx.db, M("shop.Tag"), v, 1);
	if (rc == 0)
		rc = sh_instance_save(t, NULL);
	sh_instance_free(t);
	return rc;
}

Test(save_errors, failing_post_save_rolls_back_the_write_and_receivers_writes)
{
	setup_owner();
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = sh_model_sender(M("shop.Alert"));
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_SAVE), write_then_ok,
		NULL, &opts), 0);
	static int code = -62;
	connect_failing(SH_POST_SAVE, "shop.Alert", &code);
	sh_instance *a = new_alert("undo");
	cr_assert_eq(sh_instance_save(a, NULL), -62);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_tag"), 0, "the receiver's write too");
	cr_assert(sh_instance_adding(a), "still unsaved");
	cr_assert_eq(sh_instance_pk(a), 0);
	/* inside an outer block the failure marks it: the whole block goes */
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *t = MAKE("shop.Tag", FV("name", T("gone")));
	cr_assert_eq(sh_instance_save(a, NULL), -62);
	cr_assert_eq(sh_atomic_end(fx.db, 0), -62);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_tag"), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 0);
	sh_instance_free(t);
	/* wrapped in a block of its own, only the save and its receivers' writes go */
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	t = MAKE("shop.Tag", FV("name", T("kept")));
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_atomic_end(fx.db, sh_instance_save(a, NULL)), -62);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	cr_assert_str_eq(sql_text("SELECT group_concat(name) FROM shop_tag"), "kept");
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 0);
	sh_instance_free(t);
	sh_instance_free(a);
	sh_instance_free(owner);
}

static int change_content(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	return sh_instance_set(((const sh_pre_save_args *)args)->instance, "content", T("changed"));
}

Test(save, pre_save_receivers_may_change_what_is_saved)
{
	setup_owner();
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_PRE_SAVE), change_content,
		NULL, NULL), 0);
	sh_instance *a = new_alert("orig");
	cr_assert_eq(sh_instance_save(a, NULL), 0);
	cr_assert_str_eq(sql_text("SELECT content FROM shop_alert"), "changed");
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save, options_version_is_checked)
{
	setup_owner();
	sh_instance *a = new_alert("v");
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.version = 99;
	cr_assert_eq(sh_instance_save(a, &opts), SH_EINVAL);
	cr_assert_eq(sh_instance_save(NULL, NULL), SH_EINVAL);
	sh_instance_free(a);
	sh_instance_free(owner);
}

/* ---- a failing save inside a block marks the block for rollback ---- */

TestSuite(save_in_block, .init = fx_setup, .fini = fx_teardown);

static char trail[64];

static void on_commit_note(void *payload)
{
	strcat(trail, payload);
}

static void on_commit_dropped(void *payload)
{
	strcat(trail, "~");
	strcat(trail, payload);
}

static int register_mail(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	return sh_on_commit(fx.db, on_commit_note, payload, on_commit_dropped);
}

static void connect_alert(sh_builtin id, sh_receiver_fn fn, void *payload)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = sh_model_sender(M("shop.Alert"));
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, id), fn, payload, &opts), 0);
}

Test(save_in_block, failing_post_save_marks_the_block_which_then_rolls_back_and_reports_it)
{
	setup_owner();
	connect_alert(SH_POST_SAVE, register_mail, "mail");
	connect_alert(SH_POST_SAVE, write_then_ok, NULL);
	static int code = -88;
	connect_failing(SH_POST_SAVE, "shop.Alert", &code);
	trail[0] = '\0';
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, on_commit_note, "before", on_commit_dropped), 0);
	sh_instance *earlier = MAKE("shop.Owner", FV("name", T("bob")));
	sh_instance *fresh = new_alert("fresh");
	cr_assert_eq(sh_instance_save(fresh, NULL), -88);
	cr_assert_str_eq(last_message(), "receiver vetoed", "the save's own error");
	cr_assert_eq(sh_instance_pk(fresh), 0, "no pk: the row goes with the block");
	cr_assert(sh_instance_adding(fresh));
	cr_assert_eq(sh_atomic_depth(fx.db), 1, "no block was opened or closed");
	cr_assert_str_eq(trail, "", "nothing is discarded before the block ends");
	int rc = sh_atomic_end(fx.db, 0);
	cr_assert_eq(rc, -88, "the block reports the failure even with status 0");
	cr_assert_eq(sh_error_last()->code, -88);
	cr_assert(strstr(last_message(), "rolled back") != NULL, "%s", last_message());
	cr_assert(strstr(last_message(), "receiver vetoed") != NULL, "the original reason: %s",
		last_message());
	cr_assert_str_eq(trail, "~before~mail", "every callback of the block is discarded");
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_tag"), 0, "the receiver's write too");
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_owner"), 1, "the earlier work too");
	cr_assert_eq(sh_atomic_depth(fx.db), 0);
	sh_instance_free(earlier);
	sh_instance_free(fresh);
	sh_instance_free(owner);
}

Test(save_in_block, a_save_wrapped_in_its_own_block_fails_alone)
{
	setup_owner();
	connect_alert(SH_POST_SAVE, register_mail, "mail");
	connect_alert(SH_POST_SAVE, write_then_ok, NULL);
	static int code = -89;
	connect_failing(SH_POST_SAVE, "shop.Alert", &code);
	trail[0] = '\0';
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_on_commit(fx.db, on_commit_note, "before", on_commit_dropped), 0);
	sh_instance *a = new_alert("x");
	int rc = sh_atomic_begin(fx.db);
	if (rc == 0)
		rc = sh_atomic_end(fx.db, sh_instance_save(a, NULL));
	cr_assert_eq(rc, -89);
	cr_assert_str_eq(trail, "~mail", "the failed save's callback is dropped with its block");
	sh_instance *later = MAKE("shop.Tag", FV("name", T("later")));
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0, "the outer block commits: %s", last_message());
	cr_assert_str_eq(trail, "~mailbefore");
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 0);
	cr_assert_str_eq(sql_text("SELECT group_concat(name) FROM shop_tag"), "later",
		"the failed save's receiver wrote nothing that stayed");
	sh_instance_free(later);
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save_in_block, failing_pre_save_writes_nothing_and_marks_the_block)
{
	setup_owner();
	static int code = -91;
	connect_failing(SH_PRE_SAVE, "shop.Alert", &code);
	sh_instance *a = new_alert("veto");
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_instance_save(a, NULL), -91);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 0, "nothing written by the save");
	cr_assert_eq(sh_atomic_end(fx.db, 0), -91);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 0);
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save_in_block, bad_options_fail_before_anything_and_leave_the_block_alone)
{
	setup_owner();
	sh_instance *a = new_alert("opts");
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	const char *bad[] = { "colour" };
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	cr_assert_eq(sh_instance_save(a, NULL), 0);
	opts.update_fields = bad;
	opts.update_fields_count = 1;
	cr_assert_eq(sh_instance_save(a, &opts), SH_EINVAL);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0, "Django raises these before save_base");
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 1);
	sh_instance_free(a);
	sh_instance_free(owner);
}

Test(save_in_block, the_first_failure_is_reported_and_a_status_wins)
{
	setup_owner();
	sh_instance *dup = NULL;
	sh_field_value v[] = { FV("name", T("ann")) };
	cr_assert_eq(sh_instance_new(&dup, fx.db, M("shop.Owner"), v, 1), 0);
	sh_instance *a = new_alert("n");
	cr_assert_eq(sh_instance_set(a, "level", sh_datum_null()), 0);
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_instance_save(dup, NULL), SH_EINTEGRITY);
	cr_assert_eq(sh_instance_save(a, NULL), SH_EINVAL);
	cr_assert_eq(sh_atomic_end(fx.db, 0), SH_EINTEGRITY, "the first failure");
	cr_assert(strstr(last_message(), "shop.Owner.name") != NULL, "%s", last_message());
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	cr_assert_eq(sh_instance_save(dup, NULL), SH_EINTEGRITY);
	cr_assert_eq(sh_atomic_end(fx.db, -7), -7, "a failing status is returned as it is");
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_owner"), 1);
	sh_instance_free(a);
	sh_instance_free(dup);
	sh_instance_free(owner);
}

static int mark_rollback(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	return sh_atomic_set_rollback(fx.db);
}

Test(save_errors, a_receiver_marking_the_saves_own_transaction_fails_the_save)
{
	setup_owner();
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_SAVE), mark_rollback,
		NULL, NULL), 0);
	sh_instance *a = new_alert("x");
	cr_assert_eq(sh_instance_save(a, NULL), SH_EDB);
	cr_assert(strstr(last_message(), "marked") != NULL, "%s", last_message());
	cr_assert_eq(sh_instance_pk(a), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 0);
	sh_instance_free(a);
	sh_instance_free(owner);
}
