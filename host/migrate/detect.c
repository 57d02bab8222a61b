/*
 * detect.c: makemigrations (Django's MigrationAutodetector, as with
 * --noinput): compares the models each app's manifest declares with the
 * state its migrations build, and composes the operations that bring the
 * one to the other, their dependencies and the migration's name, then the
 * YAML text of the file (writer.c).
 *
 * Operations come in an order that keeps every intermediate state valid:
 * created models (a model after the models of its app it points at; a
 * cycle is broken by adding the field later), added fields, altered
 * fields, removed fields, deleted models (what points at a model goes
 * first). A renamed model or field is a removal and an addition, as
 * Django's questioner answers without a terminal. Before anything is
 * returned, the operations are replayed on the state and the result
 * compared with the manifests, so a migration it writes gives exactly the
 * declared models.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"

/* One app's new migration while it is composed. */
typedef struct sh__change {
	const sh__gapp *app;
	sh__op *ops;
	size_t op_count;
	size_t op_capacity;
	sh__dep *deps;
	size_t dep_count;
	size_t dep_capacity;
	char *name;
	char *path;
	char *text;
	char **descriptions;
	bool initial;
	long *needs;                /* indexes of other changes it depends on */
	size_t need_count;
} sh__change;

struct sh_migrate_changes {
	sh__change *changes;
	size_t count;
	sh_migrate_change *items;
};

static void sh_migrate__change_dispose(sh__change *c)
{
	for (size_t i = 0; i < c->op_count; i++) {
		sh_migrate__op_dispose(&c->ops[i]);
		if (c->descriptions != NULL)
			free(c->descriptions[i]);
	}
	free(c->ops);
	for (size_t i = 0; i < c->dep_count; i++) {
		free(c->deps[i].app_label);
		free(c->deps[i].name);
		free(c->deps[i].where);
	}
	free(c->deps);
	free(c->descriptions);
	free(c->name);
	free(c->path);
	free(c->text);
	free(c->needs);
}

void sh_migrate_changes_free(sh_migrate_changes *changes)
{
	if (changes == NULL)
		return;
	for (size_t i = 0; i < changes->count; i++)
		sh_migrate__change_dispose(&changes->changes[i]);
	free(changes->changes);
	free(changes->items);
	free(changes);
}

size_t sh_migrate_changes_count(const sh_migrate_changes *changes)
{
	return changes ? changes->count : 0;
}

const sh_migrate_change *sh_migrate_changes_at(const sh_migrate_changes *changes, size_t index)
{
	return changes && index < changes->count ? &changes->items[index] : NULL;
}

/* ---- composing operations ---- */

static sh__op *sh_migrate__add_op(sh__change *c, sh__op_kind kind, const char *model, const char *name)
{
	if (c->op_count == c->op_capacity) {
		size_t cap = c->op_capacity ? c->op_capacity * 2 : 8;
		sh__op *grown = realloc(c->ops, cap * sizeof *grown);
		if (grown == NULL) {
			sh_error_set(SH_ENOMEM, "out of memory");
			return NULL;
		}
		c->ops = grown;
		c->op_capacity = cap;
	}
	sh__op *op = &c->ops[c->op_count];
	memset(op, 0, sizeof *op);
	op->kind = kind;
	bool oom = false;
	op->model = sh_migrate__dup(model, &oom);
	op->name = sh_migrate__dup(name, &oom);
	c->op_count++;
	if (oom) {
		sh_error_set(SH_ENOMEM, "out of memory");
		return NULL;
	}
	return op;
}

static int sh_migrate__field_op(sh__change *c, sh__op_kind kind, const char *model,
	const sh_field_decl *field)
{
	sh__op *op = sh_migrate__add_op(c, kind, model, field->name);
	if (op == NULL)
		return SH_ENOMEM;
	op->has_fields = true;
	return sh_migrate__fields_append(&op->fields, field);
}

/* The model labels a field points at: to, through. */
static size_t sh_migrate__targets(const sh_field_decl *f, const char **out)
{
	size_t n = 0;
	if (f->to != NULL)
		out[n++] = f->to;
	if (f->through != NULL)
		out[n++] = f->through;
	return n;
}

