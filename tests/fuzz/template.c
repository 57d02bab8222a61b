/*
 * template.c: libFuzzer target for the template engine. The input is a
 * template source; when it compiles it is rendered against a fixed
 * context with strings (HTML included), numbers, lists and nested objects.
 */
#include <stdint.h>
#include <stdlib.h>

#include <sighost/sys/sighost.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sh_hub *hub;
static json_t *context;

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
	sh_template *t;
	if (sh_template_compile(&t, hub, "fuzz.html", (const char *)data, size) == 0) {
		char *out = NULL;
		size_t length = 0;
		if (sh_template_render(&out, &length, t, context) == 0 && out == NULL)
			abort();
		free(out);
		sh_template_free(t);
	}
	return 0;
}
