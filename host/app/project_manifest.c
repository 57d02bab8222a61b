/*
 * project_manifest.c: the keys of the project manifest and what the project
 * keeps of them. To add a key: add a row to sh__project_keys (or to the
 * table of its section) and read it in sh_app__project_manifest_apply().
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

#define SH__COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const sh__key sh__project_keys[] = {
	{ "project",        SH_VALUE_STRING, SH__ANY,         true  },
	{ "database",       SH_VALUE_MAP,    SH__ANY,         false },
	{ "plugin_dirs",    SH_VALUE_LIST,   SH_VALUE_STRING, false },
	{ "installed_apps", SH_VALUE_LIST,   SH_VALUE_STRING, false },
	{ "settings",       SH_VALUE_MAP,    SH__ANY,         false },
	{ "optional_apps",  SH_VALUE_LIST,   SH_VALUE_STRING, false },
	{ "ready_timeout",  SH_VALUE_INT,    SH__ANY,         false },
	/* the commands' logger, read by host/cli/log.c */
	{ "log_level",      SH_VALUE_STRING, SH__ANY,         false },
	{ "log_format",     SH_VALUE_STRING, SH__ANY,         false },
	/* the server's keys, read and range-checked by host/web/server_config.c */
	{ "listen",          SH_VALUE_STRING, SH__ANY,        false },
	{ "threads",         SH_VALUE_INT,    SH__ANY,        false },
	{ "atomic_requests", SH_VALUE_BOOL,   SH__ANY,        false },
	{ "access_log",      SH_VALUE_BOOL,   SH__ANY,        false },
	{ "max_body_size",   SH_VALUE_INT,    SH__ANY,        false },
	{ "request_timeout", SH_VALUE_INT,    SH__ANY,        false },
	{ "silent_timeout",  SH_VALUE_INT,    SH__ANY,        false },
	{ "max_connections", SH_VALUE_INT,    SH__ANY,        false },
	{ "max_connections_per_ip", SH_VALUE_INT, SH__ANY,    false },
	{ "async_threads",   SH_VALUE_INT,    SH__ANY,        false },
	{ "async_queue",     SH_VALUE_INT,    SH__ANY,        false },
	{ "dashboard",       SH_VALUE_MAP,    SH__ANY,        false },
};

/* The dashboard's keys (docs/dashboard.md), range-checked by
 * host/web/server_config.c. */
static const sh__key sh__dashboard_keys[] = {
	{ "enabled",        SH_VALUE_BOOL,   SH__ANY, false },
	{ "prefix",         SH_VALUE_STRING, SH__ANY, false },
	{ "stream_clients", SH_VALUE_INT,    SH__ANY, false },
	{ "stream_buffer",  SH_VALUE_INT,    SH__ANY, false },
	{ "receivers",      SH_VALUE_INT,    SH__ANY, false },
};

static const sh__key sh__database_keys[] = {
	{ "engine", SH_VALUE_STRING, SH__ANY, true },
	{ "name",   SH_VALUE_STRING, SH__ANY, true },
	{ "synchronous", SH_VALUE_STRING, SH__ANY, false },
	{ "timeout",     SH_VALUE_INT,    SH__ANY, false },
};

/* The longest database.timeout (seconds) a manifest may ask for. */
#define SH__DB_TIMEOUT_MAX 3600

/* The database engines the host knows. */
static const char *const sh__engines[] = { "sqlite" };

static void sh_app__apply_database(sh_project *p, const sh_value *db)
{
	if (db == NULL || db->type != SH_VALUE_MAP)
		return;
	sh_manifest__schema_check(&p->problems, db, sh__database_keys, SH__COUNT(sh__database_keys),
		"database");
	const sh_value *engine = sh_value_get(db, "engine");
	const char *name = sh_value_string(engine);
	if (name != NULL) {
		bool known = false;
		for (size_t i = 0; i < SH__COUNT(sh__engines) && !known; i++)
			known = strcmp(name, sh__engines[i]) == 0;
		if (!known)
			sh_manifest__problem_at(&p->problems, SH_EMANIFEST, engine,
				"unknown database engine '%s' (sighost supports 'sqlite')", name);
		p->db_engine = name;
	}
	const sh_value *sync = sh_value_get(db, "synchronous");
	const char *mode = sh_value_string(sync);
	if (mode != NULL && strcmp(mode, "normal") == 0)
		p->db_sync = SH_DB_SYNC_NORMAL;
	else if (mode != NULL && strcmp(mode, "full") != 0)
		sh_manifest__problem_at(&p->problems, SH_EMANIFEST, sync,
			"database.synchronous must be 'full' or 'normal', not '%s'", mode);
	const sh_value *timeout = sh_value_get(db, "timeout");
	if (sh_value_type_of(timeout) == SH_VALUE_INT) {
		if (timeout->integer < 0 || timeout->integer > SH__DB_TIMEOUT_MAX)
			sh_manifest__problem_at(&p->problems, SH_EMANIFEST, timeout,
				"database.timeout must be from 0 to %d seconds, not %lld", SH__DB_TIMEOUT_MAX,
				(long long)timeout->integer);
		else
			p->db_timeout = timeout;
	}
	const char *file = sh_value_path_string(db, "name", NULL);
	if (file != NULL && (p->db_name = sh_manifest__path_join(p->dir, file)) == NULL)
		p->problems.oom = true;
}

/* The probe's wait for one step of a plugin (seconds): default and range. */
#define SH__READY_TIMEOUT 10
#define SH__READY_TIMEOUT_MAX 3600

