/*
 * query.h: querysets: rows of one model filtered, ordered and sliced, read
 * as instances (each sends pre_init and post_init, as Django's loading does)
 * or counted, updated and deleted in bulk.
 *
 * Bulk operations follow Django: sh_query_update() and sh_bulk_create()
 * send no save signals; sh_query_delete() deletes through the collector
 * and sends pre_delete/post_delete for every row, as QuerySet.delete().
 * The writes follow the model layer's atomicity (db.h, "Atomic blocks"):
 * a transaction of their own outside any block; inside one no savepoint,
 * and a failure marks the block for rollback.
 * Every statement is prepared with bound values; field names are checked
 * against the model, never pasted from input.
 */
#ifndef SIGHOST_QUERY_H
#define SIGHOST_QUERY_H

#include "common.h"
#include "datum.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sh_query sh_query;

/* Creates a query of every row of `model` on connection `db`. Returns 0,
 * SH_EINVAL, SH_ENOMEM. Free it with sh_query_free(). */
SH_API int sh_query_new(sh_query **out, sh_conn *db, const sh_model *model);

/* Frees a query (and ends an iteration in progress). NULL is a no-op. */
SH_API void sh_query_free(sh_query *query);

/*
 * Keeps the rows where `lookup` holds for `value`: "field" or
 * "field__exact" (equality; NULL matches NULL), "field__lt", "__lte",
 * "__gt", "__gte", "field__isnull" (value boolean), "pk" for the primary
 * key; foreign keys by name or column. Filters combine with AND. Returns
 * 0 or SH_EINVAL naming the field or lookup (the query is unchanged).
 */
SH_API int sh_query_filter(sh_query *query, const char *lookup, sh_datum value);

/* Keeps the rows where the lookup does not hold (Django's exclude()). */
SH_API int sh_query_exclude(sh_query *query, const char *lookup, sh_datum value);

/* The ordering keys a query may have (SQLite refuses more than a few
 * thousand terms in ORDER BY only when the query runs). */
#define SH_QUERY_MAX_ORDER 64

/* Orders by `field` ("-field" descending); called again, adds a further
 * key, at most SH_QUERY_MAX_ORDER in all. Without ordering rows come by
 * primary key. Returns 0 or SH_EINVAL (an unknown field, or one key past
 * the bound: the query is unchanged). */
SH_API int sh_query_order_by(sh_query *query, const char *field);

/* Keeps at most `limit` rows (negative: no limit) after skipping `offset`. */
SH_API int sh_query_slice(sh_query *query, int64_t offset, int64_t limit);

/*
 * Follows the foreign key `field` of the query's model in the same query
 * (Django's select_related): a LEFT JOIN reads the target's row with each
 * row. Each row sends pre_init/post_init for its instance, then for the
 * target's (when the key is not NULL), as Django's ModelIterable; the
 * target is then reachable with sh_instance_related() without another
 * query. Called again, follows another key. Returns 0, or SH_EINVAL when
 * `field` is not a foreign key of the model or the rows are being read.
 */
SH_API int sh_query_select_related(sh_query *query, const char *field);

/*
 * Loads the relation `name` of every row with one extra query once the
 * rows are read (Django's prefetch_related): a foreign key of the model,
 * the reverse side of a key to it (its related_name, "<model>_set" by
 * default), or a many-to-many relation from either side. The first
 * sh_query_next() reads every row (pre_init/post_init for each), then runs
 * one query per relation, in the order they were added, sending
 * pre_init/post_init for each related row it loads (a many-to-many row
 * once per instance it belongs to, as Django's). sh_instance_related()
 * (a key) and sh_instance_prefetched() (the others) then answer without a
 * query. Returns 0, or SH_EINVAL for an unknown relation or once the rows
 * are being read.
 */
SH_API int sh_query_prefetch_related(sh_query *query, const char *name);

/*
 * Loads only the `count` named fields (and the primary key) of each row
 * (Django's only()); sh_query_defer() loads every field but those. The
 * others are deferred: pre_init's args hold DEFERRED in their places
 * (sh_pre_init_args.deferred), and the first sh_instance_get() of one loads
 * it with a query of its own (a refresh of that field: pre_init/post_init
 * for the row read, as Django's DeferredAttribute). Saving an instance with
 * deferred fields writes the loaded ones only (update_fields: their column
 * names, as Django's). Called again, replaces the earlier choice. Returns
 * 0, or SH_EINVAL naming an unknown or many-to-many field, or once the
 * rows are being read.
 */
SH_API int sh_query_only(sh_query *query, const char *const *fields, size_t count);
SH_API int sh_query_defer(sh_query *query, const char *const *fields, size_t count);

/* Stores the number of matching rows in *out (no instance is loaded, no
 * signal sent). Returns 0, SH_EDB. */
SH_API int sh_query_count(sh_query *query, int64_t *out);

