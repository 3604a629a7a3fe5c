/*
 * memcg.c - the cgroup tree: ids and handles, create and remove, the free
 * of dying cgroups, listings, events.
 *
 * Follows mm/memcontrol.c's css_alloc/css_online/css_offline/css_free and
 * kernel/cgroup's mkdir/rmdir for what pymemcg models.  The charge path is
 * charge.c, reclaim and memory.high reclaim.c.  See memcg.h for how threads
 * and CPUs are kept apart.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "memcg.h"

#define RELAXED memory_order_relaxed
#define ACQUIRE memory_order_acquire
#define RELEASE memory_order_release

/* --- ids and handles ------------------------------------------------------ */

int64_t memcg_handle(struct mem_cgroup *memcg)
{
	uint32_t gen = atomic_load_explicit(&memcg->gen, RELAXED);

	return (int64_t)(((uint64_t)memcg->h->tag << MEMCG_HANDLE_TAG_SHIFT) |
			 ((uint64_t)gen << MEMCG_HANDLE_SLOT_BITS) | memcg->slot);
}

/*
 * The block of a handle slot, or NULL where its chunk was never allocated.
 * Acquire: pairs with the release that publishes a chunk (memcg_slot_alloc),
 * so its blocks' zeroed generations are seen.
 */
static struct mem_cgroup *memcg_slot_block(struct pmc_hierarchy *h, uint32_t slot)
{
	struct memcg_hot_dir *dir;
	char *chunk;

	dir = atomic_load_explicit(&h->hot_dir[slot >> (MEMCG_HOT_CHUNK_SHIFT + MEMCG_HOT_DIR_SHIFT)],
				   ACQUIRE);
	if (!dir)
		return NULL;
	chunk = atomic_load_explicit(&dir->chunk[(slot >> MEMCG_HOT_CHUNK_SHIFT) & (MEMCG_HOT_DIR - 1)],
				     ACQUIRE);
	if (!chunk)
		return NULL;
	return (struct mem_cgroup *)(chunk + (size_t)(slot & (MEMCG_HOT_CHUNK - 1)) * h->hot_size);
}

/*
 * Callers hold a CPU lock or h->lock, which keeps what they find alive
 * until they let go (see memcg_free_dying).
 */
struct mem_cgroup *memcg_lookup(struct pmc_hierarchy *h, int64_t cgroup)
{
	uint64_t v = (uint64_t)cgroup;

	uint32_t gen = (uint32_t)(v >> MEMCG_HANDLE_SLOT_BITS) & MEMCG_HANDLE_GEN_MASK;
	struct mem_cgroup *memcg;

	if (cgroup <= 0 || v >> MEMCG_HANDLE_TAG_SHIFT != h->tag || (v & MEMCG_HANDLE_KIND_TASK) ||
	    !(gen & 1))
		return NULL;
	memcg = memcg_slot_block(h, (uint32_t)(v & MEMCG_HANDLE_SLOT_MASK));
	/*
	 * Acquire: pairs with memcg_publish's release, so whoever finds this
	 * generation finds the cgroup initialised.  An unpublish racing with
	 * us (memcg_doom) may still let us match: the caller's lock keeps the
	 * cgroup alive until it lets go (memcg_free_dying syncs every CPU).
	 */
	if (!memcg || atomic_load_explicit(&memcg->gen, ACQUIRE) != gen)
		return NULL;
	return memcg;
}

/* The cgroup holding an id, under h->lock (or NULL). */
struct mem_cgroup *memcg_by_id(struct pmc_hierarchy *h, uint32_t id)
{
	return idmap_get(&h->ids, id);
}

/*
 * Why memcg_lookup found nothing: -EINVAL for what was never a handle of
 * this hierarchy (0, negative, another hierarchy's tag), -ESTALE for a
 * cgroup of this hierarchy that is gone.
 */
int memcg_lookup_error(struct pmc_hierarchy *h, int64_t cgroup)
{
	if (cgroup <= 0 || (uint64_t)cgroup >> MEMCG_HANDLE_TAG_SHIFT != h->tag ||
	    ((uint64_t)cgroup & MEMCG_HANDLE_KIND_TASK))
		return -EINVAL;
	return -ESTALE;
}

/*
 * A new cgroup's memcg id (lowest free, as xa_alloc hands them out) and its
 * handle slot.  The id errno when none is left is the era's: idr's -ENOSPC
 * (3.8), xa_alloc's -EBUSY (current kernels).
 */
static int memcg_alloc_ids(struct pmc_hierarchy *h, uint32_t *id, uint32_t *slot)
{
	int ret = idmap_alloc(&h->ids, id);

	if (ret)
		return ret == -ENOSPC ? -h->cfg.id_errno : ret;
	/* h->slots only hands out the indices: the blocks are the table (memcg_slot_block). */
	ret = idmap_alloc(&h->slots, slot);
	if (ret) {
		idmap_free(&h->ids, *id);
		return ret;
	}
	return 0;
}

static void memcg_free_ids(struct pmc_hierarchy *h, uint32_t id, uint32_t slot)
{
	idmap_free(&h->ids, id);
	idmap_free(&h->slots, slot);
}

/* Publish under h->lock: from here on the handle (and the id) find the cgroup. */
static void memcg_publish(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	idmap_publish(&h->ids, memcg->id, memcg);
	memcg->id_held = true;
	uint32_t gen = (atomic_load_explicit(&memcg->gen, RELAXED) + 1) & MEMCG_HANDLE_GEN_MASK;

	/* Even -> odd (0 is never a live generation); release: see memcg_lookup. */
	atomic_store_explicit(&memcg->gen, gen ? gen : 1, RELEASE);
}

