/*
 * m2m.c: m2m_changed for add, remove, clear and set on both sides of a
 * many-to-many relation, and what a delete does to the join rows.
 *
 * Django's behaviour (django/db/models/fields/related_descriptors.py,
 * create_forward_many_to_many_manager / ManyRelatedManager; the join model
 * comes from create_many_to_many_intermediary_model in
 * django/db/models/fields/related.py, named "<Model>_<field>" in the
 * declaring model's app, auto_created):
 * - sender is the through model; instance the object whose manager is used;
 *   reverse is False on the declaring side (post.tags) and True on the
 *   other (tag.post_set); model is the class of the objects added/removed
 *   (Tag forward, Post reverse); using is the alias.
 * - add(*objs): no objs -> returns, no signal. Otherwise, inside
 *   atomic(savepoint=False): missing = the given pks minus those already
 *   related (_get_missing_target_ids); pre_add(pk_set=missing), INSERT of
 *   the missing ones, post_add(pk_set=missing). The signals are sent
 *   whenever m2m_changed has listeners, even when `missing` is empty: an
 *   add of pks that are all related already sends pre_add and post_add
 *   with an empty pk_set and inserts nothing.
 * - remove(*objs): no objs -> returns. Otherwise pre_remove(pk_set=old_ids)
 *   then the DELETE then post_remove(pk_set=old_ids), where old_ids is the
 *   set of ALL the pks given, related or not (_remove_items does not
 *   narrow it).
 * - clear(): pre_clear(pk_set=None), DELETE of the instance's join rows,
 *   post_clear(pk_set=None); sent even when nothing is related.
 * - set(objs) (clear=False): old = the related pks; each given pk already
 *   related is kept (dropped from old), the others are new; then
 *   remove(*old) and add(*new): pre_remove/post_remove with exactly the
 *   pks dropped, then pre_add/post_add with exactly the new ones; an empty
 *   remove or add sends nothing, so set() of the same pks sends nothing.
 * - The manager needs a saved instance: an unsaved one raises ValueError
 *   when the manager is made, before any signal.
 * - Deleting an object: the join rows go through the Collector like any
 *   CASCADE row, but an auto_created model gets no pre_delete/post_delete
 *   (deletion.py) and no m2m_changed is sent by a delete.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(m2m, .init = fx_setup, .fini = fx_teardown);
TestSuite(m2m_reverse, .init = fx_setup, .fini = fx_teardown);
TestSuite(m2m_delete, .init = fx_setup, .fini = fx_teardown);

typedef struct world {
	sh_instance *p1, *p2, *t1, *t2, *t3;
} world;

static world make_world(void)
{
	world w;
	w.p1 = SAVED("t.Post", FV("title", T("p1")));
	w.p2 = SAVED("t.Post", FV("title", T("p2")));
	w.t1 = SAVED("t.Tag", FV("name", T("t1")));
	w.t2 = SAVED("t.Tag", FV("name", T("t2")));
	w.t3 = SAVED("t.Tag", FV("name", T("t3")));
	log_clear();
	return w;
}

static void free_world(world *w)
{
	sh_instance_free(w->p1);
	sh_instance_free(w->p2);
	sh_instance_free(w->t1);
	sh_instance_free(w->t2);
	sh_instance_free(w->t3);
}

/* Returns the related pks as "[1, 2]" (static buffer). */
static const char *related(sh_instance *inst, const char *name)
{
	static char out[256];
	int64_t *pks = NULL;
	size_t n = 0;
	int rc = sh_m2m_pks(inst, name, &pks, &n);
	cr_assert_eq(rc, 0, "sh_m2m_pks %s: %d %s", name, rc, sh_error_last()->message);
	size_t o = 0;
	o += (size_t)snprintf(out + o, sizeof out - o, "[");
	for (size_t i = 0; i < n && o < sizeof out; i++)
		o += (size_t)snprintf(out + o, sizeof out - o, "%s%lld", i ? ", " : "",
			(long long)pks[i]);
	if (o < sizeof out)
		snprintf(out + o, sizeof out - o, "]");
	free(pks);
	return out;
}

static void add(sh_instance *inst, const char *name, const int64_t *pks, size_t n)
{
	int rc = sh_m2m_add(inst, name, pks, n);
	cr_assert_eq(rc, 0, "add: %d %s", rc, sh_error_last()->message);
}

