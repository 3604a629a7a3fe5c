/*
 * api_slab.c - what callers read of the slab caches: a cache's state, the
 * list of caches, an object's cache and cgroup, the queued clone
 * creations, pinning, and the v1 memory.kmem.slabinfo text.  Each takes the
 * hierarchy's slab lock for one consistent look.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "slab.h"

static void cache_fill_info(struct kmem_cache *s, struct pmc_kmem_cache_info *info)
{
	size_t n = strlen(s->name);

	memset(info, 0, sizeof(*info));
	info->handle = cache_handle(s);
	info->root = s->root ? cache_handle(s->root) : 0;
	info->cgroup = s->memcg ? memcg_handle(s->memcg) : 0;
	info->origin = s->origin;
	info->object_size = s->object_size;
	info->size = s->size;
	info->align = s->align;
	info->order = s->order;
	info->objects_per_slab = s->objects;
	info->flags = s->flags;
	info->min_partial = cache_min_partial(s);
	info->dying = s->dying;
	info->active_objs = s->active_objs;
	info->nr_slabs = s->nr_slabs;
	info->nr_partial = s->lists[SLAB_PARTIAL].nr;
	info->nr_full = s->lists[SLAB_FULL].nr;
	info->nr_empty = s->lists[SLAB_EMPTY].nr;
	if (n >= sizeof(info->name))
		n = sizeof(info->name) - 1;
	info->name_len = (int32_t)n;
	memcpy(info->name, s->name, n);
	info->name[n] = 0;
}

int64_t pmc_kmem_cache_info(int64_t hierarchy, int64_t cache, struct pmc_kmem_cache_info *info)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	struct kmem_cache *s;
	int64_t ret;

	if (!info)
		return -EINVAL;
	h = slab_call_begin(hierarchy, 0, &frame, &ret);
	if (!h || ret)
		goto end;
	pthread_mutex_lock(&h->slab->lock);
	s = cache_lookup(h->slab, cache, &ret);
	if (s)
		cache_fill_info(s, info);
	pthread_mutex_unlock(&h->slab->lock);
end:
	if (h)
		slab_call_end(h, &frame);
	return ret;
}

int64_t pmc_kmem_caches(int64_t hierarchy, int64_t *out, int64_t n)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	int64_t ret, count = 0;

	if (n < 0 || (n && !out))
		return -EINVAL;
	h = slab_call_begin(hierarchy, 0, &frame, &ret);
	if (!h || ret)
		goto end;
	pthread_mutex_lock(&h->slab->lock);
	for (struct kmem_cache *r = h->slab->roots_head; r; r = r->next_root) {
		if (count < n)
			out[count] = cache_handle(r);
		count++;
		for (struct kmem_cache *c = r->clones_head; c; c = c->next_clone) {
			if (count < n)
				out[count] = cache_handle(c);
			count++;
		}
	}
	pthread_mutex_unlock(&h->slab->lock);
	ret = count;
end:
	if (h)
		slab_call_end(h, &frame);
	return ret;
}

int64_t pmc_slab_object_info(int64_t hierarchy, int64_t object, struct pmc_slab_object_info *info)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	struct slab *slab;
	unsigned int i;
	int64_t ret;

	if (!info)
		return -EINVAL;
	h = slab_call_begin(hierarchy, 0, &frame, &ret);
	if (!h || ret)
		goto end;
	pthread_mutex_lock(&h->slab->lock);
	slab = obj_lookup(h->slab, object, &i, &ret);
	if (slab) {
		info->handle = object;
		info->cache = cache_handle(slab->cache);
		info->cgroup = slab->owner[i] & ~(int64_t)OWNER_CHARGED;
		info->charged = slab->owner[i] & (int64_t)OWNER_CHARGED ? obj_full_size(slab->cache) : 0;
	}
	pthread_mutex_unlock(&h->slab->lock);
end:
	if (h)
		slab_call_end(h, &frame);
	return ret;
}

int64_t pmc_slab_run_pending(int64_t hierarchy)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	int64_t ret;

	h = slab_call_begin(hierarchy, 0, &frame, &ret);
	if (!h || ret)
		goto end;
	pthread_mutex_lock(&h->slab->lock);
	ret = run_pending(h->slab, 0);
	pthread_mutex_unlock(&h->slab->lock);
end:
	if (h)
		slab_call_end(h, &frame);
	return ret;
}

int64_t pmc_slab_pending(int64_t hierarchy)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	int64_t ret;

	h = slab_call_begin(hierarchy, 0, &frame, &ret);
	if (!h || ret)
		goto end;
	pthread_mutex_lock(&h->slab->lock);
	ret = h->slab->nr_pending;
	pthread_mutex_unlock(&h->slab->lock);
end:
	if (h)
		slab_call_end(h, &frame);
	return ret;
}

/*
 * Pinning of one cgroup: a walk over every slab (linear).  An object's
 * cgroup is the one that allocated it.  cg 0: the whole hierarchy (pages
 * holding objects of two cgroups or more; kept empty slabs; every object).
 */
