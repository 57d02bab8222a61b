/*
 * criterion_main.c: the main() of every Criterion test program (linked in
 * by criterion_dep, tests/meson.build), Criterion's own but for its exit
 * status: 77, meson's SKIP, when a test of the run was skipped
 * (cr_skip_test: a capability or tool it needs is missing) and none
 * failed, so that a skip is never counted as a pass. A program whose
 * tests may skip is registered as its own meson test for those tests
 * (--filter), so that the others still count as passes. A run in which no
 * test ran (a --filter that matches nothing, after a test was renamed)
 * fails: it would otherwise pass without testing.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static size_t ran, skipped;

/* Criterion's own count of skipped tests includes those left out by
 * --filter; only a test that ran and skipped counts here. */
ReportHook(POST_TEST)(struct criterion_test_stats *stats)
{
	ran++;
	skipped += stats->test_status == CR_STATUS_SKIPPED;
}

int main(int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	int status = 0;
	if (criterion_handle_args(argc, argv, true))
		status = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	bool listing = false;   /* --list and --help run nothing, on purpose */
	for (int i = 1; i < argc; i++)
		listing = listing || strcmp(argv[i], "--list") == 0 || strcmp(argv[i], "-l") == 0
			|| strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0
			|| strcmp(argv[i], "--version") == 0;
	if (status == 0 && ran == 0 && !listing) {
		fprintf(stderr, "no test ran: a --filter that matches no test?\n");
		return 1;
	}
	if (status == 0 && skipped > 0) {
		fprintf(stderr, "%zu test%s skipped: exit status 77 (SKIP)\n", skipped,
			skipped == 1 ? "" : "s");
		return 77;
	}
	return status;
}
