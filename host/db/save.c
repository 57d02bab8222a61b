/*
 * save.c: sh_instance_save(), Django's Model.save / save_base / _save_table.
 *
 * The order is Django's: check the options, then pre_save, then the write
 * (an UPDATE by pk when the instance has a pk, an INSERT when it has none
 * or the UPDATE matched no row), then post_save with created true only
 * after an INSERT. auto_now and auto_now_add values are set during the
 * write, as Django's DateTimeField.pre_save() does: pre_save receivers see
 * the old values, post_save receivers the new ones; with update_fields an
 * auto_now field is written only when it is listed. Where sighost differs:
 * NOT NULL is checked before writing (naming the field), and outside any
 * atomic block post_save runs inside the save's own transaction, so a
 * failing post_save receiver rolls the write back (docs/models.md).
 *
 * Atomicity (orm.h, sh__op_begin): outside any atomic block a save is a
 * transaction of its own; inside one it opens no savepoint (whose page
 * journal costs as much as the INSERT itself) and a failure after the
 * checks of the options marks the innermost block for rollback, as
 * Django's mark_for_rollback_on_error. A caller that wants to go on after
 * a failed save wraps it in a block of its own.
 *
 * The save path is the hot path: the INSERT and UPDATE of every model are
 * built once (connection.c) and prepared once per connection; a save binds
 * and steps one cached statement and allocates nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

int sh_db__apply_auto_now(sh_instance *instance, const bool *selected, bool adding)
{
	const sh_model *m = instance->model;
	char now[SH__SCRATCH], today[SH__SCRATCH];
	now[0] = today[0] = '\0';
	size_t slot = 0;   /* the auto field's room in the instance (auto_text) */
	for (size_t i = 0; i < m->field_count; i++) {
		const sh_field *f = &m->fields[i];
		if (!f->auto_now && !f->auto_now_add)
			continue;
		char *room = instance->auto_text != NULL ? instance->auto_text + SH__AUTO_TEXT * slot++
			: NULL;
		if (!(f->auto_now || adding) || (selected != NULL && !selected[i]))
			continue;
		char *text = f->type == SH_FIELD_DATE ? today : now;
		if (text[0] == '\0')
			sh_db__now_text(f->type, text);
		size_t len = strlen(text);
		if (room == NULL || len >= SH__AUTO_TEXT) {
			int rc = sh_db__instance_store_len(instance, i, sh_datum_text(text), len);
			if (rc < 0)
				return rc;
			continue;
		}
		/* Into the instance's own room: no allocation per save. A copy the
		 * caller's sh_instance_set() made goes. */
		memcpy(room, text, len + 1);
		if (instance->owned[m->field_count] && instance->owned[i]) {
			free((char *)instance->values[i].v.s);
			instance->owned[i] = 0;
		}
		instance->values[i] = sh_datum_text(room);
	}
	return 0;
}

/* With `skip_add`, auto_now_add fields are not checked: an instance being
 * added whose pk is set tries an UPDATE first, and its auto_now_add values
 * are set only if that matches no row and it is inserted (as Django). */
static int sh_db__not_null(const sh_instance *instance, const sh__model_sql *msql,
	const bool *selected, const char *what, bool skip_add)
{
	const sh_model *m = instance->model;
	for (size_t r = 0; r < msql->required_count; r++) {
		size_t i = msql->required[r];
		if (SH__LIKELY(instance->values[i].type != SH_DATUM_NULL)
			|| (selected != NULL && !selected[i]) || (skip_add && m->fields[i].auto_now_add))
			continue;
		char pk[128];
		return sh_error_set(SH_EINVAL, "%s %s: field '%s' is NULL but does not allow null",
			what, sh_db__pk_text(instance, pk, sizeof pk), m->fields[i].name);
	}
	return 0;
}

int sh_db__check_not_null(const sh_instance *instance, const bool *selected, const char *what)
{
	return sh_db__not_null(instance, sh__sql_of(instance->db, instance->model), selected, what,
		false);
}

/* Binds one value without the error handling of sh_db__conn_bind(): returns
 * SQLite's code. */
static inline int sh_db__bind_raw(sqlite3_stmt *stmt, int index, const sh_datum *v)
{
	switch (v->type) {
	case SH_DATUM_INT: return sqlite3_bind_int64(stmt, index, v->v.i);
	case SH_DATUM_REAL: return sqlite3_bind_double(stmt, index, v->v.r);
	case SH_DATUM_TEXT: return sqlite3_bind_text(stmt, index, v->v.s, -1, SQLITE_STATIC);
	case SH_DATUM_BOOL: return sqlite3_bind_int(stmt, index, v->v.b ? 1 : 0);
	default: return sqlite3_bind_null(stmt, index);
	}
}

