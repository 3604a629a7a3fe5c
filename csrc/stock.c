/*
 * stock.c - per-CPU charge stocks.
 *
 * A stock holds pages already charged to the page counters of a cgroup
 * but not yet owned by anything, so that the next small charge on that CPU
 * is a subtraction instead of a walk of atomic adds up the tree.  Each era
 * has its rules (see struct pmc_config):
 *
 *  - Linux 3.8: one slot; only single-page charges consume, one page at a
 *    time; the leftover of a batch refills it without any cap.
 *  - Linux 4.14-6.15: one slot; any charge up to the batch consumes; a
 *    refill that takes the slot above the batch drains it.
 *  - Linux 6.16+: NR_MEMCG_STOCK (7) slots, each caching one cgroup; a
 *    full stock evicts a slot chosen at random.
 *
 * The stock's lock doubles as "running on this CPU" (see memcg.h), so the
 * slots themselves are plain fields: only the lock holder touches them.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "memcg.h"

#define ACQUIRE memory_order_acquire
#define RELEASE memory_order_release
#define RELAXED memory_order_relaxed

/*
 * Set up the stocks of a new life of the hierarchy's slot.  The slot keeps
 * its array from life to life, and a larger one replaces it only here,
 * before the hierarchy is published; the outgrown array stays allocated
 * (chained to the new one), because a caller with a stale handle may still
 * be about to lock one of its CPUs (hierarchy.c).  For the same reason the
 * lock words are never reset: they are 0 whenever nobody holds them.
 */
int stock_init(struct pmc_hierarchy *h)
{
	struct stock_array *arr = atomic_load_explicit(&h->stock, RELAXED);
	uint32_t ncpus = (uint32_t)h->cfg.ncpus;

	if (atomic_load_explicit(&h->stock_cap, RELAXED) < ncpus) {
		size_t size = sizeof(*arr) + ncpus * sizeof(arr->pcp[0]);
		struct stock_array *grown = aligned_alloc(PMC_CACHELINE, size);

		if (!grown)
			return -ENOMEM;
		memset(grown, 0, size);
		grown->next = arr;
		atomic_store_explicit(&h->stock, grown, RELAXED);
		/* Release: a stale caller that reads this room finds an array that has it. */
		atomic_store_explicit(&h->stock_cap, ncpus, RELEASE);
	}
	for (int cpu = 0; cpu < h->cfg.ncpus; cpu++) {
		struct memcg_stock_pcp *stock = stock_of(h, cpu);

		stock->nr_slots = (unsigned int)h->cfg.stock_slots;
		memset(stock->cached, 0, sizeof(stock->cached));
		memset(stock->nr_pages, 0, sizeof(stock->nr_pages));
		memset(stock->stat, 0, sizeof(stock->stat));
		stock->objcg = NULL;
		stock->obj_nr_bytes = 0;
		stock->slab_b[0] = stock->slab_b[1] = 0;
		/* Each CPU has its own generator: seed + cpu, as DESIGN.md fixes. */
		stock->rng = h->cfg.seed + (uint64_t)cpu;
	}
	return 0;
}

/*
 * The contended path of pcp_lock (memcg.h).  Waiters spin on a plain load
 * so that they do not bounce the line while the holder works, and yield
 * when the holder is slow (it may be a Python thread that lost the GIL
 * race).
 */
void pcp_lock_slow(struct memcg_stock_pcp *pcp)
{
	unsigned int spins = 0;

	do {
		while (atomic_load_explicit(&pcp->lock, RELAXED)) {
			if (++spins > 256)
				sched_yield();
		}
	} while (atomic_exchange_explicit(&pcp->lock, 1, ACQUIRE));
}

