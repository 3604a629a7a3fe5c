/*
 * pymemcg.h - the one public header of the pymemcg C core.
 *
 * Everything between PYMEMCG_CDEF_BEGIN and PYMEMCG_CDEF_END is handed
 * verbatim (preprocessor lines aside from plain integer #defines) to
 * CFFI as its cdef, so this block is the binding's contract: plain C
 * types and opaque handles only, no pointers into memory that can be
 * freed.
 *
 * Conventions:
 *  - Objects are addressed by handles: a positive int64_t packing a slot
 *    index (low 32 bits) and a generation (high 31 bits).  A handle whose
 *    object was freed no longer matches its slot's generation and every
 *    call with it returns -ESTALE.  Cgroup handles pack the cgroup's slot
 *    (bits 0..21), the slot's generation (bits 22..46) and the tag of its
 *    hierarchy (bits 47..62): a cgroup handle given to another hierarchy is
 *    refused with -EINVAL, a stale one with -ESTALE.  The memcg id (1..65,535,
 *    in pmc_cgroup_info and replay refusals) is not part of the handle.
 *  - Every function returns int64_t: a negative value is -errno (EINVAL,
 *    EBUSY, ESTALE, ENOMEM, ...); zero or positive is the documented result.
 *  - Counts are pages, passed as int64_t so that a negative count from a
 *    caller is seen (and refused with -EINVAL) instead of wrapping; a count
 *    above PMC_PAGE_COUNTER_MAX is refused with -EINVAL as well.
 *  - Nothing here is undefined for any argument value.
 */
#ifndef PYMEMCG_H
#define PYMEMCG_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* PYMEMCG_CDEF_BEGIN */

#define PMC_PAGE_SIZE 4096
#define PMC_PAGE_SHIFT 12
/* LONG_MAX / PAGE_SIZE on 64-bit: usage + nr_pages can never overflow a long. */
#define PMC_PAGE_COUNTER_MAX 2251799813685247

/*
 * A consistent-enough copy of one page counter's fields.  Fields are read
 * one by one without a lock, as /sys readers of the kernel's counters do.
 */
struct pmc_page_counter_info {
	uint64_t usage;
	uint64_t max;
	uint64_t min;
	uint64_t low;
	uint64_t high;
	uint64_t watermark;
	uint64_t local_watermark;
	uint64_t failcnt;
	uint64_t emin;
	uint64_t elow;
	uint64_t min_usage;
	uint64_t low_usage;
	uint64_t children_min_usage;
	uint64_t children_low_usage;
	int32_t track_failcnt;
	int32_t protection;
	int32_t depth;          /* 0 for a root counter */
	int32_t nr_children;
};

/* --- standalone page counters (mm/page_counter.c) --------------------- */

/* Returns a handle, or -EINVAL / -ESTALE (bad parent) / -ENOMEM. parent 0: a root. */
int64_t pmc_page_counter_new(int64_t parent, int64_t max, int track_failcnt, int protection);
/* Drops the owner's reference (once: -ESTALE after); freed once its children are. */
int64_t pmc_page_counter_put(int64_t counter);

/* Forced charge of the whole ancestry: 0, or -errno. */
int64_t pmc_page_counter_charge(int64_t counter, int64_t nr_pages);
/* 0 on success; k > 0 when the (k-1)-th ancestor refused (1: the counter itself). */
int64_t pmc_page_counter_try_charge(int64_t counter, int64_t nr_pages);
/*
 * 0, or a mask of the levels that underflowed and were clamped to zero
 * (bit i: the i-th ancestor, 0 the counter itself; bit 62 stands for every
 * level from 62 up).
 */
int64_t pmc_page_counter_uncharge(int64_t counter, int64_t nr_pages);

/* The same for any depth: clamped[i] = 1 if level i was clamped (i < n); returns how many were. */
int64_t pmc_page_counter_uncharge_levels(int64_t counter, int64_t nr_pages, uint8_t *clamped,
                                         int64_t n);

int64_t pmc_page_counter_set_max(int64_t counter, int64_t nr_pages);   /* 0 or -EBUSY */
int64_t pmc_page_counter_set_min(int64_t counter, int64_t nr_pages);
int64_t pmc_page_counter_set_low(int64_t counter, int64_t nr_pages);
int64_t pmc_page_counter_set_high(int64_t counter, int64_t nr_pages);
int64_t pmc_page_counter_reset_watermark(int64_t counter);
int64_t pmc_page_counter_reset_local_watermark(int64_t counter);
/* root must be counter or one of its ancestors (-EINVAL otherwise). */
int64_t pmc_page_counter_calculate_protection(int64_t root, int64_t counter, int recursive);
int64_t pmc_page_counter_read(int64_t counter, struct pmc_page_counter_info *info);
/* Number of live counters in the process-wide table (for leak checks). */
int64_t pmc_page_counter_nr_live(void);

/* --- lib/cmdline.c memparse and mm/page_counter.c page_counter_memparse -- */

/* Kernel memparse of a NUL-terminated string; 0, or -EINVAL if text follows. */
int64_t pmc_memparse(const char *buf, uint64_t *bytes);
/* max_token ("max", "-1", "") means PMC_PAGE_COUNTER_MAX; bytes round down to pages. */
int64_t pmc_page_counter_memparse(const char *buf, const char *max_token, uint64_t *nr_pages);

/* --- the cgroup tree and the charge path (mm/memcontrol.c) ------------- */

#define PMC_COUNTER_MEMORY 0
#define PMC_COUNTER_MEMSW 1
#define PMC_COUNTER_KMEM 2
#define PMC_COUNTER_TCPMEM 3

#define PMC_EVENT_LOW 0
#define PMC_EVENT_HIGH 1
#define PMC_EVENT_MAX 2
#define PMC_EVENT_OOM 3
#define PMC_EVENT_OOM_KILL 4
#define PMC_EVENT_OOM_GROUP_KILL 5
#define PMC_NR_EVENTS 6