#define PKS(...) (const int64_t[]){ __VA_ARGS__ }, \
	sizeof((const int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)

/* ---- forward side ------------------------------------------------------ */

Test(m2m, add_sends_pre_add_and_post_add_with_the_new_pks)
{
	world w = make_world();
	add(w.p1, "tags", PKS(2, 1));
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[1, 2] using=default\n"
		"m2m_changed t.Post_tags post_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[1, 2] using=default\n");
	cr_assert_str_eq(related(w.p1, "tags"), "[1, 2]");
	cr_assert_eq(sql_int("SELECT count(*) FROM \"%s\"", join_table("t.Post", "tags")), 2);
	free_world(&w);
}

/* The join rows as a receiver sees them at each action. */
static int count_join(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_m2m_changed_args *a = args;
	log_note("  join rows at %s: %lld", sh_m2m_action_name(a->action),
		(long long)sql_int("SELECT count(*) FROM \"%s\"", join_table("t.Post", "tags")));
	return 0;
}

Test(m2m, pre_add_comes_before_the_insert_and_post_add_after)
{
	world w = make_world();
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_M2M_CHANGED), count_join,
		NULL, NULL), 0);
	add(w.p1, "tags", PKS(1, 2));
	cr_assert_eq(log_count("  join rows at pre_add: 0"), 1, "%s", log_text());
	cr_assert_eq(log_count("  join rows at post_add: 2"), 1, "%s", log_text());
	cr_assert_eq(sh_m2m_remove(w.p1, "tags", PKS(1)), 0);
	cr_assert_eq(log_count("  join rows at pre_remove: 2"), 1, "%s", log_text());
	cr_assert_eq(log_count("  join rows at post_remove: 1"), 1, "%s", log_text());
	cr_assert_eq(sh_m2m_clear(w.p1, "tags"), 0);
	cr_assert_eq(log_count("  join rows at pre_clear: 1"), 1, "%s", log_text());
	cr_assert_eq(log_count("  join rows at post_clear: 0"), 1, "%s", log_text());
	free_world(&w);
}

Test(m2m, add_overlapping_pks_sends_only_those_not_related_yet)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1, 2));
	log_clear();
	add(w.p1, "tags", PKS(2, 3));
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[3] using=default\n"
		"m2m_changed t.Post_tags post_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[3] using=default\n");
	cr_assert_str_eq(related(w.p1, "tags"), "[1, 2, 3]");
	free_world(&w);
}

/* Django: _add_items sends both signals whenever m2m_changed has
 * listeners, with pk_set = the missing pks, here the empty set. */
Test(m2m, add_of_only_related_pks_sends_both_with_an_empty_pk_set)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1, 2));
	log_clear();
	add(w.p1, "tags", PKS(1, 2));
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[] using=default\n"
		"m2m_changed t.Post_tags post_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[] using=default\n");
	cr_assert_eq(sql_int("SELECT count(*) FROM \"%s\"", join_table("t.Post", "tags")), 2,
		"no duplicate join row");
	free_world(&w);
}

Test(m2m, add_of_nothing_sends_nothing)
{
	world w = make_world();
	cr_assert_eq(sh_m2m_add(w.p1, "tags", NULL, 0), 0);
	cr_assert_str_eq(log_text(), "");
	free_world(&w);
}

Test(m2m, add_is_per_instance)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1));
	add(w.p2, "tags", PKS(1));
	cr_assert_eq(log_count("m2m_changed t.Post_tags pre_add instance=t.Post:2 reverse=False "
		"model=t.Tag pk_set=[1]"), 1, "%s", log_text());
	cr_assert_str_eq(related(w.p2, "tags"), "[1]");
	free_world(&w);
}

Test(m2m, remove_sends_pre_remove_and_post_remove)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1, 2, 3));
	log_clear();
	cr_assert_eq(sh_m2m_remove(w.p1, "tags", PKS(3, 1)), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_remove instance=t.Post:1 reverse=False model=t.Tag pk_set=[1, 3] using=default\n"
		"m2m_changed t.Post_tags post_remove instance=t.Post:1 reverse=False model=t.Tag pk_set=[1, 3] using=default\n");
	cr_assert_str_eq(related(w.p1, "tags"), "[2]");
	free_world(&w);
}

