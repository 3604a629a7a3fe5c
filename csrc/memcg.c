/*
 * memcg.c - the cgroup tree and the charge path.
 *
 * Follows mm/memcontrol.c: try_charge_memcg() with its stock, batch,
 * exact-size retry, reclaim, drain and retry loop, memory events and the
 * memory.high bookkeeping, for the kernel era that struct pmc_config
 * describes.  See memcg.h for how threads and CPUs are kept apart.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "memcg.h"

#define RELAXED memory_order_relaxed
#define ACQUIRE memory_order_acquire
#define RELEASE memory_order_release

static int64_t (*reclaim_callback)(int64_t, int64_t, int64_t);

void pmc_set_reclaim_callback(int64_t (*callback)(int64_t, int64_t, int64_t))
{
	reclaim_callback = callback;
}

/* --- ids and handles ------------------------------------------------------ */

int64_t memcg_handle(struct mem_cgroup *memcg)
{
	return (int64_t)(((uint64_t)memcg->h->tag << MEMCG_HANDLE_TAG_SHIFT) |
			 ((uint64_t)memcg->gen << MEMCG_HANDLE_SLOT_BITS) | memcg->slot);
}

/*
 * Callers hold a CPU lock or h->lock, which keeps what they find alive
 * until they let go (see memcg_free_dying).
 */
struct mem_cgroup *memcg_lookup(struct pmc_hierarchy *h, int64_t cgroup)
{
	uint64_t v = (uint64_t)cgroup;

	if (cgroup <= 0 || v >> MEMCG_HANDLE_TAG_SHIFT != h->tag)
		return NULL;
	return idmap_lookup(&h->slots, (uint32_t)(v & MEMCG_HANDLE_SLOT_MASK),
			    (uint32_t)(v >> MEMCG_HANDLE_SLOT_BITS) & MEMCG_HANDLE_GEN_MASK);
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
	if (cgroup <= 0 || (uint64_t)cgroup >> MEMCG_HANDLE_TAG_SHIFT != h->tag)
		return -EINVAL;
	return -ESTALE;
}

/*
 * A new cgroup's memcg id (lowest free, as xa_alloc hands them out) and its
 * handle slot.  The id errno when none is left is the era's: idr's -ENOSPC
 * (3.8), xa_alloc's -EBUSY (current kernels).
 */
static int memcg_alloc_ids(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	int ret = idmap_alloc(&h->ids, &memcg->id);

	if (ret)
		return ret == -ENOSPC ? -h->cfg.id_errno : ret;
	ret = idmap_alloc(&h->slots, &memcg->slot);
	if (ret) {
		idmap_free(&h->ids, memcg->id);
		return ret;
	}
	return 0;
}

/* Publish under h->lock: from here on the handle (and the id) find the cgroup. */
static void memcg_publish(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	idmap_publish(&h->ids, memcg->id, memcg);
	memcg->id_held = true;
	memcg->gen = idmap_publish(&h->slots, memcg->slot, memcg);
}

/* Give the memcg id back (at offline since 4.8, at free before). */
static void memcg_release_id(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	if (!memcg->id_held)
		return;
	idmap_unpublish(&h->ids, memcg->id);
	idmap_free(&h->ids, memcg->id);
	memcg->id_held = false;
}

