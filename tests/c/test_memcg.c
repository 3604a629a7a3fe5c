/*
 * test_memcg.c - deterministic unit tests of the cgroup tree's slow paths
 * (no Python), by the public API of pymemcg.h.
 *
 * One thread, explicit CPUs, so every number is exact and worked out by
 * hand from the kernel's loops (mm/memcontrol.c: try_charge_memcg,
 * mem_cgroup_handle_over_high), not from the C implementation:
 *
 *  - the reclaim callback: honest, a liar (the core believes the counter,
 *    and a liar cannot keep a charge looping), failing (-ECANCELED, nothing
 *    charged, with kmem_first too), removing the cgroup being charged,
 *    calling the API (a nested charge on the CPU the charge let go of, a
 *    close that must refuse), off, and per hierarchy;
 *  - memory.high: the high event and the reclaim per over-high level, the
 *    retries of mem_cgroup_handle_over_high, a hook that fails there;
 *  - replay: drain and drain-all records, malformed records, records
 *    naming a stale cgroup, cgroup 0 or another hierarchy's cgroup, the
 *    stop after a failed callback (later result slots untouched),
 *    misaligned buffers, long batches, underflow;
 *  - stale, foreign and zero handles in every single call;
 *  - a close while a batch runs (the batch stops at its next lock, whatever
 *    the record), the v1 kmem limit of 4.x-5.15, the arguments the Python
 *    layer checks first (configs, names, counters, events, CPUs, counts),
 *    and the benchmark entry points, briefly.
 *
 * A check marked KNOWN is a bug reported and not fixed yet: it prints
 * "KNOWN BUG" when it fails (and does not fail the run), "FIXED" when it
 * passes.  Set PMC_STRICT=1 in the environment to count it as a failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
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

/* ------------------------------------------------------------------ */
/* Assertions: count, report file:line and both values.                */

static unsigned long n_passed, n_failed, n_known;

#define EXPECT_EQ(a, b) do {							\
	long long _a = (long long)(a), _b = (long long)(b);			\
	if (_a == _b) {								\
		n_passed++;							\
	} else {								\
		n_failed++;							\
		fprintf(stderr, "%s:%d: %s: FAILED: %s == %s\n    got      %lld\n"	\
			"    expected %lld\n", __FILE__, __LINE__, __func__, #a, #b,	\
			_a, _b);						\
	}									\
} while (0)

#define EXPECT_TRUE(cond) do {							\
	if (cond) {								\
		n_passed++;							\
	} else {								\
		n_failed++;							\
		fprintf(stderr, "%s:%d: %s: FAILED: %s\n", __FILE__, __LINE__,	\
			__func__, #cond);					\
	}									\
} while (0)

/* A reported bug: does not fail the run unless PMC_STRICT is set. */
#define EXPECT_KNOWN(cond, what) do {						\
	if (cond) {								\
		n_passed++;							\
		fprintf(stderr, "%s:%d: FIXED (make it a plain check): %s\n",	\
			__FILE__, __LINE__, what);				\
	} else if (getenv("PMC_STRICT")) {					\
		n_failed++;							\
		fprintf(stderr, "%s:%d: %s: FAILED (known bug): %s: %s\n",	\
			__FILE__, __LINE__, __func__, #cond, what);		\
	} else {								\
		n_known++;							\
		fprintf(stderr, "%s:%d: KNOWN BUG: %s\n", __FILE__, __LINE__, what); \
	}									\
} while (0)

#define GFP_NOWAIT (PMC_GFP_KSWAPD_RECLAIM)
#define GFP_KERNEL (PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM)
#define UNLIMITED PMC_PAGE_COUNTER_MAX
#define CANARY INT64_MIN

/* ------------------------------------------------------------------ */
/* Configurations (pymemcg/config.py's presets).                       */

/* Config.current(): Linux 6.18 on cgroup v2. */
static struct pmc_config cfg_v2(int ncpus)
{
	return (struct pmc_config){
		.version = 2, .ncpus = ncpus, .charge_batch = 64, .reclaim_retries = 16,
		.stock_slots = 7, .stock_refill_cap = 1, .kmem_limit = PMC_KMEM_LIMIT_ABSENT,
		.kmem_uncharge_via_stock = 1, .failcnt = PMC_FAILCNT_NONE,
		.allow_spinning_batch = 1, .hz = 1000,
	};
}

/* Config.linux_3_8(): one single-page slot, kmem_first, kmem limit enforced. */
static struct pmc_config cfg_3_8(int ncpus)
{
	struct pmc_config cfg = {
		.version = 1, .ncpus = ncpus, .charge_batch = 32, .reclaim_retries = 5,
		.stock_slots = 1, .stock_single_page = 1, .stock_refill_cap = 0, .memsw = 1,
		.kmem_on_limit = 1, .kmem_limit = PMC_KMEM_LIMIT_ENFORCED, .kmem_first = 1,
		.kmem_uncharge_via_stock = 0, .failcnt = PMC_FAILCNT_ALL,
		.allow_spinning_batch = 0, .hz = 1000,
		.kmem_accounting = PMC_KMEM_ACCOUNTING_BLACKLIST,
	};
#ifdef PMC_CHARGE_LOOP_38
	cfg.charge_loop = PMC_CHARGE_LOOP_38;   /* 3.8's own __mem_cgroup_try_charge */
#endif
	return cfg;
}

/* ------------------------------------------------------------------ */
/* The reclaim callback, driven by `cb`.                                */

enum cb_mode { CB_HONEST, CB_LIAR, CB_FAIL, CB_EIO, CB_REMOVE_SELF, CB_NESTED, CB_CLOSE,
	       CB_CLOSE_ELSEWHERE };

static struct {
	enum cb_mode mode;
	int64_t h;                      /* the hierarchy whose cache it reclaims */
	int64_t cache_cg;               /* cache pages are charged here (user pages, cpu 0) */
	unsigned long cache;
	int calls, guard;
	int64_t last_h, last_cg, last_nr;
	int64_t nested_cg;              /* CB_NESTED: charge one page here, on cpu 0 */
	int64_t got;                    /* CB_NESTED, CB_CLOSE, CB_REMOVE_SELF: what the call returned */
	pthread_t closer;               /* CB_CLOSE_ELSEWHERE: the thread closing cb.h */
	bool closing;
	int64_t close_ret;
} cb;

static void *closer_main(void *arg)
{
	(void)arg;
	cb.close_ret = pmc_hierarchy_close(cb.h);
	return NULL;
}

static void cb_reset(int64_t h, int64_t cache_cg, unsigned long cache, enum cb_mode mode)
{
	memset(&cb, 0, sizeof(cb));
	cb.h = h;
	cb.cache_cg = cache_cg;
	cb.cache = cache;
	cb.mode = mode;
	cb.got = CANARY;
}

/* Uncharge up to n cache pages; returns how many. */
static unsigned long cb_free(unsigned long n)
{
	if (n > cb.cache)
		n = cb.cache;
	if (n)
		EXPECT_EQ(pmc_cgroup_uncharge(cb.h, cb.cache_cg, (int64_t)n, 0, 0), 0);
	cb.cache -= n;
	return n;
}

static int64_t reclaim_cb(int64_t h, int64_t cgroup, int64_t nr)
{
	cb.calls++;
	cb.last_h = h;
	cb.last_cg = cgroup;
	cb.last_nr = nr;
	/* A core that believed a liar would loop here: end it, and say so. */
	if (++cb.guard > 1000) {
		if (cb.guard == 1001)
			fprintf(stderr, "reclaim callback: 1000 calls in one test: a loop\n");
		return -ECANCELED;
	}
	switch (cb.mode) {
	case CB_LIAR:
		return 1000;            /* frees nothing */
	case CB_FAIL:
		return -ECANCELED;      /* what the binding returns when a hook raises */
	case CB_EIO:
		return -EIO;
	case CB_REMOVE_SELF:
		cb.got = pmc_cgroup_remove(h, cgroup);
		break;
	case CB_NESTED:
		cb.got = pmc_cgroup_try_charge(h, cb.nested_cg, 1, 0, GFP_NOWAIT, 0);
		break;
	case CB_CLOSE:
		cb.got = pmc_hierarchy_close(h);
		break;
	case CB_CLOSE_ELSEWHERE:
		/* Another thread closes; once it has begun (new calls are stale), go on. */
		if (!cb.closing) {
			cb.closing = true;
			if (pthread_create(&cb.closer, NULL, closer_main, NULL)) {
				perror("pthread_create");
				exit(1);
			}
			while (pmc_cgroup_root(h) != -ESTALE)
				sched_yield();
		}
		return 0;
	case CB_HONEST:
		break;
	}
	return (int64_t)cb_free((unsigned long)nr);
}

/* ------------------------------------------------------------------ */
/* Reading.                                                            */

static uint64_t usage(int64_t h, int64_t cg, int counter)
{
	struct pmc_page_counter_info pc;

	memset(&pc, 0, sizeof(pc));
	EXPECT_EQ(pmc_cgroup_counter(h, cg, counter, &pc), 0);
	return pc.usage;
}

static int64_t event(int64_t h, int64_t cg, int ev, bool local)
{
	struct pmc_cgroup_info info;

	memset(&info, 0, sizeof(info));
	EXPECT_EQ(pmc_cgroup_info(h, cg, &info), 0);
	return local ? info.events_local[ev] : info.events[ev];
}

static int64_t stat_anon(int64_t h, int64_t cg)
{
	int64_t st[PMC_NR_STATS] = { 0, 0 };

	EXPECT_EQ(pmc_cgroup_stat(h, cg, 0, st, PMC_NR_STATS), PMC_NR_STATS);
	return st[PMC_STAT_ANON];
}

