/*
 * signals.c: `sighost signals`: loads the project and shows every signal
 * with its receivers in the order a send calls them: owning app, receiver
 * function, sender filter, priority and dispatch_uid. Django has no such
 * view; it answers "who hears post_save from alert.Alert, and in which
 * order?" without reading any plugin's source. With --json it prints the
 * document of the dashboard's JSON endpoint instead (apps, signals, models,
 * migrations, settings; see docs/dashboard.md), for tools.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "project_open.h"

/* What to show. */
typedef struct sh__filter {
	const char *signal;   /* only this signal, or NULL */
	const char *app;      /* only receivers owned by this app, or NULL */
	bool connected;       /* hide signals without (matching) receivers */
	size_t shown;         /* signals printed */
} sh__filter;

/* One printed receiver row. */
typedef struct sh__row {
	char app[64];
	char receiver[160];
	char sender[160];
	char uid[160];
	int priority;
} sh__row;

/* Collects the rows of one signal. */
typedef struct sh__rows {
	const sh__filter *filter;
	sh__row rows[256];
	size_t count;
	size_t total;         /* matching receivers, also those beyond the array */
	int app_width, receiver_width, sender_width;   /* of the widest cell */
} sh__rows;

static void sh_cli__widen(int *width, const char *cell)
{
	int len = (int)strlen(cell);
	if (len > *width)
		*width = len;
}

static int sh_cli__collect(const sh_connection_info *info, void *payload)
{
	sh__rows *r = payload;
	if (r->filter->app != NULL && (info->owner == NULL || strcmp(info->owner, r->filter->app) != 0))
		return 0;
	r->total++;
	if (r->count == sizeof r->rows / sizeof r->rows[0])
		return 0;
	sh__row *row = &r->rows[r->count++];
	snprintf(row->app, sizeof row->app, "%s", info->owner ? info->owner : "-");
	sh_receiver_describe(row->receiver, sizeof row->receiver, info);
	snprintf(row->sender, sizeof row->sender, "%s",
		info->sender ? sh_sender_name(info->sender) : "(any)");
	snprintf(row->uid, sizeof row->uid, "%s", info->dispatch_uid ? info->dispatch_uid : "-");
	row->priority = info->priority;
	sh_cli__widen(&r->app_width, row->app);
	sh_cli__widen(&r->receiver_width, row->receiver);
	sh_cli__widen(&r->sender_width, row->sender);
	return 0;
}

static void sh_cli__print_kind(const sh_signal *signal)
{
	if (sh_signal_is_builtin(signal))
		printf(" (built-in)");
	else if (sh_signal_declared_by(signal) != NULL)
		printf(" (custom, declared by %s)", sh_signal_declared_by(signal));
	else
		printf(" (custom, not declared by any loaded app)");
}

static void sh_cli__print_rows(const sh__rows *r)
{
	int wa = r->app_width, wr = r->receiver_width, ws = r->sender_width;
	printf("  %-3s %-*s  %-*s  %-*s  %8s  %s\n", "#", wa, "APP", wr, "RECEIVER", ws, "SENDER",
		"PRIORITY", "DISPATCH_UID");
	for (size_t i = 0; i < r->count; i++) {
		const sh__row *row = &r->rows[i];
		printf("  %-3zu %-*s  %-*s  %-*s  %8d  %s\n", i + 1, wa, row->app, wr, row->receiver,
			ws, row->sender, row->priority, row->uid);
	}
	if (r->total > r->count)
		printf("  ... and %zu more\n", r->total - r->count);
}

static int sh_cli__print_signal(sh_signal *signal, void *payload)
{
	sh__filter *f = payload;
	if (f->signal != NULL && strcmp(f->signal, sh_signal_name(signal)) != 0)
		return 0;
	/* Columns are at least as wide as their headings. */
	sh__rows r = { .filter = f, .app_width = 3, .receiver_width = 8, .sender_width = 6 };
	sh_signal_foreach_connection(signal, sh_cli__collect, &r);
	if (r.total == 0 && (f->connected || f->app != NULL))
		return 0;
	if (f->shown++ > 0)
		printf("\n");
	printf("%s", sh_signal_name(signal));
	sh_cli__print_kind(signal);
	printf(": %zu receiver%s\n", r.total, r.total == 1 ? "" : "s");
	if (r.total > 0)
		sh_cli__print_rows(&r);
	return 0;
}

/* --json: the dashboard's document (sh_introspect_project), on one line. */
static int sh_cli__print_json(sh_project *project)
{
	json_t *doc = NULL;
	if (sh_introspect_project(&doc, project) < 0) {
		fprintf(stderr, "sighost signals: %s\n", sh_error_last()->message);
		return 1;
	}
	int rc = json_dumpf(doc, stdout, JSON_COMPACT) == 0 && puts("") >= 0 ? 0 : 1;
	json_decref(doc);
	return rc;
}

int sh_cli_signals(int argc, char **argv)
{
	static const struct option options[] = {
		SH_CLI_SETTINGS_OPTION,
		{ "signal", 1, NULL, 'n' },
		{ "app", 1, NULL, 'a' },
		{ "connected", 0, NULL, 'c' },
		{ "json", 0, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *settings = NULL;
	sh__filter filter = { 0 };
	bool json = false;
	for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
		switch (c) {
		case 's': settings = optarg; break;
		case 'n': filter.signal = optarg; break;
		case 'a': filter.app = optarg; break;
		case 'c': filter.connected = true; break;
		case 'j': json = true; break;
		default: return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sighost signals: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (json && (filter.signal != NULL || filter.app != NULL || filter.connected)) {
		fprintf(stderr, "sighost signals: --json prints the whole document; filter it "
			"with a JSON tool (jq) instead of --signal, --app or --connected\n");
		return 2;
	}
	sh_project *project = sh_cli_project(settings, true, "signals");
	if (project == NULL) {
		return 1;
	}
	if (json) {
		int rc = sh_cli__print_json(project);
		sh_project_free(project);
		return rc;
	}
	sh_signal *found;
	if (filter.signal != NULL && sh_signal_lookup(&found, sh_project_hub(project), filter.signal) < 0) {
		fprintf(stderr, "sighost signals: no signal named '%s'\n", filter.signal);
		sh_project_free(project);
		return 1;
	}
	sh_hub_foreach_signal(sh_project_hub(project), sh_cli__print_signal, &filter);
	sh_project_free(project);
	return 0;
}
