/*
 * datum.h: one typed value of a model field, as it travels between plugins,
 * signals and the database.
 *
 * A datum is NULL, an integer, a real, a text or a boolean. Dates,
 * datetimes and JSON travel as text (ISO-8601 "2026-11-27",
 * "2026-11-27T10:00:00Z", JSON text); foreign keys as the integer primary
 * key of the target row. A text datum borrows its string: whoever builds
 * it keeps it alive for as long as the datum is used.
 */
#ifndef SIGHOST_DATUM_H
#define SIGHOST_DATUM_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sh_datum_type {
	SH_DATUM_NULL,
	SH_DATUM_INT,
	SH_DATUM_REAL,
	SH_DATUM_TEXT,
	SH_DATUM_BOOL
} sh_datum_type;

typedef struct sh_datum {
	sh_datum_type type;
	union {
		int64_t i;       /* SH_DATUM_INT */
		double r;        /* SH_DATUM_REAL */
		const char *s;   /* SH_DATUM_TEXT, borrowed, NUL-terminated UTF-8 */
		bool b;          /* SH_DATUM_BOOL */
	} v;
} sh_datum;

/* A field's name with a value: pre_init's kwargs, instance constructors. */
typedef struct sh_field_value {
	const char *name;
	sh_datum value;
} sh_field_value;

/* Constructors. */
static inline sh_datum sh_datum_null(void)
{
	sh_datum d;
	d.type = SH_DATUM_NULL;
	d.v.i = 0;
	return d;
}

static inline sh_datum sh_datum_int(int64_t i)
{
	sh_datum d;
	d.type = SH_DATUM_INT;
	d.v.i = i;
	return d;
}

static inline sh_datum sh_datum_real(double r)
{
	sh_datum d;
	d.type = SH_DATUM_REAL;
	d.v.r = r;
	return d;
}

static inline sh_datum sh_datum_text(const char *s)
{
	sh_datum d;
	d.type = s != NULL ? SH_DATUM_TEXT : SH_DATUM_NULL;
	d.v.s = s;
	return d;
}

static inline sh_datum sh_datum_bool(bool b)
{
	sh_datum d;
	d.type = SH_DATUM_BOOL;
	d.v.b = b;
	return d;
}

/* Returns the name of a datum type ("null", "integer", "real", "text",
 * "boolean"), for messages. */
SH_API const char *sh_datum_type_name(sh_datum_type type);

#ifdef __cplusplus
}
#endif

#endif
