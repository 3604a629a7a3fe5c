"""Hand-worked tests of the cgroup tree and the memcg charge path
(issue 3 part A; SPEC sections 2.1-2.7, 2.10, 3.5).

Every expected number is worked out by hand from the kernel rules (the
arithmetic is in the comments), never computed by calling the model.  The
only code that computes an expectation is the ten-line standalone splitmix64
below, which stands in for the kernel's get_random_u32_below().

Each test runs against the pure-Python oracle and, once it is built, the C
core (skipped until ``pymemcg.Hierarchy`` exists).
"""

from __future__ import annotations

import errno
import time

import pytest

import pymemcg
import pymemcg.model

PCM = 2**51 - 1  # PAGE_COUNTER_MAX
PAGE = 4096

EV0 = {"low": 0, "high": 0, "max": 0, "oom": 0, "oom_kill": 0, "oom_group_kill": 0}


def ev(**counts: int) -> dict[str, int]:
    """memory.events with the given counts, every other event 0."""
    d = dict(EV0)
    d.update(counts)
    return d


# The `backend` fixture (C core and model) comes from conftest.py.


def make(backend, preset: str = "current", ncpus: int = 1, hook=None, **changes):
    """A hierarchy on a preset (current / current_v1 / linux_3_8)."""
    cfg = getattr(backend.Config, preset)(ncpus=ncpus, **changes)
    return backend.Hierarchy(config=cfg, reclaim=hook)


def splitmix64(seed: int):
    """Standalone splitmix64 (the spec's stock-eviction generator)."""
    m = 2**64 - 1
    state = seed & m
    while True:
        state = (state + 0x9E3779B97F4A7C15) & m
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        yield z ^ (z >> 31)


class Recorder:
    """A reclaim hook that records its calls and frees nothing."""

    def __init__(self, result: int = 0, uncharge: bool = False) -> None:
        self.calls: list = []
        self.result = result
        self.uncharge = uncharge

    def __call__(self, cg, nr_pages):
        self.calls.append((cg, nr_pages))
        if self.uncharge:
            cg.uncharge(nr_pages)
            return nr_pages
        return self.result


# ==========================================================================
# Tree: create, lookup, ids, remove
# ==========================================================================


def test_root(backend):
    h = make(backend)
    r = h.root
    assert (r.path, r.name, r.id, r.online, r.dying, r.parent) == ("", "", 1, True, False, None)
    assert h[""] is r and r.children == () and h.cgroups() == [r]
    assert r.hierarchy is h
    assert r.nr_descendants == 0 and r.nr_dying_descendants == 0
    # the root is never charged (try_charge returns 0 for the root memcg)
    assert r.try_charge(5) is None
    assert r.memory.usage == 0 and r.stat == {"anon": 0, "kernel": 0, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}
    r.uncharge(5)  # nothing was charged, nothing happens
    assert r.memory.usage == 0 and r.stat == {"anon": 0, "kernel": 0, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}
    with pytest.raises(backend.BusyError) as ei:
        r.remove()  # rmdir of the root: EBUSY
    assert ei.value.errno == errno.EBUSY


def test_create_lookup_ids(backend):
    h = make(backend)
    a = h.create("a")
    b = a.create("b")
    c = h.create("a/c")
    # ids: lowest free, root holds 1 -> 2, 3, 4
    assert (a.id, b.id, c.id) == (2, 3, 4)
    assert (a.path, b.path, c.path) == ("a", "a/b", "a/c")
    assert (b.name, b.parent, a.parent) == ("b", a, h.root)
    assert h["a/b"] is b and h["a"] is a and h.get("a/c") is c
    assert a.children == (b, c) and h.root.children == (a,)
    assert h.cgroups() == [h.root, a, b, c]
    assert h.root.nr_descendants == 3 and a.nr_descendants == 2
    assert h.get("a/x") is None and h.get("a/x", a) is a
    with pytest.raises(backend.NotFoundError) as ei:
        h["a/x"]
    assert ei.value.errno == errno.ENOENT and isinstance(ei.value, FileNotFoundError)
    with pytest.raises(backend.NotFoundError):
        h.create("x/y")  # parents must exist (mkdir, not mkdir -p)


def test_create_name_rules(backend):
    h = make(backend)
    # mkdir's errnos (a live 6.18 kernel answers the same)
    for bad in ("", "x/y", "a\nb"):
        with pytest.raises(backend.InvalidError):
            h.root.create(bad)
    for bad in (".", ".."):
        with pytest.raises(backend.ExistsError):
            h.root.create(bad)
    with pytest.raises(backend.NameTooLongError) as ei:
        h.root.create("n" * 4096)           # getname(): PATH_MAX bytes or more
    assert ei.value.errno == errno.ENAMETOOLONG
    # kernfs has no NAME_MAX check: up to PATH_MAX - 1 bytes
    assert h.root.create("n" * 4095).name == "n" * 4095
    assert h.cgroups()[-1].name == "n" * 4095
    h.create("a")
    with pytest.raises(backend.ExistsError) as ei:
        h.root.create("a")
    assert ei.value.errno == errno.EEXIST and isinstance(ei.value, FileExistsError)
    assert [g.path for g in h.cgroups()] == ["", "n" * 4095, "a"]


def test_remove_rules_and_id_reuse(backend):
    h = make(backend)
    a, b, c = h.create("a"), h.create("b"), h.create("c")  # ids 2, 3, 4
    x = a.create("x")  # id 5
    with pytest.raises(backend.BusyError):
        a.remove()  # online child x
    # b has no usage, no children, no stock: removed and freed at once
    b.remove()
    assert (b.online, b.dying) == (False, False)
    with pytest.raises(backend.StaleHandleError):
        b.remove()
    d = h.create("d")
    assert d.id == 3  # the lowest free id: b's
    assert h.create("e").id == 6  # 2..5 taken
    x.remove()
    a.remove()  # now childless
    assert h.create("f").id == 2  # a's id (2) and x's (5) are free; 2 is lowest
    assert [g.path for g in h.cgroups()] == ["", "c", "d", "e", "f"]
    assert c.id == 4


def test_freed_handle_is_stale(backend):
    h = make(backend)
    a = h.create("a")
    a.remove()  # freed immediately
    # identity stays readable
    assert (a.path, a.name, a.id, a.online, a.dying) == ("a", "a", 2, False, False)
    assert "a" in repr(a)
    for use in (
        lambda: a.try_charge(1),
        lambda: a.uncharge(1),
        lambda: a.memory,
        lambda: a.stat,
        lambda: a.events,
        lambda: a.events_local,
        lambda: a.children,
        lambda: a.parent,
        lambda: a.hierarchy,
        lambda: a.nr_descendants,
        lambda: a.nr_dying_descendants,
        lambda: a.kmem_active,
        lambda: a.create("z"),
        lambda: a.remove(),
        lambda: a._counter_state("memory"),
        lambda: h.drain_all(a),
    ):
        with pytest.raises(backend.StaleHandleError):
            use()


