/*
 * prepare.c: sh_models_prepare(), the second half of Django's model
 * loading. Once every app declared its models, relations are resolved
 * whatever the declaration order (Django's lazy "app.Model" references),
 * checked (unknown targets, `through` models, clashing reverse names and
 * tables), the automatic join model of each many-to-many field is made
 * and placed right after its model, the reverse relations are listed, and
 * class_prepared goes out once per model in declaration order, each join
 * model just before its model (as in Django).
 *
 * Preparing either succeeds as a whole or leaves the registry as declared
 * (sh_db__prepare_reset), so a caller may fix declarations and try again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/suggest.h"
#include "db.h"
#include "registry_private.h"

/* ---- "did you mean" for model labels ---- */

/* The declared model whose label is nearest `label`, when near enough to
 * be a typo; NULL otherwise. */
static const sh_model *sh_db__suggest_model(const sh_models *models, const char *label)
{
	size_t len = strlen(label), limit = len / 4 > 2 ? len / 4 : 2;
	const sh_model *best = NULL;
	size_t best_distance = SIZE_MAX;
	for (size_t i = 0; i < models->count; i++) {
		const sh_model *m = models->models[i];
		size_t d = m->auto_created ? SIZE_MAX : sh_base__edit_distance(label, m->label);
		if (d < best_distance) {
			best = m;
			best_distance = d;
		}
	}
	return best_distance <= limit ? best : NULL;
}

/* ---- resolving ---- */

static void sh_db__unknown_model(sh_models *models, const sh_field *f, const char *what,
	const char *label)
{
	const sh_model *near = sh_db__suggest_model(models, label);
	const sh_model *m = f->model;
	if (near != NULL)
		sh_db__models_problem(models, SH_EMANIFEST, sh_db__field_where(f),
			"%s.%s: %s '%s' is not a declared model (did you mean '%s'?)", m->label, f->name,
			what, label, near->label);
	else
		sh_db__models_problem(models, SH_EMANIFEST, sh_db__field_where(f),
			"%s.%s: %s '%s' is not a declared model (no installed app declares it)",
			m->label, f->name, what, label);
}

/* Finds the through model's keys to the two sides of many-to-many field
 * `f`; reports what is wrong. Returns true when both were found. */
static bool sh_db__through_keys(sh_models *models, sh_field *f, sh_model *through)
{
	sh_model *source = f->model, *target = f->target;
	size_t keys[2], to_source = 0, to_target = 0, found = 0;
	for (size_t i = 0; i < through->field_count; i++) {
		const sh_field *k = &through->fields[i];
		if (k->type != SH_FIELD_FOREIGN_KEY)
			continue;
		sh_model *points = sh_db__models_find_label(models, k->to);
		if (points == NULL)
			return false;   /* reported as the through model's own problem */
		if (points == source && found < 2)
			keys[found++] = i;
		to_source += points == source;
		to_target += points == target && source != target;
	}
	const char *where = sh_db__field_where(f);
	if (source == target) {
		if (to_source == 2) {
			f->through_source = keys[0];
			f->through_target = keys[1];
			return true;
		}
		sh_db__models_problem(models, SH_EMANIFEST, where, "%s.%s: the through model %s must "
			"have exactly two foreign keys to %s (from and to), not %zu", source->label,
			f->name, through->label, source->label, to_source);
		return false;
	}
	const sh_model *side = to_source != 1 ? source : to_target != 1 ? target : NULL;
	size_t n = to_source != 1 ? to_source : to_target;
	if (side == NULL) {
		for (size_t i = 0; i < through->field_count; i++) {
			const sh_field *k = &through->fields[i];
			if (k->type != SH_FIELD_FOREIGN_KEY)
				continue;
			sh_model *points = sh_db__models_find_label(models, k->to);
			if (points == source)
				f->through_source = i;
			else if (points == target)
				f->through_target = i;
		}
		return true;
	}
	if (n == 0)
		sh_db__models_problem(models, SH_EMANIFEST, where, "%s.%s: the through model %s has no "
			"foreign key to %s", source->label, f->name, through->label, side->label);
	else
		sh_db__models_problem(models, SH_EMANIFEST, where, "%s.%s: the through model %s has %zu "
			"foreign keys to %s, which is ambiguous (it needs exactly one)", source->label,
			f->name, through->label, n, side->label);
	return false;
}