/* Django: _remove_items passes every pk given (old_ids), related or not. */
Test(m2m, remove_passes_every_pk_given_as_django_does)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1));
	log_clear();
	cr_assert_eq(sh_m2m_remove(w.p1, "tags", PKS(1, 3)), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_remove instance=t.Post:1 reverse=False model=t.Tag pk_set=[1, 3] using=default\n"
		"m2m_changed t.Post_tags post_remove instance=t.Post:1 reverse=False model=t.Tag pk_set=[1, 3] using=default\n");
	cr_assert_str_eq(related(w.p1, "tags"), "[]");
	free_world(&w);
}

Test(m2m, remove_of_nothing_sends_nothing)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1));
	log_clear();
	cr_assert_eq(sh_m2m_remove(w.p1, "tags", NULL, 0), 0);
	cr_assert_str_eq(log_text(), "");
	cr_assert_str_eq(related(w.p1, "tags"), "[1]");
	free_world(&w);
}

Test(m2m, clear_sends_pre_clear_and_post_clear_with_no_pk_set)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1, 2));
	add(w.p2, "tags", PKS(1));
	log_clear();
	cr_assert_eq(sh_m2m_clear(w.p1, "tags"), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_clear instance=t.Post:1 reverse=False model=t.Tag pk_set=None using=default\n"
		"m2m_changed t.Post_tags post_clear instance=t.Post:1 reverse=False model=t.Tag pk_set=None using=default\n");
	cr_assert_str_eq(related(w.p1, "tags"), "[]");
	cr_assert_str_eq(related(w.p2, "tags"), "[1]", "another instance's rows stay");
	free_world(&w);
}

Test(m2m, clear_of_an_empty_relation_still_sends_both)
{
	world w = make_world();
	cr_assert_eq(sh_m2m_clear(w.p1, "tags"), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_clear instance=t.Post:1 reverse=False model=t.Tag pk_set=None using=default\n"
		"m2m_changed t.Post_tags post_clear instance=t.Post:1 reverse=False model=t.Tag pk_set=None using=default\n");
	free_world(&w);
}

Test(m2m, set_removes_the_dropped_then_adds_the_new)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1, 2));
	log_clear();
	cr_assert_eq(sh_m2m_set(w.p1, "tags", PKS(2, 3)), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_remove instance=t.Post:1 reverse=False model=t.Tag pk_set=[1] using=default\n"
		"m2m_changed t.Post_tags post_remove instance=t.Post:1 reverse=False model=t.Tag pk_set=[1] using=default\n"
		"m2m_changed t.Post_tags pre_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[3] using=default\n"
		"m2m_changed t.Post_tags post_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[3] using=default\n");
	cr_assert_str_eq(related(w.p1, "tags"), "[2, 3]");
	free_world(&w);
}

Test(m2m, set_of_the_same_pks_sends_nothing)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1, 2));
	log_clear();
	cr_assert_eq(sh_m2m_set(w.p1, "tags", PKS(2, 1)), 0);
	cr_assert_str_eq(log_text(), "");
	cr_assert_str_eq(related(w.p1, "tags"), "[1, 2]");
	free_world(&w);
}

Test(m2m, set_with_only_additions_sends_only_the_add_pair)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1));
	log_clear();
	cr_assert_eq(sh_m2m_set(w.p1, "tags", PKS(1, 2)), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[2] using=default\n"
		"m2m_changed t.Post_tags post_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[2] using=default\n");
	free_world(&w);
}

Test(m2m, set_to_nothing_sends_only_the_remove_pair)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1, 2));
	log_clear();
	cr_assert_eq(sh_m2m_set(w.p1, "tags", NULL, 0), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_remove instance=t.Post:1 reverse=False model=t.Tag pk_set=[1, 2] using=default\n"
		"m2m_changed t.Post_tags post_remove instance=t.Post:1 reverse=False model=t.Tag pk_set=[1, 2] using=default\n");
	cr_assert_str_eq(related(w.p1, "tags"), "[]");
	free_world(&w);
}

Test(m2m, failing_pre_add_receiver_changes_nothing)
{
	world w = make_world();
	static int code = -61;
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	const sh_model *through = sh_field_through(sh_model_field(fx_model("t.Post"), "tags"));
	cr_assert_not_null(through);
	opts.sender = sh_model_sender(through);
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_M2M_CHANGED),
		failing_receiver, &code, &opts), 0);
	cr_assert_eq(sh_m2m_add(w.p1, "tags", PKS(1)), -61);
	cr_assert_eq(log_count("m2m_changed t.Post_tags post_add"), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM \"%s\"", join_table("t.Post", "tags")), 0);
	free_world(&w);
}

