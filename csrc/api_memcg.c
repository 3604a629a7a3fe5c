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
#include "table.h"

#define RELAXED memory_order_relaxed

static struct pmc_table hierarchy_table = PMC_TABLE_INIT(struct pmc_hierarchy);

static inline struct pmc_hierarchy *hlookup(int64_t hierarchy)
{
	return pmc_table_lookup(&hierarchy_table, hierarchy);
}

struct pmc_hierarchy *hierarchy_lookup(int64_t hierarchy)
{
	return hlookup(hierarchy);
}

static int check_config(const struct pmc_config *cfg)
{
	if (cfg->version < 1 || cfg->version > 2 || cfg->ncpus < 1 || cfg->ncpus > 1024)
		return -EINVAL;
	if (cfg->charge_batch < 1 || cfg->charge_batch > PMC_PAGE_COUNTER_MAX)
		return -EINVAL;
	if (cfg->reclaim_retries < 0 || cfg->stock_slots < 1 ||
	    cfg->stock_slots > MEMCG_STOCK_MAX_SLOTS)
		return -EINVAL;
	if (cfg->kmem_limit < PMC_KMEM_LIMIT_ENFORCED || cfg->kmem_limit > PMC_KMEM_LIMIT_ABSENT ||
	    cfg->failcnt < PMC_FAILCNT_NONE || cfg->failcnt > PMC_FAILCNT_ALL)
		return -EINVAL;
	/* The uncapped single-slot stock of 3.8 has exactly one slot. */
	if (!cfg->stock_refill_cap && cfg->stock_slots != 1)
		return -EINVAL;
	return 0;
}

int64_t pmc_hierarchy_new(const struct pmc_config *cfg)
{
	struct pmc_hierarchy *h;
	int64_t handle;
	int ret = check_config(cfg);

	if (ret)
		return ret;
	pthread_mutex_lock(&hierarchy_table.lock);
	h = pmc_table_alloc_locked(&hierarchy_table, &handle);
	if (!h) {
		pthread_mutex_unlock(&hierarchy_table.lock);
		return -ENOMEM;
	}
	ret = memcg_hierarchy_init(h, cfg);
	if (ret) {
		memcg_hierarchy_destroy(h);
		pmc_table_publish_locked(&hierarchy_table, handle);
		pmc_table_free_locked(&hierarchy_table, handle);
		pthread_mutex_unlock(&hierarchy_table.lock);
		return ret;
	}
	h->handle = handle;
	pmc_table_publish_locked(&hierarchy_table, handle);
	pthread_mutex_unlock(&hierarchy_table.lock);
	return handle;
}

/* The caller guarantees that no other call on this hierarchy is running. */
int64_t pmc_hierarchy_put(int64_t hierarchy)
{
	struct pmc_hierarchy *h;

	pthread_mutex_lock(&hierarchy_table.lock);
	h = hlookup(hierarchy);
	if (!h) {
		pthread_mutex_unlock(&hierarchy_table.lock);
		return -ESTALE;
	}
	pmc_table_free_locked(&hierarchy_table, hierarchy);
	memcg_hierarchy_destroy(h);
	pthread_mutex_unlock(&hierarchy_table.lock);
	return 0;
}

int64_t pmc_cgroup_root(int64_t hierarchy)
{
	struct pmc_hierarchy *h = hlookup(hierarchy);

	return h ? memcg_handle(h->root) : -ESTALE;
}

