"""Regression tests for the reliability findings of issue 7.

Each test here failed (or crashed, or hung) before the fix it names:

1. a replay record with cgroup 0 acted on the cgroup of an earlier record,
   even a freed one (a use-after-free);
2. replay validated a record, then read the caller's buffer again, so a
   thread rewriting it got past the checks; misaligned buffers were read
   misaligned;
3. there was no safe close, and a Hierarchy and its root kept each other
   alive until the cyclic GC ran;
4. read-only calls (``h.cgroups()``, v1 ``memory.stat``, ``h.stock()``)
   raised StaleHandleError while another thread created and removed
   cgroups;
5. ``h.cgroups()`` was quadratic, v1 ``memory.stat`` cubic in the depth,
   ``h.stock()`` recursed once per level;
6. a handle of another hierarchy was taken for this hierarchy's cgroup of
   the same id.

Finding 7 (errors that were not the package's) is tests/test_misuse.py;
finding 8 (C coverage) is tests/c and ``make coverage``.
"""

from __future__ import annotations

import errno
import gc
import random
import sys
import threading
import types
import weakref
from typing import Any, List

import numpy as np
import pytest

import pymemcg
import pymemcg.model
from pymemcg import replay as R
from pymemcg._core import lib

C = pymemcg


def _ops(backend: types.ModuleType, records: List[Any]) -> bytearray:
    return backend.pack_ops(records)


# --------------------------------------------------------------------------- 1. cgroup 0

def test_replay_cgroup_zero_never_means_the_previous_cgroup(backend: types.ModuleType) -> None:
    h = backend.Hierarchy(backend.Config.current(ncpus=1))
    g = h.create("g")
    K = backend.GFP_KERNEL
    res = h.replay(_ops(backend, [
        (R.OP_CHARGE, K, g.handle, 5, 0, 0),
        (R.OP_DRAIN_ALL, 0, 0, 0, 0, 0),          # 0: the whole tree, legal here
        (R.OP_UNCHARGE, 0, 0, 5, 0, 0),           # before the fix: uncharged g
        (R.OP_CHARGE, K, 0, 7, 0, 0),             # before the fix: charged g
        (R.OP_CHARGE, K, g.handle, 1, 0, 0),
        (R.OP_UNCHARGE, 0, 0, 1, 0, 0),           # the cached cgroup is g: still refused
    ]))
    assert list(res) == [0, 0, -errno.EINVAL, -errno.EINVAL, 0, -errno.EINVAL]
    h.drain_all()
    assert g.memory.usage == 6 and h.root.memory.usage == 6


def test_replay_cgroup_zero_after_a_freed_cgroup(backend: types.ModuleType) -> None:
    # The record before frees a dying cgroup; cgroup-0 records used to touch
    # its freed memory (ASan: heap-use-after-free in memcg_uncharge_locked).
    h = backend.Hierarchy(backend.Config.current(ncpus=1))
    p = h.create("p")
    d = p.create("d")
    d.try_charge(3)
    h.drain_all()
    d.remove()
    assert d.dying
    res = h.replay(_ops(backend, [
        (R.OP_UNCHARGE, 0, d.handle, 3, 0, 0),    # frees d
        (R.OP_UNCHARGE, 0, 0, 5, 0, 0),
        (R.OP_CHARGE, backend.GFP_KERNEL, 0, 7, 0, 0),
        (R.OP_UNCHARGE, 0, d.handle, 1, 0, 0),    # d is gone
    ]))
    assert list(res) == [0, -errno.EINVAL, -errno.EINVAL, -errno.ESTALE]
    assert not d.dying and not d.online
    assert p.memory.usage == 0 and h.root.memory.usage == 0
    assert p.nr_dying_descendants == 0


# --------------------------------------------------------------------------- 2. the buffer

