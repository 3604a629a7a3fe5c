/*
 * cpu.c - CPUs owned by their callers.
 *
 * Kernel code runs on its CPU: a charge finds its stock without asking
 * anyone.  The single calls cannot assume that (any thread may name any
 * CPU), so each takes the CPU's lock, one atomic exchange.  An embedder
 * that runs one simulated CPU per thread can instead own the CPU: acquire
 * takes the lock once and keeps it, every charge and uncharge on the token
 * is then plain loads and stores on the stock (and the counters' atomics
 * where the stock cannot serve), and release lets the lock go.
 *
 * The contract (pymemcg.h has the short form):
 *  - A CPU is held like a lock: for a burst of calls.  Meanwhile whatever
 *    else needs that CPU's lock waits for the release: single calls and
 *    replays naming that CPU, drain_all (a removal drains too), the frees
 *    of removed cgroups (they take every CPU lock once), close (refused
 *    with -EBUSY instead, since it cannot wait for a thread that may never
 *    let go).  A charge that the stock cannot serve lets the lock go for
 *    its slow part (reclaim, the reclaim callback, drains), as the single
 *    call does where the kernel may sleep, and takes it again.
 *  - Only the owning thread may use the token (-EPERM otherwise), one CPU
 *    per thread and hierarchy (-EDEADLK), and while it holds one the thread
 *    may call nothing else of that hierarchy (-EDEADLK): it would wait for
 *    its own CPU, or for a thread that waits for it.  A CPU owned already
 *    is -EBUSY; a released token -ESTALE.  None of these waits or changes
 *    anything.
 *  - A thread that exits owning CPUs gives them back (a pthread key's
 *    destructor), so an abandoned owner cannot stall the others for ever.
 *
 * Tokens: the registry index of the hierarchy in bits 0..15, the CPU in
 * 16..27, an acquisition number in 28..62.  The number comes from one
 * counter for every CPU of every hierarchy, so a token is never reused
 * while the slot's memory lives (a new stock array starts with no owner).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "memcg.h"

#define RELAXED memory_order_relaxed

#define TOKEN_CPU_SHIFT 16
#define TOKEN_SEQ_SHIFT 28
#define TOKEN_CPU_MASK 0xfffu
#define TOKEN_SEQ_MASK ((1ull << 35) - 1)

_Thread_local struct memcg_stock_pcp *cpu_owned_head __attribute__((tls_model("initial-exec")));
/* Its address names this thread while it lives. */
static _Thread_local char owner_marker __attribute__((tls_model("initial-exec")));

/*
 * The token this thread used last, and what it names: a call with the same
 * token skips the registry walk.  Only this thread writes it, when one of
 * its calls validated the token the long way and when it gives the CPU
 * up, so a token found here is this thread's and still owned.
 */
static struct memcg_stock_pcp no_pcp;   /* never locked: the empty cache's */
static _Thread_local struct {
	int64_t token;
	struct pmc_hierarchy *h;
	struct memcg_stock_pcp *pcp;
} last_owned __attribute__((tls_model("initial-exec"))) = { .pcp = &no_pcp };

static uint64_t acquisitions;           /* under the registry lock */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

static inline uintptr_t this_thread(void)
{
	return (uintptr_t)&owner_marker;
}

bool cpu_owner_holds_slow(struct pmc_hierarchy *h)
{
	for (struct memcg_stock_pcp *p = cpu_owned_head; p; p = p->owner.next)
		if (p->owner.h == h && p->owner.locked)
			return true;
	return false;
}

/* Does anyone own a CPU of h?  Under the registry lock (close). */
bool cpu_owned_any(struct pmc_hierarchy *h)
{
	for (int cpu = 0; cpu < h->cfg.ncpus; cpu++)
		if (atomic_load_explicit(&stock_of(h, cpu)->owner.token, RELAXED))
			return true;
	return false;
}

/*
 * The CPU a token names, if this thread owns it and holds its lock now:
 * 0, -ESTALE (released, or never a token), -EPERM (another thread's),
 * -EDEADLK (used from inside one of its own slow paths, lock let go).
 * No atomic read-modify-write: a few loads.  The token's hierarchy is
 * live while it is owned, since close refuses then.
 */
static int owned_cpu_slow(int64_t token, struct pmc_hierarchy **hp,
			  struct memcg_stock_pcp **pcpp);

