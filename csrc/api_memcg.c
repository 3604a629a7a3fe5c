/*
 * api_memcg.c - the handle API of hierarchies and cgroups.
 *
 * Each function checks its arguments, finds its objects by handle (under
 * the lock that keeps them alive) and calls memcg.c or stock.c.  A bad
 * argument is refused before anything changes.
 */
#include <errno.h>
#include <string.h>

#include "memcg.h"

#define RELAXED memory_order_relaxed

/*
 * Find a hierarchy and a cgroup in it, taking h->lock on success (the
 * hierarchy checked under it, see hierarchy.c).  On failure nothing is
 * held and *err says why: -ESTALE for a hierarchy or cgroup that is gone,
 * -EINVAL for a handle that was never one of this hierarchy's.
 */
static struct mem_cgroup *lock_cgroup(int64_t hierarchy, int64_t cgroup, struct pmc_hierarchy **hp,
				      int64_t *err)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);
	struct mem_cgroup *memcg;

	*err = hier_lock_error();
	if (!h)
		return NULL;
	memcg = memcg_lookup(h, cgroup);
	if (!memcg || memcg_shell(memcg)) {
		*err = memcg ? -ESTALE : memcg_lookup_error(h, cgroup);
		pthread_mutex_unlock(&h->lock);
		return NULL;
	}
	*hp = h;
	return memcg;
}

static int64_t unlock_finish(struct pmc_hierarchy *h, int64_t ret)
{
	memcg_free_dying(h);
	pthread_mutex_unlock(&h->lock);
	return ret;
}

int64_t pmc_cgroup_root(int64_t hierarchy)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);
	int64_t ret;

	if (!h)
		return hier_lock_error();
	ret = memcg_handle(h->root);
	pthread_mutex_unlock(&h->lock);
	return ret;
}

int64_t pmc_cgroup_by_id(int64_t hierarchy, int64_t id)
{
	struct pmc_hierarchy *h;
	struct mem_cgroup *memcg = NULL;
	int64_t ret;

	if (id < 1 || id > MEMCG_ID_MAX)
		return -ENOENT;
	h = hier_lock(hierarchy);
	if (!h)
		return hier_lock_error();
	/* The id's current generation: whatever holds it now. */
	memcg = memcg_by_id(h, (uint32_t)id);
	ret = memcg ? memcg_handle(memcg) : -ENOENT;
	pthread_mutex_unlock(&h->lock);
	return ret;
}

int64_t pmc_cgroup_create(int64_t hierarchy, int64_t parent, const char *name)
{
	struct pmc_hierarchy *h;
	struct mem_cgroup *p;
	int64_t err = memcg_check_name(name);

	/* Arguments first, then the objects: a bad name is refused anywhere. */
	if (err)
		return err;
	p = lock_cgroup(hierarchy, parent, &h, &err);
	if (!p)
		return err;
	return unlock_finish(h, memcg_create(h, p, name));
}

int64_t pmc_cgroup_remove(int64_t hierarchy, int64_t cgroup)
{
	struct pmc_hierarchy *h;
	int64_t err;
	struct mem_cgroup *memcg = lock_cgroup(hierarchy, cgroup, &h, &err);

	if (!memcg)
		return err;
	return unlock_finish(h, memcg_remove(h, memcg));
}

/* A cgroup's own statistics: its counts and the stock slots' deltas (memcg_stat_sum). */
static void stat_sum(struct pmc_hierarchy *h, struct mem_cgroup *memcg, int64_t *out)
{
	memcg_stat_sum(h, memcg, out, MEMCG_NR_STATS);
}

/* A pre-order walk of the subtree (dying cgroups included), under h->lock: linear. */
static void stat_subtree(struct pmc_hierarchy *h, struct mem_cgroup *root, int64_t *out)
{
	struct mem_cgroup *c = root;

	while (c) {
		for (int i = 0; i < MEMCG_NR_STATS; i++)
			out[i] += memcg_stat_global(c, i) +   /* + freed descendants' */
				  memcg_ext(c)->dead_stat[i];
		if (c->cold->first_child) {
			c = c->cold->first_child;
			continue;
		}
		while (c != root && !c->cold->next_sibling)
			c = c->parent;
		c = c == root ? NULL : c->cold->next_sibling;
	}
	/* Then what the stock slots caching cgroups of the subtree hold. */
	memcg_stat_subtree(h, root, out);
}

