/*
 * api_page_counter.c - the handle API of standalone page counters.
 *
 * The functions of pymemcg.h that Python calls: each checks its handles
 * and counts, then calls the kernel-shaped code in page_counter.c.  A bad
 * argument is refused before anything changes.
 *
 * Lifetime: a counter holds one reference for its owner (the Python
 * object) and one for each child, so a parent is freed only after its
 * children, whatever order a garbage collector finalises them in.
 */
#include <errno.h>

#include "page_counter.h"
#include "table.h"

struct pmc_pc_obj {
	struct page_counter pc;         /* first: the counter's cache lines lead */
	struct pmc_pc_obj *parent;
	int64_t handle;
	_Atomic int32_t refs;           /* changed under pc_table.lock */
	_Atomic int32_t owned;          /* the owner's reference is still held */
	int32_t depth;
};

static struct pmc_table pc_table = PMC_TABLE_INIT(struct pmc_pc_obj);

static inline struct pmc_pc_obj *lookup(int64_t handle)
{
	return pmc_table_lookup(&pc_table, handle);
}

static inline int bad_count(int64_t nr_pages)
{
	return nr_pages < 0 || nr_pages > PMC_PAGE_COUNTER_MAX;
}

int64_t pmc_page_counter_new(int64_t parent, int64_t max, int track_failcnt, int protection)
{
	struct pmc_pc_obj *obj, *pobj = NULL;
	int64_t handle = -ENOMEM;

	if (bad_count(max))
		return -EINVAL;
	pthread_mutex_lock(&pc_table.lock);
	if (parent && !(pobj = lookup(parent))) {
		handle = -ESTALE;
		goto out;
	}
	obj = pmc_table_alloc_locked(&pc_table, &handle);
	if (!obj) {
		handle = -ENOMEM;
		goto out;
	}
	page_counter_init(&obj->pc, pobj ? &pobj->pc : NULL, protection != 0);
	obj->pc.track_failcnt = track_failcnt != 0;
	atomic_store_explicit(&obj->pc.max, (unsigned long)max, memory_order_relaxed);
	obj->parent = pobj;
	obj->handle = handle;
	atomic_init(&obj->refs, 1);
	atomic_init(&obj->owned, 1);
	obj->depth = pobj ? pobj->depth + 1 : 0;
	if (pobj)
		atomic_fetch_add_explicit(&pobj->refs, 1, memory_order_relaxed);
	pmc_table_publish_locked(&pc_table, handle);
out:
	pthread_mutex_unlock(&pc_table.lock);
	return handle;
}

int64_t pmc_page_counter_put(int64_t counter)
{
	struct pmc_pc_obj *obj;
	int64_t ret = 0;

	pthread_mutex_lock(&pc_table.lock);
	obj = lookup(counter);
	/*
	 * The owner's reference can be dropped once: a second put while
	 * children keep the counter alive must not take one of theirs.
	 */
	if (!obj || !atomic_load_explicit(&obj->owned, memory_order_relaxed)) {
		ret = -ESTALE;
		goto out;
	}
	atomic_store_explicit(&obj->owned, 0, memory_order_relaxed);
	/* Drop a reference; a freed child drops its parent's in turn. */
	while (obj && atomic_fetch_sub_explicit(&obj->refs, 1, memory_order_relaxed) == 1) {
		struct pmc_pc_obj *parent = obj->parent;

		pmc_table_free_locked(&pc_table, obj->handle);
		obj = parent;
	}
out:
	pthread_mutex_unlock(&pc_table.lock);
	return ret;
}

int64_t pmc_page_counter_charge(int64_t counter, int64_t nr_pages)
{
	struct pmc_pc_obj *obj = lookup(counter);

	if (!obj)
		return -ESTALE;
	if (bad_count(nr_pages))
		return -EINVAL;
	page_counter_charge(&obj->pc, (unsigned long)nr_pages);
	return 0;
}

int64_t pmc_page_counter_try_charge(int64_t counter, int64_t nr_pages)
{
	struct pmc_pc_obj *obj = lookup(counter);
	struct page_counter *fail, *c;
	int64_t level = 1;

	if (!obj)
		return -ESTALE;
	if (bad_count(nr_pages))
		return -EINVAL;
	if (page_counter_try_charge(&obj->pc, (unsigned long)nr_pages, &fail))
		return 0;
	/* Name the refusing counter by its distance from the charging one. */
	for (c = &obj->pc; c != fail; c = c->parent)
		level++;
	return level;
}