static inline int owned_cpu(int64_t token, struct pmc_hierarchy **hp,
			    struct memcg_stock_pcp **pcpp)
{
	/* The empty cache's token 0 names no_pcp, which is never locked. */
	if (__builtin_expect(token == last_owned.token && last_owned.pcp->owner.locked, 1)) {
		*hp = last_owned.h;
		*pcpp = last_owned.pcp;
		return 0;
	}
	return owned_cpu_slow(token, hp, pcpp);
}

__attribute__((noinline))
static int owned_cpu_slow(int64_t token, struct pmc_hierarchy **hp,
			  struct memcg_stock_pcp **pcpp)
{
	uint32_t cpu = (uint32_t)((uint64_t)token >> TOKEN_CPU_SHIFT) & TOKEN_CPU_MASK;
	struct pmc_hierarchy *h;
	struct memcg_stock_pcp *pcp;

	if (token <= 0 || !(h = hier_slot_index((uint32_t)token & 0xffffu)))
		return -ESTALE;
	if (cpu >= atomic_load_explicit(&h->stock_cap, memory_order_acquire))
		return -ESTALE;
	pcp = stock_of(h, (int)cpu);
	if (__builtin_expect(atomic_load_explicit(&pcp->owner.token, RELAXED) != token, 0))
		return -ESTALE;
	/*
	 * Relaxed: the token matched, so this thread either is the owner (it
	 * wrote `thread` itself) or reads another thread's marker, never ours.
	 */
	if (__builtin_expect(atomic_load_explicit(&pcp->owner.thread, RELAXED) != this_thread(), 0))
		return -EPERM;
	if (__builtin_expect(!pcp->owner.locked, 0))
		return -EDEADLK;
	last_owned.token = token;
	last_owned.h = h;
	last_owned.pcp = pcp;
	*hp = h;
	*pcpp = pcp;
	return 0;
}

/* memcg_lookup, remembering the answer while the lock stays taken. */
static inline struct mem_cgroup *owned_lookup(struct pmc_hierarchy *h,
					      struct memcg_stock_pcp *pcp, int64_t cgroup)
{
	struct mem_cgroup *memcg;

	if (cgroup == pcp->owner.last_handle)
		return pcp->owner.last_memcg;
	memcg = memcg_lookup(h, cgroup);
	if (memcg) {
		pcp->owner.last_handle = cgroup;
		pcp->owner.last_memcg = memcg;
		pcp->owner.fast = false;        /* its slot is not known yet */
	}
	return memcg;
}

static inline void owned_forget(struct memcg_stock_pcp *pcp)
{
	pcp->owner.last_handle = 0;
	pcp->owner.last_memcg = NULL;
	pcp->owner.fast = false;
}

/* Give up ownership; the lock is held on entry and let go. */
static void disown(struct memcg_stock_pcp *pcp)
{
	struct pmc_hierarchy *h = pcp->owner.h;
	struct memcg_stock_pcp **link = &cpu_owned_head;
	struct hier_frame frame;

	while (*link != pcp)
		link = &(*link)->owner.next;
	*link = pcp->owner.next;
	/*
	 * Hold the hierarchy before the token goes (while the lock is held, as
	 * hier_hold wants): from then on close may begin, and waits for us.
	 */
	hier_hold(h, &frame);
	if (last_owned.pcp == pcp) {
		last_owned.token = 0;
		last_owned.pcp = &no_pcp;
	}
	owned_forget(pcp);
	atomic_store_explicit(&pcp->owner.thread, 0, RELAXED);
	atomic_store_explicit(&pcp->owner.token, 0, RELAXED);
	pcp->owner.locked = false;
	pcp->owner.h = NULL;
	pcp->owner.next = NULL;
	pcp_unlock(pcp);
	finish_call(h);
	hier_unhold(h, &frame);
}

/* A thread that exits owning CPUs: give them back. */
static void owner_exit(void *unused)
{
	(void)unused;
	while (cpu_owned_head)
		disown(cpu_owned_head);
}

static void make_key(void)
{
	pthread_key_create(&exit_key, owner_exit);
}

