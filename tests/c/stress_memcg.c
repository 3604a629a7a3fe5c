/*
 * stress_memcg.c - concurrent charges through the cgroup tree, its per-CPU
 * stocks and its frees, by the public handle API of pymemcg.h.
 *
 *   stress_memcg [threads [ops_per_thread [seed]]]
 *
 * Two runs, one hierarchy each, with ncpus = threads:
 *   v2: Linux 6.16 on cgroup v2 (batch 64, 7 stock slots, refill cap,
 *       kmem uncharged through the stock, allow_spinning_batch, no failcnt);
 *   v1: the same kernel on cgroup v1 (memsw counter, failcnt on memory).
 * reclaim_retries is 2 (a refused charge runs the whole loop, so failing
 * is kept cheap).  The tree (memory max / v1 memsw max):
 *
 *                  root: -/-
 *            /                   \
 *       A: 320/320            B: 260/400
 *      /          \                |
 *  A1: 160/-   A2: 140/200     B1: 120/120
 *
 * Each worker runs on CPU = its index, and one operation in 8 on another
 * worker's CPU (two threads on one CPU take turns on its lock).  It
 * charges (1..80 pages, user or kmem, GFP_KERNEL mostly, GFP_NOWAIT,
 * GFP_KERNEL|__GFP_NORETRY, and GFP_ATOMIC which is forced), uncharges only
 * what its own ledger (per cgroup and kind) holds, drains one CPU or every
 * CPU's stock of a subtree.  No uncharge may report a clamped level.
 *
 * Phases of each run:
 *  1. main: every CHECK_EVERY operations the workers meet, and one checks,
 *     with nothing in flight: for every cgroup, usage (and v1 memsw) ==
 *     what the ledgers hold at it and below + what the stocks hold for it
 *     and its descendants (so usage >= true and usage - true <= ncpus * 7 *
 *     64, SPEC.md 2.9 since 6.16); v1 kmem == the ledgers' kmem pages
 *     (never through the stock); stat anon/kernel == the ledgers' pages at
 *     that cgroup alone, the subtree's stat == theirs at it and below; empty
 *     charges change nothing; events: local OOM == the GFP_KERNEL refusals of
 *     <= 8 pages reported there, local MAX >= the refusals after reclaim,
 *     and on v2 each cgroup's events == the sum of its subtree's local
 *     events; then a drain of every stock (drain_all(0), a drain-all
 *     record, or a drain record per CPU, by turns) and usage == true,
 *     every stock slot empty.
 *  2. dying: per round, worker 0 charges a new cgroup C (below A2) while
 *     worker 1 removes it; C is then dying (state 2) while anything is
 *     charged to it, refuses charges with -ESTALE, accepts uncharges, and
 *     its name may be reused; once its ledger is uncharged and the CPUs
 *     are drained (a stock slot that cached it holds a reference, as the
 *     kernel's css_get) it is freed: -ESTALE everywhere.  Dying with
 *     nothing charged, it must be held by a stock slot: nothing else may
 *     keep it.
 *     2b. duel: worker 0 frees a dying cgroup (its last uncharge) while
 *     worker 1 replays 1024 records naming it, holding its CPU.
 *  3. churn: a churn thread creates and removes a cgroup below B over and
 *     over (two names, reused) while the workers charge it (success,
 *     refusal or -ESTALE, nothing else), uncharge what they hold in it
 *     (always 0: a charged cgroup is never freed), and charge the tree:
 *     frees race with charges (synchronize_cpus), and long replay batches
 *     watch the churned cgroup die and be freed under them.  At the end
 *     every churned cgroup must be gone.
 *  4. reclaim: the reclaim callback (reclaim_cb) is on, A1 and A have a
 *     memory.high (A1 no max: only memory.high reclaims it), and a share
 *     of the user pages charged goes to a pool that the callback reclaims
 *     by uncharging it (the pool counts in the ledgers).  The callback is
 *     honest, lies (claims more than it freed, until the operation ends),
 *     fails (-ECANCELED, for B's subtree only, where no memory.high is
 *     set: the charge must return -ECANCELED, and only then, with nothing
 *     charged), removes victim cgroups (one per worker below B, charged by
 *     it) and calls the API from inside (a nested charge, a drain, a new
 *     memory.high, a close that must be refused).  The workers also call
 *     pmc_cgroup_reclaim (progress <= the claim), replay mixed batches
 *     (charges, uncharges, drain and drain-all records, malformed records:
 *     -EINVAL, stale cgroups: -ESTALE, cgroup 0 or another hierarchy's
 *     cgroup: -EINVAL; nothing after a -ECANCELED may run or be written),
 *     call every function with stale, foreign and 0 handles, and watch
 *     other workers' victims under long batches.  Quiescent checks as in
 *     phase 1 (victims' pages and stocks included), and at the end: each
 *     high event of A1 was exactly one callback for A1, every path was
 *     taken, every victim is freed.
 *  5. teardown: everything uncharged and drained, every counter 0; the
 *     cgroups removed leaf first, each freed at once or, if a stock slot
 *     still caches it (with 0 pages), once the CPUs are drained.
 *
 * A monitor thread keeps reading every counter and every CPU's stock and
 * checks that nothing is absurd: usage never negative (as a signed long)
 * nor above what the ledgers, stocks and calls in flight can hold, stock
 * slots within the batch and one slot per cgroup, failcnt only where the
 * config counts it.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pymemcg.h"

/* The lowest GFP bit the core does not know (PMC_GFP_ALL: every bit it knows). */
#ifndef PMC_GFP_ALL
#define PMC_GFP_ALL 0x7f
#endif
#define BAD_GFP (PMC_GFP_ALL + 1u)
#include "stress.h"

#define NCG 6                   /* root, A, B, A1, A2, B1 */
#define MAX_THREADS 64
#define MAX_SLOTS 16
#define BATCH 64
#define SLOTS 7
#define MAX_CHARGE 80           /* try_charge sizes 1..MAX_CHARGE */
#define FORCED_CAP 64           /* forced (GFP_ATOMIC) pages one thread may hold */
#define LEDGER_CAP 1000         /* pages one thread may hold in all */
#define CHECK_EVERY 500         /* operations between quiescent checks */
#define DYING_ROUNDS 24
#define NHOLD 8                 /* churn holdings per thread */
#define MIN_INCARNATIONS 40     /* churned cgroups per run, at least */
#define UNLIMITED PMC_PAGE_COUNTER_MAX
#define POOL_PER_THREAD 160     /* reclaimable pool pages per worker (phase 4) */
#define NSTALE 64               /* stale handles remembered */
#define NRETIRED 8
#define VICTIM_MAX 60           /* memory (and memsw) max of a victim cgroup */
#define A1_HIGH 60              /* memory.high of A1 and A in phase 4 */
#define A_HIGH 240
#define NESTED_ROOM (6 * MAX_CHARGE)    /* ledger room a callback leaves for the call it is in */
#define CANARY INT64_MIN        /* a result slot that replay must not write */
#define RUNAWAY 20000           /* callbacks in one operation that mean a loop */

#define GFP_NOWAIT (PMC_GFP_KSWAPD_RECLAIM)                                   /* 2 */
#define GFP_KERNEL (PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM)          /* 3 */
#define GFP_KERNEL_NORETRY (GFP_KERNEL | PMC_GFP_NORETRY)                     /* 7 */
#define GFP_ATOMIC (PMC_GFP_HIGH | PMC_GFP_KSWAPD_RECLAIM)                    /* 34 */

enum { ROOT, A, B, A1, A2, B1 };
static const int parent_of[NCG] = { -1, ROOT, ROOT, A, A, B };
static const int depth_of[NCG] = { 0, 1, 1, 2, 2, 2 };
static const char *const name_of[NCG] = { "", "A", "B", "A1", "A2", "B1" };
static const int64_t mem_max_init[NCG] = { UNLIMITED, 320, 260, 160, 140, 120 };
/* As mem_max_init, but A1 is unlimited in phase 4 (only memory.high reclaims it then). */
static _Atomic int64_t mem_max_of[NCG];
static const int64_t memsw_max_of[NCG] = { UNLIMITED, 320, 400, UNLIMITED, 200, 120 };

static int nthreads = 4;
static long ops_per_thread = 50000;
static uint64_t seed = 1;

/* The run in progress. */
static int64_t h;
static int64_t cg[NCG];                 /* handles */
static int64_t cg_id[NCG];              /* their memcg ids (the tree lives all run long) */
static int version;
static bool memsw;
static int ncounters;                   /* 2 on v2 (memory, swap), 4 on v1 */

static pthread_barrier_t barrier;
static atomic_bool stop_monitor, stop_churn;
static _Atomic int64_t dying_cg;        /* C of the dying phase, 0: none */
static _Atomic int64_t churn_cg;        /* the churned cgroup, 0: none */
static _Atomic unsigned long churn_ops; /* worker operations of the churn phase */
static _Atomic unsigned long churn_born;    /* churn_ops when the last one was created */
static atomic_bool churn_done;

/* ------------------------------------------------------------------ */

static bool is_ancestor_or_self(int anc, int d)
{
	for (; d >= 0; d = parent_of[d])
		if (d == anc)
			return true;
	return false;
}

static int idx_of(int64_t handle)
{
	for (int c = 0; c < NCG; c++)
		if (cg[c] == handle)
			return c;
	return -1;
}

static bool has_limit(int c)
{
	return mem_max_of[c] != UNLIMITED || (memsw && memsw_max_of[c] != UNLIMITED);
}

/* Pages held in a cgroup outside the tree: churned or victim cgroups, all below B. */
struct hold {
	int64_t handle;
	int kmem;
	unsigned long pages;
};

struct worker {
	pthread_t tid;
	int id;
	uint64_t rng;
	/* The ledger: pages this thread holds charged to each cgroup, by kind (kmem). */
	unsigned long led[NCG][2];
	unsigned long forced[NCG][2];   /* the part of led[] charged with GFP_ATOMIC */
	unsigned long forced_total;     /* at most FORCED_CAP */
	unsigned long total;            /* everything held, led + cled + holds: <= LEDGER_CAP */
	unsigned long cled[2];          /* held in C (dying phase) */
	struct hold holds[NHOLD];       /* held in churned cgroups */
	int nholds;
	/* Refusals reported at each tree cgroup: after reclaim; GFP_KERNEL of <= 8 pages. */
	unsigned long refused_reclaim[NCG], refused_oom[NCG], refused_at[NCG];
	unsigned long tries, successes, forced_charges, uncharges, drains, drain_alls, other_cpu;
	unsigned long replayed;          /* records run through pmc_hierarchy_replay */
	unsigned long dying_charged, dying_stale, churn_ok, churn_refused, churn_stale;
	/* Phase 4: the reclaim callback, run on this thread (see reclaim_cb). */
	int depth;                      /* callbacks this thread is inside */
	int64_t last_claim;             /* what the outermost callback last returned */
	bool liar;                      /* the callback lies until this operation ends */
	unsigned long op_calls;         /* callbacks in this operation (a runaway guard) */
	unsigned long calls_for[NCG];   /* callbacks for each tree cgroup */
	unsigned long reclaims_of[NCG]; /* pmc_cgroup_reclaim of each tree cgroup */
	unsigned long hook_calls, hook_honest, hook_liar, hook_fails, hook_removes, hook_nested,
		hook_freed, cancelled, reclaims, stale_calls, zero_records, bad_records,
		drain_records, stale_records, victims_made, long_batches;
	int64_t retired[NRETIRED];      /* victims replaced, not yet seen freed */
	int nretired;
	struct checks ck;
	char pad[64];
};

static struct worker workers[MAX_THREADS];

/* The worker running on this thread (NULL elsewhere): the reclaim callback books to it. */
static _Thread_local struct worker *self;

/*
 * Phase 4 (reclaim).  The pool: user pages charged to tree cgroups that no
 * worker owns, the page cache of this simulation: the callback reclaims a
 * cgroup by uncharging pool pages of its subtree.  Victims: one cgroup per
 * worker below B (VICTIM_MAX pages), which callbacks remove.  The stale
 * ring: handles seen freed (-ESTALE once, so forever).
 */
static _Atomic unsigned long pool[NCG];
static _Atomic unsigned long pool_total;
static unsigned long pool_cap;
static atomic_bool pool_on;
static bool high_set[NCG];              /* memory.high was set: high events allowed */
static _Atomic int64_t victims[MAX_THREADS];
static _Atomic int64_t stale_ring[NSTALE];
static atomic_uint nstale;
static int64_t foreign_h, foreign_cg;   /* another hierarchy and one of its cgroups */
static atomic_ulong cb_strays;          /* callbacks of another hierarchy or off a worker */

/* Global totals over both runs, for the summary. */
static unsigned long tot_tries, tot_ok, tot_refused_depth[3], tot_forced, tot_uncharges,
	tot_drains, tot_dying_charged, tot_dying_stale, tot_churn_ok, tot_churn_refused,
	tot_churn_stale, tot_incarnations, tot_churn_dying, tot_quiescent, tot_monitor_rounds;

/* ------------------------------------------------------------------ */
/* Reading the core.                                                     */

static int64_t read_counter(int64_t handle, int counter, struct pmc_page_counter_info *pc)
{
	memset(pc, 0, sizeof(*pc));
	return pmc_cgroup_counter(h, handle, counter, pc);
}

static uint64_t usage_of(struct checks *ck, int64_t handle, int counter)
{
	struct pmc_page_counter_info pc;
	int64_t ret = read_counter(handle, counter, &pc);

	CHECK(ck, ret == 0, "pmc_cgroup_counter(%" PRId64 ", %d) = %" PRId64, handle, counter,
	      ret);
	return pc.usage;
}

struct stocks {
	int64_t cached[MAX_THREADS][MAX_SLOTS];
	uint64_t pages[MAX_THREADS][MAX_SLOTS];
};

/* Every CPU's stock, each read under its CPU lock; checks the slot rules. */
static void read_stocks(struct checks *ck, struct stocks *s)
{
	for (int cpu = 0; cpu < nthreads; cpu++) {
		int64_t n = pmc_hierarchy_stock(h, cpu, s->cached[cpu], s->pages[cpu], MAX_SLOTS);

		CHECK(ck, n == SLOTS, "pmc_hierarchy_stock(cpu %d) = %" PRId64, cpu, n);
		for (int i = 0; i < SLOTS; i++) {
			CHECK(ck, s->pages[cpu][i] <= BATCH, "cpu %d slot %d holds %" PRIu64
			      " pages, above the batch", cpu, i, s->pages[cpu][i]);
			CHECK(ck, s->cached[cpu][i] || !s->pages[cpu][i],
			      "cpu %d slot %d: %" PRIu64 " pages and no cgroup", cpu, i,
			      s->pages[cpu][i]);
			for (int j = 0; j < i; j++)
				CHECK(ck, !s->cached[cpu][i] || s->cached[cpu][i] != s->cached[cpu][j],
				      "cpu %d caches %" PRId64 " in slots %d and %d", cpu,
				      s->cached[cpu][i], j, i);
		}
	}
}

