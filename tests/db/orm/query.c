/*
 * query.c: querysets: filter lookups (exact, NULL, lt/lte/gt/gte, isnull,
 * pk, keys by name or column), exclude (rows with NULL kept, as Django),
 * order_by, slices, count, iteration with the loading signals, get,
 * update without signals, and the errors naming fields and lookups.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <sqlite3.h>
#include <inttypes.h>
#include <string.h>

#include "support.h"

TestSuite(query, .init = fx_setup, .fini = fx_teardown);

static sh_instance *owners[2];

/* Tags "a".."e" (pks 1..5) and alerts with levels 1..5, scores 1.5, NULL, ... */
static void seed(void)
{
	owners[0] = MAKE("shop.Owner", FV("name", T("ann")));
	owners[1] = MAKE("shop.Owner", FV("name", T("bob")));
	const char *contents[] = { "e", "d", "c", "b", "a" };
	for (int i = 0; i < 5; i++) {
		sh_instance *a = MAKE("shop.Alert", FV("content", T(contents[i])), FV("level", I(i + 1)),
			FV("owner", I(sh_instance_pk(owners[i % 2]))),
			FV("score", i % 2 ? sh_datum_null() : sh_datum_real(i + 0.5)));
		sh_instance_free(a);
	}
}

static void unseed(void)
{
	sh_instance_free(owners[0]);
	sh_instance_free(owners[1]);
}

/* The pks of the query's rows, "1,2,3". */
static const char *pks(sh_query *q)
{
	static char out[256];
	out[0] = '\0';
	sh_instance *inst;
	int rc;
	while ((rc = sh_query_next(q, &inst)) == 1) {
		char n[32];
		snprintf(n, sizeof n, "%s%" PRId64, out[0] ? "," : "", sh_instance_pk(inst));
		strcat(out, n);
		sh_instance_free(inst);
	}
	cr_assert_eq(rc, 0, "%s", last_message());
	return out;
}

static sh_query *q_new(void)
{
	sh_query *q;
	cr_assert_eq(sh_query_new(&q, fx.db, M("shop.Alert")), 0);
	return q;
}

#define CHECK(query, expected) do { sh_query *q_ = (query); cr_assert_str_eq(pks(q_), expected); \
	sh_query_free(q_); } while (0)

Test(query, every_row_by_pk_without_ordering)
{
	seed();
	CHECK(q_new(), "1,2,3,4,5");
	unseed();
}

Test(query, comparisons)
{
	seed();
	sh_query *q = q_new();
	cr_assert_eq(sh_query_filter(q, "level__gte", I(2)), 0);
	cr_assert_eq(sh_query_filter(q, "level__lt", I(5)), 0);
	CHECK(q, "2,3,4");
	q = q_new();
	cr_assert_eq(sh_query_filter(q, "level__lte", I(2)), 0);
	CHECK(q, "1,2");
	q = q_new();
	cr_assert_eq(sh_query_filter(q, "level__gt", I(4)), 0);
	CHECK(q, "5");
	q = q_new();
	cr_assert_eq(sh_query_filter(q, "content", T("c")), 0);
	CHECK(q, "3");
	q = q_new();
	cr_assert_eq(sh_query_filter(q, "content__exact", T("c")), 0);
	CHECK(q, "3");
	q = q_new();
	cr_assert_eq(sh_query_filter(q, "content__gt", T("c")), 0);
	CHECK(q, "1,2");
	q = q_new();
	cr_assert_eq(sh_query_filter(q, "pk", I(4)), 0);
	CHECK(q, "4");
	q = q_new();
	cr_assert_eq(sh_query_filter(q, "score__gt", sh_datum_real(1.0)), 0);
	CHECK(q, "3,5");
	unseed();
}

Test(query, null_exact_isnull_and_exclude_keep_null_rows)
{
	seed();
	sh_query *q = q_new();
	cr_assert_eq(sh_query_filter(q, "score", sh_datum_null()), 0);
	CHECK(q, "2,4");
	q = q_new();
	cr_assert_eq(sh_query_filter(q, "score__isnull", sh_datum_bool(false)), 0);
	CHECK(q, "1,3,5");
	q = q_new();
	cr_assert_eq(sh_query_filter(q, "score__isnull", sh_datum_bool(true)), 0);
	CHECK(q, "2,4");
	/* Django: exclude(score__gt=1) keeps the rows whose score is NULL */
	q = q_new();
	cr_assert_eq(sh_query_exclude(q, "score__gt", sh_datum_real(1.0)), 0);
	CHECK(q, "1,2,4");
	q = q_new();
	cr_assert_eq(sh_query_exclude(q, "level", I(3)), 0);
	cr_assert_eq(sh_query_exclude(q, "score", sh_datum_null()), 0);
	CHECK(q, "1,5");
	unseed();
}

