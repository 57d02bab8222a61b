/*
 * sys/suggest.h: "did you mean ...?" for host tools (the command line's
 * commands and options). Host-only: not part of the plugin API.
 */
#ifndef SIGHOST_SYS_SUGGEST_H
#define SIGHOST_SYS_SUGGEST_H

#include <stddef.h>

#include "../common.h"

/* Returns the candidate nearest to `word` (by edit distance, ASCII case
 * ignored, a swap of two neighbours counting as one edit) when it is near
 * enough to be a plausible typo, else NULL (also for a NULL word or no
 * candidates). The result is one of `candidates`; nothing is allocated. */
SH_API const char *sh_suggest(const char *word, const char *const *candidates, size_t count);

#endif
