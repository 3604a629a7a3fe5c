/*
 * page_counter.c - lock-free hierarchical page counters.
 *
 * Reproduces the behaviour of the kernel's mm/page_counter.c (mainline
 * 6.15+): a speculative atomic add at each level walking up from the
 * charging counter, an undo at the level that overflows its max, and a
 * rollback of the levels below it.  No lock is ever taken.
 *
 * Memory ordering.  The only cross-variable ordering the algorithm needs
 * is between try_charge and set_max: try_charge adds to `usage` and then
 * reads `max`; set_max exchanges `max` and then re-reads `usage`.  That is
 * the store-buffer pattern: with both sides sequentially consistent, at
 * least one of them sees the other's write, so either the charger sees the
 * new limit or the setter sees the usage move and retries.  Those four
 * accesses are seq_cst; everything else (forced charges, cancels, the
 * statistics) is relaxed, because no reader draws conclusions about other
 * memory from them.
 */
#include <errno.h>

#include "page_counter.h"

#define RELAXED memory_order_relaxed
#define SEQ_CST memory_order_seq_cst

static void init_hot(struct page_counter *counter, struct page_counter *parent,
		     bool protection_support)
{
	atomic_init(&counter->usage, 0);
	/* The kernel's struct is zeroed and memcontrol sets high = max later. */
	atomic_init(&counter->max, PAGE_COUNTER_MAX);
	counter->parent = parent;
	atomic_init(&counter->high, PAGE_COUNTER_MAX);
	atomic_init(&counter->watermark, 0);
	atomic_init(&counter->local_watermark, 0);
	atomic_init(&counter->failcnt, 0);
	counter->protection_support = protection_support;
	counter->track_failcnt = false;
	counter->hot_only = false;
	atomic_init(&counter->prot_set, false);
}

void page_counter_init(struct page_counter *counter, struct page_counter *parent,
		       bool protection_support)
{
	init_hot(counter, parent, protection_support);
	atomic_init(&counter->min, 0);
	atomic_init(&counter->low, 0);
	atomic_init(&counter->min_usage, 0);
	atomic_init(&counter->low_usage, 0);
	atomic_init(&counter->children_min_usage, 0);
	atomic_init(&counter->children_low_usage, 0);
	atomic_init(&counter->emin, 0);
	atomic_init(&counter->elow, 0);
}

/*
 * A counter allocated without its protection line (PAGE_COUNTER_HOT_SIZE
 * bytes): never protected, and none of its children may be (their claims
 * would go to its children_*_usage).
 */
void page_counter_init_hot_only(struct page_counter *counter, struct page_counter *parent)
{
	init_hot(counter, parent, false);
	counter->hot_only = true;
}

/*
 * Keep the parent's children_{min,low}_usage equal to the sum of its
 * children's claimed protection, min(usage, setting), by publishing deltas.
 * The exchange makes concurrent propagations of one counter hand each other
 * the old value, so every delta is applied exactly once.
 */
static inline __attribute__((always_inline))
void propagate_one(_Atomic unsigned long *claimed, _Atomic unsigned long *children_sum,
			  unsigned long setting, unsigned long usage)
{
	unsigned long protected = usage < setting ? usage : setting;
	unsigned long old;

	/* Cheap test first: most counters have no protection at all. */
	if (atomic_load_explicit(claimed, RELAXED) == protected)
		return;
	old = atomic_exchange_explicit(claimed, protected, RELAXED);
	if (protected != old)
		atomic_fetch_add_explicit(children_sum, protected - old, RELAXED);
}

/* Inlined: it runs at every level of every charge, usually to do nothing. */
static inline __attribute__((always_inline))
void propagate_protected_usage(struct page_counter *c, unsigned long usage)
{
	struct page_counter *parent = c->parent;

	/*
	 * Claims stay 0 until a min or a low is set (both start at 0), so a
	 * counter that never had one has nothing to propagate and its
	 * protection line is not touched.  The flag is raised before the
	 * setting is stored; a charger that races with the first set_min and
	 * misses both is no worse off than the kernel's, which may read the
	 * old setting: set_min's own propagation follows, and every later
	 * charge or uncharge corrects the claim.
	 */
	if (!parent || !atomic_load_explicit(&c->prot_set, RELAXED))
		return;
	propagate_one(&c->min_usage, &parent->children_min_usage,
		      atomic_load_explicit(&c->min, RELAXED), usage);
	propagate_one(&c->low_usage, &parent->children_low_usage,
		      atomic_load_explicit(&c->low, RELAXED), usage);
}

