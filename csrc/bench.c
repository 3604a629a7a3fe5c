/*
 * bench.c - timed loops for microbenchmarks, run on pthreads.
 *
 * Everything timed here runs in C: Python only starts a run and reads the
 * result, so the CFFI crossing is paid once per run, not per operation.
 *
 * Nothing is pinned: the machines this runs on are small and shared, and
 * a pinned thread on a busy CPU is worse than a migrating one.  Every run
 * warms up first (page faults, branch predictors, frequency) and the
 * harness takes the median of several runs.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L          /* clock_gettime, sched_yield */
#endif

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "page_counter.h"
#include "pymemcg.h"

/*
 * The floor of a Python call into the core: functions with the signatures
 * of try_charge and uncharge that do nothing.  noinline and the empty asm
 * keep the compiler from reducing them to less than a real call.
 */
__attribute__((noinline)) int64_t pmc_bench_nop_try_charge(int64_t counter, int64_t nr_pages)
{
	__asm__ volatile("" ::: "memory");
	(void)counter;
	(void)nr_pages;
	return 0;
}

__attribute__((noinline)) int64_t pmc_bench_nop_uncharge(int64_t counter, int64_t nr_pages)
{
	__asm__ volatile("" ::: "memory");
	(void)counter;
	(void)nr_pages;
	return 0;
}

/* Warm-up: a tenth of the run, at least 1k and at most 64k operations. */
#define BENCH_WARMUP_MIN 1000u
#define BENCH_WARMUP_MAX 65536u

