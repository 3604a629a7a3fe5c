/*
 * memcg.h - the cgroup tree, per-CPU charge stocks and the charge path.
 *
 * The user-space twin of the parts of mm/memcontrol.c that account pages:
 * a tree of struct mem_cgroup, each with the page counters of its cgroup
 * version, per-CPU stocks of pre-charged pages, try_charge_memcg() with its
 * reclaim/retry loop, memory events and statistics.
 *
 * Concurrency.  Every operation runs "on a CPU": it holds that CPU's stock
 * lock while it touches cgroups, as kernel code runs on one CPU at a time.
 * Two threads naming the same CPU therefore take turns; threads on
 * different CPUs share nothing but the page counters, which are lock-free.
 * The lock is dropped where the kernel may sleep (reclaim, draining other
 * CPUs' stocks) and the cgroup is looked up again afterwards.  A removed
 * cgroup is freed only after every CPU lock has been taken once since it
 * was unpublished: nobody can still be using it then.
 */
#ifndef PMC_MEMCG_H
#define PMC_MEMCG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "idmap.h"
#include "page_counter.h"
#include "pymemcg.h"

#define MEMCG_ID_MAX 65535u
#define MEMCG_HOT_ALIGN (2 * PMC_CACHELINE)
#define MEMCG_HOT_CHUNK_SHIFT 6
#define MEMCG_HOT_CHUNK (1u << MEMCG_HOT_CHUNK_SHIFT)          /* blocks per chunk */
#define MEMCG_HOT_DIR_SHIFT 8
#define MEMCG_HOT_DIR (1u << MEMCG_HOT_DIR_SHIFT)              /* chunks per directory */
#define MEMCG_HOT_DIRS ((MEMCG_HANDLE_SLOT_MASK >> (MEMCG_HOT_CHUNK_SHIFT + MEMCG_HOT_DIR_SHIFT)) + 1)
#define MEMCG_STOCK_MAX_SLOTS 16
#define MEMCG_NAME_MAX 4095         /* PATH_MAX - 1: see memcg_check_name */
#define MEMCG_NAME_BUCKETS_MIN 64
#define PAGE_ALLOC_COSTLY_ORDER 3

enum memcg_counter_idx {
	MEMCG_MEMORY = PMC_COUNTER_MEMORY,
	MEMCG_MEMSW = PMC_COUNTER_MEMSW,        /* v1 memsw; v2 swap */
	MEMCG_KMEM = PMC_COUNTER_KMEM,
	MEMCG_TCPMEM = PMC_COUNTER_TCPMEM,
	MEMCG_NR_COUNTERS = 4,
};

enum memcg_event_idx {
	MEMCG_LOW = PMC_EVENT_LOW,
	MEMCG_HIGH = PMC_EVENT_HIGH,
	MEMCG_MAX = PMC_EVENT_MAX,
	MEMCG_OOM = PMC_EVENT_OOM,
	MEMCG_OOM_KILL = PMC_EVENT_OOM_KILL,
	MEMCG_OOM_GROUP_KILL = PMC_EVENT_OOM_GROUP_KILL,
	MEMCG_NR_EVENTS = PMC_NR_EVENTS,
};

enum memcg_stat_idx {
	MEMCG_STAT_ANON = PMC_STAT_ANON,
	MEMCG_STAT_KERNEL = PMC_STAT_KERNEL,
	MEMCG_STAT_KERNEL_STACK = PMC_STAT_KERNEL_STACK,
	MEMCG_STAT_PAGETABLES = PMC_STAT_PAGETABLES,
	MEMCG_STAT_SOCK = PMC_STAT_SOCK,
	MEMCG_STAT_SLAB_RECLAIMABLE_B = PMC_STAT_SLAB_RECLAIMABLE,
	MEMCG_STAT_SLAB_UNRECLAIMABLE_B = PMC_STAT_SLAB_UNRECLAIMABLE,
	MEMCG_NR_STATS = PMC_NR_STATS,
	/*
	 * Not a memory.stat key: kernel pages charged through this cgroup's
	 * own objcg and not uncharged yet, which keep its handle (a shell)
	 * usable once the cgroup is freed.
	 */
	MEMCG_STAT_KMEM_OWN = PMC_NR_STATS,
	MEMCG_NR_STATS_ALL,
};

/*
 * A shell is what is left of a freed cgroup (objcg era) whose objcg still
 * has kernel pages charged: out of the tree, without id or events, but its
 * handle still finds it, for one thing only: uncharging those pages (from
 * its nearest online ancestor, where its objcg now points).  The kernel's
 * obj_cgroup outliving its memcg.
 */
enum memcg_state { MEMCG_ONLINE = 1, MEMCG_DYING = 2, MEMCG_SHELL = 3 };

/*
 * Handles of cgroups and tasks: the object's slot in bits 0..21, the slot's
 * generation (odd while an object holds it) in bits 22..45, the kind in bit
 * 46 (0 a cgroup, 1 a task) and the hierarchy's tag in bits 47..62.  A
 * cgroup's slot lives as long as the cgroup, dying included; the memcg id
 * (1..65,535) is separate, since current kernels give it back at offline.
 * The tag and the kind tell a handle of another hierarchy or another kind
 * from a stale one: the first is a caller's mistake (-EINVAL), the second
 * an object that is gone (-ESTALE).
 */