def test_ids_run_out_at_65535(backend):
    # Current kernels: xa_alloc(XA_LIMIT(1, 65535)) fails with EBUSY, and the
    # memcg id is given back at offline (mem_cgroup_id_put; swap, which could
    # hold it longer, is not modelled): a dying cgroup does not hold one.
    h = make(backend)
    root = h.root
    for i in range(65534):  # ids 2..65535
        root.create(f"c{i}")
    assert h["c65533"].id == 65535 and len(h) == 65535
    with pytest.raises(backend.BusyError) as ei:
        root.create("x")
    assert ei.value.errno == errno.EBUSY
    c0 = h["c0"]
    assert c0.try_charge(1) is None  # memory 64 (batch), stock 63
    c0.remove()  # drain_all_stock: memory 1, dying -- but its id 2 is free
    assert c0.dying and c0.id == 2
    x = root.create("x")
    assert x.id == 2 and h.by_id(2) is x and c0 in h
    c0.uncharge(1)  # usage 0: freed
    assert not c0.dying and c0 not in h
    h["c99"].remove()  # id 101
    assert root.create("y").id == 101


def test_ids_run_out_at_65535_linux_3_8(backend):
    # 3.8: css_id from an idr (ENOSPC), held until the cgroup is freed: dying
    # cgroups (zombies) exhaust the ids.
    h = make(backend, "linux_3_8")
    root = h.root
    for i in range(65534):
        root.create(f"c{i}")
    with pytest.raises(backend.NoSpaceError) as ei:
        root.create("x")
    assert ei.value.errno == errno.ENOSPC
    c0 = h["c0"]
    c0._activate_kmem()
    assert c0.try_charge(1, kmem=True) is None  # kernel memory keeps a 3.8 cgroup dying
    c0.remove()
    assert c0.dying and h.by_id(2) is c0
    with pytest.raises(backend.NoSpaceError):
        root.create("x")  # the zombie holds id 2
    c0.uncharge(1, kmem=True)  # freed: id 2 released
    assert root.create("x").id == 2


# ==========================================================================
# Dying cgroups
# ==========================================================================


def test_dying_lifetime(backend):
    h = make(backend)  # current: batch 64, 7 slots
    a = h.create("a")
    b = a.create("b")  # ids 2, 3
    assert b.try_charge(1) is None  # b, a, root memory 64; stock (b, 63)
    b.remove()
    # offline: drain_all_stock(b) drains cpu 0 -> 64 - 63 = 1 page left
    assert (b.online, b.dying) == (False, True)
    assert b.memory.usage == 1 and a.memory.usage == 1
    assert h.stock(0)[0] == (None, 0)
    assert a.children == () and a.nr_descendants == 0 and a.nr_dying_descendants == 1
    assert h.root.nr_descendants == 1 and h.root.nr_dying_descendants == 1
    assert h.cgroups() == [h.root, a, b] and h.get("a/b") is None
    with pytest.raises(backend.StaleHandleError):
        b.try_charge(1)  # charging a removed cgroup
    with pytest.raises(backend.StaleHandleError):
        b.remove()  # already removed
    assert b.events == EV0 and b.memory.max == PCM  # reads still work
    b2 = a.create("b")  # the dying b is invisible in the namespace
    # current kernels give the memcg id back at offline: b2 takes id 3
    # (the 3.8 preset holds it until b is freed: test_ids_run_out_at_65535_linux_3_8)
    assert b2.id == 3 and h["a/b"] is b2 and h.by_id(3) is b2 and b.id == 3
    assert b2.handle != b.handle          # handles name cgroups, not ids
    b2.remove()  # nothing charged: freed
    a.remove()  # only a dying child: allowed
    assert a.dying and h.root.nr_descendants == 0 and h.root.nr_dying_descendants == 2
    b.uncharge(1)  # b's last page: b freed, then a (parent checked in turn)
    assert (b.online, b.dying, a.online, a.dying) == (False, False, False, False)
    assert h.root.nr_dying_descendants == 0 and h.cgroups() == [h.root]
    assert h.root.memory.usage == 0
    with pytest.raises(backend.StaleHandleError):
        b.memory
    with pytest.raises(backend.StaleHandleError):
        a.events
    assert h.create("n").id == 2  # 2, 3 free again


def test_remove_resets_protection_v2(backend):
    h = make(backend)
    a = h.create("a")
    b = a.create("b")
    b._set_min(10)
    b._set_low(20)
    assert b.try_charge(1) is None  # usage 64: min_usage min(64,10)=10, low_usage 20
    assert (a.memory.children_min_usage, a.memory.children_low_usage) == (10, 20)
    b.remove()  # set_min(0), set_low(0) propagate; then the drain: usage 1
    assert (b.memory.min, b.memory.low, b.memory.min_usage, b.memory.low_usage) == (0, 0, 0, 0)
    assert (a.memory.children_min_usage, a.memory.children_low_usage) == (0, 0)
    assert b.memory.usage == 1 and b.dying


def test_stock_reference_keeps_dying_cgroup(backend):
    # Without objcgs (4.x-5.8) a dying cgroup's kmem uncharge goes to its own
    # stock: the slot references it.  (With objcgs it comes off the parent.)
    h = make(backend, objcg=False)
    a = h.create("a")
    assert a.try_charge(1) is None  # memory 64, stock (a, 63)
    a.remove()  # drain: memory 1, dying
    # a kmem uncharge goes to the stock: refill(a, 1) -> slot 0 (a, 1); the
    # counters keep the page, the stock holds a
    a.uncharge(1, kmem=True)
    assert a.dying and h.stock(0)[0] == (a, 1) and a.memory.usage == 1
    assert a.stat == {"anon": PAGE, "kernel": -PAGE, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}  # signed, never clamped
    h.drain(0)  # uncharge 1: usage 0, no slot caches a -> freed
    assert not a.dying and not a.online and h.cgroups() == [h.root]


def test_create_under_dying_parent(backend):
    h = make(backend)
    a = h.create("a")
    a.try_charge(1)  # memory 64, stock 63
    a.remove()  # dying with 1 page
    with pytest.raises(backend.NotFoundError):
        a.create("x")


# ==========================================================================
# Stocks
# ==========================================================================


def test_stock_3_8(backend):
    # 3.8 consume_stock: any charge of up to CHARGE_BATCH (32) pages, from the
    # one slot if it caches the memcg with enough pages ("memcg: make it
    # possible to use the stock for more than one page", merged in 3.8);
    # refill_stock: no cap.
    h = make(backend, "linux_3_8")
    a, b = h.create("a"), h.create("b")
    assert len(h.stock(0)) == 1
    assert a.try_charge(1) is None  # batch 32: memory 32, memsw 32, slot (a, 31)
    assert (a.memory.usage, a.memsw.usage, h.stock(0)) == (32, 32, ((a, 31),))
    assert a.try_charge(1) is None  # consumed: (a, 30), counters unchanged
    assert (a.memory.usage, h.stock(0)) == (32, ((a, 30),))
    assert a.try_charge(2) is None  # consumed too: (a, 28)
    assert (a.memory.usage, h.stock(0)) == (32, ((a, 28),))
    assert a.try_charge(29) is None  # 28 < 29: batch 32 -> memory 64, refill 3 -> 31
    assert (a.memory.usage, h.stock(0)) == (64, ((a, 31),))
    assert a.try_charge(40) is None  # batch = max(32, 40) = 40: no refill
    assert (a.memory.usage, h.stock(0)) == (104, ((a, 31),))
    assert b.try_charge(1) is None  # b: 32; refill drains a's 31 -> a 104 - 31 = 73
    assert (a.memory.usage, a.memsw.usage, b.memory.usage, h.stock(0)) == (73, 73, 32, ((b, 31),))
    assert a.stat["anon"] == 73 * PAGE  # 1 + 1 + 2 + 29 + 40 pages charged by the user


