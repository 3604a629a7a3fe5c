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
 *
 * The records are the caller's, and the caller may rewrite them while the
 * batch runs (the GIL is released; another thread may own the buffer).
 * So each record is copied once into a local, checked there and used from
 * there; the caller's memory is never read twice.  memcpy also makes the
 * buffer's alignment irrelevant, for the records and for the results.
 *
 * The batch holds its hierarchy from start to end (hier_hold), so a close
 * waits for it; the batch notices the close whenever it is about to take a
 * lock again, and stops there.
 */
#include <errno.h>
#include <string.h>

#include "memcg.h"

#define REPLAY_HOLD 256
/* Not a result: the hierarchy is being closed, stop before this record. */
#define REPLAY_STOP INT64_MIN

struct replay_state {
	struct pmc_hierarchy *h;
	int64_t hierarchy;              /* its handle, to notice a close */
	int cpu;                        /* held, or -1 */
	unsigned int held_for;
	bool cached;                    /* memcg is what `handle` finds (CPU held since) */
	int64_t handle;
	struct mem_cgroup *memcg;
	struct hier_frame frame;
};

static void replay_release(struct replay_state *st)
{
	if (st->cpu >= 0) {
		cpu_unlock(st->h, st->cpu);
		st->cpu = -1;
	}
	st->cached = false;
}

/* Before a lock is taken again: has a close begun meanwhile? */
static bool replay_closing(struct replay_state *st)
{
	return !hier_live(st->h, st->hierarchy);
}

/* Hold the record's CPU; false when the hierarchy is being closed. */
static bool replay_hold(struct replay_state *st, int cpu)
{
	if (st->cpu == cpu && st->held_for < REPLAY_HOLD) {
		st->held_for++;
		return true;
	}
	replay_release(st);
	if (replay_closing(st))
		return false;
	cpu_lock(st->h, cpu);
	st->cpu = cpu;
	st->held_for = 1;
	return true;
}

/* Valid while the CPU lock is held without a break: frees wait for it. */
static struct mem_cgroup *replay_lookup(struct replay_state *st, int64_t handle)
{
	if (!st->cached || handle != st->handle) {
		st->memcg = memcg_lookup(st->h, handle);
		st->handle = handle;
		st->cached = true;
	}
	return st->memcg;
}

static int64_t replay_charge(struct replay_state *st, const struct pmc_op *op)
{
	struct mem_cgroup *memcg;
	int64_t ret;

	if (op->flags & ~(uint32_t)PMC_GFP_ALL)
		return -EINVAL;
	if (!replay_hold(st, op->cpu))
		return REPLAY_STOP;
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
	/* A refusal names the cgroup over its limit by its memcg id (h.by_id). */
	return ret > 0 ? (int64_t)ctx.over_id : ret;
}

static int64_t replay_uncharge(struct replay_state *st, const struct pmc_op *op)
{
	struct clamp_log log = { 0 };
	struct mem_cgroup *memcg;

	if (!replay_hold(st, op->cpu))
		return REPLAY_STOP;
	memcg = replay_lookup(st, op->cgroup);
	if (memcg_uncharge_hit(st->h, memcg, (unsigned long)op->nr_pages, op->cpu, op->kmem != 0))
		return 0;
	if (!memcg)
		return memcg_lookup_error(st->h, op->cgroup);
	if (memcg_shell(memcg) && !op->kmem)
		return -ESTALE;         /* a shell is only there for its objcg's kernel pages */
	memcg_uncharge_locked(st->h, memcg, (unsigned long)op->nr_pages, op->cpu, op->kmem != 0,
			      &log);
	if (memcg_free_pending(st->h)) {
		replay_release(st);
		finish_call(st->h);
	}
	return log.mask ? PMC_RESULT_UNDERFLOW : 0;
}

static int64_t replay_drain(struct replay_state *st, const struct pmc_op *op)
{
	replay_release(st);
	if (replay_closing(st))
		return REPLAY_STOP;
	cpu_lock(st->h, op->cpu);
	drain_stock_fully(st->h, op->cpu);
	cpu_unlock(st->h, op->cpu);
	finish_call(st->h);
	return 0;
}

static int64_t replay_drain_all(struct replay_state *st, const struct pmc_op *op)
{
	replay_release(st);
	if (replay_closing(st))
		return REPLAY_STOP;
	pthread_mutex_lock(&st->h->lock);
	return memcg_drain_all_locked(st->h, op->cgroup);
}

/* One record, already copied out of the caller's buffer. */
static int64_t replay_one(struct replay_state *st, const struct pmc_op *op)
{
	bool bad_cpu = op->cpu < 0 || op->cpu >= st->h->cfg.ncpus;

	switch (op->op) {
	case PMC_OP_CHARGE:
	case PMC_OP_UNCHARGE:
		if (op->nr_pages < 0 || op->nr_pages > PMC_PAGE_COUNTER_MAX || bad_cpu)
			return -EINVAL;
		/* 0 means "no cgroup" (never "the one before"); only drain-all takes it. */
		if (!op->cgroup)
			return -EINVAL;
		return op->op == PMC_OP_CHARGE ? replay_charge(st, op) : replay_uncharge(st, op);
	case PMC_OP_DRAIN:
		return bad_cpu ? -EINVAL : replay_drain(st, op);
	case PMC_OP_DRAIN_ALL:
		return replay_drain_all(st, op);
	default:
		return -EINVAL;
	}
}

int64_t pmc_hierarchy_replay(int64_t hierarchy, const void *ops, int64_t n, void *results)
{
	struct replay_state st = { .hierarchy = hierarchy, .cpu = -1 };
	const unsigned char *rec = ops;
	unsigned char *res = results;
	int ret;
	int64_t i;

	if (n < 0)
		return -EINVAL;
	/* Check the hierarchy under a lock and hold it: a close now waits for us. */
	ret = hier_cpu_lock(hierarchy, 0, &st.h);
	if (ret)
		return ret;
	hier_hold(st.h, &st.frame);
	cpu_unlock(st.h, 0);

	for (i = 0; i < n; i++) {
		struct pmc_op op;
		int64_t r;

		memcpy(&op, rec + (size_t)i * sizeof(op), sizeof(op));
		r = replay_one(&st, &op);
		if (r == REPLAY_STOP)
			break;
		memcpy(res + (size_t)i * sizeof(r), &r, sizeof(r));
		/* A reclaim hook raised: the caller has an exception to deliver. */
		if (r == -ECANCELED) {
			i++;
			break;
		}
	}
	replay_release(&st);
	finish_call(st.h);
	hier_unhold(st.h, &st.frame);
	return i;
}

int64_t pmc_hierarchy_replay_run(int64_t hierarchy, const void *ops, int64_t n, void *results)
{
	int64_t done = pmc_hierarchy_replay(hierarchy, ops, n, results), last;

	if (done < 0)
		return done;
	if (done == n) {
		if (!n)
			return 0;
		memcpy(&last, (unsigned char *)results + (size_t)(n - 1) * sizeof(last), sizeof(last));
		if (last != -ECANCELED)
			return n;
	}
	return -(PMC_REPLAY_INCOMPLETE + done);
}
