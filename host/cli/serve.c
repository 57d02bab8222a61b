/*
 * serve.c: `sighost serve`: reads and loads the project, builds the server
 * (routes of every app, settings of the project manifest, --listen and
 * --threads on top), starts it and says where, like Django's runserver,
 * then runs the main thread's loop until SIGINT or SIGTERM:
 *
 *   - SIGHUP, or a change of the project manifest (inotify on its
 *     directory, unless --no-watch), reloads the settings on this thread
 *     (sh_project_reload_settings: setting_changed per changed key), so
 *     reloads never overlap;
 *   - SIGINT or SIGTERM shuts down gracefully, in this order: the server
 *     stops accepting, finishes the requests in flight and drains its
 *     pool of async receivers (sh_server_free); then the plugins are torn
 *     down and unloaded and the database is closed (sh_project_free).
 *
 * The signals are blocked in every thread (the server's workers and the
 * async pool inherit the mask) and read from a signalfd here, so no
 * signal handler and no global state are needed.
 *
 * Exit status: 0 after a clean shutdown, 1 when the project or the server
 * cannot start, 2 for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "cli.h"
#include "log.h"
#include "project_open.h"
#include "../base/clock.h"

/* Prints the server's problems like sh_cli_print_problems(). */
static void sh_cli__print_server_problems(const sh_server *server)
{
	size_t n = sh_server_problem_count(server);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s\n", sh_server_problem(server, i)->text);
	fprintf(stderr, "sighost serve: %zu problem%s found\n", n, n == 1 ? "" : "s");
}

/* How long the manifest must stay quiet after a change before it is read
 * again: an editor's save may take several writes. */
#define SH__SETTLE_MS 100

/* Tells systemd (Type=notify) what serve is doing: READY=1, RELOADING=1,
 * STOPPING=1 (sd_notify(3)); only when it asked, by setting NOTIFY_SOCKET. */
static void sh_cli__notify(const char *state)
{
	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	if (strcmp(state, "RELOADING=1") == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)ts.tv_sec
			* 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
	} else {
		sd_notify(0, state);
	}
}

/* Reloads the settings; the library logs the outcome (and any problem). */
static void sh_cli__reload(sh_project *project, const char *why)
{
	sh_hub_log(sh_project_hub(project), SH_LOG_INFO, "sighost.server",
		"%s: reloading the settings", why);
	sh_cli__notify("RELOADING=1");
	sh_project_reload_settings(project);
	sh_cli__notify("READY=1");
}

/* Starts watching the manifest; without a watch, SIGHUP still reloads.
 * Returns the descriptor to poll, -1 when not watching. */
static int sh_cli__watch(sh_project *project)
{
	int fd = -1;
	if (sh_project_watch(&fd, project) < 0) {
		sh_hub_log(sh_project_hub(project), SH_LOG_WARNING, "sighost.server",
			"not watching the project manifest (%s); SIGHUP reloads the settings",
			sh_error_last()->message);
		return -1;
	}
	return fd;
}

/* The main thread's loop: reloads on SIGHUP and on changes of the manifest
 * (when `wfd`, the watch, is not -1), returns on SIGINT or SIGTERM. */
