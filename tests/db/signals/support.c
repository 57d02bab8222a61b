/*
 * support.c: the fixture and the recording receiver of the model-signal
 * tests (see support.h for the models and the log format).
 */
#include "../../support/support.h"
#include "support.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

fx_state fx;
const sh_instance *rec_expected_origin;

/* ---- the log ---------------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *log_buf;
static size_t log_len, log_cap;

static void log_append(const char *line)
{
	size_t n = strlen(line);
	pthread_mutex_lock(&log_lock);
	if (log_len + n + 2 > log_cap) {
		size_t cap = log_cap ? log_cap : 4096;
		while (log_len + n + 2 > cap)
			cap *= 2;
		char *p = realloc(log_buf, cap);
		if (p == NULL) {
			pthread_mutex_unlock(&log_lock);
			abort();
		}
		log_buf = p;
		log_cap = cap;
	}
	memcpy(log_buf + log_len, line, n);
	log_len += n;
	log_buf[log_len++] = '\n';
	log_buf[log_len] = '\0';
	pthread_mutex_unlock(&log_lock);
}

void log_clear(void)
{
	pthread_mutex_lock(&log_lock);
	log_len = 0;
	if (log_buf != NULL)
		log_buf[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

void log_note(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_append(line);
}

const char *log_text(void)
{
	return log_buf != NULL ? log_buf : "";
}

static bool word_in(const char *word, size_t len, const char *words)
{
	const char *p = words;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e != '\0' && *e != ' ')
			e++;
		if ((size_t)(e - p) == len && len > 0 && strncmp(p, word, len) == 0)
			return true;
		p = e;
	}
	return false;
}

char *log_only(const char *signals)
{
	const char *text = log_text();
	char *out = calloc(1, strlen(text) + 1);
	cr_assert_not_null(out);
	size_t o = 0;
	for (const char *p = text; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t linelen = nl ? (size_t)(nl - p) + 1 : strlen(p);
		size_t wlen = strcspn(p, " \n");
		if (word_in(p, wlen, signals)) {
			memcpy(out + o, p, linelen);
			o += linelen;
		}
		p += linelen;
	}
	out[o] = '\0';
	return out;
}

size_t log_count(const char *prefix)
{
	size_t n = 0, plen = strlen(prefix);
	const char *text = log_text();
	for (const char *p = text; *p != '\0';) {
		if (strncmp(p, prefix, plen) == 0)
			n++;
		const char *nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}

/* ---- formatting, Python-style ----------------------------------------- */

