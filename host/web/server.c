/*
 * server.c: the server's life (web.h): built from a loaded project (its
 * settings, the routes of every app, the template cache), started on a
 * listening socket it binds itself (so it can say why a bind failed and
 * which port 0 became), run by libmicrohttpd's thread pool with epoll,
 * with a pool of its own for async receivers (the hub's executor while
 * it runs), and stopped gracefully: stop accepting, let the requests in
 * flight end, close everything and join the threads, then drain the async
 * pool.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"

/* The memory libmicrohttpd gives each connection for its request line,
 * headers and read buffer; larger headers get 431 from it. libmicrohttpd
 * 0.9.75 zeroes the whole of it between two requests of a keep-alive
 * connection, so it is a cost per request: 32 KiB, its own default, as
 * much as nginx allows for headers by default (4 x 8 KiB). */
#define SH__CONNECTION_MEMORY (32u * 1024u)

int sh_server_new(sh_server **out, sh_project *project, const sh_server_opts *opts)
{
	if (out == NULL)
		return sh_error_set(SH_EINVAL, "sh_server_new: out is required");
	*out = NULL;
	if (project == NULL)
		return sh_error_set(SH_EINVAL, "sh_server_new: a project is required");
	if (opts != NULL && opts->version != SH_SERVER_OPTS_VERSION)
		return sh_error_set(SH_EINVAL, "sh_server_new: unknown sh_server_opts version %u",
			opts->version);
	sh_server *s = calloc(1, sizeof *s);
	if (s == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	s->project = project;
	s->hub = sh_project_hub(project);
	s->listen_fd = -1;
	atomic_init(&s->stopping, false);
	atomic_init(&s->in_flight, 0);
	s->request_started = sh_hub_builtin(s->hub, SH_REQUEST_STARTED);
	s->request_finished = sh_hub_builtin(s->hub, SH_REQUEST_FINISHED);
	s->got_request_exception = sh_hub_builtin(s->hub, SH_GOT_REQUEST_EXCEPTION);
	int rc = sh__server_config_read(s, opts);
	if (rc == 0)
		rc = sh_sender_intern(&s->handler, s->hub, SH_HANDLER_SENDER);
	if (rc == 0)
		rc = sh_templates_new(&s->templates, s->hub);
	if (rc == 0)
		rc = sh__web_set_copiers(s->hub);   /* async receivers of the request signals */
	if (rc == 0)
		rc = sh_router_new(&s->router);
	for (size_t i = 0; rc >= 0 && i < sh_project_app_count(project); i++) {
		rc = sh_router_add_app(s->router, sh_project_app_at(project, i));
		rc = rc == SH_EMANIFEST ? 0 : rc;
	}
	if (rc >= 0)
		rc = sh_router_resolve(s->router) == SH_ENOMEM ? SH_ENOMEM : 0;
	if (rc < 0) {
		sh_server_free(s);
		return rc;
	}
	*out = s;
	if (sh_server_problem_count(s) > 0) {
		const sh_problem *first = sh_server_problem(s, 0);
		return sh_error_set(first->code, "%s", first->text);
	}
	return 0;
}

size_t sh_server_problem_count(const sh_server *server)
{
	return server->problems.count + sh_router_problem_count(server->router);
}

const sh_problem *sh_server_problem(const sh_server *server, size_t index)
{
	if (index < server->problems.count)
		return &server->problems.items[index];
	return sh_router_problem(server->router, index - server->problems.count);
}

const sh_router *sh_server_router(const sh_server *server)
{
	return server->router;
}

const char *sh_server_host(const sh_server *server)
{
	return server->config.host;
}

unsigned sh_server_port(const sh_server *server)
{
	return server->daemon != NULL ? server->bound_port : (unsigned)atoi(server->config.port);
}

/* libmicrohttpd's own messages go to the hub's logger. */
static void sh__mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void sh__mhd_log(void *cls, const char *fmt, va_list ap)
{
	sh_server *s = cls;
	char message[1024];
	vsnprintf(message, sizeof message, fmt, ap);
	size_t n = strlen(message);
	while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r'))
		message[--n] = '\0';
	sh_hub_log(s->hub, SH_LOG_DEBUG, "sighost.server", "libmicrohttpd: %s", message);
}

/* Binds and listens on the configured address; the socket is stored in
 * s->listen_fd and its family in *family. */
static int sh__bind(sh_server *s, int *family)
{
	const sh__server_config *c = &s->config;
	struct addrinfo hints = { 0 }, *list = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int gai = getaddrinfo(c->host, c->port, &hints, &list);
	if (gai != 0)
		return sh_error_set(SH_EIO, "cannot listen on %s:%s: %s", c->host, c->port,
			gai_strerror(gai));
	int err = 0;
	for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) {
			s->listen_fd = fd;
			*family = ai->ai_family;
			break;
		}
		err = errno;
		close(fd);
	}
	freeaddrinfo(list);
	if (s->listen_fd < 0)
		return sh_error_set(SH_EIO, "cannot listen on %s:%s: %s", c->host, c->port,
			strerror(err ? err : EADDRNOTAVAIL));
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;
	if (getsockname(s->listen_fd, (struct sockaddr *)&addr, &len) == 0)
		s->bound_port = ntohs(addr.ss_family == AF_INET6
			? ((struct sockaddr_in6 *)&addr)->sin6_port
			: ((struct sockaddr_in *)&addr)->sin_port);
	return 0;
}

