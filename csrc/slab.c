/*
 * slab.c - kmem caches, slab pages and objects, and their accounting.
 *
 * The user-space twin of what mm/slub.c, mm/slab_common.c and the slab
 * parts of mm/memcontrol.c do with cgroups, in the three designs a
 * hierarchy can be given (cfg.slab_mode):
 *
 *  - clone (Linux 3.8-5.8): every cgroup gets its own copy of a root cache,
 *    made by queued work the first time the cgroup allocates from it (the
 *    allocations before the work runs are served, uncharged, by the root
 *    cache).  A slab page of a clone only ever holds that cgroup's objects
 *    and is charged whole, as kernel memory, when it is allocated.  A
 *    removed cgroup's clones die: emptied, then destroyed; their pages
 *    keep the cgroup a zombie (5.3-5.8: the caches go to the parent).
 *  - objcg (5.9+): one set of caches; each object is charged its slot plus
 *    the 8-byte objcg pointer, in bytes, through a per-CPU object stock and
 *    its objcg's leftover bytes; removal repoints the objcg to the parent.
 *  - none: nothing charged, the baseline.
 *
 * Layout for scale: a slab page is one allocation holding its free list
 * (two bytes per slot) and its objects' owners (eight bytes per slot); an
 * object is a slot, named by a handle of slot index, slab index and the
 * slab index's generation, so that millions of objects cost ten bytes
 * each plus their page's header.  No per-object generation: a handle of a
 * freed object whose slot was taken again is the new object, as a stale
 * pointer is in the kernel; the Python wrapper remembers its own frees.
 *
 * The objcg era's object stock is in objcg.c, what callers read in
 * api_slab.c, the shared structures in slab.h.
 *
 * Locking.  Every cache, slab and clone is under the hierarchy's slab lock.
 * Order: h->lock, then the slab lock, then a CPU lock.  Charging may call
 * the reclaim callback, so it runs with no lock held: an allocation takes
 * its slot, lets go, charges, and comes back (objcg), or charges a clone's
 * new page first (clone).  Uncharges run under the slab lock and a CPU lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slab.h"

#define RELAXED memory_order_relaxed


/* --- small helpers ----------------------------------------------------------- */

static int fls_u(unsigned int x)
{
	return x ? 32 - __builtin_clz(x) : 0;
}

static int ilog2_u(unsigned int x)
{
	return fls_u(x) - 1;
}

/* The smallest order whose block holds `bytes` (get_order). */
static int get_order_bytes(unsigned long bytes)
{
	int order = 0;

	while (((unsigned long)PMC_PAGE_SIZE << order) < bytes)
		order++;
	return order;
}

/* calc_slab_order: the first order from min_order whose waste is at most 1/fraction. */
static int calc_slab_order(unsigned int size, int min_order, int max_order, unsigned int fraction)
{
	int order;

	for (order = min_order; order <= max_order; order++) {
		unsigned int slab_size = (unsigned int)PMC_PAGE_SIZE << order;

		if (slab_size % size <= slab_size / fraction)
			break;
	}
	return order;
}

/* calculate_order (mm/slub.c, 6.x) with nr_cpus = the hierarchy's CPUs. */
static int calculate_order(unsigned int size, int ncpus)
{
	unsigned int min_objects = 4 * (unsigned int)(fls_u((unsigned int)ncpus) + 1);
	unsigned int max_objects = ((unsigned int)PMC_PAGE_SIZE << SLAB_MAX_ORDER) / size;
	int min_order;

	if (max_objects < 1)
		max_objects = 1;
	if (min_objects > max_objects)
		min_objects = max_objects;
	min_order = get_order_bytes((unsigned long)min_objects * size);
	for (unsigned int fraction = 16; fraction > 1; fraction /= 2) {
		int order = calc_slab_order(size, min_order, SLAB_MAX_ORDER, fraction);

		if (order <= SLAB_MAX_ORDER)
			return order;
	}
	return get_order_bytes(size);
}

static long default_min_partial(unsigned int size)
{
	long m = ilog2_u(size) / 2;

	return m < SLAB_MIN_PARTIAL ? SLAB_MIN_PARTIAL : m > SLAB_MAX_PARTIAL ? SLAB_MAX_PARTIAL : m;
}

/* --- handles ----------------------------------------------------------------- */

struct kmem_cache *cache_lookup(struct slab_state *ss, int64_t handle, int64_t *err)
{
	uint64_t v = (uint64_t)handle;
	uint32_t slot = (uint32_t)(v & ((1u << CACHE_SLOT_BITS) - 1));
	uint32_t gen = (uint32_t)(v >> CACHE_SLOT_BITS) & CACHE_GEN_MASK;

	*err = -EINVAL;
	if (handle <= 0 || v >> MEMCG_HANDLE_TAG_SHIFT != ss->h->tag || !(v & CACHE_KIND))
		return NULL;
	*err = -ESTALE;
	if (!slot || slot >= ss->nr_cache_slots || !ss->caches[slot] || ss->cache_gens[slot] != gen)
		return NULL;
	*err = 0;
	return ss->caches[slot];
}

static int64_t obj_handle(struct pmc_hierarchy *h, const struct slab *slab, unsigned int i,
			  uint16_t gen)
{
	return (int64_t)(((uint64_t)h->tag << MEMCG_HANDLE_TAG_SHIFT) |
			 ((uint64_t)gen << OBJ_GEN_SHIFT) |
			 ((uint64_t)slab->index << OBJ_SLAB_SHIFT) | i);
}

/* A live object: its slab and slot, or NULL with *err (-EINVAL foreign, -ESTALE gone). */
struct slab *obj_lookup(struct slab_state *ss, int64_t handle, unsigned int *slot,
			       int64_t *err)
{
	uint64_t v = (uint64_t)handle;
	uint32_t index = (uint32_t)(v >> OBJ_SLAB_SHIFT) & SLAB_MAX_INDEX;
	uint16_t gen = (uint16_t)((v >> OBJ_GEN_SHIFT) & ((1u << OBJ_GEN_BITS) - 1));
	struct slab_entry *e;

	*err = -EINVAL;
	if (handle <= 0 || v >> MEMCG_HANDLE_TAG_SHIFT != ss->h->tag)
		return NULL;
	*err = -ESTALE;
	if (!index || index >= ss->nr_slab_indices)
		return NULL;
	e = slab_entry(ss, index);
	if (!e || !e->slab || e->gen != gen)
		return NULL;
	*slot = (unsigned int)(v & ((1u << OBJ_SLOT_BITS) - 1));
	if (*slot >= (unsigned int)e->slab->cache->objects ||
	    e->slab->free_next[*slot] != SLOT_USED)
		return NULL;
	*err = 0;
	return e->slab;
}