Test(query, foreign_keys_by_name_or_column)
{
	seed();
	sh_query *q = q_new();
	cr_assert_eq(sh_query_filter(q, "owner", I(sh_instance_pk(owners[1]))), 0);
	CHECK(q, "2,4");
	q = q_new();
	cr_assert_eq(sh_query_filter(q, "owner_id__exact", I(sh_instance_pk(owners[0]))), 0);
	CHECK(q, "1,3,5");
	unseed();
}

Test(query, order_by_keys_descending_and_slices)
{
	seed();
	sh_query *q = q_new();
	cr_assert_eq(sh_query_order_by(q, "content"), 0);
	CHECK(q, "5,4,3,2,1");
	q = q_new();
	cr_assert_eq(sh_query_order_by(q, "owner"), 0);
	cr_assert_eq(sh_query_order_by(q, "-level"), 0);
	CHECK(q, "5,3,1,4,2");
	q = q_new();
	cr_assert_eq(sh_query_order_by(q, "-pk"), 0);
	cr_assert_eq(sh_query_slice(q, 1, 2), 0);
	CHECK(q, "4,3");
	q = q_new();
	cr_assert_eq(sh_query_slice(q, 3, -1), 0);
	CHECK(q, "4,5");
	/* a slice of a slice stays inside it, as Django's */
	q = q_new();
	cr_assert_eq(sh_query_slice(q, 1, 3), 0);   /* 2,3,4 */
	cr_assert_eq(sh_query_slice(q, 1, 10), 0);  /* 3,4 */
	int64_t n;
	cr_assert_eq(sh_query_count(q, &n), 0);
	cr_assert_eq(n, 2);
	CHECK(q, "3,4");
	unseed();
}

Test(query, datetimes_order_by_time_whatever_their_fraction)
{
	owners[0] = MAKE("shop.Owner", FV("name", T("ann")));
	const char *times[] = { "2026-01-01T10:00:00.5Z", "2026-01-01T10:00:00Z", "2026-01-01T09:59:59.999999Z" };
	for (int i = 0; i < 3; i++) {
		sh_instance *a = MAKE("shop.Alert", FV("content", T("t")), FV("owner", I(1)),
			FV("modified", T(times[i])));
		/* auto_now overwrote it: put it back without signals */
		char sql[200];
		snprintf(sql, sizeof sql, "UPDATE shop_alert SET modified = '%s' WHERE id = %d", times[i], i + 1);
		cr_assert_eq(sqlite3_exec(sh_conn_sqlite(fx.db), sql, NULL, NULL, NULL), SQLITE_OK);
		sh_instance_free(a);
	}
	sh_query *q = q_new();
	cr_assert_eq(sh_query_order_by(q, "modified"), 0);
	CHECK(q, "3,2,1");
	q = q_new();
	cr_assert_eq(sh_query_filter(q, "modified__gt", T("2026-01-01T10:00:00Z")), 0);
	CHECK(q, "1");
	q = q_new();
	cr_assert_eq(sh_query_filter(q, "modified__lt", T("2026-01-01T11:00:00+01:00")), 0);
	CHECK(q, "3");
	sh_instance_free(owners[0]);
}

Test(query, count_loads_nothing)
{
	seed();
	rec_connect();
	sh_query *q = q_new();
	cr_assert_eq(sh_query_filter(q, "level__gt", I(1)), 0);
	int64_t n = -1;
	cr_assert_eq(sh_query_count(q, &n), 0);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(log_text(), "");
	sh_query_free(q);
	unseed();
}

Test(query, iteration_sends_pre_init_and_post_init_per_row)
{
	seed();
	rec_connect();
	sh_query *q = q_new();
	cr_assert_eq(sh_query_filter(q, "level__lte", I(2)), 0);
	sh_instance *a;
	cr_assert_eq(sh_query_next(q, &a), 1);
	cr_assert_str_eq(log_text(),
		"pre_init shop.Alert args=11 kwargs=0\n"
		"post_init shop.Alert shop.Alert:1\n", "one row read, one pair sent");
	cr_assert(!sh_instance_adding(a));
	sh_instance_free(a);
	cr_assert_eq(sh_query_next(q, &a), 1);
	sh_instance_free(a);
	cr_assert_eq(sh_query_next(q, &a), 0);
	cr_assert_null(a);
	cr_assert_eq(sh_query_next(q, &a), 0, "stays at the end");
	cr_assert_eq(log_count("post_init"), 2);
	/* frozen once started */
	cr_assert_eq(sh_query_filter(q, "level", I(1)), SH_EINVAL);
	cr_assert_eq(sh_query_order_by(q, "level"), SH_EINVAL);
	cr_assert_eq(sh_query_slice(q, 0, 1), SH_EINVAL);
	sh_query_free(q);
	unseed();
}

