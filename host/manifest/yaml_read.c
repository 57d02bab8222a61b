/*
 * yaml_read.c: reads one manifest file into a tree of values with libyaml's
 * event parser, keeping each node's line and column for messages.
 *
 * The tree is built top-down: a list or map is attached to its parent when
 * it starts and pushed on a stack until it ends, so at any time everything
 * read hangs from the root and one free releases it. Scalars are typed by
 * the YAML 1.2 core schema (see settings.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/file.h"
#include "manifest.h"

#define SH__MAX_DEPTH 64

#define SH__TAG_STR "tag:yaml.org,2002:str"
#define SH__TAG_INT "tag:yaml.org,2002:int"
#define SH__TAG_BOOL "tag:yaml.org,2002:bool"
#define SH__TAG_NULL "tag:yaml.org,2002:null"

/* The reader's state while it walks the events of one file. */
typedef struct sh__reader {
	sh__doc *doc;
	sh__problems *problems;
	sh_value *stack[SH__MAX_DEPTH];
	size_t depth;
	char *key;                 /* the pending key of the innermost map */
	unsigned key_line, key_column;
	int documents;
	bool failed;               /* a fatal problem was recorded */
} sh__reader;

static bool sh_manifest__is_null(const char *s)
{
	return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0
		|| strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static int sh_manifest__parse_bool(bool *out, const char *s)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
		*out = false;
		return 0;
	}
	return -1;
}

