/*
 * crashkill.c: process crash safety. The real `sighost serve` (audit and
 * the example's alert app) under a load of creates from several client
 * threads is killed with SIGKILL at a random moment, then the database is
 * checked before the next start: PRAGMA integrity_check passes, every
 * create that was answered 201 is there with its id, and no save is half
 * applied (each alert is created with two tags in one atomic block: it
 * has both or does not exist). Repeated for many cycles, with
 * database.synchronous full and normal (a process crash loses nothing in
 * either mode; a power loss differs: powercut.c). Each kill must land
 * mid-request (requests sent before it fail after it, in every cycle) and
 * over a run some commits must have lost their answer with the process:
 * otherwise the cycles tested a quiet server. Then `sighost migrate` is
 * killed at random moments of a plan of five migrations: the database
 * shows each migration applied (recorded, and every effect there) or not
 * (no record, no effect), never half, and a later migrate completes; the
 * kill must be what ended it (SIGKILL, not an exit before it) and some
 * kills must fall between migrations (1 to N-1 applied).
 * With group commit, a kill between commits and their sync (stretched by
 * the preloaded slowsync.so) shows none of them answered, and the create
 * answered before that sync there.
 *
 * SIGHOST_CRASH_CYCLES sets the cycles of each load mode (default 10, so
 * 20 kills) and of the migrations (default 8); SIGHOST_CRASH_SEED the seed
 * of the kill times (default: the clock; printed either way).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rel_support.h"

TestSuite(process_crash, .init = w_setup, .fini = w_cleanup);   /* meson's timeout guards */

static unsigned env_unsigned(const char *name, unsigned fallback)
{
	const char *v = getenv(name);
	return v != NULL && *v != '\0' ? (unsigned)strtoul(v, NULL, 10) : fallback;
}

static unsigned seed_of_run(void)
{
	unsigned seed = env_unsigned("SIGHOST_CRASH_SEED", (unsigned)time(NULL) ^ (unsigned)getpid());
	cr_log_info("process crash: seed %u (SIGHOST_CRASH_SEED=%u repeats this run)", seed, seed);
	return seed;
}

/* A uniform random number in [lo, hi). */
static double uniform(unsigned *seed, double lo, double hi)
{
	return lo + (hi - lo) * ((double)rand_r(seed) / ((double)RAND_MAX + 1.0));
}

/* ---- the load --------------------------------------------------------- */

#define CLIENTS 4
#define MAX_ACKS 100000

/* One client thread: POSTs creates with unique markers until the server
 * is gone, recording the ones answered 201 with the id they got. */
typedef struct client {
	unsigned port;
	unsigned cycle;
	unsigned index;
	const _Atomic bool *killed;   /* set before the kill */
	const _Atomic bool *dead;     /* set once the server is gone (waitpid) */
	_Atomic size_t *answered;   /* creates answered, over all clients */
	/* results */
	char (*markers)[32];
	int64_t *ids;
	size_t acked;
	size_t sent;
	size_t errors;        /* answers other than 201 */
	size_t lost_early;    /* connections that failed before the kill */
	size_t cut;           /* requests sent to the live server that the kill cut off */
	char first_error[256];
} client;

static void *client_main(void *arg)
{
	client *c = arg;
	for (unsigned seq = 0; c->acked < MAX_ACKS; seq++) {
		char marker[32], body[128];
		snprintf(marker, sizeof marker, "c%u-t%u-%u", c->cycle, c->index, seq);
		snprintf(body, sizeof body, "{\"content\": \"%s\", \"tags\": [1, 2]}", marker);
		bool before_kill = !atomic_load(c->killed), alive = !atomic_load(c->dead);
		int status = 0;
		char *answer = NULL;
		c->sent++;
		if (r_http(c->port, "POST", "/api/alerts", NULL, body, 10, &status, &answer) < 0) {
			if (before_kill && !atomic_load(c->killed))
				c->lost_early++;
			else if (alive)
				c->cut++;
			free(answer);
			if (atomic_load(c->killed))
				break;
			continue;
		}
		json_t *j = status == 201 ? json_loads(answer, 0, NULL) : NULL;
		json_t *id = j != NULL ? json_object_get(j, "id") : NULL;
		if (json_is_integer(id)) {
			memcpy(c->markers[c->acked], marker, sizeof marker);
			c->ids[c->acked++] = json_integer_value(id);
			atomic_fetch_add(c->answered, 1);
		} else if (c->errors++ == 0) {
			snprintf(c->first_error, sizeof c->first_error, "%d %s", status,
				answer ? answer : "");
		}
		json_decref(j);
		free(answer);
	}
	return NULL;
}