int sh_db__bind_columns(sh_conn *db, sqlite3_stmt *stmt, const sh__model_sql *msql,
	const sh_instance *instance, bool skip_pk, int first)
{
	size_t pk = msql->model->pk;
	const size_t *columns = msql->columns;
	const sh_datum *values = instance->values;
	int index = first, failed = SQLITE_OK;
	for (size_t c = 0; c < msql->column_count; c++) {
		size_t i = columns[c];
		if (skip_pk && i == pk)
			continue;
		failed |= sh_db__bind_raw(stmt, index++, &values[i]);
	}
	if (SH__UNLIKELY(failed != SQLITE_OK)) {
		char what[256];
		snprintf(what, sizeof what, "cannot bind the values of %s", msql->model->label);
		return sh_db__conn_error(db, what);
	}
	return index;
}

/* Looks for a foreign key among `selected` (NULL: all) whose target row is
 * missing. Returns SH_EINTEGRITY naming it, 0 when none is, or an error. */
static int sh_db__find_missing_fk(sh_instance *instance, const bool *selected, const char *what)
{
	const sh_model *m = instance->model;
	for (size_t i = 0; i < m->field_count; i++) {
		const sh_field *f = &m->fields[i];
		const sh_datum *v = &instance->values[i];
		if (f->type != SH_FIELD_FOREIGN_KEY || v->type != SH_DATUM_INT
			|| (selected != NULL && !selected[i]))
			continue;
		int rc = sh_db__fk_missing(instance->db, f, v->v.i);
		if (rc < 0)
			return rc;
		if (rc == 1)
			return sh_error_set(SH_EINTEGRITY, "%s: FOREIGN KEY constraint failed: %s.%s is "
				"%lld, but no %s has that pk", what, m->label, f->name, (long long)v->v.i,
				f->target->label);
	}
	return 0;
}

int sh_db__foreign_key_error(sh_instance *instance, const char *what)
{
	int rc = sh_db__find_missing_fk(instance, NULL, what);
	if (rc < 0)
		return rc;
	return sh_error_set(SH_EINTEGRITY, "%s: FOREIGN KEY constraint failed", what);
}

int sh_db__instance_fk_check(sh_instance *instance, const bool *selected, const char *what)
{
	if (!sh_db__fk_pending(instance->db))
		return 0;
	return sh_db__find_missing_fk(instance, selected, what);
}

/* Describes the save for messages. */
static SH__COLD const char *sh_db__what(const sh_instance *instance, char *buf, size_t size)
{
	char pk[128];
	snprintf(buf, size, "saving %s", sh_db__pk_text(instance, pk, sizeof pk));
	return buf;
}

/* Turns a failed write into the error naming the field. */
static SH__COLD int sh_db__write_failed(sh_instance *instance, sqlite3_stmt *stmt)
{
	char what[192];
	sh_db__what(instance, what, sizeof what);
	if (sqlite3_extended_errcode(instance->db->sqlite) == SQLITE_CONSTRAINT_FOREIGNKEY) {
		sqlite3_reset(stmt);
		return sh_db__foreign_key_error(instance, what);
	}
	int code = sh_db__conn_error(instance->db, what);
	sqlite3_reset(stmt);
	return code;
}

/* Steps a write. */
static inline int sh_db__step_write(sh_instance *instance, sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);
	if (SH__UNLIKELY(rc != SQLITE_DONE && rc != SQLITE_ROW))
		return sh_db__write_failed(instance, stmt);
	sqlite3_reset(stmt);
	return 0;
}

