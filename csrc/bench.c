/*
 * bench.c - timed loops for microbenchmarks, run on pthreads.
 *
 * Everything timed here runs in C: Python only starts a call and reads the
 * result, so the CFFI crossing is paid once per call, not per operation.
 *
 * How a call measures (bench_run), for the rules of benchmarks/README.md:
 *  - every thread owns its arguments (its CPU slot, its cgroup or leaf);
 *  - every thread warms up once (page faults, branch predictors, caches);
 *  - then `samples` short samples: all threads meet at a spin barrier, each
 *    runs the baseline (bare atomic adds on its own cache line), they meet
 *    again, and each runs `iters` operations.  The baseline is thus timed
 *    in the same call, on the same threads, between the same samples;
 *  - times are thread CPU time (CLOCK_THREAD_CPUTIME_ID): a thread that
 *    the scheduler takes off its CPU is not charged for the time it waited,
 *    which on a small shared machine is most of the noise.  Wall time is
 *    kept for the parallelism check: summed thread CPU / wall is near the
 *    thread count only when the threads really ran at once;
 *  - the figure is the minimum over the samples (over the samples where
 *    every thread ran, for several threads: a sample where one thread sat
 *    off its CPU measured less contention than asked for).
 *
 * Nothing is pinned: the machines this runs on are small and shared, and
 * a pinned thread on a busy CPU is worse than a migrating one.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L          /* clock_gettime, CLOCK_THREAD_CPUTIME_ID, sched_yield */
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
 * of the calls they stand for, that do nothing.  noinline and the empty
 * asm keep the compiler from reducing them to less than a real call.
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

__attribute__((noinline)) int64_t pmc_bench_nop_cgroup_try_charge(int64_t hierarchy,
								  int64_t cgroup,
								  int64_t nr_pages, int32_t cpu,
								  uint32_t gfp, int32_t kmem)
{
	__asm__ volatile("" ::: "memory");
	(void)hierarchy;
	(void)cgroup;
	(void)nr_pages;
	(void)cpu;
	(void)gfp;
	(void)kmem;
	return 0;
}

__attribute__((noinline)) int64_t pmc_bench_nop_cgroup_uncharge(int64_t hierarchy, int64_t cgroup,
								int64_t nr_pages, int32_t cpu,
								int32_t kmem)
{
	__asm__ volatile("" ::: "memory");
	(void)hierarchy;
	(void)cgroup;
	(void)nr_pages;
	(void)cpu;
	(void)kmem;
	return 0;
}

__attribute__((noinline)) int64_t pmc_bench_nop_task_fork(int64_t hierarchy, int64_t cgroup,
							  int32_t cpu, int32_t oom_score_adj,
							  uint32_t flags)
{
	__asm__ volatile("" ::: "memory");
	(void)hierarchy;
	(void)cgroup;
	(void)cpu;
	(void)oom_score_adj;
	(void)flags;
	return 0;
}

__attribute__((noinline)) int64_t pmc_bench_nop_task_exit(int64_t hierarchy, int64_t task,
							  int32_t cpu)
{
	__asm__ volatile("" ::: "memory");
	(void)hierarchy;
	(void)task;
	(void)cpu;
	return 0;
}

__attribute__((noinline)) int64_t pmc_bench_nop_task_fault(int64_t hierarchy, int64_t task,
							   int64_t nr_pages, int32_t cpu,
							   int64_t *done)
{
	__asm__ volatile("" ::: "memory");
	(void)hierarchy;
	(void)task;
	(void)nr_pages;
	(void)cpu;
	(void)done;
	return 0;
}

__attribute__((noinline)) int64_t pmc_bench_nop_task_unmap(int64_t hierarchy, int64_t task,
							   int64_t nr_pages, int32_t cpu)
{
	__asm__ volatile("" ::: "memory");
	(void)hierarchy;
	(void)task;
	(void)nr_pages;
	(void)cpu;
	return 0;
}

/* Warm-up: a tenth of one sample, at least 1k and at most 64k operations. */
#define BENCH_WARMUP_MIN 1000u
#define BENCH_WARMUP_MAX 65536u
#define BENCH_BASE_ITERS 4096u

uint64_t warmup_iters(uint64_t iters)
{
	uint64_t w = iters / 10;

	if (w < BENCH_WARMUP_MIN)
		w = BENCH_WARMUP_MIN;
	if (w > BENCH_WARMUP_MAX)
		w = BENCH_WARMUP_MAX;
	return w & ~(uint64_t)1;        /* even: replay workloads run whole pairs */
}

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t thread_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
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

/* --- baseline: a bare relaxed atomic add ------------------------------- */

/* A private variable alone on its cache line: nothing else shares it. */
struct bench_line {
	_Alignas(PMC_CACHELINE) _Atomic uint64_t v;
	char pad[PMC_CACHELINE - sizeof(uint64_t)];
};

/*
 * The fetch_add results are summed into a sink so that the compiler emits
 * the same instruction the counters use (lock xadd on x86, not lock add);
 * the adds stay independent of each other.  The variable escapes through
 * escape(), so no optimiser may turn the atomics into plain arithmetic.
 * Not named bench_loop_*: callgrind counts the workloads only.
 */
