/*
 * reclaim.c - reclaim through the binding's hook, and memory.high.
 *
 * pymemcg does not model page reclaim: a hook (a Python callable, through
 * the binding's one callback) stands in for try_to_free_mem_cgroup_pages.
 * What counts as progress is what the counters show, never more than the
 * hook claims.  memory.high is handled here as mem_cgroup_handle_over_high
 * does on the way back to user space.  Everything here runs with no lock
 * held and the hierarchy held (hier_hold).
 */
#include <errno.h>

#include "memcg.h"

#define RELAXED memory_order_relaxed

static int64_t (*reclaim_callback)(int64_t, int64_t, int64_t);

void pmc_set_reclaim_callback(int64_t (*callback)(int64_t, int64_t, int64_t))
{
	reclaim_callback = callback;
}

/*
 * Reclaim through the binding's callback, CPU lock dropped (the kernel may
 * sleep here).  The progress that counts is what the counter shows, never
 * more than the callback claims, so a callback that claims work it did not
 * do cannot keep a charge looping.  Returns progress, or -errno.
 */
long reclaim_unlocked(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			     unsigned long nr_pages)
{
	unsigned long before, after;
	int64_t claimed;

	if (!atomic_load_explicit(&h->reclaim_hook, RELAXED) || !reclaim_callback)
		return 0;
	before = page_counter_read(&memcg->counter[MEMCG_MEMORY]);
	claimed = reclaim_callback(h->handle, memcg_handle(memcg), (int64_t)nr_pages);
	/* Any failure of the callback is one failure: the charge stops (-ECANCELED). */
	if (claimed < 0)
		return -ECANCELED;
	after = page_counter_read(&memcg->counter[MEMCG_MEMORY]);
	if (after >= before)
		return 0;
	return (long)((unsigned long)claimed < before - after ? (unsigned long)claimed : before - after);
}

/*
 * Reclaim a cgroup known by its handle, holding a reference (the kernel's
 * css_get) so that the callback may remove it without freeing it under us.
 * Called without any lock.
 */
long reclaim_pinned(struct pmc_hierarchy *h, int64_t handle, unsigned long nr_pages)
{
	struct mem_cgroup *memcg;
	long ret;

	pthread_mutex_lock(&h->lock);
	memcg = memcg_lookup(h, handle);
	if (memcg && memcg_shell(memcg)) {
		pthread_mutex_unlock(&h->lock);
		return -ESTALE;
	}
	if (memcg)
		atomic_fetch_add_explicit(&memcg->refs, 1, RELAXED);
	pthread_mutex_unlock(&h->lock);
	if (!memcg)
		return memcg_lookup_error(h, handle);
	ret = reclaim_unlocked(h, memcg, nr_pages);
	memcg_put_unlocked(h, memcg);
	return ret;
}

/*
 * memory.high on the way back to user space: mem_cgroup_handle_over_high.
 *
 * The overage of a counter is ((usage - high) << 20) / high, the penalty
 * overage^2 * HZ >> 20 >> 14, scaled by the pages the task charged over
 * high against a batch; memory's and swap's are added and clamped to 2 s.
 * All of it is the kernel's unsigned arithmetic, wraps included (the task's
 * page count is an unsigned int there).  The delay the kernel would sleep
 * is not slept: it is added to the charging cgroup's throttle total.
 */
#define MEMCG_DELAY_PRECISION_SHIFT 20
#define MEMCG_DELAY_SCALING_SHIFT 14
#define SWAP_CLUSTER_MAX 32u

static uint64_t calculate_overage(unsigned long usage, unsigned long high)
{
	if (usage <= high)
		return 0;
	if (!high)
		high = 1;               /* as if the threshold were one page */
	return ((uint64_t)(usage - high) << MEMCG_DELAY_PRECISION_SHIFT) / high;
}

/* The largest overage from memcg up to, not including, the root. */
static uint64_t find_max_overage(struct mem_cgroup *memcg, int idx)
{
	uint64_t overage, max_overage = 0;

	do {
		struct page_counter *c = &memcg->counter[idx];

		overage = calculate_overage(page_counter_read(c),
					    atomic_load_explicit(&c->high, RELAXED));
		if (overage > max_overage)
			max_overage = overage;
		memcg = memcg->parent;
	} while (memcg && !memcg_is_root(memcg));
	return max_overage;
}

