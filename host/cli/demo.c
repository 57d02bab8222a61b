/*
 * demo.c: `sighost demo`, a plugin-free tour of the dispatcher: a hub,
 * receivers with and without a sender filter, send and send_robust.
 */
#include <stdio.h>

#include <sighost/sys/sighost.h>

#include "cli.h"

static int on_any_save(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)args; (void)response; (void)payload;
	printf("  [audit] %s from %s\n", sh_signal_name(signal), sh_sender_name(sender));
	return 0;
}

static int on_alert_saved(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal; (void)sender; (void)payload;
	const sh_post_save_args *a = args;
	static char created[] = "Alert Created";
	static char updated[] = "Alert Updated";
	*response = a->created ? created : updated;
	printf("  [alert] %s\n", a->created ? created : updated);
	return 0;
}

static int on_flaky(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal; (void)sender; (void)args; (void)response; (void)payload;
	return sh_error_set(SH_ERROR, "mail server unreachable");
}

int sh_cli_demo(int argc, char **argv)
{
	(void)argc; (void)argv;
	sh_hub *hub;
	if (sh_hub_new(&hub) < 0) {
		fprintf(stderr, "sighost demo: %s\n", sh_error_last()->message);
		return 1;
	}
	const sh_sender *alert = NULL, *note = NULL;
	sh_signal *post_save = sh_hub_builtin(hub, SH_POST_SAVE);
	sh_connect_opts only_alerts = SH_CONNECT_OPTS_INIT;
	int rc = sh_sender_intern(&alert, hub, "alert.Alert");
	if (rc == 0)
		rc = sh_sender_intern(&note, hub, "notes.Note");
	only_alerts.sender = alert;
	if (rc == 0)
		rc = sh_signal_connect(NULL, post_save, on_any_save, NULL, NULL);
	if (rc == 0)
		rc = sh_signal_connect(NULL, post_save, on_alert_saved, NULL, &only_alerts);
	if (rc == 0)
		rc = sh_signal_connect(NULL, post_save, on_flaky, NULL, &only_alerts);
	if (rc < 0) {
		fprintf(stderr, "sighost demo: %s\n", sh_error_last()->message);
		sh_hub_free(hub);
		return 1;
	}
	sh_post_save_args args = { .created = true, .using_ = "default" };
	printf("send post_save from notes.Note (only the any-sender receiver hears it):\n");
	sh_signal_send(post_save, note, &args, NULL);
	printf("send post_save from alert.Alert (stops at the failing receiver):\n");
	rc = sh_signal_send(post_save, alert, &args, NULL);
	printf("  -> %s: %s\n", sh_error_name(rc), sh_error_last()->message);
	printf("send_robust post_save from alert.Alert (every receiver runs):\n");
	sh_responses out = SH_RESPONSES_INIT;
	sh_signal_send_robust(post_save, alert, &args, &out);
	for (size_t i = 0; i < out.count; i++)
		printf("  response %zu: %s\n", i + 1, out.items[i].error
			? out.items[i].message : out.items[i].value ? (const char *)out.items[i].value : "(none)");
	sh_responses_dispose(&out);
	sh_hub_free(hub);
	return 0;
}
