/*
 * model_sql.c: the SQL of each model's statements (INSERT, UPDATE, SELECT
 * and DELETE by pk, ...), built once per model when the database opens, so
 * the save path reaches its statement by index with no lookup
 * (sh_db__model_stmt in statement.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orm.h"

/* ---- per-model SQL, built once ---- */

static void sh_db__model_sql_free(sh__model_sql *msql)
{
	free(msql->columns);
	free(msql->kinds);
	free(msql->defaults);
	free(msql->required);
	free(msql->select);
	for (int k = 0; k < SH__SQL_KIND_COUNT; k++)
		free(msql->sql[k]);
	free(msql->related);
	free(msql->reverse_m2m);
}

void sh_db__orm_free(struct sh__orm *orm)
{
	if (orm == NULL)
		return;
	for (size_t i = 0; i < orm->model_count; i++)
		sh_db__model_sql_free(&orm->models[i]);
	free(orm->models);
	free(orm);
}

/* Appends "c1", "c2", ... of the columns, the pk skipped when `skip_pk`. */
static void sh_db__add_columns(sh__buf *buf, const sh__model_sql *msql, bool skip_pk,
	const char *suffix)
{
	const sh_model *m = msql->model;
	bool first = true;
	for (size_t i = 0; i < msql->column_count; i++) {
		const sh_field *f = &m->fields[msql->columns[i]];
		if (skip_pk && f->index == m->pk)
			continue;
		if (!first)
			sh_db__buf_add(buf, ", ");
		sh_db__buf_ident(buf, f->column);
		sh_db__buf_add(buf, suffix);
		first = false;
	}
}

static char *sh_db__where_pk(const sh_model *m, const char *head)
{
	sh__buf buf = { 0 };
	sh_db__buf_add(&buf, head);
	sh_db__buf_add(&buf, " WHERE ");
	sh_db__buf_ident(&buf, m->fields[m->pk].column);
	sh_db__buf_add(&buf, " = ?");
	return sh_db__buf_take(&buf);
}

