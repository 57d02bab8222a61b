/*
 * support.c: the fixture and the recording receiver of the ORM tests (see
 * support.h).
 */
#include "../../support/support.h"
#include "support.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

orm_fx fx;

static char *log_buf;
static size_t log_len, log_cap;

/* ---- declarations ---- */

static sh_field_decl fd(const char *name, sh_field_type type)
{
	sh_field_decl d = SH_FIELD_DECL_INIT;
	d.name = name;
	d.type = type;
	return d;
}

static sh_field_decl text(const char *name, int max_length)
{
	sh_field_decl d = fd(name, SH_FIELD_TEXT);
	d.max_length = max_length;
	return d;
}

static sh_field_decl fk(const char *name, const char *to, sh_on_delete on_delete, bool null)
{
	sh_field_decl d = fd(name, SH_FIELD_FOREIGN_KEY);
	d.to = to;
	d.on_delete = on_delete;
	d.null = null;
	return d;
}

static void declare(const char *name, const sh_field_decl *fields, size_t count)
{
	int rc = sh_models_declare(fx.models, "shop", name, fields, count, "support.c");
	cr_assert_eq(rc, 0, "declaring %s: %s", name, sh_error_last()->message);
}

#define DECLARE(name, ...) declare(name, (const sh_field_decl[]){ __VA_ARGS__ }, \
	sizeof((const sh_field_decl[]){ __VA_ARGS__ }) / sizeof(sh_field_decl))

static void declare_models(void)
{
	sh_field_decl owner_name = text("name", 20);
	owner_name.unique = true;
	DECLARE("Owner", owner_name);
	DECLARE("Tag", text("name", 30));

	sh_field_decl level = fd("level", SH_FIELD_INTEGER);
	level.has_default = true;
	level.default_value = sh_datum_int(1);
	sh_field_decl score = fd("score", SH_FIELD_REAL);
	score.null = true;
	sh_field_decl active = fd("active", SH_FIELD_BOOLEAN);
	active.has_default = true;
	active.default_value = sh_datum_bool(true);
	sh_field_decl day = fd("day", SH_FIELD_DATE);
	day.null = true;
	sh_field_decl meta = fd("meta", SH_FIELD_JSON);
	meta.null = true;
	sh_field_decl big = fd("big", SH_FIELD_BIG_INTEGER);
	big.null = true;
	sh_field_decl created = fd("created", SH_FIELD_DATETIME);
	created.auto_now_add = true;
	sh_field_decl modified = fd("modified", SH_FIELD_DATETIME);
	modified.auto_now = true;
	modified.null = true;
	sh_field_decl tags = fd("tags", SH_FIELD_MANY_TO_MANY);
	tags.to = "Tag";
	tags.related_name = "alerts";
	DECLARE("Alert", text("content", 10), fk("owner", "Owner", SH_ON_DELETE_CASCADE, false),
		level, score, active, day, meta, big, created, modified, tags);

	DECLARE("Comment", fk("alert", "Alert", SH_ON_DELETE_CASCADE, false), text("body", 0));
	DECLARE("Reply", fk("comment", "Comment", SH_ON_DELETE_CASCADE, false), text("body", 0));
	DECLARE("Note", fk("alert", "Alert", SH_ON_DELETE_SET_NULL, true), text("body", 0));
	DECLARE("Lock", fk("owner", "Owner", SH_ON_DELETE_PROTECT, false));

	DECLARE("Artist", text("name", 20));
	DECLARE("Album", fk("artist", "Artist", SH_ON_DELETE_CASCADE, false));
	DECLARE("Song", fk("artist", "Artist", SH_ON_DELETE_CASCADE, false),
		fk("album", "Album", SH_ON_DELETE_RESTRICT, false));

	DECLARE("Node", fk("parent", "Node", SH_ON_DELETE_CASCADE, true));

	DECLARE("Member", text("name", 20));
	sh_field_decl members = fd("members", SH_FIELD_MANY_TO_MANY);
	members.to = "Member";
	members.through = "Membership";
	DECLARE("Group", text("name", 20), members);
	DECLARE("Membership", fk("member", "Member", SH_ON_DELETE_CASCADE, false),
		fk("group", "Group", SH_ON_DELETE_CASCADE, false), text("role", 20));
}

