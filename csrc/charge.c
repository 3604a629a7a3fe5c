/*
 * charge.c - the charge path: try_charge_memcg and its callers.
 *
 * Follows mm/memcontrol.c: the stock, the batch, the exact-size retry,
 * reclaim, drain and the retry loop, memory events, for the kernel era
 * that struct pmc_config describes.  See memcg.h for how threads and CPUs
 * are kept apart.
 */
#include <errno.h>
#include <stddef.h>

#include "memcg.h"

#define RELAXED memory_order_relaxed

/* --- the charge path ------------------------------------------------------------ */

/* A page counter's clamp mask in the 16 bits per counter of pymemcg.h. */
uint64_t fold_levels(uint64_t mask)
{
	return (mask & 0x7fff) | (mask >> 15 ? 0x8000 : 0);
}

unsigned long memcg_margin(struct mem_cgroup *memcg)
{
	unsigned long margin = 0, count, limit;

	count = page_counter_read(&memcg->counter[MEMCG_MEMORY]);
	limit = atomic_load_explicit(&memcg->counter[MEMCG_MEMORY].max, RELAXED);
	if (count < limit)
		margin = limit - count;
	if (memcg->h->cfg.memsw) {
		count = page_counter_read(&memcg->counter[MEMCG_MEMSW]);
		limit = atomic_load_explicit(&memcg->counter[MEMCG_MEMSW].max, RELAXED);
		if (count < limit)
			margin = margin < limit - count ? margin : limit - count;
		else
			margin = 0;
	}
	return margin;
}

/* A refused 3.8 charge that 3.8 would have retried forever (a lazy event block). */
static void memcg_count_livelock(struct mem_cgroup *memcg)
{
	struct memcg_events *ev = memcg_events_of(memcg);

	if (ev)
		atomic_fetch_add_explicit(&ev->oom_livelocks, 1, RELAXED);
}

static struct mem_cgroup *memcg_of(struct page_counter *counter, int idx)
{
	/* The counters are the last member of the cgroup, in a row: step back to it. */
	return (struct mem_cgroup *)((char *)(counter - idx) - offsetof(struct mem_cgroup, counter));
}

static int get_order(unsigned long nr_pages)
{
	int order = 0;

	while (order < 63 && (1ul << order) < nr_pages)
		order++;
	return order;
}

/*
 * res_counter's nofail charge (3.8): usage goes up at every level, and
 * every level that ends up above its limit counts a failure.
 */
static void charge_nofail(struct pmc_hierarchy *h, struct page_counter *counter,
			  unsigned long nr_pages)
{
	struct page_counter *c;

	page_counter_charge(counter, nr_pages);
	/* page_counter_charge itself never counts failures. */
	if (h->cfg.failcnt != PMC_FAILCNT_ALL)
		return;
	for (c = counter; c; c = c->parent) {
		if (page_counter_read(c) > atomic_load_explicit(&c->max, RELAXED))
			atomic_store_explicit(&c->failcnt,
				atomic_load_explicit(&c->failcnt, RELAXED) + 1, RELAXED);
	}
}


/*
 * Before the charge path first lets go of its CPU lock, it takes a
 * reference on the charging cgroup, as the kernel's charge holds a css
 * reference: whatever happens meanwhile (the hook may even remove the
 * cgroup), the cgroup and its ancestors -- `over` among them -- stay
 * allocated, and the charge goes on as the kernel's would.
 */
static void charge_pin(struct charge_ctx *ctx)
{
	if (!ctx->pinned) {
		atomic_fetch_add_explicit(&ctx->memcg->refs, 1, RELAXED);
		ctx->pinned = true;
	}
	memcg_charge_hold(ctx);
}

/*
 * Before a charging call first lets go of the CPU lock it checked the
 * hierarchy under, it holds the hierarchy, so that a close waits for it.
 */
void memcg_charge_hold(struct charge_ctx *ctx)
{
	if (!ctx->held) {
		hier_hold(ctx->h, &ctx->frame);
		ctx->held = true;
	}
}

/* Let go of the CPU lock mid-charge (the kernel may sleep here): pin and hold first. */
void memcg_charge_unlock(struct charge_ctx *ctx)
{
	charge_pin(ctx);
	cpu_unlock(ctx->h, ctx->cpu);
}

static long unlocked_reclaim(struct charge_ctx *ctx, struct mem_cgroup *over, unsigned long nr)
{
	long ret;

	charge_pin(ctx);
	cpu_unlock(ctx->h, ctx->cpu);
	ret = reclaim_unlocked(ctx->h, over, nr);
	cpu_lock(ctx->h, ctx->cpu);
	return ret;
}

static void unlocked_drain(struct charge_ctx *ctx, struct mem_cgroup *over)
{
	charge_pin(ctx);
	cpu_unlock(ctx->h, ctx->cpu);
	drain_all_stock(ctx->h, over);
	cpu_lock(ctx->h, ctx->cpu);
}

