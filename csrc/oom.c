/*
 * oom.c - the memcg OOM killer.
 *
 * When a charge still fails after reclaim and its retries, the kernel kills
 * a task of the cgroup over its limit (mem_cgroup_out_of_memory ->
 * out_of_memory -> select_bad_process over mem_cgroup_scan_tasks) and
 * retries.  The score (oom_badness) counts what a task owns: its user pages
 * and page tables (swap is not modelled), plus oom_score_adj thousandths of
 * the cgroup's limit.  Kernel memory charged to the cgroup that belongs to
 * no task (slab, socket buffers: sock.c, raw kmem charges) never enters a score and a kill
 * does not free it: a cgroup full of kernel memory kills the wrong task, or
 * kills in vain.  That is the kmem controller's attribution problem, and it
 * is reproduced here on purpose.
 *
 * A killed task exits at once (the kernel's OOM reaper and exit free its
 * memory a little later; a simulation has no later).  The charging call
 * has let go of its CPU lock and holds the hierarchy; the kill holds
 * h->lock and takes the charging CPU's lock for each uncharge.
 */
#include <errno.h>
#include <limits.h>

#include "memcg.h"

#define RELAXED memory_order_relaxed

/* mem_cgroup_get_max: the limit of the cgroup over it (no swap is modelled). */
static unsigned long oom_totalpages(struct mem_cgroup *over)
{
	unsigned long max = atomic_load_explicit(&over->counter[MEMCG_MEMORY].max, RELAXED);

	return max ? max : 1;
}

/*
 * oom_badness.  Current kernels: user pages + page-table pages (the PTE,
 * PMD and PUD pages of mm_pgtables_bytes) + oom_score_adj * (totalpages /
 * 1000); -1000 is never chosen (LONG_MIN).  3.8: only the PTE pages
 * (nr_ptes), and a score of at least 1 for a task that may be chosen (0
 * for -1000).  Tasks are unprivileged: 3.8's CAP_SYS_ADMIN bonus does not
 * apply.
 */
static long oom_badness(const struct pmc_config *cfg, struct pmc_task *t, unsigned long total)
{
	long points, adj = t->oom_score_adj;

	if (cfg->charge_loop == PMC_CHARGE_LOOP_38) {
		if (adj == -1000)
			return 0;
		points = (long)(t->rss + t->pte);
		points += adj * (long)(total / 1000);
		return points > 0 ? points : 1;
	}
	if (adj == -1000)
		return LONG_MIN;
	points = (long)(t->rss + t->pte + t->pmd + t->pud);
	return points + adj * (long)(total / 1000);
}

/* The next cgroup of a pre-order walk of root's subtree (for_each_mem_cgroup_tree). */
static struct mem_cgroup *subtree_next(struct mem_cgroup *c, struct mem_cgroup *root)
{
	if (c->cold->first_child)
		return c->cold->first_child;
	while (c != root && !c->cold->next_sibling)
		c = c->parent;
	return c == root ? NULL : c->cold->next_sibling;
}

/*
 * select_bad_process over mem_cgroup_scan_tasks: the highest score wins.
 * On a tie the later task wins (oom_evaluate_task skips only lower
 * scores); 3.8 kept the first (a strict >).  Under h->lock.
 */
static struct pmc_task *oom_select(struct pmc_hierarchy *h, struct mem_cgroup *over)
{
	bool v38 = h->cfg.charge_loop == PMC_CHARGE_LOOP_38;
	unsigned long total = oom_totalpages(over);
	long chosen_points = v38 ? 0 : LONG_MIN;
	struct pmc_task *chosen = NULL;

	for (struct mem_cgroup *c = over; c; c = subtree_next(c, over)) {
		for (struct pmc_task *t = memcg_ext(c)->tasks_head; t; t = t->cg_next) {
			long points = oom_badness(&h->cfg, t, total);

			if (v38 ? points > chosen_points :
				  points != LONG_MIN && points >= chosen_points) {
				chosen = t;
				chosen_points = points;
			}
		}
	}
	return chosen;
}

/*
 * mem_cgroup_get_oom_group: the highest cgroup from the victim's up to the
 * OOM domain with memory.oom.group set (v2 only), or NULL.
 */
static struct mem_cgroup *oom_group_of(struct pmc_hierarchy *h, struct pmc_task *victim,
				       struct mem_cgroup *domain)
{
	struct mem_cgroup *group = NULL;

	if (h->cfg.version != 2 || memcg_is_root(victim->memcg))
		return NULL;
	for (struct mem_cgroup *c = victim->memcg; c; c = c->parent) {
		if (atomic_load_explicit(&c->cold->oom_group, RELAXED))
			group = c;
		if (c == domain)
			break;
	}
	return group;
}

/*
 * __oom_kill_process: an oom_kill event on the task's cgroup, and it is
 * marked to die.  The kernel counts a victim that is killed again while its
 * group is (it still has its mm then): so does this.
 */
static void oom_mark(struct pmc_task *t, struct pmc_task ***tail)
{
	memcg_memory_event(t->memcg, MEMCG_OOM_KILL);
	if (!atomic_load_explicit(&t->oom_victim, RELAXED)) {
		atomic_store_explicit(&t->oom_victim, true, RELAXED);
		**tail = t;
		*tail = &t->next_victim;
	}
}

