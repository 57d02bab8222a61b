/*
 * powercut_replay.c: reading the power-loss test's trace and replaying it
 * into the files a disk could hold (powercut_replay.h).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "powercut_replay.h"
#include "../support/support.h"

trace read_trace(const char *path)
{
	trace t = { 0 };
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "no trace at %s: the shim did not run", path);
	struct stat st;
	cr_assert_eq(fstat(fileno(f), &st), 0);
	size_t size = (size_t)st.st_size;
	t.bytes = malloc(size ? size : 1);
	cr_assert_not_null(t.bytes);
	cr_assert_eq(fread(t.bytes, 1, size, f), size);
	fclose(f);
	size_t cap = 1024;
	t.recs = malloc(cap * sizeof *t.recs);
	for (size_t at = 0; at < size;) {
		pc_record h;
		cr_assert_leq(at + sizeof h, size, "a torn record at byte %zu of the trace", at);
		memcpy(&h, t.bytes + at, sizeof h);
		cr_assert_eq(h.magic, PC_MAGIC, "no record at byte %zu of the trace", at);
		at += sizeof h;
		bool data = h.type == PC_WRITE || h.type == PC_SEND;
		cr_assert_leq(at + (data ? h.len : 0), size);
		if (t.count == cap)
			cr_assert_not_null(t.recs = realloc(t.recs, (cap *= 2) * sizeof *t.recs));
		t.recs[t.count++] = (rec){ h.type, h.target, h.offset, h.len, t.bytes + at };
		if (h.type == PC_SYNC)
			t.syncs[h.target]++;
		if (h.type == PC_WRITE)
			t.writes[h.target]++;
		at += data ? h.len : 0;
	}
	return t;
}

/* The 201 answers in the trace: each connection's bytes are read as HTTP
 * responses; an answer counts from the record that completes it. */
ack *acks_in_trace(const trace *t, size_t *count)
{
	enum { FDS = 65536 };
	char **buf = calloc(FDS, sizeof *buf);
	size_t *len = calloc(FDS, sizeof *len), n = 0, cap = 256;
	ack *acks = malloc(cap * sizeof *acks);
	cr_assert(buf != NULL && len != NULL && acks != NULL);
	for (size_t i = 0; i < t->count; i++) {
		const rec *r = &t->recs[i];
		if (r->target < 0 || r->target >= FDS || (r->type != PC_SEND && r->type != PC_CLOSE))
			continue;
		int fd = r->target;
		if (r->type == PC_CLOSE) {
			free(buf[fd]);
			buf[fd] = NULL;
			len[fd] = 0;
			continue;
		}
		cr_assert_not_null(buf[fd] = realloc(buf[fd], len[fd] + r->len + 1));
		memcpy(buf[fd] + len[fd], r->data, r->len);
		len[fd] += r->len;
		buf[fd][len[fd]] = '\0';
		for (;;) {   /* every whole response in the buffer */
			char *end = strstr(buf[fd], "\r\n\r\n");
			if (end == NULL)
				break;
			size_t head = (size_t)(end - buf[fd]) + 4, body = 0;
			for (char *h = buf[fd]; h < end; h = strstr(h, "\r\n") + 2)
				if (strncasecmp(h, "Content-Length:", 15) == 0)
					body = strtoul(h + 15, NULL, 10);
			if (len[fd] < head + body)
				break;
			int status = atoi(buf[fd] + 9);
			if (status == 201) {
				json_t *j = json_loadb(buf[fd] + head, body, 0, NULL);
				const char *content = json_string_value(json_object_get(j, "content"));
				json_t *id = json_object_get(j, "id");
				cr_assert(content != NULL && json_is_integer(id), "a 201 without content "
					"and id in the trace: %.*s", (int)body, buf[fd] + head);
				if (n == cap)
					cr_assert_not_null(acks = realloc(acks, (cap *= 2) * sizeof *acks));
				snprintf(acks[n].marker, sizeof acks[n].marker, "%s", content);
				acks[n].id = json_integer_value(id);
				acks[n++].record = i;
				json_decref(j);
			}
			memmove(buf[fd], buf[fd] + head + body, len[fd] - head - body + 1);
			len[fd] -= head + body;
		}
	}
	for (size_t fd = 0; fd < FDS; fd++)
		free(buf[fd]);
	free(buf);
	free(len);
	*count = n;
	return acks;
}

