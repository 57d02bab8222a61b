/*
 * server_config.c: the server's settings: the top-level keys listen,
 * threads, max_body_size, request_timeout, atomic_requests, access_log,
 * async_threads, async_queue, silent_timeout, max_connections,
 * max_connections_per_ip and dashboard of the project manifest (their types are checked with
 * the manifest; their ranges here), overridden by sh_server_opts (the
 * command line).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "internal.h"

#define SH__DEFAULT_HOST "127.0.0.1"
#define SH__DEFAULT_PORT "8000"
#define SH__DEFAULT_THREADS 4
#define SH__DEFAULT_MAX_BODY 2621440u   /* Django's DATA_UPLOAD_MAX_MEMORY_SIZE */
#define SH__DEFAULT_TIMEOUT 30
#define SH__DEFAULT_ASYNC_THREADS 2
#define SH__DEFAULT_ASYNC_QUEUE 1024
/* Below the usual 1024 descriptors of a process, with room for the
 * database, plugins and logs; one address may hold a sixteenth of it, so
 * sixteen clients are needed to fill the server, and a new connection that
 * sends nothing frees its slot after 5 s. */
#define SH__DEFAULT_MAX_CONNECTIONS 768
#define SH__DEFAULT_MAX_PER_IP 48
#define SH__DEFAULT_SILENT_TIMEOUT 5

/* The dashboard's defaults (docs/dashboard.md). */
#define SH__DASH_PREFIX "/_sighost/"
#define SH__DASH_STREAM_CLIENTS 4
#define SH__DASH_STREAM_BUFFER 1024
#define SH__DASH_RECEIVERS 1024

/*
 * Splits "HOST:PORT", "[V6]:PORT" or "PORT" into host and port (newly
 * allocated). Returns 0, SH_EINVAL with the reason in `why`, SH_ENOMEM.
 */
static int sh_web__listen_parse(const char *text, char **host, char **port, char *why, size_t size)
{
	*host = *port = NULL;
	const char *h = text, *colon = strrchr(text, ':');
	size_t hlen = 0;
	const char *p = text;
	if (colon == NULL) {
		h = SH__DEFAULT_HOST;
		hlen = strlen(h);
	} else if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close + 1 != colon) {
			snprintf(why, size, "write an IPv6 address as [ADDRESS]:PORT");
			return SH_EINVAL;
		}
		h = text + 1;
		hlen = (size_t)(close - h);
		p = colon + 1;
	} else {
		if (memchr(text, ':', (size_t)(colon - text)) != NULL) {
			snprintf(why, size, "write an IPv6 address as [ADDRESS]:PORT");
			return SH_EINVAL;
		}
		hlen = (size_t)(colon - text);
		p = colon + 1;
	}
	if (hlen == 0 || hlen > 253) {
		snprintf(why, size, "expected HOST:PORT, e.g. 127.0.0.1:8000");
		return SH_EINVAL;
	}
	size_t plen = strlen(p);
	unsigned long value = 0;
	bool digits = plen > 0 && plen <= 5;
	for (size_t i = 0; i < plen && digits; i++) {
		digits = p[i] >= '0' && p[i] <= '9';
		value = value * 10 + (unsigned long)(p[i] - '0');
	}
	if (!digits || value > 65535) {
		snprintf(why, size, "the port must be a number from 0 to 65535");
		return SH_EINVAL;
	}
	*host = strndup(h, hlen);
	*port = strdup(p);
	if (*host == NULL || *port == NULL) {
		free(*host);
		free(*port);
		*host = *port = NULL;
		return sh_error_set(SH_ENOMEM, "out of memory");
	}
	return 0;
}

/* Reads integer key `key` into *out when it is set and within [min, max]. */
static void sh_web__int_key(sh_server *s, const sh_value *root, const char *key, int64_t min,
	int64_t max, uint64_t *out)
{
	const sh_value *v = sh_value_get(root, key);
	int64_t n;
	if (v == NULL || sh_value_int(&n, v) < 0)
		return;   /* absent, or the wrong type (reported with the manifest) */
	if (n < min || n > max) {
		sh_manifest__problem_at(&s->problems, SH_EMANIFEST, v, "'%s' must be from %lld to %lld, not %lld",
			key, (long long)min, (long long)max, (long long)n);
		return;
	}
	*out = (uint64_t)n;
}

/* True for a dashboard prefix: "/", then path characters, then "/". */
static bool sh_web__prefix_ok(const char *prefix)
{
	size_t n = strlen(prefix);
	if (n < 2 || n > 64 || prefix[0] != '/' || prefix[n - 1] != '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = prefix[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
				|| c == '/' || c == '_' || c == '-' || c == '.'))
			return false;
	}
	return strstr(prefix, "//") == NULL;
}

/* The `dashboard` map: on when dashboard.enabled says so, else when
 * settings.debug is true; its prefix and bounds. */