/* What the cycles of one mode add up to. */
typedef struct tally {
	size_t cycles;
	size_t acked;
	size_t unacked_rows;   /* rows whose 201 was lost with the process */
	size_t cut;            /* requests in flight that the kills cut off */
	double killed_at_min, killed_at_max;
} tally;

/* The database after a kill: sound, every acknowledged create there with
 * its id and both tags, no alert with a partial set of tags. */
static void verify_after_kill(const client *clients, size_t n, unsigned cycle, tally *t)
{
	char *db = r_db_path(), *ok = r_db_integrity(db);
	cr_assert_str_eq(ok, "ok", "cycle %u: integrity_check", cycle);
	free(ok);
	size_t rows = 0, acked = 0;
	char like[32];
	snprintf(like, sizeof like, "c%u-%%", cycle);
	r_stored *all = r_stored_alerts(db, like, &rows);
	free(db);
	for (size_t i = 0; i < n; i++) {
		const client *c = &clients[i];
		for (size_t k = 0; k < c->acked; k++) {
			const r_stored *hit = r_stored_find(all, rows, c->markers[k]);
			cr_assert_not_null(hit, "cycle %u: '%s' was answered 201 (id %lld) and is not in "
				"the database", cycle, c->markers[k], (long long)c->ids[k]);
			cr_assert_eq(hit->id, c->ids[k], "cycle %u: '%s' was answered 201 with id %lld, "
				"the database has %lld", cycle, c->markers[k], (long long)c->ids[k],
				(long long)hit->id);
		}
		acked += c->acked;
	}
	free(all);
	cr_assert_geq(rows, acked, "cycle %u", cycle);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM alert_alert a WHERE (SELECT count(*) FROM "
		"alert_alert_tags t WHERE t.alert_id = a.id) != 2"), 0,
		"cycle %u: an alert without both its tags: a half-applied save", cycle);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM alert_alert_tags WHERE alert_id NOT IN "
		"(SELECT id FROM alert_alert)"), 0, "cycle %u: tags of no alert", cycle);
	cr_assert_eq(a_sql_int("SELECT count(*) - count(DISTINCT content) FROM alert_alert"), 0,
		"cycle %u: a create stored twice", cycle);
	t->acked += acked;
	t->unacked_rows += rows - acked;
}

