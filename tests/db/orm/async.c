/*
 * async.c: the model signals heard by asynchronous receivers (signal.h,
 * builtins.h): with a pool executor, each receiver gets a deep copy of the
 * args made at the send, so it sees the values as they were sent after the
 * caller changed or freed everything; instances in the copy are detached
 * (no connection): reading works, save / delete / m2m refuse them with
 * SH_EINVAL telling to reload the row on the worker's own connection.
 *
 * Each receiver waits for the test thread's "go" before reading, so the
 * caller has freed its instance (or overwritten its buffers) by then.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

static sh_pool *pool;
static sem_t go;

/* What a receiver saw, filled on the worker thread; read after
 * sh_pool_wait_idle() (which orders it before the test's reads). */
static struct seen {
	int calls;
	int64_t pk;
	char text[128];
	int64_t level;
	bool created, raw, adding, db_null;
	char update_fields[128];
	const char *using_;
	const sh_model *model;
	int rc;
	char message[512];
	int64_t pks[8];
	size_t pk_count;
	bool pk_set_null;
	bool origin_same;
	const sh_model *origin_model;
	const void *pointer;
} seen;

static void async_setup(void)
{
	fx_setup();
	memset(&seen, 0, sizeof seen);
	cr_assert_eq(sem_init(&go, 0, 0), 0);
	cr_assert_eq(sh_pool_new(&pool, 2, 64), 0);
	sh_hub_set_executor(fx.hub, sh_pool_executor, pool);
}

static void async_teardown(void)
{
	sh_pool_free(pool);   /* drains: no job outlives the registry */
	sh_hub_set_executor(fx.hub, NULL, NULL);
	sem_destroy(&go);
	fx_teardown();
}

TestSuite(async, .init = async_setup, .fini = async_teardown);

static void connect_async(sh_builtin id, const char *label, sh_receiver_fn fn, void *payload)
{
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = label != NULL ? sh_model_sender(M(label)) : NULL;
	opts.async = true;
	opts.name = "async test receiver";
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, id), fn, payload, &opts), 0);
}

/* Releases the receivers (one per call to come) and waits for them. */
static void release(int receivers)
{
	for (int i = 0; i < receivers; i++)
		sem_post(&go);
	sh_pool_wait_idle(pool);
}

static void read_instance(const sh_instance *inst)
{
	sh_datum d;
	seen.pk = sh_instance_pk(inst);
	seen.model = sh_instance_model(inst);
	seen.adding = sh_instance_adding(inst);
	seen.db_null = sh_instance_conn(inst) == NULL;
	if (sh_instance_get(inst, "content", &d) == 0 && d.type == SH_DATUM_TEXT)
		snprintf(seen.text, sizeof seen.text, "%s", d.v.s);
	else if (sh_instance_get(inst, "name", &d) == 0 && d.type == SH_DATUM_TEXT)
		snprintf(seen.text, sizeof seen.text, "%s", d.v.s);
	if (sh_instance_get(inst, "level", &d) == 0 && d.type == SH_DATUM_INT)
		seen.level = d.v.i;
}

static int on_post_save(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	sem_wait(&go);
	const sh_post_save_args *a = args;
	read_instance(a->instance);
	seen.created = a->created;
	seen.raw = a->raw;
	seen.using_ = a->using_;
	seen.update_fields[0] = '\0';
	if (a->update_fields == NULL)
		strcpy(seen.update_fields, "None");
	for (size_t i = 0; a->update_fields != NULL && i < a->update_fields->count; i++) {
		strcat(seen.update_fields, i ? "," : "");
		strcat(seen.update_fields, a->update_fields->names[i]);
	}
	seen.calls++;
	return 0;
}

Test(async, post_save_receiver_sees_the_saved_values_after_the_caller_freed_the_instance)
{
	sh_instance *owner = MAKE("shop.Owner", FV("name", T("ann")));
	connect_async(SH_POST_SAVE, "shop.Alert", on_post_save, NULL);
	char content[16];
	strcpy(content, "hello");
	sh_instance *a = NULL;
	sh_field_value v[] = { FV("content", T(content)), FV("owner", I(1)), FV("level", I(7)) };
	cr_assert_eq(sh_instance_new(&a, fx.db, M("shop.Alert"), v, 3), 0);
	cr_assert_eq(sh_instance_save(a, NULL), 0, "%s", last_message());
	int64_t pk = sh_instance_pk(a);
	sh_instance_free(a);                 /* the job still has its copy */
	memset(content, 'X', sizeof content - 1);
	release(1);
	cr_assert_eq(seen.calls, 1);
	cr_assert_eq(seen.pk, pk);
	cr_assert_eq(seen.pk, 1);
	cr_assert_str_eq(seen.text, "hello");
	cr_assert_eq(seen.level, 7);
	cr_assert(seen.created);
	cr_assert(!seen.raw);
	cr_assert(!seen.adding, "saved: no longer adding");
	cr_assert(seen.db_null, "a detached copy");
	cr_assert_eq(seen.model, M("shop.Alert"));
	cr_assert_str_eq(seen.using_, "default");
	cr_assert_str_eq(seen.update_fields, "None");
	sh_instance_free(owner);
}

