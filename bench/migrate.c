/*
 * migrate.c: what migrating costs beside the same SQL run directly by
 * SQLite, in the same run.
 *
 *   1. 200 migrations over 20 apps (10 each: models created with keys to
 *      the app before, fields added, altered, renamed and removed, an
 *      index) applied to an empty database;
 *   2. an alter_field (varchar(50) to varchar(100), a table rebuild) on a
 *      table of 1M rows.
 *
 * The host side is sh_migrate_load() + sh_migrate_run() on a loaded
 * project (reading the YAML files, the graph, the state, the DDL, the
 * signals and the SQL). The raw side is every statement the host's
 * connection ran during a first, traced run (sqlite3_trace_v2, bound
 * values expanded), replayed with sqlite3_exec() on a fresh copy of the
 * same database with the same PRAGMAs: the same SQL, nothing else.
 * Figures are the best of the rounds, of wall time and of CPU time (the
 * commits' fsyncs make wall times noisy on a shared disk); the ratio is
 * host / raw (target: under 1.20).
 *
 *   build/bench/bench_migrate [rows] [rounds] [dir]
 */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sighost/sys/sighost.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the process: what each side computes, without the waits
 * for the disk (fsync at each commit) that make wall times noisy. */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void must(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "bench: %s: %s\n", what, sh_error_last()->message);
		exit(1);
	}
}

static void must_sql(int rc, sqlite3 *db, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "bench: %s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
}

static char *path_of(const char *dir, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		exit(1);
	return p;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char *p = path_of(dir, name);
	FILE *f = fopen(p, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "bench: cannot write %s: %s\n", p, strerror(errno));
		exit(1);
	}
	free(p);
}

static void remove_db(const char *path)
{
	const char *suffix[] = { "", "-wal", "-shm" };
	for (int i = 0; i < 3; i++) {
		char *p = NULL;
		if (asprintf(&p, "%s%s", path, suffix[i]) >= 0) {
			unlink(p);
			free(p);
		}
	}
}

/* ---- the SQL the host ran ---- */

typedef struct trace {
	char **sql;
	size_t count;
	size_t capacity;
} trace;

static int on_trace(unsigned kind, void *payload, void *p, void *x)
{
	(void)kind;
	trace *t = payload;
	if (((const char *)x)[0] == '-' && ((const char *)x)[1] == '-')
		return 0;   /* a trigger's comment */
	char *sql = sqlite3_expanded_sql(p);
	if (sql == NULL)
		return 0;
	if (t->count == t->capacity) {
		t->capacity = t->capacity ? t->capacity * 2 : 1024;
		t->sql = realloc(t->sql, t->capacity * sizeof *t->sql);
		if (t->sql == NULL)
			exit(1);
	}
	t->sql[t->count++] = strdup(sql);
	sqlite3_free(sql);
	return 0;
}

static void trace_free(trace *t)
{
	for (size_t i = 0; i < t->count; i++)
		free(t->sql[i]);
	free(t->sql);
	*t = (trace){ NULL, 0, 0 };
}

/* Opens a raw connection set up as the host sets its own up. */
static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db;
	must_sql(sqlite3_open(path, &db), db, "open");
	sqlite3_busy_timeout(db, 5000);
	must_sql(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON", NULL, NULL,
		NULL), db, "pragmas");
	return db;
}

typedef struct times {
	double wall;
	double cpu;
	double load;                /* host: reading the migrations (wall) */
} times;

/* Keeps the best wall time and, separately, the best CPU time. */
static void keep_best(times *best, times t)
{
	if (t.wall < best->wall) {
		best->wall = t.wall;
		best->load = t.load;
	}
	if (t.cpu < best->cpu)
		best->cpu = t.cpu;
}

static times raw_replay(const char *path, const trace *t)
{
	sqlite3 *db = raw_open(path);
	double t0 = now_s(), c0 = cpu_s();
	for (size_t i = 0; i < t->count; i++) {
		char *why = NULL;
		if (sqlite3_exec(db, t->sql[i], NULL, NULL, &why) != SQLITE_OK) {
			fprintf(stderr, "bench: replaying %s: %s\n", t->sql[i], why);
			exit(1);
		}
	}
	times r = { now_s() - t0, cpu_s() - c0, 0 };
	sqlite3_close(db);
	return r;
}

