/*
 * custom.c: custom signals named and declared by plugins. Naming a new
 * custom signal creates it undeclared (receivers may connect before its
 * plugin loads); declaring keeps the first owner; built-in names are not
 * declarable; lookup never creates; foreach_signal lists the built-ins then
 * the customs in creation order.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <sighost/sys/sighost.h>

static sh_hub *hub;
static char trail[64];

static void setup(void)
{
	cr_assert_eq(sh_hub_new(&hub), 0);
	trail[0] = '\0';
}

static void teardown(void)
{
	sh_hub_free(hub);
	hub = NULL;
}

TestSuite(custom, .init = setup, .fini = teardown);

static int append(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	strcat(trail, payload);
	return 0;
}

Test(custom, named_creates_an_undeclared_signal)
{
	sh_signal *sig = NULL, *again = NULL;
	cr_assert_eq(sh_signal_named(&sig, hub, "billing.invoice_paid"), 0);
	cr_assert_not_null(sig);
	cr_assert_str_eq(sh_signal_name(sig), "billing.invoice_paid");
	cr_assert_not(sh_signal_is_builtin(sig));
	cr_assert_null(sh_signal_declared_by(sig));
	cr_assert_eq(sh_signal_hub(sig), hub);
	cr_assert_eq(sh_signal_connection_count(sig), 0);

	cr_assert_eq(sh_signal_named(&again, hub, "billing.invoice_paid"), 0);
	cr_assert_eq(again, sig);
}

Test(custom, named_copies_the_name)
{
	char name[32] = "billing.invoice_paid";
	sh_signal *sig = NULL, *found = NULL;
	cr_assert_eq(sh_signal_named(&sig, hub, name), 0);
	memset(name, 'x', sizeof name - 1);
	cr_assert_str_eq(sh_signal_name(sig), "billing.invoice_paid");
	cr_assert_eq(sh_signal_lookup(&found, hub, "billing.invoice_paid"), 0);
	cr_assert_eq(found, sig);
}

Test(custom, named_with_a_builtin_name_returns_the_builtin)
{
	sh_signal *sig = NULL;
	cr_assert_eq(sh_signal_named(&sig, hub, "post_save"), 0);
	cr_assert_eq(sig, sh_hub_builtin(hub, SH_POST_SAVE));
	cr_assert_eq(sh_signal_named(&sig, hub, "connection_created"), 0);
	cr_assert_eq(sig, sh_hub_builtin(hub, SH_CONNECTION_CREATED));
}

Test(custom, named_rejects_null_and_empty_names)
{
	sh_signal *sig = NULL;
	cr_assert_eq(sh_signal_named(&sig, hub, NULL), SH_EINVAL);
	cr_assert_eq(sh_signal_named(&sig, hub, ""), SH_EINVAL);
}

Test(custom, receiver_connected_before_declare_runs_after_it)
{
	static char early[] = "e", late[] = "l";
	sh_signal *named = NULL, *declared = NULL;
	cr_assert_eq(sh_signal_named(&named, hub, "billing.invoice_paid"), 0);
	cr_assert_eq(sh_signal_connect(NULL, named, append, early, NULL), 0);

	cr_assert_eq(sh_signal_declare(&declared, hub, "billing.invoice_paid", "billing"), 0);
	cr_assert_eq(declared, named, "declaring an already named signal returns it");
	cr_assert_str_eq(sh_signal_declared_by(declared), "billing");
	cr_assert_eq(sh_signal_connection_count(declared), 1);

	cr_assert_eq(sh_signal_connect(NULL, declared, append, late, NULL), 0);
	cr_assert_eq(sh_signal_send(declared, NULL, NULL, NULL), 0);
	cr_assert_str_eq(trail, "el");
}

Test(custom, declaring_twice_returns_the_same_signal_and_keeps_the_first_owner)
{
	sh_signal *first = NULL, *second = NULL;
	cr_assert_eq(sh_signal_declare(&first, hub, "billing.invoice_paid", "billing"), 0);
	cr_assert_not_null(first);
	cr_assert_str_eq(sh_signal_declared_by(first), "billing");
	cr_assert_eq(sh_signal_declare(&second, hub, "billing.invoice_paid", "intruder"), 0);
	cr_assert_eq(second, first);
	cr_assert_str_eq(sh_signal_declared_by(first), "billing");
}

Test(custom, declare_creates_a_new_signal)
{
	sh_signal *sig = NULL, *found = NULL;
	cr_assert_eq(sh_signal_declare(&sig, hub, "alert.escalated", "alert"), 0);
	cr_assert_str_eq(sh_signal_name(sig), "alert.escalated");
	cr_assert_not(sh_signal_is_builtin(sig));
	cr_assert_eq(sh_signal_lookup(&found, hub, "alert.escalated"), 0);
	cr_assert_eq(found, sig);
}

Test(custom, declaring_a_builtin_name_is_einval)
{
	sh_signal *sig = NULL;
	cr_assert_eq(sh_signal_declare(&sig, hub, "post_save", "billing"), SH_EINVAL);
	cr_assert_eq(sh_signal_declare(&sig, hub, "request_finished", NULL), SH_EINVAL);
	cr_assert_null(sh_signal_declared_by(sh_hub_builtin(hub, SH_POST_SAVE)));
}

Test(custom, declare_rejects_null_and_empty_names)
{
	sh_signal *sig = NULL;
	cr_assert_eq(sh_signal_declare(&sig, hub, NULL, "billing"), SH_EINVAL);
	cr_assert_eq(sh_signal_declare(&sig, hub, "", "billing"), SH_EINVAL);
}

Test(custom, lookup_finds_builtins_and_existing_customs_only)
{
	sh_signal *sig = NULL;
	cr_assert_eq(sh_signal_lookup(&sig, hub, "billing.unknown"), SH_ENOTFOUND);
	cr_assert_eq(sh_signal_lookup(&sig, hub, "billing.unknown"), SH_ENOTFOUND,
		"a failed lookup creates nothing");
	cr_assert_eq(sh_signal_lookup(&sig, hub, "pre_migrate"), 0);
	cr_assert_eq(sig, sh_hub_builtin(hub, SH_PRE_MIGRATE));

	sh_signal *named = NULL;
	cr_assert_eq(sh_signal_named(&named, hub, "billing.unknown"), 0);
	cr_assert_eq(sh_signal_lookup(&sig, hub, "billing.unknown"), 0);
	cr_assert_eq(sig, named);
}

struct visit {
	int count;
	const char *names[32];
	int stop_at;   /* return 7 at this visit (1-based), 0: never */
};