Test(async, post_save_receiver_gets_created_false_and_a_copy_of_update_fields)
{
	sh_instance *owner = MAKE("shop.Owner", FV("name", T("ann")));
	sh_instance *a = MAKE("shop.Alert", FV("content", T("one")), FV("owner", I(1)));
	connect_async(SH_POST_SAVE, "shop.Alert", on_post_save, NULL);
	cr_assert_eq(sh_instance_set(a, "content", T("two")), 0);
	cr_assert_eq(sh_instance_set(a, "level", I(3)), 0);
	char n1[16] = "content", n2[16] = "level";
	const char *names[] = { n1, n2 };
	sh_save_opts opts = SH_SAVE_OPTS_INIT;
	opts.update_fields = names;
	opts.update_fields_count = 2;
	cr_assert_eq(sh_instance_save(a, &opts), 0, "%s", last_message());
	sh_instance_free(a);
	strcpy(n1, "gone");
	strcpy(n2, "gone");
	release(1);
	cr_assert_eq(seen.calls, 1);
	cr_assert_eq(seen.pk, 1);
	cr_assert(!seen.created);
	cr_assert_str_eq(seen.text, "two");
	cr_assert_eq(seen.level, 3);
	cr_assert_str_eq(seen.update_fields, "content,level");
	sh_instance_free(owner);
}

/* Tries every change on the copy; records the first refusal's message. */
static int try_to_save_the_copy(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	sem_wait(&go);
	sh_instance *copy = ((const sh_post_save_args *)args)->instance;
	seen.rc = sh_instance_save(copy, NULL);
	snprintf(seen.message, sizeof seen.message, "%s", sh_error_last()->message);
	int64_t one = 1, *pks = NULL;
	size_t n = 0;
	if (sh_instance_delete(copy, NULL) != SH_EINVAL || sh_m2m_add(copy, "tags", &one, 1) != SH_EINVAL
		|| sh_m2m_pks(copy, "tags", &pks, &n) != SH_EINVAL || sh_bulk_create(&copy, 1) != SH_EINVAL)
		seen.rc = 1;
	/* reading and setting the copy work */
	if (sh_instance_set(copy, "content", T("local")) != 0)
		seen.rc = 2;
	read_instance(copy);
	seen.calls++;
	return 0;
}

Test(async, an_async_receiver_cannot_save_its_copy)
{
	sh_instance *owner = MAKE("shop.Owner", FV("name", T("ann")));
	connect_async(SH_POST_SAVE, "shop.Alert", try_to_save_the_copy, NULL);
	sh_instance *a = MAKE("shop.Alert", FV("content", T("orig")), FV("owner", I(1)));
	release(1);
	cr_assert_eq(seen.calls, 1);
	cr_assert_eq(seen.rc, SH_EINVAL, "rc %d: %s", seen.rc, seen.message);
	cr_assert(strstr(seen.message, "shop.Alert") != NULL, "%s", seen.message);
	cr_assert(strstr(seen.message, "asynchronous receiver") != NULL, "%s", seen.message);
	cr_assert(strstr(seen.message, "reload it on the worker's own connection") != NULL, "%s",
		seen.message);
	cr_assert_str_eq(seen.text, "local", "the copy is the receiver's to change");
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert"), 1);
	cr_assert_str_eq(sql_text("SELECT content FROM shop_alert"), "orig");
	sh_datum d;
	cr_assert_eq(sh_instance_get(a, "content", &d), 0);
	cr_assert_str_eq(d.v.s, "orig", "the caller's instance is untouched");
	sh_instance_free(a);
	sh_instance_free(owner);
}

static int on_pre_init(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	sem_wait(&go);
	const sh_pre_init_args *a = args;
	seen.text[0] = '\0';
	for (size_t i = 0; i < a->kwargs_count; i++) {
		char part[64];
		const sh_datum *v = &a->kwargs[i].value;
		if (v->type == SH_DATUM_TEXT)
			snprintf(part, sizeof part, "%s%s=%s", i ? " " : "", a->kwargs[i].name, v->v.s);
		else
			snprintf(part, sizeof part, "%s%s=%" PRId64, i ? " " : "", a->kwargs[i].name, v->v.i);
		strcat(seen.text, part);
	}
	seen.pk_count = a->args_count;
	seen.calls++;
	return 0;
}

