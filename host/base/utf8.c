/*
 * utf8.c: UTF-8 text, one helper of each kind for every layer: validating
 * (web requests, template names), counting characters (max_length, the
 * templates' length filter) and both at once (the save path).
 */
#include <stdint.h>
#include <string.h>

#include "utf8.h"

bool sh_base__utf8_valid(const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t more = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 0;
		if (more == 0 || c < 0xc2 || c > 0xf4 || n - i <= more)
			return false;
		unsigned cp = c & (0x3fu >> more);
		for (size_t k = 1; k <= more; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
			|| (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += more + 1;
	}
	return true;
}

size_t sh_base__utf8_length(const char *s, size_t n)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += ((unsigned char)s[i] & 0xC0) != 0x80;
	return count;
}

long sh_base__utf8_chars(const char *s, size_t *bytes)
{
	const unsigned char *p = (const unsigned char *)s;
	long count = 0;
	/* Short ASCII text (most values) in one pass, byte by byte. */
	while (count < 32 && p[count] != '\0' && p[count] < 0x80)
		count++;
	if (p[count] == '\0') {
		*bytes = (size_t)count;
		return count;
	}
	p += count;
	/* Longer ASCII runs eight bytes at a time (within the string: strlen first) */
	size_t len = strlen((const char *)p);
	*bytes = (size_t)count + len;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, sizeof w);
		if (w & 0x8080808080808080ull)
			break;
		p += 8;
		len -= 8;
		count += 8;
	}
	while (*p != '\0') {
		unsigned c = *p;
		size_t extra;
		unsigned cp;
		if (c < 0x80) {
			p++;
			count++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			extra = 1, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			extra = 2, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			extra = 3, cp = c & 0x07;
		} else {
			return -1;
		}
		for (size_t i = 1; i <= extra; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		static const unsigned min[4] = { 0, 0x80, 0x800, 0x10000 };
		if (cp < min[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		p += extra + 1;
		count++;
	}
	return count;
}