static void sh_cli__run(int sigfd, int wfd, sh_project *project)
{
	sh_hub *hub = sh_project_hub(project);
	long long due = -1;   /* when a pending change of the manifest is read */
	for (;;) {
		struct pollfd fds[2] = { { sigfd, POLLIN, 0 }, { wfd, POLLIN, 0 } };
		long long left = due < 0 ? -1 : due - sh__monotonic_ms();
		int n = poll(fds, wfd >= 0 ? 2 : 1, due < 0 ? -1 : left > 0 ? (int)left : 0);
		if (n < 0 && errno != EINTR) {
			sh_hub_log(hub, SH_LOG_ERROR, "sighost.server", "poll: %s; shutting down",
				strerror(errno));
			return;
		}
		if (n > 0 && wfd >= 0 && (fds[1].revents & POLLIN) != 0) {
			int changed = sh_project_watch_changed(project);
			if (changed < 0) {
				sh_hub_log(hub, SH_LOG_WARNING, "sighost.server", "%s; no longer "
					"watching (SIGHUP reloads the settings)", sh_error_last()->message);
				wfd = -1;
			} else if (changed > 0) {
				due = sh__monotonic_ms() + SH__SETTLE_MS;   /* from the last change */
			}
		}
		if (due >= 0 && sh__monotonic_ms() >= due) {
			due = -1;
			sh_cli__reload(project, sh_project_path(project));
		}
		struct signalfd_siginfo info;
		if (n <= 0 || (fds[0].revents & POLLIN) == 0
			|| read(sigfd, &info, sizeof info) != (ssize_t)sizeof info)
			continue;
		if (info.ssi_signo == SIGHUP) {
			due = -1;   /* this reload reads any pending change too */
			sh_cli__reload(project, "SIGHUP");
			continue;
		}
		if (info.ssi_signo == SIGINT)
			fprintf(stderr, "\n");   /* after the terminal's ^C */
		sh_hub_log(hub, SH_LOG_INFO, "sighost.server", "%s: shutting down",
			info.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
		return;
	}
}

/*
 * Refuses to serve a database that is behind its migrations, naming them
 * (Django's runserver only warns; a host that serves models must not run
 * on a schema older than its manifests). With --migrate, applies them
 * first. Returns 0 when the database is up to date.
 */
static int sh_cli__ensure_migrated(sh_project *project, bool migrate)
{
	sh_plan_step *plan = NULL;
	size_t count = 0;
	int rc = sh_migrate_unapplied(&plan, &count, project);
	if (rc > 0 && migrate) {
		sh_migrate_plan_free(plan);
		plan = NULL;
		sh_migrate_graph *graph = NULL;
		rc = sh_migrate_load(&graph, project);
		if (rc == 0)
			rc = sh_migrate_run(graph, NULL);
		sh_migrate_free(graph);
		if (rc == 0) {
			printf("Applied %zu migration%s.\n", count, count == 1 ? "" : "s");
			rc = sh_migrate_unapplied(&plan, &count, project);
		}
	}
	if (rc < 0) {
		fprintf(stderr, "sighost serve: migrations: %s\n", sh_error_last()->message);
		return rc;
	}
	if (rc > 0) {
		fprintf(stderr, "sighost serve: you have %zu unapplied migration%s:\n", count,
			count == 1 ? "" : "s");
		for (size_t i = 0; plan != NULL && i < count; i++)
			fprintf(stderr, "  %s.%s\n", plan[i].app_label, plan[i].name);
		fprintf(stderr, "Run 'sighost migrate' to apply them, or start with "
			"'sighost serve --migrate'.\n");
		rc = SH_EINVAL;
	}
	sh_migrate_plan_free(plan);
	return rc;
}

static int sh_cli__serve_parse(int argc, char **argv, const char **settings, sh_server_opts *opts,
	bool *watch, bool *migrate)
{
	static const struct option options[] = {
		SH_CLI_SETTINGS_OPTION,
		{ "listen", 1, NULL, 'l' },
		{ "threads", 1, NULL, 't' },
		{ "no-watch", 0, NULL, 'W' },
		{ "migrate", 0, NULL, 'M' },
		{ NULL, 0, NULL, 0 }
	};
	for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
		if (c == 's') {
			*settings = optarg;
		} else if (c == 'W') {
			*watch = false;
		} else if (c == 'M') {
			*migrate = true;
		} else if (c == 'l') {
			opts->listen = optarg;
		} else if (c == 't') {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end != '\0' || n < 1 || n > 256) {
				fprintf(stderr, "sighost serve: --threads takes a number from 1 to 256\n");
				return 2;
			}
			opts->threads = (unsigned)n;
		} else {
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sighost serve: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

int sh_cli_serve(int argc, char **argv)
{
	const char *settings = NULL;
	sh_server_opts opts = SH_SERVER_OPTS_INIT;
	bool watch = true, migrate = false;
	int rc = sh_cli__serve_parse(argc, argv, &settings, &opts, &watch, &migrate);
	if (rc != 0)
		return rc;
	sh_cli_log_timestamps(true);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sigfd < 0) {
		fprintf(stderr, "sighost serve: signalfd: %s\n", strerror(errno));
		return 1;
	}

	sh_project *project;
	project = sh_cli_project(settings, true, "serve");
	if (project == NULL) {
		close(sigfd);
		return 1;
	}
	if (sh_cli__ensure_migrated(project, migrate) < 0) {
		sh_project_free(project);
		close(sigfd);
		return 1;
	}
	sh_server *server = NULL;
	rc = sh_server_new(&server, project, &opts);
	if (rc < 0) {
		if (server != NULL && sh_server_problem_count(server) > 0)
			sh_cli__print_server_problems(server);
		else
			fprintf(stderr, "sighost serve: %s\n", sh_error_last()->message);
		sh_server_free(server);
		sh_project_free(project);
		close(sigfd);
		return 1;
	}
	if (sh_server_start(server) < 0) {
		fprintf(stderr, "sighost serve: %s\n", sh_error_last()->message);
		sh_server_free(server);
		sh_project_free(project);
		close(sigfd);
		return 1;
	}
	/* watch before saying we are up: an edit made from then on is seen */
	int wfd = watch ? sh_cli__watch(project) : -1;
	const char *host = sh_server_host(server);
	bool v6 = strchr(host, ':') != NULL;
	size_t routes = sh_router_route_count(sh_server_router(server));
	printf("sighost %s, project '%s' (%s): %zu app%s, %zu route%s\n", sh_version(),
		sh_project_name(project), sh_project_path(project), sh_project_app_count(project),
		sh_project_app_count(project) == 1 ? "" : "s", routes, routes == 1 ? "" : "s");
	printf("Starting development server at http://%s%s%s:%u/\n", v6 ? "[" : "", host,
		v6 ? "]" : "", sh_server_port(server));
	printf("Quit the server with CONTROL-C.\n");
	fflush(stdout);
	sh_cli__notify("READY=1");

	sh_cli__run(sigfd, wfd, project);
	sh_cli__notify("STOPPING=1");
	close(sigfd);
	/* stop accepting, finish the requests in flight, drain the async pool */
	sh_server_free(server);
	/* teardown() of every plugin, unload, then close the database */
	sh_project_free(project);
	return 0;
}