static uint64_t stock_pages_of(const struct stocks *s, int64_t handle, bool *cached)
{
	uint64_t sum = 0;

	if (cached)
		*cached = false;
	for (int cpu = 0; cpu < nthreads; cpu++) {
		for (int i = 0; i < SLOTS; i++) {
			if (s->cached[cpu][i] == handle) {
				sum += s->pages[cpu][i];
				if (cached)
					*cached = true;
			}
		}
	}
	return sum;
}

static void drain_every_cpu(struct checks *ck)
{
	for (int cpu = 0; cpu < nthreads; cpu++) {
		int64_t ret = pmc_hierarchy_drain(h, cpu);

		CHECK(ck, ret == 0, "pmc_hierarchy_drain(%d) = %" PRId64, cpu, ret);
	}
}

/* ------------------------------------------------------------------ */
/* Checks with nothing in flight (one thread, the others at a barrier).  */

static struct stocks qstocks;

/* A cgroup outside the tree in a quiescent check: what is held there, what stocks hold. */
struct ext_cg {
	int64_t handle;
	unsigned long held[2];
	uint64_t stock;
};

/*
 * events_hier: no cgroup other than the tree's has existed yet, so each
 * cgroup's hierarchical events are exactly its subtree's local ones.
 */
static void quiescent_check(struct checks *ck, bool final, bool events_hier)
{
	unsigned long truth[NCG] = { 0 }, truth_kmem[NCG] = { 0 }, local[NCG][2] = { { 0 } };
	unsigned long ref_reclaim[NCG] = { 0 }, ref_oom[NCG] = { 0 }, below_b[2] = { 0, 0 };
	uint64_t in_stock[NCG] = { 0 };
	struct pmc_cgroup_info info[NCG];
	/* Cgroups outside the tree (below B) that hold pages or stock slots. */
	struct ext_cg ext[MAX_THREADS * (NHOLD + SLOTS)];
	int t, c, d, i, cpu, next = 0, e;

	memset(info, 0, sizeof(info));
	tot_quiescent++;
	for (t = 0; t < nthreads; t++) {
		for (d = 0; d < NCG; d++) {
			local[d][0] += workers[t].led[d][0];
			local[d][1] += workers[t].led[d][1];
			ref_reclaim[d] += workers[t].refused_reclaim[d];
			ref_oom[d] += workers[t].refused_oom[d];
		}
		for (i = 0; i < workers[t].nholds; i++) {
			const struct hold *hd = &workers[t].holds[i];

			for (e = 0; e < next && ext[e].handle != hd->handle; e++)
				;
			if (e == next)
				ext[next++] = (struct ext_cg){ hd->handle, { 0, 0 }, 0 };
			ext[e].held[hd->kmem] += hd->pages;
			below_b[hd->kmem] += hd->pages;
		}
	}
	/* The pool's pages are user pages of their cgroup, owned by no worker. */
	for (d = 0; d < NCG; d++)
		local[d][0] += atomic_load(&pool[d]);
	for (d = 0; d < NCG; d++)
		for (c = 0; c < NCG; c++)
			if (is_ancestor_or_self(c, d)) {
				truth[c] += local[d][0] + local[d][1];
				truth_kmem[c] += local[d][1];
			}
	for (c = 0; c < NCG; c++)
		if (is_ancestor_or_self(c, B)) {
			truth[c] += below_b[0] + below_b[1];
			truth_kmem[c] += below_b[1];
		}

	read_stocks(ck, &qstocks);
	for (cpu = 0; cpu < nthreads; cpu++) {
		for (i = 0; i < SLOTS; i++) {
			int64_t hd = qstocks.cached[cpu][i];

			if (!hd)
				continue;
			d = idx_of(hd);
			if (d < 0) {
				/* A churned or victim cgroup: below B, alive (the slot holds it). */
				struct pmc_cgroup_info xi;
				int64_t ret = pmc_cgroup_info(h, hd, &xi);

				CHECK(ck, ret == 0 && xi.parent == cg[B], "cpu %d slot %d caches %" PRId64
				      ": info %" PRId64 ", parent %" PRId64 ", not below B", cpu, i, hd,
				      ret, xi.parent);
				if (ret || xi.parent != cg[B])
					continue;
				for (e = 0; e < next && ext[e].handle != hd; e++)
					;
				if (e == next)
					ext[next++] = (struct ext_cg){ hd, { 0, 0 }, 0 };
				ext[e].stock += qstocks.pages[cpu][i];
				d = B;
			}
			CHECK(ck, d > 0, "cpu %d slot %d caches the root", cpu, i);
			if (d <= 0)
				continue;
			for (c = 0; c < NCG; c++)
				if (is_ancestor_or_self(c, d))
					in_stock[c] += qstocks.pages[cpu][i];
		}
	}
	/* Each cgroup outside the tree: its usage and stats are what is held there. */
	for (e = 0; e < next; e++) {
		struct pmc_cgroup_info xi;
		uint64_t usage = usage_of(ck, ext[e].handle, PMC_COUNTER_MEMORY);
		int64_t ret = pmc_cgroup_info(h, ext[e].handle, &xi);

		CHECK(ck, usage == ext[e].held[0] + ext[e].held[1] + ext[e].stock,
		      "%" PRId64 " below B: usage %" PRIu64 ", held %lu+%lu, stocks %" PRIu64,
		      ext[e].handle, usage, ext[e].held[0], ext[e].held[1], ext[e].stock);
		CHECK(ck, ret == 0 && xi.stat[PMC_STAT_ANON] == (int64_t)ext[e].held[0] &&
		      xi.stat[PMC_STAT_KERNEL] == (int64_t)ext[e].held[1],
		      "%" PRId64 " below B: info %" PRId64 ", stat %" PRId64 "/%" PRId64
		      ", held %lu/%lu", ext[e].handle, ret, xi.stat[PMC_STAT_ANON],
		      xi.stat[PMC_STAT_KERNEL], ext[e].held[0], ext[e].held[1]);
	}

	for (c = 0; c < NCG; c++) {
		uint64_t usage = usage_of(ck, cg[c], PMC_COUNTER_MEMORY);
		int64_t ret = pmc_cgroup_info(h, cg[c], &info[c]);

		CHECK(ck, usage == truth[c] + in_stock[c],
		      "%s: usage %" PRIu64 ", ledgers hold %lu, stocks %" PRIu64, name_of[c], usage,
		      truth[c], in_stock[c]);
		CHECK(ck, usage >= truth[c], "%s: usage %" PRIu64 " below the %lu pages held",
		      name_of[c], usage, truth[c]);
		CHECK(ck, usage - truth[c] <= (uint64_t)nthreads * SLOTS * BATCH,
		      "%s: usage %" PRIu64 " - held %lu above ncpus * 7 * 64 = %d", name_of[c], usage,
		      truth[c], nthreads * SLOTS * BATCH);
		if (memsw) {
			uint64_t sw = usage_of(ck, cg[c], PMC_COUNTER_MEMSW);
			uint64_t km = usage_of(ck, cg[c], PMC_COUNTER_KMEM);
			uint64_t tcp = usage_of(ck, cg[c], PMC_COUNTER_TCPMEM);

			CHECK(ck, sw == usage, "%s: memsw usage %" PRIu64 ", memory %" PRIu64,
			      name_of[c], sw, usage);
			CHECK(ck, km == truth_kmem[c], "%s: kmem usage %" PRIu64 ", ledgers hold %lu "
			      "kmem pages", name_of[c], km, truth_kmem[c]);
			CHECK(ck, tcp == 0, "%s: tcpmem usage %" PRIu64, name_of[c], tcp);
		} else {
			uint64_t swap = usage_of(ck, cg[c], PMC_COUNTER_MEMSW);

			CHECK(ck, swap == 0, "%s: swap usage %" PRIu64, name_of[c], swap);
		}

		CHECK(ck, ret == 0, "pmc_cgroup_info(%s) = %" PRId64, name_of[c], ret);
		if (ret)
			continue;
		CHECK(ck, info[c].state == 1, "%s: state %d", name_of[c], info[c].state);
		CHECK(ck, info[c].stat[PMC_STAT_ANON] == (int64_t)local[c][0],
		      "%s: stat anon %" PRId64 ", ledgers hold %lu user pages here", name_of[c],
		      info[c].stat[PMC_STAT_ANON], local[c][0]);
		CHECK(ck, info[c].stat[PMC_STAT_KERNEL] == (int64_t)local[c][1],
		      "%s: stat kernel %" PRId64 ", ledgers hold %lu kmem pages here", name_of[c],
		      info[c].stat[PMC_STAT_KERNEL], local[c][1]);
		{
			int64_t sub[PMC_NR_STATS] = { -1, -1 };

			ret = pmc_cgroup_stat(h, cg[c], 1, sub, PMC_NR_STATS);
			CHECK(ck, ret == PMC_NR_STATS && sub[PMC_STAT_ANON] == (int64_t)(truth[c] - truth_kmem[c]) &&
			      sub[PMC_STAT_KERNEL] == (int64_t)truth_kmem[c],
			      "%s: subtree stat %" PRId64 ": anon/kernel %" PRId64 "/%" PRId64 ", ledgers "
			      "hold %lu/%lu here and below", name_of[c], ret, sub[PMC_STAT_ANON],
			      sub[PMC_STAT_KERNEL], truth[c] - truth_kmem[c], truth_kmem[c]);
		}
		/*
		 * Every such refusal went through the OOM path; a charge may also
		 * raise `oom` and still succeed, when memory came back before the
		 * OOM killer ran (mem_cgroup_out_of_memory's margin check): >=.
		 */
		CHECK(ck, info[c].events_local[PMC_EVENT_OOM] >= (int64_t)ref_oom[c],
		      "%s: %" PRId64 " local oom events, %lu GFP_KERNEL refusals of <= 8 pages "
		      "reported here", name_of[c], info[c].events_local[PMC_EVENT_OOM], ref_oom[c]);
		CHECK(ck, info[c].events_local[PMC_EVENT_MAX] >= (int64_t)ref_reclaim[c],
		      "%s: %" PRId64 " local max events, %lu refusals after reclaim reported here",
		      name_of[c], info[c].events_local[PMC_EVENT_MAX], ref_reclaim[c]);
		CHECK(ck, (info[c].events_local[PMC_EVENT_HIGH] == 0 || high_set[c]) &&
		      info[c].events_local[PMC_EVENT_LOW] == 0 &&
		      info[c].events_local[PMC_EVENT_OOM_KILL] == 0,
		      "%s: high/low/oom_kill events %" PRId64 "/%" PRId64 "/%" PRId64, name_of[c],
		      info[c].events_local[PMC_EVENT_HIGH], info[c].events_local[PMC_EVENT_LOW],
		      info[c].events_local[PMC_EVENT_OOM_KILL]);
		if (c == ROOT) {
			/* Never over a limit: the root has none. */
			for (i = 0; i < PMC_NR_EVENTS; i++)
				CHECK(ck, info[c].events[i] == 0 && info[c].events_local[i] == 0,
				      "root: event %d: %" PRId64 "/%" PRId64, i, info[c].events[i],
				      info[c].events_local[i]);
		}
	}
	/* memory.events: local only on v1; on v2 the subtree's (the root excluded). */
	for (c = 1; c < NCG && (events_hier || version == 1); c++) {
		for (i = 0; i < PMC_NR_EVENTS; i++) {
			int64_t sum = 0;

			for (d = 0; d < NCG; d++)
				if (version == 2 ? is_ancestor_or_self(c, d) : d == c)
					sum += info[d].events_local[i];
			CHECK(ck, info[c].events[i] == sum, "%s: event %d: %" PRId64 ", expected %"
			      PRId64, name_of[c], i, info[c].events[i], sum);
		}
	}

	/*
	 * Drain every stock of the tree: the counters must come down to the
	 * truth.  By turns: the single call, a drain-all record, or one drain
	 * record per CPU (a stale record and a bad one among them).
	 */
	{
		int64_t ret, res[MAX_THREADS + 3], done, stale = atomic_load(&stale_ring[0]);
		struct pmc_op ops[MAX_THREADS + 3];
		int k = 0;

		switch (tot_quiescent % 3) {
		case 0:
			ret = pmc_hierarchy_drain_all(h, 0);
			CHECK(ck, ret == 0, "pmc_hierarchy_drain_all(0) = %" PRId64, ret);
			break;
		case 1:
			ops[k++] = (struct pmc_op){ .op = PMC_OP_DRAIN_ALL, .cgroup = 0 };
			break;
		default:
			for (cpu = 0; cpu < nthreads; cpu++) {
				ops[k++] = (struct pmc_op){ .op = PMC_OP_DRAIN, .cpu = cpu };
				if (cpu == 0 && atomic_load(&nstale))
					ops[k++] = (struct pmc_op){ .op = PMC_OP_DRAIN_ALL, .cgroup = stale };
				if (cpu == 0)
					ops[k++] = (struct pmc_op){ .op = PMC_OP_DRAIN, .cpu = nthreads };
			}
			break;
		}
		if (k) {
			for (i = 0; i < k; i++)
				res[i] = CANARY;
			done = pmc_hierarchy_replay(h, ops, k, res);
			CHECK(ck, done == k, "replay of %d drain records ran %" PRId64, k, done);
			for (i = 0; i < k; i++)
				CHECK(ck, res[i] == (ops[i].op == PMC_OP_DRAIN_ALL && ops[i].cgroup ? -ESTALE :
				      ops[i].cpu == nthreads ? -EINVAL : 0), "drain record %d (op %u, cpu %d, "
				      "cgroup %" PRId64 ") = %" PRId64, i, ops[i].op, ops[i].cpu,
				      ops[i].cgroup, res[i]);
		}
	}
	read_stocks(ck, &qstocks);
	for (cpu = 0; cpu < nthreads; cpu++)
		for (i = 0; i < SLOTS; i++)
			CHECK(ck, qstocks.pages[cpu][i] == 0,
			      "after drain_all: cpu %d slot %d holds %" PRIu64 " pages of %" PRId64,
			      cpu, i, qstocks.pages[cpu][i], qstocks.cached[cpu][i]);
	for (c = 0; c < NCG; c++) {
		struct pmc_page_counter_info pc;
		int64_t ret = read_counter(cg[c], PMC_COUNTER_MEMORY, &pc);

		CHECK(ck, ret == 0 && pc.usage == truth[c],
		      "after drain_all: %s usage %" PRIu64 ", ledgers hold %lu", name_of[c],
		      pc.usage, truth[c]);
		CHECK(ck, pc.max == (uint64_t)mem_max_of[c], "%s: max %" PRIu64, name_of[c], pc.max);
		if (memsw) {
			ret = read_counter(cg[c], PMC_COUNTER_MEMSW, &pc);
			CHECK(ck, ret == 0 && pc.usage == truth[c],
			      "after drain_all: %s memsw usage %" PRIu64 ", ledgers hold %lu",
			      name_of[c], pc.usage, truth[c]);
			CHECK(ck, pc.max == (uint64_t)memsw_max_of[c], "%s: memsw max %" PRIu64,
			      name_of[c], pc.max);
		}
		if (final)
			CHECK(ck, truth[c] == 0, "%s: ledgers still hold %lu pages at the end",
			      name_of[c], truth[c]);
	}
}

/* ------------------------------------------------------------------ */
/* Worker operations.                                                    */

