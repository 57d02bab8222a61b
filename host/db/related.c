/*
 * related.c: relations cached on instances (Django's fields_cache and
 * _prefetched_objects_cache) and the loading that fills them:
 * prefetch_related's one extra query per relation (a forward key, the
 * reverse side of a key, a many-to-many relation from either side),
 * sh_instance_related() and sh_instance_prefetched().
 *
 * Ownership: an instance holds one reference to each instance cached on it
 * (sh_instance.refs). A forward key prefetched for several instances
 * shares one target, as Django's prefetch does; the rows of a reverse key
 * or of a many-to-many relation belong to one instance each (Django loads
 * a many-to-many row once per instance it is related to, and so do we).
 *
 * Signals: every related row read is loaded as Django loads it, with
 * pre_init/post_init, after the whole query was read (receivers may run
 * queries of their own), in the query's order: by pk for keys, by the
 * instance's pk then the related pk for many-to-many relations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

/* ---- the cache ---- */

static sh__relcache *sh_db__relcache_find(const sh_instance *inst, const char *name)
{
	if (inst->extra == NULL)
		return NULL;
	for (sh__relcache *c = inst->extra->cache; c != NULL; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void sh_db__relcache_free(sh__relcache *c)
{
	for (size_t i = 0; i < c->count; i++)
		sh_instance_free(c->items[i]);
	free(c->items);
	free(c);
}

void sh_db__relcache_drop(sh_instance *instance, const char *name)
{
	if (instance->extra == NULL)
		return;
	for (sh__relcache **p = &instance->extra->cache; *p != NULL; p = &(*p)->next) {
		if (strcmp((*p)->name, name) == 0) {
			sh__relcache *gone = *p;
			*p = gone->next;
			sh_db__relcache_free(gone);
			return;
		}
	}
}

/* Drops every cached relation of the instance. */
void sh_db__relcache_clear(sh_instance *instance)
{
	if (instance->extra == NULL)
		return;
	while (instance->extra->cache != NULL) {
		sh__relcache *gone = instance->extra->cache;
		instance->extra->cache = gone->next;
		sh_db__relcache_free(gone);
	}
}

void sh_db__instance_extra_free(sh_instance *instance)
{
	sh_db__relcache_clear(instance);
	free(instance->extra->deferred);
	free(instance->extra);
	instance->extra = NULL;
}

static int sh_db__extra(sh_instance *inst)
{
	if (inst->extra == NULL && (inst->extra = calloc(1, sizeof *inst->extra)) == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory caching a relation of %s",
			inst->model->label);
	return 0;
}

int sh_db__relcache_put(sh_instance *inst, const char *name, sh_instance **items, size_t count,
	bool forward)
{
	sh__relcache *c = calloc(1, sizeof *c);
	sh_instance **copy = malloc((count ? count : 1) * sizeof *copy);
	if (c == NULL || copy == NULL || sh_db__extra(inst) < 0) {
		free(c);
		free(copy);
		return sh_error_set(SH_ENOMEM, "out of memory caching %s.%s", inst->model->label, name);
	}
	if (count > 0)
		memcpy(copy, items, count * sizeof *copy);
	for (size_t i = 0; i < count; i++)
		items[i]->refs++;
	sh_db__relcache_drop(inst, name);
	*c = (sh__relcache){ inst->extra->cache, name, copy, count, forward };
	inst->extra->cache = c;
	return 0;
}

/* ---- what a name means ---- */

typedef enum { SH__REL_FORWARD, SH__REL_REVERSE, SH__REL_M2M } sh__rel_kind;

typedef struct sh__relation {
	sh__rel_kind kind;
	const char *name;            /* from the registry */
	const sh_field *key;         /* FORWARD: the key; REVERSE: the key pointing here */
	sh__rel m2m;                 /* M2M */
} sh__relation;

static bool sh_db__hidden_name(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && name[n - 1] == '+';
}

static int sh_db__relation_resolve(const sh_conn *db, const sh_model *model, const char *name,
	sh__relation *out)
{
	const sh_field *f = sh_db__model_field(model, name);
	if (f != NULL && f->type == SH_FIELD_FOREIGN_KEY) {
		*out = (sh__relation){ SH__REL_FORWARD, f->name, f, { 0 } };
		return 0;
	}
	if (sh_db__m2m_relation(db, model, name, &out->m2m)) {
		out->kind = SH__REL_M2M;
		out->name = out->m2m.name;
		out->key = NULL;
		return 0;
	}
	const sh__model_sql *msql = sh__sql_of(db, model);
	for (size_t i = 0; i < msql->related_count; i++) {
		const sh__reverse *r = &msql->related[i];
		const sh_field *k = &r->from->fields[r->field];
		if (r->from->auto_created || k->type != SH_FIELD_FOREIGN_KEY
			|| sh_db__hidden_name(k->related_name) || strcmp(k->related_name, name) != 0)
			continue;
		*out = (sh__relation){ SH__REL_REVERSE, k->related_name, k, { 0 } };
		return 0;
	}
	return sh_error_set(SH_EINVAL, "%s has no relation '%s' to prefetch (a foreign key, the "
		"related_name of a key to it, or a many-to-many relation)", model->label, name);
}

int sh_db__relation_known(const sh_conn *db, const sh_model *model, const char *name)
{
	sh__relation r;
	return sh_db__relation_resolve(db, model, name, &r);
}

/* ---- prefetching ---- */


static int sh_db__cmp_key(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Sorted distinct values of `keys` (n of them), in place; returns the count. */
static size_t sh_db__distinct(int64_t *keys, size_t n)
{
	qsort(keys, n, sizeof *keys, sh_db__cmp_key);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (k == 0 || keys[k - 1] != keys[i])
			keys[k++] = keys[i];
	return k;
}

/* Finds the instance with pk `pk` among `sorted` (by pk). */
static sh_instance *sh_db__by_pk(sh_instance **sorted, size_t n, int64_t pk)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t at = sh_instance_pk(sorted[mid]);
		if (at == pk)
			return sorted[mid];
		if (at < pk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int sh_db__related_grow(sh_instance ***items, size_t count, size_t *capacity, const char *label)
{
	if (count < *capacity)
		return 0;
	size_t cap = *capacity ? 2 * *capacity : 16;
	sh_instance **grown = realloc(*items, cap * sizeof *grown);
	if (grown == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory loading %s", label);
	*items = grown;
	*capacity = cap;
	return 0;
}

/* A forward key: the targets of every key, shared by the instances that
 * point at the same one. */
static int sh_db__prefetch_forward(sh_conn *db, sh_instance **items, size_t n, const sh__relation *r)
{
	const sh_field *key = r->key;
	int64_t *keys = malloc((n ? n : 1) * sizeof *keys);
	if (keys == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory prefetching %s", key->name);
	size_t nk = 0;
	for (size_t i = 0; i < n; i++)
		if (items[i]->values[key->index].type == SH_DATUM_INT)
			keys[nk++] = items[i]->values[key->index].v.i;
	nk = sh_db__distinct(keys, nk);
	sh_instance **loaded = NULL;
	size_t count = 0, capacity = 0;
	int rc = nk > 0 ? sh_db__load_where_in(db, key->target, &key->target->fields[key->target->pk],
		keys, nk, &loaded, &count, &capacity) : 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const sh_datum *v = &items[i]->values[key->index];
		sh_instance *target = v->type == SH_DATUM_INT ? sh_db__by_pk(loaded, count, v->v.i) : NULL;
		rc = sh_db__relcache_put(items[i], r->name, &target, target != NULL, true);
	}
	for (size_t i = 0; i < count; i++)
		sh_instance_free(loaded[i]);   /* the caches keep their references */
	free(loaded);
	free(keys);
	return rc;
}

/* Hands the loaded rows out to their instances: `owner[k]` is the pk of
 * the instance row k belongs to; rows come grouped in pk order of owners
 * or not, each list keeps the rows' order. */
static int sh_db__distribute(sh_instance **items, size_t n, const char *name, sh_instance **rows,
	const int64_t *owner, size_t count)
{
	sh_instance **sorted = malloc((n ? n : 1) * sizeof *sorted);
	sh_instance **list = malloc((count ? count : 1) * sizeof *list);
	int rc = sorted == NULL || list == NULL
		? sh_error_set(SH_ENOMEM, "out of memory prefetching %s", name) : 0;
	if (rc == 0) {
		memcpy(sorted, items, n * sizeof *sorted);
		qsort(sorted, n, sizeof *sorted, sh_db__instance_cmp_pk);
	}
	/* One pass per instance over the rows: the caches are per instance. */
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (i > 0 && sorted[i] == sorted[i - 1])
			continue;
		int64_t pk = sh_instance_pk(sorted[i]);
		size_t k = 0;
		for (size_t j = 0; j < count; j++)
			if (owner[j] == pk)
				list[k++] = rows[j];
		rc = sh_db__relcache_put(sorted[i], name, list, k, false);
	}
	free(sorted);
	free(list);
	return rc;
}

/* The reverse side of a key: the rows whose key points at each instance. */
static int sh_db__prefetch_reverse(sh_conn *db, sh_instance **items, size_t n, const sh__relation *r)
{
	const sh_field *key = r->key;
	int64_t *keys = malloc((n ? n : 1) * sizeof *keys);
	if (keys == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory prefetching %s", r->name);
	for (size_t i = 0; i < n; i++)
		keys[i] = sh_instance_pk(items[i]);
	size_t nk = sh_db__distinct(keys, n);
	sh_instance **loaded = NULL;
	size_t count = 0, capacity = 0;
	int rc = sh_db__load_where_in(db, key->model, key, keys, nk, &loaded, &count, &capacity);
	int64_t *owner = rc == 0 ? malloc((count ? count : 1) * sizeof *owner) : NULL;
	if (rc == 0 && owner == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory prefetching %s", r->name);
	for (size_t j = 0; rc == 0 && j < count; j++)
		owner[j] = loaded[j]->values[key->index].v.i;
	if (rc == 0)
		rc = sh_db__distribute(items, n, r->name, loaded, owner, count);
	for (size_t j = 0; j < count; j++)
		sh_instance_free(loaded[j]);
	free(loaded);
	free(owner);
	free(keys);
	return rc;
}

/* A many-to-many relation: the related rows joined with the join table,
 * one instance per (instance, related row) pair. */
static int sh_db__prefetch_m2m(sh_conn *db, sh_instance **items, size_t n, const sh__relation *r)
{
	const sh__rel *rel = &r->m2m;
	const sh__model_sql *osql = sh__sql_of(db, rel->other);
	sh__buf buf = { 0 };
	sh_db__buf_add(&buf, "SELECT \"j\".");
	sh_db__buf_ident(&buf, rel->source);
	sh_db__buf_add(&buf, ", ");
	sh_db__buf_columns(&buf, osql, NULL, "o");
	sh_db__buf_add(&buf, " FROM ");
	sh_db__buf_ident(&buf, rel->other->table);
	sh_db__buf_add(&buf, " AS \"o\" JOIN ");
	sh_db__buf_ident(&buf, rel->join->table);
	sh_db__buf_add(&buf, " AS \"j\" ON \"j\".");
	sh_db__buf_ident(&buf, rel->target);
	sh_db__buf_add(&buf, " = \"o\".");
	sh_db__buf_ident(&buf, rel->other->fields[rel->other->pk].column);
	sh_db__buf_add(&buf, " WHERE \"j\".");
	sh_db__buf_ident(&buf, rel->source);
	sh_db__buf_add(&buf, " IN (SELECT value FROM json_each(?)) ORDER BY \"j\".");
	sh_db__buf_ident(&buf, rel->source);
	sh_db__buf_add(&buf, ", \"o\".");
	sh_db__buf_ident(&buf, rel->other->fields[rel->other->pk].column);
	char *sql = sh_db__buf_take(&buf);
	int64_t *keys = malloc((n ? n : 1) * sizeof *keys);
	for (size_t i = 0; keys != NULL && i < n; i++)
		keys[i] = sh_instance_pk(items[i]);
	size_t nk = keys != NULL ? sh_db__distinct(keys, n) : 0;
	char *json = keys != NULL ? sh_db__json_keys(keys, nk) : NULL;
	int rc = sql == NULL || json == NULL
		? sh_error_set(SH_ENOMEM, "out of memory prefetching %s", r->name) : 0;
	sqlite3_stmt *stmt = NULL;
	if (rc == 0)
		rc = sh_db__conn_prepare(db, sql, &stmt);
	if (rc == 0)
		rc = sh_db__conn_bind(db, stmt, 1, sh_datum_text(json));
	sh_instance **rows = NULL;
	int64_t *owner = NULL;
	size_t count = 0, capacity = 0;
	/* Read every row before any receiver runs: the statement is cached. */
	while (rc == 0) {
		int step = sqlite3_step(stmt);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW) {
			rc = sh_db__conn_error(db, "prefetching a many-to-many relation");
			break;
		}
		size_t before = capacity;
		if ((rc = sh_db__related_grow(&rows, count, &capacity, rel->other->label)) < 0)
			break;
		if (capacity != before) {
			int64_t *grown = realloc(owner, capacity * sizeof *grown);
			if (grown == NULL) {
				rc = sh_error_set(SH_ENOMEM, "out of memory prefetching %s", r->name);
				break;
			}
			owner = grown;
		}
		owner[count] = sqlite3_column_int64(stmt, 0);
		if ((rc = sh_db__instance_from_row_at(&rows[count], db, osql, stmt, 1, NULL)) == 0)
			count++;
	}
	if (stmt != NULL)
		sqlite3_reset(stmt);
	for (size_t j = 0; rc == 0 && j < count; j++)
		rc = sh_db__instance_loaded(rows[j]);
	if (rc == 0)
		rc = sh_db__distribute(items, n, r->name, rows, owner, count);
	for (size_t j = 0; j < count; j++)
		sh_instance_free(rows[j]);
	free(rows);
	free(owner);
	free(keys);
	free(json);
	free(sql);
	return rc;
}

int sh_db__prefetch(sh_conn *db, const sh_model *model, sh_instance **items, size_t n,
	const char *name)
{
	sh__relation r;
	int rc = sh_db__relation_resolve(db, model, name, &r);
	if (rc < 0 || n == 0)
		return rc;
	switch (r.kind) {
	case SH__REL_FORWARD: return sh_db__prefetch_forward(db, items, n, &r);
	case SH__REL_REVERSE: return sh_db__prefetch_reverse(db, items, n, &r);
	default: return sh_db__prefetch_m2m(db, items, n, &r);
	}
}

/* ---- the public accessors ---- */

int sh_instance_related(sh_instance *instance, const char *name, sh_instance **out)
{
	if (instance == NULL || name == NULL || out == NULL)
		return sh_error_set(SH_EINVAL, "sh_instance_related: NULL argument");
	*out = NULL;
	const sh_field *f = sh_db__model_field(instance->model, name);
	if (f == NULL || f->type != SH_FIELD_FOREIGN_KEY)
		return sh_error_set(SH_EINVAL, "%s has no foreign key '%s'", instance->model->label, name);
	int rc = sh__attached(instance, "follow a relation of");
	if (rc < 0)
		return rc;
	sh_datum key;
	if ((rc = sh_instance_get(instance, f->name, &key)) < 0)
		return rc;
	if (key.type != SH_DATUM_INT)
		return 0;
	const sh__relcache *c = sh_db__relcache_find(instance, f->name);
	if (c == NULL) {
		sh__relation r = { SH__REL_FORWARD, f->name, f, { 0 } };
		if ((rc = sh_db__prefetch_forward(instance->db, &instance, 1, &r)) < 0)
			return rc;
		c = sh_db__relcache_find(instance, f->name);
	}
	if (c == NULL || c->count == 0)
		return sh_error_set(SH_ENOTFOUND, "%s.%s is %lld, but no %s has that pk",
			instance->model->label, f->name, (long long)key.v.i, f->target->label);
	*out = c->items[0];
	return 0;
}

int sh_instance_prefetched(sh_instance *instance, const char *name, sh_instance *const **out,
	size_t *count)
{
	if (instance == NULL || name == NULL || out == NULL || count == NULL)
		return sh_error_set(SH_EINVAL, "sh_instance_prefetched: NULL argument");
	*out = NULL;
	*count = 0;
	int rc = sh__attached(instance, "follow a relation of");
	if (rc < 0)
		return rc;
	sh__relation r;
	if ((rc = sh_db__relation_resolve(instance->db, instance->model, name, &r)) < 0)
		return rc;
	if (r.kind == SH__REL_FORWARD)
		return sh_error_set(SH_EINVAL, "%s.%s is a foreign key: read it with "
			"sh_instance_related()", instance->model->label, name);
	if (sh_instance_pk(instance) == 0)
		return sh_error_set(SH_EINVAL, "%s needs a primary key before its relation '%s' can be "
			"read: save it first", instance->model->label, name);
	const sh__relcache *c = sh_db__relcache_find(instance, r.name);
	if (c == NULL) {
		rc = r.kind == SH__REL_REVERSE ? sh_db__prefetch_reverse(instance->db, &instance, 1, &r)
			: sh_db__prefetch_m2m(instance->db, &instance, 1, &r);
		if (rc < 0)
			return rc;
		c = sh_db__relcache_find(instance, r.name);
	}
	if (c == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory reading %s.%s", instance->model->label,
			name);
	*out = c->items;
	*count = c->count;
	return 0;
}
