/*
 * template_parse.c: compiles template text into the tree of
 * template_tree.h. A lexer cuts the text into literal text, {{ variable }}
 * tags and {% block %} tags (dropping {# comments #}), tracking line and
 * column (in characters, not bytes) so that every syntax error names
 * where it is; a recursive-descent parser turns tags into nodes and
 * conditions. Nesting is bounded (SH__TEMPLATE_MAX_DEPTH), so no template
 * can exhaust the stack when compiled or rendered.
 *
 * Inheritance tags, as django/template/loader_tags.py parses them:
 * {% extends NAME %} must be the first tag (text may come before it) and
 * appear once, and everything after it becomes its body; {% block NAME %}
 * ... {% endblock [NAME] %} names must be unique in a template;
 * {% include NAME [with a=b ...] [only] %} takes each option once. NAME is
 * a string or a variable.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template_tree.h"

/* ---- errors ----------------------------------------------------------- */

typedef struct sh__parser {
	const char *label;         /* for messages: the file or the name */
	const char *src;
	size_t len;
	size_t pos;
	unsigned line, col;        /* of src[pos] */
	int depth;
	int terms;                 /* values in the condition being parsed */
	bool failed;
	bool tagged;               /* a tag or variable was seen: too late for extends */
	bool extended;             /* {% extends %} was seen */
	char **block_names;        /* the {% block %} names so far, for duplicates */
	size_t block_count;
} sh__parser;

