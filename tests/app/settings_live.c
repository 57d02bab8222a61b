/*
 * settings_live.c: reloading the project manifest while the project runs
 * (sh_project_reload_settings): one setting_changed per changed dotted
 * key, sorted, with the new value; a broken edit changes nothing and says
 * where; other keys need a restart; values handed out stay valid; readers
 * on other threads see whole versions; async receivers get a copy; the
 * inotify watch reports edits of the manifest only.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "settings_recorder.h"
#include "../support/support.h"

TestSuite(settings_live, .init = rec_setup, .fini = rec_cleanup, .timeout = 60);

static int reload(void)
{
	return sh_project_reload_settings(rec_project);
}

Test(settings_live, a_reload_sends_one_setting_changed_per_changed_key_sorted)
{
	rec_read(NULL, "  debug: false\n  audit: {path: a.jsonl, level: 1}\n  hosts: [a, b]\n"
		"  empty: {}\n  gone: x\n  z: 1\n");
	rec_write(NULL, "  z: 1\n  debug: true\n  audit: {level: 1, path: b.jsonl}\n"
		"  hosts: [a, b]\n  empty: {}\n  added: {x: {y: 2}}\n");
	cr_assert_eq(reload(), 0, "%s", sh_error_last()->message);
	char *events = rec_events();
	cr_assert_str_eq(events, "added.x.y=2;audit.path=b.jsonl;debug=true;gone=(none)");
	for (size_t i = 0; i < rec.count; i++) {
		cr_assert(rec.items[i].enter);
		cr_assert_str_eq(rec.items[i].sender, SH_SETTINGS_SENDER);
	}
	cr_assert_null(rec.items[3].value, "a removed key is sent with value NULL");
	const sh_value *s = sh_project_settings(rec_project);
	cr_assert_str_eq(sh_value_path_string(s, "audit.path", NULL), "b.jsonl");
	cr_assert_eq(sh_value_path_int(s, "added.x.y", 0), 2);
	cr_assert_null(sh_value_get(s, "gone"));
	cr_assert_eq(rec.items[2].value, sh_value_get(s, "debug"), "the value sent is the new one");
	cr_assert_not_null(strstr(rec.log, "info: sighost.settings: settings reloaded from "));
	cr_assert_not_null(strstr(rec.log, ": 4 changed (added.x.y, audit.path, debug, gone)"));
	free(events);
	/* the same file again: nothing changed, nothing sent */
	rec_clear();
	cr_assert_eq(reload(), 0);
	cr_assert_eq(rec.count, 0);
	cr_assert_not_null(strstr(rec.log, "no setting changed"));
}

Test(settings_live, a_list_is_compared_whole_and_a_map_becoming_a_scalar_is_two_changes)
{
	rec_read(NULL, "  hosts: [a, b]\n  audit: {path: x}\n  port: 1\n");
	rec_write(NULL, "  hosts: [a, c]\n  audit: off\n  port: '1'\n");
	cr_assert_eq(reload(), 0);
	char *events = rec_events();
	cr_assert_str_eq(events, "audit=off;audit.path=(none);hosts=[a,c];port=1");
	cr_assert_eq(sh_value_type_of(rec.items[3].value), SH_VALUE_STRING,
		"1 and '1' differ: an integer became a string");
	free(events);
}

Test(settings_live, the_settings_key_may_appear_and_disappear)
{
	rec_read(NULL, NULL);
	cr_assert_null(sh_project_settings(rec_project));
	rec_write(NULL, "  debug: true\n");
	cr_assert_eq(reload(), 0);
	char *events = rec_events();
	cr_assert_str_eq(events, "debug=true");
	free(events);
	rec_clear();
	rec_write("settings: ~\n", NULL);
	cr_assert_eq(reload(), 0);
	events = rec_events();
	cr_assert_str_eq(events, "debug=(none)");
	cr_assert_null(sh_project_settings(rec_project));
	free(events);
}