/* Starts the pool of async receivers and makes it the hub's executor. */
static int sh__pool_start(sh_server *server)
{
	const sh__server_config *c = &server->config;
	int rc = sh_pool_new(&server->pool, c->async_threads, c->async_queue);
	if (rc < 0) {
		server->pool = NULL;
		return rc;
	}
	sh_hub_set_executor(server->hub, sh_pool_executor, server->pool);
	return 0;
}

/* Drains the pool (every queued async receiver runs), joins its threads
 * and takes it off the hub: async receivers run inline from then on. */
static void sh__pool_drain(sh_server *server)
{
	if (server->pool == NULL)
		return;
	uint64_t before = sh_pool_completed(server->pool);
	sh_pool_wait_idle(server->pool);
	uint64_t ran = sh_pool_completed(server->pool) - before;
	sh_pool_free(server->pool);   /* refuses new jobs, runs any left, joins */
	server->pool = NULL;
	sh_hub_set_executor(server->hub, NULL, NULL);
	sh_hub_log(server->hub, SH_LOG_INFO, "sighost.server",
		"async receivers drained: %llu queued job%s ran", (unsigned long long)ran,
		ran == 1 ? "" : "s");
}

int sh_server_start(sh_server *server)
{
	if (server == NULL || server->daemon != NULL || sh_server_problem_count(server) > 0)
		return sh_error_set(SH_EINVAL,
			"sh_server_start: the server has problems or runs already");
	sh_database *database = sh_project_database(server->project);
	sh_db *db;
	if (database != NULL) {
		int made = sh_database_connection(&db, database);
		if (made == 0)
			made = sh_token_table_ensure(db);
		if (made < 0)
			return made;
	}
	int family = AF_INET;
	int rc = sh__bind(server, &family);
	if (rc == 0)
		rc = sh__pool_start(server);
	if (rc < 0) {
		if (server->listen_fd >= 0)
			close(server->listen_fd);
		server->listen_fd = -1;
		return rc;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC
		| MHD_USE_ERROR_LOG | (family == AF_INET6 ? MHD_USE_IPv6 : 0);
	const sh__server_config *c = &server->config;
	atomic_store(&server->stopping, false);
	server->daemon = MHD_start_daemon(flags, 0, NULL, NULL, sh__on_access, server,
		MHD_OPTION_EXTERNAL_LOGGER, sh__mhd_log, server,   /* first, to catch every message */
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)server->listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)c->threads,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)c->request_timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SH__CONNECTION_MEMORY,
		MHD_OPTION_URI_LOG_CALLBACK, sh__on_uri, server,
		MHD_OPTION_NOTIFY_COMPLETED, sh__on_completed, server,
		MHD_OPTION_STRICT_FOR_CLIENT, (int)1,   /* e.g. HTTP/1.1 without Host: 400 */
		MHD_OPTION_END);
	if (server->daemon == NULL) {
		close(server->listen_fd);
		server->listen_fd = -1;
		sh__pool_drain(server);
		return sh_error_set(SH_EIO, "cannot start the HTTP server on %s:%u (libmicrohttpd "
			"refused to start; see the log)", c->host, server->bound_port);
	}
	sh_hub_log(server->hub, SH_LOG_INFO, "sighost.server",
		"listening on %s:%u with %u thread%s", c->host, server->bound_port, c->threads,
		c->threads == 1 ? "" : "s");
	return 0;
}

void sh_server_stop(sh_server *server)
{
	if (server == NULL || server->daemon == NULL)
		return;
	atomic_store(&server->stopping, true);
	MHD_socket quiesced = MHD_quiesce_daemon(server->daemon);
	/* let the requests in flight end, for at most request_timeout seconds */
	struct timespec start, now, nap = { 0, 10 * 1000 * 1000 };
	clock_gettime(CLOCK_MONOTONIC, &start);
	size_t waiting = atomic_load(&server->in_flight);
	if (waiting > 0)
		sh_hub_log(server->hub, SH_LOG_INFO, "sighost.server",
			"stopping: waiting for %zu request%s in flight", waiting, waiting == 1 ? "" : "s");
	while (atomic_load(&server->in_flight) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)server->config.request_timeout) {
			sh_hub_log(server->hub, SH_LOG_WARNING, "sighost.server",
				"stopping: %zu request%s still in flight after %u s; closing them",
				atomic_load(&server->in_flight),
				atomic_load(&server->in_flight) == 1 ? "" : "s", server->config.request_timeout);
			break;
		}
		nanosleep(&nap, NULL);
	}
	MHD_stop_daemon(server->daemon);
	server->daemon = NULL;
	if (quiesced != MHD_INVALID_SOCKET)
		close(quiesced);
	server->listen_fd = -1;
	sh__pool_drain(server);   /* no request runs any more: run what they queued */
	sh_hub_log(server->hub, SH_LOG_INFO, "sighost.server", "stopped");
}

void sh_server_free(sh_server *server)
{
	if (server == NULL)
		return;
	sh_server_stop(server);
	sh_router_free(server->router);
	sh_templates_free(server->templates);
	sh__wproblems_dispose(&server->problems);
	sh__server_config_dispose(&server->config);
	free(server);
}