def test_replay_reads_each_record_once_while_another_thread_rewrites_it() -> None:
    """A thread flips each record's cpu between 0 and 10**6 and its nr_pages
    between 1 and 2**62 while the batch runs (the GIL is released).  Every
    record that succeeds must have charged exactly one page on a real CPU:
    before the fix, a record checked with cpu 0 ran with cpu 10**6
    (segfault) and one checked with 1 page charged 2**62 (wrapped counters)."""
    h = C.Hierarchy(C.Config.current(ncpus=2))
    g = h.create("g")
    # Long batches: the rewriter must run while the C call does (the GIL is
    # handed over only every few milliseconds).
    n = 1 << 20
    ops = np.zeros(n, dtype=C.OP_DTYPE)
    ops["op"] = R.OP_CHARGE
    ops["flags"] = C.GFP_KERNEL
    ops["cgroup"] = g.handle
    ops["nr_pages"] = 1
    out = np.zeros(n, dtype=np.int64)
    stop = threading.Event()

    def rewrite() -> None:
        flip = 0
        while not stop.is_set():
            flip ^= 1
            ops["cpu"] = 10**6 if flip else 0
            ops["nr_pages"] = 2**62 if flip else 1

    t = threading.Thread(target=rewrite)
    t.start()
    charged = 0
    try:
        for _ in range(12):
            h.replay(ops, out=out)
            assert set(np.unique(out)) <= {0, -errno.EINVAL}, np.unique(out)
            charged += int(np.count_nonzero(out == 0))
    finally:
        stop.set()
        t.join()
    h.drain_all()
    assert g.memory.usage == charged
    assert g.stat_local["anon"] == charged * C.PAGE_SIZE


def test_replay_of_a_misaligned_buffer(backend: types.ModuleType) -> None:
    h = backend.Hierarchy(backend.Config.current(ncpus=2))
    g = h.create("g")
    K = backend.GFP_KERNEL
    records = [(R.OP_CHARGE, K, g.handle, 3, 1, 0), (R.OP_UNCHARGE, 0, g.handle, 2, 0, 0),
               (R.OP_DRAIN, 0, 0, 0, 1, 0), (R.OP_UNCHARGE, 0, g.handle, 5, 1, 0)]
    raw = bytes(_ops(backend, records))
    for offset in (1, 3, 5, 7):
        buf = bytearray(offset) + raw
        res = h.replay(memoryview(buf)[offset:])
        assert list(res) == [0, 0, 0, R.RESULT_UNDERFLOW]
    assert g.memory.usage == 0


# --------------------------------------------------------------------------- 3. close

def _uses(h: Any, g: Any) -> List[Any]:
    """Every kind of call, each as a thunk."""
    return [
        lambda: g.try_charge(1), lambda: g.uncharge(1), lambda: g.memory.usage,
        lambda: g.stat, lambda: g.events, lambda: g.children, lambda: g.parent,
        lambda: g.create("x"), lambda: g.remove(), lambda: g.read("memory.current"),
        lambda: h.create("y"), lambda: h["g"], lambda: h.cgroups(), lambda: h.stock(0),
        lambda: h.drain(0), lambda: h.drain_all(), lambda: h.root,
        lambda: h.replay(h.__class__ and R.pack_ops([(R.OP_DRAIN, 0, 0, 0, 0, 0)])),
    ]


def test_every_use_after_close_is_stale(backend: types.ModuleType) -> None:
    h = backend.Hierarchy(backend.Config.current(ncpus=1))
    g = h.create("g")
    g.try_charge(2)
    assert not h.closed
    h.close()
    assert h.closed
    for use in _uses(h, g):
        with pytest.raises(backend.StaleHandleError):
            use()
    assert not g.online and not g.dying
    h.close()                                       # again: nothing happens


def test_with_closes(backend: types.ModuleType) -> None:
    with backend.Hierarchy() as h:
        g = h.create("g")
        g.try_charge(1)
    assert h.closed
    with pytest.raises(backend.StaleHandleError):
        g.try_charge(1)
    with pytest.raises(backend.StaleHandleError):
        with h:
            pass


def test_close_from_inside_the_reclaim_hook_is_refused(backend: types.ModuleType) -> None:
    seen: List[BaseException] = []

    def hook(cg: Any, nr_pages: int) -> int:
        try:
            h.close()
        except backend.BusyError as e:
            seen.append(e)
            raise
        return 0

    h = backend.Hierarchy(backend.Config.current(ncpus=1), reclaim=hook)
    g = h.create("g")
    g.write("memory.max", "4096")                   # one page
    g.try_charge(1)
    with pytest.raises(backend.BusyError) as ei:
        g.try_charge(1)                             # over max: reclaim runs the hook
    assert ei.value.errno == errno.EBUSY and seen == [ei.value]
    assert not h.closed
    h.drain_all()
    assert g.memory.usage == 1                      # the refused charge left nothing
    h.reclaim = None
    assert g.try_charge(1) is g                     # still usable
    h.close()


