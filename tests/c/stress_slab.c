/*
 * stress_slab.c - slab caches and objects under concurrency, by the public
 * handle API of pymemcg.h (csrc/slab.c).
 *
 *   stress_slab [threads [ops_per_thread [seed]]]
 *
 * Four configurations: objcg (Config.current(), v2), clone on a 4.x-like
 * v1 kernel (kmem always active, charged after memory), the same with
 * 5.3's reparenting, and none.  For each:
 *
 * 1. exact, single-threaded, every value worked out by hand:
 *     - objcg: a 192-byte cache (slot 192, charged 200 per object): the
 *       first object charges one page and leaves 4096 - 200 = 3896 bytes
 *       in the CPU's object stock, whose statistic cache holds +200 (the
 *       first delta is kept whole); the second is served by the stock
 *       (3696 left, statistic cache 400); freeing both puts 4096 back (not
 *       above a page: nothing uncharged); a drain uncharges that page
 *       directly and flushes the statistic (0 net); counters back to 0.
 *     - clone: the first allocation queues the clone and is served,
 *       uncharged, by the root cache (work delay 0); run_pending makes
 *       the clone; the next allocation charges one whole page (order 0)
 *       to memory and kmem; removing the cgroup leaves it dying while the
 *       object lives, and freeing the object frees the page, the clone
 *       and the cgroup (with reparenting: the cgroup is freed at once and
 *       the parent's counters drop when the object goes).
 * 2. threads: a tree root / P / {T0..Tn-1, S}; each thread allocates for
 *    its own cgroup and for S (shared) from three caches, frees its own
 *    objects and objects other threads handed over (a locked pool: frees
 *    on another CPU than the allocation's), thread 0 also removes and
 *    recreates a churn cgroup C with live objects in it (an allocation for
 *    it once removed must fail with -ESTALE).  At the end everything is freed and
 *    every cgroup removed: every counter of the root is back to 0, no
 *    cgroup is dying, only the root caches are left and they hold no
 *    object.
 */
#define _GNU_SOURCE     /* pthread_barrier_t */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pymemcg.h"
#include "stress.h"

#define MAX_THREADS 16
#define GFP_KERNEL (PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM | PMC_GFP_FS)
#define NCACHES 3
#define POOL 4096

static int nthreads = 4;
static long ops_per_thread = 20000;
static uint64_t seed = 1;

struct world {
	int64_t h, parent, shared, caches[NCACHES];
	int64_t own[MAX_THREADS];
	pthread_mutex_t pool_lock;
	int64_t pool[POOL];
	int npool;
	pthread_barrier_t barrier;
};

struct worker {
	struct world *w;
	int id;
	struct checks ck;
	int64_t *objs;
	long nobjs, cap;
	unsigned long allocs, refused, frees, handed, churned;
};

static void push_obj(struct worker *wk, int64_t obj)
{
	if (wk->nobjs == wk->cap) {
		wk->cap = wk->cap ? 2 * wk->cap : 1024;
		wk->objs = realloc(wk->objs, (size_t)wk->cap * sizeof(*wk->objs));
		if (!wk->objs)
			abort();
	}
	wk->objs[wk->nobjs++] = obj;
}

static int64_t usage(int64_t h, int64_t cg, int counter)
{
	struct pmc_page_counter_info info;

	if (pmc_cgroup_counter(h, cg, counter, &info))
		return -1;
	return (int64_t)info.usage;
}

static int64_t stat_subtree(int64_t h, int64_t cg, int idx)
{
	int64_t out[PMC_NR_STATS] = { 0 };

	if (pmc_cgroup_stat(h, cg, 1, out, PMC_NR_STATS) < 0)
		return -1;
	return out[idx];
}

/* --- 1. exact ----------------------------------------------------------------- */

