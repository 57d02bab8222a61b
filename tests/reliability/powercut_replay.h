/*
 * powercut_replay.h: what the power-loss test (powercut.c) does with the
 * trace that powercut_shim.c writes: reads its records, finds the 201
 * answers in the bytes the server sent, and replays the file operations
 * to build the files a disk could hold at any point (synced, written, or
 * torn at sector boundaries).
 */
#ifndef SH_POWERCUT_REPLAY_H
#define SH_POWERCUT_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "powercut_trace.h"

/* The sector a write may be torn at. */
#define SECTOR 512

/* A 201 answer: the create's content (a unique marker) and id. */
typedef struct ack {
	char marker[32];
	int64_t id;
	size_t record;    /* the trace record that completed the answer */
} ack;

/* One record of the trace; `data` points into the trace's bytes. */
typedef struct rec {
	uint32_t type;
	int32_t target;
	int64_t offset;
	uint64_t len;
	const unsigned char *data;
} rec;

/* A whole trace, read into memory; syncs and writes counted per file. */
typedef struct trace {
	unsigned char *bytes;
	rec *recs;
	size_t count;
	size_t syncs[PC_FILES], writes[PC_FILES];
} trace;

/* Reads the trace at `path` (fails the test when it is torn or missing). */
trace read_trace(const char *path);

/* The 201 answers in the trace: each connection's bytes read as HTTP
 * responses; an answer's `record` is the one that completed it. Newly
 * allocated; *count gets their number. */
ack *acks_in_trace(const trace *t, size_t *count);

/* The content of one file (`exists` false: no file). */
typedef struct image {
	unsigned char *bytes;
	size_t size;
	bool exists;
} image;

/* Makes `to` a copy of `from` (reusing its buffer). */
void image_copy(image *to, const image *from);

/* Applies a WRITE, TRUNC or UNLINK record to `m`. */
void apply(image *m, const rec *r);

/* The file at `path` (exists false when there is none). */
image read_image(const char *path);

/* Writes `m` as dir/name, or removes dir/name when it does not exist. */
void write_image(const char *dir, const char *name, const image *m);

/* One traced file as the replay goes: what is durable, what the page cache
 * holds, and the operations since its last sync. */
typedef struct file {
	image durable, written;
	size_t *pending;
	size_t npending, cap;
} file;

/* Replays record `i` of `t` onto `files` (one per PC_DB, PC_WAL,
 * PC_JOURNAL): a write, truncation or unlink goes to `written` and waits
 * in `pending`; a sync makes the file's pending operations durable. */
void replay(file *files, const trace *t, size_t i);

/* What a disk could hold of file `f` at this point of the replay: `kind`
 * 0 synced, 1 written, 2 torn (each pending operation dropped, kept, or,
 * for a write, kept sector by sector, drawn from `seed`). */
void make_image(image *out, const file *f, const trace *t, int kind, unsigned *seed);

#endif
