/*
 * stress_tasks.c - tasks and the memcg OOM killer under concurrency, by the
 * public handle API of pymemcg.h (csrc/task.c, csrc/oom.c).
 *
 *   stress_tasks [threads [ops_per_thread [seed]]]
 *
 * Three presets (pymemcg/config.py): Config.current() (v2), current_v1()
 * (memsw, kmem counter without a limit) and linux_3_8() (the 3.8 charge
 * loop, kmem charged first under its own limit, accounted only where
 * activated, a 2-page stack charged as one allocation, page tables not
 * accounted, user pages reparented at offline).  For each:
 *
 * 1. exact: single-threaded scenarios on a hierarchy of their own, every
 *    result known in advance:
 *     - v2 oom.group: tasks in D (oom.group, memory.max) and in D1 below it
 *       (oom.group too: the highest group wins), two of them -1000; a
 *       -1000 task faults past the limit: the victim (adj 1000, in D1) and
 *       every other task of D's subtree die, the -1000 ones and a task in
 *       a sibling cgroup live; events: oom 2 (the second finds no victim),
 *       oom_kill at D1 3 (the victim is counted twice, as the kernel does),
 *       at D 2, oom_group_kill 1 at D only; the fault ends at the limit.
 *     - one victim per kill: the highest score dies (adj 1000 over a bigger
 *       task with adj 0; -1000 never), a fault one page over the margin
 *       kills exactly one task; on equal scores the later task dies
 *       (current kernels) or the first (3.8).
 *     - 3.8 kmem limit: K (kmem limit L below its memory limit, activated):
 *       of F forks exactly floor(L / 2) succeed, the others fail with
 *       -ENOMEM and no OOM event; kmem usage, kernel and kernel_stack
 *       stats are the stacks'; kmem failcnt counts the refusals; raw kmem
 *       charges fill the rest and are refused at K.
 *     - listings: pmc_cgroup_tasks in fork order, a moved task at the end;
 *       an exited task's slot reused with a new generation.
 *     - edges: bad arguments (-EINVAL, nothing changed), a costly charge
 *       refused without the OOM killer, v1 oom_kill_disable (an oom event,
 *       no kill; 3.8 counts a livelock), a hierarchy closed with live tasks.
 *     - a late charge: the reclaim callback removes the cgroup being
 *       charged; the charge completes on the dying cgroup (3.8: the page
 *       follows the user pages offline moved to the parent, and the cgroup
 *       is freed), its uncharge must leave every counter 0 and the cgroup
 *       freed.
 *     - two faults of one task at once (the second from inside the reclaim
 *       callback of the first's page-table charge): the tables are charged
 *       once (the second allocation of a table is given back).
 *     - 3.8, two threads: kmem accounting activated while a fork into the
 *       cgroup is under way (EBUSY: the fork counts as a task): the task's
 *       exit must leave nothing charged.
 * 2. main: a tree
 *
 *                  root
 *          /         |         \
 *       A: 360     B: 160     K: 200 (kmem 48 on v1; activated on 3.8)
 *      /      \
 *   A1: 140  A2: 200 (memory.oom.group on v2)
 *
 *    (3.8: kmem accounting activated in A1, B and K only), and N threads,
 *    each on a random CPU per operation: fork (dense or sparse, adj -1000,
 *    1000, 0 or any), fault, unmap, move, exit its own tasks, raw user and
 *    kmem charges and uncharges (pmc_cgroup_try_charge / _uncharge, GFP_KERNEL,
 *    NOWAIT, NORETRY), drains, calls with dead handles (every one -ESTALE,
 *    whatever task reuses the slot), calls that change nothing on other
 *    threads' tasks (info, 0-page fault and unmap: 0 or -ESTALE).  The
 *    limits are tight: the OOM killer runs all the time, from any thread, and kills
 *    other threads' tasks: then every call on such a task must return
 *    -ESTALE, or -ESRCH from a fault it interrupted.  Each thread keeps a
 *    ledger of its tasks (where each page of each task was charged: user
 *    pages by segment, newest first, page tables, stack) and of its raw
 *    charges, and checks each task's pmc_task_info against it after every
 *    operation (rss, page-table geometry, pagetables_charged only where
 *    accounted, the stack only where kmem is).  Every CHECK_EVERY
 *    operations the threads meet; one checks, with nothing in flight:
 *     - for every cgroup: memory usage == the ledgers' pages in its subtree
 *       + what the CPUs' stocks hold for it and its descendants (v1 memsw
 *       the same; v1 kmem == the ledgers' kernel pages, no stock); stats
 *       anon / kernel / kernel_stack / pagetables, own and subtree, == the
 *       ledgers'; nr_tasks and pmc_cgroup_tasks == the ledgers' tasks there;
 *     - events: v2 hierarchical == the sum of the subtree's local events;
 *       local max >= local oom; oom_group_kill only where oom.group is set
 *       and 2 * oom_group_kill <= oom_kill (hierarchical); every task that
 *       vanished was killed in the cgroup its owner last put it in: local
 *       oom_kill >= those kills (== on v1), and summed over the cgroups
 *       oom_kill == kills + oom_group_kill (a group's victim counts twice);
 *     - then, by turns, a drain of everything (drain_all(0), drain_all of
 *       A, or every CPU) and usage == the ledgers exactly, the stocks empty.
 * 3. churn: the same with a churn thread that creates a cgroup T below A
 *    (two names, reused), publishes it, and removes it again (retrying while
 *    tasks are in it); the workers fork into T, move their tasks in (and
 *    out again once T is no longer the published one), raw-charge it and
 *    uncharge those charges after T was removed.  Forks into T: a handle,
 *    -ENOMEM or -ESTALE (removed), nothing else; a fault: -ESTALE only
 *    with nothing done on a task dead before the call (a task that moved
 *    on from a T removed mid-fault is charged where it is now).  Exact checks for A1,
 *    A2, B and K (T's removal moves charges into A); the churn thread waits
 *    while they run (its remove drains stocks).
 * 4. teardown: every task exits (0, or -ESTALE: killed), every raw charge
 *    is uncharged, every stock drained: every counter of every cgroup 0,
 *    every stat 0 (subtree; own too, but A's: the uncharges of freed T's
 *    pages came off A's own, their charges are in its freed descendants'
 *    share of the subtree sums), nr_tasks 0, no cgroup but the tree
 *    (every churned T freed), the events' invariants, every dead handle
 *    still -ESTALE (a reused slot must have a new generation), the tree
 *    removed and freed, the hierarchy closed.
 *
 * A monitor thread reads every counter and every cgroup's info all along:
 * usage never negative nor above max + what the charges in flight may add
 * for a moment, events never going down, nr_tasks in range (failcnt is a
 * racy increment, as the kernel's: it may even go back, and is checked only
 * at the barriers, 0 where the era does not count failures).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pymemcg.h"
#include "stress.h"

#define MAX_THREADS 16
#define MAX_TASKS 8             /* live tasks per thread */
#define MAX_RSS 96              /* pages one task maps at most */
#define MAX_DEAD 64             /* dead handles each thread keeps checking */
#define MAX_TCH 32              /* raw charges of churned cgroups per thread */
#define RAW_CAP 40              /* raw pages one thread holds at most */
#define CHECK_EVERY 400
#define UNLIMITED PMC_PAGE_COUNTER_MAX
#define MAX_STOCK 16

#define GFP_KERNEL (PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM | PMC_GFP_FS)
#define GFP_NOWAIT PMC_GFP_KSWAPD_RECLAIM

enum { ROOT, A, A1, A2, B, K, NCG };
#define CH NCG                  /* the churned cgroup, in ledgers */
#define NLEDGER (NCG + 1)

static const int parent_of[NCG] = { -1, ROOT, A, A, ROOT, ROOT };
static const char *const name_of[NLEDGER] = { "root", "A", "A1", "A2", "B", "K", "T" };
static const int64_t max_of[NCG] = { UNLIMITED, 360, 140, 200, 160, 200 };
#define K_KMEM_MAX 48
#define T_MAX 120
#define T_KMEM_MAX 30

/* ------------------------------------------------------------------ */
/* The run's state.                                                     */

static int nthreads = 4;
static long ops_per_thread = 25000;
static uint64_t seed = 1;

static int64_t h;
static int64_t cgh[NCG];
static int ncpus, version, memsw, stack_pages, pt_accounted, v38, ncounters, failcnt_mode;
static int64_t batch;
static bool kmem_on[NLEDGER];
static bool group_on[NCG];
static bool exact[NCG];         /* checked exactly at the barriers */
static bool churning;
static bool churned;             /* churning now, or was in this run */

static pthread_barrier_t barrier;
static atomic_bool stop_monitor, stop_churn;
static _Atomic int64_t churn_cg;        /* the published T, 0: none */
static atomic_bool churn_started;      /* a first T was published */
/* Held by the churn thread for each call, by the checker while it checks. */
static pthread_mutex_t churn_lock = PTHREAD_MUTEX_INITIALIZER;

/* One run of user pages of a task charged to one cgroup. */
struct seg {
	int cg;
	long n;
};

struct task {
	int64_t handle;
	int cg;                 /* ledger index */
	int64_t cgh;            /* the handle of its cgroup (T: the incarnation) */
	int adj;
	bool sparse;
	int stack_cg;
	long stack;
	long rss, hw, pte, pagetables, pt_charged;
	long pt_at[NLEDGER];
	int nseg;
	struct seg segs[MAX_RSS];       /* oldest first */
};

/* A raw charge of a churned cgroup (its incarnation). */
struct tcharge {
	int64_t cg;
	int kmem;
	long n;
};

struct worker {
	int id;
	pthread_t tid;
	uint64_t rng;
	struct checks ck;
	struct task tasks[MAX_TASKS];
	int ntasks;
	long raw[NCG][2];               /* raw pages charged [cgroup][kmem] (counted ones) */
	long raw_total;
	struct tcharge tch[MAX_TCH];
	int ntch;
	long killed_in[NLEDGER];        /* tasks the OOM killer took, by their cgroup */
	int64_t dead[MAX_DEAD];
	int ndead, dead_pos;
	/* counts */
	unsigned long forks, fork_ok, fork_nomem, fork_stale, faults, fault_pages, fault_nomem,
		fault_esrch, fault_stale, unmaps, moves, exits, raw_charges, raw_refused,
		raw_uncharges, stale_rounds, drains, killed_seen, peeks;
};

static struct worker workers[MAX_THREADS];
/* Each thread's live task handles, for the others to peek at (0: none). */
static _Atomic int64_t published[MAX_THREADS][MAX_TASKS];

/* Totals over every run. */
static unsigned long tot_forks, tot_fork_ok, tot_fork_nomem, tot_faults, tot_fault_nomem,
	tot_fault_esrch, tot_killed, tot_raw_refused, tot_quiescent, tot_churned, tot_oom_events,
	tot_group_kills;

/* ------------------------------------------------------------------ */
/* Small helpers.                                                       */

static int pick_cpu(struct worker *w)
{
	return (int)(rnd(&w->rng) % (uint64_t)ncpus);
}

static long div_up(long a, long b)
{
	return a / b + (a % b != 0);
}

/* pte pages for a high-water mark of hw mapped pages. */
static long pte_for(bool sparse, long hw)
{
	return sparse ? hw : div_up(hw, 512);
}

static long tables_for(bool sparse, long hw)
{
	long pte = pte_for(sparse, hw), pmd = div_up(pte, 512), pud = div_up(pmd, 512);

	return pte + pmd + pud;
}

/* Is ledger cgroup c (an index of the tree) at or below `anc`? */
static bool below(int c, int anc)
{
	if (c == CH)
		c = A;          /* T lives below A */
	for (; c >= 0; c = parent_of[c])
		if (c == anc)
			return true;
	return false;
}

static int cg_index(int64_t handle)
{
	for (int c = 0; c < NCG; c++)
		if (cgh[c] == handle)
			return c;
	return -1;
}

static int64_t ledger_handle(int c)
{
	return c == CH ? atomic_load(&churn_cg) : cgh[c];
}

static void push_dead(struct worker *w, int64_t handle)
{
	w->dead[w->dead_pos] = handle;
	w->dead_pos = (w->dead_pos + 1) % MAX_DEAD;
	if (w->ndead < MAX_DEAD)
		w->ndead++;
}

static void publish(struct worker *w)
{
	for (int i = 0; i < MAX_TASKS; i++)
		atomic_store(&published[w->id][i], i < w->ntasks ? w->tasks[i].handle : 0);
}

static void drop_task(struct worker *w, int i)
{
	push_dead(w, w->tasks[i].handle);
	w->tasks[i] = w->tasks[--w->ntasks];
	publish(w);
}

/* The task is gone and its owner did not exit it: the OOM killer did. */
static void task_killed(struct worker *w, int i, const char *how)
{
	struct task *t = &w->tasks[i];
	struct pmc_task_info info;
	int64_t ret = pmc_task_info(h, t->handle, &info);

	CHECK(&w->ck, ret == -ESTALE, "task %" PRId64 " in %s: %s, yet info = %" PRId64,
	      t->handle, name_of[t->cg], how, ret);
	w->killed_in[t->cg]++;
	w->killed_seen++;
	drop_task(w, i);
}

static int pick_adj(struct worker *w)
{
	uint64_t r = rnd(&w->rng) % 10;

	if (r == 0)
		return -1000;
	if (r == 1)
		return 1000;
	if (r < 4)
		return 0;
	return (int)(rnd(&w->rng) % 1999) - 999;
}