void fx_setup_bare(void)
{
	memset(&fx, 0, sizeof fx);
	snprintf(fx.dir, sizeof fx.dir, "/tmp/sighost-orm-XXXXXX");
	cr_assert_not_null(mkdtemp(fx.dir));
	snprintf(fx.path, sizeof fx.path, "%s/db.sqlite3", fx.dir);
	cr_assert_eq(sh_hub_new(&fx.hub), 0);
	cr_assert_eq(sh_models_new(&fx.models, fx.hub), 0);
	declare_models();
	cr_assert_eq(sh_models_prepare(fx.models), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_database_open(&fx.database, fx.path, fx.models), 0, "%s",
		sh_error_last()->message);
	log_clear();
}

void fx_setup(void)
{
	fx_setup_bare();
	cr_assert_eq(sh_database_connection(&fx.db, fx.database), 0, "%s", sh_error_last()->message);
	cr_assert_eq(sh_database_syncdb(fx.db), 0, "%s", sh_error_last()->message);
}

void fx_teardown(void)
{
	sh_database_close(fx.database);
	sh_models_free(fx.models);
	sh_hub_free(fx.hub);
	if (fx.dir[0] != '\0')
		t_rmtree(fx.dir);
	free(log_buf);
	log_buf = NULL;
	log_len = log_cap = 0;
	memset(&fx, 0, sizeof fx);
}

const sh_model *M(const char *label)
{
	const sh_model *m = NULL;
	cr_assert_eq(sh_models_lookup(&m, fx.models, label), 0, "no model %s", label);
	return m;
}

sh_instance *make(const char *label, const sh_field_value *values, size_t count)
{
	sh_instance *inst = NULL;
	int rc = sh_instance_new(&inst, fx.db, M(label), values, count);
	cr_assert_eq(rc, 0, "new %s: %s", label, sh_error_last()->message);
	rc = sh_instance_save(inst, NULL);
	cr_assert_eq(rc, 0, "save %s: %s", label, sh_error_last()->message);
	return inst;
}

int64_t sql_int(const char *sql)
{
	sqlite3_stmt *stmt;
	cr_assert_eq(sqlite3_prepare_v2(sh_conn_sqlite(fx.db), sql, -1, &stmt, NULL), SQLITE_OK,
		"%s: %s", sql, sqlite3_errmsg(sh_conn_sqlite(fx.db)));
	cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW, "%s", sql);
	int64_t v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

const char *sql_text(const char *sql)
{
	static char out[512];
	sqlite3_stmt *stmt;
	cr_assert_eq(sqlite3_prepare_v2(sh_conn_sqlite(fx.db), sql, -1, &stmt, NULL), SQLITE_OK,
		"%s", sql);
	cr_assert_eq(sqlite3_step(stmt), SQLITE_ROW, "%s", sql);
	const unsigned char *s = sqlite3_column_text(stmt, 0);
	snprintf(out, sizeof out, "%s", s ? (const char *)s : "NULL");
	sqlite3_finalize(stmt);
	return out;
}

/* ---- the recorder ---- */

static void log_add(const char *line)
{
	size_t n = strlen(line);
	if (log_len + n + 2 > log_cap) {
		size_t cap = log_cap ? 2 * log_cap : 4096;
		while (cap < log_len + n + 2)
			cap *= 2;
		log_buf = realloc(log_buf, cap);
		cr_assert_not_null(log_buf);
		log_cap = cap;
	}
	memcpy(log_buf + log_len, line, n);
	log_len += n;
	log_buf[log_len++] = '\n';
	log_buf[log_len] = '\0';
}

const char *log_text(void)
{
	return log_buf ? log_buf : "";
}

void log_clear(void)
{
	log_len = 0;
	if (log_buf)
		log_buf[0] = '\0';
}