#define PMC_STAT_ANON 0
#define PMC_STAT_KERNEL 1               /* every kernel page: stacks and page tables too */
#define PMC_STAT_KERNEL_STACK 2
#define PMC_STAT_PAGETABLES 3
#define PMC_STAT_SOCK 4                 /* v2 socket buffers (MEMCG_SOCK); never part of kernel */
/* Slab statistics are in BYTES (NR_SLAB_RECLAIMABLE_B, NR_SLAB_UNRECLAIMABLE_B). */
#define PMC_STAT_SLAB_RECLAIMABLE 5
#define PMC_STAT_SLAB_UNRECLAIMABLE 6
#define PMC_NR_STATS 7

/* GFP bits: the same values as pymemcg/gfp.py. */
#define PMC_GFP_DIRECT_RECLAIM 1
#define PMC_GFP_KSWAPD_RECLAIM 2
#define PMC_GFP_NORETRY 4
#define PMC_GFP_RETRY_MAYFAIL 8
#define PMC_GFP_NOFAIL 16
#define PMC_GFP_HIGH 32
#define PMC_GFP_ACCOUNT 64
#define PMC_GFP_FS 128
#define PMC_GFP_ALL 255

#define PMC_CHARGE_LOOP_CURRENT 0
#define PMC_CHARGE_LOOP_38 1

#define PMC_TCPMEM_PAGE_COUNTER 0       /* 4.5+: memcg_update_tcp_max, memcg1_charge_skmem */
#define PMC_TCPMEM_RES_COUNTER 1        /* 3.x: tcp_update_limit, res_counter_charge_nofail */

#define PMC_KMEM_LIMIT_ENFORCED 0
#define PMC_KMEM_LIMIT_IGNORED 1
#define PMC_KMEM_LIMIT_ABSENT 2
#define PMC_KMEM_LIMIT_EOPNOTSUPP 3     /* 5.16-6.5: charged, never limited, writes refused */
/* Which kernel allocations of a task are charged (SPEC 6; pmc_task_kmem_charge). */
#define PMC_KMEM_ACCOUNTING_WHITELIST 0 /* 4.5+: __GFP_ACCOUNT or a SLAB_ACCOUNT cache only */
#define PMC_KMEM_ACCOUNTING_BLACKLIST 1 /* 3.8-4.4: every process-context allocation */

#define PMC_SLAB_AUTO 0                 /* OBJCG where cfg.objcg, else CLONE */
#define PMC_SLAB_CLONE 1                /* 3.8-5.8: per-cgroup clones, whole slab pages charged */
#define PMC_SLAB_OBJCG 2                /* 5.9+: shared caches, objects charged in bytes */
#define PMC_SLAB_NONE 3                 /* nothing charged */
#define PMC_SLAB_NAME_KMEMCG_ID 0       /* "dentry(0:a)": kmem cache id (3.8-3.19) */
#define PMC_SLAB_NAME_CSS_ID 1          /* "dentry(2:a)": css id (4.0-4.6; the memcg id here) */
#define PMC_SLAB_NAME_SERIAL 2          /* "dentry(5:a)": cgroup serial number (4.7-5.8) */

#define PMC_FAILCNT_NONE 0
#define PMC_FAILCNT_MEMORY 1
#define PMC_FAILCNT_ALL 2

#define PMC_RESET_WATERMARK 0
#define PMC_RESET_LOCAL_WATERMARK 1
#define PMC_RESET_FAILCNT 2

/* Mirror of pymemcg.Config (see pymemcg/config.py for each field). */
struct pmc_config {
	int32_t version;
	int32_t ncpus;
	int64_t charge_batch;
	int32_t reclaim_retries;
	int32_t stock_slots;
	int32_t stock_single_page;
	int32_t stock_refill_cap;
	int32_t memsw;
	int32_t kmem_on_limit;
	int32_t kmem_limit;
	int32_t kmem_first;
	int32_t kmem_uncharge_via_stock;
	int32_t failcnt;
	int32_t allow_spinning_batch;
	int32_t memory_localevents;
	int32_t hz;                     /* jiffies per second (memory.high throttling); 0: 1000 */
	int32_t id_at_offline;          /* the memcg id is given back at offline (4.8+), else at free */
	int32_t id_errno;               /* no id left: ENOSPC (idr, 3.8) or EBUSY (xa_alloc); 0: ENOSPC */
	int32_t charge_loop;            /* PMC_CHARGE_LOOP_*: whose try_charge */
	int32_t objcg;                  /* kmem through an objcg, reparented at offline (5.9+) */
	int32_t reparent_user_pages;    /* offline moves user pages to the parent (3.8) */
	int32_t kernel_stack_pages;     /* THREAD_SIZE / PAGE_SIZE; 0: 4 */
	int32_t stack_per_page;         /* charged page by page, rolled back on failure (VMAP) */
	int32_t pagetables_accounted;   /* user page tables charged as kernel memory (4.8+) */
	int32_t tcpmem_counter;         /* PMC_TCPMEM_*: v1 socket accounting's era */
	int32_t kmem_accounting;        /* PMC_KMEM_ACCOUNTING_*: which kernel allocations are charged */
	int32_t slab_mode;              /* PMC_SLAB_*: how slab objects are accounted (csrc/slab.c) */
	int32_t slab_reparent;          /* clone mode: offline hands the caches to the parent (5.3-5.8) */
	int32_t slab_work_delay;        /* clone mode: allocations before queued clone creation runs; 0: never */
	int32_t slab_clone_name;        /* PMC_SLAB_NAME_*: how clones are named (0: kmemcg_id) */
	uint64_t seed;
};

struct pmc_cgroup_info {
	int64_t handle;
	int64_t parent;                 /* 0 for the root */
	uint32_t id;
	int32_t state;                  /* 1 online, 2 dying (a freed cgroup: -ESTALE) */
	int32_t kmem_active;
	int32_t depth;
	int64_t nr_children;            /* online and dying */
	int64_t nr_descendants;         /* online */
	int64_t nr_dying_descendants;
	int64_t events[6];
	int64_t events_local[6];
	int64_t stat[7];                /* this cgroup's own (summed over the CPUs): pages, slab bytes */
	int64_t nr_tasks;
	int64_t nr_sockets;             /* open sockets bound to it (they hold it, dying or not) */
	int32_t tcpmem_active;          /* v1: new sockets are bound (memory.kmem.tcp.limit_in_bytes) */
	int32_t tcpmem_pressure;        /* v1: the last socket charge failed (tcpmem_pressure) */
	int64_t throttle_jiffies;       /* memory.high delay its charges earned (not slept) */
	int64_t oom_livelocks;          /* 3.8 charges that would have retried forever (failed) */
	int32_t name_len;               /* bytes, up to 4095 */
	char name[256];                 /* its first 255 bytes; pmc_cgroup_list has all */
};

