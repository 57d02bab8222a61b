/*
 * settings_override.c: overriding settings for a scope, as Django's
 * override_settings: setting_changed with enter true and the new value on
 * entry, enter false and the restored value on exit; nesting; YAML values,
 * removal and bad input; reloads under an override; the app variant; a
 * receiver that overrides in turn.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "settings_recorder.h"
#include "../support/support.h"

TestSuite(settings_override, .init = rec_setup, .fini = rec_cleanup, .timeout = 60);

static sh_project *p(void)
{
	return rec_project;
}

static const char *setting_text(const char *key)
{
	return sh_value_text(sh_value_path(sh_project_settings(p()), key));
}

Test(settings_override, override_sends_enter_then_restore_sends_exit_with_the_restored_value)
{
	rec_read(NULL, "  debug: false\n");
	cr_assert_eq(sh_settings_override(p(), "debug", "true"), 0, "%s", sh_error_last()->message);
	cr_assert_str_eq(setting_text("debug"), "true", "published before the signal");
	cr_assert_eq(sh_settings_override_count(p()), 1);
	cr_assert_eq(sh_settings_restore(p()), 0);
	cr_assert_str_eq(setting_text("debug"), "false");
	char *events = rec_events();
	cr_assert_str_eq(events, "debug=true;debug=false (exit)");
	cr_assert_str_eq(rec.items[0].sender, SH_SETTINGS_SENDER);
	cr_assert_str_eq(rec.items[1].sender, SH_SETTINGS_SENDER);
	cr_assert_eq(rec.items[1].value, sh_value_get(sh_project_settings(p()), "debug"),
		"the value restored is the file's");
	cr_assert_eq(sh_settings_override_count(p()), 0);
	free(events);
}

Test(settings_override, overrides_nest_and_unwind_in_reverse_order)
{
	rec_read(NULL, "  debug: false\n  mailer: {port: 25}\n");
	cr_assert_eq(sh_settings_override(p(), "debug", "true"), 0);
	cr_assert_eq(sh_settings_override(p(), "mailer.from", "ops@example.com"), 0);
	cr_assert_eq(sh_settings_override(p(), "debug", "~"), 0);
	cr_assert_eq(sh_value_type_of(sh_value_get(sh_project_settings(p()), "debug")),
		SH_VALUE_NULL);
	cr_assert_str_eq(setting_text("mailer.port"), "25", "a sibling stays");
	cr_assert_eq(sh_settings_override_count(p()), 3);
	cr_assert_eq(sh_settings_restore(p()), 0);
	cr_assert_str_eq(setting_text("debug"), "true");
	cr_assert_eq(sh_settings_restore(p()), 0);
	cr_assert_null(sh_value_path(sh_project_settings(p()), "mailer.from"));
	cr_assert_eq(sh_settings_restore(p()), 0);
	cr_assert_eq(sh_settings_restore(p()), SH_EINVAL, "nothing left to restore");
	char *events = rec_events();
	cr_assert_str_eq(events, "debug=true;mailer.from=ops@example.com;debug=~;"
		"debug=true (exit);mailer.from=(none) (exit);debug=false (exit)");
	free(events);
}

Test(settings_override, values_are_yaml_null_removes_and_bad_input_sends_nothing)
{
	rec_read(NULL, "  debug: false\n  hosts: [a]\n");
	cr_assert_eq(sh_settings_override(p(), "hosts", "[a, b, {c: 1}]"), 0);
	cr_assert_eq(sh_settings_override(p(), "name", "'42'"), 0);
	cr_assert_eq(sh_value_type_of(sh_value_get(sh_project_settings(p()), "name")),
		SH_VALUE_STRING);
	cr_assert_eq(sh_settings_override(p(), "empty", ""), 0);
	cr_assert_eq(sh_settings_override(p(), "debug", NULL), 0);
	cr_assert_null(sh_value_get(sh_project_settings(p()), "debug"), "removed");
	cr_assert_eq(sh_settings_override(p(), "debug.deeper", NULL), 0,
		"removing under a missing map is a no-op");
	char *events = rec_events();
	cr_assert_str_eq(events, "hosts=[a,b,{c:1}];name=42;empty=~;debug=(none);"
		"debug.deeper=(none)");
	free(events);
	rec_clear();

	cr_assert_eq(sh_settings_override(p(), "hosts", "[a"), SH_EINVAL);
	cr_assert_not_null(strstr(sh_error_last()->message, "override of 'hosts':"), "%s",
		sh_error_last()->message);
	cr_assert_not_null(strstr(sh_error_last()->message, "malformed YAML"));
	cr_assert_eq(sh_settings_override(p(), "a..b", "1"), SH_EINVAL);
	cr_assert_eq(sh_settings_override(p(), "", "1"), SH_EINVAL);
	cr_assert_eq(sh_settings_override(p(), "a.", "1"), SH_EINVAL);
	cr_assert_eq(sh_settings_override(p(), NULL, "1"), SH_EINVAL);
	cr_assert_eq(sh_settings_override(NULL, "a", "1"), SH_EINVAL);
	cr_assert_eq(sh_settings_restore(NULL), SH_EINVAL);
	cr_assert_eq(rec.count, 0, "no signal for a refused override");
	cr_assert_eq(sh_settings_override_count(p()), 5);
}

Test(settings_override, an_override_creates_the_maps_on_its_path_and_replaces_a_scalar)
{
	rec_read(NULL, "  audit: off\n");
	cr_assert_eq(sh_settings_override(p(), "audit.path", "a.jsonl"), 0);
	char *text = rec_value_text(sh_value_get(sh_project_settings(p()), "audit"));
	cr_assert_str_eq(text, "{path:a.jsonl}");
	free(text);
	cr_assert_eq(sh_settings_override(p(), "x.y.z", "1"), 0);
	cr_assert_eq(sh_value_path_int(sh_project_settings(p()), "x.y.z", 0), 1);
	cr_assert_eq(sh_settings_restore(p()), 0);
	cr_assert_eq(sh_settings_restore(p()), 0);
	cr_assert_str_eq(setting_text("audit"), "off");
	char *events = rec_events();
	cr_assert_str_eq(events, "audit.path=a.jsonl;x.y.z=1;x.y.z=(none) (exit);"
		"audit.path=(none) (exit)");
	free(events);
}

Test(settings_override, a_reload_under_an_override_keeps_it_on_top)
{
	rec_read(NULL, "  debug: false\n  level: 1\n");
	cr_assert_eq(sh_settings_override(p(), "debug", "true"), 0);
	rec_clear();
	rec_write(NULL, "  debug: maybe\n  level: 2\n");
	cr_assert_eq(sh_project_reload_settings(p()), 0);
	char *events = rec_events();
	cr_assert_str_eq(events, "level=2", "debug is still overridden: it did not change");
	free(events);
	cr_assert_str_eq(setting_text("debug"), "true");
	rec_clear();
	cr_assert_eq(sh_settings_restore(p()), 0);
	events = rec_events();
	cr_assert_str_eq(events, "debug=maybe (exit)", "the file's new value comes back");
	cr_assert_str_eq(setting_text("level"), "2");
	free(events);
}

Test(settings_override, override_value_copies_and_old_values_stay_valid)
{
	rec_read(NULL, "  hosts: [a, b]\n  debug: false\n");
	const sh_value *before = sh_project_settings(p());
	const sh_value *hosts = sh_value_get(before, "hosts");
	cr_assert_eq(sh_settings_override_value(p(), "mirror", hosts), 0);
	cr_assert_eq(sh_settings_override_value(p(), "debug", NULL), 0);
	const sh_value *now = sh_project_settings(p());
	cr_assert_neq(now, before, "a new version was published");
	char *text = rec_value_text(sh_value_get(now, "mirror"));
	cr_assert_str_eq(text, "[a,b]");
	free(text);
	cr_assert_eq(sh_settings_restore(p()), 0);
	cr_assert_eq(sh_settings_restore(p()), 0);
	cr_assert_str_eq(sh_value_text(sh_value_get(before, "debug")), "false",
		"the first version is still readable");
	cr_assert_str_eq(rec.items[0].text, "[a,b]");
	text = rec_value_text(rec.items[0].value);
	cr_assert_str_eq(text, "[a,b]", "values sent on entry stay valid after the restore");
	free(text);
	cr_assert_eq(sh_project_settings(p()), before, "no override: the file's settings again");
}

Test(settings_override, an_app_overrides_through_its_handle)
{
	char *apps = t_path(rec_dir, "apps");
	cr_assert_eq(mkdir(apps, 0755), 0);
	free(t_write(apps, "notes.yaml", "label: notes\n"));
	free(apps);
	rec_read("plugin_dirs: [apps]\ninstalled_apps: [notes]\n", "  notes: {level: 1}\n");
	sh_app *app = sh_project_app(p(), "notes");
	cr_assert_not_null(app);
	cr_assert_eq(sh_app_settings_override(app, "notes.level", "3"), 0);
	cr_assert_eq(sh_value_path_int(sh_app_settings(app), "level", 0), 3);
	cr_assert_eq(sh_value_path_int(sh_app_setting(app, "notes.level"), "", 0), 3);
	cr_assert_eq(sh_app_settings_restore(app), 0);
	cr_assert_eq(sh_value_path_int(sh_app_settings(app), "level", 0), 1);
	cr_assert_eq(sh_app_settings_restore(app), SH_EINVAL);
	cr_assert_eq(sh_app_settings_override(NULL, "x", "1"), SH_EINVAL);
	char *events = rec_events();
	cr_assert_str_eq(events, "notes.level=3;notes.level=1 (exit)");
	free(events);
}

/* Overrides "b" when it hears "a" entering: a receiver may change
 * settings in turn (the lock is recursive). */
