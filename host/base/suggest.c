/*
 * suggest.c: the nearest candidate to a misspelt word, by the optimal
 * string alignment distance (insertions, deletions, substitutions and
 * swaps of neighbours), ignoring case.
 */
#include <stdint.h>
#include <string.h>

#include "suggest.h"
#include "text.h"
#include <sighost/sys/suggest.h>

/* The longest word sh_base__suggest() compares, and sh_base__edit_distance(). */
#define SH__SUGGEST_MAX 64
#define SH__DISTANCE_MAX 255

size_t sh_base__edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > SH__DISTANCE_MAX || lb > SH__DISTANCE_MAX)
		return SIZE_MAX;
	size_t rows[3][SH__DISTANCE_MAX + 1];
	size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			char ca = (char)sh__ascii_lower(a[i - 1]), cb = (char)sh__ascii_lower(b[j - 1]);
			size_t best = prev[j - 1] + (ca != cb);
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && ca == (char)sh__ascii_lower(b[j - 2]) && (char)sh__ascii_lower(a[i - 2]) == cb
				&& prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
		size_t *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

const char *sh_base__suggest(const char *word, const char *const *candidates, size_t count)
{
	/* a typo or two; three in long words */
	size_t limit = strlen(word) / 3;
	limit = limit < 2 ? 2 : limit > 3 ? 3 : limit;
	const char *best = NULL;
	size_t best_distance = SIZE_MAX;
	for (size_t i = 0; i < count; i++) {
		size_t d = strlen(word) > SH__SUGGEST_MAX || strlen(candidates[i]) > SH__SUGGEST_MAX
			? SIZE_MAX : sh_base__edit_distance(word, candidates[i]);
		if (d < best_distance) {
			best = candidates[i];
			best_distance = d;
		}
	}
	if (best == NULL || best_distance > limit || best_distance >= strlen(best))
		return NULL;
	return best;
}

const char *sh_suggest(const char *word, const char *const *candidates, size_t count)
{
	if (word == NULL || candidates == NULL || count == 0)
		return NULL;
	return sh_base__suggest(word, candidates, count);
}