/* Give the memcg id back (at offline since 4.8, at free before). */
static void memcg_release_id(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	if (!memcg->id_held)
		return;
	idmap_unpublish(&h->ids, memcg->id);
	idmap_free(&h->ids, memcg->id);
	memcg->id_held = false;
	slab_release_kmemcg_id(h, memcg);
}

/* --- the tree ---------------------------------------------------------------- */

bool memcg_is_descendant(struct mem_cgroup *memcg, struct mem_cgroup *root)
{
	for (; memcg; memcg = memcg->parent)
		if (memcg == root)
			return true;
	return false;
}

static bool counter_tracks_failcnt(const struct pmc_config *cfg, int idx)
{
	if (cfg->failcnt == PMC_FAILCNT_ALL)
		return true;
	return cfg->failcnt == PMC_FAILCNT_MEMORY && idx == MEMCG_MEMORY;
}

/*
 * The page counters a cgroup of this configuration has: v1 memory, memsw,
 * kmem and tcpmem; v2 memory and swap.  v2 has no memsw, so its swap
 * counter is never charged: it is allocated without its protection line.
 */
static int memcg_nr_counters(const struct pmc_config *cfg)
{
	return cfg->version == 1 ? MEMCG_NR_COUNTERS : 2;
}

static bool memcg_counter_hot_only(const struct pmc_config *cfg, int idx)
{
	return cfg->version == 2 && idx == MEMCG_MEMSW && !cfg->memsw;
}

static size_t memcg_size(const struct pmc_config *cfg)
{
	int n = memcg_nr_counters(cfg);
	size_t size = offsetof(struct mem_cgroup, counter) + (size_t)n * sizeof(struct page_counter);

	if (memcg_counter_hot_only(cfg, n - 1))
		size -= sizeof(struct page_counter) - PAGE_COUNTER_HOT_SIZE;
	/* Blocks keep the hot line's 128-byte alignment. */
	return (size + MEMCG_HOT_ALIGN - 1) & ~(size_t)(MEMCG_HOT_ALIGN - 1);
}

/*
 * The block of a new cgroup's slot, its chunk allocated if this is the
 * chunk's first slot (under h->lock).  Release: a lock-free reader that
 * finds the chunk sees its zeroed blocks (memcg_slot_block).
 */
static struct mem_cgroup *memcg_slot_alloc(struct pmc_hierarchy *h, uint32_t slot)
{
	_Atomic(struct memcg_hot_dir *) *dirp =
		&h->hot_dir[slot >> (MEMCG_HOT_CHUNK_SHIFT + MEMCG_HOT_DIR_SHIFT)];
	struct memcg_hot_dir *dir = atomic_load_explicit(dirp, RELAXED);
	_Atomic(char *) *chunkp;
	char *chunk;

	if (!dir) {
		dir = calloc(1, sizeof(*dir));
		if (!dir)
			return NULL;
		atomic_store_explicit(dirp, dir, RELEASE);
	}
	chunkp = &dir->chunk[(slot >> MEMCG_HOT_CHUNK_SHIFT) & (MEMCG_HOT_DIR - 1)];
	chunk = atomic_load_explicit(chunkp, RELAXED);
	if (!chunk) {
		size_t bytes = MEMCG_HOT_CHUNK * h->hot_size;

		chunk = aligned_alloc(MEMCG_HOT_ALIGN, bytes);
		if (!chunk)
			return NULL;
		memset(chunk, 0, bytes);
		atomic_store_explicit(chunkp, chunk, RELEASE);
	}
	return (struct mem_cgroup *)(chunk + (size_t)(slot & (MEMCG_HOT_CHUNK - 1)) * h->hot_size);
}

static void memcg_hot_destroy(struct pmc_hierarchy *h)
{
	for (uint32_t d = 0; d < MEMCG_HOT_DIRS; d++) {
		struct memcg_hot_dir *dir = atomic_load_explicit(&h->hot_dir[d], RELAXED);

		if (!dir)
			continue;
		for (uint32_t c = 0; c < MEMCG_HOT_DIR; c++)
			free(atomic_load_explicit(&dir->chunk[c], RELAXED));
		free(dir);
		atomic_store_explicit(&h->hot_dir[d], NULL, RELAXED);
	}
}

/*
 * Zero a block for its new cgroup, all but the generation: the slot's
 * generations go on from it, and stale handles' look-ups read it
 * meanwhile (they match no even generation, nor the next odd one).
 */
static void memcg_block_clear(struct mem_cgroup *memcg, size_t size)
{
	size_t g = offsetof(struct mem_cgroup, gen), after = g + sizeof(memcg->gen);

	memset(memcg, 0, g);
	memset((char *)memcg + after, 0, size - after);
}

