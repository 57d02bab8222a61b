/*
 * plugin_load.c: how long the host takes to load 100 small plugins and
 * call their ready(), beside bare dlopen + dlsym of the same files, in the
 * same run. Not a test: it prints figures and asserts nothing.
 *
 * Setup: 100 copies of the bundled alert.so (one SH_RECEIVER on
 * post_save) in a scratch plugin directory, each with its manifest
 * (label pNNN), and a project manifest installing all of them. Copies,
 * not one file, so each dlopen really maps a new object.
 *
 * Each round measures, in alternating order:
 *   bare  dlopen(RTLD_NOW | RTLD_LOCAL) + dlsym(sh_plugin_abi) + dlsym(ready)
 *         of the 100 files (then dlclose, not timed);
 *   load  sh_project_load(): safety checks, dlopen, ABI check, ready(),
 *         which connects the receiver (then sh_project_free, not timed);
 *   read  sh_project_read(): the 101 manifests, validation, ordering.
 * Medians over the rounds are printed, with load/bare and
 * (read+load)/bare ratios. Usage: bench_plugin_load [ROUNDS] (default 31).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sighost/sys/sighost.h>

#ifndef BENCH_PLUGIN
#error "BENCH_PLUGIN: the path of the plugin to copy, set by meson"
#endif

#define PLUGINS 100

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	if (in == NULL || out == NULL) {
		if (in)
			fclose(in);
		if (out)
			fclose(out);
		return -1;
	}
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	return fclose(out) == 0 && chmod(to, 0755) == 0 ? 0 : -1;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Lays out the scratch project; fills paths[] with the .so paths. */
static int make_project(const char *dir, char paths[PLUGINS][512])
{
	char path[600], text[256];
	snprintf(path, sizeof path, "%s/plugins", dir);
	if (mkdir(path, 0755) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/project.yaml", dir);
	FILE *project = fopen(path, "w");
	if (project == NULL)
		return -1;
	fprintf(project, "project: bench\nplugin_dirs: [plugins]\ninstalled_apps:\n");
	for (int i = 0; i < PLUGINS; i++) {
		snprintf(paths[i], sizeof paths[i], "%s/plugins/p%03d.so", dir, i);
		snprintf(path, sizeof path, "%s/plugins/p%03d.yaml", dir, i);
		snprintf(text, sizeof text, "label: p%03d\nlibrary: p%03d.so\nabi: %d\n", i, i,
			SH_ABI_VERSION);
		if (copy_file(BENCH_PLUGIN, paths[i]) != 0 || write_text(path, text) != 0) {
			fclose(project);
			return -1;
		}
		fprintf(project, "  - p%03d\n", i);
	}
	return fclose(project);
}

static double bare_round(char paths[PLUGINS][512])
{
	void *handles[PLUGINS];
	double start = now_ms();
	for (int i = 0; i < PLUGINS; i++) {
		handles[i] = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
		if (handles[i] == NULL || dlsym(handles[i], "sh_plugin_abi") == NULL
				|| dlsym(handles[i], "ready") == NULL) {
			fprintf(stderr, "bare dlopen failed: %s\n", dlerror());
			exit(1);
		}
	}
	double took = now_ms() - start;
	for (int i = 0; i < PLUGINS; i++)
		dlclose(handles[i]);
	return took;
}

static void host_round(const char *manifest, double *read_ms, double *load_ms)
{
	sh_project *project;
	if (sh_project_new(&project) < 0)
		exit(1);
	double t0 = now_ms();
	int rc = sh_project_read(project, manifest);
	double t1 = now_ms();
	if (rc == 0)
		rc = sh_project_load(project);
	double t2 = now_ms();
	if (rc < 0 || sh_project_app_count(project) != PLUGINS) {
		fprintf(stderr, "host load failed: %s\n", sh_error_last()->message);
		exit(1);
	}
	sh_project_free(project);
	*read_ms = t1 - t0;
	*load_ms = t2 - t1;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, by_value);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 31;
	if (rounds < 1 || rounds > 1000)
		rounds = 31;
	char dir[] = "/tmp/sighost-bench-XXXXXX";
	static char paths[PLUGINS][512];
	if (mkdtemp(dir) == NULL || make_project(dir, paths) != 0) {
		perror("bench setup");
		return 1;
	}
	char manifest[600];
	snprintf(manifest, sizeof manifest, "%s/project.yaml", dir);
	double *bare = calloc((size_t)rounds, sizeof *bare);
	double *load = calloc((size_t)rounds, sizeof *load);
	double *reads = calloc((size_t)rounds, sizeof *reads);
	double *both = calloc((size_t)rounds, sizeof *both);
	bare_round(paths);   /* warm the page cache and the loader */
	host_round(manifest, &reads[0], &load[0]);
	for (int r = 0; r < rounds; r++) {
		if (r % 2 == 0) {
			bare[r] = bare_round(paths);
			host_round(manifest, &reads[r], &load[r]);
		} else {
			host_round(manifest, &reads[r], &load[r]);
			bare[r] = bare_round(paths);
		}
		both[r] = reads[r] + load[r];
	}
	double mb = median(bare, rounds), ml = median(load, rounds);
	double mr = median(reads, rounds), mboth = median(both, rounds);
	printf("plugin load, %d plugins, %d rounds (medians)\n", PLUGINS, rounds);
	printf("  bare dlopen+dlsym         %8.3f ms\n", mb);
	printf("  host load+ready           %8.3f ms   ratio %.2fx bare\n", ml, ml / mb);
	printf("  host manifests read       %8.3f ms\n", mr);
	printf("  host read+load+ready      %8.3f ms   ratio %.2fx bare\n", mboth, mboth / mb);
	printf("  per plugin (read+load)    %8.1f us\n", mboth * 1000 / PLUGINS);
	for (int i = 0; i < PLUGINS; i++) {
		unlink(paths[i]);
		char yaml[520];
		snprintf(yaml, sizeof yaml, "%.*s.yaml", (int)strlen(paths[i]) - 3, paths[i]);
		unlink(yaml);
	}
	char sub[600];
	snprintf(sub, sizeof sub, "%s/plugins", dir);
	rmdir(sub);
	unlink(manifest);
	rmdir(dir);
	free(bare);
	free(load);
	free(reads);
	free(both);
	return 0;
}
