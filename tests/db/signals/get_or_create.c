/*
 * get_or_create.c: the signals of get_or_create and update_or_create.
 *
 * Django's behaviour (django/db/models/query.py, 4.2+):
 * - get_or_create(defaults, **kwargs): self.get(**kwargs) outside any
 *   block; a hit loads the row (pre_init with the row's values as args,
 *   post_init) and returns created False. A miss: params = the kwargs
 *   without "__" updated with defaults (dict order: the lookups' keys,
 *   then the defaults' new keys), then inside atomic(): create(**params):
 *   Model(**params) (pre_init kwargs=params, post_init), then
 *   save(force_insert=True) (pre_save, INSERT, post_save created=True).
 *   An IntegrityError in that block (a concurrent create) makes it look
 *   the row up again and return it with created False.
 * - get() reads up to 21 rows; more than one raises MultipleObjectsReturned
 *   ("get() returned more than one Author -- it returned 2!") after the
 *   rows it read were loaded (their init signals sent).
 * - update_or_create(defaults, **kwargs): atomic() around
 *   select_for_update().get_or_create(defaults, **kwargs); on a hit,
 *   setattr each default, then save(update_fields = the defaults' names +
 *   every concrete field whose class overrides pre_save: DateField,
 *   DateTimeField): pre_save/post_save created=False with those
 *   update_fields. No defaults and no such field: update_fields is empty,
 *   and save() returns without sending anything.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support.h"

TestSuite(get_or_create, .init = fx_setup, .fini = fx_teardown);
TestSuite(update_or_create, .init = fx_setup, .fini = fx_teardown);

#define LOOKUPS(...) (sh_field_value[]){ __VA_ARGS__ }, \
	sizeof((sh_field_value[]){ __VA_ARGS__ }) / sizeof(sh_field_value)

Test(get_or_create, a_hit_loads_the_row_and_sends_only_the_init_signals)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("ann")), FV("age", I(41)));
	log_clear();
	sh_instance *got = NULL;
	bool created = true;
	int rc = sh_get_or_create(&got, &created, fx.db, fx_model("t.Author"),
		LOOKUPS(FV("name", T("ann"))), LOOKUPS(FV("age", I(99))));
	cr_assert_eq(rc, 0, "%d %s", rc, sh_error_last()->message);
	cr_assert_not(created);
	cr_assert_eq(sh_instance_pk(got), sh_instance_pk(a));
	cr_assert_str_eq(log_text(),
		"pre_init t.Author args=[1, 'ann', 41] kwargs={}\n"
		"post_init t.Author pk=1\n");
	cr_assert_eq(rows_of("t.Author"), 1);
	sh_instance_free(got);
	sh_instance_free(a);
}

Test(get_or_create, a_miss_constructs_from_lookups_then_defaults_and_inserts)
{
	sh_instance *got = NULL;
	bool created = false;
	/* "name__exact" is a lookup only; "name" comes from the defaults, after
	 * "age" from the lookups (Django's dict order). */
	int rc = sh_get_or_create(&got, &created, fx.db, fx_model("t.Author"),
		LOOKUPS(FV("age", I(3)), FV("name__exact", T("bo"))), LOOKUPS(FV("name", T("bo"))));
	cr_assert_eq(rc, 0, "%d %s", rc, sh_error_last()->message);
	cr_assert(created);
	cr_assert_str_eq(log_text(),
		"pre_init t.Author args=[] kwargs={'age': 3, 'name': 'bo'}\n"
		"post_init t.Author pk=None\n"
		"pre_save t.Author pk=None raw=False using=default update_fields=None\n"
		"post_save t.Author pk=1 created=True raw=False using=default update_fields=None\n");
	cr_assert_eq(sql_int("SELECT age FROM t_author WHERE name = 'bo'"), 3);
	sh_instance_free(got);
}

