/*
 * task.c - tasks: a kernel stack, user pages, the page tables that map them.
 *
 * The kmem controller was designed for this: a cgroup whose tasks use
 * little user memory but much kernel memory (stacks of a fork bomb, page
 * tables of a sparse mapping) must be charged for it, so that it cannot push
 * its neighbours into reclaim or the OOM killer.
 *
 *  - fork charges the kernel stack as kernel memory, to the forking (the new
 *    task's) cgroup: 3.8 as one order-1 allocation, all or nothing; current
 *    kernels page by page (VMAP stacks, memcg_charge_kernel_stack), undoing
 *    what was charged when a page is refused.  A refused fork leaves
 *    nothing charged.
 *  - a fault maps one user page: first the page tables the mapping needs
 *    (charged as kernel memory with __GFP_ACCOUNT where the era accounts
 *    them, 4.8+), then the page.  x86-64 four-level tables: one PTE page per
 *    512 mapped pages, one PMD page per 512 PTE pages, one PUD page per 512
 *    PMD pages; a sparse task maps each page in its own 2 MiB region (one
 *    PTE page per page).  The PGD, allocated with the mm, is not modelled.
 *    Page tables follow the high-water mark of the mapping and are freed at
 *    exit (the kernel frees them on unmap only when a whole range goes).
 *  - a move leaves what the task charged where it was (cgroup v2; v1 with
 *    move_charge_at_immigrate = 0, the default): later faults charge the
 *    new cgroup.
 *  - a kernel allocation the task makes (pmc_task_kmem_charge) is charged
 *    to its cgroup when the era's selective accounting rule says so (SPEC
 *    6), in the task's context; the pages belong to no task afterwards.
 *  - exit uncharges everything, each part from where it went: user pages
 *    from their cgroup (3.8: from where offline moved them), kernel pages
 *    through their objcg (current kernels: the nearest online ancestor of
 *    the cgroup they were charged to, once that is gone).
 *
 * Tasks are kept under h->lock; their handles (kind: task) are looked up
 * there.  A task struct lives while calls hold it (refs), past its exit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memcg.h"

#define RELAXED memory_order_relaxed
#define PTRS_PER_TABLE 512ul

int64_t task_handle(struct pmc_task *t)
{
	return (int64_t)(((uint64_t)t->h->tag << MEMCG_HANDLE_TAG_SHIFT) | MEMCG_HANDLE_KIND_TASK |
			 ((uint64_t)t->gen << MEMCG_HANDLE_SLOT_BITS) | t->slot);
}

/* Under h->lock: a live task of this hierarchy, or NULL (*err says why). */
static struct pmc_task *task_lookup(struct pmc_hierarchy *h, int64_t handle, int64_t *err)
{
	uint64_t v = (uint64_t)handle;
	struct pmc_task *t;

	*err = -EINVAL;
	if (handle <= 0 || v >> MEMCG_HANDLE_TAG_SHIFT != h->tag || !(v & MEMCG_HANDLE_KIND_TASK))
		return NULL;
	t = idmap_lookup(&h->tasks, (uint32_t)(v & MEMCG_HANDLE_SLOT_MASK),
			 (uint32_t)(v >> MEMCG_HANDLE_SLOT_BITS) & MEMCG_HANDLE_GEN_MASK);
	if (!t || !atomic_load_explicit(&t->alive, RELAXED)) {
		*err = -ESTALE;
		return NULL;
	}
	*err = 0;               /* found: callers start from success (fault(0) is one) */
	return t;
}

static void task_put(struct pmc_task *t)
{
	if (--t->refs == 0)
		free(t);
}

/* --- page-table geometry ------------------------------------------------------- */

static unsigned long div_up(unsigned long a, unsigned long b)
{
	return a / b + (a % b != 0);
}

/* The page-table pages of each level that map `mapped` pages. */
static void pgtables_for(bool sparse, unsigned long mapped, unsigned long *pte,
			 unsigned long *pmd, unsigned long *pud)
{
	*pte = sparse ? mapped : div_up(mapped, PTRS_PER_TABLE);
	*pmd = div_up(*pte, PTRS_PER_TABLE);
	*pud = div_up(*pmd, PTRS_PER_TABLE);
}

/* --- segments -------------------------------------------------------------------- */

