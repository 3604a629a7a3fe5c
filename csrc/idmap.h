/*
 * idmap.h - small integers handed out lowest-free first, each with a
 * generation and a pointer that lock-free readers look up.
 *
 * Two uses in a hierarchy: memcg ids (1..65,535, as the kernel's
 * xa_alloc/idr of memcg ids hands out the lowest free one) and the slots
 * that cgroup handles name (1..4M; a slot lives as long as its cgroup,
 * dying included, while a memcg id may be given back at offline).
 *
 * Storage: a directory of 64 pointers to blocks of 64 pointers to chunks of
 * 1,024 entries, allocated on first use and kept until idmap_destroy, so a
 * reader never follows a pointer to freed memory.  A chunk also holds the
 * bitmap of its indices in use; a summary bitmap of full chunks makes the
 * lowest-free search a scan of at most 64 + 16 words.
 *
 * Writers (alloc, publish, unpublish) hold the owner's lock.  Readers may
 * hold nothing but something that keeps the object alive (memcg.h).
 */
#ifndef PMC_IDMAP_H
#define PMC_IDMAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define IDMAP_CHUNK_SHIFT 10
#define IDMAP_CHUNK (1u << IDMAP_CHUNK_SHIFT)
#define IDMAP_FANOUT 64u
#define IDMAP_MAX_CHUNKS (IDMAP_FANOUT * IDMAP_FANOUT)
#define IDMAP_MAX_INDEX (IDMAP_MAX_CHUNKS * IDMAP_CHUNK - 1)     /* 4,194,303 */

struct idmap_entry {
	_Atomic uint32_t gen;           /* odd while published */
	_Atomic(void *) ptr;
};

struct idmap_chunk {
	uint64_t used[IDMAP_CHUNK / 64];
	uint32_t nr_used;
	/* Last: a bits-only map allocates its chunks without them (idmap_init_bits). */
	struct idmap_entry e[IDMAP_CHUNK];
};

struct idmap_block {
	_Atomic(struct idmap_chunk *) chunk[IDMAP_FANOUT];
};

struct idmap {
	uint32_t limit;                 /* indices 1..limit */
	uint32_t gen_mask;              /* generations wrap within this mask (odd: live) */
	bool bits_only;                 /* indices only: no entries, nothing published */
	_Atomic(struct idmap_block *) block[IDMAP_FANOUT];
	uint64_t full[IDMAP_MAX_CHUNKS / 64];     /* chunk i has no free index */
};

void idmap_init(struct idmap *m, uint32_t limit, uint32_t gen_mask);
/*
 * A map that only hands out indices (alloc, free): the caller keeps the
 * objects and their generations itself (memcg.c's hot blocks).  Its chunks
 * are the bitmaps alone; publish, unpublish, lookup and get must not be used.
 */
void idmap_init_bits(struct idmap *m, uint32_t limit);
void idmap_destroy(struct idmap *m);
/* The lowest free index, marked used (not published): 0, -ENOSPC or -ENOMEM. */
int idmap_alloc(struct idmap *m, uint32_t *index);
/* Give an index back (it must not be published). */
void idmap_free(struct idmap *m, uint32_t index);
/* Make index find ptr under a new (odd) generation, which is returned. */
uint32_t idmap_publish(struct idmap *m, uint32_t index, void *ptr);
/* Stop index from finding anything (even generation); the index stays used. */
void idmap_unpublish(struct idmap *m, uint32_t index);
/* Lock-free: the pointer published at index under gen, or NULL. */
void *idmap_lookup(struct idmap *m, uint32_t index, uint32_t gen);
/* What is published at index now (any generation), or NULL. */
void *idmap_get(struct idmap *m, uint32_t index);

#endif /* PMC_IDMAP_H */
