/*
 * slab.h - what the slab files share (csrc/slab.c: caches, slab pages,
 * objects and the allocation paths; csrc/objcg.c: the objcg era's object
 * stock; csrc/api_slab.c: what callers read).  Internal: pymemcg.h is the
 * public header.
 */
#ifndef PMC_SLAB_H
#define PMC_SLAB_H

#include "memcg.h"

#define SLAB_MAX_ORDER 3                        /* slub_max_order: PAGE_ALLOC_COSTLY_ORDER */
#define SLAB_MIN_PARTIAL 5
#define SLAB_MAX_PARTIAL 10
#define OBJCG_PTR_SIZE 8                        /* sizeof(struct obj_cgroup *) */
#define OBJ_SLOT_BITS 12
#define OBJ_SLAB_BITS 24
#define OBJ_GEN_BITS 11
#define OBJ_SLAB_SHIFT OBJ_SLOT_BITS
#define OBJ_GEN_SHIFT (OBJ_SLOT_BITS + OBJ_SLAB_BITS)
#define SLAB_CHUNK 4096u
#define SLAB_MAX_INDEX ((1u << OBJ_SLAB_BITS) - 1)
#define SLOT_NONE 0xffffu                       /* end of a free list */
#define SLOT_USED 0xfffeu                       /* the slot holds an object */
#define SLOT_FREEING 0xfffdu                    /* checked by a bulk free, not freed yet */
#define OWNER_CHARGED (1ull << 63)              /* the object charged its owner's objcg */
#define CACHE_SLOT_BITS 22
#define CACHE_GEN_MASK ((1u << 24) - 1)
#define CACHE_KIND (1ull << 46)

enum slab_list { SLAB_PARTIAL, SLAB_FULL, SLAB_EMPTY, SLAB_NR_LISTS };

struct slab {
	struct kmem_cache *cache;
	struct slab *prev, *next;       /* on its cache's list */
	int64_t *owner;                 /* [objects]: the allocating cgroup's handle (| OWNER_CHARGED) */
	uint16_t *free_next;            /* [objects]: the free list, SLOT_USED for an object */
	uint32_t index;
	uint16_t inuse;
	uint16_t free_head;
	uint8_t list;
	bool charged;                   /* clone: its pages are charged to cache->memcg */
};

struct slab_list_head {
	struct slab *head, *tail;
	long nr;
};

struct kmem_cache {
	struct slab_state *ss;
	uint32_t slot, gen;
	char *name;
	int object_size, size, align, order, objects;
	uint32_t flags;
	long min_partial;
	struct slab_list_head lists[SLAB_NR_LISTS];
	long active_objs, nr_slabs;
	/* A root cache: its clones in creation order, and by memcg id. */
	struct kmem_cache *root;
	struct kmem_cache *clones_head, *clones_tail, *next_clone, *prev_clone;
	struct kmem_cache **by_id;
	/* [by_id_len]: the cgroup of this memcg id whose clone's creation is queued. */
	struct mem_cgroup **queued;
	uint32_t by_id_len;
	/* A clone: its cgroup now (referenced) and the one it was made for. */
	struct mem_cgroup *memcg;
	int64_t origin;
	struct kmem_cache *next_of_memcg, *prev_of_memcg;
	bool dying;
	long inflight;                  /* allocations charging a new page for it */
	struct kmem_cache *next_root;   /* the root caches, in creation order */
};

struct slab_entry {
	struct slab *slab;
	uint16_t gen;
};

struct pending {
	struct mem_cgroup *memcg;       /* referenced */
	struct kmem_cache *root;
	uint64_t due;
	struct pending *next;
};

struct slab_state {
	pthread_mutex_t lock;
	struct pmc_hierarchy *h;
	/* Caches by handle slot: a table that grows (read under the lock only). */
	struct kmem_cache **caches;
	uint32_t *cache_gens;
	uint32_t nr_cache_slots, cap_cache_slots;
	uint32_t *free_cache_slots;
	uint32_t nr_free_cache_slots;
	struct kmem_cache *roots_head, *roots_tail;
	/* Slabs by index: chunks of SLAB_CHUNK entries, a free stack of indices. */
	struct slab_entry *chunks[(SLAB_MAX_INDEX + 1) / SLAB_CHUNK];
	uint32_t nr_slab_indices;       /* ever used, index 0 never */
	uint32_t *free_slabs;
	uint32_t nr_free_slabs, cap_free_slabs;
	/* Clone mode: queued creations, the allocation clock. */
	struct pending *pend_head, **pend_tail;
	long nr_pending;
	uint64_t alloc_seq;
	/* kmem cache ids (kmemcg_id), lowest free first: under h->lock. */
	uint64_t kmemcg_ids[65536 / 64];
	/* Bit w: word w of kmemcg_ids is full, so the lowest-free search is 16 + 1 words. */
	uint64_t kmemcg_ids_full[65536 / 64 / 64];
};

static inline int cache_stat(const struct kmem_cache *s)
{
	return s->flags & PMC_CACHE_RECLAIMABLE ? MEMCG_STAT_SLAB_RECLAIMABLE_B
						: MEMCG_STAT_SLAB_UNRECLAIMABLE_B;
}

static inline long obj_full_size(const struct kmem_cache *s)
{
	return (long)s->size + OBJCG_PTR_SIZE;
}

static inline long cache_min_partial(const struct kmem_cache *s)
{
	return s->dying ? 0 : s->min_partial;
}

static inline int64_t cache_handle(const struct kmem_cache *s)
{
	return (int64_t)(((uint64_t)s->ss->h->tag << MEMCG_HANDLE_TAG_SHIFT) | CACHE_KIND |
			 ((uint64_t)s->gen << CACHE_SLOT_BITS) | s->slot);
}

static inline struct slab_entry *slab_entry(struct slab_state *ss, uint32_t index)
{
	struct slab_entry *chunk = ss->chunks[index / SLAB_CHUNK];

	return chunk ? &chunk[index % SLAB_CHUNK] : NULL;
}

/* slab.c */
struct kmem_cache *cache_lookup(struct slab_state *ss, int64_t handle, int64_t *err);
struct slab *obj_lookup(struct slab_state *ss, int64_t handle, unsigned int *slot, int64_t *err);
struct pmc_hierarchy *slab_call_begin(int64_t hierarchy, int32_t cpu, struct hier_frame *frame,
				      int64_t *err);
void slab_call_end(struct pmc_hierarchy *h, struct hier_frame *frame);
long run_pending(struct slab_state *ss, int cpu);

/* objcg.c */
void kmem_uncharge_pages(struct pmc_hierarchy *h, struct mem_cgroup *memcg,
			 unsigned long nr_pages, int cpu, bool direct);
void objcg_get(struct mem_cgroup *objcg);
void objcg_put(struct pmc_hierarchy *h, struct mem_cgroup *objcg, int cpu);
void objcg_release(struct pmc_hierarchy *h, struct mem_cgroup *objcg, int cpu);
void refill_obj_stock(struct pmc_hierarchy *h, struct mem_cgroup *objcg, int cpu,
		      unsigned long nr_bytes, bool allow_uncharge, int idx, long nr_acct);
bool consume_obj_stock(struct pmc_hierarchy *h, struct mem_cgroup *objcg, int cpu,
		       unsigned long nr_bytes, int idx);

#endif /* PMC_SLAB_H */