/*
 * Loads the next matching row as a new instance (pre_init with the row's
 * values as positional args in field order and no kwargs, as Django's
 * Model.from_db, then post_init) and stores it in *out: the caller owns
 * it. Returns 1 with an instance, 0 when there are no more rows, or a
 * negative code (SH_EDB, a receiver's code). Changing the query after the
 * first call is SH_EINVAL.
 */
SH_API int sh_query_next(sh_query *query, sh_instance **out);

/*
 * Loads the row of `model` with primary key `pk`. Returns 0, SH_ENOTFOUND
 * ("alert.Alert matching pk=5 does not exist"), SH_EDB, a receiver's code.
 */
SH_API int sh_query_get(sh_instance **out, sh_conn *db, const sh_model *model, int64_t pk);

/*
 * Sets fields of every matching row in one UPDATE (Django's
 * QuerySet.update): no instance is loaded and no signal sent. Stores the
 * number of rows changed in *count when non-NULL. Returns 0, SH_EINVAL
 * naming the field, SH_EDB.
 */
SH_API int sh_query_update(sh_query *query, const sh_field_value *values, size_t n,
	int64_t *count);

/* Deletes every matching row through the collector (sh_instance_delete's
 * rules, atomicity and signals, with origin NULL and origin_model the
 * query's model). */
SH_API int sh_query_delete(sh_query *query, int64_t *count);

/*
 * Inserts the unsaved instances in one transaction with no signal (Django's
 * bulk_create); auto_now and auto_now_add fields are set; each gets its pk
 * and stops adding. Returns 0; SH_EINVAL before anything is written and
 * without marking any block (an instance already saved, of another model
 * or connection, a detached copy, NULL in a non-null field); SH_EINTEGRITY
 * or SH_EDB (nothing inserted then: inside a block, the block is marked
 * for rollback).
 */
SH_API int sh_bulk_create(sh_instance *const *instances, size_t count);

/*
 * Django's get_or_create(defaults, **lookups): looks up the one row of
 * `model` matching every lookup (sh_query_filter's syntax); on a hit stores
 * it in *out (loaded: pre_init/post_init) with *created false. On a miss,
 * inside an atomic block (a savepoint inside another block), constructs an
 * instance from the lookups without "__" and then the defaults (a default
 * replaces a lookup of the same name: pre_init's kwargs in that order) and
 * saves it with force_insert (pre_save, INSERT, post_save created=true),
 * *created true. When that INSERT fails on a unique constraint because
 * another connection created the row meanwhile, the block is rolled back
 * and the lookup runs again: a hit is returned with *created false (the
 * failed instance got its pre_init/post_init and pre_save only), else the
 * constraint error. The caller owns *out. Returns 0; SH_EINVAL for a bad
 * lookup or default, or when more than one row matches ("get() returned
 * more than one ..."); SH_EINTEGRITY; SH_EDB; a receiver's code.
 */
SH_API int sh_get_or_create(sh_instance **out, bool *created, sh_conn *db, const sh_model *model,
	const sh_field_value *lookups, size_t lookup_count,
	const sh_field_value *defaults, size_t default_count);

/*
 * Django's update_or_create(defaults, **lookups): in one atomic block (the
 * lookup, its write lock and the write: SQLite's BEGIN IMMEDIATE stands for
 * select_for_update), sh_get_or_create() with the same defaults; on a hit
 * sets the defaults on the row's instance and saves it with update_fields
 * the defaults' names plus every date and datetime field (Django adds the
 * fields whose pre_save is their own, so auto_now keeps working): pre_save
 * and post_save with created false. A hit with nothing to update saves
 * nothing and sends no save signal. Returns as sh_get_or_create(); on any
 * failure the block is rolled back.
 */
SH_API int sh_update_or_create(sh_instance **out, bool *created, sh_conn *db,
	const sh_model *model, const sh_field_value *lookups, size_t lookup_count,
	const sh_field_value *defaults, size_t default_count);

/*
 * Django's bulk_update(objs, fields, batch_size): writes the named fields
 * of the saved instances (one model, one connection) with one UPDATE ...
 * SET f = CASE pk WHEN ? THEN ? ... END WHERE pk IN (...) per batch, in an
 * atomic block (no savepoint inside another), sending no signal. A batch
 * holds at most `batch_size` instances (0: as many as SQLite's limit on
 * bound values allows). Stores the number of rows matched in *rows when
 * non-NULL. Returns 0; SH_EINVAL before anything is written (no fields, an
 * unknown, primary key or many-to-many field, an instance unsaved, of
 * another model or connection, or detached); SH_EINTEGRITY, SH_EDB (the
 * whole update is undone, or the enclosing block marked).
 */
SH_API int sh_bulk_update(sh_instance *const *instances, size_t count,
	const char *const *fields, size_t field_count, size_t batch_size, int64_t *rows);

#ifdef __cplusplus
}
#endif

#endif
