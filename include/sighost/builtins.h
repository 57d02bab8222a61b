/*
 * builtins.h: Django's 16 built-in signals and the argument struct each one
 * is sent with. Field names are Django's argument names.
 *
 * A receiver of a built-in signal casts its `args` to the struct named
 * beside the signal below. The host fills every field; pointers inside an
 * args struct are borrowed and valid only during the send.
 */
#ifndef SIGHOST_BUILTINS_H
#define SIGHOST_BUILTINS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The built-in signals, in the order `sighost signals` lists them. */
typedef enum sh_builtin {
	SH_PRE_INIT,              /* sh_pre_init_args;   sender: the model */
	SH_POST_INIT,             /* sh_post_init_args;  sender: the model */
	SH_PRE_SAVE,              /* sh_pre_save_args;   sender: the model */
	SH_POST_SAVE,             /* sh_post_save_args;  sender: the model */
	SH_PRE_DELETE,            /* sh_delete_args;     sender: the model */
	SH_POST_DELETE,           /* sh_delete_args;     sender: the model */
	SH_M2M_CHANGED,           /* sh_m2m_changed_args; sender: the through model */
	SH_CLASS_PREPARED,        /* sh_class_prepared_args; sender: the model */
	SH_PRE_MIGRATE,           /* sh_migrate_args;    sender: the app config */
	SH_POST_MIGRATE,          /* sh_migrate_args;    sender: the app config */
	SH_REQUEST_STARTED,       /* sh_request_started_args; sender: the handler */
	SH_REQUEST_FINISHED,      /* no arguments (NULL); sender: the handler */
	SH_GOT_REQUEST_EXCEPTION, /* sh_got_request_exception_args; sender: the handler */
	SH_SETTING_CHANGED,       /* sh_setting_changed_args; sender: the settings */
	SH_TEMPLATE_RENDERED,     /* sh_template_rendered_args; sender: the template */
	SH_CONNECTION_CREATED,    /* sh_connection_created_args; sender: the backend */
	SH_BUILTIN_COUNT
} sh_builtin;

/* One named value of a model instance, as passed to pre_init. */
typedef struct sh_field_value {
	const char *name;   /* the field name */
	const char *value;  /* its value in text form, NULL for SQL NULL */
} sh_field_value;

/* pre_init: args are positional values, kwargs named values. */
typedef struct sh_pre_init_args {
	const char *const *args;  /* positional values, may be NULL */
	size_t args_count;
	const sh_field_value *kwargs; /* named values, may be NULL */
	size_t kwargs_count;
} sh_pre_init_args;

/* post_init: the instance just built. */
typedef struct sh_post_init_args {
	sh_instance *instance;
} sh_post_init_args;

/*
 * A set of field names (Django's update_fields). A NULL pointer to this
 * struct means "none" (save all fields), as Django's None.
 */
typedef struct sh_name_set {
	const char *const *names;
	size_t count;
} sh_name_set;

/* pre_save. */
typedef struct sh_pre_save_args {
	sh_instance *instance;
	bool raw;                          /* true when loading fixtures as-is */
	const char *using_;                /* Django's `using` (a C++ keyword): the database alias, "default" */
	const sh_name_set *update_fields;  /* NULL for none */
} sh_pre_save_args;

/* post_save. */
typedef struct sh_post_save_args {
	sh_instance *instance;
	bool created;                      /* true only after an INSERT */
	bool raw;
	const char *using_;                /* Django's `using`: the database alias */
	const sh_name_set *update_fields;  /* NULL for none */
} sh_post_save_args;

/* pre_delete and post_delete. */
typedef struct sh_delete_args {
	sh_instance *instance;
	const char *using_;                /* Django's `using`: the database alias */
	/* The object whose delete started it (when the delete came from an
	 * instance), or NULL with origin_model set (a queryset delete). */
	const sh_instance *origin;
	const sh_model *origin_model;
} sh_delete_args;

/* The action of an m2m_changed send, named as Django names it. */
typedef enum sh_m2m_action {
	SH_M2M_PRE_ADD,
	SH_M2M_POST_ADD,
	SH_M2M_PRE_REMOVE,
	SH_M2M_POST_REMOVE,
	SH_M2M_PRE_CLEAR,
	SH_M2M_POST_CLEAR
} sh_m2m_action;

/* m2m_changed. */
typedef struct sh_m2m_changed_args {
	sh_m2m_action action;
	sh_instance *instance;   /* the object whose relation changed */
	bool reverse;            /* true from the side that does not declare the field */
	const sh_model *model;   /* class of the objects added or removed */
	const int64_t *pk_set;   /* their primary keys; NULL for the clear actions */
	size_t pk_count;
	const char *using_;                /* Django's `using`: the database alias */
} sh_m2m_changed_args;

/* class_prepared: the model just registered. */
typedef struct sh_class_prepared_args {
	const sh_model *model;
} sh_class_prepared_args;

/* One step of a migration plan: (migration, backwards). */
typedef struct sh_plan_step {
	const char *app_label;
	const char *name;        /* e.g. "0001_initial" */
	bool backwards;
} sh_plan_step;

/* pre_migrate and post_migrate. */
typedef struct sh_migrate_args {
	const sh_app *app_config;
	int verbosity;
	bool interactive;
	const char *using_;                /* Django's `using`: the database alias */
	const sh_state *apps;        /* the model state before/after the plan */
	const sh_plan_step *plan;
	size_t plan_count;
} sh_migrate_args;

/* One HTTP header. */
typedef struct sh_header {
	const char *name;
	const char *value;
} sh_header;

/* request_started: the request's environ, as WSGI's environ carries it. */
typedef struct sh_environ {
	const char *method;        /* REQUEST_METHOD */
	const char *path;          /* PATH_INFO */
	const char *query_string;  /* QUERY_STRING, "" when none */
	const char *remote_addr;   /* REMOTE_ADDR */
	const sh_header *headers;
	size_t header_count;
} sh_environ;

typedef struct sh_request_started_args {
	const sh_environ *environ;
} sh_request_started_args;

/* got_request_exception. */
typedef struct sh_got_request_exception_args {
	const sh_request *request;
	int error;                 /* the view's error code */
	const char *message;       /* the view's error message */
} sh_got_request_exception_args;

/* setting_changed. */
typedef struct sh_setting_changed_args {
	const char *setting;       /* the key, e.g. "DEBUG" or "audit.path" */
	const sh_value *value;     /* the new value, NULL when the key is removed */
	bool enter;                /* true entering an override, false leaving it */
} sh_setting_changed_args;

/* template_rendered. */
typedef struct sh_template_rendered_args {
	const sh_template *template_;  /* `template` in Django */
	const sh_context *context;
} sh_template_rendered_args;

/* connection_created. */
typedef struct sh_connection_created_args {
	sh_db *connection;
} sh_connection_created_args;

/* Returns Django's name of a built-in signal ("post_save"), NULL when out of range. */
SH_API const char *sh_builtin_name(sh_builtin id);

/* Returns Django's name of an m2m action ("pre_add"), NULL when out of range. */
SH_API const char *sh_m2m_action_name(sh_m2m_action action);

#ifdef __cplusplus
}
#endif

#endif