Test(m2m, sender_is_the_join_model_named_after_model_and_field)
{
	const sh_model *through = sh_field_through(sh_model_field(fx_model("t.Post"), "tags"));
	cr_assert_not_null(through);
	cr_assert_str_eq(sh_model_label(through), "t.Post_tags");
	cr_assert(sh_model_auto_created(through));
	cr_assert_str_eq(sh_sender_name(sh_model_sender(through)), "t.Post_tags");
}

Test(m2m, unsaved_instance_is_refused_before_any_signal)
{
	world w = make_world();
	sh_instance *p = NEW("t.Post", FV("title", T("draft")));
	log_clear();
	cr_assert_eq(sh_m2m_add(p, "tags", PKS(1)), SH_EINVAL);
	cr_assert_eq(sh_m2m_clear(p, "tags"), SH_EINVAL);
	cr_assert_str_eq(log_text(), "");
	sh_instance_free(p);
	free_world(&w);
}

static const sh_instance *m2m_seen[2];

static int note_m2m_instance(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_m2m_changed_args *a = args;
	if (a->action == SH_M2M_PRE_ADD)
		m2m_seen[0] = a->instance;
	else if (a->action == SH_M2M_POST_ADD)
		m2m_seen[1] = a->instance;
	return 0;
}

Test(m2m, instance_is_the_very_object_whose_relation_changed)
{
	world w = make_world();
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_M2M_CHANGED),
		note_m2m_instance, NULL, NULL), 0);
	add(w.t2, "post_set", PKS(1));
	cr_assert_eq(m2m_seen[0], w.t2);
	cr_assert_eq(m2m_seen[1], w.t2);
	free_world(&w);
}

/* ---- reverse side ------------------------------------------------------ */

Test(m2m_reverse, add_from_the_reverse_side)
{
	world w = make_world();
	add(w.t1, "post_set", PKS(2, 1));
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_add instance=t.Tag:1 reverse=True model=t.Post pk_set=[1, 2] using=default\n"
		"m2m_changed t.Post_tags post_add instance=t.Tag:1 reverse=True model=t.Post pk_set=[1, 2] using=default\n");
	cr_assert_str_eq(related(w.p1, "tags"), "[1]");
	cr_assert_str_eq(related(w.p2, "tags"), "[1]");
	cr_assert_str_eq(related(w.t1, "post_set"), "[1, 2]");
	free_world(&w);
}

Test(m2m_reverse, add_from_reverse_sends_only_pks_not_related_yet)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1));    /* forward: p1 - t1 */
	log_clear();
	add(w.t1, "post_set", PKS(1, 2));
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_add instance=t.Tag:1 reverse=True model=t.Post pk_set=[2] using=default\n"
		"m2m_changed t.Post_tags post_add instance=t.Tag:1 reverse=True model=t.Post pk_set=[2] using=default\n");
	free_world(&w);
}

Test(m2m_reverse, remove_from_the_reverse_side)
{
	world w = make_world();
	add(w.t2, "post_set", PKS(1, 2));
	log_clear();
	cr_assert_eq(sh_m2m_remove(w.t2, "post_set", PKS(2)), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_remove instance=t.Tag:2 reverse=True model=t.Post pk_set=[2] using=default\n"
		"m2m_changed t.Post_tags post_remove instance=t.Tag:2 reverse=True model=t.Post pk_set=[2] using=default\n");
	cr_assert_str_eq(related(w.p2, "tags"), "[]");
	cr_assert_str_eq(related(w.p1, "tags"), "[2]");
	free_world(&w);
}

Test(m2m_reverse, clear_from_the_reverse_side)
{
	world w = make_world();
	add(w.t3, "post_set", PKS(1, 2));
	add(w.p1, "tags", PKS(1));
	log_clear();
	cr_assert_eq(sh_m2m_clear(w.t3, "post_set"), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_clear instance=t.Tag:3 reverse=True model=t.Post pk_set=None using=default\n"
		"m2m_changed t.Post_tags post_clear instance=t.Tag:3 reverse=True model=t.Post pk_set=None using=default\n");
	cr_assert_str_eq(related(w.p1, "tags"), "[1]", "only t3's rows are cleared");
	cr_assert_str_eq(related(w.t3, "post_set"), "[]");
	free_world(&w);
}