/* Add pages charged to memcg to a list (the newest segment grows if it is memcg's). */
static int seg_add(struct task_seg **list, struct mem_cgroup *memcg, unsigned long nr, bool user)
{
	struct task_seg *s = *list;

	if (s && s->memcg == memcg && !s->root_charged) {
		s->nr_pages += nr;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s || memcg_ext_prepare(memcg)) {
		free(s);
		return -ENOMEM;
	}
	s->memcg = memcg;
	s->nr_pages = nr;
	s->next = *list;
	*list = s;
	if (user) {
		s->mnext = memcg->cold->ext->user_segs;
		if (s->mnext)
			s->mnext->mprev = s;
		memcg->cold->ext->user_segs = s;
	} else {
		memcg->cold->ext->task_ksegs++;
	}
	return 0;
}

static void seg_unlink_user(struct task_seg *s)
{
	if (s->mprev)
		s->mprev->mnext = s->mnext;
	else
		s->memcg->cold->ext->user_segs = s->mnext;
	if (s->mnext)
		s->mnext->mprev = s->mprev;
}

/*
 * A segment goes (unmapped, or the task ended): its cgroup no longer held
 * by it may be freeable.  Under h->lock: the free runs when the call ends.
 */
static void seg_free(struct pmc_hierarchy *h, struct task_seg *s, bool user)
{
	if (user)
		seg_unlink_user(s);
	else
		s->memcg->cold->ext->task_ksegs--;
	if (!memcg_online(s->memcg))
		memcg_free_queue(h, s->memcg);
	free(s);
}

/*
 * Are these kernel pages given back one page at a time?  The kernel frees
 * each page-table page on its own (pte_free and friends), and a VMAP stack
 * page by page (exit_task_stack_account, memcg_charge_kernel_stack's error
 * path): a memcg_kmem_uncharge_page, hence a refill_stock, for each.  With
 * the stock's refill cap the grouping shows: four 1-page refills of a slot
 * holding 63 leave 2 pages cached, one 4-page refill drains it to 0.  3.8
 * freed its order-1 stack as one allocation.
 */
static bool kmem_per_page(const struct pmc_hierarchy *h, enum memcg_stat_idx stat)
{
	return stat == MEMCG_STAT_PAGETABLES || h->cfg.stack_per_page;
}

/*
 * Uncharge a segment's pages on a CPU (h->lock held: nothing is freed
 * meanwhile); kernel pages also take their own statistic (kernel_stack,
 * pagetables) with them, wherever their objcg points now.
 */
static void seg_uncharge(struct pmc_hierarchy *h, struct task_seg *s, unsigned long nr, int cpu,
			 bool kmem, enum memcg_stat_idx stat)
{
	cpu_lock(h, cpu);
	if (!kmem && s->root_charged)
		memcg_uncharge_root_user(h, nr, cpu);
	else if (!kmem)
		memcg_uncharge_locked(h, s->memcg, nr, cpu, false, NULL);
	else if (!kmem_per_page(h, stat))
		memcg_uncharge_kmem_stat(h, s->memcg, nr, cpu, stat);
	else
		for (unsigned long i = 0; i < nr; i++)
			memcg_uncharge_kmem_stat(h, s->memcg, 1, cpu, stat);
	cpu_unlock(h, cpu);
}

/*
 * Kernel pages given back on a failure path (not under h->lock): page by
 * page where the kernel frees them so (see kmem_per_page).
 */
static void uncharge_kmem_pages(struct pmc_hierarchy *h, int64_t cgroup, unsigned long nr,
				int cpu, enum memcg_stat_idx stat)
{
	if (!kmem_per_page(h, stat)) {
		pmc_cgroup_uncharge(h->handle, cgroup, (int64_t)nr, cpu, 1);
		return;
	}
	for (unsigned long i = 0; i < nr; i++)
		pmc_cgroup_uncharge(h->handle, cgroup, 1, cpu, 1);
}

/*
 * 3.8's offline moves user pages to the parent: the tasks' segments that
 * point here move with them (the pages' pc->mem_cgroup).  Under h->lock.
 */
void task_reparent_user_pages(struct mem_cgroup *memcg)
{
	struct mem_cgroup *parent = memcg->parent;
	struct task_seg *s = memcg_ext(memcg)->user_segs, *last = NULL;

	if (!s)
		return;
	for (; s; s = s->mnext) {
		s->memcg = parent;
		s->root_charged = memcg_is_root(parent);
		last = s;
	}
	last->mnext = parent->cold->ext->user_segs;
	if (parent->cold->ext->user_segs)
		parent->cold->ext->user_segs->mprev = last;
	parent->cold->ext->user_segs = memcg->cold->ext->user_segs;
	memcg->cold->ext->user_segs = NULL;
}

/* --- lifetime ------------------------------------------------------------------------- */

