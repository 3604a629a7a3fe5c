"""Slab accounting (issue 9): hand-worked cases of the slab contract.

Every test runs on both backends (the ``backend`` fixture); the values are
worked out by hand from the kernel's rules in the comments.  Tests named
``test_model_*`` check invariants of the pure-Python model's internals.
PAGE_SIZE = 4096 throughout.
"""

from __future__ import annotations

import array
import random
import types
from typing import Any

import pytest

import pymemcg.model

PAGE = 4096


def _h(backend: types.ModuleType, preset: str = "current", **kw: object) -> Any:
    return backend.Hierarchy(getattr(backend.Config, preset)(**kw))


def _tag(h: Any) -> int:
    return int(h.root.handle) >> 47


def _obj_handle(h: Any, slab: int, gen: int, slot: int) -> int:
    return _tag(h) << 47 | gen << 36 | slab << 12 | slot


# ---------------------------------------------------------------------- sizing


@pytest.mark.parametrize("ncpus", [1, 2, 3, 4])
def test_dentry_order0_21_objects(backend: types.ModuleType, ncpus: int) -> None:
    # min_objects = 4 * (fls(ncpus) + 1) = 8, 12, 16, 16; 16 * 192 = 3072 -> min_order 0;
    # 4096 % 192 = 64 <= 4096 / 16: order 0, 4096 // 192 = 21 objects;
    # min_partial = min(10, max(5, ilog2(192) // 2 = 3)) = 5.
    h = _h(backend, ncpus=ncpus)
    c = h.standard_cache("dentry")
    assert (c.object_size, c.size, c.order, c.objects_per_slab, c.min_partial) == (192, 192, 0, 21, 5)
    assert c.reclaimable and c.account and c.root is None and c.cgroup is None and not c.dying


def test_dentry_64_cpus_order1(backend: types.ModuleType) -> None:
    # fls(64) = 7: min_objects 32; 32 * 192 = 6144 -> min_order 1; 8192 % 192 = 128 <= 512.
    c = _h(backend, ncpus=64).standard_cache("dentry")
    assert (c.order, c.objects_per_slab) == (1, 42)


@pytest.mark.parametrize("ncpus,object_size,align,size,order,objs,min_partial", [
    (4, 640, 8, 640, 2, 25, 5),    # 16 * 640 = 10240 -> order 2; 16384 % 640 = 384 <= 1024
    (1, 640, 8, 640, 1, 12, 5),    # 8 * 640 = 5120 -> order 1; 8192 % 640 = 512 <= 512
    (1, 704, 8, 704, 1, 11, 5),    # 5632 -> order 1; 8192 % 704 = 448 <= 512
    (2, 704, 8, 704, 2, 23, 5),    # 12 * 704 = 8448 -> order 2; 16384 % 704 = 192 <= 1024
    (1, 4096, 8, 4096, 3, 8, 6),   # max_objects 8: 32768 -> order 3; min_partial ilog2 12 // 2
    (1, 176, 8, 176, 0, 23, 5),    # 1408 -> 0; 4096 % 176 = 48 <= 256
    (1, 176, 64, 192, 0, 21, 5),   # ALIGN(176, 64) = 192
    (1, 1, 8, 8, 0, 512, 5),       # max(1, 8) = 8: 4096 % 8 = 0
    (1, 9984, 64, 9984, 3, 3, 6),  # max_objects 3: 29952 -> order 3; 32768 % 9984 = 2816:
                                   # > 2048 (1/16), <= 4096 (1/8): order 3, 3 objects
    (1, 32768, 8, 32768, 3, 1, 7),  # one object per order-3 slab; ilog2 15 // 2 = 7
])
def test_slub_sizing(backend: types.ModuleType, ncpus: int, object_size: int, align: int,
                     size: int, order: int, objs: int, min_partial: int) -> None:
    c = _h(backend, ncpus=ncpus).kmem_cache_create("c", object_size, align=align)
    assert (c.size, c.order, c.objects_per_slab, c.min_partial) == (size, order, objs, min_partial)


