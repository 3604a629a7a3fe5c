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
 * Three groups, each on its own cache line(s), as the kernel lays them out
 * since 6.1: the charge path writes `usage` on every call, so nothing that
 * readers of the limits need may share its line; the protection and
 * watermark block is written only when those values move; the limits and
 * the parent pointer are read on every charge and written almost never.
 */
struct page_counter {
	/* Hot: written by every charge and uncharge. */
	_Alignas(PMC_CACHELINE) _Atomic unsigned long usage;
	_Atomic unsigned long failcnt;          /* racy by design, see try_charge */

	/* Written when protection or a peak moves. */
	_Alignas(PMC_CACHELINE) _Atomic unsigned long emin;
	_Atomic unsigned long min_usage;
	_Atomic unsigned long children_min_usage;
	_Atomic unsigned long elow;
	_Atomic unsigned long low_usage;
	_Atomic unsigned long children_low_usage;
	_Atomic unsigned long watermark;
	_Atomic unsigned long local_watermark;

	/* Read-mostly. */
	_Alignas(PMC_CACHELINE) _Atomic unsigned long min;
	_Atomic unsigned long low;
	_Atomic unsigned long high;
	_Atomic unsigned long max;
	struct page_counter *parent;
	bool protection_support;
	bool track_failcnt;
};

void page_counter_init(struct page_counter *counter, struct page_counter *parent,
		       bool protection_support);

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