static void link_task(struct mem_cgroup *memcg, struct pmc_task *t)
{
	t->memcg = memcg;
	t->cg_next = NULL;
	t->cg_prev = memcg->cold->ext->tasks_tail;
	if (memcg->cold->ext->tasks_tail)
		memcg->cold->ext->tasks_tail->cg_next = t;
	else
		memcg->cold->ext->tasks_head = t;
	memcg->cold->ext->tasks_tail = t;
	memcg->cold->ext->nr_tasks++;
}

static void unlink_task(struct pmc_task *t)
{
	struct mem_cgroup *memcg = t->memcg;

	if (t->cg_prev)
		t->cg_prev->cg_next = t->cg_next;
	else
		memcg->cold->ext->tasks_head = t->cg_next;
	if (t->cg_next)
		t->cg_next->cg_prev = t->cg_prev;
	else
		memcg->cold->ext->tasks_tail = t->cg_prev;
	memcg->cold->ext->nr_tasks--;
}

/*
 * The end of a task (exit, or the OOM killer): everything it charged comes
 * off, on `cpu`.  Under h->lock; the CPU is taken for each part.
 */
void task_exit_locked(struct pmc_hierarchy *h, struct pmc_task *t, int cpu)
{
	struct task_seg *s, *next;

	atomic_store_explicit(&t->alive, false, RELAXED);
	unlink_task(t);
	idmap_unpublish(&h->tasks, t->slot);
	idmap_free(&h->tasks, t->slot);
	for (s = t->user; s; s = next) {
		next = s->next;
		seg_uncharge(h, s, s->nr_pages, cpu, false, MEMCG_NR_STATS);
		seg_free(h, s, true);
	}
	for (s = t->pgtables; s; s = next) {
		next = s->next;
		seg_uncharge(h, s, s->nr_pages, cpu, true, MEMCG_STAT_PAGETABLES);
		seg_free(h, s, false);
	}
	if (t->stack_pages) {
		struct task_seg stack = { .memcg = t->stack_memcg, .nr_pages = t->stack_pages };

		seg_uncharge(h, &stack, t->stack_pages, cpu, true, MEMCG_STAT_KERNEL_STACK);
		t->stack_memcg->cold->ext->task_ksegs--;
		if (!memcg_online(t->stack_memcg))
			memcg_free_queue(h, t->stack_memcg);
	}
	t->user = t->pgtables = NULL;
	t->rss = t->stack_pages = 0;
	task_put(t);            /* the reference its handle held */
}

/* At the end of a hierarchy: every live task struct (the cgroups go with it). */
void tasks_destroy(struct pmc_hierarchy *h)
{
	for (uint32_t slot = 1; slot < h->nr_task_slots; slot++) {
		struct pmc_task *t = idmap_get(&h->tasks, slot);
		struct task_seg *s, *next;

		if (!t)
			continue;
		for (s = t->user; s; s = next) {
			next = s->next;
			free(s);
		}
		for (s = t->pgtables; s; s = next) {
			next = s->next;
			free(s);
		}
		free(t);
	}
}

/* --- the API ------------------------------------------------------------------------- */

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

/*
 * The kernel stack, charged as kernel memory: all or nothing.  A reclaim
 * callback that fails in the memory.high work after a page's charge fails
 * the fork (the caller could not be given the task): that page goes back
 * with the others.
 */
static int64_t charge_stack(struct pmc_hierarchy *h, int64_t cgroup, int cpu, unsigned long pages)
{
	bool bypassed, charged;
	int64_t ret;

	if (!h->cfg.stack_per_page) {   /* 3.8: one order-1 allocation */
		ret = memcg_charge_task(h, cgroup, NULL, pages, cpu, PMC_GFP_KERNEL_DEFAULT, true,
					&bypassed, &charged);
		if (ret == -ECANCELED && charged)
			uncharge_kmem_pages(h, cgroup, pages, cpu, MEMCG_STAT_KERNEL_STACK);
		return ret;
	}
	for (unsigned long i = 0; i < pages; i++) {
		ret = memcg_charge_task(h, cgroup, NULL, 1, cpu, PMC_GFP_KERNEL_DEFAULT, true,
					&bypassed, &charged);
		if (ret) {      /* memcg_charge_kernel_stack: undo what was charged */
			unsigned long undo = i + (ret == -ECANCELED && charged);

			if (undo)
				uncharge_kmem_pages(h, cgroup, undo, cpu, MEMCG_STAT_KERNEL_STACK);
			return ret;
		}
	}
	return 0;
}