/* A post_init receiver that runs queries of its own while the outer one iterates. */
static int nested_get(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload)
{
	(void)signal, (void)sender, (void)args, (void)response, (void)payload;
	if (*(int *)payload)
		return 0;
	*(int *)payload = 1;
	sh_query *inner;
	int rc = sh_query_new(&inner, fx.db, M("shop.Alert"));
	sh_instance *x;
	while (rc == 0 && sh_query_next(inner, &x) == 1)
		sh_instance_free(x);
	sh_query_free(inner);
	if (rc == 0)
		rc = sh_query_get(&x, fx.db, M("shop.Alert"), 5);
	if (rc == 0)
		sh_instance_free(x);
	*(int *)payload = 0;
	return rc;
}

Test(query, receivers_may_query_while_rows_are_read)
{
	seed();
	static int busy = 0;
	cr_assert_eq(sh_signal_connect(NULL, sh_hub_builtin(fx.hub, SH_POST_INIT), nested_get, &busy,
		NULL), 0);
	CHECK(q_new(), "1,2,3,4,5");
	unseed();
}

/* The statements prepared on the test's connection. */
static int statements(void)
{
	int n = 0;
	for (sqlite3_stmt *s = sqlite3_next_stmt(sh_conn_sqlite(fx.db), NULL); s != NULL;
		s = sqlite3_next_stmt(sh_conn_sqlite(fx.db), s))
		n++;
	return n;
}

Test(query, a_query_that_ends_gives_its_statement_to_the_next_of_the_same_shape)
{
	seed();
	sh_query *q = q_new();
	cr_assert_eq(sh_query_filter(q, "level__gte", sh_datum_int(2)), 0);
	CHECK(q, "2,3,4,5");
	int after_first = statements();
	for (int64_t level = 1; level <= 4; level++) {
		q = q_new();
		cr_assert_eq(sh_query_filter(q, "level__gte", sh_datum_int(level)), 0);
		sh_instance *inst;
		cr_assert_eq(sh_query_next(q, &inst), 1, "%s", last_message());
		cr_assert_eq(sh_instance_pk(inst), level, "the spare was reset and bound anew");
		sh_instance_free(inst);
		sh_query_free(q);   /* stopped early: given back all the same */
	}
	cr_assert_eq(statements(), after_first, "no statement prepared again");
	unseed();
}

Test(query, huge_offsets_and_limits_saturate_instead_of_overflowing)
{
	seed();
	sh_query *q = q_new();
	cr_assert_eq(sh_query_slice(q, INT64_MAX, INT64_MAX), 0);
	CHECK(q, "");
	q = q_new();
	cr_assert_eq(sh_query_slice(q, 1, INT64_MAX), 0);
	cr_assert_eq(sh_query_slice(q, INT64_MAX - 1, 5), 0, "a slice of a slice");
	CHECK(q, "");
	q = q_new();
	cr_assert_eq(sh_query_slice(q, 3, INT64_MAX), 0);
	CHECK(q, "4,5");
	unseed();
}

Test(query, get_by_pk)
{
	seed();
	rec_connect();
	sh_instance *a = NULL;
	cr_assert_eq(sh_query_get(&a, fx.db, M("shop.Alert"), 3), 0);
	cr_assert_eq(sh_instance_pk(a), 3);
	sh_datum d;
	cr_assert_eq(sh_instance_get(a, "content", &d), 0);
	cr_assert_str_eq(d.v.s, "c");
	cr_assert_eq(log_count("pre_init shop.Alert args=11"), 1);
	sh_instance_free(a);
	log_clear();
	cr_assert_eq(sh_query_get(&a, fx.db, M("shop.Alert"), 99), SH_ENOTFOUND);
	cr_assert_str_eq(last_message(), "shop.Alert matching pk=99 does not exist");
	cr_assert_null(a);
	cr_assert_str_eq(log_text(), "");
	unseed();
}

Test(query, update_changes_rows_without_signals)
{
	seed();
	rec_connect();
	sh_query *q = q_new();
	cr_assert_eq(sh_query_filter(q, "level__gte", I(4)), 0);
	sh_field_value v[] = { FV("content", T("bulk")), FV("score", sh_datum_null()) };
	int64_t n = -1;
	cr_assert_eq(sh_query_update(q, v, 2, &n), 0, "%s", last_message());
	cr_assert_eq(n, 2);
	cr_assert_str_eq(log_text(), "", "QuerySet.update sends nothing");
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert WHERE content = 'bulk' AND score IS NULL"), 2);
	sh_query_free(q);
	unseed();
}