static void memcg_unpublish(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	memcg_release_id(h, memcg);
	idmap_unpublish(&h->slots, memcg->slot);
	idmap_free(&h->slots, memcg->slot);
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

static struct mem_cgroup *memcg_alloc(struct pmc_hierarchy *h, struct mem_cgroup *parent)
{
	struct mem_cgroup *memcg = aligned_alloc(PMC_CACHELINE, sizeof(*memcg));

	if (!memcg)
		return NULL;
	memset(memcg, 0, sizeof(*memcg));
	memcg->vmstats = aligned_alloc(PMC_CACHELINE,
				       sizeof(*memcg->vmstats) * (size_t)h->cfg.ncpus);
	if (!memcg->vmstats) {
		free(memcg);
		return NULL;
	}
	memset(memcg->vmstats, 0, sizeof(*memcg->vmstats) * (size_t)h->cfg.ncpus);
	for (int i = 0; i < MEMCG_NR_COUNTERS; i++) {
		/* Only the v2 memory counter tracks protection (protection_support). */
		bool protection = h->cfg.version == 2 && i == MEMCG_MEMORY;

		page_counter_init(&memcg->counter[i], parent ? &parent->counter[i] : NULL, protection);
		memcg->counter[i].track_failcnt = h->cfg.version == 1 && counter_tracks_failcnt(&h->cfg, i);
	}
	memcg->h = h;
	memcg->parent = parent;
	memcg->depth = parent ? parent->depth + 1 : 0;
	atomic_init(&memcg->state, MEMCG_ONLINE);
	/* Kernels since 4.6 account kmem everywhere; 3.8 inherited activation. */
	atomic_init(&memcg->kmem_active, !h->cfg.kmem_on_limit ||
		    (parent && atomic_load_explicit(&parent->kmem_active, RELAXED)));
	return memcg;
}

static void memcg_free(struct mem_cgroup *memcg)
{
	free(memcg->name);
	free(memcg->vmstats);
	free(memcg);
}

/* The creation-order list of every cgroup (listings walk it), under h->lock. */
static void link_all(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	memcg->all_prev = h->all_tail;
	if (h->all_tail)
		h->all_tail->all_next = memcg;
	else
		h->all_head = memcg;
	h->all_tail = memcg;
}

static void unlink_all(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	if (memcg->all_prev)
		memcg->all_prev->all_next = memcg->all_next;
	else
		h->all_head = memcg->all_next;
	if (memcg->all_next)
		memcg->all_next->all_prev = memcg->all_prev;
	else
		h->all_tail = memcg->all_prev;
}

static void link_child(struct mem_cgroup *parent, struct mem_cgroup *memcg)
{
	memcg->prev_sibling = parent->last_child;
	if (parent->last_child)
		parent->last_child->next_sibling = memcg;
	else
		parent->first_child = memcg;
	parent->last_child = memcg;
	parent->nr_children++;
}

static void unlink_child(struct mem_cgroup *parent, struct mem_cgroup *memcg)
{
	if (memcg->prev_sibling)
		memcg->prev_sibling->next_sibling = memcg->next_sibling;
	else
		parent->first_child = memcg->next_sibling;
	if (memcg->next_sibling)
		memcg->next_sibling->prev_sibling = memcg->prev_sibling;
	else
		parent->last_child = memcg->prev_sibling;
	parent->nr_children--;
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
			struct mem_cgroup **bucket = name_bucket(h, c->parent, c->name);

			next = c->next_name;
			c->next_name = *bucket;
			*bucket = c;
		}
	}
	free(old);
}

static void hash_name(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	struct mem_cgroup **bucket;

	if (h->nr_names > h->names_mask)
		names_grow(h);
	bucket = name_bucket(h, memcg->parent, memcg->name);
	memcg->next_name = *bucket;
	*bucket = memcg;
	h->nr_names++;
}

static struct mem_cgroup *find_child(struct pmc_hierarchy *h, struct mem_cgroup *parent,
				     const char *name)
{
	struct mem_cgroup *c;

	for (c = *name_bucket(h, parent, name); c; c = c->next_name)
		if (c->parent == parent && !strcmp(c->name, name))
			return c;
	return NULL;
}

