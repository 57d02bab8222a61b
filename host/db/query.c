/*
 * query.c: querysets (query.h): filters, exclude, ordering, slices, count,
 * iteration with the loading signals, select_related, prefetch_related,
 * only/defer, get by pk, update without signals, and delete through the
 * collector (delete.c).
 *
 * A query keeps its conditions as (field, lookup, converted value); the
 * SQL is written when the query runs, from the registry's quoted names and
 * "?" placeholders only. Iteration takes a statement the query holds
 * until it ends (sh_db__conn_stmt_take), because receivers of pre_init/post_init
 * run between rows and may run queries of their own; the statement goes
 * back to the connection's spares afterwards, so the next query of the
 * same shape is not parsed again. Everything else uses the connection's
 * caches.
 *
 * The foreign-key checks and the statements over lists of keys are in
 * keys.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

typedef enum sh__op { SH__OP_EXACT, SH__OP_LT, SH__OP_LTE, SH__OP_GT, SH__OP_GTE, SH__OP_ISNULL } sh__op;

static const struct {
	const char *suffix;
	sh__op op;
	const char *sql;
} sh__lookups[] = {
	{ "exact", SH__OP_EXACT, " = ?" },
	{ "lt", SH__OP_LT, " < ?" },
	{ "lte", SH__OP_LTE, " <= ?" },
	{ "gt", SH__OP_GT, " > ?" },
	{ "gte", SH__OP_GTE, " >= ?" },
	{ "isnull", SH__OP_ISNULL, NULL },
};

typedef struct sh__cond {
	const sh_field *field;
	sh__op op;
	bool negate;          /* exclude() */
	sh_datum value;       /* converted; its text is `text` */
	char *text;
} sh__cond;

typedef struct sh__order {
	const sh_field *field;
	bool desc;
} sh__order;

struct sh_query {
	sh_conn *db;
	const sh_model *model;
	const sh__model_sql *msql;
	sh__cond *conds;
	size_t cond_count, cond_capacity;
	sh__order *order;
	size_t order_count, order_capacity;
	int64_t low, high;    /* Django's low_mark and high_mark; high -1: none */
	sqlite3_stmt *iter;   /* taken at the first sh_query_next(), given back at the end */
	bool started, finished;
	bool *deferred;       /* only() / defer(): per field, NULL when none is deferred */
	const sh_field **joins; /* select_related keys, followed by LEFT JOINs */
	size_t join_count;
	char **prefetch;      /* prefetch_related names (copies) */
	size_t prefetch_count;
	sh_instance **rows;   /* with prefetches: every row, read at the first next() */
	size_t row_count, row_next;
};

