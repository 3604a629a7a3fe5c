/*
 * page_counter.h - hierarchical, lock-free page counters.
 *
 * The user-space twin of the kernel's include/linux/page_counter.h
 * (mainline >= 6.15: local_watermark, protection_support, track_failcnt).
 * All counts are pages, held in unsigned 64-bit integers: the kernel's
 * "unsigned long" on the 64-bit machines it is measured on.
 */
#ifndef PMC_PAGE_COUNTER_H
#define PMC_PAGE_COUNTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pymemcg.h"

#define PMC_CACHELINE 64
#define PAGE_COUNTER_MAX ((unsigned long)PMC_PAGE_COUNTER_MAX)

/*
 * Two cache lines, split by what the charge path touches (pymemcg's own
 * split, not the kernel's three groups; see benchmarks/README.md):
 *
 *  - the hot line: everything one level of a charge or uncharge reads or
 *    writes (usage, max, parent, high, the peaks, the flags), so that a
 *    walk up the tree costs one line per level.  The kernel (6.1+) keeps
 *    usage alone on its line so that readers of the limits are not
 *    invalidated by every charge; here the only frequent readers of the
 *    limits are the chargers themselves, who own the line for their add
 *    anyway, so sharing it costs nothing and saves a miss per level.
 *    failcnt is here too: written only on a failed charge, by the charger
 *    that already owns the line.
 *  - the protection line: min, low and what propagate_protected_usage and
 *    reclaim's effective protection keep.  A charge reads it only where a
 *    min or a low was ever set on that counter (prot_set), so trees that
 *    use no protection never touch it.
 *
 * A counter that can never be charged nor protected (cgroup v2's swap
 * counter: v2 has no memsw) may be allocated without its protection line:
 * `hot_only` says so, and only the hot line is ever read or written then.
 */
struct page_counter {
	/* Hot: the charge path, one line. */
	_Alignas(PMC_CACHELINE) _Atomic unsigned long usage;
	_Atomic unsigned long max;
	struct page_counter *parent;
	_Atomic unsigned long high;
	_Atomic unsigned long watermark;
	_Atomic unsigned long local_watermark;
	_Atomic unsigned long failcnt;          /* racy by design, see try_charge */
	bool protection_support;
	bool track_failcnt;
	bool hot_only;                          /* no protection line allocated */
	/* A min or low was set here once (sticky): its claims may be non-zero. */
	_Atomic bool prot_set;

	/* Protection: written when protection moves, read where it is set. */
	_Alignas(PMC_CACHELINE) _Atomic unsigned long min;
	_Atomic unsigned long low;
	_Atomic unsigned long min_usage;
	_Atomic unsigned long low_usage;
	_Atomic unsigned long children_min_usage;
	_Atomic unsigned long children_low_usage;
	_Atomic unsigned long emin;
	_Atomic unsigned long elow;
};

/* The bytes of a counter without its protection line (hot_only). */
#define PAGE_COUNTER_HOT_SIZE offsetof(struct page_counter, min)

void page_counter_init(struct page_counter *counter, struct page_counter *parent,
		       bool protection_support);
void page_counter_init_hot_only(struct page_counter *counter, struct page_counter *parent);

static inline unsigned long page_counter_read(struct page_counter *counter)
{
	return atomic_load_explicit(&counter->usage, memory_order_relaxed);
}

void page_counter_charge(struct page_counter *counter, unsigned long nr_pages);
bool page_counter_try_charge(struct page_counter *counter, unsigned long nr_pages,
			     struct page_counter **fail);
/* Returns true when this level underflowed and was clamped to zero. */
bool page_counter_cancel(struct page_counter *counter, unsigned long nr_pages);
/* Returns a mask of clamped levels (bit i: i-th ancestor; bit 62: >= 62). */
uint64_t page_counter_uncharge(struct page_counter *counter, unsigned long nr_pages);
size_t page_counter_uncharge_levels(struct page_counter *counter, unsigned long nr_pages,
				    uint8_t *clamped, size_t n);
int page_counter_set_max(struct page_counter *counter, unsigned long nr_pages);
void page_counter_set_min(struct page_counter *counter, unsigned long nr_pages);
void page_counter_set_low(struct page_counter *counter, unsigned long nr_pages);

static inline void page_counter_set_high(struct page_counter *counter, unsigned long nr_pages)
{
	/* Only memcontrol reads high; a plain (relaxed) store is all it needs. */
	atomic_store_explicit(&counter->high, nr_pages, memory_order_relaxed);
}

void page_counter_reset_watermark(struct page_counter *counter);
void page_counter_calculate_protection(struct page_counter *root,
				       struct page_counter *counter,
				       bool recursive_protection);

void page_counter_snapshot(struct page_counter *counter, struct pmc_page_counter_info *info);

/* lib/cmdline.c: parse "<number>[KMGTPE]" with base-0 digits, wrapping mod 2^64. */
unsigned long long memparse(const char *ptr, char **retptr);
/* mm/page_counter.c: 0 or -EINVAL; max_token means PAGE_COUNTER_MAX. */
int page_counter_memparse(const char *buf, const char *max_token, unsigned long *nr_pages);

#endif /* PMC_PAGE_COUNTER_H */