Test(settings_live, a_broken_edit_changes_nothing_and_says_where)
{
	rec_read(NULL, "  debug: false\n");
	const sh_value *before = sh_project_settings(rec_project);
	char *path = t_path(rec_dir, "project.yaml");

	rec_write(NULL, "  debug: [true\n");
	cr_assert_eq(reload(), SH_EMANIFEST);
	char *want = NULL;
	cr_assert_geq(asprintf(&want, "%s:", path), 0);
	cr_assert_eq(strncmp(sh_error_last()->message, want, strlen(want)), 0, "%s",
		sh_error_last()->message);
	cr_assert_not_null(strstr(sh_error_last()->message, "malformed YAML"));
	free(want);
	cr_assert_not_null(strstr(rec.log, "error: sighost.settings: settings not reloaded: "
		"1 problem in "), "%s", rec.log);
	cr_assert_not_null(strstr(rec.log, "the running settings stay"));

	rec_write("instaled_apps: []\n", "  debug: true\n");
	cr_assert_eq(reload(), SH_EMANIFEST);
	cr_assert_geq(asprintf(&want, "%s:2:1: unknown key 'instaled_apps' in project manifest "
		"(did you mean 'installed_apps'?)", path), 0);
	cr_assert_str_eq(sh_error_last()->message, want);
	cr_assert_not_null(strstr(rec.log, want), "logged with its position");
	free(want);

	rec_write("threads: many\n", "  debug: true\n");
	cr_assert_eq(reload(), SH_EMANIFEST);
	cr_assert_geq(asprintf(&want, "%s:2:10: ", path), 0);
	cr_assert_not_null(strstr(sh_error_last()->message, want), "%s",
		sh_error_last()->message);
	free(want);

	free(t_write(rec_dir, "project.yaml", ""));
	cr_assert_eq(reload(), SH_EMANIFEST);
	cr_assert_not_null(strstr(sh_error_last()->message, "the project manifest is empty"));

	unlink(path);
	cr_assert_eq(reload(), SH_EIO);
	cr_assert_not_null(strstr(sh_error_last()->message, "cannot read manifest"));

	cr_assert_eq(rec.count, 0, "no setting_changed for a broken edit");
	cr_assert_eq(sh_project_settings(rec_project), before, "the running settings stay");
	bool debug = true;
	cr_assert_eq(sh_value_bool(&debug, sh_value_get(before, "debug")), 0);
	cr_assert_not(debug);
	free(path);
}

Test(settings_live, other_keys_are_reported_as_needing_a_restart_and_ignored)
{
	rec_read("installed_apps: []\nthreads: 2\n", "  debug: false\n");
	rec_write("installed_apps: [audit]\ndatabase: {engine: sqlite, name: x.db}\nthreads: 2\n",
		"  debug: true\n");
	cr_assert_eq(reload(), 0, "%s", sh_error_last()->message);
	char *events = rec_events();
	cr_assert_str_eq(events, "debug=true", "only settings: changes are sent");
	free(events);
	char *db = strstr(rec.log, "warning: sighost.settings: ");
	cr_assert_not_null(db, "%s", rec.log);
	cr_assert_not_null(strstr(rec.log, "project.yaml:3:11: 'database' changed: it needs a "
		"restart (the running value stays until then)"), "%s", rec.log);
	cr_assert_not_null(strstr(rec.log, "project.yaml:2:17: 'installed_apps' changed: it "
		"needs a restart"), "%s", rec.log);
	cr_assert_null(strstr(rec.log, "'threads'"), "an unchanged key is not reported");
	cr_assert(strstr(rec.log, "'database'") < strstr(rec.log, "'installed_apps'"),
		"sorted by key");
	cr_assert_null(sh_project_db_name(rec_project), "the running database stays");
	/* a key removed from the file is reported too */
	rec_write(NULL, "  debug: true\n");
	cr_assert_eq(reload(), 0);
	cr_assert_not_null(strstr(rec.log, "'threads' was removed: it needs a restart"), "%s",
		rec.log);
}

Test(settings_live, values_handed_out_stay_valid_after_reloads)
{
	rec_read(NULL, "  mailer: {from: first@example.com}\n");
	const sh_value *kept = sh_value_path(sh_project_settings(rec_project), "mailer.from");
	const sh_value *old_root = sh_project_settings(rec_project);
	for (int i = 0; i < 5; i++) {
		char settings[128];
		snprintf(settings, sizeof settings, "  mailer: {from: n%d@example.com}\n", i);
		rec_write(NULL, settings);
		cr_assert_eq(reload(), 0);
	}
	cr_assert_eq(rec.count, 5);
	cr_assert_str_eq(sh_value_string(kept), "first@example.com", "still readable (ASan)");
	cr_assert_str_eq(sh_value_path_string(old_root, "mailer.from", NULL), "first@example.com");
	cr_assert_str_eq(rec.items[0].setting, "mailer.from");
	cr_assert_str_eq(sh_value_string(rec.items[0].value), "n0@example.com",
		"a value sent four reloads ago is still there");
	cr_assert_str_eq(sh_value_path_string(sh_project_settings(rec_project), "mailer.from",
		NULL), "n4@example.com");
}