__attribute__((noinline)) static uint64_t bench_base_adds(_Atomic uint64_t *v, uint64_t iters)
{
	uint64_t sink = 0;

	escape((void *)v);
	for (uint64_t i = 0; i < iters; i++)
		sink += atomic_fetch_add_explicit(v, 1, memory_order_relaxed);
	return sink;
}

/* The same adds as a workload, for pmc_bench_atomic_add. */
__attribute__((noinline)) static int bench_loop_atomic_add(void *arg, uint64_t iters)
{
	struct bench_line *line = arg;
	volatile uint64_t sink;
	uint64_t sum = 0;

	escape(line);
	for (uint64_t i = 0; i < iters; i++)
		sum += atomic_fetch_add_explicit(&line->v, 1, memory_order_relaxed);
	sink = sum;
	(void)sink;
	return 0;
}

/* --- running a loop on N threads, sample by sample ---------------------- */

enum { GO_WAIT, GO_RUN, GO_ABORT };

/* A sense-reversing spin barrier: a pthread barrier wakes threads one by one through the kernel. */
struct bench_barrier {
	_Alignas(PMC_CACHELINE) _Atomic int count;
	_Atomic int sense;
	int n;
};

static void barrier_wait(struct bench_barrier *b, int *local_sense)
{
	unsigned int spins = 0;
	int sense = !*local_sense;

	*local_sense = sense;
	if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == b->n - 1) {
		atomic_store_explicit(&b->count, 0, memory_order_relaxed);
		atomic_store_explicit(&b->sense, sense, memory_order_release);
		return;
	}
	/* Yield now and then in case there are more threads than CPUs. */
	while (atomic_load_explicit(&b->sense, memory_order_acquire) != sense) {
		cpu_relax();
		if (++spins % 256 == 0)
			sched_yield();
	}
}

struct bench_shared {
	_Atomic int ready;              /* threads warmed up and waiting */
	_Atomic int go;                 /* GO_WAIT, then GO_RUN or GO_ABORT */
	uint64_t iters, base_iters;
	int samples;
	bench_loop_fn loop;
	struct bench_barrier barrier;
};

/* One sample of one thread. */
struct bench_sample {
	uint64_t base_cpu, cpu, wall_start, wall_end;
};

struct bench_thread {
	_Alignas(PMC_CACHELINE) struct bench_shared *shared;
	void *arg;
	struct bench_sample *samples;
	struct bench_line *line;        /* the baseline's private variable */
	pthread_t tid;
	int failed;
	int ran;
};

static void *bench_thread_fn(void *p)
{
	struct bench_thread *t = p;
	struct bench_shared *s = t->shared;
	unsigned int spins = 0;
	int go, sense = 0;
	volatile uint64_t sink;

	atomic_init(&t->line->v, 0);
	sink = bench_base_adds(&t->line->v, warmup_iters(s->base_iters));
	t->failed = s->loop(t->arg, warmup_iters(s->iters));
	atomic_fetch_add_explicit(&s->ready, 1, memory_order_release);
	while ((go = atomic_load_explicit(&s->go, memory_order_acquire)) == GO_WAIT) {
		cpu_relax();
		if (++spins % 256 == 0)
			sched_yield();
	}
	if (go != GO_RUN)
		return NULL;

	for (int i = 0; i < s->samples; i++) {
		struct bench_sample *x = &t->samples[i];
		uint64_t c0;

		barrier_wait(&s->barrier, &sense);
		c0 = thread_cpu_ns();
		sink = bench_base_adds(&t->line->v, s->base_iters);
		x->base_cpu = thread_cpu_ns() - c0;
		barrier_wait(&s->barrier, &sense);
		x->wall_start = now_ns();
		c0 = thread_cpu_ns();
		t->failed |= s->loop(t->arg, s->iters);
		x->cpu = thread_cpu_ns() - c0;
		x->wall_end = now_ns();
	}
	(void)sink;
	t->ran = 1;
	return NULL;
}

static void bench_summarise(struct bench_thread *threads, int nthreads, const struct bench_shared *s,
			    struct pmc_bench_result *out)
{
	double best_cpu = -1, best_cpu_par = -1, best_wall = -1, best_base = -1;
	uint64_t wall_sum = 0, cpu_sum = 0;
	int parallel = 0;

