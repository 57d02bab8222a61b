/*
 * model_save.c: what the model layer costs, beside raw SQLite doing the
 * same rows in the same run.
 *
 * A 3-field model (name text, qty integer, price real) with one post_save
 * receiver connected. Each round, interleaved:
 *   insert  N instances created and saved in one transaction
 *           vs. one prepared INSERT stepped N times in one transaction;
 *   update  N loaded instances changed and saved (UPDATE by pk) in one
 *           transaction vs. one prepared UPDATE ... WHERE id = ? N times;
 *   load    every row read as instances (pre_init/post_init each)
 *           vs. sqlite3_step + column reads of the same SELECT.
 * Both sides write to tables of the same shape in the same database file.
 * Figures are the best of the rounds, as rows per second; the ratio is
 * sighost / raw (targets: saves >= 0.85, loading >= 0.70).
 *
 *   build/bench/bench_model_save [rows] [rounds]
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sighost/sys/sighost.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
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

static long saved;

static int on_saved(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal; (void)sender; (void)args; (void)response; (void)payload;
	saved++;
	return 0;
}

static double max2(double a, double b)
{
	return a > b ? a : b;
}

typedef struct fixture {
	sh_hub *hub;
	sh_models *models;
	sh_database *database;
	sh_conn *db;
	const sh_model *item;
	sqlite3 *raw;
	sqlite3_stmt *raw_insert, *raw_update, *raw_select;
} fixture;

static void setup(fixture *f, const char *path)
{
	must(sh_hub_new(&f->hub), "hub");
	must(sh_models_new(&f->models, f->hub), "models");
	sh_field_decl fields[3] = { SH_FIELD_DECL_INIT, SH_FIELD_DECL_INIT, SH_FIELD_DECL_INIT };
	fields[0].name = "name";
	fields[0].type = SH_FIELD_TEXT;
	fields[0].max_length = 100;
	fields[1].name = "qty";
	fields[1].type = SH_FIELD_INTEGER;
	fields[2].name = "price";
	fields[2].type = SH_FIELD_REAL;
	must(sh_models_declare(f->models, "bench", "Item", fields, 3, NULL), "declare");
	must(sh_models_prepare(f->models), "prepare");
	must(sh_models_lookup(&f->item, f->models, "bench.Item"), "lookup");
	must(sh_signal_connect(NULL, sh_hub_builtin(f->hub, SH_POST_SAVE), on_saved, NULL, NULL),
		"connect");
	must(sh_database_open(&f->database, path, f->models), "open");
	must(sh_database_connection(&f->db, f->database), "connection");
	must(sh_database_syncdb(f->db), "syncdb");

	/* The raw side: the same file, a table of the same shape, its own
	 * connection set up as sighost sets up its own. */
	f->raw = NULL;
	must_sql(sqlite3_open(path, &f->raw), f->raw, "open raw");
	must_sql(sqlite3_exec(f->raw, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
		"CREATE TABLE raw_item (id integer NOT NULL PRIMARY KEY AUTOINCREMENT,"
		" name varchar(100) NOT NULL, qty integer NOT NULL, price real NOT NULL)",
		NULL, NULL, NULL), f->raw, "raw schema");
	must_sql(sqlite3_prepare_v2(f->raw, "INSERT INTO raw_item (name, qty, price) VALUES (?, ?, ?)",
		-1, &f->raw_insert, NULL), f->raw, "prepare insert");
	must_sql(sqlite3_prepare_v2(f->raw, "UPDATE raw_item SET name = ?, qty = ?, price = ? WHERE id = ?",
		-1, &f->raw_update, NULL), f->raw, "prepare update");
	must_sql(sqlite3_prepare_v2(f->raw, "SELECT id, name, qty, price FROM raw_item ORDER BY id",
		-1, &f->raw_select, NULL), f->raw, "prepare select");
}