/* ---- the host ---- */

/* Migrates the project of `dir` (target app/name, NULL for all), traced
 * into `t` when non-NULL. */
static times host_migrate(const char *dir, const char *app, const char *target, trace *t)
{
	sh_project *p;
	must(sh_project_new(&p), "project");
	char *manifest = path_of(dir, "project.yaml");
	must(sh_project_read(p, manifest), "read");
	must(sh_project_load(p), "load");
	free(manifest);
	sh_conn *db;
	must(sh_database_connection(&db, sh_project_database(p)), "connection");
	if (t != NULL)
		sqlite3_trace_v2(sh_conn_sqlite(db), SQLITE_TRACE_STMT, on_trace, t);
	double t0 = now_s(), c0 = cpu_s();
	sh_migrate_graph *g;
	must(sh_migrate_load(&g, p), "load migrations");
	double t1 = now_s();
	sh_migrate_opts opts = SH_MIGRATE_OPTS_INIT;
	opts.app_label = app;
	opts.target = target;
	must(sh_migrate_run(g, &opts), "migrate");
	times h = { now_s() - t0, cpu_s() - c0, t1 - t0 };
	if (t != NULL)
		sqlite3_trace_v2(sh_conn_sqlite(db), 0, NULL, NULL);
	sh_migrate_free(g);
	sh_project_free(p);
	return h;
}

static void report(const char *title, int rounds, times host, times raw, size_t statements)
{
	printf("%s (best of %d, wall / CPU)\n", title, rounds);
	printf("  sighost migrate    %9.1f ms / %7.1f ms  (reading the migrations %.1f ms)\n",
		host.wall * 1e3, host.cpu * 1e3, host.load * 1e3);
	printf("  same SQL, sqlite3  %9.1f ms / %7.1f ms  (%zu statements)\n", raw.wall * 1e3,
		raw.cpu * 1e3, statements);
	printf("  ratio              %9.2f    / %7.2f     (target: under 1.20)\n",
		host.wall / raw.wall, host.cpu / raw.cpu);
}

/* ---- 1. 200 migrations over 20 apps ---- */

#define APPS 20

static void write_migration(const char *dir, int app, int number, const char *name,
	const char *deps, const char *ops)
{
	char *folder = NULL, *file = NULL, *text = NULL;
	if (asprintf(&folder, "%s/migrations/app%02d", dir, app) < 0)
		exit(1);
	mkdir(folder, 0755);
	if (asprintf(&file, "%04d_%s.yaml", number, name) < 0
			|| asprintf(&text, "dependencies: %s\noperations:\n%s", deps, ops) < 0)
		exit(1);
	write_file(folder, file, text);
	free(folder);
	free(file);
	free(text);
}

