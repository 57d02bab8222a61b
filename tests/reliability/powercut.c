/*
 * powercut.c: durability across a power loss. A process crash (SIGKILL,
 * crashkill.c) leaves the page cache to the kernel, so it never shows an
 * answer given before its data reached the disk; a power cut does. The
 * real `sighost serve` (audit and the example's alert app) runs under a
 * load of creates with the LD_PRELOAD library powercut_shim.c, which
 * traces every write, truncation and fsync/fdatasync of the database and
 * its -wal file and every byte the server sends on its connections. From
 * that trace the test builds, at many points, the files a disk could hold
 * had the power gone there:
 *
 *   synced    only what an fsync or fdatasync of the file made durable
 *   written   everything written (what a process crash leaves)
 *   torn      what was synced, plus a random subset of the later
 *             operations, each write dropped, kept whole, or torn (each
 *             512-byte sector of it kept or not); two seeds per point
 *
 * The points: right after a 201 answer left the server (a sample of every
 * answer), random points of the trace, and its end. Each image is opened
 * by the host (`sighost showmigrations`, which runs SQLite's recovery of
 * the -wal file), then must pass PRAGMA integrity_check and hold every
 * create whose 201 was sent before the point, with its id and both tags,
 * and no half-applied save. The claim is that an acknowledged write
 * survives, whatever commits it (one connection, or a group commit): an
 * answer sent before the fsync that makes its commit durable fails here.
 *
 * Environment (all optional; the seed is printed):
 *   SIGHOST_POWERCUT_SYNC     full (default), normal, off, late, nosync or lag: how the
 *                             server commits. normal is database.synchronous
 *                             normal; off and late install the test plugin
 *                             t_sync (off: PRAGMA synchronous=OFF on every
 *                             connection; late: the same, and the log synced
 *                             after the answer: both are masked by group
 *                             commit's own sync under serve); nosync and lag
 *                             keep full and make the shim's syncs lie (see
 *                             powercut_shim.c). Under serve, normal, nosync
 *                             and lag fail.
 *   SIGHOST_POWERCUT_SEED     the seed of the points and torn images
 *   SIGHOST_POWERCUT_CREATES  creates answered before the server stops (400)
 *   SIGHOST_POWERCUT_CUTS     points right after an answer (40; meson sets
 *                             SIGHOST_POWERCUT_DEFAULT_CUTS=8 in a sanitized
 *                             build, where each reopening costs ten times more)
 *
 * A second test runs the same check with `off` and `late` and asserts it
 * finds an acknowledged create missing: the check has teeth in every run.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "powercut_replay.h"
#include "rel_support.h"

TestSuite(powercut, .init = w_setup, .fini = w_cleanup);   /* meson's timeout guards */

#define CLIENTS 4

static unsigned env_unsigned(const char *name, unsigned fallback)
{
	const char *v = getenv(name);
	return v != NULL && *v != '\0' ? (unsigned)strtoul(v, NULL, 10) : fallback;
}

/* ---- the load --------------------------------------------------------- */

typedef struct load {
	unsigned port;
	const char *headers;
	unsigned index;
	size_t target;             /* creates to be answered, over all clients */
	_Atomic size_t *answered;  /* shared count */
	ack *acks;                 /* what this client got */
	size_t count, cap;
	size_t errors;
	char first_error[256];
} load;

static void *client_main(void *arg)
{
	load *c = arg;
	for (unsigned seq = 0; atomic_load(c->answered) < c->target; seq++) {
		char marker[32], body[128];
		snprintf(marker, sizeof marker, "p%u-%u", c->index, seq);
		snprintf(body, sizeof body, "{\"content\": \"%s\", \"tags\": [1, 2]}", marker);
		int status = 0;
		char *answer = NULL;
		int rc = r_http(c->port, "POST", "/api/alerts", c->headers, body, 30, &status, &answer);
		json_t *j = rc == 0 && status == 201 ? json_loads(answer, 0, NULL) : NULL;
		json_t *id = j != NULL ? json_object_get(j, "id") : NULL;
		if (json_is_integer(id)) {
			if (c->count == c->cap) {
				c->cap = c->cap ? 2 * c->cap : 256;
				c->acks = realloc(c->acks, c->cap * sizeof *c->acks);
				if (c->acks == NULL)
					abort();
			}
			ack *a = &c->acks[c->count++];
			snprintf(a->marker, sizeof a->marker, "%s", marker);
			a->id = json_integer_value(id);
			atomic_fetch_add(c->answered, 1);
		} else if (c->errors++ == 0) {
			snprintf(c->first_error, sizeof c->first_error, "%d %s", rc < 0 ? -1 : status,
				answer ? answer : "(no answer)");
		}
		json_decref(j);
		free(answer);
		if (c->errors > 0)
			break;
	}
	return NULL;
}

