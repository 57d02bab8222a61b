/*
 * prepared.c: class_prepared when the registry is prepared, and
 * connection_created once per connection, one connection per thread.
 *
 * Django's behaviour:
 * - class_prepared (django/db/models/base.py, ModelBase._prepare) is sent
 *   once per model class, sender=the class, when the class is built, so in
 *   the order the models are defined. Lazy relations (a foreign key to a
 *   model not defined yet) do not delay it.
 * - The automatic join model of a many-to-many field is built by
 *   create_many_to_many_intermediary_model (fields/related.py) from
 *   ManyToManyField.contribute_to_class, that is while its model's class is
 *   being built, before that model's own _prepare(): in Django the join
 *   model's class_prepared comes just BEFORE its model's; sighost sends it
 *   in the same place (model.h, sh_models_prepare).
 * - connection_created (django/db/backends/base/base.py, connect()) is sent
 *   with sender=the backend's DatabaseWrapper class and connection=the
 *   wrapper each time a connection is opened; Django's connections are per
 *   thread (ConnectionHandler keeps them in a thread-local), so two threads
 *   touching the database give two sends with two different connections,
 *   and a thread that reuses its connection sends nothing more.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

TestSuite(class_prepared);
TestSuite(connection_created, .init = fx_setup, .fini = fx_teardown);

/* ---- class_prepared ---------------------------------------------------- */

static sh_field_decl field(const char *name, sh_field_type type)
{
	sh_field_decl d = SH_FIELD_DECL_INIT;
	d.name = name;
	d.type = type;
	return d;
}

static sh_field_decl rel(const char *name, sh_field_type type, const char *to)
{
	sh_field_decl d = field(name, type);
	d.to = to;
	return d;
}

static sh_hub *hub;
static sh_models *models;

static void reg_setup(void)
{
	log_clear();
	cr_assert_eq(sh_hub_new(&hub), 0);
	rec_connect(hub);
	cr_assert_eq(sh_models_new(&models, hub), 0);
}

static void reg_teardown(void)
{
	sh_models_free(models);
	sh_hub_free(hub);
}

static void declare(const char *app, const char *name, const sh_field_decl *f, size_t n)
{
	int rc = sh_models_declare(models, app, name, f, n, "prepared.c");
	cr_assert_eq(rc, 0, "declare %s.%s: %d %s", app, name, rc, sh_error_last()->message);
}

Test(class_prepared, the_fixture_sends_one_per_model_in_declaration_order,
	.init = fx_setup, .fini = fx_teardown)
{
	cr_assert_str_eq(fx.setup_log,
		"class_prepared t.Author\n"
		"class_prepared t.A\n"
		"class_prepared t.B\n"
		"class_prepared t.C\n"
		"class_prepared t.N\n"
		"class_prepared t.P\n"
		"class_prepared t.Artist\n"
		"class_prepared t.Album\n"
		"class_prepared t.Song\n"
		"class_prepared t.Tag\n"
		"class_prepared t.Post_tags\n"
		"class_prepared t.Post\n"
		"class_prepared t.Stamp\n"
		"class_prepared t.Slug\n"
		"connection_created sqlite\n");
}