def test_stock_current_consume_and_cap(backend):
    h = make(backend)  # batch 64, 7 slots, cap
    a = h.create("a")
    assert a.try_charge(1) is None  # memory 64, (a, 63)
    assert a.try_charge(10) is None  # consumed: (a, 53)
    assert (a.memory.usage, h.stock(0)[0]) == (64, (a, 53))
    assert a.try_charge(60) is None  # 60 > 53: batch 64 -> 128, refill 4 -> (a, 57)
    assert (a.memory.usage, h.stock(0)[0]) == (128, (a, 57))
    assert a.try_charge(65) is None  # > batch: never consumed; batch 65, no refill
    assert (a.memory.usage, h.stock(0)[0]) == (193, (a, 57))
    assert a.try_charge(57) is None  # consumed down to 0: the slot stays occupied
    assert (a.memory.usage, h.stock(0)[0]) == (193, (a, 0))
    assert a.stat["anon"] == (1 + 10 + 60 + 65 + 57) * PAGE  # 193 pages


def test_stock_refill_cap_via_kmem_uncharge(backend):
    h = make(backend)
    a = h.create("a")
    assert a.try_charge(1, kmem=True) is None  # memory 64, (a, 63)
    assert a.try_charge(64, kmem=True) is None  # 63 < 64: batch 64 -> 128, no refill
    assert (a.memory.usage, h.stock(0)[0]) == (128, (a, 63))
    a.uncharge(64, kmem=True)  # refill 64: 63 + 64 = 127 > 64 -> slot drained
    assert (a.memory.usage, h.stock(0)[0]) == (128 - 127, (None, 0))
    assert a.try_charge(100, kmem=True) is None  # batch 100, no refill: 101
    a.uncharge(100, kmem=True)  # 100 > batch: uncharged directly, stock untouched
    assert (a.memory.usage, h.stock(0)[0]) == (1, (None, 0))
    assert a.stat == {"anon": 0, "kernel": 1 * PAGE, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}


def test_stock_random_eviction_seed0(backend):
    h = make(backend, ncpus=2)  # seed 0: cpu 0 uses splitmix64(0), cpu 1 splitmix64(1)
    cg = [h.create(f"c{i}") for i in range(8)]
    for i in range(7):  # slots 0..6 filled in order: (c_i, 63), usage 64 each
        assert cg[i].try_charge(1) is None
    g0 = splitmix64(0)
    v1 = next(g0) % 7  # 0xe220a8397b1dcdaf % 7 == 2
    v2 = next(g0) % 7  # 0x6e789e6aa1b965f4 % 7 == 1
    assert (v1, v2) == (2, 1)
    # c7: no match, no empty slot -> evict slot 2 (c2 drained: 64 -> 1)
    assert cg[7].try_charge(1) is None
    assert cg[2].memory.usage == 1
    assert h.stock(0)[2] == (cg[7], 63)
    # c2 charges again: 1 + 64 = 65; evicts slot 1 (c1: 64 -> 1)
    assert cg[2].try_charge(1) is None
    assert (cg[2].memory.usage, cg[1].memory.usage) == (65, 1)
    assert [s[0] for s in h.stock(0)] == [cg[0], cg[2], cg[7], cg[3], cg[4], cg[5], cg[6]]
    # cpu 1 has its own generator: splitmix64(1) -> 0x910a2dec89025cc1 % 7 == 2,
    # then 0xbeeb8da1658eec67 % 7 == 0
    g1 = splitmix64(1)
    assert (next(g1) % 7, next(g1) % 7) == (2, 0)
    d = [h.create(f"d{i}") for i in range(9)]
    for i in range(7):
        d[i].try_charge(1, cpu=1)
    d[7].try_charge(1, cpu=1)  # evicts slot 2 (d2: 64 -> 1)
    d[8].try_charge(1, cpu=1)  # evicts slot 0 (d0: 64 -> 1)
    assert [s[0] for s in h.stock(1)] == [d[8], d[1], d[7], d[3], d[4], d[5], d[6]]
    assert (d[0].memory.usage, d[2].memory.usage, d[7].memory.usage) == (1, 1, 64)


def test_stock_zero_page_slot_is_not_empty(backend):
    h = make(backend)
    cg = [h.create(f"c{i}") for i in range(8)]
    assert cg[0].try_charge(1) is None  # (c0, 63)
    assert cg[0].try_charge(63) is None  # consumed: (c0, 0), still cached
    for i in range(1, 7):
        cg[i].try_charge(1)  # slots 1..6
    # c7: slot 0 (c0, 0) is occupied, so no empty slot: random victim 2 (seed 0)
    cg[7].try_charge(1)
    assert h.stock(0)[0] == (cg[0], 0) and h.stock(0)[2] == (cg[7], 63)
    assert cg[2].memory.usage == 1 and cg[0].memory.usage == 64


def test_drain_cpu(backend):
    h = make(backend, ncpus=2)
    a, b = h.create("a"), h.create("b")
    a.try_charge(1, cpu=1)  # a 64, cpu1 (a, 63)
    b.try_charge(1, cpu=1)  # b 64, cpu1 (b, 63)
    a.try_charge(1, cpu=0)  # a 128, cpu0 (a, 63)
    h.drain(1)  # every slot of cpu 1
    assert (a.memory.usage, b.memory.usage) == (128 - 63, 1)
    assert all(s == (None, 0) for s in h.stock(1))
    assert h.stock(0)[0] == (a, 63)
    with pytest.raises(backend.InvalidError):
        h.drain(2)


def test_drain_all_subtree_whole_cpus(backend):
    h = make(backend, ncpus=3)
    a = h.create("a")
    x = a.create("x")
    b = h.create("b")
    x.try_charge(1, cpu=0)  # x 64; cpu0 slot0 (x, 63)
    b.try_charge(1, cpu=0)  # b 64; cpu0 slot1 (b, 63)
    b.try_charge(1, cpu=1)  # b 128; cpu1 slot0 (b, 63)
    x.try_charge(1, cpu=2)  # x 128; cpu2 slot0 (x, 63)
    x.try_charge(63, cpu=2)  # consumed: cpu2 (x, 0)
    b.try_charge(1, cpu=2)  # b 192; cpu2 slot1 (b, 63)
    h.drain_all(a)
    # cpu0: x (descendant of a) has pages -> whole cpu drained, b's slot too:
    #   x 128 - 63 = 65, b 192 - 63 = 129
    # cpu1: only b -> untouched.  cpu2: x has 0 pages -> not drained.
    assert (x.memory.usage, b.memory.usage) == (65, 129)
    assert all(s == (None, 0) for s in h.stock(0))
    assert h.stock(1)[0] == (b, 63)
    assert h.stock(2)[:2] == ((x, 0), (b, 63))
    h.drain_all()  # root: cpu1 and cpu2 have pages (b); cpu2's (x, 0) is dropped
    assert (x.memory.usage, b.memory.usage) == (65, 3)  # 1+1+63 and 1+1+1 pages
    assert all(s == (None, 0) for cpu in range(3) for s in h.stock(cpu))


# ==========================================================================
# The charge path
# ==========================================================================


def test_batch_overshoot(backend):
    h = make(backend)
    a = h.create("a")
    a._set_max("memory", 100)
    assert a.try_charge(1) is None
    # batch 64 fits under 100: usage = batch, the 63 extra pages in the stock
    assert (a.memory.usage, h.root.memory.usage, h.stock(0)[0]) == (64, 64, (a, 63))
    assert a.stat["anon"] == PAGE


