/*
 * bench_memcg.c - timed loops over the memcg charge path.
 *
 * They call the same entry points Python does (pmc_cgroup_try_charge ...),
 * handle look-up and CPU lock included, so what they time is what a
 * caller of the C API pays per operation.  Each thread owns its CPU slot
 * (thread i on CPU i): no two threads ever share a slot's lock.
 *
 * The task modes (fork + exit, fault + unmap) call pmc_task_* the same way.
 *
 * The owned modes acquire the thread's CPU (csrc/cpu.c) at the start of
 * each run and release it at its end, so the charges in between pay no
 * lock: one acquire per run of thousands of operations.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "pymemcg.h"

#define GFP_BENCH (PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM)
/* Records per replay call: the call's own cost is spread as a simulator's is. */
#define REPLAY_CHUNK 4096

struct memcg_bench_arg {
	int64_t h, cgroup;
	int64_t task;                   /* FAULT_UNMAP: the thread's task (0: none) */
	int64_t cache;                  /* SLAB_*: the root cache */
	int32_t cpu;
	int mode;
	/* Replay: records prepared before the timing (a pool, replayed in order), results. */
	struct pmc_op *ops;
	int64_t *res;
	int64_t nops, next;
};

/*
 * Replay `iters` records of the thread's pool, REPLAY_CHUNK per call, from
 * where the last call stopped.  A pool holds whole pairs and has an even
 * number of records, and every run replays an even number: a charge is
 * never separated from its uncharge at the end of a run.
 */
__attribute__((noinline)) static int bench_loop_replay(void *p, uint64_t iters)
{
	struct memcg_bench_arg *a = p;
	int failed = 0;

	for (uint64_t done = 0; !failed && done < iters; ) {
		int64_t k = a->nops - a->next;

		if (k > REPLAY_CHUNK)
			k = REPLAY_CHUNK;
		if ((uint64_t)k > iters - done)
			k = (int64_t)(iters - done);
		failed = pmc_hierarchy_replay(a->h, a->ops + a->next, k, a->res) != k;
		for (int64_t i = 0; !failed && i < k; i++)
			failed = a->res[i] != 0;
		a->next = a->next + k == a->nops ? 0 : a->next + k;
		done += (uint64_t)k;
	}
	return failed;
}

/* Charges only: served from the stock (STOCK_HIT) or walking the counters (DIRECT). */
__attribute__((noinline)) static int bench_loop_charge(void *p, uint64_t iters)
{
	struct memcg_bench_arg *a = p;
	int failed = 0;

	for (uint64_t i = 0; i < iters; i++)
		failed |= pmc_cgroup_try_charge(a->h, a->cgroup, 1, a->cpu, GFP_BENCH, 0) != 0;
	return failed;
}

/* STOCK_HIT's charges on a CPU the thread owns for the run. */
__attribute__((noinline)) static int bench_loop_owned_hit(void *p, uint64_t iters)
{
	struct memcg_bench_arg *a = p;
	int64_t token = pmc_cpu_acquire(a->h, a->cpu);
	int failed = token <= 0;

	for (uint64_t i = 0; !failed && i < iters; i++)
		failed |= pmc_cpu_try_charge(token, a->cgroup, 1, GFP_BENCH, 0) != 0;
	return (token > 0 && pmc_cpu_release(token)) || failed;
}

/* KMEM_PAIR's pairs on a CPU the thread owns for the run. */
__attribute__((noinline)) static int bench_loop_owned_kmem(void *p, uint64_t iters)
{
	struct memcg_bench_arg *a = p;
	int64_t token = pmc_cpu_acquire(a->h, a->cpu);
	int failed = token <= 0;

	for (uint64_t i = 0; !failed && i < iters; i++) {
		failed |= pmc_cpu_try_charge(token, a->cgroup, 1, GFP_BENCH, 1) != 0;
		failed |= pmc_cpu_uncharge(token, a->cgroup, 1, 1) != 0;
	}
	return (token > 0 && pmc_cpu_release(token)) || failed;
}