static void sh_db__resolve_field(sh_models *models, sh_field *f)
{
	f->target = sh_db__models_find_label(models, f->to);
	if (f->target == NULL) {
		sh_db__unknown_model(models, f, "'to'", f->to);
		return;
	}
	if (f->type != SH_FIELD_MANY_TO_MANY || f->through_label == NULL)
		return;
	sh_model *through = sh_db__models_find_label(models, f->through_label);
	if (through == NULL)
		sh_db__unknown_model(models, f, "'through'", f->through_label);
	else if (sh_db__through_keys(models, f, through))
		f->through = through;
}

static void sh_db__resolve_targets(sh_models *models)
{
	for (size_t i = 0; i < models->count; i++) {
		sh_model *m = models->models[i];
		for (size_t k = 0; k < m->field_count; k++) {
			sh_field *f = &m->fields[k];
			if (f->type == SH_FIELD_FOREIGN_KEY || f->type == SH_FIELD_MANY_TO_MANY)
				sh_db__resolve_field(models, f);
		}
	}
}

/* ---- reverse names ---- */

static bool sh_db__prepare_hidden(const sh_field *f)
{
	size_t len = strlen(f->related_name);
	return len > 0 && f->related_name[len - 1] == '+';
}

/* Django's fields.E302/E304: a reverse name must not be a field of the
 * target, nor the reverse name of another relation to the same target. */
static void sh_db__check_reverse(sh_models *models, const sh_field *f)
{
	const sh_model *t = f->target;
	const sh_field *same = sh_db__model_field(t, f->related_name);
	if (same != NULL) {
		sh_db__models_problem(models, SH_EMANIFEST, sh_db__field_where(f),
			"%s.%s: the reverse relation '%s' on %s clashes with its field '%s' (give this "
			"field another related_name)", f->model->label, f->name, f->related_name,
			t->label, same->name);
		return;
	}
	for (size_t i = 0; i < models->count; i++) {
		const sh_model *m = models->models[i];
		for (size_t k = 0; k < m->field_count; k++) {
			const sh_field *g = &m->fields[k];
			if (g == f)
				return;
			if (g->target != t || g->related_name == NULL || sh_db__prepare_hidden(g)
					|| strcmp(g->related_name, f->related_name) != 0)
				continue;
			sh_db__models_problem(models, SH_EMANIFEST, sh_db__field_where(f),
				"%s.%s: the reverse relation '%s' on %s clashes with the one of %s.%s "
				"(give one of them another related_name)", f->model->label, f->name,
				f->related_name, t->label, m->label, g->name);
			return;
		}
	}
}

static void sh_db__check_reverse_names(sh_models *models)
{
	for (size_t i = 0; i < models->count; i++) {
		sh_model *m = models->models[i];
		for (size_t k = 0; k < m->field_count; k++) {
			const sh_field *f = &m->fields[k];
			if (f->target != NULL && !sh_db__prepare_hidden(f))
				sh_db__check_reverse(models, f);
		}
	}
}

/* ---- join models ---- */

/* Makes the join model of many-to-many field `f`, as Django's
 * create_many_to_many_intermediary_model: model "<Model>_<field>", table
 * "<model table>_<field>", keys "<source>" and "<target>" (lower case;
 * "from_<name>" and "to_<name>" when both names are the same), cascading,
 * unique together. */