int sh_query_new(sh_query **out, sh_conn *db, const sh_model *model)
{
	if (out == NULL || db == NULL || model == NULL)
		return sh_error_set(SH_EINVAL, "sh_query_new: NULL argument");
	*out = NULL;
	const sh__model_sql *msql = sh__sql_of(db, model);
	if (msql == NULL)
		return sh_db__foreign_model(db, model);
	sh_query *q = calloc(1, sizeof *q);
	if (q == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory creating a query of %s", model->label);
	q->db = db;
	q->model = model;
	q->msql = msql;
	q->high = -1;
	*out = q;
	return 0;
}

void sh_query_free(sh_query *query)
{
	if (query == NULL)
		return;
	sh_db__conn_stmt_give(query->db, query->iter);
	for (size_t i = query->row_next; i < query->row_count; i++)
		sh_instance_free(query->rows[i]);
	free(query->rows);
	for (size_t i = 0; i < query->prefetch_count; i++)
		free(query->prefetch[i]);
	free(query->prefetch);
	free(query->joins);
	free(query->deferred);
	for (size_t i = 0; i < query->cond_count; i++)
		free(query->conds[i].text);
	free(query->conds);
	free(query->order);
	free(query);
}

static int sh_db__query_frozen(const sh_query *query, const char *what)
{
	if (query->started)
		return sh_error_set(SH_EINVAL, "cannot %s a query of %s once its rows are being read",
			what, query->model->label);
	if (query->low != 0 || query->high != -1)
		return sh_error_set(SH_EINVAL, "cannot %s a query of %s once a slice has been taken",
			what, query->model->label);
	return 0;
}

/* Finds the field of a lookup's name part: a field, a key's column, or "pk". */
static const sh_field *sh_db__lookup_field(const sh_model *model, const char *name, size_t len)
{
	char buf[256];
	if (len >= sizeof buf)
		return NULL;
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (strcmp(buf, "pk") == 0)
		return &model->fields[model->pk];
	return sh_db__model_field(model, buf);
}

static int sh_db__add_cond(sh_query *query, const char *lookup, sh_datum value, bool negate)
{
	if (query == NULL || lookup == NULL)
		return sh_error_set(SH_EINVAL, "sh_query_filter: NULL argument");
	const char *verb = negate ? "exclude" : "filter";
	int rc = sh_db__query_frozen(query, verb);
	if (rc < 0)
		return rc;
	const sh_model *m = query->model;
	/* "field" or "field__lookup" */
	size_t name_len = strlen(lookup);
	sh__op op = SH__OP_EXACT;
	const sh_field *field = NULL;
	const char *sep = strstr(lookup, "__");
	if (sep != NULL) {
		const char *last = sep;
		while ((sep = strstr(last + 2, "__")) != NULL)
			last = sep;
		const char *suffix = last + 2;
		size_t i;
		for (i = 0; i < sizeof sh__lookups / sizeof *sh__lookups; i++)
			if (strcmp(suffix, sh__lookups[i].suffix) == 0)
				break;
		if (i == sizeof sh__lookups / sizeof *sh__lookups) {
			field = sh_db__lookup_field(m, lookup, name_len);
			if (field == NULL)
				return sh_error_set(SH_EINVAL, "%s(%s) on %s: unsupported lookup '%s' (use "
					"exact, lt, lte, gt, gte or isnull)", verb, lookup, m->label, suffix);
		} else {
			op = sh__lookups[i].op;
			name_len = (size_t)(last - lookup);
		}
	}
	if (field == NULL)
		field = sh_db__lookup_field(m, lookup, name_len);
	if (field == NULL)
		return sh_error_set(SH_EINVAL, "%s(%s): %s has no field '%.*s'", verb, lookup, m->label,
			(int)name_len, lookup);
	if (field->type == SH_FIELD_MANY_TO_MANY)
		return sh_error_set(SH_EINVAL, "%s(%s): %s.%s is a many-to-many relation, which "
			"queries cannot filter on", verb, lookup, m->label, field->name);

	sh__cond cond = { field, op, negate, sh_datum_null(), NULL };
	char scratch[SH__SCRATCH];
	if (op == SH__OP_ISNULL) {
		if (value.type == SH_DATUM_BOOL)
			cond.value = value;
		else if (value.type == SH_DATUM_INT && (value.v.i == 0 || value.v.i == 1))
			cond.value = sh_datum_bool(value.v.i == 1);
		else
			return sh_error_set(SH_EINVAL, "%s(%s) on %s: isnull takes a boolean", verb,
				lookup, m->label);
	} else if (value.type == SH_DATUM_NULL || (value.type == SH_DATUM_TEXT && value.v.s == NULL)) {
		if (op != SH__OP_EXACT)
			return sh_error_set(SH_EINVAL, "%s(%s) on %s: NULL can only be compared with "
				"exact (or isnull)", verb, lookup, m->label);
	} else if (field->type == SH_FIELD_TEXT) {
		/* A lookup value may be longer than max_length: it matches nothing. */
		if (value.type != SH_DATUM_TEXT)
			return sh_error_set(SH_EINVAL, "%s(%s): %s.%s compares with text, not a value of "
				"another type", verb, lookup, m->label, field->name);
		cond.value = value;
	} else if ((rc = sh_db__convert(field, value, &cond.value, scratch)) < 0) {
		char reason[512];
		snprintf(reason, sizeof reason, "%s", sh_error_last()->message);
		return sh_error_set(rc, "%s(%s): %s", verb, lookup, reason);
	}
	if (cond.value.type == SH_DATUM_TEXT) {
		cond.text = strdup(cond.value.v.s);
		if (cond.text == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory adding a filter");
		cond.value.v.s = cond.text;
	}
	if (query->cond_count == query->cond_capacity) {
		size_t cap = query->cond_capacity ? 2 * query->cond_capacity : 4;
		sh__cond *grown = realloc(query->conds, cap * sizeof *grown);
		if (grown == NULL) {
			free(cond.text);
			return sh_error_set(SH_ENOMEM, "out of memory adding a filter");
		}
		query->conds = grown;
		query->cond_capacity = cap;
	}
	query->conds[query->cond_count++] = cond;
	return 0;
}

int sh_query_filter(sh_query *query, const char *lookup, sh_datum value)
{
	return sh_db__add_cond(query, lookup, value, false);
}

int sh_query_exclude(sh_query *query, const char *lookup, sh_datum value)
{
	return sh_db__add_cond(query, lookup, value, true);
}

int sh_query_order_by(sh_query *query, const char *field)
{
	if (query == NULL || field == NULL)
		return sh_error_set(SH_EINVAL, "sh_query_order_by: NULL argument");
	int rc = sh_db__query_frozen(query, "reorder");
	if (rc < 0)
		return rc;
	bool desc = field[0] == '-';
	const char *name = desc ? field + 1 : field;
	const sh_field *f = sh_db__lookup_field(query->model, name, strlen(name));
	if (f == NULL || f->type == SH_FIELD_MANY_TO_MANY)
		return sh_error_set(SH_EINVAL, "order_by('%s'): %s has no field '%s' to order by",
			field, query->model->label, name);
	if (query->order_count >= SH_QUERY_MAX_ORDER)
		return sh_error_set(SH_EINVAL, "order_by('%s'): %s is ordered by %d keys already, the "
			"most a query may have (SH_QUERY_MAX_ORDER)", field, query->model->label,
			SH_QUERY_MAX_ORDER);
	if (query->order_count == query->order_capacity) {
		size_t cap = query->order_capacity ? 2 * query->order_capacity : 4;
		sh__order *grown = realloc(query->order, cap * sizeof *grown);
		if (grown == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory adding an ordering");
		query->order = grown;
		query->order_capacity = cap;
	}
	query->order[query->order_count++] = (sh__order){ f, desc };
	return 0;
}

int sh_query_slice(sh_query *query, int64_t offset, int64_t limit)
{
	if (query == NULL)
		return sh_error_set(SH_EINVAL, "sh_query_slice: NULL query");
	if (query->started)
		return sh_error_set(SH_EINVAL, "cannot slice a query of %s once its rows are being read",
			query->model->label);
	if (offset < 0)
		return sh_error_set(SH_EINVAL, "slice of %s: negative offset %lld", query->model->label,
			(long long)offset);
	/* Django's Query.set_limits: a slice of a slice stays inside it. The
	 * bounds saturate at INT64_MAX (rows past it cannot exist), so no
	 * offset or limit a client sends can overflow them. */
	int64_t low;
	if (__builtin_add_overflow(query->low, offset, &low))
		low = INT64_MAX;
	if (limit >= 0) {
		int64_t high;
		if (__builtin_add_overflow(low, limit, &high))
			high = INT64_MAX;
		query->high = query->high >= 0 && query->high < high ? query->high : high;
	}
	query->low = query->high >= 0 && query->high < low ? query->high : low;
	return 0;
}

/* ---- SQL ---- */

static bool sh_db__sliced(const sh_query *query)
{
	return query->low != 0 || query->high != -1;
}

/* A column of the query's model, qualified when the query joins others. */
static void sh_db__add_column(sh__buf *buf, const sh_query *query, const sh_field *f)
{
	if (query->join_count > 0) {
		sh_db__buf_ident(buf, query->model->table);
		sh_db__buf_add(buf, ".");
	}
	sh_db__buf_ident(buf, f->column);
}

void sh_db__buf_columns(sh__buf *buf, const sh__model_sql *msql, const bool *deferred,
	const char *alias)
{
	bool first = true;
	for (size_t c = 0; c < msql->column_count; c++) {
		const sh_field *f = &msql->model->fields[msql->columns[c]];
		if (deferred != NULL && deferred[f->index])
			continue;
		sh_db__buf_add(buf, first ? "" : ", ");
		if (alias != NULL) {
			sh_db__buf_ident(buf, alias);
			sh_db__buf_add(buf, ".");
		}
		sh_db__buf_ident(buf, f->column);
		first = false;
	}
}

/* "SELECT <columns> FROM <table>" with the deferred columns left out and
 * the select_related targets joined (aliases "T1", "T2", ...). */
static char *sh_db__select_head(const sh_query *query)
{
	if (query->join_count == 0 && query->deferred == NULL)
		return strdup(query->msql->select);
	const sh_model *m = query->model;
	sh__buf buf = { 0 };
	sh_db__buf_add(&buf, "SELECT ");
	sh_db__buf_columns(&buf, query->msql, query->deferred, query->join_count ? m->table : NULL);
	char alias[32];
	for (size_t j = 0; j < query->join_count; j++) {
		snprintf(alias, sizeof alias, "T%zu", j + 1);
		sh_db__buf_add(&buf, ", ");
		sh_db__buf_columns(&buf, sh__sql_of(query->db, query->joins[j]->target), NULL, alias);
	}
	sh_db__buf_add(&buf, " FROM ");
	sh_db__buf_ident(&buf, m->table);
	for (size_t j = 0; j < query->join_count; j++) {
		const sh_field *key = query->joins[j];
		const sh_model *t = key->target;
		snprintf(alias, sizeof alias, "T%zu", j + 1);
		sh_db__buf_add(&buf, " LEFT OUTER JOIN ");
		sh_db__buf_ident(&buf, t->table);
		sh_db__buf_add(&buf, " AS ");
		sh_db__buf_ident(&buf, alias);
		sh_db__buf_add(&buf, " ON ");
		sh_db__buf_ident(&buf, alias);
		sh_db__buf_add(&buf, ".");
		sh_db__buf_ident(&buf, t->fields[t->pk].column);
		sh_db__buf_add(&buf, " = ");
		sh_db__buf_ident(&buf, m->table);
		sh_db__buf_add(&buf, ".");
		sh_db__buf_ident(&buf, key->column);
	}
	return sh_db__buf_take(&buf);
}

static void sh_db__add_where(sh__buf *buf, const sh_query *query)
{
	for (size_t i = 0; i < query->cond_count; i++) {
		const sh__cond *c = &query->conds[i];
		sh_db__buf_add(buf, i == 0 ? " WHERE " : " AND ");
		if (c->negate)
			sh_db__buf_add(buf, "(");
		sh_db__add_column(buf, query, c->field);
		if (c->op == SH__OP_ISNULL)
			sh_db__buf_add(buf, c->value.v.b ? " IS NULL" : " IS NOT NULL");
		else if (c->value.type == SH_DATUM_NULL)
			sh_db__buf_add(buf, " IS NULL");
		else
			sh_db__buf_add(buf, sh__lookups[c->op].sql);
		if (c->op != SH__OP_ISNULL && c->op != SH__OP_EXACT && c->field->type == SH_FIELD_DATETIME)
			sh_db__buf_add(buf, " COLLATE " SH__DATETIME_COLLATION);
		/* exclude(): NOT, with rows whose column is NULL kept, as Django's */
		if (c->negate)
			sh_db__buf_add(buf, ") IS NOT 1");
	}
}

static void sh_db__add_order(sh__buf *buf, const sh_query *query)
{
	const sh_model *m = query->model;
	bool pk_seen = false;
	sh_db__buf_add(buf, " ORDER BY ");
	for (size_t i = 0; i < query->order_count; i++) {
		const sh__order *o = &query->order[i];
		sh_db__add_column(buf, query, o->field);
		if (o->field->type == SH_FIELD_DATETIME)
			sh_db__buf_add(buf, " COLLATE " SH__DATETIME_COLLATION);
		sh_db__buf_add(buf, o->desc ? " DESC, " : ", ");
		pk_seen = pk_seen || o->field->index == m->pk;
	}
	if (pk_seen) {
		buf->len -= 2;   /* the last ", " */
		if (!buf->failed)
			buf->data[buf->len] = '\0';
	} else {
		/* the pk last: equal keys come in a stable order, so slices of
		 * an ordered query do not overlap */
		sh_db__add_column(buf, query, &m->fields[m->pk]);
	}
}

/* Writes head + WHERE (+ ORDER BY) (+ LIMIT). */
static char *sh_db__query_sql(const sh_query *query, const char *head, bool order, bool limit)
{
	sh__buf buf = { 0 };
	sh_db__buf_add(&buf, head);
	sh_db__add_where(&buf, query);
	if (order)
		sh_db__add_order(&buf, query);
	if (limit && sh_db__sliced(query))
		sh_db__buf_add(&buf, " LIMIT ? OFFSET ?");
	return sh_db__buf_take(&buf);
}

/* Binds the conditions' values (then the slice when `limit`) from 1. */
static int sh_db__query_bind(const sh_query *query, sqlite3_stmt *stmt, bool limit)
{
	int index = 1;
	for (size_t i = 0; i < query->cond_count; i++) {
		const sh__cond *c = &query->conds[i];
		if (c->op == SH__OP_ISNULL || c->value.type == SH_DATUM_NULL)
			continue;
		int rc = sh_db__conn_bind(query->db, stmt, index++, c->value);
		if (rc < 0)
			return rc;
	}
	if (limit && sh_db__sliced(query)) {
		sqlite3_bind_int64(stmt, index++, query->high >= 0 ? query->high - query->low : -1);
		sqlite3_bind_int64(stmt, index++, query->low);
	}
	return index;
}

/* ---- reading ---- */

int sh_query_count(sh_query *query, int64_t *out)
{
	if (query == NULL || out == NULL)
		return sh_error_set(SH_EINVAL, "sh_query_count: NULL argument");
	char *sql;
	if (sh_db__sliced(query)) {
		sh__buf head = { 0 };
		sh_db__buf_add(&head, "SELECT 1 FROM ");
		sh_db__buf_ident(&head, query->model->table);
		char *h = sh_db__buf_take(&head);
		char *inner = h ? sh_db__query_sql(query, h, true, true) : NULL;
		free(h);
		sh__buf buf = { 0 };
		if (inner != NULL)
			sh_db__buf_addf(&buf, "SELECT COUNT(*) FROM (%s)", inner);
		free(inner);
		sql = inner != NULL ? sh_db__buf_take(&buf) : NULL;
	} else {
		sh__buf head = { 0 };
		sh_db__buf_add(&head, "SELECT COUNT(*) FROM ");
		sh_db__buf_ident(&head, query->model->table);
		char *h = sh_db__buf_take(&head);
		sql = h ? sh_db__query_sql(query, h, false, false) : NULL;
		free(h);
	}
	if (sql == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory counting %s", query->model->label);
	sqlite3_stmt *stmt;
	int rc = sh_db__conn_prepare(query->db, sql, &stmt);
	free(sql);
	if (rc < 0)
		return rc;
	if ((rc = sh_db__query_bind(query, stmt, true)) < 0)
		return rc;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		rc = sh_db__conn_error(query->db, "counting rows");
		sqlite3_reset(stmt);
		return rc;
	}
	*out = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	return 0;
}

/* Builds the instances of the current row (the model's, then each
 * select_related target's) and sends their loading signals in Django's
 * order: the row's instance, then each target. */
static inline int sh_db__query_row(sh_query *query, sh_instance **out)
{
	sh_instance *inst;
	int rc;
	if (SH__LIKELY(query->join_count == 0 && query->deferred == NULL)) {
		/* the plain path: one row, one instance */
		if ((rc = sh_db__instance_from_row(&inst, query->db, query->msql, query->iter)) < 0)
			return rc;
		if ((rc = sh_db__instance_loaded(inst)) < 0) {
			sh_instance_free(inst);
			return rc;
		}
		*out = inst;
		return 1;
	}
	rc = sh_db__instance_from_row_at(&inst, query->db, query->msql, query->iter, 0,
		query->deferred);
	if (rc < 0)
		return rc;
	sh_instance *small[4], **related = small;
	if (query->join_count > 4 && (related = calloc(query->join_count, sizeof *related)) == NULL) {
		sh_instance_free(inst);
		return sh_error_set(SH_ENOMEM, "out of memory loading %s", query->model->label);
	}
	int at = 0;
	for (size_t c = 0; c < query->msql->column_count; c++)
		at += query->deferred == NULL || !query->deferred[query->msql->columns[c]];
	for (size_t j = 0; j < query->join_count; j++) {
		const sh_field *key = query->joins[j];
		const sh__model_sql *tsql = sh__sql_of(query->db, key->target);
		related[j] = NULL;
		if (rc == 0 && inst->values[key->index].type == SH_DATUM_INT)
			rc = sh_db__instance_from_row_at(&related[j], query->db, tsql, query->iter, at, NULL);
		at += (int)tsql->column_count;
	}
	if (rc == 0)
		rc = sh_db__instance_loaded(inst);
	for (size_t j = 0; j < query->join_count; j++) {
		if (rc == 0 && related[j] != NULL)
			rc = sh_db__instance_loaded(related[j]);
		if (rc == 0)
			rc = sh_db__relcache_put(inst, query->joins[j]->name, &related[j],
				related[j] != NULL, true);
		sh_instance_free(related[j]);   /* the cache holds its reference */
	}
	if (related != small)
		free(related);
	if (rc < 0) {
		sh_instance_free(inst);
		return rc;
	}
	*out = inst;
	return 1;
}

static int sh_db__query_step(sh_query *query, sh_instance **out)
{
	*out = NULL;
	if (!query->started) {
		char *head = sh_db__select_head(query);
		char *sql = head != NULL ? sh_db__query_sql(query, head, true, true) : NULL;
		free(head);
		if (sql == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory querying %s", query->model->label);
		int rc = sh_db__conn_stmt_take(query->db, sql, &query->iter);
		free(sql);
		if (rc < 0)
			return rc;
		if ((rc = sh_db__query_bind(query, query->iter, true)) < 0)
			return rc;
		query->started = true;
	}
	if (query->finished)
		return 0;
	int rc = sqlite3_step(query->iter);
	if (rc != SQLITE_ROW) {
		query->finished = true;
		int code = rc == SQLITE_DONE ? 0 : sh_db__conn_error(query->db, "reading rows");
		sh_db__conn_stmt_give(query->db, query->iter);
		query->iter = NULL;
		return code;
	}
	return sh_db__query_row(query, out);
}

/* With prefetch_related: reads every row, then runs one query per relation
 * (Django's _fetch_all, then _prefetch_related_objects). */
static int sh_db__query_fetch_all(sh_query *query)
{
	size_t capacity = 0;
	int rc;
	for (;;) {
		sh_instance *inst;
		if ((rc = sh_db__query_step(query, &inst)) <= 0)
			break;
		if (query->row_count == capacity) {
			size_t cap = capacity ? 2 * capacity : 16;
			sh_instance **grown = realloc(query->rows, cap * sizeof *grown);
			if (grown == NULL) {
				sh_instance_free(inst);
				rc = sh_error_set(SH_ENOMEM, "out of memory loading %s", query->model->label);
				break;
			}
			query->rows = grown;
			capacity = cap;
		}
		query->rows[query->row_count++] = inst;
	}
	for (size_t i = 0; rc == 0 && i < query->prefetch_count; i++)
		rc = sh_db__prefetch(query->db, query->model, query->rows, query->row_count,
			query->prefetch[i]);
	return rc;
}

int sh_query_next(sh_query *query, sh_instance **out)
{
	if (query == NULL || out == NULL)
		return sh_error_set(SH_EINVAL, "sh_query_next: NULL argument");
	*out = NULL;
	if (SH__LIKELY(query->prefetch_count == 0))
		return sh_db__query_step(query, out);
	if (!query->started) {
		int rc = sh_db__query_fetch_all(query);
		if (rc < 0) {
			query->finished = true;
			return rc;
		}
	}
	if (query->row_next == query->row_count)
		return 0;
	*out = query->rows[query->row_next++];
	return 1;
}

/* ---- select_related, prefetch_related, only, defer ---- */

static int sh_db__query_open(const sh_query *query, const char *what)
{
	if (query == NULL)
		return sh_error_set(SH_EINVAL, "%s: NULL query", what);
	if (query->started)
		return sh_error_set(SH_EINVAL, "cannot %s a query of %s once its rows are being read",
			what, query->model->label);
	return 0;
}

int sh_query_select_related(sh_query *query, const char *field)
{
	int rc = sh_db__query_open(query, "select_related");
	if (rc < 0)
		return rc;
	const sh_field *f = field != NULL ? sh_db__model_field(query->model, field) : NULL;
	if (f == NULL || f->type != SH_FIELD_FOREIGN_KEY)
		return sh_error_set(SH_EINVAL, "select_related('%s'): %s has no foreign key '%s' "
			"(select_related follows keys; use prefetch_related for the other relations)",
			field ? field : "(null)", query->model->label, field ? field : "(null)");
	for (size_t j = 0; j < query->join_count; j++)
		if (query->joins[j] == f)
			return 0;
	const sh_field **grown = realloc(query->joins, (query->join_count + 1) * sizeof *grown);
	if (grown == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory in select_related");
	grown[query->join_count++] = f;
	query->joins = grown;
	return 0;
}

int sh_query_prefetch_related(sh_query *query, const char *name)
{
	int rc = sh_db__query_open(query, "prefetch_related");
	if (rc < 0)
		return rc;
	if (name == NULL)
		return sh_error_set(SH_EINVAL, "prefetch_related: NULL name");
	if ((rc = sh_db__relation_known(query->db, query->model, name)) < 0)
		return rc;
	char *copy = strdup(name);
	char **grown = copy != NULL ? realloc(query->prefetch,
		(query->prefetch_count + 1) * sizeof *grown) : NULL;
	if (grown == NULL) {
		free(copy);
		return sh_error_set(SH_ENOMEM, "out of memory in prefetch_related");
	}
	grown[query->prefetch_count++] = copy;
	query->prefetch = grown;
	return 0;
}

/* only() (keep true: load only these) and defer() (keep false). */
static int sh_db__query_fields(sh_query *query, const char *const *fields, size_t count, bool keep)
{
	const char *what = keep ? "only" : "defer";
	int rc = sh_db__query_open(query, what);
	if (rc < 0)
		return rc;
	if (fields == NULL && count > 0)
		return sh_error_set(SH_EINVAL, "%s: NULL fields", what);
	const sh_model *m = query->model;
	bool *deferred = malloc(m->field_count * sizeof *deferred);
	if (deferred == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory in %s", what);
	for (size_t i = 0; i < m->field_count; i++)
		deferred[i] = keep && m->fields[i].type != SH_FIELD_MANY_TO_MANY;
	for (size_t i = 0; i < count; i++) {
		const sh_field *f = fields[i] != NULL ? sh_db__model_field(m, fields[i]) : NULL;
		if (f == NULL || f->type == SH_FIELD_MANY_TO_MANY) {
			free(deferred);
			return sh_error_set(SH_EINVAL, "%s('%s'): %s has no field '%s' with a column",
				what, fields[i] ? fields[i] : "(null)", m->label,
				fields[i] ? fields[i] : "(null)");
		}
		deferred[f->index] = !keep;
	}
	deferred[m->pk] = false;   /* the primary key is always loaded */
	bool any = false;
	for (size_t i = 0; i < m->field_count; i++)
		any = any || deferred[i];
	free(query->deferred);
	query->deferred = any ? deferred : NULL;
	if (!any)
		free(deferred);
	return 0;
}

int sh_query_only(sh_query *query, const char *const *fields, size_t count)
{
	return sh_db__query_fields(query, fields, count, true);
}

int sh_query_defer(sh_query *query, const char *const *fields, size_t count)
{
	return sh_db__query_fields(query, fields, count, false);
}

int sh_query_get(sh_instance **out, sh_conn *db, const sh_model *model, int64_t pk)
{
	if (out == NULL || db == NULL || model == NULL)
		return sh_error_set(SH_EINVAL, "sh_query_get: NULL argument");
	*out = NULL;
	const sh__model_sql *msql = sh__sql_of(db, model);
	if (msql == NULL)
		return sh_db__foreign_model(db, model);
	sqlite3_stmt *stmt;
	int rc = sh_db__model_stmt(db, msql, SH__SQL_SELECT_PK, &stmt);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, pk);
	rc = sqlite3_step(stmt);
	sh_instance *inst = NULL;
	if (rc == SQLITE_ROW)
		rc = sh_db__instance_from_row(&inst, db, msql, stmt);
	else if (rc == SQLITE_DONE)
		rc = sh_error_set(SH_ENOTFOUND, "%s matching pk=%lld does not exist", model->label,
			(long long)pk);
	else
		rc = sh_db__conn_error(db, "loading a row");
	sqlite3_reset(stmt);
	if (rc < 0)
		return rc;
	/* The statement is reset before receivers run: they may get rows too. */
	if ((rc = sh_db__instance_loaded(inst)) < 0) {
		sh_instance_free(inst);
		return rc;
	}
	*out = inst;
	return 0;
}

/* ---- writing ---- */

int sh_query_update(sh_query *query, const sh_field_value *values, size_t n, int64_t *count)
{
	if (query == NULL || (values == NULL && n > 0))
		return sh_error_set(SH_EINVAL, "sh_query_update: NULL argument");
	const sh_model *m = query->model;
	if (sh_db__sliced(query))
		return sh_error_set(SH_EINVAL, "cannot update a query of %s once a slice has been taken",
			m->label);
	if (count != NULL)
		*count = 0;
	if (n == 0)
		return 0;   /* Django: an update of no field changes no row */
	const sh_field **fields = calloc(n, sizeof *fields);
	sh_datum *converted = calloc(n, sizeof *converted);
	char (*scratch)[SH__SCRATCH] = calloc(n, sizeof *scratch);
	int rc = 0;
	if (fields == NULL || converted == NULL || scratch == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory updating %s", m->label);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const sh_field *f = values[i].name ? sh_db__model_field(m, values[i].name) : NULL;
		if (f == NULL)
			rc = sh_error_set(SH_EINVAL, "update of %s: it has no field '%s'", m->label,
				values[i].name ? values[i].name : "(null)");
		else if (f->type == SH_FIELD_MANY_TO_MANY)
			rc = sh_error_set(SH_EINVAL, "update of %s: '%s' is a many-to-many relation, which "
				"update cannot set", m->label, f->name);
		else if ((rc = sh_db__convert(f, values[i].value, &converted[i], scratch[i])) == 0
				&& converted[i].type == SH_DATUM_NULL && !f->null && !f->primary_key)
			rc = sh_error_set(SH_EINVAL, "update of %s: field '%s' does not allow null",
				m->label, f->name);
		fields[i] = f;   /* converted text may live in scratch[i], kept to the end */
	}
	char *sql = NULL;
	if (rc == 0) {
		sh__buf head = { 0 };
		sh_db__buf_add(&head, "UPDATE ");
		sh_db__buf_ident(&head, m->table);
		sh_db__buf_add(&head, " SET ");
		for (size_t i = 0; i < n; i++) {
			sh_db__buf_add(&head, i ? ", " : "");
			sh_db__buf_ident(&head, fields[i]->column);
			sh_db__buf_add(&head, " = ?");
		}
		char *h = sh_db__buf_take(&head);
		sql = h ? sh_db__query_sql(query, h, false, false) : NULL;
		free(h);
		if (sql == NULL)
			rc = sh_error_set(SH_ENOMEM, "out of memory updating %s", m->label);
	}
	bool own;
	if (rc == 0 && (rc = sh__op_begin(query->db, &own)) == 0) {
		sqlite3_stmt *stmt;
		rc = sh_db__conn_prepare(query->db, sql, &stmt);
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = sh_db__conn_bind(query->db, stmt, (int)i + 1, converted[i]);
		if (rc == 0) {
			/* conditions follow the SET values */
			int index = (int)n + 1;
			for (size_t i = 0; rc == 0 && i < query->cond_count; i++) {
				const sh__cond *c = &query->conds[i];
				if (c->op != SH__OP_ISNULL && c->value.type != SH_DATUM_NULL)
					rc = sh_db__conn_bind(query->db, stmt, index++, c->value);
			}
		}
		char what[160];
		snprintf(what, sizeof what, "updating %s", m->label);
		if (rc == 0)
			rc = sh_db__conn_exec(query->db, stmt, what);
		if (rc == 0 && count != NULL)
			*count = sqlite3_changes64(query->db->sqlite);
		if (rc == 0)
			rc = sh_db__deferred_fk_check(query->db, fields, converted, n, what);
		rc = sh_db__op_end(query->db, own, rc, "updating", m->label);
		if (rc < 0 && count != NULL)
			*count = 0;
	}
	free(sql);
	free(fields);
	free(converted);
	free(scratch);
	return rc;
}

int sh_query_delete(sh_query *query, int64_t *count)
{
	if (query == NULL)
		return sh_error_set(SH_EINVAL, "sh_query_delete: NULL query");
	if (count != NULL)
		*count = 0;
	if (sh_db__sliced(query))
		return sh_error_set(SH_EINVAL, "cannot delete a sliced query of %s (Django: cannot use "
			"'limit' or 'offset' with delete())", query->model->label);
	if (query->started)
		return sh_error_set(SH_EINVAL, "cannot delete a query of %s whose rows are being read",
			query->model->label);
	return sh_db__collector_delete(query->db, query->model, NULL, 0, query, NULL, count);
}

int sh_db__query_raw_delete(sh_query *query, int64_t *changes)
{
	sh__buf head = { 0 };
	sh_db__buf_add(&head, "DELETE FROM ");
	sh_db__buf_ident(&head, query->model->table);
	char *h = sh_db__buf_take(&head);
	char *sql = h ? sh_db__query_sql(query, h, false, false) : NULL;
	free(h);
	if (sql == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory deleting %s", query->model->label);
	sqlite3_stmt *stmt;
	int rc = sh_db__conn_prepare(query->db, sql, &stmt);
	free(sql);
	if (rc == 0 && (rc = sh_db__query_bind(query, stmt, false)) > 0)
		rc = 0;
	char what[160];
	snprintf(what, sizeof what, "deleting rows of %s", query->model->label);
	if (rc == 0)
		rc = sh_db__conn_exec(query->db, stmt, what);
	if (rc == 0 && changes != NULL)
		*changes += sqlite3_changes64(query->db->sqlite);
	return rc;
}

int sh_db__query_load_all(sh_query *query, sh_instance ***items, size_t *count, size_t *capacity)
{
	for (;;) {
		sh_instance *inst;
		int rc = sh_query_next(query, &inst);
		if (rc <= 0)
			return rc;
		if (*count == *capacity) {
			size_t cap = *capacity ? 2 * *capacity : 16;
			sh_instance **grown = realloc(*items, cap * sizeof *grown);
			if (grown == NULL) {
				sh_instance_free(inst);
				return sh_error_set(SH_ENOMEM, "out of memory loading %s", query->model->label);
			}
			*items = grown;
			*capacity = cap;
		}
		(*items)[(*count)++] = inst;
	}
}