size_t log_count(const char *prefix)
{
	size_t n = 0, len = strlen(prefix);
	for (const char *p = log_text(); *p != '\0';) {
		if (strncmp(p, prefix, len) == 0)
			n++;
		const char *nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}

static const char *who(const sh_instance *inst, char *buf, size_t size)
{
	if (inst == NULL)
		return "None";
	snprintf(buf, size, "%s:%" PRId64, sh_model_label(sh_instance_model(inst)), sh_instance_pk(inst));
	return buf;
}

static int rec(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)response, (void)payload;
	char line[1024], a[128], b[128];
	const char *name = sh_signal_name(signal);
	const char *from = sender ? sh_sender_name(sender) : "-";
	int n = snprintf(line, sizeof line, "%s %s", name, from);
	switch ((sh_builtin)(intptr_t)payload) {
	case SH_PRE_INIT: {
		const sh_pre_init_args *x = args;
		snprintf(line + n, sizeof line - (size_t)n, " args=%zu kwargs=%zu", x->args_count,
			x->kwargs_count);
		break;
	}
	case SH_POST_INIT:
		snprintf(line + n, sizeof line - (size_t)n, " %s",
			who(((const sh_post_init_args *)args)->instance, a, sizeof a));
		break;
	case SH_PRE_SAVE: {
		const sh_pre_save_args *x = args;
		snprintf(line + n, sizeof line - (size_t)n, " %s raw=%d uf=%zd", who(x->instance, a, sizeof a),
			x->raw, x->update_fields ? (ssize_t)x->update_fields->count : (ssize_t)-1);
		break;
	}
	case SH_POST_SAVE: {
		const sh_post_save_args *x = args;
		snprintf(line + n, sizeof line - (size_t)n, " %s created=%d uf=%zd",
			who(x->instance, a, sizeof a), x->created,
			x->update_fields ? (ssize_t)x->update_fields->count : (ssize_t)-1);
		break;
	}
	case SH_PRE_DELETE:
	case SH_POST_DELETE: {
		const sh_delete_args *x = args;
		snprintf(line + n, sizeof line - (size_t)n, " %s origin=%s", who(x->instance, a, sizeof a),
			x->origin ? who(x->origin, b, sizeof b)
			          : (x->origin_model ? sh_model_label(x->origin_model) : "None"));
		break;
	}
	case SH_M2M_CHANGED: {
		const sh_m2m_changed_args *x = args;
		int k = snprintf(line + n, sizeof line - (size_t)n, " %s %s reverse=%d model=%s pks=",
			sh_m2m_action_name(x->action), who(x->instance, a, sizeof a), x->reverse,
			sh_model_label(x->model));
		size_t at = (size_t)n + (size_t)k;
		if (x->pk_set == NULL) {
			snprintf(line + at, sizeof line - at, "None");
		} else {
			at += (size_t)snprintf(line + at, sizeof line - at, "[");
			for (size_t i = 0; i < x->pk_count; i++)
				at += (size_t)snprintf(line + at, sizeof line - at, i ? ",%" PRId64 : "%" PRId64,
					x->pk_set[i]);
			snprintf(line + at, sizeof line - at, "]");
		}
		break;
	}
	default:
		break;
	}
	log_add(line);
	return 0;
}

void rec_connect(void)
{
	static const sh_builtin ids[] = { SH_PRE_INIT, SH_POST_INIT, SH_PRE_SAVE, SH_POST_SAVE,
		SH_PRE_DELETE, SH_POST_DELETE, SH_M2M_CHANGED, SH_CONNECTION_CREATED };
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
		cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, ids[i]), rec,
			(void *)(intptr_t)ids[i], NULL), 0);
}

int fail_with(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response;
	return sh_error_set(*(int *)payload, "receiver vetoed");
}

void connect_failing(sh_builtin id, const char *label, int *code)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = label ? sh_model_sender(M(label)) : NULL;
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, id), fail_with, code, &opts), 0);
}

const char *last_message(void)
{
	return sh_error_last()->message;
}
