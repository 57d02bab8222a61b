/*
 * suggest.h: "did you mean ...?" for misspelt keys, labels, converters,
 * filters and tags, shared by every layer that reads user input.
 */
#ifndef SH_BASE_SUGGEST_H
#define SH_BASE_SUGGEST_H

#include <stddef.h>

/* Returns the candidate nearest to `word` (by edit distance, case
 * ignored, a swap of two neighbours counting as one edit) when it is near
 * enough to be a plausible typo, else NULL. */
const char *sh_base__suggest(const char *word, const char *const *candidates, size_t count);

/* Returns the optimal string alignment distance of a and b (insertions,
 * deletions, substitutions and swaps of neighbours, each one edit; ASCII
 * case ignored), or SIZE_MAX when either is longer than 255 bytes. */
size_t sh_base__edit_distance(const char *a, const char *b);

#endif
