/*
 * idmap.c - lowest-free indices with generations (see idmap.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

#define RELAXED memory_order_relaxed
#define ACQUIRE memory_order_acquire
#define RELEASE memory_order_release

void idmap_init(struct idmap *m, uint32_t limit, uint32_t gen_mask)
{
	memset(m, 0, sizeof(*m));
	m->limit = limit;
	m->gen_mask = gen_mask;
}

void idmap_init_bits(struct idmap *m, uint32_t limit)
{
	idmap_init(m, limit, 0);
	m->bits_only = true;
}

void idmap_destroy(struct idmap *m)
{
	for (unsigned int b = 0; b < IDMAP_FANOUT; b++) {
		struct idmap_block *block = atomic_load_explicit(&m->block[b], RELAXED);

		if (!block)
			continue;
		for (unsigned int c = 0; c < IDMAP_FANOUT; c++)
			free(atomic_load_explicit(&block->chunk[c], RELAXED));
		free(block);
		atomic_store_explicit(&m->block[b], NULL, RELAXED);
	}
}

/* Acquire pairs with the release stores that published the block and chunk. */
static struct idmap_chunk *chunk_of(struct idmap *m, uint32_t index)
{
	uint32_t c = index >> IDMAP_CHUNK_SHIFT;
	struct idmap_block *block = atomic_load_explicit(&m->block[c / IDMAP_FANOUT], ACQUIRE);

	return block ? atomic_load_explicit(&block->chunk[c % IDMAP_FANOUT], ACQUIRE) : NULL;
}

static struct idmap_chunk *chunk_create(struct idmap *m, uint32_t c)
{
	struct idmap_block *block = atomic_load_explicit(&m->block[c / IDMAP_FANOUT], RELAXED);
	struct idmap_chunk *chunk;

	if (!block) {
		block = calloc(1, sizeof(*block));
		if (!block)
			return NULL;
		atomic_store_explicit(&m->block[c / IDMAP_FANOUT], block, RELEASE);
	}
	chunk = atomic_load_explicit(&block->chunk[c % IDMAP_FANOUT], RELAXED);
	if (!chunk) {
		chunk = calloc(1, m->bits_only ? offsetof(struct idmap_chunk, e) : sizeof(*chunk));
		if (!chunk)
			return NULL;
		if (c == 0) {
			chunk->used[0] = 1;     /* index 0 is never handed out */
			chunk->nr_used = 1;
		}
		atomic_store_explicit(&block->chunk[c % IDMAP_FANOUT], chunk, RELEASE);
	}
	return chunk;
}

static void mark(struct idmap *m, struct idmap_chunk *chunk, uint32_t index, bool used)
{
	uint32_t c = index >> IDMAP_CHUNK_SHIFT, bit = index & (IDMAP_CHUNK - 1);

	if (used) {
		chunk->used[bit / 64] |= 1ull << (bit % 64);
		chunk->nr_used++;
	} else {
		chunk->used[bit / 64] &= ~(1ull << (bit % 64));
		chunk->nr_used--;
	}
	if (chunk->nr_used == IDMAP_CHUNK)
		m->full[c / 64] |= 1ull << (c % 64);
	else
		m->full[c / 64] &= ~(1ull << (c % 64));
}

int idmap_alloc(struct idmap *m, uint32_t *index)
{
	for (uint32_t w = 0; w < IDMAP_MAX_CHUNKS / 64; w++) {
		struct idmap_chunk *chunk;
		uint32_t c, i = 0;

		if (m->full[w] == ~0ull)
			continue;
		c = w * 64 + (uint32_t)__builtin_ctzll(~m->full[w]);
		if ((c << IDMAP_CHUNK_SHIFT) > m->limit)
			return -ENOSPC;
		chunk = chunk_of(m, c << IDMAP_CHUNK_SHIFT);
		if (!chunk && !(chunk = chunk_create(m, c)))
			return -ENOMEM;
		while (chunk->used[i] == ~0ull)
			i++;            /* the chunk is not full: this stops within it */
		i = c * IDMAP_CHUNK + i * 64 + (uint32_t)__builtin_ctzll(~chunk->used[i]);
		if (i > m->limit)
			return -ENOSPC;
		mark(m, chunk, i, true);
		*index = i;
		return 0;
	}
	return -ENOSPC;
}

void idmap_free(struct idmap *m, uint32_t index)
{
	mark(m, chunk_of(m, index), index, false);
}

uint32_t idmap_publish(struct idmap *m, uint32_t index, void *ptr)
{
	struct idmap_entry *e = &chunk_of(m, index)->e[index & (IDMAP_CHUNK - 1)];
	uint32_t gen = (atomic_load_explicit(&e->gen, RELAXED) + 1) & m->gen_mask;   /* even -> odd */

	if (!gen)
		gen = 1;
	atomic_store_explicit(&e->ptr, ptr, RELAXED);
	/* Release: whoever finds this generation finds ptr and what it points to. */
	atomic_store_explicit(&e->gen, gen, RELEASE);
	return gen;
}

void idmap_unpublish(struct idmap *m, uint32_t index)
{
	struct idmap_entry *e = &chunk_of(m, index)->e[index & (IDMAP_CHUNK - 1)];

	/* Odd -> even first: a reader that still matches the old generation finds ptr. */
	atomic_store_explicit(&e->gen, (atomic_load_explicit(&e->gen, RELAXED) + 1) & m->gen_mask,
			      RELEASE);
	atomic_store_explicit(&e->ptr, NULL, RELAXED);
}

void *idmap_lookup(struct idmap *m, uint32_t index, uint32_t gen)
{
	struct idmap_chunk *chunk;
	struct idmap_entry *e;

	if (!index || index > m->limit || !(gen & 1))
		return NULL;
	chunk = chunk_of(m, index);
	if (!chunk)
		return NULL;
	e = &chunk->e[index & (IDMAP_CHUNK - 1)];
	if (atomic_load_explicit(&e->gen, ACQUIRE) != gen)
		return NULL;
	/*
	 * An unpublish racing with us stores NULL after the even generation:
	 * we may return the old pointer, which the caller's lock (or the
	 * reference it holds) keeps alive until it lets go (memcg.h).
	 */
	return atomic_load_explicit(&e->ptr, RELAXED);
}

void *idmap_get(struct idmap *m, uint32_t index)
{
	struct idmap_chunk *chunk;

	if (!index || index > m->limit)
		return NULL;
	chunk = chunk_of(m, index);
	return chunk ? atomic_load_explicit(&chunk->e[index & (IDMAP_CHUNK - 1)].ptr, RELAXED) : NULL;
}