int64_t pmc_task_fork(int64_t hierarchy, int64_t cgroup, int32_t cpu, int32_t oom_score_adj,
		      uint32_t flags)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	struct mem_cgroup *memcg;
	struct pmc_task *t;
	unsigned long pages;
	bool accounted;
	int64_t ret;

	if (oom_score_adj < -1000 || oom_score_adj > 1000 || (flags & ~(uint32_t)PMC_FORK_SPARSE))
		return -EINVAL;
	h = hold(hierarchy, &frame);
	if (!h)
		return hier_lock_error();
	if (cpu < 0 || cpu >= h->cfg.ncpus) {
		ret = -EINVAL;
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		ret = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&h->lock);
	memcg = memcg_lookup(h, cgroup);
	ret = memcg ? (memcg_online(memcg) ? 0 : -ESTALE) : memcg_lookup_error(h, cgroup);
	if (ret) {
		pthread_mutex_unlock(&h->lock);
		free(t);
		goto out;
	}
	/*
	 * In the kernel the forking parent is a task of the cgroup: rmdir and
	 * 3.8's kmem activation fail with EBUSY until the fork is over.  So
	 * here: the cgroup stays online, and whether the stack is accounted
	 * cannot change under us.
	 */
	if (memcg_ext_prepare(memcg)) {
		pthread_mutex_unlock(&h->lock);
		free(t);
		ret = -ENOMEM;
		goto out;
	}
	memcg->cold->ext->nr_forking++;
	accounted = !memcg_is_root(memcg) && atomic_load_explicit(&memcg->kmem_active, RELAXED);
	pthread_mutex_unlock(&h->lock);

	pages = (unsigned long)h->cfg.kernel_stack_pages;
	ret = charge_stack(h, cgroup, cpu, pages);
	pthread_mutex_lock(&h->lock);
	if (ret) {
		ret = ret > 0 ? -ENOMEM : ret;
		goto fail;
	}
	if (idmap_alloc(&h->tasks, &t->slot)) {
		/* No task slot left: the fork fails, the stack goes back. */
		ret = -ENOSPC;
		if (accounted) {
			pthread_mutex_unlock(&h->lock);
			uncharge_kmem_pages(h, cgroup, pages, cpu, MEMCG_STAT_KERNEL_STACK);
			pthread_mutex_lock(&h->lock);
		}
		goto fail;
	}
	t->h = h;
	atomic_init(&t->alive, true);
	atomic_init(&t->oom_victim, false);
	t->refs = 1;
	t->sparse = flags & PMC_FORK_SPARSE;
	t->oom_score_adj = oom_score_adj;
	if (t->slot >= h->nr_task_slots)
		h->nr_task_slots = t->slot + 1;
	if (accounted) {
		t->stack_memcg = memcg;
		t->stack_pages = pages;
		memcg->cold->ext->task_ksegs++;    /* the stack names it, as a segment would */
		cpu_lock(h, cpu);
		mod_memcg_state(memcg, cpu, MEMCG_STAT_KERNEL_STACK, (long)pages);
		cpu_unlock(h, cpu);
	}
	memcg->cold->ext->nr_forking--;
	link_task(memcg, t);
	t->gen = idmap_publish(&h->tasks, t->slot, t);
	ret = task_handle(t);
	pthread_mutex_unlock(&h->lock);
	goto out;
fail:
	memcg->cold->ext->nr_forking--;
	pthread_mutex_unlock(&h->lock);
	free(t);
out:
	release(h, &frame);
	return ret;
}

/* Does the mapping's next page already have its table at this level?  Under h->lock. */
static bool level_present(struct pmc_task *t, int level)
{
	unsigned long want[3], have[3] = { t->pud, t->pmd, t->pte };
	unsigned long mapped = t->rss + 1 > t->max_mapped ? t->rss + 1 : t->max_mapped;

	pgtables_for(t->sparse, mapped, &want[2], &want[1], &want[0]);
	return have[level] >= want[level];
}

/*
 * A charge found the cgroup the task was in gone (-ESTALE): true if the
 * task, alive, has moved on since (the charge is retried where it is now;
 * a cgroup with tasks is never removed).
 */
static bool task_moved(struct pmc_hierarchy *h, struct pmc_task *t, struct mem_cgroup *from)
{
	bool moved;

	pthread_mutex_lock(&h->lock);
	moved = !atomic_load_explicit(&t->alive, RELAXED) || t->memcg != from;
	pthread_mutex_unlock(&h->lock);
	return moved;
}

/*
 * The page tables a mapping of one more page needs, allocated top-down as
 * the fault's walk does (__pud_alloc, __pmd_alloc, __pte_alloc): one page,
 * and one charge with __GFP_ACCOUNT where the era accounts them, each.  A
 * level installed stays when a lower one is refused, as in the kernel.
 * 0, -ENOMEM (refused), -ESRCH (the task was killed meanwhile).
 */