@pytest.mark.parametrize("preset,failcnt", [("current", 0), ("current_v1", 1), ("linux_3_8", 1)])
def test_silent_exact_size_retry(backend, preset, failcnt):
    h = make(backend, preset)
    a = h.create("a")
    a._set_max("memory", 10)
    # batch (64, or 32 on 3.8) > 10 fails; exact 1 fits: no event, no refill
    assert a.try_charge(1) is None
    assert a.memory.usage == 1 and a.events == EV0
    assert all(s == (None, 0) for s in h.stock(0))
    # the failed batch attempt counts on v1 (failcnt "memory" / "all")
    assert a.memory.failcnt == failcnt
    if preset != "current":
        assert a.memsw.failcnt == 0  # memsw (unlimited) succeeded, then was uncharged
        assert a.memsw.usage == 1


def test_silent_retry_failcnt_on_limiting_parent(backend):
    h = make(backend, "current_v1")
    p = h.create("p")
    a = p.create("a")
    p._set_max("memory", 10)
    assert a.try_charge(1) is None  # batch 64 refused by p, exact 1 fits
    assert (p.memory.failcnt, a.memory.failcnt, a.memory.usage, p.memory.usage) == (1, 0, 1, 1)


@pytest.mark.parametrize("nr_pages,oom", [(5, 1), (8, 1), (9, 0)])
def test_failing_kernel_charge_v2(backend, nr_pages, oom):
    h = make(backend)  # retries 16
    p = h.create("p")
    a = p.create("a")
    a._set_max("memory", 4)
    assert a.try_charge(nr_pages) is a
    # max events: 1 (first reclaim) + 1 (after the drain) + 16 (retries) = 18;
    # oom once if order(nr_pages) <= 3 (nr_pages <= 8)
    assert a.events == ev(max=18, oom=oom) and a.events_local == ev(max=18, oom=oom)
    # v2: hierarchical events reach p (its local ones stay 0), never the root
    assert p.events == ev(max=18, oom=oom) and p.events_local == EV0
    assert h.root.events == EV0
    assert (a.memory.usage, p.memory.usage, a.memory.failcnt) == (0, 0, 0)
    assert a.memory.watermark == 0  # the leaf itself refused: nothing was added
    assert all(s == (None, 0) for s in h.stock(0))


def test_failing_kernel_charge_at_parent_v2(backend):
    h = make(backend)
    p = h.create("p")
    a = p.create("a")
    p._set_max("memory", 4)
    assert a.try_charge(5) is p  # the ancestor over its limit
    assert p.events == ev(max=18, oom=1) and p.events_local == ev(max=18, oom=1)
    assert a.events == EV0
    # a's level was charged then cancelled on each attempt: watermark 64 (batch)
    assert (a.memory.usage, a.memory.watermark) == (0, 64)


def test_failing_kernel_charge_3_8(backend):
    # 3.8 __mem_cgroup_try_charge, a user page (oom = true), reclaim frees nothing:
    #   batch 32 refused -> CHARGE_RETRY (no reclaim), exact size 5 from then on;
    #   5 rounds of (refused, reclaim, NOMEM): nr_oom_retries 5 -> 0;
    #   a 6th round with oom_check: refused, reclaim, mem_cgroup_handle_oom: no
    #   victim -- 3.8 would retry forever; pymemcg fails it, counts a livelock.
    # mem_cgroup_reclaim stops after its first pass (margin 4 > 0): no drain.
    h = make(backend, "linux_3_8")  # retries 5, batch 32, failcnt "all"
    p = h.create("p")
    a = p.create("a")
    a._set_max("memory", 4)
    assert a.try_charge(5) is a
    assert a.events == ev(max=6, oom=1)  # a reclaim round each (kept for show)
    assert p.events == EV0  # v1: local only
    assert a.oom_livelocks == 1 and p.oom_livelocks == 0
    # failcnt: batch 32 (1) + 5 NOMEM rounds + the OOM round = 7
    assert (a.memory.failcnt, a.memsw.failcnt, p.memory.failcnt) == (7, 0, 0)
    # 3.8 charges memory (res) first: memsw is never reached
    assert (a.memsw.usage, a.memsw.watermark, a.memory.usage) == (0, 0, 0)
    # NORETRY with OOM allowed: 3.8 loops forever without reaching the OOM
    # killer (CHARGE_NOMEM before reclaim); pymemcg ends it at the OOM round.
    assert a.try_charge(5, flags=backend.GFP_KERNEL | backend.GFP_NORETRY) is a
    assert a.events == ev(max=6, oom=1) and a.oom_livelocks == 2
    assert a.memory.failcnt == 7 + 1 + 6  # batch + 5 rounds + the OOM round


def test_kernel_memory_without_fs_fails_after_one_round_3_8(backend):
    # kmem charges may OOM only with __GFP_FS and without NORETRY (3.8
    # memcg_charge_kmem: may_oom); without, one failed reclaim round -> ENOMEM.
    h = make(backend, "linux_3_8")
    a = h.create("a")
    a._activate_kmem()
    a._set_max("memory", 4)
    assert a.try_charge(5, flags=backend.GFP_NOFS, kmem=True) is a
    assert a.events == ev(max=1) and a.oom_livelocks == 0
    assert a.memory.failcnt == 2 and a.kmem.usage == 0   # kmem rolled back
    assert a.try_charge(5, kmem=True) is a               # GFP_KERNEL: OOM allowed
    assert a.events == ev(max=7, oom=1) and a.oom_livelocks == 1
    # __GFP_NOFAIL kernel memory is not accounted at all in 3.8
    assert a.try_charge(5, flags=backend.GFP_KERNEL | backend.GFP_NOFAIL, kmem=True) is None
    assert (a.memory.usage, a.kmem.usage, a.stat["kernel"]) == (0, 0, 0)


def test_failing_kernel_charge_current_v1(backend):
    h = make(backend, "current_v1")
    p = h.create("p")
    a = p.create("a")
    a._set_max("memory", 4)
    assert a.try_charge(5) is a
    assert a.events == ev(max=18, oom=1) and a.events_local == ev(max=18, oom=1)
    assert p.events == EV0 and p.events_local == EV0
    assert a.memory.failcnt == 2 + 1 + 16  # 19
    assert (a.memsw.failcnt, a.memsw.usage, a.memsw.watermark) == (0, 0, 64)


def test_memsw_limit_fails_first_v1(backend):
    h = make(backend, "current_v1")
    a = h.create("a")
    a._set_max("memsw", 4)
    # memsw batch 64 > 4 refused (memsw does not count failcnt under "memory");
    # memory is not even tried; exact 5 refused too; NOWAIT: no reclaim
    assert a.try_charge(5, flags=backend.GFP_NOWAIT) is a
    assert (a.memory.usage, a.memory.watermark, a.memory.failcnt, a.memsw.failcnt) == (0, 0, 0, 0)
    assert a.events == EV0


def test_nowait_fails_without_event(backend):
    h = make(backend, "current_v1")
    a = h.create("a")
    a._set_max("memory", 4)
    assert a.try_charge(5, flags=backend.GFP_NOWAIT) is a
    assert a.events == EV0 and a.events_local == EV0
    assert a.memory.failcnt == 2  # batch + exact size


def test_no_spinning_charges_exact_size(backend):
    h = make(backend, "current_v1")  # allow_spinning_batch
    a = h.create("a")
    assert a.try_charge(1, flags=0) is None  # batch = nr_pages = 1: no refill
    assert a.memory.usage == 1 and all(s == (None, 0) for s in h.stock(0))
    a._set_max("memory", 4)
    assert a.try_charge(5, flags=0) is a  # one attempt of 5 pages: 1 + 5 > 4
    assert a.memory.failcnt == 1 and a.events == EV0
    h8 = make(backend, "linux_3_8")  # no such rule: batch 32
    b = h8.create("b")
    assert b.try_charge(1, flags=0) is None
    assert (b.memory.usage, h8.stock(0)) == (32, ((b, 31),))