/* One cgroup of a listing; its name is names[name_off .. name_off + name_len). */
struct pmc_cgroup_entry {
	int64_t handle;
	int64_t parent;                 /* 0 for the root */
	int64_t name_off;
	int32_t state;                  /* 1 online, 2 dying */
	int32_t name_len;
	uint32_t id;                    /* memcg id (given back at offline on 4.8+: kept for show) */
	uint32_t reserved;
};

/*
 * A listing, taken in one snapshot under the hierarchy's lock: the caller
 * gives the room, the call says how much the whole listing needed.  When
 * count > cap or names_len > names_cap, what did not fit was not written:
 * call again with more room (that is a new snapshot).
 */
struct pmc_cgroup_list {
	struct pmc_cgroup_entry *entries;
	int64_t cap;                    /* room in entries */
	char *names;                    /* names, not NUL-terminated */
	int64_t names_cap;              /* room in names, bytes */
	int64_t count;                  /* out: entries in the listing */
	int64_t names_len;              /* out: bytes of names in the listing */
};

#define PMC_LIST_ALL 0          /* every cgroup, online and dying, in creation order */
#define PMC_LIST_CHILDREN 1     /* the cgroup's online children, in creation order */
#define PMC_LIST_LINEAGE 2      /* the root, its child, ..., the cgroup: root first */

/* Returns a hierarchy handle, or -EINVAL / -ENOMEM / -ENOSPC (65,535 live hierarchies). */
int64_t pmc_hierarchy_new(const struct pmc_config *cfg);
/*
 * Frees the hierarchy and every cgroup in it.  Safe while other threads
 * call into it: calls that start afterwards return -ESTALE, calls in
 * progress are waited for (a replay batch stops at its next lock
 * hand-over).  From inside a call on the same hierarchy on this thread
 * (a reclaim callback) it would wait for itself: it returns -EBUSY and
 * changes nothing.  A second close returns -ESTALE.
 */
int64_t pmc_hierarchy_close(int64_t hierarchy);
/* The same as pmc_hierarchy_close. */
int64_t pmc_hierarchy_put(int64_t hierarchy);
/* Hierarchies created and not yet closed, in the process (for leak checks). */
int64_t pmc_hierarchy_nr_live(void);
int64_t pmc_cgroup_root(int64_t hierarchy);
/* The handle of the cgroup (online or dying) that holds id, or -ENOENT. */
int64_t pmc_cgroup_by_id(int64_t hierarchy, int64_t id);
/*
 * A cgroup handle (id in the low 16 bits), or -errno: the name as mkdir
 * checks it (-ENAMETOOLONG from 4096 bytes, -EINVAL empty, with "/" or a
 * newline, -EEXIST "." and ".."), then -ESTALE/-ENOENT/-EEXIST/-ENOSPC.
 */
int64_t pmc_cgroup_create(int64_t hierarchy, int64_t parent, const char *name);
int64_t pmc_cgroup_remove(int64_t hierarchy, int64_t cgroup);
int64_t pmc_cgroup_info(int64_t hierarchy, int64_t cgroup, struct pmc_cgroup_info *info);
int64_t pmc_cgroup_counter(int64_t hierarchy, int64_t cgroup, int32_t counter,
                           struct pmc_page_counter_info *info);
/* Summed statistics (PMC_STAT_*, pages) of the cgroup, or with subtree of its whole subtree. */
int64_t pmc_cgroup_stat(int64_t hierarchy, int64_t cgroup, int32_t subtree, int64_t *out,
                        int32_t n);
/* Online children (creation order) into out[0..n); returns how many there are. */
int64_t pmc_cgroup_children(int64_t hierarchy, int64_t cgroup, int64_t *out, int64_t n);
/* Every existing cgroup, online and dying, in creation order. */
int64_t pmc_hierarchy_cgroups(int64_t hierarchy, int64_t *out, int64_t n);
/* A listing (PMC_LIST_*) with names and parents; cgroup is ignored for PMC_LIST_ALL.  0 or -errno. */
int64_t pmc_cgroup_list(int64_t hierarchy, int64_t cgroup, int32_t how,
                        struct pmc_cgroup_list *list);
/*
 * 0: charged; > 0: the handle of the cgroup over its limit; < 0: -errno
 * (-ESTALE: the cgroup is gone; -ECANCELED: the reclaim callback failed:
 * during the charge, which is abandoned with nothing charged, or during
 * memory.high handling afterwards, when the charge stands: memory.high
 * never fails a charge).
 */
int64_t pmc_cgroup_try_charge(int64_t hierarchy, int64_t cgroup, int64_t nr_pages,
                              int32_t cpu, uint32_t gfp, int32_t kmem);
/*
 * 0, or a mask of clamped levels: bit 16*c + i for counter c at the i-th
 * ancestor (i = 15 stands for every level from 15 up).
 */
int64_t pmc_cgroup_uncharge(int64_t hierarchy, int64_t cgroup, int64_t nr_pages,
                            int32_t cpu, int32_t kmem);
/*
 * The same for any depth: clamped[c * n + i] = 1 if counter c clamped at the
 * i-th ancestor (i < n); returns how many levels were clamped.
 */
int64_t pmc_cgroup_uncharge_levels(int64_t hierarchy, int64_t cgroup, int64_t nr_pages,
                                   int32_t cpu, int32_t kmem, uint8_t *clamped, int64_t n);
