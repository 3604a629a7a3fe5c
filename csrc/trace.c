/*
 * trace.c - the common lines of a text trace, read in C.
 *
 * pymemcg replay reads text traces of millions of lines; a line read by
 * Python costs about a microsecond even when it is only "charge a/b 12
 * cpu=1".  This reader takes the lines whose reading is certain (charge,
 * uncharge and drain with plain decimal numbers, known options and a path
 * of the caller's table) and stops before any other line, which the
 * caller reads with its own reader: that reader, and only that one,
 * writes every error message, so no message can differ between the two.
 *
 * Words are split as Python's str.split() splits an ASCII string (space,
 * \t \n \v \f \r and \x1c-\x1f); a line with a byte above 0x7f before its
 * comment is left to the caller.  Every read is bounded by len, numbers
 * have a fixed most number of digits (no overflow), and the records are
 * written with memcpy (any alignment).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "pymemcg.h"

/* charge PATH PAGES and at most three options: more is a line to give back. */
#define TRACE_MAX_WORDS 6
#define PAGES_DIGITS 18         /* below 10^18: well inside int64_t */
#define INT_DIGITS 9            /* below 10^9: well inside int32_t */

struct word {
	const char *s;
	size_t n;
};

static bool is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static bool word_is(const struct word *w, const char *lit)
{
	size_t n = strlen(lit);
	return w->n == n && memcmp(w->s, lit, n) == 0;
}

/* A decimal of 1..max_digits digits without a leading zero ("0" alone is one). */
static bool decimal(const char *s, size_t n, size_t max_digits, int64_t *out)
{
	if (n == 0 || n > max_digits || (s[0] == '0' && n > 1))
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*out = v;
	return true;
}

/* The names of pymemcg.gfp without GFP_ (pymemcg.trace._GFP), case-insensitive. */
static const struct {
	const char *name;
	uint32_t bits;
} gfp_names[] = {
	{ "DIRECT_RECLAIM", PMC_GFP_DIRECT_RECLAIM },
	{ "KSWAPD_RECLAIM", PMC_GFP_KSWAPD_RECLAIM },
	{ "NORETRY", PMC_GFP_NORETRY },
	{ "RETRY_MAYFAIL", PMC_GFP_RETRY_MAYFAIL },
	{ "NOFAIL", PMC_GFP_NOFAIL },
	{ "HIGH", PMC_GFP_HIGH },
	{ "ACCOUNT", PMC_GFP_ACCOUNT },
	{ "FS", PMC_GFP_FS },
	{ "KERNEL", PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM | PMC_GFP_FS },
	{ "NOFS", PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM },
	{ "NOWAIT", PMC_GFP_KSWAPD_RECLAIM },
	{ "ATOMIC", PMC_GFP_HIGH | PMC_GFP_KSWAPD_RECLAIM },
	{ "KERNEL_ACCOUNT", PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM | PMC_GFP_FS |
	                    PMC_GFP_ACCOUNT },
};

static bool gfp_name(const char *s, size_t n, uint32_t *bits)
{
	for (size_t k = 0; k < sizeof(gfp_names) / sizeof(gfp_names[0]); k++) {
		const char *name = gfp_names[k].name;
		if (strlen(name) != n)
			continue;
		size_t i = 0;
		while (i < n) {
			unsigned char c = (unsigned char)s[i];
			if (c >= 'a' && c <= 'z')
				c = (unsigned char)(c - 'a' + 'A');
			if (c != (unsigned char)name[i])
				break;
			i++;
		}
		if (i == n) {
			*bits = gfp_names[k].bits;
			return true;
		}
	}
	return false;
}

/* FLAGS: names joined with '|', none empty. */
static bool gfp_flags(const char *s, size_t n, uint32_t *out)
{
	uint32_t flags = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '|') {
			uint32_t bits;
			if (!gfp_name(s + start, i - start, &bits))
				return false;
			flags |= bits;
			start = i + 1;
		}
	}
	*out = flags;
	return true;
}

struct path_table {
	const char *names;
	const int64_t *offs;
	const int64_t *handles;
	int64_t n;
};