/*
 * Raise the peaks.  Racy like the kernel's: two chargers may both see an
 * old peak and the smaller may store last, losing the larger peak.  Only
 * statistics suffer, so relaxed loads and stores make it defined C without
 * paying for a CAS loop.  local_watermark is tested first so that a
 * global reset (which sets both) keeps local <= global.
 */
static inline __attribute__((always_inline))
void raise_watermarks(struct page_counter *c, unsigned long new)
{
	if (new > atomic_load_explicit(&c->local_watermark, RELAXED)) {
		atomic_store_explicit(&c->local_watermark, new, RELAXED);
		if (new > atomic_load_explicit(&c->watermark, RELAXED))
			atomic_store_explicit(&c->watermark, new, RELAXED);
	}
}

/*
 * page_counter_cancel - take pages off one level only
 *
 * More uncharges than charges is a caller bug; the kernel warns once and
 * clamps this level to zero, leaving the other levels to their own fate.
 * The clamp is a plain store racing with concurrent charges, as in the
 * kernel: a charge landing between the subtract and the store is lost,
 * which is acceptable only because the state was already corrupt.
 * Returns true when this level was clamped.
 */
static inline __attribute__((always_inline))
bool cancel_one(struct page_counter *counter, unsigned long nr_pages)
{
	unsigned long new;
	bool clamped = false;

	new = atomic_fetch_sub_explicit(&counter->usage, nr_pages, RELAXED) - nr_pages;
	/* "Negative" as the kernel's signed long sees it. */
	if ((long)new < 0) {
		new = 0;
		atomic_store_explicit(&counter->usage, 0, RELAXED);
		clamped = true;
	}
	/* Cancel uses this level's own flag, unlike the charge walks. */
	if (counter->protection_support)
		propagate_protected_usage(counter, new);
	return clamped;
}

bool page_counter_cancel(struct page_counter *counter, unsigned long nr_pages)
{
	return cancel_one(counter, nr_pages);
}

/**
 * page_counter_charge - charge pages to a counter and its ancestors
 *
 * Forced: no limit is checked, usage may end up above max (and, for absurd
 * totals, wrap; the arithmetic is unsigned so nothing is undefined).
 */
void page_counter_charge(struct page_counter *counter, unsigned long nr_pages)
{
	bool protection = counter->protection_support;
	struct page_counter *c;

	for (c = counter; c; c = c->parent) {
		unsigned long new;

		new = atomic_fetch_add_explicit(&c->usage, nr_pages, RELAXED) + nr_pages;
		if (protection)
			propagate_protected_usage(c, new);
		raise_watermarks(c, new);
	}
}

/**
 * page_counter_try_charge - charge pages if every level has room
 * @fail: set to the lowest counter whose max refused the charge
 *
 * Each level is charged speculatively with one atomic add and the result
 * compared with max, instead of a compare-and-swap loop: cheaper, at the
 * price that a large charge that is about to fail can make a racing small
 * charge fail too (the error is bounded by the size of the large charge).
 * Levels above the refusing one are never touched; the ones below it are
 * rolled back; the peaks they reached stay recorded.
 */
bool page_counter_try_charge(struct page_counter *counter, unsigned long nr_pages,
			     struct page_counter **fail)
{
	bool protection = counter->protection_support;
	bool track_failcnt = counter->track_failcnt;
	struct page_counter *c;

	for (c = counter; c; c = c->parent) {
		unsigned long new;

		/* seq_cst add then seq_cst load of max: see the header comment. */
		new = atomic_fetch_add_explicit(&c->usage, nr_pages, SEQ_CST) + nr_pages;
		if (new > atomic_load_explicit(&c->max, SEQ_CST)) {
			atomic_fetch_sub_explicit(&c->usage, nr_pages, RELAXED);
			/*
			 * Racy read-modify-write of a statistic, as in the
			 * kernel (data_race(failcnt++)): two failures at once
			 * may count as one.  Relaxed load and store keep it
			 * defined without the cost of a locked add.
			 */
			if (track_failcnt)
				atomic_store_explicit(&c->failcnt,
					atomic_load_explicit(&c->failcnt, RELAXED) + 1, RELAXED);
			*fail = c;
			goto failed;
		}
		if (protection)
			propagate_protected_usage(c, new);
		raise_watermarks(c, new);
	}
	return true;

failed:
	for (c = counter; c != *fail; c = c->parent)
		page_counter_cancel(c, nr_pages);
	return false;
}