#define MEMCG_HANDLE_SLOT_BITS 22
#define MEMCG_HANDLE_SLOT_MASK ((1u << MEMCG_HANDLE_SLOT_BITS) - 1)   /* = IDMAP_MAX_INDEX */
#define MEMCG_HANDLE_GEN_MASK ((1u << 24) - 1)
#define MEMCG_HANDLE_KIND_TASK (1ull << 46)
/*
 * Sockets are of the task kind with bit 21 of the slot set: task slots stop
 * below it (MEMCG_TASK_SLOT_MAX), so a socket's handle never finds a task
 * nor a task's a socket, and the cgroup and task layouts stay as they were.
 */
#define MEMCG_HANDLE_SOCK_SLOT (1u << 21)
#define MEMCG_TASK_SLOT_MAX (MEMCG_HANDLE_SOCK_SLOT - 1)
#define MEMCG_HANDLE_TAG_SHIFT 47
#define MEMCG_HANDLE_TAG_MAX 0xffffu

struct clamp_log;
struct pmc_task;
struct pmc_sock;
struct kmem_cache;
struct slab_state;

/*
 * What most cgroups never have: memory events (a limit hit, an OOM) and the
 * throttling and livelock counts that come with them.  Allocated at the
 * first one (memcg_events_of); a cgroup without it reads zeros.
 */
struct memcg_events {
	_Atomic long events[MEMCG_NR_EVENTS];
	_Atomic long events_local[MEMCG_NR_EVENTS];
	/* memory.high throttling this cgroup's charges earned (jiffies, not slept). */
	_Atomic long throttle_jiffies;
	/* 3.8 charges refused here that 3.8 would have retried forever. */
	_Atomic long oom_livelocks;
};

/*
 * Layout (benchmarks/README.md, "Data layout"): a cgroup is one allocation
 * of a few cache lines, sized to its hierarchy's configuration:
 *
 *  - the cold part, first: the statistics (one set per cgroup, whatever
 *    the number of CPUs; a CPU's stock keeps per-CPU deltas for the
 *    cgroups its slots cache, struct memcg_stock_pcp, so a charge that
 *    the stock serves or refills never writes them), then the tree,
 *    tasks, sockets, slab state and names, touched under h->lock by rare
 *    operations;
 *  - the hot line: what the charge path reads of the cgroup itself (look-up
 *    checks, the parent, the stock's reference count), 128-byte aligned so
 *    that it and the memory counter's hot line after it make one aligned
 *    pair (the L2's adjacent-line prefetch fetches both on one miss);
 *  - the page counters the cgroup version has, last: v1 memory, memsw,
 *    kmem and tcpmem; v2 memory and swap, where swap (v2 has no memsw, so
 *    it is never charged) is allocated without its protection line.
 *
 * The kernel keeps its hot fields (the counters) in struct mem_cgroup too
 * and its per-CPU statistics in percpu memory; it allocates the events and
 * the rest inline.  pymemcg allocates events lazily, since a simulated tree
 * of tens of thousands of cgroups rarely hits a limit in most of them.
 */
/*
 * What a cgroup has once it had a child, a task or a socket, which most
 * cgroups of a large tree (its leaves) never have.  Allocated by
 * memcg_ext_prepare, at the creation of a child, a fork, a task's move, a
 * socket's creation or a task's first page segment here (each may fail
 * with -ENOMEM, as the kernel's may), for the cgroup and every ancestor it
 * lacks: so the moves that cannot fail always find it where they go (a
 * freed descendant's statistics folded into an ancestor, 3.8's offline
 * moving user segments to the parent).  Kept until the cgroup is freed.
 * Under h->lock; a cgroup without it reads zeros (memcg_ext).
 */
struct memcg_ext {
	long dead_stat[MEMCG_NR_STATS]; /* folded in from freed descendants */
	struct pmc_task *tasks_head, *tasks_tail;       /* its tasks, in fork order */
	long nr_tasks;
	long nr_forking;                /* forks in progress: they count as tasks (EBUSY) */
	struct task_seg *user_segs;     /* tasks' user pages charged here (3.8 reparenting) */
	long task_ksegs;                /* tasks' kernel-page segments naming it (stacks, tables) */
	long nr_sockets;                /* open sockets bound here, each a reference (refs) */
};

struct memcg_cold {
	/*
	 * Statistics: the cgroup's counts, updated with relaxed atomic adds
	 * where no stock slot of the CPU caches the cgroup; what the slots
	 * hold is added by readers (memcg_stat_sum).
	 */
	_Atomic long stat[MEMCG_NR_STATS_ALL];

	/* The tree, under h->lock. */
	struct mem_cgroup *first_child, *last_child;
	struct mem_cgroup *next_sibling, *prev_sibling;
	union {
		/* Online: the hash chain of h->names (memcg_remove unhashes it). */
		struct mem_cgroup *next_name;
		/* Offline: the list of the doomed or shelled, in memcg_free_dying. */
		struct mem_cgroup *next_dying;
	};
	struct mem_cgroup *all_prev, *all_next; /* every cgroup, in creation order */
	int32_t nr_children;            /* online and dying (slots: at most 4M cgroups) */
	int32_t nr_shells;              /* shells whose parent this is: they pin it */
	int32_t nr_descendants;         /* online, all depths */
	int32_t nr_dying_descendants;
	struct mem_cgroup *next_free;   /* the queue's link, while queued */
	uint64_t serial;                /* creation number: root 1 */
	struct memcg_ext *ext;          /* NULL until the first child, task or socket */
	/*
	 * Slab (slab.c).  The objcg of the objcg era is the cgroup itself (a
	 * shell once freed): its leftover bytes and its references (objects
	 * charged through it, CPU object stocks caching it) keep it.
	 */
	_Atomic long nr_charged_bytes;
	_Atomic long objcg_refs;
	struct kmem_cache *clones_head, *clones_tail;  /* its clones, under the slab lock */
	int32_t kmemcg_id;              /* kmem cache id (-1: none), under h->lock */
	uint32_t name_len;              /* < PATH_MAX (memcg_check_name) */
	/* Small fields together, for the size of a cgroup of a large tree. */
	_Atomic bool free_queued;       /* on h->free_queue (memcg_free_queue) */
	/* v1 tunables (0 or 1; swappiness 0..200), copied from the parent at creation. */
	_Atomic bool oom_kill_disable;
	_Atomic bool oom_group;         /* memory.oom.group (v2) */
	/* v1 sockets: new ones are bound (tcpmem_active), the last charge failed (pressure). */
	_Atomic bool tcpmem_active;
	_Atomic bool tcpmem_pressure;
	_Atomic int16_t swappiness;
	char name[];                    /* name_len + 1 bytes, allocated with the rest */
};