Test(m2m_reverse, set_from_the_reverse_side)
{
	world w = make_world();
	add(w.t1, "post_set", PKS(1));
	log_clear();
	cr_assert_eq(sh_m2m_set(w.t1, "post_set", PKS(2)), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_remove instance=t.Tag:1 reverse=True model=t.Post pk_set=[1] using=default\n"
		"m2m_changed t.Post_tags post_remove instance=t.Tag:1 reverse=True model=t.Post pk_set=[1] using=default\n"
		"m2m_changed t.Post_tags pre_add instance=t.Tag:1 reverse=True model=t.Post pk_set=[2] using=default\n"
		"m2m_changed t.Post_tags post_add instance=t.Tag:1 reverse=True model=t.Post pk_set=[2] using=default\n");
	cr_assert_str_eq(related(w.t1, "post_set"), "[2]");
	free_world(&w);
}

/* ---- deletes ----------------------------------------------------------- */

Test(m2m_delete, deleting_a_tag_sends_no_m2m_changed_and_drops_its_join_rows)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1, 2));
	add(w.p2, "tags", PKS(1));
	log_clear();
	cr_assert_eq(sh_instance_delete(w.t1, NULL), 0, "%s", sh_error_last()->message);
	char *sends = log_only("m2m_changed pre_delete post_delete pre_save post_save");
	cr_assert_str_eq(sends,
		"pre_delete t.Tag pk=1 using=default origin=t.Tag:1\n"
		"post_delete t.Tag pk=1 using=default origin=t.Tag:1\n",
		"no m2m_changed, and no delete signal for the join model");
	free(sends);
	cr_assert_str_eq(related(w.p1, "tags"), "[2]");
	cr_assert_str_eq(related(w.p2, "tags"), "[]");
	cr_assert_eq(sql_int("SELECT count(*) FROM \"%s\"", join_table("t.Post", "tags")), 1);
	free_world(&w);
}

Test(m2m_delete, deleting_a_post_sends_no_m2m_changed_and_drops_its_join_rows)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1, 2));
	add(w.p2, "tags", PKS(2));
	log_clear();
	cr_assert_eq(sh_instance_delete(w.p1, NULL), 0, "%s", sh_error_last()->message);
	char *sends = log_only("m2m_changed pre_delete post_delete pre_save post_save");
	cr_assert_str_eq(sends,
		"pre_delete t.Post pk=1 using=default origin=t.Post:1\n"
		"post_delete t.Post pk=1 using=default origin=t.Post:1\n");
	free(sends);
	cr_assert_eq(sql_int("SELECT count(*) FROM \"%s\"", join_table("t.Post", "tags")), 1);
	cr_assert_str_eq(related(w.p2, "tags"), "[2]");
	cr_assert_eq(rows_of("t.Tag"), 3, "the tags themselves stay");
	free_world(&w);
}

/* ---- the related manager's create() and set(clear=True) ----------------
 *
 * Django (related_descriptors.py, ManyRelatedManager):
 * - create(**kwargs): new_obj = QuerySet.create(**kwargs) on the related
 *   model (pre_init kwargs, post_init, pre_save, INSERT, post_save
 *   created=True), then self.add(new_obj) (pre_add/post_add with its pk).
 * - set(objs, clear=True): inside atomic(savepoint=False): self.clear()
 *   (pre_clear/post_clear, pk_set None), then self.add(*objs)
 *   (pre_add/post_add with every pk; nothing when objs is empty).
 */

TestSuite(m2m_manager, .init = fx_setup, .fini = fx_teardown);

Test(m2m_manager, create_from_the_declaring_side_saves_then_adds)
{
	sh_instance *p = SAVED("t.Post", FV("title", T("p")));
	log_clear();
	sh_instance *tag = NULL;
	sh_field_value v[] = { FV("name", T("new")) };
	int rc = sh_m2m_create(&tag, p, "tags", v, 1);
	cr_assert_eq(rc, 0, "%d %s", rc, sh_error_last()->message);
	cr_assert_eq(sh_instance_pk(tag), 1);
	cr_assert_str_eq(log_text(),
		"pre_init t.Tag args=[] kwargs={'name': 'new'}\n"
		"post_init t.Tag pk=None\n"
		"pre_save t.Tag pk=None raw=False using=default update_fields=None\n"
		"post_save t.Tag pk=1 created=True raw=False using=default update_fields=None\n"
		"m2m_changed t.Post_tags pre_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[1] using=default\n"
		"m2m_changed t.Post_tags post_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[1] using=default\n");
	cr_assert_str_eq(related(p, "tags"), "[1]");
	sh_instance_free(tag);
	sh_instance_free(p);
}