/* --- slab lists ----------------------------------------------------------------- */

static void list_del_slab(struct kmem_cache *s, struct slab *slab)
{
	struct slab_list_head *l = &s->lists[slab->list];

	if (slab->prev)
		slab->prev->next = slab->next;
	else
		l->head = slab->next;
	if (slab->next)
		slab->next->prev = slab->prev;
	else
		l->tail = slab->prev;
	slab->prev = slab->next = NULL;
	l->nr--;
}

static void list_add_slab(struct kmem_cache *s, struct slab *slab, int list, bool tail)
{
	struct slab_list_head *l = &s->lists[list];

	slab->list = (uint8_t)list;
	if (tail) {
		slab->prev = l->tail;
		slab->next = NULL;
		if (l->tail)
			l->tail->next = slab;
		else
			l->head = slab;
		l->tail = slab;
	} else {
		slab->next = l->head;
		slab->prev = NULL;
		if (l->head)
			l->head->prev = slab;
		else
			l->tail = slab;
		l->head = slab;
	}
	l->nr++;
}

static void list_move_slab(struct kmem_cache *s, struct slab *slab, int list, bool tail)
{
	list_del_slab(s, slab);
	list_add_slab(s, slab, list, tail);
}

/* --- slab pages -------------------------------------------------------------------- */

/*
 * Free slab indices: a binary min-heap, so that a new slab takes the lowest
 * free index (as the model's heapq does) in O(log n).
 */
static uint32_t heap_pop_u32(uint32_t *a, uint32_t *np)
{
	uint32_t top = a[0], n = --*np, i = 0;
	uint32_t v = a[n];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && a[c + 1] < a[c])
			c++;
		if (a[c] >= v)
			break;
		a[i] = a[c];
		i = c;
	}
	if (n)
		a[i] = v;
	return top;
}