/* O(ncpus): no walk of the subtree (pmc_cgroup_stat has that). */
int64_t pmc_cgroup_info(int64_t hierarchy, int64_t cgroup, struct pmc_cgroup_info *info)
{
	struct pmc_hierarchy *h;
	int64_t err;
	struct mem_cgroup *memcg = lock_cgroup(hierarchy, cgroup, &h, &err);
	struct memcg_events *ev;

	if (!memcg)
		return err;
	memset(info, 0, sizeof(*info));
	info->handle = memcg_handle(memcg);
	info->parent = memcg->parent ? memcg_handle(memcg->parent) : 0;
	info->id = memcg->id;
	info->state = atomic_load_explicit(&memcg->state, RELAXED);
	info->kmem_active = atomic_load_explicit(&memcg->kmem_active, RELAXED);
	info->depth = memcg->depth;
	info->nr_children = memcg->cold->nr_children;
	info->nr_descendants = memcg->cold->nr_descendants;
	info->nr_dying_descendants = memcg->cold->nr_dying_descendants;
	if ((ev = memcg_events_peek(memcg))) {
		for (int i = 0; i < MEMCG_NR_EVENTS; i++) {
			info->events[i] = atomic_load_explicit(&ev->events[i], RELAXED);
			info->events_local[i] = atomic_load_explicit(&ev->events_local[i], RELAXED);
		}
		info->throttle_jiffies = atomic_load_explicit(&ev->throttle_jiffies, RELAXED);
		info->oom_livelocks = atomic_load_explicit(&ev->oom_livelocks, RELAXED);
	}
	stat_sum(h, memcg, info->stat);
	info->nr_tasks = memcg_ext(memcg)->nr_tasks;
	info->nr_sockets = memcg_ext(memcg)->nr_sockets;
	info->tcpmem_active = atomic_load_explicit(&memcg->cold->tcpmem_active, RELAXED);
	info->tcpmem_pressure = atomic_load_explicit(&memcg->cold->tcpmem_pressure, RELAXED);
	info->name_len = (int32_t)memcg->cold->name_len;
	memcpy(info->name, memcg->cold->name, memcg->cold->name_len < sizeof(info->name) ?
	       memcg->cold->name_len : sizeof(info->name) - 1);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

int64_t pmc_cgroup_stat(int64_t hierarchy, int64_t cgroup, int32_t subtree, int64_t *out,
			int32_t n)
{
	struct pmc_hierarchy *h;
	int64_t err, sum[MEMCG_NR_STATS] = { 0 };
	struct mem_cgroup *memcg = lock_cgroup(hierarchy, cgroup, &h, &err);

	if (!memcg)
		return err;
	if (subtree)
		stat_subtree(h, memcg, sum);
	else
		stat_sum(h, memcg, sum);
	pthread_mutex_unlock(&h->lock);
	for (int i = 0; i < n && i < MEMCG_NR_STATS; i++)
		out[i] = sum[i];
	return MEMCG_NR_STATS;
}

static bool valid_counter(struct pmc_hierarchy *h, int32_t counter)
{
	return counter >= 0 && counter < (h->cfg.version == 1 ? 4 : 2);
}

int64_t pmc_cgroup_counter(int64_t hierarchy, int64_t cgroup, int32_t counter,
			   struct pmc_page_counter_info *info)
{
	struct pmc_hierarchy *h;
	int64_t err;
	struct mem_cgroup *memcg = lock_cgroup(hierarchy, cgroup, &h, &err);

	if (!memcg)
		return err;
	if (!valid_counter(h, counter)) {
		pthread_mutex_unlock(&h->lock);
		return -EINVAL;
	}
	page_counter_snapshot(&memcg->counter[counter], info);
	info->depth = memcg->depth;
	info->nr_children = memcg->cold->nr_children;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

int64_t pmc_cgroup_children(int64_t hierarchy, int64_t cgroup, int64_t *out, int64_t n)
{
	struct pmc_hierarchy *h;
	int64_t err, count = 0;
	struct mem_cgroup *memcg = lock_cgroup(hierarchy, cgroup, &h, &err), *c;

	if (!memcg)
		return err;
	for (c = memcg->cold->first_child; c; c = c->cold->next_sibling) {
		if (!memcg_online(c))
			continue;
		if (count < n)
			out[count] = memcg_handle(c);
		count++;
	}
	pthread_mutex_unlock(&h->lock);
	return count;
}

/* Every cgroup in creation order: a walk of the creation list, linear. */
int64_t pmc_hierarchy_cgroups(int64_t hierarchy, int64_t *out, int64_t n)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);
	int64_t count = 0;

	if (!h)
		return hier_lock_error();
	for (struct mem_cgroup *m = h->all_head; m; m = m->cold->all_next) {
		if (memcg_shell(m))
			continue;
		if (count < n)
			out[count] = memcg_handle(m);
		count++;
	}
	pthread_mutex_unlock(&h->lock);
	return count;
}

