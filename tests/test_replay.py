"""Batch replay: the C core and the model agree record by record, and a
replay ends where the same calls made one by one end."""

from __future__ import annotations

import errno
import types
import weakref
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pymemcg
import pymemcg.model
from pymemcg import replay as R

np = pytest.importorskip("numpy")

PRESETS = {
    "current": lambda: pymemcg.Config.current(ncpus=2, charge_batch=8),
    "current_v1": lambda: pymemcg.Config.current_v1(ncpus=2, charge_batch=8),
    "linux_3_8": lambda: pymemcg.Config.linux_3_8(ncpus=2),
}
PATHS = ["a", "a/b", "a/c", "d"]
FLAGS = [pymemcg.GFP_KERNEL, pymemcg.GFP_NOWAIT, pymemcg.GFP_ATOMIC,
         pymemcg.GFP_KERNEL | pymemcg.GFP_NOFAIL, pymemcg.GFP_KERNEL | pymemcg.GFP_NORETRY, 0,
         pymemcg.GFP_NOFS, 0x100]


def build(mod: types.ModuleType, preset: str) -> Any:
    """The same small tree with limits, in either backend."""
    h = mod.Hierarchy(PRESETS[preset]())
    for path in PATHS:
        h.create(path)
    h["a"]._set_max("memory", 40)
    h["a/b"]._set_max("memory", 24)
    h["d"]._set_max("memory", 16)
    REMOVED[h] = h["a/c"].handle
    h["a/c"].remove()                   # a removed (and, being empty, freed) cgroup
    return h


#: The handle each built hierarchy's a/c had (stale since).
REMOVED: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()


def state(h: Any) -> list[Any]:
    out = []
    for cg in h.cgroups():
        counters = [getattr(cg, name).snapshot() for name in h.config.counters]
        out.append((cg.path, cg.id, cg.handle & ((1 << 47) - 1), cg.online, counters, cg.stat, cg.events,
                    cg.events_local))
    stocks = [[(c.path if c else None, n) for c, n in h.stock(cpu)]
              for cpu in range(h.config.ncpus)]
    return [out, stocks]


record = st.tuples(
    st.sampled_from([R.OP_CHARGE] * 5 + [R.OP_UNCHARGE] * 3 + [R.OP_DRAIN, R.OP_DRAIN_ALL, 99]),
    st.sampled_from(FLAGS),
    st.sampled_from(range(len(PATHS) + 2)),      # a path, the root, or the removed a/c
    st.sampled_from([0, 1, 2, 7, 8, 9, 30, -1, 100]),
    st.sampled_from([0, 1, 1, 0, 2]),
    st.booleans(),
)


# Records that are also valid single calls: charges and uncharges of live cgroups.
call_record = st.tuples(
    st.sampled_from([R.OP_CHARGE] * 5 + [R.OP_UNCHARGE] * 3),
    st.sampled_from(FLAGS[:-1]),
    st.sampled_from([i for i, p in enumerate(PATHS) if p != "a/c"]),
    st.sampled_from([0, 1, 2, 7, 8, 9, 30, 100]),
    st.sampled_from([0, 1]),
    st.booleans(),
)


def encode(h: Any, removed: int, records: list[Any]) -> Any:
    ops = np.zeros(len(records), dtype=R.OP_DTYPE)
    for i, (op, flags, target, nr, cpu, kmem) in enumerate(records):
        if target < len(PATHS):
            handle = h[PATHS[target]].handle if PATHS[target] != "a/c" else removed
        else:
            handle = h.root.handle if target == len(PATHS) else removed
        if op == R.OP_DRAIN_ALL and target == len(PATHS):
            handle = 0
        ops[i] = (op, flags, handle, nr, cpu, int(kmem))
    return ops


@pytest.mark.parametrize("preset", sorted(PRESETS))
@settings(max_examples=60, deadline=None)
@given(records=st.lists(record, max_size=60))
def test_c_and_model_agree_record_by_record(preset: str, records: list[Any]) -> None:
    results, states = [], []
    for mod in (pymemcg, pymemcg.model):
        h = build(mod, preset)
        removed = REMOVED[h]             # a/c's handle: freed since
        assert removed not in [cg.handle for cg in h.cgroups()]
        results.append(list(h.replay(encode(h, removed, records))))
        states.append(state(h))
    assert results[0] == results[1]
    assert states[0] == states[1]