static void heap_push_u32(uint32_t *a, uint32_t *np, uint32_t v)
{
	uint32_t i = (*np)++;

	while (i > 0 && a[(i - 1) / 2] > v) {
		a[i] = a[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	a[i] = v;
}

static int slab_index_alloc(struct slab_state *ss, uint32_t *index)
{
	if (ss->nr_free_slabs) {
		*index = heap_pop_u32(ss->free_slabs, &ss->nr_free_slabs);
		return 0;
	}
	if (ss->nr_slab_indices > SLAB_MAX_INDEX)
		return -ENOMEM;
	if (!ss->chunks[ss->nr_slab_indices / SLAB_CHUNK]) {
		struct slab_entry *chunk = calloc(SLAB_CHUNK, sizeof(*chunk));

		if (!chunk)
			return -ENOMEM;
		for (unsigned int i = 0; i < SLAB_CHUNK; i++)
			chunk[i].gen = 1;
		ss->chunks[ss->nr_slab_indices / SLAB_CHUNK] = chunk;
	}
	*index = ss->nr_slab_indices++;
	return 0;
}

static int slab_index_free(struct slab_state *ss, uint32_t index)
{
	if (ss->nr_free_slabs == ss->cap_free_slabs) {
		uint32_t cap = ss->cap_free_slabs ? 2 * ss->cap_free_slabs : 1024;
		uint32_t *p = realloc(ss->free_slabs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		ss->free_slabs = p;
		ss->cap_free_slabs = cap;
	}
	heap_push_u32(ss->free_slabs, &ss->nr_free_slabs, index);
	return 0;
}

static struct slab *slab_new(struct slab_state *ss, struct kmem_cache *s)
{
	size_t n = (size_t)s->objects;
	struct slab *slab = malloc(sizeof(*slab) + n * (sizeof(int64_t) + sizeof(uint16_t)));
	uint32_t index;

	if (!slab)
		return NULL;
	if (slab_index_alloc(ss, &index)) {
		free(slab);
		return NULL;
	}
	memset(slab, 0, sizeof(*slab));
	slab->owner = (int64_t *)(slab + 1);
	slab->free_next = (uint16_t *)(slab->owner + n);
	for (size_t i = 0; i < n; i++)
		slab->free_next[i] = (uint16_t)(i + 1 < n ? i + 1 : SLOT_NONE);
	slab->free_head = 0;
	slab->cache = s;
	slab->index = index;
	slab_entry(ss, index)->slab = slab;
	s->nr_slabs++;
	return slab;
}

static void slab_release(struct slab_state *ss, struct slab *slab)
{
	struct slab_entry *e = slab_entry(ss, slab->index);

	e->slab = NULL;
	e->gen = (uint16_t)(e->gen % ((1u << OBJ_GEN_BITS) - 1) + 1);   /* 1..2047 */
	slab_index_free(ss, slab->index);        /* no room: the index is never reused */
	slab->cache->nr_slabs--;
	free(slab);
}

/* --- charging a clone's pages --------------------------------------------------------- */

/* A clone's slab page goes: its statistic and its charge, from the clone's cgroup now. */
static void slab_uncharge_page(struct pmc_hierarchy *h, struct slab *slab, int cpu)
{
	struct kmem_cache *s = slab->cache;
	unsigned long pages = 1ul << s->order;

	cpu_lock(h, cpu);
	mod_memcg_state(s->memcg, cpu, cache_stat(s), -(long)(pages * PMC_PAGE_SIZE));
	if (slab->charged && memcg_is_root(s->memcg)) {
		/*
		 * Reparented (5.3+) up to the root, whose counters hold what
		 * its children charged: straight back to them (the root never
		 * goes into a stock).
		 */
		mod_memcg_state(s->memcg, cpu, MEMCG_STAT_KERNEL, -(long)pages);
		mod_memcg_state(s->memcg, cpu, MEMCG_STAT_KMEM_OWN, -(long)pages);
		if (h->cfg.version == 1)
			counter_uncharge(&s->memcg->counter[MEMCG_KMEM], MEMCG_KMEM, pages, NULL);
		memcg_uncharge_counters(s->memcg, pages, NULL);
	} else if (slab->charged) {
		memcg_uncharge_locked(h, s->memcg, pages, cpu, true, NULL);
	}
	cpu_unlock(h, cpu);
}

/* --- clones ----------------------------------------------------------------------------- */

/* Off its cgroup's list of clones. */
static void memcg_clone_unlink(struct kmem_cache *c)
{
	struct mem_cgroup *memcg = c->memcg;

	if (c->prev_of_memcg)
		c->prev_of_memcg->next_of_memcg = c->next_of_memcg;
	else
		memcg->cold->clones_head = c->next_of_memcg;
	if (c->next_of_memcg)
		c->next_of_memcg->prev_of_memcg = c->prev_of_memcg;
	else
		memcg->cold->clones_tail = c->prev_of_memcg;
	c->next_of_memcg = c->prev_of_memcg = NULL;
}

/* Off its root's list and its cgroup's: destroyed. */
static void clone_unlink(struct kmem_cache *c)
{
	struct kmem_cache *root = c->root;

	if (c->prev_clone)
		c->prev_clone->next_clone = c->next_clone;
	else
		root->clones_head = c->next_clone;
	if (c->next_clone)
		c->next_clone->prev_clone = c->prev_clone;
	else
		root->clones_tail = c->prev_clone;
	memcg_clone_unlink(c);
}

static void memcg_clone_append(struct mem_cgroup *memcg, struct kmem_cache *c)
{
	c->memcg = memcg;
	c->next_of_memcg = NULL;
	c->prev_of_memcg = memcg->cold->clones_tail;
	if (memcg->cold->clones_tail)
		memcg->cold->clones_tail->next_of_memcg = c;
	else
		memcg->cold->clones_head = c;
	memcg->cold->clones_tail = c;
}

static void cache_free(struct slab_state *ss, struct kmem_cache *s)
{
	ss->caches[s->slot] = NULL;
	ss->cache_gens[s->slot] = (ss->cache_gens[s->slot] + 1) & CACHE_GEN_MASK;
	if (!ss->cache_gens[s->slot])
		ss->cache_gens[s->slot] = 1;
	heap_push_u32(ss->free_cache_slots, &ss->nr_free_cache_slots, s->slot);
	free(s->by_id);
	free(s->queued);
	free(s->name);
	free(s);
}

/*
 * Drop a cgroup reference under the slab lock: on a CPU held, since a free
 * waits for every CPU (memcg_free_dying) and the put may make it freeable.
 * cpu < 0: the caller holds h->lock, which keeps frees out already.
 */
static void memcg_put_slab(struct pmc_hierarchy *h, struct mem_cgroup *memcg, int cpu)
{
	if (cpu < 0) {
		memcg_put(h, memcg);
		return;
	}
	cpu_lock(h, cpu);
	memcg_put(h, memcg);
	cpu_unlock(h, cpu);
}

/* A dying clone with no slab left is destroyed: its cgroup reference goes. */
static void clone_maybe_destroy(struct slab_state *ss, struct kmem_cache *c, int cpu)
{
	struct mem_cgroup *memcg = c->memcg;

	if (!c->dying || c->nr_slabs || c->inflight)
		return;
	clone_unlink(c);
	cache_free(ss, c);
	memcg_put_slab(ss->h, memcg, cpu);
}

/* --- cache slots -------------------------------------------------------------------------- */

static struct kmem_cache *cache_alloc(struct slab_state *ss)
{
	struct kmem_cache *s;
	uint32_t slot;

	if (!ss->nr_free_cache_slots && ss->nr_cache_slots >= ss->cap_cache_slots) {
		uint32_t cap = ss->cap_cache_slots ? 2 * ss->cap_cache_slots : 64;
		struct kmem_cache **c;
		uint32_t *g, *f;

		if (cap > (1u << CACHE_SLOT_BITS))
			return NULL;
		c = realloc(ss->caches, cap * sizeof(*c));
		if (!c)
			return NULL;
		ss->caches = c;
		g = realloc(ss->cache_gens, cap * sizeof(*g));
		if (!g)
			return NULL;
		ss->cache_gens = g;
		f = realloc(ss->free_cache_slots, cap * sizeof(*f));
		if (!f)
			return NULL;
		ss->free_cache_slots = f;
		ss->cap_cache_slots = cap;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (ss->nr_free_cache_slots) {         /* the lowest free slot, as the model's heap */
		slot = heap_pop_u32(ss->free_cache_slots, &ss->nr_free_cache_slots);
	} else {
		slot = ss->nr_cache_slots++;
		ss->cache_gens[slot] = 1;
	}
	s->ss = ss;
	s->slot = slot;
	s->gen = ss->cache_gens[slot];
	ss->caches[slot] = s;
	return s;
}

static bool cache_name_ok(const char *name)
{
	size_t n = 0;

	for (; name[n]; n++)
		if ((unsigned char)name[n] < 0x21 || (unsigned char)name[n] > 0x7e ||
		    n >= PMC_CACHE_NAME_MAX)
			return false;
	return n > 0;
}

/* --- the charge of an allocation ------------------------------------------------------------ */

/* Who allocates: the cgroup, its task if a task does it, and what the era charges. */
struct slab_owner {
	struct mem_cgroup *memcg;       /* referenced (css) for the call */
	struct pmc_task *task;          /* pinned, or NULL */
	int64_t handle;                 /* memcg's */
	bool accounted;
};

/*
 * Charge kernel pages to the owner's cgroup as Task.kmem_alloc does (the
 * task's context where a task allocates): 0, > 0 the cgroup over its
 * limit, -errno.  No lock held.  *charged: pages are charged (3.8 may have
 * bypassed them to the root: nothing counted).
 */
static int64_t charge_pages(struct pmc_hierarchy *h, struct slab_owner *o, unsigned long nr,
			    int cpu, unsigned int gfp, bool *charged)
{
	bool bypassed = false;
	int64_t ret = memcg_charge_task(h, o->handle, o->task, nr, cpu, gfp, true, &bypassed,
					charged);

	if (ret == -ECANCELED && *charged) {
		/* memory.high's reclaim failed after the charge: nothing stays charged. */
		cpu_lock(h, cpu);
		memcg_uncharge_locked(h, o->memcg, nr, cpu, true, NULL);
		cpu_unlock(h, cpu);
		*charged = false;
	}
	return ret;
}

/* The task was killed while it charged: what it charged goes back (pmc_task_kmem_charge's rule). */
static bool owner_killed(struct pmc_hierarchy *h, struct slab_owner *o)
{
	bool alive;

	if (!o->task)
		return false;
	pthread_mutex_lock(&h->lock);
	alive = atomic_load_explicit(&o->task->alive, RELAXED);
	pthread_mutex_unlock(&h->lock);
	return !alive;
}

/*
 * charge_pages, then pmc_task_kmem_charge's rule for a task the OOM killer
 * chose meanwhile: what the call charged goes back (as an uncharge call
 * does) and the allocation fails with -ESRCH, whether the charge went
 * through or was refused.
 */
static int64_t charge_owner(struct pmc_hierarchy *h, struct slab_owner *o, unsigned long nr,
			    int cpu, unsigned int gfp, bool *charged)
{
	int64_t ret = charge_pages(h, o, nr, cpu, gfp, charged);

	if (ret < 0 || !owner_killed(h, o))
		return ret;
	if (ret == 0) {
		cpu_lock(h, cpu);
		memcg_uncharge_locked(h, o->memcg, nr, cpu, true, NULL);
		cpu_unlock(h, cpu);
	}
	*charged = false;
	return -ESRCH;
}

/* obj_cgroup_charge_account for one object: 0 or the charge's result. */
static int64_t obj_charge_account(struct pmc_hierarchy *h, struct slab_owner *o, int cpu,
				  unsigned int gfp, long size, int idx)
{
	unsigned long nr_pages = (unsigned long)size >> PMC_PAGE_SHIFT;
	unsigned long rest = (unsigned long)size & (PMC_PAGE_SIZE - 1);
	bool charged;
	int64_t ret;

	cpu_lock(h, cpu);
	if (consume_obj_stock(h, o->memcg, cpu, (unsigned long)size, idx)) {
		cpu_unlock(h, cpu);
		return 0;
	}
	cpu_unlock(h, cpu);
	if (rest)
		nr_pages++;
	ret = charge_owner(h, o, nr_pages, cpu, gfp, &charged);
	if (ret)
		return ret;
	cpu_lock(h, cpu);
	refill_obj_stock(h, o->memcg, cpu, rest ? PMC_PAGE_SIZE - rest : 0, false, idx, size);
	cpu_unlock(h, cpu);
	return 0;
}

/* --- taking and giving back slots -------------------------------------------------------------- */

/* A slot from a partial or kept-empty slab of s, or -1 (a new slab is needed). */
static struct slab *slab_with_room(struct kmem_cache *s)
{
	struct slab *slab = s->lists[SLAB_PARTIAL].head;

	if (slab)
		return slab;
	slab = s->lists[SLAB_EMPTY].head;
	if (slab)
		list_move_slab(s, slab, SLAB_PARTIAL, false);
	return slab;
}

static int64_t slab_take(struct pmc_hierarchy *h, struct kmem_cache *s, struct slab *slab,
			 int64_t owner)
{
	unsigned int i = slab->free_head;

	slab->free_head = slab->free_next[i];
	slab->free_next[i] = SLOT_USED;
	slab->owner[i] = owner;
	slab->inuse++;
	s->active_objs++;
	if (slab->free_head == SLOT_NONE)
		list_move_slab(s, slab, SLAB_FULL, false);
	return obj_handle(h, slab, i, slab_entry(h->slab, slab->index)->gen);
}

/*
 * A slot goes back to its slab (the plain free, no uncharge).  A slab left
 * empty is kept while the cache has fewer than min_partial partial slabs
 * (itself counted where it was partial), else it is freed; a clone's page
 * is uncharged then (CPU `cpu`) and a dying clone left without slabs goes.
 */
static void slab_put(struct pmc_hierarchy *h, struct slab *slab, unsigned int i, int cpu)
{
	struct slab_state *ss = h->slab;
	struct kmem_cache *s = slab->cache;
	bool was_full = slab->list == SLAB_FULL;
	long nr;

	slab->free_next[i] = slab->free_head;
	slab->free_head = (uint16_t)i;
	slab->inuse--;
	s->active_objs--;
	if (slab->inuse) {
		if (was_full)
			list_move_slab(s, slab, SLAB_PARTIAL, true);
		return;
	}
	nr = s->lists[SLAB_PARTIAL].nr + s->lists[SLAB_EMPTY].nr;
	if (nr >= cache_min_partial(s)) {
		list_del_slab(s, slab);
		if (s->root)
			slab_uncharge_page(h, slab, cpu);
		slab_release(ss, slab);
		if (s->root)
			clone_maybe_destroy(ss, s, cpu);
		return;
	}
	list_move_slab(s, slab, SLAB_EMPTY, false);
}

/* --- pending work (clone mode) ---------------------------------------------------------------- */

static char *clone_name(struct pmc_hierarchy *h, struct kmem_cache *root, struct mem_cgroup *memcg)
{
	unsigned long long id;
	size_t len;
	char *name;

	switch (h->cfg.slab_clone_name) {
	case PMC_SLAB_NAME_KMEMCG_ID:
		id = (unsigned long long)(memcg->cold->kmemcg_id < 0 ? 0 : memcg->cold->kmemcg_id);
		break;
	case PMC_SLAB_NAME_CSS_ID:
		id = memcg->id;
		break;
	default:
		id = memcg->cold->serial;
		break;
	}
	len = strlen(root->name) + memcg->cold->name_len + 32;
	name = malloc(len);
	if (name)
		snprintf(name, len, "%s(%llu:%s)", root->name, id, memcg->cold->name);
	return name;
}

static int root_by_id_grow(struct kmem_cache *root, uint32_t id)
{
	uint32_t len = root->by_id_len ? root->by_id_len : 64;
	struct kmem_cache **p;
	struct mem_cgroup **q;

	while (len <= id)
		len *= 2;
	p = realloc(root->by_id, len * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + root->by_id_len, 0, (len - root->by_id_len) * sizeof(*p));
	root->by_id = p;
	q = realloc(root->queued, len * sizeof(*q));
	if (!q)
		return -ENOMEM;
	memset(q + root->by_id_len, 0, (len - root->by_id_len) * sizeof(*q));
	root->queued = q;
	root->by_id_len = len;
	return 0;
}

/* memcg_create_kmem_cache: the clone of root for memcg (online, no clone yet). */
static int clone_create(struct slab_state *ss, struct kmem_cache *root, struct mem_cgroup *memcg)
{
	struct kmem_cache *c;

	if (memcg->id >= root->by_id_len && root_by_id_grow(root, memcg->id))
		return -ENOMEM;
	c = cache_alloc(ss);
	if (!c)
		return -ENOMEM;
	c->name = clone_name(ss->h, root, memcg);
	if (!c->name) {
		cache_free(ss, c);
		return -ENOMEM;
	}
	c->object_size = root->object_size;
	c->size = root->size;
	c->align = root->align;
	c->order = root->order;
	c->objects = root->objects;
	c->flags = root->flags;
	c->min_partial = root->min_partial;
	c->root = root;
	c->origin = memcg_handle(memcg);
	c->prev_clone = root->clones_tail;
	if (root->clones_tail)
		root->clones_tail->next_clone = c;
	else
		root->clones_head = c;
	root->clones_tail = c;
	atomic_fetch_add_explicit(&memcg->refs, 1, RELAXED);   /* the clone's css reference */
	memcg_clone_append(memcg, c);
	root->by_id[memcg->id] = c;
	return 0;
}

static struct kmem_cache *clone_of(struct kmem_cache *root, struct mem_cgroup *memcg)
{
	struct kmem_cache *c = memcg->id < root->by_id_len ? root->by_id[memcg->id] : NULL;

	return c && c->memcg == memcg && !c->dying ? c : NULL;
}

/* Run the whole queue (the work items), under the slab lock: the clones made. */
long run_pending(struct slab_state *ss, int cpu)
{
	long made = 0;

	while (ss->pend_head) {
		struct pending *p = ss->pend_head;

		ss->pend_head = p->next;
		if (!ss->pend_head)
			ss->pend_tail = &ss->pend_head;
		ss->nr_pending--;
		if (p->root->queued[p->memcg->id] == p->memcg)
			p->root->queued[p->memcg->id] = NULL;
		if (memcg_online(p->memcg) && !clone_of(p->root, p->memcg) &&
		    !clone_create(ss, p->root, p->memcg))
			made++;
		memcg_put_slab(ss->h, p->memcg, cpu);
		free(p);
	}
	return made;
}

/*
 * memcg_schedule_kmem_cache_create: queue once per (root, memcg), found in
 * O(1) by the memcg id (a cgroup removed since keeps its item, which will
 * be dropped, and a new cgroup with its id is queued anew); the allocation
 * goes on from the root cache.
 */
static void pending_queue(struct slab_state *ss, struct kmem_cache *root, struct mem_cgroup *memcg)
{
	struct pending *p;

	if (memcg->id >= root->by_id_len && root_by_id_grow(root, memcg->id))
		return;
	if (root->queued[memcg->id] == memcg)
		return;
	p = malloc(sizeof(*p));
	if (!p)
		return;                 /* GFP_NOWAIT work item: the kernel gives up too */
	root->queued[memcg->id] = memcg;
	p->memcg = memcg;
	p->root = root;
	p->due = ss->alloc_seq + (uint64_t)ss->h->cfg.slab_work_delay;
	p->next = NULL;
	atomic_fetch_add_explicit(&memcg->refs, 1, RELAXED);
	*ss->pend_tail = p;
	ss->pend_tail = &p->next;
	ss->nr_pending++;
}

/* --- allocation -------------------------------------------------------------------------------- */

/*
 * Let go of the owner.  The cgroup reference is dropped on a CPU held (a
 * free waits for every CPU, so the cgroup is still there for the push to
 * the free queue); the task under h->lock.
 */
static void owner_put(struct pmc_hierarchy *h, struct slab_owner *o, int cpu)
{
	if (o->memcg) {
		cpu_lock(h, cpu);
		memcg_put(h, o->memcg);
		cpu_unlock(h, cpu);
	}
	if (o->task) {
		pthread_mutex_lock(&h->lock);
		task_unpin_locked(o->task);
		pthread_mutex_unlock(&h->lock);
	}
}

static void owner_ref(struct pmc_hierarchy *h, struct slab_owner *o, unsigned int gfp,
		      uint32_t flags)
{
	atomic_fetch_add_explicit(&o->memcg->refs, 1, RELAXED);
	o->handle = memcg_handle(o->memcg);
	o->accounted = memcg_kmem_accounted(h, o->memcg, 1, gfp, flags);
}

/*
 * Find the owner, entered with the CPU lock held, returning without it: an
 * online cgroup, found lock-free as the charge path finds it (the CPU lock
 * keeps it from being freed while its reference is taken), or a live
 * task's cgroup, under h->lock.
 */
static int64_t owner_get(struct pmc_hierarchy *h, int cpu, int64_t owner, unsigned int gfp,
			 uint32_t flags, struct slab_owner *o)
{
	int64_t err = 0;

	memset(o, 0, sizeof(*o));
	if (owner > 0 && ((uint64_t)owner & MEMCG_HANDLE_KIND_TASK)) {
		cpu_unlock(h, cpu);
		pthread_mutex_lock(&h->lock);
		o->task = task_pin(h, owner, &err);
		if (o->task) {
			o->memcg = o->task->memcg;
			owner_ref(h, o, gfp, flags);
		}
		pthread_mutex_unlock(&h->lock);
		return err;
	}
	o->memcg = memcg_lookup(h, owner);
	if (!o->memcg)
		err = memcg_lookup_error(h, owner);
	else if (!memcg_online(o->memcg))
		err = -ESTALE;
	if (err)
		o->memcg = NULL;
	else
		owner_ref(h, o, gfp, flags);
	cpu_unlock(h, cpu);
	return err;
}

/* The clone mode's allocation: the slab lock held on entry and on return. */
static int64_t alloc_clone_mode(struct pmc_hierarchy *h, struct kmem_cache *root,
				struct slab_owner *o, int cpu, unsigned int gfp, int64_t *over)
{
	struct slab_state *ss = h->slab;
	struct kmem_cache *s = root;
	struct slab *slab;
	bool charged;
	int64_t ret;

	if (o->accounted) {
		s = clone_of(root, o->memcg);
		if (!s) {
			pending_queue(ss, root, o->memcg);
			s = root;
		}
	}
	slab = slab_with_room(s);
	if (slab)
		return slab_take(h, s, slab, o->handle);
	if (s == root) {
		slab = slab_new(ss, s);
		if (!slab)
			return -ENOMEM;
		list_add_slab(s, slab, SLAB_PARTIAL, false);
		return slab_take(h, s, slab, o->handle);
	}
	/* A new page for the clone: charged first, with no lock held. */
	s->inflight++;
	pthread_mutex_unlock(&ss->lock);
	ret = charge_owner(h, o, 1ul << s->order, cpu, gfp, &charged);
	pthread_mutex_lock(&ss->lock);
	s->inflight--;
	if (ret == 0 && (s->dying || s->memcg != o->memcg)) {
		/* A reclaim hook removed the cgroup meanwhile: the page goes back. */
		cpu_lock(h, cpu);
		memcg_uncharge_locked(h, o->memcg, 1ul << s->order, cpu, true, NULL);
		cpu_unlock(h, cpu);
		ret = -ESTALE;
	}
	if (ret == 0) {
		slab = slab_new(ss, s);
		if (slab) {
			slab->charged = charged;
			cpu_lock(h, cpu);
			mod_memcg_state(s->memcg, cpu, cache_stat(s),
					(long)((1ul << s->order) * PMC_PAGE_SIZE));
			cpu_unlock(h, cpu);
			list_add_slab(s, slab, SLAB_PARTIAL, false);
			return slab_take(h, s, slab, o->handle);
		}
		if (charged) {
			cpu_lock(h, cpu);
			memcg_uncharge_locked(h, s->memcg, 1ul << s->order, cpu, true, NULL);
			cpu_unlock(h, cpu);
		}
		ret = -ENOMEM;
	}
	clone_maybe_destroy(ss, s, cpu);
	if (ret > 0) {
		if (over)
			*over = ret;
		ret = -ENOMEM;
	}
	return ret;
}

/* The objcg mode's allocation (slab lock held on entry and return): the slot first, then the charge. */
static int64_t alloc_objcg_mode(struct pmc_hierarchy *h, struct kmem_cache *root,
				struct slab_owner *o, int cpu, unsigned int gfp, int64_t *over)
{
	struct slab_state *ss = h->slab;
	struct slab *slab = slab_with_room(root);
	unsigned int i;
	int64_t obj, ret, err;

	if (!slab) {
		slab = slab_new(ss, root);
		if (!slab)
			return -ENOMEM;
		list_add_slab(root, slab, SLAB_PARTIAL, false);
	}
	/* An object no objcg charged belongs to nobody: the root, as SlabObject.cgroup says. */
	obj = slab_take(h, root, slab, o->accounted ? o->handle : memcg_handle(h->root));
	if (!o->accounted)
		return obj;
	/* The object's objcg reference, taken before the charge: offline cannot release under us. */
	objcg_get(o->memcg);
	pthread_mutex_unlock(&ss->lock);
	ret = obj_charge_account(h, o, cpu, gfp, obj_full_size(root), cache_stat(root));
	pthread_mutex_lock(&ss->lock);
	slab = obj_lookup(ss, obj, &i, &err);   /* nobody else can free it: still ours */
	if (ret == 0) {
		slab->owner[i] |= (int64_t)OWNER_CHARGED;
		return obj;
	}
	/* memcg_alloc_abort_single: the object goes back without its hooks. */
	slab_put(h, slab, i, cpu);
	cpu_lock(h, cpu);
	objcg_put(h, o->memcg, cpu);
	cpu_unlock(h, cpu);
	if (ret > 0) {
		if (over)
			*over = ret;
		ret = -ENOMEM;
	}
	return ret;
}

static int64_t alloc_one(struct pmc_hierarchy *h, struct kmem_cache *root, struct slab_owner *o,
			 int cpu, unsigned int gfp, int64_t *over)
{
	struct slab_state *ss = h->slab;

	switch (h->cfg.slab_mode) {
	case PMC_SLAB_CLONE:
		ss->alloc_seq++;
		if (h->cfg.slab_work_delay && ss->pend_head && ss->pend_head->due <= ss->alloc_seq)
			run_pending(ss, cpu);
		return alloc_clone_mode(h, root, o, cpu, gfp, over);
	case PMC_SLAB_OBJCG:
		return alloc_objcg_mode(h, root, o, cpu, gfp, over);
	default: {
		struct slab *slab = slab_with_room(root);

		if (!slab) {
			slab = slab_new(ss, root);
			if (!slab)
				return -ENOMEM;
			list_add_slab(root, slab, SLAB_PARTIAL, false);
		}
		return slab_take(h, root, slab, o->handle);
	}
	}
}

/*
 * The entry of the object calls: the hierarchy checked and held (close
 * waits for it) under the CPU's lock, which is still held on return.
 */
static struct pmc_hierarchy *slab_enter(int64_t hierarchy, int32_t cpu, struct hier_frame *frame,
					int64_t *err)
{
	struct pmc_hierarchy *h = NULL;
	int r = hier_cpu_lock(hierarchy, cpu, &h);

	*err = r;
	if (r)
		return NULL;
	hier_hold(h, frame);
	return h;
}

/* The entry of a call: the hierarchy held (close waits for it), the CPU checked. */
struct pmc_hierarchy *slab_call_begin(int64_t hierarchy, int32_t cpu,
					     struct hier_frame *frame, int64_t *err)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);

	*err = hier_lock_error();
	if (!h)
		return NULL;
	hier_hold(h, frame);
	pthread_mutex_unlock(&h->lock);
	*err = 0;
	if (cpu < 0 || cpu >= h->cfg.ncpus)
		*err = -EINVAL;
	return h;
}

void slab_call_end(struct pmc_hierarchy *h, struct hier_frame *frame)
{
	finish_call(h);
	hier_unhold(h, frame);
}

static int64_t alloc_args_ok(int64_t n, unsigned int gfp, uint32_t flags)
{
	if (n < 0 || (gfp & ~(uint32_t)PMC_GFP_ALL) || (flags & ~(uint32_t)PMC_KMEM_INTERRUPT))
		return -EINVAL;
	return 0;
}

int64_t pmc_slab_alloc_bulk(int64_t hierarchy, int64_t cache, int64_t owner, int64_t n,
			    int32_t cpu, uint32_t gfp, uint32_t flags, int64_t *out,
			    int64_t *err, int64_t *over)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	struct slab_owner o;
	struct kmem_cache *root;
	int64_t ret, made = 0;

	if (err)
		*err = 0;
	if (over)
		*over = 0;
	ret = alloc_args_ok(n, gfp, flags);
	if (ret || (n && !out))
		return ret ? ret : -EINVAL;
	h = slab_enter(hierarchy, cpu, &frame, &ret);
	if (!h)
		return ret;
	/*
	 * SLAB_ACCOUNT is the cache's: checked with the cache below.  Root
	 * caches live as long as the hierarchy, so the flag read before the
	 * look-up only matters for a handle that turns out bad.
	 */
	ret = owner_get(h, cpu, owner, gfp, flags, &o);
	if (ret) {
		owner_put(h, &o, cpu);
		goto end;
	}
	pthread_mutex_lock(&h->slab->lock);
	root = cache_lookup(h->slab, cache, &ret);
	if (!root || root->root) {
		pthread_mutex_unlock(&h->slab->lock);
		owner_put(h, &o, cpu);
		ret = root ? -EINVAL : ret;     /* a clone is not allocated from directly */
		goto end;
	}
	if (root->flags & PMC_CACHE_ACCOUNT && !o.accounted)
		o.accounted = memcg_kmem_accounted(h, o.memcg, 1, gfp,
						   flags | PMC_KMEM_ACCOUNTED_CACHE);   /* SLAB_ACCOUNT */
	for (; made < n; made++) {
		int64_t obj = alloc_one(h, root, &o, cpu, gfp, over);

		if (obj < 0) {
			if (err)
				*err = obj;
			break;
		}
		out[made] = obj;
	}
	pthread_mutex_unlock(&h->slab->lock);
	owner_put(h, &o, cpu);
	ret = made;
end:
	slab_call_end(h, &frame);
	return ret;
}

int64_t pmc_slab_alloc(int64_t hierarchy, int64_t cache, int64_t owner, int32_t cpu,
		       uint32_t gfp, uint32_t flags, int64_t *over)
{
	int64_t obj = 0, err = 0;
	int64_t ret = pmc_slab_alloc_bulk(hierarchy, cache, owner, 1, cpu, gfp, flags, &obj, &err,
					  over);

	if (ret < 0)
		return ret;
	return ret == 1 ? obj : err;
}

/* --- free ---------------------------------------------------------------------------------------- */

/* Free one checked object: its objcg charge first (the free hook), then its slot. */
static void free_one(struct pmc_hierarchy *h, struct slab *slab, unsigned int i, int cpu)
{
	int64_t owner = slab->owner[i];

	if (owner & (int64_t)OWNER_CHARGED) {
		struct kmem_cache *s = slab->cache;
		struct mem_cgroup *objcg;

		cpu_lock(h, cpu);
		objcg = memcg_lookup(h, owner & ~(int64_t)OWNER_CHARGED);
		if (objcg) {
			refill_obj_stock(h, objcg, cpu, (unsigned long)obj_full_size(s), true,
					 cache_stat(s), -obj_full_size(s));
			objcg_put(h, objcg, cpu);
		}
		cpu_unlock(h, cpu);
	}
	slab_put(h, slab, i, cpu);
}

int64_t pmc_slab_free_bulk(int64_t hierarchy, const int64_t *objects, int64_t n, int32_t cpu,
			   int64_t *bad)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	struct slab_state *ss;
	int64_t ret, k;

	if (bad)
		*bad = -1;
	if (n < 0 || (n && !objects))
		return -EINVAL;
	h = slab_enter(hierarchy, cpu, &frame, &ret);
	if (!h)
		return ret;
	cpu_unlock(h, cpu);
	ss = h->slab;
	pthread_mutex_lock(&ss->lock);
	/* Check them all first, marking each: a second mention of one is caught. */
	for (k = 0; k < n; k++) {
		unsigned int i;
		struct slab *slab = obj_lookup(ss, objects[k], &i, &ret);

		if (!slab)
			break;
		slab->free_next[i] = SLOT_FREEING;
	}
	if (k < n) {
		if (bad)
			*bad = k;
		while (k-- > 0) {               /* undo the marks */
			unsigned int i = (unsigned int)((uint64_t)objects[k] & ((1u << OBJ_SLOT_BITS) - 1));
			uint32_t index = (uint32_t)((uint64_t)objects[k] >> OBJ_SLAB_SHIFT) & SLAB_MAX_INDEX;

			slab_entry(ss, index)->slab->free_next[i] = SLOT_USED;
		}
		pthread_mutex_unlock(&ss->lock);
		goto end;
	}
	for (k = 0; k < n; k++) {
		unsigned int i = (unsigned int)((uint64_t)objects[k] & ((1u << OBJ_SLOT_BITS) - 1));
		uint32_t index = (uint32_t)((uint64_t)objects[k] >> OBJ_SLAB_SHIFT) & SLAB_MAX_INDEX;

		free_one(h, slab_entry(ss, index)->slab, i, cpu);
	}
	pthread_mutex_unlock(&ss->lock);
	ret = 0;
end:
	if (h)
		slab_call_end(h, &frame);
	return ret;
}