static bool over_high(struct mem_cgroup *m)
{
	struct page_counter *mem = &m->counter[MEMCG_MEMORY];

	if (page_counter_read(mem) > atomic_load_explicit(&mem->high, RELAXED))
		return true;
	/* v2's swap counter is charged only with memsw, which v2 has not: usage 0 <= high. */
	if (m->h->cfg.version == 2 && m->h->cfg.memsw) {
		struct page_counter *swap = &m->counter[MEMCG_MEMSW];

		return page_counter_read(swap) > atomic_load_explicit(&swap->high, RELAXED);
	}
	return false;
}

/**
 * try_charge_memcg - charge nr_pages, reclaiming and retrying as the kernel does
 *
 * Called with the CPU lock held; returns with it held.  0 on success, 1 on
 * failure with *fail_out set to the cgroup over its limit, or -errno.
 */
static int try_charge_memcg(struct charge_ctx *ctx, unsigned int gfp, unsigned long nr_pages,
			    struct mem_cgroup **fail_out)
{
	struct pmc_hierarchy *h = ctx->h;
	const struct pmc_config *cfg = &h->cfg;
	unsigned long batch = nr_pages > (unsigned long)cfg->charge_batch ?
			      nr_pages : (unsigned long)cfg->charge_batch;
	int nr_retries = cfg->reclaim_retries;
	bool drained = false, raised_max_event = false, passed_oom = false;
	struct mem_cgroup *over = NULL;
	struct page_counter *fail;
	long nr_reclaimed;

	if (cfg->allow_spinning_batch && !(gfp & (PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM)))
		batch = nr_pages;
retry:
	if (consume_stock(h, ctx->memcg, nr_pages, ctx->cpu))
		return 0;
	if (cfg->memsw && !page_counter_try_charge(&ctx->memcg->counter[MEMCG_MEMSW], batch, &fail)) {
		/* memsw at its limit: swapping cannot help, only reclaim. */
		over = memcg_of(fail, MEMCG_MEMSW);
	} else if (page_counter_try_charge(&ctx->memcg->counter[MEMCG_MEMORY], batch, &fail)) {
		goto done_restock;
	} else {
		if (cfg->memsw)
			page_counter_uncharge(&ctx->memcg->counter[MEMCG_MEMSW], batch);
		over = memcg_of(fail, MEMCG_MEMORY);
	}

	/* Try the exact size before doing anything drastic. */
	if (batch > nr_pages) {
		batch = nr_pages;
		goto retry;
	}
	if (!(gfp & PMC_GFP_DIRECT_RECLAIM))
		goto nomem;

	memcg_memory_event(over, MEMCG_MAX);
	raised_max_event = true;

	nr_reclaimed = unlocked_reclaim(ctx, over, nr_pages);
	if (nr_reclaimed < 0)
		return (int)nr_reclaimed;
	if (memcg_margin(over) >= nr_pages)
		goto retry;
	if (!drained) {
		unlocked_drain(ctx, over);
		drained = true;
		goto retry;
	}
	if (gfp & PMC_GFP_NORETRY)
		goto nomem;
	/* Small allocations keep trying while reclaim makes progress. */
	if (nr_reclaimed && nr_pages <= (1ul << PAGE_ALLOC_COSTLY_ORDER))
		goto retry;
	if (nr_retries-- > 0)
		goto retry;
	if (gfp & PMC_GFP_RETRY_MAYFAIL)
		goto nomem;
	/* Avoid an endless loop for a dying task (an OOM victim, or exited meanwhile). */
	if (passed_oom && task_is_dying(ctx->task))
		goto nomem;
	/* Retry while the OOM killer makes progress; fail if it cannot. */
	if (memcg_oom(ctx, over, get_order(nr_pages))) {
		passed_oom = true;
		nr_retries = cfg->reclaim_retries;
		goto retry;
	}
nomem:
	if (!(gfp & (PMC_GFP_NOFAIL | PMC_GFP_HIGH))) {
		*fail_out = over;
		return 1;
	}
	/* Atomic and no-fail allocations go through, over the limit. */
	if (!raised_max_event)
		memcg_memory_event(over, MEMCG_MAX);
	charge_nofail(h, &ctx->memcg->counter[MEMCG_MEMORY], nr_pages);
	if (cfg->memsw)
		charge_nofail(h, &ctx->memcg->counter[MEMCG_MEMSW], nr_pages);
	return 0;

done_restock:
	if (batch > nr_pages)
		refill_stock(h, ctx->memcg, batch - nr_pages, ctx->cpu, NULL);
	/* Note who went over memory.high; it is reclaimed on the way out. */
	for (struct mem_cgroup *m = ctx->memcg; m; m = m->parent) {
		if (over_high(m)) {
			ctx->pending_high += batch;
			break;
		}
	}
	return 0;
}

void finish_call(struct pmc_hierarchy *h)
{
	if (memcg_free_pending(h)) {
		pthread_mutex_lock(&h->lock);
		memcg_free_dying(h);
		pthread_mutex_unlock(&h->lock);
	}
}