static int sh_db__join_model(sh_model **out, sh_models *models, sh_field *f)
{
	sh_model *source = f->model, *target = f->target;
	char *name = sh_base__format("%s_%s", source->name, f->name);
	char *hidden = name ? sh_base__format("%s+", name) : NULL;
	char *from = sh_base__lower(source->name), *to = sh_base__lower(target->name);
	char *from_name = NULL, *to_name = NULL;
	/* Django compares the names, not the models: a.Tag to b.Tag also
	 * gets from_tag and to_tag. */
	if (from != NULL && to != NULL && strcmp(from, to) == 0) {
		from_name = sh_base__format("from_%s", from);
		to_name = sh_base__format("to_%s", to);
	} else if (from != NULL && to != NULL) {
		from_name = strdup(from);
		to_name = strdup(to);
	}
	int rc = SH_ENOMEM;
	if (hidden != NULL && from_name != NULL && to_name != NULL) {
		sh_field_decl keys[2] = { SH_FIELD_DECL_INIT, SH_FIELD_DECL_INIT };
		const char *names[2] = { from_name, to_name };
		const char *labels[2] = { source->label, target->label };
		for (int i = 0; i < 2; i++) {
			keys[i].name = names[i];
			keys[i].type = SH_FIELD_FOREIGN_KEY;
			keys[i].to = labels[i];
			keys[i].on_delete = SH_ON_DELETE_CASCADE;
			keys[i].related_name = hidden;
		}
		rc = sh_db__model_build(out, models, source->app_label, name, keys, 2,
			sh_db__field_where(f), true);
	}
	free(name);
	free(hidden);
	free(from);
	free(to);
	free(from_name);
	free(to_name);
	if (rc < 0)
		return sh_error_set(SH_ENOMEM, "out of memory");
	sh_model *join = *out;
	/* Django: "<db_table>_<field name>", the field name kept as written. */
	char *table = sh_base__format("%s_%s", source->table, f->name);
	if (table == NULL) {
		sh_db__model_free(join);
		*out = NULL;
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	free(join->table);
	join->table = table;
	join->fields[1].target = source;
	join->fields[2].target = target;
	join->unique_together = calloc(1, sizeof *join->unique_together);
	size_t *pair = calloc(2, sizeof *pair);
	if (join->unique_together == NULL || pair == NULL) {
		free(pair);
		sh_db__model_free(join);
		*out = NULL;
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	pair[0] = 1;
	pair[1] = 2;
	join->unique_together[0].fields = pair;
	join->unique_together[0].count = 2;
	join->unique_together_count = 1;
	return 0;
}

/* Makes every join model and rebuilds the registry's order with each
 * right after its model. */
static int sh_db__add_join_models(sh_models *models)
{
	size_t joins = 0;
	for (size_t i = 0; i < models->count; i++)
		for (size_t k = 0; k < models->models[i]->field_count; k++) {
			const sh_field *f = &models->models[i]->fields[k];
			joins += f->type == SH_FIELD_MANY_TO_MANY && f->target != NULL
				&& f->through_label == NULL;
		}
	if (joins == 0)
		return 0;
	size_t total = models->count + joins;
	sh_model **order = calloc(total, sizeof *order);
	if (order == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; i < models->count; i++) {
		sh_model *m = models->models[i];
		order[n++] = m;
		for (size_t k = 0; rc == 0 && k < m->field_count; k++) {
			sh_field *f = &m->fields[k];
			if (f->type != SH_FIELD_MANY_TO_MANY || f->target == NULL || f->through_label)
				continue;
			rc = sh_db__join_model(&order[n], models, f);
			if (rc == 0) {
				f->through = order[n++];
				f->through_source = 1;
				f->through_target = 2;
			}
		}
	}
	if (rc < 0) {
		for (size_t i = 0; i < n; i++)
			if (order[i]->auto_created)
				sh_db__model_free(order[i]);
		for (size_t i = 0; i < models->count; i++)
			for (size_t k = 0; k < models->models[i]->field_count; k++)
				if (models->models[i]->fields[k].through_label == NULL)
					models->models[i]->fields[k].through = NULL;
		free(order);
		return rc;
	}
	free(models->models);
	models->models = order;
	models->count = models->capacity = total;
	for (size_t i = 0; i < total; i++)
		order[i]->index = i;
	return 0;
}

/* Join model names against declared models, and every table against the
 * others (SQLite compares names without regard to case). */
static void sh_db__check_names(sh_models *models)
{
	for (size_t i = 0; i < models->count; i++) {
		const sh_model *m = models->models[i];
		for (size_t j = 0; j < i; j++) {
			const sh_model *o = models->models[j];
			bool same_model = strcmp(m->app_label, o->app_label) == 0
				&& sh_db__ascii_casecmp(m->name, o->name) == 0;
			if (same_model && (m->auto_created || o->auto_created)) {
				const sh_model *join = m->auto_created ? m : o, *other = join == m ? o : m;
				sh_db__models_problem(models, SH_EMANIFEST, join->where, "the automatic join "
					"model %s clashes with the model %s (declared at %s)", join->label,
					other->label, other->where ? other->where : "?");
				break;
			}
			if (sh_db__ascii_casecmp(m->table, o->table) == 0) {
				sh_db__models_problem(models, SH_EMANIFEST, m->where, "%s: its table '%s' is "
					"also the table of %s (declared at %s)", m->label, m->table, o->label,
					o->where ? o->where : "?");
				break;
			}
		}
	}
}

/* ---- reverse relations ---- */

static int sh_db__reverse_add(sh__reverse **list, size_t *count, sh_model *from, size_t field)
{
	sh__reverse *grown = realloc(*list, (*count + 1) * sizeof *grown);
	if (grown == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	grown[(*count)++] = (sh__reverse){ from, field };
	*list = grown;
	return 0;
}

static int sh_db__list_reverse(sh_models *models)
{
	for (size_t i = 0; i < models->count; i++) {
		sh_model *m = models->models[i];
		for (size_t k = 0; k < m->field_count; k++) {
			sh_field *f = &m->fields[k];
			int rc = 0;
			if (f->type == SH_FIELD_FOREIGN_KEY)
				rc = sh_db__reverse_add(&f->target->reverse_fks, &f->target->reverse_fk_count,
					m, k);
			else if (f->type == SH_FIELD_MANY_TO_MANY)
				rc = sh_db__reverse_add(&f->target->reverse_m2m, &f->target->reverse_m2m_count,
					m, k);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ---- the whole ---- */

void sh_db__prepare_reset(sh_models *models)
{
	size_t kept = 0;
	for (size_t i = 0; i < models->count; i++) {
		sh_model *m = models->models[i];
		if (m->auto_created) {
			sh_db__model_free(m);
			continue;
		}
		free(m->reverse_fks);
		free(m->reverse_m2m);
		m->reverse_fks = m->reverse_m2m = NULL;
		m->reverse_fk_count = m->reverse_m2m_count = 0;
		for (size_t k = 0; k < m->field_count; k++) {
			m->fields[k].target = m->fields[k].through = NULL;
			m->fields[k].through_source = m->fields[k].through_target = 0;
		}
		m->index = kept;
		models->models[kept++] = m;
	}
	models->count = kept;
}

/* Resolves and checks everything; on success the registry holds its join
 * models and reverse lists. On a problem it is reset. */
static int sh_db__prepare_resolve(sh_models *models)
{
	models->first_problem = 0;
	sh_db__resolve_targets(models);
	if (models->first_problem == 0)
		sh_db__check_reverse_names(models);
	int rc = models->first_problem == 0 ? sh_db__add_join_models(models) : 0;
	if (rc == 0 && models->first_problem == 0)
		sh_db__check_names(models);
	if (rc == 0 && models->first_problem == 0)
		rc = sh_db__list_reverse(models);
	if (rc == 0)
		rc = models->first_problem;
	if (rc < 0)
		sh_db__prepare_reset(models);
	return rc;
}

int sh_db__models_check(sh_models *models)
{
	if (models == NULL || models->prepared)
		return sh_error_set(SH_EINVAL, "the registry is prepared already");
	int rc = sh_db__prepare_resolve(models);
	if (rc == 0)
		sh_db__prepare_reset(models);
	return rc;
}

static int sh_db__send_one_class_prepared(sh_signal *signal, const sh_model *m)
{
	if (!sh_signal_has_listeners(signal, m->sender))
		return 0;
	sh_class_prepared_args args = { m };
	int rc = sh_signal_send(signal, m->sender, &args, NULL);
	if (rc < 0) {
		char why[1024];
		snprintf(why, sizeof why, "%s", sh_error_last()->message);
		return sh_error_set(rc, "a class_prepared receiver failed for %s: %s", m->label, why);
	}
	return 0;
}

/* Sends class_prepared for each model in declaration order, each model's
 * join models (which follow it in the registry) just before it, as Django
 * builds a join model while building its model's class. Stops at the first
 * failing receiver. */
static int sh_db__send_class_prepared(sh_models *models)
{
	sh_signal *signal = sh_hub_builtin(models->hub, SH_CLASS_PREPARED);
	for (size_t i = 0; i < models->count; i++) {
		if (models->models[i]->auto_created)
			continue;
		size_t joins = i + 1;
		while (joins < models->count && models->models[joins]->auto_created)
			joins++;
		for (size_t j = i + 1; j < joins; j++) {
			int rc = sh_db__send_one_class_prepared(signal, models->models[j]);
			if (rc < 0)
				return rc;
		}
		int rc = sh_db__send_one_class_prepared(signal, models->models[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int sh_models_prepare(sh_models *models)
{
	if (models == NULL)
		return sh_error_set(SH_EINVAL, "sh_models_prepare: the registry is required");
	if (models->prepared)
		return sh_error_set(SH_EINVAL, "the registry is prepared already");
	int rc = sh_db__prepare_resolve(models);
	if (rc < 0)
		return rc;
	models->prepared = true;
	return sh_db__send_class_prepared(models);
}