static int sh_db__model_sql_build(sh__model_sql *msql, const sh_model *m, const sh_models *models)
{
	msql->model = m;
	msql->auto_pk = m->fields[m->pk].type == SH_FIELD_AUTO;
	size_t n = m->field_count ? m->field_count : 1;
	msql->columns = calloc(n, sizeof *msql->columns);
	msql->kinds = calloc(n, sizeof *msql->kinds);
	msql->defaults = calloc(n, sizeof *msql->defaults);
	msql->required = calloc(n, sizeof *msql->required);
	if (msql->columns == NULL || msql->kinds == NULL || msql->defaults == NULL
		|| msql->required == NULL)
		return SH_ENOMEM;
	msql->first_field = m->pk == 0 && m->field_count > 1 ? 1 : 0;
	for (size_t i = 0; i < m->field_count; i++) {
		const sh_field *f = &m->fields[i];
		/* Django's Field.get_default(): the declared default, else "" for
		 * text fields that do not allow null (CharField and TextField take
		 * empty strings), else NULL. */
		msql->defaults[i] = f->type == SH_FIELD_MANY_TO_MANY ? sh_datum_null()
			: f->has_default ? f->default_value
			: f->type == SH_FIELD_TEXT && !f->null ? sh_datum_text("")
			: sh_datum_null();
		if (f->column != NULL && i != m->pk && !f->null)
			msql->required[msql->required_count++] = i;
		msql->kinds[msql->column_count] = f->type == SH_FIELD_REAL ? SH__KIND_REAL
			: f->type == SH_FIELD_BOOLEAN ? SH__KIND_BOOL
			: (f->type == SH_FIELD_TEXT || f->type == SH_FIELD_DATE
				|| f->type == SH_FIELD_DATETIME || f->type == SH_FIELD_JSON) ? SH__KIND_TEXT
			: SH__KIND_INT;
		if (f->auto_now || f->auto_now_add) {
			msql->has_auto_now = true;
			msql->auto_count++;
		}
		if (f->type == SH_FIELD_FOREIGN_KEY)
			msql->has_fk = true;
		if (f->column == NULL)
			msql->has_m2m = true;
		else
			msql->columns[msql->column_count++] = i;
	}
	size_t non_pk = msql->column_count - 1;

	sh__buf buf = { 0 };
	sh_db__buf_add(&buf, "SELECT ");
	sh_db__add_columns(&buf, msql, false, "");
	sh_db__buf_add(&buf, " FROM ");
	sh_db__buf_ident(&buf, m->table);
	msql->select = sh_db__buf_take(&buf);
	if (msql->select == NULL)
		return SH_ENOMEM;

	sh_db__buf_add(&buf, "INSERT INTO ");
	sh_db__buf_ident(&buf, m->table);
	if (non_pk == 0) {
		sh_db__buf_add(&buf, " DEFAULT VALUES");
	} else {
		sh_db__buf_add(&buf, " (");
		sh_db__add_columns(&buf, msql, true, "");
		sh_db__buf_add(&buf, ") VALUES (");
		sh_db__buf_params(&buf, non_pk);
		sh_db__buf_add(&buf, ")");
	}
	msql->sql[SH__SQL_INSERT] = sh_db__buf_take(&buf);

	sh_db__buf_add(&buf, "INSERT INTO ");
	sh_db__buf_ident(&buf, m->table);
	sh_db__buf_add(&buf, " (");
	sh_db__add_columns(&buf, msql, false, "");
	sh_db__buf_add(&buf, ") VALUES (");
	sh_db__buf_params(&buf, msql->column_count);
	sh_db__buf_add(&buf, ")");
	msql->sql[SH__SQL_INSERT_PK] = sh_db__buf_take(&buf);

	if (non_pk > 0) {
		sh_db__buf_add(&buf, "UPDATE ");
		sh_db__buf_ident(&buf, m->table);
		sh_db__buf_add(&buf, " SET ");
		sh_db__add_columns(&buf, msql, true, " = ?");
		char *head = sh_db__buf_take(&buf);
		if (head == NULL)
			return SH_ENOMEM;
		msql->sql[SH__SQL_UPDATE] = sh_db__where_pk(m, head);
		free(head);
		if (msql->sql[SH__SQL_UPDATE] == NULL)
			return SH_ENOMEM;
	}
	msql->sql[SH__SQL_SELECT_PK] = sh_db__where_pk(m, msql->select);
	sh_db__buf_add(&buf, "SELECT 1 FROM ");
	sh_db__buf_ident(&buf, m->table);
	char *head = sh_db__buf_take(&buf);
	if (head == NULL)
		return SH_ENOMEM;
	msql->sql[SH__SQL_EXISTS_PK] = sh_db__where_pk(m, head);
	free(head);
	for (int k = 0; k < SH__SQL_KIND_COUNT; k++)
		if (msql->sql[k] == NULL && k != SH__SQL_UPDATE)
			return SH_ENOMEM;

	/* Relations pointing at m, from every model of the registry: counted,
	 * then stored. */
	size_t count = sh_models_count(models);
	for (int pass = 0; pass < 2; pass++) {
		size_t nr = 0, nm = 0;
		for (size_t j = 0; j < count; j++) {
			sh_model *from = (sh_model *)sh_models_at(models, j);
			for (size_t k = 0; k < from->field_count; k++) {
				const sh_field *f = &from->fields[k];
				if (f->target != m)
					continue;
				if (f->type == SH_FIELD_FOREIGN_KEY) {
					if (pass == 1)
						msql->related[nr] = (sh__reverse){ from, k };
					nr++;
				} else if (f->type == SH_FIELD_MANY_TO_MANY) {
					if (pass == 1)
						msql->reverse_m2m[nm] = (sh__reverse){ from, k };
					nm++;
				}
			}
		}
		if (pass == 0) {
			msql->related = calloc(nr ? nr : 1, sizeof *msql->related);
			msql->reverse_m2m = calloc(nm ? nm : 1, sizeof *msql->reverse_m2m);
			if (msql->related == NULL || msql->reverse_m2m == NULL)
				return SH_ENOMEM;
		} else {
			msql->related_count = nr;
			msql->reverse_m2m_count = nm;
		}
	}
	return 0;
}

int sh_db__orm_build(sh_database *database)
{
	struct sh__orm *orm = calloc(1, sizeof *orm);
	if (orm == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory opening database %s", database->path);
	database->orm = orm;
	sh_models *models = database->models;
	size_t count = sh_models_count(models);
	orm->models = calloc(count ? count : 1, sizeof *orm->models);
	if (orm->models == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory opening database %s", database->path);
	orm->model_count = count;
	for (int id = 0; id < SH_BUILTIN_COUNT; id++)
		orm->signals[id] = sh_hub_builtin(database->hub, (sh_builtin)id);
	for (size_t i = 0; i < count; i++) {
		const sh_model *m = sh_models_at(models, i);
		if (m->index >= count || orm->models[m->index].model != NULL)
			return sh_error_set(SH_EINVAL, "model %s has a bad registry index", m->label);
		int rc = sh_db__model_sql_build(&orm->models[m->index], m, models);
		if (rc < 0)
			return sh_error_set(rc, "out of memory building the SQL of %s", m->label);
	}
	return 0;
}