/*
 * Linux 3.8: __mem_cgroup_try_charge and mem_cgroup_do_charge, its own
 * loop, not the current one with 3.8's numbers.  What differs:
 *  - memory (res) is charged before memsw;
 *  - a charge that cannot wait fails after the batch retry: no reclaim,
 *    nothing forced; __GFP_NORETRY fails before any reclaim;
 *  - mem_cgroup_reclaim drains the subtree's stocks on its second inner
 *    pass, so a failing round may drain every time (3.8 drained
 *    asynchronously, a work item per CPU; here at once);
 *  - the MEM_CGROUP_RECLAIM_RETRIES rounds count only where the caller
 *    allows OOM (user pages; kmem with __GFP_FS and without NORETRY), and
 *    the OOM path resets them: 3.8 retries until the charge fits;
 *  - nothing is ever forced over a limit, not even __GFP_NOFAIL or
 *    __GFP_HIGH (3.8 knew neither in its charge loop).
 * Where 3.8 would loop forever (the memcg OOM killer finds no victim; or a
 * round with OOM allowed that cannot reach the OOM killer, NORETRY or no
 * __GFP_WAIT), pymemcg fails the charge instead, as current kernels do, and
 * counts it in the refusing cgroup's oom_livelocks (DESIGN.md).
 */
enum charge38 {
	CHARGE_OK,
	CHARGE_RETRY,           /* retry, no harm done */
	CHARGE_NOMEM,           /* a failed round */
	CHARGE_WOULDBLOCK,      /* no __GFP_WAIT */
	CHARGE_LIVELOCK,        /* 3.8 would retry forever: fail instead, counted */
	CHARGE_OOM_DIE,         /* the charging task was chosen: bypass to the root */
};

#define CHARGE_BATCH_38_SWAP_CLUSTER_MAX 32u
#define MEM_CGROUP_MAX_RECLAIM_LOOPS 100

/* mem_cgroup_reclaim (3.8): the stocks are drained from the second pass on. */
static long mem_cgroup_reclaim_38(struct charge_ctx *ctx, struct mem_cgroup *over)
{
	long total = 0;

	for (int loop = 0; loop < MEM_CGROUP_MAX_RECLAIM_LOOPS; loop++) {
		long r;

		if (loop)
			unlocked_drain(ctx, over);      /* drain_all_stock_async */
		/* try_to_free_mem_cgroup_pages: SWAP_CLUSTER_MAX pages a pass */
		r = unlocked_reclaim(ctx, over, CHARGE_BATCH_38_SWAP_CLUSTER_MAX);
		if (r < 0)
			return r;
		total += r;
		if (memcg_margin(over))
			break;
		if (loop && !total)
			break;
	}
	return total;
}

/*
 * mem_cgroup_handle_oom (3.8): the memcg OOM killer kills, and the charge
 * retries.  Where 3.8 would wait for memory to come back (no victim, or
 * oom_kill_disable) and so retry forever, the charge fails (CHARGE_LIVELOCK,
 * counted); where the charging task itself was chosen, the charge is
 * bypassed to the root (CHARGE_OOM_DIE).
 */
static int mem_cgroup_handle_oom_38(struct charge_ctx *ctx, struct mem_cgroup *over)
{
	switch (memcg_oom_38(ctx, over)) {
	case OOM38_RETRY:
		return CHARGE_RETRY;
	case OOM38_DIE:
		return CHARGE_OOM_DIE;
	default:
		memcg_count_livelock(over);
		return CHARGE_LIVELOCK;
	}
}

static int mem_cgroup_do_charge_38(struct charge_ctx *ctx, unsigned int gfp, unsigned long batch,
				   unsigned long min_pages, bool oom_check,
				   struct mem_cgroup **over_out)
{
	struct mem_cgroup *memcg = ctx->memcg, *over;
	struct page_counter *fail;
	long ret;

	if (page_counter_try_charge(&memcg->counter[MEMCG_MEMORY], batch, &fail)) {
		if (!ctx->h->cfg.memsw ||
		    page_counter_try_charge(&memcg->counter[MEMCG_MEMSW], batch, &fail))
			return CHARGE_OK;
		page_counter_uncharge(&memcg->counter[MEMCG_MEMORY], batch);
		over = memcg_of(fail, MEMCG_MEMSW);
	} else {
		over = memcg_of(fail, MEMCG_MEMORY);
	}
	*over_out = over;
	/* Never reclaim on behalf of optional batching: retry the exact size. */
	if (batch > min_pages)
		return CHARGE_RETRY;
	if (!(gfp & PMC_GFP_DIRECT_RECLAIM))
		return CHARGE_WOULDBLOCK;
	if (gfp & PMC_GFP_NORETRY)
		return CHARGE_NOMEM;
	memcg_memory_event(over, MEMCG_MAX);    /* 3.8 had no events file: kept for show */
	ret = mem_cgroup_reclaim_38(ctx, over);
	if (ret < 0)
		return (int)ret;
	if (memcg_margin(over) >= min_pages)
		return CHARGE_RETRY;
	/* Small charges retry while reclaim makes progress. */
	if (min_pages <= (1ul << PAGE_ALLOC_COSTLY_ORDER) && ret)
		return CHARGE_RETRY;
	if (!oom_check)
		return CHARGE_NOMEM;
	return mem_cgroup_handle_oom_38(ctx, over);
}

