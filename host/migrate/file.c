/*
 * file.c: one migration file read into a migration (see
 * docs/migrations.md for the format):
 *
 *     initial: true
 *     dependencies:
 *       - [people, 0001_initial]
 *     operations:
 *       - create_model:
 *           name: Alert
 *           fields:
 *             owner: {type: foreign_key, to: people.Owner, on_delete: cascade}
 *       - add_field: {model: Alert, name: priority, field: {type: integer, default: 0}}
 *
 * The file is read with the manifests' reader (libyaml, positions kept);
 * each map is checked against a table of its keys like every manifest
 * section, and field definitions are read by the models section's own
 * code (sh_app__fields_read), so the syntax and the messages are the same.
 * Every problem is recorded with its file, line and column.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "internal.h"

#define SH__COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const sh__key sh__file_keys[] = {
	{ "initial",      SH_VALUE_BOOL, SH__ANY,       false },
	{ "dependencies", SH_VALUE_LIST, SH_VALUE_LIST, false },
	{ "operations",   SH_VALUE_LIST, SH_VALUE_MAP,  false },
};

/* The keys of each operation, by kind. */
static const sh__key sh__create_model_keys[] = {
	{ "name", SH_VALUE_STRING, SH__ANY, true },
	{ "fields", SH_VALUE_MAP, SH__ANY, false },
};
static const sh__key sh__field_op_keys[] = {     /* add_field, alter_field */
	{ "model", SH_VALUE_STRING, SH__ANY, true },
	{ "name", SH_VALUE_STRING, SH__ANY, true },
	{ "field", SH_VALUE_MAP, SH__ANY, true },
};
static const sh__key sh__remove_field_keys[] = {
	{ "model", SH_VALUE_STRING, SH__ANY, true },
	{ "name", SH_VALUE_STRING, SH__ANY, true },
	{ "field", SH_VALUE_MAP, SH__ANY, false },
};
static const sh__key sh__rename_field_keys[] = {
	{ "model", SH_VALUE_STRING, SH__ANY, true },
	{ "old_name", SH_VALUE_STRING, SH__ANY, true },
	{ "new_name", SH_VALUE_STRING, SH__ANY, true },
};
static const sh__key sh__rename_model_keys[] = {
	{ "old_name", SH_VALUE_STRING, SH__ANY, true },
	{ "new_name", SH_VALUE_STRING, SH__ANY, true },
};
static const sh__key sh__add_index_keys[] = {
	{ "model", SH_VALUE_STRING, SH__ANY, true },
	{ "name", SH_VALUE_STRING, SH__ANY, true },
	{ "fields", SH_VALUE_LIST, SH_VALUE_STRING, true },
};
static const sh__key sh__remove_index_keys[] = {
	{ "model", SH_VALUE_STRING, SH__ANY, true },
	{ "name", SH_VALUE_STRING, SH__ANY, true },
	{ "fields", SH_VALUE_LIST, SH_VALUE_STRING, false },
};
static const sh__key sh__run_sql_keys[] = {
	{ "sql", SH_VALUE_STRING, SH__ANY, true },
	{ "reverse_sql", SH_VALUE_STRING, SH__ANY, false },
};

static const struct sh__op_row {
	sh__op_kind kind;
	const sh__key *keys;
	size_t key_count;
} sh__op_rows[] = {
	{ SH__OP_CREATE_MODEL, sh__create_model_keys, SH__COUNT(sh__create_model_keys) },
	{ SH__OP_DELETE_MODEL, sh__create_model_keys, SH__COUNT(sh__create_model_keys) },
	{ SH__OP_ADD_FIELD, sh__field_op_keys, SH__COUNT(sh__field_op_keys) },
	{ SH__OP_REMOVE_FIELD, sh__remove_field_keys, SH__COUNT(sh__remove_field_keys) },
	{ SH__OP_ALTER_FIELD, sh__field_op_keys, SH__COUNT(sh__field_op_keys) },
	{ SH__OP_RENAME_FIELD, sh__rename_field_keys, SH__COUNT(sh__rename_field_keys) },
	{ SH__OP_RENAME_MODEL, sh__rename_model_keys, SH__COUNT(sh__rename_model_keys) },
	{ SH__OP_ADD_INDEX, sh__add_index_keys, SH__COUNT(sh__add_index_keys) },
	{ SH__OP_REMOVE_INDEX, sh__remove_index_keys, SH__COUNT(sh__remove_index_keys) },
	{ SH__OP_RUN_SQL, sh__run_sql_keys, SH__COUNT(sh__run_sql_keys) },
};

