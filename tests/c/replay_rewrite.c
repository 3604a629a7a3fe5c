/*
 * replay_rewrite.c - replay reads each record once (issue 7, finding 2).
 *
 * A writer thread flips the cpu of the caller's records between 0 and
 * 1000000 and nr_pages between 1 and 2^62 while pmc_hierarchy_replay runs
 * them.  The contract (pymemcg.h): each record is copied once, checked
 * and run from the copy; a record that passed its checks runs with the
 * values checked.  Before the fix a record checked with cpu 0 could run
 * with cpu 1000000 (an out-of-bounds stock: ASan reports it) or charge
 * 2^62 pages.  The buffer race is the caller's, on purpose: this program
 * runs plain and under ASan+UBSan, not under TSan.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pymemcg.h"

#define NREC 64
#define ROUNDS 200000

static struct pmc_op ops[NREC];
static atomic_int stop;

static void *rewriter(void *arg)
{
	volatile struct pmc_op *v = ops;
	(void)arg;
	for (unsigned flip = 0; !atomic_load_explicit(&stop, memory_order_relaxed); flip ^= 1)
		for (int i = 0; i < NREC; i++) {
			v[i].cpu = flip ? 1000000 : 0;
			v[i].nr_pages = flip ? (int64_t)1 << 62 : 1;
		}
	return NULL;
}

int main(void)
{
	struct pmc_config cfg;
	int64_t results[NREC], h, g, charged = 0;
	pthread_t t;

	memset(&cfg, 0, sizeof(cfg));   /* Config.current(ncpus=2); the rest 0 */
	cfg.version = 2;
	cfg.ncpus = 2;
	cfg.charge_batch = 64;
	cfg.reclaim_retries = 16;
	cfg.stock_slots = 7;
	cfg.stock_refill_cap = 1;
	cfg.kmem_limit = PMC_KMEM_LIMIT_ABSENT;
	cfg.kmem_uncharge_via_stock = 1;
	cfg.failcnt = PMC_FAILCNT_NONE;
	cfg.allow_spinning_batch = 1;
	h = pmc_hierarchy_new(&cfg);
	g = h > 0 ? pmc_cgroup_create(h, pmc_cgroup_root(h), "g") : 0;
	if (h <= 0 || g <= 0) {
		fprintf(stderr, "replay_rewrite: set-up failed (%lld, %lld)\n", (long long)h, (long long)g);
		return 1;
	}
	for (int i = 0; i < NREC; i++)
		ops[i] = (struct pmc_op){ .op = PMC_OP_CHARGE, .flags = PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM | PMC_GFP_FS,
					  .cgroup = g, .nr_pages = 1, .cpu = 0 };
	pthread_create(&t, NULL, rewriter, NULL);
	for (int r = 0; r < ROUNDS; r++) {
		int64_t ran = pmc_hierarchy_replay(h, ops, NREC, results);

		for (int64_t i = 0; i < ran; i++) {
			if (results[i] == 0) {
				charged++;
			} else if (results[i] != -22) {
				fprintf(stderr, "replay_rewrite: record %lld gave %lld\n",
					(long long)i, (long long)results[i]);
				return 1;
			}
		}
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	pmc_hierarchy_drain_all(h, 0);
	{
		struct pmc_page_counter_info c;
		int64_t usage;

		pmc_cgroup_counter(h, g, PMC_COUNTER_MEMORY, &c);
		usage = (int64_t)c.usage;
		if (usage != charged) {
			fprintf(stderr, "replay_rewrite: usage %lld, %lld one-page records ran\n",
				(long long)usage, (long long)charged);
			return 1;
		}
	}
	printf("replay_rewrite: %d rounds of %d records, %lld charged one page each, usage exact\n",
	       ROUNDS, NREC, (long long)charged);
	pmc_hierarchy_put(h);
	return 0;
}
