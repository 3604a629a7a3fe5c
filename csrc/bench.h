/*
 * bench.h - what the timed loops of bench.c and bench_memcg.c share.
 *
 * A workload is a loop function `bench_loop_<name>(arg, iters)` run by
 * bench_run() on N pthreads.  The names matter: `pymemcg bench --callgrind`
 * counts the instructions of every function matching bench_loop_* (and
 * what they call), so a loop gets that prefix and nothing else does.  To
 * add a workload: write its setup (the per-thread args) and its
 * bench_loop_ function, and hand both to bench_run() from a pmc_bench_*
 * entry point declared in the microbenchmarks section of pymemcg.h.
 */
#ifndef PMC_BENCH_H
#define PMC_BENCH_H

#include <stdint.h>

#include "pymemcg.h"

#define BENCH_MAX_DEPTH 64
#define BENCH_MAX_THREADS 256
#define BENCH_MAX_SAMPLES 1000000

/* One thread's loop: run `iters` iterations on `arg`; nonzero on failure. */
typedef int (*bench_loop_fn)(void *arg, uint64_t iters);

uint64_t now_ns(void);
uint64_t thread_cpu_ns(void);
uint64_t warmup_iters(uint64_t iters);
int64_t bench_run(int nthreads, bench_loop_fn loop, void **args, uint64_t iters,
		  struct pmc_bench_result *out);

/* splitmix64: the benchmarks' random numbers (cheap, seeded, reproducible). */
static inline uint64_t bench_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

#endif /* PMC_BENCH_H */
