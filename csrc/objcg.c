/*
 * objcg.c - the objcg era's object stock (Linux 5.9+; the 6.18 code).
 *
 * An objcg is the cgroup that charged (a shell once freed): objects charged
 * through it and CPU object stocks caching it hold it (objcg_refs); its
 * leftover bytes (nr_charged_bytes) go back as whole pages when the last
 * reference of an offline objcg goes.  Each CPU's object stock caches one
 * objcg: its bytes serve objects' charges (consume_obj_stock) and take
 * their uncharges (refill_obj_stock), giving whole pages back past a page;
 * the slab statistics it holds back flush past a page too.  All of it on
 * the CPU's lock, which is the object stock's lock as well as the page
 * stock's.
 */
#include <errno.h>

#include "slab.h"

#define RELAXED memory_order_relaxed

/*
 * Uncharge kernel pages of `memcg` on a CPU already held: the existing
 * kernel-page uncharge (through the page stock where the era does so), or,
 * `direct`, straight from the counters (drain_obj_stock, obj_cgroup_release).
 */
void kmem_uncharge_pages(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
				unsigned long nr_pages, int cpu, bool direct)
{
	struct mem_cgroup *to;

	if (!direct) {
		memcg_uncharge_locked(h, memcg, nr_pages, cpu, true, NULL);
		return;
	}
	if (memcg_is_root(memcg) || !nr_pages || !atomic_load_explicit(&memcg->kmem_active, RELAXED))
		return;
	to = h->cfg.objcg ? memcg_reparented_to(memcg) : memcg;
	mod_memcg_state(to, cpu, MEMCG_STAT_KERNEL, -(long)nr_pages);
	mod_memcg_state(memcg, cpu, MEMCG_STAT_KMEM_OWN, -(long)nr_pages);
	if (h->cfg.version == 1)
		counter_uncharge(&to->counter[MEMCG_KMEM], MEMCG_KMEM, nr_pages, NULL);
	memcg_uncharge_counters(to, nr_pages, NULL);
	if (!memcg_online(memcg))
		memcg_free_queue(h, memcg);
}

void objcg_get(struct mem_cgroup *objcg)
{
	atomic_fetch_add_explicit(&objcg->cold->objcg_refs, 1, RELAXED);
}

/*
 * obj_cgroup_release: the last reference of an offline objcg went.  Its
 * leftover bytes are whole pages by now (every object gone, no stock
 * holding any): they go straight back to the counters.
 */
void objcg_release(struct pmc_hierarchy *h, struct mem_cgroup *objcg, int cpu)
{
	long bytes = atomic_exchange_explicit(&objcg->cold->nr_charged_bytes, 0, RELAXED);

	/* A sub-page rest (the kernel warns) stays. */
	atomic_fetch_add_explicit(&objcg->cold->nr_charged_bytes, bytes & (PMC_PAGE_SIZE - 1), RELAXED);
	if (bytes >> PMC_PAGE_SHIFT)
		kmem_uncharge_pages(h, objcg, (unsigned long)(bytes >> PMC_PAGE_SHIFT), cpu, true);
	memcg_free_queue(h, objcg);
}

/* On a CPU held. */
void objcg_put(struct pmc_hierarchy *h, struct mem_cgroup *objcg, int cpu)
{
	if (atomic_fetch_sub_explicit(&objcg->cold->objcg_refs, 1, memory_order_acq_rel) == 1 &&
	    !memcg_online(objcg))
		objcg_release(h, objcg, cpu);
}

/* The stat a flush or an overflow of the stock's cache lands on: where the objcg points now. */
static void objcg_mod_stat(struct mem_cgroup *objcg, int cpu, int idx, long nr)
{
	mod_memcg_state(memcg_reparented_to(objcg), cpu, (enum memcg_stat_idx)idx, nr);
}

/* __account_obj_stock: the first delta is kept whole; later ones flush past a page. */
static void account_obj_stock(struct memcg_stock_pcp *stock, struct mem_cgroup *objcg, int cpu,
			      int idx, long nr)
{
	long *b = &stock->slab_b[idx == MEMCG_STAT_SLAB_RECLAIMABLE_B ? 0 : 1];

	if (!nr)
		return;
	if (!*b) {
		*b = nr;
		return;
	}
	*b += nr;
	if (*b > PMC_PAGE_SIZE || *b < -PMC_PAGE_SIZE) {
		objcg_mod_stat(objcg, cpu, idx, *b);
		*b = 0;
	}
}

