/*
 * table.c - handle tables (see table.h).
 */
#include <stdlib.h>
#include <string.h>

#include "table.h"

static inline uint32_t handle_index(int64_t handle)
{
	return (uint32_t)((uint64_t)handle & 0xffffffffu);
}

static inline uint32_t handle_gen(int64_t handle)
{
	return (uint32_t)((uint64_t)handle >> 32);
}

static inline void *slot_obj(struct pmc_table *table, struct pmc_table_chunk *chunk, uint32_t index)
{
	return chunk->objs + (size_t)(index & (PMC_TABLE_CHUNK - 1)) * table->obj_size;
}

static struct pmc_table_chunk *grow(struct pmc_table *table, uint32_t nr)
{
	struct pmc_table_chunk *chunk = calloc(1, sizeof(*chunk));

	if (!chunk)
		return NULL;
	chunk->objs = aligned_alloc(64, PMC_TABLE_CHUNK * table->obj_size);
	if (!chunk->objs) {
		free(chunk);
		return NULL;
	}
	/*
	 * Release: a lookup that finds the chunk pointer also finds its
	 * initialised generation array.
	 */
	atomic_store_explicit(&table->chunks[nr], chunk, memory_order_release);
	return chunk;
}

void *pmc_table_alloc_locked(struct pmc_table *table, int64_t *handle)
{
	struct pmc_table_chunk *chunk;
	uint32_t index, gen;
	void *obj;

	if (table->free_head) {
		index = table->free_head - 1;
		chunk = atomic_load_explicit(&table->chunks[index >> PMC_TABLE_CHUNK_SHIFT],
					     memory_order_relaxed);
		table->free_head = chunk->next_free[index & (PMC_TABLE_CHUNK - 1)];
	} else {
		index = table->nr_slots;
		if (index >= PMC_TABLE_MAX_CHUNKS * PMC_TABLE_CHUNK)
			return NULL;
		chunk = atomic_load_explicit(&table->chunks[index >> PMC_TABLE_CHUNK_SHIFT],
					     memory_order_relaxed);
		if (!chunk && !(chunk = grow(table, index >> PMC_TABLE_CHUNK_SHIFT)))
			return NULL;
		table->nr_slots++;
	}

	obj = slot_obj(table, chunk, index);
	memset(obj, 0, table->obj_size);
	/* Even (free) -> odd (live), but not visible until published. */
	gen = atomic_load_explicit(&chunk->gen[index & (PMC_TABLE_CHUNK - 1)],
				   memory_order_relaxed) + 1;
	atomic_fetch_add_explicit(&table->nr_live, 1, memory_order_relaxed);
	*handle = (int64_t)(((uint64_t)gen << 32) | index);
	return obj;
}

void pmc_table_publish_locked(struct pmc_table *table, int64_t handle)
{
	uint32_t index = handle_index(handle);
	struct pmc_table_chunk *chunk =
		atomic_load_explicit(&table->chunks[index >> PMC_TABLE_CHUNK_SHIFT],
				     memory_order_relaxed);

	/* Release: whoever finds this generation finds the object initialised. */
	atomic_store_explicit(&chunk->gen[index & (PMC_TABLE_CHUNK - 1)], handle_gen(handle),
			      memory_order_release);
}

void pmc_table_free_locked(struct pmc_table *table, int64_t handle)
{
	uint32_t index = handle_index(handle);
	struct pmc_table_chunk *chunk =
		atomic_load_explicit(&table->chunks[index >> PMC_TABLE_CHUNK_SHIFT],
				     memory_order_relaxed);
	uint32_t gen = handle_gen(handle) + 1;  /* odd -> even: every old handle is stale */

	atomic_store_explicit(&chunk->gen[index & (PMC_TABLE_CHUNK - 1)], gen,
			      memory_order_release);
	atomic_fetch_sub_explicit(&table->nr_live, 1, memory_order_relaxed);
	/* A slot whose generation is used up is retired rather than recycled. */
	if (gen + 1 > PMC_TABLE_GEN_LIMIT)
		return;
	chunk->next_free[index & (PMC_TABLE_CHUNK - 1)] = table->free_head;
	table->free_head = index + 1;
}

void *pmc_table_lookup(struct pmc_table *table, int64_t handle)
{
	uint32_t index = handle_index(handle), gen = handle_gen(handle);
	struct pmc_table_chunk *chunk;

	if (handle <= 0 || !(gen & 1) || index >= PMC_TABLE_MAX_CHUNKS * PMC_TABLE_CHUNK)
		return NULL;
	chunk = atomic_load_explicit(&table->chunks[index >> PMC_TABLE_CHUNK_SHIFT],
				     memory_order_acquire);
	if (!chunk)
		return NULL;
	/* Acquire pairs with the release in alloc: the object is initialised. */
	if (atomic_load_explicit(&chunk->gen[index & (PMC_TABLE_CHUNK - 1)],
				 memory_order_acquire) != gen)
		return NULL;
	return slot_obj(table, chunk, index);
}