static void list_reset(struct pmc_cgroup_list *list)
{
	list->count = 0;
	list->names_len = 0;
	if (list->cap < 0)
		list->cap = 0;
	if (list->names_cap < 0)
		list->names_cap = 0;
}

int64_t pmc_cgroup_list(int64_t hierarchy, int64_t cgroup, int32_t how,
			struct pmc_cgroup_list *list)
{
	struct pmc_hierarchy *h;
	struct mem_cgroup *memcg;
	int64_t err;

	if (how < PMC_LIST_ALL || how > PMC_LIST_LINEAGE)
		return -EINVAL;
	list_reset(list);
	if (how == PMC_LIST_ALL) {
		h = hier_lock(hierarchy);
		memcg = h ? h->root : NULL;
		err = hier_lock_error();
	} else {
		memcg = lock_cgroup(hierarchy, cgroup, &h, &err);
	}
	if (!memcg)
		return err;
	err = memcg_list(h, memcg, how, list);
	pthread_mutex_unlock(&h->lock);
	return err;
}

static int check_charge_args(int64_t nr_pages)
{
	if (nr_pages < 0 || nr_pages > PMC_PAGE_COUNTER_MAX)
		return -EINVAL;
	return 0;
}

/*
 * The single calls.  Arguments first; then hier_cpu_lock finds the
 * hierarchy, takes the CPU's lock and checks the hierarchy under it, and
 * memcg.c goes on from there.
 */
/*
 * This thread's last single charge: the hierarchy and cgroup it named and
 * what they were found at.  Only a hint: the fast path checks, under the
 * CPU lock, what hier_cpu_lock and memcg_lookup check (the hierarchy's
 * life, the block's generation), reading only memory that lives as long
 * as the hierarchy's slot (its stock array) and its life (the hot blocks).
 */
static _Thread_local struct {
	int64_t hierarchy, cgroup;
	struct pmc_hierarchy *h;
	struct mem_cgroup *memcg;
	/*
	 * The CPU of the last stock hit (-1: none), its stock and the slot that
	 * served it; set only where the fast test below applies (not 3.8's
	 * stock, not the root, a slot found).
	 */
	int32_t cpu;
	unsigned int slot;
	struct memcg_stock_pcp *pcp;
} last_charge __attribute__((tls_model("initial-exec")));

