/*
 * memparse.c - the kernel's size syntax ("64M", "0x1000", "1g", "max").
 *
 * memparse() follows lib/cmdline.c on top of simple_strtoull() with base 0
 * from lib/vsprintf.c and lib/kstrtox.c; page_counter_memparse() follows
 * mm/page_counter.c.  The quirks are deliberate: octal after a leading 0,
 * hex only when a hex digit follows "0x", no sign, silent wrap-around
 * modulo 2^64 both in the digits and in the suffix shifts, and a size
 * rounded DOWN to whole pages.
 */
#include <errno.h>
#include <string.h>

#include "page_counter.h"

static inline int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static inline int is_xdigit(int c)
{
	return (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f');
}

/* Base 0: a leading "0x" and a hex digit mean hex, a leading 0 octal. */
static const char *fixup_radix(const char *s, unsigned int *base)
{
	if (s[0] == '0') {
		if (lower(s[1]) == 'x' && is_xdigit(s[2])) {
			*base = 16;
			return s + 2;
		}
		*base = 8;
		return s;
	}
	*base = 10;
	return s;
}

/* simple_strtoull(s, &end, 0): overflow is not detected, it wraps. */
static unsigned long long simple_strtoull0(const char *s, const char **end)
{
	unsigned long long res = 0;
	unsigned int base;

	s = fixup_radix(s, &base);
	for (;; s++) {
		unsigned int c = (unsigned char)*s, val;

		if (c >= '0' && c <= '9')
			val = c - '0';
		else if (lower((int)c) >= 'a' && lower((int)c) <= 'f')
			val = (unsigned int)lower((int)c) - 'a' + 10;
		else
			break;
		if (val >= base)
			break;
		res = res * base + val;
	}
	*end = s;
	return res;
}

/**
 * memparse - parse a size with an optional binary suffix
 * @retptr: where parsing stopped
 *
 * One suffix letter of K, M, G, T, P or E (any case) multiplies by the
 * power of 1024 it names; the shifts cascade and wrap silently.
 */
unsigned long long memparse(const char *ptr, char **retptr)
{
	const char *end;
	unsigned long long ret = simple_strtoull0(ptr, &end);
	unsigned int shift = 0;

	switch (lower((unsigned char)*end)) {
	case 'e': shift += 10; /* fall through */
	case 'p': shift += 10; /* fall through */
	case 't': shift += 10; /* fall through */
	case 'g': shift += 10; /* fall through */
	case 'm': shift += 10; /* fall through */
	case 'k': shift += 10;
		end++;
		break;
	default:
		break;
	}
	/* A shift of 60 still fits; bits shifted out are lost, as in C. */
	ret <<= shift;
	if (retptr)
		*retptr = (char *)end;
	return ret;
}

/**
 * page_counter_memparse - parse a limit written to a cgroup file
 * @max_token: the string that means "no limit" ("max" on v2, "-1" on v1)
 *
 * The caller has stripped whitespace.  Bytes are rounded down to pages and
 * clamped to PAGE_COUNTER_MAX.
 */
int page_counter_memparse(const char *buf, const char *max_token, unsigned long *nr_pages)
{
	unsigned long long bytes;
	char *end;

	if (!strcmp(buf, max_token)) {
		*nr_pages = PAGE_COUNTER_MAX;
		return 0;
	}

	bytes = memparse(buf, &end);
	if (*end != '\0')
		return -EINVAL;

	bytes /= PMC_PAGE_SIZE;
	*nr_pages = bytes < PAGE_COUNTER_MAX ? (unsigned long)bytes : PAGE_COUNTER_MAX;
	return 0;
}