static int pick_cpu(struct worker *w)
{
	if (nthreads > 1 && rnd(&w->rng) % 8 == 0) {
		int cpu = (int)(rnd(&w->rng) % (uint64_t)(nthreads - 1));

		w->other_cpu++;
		return cpu >= w->id ? cpu + 1 : cpu;
	}
	return w->id;
}

/* leaves 60%, A and B 40% */
static int pick_cgroup(struct worker *w)
{
	unsigned int r = (unsigned int)(rnd(&w->rng) % 100);

	if (r < 60)
		return A1 + (int)(r % 3);
	return A + (int)(r % 2);
}

static unsigned long pick_size(struct worker *w)
{
	unsigned int r = (unsigned int)(rnd(&w->rng) % 100);

	if (r < 45)
		return 1 + rnd(&w->rng) % 8;            /* order <= 3: OOM events */
	if (r < 85)
		return 9 + rnd(&w->rng) % (BATCH - 8);  /* up to the batch */
	return BATCH + 1 + rnd(&w->rng) % (MAX_CHARGE - BATCH);  /* above: no stock */
}

static uint32_t pick_gfp(struct worker *w, unsigned long n)
{
	unsigned int r = (unsigned int)(rnd(&w->rng) % 100);

	if (r < 64)
		return GFP_KERNEL;
	if (r < 76)
		return GFP_NOWAIT;
	if (r < 88)
		return GFP_KERNEL_NORETRY;
	if (w->forced_total + n <= FORCED_CAP)
		return GFP_ATOMIC;
	return GFP_KERNEL;
}

/* A refusal reported at tree cgroup f for a charge of c (or of a cgroup below c). */
static void record_refusal(struct worker *w, int c, int64_t ret, uint32_t gfp, unsigned long n)
{
	int f = idx_of(ret);

	CHECK(&w->ck, f >= 0 && is_ancestor_or_self(f, c) && has_limit(f),
	      "try_charge of %s (%lu pages, gfp %u) refused by %" PRId64
	      ", not a limited ancestor", name_of[c], n, gfp, ret);
	CHECK(&w->ck, gfp != GFP_ATOMIC, "GFP_ATOMIC charge of %lu pages refused by %" PRId64, n,
	      ret);
	if (f < 0)
		return;
	w->refused_at[f]++;
	if (gfp & PMC_GFP_DIRECT_RECLAIM)
		w->refused_reclaim[f]++;
	if (gfp == GFP_KERNEL && n <= 8)
		w->refused_oom[f]++;
}

/* One record of a replay batch on the cgroup at tree index c. */
static struct pmc_op op_of(uint32_t op, int c, unsigned long n, int cpu, uint32_t gfp, int kmem)
{
	return (struct pmc_op){ .op = op, .flags = gfp, .cgroup = cg[c], .nr_pages = (int64_t)n,
				.cpu = cpu, .kmem = kmem };
}

/* The memcg id of a cgroup (what replay names a refusing cgroup by), 0 if it is gone. */
static int64_t id_of(int64_t handle)
{
	struct pmc_cgroup_info info;

	return pmc_cgroup_info(h, handle, &info) == 0 ? (int64_t)info.id : 0;
}

/* A replay result as the single call returns it: a refusal's id becomes its handle. */
static int64_t handle_of_result(int64_t res)
{
	if (res <= 0)
		return res;
	for (int c = 0; c < NCG; c++)
		if (cg_id[c] == res)
			return cg[c];
	return res;
}

static void uncharge_ledger(struct worker *w, int c, int kmem, unsigned long n, int cpu)
{
	int64_t ret;
	unsigned long f;

	/* A third of them as one-record replays (the batch's stock fast path). */
	if (rnd(&w->rng) % 3 == 0) {
		struct pmc_op op = op_of(PMC_OP_UNCHARGE, c, n, cpu, 0, kmem);
		int64_t done = pmc_hierarchy_replay(h, &op, 1, &ret);

		CHECK(&w->ck, done == 1, "replay(uncharge) ran %" PRId64 " records", done);
		w->replayed++;
	} else {
		ret = pmc_cgroup_uncharge(h, cg[c], (int64_t)n, cpu, kmem);
	}

	CHECK(&w->ck, ret == 0, "uncharge(%s, %lu, cpu %d, kmem %d) = %#" PRIx64
	      " (held %lu)", name_of[c], n, cpu, kmem, (uint64_t)ret, w->led[c][kmem]);
	w->uncharges++;
	w->led[c][kmem] -= n;
	w->total -= n;
	f = w->forced[c][kmem] < n ? w->forced[c][kmem] : n;
	w->forced[c][kmem] -= f;
	w->forced_total -= f;
}

static void uncharge_some(struct worker *w, int cpu)
{
	int start = (int)(rnd(&w->rng) % (NCG * 2)), i, c = 0, k = 0;
	unsigned long held, cap;

	for (i = 0; i < NCG * 2; i++) {
		c = ((start + i) % (NCG * 2)) / 2;
		k = (start + i) % 2;
		if (w->led[c][k])
			break;
	}
	if (i == NCG * 2)
		return;
	held = w->led[c][k];
	cap = held < 2 * MAX_CHARGE ? held : 2 * MAX_CHARGE;
	uncharge_ledger(w, c, k, 1 + rnd(&w->rng) % cap, cpu);
}

/* Remember a handle seen freed: it is stale for good (its slot's generation moved on). */
static void stale_add(int64_t handle)
{
	unsigned int i = atomic_fetch_add(&nstale, 1);

	atomic_store(&stale_ring[i % NSTALE], handle);
}

/* A stale handle of this run's hierarchy, or 0 if none was seen yet. */
static int64_t stale_pick(struct worker *w)
{
	unsigned int n = atomic_load(&nstale);

	if (!n)
		return 0;
	return atomic_load(&stale_ring[rnd(&w->rng) % (n < NSTALE ? n : NSTALE)]);
}

/*
 * Put n user pages just charged to c into the reclaimable pool, if the
 * pool is on (phase 4) and has room.  The callback takes them from there.
 */
static bool pool_put(int c, unsigned long n)
{
	unsigned long t = atomic_load(&pool_total);

	if (!atomic_load(&pool_on))
		return false;
	do {
		if (t + n > pool_cap)
			return false;
	} while (!atomic_compare_exchange_weak(&pool_total, &t, t + n));
	atomic_fetch_add(&pool[c], n);
	return true;
}

/* Take up to `want` pages out of c's pool (they are then the taker's to uncharge). */
static unsigned long pool_take(int c, unsigned long want)
{
	unsigned long have = atomic_load(&pool[c]), take;

	do {
		take = have < want ? have : want;
		if (!take)
			return 0;
	} while (!atomic_compare_exchange_weak(&pool[c], &have, have - take));
	atomic_fetch_sub(&pool_total, take);
	return take;
}

/*
 * Book the result of a charge of n pages of tree cgroup c.  hook_failed:
 * the reclaim callback failed on this thread during the call; then, and
 * only then, the charge returns -ECANCELED, with nothing charged (the
 * quiescent checks see any page it left behind).
 */
static void charge_result(struct worker *w, int c, int kmem, unsigned long n, uint32_t gfp,
			  int cpu, int64_t ret, bool hook_failed)
{
	w->tries++;
	CHECK(&w->ck, !hook_failed || ret == -ECANCELED, "try_charge(%s, %lu, gfp %u) = %" PRId64
	      " after its reclaim callback failed", name_of[c], n, gfp, ret);
	if (ret == 0) {
		w->successes++;
		if (!kmem && gfp != GFP_ATOMIC && atomic_load(&pool_on) && (rnd(&w->rng) & 1) &&
		    pool_put(c, n))
			return;
		w->led[c][kmem] += n;
		w->total += n;
		if (gfp == GFP_ATOMIC) {
			w->forced[c][kmem] += n;
			w->forced_total += n;
			w->forced_charges++;
		}
	} else if (ret > 0) {
		record_refusal(w, c, ret, gfp, n);
	} else if (ret == -ECANCELED) {
		/* The callback fails only for B's subtree (see reclaim_cb). */
		CHECK(&w->ck, hook_failed && (c == B || c == B1), "try_charge(%s, %lu, gfp %u) = "
		      "-ECANCELED, callback failed: %d", name_of[c], n, gfp, hook_failed);
		w->cancelled++;
	} else {
		CHECK(&w->ck, false, "try_charge(%s, %lu, cpu %d, gfp %u, kmem %d) = %" PRId64,
		      name_of[c], n, cpu, gfp, kmem, ret);
	}
}

/*
 * Up to four charges in one replay batch (the CPU and cgroup kept across
 * records, stock hits on the batch's fast path); each result is checked
 * and booked as the single call's would be.
 */
static void charge_batch(struct worker *w, int cpu)
{
	struct pmc_op ops[4];
	int64_t res[4], done;
	int k = 1 + (int)(rnd(&w->rng) % 4), c[4], kmem[4], i;
	unsigned long n[4], total = w->total, forced = w->forced_total, fails;
	uint32_t gfp[4];

	for (i = 0; i < k; i++) {
		c[i] = pick_cgroup(w);
		kmem[i] = (int)(rnd(&w->rng) & 1);
		n[i] = pick_size(w);
		gfp[i] = pick_gfp(w, n[i]);
		if (gfp[i] == GFP_ATOMIC && forced + n[i] > FORCED_CAP)
			gfp[i] = GFP_KERNEL;
		if (total + n[i] > LEDGER_CAP)
			break;
		total += n[i];
		forced += gfp[i] == GFP_ATOMIC ? n[i] : 0;
		ops[i] = op_of(PMC_OP_CHARGE, c[i], n[i], cpu, gfp[i], kmem[i]);
	}
	if (!i) {
		uncharge_some(w, cpu);
		return;
	}
	fails = w->hook_fails;
	done = pmc_hierarchy_replay(h, ops, i, res);
	/* A failed callback stops the batch after its record. */
	CHECK(&w->ck, done == i || (done > 0 && done < i && res[done - 1] == -ECANCELED),
	      "replay of %d charges ran %" PRId64, i, done);
	w->replayed += (unsigned long)done;
	for (int j = 0; j < done; j++)
		charge_result(w, c[j], kmem[j], n[j], gfp[j], cpu, handle_of_result(res[j]),
			      j == done - 1 && w->hook_fails != fails);
}

static void charge_tree(struct worker *w, int cpu)
{
	int c = pick_cgroup(w), kmem = (int)(rnd(&w->rng) & 1);
	unsigned long n = pick_size(w), fails;
	uint32_t gfp = pick_gfp(w, n);
	int64_t ret;

	if (rnd(&w->rng) % 3 == 0) {
		charge_batch(w, cpu);
		return;
	}
	if (w->total + n > LEDGER_CAP) {
		uncharge_some(w, cpu);
		return;
	}
	fails = w->hook_fails;
	ret = pmc_cgroup_try_charge(h, cg[c], (int64_t)n, cpu, gfp, kmem);
	charge_result(w, c, kmem, n, gfp, cpu, ret, w->hook_fails != fails);
}

/* One random operation on the tree. */
static void one_op(struct worker *w)
{
	unsigned int r = (unsigned int)(rnd(&w->rng) % 1000);
	int cpu = pick_cpu(w);
	int64_t ret;

	if (r < 480) {
		charge_tree(w, cpu);
	} else if (r < 920) {
		uncharge_some(w, cpu);
	} else if (r < 960) {
		/* Any CPU, even one that someone is charging on. */
		int any = (int)(rnd(&w->rng) % (uint64_t)nthreads);

		ret = pmc_hierarchy_drain(h, any);
		CHECK(&w->ck, ret == 0, "pmc_hierarchy_drain(%d) = %" PRId64, any, ret);
		w->drains++;
	} else if (r < 985) {
		int c = (int)(rnd(&w->rng) % (NCG + 1));
		int64_t root = c == NCG ? 0 : cg[c];

		ret = pmc_hierarchy_drain_all(h, root);
		CHECK(&w->ck, ret == 0, "pmc_hierarchy_drain_all(%" PRId64 ") = %" PRId64, root, ret);
		w->drain_alls++;
	} else if (r < 990) {
		/* The root is never charged: both calls succeed and change nothing. */
		ret = pmc_cgroup_try_charge(h, cg[ROOT], 1 + (int64_t)(rnd(&w->rng) % 16), cpu,
					    GFP_KERNEL, (int)(rnd(&w->rng) & 1));
		CHECK(&w->ck, ret == 0, "try_charge(root) = %" PRId64, ret);
		ret = pmc_cgroup_uncharge(h, cg[ROOT], 1 + (int64_t)(rnd(&w->rng) % 16), cpu,
					  (int)(rnd(&w->rng) & 1));
		CHECK(&w->ck, ret == 0, "uncharge(root) = %" PRId64, ret);
	} else {
		/* Empty charges change nothing (the quiescent checks are exact). */
		ret = pmc_cgroup_try_charge(h, cg[pick_cgroup(w)], 0, cpu, pick_gfp(w, 0),
					    (int)(rnd(&w->rng) & 1));
		CHECK(&w->ck, ret == 0, "try_charge(0 pages) = %" PRId64, ret);
		ret = pmc_cgroup_uncharge(h, cg[pick_cgroup(w)], 0, cpu, (int)(rnd(&w->rng) & 1));
		CHECK(&w->ck, ret == 0, "uncharge(0 pages) = %" PRId64, ret);
		/* Out-of-range arguments are refused before anything changes. */
		ret = pmc_cgroup_try_charge(h, cg[A1], 1, nthreads, GFP_KERNEL, 0);
		CHECK(&w->ck, ret == -EINVAL, "try_charge on cpu %d = %" PRId64, nthreads, ret);
		ret = pmc_cgroup_uncharge(h, cg[A1], -1, cpu, 0);
		CHECK(&w->ck, ret == -EINVAL, "uncharge(-1) = %" PRId64, ret);
	}
}

static void uncharge_all(struct worker *w)
{
	for (int c = NCG - 1; c >= 0; c--)
		for (int k = 0; k < 2; k++)
			while (w->led[c][k])
				uncharge_ledger(w, c, k, 1 + rnd(&w->rng) % w->led[c][k], pick_cpu(w));
	CHECK(&w->ck, w->total == 0 && w->forced_total == 0, "thread %d still holds %lu (forced "
	      "%lu) pages", w->id, w->total, w->forced_total);
}

/* At a barrier: one thread runs fn while the others wait. */
static void serially(struct worker *w, void (*fn)(struct worker *))
{
	if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
		fn(w);
	pthread_barrier_wait(&barrier);
}

static void check_mid(struct worker *w)
{
	quiescent_check(&w->ck, false, true);
}

static void check_final_hier(struct worker *w)
{
	quiescent_check(&w->ck, true, true);
}

static void check_final(struct worker *w)
{
	quiescent_check(&w->ck, true, false);
}

/* Cgroups outside the tree have existed: hierarchical events are not the tree's alone. */
static void check_late(struct worker *w)
{
	quiescent_check(&w->ck, false, false);
}

/* ------------------------------------------------------------------ */
/* Phase 1: random operations on the tree.                               */