def test_explicit_order_and_min_partial(backend: types.ModuleType) -> None:
    h = _h(backend)
    c = h.kmem_cache_create("c", 192, order=2, min_partial=0)
    assert (c.order, c.objects_per_slab, c.min_partial) == (2, 16384 // 192, 0)


# ---------------------------------------------------------------------- bad input


def test_bad_cache_arguments(backend: types.ModuleType) -> None:
    h = _h(backend)
    for name in ("", "a b", "x" * 65, "caf\u00e9", "tab\t"):
        with pytest.raises(backend.InvalidError):
            h.kmem_cache_create(name, 64)
    h.kmem_cache_create("x" * 64, 64)
    h.kmem_cache_create("dup", 64)
    h.kmem_cache_create("dup", 64)  # the kernel allows duplicate names
    for kw in (dict(object_size=0), dict(object_size=32769), dict(object_size=64, align=12),
               dict(object_size=64, align=4), dict(object_size=64, align=8192),
               dict(object_size=64, order=4), dict(object_size=64, order=-1),
               dict(object_size=8192, order=0), dict(object_size=64, min_partial=-1),
               dict(object_size=64, min_partial=(1 << 20) + 1)):
        with pytest.raises(backend.InvalidError):
            h.kmem_cache_create("c", **kw)
    bad_types: list[dict[str, Any]] = [
        dict(object_size=True), dict(object_size=64.0), dict(object_size=64, align=8.0)]
    for kw in bad_types:
        with pytest.raises(backend.InvalidTypeError):
            h.kmem_cache_create("c", **kw)
    with pytest.raises(backend.NotFoundError):
        h.standard_cache("no_such_cache")
    assert [r.name for r in h.slabinfo()] == ["x" * 64, "dup", "dup"]  # nothing else made


def test_bad_alloc_and_free(backend: types.ModuleType) -> None:
    h, h2 = _h(backend), _h(backend)
    g, g2 = h.create("a"), h2.create("a")
    c, c2 = h.standard_cache("dentry"), h2.standard_cache("dentry")
    with pytest.raises(backend.InvalidError):
        c.alloc(g2)  # a cgroup of another hierarchy
    with pytest.raises(backend.InvalidTypeError):
        c.alloc("a")
    with pytest.raises(backend.InvalidError):
        c.alloc(g, cpu=1)
    o = c.alloc(g)
    o2 = c2.alloc(g2)
    with pytest.raises(backend.InvalidError):
        h.free_many([o2.handle])  # another hierarchy's object
    with pytest.raises(backend.StaleHandleError):
        h.free_many([o.handle, o.handle])  # twice in the batch: nothing freed
    assert o.alive and c.active_objects == 1
    with pytest.raises(backend.StaleHandleError):
        h.free_many([o.handle + 1])  # slot 1: never allocated
    o.free()
    assert not o.alive
    with pytest.raises(backend.StaleHandleError):
        o.free()
    with pytest.raises(backend.StaleHandleError):
        h.free_many([o.handle])
    b = h.create("b")
    b.remove()
    with pytest.raises(backend.StaleHandleError):
        c.alloc(b)  # removed
    t = g.fork()
    t.exit()
    with pytest.raises(backend.StaleHandleError):
        c.alloc(t)  # exited
    with pytest.raises(backend.InvalidError):
        c.alloc_many(g, -1)
    o3 = c.alloc(g)
    h.close()
    with pytest.raises(backend.StaleHandleError):
        o3.free()
    with pytest.raises(backend.StaleHandleError):
        c.alloc(g)
    assert not o3.alive and not c.alive


# ---------------------------------------------------------------------- slab lists and handles


def test_slab_list_policy(backend: types.ModuleType) -> None:
    # Mode "none": nothing is charged, only the lists move.  1024-byte
    # objects in order-0 slabs: 4 per slab; min_partial 1.
    h = _h(backend, slab_mode="none")
    g = h.create("a")
    c = h.kmem_cache_create("c", 1024, order=0, min_partial=1)
    objs = [c.alloc(g) for _ in range(4)]
    # A new slab's free list is 0, 1, 2, 3: slab 1 (generation 1), slots 0..3; then full.
    assert [o.handle for o in objs] == [_obj_handle(h, 1, 1, s) for s in range(4)]
    assert c.lists == (0, 1, 0)
    objs.append(c.alloc(g))  # a new slab (index 2) at the head of partial
    assert objs[4].handle == _obj_handle(h, 2, 1, 0)
    assert c.lists == (1, 1, 0)
    objs[1].free()  # slab 1 was full: to the TAIL of partial -> partial = [2, 1]
    assert c.lists == (2, 0, 0)
    o = c.alloc(g)  # the head: slab 2, its next slot 1
    assert o.handle == _obj_handle(h, 2, 1, 1)
    objs[2].free()  # slab 1: slot 2 pushed on its free list (slots 1, 2 free; 2 on top)
    objs[4].free()
    o.free()  # slab 2 now empty, it was on partial: nr = 2 (partial: 2 and 1) >= 1: freed
    assert c.lists == (1, 0, 0) and c.nr_slabs == 1
    o = c.alloc(g)  # slab 1, LIFO: slot 2 (freed last) first
    assert o.handle == _obj_handle(h, 1, 1, 2)
    o.free()
    objs[0].free()
    objs[3].free()  # slab 1 empty: nr = 1 (itself) >= 1: freed too
    assert c.lists == (0, 0, 0) and c.active_objects == 0
    o = c.alloc(g)  # index 1 again, generation bumped to 2
    assert o.handle == _obj_handle(h, 1, 2, 0)


def test_min_partial_keeps_empty_slabs(backend: types.ModuleType) -> None:
    # One object per slab (size 4096, order 0): a slab goes from empty straight to full.
    h = _h(backend, slab_mode="none")
    g = h.create("a")
    c = h.kmem_cache_create("c", 4096, order=0, min_partial=2)
    objs = [c.alloc(g) for _ in range(4)]
    assert c.lists == (0, 4, 0)
    # Freeing from full: the slab is empty; nr = partial + empty, not counting itself.
    objs[0].free()  # nr = 0 < 2: kept, head of empty
    objs[1].free()  # nr = 1 < 2: kept
    objs[2].free()  # nr = 2 >= 2: freed
    assert c.lists == (0, 1, 2) and c.nr_slabs == 3
    o = c.alloc(g)  # the head of empty: slab 2 (kept last)
    assert o.handle == _obj_handle(h, 2, 1, 0)
    assert c.lists == (0, 2, 1)


def test_free_many_and_alloc_many(backend: types.ModuleType) -> None:
    h = _h(backend, slab_mode="none")
    g = h.create("a")
    c = h.standard_cache("dentry")
    hs = c.alloc_many(g, 30)
    assert isinstance(hs, array.array) and len(hs) == 30
    assert c.active_objects == 30 and c.nr_slabs == 2  # 21 + 9
    h.free_many(hs[:21])
    h.free_many(list(hs[21:]))
    assert c.active_objects == 0
    assert len(c.alloc_many(g, 0)) == 0


# ---------------------------------------------------------------------- objcg mode: bytes


def test_objcg_first_object_and_consuming(backend: types.ModuleType) -> None:
    # A 200-byte slot: obj_full = 208.  The first object charges 1 page
    # (the page charge takes a batch of 64: memory.current 64 pages) and
    # leaves 4096 - 208 = 3888 bytes in CPU 0's object stock; the slab
    # statistic's first delta (208) is cached, not flushed.
    h = _h(backend)
    g = h.create("a")
    c = h.kmem_cache_create("x200", 200)
    assert (c.size, c.objects_per_slab) == (200, 20)
    o = c.alloc(g)
    assert o.charged == 208 and o.cgroup == g
    assert tuple(h.obj_stock(0)) == (g, 3888, 0, 208)
    assert g.stat["kernel"] == PAGE and g.stat["slab_unreclaimable"] == 0
    assert g.memory.usage == 64
    assert g.objcg == (0, 2)  # the object and the stock
    # 18 more consume: 3888 - 18 * 208 = 144; the stat cache 19 * 208 = 3952 <= 4096.
    objs = [o] + [c.alloc(g) for _ in range(18)]
    assert tuple(h.obj_stock(0)) == (g, 144, 0, 3952)
    assert g.stat["kernel"] == PAGE
    # The 20th: 144 < 208, a new page: stock 144 + 3888 = 4032 (no uncharge:
    # allow_uncharge is false on the charge path); stat cache 3952 + 208 =
    # 4160 > 4096: flushed.
    objs.append(c.alloc(g))
    assert tuple(h.obj_stock(0)) == (g, 4032, 0, 0)
    assert g.stat["kernel"] == 2 * PAGE and g.stat["slab_unreclaimable"] == 4160
    # Free one: 4032 + 208 = 4240 > 4096: one page back (through the page
    # stock: memory.current unchanged), 144 kept; the stat cache was 0: -208 cached.
    objs.pop().free()
    assert tuple(h.obj_stock(0)) == (g, 144, 0, -208)
    assert g.stat["kernel"] == PAGE and g.memory.usage == 64
    assert g.objcg == (0, 20)


def test_objcg_strict_page_uncharge_and_drain(backend: types.ModuleType) -> None:
    h = _h(backend)
    g = h.create("a")
    c = h.kmem_cache_create("x200", 200)
    o = c.alloc(g)
    o.free()  # 3888 + 208 = 4096: NOT > 4096: kept, no uncharge; stat 208 - 208 = 0
    assert tuple(h.obj_stock(0)) == (g, 4096, 0, 0)
    assert g.stat["kernel"] == PAGE and g.objcg == (0, 1)
    # drain(0): the page stock (63 pages), then the object stock: its whole
    # page uncharged directly, nothing left over.
    h.drain(0)
    assert tuple(h.obj_stock(0)) == (None, 0, 0, 0)
    assert g.memory.usage == 0 and g.stat["kernel"] == 0 and g.objcg == (0, 0)


def test_objcg_drain_remainder_and_adoption(backend: types.ModuleType) -> None:
    h = _h(backend)
    g, b = h.create("a"), h.create("b")
    c = h.kmem_cache_create("d", 192, reclaimable=True)  # obj_full 200
    o = c.alloc(g)  # 1 page; stock 3896; stat cache (reclaimable) 200
    h.drain_all()
    # 3896 < 4096: no page; the remainder goes to nr_charged_bytes; the stat is flushed.
    assert tuple(h.obj_stock(0)) == (None, 0, 0, 0)
    assert g.objcg == (3896, 1)
    assert g.memory.usage == 1 and g.stat["kernel"] == PAGE
    assert g.stat["slab_reclaimable"] == 200
    # Freeing on CPU 0: the stock adopts g and its 3896 bytes (nr_charged_bytes
    # 0); 3896 + 200 = 4096, not > 4096 (allow_uncharge forced on, but strict).
    o.free()
    assert tuple(h.obj_stock(0)) == (g, 4096, -200, 0)
    assert g.objcg == (0, 1)
    # b's first object on CPU 0: the stock changes objcg: g's 4096 bytes
    # are drained (1 page directly), its stat cache flushed (-200).
    c.alloc(b)
    assert tuple(h.obj_stock(0)) == (b, 3896, 200, 0)
    assert g.memory.usage == 0 and g.stat["kernel"] == 0 and g.stat["slab_reclaimable"] == 0
    assert g.objcg == (0, 0) and b.objcg == (0, 2)
    assert b.memory.usage == 64  # the page charge took a batch


def test_objcg_refused_object_goes_back(backend: types.ModuleType) -> None:
    h = _h(backend)
    g = h.create("a")
    g.write("memory.max", "0")
    c = h.standard_cache("dentry")
    with pytest.raises(backend.ChargeError) as ei:
        c.alloc(g)
    assert ei.value.over == g
    # The object was taken first, from a new slab, then given back: the slab
    # stays, kept empty (nr = 1 < min_partial 5).
    assert c.lists == (0, 0, 1) and c.active_objects == 0
    assert g.memory.usage == 0 and g.objcg == (0, 0)


def test_objcg_alloc_many_stops_at_refusal(backend: types.ModuleType) -> None:
    # memory.max one page: the first object's charge falls back from the
    # batch to 1 page; 3888 / 208 = 18 more consume; the 20th is refused.
    h = _h(backend)
    g = h.create("a")
    g.write("memory.max", "4096")
    c = h.kmem_cache_create("x200", 200)
    hs = c.alloc_many(g, 25)
    assert len(hs) == 19 and c.active_objects == 19
    assert g.memory.usage == 1


def test_objcg_task_owner_killed(backend: types.ModuleType) -> None:
    h = _h(backend)
    g = h.create("a")
    t = g.fork()  # a 4-page stack
    g.write("memory.max", str(4 * PAGE))  # drains the stock: usage 4 = max
    c = h.standard_cache("dentry")
    # The object's page is refused; the OOM killer kills the only task, the
    # charging one: KilledError, the object goes back.
    with pytest.raises(backend.KilledError):
        c.alloc(t)
    assert not t.alive and c.active_objects == 0


def test_objcg_unaccounted(backend: types.ModuleType) -> None:
    h = _h(backend)
    g = h.create("a")
    c = h.kmem_cache_create("plain", 64, account=False)
    o = c.alloc(g)  # white list: neither SLAB_ACCOUNT nor __GFP_ACCOUNT
    assert o.charged == 0 and o.cgroup == h.root
    o2 = c.alloc(g, flags=backend.GFP_KERNEL_ACCOUNT)
    assert o2.charged == 72 and o2.cgroup == g
    o3 = h.standard_cache("dentry").alloc(g, interrupt=True)
    assert o3.charged == 0
    assert h.standard_cache("filp").alloc(h.root).charged == 0  # the root: never


def test_objcg_offline_keeps_objcg(backend: types.ModuleType) -> None:
    h = _h(backend)
    a = h.create("a")
    c = h.kmem_cache_create("x200", 200)
    o = c.alloc(a)  # stock (a, 3888)
    a.remove()
    # Offline's drain_all_stock(a): the object stock's objcg now points to
    # the root, not inside a: not drained.  The cgroup itself is freed at
    # once (the objcg holds no css reference once reparented); its objcg
    # lives on (2 refs: the object, the stock): a shell, not a dying cgroup.
    assert not a.dying and h.root.nr_dying_descendants == 0 and a not in h
    assert a.objcg == (0, 2)
    o.free()  # 3888 + 208 = 4096 (kept); the stat cache 208 - 208 = 0
    assert a.objcg == (0, 1)
    h.drain(0)  # the last reference: a is released and freed
    assert h.root.nr_dying_descendants == 0 and a not in h
    assert h.root.stat["kernel"] == 0


# ---------------------------------------------------------------------- clone mode


def test_clone_window_delay1(backend: types.ModuleType) -> None:
    h = _h(backend, objcg=False)  # v2, clone mode, clone names by serial
    g = h.create("a")  # serial 2 (the root is 1)
    d = h.standard_cache("dentry")
    o1 = d.alloc(g)  # no clone yet: the root cache, uncharged; creation queued
    assert o1.cache == d and o1.charged == 0 and h.pending_work == 1
    assert g.memory.usage == 0
    o2 = d.alloc(g)  # delay 1: the queue runs first; the clone gets a new slab
    assert h.pending_work == 0
    clone = o2.cache
    assert clone.name == "dentry(2:a)" and clone.root == d and clone.cgroup == g
    assert d.clones == (clone,)
    # The slab page: 1 page of kernel memory (a batch of 64 charged), stat += 4096 B.
    assert g.memory.usage == 64 and g.stat["kernel"] == PAGE
    assert g.stat["slab_reclaimable"] == PAGE and g.stat["slab_unreclaimable"] == 0
    o3 = d.alloc(g)  # same slab: nothing more
    assert o3.cache == clone and g.stat["kernel"] == PAGE
    assert [(r.name, r.active_objs, r.nr_slabs) for r in h.slabinfo()] == [
        ("dentry", 1, 1), ("dentry(2:a)", 2, 1)]
    with pytest.raises(backend.InvalidError):
        clone.alloc(g)  # only root caches allocate


def test_clone_window_delay0(backend: types.ModuleType) -> None:
    h = _h(backend, objcg=False, slab_work_delay=0)
    g = h.create("a")
    d = h.standard_cache("dentry")
    f = h.standard_cache("filp")
    for _ in range(3):
        d.alloc(g)
    f.alloc(g)
    assert h.pending_work == 2  # one item per (cgroup, root cache)
    assert g.memory.usage == 0
    assert h.run_pending_work() == 2
    assert h.run_pending_work() == 0
    assert d.alloc(g).cache.name == "dentry(2:a)"
    assert f.alloc(g).cache.name == "filp(2:a)"


def test_clone_names_css_id(backend: types.ModuleType) -> None:
    h = _h(backend, objcg=False, slab_clone_name="css_id", slab_work_delay=0)
    h.create("x").remove()  # id 2 given back at offline (freed at once); serial 2 used
    g = h.create("a")  # id 2 again, serial 3
    d = h.standard_cache("dentry")
    d.alloc(g)
    h.run_pending_work()
    assert d.clones[0].name == "dentry(2:a)"


def test_clone_38_kmemcg_id_and_v1_counters(backend: types.ModuleType) -> None:
    h = _h(backend, "linux_3_8")  # kmemcg_id names, kmem on the first kmem limit write
    a, b = h.create("a"), h.create("b")
    d = h.standard_cache("dentry")
    d.alloc(a)
    d.alloc(a)
    assert h.pending_work == 0 and len(d.clones) == 0  # not active: never accounted
    b.write("memory.kmem.limit_in_bytes", "1G")  # kmemcg_id 0
    a.write("memory.kmem.limit_in_bytes", "1G")  # kmemcg_id 1
    d.alloc(a)
    o = d.alloc(a)
    assert o.cache.name == "dentry(1:a)"
    # 3.8: the kmem counter first (1 page), then memory with a batch of 32.
    assert a.kmem.usage == 1 and a.memory.usage == 32
    assert a.read("memory.kmem.slabinfo") == (
        "slabinfo - version: 2.1\n"
        "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
        " : tunables <limit> <batchcount> <sharedfactor>"
        " : slabdata <active_slabs> <num_slabs> <sharedavail>\n"
        "dentry(1:a)            1     21    192   21    1 : tunables    0    0    0"
        " : slabdata      1      1      0\n")
    assert b.read("memory.kmem.slabinfo") == ""


def test_kmemcg_id_reuse_at_free(backend: types.ModuleType) -> None:
    h = _h(backend, "linux_3_8", slab_work_delay=0)
    a = h.create("a")
    a.write("memory.kmem.limit_in_bytes", "1G")  # 0
    b = h.create("b")
    b.write("memory.kmem.limit_in_bytes", "1G")  # 1
    a.remove()  # freed at once (nothing charged): 0 is free again
    c = h.create("c")
    c.write("memory.kmem.limit_in_bytes", "1G")  # 0
    d = h.standard_cache("dentry")
    d.alloc(c)
    h.run_pending_work()
    assert d.clones[0].name == "dentry(0:c)"


def test_clone_zombie_without_reparent(backend: types.ModuleType) -> None:
    h = _h(backend, objcg=False)
    a = h.create("a")
    d = h.standard_cache("dentry")
    d.alloc(a)
    objs = [d.alloc(a) for _ in range(2)]
    clone = objs[0].cache
    extra = d.alloc(a)
    extra.free()  # the slab keeps 2 objects
    a.remove()
    # The clone is dying; its cgroup a a zombie while the slab page lives.
    assert clone.dying and clone.min_partial == 0
    assert a.dying and h.root.nr_dying_descendants == 1
    assert clone.cgroup == a and a.memory.usage == 1  # offline drained the 63 stocked pages
    objs[0].free()
    objs[1].free()  # empty slab, dying clone (min_partial 0): freed, uncharged; clone destroyed
    assert not clone.alive and d.clones == ()
    # The page went back through the stock (kmem uncharges use it, 4.14+): the
    # stock still holds a (a css reference) until it is drained.
    assert a.dying
    h.drain(0)
    assert a not in h and h.root.nr_dying_descendants == 0


def test_clone_dying_frees_kept_empty_slabs(backend: types.ModuleType) -> None:
    h = _h(backend, objcg=False)
    a = h.create("a")
    d = h.standard_cache("dentry")
    d.alloc(a)
    o = d.alloc(a)
    clone = o.cache
    o.free()  # empty: nr = 1 < 5: kept
    assert clone.lists == (0, 0, 1) and a.stat["kernel"] == PAGE
    # Its window object (root cache) is alone in its slab: not shared;
    # retained: the clone's kept empty slab.
    assert h.slab_pinning(a) == (0, 1, 1, 1)
    a.remove()  # dying: the kept slab is freed now, and the clone (no slab left) destroyed
    assert not clone.alive
    assert a not in h  # offline's drain took the page back from the stock


def test_clone_reparent(backend: types.ModuleType) -> None:
    h = _h(backend, objcg=False, slab_reparent=True)
    p = h.create("p")
    a = h.create("p/a")
    d = h.standard_cache("dentry")
    d.alloc(a)
    o = d.alloc(a)
    clone = o.cache
    a.remove()
    # The clone goes to p; a's own counters forget the page: a is freed at once.
    assert clone.dying and clone.cgroup == p
    assert a not in h and p.nr_dying_descendants == 0
    assert p.memory.usage == 1 and p.stat_local["kernel"] == PAGE
    assert p.stat_local["slab_reclaimable"] == PAGE
    assert [r.dying for r in h.slabinfo()] == [False, True]
    o.free()  # the last object: the slab is freed, uncharged from p (via the stock)
    assert not clone.alive and p.stat["kernel"] == 0 and p.stat["slab_reclaimable"] == 0
    h.drain(0)
    assert p.memory.usage == 0


def test_clone_pending_pins_dying_cgroup(backend: types.ModuleType) -> None:
    h = _h(backend, objcg=False, slab_work_delay=0)
    a = h.create("a")
    d = h.standard_cache("dentry")
    d.alloc(a)
    o = d.alloc(a)  # root cache objects: nothing charged
    assert o.cgroup == a and o.cache == d
    a.remove()
    assert a.dying  # the queued item holds it
    assert h.run_pending_work() == 0  # dropped: a is offline
    assert a not in h


def test_clone_refused_slab(backend: types.ModuleType) -> None:
    h = _h(backend, objcg=False)
    a = h.create("a")
    d = h.standard_cache("dentry")
    d.alloc(a)  # window
    a.write("memory.max", "0")
    with pytest.raises(backend.ChargeError):
        d.alloc(a)  # the clone is made, its first slab page refused
    assert len(d.clones) == 1 and d.clones[0].nr_slabs == 0 and h.pending_work == 0


# ---------------------------------------------------------------------- none mode, reports


def test_none_mode_charges_nothing(backend: types.ModuleType) -> None:
    h = _h(backend, slab_mode="none")
    g = h.create("a")
    o = h.standard_cache("dentry").alloc(g)
    assert o.charged == 0 and o.cgroup == g
    assert g.memory.usage == 0 and g.stat["kernel"] == 0 and g.stat["slab_reclaimable"] == 0
    assert tuple(h.obj_stock(0)) == (None, 0, 0, 0)
    assert h.pending_work == 0


def test_pinning_and_utilisation(backend: types.ModuleType) -> None:
    h = _h(backend)  # objcg: one set of caches, objects of several cgroups share slabs
    a, b = h.create("a"), h.create("b")
    d = h.standard_cache("dentry")
    f = h.standard_cache("filp")
    a_objs = [d.alloc(a) for _ in range(3)]
    d.alloc(b)  # same slab as a's
    [f.alloc(a) for _ in range(16)]  # filp: 16 per order-0 slab: a full slab of a's only
    assert h.slab_pinning(a) == (1, 1, 19, 2)
    assert h.slab_pinning(b) == (1, 1, 1, 1)
    u = h.slab_utilisation()
    assert u["dentry"] == (4 * 192, PAGE)
    assert u["filp"] == (16 * 256, PAGE)
    assert u["total"] == (4 * 192 + 16 * 256, 2 * PAGE)
    for o in a_objs:
        o.free()
    assert h.slab_pinning(b) == (0, 0, 1, 1)


def test_stat_units(backend: types.ModuleType) -> None:
    h = _h(backend)
    g = h.create("a")
    c = h.kmem_cache_create("big", 4000)  # 4000 -> slot 4000, obj_full 4008
    o1, o2 = c.alloc(g), c.alloc(g)
    # 1st: cache 4008; 2nd: 8016 > 4096 flushed: slab_unreclaimable 8016 bytes, not pages.
    assert g.stat["slab_unreclaimable"] == 8016 and g.stat_local["slab_unreclaimable"] == 8016
    assert h.root.stat["slab_unreclaimable"] == 8016
    assert g.stat["kernel"] == 2 * PAGE
    o1.free()
    o2.free()


# ---------------------------------------------------------------------- model invariants


def _objcg_invariant(h: pymemcg.model.Hierarchy) -> None:
    """objcg mode, no other kernel charges: for every objcg X,
    X's own kernel pages * 4096 == bytes of its live objects + bytes in the
    stocks caching it + its nr_charged_bytes; refs == objects + stocks."""
    st = h._slab
    live: dict[Any, int] = {}
    nobj: dict[Any, int] = {}
    for s in st.slabs.values():
        for o in s.objs.values():
            if o._objcg is not None:
                live[o._objcg] = live.get(o._objcg, 0) + o._charged
                nobj[o._objcg] = nobj.get(o._objcg, 0) + 1
    stocked: dict[Any, int] = {}
    nstock: dict[Any, int] = {}
    for stock in st.stocks:
        if stock.cached is not None:
            stocked[stock.cached] = stocked.get(stock.cached, 0) + stock.nr_bytes
            nstock[stock.cached] = nstock.get(stock.cached, 0) + 1
    cgs: set[Any] = set(live) | set(stocked) | set(st.nr_charged_bytes) | {
        c for c in [*h._all.values(), *h._shells] if c._kmem_own}
    for x in cgs:
        want = live.get(x, 0) + stocked.get(x, 0) + st.nr_charged_bytes.get(x, 0)
        assert x._kmem_own * PAGE == want, (x, x._kmem_own, want)
        assert st.refs.get(x, 0) == nobj.get(x, 0) + nstock.get(x, 0)
    for k in ("slab_reclaimable", "slab_unreclaimable"):
        total = sum(c._vmstats[k] + c._dead_stat[k] for c in h._all.values())
        idx = 0 if k == "slab_reclaimable" else 1
        cached = sum(stock.slab_b[idx] for stock in st.stocks)
        bytes_live = sum(o._charged for s in st.slabs.values() for o in s.objs.values()
                         if o._objcg is not None and s.cache._reclaimable == (idx == 0))
        assert total + cached == bytes_live, (k, total, cached, bytes_live)


@pytest.mark.parametrize("seed", range(8))
def test_model_objcg_invariant_random(seed: int) -> None:
    m = pymemcg.model
    rng = random.Random(seed)
    h = m.Hierarchy(m.Config.current(ncpus=3))
    cgs = [h.create(n) for n in ("a", "b", "c")]
    cgs.append(h.create("a/x"))
    caches = [h.standard_cache(n) for n in ("dentry", "filp", "task_struct")]
    caches.append(h.kmem_cache_create("odd", 4090))
    objs: list[object] = []
    for _ in range(600):
        r = rng.random()
        online = [c for c in cgs if c.online]
        if r < 0.5 and online:
            objs.append(rng.choice(caches).alloc(rng.choice(online), cpu=rng.randrange(3)))
        elif r < 0.85 and objs:
            objs.pop(rng.randrange(len(objs))).free(cpu=rng.randrange(3))  # type: ignore[attr-defined]
        elif r < 0.9:
            h.drain(rng.randrange(3))
        elif r < 0.93:
            h.drain_all(rng.choice(online) if online else None)
        elif r < 0.95:
            leaves = [c for c in online if not c.children]
            if leaves:
                rng.choice(leaves).remove()
        _objcg_invariant(h)
    for o in objs:
        o.free()  # type: ignore[attr-defined]
    for cpu in range(3):
        h.drain(cpu)
    _objcg_invariant(h)
    assert h.root.stat["kernel"] == 0
    assert h.root.stat["slab_reclaimable"] == h.root.stat["slab_unreclaimable"] == 0
    assert all(c.memory.usage == 0 for c in cgs if c.online)
    assert h.root.nr_dying_descendants == 0


@pytest.mark.parametrize("reparent", [False, True])
def test_model_clone_pages_match_charges(reparent: bool) -> None:
    """Clone mode: every clone's charged slab pages are its cgroup's kernel
    pages; after freeing everything and draining, nothing is left."""
    m = pymemcg.model
    rng = random.Random(7)
    h = m.Hierarchy(m.Config.current(objcg=False, slab_reparent=reparent))
    cgs = [h.create("a"), h.create("b"), h.create("a/x")]
    caches = [h.standard_cache("dentry"), h.standard_cache("inode_cache")]
    objs = []
    for _ in range(400):
        online = [c for c in cgs if c.online]
        if rng.random() < 0.6 and online:
            objs.append(rng.choice(caches).alloc(rng.choice(online)))
        elif objs:
            objs.pop(rng.randrange(len(objs))).free()
        if rng.random() < 0.01:
            leaves = [c for c in online if not c.children]
            if leaves:
                rng.choice(leaves).remove()
        pages: dict[object, int] = {}
        for c in h._slab.live_caches():
            if c._root is not None:
                pages[c._memcg] = pages.get(c._memcg, 0) + (c.nr_slabs << c._order)
        for cg in h._all.values():
            if cg is not h.root:
                assert cg._vmstats["kernel"] == pages.get(cg, 0)
                byt = cg._vmstats["slab_reclaimable"] + cg._vmstats["slab_unreclaimable"]
                assert byt == pages.get(cg, 0) * PAGE
    for o in objs:
        o.free()
    for cg in h.cgroups():
        if cg.online and cg is not h.root:
            cg.remove() if not cg.children else None
    h.run_pending_work()
    h.drain(0)
    assert h.root.memory.usage == 0 and h.root.stat["kernel"] == 0


def test_v1_slabinfo_follows_reparented_clone(backend: types.ModuleType) -> None:
    h = _h(backend, "current_v1", objcg=False, slab_reparent=True, slab_work_delay=0)
    p = h.create("p")  # serial 2
    a = h.create("p/a")  # serial 3
    d = h.standard_cache("dentry")
    d.alloc(a)
    h.run_pending_work()
    o = d.alloc(a)
    assert a.kmem.usage == 1  # v1: the kmem counter is charged too
    assert p.read("memory.kmem.slabinfo") == ""
    a.remove()
    # The dying clone is p's now: p's file lists it.
    text = p.read("memory.kmem.slabinfo")
    assert text.endswith("dentry(3:a)            1     21    192   21    1 : tunables    0    0"
                         "    0 : slabdata      1      1      0\n")
    assert p.kmem.usage == 1
    o.free()
    assert p.read("memory.kmem.slabinfo") == "" and p.kmem.usage == 0
    assert _h(backend).create("x").read("memory.stat")  # (v2 has no kmem.slabinfo)


def test_clone_zombie_keeps_its_memcg_id_on_38(backend: types.ModuleType) -> None:
    """3.8 gave the memcg id back only at free: a zombie its slab page keeps
    holds its id (the 65,535 cap the dying caches ran into), on current
    kernels the id goes at offline."""
    h = _h(backend, "linux_3_8", slab_work_delay=0)
    a = h.create("a")  # id 2
    a.write("memory.kmem.limit_in_bytes", "1G")
    d = h.standard_cache("dentry")
    d.alloc(a)  # the window: root cache
    h.run_pending_work()
    o = d.alloc(a)  # a page of dentry(0:a), charged to a
    a.remove()
    assert a.dying and h.by_id(2) == a
    b = h.create("b")
    assert b.id == 3  # 2 is still a's
    o.free()  # the dying clone's last slab: uncharged (3.8: no stock), the clone destroyed
    assert a not in h and h.root.nr_dying_descendants == 0
    assert h.create("c").id == 2  # free again

    cur = _h(backend, objcg=False, slab_work_delay=0)
    a = cur.create("a")
    d = cur.standard_cache("dentry")
    d.alloc(a)
    cur.run_pending_work()
    o = d.alloc(a)
    a.remove()
    assert a.dying and cur.create("b").id == 2  # 4.8+: the id went at offline
    o.free()
