"""pymemcg.testing.MemcgStateMachine, the users' machine: subclasses with an
invariant of their own or a reclaim policy run on both backends; a false
invariant is caught."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis.stateful import invariant, rule, run_state_machine_as_test

import pymemcg
import pymemcg.model
from pymemcg.testing import (MACHINE_SETTINGS, MemcgStateMachine, as_records, build_tree,
                             operations, trees)


def _run(cls: type, examples: int = 15, **kw: Any) -> None:
    run_state_machine_as_test(cls, settings=settings(MACHINE_SETTINGS, max_examples=examples,
                                                     database=None, **kw))


@pytest.mark.parametrize("backend", [pymemcg, pymemcg.model], ids=["c", "model"])
def test_an_invariant_of_ones_own(backend: Any) -> None:
    class ChildrenWithinParent(MemcgStateMachine):
        @invariant()
        def child_usage_within_parent(self) -> None:
            for cg in self.online():
                if cg.parent is not None:
                    assert cg.memory.usage <= cg.parent.memory.usage

    ChildrenWithinParent.backend = backend
    _run(ChildrenWithinParent)


@pytest.mark.parametrize("backend", [pymemcg, pymemcg.model], ids=["c", "model"])
def test_a_reclaim_policy_of_ones_own(backend: Any) -> None:
    calls = []

    class Stingy(MemcgStateMachine):
        def reclaim(self, cgroup: Any, nr_pages: int) -> int:
            calls.append(nr_pages)
            return super().reclaim(cgroup, 1)   # one page at a time

        @rule()
        def squeeze(self) -> None:
            """A small limit under the machine's own charges: the policy is asked."""
            tight = self.h.get("tight") or self.h.create("tight")
            try:
                tight.set_max(8)
            except pymemcg.MemcgError:
                pass  # v1: EBUSY below its usage when nothing more is reclaimed
            for _ in range(3):
                self.try_charge_to(tight, 5)

        def try_charge_to(self, cg: Any, pages: int) -> None:
            if cg.try_charge(pages) is None:
                self.charged[cg] = self.charged.get(cg, 0) + pages

    Stingy.backend = backend
    _run(Stingy, 15)
    assert calls, "the policy was never asked"


def test_a_false_invariant_is_caught() -> None:
    class NothingEverCharged(MemcgStateMachine):
        @invariant()
        def nothing(self) -> None:
            assert all(cg.memory.usage == 0 for cg in self.online())

    with pytest.raises(AssertionError):
        _run(NothingEverCharged, 100, phases=(Phase.generate,))  # the first failure, unshrunk


def test_the_ledger_follows_3_8_reparenting() -> None:
    """On 3.8 a removed cgroup's user pages go to its parent: so does the ledger."""
    class Only38(MemcgStateMachine):
        presets = ("linux_3_8",)

    _run(Only38, 15)


@given(shape=trees(max_size=8))
@settings(max_examples=50, deadline=None)
def test_trees_build_the_same_tree_on_both_backends(shape: list[tuple[int, str]]) -> None:
    made = [build_tree(mc.Hierarchy(mc.Config.current()), shape) for mc in (pymemcg, pymemcg.model)]
    assert [cg.path for cg in made[0]] == [cg.path for cg in made[1]]
    # Every step made a child of an online cgroup, or hit a taken name.
    assert len(made[0]) <= len(shape)
    assert len({cg.path for cg in made[0]}) == len(made[0])


@given(shape=trees(max_size=6), steps=operations(ncpus=2))
@settings(max_examples=60, deadline=None)
def test_operation_sequences_replay_alike_on_both_backends(
        shape: list[tuple[int, str]], steps: list[tuple[str, int, int, int, bool]]) -> None:
    results = []
    for mc in (pymemcg, pymemcg.model):
        h = mc.Hierarchy(mc.Config.current(ncpus=2, charge_batch=8))
        cgs = [h.root] + build_tree(h, shape)
        out = h.replay(mc.ops(as_records(cgs, steps)))
        results.append(([int(x) for x in out],
                         [(cg.memory.usage, cg.stat["kernel"]) for cg in cgs]))
    assert results[0] == results[1]