static void make_many(const char *dir)
{
	char *plugins = path_of(dir, "plugins"), *migrations = path_of(dir, "migrations");
	mkdir(plugins, 0755);
	mkdir(migrations, 0755);
	char installed[1024] = "";
	for (int a = 0; a < APPS; a++) {
		char label[16], manifest[128], text[256];
		snprintf(label, sizeof label, "app%02d", a);
		snprintf(manifest, sizeof manifest, "%s.yaml", label);
		snprintf(text, sizeof text, "label: %s\nmigrations: ../migrations/%s\n", label, label);
		write_file(plugins, manifest, text);
		snprintf(installed + strlen(installed), sizeof installed - strlen(installed), "%s%s",
			a ? ", " : "", label);
	}
	char project[1200];
	snprintf(project, sizeof project, "project: bench\ndatabase: {engine: sqlite, name: "
		"many.sqlite3}\nplugin_dirs: [plugins]\ninstalled_apps: [%s]\n", installed);
	write_file(dir, "project.yaml", project);
	for (int a = 0; a < APPS; a++) {
		char deps[256], ops[1024], prev[128];
		if (a > 0)
			snprintf(deps, sizeof deps, "[[app%02d, 0001_initial]]", a - 1);
		else
			snprintf(deps, sizeof deps, "[]");
		char prev_key[128] = "";
		if (a > 0)   /* a key to the app before: a dependency across apps */
			snprintf(prev_key, sizeof prev_key, "        prev: {type: foreign_key, to: "
				"app%02d.Thing, on_delete: cascade, null: true}\n", a - 1);
		snprintf(ops, sizeof ops,
			"  - create_model:\n"
			"      name: Thing\n"
			"      fields:\n"
			"        name: {type: text, max_length: 50}\n"
			"        qty: {type: integer, default: 0}\n"
			"%s", prev_key);
		write_migration(dir, a, 1, "initial", deps, ops);
		snprintf(prev, sizeof prev, "0001_initial");
		for (int k = 2; k <= 10; k++) {
			char name[64];
			switch (k) {
			case 2: case 3: case 4: case 5: case 6:
				snprintf(name, sizeof name, "part%d", k);
				snprintf(ops, sizeof ops,
					"  - create_model:\n"
					"      name: Part%d\n"
					"      fields:\n"
					"        thing: {type: foreign_key, to: Thing, on_delete: cascade}\n"
					"        label: {type: text, max_length: 20}\n"
					"        value: {type: real, null: true}\n", k);
				break;
			case 7:
				snprintf(name, sizeof name, "thing_extra");
				snprintf(ops, sizeof ops, "  - add_field: {model: Thing, name: extra, "
					"field: {type: text, null: true}}\n");
				break;
			case 8:
				snprintf(name, sizeof name, "alter_thing_name");
				snprintf(ops, sizeof ops, "  - alter_field: {model: Thing, name: name, "
					"field: {type: text, max_length: 100}}\n");
				break;
			case 9:
				snprintf(name, sizeof name, "part2_label_value");
				snprintf(ops, sizeof ops, "  - add_index: {model: Part2, name: "
					"app%02d_part2_lv, fields: [label, value]}\n"
					"  - rename_field: {model: Thing, old_name: qty, new_name: quantity}\n", a);
				break;
			default:
				snprintf(name, sizeof name, "remove_part3_value");
				snprintf(ops, sizeof ops, "  - remove_field: {model: Part3, name: value}\n");
				break;
			}
			snprintf(deps, sizeof deps, "[[app%02d, %s]]", a, prev);
			write_migration(dir, a, k, name, deps, ops);
			snprintf(prev, sizeof prev, "%04d_%s", k, name);
		}
	}
	free(plugins);
	free(migrations);
}

static void bench_many(const char *dir, int rounds)
{
	make_many(dir);
	char *db = path_of(dir, "many.sqlite3"), *raw = path_of(dir, "many-raw.sqlite3");
	trace t = { NULL, 0, 0 };
	remove_db(db);
	host_migrate(dir, NULL, NULL, &t);   /* traced: gives the SQL */
	times best = { 1e9, 1e9, 0 }, best_raw = { 1e9, 1e9, 0 };
	for (int r = 0; r < rounds; r++) {
		remove_db(db);
		times h = host_migrate(dir, NULL, NULL, NULL);
		keep_best(&best, h);
		remove_db(raw);
		times s = raw_replay(raw, &t);
		keep_best(&best_raw, s);
	}
	report("migrate: 200 migrations over 20 apps, empty database", rounds, best, best_raw,
		t.count);
	trace_free(&t);
	remove_db(db);
	remove_db(raw);
	free(db);
	free(raw);
}

/* ---- 2. alter_field on a big table ---- */

