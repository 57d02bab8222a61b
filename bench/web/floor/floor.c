/*
 * floor.c: the floor of the web benchmark (bench/web/run.sh): the two
 * requests the benchmark makes of sighost, answered by a minimal program
 * with no framework, as one would write it by hand with libmicrohttpd,
 * jansson and SQLite. What sighost adds on top (signals, routing, the
 * model layer, checks) costs the difference.
 *
 *   GET  /api/items   {"count": N, "results": [the first 100 items by id]}
 *   POST /api/items   {"name": text, "qty": integer, "price": number}:
 *                     201, Location, the created item; 400 for a bad body
 *
 * Same setup as sighost's side: libmicrohttpd's thread pool (4 threads,
 * epoll), one SQLite connection per thread with its statements prepared
 * once, WAL, PRAGMA synchronous as given, and writers of the process
 * taking turns on a mutex. Each create is one INSERT in its own
 * transaction, so at synchronous=FULL each waits for its own fsync: the
 * hand-written server's durability, with no group commit.
 *
 * Usage: bench_web_floor DATABASE PORT full|normal   (the table bench_item
 * must exist: run.sh migrates it with sighost). Prints "listening on PORT"
 * and serves until SIGINT or SIGTERM.
 */
#include <microhttpd.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define PAGE 100
#define MAX_BODY 65536

static const char *db_path;
static const char *synchronous;
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t conn_key;

/* A thread's connection and its statements. */
typedef struct conn {
	sqlite3 *db;
	sqlite3_stmt *count, *list, *insert;
} conn;

static void conn_free(void *p)
{
	conn *c = p;
	sqlite3_finalize(c->count);
	sqlite3_finalize(c->list);
	sqlite3_finalize(c->insert);
	sqlite3_close(c->db);
	free(c);
}

static conn *conn_get(void)
{
	conn *c = pthread_getspecific(conn_key);
	if (c != NULL)
		return c;
	c = calloc(1, sizeof *c);
	if (c == NULL || sqlite3_open(db_path, &c->db) != SQLITE_OK)
		goto fail;
	char pragmas[128];
	snprintf(pragmas, sizeof pragmas, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s",
		synchronous);
	sqlite3_busy_timeout(c->db, 5000);
	if (sqlite3_exec(c->db, pragmas, NULL, NULL, NULL) != SQLITE_OK
		|| sqlite3_prepare_v2(c->db, "SELECT count(*) FROM bench_item", -1, &c->count, NULL)
		|| sqlite3_prepare_v2(c->db, "SELECT id, name, qty, price FROM bench_item ORDER BY id "
			"LIMIT ?", -1, &c->list, NULL)
		|| sqlite3_prepare_v2(c->db, "INSERT INTO bench_item (name, qty, price) VALUES "
			"(?, ?, ?)", -1, &c->insert, NULL))
		goto fail;
	pthread_setspecific(conn_key, c);
	return c;
fail:
	if (c != NULL) {
		fprintf(stderr, "floor: %s\n", c->db ? sqlite3_errmsg(c->db) : "out of memory");
		conn_free(c);
	}
	return NULL;
}