/* ------------------------------------------------------------------ */
/* The ledger of one task against its pmc_task_info.                   */

static bool accounted(int c)
{
	return c != ROOT && kmem_on[c];
}

/*
 * After a call that returned 0 or -ENOMEM on a live task: read its info and
 * take the news into the ledger (faulted: the pages the call mapped; nomem:
 * it stopped on a refusal, the page tables of the refused page may be in).
 * False if the task was killed meanwhile (then dropped).
 */
static bool refresh(struct worker *w, int i, long faulted, bool nomem)
{
	struct task *t = &w->tasks[i];
	struct pmc_task_info info;
	int64_t ret = pmc_task_info(h, t->handle, &info);
	long hw1, hw2, d;
	bool full1, full2, upper_only;

	if (ret == -ESTALE) {
		task_killed(w, i, "info stale");
		return false;
	}
	CHECK(&w->ck, ret == 0, "info(%" PRId64 ") = %" PRId64, t->handle, ret);
	if (ret)
		return true;
	CHECK(&w->ck, info.handle == t->handle && info.cgroup == t->cgh &&
	      info.oom_score_adj == t->adj && info.sparse == (int)t->sparse &&
	      info.stack == t->stack, "task %" PRId64 ": info handle %" PRId64 " cgroup %" PRId64
	      " (%s %" PRId64 ") adj %d (%d) sparse %d stack %" PRId64 " (%ld)", t->handle,
	      info.handle, info.cgroup, name_of[t->cg], t->cgh, info.oom_score_adj, t->adj,
	      info.sparse, info.stack, t->stack);
	CHECK(&w->ck, info.rss == t->rss + faulted, "task %" PRId64 ": rss %" PRId64 ", ledger %ld"
	      " + %ld faulted", t->handle, info.rss, t->rss, faulted);
	/*
	 * The geometry: the tables follow the high-water mark of the mapping
	 * (hw1) and stay until exit.  A fault refused on a page may have
	 * installed its tables (hw2) or, top-down, only the upper levels
	 * (a level installed stays when a lower one is refused, as the
	 * kernel's walk does): only for a task's first page with at most
	 * MAX_RSS (< 512) pages mapped, the one page that needs more than one
	 * new table.
	 */
	hw1 = t->hw > t->rss + faulted ? t->hw : t->rss + faulted;
	hw2 = nomem && t->rss + faulted + 1 > hw1 ? t->rss + faulted + 1 : hw1;
	full1 = hw1 ? info.pte == pte_for(t->sparse, hw1) &&
		      info.pagetables == tables_for(t->sparse, hw1) :
		      info.pte == 0 && info.pagetables == t->pagetables;
	full2 = hw2 > hw1 && info.pte == pte_for(t->sparse, hw2) &&
		info.pagetables == tables_for(t->sparse, hw2);
	upper_only = hw2 > hw1 && !hw1 && info.pte == 0 && info.pagetables >= t->pagetables &&
		     info.pagetables <= 2;
	CHECK(&w->ck, full1 || full2 || upper_only, "task %" PRId64 " (%s): pte %" PRId64 " tables %"
	      PRId64 " (had %ld), expected %ld/%ld for %ld pages mapped at most (or %ld/%ld, or "
	      "upper levels only, for %ld)", t->handle, t->sparse ? "sparse" : "dense", info.pte,
	      info.pagetables, t->pagetables, pte_for(t->sparse, hw1), tables_for(t->sparse, hw1),
	      hw1, pte_for(t->sparse, hw2), tables_for(t->sparse, hw2), hw2);
	t->hw = full2 ? hw2 : hw1;
	d = (long)info.pagetables_charged - t->pt_charged;
	if (t->cg == CH && v38)
		CHECK(&w->ck, d == 0, "3.8 task %" PRId64 ": %ld page tables charged", t->handle, d);
	else
		CHECK(&w->ck, d == (pt_accounted && accounted(t->cg) ? info.pagetables - t->pagetables
				    : 0), "task %" PRId64 " in %s: %ld page tables charged, %" PRId64
		      " -> %" PRId64 " tables (accounted %d)", t->handle, name_of[t->cg], d,
		      t->pagetables, info.pagetables, pt_accounted && accounted(t->cg));
	CHECK(&w->ck, d >= 0, "task %" PRId64 ": pagetables_charged went down by %ld", t->handle,
	      -d);
	t->pt_at[t->cg] += d;
	t->pt_charged = info.pagetables_charged;
	t->pagetables = info.pagetables;
	t->pte = info.pte;
	if (faulted > 0) {
		if (t->nseg && t->segs[t->nseg - 1].cg == t->cg)
			t->segs[t->nseg - 1].n += faulted;
		else
			t->segs[t->nseg++] = (struct seg){ t->cg, faulted };
		t->rss += faulted;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* The operations of the workers.                                       */

static void op_fork(struct worker *w)
{
	int cg, cpu = pick_cpu(w), adj = pick_adj(w);
	bool sparse = rnd(&w->rng) % 4 == 0;
	uint64_t r = rnd(&w->rng) % 50;
	int64_t cgroup, ret;
	struct pmc_task_info info;
	struct task *t;

	if (r == 0)
		cg = ROOT;
	else if (churning && r < 12)
		cg = CH;
	else
		cg = 1 + (int)(rnd(&w->rng) % (NCG - 1));
	cgroup = ledger_handle(cg);
	if (!cgroup)
		return;
	w->forks++;
	ret = pmc_task_fork(h, cgroup, cpu, adj, sparse ? PMC_FORK_SPARSE : 0);
	if (ret == -ENOMEM) {
		w->fork_nomem++;
		return;
	}
	if (ret == -ESTALE && cg == CH) {
		w->fork_stale++;
		return;
	}
	CHECK(&w->ck, ret > 0, "fork(%s %" PRId64 ", adj %d) = %" PRId64, name_of[cg], cgroup, adj,
	      ret);
	if (ret <= 0)
		return;
	w->fork_ok++;
	for (int i = 0; i < w->ndead; i++)
		CHECK(&w->ck, w->dead[i] != ret, "fork returned %" PRId64 ", a dead task's handle",
		      ret);
	t = &w->tasks[w->ntasks++];
	memset(t, 0, sizeof(*t));
	t->handle = ret;
	t->cg = cg;
	t->cgh = cgroup;
	t->adj = adj;
	t->sparse = sparse;
	t->stack_cg = cg;
	publish(w);
	ret = pmc_task_info(h, t->handle, &info);
	if (ret == -ESTALE) {           /* killed at once by another thread's OOM */
		task_killed(w, w->ntasks - 1, "just forked");
		return;
	}
	CHECK(&w->ck, ret == 0, "info(new task) = %" PRId64, ret);
	t->stack = ret == 0 ? info.stack : 0;
	CHECK(&w->ck, t->stack == (accounted(cg) ? stack_pages : 0), "fork in %s: stack %ld, "
	      "expected %d", name_of[cg], t->stack, accounted(cg) ? stack_pages : 0);
	refresh(w, w->ntasks - 1, 0, false);
}

static void op_fault(struct worker *w, int i)
{
	struct task *t = &w->tasks[i];
	long room = MAX_RSS - t->rss, n;
	int64_t ret, done = -1;

	if (room <= 0)
		return;
	n = 1 + (long)(rnd(&w->rng) % 12);
	if (n > room)
		n = room;
	w->faults++;
	ret = pmc_task_fault(h, t->handle, n, pick_cpu(w), &done);
	if (ret == -ESTALE) {
		struct pmc_task_info info;
		bool live = pmc_task_info(h, t->handle, &info) == 0;

		/*
		 * -ESTALE only for a task dead before the call: a fault whose
		 * task moved on from a cgroup removed meanwhile charges where
		 * the task is now, and one killed meanwhile says -ESRCH.
		 */
		CHECK(&w->ck, !live && done == 0, "fault(%ld) = -ESTALE, %" PRId64 " pages done, the "
		      "task %s (in %s): its cgroup went offline mid-fault", n, done,
		      live ? "alive" : "killed", name_of[t->cg]);
		if (live) {
			w->fault_stale++;
			refresh(w, i, done, true);
			return;
		}
	}
	if (ret == -ESRCH || ret == -ESTALE) {
		if (ret == -ESRCH)
			w->fault_esrch++;
		else
			w->fault_stale++;
		task_killed(w, i, ret == -ESRCH ? "fault -ESRCH" : "fault -ESTALE");
		return;
	}
	CHECK(&w->ck, ret == 0 || ret == -ENOMEM, "fault(%ld) = %" PRId64, n, ret);
	CHECK(&w->ck, ret == 0 ? done == n : done >= 0 && done < n, "fault(%ld) = %" PRId64
	      ", done %" PRId64, n, ret, done);
	if (ret == -ENOMEM)
		w->fault_nomem++;
	if (ret != 0 && ret != -ENOMEM)
		return;
	w->fault_pages += (unsigned long)done;
	refresh(w, i, done, ret == -ENOMEM);
}

static void op_unmap(struct worker *w, int i)
{
	struct task *t = &w->tasks[i];
	long n;
	int64_t ret;

	if (rnd(&w->rng) % 16 == 0) {
		ret = pmc_task_unmap(h, t->handle, t->rss + 1, pick_cpu(w));
		if (ret == -ESTALE) {
			task_killed(w, i, "unmap -ESTALE");
			return;
		}
		CHECK(&w->ck, ret == -EINVAL, "unmap(rss + 1) = %" PRId64, ret);
		return;
	}
	if (!t->rss)
		return;
	n = 1 + (long)(rnd(&w->rng) % (uint64_t)t->rss);
	w->unmaps++;
	ret = pmc_task_unmap(h, t->handle, n, pick_cpu(w));
	if (ret == -ESTALE) {
		task_killed(w, i, "unmap -ESTALE");
		return;
	}
	CHECK(&w->ck, ret == 0, "unmap(%ld of %ld) = %" PRId64, n, t->rss, ret);
	if (ret)
		return;
	t->rss -= n;
	while (n) {
		struct seg *s = &t->segs[t->nseg - 1];
		long k = s->n < n ? s->n : n;

		s->n -= k;
		n -= k;
		if (!s->n)
			t->nseg--;
	}
	refresh(w, i, 0, false);
}

static void op_move(struct worker *w, int i, int to)
{
	struct task *t = &w->tasks[i];
	int64_t cgroup = ledger_handle(to), ret;
	struct pmc_task_info info;

	if (!cgroup)
		return;
	w->moves++;
	ret = pmc_task_move(h, t->handle, cgroup);
	if (ret == 0) {
		t->cg = to;
		t->cgh = cgroup;
		refresh(w, i, 0, false);
		return;
	}
	CHECK(&w->ck, ret == -ESTALE, "move(%s -> %s) = %" PRId64, name_of[t->cg], name_of[to],
	      ret);
	if (to == CH && pmc_task_info(h, t->handle, &info) == 0)
		return;                 /* T was removed meanwhile */
	task_killed(w, i, "move -ESTALE");
}

static void op_exit(struct worker *w, int i)
{
	int64_t ret = pmc_task_exit(h, w->tasks[i].handle, pick_cpu(w));

	w->exits++;
	if (ret == -ESTALE) {
		task_killed(w, i, "exit -ESTALE");
		return;
	}
	CHECK(&w->ck, ret == 0, "exit = %" PRId64, ret);
	drop_task(w, i);
}

static void op_raw_uncharge(struct worker *w)
{
	int64_t ret;
	long n;

	if (w->ntch && rnd(&w->rng) % 3 == 0) {
		struct tcharge *c = &w->tch[rnd(&w->rng) % (uint64_t)w->ntch];

		ret = pmc_cgroup_uncharge(h, c->cg, c->n, pick_cpu(w), c->kmem);
		/*
		 * 3.8: offline moved T's user pages to A; T, with no kernel
		 * page left, was freed: they come off A.
		 */
		if (ret == -ESTALE && v38 && !c->kmem)
			ret = pmc_cgroup_uncharge(h, cgh[A], c->n, pick_cpu(w), 0);
		CHECK(&w->ck, ret == 0, "uncharge(T %" PRId64 ", %ld, kmem %d) = %" PRId64, c->cg,
		      c->n, c->kmem, ret);
		w->raw_total -= c->n;
		*c = w->tch[--w->ntch];
		w->raw_uncharges++;
		return;
	}
	for (int tries = 0; tries < 8; tries++) {
		int c = (int)(rnd(&w->rng) % NCG), k = (int)(rnd(&w->rng) % 2);

		if (!w->raw[c][k])
			continue;
		n = 1 + (long)(rnd(&w->rng) % (uint64_t)w->raw[c][k]);
		ret = pmc_cgroup_uncharge(h, cgh[c], n, pick_cpu(w), k);
		CHECK(&w->ck, ret == 0, "uncharge(%s, %ld, kmem %d) = %" PRId64, name_of[c], n, k,
		      ret);
		w->raw[c][k] -= n;
		w->raw_total -= n;
		w->raw_uncharges++;
		return;
	}
}

static void op_raw_charge(struct worker *w)
{
	int c, kmem = (int)(rnd(&w->rng) % 2);
	long n = 1 + (long)(rnd(&w->rng) % 8);
	uint64_t r = rnd(&w->rng) % 10;
	uint32_t gfp = r < 7 ? GFP_KERNEL : r < 9 ? GFP_NOWAIT : GFP_KERNEL | PMC_GFP_NORETRY;
	int64_t cgroup, ret;
	int over;

	if (w->raw_total + n > RAW_CAP) {
		op_raw_uncharge(w);
		return;
	}
	c = churning && rnd(&w->rng) % 6 == 0 ? CH : 1 + (int)(rnd(&w->rng) % (NCG - 1));
	if (c == CH && w->ntch == MAX_TCH)
		return;
	cgroup = ledger_handle(c);
	if (!cgroup)
		return;
	w->raw_charges++;
	ret = pmc_cgroup_try_charge(h, cgroup, n, pick_cpu(w), gfp, kmem);
	if (ret == -ESTALE && c == CH)
		return;
	if (ret > 0) {
		w->raw_refused++;
		over = cg_index(ret);
		if (c == CH)
			CHECK(&w->ck, ret == cgroup || over == A || over == ROOT, "charge(T) refused by "
			      "%" PRId64, ret);
		else
			CHECK(&w->ck, over >= 0 && below(c, over), "charge(%s) refused by %" PRId64
			      " (%s)", name_of[c], ret, over >= 0 ? name_of[over] : "?");
		return;
	}
	CHECK(&w->ck, ret == 0, "charge(%s, %ld, gfp %u, kmem %d) = %" PRId64, name_of[c], n, gfp,
	      kmem, ret);
	if (ret)
		return;
	if (c == CH) {
		w->tch[w->ntch++] = (struct tcharge){ cgroup, kmem, n };
		w->raw_total += n;
	} else if (!kmem || accounted(c)) {
		w->raw[c][kmem] += n;
		w->raw_total += n;
	}
}

/* Every call with a dead task's handle: -ESTALE, whatever reused its slot. */
static void op_stale(struct worker *w)
{
	struct pmc_task_info info;
	int64_t t, ret, done = -1;

	if (!w->ndead)
		return;
	t = w->dead[rnd(&w->rng) % (uint64_t)w->ndead];
	w->stale_rounds++;
	ret = pmc_task_info(h, t, &info);
	CHECK(&w->ck, ret == -ESTALE, "info(dead %" PRId64 ") = %" PRId64 " (handle %" PRId64 ")",
	      t, ret, ret == 0 ? info.handle : 0);
	ret = pmc_task_fault(h, t, 1, pick_cpu(w), &done);
	CHECK(&w->ck, ret == -ESTALE && done == 0, "fault(dead %" PRId64 ") = %" PRId64 ", done %"
	      PRId64, t, ret, done);
	ret = pmc_task_unmap(h, t, 0, pick_cpu(w));
	CHECK(&w->ck, ret == -ESTALE, "unmap(dead %" PRId64 ") = %" PRId64, t, ret);
	ret = pmc_task_move(h, t, cgh[A1]);
	CHECK(&w->ck, ret == -ESTALE, "move(dead %" PRId64 ") = %" PRId64, t, ret);
	ret = pmc_task_exit(h, t, pick_cpu(w));
	CHECK(&w->ck, ret == -ESTALE, "exit(dead %" PRId64 ") = %" PRId64, t, ret);
	/* A cgroup handle is no task handle, nor a task handle a cgroup's. */
	ret = pmc_task_info(h, cgh[A1], &info);
	CHECK(&w->ck, ret == -EINVAL, "info(a cgroup handle) = %" PRId64, ret);
	ret = pmc_cgroup_tasks(h, t, NULL, 0);
	CHECK(&w->ck, ret == -EINVAL || ret == -ESTALE, "tasks(a task handle) = %" PRId64, ret);
}

/*
 * Calls that change nothing on another thread's task, while its owner
 * works on it and the OOM killer may take it: 0 or -ESTALE, and a
 * consistent info.
 */
static void op_peek(struct worker *w)
{
	int other = (int)(rnd(&w->rng) % (uint64_t)nthreads);
	int64_t t = atomic_load(&published[other][rnd(&w->rng) % MAX_TASKS]), ret, done = -1;
	struct pmc_task_info info;

	if (!t)
		return;
	ret = pmc_task_info(h, t, &info);
	CHECK(&w->ck, ret == 0 || ret == -ESTALE, "peek: info = %" PRId64, ret);
	if (ret == 0)
		CHECK(&w->ck, info.handle == t && info.cgroup > 0 && info.rss >= 0 &&
		      info.rss <= MAX_RSS && info.oom_score_adj >= -1000 &&
		      info.oom_score_adj <= 1000 && (info.stack == 0 || info.stack == stack_pages) &&
		      info.pte <= info.pagetables && info.pagetables_charged <= info.pagetables &&
		      (info.pte ? info.pagetables == info.pte + 2 : info.pagetables <= 2),
		      "peek: task %" PRId64
		      ": handle %" PRId64 " cgroup %" PRId64 " rss %" PRId64 " adj %d stack %" PRId64
		      " pte %" PRId64 " tables %" PRId64 " charged %" PRId64, t, info.handle,
		      info.cgroup, info.rss, info.oom_score_adj, info.stack, info.pte,
		      info.pagetables, info.pagetables_charged);
	ret = pmc_task_fault(h, t, 0, pick_cpu(w), &done);
	CHECK(&w->ck, (ret == 0 || ret == -ESTALE) && done == 0, "peek: fault(0) = %" PRId64
	      ", done %" PRId64, ret, done);
	ret = pmc_task_unmap(h, t, 0, pick_cpu(w));
	CHECK(&w->ck, ret == 0 || ret == -ESTALE, "peek: unmap(0) = %" PRId64, ret);
	w->peeks++;
}

/* Tasks left in a T that is no longer the published one move out. */
static void evict(struct worker *w)
{
	int64_t cur = atomic_load(&churn_cg);

	for (int i = 0; i < w->ntasks; i++) {
		if (w->tasks[i].cg == CH && w->tasks[i].cgh != cur) {
			int n = w->ntasks;

			op_move(w, i, A1 + (int)(rnd(&w->rng) % 2));
			if (w->ntasks < n)
				i--;    /* killed: another task took its place */
		}
	}
}

static void one_op(struct worker *w)
{
	uint64_t r = rnd(&w->rng) % 100;
	int i = w->ntasks ? (int)(rnd(&w->rng) % (uint64_t)w->ntasks) : -1;

	if (churning)
		evict(w);
	if (i >= w->ntasks)
		i = w->ntasks ? w->ntasks - 1 : -1;
	if (r < 14 || i < 0) {
		if (w->ntasks < MAX_TASKS)
			op_fork(w);
		else
			op_exit(w, i);
	} else if (r < 46) {
		op_fault(w, i);
	} else if (r < 54) {
		op_unmap(w, i);
	} else if (r < 62) {
		uint64_t to = rnd(&w->rng) % 40;

		op_move(w, i, to == 0 ? ROOT : churning && to < 8 ? CH :
			1 + (int)(rnd(&w->rng) % (NCG - 1)));
	} else if (r < 69) {
		op_exit(w, i);
	} else if (r < 82) {
		op_raw_charge(w);
	} else if (r < 93) {
		op_raw_uncharge(w);
	} else if (r < 96) {
		op_stale(w);
	} else if (r < 97) {
		int64_t ret = pmc_hierarchy_drain(h, pick_cpu(w));

		CHECK(&w->ck, ret == 0, "drain = %" PRId64, ret);
		w->drains++;
	} else if (r < 99) {
		op_peek(w);
	} else {
		refresh(w, i, 0, false);
	}
}

/* ------------------------------------------------------------------ */
/* Quiescent checks.                                                    */

struct expect {
	long user[NLEDGER], kmem[NLEDGER], stack[NLEDGER], pt[NLEDGER], tasks[NLEDGER];
	long killed[NLEDGER], killed_all;
};

static void gather(struct expect *e)
{
	memset(e, 0, sizeof(*e));
	for (int k = 0; k < nthreads; k++) {
		struct worker *w = &workers[k];

		for (int c = 0; c < NCG; c++) {
			e->user[c] += w->raw[c][0];
			e->kmem[c] += w->raw[c][1];
		}
		for (int c = 0; c < NLEDGER; c++) {
			e->killed[c] += w->killed_in[c];
			e->killed_all += w->killed_in[c];
		}
		for (int i = 0; i < w->ntasks; i++) {
			struct task *t = &w->tasks[i];

			e->tasks[t->cg]++;
			for (int s = 0; s < t->nseg; s++)
				e->user[t->segs[s].cg] += t->segs[s].n;
			for (int c = 0; c < NLEDGER; c++) {
				e->pt[c] += t->pt_at[c];
				e->kmem[c] += t->pt_at[c];
			}
			e->stack[t->stack_cg] += t->stack;
			e->kmem[t->stack_cg] += t->stack;
		}
	}
	/* The root is never charged. */
	e->user[ROOT] = e->kmem[ROOT] = e->stack[ROOT] = e->pt[ROOT] = 0;
}

/* Pages the CPUs' stocks hold for each cgroup of the tree. */
static void stocked(struct checks *ck, long *out)
{
	memset(out, 0, sizeof(long) * NCG);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		int64_t cached[MAX_STOCK];
		uint64_t pages[MAX_STOCK];
		int64_t n = pmc_hierarchy_stock(h, cpu, cached, pages, MAX_STOCK);

		CHECK(ck, n > 0 && n <= MAX_STOCK, "stock(%d) = %" PRId64, cpu, n);
		for (int64_t i = 0; i < n && i < MAX_STOCK; i++) {
			int c;

			if (!cached[i])
				continue;
			c = cg_index(cached[i]);
			if (c >= 0)
				out[c] += (long)pages[i];
			else
				CHECK(ck, pages[i] == 0 || churning, "cpu %d caches %" PRIu64 " pages "
				      "of an unknown cgroup %" PRId64, cpu, pages[i], cached[i]);
		}
	}
}

static uint64_t usage_of(struct checks *ck, int c, int counter)
{
	struct pmc_page_counter_info pc;
	int64_t ret = pmc_cgroup_counter(h, cgh[c], counter, &pc);

	CHECK(ck, ret == 0, "counter(%s, %d) = %" PRId64, name_of[c], counter, ret);
	return ret ? 0 : pc.usage;
}

/* Events and the kills the ledgers saw: checks that hold whenever nothing is in flight. */
static void check_events(struct checks *ck, const struct expect *e)
{
	struct pmc_cgroup_info info[NCG];
	long sum_kill = 0, sum_group = 0, kills = 0, sum_oom = 0;

	for (int c = 0; c < NCG; c++) {
		int64_t ret = pmc_cgroup_info(h, cgh[c], &info[c]);

		CHECK(ck, ret == 0, "info(%s) = %" PRId64, name_of[c], ret);
		if (ret)
			return;
	}
	for (int c = 0; c < NCG; c++) {
		const int64_t *loc = info[c].events_local, *ev = info[c].events;

		sum_kill += loc[PMC_EVENT_OOM_KILL];
		sum_group += loc[PMC_EVENT_OOM_GROUP_KILL];
		sum_oom += loc[PMC_EVENT_OOM];
		kills += e->killed[c];
		CHECK(ck, loc[PMC_EVENT_MAX] >= loc[PMC_EVENT_OOM], "%s: local max %" PRId64
		      " < local oom %" PRId64, name_of[c], loc[PMC_EVENT_MAX], loc[PMC_EVENT_OOM]);
		CHECK(ck, group_on[c] || loc[PMC_EVENT_OOM_GROUP_KILL] == 0, "%s: %" PRId64
		      " oom_group_kill without memory.oom.group", name_of[c],
		      loc[PMC_EVENT_OOM_GROUP_KILL]);
		CHECK(ck, loc[PMC_EVENT_OOM_KILL] >= e->killed[c], "%s: local oom_kill %" PRId64
		      " < %ld tasks killed there", name_of[c], loc[PMC_EVENT_OOM_KILL], e->killed[c]);
		if (version == 1)
			CHECK(ck, loc[PMC_EVENT_OOM_KILL] == e->killed[c], "%s: local oom_kill %"
			      PRId64 " != %ld tasks killed there (no oom.group on v1)", name_of[c],
			      loc[PMC_EVENT_OOM_KILL], e->killed[c]);
		for (int ev_i = 0; ev_i < PMC_NR_EVENTS; ev_i++) {
			long sub = 0;

			if (version != 2 || c == ROOT) {
				CHECK(ck, ev[ev_i] == loc[ev_i], "%s: event %d %" PRId64 ", local %"
				      PRId64, name_of[c], ev_i, ev[ev_i], loc[ev_i]);
				continue;
			}
			for (int d = 0; d < NCG; d++)
				if (below(d, c))
					sub += info[d].events_local[ev_i];
			/* A: a churned T's local events went with it. */
			if (churned && c == A)
				CHECK(ck, ev[ev_i] >= sub, "%s: event %d %" PRId64 " < its subtree's "
				      "local events %ld", name_of[c], ev_i, ev[ev_i], sub);
			else
				CHECK(ck, ev[ev_i] == sub, "%s: event %d %" PRId64 ", its subtree's "
				      "local events %ld", name_of[c], ev_i, ev[ev_i], sub);
		}
		if (version == 2)
			CHECK(ck, 2 * ev[PMC_EVENT_OOM_GROUP_KILL] <= ev[PMC_EVENT_OOM_KILL],
			      "%s: oom_group_kill %" PRId64 ", oom_kill %" PRId64, name_of[c],
			      ev[PMC_EVENT_OOM_GROUP_KILL], ev[PMC_EVENT_OOM_KILL]);
	}
	/* Each kill is one oom_kill event; a group's victim is counted twice. */
	CHECK(ck, sum_kill == kills + sum_group, "oom_kill events %ld != %ld tasks killed + %ld "
	      "group kills", sum_kill, kills, sum_group);
	CHECK(ck, kills == 0 || sum_oom > 0, "%ld kills, no oom event", kills);
	CHECK(ck, sum_group <= sum_oom, "%ld group kills, %ld oom events", sum_group, sum_oom);
}

/* With nothing in flight: the counters, stats and tasks against the ledgers. */
static void quiescent_check(struct checks *ck, bool drained)
{
	struct expect e;
	long stock[NCG], sub_pages[NCG] = { 0 }, sub_stock[NCG] = { 0 }, sub_kmem[NCG] = { 0 };
	long sub_user[NCG] = { 0 }, sub_stack[NCG] = { 0 }, sub_pt[NCG] = { 0 };

	tot_quiescent++;
	gather(&e);
	stocked(ck, stock);
	for (int c = 0; c < NCG; c++)
		for (int d = 0; d < NCG; d++)
			if (below(d, c)) {
				sub_pages[c] += e.user[d] + e.kmem[d];
				sub_user[c] += e.user[d];
				sub_kmem[c] += e.kmem[d];
				sub_stack[c] += e.stack[d];
				sub_pt[c] += e.pt[d];
				sub_stock[c] += stock[d];
			}
	for (int c = 0; c < NCG; c++) {
		int64_t st[PMC_NR_STATS], sst[PMC_NR_STATS], tasks[MAX_THREADS * MAX_TASKS + 1];
		uint64_t mem = usage_of(ck, c, PMC_COUNTER_MEMORY);
		struct pmc_cgroup_info info;
		int64_t ret, n;

		if (drained)
			CHECK(ck, stock[c] == 0, "%s: %ld pages in the stocks after a drain",
			      name_of[c], stock[c]);
		if (!exact[c]) {
			CHECK(ck, (long)mem >= sub_pages[c] + sub_stock[c], "%s: usage %" PRIu64
			      " < ledgers %ld + stocks %ld", name_of[c], mem, sub_pages[c],
			      sub_stock[c]);
			continue;
		}
		CHECK(ck, (long)mem == sub_pages[c] + sub_stock[c], "%s: usage %" PRIu64 " != "
		      "ledgers %ld (user %ld, kernel %ld: stacks %ld, tables %ld) + stocks %ld",
		      name_of[c], mem, sub_pages[c], sub_user[c], sub_kmem[c], sub_stack[c],
		      sub_pt[c], sub_stock[c]);
		/* failcnt (a racy increment: it may even go back) only where the era counts. */
		for (int i = 0; i < ncounters; i++) {
			struct pmc_page_counter_info pc;

			if (failcnt_mode == PMC_FAILCNT_ALL ||
			    (failcnt_mode == PMC_FAILCNT_MEMORY && i == PMC_COUNTER_MEMORY))
				continue;
			CHECK(ck, pmc_cgroup_counter(h, cgh[c], i, &pc) == 0 && pc.failcnt == 0,
			      "%s: counter %d failcnt %" PRIu64 " (config failcnt %d)", name_of[c], i,
			      pc.failcnt, failcnt_mode);
		}
		if (memsw)
			CHECK(ck, usage_of(ck, c, PMC_COUNTER_MEMSW) == mem, "%s: memsw %" PRIu64
			      " != memory %" PRIu64, name_of[c], usage_of(ck, c, PMC_COUNTER_MEMSW),
			      mem);
		if (version == 1)
			CHECK(ck, (long)usage_of(ck, c, PMC_COUNTER_KMEM) == sub_kmem[c], "%s: kmem %"
			      PRIu64 " != ledgers' kernel pages %ld", name_of[c],
			      usage_of(ck, c, PMC_COUNTER_KMEM), sub_kmem[c]);
		ret = pmc_cgroup_stat(h, cgh[c], 0, st, PMC_NR_STATS);
		CHECK(ck, ret == PMC_NR_STATS, "stat(%s) = %" PRId64, name_of[c], ret);
		ret = pmc_cgroup_stat(h, cgh[c], 1, sst, PMC_NR_STATS);
		CHECK(ck, ret == PMC_NR_STATS, "stat(%s, subtree) = %" PRId64, name_of[c], ret);
		/*
		 * A's own stats took the uncharges of freed T's pages; their
		 * charges are in its subtree's (the freed descendants' share).
		 */
		CHECK(ck, (churned && c == A) ||
		      (st[PMC_STAT_ANON] == e.user[c] && st[PMC_STAT_KERNEL] == e.kmem[c] &&
		      st[PMC_STAT_KERNEL_STACK] == e.stack[c] && st[PMC_STAT_PAGETABLES] == e.pt[c]),
		      "%s stat anon/kernel/kernel_stack/pagetables %" PRId64 "/%" PRId64 "/%" PRId64
		      "/%" PRId64 ", ledgers %ld/%ld/%ld/%ld", name_of[c], st[0], st[1], st[2], st[3],
		      e.user[c], e.kmem[c], e.stack[c], e.pt[c]);
		CHECK(ck, sst[PMC_STAT_ANON] == sub_user[c] && sst[PMC_STAT_KERNEL] == sub_kmem[c] &&
		      sst[PMC_STAT_KERNEL_STACK] == sub_stack[c] &&
		      sst[PMC_STAT_PAGETABLES] == sub_pt[c], "%s subtree stat %" PRId64 "/%" PRId64
		      "/%" PRId64 "/%" PRId64 ", ledgers %ld/%ld/%ld/%ld", name_of[c], sst[0], sst[1],
		      sst[2], sst[3], sub_user[c], sub_kmem[c], sub_stack[c], sub_pt[c]);
		ret = pmc_cgroup_info(h, cgh[c], &info);
		CHECK(ck, ret == 0 && info.nr_tasks == e.tasks[c], "%s: nr_tasks %" PRId64 ", ledgers "
		      "%ld", name_of[c], info.nr_tasks, e.tasks[c]);
		n = pmc_cgroup_tasks(h, cgh[c], tasks, MAX_THREADS * MAX_TASKS + 1);
		CHECK(ck, n == e.tasks[c], "%s: pmc_cgroup_tasks = %" PRId64 ", ledgers %ld",
		      name_of[c], n, e.tasks[c]);
		for (int64_t i = 0; i < n && i <= MAX_THREADS * MAX_TASKS; i++) {
			bool found = false;

			for (int k = 0; k < nthreads && !found; k++)
				for (int j = 0; j < workers[k].ntasks && !found; j++)
					found = workers[k].tasks[j].handle == tasks[i] &&
						workers[k].tasks[j].cg == c;
			CHECK(ck, found, "%s lists task %" PRId64 ", which no ledger has there",
			      name_of[c], tasks[i]);
		}
	}
	check_events(ck, &e);
}

/* At a barrier: each thread makes sure of its tasks (which may have been killed), then one checks. */
static void meet(struct worker *w, long round)
{
	/* Once every thread has stopped, no OOM kill can take a task any more. */
	pthread_barrier_wait(&barrier);
	for (int i = w->ntasks - 1; i >= 0; i--)
		refresh(w, i, 0, false);
	if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
		struct checks *ck = &w->ck;
		int64_t ret = 0;

		/* The churn thread's remove drains stocks: it waits meanwhile. */
		pthread_mutex_lock(&churn_lock);
		quiescent_check(ck, false);
		switch (round % 3) {
		case 0:
			ret = pmc_hierarchy_drain_all(h, 0);
			break;
		case 1:
			ret = pmc_hierarchy_drain_all(h, cgh[A]);
			ret |= pmc_hierarchy_drain_all(h, cgh[B]);
			ret |= pmc_hierarchy_drain_all(h, cgh[K]);
			break;
		case 2:
			for (int cpu = 0; cpu < ncpus; cpu++)
				ret |= pmc_hierarchy_drain(h, cpu);
			break;
		}
		CHECK(ck, ret == 0, "drain (round %ld) = %" PRId64, round, ret);
		quiescent_check(ck, true);
		pthread_mutex_unlock(&churn_lock);
	}
	pthread_barrier_wait(&barrier);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	/* The churn phase starts with a T to churn. */
	while (churning && !atomic_load(&churn_started))
		sched_yield();

	for (long op = 0; op < ops_per_thread; op++) {
		if (op && op % CHECK_EVERY == 0)
			meet(w, op / CHECK_EVERY);
		one_op(w);
	}
	meet(w, 0);
	return NULL;
}

