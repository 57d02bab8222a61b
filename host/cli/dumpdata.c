/*
 * dumpdata.c: `sighost dumpdata [APP[.Model]...] [--indent N] [--output
 * FILE] [--settings FILE]`, Django's dumpdata in its JSON format:
 *
 *     [{"model": "shop.item", "pk": 1, "fields": {"name": "x", "owner": 2,
 *       "tags": [1, 3]}}, ...]
 *
 * Every model of the installed apps (or of the apps and models named), in
 * registry order, each model's rows by pk; the automatic join models are
 * left out, their rows appear as the many-to-many fields' lists of pks
 * (ascending), as Django's python serializer writes them. Each row is
 * loaded as an instance (pre_init/post_init, as Django's dumpdata loads
 * its querysets); the many-to-many pks are read without loading the
 * related rows (Django loads them with only('pk'), see docs/models.md).
 * Keys are the target's pk; JSON fields are written as JSON values; dates
 * and datetimes as the text sighost stores (microseconds kept).
 *
 * The whole dump is built in memory before it is written, so a failure
 * midway writes nothing. Exit status: 0, 1 on a problem, 2 for a usage
 * error.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fixture.h"
#include "project_open.h"

typedef struct dump_opts {
	const char *settings;
	const char *output;
	int indent;                /* -1: none (one line) */
} dump_opts;

static int parse(int argc, char **argv, dump_opts *o)
{
	static const struct option options[] = {
		SH_CLI_SETTINGS_OPTION,
		{ "indent", 1, NULL, 'i' },
		{ "output", 1, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	*o = (dump_opts){ NULL, NULL, -1 };
	for (int c; (c = getopt_long(argc, argv, "o:", options, NULL)) != -1;) {
		switch (c) {
		case 's': o->settings = optarg; break;
		case 'o': o->output = optarg; break;
		case 'i': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 0 || v > 31) {
				fprintf(stderr, "sighost dumpdata: --indent takes a number from 0 to 31, "
					"not '%s'\n", optarg);
				return 2;
			}
			o->indent = (int)v;
			break;
		}
		default: return 2;
		}
	}
	return 0;
}

/* Whether `model` is among the APP or APP.Model arguments (all without any). */
static bool wanted(const sh_model *model, char **args, int count)
{
	if (count == 0)
		return true;
	for (int i = 0; i < count; i++) {
		const char *dot = strchr(args[i], '.');
		if (dot == NULL ? strcmp(args[i], sh_model_app_label(model)) == 0
				: strcasecmp(args[i], sh_model_label(model)) == 0)
			return true;
	}
	return false;
}

/* Checks every argument names an installed app or a model of one. */
static int check_args(sh_project *project, char **args, int count)
{
	for (int i = 0; i < count; i++) {
		const sh_model *m;
		if (strchr(args[i], '.') == NULL ? sh_project_app(project, args[i]) != NULL
				: sh_models_lookup(&m, sh_project_models(project), args[i]) == 0)
			continue;
		fprintf(stderr, strchr(args[i], '.') == NULL
			? "sighost dumpdata: no installed app with label '%s'\n"
			: "sighost dumpdata: unknown model '%s'\n", args[i]);
		return -1;
	}
	return 0;
}

