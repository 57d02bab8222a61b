/*
 * manifest.c: libFuzzer target for reading and validating manifests. Each
 * input is split at the first "\n---8<---\n" into a project manifest and
 * one app manifest (label "fz", in the project's plugin directory), which
 * are read, validated and checked (models, routes), without loading code.
 * A project read without problems goes on as loading would, short of the
 * plugins: its models are prepared (relations resolved, join models made,
 * class_prepared sent) and its database is opened (each model's SQL built;
 * no connection, so no file is written). Any input must give problems or
 * success, never a crash, a leak or UB; every problem and every failure
 * has a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sighost/sys/sighost.h>

#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool ready;

static void init_dirs(void)
{
	fuzz_scratch("manifest");
	fuzz_mkdir("plugins");
	ready = true;
}

/* What loading does with the models, without the plugins. */
static void prepare(sh_project *project)
{
	sh_models *models = sh_project_models(project);
	if (sh_models_prepare(models) < 0) {
		const char *why = sh_error_last()->message;
		if (why == NULL || why[0] == '\0')
			abort();
		return;
	}
	for (size_t i = 0; i < sh_models_count(models); i++) {
		const sh_model *m = sh_models_at(models, i);
		if (sh_model_label(m) == NULL || sh_model_table(m) == NULL || sh_model_pk(m) == NULL)
			abort();
	}
	sh_database *database = NULL;
	if (sh_database_open(&database, fuzz_path("fz.sqlite3"), models) == 0)
		sh_database_close(database);
	else if (sh_error_last()->message == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready)
		init_dirs();
	static const char cut[] = "\n---8<---\n";
	const uint8_t *split = memmem(data, size, cut, sizeof cut - 1);
	size_t project_size = split != NULL ? (size_t)(split - data) : size;
	fuzz_write("project.yaml", data, project_size);
	if (split != NULL) {
		const uint8_t *app = split + sizeof cut - 1;
		fuzz_write("plugins/fz.yaml", app, size - (size_t)(app - data));
	} else {
		unlink(fuzz_path("plugins/fz.yaml"));
	}
	sh_project *project;
	if (sh_project_new(&project) < 0)
		return 0;
	if (sh_project_read(project, fuzz_path("project.yaml")) == 0) {
		sh_router *router;
		if (sh_router_new(&router) == 0) {
			for (size_t i = 0; i < sh_project_app_count(project); i++)
				sh_router_add_app(router, sh_project_app_at(project, i));
			sh_router_free(router);
		}
		prepare(project);
	}
	for (size_t i = 0; i < sh_project_problem_count(project); i++)
		if (sh_project_problem(project, i)->text == NULL)
			abort();
	sh_project_free(project);
	return 0;
}