typedef struct buf {
	char s[2048];
	size_t n;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
	if (b->n >= sizeof b->s - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		b->n += (size_t)k < sizeof b->s - b->n ? (size_t)k : sizeof b->s - b->n - 1;
}

static void put_datum(buf *b, sh_datum d)
{
	switch (d.type) {
	case SH_DATUM_NULL: put(b, "None"); break;
	case SH_DATUM_INT: put(b, "%lld", (long long)d.v.i); break;
	case SH_DATUM_REAL: put(b, "%g", d.v.r); break;
	case SH_DATUM_TEXT: put(b, "'%s'", d.v.s != NULL ? d.v.s : "(null)"); break;
	case SH_DATUM_BOOL: put(b, "%s", d.v.b ? "True" : "False"); break;
	default: put(b, "?type%d", (int)d.type); break;
	}
}

static const char *py_bool(bool v)
{
	return v ? "True" : "False";
}

static void put_pk(buf *b, const sh_instance *inst)
{
	if (inst == NULL) {
		put(b, "NULL-INSTANCE");
		return;
	}
	int64_t pk = sh_instance_pk(inst);
	if (pk == 0)
		put(b, "None");
	else
		put(b, "%lld", (long long)pk);
}

static void put_inst(buf *b, const sh_instance *inst)
{
	if (inst == NULL) {
		put(b, "None");
		return;
	}
	put(b, "%s:", sh_model_label(sh_instance_model(inst)));
	put_pk(b, inst);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Django passes update_fields as a frozenset: printed sorted. */
static void put_names(buf *b, const sh_name_set *set)
{
	if (set == NULL) {
		put(b, "None");
		return;
	}
	const char *names[64];
	size_t n = set->count < 64 ? set->count : 64;
	for (size_t i = 0; i < n; i++)
		names[i] = set->names[i];
	qsort(names, n, sizeof names[0], cmp_str);
	put(b, "[");
	for (size_t i = 0; i < n; i++)
		put(b, "%s'%s'", i ? ", " : "", names[i]);
	put(b, "]");
}

static void put_using(buf *b, const char *using_)
{
	put(b, " using=%s", using_ != NULL ? using_ : "NULL");
}

static void check_sender(buf *b, const sh_sender *sender, const sh_instance *inst)
{
	if (inst == NULL || sender == NULL)
		return;
	if (strcmp(sh_model_label(sh_instance_model(inst)), sh_sender_name(sender)) != 0)
		put(b, " SENDER-MISMATCH(%s)", sh_model_label(sh_instance_model(inst)));
}

/* ---- the recorder ----------------------------------------------------- */

static int rec(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)response;
	sh_builtin id = (sh_builtin)(intptr_t)payload;
	buf b = { .n = 0 };
	b.s[0] = '\0';
	put(&b, "%s %s", sh_signal_name(signal), sender != NULL ? sh_sender_name(sender) : "-");

	switch (id) {
	case SH_PRE_INIT: {
		const sh_pre_init_args *a = args;
		put(&b, " args=[");
		for (size_t i = 0; i < a->args_count; i++) {
			if (i)
				put(&b, ", ");
			if (a->deferred != NULL && a->deferred[i])
				put(&b, "DEFERRED");
			else
				put_datum(&b, a->args[i]);
		}
		put(&b, "] kwargs={");
		for (size_t i = 0; i < a->kwargs_count; i++) {
			put(&b, "%s'%s': ", i ? ", " : "", a->kwargs[i].name);
			put_datum(&b, a->kwargs[i].value);
		}
		put(&b, "}");
		if ((a->args == NULL) != (a->args_count == 0))
			put(&b, " ARGS-POINTER-MISMATCH");
		if ((a->kwargs == NULL) != (a->kwargs_count == 0))
			put(&b, " KWARGS-POINTER-MISMATCH");
		break;
	}
	case SH_POST_INIT: {
		const sh_post_init_args *a = args;
		put(&b, " pk=");
		put_pk(&b, a->instance);
		check_sender(&b, sender, a->instance);
		break;
	}
	case SH_PRE_SAVE: {
		const sh_pre_save_args *a = args;
		put(&b, " pk=");
		put_pk(&b, a->instance);
		put(&b, " raw=%s", py_bool(a->raw));
		put_using(&b, a->using_);
		put(&b, " update_fields=");
		put_names(&b, a->update_fields);
		check_sender(&b, sender, a->instance);
		break;
	}
	case SH_POST_SAVE: {
		const sh_post_save_args *a = args;
		put(&b, " pk=");
		put_pk(&b, a->instance);
		put(&b, " created=%s raw=%s", py_bool(a->created), py_bool(a->raw));
		put_using(&b, a->using_);
		put(&b, " update_fields=");
		put_names(&b, a->update_fields);
		check_sender(&b, sender, a->instance);
		break;
	}
	case SH_PRE_DELETE:
	case SH_POST_DELETE: {
		const sh_delete_args *a = args;
		put(&b, " pk=");
		put_pk(&b, a->instance);
		put_using(&b, a->using_);
		put(&b, " origin=");
		if (a->origin != NULL)
			put_inst(&b, a->origin);
		else if (a->origin_model != NULL)
			put(&b, "qs:%s", sh_model_label(a->origin_model));
		else
			put(&b, "None");
		if (rec_expected_origin != NULL && a->origin != rec_expected_origin)
			put(&b, " ORIGIN-NOT-SAME-OBJECT");
		check_sender(&b, sender, a->instance);
		break;
	}
	case SH_M2M_CHANGED: {
		const sh_m2m_changed_args *a = args;
		const char *action = sh_m2m_action_name(a->action);
		put(&b, " %s instance=", action != NULL ? action : "?");
		put_inst(&b, a->instance);
		put(&b, " reverse=%s model=%s pk_set=", py_bool(a->reverse),
			a->model != NULL ? sh_model_label(a->model) : "None");
		bool clear = a->action == SH_M2M_PRE_CLEAR || a->action == SH_M2M_POST_CLEAR;
		if (a->pk_set == NULL && (clear || a->pk_count != 0)) {
			/* None for the clear actions; NULL with a count is a bug. */
			put(&b, a->pk_count == 0 ? "None" : "NULL-WITH-COUNT");
		} else {
			int64_t pks[256];
			size_t n = a->pk_count < 256 ? a->pk_count : 256;
			for (size_t i = 0; i < n; i++)
				pks[i] = a->pk_set[i];
			qsort(pks, n, sizeof pks[0], cmp_i64);
			put(&b, "[");
			for (size_t i = 0; i < n; i++)
				put(&b, "%s%lld", i ? ", " : "", (long long)pks[i]);
			put(&b, "]");
		}
		put_using(&b, a->using_);
		break;
	}
	case SH_CLASS_PREPARED: {
		const sh_class_prepared_args *a = args;
		if (a == NULL || a->model == NULL)
			put(&b, " NO-MODEL");
		else if (sender == NULL || strcmp(sh_model_label(a->model), sh_sender_name(sender)) != 0
			|| sh_model_sender(a->model) != sender)
			put(&b, " SENDER-MISMATCH(%s)", sh_model_label(a->model));
		break;
	}
	case SH_CONNECTION_CREATED: {
		const sh_connection_created_args *a = args;
		if (a == NULL || a->connection == NULL)
			put(&b, " NO-CONNECTION");
		break;
	}
	default:
		break;
	}
	log_append(b.s);
	return 0;
}

void rec_connect(sh_hub *hub)
{
	for (int i = 0; i < SH_BUILTIN_COUNT; i++) {
		sh_signal *sig = sh_hub_builtin(hub, (sh_builtin)i);
		cr_assert_not_null(sig);
		cr_assert_eq(sh_signal_connect(NULL, sig, rec, (void *)(intptr_t)i, NULL), 0);
	}
}

/* ---- counting statements --------------------------------------------- */

static int stmt_counter;
static int stmt_open_at_start, stmt_open_at_stop;
static char stmt_log[8192];

/* How many prepared statements the connection holds (a new prepare adds one). */
static int stmt_open(void)
{
	int n = 0;
	for (sqlite3_stmt *s = sqlite3_next_stmt(sh_conn_sqlite(fx.db), NULL); s != NULL;
		s = sqlite3_next_stmt(sh_conn_sqlite(fx.db), s))
		n++;
	return n;
}

static int stmt_trace(unsigned type, void *ctx, void *p, void *x)
{
	(void)type, (void)ctx, (void)x;
	stmt_counter++;
	const char *sql = sqlite3_sql((sqlite3_stmt *)p);
	size_t n = strlen(stmt_log);
	snprintf(stmt_log + n, sizeof stmt_log - n, "%s\n", sql != NULL ? sql : "?");
	return 0;
}

void stmt_count_start(void)
{
	stmt_counter = 0;
	stmt_log[0] = '\0';
	stmt_open_at_start = stmt_open();
	sqlite3_trace_v2(sh_conn_sqlite(fx.db), SQLITE_TRACE_STMT, stmt_trace, NULL);
}

int stmt_count_stop(void)
{
	sqlite3_trace_v2(sh_conn_sqlite(fx.db), 0, NULL, NULL);
	stmt_open_at_stop = stmt_open();
	return stmt_counter;
}

int stmt_prepared_since_start(void)
{
	return stmt_open_at_stop - stmt_open_at_start;
}

const char *stmt_sql_log(void)
{
	return stmt_log;
}

/* ---- failing receivers ------------------------------------------------ */

int failing_receiver(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	return sh_error_set(*(int *)payload, "vetoed");
}

void connect_failing(sh_builtin id, const char *label, int *code)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = label != NULL ? sh_model_sender(fx_model(label)) : NULL;
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, id), failing_receiver, code,
		&opts), 0);
}

