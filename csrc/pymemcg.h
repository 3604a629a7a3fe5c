/*
 * pymemcg.h - the one public header of the pymemcg C core.
 *
 * Everything between PYMEMCG_CDEF_BEGIN and PYMEMCG_CDEF_END is handed
 * verbatim (preprocessor lines aside from plain integer #defines) to
 * CFFI as its cdef, so this block is the binding's contract: plain C
 * types and opaque handles only, no pointers into memory that can be
 * freed.
 *
 * Conventions:
 *  - Objects are addressed by handles: a positive int64_t packing a slot
 *    index (low 32 bits) and a generation (high 31 bits).  A handle whose
 *    object was freed no longer matches its slot's generation and every
 *    call with it returns -ESTALE.
 *  - Every function returns int64_t: a negative value is -errno (EINVAL,
 *    EBUSY, ESTALE, ENOMEM, ...); zero or positive is the documented result.
 *  - Counts are pages, passed as int64_t so that a negative count from a
 *    caller is seen (and refused with -EINVAL) instead of wrapping; a count
 *    above PMC_PAGE_COUNTER_MAX is refused with -EINVAL as well.
 *  - Nothing here is undefined for any argument value.
 */
#ifndef PYMEMCG_H
#define PYMEMCG_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* PYMEMCG_CDEF_BEGIN */

#define PMC_PAGE_SIZE 4096
#define PMC_PAGE_SHIFT 12
/* LONG_MAX / PAGE_SIZE on 64-bit: usage + nr_pages can never overflow a long. */
#define PMC_PAGE_COUNTER_MAX 2251799813685247

/*
 * A consistent-enough copy of one page counter's fields.  Fields are read
 * one by one without a lock, as /sys readers of the kernel's counters do.
 */
struct pmc_page_counter_info {
	uint64_t usage;
	uint64_t max;
	uint64_t min;
	uint64_t low;
	uint64_t high;
	uint64_t watermark;
	uint64_t local_watermark;
	uint64_t failcnt;
	uint64_t emin;
	uint64_t elow;
	uint64_t min_usage;
	uint64_t low_usage;
	uint64_t children_min_usage;
	uint64_t children_low_usage;
	int32_t track_failcnt;
	int32_t protection;
	int32_t depth;          /* 0 for a root counter */
	int32_t nr_children;
};

/* --- standalone page counters (mm/page_counter.c) --------------------- */

/* Returns a handle, or -EINVAL / -ESTALE (bad parent) / -ENOMEM. parent 0: a root. */
int64_t pmc_page_counter_new(int64_t parent, int64_t max, int track_failcnt, int protection);
/* Drops the owner's reference (once: -ESTALE after); freed once its children are. */
int64_t pmc_page_counter_put(int64_t counter);

/* Forced charge of the whole ancestry: 0, or -errno. */
int64_t pmc_page_counter_charge(int64_t counter, int64_t nr_pages);
/* 0 on success; k > 0 when the (k-1)-th ancestor refused (1: the counter itself). */
int64_t pmc_page_counter_try_charge(int64_t counter, int64_t nr_pages);
/*
 * 0, or a mask of the levels that underflowed and were clamped to zero
 * (bit i: the i-th ancestor, 0 the counter itself; bit 62 stands for every
 * level from 62 up).
 */
int64_t pmc_page_counter_uncharge(int64_t counter, int64_t nr_pages);

int64_t pmc_page_counter_set_max(int64_t counter, int64_t nr_pages);   /* 0 or -EBUSY */
int64_t pmc_page_counter_set_min(int64_t counter, int64_t nr_pages);
int64_t pmc_page_counter_set_low(int64_t counter, int64_t nr_pages);
int64_t pmc_page_counter_set_high(int64_t counter, int64_t nr_pages);
int64_t pmc_page_counter_reset_watermark(int64_t counter);
int64_t pmc_page_counter_reset_local_watermark(int64_t counter);
/* root must be counter or one of its ancestors (-EINVAL otherwise). */
int64_t pmc_page_counter_calculate_protection(int64_t root, int64_t counter, int recursive);
int64_t pmc_page_counter_read(int64_t counter, struct pmc_page_counter_info *info);
/* Number of live counters in the process-wide table (for leak checks). */
int64_t pmc_page_counter_nr_live(void);

/* --- lib/cmdline.c memparse and mm/page_counter.c page_counter_memparse -- */

/* Kernel memparse of a NUL-terminated string; 0, or -EINVAL if text follows. */
int64_t pmc_memparse(const char *buf, uint64_t *bytes);
/* max_token ("max", "-1", "") means PMC_PAGE_COUNTER_MAX; bytes round down to pages. */
int64_t pmc_page_counter_memparse(const char *buf, const char *max_token, uint64_t *nr_pages);

/* --- microbenchmarks (csrc/bench.c) ----------------------------------- */

/* Empty functions with the signatures of try_charge and uncharge: the CFFI floor. */
int64_t pmc_bench_nop_try_charge(int64_t counter, int64_t nr_pages);
int64_t pmc_bench_nop_uncharge(int64_t counter, int64_t nr_pages);

struct pmc_bench_result {
	double seconds;         /* wall time of the timed region, slowest thread */
	double ns_per_op;       /* seconds * 1e9 / ops_per_thread */
	uint64_t ops_per_thread;
	uint64_t total_ops;
};

/* Baseline: relaxed atomic_fetch_add on one private, cache-line aligned variable. */
int64_t pmc_bench_atomic_add(uint64_t iters, struct pmc_bench_result *out);
/*
 * try_charge(1) + uncharge(1) pairs on a chain of `depth` counters, from
 * `nthreads` pthreads.  shared_leaf: every thread charges the same leaf;
 * otherwise each thread has its own leaf below one shared parent chain.
 * One op is one pair.
 */
int64_t pmc_bench_page_counter_pair(int depth, int nthreads, int shared_leaf,
                                    uint64_t iters, struct pmc_bench_result *out);

/* PYMEMCG_CDEF_END */

#ifdef __cplusplus
}
#endif

#endif /* PYMEMCG_H */