struct mem_cgroup {
	/*
	 * Hot: read by every charge of this cgroup; refs written by stock
	 * slots.  It starts a 128-byte block whose second line is the memory
	 * counter's hot line (MEMCG_HOT_ALIGN).
	 */
	_Alignas(MEMCG_HOT_ALIGN) struct pmc_hierarchy *h;
	struct mem_cgroup *parent;
	/* References: stock slots caching it, reclaim in progress (css refs). */
	_Atomic long refs;
	_Atomic int state;
	_Atomic bool kmem_active;
	bool id_held;                   /* the id still names it (h->ids) */
	bool doomed;                    /* being freed, under h->lock */
	uint32_t id;                    /* memcg id; kept for show once given back */
	uint32_t slot;                  /* of its handle: also where this block is (memcg_slot_block) */
	/*
	 * Its handle's generation: odd while the handle finds it, even once
	 * unpublished.  It lives in the block, not in an id table, and is
	 * never cleared: the next cgroup of the slot goes on from it, so a
	 * stale handle never matches (memcg_lookup).
	 */
	_Atomic uint32_t gen;
	int depth;
	_Atomic(struct memcg_events *) ev;      /* NULL until the first event */
	struct memcg_cold *cold;        /* the rest of it, its own allocation */

	/*
	 * The page counters of its cgroup version (memcg_nr_counters), each
	 * on its own line(s): memory first.  v2's swap counter is the last and
	 * hot_only: its protection line is not allocated.
	 */
	struct page_counter counter[];
};

/* A cgroup's lazily allocated part for reading: zeros where it has none. */
extern const struct memcg_ext memcg_no_ext;

static inline const struct memcg_ext *memcg_ext(const struct mem_cgroup *memcg)
{
	return memcg->cold->ext ? memcg->cold->ext : &memcg_no_ext;
}

/* Before a child, a task or a socket comes to memcg, under h->lock: 0 or -ENOMEM. */
int memcg_ext_prepare(struct mem_cgroup *memcg);

/* The events of a cgroup, allocated at the first (NULL: out of memory; see memcg.c). */
struct memcg_events *memcg_events_of(struct mem_cgroup *memcg);

int memcg_events_prepare(struct mem_cgroup *memcg);

static inline struct memcg_events *memcg_events_peek(struct mem_cgroup *memcg)
{
	/* Acquire: pairs with the publishing CAS, so the zeroed fields are seen. */
	return atomic_load_explicit(&memcg->ev, memory_order_acquire);
}

/*
 * A CPU owned by a caller (cpu.c): its lock stays taken from acquire to
 * release, so the owner's charges take no lock.  `token` and `thread` are
 * read by anyone with relaxed loads and written under the CPU lock (token
 * set also under hierarchy.c's registry lock, which close takes to see
 * it); the rest is the owner thread's own.
 */
struct cpu_owner {
	_Atomic int64_t token;          /* pmc_cpu_acquire's token; 0: not owned */
	_Atomic uintptr_t thread;       /* the owning thread's marker (cpu.c) */
	struct pmc_hierarchy *h;
	struct memcg_stock_pcp *next;   /* the owner thread's other owned CPUs */
	int cpu;
	bool locked;                    /* the owner holds the lock right now */
	/*
	 * The last cgroup the owner's calls looked up, while the lock stayed
	 * taken: nothing can be freed meanwhile (a free waits for every CPU
	 * lock), so the pointer its handle found is still the one it finds.
	 * Forgotten whenever the lock is let go.
	 */
	int64_t last_handle;
	struct mem_cgroup *last_memcg;
	unsigned int last_slot;         /* where the stock cached last_memcg then */
	/*
	 * The fast path may try last_slot: it was found, the era's stock is
	 * not 3.8's, last_memcg is not the root, and the lock is held (set
	 * under it, cleared with the cache whenever it is let go).
	 */
	bool fast;
};

/* One CPU's stock: its lock is also "running on this CPU". */
struct memcg_stock_pcp {
	_Alignas(PMC_CACHELINE) _Atomic int lock;
	unsigned int nr_slots;
	struct mem_cgroup *cached[MEMCG_STOCK_MAX_SLOTS];
	unsigned long nr_pages[MEMCG_STOCK_MAX_SLOTS];
	uint64_t rng;                   /* splitmix64 state: random eviction */
	/*
	 * Statistics deltas of the cgroup each slot caches, kept here instead
	 * of per-CPU arrays in every cgroup: the stock's own lines, plain
	 * fields written and read under the CPU lock (readers take it, see
	 * memcg_stat_sum).  Added to the cgroup's counts when the slot lets
	 * go of it (stock_set_cached), before its reference is dropped: a
	 * cgroup that no slot caches has all its statistics in memcg->stat.
	 */
	long stat[MEMCG_STOCK_MAX_SLOTS][MEMCG_NR_STATS_ALL];
	/* The object stock (objcg era, slab.c): one objcg, bytes, stat deltas. */
	struct mem_cgroup *objcg;
	unsigned long obj_nr_bytes;
	long slab_b[2];                 /* reclaimable, unreclaimable */
	struct cpu_owner owner;
};

