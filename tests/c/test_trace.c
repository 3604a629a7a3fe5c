/*
 * test_trace.c - pmc_trace_parse (csrc/trace.c), the C reader of text
 * trace lines, by the public API of pymemcg.h.
 *
 *  - hand-worked lines: what each record must hold (flags of the gfp
 *    names, defaults, comments, Python's whitespace), and the lines the
 *    reader must leave to Python (hex, signs, leading zeros, too many
 *    digits, repeated or unknown options, gfp= on an uncharge, unknown
 *    paths and commands, bytes above 0x7f), with done[] for each;
 *  - the record cap, both line ends (NUL and newline), the argument checks;
 *  - random lines made of trace words and garbage bytes, each buffer
 *    malloc'ed to its exact length (ASan sees a read past it): the reader
 *    must keep its bounds, and reading a buffer in one call, resuming past
 *    each line left, must give the records of reading its lines one by one.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pymemcg.h"

static int failures;

#define CHECK(cond, ...)                                                            \
	do {                                                                        \
		if (!(cond)) {                                                      \
			failures++;                                                 \
			fprintf(stderr, "%s:%d: FAIL %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                               \
			fputc('\n', stderr);                                        \
		}                                                                   \
	} while (0)

/* The path table: sorted by memcmp order. */
static const char *paths[] = { "a", "a/b", "b", "p0/c1" };
static const int64_t handles[] = { 11, 12, 13, 14 };
#define NPATHS 4
static char names[64];
static int64_t offs[NPATHS + 1];

static void make_table(void)
{
	size_t at = 0;
	for (int i = 0; i < NPATHS; i++) {
		offs[i] = (int64_t)at;
		memcpy(names + at, paths[i], strlen(paths[i]));
		at += strlen(paths[i]);
	}
	offs[NPATHS] = (int64_t)at;
}

#define KERNEL (PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM | PMC_GFP_FS)

/* Parse one text (copied to a buffer of its exact length); returns the records. */
static int64_t parse(const char *text, size_t len, int32_t eol, struct pmc_op *ops, int64_t cap,
                     int64_t *lines, int64_t *done)
{
	char *buf = malloc(len ? len : 1);
	if (!buf)
		abort();
	memcpy(buf, text, len);
	int64_t n = pmc_trace_parse(buf, (int64_t)len, 0, eol, names, offs, handles, NPATHS, ops,
	                            cap, lines, 100, done);
	free(buf);
	return n;
}

/* A single line that must give one record. */
static void record(const char *line, uint32_t op, uint32_t flags, int64_t cgroup, int64_t nr,
                   int32_t cpu, int32_t kmem)
{
	struct pmc_op ops[2];
	int64_t lines[2], done[3];
	int64_t n = parse(line, strlen(line), '\n', ops, 2, lines, done);
	CHECK(n == 1, "%s: %" PRId64 " records", line, n);
	if (n != 1)
		return;
	CHECK(ops[0].op == op && ops[0].flags == flags && ops[0].cgroup == cgroup &&
	      ops[0].nr_pages == nr && ops[0].cpu == cpu && ops[0].kmem == kmem,
	      "%s: got op %u flags %u cgroup %" PRId64 " nr %" PRId64 " cpu %d kmem %d", line,
	      ops[0].op, ops[0].flags, ops[0].cgroup, ops[0].nr_pages, ops[0].cpu, ops[0].kmem);
	CHECK(lines[0] == 100 && done[0] == 1 && done[1] == (int64_t)strlen(line) &&
	      done[2] == done[1], "%s: line %" PRId64 " done %" PRId64 " %" PRId64, line, lines[0],
	      done[0], done[1]);
}

/* A single line left to the caller: no record, nothing read. */
static void left(const char *line)
{
	struct pmc_op ops[2];
	int64_t done[3];
	size_t len = strlen(line);
	int64_t n = parse(line, len, '\n', ops, 2, NULL, done);
	CHECK(n == 0 && done[0] == 0 && done[1] == 0 && done[2] == (int64_t)len,
	      "%s: %" PRId64 " records, done %" PRId64 " %" PRId64 " %" PRId64, line, n, done[0],
	      done[1], done[2]);
}

/* A line without words: no record, one line read. */
static void skipped(const char *line)
{
	struct pmc_op ops[2];
	int64_t done[3];
	size_t len = strlen(line);
	int64_t n = parse(line, len, '\n', ops, 2, NULL, done);
	CHECK(n == 0 && done[0] == 1 && done[1] == (int64_t)len, "%s: %" PRId64 " records", line, n);
}