int64_t pmc_cpu_acquire(int64_t hierarchy, int32_t cpu)
{
	struct pmc_hierarchy *h = hier_slot(hierarchy);
	struct memcg_stock_pcp *pcp;
	int64_t token;
	int ret;

	pthread_once(&key_once, make_key);
	if (!h)
		return -ESTALE;
	for (pcp = cpu_owned_head; pcp; pcp = pcp->owner.next)
		if (pcp->owner.h == h)
			return -EDEADLK;        /* one CPU per thread and hierarchy */
	hier_registry_lock();
	if (!hier_live(h, hierarchy)) {
		hier_registry_unlock();
		return -ESTALE;
	}
	if (cpu < 0 || cpu >= h->cfg.ncpus) {
		hier_registry_unlock();
		return -EINVAL;
	}
	/*
	 * Tokens are set only under the registry lock, which we hold: a CPU
	 * without one has at most a passing holder, worth waiting for.
	 */
	if (atomic_load_explicit(&stock_of(h, cpu)->owner.token, RELAXED)) {
		hier_registry_unlock();
		return -EBUSY;
	}
	ret = hier_cpu_lock(hierarchy, cpu, &h);
	if (ret) {
		hier_registry_unlock();
		return ret;
	}
	pcp = stock_of(h, cpu);
	acquisitions = (acquisitions + 1) & TOKEN_SEQ_MASK;
	if (!acquisitions)
		acquisitions = 1;
	token = (int64_t)(h->index | (uint64_t)cpu << TOKEN_CPU_SHIFT |
			  acquisitions << TOKEN_SEQ_SHIFT);
	pcp->owner.h = h;
	pcp->owner.cpu = cpu;
	pcp->owner.locked = true;
	owned_forget(pcp);
	pcp->owner.next = cpu_owned_head;
	cpu_owned_head = pcp;
	atomic_store_explicit(&pcp->owner.thread, this_thread(), RELAXED);
	atomic_store_explicit(&pcp->owner.token, token, RELAXED);
	hier_registry_unlock();
	/* Any non-NULL value: the destructor runs at this thread's exit. */
	pthread_setspecific(exit_key, &owner_marker);
	return token;
}

int64_t pmc_cpu_release(int64_t token)
{
	struct pmc_hierarchy *h;
	struct memcg_stock_pcp *pcp;
	int ret = owned_cpu(token, &h, &pcp);

	if (ret)
		return ret;
	disown(pcp);
	return 0;
}

/*
 * Let the lock go around work that takes locks (a slow charge, the frees
 * after an uncharge), as the single call lets its lock go where the kernel
 * may sleep: a reclaim callback may call anything meanwhile.
 */
static void owner_unlock(struct memcg_stock_pcp *pcp)
{
	owned_forget(pcp);
	pcp->owner.locked = false;
	pcp_unlock(pcp);
}

static void owner_relock(struct memcg_stock_pcp *pcp)
{
	pcp_lock(pcp);
	pcp->owner.locked = true;
}

/* The frees an uncharge made possible, outside the lock (unlock_finish_call). */
static void owner_finish(struct pmc_hierarchy *h, struct memcg_stock_pcp *pcp)
{
	struct hier_frame frame;

	if (!memcg_free_pending(h))
		return;
	hier_hold(h, &frame);
	owner_unlock(pcp);
	finish_call(h);
	hier_unhold(h, &frame);
	owner_relock(pcp);
}

/*
 * Everything but a stock hit on the cgroup looked up last: the token
 * checked the long way, the look-up, then the hit or the single call's
 * path (entered holding the lock, it returns without it: take it back).
 */
__attribute__((noinline))
static int64_t owned_charge(int64_t token, int64_t cgroup, int64_t nr_pages, uint32_t gfp,
			    int32_t kmem)
{
	struct pmc_hierarchy *h;
	struct memcg_stock_pcp *pcp;
	int ret = owned_cpu(token, &h, &pcp);
	int64_t r;

	if (ret)
		return ret;
	if (nr_pages < 0 || nr_pages > PMC_PAGE_COUNTER_MAX || (gfp & ~(uint32_t)PMC_GFP_ALL))
		return -EINVAL;
	if (memcg_charge_hit(h, owned_lookup(h, pcp, cgroup), (unsigned long)nr_pages,
			     pcp->owner.cpu, kmem != 0)) {
		pcp->owner.last_slot = stock_slot_of(pcp, pcp->owner.last_memcg);
		pcp->owner.fast = !kmem && stock_slot_fast(h, pcp->owner.last_memcg,
							   pcp->owner.last_slot);
		return 0;
	}
	owned_forget(pcp);
	pcp->owner.locked = false;
	r = memcg_try_charge(h, cgroup, (unsigned long)nr_pages, pcp->owner.cpu, gfp, kmem != 0);
	owner_relock(pcp);
	return r;
}