static int sh_web__perr(sh__parser *p, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int sh_web__perr(sh__parser *p, unsigned line, unsigned col, const char *fmt, ...)
{
	char message[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	p->failed = true;
	return sh_error_set(SH_EINVAL, "%s:%u:%u: %s", p->label, line, col, message);
}

static int sh_web__oom(sh__parser *p)
{
	p->failed = true;
	return sh_error_set(SH_ENOMEM, "out of memory");
}

/* ---- lexer ------------------------------------------------------------ */

typedef enum sh__tok_kind { SH__TOK_TEXT, SH__TOK_VAR, SH__TOK_BLOCK, SH__TOK_EOF } sh__tok_kind;

typedef struct sh__tok {
	sh__tok_kind kind;
	const char *text;          /* TEXT: the text; VAR/BLOCK: the inside of the tag */
	size_t len;
	unsigned line, col;        /* where the token starts */
	unsigned in_line, in_col;  /* where its inside starts */
} sh__tok;

/* Moves over n bytes, counting lines and characters. */
static void sh_web__advance(sh__parser *p, size_t n)
{
	for (size_t i = 0; i < n && p->pos < p->len; i++, p->pos++) {
		unsigned char c = (unsigned char)p->src[p->pos];
		if (c == '\n') {
			p->line++;
			p->col = 1;
		} else if ((c & 0xC0) != 0x80) {   /* not a UTF-8 continuation byte */
			p->col++;
		}
	}
}

static bool sh_web__at(const sh__parser *p, size_t pos, const char *two)
{
	return pos + 1 < p->len && p->src[pos] == two[0] && p->src[pos + 1] == two[1];
}

/* Finds `two` from pos on; returns its offset or len when absent. */
static size_t sh_web__template_parse_find(const sh__parser *p, size_t pos, const char *two)
{
	for (; pos + 1 < p->len; pos++)
		if (p->src[pos] == two[0] && p->src[pos + 1] == two[1])
			return pos;
	return p->len;
}

static int sh_web__next_tok(sh__parser *p, sh__tok *t)
{
	for (;;) {
		*t = (sh__tok){ SH__TOK_EOF, NULL, 0, p->line, p->col, p->line, p->col };
		if (p->pos >= p->len)
			return 0;
		bool var = sh_web__at(p, p->pos, "{{"), block = sh_web__at(p, p->pos, "{%"),
			comment = sh_web__at(p, p->pos, "{#");
		if (!var && !block && !comment) {
			size_t end = p->pos;
			while (end < p->len && !(p->src[end] == '{' && end + 1 < p->len
				&& (p->src[end + 1] == '{' || p->src[end + 1] == '%' || p->src[end + 1] == '#')))
				end++;
			t->kind = SH__TOK_TEXT;
			t->text = p->src + p->pos;
			t->len = end - p->pos;
			sh_web__advance(p, t->len);
			return 0;
		}
		const char *close = var ? "}}" : block ? "%}" : "#}";
		size_t end = sh_web__template_parse_find(p, p->pos + 2, close);
		if (end == p->len)
			return sh_web__perr(p, t->line, t->col, "'%.2s' is not closed by '%s'",
				p->src + p->pos, close);
		size_t start = p->pos;
		sh_web__advance(p, 2);
		t->in_line = p->line;
		t->in_col = p->col;
		t->text = p->src + start + 2;
		t->len = end - start - 2;
		sh_web__advance(p, end + 2 - p->pos);
		if (comment)
			continue;
		t->kind = var ? SH__TOK_VAR : SH__TOK_BLOCK;
		return 0;
	}
}

/* ---- words inside a tag ----------------------------------------------- */

typedef enum sh__word_kind {
	SH__W_END,
	SH__W_NAME,      /* a variable path, a number, a keyword */
	SH__W_STRING,    /* the inside of "..." or '...' */
	SH__W_OP         /* == != | : , = */
} sh__word_kind;

typedef struct sh__word {
	sh__word_kind kind;
	const char *text;
	size_t len;
	unsigned line, col;
} sh__word;

/* A scanner over the inside of one tag. */
typedef struct sh__scan {
	sh__parser *p;
	const char *s;
	size_t n, i;
	unsigned line, col;
} sh__scan;

static void sh_web__scan_init(sh__scan *sc, sh__parser *p, const sh__tok *t)
{
	*sc = (sh__scan){ p, t->text, t->len, 0, t->in_line, t->in_col };
}

static void sh_web__scan_advance(sh__scan *sc, size_t n)
{
	for (size_t k = 0; k < n && sc->i < sc->n; k++, sc->i++) {
		unsigned char c = (unsigned char)sc->s[sc->i];
		if (c == '\n') {
			sc->line++;
			sc->col = 1;
		} else if ((c & 0xC0) != 0x80) {
			sc->col++;
		}
	}
}

static bool sh_web__name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		|| c == '_' || c == '.' || c == '-' || c == '+';
}

static int sh_web__next_word(sh__scan *sc, sh__word *w)
{
	while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t'
		|| sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r'))
		sh_web__scan_advance(sc, 1);
	*w = (sh__word){ SH__W_END, sc->s + sc->i, 0, sc->line, sc->col };
	if (sc->i >= sc->n)
		return 0;
	char c = sc->s[sc->i];
	if (c == '"' || c == '\'') {
		size_t end = sc->i + 1;
		while (end < sc->n && sc->s[end] != c)
			end++;
		if (end >= sc->n)
			return sh_web__perr(sc->p, w->line, w->col, "the string starting here is not closed");
		w->kind = SH__W_STRING;
		w->text = sc->s + sc->i + 1;
		w->len = end - sc->i - 1;
		sh_web__scan_advance(sc, end + 1 - sc->i);
		return 0;
	}
	if ((c == '=' || c == '!') && sc->i + 1 < sc->n && sc->s[sc->i + 1] == '=') {
		w->kind = SH__W_OP;
		w->len = 2;
		sh_web__scan_advance(sc, 2);
		return 0;
	}
	if (c == '|' || c == ':' || c == ',' || c == '=') {
		w->kind = SH__W_OP;
		w->len = 1;
		sh_web__scan_advance(sc, 1);
		return 0;
	}
	if (sh_web__name_char(c)) {
		size_t end = sc->i;
		while (end < sc->n && sh_web__name_char(sc->s[end]))
			end++;
		w->kind = SH__W_NAME;
		w->len = end - sc->i;
		sh_web__scan_advance(sc, w->len);
		return 0;
	}
	if ((unsigned char)c < 0x20 || c == 0x7f)
		return sh_web__perr(sc->p, w->line, w->col, "unexpected control character in a tag");
	return sh_web__perr(sc->p, w->line, w->col, "unexpected '%c'", c);
}

static int sh_web__peek(sh__scan *sc, sh__word *w)
{
	sh__scan saved = *sc;
	int rc = sh_web__next_word(sc, w);
	*sc = saved;
	return rc;
}

static bool sh_web__is(const sh__word *w, sh__word_kind kind, const char *text)
{
	return w->kind == kind && w->len == strlen(text) && memcmp(w->text, text, w->len) == 0;
}

/* ---- freeing ---------------------------------------------------------- */

static void sh_web__operand_dispose(sh__operand *o)
{
	for (size_t i = 0; i < o->part_count; i++)
		free(o->parts[i]);
	free(o->parts);
	json_decref(o->literal);
	for (size_t i = 0; i < o->filter_count; i++) {
		if (o->filters[i].arg != NULL) {
			sh_web__operand_dispose(o->filters[i].arg);
			free(o->filters[i].arg);
		}
	}
	free(o->filters);
	*o = (sh__operand){ 0 };
}

static void sh_web__expr_free(sh__expr *e)
{
	if (e == NULL)
		return;
	sh_web__operand_dispose(&e->operand);
	sh_web__expr_free(e->a);
	sh_web__expr_free(e->b);
	free(e);
}

void sh_web__nodes_free(sh__node *nodes)
{
	while (nodes != NULL) {
		sh__node *next = nodes->next;
		free(nodes->text);
		sh_web__operand_dispose(&nodes->var);
		for (size_t i = 0; i < nodes->branch_count; i++) {
			sh_web__expr_free(nodes->branches[i].cond);
			sh_web__nodes_free(nodes->branches[i].body);
		}
		free(nodes->branches);
		free(nodes->loop_var);
		sh_web__operand_dispose(&nodes->iterable);
		sh_web__nodes_free(nodes->body);
		sh_web__nodes_free(nodes->empty);
		free(nodes->name);
		for (size_t i = 0; i < nodes->with_count; i++) {
			free(nodes->with[i].name);
			sh_web__operand_dispose(&nodes->with[i].value);
		}
		free(nodes->with);
		free(nodes);
		nodes = next;
	}
}

/* ---- operands --------------------------------------------------------- */

/* A number literal: [+-]digits[.digits]. */
static bool sh_web__template_parse_number(const sh__word *w, json_t **out)
{
	char text[64];
	if (w->len == 0 || w->len >= sizeof text)
		return false;
	memcpy(text, w->text, w->len);
	text[w->len] = '\0';
	size_t i = (text[0] == '-' || text[0] == '+') ? 1 : 0, digits = 0, dots = 0;
	for (size_t k = i; text[k] != '\0'; k++) {
		if (text[k] >= '0' && text[k] <= '9')
			digits++;
		else if (text[k] == '.' && dots == 0 && digits > 0)
			dots++;
		else
			return false;
	}
	if (digits == 0 || text[w->len - 1] == '.')
		return false;
	errno = 0;
	if (dots == 0) {
		long long v = strtoll(text, NULL, 10);
		*out = errno == 0 ? json_integer((json_int_t)v) : json_real(strtod(text, NULL));
	} else {
		*out = json_real(strtod(text, NULL));
	}
	return true;
}

/* Reads a variable path or literal (no filters) from word w. */
static int sh_web__primary(sh__parser *p, const sh__word *w, sh__operand *o)
{
	*o = (sh__operand){ 0 };
	if (w->kind == SH__W_STRING) {
		o->literal = json_stringn(w->text, w->len);
		if (o->literal == NULL)   /* not UTF-8 */
			return sh_web__perr(p, w->line, w->col, "the string is not valid UTF-8");
		return 0;
	}
	if (w->kind != SH__W_NAME)
		return sh_web__perr(p, w->line, w->col, w->kind == SH__W_END
			? "expected a variable or a value here" : "expected a variable or a value, not '%.*s'",
			(int)w->len, w->text);
	json_t *number = NULL;
	if (sh_web__template_parse_number(w, &number)) {
		if (number == NULL)
			return sh_web__oom(p);
		o->literal = number;
		return 0;
	}
	if (sh_web__is(w, SH__W_NAME, "True") || sh_web__is(w, SH__W_NAME, "False")
		|| sh_web__is(w, SH__W_NAME, "None")) {
		o->literal = w->text[0] == 'T' ? json_true() : w->text[0] == 'F' ? json_false()
			: json_null();
		return 0;
	}
	/* a path: parts of [A-Za-z0-9_], split by dots, the first not a digit */
	size_t start = 0;
	for (size_t i = 0; i <= w->len; i++) {
		if (i < w->len && w->text[i] != '.')
			continue;
		size_t n = i - start;
		const char *part = w->text + start;
		bool ok = n > 0;
		for (size_t k = 0; k < n && ok; k++)
			ok = (part[k] >= 'a' && part[k] <= 'z') || (part[k] >= 'A' && part[k] <= 'Z')
				|| (part[k] >= '0' && part[k] <= '9') || part[k] == '_';
		if (!ok || (start == 0 && part[0] >= '0' && part[0] <= '9'))
			return sh_web__perr(p, w->line, w->col, "'%.*s' is not a variable name",
				(int)w->len, w->text);
		if (part[0] == '_')
			return sh_web__perr(p, w->line, w->col,
				"'%.*s': variables and attributes may not begin with '_'", (int)w->len, w->text);
		char **parts = realloc(o->parts, (o->part_count + 1) * sizeof *parts);
		if (parts == NULL)
			return sh_web__oom(p);
		o->parts = parts;
		if ((o->parts[o->part_count] = strndup(part, n)) == NULL)
			return sh_web__oom(p);
		o->part_count++;
		start = i + 1;
	}
	return 0;
}

static const char *const sh__filter_names[] = { "safe", "escape", "length", "default" };

/* Reads an operand: a primary then |filter[:arg]... */
static int sh_web__operand_parse(sh__parser *p, sh__scan *sc, sh__operand *o)
{
	sh__word w;
	int rc = sh_web__next_word(sc, &w);
	if (rc == 0)
		rc = sh_web__primary(p, &w, o);
	while (rc == 0) {
		sh__word bar, name;
		if ((rc = sh_web__peek(sc, &bar)) < 0 || !sh_web__is(&bar, SH__W_OP, "|"))
			break;
		sh_web__next_word(sc, &bar);
		if ((rc = sh_web__next_word(sc, &name)) < 0)
			break;
		int kind = -1;
		for (size_t i = 0; i < SH__COUNT(sh__filter_names); i++)
			if (sh_web__is(&name, SH__W_NAME, sh__filter_names[i]))
				kind = (int)i;
		if (kind < 0) {
			char word[64];
			snprintf(word, sizeof word, "%.*s", (int)(name.len < 60 ? name.len : 60), name.text);
			const char *near = sh_base__suggest(word, sh__filter_names, SH__COUNT(sh__filter_names));
			if (name.kind == SH__W_END)
				rc = sh_web__perr(p, name.line, name.col, "expected a filter name after '|'");
			else if (near != NULL)
				rc = sh_web__perr(p, name.line, name.col, "unknown filter '%s' (did you mean '%s'?)",
					word, near);
			else
				rc = sh_web__perr(p, name.line, name.col,
					"unknown filter '%s' (known: safe, escape, length, default)", word);
			break;
		}
		sh__filter *filters = realloc(o->filters, (o->filter_count + 1) * sizeof *filters);
		if (filters == NULL) {
			rc = sh_web__oom(p);
			break;
		}
		o->filters = filters;
		sh__filter *f = &o->filters[o->filter_count++];
		*f = (sh__filter){ (sh__filter_kind)kind, NULL };
		sh__word colon;
		if ((rc = sh_web__peek(sc, &colon)) < 0)
			break;
		bool has_arg = sh_web__is(&colon, SH__W_OP, ":");
		if (has_arg != (f->kind == SH__FILTER_DEFAULT)) {
			rc = sh_web__perr(p, has_arg ? colon.line : name.line, has_arg ? colon.col : name.col,
				has_arg ? "filter '%s' takes no argument" : "filter '%s' needs an argument "
				"(default:\"text\")", sh__filter_names[kind]);
			break;
		}
		if (!has_arg)
			continue;
		sh_web__next_word(sc, &colon);
		sh__word arg;
		if ((f->arg = calloc(1, sizeof *f->arg)) == NULL) {
			rc = sh_web__oom(p);
			break;
		}
		if ((rc = sh_web__next_word(sc, &arg)) == 0)
			rc = sh_web__primary(p, &arg, f->arg);
	}
	return rc;
}

/* ---- conditions ------------------------------------------------------- */

static int sh_web__expr_or(sh__parser *p, sh__scan *sc, sh__expr **out);

static sh__expr *sh_web__expr_new(sh__expr_kind kind, sh__expr *a, sh__expr *b)
{
	sh__expr *e = calloc(1, sizeof *e);
	if (e != NULL) {
		e->kind = kind;
		e->a = a;
		e->b = b;
	}
	return e;
}

static bool sh_web__keyword(const sh__word *w)
{
	return sh_web__is(w, SH__W_NAME, "and") || sh_web__is(w, SH__W_NAME, "or")
		|| sh_web__is(w, SH__W_NAME, "not");
}

static int sh_web__expr_cmp(sh__parser *p, sh__scan *sc, sh__expr **out)
{
	*out = NULL;
	sh__word w;
	int rc = sh_web__peek(sc, &w);
	if (rc < 0)
		return rc;
	if (sh_web__keyword(&w) || w.kind == SH__W_OP || w.kind == SH__W_END)
		return sh_web__perr(p, w.line, w.col, w.kind == SH__W_END
			? "the condition ends where a value was expected"
			: "expected a value, not '%.*s'", (int)w.len, w.text);
	if (++p->terms > 64)
		return sh_web__perr(p, w.line, w.col, "the condition has more than 64 values");
	sh__expr *e = sh_web__expr_new(SH__EXPR_OPERAND, NULL, NULL);
	if (e == NULL)
		return sh_web__oom(p);
	*out = e;
	if ((rc = sh_web__operand_parse(p, sc, &e->operand)) < 0)
		return rc;
	if ((rc = sh_web__peek(sc, &w)) < 0)
		return rc;
	bool eq = sh_web__is(&w, SH__W_OP, "=="), ne = sh_web__is(&w, SH__W_OP, "!=");
	if (!eq && !ne)
		return 0;
	sh_web__next_word(sc, &w);
	sh__expr *right = sh_web__expr_new(SH__EXPR_OPERAND, NULL, NULL);
	sh__expr *both = right ? sh_web__expr_new(eq ? SH__EXPR_EQ : SH__EXPR_NE, e, right) : NULL;
	if (both == NULL) {
		free(right);
		return sh_web__oom(p);
	}
	*out = both;
	sh__word next;
	if ((rc = sh_web__peek(sc, &next)) < 0)
		return rc;
	if (sh_web__keyword(&next) || next.kind == SH__W_OP || next.kind == SH__W_END)
		return sh_web__perr(p, next.line, next.col, "expected a value after '%.*s'", (int)w.len,
			w.text);
	if ((rc = sh_web__operand_parse(p, sc, &right->operand)) < 0)
		return rc;
	if ((rc = sh_web__peek(sc, &w)) < 0)
		return rc;
	if (sh_web__is(&w, SH__W_OP, "==") || sh_web__is(&w, SH__W_OP, "!="))
		return sh_web__perr(p, w.line, w.col, "comparisons cannot be chained; use 'and'");
	return 0;
}

static int sh_web__expr_not(sh__parser *p, sh__scan *sc, sh__expr **out)
{
	sh__word w;
	int rc = sh_web__peek(sc, &w);
	if (rc < 0)
		return rc;
	if (!sh_web__is(&w, SH__W_NAME, "not"))
		return sh_web__expr_cmp(p, sc, out);
	sh_web__next_word(sc, &w);
	if (++p->depth > SH__TEMPLATE_MAX_DEPTH)
		return sh_web__perr(p, w.line, w.col, "the condition nests too deeply");
	sh__expr *inner = NULL;
	rc = sh_web__expr_not(p, sc, &inner);
	p->depth--;
	*out = sh_web__expr_new(SH__EXPR_NOT, inner, NULL);
	if (*out == NULL) {
		sh_web__expr_free(inner);
		return sh_web__oom(p);
	}
	return rc;
}

static int sh_web__expr_binary(sh__parser *p, sh__scan *sc, sh__expr **out, const char *word,
	sh__expr_kind kind, int (*sub)(sh__parser *, sh__scan *, sh__expr **))
{
	int rc = sub(p, sc, out);
	while (rc == 0) {
		sh__word w;
		if ((rc = sh_web__peek(sc, &w)) < 0 || !sh_web__is(&w, SH__W_NAME, word))
			break;
		sh_web__next_word(sc, &w);
		sh__expr *right = NULL;
		rc = sub(p, sc, &right);
		sh__expr *both = sh_web__expr_new(kind, *out, right);
		if (both == NULL) {
			sh_web__expr_free(right);
			return sh_web__oom(p);
		}
		*out = both;
	}
	return rc;
}

static int sh_web__expr_and(sh__parser *p, sh__scan *sc, sh__expr **out)
{
	return sh_web__expr_binary(p, sc, out, "and", SH__EXPR_AND, sh_web__expr_not);
}

static int sh_web__expr_or(sh__parser *p, sh__scan *sc, sh__expr **out)
{
	return sh_web__expr_binary(p, sc, out, "or", SH__EXPR_OR, sh_web__expr_and);
}

/* Fails unless the tag has no more words. */
static int sh_web__expect_end(sh__parser *p, sh__scan *sc, const char *tag)
{
	sh__word w;
	int rc = sh_web__next_word(sc, &w);
	if (rc < 0 || w.kind == SH__W_END)
		return rc;
	return sh_web__perr(p, w.line, w.col, "unexpected '%.*s' in '%s' tag", (int)w.len, w.text, tag);
}

/* ---- blocks ----------------------------------------------------------- */

static const char *const sh__tag_names[] = {
	"if", "elif", "else", "endif", "for", "empty", "endfor", "comment", "endcomment",
	"block", "endblock", "extends", "include"
};

/* Where a list stopped: the closing tag found, or none at the end. */
typedef struct sh__stop {
	const char *name;          /* one of the stop names, NULL at the end of the text */
	sh__tok tok;
	sh__scan sc;               /* positioned after the tag's name */
} sh__stop;

static int sh_web__template_parse_list(sh__parser *p, sh__node **out, const char *const *stops, size_t nstops,
	sh__stop *stop);

static sh__node *sh_web__node_new(sh__node_kind kind)
{
	sh__node *n = calloc(1, sizeof *n);
	if (n != NULL)
		n->kind = kind;
	return n;
}

static int sh_web__unclosed(sh__parser *p, const sh__tok *open, const char *tag, const char *end)
{
	return sh_web__perr(p, open->line, open->col, "'%s' tag is not closed (expected '{%% %s %%}')",
		tag, end);
}

static int sh_web__if(sh__parser *p, sh__node *node, const sh__tok *open, sh__scan *sc)
{
	static const char *const all[] = { "elif", "else", "endif" };
	static const char *const end_only[] = { "endif" };
	sh__expr *cond = NULL;
	p->terms = 0;
	int rc = sh_web__expr_or(p, sc, &cond);
	if (rc == 0)
		rc = sh_web__expect_end(p, sc, "if");
	for (bool in_else = false;;) {
		sh__branch *branches = realloc(node->branches,
			(node->branch_count + 1) * sizeof *branches);
		if (branches == NULL) {
			sh_web__expr_free(cond);
			return sh_web__oom(p);
		}
		node->branches = branches;
		sh__branch *b = &node->branches[node->branch_count++];
		*b = (sh__branch){ cond, NULL };
		if (rc < 0)
			return rc;
		sh__stop stop;
		rc = in_else ? sh_web__template_parse_list(p, &b->body, end_only, 1, &stop)
			: sh_web__template_parse_list(p, &b->body, all, 3, &stop);
		if (rc < 0)
			return rc;
		if (stop.name == NULL)
			return sh_web__unclosed(p, open, "if", "endif");
		if (strcmp(stop.name, "endif") == 0)
			return sh_web__expect_end(p, &stop.sc, "endif");
		cond = NULL;
		if (strcmp(stop.name, "else") == 0) {
			in_else = true;
			rc = sh_web__expect_end(p, &stop.sc, "else");
		} else {
			p->terms = 0;
			rc = sh_web__expr_or(p, &stop.sc, &cond);
			if (rc == 0)
				rc = sh_web__expect_end(p, &stop.sc, "elif");
		}
	}
}

static int sh_web__for(sh__parser *p, sh__node *node, const sh__tok *open, sh__scan *sc)
{
	static const char *const body_stops[] = { "empty", "endfor" };
	static const char *const end_only[] = { "endfor" };
	sh__word var, in;
	int rc = sh_web__next_word(sc, &var);
	if (rc < 0)
		return rc;
	if (var.kind != SH__W_NAME || var.len > 64 || sh_web__keyword(&var)) {
		return sh_web__perr(p, var.line, var.col, "expected '{%% for NAME in LIST %%}'");
	}
	char name[80];
	snprintf(name, sizeof name, "%.*s", (int)var.len, var.text);
	if (!sh_base__is_identifier(name, 64) || name[0] == '_')
		return sh_web__perr(p, var.line, var.col, "'%s' is not a valid loop variable name", name);
	if ((node->loop_var = strdup(name)) == NULL)
		return sh_web__oom(p);
	if ((rc = sh_web__next_word(sc, &in)) < 0)
		return rc;
	if (!sh_web__is(&in, SH__W_NAME, "in"))
		return sh_web__perr(p, in.line, in.col, "expected 'in' after '%s' in '{%% for %%}'", name);
	if ((rc = sh_web__operand_parse(p, sc, &node->iterable)) < 0)
		return rc;
	sh__word w;
	if ((rc = sh_web__peek(sc, &w)) < 0)
		return rc;
	if (sh_web__is(&w, SH__W_NAME, "reversed")) {
		sh_web__next_word(sc, &w);
		node->reversed = true;
	}
	if ((rc = sh_web__expect_end(p, sc, "for")) < 0)
		return rc;
	sh__stop stop;
	if ((rc = sh_web__template_parse_list(p, &node->body, body_stops, 2, &stop)) < 0)
		return rc;
	if (stop.name == NULL)
		return sh_web__unclosed(p, open, "for", "endfor");
	if (strcmp(stop.name, "empty") == 0) {
		if ((rc = sh_web__expect_end(p, &stop.sc, "empty")) < 0)
			return rc;
		if ((rc = sh_web__template_parse_list(p, &node->empty, end_only, 1, &stop)) < 0)
			return rc;
		if (stop.name == NULL)
			return sh_web__unclosed(p, open, "for", "endfor");
	}
	return sh_web__expect_end(p, &stop.sc, "endfor");
}

/* Skips everything up to {% endcomment %}. */
static int sh_web__comment(sh__parser *p, const sh__tok *open)
{
	for (;;) {
		sh__tok t;
		int rc = sh_web__next_tok(p, &t);
		if (rc < 0)
			return rc;
		if (t.kind == SH__TOK_EOF)
			return sh_web__unclosed(p, open, "comment", "endcomment");
		if (t.kind != SH__TOK_BLOCK)
			continue;
		sh__scan sc;
		sh__word w;
		sh_web__scan_init(&sc, p, &t);
		if (sh_web__next_word(&sc, &w) == 0 && sh_web__is(&w, SH__W_NAME, "endcomment"))
			return 0;
	}
}

/* {% block NAME %} ... {% endblock [NAME] %} */
static int sh_web__block_tag(sh__parser *p, sh__node *node, const sh__tok *open, sh__scan *sc)
{
	static const char *const end_only[] = { "endblock" };
	sh__word w;
	int rc = sh_web__next_word(sc, &w);
	if (rc < 0)
		return rc;
	char name[80];
	snprintf(name, sizeof name, "%.*s", (int)(w.len < 70 ? w.len : 70), w.text);
	if (w.kind != SH__W_NAME || w.len > 64 || !sh_base__is_identifier(name, 64))
		return sh_web__perr(p, w.line, w.col, w.kind == SH__W_END
			? "'block' tag takes one argument: the block's name"
			: "'%s' is not a block name (letters, digits and '_')", name);
	if ((rc = sh_web__expect_end(p, sc, "block")) < 0)
		return rc;
	for (size_t i = 0; i < p->block_count; i++)
		if (strcmp(p->block_names[i], name) == 0)
			return sh_web__perr(p, open->line, open->col,
				"'block' tag with name '%s' appears more than once", name);
	char **names = realloc(p->block_names, (p->block_count + 1) * sizeof *names);
	if (names == NULL)
		return sh_web__oom(p);
	p->block_names = names;
	if ((node->name = strdup(name)) == NULL || (names[p->block_count] = strdup(name)) == NULL)
		return sh_web__oom(p);
	p->block_count++;
	sh__stop stop;
	if ((rc = sh_web__template_parse_list(p, &node->body, end_only, 1, &stop)) < 0)
		return rc;
	if (stop.name == NULL)
		return sh_web__unclosed(p, open, "block", "endblock");
	sh__word end;
	if ((rc = sh_web__next_word(&stop.sc, &end)) < 0 || end.kind == SH__W_END)
		return rc;
	if (!sh_web__is(&end, SH__W_NAME, name))
		return sh_web__perr(p, end.line, end.col, "'endblock %.*s' closes block '%s' "
			"(expected '{%% endblock %%}' or '{%% endblock %s %%}')", (int)end.len, end.text,
			name, name);
	return sh_web__expect_end(p, &stop.sc, "endblock");
}

/* The template name of extends and include: one operand. */
static int sh_web__template_operand(sh__parser *p, sh__scan *sc, sh__operand *o, const char *tag)
{
	sh__word w;
	int rc = sh_web__peek(sc, &w);
	if (rc < 0)
		return rc;
	if (w.kind == SH__W_END)
		return sh_web__perr(p, w.line, w.col, "'%s' tag takes the name of a template "
			"('{%% %s \"base.html\" %%}')", tag, tag);
	return sh_web__operand_parse(p, sc, o);
}

/* {% extends NAME %}: the rest of the template is its body. */
static int sh_web__extends(sh__parser *p, sh__node *node, const sh__tok *open, sh__scan *sc)
{
	if (p->extended)
		return sh_web__perr(p, open->line, open->col,
			"'extends' cannot appear more than once in the same template");
	if (p->tagged || p->depth > 0)
		return sh_web__perr(p, open->line, open->col,
			"'extends' must be the first tag in the template");
	p->extended = true;
	p->tagged = true;
	int rc = sh_web__template_operand(p, sc, &node->var, "extends");
	if (rc == 0)
		rc = sh_web__expect_end(p, sc, "extends");
	sh__stop stop;
	if (rc == 0)
		rc = sh_web__template_parse_list(p, &node->body, NULL, 0, &stop);
	return rc;
}

/* {% include NAME [with a=b c="d"] [only] %} */
static int sh_web__include(sh__parser *p, sh__node *node, sh__scan *sc)
{
	int rc = sh_web__template_operand(p, sc, &node->var, "include");
	bool with = false;
	while (rc == 0) {
		sh__word w;
		if ((rc = sh_web__next_word(sc, &w)) < 0 || w.kind == SH__W_END)
			break;
		bool is_with = sh_web__is(&w, SH__W_NAME, "with"), is_only = sh_web__is(&w, SH__W_NAME, "only");
		if (!is_with && !is_only)
			return sh_web__perr(p, w.line, w.col, "unknown argument '%.*s' of 'include' "
				"(expected 'with name=value ...' or 'only')", (int)w.len, w.text);
		if ((is_with && with) || (is_only && node->only))
			return sh_web__perr(p, w.line, w.col, "the '%s' option of 'include' is given "
				"more than once", is_with ? "with" : "only");
		if (is_only) {
			node->only = true;
			continue;
		}
		with = true;
		for (;;) {
			sh__scan after = *sc;
			sh__word name, eq;
			if ((rc = sh_web__next_word(&after, &name)) < 0 || (rc = sh_web__next_word(&after, &eq)) < 0)
				return rc;
			if (name.kind != SH__W_NAME || !sh_web__is(&eq, SH__W_OP, "="))
				break;
			char key[80];
			snprintf(key, sizeof key, "%.*s", (int)(name.len < 70 ? name.len : 70), name.text);
			if (name.len > 64 || !sh_base__is_identifier(key, 64) || key[0] == '_')
				return sh_web__perr(p, name.line, name.col, "'%s' is not a variable name", key);
			*sc = after;
			sh__kwarg *grown = realloc(node->with, (node->with_count + 1) * sizeof *grown);
			if (grown == NULL)
				return sh_web__oom(p);
			node->with = grown;
			sh__kwarg *k = &node->with[node->with_count++];
			*k = (sh__kwarg){ strdup(key), { 0 } };
			if (k->name == NULL)
				return sh_web__oom(p);
			if ((rc = sh_web__operand_parse(p, sc, &k->value)) < 0)
				return rc;
		}
		if (node->with_count == 0)
			return sh_web__perr(p, w.line, w.col,
				"'with' in 'include' needs at least one name=value");
	}
	return rc;
}

/* Parses one {% tag %} into *node (NULL for a comment), or reports it as
 * the list's stop. Returns 1 when it was a stop. */
static int sh_web__block(sh__parser *p, const sh__tok *t, sh__node **node,
	const char *const *stops, size_t nstops, sh__stop *stop)
{
	*node = NULL;
	sh__scan sc;
	sh__word w;
	sh_web__scan_init(&sc, p, t);
	int rc = sh_web__next_word(&sc, &w);
	if (rc < 0)
		return rc;
	if (w.kind != SH__W_NAME)
		return sh_web__perr(p, t->in_line, t->in_col, "empty or malformed '{%% %%}' tag");
	char name[64];
	snprintf(name, sizeof name, "%.*s", (int)(w.len < 60 ? w.len : 60), w.text);
	for (size_t i = 0; i < nstops; i++) {
		if (strcmp(name, stops[i]) == 0) {
			*stop = (sh__stop){ stops[i], *t, sc };
			return 1;
		}
	}
	if (strcmp(name, "comment") == 0)
		return sh_web__expect_end(p, &sc, "comment") < 0 ? SH_EINVAL : sh_web__comment(p, t);
	bool is_if = strcmp(name, "if") == 0, is_for = strcmp(name, "for") == 0;
	bool is_block = strcmp(name, "block") == 0, is_extends = strcmp(name, "extends") == 0;
	bool is_include = strcmp(name, "include") == 0;
	if (is_extends || is_include) {
		sh__node *n = sh_web__node_new(is_extends ? SH__NODE_EXTENDS : SH__NODE_INCLUDE);
		if (n == NULL)
			return sh_web__oom(p);
		*node = n;
		n->line = t->line;
		n->col = t->col;
		return is_extends ? sh_web__extends(p, n, t, &sc) : sh_web__include(p, n, &sc);
	}
	if (!is_if && !is_for && !is_block) {
		bool known = false;
		for (size_t i = 0; i < SH__COUNT(sh__tag_names) && !known; i++)
			known = strcmp(name, sh__tag_names[i]) == 0;
		if (known && nstops > 0)
			return sh_web__perr(p, w.line, w.col, "unexpected '%s' (expected '%s')", name,
				stops[nstops - 1]);
		if (known)
			return sh_web__perr(p, w.line, w.col, "unexpected '%s' (no block is open)", name);
		const char *near = sh_base__suggest(name, sh__tag_names, SH__COUNT(sh__tag_names));
		if (near != NULL)
			return sh_web__perr(p, w.line, w.col, "unknown tag '%s' (did you mean '%s'?)", name,
				near);
		return sh_web__perr(p, w.line, w.col,
			"unknown tag '%s' (sighost templates know if, elif, else, endif, for, empty, "
			"endfor, comment, endcomment, block, endblock, extends, include)", name);
	}
	if (p->depth >= SH__TEMPLATE_MAX_DEPTH)
		return sh_web__perr(p, t->line, t->col, "blocks nest deeper than %d",
			SH__TEMPLATE_MAX_DEPTH);
	sh__node *n = sh_web__node_new(is_if ? SH__NODE_IF : is_for ? SH__NODE_FOR : SH__NODE_BLOCK);
	if (n == NULL)
		return sh_web__oom(p);
	*node = n;
	n->line = t->line;
	n->col = t->col;
	p->tagged = true;
	p->depth++;
	rc = is_if ? sh_web__if(p, n, t, &sc) : is_for ? sh_web__for(p, n, t, &sc)
		: sh_web__block_tag(p, n, t, &sc);
	p->depth--;
	return rc;
}

static int sh_web__var(sh__parser *p, const sh__tok *t, sh__node **node)
{
	sh__scan sc;
	sh__word w;
	sh_web__scan_init(&sc, p, t);
	int rc = sh_web__peek(&sc, &w);
	if (rc < 0)
		return rc;
	if (w.kind == SH__W_END)
		return sh_web__perr(p, t->line, t->col, "empty variable tag '{{ }}'");
	sh__node *n = sh_web__node_new(SH__NODE_VAR);
	if (n == NULL)
		return sh_web__oom(p);
	*node = n;
	p->tagged = true;
	rc = sh_web__operand_parse(p, &sc, &n->var);
	if (rc == 0)
		rc = sh_web__expect_end(p, &sc, "{{ }}");
	return rc;
}

/* Parses nodes until one of `stops` (a block tag) or the end of the text. */
static int sh_web__template_parse_list(sh__parser *p, sh__node **out, const char *const *stops, size_t nstops,
	sh__stop *stop)
{
	sh__node **tail = out;
	*out = NULL;
	*stop = (sh__stop){ 0 };
	for (;;) {
		sh__tok t;
		int rc = sh_web__next_tok(p, &t);
		if (rc < 0)
			return rc;
		sh__node *node = NULL;
		switch (t.kind) {
		case SH__TOK_EOF:
			return 0;
		case SH__TOK_TEXT:
			if ((node = sh_web__node_new(SH__NODE_TEXT)) == NULL
				|| (node->text = malloc(t.len > 0 ? t.len : 1)) == NULL) {
				free(node);
				return sh_web__oom(p);
			}
			memcpy(node->text, t.text, t.len);
			node->len = t.len;
			break;
		case SH__TOK_VAR:
			rc = sh_web__var(p, &t, &node);
			break;
		case SH__TOK_BLOCK:
			rc = sh_web__block(p, &t, &node, stops, nstops, stop);
			break;
		}
		if (node != NULL) {
			*tail = node;
			tail = &node->next;
		}
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
}

int sh_web__template_parse(sh__node **out, const char *label, const char *source, size_t length)
{
	sh__parser p = { label, source, length, 0, 1, 1, 0, 0, false, false, false, NULL, 0 };
	sh__stop stop;
	int rc = sh_web__template_parse_list(&p, out, NULL, 0, &stop);
	for (size_t i = 0; i < p.block_count; i++)
		free(p.block_names[i]);
	free(p.block_names);
	if (rc < 0) {
		sh_web__nodes_free(*out);
		*out = NULL;
	}
	return rc;
}