/* The memcg id (replay names a refusing cgroup by it; handles hold a slot). */
static int64_t id_of(int64_t h, int64_t cg)
{
	struct pmc_cgroup_info info;

	memset(&info, 0, sizeof(info));
	EXPECT_EQ(pmc_cgroup_info(h, cg, &info), 0);
	return info.id;
}

static int state_of(int64_t h, int64_t cg)
{
	struct pmc_cgroup_info info;
	int64_t ret = pmc_cgroup_info(h, cg, &info);

	return ret ? (int)ret : info.state;
}

/* Pages CPU `cpu`'s stock holds for cg. */
static uint64_t stocked(int64_t h, int cpu, int64_t cg)
{
	int64_t cached[16];
	uint64_t pages[16], sum = 0;
	int64_t n = pmc_hierarchy_stock(h, cpu, cached, pages, 16);

	EXPECT_TRUE(n > 0 && n <= 16);
	for (int64_t i = 0; i < n && i < 16; i++)
		if (cached[i] == cg)
			sum += pages[i];
	return sum;
}

static int64_t new_hierarchy(struct pmc_config cfg)
{
	int64_t h = pmc_hierarchy_new(&cfg);

	EXPECT_TRUE(h > 0);
	return h;
}

static int64_t child(int64_t h, int64_t parent, const char *name, int64_t max)
{
	int64_t cg = pmc_cgroup_create(h, parent ? parent : pmc_cgroup_root(h), name);

	EXPECT_TRUE(cg > 0);
	if (max != UNLIMITED)
		EXPECT_EQ(pmc_cgroup_set_max(h, cg, PMC_COUNTER_MEMORY, max), 0);
	return cg;
}

/* ------------------------------------------------------------------ */
/* The reclaim callback on the charge path (try_charge_memcg).         */

static void test_honest_reclaim_makes_room(void)
{
	int64_t h = new_hierarchy(cfg_v2(1)), g = child(h, 0, "g", 10);

	pmc_hierarchy_set_reclaim(h, 1);
	cb_reset(h, g, 0, CB_HONEST);
	/* 64 pages do not fit, the exact 10 do: no reclaim, no stock. */
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 10, 0, GFP_KERNEL, 0), 0);
	cb.cache = 10;
	EXPECT_EQ(cb.calls, 0);
	/* 4 more: max event, reclaim(g, 4) frees 4, the margin is there, retry. */
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 4, 0, GFP_KERNEL, 0), 0);
	EXPECT_EQ(cb.calls, 1);
	EXPECT_EQ(cb.last_h, h);
	EXPECT_EQ(cb.last_cg, g);
	EXPECT_EQ(cb.last_nr, 4);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 10);
	EXPECT_EQ(stat_anon(h, g), 10);
	EXPECT_EQ(event(h, g, PMC_EVENT_MAX, true), 1);
	EXPECT_EQ(event(h, g, PMC_EVENT_OOM, true), 0);
	/* memory.reclaim's entry: the progress seen on the counter. */
	EXPECT_EQ(pmc_cgroup_reclaim(h, g, 3), 3);
	EXPECT_EQ(cb.calls, 2);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 7);
	EXPECT_EQ(pmc_cgroup_reclaim(h, g, 0), 0);
	EXPECT_EQ(cb.calls, 3);
	EXPECT_EQ(cb.last_nr, 0);
	EXPECT_EQ(pmc_cgroup_reclaim(h, g, -1), -EINVAL);
	/* Off: reclaim frees nothing and the callback is not called. */
	pmc_hierarchy_set_reclaim(h, 0);
	EXPECT_EQ(pmc_cgroup_reclaim(h, g, 3), 0);
	EXPECT_EQ(cb.calls, 3);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
	EXPECT_EQ(pmc_hierarchy_set_reclaim(h, 1), -ESTALE);
	EXPECT_EQ(pmc_cgroup_reclaim(h, g, 3), -ESTALE);
}

/*
 * A liar frees nothing and claims 1000 pages.  The core believes the
 * counter: memory.reclaim reports 0, and a one-page charge at the limit
 * runs the kernel's loop to its end: a reclaim (no progress), a drain, then
 * reclaim_retries more, each with a max event (2 + 16 = 18), one OOM event,
 * and a refusal.  (If the claim were believed, "small allocations keep
 * trying while reclaim makes progress" would never end.)
 */
static void test_liar_is_not_believed(void)
{
	int64_t h = new_hierarchy(cfg_v2(1)), g = child(h, 0, "g", 10);

	pmc_hierarchy_set_reclaim(h, 1);
	cb_reset(h, g, 0, CB_LIAR);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 10, 0, GFP_KERNEL, 0), 0);
	EXPECT_EQ(pmc_cgroup_reclaim(h, g, 5), 0);
	EXPECT_EQ(cb.calls, 1);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 1, 0, GFP_KERNEL, 0), g);
	EXPECT_EQ(cb.calls, 1 + 18);
	EXPECT_EQ(event(h, g, PMC_EVENT_MAX, true), 18);
	EXPECT_EQ(event(h, g, PMC_EVENT_OOM, true), 1);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 10);
	/* __GFP_NORETRY: one reclaim, the drain, a second reclaim, then the refusal. */
	cb.guard = 0;
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 1, 0, GFP_KERNEL | PMC_GFP_NORETRY, 0), g);
	EXPECT_EQ(cb.calls, 19 + 2);
	/* __GFP_RETRY_MAYFAIL: the whole loop, but no OOM. */
	cb.guard = 0;
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 1, 0, GFP_KERNEL | PMC_GFP_RETRY_MAYFAIL, 0), g);
	EXPECT_EQ(cb.calls, 21 + 18);
	EXPECT_EQ(event(h, g, PMC_EVENT_OOM, true), 1);
	/* Above PAGE_ALLOC_COSTLY_ORDER (8 pages): no OOM event either. */
	cb.guard = 0;
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 9, 0, GFP_KERNEL, 0), g);
	EXPECT_EQ(event(h, g, PMC_EVENT_OOM, true), 1);
	/* __GFP_NOFAIL: the loop, then forced over the limit. */
	cb.guard = 0;
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 2, 0, GFP_KERNEL | PMC_GFP_NOFAIL, 0), 0);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 12);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/*
 * A failing callback (the binding returns -ECANCELED when a hook raises)
 * abandons the charge: -ECANCELED, nothing charged, no OOM; the max event
 * came before the reclaim.
 */
static void test_failing_callback_cancels_the_charge(void)
{
	int64_t h = new_hierarchy(cfg_v2(1)), g = child(h, 0, "g", 10), ret;

	pmc_hierarchy_set_reclaim(h, 1);
	cb_reset(h, g, 0, CB_FAIL);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 8, 0, GFP_KERNEL, 0), 0);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 4, 0, GFP_KERNEL, 1), -ECANCELED);
	EXPECT_EQ(cb.calls, 1);
	EXPECT_EQ(pmc_hierarchy_drain_all(h, 0), 0);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 8);
	EXPECT_EQ(stat_anon(h, g), 8);
	EXPECT_EQ(event(h, g, PMC_EVENT_MAX, true), 1);
	EXPECT_EQ(event(h, g, PMC_EVENT_OOM, true), 0);
	EXPECT_EQ(pmc_cgroup_reclaim(h, g, 4), -ECANCELED);
	/* Any other -errno of a callback: the charge fails with nothing charged. */
	cb.mode = CB_EIO;
	ret = pmc_cgroup_try_charge(h, g, 4, 0, GFP_KERNEL, 0);
	EXPECT_TRUE(ret == -EIO || ret == -ECANCELED);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 8);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/* 3.8 charges the kmem counter first: a failed callback must give it back. */
static void test_failing_callback_with_kmem_first(void)
{
	int64_t h = new_hierarchy(cfg_3_8(1)), g = child(h, 0, "g", 10);

	EXPECT_EQ(pmc_cgroup_activate_kmem(h, g), 0);
	EXPECT_EQ(pmc_cgroup_set_max(h, g, PMC_COUNTER_KMEM, 100), 0);
	pmc_hierarchy_set_reclaim(h, 1);
	cb_reset(h, g, 0, CB_FAIL);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 10, 0, GFP_KERNEL, 0), 0);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 4, 0, GFP_KERNEL, 1), -ECANCELED);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_KMEM), 0);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 10);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMSW), 10);
	/*
	 * An honest one makes room: kmem, memory and memsw all charged.  (3.8's
	 * reclaim asks for SWAP_CLUSTER_MAX pages a pass, so it frees them all.)
	 */
	cb_reset(h, g, 10, CB_HONEST);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 4, 0, GFP_KERNEL, 1), 0);
	EXPECT_TRUE(cb.cache <= 6);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_KMEM), 4);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), cb.cache + 4);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMSW), cb.cache + 4);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/*
 * The callback removes the very cgroup being charged: the charge holds it
 * (css_get), goes on and succeeds; the cgroup is dying with the pages, and
 * freed once they are uncharged.  Every later use of its handle is -ESTALE.
 */