static int64_t fault_tables(struct pmc_hierarchy *h, struct pmc_task *t, int cpu)
{
	unsigned long *have[3] = { &t->pud, &t->pmd, &t->pte };

	for (;;) {
		unsigned long want[3], mapped;
		struct mem_cgroup *memcg;
		bool accounted, bypassed, charged;
		int64_t cgroup, ret, hook = 0;
		int level;

		pthread_mutex_lock(&h->lock);
		if (!atomic_load_explicit(&t->alive, RELAXED)) {
			pthread_mutex_unlock(&h->lock);
			return -ESRCH;
		}
		mapped = t->rss + 1 > t->max_mapped ? t->rss + 1 : t->max_mapped;
		pgtables_for(t->sparse, mapped, &want[2], &want[1], &want[0]);
		for (level = 0; level < 3 && *have[level] >= want[level]; level++)
			;
		if (level == 3) {
			t->max_mapped = mapped;
			pthread_mutex_unlock(&h->lock);
			return 0;
		}
		memcg = t->memcg;
		cgroup = memcg_handle(memcg);
		accounted = h->cfg.pagetables_accounted && !memcg_is_root(memcg) &&
			    atomic_load_explicit(&memcg->kmem_active, RELAXED);
		if (!accounted) {
			(*have[level])++;
			pthread_mutex_unlock(&h->lock);
			continue;
		}
		/* Pinned up to the segment's commit, as fault_one pins it (there, why). */
		atomic_fetch_add_explicit(&memcg->refs, 1, RELAXED);
		pthread_mutex_unlock(&h->lock);

		ret = memcg_charge_task(h, cgroup, t, 1, cpu,
					PMC_GFP_KERNEL_DEFAULT | PMC_GFP_ACCOUNT, true, &bypassed,
					&charged);
		if (ret == -ECANCELED && charged) {
			/* Charged, then memory.high's reclaim failed: the table is ours. */
			hook = ret;
			ret = 0;
		}
		if (ret) {
			memcg_put_unlocked(h, memcg);
			if (ret == -ESTALE && task_moved(h, t, memcg))
				continue;       /* it left a cgroup since removed: charge where it is */
			return ret < 0 ? ret : -ENOMEM;
		}
		pthread_mutex_lock(&h->lock);
		/* Our reference goes under the lock: the segment (if any) holds it next. */
		atomic_fetch_sub_explicit(&memcg->refs, 1, memory_order_release);
		memcg_free_queue(h, memcg);
		if (!atomic_load_explicit(&t->alive, RELAXED) ||    /* killed meanwhile */
		    level_present(t, level) ||                   /* a racing fault put one there */
		    seg_add(&t->pgtables, memcg, 1, false)) {
			bool alive = atomic_load_explicit(&t->alive, RELAXED);

			ret = !alive ? -ESRCH : level_present(t, level) ? 0 : -ENOMEM;
			pthread_mutex_unlock(&h->lock);
			/* pmd_install and friends free a table another fault beat them to */
			uncharge_kmem_pages(h, cgroup, 1, cpu, MEMCG_STAT_PAGETABLES);
			if (hook || ret)
				return hook ? hook : ret;
			continue;
		}
		(*have[level])++;
		t->pt_charged++;
		cpu_lock(h, cpu);
		mod_memcg_state(memcg, cpu, MEMCG_STAT_PAGETABLES, 1);
		cpu_unlock(h, cpu);
		pthread_mutex_unlock(&h->lock);
		if (hook)
			return hook;
	}
}

/*
 * One fault: the page tables, then the page.  0, -ENOMEM (refused), -ESRCH
 * (the task was killed meanwhile).
 */