static int try_charge_memcg_38(struct charge_ctx *ctx, unsigned int gfp, unsigned long nr_pages,
			       bool oom, struct mem_cgroup **fail_out)
{
	struct pmc_hierarchy *h = ctx->h;
	const struct pmc_config *cfg = &h->cfg;
	unsigned long batch = nr_pages > (unsigned long)cfg->charge_batch ?
			      nr_pages : (unsigned long)cfg->charge_batch;
	int nr_oom_retries = cfg->reclaim_retries;
	struct mem_cgroup *over = NULL;

again:
	if (consume_stock(h, ctx->memcg, nr_pages, ctx->cpu))
		return 0;
	for (;;) {
		bool oom_check = false;
		int ret;

		if (oom && !nr_oom_retries) {
			oom_check = true;
			nr_oom_retries = cfg->reclaim_retries;
		}
		ret = mem_cgroup_do_charge_38(ctx, gfp, batch, nr_pages, oom_check, &over);
		switch (ret) {
		case CHARGE_OK:
			if (batch > nr_pages)
				refill_stock(h, ctx->memcg, batch - nr_pages, ctx->cpu, NULL);
			return 0;
		case CHARGE_RETRY:
			batch = nr_pages;
			goto again;
		case CHARGE_WOULDBLOCK:
			goto nomem;
		case CHARGE_NOMEM:
			if (!oom)
				goto nomem;
			/* "If oom, we never return -ENOMEM": unless the OOM killer is unreachable. */
			if (oom_check) {
				memcg_count_livelock(over);
				goto nomem;
			}
			nr_oom_retries--;
			break;
		case CHARGE_LIVELOCK:
			goto nomem;
		case CHARGE_OOM_DIE:
			ctx->bypassed = true;   /* charged to the root: nothing counted */
			return 0;
		default:
			return ret;     /* the reclaim hook failed */
		}
	}
nomem:
	*fail_out = over;
	return 1;
}

/* A refusal: the handle of the cgroup over its limit; its id for replay. */
static int64_t charge_refused(struct charge_ctx *ctx, struct mem_cgroup *over)
{
	ctx->over_id = over->id;
	return memcg_handle(over);
}

/*
 * 3.8: a user charge that let go of its CPU (reclaim, OOM) and completed
 * after its cgroup's offline moved the user pages to the parent.  3.8's
 * offline loops (mem_cgroup_reparent_charges) until no user page is left,
 * so this page follows the others: to the nearest online ancestor, off the
 * levels in between.  The offline took every CPU lock to move the pages;
 * holding ours, we either came before it (it moved this page too) or see
 * the cgroup offline (and move it here).
 */
static void reparent_late_charge(struct pmc_hierarchy *h, struct mem_cgroup *memcg, int cpu,
				 unsigned long nr_pages)
{
	struct mem_cgroup *to = memcg_reparented_to(memcg);

	mod_memcg_state(memcg, cpu, MEMCG_STAT_ANON, -(long)nr_pages);
	mod_memcg_state(to, cpu, MEMCG_STAT_ANON, (long)nr_pages);
	for (struct mem_cgroup *m = memcg; m != to; m = m->parent) {
		page_counter_cancel(&m->counter[MEMCG_MEMORY], nr_pages);
		if (h->cfg.memsw)
			page_counter_cancel(&m->counter[MEMCG_MEMSW], nr_pages);
	}
	memcg_free_queue(h, memcg);
}

/**
 * memcg_try_charge_locked - the charging call, on a CPU already held
 *
 * ctx->memcg is what the handle found (NULL: stale).  Returns with the CPU
 * lock held (it may have been dropped and taken again on the way: then
 * ctx->pinned is set).  0, the handle of the cgroup over its limit, or
 * -errno; the caller then lets go of the CPU and calls memcg_charge_finish.
 */
