"""The C core's data layout (benchmarks/README.md, "Data layout for many cgroups").

A cgroup's hot block is found from its handle's slot and checks the
generation kept in the block; the slot (and the block) is reused by the
next cgroup.  The lazily allocated parts (statistics of freed descendants,
tasks) must give the same answers as the model.
"""
from __future__ import annotations

import types
from typing import Any, Tuple

import pytest

import pymemcg
import pymemcg.model


@pytest.fixture(params=["c", "model"])
def backend(request: pytest.FixtureRequest) -> types.ModuleType:
    return pymemcg if request.param == "c" else pymemcg.model


def test_a_reused_slot_never_answers_an_old_handle(backend: types.ModuleType) -> None:
    h = backend.Hierarchy(backend.Config.current(ncpus=1))
    old = []
    for i in range(300):                    # the same slot again and again
        g = h.create(f"g{i}")
        g.try_charge(1)
        g.uncharge(1)
        old.append(g)
        g.remove()
        h.drain_all()
        assert not g.online
        for stale in old[-3:]:
            with pytest.raises(backend.StaleHandleError):
                stale.try_charge(1)
    if backend is pymemcg:                  # one slot, its generation moving on
        assert len({x.handle & ((1 << 22) - 1) for x in old}) == 1
        assert len({x.handle for x in old}) == len(old)
    g = h.create("last")
    assert g.try_charge(1) is None and g.memory.usage >= 1     # the stock takes a batch
    h.close()


def test_both_backends_agree_on_a_tree_with_tasks_and_removals() -> None:
    # Freed leaves' statistics folded into their parents, tasks in the leaves.
    def run(backend: types.ModuleType) -> Tuple[Any, ...]:
        h = backend.Hierarchy(backend.Config.current(ncpus=2))
        mids = [h.create(f"m{i}") for i in range(4)]
        leaves = [mids[i % 4].create(f"l{i}") for i in range(16)]
        tasks = [leaf.fork(cpu=i % 2) for i, leaf in enumerate(leaves)]
        for i, t in enumerate(tasks):
            t.fault(i + 1)
        for t in tasks[::3]:
            t.exit()
        for leaf in leaves[::3]:
            leaf.remove()
        h.drain_all()
        out: Tuple[Any, ...] = tuple((m.memory.usage, tuple(sorted(m.stat.items()))) for m in mids)
        out += (len(h), h.root.create("x").memory.usage)
        h.close()
        return out

    assert run(pymemcg) == run(pymemcg.model)
