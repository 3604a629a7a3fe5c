/*
 * hierarchy.c - where hierarchies live, and how a call gets in and out safely.
 *
 * A hierarchy is found by its handle (slot index, generation) in a
 * process-wide registry.  The hard part is closing one while other threads
 * call into it: a call looks the handle up, then takes a lock; a close
 * that freed the hierarchy in between would leave the call locking freed
 * memory.  The kernel answers this kind of race with RCU and
 * SLAB_TYPESAFE_BY_RCU; here the answer is the second half of that:
 *
 *  - Slot memory is type-stable.  A slot, its mutex and its per-CPU stock
 *    arrays are never freed (a slot outgrowing its array keeps the old one
 *    on a list), only handed to the next hierarchy.  A caller holding a
 *    stale handle may therefore take the slot's locks at any time, and
 *    does no harm as long as it looks at nothing else.
 *  - Every call checks the generation after taking its lock, and gives up
 *    (-ESTALE) if it moved on.  Close moves it first.
 *  - Close then takes each lock once (h->lock, every CPU lock): a call that
 *    checked the generation before it is finished, or it has announced
 *    itself in h->inflight before letting go of its lock (hier_hold).
 *    Close waits for inflight to drop to zero, and only then frees.
 *
 * The single calls' fast path (a CPU lock, the check, the charge, the
 * unlock) therefore costs one load more than before and no atomic more;
 * only calls that go on without any lock (reclaim, memory.high, frees, a
 * replay batch) pay two atomics on a shared counter, next to far costlier
 * work.
 *
 * Cgroup handles carry a 16-bit tag of their hierarchy (memcg.h).  Tags
 * are unique among live hierarchies and handed out round-robin, so a tag
 * comes back only after 65,535 other hierarchies were created.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memcg.h"

#define RELAXED memory_order_relaxed
#define ACQUIRE memory_order_acquire
#define RELEASE memory_order_release

#define HIER_CHUNK_SHIFT 10
#define HIER_CHUNK (1u << HIER_CHUNK_SHIFT)
#define HIER_MAX_CHUNKS 64u                     /* 65,536 slots, as many as tags */
#define HIER_GEN_LIMIT 0x7fffffffu              /* handles stay positive */

struct hier_chunk {
	_Atomic(struct pmc_hierarchy *) slot[HIER_CHUNK];
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct hier_chunk *) registry[HIER_MAX_CHUNKS];
static uint32_t nr_slots;                       /* under registry_lock */
static uint32_t free_head;                      /* index + 1, 0: none */
static uint64_t tag_used[(MEMCG_HANDLE_TAG_MAX + 1) / 64];
static uint32_t tag_cursor;
static int64_t nr_live;                         /* hierarchies created and not closed */

/* The calls this thread is in that hold a hierarchy (hier_hold), innermost first. */
static _Thread_local struct hier_frame *held_frames;

static inline uint32_t handle_index(int64_t handle)
{
	return (uint32_t)((uint64_t)handle & 0xffffffffu);
}

static inline uint32_t handle_gen(int64_t handle)
{
	return (uint32_t)((uint64_t)handle >> 32);
}

/*
 * The slot a handle names, whatever lives there now (NULL for a handle
 * that never named one).  Only its locks and generation may be touched
 * before hier_live() says the handle is current.
 */
struct pmc_hierarchy *hier_slot(int64_t hierarchy)
{
	if (hierarchy <= 0 || !(handle_gen(hierarchy) & 1))
		return NULL;
	return hier_slot_index(handle_index(hierarchy));
}

/* The slot of a registry index, or NULL (an owned CPU's token names one). */
struct pmc_hierarchy *hier_slot_index(uint32_t index)
{
	struct hier_chunk *chunk;

	if (index >= HIER_MAX_CHUNKS * HIER_CHUNK)
		return NULL;
	/* Acquire pairs with the release that published the chunk and the slot. */
	chunk = atomic_load_explicit(&registry[index >> HIER_CHUNK_SHIFT], ACQUIRE);
	if (!chunk)
		return NULL;
	return atomic_load_explicit(&chunk->slot[index & (HIER_CHUNK - 1)], ACQUIRE);
}