def test_close_waits_for_a_hook_running_in_another_thread() -> None:
    entered, release = threading.Event(), threading.Event()
    results: List[Any] = []

    def hook(cg: Any, nr_pages: int) -> int:
        entered.set()
        release.wait(10)
        return 0

    h = C.Hierarchy(C.Config.current(ncpus=1), reclaim=hook)
    g = h.create("g")
    g.write("memory.max", "4096")
    g.try_charge(1)

    def charge() -> None:
        try:
            results.append(g.try_charge(1, flags=C.GFP_KERNEL | C.GFP_NORETRY))
        except BaseException as e:                  # pragma: no cover - reported below
            results.append(e)

    t = threading.Thread(target=charge)
    t.start()
    assert entered.wait(10)
    closer = threading.Thread(target=h.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive()                        # waiting for the charge in the hook
    release.set()
    t.join(10)
    closer.join(10)
    assert not closer.is_alive() and h.closed
    assert results == [g]                           # the charge finished as the kernel's would
    with pytest.raises(C.StaleHandleError):
        g.try_charge(1)


def test_close_while_another_thread_replays() -> None:
    for _ in range(5):
        h = C.Hierarchy(C.Config.current(ncpus=2))
        gs = [h.create(f"g{i}") for i in range(4)]
        rng = random.Random(1)
        recs = []
        for _ in range(1 << 16):
            g = rng.choice(gs)
            recs.append((R.OP_CHARGE if rng.random() < 0.6 else R.OP_UNCHARGE,
                         C.GFP_KERNEL, g.handle, rng.randint(0, 70), rng.randint(0, 1), 0))
        ops = C.pack_ops(recs)
        started = threading.Event()
        outcome: List[Any] = []

        def run() -> None:
            started.set()
            try:
                while True:
                    h.replay(ops)
            except C.StaleHandleError as e:
                outcome.append(e)
            except BaseException as e:              # pragma: no cover - reported below
                outcome.append(e)

        t = threading.Thread(target=run)
        t.start()
        started.wait()
        h.close()
        t.join(30)
        assert not t.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], C.StaleHandleError), outcome


def test_no_reference_cycle_keeps_a_hierarchy_alive() -> None:
    """Without the cyclic GC, dropping the last reference frees the C tree
    (before the fix, 3,000 hierarchies kept +160 MB until gc.collect())."""
    base = lib.pmc_hierarchy_nr_live()
    was = gc.isenabled()
    gc.disable()
    try:
        for i in range(3000):
            h = C.Hierarchy(C.Config.current(ncpus=2))
            a = h.create("a")
            b = a.create("b")
            b.try_charge(3)
            _ = (h.root, h.cgroups(), h.stock(0), b.parent, a.children, h["a/b"])
            ref = weakref.ref(h)
            del h, a, b, _
            assert ref() is None
            assert lib.pmc_hierarchy_nr_live() == base
        # A Cgroup alone keeps its hierarchy (and its tree) alive.
        h = C.Hierarchy()
        g = h.create("g")
        ref = weakref.ref(h)
        del h
        assert ref() is not None and g.try_charge(1) is None
        del g
        assert ref() is None and lib.pmc_hierarchy_nr_live() == base
    finally:
        if was:
            gc.enable()


def test_hierarchy_slots_and_tags_are_reused_safely() -> None:
    # A handle of a closed hierarchy never reaches the hierarchy that reuses
    # its registry slot; nor does one of its cgroups.
    h1 = C.Hierarchy()
    g1 = h1.create("g")
    old_h, old_g = h1._h, g1.handle
    h1.close()
    h2 = C.Hierarchy()
    g2 = h2.create("g")
    assert g2.id == g1.id
    assert lib.pmc_cgroup_try_charge(old_h, old_g, 1, 0, 0, 0) == -errno.ESTALE
    assert lib.pmc_cgroup_try_charge(h2._h, old_g, 1, 0, 0, 0) == -errno.EINVAL
    assert lib.pmc_hierarchy_close(old_h) == -errno.ESTALE
    assert g2.memory.usage == 0
    h2.close()


# --------------------------------------------------------------------------- 4. churn

