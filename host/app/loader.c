/*
 * loader.c: loads and unloads one plugin, in two steps as Django loads
 * apps: opening it (the safety check, dlopen, the ABI symbol, the optional
 * early() hook, before the models are prepared) and then ready(), once
 * class_prepared has gone out for every model; on the way out teardown(),
 * the disconnection of every connection the app owns, a wait for running
 * sends, and dlclose. Before each call into plugin code it tells the probe
 * (probe.c) which step begins, so that a crash names the plugin.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "../base/clock.h"

typedef int (*sh__ready_fn)(sh_app *app);
typedef int (*sh__early_fn)(sh_app *app);
typedef void (*sh__teardown_fn)(sh_app *app);

/* Explains a failed dlopen: a clearer word than dlerror's for a file that
 * is not ELF at all, dlerror's text (`why`) otherwise. */
static int sh_app__dlopen_failed(const char *path, const char *why)
{
	unsigned char magic[4] = { 0 };
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(magic, 1, sizeof magic, f) : 0;
	if (f != NULL)
		fclose(f);
	if (f != NULL && (n != sizeof magic || memcmp(magic, "\177ELF", 4) != 0))
		return sh_error_set(SH_ELOAD, "not a shared object (no ELF header)");
	return sh_error_set(SH_ELOAD, "dlopen failed: %s", why);
}

/* Looks `name` up; the caller reads dlerror()'s text on failure. */
static void *sh_app__symbol(void *handle, const char *name)
{
	dlerror();
	return dlsym(handle, name);
}

/*
 * Checks the ABI a plugin recorded (sh_plugin_abi, the major, and
 * sh_plugin_abi_minor, 0 when absent: a plugin built before minors) against
 * the host's: the same major and a minor at most the host's. A refusal says
 * which rule failed and how to rebuild.
 */
static int sh_app__check_abi(void *handle)
{
	const int *major = sh_app__symbol(handle, SH_PLUGIN_ABI_SYMBOL);
	if (major == NULL)
		return sh_error_set(SH_EABI,
			"missing symbol %s (build the plugin with SH_PLUGIN_ABI from <sighost/app.h>)",
			SH_PLUGIN_ABI_SYMBOL);
	const int *minor = sh_app__symbol(handle, SH_PLUGIN_ABI_MINOR_SYMBOL);
	if (*major == SH_ABI_MAJOR && (minor == NULL || *minor <= SH_ABI_MINOR))
		return 0;
	char built[32];
	if (minor != NULL)
		snprintf(built, sizeof built, "%d.%d", *major, *minor);
	else
		snprintf(built, sizeof built, "%d", *major);
	return sh_error_set(SH_EABI, "ABI mismatch: built for ABI %s, host is %d.%d (%s): "
		"rebuild the plugin against sighost %s: pkg-config --modversion sighost",
		built, SH_ABI_MAJOR, SH_ABI_MINOR,
		*major != SH_ABI_MAJOR ? "another major" : "a newer minor, which this host lacks",
		SH_VERSION);
}

/* Calls an entry point (`name`: "ready", "early"); on failure says why
 * with the plugin's own message. */
static int sh_app__call_entry(sh_app *app, sh__ready_fn fn, const char *name)
{
	sh_error_clear();
	int rc = fn(app);
	if (rc >= 0)
		return 0;
	char why[1024];
	const sh_error *e = sh_error_last();
	snprintf(why, sizeof why, "%s", e->message[0] ? e->message : sh_error_name(rc));
	return sh_error_set(rc, "%s() failed: %s", name, why);
}

/* Drops what a plugin connected and closes it. */
static void sh_app__close(sh_app *app)
{
	sh_hub *hub = app->project->hub;
	sh_hub_disconnect_owner(hub, app->label);
	sh_hub_synchronize(hub);
	dlclose(app->handle);
	app->handle = NULL;
	app->teardown = NULL;
	app->ready_fn = NULL;
	app->started = false;
}

/* Closes the plugin after a failed step, keeping that step's message. */
static int sh_app__abandon(sh_app *app, int rc)
{
	char why[1024];
	snprintf(why, sizeof why, "%s", sh_error_last()->message);
	sh_app__app_unload(app);
	return sh_error_set(rc, "%s", why);
}

int sh_app__app_open(sh_app *app, sh__safety *cache)
{
	if (app->library_path == NULL)
		return 0;
	int rc = sh_app__path_is_safe(app->library_path, cache);
	if (rc < 0)
		return rc;
	sh_app__probe_step(app->project, app, SH__STEP_OPEN);
	uint64_t start = sh__monotonic_ns();
	app->handle = dlopen(app->library_path, RTLD_NOW | RTLD_LOCAL);
	if (app->handle == NULL) {
		char why[1024];
		snprintf(why, sizeof why, "%s", dlerror());
		return sh_app__dlopen_failed(app->library_path, why);
	}
	rc = sh_app__check_abi(app->handle);
	if (rc == 0) {
		*(void **)&app->ready_fn = sh_app__symbol(app->handle, SH_PLUGIN_READY_SYMBOL);
		if (app->ready_fn == NULL)
			rc = sh_error_set(SH_ELOAD, "missing symbol: %s", dlerror());
	}
	sh__early_fn early_fn = NULL;
	if (rc == 0) {
		*(void **)&app->teardown = sh_app__symbol(app->handle, SH_PLUGIN_TEARDOWN_SYMBOL);
		*(void **)&early_fn = sh_app__symbol(app->handle, SH_PLUGIN_EARLY_SYMBOL);
		if (early_fn != NULL) {
			sh_app__probe_step(app->project, app, SH__STEP_EARLY);
			rc = sh_app__call_entry(app, early_fn, "early");
		}
		app->started = rc == 0 && early_fn != NULL;
	}
	app->open_ns = sh__monotonic_ns() - start;
	return rc < 0 ? sh_app__abandon(app, rc) : 0;
}

int sh_app__app_ready(sh_app *app)
{
	if (app->library_path != NULL) {
		if (app->handle != NULL)
			sh_app__probe_step(app->project, app, SH__STEP_READY);
		uint64_t start = sh__monotonic_ns();
		int rc = app->handle != NULL ? sh_app__call_entry(app, app->ready_fn, "ready")
			: sh_error_set(SH_ELOAD, "the plugin is not open");
		app->ready_ns = sh__monotonic_ns() - start;
		if (rc < 0)
			return sh_app__abandon(app, rc);
		app->started = true;
	}
	app->ready = true;
	return 0;
}

void sh_app__app_teardown(sh_app *app)
{
	if (app->handle == NULL || app->teardown == NULL || !app->started)
		return;
	sh_app__probe_step(app->project, app, SH__STEP_TEARDOWN);
	app->teardown(app);
}

void sh_app__app_unload(sh_app *app)
{
	if (app->handle == NULL) {
		app->ready = false;
		return;
	}
	sh_app__app_teardown(app);
	sh_app__close(app);
	app->ready = false;
}