int64_t pmc_slab_free(int64_t hierarchy, int64_t object, int32_t cpu)
{
	return pmc_slab_free_bulk(hierarchy, &object, 1, cpu, NULL);
}

/* --- caches --------------------------------------------------------------------------------------- */

int64_t pmc_kmem_cache_create(int64_t hierarchy, const char *name, int32_t object_size,
			      int32_t align, uint32_t flags, int32_t order, int64_t min_partial)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	struct kmem_cache *s;
	int size, objects;
	int64_t ret;

	if (!name || !cache_name_ok(name) || object_size < 1 ||
	    object_size > (PMC_PAGE_SIZE << SLAB_MAX_ORDER) || align < 8 || align > PMC_PAGE_SIZE ||
	    (align & (align - 1)) || (flags & ~(uint32_t)PMC_CACHE_FLAGS_ALL) ||
	    order > SLAB_MAX_ORDER || min_partial > (1 << 20))
		return -EINVAL;
	size = (object_size + 7) & ~7;
	size = (size + align - 1) & ~(align - 1);
	h = slab_call_begin(hierarchy, 0, &frame, &ret);
	if (!h || ret)
		goto end;
	if (order < 0)
		order = calculate_order((unsigned int)size, h->cfg.ncpus);
	objects = (PMC_PAGE_SIZE << order) / size;
	ret = -EINVAL;
	if (objects < 1)
		goto end;
	pthread_mutex_lock(&h->slab->lock);
	ret = -ENOMEM;
	s = cache_alloc(h->slab);
	if (s && !(s->name = malloc(strlen(name) + 1))) {
		cache_free(h->slab, s);
		s = NULL;
	}
	if (s) {
		memcpy(s->name, name, strlen(name) + 1);
		s->object_size = object_size;
		s->size = size;
		s->align = align;
		s->order = order;
		s->objects = objects;
		s->flags = flags;
		s->min_partial = min_partial < 0 ? default_min_partial((unsigned int)size) : min_partial;
		if (h->slab->roots_tail)
			h->slab->roots_tail->next_root = s;
		else
			h->slab->roots_head = s;
		h->slab->roots_tail = s;
		ret = cache_handle(s);
	}
	pthread_mutex_unlock(&h->slab->lock);
