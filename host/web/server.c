/*
 * server.c: the server's life (web.h): built from a loaded project (its
 * settings, the routes of every app, the template cache), started on a
 * listening socket it binds itself (so it can say why a bind failed and
 * which port 0 became), run by libmicrohttpd's thread pool with epoll,
 * with a pool of its own for async receivers (the hub's executor while
 * it runs), and stopped gracefully: stop accepting, let the requests in
 * flight end, close everything and join the threads, then drain the async
 * pool. Two guards against hostile clients live here too: the reaper,
 * which cuts off a client that sends its request too slowly, and the
 * decoding of %XX escapes, which keeps an encoded NUL out of C strings.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"
#include "../base/clock.h"

/* The memory libmicrohttpd gives each connection for its request line,
 * headers and read buffer; larger headers get 431 from it. libmicrohttpd
 * 0.9.75 zeroes the whole of it between two requests of a keep-alive
 * connection, so it is a cost per request: 32 KiB, its own default, as
 * much as nginx allows for headers by default (4 x 8 KiB). */
#define SH__CONNECTION_MEMORY (32u * 1024u)

/* The project's templates folder, templates/ beside the project manifest
 * (Django's DIRS = [BASE_DIR / "templates"]): its 404.html and 500.html,
 * and the templates apps' extends and include find after their own. */
static int sh_web__project_templates_dir(sh_server *s)
{
	const char *manifest = sh_project_path(s->project);
	const char *slash = manifest != NULL ? strrchr(manifest, '/') : NULL;
	char *dir = NULL;
	int n = slash != NULL ? asprintf(&dir, "%.*s/templates", (int)(slash - manifest), manifest)
		: asprintf(&dir, "templates");
	if (n < 0)
		return sh_error_set(SH_ENOMEM, "out of memory");
	int rc = sh_templates_set_dir(s->templates, dir);
	free(dir);
	return rc;
}

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
	s->problems.raise_each = true;
	s->project = project;
	s->hub = sh_project_hub(project);
	s->listen_fd = -1;
	atomic_init(&s->stopping, false);
	atomic_init(&s->in_flight, 0);
	s->request_started = sh_hub_builtin(s->hub, SH_REQUEST_STARTED);
	s->request_finished = sh_hub_builtin(s->hub, SH_REQUEST_FINISHED);
	s->got_request_exception = sh_hub_builtin(s->hub, SH_GOT_REQUEST_EXCEPTION);
	int rc = sh_web__server_config_read(s, opts);
	if (rc == 0)
		rc = sh_sender_intern(&s->handler, s->hub, SH_HANDLER_SENDER);
	if (rc == 0)
		rc = sh_templates_new(&s->templates, s->hub);
	if (rc == 0)
		rc = sh_web__project_templates_dir(s);
	if (rc == 0)
		rc = sh_web__web_set_copiers(s->hub);   /* async receivers of the request signals */
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
	return server->daemon != NULL ? server->bound_port
		: (unsigned)strtoul(server->config.port, NULL, 10);   /* checked when read */
}

/* libmicrohttpd's own messages go to the hub's logger. */
static void sh_web__mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void sh_web__mhd_log(void *cls, const char *fmt, va_list ap)
{
	sh_server *s = cls;
	char message[1024];
	vsnprintf(message, sizeof message, fmt, ap);
	size_t n = strlen(message);
	while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r'))
		message[--n] = '\0';
	/* Refused connections and exhausted resources are the operator's
	 * business (a client holding every slot looks like this); the rest is
	 * libmicrohttpd's chatter. */
	bool limit = strstr(message, "limit") != NULL || strstr(message, "memory") != NULL
		|| strstr(message, "Error accepting") != NULL || strstr(message, "resource") != NULL;
	sh_hub_log(s->hub, limit ? SH_LOG_WARNING : SH_LOG_DEBUG, "sighost.server",
		"libmicrohttpd: %s%s", message, limit ? " (see max_connections, "
		"max_connections_per_ip and silent_timeout in docs/web.md#limits)" : "");
}