/*
 * Is the handle the slot's current life?  Acquire pairs with the release in
 * pmc_hierarchy_new: a caller that sees the generation sees the hierarchy
 * initialised.
 */
bool hier_live(struct pmc_hierarchy *h, int64_t hierarchy)
{
	return atomic_load_explicit(&h->gen, ACQUIRE) == handle_gen(hierarchy);
}

/* Why the last hier_lock of this thread returned NULL. */
static _Thread_local int hier_lock_err;

int hier_lock_error(void)
{
	return hier_lock_err ? hier_lock_err : -ESTALE;
}

/*
 * Find a live hierarchy and take its mutex; NULL (nothing held) if it is
 * gone, or if this thread holds one of its CPUs (cpu.c): hier_lock_error()
 * tells which (-ESTALE, -EDEADLK).
 */
struct pmc_hierarchy *hier_lock(int64_t hierarchy)
{
	struct pmc_hierarchy *h = hier_slot(hierarchy);

	hier_lock_err = -ESTALE;
	if (!h)
		return NULL;
	if (cpu_owner_holds(h)) {
		hier_lock_err = -EDEADLK;
		return NULL;
	}
	pthread_mutex_lock(&h->lock);
	if (!hier_live(h, hierarchy)) {
		pthread_mutex_unlock(&h->lock);
		return NULL;
	}
	return h;
}

/*
 * Find a live hierarchy and take one of its CPU locks: 0, or -ESTALE (gone)
 * or -EINVAL (no such CPU), holding nothing.  The CPU is checked against the
 * array's room before the lock (so that the lock taken is memory that
 * exists) and against the hierarchy's own ncpus after it.  A stale caller
 * locks and unlocks the array it loaded, whichever life it belongs to.
 */
int hier_cpu_lock(int64_t hierarchy, int32_t cpu, struct pmc_hierarchy **hp)
{
	struct pmc_hierarchy *h = hier_slot(hierarchy);
	struct memcg_stock_pcp *pcp;

	if (!h)
		return -ESTALE;
	/* Acquire: the array loaded next is at least as large as this. */
	if (cpu < 0 || (uint32_t)cpu >= atomic_load_explicit(&h->stock_cap, ACQUIRE))
		return hier_live(h, hierarchy) ? -EINVAL : -ESTALE;
	if (cpu_owner_holds(h))
		return -EDEADLK;
	pcp = stock_of(h, cpu);
	pcp_lock(pcp);
	if (!hier_live(h, hierarchy)) {
		pcp_unlock(pcp);
		return -ESTALE;
	}
	if (cpu >= h->cfg.ncpus) {
		pcp_unlock(pcp);
		return -EINVAL;
	}
	*hp = h;
	return 0;
}

/*
 * Announce a call that will go on after letting go of its locks.  Called
 * with a lock of the hierarchy held (taken after hier_live said yes), so
 * that close, which takes every lock once before it reads inflight, either
 * sees this or was never going to let us in.
 */
void hier_hold(struct pmc_hierarchy *h, struct hier_frame *frame)
{
	atomic_fetch_add_explicit(&h->inflight, 1, RELAXED);
	frame->h = h;
	frame->next = held_frames;
	held_frames = frame;
}

/* The end of a held call: nothing of h may be touched afterwards. */
void hier_unhold(struct pmc_hierarchy *h, struct hier_frame *frame)
{
	held_frames = frame->next;
	/* Release: our last uses of h happen before close frees it. */
	atomic_fetch_sub_explicit(&h->inflight, 1, RELEASE);
}

static bool held_by_this_thread(struct pmc_hierarchy *h)
{
	for (struct hier_frame *f = held_frames; f; f = f->next)
		if (f->h == h)
			return true;
	return false;
}

/* --- the registry, under registry_lock ------------------------------------- */

/* For cpu.c: an owner is made under the registry lock, so close sees it. */
void hier_registry_lock(void)
{
	pthread_mutex_lock(&registry_lock);
}