/* The cgroup in its slot's block (memcg_alloc_ids gave it the slot), under h->lock. */
static struct mem_cgroup *memcg_alloc(struct pmc_hierarchy *h, struct mem_cgroup *parent,
				      uint32_t id, uint32_t slot, const char *name)
{
	size_t name_len = strlen(name);
	struct memcg_cold *cold = calloc(1, sizeof(*cold) + name_len + 1);
	struct mem_cgroup *memcg = cold ? memcg_slot_alloc(h, slot) : NULL;

	if (!memcg) {
		free(cold);
		return NULL;
	}
	memcg_block_clear(memcg, h->hot_size);
	memcg->cold = cold;
	cold->name_len = (uint32_t)name_len;
	memcpy(cold->name, name, name_len + 1);
	memcg->id = id;
	memcg->slot = slot;
	for (int i = 0; i < memcg_nr_counters(&h->cfg); i++) {
		struct page_counter *pc = &memcg->counter[i], *ppc = parent ? &parent->counter[i] : NULL;

		if (memcg_counter_hot_only(&h->cfg, i)) {
			page_counter_init_hot_only(pc, ppc);
			continue;
		}
		/* Only the v2 memory counter tracks protection (protection_support). */
		page_counter_init(pc, ppc, h->cfg.version == 2 && i == MEMCG_MEMORY);
		pc->track_failcnt = h->cfg.version == 1 && counter_tracks_failcnt(&h->cfg, i);
	}
	memcg->h = h;
	memcg->parent = parent;
	memcg->depth = parent ? parent->depth + 1 : 0;
	memcg->cold->kmemcg_id = -1;
	memcg->cold->serial = ++h->next_serial;
	atomic_init(&memcg->state, MEMCG_ONLINE);
	/* mem_cgroup_css_alloc: the v1 tunables come from the parent. */
	if (parent) {
		atomic_init(&memcg->cold->oom_kill_disable,
			    atomic_load_explicit(&parent->cold->oom_kill_disable, RELAXED));
		atomic_init(&memcg->cold->swappiness, (int16_t)memcg_swappiness(h, parent));
	}
	/* Kernels since 4.6 account kmem everywhere; 3.8 inherited activation. */
	atomic_init(&memcg->kmem_active, !h->cfg.kmem_on_limit ||
		    (parent && atomic_load_explicit(&parent->kmem_active, RELAXED)));
	return memcg;
}

static void memcg_free(struct mem_cgroup *memcg)
{
	free(memcg->cold->ext);
	free(memcg->cold);
	free(atomic_load_explicit(&memcg->ev, RELAXED));
	/* The block stays its slot's, with its (even) generation. */
}

const struct memcg_ext memcg_no_ext;

int memcg_ext_prepare(struct mem_cgroup *memcg)
{
	for (; memcg && !memcg->cold->ext; memcg = memcg->parent) {
		memcg->cold->ext = calloc(1, sizeof(*memcg->cold->ext));
		if (!memcg->cold->ext)
			return -ENOMEM;
	}
	return 0;
}

/* The creation-order list of every cgroup (listings walk it), under h->lock. */
static void link_all(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	memcg->cold->all_prev = h->all_tail;
	if (h->all_tail)
		h->all_tail->cold->all_next = memcg;
	else
		h->all_head = memcg;
	h->all_tail = memcg;
}

static void unlink_all(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	if (memcg->cold->all_prev)
		memcg->cold->all_prev->cold->all_next = memcg->cold->all_next;
	else
		h->all_head = memcg->cold->all_next;
	if (memcg->cold->all_next)
		memcg->cold->all_next->cold->all_prev = memcg->cold->all_prev;
	else
		h->all_tail = memcg->cold->all_prev;
}

static void link_child(struct mem_cgroup *parent, struct mem_cgroup *memcg)
{
	memcg->cold->prev_sibling = parent->cold->last_child;
	if (parent->cold->last_child)
		parent->cold->last_child->cold->next_sibling = memcg;
	else
		parent->cold->first_child = memcg;
	parent->cold->last_child = memcg;
	parent->cold->nr_children++;
}

static void unlink_child(struct mem_cgroup *parent, struct mem_cgroup *memcg)
{
	if (memcg->cold->prev_sibling)
		memcg->cold->prev_sibling->cold->next_sibling = memcg->cold->next_sibling;
	else
		parent->cold->first_child = memcg->cold->next_sibling;
	if (memcg->cold->next_sibling)
		memcg->cold->next_sibling->cold->prev_sibling = memcg->cold->prev_sibling;
	else
		parent->cold->last_child = memcg->cold->prev_sibling;
	parent->cold->nr_children--;
}

/*
 * The directory entries: online children are found by (parent, name) in a
 * hash table that doubles when it holds more names than buckets, so that a
 * look-up stays O(1) from one cgroup to 65,535.
 */
static uint64_t name_hash(struct mem_cgroup *parent, const char *name)
{
	uint64_t hash = 0xcbf29ce484222325ull ^ parent->slot;   /* FNV-1a */

	for (; *name; name++)
		hash = (hash ^ (unsigned char)*name) * 0x100000001b3ull;
	return hash;
}

static struct mem_cgroup **name_bucket(struct pmc_hierarchy *h, struct mem_cgroup *parent,
				       const char *name)
{
	return &h->names[name_hash(parent, name) & h->names_mask];
}

static int names_init(struct pmc_hierarchy *h)
{
	h->names = calloc(MEMCG_NAME_BUCKETS_MIN, sizeof(*h->names));
	if (!h->names)
		return -ENOMEM;
	h->names_mask = MEMCG_NAME_BUCKETS_MIN - 1;
	return 0;
}