uint64_t warmup_iters(uint64_t iters)
{
	uint64_t w = iters / 10;

	if (w < BENCH_WARMUP_MIN)
		w = BENCH_WARMUP_MIN;
	if (w > BENCH_WARMUP_MAX)
		w = BENCH_WARMUP_MAX;
	return w;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Hide a pointer's target from the optimiser: it may be read or written here. */
static inline void escape(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#else
	__asm__ volatile("" ::: "memory");
#endif
}

static void fill_result(struct pmc_bench_result *out, uint64_t ns, uint64_t iters,
			int nthreads)
{
	out->seconds = (double)ns * 1e-9;
	out->ns_per_op = (double)ns / (double)iters;
	out->ops_per_thread = iters;
	out->total_ops = iters * (uint64_t)nthreads;
}

/* --- baseline: a bare relaxed atomic add ------------------------------- */

/*
 * The fetch_add results are summed into a sink so that the compiler emits
 * the same instruction the counters use (lock xadd on x86, not lock add);
 * the adds stay independent of each other.  The variable is private to
 * this call but escapes through escape(), so no optimiser may turn the
 * atomics into plain arithmetic.
 */
static uint64_t atomic_add_loop(_Atomic uint64_t *v, uint64_t iters)
{
	uint64_t sink = 0;

	for (uint64_t i = 0; i < iters; i++)
		sink += atomic_fetch_add_explicit(v, 1, memory_order_relaxed);
	return sink;
}

int64_t pmc_bench_atomic_add(uint64_t iters, struct pmc_bench_result *out)
{
	/* Padded to a whole line: nothing else on the stack shares it. */
	struct {
		_Alignas(PMC_CACHELINE) _Atomic uint64_t v;
		char pad[PMC_CACHELINE - sizeof(uint64_t)];
	} line;
	_Atomic uint64_t *v = &line.v;
	volatile uint64_t sink;
	uint64_t t0, t1;

	if (!iters || !out)
		return -EINVAL;
	atomic_init(v, 0);
	escape(v);

	sink = atomic_add_loop(v, warmup_iters(iters));
	t0 = now_ns();
	sink = atomic_add_loop(v, iters);
	t1 = now_ns();
	(void)sink;

	if (atomic_load_explicit(v, memory_order_relaxed) != warmup_iters(iters) + iters)
		return -EIO;
	fill_result(out, t1 - t0, iters, 1);
	return 0;
}

/* --- running a loop on N threads, started together ---------------------- */

enum { GO_WAIT, GO_RUN, GO_ABORT };

struct bench_shared {
	_Atomic int ready;              /* threads warmed up and waiting */
	_Atomic int go;                 /* GO_WAIT, then GO_RUN or GO_ABORT */
	uint64_t iters;
	bench_loop_fn loop;
};

struct bench_thread {
	_Alignas(PMC_CACHELINE) struct bench_shared *shared;
	void *arg;
	pthread_t tid;
	uint64_t t_start, t_end;
	int failed;
	int ran;
};

static void *bench_thread_fn(void *p)
{
	struct bench_thread *t = p;
	struct bench_shared *s = t->shared;
	unsigned int spins = 0;
	int go;

	t->failed = s->loop(t->arg, warmup_iters(s->iters));
	atomic_fetch_add_explicit(&s->ready, 1, memory_order_release);
	/*
	 * Spin, not pthread_barrier: a barrier wakes threads one by one
	 * through the kernel.  Yield now and then in case there are more
	 * threads than CPUs.
	 */
	while ((go = atomic_load_explicit(&s->go, memory_order_acquire)) == GO_WAIT) {
		cpu_relax();
		if (++spins % 256 == 0)
			sched_yield();
	}
	if (go != GO_RUN)
		return NULL;

	t->t_start = now_ns();
	t->failed |= s->loop(t->arg, s->iters);
	t->t_end = now_ns();
	t->ran = 1;
	return NULL;
}

/*
 * Run loop(args[i], iters) on nthreads threads: each warms up, waits on a
 * spin flag, then times its own iterations; the run's time is from the
 * first thread's start to the last thread's end, so ns_per_op is the
 * slowest thread's time per iteration counted from the common start.
 * -ENOMEM or the -errno of pthread_create; -EIO if a loop reported failure.
 */
int64_t bench_run_threads(int nthreads, bench_loop_fn loop, void **args, uint64_t iters,
			  struct pmc_bench_result *out)
{
	struct bench_thread *threads;
	struct bench_shared shared;
	uint64_t t_start = UINT64_MAX, t_end = 0;
	int started;
	int64_t ret = 0;

	threads = aligned_alloc(PMC_CACHELINE, sizeof(*threads) * (size_t)nthreads);
	if (!threads)
		return -ENOMEM;
	memset(threads, 0, sizeof(*threads) * (size_t)nthreads);
	atomic_init(&shared.ready, 0);
	atomic_init(&shared.go, GO_WAIT);
	shared.iters = iters;
	shared.loop = loop;
	for (started = 0; started < nthreads; started++) {
		struct bench_thread *t = &threads[started];
		int err;

		t->shared = &shared;
		t->arg = args[started];
		err = pthread_create(&t->tid, NULL, bench_thread_fn, t);
		if (err) {
			ret = -err;
			break;
		}
	}
	if (!ret) {
		/* Every thread has warmed up: start them together. */
		while (atomic_load_explicit(&shared.ready, memory_order_acquire) < nthreads)
			sched_yield();
		atomic_store_explicit(&shared.go, GO_RUN, memory_order_release);
	} else {
		atomic_store_explicit(&shared.go, GO_ABORT, memory_order_release);
	}
	for (int i = 0; i < started; i++)
		pthread_join(threads[i].tid, NULL);
	for (int i = 0; !ret && i < nthreads; i++) {
		struct bench_thread *t = &threads[i];

		if (!t->ran || t->failed)
			ret = -EIO;
		if (t->t_start < t_start)
			t_start = t->t_start;
		if (t->t_end > t_end)
			t_end = t->t_end;
	}
	if (!ret)
		fill_result(out, t_end - t_start, iters, nthreads);
	free(threads);
	return ret;
}

/* --- try_charge + uncharge pairs on a chain of counters ---------------- */

static int pair_loop(void *arg, uint64_t iters)
{
	struct page_counter *leaf = arg, *fail;
	int failed = 0;

	for (uint64_t i = 0; i < iters; i++) {
		if (!page_counter_try_charge(leaf, 1, &fail)) {
			failed = 1;
			continue;
		}
		page_counter_uncharge(leaf, 1);
	}
	return failed;
}

static struct page_counter *bench_counter_new(struct page_counter *parent)
{
	struct page_counter *c;

	/* sizeof is a multiple of the alignment: the struct has _Alignas(64) members. */
	c = aligned_alloc(PMC_CACHELINE, sizeof(*c));
	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	/* The Python API's defaults: max PAGE_COUNTER_MAX, track_failcnt, protection. */
	page_counter_init(c, parent, true);
	c->track_failcnt = true;
	atomic_store_explicit(&c->max, PAGE_COUNTER_MAX, memory_order_relaxed);
	return c;
}

/*
 * The chain: depth - 1 shared ancestors (chain[0] the root), then the
 * leaves at the bottom level: one for every thread, or one for all with
 * shared_leaf (depth 1: the leaf is a root).  Every counter has the Python
 * API's defaults.  -EINVAL for bad arguments, -ENOMEM or the -errno of
 * pthread_create, -EIO if a charge was refused or a level is not back at
 * zero.
 */
int64_t pmc_bench_page_counter_pair(int depth, int nthreads, int shared_leaf,
				    uint64_t iters, struct pmc_bench_result *out)
{
	struct page_counter *chain[BENCH_MAX_DEPTH] = { NULL };   /* chain[0]: the root */
	struct page_counter **leaves = NULL;
	void **args = NULL;
	int nleaves, nchain;
	int64_t ret = 0;

	if (depth < 1 || depth > BENCH_MAX_DEPTH || nthreads < 1 || nthreads > BENCH_MAX_THREADS ||
	    !iters || !out)
		return -EINVAL;

	/* The shared ancestors, then one leaf per thread or one for all. */
	nchain = depth - 1;
	nleaves = shared_leaf ? 1 : nthreads;
	leaves = calloc((size_t)nleaves, sizeof(*leaves));
	args = calloc((size_t)nthreads, sizeof(*args));
	if (!leaves || !args) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (int i = 0; i < nchain; i++) {
		chain[i] = bench_counter_new(i ? chain[i - 1] : NULL);
		if (!chain[i]) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	for (int i = 0; i < nleaves; i++) {
		leaves[i] = bench_counter_new(nchain ? chain[nchain - 1] : NULL);
		if (!leaves[i]) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	for (int i = 0; i < nthreads; i++)
		args[i] = leaves[shared_leaf ? 0 : i];

	ret = bench_run_threads(nthreads, pair_loop, args, iters, out);
	/* Every charge was uncharged: each level must be back at zero. */
	for (int i = 0; i < nchain; i++)
		if (page_counter_read(chain[i]))
			ret = -EIO;
	for (int i = 0; i < nleaves; i++)
		if (page_counter_read(leaves[i]))
			ret = -EIO;

out_free:
	if (leaves)
		for (int i = 0; i < nleaves; i++)
			free(leaves[i]);
	for (int i = 0; i < nchain; i++)
		free(chain[i]);
	free(leaves);
	free(args);
	return ret;
}