static void sh_app__apply_ready_timeout(sh_project *p, const sh_value *v)
{
	int64_t n;
	p->ready_timeout = SH__READY_TIMEOUT;
	if (v == NULL || sh_value_int(&n, v) < 0)
		return;   /* absent, or the wrong type (reported by the schema) */
	if (n < 1 || n > SH__READY_TIMEOUT_MAX)
		sh_manifest__problem_at(&p->problems, SH_EMANIFEST, v,
			"'ready_timeout' must be from 1 to %d seconds, not %lld", SH__READY_TIMEOUT_MAX,
			(long long)n);
	else
		p->ready_timeout = (unsigned)n;
}

/* Returns true when `list` holds the string `text` before index `end`. */
static bool sh_app__listed(const sh_value *list, size_t end, const char *text)
{
	for (size_t i = 0; i < end && i < sh_value_length(list); i++) {
		const char *s = sh_value_string(sh_value_at(list, i));
		if (s != NULL && strcmp(s, text) == 0)
			return true;
	}
	return false;
}

/* Checks that every label of optional_apps is in installed_apps, once. */
static void sh_app__apply_optional_apps(sh_project *p, const sh_value *optional,
	const sh_value *installed)
{
	if (sh_value_type_of(optional) != SH_VALUE_LIST)
		return;   /* absent, or the wrong type (reported by the schema) */
	p->optional_value = optional;
	size_t n = sh_value_length(optional), m = sh_value_length(installed);
	const char **labels = calloc(m + 1, sizeof *labels);
	if (labels == NULL) {
		p->problems.oom = true;
		return;
	}
	size_t count = 0;
	for (size_t i = 0; i < m; i++)
		if ((labels[count] = sh_value_string(sh_value_at(installed, i))) != NULL)
			count++;
	for (size_t i = 0; i < n; i++) {
		const sh_value *item = sh_value_at(optional, i);
		const char *label = sh_value_string(item);
		if (label == NULL)
			continue;   /* reported by the schema */
		if (sh_app__listed(optional, i, label)) {
			sh_manifest__problem_at(&p->problems, SH_EMANIFEST, item,
				"app '%s' is listed twice in optional_apps", label);
		} else if (!sh_app__listed(installed, m, label)) {
			const char *near = sh_base__suggest(label, labels, count);
			if (near != NULL)
				sh_manifest__problem_at(&p->problems, SH_EMANIFEST, item,
					"app '%s' in optional_apps is not in installed_apps (did you mean '%s'?)",
					label, near);
			else
				sh_manifest__problem_at(&p->problems, SH_EMANIFEST, item,
					"app '%s' in optional_apps is not in installed_apps", label);
		}
	}
	free(labels);
}

static void sh_app__apply_plugin_dirs(sh_project *p, const sh_value *dirs)
{
	size_t n = sh_value_length(dirs);
	if (sh_value_type_of(dirs) != SH_VALUE_LIST || n == 0)
		return;
	p->plugin_dirs = calloc(n, sizeof *p->plugin_dirs);
	p->plugin_dir_values = calloc(n, sizeof *p->plugin_dir_values);
	if (p->plugin_dirs == NULL || p->plugin_dir_values == NULL) {
		p->problems.oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const sh_value *item = sh_value_at(dirs, i);
		const char *dir = sh_value_string(item);
		if (dir == NULL)
			continue;   /* reported by the schema */
		char *joined = sh_manifest__path_join(p->dir, dir);
		if (joined == NULL) {
			p->problems.oom = true;
			return;
		}
		char *real = realpath(joined, NULL);
		struct stat st;
		if (real == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
			sh_manifest__problem_at(&p->problems, SH_EMANIFEST, item,
				"plugin directory '%s' is not a directory (looked for %s)", dir, joined);
			free(real);
			free(joined);
			continue;
		}
		free(joined);
		p->plugin_dirs[p->plugin_dir_count] = real;
		p->plugin_dir_values[p->plugin_dir_count++] = item;
	}
}

size_t sh_app__project_manifest_check(sh__problems *problems, const sh_value *root)
{
	return sh_manifest__schema_check(problems, root, sh__project_keys, SH__COUNT(sh__project_keys),
		"project manifest");
}

void sh_app__project_manifest_apply(sh_project *p)
{
	const sh_value *root = p->doc->root;
	if (root == NULL) {
		sh_manifest__problem_add(&p->problems, SH_EMANIFEST, p->path, 0, 0,
			"the project manifest is empty; expected a map with at least 'project'");
		return;
	}
	if (sh_manifest__schema_check(&p->problems, root, sh__project_keys, SH__COUNT(sh__project_keys),
			"project manifest") > 0 && root->type != SH_VALUE_MAP)
		return;
	p->name = sh_value_path_string(root, "project", "");
	sh_app__apply_database(p, sh_value_get(root, "database"));
	const sh_value *dashboard = sh_value_get(root, "dashboard");
	if (sh_value_type_of(dashboard) == SH_VALUE_MAP)
		sh_manifest__schema_check(&p->problems, dashboard, sh__dashboard_keys,
			SH__COUNT(sh__dashboard_keys), "dashboard");
	sh_app__apply_plugin_dirs(p, sh_value_get(root, "plugin_dirs"));
	const sh_value *installed = sh_value_get(root, "installed_apps");
	if (sh_value_type_of(installed) == SH_VALUE_LIST)
		p->installed_value = installed;
	sh_app__apply_optional_apps(p, sh_value_get(root, "optional_apps"), p->installed_value);
	sh_app__apply_ready_timeout(p, sh_value_get(root, "ready_timeout"));
	const sh_value *settings = sh_value_get(root, "settings");
	if (sh_value_type_of(settings) == SH_VALUE_MAP)
		p->settings = p->live.base = settings;
}
