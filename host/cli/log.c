/*
 * log.c: the logger every command installs on its project's hub (and so
 * the access log of serve, which goes through the same hub). One line per
 * message on stderr, in one of three shapes:
 *
 *   - text (default): "[origin] level: message", and for serve, which
 *     runs for long, "2026-12-07T19:47:04.123Z [origin] level: message";
 *   - text when stderr is the systemd journal (JOURNAL_STREAM names
 *     stderr's device and inode): "<6>[origin] level: message", the
 *     journal's priority prefix (sd-daemon(3)) and no timestamp (the
 *     journal stamps each line itself);
 *   - json: one object a line, {"time", "level", "origin", "message"}
 *     (jansson writes it, so every message is escaped right).
 *
 * The least level shown and the shape come from --log-level/--log-format,
 * else the project manifest's `log_level`/`log_format`, else info and
 * text. The choice is process-wide: one command runs per process.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

static const char *const sh__levels[] = { "debug", "info", "warning", "error" };

static struct {
	int level;            /* the least shown, an sh_log_level */
	bool json;
	bool level_given;     /* on the command line: the manifest does not override */
	bool format_given;
	bool timestamps;      /* serve's text lines (sh_cli_log_timestamps) */
} sh__log = { SH_LOG_INFO, false, false, false, false };

void sh_cli_log_timestamps(bool on)
{
	sh__log.timestamps = on;
}

static int sh_cli__level_of(const char *text)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(text, sh__levels[i]) == 0)
			return i;
	return -1;
}

int sh_cli_log_option(const char *option, const char *value)
{
	if (strcmp(option, "--log-level") == 0) {
		int level = sh_cli__level_of(value);
		if (level < 0) {
			fprintf(stderr, "sighost: --log-level takes debug, info, warning or error, not '%s'\n", value);
			return 2;
		}
		sh__log.level = level;
		sh__log.level_given = true;
		return 0;
	}
	if (strcmp(value, "text") != 0 && strcmp(value, "json") != 0) {
		fprintf(stderr, "sighost: --log-format takes text or json, not '%s'\n", value);
		return 2;
	}
	sh__log.json = strcmp(value, "json") == 0;
	sh__log.format_given = true;
	return 0;
}

int sh_cli_log_strip(int *argc, char **argv)
{
	int kept = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			while (i < *argc)
				argv[kept++] = argv[i++];
			break;
		}
		const char *names[] = { "--log-level", "--log-format" };
		bool taken = false;
		for (int k = 0; k < 2 && !taken; k++) {
			size_t n = strlen(names[k]);
			if (strncmp(a, names[k], n) != 0 || (a[n] != '\0' && a[n] != '='))
				continue;
			const char *value = a[n] == '=' ? a + n + 1 : i + 1 < *argc ? argv[++i] : NULL;
			if (value == NULL) {
				fprintf(stderr, "sighost: %s needs a value\n", names[k]);
				return 2;
			}
			if (sh_cli_log_option(names[k], value) != 0)
				return 2;
			taken = true;
		}
		if (!taken)
			argv[kept++] = argv[i];
	}
	argv[kept] = NULL;
	*argc = kept;
	return 0;
}

int sh_cli_log_configure(const sh_project *project)
{
	const sh_value *root = sh_project_manifest(project);
	const char *level = sh_value_path_string(root, "log_level", NULL);
	const char *format = sh_value_path_string(root, "log_format", NULL);
	if (level != NULL && !sh__log.level_given) {
		if (sh_cli__level_of(level) < 0) {
			fprintf(stderr, "%s: log_level must be debug, info, warning or error, not '%s'\n",
				sh_project_path(project), level);
			return 1;
		}
		sh__log.level = sh_cli__level_of(level);
	}
	if (format != NULL && !sh__log.format_given) {
		if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
			fprintf(stderr, "%s: log_format must be text or json, not '%s'\n",
				sh_project_path(project), format);
			return 1;
		}
		sh__log.json = strcmp(format, "json") == 0;
	}
	return 0;
}

/* True when stderr is the journal's stream (systemd sets JOURNAL_STREAM to
 * "DEVICE:INODE" of the stream it gives a service). */
static bool sh_cli__to_journal(void)
{
	static int cached = -1;
	if (cached >= 0)
		return cached == 1;
	cached = 0;
	const char *stream = getenv("JOURNAL_STREAM");
	if (stream == NULL)
		return false;
	char *colon, *end;
	errno = 0;
	unsigned long long dev = strtoull(stream, &colon, 10);
	unsigned long long ino = *colon == ':' ? strtoull(colon + 1, &end, 10) : 0;
	struct stat st;
	if (errno == 0 && *colon == ':' && *end == '\0' && fstat(2, &st) == 0
			&& st.st_dev == dev && st.st_ino == ino)
		cached = 1;
	return cached == 1;
}

static void sh_cli__timestamp(char *buf, size_t size)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char day[32];
	strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03ldZ", day, ts.tv_nsec / 1000000);
}

void sh_cli_logger(sh_log_level level, const char *origin, const char *message, void *payload)
{
	(void)payload;
	if ((int)level < sh__log.level || (int)level > SH_LOG_ERROR)
		return;
	const char *who = origin ? origin : "sighost";
	char now[48];
	if (sh__log.json) {
		sh_cli__timestamp(now, sizeof now);
		json_t *line = json_pack("{s:s, s:s, s:s, s:s}", "time", now, "level",
			sh__levels[level], "origin", who, "message", message);
		char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
		if (text != NULL)
			fprintf(stderr, "%s\n", text);
		free(text);
		json_decref(line);
		return;
	}
	if (sh_cli__to_journal()) {
		static const int priority[] = { 7, 6, 4, 3 };   /* LOG_DEBUG .. LOG_ERR */
		fprintf(stderr, "<%d>[%s] %s: %s\n", priority[level], who, sh__levels[level], message);
		return;
	}
	if (!sh__log.timestamps) {
		fprintf(stderr, "[%s] %s: %s\n", who, sh__levels[level], message);
		return;
	}
	sh_cli__timestamp(now, sizeof now);
	fprintf(stderr, "%s [%s] %s: %s\n", now, who, sh__levels[level], message);
}