Test(m2m_manager, create_from_the_reverse_side_makes_the_declaring_model)
{
	sh_instance *t = SAVED("t.Tag", FV("name", T("t")));
	log_clear();
	sh_instance *post = NULL;
	sh_field_value v[] = { FV("title", T("made")) };
	int rc = sh_m2m_create(&post, t, "post_set", v, 1);
	cr_assert_eq(rc, 0, "%d %s", rc, sh_error_last()->message);
	cr_assert_str_eq(log_text(),
		"pre_init t.Post args=[] kwargs={'title': 'made'}\n"
		"post_init t.Post pk=None\n"
		"pre_save t.Post pk=None raw=False using=default update_fields=None\n"
		"post_save t.Post pk=1 created=True raw=False using=default update_fields=None\n"
		"m2m_changed t.Post_tags pre_add instance=t.Tag:1 reverse=True model=t.Post pk_set=[1] using=default\n"
		"m2m_changed t.Post_tags post_add instance=t.Tag:1 reverse=True model=t.Post pk_set=[1] using=default\n");
	sh_instance_free(post);
	sh_instance_free(t);
}

Test(m2m_manager, a_failing_add_leaves_the_created_row_as_django_does)
{
	sh_instance *p = SAVED("t.Post", FV("title", T("p")));
	static int code = SH_ERECEIVER;
	connect_failing(SH_M2M_CHANGED, NULL, &code);
	sh_instance *tag = (sh_instance *)1;
	sh_field_value v[] = { FV("name", T("new")) };
	cr_assert_eq(sh_m2m_create(&tag, p, "tags", v, 1), SH_ERECEIVER);
	cr_assert_null(tag);
	cr_assert_eq(rows_of("t.Tag"), 1);
	cr_assert_eq(sql_int("SELECT count(*) FROM \"%s\"", join_table("t.Post", "tags")), 0);
	sh_instance_free(p);
}

Test(m2m_manager, set_with_clear_clears_then_adds_everything)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1, 2));
	log_clear();
	int rc = sh_m2m_set_clear(w.p1, "tags", PKS(2, 3));
	cr_assert_eq(rc, 0, "%d %s", rc, sh_error_last()->message);
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_clear instance=t.Post:1 reverse=False model=t.Tag pk_set=None using=default\n"
		"m2m_changed t.Post_tags post_clear instance=t.Post:1 reverse=False model=t.Tag pk_set=None using=default\n"
		"m2m_changed t.Post_tags pre_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[2, 3] using=default\n"
		"m2m_changed t.Post_tags post_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[2, 3] using=default\n");
	cr_assert_str_eq(related(w.p1, "tags"), "[2, 3]");
	free_world(&w);
}

Test(m2m_manager, set_with_clear_of_nothing_only_clears)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1));
	log_clear();
	cr_assert_eq(sh_m2m_set_clear(w.p1, "tags", NULL, 0), 0);
	cr_assert_str_eq(log_text(),
		"m2m_changed t.Post_tags pre_clear instance=t.Post:1 reverse=False model=t.Tag pk_set=None using=default\n"
		"m2m_changed t.Post_tags post_clear instance=t.Post:1 reverse=False model=t.Tag pk_set=None using=default\n");
	cr_assert_str_eq(related(w.p1, "tags"), "[]");
	free_world(&w);
}

Test(m2m_manager, set_with_clear_is_one_transaction)
{
	world w = make_world();
	add(w.p1, "tags", PKS(1));
	static int code = SH_ERECEIVER;
	connect_failing(SH_M2M_CHANGED, NULL, &code);
	/* the failing receiver runs at pre_clear: nothing may change */
	cr_assert_eq(sh_m2m_set_clear(w.p1, "tags", PKS(2)), SH_ERECEIVER);
	cr_assert_str_eq(related(w.p1, "tags"), "[1]");
	cr_assert_eq(sh_atomic_depth(fx.db), 0);
	free_world(&w);
}