Test(query, update_errors)
{
	seed();
	sh_query *q = q_new();
	sh_field_value bad[] = { FV("colour", T("x")) };
	cr_assert_eq(sh_query_update(q, bad, 1, NULL), SH_EINVAL);
	cr_assert(strstr(last_message(), "'colour'") != NULL, "%s", last_message());
	sh_field_value null[] = { FV("level", sh_datum_null()) };
	cr_assert_eq(sh_query_update(q, null, 1, NULL), SH_EINVAL);
	cr_assert(strstr(last_message(), "'level'") != NULL, "%s", last_message());
	sh_field_value longer[] = { FV("content", T("much too long")) };
	cr_assert_eq(sh_query_update(q, longer, 1, NULL), SH_EINVAL);
	sh_field_value dangling[] = { FV("owner", I(77)) };
	cr_assert_eq(sh_query_update(q, dangling, 1, NULL), SH_EINTEGRITY);
	cr_assert(strstr(last_message(), "shop.Alert.owner") != NULL, "%s", last_message());
	cr_assert_eq(sql_int("SELECT count(*) FROM shop_alert WHERE owner_id = 77"), 0);
	sh_field_value dup[] = { FV("name", T("same")) };
	sh_query *oq;
	cr_assert_eq(sh_query_new(&oq, fx.db, M("shop.Owner")), 0);
	cr_assert_eq(sh_query_update(oq, dup, 1, NULL), SH_EINTEGRITY);
	cr_assert(strstr(last_message(), "shop.Owner.name") != NULL, "%s", last_message());
	sh_query_free(oq);
	cr_assert_eq(sh_query_slice(q, 0, 1), 0);
	sh_field_value ok[] = { FV("level", I(1)) };
	cr_assert_eq(sh_query_update(q, ok, 1, NULL), SH_EINVAL, "sliced");
	sh_query_free(q);
	unseed();
}

Test(query, lookup_errors_name_the_field_or_lookup)
{
	seed();
	sh_query *q = q_new();
	cr_assert_eq(sh_query_filter(q, "colour", I(1)), SH_EINVAL);
	cr_assert(strstr(last_message(), "'colour'") != NULL, "%s", last_message());
	cr_assert_eq(sh_query_filter(q, "level__like", I(1)), SH_EINVAL);
	cr_assert(strstr(last_message(), "'like'") != NULL, "%s", last_message());
	cr_assert_eq(sh_query_filter(q, "level__lt", sh_datum_null()), SH_EINVAL);
	cr_assert_eq(sh_query_filter(q, "level", T("one")), SH_EINVAL);
	cr_assert(strstr(last_message(), "shop.Alert.level") != NULL, "%s", last_message());
	cr_assert_eq(sh_query_filter(q, "day", T("2026-02-30")), SH_EINVAL);
	cr_assert_eq(sh_query_filter(q, "tags", I(1)), SH_EINVAL);
	cr_assert_eq(sh_query_filter(q, "score__isnull", T("yes")), SH_EINVAL);
	cr_assert_eq(sh_query_order_by(q, "-colour"), SH_EINVAL);
	cr_assert_eq(sh_query_slice(q, -1, 2), SH_EINVAL);
	/* none of that changed the query */
	CHECK(q, "1,2,3,4,5");
	/* a lookup value longer than max_length just matches nothing */
	q = q_new();
	cr_assert_eq(sh_query_filter(q, "content", T("longer than ten")), 0);
	CHECK(q, "");
	q = q_new();
	cr_assert_eq(sh_query_slice(q, 0, 2), 0);
	cr_assert_eq(sh_query_filter(q, "level", I(1)), SH_EINVAL, "no filter after a slice");
	sh_query_free(q);
	unseed();
}

Test(query, many_rows_load)
{
	owners[0] = MAKE("shop.Owner", FV("name", T("ann")));
	cr_assert_eq(sh_atomic_begin(fx.db), 0);
	for (int i = 0; i < 2000; i++) {
		sh_instance *t = MAKE("shop.Tag", FV("name", T(i % 2 ? "odd" : "even")));
		sh_instance_free(t);
	}
	cr_assert_eq(sh_atomic_end(fx.db, 0), 0);
	sh_query *q;
	cr_assert_eq(sh_query_new(&q, fx.db, M("shop.Tag")), 0);
	cr_assert_eq(sh_query_filter(q, "name", T("odd")), 0);
	int n = 0;
	sh_instance *t;
	int64_t last = 0;
	while (sh_query_next(q, &t) == 1) {
		cr_assert_gt(sh_instance_pk(t), last);
		last = sh_instance_pk(t);
		sh_datum d;
		sh_instance_get(t, "name", &d);
		cr_assert_str_eq(d.v.s, "odd");
		sh_instance_free(t);
		n++;
	}
	cr_assert_eq(n, 1000);
	sh_query_free(q);
	sh_instance_free(owners[0]);
}