int64_t pmc_hierarchy_drain(int64_t hierarchy, int32_t cpu);
/* cgroup 0: the whole hierarchy. */
int64_t pmc_hierarchy_drain_all(int64_t hierarchy, int64_t cgroup);
/*
 * Owned CPUs (csrc/cpu.c): acquire takes CPU `cpu`'s lock and keeps it for
 * the calling thread; charges and uncharges on the token then take no lock
 * (the kernel's code running on its CPU).  Returns a token (> 0), or
 * -EBUSY (owned by someone), -EDEADLK (this thread owns a CPU of this
 * hierarchy already), -EINVAL (no such CPU), -ESTALE.  While it owns a
 * CPU, the thread may call nothing else of the hierarchy (-EDEADLK); other
 * threads' calls that need the CPU (single calls and replays on it,
 * drain_all, removals, frees) wait for the release, and close is -EBUSY.
 * Hold it like a lock, for bursts.  A token works only on its thread
 * (-EPERM elsewhere) and until released (-ESTALE); a thread that exits
 * gives back what it owns.  The calls return what the single calls do.
 */
int64_t pmc_cpu_acquire(int64_t hierarchy, int32_t cpu);
int64_t pmc_cpu_release(int64_t token);
int64_t pmc_cpu_try_charge(int64_t token, int64_t cgroup, int64_t nr_pages, uint32_t gfp,
                           int32_t kmem);
int64_t pmc_cpu_uncharge(int64_t token, int64_t cgroup, int64_t nr_pages, int32_t kmem);
/* pmc_cgroup_uncharge_levels's report, on an owned CPU. */
int64_t pmc_cpu_uncharge_levels(int64_t token, int64_t cgroup, int64_t nr_pages, int32_t kmem,
                                uint8_t *clamped, int64_t n);
/* Drain the owned CPU's stocks (pmc_hierarchy_drain); the CPU of a token. */
int64_t pmc_cpu_drain(int64_t token);
int64_t pmc_cpu_of(int64_t token);
/* How many CPUs of the hierarchy are owned now (a snapshot). */
int64_t pmc_hierarchy_cpu_owned(int64_t hierarchy);
/* 1 if the calling thread holds a CPU of the hierarchy now (its calls are -EDEADLK). */
int64_t pmc_cpu_held_here(int64_t hierarchy);
/* Slots of one CPU's stock: cached cgroup handles (0: empty) and pages; returns the slot count. */
int64_t pmc_hierarchy_stock(int64_t hierarchy, int32_t cpu, int64_t *cached, uint64_t *nr_pages,
                            int32_t n);
/*
 * The same, with the lineage (PMC_LIST_LINEAGE) of each cached cgroup, one
 * after the other in slot order, in `list` (may be NULL): one snapshot.
 */
int64_t pmc_hierarchy_stock_list(int64_t hierarchy, int32_t cpu, int64_t *cached,
                                 uint64_t *nr_pages, int32_t n, struct pmc_cgroup_list *list);
int64_t pmc_hierarchy_set_reclaim(int64_t hierarchy, int32_t enabled);
/*
 * The binding's reclaim entry: (hierarchy, cgroup, nr_pages) -> pages
 * claimed, or a negative value for a failure (every failure is reported
 * as -ECANCELED).  Called with no lock held; it may call any pmc_* function
 * but pmc_hierarchy_close of the same hierarchy (-EBUSY).
 */
void pmc_set_reclaim_callback(int64_t (*callback)(int64_t, int64_t, int64_t));
/* Reclaim through the callback; returns the progress seen on the counter. */
int64_t pmc_cgroup_reclaim(int64_t hierarchy, int64_t cgroup, int64_t nr_pages);
int64_t pmc_cgroup_set_max(int64_t hierarchy, int64_t cgroup, int32_t counter, int64_t nr_pages);
/* v2 memory.max: install the limit whatever the usage; returns the old one. */
int64_t pmc_cgroup_xchg_max(int64_t hierarchy, int64_t cgroup, int32_t counter, int64_t nr_pages);
int64_t pmc_cgroup_set_min(int64_t hierarchy, int64_t cgroup, int64_t nr_pages);
int64_t pmc_cgroup_set_low(int64_t hierarchy, int64_t cgroup, int64_t nr_pages);
int64_t pmc_cgroup_set_high(int64_t hierarchy, int64_t cgroup, int32_t counter, int64_t nr_pages);
int64_t pmc_cgroup_reset(int64_t hierarchy, int64_t cgroup, int32_t counter, int32_t what);
int64_t pmc_cgroup_event(int64_t hierarchy, int64_t cgroup, int32_t event);
/*
 * The memcg OOM killer for a limit write (v2 memory.max below the usage):
 * 1 if the cgroup's margin fits already or a task was killed (its pages
 * uncharged on cpu), 0 if no task could be killed, -errno.
 */
int64_t pmc_cgroup_out_of_memory(int64_t hierarchy, int64_t cgroup, int32_t cpu);
int64_t pmc_cgroup_activate_kmem(int64_t hierarchy, int64_t cgroup);

#define PMC_TUNABLE_OOM_KILL_DISABLE 0
#define PMC_TUNABLE_SWAPPINESS 1
#define PMC_TUNABLE_OOM_GROUP 2         /* v2 memory.oom.group; not inherited */
#define PMC_VM_SWAPPINESS_DEFAULT 60
/*
 * v1 tunables a new cgroup copies from its parent (mem_cgroup_css_alloc):
 * read with value < 0, else set, returning the value.  The root's
 * swappiness is the hierarchy's vm_swappiness sysctl, which a child of the
 * root copies.  The interface files apply each era's rules (cgroupfs).
 */
int64_t pmc_cgroup_tunable(int64_t hierarchy, int64_t cgroup, int32_t which, int64_t value);

/* --- tasks (csrc/task.c) and the OOM killer (csrc/oom.c) ------------- */

/* A task's state.  Counts are pages. */
struct pmc_task_info {
	int64_t handle;
	int64_t cgroup;                 /* the cgroup it is in */
	int32_t oom_score_adj;
	int32_t sparse;
	int64_t rss;                    /* user pages mapped */
	int64_t pagetables;             /* page-table pages: PTE + PMD + PUD */
	int64_t pte;                    /* of those, last-level (PTE) pages */
	int64_t pagetables_charged;     /* of those, charged as kernel memory */
	int64_t stack;                  /* kernel-stack pages charged */
	int64_t throttle_jiffies;       /* memory.high delay its faults earned (not slept) */
};

#define PMC_FORK_SPARSE 1               /* every mapped page in its own 2 MiB region */
/*
 * A new task in cgroup (online): its kernel stack is charged as kernel
 * memory (GFP_KERNEL, through the OOM killer if need be).  A handle (kind:
 * task), or -ENOMEM (the stack was refused: nothing stays charged),
 * -ESTALE, -EINVAL.  oom_score_adj in -1000..1000.
 */