static void unhash_name(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	struct mem_cgroup **pp = name_bucket(h, memcg->parent, memcg->name);

	while (*pp != memcg)
		pp = &(*pp)->next_name;
	*pp = memcg->next_name;
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
	int ret = memcg_check_name(name);

	if (ret)
		return ret;
	if (!memcg_online(parent))
		return -ENOENT;
	if (find_child(h, parent, name))
		return -EEXIST;
	memcg = memcg_alloc(h, parent);
	if (!memcg)
		return -ENOMEM;
	ret = memcg_alloc_ids(h, memcg);
	if (ret) {
		memcg_free(memcg);
		return ret;
	}
	memcg->name_len = strlen(name);
	memcg->name = malloc(memcg->name_len + 1);
	if (!memcg->name) {
		idmap_free(&h->ids, memcg->id);
		idmap_free(&h->slots, memcg->slot);
		memcg_free(memcg);
		return -ENOMEM;
	}
	memcpy(memcg->name, name, memcg->name_len + 1);
	link_child(parent, memcg);
	link_all(h, memcg);
	hash_name(h, memcg);
	for (c = parent; c; c = c->parent)
		c->nr_descendants++;
	memcg_publish(h, memcg);
	return memcg_handle(memcg);
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
	for (c = memcg->first_child; c; c = c->next_sibling)
		if (memcg_online(c))
			return -EBUSY;

	atomic_store_explicit(&memcg->state, MEMCG_DYING, RELAXED);
	unhash_name(h, memcg);          /* its name may be taken again at once */
	for (c = memcg->parent; c; c = c->parent) {
		c->nr_descendants--;
		c->nr_dying_descendants++;
	}

	page_counter_set_min(&memcg->counter[MEMCG_MEMORY], 0);
	page_counter_set_low(&memcg->counter[MEMCG_MEMORY], 0);
	drain_all_stock(h, memcg);
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

	if (atomic_exchange_explicit(&memcg->free_queued, 1, memory_order_acq_rel))
		return;
	head = atomic_load_explicit(&h->free_queue, RELAXED);
	do {
		memcg->next_free = head;
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

static bool memcg_freeable(struct mem_cgroup *memcg)
{
	if (memcg->nr_children || atomic_load_explicit(&memcg->refs, ACQUIRE))
		return false;
	for (int i = 0; i < MEMCG_NR_COUNTERS; i++)
		if (page_counter_read(&memcg->counter[i]))
			return false;
	return true;
}

/* Take it out of every structure a look-up could find it by. */
static void memcg_doom(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
		       struct mem_cgroup **doomed)
{
	memcg->doomed = true;
	memcg_unpublish(h, memcg);
	unlink_child(memcg->parent, memcg);
	unlink_all(h, memcg);
	for (struct mem_cgroup *c = memcg->parent; c; c = c->parent)
		c->nr_dying_descendants--;
	memcg->next_dying = *doomed;
	*doomed = memcg;
}

/*
 * Take the queue whole; doom each queued cgroup that is freeable, and then
 * its ancestors in turn while they are (a freed child was what held them).
 * next_free is read before the cgroup is un-queued: from then on a pusher
 * may write it.
 */
static void doom_queued(struct pmc_hierarchy *h, struct mem_cgroup **doomed)
{
	struct mem_cgroup *memcg = atomic_exchange_explicit(&h->free_queue, NULL, ACQUIRE), *next;

	for (; memcg; memcg = next) {
		next = memcg->next_free;
		/* An exchange, not a store: see memcg_free_queue. */
		atomic_exchange_explicit(&memcg->free_queued, 0, memory_order_acq_rel);
		for (struct mem_cgroup *m = memcg; m && !memcg_online(m) && !m->doomed &&
		     memcg_freeable(m); m = m->parent)
			memcg_doom(h, m, doomed);
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
		next = memcg->next_free;
		if (memcg->doomed)
			continue;
		atomic_exchange_explicit(&memcg->free_queued, 0, memory_order_acq_rel);
		memcg_free_queue(h, memcg);
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
	struct mem_cgroup *doomed = NULL;

	if (!memcg_free_pending(h))
		return;
	doom_queued(h, &doomed);
	if (!doomed)
		return;
	synchronize_cpus(h);
	requeue_survivors(h);
	while (doomed) {
		struct mem_cgroup *next = doomed->next_dying;

		memcg_free(doomed);
		doomed = next;
	}
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
		e->name_len = (int32_t)memcg->name_len;
		e->name_off = off;
		e->id = memcg->id;
		e->reserved = 0;
	}
	if (off + (int64_t)memcg->name_len <= list->names_cap)
		memcpy(list->names + off, memcg->name, memcg->name_len);
}

static void list_append(struct pmc_cgroup_list *list, struct mem_cgroup *memcg)
{
	list_fill(list, list->count++, memcg, list->names_len);
	list->names_len += (int64_t)memcg->name_len;
}

/* The root, ..., memcg, appended: one walk up to size it, one to fill it. */
static void list_lineage(struct pmc_cgroup_list *list, struct mem_cgroup *memcg)
{
	int64_t base = list->count, end = list->names_len;
	struct mem_cgroup *m;

	for (m = memcg; m; m = m->parent)
		end += (int64_t)m->name_len;
	list->count += memcg->depth + 1;
	list->names_len = end;
	for (m = memcg; m; m = m->parent) {
		end -= (int64_t)m->name_len;
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
		for (c = h->all_head; c; c = c->all_next)
			list_append(list, c);
		return 0;
	case PMC_LIST_CHILDREN:
		for (c = memcg->first_child; c; c = c->next_sibling)
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

	memset((char *)h + life, 0, sizeof(*h) - life);
	h->cfg = *cfg;
	if (!h->cfg.hz)
		h->cfg.hz = 1000;
	if (!h->cfg.id_errno)
		h->cfg.id_errno = ENOSPC;
	h->tag = tag;
	idmap_init(&h->ids, MEMCG_ID_MAX, 0x7fffffffu);
	idmap_init(&h->slots, MEMCG_HANDLE_SLOT_MASK, MEMCG_HANDLE_GEN_MASK);
	if (stock_init(h) || names_init(h))
		return -ENOMEM;
	root = memcg_alloc(h, NULL);
	if (!root)
		return -ENOMEM;
	root->name = calloc(1, 1);
	if (!root->name || memcg_alloc_ids(h, root)) {
		memcg_free(root);
		return -ENOMEM;
	}
	h->root = root;
	link_all(h, root);
	memcg_publish(h, root);
	return 0;
}

/* The end of a life: nobody can be using it (pmc_hierarchy_close waited). */
void memcg_hierarchy_destroy(struct pmc_hierarchy *h)
{
	for (struct mem_cgroup *memcg = h->all_head, *next; memcg; memcg = next) {
		next = memcg->all_next;
		memcg_free(memcg);
	}
	h->all_head = h->all_tail = h->root = NULL;
	idmap_destroy(&h->ids);
	idmap_destroy(&h->slots);
	free(h->names);
	h->names = NULL;
}

/* --- events and statistics ----------------------------------------------------- */

/*
 * memcg_memory_event: the local count, then the hierarchical one up to (not
 * including) the root -- on cgroup v2 without memory_localevents; cgroup v1
 * counts only locally.
 */
void memcg_memory_event(struct mem_cgroup *memcg, enum memcg_event_idx event)
{
	struct pmc_hierarchy *h = memcg->h;
	bool local_only = h->cfg.version == 1 || h->cfg.memory_localevents;

	atomic_fetch_add_explicit(&memcg->events_local[event], 1, RELAXED);
	do {
		atomic_fetch_add_explicit(&memcg->events[event], 1, RELAXED);
		if (local_only)
			break;
		memcg = memcg->parent;
	} while (memcg && !memcg_is_root(memcg));
}

/* --- the charge path ------------------------------------------------------------ */

/* A page counter's clamp mask in the 16 bits per counter of pymemcg.h. */
uint64_t fold_levels(uint64_t mask)
{
	return (mask & 0x7fff) | (mask >> 15 ? 0x8000 : 0);
}

static unsigned long mem_cgroup_margin(struct mem_cgroup *memcg)
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

static struct mem_cgroup *memcg_of(struct page_counter *counter, int idx)
{
	/* The counters are the first member of the cgroup: step back to it. */
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
 * Reclaim through the binding's callback, CPU lock dropped (the kernel may
 * sleep here).  The progress that counts is what the counter shows, never
 * more than the callback claims, so a callback that claims work it did not
 * do cannot keep a charge looping.  Returns progress, or -errno.
 */
static long reclaim_unlocked(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			     unsigned long nr_pages)
{
	unsigned long before, after;
	int64_t claimed;

	if (!atomic_load_explicit(&h->reclaim_hook, RELAXED) || !reclaim_callback)
		return 0;
	before = page_counter_read(&memcg->counter[MEMCG_MEMORY]);
	claimed = reclaim_callback(h->handle, memcg_handle(memcg), (int64_t)nr_pages);
	if (claimed < 0)
		return (long)claimed;
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
static long reclaim_pinned(struct pmc_hierarchy *h, int64_t handle, unsigned long nr_pages)
{
	struct mem_cgroup *memcg;
	long ret;

	pthread_mutex_lock(&h->lock);
	memcg = memcg_lookup(h, handle);
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
	if (m->h->cfg.version == 2) {
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
	bool drained = false, raised_max_event = false;
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
	if (mem_cgroup_margin(over) >= nr_pages)
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
	/* mem_cgroup_oom(): no OOM killer victims exist yet, so it kills nothing. */
	if (get_order(nr_pages) <= PAGE_ALLOC_COSTLY_ORDER)
		memcg_memory_event(over, MEMCG_OOM);
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

static int handle_over_high(struct charge_ctx *ctx)
{
	struct pmc_hierarchy *h = ctx->h;
	const struct pmc_config *cfg = &h->cfg;
	/* current->memcg_nr_pages_over_high is an unsigned int. */
	unsigned int nr_pages = (unsigned int)ctx->pending_high;
	int nr_retries = cfg->reclaim_retries;
	unsigned long penalty_jiffies;
	struct mem_cgroup *memcg;
	bool in_retry = false;
	long nr_reclaimed;
	int ret = 0;

	ctx->pending_high = 0;
	if (!nr_pages)
		return 0;
	/* The task's memcg, held as get_mem_cgroup_from_mm() holds it. */
	pthread_mutex_lock(&h->lock);
	memcg = memcg_lookup(h, ctx->handle);
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
	atomic_fetch_add_explicit(&memcg->throttle_jiffies, (long)penalty_jiffies, RELAXED);
	ctx->throttle_jiffies += penalty_jiffies;
out:
	memcg_put_unlocked(h, memcg);
	return ret;
}

void finish_call(struct pmc_hierarchy *h)
{
	if (memcg_free_pending(h)) {
		pthread_mutex_lock(&h->lock);
		memcg_free_dying(h);
		pthread_mutex_unlock(&h->lock);
	}
}

/* A refusal: the handle of the cgroup over its limit; its id for replay. */
static int64_t charge_refused(struct charge_ctx *ctx, struct mem_cgroup *over)
{
	ctx->over_id = over->id;
	return memcg_handle(over);
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

	if (kmem && h->cfg.kmem_first) {
		/* 3.8 memcg_charge_kmem: the kmem counter first, with its own limit. */
		struct page_counter *kfail;

		if (!page_counter_try_charge(&ctx->memcg->counter[MEMCG_KMEM], nr_pages, &kfail))
			return charge_refused(ctx, memcg_of(kfail, MEMCG_KMEM));
	}
	r = try_charge_memcg(ctx, gfp, nr_pages, &fail);
	if (r) {
		if (kmem && h->cfg.kmem_first)
			page_counter_uncharge(&ctx->memcg->counter[MEMCG_KMEM], nr_pages);
		if (r < 0)
			ctx->pending_high = 0;
		return r < 0 ? r : charge_refused(ctx, fail);
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

/**
 * memcg_uncharge_locked - the uncharging call, on a CPU already held
 *
 * User pages go straight back to the counters; kernel memory goes through
 * the stock where the era does so.  Clamps are noted in `log`.
 */
void memcg_uncharge_locked(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			   unsigned long nr_pages, int cpu, bool kmem, struct clamp_log *log)
{
	/* Nothing was charged to the root; and the kernel skips empty uncharges. */
	if (memcg_is_root(memcg) || !nr_pages ||
	    (kmem && !atomic_load_explicit(&memcg->kmem_active, RELAXED)))
		goto out;
	if (!kmem) {
		mod_memcg_state(memcg, cpu, MEMCG_STAT_ANON, -(long)nr_pages);
		memcg_uncharge_counters(memcg, nr_pages, log);
		goto out;
	}
	mod_memcg_state(memcg, cpu, MEMCG_STAT_KERNEL, -(long)nr_pages);
	if (h->cfg.version == 1)
		counter_uncharge(&memcg->counter[MEMCG_KMEM], MEMCG_KMEM, nr_pages, log);
	if (h->cfg.kmem_uncharge_via_stock)
		refill_stock(h, memcg, nr_pages, cpu, log);
	else
		memcg_uncharge_counters(memcg, nr_pages, log);
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

	if (!memcg) {
		cpu_unlock(h, cpu);
		return memcg_lookup_error(h, cgroup);
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

	/* h->lock before the CPU locks: the order every path keeps. */
	if (root)
		drain_all_stock(h, root);
	memcg_free_dying(h);
	pthread_mutex_unlock(&h->lock);
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

/* 3.8: the first kmem limit switches kmem accounting on, if nothing is in the way. */
int memcg_activate_kmem(struct pmc_hierarchy *h, struct mem_cgroup *memcg)
{
	if (atomic_load_explicit(&memcg->kmem_active, RELAXED))
		return 0;
	if (memcg->nr_children)
		return -EBUSY;
	atomic_store_explicit(&memcg->kmem_active, true, RELAXED);
	(void)h;
	return 0;
}