/* Kernel-memory charge and uncharge pairs: both ends go through the stock. */
__attribute__((noinline)) static int bench_loop_kmem_pair(void *p, uint64_t iters)
{
	struct memcg_bench_arg *a = p;
	int failed = 0;

	for (uint64_t i = 0; i < iters; i++) {
		failed |= pmc_cgroup_try_charge(a->h, a->cgroup, 1, a->cpu, GFP_BENCH, 1) != 0;
		failed |= pmc_cgroup_uncharge(a->h, a->cgroup, 1, a->cpu, 1) != 0;
	}
	return failed;
}

/* User-page charge and uncharge pairs: the charge from the stock, the uncharge a walk. */
__attribute__((noinline)) static int bench_loop_user_pair(void *p, uint64_t iters)
{
	struct memcg_bench_arg *a = p;
	int failed = 0;

	for (uint64_t i = 0; i < iters; i++) {
		failed |= pmc_cgroup_try_charge(a->h, a->cgroup, 1, a->cpu, GFP_BENCH, 0) != 0;
		failed |= pmc_cgroup_uncharge(a->h, a->cgroup, 1, a->cpu, 0) != 0;
	}
	return failed;
}

/* A task forked and exited: its kernel stack charged, then uncharged. */
__attribute__((noinline)) static int bench_loop_fork_exit(void *p, uint64_t iters)
{
	struct memcg_bench_arg *a = p;
	int failed = 0;

	for (uint64_t i = 0; i < iters; i++) {
		int64_t t = pmc_task_fork(a->h, a->cgroup, a->cpu, 0, 0);

		if (t < 0) {
			failed = 1;
			continue;
		}
		failed |= pmc_task_exit(a->h, t, a->cpu) != 0;
	}
	return failed;
}

/*
 * One page faulted in and unmapped by the thread's task: its page tables
 * were charged by the first fault (the warm-up's) and stay until exit, so
 * each iteration is the user page's charge and uncharge, through the task.
 */
__attribute__((noinline)) static int bench_loop_fault_unmap(void *p, uint64_t iters)
{
	struct memcg_bench_arg *a = p;
	int failed = 0;

	for (uint64_t i = 0; i < iters; i++) {
		failed |= pmc_task_fault(a->h, a->task, 1, a->cpu, NULL) != 0;
		failed |= pmc_task_unmap(a->h, a->task, 1, a->cpu) != 0;
	}
	return failed;
}

/* One object allocated and freed (the free before the next alloc: the same slot each time). */
__attribute__((noinline)) static int bench_loop_slab_pair(void *p, uint64_t iters)
{
	struct memcg_bench_arg *a = p;
	int failed = 0;

	for (uint64_t i = 0; i < iters; i++) {
		int64_t obj = pmc_slab_alloc(a->h, a->cache, a->cgroup, a->cpu, GFP_BENCH, 0, NULL);

		failed |= obj <= 0 || pmc_slab_free(a->h, obj, a->cpu) != 0;
	}
	return failed;
}

#define SLAB_BULK 64

/* SLAB_BULK objects in one call each way; iters counts objects (whole calls, rounded up). */
__attribute__((noinline)) static int bench_loop_slab_bulk(void *p, uint64_t iters)
{
	struct memcg_bench_arg *a = p;
	int64_t objs[SLAB_BULK], err;
	int failed = 0;

	for (uint64_t i = 0; i < iters; i += SLAB_BULK) {
		int64_t n = pmc_slab_alloc_bulk(a->h, a->cache, a->cgroup, SLAB_BULK, a->cpu,
						GFP_BENCH, 0, objs, &err, NULL);

		failed |= n != SLAB_BULK;
		if (n > 0)
			failed |= pmc_slab_free_bulk(a->h, objs, n, a->cpu, NULL) != 0;
	}
	return failed;
}

/*
 * A chain of `depth` cgroups below `cg`; the handle of the deepest.  Kernel
 * memory is activated on each (3.8: a kmem-limit write does it, and a
 * child made afterwards inherits it; later eras: already active).
 */