end:
	if (h)
		slab_call_end(h, &frame);
	return ret;
}

/* --- the cgroup's side ---------------------------------------------------------------------------- */

static void reparent_stat(struct mem_cgroup *from, struct mem_cgroup *to, int idx, long nr)
{
	mod_memcg_state(from, 0, (enum memcg_stat_idx)idx, -nr);
	mod_memcg_state(to, 0, (enum memcg_stat_idx)idx, nr);
}

/*
 * A cgroup goes offline (under h->lock, before its stocks are drained).  Clone mode:
 * its clones die (no new allocations: it is offline already), their kept
 * empty slabs go, and with 5.3's reparenting they pass to the parent,
 * whose charge they are now (this level forgets their pages).  Objcg
 * mode: the objcg points to the parent by itself (memcg_reparented_to);
 * with no reference left, its leftover bytes go now.
 */
void slab_offline(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	struct slab_state *ss = h->slab;
	struct kmem_cache *c, *next;

	if (h->cfg.slab_mode == PMC_SLAB_OBJCG) {
		if (!atomic_load_explicit(&memcg->cold->objcg_refs, memory_order_acquire)) {
			cpu_lock(h, 0);
			objcg_release(h, memcg, 0);
			cpu_unlock(h, 0);
		}
		return;
	}
	pthread_mutex_lock(&ss->lock);
	for (c = memcg->cold->clones_head; c; c = next) {
		next = c->next_of_memcg;
		c->dying = true;
		if (c->root->by_id_len > memcg->id && c->root->by_id[memcg->id] == c)
			c->root->by_id[memcg->id] = NULL;
		while (c->lists[SLAB_EMPTY].head) {
			struct slab *slab = c->lists[SLAB_EMPTY].head;

			list_del_slab(c, slab);
			slab_uncharge_page(h, slab, 0);
			slab_release(ss, slab);
		}
		if (h->cfg.slab_reparent) {
			struct mem_cgroup *parent = memcg->parent;
			unsigned long pages = 0;

			for (int l = 0; l < SLAB_NR_LISTS; l++)
				for (struct slab *slab = c->lists[l].head; slab; slab = slab->next)
					if (slab->charged)
						pages += 1ul << c->order;
			if (pages) {
				page_counter_cancel(&memcg->counter[MEMCG_MEMORY], pages);
				if (h->cfg.memsw)
					page_counter_cancel(&memcg->counter[MEMCG_MEMSW], pages);
				if (h->cfg.version == 1)
					page_counter_cancel(&memcg->counter[MEMCG_KMEM], pages);
			}
			/*
			 * Their statistics go with them (the kernel leaves them and
			 * uncharges the parent's later: the same sums, and
			 * memory.stat only shows sums), on CPU 0, which we hold.
			 */
			cpu_lock(h, 0);
			reparent_stat(memcg, parent, MEMCG_STAT_KERNEL, (long)pages);
			reparent_stat(memcg, parent, MEMCG_STAT_KMEM_OWN, (long)pages);
			reparent_stat(memcg, parent, cache_stat(c),
				      (long)(c->nr_slabs << c->order) * PMC_PAGE_SIZE);
			cpu_unlock(h, 0);
			memcg_clone_unlink(c);
			atomic_fetch_add_explicit(&parent->refs, 1, RELAXED);
			memcg_clone_append(parent, c);
			memcg_put(h, memcg);
		}
	}
	/* Destroy the ones left empty, wherever they went. */
	for (c = memcg->cold->clones_head; c; c = next) {
		next = c->next_of_memcg;
		clone_maybe_destroy(ss, c, -1);
	}
	if (h->cfg.slab_reparent) {
		for (c = memcg->parent->cold->clones_head; c; c = next) {
			next = c->next_of_memcg;
			clone_maybe_destroy(ss, c, -1);
		}
	}
	pthread_mutex_unlock(&ss->lock);
}

