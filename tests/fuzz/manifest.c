/*
 * manifest.c: libFuzzer target for reading and validating manifests. Each
 * input is split at the first "\n---8<---\n" into a project manifest and
 * one app manifest (label "fz", in the project's plugin directory), which
 * are read, validated and checked (models, routes), without loading code.
 * Any input must give problems or success, never a crash, a leak or UB.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sighost/sighost.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char project_path[128];
static char app_path[128];

static void write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		abort();
	if (size > 0 && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
}

static void init_dirs(void)
{
	if (dir[0] != '\0')
		return;
	snprintf(dir, sizeof dir, "/tmp/sighost-fuzz-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	char plugins[128];
	snprintf(plugins, sizeof plugins, "%s/plugins", dir);
	mkdir(plugins, 0755);
	snprintf(project_path, sizeof project_path, "%s/project.yaml", dir);
	snprintf(app_path, sizeof app_path, "%s/fz.yaml", plugins);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_dirs();
	static const char cut[] = "\n---8<---\n";
	const uint8_t *split = memmem(data, size, cut, sizeof cut - 1);
	size_t project_size = split != NULL ? (size_t)(split - data) : size;
	write_file(project_path, data, project_size);
	if (split != NULL) {
		const uint8_t *app = split + sizeof cut - 1;
		write_file(app_path, app, size - (size_t)(app - data));
	} else {
		unlink(app_path);
	}
	sh_project *project;
	if (sh_project_new(&project) < 0)
		return 0;
	if (sh_project_read(project, project_path) == 0) {
		sh_router *router;
		if (sh_router_new(&router) == 0) {
			for (size_t i = 0; i < sh_project_app_count(project); i++)
				sh_router_add_app(router, sh_project_app_at(project, i));
			sh_router_free(router);
		}
	}
	for (size_t i = 0; i < sh_project_problem_count(project); i++)
		if (sh_project_problem(project, i)->text == NULL)
			abort();
	sh_project_free(project);
	return 0;
}
