/*
 * sock.c - sockets: network buffers charged to the cgroup of the task that
 * made the socket.
 *
 * Follows mm/memcontrol.c (mem_cgroup_sk_alloc, mem_cgroup_sk_free,
 * mem_cgroup_charge_skmem, mem_cgroup_uncharge_skmem: 6.12; renamed
 * mem_cgroup_sk_charge/_uncharge by 6.18, same body), mm/memcontrol-v1.c
 * (memcg1_charge_skmem, memcg_update_tcp_max) and, for 3.x, tcp_memcontrol.c
 * and include/net/sock.h (sk_enter/leave_memory_pressure).
 *
 *  - A socket is bound at creation to its creator's cgroup (sk->sk_memcg)
 *    and keeps it: its reference (css_tryget) holds a removed cgroup dying
 *    until the socket is closed, and the socket goes on charging it.  Not
 *    bound: in the root, and on cgroup v1 where socket accounting is not
 *    active (memory.kmem.tcp.limit_in_bytes never written; on 3.x, no
 *    finite limit).  An unbound socket's pages are the protocol's only.
 *  - cgroup v2: socket pages are charged to memory through the stock, with
 *    the whole try_charge (reclaim, OOM), and counted in the sock
 *    statistic; they come back through the stock (refill_stock).
 *  - cgroup v1: socket pages are charged to the tcpmem counter alone, never
 *    to memory; a refusal raises the cgroup's pressure flag.
 *  - Socket pages belong to no task: the OOM killer neither counts them in
 *    a score nor frees them by killing (oom.c never sees them).
 *
 * Sockets are kept under h->lock; their handles (the task kind with
 * MEMCG_HANDLE_SOCK_SLOT in the slot) are looked up there.  A socket struct
 * lives while calls hold it (refs), past its close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memcg.h"

#define RELAXED memory_order_relaxed

struct pmc_sock {
	struct pmc_hierarchy *h;
	uint32_t slot, gen;             /* slot without MEMCG_HANDLE_SOCK_SLOT */
	bool open;                      /* under h->lock */
	long refs;                      /* its handle, and calls in progress; under h->lock */
	struct mem_cgroup *memcg;       /* sk->sk_memcg: a reference (refs) while open; NULL */
	unsigned long pages;            /* held: charged to memcg when bound; under h->lock */
};

static int64_t sock_handle(struct pmc_sock *s)
{
	return (int64_t)(((uint64_t)s->h->tag << MEMCG_HANDLE_TAG_SHIFT) | MEMCG_HANDLE_KIND_TASK |
			 ((uint64_t)s->gen << MEMCG_HANDLE_SLOT_BITS) | MEMCG_HANDLE_SOCK_SLOT |
			 s->slot);
}

/* Under h->lock: an open socket of this hierarchy, or NULL (*err says why). */
static struct pmc_sock *sock_lookup(struct pmc_hierarchy *h, int64_t handle, int64_t *err)
{
	uint64_t v = (uint64_t)handle;
	uint32_t slot = (uint32_t)(v & MEMCG_HANDLE_SLOT_MASK);
	struct pmc_sock *s;

	*err = -EINVAL;
	if (handle <= 0 || v >> MEMCG_HANDLE_TAG_SHIFT != h->tag || !(v & MEMCG_HANDLE_KIND_TASK) ||
	    !(slot & MEMCG_HANDLE_SOCK_SLOT))
		return NULL;
	s = idmap_lookup(&h->socks, slot & ~MEMCG_HANDLE_SOCK_SLOT,
			 (uint32_t)(v >> MEMCG_HANDLE_SLOT_BITS) & MEMCG_HANDLE_GEN_MASK);
	if (!s || !s->open) {
		*err = -ESTALE;
		return NULL;
	}
	*err = 0;               /* found: as task_lookup */
	return s;
}

static void sock_put(struct pmc_sock *s)
{
	if (--s->refs == 0)
		free(s);
}

/* At the end of a hierarchy: every socket struct left (the cgroups go with it). */
void socks_destroy(struct pmc_hierarchy *h)
{
	for (uint32_t slot = 1; slot < h->nr_sock_slots; slot++)
		free(idmap_get(&h->socks, slot));
}

