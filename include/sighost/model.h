/*
 * model.h: models, the host-owned classes of rows (Django's models and its
 * app registry).
 *
 * Apps declare models in their manifests (see docs/models.md); the host
 * declares them here, in manifest order, then prepares the registry once:
 * relations are resolved whatever the order apps were declared in, an
 * automatic join model is made for each many-to-many field without a
 * `through`, and class_prepared is sent once per model, in declaration
 * order, before any plugin's ready() runs. Embedders and tests may declare
 * models from C with the same calls.
 *
 * A model's sender for model signals is the interned "app_label.ModelName"
 * (sh_model_sender), so a receiver can connect by name before the model
 * exists. Models, fields and the registry are owned by the registry and
 * immutable once prepared; any thread may read them.
 */
#ifndef SIGHOST_MODEL_H
#define SIGHOST_MODEL_H

#include "common.h"
#include "datum.h"
#include "signal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sh_models sh_models;   /* the registry: Django's `apps` */
typedef struct sh_field sh_field;

/* Field types, named after Django's fields. */
typedef enum sh_field_type {
	SH_FIELD_AUTO,          /* AutoField: integer primary key the database assigns */
	SH_FIELD_INTEGER,       /* IntegerField */
	SH_FIELD_BIG_INTEGER,   /* BigIntegerField */
	SH_FIELD_REAL,          /* FloatField */
	SH_FIELD_TEXT,          /* CharField (max_length > 0) or TextField (0) */
	SH_FIELD_BOOLEAN,       /* BooleanField */
	SH_FIELD_DATE,          /* DateField: "YYYY-MM-DD" */
	SH_FIELD_DATETIME,      /* DateTimeField: "YYYY-MM-DDTHH:MM:SS[.ffffff]Z", UTC */
	SH_FIELD_JSON,          /* JSONField: JSON text, validated */
	SH_FIELD_FOREIGN_KEY,   /* ForeignKey: column "<name>_id" holds the target's pk */
	SH_FIELD_MANY_TO_MANY,  /* ManyToManyField: rows of a join model, no column */
	SH_FIELD_TYPE_COUNT
} sh_field_type;

/* What deleting a target does to the rows whose foreign key points at it. */
typedef enum sh_on_delete {
	SH_ON_DELETE_CASCADE,   /* delete them too */
	SH_ON_DELETE_PROTECT,   /* refuse the delete */
	SH_ON_DELETE_SET_NULL,  /* set the key to NULL (the field must allow null) */
	SH_ON_DELETE_RESTRICT   /* refuse, unless they are deleted by a cascade of the same delete */
} sh_on_delete;

/* One field of a model declaration. Initialise with SH_FIELD_DECL_INIT. */
typedef struct sh_field_decl {
	unsigned int version;       /* SH_FIELD_DECL_VERSION */
	const char *name;           /* a C-identifier-like name, not ending in "_id" for keys */
	sh_field_type type;
	bool null;                  /* NULL allowed in the database */
	bool blank;                 /* empty allowed in forms and the JSON API */
	bool unique;
	bool db_index;
	bool primary_key;           /* at most one per model; else an AUTO "id" is added */
	bool auto_now;              /* DATETIME/DATE: set on every save */
	bool auto_now_add;          /* DATETIME/DATE: set when first inserted */
	int max_length;             /* TEXT: at most this many characters; 0: unlimited */
	bool has_default;
	sh_datum default_value;     /* used when has_default; text is copied */
	const char *to;             /* FOREIGN_KEY, MANY_TO_MANY: "app_label.Model", or
	                             * "Model" in the declaring app */
	sh_on_delete on_delete;     /* FOREIGN_KEY */
	const char *through;        /* MANY_TO_MANY: an explicit join model, or NULL */
	const char *related_name;   /* the name of the reverse relation on the target;
	                             * NULL: "<model name in lower case>_set" */
	const char *where;          /* "file:line:column" of the declaration, for messages */
} sh_field_decl;

#define SH_FIELD_DECL_VERSION 1
#define SH_FIELD_DECL_INIT { SH_FIELD_DECL_VERSION, NULL, SH_FIELD_INTEGER, false, false, \
	false, false, false, false, false, 0, false, { SH_DATUM_NULL, { 0 } }, NULL, \
	SH_ON_DELETE_CASCADE, NULL, NULL, NULL }

/* Receives each problem a declaration or preparation finds: its code,
 * where (the `where` of the declaration concerned, may be NULL) and what. */
typedef void (*sh_problem_fn)(int code, const char *where, const char *message, void *payload);

/* ---- the registry ---- */

/*
 * Creates an empty registry whose model signals go through `hub` (the
 * registry interns model senders there and sends class_prepared). Returns
 * 0 and stores it in *out, or SH_ENOMEM. Free it with sh_models_free().
 */
SH_API int sh_models_new(sh_models **out, sh_hub *hub);

/* Frees the registry, its models and fields. NULL is a no-op. No instance,
 * query or database of the registry may outlive it. */
SH_API void sh_models_free(sh_models *models);

/*
 * Sets who hears about problems. Without a reporter only the first
 * problem's message reaches the error channel; with one, every problem is
 * reported (so `sighost check` lists them all) and the error channel holds
 * the first.
 */
SH_API void sh_models_set_reporter(sh_models *models, sh_problem_fn fn, void *payload);

