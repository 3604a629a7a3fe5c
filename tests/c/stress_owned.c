/*
 * stress_owned.c - CPUs owned by their callers (csrc/cpu.c), under races.
 *
 * Workers each own a CPU in bursts (acquire, many charges and uncharges on
 * the token, release) on their own leaf and on a shared one; a disturber
 * meanwhile drains every stock, charges single calls on the workers' CPUs,
 * drains one CPU, creates, charges and removes cgroups (whose frees take
 * every CPU lock).  Close is refused while a CPU is owned (checked alone).  The
 * misuse cases of the contract are checked by each worker as it goes: a
 * foreign token (-EPERM), a released one (-ESTALE), a second CPU and any
 * other call of the hierarchy while owning (-EDEADLK), an owned CPU
 * (-EBUSY).  A thread that exits owning a CPU gives it back.
 *
 * Oracle: each worker keeps a ledger of the pages it holds on each leaf;
 * after the run (everything given back, stocks drained) every counter of
 * the tree is 0, and midway, after a drain with the workers stopped, each
 * leaf's usage is its ledger's sum.
 *
 * Usage: stress_owned [threads (1-8) [ops_per_thread [seed]]]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pymemcg.h"
#include "stress.h"

#define MAX_THREADS 8
#define BURST 64

static int nthreads = 4;
static long ops_per_thread = 40000;
static uint64_t seed = 1;

static int64_t h, root, parent, shared, own[MAX_THREADS];
static _Atomic int64_t tokens[MAX_THREADS];     /* published for the misuse checks */
static atomic_bool stop;
static pthread_barrier_t barrier;

struct worker {
	int id;
	struct checks ck;
	uint64_t rng;
	long held_own, held_shared;     /* pages this worker holds */
	unsigned long charged, refused, bursts;
};

static struct worker workers[MAX_THREADS];

static uint64_t usage_of(int64_t cg)
{
	struct pmc_page_counter_info pc;

	if (pmc_cgroup_counter(h, cg, PMC_COUNTER_MEMORY, &pc))
		return UINT64_MAX;
	return pc.usage;
}

/* The misuse cases, on a CPU this worker owns (token). */
static void misuse(struct worker *w, int64_t token)
{
	int other = (w->id + 1) % nthreads;
	int64_t foreign = atomic_load(&tokens[other]), ret;

	ret = pmc_cpu_acquire(h, other);
	CHECK(&w->ck, ret == -EDEADLK, "second CPU while owning: %" PRId64, ret);
	ret = pmc_cgroup_try_charge(h, own[w->id], 1, w->id, 0, 0);
	CHECK(&w->ck, ret == -EDEADLK, "single call while owning: %" PRId64, ret);
	ret = pmc_hierarchy_drain_all(h, 0);
	CHECK(&w->ck, ret == -EDEADLK, "drain_all while owning: %" PRId64, ret);
	ret = pmc_cgroup_create(h, parent, "x");
	CHECK(&w->ck, ret == -EDEADLK, "create while owning: %" PRId64, ret);
	if (foreign && other != w->id) {
		ret = pmc_cpu_try_charge(foreign, own[w->id], 1, 0, 0);
		/* -ESTALE if its owner released it meanwhile: never a charge. */
		CHECK(&w->ck, ret == -EPERM || ret == -ESTALE, "foreign token: %" PRId64, ret);
	}
	CHECK(&w->ck, pmc_cpu_of(token) == w->id, "pmc_cpu_of");
}