void hier_registry_unlock(void)
{
	pthread_mutex_unlock(&registry_lock);
}

static uint32_t tag_alloc(void)
{
	for (uint32_t i = 0; i < MEMCG_HANDLE_TAG_MAX; i++) {
		uint32_t tag = (tag_cursor + i) % MEMCG_HANDLE_TAG_MAX + 1;

		if (!(tag_used[tag / 64] & (1ull << (tag % 64)))) {
			tag_used[tag / 64] |= 1ull << (tag % 64);
			tag_cursor = tag;
			return tag;
		}
	}
	return 0;
}

static void tag_free(uint32_t tag)
{
	tag_used[tag / 64] &= ~(1ull << (tag % 64));
}

static struct pmc_hierarchy *slot_alloc(void)
{
	struct pmc_hierarchy *h;
	struct hier_chunk *chunk;
	uint32_t index;

	if (free_head) {
		index = free_head - 1;
		chunk = atomic_load_explicit(&registry[index >> HIER_CHUNK_SHIFT], RELAXED);
		h = atomic_load_explicit(&chunk->slot[index & (HIER_CHUNK - 1)], RELAXED);
		free_head = h->next_free;
		return h;
	}
	index = nr_slots;
	if (index >= HIER_MAX_CHUNKS * HIER_CHUNK)
		return NULL;
	chunk = atomic_load_explicit(&registry[index >> HIER_CHUNK_SHIFT], RELAXED);
	if (!chunk) {
		chunk = calloc(1, sizeof(*chunk));
		if (!chunk)
			return NULL;
		atomic_store_explicit(&registry[index >> HIER_CHUNK_SHIFT], chunk, RELEASE);
	}
	h = aligned_alloc(PMC_CACHELINE, (sizeof(*h) + PMC_CACHELINE - 1) & ~(size_t)(PMC_CACHELINE - 1));
	if (!h)
		return NULL;
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->index = index;
	atomic_store_explicit(&chunk->slot[index & (HIER_CHUNK - 1)], h, RELEASE);
	nr_slots++;
	return h;
}

/* Back on the free list, unless its generations are used up (then it retires). */
static void slot_free(struct pmc_hierarchy *h)
{
	if (atomic_load_explicit(&h->gen, RELAXED) + 2 > HIER_GEN_LIMIT)
		return;
	h->next_free = free_head;
	free_head = h->index + 1;
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
	if (cfg->kmem_limit < PMC_KMEM_LIMIT_ENFORCED || cfg->kmem_limit > PMC_KMEM_LIMIT_EOPNOTSUPP ||
	    cfg->failcnt < PMC_FAILCNT_NONE || cfg->failcnt > PMC_FAILCNT_ALL)
		return -EINVAL;
	if (cfg->hz < 0 || cfg->hz > 100000)         /* 0: the default, 1000 */
		return -EINVAL;
	if (cfg->kernel_stack_pages < 0 || cfg->kernel_stack_pages > 1024)  /* 0: the default, 4 */
		return -EINVAL;
	if (cfg->id_errno && cfg->id_errno != ENOSPC && cfg->id_errno != EBUSY)
		return -EINVAL;
	if (cfg->charge_loop != PMC_CHARGE_LOOP_CURRENT && cfg->charge_loop != PMC_CHARGE_LOOP_38)
		return -EINVAL;
	if (cfg->kmem_accounting != PMC_KMEM_ACCOUNTING_WHITELIST &&
	    cfg->kmem_accounting != PMC_KMEM_ACCOUNTING_BLACKLIST)
		return -EINVAL;
	if (cfg->objcg && cfg->reparent_user_pages)     /* two eras that never met */
		return -EINVAL;
	if (cfg->slab_mode < PMC_SLAB_AUTO || cfg->slab_mode > PMC_SLAB_NONE ||
	    cfg->slab_clone_name < PMC_SLAB_NAME_KMEMCG_ID ||
	    cfg->slab_clone_name > PMC_SLAB_NAME_SERIAL || cfg->slab_work_delay < 0)
		return -EINVAL;
	/* Clones charge whole pages to a cgroup; objcg's bytes need the objcg. */
	if ((cfg->slab_mode == PMC_SLAB_CLONE && cfg->objcg) ||
	    (cfg->slab_mode == PMC_SLAB_OBJCG && !cfg->objcg))
		return -EINVAL;
	/* The uncapped single-slot stock of 3.8 has exactly one slot. */
	if (!cfg->stock_refill_cap && cfg->stock_slots != 1)
		return -EINVAL;
	return 0;
}

