/*
 * delete.c: sh_instance_delete() and the collector behind it and
 * sh_query_delete(): Django's django.db.models.deletion.Collector.
 *
 * Collecting: the rows to delete are added model by model (deduplicated by
 * pk); for every foreign key pointing at a model (its candidate relations,
 * join models' keys included, in registry order) the rows referencing the
 * collected ones are handled by the key's on_delete: CASCADE collects them
 * in turn (through a worklist, loading them as instances, which sends their
 * pre_init/post_init as Django does), PROTECT refuses, SET_NULL schedules
 * an UPDATE of the key (the rows are not loaded: Django 4.2's lazy
 * SET_NULL), RESTRICT remembers them and refuses at the end unless the
 * same delete also reaches them by a cascade. A cascade to a model with no
 * delete receivers and nothing pointing at it is a "fast delete": one
 * DELETE, no loading, as Django's can_fast_delete. Rows of automatic join
 * models are always deleted that way, with no signal at all.
 *
 * Deleting, in one transaction (its own outside any atomic block; inside
 * one no savepoint, and a failure marks that block for rollback, as
 * Django's atomic(savepoint=False)): pre_delete for every collected
 * instance (models in Django's dependency order, instances by pk), the
 * fast deletes, the SET_NULL updates, then model by model the DELETE and
 * post_delete for each of its instances (in reverse pk order, as Django's
 * collector reverses its lists). Foreign keys are DEFERRABLE INITIALLY
 * DEFERRED (as Django's), so the order never trips a constraint. Any
 * failure rolls everything back (with the enclosing block, inside one); on
 * success every collected instance loses its pk, as Django sets pk to None.
 * Collecting only reads: a refusal (SH_EPROTECTED) comes before anything is
 * sent or written and leaves an enclosing block as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

/* ---- a set of pks ---- */

typedef struct sh__pkset {
	int64_t *keys;
	bool *used;
	size_t count, capacity;   /* capacity: 0 or a power of two */
} sh__pkset;

static size_t sh__mix(int64_t key, size_t mask)
{
	uint64_t x = (uint64_t)key + 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (size_t)(x ^ (x >> 31)) & mask;
}

static bool sh__pkset_has(const sh__pkset *set, int64_t key)
{
	if (set->capacity == 0)
		return false;
	for (size_t i = sh__mix(key, set->capacity - 1);; i = (i + 1) & (set->capacity - 1)) {
		if (!set->used[i])
			return false;
		if (set->keys[i] == key)
			return true;
	}
}

/* Puts key into a slot of a set that has room and does not hold it. */
static void sh__pkset_put(sh__pkset *set, int64_t key)
{
	size_t i = sh__mix(key, set->capacity - 1);
	while (set->used[i])
		i = (i + 1) & (set->capacity - 1);
	set->used[i] = true;
	set->keys[i] = key;
	set->count++;
}

/* Adds key; returns 1 when added, 0 when present, SH_ENOMEM. */
static int sh__pkset_add(sh__pkset *set, int64_t key)
{
	if (sh__pkset_has(set, key))
		return 0;
	if (2 * (set->count + 1) > set->capacity) {
		size_t cap = set->capacity ? 2 * set->capacity : 16;
		int64_t *old_keys = set->keys;
		bool *old_used = set->used;
		size_t old_capacity = set->capacity;
		int64_t *keys = calloc(cap, sizeof(int64_t));
		bool *used = calloc(cap, sizeof(bool));
		if (keys == NULL || used == NULL) {
			free(keys);
			free(used);
			return SH_ENOMEM;
		}
		set->keys = keys;
		set->used = used;
		set->capacity = cap;
		set->count = 0;
		for (size_t i = 0; i < old_capacity; i++)
			if (old_used[i])
				sh__pkset_put(set, old_keys[i]);
		free(old_keys);
		free(old_used);
	}
	sh__pkset_put(set, key);
	return 1;
}

static void sh__pkset_free(sh__pkset *set)
{
	free(set->keys);
	free(set->used);
}

/* ---- growable arrays ---- */

