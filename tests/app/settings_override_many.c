/*
 * settings_override_many.c: overriding several keys at once, Django's
 * override_settings(A=..., B=...) (django/test/utils.py): every key is
 * applied before the first setting_changed; one setting_changed per key
 * with enter true in the order given; on exit one per key with enter false
 * in the same order (not reversed) with the restored values; a receiver
 * that fails on entry undoes the whole override as disable() does; bad
 * input changes nothing and sends nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "settings_recorder.h"
#include "../support/support.h"

TestSuite(settings_override_many, .init = rec_setup, .fini = rec_cleanup, .timeout = 60);

static sh_project *p(void)
{
	return rec_project;
}

static const char *setting_text(const char *key)
{
	return sh_value_text(sh_value_path(sh_project_settings(p()), key));
}

static sh_signal *setting_changed(void)
{
	return sh_hub_builtin(sh_project_hub(p()), SH_SETTING_CHANGED);
}

/* What every key of the test held when each setting_changed was heard:
 * "setting:a=..,b=..,c=..|". */
static char seen[2048];

static int snapshot(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal;
	(void)sender;
	(void)response;
	(void)payload;
	const sh_setting_changed_args *a = args;
	const sh_value *now = sh_project_settings(p());
	size_t n = strlen(seen);
	snprintf(seen + n, sizeof seen - n, "%s%s:a=%s,b=%s,c=%s|", a->enter ? "" : "-",
		a->setting, sh_value_text(sh_value_path(now, "a")) ?: "(none)",
		sh_value_text(sh_value_path(now, "b")) ?: "(none)",
		sh_value_text(sh_value_path(now, "c.d")) ?: "(none)");
	return 0;
}

Test(settings_override_many, every_key_is_applied_before_the_first_signal_then_one_per_key)
{
	rec_read(NULL, "  a: 1\n  b: 2\n");
	seen[0] = '\0';
	cr_assert_eq(sh_signal_connect(NULL, setting_changed(), snapshot, NULL, NULL), 0);
	sh_settings_item items[] = { { "b", "20" }, { "a", "10" }, { "c.d", "30" } };
	cr_assert_eq(sh_settings_override_many(p(), items, 3), 0, "%s", sh_error_last()->message);
	cr_assert_str_eq(seen, "b:a=10,b=20,c=30|a:a=10,b=20,c=30|c.d:a=10,b=20,c=30|",
		"the receiver of the first key already sees every new value");
	cr_assert_eq(sh_settings_override_count(p()), 3, "three keys in force");
	char *events = rec_events();
	cr_assert_str_eq(events, "b=20;a=10;c.d=30", "one setting_changed per key, in the order "
		"given, each with its new value");
	free(events);
	for (size_t i = 0; i < rec.count; i++)
		cr_assert_str_eq(rec.items[i].sender, SH_SETTINGS_SENDER);
}

Test(settings_override_many, restore_ends_every_key_at_once_and_sends_exit_in_the_order_given)
{
	rec_read(NULL, "  a: 1\n  b: 2\n");
	seen[0] = '\0';
	cr_assert_eq(sh_signal_connect(NULL, setting_changed(), snapshot, NULL, NULL), 0);
	sh_settings_item items[] = { { "b", "20" }, { "a", "10" }, { "c.d", "30" } };
	cr_assert_eq(sh_settings_override_many(p(), items, 3), 0);
	rec_clear();
	seen[0] = '\0';
	cr_assert_eq(sh_settings_restore(p()), 0, "one restore ends the whole override");
	cr_assert_eq(sh_settings_override_count(p()), 0);
	cr_assert_str_eq(seen, "-b:a=1,b=2,c=(none)|-a:a=1,b=2,c=(none)|-c.d:a=1,b=2,c=(none)|",
		"every key is restored before the first exit signal");
	char *events = rec_events();
	cr_assert_str_eq(events, "b=2 (exit);a=1 (exit);c.d=(none) (exit)",
		"Django's disable(): the keys in the order given, not reversed, with the values "
		"restored");
	free(events);
	cr_assert_str_eq(setting_text("a"), "1");
	cr_assert_null(sh_value_path(sh_project_settings(p()), "c"));
	cr_assert_eq(sh_settings_restore(p()), SH_EINVAL, "nothing left");
}

Test(settings_override_many, groups_nest_with_single_overrides_and_unwind_as_a_stack)
{
	rec_read(NULL, "  a: 1\n  b: 2\n");
	cr_assert_eq(sh_settings_override(p(), "a", "5"), 0);
	sh_settings_item items[] = { { "a", "6" }, { "b", NULL } };
	cr_assert_eq(sh_settings_override_many(p(), items, 2), 0);
	cr_assert_eq(sh_settings_override(p(), "b", "7"), 0);
	cr_assert_eq(sh_settings_restore(p()), 0);
	cr_assert_null(sh_value_get(sh_project_settings(p()), "b"), "the group's removal again");
	cr_assert_eq(sh_settings_restore(p()), 0);
	cr_assert_str_eq(setting_text("a"), "5", "the group is gone, the first override stays");
	cr_assert_str_eq(setting_text("b"), "2");
	cr_assert_eq(sh_settings_restore(p()), 0);
	char *events = rec_events();
	cr_assert_str_eq(events, "a=5;a=6;b=(none);b=7;b=(none) (exit);a=5 (exit);b=2 (exit);"
		"a=1 (exit)");
	free(events);
}