/* kmem accounting starts for a cgroup (under h->lock): its kmem cache id. */
void slab_kmem_activated(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	struct slab_state *ss = h->slab;

	if (memcg_is_root(memcg) || memcg->cold->kmemcg_id >= 0)
		return;
	/*
	 * The lowest free id, as the kernel's ida hands them out: the summary
	 * of full words first, so that creating n cgroups costs O(n), not the
	 * scan of every full word each time (quadratic in the tree's size).
	 */
	for (int s = 0; s < 65536 / 64 / 64; s++) {
		int w, b;

		if (ss->kmemcg_ids_full[s] == ~0ull)
			continue;
		w = s * 64 + __builtin_ctzll(~ss->kmemcg_ids_full[s]);
		b = __builtin_ctzll(~ss->kmemcg_ids[w]);
		ss->kmemcg_ids[w] |= 1ull << b;
		if (ss->kmemcg_ids[w] == ~0ull)
			ss->kmemcg_ids_full[s] |= 1ull << (w % 64);
		memcg->cold->kmemcg_id = w * 64 + b;
		return;
	}
}

/* With its memcg id (offline since 4.8, at free before), under h->lock. */
void slab_release_kmemcg_id(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	int w = memcg->cold->kmemcg_id / 64;

	if (memcg->cold->kmemcg_id < 0)
		return;
	h->slab->kmemcg_ids[w] &= ~(1ull << (memcg->cold->kmemcg_id % 64));
	h->slab->kmemcg_ids_full[w / 64] &= ~(1ull << (w % 64));
	memcg->cold->kmemcg_id = -1;
}

