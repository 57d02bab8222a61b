/*
 * hub.c: what a fresh hub holds. The 16 built-in signals under Django's
 * names, range checks of sh_hub_builtin(), sender interning, the hub's
 * logger and the library's version.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <sighost/sys/sighost.h>

static sh_hub *hub;

static void setup(void)
{
	cr_assert_eq(sh_hub_new(&hub), 0);
	cr_assert_not_null(hub);
}

static void teardown(void)
{
	sh_hub_free(hub);
	hub = NULL;
}

TestSuite(hub, .init = setup, .fini = teardown);

/* Django's names, in sh_builtin order. */
static const char *const django_names[SH_BUILTIN_COUNT] = {
	"pre_init", "post_init", "pre_save", "post_save", "pre_delete", "post_delete",
	"m2m_changed", "class_prepared", "pre_migrate", "post_migrate",
	"request_started", "request_finished", "got_request_exception",
	"setting_changed", "template_rendered", "connection_created",
};

Test(hub, has_sixteen_builtins_with_django_names)
{
	cr_assert_eq(SH_BUILTIN_COUNT, 16);
	for (int i = 0; i < SH_BUILTIN_COUNT; i++) {
		sh_signal *sig = sh_hub_builtin(hub, (sh_builtin)i);
		cr_assert_not_null(sig, "built-in %d missing", i);
		cr_assert_str_eq(sh_builtin_name((sh_builtin)i), django_names[i]);
		cr_assert_str_eq(sh_signal_name(sig), django_names[i]);
		cr_assert(sh_signal_is_builtin(sig), "%s is not built-in", django_names[i]);
		cr_assert_null(sh_signal_declared_by(sig));
		cr_assert_eq(sh_signal_hub(sig), hub);
		cr_assert_eq(sh_signal_connection_count(sig), 0);
		for (int j = 0; j < i; j++)
			cr_assert_neq(sig, sh_hub_builtin(hub, (sh_builtin)j),
				"built-ins %d and %d are the same signal", i, j);
	}
}

Test(hub, builtin_out_of_range_is_null)
{
	cr_assert_null(sh_hub_builtin(hub, SH_BUILTIN_COUNT));
	cr_assert_null(sh_hub_builtin(hub, (sh_builtin)(SH_BUILTIN_COUNT + 100)));
	cr_assert_null(sh_hub_builtin(hub, (sh_builtin)-1));
	cr_assert_null(sh_builtin_name(SH_BUILTIN_COUNT));
	cr_assert_null(sh_builtin_name((sh_builtin)-1));
}

Test(hub, m2m_action_names_are_djangos)
{
	static const char *const names[] = {
		"pre_add", "post_add", "pre_remove", "post_remove", "pre_clear", "post_clear",
	};
	for (int i = SH_M2M_PRE_ADD; i <= SH_M2M_POST_CLEAR; i++)
		cr_assert_str_eq(sh_m2m_action_name((sh_m2m_action)i), names[i]);
	cr_assert_null(sh_m2m_action_name((sh_m2m_action)(SH_M2M_POST_CLEAR + 1)));
	cr_assert_null(sh_m2m_action_name((sh_m2m_action)-1));
}

Test(hub, hubs_are_independent)
{
	sh_hub *other = NULL;
	cr_assert_eq(sh_hub_new(&other), 0);
	cr_assert_neq(sh_hub_builtin(other, SH_POST_SAVE), sh_hub_builtin(hub, SH_POST_SAVE));
	cr_assert_eq(sh_signal_hub(sh_hub_builtin(other, SH_POST_SAVE)), other);

	const sh_sender *a = NULL, *b = NULL;
	cr_assert_eq(sh_sender_intern(&a, hub, "shop.Order"), 0);
	cr_assert_eq(sh_sender_intern(&b, other, "shop.Order"), 0);
	cr_assert_neq(a, b, "a sender belongs to one hub");
	sh_hub_free(other);
	sh_hub_free(NULL); /* a no-op */
}

Test(hub, sender_intern_gives_one_pointer_per_name)
{
	const sh_sender *a = NULL, *a2 = NULL, *b = NULL;
	cr_assert_eq(sh_sender_intern(&a, hub, "shop.Order"), 0);
	cr_assert_not_null(a);
	cr_assert_eq(sh_sender_intern(&b, hub, "shop.Customer"), 0);

	/* A name built at run time, in another buffer, still finds the same sender. */
	char name[32];
	strcpy(name, "shop.");
	strcat(name, "Order");
	cr_assert_eq(sh_sender_intern(&a2, hub, name), 0);
	cr_assert_eq(a, a2);
	cr_assert_neq(a, b);
	memset(name, 'x', sizeof name - 1); /* the hub keeps its own copy */
	cr_assert_str_eq(sh_sender_name(a), "shop.Order");
	cr_assert_str_eq(sh_sender_name(b), "shop.Customer");
}

Test(hub, sender_intern_rejects_null_and_empty_names)
{
	const sh_sender *s = NULL;
	cr_assert_eq(sh_sender_intern(&s, hub, NULL), SH_EINVAL);
	cr_assert_eq(sh_sender_intern(&s, hub, ""), SH_EINVAL);
}

struct log_capture {
	int calls;
	sh_log_level level;
	char origin[64];
	char message[256];
};

static void capture_log(sh_log_level level, const char *origin, const char *message, void *payload)
{
	struct log_capture *cap = payload;
	cap->calls++;
	cap->level = level;
	snprintf(cap->origin, sizeof cap->origin, "%s", origin ? origin : "(null)");
	snprintf(cap->message, sizeof cap->message, "%s", message ? message : "(null)");
}

Test(hub, log_goes_to_the_logger_formatted)
{
	struct log_capture cap = { 0 };
	sh_hub_set_logger(hub, capture_log, &cap);
	sh_hub_log(hub, SH_LOG_WARNING, "billing", "late by %d %s", 3, "days");
	cr_assert_eq(cap.calls, 1);
	cr_assert_eq(cap.level, SH_LOG_WARNING);
	cr_assert_str_eq(cap.origin, "billing");
	cr_assert_str_eq(cap.message, "late by 3 days");

	/* NULL restores the default, which discards. */
	sh_hub_set_logger(hub, NULL, NULL);
	sh_hub_log(hub, SH_LOG_ERROR, "billing", "dropped");
	cr_assert_eq(cap.calls, 1);
}

Test(hub, version_matches_the_headers)
{
	cr_assert_str_eq(sh_version(), SH_VERSION);
	cr_assert_eq(sh_abi_version(), SH_ABI_VERSION);
}