static int64_t fault_one(struct pmc_hierarchy *h, struct pmc_task *t, int cpu)
{
	struct mem_cgroup *memcg, *owner;
	bool bypassed, charged;
	int64_t cgroup, hook = 0, ret = fault_tables(h, t, cpu);

	if (ret)
		return ret;
again:
	pthread_mutex_lock(&h->lock);
	if (!atomic_load_explicit(&t->alive, RELAXED)) {
		pthread_mutex_unlock(&h->lock);
		return -ESRCH;
	}
	memcg = t->memcg;
	cgroup = memcg_handle(memcg);
	/*
	 * A reference (the charge's css reference): the task may leave the
	 * cgroup meanwhile and the cgroup be removed, and 3.8's offline frees
	 * a cgroup whose user pages it moved to the parent.
	 */
	atomic_fetch_add_explicit(&memcg->refs, 1, RELAXED);
	pthread_mutex_unlock(&h->lock);

	/* The page: GFP_HIGHUSER_MOVABLE, which may wait and may OOM. */
	ret = memcg_charge_task(h, cgroup, t, 1, cpu, PMC_GFP_KERNEL_DEFAULT, false, &bypassed,
				&charged);
	if (ret == -ECANCELED && charged) {
		/* Charged, then memory.high's reclaim failed: the page is the task's. */
		hook = ret;
		ret = 0;
	}
	if (ret == -ESTALE && task_moved(h, t, memcg)) {
		memcg_put_unlocked(h, memcg);
		goto again;     /* it left a cgroup since removed: charge where it is */
	}
	if (ret) {
		ret = ret < 0 ? ret : -ENOMEM;
		goto put;
	}
	pthread_mutex_lock(&h->lock);
	if (!atomic_load_explicit(&t->alive, RELAXED) || bypassed) {
		pthread_mutex_unlock(&h->lock);
		if (!bypassed)
			pmc_cgroup_uncharge(h->handle, cgroup, 1, cpu, 0);
		ret = hook ? hook : -ESRCH;
		goto put;
	}
	/* Removed meanwhile in 3.8: the page went to the parent with the others. */
	owner = h->cfg.reparent_user_pages ? memcg_reparented_to(memcg) : memcg;
	/* The root's pages too: nothing was charged, but unmap takes them in order. */
	if (!seg_add(&t->user, owner, 1, true)) {
		t->rss++;
		pthread_mutex_unlock(&h->lock);
		ret = hook;
		goto put;
	}
	pthread_mutex_unlock(&h->lock);
	pmc_cgroup_uncharge(h->handle, cgroup, 1, cpu, 0);
	ret = hook ? hook : -ENOMEM;
put:
	memcg_put_unlocked(h, memcg);
	return ret;
}

/* Find a task and pin it (a reference) under h->lock. */
static struct pmc_task *task_get(struct pmc_hierarchy *h, int64_t task, int64_t *err)
{
	struct pmc_task *t;

	pthread_mutex_lock(&h->lock);
	t = task_lookup(h, task, err);
	if (t)
		t->refs++;
	pthread_mutex_unlock(&h->lock);
	return t;
}

/* For slab.c: a task found and pinned under h->lock (held by the caller), and let go. */
struct pmc_task *task_pin(struct pmc_hierarchy *h, int64_t task, int64_t *err)
{
	struct pmc_task *t = task_lookup(h, task, err);

	if (t)
		t->refs++;
	return t;
}

void task_unpin_locked(struct pmc_task *t)
{
	task_put(t);
}

static void task_unpin(struct pmc_hierarchy *h, struct pmc_task *t)
{
	pthread_mutex_lock(&h->lock);
	task_put(t);
	pthread_mutex_unlock(&h->lock);
}

/*
 * The start of a call made on behalf of a task that lets go of h->lock as
 * it goes (faults, kernel allocations): the hierarchy held, the CPU
 * checked, the task pinned.  NULL with *ret set on failure; *hp is NULL
 * only where the hierarchy is gone (else the caller releases it).
 */
static struct pmc_task *task_call_begin(int64_t hierarchy, int64_t task, int32_t cpu,
					struct hier_frame *frame, struct pmc_hierarchy **hp,
					int64_t *ret)
{
	struct pmc_hierarchy *h = hold(hierarchy, frame);

	*hp = h;
	if (!h) {
		*ret = hier_lock_error();
		return NULL;
	}
	if (cpu < 0 || cpu >= h->cfg.ncpus) {
		*ret = -EINVAL;
		return NULL;
	}
	return task_get(h, task, ret);
}

int64_t pmc_task_fault(int64_t hierarchy, int64_t task, int64_t nr_pages, int32_t cpu,
		       int64_t *done)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	struct pmc_task *t;
	int64_t ret = 0, i = 0;

	if (done)
		*done = 0;
	if (nr_pages < 0 || nr_pages > PMC_PAGE_COUNTER_MAX)
		return -EINVAL;
	t = task_call_begin(hierarchy, task, cpu, &frame, &h, &ret);
	if (!t)
		goto out;
	for (; i < nr_pages; i++) {
		ret = fault_one(h, t, cpu);
		if (ret)
			break;
	}
	task_unpin(h, t);
out:
	if (done)
		*done = i;
	if (h)
		release(h, &frame);
	return ret;
}