static void hand_worked(void)
{
	record("charge a/b 12 cpu=1\n", PMC_OP_CHARGE, KERNEL, 12, 12, 1, 0);
	record("charge a 1", PMC_OP_CHARGE, KERNEL, 11, 1, 0, 0);
	record("uncharge p0/c1 5 kmem cpu=3\n", PMC_OP_UNCHARGE, 0, 14, 5, 3, 1);
	record("charge b 0", PMC_OP_CHARGE, KERNEL, 13, 0, 0, 0);
	record("charge b 1 gfp=kernel|NoFail", PMC_OP_CHARGE, KERNEL | PMC_GFP_NOFAIL, 13, 1, 0, 0);
	record("charge b 1 gfp=ATOMIC kmem cpu=2", PMC_OP_CHARGE,
	       PMC_GFP_HIGH | PMC_GFP_KSWAPD_RECLAIM, 13, 1, 2, 1);
	record("charge b 1 gfp=KERNEL_ACCOUNT", PMC_OP_CHARGE, KERNEL | PMC_GFP_ACCOUNT, 13, 1, 0, 0);
	record("charge b 1 gfp=NOWAIT|NORETRY|RETRY_MAYFAIL|DIRECT_RECLAIM|FS|NOFS|ACCOUNT|HIGH",
	       PMC_OP_CHARGE, 0xff & ~PMC_GFP_NOFAIL, 13, 1, 0, 0);
	record("charge b 1 # kmem", PMC_OP_CHARGE, KERNEL, 13, 1, 0, 0);
	record("charge b 7#kmem", PMC_OP_CHARGE, KERNEL, 13, 7, 0, 0);
	record(" \tcharge\x0b" "b\x1f" "9\x1c\r\n", PMC_OP_CHARGE, KERNEL, 13, 9, 0, 0);
	record("charge b 999999999999999999", PMC_OP_CHARGE, KERNEL, 13, 999999999999999999, 0, 0);
	record("uncharge a 3 cpu=999999999", PMC_OP_UNCHARGE, 0, 11, 3, 999999999, 0);
	record("drain 3\n", PMC_OP_DRAIN, 0, 0, 0, 3, 0);
	record("drain 0 # all", PMC_OP_DRAIN, 0, 0, 0, 0, 0);
	record("charge b 1 # \xc3\xa9", PMC_OP_CHARGE, KERNEL, 13, 1, 0, 0);

	left("charge b 0x10");
	left("charge b 012");
	left("charge b 00");
	left("charge b -1");
	left("charge b +1");
	left("charge b 1000000000000000000");
	left("charge b 1 cpu=1000000000");
	left("charge b 1 cpu=-1");
	left("charge b 1 cpu=01");
	left("charge b 1 cpu=");
	left("charge b 1 cpu");
	left("charge b 1 cpu=1 cpu=2");
	left("charge b 1 kmem kmem");
	left("charge b 1 kmem=1");
	left("charge b 1 gfp=");
	left("charge b 1 gfp=KERNEL|");
	left("charge b 1 gfp=|KERNEL");
	left("charge b 1 gfp=KERNEL gfp=FS");
	left("charge b 1 gfp=GFP_KERNEL");
	left("charge b 1 gfp=KERNELX");
	left("uncharge b 1 gfp=KERNEL");
	left("charge b 1 cpu=1 gfp=FS kmem x");
	left("charge b");
	left("charge");
	left("charge c 1");
	left("charge a/ 1");
	left("charge /a 1");
	left("charge a/b/c 1");
	left("charge p0/c 1");
	left("charge A 1");
	left("Charge a 1");
	left("charge b 1\xc3\xa9");
	left("charge b\xa0 1");
	left("drain");
	left("drain 1 2");
	left("drain -1");
	left("drain 0x1");
	left("drain_all");
	left("drain_all a");
	left("create a");
	left("config current");
	left("records 3");

	skipped("\n");
	skipped("   \t\r\n");
	skipped("# charge b 1");
	skipped("  #");
	skipped("\x1c\x1d\x1e\x1f");
}