/* One cycle: start, load, kill at a random moment, verify. */
static void load_cycle(unsigned cycle, unsigned *seed, tally *t)
{
	w_server s;
	w_start(&s, NULL);
	_Atomic bool killed = false, dead = false;
	_Atomic size_t answered = 0;
	client clients[CLIENTS];
	pthread_t threads[CLIENTS];
	for (unsigned i = 0; i < CLIENTS; i++) {
		clients[i] = (client){ .port = s.port, .cycle = cycle, .index = i, .killed = &killed,
			.dead = &dead, .answered = &answered };
		clients[i].markers = calloc(MAX_ACKS, sizeof *clients[i].markers);
		clients[i].ids = calloc(MAX_ACKS, sizeof *clients[i].ids);
		cr_assert(clients[i].markers != NULL && clients[i].ids != NULL);
		cr_assert_eq(pthread_create(&threads[i], NULL, client_main, &clients[i]), 0);
	}
	/* the kill's time counts from when the load runs: a create of each
	 * client answered (10 s at most) */
	double deadline = r_now() + 10;
	while (atomic_load(&answered) < CLIENTS && r_now() < deadline)
		r_sleep(0.001);
	cr_assert_geq(atomic_load(&answered), CLIENTS, "cycle %u: the load did not start", cycle);
	double at = uniform(seed, 0.05, 0.6);
	r_sleep(at);
	atomic_store(&killed, true);
	cr_assert_eq(kill(s.pid, SIGKILL), 0);
	int status;
	cr_assert_eq(waitpid(s.pid, &status, 0), s.pid);
	atomic_store(&dead, true);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "cycle %u: the server had "
		"ended before the kill (status %d); see %s", cycle, status, s.err_path);
	for (unsigned i = 0; i < CLIENTS; i++)
		pthread_join(threads[i], NULL);
	char *err = t_read(s.err_path);
	w_lacks(err, "runtime error:");   /* sanitizers' reports until the kill */
	w_lacks(err, "AddressSanitizer");
	free(err);
	for (unsigned i = 0; i < CLIENTS; i++) {
		cr_assert_eq(clients[i].errors, 0, "cycle %u client %u: %zu error answers, the first: %s",
			cycle, i, clients[i].errors, clients[i].first_error);
		cr_assert_eq(clients[i].lost_early, 0, "cycle %u client %u: connections failed before "
			"the kill", cycle, i);
	}
	size_t cut = 0;
	for (unsigned i = 0; i < CLIENTS; i++)
		cut += clients[i].cut;
	cr_assert_gt(cut, 0, "cycle %u: the kill (%.2f s into the load) cut off no request: it did "
		"not land mid-request (sent by client 0: %zu, answered %zu)", cycle, at, clients[0].sent,
		clients[0].acked);
	t->cut += cut;
	verify_after_kill(clients, CLIENTS, cycle, t);
	for (unsigned i = 0; i < CLIENTS; i++) {
		free(clients[i].markers);
		free(clients[i].ids);
	}
	t->cycles++;
	t->killed_at_min = t->cycles == 1 || at < t->killed_at_min ? at : t->killed_at_min;
	t->killed_at_max = at > t->killed_at_max ? at : t->killed_at_max;
	w_server_free(&s);
}

static void load_in_mode(const char *sync)
{
	unsigned seed = seed_of_run();
	unsigned cycles = env_unsigned("SIGHOST_CRASH_CYCLES", 10);
	char extra[160];
	snprintf(extra, sizeof extra, "threads: 4\ndatabase: {engine: sqlite, name: db.sqlite3, "
		"synchronous: %s}\n", sync);
	w_project("alert", extra);
	a_migrate();
	a_login("crasher");   /* model routes need a token: r_http sends w_auth */
	cr_assert_geq(a_sql_int("SELECT count(*) FROM alert_tag WHERE id IN (1, 2)"), 2,
		"the alert app's migration seeds tags 1 and 2");
	tally t = { 0 };
	double t0 = r_now();
	/* until at least one commit has lost its answer with the process (four
	 * times the cycles at most: then the assertion below fails) */
	for (unsigned cycle = 0; cycle < cycles || (t.unacked_rows == 0 && cycle < 4 * cycles);
			cycle++)
		load_cycle(cycle, &seed, &t);
	/* the database still serves, and stops cleanly */
	w_server s;
	w_start(&s, NULL);
	w_resp r = a_json(s.port, "POST", "/api/alerts", NULL, "{\"content\": \"after\", \"tags\": [1, 2]}");
	cr_assert_eq(r.status, 201, "%s", r.body);
	w_resp_free(&r);
	w_stop(&s);
	cr_assert_eq(s.status, 0, "%s", s.err);
	w_lacks(s.err, "runtime error:");   /* UBSan reports without failing the exit */
	w_server_free(&s);
	cr_log_info("process crash (synchronous=%s): %zu cycles survived in %.1f s, killed %.2f to "
		"%.2f s into the load; %zu creates answered 201, all there; %zu requests cut off by the "
		"kills; %zu more committed whose answer died with the process", sync, t.cycles,
		r_now() - t0, t.killed_at_min, t.killed_at_max, t.acked, t.cut, t.unacked_rows);
	cr_assert_gt(t.acked, 0, "no create was answered before the kills");
	cr_assert_gt(t.unacked_rows, 0, "no commit lost its answer with the process in %zu kills: "
		"they did not land between a commit and its answer", t.cycles);
}

