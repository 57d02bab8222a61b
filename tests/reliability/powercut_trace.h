/*
 * powercut_trace.h: the records of the trace that powercut_shim.c writes
 * and powercut.c reads. Each record is this header, followed by `len`
 * bytes for WRITE and SEND.
 */
#ifndef SH_POWERCUT_TRACE_H
#define SH_POWERCUT_TRACE_H

#include <stdint.h>

#define PC_MAGIC 0x70637574u   /* "pcut": a record starts here */

/* The traced files (a record's target for WRITE, TRUNC, SYNC, UNLINK). */
enum { PC_NONE = -1, PC_DB = 0, PC_WAL = 1, PC_JOURNAL = 2, PC_FILES = 3, PC_SOCKET = 4 };

enum pc_type {
	PC_WRITE = 1,    /* target: a file; offset; the bytes written */
	PC_TRUNC = 2,    /* target: a file; offset: the new size */
	PC_SYNC = 3,     /* target: a file (fsync or fdatasync returned 0) */
	PC_UNLINK = 4,   /* target: a file */
	PC_SEND = 5,     /* target: a socket descriptor; the bytes sent */
	PC_CLOSE = 6,    /* target: a socket descriptor */
};

typedef struct pc_record {
	uint32_t magic;
	uint32_t type;
	int32_t target;
	int64_t offset;
	uint64_t len;
} pc_record;

#endif