/* Twice the buckets; if that memory is not there, the chains just grow longer. */
static void names_grow(struct pmc_hierarchy *h)
{
	size_t nr = (h->names_mask + 1) * 2;
	struct mem_cgroup **old = h->names, **grown = calloc(nr, sizeof(*grown));

	if (!grown)
		return;
	h->names = grown;
	h->names_mask = nr - 1;
	for (size_t i = 0; i < nr / 2; i++) {
		for (struct mem_cgroup *c = old[i], *next; c; c = next) {
			struct mem_cgroup **bucket = name_bucket(h, c->parent, c->cold->name);

			next = c->cold->next_name;
			c->cold->next_name = *bucket;
			*bucket = c;
		}
	}
	free(old);
}

static void hash_name(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	struct mem_cgroup **bucket;

	/* Two names a bucket on average at most: chains stay short, buckets cost 4-8 B a cgroup. */
	if (h->nr_names > 2 * h->names_mask + 1)
		names_grow(h);
	bucket = name_bucket(h, memcg->parent, memcg->cold->name);
	memcg->cold->next_name = *bucket;
	*bucket = memcg;
	h->nr_names++;
}

static struct mem_cgroup *find_child(struct pmc_hierarchy *h, struct mem_cgroup *parent,
				     const char *name)
{
	struct mem_cgroup *c;

	for (c = *name_bucket(h, parent, name); c; c = c->cold->next_name)
		if (c->parent == parent && !strcmp(c->cold->name, name))
			return c;
	return NULL;
}

static void unhash_name(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	struct mem_cgroup **pp = name_bucket(h, memcg->parent, memcg->cold->name);

	while (*pp != memcg)
		pp = &(*pp)->cold->next_name;
	*pp = memcg->cold->next_name;
	h->nr_names--;
}

/*
 * A name mkdir would take, in the order the kernel checks (seen on 6.18):
 * PATH_MAX bytes or more is -ENAMETOOLONG (getname(), before anything
 * else; cgroupfs is kernfs, whose lookup has no NAME_MAX check); empty or
 * with a "/" is -EINVAL (here a name is one path component); "." and ".."
 * exist (-EEXIST, from the VFS); a newline is -EINVAL (cgroup_mkdir refuses
 * it, so that /proc/<pid>/cgroup stays parsable).
 */
int memcg_check_name(const char *name)
{
	if (!memchr(name, '\0', MEMCG_NAME_MAX + 1))
		return -ENAMETOOLONG;
	if (!*name || strchr(name, '/'))
		return -EINVAL;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EEXIST;
	if (strchr(name, '\n'))
		return -EINVAL;
	return 0;
}

/* Called with h->lock held. */
int64_t memcg_create(struct pmc_hierarchy *h, struct mem_cgroup *parent, const char *name)
{
	struct mem_cgroup *memcg, *c;
	uint32_t id, slot;
	int ret = memcg_check_name(name);

	if (ret)
		return ret;
	if (!memcg_online(parent))
		return -ENOENT;
	if (find_child(h, parent, name))
		return -EEXIST;
	/* Where a freed descendant's statistics will go (struct memcg_ext). */
	if (memcg_ext_prepare(parent))
		return -ENOMEM;
	ret = memcg_alloc_ids(h, &id, &slot);
	if (ret) {
		h->next_serial++;       /* as when the allocation came first: a serial number is spent */
		return ret;
	}
	memcg = memcg_alloc(h, parent, id, slot, name);
	if (!memcg) {
		memcg_free_ids(h, id, slot);
		return -ENOMEM;
	}
	link_child(parent, memcg);
	link_all(h, memcg);
	hash_name(h, memcg);
	for (c = parent; c; c = c->parent)
		c->cold->nr_descendants++;
	memcg_publish(h, memcg);
	if (atomic_load_explicit(&memcg->kmem_active, RELAXED))
		slab_kmem_activated(h, memcg);
	return memcg_handle(memcg);
}

/*
 * 3.8 mem_cgroup_reparent_charges: the user pages move to the parent.  The
 * parent's counters have them already (hierarchical): only this level's
 * counters let go of them (res_counter_uncharge_until).  Every CPU is held,
 * so no uncharge of this cgroup runs meanwhile.
 */
static void reparent_user_pages(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	struct mem_cgroup *parent = memcg->parent;
	long nr = 0;

	for (int cpu = 0; cpu < h->cfg.ncpus; cpu++)
		cpu_lock(h, cpu);
	/* Its count, then each CPU's deltas (slots that still cache it), all held. */
	nr = atomic_exchange_explicit(&memcg->cold->stat[MEMCG_STAT_ANON], 0, RELAXED);
	mod_memcg_state(parent, 0, MEMCG_STAT_ANON, nr);
	for (int cpu = 0; cpu < h->cfg.ncpus; cpu++) {
		struct memcg_stock_pcp *stock = stock_of(h, cpu);

		for (unsigned int i = 0; i < stock->nr_slots; i++) {
			long a = stock->stat[i][MEMCG_STAT_ANON];

			if (stock->cached[i] != memcg || !a)
				continue;
			stock->stat[i][MEMCG_STAT_ANON] = 0;
			mod_memcg_state(parent, cpu, MEMCG_STAT_ANON, a);
			nr += a;
		}
	}
	if (nr > 0) {
		page_counter_cancel(&memcg->counter[MEMCG_MEMORY], (unsigned long)nr);
		if (h->cfg.memsw)
			page_counter_cancel(&memcg->counter[MEMCG_MEMSW], (unsigned long)nr);
	}
	task_reparent_user_pages(memcg);
	for (int cpu = h->cfg.ncpus - 1; cpu >= 0; cpu--)
		cpu_unlock(h, cpu);
}

