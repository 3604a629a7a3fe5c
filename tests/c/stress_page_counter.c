/*
 * stress_page_counter.c - concurrent charges on one shared counter tree.
 *
 *   stress_page_counter [threads [ops_per_thread [seed]]]
 *
 * Tree (index: max):
 *
 *                 0 root: 100
 *            /                 \
 *       1: 60                   2: 60
 *      /      \                /      \
 *   3: 35    4: 35          5: 35    6: 35
 *
 * Each worker charges (try_charge, and rarely a forced charge) random
 * counters and uncharges only what its own ledger says it charged, so no
 * level may ever underflow (every uncharge mask must be 0).  Every
 * CHECK_EVERY operations all workers meet at a barrier, and one of them
 * checks, with nothing in flight, that each counter's usage equals what the
 * ledgers hold at it and below it, that the try_charged part of it is
 * within max, and that every parent's children_{min,low}_usage equals the
 * sum of its children's claims.  Meanwhile a monitor thread keeps reading
 * every usage and checks it is never negative and never above
 *   max + threads * MAX_CHARGE (speculative adds in flight)
 *       + threads * FORCED_CAP (forced pages outstanding).
 * That bound follows from the modification order of each usage alone: a
 * try_charge keeps its pages only if usage <= max right after its add, so
 * the pages kept by successful try_charges never exceed max; each thread
 * has at most one refused add in flight and at most FORCED_CAP forced pages
 * charged (a per-thread cap, so the bound needs no cross-variable memory
 * ordering; ThreadSanitizer does not support fences).  The global count of
 * forced pages outstanding is still kept, and must be 0 at the end.
 * At the end the workers drain their ledgers and every counter must be 0.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_counter.h"
#include "stress.h"

#define NC 7
#define MAX_CHARGE 8            /* try_charge sizes 1..MAX_CHARGE */
#define FORCED_MAX 3            /* forced charge sizes 1..FORCED_MAX */
#define FORCED_CAP 6            /* forced pages one thread may hold */
#define CHECK_EVERY 500         /* operations between quiescent checks */
#define MAX_THREADS 64

static const int parent_of[NC] = { -1, 0, 0, 1, 1, 2, 2 };
static const int depth_of[NC] = { 0, 1, 1, 2, 2, 2, 2 };
static const unsigned long max_of[NC] = { 100, 60, 60, 35, 35, 35, 35 };
/* Which counters support protection (6 does not: mixed flags). */
static const bool prot_of[NC] = { true, true, true, true, true, true, false };

static struct page_counter pcs[NC];

static int nthreads = 4;
static long ops_per_thread = 200000;
static uint64_t seed = 1;

static pthread_barrier_t barrier;
static atomic_bool stop_monitor;
/* Forced pages: ever charged, and released (after their uncharge). */
static _Atomic unsigned long forced_ever, forced_released;

/* ------------------------------------------------------------------ */

static int idx_of(const struct page_counter *c)
{
	return (int)(c - pcs);
}

static bool is_ancestor_or_self(int anc, int d)
{
	for (; d >= 0; d = parent_of[d])
		if (d == anc)
			return true;
	return false;
}

struct worker {
	pthread_t tid;
	int id;
	uint64_t rng;
	/* The ledger: pages this thread holds charged directly to each counter. */
	unsigned long normal[NC];
	unsigned long forced[NC];
	unsigned long forced_total;     /* sum of forced[], at most FORCED_CAP */
	unsigned long fails_at[NC];
	unsigned long tries, successes, forced_charges, uncharges, setters;
	struct checks ck;
	char pad[64];
};

static struct worker workers[MAX_THREADS];