struct stock_array {
	struct stock_array *next;       /* arrays this slot outgrew: kept, see hierarchy.c */
	struct memcg_stock_pcp pcp[];
};

/* A directory of chunks of hot parts (struct pmc_hierarchy, hot_dir). */
struct memcg_hot_dir {
	_Atomic(char *) chunk[MEMCG_HOT_DIR];
};

/*
 * A hierarchy lives in a slot of hierarchy.c's registry.  The slot's memory
 * is never freed and its first fields outlive each hierarchy that uses it:
 * a caller with a stale handle may still take the slot's locks for a
 * moment before it sees that the generation moved on (see hierarchy.c).
 */
struct pmc_hierarchy {
	/* --- the slot: set up once, kept across lives --- */
	pthread_mutex_t lock;           /* tree shape, ids, frees; never under a CPU lock */
	_Atomic uint32_t gen;           /* odd while a hierarchy lives here */
	_Atomic uint32_t stock_cap;     /* CPUs the stock array has room for */
	_Atomic(struct stock_array *) stock;
	_Atomic long inflight;          /* calls working without a lock (hier_hold) */
	uint32_t index;
	uint32_t next_free;             /* registry free list: index + 1, 0: none */

	/* --- one life: zeroed by memcg_hierarchy_init, cfg first --- */
	struct pmc_config cfg;
	struct mem_cgroup *root;
	struct idmap ids;               /* memcg id -> cgroup, under lock */
	struct idmap slots;             /* handle slot numbers (bits only: the hot blocks are the table) */
	struct idmap tasks;             /* handle slot -> task */
	uint32_t nr_task_slots;         /* task slots ever used + 1 */
	struct idmap socks;             /* handle slot (without MEMCG_HANDLE_SOCK_SLOT) -> socket */
	uint32_t nr_sock_slots;         /* socket slots ever used + 1 */
	_Atomic(struct mem_cgroup *) free_queue;  /* may have become freeable */
	_Atomic int reclaim_hook;       /* call the registered reclaim callback */
	_Atomic int vm_swappiness;      /* the sysctl: the root's swappiness */
	struct mem_cgroup *all_head, *all_tail;  /* creation order, under lock */
	uint32_t tag;                   /* bits 47..62 of its cgroups' handles */
	struct mem_cgroup **names;      /* online cgroups by (parent, name) */
	size_t names_mask;              /* buckets - 1 */
	size_t nr_names;
	int64_t handle;
	struct slab_state *slab;        /* caches, slabs, pending work (slab.c) */
	uint64_t next_serial;           /* cgroup serial numbers, under lock */
	/*
	 * The cgroups' hot parts (struct mem_cgroup), packed in chunks of
	 * MEMCG_HOT_CHUNK blocks of hot_size bytes, at the place their handle
	 * slot names: hot_dir[slot / (MEMCG_HOT_CHUNK * MEMCG_HOT_DIR)] ->
	 * chunk[slot / MEMCG_HOT_CHUNK % MEMCG_HOT_DIR] -> block
	 * [slot % MEMCG_HOT_CHUNK].  A handle's look-up finds its block with
	 * no id-table entry in between (one miss fewer among many cgroups),
	 * and checks the generation in the block.  Chunks are allocated at the
	 * first slot they hold, under lock, and go with the hierarchy; a
	 * lock-free reader therefore never follows a pointer to freed memory.
	 */
	_Atomic(struct memcg_hot_dir *) hot_dir[MEMCG_HOT_DIRS];
	size_t hot_size;                /* memcg_size(): the blocks' stride */
};

/*
 * A call that goes on after letting go of every lock (reclaim, the end of a
 * charge, a replay batch) holds the hierarchy so that close waits for it.
 * The frame, on the caller's stack, also tells close that it is being
 * called from inside such a call on the same thread (a reclaim hook).
 */
struct hier_frame {
	struct pmc_hierarchy *h;
	struct hier_frame *next;
};

/*
 * Pages of a task charged to one cgroup: a task's user pages and its page
 * tables each make a list of these, newest first (a task that moves
 * charges the new cgroup from then on; what it had stays where it was).
 * User segments are also on their cgroup's list, so that 3.8's offline can
 * move them to the parent.  Under h->lock.
 */
struct task_seg {
	struct mem_cgroup *memcg;
	unsigned long nr_pages;
	struct task_seg *next;                  /* the task's list */
	struct task_seg *mprev, *mnext;         /* the cgroup's list (user pages) */
	/*
	 * 3.8: user pages that offline moved to the root.  They stay on the
	 * root's counters and in its anon statistic (only the child let go of
	 * them), so their uncharge takes them off the root, as an uncharge
	 * through the dying child's handle does; the root's own pages (a root
	 * task's) were never charged and are not.
	 */
	bool root_charged;
};

/*
 * A task: a kernel stack, user pages and the page tables that map them,
 * in a cgroup.  Under h->lock; its handle finds it lock-free.
 */