static int cascade(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal;
	(void)sender;
	(void)response;
	const sh_setting_changed_args *a = args;
	if (strcmp(a->setting, "a") == 0 && a->enter)
		return sh_settings_override(payload, "b", "from a receiver");
	return 0;
}

Test(settings_override, a_receiver_may_override_in_turn)
{
	rec_read(NULL, "  a: 0\n");
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(sh_project_hub(p()),
		SH_SETTING_CHANGED), cascade, p(), NULL), 0);
	cr_assert_eq(sh_settings_override(p(), "a", "1"), 0);
	cr_assert_eq(sh_settings_override_count(p()), 2);
	cr_assert_str_eq(setting_text("b"), "from a receiver");
	cr_assert_eq(sh_settings_restore(p()), 0);
	cr_assert_eq(sh_settings_restore(p()), 0);
	char *events = rec_events();
	cr_assert_str_eq(events, "a=1;b=from a receiver;b=(none) (exit);a=0 (exit)");
	free(events);
}

Test(settings_override, overriding_before_the_project_is_read_is_refused)
{
	cr_assert_eq(sh_settings_override(p(), "debug", "true"), SH_EINVAL);
	cr_assert_eq(sh_settings_restore(p()), SH_EINVAL);
	cr_assert_eq(sh_settings_override_count(p()), 0);
	cr_assert_eq(rec.count, 0);
}
