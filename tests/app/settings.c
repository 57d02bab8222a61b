/*
 * settings.c: how manifest values read: YAML 1.2 core typing of scalars,
 * positions, dotted paths and typed fallbacks, map order, an app's own
 * settings section, and which project manifest is picked.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sighost/sys/sighost.h>

#include "../support/support.h"

static char *dir;
static sh_project *project;

static void setup(void)
{
	dir = t_mkdtemp();
	cr_assert_eq(sh_project_new(&project), 0);
}

static void cleanup(void)
{
	sh_project_free(project);
	t_rmtree(dir);
	free(dir);
}

TestSuite(settings, .init = setup, .fini = cleanup);

static const sh_value *read_settings(const char *settings_yaml)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: t\nsettings:\n%s", settings_yaml), 0);
	char *path = t_write(dir, "project.yaml", text);
	int rc = sh_project_read(project, path);
	cr_assert_eq(rc, 0, "read failed: %s", sh_error_last()->message);
	free(text);
	free(path);
	return sh_project_settings(project);
}

Test(settings, scalars_are_typed_by_the_yaml_core_schema)
{
	const sh_value *s = read_settings(
		"  count: 42\n  negative: -7\n  quoted: \"42\"\n  on: true\n  off: False\n"
		"  yes_word: yes\n  ratio: 1.5\n  nothing: ~\n  empty:\n  tagged: !!str 12\n"
		"  huge: 99999999999999999999\n");
	int64_t n = 0;
	bool b = false;
	cr_assert_eq(sh_value_int(&n, sh_value_get(s, "count")), 0);
	cr_assert_eq(n, 42);
	cr_assert_eq(sh_value_int(&n, sh_value_get(s, "negative")), 0);
	cr_assert_eq(n, -7);
	cr_assert_eq(sh_value_type_of(sh_value_get(s, "quoted")), SH_VALUE_STRING);
	cr_assert_str_eq(sh_value_string(sh_value_get(s, "quoted")), "42");
	cr_assert_eq(sh_value_bool(&b, sh_value_get(s, "on")), 0);
	cr_assert(b);
	cr_assert_eq(sh_value_bool(&b, sh_value_get(s, "off")), 0);
	cr_assert_not(b);
	cr_assert_str_eq(sh_value_string(sh_value_get(s, "yes_word")), "yes");
	cr_assert_str_eq(sh_value_string(sh_value_get(s, "ratio")), "1.5");
	cr_assert_eq(sh_value_type_of(sh_value_get(s, "nothing")), SH_VALUE_NULL);
	cr_assert_not_null(sh_value_get(s, "nothing"), "a null value is still present");
	cr_assert_eq(sh_value_type_of(sh_value_get(s, "empty")), SH_VALUE_NULL);
	cr_assert_str_eq(sh_value_string(sh_value_get(s, "tagged")), "12");
	cr_assert_str_eq(sh_value_string(sh_value_get(s, "huge")), "99999999999999999999");
	cr_assert_eq(sh_value_int(&n, sh_value_get(s, "quoted")), SH_EINVAL);
	cr_assert_str_eq(sh_value_text(sh_value_get(s, "count")), "42");
}

Test(settings, values_know_their_file_line_and_column)
{
	const sh_value *s = read_settings("  debug: true\n  hosts:\n    - a.example\n    - b.example\n");
	const sh_value *hosts = sh_value_get(s, "hosts");
	cr_assert_eq(sh_value_line(sh_value_get(s, "debug")), 3);
	cr_assert_eq(sh_value_column(sh_value_get(s, "debug")), 10);
	cr_assert_eq(sh_value_line(sh_value_at(hosts, 1)), 6);
	cr_assert_eq(sh_value_column(sh_value_at(hosts, 1)), 7);
	cr_assert_not_null(strstr(sh_value_file(hosts), "project.yaml"));
	cr_assert_eq(sh_value_line(NULL), 0);
}

Test(settings, lists_and_maps_keep_their_order)
{
	const sh_value *s = read_settings("  zeta: 1\n  alpha: 2\n  mid: [x, 2, false]\n");
	cr_assert_eq(sh_value_length(s), 3);
	cr_assert_str_eq(sh_value_key_at(s, 0), "zeta");
	cr_assert_str_eq(sh_value_key_at(s, 1), "alpha");
	const sh_value *mid = sh_value_get(s, "mid");
	cr_assert_eq(sh_value_type_of(mid), SH_VALUE_LIST);
	cr_assert_eq(sh_value_length(mid), 3);
	cr_assert_str_eq(sh_value_string(sh_value_at(mid, 0)), "x");
	cr_assert_eq(sh_value_type_of(sh_value_at(mid, 1)), SH_VALUE_INT);
	cr_assert_eq(sh_value_type_of(sh_value_at(mid, 2)), SH_VALUE_BOOL);
	cr_assert_null(sh_value_at(mid, 3));
	cr_assert_null(sh_value_key_at(mid, 0), "a list has no keys");
	cr_assert_eq(sh_value_length(sh_value_at(mid, 0)), 0);
}

Test(settings, dotted_paths_walk_nested_maps_with_typed_fallbacks)
{
	const sh_value *s = read_settings("  audit:\n    path: a.log\n    depth: 3\n    on: true\n");
	cr_assert_str_eq(sh_value_path_string(s, "audit.path", "x"), "a.log");
	cr_assert_eq(sh_value_path_int(s, "audit.depth", 0), 3);
	cr_assert(sh_value_path_bool(s, "audit.on", false));
	cr_assert_str_eq(sh_value_path_string(s, "audit.depth", "fallback"), "fallback",
		"an integer is not a string");
	cr_assert_eq(sh_value_path_int(s, "audit.missing", -1), -1);
	cr_assert_null(sh_value_path(s, "audit.path.deeper"));
	cr_assert_null(sh_value_path(s, "audit."));
	cr_assert_eq(sh_value_path(s, ""), s);
	cr_assert_null(sh_value_path(NULL, "audit"));
}

Test(settings, an_app_sees_its_section_and_the_project_settings)
{
	free(t_write(dir, "notes.yaml", "label: notes\n"));
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: t\nplugin_dirs: [%s]\ninstalled_apps: [notes]\n"
		"settings:\n  debug: true\n  notes:\n    color: blue\n", dir), 0);
	char *path = t_write(dir, "project.yaml.in", text);
	cr_assert_eq(sh_project_read(project, path), 0, "%s", sh_error_last()->message);
	sh_app *app = sh_project_app(project, "notes");
	cr_assert_not_null(app);
	cr_assert_str_eq(sh_value_path_string(sh_app_settings(app), "color", ""), "blue");
	cr_assert(sh_value_path_bool(sh_app_setting(app, "debug"), "", false));
	cr_assert_null(sh_app_setting(app, "nope"));
	cr_assert_str_eq(sh_app_project_dir(app), dir);
	free(text);
	free(path);
}

Test(settings, the_manifest_is_picked_by_option_then_environment_then_default)
{
	setenv(SH_SETTINGS_ENV, "/env/project.yaml", 1);
	cr_assert_str_eq(sh_project_settings_path("/opt/p.yaml"), "/opt/p.yaml");
	cr_assert_str_eq(sh_project_settings_path(NULL), "/env/project.yaml");
	setenv(SH_SETTINGS_ENV, "", 1);
	cr_assert_str_eq(sh_project_settings_path(NULL), "manifests/project.yaml");
	unsetenv(SH_SETTINGS_ENV);
	cr_assert_str_eq(sh_project_settings_path(NULL), SH_PROJECT_DEFAULT_PATH);
}
