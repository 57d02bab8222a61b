/*
 * scratch.h: the scratch directory of a fuzz target that needs files (a
 * project, migrations, a database): made once, on tmpfs when /dev/shm is
 * writable (SQLite's syncs cost nothing there), removed at a normal exit.
 */
#ifndef SH_FUZZ_SCRATCH_H
#define SH_FUZZ_SCRATCH_H

#include <stddef.h>

/* Makes the directory "<tmpfs or /tmp>/sighost-fuzz-<name>-XXXXXX" and
 * registers its removal at exit. Aborts on failure. Returns its path
 * (static storage). */
const char *fuzz_scratch(const char *name);

/* The path `rel` inside the scratch directory (static storage, valid until
 * the next call). */
const char *fuzz_path(const char *rel);

/* Writes `size` bytes to `rel` inside the scratch directory; aborts on
 * failure. */
void fuzz_write(const char *rel, const void *data, size_t size);

/* Writes a string to `rel` inside the scratch directory. */
void fuzz_write_text(const char *rel, const char *text);

/* Makes the directory `rel` inside the scratch directory; aborts on
 * failure. */
void fuzz_mkdir(const char *rel);

#endif