/*
 * Called with h->lock held and no CPU lock: rmdir.  The cgroup goes
 * offline, as mem_cgroup_css_offline() has it: protection off, its stocks
 * drained; it stays around, dying, while anything is charged to it.
 */
int memcg_remove(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	struct mem_cgroup *c;

	if (memcg_is_root(memcg))
		return -EBUSY;
	if (!memcg_online(memcg))
		return -ESTALE;
	for (c = memcg->cold->first_child; c; c = c->cold->next_sibling)
		if (memcg_online(c))
			return -EBUSY;
	if (memcg_ext(memcg)->nr_tasks || memcg_ext(memcg)->nr_forking)
		return -EBUSY;          /* rmdir of a cgroup with tasks */

	atomic_store_explicit(&memcg->state, MEMCG_DYING, RELAXED);
	unhash_name(h, memcg);          /* its name may be taken again at once */
	for (c = memcg->parent; c; c = c->parent) {
		c->cold->nr_descendants--;
		c->cold->nr_dying_descendants++;
	}

	page_counter_set_min(&memcg->counter[MEMCG_MEMORY], 0);
	page_counter_set_low(&memcg->counter[MEMCG_MEMORY], 0);
	/* memcg_offline_kmem() comes before drain_all_stock() (4.x and 6.x alike). */
	slab_offline(h, memcg);
	drain_all_stock(h, memcg);
	if (h->cfg.reparent_user_pages)
		reparent_user_pages(h, memcg);
	/* mem_cgroup_id_put: only swap could hold the id longer (not modelled). */
	if (h->cfg.id_at_offline)
		memcg_release_id(h, memcg);
	memcg_free_queue(h, memcg);
	return 0;
}

/*
 * The free queue: cgroups that may have become freeable, so that a free
 * looks at them (and up their ancestry) instead of at every dying cgroup.
 * A lock-free stack that anyone pushes onto and only memcg_free_dying, under
 * h->lock, empties whole (no ABA: nothing is ever popped alone).  The
 * kernel frees a css when its last reference goes; here "freeable" also
 * needs empty counters and no children, so every event that may complete
 * it queues the cgroup: its remove, an uncharge or a reference dropped
 * while it is dying, the free of its last child.
 *
 * A cgroup is queued at most once (free_queued).  The event comes first,
 * the push after it, while a lock keeps the cgroup from being freed (a CPU
 * lock: a free waits for every CPU; or h->lock).  The free un-queues a
 * cgroup with an exchange before it looks at it.  The two exchanges on
 * free_queued order the event and the look: either the free's exchange
 * comes second and sees the event (acq_rel on both), or the pusher's comes
 * second, finds the flag clear and queues the cgroup again.  A plain store
 * to clear the flag would let the free read a counter from before the
 * event while the pusher, seeing the flag still set, skipped its push.
 */
void memcg_free_queue(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	struct mem_cgroup *head;

	if (atomic_exchange_explicit(&memcg->cold->free_queued, 1, memory_order_acq_rel))
		return;
	head = atomic_load_explicit(&h->free_queue, RELAXED);
	do {
		memcg->cold->next_free = head;
		/* Release: the popper sees next_free. */
	} while (!atomic_compare_exchange_weak_explicit(&h->free_queue, &head, memcg, RELEASE,
							RELAXED));
}

/*
 * Drop a reference, holding a CPU lock; a dying cgroup may be freeable
 * afterwards, so it is queued after the put (memcg_free_queue).  A remove()
 * racing with us cannot free it under us (its drain waits for our CPU lock)
 * and queues it itself after its drain.
 */
void memcg_put(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	/* Release: pairs with the acquire in memcg_freeable. */
	atomic_fetch_sub_explicit(&memcg->refs, 1, memory_order_release);
	/* Our CPU lock keeps it allocated: a free waits for every CPU (memcg_free_dying). */
	if (!memcg_online(memcg))
		memcg_free_queue(h, memcg);
}

/*
 * Drop a reference holding no CPU lock.  A remove() may have come and gone
 * since we last looked (finding our reference and keeping the cgroup): so
 * queue it for a free check whatever its state.  Only slow paths (reclaim,
 * memory.high) get here, so h->lock may be taken to keep a free from
 * running between the put and the push.
 */
void memcg_put_unlocked(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	/* h->lock: no free can run between the put and the push. */
	pthread_mutex_lock(&h->lock);
	atomic_fetch_sub_explicit(&memcg->refs, 1, memory_order_release);
	memcg_free_queue(h, memcg);
	pthread_mutex_unlock(&h->lock);
}

/*
 * A statistic of a cgroup that nothing references: no stock slot caches
 * it (a slot holds a reference), so its own count is all of it.
 */
static long stat_read(struct mem_cgroup *memcg, int idx)
{
	return memcg_stat_global(memcg, idx);
}

/*
 * Nothing holds a dying cgroup any more: no child, no reference (stock
 * slots, calls in progress).  Then what its counters still hold decides,
 * by era: with objcgs (5.9+) only user pages hold a cgroup (its kernel
 * memory went with its objcg to the parent at offline); 3.8 moved the user
 * pages to the parent at offline, and kernel memory held it; otherwise
 * every counter must be empty.
 */
