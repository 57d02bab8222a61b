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
SH_API int sh_query_new(sh_query **out, sh_db *db, const sh_model *model);

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
SH_API int sh_query_get(sh_instance **out, sh_db *db, const sh_model *model, int64_t pk);

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

#ifdef __cplusplus
}
#endif

#endif
