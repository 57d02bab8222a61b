/*
 * instance.h: model instances: construct, read and change fields, save,
 * delete, and many-to-many relations, each sending Django's model signals
 * with Django's arguments in Django's order (see docs/models.md for where
 * sighost differs on purpose).
 *
 * An instance belongs to one connection (sh_conn) and is used on its thread.
 * The caller owns the instances it creates or loads and frees them with
 * sh_instance_free(). Receivers get the instance in the signal's args and
 * may read and set its fields (pre_save receivers may change what is
 * saved) but must not free it.
 *
 * Asynchronous receivers (signal.h) get a detached copy instead: the
 * model and a copy of every value, made when the signal was sent and owned
 * by the copy of the args (the receiver must not free it). It belongs to
 * no connection (sh_instance_conn() returns NULL): reading and setting its
 * fields work, while sh_instance_save(), sh_instance_delete() and the
 * sh_m2m_ calls refuse it with SH_EINVAL; reload the row on the worker's
 * own connection (sh_database_connection(), then sh_query_get() with its
 * pk) to change it. The registry must outlive the executor's pending jobs.
 */
#ifndef SIGHOST_INSTANCE_H
#define SIGHOST_INSTANCE_H

#include "common.h"
#include "datum.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Constructs an instance of `model` with the fields' defaults, then the
 * `count` named values: sends pre_init (kwargs = the named values) before
 * and post_init (instance) after. The instance is not saved (adding).
 * Returns 0 and stores it in *out, SH_EINVAL naming the field for an
 * unknown field or a value of the wrong type, the code of a failing
 * pre_init/post_init receiver (nothing is returned then), SH_ENOMEM.
 */
SH_API int sh_instance_new(sh_instance **out, sh_conn *db, const sh_model *model,
	const sh_field_value *values, size_t count);

/* Frees an instance. NULL is a no-op. */
SH_API void sh_instance_free(sh_instance *instance);

SH_API const sh_model *sh_instance_model(const sh_instance *instance);
/* Returns the instance's connection, NULL for a detached copy (an async
 * receiver's, see above). */
SH_API sh_conn *sh_instance_conn(const sh_instance *instance);

/* Returns true until the instance was saved or loaded (Django's _state.adding). */
SH_API bool sh_instance_adding(const sh_instance *instance);

/* Returns the primary key, 0 when it has none yet. */
SH_API int64_t sh_instance_pk(const sh_instance *instance);

/*
 * Sets field `name` (a foreign key by its name or its column "<name>_id",
 * with the target's pk) to `value`, converted to the field's type: integer
 * fields take integers (and booleans as 0/1), reals take integers and
 * reals, text, date, datetime and JSON fields take text, checked (length,
 * ISO-8601 form, valid JSON); NULL is accepted here and refused at save
 * for a field without null. Text is copied. Returns 0 or SH_EINVAL naming
 * the model, the field and what was wrong (the instance is unchanged).
 */
SH_API int sh_instance_set(sh_instance *instance, const char *name, sh_datum value);

/*
 * Stores the value of field `name` in *out. Text points into the instance
 * and stays valid until the field is set again or the instance is freed.
 * Returns 0 or SH_EINVAL for an unknown (or many-to-many) field.
 */
SH_API int sh_instance_get(const sh_instance *instance, const char *name, sh_datum *out);

/* Options of sh_instance_save(). Initialise with SH_SAVE_OPTS_INIT. */
typedef struct sh_save_opts {
	unsigned int version;
	const char *const *update_fields;  /* save only these fields; NULL: all */
	size_t update_fields_count;        /* with update_fields: 0 saves nothing and sends nothing */
	bool raw;                          /* passed to the signals (fixture loading) */
	bool force_insert;
	bool force_update;
} sh_save_opts;

#define SH_SAVE_OPTS_VERSION 1
#define SH_SAVE_OPTS_INIT { SH_SAVE_OPTS_VERSION, NULL, 0, false, false, false }

