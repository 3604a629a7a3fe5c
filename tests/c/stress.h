/*
 * stress.h - what the stress programs share: counted checks that report
 * the first few failures, and a seeded generator.
 *
 * Each program includes it once; everything here is static.
 */
#ifndef PMC_TESTS_STRESS_H
#define PMC_TESTS_STRESS_H

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pymemcg.h"

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

/*
 * The command line both programs take: [threads (1-max_threads)
 * [ops_per_thread [seed]]]; anything else prints the usage and exits 2.
 */
static void stress_args(int argc, char **argv, int max_threads, int *nthreads,
			long *ops_per_thread, uint64_t *seed)
{
	char *end;

	if (argc > 4)
		goto usage;
	if (argc > 1) {
		*nthreads = (int)strtol(argv[1], &end, 0);
		if (*end || *nthreads < 1 || *nthreads > max_threads)
			goto usage;
	}
	if (argc > 2) {
		*ops_per_thread = strtol(argv[2], &end, 0);
		if (*end || *ops_per_thread < 0)
			goto usage;
	}
	if (argc > 3) {
		*seed = strtoull(argv[3], &end, 0);
		if (*end)
			goto usage;
	}
	return;
usage:
	fprintf(stderr, "usage: %s [threads (1-%d) [ops_per_thread [seed]]]\n", argv[0],
		max_threads);
	exit(2);
}

/*
 * Config.current() (Linux 6.16+, cgroup v2, objcg slab accounting), as the
 * stress programs start from it; they set ncpus and seed.  Needs pymemcg.h.
 */
static inline struct pmc_config stress_config_current(void)
{
	return (struct pmc_config){
		.version = 2, .charge_batch = 64, .reclaim_retries = 16, .stock_slots = 7,
		.stock_refill_cap = 1, .kmem_limit = PMC_KMEM_LIMIT_ABSENT,
		.kmem_uncharge_via_stock = 1, .failcnt = PMC_FAILCNT_NONE, .allow_spinning_batch = 1,
		.hz = 1000, .id_at_offline = 1, .id_errno = EBUSY, .objcg = 1,
		.kernel_stack_pages = 4, .stack_per_page = 1, .pagetables_accounted = 1,
		.slab_mode = PMC_SLAB_OBJCG, .slab_clone_name = PMC_SLAB_NAME_SERIAL,
	};
}

#endif /* PMC_TESTS_STRESS_H */
