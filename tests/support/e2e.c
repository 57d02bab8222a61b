/*
 * project.c: the scratch projects of project.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "e2e.h"

char *e2e_dir;
char *e2e_plugins;

void e2e_setup(void)
{
	e2e_dir = t_mkdtemp();
	e2e_plugins = t_path(e2e_dir, "plugins");
	cr_assert_eq(mkdir(e2e_plugins, 0755), 0);
}

void e2e_cleanup(void)
{
	t_rmtree(e2e_dir);
	free(e2e_dir);
	free(e2e_plugins);
}

void e2e_project(const char *yaml)
{
	free(t_write(e2e_dir, "project.yaml", yaml));
}

void e2e_manifest(const char *name, const char *text)
{
	free(t_write(e2e_plugins, name, text));
}

void e2e_plugin(const char *file, const char *label, const char *extra)
{
	char *from = NULL, *so = NULL, *yaml_name = NULL, *yaml = NULL;
	cr_assert_geq(asprintf(&from, "%s/%s.so", t_env("SIGHOST_TEST_PLUGIN_DIR"), file), 0);
	cr_assert_geq(asprintf(&so, "%s.so", label), 0);
	cr_assert_geq(asprintf(&yaml_name, "%s.yaml", label), 0);
	cr_assert_geq(asprintf(&yaml, "label: %s\nlibrary: %s\n%s", label, so, extra ? extra : ""), 0);
	free(t_copy(from, e2e_plugins, so, 0755));
	e2e_manifest(yaml_name, yaml);
	free(from);
	free(so);
	free(yaml_name);
	free(yaml);
}

t_run e2e_run(const char *const *args)
{
	return t_sighost(e2e_dir, NULL, args);
}

t_run e2e_run_within(double seconds, const char *const *args)
{
	return t_sighost_within(e2e_dir, NULL, args, seconds);
}

void e2e_has(const char *text, const char *needle)
{
	cr_assert_not_null(strstr(text, needle), "expected to find\n  %s\nin\n%s", needle, text);
}