Test(process_crash, sigkill_under_load_loses_no_answered_create_synchronous_full)
{
	load_in_mode("full");
}

Test(process_crash, sigkill_under_load_loses_no_answered_create_synchronous_normal)
{
	load_in_mode("normal");
}

/* ---- a kill between a commit and its sync ------------------------------
 *
 * With group commit (synchronous full) a create is committed at NORMAL
 * and answered only once the sync thread's fdatasync of the -wal file
 * covers it. slowsync.so (preloaded into the server) stretches each sync
 * of the -wal file to SLOW_SYNC_MS, so that creates sit committed (another
 * connection reads them) but not durable; the server is killed there.
 * None of them may have been answered, and every create answered before
 * is in the database after the kill. */

#define SLOW_SYNC_MS "3000"
#define WAITING 4

/* One create posted from a thread, and its answer. */
typedef struct one_post {
	unsigned port;
	char marker[32];
	int status;          /* 0: no answer */
	int64_t id;
	double answered_at;  /* r_now() */
	_Atomic bool done;
} one_post;

static void *one_post_main(void *arg)
{
	one_post *p = arg;
	char body[128];
	snprintf(body, sizeof body, "{\"content\": \"%s\", \"tags\": [1, 2]}", p->marker);
	int status = 0;
	char *answer = NULL;
	if (r_http(p->port, "POST", "/api/alerts", NULL, body, 60, &status, &answer) == 0) {
		p->status = status;
		json_t *j = status == 201 ? json_loads(answer, 0, NULL) : NULL;
		json_t *id = j != NULL ? json_object_get(j, "id") : NULL;
		p->id = json_is_integer(id) ? json_integer_value(id) : 0;
		json_decref(j);
	}
	free(answer);
	p->answered_at = r_now();
	atomic_store(&p->done, true);
	return NULL;
}