static int64_t make_chain(int64_t h, int64_t cg, int depth, const char *name)
{
	for (int i = 0; i < depth && cg > 0; i++) {
		int64_t err;

		cg = pmc_cgroup_create(h, cg, name);
		err = cg > 0 ? pmc_cgroup_activate_kmem(h, cg) : 0;
		if (err < 0)
			return err;
	}
	return cg;
}

/* Zero usage on every counter of the root (where the whole tree's charges add up). */
static int64_t check_empty(int64_t h)
{
	struct pmc_page_counter_info info;

	for (int32_t c = PMC_COUNTER_MEMORY; c <= PMC_COUNTER_TCPMEM; c++) {
		int64_t r = pmc_cgroup_counter(h, pmc_cgroup_root(h), c, &info);

		if (r == -EINVAL)       /* v2: memory and swap only */
			break;
		if (r || info.usage)
			return -EIO;
	}
	return 0;
}

static struct pmc_op bench_op(uint32_t op, int64_t cgroup, int32_t cpu, int32_t kmem)
{
	return (struct pmc_op){ .op = op, .flags = op == PMC_OP_CHARGE ? GFP_BENCH : 0,
				.cgroup = cgroup, .nr_pages = 1, .cpu = cpu, .kmem = kmem };
}

/* The replay modes' pools: REPLAY_CHUNK records on the thread's own cgroup and CPU. */
static int fill_pool(struct memcg_bench_arg *a)
{
	int mode = a->mode & PMC_BENCH_MODE_MASK;

	a->nops = REPLAY_CHUNK;
	a->next = 0;
	a->ops = malloc(REPLAY_CHUNK * sizeof(*a->ops));
	a->res = malloc(REPLAY_CHUNK * sizeof(*a->res));
	if (!a->ops || !a->res)
		return -ENOMEM;
	for (int i = 0; i < REPLAY_CHUNK; i++) {
		uint32_t op = mode == PMC_BENCH_REPLAY_HIT || i % 2 == 0 ? PMC_OP_CHARGE :
			      PMC_OP_UNCHARGE;

		a->ops[i] = bench_op(op, a->cgroup, a->cpu, mode == PMC_BENCH_REPLAY_KMEM);
	}
	return 0;
}

static bench_loop_fn memcg_loop(int m)
{
	switch (m) {
	case PMC_BENCH_KMEM_PAIR:
		return bench_loop_kmem_pair;
	case PMC_BENCH_USER_PAIR:
		return bench_loop_user_pair;
	case PMC_BENCH_FORK_EXIT:
		return bench_loop_fork_exit;
	case PMC_BENCH_FAULT_UNMAP:
		return bench_loop_fault_unmap;
	case PMC_BENCH_SLAB_PAIR:
		return bench_loop_slab_pair;
	case PMC_BENCH_SLAB_BULK:
		return bench_loop_slab_bulk;
	case PMC_BENCH_OWNED_HIT:
		return bench_loop_owned_hit;
	case PMC_BENCH_OWNED_KMEM:
		return bench_loop_owned_kmem;
	case PMC_BENCH_REPLAY_HIT:
	case PMC_BENCH_REPLAY_KMEM:
	case PMC_BENCH_REPLAY_USER:
		return bench_loop_replay;
	default:
		return bench_loop_charge;
	}
}

/*
 * mode PMC_BENCH_STOCK_HIT: one-page charges that the stock serves (the
 * batch is raised to cover the whole call, so only the first walks the
 * counters); PMC_BENCH_DIRECT: the same with a batch of 1, every charge a
 * walk of atomic adds; PMC_BENCH_KMEM_PAIR: try_charge + uncharge of one
 * kmem page per iteration; PMC_BENCH_USER_PAIR: the same of a user page,
 * with STOCK_HIT's raised batch; PMC_BENCH_FORK_EXIT, PMC_BENCH_FAULT_UNMAP:
 * tasks; PMC_BENCH_REPLAY_*: records (see pymemcg.h).  Thread i runs on
 * CPU i of a hierarchy with cfg, on one cgroup `depth` levels below the
 * root, or with PMC_BENCH_OWN_CGROUPS on its own cgroup at that depth
 * (below a shared chain of depth - 1).
 */