/* ---- threads ----------------------------------------------------------- */

typedef struct reader {
	pthread_t thread;
	atomic_bool *stop;
	long reads;
	long torn;             /* versions where a and b differed */
	long versions;         /* distinct values of a seen */
} reader;

static void *read_loop(void *arg)
{
	reader *r = arg;
	int64_t last = -1;
	while (!atomic_load(r->stop)) {
		const sh_value *s = sh_project_settings(rec_project);
		int64_t a = sh_value_path_int(s, "n.a", -2), b = sh_value_path_int(s, "n.b", -3);
		r->torn += a != b;
		r->versions += a != last;
		last = a;
		r->reads++;
	}
	return NULL;
}

Test(settings_live, readers_on_other_threads_see_whole_versions_while_reloads_swap)
{
	rec_read(NULL, "  n: {a: 0, b: 0}\n");
	atomic_bool stop = false;
	reader readers[4];
	for (int i = 0; i < 4; i++) {
		readers[i] = (reader){ .stop = &stop };
		cr_assert_eq(pthread_create(&readers[i].thread, NULL, read_loop, &readers[i]), 0);
	}
	for (int i = 1; i <= 100; i++) {
		char settings[128];
		snprintf(settings, sizeof settings, "  n: {a: %d, b: %d}\n  pad: [%d, %d, %d]\n", i, i,
			i, i, i);
		rec_write(NULL, settings);
		cr_assert_eq(reload(), 0);
	}
	atomic_store(&stop, true);
	long reads = 0, versions = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(readers[i].thread, NULL);
		cr_assert_eq(readers[i].torn, 0, "a reader saw half of a change");
		reads += readers[i].reads;
		versions += readers[i].versions;
	}
	cr_assert_gt(reads, 0);
	cr_assert_gt(versions, 4, "the readers saw the settings change");
	cr_assert_eq(sh_value_path_int(sh_project_settings(rec_project), "n.a", 0), 100);
}

/* An async receiver: records the key and the value's text it was given. */
static int async_receiver(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	return rec_receiver(signal, sender, args, response, payload);
}

Test(settings_live, async_receivers_get_a_copy_of_the_arguments)
{
	rec_read(NULL, "  debug: false\n  name: a\n");
	sh_hub *hub = sh_project_hub(rec_project);
	recorder later = { 0 };
	pthread_mutex_init(&later.lock, NULL);
	sh_pool *pool;
	cr_assert_eq(sh_pool_new(&pool, 2, 8), 0);
	sh_hub_set_executor(hub, sh_pool_executor, pool);
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.async = true;
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(hub, SH_SETTING_CHANGED),
		async_receiver, &later, &opts), 0);
	rec_write(NULL, "  debug: true\n  name: b\n");
	cr_assert_eq(reload(), 0);
	sh_pool_free(pool);   /* runs every queued job */
	sh_hub_set_executor(hub, NULL, NULL);
	cr_assert_eq(later.count, 2);
	const char *first = strcmp(later.items[0].setting, "debug") == 0 ? "debug" : "name";
	cr_assert_str_eq(later.items[0].setting, first);
	cr_assert_str_eq(later.items[0].text, strcmp(first, "debug") == 0 ? "true" : "b");
	cr_assert_str_eq(later.items[0].sender, SH_SETTINGS_SENDER);
	cr_assert(later.items[0].enter);
	cr_assert_null(strstr(rec.log, "not run"), "%s", rec.log);
	for (size_t i = 0; i < later.count; i++) {
		free(later.items[i].setting);
		free(later.items[i].text);
		free(later.items[i].sender);
	}
	free(later.items);
	pthread_mutex_destroy(&later.lock);
}

/* ---- the watch --------------------------------------------------------- */

/* Waits up to 2 s for the watch to become readable. */
static bool readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	return poll(&p, 1, 2000) == 1;
}