struct pmc_task {
	struct pmc_hierarchy *h;
	uint32_t slot, gen;
	_Atomic bool alive;             /* written under h->lock; read by charges */
	bool sparse;                    /* one page-table page per mapped page */
	_Atomic bool oom_victim;        /* chosen by the OOM killer (TIF_MEMDIE) */
	long refs;                      /* its handle, and calls in progress */
	struct pmc_task *next_victim;   /* oom.c's list of the tasks it kills */
	int oom_score_adj;
	struct mem_cgroup *memcg;       /* its cgroup now */
	struct pmc_task *cg_prev, *cg_next;
	struct mem_cgroup *stack_memcg; /* whose objcg the stack was charged through */
	unsigned long stack_pages;      /* charged (0 where kmem was not accounted) */
	struct task_seg *user, *pgtables;
	unsigned long rss;              /* user pages mapped */
	unsigned long max_mapped;       /* page tables follow the high-water mark */
	unsigned long pte, pmd, pud;    /* page-table pages by level */
	unsigned long pt_charged;       /* of those, charged (accounted) */
	unsigned long throttle_jiffies; /* memory.high delay its faults earned */
};

/*
 * Is the charging task dying (task_is_dying: exited, or chosen by the OOM
 * killer)?  Its charges are let fail after one OOM pass rather than loop.
 */
static inline bool task_is_dying(struct pmc_task *task)
{
	return task && (!atomic_load_explicit(&task->alive, memory_order_relaxed) ||
			atomic_load_explicit(&task->oom_victim, memory_order_relaxed));
}

/* GFP_KERNEL: may wait, may wake kswapd, may call into the filesystem. */
#define PMC_GFP_KERNEL_DEFAULT (PMC_GFP_DIRECT_RECLAIM | PMC_GFP_KSWAPD_RECLAIM | PMC_GFP_FS)

/* State of one charging call, kept across the points where the CPU lock is dropped. */
struct charge_ctx {
	struct pmc_hierarchy *h;
	int64_t handle;
	struct mem_cgroup *memcg;
	int cpu;
	bool pinned;                    /* holds a reference on memcg */
	bool held;                      /* holds the hierarchy (frame) */
	unsigned long pending_high;     /* current->memcg_nr_pages_over_high */
	unsigned long throttle_jiffies; /* memory.high delay this call earned */
	uint32_t over_id;               /* memcg id of the cgroup that refused */
	struct pmc_task *task;          /* the charging task, if any (OOM, bypass) */
	bool bypassed;                  /* 3.8: charged to the root instead (nothing) */
	struct hier_frame frame;
};

/* hierarchy.c */
struct pmc_hierarchy *hier_slot(int64_t hierarchy);
struct pmc_hierarchy *hier_slot_index(uint32_t index);
void hier_registry_lock(void);
void hier_registry_unlock(void);
int hier_lock_error(void);
bool hier_live(struct pmc_hierarchy *h, int64_t hierarchy);
struct pmc_hierarchy *hier_lock(int64_t hierarchy);
int hier_cpu_lock(int64_t hierarchy, int32_t cpu, struct pmc_hierarchy **hp);
void hier_hold(struct pmc_hierarchy *h, struct hier_frame *frame);
void hier_unhold(struct pmc_hierarchy *h, struct hier_frame *frame);

/*
 * The stock array of the hierarchy's current life.  It only changes while
 * no call of this life can run (memcg_hierarchy_init), so a relaxed load
 * suffices; a caller with a stale handle may see an older, smaller array,
 * which hier_cpu_lock allows for.
 */
static inline struct memcg_stock_pcp *stock_of(struct pmc_hierarchy *h, int cpu)
{
	return &atomic_load_explicit(&h->stock, memory_order_relaxed)->pcp[cpu];
}

void pcp_lock_slow(struct memcg_stock_pcp *pcp);

/*
 * A CPU's lock: a test-and-test-and-set spinlock whose fast path is one
 * exchange, inline.  Acquire/release order the slots and everything the
 * holder touched (see stock.c for the slow path).
 */
static inline void pcp_lock(struct memcg_stock_pcp *pcp)
{
	if (__builtin_expect(atomic_exchange_explicit(&pcp->lock, 1, memory_order_acquire), 0))
		pcp_lock_slow(pcp);
}

static inline void pcp_unlock(struct memcg_stock_pcp *pcp)
{
	atomic_store_explicit(&pcp->lock, 0, memory_order_release);
}

static inline void cpu_lock(struct pmc_hierarchy *h, int cpu)
{
	pcp_lock(stock_of(h, cpu));
}

static inline void cpu_unlock(struct pmc_hierarchy *h, int cpu)
{
	pcp_unlock(stock_of(h, cpu));
}

/*
 * cpu.c: the CPUs this thread owns, and whether it holds one of h's locks
 * right now: then it must not wait for h's mutex or another of its CPU
 * locks (a drain or a free waiting for its CPU would wait forever), so
 * hier_lock and hier_cpu_lock refuse (-EDEADLK).  initial-exec: one load
 * from the thread pointer, on every single call's path.
 */
extern _Thread_local struct memcg_stock_pcp *cpu_owned_head
	__attribute__((tls_model("initial-exec")));
bool cpu_owner_holds_slow(struct pmc_hierarchy *h);

static inline bool cpu_owner_holds(struct pmc_hierarchy *h)
{
	return __builtin_expect(cpu_owned_head != NULL, 0) && cpu_owner_holds_slow(h);
}

bool cpu_owned_any(struct pmc_hierarchy *h);