/* Hold the hierarchy (a call that goes on without its lock): see hierarchy.c. */
static struct pmc_hierarchy *hold(int64_t hierarchy, struct hier_frame *frame)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);

	if (h) {
		hier_hold(h, frame);
		pthread_mutex_unlock(&h->lock);
	}
	return h;
}

static void release(struct pmc_hierarchy *h, struct hier_frame *frame)
{
	finish_call(h);
	hier_unhold(h, frame);
}

int64_t pmc_sock_create(int64_t hierarchy, int64_t cgroup)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);
	struct mem_cgroup *memcg;
	struct pmc_sock *s;
	int64_t ret;

	if (!h)
		return hier_lock_error();
	memcg = memcg_lookup(h, cgroup);
	/* The creating task is in the cgroup: it is online. */
	if (!memcg || !memcg_online(memcg)) {
		ret = memcg ? -ESTALE : memcg_lookup_error(h, cgroup);
		goto unlock;
	}
	s = calloc(1, sizeof(*s));
	if (!s || (!memcg_is_root(memcg) && memcg_ext_prepare(memcg))) {
		free(s);
		ret = -ENOMEM;
		goto unlock;
	}
	ret = idmap_alloc(&h->socks, &s->slot);
	if (ret) {
		free(s);
		goto unlock;
	}
	s->h = h;
	s->open = true;
	s->refs = 1;
	if (s->slot >= h->nr_sock_slots)
		h->nr_sock_slots = s->slot + 1;
	/*
	 * mem_cgroup_sk_alloc: never the root; on v1 only where socket
	 * accounting is active.  css_tryget of an online cgroup succeeds: a
	 * reference, taken under h->lock, which every free also holds.
	 */
	if (!memcg_is_root(memcg) &&
	    (h->cfg.version == 2 || atomic_load_explicit(&memcg->cold->tcpmem_active, RELAXED))) {
		atomic_fetch_add_explicit(&memcg->refs, 1, RELAXED);
		memcg->cold->ext->nr_sockets++;
		s->memcg = memcg;
	}
	s->gen = idmap_publish(&h->socks, s->slot, s);
	ret = sock_handle(s);
unlock:
	pthread_mutex_unlock(&h->lock);
	return ret;
}

int64_t pmc_sock_charge(int64_t hierarchy, int64_t sock, int64_t nr_pages, int32_t cpu,
			uint32_t gfp)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	struct mem_cgroup *memcg;
	struct pmc_sock *s;
	bool charged;
	int64_t ret;

	if (nr_pages < 0 || nr_pages > PMC_PAGE_COUNTER_MAX || (gfp & ~(uint32_t)PMC_GFP_ALL))
		return -EINVAL;
	h = hold(hierarchy, &frame);
	if (!h)
		return hier_lock_error();
	if (cpu < 0 || cpu >= h->cfg.ncpus) {
		ret = -EINVAL;
		goto out;
	}
	pthread_mutex_lock(&h->lock);
	s = sock_lookup(h, sock, &ret);
	if (s && s->pages + (unsigned long)nr_pages > PMC_PAGE_COUNTER_MAX) {
		ret = -EINVAL;          /* more than a socket could ever hold: nothing changes */
		s = NULL;
	}
	if (!s) {
		pthread_mutex_unlock(&h->lock);
		goto out;
	}
	s->refs++;
	memcg = s->memcg;
	/*
	 * The charge's own css reference: a close racing with the charge
	 * drops the socket's, and the pages charged here must still find
	 * the cgroup to go back to.
	 */
	if (memcg)
		atomic_fetch_add_explicit(&memcg->refs, 1, RELAXED);
	pthread_mutex_unlock(&h->lock);

	/* Not bound: the protocol's own accounting only (not modelled), never refused. */
	charged = true;
	ret = memcg ? memcg_charge_skmem(h, memcg, (unsigned long)nr_pages, cpu, gfp, &charged) : 0;

	pthread_mutex_lock(&h->lock);
	if (charged && !s->open) {
		/* Closed meanwhile: what it held went back; so do these pages. */
		if (memcg)
			memcg_uncharge_skmem(h, memcg, (unsigned long)nr_pages, cpu);
		if (ret == 0)
			ret = -ESTALE;
	} else if (charged) {
		/* Held even when the memory.high work then failed (-ECANCELED). */
		s->pages += (unsigned long)nr_pages;
		if (ret == 0)
			ret = 1;
	} else if (ret == 1) {
		ret = 0;
	}
	sock_put(s);
	if (memcg) {
		/* Release: pairs with the acquire in memcg_freeable. */
		atomic_fetch_sub_explicit(&memcg->refs, 1, memory_order_release);
		memcg_free_queue(h, memcg);
	}
	pthread_mutex_unlock(&h->lock);
