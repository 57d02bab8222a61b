/*
 * connect.c: what identifies a connection and how connections go away.
 * Connecting an identity twice changes nothing (returns 1); identity is
 * (dispatch_uid, or else receiver and payload) with the sender filter;
 * disconnect by id, by receiver or by dispatch_uid reports whether it
 * removed something; sh_hub_disconnect_owner() removes an app's connections
 * across signals.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <sighost/sys/sighost.h>

static sh_hub *hub;
static sh_signal *post_save;
static const sh_sender *order, *customer;

static char trail[256];
static char a[] = "a", b[] = "b", c[] = "c";

static void setup(void)
{
	cr_assert_eq(sh_hub_new(&hub), 0);
	post_save = sh_hub_builtin(hub, SH_POST_SAVE);
	cr_assert_not_null(post_save);
	cr_assert_eq(sh_sender_intern(&order, hub, "shop.Order"), 0);
	cr_assert_eq(sh_sender_intern(&customer, hub, "shop.Customer"), 0);
	trail[0] = '\0';
}

static void teardown(void)
{
	sh_hub_free(hub);
	hub = NULL;
}

TestSuite(connect, .init = setup, .fini = teardown);
TestSuite(disconnect, .init = setup, .fini = teardown);

/* Appends its payload (a string) to the trail. */
static int append(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	strcat(trail, payload);
	return 0;
}

/* Same as append, as another function. */
static int append_too(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	strcat(trail, payload);
	strcat(trail, "'");
	return 0;
}

static sh_connect_opts opts_for(const sh_sender *sender, const char *uid, const char *owner)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = sender;
	opts.dispatch_uid = uid;
	opts.owner = owner;
	return opts;
}

static const char *send_from(sh_signal *sig, const sh_sender *sender)
{
	trail[0] = '\0';
	cr_assert_eq(sh_signal_send(sig, sender, NULL, NULL), 0);
	return trail;
}

/* ---- connect ---------------------------------------------------------- */

Test(connect, returns_zero_and_a_nonzero_id)
{
	sh_connection_id id1 = 0, id2 = 0;
	cr_assert_eq(sh_signal_connect(&id1, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(&id2, post_save, append, b, NULL), 0);
	cr_assert_neq(id1, 0);
	cr_assert_neq(id2, 0);
	cr_assert_neq(id1, id2);
	cr_assert_eq(sh_signal_connection_count(post_save), 2);
	/* out may be NULL. */
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, c, NULL), 0);
	cr_assert_eq(sh_signal_connection_count(post_save), 3);
}

Test(connect, same_receiver_payload_and_sender_twice_runs_once)
{
	sh_connection_id first = 0, again = 0;
	cr_assert_eq(sh_signal_connect(&first, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(&again, post_save, append, a, NULL), 1);
	cr_assert_eq(again, first, "a duplicate reports the existing connection's id");
	cr_assert_eq(sh_signal_connection_count(post_save), 1);
	cr_assert_str_eq(send_from(post_save, NULL), "a");

	sh_connect_opts for_order = opts_for(order, NULL, NULL);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, &for_order), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, &for_order), 1);
	cr_assert_str_eq(send_from(post_save, order), "ab");
}

Test(connect, same_receiver_with_another_sender_is_another_connection)
{
	sh_connect_opts for_order = opts_for(order, NULL, NULL);
	sh_connect_opts for_customer = opts_for(customer, NULL, NULL);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, &for_order), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, &for_customer), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_connection_count(post_save), 3);
	cr_assert_str_eq(send_from(post_save, order), "aa");
	cr_assert_str_eq(send_from(post_save, customer), "aa");
	cr_assert_str_eq(send_from(post_save, NULL), "a");
}

Test(connect, different_payload_is_another_connection)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, NULL), 0);
	cr_assert_eq(sh_signal_connection_count(post_save), 2);
	cr_assert_str_eq(send_from(post_save, NULL), "ab");
}

Test(connect, another_function_with_same_payload_is_another_connection)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append_too, a, NULL), 0);
	cr_assert_str_eq(send_from(post_save, NULL), "aa'");
}

Test(connect, same_dispatch_uid_and_sender_with_another_function_is_a_duplicate)
{
	sh_connect_opts uid_order = opts_for(order, "shop.audit", NULL);
	sh_connection_id first = 0, again = 0;
	cr_assert_eq(sh_signal_connect(&first, post_save, append, a, &uid_order), 0);
	cr_assert_eq(sh_signal_connect(&again, post_save, append_too, b, &uid_order), 1);
	cr_assert_eq(again, first);
	cr_assert_eq(sh_signal_connection_count(post_save), 1);
	cr_assert_str_eq(send_from(post_save, order), "a", "the first connection stays");
}

Test(connect, same_dispatch_uid_with_another_sender_is_another_connection)
{
	sh_connect_opts uid_order = opts_for(order, "shop.audit", NULL);
	sh_connect_opts uid_customer = opts_for(customer, "shop.audit", NULL);
	sh_connect_opts uid_any = opts_for(NULL, "shop.audit", NULL);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, &uid_order), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, &uid_customer), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, &uid_any), 0);
	cr_assert_eq(sh_signal_connection_count(post_save), 3);
	cr_assert_str_eq(send_from(post_save, order), "ab");
}

