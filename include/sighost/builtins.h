/*
 * builtins.h: Django's 16 built-in signals and the argument struct each one
 * is sent with. Field names are Django's argument names.
 *
 * A receiver of a built-in signal casts its `args` to the struct named
 * beside the signal below. The host fills every field; pointers inside an
 * args struct are borrowed and valid only during the send.
 *
 * An asynchronous receiver (signal.h) of a signal the model layer sends
 * (pre_init, post_init, pre_save, post_save, pre_delete, post_delete,
 * m2m_changed, class_prepared, connection_created) gets a deep copy made
 * when the signal was sent and freed after the receiver returns: instances
 * are detached copies (instance.h), name sets, pk sets and pre_init's args
 * and kwargs are copied with their text; models and `using` are the
 * host's own (the registry must outlive the pending jobs).
 * connection_created's copy keeps the connection pointer only: an async
 * connection_created receiver must not use it (a connection belongs to the
 * thread that opened it; run PRAGMAs from a synchronous receiver).
 */
#ifndef SIGHOST_BUILTINS_H
#define SIGHOST_BUILTINS_H

#include "common.h"
#include "datum.h"

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
	SH_GOT_REQUEST_EXCEPTION, /* sh_got_request_exception_args; sender: NULL, as Django */
	SH_SETTING_CHANGED,       /* sh_setting_changed_args; sender: the settings */
	SH_TEMPLATE_RENDERED,     /* sh_template_rendered_args; sender: the template */
	SH_CONNECTION_CREATED,    /* sh_connection_created_args; sender: the backend */
	SH_BUILTIN_COUNT
} sh_builtin;

/* pre_init: args are positional values, kwargs named values (Django's
 * Model(*args, **kwargs)); sighost's constructors pass kwargs only, the
 * loading paths args only. A row loaded with some fields deferred
 * (sh_query_only, sh_query_defer, a refresh of some fields) has Django's
 * DEFERRED in their places: `deferred[i]` is true for those args (their
 * value is NULL). */
typedef struct sh_pre_init_args {
	const sh_datum *args;         /* positional values, NULL when none */
	size_t args_count;
	const sh_field_value *kwargs; /* named values, NULL when none */
	size_t kwargs_count;
	const bool *deferred;         /* args_count flags, NULL when no field was deferred */
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
	/* Django's origin: the object whose delete started it. An instance
	 * delete: that instance, and origin_model its model. A queryset delete
	 * (sh_query_delete): origin NULL, origin_model the query's model. */
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
	/* Their primary keys, ascending. Non-NULL for the add and remove
	 * actions, also when pk_count is 0 (an add of rows all related
	 * already); NULL only for the clear actions (Django's None). */
	const int64_t *pk_set;
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
	sh_conn *connection;
} sh_connection_created_args;

/* Returns Django's name of a built-in signal ("post_save"), NULL when out of range. */
SH_API const char *sh_builtin_name(sh_builtin id);

/* Returns Django's name of an m2m action ("pre_add"), NULL when out of range. */
SH_API const char *sh_m2m_action_name(sh_m2m_action action);

#ifdef __cplusplus
}
#endif

#endif