/*
 * Returns true when `label` (compared without case) is an app label the
 * host keeps: "sighost", or one starting with "sighost_" or "sqlite" (a
 * model's table is "<label>_<model>", and the host keeps its own tables,
 * sighost_token and sighost_migrations, under "sighost_"; SQLite refuses
 * tables starting "sqlite_"). An app manifest with such a label and a
 * declaration of a model under it are problems.
 */
SH_API bool sh_label_reserved(const char *label);

/*
 * Declares model `name` (CamelCase, as in Django) of app `app_label` with
 * `count` fields (copied). Checks what can be checked alone: names, types,
 * options that fit the type (max_length on text, auto_now on dates, a
 * target for relations, on_delete SET_NULL only with null), duplicates,
 * at most one primary key; adds an AUTO primary key "id" when none is
 * declared. Returns 0, SH_EEXISTS when the app already has that model,
 * SH_EMANIFEST for a bad declaration (nothing is declared), SH_EINVAL
 * after sh_models_prepare(), SH_ENOMEM.
 */
SH_API int sh_models_declare(sh_models *models, const char *app_label, const char *name,
	const sh_field_decl *fields, size_t count, const char *where);

/*
 * Resolves every relation of the declared models (an unknown target, a
 * `through` that is not a model with keys to both sides, a related_name
 * that clashes are SH_EMANIFEST), makes the automatic join models
 * ("<app>.<Model>_<field>", as Django names them), and sends class_prepared
 * for each model in declaration order, each automatic join model just
 * before its model (Django builds it while building its model's class).
 * In the registry (sh_models_at) a join model comes right after its model.
 * Returns 0 or the first problem's code; on a problem no signal is
 * sent and the registry stays unprepared. Once prepared, it is final.
 */
SH_API int sh_models_prepare(sh_models *models);

/* Returns true once sh_models_prepare() succeeded. */
SH_API bool sh_models_prepared(const sh_models *models);

/* Returns the hub the registry sends through. */
SH_API sh_hub *sh_models_hub(const sh_models *models);

/* Returns how many models the registry holds (join models included). */
SH_API size_t sh_models_count(const sh_models *models);

/* Returns model `index` in declaration order, NULL when out of range. */
SH_API const sh_model *sh_models_at(const sh_models *models, size_t index);

/*
 * Stores in *out the model labelled `label` ("alert.Alert"; the model name
 * is matched without regard to case, as Django's get_model does). Returns
 * 0, SH_ENOTFOUND (the message names the label), SH_EINVAL for NULL.
 */
SH_API int sh_models_lookup(const sh_model **out, const sh_models *models, const char *label);

/* ---- models ---- */

/* Returns "app_label.ModelName". */
SH_API const char *sh_model_label(const sh_model *model);

/* Returns the app label ("alert"). */
SH_API const char *sh_model_app_label(const sh_model *model);

/* Returns the model's name ("Alert"). */
SH_API const char *sh_model_name(const sh_model *model);

/* Returns the table name: "<app_label>_<model name in lower case>", as Django's. */
SH_API const char *sh_model_table(const sh_model *model);

/* Returns the interned sender of the model's signals. */
SH_API const sh_sender *sh_model_sender(const sh_model *model);

/* Returns true for a join model made for a many-to-many field. */
SH_API bool sh_model_auto_created(const sh_model *model);

/* Returns how many fields the model has (primary key and many-to-many
 * fields included), in declaration order with an added "id" first. */
SH_API size_t sh_model_field_count(const sh_model *model);

/* Returns field `index`, NULL when out of range. */
SH_API const sh_field *sh_model_field_at(const sh_model *model, size_t index);

/* Returns the field called `name` (a foreign key also answers to its column
 * name "<name>_id"), NULL when there is none. */
SH_API const sh_field *sh_model_field(const sh_model *model, const char *name);

/* Returns the primary key field. */
SH_API const sh_field *sh_model_pk(const sh_model *model);

/* ---- fields ---- */

SH_API const char *sh_field_name(const sh_field *field);
SH_API sh_field_type sh_field_type_of(const sh_field *field);
/* Returns the column name, NULL for a many-to-many field. */
SH_API const char *sh_field_column(const sh_field *field);
SH_API bool sh_field_null(const sh_field *field);
SH_API bool sh_field_unique(const sh_field *field);
SH_API bool sh_field_primary_key(const sh_field *field);
SH_API int sh_field_max_length(const sh_field *field);
/* The declaration's options, as sh_field_decl names them. */
SH_API bool sh_field_blank(const sh_field *field);
SH_API bool sh_field_auto_now(const sh_field *field);
SH_API bool sh_field_auto_now_add(const sh_field *field);
SH_API bool sh_field_has_default(const sh_field *field);
/* Returns the target model of a relation, NULL for other fields. */
SH_API const sh_model *sh_field_target(const sh_field *field);
/* Returns the join model of a many-to-many field, NULL for other fields. */
SH_API const sh_model *sh_field_through(const sh_field *field);
SH_API sh_on_delete sh_field_on_delete(const sh_field *field);
/* Returns the name of the reverse relation on the target model. */
SH_API const char *sh_field_related_name(const sh_field *field);
/* Checks that `value` suits the field as sh_instance_set() would take it
 * (type, text length, ISO-8601 form, valid JSON; NULL always passes here).
 * Returns 0 or SH_EINVAL naming the model, the field and what was wrong. */
SH_API int sh_field_validate(const sh_field *field, sh_datum value);

/* Returns Django's name of a field type ("ForeignKey"), NULL out of range. */
SH_API const char *sh_field_type_name(sh_field_type type);

#ifdef __cplusplus
}
#endif

#endif