/* splitmix64: the eviction victims are reproducible from the seed. */
static uint64_t stock_random(struct memcg_stock_pcp *stock)
{
	uint64_t z = (stock->rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uncharge one counter of a cgroup, noting what was clamped where asked. */
void counter_uncharge(struct page_counter *counter, int idx, unsigned long nr_pages,
		      struct clamp_log *log)
{
	if (!log) {
		page_counter_uncharge(counter, nr_pages);
	} else if (log->levels) {
		size_t room = log->offset < log->n ? log->n - log->offset : 0;

		log->nr_clamped += page_counter_uncharge_levels(
			counter, nr_pages, log->levels + (size_t)idx * log->n + log->offset, room);
	} else {
		uint64_t m = page_counter_uncharge(counter, nr_pages);

		/* Bit i names the i-th ancestor of the named cgroup, offset levels up. */
		if (m && log->offset)
			m = log->offset < 15 ? (m << log->offset) | (m >> (64 - log->offset) ? 1ull << 15 : 0)
					     : 1ull << 15;
		log->mask |= fold_levels(m) << (16 * idx);
	}
}

/* Give pages back to the counters they were charged to (memcg_uncharge). */
void memcg_uncharge_counters(struct mem_cgroup *memcg, unsigned long nr_pages,
			     struct clamp_log *log)
{
	counter_uncharge(&memcg->counter[MEMCG_MEMORY], MEMCG_MEMORY, nr_pages, log);
	if (memcg->h->cfg.memsw)
		counter_uncharge(&memcg->counter[MEMCG_MEMSW], MEMCG_MEMSW, nr_pages, log);
}

static void stock_set_cached(struct pmc_hierarchy *h, struct memcg_stock_pcp *stock, int i,
			     struct mem_cgroup *memcg)
{
	struct mem_cgroup *old = stock->cached[i];

	/*
	 * The slot's statistics deltas go to the cgroup it let go of, before
	 * its reference: memcg_put's release orders the adds before a free
	 * that reads the counts (memcg_freeable's acquire of refs).
	 */
	if (old) {
		for (int idx = 0; idx < MEMCG_NR_STATS_ALL; idx++) {
			if (stock->stat[i][idx]) {
				atomic_fetch_add_explicit(&old->cold->stat[idx], stock->stat[i][idx], RELAXED);
				stock->stat[i][idx] = 0;
			}
		}
	}
	/* A cached cgroup is referenced, as the kernel's css_get does. */
	if (old)
		memcg_put(h, old);
	if (memcg)
		atomic_fetch_add_explicit(&memcg->refs, 1, RELAXED);
	stock->cached[i] = memcg;
}

/*
 * drain_stock: return one slot's pages and forget its cgroup.  `log`
 * collects clamps for an uncharge of `owner` that passes through the stock;
 * another cgroup's slot drained on the way reports nothing.
 */
static void drain_stock_log(struct pmc_hierarchy *h, struct memcg_stock_pcp *stock, int i,
			    struct mem_cgroup *owner, struct clamp_log *log)
{
	struct mem_cgroup *old = stock->cached[i];

	if (!old)
		return;
	if (stock->nr_pages[i]) {
		memcg_uncharge_counters(old, stock->nr_pages[i], old == owner ? log : NULL);
		stock->nr_pages[i] = 0;
	}
	stock_set_cached(h, stock, i, NULL);
}

static void drain_stock(struct pmc_hierarchy *h, struct memcg_stock_pcp *stock, int i)
{
	drain_stock_log(h, stock, i, NULL, NULL);
}

static void drain_page_stock(struct pmc_hierarchy *h, int cpu)
{
	struct memcg_stock_pcp *stock = stock_of(h, cpu);

	for (unsigned int i = 0; i < stock->nr_slots; i++)
		drain_stock(h, stock, (int)i);
}

/*
 * Everything this CPU holds: the page stock, then the object stock (whose
 * drain gives its pages straight back, so the order leaves nothing behind).
 */
void drain_stock_fully(struct pmc_hierarchy *h, int cpu)
{
	drain_page_stock(h, cpu);
	drain_obj_stock(h, cpu);
}

/**
 * refill_stock - put pre-charged pages into this CPU's stock
 *
 * Called with the CPU lock held.  Where the era caps the stock, a refill
 * larger than the batch, or one that takes a slot above it, goes back to
 * the counters instead.
 */
void refill_stock(struct pmc_hierarchy *h, struct mem_cgroup *memcg, unsigned long nr_pages,
		  int cpu, struct clamp_log *log)
{
	struct memcg_stock_pcp *stock = stock_of(h, cpu);
	unsigned long batch = (unsigned long)h->cfg.charge_batch;
	int empty = -1, i;

	if (!h->cfg.stock_refill_cap) {
		/* Before 4.14: one slot, replaced if it caches another cgroup. */
		if (stock->cached[0] != memcg) {
			drain_stock(h, stock, 0);
			stock_set_cached(h, stock, 0, memcg);
		}
		stock->nr_pages[0] += nr_pages;
		return;
	}
	if (nr_pages > batch) {
		memcg_uncharge_counters(memcg, nr_pages, log);
		return;
	}
	for (i = 0; i < (int)stock->nr_slots; i++) {
		if (!stock->cached[i] && empty < 0)
			empty = i;
		if (stock->cached[i] == memcg) {
			stock->nr_pages[i] += nr_pages;
			if (stock->nr_pages[i] > batch)
				drain_stock_log(h, stock, i, memcg, log);
			return;
		}
	}
	i = empty;
	if (i < 0) {
		i = (int)(stock_random(stock) % stock->nr_slots);
		drain_stock(h, stock, i);
	}
	stock_set_cached(h, stock, i, memcg);
	stock->nr_pages[i] = nr_pages;
}

static bool drain_needed(struct memcg_stock_pcp *stock, struct mem_cgroup *root)
{
	for (unsigned int i = 0; i < stock->nr_slots; i++) {
		if (stock->cached[i] && stock->nr_pages[i] &&
		    memcg_is_descendant(stock->cached[i], root))
			return true;
	}
	return false;
}

/**
 * drain_all_stock - drain every CPU whose stock holds pages of root's subtree
 *
 * The kernel drains the remote CPUs from work items, so its drain returns
 * before they are done; here the caller holds no CPU lock and each CPU is
 * drained in turn under its own lock, so the drain is complete on return.
 * A CPU whose page stock needs draining has all of its slots drained, as
 * the kernel's work does; its object stock is drained on its own test.
 */
void drain_all_stock(struct pmc_hierarchy *h, struct mem_cgroup *root)
{
	for (int cpu = 0; cpu < h->cfg.ncpus; cpu++) {
		cpu_lock(h, cpu);
		if (drain_needed(stock_of(h, cpu), root))
			drain_page_stock(h, cpu);
		/* 6.16+: the object stock on its own test (obj_stock_flush_required). */
		if (obj_stock_flush_required(h, cpu, root))
			drain_obj_stock(h, cpu);
		cpu_unlock(h, cpu);
	}
}

/*
 * A cgroup's statistics (n of them): its own counts and the deltas of the
 * stock slots caching it, each CPU's read under its lock.  Called with
 * h->lock held or none, never with a CPU lock.
 */
void memcg_stat_sum(struct pmc_hierarchy *h, struct mem_cgroup *memcg, int64_t *out, int n)
{
	for (int idx = 0; idx < n; idx++)
		out[idx] += memcg_stat_global(memcg, idx);
	for (int cpu = 0; cpu < h->cfg.ncpus; cpu++) {
		struct memcg_stock_pcp *stock = stock_of(h, cpu);

		cpu_lock(h, cpu);
		for (unsigned int i = 0; i < stock->nr_slots; i++)
			if (stock->cached[i] == memcg)
				for (int idx = 0; idx < n; idx++)
					out[idx] += stock->stat[i][idx];
		cpu_unlock(h, cpu);
	}
}

/*
 * The slots' deltas of every cgroup of root's subtree (the cgroups' own
 * counts are summed by the caller's walk): O(CPUs x slots x depth).
 */
void memcg_stat_subtree(struct pmc_hierarchy *h, struct mem_cgroup *root, int64_t *out)
{
	for (int cpu = 0; cpu < h->cfg.ncpus; cpu++) {
		struct memcg_stock_pcp *stock = stock_of(h, cpu);

		cpu_lock(h, cpu);
		for (unsigned int i = 0; i < stock->nr_slots; i++)
			if (stock->cached[i] && memcg_is_descendant(stock->cached[i], root))
				for (int idx = 0; idx < MEMCG_NR_STATS; idx++)
					out[idx] += stock->stat[i][idx];
		cpu_unlock(h, cpu);
	}
}

void synchronize_cpus(struct pmc_hierarchy *h)
{
	for (int cpu = 0; cpu < h->cfg.ncpus; cpu++) {
		cpu_lock(h, cpu);
		cpu_unlock(h, cpu);
	}
}