int64_t memcg_try_charge_locked(struct charge_ctx *ctx, unsigned long nr_pages,
				unsigned int gfp, bool kmem)
{
	struct pmc_hierarchy *h = ctx->h;
	struct mem_cgroup *fail = NULL;
	int r;

	if (!ctx->memcg)
		return memcg_lookup_error(h, ctx->handle);
	if (!memcg_online(ctx->memcg))
		return -ESTALE;
	/*
	 * The root is never charged (try_charge returns early for it).  Nor
	 * is nothing: the kernel never charges 0 pages, and its loop would
	 * spin on a cgroup above its limit (0 pages never fit, margin 0 >= 0).
	 */
	if (memcg_is_root(ctx->memcg) || !nr_pages)
		return 0;
	if (kmem && !atomic_load_explicit(&ctx->memcg->kmem_active, RELAXED))
		return 0;               /* 3.8: kmem not accounted in this cgroup yet */
	/*
	 * 3.8 (memcg_kmem_newpage_charge): a __GFP_NOFAIL kernel allocation is
	 * "unaccounted": allowed, charged nowhere.
	 */
	if (kmem && h->cfg.charge_loop == PMC_CHARGE_LOOP_38 && (gfp & PMC_GFP_NOFAIL))
		return 0;

	if (kmem && h->cfg.kmem_first) {
		/* 3.8 memcg_charge_kmem: the kmem counter first, with its own limit. */
		struct page_counter *kfail;

		if (!page_counter_try_charge(&ctx->memcg->counter[MEMCG_KMEM], nr_pages, &kfail))
			return charge_refused(ctx, memcg_of(kfail, MEMCG_KMEM));
	}
	if (h->cfg.charge_loop == PMC_CHARGE_LOOP_38) {
		r = try_charge_memcg_38(ctx, gfp, nr_pages,
					!kmem || ((gfp & PMC_GFP_FS) && !(gfp & PMC_GFP_NORETRY)), &fail);
	} else {
		r = try_charge_memcg(ctx, gfp, nr_pages, &fail);
	}
	if (r) {
		if (kmem && h->cfg.kmem_first)
			page_counter_uncharge(&ctx->memcg->counter[MEMCG_KMEM], nr_pages);
		if (r < 0)
			ctx->pending_high = 0;
		return r < 0 ? r : charge_refused(ctx, fail);
	}
	if (ctx->bypassed) {
		if (!kmem)
			return 0;       /* the root took it: not charged, not counted */
		/*
		 * 3.8 memcg_charge_kmem: the kmem counter was charged; memory
		 * (and memsw) are forced on the same cgroup to match.
		 */
		ctx->bypassed = false;
		charge_nofail(h, &ctx->memcg->counter[MEMCG_MEMORY], nr_pages);
		if (h->cfg.memsw)
			charge_nofail(h, &ctx->memcg->counter[MEMCG_MEMSW], nr_pages);
	}
	if (kmem && h->cfg.version == 1 && !h->cfg.kmem_first) {
		struct page_counter *kfail;

		if (h->cfg.kmem_limit != PMC_KMEM_LIMIT_ENFORCED) {
			/* v1 since 5.16: the kmem counter is charged, never limited. */
			page_counter_charge(&ctx->memcg->counter[MEMCG_KMEM], nr_pages);
		} else if (!page_counter_try_charge(&ctx->memcg->counter[MEMCG_KMEM], nr_pages,
						    &kfail)) {
			/* 4.x-5.15: a kmem limit after the memory charge, no reclaim. */
			if (!(gfp & PMC_GFP_NOFAIL)) {
				memcg_uncharge_counters(ctx->memcg, nr_pages, NULL);  /* cancel_charge */
				return charge_refused(ctx, memcg_of(kfail, MEMCG_KMEM));
			}
			page_counter_charge(&ctx->memcg->counter[MEMCG_KMEM], nr_pages);
		}
	}
	mod_memcg_state(ctx->memcg, ctx->cpu, kmem ? MEMCG_STAT_KERNEL : MEMCG_STAT_ANON,
			(long)nr_pages);
	if (kmem)
		mod_memcg_state(ctx->memcg, ctx->cpu, MEMCG_STAT_KMEM_OWN, (long)nr_pages);
	else if (h->cfg.reparent_user_pages && !memcg_online(ctx->memcg))
		reparent_late_charge(h, ctx->memcg, ctx->cpu, nr_pages);
	return 0;
}

/* Does a charge need its ending, outside the CPU lock? (Rarely.) */
bool memcg_charge_needs_finish(struct charge_ctx *ctx)
{
	return ctx->pinned || ctx->pending_high ||
	       memcg_free_pending(ctx->h);
}

/*
 * The end of a charging call, with no lock held but the hierarchy held
 * (memcg_charge_hold): drop the reference taken across reclaim, handle
 * memory.high on the way "back to user space", free what became
 * freeable, let go of the hierarchy.  Returns ret, or the -errno of a
 * failed hook.
 */
int64_t memcg_charge_finish(struct charge_ctx *ctx, int64_t ret)
{
	int r;

	if (ctx->pinned) {
		memcg_put_unlocked(ctx->h, ctx->memcg);
		ctx->pinned = false;
	}
	r = handle_over_high(ctx);
	if (r < 0 && ret >= 0)
		ret = r;
	finish_call(ctx->h);
	if (ctx->held) {
		ctx->held = false;
		hier_unhold(ctx->h, &ctx->frame);
	}
	return ret;
}

/**
 * memcg_try_charge - the public charging call
 *
 * Entered holding the CPU lock under which hier_cpu_lock checked the
 * hierarchy; returns without it.  0, the handle of the cgroup over its
 * limit, or -errno.
 */
