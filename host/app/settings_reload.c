/*
 * settings_reload.c: live settings (project.h, "Live settings"): reading
 * the project manifest again while the host runs, diffing its `settings:`
 * by dotted key and sending setting_changed once per changed key, and the
 * inotify watch that tells the caller when to. Also the pieces the
 * overrides of override.c share: the lock, the kept documents, the sender
 * and setting_changed's argument copier.
 *
 * How readers stay safe: the published settings (project->settings) are
 * an atomic pointer to a tree nobody changes. A change builds a whole new
 * tree, keeps its document until the project is freed, stores the new
 * pointer, and only then sends setting_changed. A reader that loaded the
 * old pointer keeps walking a tree that is still there (app.h promises
 * that values handed out stay valid). A reload whose `settings:` equal
 * the running ones publishes nothing and frees its document at once, so
 * memory grows only with real changes, never with reloads.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define SH__LOG_ORIGIN "sighost.settings"

/* ---- what the live settings own --------------------------------------- */

/* setting_changed's args as an async receiver gets them: the key copied,
 * the value borrowed (its document is kept until the project is freed). */
typedef struct sh__setting_copy {
	sh_setting_changed_args args;
	char key[];
} sh__setting_copy;

static void *sh_app__setting_copy_args(const void *args)
{
	const sh_setting_changed_args *a = args;
	size_t n = a->setting != NULL ? strlen(a->setting) + 1 : 0;
	sh__setting_copy *c = malloc(sizeof *c + n);
	if (c == NULL)
		return NULL;
	c->args = *a;
	if (a->setting != NULL) {
		memcpy(c->key, a->setting, n);
		c->args.setting = c->key;
	}
	return c;
}

static void sh_app__setting_copy_free(void *copy)
{
	free(copy);
}

