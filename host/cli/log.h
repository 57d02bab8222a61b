/*
 * log.h: the stderr logger of the sighost commands (log.c): a level, a
 * shape (text, journald or JSON lines), and the options that choose them.
 */
#ifndef SH_CLI_LOG_H
#define SH_CLI_LOG_H

#include <stdbool.h>

#include <sighost/sys/sighost.h>

/* Applies --log-level VALUE or --log-format VALUE. Returns 0, or 2 after
 * printing why the value is wrong. */
int sh_cli_log_option(const char *option, const char *value);

/* Takes --log-level and --log-format (with their values) out of argv,
 * applying them, so a command's own option parsing never sees them.
 * Returns 0, or 2 on a bad value (printed). */
int sh_cli_log_strip(int *argc, char **argv);

/* Applies the project manifest's log_level and log_format unless the
 * command line gave them. Returns 0, or 1 after printing a bad value. */
int sh_cli_log_configure(const sh_project *project);

/* Turns the UTC timestamps of text lines on (serve: a long-running
 * process) or off (the other commands, whose lines come within seconds). */
void sh_cli_log_timestamps(bool on);

/* The logger (sh_log_fn) every command installs on its hub. */
void sh_cli_logger(sh_log_level level, const char *origin, const char *message, void *payload);

#endif