/* ---- checking an image ------------------------------------------------ */

static int64_t sql_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK, "%s: %s", sql,
		sqlite3_errmsg(db));
	int64_t v = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
	sqlite3_finalize(stmt);
	return v;
}

/* Checks the image in `dir` as the host left it after opening it: NULL when
 * sound and every ack before `point` is there, else what is wrong (newly
 * allocated). */
static char *check_image(const char *dir, const ack *acks, size_t nacks, size_t point)
{
	const char *argv[] = { "showmigrations", "--settings", "project.yaml", NULL };
	t_run run = t_sighost(dir, NULL, argv);
	char *wrong = NULL;
	if (run.status != 0 || strstr(run.out, "[ ]") != NULL || strstr(run.out, "[X]") == NULL) {
		cr_assert_geq(asprintf(&wrong, "sighost showmigrations on the image: status %d\n%s%s",
			run.status, run.out, run.err), 0);
		t_run_free(&run);
		return wrong;
	}
	t_run_free(&run);
	char *path = t_path(dir, "db.sqlite3");
	char *ok = r_db_integrity(path);
	if (strcmp(ok, "ok") != 0) {
		cr_assert_geq(asprintf(&wrong, "integrity_check: %s", ok), 0);
		free(ok);
		free(path);
		return wrong;
	}
	free(ok);
	size_t n = 0;
	r_stored *rows = r_stored_alerts(path, "p%", &n);
	sqlite3 *db = NULL;
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	free(path);
	for (size_t i = 0; i < nacks && wrong == NULL; i++) {
		if (acks[i].record >= point)
			continue;
		const r_stored *hit = r_stored_find(rows, n, acks[i].marker);
		if (hit == NULL)
			cr_assert_geq(asprintf(&wrong, "'%s' was answered 201 (id %lld) at record %zu "
				"and is not in the database", acks[i].marker, (long long)acks[i].id,
				acks[i].record), 0);
		else if (hit->id != acks[i].id)
			cr_assert_geq(asprintf(&wrong, "'%s' was answered 201 with id %lld, the "
				"database has %lld", acks[i].marker, (long long)acks[i].id,
				(long long)hit->id), 0);
	}
	free(rows);
	if (wrong == NULL && sql_int(db, "SELECT count(*) FROM alert_alert a WHERE (SELECT "
			"count(*) FROM alert_alert_tags t WHERE t.alert_id = a.id) != 2") != 0)
		wrong = strdup("an alert without both its tags: a half-applied save");
	if (wrong == NULL && sql_int(db, "SELECT count(*) FROM alert_alert_tags WHERE alert_id "
			"NOT IN (SELECT id FROM alert_alert)") != 0)
		wrong = strdup("tags of no alert");
	sqlite3_close(db);
	return wrong;
}

/* ---- one run ---------------------------------------------------------- */

typedef struct outcome {
	char *first_wrong;          /* NULL when every image passed */
	size_t images, points, acks, records, wal_syncs, db_syncs, wrong_images;
} outcome;

static const char *const kinds[] = { "synced", "written", "torn", "torn" };
#define KINDS (sizeof kinds / sizeof kinds[0])

/* Writes the scratch project of `mode` and its database (pages of 1 KiB,
 * so that the log reaches the checkpointer's 1000 pages within the run). */