int64_t memcg_try_charge(struct pmc_hierarchy *h, int64_t cgroup, unsigned long nr_pages,
			 int cpu, unsigned int gfp, bool kmem)
{
	struct charge_ctx ctx = { .h = h, .handle = cgroup, .cpu = cpu };
	int64_t ret;

	ctx.memcg = memcg_lookup(h, cgroup);
	if (memcg_charge_hit(h, ctx.memcg, nr_pages, cpu, kmem)) {
		/* Nothing was pinned, nothing went over high, nothing was freed. */
		cpu_unlock(h, cpu);
		return 0;
	}
	ret = memcg_try_charge_locked(&ctx, nr_pages, gfp, kmem);
	if (!memcg_charge_needs_finish(&ctx)) {
		cpu_unlock(h, cpu);
		return ret;
	}
	memcg_charge_hold(&ctx);
	cpu_unlock(h, cpu);
	return memcg_charge_finish(&ctx, ret);
}

/*
 * Kernel pages of a task (its stack, its page tables) come off, with their
 * own statistic, from where their objcg points now (memcg_uncharge_locked).
 */
void memcg_uncharge_kmem_stat(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			      unsigned long nr_pages, int cpu, enum memcg_stat_idx stat)
{
	struct mem_cgroup *to = memcg;

	if (memcg_is_root(memcg) || !nr_pages)
		return;
	if (h->cfg.objcg)
		to = memcg_reparented_to(memcg);
	mod_memcg_state(to, cpu, stat, -(long)nr_pages);
	memcg_uncharge_locked(h, memcg, nr_pages, cpu, true, NULL);
}

/*
 * A charge on behalf of a task (fork, faults): the hierarchy held, no lock.
 * As the single call, with the task known to the OOM killer.  0, > 0 the
 * handle of the cgroup that refused, -errno; *bypassed: 3.8 charged the
 * root instead (nothing counted) since the task was chosen by the OOM
 * killer.  The task's memory.high throttle is added to it.  *charged (may
 * be NULL): the pages are charged, even where the memory.high work after
 * the charge then failed in the reclaim callback (-ECANCELED): the kernel
 * does that work on the way back to user space, so the pages are the
 * caller's.
 */
int64_t memcg_charge_task(struct pmc_hierarchy *h, int64_t cgroup, struct pmc_task *task,
			  unsigned long nr_pages, int cpu, unsigned int gfp, bool kmem,
			  bool *bypassed, bool *charged)
{
	struct charge_ctx ctx = { .h = h, .handle = cgroup, .cpu = cpu, .task = task };
	int64_t ret;

	cpu_lock(h, cpu);
	ctx.memcg = memcg_lookup(h, cgroup);
	if (memcg_charge_hit(h, ctx.memcg, nr_pages, cpu, kmem)) {
		cpu_unlock(h, cpu);
		*bypassed = false;
		if (charged)
			*charged = true;
		return 0;
	}
	ret = memcg_try_charge_locked(&ctx, nr_pages, gfp, kmem);
	*bypassed = ctx.bypassed;
	if (charged)
		*charged = ret == 0 && !ctx.bypassed;
	if (memcg_charge_needs_finish(&ctx)) {
		memcg_charge_hold(&ctx);
		cpu_unlock(h, cpu);
		ret = memcg_charge_finish(&ctx, ret);
	} else {
		cpu_unlock(h, cpu);
	}
	if (task && ctx.throttle_jiffies) {
		pthread_mutex_lock(&h->lock);
		task->throttle_jiffies += ctx.throttle_jiffies;
		pthread_mutex_unlock(&h->lock);
	}
	return ret;
}

/*
 * 3.8: user pages that offline moved to the root come off its counters and
 * its anon statistic (see struct task_seg).  On a CPU already held.
 */
void memcg_uncharge_root_user(struct pmc_hierarchy *h, unsigned long nr_pages, int cpu)
{
	mod_memcg_state(h->root, cpu, MEMCG_STAT_ANON, -(long)nr_pages);
	memcg_uncharge_counters(h->root, nr_pages, NULL);
}

/**
 * memcg_uncharge_locked - the uncharging call, on a CPU already held
 *
 * User pages go straight back to the counters; kernel memory goes through
 * the stock where the era does so.  Clamps are noted in `log`.
 */
void memcg_uncharge_locked(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			   unsigned long nr_pages, int cpu, bool kmem, struct clamp_log *log)
{
	struct mem_cgroup *to = memcg;

	/* Nothing was charged to the root; and the kernel skips empty uncharges. */
	if (memcg_is_root(memcg) || !nr_pages ||
	    (kmem && !atomic_load_explicit(&memcg->kmem_active, RELAXED)))
		goto out;
	if (kmem ? h->cfg.objcg : h->cfg.reparent_user_pages) {
		to = memcg_reparented_to(memcg);
		if (log)
			log->offset = (size_t)(memcg->depth - to->depth);
	}
	if (!kmem) {
		mod_memcg_state(to, cpu, MEMCG_STAT_ANON, -(long)nr_pages);
		memcg_uncharge_counters(to, nr_pages, log);
		goto out;
	}
	mod_memcg_state(to, cpu, MEMCG_STAT_KERNEL, -(long)nr_pages);
	mod_memcg_state(memcg, cpu, MEMCG_STAT_KMEM_OWN, -(long)nr_pages);
	if (h->cfg.version == 1)
		counter_uncharge(&to->counter[MEMCG_KMEM], MEMCG_KMEM, nr_pages, log);
	if (h->cfg.kmem_uncharge_via_stock)
		refill_stock(h, to, nr_pages, cpu, log);
	else
		memcg_uncharge_counters(to, nr_pages, log);
out:
	if (!memcg_online(memcg))
		memcg_free_queue(h, memcg);
}

