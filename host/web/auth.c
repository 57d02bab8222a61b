/*
 * auth.c: API tokens (web.h), Django REST framework's TokenAuthentication
 * with the keys stored hashed. A key is 32 bytes from getrandom(), shown
 * once as 64 hex digits; the table sighost_token keeps its SHA-256 (nettle,
 * never a hand-written hash). A request's key is hashed, the row found by
 * its unique hash, and the stored hash compared with the computed one in
 * constant time (nettle's memeql_sec), so the decision takes the same time
 * whatever the bytes. Looking a row up by the hash of a guess tells an
 * attacker nothing of a stored key: finding a key from its hash is what
 * SHA-256 makes infeasible.
 *
 * The table is the host's, not a model's: no model signal is sent for
 * tokens, and it is created on demand (when the server starts, when a
 * token is created), as `migrate --run-syncdb` would.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <sqlite3.h>

#include "internal.h"

#define SH__TOKEN_BYTES 32
#define SH__STR_(x) #x
#define SH__STR(x) SH__STR_(x)

static const char sh__token_ddl[] =
	"CREATE TABLE IF NOT EXISTS \"" SH_TOKEN_TABLE "\" ("
	"\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "
	"\"user\" varchar(" SH__STR(SH_USER_MAX) ") NOT NULL, "
	"\"key_hash\" char(64) NOT NULL UNIQUE, "
	"\"created\" datetime NOT NULL, "
	"\"last_used\" datetime NULL)";

/* How stale last_used may get: a request refreshes it at most this often,
 * so a busy token costs one write a minute, not one per request. */
#define SH__LAST_USED_SECONDS 60

int sh_token_table_ensure(sh_conn *db)
{
	if (db == NULL)
		return sh_error_set(SH_EINVAL, "sh_token_table_ensure: db is required");
	sqlite3 *sql = sh_conn_sqlite(db);
	if (sqlite3_exec(sql, sh__token_ddl, NULL, NULL, NULL) != SQLITE_OK)
		return sh_conn_error(db, "cannot create the table " SH_TOKEN_TABLE);
	/* a table made before last_used existed gets the column */
	sqlite3_stmt *stmt = NULL;
	bool has = false;
	if (sqlite3_prepare_v2(sql, "SELECT 1 FROM pragma_table_info('" SH_TOKEN_TABLE "') "
			"WHERE name = 'last_used'", -1, &stmt, NULL) == SQLITE_OK)
		has = sqlite3_step(stmt) == SQLITE_ROW;
	sqlite3_finalize(stmt);
	if (!has && sqlite3_exec(sql, "ALTER TABLE \"" SH_TOKEN_TABLE "\" ADD COLUMN "
			"\"last_used\" datetime NULL", NULL, NULL, NULL) != SQLITE_OK)
		return sh_conn_error(db, "cannot add last_used to the table " SH_TOKEN_TABLE);
	return sh_db_host_table(db, SH_TOKEN_TABLE, sh__token_ddl, false);   /* made by sighost? */
}