static bool memcg_freeable(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	if (memcg->cold->nr_children || atomic_load_explicit(&memcg->refs, ACQUIRE))
		return false;
	/*
	 * A task's pages hold their cgroup as the kernel's pages hold a css
	 * reference: even when a caller's own uncharges took the counts to
	 * zero, the task still names it and will uncharge it at exit.  (3.8
	 * moved user segments to the parent at offline: none name a dying
	 * cgroup there.)  Kernel pages: through the objcg, so a shell where
	 * there is one.
	 */
	if (memcg_ext(memcg)->user_segs || (!h->cfg.objcg && memcg_ext(memcg)->task_ksegs))
		return false;
	if (h->cfg.objcg)
		return stat_read(memcg, MEMCG_STAT_ANON) <= 0;
	for (int i = 0; i < memcg_nr_counters(&h->cfg); i++)
		if (page_counter_read(&memcg->counter[i]))
			return false;
	return true;
}

/*
 * A shell keeps going while its objcg has pages charged, a task's kernel
 * pages name it, or shells below pin it.
 */
static bool memcg_needs_shell(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	return h->cfg.objcg && (memcg->cold->nr_shells || memcg_ext(memcg)->task_ksegs ||
				stat_read(memcg, MEMCG_STAT_KMEM_OWN) > 0 ||
				atomic_load_explicit(&memcg->cold->objcg_refs, ACQUIRE) > 0);
}

/* The freed, in freeing order (a child before its parent), until the memory goes. */
struct free_list {
	struct mem_cgroup *head, **tail;
};

static void free_list_add(struct free_list *l, struct mem_cgroup *memcg)
{
	memcg->cold->next_dying = NULL;
	*l->tail = memcg;
	l->tail = &memcg->cold->next_dying;
}

/*
 * Out of the tree: a dying cgroup is freed (or becomes a shell).  A shell
 * stays on the creation list, which listings read past, so that closing
 * the hierarchy frees it too.
 */
static void memcg_release(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	memcg_release_id(h, memcg);
	unlink_child(memcg->parent, memcg);
	for (struct mem_cgroup *c = memcg->parent; c; c = c->parent)
		c->cold->nr_dying_descendants--;
}

/* Take it out of every structure a look-up could find it by; free it after the sync. */
static void memcg_doom(struct pmc_hierarchy *h, struct mem_cgroup *memcg, struct free_list *doomed)
{
	memcg->doomed = true;
	if (atomic_load_explicit(&memcg->state, RELAXED) == MEMCG_SHELL)
		memcg->parent->cold->nr_shells--;
	else
		memcg_release(h, memcg);
	unlink_all(h, memcg);
	/* Odd -> even: the handle finds nothing from here on (memcg_lookup). */
	atomic_store_explicit(&memcg->gen,
			      (atomic_load_explicit(&memcg->gen, RELAXED) + 1) & MEMCG_HANDLE_GEN_MASK,
			      RELEASE);
	idmap_free(&h->slots, memcg->slot);
	free_list_add(doomed, memcg);
}

/* Freed, but its handle stays for the kernel pages its objcg still has charged. */
static void memcg_make_shell(struct pmc_hierarchy *h, struct mem_cgroup *memcg, struct free_list *shelled)
{
	memcg_release(h, memcg);
	atomic_store_explicit(&memcg->state, MEMCG_SHELL, RELAXED);
	memcg->parent->cold->nr_shells++;
	free_list_add(shelled, memcg);
}

/*
 * Take the queue whole; free each queued cgroup that is freeable, and then
 * its ancestors in turn while they are (a freed child was what held them).
 * A shell whose pages are all uncharged goes too, and its parent may follow.
 * next_free is read before the cgroup is un-queued: from then on a pusher
 * may write it.
 */
static void doom_queued(struct pmc_hierarchy *h, struct free_list *doomed, struct free_list *shelled)
{
	struct mem_cgroup *memcg = atomic_exchange_explicit(&h->free_queue, NULL, ACQUIRE), *next;

	for (; memcg; memcg = next) {
		next = memcg->cold->next_free;
		/* An exchange, not a store: see memcg_free_queue. */
		atomic_exchange_explicit(&memcg->cold->free_queued, 0, memory_order_acq_rel);
		for (struct mem_cgroup *m = memcg; m && !m->doomed; m = m->parent) {
			int state = atomic_load_explicit(&m->state, RELAXED);

			if (state == MEMCG_SHELL && !memcg_needs_shell(h, m)) {
				memcg_doom(h, m, doomed);
			} else if (state == MEMCG_DYING && memcg_freeable(h, m)) {
				if (memcg_needs_shell(h, m))
					memcg_make_shell(h, m, shelled);
				else
					memcg_doom(h, m, doomed);
			} else {
				break;
			}
		}
	}
}

/*
 * Cgroups queued while the doomed were being unpublished may be among them
 * (an uncharge that emptied one, under a CPU lock that synchronize_cpus
 * then waited for).  Nobody can reach a doomed cgroup any more, so drop
 * those entries and queue the others again.
 */
static void requeue_survivors(struct pmc_hierarchy *h)
{
	struct mem_cgroup *memcg = atomic_exchange_explicit(&h->free_queue, NULL, ACQUIRE), *next;

	for (; memcg; memcg = next) {
		next = memcg->cold->next_free;
		if (memcg->doomed)
			continue;
		atomic_exchange_explicit(&memcg->cold->free_queued, 0, memory_order_acq_rel);
		memcg_free_queue(h, memcg);
	}
}

