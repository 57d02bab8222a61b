/*
 * route.c: libFuzzer target for route matching. A router is built once
 * from an app manifest with typed patterns (int, str, slug, uuid, path);
 * each input is "METHOD PATH" (split at the first space; no space: GET)
 * and is matched, including the parameters of a match.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sighost/sys/sighost.h>

#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sh_project *project;
static sh_router *router;

static void build_router(void)
{
	fuzz_scratch("route");
	fuzz_mkdir("plugins");
	fuzz_write_text("plugins/fz.yaml",
		"label: fz\n"
		"routes:\n"
		"  - {path: /, view: index}\n"
		"  - {path: /alerts/<int:id>, view: alert, methods: [GET, PUT, DELETE]}\n"
		"  - {path: /alerts/<int:id>/tags/<slug:tag>, view: tag}\n"
		"  - {path: /users/<str:name>/, view: user, methods: [GET, POST]}\n"
		"  - {path: /objects/<uuid:key>, view: object}\n"
		"  - {path: /files/<path:rest>, view: file}\n"
		"  - {path: /a/<int:x>/<int:y>/<str:z>, view: deep}\n");
	fuzz_write_text("project.yaml", "project: fz\nplugin_dirs: [plugins]\ninstalled_apps: [fz]\n");
	if (sh_project_new(&project) < 0 || sh_project_read(project, fuzz_path("project.yaml")) < 0)
		abort();
	if (sh_router_new(&router) < 0 || sh_router_add_app(router, sh_project_app_at(project, 0)) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (router == NULL)
		build_router();
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	const char *method = "GET";
	char *path = text;
	char *space = strchr(text, ' ');
	if (space != NULL) {
		*space = '\0';
		method = text;
		path = space + 1;
	}
	sh_route_match *match = NULL;
	int rc = sh_router_match(&match, router, method, path);
	if (rc == 0) {
		for (size_t i = 0; i < sh_route_match_param_count(match); i++) {
			const char *name = NULL;
			if (sh_route_match_param_at(match, i, &name) == NULL || name == NULL)
				abort();
		}
	}
	sh_route_match_free(match);
	free(text);
	return 0;
}
