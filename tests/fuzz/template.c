/*
 * template.c: libFuzzer target for the template engine. The input is a
 * template source; when it compiles it is rendered against a fixed
 * context with strings (HTML included), numbers, lists and nested objects.
 * It is added to a fresh template cache as the project's "fuzz.html",
 * beside "base.html" (blocks, block.super) and "part.html" (an include),
 * so {% extends %}, {% block %} and {% include %} in the input reach real
 * templates, and names it gives of itself reach cycles and the nesting
 * bound. The cache's folder does not exist: other names are not found.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sighost/sys/sighost.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sh_hub *hub;
static json_t *context;

static const char base[] = "<h1>{% block title %}T{% endblock %}</h1>{% for i in items %}"
	"{% block row %}[{{ i }}]{% endblock %}{% endfor %}{% include 'part.html' with x=name %}";
static const char part[] = "{{ x }}{% block p %}{{ block.super }}{% endblock %}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (hub == NULL) {
		if (sh_hub_new(&hub) < 0)
			abort();
		context = json_pack("{s:s, s:i, s:b, s:n, s:[s,s,i], s:{s:s, s:[{s:s}]}}",
			"name", "<b>Ada</b> & \"co\"", "count", 3, "flag", 1, "nothing",
			"items", "a", "<i>", 7, "alert", "title", "Fire", "tags", "name", "urgent");
		if (context == NULL)
			abort();
	}
	sh_templates *cache;
	if (sh_templates_new(&cache, hub) < 0 || sh_templates_set_dir(cache, "/nonexistent") < 0
		|| sh_templates_add(cache, NULL, "base.html", base, strlen(base)) < 0
		|| sh_templates_add(cache, NULL, "part.html", part, strlen(part)) < 0)
		abort();
	const sh_template *t;
	if (sh_templates_add(cache, NULL, "fuzz.html", (const char *)data, size) == 0
		&& sh_templates_get(&t, cache, NULL, "fuzz.html") == 0) {
		char *out = NULL;
		size_t length = 0;
		if (sh_template_render(&out, &length, t, context) == 0 && out == NULL)
			abort();
		free(out);
	}
	sh_templates_free(cache);
	return 0;
}