def test_read_only_calls_never_fail_under_churn() -> None:
    """One thread creates, charges, removes and frees cgroups; the readers
    must always get an answer, never a StaleHandleError."""
    for cfg in (C.Config.current(ncpus=2), C.Config.current_v1(ncpus=2)):
        h = C.Hierarchy(cfg)
        top = h.create("top")
        keep = top.create("keep")
        keep.try_charge(3, cpu=0)
        stop = threading.Event()
        errors: List[BaseException] = []

        def churn() -> None:
            rng = random.Random(7)
            try:
                while not stop.is_set():
                    g = top.create(f"c{rng.randrange(10**9)}")
                    n, cpu, kmem = rng.randint(1, 3), rng.randint(0, 1), rng.random() < 0.5
                    g.try_charge(n, cpu=cpu, kmem=kmem)
                    g.remove()                      # dying: charged, maybe in a stock
                    g.uncharge(n, cpu=cpu, kmem=kmem)
                    h.drain_all()                   # freed by now
            except BaseException as e:              # pragma: no cover - reported below
                errors.append(e)

        t = threading.Thread(target=churn)
        t.start()
        try:
            for _ in range(300):
                assert h.cgroups()[0] is h.root
                h.stock(0)
                h.stock(1)
                top.children
                top.read("memory.stat")
                h.root.read("memory.stat")
        finally:
            stop.set()
            t.join()
        assert not errors, errors


def test_a_reclaim_hook_may_read_the_stock_while_others_churn() -> None:
    errors: List[BaseException] = []

    def hook(cg: Any, nr_pages: int) -> int:
        h.stock(0)
        h.cgroups()
        return 0

    h = C.Hierarchy(C.Config.current(ncpus=2), reclaim=hook)
    top = h.create("top")
    tight = h.create("tight")
    tight.write("memory.max", str(64 * 4096))
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            g = top.create("x")
            g.try_charge(1, cpu=0)
            g.remove()
            g.uncharge(1, cpu=0)
            h.drain_all()

    t = threading.Thread(target=churn)
    t.start()
    try:
        for _ in range(200):
            try:
                tight.try_charge(100, cpu=1)        # refused after reclaim (the hook reads)
            except BaseException as e:              # pragma: no cover - reported below
                errors.append(e)
                break
    finally:
        stop.set()
        t.join()
    assert not errors, errors


# --------------------------------------------------------------------------- 5. complexity

def _chain(h: Any, depth: int) -> List[Any]:
    out, g = [], h.root
    for _ in range(depth):
        g = g.create("c")
        out.append(g)
    return out


def test_stock_of_a_deep_dying_cgroup(backend: types.ModuleType) -> None:
    # Deeper than the recursion limit: building the Cgroup objects of a
    # cached cgroup's ancestry recursed once per level before.
    depth = sys.getrecursionlimit() + 500
    # Without objcgs, a dying cgroup's kmem uncharge goes to its own stock.
    h = backend.Hierarchy(backend.Config.current(ncpus=1, objcg=False))
    chain = _chain(h, depth)
    leaf_path = chain[-1].path
    chain[-1].try_charge(3, kmem=True)
    for g in reversed(chain):
        g.remove()                                  # all dying: the leaf holds pages
    chain[-1].uncharge(1, kmem=True)                # kmem goes back through the stock,
    del chain, g                                    # which now caches the dying leaf
    gc.collect()                                    # the C side: no Python object left
    (cached, pages), *_ = h.stock(0)
    assert cached.path == leaf_path and cached.dying and pages == 1
    assert cached.parent.parent.dying
    cached.uncharge(2, kmem=True)
    h.drain_all()
    assert h.root.nr_dying_descendants == 0         # the whole chain freed at once
    assert [c.path for c in h.cgroups()] == [""]


# The two tests below are hang guards, not speed tests (benchmarks/ measures
# speed): each does work that took minutes before the fix (the cube of the
# depth; the square of the tree) and well under a second after it, and fails
# on its timeout only if that comes back.

