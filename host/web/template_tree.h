/*
 * template_tree.h: the compiled form of a template, shared by the parser
 * (template_parse.c), which builds it, and the renderer
 * (template_render.c), which walks it. A template is a list of nodes; a
 * node is literal text, a variable, an if with its branches, a for loop,
 * a {% block %}, an {% extends %} (whose body is the rest of the
 * template) or an {% include %}. Everything is owned by the list's nodes
 * and freed with sh_web__nodes_free().
 */
#ifndef SH_WEB_TEMPLATE_TREE_H
#define SH_WEB_TEMPLATE_TREE_H

#include "internal.h"

typedef enum sh__filter_kind {
	SH__FILTER_SAFE,
	SH__FILTER_ESCAPE,
	SH__FILTER_LENGTH,
	SH__FILTER_DEFAULT
} sh__filter_kind;

typedef struct sh__operand sh__operand;

typedef struct sh__filter {
	sh__filter_kind kind;
	sh__operand *arg;          /* default's argument (no filters of its own), else NULL */
} sh__filter;

/* A value in a tag: a variable path or a literal, then filters. */
struct sh__operand {
	char **parts;              /* "alert.title" -> {"alert", "title"}; NULL for a literal */
	size_t part_count;
	json_t *literal;           /* owned; NULL for a variable */
	sh__filter *filters;
	size_t filter_count;
};

typedef enum sh__expr_kind {
	SH__EXPR_OPERAND,
	SH__EXPR_NOT,
	SH__EXPR_AND,
	SH__EXPR_OR,
	SH__EXPR_EQ,
	SH__EXPR_NE
} sh__expr_kind;

/* A condition of {% if %} / {% elif %}. */
typedef struct sh__expr {
	sh__expr_kind kind;
	sh__operand operand;       /* SH__EXPR_OPERAND */
	struct sh__expr *a, *b;    /* NOT uses a; the binary ones a and b */
} sh__expr;

typedef enum sh__node_kind {
	SH__NODE_TEXT,
	SH__NODE_VAR,
	SH__NODE_IF,
	SH__NODE_FOR,
	SH__NODE_BLOCK,
	SH__NODE_EXTENDS,
	SH__NODE_INCLUDE
} sh__node_kind;

/* One `name=value` of {% include ... with name=value %}. */
typedef struct sh__kwarg {
	char *name;
	sh__operand value;
} sh__kwarg;

typedef struct sh__branch {
	sh__expr *cond;            /* NULL for {% else %} */
	sh__node *body;
} sh__branch;

struct sh__node {
	sh__node_kind kind;
	sh__node *next;
	char *text;                /* TEXT: the bytes (may hold NULs) */
	size_t len;
	unsigned line, col;        /* where the tag starts (BLOCK, EXTENDS, INCLUDE) */
	sh__operand var;           /* VAR; EXTENDS and INCLUDE: the template's name */
	sh__branch *branches;      /* IF, in order */
	size_t branch_count;
	char *loop_var;            /* FOR */
	sh__operand iterable;
	bool reversed;
	sh__node *body;            /* FOR, BLOCK; EXTENDS: the rest of the template */
	sh__node *empty;
	char *name;                /* BLOCK */
	sh__kwarg *with;           /* INCLUDE */
	size_t with_count;
	bool only;                 /* INCLUDE */
};

/* The deepest nesting of if/for/block tags a template may have. */
#define SH__TEMPLATE_MAX_DEPTH 64

/* The most templates one render may have in progress at once: the
 * template, its parents ({% extends %}) and the templates it includes,
 * nested. Past it the render fails (an include that includes itself
 * without end, a chain of parents that long). */
#define SH__TEMPLATE_MAX_NESTING 32

#endif