static int sh_manifest__parse_int(int64_t *out, const char *s)
{
	const char *p = s + (*s == '-' || *s == '+');
	if (*p == '\0')
		return -1;
	for (; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	char *end;
	long long n = strtoll(s, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return -1;
	*out = (int64_t)n;
	return 0;
}

/* Gives a scalar its type from its tag, or from its text when plain. */
static void sh_manifest__type_scalar(sh__reader *r, sh_value *v, const char *tag, bool plain)
{
	const char *s = v->text;
	if (tag != NULL && strcmp(tag, "!") != 0) {
		bool ok = true;
		v->type = SH_VALUE_STRING;
		if (strcmp(tag, SH__TAG_INT) == 0) {
			ok = sh_manifest__parse_int(&v->integer, s) == 0;
			v->type = SH_VALUE_INT;
		} else if (strcmp(tag, SH__TAG_BOOL) == 0) {
			ok = sh_manifest__parse_bool(&v->boolean, s) == 0;
			v->type = SH_VALUE_BOOL;
		} else if (strcmp(tag, SH__TAG_NULL) == 0) {
			v->type = SH_VALUE_NULL;
		} else if (strcmp(tag, SH__TAG_STR) != 0) {
			sh_manifest__problem_at(r->problems, SH_EMANIFEST, v, "unsupported YAML tag '%s'", tag);
		}
		if (!ok) {
			sh_manifest__problem_at(r->problems, SH_EMANIFEST, v,
				"'%s' does not fit its tag %s", s, tag);
			v->type = SH_VALUE_STRING;
		}
		return;
	}
	if (!plain || tag != NULL)
		v->type = SH_VALUE_STRING;
	else if (sh_manifest__is_null(s))
		v->type = SH_VALUE_NULL;
	else if (sh_manifest__parse_bool(&v->boolean, s) == 0)
		v->type = SH_VALUE_BOOL;
	else if (sh_manifest__parse_int(&v->integer, s) == 0)
		v->type = SH_VALUE_INT;
	else
		v->type = SH_VALUE_STRING;
}

/* Records a problem after which the file is not read further. */
static void sh_manifest__fatal(sh__reader *r, unsigned line, unsigned column, const char *message)
{
	sh_manifest__problem_add(r->problems, SH_EMANIFEST, r->doc->path, line, column, "%s", message);
	r->failed = true;
}

/* Attaches a new node to the innermost open list or map (or makes it the
 * root). Takes ownership of v. Returns 0, or -1 after a fatal problem. */
static int sh_manifest__attach(sh__reader *r, sh_value *v)
{
	if (r->depth == 0) {
		r->doc->root = v;
		return 0;
	}
	sh_value *top = r->stack[r->depth - 1];
	if (top->type == SH_VALUE_LIST)
		return sh_manifest__value_append(top, NULL, v->line, v->column, v) == 0 ? 0 : -1;
	if (r->key == NULL) {
		if (v->type == SH_VALUE_LIST || v->type == SH_VALUE_MAP || v->text == NULL) {
			sh_manifest__fatal(r, v->line, v->column, "map keys must be plain text");
			sh_manifest__value_free(v);
			return -1;
		}
		r->key = v->text;
		v->text = NULL;
		r->key_line = v->line;
		r->key_column = v->column;
		sh_manifest__value_free(v);
		return 0;
	}
	const sh__entry *dup = sh_manifest__value_entry(top, r->key);
	if (dup != NULL)
		sh_manifest__problem_add(r->problems, SH_EMANIFEST, r->doc->path, r->key_line, r->key_column,
			"duplicate key '%s' (first at line %u, column %u)", r->key,
			dup->line, dup->column);
	char *key = r->key;
	r->key = NULL;
	return sh_manifest__value_append(top, key, r->key_line, r->key_column, v) == 0 ? 0 : -1;
}

static int sh_manifest__on_node(sh__reader *r, const yaml_event_t *ev)
{
	unsigned line = (unsigned)ev->start_mark.line + 1;
	unsigned column = (unsigned)ev->start_mark.column + 1;
	bool container = ev->type != YAML_SCALAR_EVENT;
	sh_value_type type = ev->type == YAML_SEQUENCE_START_EVENT ? SH_VALUE_LIST
		: ev->type == YAML_MAPPING_START_EVENT ? SH_VALUE_MAP : SH_VALUE_STRING;
	sh_value *v = sh_manifest__value_new(type, r->doc->path, line, column);
	if (v == NULL)
		return -1;
	if (!container) {
		v->text = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (v->text == NULL) {
			sh_manifest__value_free(v);
			return -1;
		}
		bool is_key = r->depth > 0 && r->stack[r->depth - 1]->type == SH_VALUE_MAP
			&& r->key == NULL;
		if (!is_key)
			sh_manifest__type_scalar(r, v, (const char *)ev->data.scalar.tag,
				ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE);
	}
	if (container && r->depth == SH__MAX_DEPTH) {
		sh_manifest__fatal(r, line, column, "manifest nested too deeply");
		sh_manifest__value_free(v);
		return -1;
	}
	if (sh_manifest__attach(r, v) != 0)
		return -1;
	if (container)
		r->stack[r->depth++] = v;
	return 0;
}

/* Handles one event. Returns 1 at the end of the stream, 0 to go on, -1 to stop. */
static int sh_manifest__on_event(sh__reader *r, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (++r->documents > 1) {
			sh_manifest__fatal(r, (unsigned)ev->start_mark.line + 1,
				(unsigned)ev->start_mark.column + 1,
				"a second YAML document; a manifest holds one");
			return -1;
		}
		return 0;
	case YAML_ALIAS_EVENT: {
		char message[300];
		snprintf(message, sizeof message, "YAML alias '*%s' is not supported in manifests",
			(const char *)ev->data.alias.anchor);
		sh_manifest__fatal(r, (unsigned)ev->start_mark.line + 1, (unsigned)ev->start_mark.column + 1,
			message);
		return -1;
	}
	case YAML_SCALAR_EVENT:
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return sh_manifest__on_node(r, ev);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		r->depth--;
		return 0;
	default:
		return 0;
	}
}

static void sh_manifest__parser_problem(sh__reader *r, const yaml_parser_t *parser)
{
	const char *problem = parser->problem ? parser->problem : "unreadable YAML";
	unsigned line = (unsigned)parser->problem_mark.line + 1;
	unsigned column = (unsigned)parser->problem_mark.column + 1;
	if (parser->error == YAML_READER_ERROR)
		line = column = 0;
	if (parser->context != NULL)
		sh_manifest__problem_add(r->problems, SH_EMANIFEST, r->doc->path, line, column,
			"malformed YAML: %s (%s at line %u, column %u)", problem, parser->context,
			(unsigned)parser->context_mark.line + 1,
			(unsigned)parser->context_mark.column + 1);
	else
		sh_manifest__problem_add(r->problems, SH_EMANIFEST, r->doc->path, line, column,
			"malformed YAML: %s", problem);
	r->failed = true;
}

/* Runs the parser over `file`. Returns 0, or SH_ENOMEM. */
static int sh_manifest__read_events(sh__reader *r, FILE *file)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return sh_error_set(SH_ENOMEM, "out of memory");
	yaml_parser_set_input_file(&parser, file);
	int rc = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR)
				rc = sh_error_set(SH_ENOMEM, "out of memory");
			else
				sh_manifest__parser_problem(r, &parser);
			break;
		}
		int step = sh_manifest__on_event(r, &ev);
		yaml_event_delete(&ev);
		if (step == 1)
			break;
		if (step < 0) {
			if (!r->failed)
				rc = sh_error_set(SH_ENOMEM, "out of memory");
			break;
		}
	}
	yaml_parser_delete(&parser);
	return rc;
}