int64_t pmc_task_fork(int64_t hierarchy, int64_t cgroup, int32_t cpu, int32_t oom_score_adj,
                      uint32_t flags);
/*
 * Map nr_pages more user pages, one fault at a time: the page tables the
 * mapping needs (charged as kernel memory, GFP_KERNEL_ACCOUNT, where the
 * era accounts them), then the page (GFP_KERNEL, user).  0; -ENOMEM when a
 * charge was refused; -ESRCH when the OOM killer killed the task meanwhile.
 * *done: the pages faulted in (may be NULL).
 */
int64_t pmc_task_fault(int64_t hierarchy, int64_t task, int64_t nr_pages, int32_t cpu,
                       int64_t *done);
/* Unmap nr_pages user pages (the newest first); page tables stay until exit. -EINVAL: more than rss. */
int64_t pmc_task_unmap(int64_t hierarchy, int64_t task, int64_t nr_pages, int32_t cpu);
/* Move into another online cgroup; what it has charged stays where it is. */
int64_t pmc_task_move(int64_t hierarchy, int64_t task, int64_t cgroup);
/* Exit: every page it has charged is uncharged; the handle is stale after. */
int64_t pmc_task_exit(int64_t hierarchy, int64_t task, int32_t cpu);
/* 0, or -ESTALE for a task that exited (or was killed). */
int64_t pmc_task_info(int64_t hierarchy, int64_t task, struct pmc_task_info *info);

#define PMC_KMEM_INTERRUPT 1            /* made in interrupt context (in_interrupt()) */
#define PMC_KMEM_ACCOUNTED_CACHE 2      /* from a slab cache created with SLAB_ACCOUNT */
#define PMC_KMEM_FLAGS_ALL 3
/*
 * A kernel allocation of nr_pages made by the task (its context: the OOM
 * killer may choose it, memory.high throttles it), charged as kernel memory
 * to the cgroup the task is in when the era's rule says it is accounted
 * (SPEC 6): not in interrupt context, not in the root, not before 3.8's kmem
 * activation, and then on the white list (cfg.kmem_accounting WHITELIST:
 * gfp has PMC_GFP_ACCOUNT or flags PMC_KMEM_ACCOUNTED_CACHE) or always (the
 * BLACKLIST); the 3.8 charge loop lets __GFP_NOFAIL go unaccounted.  The
 * pages belong to no task: the caller gives them back with
 * pmc_cgroup_uncharge(kmem = 1) on the cgroup returned, even once it is
 * removed.  Returns the handle of the cgroup charged (> 0), 0 when the
 * allocation is not accounted (nothing charged, 0 pages included), or
 * -ENOMEM (refused: *over, if not NULL, is the handle of the cgroup over
 * its limit), -ESRCH (the OOM killer killed the task meanwhile: nothing
 * stays charged), -ECANCELED (the reclaim callback failed: nothing
 * charged), -ESTALE (the task exited), -EINVAL.
 */
int64_t pmc_task_kmem_charge(int64_t hierarchy, int64_t task, int64_t nr_pages, int32_t cpu,
                             uint32_t gfp, uint32_t flags, int64_t *over);
/* Live tasks of the cgroup in fork order into out[0..n); returns how many there are. */
int64_t pmc_cgroup_tasks(int64_t hierarchy, int64_t cgroup, int64_t *out, int64_t n);

/* --- sockets (csrc/sock.c) ------------------------------------------- */

/*
 * A socket's state.  pages: what it holds (sk_forward_alloc in pages):
 * charged to its cgroup when bound, only counted when not.
 */
struct pmc_sock_info {
	int64_t handle;
	int64_t cgroup;                 /* the cgroup it is bound to (sk->sk_memcg), 0: none */
	int64_t pages;
};

/*
 * mem_cgroup_sk_alloc: a socket made by a task of cgroup (online), in
 * process context.  Bound to the cgroup (a reference that keeps it, once
 * removed, dying until the socket is closed) unless the cgroup is the root
 * or, on v1, socket accounting is not active there.  A handle (kind: task
 * with bit 21 of the slot set), or -ESTALE / -EINVAL / -ENOSPC / -ENOMEM.
 */
int64_t pmc_sock_create(int64_t hierarchy, int64_t cgroup);
/*
 * mem_cgroup_charge_skmem: 1 charged (over the limit too, where forced:
 * v1 __GFP_NOFAIL; v2 __GFP_NOFAIL and __GFP_HIGH as try_charge does),
 * 0 refused (nothing charged; v1 sets the pressure flag), -errno.
 * -ECANCELED: the reclaim callback failed (nothing charged).  An unbound
 * socket only counts the pages (1).  The cgroup may be dying.
 */
int64_t pmc_sock_charge(int64_t hierarchy, int64_t sock, int64_t nr_pages, int32_t cpu,
                        uint32_t gfp);
/* mem_cgroup_uncharge_skmem: 0, or -EINVAL for more than the socket holds. */
int64_t pmc_sock_uncharge(int64_t hierarchy, int64_t sock, int64_t nr_pages, int32_t cpu);
/* Uncharge what it holds, let go of its cgroup (mem_cgroup_sk_free); the handle is stale after. */
int64_t pmc_sock_close(int64_t hierarchy, int64_t sock, int32_t cpu);
int64_t pmc_sock_info(int64_t hierarchy, int64_t sock, struct pmc_sock_info *info);
/*
 * v1 socket accounting for new sockets of the cgroup: read with value < 0,
 * else set (1 on, 0 off), returning the value (cgroupfs applies the era's
 * rule of which limit writes switch it).  -EINVAL on v2.
 */
int64_t pmc_cgroup_tcpmem_active(int64_t hierarchy, int64_t cgroup, int32_t value);

/* --- slab caches and objects (csrc/slab.c) ---------------------------- */

#define PMC_CACHE_ACCOUNT 1             /* SLAB_ACCOUNT */
#define PMC_CACHE_RECLAIMABLE 2         /* SLAB_RECLAIM_ACCOUNT: slab_reclaimable, not _unreclaimable */
#define PMC_CACHE_FLAGS_ALL 3
#define PMC_CACHE_NAME_MAX 64