/* ---- slow clients ------------------------------------------------------
 *
 * libmicrohttpd's connection timeout counts idle time only: a client that
 * sends a byte a second (slowloris) is never idle and would hold its
 * connection for ever. The reaper gives every connection request_timeout
 * seconds to deliver a whole request (request line, headers and body),
 * counted from the connection's opening or from the end of its previous
 * response; a thread looks four times a second and shuts down the socket
 * of a connection past its deadline, which libmicrohttpd then sees closed
 * and cleans up as usual. While a view runs and its response is sent the
 * connection has no deadline (the idle timeout still applies).
 *
 * A connection's record is made by libmicrohttpd's connection callback
 * (STARTED) and freed by it (CLOSED), which libmicrohttpd calls before it
 * closes the socket: under the reaper's lock a listed fd is still open.
 */

/* One open connection. */
typedef struct sh__conn {
	struct sh__conn *prev, *next;
	int fd;
	atomic_int_least64_t deadline_ms;   /* CLOCK_MONOTONIC ms; 0: none (a view runs) */
	int64_t opened_ms;                  /* when libmicrohttpd accepted it */
	bool silent;                        /* nothing heard yet: silent_timeout applies */
	bool head_seen;                     /* the access handler saw this request's head */
	bool cut;                           /* shut down by the reaper */
} sh__conn;

struct sh__reaper {
	pthread_mutex_t lock;               /* guards the list and `stop` */
	pthread_cond_t wake;
	pthread_t thread;
	bool stop;
	int64_t timeout_ms;
	int64_t silent_ms;                  /* for a connection that has sent nothing */
	sh_hub *hub;
	sh__conn *head;
};

static void *sh_web__reaper_main(void *arg)
{
	struct sh__reaper *reaper = arg;
	pthread_mutex_lock(&reaper->lock);
	while (!reaper->stop) {
		int64_t now = sh__monotonic_ms();
		size_t cut = 0;
		for (sh__conn *c = reaper->head; c != NULL; c = c->next) {
			int64_t deadline = atomic_load(&c->deadline_ms);
			if (deadline != 0 && now > deadline && !c->cut) {
				shutdown(c->fd, SHUT_RDWR);   /* the fd is open until CLOSED unlists it */
				c->cut = true;
				cut++;
			}
		}
		if (cut > 0) {
			pthread_mutex_unlock(&reaper->lock);   /* connections come and go meanwhile */
			sh_hub_log(reaper->hub, SH_LOG_INFO, "sighost.server",
				"closed %zu connection%s that did not send a whole request within %lld s "
				"(or nothing within %lld s)", cut, cut == 1 ? "" : "s",
				(long long)(reaper->timeout_ms / 1000), (long long)(reaper->silent_ms / 1000));
			pthread_mutex_lock(&reaper->lock);
		}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 250L * 1000 * 1000;
		if (until.tv_nsec >= 1000L * 1000 * 1000) {
			until.tv_sec++;
			until.tv_nsec -= 1000L * 1000 * 1000;
		}
		pthread_cond_timedwait(&reaper->wake, &reaper->lock, &until);
	}
	pthread_mutex_unlock(&reaper->lock);
	return NULL;
}

static int sh_web__reaper_start(sh_server *server)
{
	struct sh__reaper *reaper = calloc(1, sizeof *reaper);
	if (reaper == NULL)
		return sh_error_set(SH_ENOMEM, "out of memory");
	reaper->hub = server->hub;
	reaper->timeout_ms = (int64_t)server->config.request_timeout * 1000;
	reaper->silent_ms = (int64_t)server->config.silent_timeout * 1000;
	if (reaper->silent_ms > reaper->timeout_ms)
		reaper->silent_ms = reaper->timeout_ms;
	int rc = pthread_mutex_init(&reaper->lock, NULL);
	if (rc == 0 && (rc = pthread_cond_init(&reaper->wake, NULL)) != 0)
		pthread_mutex_destroy(&reaper->lock);
	if (rc == 0 && (rc = pthread_create(&reaper->thread, NULL, sh_web__reaper_main, reaper)) != 0) {
		pthread_cond_destroy(&reaper->wake);
		pthread_mutex_destroy(&reaper->lock);
	}
	if (rc != 0) {
		free(reaper);
		return sh_error_set(SH_ENOMEM, "cannot start the thread that closes slow connections: %s",
			strerror(rc));
	}
	server->reaper = reaper;
	return 0;
}