static int visit_signal(sh_signal *signal, void *payload)
{
	struct visit *v = payload;
	if (v->count < 32)
		v->names[v->count] = sh_signal_name(signal);
	v->count++;
	return v->count == v->stop_at ? 7 : 0;
}

Test(custom, foreach_signal_visits_builtins_then_customs_in_creation_order)
{
	sh_signal *sig = NULL;
	cr_assert_eq(sh_signal_named(&sig, hub, "zeta.first"), 0);
	cr_assert_eq(sh_signal_declare(&sig, hub, "alpha.second", "alpha"), 0);
	cr_assert_eq(sh_signal_named(&sig, hub, "middle.third"), 0);
	cr_assert_eq(sh_signal_declare(&sig, hub, "zeta.first", "zeta"), 0); /* no new signal */
	cr_assert_eq(sh_signal_lookup(&sig, hub, "nobody.never"), SH_ENOTFOUND);

	struct visit v = { 0 };
	cr_assert_eq(sh_hub_foreach_signal(hub, visit_signal, &v), 0);
	cr_assert_eq(v.count, SH_BUILTIN_COUNT + 3);
	for (int i = 0; i < SH_BUILTIN_COUNT; i++)
		cr_assert_str_eq(v.names[i], sh_builtin_name((sh_builtin)i));
	cr_assert_str_eq(v.names[SH_BUILTIN_COUNT + 0], "zeta.first");
	cr_assert_str_eq(v.names[SH_BUILTIN_COUNT + 1], "alpha.second");
	cr_assert_str_eq(v.names[SH_BUILTIN_COUNT + 2], "middle.third");
}

Test(custom, foreach_signal_on_a_fresh_hub_visits_the_sixteen_builtins)
{
	struct visit v = { 0 };
	cr_assert_eq(sh_hub_foreach_signal(hub, visit_signal, &v), 0);
	cr_assert_eq(v.count, 16);
	cr_assert_str_eq(v.names[0], "pre_init");
	cr_assert_str_eq(v.names[15], "connection_created");
}

Test(custom, foreach_signal_stops_at_a_nonzero_return)
{
	struct visit v = { .stop_at = 3 };
	cr_assert_eq(sh_hub_foreach_signal(hub, visit_signal, &v), 7);
	cr_assert_eq(v.count, 3);
}

Test(custom, signals_of_one_name_are_per_hub)
{
	sh_hub *other = NULL;
	cr_assert_eq(sh_hub_new(&other), 0);
	sh_signal *mine = NULL, *theirs = NULL;
	cr_assert_eq(sh_signal_named(&mine, hub, "billing.invoice_paid"), 0);
	cr_assert_eq(sh_signal_lookup(&theirs, other, "billing.invoice_paid"), SH_ENOTFOUND);
	cr_assert_eq(sh_signal_named(&theirs, other, "billing.invoice_paid"), 0);
	cr_assert_neq(mine, theirs);
	sh_hub_free(other);
}
