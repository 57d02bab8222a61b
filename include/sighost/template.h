/*
 * template.h: sighost's small Django-flavoured template engine.
 *
 * The language, a subset of Django's:
 *
 *   {{ name }}  {{ alert.title }}  {{ items.0 }}   a variable: a path of
 *               object keys and list indexes into the context; a missing
 *               step gives "" (Django's string_if_invalid). Strings print
 *               as they are, numbers as numbers, true/false/null as True,
 *               False and None (Python's spelling, as Django prints them),
 *               lists and objects as compact JSON.
 *   {{ x|safe }}  every variable is HTML-escaped (& < > " ' become
 *               entities) unless its last filter is `safe`. Filters:
 *               safe, escape, length, default:"text" (or default:var).
 *   {% if a %} ... {% elif not b %} ... {% else %} ... {% endif %}
 *               conditions: a variable or a literal ("text", 'text', 12,
 *               True, False, None), `not`, `==`, `!=`, `and`, `or`, in
 *               Django's precedence (or < and < not < comparison). Truth is
 *               Python's: null, false, 0, "", [] and {} are false.
 *   {% for x in list %} ... {% empty %} ... {% endfor %}
 *               loops over a list (anything else counts as empty), with
 *               forloop.counter (from 1), counter0, revcounter, revcounter0,
 *               first, last and parentloop inside.
 *   {# a comment #}  {% comment %} ... {% endcomment %}
 *   {% extends "base.html" %}  (or a variable) must be the first tag; the
 *               template then renders as its parent does, with the
 *               parent's {% block NAME %} ... {% endblock %} replaced by
 *               its own blocks of the same name; {{ block.super }} inside a
 *               block renders the parent's version. Chains of parents work
 *               as in Django; block names are identifiers, unique in a
 *               template.
 *   {% include "part.html" %}  {% include "part.html" with a=x b="y" %}
 *               {% include "part.html" with a=x only %}
 *               renders another template there, with the current context
 *               (loop variables included) plus the `with` values, or with
 *               only the `with` values.
 *
 * Names in extends and include. A template of a cache (sh_templates_get,
 * sh_templates_add) finds the templates it names in the same cache: first
 * among its app's templates, then among the project's (the cache's folder,
 * sh_templates_set_dir). A string starting with "./" or "../" is
 * relative to the folder of the template that gives it (Django's
 * construct_relative_path). A parent already in the chain of the render
 * is skipped for the next place (Django's extends history: an app's
 * "base.html" may extend the project's "base.html"); when none is left the
 * render fails naming the cycle. A template compiled from a string
 * (sh_template_compile) cannot name other templates: rendering such a tag
 * fails. At most 32 templates may be in progress in one render (the
 * template, its parents, its includes, nested): past that the render
 * fails, so an include of itself without end is an error, not a crash.
 *
 * A syntax error is reported at compile time, never at render time, with
 * the file (or name), line and column: "templates/pages/index.html:3:5:
 * unknown tag 'endfi' (did you mean 'endif'?)".
 *
 * App templates. The template `name` of app `label` is the file
 * templates/<label>/<name> in the directory of the app's manifest (Django's
 * app_directories convention, which keeps apps that share a plugin
 * directory apart). Its full name, sh_template_name(), is "<label>/<name>",
 * and template_rendered is sent from the interned sender
 * "template:<label>/<name>". A name that is empty, absolute, not UTF-8,
 * has a ".." or "." component, an empty component, a backslash or a
 * control character is refused, and so is a file that resolves (through
 * symbolic links) outside the templates directory: no traversal.
 *
 * Rendering sends template_rendered (sh_template_rendered_args) before
 * producing the text, as Django's test instrumentation does, on the
 * rendering thread: for the template, then for each parent in turn (with
 * the same context), then for each included template when the render
 * reaches its tag (one per render: an include in a loop sends one per
 * round), with the context it renders with. Compiled templates are immutable: rendering the same
 * template from several threads at once is safe.
 */
#ifndef SIGHOST_TEMPLATE_H
#define SIGHOST_TEMPLATE_H

#include <jansson.h>

#include "app.h"
#include "common.h"
#include "signal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The prefix of a template's sender name: "template:pages/index.html". */
#define SH_TEMPLATE_SENDER_PREFIX "template:"

/* A cache of compiled app templates. */
typedef struct sh_templates sh_templates;