/* Which setting_changed a `refuse` receiver fails on. */
typedef struct refusal {
	const char *setting;
	bool enter;
	const char *message;
} refusal;

static int refuse(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal;
	(void)sender;
	(void)response;
	const sh_setting_changed_args *a = args;
	const refusal *r = payload;
	if (strcmp(a->setting, r->setting) == 0 && a->enter == r->enter)
		return sh_error_set(SH_ERECEIVER, "%s", r->message);
	return 0;
}

Test(settings_override_many, a_receiver_failing_on_entry_undoes_the_override_as_django_does)
{
	rec_read(NULL, "  a: 1\n  b: 2\n  c: 3\n");
	static const refusal no_b = { "b", true, "b may not change" };
	cr_assert_eq(sh_signal_connect(NULL, setting_changed(), refuse, (void *)&no_b, NULL), 0);
	sh_settings_item items[] = { { "a", "10" }, { "b", "20" }, { "c", "30" } };
	cr_assert_eq(sh_settings_override_many(p(), items, 3), SH_ERECEIVER);
	cr_assert_str_eq(sh_error_last()->message, "b may not change", "the receiver's message");
	cr_assert_eq(sh_settings_override_count(p()), 0, "no override stays in force");
	cr_assert_str_eq(setting_text("a"), "1");
	cr_assert_str_eq(setting_text("b"), "2");
	char *events = rec_events();
	/* enable(): a entered, b's send raised; disable(): every key, in order */
	cr_assert_str_eq(events, "a=10;b=20;a=1 (exit);b=2 (exit);c=3 (exit)");
	free(events);
}

Test(settings_override_many, a_receiver_failing_on_exit_is_reported_after_every_key_is_sent)
{
	rec_read(NULL, "  a: 1\n  b: 2\n");
	static const refusal no_a_back = { "a", false, "a may not go back" };
	cr_assert_eq(sh_signal_connect(NULL, setting_changed(), refuse, (void *)&no_a_back, NULL),
		0);
	sh_settings_item items[] = { { "a", "10" }, { "b", "20" } };
	cr_assert_eq(sh_settings_override_many(p(), items, 2), 0);
	rec_clear();
	cr_assert_eq(sh_settings_restore(p()), SH_ERECEIVER);
	cr_assert_not_null(strstr(sh_error_last()->message, "a may not go back"), "%s",
		sh_error_last()->message);
	cr_assert_eq(sh_settings_override_count(p()), 0, "ended all the same");
	char *events = rec_events();
	cr_assert_str_eq(events, "a=1 (exit);b=2 (exit)", "send_robust: b is still told");
	free(events);
}

Test(settings_override_many, bad_input_changes_nothing_and_sends_nothing)
{
	rec_read(NULL, "  a: 1\n");
	sh_settings_item dup[] = { { "a", "2" }, { "a", "3" } };
	cr_assert_eq(sh_settings_override_many(p(), dup, 2), SH_EINVAL);
	cr_assert_not_null(strstr(sh_error_last()->message, "key 'a' is given twice"));
	sh_settings_item bad_yaml[] = { { "a", "2" }, { "b", "[x" } };
	cr_assert_eq(sh_settings_override_many(p(), bad_yaml, 2), SH_EINVAL);
	cr_assert_not_null(strstr(sh_error_last()->message, "override of 'b'"), "%s",
		sh_error_last()->message);
	sh_settings_item bad_key[] = { { "a", "2" }, { "b..c", "1" } };
	cr_assert_eq(sh_settings_override_many(p(), bad_key, 2), SH_EINVAL);
	cr_assert_eq(sh_settings_override_many(p(), bad_key, 0), SH_EINVAL);
	cr_assert_eq(sh_settings_override_many(p(), NULL, 1), SH_EINVAL);
	cr_assert_eq(sh_settings_override_many(p(), bad_key, SH_SETTINGS_OVERRIDE_MAX + 1),
		SH_EINVAL);
	cr_assert_eq(sh_settings_override_many(NULL, dup, 1), SH_EINVAL);
	cr_assert_eq(sh_app_settings_override_many(NULL, dup, 1), SH_EINVAL);
	cr_assert_eq(rec.count, 0, "no signal");
	cr_assert_eq(sh_settings_override_count(p()), 0);
	cr_assert_str_eq(setting_text("a"), "1");
}

Test(settings_override_many, an_app_overrides_several_keys_through_its_handle)
{
	char *apps = t_path(rec_dir, "apps");
	cr_assert_eq(mkdir(apps, 0755), 0);
	free(t_write(apps, "notes.yaml", "label: notes\n"));
	free(apps);
	rec_read("plugin_dirs: [apps]\ninstalled_apps: [notes]\n", "  notes: {level: 1}\n");
	sh_app *app = sh_project_app(p(), "notes");
	sh_settings_item items[] = { { "notes.level", "3" }, { "notes.name", "x" } };
	cr_assert_eq(sh_app_settings_override_many(app, items, 2), 0);
	cr_assert_eq(sh_value_path_int(sh_app_settings(app), "level", 0), 3);
	cr_assert_eq(sh_app_settings_restore(app), 0);
	char *events = rec_events();
	cr_assert_str_eq(events, "notes.level=3;notes.name=x;notes.level=1 (exit);"
		"notes.name=(none) (exit)");
	free(events);
}