static void lines_and_cap(void)
{
	const char text[] = "# head\ncharge a 1\n\ncharge b 2 cpu=1\ncreate x\ndrain 1\n";
	size_t len = sizeof(text) - 1;
	struct pmc_op ops[8];
	int64_t lines[8], done[3];
	int64_t n = parse(text, len, '\n', ops, 8, lines, done);
	CHECK(n == 2 && lines[0] == 101 && lines[1] == 103 && done[0] == 4, "n %" PRId64, n);
	const char *create = strstr(text, "create");
	CHECK(done[1] == create - text && done[2] == create - text + 9, "done %" PRId64 " %" PRId64,
	      done[1], done[2]);
	/* Resume past the line left. */
	char *buf = malloc(len);
	memcpy(buf, text, len);
	n = pmc_trace_parse(buf, (int64_t)len, done[2], '\n', names, offs, handles, NPATHS, ops, 8,
	                    lines, 105, done);
	CHECK(n == 1 && ops[0].op == PMC_OP_DRAIN && ops[0].cpu == 1 && lines[0] == 105 &&
	      done[0] == 1 && done[1] == (int64_t)len && done[2] == (int64_t)len, "resume");
	/* The cap: stops before the record that would not fit. */
	n = pmc_trace_parse(buf, (int64_t)len, 0, '\n', names, offs, handles, NPATHS, ops, 1, lines,
	                    0, done);
	const char *second = strstr(text, "charge b");
	CHECK(n == 1 && done[0] == 3 && done[1] == second - text, "cap 1: %" PRId64, n);
	n = pmc_trace_parse(buf, (int64_t)len, 0, '\n', names, offs, handles, NPATHS, NULL, 0, NULL,
	                    0, done);
	CHECK(n == 0 && done[0] == 1 && done[1] == 7, "cap 0: %" PRId64 " %" PRId64, n, done[1]);
	free(buf);

	/* NUL-ended lines: a newline is whitespace there. */
	const char nul[] = "charge a 1\n\0charge\nb 2\0drain 1";
	n = parse(nul, sizeof(nul) - 1, 0, ops, 8, lines, done);
	CHECK(n == 3 && ops[1].cgroup == 13 && ops[1].nr_pages == 2 && ops[2].op == PMC_OP_DRAIN &&
	      lines[2] == 102 && done[0] == 3 && done[1] == (int64_t)sizeof(nul) - 1, "nul: %" PRId64,
	      n);

	/* Empty text, empty table. */
	n = pmc_trace_parse(NULL, 0, 0, '\n', NULL, NULL, NULL, 0, NULL, 0, NULL, 0, done);
	CHECK(n == 0 && done[0] == 0 && done[1] == 0, "empty");
	n = pmc_trace_parse("charge a 1\n", 11, 0, '\n', NULL, NULL, NULL, 0, ops, 8, NULL, 0, done);
	CHECK(n == 0 && done[0] == 0 && done[1] == 0 && done[2] == 11, "no table");
}