__attribute__((noinline))
static int64_t try_charge_slow(int64_t hierarchy, int64_t cgroup, int64_t nr_pages,
			       int32_t cpu, uint32_t gfp, int32_t kmem)
{
	struct pmc_hierarchy *h;
	struct mem_cgroup *memcg;
	int ret = check_charge_args(nr_pages);

	if (ret)
		return ret;
	if (gfp & ~(uint32_t)PMC_GFP_ALL)
		return -EINVAL;
	ret = hier_cpu_lock(hierarchy, cpu, &h);
	if (ret)
		return ret;
	memcg = memcg_lookup(h, cgroup);
	if (memcg) {
		last_charge.hierarchy = hierarchy;
		last_charge.cgroup = cgroup;
		last_charge.h = h;
		last_charge.memcg = memcg;
		last_charge.cpu = -1;
		last_charge.pcp = NULL;
	}
	return memcg_try_charge(h, cgroup, (unsigned long)nr_pages, cpu, gfp, kmem != 0);
}

/*
 * The fast path's second chance, on the CPU locked and the hierarchy
 * checked: the cgroup's generation, then the general stock test (noting
 * the slot that served it for the next call), else the charge path.
 */
__attribute__((noinline))
static int64_t try_charge_locked(struct pmc_hierarchy *h, struct memcg_stock_pcp *pcp,
				 int64_t cgroup, int64_t nr_pages, int32_t cpu, uint32_t gfp)
{
	struct mem_cgroup *memcg = last_charge.memcg;
	uint32_t gen = (uint32_t)((uint64_t)cgroup >> MEMCG_HANDLE_SLOT_BITS) & MEMCG_HANDLE_GEN_MASK;

	/* memcg_lookup's generation test (acquire: the cgroup initialised). */
	if (atomic_load_explicit(&memcg->gen, memory_order_acquire) == gen &&
	    memcg_charge_hit(h, memcg, (unsigned long)nr_pages, cpu, false)) {
		unsigned int slot = stock_slot_of(pcp, memcg);

		last_charge.cpu = stock_slot_fast(h, memcg, slot) ? cpu : -1;
		last_charge.slot = slot;
		last_charge.pcp = pcp;
		pcp_unlock(pcp);
		return 0;
	}
	/* Entered holding the lock, as after hier_cpu_lock. */
	return memcg_try_charge(h, cgroup, (unsigned long)nr_pages, cpu, gfp, false);
}

/*
 * The single call.  Its fast path is the common case of a stream of calls:
 * the hierarchy and cgroup of the last call, user pages, a stock hit; one
 * atomic exchange (the CPU's lock) and a handful of loads.  Anything else,
 * or any check that fails, goes the whole way (try_charge_slow).
 */
int64_t pmc_cgroup_try_charge(int64_t hierarchy, int64_t cgroup, int64_t nr_pages,
			      int32_t cpu, uint32_t gfp, int32_t kmem)
{
	struct pmc_hierarchy *h = last_charge.h;
	struct memcg_stock_pcp *pcp;
	struct mem_cgroup *memcg;
	uint32_t gen = (uint32_t)((uint64_t)cgroup >> MEMCG_HANDLE_SLOT_BITS) & MEMCG_HANDLE_GEN_MASK;

	if (__builtin_expect(hierarchy != last_charge.hierarchy || cgroup != last_charge.cgroup ||
			     kmem || (gfp & ~(uint32_t)PMC_GFP_ALL) || nr_pages <= 0 ||
			     nr_pages > PMC_PAGE_COUNTER_MAX || cpu < 0 || !hierarchy, 0))
		return try_charge_slow(hierarchy, cgroup, nr_pages, cpu, gfp, kmem);
	/*
	 * hier_cpu_lock's checks, in its order; a thread that owns CPUs, or a
	 * lock that is taken, goes the whole way (which tests the one exactly
	 * and waits for the other): this path calls nothing but its tails.
	 * The CPU of the last hit has its stock remembered: stock arrays only
	 * change between lives of the hierarchy, and the handle names one life.
	 */
	if (cpu == last_charge.cpu) {
		pcp = last_charge.pcp;
	} else {
		if ((uint32_t)cpu >= atomic_load_explicit(&h->stock_cap, memory_order_acquire))
			return try_charge_slow(hierarchy, cgroup, nr_pages, cpu, gfp, kmem);
		pcp = stock_of(h, cpu);
	}
	if (cpu_owned_head || atomic_exchange_explicit(&pcp->lock, 1, memory_order_acquire))
		return try_charge_slow(hierarchy, cgroup, nr_pages, cpu, gfp, kmem);
	if (!hier_live(h, hierarchy) || cpu >= h->cfg.ncpus) {
		pcp_unlock(pcp);
		return try_charge_slow(hierarchy, cgroup, nr_pages, cpu, gfp, kmem);
	}
	/*
	 * The generation (memcg_lookup's test; acquire: the cgroup initialised),
	 * then the slot of the last hit (last_charge.cpu is set only where
	 * stock_slot_fast said yes).
	 */
	memcg = last_charge.memcg;
	if (__builtin_expect(atomic_load_explicit(&memcg->gen, memory_order_acquire) == gen &&
			     cpu == last_charge.cpu &&
			     stock_hit_slot(h, pcp, memcg, last_charge.slot,
					    (unsigned long)nr_pages), 1)) {
		pcp_unlock(pcp);
		return 0;
	}
	return try_charge_locked(h, pcp, cgroup, nr_pages, cpu, gfp);
}