/* ---- disk images ------------------------------------------------------ */

static void image_resize(image *m, size_t size)
{
	if (size > m->size) {
		cr_assert_not_null(m->bytes = realloc(m->bytes, size));
		memset(m->bytes + m->size, 0, size - m->size);
	}
	m->size = size;
}

void image_copy(image *to, const image *from)
{
	to->size = 0;
	to->exists = from->exists;
	image_resize(to, from->size);
	if (from->size)
		memcpy(to->bytes, from->bytes, from->size);
}

/* Applies bytes [from, to) of a write (relative to the write) to `m`. */
static void apply_part(image *m, const rec *r, uint64_t from, uint64_t to)
{
	if ((uint64_t)r->offset + to > m->size)
		image_resize(m, (size_t)((uint64_t)r->offset + to));
	memcpy(m->bytes + r->offset + from, r->data + from, (size_t)(to - from));
	m->exists = true;
}

void apply(image *m, const rec *r)
{
	if (r->type == PC_WRITE) {
		apply_part(m, r, 0, r->len);
	} else if (r->type == PC_TRUNC) {
		image_resize(m, (size_t)r->offset);
		m->exists = true;
	} else if (r->type == PC_UNLINK) {
		m->size = 0;
		m->exists = false;
	}
}

image read_image(const char *path)
{
	image m = { 0 };
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return m;
	struct stat st;
	cr_assert_eq(fstat(fileno(f), &st), 0);
	image_resize(&m, (size_t)st.st_size);
	cr_assert_eq(fread(m.bytes, 1, m.size, f), m.size);
	fclose(f);
	m.exists = true;
	return m;
}

void write_image(const char *dir, const char *name, const image *m)
{
	char *path = t_path(dir, name);
	unlink(path);
	if (m->exists) {
		FILE *f = fopen(path, "wb");
		cr_assert_not_null(f, "%s", path);
		cr_assert_eq(fwrite(m->bytes, 1, m->size, f), m->size);
		cr_assert_eq(fclose(f), 0);
	}
	free(path);
}

/* What a disk could hold: `kind` 0 synced, 1 written, 2 torn (seeded). */
void make_image(image *out, const file *f, const trace *t, int kind, unsigned *seed)
{
	if (kind == 1) {
		image_copy(out, &f->written);
		return;
	}
	image_copy(out, &f->durable);
	if (kind == 0)
		return;
	for (size_t i = 0; i < f->npending; i++) {
		const rec *r = &t->recs[f->pending[i]];
		int fate = rand_r(seed) % 3;   /* dropped, whole, torn */
		if (fate == 0)
			continue;
		if (fate == 1 || r->type != PC_WRITE) {
			apply(out, r);
			continue;
		}
		/* torn: each sector of the file the write covers, kept or not */
		uint64_t at = 0;
		while (at < r->len) {
			uint64_t next = (((uint64_t)r->offset + at) / SECTOR + 1) * SECTOR
				- (uint64_t)r->offset;
			if (next > r->len)
				next = r->len;
			if (rand_r(seed) % 2)
				apply_part(out, r, at, next);
			at = next;
		}
	}
}

void replay(file *files, const trace *t, size_t i)
{
	const rec *r = &t->recs[i];
	if (r->type != PC_WRITE && r->type != PC_TRUNC && r->type != PC_SYNC && r->type != PC_UNLINK)
		return;
	cr_assert(r->target >= 0 && r->target < PC_FILES);
	file *f = &files[r->target];
	if (r->type == PC_SYNC) {
		for (size_t p = 0; p < f->npending; p++)
			apply(&f->durable, &t->recs[f->pending[p]]);
		f->npending = 0;
		return;
	}
	apply(&f->written, r);
	if (f->npending == f->cap)
		cr_assert_not_null(f->pending = realloc(f->pending,
			(f->cap = f->cap ? 2 * f->cap : 256) * sizeof *f->pending));
	f->pending[f->npending++] = i;
}