/* The end: every task exits, every raw charge goes back. */
static void *worker_end(void *arg)
{
	struct worker *w = arg;

	while (w->ntasks)
		op_exit(w, w->ntasks - 1);
	for (int c = 0; c < NCG; c++)
		for (int k = 0; k < 2; k++) {
			if (w->raw[c][k]) {
				int64_t ret = pmc_cgroup_uncharge(h, cgh[c], w->raw[c][k], pick_cpu(w), k);

				CHECK(&w->ck, ret == 0, "uncharge(%s, %ld) = %" PRId64, name_of[c],
				      w->raw[c][k], ret);
				w->raw_total -= w->raw[c][k];
				w->raw[c][k] = 0;
			}
		}
	while (w->ntch)
		op_raw_uncharge(w);
	/* Dead handles stay dead. */
	for (int i = 0; i < w->ndead; i++) {
		struct pmc_task_info info;
		int64_t ret = pmc_task_info(h, w->dead[i], &info);

		CHECK(&w->ck, ret == -ESTALE, "info(dead %" PRId64 ") = %" PRId64 " at the end",
		      w->dead[i], ret);
	}
	return NULL;
}

static void run_workers(void *(*fn)(void *))
{
	for (int t = 0; t < nthreads; t++)
		if (pthread_create(&workers[t].tid, NULL, fn, &workers[t])) {
			perror("pthread_create");
			exit(1);
		}
	for (int t = 0; t < nthreads; t++)
		pthread_join(workers[t].tid, NULL);
}