/* ---- the fixture ------------------------------------------------------ */

static sh_field_decl field(const char *name, sh_field_type type)
{
	sh_field_decl d = SH_FIELD_DECL_INIT;
	d.name = name;
	d.type = type;
	return d;
}

static sh_field_decl text(const char *name)
{
	sh_field_decl d = field(name, SH_FIELD_TEXT);
	d.max_length = 50;
	return d;
}

static sh_field_decl fkey(const char *name, const char *to, sh_on_delete on_delete, bool null)
{
	sh_field_decl d = field(name, SH_FIELD_FOREIGN_KEY);
	d.to = to;
	d.on_delete = on_delete;
	d.null = null;
	return d;
}

static void declare(const char *name, const sh_field_decl *fields, size_t count)
{
	int rc = sh_models_declare(fx.models, "t", name, fields, count, "support.c");
	cr_assert_eq(rc, 0, "declare t.%s: %d %s", name, rc, sh_error_last()->message);
}

#define DECLARE(name, ...) declare(name, (sh_field_decl[]){ __VA_ARGS__ }, \
	sizeof((sh_field_decl[]){ __VA_ARGS__ }) / sizeof(sh_field_decl))

void fx_setup(void)
{
	memset(&fx, 0, sizeof fx);
	rec_expected_origin = NULL;
	log_clear();
	strcpy(fx.dir, "/tmp/sh-db-signals-XXXXXX");
	cr_assert_not_null(mkdtemp(fx.dir), "mkdtemp: %s", strerror(errno));
	snprintf(fx.path, sizeof fx.path, "%s/db.sqlite3", fx.dir);

	cr_assert_eq(sh_hub_new(&fx.hub), 0);
	rec_connect(fx.hub);
	cr_assert_eq(sh_models_new(&fx.models, fx.hub), 0);

	sh_field_decl age = field("age", SH_FIELD_INTEGER);
	age.has_default = true;
	age.default_value = sh_datum_int(0);
	sh_field_decl tags = field("tags", SH_FIELD_MANY_TO_MANY);
	tags.to = "t.Tag";

	DECLARE("Author", text("name"), age);
	DECLARE("A", text("name"));
	DECLARE("B", fkey("a", "t.A", SH_ON_DELETE_CASCADE, false), text("name"));
	DECLARE("C", fkey("b", "t.B", SH_ON_DELETE_CASCADE, false), text("name"));
	DECLARE("N", fkey("a", "t.A", SH_ON_DELETE_SET_NULL, true), text("name"));
	DECLARE("P", fkey("b", "t.B", SH_ON_DELETE_PROTECT, false), text("name"));
	DECLARE("Artist", text("name"));
	DECLARE("Album", fkey("artist", "t.Artist", SH_ON_DELETE_CASCADE, false), text("name"));
	DECLARE("Song", fkey("artist", "t.Artist", SH_ON_DELETE_CASCADE, false),
		fkey("album", "t.Album", SH_ON_DELETE_RESTRICT, false), text("name"));
	DECLARE("Tag", text("name"));
	DECLARE("Post", text("title"), tags);

	sh_field_decl created = field("created", SH_FIELD_DATETIME);
	created.auto_now_add = true;
	sh_field_decl updated = field("updated", SH_FIELD_DATETIME);
	updated.auto_now = true;
	DECLARE("Stamp", text("note"), created, updated);

	sh_field_decl slug = text("slug");
	slug.unique = true;
	sh_field_decl hits = field("hits", SH_FIELD_INTEGER);
	hits.has_default = true;
	hits.default_value = sh_datum_int(0);
	sh_field_decl seen = field("seen", SH_FIELD_DATE);
	seen.null = true;
	DECLARE("Slug", slug, hits, seen);

	int rc = sh_models_prepare(fx.models);
	cr_assert_eq(rc, 0, "prepare: %d %s", rc, sh_error_last()->message);
	rc = sh_database_open(&fx.database, fx.path, fx.models);
	cr_assert_eq(rc, 0, "open: %d %s", rc, sh_error_last()->message);
	rc = sh_database_connection(&fx.db, fx.database);
	cr_assert_eq(rc, 0, "connection: %d %s", rc, sh_error_last()->message);
	fx.setup_log = strdup(log_text());
	rc = sh_database_syncdb(fx.db);
	cr_assert_eq(rc, 0, "syncdb: %d %s", rc, sh_error_last()->message);
	log_clear();
}