static void test_callback_removes_the_charged_cgroup(void)
{
	int64_t h = new_hierarchy(cfg_v2(1)), p = child(h, 0, "p", UNLIMITED);
	int64_t g = child(h, p, "g", 10);

	pmc_hierarchy_set_reclaim(h, 1);
	cb_reset(h, g, 0, CB_HONEST);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 10, 0, GFP_KERNEL, 0), 0);
	cb.cache = 10;
	cb.mode = CB_REMOVE_SELF;
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 4, 0, GFP_KERNEL, 0), 0);
	EXPECT_EQ(cb.got, 0);
	EXPECT_EQ(state_of(h, g), 2);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 10);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 1, 0, GFP_KERNEL, 0), -ESTALE);
	/* Online children only (creation order). */
	{
		int64_t k = child(h, p, "k", UNLIMITED), out[4] = { 0, 0, 0, 0 };

		EXPECT_EQ(pmc_cgroup_children(h, p, out, 4), 1);
		EXPECT_EQ(out[0], k);
		EXPECT_EQ(pmc_cgroup_remove(h, k), 0);
	}
	/* Removing the parent of a dying child is allowed; the child's pages stay. */
	EXPECT_EQ(pmc_cgroup_remove(h, p), 0);
	EXPECT_EQ(pmc_cgroup_uncharge(h, g, 6, 0, 0), 0);
	EXPECT_EQ(state_of(h, g), 2);
	EXPECT_EQ(pmc_cgroup_uncharge(h, g, 4, 0, 0), 0);
	EXPECT_EQ(state_of(h, g), -ESTALE);
	EXPECT_EQ(state_of(h, p), -ESTALE);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/*
 * Inside the callback no lock is held: a charge on the CPU the outer
 * charge runs on goes through; a close of the hierarchy the thread is
 * inside of is refused (-EBUSY) and changes nothing.
 */
static void test_callback_calls_the_api(void)
{
	int64_t h = new_hierarchy(cfg_v2(1)), g = child(h, 0, "g", 10), k = child(h, 0, "k", 50);
	struct pmc_op op = { .op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = g, .nr_pages = 1 };
	int64_t res = CANARY;

	pmc_hierarchy_set_reclaim(h, 1);
	cb_reset(h, g, 0, CB_HONEST);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 10, 0, GFP_KERNEL, 0), 0);
	cb.cache = 10;
	cb.mode = CB_NESTED;
	cb.nested_cg = k;
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 2, 0, GFP_KERNEL, 0), 0);
	EXPECT_EQ(cb.got, 0);
	/* 1 page with GFP_NOWAIT, allow_spinning_batch: exactly 1, no stock. */
	EXPECT_EQ(usage(h, k, PMC_COUNTER_MEMORY), 1);
	EXPECT_EQ(stocked(h, 0, k), 0);
	/* The same from a replay record (it holds the CPU between records). */
	cb.got = CANARY;
	EXPECT_EQ(pmc_hierarchy_replay(h, &op, 1, &res), 1);
	EXPECT_EQ(res, 0);
	EXPECT_EQ(cb.got, 0);
	EXPECT_EQ(usage(h, k, PMC_COUNTER_MEMORY), 2);
	cb.mode = CB_CLOSE;
	EXPECT_EQ(pmc_cgroup_reclaim(h, g, 1), 1);
	EXPECT_EQ(cb.got, -EBUSY);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 9);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/* The callback of one hierarchy is not called for another's charges. */
static void test_reclaim_is_per_hierarchy(void)
{
	int64_t h1 = new_hierarchy(cfg_v2(1)), h2 = new_hierarchy(cfg_v2(1));
	int64_t g2 = child(h2, 0, "g", 1);

	pmc_hierarchy_set_reclaim(h1, 1);
	cb_reset(h1, 0, 0, CB_HONEST);
	EXPECT_EQ(pmc_cgroup_try_charge(h2, g2, 2, 0, GFP_KERNEL, 0), g2);
	EXPECT_EQ(cb.calls, 0);
	EXPECT_EQ(event(h2, g2, PMC_EVENT_MAX, true), 2 + 16);
	EXPECT_EQ(pmc_hierarchy_close(h1), 0);
	EXPECT_EQ(pmc_hierarchy_close(h2), 0);
	EXPECT_EQ(pmc_hierarchy_close(h2), -ESTALE);
}

/* ------------------------------------------------------------------ */
/* memory.high (mem_cgroup_handle_over_high).                          */

/*
 * g's memory.high is 10 and nothing can be reclaimed.  A charge of 20
 * charges a batch of 64 (44 into the stock): 64 pages over high.  On the
 * way out: a high event and a reclaim of 64 pages, then, the penalty being
 * above HZ/100 (clamped at 2 s) and reclaim making no progress, one retry
 * of 32 pages per reclaim_retries: 17 reclaims in all, each with its high
 * event.  The charge succeeds.
 */
static void test_high_reclaim_with_nothing_to_free(void)
{
	int64_t h = new_hierarchy(cfg_v2(1)), p = child(h, 0, "p", UNLIMITED);
	int64_t g = child(h, p, "g", UNLIMITED);

	EXPECT_EQ(pmc_cgroup_set_high(h, g, PMC_COUNTER_MEMORY, 10), 0);
	pmc_hierarchy_set_reclaim(h, 1);
	cb_reset(h, g, 0, CB_HONEST);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 20, 0, GFP_KERNEL, 0), 0);
	EXPECT_EQ(cb.calls, 17);
	EXPECT_EQ(cb.last_cg, g);
	EXPECT_EQ(cb.last_nr, 32);
	EXPECT_EQ(event(h, g, PMC_EVENT_HIGH, true), 17);
	EXPECT_EQ(event(h, p, PMC_EVENT_HIGH, true), 0);
	EXPECT_EQ(event(h, p, PMC_EVENT_HIGH, false), 17);       /* v2: hierarchical */
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 64);
	EXPECT_EQ(stocked(h, 0, g), 44);
	/* The parent over its own high too: both levels each round. */
	EXPECT_EQ(pmc_cgroup_set_high(h, p, PMC_COUNTER_MEMORY, 30), 0);
	cb.calls = 0;
	cb.guard = 0;
	/* 44 pages in the stock: the charge is a stock hit, nothing goes over. */
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 44, 0, GFP_KERNEL, 0), 0);
	EXPECT_EQ(cb.calls, 0);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 1, 0, GFP_KERNEL, 0), 0);
	EXPECT_EQ(cb.calls, 2 * 17);
	EXPECT_EQ(event(h, g, PMC_EVENT_HIGH, true), 17 + 17);
	EXPECT_EQ(event(h, p, PMC_EVENT_HIGH, true), 17);
	EXPECT_EQ(event(h, p, PMC_EVENT_HIGH, false), 17 + 34);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/*
 * The same with 100 reclaimable pages: reclaim of 64 (all freed), of 32
 * (all freed), of 32 (the 4 left), then no progress: the retries.  3 + 17
 * reclaims; usage back to what the charge took (64: 1 charged + 63 stock).
 */
static void test_high_reclaim_frees(void)
{
	int64_t h = new_hierarchy(cfg_v2(1)), g = child(h, 0, "g", UNLIMITED);

	pmc_hierarchy_set_reclaim(h, 1);
	cb_reset(h, g, 0, CB_HONEST);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 100, 0, GFP_KERNEL, 0), 0);     /* above the batch */
	cb.cache = 100;
	EXPECT_EQ(stocked(h, 0, g), 0);
	EXPECT_EQ(pmc_cgroup_set_high(h, g, PMC_COUNTER_MEMORY, 10), 0);
	EXPECT_EQ(cb.calls, 0);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 1, 0, GFP_KERNEL, 0), 0);
	EXPECT_EQ(cb.calls, 3 + 17);
	EXPECT_EQ(cb.cache, 0);
	EXPECT_EQ(event(h, g, PMC_EVENT_HIGH, true), 20);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 64);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/*
 * A hook that fails in memory.high's reclaim, on the way back to user
 * space: the charge went through before, and memory.high never fails a
 * charge, so it stands; the call still returns -ECANCELED, so that the
 * binding delivers the hook's exception (pymemcg.h documents it).
 */
static void test_high_reclaim_hook_failure(void)
{
	int64_t h = new_hierarchy(cfg_v2(1)), g = child(h, 0, "g", UNLIMITED), ret;
	struct pmc_op op = { .op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = g, .nr_pages = 20 };
	int64_t res[2] = { CANARY, CANARY };
	struct pmc_op ops[2] = { op, op };

	EXPECT_EQ(pmc_cgroup_set_high(h, g, PMC_COUNTER_MEMORY, 10), 0);
	pmc_hierarchy_set_reclaim(h, 1);
	cb_reset(h, g, 0, CB_FAIL);
	ret = pmc_cgroup_try_charge(h, g, 20, 0, GFP_KERNEL, 0);
	EXPECT_EQ(ret, -ECANCELED);
	EXPECT_EQ(cb.calls, 1);
	EXPECT_EQ(event(h, g, PMC_EVENT_HIGH, true), 1);
	EXPECT_EQ(pmc_hierarchy_drain_all(h, 0), 0);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 20);         /* the charge stands */
	/* In a batch: the record is -ECANCELED and the batch stops after it. */
	EXPECT_EQ(pmc_hierarchy_replay(h, ops, 2, res), 1);
	EXPECT_EQ(res[0], -ECANCELED);
	EXPECT_EQ(res[1], CANARY);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/* ------------------------------------------------------------------ */
/* replay.                                                             */

static int64_t replay(int64_t h, const struct pmc_op *ops, int n, int64_t *res)
{
	for (int i = 0; i < n; i++)
		res[i] = CANARY;
	return pmc_hierarchy_replay(h, ops, n, res);
}