/* Find a hierarchy and a cgroup in it, taking h->lock on success. */
static struct mem_cgroup *lock_cgroup(int64_t hierarchy, int64_t cgroup, struct pmc_hierarchy **hp,
				      int64_t *err)
{
	struct pmc_hierarchy *h = hlookup(hierarchy);
	struct mem_cgroup *memcg;

	*err = -ESTALE;
	if (!h)
		return NULL;
	pthread_mutex_lock(&h->lock);
	memcg = memcg_lookup(h, cgroup);
	if (!memcg) {
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

int64_t pmc_cgroup_create(int64_t hierarchy, int64_t parent, const char *name)
{
	struct pmc_hierarchy *h;
	struct mem_cgroup *p;

	/* Arguments first, then the objects: a bad name is EINVAL anywhere. */
	if (!memcg_valid_name(name))
		return -EINVAL;
	p = lock_cgroup(hierarchy, parent, &h, &(int64_t){0});

	if (!p)
		return -ESTALE;
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

static void stat_sum(struct pmc_hierarchy *h, struct mem_cgroup *memcg, int64_t *out)
{
	for (int cpu = 0; cpu < h->cfg.ncpus; cpu++)
		for (int i = 0; i < MEMCG_NR_STATS; i++)
			out[i] += atomic_load_explicit(&memcg->vmstats[cpu].state[i], RELAXED);
}

/* A pre-order walk of the subtree (dying cgroups included), under h->lock. */
static void stat_subtree(struct pmc_hierarchy *h, struct mem_cgroup *root, int64_t *out)
{
	struct mem_cgroup *c = root;

	while (c) {
		stat_sum(h, c, out);
		if (c->first_child) {
			c = c->first_child;
			continue;
		}
		while (c != root && !c->next_sibling)
			c = c->parent;
		c = c == root ? NULL : c->next_sibling;
	}
}

int64_t pmc_cgroup_info(int64_t hierarchy, int64_t cgroup, struct pmc_cgroup_info *info)
{
	struct pmc_hierarchy *h;
	int64_t err;
	struct mem_cgroup *memcg = lock_cgroup(hierarchy, cgroup, &h, &err);

	if (!memcg)
		return err;
	memset(info, 0, sizeof(*info));
	info->handle = memcg_handle(memcg);
	info->parent = memcg->parent ? memcg_handle(memcg->parent) : 0;
	info->id = memcg->id;
	info->state = atomic_load_explicit(&memcg->state, RELAXED);
	info->kmem_active = atomic_load_explicit(&memcg->kmem_active, RELAXED);
	info->depth = memcg->depth;
	info->nr_children = memcg->nr_children;
	info->nr_descendants = memcg->nr_descendants;
	info->nr_dying_descendants = memcg->nr_dying_descendants;
	for (int i = 0; i < MEMCG_NR_EVENTS; i++) {
		info->events[i] = atomic_load_explicit(&memcg->events[i], RELAXED);
		info->events_local[i] = atomic_load_explicit(&memcg->events_local[i], RELAXED);
	}
	/* Statistics are per CPU; a reader sums them, as memory.stat's flush does. */
	stat_sum(h, memcg, info->stat);
	stat_subtree(h, memcg, info->stat_subtree);
	strcpy(info->name, memcg->name);
	pthread_mutex_unlock(&h->lock);
	return 0;
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
	info->nr_children = memcg->nr_children;
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
	for (c = memcg->first_child; c; c = c->next_sibling) {
		if (!memcg_online(c))
			continue;
		if (count < n)
			out[count] = memcg_handle(c);
		count++;
	}
	pthread_mutex_unlock(&h->lock);
	return count;
}

/* Every cgroup, by a walk of the tree sorted by creation (serial) order. */
int64_t pmc_hierarchy_cgroups(int64_t hierarchy, int64_t *out, int64_t n)
{
	struct pmc_hierarchy *h = hlookup(hierarchy);
	int64_t count = 0;

	if (!h)
		return -ESTALE;
	pthread_mutex_lock(&h->lock);
	for (uint64_t serial = 0, next; serial < h->next_serial; serial = next) {
		/* The cgroup with the smallest serial >= serial (ids are not ordered). */
		struct mem_cgroup *best = NULL;

		next = h->next_serial;
		for (uint32_t id = 1; id <= MEMCG_ID_MAX; id++) {
			struct memcg_id_entry *e = atomic_load_explicit(&h->ids[id >> MEMCG_ID_CHUNK_SHIFT],
									memory_order_acquire);
			struct mem_cgroup *m;

			if (!e) {
				id |= MEMCG_ID_CHUNK - 1;
				continue;
			}
			m = atomic_load_explicit(&e[id & (MEMCG_ID_CHUNK - 1)].memcg, RELAXED);
			if (m && m->serial >= serial && (!best || m->serial < best->serial))
				best = m;
		}
		if (!best)
			break;
		if (count < n)
			out[count] = memcg_handle(best);
		count++;
		next = best->serial + 1;
	}
	pthread_mutex_unlock(&h->lock);
	return count;
}

static int check_charge_args(struct pmc_hierarchy *h, int64_t nr_pages, int32_t cpu)
{
	if (nr_pages < 0 || nr_pages > PMC_PAGE_COUNTER_MAX)
		return -EINVAL;
	if (cpu < 0 || cpu >= h->cfg.ncpus)
		return -EINVAL;
	return 0;
}

int64_t pmc_cgroup_try_charge(int64_t hierarchy, int64_t cgroup, int64_t nr_pages,
			      int32_t cpu, uint32_t gfp, int32_t kmem)
{
	struct pmc_hierarchy *h = hlookup(hierarchy);
	int ret;

	if (!h)
		return -ESTALE;
	ret = check_charge_args(h, nr_pages, cpu);
	if (ret)
		return ret;
	if (gfp & ~0x7fu)
		return -EINVAL;
	return memcg_try_charge(h, cgroup, (unsigned long)nr_pages, cpu, gfp, kmem != 0);
}

int64_t pmc_cgroup_uncharge(int64_t hierarchy, int64_t cgroup, int64_t nr_pages,
			    int32_t cpu, int32_t kmem)
{
	struct pmc_hierarchy *h = hlookup(hierarchy);
	struct clamp_log log = { 0 };
	int ret;

	if (!h)
		return -ESTALE;
	ret = check_charge_args(h, nr_pages, cpu);
	if (ret)
		return ret;

	ret = (int)memcg_uncharge(h, cgroup, (unsigned long)nr_pages, cpu, kmem != 0, &log);
	return ret ? ret : (int64_t)log.mask;
}

int64_t pmc_cgroup_uncharge_levels(int64_t hierarchy, int64_t cgroup, int64_t nr_pages,
				   int32_t cpu, int32_t kmem, uint8_t *clamped, int64_t n)
{
	struct pmc_hierarchy *h = hlookup(hierarchy);
	struct clamp_log log = { .levels = clamped, .n = (size_t)n };
	int ret;

	if (!h)
		return -ESTALE;
	ret = check_charge_args(h, nr_pages, cpu);
	if (ret || n < 0)
		return ret ? ret : -EINVAL;
	memset(clamped, 0, (size_t)n * MEMCG_NR_COUNTERS);
	ret = (int)memcg_uncharge(h, cgroup, (unsigned long)nr_pages, cpu, kmem != 0, &log);
	return ret ? ret : (int64_t)log.nr_clamped;
}

int64_t pmc_hierarchy_drain(int64_t hierarchy, int32_t cpu)
{
	struct pmc_hierarchy *h = hlookup(hierarchy);

	if (!h)
		return -ESTALE;
	if (cpu < 0 || cpu >= h->cfg.ncpus)
		return -EINVAL;
	return memcg_drain_cpu(h, cpu);
}

int64_t pmc_hierarchy_drain_all(int64_t hierarchy, int64_t cgroup)
{
	struct pmc_hierarchy *h = hlookup(hierarchy);

	if (!h)
		return -ESTALE;
	return memcg_drain_all(h, cgroup);
}

int64_t pmc_hierarchy_stock(int64_t hierarchy, int32_t cpu, int64_t *cached, uint64_t *nr_pages,
			    int32_t n)
{
	struct pmc_hierarchy *h = hlookup(hierarchy);
	struct memcg_stock_pcp *stock;

	if (!h)
		return -ESTALE;
	if (cpu < 0 || cpu >= h->cfg.ncpus)
		return -EINVAL;
	stock = &h->stock[cpu];
	cpu_lock(h, cpu);
	for (int i = 0; i < (int)stock->nr_slots && i < n; i++) {
		cached[i] = stock->cached[i] ? memcg_handle(stock->cached[i]) : 0;
		nr_pages[i] = stock->nr_pages[i];
	}
	cpu_unlock(h, cpu);
	return stock->nr_slots;
}

int64_t pmc_hierarchy_set_reclaim(int64_t hierarchy, int32_t enabled)
{
	struct pmc_hierarchy *h = hlookup(hierarchy);

	if (!h)
		return -ESTALE;
	atomic_store_explicit(&h->reclaim_hook, enabled != 0, RELAXED);
	return 0;
}

int64_t pmc_cgroup_reclaim(int64_t hierarchy, int64_t cgroup, int64_t nr_pages)
{
	struct pmc_hierarchy *h = hlookup(hierarchy);

	if (!h)
		return -ESTALE;
	if (nr_pages < 0 || nr_pages > PMC_PAGE_COUNTER_MAX)
		return -EINVAL;
	return memcg_reclaim(h, cgroup, (unsigned long)nr_pages);
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