bool sh_migrate__migration_name_ok(const char *name)
{
	if (name == NULL || *name == '\0')
		return false;
	for (const char *c = name; *c != '\0'; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
			|| (*c >= '0' && *c <= '9') || *c == '_';
		if (!ok)
			return false;
	}
	return true;
}

char *sh_migrate__where_of(const sh_value *v)
{
	return sh_base__format("%s:%u:%u", sh_value_file(v), sh_value_line(v), sh_value_column(v));
}

/* What reading one file needs. */
typedef struct sh__reading {
	sh__problems *problems;
	const char *app_label;
	size_t found;               /* problems recorded for this file */
	bool oom;
} sh__reading;

static void sh_migrate__bad(sh__reading *r, const sh_value *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void sh_migrate__bad(sh__reading *r, const sh_value *at, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	sh_manifest__problem_at(r->problems, SH_EMANIFEST, at, "%s", message);
	r->found++;
}

static char *sh_migrate__keep_where(sh__reading *r, const sh_value *v)
{
	char *w = sh_migrate__where_of(v);
	if (w == NULL)
		r->oom = true;
	return w;
}

/* A name an operation gives: an identifier, since it becomes a table,
 * column or index name. Returns the copy, NULL when bad (recorded). */
static char *sh_migrate__ident_arg(sh__reading *r, const sh_value *map, const char *key, char **where)
{
	const sh_value *v = sh_value_get(map, key);
	const char *s = sh_value_string(v);
	if (s == NULL)
		return NULL;   /* missing or mistyped: the key check said so */
	if (!sh_base__is_identifier(s, SIZE_MAX)) {
		sh_migrate__bad(r, v, "'%s' is not a valid name for '%s': use letters, digits and '_', not "
			"starting with a digit", s, key);
		return NULL;
	}
	if (where != NULL && *where == NULL)
		*where = sh_migrate__keep_where(r, v);
	char *copy = strdup(s);
	if (copy == NULL)
		r->oom = true;
	return copy;
}

static int sh_migrate__file_collect(const sh_field_decl *field, void *payload)
{
	return sh_migrate__fields_append(payload, field);
}

/* Reads a `fields` map of model `model` into op->fields. */
static void sh_migrate__read_fields(sh__reading *r, sh__op *op, const char *model, const sh_value *map)
{
	int rc = sh_app__fields_read(r->problems, r->app_label, model, map, sh_migrate__file_collect, &op->fields);
	if (rc == SH_ENOMEM)
		r->oom = true;
	else if (rc > 0)
		r->found += (size_t)rc;
}

/* Reads `field` (one definition) of the field `name` into op->fields. */
static void sh_migrate__read_field(sh__reading *r, sh__op *op, const char *model, const char *name,
	const sh_value *field)
{
	/* A map of one entry, name: field, as a `fields` map would hold it; the
	 * reader only reads it. */
	sh__entry entry = { (char *)name, field->line, field->column, (sh_value *)field };
	sh_value map = { .type = SH_VALUE_MAP, .line = field->line, .column = field->column,
		.file = field->file, .entries = &entry, .count = 1, .capacity = 1 };
	size_t before = op->fields.count;
	sh_migrate__read_fields(r, op, model, &map);
	if (op->fields.count == before && r->found == 0 && !r->oom)
		sh_migrate__bad(r, field, "the field definition of '%s' could not be read", name);
}

static void sh_migrate__read_index_fields(sh__reading *r, sh__op *op, const sh_value *list)
{
	size_t n = sh_value_length(list);
	if (n == 0) {
		if (list != NULL && op->kind == SH__OP_ADD_INDEX)
			sh_migrate__bad(r, list, "an index needs at least one field");
		return;
	}
	op->index_fields = calloc(n, sizeof *op->index_fields);
	if (op->index_fields == NULL) {
		r->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const sh_value *v = sh_value_at(list, i);
		if (!sh_base__is_identifier(sh_value_string(v), SIZE_MAX)) {
			sh_migrate__bad(r, v, "'%s' is not a field name", sh_value_text(v) ? sh_value_text(v) : "");
			continue;
		}
		if ((op->index_fields[op->index_field_count] = strdup(v->text)) == NULL)
			r->oom = true;
		else
			op->index_field_count++;
	}
}

/* Fills op from its arguments `args`, already checked against its keys. */
static void sh_migrate__read_args(sh__reading *r, sh__op *op, const sh_value *args)
{
	switch (op->kind) {
	case SH__OP_CREATE_MODEL:
	case SH__OP_DELETE_MODEL: {
		op->model = sh_migrate__ident_arg(r, args, "name", &op->where_model);
		const sh_value *fields = sh_value_get(args, "fields");
		op->has_fields = fields != NULL || op->kind == SH__OP_CREATE_MODEL;
		if (op->model != NULL && sh_value_type_of(fields) == SH_VALUE_MAP)
			sh_migrate__read_fields(r, op, op->model, fields);
		break;
	}
	case SH__OP_ADD_FIELD:
	case SH__OP_ALTER_FIELD:
	case SH__OP_REMOVE_FIELD: {
		op->model = sh_migrate__ident_arg(r, args, "model", &op->where_model);
		op->name = sh_migrate__ident_arg(r, args, "name", &op->where_name);
		const sh_value *field = sh_value_get(args, "field");
		op->has_fields = field != NULL;
		if (op->model != NULL && op->name != NULL && field != NULL
			&& sh_value_type_of(field) == SH_VALUE_MAP)
			sh_migrate__read_field(r, op, op->model, op->name, field);
		break;
	}
	case SH__OP_RENAME_FIELD:
		op->model = sh_migrate__ident_arg(r, args, "model", &op->where_model);
		op->name = sh_migrate__ident_arg(r, args, "old_name", &op->where_name);
		op->new_name = sh_migrate__ident_arg(r, args, "new_name", NULL);
		break;
	case SH__OP_RENAME_MODEL:
		op->model = sh_migrate__ident_arg(r, args, "old_name", &op->where_model);
		op->new_name = sh_migrate__ident_arg(r, args, "new_name", &op->where_name);
		break;
	case SH__OP_ADD_INDEX:
	case SH__OP_REMOVE_INDEX:
		op->model = sh_migrate__ident_arg(r, args, "model", &op->where_model);
		op->name = sh_migrate__ident_arg(r, args, "name", &op->where_name);
		sh_migrate__read_index_fields(r, op, sh_value_get(args, "fields"));
		break;
	case SH__OP_RUN_SQL: {
		const char *sql = sh_value_path_string(args, "sql", NULL);
		const sh_value *reverse = sh_value_get(args, "reverse_sql");
		bool oom = false;
		op->sql = sh_migrate__dup(sql, &oom);
		if (sh_value_string(reverse) != NULL)
			op->reverse_sql = sh_migrate__dup(reverse->text, &oom);
		r->oom |= oom;
		break;
	}
	case SH__OP_KIND_COUNT:
		break;
	}
}

/* Reads operation `item` (a map of one key, the operation's kind). */
static void sh_migrate__read_op(sh__reading *r, sh__migration *m, const sh_value *item)
{
	if (item->count != 1) {
		sh_migrate__bad(r, item, "an operation is a map of one key, its kind (create_model, "
			"add_field, ...), not %zu keys", item->count);
		return;
	}
	const sh__entry *e = &item->entries[0];
	const struct sh__op_row *row = NULL;
	for (size_t i = 0; i < SH__COUNT(sh__op_rows); i++)
		if (strcmp(e->key, sh_migrate__op_name(sh__op_rows[i].kind)) == 0)
			row = &sh__op_rows[i];
	if (row == NULL) {
		const char *names[SH__OP_KIND_COUNT];
		for (size_t i = 0; i < SH__OP_KIND_COUNT; i++)
			names[i] = sh_migrate__op_name((sh__op_kind)i);
		const char *near = sh_base__suggest(e->key, names, SH__OP_KIND_COUNT);
		sh_manifest__problem_add(r->problems, SH_EMANIFEST, item->file, e->line, e->column,
			"unknown operation '%s'%s%s%s", e->key,
			near ? " (did you mean '" : " (one of create_model, delete_model, add_field, "
			"remove_field, alter_field, rename_field, rename_model, add_index, remove_index, "
			"run_sql)", near ? near : "", near ? "'?)" : "");
		r->found++;
		return;
	}
	char what[128];
	snprintf(what, sizeof what, "operation %s", e->key);
	size_t found = sh_manifest__schema_check(r->problems, e->value, row->keys, row->key_count, what);
	r->found += found;
	if (found > 0)
		return;
	sh__op *op = &m->ops[m->op_count++];
	op->kind = row->kind;
	op->where = sh_base__format("%s:%u:%u", item->file, e->line, e->column);
	if (op->where == NULL)
		r->oom = true;
	sh_migrate__read_args(r, op, e->value);
}

static void sh_migrate__read_dependency(sh__reading *r, sh__migration *m, const sh_value *item)
{
	const char *app = sh_value_text(sh_value_at(item, 0));
	const char *name = sh_value_text(sh_value_at(item, 1));
	if (item->count != 2 || app == NULL || name == NULL || *app == '\0' || *name == '\0') {
		sh_migrate__bad(r, item, "a dependency is a list of two strings, [app_label, migration_name]");
		return;
	}
	sh__dep *d = &m->deps[m->dep_count++];
	bool oom = false;
	d->app_label = sh_migrate__dup(app, &oom);
	d->name = sh_migrate__dup(name, &oom);
	d->where = sh_migrate__where_of(item);
	r->oom |= oom || d->where == NULL;
}

static void sh_migrate__read_root(sh__reading *r, sh__migration *m, const sh_value *root)
{
	r->found += sh_manifest__schema_check(r->problems, root, sh__file_keys, SH__COUNT(sh__file_keys),
		"migration file");
	if (sh_value_type_of(root) != SH_VALUE_MAP)
		return;
	m->initial = sh_value_path_bool(root, "initial", false);
	const sh_value *deps = sh_value_get(root, "dependencies");
	const sh_value *ops = sh_value_get(root, "operations");
	size_t dep_n = sh_value_type_of(deps) == SH_VALUE_LIST ? deps->count : 0;
	size_t op_n = sh_value_type_of(ops) == SH_VALUE_LIST ? ops->count : 0;
	m->deps = calloc(dep_n ? dep_n : 1, sizeof *m->deps);
	m->ops = calloc(op_n ? op_n : 1, sizeof *m->ops);
	if (m->deps == NULL || m->ops == NULL) {
		r->oom = true;
		return;
	}
	for (size_t i = 0; i < dep_n && !r->oom; i++)
		if (deps->entries[i].value->type == SH_VALUE_LIST)
			sh_migrate__read_dependency(r, m, deps->entries[i].value);
	for (size_t i = 0; i < op_n && !r->oom; i++)
		if (ops->entries[i].value->type == SH_VALUE_MAP)
			sh_migrate__read_op(r, m, ops->entries[i].value);
}

int sh_migrate__migration_read(sh__migration **out, const char *path, const char *app_label,
	const char *name, sh__problems *problems)
{
	*out = NULL;
	sh__doc *doc = NULL;
	size_t before = problems->count;
	int rc = sh_manifest__doc_read(&doc, path, problems);
	if (rc == SH_ENOMEM || doc == NULL) {
		sh_manifest__doc_free(doc);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	if (rc < 0 || problems->count > before) {
		sh_manifest__doc_free(doc);
		return 0;
	}
	sh__migration *m = calloc(1, sizeof *m);
	sh__reading r = { problems, app_label, 0, m == NULL };
	if (m != NULL) {
		bool oom = false;
		m->app_label = sh_migrate__dup(app_label, &oom);
		m->name = sh_migrate__dup(name, &oom);
		m->path = sh_migrate__dup(path, &oom);
		m->where = sh_base__format("%s:1:1", path);
		r.oom = oom || m->where == NULL;
		if (!r.oom && doc->root != NULL)
			sh_migrate__read_root(&r, m, doc->root);   /* an empty file: no operations */
	}
	sh_manifest__doc_free(doc);
	if (r.oom || problems->oom) {
		sh_migrate__migration_free(m);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	if (r.found > 0 || problems->count > before) {
		sh_migrate__migration_free(m);
		return 0;
	}
	*out = m;
	return 0;
}

void sh_migrate__migration_free(sh__migration *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->dep_count; i++) {
		free(m->deps[i].app_label);
		free(m->deps[i].name);
		free(m->deps[i].where);
	}
	free(m->deps);
	for (size_t i = 0; i < m->op_count; i++)
		sh_migrate__op_dispose(&m->ops[i]);
	free(m->ops);
	free(m->parents);
	free(m->children);
	free(m->app_label);
	free(m->name);
	free(m->path);
	free(m->where);
	free(m);
}