int64_t pmc_task_unmap(int64_t hierarchy, int64_t task, int64_t nr_pages, int32_t cpu)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	struct pmc_task *t;
	unsigned long left;
	int64_t ret = 0;

	if (nr_pages < 0 || nr_pages > PMC_PAGE_COUNTER_MAX)
		return -EINVAL;
	h = hold(hierarchy, &frame);
	if (!h)
		return hier_lock_error();
	pthread_mutex_lock(&h->lock);
	t = task_lookup(h, task, &ret);
	if (!t)
		goto unlock;
	if (cpu < 0 || cpu >= h->cfg.ncpus || (unsigned long)nr_pages > t->rss) {
		ret = -EINVAL;
		goto unlock;
	}
	ret = 0;
	/* The newest pages first; the page tables stay (see the top of this file). */
	for (left = (unsigned long)nr_pages; left;) {
		struct task_seg *s = t->user;
		unsigned long n = s->nr_pages < left ? s->nr_pages : left;

		seg_uncharge(h, s, n, cpu, false, MEMCG_NR_STATS);
		s->nr_pages -= n;
		t->rss -= n;
		left -= n;
		if (!s->nr_pages) {
			t->user = s->next;
			seg_free(h, s, true);
		}
	}
unlock:
	pthread_mutex_unlock(&h->lock);
	release(h, &frame);
	return ret;
}

int64_t pmc_task_move(int64_t hierarchy, int64_t task, int64_t cgroup)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);
	struct mem_cgroup *memcg;
	struct pmc_task *t;
	int64_t ret;

	if (!h)
		return hier_lock_error();
	t = task_lookup(h, task, &ret);
	if (t) {
		memcg = memcg_lookup(h, cgroup);
		if (!memcg || !memcg_online(memcg)) {
			ret = memcg ? -ESTALE : memcg_lookup_error(h, cgroup);
		} else if (memcg_ext_prepare(memcg)) {
			ret = -ENOMEM;  /* the kernel's migration may fail so too */
		} else {
			unlink_task(t);
			link_task(memcg, t);
			ret = 0;
		}
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}

int64_t pmc_task_exit(int64_t hierarchy, int64_t task, int32_t cpu)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h = hold(hierarchy, &frame);
	struct pmc_task *t;
	int64_t ret;

	if (!h)
		return hier_lock_error();
	pthread_mutex_lock(&h->lock);
	t = task_lookup(h, task, &ret);
	if (t && (cpu < 0 || cpu >= h->cfg.ncpus)) {
		ret = -EINVAL;
	} else if (t) {
		task_exit_locked(h, t, cpu);
		ret = 0;
	}
	pthread_mutex_unlock(&h->lock);
	release(h, &frame);
	return ret;
}

/* --- kernel allocations: selective accounting ------------------------------------ */

/*
 * Is a kernel allocation of nr pages that a task of memcg makes now charged?
 * Under h->lock.  SPEC 6's rule, by era:
 *  - in interrupt context never: current is whoever was interrupted
 *    (memcg_kmem_bypass, 4.x; current_obj_cgroup returns NULL outside a
 *    task, 5.x+: int_active_memcg is not modelled);
 *  - nothing for nothing: kmalloc(0) is ZERO_SIZE_PTR;
 *  - the root never (get_mem_cgroup_from_current / current_objcg_update
 *    stop at the root);
 *  - 3.8-4.5 before the first kmem-limit write: memcg_can_account_kmem is
 *    false (kmem_active; always true where the era always accounts);
 *  - the 3.8 charge loop: __GFP_NOFAIL goes to the root cache, unaccounted
 *    (memcg_kmem_get_cache, memcg_kmem_newpage_charge), as
 *    memcg_try_charge_locked skips it;
 *  - the white list (4.5+, a9bb7e620efd): only with __GFP_ACCOUNT or from a
 *    SLAB_ACCOUNT cache (memcg_slab_pre_alloc_hook, __memcg_kmem_charge_page
 *    behind memcg_kmem_online() && __GFP_ACCOUNT);
 *  - the black list (3.8-4.4): every process-context allocation
 *    (__memcg_kmem_get_cache picks the cgroup's clone of every cache).
 * Once true it stays true while the task is in memcg: activation is one-way.
 */
bool memcg_kmem_accounted(const struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			  unsigned long nr, unsigned int gfp, uint32_t flags)
{
	if ((flags & PMC_KMEM_INTERRUPT) || !nr || memcg_is_root(memcg) ||
	    !atomic_load_explicit(&memcg->kmem_active, RELAXED))
		return false;
	if (h->cfg.charge_loop == PMC_CHARGE_LOOP_38 && (gfp & PMC_GFP_NOFAIL))
		return false;
	if (h->cfg.kmem_accounting == PMC_KMEM_ACCOUNTING_BLACKLIST)
		return true;
	return (gfp & PMC_GFP_ACCOUNT) || (flags & PMC_KMEM_ACCOUNTED_CACHE);
}