static void *main_phase(void *arg)
{
	struct worker *w = arg;

	self = w;
	for (long i = 0; i < ops_per_thread; i++) {
		one_op(w);
		if ((i + 1) % CHECK_EVERY == 0)
			serially(w, check_mid);
	}
	uncharge_all(w);
	serially(w, check_final_hier);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Phase 2: a cgroup removed while charged.                              */

static void dying_create(struct worker *w)
{
	int64_t c = pmc_cgroup_create(h, cg[A2], "C"), ret;

	CHECK(&w->ck, c > 0, "create(A2/C) = %" PRId64, c);
	ret = pmc_cgroup_set_max(h, c, PMC_COUNTER_MEMORY, 100);
	CHECK(&w->ck, ret == 0, "set_max(C) = %" PRId64, ret);
	if (memsw) {
		ret = pmc_cgroup_set_max(h, c, PMC_COUNTER_MEMSW, 120);
		CHECK(&w->ck, ret == 0, "set_max(C, memsw) = %" PRId64, ret);
	}
	atomic_store(&dying_cg, c);
}

/* Worker 0: charge C until it is found removed. */
static void dying_charger(struct worker *w, int64_t c, bool then_remove)
{
	int rounds = 4 + (int)(rnd(&w->rng) % 24);
	bool removed = false;

	for (int i = 0; i < rounds; i++) {
		int kmem = (int)(rnd(&w->rng) & 1), cpu = pick_cpu(w);
		unsigned long n = pick_size(w);
		uint32_t gfp = pick_gfp(w, n);
		int64_t ret;

		if (w->total + n > LEDGER_CAP)
			break;
		ret = pmc_cgroup_try_charge(h, c, (int64_t)n, cpu, gfp, kmem);
		if (ret == 0) {
			w->cled[kmem] += n;
			w->total += n;
			w->dying_charged++;
			if (gfp == GFP_ATOMIC)
				w->forced_total += n;   /* released when C is uncharged */
		} else if (ret > 0) {
			/* C itself, A2 or A: refusals are not counted in the tree's events check. */
			CHECK(&w->ck, ret == c || ret == cg[A2] || ret == cg[A],
			      "try_charge(C, %lu) refused by %" PRId64, n, ret);
			CHECK(&w->ck, gfp != GFP_ATOMIC, "GFP_ATOMIC charge of C refused by %" PRId64,
			      ret);
			if (ret == cg[A2] || ret == cg[A]) {
				/* Counted at the tree cgroup, as its events are. */
				int f = idx_of(ret);

				w->refused_at[f]++;
				if (gfp & PMC_GFP_DIRECT_RECLAIM)
					w->refused_reclaim[f]++;
				if (gfp == GFP_KERNEL && n <= 8)
					w->refused_oom[f]++;
			}
		} else {
			CHECK(&w->ck, ret == -ESTALE, "try_charge(C) = %" PRId64, ret);
			w->dying_stale++;
			break;
		}
		if (then_remove && i == rounds / 2) {
			ret = pmc_cgroup_remove(h, c);
			CHECK(&w->ck, ret == 0, "remove(C) = %" PRId64, ret);
			removed = true;
		}
	}
	if (then_remove && !removed) {
		int64_t ret = pmc_cgroup_remove(h, c);

		CHECK(&w->ck, ret == 0, "remove(C) = %" PRId64, ret);
	}
}

static void dying_check(struct worker *w)
{
	struct checks *ck = &w->ck;
	int64_t c = atomic_load(&dying_cg), ret, c2;
	struct pmc_cgroup_info info, pinfo;
	struct pmc_page_counter_info pc;
	unsigned long held = w->cled[0] + w->cled[1];
	bool cached;
	uint64_t in_stock;

	ret = pmc_cgroup_info(h, c, &info);
	if (held) {
		CHECK(ck, ret == 0 && info.state == 2, "C removed with %lu pages charged: info %"
		      PRId64 ", state %d", held, ret, info.state);
	} else {
		/* Uncharged: freed, or kept by a stock slot (its css reference). */
		CHECK(ck, ret == -ESTALE || (ret == 0 && info.state == 2),
		      "C removed, nothing charged: info %" PRId64 " state %d", ret, info.state);
	}
	if (ret == 0) {
		CHECK(ck, info.parent == cg[A2] && !strcmp(info.name, "C"), "C: parent %" PRId64
		      " name %s", info.parent, info.name);
		ret = pmc_cgroup_info(h, cg[A2], &pinfo);
		CHECK(ck, ret == 0 && pinfo.nr_children == 1 && pinfo.nr_descendants == 0 &&
		      pinfo.nr_dying_descendants == 1, "A2 with C dying: %" PRId64 " children %"
		      PRId64 " descendants %" PRId64 " dying %" PRId64, ret, pinfo.nr_children,
		      pinfo.nr_descendants, pinfo.nr_dying_descendants);
		ret = pmc_cgroup_info(h, cg[A], &pinfo);
		CHECK(ck, ret == 0 && pinfo.nr_descendants == 2 && pinfo.nr_dying_descendants == 1,
		      "A with C dying: descendants %" PRId64 " dying %" PRId64,
		      pinfo.nr_descendants, pinfo.nr_dying_descendants);
		ret = pmc_cgroup_try_charge(h, c, 1, 0, GFP_KERNEL, 0);
		CHECK(ck, ret == -ESTALE, "try_charge(dying C) = %" PRId64, ret);
		ret = pmc_cgroup_remove(h, c);
		CHECK(ck, ret == -ESTALE, "remove(dying C) = %" PRId64, ret);
		ret = pmc_cgroup_create(h, c, "D");
		CHECK(ck, ret == -ENOENT, "create(dying C/D) = %" PRId64, ret);
		read_stocks(ck, &qstocks);
		in_stock = stock_pages_of(&qstocks, c, &cached);
		ret = read_counter(c, PMC_COUNTER_MEMORY, &pc);
		CHECK(ck, ret == 0 && pc.usage == held + in_stock,
		      "dying C: usage %" PRIu64 ", held %lu, in stocks %" PRIu64, pc.usage, held,
		      in_stock);
		CHECK(ck, held || cached, "C is dying with nothing charged and no stock slot "
		      "caching it (usage %" PRIu64 ")", pc.usage);
		CHECK(ck, info.stat[PMC_STAT_ANON] == (int64_t)w->cled[0] &&
		      info.stat[PMC_STAT_KERNEL] == (int64_t)w->cled[1],
		      "dying C: stat %" PRId64 "/%" PRId64 ", held %lu/%lu",
		      info.stat[PMC_STAT_ANON], info.stat[PMC_STAT_KERNEL], w->cled[0], w->cled[1]);

		/* Its name is free again while it dies. */
		c2 = pmc_cgroup_create(h, cg[A2], "C");
		CHECK(ck, c2 > 0 && c2 != c, "create(A2/C) while C dies = %" PRId64, c2);
		if (c2 > 0) {
			ret = pmc_cgroup_remove(h, c2);
			CHECK(ck, ret == 0, "remove(new C) = %" PRId64, ret);
			ret = pmc_cgroup_info(h, c2, &pinfo);
			CHECK(ck, ret == -ESTALE, "new C, never charged, removed: info %" PRId64
			      " (state %d)", ret, pinfo.state);
		}
	}

	/* Uncharge in pieces: C stays dying while anything is left. */
	for (int k = 0; k < 2; k++) {
		while (w->cled[k]) {
			unsigned long n = 1 + rnd(&w->rng) % w->cled[k];
			int cpu = (int)(rnd(&w->rng) % (uint64_t)nthreads);

			ret = pmc_cgroup_info(h, c, &info);
			CHECK(ck, ret == 0 && info.state == 2, "C with %lu pages left: info %" PRId64
			      " state %d", w->cled[0] + w->cled[1], ret, info.state);
			ret = pmc_cgroup_uncharge(h, c, (int64_t)n, cpu, k);
			CHECK(ck, ret == 0, "uncharge(dying C, %lu, kmem %d) = %#" PRIx64, n, k,
			      (uint64_t)ret);
			w->cled[k] -= n;
			w->total -= n;
		}
	}
	w->forced_total = 0;
	for (int cc = 0; cc < NCG; cc++)
		for (int k = 0; k < 2; k++)
			w->forced_total += w->forced[cc][k];

	/* Stock slots may still reference it; draining every CPU lets it go. */
	drain_every_cpu(ck);
	ret = pmc_cgroup_info(h, c, &info);
	CHECK(ck, ret == -ESTALE, "C uncharged and drained: info %" PRId64 " state %d", ret,
	      info.state);
	ret = pmc_cgroup_uncharge(h, c, 1, 0, 0);
	CHECK(ck, ret == -ESTALE, "uncharge(freed C) = %" PRId64, ret);
	ret = pmc_cgroup_try_charge(h, c, 1, 0, GFP_KERNEL, 0);
	CHECK(ck, ret == -ESTALE, "try_charge(freed C) = %" PRId64, ret);
	if (ret == -ESTALE)
		stale_add(c);
	ret = pmc_cgroup_info(h, cg[A2], &pinfo);
	CHECK(ck, ret == 0 && pinfo.nr_children == 0 && pinfo.nr_dying_descendants == 0,
	      "A2 after C: children %" PRId64 " dying %" PRId64, pinfo.nr_children,
	      pinfo.nr_dying_descendants);
	ret = pmc_cgroup_info(h, cg[ROOT], &pinfo);
	CHECK(ck, ret == 0 && pinfo.nr_descendants == NCG - 1 && pinfo.nr_dying_descendants == 0,
	      "root after C: descendants %" PRId64 " dying %" PRId64, pinfo.nr_descendants,
	      pinfo.nr_dying_descendants);
	atomic_store(&dying_cg, 0);
	/* With C gone, the tree alone must add up. */
	quiescent_check(ck, false, false);
}

static void *dying_phase(void *arg)
{
	struct worker *w = arg;

	self = w;
	for (int round = 0; round < DYING_ROUNDS; round++) {
		if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
			dying_create(w);
		pthread_barrier_wait(&barrier);
		{
			int64_t c = atomic_load(&dying_cg);

			if (w->id == 0) {
				dying_charger(w, c, nthreads == 1);
			} else if (w->id == 1) {
				/* Let the charger start, then pull C from under it. */
				int ops = (int)(rnd(&w->rng) % 12);
				int64_t ret;

				for (int i = 0; i < ops; i++)
					one_op(w);
				ret = pmc_cgroup_remove(h, c);
				CHECK(&w->ck, ret == 0, "remove(C) = %" PRId64, ret);
				ret = pmc_cgroup_try_charge(h, c, 1, pick_cpu(w), GFP_KERNEL, 0);
				CHECK(&w->ck, ret == -ESTALE, "try_charge(C) after its removal = %"
				      PRId64, ret);
			} else {
				for (int i = 0; i < 16; i++)
					one_op(w);
			}
		}
		/* Worker 0 holds C's ledger: it checks and releases it. */
		pthread_barrier_wait(&barrier);
		if (w->id == 0)
			dying_check(w);
		pthread_barrier_wait(&barrier);
	}
	uncharge_all(w);
	serially(w, check_final);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Phase 2b: a free racing a batch that holds the cgroup.               */

#define DUEL_ROUNDS 32
#define DUEL_RECORDS 1024

static _Atomic int64_t duel_cg;
static atomic_int duel_go;

/*
 * Worker 0 charges a new cgroup W (65 pages: nothing in a stock), removes
 * it and, once worker 1's batch of 0-page charges of W has begun, uncharges
 * it: W is freed while worker 1's batch holds its CPU with W looked up
 * (every record -ESTALE: W is dying, then gone).  The free must wait for
 * that CPU (synchronize_cpus); one that does not is a use after free that
 * ASan sees here, not only TSan.
 */
static void *duel_phase(void *arg)
{
	static struct pmc_op ops[DUEL_RECORDS];
	static int64_t res[DUEL_RECORDS];
	struct worker *w = arg;
	int64_t c, ret;

	self = w;
	for (int round = 0; round < DUEL_ROUNDS && nthreads >= 2; round++) {
		if (w->id == 0) {
			c = pmc_cgroup_create(h, cg[A2], "W");
			CHECK(&w->ck, c > 0, "create(A2/W) = %" PRId64, c);
			ret = pmc_cgroup_try_charge(h, c, BATCH + 1, 0, GFP_KERNEL, 0);
			CHECK(&w->ck, ret == 0, "try_charge(W, %d) = %" PRId64, BATCH + 1, ret);
			ret = pmc_cgroup_remove(h, c);
			CHECK(&w->ck, ret == 0, "remove(W) = %" PRId64, ret);
			atomic_store(&duel_go, 0);
			atomic_store(&duel_cg, c);
		}
		pthread_barrier_wait(&barrier);
		c = atomic_load(&duel_cg);
		if (w->id == 1) {
			int i, stale = 0;

			for (i = 0; i < DUEL_RECORDS; i++) {
				ops[i] = (struct pmc_op){ .op = PMC_OP_CHARGE, .flags = GFP_KERNEL,
							  .cgroup = c, .nr_pages = 0, .cpu = 1 };
				res[i] = CANARY;
			}
			atomic_store(&duel_go, 1);
			ret = pmc_hierarchy_replay(h, ops, DUEL_RECORDS, res);
			CHECK(&w->ck, ret == DUEL_RECORDS, "duel batch ran %" PRId64, ret);
			for (i = 0; i < DUEL_RECORDS; i++)
				stale += res[i] == -ESTALE;
			CHECK(&w->ck, stale == DUEL_RECORDS, "duel batch: %d of %d records -ESTALE",
			      stale, DUEL_RECORDS);
			w->replayed += DUEL_RECORDS;
		} else if (w->id == 0) {
			while (!atomic_load(&duel_go))
				sched_yield();
			ret = pmc_cgroup_uncharge(h, c, BATCH + 1, 0, 0);
			CHECK(&w->ck, ret == 0, "uncharge(dying W) = %" PRId64, ret);
		}
		pthread_barrier_wait(&barrier);
		if (w->id == 0) {
			struct pmc_cgroup_info info;

			ret = pmc_cgroup_info(h, c, &info);
			CHECK(&w->ck, ret == -ESTALE, "W uncharged: info %" PRId64 " (state %d), not "
			      "freed", ret, info.state);
			if (ret == -ESTALE)
				stale_add(c);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Phase 3: a cgroup created and removed over and over.                  */

struct churner {
	pthread_t tid;
	uint64_t rng;
	unsigned long incarnations, freed_at_once, left_dying;
	struct checks ck;
};

static void *churn_main(void *arg)
{
	struct churner *ch = arg;
	static const char *const names[2] = { "X", "Y" };
	struct pmc_cgroup_info info;

	while (!atomic_load(&stop_churn)) {
		const char *name = names[ch->incarnations & 1];
		int64_t c = pmc_cgroup_create(h, cg[B], name), ret;
		unsigned long born, wait;

		CHECK(&ch->ck, c > 0, "create(B/%s) = %" PRId64, name, c);
		if (c <= 0)
			break;
		ch->incarnations++;
		born = atomic_load(&churn_ops);
		atomic_store(&churn_born, born);
		ret = pmc_cgroup_set_max(h, c, PMC_COUNTER_MEMORY, 90);
		CHECK(&ch->ck, ret == 0, "set_max(%s) = %" PRId64, name, ret);
		if (memsw) {
			ret = pmc_cgroup_set_max(h, c, PMC_COUNTER_MEMSW, 90);
			CHECK(&ch->ck, ret == 0, "set_max(%s, memsw) = %" PRId64, name, ret);
		}
		atomic_store(&churn_cg, c);
		/*
		 * Live a little: until the workers did a few operations (at
		 * most 8 per worker since the creation; they wait for the next
		 * creation after 16).
		 */
		wait = 1 + rnd(&ch->rng) % (8 * (uint64_t)nthreads);
		while (atomic_load(&churn_ops) - born < wait && !atomic_load(&stop_churn))
			sched_yield();
		ret = pmc_cgroup_remove(h, c);
		CHECK(&ch->ck, ret == 0, "remove(%s) = %" PRId64, name, ret);
		ret = pmc_cgroup_info(h, c, &info);
		CHECK(&ch->ck, ret == -ESTALE || (ret == 0 && info.state == 2),
		      "removed %s: info %" PRId64 " state %d", name, ret, info.state);
		if (ret == 0) {
			ch->left_dying++;
		} else {
			ch->freed_at_once++;
			stale_add(c);
		}
		/* Charges of the removed one meanwhile: -ESTALE, or success if they began first. */
		wait += rnd(&ch->rng) % (4 * (uint64_t)nthreads);
		while (atomic_load(&churn_ops) - born < wait && !atomic_load(&stop_churn))
			sched_yield();
	}
	atomic_store(&churn_cg, 0);
	atomic_store(&churn_done, true);
	return NULL;
}

static void hold_release(struct worker *w, int i, unsigned long n)
{
	struct hold *hd = &w->holds[i];
	int cpu = pick_cpu(w);
	int64_t ret = pmc_cgroup_uncharge(h, hd->handle, (int64_t)n, cpu, hd->kmem);

	/* Still charged, so never freed: the uncharge must find it. */
	CHECK(&w->ck, ret == 0, "uncharge(churned %" PRId64 ", %lu of %lu, kmem %d) = %" PRId64,
	      hd->handle, n, hd->pages, hd->kmem, ret);
	hd->pages -= n;
	w->total -= n;
	if (!hd->pages)
		w->holds[i] = w->holds[--w->nholds];
}

/* Book n pages charged to c (below B); the caller made room in holds[]. */
static void hold_add(struct worker *w, int64_t c, int kmem, unsigned long n)
{
	int i;

	for (i = 0; i < w->nholds; i++)
		if (w->holds[i].handle == c && w->holds[i].kmem == kmem)
			break;
	if (i == w->nholds)
		w->holds[w->nholds++] = (struct hold){ c, kmem, 0 };
	w->holds[i].pages += n;
	w->total += n;
}

/* Room in holds[] for pages of (c, kmem): release a random hold if full. */
static void hold_room(struct worker *w, int64_t c, int kmem)
{
	int i;

	for (i = 0; i < w->nholds; i++)
		if (w->holds[i].handle == c && w->holds[i].kmem == kmem)
			return;
	if (w->nholds == NHOLD) {
		i = (int)(rnd(&w->rng) % NHOLD);
		hold_release(w, i, w->holds[i].pages);
	}
}

/*
 * A long batch on one cgroup below B that others remove and free
 * meanwhile.  Without `charges`, a watch: charges of 0 pages, which change
 * nothing but make replay look the cgroup up and keep it across records
 * under the CPU lock (a charge of a dying cgroup is -ESTALE and lets go of
 * nothing), alive, dying, then freed by another thread that uncharged its
 * last pages (that free must wait for the lock: under ASan a free that
 * does not is a use after free here).  With `charges`, also uncharges of
 * 0 pages and one-page charges (GFP_NOWAIT: no reclaim), booked as holds.
 */
static void long_batch(struct worker *w, int64_t c, bool charges)
{
	struct pmc_op ops[96];
	int64_t res[96], done;
	int k = 32 + (int)(rnd(&w->rng) % 65), cpu = pick_cpu(w), i;
	unsigned long charged = 0;
	int64_t id;

	if (!c)
		return;
	/* Its id now: a refusal names it so (once it is dying, its charges are -ESTALE). */
	id = id_of(c);
	if (charges) {
		hold_room(w, c, 0);
		if (w->total + (unsigned long)k > LEDGER_CAP)
			return;
	}
	for (i = 0; i < k; i++) {
		unsigned int r = (unsigned int)(rnd(&w->rng) % 8);

		ops[i] = (struct pmc_op){ .op = charges && (r & 1) ? PMC_OP_UNCHARGE : PMC_OP_CHARGE,
					  .flags = GFP_NOWAIT, .cgroup = c,
					  .nr_pages = charges && r == 0, .cpu = cpu, .kmem = 0 };
		res[i] = CANARY;
	}
	done = pmc_hierarchy_replay(h, ops, k, res);
	CHECK(&w->ck, done == k, "long replay batch of %d records ran %" PRId64, k, done);
	for (i = 0; i < done; i++) {
		if (ops[i].nr_pages) {
			CHECK(&w->ck, res[i] == 0 || res[i] == -ESTALE || (id && res[i] == id) ||
			      res[i] == cg_id[B], "long batch: charge(%" PRId64 ", 1) = %"
			      PRId64, c, res[i]);
			if (res[i] == 0)
				charged++;
			else if (res[i] == cg_id[B])
				w->refused_at[B]++;
		} else {
			CHECK(&w->ck, res[i] == 0 || res[i] == -ESTALE, "long batch: %s(%" PRId64
			      ", 0) = %" PRId64, ops[i].op == PMC_OP_CHARGE ? "charge" : "uncharge", c,
			      res[i]);
		}
	}
	w->replayed += (unsigned long)done;
	w->long_batches++;
	if (charged)
		hold_add(w, c, 0, charged);
}

static void churn_op(struct worker *w)
{
	int64_t c = atomic_load(&churn_cg), ret;
	unsigned int r = (unsigned int)(rnd(&w->rng) % 11);

	if (r == 10) {
		long_batch(w, c, rnd(&w->rng) % 4 == 0);
		return;
	}
	int cpu = pick_cpu(w);

	if (r < 5 && c) {
		int kmem = (int)(rnd(&w->rng) & 1), i;
		unsigned long n = pick_size(w);
		uint32_t gfp = pick_gfp(w, n);

		if (gfp == GFP_ATOMIC)
			gfp = GFP_KERNEL;       /* forced pages are capped in the tree ledger only */
		if (w->nholds == NHOLD) {
			i = (int)(rnd(&w->rng) % NHOLD);
			hold_release(w, i, w->holds[i].pages);
		}
		if (w->total + n > LEDGER_CAP)
			return;
		ret = pmc_cgroup_try_charge(h, c, (int64_t)n, cpu, gfp, kmem);
		if (ret == 0) {
			w->churn_ok++;
			for (i = 0; i < w->nholds; i++)
				if (w->holds[i].handle == c && w->holds[i].kmem == kmem)
					break;
			if (i == w->nholds)
				w->holds[w->nholds++] = (struct hold){ c, kmem, 0 };
			w->holds[i].pages += n;
			w->total += n;
		} else if (ret > 0) {
			/* The churned cgroup or B (the root has no limit). */
			CHECK(&w->ck, ret == c || ret == cg[B], "try_charge(churned %" PRId64
			      ") refused by %" PRId64, c, ret);
			w->churn_refused++;
			if (ret == cg[B]) {
				w->refused_at[B]++;
				if (gfp & PMC_GFP_DIRECT_RECLAIM)
					w->refused_reclaim[B]++;
				if (gfp == GFP_KERNEL && n <= 8)
					w->refused_oom[B]++;
			}
		} else {
			CHECK(&w->ck, ret == -ESTALE, "try_charge(churned %" PRId64 ") = %" PRId64, c,
			      ret);
			w->churn_stale++;
		}
	} else if (r < 8) {
		if (w->nholds) {
			int i = (int)(rnd(&w->rng) % (uint64_t)w->nholds);

			hold_release(w, i, 1 + rnd(&w->rng) % w->holds[i].pages);
		}
	} else if (r < 9 && c) {
		ret = pmc_hierarchy_drain_all(h, c);
		CHECK(&w->ck, ret == 0 || ret == -ESTALE, "drain_all(churned) = %" PRId64, ret);
	} else if (c) {
		struct pmc_cgroup_info info;

		ret = pmc_cgroup_info(h, c, &info);
		CHECK(&w->ck, ret == -ESTALE || (ret == 0 && (info.state == 1 || info.state == 2) &&
		      info.parent == cg[B] && info.depth == 2 &&
		      (!strcmp(info.name, "X") || !strcmp(info.name, "Y"))),
		      "info(churned) = %" PRId64 ": state %d parent %" PRId64 " name %s", ret,
		      info.state, info.parent, info.name);
	}
}

static void *churn_phase(void *arg)
{
	struct worker *w = arg;
	long ops = ops_per_thread / 2;

	self = w;
	/* Start with the first churned cgroup in place. */
	while (!atomic_load(&churn_cg))
		sched_yield();
	for (long i = 0; i < ops; i++) {
		/*
		 * Keep pace with the churn thread (two cores, more threads):
		 * at most 16 operations per worker after each creation; it
		 * removes the cgroup after at most 8.
		 */
		while (atomic_load(&churn_ops) - atomic_load(&churn_born) > 16 * (unsigned long)nthreads &&
		       !atomic_load(&churn_done))
			sched_yield();
		if (rnd(&w->rng) % 3 == 0)
			churn_op(w);
		else
			one_op(w);
		atomic_fetch_add(&churn_ops, 1);
	}
	while (w->nholds)
		hold_release(w, 0, w->holds[0].pages);
	uncharge_all(w);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Phase 4: reclaim through the callback, memory.high, odd records.     */

/*
 * Reclaim of tree cgroup x (or of a victim: x < 0): uncharge up to `want`
 * pool pages of x's subtree, one CPU or another, by the single call or by
 * a batch of two records (the uncharge and a drain of some CPU).  Returns
 * the pages uncharged.
 */
static unsigned long pool_reclaim(struct worker *w, int x, unsigned long want)
{
	unsigned long freed = 0;
	int start = (int)(rnd(&w->rng) % NCG);

	for (int k = 0; k < NCG && x >= 0 && freed < want; k++) {
		int d = (start + k) % NCG, cpu = (int)(rnd(&w->rng) % (uint64_t)nthreads);
		unsigned long n;
		int64_t ret;

		if (d == ROOT || !is_ancestor_or_self(x, d) || !(n = pool_take(d, want - freed)))
			continue;
		if (rnd(&w->rng) % 4 == 0) {
			struct pmc_op ops[2] = {
				op_of(PMC_OP_UNCHARGE, d, n, cpu, 0, 0),
				{ .op = PMC_OP_DRAIN, .cpu = (int)(rnd(&w->rng) % (uint64_t)nthreads) },
			};
			int64_t res[2] = { CANARY, CANARY }, done = pmc_hierarchy_replay(h, ops, 2, res);

			CHECK(&w->ck, done == 2 && res[0] == 0 && res[1] == 0, "callback: replay of "
			      "uncharge(%s, %lu) + drain: %" PRId64 " ran: %" PRId64 ", %" PRId64,
			      name_of[d], n, done, res[0], res[1]);
			w->replayed += 2;
			w->drain_records++;
		} else {
			ret = pmc_cgroup_uncharge(h, cg[d], (int64_t)n, cpu, 0);
			CHECK(&w->ck, ret == 0, "callback: uncharge(%s, %lu) = %#" PRIx64, name_of[d], n,
			      (uint64_t)ret);
		}
		freed += n;
	}
	return freed;
}

/* From inside a callback: remove a victim (x itself if it is one, or any worker's). */
static void callback_remove(struct worker *w, int64_t x, int xi)
{
	int64_t v = xi < 0 && (rnd(&w->rng) & 1) ? x :
		    atomic_load(&victims[rnd(&w->rng) % (uint64_t)nthreads]);
	int64_t ret;

	if (!v)
		return;
	ret = pmc_cgroup_remove(h, v);
	CHECK(&w->ck, ret == 0 || ret == -ESTALE, "callback: remove(victim %" PRId64 ") = %"
	      PRId64, v, ret);
	if (ret == 0)
		w->hook_removes++;
}

/*
 * From inside a callback, which holds no lock: other calls of the API.
 * A nested charge (GFP_NOWAIT, so no reclaim of its own; memory.high may
 * still call back, at depth 1), a look at a stock, a drain of everything,
 * a new memory.high, and a close, which must refuse (-EBUSY): this very
 * thread is inside a call on the hierarchy.
 */
static void callback_nested(struct worker *w, int64_t x)
{
	int64_t cached[MAX_SLOTS], ret;
	uint64_t pages[MAX_SLOTS];
	unsigned int r = (unsigned int)(rnd(&w->rng) % 8);
	int cpu = (int)(rnd(&w->rng) % (uint64_t)nthreads);

	w->hook_nested++;
	ret = pmc_hierarchy_stock(h, cpu, cached, pages, MAX_SLOTS);
	CHECK(&w->ck, ret == SLOTS, "callback: stock(%d) = %" PRId64, cpu, ret);
	if (r < 4) {
		int c = pick_cgroup(w);
		unsigned long n = 1 + rnd(&w->rng) % 8;

		if (w->total + n + NESTED_ROOM > LEDGER_CAP)
			return;
		ret = pmc_cgroup_try_charge(h, cg[c], (int64_t)n, cpu, GFP_NOWAIT, 0);
		if (ret == 0) {
			w->led[c][0] += n;
			w->total += n;
		} else if (ret > 0) {
			record_refusal(w, c, ret, GFP_NOWAIT, n);
		} else {
			CHECK(&w->ck, false, "callback: try_charge(%s, %lu, GFP_NOWAIT) = %" PRId64,
			      name_of[c], n, ret);
		}
	} else if (r == 4) {
		ret = pmc_hierarchy_drain_all(h, 0);
		CHECK(&w->ck, ret == 0, "callback: drain_all = %" PRId64, ret);
	} else if (r == 5) {
		ret = pmc_cgroup_set_high(h, cg[A1], PMC_COUNTER_MEMORY,
					  A1_HIGH / 2 + (int64_t)(rnd(&w->rng) % A1_HIGH));
		CHECK(&w->ck, ret == 0, "callback: set_high(A1) = %" PRId64, ret);
	} else if (r == 6) {
		ret = pmc_hierarchy_close(h);
		CHECK(&w->ck, ret == -EBUSY, "callback: close of its own hierarchy = %" PRId64, ret);
	} else {
		struct pmc_cgroup_info info;

		ret = pmc_cgroup_info(h, x, &info);
		CHECK(&w->ck, ret == 0, "callback: info(%" PRId64 ") = %" PRId64, x, ret);
	}
}

/*
 * The reclaim callback (pmc_set_reclaim_callback), called with no lock
 * held, on the thread of the charge or reclaim that needs it.  At the
 * outermost level it is, by a roll of the worker's dice:
 *  - a failure (12%, only for B's subtree, where no memory.high is set, so
 *    only a charge's own reclaim sees it): -ECANCELED, which the charge
 *    must return, with nothing charged;
 *  - a liar (8% or so, and then until the worker's operation ends): it
 *    frees a quarter of what was asked and claims three times what was
 *    asked; the core must believe only the counter (else it loops);
 *  - honest (80%), after removing a victim cgroup (10%) or calling other
 *    functions of the API (10%): it frees pool pages of x's subtree and
 *    says how many.
 * Nested (a callback inside a call inside a callback) it is honest.
 */
static int64_t reclaim_cb(int64_t hh, int64_t x, int64_t nr)
{
	struct worker *w = self;
	struct pmc_cgroup_info info;
	int xi = idx_of(x), mode;
	unsigned long want, freed;
	int64_t ret, claim;

	if (!w || hh != h) {
		atomic_fetch_add(&cb_strays, 1);
		return 0;
	}
	w->hook_calls++;
	CHECK(&w->ck, nr >= 0 && nr <= PMC_PAGE_COUNTER_MAX, "callback asked for %" PRId64
	      " pages", nr);
	/* The caller pins x: it exists, online or dying, and it is not the root. */
	ret = pmc_cgroup_info(h, x, &info);
	CHECK(&w->ck, ret == 0 && (info.state == 1 || info.state == 2) && xi != ROOT &&
	      (xi > 0 || info.parent == cg[B]), "callback for %" PRId64 ": info %" PRId64
	      ", state %d, parent %" PRId64, x, ret, info.state, info.parent);
	if (xi >= 0)
		w->calls_for[xi]++;
	/*
	 * A core that believed the claims of a liar would call it forever
	 * for a small charge: stop that with a failure (and a report).
	 */
	if (++w->op_calls > RUNAWAY) {
		CHECK(&w->ck, false, "%lu callbacks in one operation (the last for %" PRId64 ", %"
		      PRId64 " pages): the core believes a liar?", w->op_calls, x, nr);
		w->hook_fails++;
		return -ECANCELED;
	}
	want = nr > 0 ? (unsigned long)nr : 0;
	mode = w->depth ? 99 : w->liar ? 12 : (int)(rnd(&w->rng) % 100);
	if (mode < 12 && (xi < 0 || xi == B || xi == B1)) {
		w->hook_fails++;
		return -ECANCELED;
	}
	w->depth++;
	if (mode < 20) {
		/* Once a liar, a liar until the worker's operation ends. */
		w->liar = true;
		w->hook_liar++;
		freed = pool_reclaim(w, xi, want / 4);
		claim = (int64_t)(3 * want + 7);
	} else {
		if (mode < 30)
			callback_remove(w, x, xi);
		else if (mode < 40)
			callback_nested(w, x);
		w->hook_honest++;
		freed = pool_reclaim(w, xi, want);
		claim = (int64_t)freed;
	}
	w->hook_freed += freed;
	if (!--w->depth)
		w->last_claim = claim;
	return claim;
}

/* This worker's victim cgroup, online: a new one if the last was removed. */
static int64_t my_victim(struct worker *w)
{
	int64_t v = atomic_load(&victims[w->id]), ret;
	struct pmc_cgroup_info info;
	char name[16];

	if (v && pmc_cgroup_info(h, v, &info) == 0 && info.state == 1)
		return v;
	if (v) {
		/* Removed: freed already, or once what holds it lets go. */
		if (w->nretired == NRETIRED)
			w->nretired--;          /* the oldest is forgotten */
		memmove(w->retired + 1, w->retired, sizeof(w->retired[0]) * (size_t)w->nretired);
		w->retired[0] = v;
		w->nretired++;
	}
	snprintf(name, sizeof(name), "V%d", w->id);
	v = pmc_cgroup_create(h, cg[B], name);
	CHECK(&w->ck, v > 0, "create(B/%s) = %" PRId64, name, v);
	if (v <= 0)
		return 0;
	ret = pmc_cgroup_set_max(h, v, PMC_COUNTER_MEMORY, VICTIM_MAX);
	CHECK(&w->ck, ret == 0, "set_max(%s) = %" PRId64, name, ret);
	if (memsw) {
		ret = pmc_cgroup_set_max(h, v, PMC_COUNTER_MEMSW, VICTIM_MAX);
		CHECK(&w->ck, ret == 0, "set_max(%s, memsw) = %" PRId64, name, ret);
	}
	atomic_store(&victims[w->id], v);
	w->victims_made++;
	return v;
}

/* Retired victims seen freed go to the stale ring. */
static void probe_retired(struct worker *w)
{
	struct pmc_cgroup_info info;

	for (int i = 0; i < w->nretired; i++) {
		if (pmc_cgroup_info(h, w->retired[i], &info) != -ESTALE)
			continue;
		stale_add(w->retired[i]);
		w->retired[i--] = w->retired[--w->nretired];
	}
}

/* A charge of this worker's victim, which callbacks may remove on the way. */
static void victim_charge(struct worker *w, int cpu)
{
	int64_t v = my_victim(w), ret;
	int kmem = (int)(rnd(&w->rng) & 1);
	unsigned long n = pick_size(w), fails = w->hook_fails;
	uint32_t gfp = pick_gfp(w, n);

	if (!v)
		return;
	if (gfp == GFP_ATOMIC)
		gfp = GFP_KERNEL;
	hold_room(w, v, kmem);
	if (w->total + n > LEDGER_CAP)
		return;
	ret = pmc_cgroup_try_charge(h, v, (int64_t)n, cpu, gfp, kmem);
	CHECK(&w->ck, w->hook_fails == fails || ret == -ECANCELED, "try_charge(victim, %lu) = %"
	      PRId64 " after its callback failed", n, ret);
	if (ret == 0) {
		hold_add(w, v, kmem, n);
	} else if (ret == -ECANCELED) {
		CHECK(&w->ck, w->hook_fails != fails, "try_charge(victim) = -ECANCELED, no callback "
		      "failed");
		w->cancelled++;
	} else if (ret > 0) {
		CHECK(&w->ck, ret == v || ret == cg[B], "try_charge(victim %" PRId64 ", %lu) "
		      "refused by %" PRId64, v, n, ret);
		if (ret == cg[B]) {
			w->refused_at[B]++;
			if (gfp & PMC_GFP_DIRECT_RECLAIM)
				w->refused_reclaim[B]++;
			if (gfp == GFP_KERNEL && n <= 8)
				w->refused_oom[B]++;
		}
	} else {
		/* A callback elsewhere removed it and it was freed before this began. */
		CHECK(&w->ck, ret == -ESTALE, "try_charge(victim %" PRId64 ") = %" PRId64, v, ret);
	}
}

/* pmc_cgroup_reclaim: the callback once, the progress seen on the counter back. */
static void direct_reclaim(struct worker *w)
{
	int c = 1 + (int)(rnd(&w->rng) % (NCG - 1));
	bool victim = rnd(&w->rng) % 4 == 0;
	int64_t x = victim ? atomic_load(&victims[w->id]) : cg[c];
	int64_t n = (int64_t)(rnd(&w->rng) % 100), ret;
	unsigned long fails = w->hook_fails;

	if (!x)
		return;
	w->last_claim = CANARY;
	ret = pmc_cgroup_reclaim(h, x, n);
	w->reclaims++;
	if (!victim)
		w->reclaims_of[c]++;
	if (w->hook_fails != fails) {
		CHECK(&w->ck, ret == -ECANCELED, "reclaim(%" PRId64 ", %" PRId64 ") = %" PRId64
		      " after its callback failed", x, n, ret);
		w->cancelled += ret == -ECANCELED;
	} else if (victim && ret == -ESTALE) {
		/* Removed by a callback and freed. */
	} else {
		CHECK(&w->ck, ret >= 0 && w->last_claim != CANARY && ret <= w->last_claim,
		      "reclaim(%" PRId64 ", %" PRId64 ") = %" PRId64 ", the callback claimed %"
		      PRId64, x, n, ret, w->last_claim);
	}
}

/* Every call on a stale handle is -ESTALE; on another hierarchy's, or 0, -EINVAL. */
static void stale_calls(struct worker *w, int cpu)
{
	int64_t s = stale_pick(w), ret;
	int64_t n = 1 + (int64_t)(rnd(&w->rng) % 8);
	int kmem = (int)(rnd(&w->rng) & 1);
	uint8_t levels[PMC_NR_STATS * 8];
	struct pmc_cgroup_info info;
	struct pmc_page_counter_info pc;

	probe_retired(w);
	if (s) {
		w->stale_calls++;
		ret = pmc_cgroup_uncharge(h, s, n, cpu, kmem);
		CHECK(&w->ck, ret == -ESTALE, "uncharge(stale %" PRId64 ") = %" PRId64, s, ret);
		ret = pmc_cgroup_uncharge_levels(h, s, n, cpu, kmem, levels, 2);
		CHECK(&w->ck, ret == -ESTALE, "uncharge_levels(stale) = %" PRId64, ret);
		ret = pmc_cgroup_try_charge(h, s, n, cpu, GFP_KERNEL, kmem);
		CHECK(&w->ck, ret == -ESTALE, "try_charge(stale) = %" PRId64, ret);
		ret = pmc_cgroup_reclaim(h, s, n);
		CHECK(&w->ck, ret == -ESTALE, "reclaim(stale) = %" PRId64, ret);
		ret = pmc_hierarchy_drain_all(h, s);
		CHECK(&w->ck, ret == -ESTALE, "drain_all(stale) = %" PRId64, ret);
		ret = pmc_cgroup_set_high(h, s, PMC_COUNTER_MEMORY, n);
		CHECK(&w->ck, ret == -ESTALE, "set_high(stale) = %" PRId64, ret);
		ret = pmc_cgroup_info(h, s, &info);
		CHECK(&w->ck, ret == -ESTALE, "info(stale) = %" PRId64, ret);
		ret = pmc_cgroup_counter(h, s, PMC_COUNTER_MEMORY, &pc);
		CHECK(&w->ck, ret == -ESTALE, "counter(stale) = %" PRId64, ret);
		ret = pmc_cgroup_remove(h, s);
		CHECK(&w->ck, ret == -ESTALE, "remove(stale) = %" PRId64, ret);
		ret = pmc_cgroup_create(h, s, "Z");
		CHECK(&w->ck, ret == -ESTALE, "create(stale/Z) = %" PRId64, ret);
	}
	ret = pmc_cgroup_uncharge(h, foreign_cg, n, cpu, kmem);
	CHECK(&w->ck, ret == -EINVAL, "uncharge(another hierarchy's cgroup) = %" PRId64, ret);
	ret = pmc_cgroup_try_charge(h, foreign_cg, n, cpu, GFP_KERNEL, kmem);
	CHECK(&w->ck, ret == -EINVAL, "try_charge(another hierarchy's cgroup) = %" PRId64, ret);
	ret = pmc_cgroup_uncharge(h, 0, n, cpu, kmem);
	CHECK(&w->ck, ret == -EINVAL, "uncharge(cgroup 0) = %" PRId64, ret);
}

/* What a record of a mixed batch is, for checking its result. */
enum rec_kind { R_CHARGE, R_UNCHARGE, R_DRAIN, R_DRAIN_ALL, R_BAD, R_STALE, R_INVALID };

/*
 * A batch of every kind of record: charges (booked as single calls are),
 * uncharges of this worker's ledger (taken out of it before the batch, put
 * back if they did not run), drains of one CPU and drain-alls (a subtree,
 * or 0: the tree), malformed records (-EINVAL), records naming a stale
 * cgroup (-ESTALE), and records naming cgroup 0 or another hierarchy's
 * cgroup where a cgroup is needed (-EINVAL; cgroup 0 right after a record
 * that named a real one).  Result slots past the records that ran (the
 * batch stops after a failed callback) must be untouched.
 */
static void replay_mix(struct worker *w, int cpu)
{
	struct pmc_op ops[16];
	int64_t res[16], done, s = stale_pick(w);
	enum rec_kind kind[16];
	int c[16], km[16], k = 4 + (int)(rnd(&w->rng) % 13), i;
	unsigned long n[16], room = w->total, fails;
	uint32_t gfp[16];

	for (i = 0; i < k; i++) {
		unsigned int r = (unsigned int)(rnd(&w->rng) % 100);

		c[i] = pick_cgroup(w);
		km[i] = (int)(rnd(&w->rng) & 1);
		n[i] = pick_size(w);
		gfp[i] = pick_gfp(w, n[i]);
		if (gfp[i] == GFP_ATOMIC)
			gfp[i] = GFP_KERNEL;    /* the forced-page cap is for the single calls */
		kind[i] = R_CHARGE;
		if (r < 30 && room + n[i] <= LEDGER_CAP - NESTED_ROOM) {
			room += n[i];
			ops[i] = op_of(PMC_OP_CHARGE, c[i], n[i], cpu, gfp[i], km[i]);
		} else if (r < 50) {
			int start = (int)(rnd(&w->rng) % (NCG * 2)), j;

			for (j = 0; j < NCG * 2; j++) {
				c[i] = ((start + j) % (NCG * 2)) / 2;
				km[i] = (start + j) % 2;
				if (w->led[c[i]][km[i]])
					break;
			}
			if (j == NCG * 2) {
				ops[i] = (struct pmc_op){ .op = PMC_OP_DRAIN, .cpu = cpu };
				kind[i] = R_DRAIN;
				continue;
			}
			n[i] = 1 + rnd(&w->rng) % w->led[c[i]][km[i]];
			w->led[c[i]][km[i]] -= n[i];    /* taken out until it ran */
			kind[i] = R_UNCHARGE;
			ops[i] = op_of(PMC_OP_UNCHARGE, c[i], n[i], (int)(rnd(&w->rng) % (uint64_t)nthreads),
				       0, km[i]);
		} else if (r < 60) {
			kind[i] = R_DRAIN;
			ops[i] = (struct pmc_op){ .op = PMC_OP_DRAIN,
						  .cpu = (int)(rnd(&w->rng) % (uint64_t)nthreads) };
		} else if (r < 68) {
			int64_t root = rnd(&w->rng) % 3 ? cg[c[i]] : 0;

			kind[i] = R_DRAIN_ALL;
			ops[i] = (struct pmc_op){ .op = PMC_OP_DRAIN_ALL, .cgroup = root };
		} else if (r < 80) {
			static const struct pmc_op bad[] = {
				{ .op = 0, .cpu = 0 },
				{ .op = 5, .cpu = 0 },
				{ .op = 0xffffffffu, .cpu = 0 },
				{ .op = PMC_OP_CHARGE, .nr_pages = -1 },
				{ .op = PMC_OP_CHARGE, .nr_pages = PMC_PAGE_COUNTER_MAX + 1 },
				{ .op = PMC_OP_CHARGE, .nr_pages = 1, .cpu = -1 },
				{ .op = PMC_OP_CHARGE, .nr_pages = 1, .cpu = MAX_THREADS + 1 },
				{ .op = PMC_OP_CHARGE, .nr_pages = 1, .flags = BAD_GFP },
				{ .op = PMC_OP_UNCHARGE, .nr_pages = -5 },
				{ .op = PMC_OP_UNCHARGE, .nr_pages = 1, .cpu = -7 },
				{ .op = PMC_OP_DRAIN, .cpu = -1 },
				{ .op = PMC_OP_DRAIN, .cpu = MAX_THREADS + 1 },
			};

			kind[i] = R_BAD;
			ops[i] = bad[rnd(&w->rng) % (sizeof(bad) / sizeof(bad[0]))];
			/* Every defect alone: the cgroup is a good one where one is needed. */
			if (ops[i].op == PMC_OP_CHARGE || ops[i].op == PMC_OP_UNCHARGE)
				ops[i].cgroup = cg[c[i]];
			if (ops[i].cpu == MAX_THREADS + 1)
				ops[i].cpu = nthreads;
		} else if (r < 90 && s) {
			static const uint32_t what[] = { PMC_OP_CHARGE, PMC_OP_UNCHARGE, PMC_OP_DRAIN_ALL };

			kind[i] = R_STALE;
			ops[i] = op_of(what[rnd(&w->rng) % 3], c[i], n[i], cpu, gfp[i], km[i]);
			ops[i].cgroup = s;
		} else {
			/* cgroup 0 after a record that named one; or another hierarchy's. */
			kind[i] = R_INVALID;
			ops[i] = op_of(rnd(&w->rng) & 1 ? PMC_OP_CHARGE : PMC_OP_UNCHARGE, c[i], n[i], cpu,
				       gfp[i], km[i]);
			ops[i].cgroup = rnd(&w->rng) % 4 ? 0 : foreign_cg;
		}
	}
	for (i = 0; i < k; i++)
		res[i] = CANARY;
	fails = w->hook_fails;
	done = pmc_hierarchy_replay(h, ops, k, res);
	CHECK(&w->ck, done == k || (done > 0 && done < k && res[done - 1] == -ECANCELED &&
	      kind[done - 1] == R_CHARGE), "mixed replay batch of %d records ran %" PRId64, k, done);
	if (done < 0)
		done = 0;
	w->replayed += (unsigned long)done;
	for (i = 0; i < k; i++) {
		if (i >= done) {
			CHECK(&w->ck, res[i] == CANARY, "replay stopped after %" PRId64 " records "
			      "and wrote result %d: %" PRId64, done, i, res[i]);
			if (kind[i] == R_UNCHARGE)
				w->led[c[i]][km[i]] += n[i];
			continue;
		}
		switch (kind[i]) {
		case R_CHARGE:
			charge_result(w, c[i], km[i], n[i], gfp[i], cpu, handle_of_result(res[i]),
				      i == done - 1 && w->hook_fails != fails);
			break;
		case R_UNCHARGE:
			CHECK(&w->ck, res[i] == 0, "replay: uncharge(%s, %lu, kmem %d) = %" PRId64,
			      name_of[c[i]], n[i], km[i], res[i]);
			w->uncharges++;
			w->total -= n[i];
			{
				/* Forced pages go first, as in uncharge_ledger. */
				unsigned long f = w->forced[c[i]][km[i]] < n[i] ? w->forced[c[i]][km[i]] : n[i];

				w->forced[c[i]][km[i]] -= f;
				w->forced_total -= f;
			}
			break;
		case R_DRAIN:
		case R_DRAIN_ALL:
			CHECK(&w->ck, res[i] == 0, "replay: %s(%d, %" PRId64 ") = %" PRId64,
			      kind[i] == R_DRAIN ? "drain" : "drain_all", ops[i].cpu, ops[i].cgroup,
			      res[i]);
			w->drain_records++;
			break;
		case R_BAD:
			CHECK(&w->ck, res[i] == -EINVAL, "replay: bad record (op %u, %" PRId64
			      " pages, cpu %d, flags %#x) = %" PRId64, ops[i].op, ops[i].nr_pages,
			      ops[i].cpu, ops[i].flags, res[i]);
			w->bad_records++;
			break;
		case R_STALE:
			CHECK(&w->ck, res[i] == -ESTALE, "replay: op %u on stale %" PRId64 " = %" PRId64,
			      ops[i].op, ops[i].cgroup, res[i]);
			w->stale_records++;
			break;
		case R_INVALID:
			CHECK(&w->ck, res[i] == -EINVAL, "replay: op %u on cgroup %" PRId64 " = %" PRId64,
			      ops[i].op, ops[i].cgroup, res[i]);
			w->zero_records++;
			break;
		}
	}
}

/* The worker's pool pages, uncharged by itself now and then (the pool must not fill up). */
static void pool_release(struct worker *w)
{
	int c = 1 + (int)(rnd(&w->rng) % (NCG - 1));

	/* The same as an honest callback for c, outside of any call. */
	pool_reclaim(w, c, 1 + rnd(&w->rng) % (2 * MAX_CHARGE));
}

static void reclaim_op(struct worker *w)
{
	unsigned int r = (unsigned int)(rnd(&w->rng) % 100);
	int cpu = pick_cpu(w);
	int64_t ret;

	w->liar = false;
	w->op_calls = 0;
	if (r < 18) {
		victim_charge(w, cpu);
	} else if (r < 26) {
		if (w->nholds) {
			int i = (int)(rnd(&w->rng) % (uint64_t)w->nholds);

			hold_release(w, i, 1 + rnd(&w->rng) % w->holds[i].pages);
		}
	} else if (r < 33) {
		direct_reclaim(w);
	} else if (r < 48) {
		replay_mix(w, cpu);
	} else if (r < 52) {
		stale_calls(w, cpu);
	} else if (r < 62) {
		pool_release(w);
	} else if (r < 64) {
		ret = pmc_cgroup_set_high(h, cg[A1], PMC_COUNTER_MEMORY,
					  A1_HIGH / 2 + (int64_t)(rnd(&w->rng) % A1_HIGH));
		CHECK(&w->ck, ret == 0, "set_high(A1) = %" PRId64, ret);
		ret = pmc_cgroup_set_high(h, cg[A], PMC_COUNTER_MEMORY,
					  A_HIGH - 40 + (int64_t)(rnd(&w->rng) % 80));
		CHECK(&w->ck, ret == 0, "set_high(A) = %" PRId64, ret);
	} else if (r < 66) {
		long_batch(w, my_victim(w), true);
	} else if (r < 69) {
		/* Another worker's victim, which that worker may let go of meanwhile. */
		long_batch(w, atomic_load(&victims[rnd(&w->rng) % (uint64_t)nthreads]), false);
	} else {
		one_op(w);
	}
}

/* The pool emptied, the callback off, at the end of the phase (one thread). */
static void reclaim_end(struct worker *w)
{
	for (int c = 0; c < NCG; c++) {
		unsigned long n = pool_take(c, ULONG_MAX);

		if (n) {
			int64_t ret = pmc_cgroup_uncharge(h, cg[c], (int64_t)n, 0, 0);

			CHECK(&w->ck, ret == 0, "uncharge(pool of %s, %lu) = %" PRId64, name_of[c], n,
			      ret);
		}
	}
	atomic_store(&pool_on, false);
	quiescent_check(&w->ck, true, false);
}

static void *reclaim_phase(void *arg)
{
	struct worker *w = arg;
	long ops = ops_per_thread / 2;
	int64_t v;

	self = w;
	for (long i = 0; i < ops; i++) {
		reclaim_op(w);
		if ((i + 1) % CHECK_EVERY == 0)
			serially(w, check_late);
	}
	while (w->nholds)
		hold_release(w, 0, w->holds[0].pages);
	uncharge_all(w);
	v = atomic_load(&victims[w->id]);
	if (v) {
		int64_t ret = pmc_cgroup_remove(h, v);

		CHECK(&w->ck, ret == 0 || ret == -ESTALE, "remove(own victim) = %" PRId64, ret);
	}
	serially(w, reclaim_end);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The monitor.                                                          */

struct monitor {
	pthread_t tid;
	struct checks ck;
	unsigned long rounds, stale;
	uint64_t peak_over;             /* largest usage - max seen at a limited cgroup */
};

static void monitor_counter(struct monitor *m, int64_t handle, int c, bool may_be_gone)
{
	/* What ledgers, stocks and calls in flight may hold, with room to spare. */
	const uint64_t bound = (uint64_t)nthreads * (LEDGER_CAP + 2 * MAX_CHARGE) +
			       (uint64_t)nthreads * SLOTS * BATCH + pool_cap;

	for (int i = 0; i < ncounters; i++) {
		struct pmc_page_counter_info pc;
		int64_t ret = read_counter(handle, i, &pc);

		if (ret == -ESTALE && may_be_gone) {
			m->stale++;
			return;
		}
		CHECK(&m->ck, ret == 0, "pmc_cgroup_counter(%" PRId64 ", %d) = %" PRId64, handle, i,
		      ret);
		if (ret)
			return;
		CHECK(&m->ck, (int64_t)pc.usage >= 0, "%" PRId64 " counter %d: usage %" PRId64
		      " is negative", handle, i, (int64_t)pc.usage);
		CHECK(&m->ck, pc.usage <= bound, "%" PRId64 " counter %d: usage %" PRIu64
		      " above %" PRIu64, handle, i, pc.usage, bound);
		CHECK(&m->ck, pc.watermark <= bound, "%" PRId64 " counter %d: watermark %" PRIu64,
		      handle, i, pc.watermark);
		CHECK(&m->ck, pc.failcnt == 0 || (version == 1 && i == PMC_COUNTER_MEMORY),
		      "%" PRId64 " counter %d: failcnt %" PRIu64 " where none is counted", handle, i,
		      pc.failcnt);
		if (c >= 0 && i == PMC_COUNTER_MEMORY && mem_max_of[c] != UNLIMITED &&
		    pc.usage > (uint64_t)mem_max_of[c] &&
		    pc.usage - (uint64_t)mem_max_of[c] > m->peak_over)
			m->peak_over = pc.usage - (uint64_t)mem_max_of[c];
	}
}

static void *monitor_main(void *arg)
{
	struct monitor *m = arg;
	static struct stocks s;

	while (!atomic_load(&stop_monitor)) {
		int64_t extra[2] = { atomic_load(&dying_cg), atomic_load(&churn_cg) };
		struct pmc_cgroup_info info;

		for (int c = 0; c < NCG; c++) {
			int64_t ret = pmc_cgroup_info(h, cg[c], &info);

			CHECK(&m->ck, ret == 0 && info.state == 1 && info.depth == depth_of[c],
			      "info(%s) = %" PRId64 ": state %d depth %d", name_of[c], ret, info.state,
			      info.depth);
			monitor_counter(m, cg[c], c, false);
		}
		for (int i = 0; i < 2; i++)
			if (extra[i])
				monitor_counter(m, extra[i], -1, true);
		for (int t = 0; t < nthreads; t++) {
			int64_t v = atomic_load(&victims[t]);

			if (v)
				monitor_counter(m, v, -1, true);
		}
		read_stocks(&m->ck, &s);
		m->rounds++;
		sched_yield();
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* One run.                                                              */

static void run_workers(void *(*fn)(void *))
{
	for (int t = 0; t < nthreads; t++) {
		if (pthread_create(&workers[t].tid, NULL, fn, &workers[t])) {
			perror("pthread_create");
			exit(1);
		}
	}
	for (int t = 0; t < nthreads; t++)
		pthread_join(workers[t].tid, NULL);
}

static void teardown(struct checks *ck)
{
	static const int order[NCG - 1] = { A1, A2, B1, A, B };
	int64_t all[16], ret;
	struct pmc_cgroup_info info;

	/* Every counter is 0 once the stocks are drained. */
	ret = pmc_hierarchy_drain_all(h, 0);
	CHECK(ck, ret == 0, "drain_all = %" PRId64, ret);
	for (int c = 0; c < NCG; c++)
		for (int i = 0; i < ncounters; i++)
			CHECK(ck, usage_of(ck, cg[c], i) == 0, "%s counter %d not 0 at the end",
			      name_of[c], i);
	ret = pmc_hierarchy_cgroups(h, all, 16);
	CHECK(ck, ret == NCG, "%" PRId64 " cgroups exist before the teardown, not %d", ret, NCG);

	for (int k = 0; k < NCG - 1; k++) {
		int c = order[k];

		ret = pmc_cgroup_remove(h, cg[c]);
		CHECK(ck, ret == 0, "remove(%s) = %" PRId64, name_of[c], ret);
		ret = pmc_cgroup_info(h, cg[c], &info);
		if (ret == 0) {
			/* Kept only by a stock slot that still caches it with no pages. */
			bool cached;

			read_stocks(ck, &qstocks);
			CHECK(ck, info.state == 2 && stock_pages_of(&qstocks, cg[c], &cached) == 0 &&
			      cached, "removed %s, nothing charged: state %d, not freed and no "
			      "stock reference", name_of[c], info.state);
			drain_every_cpu(ck);
			ret = pmc_cgroup_info(h, cg[c], &info);
		}
		CHECK(ck, ret == -ESTALE, "removed %s: info %" PRId64 " (state %d), not freed",
		      name_of[c], ret, info.state);
		ret = pmc_cgroup_remove(h, cg[c]);
		CHECK(ck, ret == -ESTALE, "remove(freed %s) = %" PRId64, name_of[c], ret);
	}
	ret = pmc_cgroup_remove(h, cg[ROOT]);
	CHECK(ck, ret == -EBUSY, "remove(root) = %" PRId64, ret);
	ret = pmc_hierarchy_cgroups(h, all, 16);
	CHECK(ck, ret == 1 && all[0] == cg[ROOT], "%" PRId64 " cgroups left after the teardown",
	      ret);
	ret = pmc_cgroup_info(h, cg[ROOT], &info);
	CHECK(ck, ret == 0 && info.nr_children == 0 && info.nr_descendants == 0 &&
	      info.nr_dying_descendants == 0, "root at the end: children %" PRId64
	      " descendants %" PRId64 " dying %" PRId64, info.nr_children, info.nr_descendants,
	      info.nr_dying_descendants);
	ret = pmc_hierarchy_put(h);
	CHECK(ck, ret == 0, "pmc_hierarchy_put = %" PRId64, ret);
	ret = pmc_cgroup_root(h);
	CHECK(ck, ret == -ESTALE, "pmc_cgroup_root(put hierarchy) = %" PRId64, ret);
}

/* Nothing but the tree left: every other cgroup was freed. */
static void only_the_tree(struct checks *ck, const char *after)
{
	int64_t all[64], ret = pmc_hierarchy_cgroups(h, all, 64);
	struct pmc_cgroup_info info;

	CHECK(ck, ret == NCG, "%" PRId64 " cgroups exist after %s, not %d", ret, after, NCG);
	ret = pmc_cgroup_info(h, cg[B], &info);
	CHECK(ck, ret == 0 && info.nr_children == 1 && info.nr_dying_descendants == 0,
	      "B after %s: children %" PRId64 " dying %" PRId64, after, info.nr_children,
	      info.nr_dying_descendants);
}

/* Phase 4's counts, summed over the workers. */
struct reclaim_counts {
	unsigned long calls, honest, liar, fails, removes, nested, freed, cancelled, reclaims,
		stale_calls, zero_records, bad_records, drain_records, stale_records, victims,
		long_batches, calls_a1, reclaims_a1;
};

static void run(struct checks *total, const char *name, const struct pmc_config *cfg)
{
	struct reclaim_counts rc = { 0 };
	struct pmc_cgroup_info a1info;
	struct checks ck = { 0, 0 };
	struct monitor mon;
	struct churner ch;
	unsigned long refused[NCG] = { 0 }, tries = 0, ok = 0, forced = 0, uncharges = 0, replayed = 0;
	unsigned long drains = 0, other = 0;
	uint64_t failcnt[NCG] = { 0 };
	int64_t ret;
	int c, t;

	run_name = name;
	version = cfg->version;
	memsw = cfg->memsw;
	ncounters = version == 1 ? 4 : 2;

	h = pmc_hierarchy_new(cfg);
	CHECK(&ck, h > 0, "pmc_hierarchy_new = %" PRId64, h);
	if (h <= 0) {
		total->failed += ck.failed;
		return;
	}
	cg[ROOT] = pmc_cgroup_root(h);
	CHECK(&ck, cg[ROOT] > 0, "pmc_cgroup_root = %" PRId64, cg[ROOT]);
	for (c = 0; c < NCG; c++)
		atomic_store(&mem_max_of[c], mem_max_init[c]);
	for (c = 1; c < NCG; c++) {
		cg[c] = pmc_cgroup_create(h, cg[parent_of[c]], name_of[c]);
		CHECK(&ck, cg[c] > 0, "create(%s) = %" PRId64, name_of[c], cg[c]);
		ret = pmc_cgroup_set_max(h, cg[c], PMC_COUNTER_MEMORY, mem_max_of[c]);
		CHECK(&ck, ret == 0, "set_max(%s) = %" PRId64, name_of[c], ret);
		if (memsw) {
			ret = pmc_cgroup_set_max(h, cg[c], PMC_COUNTER_MEMSW, memsw_max_of[c]);
			CHECK(&ck, ret == 0, "set_max(%s, memsw) = %" PRId64, name_of[c], ret);
		}
	}
	for (c = 0; c < NCG; c++) {
		cg_id[c] = id_of(cg[c]);
		CHECK(&ck, cg_id[c] > 0, "id of %s: %" PRId64, name_of[c], cg_id[c]);
	}
	if (ck.failed) {
		total->failed += ck.failed;
		return;
	}

	memset(workers, 0, sizeof(workers));
	for (t = 0; t < nthreads; t++) {
		workers[t].id = t;
		workers[t].rng = seed * 0x100000001b3ULL + (uint64_t)t * 0x9e3779b97f4a7c15ULL +
				 (uint64_t)version;
	}
	if (pthread_barrier_init(&barrier, NULL, (unsigned int)nthreads)) {
		perror("pthread_barrier_init");
		exit(1);
	}
	atomic_store(&stop_monitor, false);
	atomic_store(&stop_churn, false);
	atomic_store(&dying_cg, 0);
	atomic_store(&churn_cg, 0);
	atomic_store(&churn_ops, 0);
	atomic_store(&churn_born, 0);
	atomic_store(&churn_done, false);
	atomic_store(&nstale, 0);
	atomic_store(&pool_on, false);
	atomic_store(&pool_total, 0);
	pool_cap = POOL_PER_THREAD * (unsigned long)nthreads;
	for (c = 0; c < NCG; c++) {
		atomic_store(&pool[c], 0);
		high_set[c] = false;
	}
	for (t = 0; t < MAX_THREADS; t++)
		atomic_store(&victims[t], 0);
	/* Another hierarchy: its cgroups are no cgroups of this one (-EINVAL). */
	foreign_h = pmc_hierarchy_new(cfg);
	CHECK(&ck, foreign_h > 0, "pmc_hierarchy_new(second) = %" PRId64, foreign_h);
	foreign_cg = pmc_cgroup_create(foreign_h, pmc_cgroup_root(foreign_h), "F");
	CHECK(&ck, foreign_cg > 0, "create(second/F) = %" PRId64, foreign_cg);
	memset(&mon, 0, sizeof(mon));
	if (pthread_create(&mon.tid, NULL, monitor_main, &mon)) {
		perror("pthread_create");
		exit(1);
	}

	run_workers(main_phase);
	run_workers(dying_phase);
	run_workers(duel_phase);

	memset(&ch, 0, sizeof(ch));
	ch.rng = seed ^ 0xc6a4a7935bd1e995ULL;
	if (pthread_create(&ch.tid, NULL, churn_main, &ch)) {
		perror("pthread_create");
		exit(1);
	}
	run_workers(churn_phase);
	atomic_store(&stop_churn, true);
	pthread_join(ch.tid, NULL);

	/* After the churn: every churned cgroup is gone once the CPUs are drained. */
	drain_every_cpu(&ck);
	only_the_tree(&ck, "the churn");
	quiescent_check(&ck, true, false);

	/*
	 * Phase 4: the callback on, memory.high on A1 and A, the pool open.
	 * A1 loses its max, so that only memory.high reclaims it: each of its
	 * high events is then exactly one callback for it.
	 */
	atomic_store(&mem_max_of[A1], UNLIMITED);
	ret = pmc_cgroup_set_max(h, cg[A1], PMC_COUNTER_MEMORY, UNLIMITED);
	CHECK(&ck, ret == 0, "set_max(A1, max) = %" PRId64, ret);
	high_set[A1] = high_set[A] = true;
	ret = pmc_cgroup_set_high(h, cg[A1], PMC_COUNTER_MEMORY, A1_HIGH);
	CHECK(&ck, ret == 0, "set_high(A1) = %" PRId64, ret);
	ret = pmc_cgroup_set_high(h, cg[A], PMC_COUNTER_MEMORY, A_HIGH);
	CHECK(&ck, ret == 0, "set_high(A) = %" PRId64, ret);
	atomic_store(&pool_on, true);
	ret = pmc_hierarchy_set_reclaim(h, 1);
	CHECK(&ck, ret == 0, "set_reclaim(1) = %" PRId64, ret);
	run_workers(reclaim_phase);
	ret = pmc_hierarchy_set_reclaim(h, 0);
	CHECK(&ck, ret == 0, "set_reclaim(0) = %" PRId64, ret);
	/* Every victim is gone once the CPUs are drained (reclaim_end uncharged everything). */
	drain_every_cpu(&ck);
	only_the_tree(&ck, "the reclaim phase");

	atomic_store(&stop_monitor, true);
	pthread_join(mon.tid, NULL);
	pthread_barrier_destroy(&barrier);
	quiescent_check(&ck, true, false);

	for (t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];

		ck.passed += w->ck.passed;
		ck.failed += w->ck.failed;
		tries += w->tries;
		ok += w->successes;
		forced += w->forced_charges;
		uncharges += w->uncharges;
		replayed += w->replayed;
		drains += w->drains + w->drain_alls;
		other += w->other_cpu;
		tot_dying_charged += w->dying_charged;
		tot_dying_stale += w->dying_stale;
		tot_churn_ok += w->churn_ok;
		tot_churn_refused += w->churn_refused;
		tot_churn_stale += w->churn_stale;
		for (c = 0; c < NCG; c++)
			refused[c] += w->refused_at[c];
		rc.calls += w->hook_calls;
		rc.honest += w->hook_honest;
		rc.liar += w->hook_liar;
		rc.fails += w->hook_fails;
		rc.removes += w->hook_removes;
		rc.nested += w->hook_nested;
		rc.freed += w->hook_freed;
		rc.cancelled += w->cancelled;
		rc.reclaims += w->reclaims;
		rc.stale_calls += w->stale_calls;
		rc.zero_records += w->zero_records;
		rc.bad_records += w->bad_records;
		rc.drain_records += w->drain_records;
		rc.stale_records += w->stale_records;
		rc.victims += w->victims_made;
		rc.long_batches += w->long_batches;
		rc.calls_a1 += w->calls_for[A1];
		rc.reclaims_a1 += w->reclaims_of[A1];
	}
	ck.passed += mon.ck.passed + ch.ck.passed;
	CHECK(&ck, atomic_load(&cb_strays) == 0, "%lu callbacks off a worker thread or for another "
	      "hierarchy", atomic_load(&cb_strays));
	ret = pmc_cgroup_info(h, cg[A1], &a1info);
	CHECK(&ck, ret == 0, "info(A1) = %" PRId64, ret);
	/* Every high event of A1 reclaimed it once (mem_cgroup_handle_over_high). */
	CHECK(&ck, rc.calls_a1 == (unsigned long)a1info.events_local[PMC_EVENT_HIGH] + rc.reclaims_a1,
	      "A1: %lu callbacks, %" PRId64 " high events + %lu pmc_cgroup_reclaim", rc.calls_a1,
	      a1info.events_local[PMC_EVENT_HIGH], rc.reclaims_a1);
	ck.failed += mon.ck.failed + ch.ck.failed;
	for (c = 0; c < NCG; c++) {
		struct pmc_page_counter_info pc;

		if (read_counter(cg[c], PMC_COUNTER_MEMORY, &pc) == 0)
			failcnt[c] = pc.failcnt;
		tot_refused_depth[depth_of[c]] += refused[c];
		/* v1: where memsw has no limit, a refusal was the memory counter's. */
		if (version == 1 && refused[c] && memsw_max_of[c] == UNLIMITED)
			CHECK(&ck, failcnt[c] > 0, "%s: %lu refusals, memory failcnt 0", name_of[c],
			      refused[c]);
		if (version == 2)
			CHECK(&ck, failcnt[c] == 0, "%s: failcnt %" PRIu64 " on v2", name_of[c],
			      failcnt[c]);
	}
	/* The tree must have been stressed at every limited level. */
	if (ops_per_thread * nthreads >= 8000) {
		CHECK(&ck, refused[A] + refused[B] > 0, "no charge refused at depth 1");
		CHECK(&ck, refused[A1] + refused[A2] + refused[B1] > 0, "no charge refused at depth 2");
		CHECK(&ck, ok > 0 && forced > 0, "successes %lu, forced %lu", ok, forced);
		CHECK(&ck, replayed > 0, "no record replayed");
		CHECK(&ck, ch.incarnations >= MIN_INCARNATIONS, "only %lu churned cgroups",
		      ch.incarnations);
		/* Phase 4 reached every path it is there for. */
		CHECK(&ck, rc.honest && rc.liar && rc.fails && rc.cancelled && rc.removes &&
		      rc.nested && rc.freed && rc.reclaims, "callback: honest %lu, liar %lu, failed "
		      "%lu (charges cancelled %lu), removes %lu, nested %lu, freed %lu, reclaims %lu",
		      rc.honest, rc.liar, rc.fails, rc.cancelled, rc.removes, rc.nested, rc.freed,
		      rc.reclaims);
		CHECK(&ck, a1info.events_local[PMC_EVENT_HIGH] > 0, "no memory.high event at A1");
		CHECK(&ck, rc.stale_calls && rc.zero_records && rc.bad_records && rc.drain_records &&
		      rc.stale_records && rc.long_batches, "stale calls %lu; records: cgroup 0 or "
		      "foreign %lu, bad %lu, drains %lu, stale %lu; long batches %lu",
		      rc.stale_calls, rc.zero_records, rc.bad_records, rc.drain_records,
		      rc.stale_records, rc.long_batches);
	}

	ret = pmc_hierarchy_close(foreign_h);
	CHECK(&ck, ret == 0, "close(second hierarchy) = %" PRId64, ret);
	teardown(&ck);

	printf("%s: %d threads x %ld ops, seed %" PRIu64 ": try_charge %lu (ok %lu, forced %lu), "
	       "refused at A/B/A1/A2/B1 %lu/%lu/%lu/%lu/%lu, memory failcnt %" PRIu64 "/%" PRIu64
	       "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 ", uncharge %lu, replayed %lu, drains %lu, on another CPU "
	       "%lu; churned %lu (freed at once %lu, dying %lu); monitor rounds %lu, largest usage - "
	       "max %" PRIu64 "\n", name, nthreads, ops_per_thread, seed, tries, ok, forced,
	       refused[A], refused[B], refused[A1], refused[A2], refused[B1], failcnt[A],
	       failcnt[B], failcnt[A1], failcnt[A2], failcnt[B1], uncharges, replayed, drains, other,
	       ch.incarnations, ch.freed_at_once, ch.left_dying, mon.rounds, mon.peak_over);
	printf("%s: reclaim callback %lu calls (honest %lu, liar %lu, failed %lu, removed %lu "
	       "victims of %lu, nested calls %lu), %lu pages freed; charges cancelled %lu, "
	       "pmc_cgroup_reclaim %lu, A1 high events %" PRId64 "; records: drains %lu, bad "
	       "%lu, stale %lu, cgroup 0 or foreign %lu; stale-handle rounds %lu, long batches %lu\n",
	       name, rc.calls, rc.honest, rc.liar, rc.fails, rc.removes, rc.victims, rc.nested,
	       rc.freed, rc.cancelled, rc.reclaims, a1info.events_local[PMC_EVENT_HIGH],
	       rc.drain_records, rc.bad_records, rc.stale_records, rc.zero_records, rc.stale_calls,
	       rc.long_batches);
	fflush(stdout);

	tot_tries += tries;
	tot_ok += ok;
	tot_forced += forced;
	tot_uncharges += uncharges;
	tot_drains += drains;
	tot_incarnations += ch.incarnations;
	tot_churn_dying += ch.left_dying;
	tot_monitor_rounds += mon.rounds;
	total->passed += ck.passed;
	total->failed += ck.failed;
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	struct checks total = { 0, 0 };
	struct pmc_config v2 = {
		.version = 2, .charge_batch = BATCH, .reclaim_retries = 2,
		.stock_slots = SLOTS, .stock_single_page = 0, .stock_refill_cap = 1, .memsw = 0,
		.kmem_on_limit = 0, .kmem_limit = PMC_KMEM_LIMIT_ABSENT, .kmem_first = 0,
		.kmem_uncharge_via_stock = 1, .failcnt = PMC_FAILCNT_NONE,
		.allow_spinning_batch = 1, .memory_localevents = 0,
	};
	struct pmc_config v1;

	stress_args(argc, argv, MAX_THREADS, &nthreads, &ops_per_thread, &seed);
	pmc_set_reclaim_callback(reclaim_cb);

	v2.ncpus = nthreads;
	v2.seed = seed;
	v1 = v2;
	v1.version = 1;
	v1.memsw = 1;
	v1.kmem_limit = PMC_KMEM_LIMIT_IGNORED;
	v1.failcnt = PMC_FAILCNT_MEMORY;

	run(&total, "v2 (6.16)", &v2);
	run(&total, "v1 (6.16, memsw)", &v1);

	printf("stress_memcg: %d threads x %ld ops, seed %" PRIu64 ": try_charge %lu (ok %lu, "
	       "forced %lu), refused at depth 1/2: %lu/%lu, uncharge %lu, drains %lu, quiescent "
	       "checks %lu; dying C: %lu charges ok, %lu found removed; churn: %lu cgroups (%lu "
	       "left dying), charges ok/refused/stale %lu/%lu/%lu; monitor rounds %lu\n",
	       nthreads, ops_per_thread, seed, tot_tries, tot_ok, tot_forced, tot_refused_depth[1],
	       tot_refused_depth[2], tot_uncharges, tot_drains, tot_quiescent, tot_dying_charged,
	       tot_dying_stale, tot_incarnations, tot_churn_dying, tot_churn_ok, tot_churn_refused,
	       tot_churn_stale, tot_monitor_rounds);
	printf("%lu passed, %lu failed\n", total.passed, total.failed);
	return total.failed ? 1 : 0;
}