def test_atomic_forces_v2(backend):
    h = make(backend)
    p = h.create("p")
    a = p.create("a")
    a._set_max("memory", 4)
    assert a.try_charge(5, flags=backend.GFP_ATOMIC) is None
    # nomem -> __GFP_HIGH -> force: exactly 5 pages over max, one max event
    assert (a.memory.usage, a.memory.max, p.memory.usage) == (5, 4, 5)
    assert a.events == ev(max=1) and p.events == ev(max=1) and h.root.events == EV0
    assert all(s == (None, 0) for s in h.stock(0))  # no refill when forced
    assert a.stat["anon"] == 5 * PAGE


def test_nofail_forces(backend):
    h = make(backend, "current_v1")
    a = h.create("a")
    a._set_max("memory", 4)
    # GFP_NOFAIL alone may not spin: batch 5, one attempt (failcnt 1), no
    # reclaim, then force with one max event; failcnt "memory": no forced count
    assert a.try_charge(5, flags=backend.GFP_NOFAIL) is None
    assert (a.memory.usage, a.memsw.usage, a.memory.failcnt) == (5, 5, 1)
    assert a.events == ev(max=1)
    # GFP_KERNEL | NOFAIL: the whole loop (18 max, 1 oom), then force, no extra max
    b = h.create("b")
    b._set_max("memory", 4)
    assert b.try_charge(5, flags=backend.GFP_KERNEL | backend.GFP_NOFAIL) is None
    assert b.memory.usage == 5 and b.events == ev(max=18, oom=1)


def test_atomic_fails_3_8(backend):
    # 3.8: a charge that cannot wait (no __GFP_WAIT) fails after the batch
    # retry -- CHARGE_WOULDBLOCK: no reclaim, and nothing forced (__GFP_HIGH
    # meant nothing to 3.8's charge loop; forcing atomic charges came later).
    h = make(backend, "linux_3_8")
    p = h.create("p")
    a = p.create("a")
    a._set_max("memory", 4)
    assert a.try_charge(5, flags=backend.GFP_ATOMIC) is a
    assert (a.memory.failcnt, a.memsw.failcnt, p.memory.failcnt) == (2, 0, 0)
    assert (a.memory.usage, a.memsw.usage, p.memory.usage) == (0, 0, 0)
    assert a.events == EV0
    q = h.create("q")
    b = q.create("b")
    q._set_max("memory", 4)
    assert b.try_charge(5, flags=backend.GFP_ATOMIC) is q     # the ancestor refuses
    assert (b.memory.failcnt, q.memory.failcnt) == (0, 2)
    assert q.events == EV0 and b.events == EV0
    # __GFP_NOFAIL is no exception for user pages either: the loop, then ENOMEM
    assert a.try_charge(5, flags=backend.GFP_KERNEL | backend.GFP_NOFAIL) is a
    assert a.memory.usage == 0 and a.oom_livelocks == 1


def test_noretry_stops_after_drain(backend):
    h = make(backend, "current_v1")
    a = h.create("a")
    a._set_max("memory", 4)
    assert a.try_charge(5, flags=backend.GFP_KERNEL | backend.GFP_NORETRY) is a
    # max (reclaim 1), drain, max (reclaim 2), NORETRY -> nomem; no oom
    assert a.events == ev(max=2)
    assert a.memory.failcnt == 3  # batch, exact, after the drain


def test_retry_mayfail_skips_oom(backend):
    h = make(backend)
    a = h.create("a")
    a._set_max("memory", 4)
    assert a.try_charge(5, flags=backend.GFP_KERNEL | backend.GFP_RETRY_MAYFAIL) is a
    assert a.events == ev(max=18)


def test_drain_in_charge_path_frees_room(backend):
    h = make(backend)
    p = h.create("p")
    a, b = p.create("a"), p.create("b")
    p._set_max("memory", 100)
    assert a.try_charge(1) is None  # p 64, stock (a, 63)
    # b 40: batch 64 -> 128 > 100; exact 40 -> 104 > 100; max event on p;
    # margin 100 - 64 = 36 < 40; drain_all(p) drains cpu0 (a's 63) -> p 1;
    # retry: 40 fits (41), batch == nr_pages: no refill
    assert b.try_charge(40) is None
    assert p.events == ev(max=1)
    assert (a.memory.usage, b.memory.usage, p.memory.usage) == (1, 40, 41)
    assert all(s == (None, 0) for s in h.stock(0))


# ==========================================================================
# Reclaim hooks
# ==========================================================================


def test_hook_that_uncharges_lets_charge_succeed(backend):
    hook = Recorder(uncharge=True)
    h = make(backend, hook=hook)
    a = h.create("a")
    a._set_max("memory", 64)
    assert a.try_charge(64) is None  # batch = 64 = nr_pages: fits exactly, no refill
    assert hook.calls == []
    # 1 more: batch 64 -> 128 > 64; exact -> 65 > 64; max event; hook frees 1
    # (usage 63, progress 1); margin 1 >= 1 -> retry: 64 fits
    assert a.try_charge(1) is None
    assert hook.calls == [(a, 1)]
    assert a.memory.usage == 64 and a.events == ev(max=1)
    assert a.stat["anon"] == 64 * PAGE  # 64 - 1 (hook) + 1


def test_lying_hook_terminates(backend):
    hook = Recorder(result=1000)  # claims progress, frees nothing
    h = make(backend, hook=hook)
    a = h.create("a")
    a._set_max("memory", 4)
    # progress is measured on the counter: min(1000, 0) = 0, the normal loop
    assert a.try_charge(5) is a
    assert len(hook.calls) == 18 and all(c == (a, 5) for c in hook.calls)
    assert a.events == ev(max=18, oom=1)


def test_hook_exception_abandons_charge(backend):
    def hook(cg, n):
        raise RuntimeError("boom")

    h = make(backend, hook=hook)
    a = h.create("a")
    a._set_max("memory", 4)
    with pytest.raises(RuntimeError, match="boom"):
        a.try_charge(5)
    assert a.memory.usage == 0 and a.events == ev(max=1)  # the event came first
    assert a.stat["anon"] == 0 and all(s == (None, 0) for s in h.stock(0))
    h.reclaim = None
    assert h.reclaim is None
    assert a.try_charge(1) is None and a.memory.usage == 1  # exact 1 fits


@pytest.mark.parametrize("bad,exc", [(-1, "InvalidError"), (1.5, "InvalidTypeError"), (True, "InvalidTypeError"), (None, "InvalidTypeError")])
def test_hook_bad_result(backend, bad, exc):
    h = make(backend, hook=lambda cg, n: bad)
    a = h.create("a")
    a._set_max("memory", 4)
    with pytest.raises(getattr(backend, exc)):
        a.try_charge(5)
    assert a.memory.usage == 0 and a.events == ev(max=1)


def test_hook_exception_3_8_kmem_uncharged(backend):
    def hook(cg, n):
        raise KeyError("boom")

    h = make(backend, "linux_3_8", hook=hook)
    a = h.create("a")
    a._activate_kmem()
    a._set_max("memory", 4)
    with pytest.raises(KeyError):
        a.try_charge(5, kmem=True)
    # the kmem counter was charged first (watermark 5), then given back
    assert (a.kmem.usage, a.kmem.watermark, a.memory.usage, a.memsw.usage) == (0, 5, 0, 0)
    assert a.stat == {"anon": 0, "kernel": 0, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}