/* Drain and drain-all records do what the single calls do. */
static void test_replay_drain_records(void)
{
	int64_t h = new_hierarchy(cfg_v2(2)), g = child(h, 0, "g", UNLIMITED);
	int64_t k = child(h, 0, "k", UNLIMITED), res[4];
	struct pmc_op charge_g0 = { .op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = g,
				    .nr_pages = 1, .cpu = 0 };
	struct pmc_op ops[4];

	/* One page charged, a batch: 63 in cpu 0's stock. */
	EXPECT_EQ(replay(h, &charge_g0, 1, res), 1);
	EXPECT_EQ(res[0], 0);
	EXPECT_EQ(stocked(h, 0, g), 63);
	ops[0] = (struct pmc_op){ .op = PMC_OP_DRAIN, .cpu = 1 };     /* another CPU: nothing */
	ops[1] = (struct pmc_op){ .op = PMC_OP_DRAIN, .cpu = 0 };
	EXPECT_EQ(replay(h, ops, 2, res), 2);
	EXPECT_EQ(res[0], 0);
	EXPECT_EQ(res[1], 0);
	EXPECT_EQ(stocked(h, 0, g), 0);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 1);
	/* g on cpu 1, k on cpu 0: a drain-all of g's subtree leaves k's stock alone. */
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 1, 1, GFP_KERNEL, 0), 0);
	EXPECT_EQ(pmc_cgroup_try_charge(h, k, 1, 0, GFP_KERNEL, 0), 0);
	ops[0] = (struct pmc_op){ .op = PMC_OP_DRAIN_ALL, .cgroup = g };
	EXPECT_EQ(replay(h, ops, 1, res), 1);
	EXPECT_EQ(res[0], 0);
	EXPECT_EQ(stocked(h, 1, g), 0);
	EXPECT_EQ(stocked(h, 0, k), 63);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 2);
	/* cgroup 0: the whole tree. */
	ops[0] = (struct pmc_op){ .op = PMC_OP_DRAIN_ALL, .cgroup = 0 };
	EXPECT_EQ(replay(h, ops, 1, res), 1);
	EXPECT_EQ(res[0], 0);
	EXPECT_EQ(stocked(h, 0, k), 0);
	EXPECT_EQ(usage(h, k, PMC_COUNTER_MEMORY), 1);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/*
 * Records that are malformed, name a stale cgroup, cgroup 0 where a cgroup
 * is needed, or another hierarchy's cgroup: each gets its error, changes
 * nothing, and the batch goes on.
 */
static void test_replay_bad_records(void)
{
	int64_t h = new_hierarchy(cfg_v2(2)), h2 = new_hierarchy(cfg_v2(2));
	int64_t g = child(h, 0, "g", UNLIMITED), gone = child(h, 0, "gone", UNLIMITED);
	int64_t foreign = child(h2, 0, "g", UNLIMITED), res[32], done;
	struct pmc_op ops[32];
	int n = 0, i;

	EXPECT_EQ(pmc_cgroup_remove(h, gone), 0);       /* nothing charged: freed at once */
	EXPECT_EQ(state_of(h, gone), -ESTALE);
#define REC(...) (ops[n++] = (struct pmc_op){ __VA_ARGS__ })
	REC(.op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = g, .nr_pages = 1);   /* 0: ok */
	REC(.op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = 0, .nr_pages = 5);   /* after g */
	REC(.op = PMC_OP_UNCHARGE, .cgroup = 0, .nr_pages = 1);
	REC(.op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = gone, .nr_pages = 1);
	REC(.op = PMC_OP_UNCHARGE, .cgroup = gone, .nr_pages = 1);
	REC(.op = PMC_OP_DRAIN_ALL, .cgroup = gone);
	REC(.op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = foreign, .nr_pages = 1);
	REC(.op = PMC_OP_UNCHARGE, .cgroup = foreign, .nr_pages = 1);
	REC(.op = PMC_OP_DRAIN_ALL, .cgroup = foreign);
	REC(.op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = -g, .nr_pages = 1);
	REC(.op = 0, .cgroup = g, .nr_pages = 1);
	REC(.op = 5, .cgroup = g, .nr_pages = 1);
	REC(.op = 0xffffffffu, .cgroup = g, .nr_pages = 1);
	REC(.op = PMC_OP_CHARGE, .flags = BAD_GFP, .cgroup = g, .nr_pages = 1);
	REC(.op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = g, .nr_pages = -1);
	REC(.op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = g,
	    .nr_pages = PMC_PAGE_COUNTER_MAX + 1);
	REC(.op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = g, .nr_pages = 1, .cpu = 2);
	REC(.op = PMC_OP_UNCHARGE, .cgroup = g, .nr_pages = 1, .cpu = -1);
	REC(.op = PMC_OP_UNCHARGE, .cgroup = g, .nr_pages = INT64_MIN);
	REC(.op = PMC_OP_DRAIN, .cpu = 2);
	REC(.op = PMC_OP_DRAIN, .cpu = -1);
	REC(.op = PMC_OP_UNCHARGE, .cgroup = g, .nr_pages = 1, .cpu = 1);          /* ok */
	REC(.op = PMC_OP_UNCHARGE, .cgroup = g, .nr_pages = 100, .cpu = 1);        /* clamps */
#undef REC
	done = replay(h, ops, n, res);
	EXPECT_EQ(done, n);
	EXPECT_EQ(res[0], 0);
	for (i = 1; i <= 2; i++)
		EXPECT_EQ(res[i], -EINVAL);
	for (i = 3; i <= 5; i++)
		EXPECT_EQ(res[i], -ESTALE);
	for (i = 6; i <= 20; i++)
		EXPECT_EQ(res[i], -EINVAL);
	EXPECT_EQ(res[21], 0);
	EXPECT_EQ(res[22], PMC_RESULT_UNDERFLOW);
	/* 64 charged (63 of them in the stock), 1 and 100 uncharged: clamped at 0. */
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 0);
	EXPECT_EQ(stat_anon(h, g), 1 - 1 - 100);
	EXPECT_EQ(usage(h2, foreign, PMC_COUNTER_MEMORY), 0);
	/* The batch itself: n = 0, n < 0, a closed hierarchy. */
	EXPECT_EQ(pmc_hierarchy_replay(h, ops, 0, res), 0);
	EXPECT_EQ(pmc_hierarchy_replay(h, ops, -1, res), -EINVAL);
	EXPECT_EQ(pmc_hierarchy_close(h2), 0);
	EXPECT_EQ(pmc_hierarchy_replay(h2, ops, 1, res), -ESTALE);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
	EXPECT_EQ(pmc_hierarchy_replay(h, ops, 1, res), -ESTALE);
	EXPECT_EQ(pmc_hierarchy_replay(0, ops, 1, res), -ESTALE);
}

/* The batch stops after a record whose callback failed; later slots are untouched. */
static void test_replay_stops_after_a_failed_callback(void)
{
	int64_t h = new_hierarchy(cfg_v2(1)), g = child(h, 0, "g", 4);
	int64_t k = child(h, 0, "k", UNLIMITED), res[4];
	struct pmc_op ops[4] = {
		{ .op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = k, .nr_pages = 1 },
		{ .op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = g, .nr_pages = 5 },
		{ .op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = k, .nr_pages = 1 },
		{ .op = PMC_OP_DRAIN, .cpu = 0 },
	};

	pmc_hierarchy_set_reclaim(h, 1);
	cb_reset(h, g, 0, CB_FAIL);
	EXPECT_EQ(replay(h, ops, 4, res), 2);
	EXPECT_EQ(res[0], 0);
	EXPECT_EQ(res[1], -ECANCELED);
	EXPECT_EQ(res[2], CANARY);
	EXPECT_EQ(res[3], CANARY);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 0);
	EXPECT_EQ(usage(h, k, PMC_COUNTER_MEMORY), 64);            /* not drained */
	/* A refusal is the id of the cgroup over its limit. */
	cb.mode = CB_HONEST;
	EXPECT_EQ(replay(h, ops, 4, res), 4);
	EXPECT_EQ(res[1], id_of(h, g));
	EXPECT_EQ(res[3], 0);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/* Records and results at any alignment (the caller's buffer, read by memcpy). */
static void test_replay_misaligned_buffers(void)
{
	int64_t h = new_hierarchy(cfg_v2(1)), g = child(h, 0, "g", UNLIMITED), r;
	struct pmc_op ops[3] = {
		{ .op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = g, .nr_pages = 3 },
		{ .op = PMC_OP_UNCHARGE, .cgroup = g, .nr_pages = 2 },
		{ .op = PMC_OP_DRAIN, .cpu = 0 },
	};
	_Alignas(16) unsigned char in[1 + sizeof(ops)], out[3 + 3 * sizeof(int64_t)];

	memcpy(in + 1, ops, sizeof(ops));
	memset(out, 0xa5, sizeof(out));
	EXPECT_EQ(pmc_hierarchy_replay(h, in + 1, 3, out + 3), 3);
	for (int i = 0; i < 3; i++) {
		memcpy(&r, out + 3 + i * sizeof(int64_t), sizeof(r));
		EXPECT_EQ(r, 0);
	}
	EXPECT_EQ(out[0], 0xa5);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 1);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/*
 * A batch longer than the CPU is held for (256 records), on two CPUs in
 * turn, and a dying cgroup emptied by a record (freed before the next).
 */