/* The UPDATE of only the `selected` fields, cached per field set. */
static SH__NOINLINE int sh_db__partial_stmt(sh_conn *db, const sh__model_sql *msql, const bool *selected,
	sqlite3_stmt **out)
{
	const sh_model *m = msql->model;
	uint64_t mask = 0;
	bool small = m->field_count <= 64;
	sh__model_stmts *ms = &db->model_stmts->models[m->index];
	if (small) {
		for (size_t i = 0; i < m->field_count; i++)
			if (selected[i])
				mask |= (uint64_t)1 << i;
		for (int k = 0; k < SH__PARTIAL_MAX; k++) {
			if (ms->partial[k].stmt != NULL && ms->partial[k].mask == mask) {
				*out = ms->partial[k].stmt;
				return 0;
			}
		}
	}
	sh__buf buf = { 0 };
	sh_db__buf_add(&buf, "UPDATE ");
	sh_db__buf_ident(&buf, m->table);
	sh_db__buf_add(&buf, " SET ");
	bool first = true;
	for (size_t c = 0; c < msql->column_count; c++) {
		size_t i = msql->columns[c];
		if (!selected[i])
			continue;
		sh_db__buf_add(&buf, first ? "" : ", ");
		sh_db__buf_ident(&buf, m->fields[i].column);
		sh_db__buf_add(&buf, " = ?");
		first = false;
	}
	sh_db__buf_add(&buf, " WHERE ");
	sh_db__buf_ident(&buf, m->fields[m->pk].column);
	sh_db__buf_add(&buf, " = ?");
	char *sql = sh_db__buf_take(&buf);
	if (sql == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory saving a %s", m->label);
	int rc;
	if (small) {
		sh__partial_update *slot = &ms->partial[ms->partial_next];
		sqlite3_stmt *stmt;
		rc = sqlite3_prepare_v3(db->sqlite, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
		if (rc != SQLITE_OK) {
			char what[1024];
			snprintf(what, sizeof what, "cannot prepare SQL [%s]", sql);
			rc = sh_db__conn_error(db, what);
		} else {
			sqlite3_finalize(slot->stmt);
			slot->stmt = stmt;
			slot->mask = mask;
			ms->partial_next = (ms->partial_next + 1) % SH__PARTIAL_MAX;
			*out = stmt;
			rc = 0;
		}
	} else {
		rc = sh_db__conn_prepare(db, sql, out);
	}
	free(sql);
	return rc;
}

/* Django's _do_update: returns whether a row was updated in *updated. */
static int sh_db__do_update(sh_instance *instance, const sh__model_sql *msql, const bool *selected,
	bool *updated)
{
	sh_conn *db = instance->db;
	const sh_model *m = msql->model;
	sqlite3_stmt *stmt;
	int rc, next;
	if (selected != NULL) {
		rc = sh_db__partial_stmt(db, msql, selected, &stmt);
		if (rc < 0)
			return rc;
		next = 1;
		for (size_t c = 0; c < msql->column_count; c++) {
			size_t i = msql->columns[c];
			if (selected[i] && (rc = sh_db__conn_bind(db, stmt, next++, instance->values[i])) < 0)
				return rc;
		}
	} else if (msql->sql[SH__SQL_UPDATE] == NULL) {
		/* Nothing but a pk: "updated" means the row exists, as Django's
		 * _do_update answers with filtered.exists(). */
		if ((rc = sh_db__model_stmt(db, msql, SH__SQL_EXISTS_PK, &stmt)) < 0
			|| (rc = sh_db__conn_bind(db, stmt, 1, instance->values[m->pk])) < 0)
			return rc;
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return sh_db__conn_error(db, "checking a row exists");
		*updated = rc == SQLITE_ROW;
		return 0;
	} else {
		if ((rc = sh_db__model_stmt(db, msql, SH__SQL_UPDATE, &stmt)) < 0)
			return rc;
		next = sh_db__bind_columns(db, stmt, msql, instance, true, 1);
		if (next < 0)
			return next;
	}
	if (SH__UNLIKELY(sh_db__bind_raw(stmt, next, &instance->values[m->pk]) != SQLITE_OK))
		return sh_db__conn_bind(db, stmt, next, instance->values[m->pk]); /* says why */
	rc = sh_db__step_write(instance, stmt);
	if (rc < 0)
		return rc;
	*updated = sqlite3_changes(db->sqlite) > 0;
	return 0;
}

/* Inside a transaction SQLite checks foreign keys only at COMMIT: find a
 * dangling key now, so the save fails naming it. */
static inline int sh_db__fk_after_write(sh_instance *instance, const sh__model_sql *msql,
	const bool *selected, bool raw)
{
	/* A raw save (fixture loading) may point at a row a later object of
	 * the fixture creates: loaddata checks every key before it commits,
	 * as Django's loaddata does with constraint checks disabled. */
	if (SH__LIKELY(!msql->has_fk) || raw || sqlite3_get_autocommit(instance->db->sqlite))
		return 0;
	char what[192];
	if (!sh_db__fk_pending(instance->db))
		return 0;
	return sh_db__instance_fk_check(instance, selected, sh_db__what(instance, what, sizeof what));
}

/* Django's _save_table. Sets the auto_now fields (auto_now_add too for an
 * INSERT) right before the statement that writes them, unless raw. */
static int sh_db__save_table(sh_instance *instance, const sh__model_sql *msql, const bool *selected,
	const sh_save_opts *opts, bool *created, bool *assigned_pk)
{
	sh_conn *db = instance->db;
	const sh_model *m = msql->model;
	sh_datum *pk = &instance->values[m->pk];
	bool pk_set = pk->type != SH_DATUM_NULL;
	bool auto_now = !opts->raw && msql->has_auto_now;
	/* Django skips the UPDATE of an instance being added whose pk has a default. */
	bool force_insert = opts->force_insert
		|| (!opts->raw && instance->adding && m->fields[m->pk].has_default);
	char what[192];
	int rc;

	if (pk_set && !force_insert) {
		if (auto_now && (rc = sh_db__apply_auto_now(instance, selected, false)) < 0)
			return rc;
		if ((rc = sh_db__not_null(instance, msql, selected, "saving", instance->adding)) < 0)
			return rc;
		bool updated = false;
		if ((rc = sh_db__do_update(instance, msql, selected, &updated)) < 0)
			return rc;
		if (updated)
			return sh_db__fk_after_write(instance, msql, selected, opts->raw);
		if (opts->force_update || selected != NULL)
			return sh_error_set(SH_EDB, "%s: %s did not affect any rows",
				sh_db__what(instance, what, sizeof what),
				selected != NULL ? "save with update_fields" : "forced update");
	}
	if (!pk_set && !msql->auto_pk)
		return sh_error_set(SH_EINVAL, "%s: the primary key '%s' has no value",
			sh_db__what(instance, what, sizeof what), m->fields[m->pk].name);
	if (auto_now && (rc = sh_db__apply_auto_now(instance, NULL, true)) < 0)
		return rc;
	if ((rc = sh_db__not_null(instance, msql, NULL, "saving", false)) < 0)
		return rc;
	sqlite3_stmt *stmt;
	if ((rc = sh_db__model_stmt(db, msql, pk_set ? SH__SQL_INSERT_PK : SH__SQL_INSERT, &stmt)) < 0)
		return rc;
	int next = sh_db__bind_columns(db, stmt, msql, instance, !pk_set, 1);
	if (next < 0)
		return next;
	if ((rc = sh_db__step_write(instance, stmt)) < 0)
		return rc;
	if (!pk_set) {
		*pk = sh_datum_int(sqlite3_last_insert_rowid(db->sqlite));
		*assigned_pk = true;
	}
	*created = true;
	return sh_db__fk_after_write(instance, msql, NULL, opts->raw);
}

/* Marks the fields named in update_fields; Django's save() checks. */
static SH__NOINLINE int sh_db__select_fields(const sh_instance *instance, const sh_save_opts *opts,
	bool *selected)
{
	const sh_model *m = instance->model;
	memset(selected, 0, m->field_count * sizeof *selected);
	for (size_t i = 0; i < opts->update_fields_count; i++) {
		const char *name = opts->update_fields[i];
		const sh_field *f = name != NULL ? sh_db__model_field(m, name) : NULL;
		if (f == NULL)
			return sh_error_set(SH_EINVAL, "saving %s: update_fields names '%s', which is not "
				"a field of %s", m->label, name ? name : "(null)", m->label);
		if (f->type == SH_FIELD_MANY_TO_MANY)
			return sh_error_set(SH_EINVAL, "saving %s: update_fields names '%s', a "
				"many-to-many relation, which save does not write", m->label, name);
		if (f->index == m->pk)
			return sh_error_set(SH_EINVAL, "saving %s: update_fields names the primary key "
				"'%s', which an update cannot change", m->label, name);
		selected[f->index] = true;
	}
	return 0;
}

/* The checks of save()'s options, before anything is sent or written: a
 * failure here leaves any enclosing block as it was (Django raises these
 * before save_base). */
static SH__NOINLINE int sh_db__save_check_options(sh_instance *instance, const sh_save_opts *opts,
	bool *selected)
{
	const sh_model *m = instance->model;
	if (opts->force_insert && opts->force_update)
		return sh_error_set(SH_EINVAL, "saving %s: cannot force both insert and update", m->label);
	int rc = selected != NULL ? sh_db__select_fields(instance, opts, selected) : 0;
	if (rc < 0)
		return rc;
	bool pk_set = instance->values[m->pk].type != SH_DATUM_NULL;
	if ((selected != NULL || opts->force_update) && (!pk_set || instance->adding))
		return sh_error_set(SH_EINVAL, "saving %s: %s on an instance that was never saved",
			m->label, selected != NULL ? "update_fields" : "force_update");
	return 0;
}

static int sh_db__save(sh_instance *instance, const sh_save_opts *opts);

/* Django's save() of an instance with deferred fields: "automatically do
 * an update_fields save on the loaded fields" (their attnames). With none
 * loaded but the pk, the deferred ones are loaded first and all are saved. */
static SH__COLD int sh_db__save_deferred(sh_instance *instance, const sh_save_opts *opts)
{
	const char **names;
	size_t count;
	int rc = sh_db__deferred_update_fields(instance, &names, &count);
	if (rc < 0)
		return rc;
	sh_save_opts o = *opts;
	if (count > 0) {
		o.update_fields = names;
		o.update_fields_count = count;
	} else {
		const sh_model *m = instance->model;
		for (size_t i = 0; rc == 0 && i < m->field_count; i++)
			if (instance->extra->deferred[i])
				rc = sh_db__load_deferred(instance, i);
	}
	if (rc == 0)
		rc = sh_db__save(instance, &o);
	free(names);
	return rc;
}

int sh_instance_save(sh_instance *instance, const sh_save_opts *opts)
{
	static const sh_save_opts defaults = SH_SAVE_OPTS_INIT;
	if (SH__UNLIKELY(instance == NULL))
		return sh_error_set(SH_EINVAL, "sh_instance_save: NULL instance");
	if (opts == NULL)
		opts = &defaults;
	else if (opts->version != SH_SAVE_OPTS_VERSION)
		return sh_error_set(SH_EINVAL, "sh_instance_save: unknown options version %u", opts->version);
	if (SH__UNLIKELY(instance->extra != NULL) && !opts->force_insert
		&& opts->update_fields == NULL && instance->db != NULL && sh_db__has_deferred(instance))
		return sh_db__save_deferred(instance, opts);
	return sh_db__save(instance, opts);
}

static int sh_db__save(sh_instance *instance, const sh_save_opts *opts)
{
	int rc = sh__attached(instance, "save");
	if (SH__UNLIKELY(rc < 0))
		return rc;
	const sh_model *m = instance->model;
	sh_conn *db = instance->db;
	const sh__model_sql *msql = sh__sql_of(db, m);

	bool partial = opts->update_fields != NULL;
	if (partial && opts->update_fields_count == 0)
		return 0;   /* Django: an empty update_fields saves nothing and sends nothing */
	bool small[64], *selected = NULL;
	if (partial) {
		selected = m->field_count <= 64 ? small : malloc(m->field_count * sizeof *selected);
		if (selected == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory saving a %s", m->label);
	}
	if ((partial || opts->force_insert || opts->force_update)
		&& (rc = sh_db__save_check_options(instance, opts, selected)) < 0)
		goto out;

	sh_name_set names = { opts->update_fields, opts->update_fields_count };
	const sh_name_set *update_fields = partial ? &names : NULL;
	bool was_adding = instance->adding, created = false, assigned_pk = false, own;
	if ((rc = sh__op_begin(db, &own)) < 0)
		goto out;
	/* Django's save_base sends no save signal for an automatically
	 * created join model ("if not meta.auto_created"), as on delete. */
	bool signals = !m->auto_created;
	sh_pre_save_args pre = { instance, opts->raw, SH_DB_DEFAULT_ALIAS, update_fields };
	rc = signals ? sh_signal_send(sh__signal(db, SH_PRE_SAVE), m->sender, &pre, NULL) : 0;
	if (rc == 0)
		rc = sh_db__save_table(instance, msql, selected, opts, &created, &assigned_pk);
	if (rc == 0) {
		instance->adding = false;
		sh_post_save_args post = { instance, created, opts->raw, SH_DB_DEFAULT_ALIAS, update_fields };
		if (signals)
			rc = sh_signal_send(sh__signal(db, SH_POST_SAVE), m->sender, &post, NULL);
	}
	if (own || rc < 0)
		rc = sh_db__op_end(db, own, rc, "saving", m->label);
	if (SH__UNLIKELY(rc < 0)) {
		/* The write is (or, with the enclosing block, will be) rolled back:
		 * the instance is as unsaved as the database says. */
		if (assigned_pk)
			instance->values[m->pk] = sh_datum_null();
		instance->adding = was_adding;
	}
out:
	if (selected != small)
		free(selected);
	return rc;
}