/* Sends `body` (malloc'd, taken) with `status`. */
static enum MHD_Result reply(struct MHD_Connection *connection, unsigned status, char *body,
	const char *location)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body,
		MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (location != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
	enum MHD_Result ok = MHD_queue_response(connection, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result reply_json(struct MHD_Connection *connection, unsigned status,
	json_t *value, const char *location)
{
	char *text = value != NULL ? json_dumps(value, JSON_COMPACT) : NULL;
	json_decref(value);
	return text != NULL ? reply(connection, status, text, location) : MHD_NO;
}

static enum MHD_Result error(struct MHD_Connection *connection, unsigned status,
	const char *message)
{
	return reply_json(connection, status, json_pack("{s:s}", "error", message), NULL);
}

static enum MHD_Result list(struct MHD_Connection *connection, conn *c)
{
	json_int_t count = 0;
	if (sqlite3_step(c->count) == SQLITE_ROW)
		count = sqlite3_column_int64(c->count, 0);
	sqlite3_reset(c->count);
	json_t *results = json_array();
	sqlite3_bind_int(c->list, 1, PAGE);
	while (sqlite3_step(c->list) == SQLITE_ROW)
		json_array_append_new(results, json_pack("{s:I, s:s, s:I, s:f}",
			"id", (json_int_t)sqlite3_column_int64(c->list, 0),
			"name", (const char *)sqlite3_column_text(c->list, 1),
			"qty", (json_int_t)sqlite3_column_int64(c->list, 2),
			"price", sqlite3_column_double(c->list, 3)));
	sqlite3_reset(c->list);
	return reply_json(connection, 200, json_pack("{s:I, s:o}", "count", count, "results",
		results), NULL);
}

static enum MHD_Result create(struct MHD_Connection *connection, conn *c, const char *body,
	size_t length)
{
	json_error_t err;
	json_t *in = json_loadb(body, length, 0, &err);
	json_t *name = json_object_get(in, "name"), *qty = json_object_get(in, "qty");
	json_t *price = json_object_get(in, "price");
	if (!json_is_string(name) || json_string_length(name) > 100 || !json_is_integer(qty)
		|| !json_is_number(price)) {
		json_decref(in);
		return error(connection, 400, "name (text), qty (integer) and price (number) are "
			"required");
	}
	sqlite3_bind_text(c->insert, 1, json_string_value(name), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(c->insert, 2, json_integer_value(qty));
	sqlite3_bind_double(c->insert, 3, json_number_value(price));
	pthread_mutex_lock(&write_lock);
	int rc = sqlite3_step(c->insert);
	sqlite3_int64 id = sqlite3_last_insert_rowid(c->db);
	pthread_mutex_unlock(&write_lock);
	sqlite3_reset(c->insert);
	if (rc != SQLITE_DONE) {
		json_decref(in);
		return error(connection, 500, sqlite3_errmsg(c->db));
	}
	char location[64];
	snprintf(location, sizeof location, "/api/items/%lld", (long long)id);
	json_t *out = json_pack("{s:I, s:O, s:O, s:f}", "id", (json_int_t)id, "name", name,
		"qty", qty, "price", json_number_value(price));
	json_decref(in);
	return reply_json(connection, 201, out, location);
}

/* The request's body, accumulated over the access handler's calls. */
typedef struct upload {
	size_t length;
	char data[MAX_BODY];
} upload;

static enum MHD_Result on_access(void *cls, struct MHD_Connection *connection, const char *url,
	const char *method, const char *version, const char *data, size_t *size, void **state)
{
	(void)cls;
	(void)version;
	bool post = strcmp(method, "POST") == 0;
	if (*state == NULL) {   /* the headers are in */
		if (post) {
			upload *u = calloc(1, sizeof *u);
			*state = u;
			return u != NULL ? MHD_YES : MHD_NO;
		}
		*state = connection;   /* not NULL: headers seen */
	}
	if (post && *size > 0) {
		upload *u = *state;
		if (*size > MAX_BODY - u->length)
			return MHD_NO;
		memcpy(u->data + u->length, data, *size);
		u->length += *size;
		*size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/api/items") != 0)
		return error(connection, 404, "not found");
	conn *c = conn_get();
	if (c == NULL)
		return error(connection, 500, "no database connection");
	if (post) {
		upload *u = *state;
		return create(connection, c, u->data, u->length);
	}
	if (strcmp(method, "GET") == 0)
		return list(connection, c);
	return error(connection, 405, "GET or POST");
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **state,
	enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)toe;
	if (*state != NULL && *state != connection)
		free(*state);
	*state = NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[3], "full") != 0 && strcmp(argv[3], "normal") != 0)) {
		fprintf(stderr, "usage: %s DATABASE PORT full|normal\n", argv[0]);
		return 2;
	}
	db_path = argv[1];
	synchronous = argv[3];
	unsigned port = (unsigned)strtoul(argv[2], NULL, 10);
	pthread_key_create(&conn_key, conn_free);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);   /* the pool's threads inherit it */
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
		(uint16_t)port, NULL, NULL, on_access, NULL,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREADS,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "floor: cannot listen on port %u\n", port);
		return 1;
	}
	printf("listening on %u\n", port);
	fflush(stdout);
	int sig;
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