/* leaves 60%, middle 30%, root 10% */
static int pick_counter(uint64_t *rng)
{
	unsigned int r = (unsigned int)(rnd(rng) % 100);

	if (r < 60)
		return 3 + (int)(r % 4);
	if (r < 90)
		return 1 + (int)(r % 2);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Checks with nothing in flight (called by one thread at a barrier).   */

static void quiescent_check(struct checks *ck, bool final)
{
	unsigned long held[NC] = { 0 }, held_normal[NC] = { 0 }, fails[NC] = { 0 };
	unsigned long cmu[NC] = { 0 }, clu[NC] = { 0 };
	int t, c, d;

	for (t = 0; t < nthreads; t++) {
		for (d = 0; d < NC; d++) {
			fails[d] += workers[t].fails_at[d];
			for (c = 0; c < NC; c++) {
				if (!is_ancestor_or_self(c, d))
					continue;
				held[c] += workers[t].normal[d] + workers[t].forced[d];
				held_normal[c] += workers[t].normal[d];
			}
		}
	}
	for (c = 1; c < NC; c++) {
		cmu[parent_of[c]] += atomic_load(&pcs[c].min_usage);
		clu[parent_of[c]] += atomic_load(&pcs[c].low_usage);
	}

	for (c = 0; c < NC; c++) {
		unsigned long usage = page_counter_read(&pcs[c]);
		unsigned long failcnt = atomic_load(&pcs[c].failcnt);

		CHECK(ck, usage == held[c], "counter %d usage %lu, ledgers hold %lu", c,
		      usage, held[c]);
		/* What try_charge committed never exceeds max. */
		CHECK(ck, held_normal[c] <= max_of[c],
		      "counter %d: %lu try_charged pages above max %lu", c, held_normal[c],
		      max_of[c]);
		CHECK(ck, atomic_load(&pcs[c].max) == max_of[c], "counter %d max %lu", c,
		      (unsigned long)atomic_load(&pcs[c].max));
		/* Deltas published with exchange: the sums are exact. */
		CHECK(ck, atomic_load(&pcs[c].children_min_usage) == cmu[c],
		      "counter %d children_min_usage %lu, children claim %lu", c,
		      (unsigned long)atomic_load(&pcs[c].children_min_usage), cmu[c]);
		CHECK(ck, atomic_load(&pcs[c].children_low_usage) == clu[c],
		      "counter %d children_low_usage %lu, children claim %lu", c,
		      (unsigned long)atomic_load(&pcs[c].children_low_usage), clu[c]);
		/* failcnt is racy (lost increments allowed), never invented. */
		CHECK(ck, failcnt <= fails[c], "counter %d failcnt %lu > %lu refusals", c,
		      failcnt, fails[c]);
		CHECK(ck, fails[c] == 0 || failcnt > 0,
		      "counter %d failcnt 0 after %lu refusals", c, fails[c]);
		CHECK(ck, atomic_load(&pcs[c].watermark) <= max_of[c] + (unsigned long)
		      nthreads * (MAX_CHARGE + FORCED_CAP),
		      "counter %d watermark %lu", c,
		      (unsigned long)atomic_load(&pcs[c].watermark));
		if (final)
			CHECK(ck, usage == 0, "counter %d usage %lu at the end", c, usage);
	}
}

/* ------------------------------------------------------------------ */

static void do_uncharge(struct worker *w, int c, unsigned long n, bool forced)
{
	uint64_t mask = page_counter_uncharge(&pcs[c], n);

	CHECK(&w->ck, mask == 0, "uncharge(%d, %lu) underflowed: mask %#" PRIx64, c, n,
	      mask);
	w->uncharges++;
	if (forced) {
		w->forced[c] -= n;
		w->forced_total -= n;
		atomic_fetch_add(&forced_released, n);
	} else {
		w->normal[c] -= n;
	}
}

static void one_op(struct worker *w)
{
	unsigned int r = (unsigned int)(rnd(&w->rng) % 1000);
	int c;

	if (r < 450) {
		struct page_counter *fail = NULL;
		unsigned long n = 1 + rnd(&w->rng) % MAX_CHARGE;

		c = pick_counter(&w->rng);
		w->tries++;
		if (page_counter_try_charge(&pcs[c], n, &fail)) {
			w->normal[c] += n;
			w->successes++;
		} else {
			int f = fail ? idx_of(fail) : -1;

			CHECK(&w->ck, f >= 0 && f < NC && is_ancestor_or_self(f, c),
			      "try_charge(%d, %lu) failed at %d", c, n, f);
			if (f >= 0 && f < NC)
				w->fails_at[f]++;
		}
	} else if (r < 475) {
		unsigned long n = 1 + rnd(&w->rng) % FORCED_MAX;

		c = pick_counter(&w->rng);
		if (w->forced_total + n > FORCED_CAP)
			return;
		atomic_fetch_add(&forced_ever, n);
		page_counter_charge(&pcs[c], n);
		w->forced[c] += n;
		w->forced_total += n;
		w->forced_charges++;
	} else if (r < 480 && w->id == 0) {
		/* Setters are serialised by the caller: only worker 0 calls them. */
		unsigned long v = rnd(&w->rng) % 50;

		c = 1 + (int)(rnd(&w->rng) % (NC - 1));
		if (rnd(&w->rng) & 1)
			page_counter_set_min(&pcs[c], v);
		else
			page_counter_set_low(&pcs[c], v);
		w->setters++;
	} else {
		int start = (int)(rnd(&w->rng) % NC), i;

		for (i = 0; i < NC; i++) {
			c = (start + i) % NC;
			if (w->normal[c] + w->forced[c])
				break;
		}
		if (i == NC)
			return;
		if (w->forced[c] && (!w->normal[c] || (rnd(&w->rng) & 1))) {
			do_uncharge(w, c, 1 + rnd(&w->rng) % w->forced[c], true);
		} else {
			unsigned long cap = w->normal[c] < 2 * MAX_CHARGE ? w->normal[c]
									 : 2 * MAX_CHARGE;

			do_uncharge(w, c, 1 + rnd(&w->rng) % cap, false);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	long i;
	int c, ret;

	for (i = 0; i < ops_per_thread; i++) {
		one_op(w);
		if ((i + 1) % CHECK_EVERY == 0) {
			ret = pthread_barrier_wait(&barrier);
			if (ret == PTHREAD_BARRIER_SERIAL_THREAD)
				quiescent_check(&w->ck, false);
			pthread_barrier_wait(&barrier);
		}
	}
	/* Drain the ledger, in several pieces per counter. */
	for (c = NC - 1; c >= 0; c--) {
		while (w->forced[c])
			do_uncharge(w, c, 1 + rnd(&w->rng) % w->forced[c], true);
		while (w->normal[c])
			do_uncharge(w, c, 1 + rnd(&w->rng) % w->normal[c], false);
	}
	ret = pthread_barrier_wait(&barrier);
	if (ret == PTHREAD_BARRIER_SERIAL_THREAD)
		quiescent_check(&w->ck, true);
	pthread_barrier_wait(&barrier);
	return NULL;
}

/* ------------------------------------------------------------------ */

struct monitor {
	pthread_t tid;
	struct checks ck;
	unsigned long rounds;
	unsigned long peak_over[NC];    /* largest usage - max seen */
};

static void *monitor_main(void *arg)
{
	struct monitor *m = arg;
	const unsigned long slack = (unsigned long)nthreads * (MAX_CHARGE + FORCED_CAP);

	while (!atomic_load(&stop_monitor)) {
		unsigned long usage[NC], forced_out;
		int c;

		for (c = 0; c < NC; c++)
			usage[c] = page_counter_read(&pcs[c]);
		/* Only reported: not ordered with the usage reads. */
		forced_out = atomic_load(&forced_ever) - atomic_load(&forced_released);

		for (c = 0; c < NC; c++) {
			unsigned long bound = max_of[c] + slack;

			CHECK(&m->ck, (long)usage[c] >= 0, "counter %d usage %ld is negative", c,
			      (long)usage[c]);
			CHECK(&m->ck, usage[c] <= bound,
			      "counter %d usage %lu above bound %lu (max %lu, about %lu forced "
			      "pages out)", c, usage[c], bound, max_of[c], forced_out);
			if (usage[c] > max_of[c] && usage[c] - max_of[c] > m->peak_over[c])
				m->peak_over[c] = usage[c] - max_of[c];
		}
		m->rounds++;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	struct monitor mon;
	struct checks total = { 0, 0 };
	unsigned long fails[NC] = { 0 }, fails_depth[3] = { 0 }, over_depth[3] = { 0 };
	unsigned long tries = 0, successes = 0, forced = 0, uncharges = 0, setters = 0;
	int c, t;

	stress_args(argc, argv, MAX_THREADS, &nthreads, &ops_per_thread, &seed);

	for (c = 0; c < NC; c++) {
		memset(&pcs[c], 0, sizeof(pcs[c]));
		page_counter_init(&pcs[c], parent_of[c] < 0 ? NULL : &pcs[parent_of[c]],
				  prot_of[c]);
		pcs[c].track_failcnt = true;
		if (page_counter_set_max(&pcs[c], max_of[c])) {
			fprintf(stderr, "set_max(%d) failed\n", c);
			return 1;
		}
	}
	/* Some protection, so that charges propagate claims concurrently. */
	page_counter_set_min(&pcs[1], 30);
	page_counter_set_low(&pcs[2], 30);
	page_counter_set_min(&pcs[3], 10);
	page_counter_set_low(&pcs[4], 10);
	page_counter_set_min(&pcs[5], 20);
	page_counter_set_low(&pcs[5], 5);
	page_counter_set_min(&pcs[6], 15);

	if (pthread_barrier_init(&barrier, NULL, (unsigned int)nthreads)) {
		perror("pthread_barrier_init");
		return 1;
	}
	memset(&mon, 0, sizeof(mon));
	if (pthread_create(&mon.tid, NULL, monitor_main, &mon)) {
		perror("pthread_create");
		return 1;
	}
	for (t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];

		w->id = t;
		w->rng = seed * 0x100000001b3ULL + (uint64_t)t * 0x9e3779b97f4a7c15ULL + 1;
		if (pthread_create(&w->tid, NULL, worker_main, w)) {
			perror("pthread_create");
			return 1;
		}
	}
	for (t = 0; t < nthreads; t++)
		pthread_join(workers[t].tid, NULL);
	atomic_store(&stop_monitor, true);
	pthread_join(mon.tid, NULL);
	pthread_barrier_destroy(&barrier);

	for (t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];

		total.passed += w->ck.passed;
		total.failed += w->ck.failed;
		tries += w->tries;
		successes += w->successes;
		forced += w->forced_charges;
		uncharges += w->uncharges;
		setters += w->setters;
		for (c = 0; c < NC; c++)
			fails[c] += w->fails_at[c];
	}
	total.passed += mon.ck.passed;
	total.failed += mon.ck.failed;
	for (c = 0; c < NC; c++) {
		fails_depth[depth_of[c]] += fails[c];
		if (mon.peak_over[c] > over_depth[depth_of[c]])
			over_depth[depth_of[c]] = mon.peak_over[c];
	}

	/* The tree must have been stressed at every level. */
	if (ops_per_thread * nthreads >= 20000) {
		int dep;

		for (dep = 0; dep < 3; dep++)
			CHECK(&total, fails_depth[dep] > 0, "no try_charge refused at depth %d",
			      dep);
		CHECK(&total, successes > 0, "no try_charge succeeded");
	}
	CHECK(&total, atomic_load(&forced_ever) == atomic_load(&forced_released),
	      "forced pages %lu charged, %lu released",
	      (unsigned long)atomic_load(&forced_ever),
	      (unsigned long)atomic_load(&forced_released));

	printf("stress: %d threads x %ld ops, seed %" PRIu64 ": try_charge %lu (ok %lu), "
	       "refused at depth 0/1/2: %lu/%lu/%lu, forced %lu, uncharge %lu, setters %lu, "
	       "monitor rounds %lu, largest usage - max seen at depth 0/1/2: %lu/%lu/%lu\n",
	       nthreads, ops_per_thread, seed, tries, successes, fails_depth[0],
	       fails_depth[1], fails_depth[2], forced, uncharges, setters, mon.rounds,
	       over_depth[0], over_depth[1], over_depth[2]);
	printf("%lu passed, %lu failed\n", total.passed, total.failed);
	return total.failed ? 1 : 0;
}
