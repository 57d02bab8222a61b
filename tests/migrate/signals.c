/*
 * signals.c: pre_migrate and post_migrate as Django sends them: once per
 * installed app (also apps without migrations), in load order, pre_migrate
 * before the first table changes and post_migrate after the last, each
 * with the app, verbosity, interactive, using, the whole plan and the
 * model state (apps) of that moment; also when there is nothing to do; and
 * never post_migrate after a failure. A failing receiver stops migrate.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(signals, .init = mt_setup, .fini = mt_teardown);

/* What the receiver heard, one line per send. */
typedef struct heard {
	char *text;
	size_t len;
	FILE *out;
	int fail_for;           /* SH_PRE_MIGRATE/SH_POST_MIGRATE to fail for app "shop", -1 */
} heard;

static bool has_model(const sh_state *state, const char *label)
{
	const sh_model *m;
	bool found = sh_models_lookup(&m, sh_state_models(state), label) == 0;
	sh_error_clear();
	return found;
}

static int on_migrate(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)response;
	heard *h = payload;
	const sh_migrate_args *a = args;
	char *plan = mt_plan_text(a->plan, a->plan_count);
	char *tables = mt_query("SELECT count(*) FROM sqlite_master WHERE name = 'orders_order'");
	tables[strcspn(tables, "\n")] = '\0';
	fprintf(h->out, "%s %s app=%s v=%d i=%d using=%s order=%d note=%d table=%s plan=[%s]\n",
		sh_signal_name(signal), sh_sender_name(sender), sh_app_label(a->app_config),
		a->verbosity, a->interactive, a->using_, has_model(a->apps, "orders.Order"),
		has_model(a->apps, "notes.note"), tables, plan);
	fflush(h->out);
	free(plan);
	free(tables);
	bool pre = strcmp(sh_signal_name(signal), "pre_migrate") == 0;
	if (h->fail_for >= 0 && (pre ? SH_PRE_MIGRATE : SH_POST_MIGRATE) == h->fail_for
			&& strcmp(sh_sender_name(sender), "shop") == 0)
		return sh_error_set(SH_ERECEIVER, "shop refuses");
	return 0;
}

static void listen(sh_project *p, heard *h)
{
	h->out = open_memstream(&h->text, &h->len);
	sh_hub *hub = sh_project_hub(p);
	cr_assert_geq(sh_signal_connect(NULL, sh_hub_builtin(hub, SH_PRE_MIGRATE), on_migrate, h,
		NULL), 0);
	cr_assert_geq(sh_signal_connect(NULL, sh_hub_builtin(hub, SH_POST_MIGRATE), on_migrate, h,
		NULL), 0);
}

static char *heard_text(heard *h)
{
	fflush(h->out);
	return h->text;
}

#define PLAN "people.0001_initial people.0002_person_age shop.0001_initial " \
	"shop.0002_item_price orders.0001_initial"

Test(signals, every_installed_app_hears_both_in_load_order_with_the_plan)
{
	mt_three_apps();
	sh_project *p = mt_open();
	heard h = { .fail_for = -1 };
	listen(p, &h);
	sh_migrate_graph *g = mt_graph(p);
	sh_migrate_opts opts = SH_MIGRATE_OPTS_INIT;
	opts.verbosity = 2;
	opts.interactive = true;
	cr_assert_eq(sh_migrate_run(g, &opts), 0, "%s", sh_error_last()->message);
	cr_assert_str_eq(heard_text(&h),
		"pre_migrate people app=people v=2 i=1 using=default order=0 note=1 table=0 plan=[" PLAN "]\n"
		"pre_migrate shop app=shop v=2 i=1 using=default order=0 note=1 table=0 plan=[" PLAN "]\n"
		"pre_migrate orders app=orders v=2 i=1 using=default order=0 note=1 table=0 plan=[" PLAN "]\n"
		"pre_migrate notes app=notes v=2 i=1 using=default order=0 note=1 table=0 plan=[" PLAN "]\n"
		"post_migrate people app=people v=2 i=1 using=default order=1 note=1 table=1 plan=[" PLAN "]\n"
		"post_migrate shop app=shop v=2 i=1 using=default order=1 note=1 table=1 plan=[" PLAN "]\n"
		"post_migrate orders app=orders v=2 i=1 using=default order=1 note=1 table=1 plan=[" PLAN "]\n"
		"post_migrate notes app=notes v=2 i=1 using=default order=1 note=1 table=1 plan=[" PLAN "]\n");
	fclose(h.out);
	free(h.text);
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(signals, both_are_sent_when_there_is_nothing_to_migrate)
{
	mt_three_apps();
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, NULL, NULL), 0, "%s", sh_error_last()->message);
	heard h = { .fail_for = -1 };
	listen(p, &h);
	cr_assert_eq(mt_migrate(g, NULL, NULL), 0, "%s", sh_error_last()->message);
	char *text = heard_text(&h);
	cr_assert_eq(t_lines(text), 8, "%s", text);
	mt_has(text, "pre_migrate notes app=notes v=1 i=0 using=default order=1 note=1 table=1 plan=[]\n");
	mt_has(text, "post_migrate people app=people v=1 i=0 using=default order=1 note=1 table=1 "
		"plan=[]\n");
	fclose(h.out);
	free(h.text);
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(signals, a_backwards_plan_is_sent_with_its_direction_and_states)
{
	mt_three_apps();
	sh_project *p = mt_open();
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, NULL, NULL), 0, "%s", sh_error_last()->message);
	heard h = { .fail_for = -1 };
	listen(p, &h);
	cr_assert_eq(mt_migrate(g, "people", "0001"), 0, "%s", sh_error_last()->message);
	char *text = heard_text(&h);
	mt_has(text, "pre_migrate people app=people v=1 i=0 using=default order=1 note=1 table=1 "
		"plan=[-orders.0001_initial -people.0002_person_age]\n");
	mt_has(text, "post_migrate orders app=orders v=1 i=0 using=default order=0 note=1 table=0 "
		"plan=[-orders.0001_initial -people.0002_person_age]\n");
	fclose(h.out);
	free(h.text);
	sh_migrate_free(g);
	sh_project_free(p);
}

Test(signals, a_failing_pre_migrate_receiver_stops_before_any_change)
{
	mt_three_apps();
	sh_project *p = mt_open();
	heard h = { .fail_for = SH_PRE_MIGRATE };
	listen(p, &h);
	sh_migrate_graph *g = mt_graph(p);
	cr_assert_eq(mt_migrate(g, NULL, NULL), SH_ERECEIVER);
	mt_has(sh_error_last()->message, "a pre_migrate receiver failed for app 'shop': shop refuses");
	char *text = heard_text(&h);
	cr_assert_eq(t_lines(text), 2, "%s", text);   /* people, then shop stopped it */
	char *tables = mt_query("SELECT count(*) FROM sqlite_master WHERE type = 'table'");
	cr_assert_str_eq(tables, "0\n");
	free(tables);
	fclose(h.out);
	free(h.text);
	sh_migrate_free(g);
	sh_project_free(p);
}
