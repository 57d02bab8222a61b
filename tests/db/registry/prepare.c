/*
 * prepare.c: sh_models_prepare(): relations resolved in either
 * declaration order and across apps, the automatic join models (names,
 * fields, sender, place), explicit `through` models, reverse names and
 * their clashes, class_prepared (once per model, in order, joins right
 * after their model), look-ups without regard to case, and a failed
 * prepare that leaves the registry as declared.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

TestSuite(prepare, .init = reg_setup, .fini = reg_teardown);

static char heard[4096];
static int heard_count;

static int on_prepared(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)response, (void)payload;
	const sh_class_prepared_args *a = args;
	cr_assert_eq(sender, sh_model_sender(a->model), "the sender is the model's");
	size_t used = strlen(heard);
	snprintf(heard + used, sizeof heard - used, "%s\n", sh_model_label(a->model));
	heard_count++;
	return 0;
}

static void listen(void)
{
	heard[0] = '\0';
	heard_count = 0;
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(hub, SH_CLASS_PREPARED), on_prepared,
		NULL, NULL), 0);
}

static void prepare_ok(void)
{
	int rc = sh_models_prepare(models);
	cr_assert_eq(rc, 0, "prepare: %s\n%s", sh_error_last()->message, problems);
	cr_assert(sh_models_prepared(models));
}

/* Alert (alert) -> Owner (people), with the target declared after or before. */
static void owner_and_alert(bool owner_first)
{
	sh_field_decl owner[] = { fd("name", SH_FIELD_TEXT) };
	sh_field_decl alert[] = { fk("owner", "people.Owner") };
	if (owner_first)
		declare_ok("people", "Owner", owner, N(owner));
	declare_ok("alert", "Alert", alert, N(alert));
	if (!owner_first)
		declare_ok("people", "Owner", owner, N(owner));
	prepare_ok();
	const sh_field *f = sh_model_field(model("alert.Alert"), "owner");
	cr_assert_eq(sh_field_target(f), model("people.Owner"));
	cr_assert_null(sh_field_through(f));
}

Test(prepare, a_key_to_a_model_declared_later_is_resolved)
{
	owner_and_alert(false);
}

Test(prepare, a_key_to_a_model_declared_earlier_is_resolved)
{
	owner_and_alert(true);
}

Test(prepare, a_bare_name_means_the_declaring_app_and_self_the_model)
{
	sh_field_decl tag[] = { fd("name", SH_FIELD_TEXT) };
	sh_field_decl node[] = { fk("tag", "tag"), fk("parent", "self") };
	node[1].null = true;
	node[1].related_name = "children";
	declare_ok("graph", "Node", node, N(node));
	declare_ok("graph", "Tag", tag, N(tag));
	declare_ok("other", "Tag", tag, N(tag));
	prepare_ok();
	const sh_model *m = model("graph.Node");
	cr_assert_eq(sh_field_target(sh_model_field(m, "tag")), model("graph.Tag"),
		"'tag' is graph's Tag, matched without regard to case");
	cr_assert_eq(sh_field_target(sh_model_field(m, "parent")), m);
}

Test(prepare, an_unknown_target_is_named_with_a_suggestion)
{
	sh_field_decl owner[] = { fd("name", SH_FIELD_TEXT) };
	sh_field_decl alert[] = { fk("owner", "people.Ownr"), fk("author", "nobody.Here") };
	alert[0].where = "alert.yaml:5:7";
	declare_ok("people", "Owner", owner, N(owner));
	declare_ok("alert", "Alert", alert, N(alert));
	listen();
	cr_assert_eq(sh_models_prepare(models), SH_EMANIFEST);
	assert_problem("[SH_EMANIFEST] alert.yaml:5:7: alert.Alert.owner: 'to' 'people.Ownr' is "
		"not a declared model (did you mean 'people.Owner'?)");
	assert_problem("alert.Alert.author: 'to' 'nobody.Here' is not a declared model (no "
		"installed app declares it)");
	cr_assert_eq(problem_count, 2);
	cr_assert_str_eq(sh_error_last()->message, "alert.yaml:5:7: alert.Alert.owner: 'to' "
		"'people.Ownr' is not a declared model (did you mean 'people.Owner'?)");
	cr_assert_not(sh_models_prepared(models));
	cr_assert_eq(heard_count, 0, "no class_prepared on a problem");
	cr_assert_null(sh_field_target(sh_model_field(model("alert.Alert"), "owner")));
}