int64_t pmc_hierarchy_new(const struct pmc_config *cfg)
{
	struct pmc_hierarchy *h;
	uint32_t tag, gen;
	int ret = check_config(cfg);

	if (ret)
		return ret;
	pthread_mutex_lock(&registry_lock);
	tag = tag_alloc();
	if (!tag) {
		pthread_mutex_unlock(&registry_lock);
		return -ENOSPC;
	}
	h = slot_alloc();
	if (!h) {
		tag_free(tag);
		pthread_mutex_unlock(&registry_lock);
		return -ENOMEM;
	}
	gen = atomic_load_explicit(&h->gen, RELAXED) + 1;      /* even -> odd */
	ret = memcg_hierarchy_init(h, cfg, tag);
	if (ret) {
		memcg_hierarchy_destroy(h);
		tag_free(tag);
		slot_free(h);
		pthread_mutex_unlock(&registry_lock);
		return ret;
	}
	h->handle = (int64_t)(((uint64_t)gen << 32) | h->index);
	/* Release: whoever finds this generation finds the hierarchy set up. */
	atomic_store_explicit(&h->gen, gen, RELEASE);
	nr_live++;
	pthread_mutex_unlock(&registry_lock);
	return h->handle;
}

/* Let others run while we wait for calls in progress (they may be slow: Python). */
static void wait_a_little(unsigned int *spins)
{
	if (++*spins < 64) {
		sched_yield();
	} else {
		struct timespec ts = { 0, 50 * 1000 };

		nanosleep(&ts, NULL);
	}
}

int64_t pmc_hierarchy_close(int64_t hierarchy)
{
	struct pmc_hierarchy *h;
	unsigned int spins = 0;
	uint32_t tag;

	pthread_mutex_lock(&registry_lock);
	h = hier_slot(hierarchy);
	if (!h || !hier_live(h, hierarchy)) {
		pthread_mutex_unlock(&registry_lock);
		return -ESTALE;
	}
	/*
	 * From inside a call on it (a reclaim callback) we would wait for
	 * ourselves; an owned CPU (cpu.c) would keep its lock from us.  Owners
	 * are made under registry_lock, so none can appear after this test.
	 */
	if (held_by_this_thread(h) || cpu_owned_any(h)) {
		pthread_mutex_unlock(&registry_lock);
		return -EBUSY;
	}
	/* Odd -> even: from here on no call gets past hier_live(). */
	atomic_store_explicit(&h->gen, handle_gen(hierarchy) + 1, RELEASE);
	pthread_mutex_unlock(&registry_lock);

	/* Calls that got in before: finished, or counted in inflight. */
	pthread_mutex_lock(&h->lock);
	pthread_mutex_unlock(&h->lock);
	synchronize_cpus(h);
	while (atomic_load_explicit(&h->inflight, ACQUIRE))
		wait_a_little(&spins);

	tag = h->tag;
	memcg_hierarchy_destroy(h);
	pthread_mutex_lock(&registry_lock);
	tag_free(tag);
	slot_free(h);
	nr_live--;
	pthread_mutex_unlock(&registry_lock);
	return 0;
}

int64_t pmc_hierarchy_nr_live(void)
{
	int64_t n;

	pthread_mutex_lock(&registry_lock);
	n = nr_live;
	pthread_mutex_unlock(&registry_lock);
	return n;
}

int64_t pmc_hierarchy_put(int64_t hierarchy)
{
	return pmc_hierarchy_close(hierarchy);
}
