/*
 * replay.c - the batch entry point.
 *
 * A simulator that drives millions of charges cannot pay a Python-to-C
 * crossing (50-100 ns) for each: it fills an array of fixed-size records
 * and crosses once.  Each record runs exactly as the single call would,
 * memory.high handling and the dying-cgroup check included, so a replay
 * and the same calls one by one end in the same state.
 */
#include <errno.h>

#include "memcg.h"
#include "table.h"

struct pmc_hierarchy *hierarchy_lookup(int64_t hierarchy);

static int64_t replay_one(struct pmc_hierarchy *h, const struct pmc_op *op)
{
	int64_t ret;

	switch (op->op) {
	case PMC_OP_CHARGE:
	case PMC_OP_UNCHARGE:
		if (op->nr_pages < 0 || op->nr_pages > PMC_PAGE_COUNTER_MAX ||
		    op->cpu < 0 || op->cpu >= h->cfg.ncpus)
			return -EINVAL;
		if (op->op == PMC_OP_UNCHARGE) {
			struct clamp_log log = { 0 };

			ret = memcg_uncharge(h, op->cgroup, (unsigned long)op->nr_pages, op->cpu,
					     op->kmem != 0, &log);
			return ret ? ret : log.mask ? PMC_RESULT_UNDERFLOW : 0;
		}
		if (op->flags & ~0x7fu)
			return -EINVAL;
		ret = memcg_try_charge(h, op->cgroup, (unsigned long)op->nr_pages, op->cpu,
				       op->flags, op->kmem != 0);
		/* A refusal names the cgroup by id: it is alive, an ancestor of a live one. */
		return ret > 0 ? (ret & 0xffff) : ret;
	case PMC_OP_DRAIN:
		if (op->cpu < 0 || op->cpu >= h->cfg.ncpus)
			return -EINVAL;
		return memcg_drain_cpu(h, op->cpu);
	case PMC_OP_DRAIN_ALL:
		return memcg_drain_all(h, op->cgroup);
	default:
		return -EINVAL;
	}
}

int64_t pmc_hierarchy_replay(int64_t hierarchy, const struct pmc_op *ops, int64_t n,
			     int64_t *results)
{
	struct pmc_hierarchy *h = hierarchy_lookup(hierarchy);
	int64_t i;

	if (!h)
		return -ESTALE;
	if (n < 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		results[i] = replay_one(h, &ops[i]);
		/* A reclaim hook raised: the caller has an exception to deliver. */
		if (results[i] == -ECANCELED)
			return i + 1;
	}
	return n;
}