	for (int i = 0; i < s->samples; i++) {
		uint64_t start = UINT64_MAX, end = 0, cpu = 0, base = UINT64_MAX, wall;
		double ns, wns, bns;

		for (int k = 0; k < nthreads; k++) {
			const struct bench_sample *x = &threads[k].samples[i];

			if (x->wall_start < start)
				start = x->wall_start;
			if (x->wall_end > end)
				end = x->wall_end;
			cpu += x->cpu;
			if (x->base_cpu < base)
				base = x->base_cpu;
		}
		wall = end > start ? end - start : 1;
		ns = (double)cpu / ((double)s->iters * nthreads);
		wns = (double)wall / (double)s->iters;
		bns = (double)base / (double)s->base_iters;
		if (best_cpu < 0 || ns < best_cpu)
			best_cpu = ns;
		/* Every thread on a CPU for the whole sample (one thread: always). */
		if (nthreads == 1 || (double)cpu >= 0.95 * nthreads * (double)wall) {
			parallel++;
			if (best_cpu_par < 0 || ns < best_cpu_par)
				best_cpu_par = ns;
		}
		if (best_wall < 0 || wns < best_wall)
			best_wall = wns;
		if (best_base < 0 || bns < best_base)
			best_base = bns;
		wall_sum += wall;
		cpu_sum += cpu;
		if (out->sample_cpu_ns)
			out->sample_cpu_ns[i] = cpu;
		if (out->sample_wall_ns)
			out->sample_wall_ns[i] = wall;
		if (out->sample_base_ns)
			out->sample_base_ns[i] = base;
	}
	out->seconds = (double)wall_sum * 1e-9;
	out->cpu_seconds = (double)cpu_sum * 1e-9;
	out->parallelism = (double)cpu_sum / (double)(wall_sum ? wall_sum : 1);
	out->ns_per_op = parallel ? best_cpu_par : best_cpu;
	out->wall_ns_per_op = best_wall;
	out->base_ns_per_op = best_base;
	out->parallel_samples = parallel;
	out->ops_per_thread = s->iters * (uint64_t)s->samples;
	out->total_ops = out->ops_per_thread * (uint64_t)nthreads;
	out->warmup_ops = warmup_iters(s->iters);
	out->nthreads = nthreads;
}

/*
 * Run loop(args[i], iters) on nthreads threads, out->samples times (see the
 * top of the file), and fill `out`.  -EINVAL for bad arguments, -ENOMEM or
 * the -errno of pthread_create; -EIO if a loop reported failure.
 */
int64_t bench_run(int nthreads, bench_loop_fn loop, void **args, uint64_t iters,
		  struct pmc_bench_result *out)
{
	struct bench_thread *threads;
	struct bench_line *lines;
	struct bench_shared shared;
	int started;
	int64_t ret = 0;

	if (nthreads < 1 || nthreads > BENCH_MAX_THREADS || !iters || !out ||
	    out->samples < 0 || out->samples > BENCH_MAX_SAMPLES)
		return -EINVAL;
	threads = aligned_alloc(PMC_CACHELINE, sizeof(*threads) * (size_t)nthreads);
	lines = aligned_alloc(PMC_CACHELINE, sizeof(*lines) * (size_t)nthreads);
	if (!threads || !lines) {
		free(threads);
		free(lines);
		return -ENOMEM;
	}
	memset(threads, 0, sizeof(*threads) * (size_t)nthreads);
	atomic_init(&shared.ready, 0);
	atomic_init(&shared.go, GO_WAIT);
	atomic_init(&shared.barrier.count, 0);
	atomic_init(&shared.barrier.sense, 0);
	shared.barrier.n = nthreads;
	shared.iters = iters;
	shared.base_iters = out->base_iters ? out->base_iters : BENCH_BASE_ITERS;
	shared.samples = out->samples ? out->samples : 1;
	shared.loop = loop;
	for (int i = 0; i < nthreads; i++) {
		threads[i].samples = calloc((size_t)shared.samples, sizeof(struct bench_sample));
		if (!threads[i].samples)
			ret = -ENOMEM;
	}
	for (started = 0; !ret && started < nthreads; started++) {
		struct bench_thread *t = &threads[started];
		int err;

		t->shared = &shared;
		t->arg = args[started];
		t->line = &lines[started];
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
	for (int i = 0; !ret && i < nthreads; i++)
		if (!threads[i].ran || threads[i].failed)
			ret = -EIO;
	if (!ret)
		bench_summarise(threads, nthreads, &shared, out);
	for (int i = 0; i < nthreads; i++)
		free(threads[i].samples);
	free(threads);
	free(lines);
	return ret;
}

int64_t pmc_bench_atomic_add(uint64_t iters, struct pmc_bench_result *out)
{
	struct bench_line *line;
	void *arg;
	int64_t ret;

	if (!iters || !out)
		return -EINVAL;
	line = aligned_alloc(PMC_CACHELINE, sizeof(*line));
	if (!line)
		return -ENOMEM;
	atomic_init(&line->v, 0);
	arg = line;
	ret = bench_run(1, bench_loop_atomic_add, &arg, iters, out);
	if (!ret) {
		uint64_t samples = (uint64_t)(out->samples ? out->samples : 1);

		if (atomic_load_explicit(&line->v, memory_order_relaxed) !=
		    warmup_iters(iters) + samples * iters)
			ret = -EIO;
	}
	free(line);
	return ret;
}

/* --- try_charge + uncharge pairs on a chain of counters ---------------- */

__attribute__((noinline)) static int bench_loop_counter_pair(void *arg, uint64_t iters)
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

	ret = bench_run(nthreads, bench_loop_counter_pair, args, iters, out);
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