/* Now as "YYYY-MM-DDTHH:MM:SSZ", `ago` seconds back. */
static void sh_web__utc(char *buf, size_t size, time_t ago)
{
	time_t now = time(NULL) - ago;
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int sh_token_list(sh_token_fn fn, void *payload, sh_conn *db)
{
	if (db == NULL || fn == NULL)
		return sh_error_set(SH_EINVAL, "sh_token_list: fn and db are required");
	int rc = sh_token_table_ensure(db);
	if (rc < 0)
		return rc;
	sqlite3_stmt *stmt = NULL;
	if (sqlite3_prepare_v2(sh_conn_sqlite(db), "SELECT \"id\", \"user\", \"created\", "
			"\"last_used\" FROM \"" SH_TOKEN_TABLE "\" ORDER BY \"id\"", -1, &stmt,
			NULL) != SQLITE_OK) {
		rc = sh_conn_error(db, "cannot read the tokens");
		sqlite3_finalize(stmt);
		return rc;
	}
	int src;
	while (rc == 0 && (src = sqlite3_step(stmt)) == SQLITE_ROW) {
		sh_token_info info = { sqlite3_column_int64(stmt, 0),
			(const char *)sqlite3_column_text(stmt, 1),
			(const char *)sqlite3_column_text(stmt, 2),
			(const char *)sqlite3_column_text(stmt, 3) };
		rc = fn(&info, payload);
	}
	if (rc == 0 && src != SQLITE_DONE)
		rc = sh_conn_error(db, "cannot read the tokens");
	sqlite3_finalize(stmt);
	return rc;
}

int sh_token_revoke(sh_conn *db, const char *id_or_user)
{
	if (db == NULL || id_or_user == NULL)
		return sh_error_set(SH_EINVAL, "sh_token_revoke: db and id_or_user are required");
	int rc = sh_token_table_ensure(db);
	if (rc < 0)
		return rc;
	sqlite3_stmt *stmt = NULL;
	if (sqlite3_prepare_v2(sh_conn_sqlite(db), "DELETE FROM \"" SH_TOKEN_TABLE "\" WHERE "
			"CAST(\"id\" AS TEXT) = ?1 OR \"user\" = ?1", -1, &stmt, NULL) != SQLITE_OK
			|| sqlite3_bind_text(stmt, 1, id_or_user, -1, SQLITE_STATIC) != SQLITE_OK
			|| sqlite3_step(stmt) != SQLITE_DONE) {
		rc = sh_conn_error(db, "cannot revoke the token");
		sqlite3_finalize(stmt);
		return rc;
	}
	sqlite3_finalize(stmt);
	int n = sqlite3_changes(sh_conn_sqlite(db));
	if (n == 0)
		return sh_error_set(SH_ENOTFOUND, "no token with id or user '%s'", id_or_user);
	return n;
}

/* Refreshes the token's last_used when older than SH__LAST_USED_SECONDS;
 * a failure (the database busy) only leaves it stale. */
static void sh_web__touch(sqlite3 *sql, const char *hash, const char *last_used)
{
	/* the threshold as text, remade once a second per thread: the common
	 * case costs a time() and a compare */
	static _Thread_local time_t made;
	static _Thread_local char stale[32];
	time_t second = time(NULL);
	if (second != made) {
		sh_web__utc(stale, sizeof stale, SH__LAST_USED_SECONDS);
		made = second;
	}
	if (last_used != NULL && strcmp(last_used, stale) > 0)
		return;
	char now[32];
	sh_web__utc(now, sizeof now, 0);
	sqlite3_stmt *stmt = NULL;
	if (sqlite3_prepare_v2(sql, "UPDATE \"" SH_TOKEN_TABLE "\" SET \"last_used\" = ? "
			"WHERE \"key_hash\" = ?", -1, &stmt, NULL) == SQLITE_OK) {
		sqlite3_bind_text(stmt, 1, now, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);
		sqlite3_step(stmt);
	}
	sqlite3_finalize(stmt);
}

static void sh_web__hex(char *out, const uint8_t *bytes, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The SHA-256 of `key`, as 64 hex digits. */
static void sh_web__key_hash(char out[2 * SHA256_DIGEST_SIZE + 1], const char *key)
{
	struct sha256_ctx ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	sha256_init(&ctx);
	sha256_update(&ctx, strlen(key), (const uint8_t *)key);
	sha256_digest(&ctx, sizeof digest, digest);
	sh_web__hex(out, digest, sizeof digest);
}

bool sh_user_valid(const char *user)
{
	if (user == NULL)
		return false;
	size_t chars = 0;
	const unsigned char *s = (const unsigned char *)user;
	while (*s != '\0') {
		unsigned c = *s;
		size_t more = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
			: (c & 0xf8) == 0xf0 ? 3 : 9;
		if (more == 9 || c < 0x20 || c == 0x7f || (c >= 0xc0 && c < 0xc2) || c > 0xf4)
			return false;
		for (size_t i = 1; i <= more; i++)
			if ((s[i] & 0xc0) != 0x80)
				return false;
		s += more + 1;
		chars++;
	}
	return chars >= 1 && chars <= SH_USER_MAX;
}

static int sh_web__random(uint8_t *out, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(out + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return sh_error_set(SH_EIO, "cannot read random bytes: %s", strerror(errno));
		got += (size_t)r;
	}
	return 0;
}

int sh_token_create(char **out, sh_conn *db, const char *user)
{
	if (out == NULL)
		return sh_error_set(SH_EINVAL, "sh_token_create: out is required");
	*out = NULL;
	if (db == NULL || user == NULL)
		return sh_error_set(SH_EINVAL, "sh_token_create: db and user are required");
	if (!sh_user_valid(user))
		return sh_error_set(SH_EINVAL, "bad user name: a user is 1 to %d characters of "
			"UTF-8 without control characters", SH_USER_MAX);
	int rc = sh_token_table_ensure(db);
	if (rc < 0)
		return rc;
	uint8_t bytes[SH__TOKEN_BYTES];
	char *key = malloc(2 * SH__TOKEN_BYTES + 1);
	if (key == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	if ((rc = sh_web__random(bytes, sizeof bytes)) < 0) {
		free(key);
		return rc;
	}
	sh_web__hex(key, bytes, sizeof bytes);
	char hash[2 * SHA256_DIGEST_SIZE + 1];
	sh_web__key_hash(hash, key);
	char created[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
	sqlite3 *sql = sh_conn_sqlite(db);
	sqlite3_stmt *stmt = NULL;
	int src = sqlite3_prepare_v2(sql, "INSERT INTO \"" SH_TOKEN_TABLE "\" "
		"(\"user\", \"key_hash\", \"created\") VALUES (?, ?, ?)", -1, &stmt, NULL);
	if (src == SQLITE_OK) {
		sqlite3_bind_text(stmt, 1, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 3, created, -1, SQLITE_STATIC);
		src = sqlite3_step(stmt);
	}
	if (src != SQLITE_DONE) {
		rc = sh_conn_error(db, "cannot store the token");
		sqlite3_finalize(stmt);
		free(key);
		return rc;
	}
	sqlite3_finalize(stmt);
	*out = key;
	return 0;
}

/* True for 64 lowercase hex digits. */
static bool sh_web__key_shape_ok(const char *key)
{
	size_t n = 0;
	for (; key[n] != '\0'; n++)
		if (!((key[n] >= '0' && key[n] <= '9') || (key[n] >= 'a' && key[n] <= 'f')))
			return false;
	return n == SH_TOKEN_KEY_LENGTH;
}

int sh_token_authenticate(char **out, sh_conn *db, const char *key)
{
	if (out == NULL)
		return sh_error_set(SH_EINVAL, "sh_token_authenticate: out is required");
	*out = NULL;
	if (db == NULL || key == NULL)
		return sh_error_set(SH_EINVAL, "sh_token_authenticate: db and key are required");
	if (!sh_web__key_shape_ok(key))
		return sh_error_set(SH_ENOTFOUND, "invalid token");
	char hash[2 * SHA256_DIGEST_SIZE + 1];
	sh_web__key_hash(hash, key);
	sqlite3 *sql = sh_conn_sqlite(db);
	sqlite3_stmt *stmt = NULL;
	int src = sqlite3_prepare_v2(sql, "SELECT \"user\", \"key_hash\", \"last_used\" FROM \"" SH_TOKEN_TABLE
		"\" WHERE \"key_hash\" = ?", -1, &stmt, NULL);
	if (src != SQLITE_OK) {
		bool missing = strstr(sqlite3_errmsg(sql), "no such table") != NULL;
		int rc = missing ? sh_error_set(SH_ENOTFOUND, "invalid token")
			: sh_conn_error(db, "cannot read the tokens");
		sqlite3_finalize(stmt);
		return rc;
	}
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	int rc = sh_error_set(SH_ENOTFOUND, "invalid token");
	src = sqlite3_step(stmt);
	if (src == SQLITE_ROW) {
		const char *user = (const char *)sqlite3_column_text(stmt, 0);
		const char *stored = (const char *)sqlite3_column_text(stmt, 1);
		if (user != NULL && stored != NULL && strlen(stored) == sizeof hash - 1
			&& memeql_sec(stored, hash, sizeof hash - 1)) {
			*out = strdup(user);
			rc = *out != NULL ? 0 : sh_error_set(SH_ENOMEM, "out of memory");
			if (rc == 0)
				sh_web__touch(sql, hash, (const char *)sqlite3_column_text(stmt, 2));
		}
	} else if (src != SQLITE_DONE) {
		rc = sh_conn_error(db, "cannot read the tokens");
	}
	sqlite3_finalize(stmt);
	if (rc == 0)
		sh_error_clear();
	return rc;
}

/* The key of an Authorization header of the Token or Bearer scheme (the
 * scheme compared without case, as RFC 9110 says), NULL for another
 * scheme. */
static const char *sh_web__credentials(const char *header, bool *malformed)
{
	static const char *const schemes[] = { "Token", "Bearer" };
	*malformed = false;
	for (size_t i = 0; i < SH__COUNT(schemes); i++) {
		size_t n = strlen(schemes[i]);
		if (strncasecmp(header, schemes[i], n) != 0 || (header[n] != ' ' && header[n] != '\0'))
			continue;
		const char *key = header + n;
		while (*key == ' ')
			key++;
		/* DRF: no key, or a key with spaces, is a malformed header */
		*malformed = *key == '\0' || strchr(key, ' ') != NULL;
		return key;
	}
	return NULL;
}

int sh_web__request_authenticate(sh_request *r)
{
	const char *header = sh_request_header(r, "Authorization");
	if (header == NULL)
		return 0;
	bool malformed;
	const char *key = sh_web__credentials(header, &malformed);
	if (key == NULL)
		return 0;   /* another scheme: not ours to judge */
	if (malformed)
		return 1;
	return sh_web__request_authenticate_key(r, key);
}

int sh_web__request_authenticate_key(sh_request *r, const char *key)
{
	sh_database *database = sh_project_database(r->server->project);
	sh_conn *db;
	if (database == NULL)
		return 1;
	int rc = sh_database_connection(&db, database);
	if (rc == 0)
		rc = sh_token_authenticate(&r->user, db, key);
	if (rc == SH_ENOTFOUND)
		return 1;
	return rc < 0 ? rc : 0;
}