int64_t pmc_cgroup_uncharge(int64_t hierarchy, int64_t cgroup, int64_t nr_pages,
			    int32_t cpu, int32_t kmem)
{
	struct pmc_hierarchy *h;
	struct clamp_log log = { 0 };
	int ret = check_charge_args(nr_pages);

	if (ret)
		return ret;
	ret = hier_cpu_lock(hierarchy, cpu, &h);
	if (ret)
		return ret;
	ret = (int)memcg_uncharge(h, cgroup, (unsigned long)nr_pages, cpu, kmem != 0, &log);
	return ret ? ret : (int64_t)log.mask;
}

int64_t pmc_cgroup_uncharge_levels(int64_t hierarchy, int64_t cgroup, int64_t nr_pages,
				   int32_t cpu, int32_t kmem, uint8_t *clamped, int64_t n)
{
	struct pmc_hierarchy *h;
	struct clamp_log log = { .levels = clamped, .n = (size_t)n };
	int ret = check_charge_args(nr_pages);

	if (ret || n < 0)
		return ret ? ret : -EINVAL;
	ret = hier_cpu_lock(hierarchy, cpu, &h);
	if (ret)
		return ret;
	memset(clamped, 0, (size_t)n * MEMCG_NR_COUNTERS);
	ret = (int)memcg_uncharge(h, cgroup, (unsigned long)nr_pages, cpu, kmem != 0, &log);
	return ret ? ret : (int64_t)log.nr_clamped;
}

int64_t pmc_hierarchy_drain(int64_t hierarchy, int32_t cpu)
{
	struct pmc_hierarchy *h;
	int ret = hier_cpu_lock(hierarchy, cpu, &h);

	if (ret)
		return ret;
	return memcg_drain_cpu_locked(h, cpu);
}

int64_t pmc_hierarchy_drain_all(int64_t hierarchy, int64_t cgroup)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);

	if (!h)
		return hier_lock_error();
	return memcg_drain_all_locked(h, cgroup);
}

int64_t pmc_hierarchy_stock(int64_t hierarchy, int32_t cpu, int64_t *cached, uint64_t *nr_pages,
			    int32_t n)
{
	return pmc_hierarchy_stock_list(hierarchy, cpu, cached, nr_pages, n, NULL);
}

/*
 * Under h->lock (nothing is freed meanwhile) and the CPU's lock (the slots
 * hold still): the slots, and the lineage of each cached cgroup.
 */