/**
 * page_counter_uncharge - take pages off a counter and its ancestors
 *
 * Every level is cancelled on its own, so an underflow clamped at one level
 * does not shield the levels above it from the full amount.
 */
uint64_t page_counter_uncharge(struct page_counter *counter, unsigned long nr_pages)
{
	struct page_counter *c;
	uint64_t clamped = 0;
	unsigned int level = 0;

	for (c = counter; c; c = c->parent, level++) {
		if (cancel_one(c, nr_pages))
			clamped |= (uint64_t)1 << (level < 62 ? level : 62);
	}
	return clamped;
}

/*
 * page_counter_uncharge_levels - page_counter_uncharge, naming every level
 * @clamped: clamped[i] is set to 1 if the i-th ancestor was clamped, for i < n
 *
 * For trees too deep for the mask of page_counter_uncharge.  Returns the
 * number of clamped levels.
 */
size_t page_counter_uncharge_levels(struct page_counter *counter, unsigned long nr_pages,
				    uint8_t *clamped, size_t n)
{
	struct page_counter *c;
	size_t level = 0, nr_clamped = 0;

	for (c = counter; c; c = c->parent, level++) {
		bool was_clamped = cancel_one(c, nr_pages);

		if (level < n)
			clamped[level] = was_clamped;
		nr_clamped += was_clamped;
	}
	return nr_clamped;
}

/**
 * page_counter_set_max - set the maximum number of pages
 *
 * Returns -EBUSY if the counter's own usage is above the new limit.  The
 * exchange and the re-read of usage pair with try_charge's add and read of
 * max: a charge that raced in under the old limit is caught by the re-read,
 * the old limit is put back and the check is repeated.  Raising the limit
 * can never strand a charge, so it needs no retry.  Callers serialise
 * setters (the kernel holds a mutex); concurrent chargers are fine.
 */
int page_counter_set_max(struct page_counter *counter, unsigned long nr_pages)
{
	for (;;) {
		unsigned long old, usage;

		usage = atomic_load_explicit(&counter->usage, SEQ_CST);
		if (usage > nr_pages)
			return -EBUSY;

		old = atomic_exchange_explicit(&counter->max, nr_pages, SEQ_CST);
		if (atomic_load_explicit(&counter->usage, SEQ_CST) <= usage || nr_pages >= old)
			return 0;

		atomic_store_explicit(&counter->max, old, SEQ_CST);
	}
}

/*
 * Changing one counter's protection changes what it claims from its
 * parent; the kernel then re-propagates every level up to the root,
 * whatever protection_support says.
 */
static void propagate_up(struct page_counter *counter)
{
	struct page_counter *c;

	for (c = counter; c; c = c->parent)
		propagate_protected_usage(c, page_counter_read(c));
}

/* Sticky: from the first non-zero setting on, charges propagate this level's claims. */
static void mark_protected(struct page_counter *counter, unsigned long nr_pages)
{
	if (nr_pages && !atomic_load_explicit(&counter->prot_set, RELAXED))
		atomic_store_explicit(&counter->prot_set, true, RELAXED);
}

void page_counter_set_min(struct page_counter *counter, unsigned long nr_pages)
{
	mark_protected(counter, nr_pages);
	atomic_store_explicit(&counter->min, nr_pages, RELAXED);
	propagate_up(counter);
}

void page_counter_set_low(struct page_counter *counter, unsigned long nr_pages)
{
	mark_protected(counter, nr_pages);
	atomic_store_explicit(&counter->low, nr_pages, RELAXED);
	propagate_up(counter);
}

/* A v1 reset of max_usage_in_bytes: the peak becomes the current usage. */
void page_counter_reset_watermark(struct page_counter *counter)
{
	unsigned long usage = page_counter_read(counter);

	/* local first, so that local <= global holds for concurrent readers. */
	atomic_store_explicit(&counter->local_watermark, usage, RELAXED);
	atomic_store_explicit(&counter->watermark, usage, RELAXED);
}

