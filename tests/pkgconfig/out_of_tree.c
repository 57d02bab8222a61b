/*
 * out_of_tree.c: installs sighost into a temporary root (meson install
 * --destdir), builds a plugin there with only
 * `cc -shared -fPIC plugin.c $(pkg-config --cflags --libs sighost)`, loads it
 * with dlopen and checks that its receiver runs on a send.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sighost/sys/sighost.h>

static int run(const char *command)
{
	int rc = system(command);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* Installs the build into a new temporary root (meson install --destdir),
 * stored in root (of the "/tmp/sighost-pc-XXXXXX" form). */
static void stage(char *root)
{
	const char *build = getenv("SIGHOST_BUILD_ROOT");
	cr_assert(build != NULL, "run through meson test");
	cr_assert(mkdtemp(root) != NULL);
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "meson install -C '%s' --destdir '%s' --no-rebuild --quiet >'%s/install.log' 2>&1",
		build, root, root);
	cr_assert_eq(run(cmd), 0, "meson install failed: see %s/install.log", root);
}

/* Compiles `src` into root/out with nothing but cc, `flags` ("-shared
 * -fPIC" or "") and `pkg-config --cflags --libs sighost` against the
 * sighost.pc staged under root (found wherever the prefix and libdir put
 * it; pkg-config pointed at the staged root). */
static void build_against(const char *root, const char *src, const char *flags, const char *out)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
		"set -e; pc=$(find '%s' -name sighost.pc | head -n1); test -n \"$pc\"; "
		"export PKG_CONFIG_PATH=$(dirname \"$pc\") PKG_CONFIG_SYSROOT_DIR='%s'; "
		"cc -std=c17 -Wall -Wextra -Werror %s -x c '%s' $(pkg-config --cflags --libs sighost) "
		"-o '%s/%s' -Wl,-rpath,$(pkg-config --variable=libdir sighost) 2>'%s/cc.log'",
		root, root, flags, src, root, out, root);
	cr_assert_eq(run(cmd), 0, "building %s with pkg-config failed: see %s/cc.log", out, root);
}

static void unstage(const char *root)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	run(cmd);
}

Test(pkgconfig, out_of_tree_plugin_builds_loads_and_receives)
{
	const char *src = getenv("SIGHOST_PLUGIN_SOURCE");
	cr_assert(src != NULL, "run through meson test");
	char root[] = "/tmp/sighost-pc-XXXXXX";
	stage(root);
	build_against(root, src, "-shared -fPIC", "plugin.so");

	char path[512];
	snprintf(path, sizeof path, "%s/plugin.so", root);
	void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	cr_assert(handle != NULL, "dlopen: %s", dlerror());
	int (*connect_all)(sh_hub *) = (int (*)(sh_hub *))dlsym(handle, "plugin_connect");
	cr_assert(connect_all != NULL, "plugin_connect not exported");

	sh_hub *hub;
	cr_assert_eq(sh_hub_new(&hub), 0);
	cr_assert_eq(connect_all(hub), 0, "%s", sh_error_last()->message);
	sh_signal *paid;
	cr_assert_eq(sh_signal_declare(&paid, hub, "billing.invoice_paid", "billing"), 0);
	sh_responses out = SH_RESPONSES_INIT;
	cr_assert_eq(sh_signal_send(paid, NULL, NULL, &out), 0);
	cr_assert_eq(out.count, 1);
	cr_assert_eq(*(int *)out.items[0].payload, 1, "the plugin's receiver ran once");
	sh_responses_dispose(&out);
	sh_hub_free(hub);
	dlclose(handle);
	unstage(root);
}

/* Runs `command`, stores its first line of output in out (without the
 * newline); returns its exit status. */
static int run_line(const char *command, char *out, size_t size)
{
	FILE *p = popen(command, "r");
	if (p == NULL)
		return -1;
	out[0] = '\0';
	if (fgets(out, (int)size, p) != NULL)
		out[strcspn(out, "\n")] = '\0';
	int rc = pclose(p);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* The command printing variable %2 of the sighost.pc staged under %1. */
#define PC_VARIABLE "pc=$(find '%s' -name sighost.pc | head -n1); test -n \"$pc\" && " \
	"PKG_CONFIG_PATH=$(dirname \"$pc\") pkg-config --variable=%s sighost"

Test(pkgconfig, variables_name_the_abi_and_the_plugin_directory)
{
	char root[] = "/tmp/sighost-pc-XXXXXX";
	stage(root);
	char cmd[4096], line[512];
	snprintf(cmd, sizeof cmd, PC_VARIABLE, root, "abi");
	cr_assert_eq(run_line(cmd, line, sizeof line), 0);
	char want[32];
	snprintf(want, sizeof want, "%d.%d", SH_ABI_MAJOR, SH_ABI_MINOR);
	cr_assert_str_eq(line, want, "the ABI of include/sighost/common.h");

	snprintf(cmd, sizeof cmd, PC_VARIABLE, root, "pluginsdir");
	cr_assert_eq(run_line(cmd, line, sizeof line), 0);
	char libdir[512];
	snprintf(cmd, sizeof cmd, PC_VARIABLE, root, "libdir");
	cr_assert_eq(run_line(cmd, libdir, sizeof libdir), 0);
	cr_assert(libdir[0] == '/', "libdir is absolute: %s", libdir);
	char expect[600];
	snprintf(expect, sizeof expect, "%s/sighost/plugins", libdir);
	cr_assert_str_eq(line, expect);
	unstage(root);
}

/* The host-only API (include/sighost/sys/) is installed too: a program that
 * embeds the host builds against it with pkg-config and runs. */
Test(pkgconfig, out_of_tree_host_tool_builds_against_the_sys_headers_and_runs)
{
	const char *src = getenv("SIGHOST_HOST_TOOL_SOURCE");
	cr_assert(src != NULL, "run through meson test");
	char root[] = "/tmp/sighost-pc-XXXXXX";
	stage(root);
	/* An executable linked against a sanitized libsighost must carry the
	 * sanitizers' runtime itself (a plugin gets it from its host). */
	const char *sanitize = getenv("SIGHOST_SANITIZE");
	char flags[128] = "";
	if (sanitize != NULL && sanitize[0] != '\0' && strcmp(sanitize, "none") != 0)
		snprintf(flags, sizeof flags, "-fsanitize=%s", sanitize);
	build_against(root, src, flags, "tool");
	char cmd[4096], line[512];
	snprintf(cmd, sizeof cmd, "printf 'project: embedded\\n' >'%s/project.yaml' && '%s/tool' '%s/project.yaml' "
		"2>'%s/tool.log'", root, root, root, root);
	cr_assert_eq(run_line(cmd, line, sizeof line), 0, "the tool failed: see %s/tool.log", root);
	cr_assert_str_eq(line, "embedded", "the tool read and loaded the project");
	unstage(root);
}
