/*
 * audit.h: the parts of the audit plugin shared by its two files.
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <jansson.h>

#include <sighost/sighost.h>

/* Returns a new JSON object with the arguments of built-in signal `id`
 * (Django's argument names; opaque objects such as instances are left
 * out), an empty object when args is NULL; NULL on ENOMEM. */
json_t *audit_args_json(sh_builtin id, const void *args);

/* Returns a settings value as JSON (null for NULL); NULL on ENOMEM. */
json_t *audit_value_json(const sh_value *value);

#endif
