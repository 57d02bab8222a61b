/*
 * project.h: scratch projects for the end-to-end tests: a directory with a
 * project.yaml, a plugins/ directory and copies of the test plugins.
 */
#ifndef SH_E2E_PROJECT_H
#define SH_E2E_PROJECT_H

#include "support.h"

/* The scratch directory of the running test (set by e2e_setup). */
extern char *e2e_dir;
extern char *e2e_plugins;

/* Criterion .init/.fini of every e2e suite. */
void e2e_setup(void);
void e2e_cleanup(void);

/* Writes project.yaml in the scratch directory. */
void e2e_project(const char *yaml);

/* Writes plugins/<name> with `text`. */
void e2e_manifest(const char *name, const char *text);

/* Installs test plugin `file` ("t_ok") as plugins/<label>.so beside
 * plugins/<label>.yaml (label + library + `extra` lines). */
void e2e_plugin(const char *file, const char *label, const char *extra);

/* Runs sighost in the scratch directory with args (NULL-terminated). */
t_run e2e_run(const char *const *args);

/* e2e_run() that fails the test when the run takes more than `seconds`
 * (t_sighost_within). */
t_run e2e_run_within(double seconds, const char *const *args);

/* Asserts that `text` holds `needle`, showing text otherwise. */
void e2e_has(const char *text, const char *needle);

#define E2E_RUN(...) e2e_run((const char *const[]){ __VA_ARGS__, NULL })

#endif