/* --- a hierarchy's life --------------------------------------------------------------------------- */

int slab_init(struct pmc_hierarchy *h)
{
	struct slab_state *ss = calloc(1, sizeof(*ss));

	if (!ss)
		return -ENOMEM;
	pthread_mutex_init(&ss->lock, NULL);
	ss->h = h;
	ss->nr_slab_indices = 1;        /* index 0 never names a slab */
	ss->nr_cache_slots = 1;         /* nor slot 0 a cache */
	ss->pend_tail = &ss->pend_head;
	h->slab = ss;
	return 0;
}

/* Everything goes with the hierarchy (nobody uses it any more). */
void slab_destroy(struct pmc_hierarchy *h)
{
	struct slab_state *ss = h->slab;

	if (!ss)
		return;
	for (uint32_t k = 1; k < ss->nr_slab_indices; k++) {
		struct slab_entry *e = slab_entry(ss, k);

		if (e && e->slab)
			free(e->slab);
	}
	for (size_t k = 0; k < sizeof(ss->chunks) / sizeof(ss->chunks[0]); k++)
		free(ss->chunks[k]);
	for (uint32_t k = 1; ss->caches && k < ss->nr_cache_slots; k++) {
		if (ss->caches[k]) {
			free(ss->caches[k]->by_id);
			free(ss->caches[k]->queued);
			free(ss->caches[k]->name);
			free(ss->caches[k]);
		}
	}
	while (ss->pend_head) {
		struct pending *p = ss->pend_head;

		ss->pend_head = p->next;
		free(p);
	}
	free(ss->caches);
	free(ss->cache_gens);
	free(ss->free_cache_slots);
	free(ss->free_slabs);
	pthread_mutex_destroy(&ss->lock);
	free(ss);
	h->slab = NULL;
}
