/*
 * support.h: what the model-signal tests share: a fixture that declares a
 * small set of models from C, prepares them, opens a database in a scratch
 * directory and creates the tables; and a recorder connected to all 16
 * built-in signals that writes one line per send to a log, so a test can
 * assert the whole sequence of sends an operation made.
 *
 * The models of the fixture (app "t"), in declaration order:
 *
 *   t.Author  name TEXT(50), age INTEGER default 0
 *   t.A       name
 *   t.B       a -> t.A CASCADE, name
 *   t.C       b -> t.B CASCADE, name
 *   t.N       a -> t.A SET_NULL (null), name
 *   t.P       b -> t.B PROTECT, name
 *   t.Artist  name
 *   t.Album   artist -> t.Artist CASCADE, name
 *   t.Song    artist -> t.Artist CASCADE, album -> t.Album RESTRICT, name
 *   t.Tag     name
 *   t.Post    title, tags many-to-many -> t.Tag (join model t.Post_tags)
 *   t.Stamp   note, created DATETIME auto_now_add, updated DATETIME auto_now
 *   t.Slug    slug TEXT(50) unique, hits INTEGER default 0, seen DATE (null)
 *
 * (Artist/Album/Song is the example of RESTRICT in Django's documentation.)
 *
 * Log lines, one per send, Django's argument names, Python spellings:
 *
 *   pre_init t.B args=[1, 1, 'b1'] kwargs={}
 *   pre_init t.B args=[1, DEFERRED, 'b1'] kwargs={}    (a deferred field)
 *   post_init t.B pk=1
 *   pre_save t.B pk=None raw=False using=default update_fields=None
 *   post_save t.B pk=1 created=True raw=False using=default update_fields=['age']
 *   pre_delete t.C pk=1 using=default origin=t.A:1      (origin=qs:t.B for a queryset)
 *   m2m_changed t.Post_tags pre_add instance=t.Post:1 reverse=False model=t.Tag pk_set=[1, 2] using=default
 *   class_prepared t.Post
 *   connection_created sqlite
 *
 * A model signal whose instance is of another model than its sender adds
 * " SENDER-MISMATCH" to its line, so such a bug fails any sequence test.
 */
#ifndef SH_TEST_DB_SIGNALS_SUPPORT_H
#define SH_TEST_DB_SIGNALS_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sighost/builtins.h>
#include <sighost/datum.h>
#include <sighost/error.h>
#include <sighost/signal.h>
#include <sighost/db.h>
#include <sighost/instance.h>
#include <sighost/model.h>
#include <sighost/query.h>

/* The fixture's state. */
typedef struct fx_state {
	sh_hub *hub;
	sh_models *models;
	sh_database *database;
	sh_conn *db;               /* the main thread's connection */
	char dir[64];              /* scratch directory */
	char path[128];            /* the database file */
	char *setup_log;           /* what the recorder logged from declaring to the
	                            * first connection (class_prepared, connection_created) */
} fx_state;

extern fx_state fx;

/* Criterion .init/.fini of every suite: builds the fixture above with the
 * recorder connected before the models are declared, then clears the log.
 * The setup's own log is kept in fx.setup_log. */
void fx_setup(void);
void fx_teardown(void);

/* Returns the fixture's model `label` ("t.B"); fails the test if unknown. */
const sh_model *fx_model(const char *label);

/* ---- the recorder ---- */

/* Connects the recorder to all 16 built-in signals of `hub`, for any sender. */
void rec_connect(sh_hub *hub);

/* Empties the log. */
void log_clear(void);

/* Appends a line of the test's own (e.g. "on_commit ran") to the log. */
void log_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Returns the whole log, one line per send, each line ending in "\n".
 * Valid until the next send or log_clear(). */
const char *log_text(void);

/* Returns a new string (free()) with only the lines of the log whose first
 * word is one of the space-separated `signals` ("pre_delete post_delete"). */
char *log_only(const char *signals);

/* Returns how many lines of the log start with `prefix`. */
size_t log_count(const char *prefix);

/* When non-NULL, delete sends whose origin is not this exact instance add
 * " ORIGIN-NOT-SAME-OBJECT" to their line (Django passes the very object
 * whose delete() was called). */
extern const sh_instance *rec_expected_origin;

/* ---- instances ---- */

#define FV(n, v) ((sh_field_value){ (n), (v) })
#define I(x) sh_datum_int(x)
#define T(x) sh_datum_text(x)

/* Constructs an instance of `label` with the values, failing the test on error. */
sh_instance *fx_new(const char *label, const sh_field_value *values, size_t count);
/* Constructs and saves it; returns it (the caller frees). */
sh_instance *fx_saved(const char *label, const sh_field_value *values, size_t count);

#define NEW(label, ...) fx_new(label, (sh_field_value[]){ __VA_ARGS__ }, \
	sizeof((sh_field_value[]){ __VA_ARGS__ }) / sizeof(sh_field_value))
#define SAVED(label, ...) fx_saved(label, (sh_field_value[]){ __VA_ARGS__ }, \
	sizeof((sh_field_value[]){ __VA_ARGS__ }) / sizeof(sh_field_value))

/* ---- looking at the database without the library ---- */

/* Runs `sql` (one integer result) on the main connection's SQLite handle;
 * returns the first column of the first row, -1 for NULL, fails the test on
 * error. */
int64_t sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs `sql` (no result) on the main connection's SQLite handle, behind
 * the library's back; fails the test on error. */
void sql_exec(const char *sql);

/* Returns the number of rows of the table of model `label`. */
int64_t rows_of(const char *label);

/* Returns the table of the join model of many-to-many field `field` of `label`. */
const char *join_table(const char *label, const char *field);

/* ---- counting the statements SQLite runs ---- */

/* Starts counting the statements the main connection runs (SQLite's
 * SQLITE_TRACE_STMT, once per execution), from zero. */
void stmt_count_start(void);

/* Stops counting and returns how many ran since stmt_count_start(); the
 * SQL of the last ones is in stmt_last_sql(). */
int stmt_count_stop(void);

/* How many more prepared statements the main connection held at
 * stmt_count_stop() than at stmt_count_start() (statements prepared and
 * kept meanwhile; the library caches every statement it prepares). */
int stmt_prepared_since_start(void);

/* The SQL of the statements counted, one per line (for failure messages). */
const char *stmt_sql_log(void);

/* A receiver that fails with code *(int *)payload and message "vetoed". */
int failing_receiver(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload);

/* Connects failing_receiver (payload `code`, which must outlive the test) to
 * built-in `id` for the sender of model `label` (NULL: any sender). */
void connect_failing(sh_builtin id, const char *label, int *code);

#endif