/*
 * The fast path: this thread's last token, the lock held, the cgroup of
 * the last call, user pages, a stock hit.  No call, no atomic, no frame;
 * anything else goes the long way (owned_charge), which checks everything
 * again (kernel memory's conditions depend on the era: that way too).
 */
int64_t pmc_cpu_try_charge(int64_t token, int64_t cgroup, int64_t nr_pages, uint32_t gfp,
			   int32_t kmem)
{
	struct memcg_stock_pcp *pcp = last_owned.pcp;

	if (__builtin_expect(token == last_owned.token && pcp->owner.fast &&
			     cgroup == pcp->owner.last_handle && !kmem &&
			     !(gfp & ~(uint32_t)PMC_GFP_ALL) &&
			     stock_hit_slot(last_owned.h, pcp, pcp->owner.last_memcg,
					    pcp->owner.last_slot, (unsigned long)nr_pages), 1))
		return 0;
	return owned_charge(token, cgroup, nr_pages, gfp, kmem);
}

/*
 * The uncharge on an owned CPU, as memcg_uncharge does it, clamps noted in
 * `log` (a mask, or one byte per counter and level).  0 or -errno.
 */
static int owned_uncharge(int64_t token, int64_t cgroup, int64_t nr_pages, int32_t kmem,
			  struct clamp_log *log)
{
	struct pmc_hierarchy *h;
	struct memcg_stock_pcp *pcp;
	struct mem_cgroup *memcg;
	int ret = owned_cpu(token, &h, &pcp);

	if (__builtin_expect(ret, 0))
		return ret;
	if (nr_pages < 0 || nr_pages > PMC_PAGE_COUNTER_MAX)
		return -EINVAL;
	memcg = owned_lookup(h, pcp, cgroup);
	/* A shell is only there for its objcg's kernel pages (memcg_uncharge). */
	if (!memcg || (memcg_shell(memcg) && !kmem))
		return memcg ? -ESTALE : memcg_lookup_error(h, cgroup);
	if (memcg_uncharge_hit(h, memcg, (unsigned long)nr_pages, pcp->owner.cpu, kmem != 0))
		return 0;
	memcg_uncharge_locked(h, memcg, (unsigned long)nr_pages, pcp->owner.cpu, kmem != 0, log);
	owner_finish(h, pcp);
	return 0;
}

int64_t pmc_cpu_uncharge(int64_t token, int64_t cgroup, int64_t nr_pages, int32_t kmem)
{
	struct clamp_log log = { 0 };
	int ret = owned_uncharge(token, cgroup, nr_pages, kmem, &log);

	return ret ? ret : (int64_t)log.mask;
}

int64_t pmc_cpu_uncharge_levels(int64_t token, int64_t cgroup, int64_t nr_pages, int32_t kmem,
				uint8_t *clamped, int64_t n)
{
	struct clamp_log log = { .levels = clamped, .n = (size_t)n };
	int ret;

	if (n < 0)
		return -EINVAL;
	memset(clamped, 0, (size_t)n * MEMCG_NR_COUNTERS);
	ret = owned_uncharge(token, cgroup, nr_pages, kmem, &log);
	return ret ? ret : (int64_t)log.nr_clamped;
}

int64_t pmc_cpu_drain(int64_t token)
{
	struct pmc_hierarchy *h;
	struct memcg_stock_pcp *pcp;
	int ret = owned_cpu(token, &h, &pcp);

	if (ret)
		return ret;
	drain_stock_fully(h, pcp->owner.cpu);
	owner_finish(h, pcp);
	return 0;
}

int64_t pmc_cpu_of(int64_t token)
{
	struct pmc_hierarchy *h;
	struct memcg_stock_pcp *pcp;
	int ret = owned_cpu(token, &h, &pcp);

	return ret ? ret : pcp->owner.cpu;
}

int64_t pmc_hierarchy_cpu_owned(int64_t hierarchy)
{
	struct pmc_hierarchy *h = hier_slot(hierarchy);
	int64_t n = 0;

	if (!h)
		return -ESTALE;
	hier_registry_lock();
	if (!hier_live(h, hierarchy)) {
		hier_registry_unlock();
		return -ESTALE;
	}
	for (int cpu = 0; cpu < h->cfg.ncpus; cpu++)
		n += atomic_load_explicit(&stock_of(h, cpu)->owner.token, RELAXED) != 0;
	hier_registry_unlock();
	return n;
}

int64_t pmc_cpu_held_here(int64_t hierarchy)
{
	struct pmc_hierarchy *h = hier_slot(hierarchy);

	return h && cpu_owner_holds(h);
}