static void exact_objcg(struct checks *ck, const struct pmc_config *base)
{
	struct pmc_config cfg = *base;
	int64_t h = pmc_hierarchy_new(&cfg), root = pmc_cgroup_root(h);
	int64_t a = pmc_cgroup_create(h, root, "a");
	int64_t c = pmc_kmem_cache_create(h, "c192", 192, 8, PMC_CACHE_ACCOUNT, -1, -1);
	struct pmc_obj_stock_info st;
	int64_t o1, o2;

	CHECK(ck, h > 0 && a > 0 && c > 0, "setup %" PRId64 " %" PRId64 " %" PRId64, h, a, c);
	o1 = pmc_slab_alloc(h, c, a, 0, GFP_KERNEL, 0, NULL);
	CHECK(ck, o1 > 0, "alloc %" PRId64, o1);
	pmc_obj_stock(h, 0, &st);
	CHECK(ck, st.cached == a && st.nr_bytes == 3896 && st.slab_unreclaimable_b == 200,
	      "after the first object: cached %" PRId64 " bytes %" PRId64 " stat %" PRId64,
	      st.cached, st.nr_bytes, st.slab_unreclaimable_b);
	/* One page: the batch of 64 went through the page counter, 63 wait in the page stock. */
	CHECK(ck, usage(h, a, PMC_COUNTER_MEMORY) == 64, "usage %" PRId64,
	      usage(h, a, PMC_COUNTER_MEMORY));
	CHECK(ck, stat_subtree(h, a, PMC_STAT_KERNEL) == 1, "kernel %" PRId64,
	      stat_subtree(h, a, PMC_STAT_KERNEL));
	o2 = pmc_slab_alloc(h, c, a, 0, GFP_KERNEL, 0, NULL);
	pmc_obj_stock(h, 0, &st);
	CHECK(ck, o2 > 0 && st.nr_bytes == 3696 && st.slab_unreclaimable_b == 400,
	      "second: bytes %" PRId64 " stat %" PRId64, st.nr_bytes, st.slab_unreclaimable_b);
	CHECK(ck, pmc_slab_free(h, o1, 0) == 0 && pmc_slab_free(h, o2, 0) == 0, "frees");
	CHECK(ck, pmc_slab_free(h, o1, 0) == -ESTALE, "double free");
	pmc_obj_stock(h, 0, &st);
	CHECK(ck, st.nr_bytes == 4096 && st.slab_unreclaimable_b == 0,
	      "freed: bytes %" PRId64 " stat %" PRId64, st.nr_bytes, st.slab_unreclaimable_b);
	CHECK(ck, stat_subtree(h, a, PMC_STAT_KERNEL) == 1, "kernel kept %" PRId64,
	      stat_subtree(h, a, PMC_STAT_KERNEL));
	pmc_hierarchy_drain(h, 0);
	pmc_obj_stock(h, 0, &st);
	CHECK(ck, st.cached == 0 && st.nr_bytes == 0, "drained");
	CHECK(ck, usage(h, a, PMC_COUNTER_MEMORY) == 0 && stat_subtree(h, a, PMC_STAT_KERNEL) == 0,
	      "after the drain: usage %" PRId64 " kernel %" PRId64,
	      usage(h, a, PMC_COUNTER_MEMORY), stat_subtree(h, a, PMC_STAT_KERNEL));
	pmc_hierarchy_close(h);
}