/*
 * Saves the instance, as Django's Model.save(): pre_save, then the write
 * (an UPDATE by pk when it has a pk, only of update_fields when given; an
 * INSERT when it has none or the UPDATE matched no row), then post_save
 * with created true only for the INSERT. `opts` may be NULL.
 *
 * auto_now fields, and auto_now_add fields when inserting, get the current
 * UTC time during the write, unless raw, as Django's: pre_save receivers
 * see the old values, post_save receivers the new ones. With update_fields
 * an auto_now field is written (and set) only when it is listed.
 *
 * Atomicity (db.h, "Atomic blocks"): outside any atomic block the save,
 * its receivers' writes included, is a transaction of its own: when it
 * fails (a receiver of either signal, a constraint, SQLite) it is rolled
 * back and the error returned; a receiver that marks that transaction with
 * sh_atomic_set_rollback() makes the save fail with SH_EDB, and one whose
 * own model operation failed in it (which marks it) makes the save fail
 * with that operation's code, even if the receiver ignored it.
 *
 * Inside an atomic block the save opens no savepoint: when it fails it
 * marks the innermost block for rollback with its code (Django's
 * mark_for_rollback_on_error), and that block's sh_atomic_end() rolls back
 * and returns the code. A failing pre_save receiver means nothing was
 * written by the save, in either case. To go on after a failed save inside
 * a transaction, give the save a block of its own (a savepoint), as Django
 * advises:
 *
 *     int rc = sh_atomic_begin(db);
 *     if (rc == 0)
 *         rc = sh_atomic_end(db, sh_instance_save(instance, NULL));
 *
 * After a failure the instance has no pk it did not have before and is
 * still adding if it was (its auto_now values may have changed).
 *
 * Returns 0; SH_EINVAL, before anything is sent and without marking any
 * block, for bad options (an unknown update_fields name, update_fields or
 * force_update on an instance never saved, both forces, an unknown opts
 * version) or a detached copy; after pre_save: SH_EINVAL naming the field
 * for NULL in a non-null field, SH_EINTEGRITY naming the field for a
 * unique or foreign key constraint, SH_EDB with SQLite's reason (a forced
 * update or update_fields that matched no row), or a receiver's code.
 */
SH_API int sh_instance_save(sh_instance *instance, const sh_save_opts *opts);

/*
 * Deletes the instance and everything its delete reaches, as Django's
 * Collector does: collects the rows of cascading foreign keys (loading
 * them as instances), refuses with SH_EPROTECTED naming the blocking rows
 * ("alert.Alert pk=3 protects ...") when a PROTECT or RESTRICT key points at
 * a collected row, then in one transaction sends pre_delete for every
 * collected instance, sets SET_NULL keys, deletes join rows, and deletes
 * model by model sending post_delete for each instance right after its
 * model's rows are deleted (origin: this instance; origin_model: its
 * model). Stores the number of rows deleted (join rows excluded) in *count
 * when non-NULL. The instance keeps its field values and has no pk
 * afterwards, as in Django.
 *
 * Atomicity as sh_instance_save(): outside any block the delete is a
 * transaction of its own and on any failure nothing is deleted; inside a
 * block a failure while deleting marks the block for rollback (Django's
 * atomic(savepoint=False)). Refusals found while collecting
 * (SH_EPROTECTED) come before anything is sent or written and mark
 * nothing. A failed delete leaves every pk in place.
 *
 * An instance without a primary key (never saved, or deleted already) is
 * SH_EINVAL, and nothing is sent (Django's ValueError); so is a detached
 * copy. Otherwise returns 0, SH_EPROTECTED, SH_EDB, or a receiver's code.
 */
SH_API int sh_instance_delete(sh_instance *instance, int64_t *count);

/*
 * Reloads the instance's fields from its row (Django's refresh_from_db):
 * the `count` named fields, or with `fields` NULL every field that is not
 * deferred. The row is read as a new instance, which gets pre_init (the
 * fields not read are DEFERRED) and post_init, then its values are copied
 * into this instance (which gets no signal); the copied fields are no
 * longer deferred. Cached relations are dropped: all of them when `fields`
 * is NULL, else those of the keys reloaded; a name that is a prefetched
 * relation drops that cache only, and reads nothing when it is the only
 * name. Returns 0; SH_EINVAL (no pk, an unknown field, a detached copy);
 * SH_ENOTFOUND when the row is gone; SH_EDB; a receiver's code.
 */
SH_API int sh_instance_refresh(sh_instance *instance, const char *const *fields, size_t count);

/* Stores in *out whether field `name` of the instance is deferred (not
 * loaded yet). Returns 0 or SH_EINVAL for an unknown field. */
SH_API int sh_instance_is_deferred(const sh_instance *instance, const char *name, bool *out);

/*
 * Stores in *out the object the foreign key `name` of the instance points
 * at (Django's instance.fk): the one select_related or prefetch_related
 * loaded, or one read now (pre_init/post_init) and kept; NULL when the key
 * is NULL. The instance owns it (borrowed: valid until the key is set to
 * another value, the instance is refreshed or freed). Returns 0; SH_EINVAL
 * when `name` is not a foreign key; SH_ENOTFOUND for a key without a row;
 * SH_EDB; a receiver's code.
 */