int64_t pmc_bench_memcg(const struct pmc_config *cfg, int depth, int nthreads, int mode,
			uint64_t iters, struct pmc_bench_result *out)
{
	struct pmc_config c;
	struct memcg_bench_arg *args = NULL;
	void **argv = NULL;
	int own = !!(mode & PMC_BENCH_OWN_CGROUPS), m = mode & PMC_BENCH_MODE_MASK;
	int replay = m >= PMC_BENCH_REPLAY_HIT && m <= PMC_BENCH_REPLAY_USER;
	int64_t h, shared, cache, ret = 0;
	uint64_t samples;

	if (!cfg || depth < 1 || depth > BENCH_MAX_DEPTH || nthreads < 1 ||
	    nthreads > cfg->ncpus || nthreads > BENCH_MAX_THREADS ||
	    m < PMC_BENCH_STOCK_HIT || m > PMC_BENCH_OWNED_KMEM ||
	    (mode & ~(PMC_BENCH_MODE_MASK | PMC_BENCH_OWN_CGROUPS)) || !iters || !out ||
	    out->samples < 0 || out->samples > BENCH_MAX_SAMPLES)
		return -EINVAL;
	/* Replay records come in pairs: a run stops between two pairs. */
	if ((m == PMC_BENCH_REPLAY_KMEM || m == PMC_BENCH_REPLAY_USER) && iters % 2)
		return -EINVAL;
	c = *cfg;
	samples = (uint64_t)(out->samples ? out->samples : 1);
	if (m == PMC_BENCH_STOCK_HIT || m == PMC_BENCH_REPLAY_HIT || m == PMC_BENCH_USER_PAIR ||
	    m == PMC_BENCH_OWNED_HIT) {
		/* One batch covers every charge of the call. */
		if (iters > (uint64_t)PMC_PAGE_COUNTER_MAX / (samples + 2))
			return -EINVAL;
		c.charge_batch = (int64_t)(warmup_iters(iters) + samples * iters + 1);
	}
	if (m == PMC_BENCH_DIRECT)
		c.charge_batch = 1;
	h = pmc_hierarchy_new(&c);
	if (h < 0)
		return h;
	shared = make_chain(h, pmc_cgroup_root(h), own ? depth - 1 : depth, "b");
	/* The slab modes' cache: dentry-sized, SLAB_ACCOUNT. */
	cache = m == PMC_BENCH_SLAB_PAIR || m == PMC_BENCH_SLAB_BULK ? pmc_kmem_cache_create(h, "bench", 192, 8,
								PMC_CACHE_ACCOUNT, -1, -1) : 0;
	if (cache < 0)
		shared = cache;
	args = calloc((size_t)nthreads, sizeof(*args));
	argv = calloc((size_t)nthreads, sizeof(*argv));
	if (shared < 0 || !args || !argv) {
		ret = shared < 0 ? shared : -ENOMEM;
		goto out;
	}
	for (int i = 0; !ret && i < nthreads; i++) {
		char name[32];
		int64_t cg = shared;

		if (own) {
			snprintf(name, sizeof(name), "t%d", i);
			cg = make_chain(h, shared, 1, name);
			if (cg < 0) {
				ret = cg;
				break;
			}
		}
		args[i] = (struct memcg_bench_arg){ .h = h, .cgroup = cg, .cpu = i, .mode = mode,
						    .cache = cache };
		argv[i] = &args[i];
		if (replay)
			ret = fill_pool(&args[i]);
		if (m == PMC_BENCH_FAULT_UNMAP) {
			args[i].task = pmc_task_fork(h, cg, i, 0, 0);
			if (args[i].task < 0)
				ret = args[i].task;
		}
	}
	if (!ret)
		ret = bench_run(nthreads, memcg_loop(m), argv, iters, out);
	for (int i = 0; i < nthreads; i++)
		if (args[i].task > 0 && pmc_task_exit(h, args[i].task, i) && !ret)
			ret = -EIO;
	/*
	 * What was given back is back: nothing stays charged once the stocks
	 * are drained -- the slab modes once the cgroups are gone too (a
	 * clone's kept empty slab stays charged while its cgroup lives).
	 */
	if (!ret && (m == PMC_BENCH_SLAB_PAIR || m == PMC_BENCH_SLAB_BULK)) {
		int64_t all[BENCH_MAX_THREADS + BENCH_MAX_DEPTH + 2];
		int64_t n = pmc_hierarchy_cgroups(h, all, BENCH_MAX_THREADS + BENCH_MAX_DEPTH + 2);

		for (int64_t i = n - 1; i > 0; i--)     /* leaves first; [0] is the root */
			pmc_cgroup_remove(h, all[i]);
	}
	if (!ret && m != PMC_BENCH_STOCK_HIT && m != PMC_BENCH_DIRECT && m != PMC_BENCH_REPLAY_HIT &&
	    m != PMC_BENCH_OWNED_HIT) {
		pmc_hierarchy_drain_all(h, 0);
		ret = check_empty(h);
	}
out:
	if (args)
		for (int i = 0; i < nthreads; i++) {
			free(args[i].ops);
			free(args[i].res);
		}
	free(args);
	free(argv);
	pmc_hierarchy_put(h);
	return ret;
}