Test(get_or_create, a_default_replaces_the_lookup_of_the_same_name_in_its_place)
{
	sh_instance *got = NULL;
	bool created = false;
	int rc = sh_get_or_create(&got, &created, fx.db, fx_model("t.Author"),
		LOOKUPS(FV("name", T("cy")), FV("age", I(1))), LOOKUPS(FV("name", T("cy2"))));
	cr_assert_eq(rc, 0, "%d %s", rc, sh_error_last()->message);
	cr_assert(created);
	char *init = log_only("pre_init");
	cr_assert_str_eq(init, "pre_init t.Author args=[] kwargs={'name': 'cy2', 'age': 1}\n");
	free(init);
	sh_instance_free(got);
}

Test(get_or_create, an_unknown_field_fails_before_any_signal)
{
	sh_instance *got = NULL;
	bool created = true;
	int rc = sh_get_or_create(&got, &created, fx.db, fx_model("t.Author"),
		LOOKUPS(FV("name", T("x"))), LOOKUPS(FV("nmae", T("y"))));
	cr_assert_eq(rc, SH_EINVAL);
	cr_assert_str_eq(sh_error_last()->message,
		"Invalid field name(s) for model t.Author: 'nmae'.");
	cr_assert_str_eq(log_text(), "");
	cr_assert_eq(rows_of("t.Author"), 0);
}

Test(get_or_create, pk_in_the_lookups_names_the_primary_key)
{
	sh_instance *got = NULL;
	bool created = false;
	int rc = sh_get_or_create(&got, &created, fx.db, fx_model("t.Author"),
		LOOKUPS(FV("pk", I(7))), LOOKUPS(FV("name", T("seven"))));
	cr_assert_eq(rc, 0, "%d %s", rc, sh_error_last()->message);
	cr_assert(created);
	cr_assert_eq(sh_instance_pk(got), 7);
	char *init = log_only("pre_init");
	cr_assert_str_eq(init, "pre_init t.Author args=[] kwargs={'id': 7, 'name': 'seven'}\n");
	free(init);
	sh_instance_free(got);
}

Test(get_or_create, several_matches_fail_after_loading_them)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("dup")));
	sh_instance *b = SAVED("t.Author", FV("name", T("dup")));
	log_clear();
	sh_instance *got = NULL;
	bool created = true;
	int rc = sh_get_or_create(&got, &created, fx.db, fx_model("t.Author"),
		LOOKUPS(FV("name", T("dup"))), NULL, 0);
	cr_assert_eq(rc, SH_EINVAL);
	cr_assert_null(got);
	cr_assert_not(created);
	cr_assert_str_eq(sh_error_last()->message,
		"get() returned more than one t.Author -- it returned 2!");
	cr_assert_str_eq(log_text(),
		"pre_init t.Author args=[1, 'dup', 0] kwargs={}\n"
		"post_init t.Author pk=1\n"
		"pre_init t.Author args=[2, 'dup', 0] kwargs={}\n"
		"post_init t.Author pk=2\n");
	cr_assert_eq(rows_of("t.Author"), 2);
	sh_instance_free(a);
	sh_instance_free(b);
}

Test(get_or_create, a_failing_create_rolls_back_its_block_and_inserts_nothing)
{
	static int code = SH_ERECEIVER;
	connect_failing(SH_POST_SAVE, "t.Author", &code);
	sh_instance *got = NULL;
	bool created = true;
	int rc = sh_get_or_create(&got, &created, fx.db, fx_model("t.Author"),
		LOOKUPS(FV("name", T("x"))), NULL, 0);
	cr_assert_eq(rc, SH_ERECEIVER, "%d %s", rc, sh_error_last()->message);
	cr_assert_null(got);
	cr_assert_not(created);
	cr_assert_eq(rows_of("t.Author"), 0);
	cr_assert_eq(sh_atomic_depth(fx.db), 0);
}

/* ---- the race: two connections create the same unique row ---- */