/* memcg.c */
int memcg_hierarchy_init(struct pmc_hierarchy *h, const struct pmc_config *cfg, uint32_t tag);
void memcg_hierarchy_destroy(struct pmc_hierarchy *h);
struct mem_cgroup *memcg_lookup(struct pmc_hierarchy *h, int64_t cgroup);
int64_t memcg_handle(struct mem_cgroup *memcg);
int memcg_lookup_error(struct pmc_hierarchy *h, int64_t cgroup);
struct mem_cgroup *memcg_by_id(struct pmc_hierarchy *h, uint32_t id);
int memcg_swappiness(struct pmc_hierarchy *h, struct mem_cgroup *memcg);
int memcg_check_name(const char *name);
int64_t memcg_create(struct pmc_hierarchy *h, struct mem_cgroup *parent, const char *name);
int memcg_remove(struct pmc_hierarchy *h, struct mem_cgroup *memcg);
void memcg_free_dying(struct pmc_hierarchy *h);
void memcg_put(struct pmc_hierarchy *h, struct mem_cgroup *memcg);
void memcg_free_queue(struct pmc_hierarchy *h, struct mem_cgroup *memcg);
void memcg_put_unlocked(struct pmc_hierarchy *h, struct mem_cgroup *memcg);
uint64_t fold_levels(uint64_t mask);
bool memcg_is_descendant(struct mem_cgroup *memcg, struct mem_cgroup *root);
void memcg_memory_event(struct mem_cgroup *memcg, enum memcg_event_idx event);
int64_t memcg_try_charge(struct pmc_hierarchy *h, int64_t cgroup, unsigned long nr_pages,
			 int cpu, unsigned int gfp, bool kmem);
int64_t memcg_uncharge(struct pmc_hierarchy *h, int64_t cgroup, unsigned long nr_pages,
		       int cpu, bool kmem, struct clamp_log *log);
int64_t memcg_try_charge_locked(struct charge_ctx *ctx, unsigned long nr_pages,
				unsigned int gfp, bool kmem);
bool memcg_charge_needs_finish(struct charge_ctx *ctx);
void memcg_charge_hold(struct charge_ctx *ctx);
int64_t memcg_charge_finish(struct charge_ctx *ctx, int64_t ret);
void memcg_uncharge_root_user(struct pmc_hierarchy *h, unsigned long nr_pages, int cpu);
void memcg_uncharge_locked(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			   unsigned long nr_pages, int cpu, bool kmem, struct clamp_log *log);
void memcg_uncharge_kmem_stat(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			      unsigned long nr_pages, int cpu, enum memcg_stat_idx stat);
int64_t task_handle(struct pmc_task *t);
void finish_call(struct pmc_hierarchy *h);

/* charge.c, for the core's own callers */
unsigned long memcg_margin(struct mem_cgroup *memcg);
void memcg_charge_unlock(struct charge_ctx *ctx);
int64_t memcg_charge_task(struct pmc_hierarchy *h, int64_t cgroup, struct pmc_task *task,
			  unsigned long nr_pages, int cpu, unsigned int gfp, bool kmem,
			  bool *bypassed, bool *charged);

/* charge.c: sockets (mem_cgroup_charge_skmem, mem_cgroup_uncharge_skmem) */
int64_t memcg_charge_skmem(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			   unsigned long nr_pages, int cpu, unsigned int gfp, bool *charged);
void memcg_uncharge_skmem(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			  unsigned long nr_pages, int cpu);

/* sock.c */
void socks_destroy(struct pmc_hierarchy *h);

/* slab.c */
int slab_init(struct pmc_hierarchy *h);
void slab_destroy(struct pmc_hierarchy *h);
void slab_offline(struct pmc_hierarchy *h, struct mem_cgroup *memcg);
void slab_kmem_activated(struct pmc_hierarchy *h, struct mem_cgroup *memcg);
void slab_release_kmemcg_id(struct pmc_hierarchy *h, struct mem_cgroup *memcg);
void drain_obj_stock(struct pmc_hierarchy *h, int cpu);
bool obj_stock_flush_required(struct pmc_hierarchy *h, int cpu, struct mem_cgroup *root);

/* task.c, for slab.c */
struct pmc_task *task_pin(struct pmc_hierarchy *h, int64_t task, int64_t *err);
void task_unpin_locked(struct pmc_task *t);
bool memcg_kmem_accounted(const struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			  unsigned long nr, unsigned int gfp, uint32_t flags);

/* oom.c */
enum oom38 { OOM38_RETRY, OOM38_WAIT, OOM38_DIE };
bool memcg_oom(struct charge_ctx *ctx, struct mem_cgroup *over, int order);
enum oom38 memcg_oom_38(struct charge_ctx *ctx, struct mem_cgroup *over);

/* task.c */
void task_exit_locked(struct pmc_hierarchy *h, struct pmc_task *task, int cpu);
void task_reparent_user_pages(struct mem_cgroup *memcg);
void tasks_destroy(struct pmc_hierarchy *h);

/* reclaim.c */
long reclaim_unlocked(struct pmc_hierarchy *h, struct mem_cgroup *memcg, unsigned long nr_pages);
long reclaim_pinned(struct pmc_hierarchy *h, int64_t handle, unsigned long nr_pages);
int handle_over_high(struct charge_ctx *ctx);
int64_t memcg_list(struct pmc_hierarchy *h, struct mem_cgroup *first, int how,
		   struct pmc_cgroup_list *list);
long memcg_reclaim(struct pmc_hierarchy *h, int64_t cgroup, unsigned long nr_pages);
int64_t memcg_drain_cpu_locked(struct pmc_hierarchy *h, int cpu);
int64_t memcg_drain_all_locked(struct pmc_hierarchy *h, int64_t cgroup);
int memcg_activate_kmem(struct pmc_hierarchy *h, struct mem_cgroup *memcg);