SH_API int sh_instance_related(sh_instance *instance, const char *name, sh_instance **out);

/*
 * Stores in *out the instances of the relation `name` (the reverse side
 * of a foreign key, or a many-to-many relation from either side) that
 * sh_query_prefetch_related() loaded, ascending by pk, and their number in
 * *count; when the relation was not prefetched it is loaded now with one
 * query (pre_init/post_init for each row) and kept. The array and the
 * instances are the instance's (borrowed until it is refreshed or freed).
 * Returns 0; SH_EINVAL for an unknown relation or an instance without a
 * pk; SH_EDB; a receiver's code.
 */
SH_API int sh_instance_prefetched(sh_instance *instance, const char *name,
	sh_instance *const **out, size_t *count);

/* ---- many-to-many ---- */

/*
 * Adds the rows with primary keys `pks` to the relation `name` of the
 * instance: a many-to-many field of its model, or the reverse side of one
 * (its related_name on the target, "<model>_set" by default). Sends
 * m2m_changed pre_add and post_add (sender: the join model; reverse: true
 * from the reverse side; model: the class of the rows added; pk_set: the
 * pks not related yet, ascending). When none is new both are still sent,
 * with an empty (non-NULL) pk_set, as Django does; a count of 0 sends
 * nothing. The instance must have a pk. Atomicity as sh_instance_save():
 * a transaction of its own outside any block; inside one, a failure after
 * the checks marks the block for rollback. Returns 0; SH_EINVAL (an
 * unknown relation, no pk, a detached copy, a relation through an
 * explicit model, which these calls refuse) or SH_ENOTFOUND for a pk
 * without a row, both before anything is sent; SH_EDB or a receiver's
 * code (then nothing changed, or the block rolls back).
 */
SH_API int sh_m2m_add(sh_instance *instance, const char *name, const int64_t *pks, size_t count);

/* Removes rows from the relation: pre_remove/post_remove with pk_set every
 * pk given (without duplicates, ascending), related or not, as Django's
 * _remove_items; the join rows of those that were related are deleted. A
 * count of 0 sends nothing. Returns as sh_m2m_add() (no SH_ENOTFOUND). */
SH_API int sh_m2m_remove(sh_instance *instance, const char *name, const int64_t *pks, size_t count);

/* Removes every row from the relation: pre_clear/post_clear with pk_set
 * NULL, sent even when the relation is empty. Returns as sh_m2m_add(). */
SH_API int sh_m2m_clear(sh_instance *instance, const char *name);

/* Makes the relation hold exactly `pks`, as Django's set(): a remove of
 * those no longer wanted, then an add of the new ones, each sent only when
 * not empty, in one transaction. Returns as sh_m2m_add(). */
SH_API int sh_m2m_set(sh_instance *instance, const char *name, const int64_t *pks, size_t count);

/* sh_m2m_set() without checking that the pks have rows (nor that the
 * instance has one), for loading fixtures, whose lists may name objects
 * later in the fixture: the caller checks every key with
 * sh_db_check_keys() before it commits (Django's loaddata disables
 * constraint checks while it loads). Returns as sh_m2m_set(). */
SH_API int sh_m2m_set_unchecked(sh_instance *instance, const char *name, const int64_t *pks,
	size_t count);

/* Django's set(objs, clear=True): in one transaction, a clear (pre_clear /
 * post_clear, pk_set NULL) then an add of `pks` (pre_add / post_add, sent
 * only when count > 0). Returns as sh_m2m_add(). */
SH_API int sh_m2m_set_clear(sh_instance *instance, const char *name, const int64_t *pks,
	size_t count);

/*
 * The related manager's create() (Django's ManyRelatedManager.create):
 * constructs an instance of the related model with the values (pre_init,
 * post_init), saves it (pre_save, INSERT, post_save created=true), then
 * adds it to the relation (m2m_changed pre_add / post_add with its pk).
 * As Django's, these are three steps, not one transaction: a failing add
 * leaves the new row saved. Stores the new instance in *out (the caller
 * owns it). Returns as sh_instance_new(), sh_instance_save() and
 * sh_m2m_add(); on failure *out is NULL.
 */
SH_API int sh_m2m_create(sh_instance **out, sh_instance *instance, const char *name,
	const sh_field_value *values, size_t count);

/*
 * Stores in *out (allocated, free with free()) the primary keys related
 * through `name`, ascending, and their number in *count. Returns 0,
 * SH_EINVAL, SH_EDB, SH_ENOMEM.
 */
SH_API int sh_m2m_pks(sh_instance *instance, const char *name, int64_t **out, size_t *count);

#ifdef __cplusplus
}
#endif

#endif