/*
 * Let go of a CPU lock under which the hierarchy was checked, then free
 * what the call made freeable (holding the hierarchy meanwhile).
 */
static void unlock_finish_call(struct pmc_hierarchy *h, int cpu)
{
	struct hier_frame frame;

	if (!memcg_free_pending(h)) {
		cpu_unlock(h, cpu);
		return;
	}
	hier_hold(h, &frame);
	cpu_unlock(h, cpu);
	finish_call(h);
	hier_unhold(h, &frame);
}

/*
 * The public uncharging call, entered holding the CPU lock under which
 * the hierarchy was checked; returns without it.  0 or -errno; clamps are
 * noted in `log`.
 */
int64_t memcg_uncharge(struct pmc_hierarchy *h, int64_t cgroup, unsigned long nr_pages,
		       int cpu, bool kmem, struct clamp_log *log)
{
	struct mem_cgroup *memcg = memcg_lookup(h, cgroup);

	/* A shell is only there for its objcg's kernel pages. */
	if (!memcg || (memcg_shell(memcg) && !kmem)) {
		cpu_unlock(h, cpu);
		return memcg ? -ESTALE : memcg_lookup_error(h, cgroup);
	}
	memcg_uncharge_locked(h, memcg, nr_pages, cpu, kmem, log);
	unlock_finish_call(h, cpu);
	return 0;
}

/*
 * drain one CPU's stock (CPU hotplug's drain, or a user's), entered as
 * memcg_uncharge is.
 */
int64_t memcg_drain_cpu_locked(struct pmc_hierarchy *h, int cpu)
{
	drain_stock_fully(h, cpu);
	unlock_finish_call(h, cpu);
	return 0;
}

/*
 * drain_all_stock of a subtree (cgroup 0: the whole tree), synchronously,
 * entered holding h->lock under which the hierarchy was checked; returns
 * without it.
 */