/*
 * Compiles `length` bytes of `source` as a template called `name`
 * (copied). When `hub` is non-NULL, every render sends template_rendered
 * on it from the sender SH_TEMPLATE_SENDER_PREFIX `name`; with NULL, no
 * signal is sent. Stores the template in *out (free with
 * sh_template_free). Returns 0, SH_EINVAL for a NULL or empty name or a
 * syntax error ("name:line:col: message" in the error channel), SH_ENOMEM.
 */
SH_API int sh_template_compile(sh_template **out, sh_hub *hub, const char *name,
	const char *source, size_t length);

/* Frees a template made by sh_template_compile(). NULL is a no-op. A
 * template of a cache belongs to the cache: never free it. */
SH_API void sh_template_free(sh_template *template_);

/* Returns the template's name ("pages/index.html" for an app template).
 * Owned by the template. */
SH_API const char *sh_template_name(const sh_template *template_);

/* Returns the file the template was read from, NULL for a compiled string.
 * Owned by the template. */
SH_API const char *sh_template_origin(const sh_template *template_);

/*
 * Renders the template with `context` (a JSON object; NULL for an empty
 * one): sends template_rendered (when the template has a hub), then
 * renders. Stores the text in *out (NUL-terminated, the caller frees it
 * with free()) and its length in *length when length is non-NULL. Returns
 * 0, SH_EINVAL for a context that is not an object, SH_ENOMEM, or the code
 * of a failing template_rendered receiver (nothing rendered then); and for
 * {% extends %} and {% include %}: SH_ENOTFOUND (no such template),
 * SH_EINVAL (a cycle of parents, more than 32 templates in progress, a
 * name that is not a non-empty string, {{ block.super }} in a template
 * that was not extended, a template compiled from a string), each naming
 * the file, line and column of the tag. *out is NULL on failure.
 */
SH_API int sh_template_render(char **out, size_t *length, const sh_template *template_,
	const json_t *context);

/* Returns the JSON object a render was given (an empty object for NULL);
 * borrowed, valid during the template_rendered send. */
SH_API const json_t *sh_context_json(const sh_context *context);

/* Creates an empty cache whose templates send template_rendered on `hub`
 * (NULL: none). Returns 0 and stores it in *out, or SH_ENOMEM. */
SH_API int sh_templates_new(sh_templates **out, sh_hub *hub);

/* Frees a cache and every template in it. No render may be running. NULL
 * is a no-op. */
SH_API void sh_templates_free(sh_templates *cache);

/*
 * Gives the cache the project's templates folder (copied; NULL: none):
 * the template `name` of the project is the file `dir`/`name`, found with
 * app NULL in sh_templates_get(), sends from "template:<name>", and is
 * where {% extends %} and {% include %} look after the app's own folder.
 * Call it before any render. Returns 0, SH_EINVAL for a NULL cache,
 * SH_ENOMEM.
 */
SH_API int sh_templates_set_dir(sh_templates *cache, const char *dir);

/*
 * Compiles `length` bytes of `source` as app `app`'s template `name` (the
 * project's when app is NULL) and keeps it in the cache, as if read from
 * a file (Django's locmem loader): sh_templates_get() and the extends and
 * include tags find it. Returns 0; SH_EINVAL for a refused name or a
 * syntax error ("<label>/<name>:line:col: ..."); SH_EEXISTS when the cache
 * holds that name already (read or added); SH_ENOMEM.
 */
SH_API int sh_templates_add(sh_templates *cache, const sh_app *app, const char *name,
	const char *source, size_t length);

/*
 * Stores in *out app `app`'s template `name` (see "App templates" above),
 * read and compiled on first use and kept by the cache (never freed by the
 * caller; valid until the cache is freed). Safe from several threads.
 * With app NULL, the project's template `name` (sh_templates_set_dir).
 * Returns 0, SH_EINVAL for a refused name or a syntax error (naming file,
 * line and column), or app NULL in a cache without a project folder;
 * SH_ENOTFOUND when the file does not exist, SH_EIO when
 * it cannot be read (or is larger than 4 MiB), SH_ENOMEM. Failures are not
 * cached: a fixed file is read on the next call.
 */
SH_API int sh_templates_get(const sh_template **out, sh_templates *cache, const sh_app *app,
	const char *name);

#ifdef __cplusplus
}
#endif

#endif