static void powercut_project(const char *mode)
{
	bool plugin = strcmp(mode, "off") == 0 || strcmp(mode, "late") == 0;
	bool fault = strcmp(mode, "nosync") == 0 || strcmp(mode, "lag") == 0;
	cr_assert(plugin || fault || strcmp(mode, "full") == 0 || strcmp(mode, "normal") == 0,
		"SIGHOST_POWERCUT_SYNC must be full, normal, off, late, nosync or lag, not '%s'", mode);
	if (fault)
		mode = "full";   /* the host's own durability; the shim's syncs lie (powercut_shim.c) */
	char *extra = NULL;
	if (plugin) {
		/* t_sync as app `durability`; the host's own mode stays full */
		cr_assert_geq(asprintf(&extra, "  durability: {mode: %s}\nthreads: 4\ndatabase: "
			"{engine: sqlite, name: db.sqlite3, synchronous: full}\n", mode), 0);
		char *from = t_path(t_env("SIGHOST_REL_PLUGIN_DIR"), "t_sync.so");
		free(t_copy(from, w_plugins, "durability.so", 0755));
		free(from);
		w_manifest("durability", "label: durability\nlibrary: durability.so\n");
	} else {
		cr_assert_geq(asprintf(&extra, "threads: 4\ndatabase: {engine: sqlite, name: "
			"db.sqlite3, synchronous: %s}\n", mode), 0);
	}
	w_project(plugin ? "alert, durability" : "alert", extra);
	free(extra);
	char *path = r_db_path();
	sqlite3 *db = NULL;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "PRAGMA page_size=1024; PRAGMA journal_mode=WAL; "
		"VACUUM", NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	free(path);
	a_migrate();
}

/* The project the images are opened with (in `dir`): the same apps. */
static void image_project(const char *dir)
{
	char *text = NULL;
	cr_assert_geq(asprintf(&text, "project: web\nplugin_dirs: [%s, %s]\n"
		"installed_apps: [audit, alert]\nsettings:\n  audit: {path: audit.jsonl}\n"
		"database: {engine: sqlite, name: db.sqlite3}\n", t_env("SIGHOST_PLUGIN_DIR"),
		w_plugins), 0);
	free(t_write(dir, "project.yaml", text));
	free(text);
}

/* Runs the server under the shim with `mode` until `creates` are
 * answered, stops it, then checks the images of the trace's points. With
 * `stop_at_first`, returns at the first image that fails. */
