/*
 * senders.c: sender filtering. A receiver connected for a sender hears only
 * that sender; one connected for any sender (NULL) hears every send; a send
 * without a sender reaches only the any-sender receivers; the two kinds run
 * in one global connection order; has_listeners counts both.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <sighost/sys/sighost.h>

static sh_hub *hub;
static sh_signal *post_save;
static const sh_sender *order, *customer, *invoice;
static char trail[256];
static char a[] = "a", b[] = "b", c[] = "c", d[] = "d", e[] = "e";

static void setup(void)
{
	cr_assert_eq(sh_hub_new(&hub), 0);
	post_save = sh_hub_builtin(hub, SH_POST_SAVE);
	cr_assert_eq(sh_sender_intern(&order, hub, "shop.Order"), 0);
	cr_assert_eq(sh_sender_intern(&customer, hub, "shop.Customer"), 0);
	cr_assert_eq(sh_sender_intern(&invoice, hub, "billing.Invoice"), 0);
	trail[0] = '\0';
}

static void teardown(void)
{
	sh_hub_free(hub);
	hub = NULL;
}

TestSuite(senders, .init = setup, .fini = teardown);

/* Appends its payload to the trail. */
static int append(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	strcat(trail, payload);
	return 0;
}

static void connect_for(const sh_sender *sender, char *tag)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = sender;
	cr_assert_eq(sh_signal_connect(NULL, post_save, append, tag, &opts), 0);
}

static const char *send_from(const sh_sender *sender)
{
	trail[0] = '\0';
	cr_assert_eq(sh_signal_send(post_save, sender, NULL, NULL), 0);
	return trail;
}

Test(senders, specific_receiver_hears_only_its_sender)
{
	connect_for(order, a);
	cr_assert_str_eq(send_from(order), "a");
	cr_assert_str_eq(send_from(customer), "");
	cr_assert_str_eq(send_from(NULL), "");
}

Test(senders, any_sender_receiver_hears_every_sender)
{
	connect_for(NULL, a);
	cr_assert_str_eq(send_from(order), "a");
	cr_assert_str_eq(send_from(customer), "a");
	cr_assert_str_eq(send_from(NULL), "a");
}

Test(senders, send_without_sender_reaches_only_any_sender_receivers)
{
	connect_for(order, a);
	connect_for(NULL, b);
	connect_for(customer, c);
	connect_for(NULL, d);
	cr_assert_str_eq(send_from(NULL), "bd");
}

Test(senders, interleaved_any_and_specific_keep_connection_order)
{
	connect_for(NULL, a);
	connect_for(order, b);
	connect_for(customer, c);
	connect_for(NULL, d);
	connect_for(order, e);
	cr_assert_str_eq(send_from(order), "abde");
	cr_assert_str_eq(send_from(customer), "acd");
	cr_assert_str_eq(send_from(invoice), "ad");

	/* Responses follow the same order and name the connection. */
	sh_responses out = SH_RESPONSES_INIT;
	cr_assert_eq(sh_signal_send(post_save, order, NULL, &out), 0);
	cr_assert_eq(out.count, 4);
	cr_assert_eq(out.items[0].payload, a);
	cr_assert_eq(out.items[1].payload, b);
	cr_assert_eq(out.items[2].payload, d);
	cr_assert_eq(out.items[3].payload, e);
	sh_responses_dispose(&out);
}

Test(senders, interned_by_name_matches_the_connected_sender)
{
	/* Connect with the name interned now, send with the same name interned later. */
	connect_for(order, a);
	const sh_sender *again = NULL;
	cr_assert_eq(sh_sender_intern(&again, hub, "shop.Order"), 0);
	cr_assert_str_eq(send_from(again), "a");
}

static int record_sender(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)args, (void)response;
	*(const sh_sender **)payload = sender;
	return 0;
}

Test(senders, any_sender_receiver_is_told_the_actual_sender)
{
	const sh_sender *seen = order;
	cr_assert_eq(sh_signal_connect(NULL, post_save, record_sender, &seen, NULL), 0);
	cr_assert_eq(sh_signal_send(post_save, customer, NULL, NULL), 0);
	cr_assert_eq(seen, customer);
	cr_assert_eq(sh_signal_send(post_save, NULL, NULL, NULL), 0);
	cr_assert_null(seen);
}

Test(senders, has_listeners_counts_specific_and_any_sender_receivers)
{
	cr_assert_not(sh_signal_has_listeners(post_save, order));
	cr_assert_not(sh_signal_has_listeners(post_save, NULL));

	connect_for(order, a);
	cr_assert(sh_signal_has_listeners(post_save, order));
	cr_assert_not(sh_signal_has_listeners(post_save, customer));
	cr_assert_not(sh_signal_has_listeners(post_save, NULL));

	sh_connection_id any = 0;
	cr_assert_eq(sh_signal_connect(&any, post_save, append, b, NULL), 0);
	cr_assert(sh_signal_has_listeners(post_save, order));
	cr_assert(sh_signal_has_listeners(post_save, customer));
	cr_assert(sh_signal_has_listeners(post_save, NULL));

	cr_assert_eq(sh_signal_disconnect(post_save, any), 1);
	cr_assert_not(sh_signal_has_listeners(post_save, customer));
	cr_assert_eq(sh_signal_disconnect_receiver(post_save, append, a, order), 1);
	cr_assert_not(sh_signal_has_listeners(post_save, order));
}