static void test_replay_long_batches_and_frees(void)
{
	enum { N = 700 };
	static struct pmc_op ops[N];
	static int64_t res[N];
	int64_t h = new_hierarchy(cfg_v2(2)), g = child(h, 0, "g", UNLIMITED);
	int64_t d = child(h, 0, "d", UNLIMITED);
	int i;

	for (i = 0; i < N; i++)
		ops[i] = (struct pmc_op){ .op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = g,
					  .nr_pages = 1, .cpu = (i / 300) % 2 };
	EXPECT_EQ(replay(h, ops, N, res), N);
	for (i = 0; i < N; i++)
		if (res[i])
			break;
	EXPECT_EQ(i, N);
	EXPECT_EQ(pmc_hierarchy_drain_all(h, 0), 0);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), N);
	/* d dying with 5 pages: uncharged by a record, freed, then stale. */
	EXPECT_EQ(pmc_cgroup_try_charge(h, d, 65, 0, GFP_KERNEL, 0), 0);       /* no stock */
	EXPECT_EQ(pmc_cgroup_remove(h, d), 0);
	ops[0] = (struct pmc_op){ .op = PMC_OP_UNCHARGE, .cgroup = d, .nr_pages = 60 };
	ops[1] = (struct pmc_op){ .op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = d, .nr_pages = 1 };
	ops[2] = (struct pmc_op){ .op = PMC_OP_UNCHARGE, .cgroup = d, .nr_pages = 5 };
	ops[3] = (struct pmc_op){ .op = PMC_OP_UNCHARGE, .cgroup = d, .nr_pages = 1 };
	ops[4] = (struct pmc_op){ .op = PMC_OP_UNCHARGE, .cgroup = g, .nr_pages = N };
	EXPECT_EQ(replay(h, ops, 5, res), 5);
	EXPECT_EQ(res[0], 0);
	EXPECT_EQ(res[1], -ESTALE);                     /* dying: no new charges */
	EXPECT_EQ(res[2], 0);
	EXPECT_EQ(res[3], -ESTALE);                     /* freed after the record before */
	EXPECT_EQ(res[4], 0);
	EXPECT_EQ(state_of(h, d), -ESTALE);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/* ------------------------------------------------------------------ */
/* Stale, foreign and zero handles in the single calls.                 */

static void expect_refused(int64_t h, int64_t cg, int64_t err)
{
	struct pmc_cgroup_info info;
	struct pmc_page_counter_info pc;
	int64_t out[4], st[PMC_NR_STATS];
	uint8_t levels[4 * 4];

	EXPECT_EQ(pmc_cgroup_try_charge(h, cg, 1, 0, GFP_KERNEL, 0), err);
	EXPECT_EQ(pmc_cgroup_uncharge(h, cg, 1, 0, 0), err);
	EXPECT_EQ(pmc_cgroup_uncharge(h, cg, 1, 0, 1), err);
	EXPECT_EQ(pmc_cgroup_uncharge_levels(h, cg, 1, 0, 0, levels, 4), err);
	EXPECT_EQ(pmc_cgroup_reclaim(h, cg, 1), err);
	/* drain_all's cgroup 0 is the whole tree. */
	EXPECT_EQ(pmc_hierarchy_drain_all(h, cg), cg ? err : 0);
	EXPECT_EQ(pmc_cgroup_info(h, cg, &info), err);
	EXPECT_EQ(pmc_cgroup_counter(h, cg, PMC_COUNTER_MEMORY, &pc), err);
	EXPECT_EQ(pmc_cgroup_stat(h, cg, 1, st, PMC_NR_STATS), err);
	EXPECT_EQ(pmc_cgroup_children(h, cg, out, 4), err);
	EXPECT_EQ(pmc_cgroup_set_max(h, cg, PMC_COUNTER_MEMORY, 1), err);
	EXPECT_EQ(pmc_cgroup_xchg_max(h, cg, PMC_COUNTER_MEMORY, 1), err);
	EXPECT_EQ(pmc_cgroup_set_min(h, cg, 1), err);
	EXPECT_EQ(pmc_cgroup_set_low(h, cg, 1), err);
	EXPECT_EQ(pmc_cgroup_set_high(h, cg, PMC_COUNTER_MEMORY, 1), err);
	EXPECT_EQ(pmc_cgroup_reset(h, cg, PMC_COUNTER_MEMORY, PMC_RESET_WATERMARK), err);
	EXPECT_EQ(pmc_cgroup_event(h, cg, PMC_EVENT_LOW), err);
	EXPECT_EQ(pmc_cgroup_activate_kmem(h, cg), err);
	EXPECT_EQ(pmc_cgroup_create(h, cg, "x"), err);
	EXPECT_EQ(pmc_cgroup_remove(h, cg), err);
#ifdef PMC_TUNABLE_SWAPPINESS
	EXPECT_EQ(pmc_cgroup_tunable(h, cg, PMC_TUNABLE_SWAPPINESS, -1), err);
#endif
}

static void test_stale_foreign_and_zero_handles(void)
{
	int64_t h = new_hierarchy(cfg_v2(1)), h2 = new_hierarchy(cfg_v2(1));
	int64_t g = child(h, 0, "g", UNLIMITED), foreign = child(h2, 0, "g", UNLIMITED);

	/* g: charged, removed (dying), uncharged (freed): stale for good. */
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 100, 0, GFP_KERNEL, 0), 0);
	EXPECT_EQ(pmc_cgroup_remove(h, g), 0);
	EXPECT_EQ(pmc_cgroup_uncharge(h, g, 100, 0, 0), 0);
	expect_refused(h, g, -ESTALE);
	/* A new cgroup takes g's slot: g's handle still finds nothing. */
	EXPECT_EQ(child(h, 0, "g2", UNLIMITED) & 0xffff, g & 0xffff);
	expect_refused(h, g, -ESTALE);
	expect_refused(h, foreign, -EINVAL);
	expect_refused(h, 0, -EINVAL);
	expect_refused(h, -1, -EINVAL);
	EXPECT_EQ(usage(h2, foreign, PMC_COUNTER_MEMORY), 0);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
	expect_refused(h, g, -ESTALE);
	EXPECT_EQ(pmc_hierarchy_close(h2), 0);
}


/* ------------------------------------------------------------------ */
/* A close while a batch runs: the batch stops at its next lock.       */

/*
 * Record 0 charges g over its limit; its callback starts a close on
 * another thread and waits until the close has begun.  The record ends
 * (refused), then the batch stops before record 1, whatever its kind (each
 * kind notices the close where it takes a lock); the close waits for the
 * batch and succeeds.
 */
static void test_close_stops_a_replay(void)
{
	static const struct pmc_op second[] = {
		{ .op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .nr_pages = 1 },
		{ .op = PMC_OP_UNCHARGE, .nr_pages = 1 },
		{ .op = PMC_OP_DRAIN, .cpu = 0 },
		{ .op = PMC_OP_DRAIN_ALL },
	};

	for (unsigned int i = 0; i < sizeof(second) / sizeof(second[0]); i++) {
		int64_t h = new_hierarchy(cfg_v2(1)), g = child(h, 0, "g", 4);
		int64_t k = child(h, 0, "k", UNLIMITED), res[3], gid = id_of(h, g);
		struct pmc_op ops[3] = {
			{ .op = PMC_OP_CHARGE, .flags = GFP_KERNEL, .cgroup = g, .nr_pages = 5 },
			second[i],
			{ .op = PMC_OP_DRAIN, .cpu = 0 },
		};

		if (ops[1].op == PMC_OP_CHARGE || ops[1].op == PMC_OP_UNCHARGE)
			ops[1].cgroup = k;
		EXPECT_EQ(pmc_cgroup_try_charge(h, k, 1, 0, GFP_KERNEL, 0), 0);
		pmc_hierarchy_set_reclaim(h, 1);
		cb_reset(h, g, 0, CB_CLOSE_ELSEWHERE);
		EXPECT_EQ(replay(h, ops, 3, res), 1);
		EXPECT_EQ(res[0], gid);
		EXPECT_EQ(res[1], CANARY);
		EXPECT_TRUE(cb.closing);
		if (cb.closing)
			pthread_join(cb.closer, NULL);
		EXPECT_EQ(cb.close_ret, 0);
		EXPECT_EQ(pmc_cgroup_root(h), -ESTALE);
		EXPECT_EQ(pmc_hierarchy_replay(h, ops, 1, res), -ESTALE);
	}
}

/* ------------------------------------------------------------------ */
/* Presets' own paths.                                                 */

/* Linux 4.x-5.15 on v1: the kmem limit after the memory charge, no reclaim; __GFP_NOFAIL forces it. */
static void test_v1_enforced_kmem_limit(void)
{
	struct pmc_config cfg = cfg_v2(1);
	int64_t h, g;

	cfg.version = 1;
	cfg.memsw = 1;
	cfg.kmem_limit = PMC_KMEM_LIMIT_ENFORCED;
	cfg.kmem_uncharge_via_stock = 0;
	cfg.failcnt = PMC_FAILCNT_ALL;
	h = new_hierarchy(cfg);
	g = child(h, 0, "g", UNLIMITED);
	EXPECT_EQ(pmc_cgroup_set_max(h, g, PMC_COUNTER_KMEM, 3), 0);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 2, 0, GFP_KERNEL, 1), 0);
	/* Refused by the kmem counter: the memory charge is cancelled. */
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 2, 0, GFP_KERNEL, 1), g);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_KMEM), 2);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 2, 0, GFP_KERNEL | PMC_GFP_NOFAIL, 1), 0);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_KMEM), 4);
	/* GFP_ATOMIC over a memory limit: forced, a failure counted at each level over it. */
	{
		int64_t k = child(h, 0, "k", 3);
		struct pmc_page_counter_info pc;

		EXPECT_EQ(pmc_cgroup_try_charge(h, k, 5, 0, PMC_GFP_HIGH | PMC_GFP_KSWAPD_RECLAIM, 0), 0);
		memset(&pc, 0, sizeof(pc));
		EXPECT_EQ(pmc_cgroup_counter(h, k, PMC_COUNTER_MEMORY, &pc), 0);
		EXPECT_EQ(pc.usage, 5);
		/* The refusals of the batch and of the exact size, then the forced charge over it. */
		EXPECT_EQ(pc.failcnt, 3);
		EXPECT_EQ(pmc_cgroup_uncharge(h, k, 5, 0, 0), 0);
	}
	EXPECT_EQ(pmc_hierarchy_drain_all(h, 0), 0);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 4);
	EXPECT_EQ(pmc_cgroup_uncharge(h, g, 4, 0, 1), 0);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_KMEM), 0);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMSW), 0);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/* 3.8: single pages from the one-slot stock; a small charge retries while reclaim progresses. */