/*
 * A freed cgroup's statistics go to its parent's dead_stat, as the kernel's
 * rstat keeps a dead memcg's counts in its ancestors: the subtree sums do
 * not change.  After the sync, so no CPU still updates them (a shell's own
 * objcg count goes on; it is not a statistic).
 */
static void memcg_fold_stats(struct mem_cgroup *memcg)
{
	struct mem_cgroup *parent = memcg->parent;

	/*
	 * Into the nearest ancestor still in the tree: a parent made a shell or
	 * doomed in this same pass is out of it already (its own counts may
	 * have been folded before this child's), and stat_subtree would never
	 * see what went to it.
	 */
	while (parent->doomed || atomic_load_explicit(&parent->state, RELAXED) == MEMCG_SHELL)
		parent = parent->parent;

	for (int i = 0; i < MEMCG_NR_STATS; i++) {
		struct memcg_ext *ext = memcg->cold->ext;

		/* The ancestor's ext exists: memcg_create made it before its first child. */
		parent->cold->ext->dead_stat[i] += (ext ? ext->dead_stat[i] : 0) + stat_read(memcg, i);
		if (ext)
			ext->dead_stat[i] = 0;
		atomic_store_explicit(&memcg->cold->stat[i], 0, RELAXED);
	}
}

/*
 * Free the dying cgroups that nothing holds any more, looking only at the
 * queued ones and their ancestors.  Called with h->lock held and no CPU
 * lock.  A freed cgroup first disappears from the id table, then every CPU
 * lock is taken once, so that an operation that found it before is over,
 * and only then is its memory released.
 */
void memcg_free_dying(struct pmc_hierarchy *h)
{
	struct free_list doomed = { NULL, &doomed.head }, shelled = { NULL, &shelled.head };

	if (!memcg_free_pending(h))
		return;
	doom_queued(h, &doomed, &shelled);
	if (!doomed.head && !shelled.head)
		return;
	synchronize_cpus(h);
	requeue_survivors(h);
	for (struct mem_cgroup *m = shelled.head; m; m = m->cold->next_dying)
		memcg_fold_stats(m);
	for (struct mem_cgroup *m = doomed.head, *next; m; m = next) {
		next = m->cold->next_dying;
		memcg_fold_stats(m);         /* a shell's were folded already: zeros */
		memcg_free(m);
	}
}

/* mem_cgroup_swappiness: the root's is the sysctl. */
int memcg_swappiness(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	if (memcg_is_root(memcg))
		return atomic_load_explicit(&h->vm_swappiness, RELAXED);
	return atomic_load_explicit(&memcg->cold->swappiness, RELAXED);
}

/* --- listings ------------------------------------------------------------------- */

/* Entry idx of a listing, its name at off, if the caller gave room for them. */
static void list_fill(struct pmc_cgroup_list *list, int64_t idx, struct mem_cgroup *memcg,
		      int64_t off)
{
	if (idx < list->cap) {
		struct pmc_cgroup_entry *e = &list->entries[idx];

		e->handle = memcg_handle(memcg);
		e->parent = memcg->parent ? memcg_handle(memcg->parent) : 0;
		e->state = atomic_load_explicit(&memcg->state, RELAXED);
		e->name_len = (int32_t)memcg->cold->name_len;
		e->name_off = off;
		e->id = memcg->id;
		e->reserved = 0;
	}
	if (memcg->cold->name_len && off + (int64_t)memcg->cold->name_len <= list->names_cap)
		memcpy(list->names + off, memcg->cold->name, memcg->cold->name_len);
}

static void list_append(struct pmc_cgroup_list *list, struct mem_cgroup *memcg)
{
	list_fill(list, list->count++, memcg, list->names_len);
	list->names_len += (int64_t)memcg->cold->name_len;
}

/* The root, ..., memcg, appended: one walk up to size it, one to fill it. */
static void list_lineage(struct pmc_cgroup_list *list, struct mem_cgroup *memcg)
{
	int64_t base = list->count, end = list->names_len;
	struct mem_cgroup *m;

	for (m = memcg; m; m = m->parent)
		end += (int64_t)m->cold->name_len;
	list->count += memcg->depth + 1;
	list->names_len = end;
	for (m = memcg; m; m = m->parent) {
		end -= (int64_t)m->cold->name_len;
		list_fill(list, base + m->depth, m, end);
	}
}

/*
 * A listing (PMC_LIST_*), under h->lock: linear in what it lists.  memcg
 * is ignored for PMC_LIST_ALL.  Counts accumulate, so that several
 * listings can share one buffer.
 */
int64_t memcg_list(struct pmc_hierarchy *h, struct mem_cgroup *memcg, int how,
		   struct pmc_cgroup_list *list)
{
	struct mem_cgroup *c;

	switch (how) {
	case PMC_LIST_ALL:
		for (c = h->all_head; c; c = c->cold->all_next)
			if (!memcg_shell(c))
				list_append(list, c);
		return 0;
	case PMC_LIST_CHILDREN:
		for (c = memcg->cold->first_child; c; c = c->cold->next_sibling)
			if (memcg_online(c))
				list_append(list, c);
		return 0;
	case PMC_LIST_LINEAGE:
		list_lineage(list, memcg);
		return 0;
	default:
		return -EINVAL;
	}
}

/* --- hierarchy ----------------------------------------------------------------- */

/*
 * A new life of a registry slot (hierarchy.c): everything from cfg on is
 * this life's; the slot's own fields before it are left alone.
 */
