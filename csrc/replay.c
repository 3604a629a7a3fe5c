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
	/*
	 * The fast path's state (replay_fast_charge): set after a stock hit the
	 * general way, while the CPU stays held and the cgroup cached; what
	 * cannot change meanwhile is checked once here (the era's stock, a
	 * cgroup that is not the root, the slot caching it).
	 */
	bool fast;
	unsigned int slot;
	struct memcg_stock_pcp *stock;
	uint64_t cpu_nokmem;            /* the record's (cpu, kmem) words: held CPU, user pages */
	uint64_t cpu_kmem;              /* held CPU, kmem = 1 */
	bool kcharge, kuncharge;        /* the era lets kernel memory use the fast path */
	struct hier_frame frame;
};

static void replay_release(struct replay_state *st)
{
	if (st->cpu >= 0) {
		cpu_unlock(st->h, st->cpu);
		st->cpu = -1;
	}
	st->cached = false;
	st->fast = false;
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
		st->fast = false;
	}
	return st->memcg;
}

/*
 * The common records, specialised: on the CPU held and the cgroup cached
 * since the last record, a charge of user pages or of kernel memory served
 * by the stock slot where that cgroup was seen, or a kernel-memory
 * uncharge that goes back into that slot (memcg_uncharge_hit).  Exactly
 * the general path's outcome for them (0); false for anything else, which
 * then goes the general way.  The record's (op, flags) and (cpu, kmem)
 * pairs are each tested as one word.
 */
/*
 * A user-page uncharge on the held CPU's cached, online cgroup: straight
 * to its counters, as memcg_uncharge_locked does for it (the statistic in
 * the stock slot caching the cgroup).  *out: 0, or PMC_RESULT_UNDERFLOW
 * when a level clamped.  False (nothing done) for anything else, frees
 * pending included (the general path lets the lock go for them after the
 * uncharge; this one, on an online cgroup, never makes any).
 */
static inline bool replay_fast_uncharge(struct replay_state *st, const struct pmc_op *op,
					uint64_t op_flags, int64_t *out)
{
	static const uint32_t op_w[2] = { UINT32_MAX, 0 };
	static const uint32_t uncharge_w[2] = { PMC_OP_UNCHARGE, 0 };
	struct mem_cgroup *memcg = st->memcg;
	unsigned long nr = (unsigned long)op->nr_pages;
	uint64_t want, mask, clamped;

	memcpy(&want, uncharge_w, sizeof(want));
	memcpy(&mask, op_w, sizeof(mask));
	/* Frees pending: the general path lets the lock go after the uncharge. */
	if ((op_flags & mask) != want || nr - 1 >= PAGE_COUNTER_MAX || memcg_free_pending(st->h))
		return false;
	mod_slot_state(st->stock, (int)st->slot, MEMCG_STAT_ANON, -(long)nr);
	clamped = page_counter_uncharge(&memcg->counter[MEMCG_MEMORY], nr);
	if (st->h->cfg.memsw)
		clamped |= page_counter_uncharge(&memcg->counter[MEMCG_MEMSW], nr);
	*out = clamped ? PMC_RESULT_UNDERFLOW : 0;
	st->held_for++;
	return true;
}