int64_t pmc_page_counter_uncharge(int64_t counter, int64_t nr_pages)
{
	struct pmc_pc_obj *obj = lookup(counter);

	if (!obj)
		return -ESTALE;
	if (bad_count(nr_pages))
		return -EINVAL;
	return (int64_t)page_counter_uncharge(&obj->pc, (unsigned long)nr_pages);
}

int64_t pmc_page_counter_uncharge_levels(int64_t counter, int64_t nr_pages, uint8_t *clamped,
					 int64_t n)
{
	struct pmc_pc_obj *obj = lookup(counter);

	if (!obj)
		return -ESTALE;
	if (bad_count(nr_pages) || n < 0)
		return -EINVAL;
	return (int64_t)page_counter_uncharge_levels(&obj->pc, (unsigned long)nr_pages, clamped,
						     (size_t)n);
}

int64_t pmc_page_counter_set_max(int64_t counter, int64_t nr_pages)
{
	struct pmc_pc_obj *obj = lookup(counter);

	if (!obj)
		return -ESTALE;
	if (bad_count(nr_pages))
		return -EINVAL;
	return page_counter_set_max(&obj->pc, (unsigned long)nr_pages);
}

/* One body for the three plain setters. */
#define DEFINE_SETTER(name, call)					\
int64_t pmc_page_counter_##name(int64_t counter, int64_t nr_pages)	\
{									\
	struct pmc_pc_obj *obj = lookup(counter);			\
									\
	if (!obj)							\
		return -ESTALE;						\
	if (bad_count(nr_pages))					\
		return -EINVAL;						\
	call(&obj->pc, (unsigned long)nr_pages);			\
	return 0;							\
}

DEFINE_SETTER(set_min, page_counter_set_min)
DEFINE_SETTER(set_low, page_counter_set_low)
DEFINE_SETTER(set_high, page_counter_set_high)

int64_t pmc_page_counter_reset_watermark(int64_t counter)
{
	struct pmc_pc_obj *obj = lookup(counter);

	if (!obj)
		return -ESTALE;
	page_counter_reset_watermark(&obj->pc);
	return 0;
}

/* memory.peak's per-file reset: only the local peak starts again. */
int64_t pmc_page_counter_reset_local_watermark(int64_t counter)
{
	struct pmc_pc_obj *obj = lookup(counter);

	if (!obj)
		return -ESTALE;
	atomic_store_explicit(&obj->pc.local_watermark, page_counter_read(&obj->pc),
			      memory_order_relaxed);
	return 0;
}

int64_t pmc_page_counter_calculate_protection(int64_t root, int64_t counter, int recursive)
{
	struct pmc_pc_obj *robj = lookup(root), *obj = lookup(counter);
	struct page_counter *c;

	if (!robj || !obj)
		return -ESTALE;
	for (c = &obj->pc; c && c != &robj->pc; c = c->parent)
		;
	if (!c)
		return -EINVAL;         /* root is not an ancestor */
	page_counter_calculate_protection(&robj->pc, &obj->pc, recursive != 0);
	return 0;
}

int64_t pmc_page_counter_read(int64_t counter, struct pmc_page_counter_info *info)
{
	struct pmc_pc_obj *obj = lookup(counter);

	if (!obj)
		return -ESTALE;
	page_counter_snapshot(&obj->pc, info);
	info->depth = obj->depth;
	/* Atomic so that this unlocked peek is defined; a statistic only. */
	info->nr_children = atomic_load_explicit(&obj->refs, memory_order_relaxed) -
			    atomic_load_explicit(&obj->owned, memory_order_relaxed);
	return 0;
}

int64_t pmc_page_counter_nr_live(void)
{
	return atomic_load_explicit(&pc_table.nr_live, memory_order_relaxed);
}

int64_t pmc_memparse(const char *buf, uint64_t *bytes)
{
	char *end;

	*bytes = memparse(buf, &end);
	return *end ? -EINVAL : 0;
}

int64_t pmc_page_counter_memparse(const char *buf, const char *max_token, uint64_t *nr_pages)
{
	unsigned long pages;
	int ret = page_counter_memparse(buf, max_token, &pages);

	if (!ret)
		*nr_pages = pages;
	return ret;
}