Test(class_prepared, declaration_order_across_apps_with_forward_references,
	.init = reg_setup, .fini = reg_teardown)
{
	sh_field_decl order_fields[] = {
		rel("customer", SH_FIELD_FOREIGN_KEY, "crm.Customer"),   /* declared later */
		rel("items", SH_FIELD_MANY_TO_MANY, "shop.Item"),
		rel("labels", SH_FIELD_MANY_TO_MANY, "crm.Label"),
	};
	sh_field_decl item_fields[] = { field("sku", SH_FIELD_TEXT) };
	sh_field_decl customer_fields[] = { field("name", SH_FIELD_TEXT) };
	sh_field_decl label_fields[] = { field("name", SH_FIELD_TEXT) };

	declare("shop", "Order", order_fields, 3);
	declare("shop", "Item", item_fields, 1);
	declare("crm", "Customer", customer_fields, 1);
	declare("crm", "Label", label_fields, 1);
	cr_assert_str_eq(log_text(), "", "declaring sends nothing; preparing does");

	cr_assert_eq(sh_models_prepare(models), 0, "%s", sh_error_last()->message);
	cr_assert(sh_models_prepared(models));
	cr_assert_str_eq(log_text(),
		"class_prepared shop.Order_items\n"
		"class_prepared shop.Order_labels\n"
		"class_prepared shop.Order\n"
		"class_prepared shop.Item\n"
		"class_prepared crm.Customer\n"
		"class_prepared crm.Label\n");
	cr_assert_eq(sh_models_count(models), 6);
}

Test(class_prepared, a_failed_prepare_sends_nothing,
	.init = reg_setup, .fini = reg_teardown)
{
	sh_field_decl ok_fields[] = { field("name", SH_FIELD_TEXT) };
	sh_field_decl bad_fields[] = { rel("owner", SH_FIELD_FOREIGN_KEY, "nowhere.Nobody") };
	declare("app", "Fine", ok_fields, 1);
	declare("app", "Broken", bad_fields, 1);
	cr_assert_eq(sh_models_prepare(models), SH_EMANIFEST);
	cr_assert_not(sh_models_prepared(models));
	cr_assert_str_eq(log_text(), "");
}

/* A receiver connected for one model's sender by name before the model
 * exists hears only that model. */
static int heard;

static int count_heard(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)args, (void)response, (void)payload;
	if (strcmp(sh_sender_name(sender), "crm.Label") == 0)
		heard++;
	else
		heard += 100;
	return 0;
}

Test(class_prepared, a_receiver_for_one_sender_by_name_hears_only_that_model,
	.init = reg_setup, .fini = reg_teardown)
{
	const sh_sender *label = NULL;
	cr_assert_eq(sh_sender_intern(&label, hub, "crm.Label"), 0);
	sh_connect_opts opts = SH_CONNECT_OPTS_INIT;
	opts.sender = label;
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(hub, SH_CLASS_PREPARED), count_heard,
		NULL, &opts), 0);
	sh_field_decl f[] = { field("name", SH_FIELD_TEXT) };
	declare("crm", "Customer", f, 1);
	declare("crm", "Label", f, 1);
	cr_assert_eq(sh_models_prepare(models), 0);
	cr_assert_eq(heard, 1);
}

/* ---- connection_created ------------------------------------------------ */

Test(connection_created, the_first_connection_of_a_thread_sends_it_once)
{
	/* fx_setup opened the main thread's connection: one send. */
	const char *p = strstr(fx.setup_log, "connection_created sqlite\n");
	cr_assert_not_null(p, "setup log:\n%s", fx.setup_log);
	cr_assert_null(strstr(p + 1, "connection_created"), "only once:\n%s", fx.setup_log);

	sh_conn *again = NULL;
	cr_assert_eq(sh_database_connection(&again, fx.database), 0);
	cr_assert_eq(again, fx.db, "the thread keeps its connection");
	cr_assert_str_eq(log_text(), "", "no second send for the same connection");
}

static sh_conn *created_conn[4];
static pthread_t created_thread[4];
static int created_n;
static pthread_mutex_t created_lock = PTHREAD_MUTEX_INITIALIZER;

static int note_connection(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_connection_created_args *a = args;
	pthread_mutex_lock(&created_lock);
	if (created_n < 4) {
		created_conn[created_n] = a->connection;
		created_thread[created_n] = pthread_self();
		created_n++;
	}
	pthread_mutex_unlock(&created_lock);
	return 0;
}