/* A cache: a root cache (root = 0) or a clone of one (clone mode). */
struct pmc_kmem_cache_info {
	int64_t handle;
	int64_t root;                   /* its root cache, 0 for a root cache */
	int64_t cgroup;                 /* a clone's cgroup now (its parent's after 5.3's reparenting), 0 */
	int64_t origin;                 /* the cgroup a clone was made for, 0 */
	int32_t object_size;
	int32_t size;                   /* the slot: object_size aligned */
	int32_t align;
	int32_t order;                  /* a slab page is 1 << order pages */
	int32_t objects_per_slab;
	uint32_t flags;                 /* PMC_CACHE_* */
	int64_t min_partial;            /* empty slabs kept (0 for a dying clone) */
	int32_t dying;                  /* a clone of a removed cgroup */
	int32_t name_len;
	int64_t active_objs;
	int64_t nr_slabs;
	int64_t nr_partial;
	int64_t nr_full;
	int64_t nr_empty;
	char name[4200];                /* NUL-terminated (a clone's holds its cgroup's name) */
};

/*
 * A root cache.  order < 0: SLUB's calculate_order; min_partial < 0: SLUB's
 * set_min_partial.  A handle, or -EINVAL (bad name, size, align, order,
 * flags), -ESTALE, -ENOMEM.
 */
int64_t pmc_kmem_cache_create(int64_t hierarchy, const char *name, int32_t object_size,
                              int32_t align, uint32_t flags, int32_t order, int64_t min_partial);
int64_t pmc_kmem_cache_info(int64_t hierarchy, int64_t cache, struct pmc_kmem_cache_info *info);
/* Every cache alive: root caches in creation order, each followed by its clones. */
int64_t pmc_kmem_caches(int64_t hierarchy, int64_t *out, int64_t n);

/*
 * Allocate one object of a root cache for owner (a cgroup, online, or a
 * task, alive: it charges in the task's context).  Which cache serves it
 * and what is charged follow cfg.slab_mode (csrc/slab.c).  An object
 * handle (> 0), or -ENOMEM (refused; *over, if not NULL, is the handle of
 * the cgroup over its limit), -ESRCH (the OOM killer killed the task
 * meanwhile), -ECANCELED (the reclaim callback failed), -ESTALE, -EINVAL.
 * flags: PMC_KMEM_INTERRUPT.
 */
int64_t pmc_slab_alloc(int64_t hierarchy, int64_t cache, int64_t owner, int32_t cpu,
                       uint32_t gfp, uint32_t flags, int64_t *over);
/*
 * Up to n objects into out[]: stops at the first refusal (-ENOMEM, -ESRCH,
 * -ECANCELED, in *err; 0 when all were made).  Returns how many were made,
 * or -errno (bad arguments: nothing made).
 */
int64_t pmc_slab_alloc_bulk(int64_t hierarchy, int64_t cache, int64_t owner, int64_t n,
                            int32_t cpu, uint32_t gfp, uint32_t flags, int64_t *out,
                            int64_t *err, int64_t *over);
/* 0, or -ESTALE (not a live object), -EINVAL. */
int64_t pmc_slab_free(int64_t hierarchy, int64_t object, int32_t cpu);
/*
 * Free n objects.  Every handle is checked first (stale, not allocated,
 * twice in the batch, another hierarchy's): then nothing is freed, *bad is
 * its index and the error is returned.  0 when all were freed.
 */
int64_t pmc_slab_free_bulk(int64_t hierarchy, const int64_t *objects, int64_t n, int32_t cpu,
                           int64_t *bad);

struct pmc_slab_object_info {
	int64_t handle;
	int64_t cache;                  /* the cache it lives in (a root cache or a clone) */
	int64_t cgroup;                 /* who allocated it (may be stale by now) */
	int64_t charged;                /* bytes charged through its cgroup's objcg (objcg mode) */
};
int64_t pmc_slab_object_info(int64_t hierarchy, int64_t object, struct pmc_slab_object_info *info);

/* Clone mode: run the queued clone creations now; returns how many clones were made. */
int64_t pmc_slab_run_pending(int64_t hierarchy);
/* Clone creations queued. */
int64_t pmc_slab_pending(int64_t hierarchy);

struct pmc_slab_pinning {
	int64_t shared_pages;           /* pages with its live objects and another cgroup's */
	int64_t retained_pages;         /* pages that would stay if it freed all of its objects */
	int64_t objects;                /* its live objects */
	int64_t pages;                  /* pages holding at least one of its live objects */
};
/*
 * cgroup 0: the whole hierarchy: pages holding live objects of two cgroups
 * or more, kept empty slab pages, every live object, pages with one.
 */
int64_t pmc_slab_pinning(int64_t hierarchy, int64_t cgroup, struct pmc_slab_pinning *out);

/* Objcg mode: a CPU's object stock (cached: a cgroup handle or 0). */
struct pmc_obj_stock_info {
	int64_t cached;
	int64_t nr_bytes;
	int64_t slab_reclaimable_b;     /* stat deltas not flushed yet */
	int64_t slab_unreclaimable_b;
};
int64_t pmc_obj_stock(int64_t hierarchy, int32_t cpu, struct pmc_obj_stock_info *info);
/* A cgroup's objcg: leftover bytes (nr_charged_bytes) and references (objects + stocks). */
int64_t pmc_objcg_info(int64_t hierarchy, int64_t cgroup, int64_t *nr_charged_bytes,
                       int64_t *refs);
/* The v1 memory.kmem.slabinfo text of a cgroup into buf (NUL-terminated); its length, or -errno (-ERANGE: room). */
int64_t pmc_cgroup_slabinfo(int64_t hierarchy, int64_t cgroup, char *buf, int64_t room);

/* --- batch entry point (csrc/replay.c) ------------------------------- */

#define PMC_OP_CHARGE 1         /* try_charge(cgroup, nr_pages, cpu, flags, kmem) */
#define PMC_OP_UNCHARGE 2       /* uncharge(cgroup, nr_pages, cpu, kmem) */
#define PMC_OP_DRAIN 3          /* drain(cpu) */
#define PMC_OP_DRAIN_ALL 4      /* drain_all(cgroup, or 0 for the whole tree) */
/* Result of an uncharge that clamped some level (the state has changed). */
#define PMC_RESULT_UNDERFLOW -34