/* Starts the server with slowsync.so preloaded. */
static void start_slow(w_server *s)
{
	const char *shim = getenv("SIGHOST_SLOWSYNC_SO");
	cr_assert(shim != NULL && shim[0] != '\0', "SIGHOST_SLOWSYNC_SO is not set (meson sets it)");
	const char *asan = getenv("ASAN_OPTIONS");
	char *asan_saved = asan != NULL ? strdup(asan) : NULL, *asan_more = NULL;
	/* an ASan build wants its runtime first; the shim only wraps two calls */
	cr_assert_geq(asprintf(&asan_more, "%s%sverify_asan_link_order=0", asan ? asan : "",
		asan && asan[0] ? ":" : ""), 0);
	setenv("ASAN_OPTIONS", asan_more, 1);
	setenv("LD_PRELOAD", shim, 1);
	setenv("SIGHOST_SLOWSYNC_MS", SLOW_SYNC_MS, 1);
	w_start(s, NULL);
	unsetenv("LD_PRELOAD");
	unsetenv("SIGHOST_SLOWSYNC_MS");
	if (asan_saved != NULL)
		setenv("ASAN_OPTIONS", asan_saved, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(asan_saved);
	free(asan_more);
}

Test(process_crash, sigkill_between_commit_and_its_sync_loses_no_answered_create)
{
	w_project("alert", "threads: 4\ndatabase: {engine: sqlite, name: db.sqlite3, "
		"synchronous: full}\n");
	a_migrate();
	a_login("crasher");   /* model routes need a token: r_http sends w_auth */
	w_server s;
	start_slow(&s);
	/* a lone create: answered after one (slow) sync */
	one_post first = { .port = s.port, .marker = "between-acked" };
	double t0 = r_now();
	one_post_main(&first);
	double took = r_now() - t0;
	cr_assert_eq(first.status, 201, "the lone create was answered %d", first.status);
	cr_assert_geq(took, 2.5, "the lone create was answered after %.2f s, before the sync of "
		"its commit (" SLOW_SYNC_MS " ms) ended", took);
	/* creates that commit while a sync runs: committed, waiting for it */
	one_post posts[WAITING];
	pthread_t threads[WAITING];
	for (unsigned i = 0; i < WAITING; i++) {
		posts[i] = (one_post){ .port = s.port };
		snprintf(posts[i].marker, sizeof posts[i].marker, "between-w%u", i);
		cr_assert_eq(pthread_create(&threads[i], NULL, one_post_main, &posts[i]), 0);
	}
	double deadline = r_now() + 20;
	int64_t committed = 0;
	while ((committed = a_sql_int("SELECT count(*) FROM alert_alert WHERE content LIKE "
			"'between-w%'")) < WAITING && r_now() < deadline)
		r_sleep(0.005);
	cr_assert_eq(committed, WAITING, "the %d creates did not commit", WAITING);
	double seen = r_now();
	bool answered[WAITING];
	for (unsigned i = 0; i < WAITING; i++)
		answered[i] = atomic_load(&posts[i].done);
	cr_assert_eq(kill(s.pid, SIGKILL), 0);
	int status;
	cr_assert_eq(waitpid(s.pid, &status, 0), s.pid);
	cr_assert(WIFSIGNALED(status), "the server had ended before the kill; see %s", s.err_path);
	for (unsigned i = 0; i < WAITING; i++) {
		pthread_join(threads[i], NULL);
		cr_assert(!answered[i], "create %u was answered (%d) while its commit was not synced "
			"(%.3f s before all %d were seen committed, %.3f s after the lone one)", i,
			posts[i].status, seen - posts[i].answered_at, WAITING, posts[i].answered_at - t0);
	}
	/* after the kill: sound, the answered create there with its id */
	char *db = r_db_path(), *ok = r_db_integrity(db);
	cr_assert_str_eq(ok, "ok");
	free(ok);
	free(db);
	cr_assert_eq(a_sql_int("SELECT id FROM alert_alert WHERE content = 'between-acked'"),
		first.id, "the create answered 201 (id %lld) is not in the database",
		(long long)first.id);
	/* and a server starts over it and serves it */
	w_server_free(&s);
	w_start(&s, NULL);
	char path[64];
	snprintf(path, sizeof path, "/api/alerts/%lld", (long long)first.id);
	w_resp r = a_json(s.port, "GET", path, NULL, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	w_resp_free(&r);
	w_stop(&s);
	cr_assert_eq(s.status, 0, "%s", s.err);
	w_server_free(&s);
	cr_log_info("crashkill (between commit and sync): a lone create answered after %.2f s "
		"(syncs take " SLOW_SYNC_MS " ms); %d creates committed and unanswered at the kill; "
		"the answered one is there", took, WAITING);
}

/* ---- migrate ---------------------------------------------------------- */

/* A plan of five migrations, each slow enough (bulk inserts, a table
 * rebuild, an index over the rows) for a random kill to land inside one. */
#define BIG_ROWS 200000
#define OTHER_ROWS 100000

static const char *const crash_manifest =
	"label: crash\n"
	"migrations: crash_migrations\n"
	"models:\n"
	"  Big:\n"
	"    fields:\n"
	"      n: {type: integer}\n"
	"      label: {type: text, max_length: 20, default: x}\n"
	"  Other:\n"
	"    fields:\n"
	"      name: {type: text, max_length: 20}\n";

static const char *const migrations[][2] = {
	{ "0001_initial.yaml",
		"initial: true\n"
		"operations:\n"
		"- create_model: {name: Big, fields: {n: {type: integer}}}\n" },
	{ "0002_fill.yaml",
		"dependencies: [[crash, 0001_initial]]\n"
		"operations:\n"
		"- run_sql:\n"
		"    sql: >-\n"
		"      WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)\n"
		"      INSERT INTO crash_big (n) SELECT x FROM c\n"
		"    reverse_sql: ''\n" },
	{ "0003_label.yaml",
		"dependencies: [[crash, 0002_fill]]\n"
		"operations:\n"
		"- add_field: {model: Big, name: label, field: {type: text, max_length: 20, default: x}}\n" },
	{ "0004_other.yaml",
		"dependencies: [[crash, 0003_label]]\n"
		"operations:\n"
		"- create_model: {name: Other, fields: {name: {type: text, max_length: 20}}}\n"
		"- run_sql:\n"
		"    sql: >-\n"
		"      WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)\n"
		"      INSERT INTO crash_other (name) SELECT 'o' || x FROM c\n"
		"    reverse_sql: ''\n" },
	{ "0005_index.yaml",
		"dependencies: [[crash, 0004_other]]\n"
		"operations:\n"
		"- add_index: {model: Big, name: crash_big_label_n, fields: [label, n]}\n" },
};
#define MIGRATIONS (sizeof migrations / sizeof migrations[0])

static void write_crash_app(void)
{
	w_manifest("crash", crash_manifest);
	char *dir = t_path(w_plugins, "crash_migrations");
	cr_assert_eq(mkdir(dir, 0755), 0);
	for (size_t i = 0; i < MIGRATIONS; i++)
		free(t_write(dir, migrations[i][0], migrations[i][1]));
	free(dir);
	w_project("crash", NULL);
}

static void remove_database(void)
{
	const char *suffixes[] = { "", "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < 4; i++) {
		char *path = NULL;
		cr_assert_geq(asprintf(&path, "%s/db.sqlite3%s", w_dir, suffixes[i]), 0);
		unlink(path);
		free(path);
	}
}

static bool file_exists(const char *name)
{
	char *path = t_path(w_dir, name);
	bool there = access(path, F_OK) == 0;
	free(path);
	return there;
}

/* Which migrations of crash are recorded; asserts they are a prefix of the
 * plan (each depends on the one before). */
static size_t recorded(void)
{
	if (a_sql_int("SELECT count(*) FROM sqlite_master WHERE name = 'sighost_migrations'") == 0)
		return 0;
	size_t n = (size_t)a_sql_int("SELECT count(*) FROM sighost_migrations WHERE app = 'crash'");
	for (size_t i = 0; i < n; i++) {
		char *q = NULL, want[64];
		snprintf(want, sizeof want, "%.*s", (int)(strlen(migrations[i][0]) - 5), migrations[i][0]);
		cr_assert_geq(asprintf(&q, "SELECT count(*) FROM sighost_migrations WHERE app = 'crash' "
			"AND name = '%s'", want), 0);
		cr_assert_eq(a_sql_int(q), 1, "recorded: not a prefix of the plan (no %s)", want);
		free(q);
	}
	return n;
}

/* Asserts that the effects of exactly the first `applied` migrations are
 * in the database, each whole. */
static void effects_match(size_t applied, unsigned cycle)
{
	bool big = a_sql_int("SELECT count(*) FROM sqlite_master WHERE name = 'crash_big'") == 1;
	cr_assert_eq(big, applied >= 1, "cycle %u, %zu applied: table crash_big", cycle, applied);
	if (big)
		cr_assert_eq(a_sql_int("SELECT count(*) FROM crash_big"), applied >= 2 ? BIG_ROWS : 0,
			"cycle %u, %zu applied: rows of crash_big", cycle, applied);
	if (big)
		cr_assert_eq(a_sql_int("SELECT count(*) FROM pragma_table_info('crash_big') WHERE name "
			"= 'label'"), applied >= 3, "cycle %u, %zu applied: column label", cycle, applied);
	if (big && applied >= 3)
		cr_assert_eq(a_sql_int("SELECT count(*) FROM crash_big WHERE label = 'x'"), BIG_ROWS,
			"cycle %u: the rebuild kept every row", cycle);
	bool other = a_sql_int("SELECT count(*) FROM sqlite_master WHERE name = 'crash_other'") == 1;
	cr_assert_eq(other, applied >= 4, "cycle %u, %zu applied: table crash_other", cycle, applied);
	if (other)
		cr_assert_eq(a_sql_int("SELECT count(*) FROM crash_other"), OTHER_ROWS,
			"cycle %u: rows of crash_other (created and filled in one migration)", cycle);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM sqlite_master WHERE name = "
		"'crash_big_label_n'"), applied >= 5, "cycle %u, %zu applied: the index", cycle, applied);
	cr_assert_eq(a_sql_int("SELECT count(*) FROM sqlite_master WHERE name LIKE 'new\\_\\_%' "
		"ESCAPE '\\'"), 0, "cycle %u: a rebuild's table was left behind", cycle);
}