static void test_3_8_paths(void)
{
	int64_t h = new_hierarchy(cfg_3_8(1)), g = child(h, 0, "g", 10);
	int64_t u = child(h, 0, "u", UNLIMITED), ret;

	/* A page of u: a batch of 32 charged, 31 into the stock; the next page comes from it. */
	EXPECT_EQ(pmc_cgroup_try_charge(h, u, 1, 0, GFP_KERNEL, 0), 0);
	EXPECT_EQ(stocked(h, 0, u), 31);
	EXPECT_EQ(pmc_cgroup_try_charge(h, u, 1, 0, GFP_KERNEL, 0), 0);
	EXPECT_EQ(stocked(h, 0, u), 30);
	EXPECT_EQ(usage(h, u, PMC_COUNTER_MEMORY), 32);
	/* 10 pages of g, 2 of them reclaimable: 4 more never fit, 2 are freed on the way. */
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 10, 0, GFP_KERNEL, 0), 0);
	pmc_hierarchy_set_reclaim(h, 1);
	cb_reset(h, g, 2, CB_HONEST);
	ret = pmc_cgroup_try_charge(h, g, 4, 0, GFP_KERNEL, 0);
	EXPECT_TRUE(ret != 0);
	EXPECT_EQ(cb.cache, 0);
	EXPECT_TRUE(cb.calls >= 2);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 8);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/* ------------------------------------------------------------------ */
/* A task's kernel allocations: the selective accounting rule (SPEC 6). */

static int64_t kernel_pages(int64_t h, int64_t cg)
{
	struct pmc_cgroup_info info;

	memset(&info, 0, sizeof(info));
	return pmc_cgroup_info(h, cg, &info) ? -1 : info.stat[PMC_STAT_KERNEL];
}

static void test_task_kmem_charge(void)
{
	int64_t h = new_hierarchy(cfg_v2(1)), g = child(h, 0, "g", UNLIMITED);
	int64_t l = child(h, 0, "l", 10), t, u, r, over = CANARY;
	struct pmc_cgroup_info info;
	const uint32_t acct = GFP_KERNEL | PMC_GFP_ACCOUNT;

	t = pmc_task_fork(h, g, 0, 0, 0);
	EXPECT_TRUE(t > 0);
	/* The stack: a batch of 64, 60 left in the stock; 3 flagged pages: 57. */
	EXPECT_EQ(pmc_task_kmem_charge(h, t, 3, 0, acct, 0, &over), g);
	EXPECT_EQ(over, 0);
	EXPECT_EQ(stocked(h, 0, g), 57);
	EXPECT_EQ(kernel_pages(h, g), 4 + 3);
	/* The white list: unflagged, not charged; from a SLAB_ACCOUNT cache, charged. */
	EXPECT_EQ(pmc_task_kmem_charge(h, t, 3, 0, GFP_KERNEL, 0, NULL), 0);
	EXPECT_EQ(pmc_task_kmem_charge(h, t, 2, 0, GFP_KERNEL, PMC_KMEM_ACCOUNTED_CACHE, NULL), g);
	EXPECT_EQ(pmc_task_kmem_charge(h, t, 2, 0, acct, PMC_KMEM_INTERRUPT, NULL), 0);
	EXPECT_EQ(pmc_task_kmem_charge(h, t, 0, 0, acct, 0, NULL), 0);
	EXPECT_EQ(kernel_pages(h, g), 4 + 3 + 2);
	EXPECT_EQ(stocked(h, 0, g), 55);
	/* Bad arguments change nothing. */
	EXPECT_EQ(pmc_task_kmem_charge(h, t, -1, 0, acct, 0, NULL), -EINVAL);
	EXPECT_EQ(pmc_task_kmem_charge(h, t, PMC_PAGE_COUNTER_MAX + 1, 0, acct, 0, NULL), -EINVAL);
	EXPECT_EQ(pmc_task_kmem_charge(h, t, 1, 1, acct, 0, NULL), -EINVAL);
	EXPECT_EQ(pmc_task_kmem_charge(h, t, 1, 0, BAD_GFP, 0, NULL), -EINVAL);
	EXPECT_EQ(pmc_task_kmem_charge(h, t, 1, 0, acct, PMC_KMEM_FLAGS_ALL + 1, NULL), -EINVAL);
	EXPECT_EQ(pmc_task_kmem_charge(h, g, 1, 0, acct, 0, NULL), -EINVAL);    /* a cgroup */
	EXPECT_EQ(kernel_pages(h, g), 9);
	/* The root is never charged. */
	r = pmc_task_fork(h, pmc_cgroup_root(h), 0, 0, 0);
	EXPECT_EQ(pmc_task_kmem_charge(h, r, 5, 0, acct, 0, NULL), 0);
	/* At l's limit of 10 (4 stack pages, one at a time): NOWAIT fails, no reclaim, no event. */
	u = pmc_task_fork(h, l, 0, 0, 0);
	EXPECT_TRUE(u > 0);
	EXPECT_EQ(pmc_task_kmem_charge(h, u, 7, 0, GFP_NOWAIT | PMC_GFP_ACCOUNT, 0, &over), -ENOMEM);
	EXPECT_EQ(over, l);
	EXPECT_EQ(usage(h, l, PMC_COUNTER_MEMORY), 4);
	memset(&info, 0, sizeof(info));
	EXPECT_EQ(pmc_cgroup_info(h, l, &info), 0);
	EXPECT_EQ(info.events[PMC_EVENT_MAX], 0);
	/* What was charged belongs to no task: the caller gives it back. */
	EXPECT_EQ(pmc_cgroup_uncharge(h, g, 3, 0, 1), 0);
	EXPECT_EQ(pmc_cgroup_uncharge(h, g, 2, 0, 1), 0);
	EXPECT_EQ(kernel_pages(h, g), 4);
	EXPECT_EQ(pmc_task_exit(h, t, 0), 0);
	EXPECT_EQ(pmc_task_kmem_charge(h, t, 1, 0, acct, 0, NULL), -ESTALE);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
	EXPECT_EQ(pmc_task_kmem_charge(h, u, 1, 0, acct, 0, NULL), -ESTALE);

	/* 3.8's black list: nothing before the activation, then everything but NOFAIL. */
	h = new_hierarchy(cfg_3_8(1));
	g = child(h, 0, "g", UNLIMITED);
	l = child(h, 0, "l", UNLIMITED);
	t = pmc_task_fork(h, g, 0, 0, 0);
	EXPECT_EQ(pmc_task_kmem_charge(h, t, 2, 0, acct, 0, NULL), 0);
	EXPECT_EQ(pmc_cgroup_activate_kmem(h, l), 0);
	u = pmc_task_fork(h, l, 0, 0, 0);
	EXPECT_EQ(pmc_task_kmem_charge(h, u, 2, 0, GFP_KERNEL, 0, NULL), l);
	EXPECT_EQ(pmc_task_kmem_charge(h, u, 2, 0, GFP_KERNEL | PMC_GFP_NOFAIL, 0, NULL), 0);
	EXPECT_EQ(pmc_task_kmem_charge(h, u, 2, 0, GFP_KERNEL, PMC_KMEM_INTERRUPT, NULL), 0);
	/* The stack (kernel_stack_pages 0 here: the default, 4) and 2 pages. */
	EXPECT_EQ(usage(h, l, PMC_COUNTER_KMEM), 4 + 2);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_KMEM), 0);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/* ------------------------------------------------------------------ */
/* Sockets (csrc/sock.c).                                              */

static int64_t sock_pages(int64_t h, int64_t s)
{
	struct pmc_sock_info info;

	memset(&info, 0, sizeof(info));
	return pmc_sock_info(h, s, &info) ? -1 : info.pages;
}