static void burst(struct worker *w, int64_t token, long n)
{
	for (long i = 0; i < n; i++) {
		uint64_t r = rnd(&w->rng);
		bool on_shared = r & 1;
		int64_t cg = on_shared ? shared : own[w->id];
		long *held = on_shared ? &w->held_shared : &w->held_own;
		int64_t nr = 1 + (int64_t)((r >> 8) % 3), ret;

		/* Each worker holds 60 pages at most: the limit refuses only what stocks hold. */
		if (*held >= nr && ((r >> 4) % 3 == 0 || *held > 30)) {
			ret = pmc_cpu_uncharge(token, cg, nr, 0);
			CHECK(&w->ck, ret == 0, "owned uncharge: %" PRId64, ret);
			*held -= nr;
		} else if ((r >> 4) % 17 == 1) {
			CHECK(&w->ck, pmc_cpu_drain(token) == 0, "owned drain");
		} else {
			ret = pmc_cpu_try_charge(token, cg, nr, PMC_GFP_DIRECT_RECLAIM, 0);
			CHECK(&w->ck, ret >= 0, "owned charge: %" PRId64, ret);
			if (ret == 0) {
				*held += nr;
				w->charged++;
			} else {
				w->refused++;
			}
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	long done = 0;

	pthread_barrier_wait(&barrier);
	while (done < ops_per_thread) {
		int64_t token, ret;

		/* The disturber owns this CPU for a moment now and then: -EBUSY, try again. */
		while ((token = pmc_cpu_acquire(h, w->id)) == -EBUSY)
			sched_yield();
		CHECK(&w->ck, token > 0, "acquire CPU %d: %" PRId64, w->id, token);
		if (token <= 0)
			break;
		atomic_store(&tokens[w->id], token);
		if (w->bursts % 16 == 0)
			misuse(w, token);
		burst(w, token, BURST);
		done += BURST;
		w->bursts++;
		atomic_store(&tokens[w->id], 0);
		CHECK(&w->ck, pmc_cpu_release(token) == 0, "release");
		ret = pmc_cpu_try_charge(token, own[w->id], 1, 0, 0);
		CHECK(&w->ck, ret == -ESTALE, "released token: %" PRId64, ret);
	}
	pthread_barrier_wait(&barrier);         /* the midway check */
	pthread_barrier_wait(&barrier);
	/* Give everything back through an owned CPU, then release. */
	{
		int64_t token;

		while ((token = pmc_cpu_acquire(h, w->id)) == -EBUSY)
			sched_yield();
		CHECK(&w->ck, token > 0, "final acquire: %" PRId64, token);
		if (w->held_own)
			CHECK(&w->ck, pmc_cpu_uncharge(token, own[w->id], w->held_own, 0) == 0, "final");
		if (w->held_shared)
			CHECK(&w->ck, pmc_cpu_uncharge(token, shared, w->held_shared, 0) == 0, "final");
		w->held_own = w->held_shared = 0;
		CHECK(&w->ck, pmc_cpu_release(token) == 0, "final release");
	}
	return NULL;
}

/* Everything else, racing the owners. */
static void *disturber_main(void *arg)
{
	struct checks *ck = arg;
	uint64_t rng = seed ^ 0xd15c;
	unsigned long n = 0;
	char name[32];

	while (!atomic_load(&stop)) {
		uint64_t r = rnd(&rng);
		int cpu = (int)(r % (uint64_t)nthreads);
		int64_t ret, c;

		switch ((r >> 8) % 5) {
		case 0:
			CHECK(ck, pmc_hierarchy_drain_all(h, 0) == 0, "drain_all");
			break;
		case 1:
			/* A single call on an owned CPU waits for the release. */
			ret = pmc_cgroup_try_charge(h, shared, 1, cpu, PMC_GFP_DIRECT_RECLAIM, 0);
			if (ret == 0)
				CHECK(ck, pmc_cgroup_uncharge(h, shared, 1, cpu, 0) == 0, "uncharge");
			break;
		case 2:
			snprintf(name, sizeof(name), "d%lu", n);
			c = pmc_cgroup_create(h, parent, name);
			CHECK(ck, c > 0, "create: %" PRId64, c);
			if (c > 0 && pmc_cgroup_try_charge(h, c, 2, cpu, PMC_GFP_DIRECT_RECLAIM, 0) == 0)
				pmc_cgroup_uncharge(h, c, 2, cpu, 0);
			if (c > 0)
				CHECK(ck, pmc_cgroup_remove(h, c) == 0, "remove");
			break;
		case 3:
			/* Drain one CPU: waits for its owner's release. */
			CHECK(ck, pmc_hierarchy_drain(h, cpu) == 0, "drain CPU %d", cpu);
			break;
		default:
			ret = pmc_cpu_acquire(h, cpu);
			/* Owned by a worker (-EBUSY), or free for a moment: then ours. */
			CHECK(ck, ret == -EBUSY || ret > 0, "disturber acquire: %" PRId64, ret);
			if (ret > 0)
				CHECK(ck, pmc_cpu_release(ret) == 0, "disturber release");
			break;
		}
		n++;
	}
	return NULL;
}

/* A thread that exits owning a CPU: the CPU comes back. */
static void *leaver_main(void *arg)
{
	int64_t *token = arg;

	*token = pmc_cpu_acquire(h, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	struct checks total = { 0, 0 };
	struct checks dk = { 0, 0 };
	struct pmc_config cfg = stress_config_current();
	pthread_t tid[MAX_THREADS], dist, leaver;
	int64_t left_token = 0, ret;
	char name[16];

	stress_args(argc, argv, MAX_THREADS, &nthreads, &ops_per_thread, &seed);
	cfg.ncpus = nthreads;
	cfg.seed = seed;
	h = pmc_hierarchy_new(&cfg);
	root = pmc_cgroup_root(h);
	parent = pmc_cgroup_create(h, root, "p");
	shared = pmc_cgroup_create(h, parent, "s");
	/* A limit that refuses now and then. */
	pmc_cgroup_set_max(h, parent, PMC_COUNTER_MEMORY, 300 + 40 * nthreads);
	for (int i = 0; i < nthreads; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		own[i] = pmc_cgroup_create(h, parent, name);
		workers[i].id = i;
		workers[i].rng = seed * 1000 + (uint64_t)i;
	}

	/* The leaver: its CPU is free once it has exited. */
	pthread_create(&leaver, NULL, leaver_main, &left_token);
	pthread_join(leaver, NULL);
	CHECK(&total, left_token > 0, "leaver acquired: %" PRId64, left_token);
	ret = pmc_cpu_try_charge(left_token, own[0], 1, 0, 0);
	CHECK(&total, ret == -ESTALE, "a gone thread's token: %" PRId64, ret);
	ret = pmc_cpu_acquire(h, 0);
	CHECK(&total, ret > 0, "the leaver's CPU is free: %" PRId64, ret);
	/* Single-thread contract, by hand. */
	if (ret > 0) {
		int64_t t = ret;

		CHECK(&total, pmc_hierarchy_close(h) == -EBUSY, "close while owned");
		CHECK(&total, pmc_cpu_acquire(h, 0) == -EDEADLK, "the same CPU again");
		CHECK(&total, pmc_cpu_try_charge(t, own[0], 3, 0, 0) == 0, "charge");
		CHECK(&total, pmc_cpu_try_charge(t, own[0], -1, 0, 0) == -EINVAL, "bad count");
		CHECK(&total, pmc_cpu_try_charge(t, 12345, 1, 0, 0) == -EINVAL, "bad cgroup");
		CHECK(&total, pmc_cpu_uncharge(t, own[0], 3, 0) == 0, "uncharge");
		CHECK(&total, pmc_cpu_release(t) == 0, "release");
		CHECK(&total, pmc_cpu_release(t) == -ESTALE, "release twice");
		CHECK(&total, pmc_cpu_acquire(h, nthreads) == -EINVAL, "no such CPU");
		CHECK(&total, pmc_cpu_try_charge(0, own[0], 1, 0, 0) == -ESTALE, "token 0");
		CHECK(&total, pmc_cpu_try_charge(-5, own[0], 1, 0, 0) == -ESTALE, "token < 0");
		CHECK(&total, pmc_cpu_drain(0x7fffffffffffffffLL) == -ESTALE, "garbage token");
	}

	pthread_barrier_init(&barrier, NULL, (unsigned)nthreads + 1);
	pthread_create(&dist, NULL, disturber_main, &dk);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&tid[i], NULL, worker_main, &workers[i]);
	pthread_barrier_wait(&barrier);         /* start */
	pthread_barrier_wait(&barrier);         /* workers done */
	atomic_store(&stop, true);
	pthread_join(dist, NULL);
	/* Midway: with the stocks drained, each leaf holds its ledger exactly. */
	CHECK(&total, pmc_hierarchy_drain_all(h, 0) == 0, "drain_all");
	{
		long sum_shared = 0;

		for (int i = 0; i < nthreads; i++) {
			CHECK(&total, usage_of(own[i]) == (uint64_t)workers[i].held_own,
			      "leaf t%d: %" PRIu64 " pages, ledger %ld", i, usage_of(own[i]),
			      workers[i].held_own);
			sum_shared += workers[i].held_shared;
		}
		CHECK(&total, usage_of(shared) == (uint64_t)sum_shared,
		      "shared leaf: %" PRIu64 " pages, ledgers %ld", usage_of(shared), sum_shared);
	}
	pthread_barrier_wait(&barrier);         /* give back */
	for (int i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	CHECK(&total, pmc_hierarchy_drain_all(h, 0) == 0, "final drain_all");
	CHECK(&total, usage_of(parent) == 0, "parent after the run: %" PRIu64, usage_of(parent));
	for (int i = 0; i < nthreads; i++) {
		total.passed += workers[i].ck.passed;
		total.failed += workers[i].ck.failed;
		CHECK(&total, workers[i].charged > 0, "worker %d charged nothing", i);
	}
	total.passed += dk.passed;
	total.failed += dk.failed;
	CHECK(&total, pmc_hierarchy_close(h) == 0, "close");
	printf("stress_owned: %d threads x %ld ops, seed %" PRIu64 "\n", nthreads, ops_per_thread,
	       seed);
	printf("%lu passed, %lu failed\n", total.passed, total.failed);
	return total.failed ? 1 : 0;
}