static void make_big(const char *dir)
{
	char *plugins = path_of(dir, "plugins"), *folder = path_of(dir, "migrations");
	mkdir(plugins, 0755);
	mkdir(folder, 0755);
	free(folder);
	folder = path_of(dir, "migrations/big");
	mkdir(folder, 0755);
	write_file(plugins, "big.yaml", "label: big\nmigrations: ../migrations/big\n");
	write_file(dir, "project.yaml", "project: bench\ndatabase: {engine: sqlite, name: "
		"big.sqlite3}\nplugin_dirs: [plugins]\ninstalled_apps: [big]\n");
	write_file(folder, "0001_initial.yaml", "operations:\n"
		"  - create_model:\n"
		"      name: Row\n"
		"      fields:\n"
		"        name: {type: text, max_length: 50}\n"
		"        qty: {type: integer}\n"
		"        note: {type: text, null: true}\n");
	write_file(folder, "0002_alter_row_name.yaml", "dependencies: [[big, 0001_initial]]\n"
		"operations:\n"
		"  - alter_field: {model: Row, name: name, field: {type: text, max_length: 100}}\n");
	free(plugins);
	free(folder);
}

static void fill(const char *path, long rows)
{
	sqlite3 *db = raw_open(path);
	sqlite3_stmt *stmt;
	must_sql(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), db, "begin");
	must_sql(sqlite3_prepare_v2(db, "INSERT INTO big_row (name, qty, note) VALUES (?1, ?2, ?3)",
		-1, &stmt, NULL), db, "prepare");
	for (long i = 0; i < rows; i++) {
		char name[32];
		snprintf(name, sizeof name, "row %ld", i);
		sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(stmt, 2, i);
		if (i % 3 == 0)
			sqlite3_bind_null(stmt, 3);
		else
			sqlite3_bind_text(stmt, 3, "a note", -1, SQLITE_STATIC);
		must_sql(sqlite3_step(stmt), db, "insert");
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	must_sql(sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), db,
		"commit");
	sqlite3_close(db);
}

/* Copies the (checkpointed) database file. */
static void copy_db(const char *from, const char *to)
{
	remove_db(to);
	sqlite3 *db = raw_open(from);
	char *sql = sqlite3_mprintf("VACUUM INTO %Q", to);
	must_sql(sqlite3_exec(db, sql, NULL, NULL, NULL), db, "vacuum into");
	sqlite3_free(sql);
	sqlite3_close(db);
}

static void bench_big(const char *dir, long rows, int rounds)
{
	make_big(dir);
	char *db = path_of(dir, "big.sqlite3"), *base = path_of(dir, "big-base.sqlite3");
	char *raw = path_of(dir, "big-raw.sqlite3");
	remove_db(db);
	host_migrate(dir, "big", "0001", NULL);
	fill(db, rows);
	copy_db(db, base);
	trace t = { NULL, 0, 0 };
	host_migrate(dir, NULL, NULL, &t);
	times best = { 1e9, 1e9, 0 }, best_raw = { 1e9, 1e9, 0 };
	for (int r = 0; r < rounds; r++) {
		copy_db(base, db);
		times h = host_migrate(dir, NULL, NULL, NULL);
		keep_best(&best, h);
		copy_db(base, raw);
		times s = raw_replay(raw, &t);
		keep_best(&best_raw, s);
	}
	char title[128];
	snprintf(title, sizeof title, "migrate: alter_field (a table rebuild) on a table of %ld rows",
		rows);
	report(title, rounds, best, best_raw, t.count);
	trace_free(&t);
	remove_db(db);
	remove_db(base);
	remove_db(raw);
	free(db);
	free(base);
	free(raw);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	long rows = argc > 1 ? atol(argv[1]) : 1000000;
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	char template[] = "/tmp/sighost-bench-XXXXXX";
	const char *dir = argc > 3 ? argv[3] : mkdtemp(template);
	if (dir == NULL || rows < 1 || rounds < 1) {
		fprintf(stderr, "usage: bench_migrate [rows] [rounds] [dir]\n");
		return 2;
	}
	printf("sighost %s, SQLite %s, in %s\n", sh_version(), sqlite3_libversion(), dir);
	char *many = path_of(dir, "many"), *big = path_of(dir, "big");
	mkdir(many, 0755);
	mkdir(big, 0755);
	bench_many(many, rounds * 3);
	bench_big(big, rows, rounds);
	free(many);
	free(big);
	if (argc <= 3)   /* a directory of its own: leave nothing behind */
		nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