int64_t memcg_drain_all_locked(struct pmc_hierarchy *h, int64_t cgroup)
{
	struct mem_cgroup *root = cgroup ? memcg_lookup(h, cgroup) : h->root;
	int64_t ret = root ? 0 : memcg_lookup_error(h, cgroup);

	if (root && memcg_shell(root)) {
		root = NULL;
		ret = -ESTALE;
	}

	/* h->lock before the CPU locks: the order every path keeps. */
	if (root)
		drain_all_stock(h, root);
	memcg_free_dying(h);
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/*
 * 3.8 memcg_update_kmem_limit: the first limit switches kmem accounting on,
 * unless the cgroup has children already (memcg_has_children: the cgroup's
 * children list, which rmdir empties, so online ones; with use_hierarchy)
 * or tasks.
 */
int memcg_activate_kmem(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	if (atomic_load_explicit(&memcg->kmem_active, RELAXED))
		return 0;
	for (struct mem_cgroup *c = memcg->cold->first_child; c; c = c->cold->next_sibling)
		if (memcg_online(c))
			return -EBUSY;
	if (memcg_ext(memcg)->nr_tasks || memcg_ext(memcg)->nr_forking)
		return -EBUSY;          /* cgroup_task_count */
	atomic_store_explicit(&memcg->kmem_active, true, RELAXED);
	slab_kmem_activated(h, memcg);
	return 0;
}

/* --- sockets ----------------------------------------------------------------- */

/*
 * v1 (memcg1_charge_skmem): the tcpmem counter alone; memory never sees
 * socket pages.  A failure raises the cgroup's pressure flag, a success
 * lowers it.  Counters are lock-free and the flag is a relaxed store, as
 * the kernel's plain int: a racing charge may flip it back at once.
 */
static bool memcg1_charge_skmem(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
				unsigned long nr_pages, unsigned int gfp)
{
	struct page_counter *tcp = &memcg->counter[MEMCG_TCPMEM], *fail;
	bool over = false;

	if (h->cfg.tcpmem_counter == PMC_TCPMEM_RES_COUNTER) {
		/*
		 * 3.x: memcg_memory_allocated_add() charges with
		 * res_counter_charge_nofail() -- every level goes up (max_usage
		 * follows), each level left above its limit counts a failure --
		 * and __sk_mem_schedule() takes the pages back when a level was
		 * over (OVER_LIMIT), unless the send may not fail (a stream
		 * send under its sndbuf: __GFP_NOFAIL here).  The limits are
		 * taken as below sysctl_tcp_mem, so a cgroup's tcp_prot_mem[]
		 * are its limit.  res_counter held a spinlock per level; here
		 * the levels are read after the lock-free charge, so a racing
		 * charge's pages may count in "over" (its own check sees ours).
		 */
		charge_nofail(h, tcp, nr_pages);
		for (struct page_counter *c = tcp; c; c = c->parent)
			if (page_counter_read(c) > atomic_load_explicit(&c->max, RELAXED))
				over = true;
		if (!over) {
			/* sk_leave_memory_pressure (3.x): this cgroup's flag and every ancestor's. */
			for (struct mem_cgroup *m = memcg; m; m = m->parent)
				atomic_store_explicit(&m->cold->tcpmem_pressure, 0, RELAXED);
			return true;
		}
		/* sk_enter_memory_pressure (3.x): the socket's own cgroup only. */
		atomic_store_explicit(&memcg->cold->tcpmem_pressure, 1, RELAXED);
		if (gfp & PMC_GFP_NOFAIL)
			return true;
		page_counter_uncharge(tcp, nr_pages);
		return false;
	}
	if (page_counter_try_charge(tcp, nr_pages, &fail)) {
		atomic_store_explicit(&memcg->cold->tcpmem_pressure, 0, RELAXED);
		return true;
	}
	atomic_store_explicit(&memcg->cold->tcpmem_pressure, 1, RELAXED);
	if (gfp & PMC_GFP_NOFAIL) {
		page_counter_charge(tcp, nr_pages);
		return true;
	}
	return false;
}

/**
 * memcg_charge_skmem - mem_cgroup_charge_skmem (6.18: mem_cgroup_sk_charge)
 *
 * The hierarchy held (the caller's frame), no lock; the socket's reference
 * keeps memcg allocated, online or dying (a socket's cgroup may be removed
 * under it: the kernel goes on charging it).  v2: the whole try_charge of
 * the era (stock, batch, reclaim, OOM as gfp allows; __GFP_HIGH and
 * __GFP_NOFAIL forced over the limit), then the sock statistic; memory.high
 * is handled on the way out.  0 charged, 1 refused, -errno (the hook).
 */
int64_t memcg_charge_skmem(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			   unsigned long nr_pages, int cpu, unsigned int gfp, bool *charged)
{
	struct charge_ctx ctx = { .h = h, .handle = memcg_handle(memcg), .memcg = memcg,
				  .cpu = cpu };
	struct mem_cgroup *fail = NULL;
	int64_t ret;

	*charged = !nr_pages;
	if (!nr_pages)
		return 0;
	if (h->cfg.version == 1) {
		*charged = memcg1_charge_skmem(h, memcg, nr_pages, gfp);
		return *charged ? 0 : 1;
	}
	cpu_lock(h, cpu);
	if (h->cfg.charge_loop == PMC_CHARGE_LOOP_38)
		ret = try_charge_memcg_38(&ctx, gfp, nr_pages, true, &fail);
	else
		ret = try_charge_memcg(&ctx, gfp, nr_pages, &fail);
	/*
	 * Charged: the socket holds the pages even if the memory.high work
	 * below then fails in a reclaim hook (-ECANCELED): the kernel runs it
	 * on the way back to user space, after the charge returned true.
	 */
	*charged = ret == 0;
	if (ret == 0)
		mod_memcg_state(memcg, cpu, MEMCG_STAT_SOCK, (long)nr_pages);
	else if (ret < 0)
		ctx.pending_high = 0;
	if (!memcg_charge_needs_finish(&ctx)) {
		cpu_unlock(h, cpu);
		return ret;
	}
	memcg_charge_hold(&ctx);
	cpu_unlock(h, cpu);
	return memcg_charge_finish(&ctx, ret);
}

/**
 * memcg_uncharge_skmem - mem_cgroup_uncharge_skmem (6.18: mem_cgroup_sk_uncharge)
 *
 * v1: straight off tcpmem (memcg1_uncharge_skmem).  v2: the sock statistic
 * down, the pages into this CPU's stock (refill_stock, 4.14+: deferred
 * until the stock drains; before, straight off the counters).  No lock
 * held; the socket's reference keeps memcg allocated.
 */
void memcg_uncharge_skmem(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			  unsigned long nr_pages, int cpu)
{
	if (!nr_pages)
		return;
	if (h->cfg.version == 1) {
		page_counter_uncharge(&memcg->counter[MEMCG_TCPMEM], nr_pages);
		return;
	}
	cpu_lock(h, cpu);
	mod_memcg_state(memcg, cpu, MEMCG_STAT_SOCK, -(long)nr_pages);
	if (h->cfg.kmem_uncharge_via_stock)
		refill_stock(h, memcg, nr_pages, cpu, NULL);
	else
		memcg_uncharge_counters(memcg, nr_pages, NULL);
	cpu_unlock(h, cpu);
}
