/*
 * startapp.c: `sighost startapp LABEL [DIR]`, Django's startapp for a
 * plugin: writes into DIR (default ./LABEL, made when missing)
 *
 *   LABEL.c       a plugin that compiles: SH_PLUGIN_ABI, ready(), one
 *                 receiver (post_migrate from the app itself) and one view;
 *   LABEL.yaml    its app manifest: label, library, abi, the migrations
 *                 folder, one route to the view, a model to uncomment;
 *   migrations/   empty, so makemigrations writes the app's first migration;
 *   Makefile      builds LABEL.so with `pkg-config --cflags --libs sighost`.
 *
 * It never overwrites a file: an existing one is an error, and nothing is
 * written then (every path is checked before the first write). Exit
 * status: 0, 1 when a file exists or cannot be written, 2 for a usage
 * error (a label that is not an identifier).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char sh__c_template[] =
	"/*\n"
	" * @L@.c: the @L@ app, written by `sighost startapp @L@`. Build it with\n"
	" * `make` (see the Makefile: cc and pkg-config), then add `@L@` to the\n"
	" * project manifest's installed_apps and this directory to its plugin_dirs.\n"
	" */\n"
	"#include <sighost/sys/sighost.h>\n"
	"\n"
	"SH_PLUGIN_ABI;\n"
	"\n"
	"/* Runs after `sighost migrate` for this app (sender: the app's label). */\n"
	"SH_RECEIVER(on_migrated, \"post_migrate\", \"@L@\")\n"
	"{\n"
	"\tconst sh_app *app = payload;\n"
	"\tsh_app_log(app, SH_LOG_INFO, \"@L@ is migrated\");\n"
	"\treturn 0;\n"
	"}\n"
	"\n"
	"/* GET /@L@/ : the route of @L@.yaml. */\n"
	"SH_VIEW(index)\n"
	"{\n"
	"\t(void)request;\n"
	"\treturn sh_http_response_text(response, 200, \"Hello from @L@\\n\");\n"
	"}\n"
	"\n"
	"/* Called once every app's models are registered: connect the receivers. */\n"
	"int ready(sh_app *app)\n"
	"{\n"
	"\treturn SH_APP_CONNECT_RECEIVERS(app, app);\n"
	"}\n";

static const char sh__yaml_template[] =
	"# The app manifest of @L@ (see docs/manifests.md). @L@.so sits beside it.\n"
	"label: @L@\n"
	"library: @L@.so\n"
	"abi: 1\n"
	"version: \"0.1\"\n"
	"description: the @L@ app\n"
	"migrations: migrations\n"
	"\n"
	"# Declare models here, then run `sighost makemigrations @L@` and\n"
	"# `sighost migrate` (see docs/models.md), for example:\n"
	"# models:\n"
	"#   Item:\n"
	"#     fields:\n"
	"#       name: {type: text, max_length: 100}\n"
	"\n"
	"routes:\n"
	"  - path: /@L@/\n"
	"    view: index\n";

static const char sh__make_template[] =
	"# Builds @L@.so against the installed sighost (pkg-config finds it; for a\n"
	"# prefix of your own: export PKG_CONFIG_PATH=PREFIX/lib/x86_64-linux-gnu/pkgconfig).\n"
	"CFLAGS ?= -std=c17 -Wall -Wextra -Werror -O2\n"
	"SIGHOST_CFLAGS := $(shell pkg-config --cflags sighost)\n"
	"SIGHOST_LIBS := $(shell pkg-config --libs sighost)\n"
	"SIGHOST_LIBDIR := $(shell pkg-config --variable=libdir sighost)\n"
	"\n"
	"@L@.so: @L@.c\n"
	"\t$(CC) $(CFLAGS) $(SIGHOST_CFLAGS) -shared -fPIC $< -o $@ $(SIGHOST_LIBS) "
	"-Wl,-rpath,$(SIGHOST_LIBDIR)\n"
	"\n"
	"clean:\n"
	"\trm -f @L@.so\n"
	"\n"
	".PHONY: clean\n";

/* A label is a C identifier of at most 64 characters (it names symbols,
 * tables and files). */
static bool sh_cli__label_ok(const char *label)
{
	size_t n = strlen(label);
	if (n == 0 || n > 64 || (label[0] >= '0' && label[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = label[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* Writes `template` with @L@ replaced by `label` to path, refusing to
 * replace a file. Returns 0 or -1 (printed). */
static int sh_cli__write(const char *path, const char *template, const char *label)
{
	FILE *f = fopen(path, "wx");
	if (f == NULL) {
		fprintf(stderr, "sighost startapp: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (const char *p = template; *p != '\0'; p++) {
		if (strncmp(p, "@L@", 3) == 0) {
			fputs(label, f);
			p += 2;
		} else {
			fputc(*p, f);
		}
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "sighost startapp: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int sh_cli_startapp(int argc, char **argv)
{
	if (argc < 2 || argc > 3 || argv[1][0] == '-' || (argc == 3 && argv[2][0] == '-')) {
		fprintf(stderr, "usage: sighost startapp LABEL [DIR]\n");
		return 2;
	}
	const char *label = argv[1];
	if (!sh_cli__label_ok(label)) {
		fprintf(stderr, "sighost startapp: '%s' is not a valid app label: use letters, digits "
			"and '_', not starting with a digit, at most 64 characters\n", label);
		return 2;
	}
	const char *dir = argc == 3 ? argv[2] : label;
	char c[4096], yaml[4096], make[4096], mig[4096];
	snprintf(c, sizeof c, "%s/%s.c", dir, label);
	snprintf(yaml, sizeof yaml, "%s/%s.yaml", dir, label);
	snprintf(make, sizeof make, "%s/Makefile", dir);
	snprintf(mig, sizeof mig, "%s/migrations", dir);
	const char *paths[] = { c, yaml, make, mig };
	for (size_t i = 0; i < 4; i++) {
		if (access(paths[i], F_OK) == 0) {
			fprintf(stderr, "sighost startapp: %s already exists; nothing was written\n",
				paths[i]);
			return 1;
		}
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "sighost startapp: cannot make %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (mkdir(mig, 0755) != 0) {
		fprintf(stderr, "sighost startapp: cannot make %s: %s\n", mig, strerror(errno));
		return 1;
	}
	if (sh_cli__write(c, sh__c_template, label) < 0 || sh_cli__write(yaml, sh__yaml_template, label) < 0
			|| sh_cli__write(make, sh__make_template, label) < 0)
		return 1;
	printf("Created app '%s' in %s/: %s.c, %s.yaml, migrations/, Makefile.\n"
		"Next: (cd %s && make), then add '%s' to installed_apps and '%s' to plugin_dirs "
		"in the project manifest, and run 'sighost check'.\n", label, dir, label, label,
		dir, label, dir);
	return 0;
}