/*
 * One record: 32 bytes, the layout of pymemcg.OP_DTYPE.
 *
 * The records belong to the caller, who may even rewrite them while the
 * batch runs (another thread, the GIL released): replay copies each record
 * into a local once, checks the copy and uses only the copy, never reading
 * the caller's record again.  Records and results may sit at any alignment.
 * cgroup 0 stands for "the whole tree" in PMC_OP_DRAIN_ALL and is refused
 * (-EINVAL) by the records that need a cgroup.
 */
struct pmc_op {
	uint32_t op;
	uint32_t flags;                 /* GFP bits for a charge */
	int64_t cgroup;                 /* handle: id | generation << 16 */
	int64_t nr_pages;
	int32_t cpu;
	int32_t kmem;
};

/*
 * Apply n records of struct pmc_op (at ops, any alignment) in order, the
 * int64_t result of record i into the i-th int64_t at results (any
 * alignment): as the single calls return (0; the id of the cgroup over its
 * limit; -errno), with PMC_RESULT_UNDERFLOW for an uncharge that clamped.
 * A bad record gets its -errno (-EINVAL: malformed, or a cgroup of another
 * hierarchy; -ESTALE: a cgroup that is gone) and the batch goes on.  The
 * batch stops after a record whose reclaim callback failed (-ECANCELED),
 * and before the next record once the hierarchy is being closed.  Returns
 * how many records ran.
 */
int64_t pmc_hierarchy_replay(int64_t hierarchy, const void *ops, int64_t n, void *results);
/*
 * The same for callers that want one test: n when every record ran and no
 * reclaim callback failed; -errno when the batch could not start; else
 * -(PMC_REPLAY_INCOMPLETE + records done) (stopped by a close, or the last
 * record done is the one whose callback failed: -ECANCELED in its result).
 */
#define PMC_REPLAY_INCOMPLETE 4096
int64_t pmc_hierarchy_replay_run(int64_t hierarchy, const void *ops, int64_t n, void *results);
/*
 * pmc_hierarchy_replay of records whose cgroup field is an index into
 * map[0..nmap) (0: no cgroup, as drain records have; map[0] is not read),
 * each replaced by the handle map holds as the record is read.  Stops
 * before a record whose index is out of range or maps to 0 (not looked up
 * yet): returns the records done, as a close would (the caller tells them
 * apart by that record).  The map is read once per record, like the records.
 */
int64_t pmc_hierarchy_replay_mapped(int64_t hierarchy, const void *ops, int64_t n,
                                    const int64_t *map, int64_t nmap, void *results);

/* --- text trace lines (csrc/trace.c) ---------------------------------- */

/*
 * Read the common lines of a text trace (pymemcg/trace.py's FORMAT) into
 * records: "charge PATH PAGES [cpu=N] [gfp=FLAGS] [kmem]", "uncharge PATH
 * PAGES [cpu=N] [kmem]" and "drain CPU", with comments and blank lines
 * skipped.  text[pos .. len) holds lines, each ended by the byte eol (the
 * last one may lack it).  PATH must be one of the npaths paths of the
 * table: path k is names[offs[k] .. offs[k + 1]) with handle handles[k],
 * sorted by memcmp order (shorter first on a common prefix), no two alike.
 * Numbers: decimal without leading zeros (PAGES up to 18 digits, N and CPU
 * up to 9), no sign, no hex.  The reading stops before the first line it is
 * not sure of (any other command, an option or number it does not take, a
 * path not in the table, a byte above 0x7f before a '#'), whose reader is
 * the caller's, and before the record cap + 1.  Writes the records to ops
 * (any alignment), each one's line to lines (NULL: not written) as
 * first_line (>= 0) + its index from the line at pos, and done[0] = lines
 * read, done[1] = where the reading stopped (len, or the start of the line
 * not read), done[2] = the end of that line (past its eol).  Returns how
 * many records, or -EINVAL.
 */
int64_t pmc_trace_parse(const char *text, int64_t len, int64_t pos, int32_t eol,
                        const char *names, const int64_t *offs, const int64_t *handles,
                        int64_t npaths, void *ops, int64_t cap, int64_t *lines,
                        int64_t first_line, int64_t *done);

/* --- microbenchmarks (csrc/bench.c) ----------------------------------- */

/*
 * Timed loops on pthreads (pymemcg.bench drives them).  Every entry point
 * takes `iters` (operations per thread per sample) and a result that is
 * read and written: the caller sets `samples`, `base_iters` and optionally
 * the sample arrays (zeroed fields: one sample, 4096 adds).  Each thread
 * warms up once, then for every sample, all threads together (a spin
 * barrier): `base_iters` bare atomic adds on a private cache line (the
 * baseline, timed in the same call), then `iters` operations.  Times are
 * thread CPU time (CLOCK_THREAD_CPUTIME_ID), and wall time for the
 * parallelism check.  One "op" is what each entry point says it is.
 */

/* Empty functions with the signatures of try_charge and uncharge: the CFFI floor. */
int64_t pmc_bench_nop_try_charge(int64_t counter, int64_t nr_pages);
int64_t pmc_bench_nop_uncharge(int64_t counter, int64_t nr_pages);
/* The same for the cgroup calls (pmc_cgroup_try_charge, pmc_cgroup_uncharge). */
int64_t pmc_bench_nop_cgroup_try_charge(int64_t hierarchy, int64_t cgroup, int64_t nr_pages,
                                        int32_t cpu, uint32_t gfp, int32_t kmem);
int64_t pmc_bench_nop_cgroup_uncharge(int64_t hierarchy, int64_t cgroup, int64_t nr_pages,
                                      int32_t cpu, int32_t kmem);
/* The same for the task calls (pmc_task_fork, pmc_task_exit, pmc_task_fault, pmc_task_unmap). */
int64_t pmc_bench_nop_task_fork(int64_t hierarchy, int64_t cgroup, int32_t cpu,
                                int32_t oom_score_adj, uint32_t flags);
