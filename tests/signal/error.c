/*
 * error.c: the error channel of error.h. sh_error_set() returns its code
 * and records a formatted, truncated message per thread; sh_error_clear()
 * resets it; sh_error_name() names the codes.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sighost/error.h>

Test(error, set_returns_the_code_and_records_the_message)
{
	cr_assert_eq(sh_error_set(SH_EINVAL, "bad %s at line %d", "field", 12), SH_EINVAL);
	const sh_error *e = sh_error_last();
	cr_assert_not_null(e);
	cr_assert_eq(e->code, SH_EINVAL);
	cr_assert_str_eq(e->message, "bad field at line 12");

	/* A receiver's own negative code is kept as is. */
	cr_assert_eq(sh_error_set(-4242, "custom"), -4242);
	cr_assert_eq(sh_error_last()->code, -4242);
	cr_assert_str_eq(sh_error_last()->message, "custom");
}

Test(error, clear_resets_code_and_message)
{
	sh_error_set(SH_EDB, "locked");
	sh_error_clear();
	const sh_error *e = sh_error_last();
	cr_assert_not_null(e);
	cr_assert_eq(e->code, 0);
	cr_assert_not_null(e->message);
	cr_assert_str_eq(e->message, "");
}

Test(error, message_is_truncated_to_1023_bytes)
{
	char long_text[3000];
	memset(long_text, 'm', sizeof long_text - 1);
	long_text[sizeof long_text - 1] = '\0';
	cr_assert_eq(sh_error_set(SH_ERROR, "%s", long_text), SH_ERROR);
	const char *msg = sh_error_last()->message;
	cr_assert_eq(strlen(msg), 1023);
	cr_assert_eq(strncmp(msg, long_text, 1023), 0);
}

struct thread_view {
	int code;
	char message[64];
};

static void *read_error_on_new_thread(void *arg)
{
	struct thread_view *view = arg;
	const sh_error *e = sh_error_last();
	view->code = e ? e->code : 12345;
	snprintf(view->message, sizeof view->message, "%s", e && e->message ? e->message : "(null)");
	sh_error_set(SH_EIO, "set on the other thread");
	return NULL;
}

Test(error, is_kept_per_thread)
{
	sh_error_set(SH_ENOTFOUND, "main thread");
	struct thread_view view = { 0 };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, read_error_on_new_thread, &view), 0);
	pthread_join(t, NULL);

	/* A new thread starts with no error ... */
	cr_assert_eq(view.code, 0);
	cr_assert_str_eq(view.message, "");
	/* ... and what it raises stays on it. */
	cr_assert_eq(sh_error_last()->code, SH_ENOTFOUND);
	cr_assert_str_eq(sh_error_last()->message, "main thread");
}

Test(error, name_gives_each_codes_constant_name)
{
	static const struct { int code; const char *name; } codes[] = {
		{ SH_OK, "SH_OK" },
		{ SH_ERROR, "SH_ERROR" },
		{ SH_ENOMEM, "SH_ENOMEM" },
		{ SH_EINVAL, "SH_EINVAL" },
		{ SH_ENOTFOUND, "SH_ENOTFOUND" },
		{ SH_EEXISTS, "SH_EEXISTS" },
		{ SH_EMANIFEST, "SH_EMANIFEST" },
		{ SH_ELOAD, "SH_ELOAD" },
		{ SH_EABI, "SH_EABI" },
		{ SH_EPERM, "SH_EPERM" },
		{ SH_EDB, "SH_EDB" },
		{ SH_ERECEIVER, "SH_ERECEIVER" },
		{ SH_EIO, "SH_EIO" },
		{ SH_EPROTECTED, "SH_EPROTECTED" },
		{ SH_EINTEGRITY, "SH_EINTEGRITY" },
		{ SH_EUNAVAILABLE, "SH_EUNAVAILABLE" },
		{ SH_EHTTP404, "SH_EHTTP404" },
	};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		cr_assert_str_eq(sh_error_name(codes[i].code), codes[i].name);
}

Test(error, name_of_an_unknown_code_is_a_string)
{
	/* Receivers may fail with codes of their own; loggers print their name. */
	const char *name = sh_error_name(-4242);
	cr_assert_not_null(name);
	cr_assert_neq(strlen(name), 0);
}