/* Reads the YAML of `file` (closed here) into `doc`. Returns as sh_manifest__doc_read. */
static int sh_manifest__doc_read_stream(sh__doc *doc, FILE *file, sh__problems *problems)
{
	sh__reader r = { .doc = doc, .problems = problems };
	int rc = sh_manifest__read_events(&r, file);
	fclose(file);
	free(r.key);
	if (rc < 0 || r.failed) {
		sh_manifest__value_free(doc->root);
		doc->root = NULL;
	}
	if (rc < 0)
		return rc;
	return r.failed ? SH_EMANIFEST : 0;
}

/* Allocates the document of `path` into *out. Returns 0 or SH_ENOMEM. */
static int sh_manifest__doc_new(sh__doc **out, const char *path)
{
	*out = NULL;
	sh__doc *doc = calloc(1, sizeof *doc);
	if (doc == NULL || (doc->path = strdup(path)) == NULL) {
		free(doc);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	*out = doc;
	return 0;
}

int sh_manifest__doc_read(sh__doc **out, const char *path, sh__problems *problems)
{
	int rc = sh_manifest__doc_new(out, path);
	if (rc < 0)
		return rc;
	/* A regular file of bounded size only: a FIFO renamed over the
	 * settings file blocked the reload, and the signal loop with it. */
	char *text;
	size_t length;
	rc = sh_base__read_regular_file(path, "manifest", SH_MANIFEST_MAX_SIZE, &text, &length);
	if (rc == SH_ENOMEM)
		return rc;
	if (rc < 0) {
		const char *why = sh_error_last()->message;
		const char *colon = strstr(why, path);
		sh_manifest__problem_add(problems, SH_EIO, path, 0, 0, "cannot read manifest: %s",
			colon != NULL && colon[strlen(path)] == ':' ? colon + strlen(path) + 2 : why);
		return SH_EIO;
	}
	if (length == 0) {
		free(text);
		return 0;   /* an empty file: a NULL root */
	}
	FILE *file = fmemopen(text, length, "rb");
	if (file == NULL) {
		free(text);
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	rc = sh_manifest__doc_read_stream(*out, file, problems);
	free(text);
	return rc;
}

int sh_manifest__doc_read_text(sh__doc **out, const char *label, const char *text, size_t length,
	sh__problems *problems)
{
	int rc = sh_manifest__doc_new(out, label);
	if (rc < 0 || length == 0)
		return rc;   /* nothing to read: a NULL root, as an empty file */
	FILE *file = fmemopen((void *)text, length, "rb");
	if (file == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	return sh_manifest__doc_read_stream(*out, file, problems);
}

void sh_manifest__doc_free(sh__doc *doc)
{
	if (doc == NULL)
		return;
	sh_manifest__value_free(doc->root);
	free(doc->path);
	free(doc);
}