/* Stops the thread and frees the reaper; libmicrohttpd has closed every
 * connection by then. */
static void sh_web__reaper_stop(sh_server *server)
{
	struct sh__reaper *reaper = server->reaper;
	if (reaper == NULL)
		return;
	pthread_mutex_lock(&reaper->lock);
	reaper->stop = true;
	pthread_cond_signal(&reaper->wake);
	pthread_mutex_unlock(&reaper->lock);
	pthread_join(reaper->thread, NULL);
	for (sh__conn *c = reaper->head, *next; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	pthread_cond_destroy(&reaper->wake);
	pthread_mutex_destroy(&reaper->lock);
	free(reaper);
	server->reaper = NULL;
}

/* MHD_OPTION_NOTIFY_CONNECTION: lists a new connection with its deadline,
 * unlists a closed one. */
static void sh_web__on_connection(void *cls, struct MHD_Connection *connection,
	void **socket_context, enum MHD_ConnectionNotificationCode code)
{
	struct sh__reaper *reaper = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection,
			MHD_CONNECTION_INFO_CONNECTION_FD);
		sh__conn *c = info != NULL ? calloc(1, sizeof *c) : NULL;
		*socket_context = c;
		if (c == NULL)
			return;   /* not guarded; the idle timeout still applies */
		c->fd = info->connect_fd;
		c->opened_ms = sh__monotonic_ms();
		c->silent = true;
		atomic_init(&c->deadline_ms, c->opened_ms + reaper->silent_ms);
		pthread_mutex_lock(&reaper->lock);
		c->next = reaper->head;
		if (reaper->head != NULL)
			reaper->head->prev = c;
		reaper->head = c;
		pthread_mutex_unlock(&reaper->lock);
		return;
	}
	sh__conn *c = *socket_context;
	if (c == NULL)
		return;
	*socket_context = NULL;
	pthread_mutex_lock(&reaper->lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		reaper->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&reaper->lock);
	free(c);
}

static sh__conn *sh_web__conn_of(struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection,
		MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return info != NULL ? info->socket_context : NULL;
}

/* ---- request framing ------------------------------------------------------
 *
 * libmicrohttpd takes the first of several Content-Length headers and lets
 * Transfer-Encoding win over Content-Length without closing the connection.
 * A proxy in front may frame the same bytes the other way and smuggle a
 * request through: RFC 9112 (section 6.3) makes such a message an error.
 * The server answers it 400 itself, like libmicrohttpd's own 400s (no
 * signal is sent, no view runs), and closes the connection. */

typedef struct sh__framing {
	const char *length;   /* the first Content-Length */
	bool lengths_differ;
	bool chunked;         /* a Transfer-Encoding header */
} sh__framing;

static enum MHD_Result sh_web__framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
	const char *value)
{
	(void)kind;
	sh__framing *f = cls;
	if (key == NULL || value == NULL)
		return MHD_YES;
	if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		f->chunked = true;
	else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0)
		return MHD_YES;
	else if (f->length == NULL)
		f->length = value;
	else
		f->lengths_differ = f->lengths_differ || strcmp(f->length, value) != 0;
	return MHD_YES;
}

/* Answers 400 when the request's body is framed two ways and returns true
 * (*result is what the access handler returns then); false when the
 * framing is sound. */
static bool sh_web__framing_refused(sh_server *s, sh_request *r, struct MHD_Connection *connection,
	enum MHD_Result *result)
{
	sh__framing f = { NULL, false, false };
	MHD_get_connection_values(connection, MHD_HEADER_KIND, sh_web__framing_header, &f);
	if (!f.lengths_differ && !(f.chunked && f.length != NULL))
		return false;
	static const char body[] = "<h1>Bad Request (400)</h1>";
	struct MHD_Response *m = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
		MHD_RESPMEM_PERSISTENT);
	*result = MHD_NO;
	if (m != NULL) {
		MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
		MHD_add_response_header(m, MHD_HTTP_HEADER_CONNECTION, "close");
		*result = MHD_queue_response(connection, MHD_HTTP_BAD_REQUEST, m);
		MHD_destroy_response(m);
	}
	r->answered = true;   /* the handler ignores the rest of this request */
	sh_hub_log(s->hub, SH_LOG_INFO, "sighost.server", "400: a request framed two ways (%s); "
		"the connection is closed", f.lengths_differ ? "Content-Length headers that differ"
		: "Content-Length and Transfer-Encoding");
	return true;
}

