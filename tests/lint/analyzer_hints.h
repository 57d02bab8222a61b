/*
 * analyzer_hints.h: included before every file of host/ (but
 * host/base/error.c, which defines the function) when clang-tidy runs
 * (tests/lint/run-lint), never in a build. sh_error_set() returns its
 * code, which clang's static analyzer cannot see from another file: it
 * then follows paths where `return sh_error_set(SH_ENOMEM, ...)` returned
 * 0 and reports the null pointers of those impossible paths. Saying what
 * the function returns removes them.
 */
#ifndef SH_LINT_ANALYZER_HINTS_H
#define SH_LINT_ANALYZER_HINTS_H

#include <sighost/error.h>

#define sh_error_set(code, ...) (sh_error_set((code), __VA_ARGS__), (code))

#endif