# ==========================================================================
# memory.high
# ==========================================================================


# mem_cgroup_handle_over_high(), at HZ = 1000 and MEMCG_CHARGE_BATCH = 64:
#   overage = ((usage - high) << 20) // max(high, 1)       (the largest from the
#             charging cgroup up to, not including, the root)
#   penalty = min(overage**2 * HZ >> 34 * nr_pages // 64, 2 * HZ)
# penalty <= HZ/100 ends it; otherwise it reclaims again (32 pages a pass) while
# reclaim makes progress or MAX_RECLAIM_RETRIES (16) remain; then the task
# would sleep `penalty` jiffies: the charging cgroup's throttle_jiffies here.

def test_memory_high_events_and_reclaim(backend):
    hook = Recorder()
    h = make(backend, hook=hook)
    p = h.create("p")
    a = p.create("a")
    p._set_high("memory", 10)
    # batch 64: p 64 > high 10 -> pending 64; overage (54 << 20) // 10 =
    # 5662310, penalty 1866240 -> 2000 jiffies: 1 pass + 16 retries (the hook
    # frees nothing), a high event on p each, then 2000 jiffies of throttle.
    assert a.try_charge(1) is None
    assert hook.calls == [(p, 64)] + [(p, 32)] * 16
    assert p.events == ev(high=17) and p.events_local == ev(high=17)
    assert a.events == EV0 and h.root.events == EV0
    assert (a.throttle_jiffies, p.throttle_jiffies) == (2000, 0)
    assert a.try_charge(1) is None  # stock hit: no memory.high check
    assert len(hook.calls) == 17 and p.events == ev(high=17)
    assert a.try_charge(70) is None  # > batch: batch 70, pending 70
    assert hook.calls[17:] == [(p, 70)] + [(p, 32)] * 16 and p.events == ev(high=34)
    assert a.throttle_jiffies == 4000


def test_memory_high_every_over_ancestor(backend):
    hook = Recorder()
    h = make(backend, hook=hook)
    p = h.create("p")
    a = p.create("a")
    a._set_high("memory", 10)
    p._set_high("memory", 10)
    assert a.try_charge(1) is None
    # each pass: a over: event on a (propagates to p), reclaim(a); p over:
    # event on p; 17 passes (2000 jiffies of penalty, nothing reclaimed)
    assert hook.calls == [(a, 64), (p, 64)] + [(a, 32), (p, 32)] * 16
    assert a.events == ev(high=17) and a.events_local == ev(high=17)
    assert p.events == ev(high=34) and p.events_local == ev(high=17)
    assert h.root.events == EV0
    assert (a.throttle_jiffies, p.throttle_jiffies) == (2000, 0)


def test_memory_high_without_hook(backend):
    h = make(backend)
    a = h.create("a")
    a._set_high("memory", 0)
    # high 0 counts as 1 page: overage (63 << 20) // 1; 17 passes, 2000 jiffies
    assert a.try_charge(1) is None
    assert a.memory.usage == 64 and a.events == ev(high=17)
    assert a.throttle_jiffies == 2000


@pytest.mark.parametrize("over_mib, passes, throttle", [
    # The kernel's own table (mm/memcontrol.c, high = 100M): 101M -> 6 ms,
    # 105M -> 159 ms, 110M -> 639 ms, 118M -> 2000 ms (the clamp).
    (1, 1, 0),          # penalty 6 <= HZ/100: no retry, no throttle
    (5, 17, 159),
    (10, 17, 639),
    (18, 17, 2000),
])
def test_memory_high_penalty_table(backend, over_mib, passes, throttle):
    hook = Recorder()
    h = make(backend, hook=hook)
    g = h.create("g")
    high = 100 * 256                                  # 100M in pages
    target = (100 + over_mib) * 256
    assert g.try_charge(target - 64) is None          # exact size (> batch): no stock left
    g._set_high("memory", high)
    assert g.try_charge(1) is None                    # a batch of 64: usage = target
    assert g.memory.usage == target
    assert len(hook.calls) == passes and g.events == ev(high=passes)
    assert g.throttle_jiffies == throttle


def test_memory_high_reclaim_progress_retries(backend):
    # A hook that frees 32 pages a call: progress, so it reclaims again until
    # the penalty drops to HZ/100 or below, never throttling.
    hook = Recorder(uncharge=True)
    h = make(backend, hook=hook)
    g = h.create("g")
    assert g.try_charge(100 * 256 + 256 - 64) is None   # 101M - 64 pages
    g._set_high("memory", 100 * 256 - 4 * 256)          # 96M: 5M over after the batch
    assert g.try_charge(1) is None
    # pass 1 frees 64 pages (its batch); each later pass 32; penalty falls as
    # usage falls: usage u over high H costs ((u-H)<<20)//H squared ... <= 10
    u, H, calls = 101 * 256, 96 * 256, []
    n = 64
    while True:
        calls.append(n)
        u -= n
        over = ((u - H) << 20) // H if u > H else 0
        if (over * over * 1000 >> 34) <= 10:
            break
        n = 32
    assert [n for _, n in hook.calls] == calls
    assert g.memory.usage == u and g.throttle_jiffies == 0


# ==========================================================================
# kmem
# ==========================================================================


def test_kmem_current_v2(backend):
    h = make(backend)
    a = h.create("a")
    assert a.kmem_active
    assert a.try_charge(3, kmem=True) is None  # memory 64, stock (a, 61)
    assert a.stat == {"anon": 0, "kernel": 3 * PAGE, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}
    assert (a.memory.usage, h.stock(0)[0]) == (64, (a, 61))
    with pytest.raises(AttributeError):
        a.kmem
    with pytest.raises(AttributeError):
        a.memsw
    assert not hasattr(a, "tcpmem")
    assert a.swap.usage == 0
    a.uncharge(3, kmem=True)  # via the stock: (a, 64), counters unchanged
    assert (a.memory.usage, h.stock(0)[0]) == (64, (a, 64))
    assert a.stat == {"anon": 0, "kernel": 0, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}


def test_kmem_current_v1_forces_kmem_counter(backend):
    h = make(backend, "current_v1")  # kmem limit "ignored"
    a = h.create("a")
    a._set_max("kmem", 1)
    assert a.try_charge(3, kmem=True) is None
    # memory+memsw 64 (batch), kmem charged 3 without a limit check
    assert (a.memory.usage, a.memsw.usage, a.kmem.usage, a.kmem.failcnt) == (64, 64, 3, 0)
    assert a.stat == {"anon": 0, "kernel": 3 * PAGE, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}
    with pytest.raises(AttributeError):
        a.swap
    a.uncharge(3, kmem=True)  # kmem directly; memory through the stock
    assert (a.kmem.usage, a.memory.usage, h.stock(0)[0]) == (0, 64, (a, 64))


def test_kmem_3_8_inactive_and_activation(backend):
    h = make(backend, "linux_3_8")
    p = h.create("p")
    a = p.create("a")
    assert not a.kmem_active
    assert a.try_charge(3, kmem=True) is None  # not accounted at all
    assert (a.memory.usage, a.kmem.usage, a.stat) == (0, 0, {"anon": 0, "kernel": 0, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0})
    a.uncharge(3, kmem=True)  # nothing either
    assert a.memory.usage == 0
    with pytest.raises(backend.BusyError):
        p._activate_kmem()  # has a child
    a._activate_kmem()
    assert a.kmem_active and not p.kmem_active
    c = a.create("c")
    assert c.kmem_active  # inherited
    with pytest.raises(backend.BusyError):
        h.create("q").create("r").parent._activate_kmem()
    a._activate_kmem()  # already active: no-op, even with a child