/* True when field `f` points at `m` (of the same state). */
static bool sh_migrate__points_at(const sh_field_decl *f, const sh__smodel *m)
{
	const char *t[2];
	size_t n = sh_migrate__targets(f, t);
	char label[512];
	snprintf(label, sizeof label, "%s.%s", m->app_label, m->name);
	for (size_t i = 0; i < n; i++)
		if (sh_migrate__label_eq(t[i], label))
			return true;
	return false;
}

/* Created models: each after the models of its own change it points at. */
static int sh_migrate__creates(sh__change *c, const sh__smodel **made, size_t n, sh__fields *later,
	char ***later_models)
{
	bool *done = calloc(n ? n : 1, sizeof *done);
	if (done == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	int rc = 0;
	size_t later_count = 0;
	for (size_t round = 0; rc == 0 && round < n; round++) {
		/* The first model, in declaration order, whose targets exist. */
		long pick = -1;
		for (size_t i = 0; i < n && pick < 0; i++) {
			if (done[i])
				continue;
			bool ready = true;
			for (size_t k = 0; k < made[i]->fields.count && ready; k++)
				for (size_t j = 0; j < n && ready; j++)
					if (j != i && !done[j] && sh_migrate__points_at(&made[i]->fields.items[k], made[j]))
						ready = false;
			if (ready)
				pick = (long)i;
		}
		bool cycle = pick < 0;
		for (size_t i = 0; cycle && i < n; i++)
			if (!done[i]) {
				pick = (long)i;
				break;
			}
		const sh__smodel *m = made[pick];
		sh__op *op = sh_migrate__add_op(c, SH__OP_CREATE_MODEL, m->name, NULL);
		if (op == NULL)
			rc = SH_ENOMEM;
		if (op != NULL)
			op->has_fields = true;
		for (size_t k = 0; rc == 0 && k < m->fields.count; k++) {
			const sh_field_decl *f = &m->fields.items[k];
			bool defer = false;
			for (size_t j = 0; cycle && j < n && !defer; j++)
				defer = j != (size_t)pick && !done[j] && sh_migrate__points_at(f, made[j]);
			if (!defer) {
				rc = sh_migrate__fields_append(&op->fields, f);
				continue;
			}
			/* Added once every model exists (Django splits such cycles too). */
			rc = sh_migrate__fields_append(later, f);
			char **grown = realloc(*later_models, (later_count + 1) * sizeof *grown);
			if (rc == 0 && grown == NULL)
				rc = sh_error_set(SH_ENOMEM, "out of memory");
			if (grown != NULL)
				*later_models = grown;
			if (rc == 0 && ((*later_models)[later_count++] = strdup(m->name)) == NULL)
				rc = sh_error_set(SH_ENOMEM, "out of memory");
		}
		done[pick] = true;
	}
	free(done);
	return rc;
}

/* Deleted models: a model after the ones that point at it; in a cycle the
 * pointing fields are removed first. `gone` are copies (fields change). */
static int sh_migrate__deletes(sh__change *c, sh__smodel **gone, size_t n)
{
	bool *done = calloc(n ? n : 1, sizeof *done);
	if (done == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	int rc = 0;
	for (size_t round = 0; rc == 0 && round < n; round++) {
		long pick = -1;
		for (size_t i = 0; i < n && pick < 0; i++) {
			if (done[i])
				continue;
			bool free_of_refs = true;
			for (size_t j = 0; j < n && free_of_refs; j++)
				for (size_t k = 0; j != i && !done[j] && k < gone[j]->fields.count; k++)
					if (sh_migrate__points_at(&gone[j]->fields.items[k], gone[i]))
						free_of_refs = false;
			if (free_of_refs)
				pick = (long)i;
		}
		if (pick < 0) {
			for (size_t i = 0; i < n && pick < 0; i++)
				if (!done[i])
					pick = (long)i;
			for (size_t j = 0; rc == 0 && j < n; j++)
				for (size_t k = gone[j]->fields.count; rc == 0 && j != (size_t)pick && !done[j]
						&& k-- > 0;)
					if (sh_migrate__points_at(&gone[j]->fields.items[k], gone[pick])) {
						rc = sh_migrate__field_op(c, SH__OP_REMOVE_FIELD, gone[j]->name,
							&gone[j]->fields.items[k]);
						sh_migrate__fields_remove(&gone[j]->fields, k);
					}
		}
		sh__op *op = rc == 0 ? sh_migrate__add_op(c, SH__OP_DELETE_MODEL, gone[pick]->name, NULL) : NULL;
		if (rc == 0 && op == NULL)
			rc = SH_ENOMEM;
		if (op != NULL) {
			op->has_fields = true;
			rc = sh_migrate__fields_copy(&op->fields, &gone[pick]->fields);
		}
		done[pick] = true;
	}
	free(done);
	return rc;
}

/* True when a change of field definition cannot be an alter_field. */
static bool sh_migrate__needs_replace(const sh_field_decl *old, const sh_field_decl *new_def)
{
	bool om = old->type == SH_FIELD_MANY_TO_MANY, nm = new_def->type == SH_FIELD_MANY_TO_MANY;
	if (om != nm)
		return true;
	if (!om)
		return false;
	if ((old->through == NULL) != (new_def->through == NULL))
		return true;
	return old->through != NULL && !sh_migrate__label_eq(old->through, new_def->through);
}

/* The operations of one app: `from` the state its migrations build,
 * `to` its manifest. */
static int sh_migrate__compose(sh__change *c, const sh_state *from, const sh_state *to)
{
	const char *label = c->app->label;
	size_t n_to = 0, n_from = 0;
	const sh__smodel **made = calloc(to->count + 1, sizeof *made);
	sh__smodel **gone = calloc(from->count + 1, sizeof *gone);
	sh__fields later = { NULL, 0, 0 };
	char **later_models = NULL;
	int rc = made && gone ? 0 : sh_error_set(SH_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < to->count; i++)
		if (strcmp(to->models[i]->app_label, label) == 0
				&& sh_migrate__state_find(from, label, to->models[i]->name) == NULL)
			made[n_to++] = to->models[i];
	if (rc == 0)
		rc = sh_migrate__creates(c, made, n_to, &later, &later_models);
	for (size_t i = 0; rc == 0 && i < later.count; i++)
		rc = sh_migrate__field_op(c, SH__OP_ADD_FIELD, later_models[i], &later.items[i]);
	/* Fields of models on both sides: added, altered, removed. */
	sh__change removes = { 0 };
	sh__change alters = { 0 };
	for (size_t i = 0; rc == 0 && i < from->count; i++) {
		const sh__smodel *old = from->models[i];
		if (strcmp(old->app_label, label) != 0 || old->unmigrated)
			continue;
		const sh__smodel *new_model = sh_migrate__state_find(to, label, old->name);
		if (new_model == NULL)
			continue;
		for (size_t k = 0; rc == 0 && k < new_model->fields.count; k++) {
			const sh_field_decl *f = &new_model->fields.items[k];
			long o = sh_migrate__fields_find(&old->fields, f->name);
			if (o < 0) {
				rc = sh_migrate__field_op(c, SH__OP_ADD_FIELD, old->name, f);
			} else if (!sh_migrate__fdecl_same(&old->fields.items[o], f, label)) {
				/* A name that changed only in case is a new field too. */
				if (sh_migrate__needs_replace(&old->fields.items[o], f)
						|| strcmp(old->fields.items[o].name, f->name) != 0) {
					rc = sh_migrate__field_op(&removes, SH__OP_REMOVE_FIELD, old->name,
						&old->fields.items[o]);
					if (rc == 0)
						rc = sh_migrate__field_op(&alters, SH__OP_ADD_FIELD, old->name, f);
				} else {
					rc = sh_migrate__field_op(&alters, SH__OP_ALTER_FIELD, old->name, f);
				}
			}
		}
		for (size_t k = 0; rc == 0 && k < old->fields.count; k++) {
			const sh_field_decl *f = &old->fields.items[k];
			if (sh_migrate__fields_find(&new_model->fields, f->name) < 0)
				rc = sh_migrate__field_op(&removes, SH__OP_REMOVE_FIELD, old->name, f);
		}
	}
	/* Replacements remove the old field before adding the new one. */
	for (size_t pass = 0; pass < 3; pass++) {
		for (size_t i = 0; rc == 0 && i < (pass == 1 ? removes.op_count : alters.op_count); i++) {
			sh__op *op = pass == 1 ? &removes.ops[i] : &alters.ops[i];
			bool take = pass == 1 || (pass == 0 ? op->kind == SH__OP_ALTER_FIELD
				: op->kind == SH__OP_ADD_FIELD);
			if (take)
				rc = sh_migrate__field_op(c, op->kind, op->model, &op->fields.items[0]);
		}
	}
	sh_migrate__change_dispose(&removes);
	sh_migrate__change_dispose(&alters);
	for (size_t i = 0; rc == 0 && i < from->count; i++) {
		const sh__smodel *old = from->models[i];
		if (strcmp(old->app_label, label) == 0 && !old->unmigrated
				&& sh_migrate__state_find(to, label, old->name) == NULL) {
			sh__smodel *copy = calloc(1, sizeof *copy);
			if (copy == NULL || (copy->name = strdup(old->name)) == NULL
					|| (copy->app_label = strdup(old->app_label)) == NULL
					|| sh_migrate__fields_copy(&copy->fields, &old->fields) < 0) {
				if (copy != NULL) {
					free(copy->name);
					free(copy->app_label);
					free(copy);
				}
				rc = sh_error_set(SH_ENOMEM, "out of memory");
			} else {
				gone[n_from++] = copy;
			}
		}
	}
	if (rc == 0)
		rc = sh_migrate__deletes(c, gone, n_from);
	for (size_t i = 0; i < n_from; i++) {
		sh_migrate__fields_dispose(&gone[i]->fields);
		free(gone[i]->name);
		free(gone[i]->app_label);
		free(gone[i]);
	}
	for (size_t i = 0; i < later.count; i++)
		free(later_models[i]);
	free(later_models);
	sh_migrate__fields_dispose(&later);
	free(made);
	free(gone);
	return rc;
}

/* ---- names, dependencies ---- */

/* Django's suggest_name(). */
static char *sh_migrate__suggest_name(const sh__change *c)
{
	if (c->initial)
		return strdup("initial");
	char name[256] = "";
	bool all = c->op_count > 0;
	for (size_t i = 0; i < c->op_count && all; i++) {
		char fragment[160];
		sh_migrate__op_fragment(fragment, sizeof fragment, &c->ops[i]);
		if (fragment[0] == '\0') {
			all = false;
			break;
		}
		if (i == 0) {
			snprintf(name, sizeof name, "%s", fragment);
		} else if (strlen(name) + 1 + strlen(fragment) > 52) {
			strncat(name, "_and_more", sizeof name - strlen(name) - 1);
			break;
		} else {
			strncat(name, "_", sizeof name - strlen(name) - 1);
			strncat(name, fragment, sizeof name - strlen(name) - 1);
		}
	}
	if (!all) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(name, sizeof name, "auto_%Y%m%d_%H%M", &tm);
	}
	return strdup(name);
}

/* The number at the start of a migration name, 0 when none. */
static long sh_migrate__number(const char *name)
{
	long n = 0;
	for (; *name >= '0' && *name <= '9'; name++)
		n = n * 10 + (*name - '0');
	return n;
}

static int sh_migrate__add_dep(sh__change *c, const char *app, const char *name)
{
	for (size_t i = 0; i < c->dep_count; i++)
		if (strcmp(c->deps[i].app_label, app) == 0 && strcmp(c->deps[i].name, name) == 0)
			return 0;
	if (c->dep_count == c->dep_capacity) {
		size_t cap = c->dep_capacity ? c->dep_capacity * 2 : 4;
		sh__dep *grown = realloc(c->deps, cap * sizeof *grown);
		if (grown == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		c->deps = grown;
		c->dep_capacity = cap;
	}
	sh__dep *d = &c->deps[c->dep_count];
	memset(d, 0, sizeof *d);
	bool oom = false;
	d->app_label = sh_migrate__dup(app, &oom);
	d->name = sh_migrate__dup(name, &oom);
	c->dep_count++;
	return oom ? sh_error_set(SH_ENOMEM, "out of memory") : 0;
}

static long sh_migrate__change_of(const sh_migrate_changes *ch, const char *app)
{
	for (size_t i = 0; i < ch->count; i++)
		if (strcmp(ch->changes[i].app->label, app) == 0)
			return (long)i;
	return -1;
}

/* The dependencies of change `c`: its app's latest migration, and for
 * each relation to another app, the migration that gives its models. */
static int sh_migrate__dependencies(sh_migrate_changes *ch, sh__change *c, const sh_migrate_graph *g)
{
	sh__migration *leaf = sh_migrate__graph_leaf(c->app);
	int rc = leaf ? sh_migrate__add_dep(c, c->app->label, leaf->name) : 0;
	for (size_t i = 0; rc == 0 && i < c->op_count; i++) {
		const sh__op *op = &c->ops[i];
		if (op->kind == SH__OP_REMOVE_FIELD || op->kind == SH__OP_DELETE_MODEL)
			continue;
		for (size_t k = 0; rc == 0 && k < op->fields.count; k++) {
			const char *t[2];
			size_t n = sh_migrate__targets(&op->fields.items[k], t);
			for (size_t j = 0; rc == 0 && j < n; j++) {
				const char *dot = strchr(t[j], '.');
				char app[256];
				snprintf(app, sizeof app, "%.*s", (int)(dot - t[j]), t[j]);
				if (strcmp(app, c->app->label) == 0)
					continue;
				const sh__gapp *a = sh_migrate__graph_app(g, app);
				long other = sh_migrate__change_of(ch, app);
				if (other >= 0) {
					rc = sh_migrate__add_dep(c, app, ch->changes[other].name);
					long *grown = realloc(c->needs, (c->need_count + 1) * sizeof *grown);
					if (grown == NULL)
						rc = sh_error_set(SH_ENOMEM, "out of memory");
					else
						(c->needs = grown)[c->need_count++] = other;
				} else if (a != NULL && a->count > 0) {
					rc = sh_migrate__add_dep(c, app, sh_migrate__graph_leaf(a)->name);
				} else if (a != NULL) {
					/* Django's __first__: nothing while the app has no migrations,
					 * its first migration once it has. */
					rc = sh_migrate__add_dep(c, app, "__first__");
				}
			}
		}
	}
	return rc;
}

/* Refuses new migrations that would depend on each other in a cycle. */
static int sh_migrate__check_new_cycles(const sh_migrate_changes *ch)
{
	for (size_t s = 0; s < ch->count; s++) {
		/* Is `s` reachable from itself through needs? (few changes: plain DFS) */
		size_t stack[256], depth = 0;
		bool seen[256] = { false };
		if (ch->count > 256)
			return 0;
		for (size_t k = 0; k < ch->changes[s].need_count; k++)
			stack[depth++] = (size_t)ch->changes[s].needs[k];
		while (depth > 0) {
			size_t x = stack[--depth];
			if (x == s)
				return sh_error_set(SH_EMANIFEST, "the new migrations of '%s' and '%s' would "
					"depend on each other (their models point at each other's new models); "
					"make them one app at a time (sighost makemigrations %s, with the "
					"relation to the other app added afterwards)", ch->changes[s].app->label,
					ch->changes[ch->changes[s].needs[0]].app->label, ch->changes[s].app->label);
			if (seen[x])
				continue;
			seen[x] = true;
			for (size_t k = 0; k < ch->changes[x].need_count && depth < 256; k++)
				stack[depth++] = (size_t)ch->changes[x].needs[k];
		}
	}
	return 0;
}

/* ---- checking the result ---- */

/* Replays the new migrations (dependencies first) on the final state and
 * compares each app's models with its manifest. */
static int sh_migrate__verify(const sh_migrate_changes *ch, const sh_migrate_graph *g,
	const sh_state *declared)
{
	sh_state *s;
	int rc = sh_migrate__state_copy(&s, g->final);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < ch->count; i++)
		for (size_t k = s->count; ch->changes[i].app->count == 0 && k-- > 0;)
			if (strcmp(s->models[k]->app_label, ch->changes[i].app->label) == 0)
				sh_migrate__state_remove(s, s->models[k]);
	bool *done = calloc(ch->count + 1, sizeof *done);
	if (done == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	for (size_t round = 0; rc == 0 && round < ch->count; round++) {
		for (size_t i = 0; rc == 0 && i < ch->count; i++) {
			const sh__change *c = &ch->changes[i];
			bool ready = !done[i];
			for (size_t k = 0; ready && k < c->need_count; k++)
				ready = done[c->needs[k]];
			if (!ready)
				continue;
			for (size_t k = 0; rc == 0 && k < c->op_count; k++)
				rc = sh_migrate__op_state_forwards(&c->ops[k], c->app->label, s, NULL);
			done[i] = true;
		}
	}
	free(done);
	sh_models *r;
	if (rc == 0 && (rc = sh_migrate__state_render(&r, s)) < 0 && rc != SH_ENOMEM)
		rc = sh_migrate__error_prefix(SH_EMANIFEST, "the new migrations would give models that are "
			"not valid");
	for (size_t i = 0; rc == 0 && i < ch->count; i++) {
		const char *label = ch->changes[i].app->label;
		for (size_t k = 0; rc == 0 && k < declared->count; k++) {
			const sh__smodel *want = declared->models[k];
			if (strcmp(want->app_label, label) != 0)
				continue;
			const sh__smodel *got = sh_migrate__state_find(s, label, want->name);
			bool same = got != NULL && got->fields.count == want->fields.count;
			for (size_t f = 0; same && f < want->fields.count; f++) {
				long o = sh_migrate__fields_find(&got->fields, want->fields.items[f].name);
				same = o >= 0 && sh_migrate__fdecl_same(&got->fields.items[o], &want->fields.items[f],
					label);
			}
			if (!same)
				rc = sh_error_set(SH_EMANIFEST, "makemigrations could not compose migrations "
					"that give %s.%s as declared", label, want->name);
		}
	}
	sh_migrate__state_free(s);
	return rc;
}

/* ---- the whole run ---- */

static int sh_migrate__finish(sh__change *c)
{
	char *suggested = sh_migrate__suggest_name(c);
	if (suggested == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	long number = 0;
	for (size_t i = 0; i < c->app->count; i++) {
		long n = sh_migrate__number(c->app->migrations[i]->name);
		if (n > number)
			number = n;
	}
	c->name = sh_base__format("%04ld_%s", number + 1, suggested);
	free(suggested);
	c->path = c->name ? sh_base__format("%s/%s.yaml", c->app->dir, c->name) : NULL;
	c->descriptions = calloc(c->op_count + 1, sizeof *c->descriptions);
	if (c->path == NULL || c->descriptions == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	for (size_t i = 0; i < c->op_count; i++) {
		char text[512];
		sh_migrate__op_describe(text, sizeof text, &c->ops[i]);
		if ((c->descriptions[i] = strdup(text)) == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
	}
	return 0;
}

int sh_migrate_detect(sh_migrate_changes **out, const sh_migrate_graph *g,
	const char *app_label)
{
	if (out == NULL || g == NULL)
		return sh_error_set(SH_EINVAL, "sh_migrate_detect: out and graph are required");
	*out = NULL;
	if (g->problems.count > 0 || g->final == NULL)
		return sh_error_set(SH_EINVAL, "the migrations have problems: %s",
			g->problems.count ? g->problems.items[0].text : "not loaded");
	const sh__gapp *only = app_label ? sh_migrate__graph_app(g, app_label) : NULL;
	if (app_label != NULL && only == NULL)
		return sh_error_set(SH_ENOTFOUND, "no installed app with label '%s'", app_label);
	if (only != NULL && only->dir == NULL)
		return sh_error_set(SH_EINVAL, "app '%s' has no 'migrations' key in its manifest (%s): "
			"add `migrations: migrations` to give it a migrations folder", app_label,
			sh_app_manifest_path(only->app));
	sh_migrate_changes *ch = calloc(1, sizeof *ch);
	sh_state *declared = NULL;
	int rc = ch ? sh_migrate__state_new(&declared, g->hub) : sh_error_set(SH_ENOMEM, "out of memory");
	sh__problems scratch = { 0 };
	for (size_t i = 0; rc == 0 && i < g->app_count; i++)
		rc = sh_migrate__state_add_manifest(declared, g->apps[i].app, false, &scratch);
	sh_manifest__problems_dispose(&scratch);
	if (rc == 0 && (ch->changes = calloc(g->app_count + 1, sizeof *ch->changes)) == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	/* The operations of each app, then names, then dependencies (which
	 * need the names of the other new migrations). */
	for (size_t i = 0; rc == 0 && i < g->app_count; i++) {
		const sh__gapp *a = &g->apps[i];
		if (a->dir == NULL || (only != NULL && only != a))
			continue;
		sh__change *c = &ch->changes[ch->count];
		memset(c, 0, sizeof *c);
		c->app = a;
		c->initial = a->count == 0;
		sh_state *empty = NULL;
		const sh_state *from = g->final;
		if (a->count == 0 && (rc = sh_migrate__state_new(&empty, g->hub)) == 0)
			from = empty;
		if (rc == 0)
			rc = sh_migrate__compose(c, from, declared);
		sh_migrate__state_free(empty);
		if (rc == 0 && c->op_count == 0)
			sh_migrate__change_dispose(c);
		else
			ch->count++;
	}
	for (size_t i = 0; rc == 0 && i < ch->count; i++)
		rc = sh_migrate__finish(&ch->changes[i]);
	for (size_t i = 0; rc == 0 && i < ch->count; i++)
		rc = sh_migrate__dependencies(ch, &ch->changes[i], g);
	if (rc == 0)
		rc = sh_migrate__check_new_cycles(ch);
	if (rc == 0)
		rc = sh_migrate__verify(ch, g, declared);
	for (size_t i = 0; rc == 0 && i < ch->count; i++) {
		sh__change *c = &ch->changes[i];
		rc = sh_migrate__write_migration(&c->text, c->initial, c->deps, c->dep_count, c->ops,
			c->op_count);
	}
	if (rc == 0 && (ch->items = calloc(ch->count + 1, sizeof *ch->items)) == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < ch->count; i++) {
		const sh__change *c = &ch->changes[i];
		ch->items[i] = (sh_migrate_change){ c->app->label, c->name, c->path, c->text,
			c->op_count, (const char *const *)c->descriptions };
	}
	sh_migrate__state_free(declared);
	if (rc < 0) {
		sh_migrate_changes_free(ch);
		return rc;
	}
	*out = ch;
	return 0;
}

int sh_migrate_changes_write(const sh_migrate_changes *ch)
{
	for (size_t i = 0; ch != NULL && i < ch->count; i++) {
		const sh__change *c = &ch->changes[i];
		if (mkdir(c->app->dir, 0777) < 0 && errno != EEXIST)
			return sh_error_set(SH_EIO, "cannot create the migrations folder %s: %s",
				c->app->dir, strerror(errno));
		FILE *f = fopen(c->path, "wx");
		if (f == NULL)
			return sh_error_set(errno == EEXIST ? SH_EEXISTS : SH_EIO, "cannot write %s: %s",
				c->path, strerror(errno));
		bool ok = fputs(c->text, f) >= 0;
		ok = fclose(f) == 0 && ok;
		if (!ok)
			return sh_error_set(SH_EIO, "cannot write %s: %s", c->path, strerror(errno));
	}
	return 0;
}
