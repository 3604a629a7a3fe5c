/*
 * stress.h - what the stress programs share: counted checks that report
 * the first few failures, and a seeded generator.
 *
 * Each program includes it once; everything here is static.
 */
#ifndef PMC_TESTS_STRESS_H
#define PMC_TESTS_STRESS_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

/* Failures printed (all are counted). */
#define MAX_MESSAGES 30

struct checks {
	unsigned long passed, failed;
};

static atomic_int messages;
/* Set by a program that runs several configurations: printed with each failure. */
static const char *run_name;

static void fail_msg(struct checks *ck, const char *file, int line, const char *expr,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void fail_msg(struct checks *ck, const char *file, int line, const char *expr,
		     const char *fmt, ...)
{
	va_list ap;

	ck->failed++;
	if (atomic_fetch_add(&messages, 1) >= MAX_MESSAGES)
		return;
	if (run_name)
		fprintf(stderr, "%s:%d: FAILED [%s]: %s: ", file, line, run_name, expr);
	else
		fprintf(stderr, "%s:%d: FAILED: %s: ", file, line, expr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Count a passed check, or count and report a failed one; never stops the run. */
#define CHECK(ck, cond, ...) do {						\
	if (cond)								\
		(ck)->passed++;							\
	else									\
		fail_msg((ck), __FILE__, __LINE__, #cond, __VA_ARGS__);		\
} while (0)

/* splitmix64: one 64-bit state per thread, reproducible from the seed. */
static inline uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif /* PMC_TESTS_STRESS_H */