static void sh_web__dash_config_read(sh_server *s, const sh_value *root)
{
	sh__dash_config *d = &s->config.dash;
	const sh_value *map = sh_value_get(root, "dashboard");
	const sh_value *settings = sh_value_get(root, "settings");
	bool debug = sh_value_path_bool(settings, "debug", false);
	d->enabled = sh_value_path_bool(map, "enabled", debug);
	const sh_value *prefix = sh_value_get(map, "prefix");
	const char *text = sh_value_string(prefix);
	if (text != NULL && !sh_web__prefix_ok(text))
		sh_manifest__problem_at(&s->problems, SH_EMANIFEST, prefix, "dashboard.prefix must be a "
			"path of letters, digits, '_', '-', '.' that starts and ends with '/' (at most "
			"64 bytes), not '%s'", text);
	snprintf(d->prefix, sizeof d->prefix, "%s",
		text != NULL && sh_web__prefix_ok(text) ? text : SH__DASH_PREFIX);
	uint64_t clients = SH__DASH_STREAM_CLIENTS, buffer = SH__DASH_STREAM_BUFFER,
		receivers = SH__DASH_RECEIVERS;
	sh_web__int_key(s, map, "stream_clients", 1, 64, &clients);
	sh_web__int_key(s, map, "stream_buffer", 16, 1 << 16, &buffer);
	sh_web__int_key(s, map, "receivers", 16, 1 << 16, &receivers);
	d->stream_clients = (unsigned)clients;
	d->stream_buffer = (unsigned)buffer;
	d->receivers = (unsigned)receivers;
}

int sh_web__server_config_read(sh_server *s, const sh_server_opts *opts)
{
	sh__server_config *c = &s->config;
	const sh_value *root = sh_app__project_manifest(s->project);
	uint64_t threads = SH__DEFAULT_THREADS, max_body = SH__DEFAULT_MAX_BODY,
		timeout = SH__DEFAULT_TIMEOUT;
	sh_web__int_key(s, root, "threads", 1, 256, &threads);
	sh_web__int_key(s, root, "max_body_size", 0, 1 << 30, &max_body);
	sh_web__int_key(s, root, "request_timeout", 1, 3600, &timeout);
	uint64_t silent = SH__DEFAULT_SILENT_TIMEOUT, max_conns = SH__DEFAULT_MAX_CONNECTIONS,
		per_ip = SH__DEFAULT_MAX_PER_IP;
	sh_web__int_key(s, root, "silent_timeout", 1, 3600, &silent);
	sh_web__int_key(s, root, "max_connections", 1, 1 << 20, &max_conns);
	sh_web__int_key(s, root, "max_connections_per_ip", 1, 1 << 20, &per_ip);
	c->silent_timeout = (unsigned)silent;
	c->max_connections = (unsigned)max_conns;
	c->max_connections_per_ip = (unsigned)per_ip;
	uint64_t async_threads = SH__DEFAULT_ASYNC_THREADS, async_queue = SH__DEFAULT_ASYNC_QUEUE;
	sh_web__int_key(s, root, "async_threads", 1, 256, &async_threads);
	sh_web__int_key(s, root, "async_queue", 1, 1 << 20, &async_queue);
	c->async_threads = (unsigned)async_threads;
	c->async_queue = (size_t)async_queue;
	c->atomic_requests = sh_value_path_bool(root, "atomic_requests", false);
	c->access_log = sh_value_path_bool(root, "access_log", true);
	sh_web__dash_config_read(s, root);
	if (opts != NULL && opts->threads != 0) {
		if (opts->threads > 256)
			sh_manifest__problem_add(&s->problems, SH_EINVAL, NULL, 0, 0,
				"threads must be from 1 to 256, not %u", opts->threads);
		else
			threads = opts->threads;
	}
	c->threads = (unsigned)threads;
	c->max_body_size = max_body;
	c->request_timeout = (unsigned)timeout;

	const sh_value *listen = sh_value_get(root, "listen");
	const char *text = opts != NULL && opts->listen != NULL ? opts->listen
		: sh_value_string(listen);
	if (text == NULL)
		text = SH__DEFAULT_HOST ":" SH__DEFAULT_PORT;
	char why[128];
	int rc = sh_web__listen_parse(text, &c->host, &c->port, why, sizeof why);
	if (rc == SH_EINVAL) {
		if (opts != NULL && opts->listen != NULL)
			sh_manifest__problem_add(&s->problems, SH_EINVAL, NULL, 0, 0,
				"bad listen address '%s': %s", text, why);
		else
			sh_manifest__problem_at(&s->problems, SH_EMANIFEST, listen,
				"bad listen address '%s': %s", text, why);
		return 0;
	}
	return rc;
}

void sh_web__server_config_dispose(sh__server_config *config)
{
	free(config->host);
	free(config->port);
	*config = (sh__server_config){ 0 };
}