void fx_teardown(void)
{
	rec_expected_origin = NULL;
	sh_database_close(fx.database);
	sh_models_free(fx.models);
	sh_hub_free(fx.hub);
	free(fx.setup_log);
	if (fx.dir[0] != '\0')
		t_rmtree(fx.dir);
	memset(&fx, 0, sizeof fx);
}

const sh_model *fx_model(const char *label)
{
	const sh_model *m = NULL;
	int rc = sh_models_lookup(&m, fx.models, label);
	cr_assert_eq(rc, 0, "lookup %s: %d %s", label, rc, sh_error_last()->message);
	cr_assert_not_null(m);
	return m;
}

/* ---- instances -------------------------------------------------------- */

sh_instance *fx_new(const char *label, const sh_field_value *values, size_t count)
{
	sh_instance *inst = NULL;
	int rc = sh_instance_new(&inst, fx.db, fx_model(label), values, count);
	cr_assert_eq(rc, 0, "new %s: %d %s", label, rc, sh_error_last()->message);
	cr_assert_not_null(inst);
	return inst;
}

sh_instance *fx_saved(const char *label, const sh_field_value *values, size_t count)
{
	sh_instance *inst = fx_new(label, values, count);
	int rc = sh_instance_save(inst, NULL);
	cr_assert_eq(rc, 0, "save %s: %d %s", label, rc, sh_error_last()->message);
	cr_assert_neq(sh_instance_pk(inst), 0);
	return inst;
}

/* ---- the database, directly ------------------------------------------- */

int64_t sql_int(const char *fmt, ...)
{
	char sql[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);

	sqlite3 *h = sh_conn_sqlite(fx.db);
	cr_assert_not_null(h);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
	cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(h));
	rc = sqlite3_step(st);
	cr_assert_eq(rc, SQLITE_ROW, "%s: no row (%s)", sql, sqlite3_errmsg(h));
	int64_t v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

void sql_exec(const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(sh_conn_sqlite(fx.db), sql, NULL, NULL, &err);
	cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, err ? err : "?");
}

int64_t rows_of(const char *label)
{
	return sql_int("SELECT count(*) FROM \"%s\"", sh_model_table(fx_model(label)));
}

const char *join_table(const char *label, const char *field_name)
{
	const sh_field *f = sh_model_field(fx_model(label), field_name);
	cr_assert_not_null(f, "%s has no field %s", label, field_name);
	const sh_model *through = sh_field_through(f);
	cr_assert_not_null(through, "%s.%s has no join model", label, field_name);
	return sh_model_table(through);
}