/*
 * The protection a counter gets out of its parent's effective protection.
 * Unsigned long arithmetic as in the kernel: products may wrap, and the
 * multiplication comes before the division so that small values are not
 * truncated to zero.
 *
 *  1. Below the first level, protection is capped by the parent's.
 *  2. If the children claim more than the parent has (overcommit), it is
 *     shared out in proportion to what each child actually uses of its
 *     own setting.
 *  3. With recursive protection, what the children leave unclaimed floats
 *     down in proportion to their usage above their own protection.
 */
static unsigned long effective_protection(unsigned long usage, unsigned long parent_usage,
					  unsigned long setting, unsigned long parent_effective,
					  unsigned long siblings_protected,
					  bool recursive_protection)
{
	unsigned long protected = usage < setting ? usage : setting;
	unsigned long ep;

	if (siblings_protected > parent_effective)
		return protected * parent_effective / siblings_protected;

	ep = protected;
	if (!recursive_protection)
		return ep;

	if (parent_effective > siblings_protected && parent_usage > siblings_protected &&
	    usage > protected) {
		unsigned long unclaimed;

		unclaimed = parent_effective - siblings_protected;
		unclaimed *= usage - protected;
		unclaimed /= parent_usage - siblings_protected;
		ep += unclaimed;
	}
	return ep;
}

/**
 * page_counter_calculate_protection - update emin and elow of one counter
 * @root: the reclaim target (counter or one of its ancestors)
 *
 * Not stateless: it reads the parent's emin/elow, so callers walk the tree
 * top-down.  The target's own values are never computed (they are ignored
 * by reclaim and may be stale); an empty counter keeps its old values.
 */
void page_counter_calculate_protection(struct page_counter *root,
				       struct page_counter *counter,
				       bool recursive_protection)
{
	struct page_counter *parent = counter->parent;
	unsigned long usage, parent_usage;

	if (root == counter)
		return;

	usage = page_counter_read(counter);
	if (!usage)
		return;

	/* The first level below the target gets its settings as they are. */
	if (parent == root) {
		atomic_store_explicit(&counter->emin,
				      atomic_load_explicit(&counter->min, RELAXED), RELAXED);
		atomic_store_explicit(&counter->elow,
				      atomic_load_explicit(&counter->low, RELAXED), RELAXED);
		return;
	}

	parent_usage = page_counter_read(parent);
	atomic_store_explicit(&counter->emin,
		effective_protection(usage, parent_usage,
				     atomic_load_explicit(&counter->min, RELAXED),
				     atomic_load_explicit(&parent->emin, RELAXED),
				     atomic_load_explicit(&parent->children_min_usage, RELAXED),
				     recursive_protection), RELAXED);
	atomic_store_explicit(&counter->elow,
		effective_protection(usage, parent_usage,
				     atomic_load_explicit(&counter->low, RELAXED),
				     atomic_load_explicit(&parent->elow, RELAXED),
				     atomic_load_explicit(&parent->children_low_usage, RELAXED),
				     recursive_protection), RELAXED);
}

#define LOAD(field) atomic_load_explicit(&counter->field, RELAXED)

/* Every field, one relaxed load each: what a reader of the /sys files sees. */
void page_counter_snapshot(struct page_counter *counter, struct pmc_page_counter_info *info)
{
	info->usage = LOAD(usage);
	info->max = LOAD(max);
	info->high = LOAD(high);
	info->watermark = LOAD(watermark);
	info->local_watermark = LOAD(local_watermark);
	info->failcnt = LOAD(failcnt);
	info->track_failcnt = counter->track_failcnt;
	info->protection = counter->protection_support;
	info->depth = 0;
	info->nr_children = 0;
	if (counter->hot_only) {
		/* No protection line: never set, never claimed. */
		info->min = info->low = info->emin = info->elow = 0;
		info->min_usage = info->low_usage = 0;
		info->children_min_usage = info->children_low_usage = 0;
		return;
	}
	info->emin = LOAD(emin);
	info->elow = LOAD(elow);
	info->min_usage = LOAD(min_usage);
	info->low_usage = LOAD(low_usage);
	info->children_min_usage = LOAD(children_min_usage);
	info->children_low_usage = LOAD(children_low_usage);
	info->min = LOAD(min);
	info->low = LOAD(low);
}