int64_t pmc_hierarchy_stock_list(int64_t hierarchy, int32_t cpu, int64_t *cached,
				 uint64_t *nr_pages, int32_t n, struct pmc_cgroup_list *list)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);
	struct mem_cgroup *slots[MEMCG_STOCK_MAX_SLOTS] = { 0 };
	struct memcg_stock_pcp *stock;
	unsigned int nr;

	if (!h)
		return hier_lock_error();
	if (cpu < 0 || cpu >= h->cfg.ncpus) {
		pthread_mutex_unlock(&h->lock);
		return -EINVAL;
	}
	stock = stock_of(h, cpu);
	cpu_lock(h, cpu);
	nr = stock->nr_slots;
	for (unsigned int i = 0; i < nr; i++) {
		slots[i] = stock->cached[i];
		if ((int)i < n) {
			cached[i] = slots[i] ? memcg_handle(slots[i]) : 0;
			nr_pages[i] = stock->nr_pages[i];
		}
	}
	cpu_unlock(h, cpu);
	if (list) {
		/* Still under h->lock: a cgroup seen in a slot cannot be freed yet. */
		list_reset(list);
		for (unsigned int i = 0; i < nr; i++)
			if (slots[i])
				memcg_list(h, slots[i], PMC_LIST_LINEAGE, list);
	}
	pthread_mutex_unlock(&h->lock);
	return nr;
}

int64_t pmc_hierarchy_set_reclaim(int64_t hierarchy, int32_t enabled)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);

	if (!h)
		return hier_lock_error();
	atomic_store_explicit(&h->reclaim_hook, enabled != 0, RELAXED);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

int64_t pmc_cgroup_reclaim(int64_t hierarchy, int64_t cgroup, int64_t nr_pages)
{
	struct pmc_hierarchy *h;
	struct hier_frame frame;
	int64_t ret;

	if (nr_pages < 0 || nr_pages > PMC_PAGE_COUNTER_MAX)
		return -EINVAL;
	h = hier_lock(hierarchy);
	if (!h)
		return hier_lock_error();
	/* The hook runs with no lock held: hold the hierarchy across it. */
	hier_hold(h, &frame);
	pthread_mutex_unlock(&h->lock);
	ret = memcg_reclaim(h, cgroup, (unsigned long)nr_pages);
	hier_unhold(h, &frame);
	return ret;
}

/*
 * Setters run under h->lock, which also serialises them as the kernel's
 * memcg_max_mutex does; chargers do not take it.
 */