Test(async, pre_init_kwargs_are_copied_with_their_text)
{
	connect_async(SH_PRE_INIT, "shop.Tag", on_pre_init, NULL);
	char name[16] = "name", value[16] = "red";
	sh_instance *t = NULL;
	sh_field_value v[] = { FV(name, T(value)) };
	cr_assert_eq(sh_instance_new(&t, fx.db, M("shop.Tag"), v, 1), 0);
	strcpy(name, "zzzz");
	strcpy(value, "zzz");
	sh_instance_free(t);
	release(1);
	cr_assert_eq(seen.calls, 1);
	cr_assert_str_eq(seen.text, "name=red");
	cr_assert_eq(seen.pk_count, 0, "no positional args");
}

/* Records pre_init's args as "1,D" (D: deferred) in seen.text. */
static int on_pre_init_args(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	sem_wait(&go);
	const sh_pre_init_args *a = args;
	seen.text[0] = '\0';
	for (size_t i = 0; i < a->args_count; i++) {
		char part[64];
		const sh_datum *v = &a->args[i];
		if (a->deferred != NULL && a->deferred[i])
			snprintf(part, sizeof part, "%sD", i ? "," : "");
		else if (v->type == SH_DATUM_TEXT)
			snprintf(part, sizeof part, "%s%s", i ? "," : "", v->v.s);
		else
			snprintf(part, sizeof part, "%s%" PRId64, i ? "," : "", v->v.i);
		strcat(seen.text, part);
	}
	seen.pk_set_null = a->deferred == NULL;
	seen.calls++;
	return 0;
}

Test(async, pre_init_deferred_flags_are_copied)
{
	sh_instance *t = MAKE("shop.Tag", FV("name", T("kept")));
	connect_async(SH_PRE_INIT, "shop.Tag", on_pre_init_args, NULL);
	sh_query *q = NULL;
	cr_assert_eq(sh_query_new(&q, fx.db, M("shop.Tag")), 0);
	const char *defer[] = { "name" };
	cr_assert_eq(sh_query_defer(q, defer, 1), 0);
	sh_instance *got = NULL;
	cr_assert_eq(sh_query_next(q, &got), 1);
	sh_instance_free(got);
	sh_query_free(q);
	release(1);
	cr_assert_eq(seen.calls, 1);
	cr_assert_str_eq(seen.text, "1,D");
	cr_assert_not(seen.pk_set_null, "the copy keeps the flags");
	sh_instance_free(t);
}

static int on_post_init(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	sem_wait(&go);
	read_instance(((const sh_post_init_args *)args)->instance);
	seen.calls++;
	return 0;
}

Test(async, post_init_of_a_loaded_row_is_copied)
{
	sh_instance *t = MAKE("shop.Tag", FV("name", T("loaded")));
	connect_async(SH_POST_INIT, "shop.Tag", on_post_init, NULL);
	sh_instance *got = NULL;
	cr_assert_eq(sh_query_get(&got, fx.db, M("shop.Tag"), 1), 0);
	sh_instance_free(got);
	release(1);
	cr_assert_eq(seen.calls, 1);
	cr_assert_eq(seen.pk, 1);
	cr_assert_str_eq(seen.text, "loaded");
	cr_assert(!seen.adding);
	sh_instance_free(t);
}

static int on_m2m(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	sem_wait(&go);
	const sh_m2m_changed_args *a = args;
	if (a->action == SH_M2M_POST_ADD) {
		read_instance(a->instance);
		seen.pk_count = a->pk_count;
		seen.pk_set_null = a->pk_set == NULL;
		for (size_t i = 0; i < a->pk_count && i < 8; i++)
			seen.pks[i] = a->pk_set[i];
		seen.model = a->model;
	} else if (a->action == SH_M2M_POST_CLEAR) {
		seen.pk_set_null = a->pk_set == NULL;
	}
	seen.calls++;
	return 0;
}