@pytest.mark.timeout(120)
def test_v1_memory_stat_of_a_deep_chain(backend: types.ModuleType) -> None:
    # The cube of the depth before (28 s at 1,500 levels; 3,000: about 4 min).
    h = backend.Hierarchy(backend.Config.current_v1(ncpus=1))
    chain = _chain(h, 3000)
    chain[-1].try_charge(2)
    chain[1400].try_charge(1)
    h.drain_all()
    stat = dict(line.split() for line in chain[0].read("memory.stat").splitlines())
    assert stat["rss"] == "0" and stat["total_rss"] == str(3 * backend.PAGE_SIZE)
    stat = dict(line.split() for line in chain[1400].read("memory.stat").splitlines())
    assert stat["rss"] == str(backend.PAGE_SIZE) and stat["total_rss"] == str(3 * backend.PAGE_SIZE)
    stat = dict(line.split() for line in h.root.read("memory.stat").splitlines())
    assert stat["total_rss"] == str(3 * backend.PAGE_SIZE)


@pytest.mark.timeout(120)
def test_listing_a_large_tree(backend: types.ModuleType) -> None:
    # The square of the tree before (45 s a listing at 65,534 cgroups).
    h = backend.Hierarchy(backend.Config.current(ncpus=1))
    n = 65534 if backend is C else 3000
    tops = [h.create(f"t{i}") for i in range(n // 100)]
    for i in range(n - len(tops)):
        tops[i % len(tops)].create(f"c{i}")
    for _ in range(5):
        listed = h.cgroups()
        assert len(listed) == n + 1 and len({c.id for c in listed}) == n + 1
    assert [c.id for c in listed] == list(range(1, n + 2))     # creation order = id order here
    if n == 65534:                                  # every id taken: xa_alloc's EBUSY
        with pytest.raises(backend.BusyError):
            h.create("one-too-many")
    gone = tops[5].children[3]
    gone.remove()                                   # freed at once: its id is free
    assert len(h.cgroups()) == n
    assert h.create("again").id == gone.id


# --------------------------------------------------------------------------- 6. foreign handles

def test_a_cgroup_of_another_hierarchy_is_refused(backend: types.ModuleType) -> None:
    h1 = backend.Hierarchy(backend.Config.current(ncpus=1))
    h2 = backend.Hierarchy(backend.Config.current(ncpus=1))
    g1, g2 = h1.create("g"), h2.create("g")
    assert g1.id == g2.id and g1.handle != g2.handle
    g2.try_charge(1)
    with pytest.raises(backend.InvalidError):
        h2.drain_all(root=g1)
    res = h2.replay(_ops(backend, [
        (R.OP_CHARGE, backend.GFP_KERNEL, g1.handle, 1, 0, 0),
        (R.OP_UNCHARGE, 0, g1.handle, 1, 0, 0),
        (R.OP_DRAIN_ALL, 0, g1.handle, 0, 0, 0),
        (R.OP_CHARGE, backend.GFP_KERNEL, h1.root.handle, 1, 0, 0),
    ]))
    assert list(res) == [-errno.EINVAL] * 4
    h2.drain_all()
    assert g2.memory.usage == 1 and g1.memory.usage == 0


def test_c_single_calls_refuse_a_foreign_handle() -> None:
    h1, h2 = C.Hierarchy(), C.Hierarchy()
    g1 = h1.create("g")
    h2.create("g")
    for call in (lambda: lib.pmc_cgroup_try_charge(h2._h, g1.handle, 1, 0, 0, 0),
                 lambda: lib.pmc_cgroup_uncharge(h2._h, g1.handle, 1, 0, 0),
                 lambda: lib.pmc_cgroup_remove(h2._h, g1.handle),
                 lambda: lib.pmc_cgroup_set_max(h2._h, g1.handle, 0, 1),
                 lambda: lib.pmc_hierarchy_drain_all(h2._h, g1.handle)):
        assert call() == -errno.EINVAL
    assert g1.online and h2["g"].memory.max == C.PAGE_COUNTER_MAX


def test_model_handles_have_the_c_layout() -> None:
    for mod in (C, pymemcg.model):
        h = mod.Hierarchy()
        g = h.create("g")
        assert g.handle & (2**22 - 1) == 2 == g.id           # slot 2 (the root has 1)
        assert (g.handle >> 22) & (2**24 - 1) == 1           # the slot's first generation
        assert 1 <= g.handle >> 47 <= 0xFFFF                 # the hierarchy's tag
        assert not g.handle & (1 << 46)                      # the kind: a cgroup
        g.remove()
        g2 = h.create("g")                                   # the same slot, a new generation
        assert g2.handle & (2**22 - 1) == 2 and (g2.handle >> 22) & (2**24 - 1) == 3