static int64_t counter_op(int64_t hierarchy, int64_t cgroup, int32_t counter, int64_t nr_pages,
			  int op)
{
	struct pmc_hierarchy *h;
	int64_t err;
	struct mem_cgroup *memcg = lock_cgroup(hierarchy, cgroup, &h, &err);
	struct page_counter *pc;
	int64_t ret = 0;

	if (!memcg)
		return err;
	if (!valid_counter(h, counter) || nr_pages < 0 || nr_pages > PMC_PAGE_COUNTER_MAX) {
		pthread_mutex_unlock(&h->lock);
		return -EINVAL;
	}
	pc = &memcg->counter[counter];
	/* A limit or a protection that will raise events here: their blocks first. */
	if ((((op == 0 || op == 7 || op == 3) && nr_pages < PMC_PAGE_COUNTER_MAX) ||
	     ((op == 1 || op == 2) && nr_pages > 0)) && memcg_events_prepare(memcg)) {
		pthread_mutex_unlock(&h->lock);
		return -ENOMEM;
	}
	switch (op) {
	case 0:
		ret = page_counter_set_max(pc, (unsigned long)nr_pages);
		break;
	case 7:
		/* seq_cst, like page_counter_set_max's exchange: chargers see it. */
		ret = (int64_t)atomic_exchange(&pc->max, (unsigned long)nr_pages);
		break;
	case 1:
		page_counter_set_min(pc, (unsigned long)nr_pages);
		break;
	case 2:
		page_counter_set_low(pc, (unsigned long)nr_pages);
		break;
	case 3:
		page_counter_set_high(pc, (unsigned long)nr_pages);
		break;
	case 4 + PMC_RESET_WATERMARK:
		page_counter_reset_watermark(pc);
		break;
	case 4 + PMC_RESET_LOCAL_WATERMARK:
		atomic_store_explicit(&pc->local_watermark, page_counter_read(pc), RELAXED);
		break;
	case 4 + PMC_RESET_FAILCNT:
		atomic_store_explicit(&pc->failcnt, 0, RELAXED);
		break;
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}

int64_t pmc_cgroup_set_max(int64_t hierarchy, int64_t cgroup, int32_t counter, int64_t nr_pages)
{
	return counter_op(hierarchy, cgroup, counter, nr_pages, 0);
}

int64_t pmc_cgroup_xchg_max(int64_t hierarchy, int64_t cgroup, int32_t counter, int64_t nr_pages)
{
	return counter_op(hierarchy, cgroup, counter, nr_pages, 7);
}

int64_t pmc_cgroup_set_min(int64_t hierarchy, int64_t cgroup, int64_t nr_pages)
{
	return counter_op(hierarchy, cgroup, PMC_COUNTER_MEMORY, nr_pages, 1);
}

int64_t pmc_cgroup_set_low(int64_t hierarchy, int64_t cgroup, int64_t nr_pages)
{
	return counter_op(hierarchy, cgroup, PMC_COUNTER_MEMORY, nr_pages, 2);
}

int64_t pmc_cgroup_set_high(int64_t hierarchy, int64_t cgroup, int32_t counter, int64_t nr_pages)
{
	return counter_op(hierarchy, cgroup, counter, nr_pages, 3);
}

int64_t pmc_cgroup_reset(int64_t hierarchy, int64_t cgroup, int32_t counter, int32_t what)
{
	if (what < PMC_RESET_WATERMARK || what > PMC_RESET_FAILCNT)
		return -EINVAL;
	return counter_op(hierarchy, cgroup, counter, 0, 4 + what);
}

int64_t pmc_cgroup_event(int64_t hierarchy, int64_t cgroup, int32_t event)
{
	struct pmc_hierarchy *h;
	int64_t err;
	struct mem_cgroup *memcg = lock_cgroup(hierarchy, cgroup, &h, &err);

	if (!memcg)
		return err;
	if (event < 0 || event >= MEMCG_NR_EVENTS) {
		pthread_mutex_unlock(&h->lock);
		return -EINVAL;
	}
	memcg_memory_event(memcg, (enum memcg_event_idx)event);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

int64_t pmc_cgroup_tunable(int64_t hierarchy, int64_t cgroup, int32_t which, int64_t value)
{
	struct pmc_hierarchy *h;
	int64_t err;
	struct mem_cgroup *memcg = lock_cgroup(hierarchy, cgroup, &h, &err);

	if (!memcg)
		return err;
	err = -EINVAL;
	switch (which) {
	case PMC_TUNABLE_OOM_KILL_DISABLE:
		if (value > 1)
			break;
		if (value >= 0)
			atomic_store_explicit(&memcg->cold->oom_kill_disable, value == 1, RELAXED);
		err = atomic_load_explicit(&memcg->cold->oom_kill_disable, RELAXED);
		break;
	case PMC_TUNABLE_OOM_GROUP:
		if (value > 1)
			break;
		if (value == 1 && memcg_events_prepare(memcg)) {
			err = -ENOMEM;
			break;
		}
		if (value >= 0)
			atomic_store_explicit(&memcg->cold->oom_group, value == 1, RELAXED);
		err = atomic_load_explicit(&memcg->cold->oom_group, RELAXED);
		break;
	case PMC_TUNABLE_SWAPPINESS:
		if (value > 200)        /* MAX_SWAPPINESS */
			break;
		if (value >= 0 && memcg_is_root(memcg))
			atomic_store_explicit(&h->vm_swappiness, (int)value, RELAXED);
		else if (value >= 0)
			atomic_store_explicit(&memcg->cold->swappiness, (int16_t)value, RELAXED);
		err = memcg_swappiness(h, memcg);
		break;
	}
	pthread_mutex_unlock(&h->lock);
	return err;
}

int64_t pmc_cgroup_activate_kmem(int64_t hierarchy, int64_t cgroup)
{
	struct pmc_hierarchy *h;
	int64_t err;
	struct mem_cgroup *memcg = lock_cgroup(hierarchy, cgroup, &h, &err);

	if (!memcg)
		return err;
	err = memcg_activate_kmem(h, memcg);
	pthread_mutex_unlock(&h->lock);
	return err;
}