/* --- the number of cgroups: a tree, and pairs on random leaves ------------ */

int64_t pmc_bench_tree(int64_t hierarchy, int64_t parent, int64_t nmid, int64_t nleaves,
		       int64_t *leaves)
{
	int64_t *mids = NULL, made = 0;
	char name[32];

	if (nmid < 0 || nleaves < 0 || nmid > 65535 || nleaves > 65535)
		return -EINVAL;
	if (nmid) {
		mids = malloc((size_t)nmid * sizeof(*mids));
		if (!mids)
			return -ENOMEM;
	}
	for (int64_t i = 0; i < nmid; i++) {
		snprintf(name, sizeof(name), "m%lld", (long long)i);
		mids[i] = pmc_cgroup_create(hierarchy, parent, name);
		if (mids[i] < 0) {
			made = mids[i];
			goto out;
		}
		made++;
	}
	for (int64_t i = 0; i < nleaves; i++) {
		int64_t cg;

		snprintf(name, sizeof(name), "l%lld", (long long)i);
		cg = pmc_cgroup_create(hierarchy, nmid ? mids[i % nmid] : parent, name);
		if (cg < 0) {
			made = cg;
			goto out;
		}
		if (leaves)
			leaves[i] = cg;
		made++;
	}
out:
	free(mids);
	return made;
}

int64_t pmc_bench_replay_pairs(int64_t hierarchy, const int64_t *leaves, int64_t nleaves,
			       int32_t kmem, uint64_t seed, uint64_t iters,
			       struct pmc_bench_result *out)
{
	/* 64K records (2 MiB): a simulator's chunk; every leaf comes up in a tree of 60,000. */
	const int64_t pool = 65536;
	struct memcg_bench_arg a = { .h = hierarchy, .cpu = 0, .nops = pool };
	void *argv = &a;
	uint64_t rng = seed;
	int64_t ret;

	if (!leaves || nleaves < 1 || (kmem != 0 && kmem != 1) || !iters || iters % 2 || !out)
		return -EINVAL;
	a.ops = malloc((size_t)pool * sizeof(*a.ops));
	a.res = malloc(REPLAY_CHUNK * sizeof(*a.res));
	if (!a.ops || !a.res) {
		ret = -ENOMEM;
		goto out;
	}
	for (int64_t i = 0; i < pool; i += 2) {
		int64_t cg = leaves[bench_rand(&rng) % (uint64_t)nleaves];

		a.ops[i] = bench_op(PMC_OP_CHARGE, cg, 0, kmem);
		a.ops[i + 1] = bench_op(PMC_OP_UNCHARGE, cg, 0, kmem);
	}
	ret = bench_run(1, bench_loop_replay, &argv, iters, out);
out:
	free(a.ops);
	free(a.res);
	return ret;
}
