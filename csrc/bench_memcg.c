/*
 * bench_memcg.c - timed loops over the memcg charge path.
 *
 * They call the same entry points Python does (pmc_cgroup_try_charge ...),
 * handle look-up and CPU lock included, so what they time is what a
 * caller of the C API pays per operation.
 */
#include <errno.h>
#include <stdlib.h>

#include "bench.h"
#include "pymemcg.h"

struct memcg_bench_arg {
	int64_t h, cgroup;
	int32_t cpu;
	int mode;
};

#define REPLAY_CHUNK 4096

/*
 * The stock hits of charge_loop as replay records: the batch keeps the CPU
 * and the cgroup across records, as a kernel charge runs on its own CPU
 * without an atomic to take it (local_lock).  Chunks of REPLAY_CHUNK
 * records per call, so the call's own cost is spread as a simulator's is.
 */
static int replay_hit_loop(void *p, uint64_t iters)
{
	struct memcg_bench_arg *a = p;
	struct pmc_op *ops = malloc(REPLAY_CHUNK * sizeof(*ops));
	int64_t *res = malloc(REPLAY_CHUNK * sizeof(*res));
	int failed = !ops || !res;

	for (int i = 0; !failed && i < REPLAY_CHUNK; i++)
		ops[i] = (struct pmc_op){ .op = PMC_OP_CHARGE, .cgroup = a->cgroup, .nr_pages = 1,
					  .cpu = a->cpu,
					  .flags = PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM };
	for (uint64_t done = 0; !failed && done < iters; ) {
		int64_t k = iters - done < REPLAY_CHUNK ? (int64_t)(iters - done) : REPLAY_CHUNK;

		failed = pmc_hierarchy_replay(a->h, ops, k, res) != k || res[k - 1] != 0;
		done += (uint64_t)k;
	}
	free(ops);
	free(res);
	return failed;
}

/* Charges only: served from the stock (STOCK_HIT) or walking the counters (DIRECT). */
static int charge_loop(void *p, uint64_t iters)
{
	struct memcg_bench_arg *a = p;
	int failed = 0;

	for (uint64_t i = 0; i < iters; i++)
		failed |= pmc_cgroup_try_charge(a->h, a->cgroup, 1, a->cpu,
						PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM, 0) != 0;
	return failed;
}

/* Kernel-memory charge and uncharge pairs: both ends go through the stock. */
static int kmem_pair_loop(void *p, uint64_t iters)
{
	struct memcg_bench_arg *a = p;
	int failed = 0;

	for (uint64_t i = 0; i < iters; i++) {
		failed |= pmc_cgroup_try_charge(a->h, a->cgroup, 1, a->cpu,
						PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM, 1) != 0;
		failed |= pmc_cgroup_uncharge(a->h, a->cgroup, 1, a->cpu, 1) != 0;
	}
	return failed;
}

/* A chain of `depth` cgroups below the root; the handle of the deepest. */
static int64_t make_chain(int64_t h, int depth)
{
	int64_t cg = pmc_cgroup_root(h);

	for (int i = 0; i < depth && cg > 0; i++)
		cg = pmc_cgroup_create(h, cg, "b");
	return cg;
}

/*
 * mode PMC_BENCH_STOCK_HIT: one-page charges that the stock serves (the
 * batch is raised to cover the whole run, so only the first walks the
 * counters); PMC_BENCH_DIRECT: the same with a batch of 1, every charge a
 * walk of atomic adds; PMC_BENCH_KMEM_PAIR: try_charge + uncharge of one
 * kmem page per iteration.  Thread i runs on CPU i of a hierarchy with
 * cfg, all on one cgroup `depth` levels below the root.
 */
int64_t pmc_bench_memcg(const struct pmc_config *cfg, int depth, int nthreads, int mode,
			uint64_t iters, struct pmc_bench_result *out)
{
	struct pmc_config c = *cfg;
	struct memcg_bench_arg *args = NULL;
	void **argv = NULL;
	struct pmc_page_counter_info info;
	int64_t h, cg, ret;
	bench_loop_fn loop = mode == PMC_BENCH_KMEM_PAIR ? kmem_pair_loop :
			     mode == PMC_BENCH_REPLAY_HIT ? replay_hit_loop : charge_loop;

	if (depth < 1 || depth > BENCH_MAX_DEPTH || nthreads < 1 || nthreads > cfg->ncpus ||
	    mode < PMC_BENCH_STOCK_HIT || mode > PMC_BENCH_REPLAY_HIT || !iters || !out)
		return -EINVAL;
	if (mode == PMC_BENCH_STOCK_HIT || mode == PMC_BENCH_REPLAY_HIT)
		c.charge_batch = (int64_t)(warmup_iters(iters) + iters + 1);
	if (mode == PMC_BENCH_DIRECT)
		c.charge_batch = 1;
	h = pmc_hierarchy_new(&c);
	if (h < 0)
		return h;
	cg = make_chain(h, depth);
	args = calloc((size_t)nthreads, sizeof(*args));
	argv = calloc((size_t)nthreads, sizeof(*argv));
	if (cg < 0 || !args || !argv) {
		ret = cg < 0 ? cg : -ENOMEM;
		goto out;
	}
	for (int i = 0; i < nthreads; i++) {
		args[i] = (struct memcg_bench_arg){ .h = h, .cgroup = cg, .cpu = i, .mode = mode };
		argv[i] = &args[i];
	}
	ret = bench_run_threads(nthreads, loop, argv, iters, out);
	/* Pairs leave nothing behind once the stocks are drained. */
	if (!ret && mode == PMC_BENCH_KMEM_PAIR) {
		pmc_hierarchy_drain_all(h, 0);
		if (pmc_cgroup_counter(h, cg, PMC_COUNTER_MEMORY, &info) || info.usage)
			ret = -EIO;
	}
out:
	free(args);
	free(argv);
	pmc_hierarchy_put(h);
	return ret;
}
