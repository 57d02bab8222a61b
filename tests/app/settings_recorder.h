/*
 * settings_recorder.h: what the live settings tests (settings_live.c,
 * settings_override.c) share: a scratch project whose manifest they
 * rewrite, a receiver that records every setting_changed, and a logger
 * that keeps the hub's log lines.
 */
#ifndef SH_TEST_SETTINGS_RECORDER_H
#define SH_TEST_SETTINGS_RECORDER_H

#include <pthread.h>
#include <stdbool.h>

#include <sighost/sys/sighost.h>

/* One setting_changed as a receiver saw it. */
typedef struct rec_event {
	char *setting;
	const sh_value *value;   /* as sent (valid as long as the project) */
	char *text;              /* the value rendered by rec_value_text() */
	bool enter;
	char *sender;
} rec_event;

typedef struct recorder {
	pthread_mutex_t lock;
	rec_event *items;
	size_t count;
	char *log;               /* the hub's log lines, "level: origin: message\n" */
	size_t log_len;
} recorder;

/* The scratch directory, the project and the recorder of the running test
 * (made by rec_setup, freed by rec_cleanup). */
extern char *rec_dir;
extern sh_project *rec_project;
extern recorder rec;

/* Criterion .init/.fini: a scratch directory, a new project whose hub
 * logs into rec.log, and the recorder connected to setting_changed. */
void rec_setup(void);
void rec_cleanup(void);

/* Writes project.yaml with `top` lines (may be NULL) and then
 * "settings:\n" + `settings` (NULL: no settings key). */
void rec_write(const char *top, const char *settings);

/* rec_write() then sh_project_read(); fails the test when it fails. */
void rec_read(const char *top, const char *settings);

/* Renders a value compactly: scalars as their text ("true", "a@b"), "~"
 * for null, lists as "[a,b]", maps as "{k:v,...}", "(none)" for NULL. */
char *rec_value_text(const sh_value *value);

/* The events so far as "setting=text" joined with ';', " (exit)" after
 * those with enter false. Newly allocated. */
char *rec_events(void);

/* Forgets the events so far. */
void rec_clear(void);

/* The receiver rec_setup connects (payload: the recorder). */
int rec_receiver(sh_signal *signal, const sh_sender *sender, const void *args,
	void **response, void *payload);

#endif