typedef struct racer {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool looked;             /* B's lookup ran and found nothing */
	int rc;
	bool created;
	int64_t pk;
	char log[4096];
	char error[512];
} racer;

static racer race = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, false, 0,
	{ 0 }, { 0 } };

/* SQLITE_TRACE_PROFILE fires when a statement has finished: the first
 * SELECT of t_slug on B's connection is get_or_create's lookup. */
static int on_profile(unsigned type, void *ctx, void *p, void *x)
{
	(void)type, (void)ctx, (void)x;
	const char *sql = sqlite3_sql((sqlite3_stmt *)p);
	if (sql == NULL || strncmp(sql, "SELECT", 6) != 0 || strstr(sql, "\"t_slug\"") == NULL)
		return 0;
	pthread_mutex_lock(&race.lock);
	race.looked = true;
	pthread_cond_broadcast(&race.cond);
	pthread_mutex_unlock(&race.lock);
	return 0;
}

static void *racer_b(void *arg)
{
	(void)arg;
	sh_conn *db = NULL;
	race.rc = sh_database_connection(&db, fx.database);
	if (race.rc < 0)
		return NULL;
	sqlite3_trace_v2(sh_conn_sqlite(db), SQLITE_TRACE_PROFILE, on_profile, NULL);
	log_clear();
	sh_instance *got = NULL;
	sh_field_value lookup = FV("slug", T("same"));
	race.rc = sh_get_or_create(&got, &race.created, db, fx_model("t.Slug"), &lookup, 1, NULL, 0);
	snprintf(race.error, sizeof race.error, "%s", sh_error_last()->message);
	snprintf(race.log, sizeof race.log, "%s", log_text());
	sqlite3_trace_v2(sh_conn_sqlite(db), 0, NULL, NULL);
	race.pk = sh_instance_pk(got);
	sh_instance_free(got);
	pthread_mutex_lock(&race.lock);
	race.looked = true;   /* in case the lookup was never seen: do not hang A */
	pthread_cond_broadcast(&race.cond);
	pthread_mutex_unlock(&race.lock);
	return NULL;
}

Test(get_or_create, a_concurrent_create_is_retried_as_a_lookup)
{
	/* A creates the row inside an open transaction; B looks it up (and
	 * misses: A has not committed), then A commits and B's INSERT fails on
	 * the unique slug: B must return A's row with created false. */
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	sh_instance *mine = NULL;
	bool created = false;
	sh_field_value lookup = FV("slug", T("same"));
	int rc = sh_get_or_create(&mine, &created, fx.db, fx_model("t.Slug"), &lookup, 1, NULL, 0);
	cr_assert_eq(rc, 0, "%d %s", rc, sh_error_last()->message);
	cr_assert(created);

	pthread_t b;
	cr_assert_eq(pthread_create(&b, NULL, racer_b, NULL), 0);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	pthread_mutex_lock(&race.lock);
	while (!race.looked)
		if (pthread_cond_timedwait(&race.cond, &race.lock, &deadline) != 0)
			break;
	bool looked = race.looked;
	pthread_mutex_unlock(&race.lock);
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0, "commit: %s", sh_error_last()->message);
	pthread_join(b, NULL);
	cr_assert(looked, "thread B never ran its lookup");

	cr_assert_eq(race.rc, 0, "B: %d %s", race.rc, race.error);
	cr_assert_not(race.created, "B must not have created a second row");
	cr_assert_eq(race.pk, sh_instance_pk(mine));
	cr_assert_eq(rows_of("t.Slug"), 1);
	/* B: its create got as far as pre_save (the INSERT failed, so no
	 * post_save), then the second lookup loaded A's row. */
	cr_assert_str_eq(race.log,
		"pre_init t.Slug args=[] kwargs={'slug': 'same'}\n"
		"post_init t.Slug pk=None\n"
		"pre_save t.Slug pk=None raw=False using=default update_fields=None\n"
		"pre_init t.Slug args=[1, 'same', 0, None] kwargs={}\n"
		"post_init t.Slug pk=1\n");
	sh_instance_free(mine);
}