/* drain_obj_stock, on the CPU held: whole pages straight back, the rest to the objcg. */
void drain_obj_stock(struct pmc_hierarchy *h, int cpu)
{
	struct memcg_stock_pcp *stock = stock_of(h, cpu);
	struct mem_cgroup *old = stock->objcg;

	if (!old)
		return;
	if (stock->obj_nr_bytes) {
		unsigned long pages = stock->obj_nr_bytes >> PMC_PAGE_SHIFT;

		if (pages)
			kmem_uncharge_pages(h, old, pages, cpu, true);
		atomic_fetch_add_explicit(&old->cold->nr_charged_bytes,
					  (long)(stock->obj_nr_bytes & (PMC_PAGE_SIZE - 1)), RELAXED);
		stock->obj_nr_bytes = 0;
	}
	if (stock->slab_b[0])
		objcg_mod_stat(old, cpu, MEMCG_STAT_SLAB_RECLAIMABLE_B, stock->slab_b[0]);
	if (stock->slab_b[1])
		objcg_mod_stat(old, cpu, MEMCG_STAT_SLAB_UNRECLAIMABLE_B, stock->slab_b[1]);
	stock->slab_b[0] = stock->slab_b[1] = 0;
	stock->objcg = NULL;
	objcg_put(h, old, cpu);
}

/* obj_stock_flush_required: the cached objcg points into root's subtree (no byte check). */
bool obj_stock_flush_required(struct pmc_hierarchy *h, int cpu, struct mem_cgroup *root)
{
	struct mem_cgroup *objcg = stock_of(h, cpu)->objcg;

	return objcg && memcg_is_descendant(memcg_reparented_to(objcg), root);
}

/* refill_obj_stock, on the CPU held. */
void refill_obj_stock(struct pmc_hierarchy *h, struct mem_cgroup *objcg, int cpu,
			     unsigned long nr_bytes, bool allow_uncharge, int idx, long nr_acct)
{
	struct memcg_stock_pcp *stock = stock_of(h, cpu);
	unsigned long pages = 0;

	if (stock->objcg != objcg) {
		drain_obj_stock(h, cpu);
		objcg_get(objcg);
		stock->objcg = objcg;
		stock->obj_nr_bytes =
			(unsigned long)atomic_exchange_explicit(&objcg->cold->nr_charged_bytes, 0, RELAXED);
		allow_uncharge = true;
	}
	stock->obj_nr_bytes += nr_bytes;
	account_obj_stock(stock, objcg, cpu, idx, nr_acct);
	if (allow_uncharge && stock->obj_nr_bytes > PMC_PAGE_SIZE) {
		pages = stock->obj_nr_bytes >> PMC_PAGE_SHIFT;
		stock->obj_nr_bytes &= PMC_PAGE_SIZE - 1;
	}
	if (pages)
		kmem_uncharge_pages(h, objcg, pages, cpu, false);
}

/* consume_obj_stock, on the CPU held. */
bool consume_obj_stock(struct pmc_hierarchy *h, struct mem_cgroup *objcg, int cpu,
			      unsigned long nr_bytes, int idx)
{
	struct memcg_stock_pcp *stock = stock_of(h, cpu);

	if (stock->objcg != objcg || stock->obj_nr_bytes < nr_bytes)
		return false;
	stock->obj_nr_bytes -= nr_bytes;
	account_obj_stock(stock, objcg, cpu, idx, (long)nr_bytes);
	return true;
}

int64_t pmc_obj_stock(int64_t hierarchy, int32_t cpu, struct pmc_obj_stock_info *info)
{
	struct pmc_hierarchy *h;
	struct memcg_stock_pcp *stock;
	int64_t ret;

	if (!info)
		return -EINVAL;
	ret = hier_cpu_lock(hierarchy, cpu, &h);
	if (ret)
		return ret;
	stock = stock_of(h, cpu);
	info->cached = stock->objcg ? memcg_handle(stock->objcg) : 0;
	info->nr_bytes = (int64_t)stock->obj_nr_bytes;
	info->slab_reclaimable_b = stock->slab_b[0];
	info->slab_unreclaimable_b = stock->slab_b[1];
	cpu_unlock(h, cpu);
	return 0;
}

int64_t pmc_objcg_info(int64_t hierarchy, int64_t cgroup, int64_t *nr_charged_bytes,
		       int64_t *refs)
{
	struct pmc_hierarchy *h;
	struct mem_cgroup *memcg;
	int64_t ret;

	ret = hier_cpu_lock(hierarchy, 0, &h);
	if (ret)
		return ret;
	memcg = memcg_lookup(h, cgroup);
	if (!memcg) {
		ret = memcg_lookup_error(h, cgroup);
	} else {
		if (nr_charged_bytes)
			*nr_charged_bytes = atomic_load_explicit(&memcg->cold->nr_charged_bytes, RELAXED);
		if (refs)
			*refs = atomic_load_explicit(&memcg->cold->objcg_refs, RELAXED);
	}
	cpu_unlock(h, 0);
	return ret;
}