static outcome run_powercut(const char *mode, unsigned seed, size_t creates, size_t cuts,
	bool stop_at_first)
{
	outcome o = { 0 };
	const unsigned run_seed = seed;
	powercut_project(mode);
	char *token = a_token("powercut"), *headers = NULL;
	cr_assert_geq(asprintf(&headers, "Authorization: Token %s\r\n", token), 0);
	char *db_path = r_db_path(), real_db[PATH_MAX];
	cr_assert_not_null(realpath(db_path, real_db));
	char *wal_path = NULL;
	cr_assert_geq(asprintf(&wal_path, "%s-wal", db_path), 0);
	image base_db = read_image(db_path), base_wal = read_image(wal_path);
	cr_assert(base_db.exists);
	char *trace_path = t_path(w_dir, "powercut.trace");
	/* the server alone runs under the shim */
	const char *asan = getenv("ASAN_OPTIONS");
	char *asan_saved = asan ? strdup(asan) : NULL, *asan_new = NULL;
	cr_assert_geq(asprintf(&asan_new, "%s%sverify_asan_link_order=0", asan ? asan : "",
		asan ? ":" : ""), 0);
	setenv("ASAN_OPTIONS", asan_new, 1);
	setenv("LD_PRELOAD", t_env("SIGHOST_POWERCUT_SHIM"), 1);
	setenv("SIGHOST_POWERCUT_DB", real_db, 1);
	setenv("SIGHOST_POWERCUT_TRACE", trace_path, 1);
	if (strcmp(mode, "nosync") == 0 || strcmp(mode, "lag") == 0)
		setenv("SIGHOST_POWERCUT_FAULT", mode, 1);
	w_server s;
	w_start(&s, NULL);
	unsetenv("SIGHOST_POWERCUT_FAULT");
	unsetenv("LD_PRELOAD");
	unsetenv("SIGHOST_POWERCUT_DB");
	unsetenv("SIGHOST_POWERCUT_TRACE");
	if (asan_saved)
		setenv("ASAN_OPTIONS", asan_saved, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(asan_saved);
	free(asan_new);
	/* the load */
	_Atomic size_t answered = 0;
	load clients[CLIENTS];
	pthread_t threads[CLIENTS];
	for (unsigned i = 0; i < CLIENTS; i++) {
		clients[i] = (load){ .port = s.port, .headers = headers, .index = i,
			.target = creates, .answered = &answered };
		cr_assert_eq(pthread_create(&threads[i], NULL, client_main, &clients[i]), 0);
	}
	for (unsigned i = 0; i < CLIENTS; i++)
		pthread_join(threads[i], NULL);
	w_stop(&s);
	cr_assert_eq(s.status, 0, "the server under the shim: %s", s.err);
	for (unsigned i = 0; i < CLIENTS; i++)
		cr_assert_eq(clients[i].errors, 0, "client %u: %s", i, clients[i].first_error);
	/* the trace: every answer the clients got is in it, as sent */
	trace t = read_trace(trace_path);
	size_t nacks = 0;
	ack *acks = acks_in_trace(&t, &nacks);
	size_t got = 0;
	for (unsigned i = 0; i < CLIENTS; i++) {
		for (size_t k = 0; k < clients[i].count; k++) {
			bool seen = false;
			for (size_t a = 0; a < nacks && !seen; a++)
				seen = strcmp(acks[a].marker, clients[i].acks[k].marker) == 0
					&& acks[a].id == clients[i].acks[k].id;
			cr_assert(seen, "'%s' (id %lld) was answered 201 but the trace has no such "
				"answer: the shim missed a send", clients[i].acks[k].marker,
				(long long)clients[i].acks[k].id);
		}
		got += clients[i].count;
		free(clients[i].acks);
	}
	cr_assert_eq(nacks, got, "201 answers in the trace and received");
	cr_assert_gt(t.writes[PC_WAL], 0, "the trace holds no write to the log");
	o.acks = nacks;
	o.records = t.count;
	o.wal_syncs = t.syncs[PC_WAL];
	o.db_syncs = t.syncs[PC_DB];
	/* the points: right after a sample of the answers, random ones, the end */
	size_t cap = cuts + cuts / 4 + 2, npoints = 0;
	size_t *points = malloc(cap * sizeof *points);
	cr_assert_not_null(points);
	for (size_t i = 0; i < cuts && nacks > 0; i++)
		points[npoints++] = acks[cuts >= nacks ? i % nacks
			: (i * nacks / cuts + (size_t)rand_r(&seed) % (nacks / cuts + 1)) % nacks].record + 1;
	for (size_t i = 0; i < cuts / 4 + 1; i++)
		points[npoints++] = (size_t)rand_r(&seed) % (t.count + 1);
	points[npoints++] = t.count;
	for (size_t i = 1; i < npoints; i++)   /* insertion sort: few points */
		for (size_t j = i; j > 0 && points[j - 1] > points[j]; j--) {
			size_t x = points[j];
			points[j] = points[j - 1];
			points[j - 1] = x;
		}
	/* the replay */
	char *dir = t_path(w_dir, "image");
	cr_assert_eq(mkdir(dir, 0755), 0);
	image_project(dir);
	file files[PC_FILES] = { 0 };
	image_copy(&files[PC_DB].durable, &base_db);
	image_copy(&files[PC_DB].written, &base_db);
	image_copy(&files[PC_WAL].durable, &base_wal);
	image_copy(&files[PC_WAL].written, &base_wal);
	image out[PC_FILES] = { 0 };
	static const char *const names[PC_FILES] = { "db.sqlite3", "db.sqlite3-wal",
		"db.sqlite3-journal" };
	size_t next = 0;
	for (size_t i = 0; i <= t.count; i++) {
		while (next < npoints && points[next] == i) {
			if (next > 0 && points[next - 1] == i) {
				next++;
				continue;
			}
			o.points++;
			for (size_t k = 0; k < KINDS; k++) {
				unsigned image_seed = seed ^ (unsigned)(i * 2654435761u) ^ (unsigned)k;
				for (int f = 0; f < PC_FILES; f++) {
					make_image(&out[f], &files[f], &t, k == 0 ? 0 : k == 1 ? 1 : 2,
						&image_seed);
					write_image(dir, names[f], &out[f]);
				}
				char *shm = t_path(dir, "db.sqlite3-shm");
				unlink(shm);
				free(shm);
				o.images++;
				char *wrong = check_image(dir, acks, nacks, i);
				if (wrong != NULL) {
					o.wrong_images++;
					if (o.first_wrong == NULL)
						cr_assert_geq(asprintf(&o.first_wrong, "power cut after record "
							"%zu of %zu (image %s, seed %u): %s", i, t.count,
							kinds[k], run_seed, wrong), 0);
					free(wrong);
					if (stop_at_first)
						goto done;
				}
			}
			next++;
		}
		if (i == t.count)
			break;
		replay(files, &t, i);
	}
	/* the trace is whole: replayed to its end, it gives the real files */
	if (o.first_wrong == NULL) {
		image real = read_image(db_path);
		cr_assert(real.size == files[PC_DB].written.size && real.size > 0
			&& memcmp(real.bytes, files[PC_DB].written.bytes, real.size) == 0,
			"the database replayed from the trace (%zu bytes) differs from the file (%zu "
			"bytes): the shim missed a write", files[PC_DB].written.size, real.size);
		image wal = read_image(wal_path);
		cr_assert_eq(wal.exists, files[PC_WAL].written.exists, "the -wal file after the run");
		free(real.bytes);
		free(wal.bytes);
	}
done:
	for (int f = 0; f < PC_FILES; f++) {
		free(files[f].durable.bytes);
		free(files[f].written.bytes);
		free(files[f].pending);
		free(out[f].bytes);
	}
	free(dir);
	free(points);
	free(acks);
	free(t.recs);
	free(t.bytes);
	free(base_db.bytes);
	free(base_wal.bytes);
	free(trace_path);
	free(wal_path);
	free(db_path);
	free(headers);
	free(token);
	w_server_free(&s);
	return o;
}

static unsigned seed_of_run(void)
{
	unsigned seed = env_unsigned("SIGHOST_POWERCUT_SEED", (unsigned)time(NULL) ^ (unsigned)getpid());
	cr_log_info("powercut: seed %u (SIGHOST_POWERCUT_SEED=%u repeats this run)", seed, seed);
	return seed;
}

Test(powercut, every_acknowledged_create_survives_a_power_cut)
{
	const char *mode = getenv("SIGHOST_POWERCUT_SYNC");
	mode = mode != NULL && *mode != '\0' ? mode : "full";
	unsigned seed = seed_of_run();
	outcome o = run_powercut(mode, seed, env_unsigned("SIGHOST_POWERCUT_CREATES", 400),
		env_unsigned("SIGHOST_POWERCUT_CUTS", env_unsigned("SIGHOST_POWERCUT_DEFAULT_CUTS", 40)),
		false);
	cr_log_info("powercut (synchronous=%s): %zu creates answered 201; trace of %zu records, "
		"%zu syncs of the log and %zu of the database; %zu points, %zu images, %zu wrong",
		mode, o.acks, o.records, o.wal_syncs, o.db_syncs, o.points, o.images, o.wrong_images);
	cr_assert_null(o.first_wrong, "synchronous=%s: %zu of %zu images lose an acknowledged "
		"write or are broken; the first: %s", mode, o.wrong_images, o.images, o.first_wrong);
	cr_assert_gt(o.wal_syncs, 0);
	cr_assert_gt(o.acks, 0);
}

/* The check has teeth: a server whose answers precede their commit's sync
 * loses acknowledged creates in some image. The syncs are made to lie by
 * the shim (SIGHOST_POWERCUT_FAULT): `nosync`, none takes effect (as
 * synchronous=OFF, or a disk that ignores flushes); `lag`, each takes
 * effect only at the next sync call, so answers given in between precede
 * their fsync, as a group commit that answered before its sync would. The
 * plugin modes `off` and `late` (t_sync) are caught only without group
 * commit: under `serve` the host's sync thread syncs the log before any
 * answer whatever PRAGMA synchronous a plugin sets, which is what it is for. */
Test(powercut, the_check_catches_answers_given_before_their_fsync)
{
	static const char *const modes[] = { "nosync", "lag" };
	unsigned seed = seed_of_run();
	for (size_t m = 0; m < 2; m++) {
		w_cleanup();
		w_setup();
		outcome o = run_powercut(modes[m], seed, 200, 40, true);
		cr_assert_not_null(o.first_wrong, "mode %s: the power-cut check found nothing wrong "
			"in %zu images of %zu points", modes[m], o.images, o.points);
		cr_log_info("powercut (%s): caught: %s", modes[m], o.first_wrong);
		free(o.first_wrong);
	}
}