static void migrate_to_the_end(void)
{
	const char *argv[] = { "migrate", "--settings", "project.yaml", NULL };
	pid_t pid = r_spawn(argv, "migrate");
	int status = r_wait(pid, 120);
	char *err = t_path(w_dir, "migrate.err"), *text = t_read(err);
	cr_assert_eq(status, 0, "sighost migrate: %d\n%s", status, text);
	free(text);
	free(err);
}

Test(process_crash, sigkill_during_migrate_leaves_each_migration_applied_or_not_never_half)
{
	unsigned seed = seed_of_run();
	unsigned cycles = env_unsigned("SIGHOST_CRASH_CYCLES", 8);
	write_crash_app();
	/* how long a whole run takes: the kills fall within it */
	double t0 = r_now();
	migrate_to_the_end();
	double whole = r_now() - t0;
	effects_match(MIGRATIONS, 0);
	size_t at[MIGRATIONS + 1] = { 0 };
	unsigned tries = 0, early = 0;
	for (unsigned cycle = 1; cycle <= cycles; cycle++) {
		cr_assert_lt(tries++, 3 * cycles, "sighost migrate ended before the kill in %u of %u "
			"runs", early, tries - 1);
		remove_database();
		const char *argv[] = { "migrate", "--settings", "project.yaml", NULL };
		pid_t pid = r_spawn(argv, "migrate");
		/* within the first four fifths of a whole run: the process is still
		 * at work when the kill comes */
		double kill_at = uniform(&seed, 0.0, 0.8 * whole);
		r_sleep(kill_at);
		cr_assert_eq(kill(pid, SIGKILL), 0);
		int status = r_wait(pid, 30);
		if (status == 0) {   /* a faster run than the first: not a cycle */
			whole = kill_at;
			early++;
			cycle--;
			continue;
		}
		cr_assert_eq(status, 128 + SIGKILL, "cycle %u: sighost migrate ended with %d, not by "
			"the kill", cycle, status);
		size_t applied = 0;
		if (file_exists("db.sqlite3")) {
			char *db = r_db_path(), *ok = r_db_integrity(db);
			cr_assert_str_eq(ok, "ok", "cycle %u: integrity_check", cycle);
			free(ok);
			free(db);
			applied = recorded();
			effects_match(applied, cycle);
		}
		at[applied]++;
		migrate_to_the_end();   /* and the next run finishes the plan */
		cr_assert_eq(recorded(), MIGRATIONS);
		effects_match(MIGRATIONS, cycle);
	}
	char hist[128];
	size_t len = 0;
	for (size_t i = 0; i <= MIGRATIONS; i++)
		len += (size_t)snprintf(hist + len, sizeof hist - len, "%s%zu:%zu", i ? " " : "", i, at[i]);
	cr_log_info("process crash (migrate): %u kills within a %.2f s run survived (%u runs "
		"ended before their kill, not counted); migrations applied when killed (count:cycles) "
		"%s", cycles, whole, early, hist);
	size_t between = 0;
	for (size_t i = 1; i < MIGRATIONS; i++)
		between += at[i];
	cr_assert_gt(between, 0, "no kill fell between two migrations (1 to %zu applied) in %u "
		"cycles: %s", MIGRATIONS - 1, cycles, hist);
}