def test_kmem_3_8_counter_first_own_limit(backend):
    hook = Recorder()
    h = make(backend, "linux_3_8", hook=hook)
    a = h.create("a")
    a._activate_kmem()
    a._set_max("kmem", 10)
    assert a.try_charge(3, kmem=True) is None
    # kmem 3 first, then memory/memsw batch 32, stock (a, 29)
    assert (a.kmem.usage, a.memory.usage, a.memsw.usage) == (3, 32, 32)
    assert h.stock(0) == ((a, 29),)
    assert a.stat == {"anon": 0, "kernel": 3 * PAGE, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}
    assert a.try_charge(8, kmem=True) is a  # kmem 3 + 8 = 11 > 10: refused
    assert (a.kmem.usage, a.kmem.failcnt, a.memory.usage, a.memory.failcnt) == (3, 1, 32, 0)
    assert hook.calls == [] and a.events == EV0  # no reclaim, no event
    a.uncharge(3, kmem=True)  # 3.8: directly, not through the stock
    assert (a.kmem.usage, a.memory.usage, a.memsw.usage) == (0, 29, 29)
    assert h.stock(0) == ((a, 29),)
    assert a.stat == {"anon": 0, "kernel": 0, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}


def test_kmem_3_8_memory_failure_gives_kmem_back(backend):
    h = make(backend, "linux_3_8")
    b = h.create("b")
    b._activate_kmem()
    b._set_max("memory", 4)
    # kmem 5 (unlimited) first; memory 32 refused, 5 refused, NOWAIT -> nomem;
    # kmem uncharged again (its watermark stays 5)
    assert b.try_charge(5, flags=backend.GFP_NOWAIT, kmem=True) is b
    assert (b.kmem.usage, b.kmem.watermark, b.kmem.failcnt) == (0, 5, 0)
    assert (b.memory.usage, b.memory.failcnt) == (0, 2)
    assert b.stat == {"anon": 0, "kernel": 0, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}


def test_kmem_3_8_parent_kmem_limit(backend):
    h = make(backend, "linux_3_8")
    p = h.create("p")
    p._activate_kmem()
    p._set_max("kmem", 5)
    a = p.create("a")  # inherits activation
    assert a.try_charge(6, kmem=True) is p  # p's kmem refuses
    assert (p.kmem.failcnt, a.kmem.failcnt, a.kmem.usage, a.memory.usage) == (1, 0, 0, 0)


# ==========================================================================
# Uncharge, underflow
# ==========================================================================


def test_uncharge_user_pages_direct(backend):
    h = make(backend, "current_v1")
    a = h.create("a")
    a.try_charge(1)  # memory/memsw 64, stock (a, 63)
    a.uncharge(1)  # straight to the counters, not the stock
    assert (a.memory.usage, a.memsw.usage, h.stock(0)[0]) == (63, 63, (a, 63))
    assert a.stat["anon"] == 0


def test_underflow_v2(backend):
    h = make(backend)
    a = h.create("a")
    a.try_charge(1)  # a and root memory 64
    with pytest.raises(backend.UnderflowError) as ei:
        a.uncharge(70)
    # 64 - 70 < 0 at a and at root: both clamped to 0, the whole uncharge done
    assert ei.value.nr_pages == 70
    assert ei.value.counters == (a.memory, h.root.memory)
    assert (a.memory.usage, h.root.memory.usage) == (0, 0)
    assert a.stat["anon"] == (1 - 70) * PAGE  # signed


def test_underflow_v1_every_counter(backend):
    h = make(backend, "current_v1")
    p = h.create("p")
    a = p.create("a")
    b = p.create("b")
    a.try_charge(1)  # a, p, root memory/memsw 64
    b.try_charge(10, flags=0)  # exact: b 10, p and root 74
    with pytest.raises(backend.UnderflowError) as ei:
        a.uncharge(70)
    # memory: a 64-70 clamped, p 74-70 = 4, root 4; then memsw the same
    assert ei.value.counters == (a.memory, a.memsw)
    assert (a.memory.usage, p.memory.usage, a.memsw.usage, p.memsw.usage) == (0, 4, 0, 4)


def test_underflow_frees_dying(backend):
    h = make(backend)
    a = h.create("a")
    a.try_charge(1)
    a.remove()  # drained: 1 page, dying
    with pytest.raises(backend.UnderflowError):
        a.uncharge(2)  # clamped to 0: the free check still runs
    assert not a.dying and h.cgroups() == [h.root]


# ==========================================================================
# Arguments
# ==========================================================================


def test_argument_checks_change_nothing(backend):
    h = make(backend, ncpus=2)
    a = h.create("a")
    for args, kw, exc in [
        ((-1,), {}, backend.InvalidError),
        ((PCM + 1,), {}, backend.InvalidError),
        ((1.0,), {}, backend.InvalidTypeError),
        ((True,), {}, backend.InvalidTypeError),
        ((1,), {"cpu": 2}, backend.InvalidError),
        ((1,), {"cpu": -1}, backend.InvalidError),
        ((1,), {"cpu": True}, backend.InvalidTypeError),
        ((1,), {"cpu": 0.0}, backend.InvalidTypeError),
        ((1,), {"flags": 0x100}, backend.InvalidError),
        ((1,), {"flags": 1.0}, backend.InvalidTypeError),
    ]:
        with pytest.raises(exc):
            a.try_charge(*args, **kw)
        if "flags" not in kw:
            with pytest.raises(exc):
                a.uncharge(*args, **kw)
    assert a.memory.usage == 0 and a.memory.watermark == 0 and a.stat["anon"] == 0
    with pytest.raises(backend.InvalidError):
        h.stock(2)
    with pytest.raises(backend.InvalidTypeError):
        h.stock(True)


def test_counter_views(backend):
    h = make(backend, "linux_3_8")
    a = h.create("a")
    assert a.memory == a.memory and a.memory != a.memsw
    assert isinstance(a.memory, backend.CounterView)
    assert (a.memory.max, a.memsw.max, a.kmem.max, a.tcpmem.max) == (PCM, PCM, PCM, PCM)
    with pytest.raises(AttributeError):
        a.swap
    a._set_max("memory", 7)
    assert a._counter_state("memory").max == 7 and a.memory.snapshot().max == 7
    with pytest.raises(AttributeError):
        a._counter_state("swap")


def test_container_protocol(backend):
    h = make(backend)
    a = h.create("a")
    b = h.create("a/b")
    assert "a" in h and "/a/b/" in h and "x" not in h and "" in h
    assert a in h and b in h and 3 not in h and None not in h
    assert len(h) == 3 and [c.path for c in h] == ["", "a", "a/b"]
    assert h.by_id(1) is h.root and h.by_id(3) is b
    with pytest.raises(backend.NotFoundError):
        h.by_id(4)
    with pytest.raises(backend.NotFoundError):
        h.by_id(70000)
    with pytest.raises(backend.InvalidTypeError):
        h.by_id(2.0)
    b.try_charge(1)
    h.drain_all()
    b.remove()                       # dying: still counted; its id given back at offline
    assert "a/b" not in h and b in h and len(h) == 3
    with pytest.raises(backend.NotFoundError):
        h.by_id(3)
    b.uncharge(1)
    assert b not in h and len(h) == 2
    other = make(backend)
    assert other.root not in h