Test(settings_live, the_watch_reports_edits_of_the_manifest_and_nothing_else)
{
	int fd = 0;
	cr_assert_eq(sh_project_watch(&fd, rec_project), SH_EINVAL, "not read yet");
	cr_assert_eq(fd, -1);
	rec_read(NULL, "  debug: false\n");
	cr_assert_eq(sh_project_watch(&fd, rec_project), 0, "%s", sh_error_last()->message);
	cr_assert_geq(fd, 0);
	int again = -1;
	cr_assert_eq(sh_project_watch(&again, rec_project), 0);
	cr_assert_eq(again, fd, "one watch per project");
	cr_assert_eq(sh_project_watch_changed(rec_project), 0, "nothing yet");

	free(t_write(rec_dir, "other.yaml", "x: 1\n"));
	cr_assert(readable(fd));
	cr_assert_eq(sh_project_watch_changed(rec_project), 0, "another file");

	rec_write(NULL, "  debug: true\n");   /* in place */
	cr_assert(readable(fd));
	cr_assert_eq(sh_project_watch_changed(rec_project), 1);
	cr_assert_eq(sh_project_watch_changed(rec_project), 0, "the events were read");

	char *tmp = t_write(rec_dir, ".project.yaml.swp", "project: t\n");
	char *path = t_path(rec_dir, "project.yaml");
	cr_assert_eq(rename(tmp, path), 0);
	cr_assert(readable(fd));
	cr_assert_eq(sh_project_watch_changed(rec_project), 1, "renamed over the manifest");
	free(tmp);
	free(path);
}

Test(settings_live, reloading_a_project_not_read_is_refused)
{
	cr_assert_eq(reload(), SH_EINVAL);
	cr_assert_eq(sh_project_reload_settings(NULL), SH_EINVAL);
	cr_assert_eq(sh_project_watch_changed(rec_project), SH_EINVAL);
	rec_write(NULL, "  x: [unclosed\n");
	char *path = t_path(rec_dir, "project.yaml");
	cr_assert_eq(sh_project_read(rec_project, path), SH_EMANIFEST);
	cr_assert_eq(reload(), SH_EINVAL, "the project was not read successfully");
	free(path);
}

#if defined(__SANITIZE_ADDRESS__)
/* ASan's (sanitizer/allocator_interface.h, which gcc does not install) */
size_t __sanitizer_get_current_allocated_bytes(void);
#define ASAN 1
#else
#include <malloc.h>
#define ASAN 0
#endif

/* Bytes the allocator has handed out and not had back (ASan's count when
 * it runs: its quarantine keeps freed blocks resident). */
static size_t heap_in_use(void)
{
#if ASAN
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 m = mallinfo2();
	return m.uordblks + m.hblkhd;
#endif
}

Test(settings_live, a_thousand_reloads_of_an_unchanged_manifest_keep_memory_bounded,
	.timeout = 300)
{
	/* 100 SIGHUPs with an unchanged 1 MB manifest took the RSS from 11 to
	 * 402 MB: every reload kept its whole document. */
	size_t cap = 64 * 1024, len = 0;
	char *settings = malloc(cap);
	cr_assert_not_null(settings);
	len += (size_t)snprintf(settings, cap, "  hosts: [");
	for (int i = 0; len + 32 < cap - 64 && i < 4000; i++)
		len += (size_t)snprintf(settings + len, cap - len, "%shost-%05d", i ? ", " : "", i);
	snprintf(settings + len, cap - len, "]\n  debug: false\n");
	rec_read(NULL, settings);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(reload(), 0, "%s", sh_error_last()->message);
	size_t heap0 = heap_in_use();
	long rss0 = t_rss_kib(getpid());
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(reload(), 0, "%s", sh_error_last()->message);
	size_t heap1 = heap_in_use();
	long rss1 = t_rss_kib(getpid());
	cr_assert_lt(heap1, heap0 + 1024 * 1024, "1000 reloads of a %zu-byte settings section: the "
		"heap grew by %zu bytes", len, heap1 - heap0);
	if (!ASAN)
		cr_assert_lt(rss1, rss0 + 8 * 1024, "RSS grew by %ld KiB", rss1 - rss0);
	cr_assert_eq(rec.count, 0, "nothing changed, nothing was sent");
	/* a real change still goes through, and the values handed out before
	 * stay readable */
	const sh_value *debug = sh_value_path(sh_project_settings(rec_project), "debug");
	snprintf(settings + len, cap - len, "]\n  debug: true\n");
	rec_write(NULL, settings);
	cr_assert_eq(reload(), 0);
	cr_assert_eq(rec.count, 1);
	cr_assert_eq(sh_value_type_of(debug), SH_VALUE_BOOL);
	free(settings);
}