Test(prepare, a_failed_prepare_can_be_retried_once_fixed)
{
	sh_field_decl alert[] = { m2m("tags", "Tag") };
	declare_ok("alert", "Alert", alert, N(alert));
	cr_assert_eq(sh_models_prepare(models), SH_EMANIFEST);
	cr_assert_eq(sh_models_count(models), 1, "no join model is left behind");
	declare_ok("alert", "Tag", NULL, 0);
	listen();
	prepare_ok();
	cr_assert_str_eq(heard, "alert.Alert_tags\nalert.Alert\nalert.Tag\n");
	cr_assert_eq(sh_models_count(models), 3);
}

Test(prepare, the_automatic_join_model_is_djangos)
{
	sh_field_decl tag[] = { fd("name", SH_FIELD_TEXT) };
	sh_field_decl alert[] = { fd("content", SH_FIELD_TEXT), m2m("tags", "labels.Tag") };
	declare_ok("alert", "Alert", alert, N(alert));
	declare_ok("labels", "Tag", tag, N(tag));
	prepare_ok();
	const sh_model *a = model("alert.Alert"), *t = model("labels.Tag");
	const sh_model *join = model("alert.Alert_tags");
	cr_assert_eq(sh_models_count(models), 3);
	cr_assert_eq(sh_models_at(models, 1), join, "right after its model");
	cr_assert(sh_model_auto_created(join));
	cr_assert_str_eq(sh_model_name(join), "Alert_tags");
	cr_assert_str_eq(sh_model_app_label(join), "alert");
	cr_assert_str_eq(sh_model_table(join), "alert_alert_tags");
	cr_assert_str_eq(sh_sender_name(sh_model_sender(join)), "alert.Alert_tags");
	cr_assert_eq(sh_model_field_count(join), 3);
	const sh_field *id = sh_model_field_at(join, 0);
	const sh_field *from = sh_model_field_at(join, 1), *to = sh_model_field_at(join, 2);
	cr_assert_str_eq(sh_field_name(id), "id");
	cr_assert(sh_field_primary_key(id));
	cr_assert_str_eq(sh_field_name(from), "alert");
	cr_assert_str_eq(sh_field_column(from), "alert_id");
	cr_assert_eq(sh_field_type_of(from), SH_FIELD_FOREIGN_KEY);
	cr_assert_eq(sh_field_target(from), a);
	cr_assert_eq(sh_field_on_delete(from), SH_ON_DELETE_CASCADE);
	cr_assert_str_eq(sh_field_related_name(from), "Alert_tags+", "hidden, as Django's");
	cr_assert_str_eq(sh_field_name(to), "tag");
	cr_assert_eq(sh_field_target(to), t);
	const sh_field *tags = sh_model_field(a, "tags");
	cr_assert_eq(sh_field_target(tags), t);
	cr_assert_eq(sh_field_through(tags), join);
	cr_assert_str_eq(sh_field_related_name(tags), "alert_set");
}

Test(prepare, a_relation_to_itself_uses_from_and_to)
{
	sh_field_decl person[] = { m2m("friends", "self") };
	declare_ok("social", "Person", person, N(person));
	prepare_ok();
	const sh_model *join = model("social.Person_friends");
	cr_assert_str_eq(sh_field_name(sh_model_field_at(join, 1)), "from_person");
	cr_assert_str_eq(sh_field_name(sh_model_field_at(join, 2)), "to_person");
	cr_assert_str_eq(sh_field_column(sh_model_field_at(join, 2)), "to_person_id");
	cr_assert_eq(sh_field_target(sh_model_field_at(join, 2)), model("social.Person"));
}

Test(prepare, models_of_one_name_in_two_apps_also_use_from_and_to)
{
	sh_field_decl tag[] = { m2m("related", "b.Tag") };
	declare_ok("a", "Tag", tag, N(tag));
	declare_ok("b", "Tag", NULL, 0);
	prepare_ok();
	const sh_model *join = model("a.Tag_related");
	cr_assert_str_eq(sh_field_name(sh_model_field_at(join, 1)), "from_tag");
	cr_assert_eq(sh_field_target(sh_model_field_at(join, 1)), model("a.Tag"));
	cr_assert_str_eq(sh_field_name(sh_model_field_at(join, 2)), "to_tag");
	cr_assert_eq(sh_field_target(sh_model_field_at(join, 2)), model("b.Tag"));
}

