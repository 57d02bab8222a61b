/*
 * signals.c: `sighost signals`, `sighost apps`, `--version` and `help`
 * end to end, with the bundled plugins and test plugins.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"

TestSuite(signals, .init = e2e_setup, .fini = e2e_cleanup);

static void bundled_project(void)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: shop\nplugin_dirs: [%s, plugins]\n"
		"installed_apps: [mailer, alert, billing, audit, good]\n"
		"settings:\n  audit: {path: audit.jsonl}\n", t_env("SIGHOST_PLUGIN_DIR")), 0);
	e2e_project(text);
	e2e_plugin("t_ok", "good", NULL);
	free(text);
}

Test(signals, every_signal_is_listed_with_its_receivers_in_call_order)
{
	bundled_project();
	t_run r = E2E_RUN("signals", "--settings", "project.yaml");
	cr_assert_eq(r.status, 0, "%s", r.err);
	e2e_has(r.out,
		"post_save (built-in): 2 receivers\n"
		"  #   APP    RECEIVER        SENDER       PRIORITY  DISPATCH_UID\n"
		"  1   audit  audit_record    (any)             -10  -\n"
		"  2   alert  on_alert_saved  alert.Alert        10  -\n");
	e2e_has(r.out,
		"billing.invoice_paid (custom, declared by billing): 1 receiver\n"
		"  #   APP     RECEIVER         SENDER  PRIORITY  DISPATCH_UID\n"
		"  1   mailer  on_invoice_paid  (any)         10  -\n");
	e2e_has(r.out, "  2   good   t_ok_on_finished  (any)         10  -\n");
	e2e_has(r.out, "  2   good   0x");
	e2e_has(r.out, " in good.so  t.Handler");
	const char *order[] = { "\npre_init ", "\npost_init ", "\npre_save ", "\npost_save ",
		"\npre_delete ", "\npost_delete ", "\nm2m_changed ", "\nclass_prepared ",
		"\npre_migrate ", "\npost_migrate ", "\nrequest_started ", "\nrequest_finished ",
		"\ngot_request_exception ", "\nsetting_changed ", "\ntemplate_rendered ",
		"\nconnection_created ", "\nbilling.invoice_paid " };
	const char *at = r.out;
	cr_assert_eq(strncmp(r.out, "pre_init (built-in)", 19), 0);
	for (size_t i = 1; i < sizeof order / sizeof order[0]; i++) {
		const char *next = strstr(at, order[i]);
		cr_assert_not_null(next, "%s missing or out of order", order[i] + 1);
		at = next;
	}
	t_run_free(&r);
}

Test(signals, filters_by_signal_and_by_app)
{
	bundled_project();
	t_run r = E2E_RUN("signals", "--settings", "project.yaml", "--signal", "post_save");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(t_lines(r.out), 4, "%s", r.out);
	e2e_has(r.out, "post_save (built-in): 2 receivers\n");
	t_run_free(&r);
	r = E2E_RUN("signals", "--settings", "project.yaml", "--app", "mailer");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out,
		"billing.invoice_paid (custom, declared by billing): 1 receiver\n"
		"  #   APP     RECEIVER         SENDER  PRIORITY  DISPATCH_UID\n"
		"  1   mailer  on_invoice_paid  (any)         10  -\n");
	t_run_free(&r);
}

Test(signals, connected_hides_signals_without_receivers)
{
	e2e_project("project: shop\nplugin_dirs: [plugins]\ninstalled_apps: [good]\n");
	e2e_plugin("t_ok", "good", NULL);
	t_run r = E2E_RUN("signals", "--settings", "project.yaml", "--connected");
	cr_assert_eq(r.status, 0, "%s", r.err);
	e2e_has(r.out, "request_started (built-in): 1 receiver\n");
	e2e_has(r.out, "request_finished (built-in): 1 receiver\n");
	cr_assert_null(strstr(r.out, "post_save"), "%s", r.out);
	t_run_free(&r);
	r = E2E_RUN("signals", "--settings", "project.yaml");
	e2e_has(r.out, "post_save (built-in): 0 receivers\n");
	t_run_free(&r);
}

Test(signals, an_unknown_signal_is_an_error)
{
	e2e_project("project: shop\n");
	t_run r = E2E_RUN("signals", "--settings", "project.yaml", "--signal", "post_sav");
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "sighost signals: no signal named 'post_sav'\n");
	t_run_free(&r);
}

Test(signals, a_project_with_problems_shows_them_and_fails)
{
	e2e_project("project: shop\nplugin_dirs: [plugins]\ninstalled_apps: [old]\n");
	e2e_plugin("t_badabi", "old", NULL);
	t_run r = E2E_RUN("signals", "--settings", "project.yaml");
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.out, "");
	e2e_has(r.err, "ABI mismatch: built for ABI 42, host is 1.1 (another major): rebuild the plugin "
		"against sighost 0.1.0: pkg-config --modversion sighost\nsighost signals: 1 problem found\n");
	t_run_free(&r);
}

Test(signals, apps_lists_the_load_order)
{
	bundled_project();
	t_run r = E2E_RUN("apps", "--settings", "project.yaml");
	cr_assert_eq(r.status, 0, "%s", r.err);
	/* alert is ready first; mailer waits for billing (installed order breaks ties). */
	const char *labels[] = { " 1. alert ", " 2. billing ", " 3. mailer ", " 4. audit ", " 5. good " };
	const char *at = r.out;
	for (size_t i = 0; i < 5; i++) {
		const char *next = strstr(at, labels[i]);
		cr_assert_not_null(next, "%s missing or out of order in\n%s", labels[i], r.out);
		at = next;
	}
	e2e_has(r.out, "    depends on: billing\n");
	t_run_free(&r);
}