@pytest.mark.parametrize("mod", [pymemcg, pymemcg.model], ids=["c", "model"])
@pytest.mark.parametrize("preset", sorted(PRESETS))
@settings(max_examples=30, deadline=None)
@given(records=st.lists(call_record, max_size=40))
def test_replay_ends_where_single_calls_end(mod: types.ModuleType, preset: str,
                                            records: list[Any]) -> None:
    batch = build(mod, preset)
    results = list(batch.replay(encode(batch, 0, records)))
    single = build(mod, preset)
    expected = []
    for op, flags, target, nr, cpu, kmem in records:
        cg = single[PATHS[target]]
        if op == R.OP_CHARGE:
            over = cg.try_charge(nr, cpu=cpu, flags=flags, kmem=kmem)
            expected.append(0 if over is None else over.id)
        else:
            try:
                cg.uncharge(nr, cpu=cpu, kmem=kmem)
                expected.append(0)
            except mod.UnderflowError:
                expected.append(R.RESULT_UNDERFLOW)
    assert results == expected
    assert state(batch) == state(single)


@pytest.fixture(params=["c", "model"])
def backend(request: pytest.FixtureRequest) -> types.ModuleType:
    return pymemcg if request.param == "c" else pymemcg.model


def test_results_by_hand(backend: types.ModuleType) -> None:
    h = backend.Hierarchy(backend.Config.current(charge_batch=8))
    b = h.create("a").create("b")
    b._set_max("memory", 10)
    ops = backend.pack_ops([
        (R.OP_CHARGE, backend.GFP_KERNEL, b.handle, 3, 0, 0),   # batch 8 charged, 5 in stock
        (R.OP_CHARGE, backend.GFP_KERNEL, b.handle, 5, 0, 0),   # from the stock
        (R.OP_CHARGE, backend.GFP_KERNEL, b.handle, 3, 0, 0),   # 8+8 > 10, 8+3 > 10: refused by b
        (R.OP_UNCHARGE, 0, b.handle, 9, 0, 0),                  # 8 charged: clamps
        (R.OP_CHARGE, backend.GFP_KERNEL, b.handle, 1, 5, 0),   # no CPU 5: -EINVAL
        (R.OP_DRAIN, 0, 0, 0, 0, 0),
        (7, 0, 0, 0, 0, 0),                                     # no such op
    ])
    res = list(h.replay(ops))
    assert res == [0, 0, b.id, R.RESULT_UNDERFLOW, -errno.EINVAL, 0, -errno.EINVAL]
    assert b.memory.usage == 0 and b.events["max"] == 18


def test_stale_generation_never_reaches_the_new_cgroup(backend: types.ModuleType) -> None:
    h = backend.Hierarchy()
    old = h.create("x")
    stale = old.handle
    old.remove()                       # empty: freed now; the id is free again
    new = h.create("y")
    assert new.id == old.id and new.handle != stale
    res = list(h.replay(backend.pack_ops([(R.OP_CHARGE, backend.GFP_KERNEL, stale, 1, 0, 0)])))
    assert res == [-errno.ESTALE] and new.memory.usage == 0


def test_hook_exception_stops_the_batch(backend: types.ModuleType) -> None:
    class Boom(Exception):
        pass

    def hook(cg: Any, n: int) -> int:
        raise Boom

    h = backend.Hierarchy(backend.Config.current(charge_batch=1), reclaim=hook)
    g = h.create("g")
    g._set_max("memory", 1)
    out = R.new_results(3)
    ops = backend.pack_ops([(R.OP_CHARGE, backend.GFP_KERNEL, g.handle, 1, 0, 0)] * 3)
    with pytest.raises(Boom):
        h.replay(ops, out=out)
    assert list(out) == [0, -errno.ECANCELED, 0]   # the third record never ran
    assert g.memory.usage == 1


@pytest.mark.parametrize("bad", [b"x" * 31, 12, "records"])
def test_bad_buffers(backend: types.ModuleType, bad: Any) -> None:
    h = backend.Hierarchy()
    with pytest.raises((pymemcg.InvalidError, pymemcg.InvalidTypeError)):
        h.replay(bad)


def test_out_too_small(backend: types.ModuleType) -> None:
    h = backend.Hierarchy()
    ops = backend.pack_ops([(R.OP_DRAIN, 0, 0, 0, 0, 0)] * 2)
    with pytest.raises(pymemcg.InvalidError):
        h.replay(ops, out=R.new_results(1))
