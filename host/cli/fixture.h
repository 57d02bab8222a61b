/*
 * fixture.h: Django's JSON fixture format, shared by dumpdata.c and
 * loaddata.c: the model label as Django writes it, and one field's value
 * between sighost's datums and JSON.
 */
#ifndef SH_CLI_FIXTURE_H
#define SH_CLI_FIXTURE_H

#include <jansson.h>
#include <stddef.h>

#include <sighost/sys/sighost.h>

/* The largest fixture file loaddata reads (bytes): 64 MiB. */
#define SH_CLI_FIXTURE_MAX (64L * 1024 * 1024)

/* Writes the model's label as Django's fixtures name it ("shop.item",
 * label_lower) into buf. */
void sh_cli_fixture_label(char *buf, size_t size, const sh_model *model);

/* Stores in *out (a new reference) the JSON of value `d` of field `f`: a
 * JSON field's text as the JSON value it holds, text as a string, numbers
 * and booleans as themselves, NULL as null. Returns 0 or SH_ENOMEM. */
int sh_cli_fixture_value(json_t **out, const sh_field *f, sh_datum d);

/* Stores in *out the datum of JSON `v` for field `f`: a JSON field takes
 * any JSON value (its text is written to *text, which the caller frees);
 * others take null, integers, reals, booleans and strings, pointing into
 * `v`. The value is then checked with sh_field_validate(). Returns 0 or
 * SH_EINVAL naming the model and field (a list or object for a field that
 * is not JSON, or what the check found). */
int sh_cli_fixture_datum(sh_datum *out, char **text, const sh_field *f, const json_t *v);

#endif
