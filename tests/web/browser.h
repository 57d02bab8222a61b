/*
 * browser.h: a headless Chromium (Debian's `chromium`) driven over the
 * DevTools protocol for the dashboard's tests. The protocol runs over
 * two pipes (--remote-debugging-pipe: JSON messages ended by NUL on the
 * browser's fds 3 and 4), so no WebSocket client is needed: jansson reads
 * and writes the messages. Each browser has its own temporary profile,
 * runs in its own process group, and every wait has a deadline; b_stop
 * kills what is left of it.
 */
#ifndef SH_WEB_BROWSER_H
#define SH_WEB_BROWSER_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct b_browser {
	pid_t pid;
	int to;              /* our end of the browser's fd 3 */
	int from;            /* our end of the browser's fd 4 */
	char *profile;       /* the temporary --user-data-dir */
	char *buf;           /* bytes read, not yet a whole message */
	size_t len, cap;
	int next_id;
	char *session;       /* the page's flat session */
} b_browser;

/* The browser's program: $SIGHOST_CHROMIUM, else "chromium" on PATH;
 * NULL when there is none. */
const char *b_program(void);

/* Starts the browser with one blank page of 1280x900 attached. Fails the
 * test when it does not answer within 30 s. */
void b_start(b_browser *b);

/* Calls `method` with `params` (stolen; NULL for none) on the page's
 * session (`page`) or the browser's, and waits at most `timeout_ms` for
 * the answer. Returns its "result" (decref it); fails the test on an
 * error or the deadline. */
json_t *b_call(b_browser *b, bool page, const char *method, json_t *params, int timeout_ms);

/* Evaluates a JavaScript expression in the page (awaiting it when it is a
 * promise) and returns its value (decref it). */
json_t *b_eval(b_browser *b, const char *expression);

/* Evaluates `expression` every 20 ms until it is true or `timeout_ms`
 * pass. Returns the milliseconds it took, -1 when it never became true. */
long b_wait_true(b_browser *b, const char *expression, int timeout_ms);

/* Navigates to `url` and waits for the document to be complete. */
void b_goto(b_browser *b, const char *url);

/* Saves a PNG of the page as `path`. */
void b_screenshot(b_browser *b, const char *path);

/* Closes the browser (kills it when it does not exit within 5 s) and
 * removes its profile. */
void b_stop(b_browser *b);

#endif