out:
	release(h, &frame);
	return ret;
}

int64_t pmc_sock_uncharge(int64_t hierarchy, int64_t sock, int64_t nr_pages, int32_t cpu)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	struct pmc_sock *s;
	int64_t ret;

	if (nr_pages < 0 || nr_pages > PMC_PAGE_COUNTER_MAX)
		return -EINVAL;
	h = hold(hierarchy, &frame);
	if (!h)
		return hier_lock_error();
	pthread_mutex_lock(&h->lock);
	s = sock_lookup(h, sock, &ret);
	if (s && (cpu < 0 || cpu >= h->cfg.ncpus || (unsigned long)nr_pages > s->pages))
		ret = -EINVAL;
	else if (s)
		ret = 0;
	if (!ret) {
		/* h->lock before the CPU lock: the order every path keeps. */
		s->pages -= (unsigned long)nr_pages;
		if (s->memcg)
			memcg_uncharge_skmem(h, s->memcg, (unsigned long)nr_pages, cpu);
	}
	pthread_mutex_unlock(&h->lock);
	release(h, &frame);
	return ret;
}

int64_t pmc_sock_close(int64_t hierarchy, int64_t sock, int32_t cpu)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h = hold(hierarchy, &frame);
	struct mem_cgroup *memcg;
	struct pmc_sock *s;
	int64_t ret;

	if (!h)
		return hier_lock_error();
	pthread_mutex_lock(&h->lock);
	s = sock_lookup(h, sock, &ret);
	if (s && (cpu < 0 || cpu >= h->cfg.ncpus)) {
		ret = -EINVAL;
	} else if (s) {
		/* sk_mem_reclaim at close, then mem_cgroup_sk_free: css_put. */
		s->open = false;
		idmap_unpublish(&h->socks, s->slot);
		idmap_free(&h->socks, s->slot);
		memcg = s->memcg;
		if (memcg) {
			memcg_uncharge_skmem(h, memcg, s->pages, cpu);
			memcg->cold->ext->nr_sockets--;
			/* Release: pairs with the acquire in memcg_freeable. */
			atomic_fetch_sub_explicit(&memcg->refs, 1, memory_order_release);
			memcg_free_queue(h, memcg);     /* freed at the end of the call, if it can be */
			s->memcg = NULL;
		}
		s->pages = 0;
		sock_put(s);            /* the reference its handle held */
		ret = 0;
	}
	pthread_mutex_unlock(&h->lock);
	release(h, &frame);
	return ret;
}

int64_t pmc_sock_info(int64_t hierarchy, int64_t sock, struct pmc_sock_info *info)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);
	struct pmc_sock *s;
	int64_t ret;

	if (!h)
		return hier_lock_error();
	s = sock_lookup(h, sock, &ret);
	if (s) {
		memset(info, 0, sizeof(*info));
		info->handle = sock_handle(s);
		info->cgroup = s->memcg ? memcg_handle(s->memcg) : 0;
		info->pages = (int64_t)s->pages;
		ret = 0;
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/*
 * memcg_update_tcp_max's tcpmem_active (4.5+: the first successful write
 * sets it for good), or 3.x's MEMCG_SOCK_ACTIVE bit (set by a finite
 * limit, cleared by -1): cgroupfs decides, by era, after the limit is set.
 */
int64_t pmc_cgroup_tcpmem_active(int64_t hierarchy, int64_t cgroup, int32_t value)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);
	struct mem_cgroup *memcg;
	int64_t ret;

	if (!h)
		return hier_lock_error();
	memcg = memcg_lookup(h, cgroup);
	if (!memcg || memcg_shell(memcg)) {
		ret = memcg ? -ESTALE : memcg_lookup_error(h, cgroup);
	} else if (h->cfg.version != 1 || value > 1) {
		ret = -EINVAL;
	} else {
		if (value >= 0)
			atomic_store_explicit(&memcg->cold->tcpmem_active, value == 1, RELAXED);
		ret = atomic_load_explicit(&memcg->cold->tcpmem_active, RELAXED);
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}
