/*
 * model_api.h: what the files of the JSON API of models share
 * (model_api.c: the requests; model_api_json.c: values between JSON, query
 * text and datums, and the error answers; model_api_routes.c: resolving
 * model routes and reading field options from manifests).
 *
 * Convention of the functions here that may answer the client: they
 * return 0 when the work may go on, SH__ANSWERED (1) when they put a
 * client error (4xx) in the response, or a negative code for a failure of
 * the host or of a receiver (the handler answers 500, sends
 * got_request_exception and logs it).
 */
#ifndef SH_WEB_MODEL_API_H
#define SH_WEB_MODEL_API_H

#include <sighost/db.h>
#include <sighost/instance.h>
#include <sighost/query.h>

#include "internal.h"

#define SH__ANSWERED 1

/* The page size of a list without `limit`, and the largest `limit`. */
#define SH__API_PAGE_SIZE 100
#define SH__API_MAX_PAGE_SIZE 1000
/* The most fields a model of the API may have. */
#define SH__API_MAX_FIELDS 128

/* One request on a model route. */
typedef struct sh__api {
	sh_request *request;
	sh_http_response *response;
	const sh_route *route;
	const sh_model *model;
	sh_conn *db;
} sh__api;

/* What the JSON API makes of a field. */
typedef struct sh__api_field {
	const sh_field *field;
	const char *name;
	sh_field_type type;
	bool read_only;      /* the pk, auto_now, auto_now_add: ignored in bodies */
	bool required;       /* must be given to create (and to PUT, unless read_only) */
	bool forward_m2m;    /* a many-to-many field the model declares */
} sh__api_field;

/* Describes field `index` of the request's model. */
void sh_web__api_describe(sh__api_field *out, const sh__api *api, size_t index);

/* Puts {"error": <message>, "field": <field>} (field left out when NULL)
 * in the response with `status`; the message is printf-style, made valid
 * UTF-8. Returns SH__ANSWERED, or SH_ENOMEM. */
int sh_web__api_error(sh__api *api, int status, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Turns a model-layer failure into an answer: SH_EINVAL, SH_EINTEGRITY
 * and SH_ENOTFOUND are the client's (400, naming `field`, or the field the
 * message names when `field` is NULL), SH_EPROTECTED is 409; anything else
 * is returned as it is (a 500). */
int sh_web__api_fail(sh__api *api, int rc, const char *field);

/* Appends the object of an instance to `out`: every non-many-to-many
 * field (a foreign key as its target's pk, a JSON field as its JSON, text
 * that is not UTF-8 as null), then each many-to-many field as the list of
 * related pks; compact, with jansson's escapes and number formats (the
 * bytes json_dumps(JSON_COMPACT) makes of the same values). `fields` are
 * the `n` fields of the request's model (sh_web__api_describe).
 * Returns 0 or a negative code (`out` holds part of it then). */
int sh_web__api_write_object(sh__wbuf *out, sh__api *api, const sh__api_field *fields, size_t n,
	sh_instance *instance);

/* Converts the JSON value given for a field into a datum (text points
 * into `value` or into *owned, which the caller frees). Returns 0 or
 * SH__ANSWERED (400 naming the field). */
int sh_web__api_datum(sh_datum *out, char **owned, sh__api *api, const sh__api_field *field,
	const json_t *value);

/* Converts query text given for a field into a datum (text points into
 * `text`); `isnull` reads a boolean. Returns 0 or SH__ANSWERED (400 naming
 * the parameter `param`). */
int sh_web__api_query_datum(sh_datum *out, sh__api *api, const sh_field *field, bool isnull,
	const char *param, const char *text);

/* Reads the body as a JSON object (Content-Type application/json, UTF-8,
 * no duplicate keys, numbers that fit). Stores it in *out (the caller
 * decrefs). Returns 0, or SH__ANSWERED (400 or 415). */
int sh_web__api_body(json_t **out, sh__api *api);

/* Reads a JSON list of primary keys given under `name`. Stores a new array
 * (free()) and its length. Returns 0, SH__ANSWERED (400 naming `name`),
 * SH_ENOMEM. */
int sh_web__api_pks(int64_t **out, size_t *count, sh__api *api, const char *name,
	const json_t *value);

/* Parses a decimal int64 ("-12"); false when it is not one or overflows. */
bool sh_web__api_int(const char *text, int64_t *out);

#endif