/* MHD_OPTION_URI_LOG_CALLBACK as libmicrohttpd sees it: the request line
 * is in, so a new connection is no longer silent; it has request_timeout
 * from its opening for the whole request. */
static void *sh_web__on_uri_timed(void *cls, const char *uri, struct MHD_Connection *connection)
{
	sh_server *s = cls;
	sh__conn *c = sh_web__conn_of(connection);
	if (c != NULL && c->silent && s->reaper != NULL) {
		c->silent = false;
		atomic_store(&c->deadline_ms, c->opened_ms + s->reaper->timeout_ms);
	}
	return sh_web__on_uri(cls, uri, connection);
}

/* The access handler as libmicrohttpd sees it: the handler's, after
 * noting the request's progress and checking its framing. Its first call
 * brings the head; a later call without data means the request is whole:
 * its deadline is lifted. */
static enum MHD_Result sh_web__on_access_guarded(void *cls, struct MHD_Connection *connection,
	const char *url, const char *method, const char *version, const char *upload_data,
	size_t *upload_data_size, void **con_cls)
{
	sh__conn *c = sh_web__conn_of(connection);
	if (c != NULL && !c->head_seen)
		c->head_seen = true;
	else if (c != NULL && *upload_data_size == 0)
		atomic_store(&c->deadline_ms, 0);
	sh_request *r = *con_cls;
	enum MHD_Result refused;
	if (r != NULL && !r->begun && !r->answered
		&& sh_web__framing_refused(cls, r, connection, &refused))
		return refused;
	return sh_web__on_access(cls, connection, url, method, version, upload_data, upload_data_size,
		con_cls);
}

/* MHD_OPTION_NOTIFY_COMPLETED as libmicrohttpd sees it: the handler's,
 * then the next request on the connection gets a new deadline. */
static void sh_web__on_completed_timed(void *cls, struct MHD_Connection *connection,
	void **con_cls, enum MHD_RequestTerminationCode toe)
{
	sh_server *s = cls;
	sh_web__on_completed(cls, connection, con_cls, toe);
	sh__conn *c = sh_web__conn_of(connection);
	if (c != NULL && s->reaper != NULL) {
		c->head_seen = false;
		atomic_store(&c->deadline_ms, sh__monotonic_ms() + s->reaper->timeout_ms);
	}
}

/* ---- decoding the path and the query -------------------------------------
 *
 * libmicrohttpd decodes %XX escapes of the path and of the query
 * parameters in place with this. An encoded NUL would end the C string the
 * router and the views read, so that DELETE /api/alerts/1%00x would delete
 * item 1: %00 is left as it is (the three characters), everything else is
 * decoded by libmicrohttpd's own MHD_http_unescape. */
static size_t sh_web__unescape(void *cls, struct MHD_Connection *connection, char *s)
{
	(void)cls;
	(void)connection;
	char *out = s;
	for (char *part = s;;) {
		char *nul = strstr(part, "%00");
		if (nul != NULL)
			*nul = '\0';
		size_t n = MHD_http_unescape(part);   /* only ever shortens */
		memmove(out, part, n);
		out += n;
		if (nul == NULL)
			break;
		memcpy(out, "%00", 3);   /* out + 3 <= nul + 3: the rest is not overwritten */
		out += 3;
		part = nul + 3;
	}
	*out = '\0';
	return (size_t)(out - s);
}

/* Binds and listens on the configured address; the socket is stored in
 * s->listen_fd and its family in *family. */