/* Anything for memcg_free_dying to look at?  A hint: the free rechecks. */
static inline bool memcg_free_pending(struct pmc_hierarchy *h)
{
	return atomic_load_explicit(&h->free_queue, memory_order_relaxed) != NULL;
}

static inline bool memcg_is_root(struct mem_cgroup *memcg)
{
	return memcg->parent == NULL;
}

static inline bool memcg_online(struct mem_cgroup *memcg)
{
	return atomic_load_explicit(&memcg->state, memory_order_relaxed) == MEMCG_ONLINE;
}

/*
 * Where the pages of a cgroup that is not online went: its nearest online
 * ancestor.  An objcg is reparented at each offline, so it always names an
 * online cgroup (objcg era, kernel memory); 3.8's offline moved the user
 * pages to the parent, and the parent's offline moves them on (user
 * memory).  The walk is safe under a CPU lock or h->lock: a dying cgroup or a shell
 * keeps its parent allocated (nr_children, nr_shells).
 */
static inline struct mem_cgroup *memcg_reparented_to(struct mem_cgroup *memcg)
{
	while (!memcg_online(memcg))
		memcg = memcg->parent;
	return memcg;
}

static inline bool memcg_shell(struct mem_cgroup *memcg)
{
	return atomic_load_explicit(&memcg->state, memory_order_relaxed) == MEMCG_SHELL;
}

/* stock.c */
int stock_init(struct pmc_hierarchy *h);
void refill_stock(struct pmc_hierarchy *h, struct mem_cgroup *memcg, unsigned long nr_pages, int cpu,
		  struct clamp_log *log);
void drain_stock_fully(struct pmc_hierarchy *h, int cpu);
void drain_all_stock(struct pmc_hierarchy *h, struct mem_cgroup *root);
/* Take every CPU lock once: afterwards nobody still uses what was unpublished. */
void synchronize_cpus(struct pmc_hierarchy *h);
void memcg_stat_sum(struct pmc_hierarchy *h, struct mem_cgroup *memcg, int64_t *out, int n);
void memcg_stat_subtree(struct pmc_hierarchy *h, struct mem_cgroup *root, int64_t *out);
/*
 * Statistics.  mod_memcg_state is called with the CPU lock held: where a
 * slot of this CPU's stock caches the cgroup, the delta goes to the slot
 * (plain add: only the lock holder touches it); otherwise to the cgroup's
 * own count with a relaxed atomic add (several CPUs may add at once).
 * Readers (memcg.c) add the global count and the deltas of the slots
 * caching the cgroup, each CPU's under its lock; a reader racing with
 * charges may see a stat a moment before or after its counters, as the
 * kernel's rstat readers do, and is exact in a quiescent state.
 */
static inline void mod_slot_state(struct memcg_stock_pcp *stock, int slot,
				  enum memcg_stat_idx idx, long val)
{
	stock->stat[slot][idx] += val;
}

static inline void mod_memcg_state(struct mem_cgroup *memcg, int cpu, enum memcg_stat_idx idx,
				   long val)
{
	struct memcg_stock_pcp *stock = stock_of(memcg->h, cpu);

	for (unsigned int i = 0; i < stock->nr_slots; i++) {
		if (stock->cached[i] == memcg) {
			mod_slot_state(stock, (int)i, idx, val);
			return;
		}
	}
	atomic_fetch_add_explicit(&memcg->cold->stat[idx], val, memory_order_relaxed);
}

/* The cgroup's own count: all of it where no stock slot caches the cgroup. */
static inline long memcg_stat_global(struct mem_cgroup *memcg, int idx)
{
	return atomic_load_explicit(&memcg->cold->stat[idx], memory_order_relaxed);
}

/**
 * consume_stock_slot - take nr_pages from this CPU's stock, if it has them
 *
 * Called with the CPU lock held.  Only the first slot caching the cgroup is
 * looked at, as in the kernel.  Returns the slot, or -1.
 */
static inline int consume_stock_slot(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
				     unsigned long nr_pages, int cpu)
{
	struct memcg_stock_pcp *stock = stock_of(h, cpu);

	if (h->cfg.stock_single_page) {
		/* 3.8: only order-0 charges use the stock, one page each. */
		if (nr_pages != 1 || stock->cached[0] != memcg || !stock->nr_pages[0])
			return -1;
		stock->nr_pages[0]--;
		return 0;
	}
	if (nr_pages > (unsigned long)h->cfg.charge_batch)
		return -1;
	for (unsigned int i = 0; i < stock->nr_slots; i++) {
		if (stock->cached[i] != memcg)
			continue;
		if (stock->nr_pages[i] < nr_pages)
			return -1;
		stock->nr_pages[i] -= nr_pages;
		return (int)i;
	}
	return -1;
}

static inline bool consume_stock(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
				 unsigned long nr_pages, int cpu)
{
	return consume_stock_slot(h, memcg, nr_pages, cpu) >= 0;
}

/**
 * memcg_charge_hit - a charge that the CPU's stock serves, on a CPU already held
 *
 * Exactly what memcg_try_charge_locked does when consume_stock serves the
 * charge (the stock, then the stat), without the general path's set-up,
 * so that the common case of a stream of charges costs no more than it
 * must.  False, with nothing changed, whenever the general path has more
 * to decide: a stale, dying or root cgroup, no pages, kernel memory that
 * also charges a kmem counter (v1) or is not accounted yet (3.8), or a
 * stock that cannot serve the charge.
 */