/* ------------------------------------------------------------------ */
/* The monitor and the churn thread.                                    */

struct monitor {
	pthread_t tid;
	struct checks ck;
	unsigned long rounds;
	int64_t peak_over;
};

static void *monitor_main(void *arg)
{
	struct monitor *m = arg;
	int64_t last_ev[NCG][2][PMC_NR_EVENTS];
	const struct timespec pause = { 0, 200000 };

	memset(last_ev, 0, sizeof(last_ev));
	while (!atomic_load(&stop_monitor)) {
		for (int c = 0; c < NCG; c++) {
			struct pmc_cgroup_info info;
			int64_t ret;

			for (int i = 0; i < ncounters; i++) {
				struct pmc_page_counter_info pc;

				ret = pmc_cgroup_counter(h, cgh[c], i, &pc);
				CHECK(&m->ck, ret == 0, "monitor: counter(%s, %d) = %" PRId64,
				      name_of[c], i, ret);
				if (ret)
					continue;
				/* try_charge adds, then takes back what does not fit: a batch a thread. */
				CHECK(&m->ck, (int64_t)pc.usage >= 0 && (pc.max == (uint64_t)UNLIMITED ||
				      pc.usage <= pc.max + (uint64_t)(nthreads + 1) * (uint64_t)batch),
				      "monitor: %s counter %d usage %" PRId64 " max %" PRIu64,
				      name_of[c], i, (int64_t)pc.usage, pc.max);
				if (pc.max != (uint64_t)UNLIMITED && (int64_t)(pc.usage - pc.max) >
				    m->peak_over)
					m->peak_over = (int64_t)(pc.usage - pc.max);
			}
			ret = pmc_cgroup_info(h, cgh[c], &info);
			CHECK(&m->ck, ret == 0 && info.state == 1, "monitor: info(%s) = %" PRId64
			      " state %d", name_of[c], ret, info.state);
			if (ret)
				continue;
			CHECK(&m->ck, info.nr_tasks >= 0 && info.nr_tasks <= nthreads * MAX_TASKS,
			      "monitor: %s nr_tasks %" PRId64, name_of[c], info.nr_tasks);
			for (int e = 0; e < PMC_NR_EVENTS; e++) {
				CHECK(&m->ck, info.events[e] >= last_ev[c][0][e] &&
				      info.events_local[e] >= last_ev[c][1][e], "monitor: %s event %d "
				      "went down: %" PRId64 " -> %" PRId64 " (local %" PRId64 " -> %"
				      PRId64 ")", name_of[c], e, last_ev[c][0][e], info.events[e],
				      last_ev[c][1][e], info.events_local[e]);
				last_ev[c][0][e] = info.events[e];
				last_ev[c][1][e] = info.events_local[e];
			}
		}
		m->rounds++;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

struct churner {
	pthread_t tid;
	struct checks ck;
	uint64_t rng;
	unsigned long incarnations, busy;
};

static void *churn_main(void *arg)
{
	struct churner *ch = arg;
	static const char *const names[2] = { "T0", "T1" };

	for (unsigned long i = 0; !atomic_load(&stop_churn); i++) {
		int64_t t, ret;

		pthread_mutex_lock(&churn_lock);
		t = pmc_cgroup_create(h, cgh[A], names[i & 1]);
		CHECK(&ch->ck, t > 0, "create(T) = %" PRId64, t);
		if (t <= 0) {
			pthread_mutex_unlock(&churn_lock);
			break;
		}
		ret = pmc_cgroup_set_max(h, t, PMC_COUNTER_MEMORY, T_MAX);
		CHECK(&ch->ck, ret == 0, "set_max(T) = %" PRId64, ret);
		if (v38) {
			ret = pmc_cgroup_set_max(h, t, PMC_COUNTER_KMEM, T_KMEM_MAX);
			CHECK(&ch->ck, ret == 0, "set_max(T, kmem) = %" PRId64, ret);
			ret = pmc_cgroup_activate_kmem(h, t);
			CHECK(&ch->ck, ret == 0, "activate_kmem(T) = %" PRId64, ret);
		}
		atomic_store(&churn_cg, t);
		atomic_store(&churn_started, true);
		pthread_mutex_unlock(&churn_lock);
		for (int k = 0; k < 20 + (int)(rnd(&ch->rng) % 40); k++)
			sched_yield();
		atomic_store(&churn_cg, 0);
		for (;;) {
			pthread_mutex_lock(&churn_lock);
			ret = pmc_cgroup_remove(h, t);
			pthread_mutex_unlock(&churn_lock);
			if (ret != -EBUSY)
				break;
			ch->busy++;
			sched_yield();
		}
		CHECK(&ch->ck, ret == 0, "remove(T) = %" PRId64, ret);
		ch->incarnations++;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Exact scenarios, one thread.                                         */

static int64_t new_h(struct checks *ck, const struct pmc_config *cfg)
{
	int64_t hh = pmc_hierarchy_new(cfg);

	CHECK(ck, hh > 0, "pmc_hierarchy_new = %" PRId64, hh);
	return hh;
}

static int64_t mk(struct checks *ck, int64_t hh, int64_t parent, const char *name, int64_t max)
{
	int64_t cg = pmc_cgroup_create(hh, parent, name);

	CHECK(ck, cg > 0, "create(%s) = %" PRId64, name, cg);
	if (cg > 0 && max != UNLIMITED)
		CHECK(ck, pmc_cgroup_set_max(hh, cg, PMC_COUNTER_MEMORY, max) == 0, "set_max(%s)",
		      name);
	return cg;
}

static int64_t fork1(struct checks *ck, int64_t hh, int64_t cg, int adj, uint32_t flags)
{
	int64_t t = pmc_task_fork(hh, cg, 0, adj, flags);

	CHECK(ck, t > 0, "fork(adj %d) = %" PRId64, adj, t);
	return t;
}

static void fault1(struct checks *ck, int64_t hh, int64_t t, int64_t n)
{
	int64_t done = -1, ret = pmc_task_fault(hh, t, n, 0, &done);

	CHECK(ck, ret == 0 && done == n, "fault(%" PRId64 ") = %" PRId64 ", done %" PRId64, n, ret,
	      done);
}

static bool alive(int64_t hh, int64_t t)
{
	struct pmc_task_info info;

	return pmc_task_info(hh, t, &info) == 0;
}

static struct pmc_task_info tinfo(struct checks *ck, int64_t hh, int64_t t)
{
	struct pmc_task_info info;
	int64_t ret = pmc_task_info(hh, t, &info);

	CHECK(ck, ret == 0, "info(%" PRId64 ") = %" PRId64, t, ret);
	if (ret)
		memset(&info, 0, sizeof(info));
	return info;
}

static struct pmc_cgroup_info cinfo(struct checks *ck, int64_t hh, int64_t cg)
{
	struct pmc_cgroup_info info;
	int64_t ret = pmc_cgroup_info(hh, cg, &info);

	CHECK(ck, ret == 0, "cgroup info = %" PRId64, ret);
	if (ret)
		memset(&info, 0, sizeof(info));
	return info;
}

static uint64_t cusage(struct checks *ck, int64_t hh, int64_t cg, int counter)
{
	struct pmc_page_counter_info pc;
	int64_t ret = pmc_cgroup_counter(hh, cg, counter, &pc);

	CHECK(ck, ret == 0, "counter = %" PRId64, ret);
	return ret ? 0 : pc.usage;
}

/* Every task exits; every counter of every cgroup listed is 0; close. */
static void exact_end(struct checks *ck, int64_t hh, const int64_t *tasks, int nt,
		      const int64_t *cgs, int ncg)
{
	int64_t ret;

	for (int i = 0; i < nt; i++)
		if (tasks[i] > 0) {
			ret = pmc_task_exit(hh, tasks[i], 0);
			CHECK(ck, ret == 0 || ret == -ESTALE, "exit = %" PRId64, ret);
		}
	ret = pmc_hierarchy_drain_all(hh, 0);
	CHECK(ck, ret == 0, "drain_all = %" PRId64, ret);
	for (int c = 0; c < ncg; c++) {
		int64_t st[PMC_NR_STATS];

		CHECK(ck, cusage(ck, hh, cgs[c], PMC_COUNTER_MEMORY) == 0, "cgroup %d: usage %" PRIu64
		      " at the end", c, cusage(ck, hh, cgs[c], PMC_COUNTER_MEMORY));
		ret = pmc_cgroup_stat(hh, cgs[c], 1, st, PMC_NR_STATS);
		CHECK(ck, ret == PMC_NR_STATS && !st[0] && !st[1] && !st[2] && !st[3], "cgroup %d: "
		      "stats %" PRId64 "/%" PRId64 "/%" PRId64 "/%" PRId64 " at the end", c, st[0],
		      st[1], st[2], st[3]);
	}
	ret = pmc_hierarchy_close(hh);
	CHECK(ck, ret == 0, "close = %" PRId64, ret);
}

/*
 * v2 memory.oom.group: one fault over the limit kills the group's subtree
 * but the -1000 tasks; a sibling's task lives.
 */
static void exact_group(struct checks *ck, const struct pmc_config *base)
{
	struct pmc_config cfg = *base;
	int64_t hh, root, D, D1, S, t[8], ret, done = -1;
	struct pmc_cgroup_info di, d1i;
	struct pmc_task_info f0, f1;
	const int64_t limit = 2000;
	enum { T1, T2, T3, FAULTER, T5, T6, S1, NT };

	cfg.ncpus = 1;
	hh = new_h(ck, &cfg);
	if (hh <= 0)
		return;
	root = pmc_cgroup_root(hh);
	D = mk(ck, hh, root, "D", limit);
	D1 = mk(ck, hh, D, "D1", UNLIMITED);
	S = mk(ck, hh, root, "S", UNLIMITED);
	CHECK(ck, pmc_cgroup_tunable(hh, D, PMC_TUNABLE_OOM_GROUP, 1) == 1, "oom.group(D)");
	CHECK(ck, pmc_cgroup_tunable(hh, D1, PMC_TUNABLE_OOM_GROUP, 1) == 1, "oom.group(D1)");
	t[T1] = fork1(ck, hh, D, 0, 0);
	t[T2] = fork1(ck, hh, D, 500, 0);
	t[T3] = fork1(ck, hh, D, -1000, 0);
	t[FAULTER] = fork1(ck, hh, D, -1000, 0);
	t[T5] = fork1(ck, hh, D1, 0, 0);
	t[T6] = fork1(ck, hh, D1, 1000, PMC_FORK_SPARSE);
	t[S1] = fork1(ck, hh, S, 1000, 0);
	fault1(ck, hh, t[T1], 200);
	fault1(ck, hh, t[T2], 50);
	fault1(ck, hh, t[T3], 100);
	fault1(ck, hh, t[T5], 100);
	fault1(ck, hh, t[T6], 3);
	fault1(ck, hh, t[S1], 300);
	f0 = tinfo(ck, hh, t[FAULTER]);
	ret = pmc_task_fault(hh, t[FAULTER], limit, 0, &done);
	CHECK(ck, ret == -ENOMEM, "fault past the limit = %" PRId64, ret);
	for (int i = 0; i < NT; i++) {
		bool want = i == T3 || i == FAULTER || i == S1;

		CHECK(ck, alive(hh, t[i]) == want, "oom.group: task %d %s", i,
		      want ? "killed" : "alive");
		if (!want) {
			CHECK(ck, pmc_task_fault(hh, t[i], 1, 0, NULL) == -ESTALE &&
			      pmc_task_exit(hh, t[i], 0) == -ESTALE, "killed task %d: calls not stale",
			      i);
			t[i] = 0;
		}
	}
	f1 = tinfo(ck, hh, t[FAULTER]);
	CHECK(ck, f1.rss - f0.rss == done, "faulter: rss %" PRId64 " -> %" PRId64 ", done %" PRId64,
	      f0.rss, f1.rss, done);
	ret = pmc_hierarchy_drain_all(hh, 0);
	CHECK(ck, ret == 0, "drain_all = %" PRId64, ret);
	{
		struct pmc_task_info i3 = tinfo(ck, hh, t[T3]);
		int64_t want = f1.rss + f1.stack + f1.pagetables_charged + i3.rss + i3.stack +
			       i3.pagetables_charged;
		uint64_t u = cusage(ck, hh, D, PMC_COUNTER_MEMORY);

		CHECK(ck, (int64_t)u == want && u >= (uint64_t)limit - 1, "D after the kill: usage %"
		      PRIu64 ", survivors hold %" PRId64 ", limit %" PRId64, u, want, limit);
	}
	di = cinfo(ck, hh, D);
	d1i = cinfo(ck, hh, D1);
	CHECK(ck, di.events_local[PMC_EVENT_OOM] == 2 && di.events_local[PMC_EVENT_OOM_KILL] == 2 &&
	      di.events_local[PMC_EVENT_OOM_GROUP_KILL] == 1 && di.events[PMC_EVENT_OOM_KILL] == 5 &&
	      d1i.events_local[PMC_EVENT_OOM_KILL] == 3 &&
	      d1i.events_local[PMC_EVENT_OOM_GROUP_KILL] == 0 && d1i.events_local[PMC_EVENT_OOM] == 0,
	      "oom.group events: D oom %" PRId64 " oom_kill %" PRId64 " (hier %" PRId64 ") group %"
	      PRId64 "; D1 oom_kill %" PRId64 " group %" PRId64 " oom %" PRId64 " (want 2, 2 (5), 1; "
	      "3, 0, 0)", di.events_local[PMC_EVENT_OOM], di.events_local[PMC_EVENT_OOM_KILL],
	      di.events[PMC_EVENT_OOM_KILL], di.events_local[PMC_EVENT_OOM_GROUP_KILL],
	      d1i.events_local[PMC_EVENT_OOM_KILL], d1i.events_local[PMC_EVENT_OOM_GROUP_KILL],
	      d1i.events_local[PMC_EVENT_OOM]);
	CHECK(ck, di.nr_tasks == 2 && d1i.nr_tasks == 0, "after the group kill: D %" PRId64
	      " tasks, D1 %" PRId64, di.nr_tasks, d1i.nr_tasks);
	exact_end(ck, hh, t, NT, (int64_t[]){ D, D1, S }, 3);
	tot_group_kills++;
}

/*
 * One victim per kill, the highest score: adj 1000 over a bigger adj-0
 * task, never -1000; on a tie the later task (current) or the first (3.8).
 */
static void exact_victim(struct checks *ck, const struct pmc_config *base)
{
	struct pmc_config cfg = *base;
	bool is38 = base->charge_loop == PMC_CHARGE_LOOP_38;
	int64_t hh, root, E, t[5], ret, margin, done = -1;
	const int64_t limit = 2000;
	enum { BIG, SMALL_ADJ, TIE1, TIE2, FAULTER, NT };
	struct pmc_cgroup_info ei;

	cfg.ncpus = 1;
	hh = new_h(ck, &cfg);
	if (hh <= 0)
		return;
	root = pmc_cgroup_root(hh);
	E = mk(ck, hh, root, "E", limit);
	t[FAULTER] = fork1(ck, hh, E, -1000, 0);
	t[BIG] = fork1(ck, hh, E, 0, 0);
	t[SMALL_ADJ] = fork1(ck, hh, E, 1000, 0);
	t[TIE1] = fork1(ck, hh, E, -500, 0);
	t[TIE2] = fork1(ck, hh, E, -500, 0);
	fault1(ck, hh, t[FAULTER], 1200);
	fault1(ck, hh, t[BIG], 300);
	fault1(ck, hh, t[SMALL_ADJ], 10);
	fault1(ck, hh, t[TIE1], 40);
	fault1(ck, hh, t[TIE2], 40);
	/* Round 1: SMALL_ADJ's 10 pages + 1000 * 2 beat BIG's 300. */
	for (int round = 0; round < 3; round++) {
		ret = pmc_hierarchy_drain_all(hh, 0);
		CHECK(ck, ret == 0, "drain_all = %" PRId64, ret);
		margin = limit - (int64_t)cusage(ck, hh, E, PMC_COUNTER_MEMORY);
		CHECK(ck, margin >= 0, "round %d: margin %" PRId64, round, margin);
		ret = pmc_task_fault(hh, t[FAULTER], margin + 1, 0, &done);
		CHECK(ck, ret == 0 && done == margin + 1, "round %d: fault(margin + 1) = %" PRId64
		      ", done %" PRId64, round, ret, done);
		ei = cinfo(ck, hh, E);
		CHECK(ck, ei.events_local[PMC_EVENT_OOM_KILL] == round + 1 &&
		      ei.events_local[PMC_EVENT_OOM] == round + 1, "round %d: oom_kill %" PRId64
		      ", oom %" PRId64, round, ei.events_local[PMC_EVENT_OOM_KILL],
		      ei.events_local[PMC_EVENT_OOM]);
		if (round == 0) {
			CHECK(ck, !alive(hh, t[SMALL_ADJ]) && alive(hh, t[BIG]) && alive(hh, t[TIE1]) &&
			      alive(hh, t[TIE2]), "round 0: adj 1000 must be the one victim");
			t[SMALL_ADJ] = 0;
		} else if (round == 1) {
			CHECK(ck, !alive(hh, t[BIG]) && alive(hh, t[TIE1]) && alive(hh, t[TIE2]),
			      "round 1: the biggest task must be the one victim");
			t[BIG] = 0;
		} else {
			/* Equal scores (40 + tables, adj -500 * 2): the kernel's tie rule. */
			int dead = is38 ? TIE1 : TIE2, live = is38 ? TIE2 : TIE1;

			CHECK(ck, !alive(hh, t[dead]) && alive(hh, t[live]), "round 2 (%s): on a "
			      "tie the %s task dies: first %s, second %s", is38 ? "3.8" : "current",
			      is38 ? "first" : "later", alive(hh, t[TIE1]) ? "alive" : "killed",
			      alive(hh, t[TIE2]) ? "alive" : "killed");
			t[dead] = 0;
		}
	}
	CHECK(ck, alive(hh, t[FAULTER]), "the -1000 faulter was killed");
	exact_end(ck, hh, t, NT, &E, 1);
}

/* 3.8: forks in a cgroup with a kmem limit below its memory limit. */
static void exact_kmem_forks(struct checks *ck, const struct pmc_config *base)
{
	struct pmc_config cfg = *base;
	int64_t hh, root, Kc, t[40], ret;
	const int64_t kmem_limit = 41, nforks = 30;
	int64_t ok = 0, nomem = 0, want = kmem_limit / base->kernel_stack_pages, st[PMC_NR_STATS];
	struct pmc_page_counter_info kpc;
	struct pmc_cgroup_info ki;

	cfg.ncpus = 1;
	hh = new_h(ck, &cfg);
	if (hh <= 0)
		return;
	root = pmc_cgroup_root(hh);
	Kc = mk(ck, hh, root, "K", 400);
	ret = pmc_cgroup_set_max(hh, Kc, PMC_COUNTER_KMEM, kmem_limit);
	CHECK(ck, ret == 0, "set_max(K, kmem) = %" PRId64, ret);
	ret = pmc_cgroup_activate_kmem(hh, Kc);
	CHECK(ck, ret == 0, "activate_kmem(K) = %" PRId64, ret);
	for (int i = 0; i < nforks; i++) {
		t[i] = pmc_task_fork(hh, Kc, 0, 0, 0);
		if (t[i] > 0)
			ok++;
		else if (t[i] == -ENOMEM)
			nomem++;
		else
			CHECK(ck, 0, "fork %d in K = %" PRId64, i, t[i]);
	}
	CHECK(ck, ok == want && nomem == nforks - want, "kmem limit %" PRId64 ", stack %d pages: "
	      "%" PRId64 " forks ok (want %" PRId64 "), %" PRId64 " -ENOMEM", kmem_limit,
	      base->kernel_stack_pages, ok, want, nomem);
	ret = pmc_cgroup_counter(hh, Kc, PMC_COUNTER_KMEM, &kpc);
	CHECK(ck, ret == 0 && kpc.usage == (uint64_t)(ok * base->kernel_stack_pages) &&
	      kpc.failcnt == (uint64_t)nomem, "K kmem usage %" PRIu64 " failcnt %" PRIu64,
	      kpc.usage, kpc.failcnt);
	ret = pmc_hierarchy_drain_all(hh, 0);
	CHECK(ck, ret == 0, "drain_all = %" PRId64, ret);
	CHECK(ck, cusage(ck, hh, Kc, PMC_COUNTER_MEMORY) == (uint64_t)(ok * base->kernel_stack_pages),
	      "K memory usage %" PRIu64, cusage(ck, hh, Kc, PMC_COUNTER_MEMORY));
	ret = pmc_cgroup_stat(hh, Kc, 0, st, PMC_NR_STATS);
	CHECK(ck, ret == PMC_NR_STATS && st[PMC_STAT_KERNEL] == ok * base->kernel_stack_pages &&
	      st[PMC_STAT_KERNEL_STACK] == ok * base->kernel_stack_pages && st[PMC_STAT_ANON] == 0 &&
	      st[PMC_STAT_PAGETABLES] == 0, "K stats %" PRId64 "/%" PRId64 "/%" PRId64 "/%" PRId64,
	      st[0], st[1], st[2], st[3]);
	ki = cinfo(ck, hh, Kc);
	CHECK(ck, ki.events_local[PMC_EVENT_OOM] == 0 && ki.events_local[PMC_EVENT_OOM_KILL] == 0 &&
	      ki.nr_tasks == ok, "K: oom %" PRId64 " oom_kill %" PRId64 " nr_tasks %" PRId64,
	      ki.events_local[PMC_EVENT_OOM], ki.events_local[PMC_EVENT_OOM_KILL], ki.nr_tasks);
	/* The rest of the kmem limit: one raw page fits (41 = 2 * 20 + 1), the next is refused at K. */
	for (int64_t left = kmem_limit - ok * base->kernel_stack_pages; left > 0; left--) {
		ret = pmc_cgroup_try_charge(hh, Kc, 1, 0, GFP_KERNEL, 1);
		CHECK(ck, ret == 0, "raw kmem charge with %" PRId64 " left = %" PRId64, left, ret);
	}
	ret = pmc_cgroup_try_charge(hh, Kc, 1, 0, GFP_KERNEL, 1);
	CHECK(ck, ret == Kc, "raw kmem charge past the kmem limit = %" PRId64 " (K %" PRId64 ")",
	      ret, Kc);
	ret = pmc_cgroup_uncharge(hh, Kc, kmem_limit - ok * base->kernel_stack_pages, 0, 1);
	CHECK(ck, ret == 0, "uncharge = %" PRId64, ret);
	/* Each exit gives a stack back: a fork fits again. */
	for (int i = 0; i < nforks; i++)
		if (t[i] > 0) {
			ret = pmc_task_exit(hh, t[i], 0);
			CHECK(ck, ret == 0, "exit = %" PRId64, ret);
			t[i] = pmc_task_fork(hh, Kc, 0, 0, 0);
			CHECK(ck, t[i] > 0, "fork after an exit = %" PRId64, t[i]);
			break;
		}
	exact_end(ck, hh, t, (int)nforks, &Kc, 1);
}

/* pmc_cgroup_tasks: fork order, a moved task at the end of its new cgroup. */
static void exact_listing(struct checks *ck, const struct pmc_config *base)
{
	struct pmc_config cfg = *base;
	int64_t hh, root, X, Y, t[4], out[8], n, ret;

	cfg.ncpus = 1;
	hh = new_h(ck, &cfg);
	if (hh <= 0)
		return;
	root = pmc_cgroup_root(hh);
	X = mk(ck, hh, root, "X", UNLIMITED);
	Y = mk(ck, hh, root, "Y", UNLIMITED);
	for (int i = 0; i < 4; i++)
		t[i] = fork1(ck, hh, i == 3 ? Y : X, 0, 0);
	ret = pmc_task_move(hh, t[0], Y);
	CHECK(ck, ret == 0, "move = %" PRId64, ret);
	n = pmc_cgroup_tasks(hh, X, out, 8);
	CHECK(ck, n == 2 && out[0] == t[1] && out[1] == t[2], "X lists %" PRId64 " tasks", n);
	n = pmc_cgroup_tasks(hh, Y, out, 8);
	CHECK(ck, n == 2 && out[0] == t[3] && out[1] == t[0], "Y lists %" PRId64 " tasks", n);
	/* A freed slot is reused with a new generation: the old handle stays stale. */
	ret = pmc_task_exit(hh, t[1], 0);
	CHECK(ck, ret == 0, "exit = %" PRId64, ret);
	{
		int64_t again = fork1(ck, hh, X, 0, 0);

		CHECK(ck, again != t[1] && pmc_task_exit(hh, t[1], 0) == -ESTALE && alive(hh, again),
		      "reused slot: new %" PRId64 " old %" PRId64, again, t[1]);
		t[1] = again;
	}
	exact_end(ck, hh, t, 4, (int64_t[]){ X, Y }, 2);
}

/*
 * The edges: bad arguments refused with nothing changed; a charge above
 * PAGE_ALLOC_COSTLY_ORDER is refused without the OOM killer (current
 * loop); v1 memory.oom_control's oom_kill_disable: an oom event, no kill
 * (3.8: an oom livelock counted); a hierarchy closed with live tasks (ASan
 * sees what it leaks), after which every task call is -ESTALE.
 */
static void exact_edges(struct checks *ck, const struct pmc_config *base)
{
	struct pmc_config cfg = *base;
	int64_t hh, other, E, t, ret, done = -1;
	struct pmc_cgroup_info ei;
	struct pmc_task_info ti;

	cfg.ncpus = 2;
	hh = new_h(ck, &cfg);
	other = new_h(ck, &cfg);
	if (hh <= 0 || other <= 0)
		return;
	E = mk(ck, hh, pmc_cgroup_root(hh), "E", 100);
	t = fork1(ck, hh, E, 0, 0);
	fault1(ck, hh, t, 60);
	CHECK(ck, pmc_task_fork(hh, E, 0, -1001, 0) == -EINVAL &&
	      pmc_task_fork(hh, E, 0, 1001, 0) == -EINVAL &&
	      pmc_task_fork(hh, E, 0, 0, 2) == -EINVAL && pmc_task_fork(hh, E, -1, 0, 0) == -EINVAL &&
	      pmc_task_fork(hh, E, 2, 0, 0) == -EINVAL &&
	      pmc_task_fork(hh, pmc_cgroup_root(other), 0, 0, 0) == -EINVAL,
	      "fork with a bad adj, flag, cpu or a cgroup of another hierarchy");
	CHECK(ck, pmc_task_fault(hh, t, -1, 0, &done) == -EINVAL && done == 0 &&
	      pmc_task_fault(hh, t, 1, 2, NULL) == -EINVAL && pmc_task_fault(other, t, 1, 0, NULL) ==
	      -EINVAL && pmc_task_unmap(hh, t, 61, 0) == -EINVAL &&
	      pmc_task_unmap(hh, t, -1, 0) == -EINVAL && pmc_task_unmap(hh, t, 1, 2) == -EINVAL &&
	      pmc_task_exit(hh, t, -1) == -EINVAL && pmc_task_move(hh, t, pmc_cgroup_root(other)) ==
	      -EINVAL && pmc_task_move(hh, t, 0) == -EINVAL && pmc_task_info(hh, 0, &ti) == -EINVAL,
	      "fault, unmap, exit, move with bad arguments");
	ti = tinfo(ck, hh, t);
	CHECK(ck, ti.rss == 60 && ti.cgroup == E, "after the refusals: rss %" PRId64, ti.rss);
	if (base->charge_loop == PMC_CHARGE_LOOP_CURRENT) {
		/* 64 pages: order 6, above PAGE_ALLOC_COSTLY_ORDER: no OOM kill, no oom event. */
		ret = pmc_cgroup_try_charge(hh, E, 64, 0, GFP_KERNEL, 0);
		ei = cinfo(ck, hh, E);
		CHECK(ck, ret == E && alive(hh, t) && ei.events_local[PMC_EVENT_OOM] == 0 &&
		      ei.events_local[PMC_EVENT_MAX] > 0, "costly charge = %" PRId64 ", oom %" PRId64,
		      ret, ei.events_local[PMC_EVENT_OOM]);
	}
	if (base->version == 1) {
		ret = pmc_cgroup_tunable(hh, E, PMC_TUNABLE_OOM_KILL_DISABLE, 1);
		CHECK(ck, ret == 1, "oom_kill_disable = %" PRId64, ret);
		ret = pmc_task_fault(hh, t, 100, 0, &done);
		ei = cinfo(ck, hh, E);
		CHECK(ck, ret == -ENOMEM && alive(hh, t) && ei.events_local[PMC_EVENT_OOM] == 1 &&
		      ei.events_local[PMC_EVENT_OOM_KILL] == 0 &&
		      (base->charge_loop != PMC_CHARGE_LOOP_38 || ei.oom_livelocks == 1),
		      "oom_kill_disable: fault = %" PRId64 ", oom %" PRId64 " oom_kill %" PRId64
		      " livelocks %" PRId64, ret, ei.events_local[PMC_EVENT_OOM],
		      ei.events_local[PMC_EVENT_OOM_KILL], ei.oom_livelocks);
	}
	/* Close with live tasks in it. */
	ret = pmc_hierarchy_close(hh);
	CHECK(ck, ret == 0, "close with a live task = %" PRId64, ret);
	CHECK(ck, pmc_task_info(hh, t, &ti) == -ESTALE && pmc_task_exit(hh, t, 0) == -ESTALE &&
	      pmc_task_fault(hh, t, 1, 0, NULL) == -ESTALE && pmc_task_unmap(hh, t, 1, 0) == -ESTALE &&
	      pmc_task_move(hh, t, E) == -ESTALE && pmc_task_fork(hh, E, 0, 0, 0) == -ESTALE &&
	      pmc_cgroup_tasks(hh, E, NULL, 0) == -ESTALE, "task calls on a closed hierarchy");
	ret = pmc_hierarchy_close(other);
	CHECK(ck, ret == 0, "close = %" PRId64, ret);
}

/*
 * A charge that completes on a cgroup removed while it reclaimed (the
 * reclaim callback removes it): the page is the dying cgroup's; once it is
 * uncharged through the cgroup's handle, every counter of the parent and
 * the cgroup is 0 and the cgroup is freed.  3.8 (reparent_user_pages):
 * offline moved T's user pages to P before this page came, and the page
 * follows them (3.8's offline loops until no user page is left): T is
 * freed at once and the page is uncharged from P.
 */
static struct {
	int64_t h, cg;
	int calls;
	int64_t removed;
} late;

static int64_t late_cb(int64_t hh, int64_t cg, int64_t nr)
{
	(void)nr;
	if (hh != late.h || cg != late.cg || late.calls++)
		return 0;
	if (pmc_cgroup_uncharge(hh, cg, 10, 0, 0))      /* room again, then rmdir */
		return -ECANCELED;
	late.removed = pmc_cgroup_remove(hh, cg);
	return 10;
}

static void exact_late_charge(struct checks *ck, const struct pmc_config *base)
{
	struct pmc_config cfg = *base;
	bool is38 = base->reparent_user_pages;
	int64_t hh, P, T, ret;
	struct pmc_cgroup_info info;
	uint64_t tu, pu;

	cfg.ncpus = 1;
	hh = new_h(ck, &cfg);
	if (hh <= 0)
		return;
	P = mk(ck, hh, pmc_cgroup_root(hh), "P", UNLIMITED);
	T = mk(ck, hh, P, "T", 10);
	ret = pmc_cgroup_try_charge(hh, T, 10, 0, GFP_KERNEL, 0);
	CHECK(ck, ret == 0, "charge(T, 10) = %" PRId64, ret);
	memset(&late, 0, sizeof(late));
	late.h = hh;
	late.cg = T;
	late.removed = 1;
	pmc_set_reclaim_callback(late_cb);
	CHECK(ck, pmc_hierarchy_set_reclaim(hh, 1) == 0, "set_reclaim");
	ret = pmc_cgroup_try_charge(hh, T, 1, 0, GFP_KERNEL, 0);
	CHECK(ck, pmc_hierarchy_set_reclaim(hh, 0) == 0, "set_reclaim");
	pmc_set_reclaim_callback(NULL);
	CHECK(ck, late.calls == 1 && late.removed == 0 && ret == 0, "charge(T, 1) with T removed "
	      "by the reclaim callback = %" PRId64 " (callbacks %d, remove %" PRId64 ")", ret,
	      late.calls, late.removed);
	if (is38) {
		/*
		 * 3.8: the offline moved T's user pages to P, and the late page
		 * followed them (mem_cgroup_reparent_charges loops until none is
		 * left): T, holding nothing, is freed; the page is P's.
		 */
		ret = pmc_cgroup_info(hh, T, &info);
		pu = cusage(ck, hh, P, PMC_COUNTER_MEMORY);
		CHECK(ck, ret == -ESTALE && pu == 1, "3.8: a user charge completed after the "
		      "cgroup's offline: T info %" PRId64 " (freed: -ESTALE), P usage %" PRIu64
		      " (1)", ret, pu);
		ret = pmc_cgroup_uncharge(hh, P, 1, 0, 0);
		CHECK(ck, ret == 0, "uncharge(P, 1) = %" PRId64, ret);
	} else {
		ret = pmc_cgroup_uncharge(hh, T, 1, 0, 0);
		CHECK(ck, ret == 0, "uncharge(removed T, 1) = %" PRId64, ret);
	}
	CHECK(ck, pmc_hierarchy_drain_all(hh, 0) == 0, "drain_all");
	pu = cusage(ck, hh, P, PMC_COUNTER_MEMORY);
	ret = pmc_cgroup_info(hh, T, &info);
	tu = ret == 0 ? cusage(ck, hh, T, PMC_COUNTER_MEMORY) : 0;
	CHECK(ck, ret == -ESTALE && pu == 0, "a charge completed after the cgroup's offline, "
	      "then uncharged: info %" PRId64 ", its usage %" PRIu64 ", the parent's %" PRIu64,
	      ret, tu, pu);
	ret = pmc_hierarchy_close(hh);
	CHECK(ck, ret == 0, "close = %" PRId64, ret);
}

/*
 * 3.8: kmem accounting activated while a fork into the cgroup is under way
 * (pmc_task_fork decides whether its stack is accounted before charging
 * it): whatever the stack's charge, the task's exit must leave nothing.
 */
static struct {
	int64_t h;
	_Atomic int64_t cg, task;
} ract;

static void *ract_forker(void *arg)
{
	(void)arg;
	for (;;) {
		int64_t cg;

		while (!(cg = atomic_load(&ract.cg)))
			sched_yield();
		if (cg < 0)
			return NULL;
		atomic_store(&ract.cg, 0);
		atomic_store(&ract.task, pmc_task_fork(ract.h, cg, 1, 0, 0));
	}
}

static void race_activation(struct checks *ck, const struct pmc_config *base, int rounds)
{
	struct pmc_config cfg = *base;
	pthread_t th;
	int64_t root, ret;
	long leaks = 0, during = 0;

	cfg.ncpus = 2;
	ract.h = new_h(ck, &cfg);
	if (ract.h <= 0)
		return;
	root = pmc_cgroup_root(ract.h);
	atomic_store(&ract.cg, 0);
	if (pthread_create(&th, NULL, ract_forker, NULL)) {
		perror("pthread_create");
		exit(1);
	}
	for (int i = 0; i < rounds; i++) {
		int64_t T = pmc_cgroup_create(ract.h, root, "T"), task, act;
		struct pmc_page_counter_info kmem;
		struct pmc_task_info info;

		CHECK(ck, T > 0, "create(T) = %" PRId64, T);
		if (T <= 0)
			break;
		atomic_store(&ract.task, 0);
		atomic_store(&ract.cg, T);
		for (volatile int k = 0; k < (i % 32) * 16; k++)
			;
		act = pmc_cgroup_activate_kmem(ract.h, T);
		CHECK(ck, act == 0 || act == -EBUSY, "activate_kmem = %" PRId64, act);
		while (!(task = atomic_load(&ract.task)))
			sched_yield();
		CHECK(ck, task > 0, "fork = %" PRId64, task);
		if (task <= 0)
			continue;
		CHECK(ck, pmc_task_info(ract.h, task, &info) == 0, "info");
		if (act == 0 && info.stack == 0)
			during++;
		ret = pmc_task_exit(ract.h, task, 1);
		CHECK(ck, ret == 0, "exit = %" PRId64, ret);
		CHECK(ck, pmc_hierarchy_drain_all(ract.h, 0) == 0, "drain_all");
		ret = pmc_cgroup_counter(ract.h, T, PMC_COUNTER_KMEM, &kmem);
		CHECK(ck, ret == 0, "counter = %" PRId64, ret);
		if (ret == 0 && kmem.usage) {
			leaks++;
			/* Clean up (kmem and memory), so that T goes. */
			pmc_cgroup_uncharge(ract.h, T, (int64_t)kmem.usage, 1, 1);
		}
		ret = pmc_cgroup_remove(ract.h, T);
		CHECK(ck, ret == 0, "remove(T) = %" PRId64, ret);
	}
	atomic_store(&ract.cg, -1);
	pthread_join(th, NULL);
	CHECK(ck, leaks == 0, "3.8: kmem activated during a fork: %ld of %d stacks charged and "
	      "never uncharged (the task records none), %ld activations during a fork", leaks,
	      rounds, during);
	ret = pmc_hierarchy_close(ract.h);
	CHECK(ck, ret == 0, "close = %" PRId64, ret);
}

/*
 * Two faults of one task at once (one from inside the reclaim callback of
 * the other's page-table charge, which the API allows; threads of one mm
 * in the kernel): the tables the first page needs are charged once.  The
 * kernel frees the table it allocated in vain (__pte_alloc, pmd_install):
 * so does fault_tables, which checks the level again after its charge.
 */
static struct {
	int64_t h, cg, task;
	int calls;
	int64_t nested;
} nest;

static int64_t nest_cb(int64_t hh, int64_t cg, int64_t nr)
{
	(void)nr;
	if (hh != nest.h || cg != nest.cg || nest.calls++)
		return 0;
	if (pmc_cgroup_uncharge(hh, cg, 16, 0, 0))      /* the filler: room again */
		return -ECANCELED;
	nest.nested = pmc_task_fault(hh, nest.task, 1, 1, NULL);
	return 16;
}

static void exact_nested_fault(struct checks *ck, const struct pmc_config *base)
{
	struct pmc_config cfg = *base;
	int64_t hh, C, ret, st[PMC_NR_STATS];
	struct pmc_task_info info;

	cfg.ncpus = 2;
	hh = new_h(ck, &cfg);
	if (hh <= 0)
		return;
	C = mk(ck, hh, pmc_cgroup_root(hh), "C", 4 + 16);
	memset(&nest, 0, sizeof(nest));
	nest.h = hh;
	nest.cg = C;
	nest.nested = 1;
	nest.task = fork1(ck, hh, C, 0, 0);             /* its stack: 4 pages */
	ret = pmc_cgroup_try_charge(hh, C, 16, 0, GFP_KERNEL, 0);
	CHECK(ck, ret == 0, "charge(filler) = %" PRId64, ret);
	pmc_set_reclaim_callback(nest_cb);
	CHECK(ck, pmc_hierarchy_set_reclaim(hh, 1) == 0, "set_reclaim");
	ret = pmc_task_fault(hh, nest.task, 1, 0, NULL);
	CHECK(ck, pmc_hierarchy_set_reclaim(hh, 0) == 0, "set_reclaim");
	pmc_set_reclaim_callback(NULL);
	CHECK(ck, ret == 0 && nest.nested == 0 && nest.calls == 1, "fault = %" PRId64 ", nested "
	      "fault = %" PRId64 ", callbacks %d", ret, nest.nested, nest.calls);
	info = tinfo(ck, hh, nest.task);
	ret = pmc_cgroup_stat(hh, C, 0, st, PMC_NR_STATS);
	CHECK(ck, ret == PMC_NR_STATS && info.rss == 2, "rss %" PRId64, info.rss);
	CHECK(ck, info.pagetables == 3 && info.pagetables_charged == 3 &&
	      st[PMC_STAT_PAGETABLES] == 3, "two faults at once, 2 pages mapped: %" PRId64
	      " tables, %" PRId64 " charged, pagetables stat %" PRId64 " (want 3: the table "
	      "allocated twice is not given back)", info.pagetables, info.pagetables_charged,
	      st[PMC_STAT_PAGETABLES]);
	exact_end(ck, hh, &nest.task, 1, &C, 1);
}

/* ------------------------------------------------------------------ */
/* One preset.                                                          */

static void run(struct checks *total, const char *name, const struct pmc_config *cfg)
{
	struct checks ck = { 0, 0 };
	struct monitor mon;
	struct churner ch;
	unsigned long sum[20] = { 0 };
	int64_t ret, nall, all[64];
	struct pmc_cgroup_info info;
	bool late_left = false;
	int nlate = 0;
	unsigned long setup_failed;

	run_name = name;
	version = cfg->version;
	memsw = cfg->memsw;
	ncpus = cfg->ncpus;
	batch = cfg->charge_batch;
	stack_pages = cfg->kernel_stack_pages;
	pt_accounted = cfg->pagetables_accounted;
	v38 = cfg->charge_loop == PMC_CHARGE_LOOP_38;
	ncounters = version == 1 ? 4 : 2;
	failcnt_mode = cfg->failcnt;

	/* 1. exact scenarios */
	if (version == 2)
		exact_group(&ck, cfg);
	exact_victim(&ck, cfg);
	if (v38)
		exact_kmem_forks(&ck, cfg);
	exact_listing(&ck, cfg);
	exact_edges(&ck, cfg);
	exact_late_charge(&ck, cfg);
	if (cfg->pagetables_accounted)
		exact_nested_fault(&ck, cfg);
	if (v38)
		race_activation(&ck, cfg, 400);

	/* 2. the tree */
	setup_failed = ck.failed;
	h = pmc_hierarchy_new(cfg);
	CHECK(&ck, h > 0, "pmc_hierarchy_new = %" PRId64, h);
	if (h <= 0)
		goto out;
	cgh[ROOT] = pmc_cgroup_root(h);
	for (int c = 1; c < NCG; c++) {
		cgh[c] = pmc_cgroup_create(h, cgh[parent_of[c]], name_of[c]);
		CHECK(&ck, cgh[c] > 0, "create(%s) = %" PRId64, name_of[c], cgh[c]);
		if (cgh[c] <= 0)
			goto out;
		ret = pmc_cgroup_set_max(h, cgh[c], PMC_COUNTER_MEMORY, max_of[c]);
		CHECK(&ck, ret == 0, "set_max(%s) = %" PRId64, name_of[c], ret);
		/* 3.8: kmem accounting where activated (leaves, before any task). */
		if (v38 && (c == A1 || c == B || c == K)) {
			ret = pmc_cgroup_activate_kmem(h, cgh[c]);
			CHECK(&ck, ret == 0, "activate_kmem(%s) = %" PRId64, name_of[c], ret);
		}
	}
	if (version == 1) {
		ret = pmc_cgroup_set_max(h, cgh[K], PMC_COUNTER_KMEM, K_KMEM_MAX);
		CHECK(&ck, ret == 0, "set_max(K, kmem) = %" PRId64, ret);
	}
	for (int c = 0; c < NCG; c++) {
		group_on[c] = version == 2 && c == A2;
		if (group_on[c]) {
			ret = pmc_cgroup_tunable(h, cgh[c], PMC_TUNABLE_OOM_GROUP, 1);
			CHECK(&ck, ret == 1, "oom.group(%s) = %" PRId64, name_of[c], ret);
		}
		ret = pmc_cgroup_info(h, cgh[c], &info);
		CHECK(&ck, ret == 0, "info(%s) = %" PRId64, name_of[c], ret);
		kmem_on[c] = ret == 0 && info.kmem_active;
		CHECK(&ck, kmem_on[c] == (c != ROOT && (!v38 || c == A1 || c == B || c == K)) ||
		      c == ROOT, "%s: kmem_active %d", name_of[c], kmem_on[c]);
		exact[c] = true;
	}
	kmem_on[CH] = true;     /* T: activated before it is published (3.8) */
	if (ck.failed > setup_failed) {
		pmc_hierarchy_close(h);
		goto out;
	}

	memset(workers, 0, sizeof(workers));
	for (int t = 0; t < MAX_THREADS; t++)
		for (int i = 0; i < MAX_TASKS; i++)
			atomic_store(&published[t][i], 0);
	for (int t = 0; t < nthreads; t++) {
		workers[t].id = t;
		workers[t].rng = seed * 0x100000001b3ULL + (uint64_t)t * 0x9e3779b97f4a7c15ULL +
				 (uint64_t)(version * 7 + v38);
	}
	if (pthread_barrier_init(&barrier, NULL, (unsigned int)nthreads)) {
		perror("pthread_barrier_init");
		exit(1);
	}
	memset(&mon, 0, sizeof(mon));
	atomic_store(&stop_monitor, false);
	if (pthread_create(&mon.tid, NULL, monitor_main, &mon)) {
		perror("pthread_create");
		exit(1);
	}

	/* 2. main */
	churning = churned = false;
	run_workers(worker_main);

	/* 3. churn */
	churning = churned = true;
	exact[ROOT] = exact[A] = false;
	memset(&ch, 0, sizeof(ch));
	ch.rng = seed ^ 0xc6a4a7935bd1e995ULL;
	atomic_store(&stop_churn, false);
	atomic_store(&churn_cg, 0);
	atomic_store(&churn_started, false);
	if (pthread_create(&ch.tid, NULL, churn_main, &ch)) {
		perror("pthread_create");
		exit(1);
	}
	run_workers(worker_main);
	atomic_store(&stop_churn, true);

	/* 4. teardown */
	run_workers(worker_end);
	pthread_join(ch.tid, NULL);
	atomic_store(&stop_monitor, true);
	pthread_join(mon.tid, NULL);
	pthread_barrier_destroy(&barrier);
	churning = false;
	exact[ROOT] = exact[A] = true;

	ret = pmc_hierarchy_drain_all(h, 0);
	CHECK(&ck, ret == 0, "drain_all = %" PRId64, ret);
	/*
	 * drain_all skips a slot that caches a cgroup with no pages (as the
	 * kernel's drain_all_stock): its reference would keep a removed
	 * cgroup.  Each CPU drained whole lets every slot go.
	 */
	for (int cpu = 0; cpu < ncpus; cpu++) {
		ret = pmc_hierarchy_drain(h, cpu);
		CHECK(&ck, ret == 0, "drain(%d) = %" PRId64, cpu, ret);
	}
	nall = pmc_hierarchy_cgroups(h, all, 64);
	for (int64_t i = 0; i < nall && i < 64; i++) {
		struct pmc_page_counter_info pc;

		if (cg_index(all[i]) >= 0)
			continue;
		memset(&info, 0, sizeof(info));
		memset(&pc, 0, sizeof(pc));
		pmc_cgroup_info(h, all[i], &info);
		pmc_cgroup_counter(h, all[i], PMC_COUNTER_MEMORY, &pc);
		/*
		 * 3.8: a user charge that dropped its CPU lock (reclaim, OOM)
		 * and completed after T's offline stays in T's counters: its
		 * uncharge comes off A (exact_late_charge has it exactly).
		 */
		if (v38 && info.state == 2 && info.stat[PMC_STAT_KERNEL] == 0 &&
		    info.stat[PMC_STAT_ANON] > 0 && (int64_t)pc.usage == info.stat[PMC_STAT_ANON]) {
			CHECK(&ck, 0, "a removed T keeps %" PRIu64 " user pages charged after the "
			      "end, never freed (a charge completed after its offline)", pc.usage);
			late_left = true;
			nlate++;
			continue;
		}
		CHECK(&ck, 0, "left: cgroup %" PRId64 " %.*s state %d usage %" PRIu64 " kernel %"
		      PRId64 " anon %" PRId64, all[i], (int)info.name_len, info.name, info.state,
		      pc.usage, info.stat[PMC_STAT_KERNEL], info.stat[PMC_STAT_ANON]);
	}
	CHECK(&ck, nall - nlate == NCG, "%" PRId64 " cgroups at the end, %d known to be left, not "
	      "%d (a churned T not freed)", nall, nlate, NCG);
	quiescent_check(&ck, true);
	for (int c = 0; c < NCG; c++) {
		int64_t st[PMC_NR_STATS];

		for (int i = 0; i < ncounters; i++)
			CHECK(&ck, usage_of(&ck, c, i) == 0, "%s: counter %d usage %" PRIu64 " at the "
			      "end", name_of[c], i, usage_of(&ck, c, i));
		ret = pmc_cgroup_stat(h, cgh[c], 1, st, PMC_NR_STATS);
		CHECK(&ck, ret == PMC_NR_STATS && !st[0] && !st[1] && !st[2] && !st[3], "%s: subtree "
		      "stats %" PRId64 "/%" PRId64 "/%" PRId64 "/%" PRId64 " at the end", name_of[c],
		      st[0], st[1], st[2], st[3]);
		ret = pmc_cgroup_info(h, cgh[c], &info);
		CHECK(&ck, ret == 0 && info.nr_tasks == 0, "%s: %" PRId64 " tasks at the end",
		      name_of[c], info.nr_tasks);
		if (c == ROOT)
			continue;
		tot_oom_events += (unsigned long)info.events_local[PMC_EVENT_OOM];
		tot_group_kills += (unsigned long)info.events_local[PMC_EVENT_OOM_GROUP_KILL];
	}
	/* The tree goes, leaf first: nothing is charged, each is freed at once. */
	{
		static const int order[NCG - 1] = { A1, A2, A, B, K };

		for (int k = 0; k < NCG - 1; k++) {
			int c = order[k];

			ret = pmc_cgroup_remove(h, cgh[c]);
			CHECK(&ck, ret == 0, "remove(%s) = %" PRId64, name_of[c], ret);
			ret = pmc_cgroup_info(h, cgh[c], &info);
			if (c == A && late_left)
				CHECK(&ck, ret == -ESTALE, "removed A: info %" PRId64 ", not freed "
				      "(the T above holds it)", ret);
			else
				CHECK(&ck, ret == -ESTALE, "removed %s: info %" PRId64 ", not freed",
				      name_of[c], ret);
		}
	}
	ret = pmc_hierarchy_close(h);
	CHECK(&ck, ret == 0, "close = %" PRId64, ret);

	ck.passed += mon.ck.passed + ch.ck.passed;
	ck.failed += mon.ck.failed + ch.ck.failed;
	for (int t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];

		ck.passed += w->ck.passed;
		ck.failed += w->ck.failed;
		sum[0] += w->forks;
		sum[1] += w->fork_ok;
		sum[2] += w->fork_nomem;
		sum[3] += w->fork_stale;
		sum[4] += w->faults;
		sum[5] += w->fault_pages;
		sum[6] += w->fault_nomem;
		sum[7] += w->fault_esrch;
		sum[8] += w->fault_stale;
		sum[9] += w->unmaps;
		sum[10] += w->moves;
		sum[11] += w->exits;
		sum[12] += w->raw_charges;
		sum[13] += w->raw_refused;
		sum[14] += w->raw_uncharges;
		sum[15] += w->stale_rounds;
		sum[16] += w->killed_seen;
		sum[17] += w->peeks;
	}
	/* The run must have done what it is there for. */
	if (ops_per_thread * nthreads >= 4000) {
		CHECK(&ck, sum[1] > 0, "no fork succeeded");
		CHECK(&ck, sum[16] > 0 && sum[6] + sum[7] > 0, "kills seen %lu, faults -ENOMEM %lu, "
		      "-ESRCH %lu", sum[16], sum[6], sum[7]);
		CHECK(&ck, sum[15] > 0 && ch.incarnations > 0, "stale rounds %lu, churned %lu",
		      sum[15], ch.incarnations);
	}
	printf("%s: %d threads x %ld ops x 2 phases, seed %" PRIu64 ": forks %lu (ok %lu, -ENOMEM "
	       "%lu, T gone %lu), faults %lu (%lu pages, -ENOMEM %lu, -ESRCH %lu, stale %lu), "
	       "unmaps %lu, moves %lu, exits %lu, raw charges %lu (refused %lu), uncharges %lu, "
	       "stale rounds %lu, peeks %lu, tasks killed %lu; churned T %lu (remove busy %lu); "
	       "monitor rounds %lu, largest usage - max %" PRId64 "\n", name, nthreads,
	       ops_per_thread, seed, sum[0], sum[1], sum[2], sum[3], sum[4], sum[5], sum[6], sum[7],
	       sum[8], sum[9], sum[10], sum[11], sum[12], sum[13], sum[14], sum[15], sum[17],
	       sum[16], ch.incarnations,
	       ch.busy, mon.rounds, mon.peak_over);
	fflush(stdout);
	tot_forks += sum[0];
	tot_fork_ok += sum[1];
	tot_fork_nomem += sum[2];
	tot_faults += sum[4];
	tot_fault_nomem += sum[6];
	tot_fault_esrch += sum[7];
	tot_killed += sum[16];
	tot_raw_refused += sum[13];
	tot_churned += ch.incarnations;
out:
	total->passed += ck.passed;
	total->failed += ck.failed;
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	struct checks total = { 0, 0 };
	int64_t live0 = pmc_hierarchy_nr_live();
	/* Config.current(): Linux 6.16+ on cgroup v2. */
	struct pmc_config v2 = {
		.version = 2, .charge_batch = 64, .reclaim_retries = 16, .stock_slots = 7,
		.stock_refill_cap = 1, .kmem_limit = PMC_KMEM_LIMIT_ABSENT,
		.kmem_uncharge_via_stock = 1, .failcnt = PMC_FAILCNT_NONE, .allow_spinning_batch = 1,
		.hz = 1000, .id_at_offline = 1, .id_errno = EBUSY, .objcg = 1,
		.kernel_stack_pages = 4, .stack_per_page = 1, .pagetables_accounted = 1,
	};
	struct pmc_config v1, l38;

	stress_args(argc, argv, MAX_THREADS, &nthreads, &ops_per_thread, &seed);
	v2.ncpus = nthreads > 1 ? nthreads : 2;
	v2.seed = seed;
	/* Config.current_v1(). */
	v1 = v2;
	v1.version = 1;
	v1.memsw = 1;
	v1.kmem_limit = PMC_KMEM_LIMIT_IGNORED;
	v1.failcnt = PMC_FAILCNT_MEMORY;
	/* Config.linux_3_8(). */
	l38 = (struct pmc_config){
		.version = 1, .ncpus = v2.ncpus, .charge_batch = 32, .reclaim_retries = 5,
		.stock_slots = 1, .stock_single_page = 0, .stock_refill_cap = 0, .memsw = 1,
		.kmem_on_limit = 1, .kmem_limit = PMC_KMEM_LIMIT_ENFORCED, .kmem_first = 1,
		.kmem_uncharge_via_stock = 0, .failcnt = PMC_FAILCNT_ALL, .allow_spinning_batch = 0,
		.hz = 1000, .id_at_offline = 0, .id_errno = ENOSPC,
		.charge_loop = PMC_CHARGE_LOOP_38, .objcg = 0, .reparent_user_pages = 1,
		.kernel_stack_pages = 2, .stack_per_page = 0, .pagetables_accounted = 0,
		.seed = seed,
	};

	run(&total, "current v2", &v2);
	run(&total, "current v1", &v1);
	run(&total, "linux 3.8", &l38);
	run_name = NULL;
	CHECK(&total, pmc_hierarchy_nr_live() == live0, "%" PRId64 " hierarchies live at the end, "
	      "%" PRId64 " at the start", pmc_hierarchy_nr_live(), live0);

	printf("stress_tasks: %d threads x %ld ops, seed %" PRIu64 ": forks %lu (ok %lu, -ENOMEM "
	       "%lu), faults %lu (-ENOMEM %lu, -ESRCH %lu), raw charges refused %lu, tasks killed "
	       "%lu, oom events %lu, group kills %lu, churned cgroups %lu, quiescent checks %lu\n",
	       nthreads, ops_per_thread, seed, tot_forks, tot_fork_ok, tot_fork_nomem, tot_faults,
	       tot_fault_nomem, tot_fault_esrch, tot_raw_refused, tot_killed, tot_oom_events,
	       tot_group_kills, tot_churned, tot_quiescent);
	printf("%lu passed, %lu failed\n", total.passed, total.failed);
	return total.failed ? 1 : 0;
}
