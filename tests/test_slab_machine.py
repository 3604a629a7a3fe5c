"""Slab accounting, the C core against the pure-Python oracle, step by step
(pymemcg.testing.slab.SlabComparison).

``test_c_slab_matches_model`` runs the machine for a budget of rule
executions: ``PYMEMCG_SLAB_STEPS`` if set, else 2000 in CI (``CI`` set or
``HYPOTHESIS_PROFILE=ci``) and 1500 otherwise, over every slab mode (clone
with and without 5.3's reparenting, on v2, a 4.x v1 and the 3.8 preset;
objcg on v2 and v1; none).  It reports the steps and edge counts in the
"pymemcg report" and fails if a required edge was never reached.

The planted-bug tests show that the machine fails when the oracle is
wrong: an object stock that gives pages back at exactly a page (the kernel
waits for more than a page, SPEC 2.8), and a dying clone that keeps its
empty slabs (the kernel sets its min_partial to 0 at deactivation).
"""

from __future__ import annotations

import types
from typing import Any

import pytest
from hypothesis import Phase
from hypothesis.stateful import run_state_machine_as_test

import pymemcg
import pymemcg.model
from pymemcg import testing
from pymemcg.model import slab as model_slab
from pymemcg.testing import slab as tslab

STEPS_PER_EXAMPLE = 60
EXAMPLES_PER_RUN = 60


def test_c_slab_matches_model(report: Any) -> None:
    budget = testing.step_budget("PYMEMCG_SLAB_STEPS", ci_steps=2000, dev_steps=1500)
    run = testing.run_machine(
        tslab.make_slab_machine(pymemcg, pymemcg.model),
        budget,
        tslab.SLAB_REQUIRED_EDGES,
        steps_per_example=STEPS_PER_EXAMPLE,
        examples_per_run=EXAMPLES_PER_RUN,
    )
    for line in run.report("slab machine (C vs model)", tslab.SLAB_REQUIRED_EDGES):
        report(line)
    assert run.steps >= budget, f"only {run.steps} of {budget} steps ran"
    assert not run.missing, f"edges never reached in {run.steps} steps: {run.missing}"


def _planted(state_cls: type) -> types.ModuleType:
    """pymemcg.model with its hierarchies' slab state made by ``state_cls``."""

    class PlantedHierarchy(pymemcg.model.Hierarchy):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._slab = state_cls(self)

    return testing.replaced(pymemcg.model, "planted_slab_model", Hierarchy=PlantedHierarchy)


class _UnchargeAtAPage(model_slab.SlabState):
    """refill_obj_stock gives whole pages back at >= PAGE_SIZE (not > PAGE_SIZE)."""

    def _refill_obj_stock(self, x: Any, nr_bytes: int, allow_uncharge: bool, nr_acct: int,
                          idx: int, cpu: int) -> None:
        super()._refill_obj_stock(x, nr_bytes, allow_uncharge, nr_acct, idx, cpu)
        stock = self.stocks[cpu]
        if allow_uncharge and stock.nr_bytes == pymemcg.PAGE_SIZE:
            stock.nr_bytes = 0
            self.h._uncharge(x, 1, cpu, True, None)


class _DyingKeepsEmpties(model_slab.SlabState):
    """A dying clone keeps its empty slabs (min_partial not lowered to 0)."""

    def _clone_offline(self, cg: Any) -> None:
        keep = {c: list(c._empty) for r in self.roots for c in r._clones if c._memcg is cg}
        for c in keep:
            c._empty = []
        super()._clone_offline(cg)
        for c, empties in keep.items():
            if c._alive:
                c._empty = empties
                c._min_partial_now = c._min_partial


@pytest.mark.parametrize("state_cls, words", [
    (_UnchargeAtAPage, ("usage", "stock", "kernel", "objcg")),
    (_DyingKeepsEmpties, ("slabinfo", "pinning", "usage", "kernel", "status", "dying")),
])
def test_machine_catches_a_planted_bug(state_cls: type, words: tuple[str, ...]) -> None:
    machine = tslab.make_slab_machine(pymemcg, _planted(state_cls))
    with pytest.raises(AssertionError) as info:
        run_state_machine_as_test(
            machine,
            settings=testing.machine_settings(
                1000, STEPS_PER_EXAMPLE, database=None, phases=(Phase.generate,)
            ),
        )
    assert any(w in str(info.value) for w in words), str(info.value)[:2000]