/* v2: through the stock; a socket keeps its removed cgroup; stale, foreign and wrong-kind handles. */
static void test_sockets_v2(void)
{
	int64_t h = new_hierarchy(cfg_v2(1)), g = child(h, 0, "g", UNLIMITED), s, t, r;
	struct pmc_cgroup_info info;

	s = pmc_sock_create(h, g);
	EXPECT_TRUE(s > 0);
	/* 10 pages: a batch of 64 charged, 54 left in the stock. */
	EXPECT_EQ(pmc_sock_charge(h, s, 10, 0, GFP_KERNEL), 1);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 64);
	EXPECT_EQ(stocked(h, 0, g), 54);
	memset(&info, 0, sizeof(info));
	EXPECT_EQ(pmc_cgroup_info(h, g, &info), 0);
	EXPECT_EQ(info.stat[PMC_STAT_SOCK], 10);
	EXPECT_EQ(info.nr_sockets, 1);
	/* Uncharged into the stock: 54 + 4 = 58. */
	EXPECT_EQ(pmc_sock_uncharge(h, s, 4, 0), 0);
	EXPECT_EQ(stocked(h, 0, g), 58);
	EXPECT_EQ(pmc_sock_uncharge(h, s, 7, 0), -EINVAL);      /* holds 6 */
	EXPECT_EQ(sock_pages(h, s), 6);
	/* Removed: offline drains the stock (64 - 58 = 6); the socket keeps it dying. */
	EXPECT_EQ(pmc_cgroup_remove(h, g), 0);
	EXPECT_EQ(pmc_hierarchy_drain_all(h, 0), 0);
	EXPECT_EQ(pmc_cgroup_info(h, g, &info), 0);
	EXPECT_EQ(info.state, 2);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 6);
	/* Still charged: batch 64 -> 70, stock 63. */
	EXPECT_EQ(pmc_sock_charge(h, s, 1, 0, GFP_KERNEL), 1);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 70);
	/* The wrong kind: a task's handle to the socket calls, a socket's to the task calls. */
	t = pmc_task_fork(h, pmc_cgroup_root(h), 0, 0, 0);
	EXPECT_TRUE(t > 0);
	EXPECT_EQ(pmc_sock_charge(h, t, 1, 0, GFP_KERNEL), -EINVAL);
	EXPECT_TRUE(pmc_task_exit(h, s, 0) < 0);
	EXPECT_EQ(pmc_sock_charge(h, g, 1, 0, GFP_KERNEL), -EINVAL);
	EXPECT_EQ(pmc_sock_charge(h, 0, 1, 0, GFP_KERNEL), -EINVAL);
	EXPECT_EQ(pmc_sock_charge(h, s, 1, 1, GFP_KERNEL), -EINVAL);     /* cpu */
	EXPECT_EQ(pmc_sock_charge(h, s, 1, 0, BAD_GFP), -EINVAL);
	EXPECT_EQ(pmc_sock_charge(h, s, -1, 0, GFP_KERNEL), -EINVAL);
	EXPECT_EQ(pmc_sock_create(h, g), -ESTALE);                      /* dying */
	EXPECT_EQ(pmc_cgroup_tcpmem_active(h, pmc_cgroup_root(h), 1), -EINVAL);   /* v2 */
	/* Close: 7 pages into the stock, 63 + 7 = 70 > 64 drains it: freed. */
	EXPECT_EQ(pmc_sock_close(h, s, 0), 0);
	EXPECT_EQ(pmc_cgroup_info(h, g, &info), -ESTALE);
	EXPECT_EQ(usage(h, pmc_cgroup_root(h), PMC_COUNTER_MEMORY), 0);
	EXPECT_EQ(pmc_sock_close(h, s, 0), -ESTALE);
	EXPECT_EQ(pmc_sock_charge(h, s, 1, 0, GFP_KERNEL), -ESTALE);
	/* The root binds nothing; open sockets go with the hierarchy. */
	r = pmc_sock_create(h, pmc_cgroup_root(h));
	EXPECT_EQ(pmc_sock_charge(h, r, 5, 0, GFP_KERNEL), 1);
	EXPECT_EQ(usage(h, pmc_cgroup_root(h), PMC_COUNTER_MEMORY), 0);
	EXPECT_TRUE(pmc_sock_create(h, child(h, 0, "open", UNLIMITED)) > 0);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
	EXPECT_EQ(pmc_sock_charge(h, r, 1, 0, GFP_KERNEL), -ESTALE);
}

/* v1: tcpmem only, activation, pressure; 3.x's res_counter charge. */
static void test_sockets_v1(void)
{
	struct pmc_config cfg = cfg_3_8(1);
	struct pmc_page_counter_info pc;
	struct pmc_cgroup_info info;
	int64_t h, g, s;

	cfg.tcpmem_counter = PMC_TCPMEM_RES_COUNTER;
	h = new_hierarchy(cfg);
	g = child(h, 0, "g", UNLIMITED);
	EXPECT_EQ(pmc_sock_charge(h, pmc_sock_create(h, g), 3, 0, GFP_KERNEL), 1);   /* not bound */
	EXPECT_EQ(usage(h, g, PMC_COUNTER_TCPMEM), 0);
	EXPECT_EQ(pmc_cgroup_set_max(h, g, PMC_COUNTER_TCPMEM, 2), 0);
	EXPECT_EQ(pmc_cgroup_tcpmem_active(h, g, 1), 1);
	s = pmc_sock_create(h, g);
	EXPECT_EQ(pmc_sock_charge(h, s, 2, 0, GFP_KERNEL), 1);
	EXPECT_EQ(pmc_sock_charge(h, s, 1, 0, GFP_KERNEL), 0);
	memset(&pc, 0, sizeof(pc));
	EXPECT_EQ(pmc_cgroup_counter(h, g, PMC_COUNTER_TCPMEM, &pc), 0);
	/* res_counter_charge_nofail: 3 > 2 counted and seen by max_usage, then taken back. */
	EXPECT_EQ(pc.usage, 2);
	EXPECT_EQ(pc.failcnt, 1);
	EXPECT_EQ(pc.watermark, 3);
	memset(&info, 0, sizeof(info));
	EXPECT_EQ(pmc_cgroup_info(h, g, &info), 0);
	EXPECT_EQ(info.tcpmem_pressure, 1);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 0);
	EXPECT_EQ(pmc_sock_charge(h, s, 1, 0, GFP_KERNEL | PMC_GFP_NOFAIL), 1);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_TCPMEM), 3);
	EXPECT_EQ(pmc_sock_close(h, s, 0), 0);
	EXPECT_EQ(usage(h, g, PMC_COUNTER_TCPMEM), 0);
	EXPECT_EQ(pmc_cgroup_tcpmem_active(h, g, 2), -EINVAL);
	EXPECT_EQ(pmc_cgroup_tcpmem_active(h, g, -1), 1);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/* Threads charge and uncharge their sockets while another closes one of them. */
struct sock_thread {
	int64_t h, s;
	int cpu;
};

static void *sock_worker(void *arg)
{
	struct sock_thread *st = arg;

	for (int i = 0; i < 2000; i++) {
		int64_t r = pmc_sock_charge(st->h, st->s, 1 + i % 3, st->cpu, GFP_KERNEL);

		if (r == 1)
			pmc_sock_uncharge(st->h, st->s, 1 + i % 3, st->cpu);
		else if (r == -ESTALE)
			break;          /* closed by the other thread */
	}
	return NULL;
}

static void test_sockets_threads(void)
{
	int64_t h = new_hierarchy(cfg_v2(3)), g = child(h, 0, "g", UNLIMITED);
	struct sock_thread st[2];
	pthread_t th[2];

	for (int i = 0; i < 2; i++) {
		st[i] = (struct sock_thread){ .h = h, .s = pmc_sock_create(h, g), .cpu = i };
		EXPECT_EQ(pthread_create(&th[i], NULL, sock_worker, &st[i]), 0);
	}
	/* A close racing with charges: what the closed socket held goes back. */
	sched_yield();
	EXPECT_EQ(pmc_sock_close(h, st[1].s, 2), 0);
	EXPECT_EQ(pmc_cgroup_remove(h, g), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	EXPECT_EQ(sock_pages(h, st[0].s), 0);
	EXPECT_EQ(pmc_sock_close(h, st[0].s, 0), 0);
	EXPECT_EQ(pmc_hierarchy_drain_all(h, 0), 0);
	EXPECT_EQ(usage(h, pmc_cgroup_root(h), PMC_COUNTER_MEMORY), 0);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
}

/* ------------------------------------------------------------------ */
/* Arguments the Python layer checks first: the C API refuses them too. */

static void test_bad_arguments(void)
{
	struct pmc_config bad[15];
	int64_t h = new_hierarchy(cfg_v2(2)), g = child(h, 0, "g", UNLIMITED), out[4], st[2];
	struct pmc_page_counter_info pc;
	struct pmc_cgroup_entry entries[4];
	char names[1];
	/* (names = NULL with names_cap 0 is undefined behaviour in the core: reported.) */
	struct pmc_cgroup_list list = { .entries = entries, .cap = -5, .names = names,
					.names_cap = -5 };
	char name[4200];
	uint8_t levels[8];
	uint64_t pages[16];
	int64_t cached[16];
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		bad[i] = cfg_v2(1);
	bad[0].version = 3;
	bad[1].ncpus = 0;
	bad[2].ncpus = 1025;
	bad[3].charge_batch = 0;
	bad[4].reclaim_retries = -1;
	bad[5].stock_slots = 0;
	bad[6].stock_slots = 17;
	bad[7].kmem_limit = PMC_KMEM_LIMIT_EOPNOTSUPP + 1;
	bad[8].failcnt = -1;
	bad[9].hz = -1;
	bad[10].stock_refill_cap = 0;           /* the uncapped stock has one slot */
	bad[11].charge_batch = PMC_PAGE_COUNTER_MAX + 1;
	bad[12].id_errno = EPERM;               /* ids run out with ENOSPC or EBUSY only */
	bad[13].kernel_stack_pages = -1;
	bad[14].kmem_accounting = PMC_KMEM_ACCOUNTING_BLACKLIST + 1;
#ifdef PMC_CHARGE_LOOP_38
	bad[0].charge_loop = 7;
	bad[0].version = 2;
#endif
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(pmc_hierarchy_new(&bad[i]), -EINVAL);

	/* Names: as mkdir has them (kernfs: up to PATH_MAX - 1 bytes); nothing is created. */
	memset(name, 'n', sizeof(name));
	name[4096] = '\0';
	EXPECT_EQ(pmc_cgroup_create(h, g, name), -ENAMETOOLONG);
	name[4095] = '\0';
	EXPECT_TRUE(pmc_cgroup_create(h, g, name) > 0);
	EXPECT_EQ(pmc_cgroup_create(h, g, ""), -EINVAL);
	EXPECT_EQ(pmc_cgroup_create(h, g, "a/b"), -EINVAL);
	EXPECT_EQ(pmc_cgroup_create(h, g, "a\nb"), -EINVAL);
	EXPECT_TRUE(pmc_cgroup_create(h, g, ".") < 0);
	EXPECT_TRUE(pmc_cgroup_create(h, g, "..") < 0);
	EXPECT_EQ(pmc_cgroup_create(h, g, name), -EEXIST);
	EXPECT_EQ(pmc_cgroup_children(h, g, out, 4), 1);
	EXPECT_EQ(pmc_cgroup_children(h, g, out, 0), 1);        /* the count, nothing written */
	EXPECT_EQ(pmc_cgroup_children(h, pmc_cgroup_root(h), out, 4), 1);
	EXPECT_EQ(out[0], g);

	/* Counters, events, resets, listings, CPUs, counts out of range. */
	EXPECT_EQ(pmc_cgroup_counter(h, g, 2, &pc), -EINVAL);   /* v2: memory and swap only */
	EXPECT_EQ(pmc_cgroup_counter(h, g, -1, &pc), -EINVAL);
	EXPECT_EQ(pmc_cgroup_set_max(h, g, 2, 1), -EINVAL);
	EXPECT_EQ(pmc_cgroup_set_max(h, g, PMC_COUNTER_MEMORY, -1), -EINVAL);
	EXPECT_EQ(pmc_cgroup_set_high(h, g, PMC_COUNTER_MEMORY, PMC_PAGE_COUNTER_MAX + 1), -EINVAL);
	EXPECT_EQ(pmc_cgroup_reset(h, g, PMC_COUNTER_MEMORY, 3), -EINVAL);
	EXPECT_EQ(pmc_cgroup_reset(h, g, PMC_COUNTER_MEMORY, -1), -EINVAL);
	EXPECT_EQ(pmc_cgroup_event(h, g, PMC_NR_EVENTS), -EINVAL);
	EXPECT_EQ(pmc_cgroup_event(h, g, -1), -EINVAL);
	EXPECT_EQ(pmc_cgroup_list(h, g, 3, &list), -EINVAL);
	EXPECT_EQ(pmc_cgroup_list(h, g, PMC_LIST_LINEAGE, &list), 0);
	EXPECT_EQ(list.count, 2);                               /* the root, g: nothing written */
	EXPECT_EQ(list.cap, 0);
	EXPECT_EQ(pmc_cgroup_stat(h, g, 0, st, 2), PMC_NR_STATS);
	EXPECT_EQ(pmc_hierarchy_stock_list(h, 2, cached, pages, 16, NULL), -EINVAL);
	EXPECT_EQ(pmc_hierarchy_stock_list(h, -1, cached, pages, 16, NULL), -EINVAL);
	EXPECT_EQ(pmc_hierarchy_stock(h, 2, cached, pages, 16), -EINVAL);
	EXPECT_EQ(pmc_hierarchy_drain(h, 2), -EINVAL);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 1, 2, GFP_KERNEL, 0), -EINVAL);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, 1, 0, BAD_GFP, 0), -EINVAL);
	EXPECT_EQ(pmc_cgroup_try_charge(h, g, -1, 0, GFP_KERNEL, 0), -EINVAL);
	EXPECT_EQ(pmc_cgroup_uncharge(h, g, PMC_PAGE_COUNTER_MAX + 1, 0, 0), -EINVAL);
	EXPECT_EQ(pmc_cgroup_uncharge_levels(h, g, 1, 0, 0, levels, -1), -EINVAL);
	EXPECT_EQ(pmc_cgroup_uncharge_levels(h, g, -1, 0, 0, levels, 2), -EINVAL);
	EXPECT_EQ(pmc_cgroup_by_id(h, 0), -ENOENT);
	EXPECT_EQ(pmc_cgroup_by_id(h, 65536), -ENOENT);
	EXPECT_EQ(pmc_cgroup_by_id(h, id_of(h, g)), g);