static int sh__grow(void **items, size_t *capacity, size_t count, size_t size)
{
	if (count < *capacity)
		return 0;
	size_t cap = *capacity ? 2 * *capacity : 8;
	void *grown = realloc(*items, cap * size);
	if (grown == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory collecting rows to delete");
	*items = grown;
	*capacity = cap;
	return 0;
}

#define SH__PUSH(arr, count, cap, value) \
	(sh__grow((void **)&(arr), &(cap), (count), sizeof *(arr)) < 0 ? SH_ENOMEM \
		: ((arr)[(count)++] = (value), 0))

/* ---- the collector ---- */

/* One model's rows to delete (Django's data[model]). */
typedef struct sh__group {
	const sh_model *model;
	sh_instance **items;
	size_t count, capacity;
	sh__pkset pks;
	const sh_model **deps;    /* models to delete before this one */
	size_t dep_count, dep_capacity;
} sh__group;

/* A delete without loading: rows of `model` whose `field` is in `keys`, or
 * the rows of `query`. */
typedef struct sh__fast {
	const sh_model *model;
	const sh_field *field;
	int64_t *keys;
	size_t key_count;
	sh_query *query;
} sh__fast;

/* SET_NULL: set `field` to NULL in the rows whose `field` is one of `keys`
 * (the pks of collected rows). As Django 4.2's lazy SET_NULL, those rows
 * are updated in SQL, never loaded. */
typedef struct sh__update {
	const sh_field *field;
	int64_t *keys;
	size_t count, capacity;
} sh__update;

/* A row that blocks the delete through `field` (PROTECT or RESTRICT). */
typedef struct sh__blocker {
	const sh_field *field;
	const sh_instance *row;
} sh__blocker;

/* One batch of freshly collected rows of `model` whose relations are
 * being walked (a level of Django's recursive collect). */
typedef struct sh__frame {
	const sh_model *model;
	int64_t *keys;            /* the pks of the batch */
	size_t key_count;
	size_t next;              /* the next relation to walk */
	sh__fast *pending;        /* fast deletes found for this batch */
	size_t pending_count, pending_capacity;
} sh__frame;

typedef struct sh__collector {
	sh_db *db;
	size_t max_rows;          /* sh_database_set_max_delete_rows() */
	sh__frame *frames;        /* the worklist of sh__collect() */
	size_t frame_count, frame_capacity;
	sh__group *groups;        /* insertion order, then sorted */
	size_t group_count, group_capacity;
	sh__fast *fast;
	size_t fast_count, fast_capacity;
	sh__update *updates;
	size_t update_count, update_capacity;
	sh__blocker *protected_rows;
	size_t protected_count, protected_capacity;
	sh__blocker *restricted;
	size_t restricted_count, restricted_capacity;
	sh_instance **loaded;     /* every instance the collector loaded; it frees them */
	size_t loaded_count, loaded_capacity;
} sh__collector;

static void sh__collector_free(sh__collector *c)
{
	for (size_t i = 0; i < c->group_count; i++) {
		free(c->groups[i].items);
		free(c->groups[i].deps);
		sh__pkset_free(&c->groups[i].pks);
	}
	free(c->groups);
	for (size_t i = 0; i < c->fast_count; i++)
		free(c->fast[i].keys);
	free(c->fast);
	for (size_t i = 0; i < c->update_count; i++)
		free(c->updates[i].keys);
	free(c->updates);
	free(c->protected_rows);
	free(c->restricted);
	for (size_t i = 0; i < c->loaded_count; i++)
		sh_instance_free(c->loaded[i]);
	free(c->loaded);
	free(c->frames);
}

/* The error when a delete would load more rows than c->max_rows. */
static int sh__too_many(const sh__collector *c)
{
	return sh_error_set(SH_EINVAL, "refusing a delete that cascades to more than %zu rows "
		"(database.max_delete_rows): delete in smaller parts", c->max_rows);
}

static int64_t sh__pk(const sh_instance *inst)
{
	return inst->values[inst->model->pk].v.i;
}

static sh__group *sh__group_of(sh__collector *c, const sh_model *model, bool create)
{
	for (size_t i = 0; i < c->group_count; i++)
		if (c->groups[i].model == model)
			return &c->groups[i];
	if (!create)
		return NULL;
	sh__group g = { 0 };
	g.model = model;
	if (SH__PUSH(c->groups, c->group_count, c->group_capacity, g) < 0)
		return NULL;
	return &c->groups[c->group_count - 1];
}

/* Django's add_dependency(model, dependency): `dependency` is deleted first. */
static int sh__add_dependency(sh__collector *c, const sh_model *model, const sh_model *dependency)
{
	if (sh__group_of(c, dependency, true) == NULL)
		return SH_ENOMEM;
	sh__group *g = sh__group_of(c, model, true);
	if (g == NULL)
		return SH_ENOMEM;
	for (size_t i = 0; i < g->dep_count; i++)
		if (g->deps[i] == dependency)
			return 0;
	return SH__PUSH(g->deps, g->dep_count, g->dep_capacity, dependency);
}

/* Django's Collector.add: adds the rows not collected yet and stores them
 * in *fresh (allocated). */
static int sh__add(sh__collector *c, const sh_model *model, sh_instance **objs, size_t n,
	const sh_model *source, bool nullable, sh_instance ***fresh, size_t *fresh_count)
{
	*fresh = NULL;
	*fresh_count = 0;
	if (n == 0)
		return 0;
	sh__group *g = sh__group_of(c, model, true);
	if (g == NULL)
		return SH_ENOMEM;
	size_t fresh_capacity = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = sh__pkset_add(&g->pks, sh__pk(objs[i]));
		if (rc == 0)
			continue;
		if (rc < 0 || SH__PUSH(g->items, g->count, g->capacity, objs[i]) < 0
			|| SH__PUSH(*fresh, *fresh_count, fresh_capacity, objs[i]) < 0)
			return sh_error_set(SH_ENOMEM, "out of memory collecting rows to delete");
	}
	/* Nullable relations are nulled out before deleting: no order needed. */
	if (source != NULL && !nullable)
		return sh__add_dependency(c, source, model);
	return 0;
}