Test(signals, version_and_help)
{
	t_run r = E2E_RUN("--version");
	cr_assert_eq(r.status, 0);
	cr_assert_str_eq(r.out, "sighost 0.1.0 (ABI 1)\n");
	t_run_free(&r);
	r = E2E_RUN("help");
	cr_assert_eq(r.status, 0);
	e2e_has(r.out, "  check ");
	e2e_has(r.out, "  signals ");
	e2e_has(r.out, "  apps ");
	t_run_free(&r);
	r = E2E_RUN("help", "signals");
	e2e_has(r.out, "usage: sighost signals [options]");
	e2e_has(r.out, "  --settings FILE ");
	t_run_free(&r);
}

/* The receivers of signal `name` in a --json document. */
static json_t *receivers_of(json_t *doc, const char *name)
{
	json_t *signals = json_object_get(doc, "signals");
	for (size_t i = 0; i < json_array_size(signals); i++) {
		json_t *s = json_array_get(signals, i);
		if (strcmp(json_string_value(json_object_get(s, "name")), name) == 0)
			return json_object_get(s, "receivers");
	}
	cr_assert_fail("no signal %s in the document", name);
	return NULL;
}

Test(signals, json_describes_apps_signals_models_and_settings)
{
	bundled_project();
	t_run r = E2E_RUN("signals", "--settings", "project.yaml", "--json");
	cr_assert_eq(r.status, 0, "%s", r.err);
	json_error_t error;
	json_t *doc = json_loads(r.out, 0, &error);
	cr_assert_not_null(doc, "not JSON: %s: %s", error.text, r.out);
	cr_assert_str_eq(json_string_value(json_object_get(doc, "project")), "shop");
	json_t *apps = json_object_get(doc, "apps");
	cr_assert_eq(json_array_size(apps), 5);
	json_t *mailer = NULL;
	for (size_t i = 0; i < json_array_size(apps); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(apps, i), "label")),
				"mailer") == 0)
			mailer = json_array_get(apps, i);
	cr_assert_not_null(mailer, "no app mailer");
	cr_assert_eq(json_integer_value(json_object_get(mailer, "abi")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(mailer, "probe")), "passed");
	cr_assert(json_real_value(json_object_get(mailer, "load_ms")) > 0.0);
	json_t *post_save = receivers_of(doc, "post_save");
	cr_assert_eq(json_array_size(post_save), 2);
	json_t *second = json_array_get(post_save, 1);
	cr_assert_str_eq(json_string_value(json_object_get(second, "receiver")), "on_alert_saved");
	cr_assert_str_eq(json_string_value(json_object_get(second, "owner")), "alert");
	cr_assert_str_eq(json_string_value(json_object_get(second, "sender")), "alert.Alert");
	cr_assert_eq(json_integer_value(json_object_get(second, "priority")), 10);
	cr_assert_null(json_object_get(second, "stats"), "a CLI run has no call statistics");
	cr_assert_gt(json_array_size(json_object_get(doc, "models")), 0);
	json_t *setting = json_array_get(json_object_get(json_object_get(doc, "settings"), "items"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(setting, "key")), "audit.path");
	cr_assert_str_eq(json_string_value(json_object_get(setting, "origin")), "manifest");
	json_decref(doc);
	t_run_free(&r);
}

Test(signals, json_refuses_the_text_filters)
{
	bundled_project();
	t_run r = E2E_RUN("signals", "--settings", "project.yaml", "--json", "--app", "alert");
	cr_assert_eq(r.status, 2);
	e2e_has(r.err, "--json prints the whole document");
	t_run_free(&r);
}
