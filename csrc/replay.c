/*
 * replay.c - the batch entry point.
 *
 * A simulator that drives millions of charges cannot pay a Python-to-C
 * crossing (50-100 ns) for each: it fills an array of fixed-size records
 * and crosses once.  Each record runs exactly as the single call would,
 * memory.high handling and the dying-cgroup check included, so a replay
 * and the same calls one by one end in the same state.
 *
 * What a batch saves beyond the crossing: consecutive records on one CPU
 * keep that CPU's lock (a real CPU runs one thing at a time anyway) and
 * the cgroup they name, so a stock hit costs neither an atomic exchange
 * nor a handle look-up.  The lock is let go every REPLAY_HOLD records, so
 * that drains and frees elsewhere are never held up for long, and whenever
 * a record needs to finish outside it (reclaim, memory.high, frees): then
 * the cached cgroup is forgotten, since only the held lock kept it alive.
 */
#include <errno.h>

#include "memcg.h"

#define REPLAY_HOLD 256

struct pmc_hierarchy *hierarchy_lookup(int64_t hierarchy);

struct replay_state {
	struct pmc_hierarchy *h;
	int cpu;                        /* held, or -1 */
	unsigned int held_for;
	int64_t handle;                 /* what `memcg` was looked up for (0: none) */
	struct mem_cgroup *memcg;
};

static void replay_release(struct replay_state *st)
{
	if (st->cpu >= 0) {
		cpu_unlock(st->h, st->cpu);
		st->cpu = -1;
	}
	st->handle = 0;
}

static void replay_hold(struct replay_state *st, int cpu)
{
	if (st->cpu != cpu || st->held_for >= REPLAY_HOLD) {
		replay_release(st);
		cpu_lock(st->h, cpu);
		st->cpu = cpu;
		st->held_for = 0;
	}
	st->held_for++;
}

/* Valid while the CPU lock is held without a break: frees wait for it. */
static struct mem_cgroup *replay_lookup(struct replay_state *st, int64_t handle)
{
	if (handle != st->handle) {
		st->memcg = memcg_lookup(st->h, handle);
		st->handle = handle;
	}
	return st->memcg;
}

static int64_t replay_charge(struct replay_state *st, const struct pmc_op *op)
{
	struct mem_cgroup *memcg;
	int64_t ret;

	if (op->flags & ~0x7fu)
		return -EINVAL;
	replay_hold(st, op->cpu);
	memcg = replay_lookup(st, op->cgroup);
	if (memcg_charge_hit(st->h, memcg, (unsigned long)op->nr_pages, op->cpu, op->kmem != 0))
		return 0;

	struct charge_ctx ctx = { .h = st->h, .handle = op->cgroup, .cpu = op->cpu,
				  .memcg = memcg };

	ret = memcg_try_charge_locked(&ctx, (unsigned long)op->nr_pages, op->flags, op->kmem != 0);
	if (memcg_charge_needs_finish(&ctx)) {
		replay_release(st);
		ret = memcg_charge_finish(&ctx, ret);
	}
	/* A refusal names the cgroup by id: it is alive, an ancestor of a live one. */
	return ret > 0 ? (ret & 0xffff) : ret;
}

static int64_t replay_uncharge(struct replay_state *st, const struct pmc_op *op)
{
	struct clamp_log log = { 0 };
	struct mem_cgroup *memcg;

	replay_hold(st, op->cpu);
	memcg = replay_lookup(st, op->cgroup);
	if (memcg_uncharge_hit(st->h, memcg, (unsigned long)op->nr_pages, op->cpu, op->kmem != 0))
		return 0;
	if (!memcg)
		return -ESTALE;
	memcg_uncharge_locked(st->h, memcg, (unsigned long)op->nr_pages, op->cpu, op->kmem != 0,
			      &log);
	if (atomic_load_explicit(&st->h->free_pending, memory_order_relaxed)) {
		replay_release(st);
		finish_call(st->h);
	}
	return log.mask ? PMC_RESULT_UNDERFLOW : 0;
}

static int64_t replay_one(struct replay_state *st, const struct pmc_op *op)
{
	struct pmc_hierarchy *h = st->h;

	switch (op->op) {
	case PMC_OP_CHARGE:
	case PMC_OP_UNCHARGE:
		if (op->nr_pages < 0 || op->nr_pages > PMC_PAGE_COUNTER_MAX ||
		    op->cpu < 0 || op->cpu >= h->cfg.ncpus)
			return -EINVAL;
		return op->op == PMC_OP_CHARGE ? replay_charge(st, op) : replay_uncharge(st, op);
	case PMC_OP_DRAIN:
		if (op->cpu < 0 || op->cpu >= h->cfg.ncpus)
			return -EINVAL;
		replay_release(st);
		return memcg_drain_cpu(h, op->cpu);
	case PMC_OP_DRAIN_ALL:
		replay_release(st);
		return memcg_drain_all(h, op->cgroup);
	default:
		return -EINVAL;
	}
}

int64_t pmc_hierarchy_replay(int64_t hierarchy, const struct pmc_op *ops, int64_t n,
			     int64_t *results)
{
	struct replay_state st = { .h = hierarchy_lookup(hierarchy), .cpu = -1 };
	int64_t i;

	if (!st.h)
		return -ESTALE;
	if (n < 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		results[i] = replay_one(&st, &ops[i]);
		/* A reclaim hook raised: the caller has an exception to deliver. */
		if (results[i] == -ECANCELED) {
			i++;
			break;
		}
	}
	replay_release(&st);
	finish_call(st.h);
	return i;
}