#ifdef PMC_TUNABLE_SWAPPINESS
	EXPECT_EQ(pmc_cgroup_tunable(h, g, PMC_TUNABLE_OOM_KILL_DISABLE, 2), -EINVAL);
	EXPECT_EQ(pmc_cgroup_tunable(h, g, PMC_TUNABLE_SWAPPINESS, 201), -EINVAL);
	EXPECT_EQ(pmc_cgroup_tunable(h, g, -1, 0), -EINVAL);
#endif
	EXPECT_EQ(usage(h, g, PMC_COUNTER_MEMORY), 0);

	/* Hierarchy handles that never were: a slot past the registry's chunks. */
	EXPECT_EQ(pmc_cgroup_root(((int64_t)1 << 32) | 60000), -ESTALE);
	EXPECT_EQ(pmc_cgroup_root(((int64_t)2 << 32) | 0), -ESTALE);    /* an even generation */
	EXPECT_EQ(pmc_cgroup_root(-1), -ESTALE);
	EXPECT_EQ(pmc_hierarchy_close(h), 0);
	EXPECT_EQ(pmc_cgroup_by_id(h, 1), -ESTALE);
	EXPECT_EQ(pmc_hierarchy_cgroups(h, out, 4), -ESTALE);
	EXPECT_EQ(pmc_hierarchy_stock_list(h, 0, cached, pages, 16, NULL), -ESTALE);
	/* Standalone counters: stale and bad counts in uncharge_levels. */
	{
		int64_t c = pmc_page_counter_new(0, 10, 0, 0);

		EXPECT_TRUE(c > 0);
		EXPECT_EQ(pmc_page_counter_uncharge_levels(c, -1, levels, 2), -EINVAL);
		EXPECT_EQ(pmc_page_counter_uncharge_levels(c, 1, levels, -1), -EINVAL);
		EXPECT_EQ(pmc_page_counter_put(c), 0);
		EXPECT_EQ(pmc_page_counter_uncharge_levels(c, 1, levels, 2), -ESTALE);
	}
}

/* ------------------------------------------------------------------ */
/* The benchmark entry points (csrc/bench*.c), briefly.                */

static void test_bench_entry_points(void)
{
	struct pmc_bench_result r;
	struct pmc_config cfg = cfg_v2(2);

	EXPECT_EQ(pmc_bench_nop_try_charge(1, 1), 0);
	EXPECT_EQ(pmc_bench_nop_uncharge(1, 1), 0);
	EXPECT_EQ(pmc_bench_atomic_add(0, &r), -EINVAL);
	EXPECT_EQ(pmc_bench_atomic_add(100, NULL), -EINVAL);
	memset(&r, 0, sizeof(r));
	EXPECT_EQ(pmc_bench_atomic_add(2000, &r), 0);
	EXPECT_TRUE(r.ops_per_thread == 2000 && r.total_ops == 2000 && r.seconds >= 0);
	EXPECT_EQ(pmc_bench_atomic_add(1000000, &r), 0);       /* the longest warm-up */
	EXPECT_TRUE(r.ns_per_op > 0);
	EXPECT_EQ(pmc_bench_page_counter_pair(0, 1, 0, 100, &r), -EINVAL);
	EXPECT_EQ(pmc_bench_page_counter_pair(2, 0, 0, 100, &r), -EINVAL);
	EXPECT_EQ(pmc_bench_page_counter_pair(2, 1, 0, 0, &r), -EINVAL);
	for (int depth = 1; depth <= 3; depth += 2) {
		for (int shared = 0; shared < 2; shared++) {
			memset(&r, 0, sizeof(r));
			EXPECT_EQ(pmc_bench_page_counter_pair(depth, 2, shared, 2000, &r), 0);
			EXPECT_TRUE(r.ops_per_thread == 2000 && r.total_ops == 4000);
		}
	}
	EXPECT_EQ(pmc_bench_memcg(&cfg, 0, 1, PMC_BENCH_STOCK_HIT, 100, &r), -EINVAL);
	EXPECT_EQ(pmc_bench_memcg(&cfg, 2, 3, PMC_BENCH_STOCK_HIT, 100, &r), -EINVAL);
	EXPECT_EQ(pmc_bench_memcg(&cfg, 2, 1, 0, 100, &r), -EINVAL);
	EXPECT_EQ(pmc_bench_memcg(&cfg, 2, 1, PMC_BENCH_OWNED_KMEM + 1, 100, &r), -EINVAL);
	EXPECT_EQ(pmc_bench_memcg(&cfg, 2, 1, PMC_BENCH_STOCK_HIT, 0, &r), -EINVAL);
	for (int mode = PMC_BENCH_STOCK_HIT; mode <= PMC_BENCH_REPLAY_HIT; mode++) {
		memset(&r, 0, sizeof(r));
		EXPECT_EQ(pmc_bench_memcg(&cfg, 2, 2, mode, 3000, &r), 0);
		EXPECT_TRUE(r.ops_per_thread == 3000 && r.total_ops == 6000);
	}
	cfg.version = 0;
	EXPECT_EQ(pmc_bench_memcg(&cfg, 2, 1, PMC_BENCH_STOCK_HIT, 100, &r), -EINVAL);
}

/* ------------------------------------------------------------------ */

int main(void)
{
	pmc_set_reclaim_callback(reclaim_cb);

	test_honest_reclaim_makes_room();
	test_liar_is_not_believed();
	test_failing_callback_cancels_the_charge();
	test_failing_callback_with_kmem_first();
	test_callback_removes_the_charged_cgroup();
	test_callback_calls_the_api();
	test_reclaim_is_per_hierarchy();
	test_high_reclaim_with_nothing_to_free();
	test_high_reclaim_frees();
	test_high_reclaim_hook_failure();
	test_replay_drain_records();
	test_replay_bad_records();
	test_replay_stops_after_a_failed_callback();
	test_replay_misaligned_buffers();
	test_replay_long_batches_and_frees();
	test_stale_foreign_and_zero_handles();
	test_close_stops_a_replay();
	test_v1_enforced_kmem_limit();
	test_3_8_paths();
	test_task_kmem_charge();
	test_sockets_v2();
	test_sockets_v1();
	test_sockets_threads();
	test_bad_arguments();
	test_bench_entry_points();

	if (n_known)
		printf("test_memcg: %lu known bugs reported (KNOWN BUG above)\n", n_known);
	printf("%lu passed, %lu failed\n", n_passed, n_failed);
	return n_failed ? 1 : 0;
}