static void teardown(fixture *f)
{
	sqlite3_finalize(f->raw_insert);
	sqlite3_finalize(f->raw_update);
	sqlite3_finalize(f->raw_select);
	sqlite3_close(f->raw);
	sh_database_close(f->database);
	sh_models_free(f->models);
	sh_hub_free(f->hub);
}

static double raw_insert(fixture *f, long n)
{
	double t0 = now_s();
	must_sql(sqlite3_exec(f->raw, "BEGIN", NULL, NULL, NULL), f->raw, "begin");
	for (long i = 0; i < n; i++) {
		sqlite3_bind_text(f->raw_insert, 1, "widget", -1, SQLITE_STATIC);
		sqlite3_bind_int64(f->raw_insert, 2, i);
		sqlite3_bind_double(f->raw_insert, 3, 9.5);
		must_sql(sqlite3_step(f->raw_insert), f->raw, "insert");
		sqlite3_reset(f->raw_insert);
	}
	must_sql(sqlite3_exec(f->raw, "COMMIT", NULL, NULL, NULL), f->raw, "commit");
	return (double)n / (now_s() - t0);
}

static double sh_insert(fixture *f, long n)
{
	double t0 = now_s();
	must(sh_atomic_begin(f->db), "begin");
	for (long i = 0; i < n; i++) {
		sh_field_value values[3] = {
			{ "name", sh_datum_text("widget") },
			{ "qty", sh_datum_int(i) },
			{ "price", sh_datum_real(9.5) },
		};
		sh_instance *inst;
		must(sh_instance_new(&inst, f->db, f->item, values, 3), "new");
		must(sh_instance_save(inst, NULL), "save");
		sh_instance_free(inst);
	}
	must(sh_atomic_end(f->db, 0), "commit");
	return (double)n / (now_s() - t0);
}

static double raw_update(fixture *f, long n)
{
	double t0 = now_s();
	must_sql(sqlite3_exec(f->raw, "BEGIN", NULL, NULL, NULL), f->raw, "begin");
	for (long i = 0; i < n; i++) {
		sqlite3_bind_text(f->raw_update, 1, "gadget", -1, SQLITE_STATIC);
		sqlite3_bind_int64(f->raw_update, 2, i + 1);
		sqlite3_bind_double(f->raw_update, 3, 10.5);
		sqlite3_bind_int64(f->raw_update, 4, i + 1);
		must_sql(sqlite3_step(f->raw_update), f->raw, "update");
		sqlite3_reset(f->raw_update);
	}
	must_sql(sqlite3_exec(f->raw, "COMMIT", NULL, NULL, NULL), f->raw, "commit");
	return (double)n / (now_s() - t0);
}

/* Updates the first n rows through instances loaded beforehand (loading is
 * measured on its own below). */
static double sh_update(fixture *f, sh_instance **loaded, long n)
{
	double t0 = now_s();
	must(sh_atomic_begin(f->db), "begin");
	for (long i = 0; i < n; i++) {
		must(sh_instance_set(loaded[i], "name", sh_datum_text("gadget")), "set");
		must(sh_instance_set(loaded[i], "qty", sh_datum_int(i + 1)), "set");
		must(sh_instance_save(loaded[i], NULL), "save");
	}
	must(sh_atomic_end(f->db, 0), "commit");
	return (double)n / (now_s() - t0);
}

static double raw_load(fixture *f, long *rows)
{
	double t0 = now_s();
	long n = 0;
	int64_t sum = 0;
	while (sqlite3_step(f->raw_select) == SQLITE_ROW) {
		sum += sqlite3_column_int64(f->raw_select, 0);
		const unsigned char *name = sqlite3_column_text(f->raw_select, 1);
		sum += name != NULL ? name[0] : 0;
		sum += sqlite3_column_int64(f->raw_select, 2);
		sum += (int64_t)sqlite3_column_double(f->raw_select, 3);
		n++;
	}
	sqlite3_reset(f->raw_select);
	double rate = (double)n / (now_s() - t0);
	*rows = n + (sum == -1);  /* keep the reads */
	return rate;
}