static inline bool replay_fast(struct replay_state *st, const struct pmc_op *op, int64_t *out)
{
	/* (op, flags) in memory order: op CHARGE and no flag outside PMC_GFP_ALL. */
	static const uint32_t charge_w[2] = { PMC_OP_CHARGE, 0 };
	static const uint32_t mask_w[2] = { UINT32_MAX, ~(uint32_t)PMC_GFP_ALL };
	static const uint32_t op_w[2] = { UINT32_MAX, 0 };
	static const uint32_t uncharge_w[2] = { PMC_OP_UNCHARGE, 0 };
	struct memcg_stock_pcp *stock = st->stock;
	struct mem_cgroup *memcg = st->memcg;
	unsigned int slot = st->slot;
	unsigned long nr = (unsigned long)op->nr_pages;
	unsigned long batch = (unsigned long)st->h->cfg.charge_batch;
	uint64_t op_flags, cpu_kmem, want, mask;
	bool charge;

	memcpy(&op_flags, &op->op, sizeof(op_flags));
	memcpy(&cpu_kmem, &op->cpu, sizeof(cpu_kmem));
	if (!st->fast || op->cgroup != st->handle || st->held_for >= REPLAY_HOLD ||
	    stock->cached[slot] != memcg || !memcg_online(memcg))
		return false;
	memcpy(&want, charge_w, sizeof(want));
	memcpy(&mask, mask_w, sizeof(mask));
	charge = (op_flags & mask) == want;
	if (cpu_kmem == st->cpu_nokmem) {
		if (!charge)
			return replay_fast_uncharge(st, op, op_flags, out);
		if (!stock_hit_slot(st->h, stock, memcg, slot, nr))
			return false;
	} else if (cpu_kmem == st->cpu_kmem &&
		   atomic_load_explicit(&memcg->kmem_active, memory_order_relaxed)) {
		if (charge && st->kcharge) {
			if (nr - 1 >= batch || stock->nr_pages[slot] < nr)
				return false;
			stock->nr_pages[slot] -= nr;
			mod_slot_state(stock, (int)slot, MEMCG_STAT_KERNEL, (long)nr);
			mod_slot_state(stock, (int)slot, MEMCG_STAT_KMEM_OWN, (long)nr);
		} else {
			memcpy(&want, uncharge_w, sizeof(want));
			memcpy(&mask, op_w, sizeof(mask));
			if ((op_flags & mask) != want || !st->kuncharge || nr - 1 >= batch ||
			    stock->nr_pages[slot] + nr > batch)
				return false;
			mod_slot_state(stock, (int)slot, MEMCG_STAT_KERNEL, -(long)nr);
			mod_slot_state(stock, (int)slot, MEMCG_STAT_KMEM_OWN, -(long)nr);
			stock->nr_pages[slot] += nr;
		}
	} else {
		return false;
	}
	*out = 0;
	st->held_for++;
	return true;
}

/*
 * After a hit the general way: remember where the cgroup is cached, and
 * which records the fast path may serve next (what cannot change while
 * the CPU stays held is checked here, once).
 */
static void replay_note_slot(struct replay_state *st)
{
	struct pmc_hierarchy *h = st->h;
	struct memcg_stock_pcp *stock = stock_of(h, st->cpu);
	unsigned int slot = stock_slot_of(stock, st->memcg);
	int32_t words[2] = { st->cpu, 0 };

	st->fast = stock_slot_fast(h, st->memcg, slot);
	/* memcg_charge_hit's and memcg_uncharge_hit's era conditions for kernel memory. */
	st->kcharge = h->cfg.version != 1 && !h->cfg.kmem_first;
	st->kuncharge = h->cfg.version != 1 && h->cfg.kmem_uncharge_via_stock &&
			h->cfg.stock_refill_cap;
	st->slot = slot;
	st->stock = stock;
	memcpy(&st->cpu_nokmem, words, sizeof(st->cpu_nokmem));
	words[1] = 1;
	memcpy(&st->cpu_kmem, words, sizeof(st->cpu_kmem));
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
	if (memcg_charge_hit(st->h, memcg, (unsigned long)op->nr_pages, op->cpu, op->kmem != 0)) {
		replay_note_slot(st);
		return 0;
	}

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
	if (memcg_uncharge_hit(st->h, memcg, (unsigned long)op->nr_pages, op->cpu, op->kmem != 0)) {
		replay_note_slot(st);
		return 0;
	}
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

/*
 * The batch: records from `ops`; with `map`, each record's cgroup field is
 * an index into map[0..nmap) (0: no cgroup), replaced by the handle found
 * there as the record is copied, and the batch stops before a record whose
 * index is out of range or maps to 0 (a cgroup the caller has not looked
 * up yet): the caller resolves it and goes on from there.
 */
static int64_t replay_batch(int64_t hierarchy, const void *ops, int64_t n, void *results,
			    const int64_t *map, int64_t nmap)
{
	struct replay_state st = { .hierarchy = hierarchy, .cpu = -1 };
	const unsigned char *rec = ops;
	unsigned char *res = results;
	int ret;
	int64_t i;

	if (n < 0 || (map && nmap < 1))
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
		if (map && op.cgroup) {
			int64_t handle;

			if (op.cgroup < 0 || op.cgroup >= nmap)
				break;
			memcpy(&handle, map + op.cgroup, sizeof(handle));
			if (!handle)
				break;
			op.cgroup = handle;
		}
		if (!replay_fast(&st, &op, &r))
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

int64_t pmc_hierarchy_replay(int64_t hierarchy, const void *ops, int64_t n, void *results)
{
	return replay_batch(hierarchy, ops, n, results, NULL, 0);
}

int64_t pmc_hierarchy_replay_mapped(int64_t hierarchy, const void *ops, int64_t n,
				    const int64_t *map, int64_t nmap, void *results)
{
	return map ? replay_batch(hierarchy, ops, n, results, map, nmap) : -EINVAL;
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