/* Django's can_fast_delete for the rows of `model` reached through a
 * CASCADE key: nobody hears their deletion and nothing points at them.
 * Automatic join rows are always deleted this way. */
static bool sh__can_fast_delete(sh_db *db, const sh_model *model)
{
	if (model->auto_created)
		return true;
	if (sh_signal_has_listeners(sh__signal(db, SH_PRE_DELETE), model->sender)
		|| sh_signal_has_listeners(sh__signal(db, SH_POST_DELETE), model->sender))
		return false;
	return sh__sql_of(db, model)->related_count == 0;
}

static int sh__add_field_update(sh__collector *c, const sh_field *field, const int64_t *keys,
	size_t n)
{
	sh__update *u = NULL;
	for (size_t i = 0; i < c->update_count; i++)
		if (c->updates[i].field == field)
			u = &c->updates[i];
	if (u == NULL) {
		sh__update fresh = { field, NULL, 0, 0 };
		if (SH__PUSH(c->updates, c->update_count, c->update_capacity, fresh) < 0)
			return SH_ENOMEM;
		u = &c->updates[c->update_count - 1];
	}
	for (size_t i = 0; i < n; i++)
		if (SH__PUSH(u->keys, u->count, u->capacity, keys[i]) < 0)
			return SH_ENOMEM;
	return 0;
}

/* Handles the relation `rel` of the fresh rows `keys` of the frame's
 * model. A CASCADE that loads rows stores them in *cascade (allocated, the
 * caller collects them as a new frame); SH_EPROTECTED when PROTECT rows
 * were found (remembered for the message). */