/*
 * Choose, kill, and free the victims' memory.  Called with no lock and the
 * hierarchy held; takes h->lock.  True if something was killed.
 */
static bool oom_kill(struct charge_ctx *ctx, struct mem_cgroup *over)
{
	struct pmc_hierarchy *h = ctx->h;
	struct pmc_task *victim, *group_killed = NULL, **tail = &group_killed, *t, *next;
	struct mem_cgroup *group;

	pthread_mutex_lock(&h->lock);
	victim = oom_select(h, over);
	if (!victim) {
		pthread_mutex_unlock(&h->lock);
		return false;
	}
	group = oom_group_of(h, victim, over);
	oom_mark(victim, &tail);
	if (group) {
		memcg_memory_event(group, MEMCG_OOM_GROUP_KILL);
		for (struct mem_cgroup *c = group; c; c = subtree_next(c, group))
			for (t = memcg_ext(c)->tasks_head; t; t = t->cg_next)
				if (t->oom_score_adj != -1000)
					oom_mark(t, &tail);
	}
	*tail = NULL;
	/* The victims exit: what they own is uncharged, on the charging CPU. */
	for (t = group_killed; t; t = next) {
		next = t->next_victim;
		task_exit_locked(h, t, ctx->cpu);
	}
	pthread_mutex_unlock(&h->lock);
	return true;
}

/*
 * mem_cgroup_oom and mem_cgroup_out_of_memory (current kernels), at the end
 * of the charge loop: true to retry the charge, false to fail it.  The CPU
 * lock is held on entry and on return.
 */
bool memcg_oom(struct charge_ctx *ctx, struct mem_cgroup *over, int order)
{
	struct pmc_hierarchy *h = ctx->h;
	bool ret;

	if (order > PAGE_ALLOC_COSTLY_ORDER)
		return false;
	memcg_memory_event(over, MEMCG_OOM);
	/* v1 oom_kill_disable: the charge fails (memcg1_oom_prepare). */
	if (h->cfg.version == 1 && atomic_load_explicit(&over->cold->oom_kill_disable, RELAXED))
		return false;
	/* Someone freed memory meanwhile: no kill. */
	if (memcg_margin(over) >= (1ul << order))
		return true;
	if (task_is_dying(ctx->task))
		return true;
	memcg_charge_unlock(ctx);
	ret = oom_kill(ctx, over);
	cpu_lock(h, ctx->cpu);
	return ret;
}

/*
 * mem_cgroup_handle_oom (3.8): kill, then the charge retries (after a
 * jiffy).  Where 3.8 would wait (oom_kill_disable, or no victim) or the
 * charging task itself was chosen, the caller learns it from the result.
 */
enum oom38 memcg_oom_38(struct charge_ctx *ctx, struct mem_cgroup *over)
{
	struct pmc_hierarchy *h = ctx->h;
	bool killed;

	memcg_memory_event(over, MEMCG_OOM);
	if (atomic_load_explicit(&over->cold->oom_kill_disable, RELAXED))
		return OOM38_WAIT;
	memcg_charge_unlock(ctx);
	killed = oom_kill(ctx, over);
	cpu_lock(h, ctx->cpu);
	if (task_is_dying(ctx->task))
		return OOM38_DIE;
	return killed ? OOM38_RETRY : OOM38_WAIT;
}

/*
 * mem_cgroup_out_of_memory for a limit write (memory_max_write on v2: when
 * reclaim cannot bring the usage under the new memory.max, the killer runs
 * until it does or finds no one).  1 if the margin fits already or a task
 * was killed, 0 if there was no one to kill, -errno.  The victims' pages are
 * uncharged on `cpu`.
 */
int64_t pmc_cgroup_out_of_memory(int64_t hierarchy, int64_t cgroup, int32_t cpu)
{
	struct pmc_hierarchy *h = hier_lock(hierarchy);
	struct charge_ctx ctx = { .h = h, .cpu = cpu };
	struct mem_cgroup *memcg;
	struct hier_frame frame;
	int64_t ret;

	if (!h)
		return hier_lock_error();
	memcg = memcg_lookup(h, cgroup);
	if (!memcg || !memcg_online(memcg)) {
		ret = memcg ? -ESTALE : memcg_lookup_error(h, cgroup);
		pthread_mutex_unlock(&h->lock);
		return ret;
	}
	if (cpu < 0 || cpu >= h->cfg.ncpus) {
		pthread_mutex_unlock(&h->lock);
		return -EINVAL;
	}
	if (memcg_margin(memcg) >= 1) {         /* someone freed memory: no kill */
		pthread_mutex_unlock(&h->lock);
		return 1;
	}
	/* Pinned (a css reference) while the lock is let go for the kill. */
	atomic_fetch_add_explicit(&memcg->refs, 1, RELAXED);
	hier_hold(h, &frame);
	pthread_mutex_unlock(&h->lock);
	ret = oom_kill(&ctx, memcg) ? 1 : 0;
	memcg_put_unlocked(h, memcg);
	finish_call(h);
	hier_unhold(h, &frame);
	return ret;
}
