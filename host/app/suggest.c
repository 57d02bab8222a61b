/*
 * suggest.c: "did you mean ...?" for misspelt keys and labels, by
 * Levenshtein distance (insertions, deletions and substitutions).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The edit distance of a and b, or SIZE_MAX when b is too long to bother. */
static size_t sh__distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 255 || lb > 255)
		return SIZE_MAX;
	size_t row[256];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *sh__suggest(const char *word, const char *const *candidates, size_t count)
{
	size_t len = strlen(word);
	size_t limit = len / 3 > 2 ? len / 3 : 2;   /* a typo or two, more in long words */
	const char *best = NULL;
	size_t best_distance = SIZE_MAX;
	for (size_t i = 0; i < count; i++) {
		size_t d = sh__distance(word, candidates[i]);
		if (d < best_distance) {
			best = candidates[i];
			best_distance = d;
		}
	}
	if (best == NULL || best_distance > limit || best_distance >= strlen(best))
		return NULL;
	return best;
}