static void pinning_of(struct slab_state *ss, int64_t cg, struct pmc_slab_pinning *out)
{
	memset(out, 0, sizeof(*out));
	for (struct kmem_cache *r = ss->roots_head; r; r = r->next_root) {
		for (struct kmem_cache *s = r; s; s = s == r ? r->clones_head : s->next_clone) {
			long pages = 1l << s->order;

			for (int l = 0; l < SLAB_NR_LISTS; l++) {
				for (struct slab *slab = s->lists[l].head; slab; slab = slab->next) {
					long mine = 0, others = 0;
					int64_t first = 0;

					for (int i = 0; i < s->objects; i++) {
						/* A clone's objects are its cgroup's now. */
						int64_t o = s->root ? memcg_handle(s->memcg) :
							    slab->owner[i] & ~(int64_t)OWNER_CHARGED;

						if (slab->free_next[i] != SLOT_USED)
							continue;
						if (!cg) {      /* all: mine, or another owner than the first */
							if (!first)
								first = o;
							if (o == first)
								mine++;
							else
								others++;
						} else if (o == cg) {
							mine++;
						} else {
							others++;
						}
					}
					if (!cg)
						mine += others;
					out->objects += mine;
					if (mine)
						out->pages += pages;
					if (mine && others) {
						out->shared_pages += pages;
						if (cg)
							out->retained_pages += pages;
					}
					if (l == SLAB_EMPTY &&
					    (cg ? s->root && memcg_handle(s->memcg) == cg : true))
						out->retained_pages += pages;
				}
			}
		}
	}
}

int64_t pmc_slab_pinning(int64_t hierarchy, int64_t cgroup, struct pmc_slab_pinning *out)
{
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	int64_t ret;

	if (!out)
		return -EINVAL;
	h = slab_call_begin(hierarchy, 0, &frame, &ret);
	if (!h || ret)
		goto end;
	pthread_mutex_lock(&h->lock);
	if (cgroup && !memcg_lookup(h, cgroup))
		ret = memcg_lookup_error(h, cgroup);
	pthread_mutex_unlock(&h->lock);
	if (ret)
		goto end;
	pthread_mutex_lock(&h->slab->lock);
	pinning_of(h->slab, cgroup, out);
	pthread_mutex_unlock(&h->slab->lock);
end:
	if (h)
		slab_call_end(h, &frame);
	return ret;
}

/* The v1 memory.kmem.slabinfo text: the header, then one line per clone of the cgroup. */
int64_t pmc_cgroup_slabinfo(int64_t hierarchy, int64_t cgroup, char *buf, int64_t room)
{
	static const char header[] =
		"slabinfo - version: 2.1\n"
		"# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
		" : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs>"
		" <num_slabs> <sharedavail>\n";
	struct hier_frame frame;
	struct pmc_hierarchy *h;
	struct mem_cgroup *memcg;
	int64_t ret, len = 0;

	if (room < 1 || !buf)
		return -EINVAL;
	buf[0] = 0;
	h = slab_call_begin(hierarchy, 0, &frame, &ret);
	if (!h || ret)
		goto end;
	pthread_mutex_lock(&h->lock);
	memcg = memcg_lookup(h, cgroup);
	if (!memcg || memcg_shell(memcg)) {
		ret = memcg ? -ESTALE : memcg_lookup_error(h, cgroup);
		pthread_mutex_unlock(&h->lock);
		goto end;
	}
	pthread_mutex_lock(&h->slab->lock);
	/* Its clones (its own and those 5.3's reparenting gave it), in slabinfo's order. */
	for (struct kmem_cache *r = h->slab->roots_head;
	     h->cfg.slab_mode == PMC_SLAB_CLONE && r && len < room; r = r->next_root) {
		for (struct kmem_cache *c = r->clones_head; c && len < room; c = c->next_clone) {
			long n = c->nr_slabs;

			if (c->memcg != memcg)
				continue;
			if (!len)
				len = snprintf(buf, (size_t)room, "%s", header);
			if (len >= room)
				break;
			len += snprintf(buf + len, (size_t)(room - len),
					"%-17s %6lu %6lu %6u %4u %4d : tunables %4u %4u %4u"
					" : slabdata %6lu %6lu %6lu\n",
					c->name, (unsigned long)c->active_objs,
					(unsigned long)(n * c->objects), (unsigned int)c->size,
					(unsigned int)c->objects, 1 << c->order, 0u, 0u, 0u,
					(unsigned long)n, (unsigned long)n, 0ul);
		}
	}
	pthread_mutex_unlock(&h->slab->lock);
	pthread_mutex_unlock(&h->lock);
	ret = len < room ? len : -ERANGE;
end:
	if (h)
		slab_call_end(h, &frame);
	return ret;
}