/* The handle of the path, by binary search; 0 when it is not there (or the table is bad). */
static int64_t lookup(const struct path_table *t, const struct word *w)
{
	int64_t lo = 0, hi = t->n;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		int64_t a = t->offs[mid], b = t->offs[mid + 1];
		if (a < 0 || b < a)
			return 0;
		size_t plen = (size_t)(b - a);
		size_t m = plen < w->n ? plen : w->n;
		int c = m ? memcmp(t->names + a, w->s, m) : 0;
		if (c == 0)
			c = plen < w->n ? -1 : (plen > w->n ? 1 : 0);
		if (c == 0)
			return t->handles[mid] > 0 ? t->handles[mid] : 0;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * One line's words: 1 a record (in *op), 0 a line without words, -1 a line
 * for the caller.
 */
static int parse_line(const char *s, size_t n, const struct path_table *t, struct pmc_op *op)
{
	struct word w[TRACE_MAX_WORDS];
	size_t nw = 0, i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c == '#')
			break;
		if (c >= 0x80)
			return -1;
		if (is_space(c)) {
			i++;
			continue;
		}
		size_t start = i;
		while (i < n) {
			c = (unsigned char)s[i];
			if (c == '#' || is_space(c))
				break;
			if (c >= 0x80)
				return -1;
			i++;
		}
		if (nw == TRACE_MAX_WORDS)
			return -1;
		w[nw].s = s + start;
		w[nw].n = i - start;
		nw++;
	}
	if (nw == 0)
		return 0;
	memset(op, 0, sizeof(*op));
	if (word_is(&w[0], "drain")) {
		int64_t cpu;
		if (nw != 2 || !decimal(w[1].s, w[1].n, INT_DIGITS, &cpu))
			return -1;
		op->op = PMC_OP_DRAIN;
		op->cpu = (int32_t)cpu;
		return 1;
	}
	bool charge = word_is(&w[0], "charge");
	if (!charge && !word_is(&w[0], "uncharge"))
		return -1;
	if (nw < 3)
		return -1;
	int64_t handle = lookup(t, &w[1]);
	int64_t pages;
	if (handle <= 0 || !decimal(w[2].s, w[2].n, PAGES_DIGITS, &pages))
		return -1;
	op->op = charge ? PMC_OP_CHARGE : PMC_OP_UNCHARGE;
	op->flags = charge ? (PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM | PMC_GFP_FS) : 0;
	op->cgroup = handle;
	op->nr_pages = pages;
	bool seen_cpu = false, seen_gfp = false, seen_kmem = false;
	for (size_t k = 3; k < nw; k++) {
		const struct word *o = &w[k];
		if (word_is(o, "kmem")) {
			if (seen_kmem)
				return -1;
			seen_kmem = true;
			op->kmem = 1;
		} else if (o->n >= 4 && memcmp(o->s, "cpu=", 4) == 0) {
			int64_t cpu;
			if (seen_cpu || !decimal(o->s + 4, o->n - 4, INT_DIGITS, &cpu))
				return -1;
			seen_cpu = true;
			op->cpu = (int32_t)cpu;
		} else if (charge && o->n >= 4 && memcmp(o->s, "gfp=", 4) == 0) {
			uint32_t flags;
			if (seen_gfp || !gfp_flags(o->s + 4, o->n - 4, &flags))
				return -1;
			seen_gfp = true;
			op->flags = flags;
		} else {
			return -1;
		}
	}
	return 1;
}

int64_t pmc_trace_parse(const char *text, int64_t len, int64_t pos, int32_t eol,
                        const char *names, const int64_t *offs, const int64_t *handles,
                        int64_t npaths, void *ops, int64_t cap, int64_t *lines,
                        int64_t first_line, int64_t *done)
{
	if (!done || len < 0 || pos < 0 || pos > len || (len > 0 && !text) || eol < 0 ||
	    eol > 255 || npaths < 0 || (npaths > 0 && (!names || !offs || !handles)) || cap < 0 ||
	    (cap > 0 && !ops) || first_line < 0)
		return -EINVAL;
	struct path_table t = { names, offs, handles, npaths };
	int64_t nrec = 0, nlines = 0, p = pos;
	done[0] = 0;
	done[1] = pos;
	done[2] = pos;
	while (p < len) {
		const char *start = text + p;
		size_t room = (size_t)(len - p);
		const char *end = memchr(start, eol, room);
		size_t n = end ? (size_t)(end - start) : room;
		int64_t next = p + (int64_t)n + (end ? 1 : 0);
		struct pmc_op op;
		int r = parse_line(start, n, &t, &op);
		if (r < 0 || (r > 0 && nrec == cap)) {
			done[0] = nlines;
			done[1] = p;
			done[2] = next;
			return nrec;
		}
		if (r > 0) {
			memcpy((char *)ops + nrec * (int64_t)sizeof(op), &op, sizeof(op));
			if (lines) {
				int64_t at = nlines < INT64_MAX - first_line ? first_line + nlines : INT64_MAX;
				memcpy(lines + nrec, &at, sizeof(at));
			}
			nrec++;
		}
		nlines++;
		p = next;
	}
	done[0] = nlines;
	done[1] = len;
	done[2] = len;
	return nrec;
}