static int sh__collect_relation(sh__collector *c, sh__frame *frame, const sh__reverse *rel,
	sh_instance ***cascade, size_t *cascade_count)
{
	const sh_model *from = rel->from;
	const sh_field *field = &from->fields[rel->field];
	const int64_t *keys = frame->keys;
	size_t key_count = frame->key_count;
	*cascade = NULL;
	*cascade_count = 0;
	if (field->on_delete == SH_ON_DELETE_CASCADE && sh__can_fast_delete(c->db, from)) {
		int64_t *copy = malloc(key_count * sizeof *copy);
		if (copy == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory collecting rows to delete");
		memcpy(copy, keys, key_count * sizeof *copy);
		sh__fast f = { from, field, copy, key_count, NULL };
		if (SH__PUSH(frame->pending, frame->pending_count, frame->pending_capacity, f) < 0) {
			free(copy);
			return SH_ENOMEM;
		}
		/* cppcheck-suppress memleak ; `copy` is f's, and f is on frame->pending */
		return 0;
	}
	if (field->on_delete == SH_ON_DELETE_SET_NULL)
		return sh__add_field_update(c, field, keys, key_count);
	size_t first = c->loaded_count;
	int rc = sh__load_where_in(c->db, from, field, keys, key_count, &c->loaded,
		&c->loaded_count, &c->loaded_capacity);
	if (rc < 0)
		return rc;
	size_t n = c->loaded_count - first;
	if (n == 0)
		return 0;
	if (c->loaded_count > c->max_rows)
		return sh__too_many(c);
	/* A copy: the loaded list grows (and moves) while cascades load more. */
	sh_instance **sub = malloc(n * sizeof *sub);
	if (sub == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory collecting rows to delete");
	memcpy(sub, c->loaded + first, n * sizeof *sub);
	switch (field->on_delete) {
	case SH_ON_DELETE_CASCADE:
		*cascade = sub;
		*cascade_count = n;
		return 0;
	case SH_ON_DELETE_PROTECT:
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = SH__PUSH(c->protected_rows, c->protected_count, c->protected_capacity,
				((sh__blocker){ field, sub[i] }));
		if (rc == 0)
			rc = SH_EPROTECTED;
		break;
	case SH_ON_DELETE_SET_NULL:
		break;   /* handled above, without loading */
	case SH_ON_DELETE_RESTRICT:
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = SH__PUSH(c->restricted, c->restricted_count, c->restricted_capacity,
				((sh__blocker){ field, sub[i] }));
		if (rc == 0)
			rc = sh__add_dependency(c, frame->model, from);
		break;
	}
	free(sub);
	return rc;
}

/* Adds `objs` to the collection (Django's Collector.add) and, when some
 * were not collected yet, pushes a frame for their relations. */
static int sh__push_frame(sh__collector *c, const sh_model *model, sh_instance **objs, size_t n,
	const sh_model *source, bool nullable)
{
	sh_instance **fresh;
	size_t fresh_count;
	int rc = sh__add(c, model, objs, n, source, nullable, &fresh, &fresh_count);
	if (rc < 0 || fresh_count == 0) {
		free(fresh);
		return rc;
	}
	sh__frame f = { model, malloc(fresh_count * sizeof(int64_t)), fresh_count, 0, NULL, 0, 0 };
	if (f.keys == NULL) {
		free(fresh);
		return sh_error_set(SH_ENOMEM, "out of memory collecting rows to delete");
	}
	for (size_t i = 0; i < fresh_count; i++)
		f.keys[i] = sh__pk(fresh[i]);
	free(fresh);
	if (SH__PUSH(c->frames, c->frame_count, c->frame_capacity, f) < 0) {
		free(f.keys);
		return SH_ENOMEM;
	}
	/* cppcheck-suppress memleak ; f.keys is on c->frames */
	return 0;
}

/* Pops the top frame: its fast deletes join the collector's (after those
 * of the frames it pushed, as the recursive collect appended them). */
static int sh__pop_frame(sh__collector *c, bool keep)
{
	sh__frame *f = &c->frames[--c->frame_count];
	int rc = 0;
	for (size_t i = 0; i < f->pending_count; i++) {
		if (keep && rc == 0 && SH__PUSH(c->fast, c->fast_count, c->fast_capacity,
				f->pending[i]) == 0)
			continue;
		free(f->pending[i].keys);
		rc = rc == 0 && keep ? SH_ENOMEM : rc;
	}
	free(f->pending);
	free(f->keys);
	return rc;
}
/* Whether a restricted row is deleted anyway: collected, or matched by a
 * fast delete of its model. */
static bool sh__deleted_anyway(const sh__collector *c, const sh_instance *row)
{
	for (size_t i = 0; i < c->group_count; i++)
		if (c->groups[i].model == row->model && sh__pkset_has(&c->groups[i].pks, sh__pk(row)))
			return true;
	for (size_t i = 0; i < c->fast_count; i++) {
		const sh__fast *f = &c->fast[i];
		if (f->model != row->model || f->field == NULL)
			continue;
		const sh_datum *v = &row->values[f->field->index];
		for (size_t k = 0; v->type == SH_DATUM_INT && k < f->key_count; k++)
			if (f->keys[k] == v->v.i)
				return true;
	}
	return false;
}

/*
 * Django's Collector.collect, as a worklist rather than recursion (a
 * cascade may be as deep as the data: a chain of self references): a
 * stack of frames, one per batch of freshly collected rows, each walking
 * its model's relations in order; a CASCADE pushes the rows it loaded as a
 * new frame, which is walked before the next relation, in the order the
 * recursive collector took. Memory grows with the rows collected, which
 * c->max_rows bounds. PROTECT rows anywhere make the result SH_EPROTECTED
 * once every relation was walked (Django gathers them all before it
 * refuses).
 */
static int sh__collect(sh__collector *c, const sh_model *model, sh_instance **objs, size_t n)
{
	int rc = sh__push_frame(c, model, objs, n, NULL, false);
	bool protected_found = false;
	while (rc == 0 && c->frame_count > 0) {
		sh__frame *f = &c->frames[c->frame_count - 1];
		const sh__model_sql *msql = sh__sql_of(c->db, f->model);
		if (f->next == msql->related_count) {
			rc = sh__pop_frame(c, true);
			continue;
		}
		const sh__reverse *rel = &msql->related[f->next++];
		sh_instance **sub;
		size_t sub_count;
		rc = sh__collect_relation(c, f, rel, &sub, &sub_count);
		if (rc == SH_EPROTECTED) {
			protected_found = true;
			rc = 0;
		}
		if (rc == 0 && sub_count > 0)
			rc = sh__push_frame(c, rel->from, sub, sub_count, f->model,
				rel->from->fields[rel->field].null);
		free(sub);
	}
	while (c->frame_count > 0)
		sh__pop_frame(c, false);
	if (rc == 0 && protected_found)
		rc = SH_EPROTECTED;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < c->restricted_count; i++)
		if (!sh__deleted_anyway(c, c->restricted[i].row))
			return SH_EPROTECTED;
	return 0;
}

/* Raises the SH_EPROTECTED error naming the blocking rows. */
static int sh__blocked(const sh__collector *c, const char *what)
{
	const sh__blocker *list = c->protected_count ? c->protected_rows : c->restricted;
	size_t count = c->protected_count ? c->protected_count : c->restricted_count;
	bool restrict_ = c->protected_count == 0;
	char text[900];
	size_t len = 0, shown = 0;
	text[0] = '\0';
	for (size_t i = 0; i < count && len < sizeof text - 200; i++) {
		const sh__blocker *b = &list[i];
		if (restrict_ && sh__deleted_anyway(c, b->row))
			continue;
		const sh_datum *fk = &b->row->values[b->field->index];
		char row[128];
		int n = snprintf(text + len, sizeof text - len, "%s%s protects %s pk=%lld through the "
			"%s key %s.%s", shown ? "; " : "", sh__pk_text(b->row, row, sizeof row),
			b->field->target->label, fk->type == SH_DATUM_INT ? (long long)fk->v.i : 0LL,
			restrict_ ? "RESTRICT" : "PROTECT", b->field->model->label, b->field->name);
		if (n > 0)
			len += (size_t)n < sizeof text - len ? (size_t)n : sizeof text - len - 1;
		shown++;
	}
	return sh_error_set(SH_EPROTECTED, "cannot delete %s: %s%s", what, text,
		restrict_ ? " (a restricted row may go only through a cascade of the same delete)" : "");
}

static int sh__cmp_pk(const void *a, const void *b)
{
	int64_t x = sh__pk(*(sh_instance *const *)a), y = sh__pk(*(sh_instance *const *)b);
	return (x > y) - (x < y);
}

/* Django's Collector.sort: a model goes once every model it depends on
 * has gone; a cycle leaves the order as collected. */
static int sh__sort(sh__collector *c)
{
	size_t n = c->group_count;
	sh__group *sorted = malloc((n ? n : 1) * sizeof *sorted);
	bool *placed = calloc(n ? n : 1, sizeof *placed);
	if (sorted == NULL || placed == NULL) {
		free(sorted);
		free(placed);
		return sh_error_set(SH_ENOMEM, "out of memory sorting rows to delete");
	}
	size_t done = 0;
	while (done < n) {
		bool found = false;
		for (size_t i = 0; i < n; i++) {
			if (placed[i])
				continue;
			bool ready = true;
			for (size_t d = 0; ready && d < c->groups[i].dep_count; d++) {
				bool dep_placed = false;
				for (size_t k = 0; k < n; k++)
					if (placed[k] && c->groups[k].model == c->groups[i].deps[d])
						dep_placed = true;
				ready = dep_placed;
			}
			if (ready) {
				sorted[done++] = c->groups[i];
				placed[i] = true;
				found = true;
			}
		}
		if (!found)
			break;
	}
	if (done == n && n > 0)
		memcpy(c->groups, sorted, n * sizeof *sorted);
	free(sorted);
	free(placed);
	return 0;
}

/* "DELETE FROM <table>" or "UPDATE <table> SET <column> = NULL". */
static char *sh__head(const sh_model *model, const sh_field *set_null)
{
	sh__buf buf = { 0 };
	sh__buf_add(&buf, set_null ? "UPDATE " : "DELETE FROM ");
	sh__buf_ident(&buf, model->table);
	if (set_null != NULL) {
		sh__buf_add(&buf, " SET ");
		sh__buf_ident(&buf, set_null->column);
		sh__buf_add(&buf, " = NULL");
	}
	return sh__buf_take(&buf);
}

/* Runs head + " WHERE <column> IN keys". */
static int sh__exec_keys(sh_db *db, const sh_model *model, const sh_field *set_null,
	const char *column, const int64_t *keys, size_t count, int64_t *changes, const char *what)
{
	char *head = sh__head(model, set_null);
	if (head == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory: %s", what);
	int rc = sh__exec_where_in(db, head, column, NULL, 0, keys, count, changes, what);
	free(head);
	return rc;
}

static int sh__send_delete(sh__collector *c, sh_builtin id, sh_instance *inst,
	const sh_instance *origin, const sh_model *origin_model)
{
	sh_delete_args args = { inst, SH_DB_DEFAULT_ALIAS, origin, origin_model };
	return sh_signal_send(sh__signal(c->db, id), inst->model->sender, &args, NULL);
}

/* Django's Collector.delete, after collecting. */
static int sh__delete_collected(sh__collector *c, const sh_instance *origin,
	const sh_model *origin_model, int64_t *deleted)
{
	for (size_t i = 0; i < c->group_count; i++)
		if (c->groups[i].count > 1)
			qsort(c->groups[i].items, c->groups[i].count, sizeof *c->groups[i].items, sh__cmp_pk);
	int rc = sh__sort(c);
	if (rc < 0)
		return rc;
	int64_t total = 0;
	sh_db *db = c->db;
	bool own;
	if ((rc = sh__op_begin(db, &own)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < c->group_count; i++) {
		const sh__group *g = &c->groups[i];
		for (size_t k = 0; rc == 0 && !g->model->auto_created && k < g->count; k++)
			rc = sh__send_delete(c, SH_PRE_DELETE, g->items[k], origin, origin_model);
	}
	char what[192];
	for (size_t i = 0; rc == 0 && i < c->fast_count; i++) {
		const sh__fast *f = &c->fast[i];
		int64_t changes = 0;
		if (f->query != NULL) {
			rc = sh__query_raw_delete(f->query, &changes);
		} else {
			snprintf(what, sizeof what, "deleting rows of %s", f->model->label);
			rc = sh__exec_keys(db, f->model, NULL, f->field->column, f->keys, f->key_count,
				&changes, what);
		}
		if (!f->model->auto_created)
			total += changes;
	}
	for (size_t i = 0; rc == 0 && i < c->update_count; i++) {
		const sh__update *u = &c->updates[i];
		const sh_model *m = u->field->model;
		snprintf(what, sizeof what, "setting %s.%s to NULL", m->label, u->field->name);
		rc = sh__exec_keys(db, m, u->field, u->field->column, u->keys, u->count, NULL, what);
	}
	for (size_t i = 0; rc == 0 && i < c->group_count; i++) {
		sh__group *g = &c->groups[i];
		for (size_t a = 0, b = g->count; a + 1 < b; a++, b--) {
			sh_instance *t = g->items[a];
			g->items[a] = g->items[b - 1];
			g->items[b - 1] = t;
		}
		if (g->count == 0)
			continue;
		int64_t *pks = malloc(g->count * sizeof *pks);
		if (pks == NULL) {
			rc = sh_error_set(SH_ENOMEM, "out of memory deleting rows");
			break;
		}
		for (size_t k = 0; k < g->count; k++)
			pks[k] = sh__pk(g->items[k]);
		int64_t changes = 0;
		snprintf(what, sizeof what, "deleting rows of %s", g->model->label);
		rc = sh__exec_keys(db, g->model, NULL, g->model->fields[g->model->pk].column, pks,
			g->count, &changes, what);
		free(pks);
		if (!g->model->auto_created)
			total += changes;
		for (size_t k = 0; rc == 0 && !g->model->auto_created && k < g->count; k++)
			rc = sh__send_delete(c, SH_POST_DELETE, g->items[k], origin, origin_model);
	}
	rc = sh__op_end(db, own, rc, "deleting", origin_model->label);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < c->group_count; i++)
		for (size_t k = 0; k < c->groups[i].count; k++) {
			sh_instance *inst = c->groups[i].items[k];
			inst->values[inst->model->pk] = sh_datum_null();
		}
	if (deleted != NULL)
		*deleted = total;
	return 0;
}

int sh__collector_delete(sh_db *db, const sh_model *model, sh_instance **instances,
	size_t count, sh_query *query, const sh_instance *origin, int64_t *deleted)
{
	sh__collector c = { 0 };
	c.db = db;
	c.max_rows = db->database->max_delete_rows;
	char what[160];
	if (origin != NULL)
		sh__pk_text(origin, what, sizeof what);
	else
		snprintf(what, sizeof what, "rows of %s", model->label);
	/* Django's origin: the instance or the queryset whose delete started
	 * it; origin_model is always the model of that origin. */
	const sh_model *origin_model = model;
	int rc;
	if (query != NULL && sh__can_fast_delete(db, model)) {
		/* Django's collect(queryset) when nothing hears or points at it. */
		sh__fast f = { model, NULL, NULL, 0, query };
		rc = SH__PUSH(c.fast, c.fast_count, c.fast_capacity, f);
	} else if (query != NULL) {
		rc = sh__query_load_all(query, &c.loaded, &c.loaded_count, &c.loaded_capacity);
		sh_instance **rows = NULL;
		size_t n = c.loaded_count;
		if (rc == 0 && n > c.max_rows)
			rc = sh__too_many(&c);
		if (rc == 0 && n > 0 && (rows = malloc(n * sizeof *rows)) == NULL)
			rc = sh_error_set(SH_ENOMEM, "out of memory deleting %s", what);
		if (rc == 0 && n > 0) {
			memcpy(rows, c.loaded, n * sizeof *rows);
			rc = sh__collect(&c, model, rows, n);
		}
		free(rows);
	} else {
		rc = sh__collect(&c, model, instances, count);
	}
	if (rc == SH_EPROTECTED)
		rc = sh__blocked(&c, what);
	if (rc == 0)
		rc = sh__delete_collected(&c, origin, origin_model, deleted);
	sh__collector_free(&c);
	return rc;
}

int sh_instance_delete(sh_instance *instance, int64_t *count)
{
	if (count != NULL)
		*count = 0;
	if (instance == NULL)
		return sh_error_set(SH_EINVAL, "sh_instance_delete: NULL instance");
	int rc = sh__attached(instance, "delete");
	if (rc < 0)
		return rc;
	/* Django's Model.delete(): "object can't be deleted because its id
	 * attribute is set to None", before anything is sent. */
	const sh_datum *pk = &instance->values[instance->model->pk];
	if (pk->type != SH_DATUM_INT)
		return sh_error_set(SH_EINVAL, "cannot delete a %s that has no primary key (never "
			"saved, or deleted already)", instance->model->label);
	return sh__collector_delete(instance->db, instance->model, &instance, 1, NULL, instance, count);
}