int64_t pmc_task_kmem_charge(int64_t hierarchy, int64_t task, int64_t nr_pages, int32_t cpu,
			     uint32_t gfp, uint32_t flags, int64_t *over)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	struct pmc_task *t;
	int64_t ret = 0;

	if (over)
		*over = 0;
	if (nr_pages < 0 || nr_pages > PMC_PAGE_COUNTER_MAX || (gfp & ~(uint32_t)PMC_GFP_ALL) ||
	    (flags & ~(uint32_t)PMC_KMEM_FLAGS_ALL))
		return -EINVAL;
	t = task_call_begin(hierarchy, task, cpu, &frame, &h, &ret);
	if (!t)
		goto out;
	for (;;) {
		struct mem_cgroup *memcg;
		int64_t cgroup;
		bool alive, bypassed, charged;

		pthread_mutex_lock(&h->lock);
		if (!atomic_load_explicit(&t->alive, RELAXED)) {
			pthread_mutex_unlock(&h->lock);
			ret = -ESRCH;   /* killed while the last try let go of the lock */
			break;
		}
		memcg = t->memcg;
		if (!memcg_kmem_accounted(h, memcg, (unsigned long)nr_pages, gfp, flags)) {
			pthread_mutex_unlock(&h->lock);
			ret = 0;
			break;
		}
		cgroup = memcg_handle(memcg);
		/* The charge's css reference: the task may move and memcg be removed. */
		atomic_fetch_add_explicit(&memcg->refs, 1, RELAXED);
		pthread_mutex_unlock(&h->lock);

		ret = memcg_charge_task(h, cgroup, t, (unsigned long)nr_pages, cpu, gfp, true,
					&bypassed, &charged);
		if (ret == -ECANCELED && charged)
			/* memory.high's reclaim failed after the charge: nothing stays charged. */
			pmc_cgroup_uncharge(h->handle, cgroup, nr_pages, cpu, 1);
		if (ret == -ESTALE && task_moved(h, t, memcg)) {
			memcg_put_unlocked(h, memcg);
			continue;       /* it left a cgroup since removed: charge where it is */
		}
		pthread_mutex_lock(&h->lock);
		alive = atomic_load_explicit(&t->alive, RELAXED);
		pthread_mutex_unlock(&h->lock);
		if (!alive) {
			/*
			 * Chosen by the OOM killer meanwhile: the kernel fails the
			 * charge (passed_oom && task_is_dying) or lets it through
			 * (the kill freed enough; forced; 3.8's bypass, which a kmem
			 * charge turns into a forced one); either way the task never
			 * sees the memory.  Whatever was charged goes back.
			 */
			if (ret == 0)
				pmc_cgroup_uncharge(h->handle, cgroup, nr_pages, cpu, 1);
			ret = ret < 0 && ret != -ESTALE ? ret : -ESRCH;
		} else if (ret > 0) {
			if (over)
				*over = ret;
			ret = -ENOMEM;
		} else if (ret == 0) {
			ret = cgroup;
		}
		memcg_put_unlocked(h, memcg);
		break;
	}
	task_unpin(h, t);
out:
	if (h)
		release(h, &frame);
	return ret;
}

int64_t pmc_task_info(int64_t hierarchy, int64_t task, struct pmc_task_info *info)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);
	struct pmc_task *t;
	int64_t ret;

	if (!h)
		return hier_lock_error();
	t = task_lookup(h, task, &ret);
	if (t) {
		memset(info, 0, sizeof(*info));
		info->handle = task_handle(t);
		info->cgroup = memcg_handle(t->memcg);
		info->oom_score_adj = t->oom_score_adj;
		info->sparse = t->sparse;
		info->rss = (int64_t)t->rss;
		info->pagetables = (int64_t)(t->pte + t->pmd + t->pud);
		info->pte = (int64_t)t->pte;
		info->pagetables_charged = (int64_t)t->pt_charged;
		info->stack = (int64_t)t->stack_pages;
		info->throttle_jiffies = (int64_t)t->throttle_jiffies;
		ret = 0;
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}

int64_t pmc_cgroup_tasks(int64_t hierarchy, int64_t cgroup, int64_t *out, int64_t n)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);
	struct mem_cgroup *memcg;
	int64_t count = 0;

	if (!h)
		return hier_lock_error();
	memcg = memcg_lookup(h, cgroup);
	if (!memcg || memcg_shell(memcg)) {
		count = memcg ? -ESTALE : memcg_lookup_error(h, cgroup);
	} else {
		for (struct pmc_task *t = memcg_ext(memcg)->tasks_head; t; t = t->cg_next) {
			if (count < n)
				out[count] = task_handle(t);
			count++;
		}
	}
	pthread_mutex_unlock(&h->lock);
	return count;
}
