/*
 * bench.h - what the timed loops of bench.c and bench_memcg.c share.
 */
#ifndef PMC_BENCH_H
#define PMC_BENCH_H

#include <stdint.h>

#include "pymemcg.h"

#define BENCH_MAX_DEPTH 64
#define BENCH_MAX_THREADS 256

/* One thread's loop: run `iters` iterations on `arg`; nonzero on failure. */
typedef int (*bench_loop_fn)(void *arg, uint64_t iters);

uint64_t now_ns(void);
uint64_t warmup_iters(uint64_t iters);
int64_t bench_run_threads(int nthreads, bench_loop_fn loop, void **args, uint64_t iters,
			  struct pmc_bench_result *out);

#endif /* PMC_BENCH_H */