def test_lowering_a_limit_does_not_drain_3_8(backend):
    # 3.8 mem_cgroup_resize_limit: reclaim (SHRINK) stops at a pass that
    # leaves a margin under the old limit, so the stocks stay full and keep
    # usage up: EBUSY after 5 x (cgroups in the subtree) fruitless rounds.
    hook = Recorder()
    h = make(backend, "linux_3_8", hook=hook)
    a = h.create("a")
    a.create("b")
    assert a.try_charge(1) is None                   # memory 32, stock (a, 31)
    with pytest.raises(backend.BusyError) as ei:
        a.write("memory.limit_in_bytes", str(16 * PAGE))
    assert ei.value.errno == errno.EBUSY
    assert hook.calls == [(a, 32)] * 10              # 5 retries x 2 cgroups, one pass each
    assert h.stock(0) == ((a, 31),) and a.memory.usage == 32
    # current kernels drain once, then the limit fits (usage 1)
    h2 = make(backend, "current_v1")
    b = h2.create("b")
    assert b.try_charge(1) is None
    b.write("memory.limit_in_bytes", str(16 * PAGE))
    assert b.memory.max == 16 and b.memory.usage == 1


# ==========================================================================
# What offline does with the pages (objcg reparenting; 3.8's reparenting)
# ==========================================================================


def test_objcg_kernel_memory_goes_to_the_parent(backend):
    # 5.9+: kernel memory is charged through the cgroup's objcg, which offline
    # hands to the parent (memcg_reparent_objcgs).  A removed cgroup holding
    # only kernel memory is freed at once; its pages stay charged to the
    # ancestors and later come off its nearest online ancestor.
    h = make(backend)                    # current: v2, batch 64
    p = h.create("p")
    g = p.create("g")
    assert g.try_charge(3, kmem=True) is None   # g, p: 64 (batch); stock (g, 61)
    g.remove()                           # drain: g, p 3; only kernel pages: freed
    assert (g.online, g.dying, g in h) == (False, False, False)
    assert p.nr_dying_descendants == 0 and h.cgroups() == [h.root, p]
    assert p.memory.usage == 3 and p.stat_local["kernel"] == 0
    assert p.stat["kernel"] == 3 * PAGE  # the freed child's counts stay in its ancestors
    g.uncharge(2, kmem=True)             # through g's objcg: off p, into p's stock
    assert p.stat_local["kernel"] == -2 * PAGE and p.stat["kernel"] == 1 * PAGE
    assert h.stock(0)[0] == (p, 2) and p.memory.usage == 3
    h.drain_all()
    assert p.memory.usage == 1 and h.root.memory.usage == 1
    g.uncharge(1, kmem=True)             # the objcg's last page: the handle goes too
    h.drain_all()
    assert p.memory.usage == 0 and p.stat["kernel"] == 0
    with pytest.raises(backend.StaleHandleError):
        g.uncharge(1, kmem=True)
    with pytest.raises(backend.StaleHandleError):
        g.memory


def test_objcg_user_pages_keep_a_cgroup_dying(backend):
    h = make(backend)
    p = h.create("p")
    g = p.create("g")
    assert g.try_charge(2) is None and g.try_charge(1, kmem=True) is None
    g.remove()
    assert g.dying and p.nr_dying_descendants == 1
    g.uncharge(1, kmem=True)             # kernel: off p (the objcg's memcg now)
    assert g.stat_local == {"anon": 2 * PAGE, "kernel": 1 * PAGE, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}
    assert p.stat_local["kernel"] == -1 * PAGE
    with pytest.raises(backend.StaleHandleError):
        g.try_charge(1)
    g.uncharge(2)                        # user pages: off g itself; the last: freed
    assert not g.dying and g not in h
    h.drain_all()
    # The kernel page came off p (and the root), never off g's own counter,
    # which went with g; p's statistics keep g's counts (+1) beside its own
    # (-1): the subtree sums to nothing, as the counters do.
    assert p.memory.usage == 0 and h.root.memory.usage == 0
    assert p.stat == {"anon": 0, "kernel": 0, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0} and p.stat_local["kernel"] == -1 * PAGE


def test_freed_together_keep_their_counts_in_the_live_ancestor(backend):
    # A dying child and its dying parent freed by the same uncharge: the
    # parent becomes an objcg shell (its objcg still has a page charged) in
    # the same pass that frees the child.  Both cgroups' counts must end in
    # the nearest ancestor still in the tree, whatever order they are folded
    # in: rstat never takes a dead cgroup's counts out of its ancestors.
    h = make(backend)
    a = h.create("a")
    p = a.create("p")
    g = p.create("g")
    assert g.try_charge(1) is None and g.try_charge(1, kmem=True) is None
    g.remove()                           # user page: dying; its objcg goes to p
    g.uncharge(2, kmem=True)             # off p: g's objcg is p's now (an underflow of 1)
    assert (g.stat_local["kernel"], p.stat_local["kernel"]) == (1 * PAGE, -2 * PAGE)
    assert a.stat["kernel"] == -1 * PAGE
    h.drain_all()
    assert p.try_charge(1, kmem=True) is None   # p's own objcg: p -1 page
    p.remove()                           # dying: its child g still is
    assert a.stat["kernel"] == 0 and p.dying
    g.uncharge(1)                        # g's last page: g freed, then p with it
    h.drain_all()
    assert h.cgroups() == [h.root, a] and a.nr_dying_descendants == 0
    # g: +1 kernel, +1 anon then -1 anon; p: -1 kernel: nothing left anywhere.
    assert a.stat == {"anon": 0, "kernel": 0, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}
    assert h.root.stat == a.stat


def test_3_8_offline_moves_user_pages_to_the_parent(backend):
    # 3.8 mem_cgroup_reparent_charges: the user pages go to the parent at
    # offline (the child's counters let go of them, the parent's have them);
    # only kernel memory keeps a 3.8 cgroup dying.
    h = make(backend, "linux_3_8")       # batch 32, stock without cap
    p = h.create("p")
    g = p.create("g")
    assert g.try_charge(5) is None       # g, p: 32; stock (g, 27)
    g.remove()                           # drain 27; reparent 5: g 0 -> freed at once
    assert (g.online, g.dying) == (False, False)
    assert p.memory.usage == 5 and p.memsw.usage == 5 and p.stat_local["anon"] == 5 * PAGE
    with pytest.raises(backend.StaleHandleError):
        g.uncharge(5)                    # 3.8 has no objcg shells
    p.uncharge(5)
    assert p.memory.usage == 0

    p._activate_kmem()                   # kmem accounted in p (and children created after)
    k = p.create("k")
    assert k.kmem_active
    assert k.try_charge(2, kmem=True) is None   # kmem first (2), then memory: 32, stock (k, 30)
    assert k.try_charge(3) is None       # from the stock: (k, 27)
    k.remove()                           # drain 27 (k: 5), reparent the 3 user pages (k: 2)
    assert k.dying and (k.memory.usage, k.memsw.usage, k.kmem.usage) == (2, 2, 2)
    assert p.memory.usage == 5 and p.stat_local["anon"] == 3 * PAGE
    k.uncharge(3)                        # user pages of a dying 3.8 cgroup: off p now
    assert p.memory.usage == 2 and p.stat_local["anon"] == 0 and k.memory.usage == 2
    k.uncharge(2, kmem=True)             # its kernel pages: off k itself; the last: freed
    assert not k.dying and p.memory.usage == 0 and p.kmem.usage == 0
