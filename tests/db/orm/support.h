/*
 * support.h: the fixture of the ORM tests (tests/db/orm): a registry of
 * the "shop" models, a database in a temporary directory with its tables,
 * the test thread's connection, and a receiver that records every model
 * signal as one line of text.
 *
 * Models (app "shop"):
 *   Owner(name text(20) unique)
 *   Tag(name text(30))
 *   Alert(content text(10), owner FK Owner CASCADE, level int default 1,
 *         score real null, active bool default true, day date null,
 *         meta json null, big bigint null, created datetime auto_now_add,
 *         modified datetime auto_now null, tags M2M Tag related_name "alerts")
 *   Comment(alert FK Alert CASCADE, body text)
 *   Reply(comment FK Comment CASCADE, body text)
 *   Note(alert FK Alert SET_NULL null, body text)
 *   Lock(owner FK Owner PROTECT)
 *   Artist(name), Album(artist FK CASCADE), Song(artist FK CASCADE,
 *         album FK Album RESTRICT)                 -- Django's RESTRICT example
 *   Member(name), Group(name, members M2M Member through Membership),
 *   Membership(member FK Member CASCADE, group FK Group CASCADE, role text)
 */
#ifndef ORM_SUPPORT_H
#define ORM_SUPPORT_H

#include <sighost/sys/sighost.h>
#include <sqlite3.h>

typedef struct orm_fx {
	char dir[256];
	char path[300];
	sh_hub *hub;
	sh_models *models;
	sh_database *database;
	sh_conn *db;
} orm_fx;

extern orm_fx fx;

/* Builds everything above (Criterion .init). */
void fx_setup(void);
/* Frees everything and removes the directory (Criterion .fini). */
void fx_teardown(void);
/* Builds the registry and database only (no connection), for tests that
 * make connections themselves. */
void fx_setup_bare(void);

const sh_model *M(const char *label);

/* Creates and saves an instance; asserts success. */
sh_instance *make(const char *label, const sh_field_value *values, size_t count);
#define MAKE(label, ...) make(label, (const sh_field_value[]){ __VA_ARGS__ }, \
	sizeof((const sh_field_value[]){ __VA_ARGS__ }) / sizeof(sh_field_value))
#define FV(name, datum) ((sh_field_value){ (name), (datum) })
#define T(s) sh_datum_text(s)
#define I(i) sh_datum_int(i)

/* Runs a one-value SQL query on the test connection. */
int64_t sql_int(const char *sql);
/* Returns the text of a one-value SQL query (static buffer). */
const char *sql_text(const char *sql);

/* The recorder: every model signal (and connection_created) appends a
 * line "signal sender key=value ..." to the log. */
void rec_connect(void);
const char *log_text(void);
void log_clear(void);
/* Number of log lines starting with prefix. */
size_t log_count(const char *prefix);

/* A receiver that fails with *(int *)payload. */
int fail_with(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload);
/* Connects fail_with for `label` (NULL: any sender). */
void connect_failing(sh_builtin id, const char *label, int *code);

/* The message of the last error. */
const char *last_message(void);

#endif