static double sh_load(fixture *f, long *rows)
{
	double t0 = now_s();
	sh_query *q;
	must(sh_query_new(&q, f->db, f->item), "query");
	long n = 0;
	int64_t sum = 0;
	sh_instance *inst;
	int rc;
	while ((rc = sh_query_next(q, &inst)) == 1) {
		sh_datum d;
		sum += sh_instance_pk(inst);
		sh_instance_get(inst, "name", &d);
		sum += d.v.s != NULL ? d.v.s[0] : 0;
		sh_instance_get(inst, "qty", &d);
		sum += d.v.i;
		sh_instance_get(inst, "price", &d);
		sum += (int64_t)d.v.r;
		sh_instance_free(inst);
		n++;
	}
	must(rc, "next");
	sh_query_free(q);
	double rate = (double)n / (now_s() - t0);
	*rows = n + (sum == -1);
	return rate;
}

static sh_instance **load_all(fixture *f, long n)
{
	sh_instance **out = calloc((size_t)n, sizeof *out);
	sh_query *q;
	must(sh_query_new(&q, f->db, f->item), "query");
	must(sh_query_slice(q, 0, n), "slice");
	for (long i = 0; i < n; i++)
		must(sh_query_next(q, &out[i]) == 1 ? 0 : SH_ERROR, "load");
	sh_query_free(q);
	return out;
}

int main(int argc, char **argv)
{
	long rows = argc > 1 ? atol(argv[1]) : 20000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	char path[] = "/tmp/sighost-bench-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 1;
	close(fd);
	fixture f;
	setup(&f, path);

	double best[3][2] = { { 0 } };
	/* Odd rounds run sighost first, even rounds raw first: neither side
	 * always gets the warmer (or the busier) half of a round. */
	for (int r = 0; r < rounds; r++) {
		if (r % 2)
			best[0][0] = max2(best[0][0], sh_insert(&f, rows));
		best[0][1] = max2(best[0][1], raw_insert(&f, rows));
		if (r % 2 == 0)
			best[0][0] = max2(best[0][0], sh_insert(&f, rows));
	}
	sh_instance **loaded = load_all(&f, rows);
	for (int r = 0; r < rounds; r++) {
		if (r % 2)
			best[1][0] = max2(best[1][0], sh_update(&f, loaded, rows));
		best[1][1] = max2(best[1][1], raw_update(&f, rows));
		if (r % 2 == 0)
			best[1][0] = max2(best[1][0], sh_update(&f, loaded, rows));
	}
	for (long i = 0; i < rows; i++)
		sh_instance_free(loaded[i]);
	free(loaded);
	long n_raw = 0, n_sh = 0;
	for (int r = 0; r < rounds; r++) {
		if (r % 2)
			best[2][0] = max2(best[2][0], sh_load(&f, &n_sh));
		best[2][1] = max2(best[2][1], raw_load(&f, &n_raw));
		if (r % 2 == 0)
			best[2][0] = max2(best[2][0], sh_load(&f, &n_sh));
	}

	printf("sighost model layer, %ld rows, best of %d interleaved rounds (rows per second)\n\n",
		rows, rounds);
	printf("%-40s %12s %12s %7s %s\n", "case", "sighost", "raw sqlite3", "ratio", "target");
	printf("%-40s %12.0f %12.0f %7.2f %s\n", "insert (new + save, 1 transaction)",
		best[0][0], best[0][1], best[0][0] / best[0][1], ">= 0.85");
	printf("%-40s %12.0f %12.0f %7.2f %s\n", "update by pk (set + save)",
		best[1][0], best[1][1], best[1][0] / best[1][1], ">= 0.85");
	printf("%-40s %12.0f %12.0f %7.2f %s\n", "load every row as instances",
		best[2][0], best[2][1], best[2][0] / best[2][1], ">= 0.70");
	printf("\n(rows loaded: sighost %ld, raw %ld; post_save receiver calls: %ld)\n",
		n_sh, n_raw, saved);
	teardown(&f);
	unlink(path);
	char side[sizeof path + 8];
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
	return 0;
}