int memcg_hierarchy_init(struct pmc_hierarchy *h, const struct pmc_config *cfg, uint32_t tag)
{
	size_t life = offsetof(struct pmc_hierarchy, cfg);
	struct mem_cgroup *root;
	uint32_t id, slot;

	memset((char *)h + life, 0, sizeof(*h) - life);
	h->cfg = *cfg;
	if (!h->cfg.hz)
		h->cfg.hz = 1000;
	if (!h->cfg.id_errno)
		h->cfg.id_errno = ENOSPC;
	if (h->cfg.slab_mode == PMC_SLAB_AUTO)
		h->cfg.slab_mode = h->cfg.objcg ? PMC_SLAB_OBJCG : PMC_SLAB_CLONE;
	h->tag = tag;
	atomic_init(&h->vm_swappiness, PMC_VM_SWAPPINESS_DEFAULT);
	idmap_init(&h->ids, MEMCG_ID_MAX, 0x7fffffffu);
	idmap_init_bits(&h->slots, MEMCG_HANDLE_SLOT_MASK);
	idmap_init(&h->tasks, MEMCG_TASK_SLOT_MAX, MEMCG_HANDLE_GEN_MASK);
	h->nr_task_slots = 1;
	idmap_init(&h->socks, MEMCG_TASK_SLOT_MAX, MEMCG_HANDLE_GEN_MASK);
	h->nr_sock_slots = 1;
	if (!h->cfg.kernel_stack_pages)
		h->cfg.kernel_stack_pages = 4;
	if (stock_init(h) || names_init(h) || slab_init(h))
		return -ENOMEM;
	h->hot_size = memcg_size(&h->cfg);
	if (memcg_alloc_ids(h, &id, &slot))
		return -ENOMEM;
	root = memcg_alloc(h, NULL, id, slot, "");
	if (!root)
		return -ENOMEM;
	h->root = root;
	link_all(h, root);
	memcg_publish(h, root);
	return 0;
}

/* The end of a life: nobody can be using it (pmc_hierarchy_close waited). */
void memcg_hierarchy_destroy(struct pmc_hierarchy *h)
{
	tasks_destroy(h);
	socks_destroy(h);
	slab_destroy(h);
	for (struct mem_cgroup *memcg = h->all_head, *next; memcg; memcg = next) {
		next = memcg->cold->all_next;
		memcg_free(memcg);
	}
	h->all_head = h->all_tail = h->root = NULL;
	memcg_hot_destroy(h);
	idmap_destroy(&h->ids);
	idmap_destroy(&h->slots);
	idmap_destroy(&h->tasks);
	idmap_destroy(&h->socks);
	free(h->names);
	h->names = NULL;
}

/* --- events and statistics ----------------------------------------------------- */

/*
 * The events of a cgroup, allocated at the first: most cgroups of a large
 * tree never have one.  Any thread may get here first (under a CPU lock or
 * h->lock); the compare-and-swap publishes one zeroed block, with release
 * so that a reader's acquire (memcg_events_peek) sees it zeroed, and the
 * loser frees its own.
 *
 * Where a limit, a protection or memory.oom.group is set, the write (which
 * may fail with -ENOMEM, as the kernel's may) has already allocated the
 * blocks of that cgroup and of its ancestors (memcg_events_prepare): the
 * events of a limit hit, of memory.high, of an OOM and a group kill always
 * find their blocks there.  What is left can fail: an event of a cgroup
 * with no setting of its own (an OOM kill's victim's cgroup, memory.low
 * under an ancestor's recursive protection, a charge beyond
 * PAGE_COUNTER_MAX) counted for the first time at a moment when malloc
 * fails.  Then this returns NULL and that one event is not counted.  The
 * kernel cannot fail here (its events are inline); the alternative is
 * 112 bytes in every cgroup, a fifth of the cgroup (benchmarks/README.md,
 * "Data layout for many cgroups").
 */
struct memcg_events *memcg_events_of(struct mem_cgroup *memcg)
{
	struct memcg_events *ev = memcg_events_peek(memcg), *fresh;

	if (__builtin_expect(ev != NULL, 1))
		return ev;
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh)
		return NULL;
	if (atomic_compare_exchange_strong_explicit(&memcg->ev, &ev, fresh, memory_order_acq_rel,
						    ACQUIRE))
		return fresh;
	free(fresh);
	return ev;
}

/* Before a setting that raises events here, under h->lock: 0 or -ENOMEM. */
int memcg_events_prepare(struct mem_cgroup *memcg)
{
	for (; memcg; memcg = memcg->parent)
		if (!memcg_events_of(memcg))
			return -ENOMEM;
	return 0;
}

/*
 * memcg_memory_event: the local count, then the hierarchical one up to (not
 * including) the root -- on cgroup v2 without memory_localevents; cgroup v1
 * counts only locally.
 */
void memcg_memory_event(struct mem_cgroup *memcg, enum memcg_event_idx event)
{
	struct pmc_hierarchy *h = memcg->h;
	bool local_only = h->cfg.version == 1 || h->cfg.memory_localevents;

	struct memcg_events *ev = memcg_events_of(memcg);

	if (ev)
		atomic_fetch_add_explicit(&ev->events_local[event], 1, RELAXED);
	do {
		if ((ev = memcg_events_of(memcg)))
			atomic_fetch_add_explicit(&ev->events[event], 1, RELAXED);
		if (local_only)
			break;
		memcg = memcg->parent;
	} while (memcg && !memcg_is_root(memcg));
}