Test(connect, dispatch_uid_is_compared_by_content)
{
	char uid1[16] = "shop.audit", uid2[16] = "shop.audit";
	sh_connect_opts o1 = opts_for(NULL, uid1, NULL);
	sh_connect_opts o2 = opts_for(NULL, uid2, NULL);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, &o1), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, &o2), 1);
}

Test(connect, dispatch_uid_and_plain_connection_of_one_receiver_are_distinct)
{
	/* As Django: the lookup key is the uid when given, else the receiver. */
	sh_connect_opts with_uid = opts_for(NULL, "shop.audit", NULL);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, &with_uid), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, NULL), 0);
	cr_assert_str_eq(send_from(post_save, NULL), "aa");
}

Test(connect, connections_are_per_signal)
{
	sh_signal *pre_save = sh_hub_builtin(hub, SH_PRE_SAVE);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, pre_save, append, a, NULL), 0, "not a duplicate: another signal");
	cr_assert_str_eq(send_from(pre_save, NULL), "a");
	cr_assert_eq(sh_signal_connection_count(pre_save), 1);
	cr_assert_eq(sh_signal_connection_count(sh_hub_builtin(hub, SH_POST_DELETE)), 0);
}

Test(connect, rejects_null_signal_null_receiver_and_unknown_opts_version)
{
	cr_assert_eq(sh_signal_connect(NULL, NULL, append, a, NULL), SH_EINVAL);
	cr_assert_eq(sh_signal_connect(NULL, post_save, NULL, a, NULL), SH_EINVAL);
	sh_connect_opts future = SH_CONNECT_OPTS_INIT;
	future.version = SH_CONNECT_OPTS_VERSION + 100;
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, &future), SH_EINVAL);
	cr_assert_eq(sh_signal_connection_count(post_save), 0);
	cr_assert_str_eq(send_from(post_save, NULL), "");
}

static int copy_first_info(const sh_connection_info *info, void *payload)
{
	sh_connection_info *out = payload;
	*out = *info;
	/* The strings are only valid during the call: keep copies in statics. */
	static char uid[32], owner[32], name[32];
	snprintf(uid, sizeof uid, "%s", info->dispatch_uid ? info->dispatch_uid : "(null)");
	snprintf(owner, sizeof owner, "%s", info->owner ? info->owner : "(null)");
	snprintf(name, sizeof name, "%s", info->name ? info->name : "(null)");
	out->dispatch_uid = uid;
	out->owner = owner;
	out->name = name;
	return 1;
}

Test(connect, copies_uid_owner_and_name)
{
	char uid[16] = "uid-1", owner[16] = "shop", name[16] = "on_save";
	sh_connect_opts opts = opts_for(order, uid, owner);
	opts.name = name;
	sh_connection_id id = 0;
	cr_assert_eq(sh_signal_connect(&id, post_save, append, a, &opts), 0);
	memset(uid, 'x', sizeof uid - 1);
	memset(owner, 'y', sizeof owner - 1);
	memset(name, 'z', sizeof name - 1);

	sh_connection_info info;
	memset(&info, 0, sizeof info);
	cr_assert_eq(sh_signal_foreach_connection(post_save, copy_first_info, &info), 1);
	cr_assert_eq(info.id, id);
	cr_assert_str_eq(info.dispatch_uid, "uid-1");
	cr_assert_str_eq(info.owner, "shop");
	cr_assert_str_eq(info.name, "on_save");
	cr_assert_eq(info.sender, order);
}

Test(connect, null_opts_means_defaults)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, NULL), 0);
	sh_connection_info info;
	memset(&info, 0, sizeof info);
	cr_assert_eq(sh_signal_foreach_connection(post_save, copy_first_info, &info), 1);
	cr_assert(info.receiver == append);
	cr_assert_eq(info.payload, a);
	cr_assert_null(info.sender);
	cr_assert_str_eq(info.dispatch_uid, "(null)");
	cr_assert_str_eq(info.owner, "(null)");
	cr_assert_str_eq(info.name, "(null)");
	cr_assert_eq(info.priority, SH_PRIORITY_MIDDLE);
}

/* ---- disconnect ------------------------------------------------------- */

