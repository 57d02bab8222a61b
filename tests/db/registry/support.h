/*
 * support.h: what the registry tests share: a hub and a registry per test
 * whose reporter collects every problem as "where: message" lines, and
 * short builders of field declarations.
 */
#ifndef SH_TEST_REGISTRY_SUPPORT_H
#define SH_TEST_REGISTRY_SUPPORT_H

#include <sighost/sys/sighost.h>

extern sh_hub *hub;
extern sh_models *models;

/* Every problem reported so far, one "[CODE] where: message" line each. */
extern char problems[16384];
extern size_t problem_count;

/* Criterion .init/.fini: a new hub and registry with the collecting
 * reporter; both freed. */
void reg_setup(void);
void reg_teardown(void);

/* Forgets the problems collected so far. */
void problems_clear(void);

/* Asserts that some collected problem holds `needle`. */
void assert_problem(const char *needle);

/* A field declaration of `name` and `type`, at "models.yaml:<line>:5". */
sh_field_decl fd(const char *name, sh_field_type type);

/* A relation (foreign key with on_delete cascade, or many-to-many) to `to`. */
sh_field_decl fk(const char *name, const char *to);
sh_field_decl m2m(const char *name, const char *to);

/* Declares a model at "models.yaml:1:1", asserting success. */
void declare_ok(const char *app, const char *name, const sh_field_decl *fields, size_t count);

/* Looks a model up, asserting it exists. */
const sh_model *model(const char *label);

#define N(a) (sizeof(a) / sizeof((a)[0]))

#endif
