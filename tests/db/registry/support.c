/*
 * support.c: the helpers of support.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

sh_hub *hub;
sh_models *models;
char problems[16384];
size_t problem_count;
static int next_line;

static void collect(int code, const char *where, const char *message, void *payload)
{
	(void)payload;
	size_t used = strlen(problems);
	snprintf(problems + used, sizeof problems - used, "[%s] %s: %s\n", sh_error_name(code),
		where ? where : "(nowhere)", message);
	problem_count++;
}

void reg_setup(void)
{
	problems_clear();
	next_line = 2;
	cr_assert_eq(sh_hub_new(&hub), 0);
	cr_assert_eq(sh_models_new(&models, hub), 0);
	sh_models_set_reporter(models, collect, NULL);
}

void reg_teardown(void)
{
	sh_models_free(models);
	sh_hub_free(hub);
	models = NULL;
	hub = NULL;
}

void problems_clear(void)
{
	problems[0] = '\0';
	problem_count = 0;
}

void assert_problem(const char *needle)
{
	cr_assert_not_null(strstr(problems, needle), "no problem holds\n  %s\nproblems:\n%s",
		needle, problems);
}

sh_field_decl fd(const char *name, sh_field_type type)
{
	static char wheres[64][32];
	int line = next_line++;
	char *where = wheres[line % 64];
	snprintf(where, sizeof wheres[0], "models.yaml:%d:5", line);
	sh_field_decl f = SH_FIELD_DECL_INIT;
	f.name = name;
	f.type = type;
	f.where = where;
	return f;
}

sh_field_decl fk(const char *name, const char *to)
{
	sh_field_decl f = fd(name, SH_FIELD_FOREIGN_KEY);
	f.to = to;
	return f;
}

sh_field_decl m2m(const char *name, const char *to)
{
	sh_field_decl f = fd(name, SH_FIELD_MANY_TO_MANY);
	f.to = to;
	return f;
}

void declare_ok(const char *app, const char *name, const sh_field_decl *fields, size_t count)
{
	int rc = sh_models_declare(models, app, name, fields, count, "models.yaml:1:1");
	cr_assert_eq(rc, 0, "declare %s.%s: %s\n%s", app, name, sh_error_last()->message, problems);
}

const sh_model *model(const char *label)
{
	const sh_model *m = NULL;
	int rc = sh_models_lookup(&m, models, label);
	cr_assert_eq(rc, 0, "lookup %s: %s", label, sh_error_last()->message);
	cr_assert_not_null(m);
	return m;
}