static void exact_clone(struct checks *ck, const struct pmc_config *base)
{
	struct pmc_config cfg = *base;
	int64_t h, root, p, a, c, o1, o2, n;
	struct pmc_cgroup_info info;
	int64_t caches[8];

	cfg.slab_work_delay = 0;
	h = pmc_hierarchy_new(&cfg);
	root = pmc_cgroup_root(h);
	p = pmc_cgroup_create(h, root, "p");
	a = pmc_cgroup_create(h, p, "a");
	c = pmc_kmem_cache_create(h, "c192", 192, 8, PMC_CACHE_ACCOUNT, -1, -1);
	o1 = pmc_slab_alloc(h, c, a, 0, GFP_KERNEL, 0, NULL);
	CHECK(ck, o1 > 0 && usage(h, a, PMC_COUNTER_MEMORY) == 0 && pmc_slab_pending(h) == 1,
	      "the window: usage %" PRId64 " pending %" PRId64,
	      usage(h, a, PMC_COUNTER_MEMORY), pmc_slab_pending(h));
	CHECK(ck, pmc_slab_run_pending(h) == 1 && pmc_kmem_caches(h, caches, 8) == 2,
	      "one clone");
	o2 = pmc_slab_alloc(h, c, a, 0, GFP_KERNEL, 0, NULL);
	CHECK(ck, o2 > 0 && usage(h, a, PMC_COUNTER_KMEM) == 1 &&
	      stat_subtree(h, a, PMC_STAT_SLAB_UNRECLAIMABLE) == 4096,
	      "a whole page: kmem %" PRId64 " slab %" PRId64, usage(h, a, PMC_COUNTER_KMEM),
	      stat_subtree(h, a, PMC_STAT_SLAB_UNRECLAIMABLE));
	CHECK(ck, pmc_cgroup_remove(h, a) == 0, "remove");
	pmc_cgroup_info(h, p, &info);
	if (cfg.slab_reparent) {
		CHECK(ck, info.nr_dying_descendants == 0, "reparented: freed at once (%" PRId64 ")",
		      info.nr_dying_descendants);
		CHECK(ck, usage(h, p, PMC_COUNTER_KMEM) == 1, "the parent still has the page");
	} else {
		CHECK(ck, info.nr_dying_descendants == 1, "a zombie (%" PRId64 ")",
		      info.nr_dying_descendants);
	}
	CHECK(ck, pmc_slab_free(h, o2, 0) == 0 && pmc_slab_free(h, o1, 0) == 0, "frees");
	/* The page went back through CPU 0's stock (4.14+), which holds the cgroup: drain it. */
	pmc_hierarchy_drain_all(h, 0);
	pmc_cgroup_info(h, p, &info);
	n = pmc_kmem_caches(h, caches, 8);
	CHECK(ck, info.nr_dying_descendants == 0 && n == 1, "the clone and the zombie gone: "
	      "dying %" PRId64 " caches %" PRId64, info.nr_dying_descendants, n);
	CHECK(ck, usage(h, p, PMC_COUNTER_MEMORY) == 0 && usage(h, p, PMC_COUNTER_KMEM) == 0 &&
	      stat_subtree(h, p, PMC_STAT_SLAB_UNRECLAIMABLE) == 0,
	      "all back: memory %" PRId64 " kmem %" PRId64, usage(h, p, PMC_COUNTER_MEMORY),
	      usage(h, p, PMC_COUNTER_KMEM));
	pmc_hierarchy_close(h);
}

/* --- 2. threads --------------------------------------------------------------- */

static void *work(void *arg)
{
	struct worker *wk = arg;
	struct world *w = wk->w;
	uint64_t s = seed * 1000003u + (uint64_t)wk->id;
	int cpu = wk->id;
	int64_t churn = 0;
	int64_t churn_objs[64];
	int nchurn = 0;

	pthread_barrier_wait(&w->barrier);
	for (long op = 0; op < ops_per_thread; op++) {
		unsigned r = (unsigned)(rnd(&s) % 100);

		if (r < 45) {
			int64_t owner = rnd(&s) % 4 ? w->own[wk->id] : w->shared;
			int64_t obj = pmc_slab_alloc(w->h, w->caches[rnd(&s) % NCACHES], owner, cpu,
						     GFP_KERNEL, 0, NULL);

			CHECK(&wk->ck, obj > 0 || obj == -ENOMEM, "alloc: %" PRId64, obj);
			if (obj > 0) {
				push_obj(wk, obj);
				wk->allocs++;
			} else {
				wk->refused++;
			}
		} else if (r < 85 && wk->nobjs) {
			long i = (long)(rnd(&s) % (uint64_t)wk->nobjs);
			int64_t obj = wk->objs[i], ret;

			wk->objs[i] = wk->objs[--wk->nobjs];
			if (rnd(&s) % 3 == 0) {         /* hand it to another thread */
				pthread_mutex_lock(&w->pool_lock);
				if (w->npool < POOL) {
					w->pool[w->npool++] = obj;
					obj = 0;
				}
				pthread_mutex_unlock(&w->pool_lock);
				if (!obj) {
					wk->handed++;
					continue;
				}
			}
			ret = pmc_slab_free(w->h, obj, cpu);
			CHECK(&wk->ck, ret == 0, "free: %" PRId64, ret);
			wk->frees++;
		} else if (r < 95) {
			int64_t obj = 0, ret;

			pthread_mutex_lock(&w->pool_lock);
			if (w->npool)
				obj = w->pool[--w->npool];
			pthread_mutex_unlock(&w->pool_lock);
			if (obj) {
				ret = pmc_slab_free(w->h, obj, cpu);
				CHECK(&wk->ck, ret == 0, "free of a handed object: %" PRId64, ret);
				wk->frees++;
			}
		} else if (wk->id == 0) {
			/* The churn cgroup: objects in it, removed with them alive, freed later. */
			if (!churn) {
				churn = pmc_cgroup_create(w->h, w->parent, "churn");
				CHECK(&wk->ck, churn > 0, "create churn: %" PRId64, churn);
				for (nchurn = 0; nchurn < 64; nchurn++) {
					churn_objs[nchurn] = pmc_slab_alloc(
						w->h, w->caches[nchurn % NCACHES], churn, cpu,
						GFP_KERNEL, 0, NULL);
					if (churn_objs[nchurn] <= 0)
						break;
				}
				CHECK(&wk->ck, pmc_cgroup_remove(w->h, churn) == 0, "remove churn");
				CHECK(&wk->ck, pmc_slab_alloc(w->h, w->caches[0], churn, cpu,
							      GFP_KERNEL, 0, NULL) == -ESTALE,
				      "alloc for a removed cgroup");
				wk->churned++;
			} else {
				for (int i = 0; i < nchurn; i++) {
					int64_t ret = pmc_slab_free(w->h, churn_objs[i], cpu);

					CHECK(&wk->ck, ret == 0, "free churn object: %" PRId64, ret);
				}
				churn = 0;
				nchurn = 0;
			}
		} else {
			pmc_hierarchy_drain(w->h, cpu);
		}
	}
	for (int i = 0; i < nchurn; i++)
		CHECK(&wk->ck, pmc_slab_free(w->h, churn_objs[i], cpu) == 0, "final churn free");
	pthread_barrier_wait(&w->barrier);
	while (wk->nobjs)
		CHECK(&wk->ck, pmc_slab_free(w->h, wk->objs[--wk->nobjs], cpu) == 0, "final free");
	return NULL;
}