int64_t pmc_bench_nop_task_exit(int64_t hierarchy, int64_t task, int32_t cpu);
int64_t pmc_bench_nop_task_fault(int64_t hierarchy, int64_t task, int64_t nr_pages, int32_t cpu,
                                 int64_t *done);
int64_t pmc_bench_nop_task_unmap(int64_t hierarchy, int64_t task, int64_t nr_pages, int32_t cpu);

struct pmc_bench_result {
	/* out: the whole call */
	double seconds;                 /* wall time of the timed samples, summed */
	double ns_per_op;               /* min over the samples (the parallel ones when
	                                   some are): thread CPU ns per op per thread */
	uint64_t ops_per_thread;        /* timed, all samples */
	uint64_t total_ops;
	double wall_ns_per_op;          /* min over the samples: wall ns per op per thread */
	double base_ns_per_op;          /* the baseline: thread CPU ns per bare atomic add,
	                                   min over the same samples and threads */
	double cpu_seconds;             /* thread CPU time of the timed samples, all threads */
	double parallelism;             /* cpu_seconds / seconds: near nthreads when they ran at once */
	uint64_t warmup_ops;            /* ops per thread run before the samples */
	int32_t nthreads;
	int32_t parallel_samples;       /* samples where thread CPU >= 0.95 * nthreads * wall */
	/* in */
	int32_t samples;                /* samples to take (0: 1) */
	int32_t reserved;
	uint64_t base_iters;            /* bare atomic adds per thread per sample (0: 4096) */
	uint64_t *sample_cpu_ns;        /* NULL or [samples]: thread CPU ns, summed over threads */
	uint64_t *sample_wall_ns;       /* NULL or [samples]: first thread's start to last's end */
	uint64_t *sample_base_ns;       /* NULL or [samples]: baseline CPU ns, fastest thread */
};

/* The baseline on its own: one op is one relaxed atomic_fetch_add on a private line. */
int64_t pmc_bench_atomic_add(uint64_t iters, struct pmc_bench_result *out);
/*
 * try_charge(1) + uncharge(1) pairs on a chain of `depth` counters, from
 * `nthreads` pthreads.  shared_leaf: every thread charges the same leaf;
 * otherwise each thread has its own leaf below one shared parent chain.
 * One op is one pair.
 */
int64_t pmc_bench_page_counter_pair(int depth, int nthreads, int shared_leaf,
                                    uint64_t iters, struct pmc_bench_result *out);

#define PMC_BENCH_STOCK_HIT 1    /* one-page charges served by the stock; op: a charge */
#define PMC_BENCH_DIRECT 2       /* one-page charges with a batch of 1: every one walks */
#define PMC_BENCH_KMEM_PAIR 3    /* kmem try_charge + uncharge pairs; op: a pair */
#define PMC_BENCH_REPLAY_HIT 4   /* STOCK_HIT's charges as replay records, 4096 per call */
#define PMC_BENCH_REPLAY_KMEM 5  /* kmem charge, uncharge records alternating; op: a record */
#define PMC_BENCH_REPLAY_USER 6  /* user-page charge, uncharge records alternating; op: a record */
/* User-page try_charge + uncharge pairs, every charge a stock hit (STOCK_HIT's batch). */
#define PMC_BENCH_USER_PAIR 7    /* op: a pair */
#define PMC_BENCH_FORK_EXIT 8    /* pmc_task_fork + pmc_task_exit; op: both */
/* pmc_task_fault(1) + pmc_task_unmap(1) of one task per thread, forked before the timing. */
#define PMC_BENCH_FAULT_UNMAP 9  /* op: both */
/* pmc_slab_alloc + pmc_slab_free of one 192-byte SLAB_ACCOUNT object, as cfg.slab_mode charges it. */
#define PMC_BENCH_SLAB_PAIR 10   /* op: both */
/* pmc_slab_alloc_bulk + pmc_slab_free_bulk of 64 such objects; op: one object's alloc and free. */
#define PMC_BENCH_SLAB_BULK 11
#define PMC_BENCH_OWNED_HIT 12   /* STOCK_HIT's charges on an owned CPU (pmc_cpu_try_charge) */
#define PMC_BENCH_OWNED_KMEM 13  /* KMEM_PAIR's pairs on an owned CPU; op: a pair */
#define PMC_BENCH_MODE_MASK 255
/* Or-ed into mode: each thread its own cgroup (siblings below one shared chain). */
#define PMC_BENCH_OWN_CGROUPS 256

/*
 * Thread i on CPU i (nthreads <= cfg->ncpus), one cgroup `depth` levels
 * deep (with PMC_BENCH_OWN_CGROUPS: one per thread, siblings at that depth).
 * Kernel memory is activated on every cgroup made (pmc_cgroup_activate_kmem:
 * 3.8's first kmem-limit write; nothing to do where the era always accounts
 * it).  The modes that give back what they charge (pairs, records in
 * pairs, tasks) must leave the counters at zero once the stocks are
 * drained and the tasks exited: -EIO otherwise.
 */
int64_t pmc_bench_memcg(const struct pmc_config *cfg, int depth, int nthreads, int mode,
                        uint64_t iters, struct pmc_bench_result *out);

/*
 * Build a tree below `parent`: nmid children "m0".. of parent, then nleaves
 * leaves "l0".. spread round-robin below them (below parent if nmid is 0).
 * The leaves' handles go to leaves[0..nleaves) (may be NULL).  Returns the
 * cgroups created, or -errno (what was created stays).
 */
int64_t pmc_bench_tree(int64_t hierarchy, int64_t parent, int64_t nmid, int64_t nleaves,
                       int64_t *leaves);
/*
 * Replay of one-page charge + uncharge record pairs on leaves chosen at
 * random (seeded) among leaves[0..nleaves), on CPU 0 of an existing
 * hierarchy, 4096 records per replay call; one op is one record.  kmem:
 * kernel pages instead of user pages.  One thread.
 */
int64_t pmc_bench_replay_pairs(int64_t hierarchy, const int64_t *leaves, int64_t nleaves,
                               int32_t kmem, uint64_t seed, uint64_t iters,
                               struct pmc_bench_result *out);

/* PYMEMCG_CDEF_END */

#ifdef __cplusplus
}
#endif

#endif /* PYMEMCG_H */