/* One row: {"model": ..., "pk": ..., "fields": {...}}. */
static int dump_instance(json_t *out, sh_instance *inst)
{
	const sh_model *m = sh_instance_model(inst);
	json_t *fields = json_object();
	json_t *pk = NULL;
	int rc = fields == NULL ? sh_error_set(SH_ENOMEM, "out of memory dumping data") : 0;
	for (size_t i = 0; rc == 0 && i < sh_model_field_count(m); i++) {
		const sh_field *f = sh_model_field_at(m, i);
		json_t *value = NULL;
		if (sh_field_type_of(f) == SH_FIELD_MANY_TO_MANY)
			continue;   /* after the others, as Django's serializer */
		sh_datum d;
		if ((rc = sh_instance_get(inst, sh_field_name(f), &d)) == 0)
			rc = sh_cli_fixture_value(&value, f, d);
		if (rc < 0)
			break;
		if (sh_field_primary_key(f))
			pk = value;
		else
			json_object_set_new(fields, sh_field_name(f), value);
	}
	for (size_t i = 0; rc == 0 && i < sh_model_field_count(m); i++) {
		const sh_field *f = sh_model_field_at(m, i);
		if (sh_field_type_of(f) != SH_FIELD_MANY_TO_MANY)
			continue;
		int64_t *pks = NULL;
		size_t n = 0;
		if ((rc = sh_m2m_pks(inst, sh_field_name(f), &pks, &n)) < 0)
			break;
		json_t *list = json_array();
		for (size_t k = 0; list != NULL && k < n; k++)
			json_array_append_new(list, json_integer(pks[k]));
		free(pks);
		json_object_set_new(fields, sh_field_name(f), list);
	}
	char label[256];
	sh_cli_fixture_label(label, sizeof label, m);
	json_t *obj = rc == 0 ? json_pack("{s:s, s:o, s:o}", "model", label, "pk",
		pk != NULL ? pk : json_null(), "fields", fields) : NULL;
	if (rc == 0 && (obj == NULL || json_array_append_new(out, obj) < 0))
		rc = sh_error_set(SH_ENOMEM, "out of memory dumping data");
	if (rc < 0 && obj == NULL) {
		json_decref(fields);
		json_decref(pk);
	}
	return rc;
}

static int dump_model(json_t *out, sh_conn *db, const sh_model *model)
{
	sh_query *q;
	int rc = sh_query_new(&q, db, model);
	if (rc == 0)
		rc = sh_query_order_by(q, sh_field_name(sh_model_pk(model)));
	while (rc == 0) {
		sh_instance *inst;
		int step = sh_query_next(q, &inst);
		if (step <= 0) {
			rc = step;
			break;
		}
		rc = dump_instance(out, inst);
		sh_instance_free(inst);
	}
	sh_query_free(q);
	return rc;
}

static int write_dump(const json_t *dump, const dump_opts *o)
{
	size_t flags = JSON_PRESERVE_ORDER | (o->indent >= 0 ? JSON_INDENT(o->indent) : 0);
	char *text = json_dumps(dump, flags);
	if (text == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory writing the dump");
	FILE *f = o->output != NULL ? fopen(o->output, "w") : stdout;
	int rc = 0;
	if (f == NULL)
		rc = sh_error_set(SH_EIO, "cannot write %s: %m", o->output);
	else if (fputs(text, f) < 0 || fputc('\n', f) < 0 || fflush(f) != 0)
		rc = sh_error_set(SH_EIO, "cannot write %s: %m", o->output ? o->output : "stdout");
	if (f != NULL && f != stdout && fclose(f) != 0 && rc == 0)
		rc = sh_error_set(SH_EIO, "cannot write %s: %m", o->output);
	free(text);
	return rc;
}

int sh_cli_dumpdata(int argc, char **argv)
{
	dump_opts o;
	if (parse(argc, argv, &o) != 0)
		return 2;
	sh_project *project = sh_cli_project(o.settings, true, "dumpdata");
	if (project == NULL)
		return 1;
	char **args = argv + optind;
	int count = argc - optind;
	if (check_args(project, args, count) < 0) {
		sh_project_free(project);
		return 1;
	}
	sh_models *models = sh_project_models(project);
	sh_conn *db = NULL;
	int rc = sh_cli_conn(&db, project);
	json_t *dump = json_array();
	if (rc == 0 && dump == NULL)
		rc = sh_error_set(SH_ENOMEM, "out of memory dumping data");
	for (size_t i = 0; rc == 0 && i < sh_models_count(models); i++) {
		const sh_model *m = sh_models_at(models, i);
		if (!sh_model_auto_created(m) && wanted(m, args, count))
			rc = dump_model(dump, db, m);
	}
	if (rc == 0)
		rc = write_dump(dump, &o);
	if (rc < 0)
		fprintf(stderr, "sighost dumpdata: %s\n", sh_error_last()->message);
	json_decref(dump);
	sh_project_free(project);
	return rc < 0 ? 1 : 0;
}
