/*
 * table.h - handle tables: objects addressed by index and generation.
 *
 * Python never holds a pointer into the C core.  It holds a handle, a
 * positive 64-bit integer made of a slot index (low 32 bits) and the slot's
 * generation (high 31 bits).  A slot's generation is odd while an object
 * lives in it and is bumped on every free and every allocation, so a handle
 * to a freed object can never match again, even after the slot is reused.
 *
 * Storage grows in fixed-size chunks that are never moved or freed while
 * the table exists: a lookup racing with a growth or a free reads valid
 * memory, never a dangling pointer.
 */
#ifndef PMC_TABLE_H
#define PMC_TABLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PMC_TABLE_CHUNK_SHIFT 10
#define PMC_TABLE_CHUNK (1u << PMC_TABLE_CHUNK_SHIFT)
#define PMC_TABLE_MAX_CHUNKS 4096u              /* 4 Mi objects per table */
#define PMC_TABLE_GEN_LIMIT 0x7fffffffu         /* handles stay positive */

struct pmc_table_chunk {
	_Atomic uint32_t gen[PMC_TABLE_CHUNK];
	uint32_t next_free[PMC_TABLE_CHUNK];
	char *objs;                             /* PMC_TABLE_CHUNK * obj_size */
};

struct pmc_table {
	size_t obj_size;                        /* a multiple of the cache line */
	pthread_mutex_t lock;                   /* serialises alloc and free */
	_Atomic(struct pmc_table_chunk *) chunks[PMC_TABLE_MAX_CHUNKS];
	uint32_t nr_slots;                      /* slots ever handed out */
	uint32_t free_head;                     /* index + 1 of a free slot, 0: none */
	_Atomic int64_t nr_live;
};

#define PMC_TABLE_INIT(type) { .obj_size = ((sizeof(type) + 63) / 64) * 64, \
			       .lock = PTHREAD_MUTEX_INITIALIZER }

/*
 * Call with table->lock held.  Returns zeroed memory, or NULL when full.
 * The handle finds nothing until pmc_table_publish_locked(): initialise
 * the object in between.
 */
void *pmc_table_alloc_locked(struct pmc_table *table, int64_t *handle);
void pmc_table_publish_locked(struct pmc_table *table, int64_t handle);
/* Call with table->lock held. */
void pmc_table_free_locked(struct pmc_table *table, int64_t handle);
/* Lock-free.  NULL for a handle that is malformed, freed or never issued. */
void *pmc_table_lookup(struct pmc_table *table, int64_t handle);

#endif /* PMC_TABLE_H */