Test(async, m2m_changed_pk_sets_are_copied_and_clear_stays_null)
{
	sh_instance *owner = MAKE("shop.Owner", FV("name", T("ann")));
	sh_instance *a = MAKE("shop.Alert", FV("content", T("a")), FV("owner", I(1)));
	sh_instance *t1 = MAKE("shop.Tag", FV("name", T("t1")));
	sh_instance *t2 = MAKE("shop.Tag", FV("name", T("t2")));
	connect_async(SH_M2M_CHANGED, "shop.Alert_tags", on_m2m, NULL);
	int64_t pks[] = { 2, 1 };
	cr_assert_eq(sh_m2m_add(a, "tags", pks, 2), 0, "%s", last_message());
	pks[0] = pks[1] = 99;
	release(2);
	cr_assert_eq(seen.calls, 2, "pre_add and post_add");
	cr_assert_eq(seen.pk, 1);
	cr_assert_eq(seen.pk_count, 2);
	cr_assert(!seen.pk_set_null);
	cr_assert_eq(seen.pks[0], 1);
	cr_assert_eq(seen.pks[1], 2);
	cr_assert_eq(seen.model, M("shop.Tag"));
	/* nothing new: still two sends, with an empty but non-NULL set */
	seen.pk_count = 9;
	cr_assert_eq(sh_m2m_add(a, "tags", pks + 0, 0), 0);
	int64_t again[] = { 1 };
	cr_assert_eq(sh_m2m_add(a, "tags", again, 1), 0);
	release(2);
	cr_assert_eq(seen.calls, 4);
	cr_assert_eq(seen.pk_count, 0);
	cr_assert(!seen.pk_set_null, "an empty pk_set is not NULL");
	cr_assert_eq(sh_m2m_clear(a, "tags"), 0);
	release(2);
	cr_assert_eq(seen.calls, 6);
	cr_assert(seen.pk_set_null, "clear: NULL");
	sh_instance_free(t1);
	sh_instance_free(t2);
	sh_instance_free(a);
	sh_instance_free(owner);
}

static int on_delete(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	sem_wait(&go);
	const sh_delete_args *a = args;
	read_instance(a->instance);
	seen.origin_same = a->origin == a->instance;
	seen.origin_model = a->origin_model;
	seen.using_ = a->using_;
	seen.calls++;
	return 0;
}

Test(async, delete_copies_keep_the_instance_as_its_own_origin)
{
	sh_instance *t = MAKE("shop.Tag", FV("name", T("bye")));
	connect_async(SH_POST_DELETE, "shop.Tag", on_delete, NULL);
	cr_assert_eq(sh_instance_delete(t, NULL), 0);
	sh_instance_free(t);
	release(1);
	cr_assert_eq(seen.calls, 1);
	cr_assert_eq(seen.pk, 1, "the copy was made before the pk was cleared");
	cr_assert_str_eq(seen.text, "bye");
	cr_assert(seen.origin_same, "origin and instance stay one object in the copy");
	cr_assert_eq(seen.origin_model, M("shop.Tag"));
	cr_assert_str_eq(seen.using_, "default");
}

static int on_connection(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	sem_wait(&go);
	/* the pointer only: an async receiver must not use the connection */
	seen.pointer = ((const sh_connection_created_args *)args)->connection;
	seen.calls++;
	return 0;
}

static void *open_connection(void *arg)
{
	sh_conn **out = arg;
	if (sh_database_connection(out, fx.database) != 0)
		*out = NULL;
	return NULL;
}

Test(async, connection_created_copy_keeps_the_pointer)
{
	connect_async(SH_CONNECTION_CREATED, NULL, on_connection, NULL);
	sh_conn *other = NULL;
	pthread_t thread;
	cr_assert_eq(pthread_create(&thread, NULL, open_connection, &other), 0);
	cr_assert_eq(pthread_join(thread, NULL), 0);
	cr_assert_not_null(other);
	release(1);
	cr_assert_eq(seen.calls, 1);
	cr_assert_eq(seen.pointer, other);
}

static int on_class_prepared(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	sem_wait(&go);
	seen.model = ((const sh_class_prepared_args *)args)->model;
	seen.calls++;
	return 0;
}

Test(async, class_prepared_reaches_an_async_receiver)
{
	connect_async(SH_CLASS_PREPARED, NULL, on_class_prepared, NULL);
	sh_models *more = NULL;
	cr_assert_eq(sh_models_new(&more, fx.hub), 0);
	sh_field_decl f = SH_FIELD_DECL_INIT;
	f.name = "x";
	cr_assert_eq(sh_models_declare(more, "extra", "Thing", &f, 1, NULL), 0);
	cr_assert_eq(sh_models_prepare(more), 0, "%s", last_message());
	release(1);
	cr_assert_eq(seen.calls, 1);
	const sh_model *thing = NULL;
	cr_assert_eq(sh_models_lookup(&thing, more, "extra.Thing"), 0);
	cr_assert_eq(seen.model, thing);
	sh_models_free(more);
}