Test(disconnect, by_id_returns_1_then_0)
{
	sh_connection_id ida = 0, idb = 0;
	cr_assert_eq(sh_signal_connect(&ida, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(&idb, post_save, append, b, NULL), 0);
	cr_assert_eq(sh_signal_disconnect(post_save, ida), 1);
	cr_assert_eq(sh_signal_disconnect(post_save, ida), 0);
	cr_assert_eq(sh_signal_connection_count(post_save), 1);
	cr_assert_str_eq(send_from(post_save, NULL), "b");
}

Test(disconnect, by_id_of_another_signal_or_zero_removes_nothing)
{
	sh_connection_id id = 0;
	cr_assert_eq(sh_signal_connect(&id, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_disconnect(sh_hub_builtin(hub, SH_PRE_SAVE), id), 0);
	cr_assert_eq(sh_signal_disconnect(post_save, 0), 0);
	cr_assert_str_eq(send_from(post_save, NULL), "a");
}

Test(disconnect, by_receiver_payload_and_sender_returns_1_then_0)
{
	sh_connect_opts for_order = opts_for(order, NULL, NULL);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, &for_order), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, &for_order), 0);

	/* Only the exact (receiver, payload, sender) goes. */
	cr_assert_eq(sh_signal_disconnect_receiver(post_save, append, a, customer), 0);
	cr_assert_eq(sh_signal_disconnect_receiver(post_save, append, c, order), 0);
	cr_assert_eq(sh_signal_disconnect_receiver(post_save, append_too, a, order), 0);
	cr_assert_eq(sh_signal_disconnect_receiver(post_save, append, a, order), 1);
	cr_assert_eq(sh_signal_disconnect_receiver(post_save, append, a, order), 0);
	cr_assert_str_eq(send_from(post_save, order), "ab");

	cr_assert_eq(sh_signal_disconnect_receiver(post_save, append, a, NULL), 1);
	cr_assert_eq(sh_signal_disconnect_receiver(post_save, append, a, NULL), 0);
	cr_assert_str_eq(send_from(post_save, order), "b");
}

Test(disconnect, by_receiver_leaves_dispatch_uid_connections)
{
	sh_connect_opts with_uid = opts_for(NULL, "shop.audit", NULL);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, &with_uid), 0);
	cr_assert_eq(sh_signal_disconnect_receiver(post_save, append, a, NULL), 0);
	cr_assert_str_eq(send_from(post_save, NULL), "a");
}

Test(disconnect, by_dispatch_uid_and_sender_returns_1_then_0)
{
	sh_connect_opts uid_order = opts_for(order, "shop.audit", NULL);
	sh_connect_opts uid_any = opts_for(NULL, "shop.audit", NULL);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, &uid_order), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, &uid_any), 0);

	cr_assert_eq(sh_signal_disconnect_uid(post_save, "shop.audit", customer), 0);
	cr_assert_eq(sh_signal_disconnect_uid(post_save, "other", order), 0);
	cr_assert_eq(sh_signal_disconnect_uid(post_save, "shop.audit", order), 1);
	cr_assert_eq(sh_signal_disconnect_uid(post_save, "shop.audit", order), 0);
	cr_assert_str_eq(send_from(post_save, order), "b");
	cr_assert_eq(sh_signal_disconnect_uid(post_save, "shop.audit", NULL), 1);
	cr_assert_eq(sh_signal_connection_count(post_save), 0);
}

Test(disconnect, by_null_dispatch_uid_is_einval)
{
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_disconnect_uid(post_save, NULL, NULL), SH_EINVAL);
	cr_assert_eq(sh_signal_connection_count(post_save), 1);
}

Test(disconnect, then_connect_again_is_a_new_connection)
{
	sh_connection_id id = 0;
	cr_assert_eq(sh_signal_connect(&id, post_save, append, a, NULL), 0);
	cr_assert_eq(sh_signal_disconnect(post_save, id), 1);
	cr_assert_eq(sh_signal_connect(&id, post_save, append, a, NULL), 0);
	cr_assert_neq(id, 0);
	cr_assert_str_eq(send_from(post_save, NULL), "a");
}

Test(disconnect, owner_removes_all_of_its_connections_across_signals)
{
	sh_signal *pre_save = sh_hub_builtin(hub, SH_PRE_SAVE);
	sh_signal *custom = NULL;
	cr_assert_eq(sh_signal_named(&custom, hub, "billing.invoice_paid"), 0);

	sh_connect_opts billing = opts_for(NULL, NULL, "billing");
	sh_connect_opts billing_order = opts_for(order, "billing.uid", "billing");
	sh_connect_opts audit = opts_for(NULL, NULL, "audit");
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, a, &billing), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, b, &audit), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, c, NULL), 0);
	cr_assert_eq(sh_signal_connect(NULL, post_save, append_too, a, &billing_order), 0);
	cr_assert_eq(sh_signal_connect(NULL, pre_save, append, a, &billing), 0);
	cr_assert_eq(sh_signal_connect(NULL, custom, append, a, &billing), 0);
	cr_assert_eq(sh_signal_connect(NULL, custom, append, b, &audit), 0);

	cr_assert_eq(sh_hub_disconnect_owner(hub, "billing"), 4);
	cr_assert_eq(sh_hub_disconnect_owner(hub, "billing"), 0);
	cr_assert_eq(sh_hub_disconnect_owner(hub, "nobody"), 0);

	cr_assert_eq(sh_signal_connection_count(post_save), 2);
	cr_assert_eq(sh_signal_connection_count(pre_save), 0);
	cr_assert_eq(sh_signal_connection_count(custom), 1);
	cr_assert_str_eq(send_from(post_save, order), "bc");
	cr_assert_str_eq(send_from(custom, NULL), "b");
	cr_assert_str_eq(send_from(pre_save, NULL), "");
}