Test(prepare, the_join_table_keeps_the_field_name_as_written)
{
	sh_field_decl shop[] = { m2m("Items", "Item") };
	declare_ok("shop", "Item", NULL, 0);
	declare_ok("shop", "Cart", shop, N(shop));
	prepare_ok();
	cr_assert_str_eq(sh_model_table(model("shop.Cart_Items")), "shop_cart_Items");
}

/* Group and Person with an explicit through model Membership of `keys`. */
static int with_through(const sh_field_decl *keys, size_t count)
{
	sh_field_decl person[] = { fd("name", SH_FIELD_TEXT) };
	sh_field_decl group[] = { m2m("members", "Person") };
	group[0].through = "Membership";
	declare_ok("club", "Person", person, N(person));
	declare_ok("club", "Group", group, N(group));
	declare_ok("club", "Membership", keys, count);
	return sh_models_prepare(models);
}

Test(prepare, an_explicit_through_model_is_used)
{
	sh_field_decl keys[] = { fk("person", "Person"), fk("group", "Group"),
		fd("since", SH_FIELD_DATE) };
	cr_assert_eq(with_through(keys, N(keys)), 0, "%s", problems);
	const sh_field *members = sh_model_field(model("club.Group"), "members");
	cr_assert_eq(sh_field_through(members), model("club.Membership"));
	cr_assert_eq(sh_models_count(models), 3, "no automatic join model");
	cr_assert_not(sh_model_auto_created(model("club.Membership")));
}

Test(prepare, a_through_model_needs_one_key_to_each_side)
{
	sh_field_decl keys[] = { fk("person", "Person") };
	cr_assert_eq(with_through(keys, N(keys)), SH_EMANIFEST);
	assert_problem("club.Group.members: the through model club.Membership has no foreign key "
		"to club.Group");
	cr_assert_not(sh_models_prepared(models));
}

Test(prepare, a_through_model_with_two_keys_to_a_side_is_ambiguous)
{
	sh_field_decl keys[] = { fk("person", "Person"), fk("group", "Group"),
		fk("sponsor", "Person") };
	keys[2].related_name = "sponsored";
	cr_assert_eq(with_through(keys, N(keys)), SH_EMANIFEST);
	assert_problem("club.Group.members: the through model club.Membership has 2 foreign keys "
		"to club.Person, which is ambiguous (it needs exactly one)");
}

Test(prepare, an_unknown_through_model_is_named)
{
	sh_field_decl group[] = { m2m("members", "Group") };
	group[0].through = "Membrship";
	declare_ok("club", "Group", group, N(group));
	declare_ok("club", "Membership", NULL, 0);
	cr_assert_eq(sh_models_prepare(models), SH_EMANIFEST);
	assert_problem("club.Group.members: 'through' 'club.Membrship' is not a declared model "
		"(did you mean 'club.Membership'?)");
}

Test(prepare, a_reverse_name_must_not_clash_with_a_field_of_the_target)
{
	sh_field_decl owner[] = { fd("alerts", SH_FIELD_INTEGER) };
	sh_field_decl alert[] = { fk("owner", "Owner") };
	alert[0].related_name = "alerts";
	declare_ok("app", "Owner", owner, N(owner));
	declare_ok("app", "Alert", alert, N(alert));
	cr_assert_eq(sh_models_prepare(models), SH_EMANIFEST);
	assert_problem("app.Alert.owner: the reverse relation 'alerts' on app.Owner clashes with "
		"its field 'alerts'");
}

Test(prepare, two_relations_to_one_model_need_distinct_reverse_names)
{
	sh_field_decl user[] = { fd("name", SH_FIELD_TEXT) };
	sh_field_decl alert[] = { fk("author", "User"), fk("reviewer", "User") };
	declare_ok("app", "User", user, N(user));
	declare_ok("app", "Alert", alert, N(alert));
	cr_assert_eq(sh_models_prepare(models), SH_EMANIFEST);
	assert_problem("app.Alert.reviewer: the reverse relation 'alert_set' on app.User clashes "
		"with the one of app.Alert.author");
	cr_assert_eq(problem_count, 1);
}

Test(prepare, distinct_or_hidden_reverse_names_do_not_clash)
{
	sh_field_decl user[] = { fd("name", SH_FIELD_TEXT) };
	sh_field_decl alert[] = { fk("author", "User"), fk("reviewer", "User"), fk("editor", "User"),
		fk("approver", "User") };
	alert[1].related_name = "reviewed_alerts";
	alert[2].related_name = "+";
	alert[3].related_name = "+";
	declare_ok("app", "User", user, N(user));
	declare_ok("app", "Alert", alert, N(alert));
	prepare_ok();
	cr_assert_str_eq(sh_field_related_name(sh_model_field(model("app.Alert"), "author")),
		"alert_set");
}