/*
 * The fast paths that keep a cgroup and the stock slot that served it (an
 * owned CPU, the single call's hint, a replay batch).  stock_slot_fast:
 * may that slot serve the cgroup's next user-page charges without the
 * general test?  Found, not 3.8's one-page stock, not the root (never
 * charged): what cannot change while the cgroup is known.  stock_hit_slot:
 * the charge, testing what can change meanwhile (the slot still caches
 * the cgroup, which is online, and holds the pages) and nothing else.  A
 * cgroup is cached in one slot at most (refill_stock adds to the slot that
 * caches it, else takes a free one), so that slot is the one consume_stock
 * would take: exactly memcg_charge_hit's outcome.  nr_pages - 1 < batch
 * also bounds nr_pages by PAGE_COUNTER_MAX (hier_new caps the batch).
 */
static inline bool stock_slot_fast(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
				   unsigned int slot)
{
	return slot < MEMCG_STOCK_MAX_SLOTS && !h->cfg.stock_single_page && !memcg_is_root(memcg);
}

static inline __attribute__((always_inline))
bool stock_hit_slot(struct pmc_hierarchy *h, struct memcg_stock_pcp *stock,
		    struct mem_cgroup *memcg, unsigned int slot, unsigned long nr_pages)
{
	if (nr_pages - 1 >= (unsigned long)h->cfg.charge_batch || stock->cached[slot] != memcg ||
	    stock->nr_pages[slot] < nr_pages || !memcg_online(memcg))
		return false;
	stock->nr_pages[slot] -= nr_pages;
	mod_slot_state(stock, (int)slot, MEMCG_STAT_ANON, (long)nr_pages);
	return true;
}

/* The slot of this CPU's stock caching memcg, or MEMCG_STOCK_MAX_SLOTS. */
static inline unsigned int stock_slot_of(struct memcg_stock_pcp *stock, struct mem_cgroup *memcg)
{
	for (unsigned int i = 0; i < stock->nr_slots; i++)
		if (memcg && stock->cached[i] == memcg)
			return i;
	return MEMCG_STOCK_MAX_SLOTS;
}

/* Always inline: the fast paths that call it have no frame of their own. */
static inline __attribute__((always_inline))
bool memcg_charge_hit(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
		      unsigned long nr_pages, int cpu, bool kmem)
{
	struct memcg_stock_pcp *stock;
	int slot;

	if (!memcg || !memcg_online(memcg) || memcg_is_root(memcg) || !nr_pages)
		return false;
	if (kmem && (h->cfg.version == 1 || h->cfg.kmem_first ||
		     !atomic_load_explicit(&memcg->kmem_active, memory_order_relaxed)))
		return false;
	slot = consume_stock_slot(h, memcg, nr_pages, cpu);
	if (slot < 0)
		return false;
	/* The slot that served the charge caches the cgroup: its stat deltas. */
	stock = stock_of(h, cpu);
	mod_slot_state(stock, slot, kmem ? MEMCG_STAT_KERNEL : MEMCG_STAT_ANON, (long)nr_pages);
	if (kmem)
		mod_slot_state(stock, slot, MEMCG_STAT_KMEM_OWN, (long)nr_pages);
	return true;
}

/**
 * memcg_uncharge_hit - kernel memory uncharged into the CPU's stock, on a CPU already held
 *
 * Exactly what memcg_uncharge_locked does when the era sends kmem
 * uncharges through the stock and a slot of this CPU caching the cgroup
 * has room for the pages (refill_stock's common case): the stat, then the
 * first slot caching the cgroup.  False, with nothing changed, otherwise:
 * user pages, v1 (its kmem counter is uncharged too), the eras without the
 * cap, a dying, stale or root cgroup, or a refill that would overflow the
 * slot or need a new one.
 */
static inline bool memcg_uncharge_hit(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
				      unsigned long nr_pages, int cpu, bool kmem)
{
	struct memcg_stock_pcp *stock = stock_of(h, cpu);

	if (!kmem || !memcg || !memcg_online(memcg) || memcg_is_root(memcg) || !nr_pages ||
	    h->cfg.version == 1 || !h->cfg.kmem_uncharge_via_stock || !h->cfg.stock_refill_cap ||
	    !atomic_load_explicit(&memcg->kmem_active, memory_order_relaxed))
		return false;
	for (unsigned int i = 0; i < stock->nr_slots; i++) {
		if (stock->cached[i] != memcg)
			continue;
		if (stock->nr_pages[i] + nr_pages > (unsigned long)h->cfg.charge_batch)
			return false;
		mod_slot_state(stock, (int)i, MEMCG_STAT_KERNEL, -(long)nr_pages);
		mod_slot_state(stock, (int)i, MEMCG_STAT_KMEM_OWN, -(long)nr_pages);
		stock->nr_pages[i] += nr_pages;
		return true;
	}
	return false;
}

/*
 * Where an uncharge reports the levels it clamped: a mask in 16 bits per
 * counter (pymemcg.h), or, with `levels` set, one byte per counter and level.
 */
struct clamp_log {
	uint64_t mask;
	uint8_t *levels;        /* [MEMCG_NR_COUNTERS][n], or NULL */
	size_t n;
	size_t nr_clamped;
	/* Levels between the named cgroup and the one uncharged (reparented pages). */
	size_t offset;
};

void counter_uncharge(struct page_counter *counter, int idx, unsigned long nr_pages,
		      struct clamp_log *log);
void memcg_uncharge_counters(struct mem_cgroup *memcg, unsigned long nr_pages,
			     struct clamp_log *log);

#endif /* PMC_MEMCG_H */