int sh_app__live_init(sh_project *p)
{
	sh__live *live = &p->live;
	live->watch_fd = -1;
	pthread_mutexattr_t attr;
	if (pthread_mutexattr_init(&attr) != 0)
		return sh_error_set(SH_ENOMEM, "out of memory");
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	int failed = pthread_mutex_init(&live->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (failed != 0)
		return sh_error_set(SH_ENOMEM, "cannot create the settings lock");
	live->lock_ready = true;
	int rc = sh_sender_intern(&live->sender, p->hub, SH_SETTINGS_SENDER);
	if (rc == 0)
		rc = sh_signal_set_copier(sh_hub_builtin(p->hub, SH_SETTING_CHANGED),
			sh_app__setting_copy_args, sh_app__setting_copy_free);
	if (rc < 0) {
		pthread_mutex_destroy(&live->lock);
		live->lock_ready = false;
	}
	return rc;
}

void sh_app__live_dispose(sh_project *p)
{
	sh__live *live = &p->live;
	for (size_t i = 0; i < live->kept_count; i++)
		sh_manifest__doc_free(live->kept[i]);
	free(live->kept);
	for (size_t i = 0; i < live->override_count; i++)
		free(live->overrides[i].key);
	free(live->overrides);
	if (live->watch_fd >= 0)
		close(live->watch_fd);
	free(live->watch_name);
	for (size_t i = 0; i < live->other_count; i++)
		free(live->other_dirs[i]);
	free(live->other_dirs);
	free(live->other_wds);
	free(live->last_told);
	if (live->lock_ready)
		pthread_mutex_destroy(&live->lock);
	*live = (sh__live){ .watch_fd = -1 };
}

int sh_app__live_keep(sh_project *p, sh__doc *doc)
{
	sh__live *live = &p->live;
	if (live->kept_count == live->kept_capacity) {
		size_t cap = live->kept_capacity ? live->kept_capacity * 2 : 8;
		sh__doc **grown = realloc(live->kept, cap * sizeof *grown);
		if (grown == NULL) {
			sh_manifest__doc_free(doc);
			return sh_error_set(SH_ENOMEM, "out of memory");
		}
		live->kept = grown;
		live->kept_capacity = cap;
	}
	live->kept[live->kept_count++] = doc;
	return 0;
}

void sh_app__live_send(sh_project *p, const char *key, const sh_value *value, bool enter)
{
	sh_setting_changed_args args = { key, value, enter };
	sh_signal_send_robust(sh_hub_builtin(p->hub, SH_SETTING_CHANGED), p->live.sender,
		&args, NULL);
}

/* ---- comparing settings ----------------------------------------------- */

/* Deep equality: same type and text, lists item by item, maps key by key
 * (in any order). Two NULLs are equal. */
static bool sh_app__value_equal(const sh_value *a, const sh_value *b)
{
	if (a == b)
		return true;
	if (a == NULL || b == NULL || a->type != b->type)
		return false;
	switch (a->type) {
	case SH_VALUE_NULL:
		return true;
	case SH_VALUE_STRING:
		return strcmp(a->text, b->text) == 0;
	case SH_VALUE_INT:
		return a->integer == b->integer;
	case SH_VALUE_BOOL:
		return a->boolean == b->boolean;
	case SH_VALUE_LIST:
		if (a->count != b->count)
			return false;
		for (size_t i = 0; i < a->count; i++)
			if (!sh_app__value_equal(a->entries[i].value, b->entries[i].value))
				return false;
		return true;
	case SH_VALUE_MAP:
		if (a->count != b->count)
			return false;
		for (size_t i = 0; i < a->count; i++) {
			const sh__entry *other = sh_manifest__value_entry(b, a->entries[i].key);
			if (other == NULL || !sh_app__value_equal(a->entries[i].value, other->value))
				return false;
		}
		return true;
	}
	return false;
}

/* A setting as the diff sees it: a dotted key and its value. */
typedef struct sh__leaf {
	char *key;
	const sh_value *value;
} sh__leaf;

typedef struct sh__leaves {
	sh__leaf *items;
	size_t count;
	size_t capacity;
} sh__leaves;

static void sh_app__leaves_dispose(sh__leaves *leaves)
{
	for (size_t i = 0; i < leaves->count; i++)
		free(leaves->items[i].key);
	free(leaves->items);
	*leaves = (sh__leaves){ 0 };
}

/* Appends (key, value), taking `key` (freed on failure). */
static int sh_app__leaves_add(sh__leaves *leaves, char *key, const sh_value *value)
{
	if (key == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	if (leaves->count == leaves->capacity) {
		size_t cap = leaves->capacity ? leaves->capacity * 2 : 16;
		sh__leaf *grown = realloc(leaves->items, cap * sizeof *grown);
		if (grown == NULL) {
			free(key);
			return sh_error_set(SH_ENOMEM, "out of memory");
		}
		leaves->items = grown;
		leaves->capacity = cap;
	}
	leaves->items[leaves->count++] = (sh__leaf){ key, value };
	return 0;
}

/*
 * Collects the settings of `map` under `prefix` (NULL at the top): a map
 * that holds entries is walked into ("audit" -> "audit.path"); anything
 * else, an empty map and a list included, is one setting.
 */
static int sh_app__flatten(sh__leaves *out, const sh_value *map, const char *prefix)
{
	for (size_t i = 0; i < sh_value_length(map); i++) {
		const sh__entry *e = &map->entries[i];
		char *key = NULL;
		if (prefix == NULL)
			key = strdup(e->key);
		else if (asprintf(&key, "%s.%s", prefix, e->key) < 0)
			key = NULL;
		if (key == NULL)
			return sh_error_set(SH_ENOMEM, "out of memory");
		int rc;
		if (e->value->type == SH_VALUE_MAP && e->value->count > 0) {
			rc = sh_app__flatten(out, e->value, key);
			free(key);
		} else {
			rc = sh_app__leaves_add(out, key, e->value);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int sh_app__leaf_cmp(const void *a, const void *b)
{
	return strcmp(((const sh__leaf *)a)->key, ((const sh__leaf *)b)->key);
}

/* Flattens and sorts by key; of two leaves with one key (a key that holds
 * a dot, "a.b", beside a map a: {b}), one is dropped: such a file cannot
 * say which it means. */
static int sh_app__leaves_of(sh__leaves *out, const sh_value *settings)
{
	int rc = sh_app__flatten(out, settings, NULL);
	if (rc < 0)
		return rc;
	if (out->count > 1)
		qsort(out->items, out->count, sizeof *out->items, sh_app__leaf_cmp);
	size_t kept = 0;
	for (size_t i = 0; i < out->count; i++) {
		if (kept > 0 && strcmp(out->items[kept - 1].key, out->items[i].key) == 0)
			free(out->items[i].key);
		else
			out->items[kept++] = out->items[i];
	}
	out->count = kept;
	return 0;
}

/*
 * Stores in `changes` every setting that differs between `before` and
 * `after` (two settings maps, either may be NULL), sorted by key, with its
 * value in `after` (NULL when it is gone).
 */
static int sh_app__diff(sh__leaves *changes, const sh_value *before, const sh_value *after)
{
	sh__leaves old = { 0 }, new = { 0 };
	int rc = sh_app__leaves_of(&old, before);
	if (rc == 0)
		rc = sh_app__leaves_of(&new, after);
	size_t i = 0, j = 0;
	while (rc == 0 && (i < old.count || j < new.count)) {
		int cmp = i == old.count ? 1 : j == new.count ? -1
			: strcmp(old.items[i].key, new.items[j].key);
		if (cmp < 0) {
			rc = sh_app__leaves_add(changes, strdup(old.items[i++].key), NULL);
		} else if (cmp > 0) {
			rc = sh_app__leaves_add(changes, strdup(new.items[j].key), new.items[j].value);
			j++;
		} else {
			if (!sh_app__value_equal(old.items[i].value, new.items[j].value))
				rc = sh_app__leaves_add(changes, strdup(new.items[j].key), new.items[j].value);
			i++;
			j++;
		}
	}
	sh_app__leaves_dispose(&old);
	sh_app__leaves_dispose(&new);
	return rc;
}

/* ---- reloading -------------------------------------------------------- */

/* Logs every top-level key other than `settings` whose value in the file
 * (`root`) differs from the one the project runs with: they are read once,
 * at start. Sorted by key. */
static int sh_app__report_restart_keys(sh_project *p, const sh_value *root)
{
	const sh_value *running = p->doc->root;
	sh__leaves keys = { 0 };
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sh_value_length(running); i++)
		rc = sh_app__leaves_add(&keys, strdup(running->entries[i].key), NULL);
	for (size_t i = 0; rc == 0 && i < sh_value_length(root); i++)
		rc = sh_app__leaves_add(&keys, strdup(root->entries[i].key), NULL);
	if (rc == 0 && keys.count > 1)
		qsort(keys.items, keys.count, sizeof *keys.items, sh_app__leaf_cmp);
	for (size_t i = 0; rc == 0 && i < keys.count; i++) {
		const char *key = keys.items[i].key;
		if (strcmp(key, "settings") == 0 || (i > 0 && strcmp(keys.items[i - 1].key, key) == 0))
			continue;
		const sh_value *was = sh_value_get(running, key), *now = sh_value_get(root, key);
		if (sh_app__value_equal(was, now))
			continue;
		const sh_value *at = now != NULL ? now : root;
		sh_hub_log(p->hub, SH_LOG_WARNING, SH__LOG_ORIGIN,
			"%s:%u:%u: '%s' %s: it needs a restart (the running value stays until then)",
			p->path, at->line, at->column, key, now != NULL ? "changed" : "was removed");
	}
	sh_app__leaves_dispose(&keys);
	return rc;
}

/* Reads and checks the manifest into *out; logs what is wrong with it.
 * Returns 0, SH_EMANIFEST (or SH_EIO) after logging, SH_ENOMEM. */
static int sh_app__settings_reload_read_manifest(sh__doc **out, sh_project *p)
{
	sh__problems problems = { 0 };
	sh__doc *doc = NULL;
	int rc = sh_manifest__doc_read(&doc, p->path, &problems);
	if (rc == 0 && doc->root == NULL)
		sh_manifest__problem_add(&problems, SH_EMANIFEST, p->path, 0, 0,
			"the project manifest is empty; expected a map with at least 'project'");
	else if (rc == 0)
		sh_app__project_manifest_check(&problems, doc->root);
	if (rc == SH_ENOMEM || problems.oom || doc == NULL) {
		sh_manifest__problems_dispose(&problems);
		sh_manifest__doc_free(doc);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	if (problems.count > 0) {
		for (size_t i = 0; i < problems.count; i++)
			sh_hub_log(p->hub, SH_LOG_ERROR, SH__LOG_ORIGIN, "%s", problems.items[i].text);
		sh_hub_log(p->hub, SH_LOG_ERROR, SH__LOG_ORIGIN, "settings not reloaded: %zu "
			"problem%s in %s; the running settings stay", problems.count,
			problems.count == 1 ? "" : "s", p->path);
		rc = problems.items[0].code == SH_EIO ? SH_EIO : SH_EMANIFEST;
		sh_error_set(rc, "%s", problems.items[0].text);
		sh_manifest__problems_dispose(&problems);
		sh_manifest__doc_free(doc);
		return rc;
	}
	sh_manifest__problems_dispose(&problems);
	*out = doc;
	return 0;
}

/* Joins the changed keys for the log ("debug, audit.path"), at most
 * `size` bytes. */
static void sh_app__changed_list(char *buf, size_t size, const sh__leaves *changes)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < changes->count && n < size; i++) {
		int w = snprintf(buf + n, size - n, "%s%s", i ? ", " : "", changes->items[i].key);
		if (w < 0)
			break;
		n += (size_t)w;
	}
	if (n >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

/* The reload, under the lock. */
static int sh_app__reload(sh_project *p)
{
	sh__doc *doc = NULL;
	int rc = sh_app__settings_reload_read_manifest(&doc, p);
	if (rc < 0)
		return rc;
	const sh_value *base = sh_value_get(doc->root, "settings");
	if (sh_value_type_of(base) != SH_VALUE_MAP)
		base = NULL;   /* absent or null: no settings */
	if ((rc = sh_app__report_restart_keys(p, doc->root)) < 0) {
		sh_manifest__doc_free(doc);
		return rc;
	}
	/* Nothing to publish: the new document supersedes nothing, free it
	 * (keeping it leaked the whole file on every SIGHUP). */
	if (sh_app__value_equal(base, p->live.base)) {
		sh_manifest__doc_free(doc);
		sh_hub_log(p->hub, SH_LOG_INFO, SH__LOG_ORIGIN, "settings reloaded from %s: "
			"no setting changed", p->path);
		return 0;
	}
	if ((rc = sh_app__live_keep(p, doc)) < 0)
		return rc;   /* the document was freed */
	const sh_value *effective = NULL;
	sh__leaves changes = { 0 };
	rc = sh_app__live_effective(&effective, p, base);
	if (rc == 0)
		rc = sh_app__diff(&changes, p->settings, effective);
	if (rc < 0) {
		sh_app__leaves_dispose(&changes);
		return rc;
	}
	p->live.base = base;
	atomic_store_explicit(&p->settings, effective, memory_order_release);
	char list[512];
	sh_app__changed_list(list, sizeof list, &changes);
	if (changes.count == 0)
		sh_hub_log(p->hub, SH_LOG_INFO, SH__LOG_ORIGIN, "settings reloaded from %s: "
			"no setting changed", p->path);
	else
		sh_hub_log(p->hub, SH_LOG_INFO, SH__LOG_ORIGIN, "settings reloaded from %s: "
			"%zu changed (%s)", p->path, changes.count, list);
	for (size_t i = 0; i < changes.count; i++)
		sh_app__live_send(p, changes.items[i].key, changes.items[i].value, true);
	sh_app__leaves_dispose(&changes);
	return 0;
}

int sh_project_reload_settings(sh_project *p)
{
	if (p == NULL)
		return sh_error_set(SH_EINVAL, "sh_project_reload_settings: a project is required");
	if (!p->read_ok)
		return sh_error_set(SH_EINVAL, "the project was not read successfully");
	pthread_mutex_lock(&p->live.lock);
	int rc = sh_app__reload(p);
	pthread_mutex_unlock(&p->live.lock);
	return rc;
}

/* ---- watching the manifest -------------------------------------------- */

/* What in the manifest's directory means "the manifest changed": written
 * and closed in place, or another file renamed over it (how most editors
 * save). */
#define SH__WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO)

/* A file said to need a restart is not said again for this long (an
 * editor's save, a compiler's link, are several events). */
#define SH__RESTART_QUIET_MS 2000

static void sh_app__watch_others(sh_project *p);

int sh_project_watch(int *out, sh_project *p)
{
	if (out == NULL || p == NULL)
		return sh_error_set(SH_EINVAL, "sh_project_watch: out and project are required");
	*out = -1;
	if (!p->read_ok)
		return sh_error_set(SH_EINVAL, "the project was not read successfully");
	sh__live *live = &p->live;
	if (live->watch_fd >= 0) {
		*out = live->watch_fd;
		return 0;
	}
	const char *slash = strrchr(p->path, '/');
	char *name = strdup(slash != NULL ? slash + 1 : p->path);
	if (name == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0 || inotify_add_watch(fd, p->dir, SH__WATCH_MASK) < 0) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		free(name);
		return sh_error_set(SH_EIO, "cannot watch %s for changes to %s: %s", p->dir, p->path,
			strerror(err));
	}
	live->watch_fd = fd;
	live->watch_name = name;
	live->project_wd = inotify_add_watch(fd, p->dir, SH__WATCH_MASK);
	sh_app__watch_others(p);
	*out = fd;
	return 0;
}

/* Adds a watch of `dir` (when it exists) to the ones whose changes need a
 * restart. Best effort: a directory that cannot be watched is left out. */
static void sh_app__watch_other(sh__live *live, const char *dir)
{
	int wd = inotify_add_watch(live->watch_fd, dir, SH__WATCH_MASK | IN_DELETE);
	if (wd < 0)
		return;
	int *wds = realloc(live->other_wds, (live->other_count + 1) * sizeof *wds);
	if (wds != NULL)
		live->other_wds = wds;
	char **dirs = realloc(live->other_dirs, (live->other_count + 1) * sizeof *dirs);
	if (dirs != NULL)
		live->other_dirs = dirs;
	char *copy = strdup(dir);
	if (wds == NULL || dirs == NULL || copy == NULL) {
		free(copy);
		return;
	}
	live->other_wds[live->other_count] = wd;
	live->other_dirs[live->other_count++] = copy;
}

/* The plugin directories (app manifests, plugins) and every installed
 * app's templates/<label>/ folder beside its manifest: what the running
 * server read once and keeps. */
static void sh_app__watch_others(sh_project *p)
{
	for (size_t i = 0; i < p->plugin_dir_count; i++)
		sh_app__watch_other(&p->live, p->plugin_dirs[i]);
	for (size_t i = 0; i < p->order_count; i++) {
		const char *manifest = sh_app_manifest_path(p->order[i]);
		const char *slash = manifest ? strrchr(manifest, '/') : NULL;
		char dir[PATH_MAX];
		if (slash != NULL && snprintf(dir, sizeof dir, "%.*s/templates/%s",
				(int)(slash - manifest), manifest, sh_app_label(p->order[i])) < (int)sizeof dir)
			sh_app__watch_other(&p->live, dir);
	}
}

/* True for a file of a watched directory that the server read: an app
 * manifest or plugin in a plugin directory, any template; not an editor's
 * scratch file. */
static bool sh_app__kept_file(const char *name, bool templates)
{
	size_t n = strlen(name);
	if (n == 0 || name[0] == '.' || name[n - 1] == '~' || (n > 4 && strcmp(name + n - 4, ".swp") == 0))
		return false;
	return templates || (n > 5 && strcmp(name + n - 5, ".yaml") == 0)
		|| (n > 3 && strcmp(name + n - 3, ".so") == 0);
}

/* Says, once per file and burst of writes, that a change of `dir/name`
 * needs a restart. */
static void sh_app__tell_restart(sh_project *p, const char *dir, const char *name)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return;
	sh__live *live = &p->live;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (live->last_told != NULL && strcmp(live->last_told, path) == 0
			&& now - live->last_told_ms < SH__RESTART_QUIET_MS)
		return;
	free(live->last_told);
	live->last_told = strdup(path);
	live->last_told_ms = now;
	sh_hub_log(p->hub, SH_LOG_WARNING, "sighost.settings", "%s changed: it needs a restart "
		"(the running server keeps what it loaded)", path);
}

int sh_project_watch_changed(sh_project *p)
{
	if (p == NULL || p->live.watch_fd < 0)
		return sh_error_set(SH_EINVAL, "sh_project_watch_changed: the project is not watched");
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	int changed = 0;
	for (;;) {
		ssize_t n = read(p->live.watch_fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return changed;
		if (n <= 0)
			return sh_error_set(SH_EIO, "cannot read the watch of %s: %s", p->path,
				n < 0 ? strerror(errno) : "end of file");
		for (char *at = buf; at < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)at;
			if ((ev->mask & SH__WATCH_MASK) != 0 && ev->len > 0 && ev->wd == p->live.project_wd
				&& strcmp(ev->name, p->live.watch_name) == 0)
				changed = 1;
			for (size_t i = 0; ev->len > 0 && i < p->live.other_count; i++)
				if (ev->wd == p->live.other_wds[i]
						&& !(ev->wd == p->live.project_wd && strcmp(ev->name, p->live.watch_name) == 0)
						&& sh_app__kept_file(ev->name, strstr(p->live.other_dirs[i], "/templates/") != NULL))
					sh_app__tell_restart(p, p->live.other_dirs[i], ev->name);
			if ((ev->mask & IN_Q_OVERFLOW) != 0)
				changed = 1;   /* events were lost: it may have changed */
			at += sizeof *ev + ev->len;
		}
	}
}