static void arguments(void)
{
	struct pmc_op ops[1];
	int64_t done[3];
	const char *t = "charge a 1";
	CHECK(pmc_trace_parse(t, 10, 0, '\n', names, offs, handles, NPATHS, ops, 1, NULL, 0, NULL) ==
	      -EINVAL, "done NULL");
	CHECK(pmc_trace_parse(t, -1, 0, '\n', names, offs, handles, NPATHS, ops, 1, NULL, 0, done) ==
	      -EINVAL, "len < 0");
	CHECK(pmc_trace_parse(t, 10, 11, '\n', names, offs, handles, NPATHS, ops, 1, NULL, 0, done) ==
	      -EINVAL, "pos > len");
	CHECK(pmc_trace_parse(t, 10, -1, '\n', names, offs, handles, NPATHS, ops, 1, NULL, 0, done) ==
	      -EINVAL, "pos < 0");
	CHECK(pmc_trace_parse(NULL, 10, 0, '\n', names, offs, handles, NPATHS, ops, 1, NULL, 0,
	                      done) == -EINVAL, "text NULL");
	CHECK(pmc_trace_parse(t, 10, 0, 256, names, offs, handles, NPATHS, ops, 1, NULL, 0, done) ==
	      -EINVAL, "eol 256");
	CHECK(pmc_trace_parse(t, 10, 0, -1, names, offs, handles, NPATHS, ops, 1, NULL, 0, done) ==
	      -EINVAL, "eol -1");
	CHECK(pmc_trace_parse(t, 10, 0, '\n', NULL, offs, handles, NPATHS, ops, 1, NULL, 0, done) ==
	      -EINVAL, "names NULL");
	CHECK(pmc_trace_parse(t, 10, 0, '\n', names, offs, handles, -1, ops, 1, NULL, 0, done) ==
	      -EINVAL, "npaths < 0");
	CHECK(pmc_trace_parse(t, 10, 0, '\n', names, offs, handles, NPATHS, NULL, 1, NULL, 0, done) ==
	      -EINVAL, "ops NULL");
	CHECK(pmc_trace_parse(t, 10, 0, '\n', names, offs, handles, NPATHS, ops, -1, NULL, 0, done) ==
	      -EINVAL, "cap < 0");
	CHECK(pmc_trace_parse(t, 10, 0, '\n', names, offs, handles, NPATHS, ops, 1, NULL, -1, done) ==
	      -EINVAL, "first_line < 0");
	/* A bad table (offsets out of order) finds nothing, reads nothing out of it. */
	int64_t bad[NPATHS + 1] = { 0, 5, 2, 3, 9 };
	CHECK(pmc_trace_parse(t, 10, 0, '\n', names, bad, handles, NPATHS, ops, 1, NULL, 0, done) ==
	      0 && done[1] == 0, "bad table");
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char *pieces[] = {
	"charge", "uncharge", "drain", "drain_all", "create", "a", "a/b", "b", "p0/c1", "c",
	"0", "1", "12", "0x1f", "-3", "007", "999999999999999999", "1000000000000000000",
	"cpu=1", "cpu=0", "cpu=", "cpu=99999999999", "gfp=KERNEL", "gfp=nofail|fs", "gfp=",
	"gfp=X|", "kmem", "kmem=1", "#", "# c", " ", "  ", "\t", "\r", "\n", "\x1f", "\xc3\xa9",
	"\xff", "|", "=",
};

static void random_lines(int rounds)
{
	const int npieces = (int)(sizeof(pieces) / sizeof(pieces[0]));
	for (int r = 0; r < rounds; r++) {
		char text[512];
		size_t len = 0;
		int32_t eol = (next() & 1) ? '\n' : 0;
		while (len < 400) {
			uint64_t x = next();
			const char *p;
			char one[2] = { 0, 0 };
			size_t plen;
			if (x % 8 == 0) {
				one[0] = (char)(next() & 0xff);
				p = one;
				plen = 1;
			} else if (x % 8 == 1) {
				one[0] = (char)eol;
				p = one;
				plen = 1;
			} else {
				p = pieces[next() % (uint64_t)npieces];
				plen = strlen(p);
			}
			memcpy(text + len, p, plen);
			len += plen;
			if (next() % 3 == 0)
				text[len++] = ' ';
		}
		char *buf = malloc(len);
		memcpy(buf, text, len);
		/* In one pass, resuming past each line left. */
		struct pmc_op all[512], one[512];
		int64_t nall = 0, lines[512], done[3], pos = 0, line = 0;
		int64_t at_line[512];
		while (pos < (int64_t)len) {
			int64_t cap = 1 + (int64_t)(next() % 4);
			int64_t n = pmc_trace_parse(buf, (int64_t)len, pos, eol, names, offs, handles,
			                            NPATHS, all + nall, cap, lines, line, done);
			CHECK(n >= 0 && n <= cap && done[1] >= pos && done[1] <= done[2] &&
			      done[2] <= (int64_t)len, "round %d: n %" PRId64, r, n);
			if (n < 0)
				break;
			for (int64_t i = 0; i < n; i++)
				at_line[nall + i] = lines[i];
			nall += n;
			line += done[0];
			if (done[1] == (int64_t)len)
				break;
			if (n == cap) {
				pos = done[1];      /* full, or a line left: read it again */
				continue;
			}
			pos = done[2];   /* a line left */
			line++;
		}
		/* Line by line. */
		int64_t none = 0, l = 0;
		size_t start = 0;
		while (start < len) {
			const char *end = memchr(buf + start, eol, len - start);
			size_t n = end ? (size_t)(end - (buf + start)) : len - start;
			char *lb = malloc(n ? n : 1);
			memcpy(lb, buf + start, n);
			int64_t m = pmc_trace_parse(lb, (int64_t)n, 0, eol, names, offs, handles, NPATHS,
			                            one + none, 1, NULL, 0, done);
			CHECK(m == 0 || m == 1, "round %d: line %" PRId64, r, l);
			if (m == 1) {
				CHECK(none < nall && at_line[none] == l, "round %d: record of line %" PRId64,
				      r, l);
				none++;
			}
			free(lb);
			start += n + (end ? 1 : 0);
			l++;
		}
		CHECK(none == nall && memcmp(all, one, (size_t)nall * sizeof(all[0])) == 0,
		      "round %d: %" PRId64 " records in one pass, %" PRId64 " line by line", r, nall,
		      none);
		for (int64_t i = 0; i < nall; i++)
			CHECK(all[i].op >= PMC_OP_CHARGE && all[i].op <= PMC_OP_DRAIN &&
			      (all[i].op == PMC_OP_DRAIN ? all[i].cgroup == 0
			                                 : all[i].cgroup >= 11 && all[i].cgroup <= 14) &&
			      all[i].nr_pages >= 0 && all[i].cpu >= 0, "round %d: record %" PRId64, r, i);
		free(buf);
		if (failures > 20)
			return;
	}
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 20000;
	make_table();
	hand_worked();
	lines_and_cap();
	arguments();
	random_lines(rounds);
	if (failures) {
		fprintf(stderr, "test_trace: %d failures\n", failures);
		return 1;
	}
	printf("test_trace: all passed (%d random buffers)\n", rounds);
	return 0;
}