static unsigned long calculate_high_delay(const struct pmc_config *cfg, unsigned int nr_pages,
					  uint64_t max_overage)
{
	unsigned long penalty_jiffies;

	if (!max_overage)
		return 0;
	penalty_jiffies = max_overage * max_overage * (uint64_t)cfg->hz;
	penalty_jiffies >>= MEMCG_DELAY_PRECISION_SHIFT;
	penalty_jiffies >>= MEMCG_DELAY_SCALING_SHIFT;
	return penalty_jiffies * nr_pages / (unsigned long)cfg->charge_batch;
}

/*
 * reclaim_high: each non-root cgroup from memcg up that is above its
 * memory.high gets a high event and a reclaim of nr_pages.  No lock held;
 * memcg is pinned, so it and its ancestors stay allocated.  Returns the
 * pages reclaimed, or -errno of a failed hook.
 */
static long reclaim_high(struct pmc_hierarchy *h, struct mem_cgroup *memcg, unsigned int nr_pages)
{
	long nr_reclaimed = 0;

	do {
		struct page_counter *mem = &memcg->counter[MEMCG_MEMORY];
		long r;

		if (page_counter_read(mem) <= atomic_load_explicit(&mem->high, RELAXED))
			continue;
		memcg_memory_event(memcg, MEMCG_HIGH);
		r = reclaim_unlocked(h, memcg, nr_pages);
		if (r < 0)
			return r;
		nr_reclaimed += r;
	} while ((memcg = memcg->parent) && !memcg_is_root(memcg));
	return nr_reclaimed;
}

int handle_over_high(struct charge_ctx *ctx)
{
	struct pmc_hierarchy *h = ctx->h;
	const struct pmc_config *cfg = &h->cfg;
	/* current->memcg_nr_pages_over_high is an unsigned int. */
	unsigned int nr_pages = (unsigned int)ctx->pending_high;
	int nr_retries = cfg->reclaim_retries;
	unsigned long penalty_jiffies;
	struct mem_cgroup *memcg;
	struct memcg_events *ev;
	bool in_retry = false;
	long nr_reclaimed;
	int ret = 0;

	ctx->pending_high = 0;
	if (!nr_pages)
		return 0;
	/* The task's memcg, held as get_mem_cgroup_from_mm() holds it. */
	pthread_mutex_lock(&h->lock);
	memcg = memcg_lookup(h, ctx->handle);
	if (memcg && memcg_shell(memcg))
		memcg = NULL;           /* freed meanwhile: nobody to throttle */
	if (memcg)
		atomic_fetch_add_explicit(&memcg->refs, 1, RELAXED);
	pthread_mutex_unlock(&h->lock);
	if (!memcg)
		return 0;
retry_reclaim:
	nr_reclaimed = reclaim_high(h, memcg, in_retry ? SWAP_CLUSTER_MAX : nr_pages);
	if (nr_reclaimed < 0) {
		ret = (int)nr_reclaimed;
		goto out;
	}
	penalty_jiffies = calculate_high_delay(cfg, nr_pages, find_max_overage(memcg, MEMCG_MEMORY));
	if (cfg->version == 2)
		penalty_jiffies += calculate_high_delay(cfg, nr_pages,
							find_max_overage(memcg, MEMCG_MEMSW));
	if (penalty_jiffies > 2ul * (unsigned long)cfg->hz)
		penalty_jiffies = 2ul * (unsigned long)cfg->hz;   /* MEMCG_MAX_HIGH_DELAY_JIFFIES */
	/* Not worth a sleep: a little over high, maybe not reclaimed hard enough yet. */
	if (penalty_jiffies <= (unsigned long)cfg->hz / 100)
		goto out;
	/* Reclaim makes progress (or may yet): reclaim rather than throttle. */
	if (nr_reclaimed || nr_retries--) {
		in_retry = true;
		goto retry_reclaim;
	}
	/* schedule_timeout_killable(penalty_jiffies), not slept: counted. */
	if ((ev = memcg_events_of(memcg)))
		atomic_fetch_add_explicit(&ev->throttle_jiffies, (long)penalty_jiffies, RELAXED);
	ctx->throttle_jiffies += penalty_jiffies;
out:
	memcg_put_unlocked(h, memcg);
	return ret;
}

/*
 * Reclaim on behalf of the interface files (memory.max, memory.high ...),
 * with the hierarchy held and no lock.
 */
long memcg_reclaim(struct pmc_hierarchy *h, int64_t cgroup, unsigned long nr_pages)
{
	long ret = reclaim_pinned(h, cgroup, nr_pages);

	finish_call(h);
	return ret;
}