/* ---- update_or_create ---- */

Test(update_or_create, a_hit_saves_the_defaults_and_the_date_fields)
{
	sh_instance *s = SAVED("t.Slug", FV("slug", T("x")));
	log_clear();
	sh_instance *got = NULL;
	bool created = true;
	int rc = sh_update_or_create(&got, &created, fx.db, fx_model("t.Slug"),
		LOOKUPS(FV("slug", T("x"))), LOOKUPS(FV("hits", I(3))));
	cr_assert_eq(rc, 0, "%d %s", rc, sh_error_last()->message);
	cr_assert_not(created);
	cr_assert_str_eq(log_text(),
		"pre_init t.Slug args=[1, 'x', 0, None] kwargs={}\n"
		"post_init t.Slug pk=1\n"
		"pre_save t.Slug pk=1 raw=False using=default update_fields=['hits', 'seen']\n"
		"post_save t.Slug pk=1 created=False raw=False using=default update_fields=['hits', 'seen']\n");
	cr_assert_eq(sql_int("SELECT hits FROM t_slug WHERE id = 1"), 3);
	sh_instance_free(got);
	sh_instance_free(s);
}

Test(update_or_create, a_miss_creates_with_the_defaults)
{
	sh_instance *got = NULL;
	bool created = false;
	int rc = sh_update_or_create(&got, &created, fx.db, fx_model("t.Slug"),
		LOOKUPS(FV("slug", T("y"))), LOOKUPS(FV("hits", I(5))));
	cr_assert_eq(rc, 0, "%d %s", rc, sh_error_last()->message);
	cr_assert(created);
	cr_assert_str_eq(log_text(),
		"pre_init t.Slug args=[] kwargs={'slug': 'y', 'hits': 5}\n"
		"post_init t.Slug pk=None\n"
		"pre_save t.Slug pk=None raw=False using=default update_fields=None\n"
		"post_save t.Slug pk=1 created=True raw=False using=default update_fields=None\n");
	cr_assert_eq(sh_atomic_depth(fx.db), 0);
	sh_instance_free(got);
}

Test(update_or_create, a_hit_with_nothing_to_update_sends_no_save_signal)
{
	sh_instance *a = SAVED("t.Author", FV("name", T("z")));
	log_clear();
	sh_instance *got = NULL;
	bool created = true;
	int rc = sh_update_or_create(&got, &created, fx.db, fx_model("t.Author"),
		LOOKUPS(FV("name", T("z"))), NULL, 0);
	cr_assert_eq(rc, 0, "%d %s", rc, sh_error_last()->message);
	cr_assert_not(created);
	cr_assert_str_eq(log_text(),
		"pre_init t.Author args=[1, 'z', 0] kwargs={}\n"
		"post_init t.Author pk=1\n");
	sh_instance_free(got);
	sh_instance_free(a);
}

Test(update_or_create, a_failing_save_rolls_the_whole_block_back)
{
	sh_instance *s = SAVED("t.Slug", FV("slug", T("x")), FV("hits", I(1)));
	static int code = SH_ERECEIVER;
	connect_failing(SH_POST_SAVE, "t.Slug", &code);
	sh_instance *got = NULL;
	bool created = true;
	int rc = sh_update_or_create(&got, &created, fx.db, fx_model("t.Slug"),
		LOOKUPS(FV("slug", T("x"))), LOOKUPS(FV("hits", I(9))));
	cr_assert_eq(rc, SH_ERECEIVER, "%d %s", rc, sh_error_last()->message);
	cr_assert_null(got);
	cr_assert_eq(sql_int("SELECT hits FROM t_slug WHERE id = 1"), 1);
	cr_assert_eq(sh_atomic_depth(fx.db), 0);
	sh_instance_free(s);
}