static int sh_web__bind(sh_server *s, int *family)
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
	/* getsockname() fills addr; the analyzer does not know it writes it.
	 * NOLINTBEGIN(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	if (getsockname(s->listen_fd, (struct sockaddr *)&addr, &len) == 0)
		s->bound_port = ntohs(addr.ss_family == AF_INET6
			? ((struct sockaddr_in6 *)&addr)->sin6_port
			: ((struct sockaddr_in *)&addr)->sin_port);
	/* NOLINTEND(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	return 0;
}

/* Starts the pool of async receivers and makes it the hub's executor. */
static int sh_web__pool_start(sh_server *server)
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
static void sh_web__pool_drain(sh_server *server)
{
	if (server->pool == NULL)
		return;
	uint64_t before = sh_pool_completed(server->pool);
	/* Closed first: a chain of async receivers that keep queueing each
	 * other must not hold the shutdown; what the queued jobs submit runs
	 * inline on their threads. */
	sh_pool_close(server->pool);
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
	sh_conn *db;
	if (database != NULL) {
		/* the server's writers share disk syncs (durable.c) */
		int made = sh_database_set_group_commit(database, true);
		if (made == 0)
			made = sh_database_connection(&db, database);
		if (made == 0)
			made = sh_token_table_ensure(db);
		if (made < 0)
			return made;
	}
	int family = AF_INET;
	int rc = sh_web__bind(server, &family);
	if (rc == 0)
		rc = sh_web__reaper_start(server);
	if (rc == 0)
		rc = sh_web__pool_start(server);
	if (rc == 0)
		rc = sh_web__dash_start(server);
	if (rc < 0) {
		if (server->listen_fd >= 0)
			close(server->listen_fd);
		server->listen_fd = -1;
		sh_web__pool_drain(server);
		sh_web__reaper_stop(server);
		return rc;
	}
	/* suspend/resume: a request whose commits wait for the disk (group
	 * commit) leaves its thread to the others meanwhile (handler.c) */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC
		| MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (family == AF_INET6 ? MHD_USE_IPv6 : 0);
	const sh__server_config *c = &server->config;
	atomic_store(&server->stopping, false);
	server->daemon = MHD_start_daemon(flags, 0, NULL, NULL, sh_web__on_access_guarded, server,
		MHD_OPTION_EXTERNAL_LOGGER, sh_web__mhd_log, server,   /* first, to catch every message */
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)server->listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)c->threads,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)c->request_timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SH__CONNECTION_MEMORY,
		MHD_OPTION_URI_LOG_CALLBACK, sh_web__on_uri_timed, server,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)c->max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)c->max_connections_per_ip,
		MHD_OPTION_NOTIFY_COMPLETED, sh_web__on_completed_timed, server,
		MHD_OPTION_NOTIFY_CONNECTION, sh_web__on_connection, server->reaper,
		MHD_OPTION_UNESCAPE_CALLBACK, sh_web__unescape, NULL,
		MHD_OPTION_STRICT_FOR_CLIENT, (int)1,   /* e.g. HTTP/1.1 without Host: 400 */
		MHD_OPTION_END);
	if (server->daemon == NULL) {
		close(server->listen_fd);
		server->listen_fd = -1;
		sh_web__dash_stop(server->dash);
		server->dash = NULL;
		sh_web__pool_drain(server);
		sh_web__reaper_stop(server);
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
	sh_web__dash_close_streams(server->dash);   /* streams end instead of being waited for */
	/* let the requests in flight end, for at most request_timeout seconds */
	struct timespec start, now, nap = { 0, 10L * 1000 * 1000 };
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
	MHD_stop_daemon(server->daemon);   /* closes every connection */
	server->daemon = NULL;
	sh_web__dash_stop(server->dash);
	server->dash = NULL;
	sh_web__reaper_stop(server);
	if (quiesced != MHD_INVALID_SOCKET)
		close(quiesced);
	server->listen_fd = -1;
	sh_web__pool_drain(server);   /* no request runs any more: run what they queued */
	sh_hub_log(server->hub, SH_LOG_INFO, "sighost.server", "stopped");
}

void sh_server_free(sh_server *server)
{
	if (server == NULL)
		return;
	sh_server_stop(server);
	sh_router_free(server->router);
	sh_templates_free(server->templates);
	sh_manifest__problems_dispose(&server->problems);
	sh_web__server_config_dispose(&server->config);
	free(server);
}