static void threads(struct checks *ck, const struct pmc_config *base, const char *name)
{
	struct pmc_config cfg = *base;
	struct world w;
	struct worker wk[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	struct pmc_cgroup_info info;
	int64_t root, caches[64], n, objs = 0;
	unsigned long allocs = 0, refused = 0, frees = 0, churned = 0;
	char nm[16];

	memset(&w, 0, sizeof(w));
	w.h = pmc_hierarchy_new(&cfg);
	root = pmc_cgroup_root(w.h);
	w.parent = pmc_cgroup_create(w.h, root, "p");
	w.shared = pmc_cgroup_create(w.h, w.parent, "s");
	for (int i = 0; i < nthreads; i++) {
		snprintf(nm, sizeof(nm), "t%d", i);
		w.own[i] = pmc_cgroup_create(w.h, w.parent, nm);
		if (cfg.kmem_on_limit)
			pmc_cgroup_activate_kmem(w.h, w.own[i]);
	}
	if (cfg.kmem_on_limit) {
		pmc_cgroup_activate_kmem(w.h, w.shared);
	}
	/* A limit that refuses now and then: 400 pages for P. */
	pmc_cgroup_set_max(w.h, w.parent, PMC_COUNTER_MEMORY, 400);
	w.caches[0] = pmc_kmem_cache_create(w.h, "dentry", 192, 8,
					    PMC_CACHE_ACCOUNT | PMC_CACHE_RECLAIMABLE, -1, -1);
	w.caches[1] = pmc_kmem_cache_create(w.h, "inode", 640, 8, PMC_CACHE_ACCOUNT, -1, -1);
	w.caches[2] = pmc_kmem_cache_create(w.h, "tiny", 8, 8, PMC_CACHE_ACCOUNT, -1, 0);
	pthread_mutex_init(&w.pool_lock, NULL);
	pthread_barrier_init(&w.barrier, NULL, (unsigned)nthreads);
	for (int i = 0; i < nthreads; i++) {
		memset(&wk[i], 0, sizeof(wk[i]));
		wk[i].w = &w;
		wk[i].id = i;
		pthread_create(&tid[i], NULL, work, &wk[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(tid[i], NULL);
		ck->passed += wk[i].ck.passed;
		ck->failed += wk[i].ck.failed;
		allocs += wk[i].allocs;
		refused += wk[i].refused;
		frees += wk[i].frees;
		churned += wk[i].churned;
		free(wk[i].objs);
	}
	while (w.npool)
		CHECK(ck, pmc_slab_free(w.h, w.pool[--w.npool], 0) == 0, "pool free");
	for (int i = 0; i < nthreads; i++)
		CHECK(ck, pmc_cgroup_remove(w.h, w.own[i]) == 0, "remove t%d", i);
	CHECK(ck, pmc_cgroup_remove(w.h, w.shared) == 0, "remove s");
	CHECK(ck, pmc_cgroup_remove(w.h, w.parent) == 0, "remove p");
	pmc_hierarchy_drain_all(w.h, 0);
	pmc_cgroup_info(w.h, root, &info);
	n = pmc_kmem_caches(w.h, caches, 64);
	for (int64_t i = 0; i < n && i < 64; i++) {
		struct pmc_kmem_cache_info ci;

		pmc_kmem_cache_info(w.h, caches[i], &ci);
		objs += ci.active_objs;
	}
	CHECK(ck, info.nr_dying_descendants == 0 && info.nr_descendants == 0,
	      "every cgroup freed: dying %" PRId64, info.nr_dying_descendants);
	CHECK(ck, n == NCACHES && objs == 0, "only the root caches, empty: %" PRId64 " caches, "
	      "%" PRId64 " objects", n, objs);
	for (int c = 0; c < (cfg.version == 1 ? 4 : 2); c++)
		CHECK(ck, usage(w.h, root, c) == 0, "counter %d of the root: %" PRId64, c,
		      usage(w.h, root, c));
	CHECK(ck, stat_subtree(w.h, root, PMC_STAT_KERNEL) == 0 &&
	      stat_subtree(w.h, root, PMC_STAT_SLAB_RECLAIMABLE) == 0 &&
	      stat_subtree(w.h, root, PMC_STAT_SLAB_UNRECLAIMABLE) == 0,
	      "statistics: kernel %" PRId64 " slab %" PRId64 " + %" PRId64,
	      stat_subtree(w.h, root, PMC_STAT_KERNEL),
	      stat_subtree(w.h, root, PMC_STAT_SLAB_RECLAIMABLE),
	      stat_subtree(w.h, root, PMC_STAT_SLAB_UNRECLAIMABLE));
	CHECK(ck, pmc_hierarchy_close(w.h) == 0, "close");
	pthread_barrier_destroy(&w.barrier);
	printf("  %-16s allocs %lu (refused %lu), frees %lu, churned %lu\n", name, allocs,
	       refused, frees, churned);
}

static void run(struct checks *ck, const char *name, const struct pmc_config *cfg)
{
	run_name = name;
	if (cfg->slab_mode == PMC_SLAB_OBJCG)
		exact_objcg(ck, cfg);
	if (cfg->slab_mode == PMC_SLAB_CLONE)
		exact_clone(ck, cfg);
	threads(ck, cfg, name);
}

int main(int argc, char **argv)
{
	struct checks total = { 0, 0 };
	int64_t live0 = pmc_hierarchy_nr_live();
	struct pmc_config v2 = stress_config_current();
	struct pmc_config clone, reparent, none;

	stress_args(argc, argv, MAX_THREADS, &nthreads, &ops_per_thread, &seed);
	v2.ncpus = nthreads > 1 ? nthreads : 2;
	v2.seed = seed;
	/* A 4.x v1 kernel: kmem always active, a kmem counter, clones. */
	clone = v2;
	clone.version = 1;
	clone.memsw = 1;
	clone.kmem_limit = PMC_KMEM_LIMIT_ENFORCED;
	clone.objcg = 0;
	clone.slab_mode = PMC_SLAB_CLONE;
	clone.slab_work_delay = 1;
	reparent = clone;
	reparent.slab_reparent = 1;
	none = v2;
	none.slab_mode = PMC_SLAB_NONE;

	run(&total, "objcg", &v2);
	run(&total, "clone", &clone);
	run(&total, "clone+reparent", &reparent);
	run(&total, "none", &none);
	run_name = NULL;
	CHECK(&total, pmc_hierarchy_nr_live() == live0, "hierarchies left live");
	printf("stress_slab: %d threads x %ld ops, seed %" PRIu64 "\n", nthreads, ops_per_thread,
	       seed);
	printf("%lu passed, %lu failed\n", total.passed, total.failed);
	return total.failed ? 1 : 0;
}