Test(prepare, a_join_model_must_not_clash_with_a_declared_model)
{
	sh_field_decl alert[] = { m2m("tags", "Tag") };
	declare_ok("alert", "Tag", NULL, 0);
	declare_ok("alert", "Alert", alert, N(alert));
	declare_ok("alert", "Alert_Tags", NULL, 0);
	cr_assert_eq(sh_models_prepare(models), SH_EMANIFEST);
	assert_problem("the automatic join model alert.Alert_tags clashes with the model "
		"alert.Alert_Tags");
	cr_assert_eq(sh_models_count(models), 3);
}

Test(prepare, two_models_must_not_share_a_table)
{
	declare_ok("shop", "Cart_item", NULL, 0);
	declare_ok("shop_cart", "Item", NULL, 0);
	cr_assert_eq(sh_models_prepare(models), SH_EMANIFEST);
	assert_problem("shop_cart.Item: its table 'shop_cart_item' is also the table of "
		"shop.Cart_item");
}

Test(prepare, class_prepared_goes_once_per_model_in_order_joins_just_before_their_model)
{
	listen();
	sh_field_decl owner[] = { fd("name", SH_FIELD_TEXT) };
	sh_field_decl tag[] = { fd("name", SH_FIELD_TEXT) };
	sh_field_decl alert[] = { fk("owner", "Owner"), m2m("tags", "Tag"),
		m2m("watchers", "Owner") };
	alert[2].related_name = "watched";
	declare_ok("alert", "Alert", alert, N(alert));
	declare_ok("alert", "Owner", owner, N(owner));
	declare_ok("alert", "Tag", tag, N(tag));
	cr_assert_eq(heard_count, 0, "declaring sends nothing");
	prepare_ok();
	cr_assert_str_eq(heard, "alert.Alert_tags\nalert.Alert_watchers\nalert.Alert\n"
		"alert.Owner\nalert.Tag\n");
	cr_assert_eq(heard_count, 5);
	cr_assert_eq(sh_models_count(models), 5);
	for (size_t i = 0; i < sh_models_count(models); i++)
		cr_assert_not_null(sh_models_at(models, i));
	cr_assert_eq(sh_models_prepare(models), SH_EINVAL, "prepared once");
	cr_assert_eq(heard_count, 5);
}

static int refuse(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	return sh_error_set(-77, "not today");
}

Test(prepare, a_failing_class_prepared_receiver_stops_the_sends)
{
	listen();
	const sh_sender *b = NULL;
	cr_assert_eq(sh_sender_intern(&b, hub, "app.B"), 0);
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = b;
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(hub, SH_CLASS_PREPARED), refuse, NULL,
		&opts), 0);
	declare_ok("app", "A", NULL, 0);
	declare_ok("app", "B", NULL, 0);
	declare_ok("app", "C", NULL, 0);
	cr_assert_eq(sh_models_prepare(models), -77);
	cr_assert_str_eq(sh_error_last()->message, "a class_prepared receiver failed for app.B: "
		"not today");
	cr_assert_str_eq(heard, "app.A\napp.B\n", "C is not announced");
}

Test(prepare, lookups_match_the_model_name_without_regard_to_case)
{
	declare_ok("alert", "Alert", NULL, 0);
	cr_assert_eq(model("alert.alert"), model("alert.Alert"));
	cr_assert_eq(model("alert.ALERT"), model("alert.Alert"));
	const sh_model *m = NULL;
	cr_assert_eq(sh_models_lookup(&m, models, "Alert.Alert"), SH_ENOTFOUND,
		"the app label is matched exactly");
	cr_assert_eq(sh_models_lookup(&m, models, "alert.Nope"), SH_ENOTFOUND);
	cr_assert_str_eq(sh_error_last()->message, "no model 'alert.Nope'");
	cr_assert_eq(sh_models_lookup(&m, models, "Alert"), SH_ENOTFOUND);
	cr_assert_not_null(strstr(sh_error_last()->message, "app_label.ModelName"));
	cr_assert_eq(sh_models_lookup(&m, models, NULL), SH_EINVAL);
	cr_assert_eq(sh_models_lookup(NULL, models, "alert.Alert"), SH_EINVAL);
	cr_assert_eq(sh_models_hub(models), hub);
	cr_assert_not(sh_models_prepared(models));
}
