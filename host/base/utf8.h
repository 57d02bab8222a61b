/*
 * utf8.h: UTF-8 text: validity and length in characters (Python's len).
 */
#ifndef SH_BASE_UTF8_H
#define SH_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when the `n` bytes at `s` are valid UTF-8 without a NUL (no
 * overlong form, no surrogate, nothing past U+10FFFF). */
bool sh_base__utf8_valid(const char *s, size_t n);

/* The number of characters of the `n` bytes of valid UTF-8 at `s` (its
 * bytes that do not continue a character). */
size_t sh_base__utf8_length(const char *s, size_t n);

/* Returns the number of characters of the NUL-terminated `s`, or -1 when
 * it is not valid UTF-8 (overlong forms, surrogates and code points past
 * U+10FFFF are invalid); stores its length in bytes in *bytes. Fast on
 * ASCII (the save path checks every text value with it). */
long sh_base__utf8_chars(const char *s, size_t *bytes);

#endif