typedef struct worker {
	pthread_t thread;
	sh_conn *db, *db_again;
	int rc, rc_again;
	struct sqlite3 *handle;
	pthread_barrier_t *barrier;
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	w->rc = sh_database_connection(&w->db, fx.database);
	w->rc_again = sh_database_connection(&w->db_again, fx.database);
	if (w->rc == 0)
		w->handle = sh_conn_sqlite(w->db);
	/* Both threads hold their connection at the same time. */
	pthread_barrier_wait(w->barrier);
	return NULL;
}

Test(connection_created, two_threads_get_two_connections_and_two_sends)
{
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_CONNECTION_CREATED),
		note_connection, NULL, NULL), 0);
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, 2);
	worker w[2];
	memset(w, 0, sizeof w);
	for (int i = 0; i < 2; i++) {
		w[i].barrier = &barrier;
		cr_assert_eq(pthread_create(&w[i].thread, NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(w[i].thread, NULL);
	pthread_barrier_destroy(&barrier);

	for (int i = 0; i < 2; i++) {
		cr_assert_eq(w[i].rc, 0);
		cr_assert_eq(w[i].rc_again, 0);
		cr_assert_eq(w[i].db_again, w[i].db, "a thread reuses its connection");
		cr_assert_neq(w[i].db, fx.db, "not the main thread's connection");
		cr_assert_neq(w[i].handle, sh_conn_sqlite(fx.db), "its own SQLite handle");
	}
	cr_assert_neq(w[0].db, w[1].db);
	cr_assert_str_eq(log_text(), "connection_created sqlite\nconnection_created sqlite\n");
	cr_assert_eq(created_n, 2);
	for (int i = 0; i < 2; i++) {
		int k = created_conn[0] == w[i].db ? 0 : 1;
		cr_assert_eq(created_conn[k], w[i].db, "the send carries the new connection");
		cr_assert(pthread_equal(created_thread[k], w[i].thread),
			"sent on the thread that opened it");
	}
}

static int fail_code = -51;

Test(connection_created, a_failing_receiver_fails_the_connection)
{
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_CONNECTION_CREATED),
		failing_receiver, &fail_code, NULL), 0);
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, 1);
	worker w;
	memset(&w, 0, sizeof w);
	w.barrier = &barrier;
	cr_assert_eq(pthread_create(&w.thread, NULL, work, &w), 0);
	pthread_join(w.thread, NULL);
	pthread_barrier_destroy(&barrier);
	cr_assert_eq(w.rc, -51);
}

/* A connection_created receiver may configure the new connection. */
static int set_cache_size(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)response, (void)payload;
	const sh_connection_created_args *a = args;
	char *err = NULL;
	int rc = sqlite3_exec(sh_conn_sqlite(a->connection), "PRAGMA cache_size = -1234", NULL, NULL,
		&err);
	sqlite3_free(err);
	return rc == SQLITE_OK ? 0 : sh_error_set(SH_EDB, "pragma failed");
}

static int64_t cache_size_seen;

static void *read_cache_size(void *arg)
{
	(void)arg;
	sh_conn *db = NULL;
	if (sh_database_connection(&db, fx.database) != 0)
		return NULL;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(sh_conn_sqlite(db), "PRAGMA cache_size", -1, &st, NULL) == SQLITE_OK
		&& sqlite3_step(st) == SQLITE_ROW)
		cache_size_seen = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return NULL;
}

Test(connection_created, a_receiver_may_run_pragmas_on_the_new_connection)
{
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_CONNECTION_CREATED),
		set_cache_size, NULL, NULL), 0);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, read_cache_size, NULL), 0);
	pthread_join(t, NULL);
	cr_assert_eq(cache_size_seen, -1234);
}

/* The backend's sender name. */
Test(connection_created, sender_is_the_backend)
{
	cr_assert_str_eq(SH_DB_BACKEND_SENDER, "sqlite");
	cr_assert_not_null(strstr(fx.setup_log, "connection_created " SH_DB_BACKEND_SENDER "\n"));
}
