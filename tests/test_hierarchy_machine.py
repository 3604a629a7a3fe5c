"""The C cgroup tree against the pure-Python oracle, step by step
(pymemcg.testing.HierarchyComparison).

``test_c_hierarchy_matches_model`` runs the machine for a budget of rule
executions: ``PYMEMCG_HIERARCHY_STEPS`` if set, else 3000 in CI (``CI`` set
or ``HYPOTHESIS_PROFILE=ci``) and 1500 otherwise.  It reports the step count
and how often each edge was reached (in the "pymemcg report" section of
pytest's summary; also stored in the pytest cache under
``pymemcg/hierarchy_machine``) and fails if a required edge
(``pymemcg.testing.HIERARCHY_REQUIRED_EDGES``) was never reached, after up to
four more budgets spent looking for the missing ones.

``test_machine_catches_local_only_events`` shows the machine can fail: a
model that forgets to raise memory.events in the ancestors (v2) must be
caught.  ``test_machine_catches_kmem_uncharged_from_a_dying_cgroup`` does
the same for the removal semantics: a model whose dying cgroups keep their
kernel pages (no objcg reparenting, Linux 5.9+) must be caught, and
``test_machine_catches_page_tables_left_charged_at_exit`` does it for tasks:
a model whose exiting or OOM-killed tasks leave their page tables charged.

``test_machine_catches_v1_socket_bound_without_tcpmem_accounting`` does it
for sockets: a model that binds v1 sockets where tcpmem accounting is not
active.

The machine runs tasks too (fork, fault, unmap, move, exit, the memcg OOM
killer, memory.oom.group, v1 oom_control and kmem limits, Task.kmem_alloc's
selective kernel-memory accounting) and sockets (create, charge, uncharge,
close, v1 tcp limits: sock stat, tcpmem, pressure); its reclaim hook
never takes pages that a task holds (see ``HierarchyComparison``).  Cases
left out while a C/model disagreement is open are marked ``# KNOWN (bugN)``
in pymemcg/testing/hierarchy.py.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any

import pytest
from hypothesis import Phase
from hypothesis.stateful import run_state_machine_as_test

import pymemcg
import pymemcg.model
from pymemcg import testing

STEPS_PER_EXAMPLE = 60
#: Examples per run_state_machine_as_test call (a large budget is spent in
#: several runs, each with a fresh seed).
EXAMPLES_PER_RUN = 100


def test_c_hierarchy_matches_model(request: pytest.FixtureRequest, report: Any) -> None:
    budget = testing.step_budget("PYMEMCG_HIERARCHY_STEPS", ci_steps=3000, dev_steps=1500)
    run = testing.run_machine(
        testing.make_hierarchy_machine(pymemcg, pymemcg.model),
        budget,
        testing.HIERARCHY_REQUIRED_EDGES,
        steps_per_example=STEPS_PER_EXAMPLE,
        examples_per_run=EXAMPLES_PER_RUN,
        mean_fill=0.6,
    )
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        cache.set("pymemcg/hierarchy_machine", dataclasses.asdict(run))
    for line in run.report("hierarchy machine (C vs model)", testing.HIERARCHY_REQUIRED_EDGES):
        report(line)

    assert run.steps >= budget, f"only {run.steps} of {budget} steps ran"
    assert not run.missing, f"edges never reached in {run.steps} steps: {run.missing}"


#: The large-tree run: a tree of simulator size below every first tree.
LARGE_TREE = 200


def test_c_hierarchy_matches_model_on_a_large_tree(report: Any) -> None:
    """The same machine with LARGE_TREE more cgroups in every first tree
    (about 14 middle cgroups, the rest leaves below them): every rule (the
    owned-CPU bursts among them, required by the main run) and every step's
    comparison of the whole state, at a size where stocks evict all the time
    and the handles spread over many blocks."""
    budget = testing.step_budget("PYMEMCG_LARGE_TREE_STEPS", ci_steps=100, dev_steps=60)
    run = testing.run_machine(
        testing.make_hierarchy_machine(pymemcg, pymemcg.model, large=LARGE_TREE),
        budget,
        ("large tree",),
        steps_per_example=25,
        examples_per_run=10,
        mean_fill=0.6,
    )
    for line in run.report(f"hierarchy machine, {LARGE_TREE}-cgroup trees (C vs model)",
                           ("large tree",)):
        report(line)
    assert run.steps >= budget, f"only {run.steps} of {budget} steps ran"
    assert not run.missing, f"edges never reached in {run.steps} steps: {run.missing}"


def _local_events_model() -> types.ModuleType:
    """pymemcg.model, except that memory.events counts an event in the
    cgroup where it happened only: the v2 hierarchical propagation (SPEC 2.6)
    is forgotten."""

    class LocalEventsHierarchy(pymemcg.model.Hierarchy):
        def _memcg_memory_event(self, memcg: Any, name: str) -> None:
            memcg._events_local[name] += 1
            memcg._events[name] += 1  # the planted bug: no walk up the tree

    return testing.replaced(pymemcg.model, "local_events_model", Hierarchy=LocalEventsHierarchy)


def test_machine_catches_local_only_events() -> None:
    """The machine fails when one backend forgets to raise memory.events in
    the ancestors (stopping at the first failure, unshrunk)."""
    machine = testing.make_hierarchy_machine(_local_events_model(), pymemcg.model)
    with pytest.raises(AssertionError) as info:
        run_state_machine_as_test(
            machine,
            settings=testing.machine_settings(
                500, STEPS_PER_EXAMPLE, database=None, phases=(Phase.generate,)
            ),
        )
    assert "events" in str(info.value), str(info.value)[:2000]


def _dying_kmem_model() -> types.ModuleType:
    """pymemcg.model, except that with objcgs a kernel uncharge named on a
    removed cgroup (dying, or a shell) comes off the cgroup itself, as
    before Linux 5.9, instead of off its nearest online ancestor (where its
    objcg went at offline)."""

    class DyingKmemHierarchy(pymemcg.model.Hierarchy):
        def _uncharge(self, cg: Any, n: int, cpu: int, kmem: bool, clamped: Any) -> None:
            if not (kmem and self._config.objcg and not cg._online):
                return super()._uncharge(cg, n, cpu, kmem, clamped)
            cg._online = True  # the planted bug: the walk to the online ancestor stops here
            try:
                super()._uncharge(cg, n, cpu, kmem, clamped)
            finally:
                cg._online = False

    return testing.replaced(pymemcg.model, "dying_kmem_model", Hierarchy=DyingKmemHierarchy)


def test_machine_catches_kmem_uncharged_from_a_dying_cgroup() -> None:
    """The machine fails when one backend uncharges a removed cgroup's
    kernel pages from the cgroup itself on an objcg kernel (stopping at the
    first failure, unshrunk)."""
    machine = testing.make_hierarchy_machine(pymemcg, _dying_kmem_model())
    with pytest.raises(AssertionError) as info:
        run_state_machine_as_test(
            machine,
            settings=testing.machine_settings(
                500, STEPS_PER_EXAMPLE, database=None, phases=(Phase.generate,)
            ),
        )
    # A stat or counter of the cgroup or its ancestor, the uncharge itself,
    # or the dying cgroup's lifetime (h.cgroups() lists it on one side only:
    # its own counters were what the planted uncharges took down).
    assert any(w in str(info.value) for w in ("kernel", "kmem", "cgroups()")), str(info.value)[:2000]


def _exit_keeps_page_tables_model() -> types.ModuleType:
    """pymemcg.model, except that a task that exits (or is killed) leaves
    its page tables charged: do_exit()'s free_pgtables() forgotten."""

    class LeakyExitHierarchy(pymemcg.model.Hierarchy):
        def _seg_uncharge(self, seg: Any, cpu: int, kmem: bool, stat: str = "") -> None:
            if stat == "pagetables":
                return  # the planted bug: page tables stay charged
            super()._seg_uncharge(seg, cpu, kmem, stat)

    return testing.replaced(pymemcg.model, "leaky_exit_model", Hierarchy=LeakyExitHierarchy)


def test_machine_catches_page_tables_left_charged_at_exit() -> None:
    """The machine fails when one backend's exiting (or OOM-killed) tasks
    leave their page tables charged (stopping at the first failure,
    unshrunk)."""
    machine = testing.make_hierarchy_machine(pymemcg, _exit_keeps_page_tables_model())
    with pytest.raises(AssertionError) as info:
        run_state_machine_as_test(
            machine,
            settings=testing.machine_settings(
                500, STEPS_PER_EXAMPLE, database=None, phases=(Phase.generate,)
            ),
        )
    # The cgroup's page-table or kernel statistics (also as a killed task's
    # charge left them), or its counters.
    assert any(w in str(info.value) for w in ("pagetables", "kernel", "kmem", "usage", "stat")), (
        str(info.value)[:2000]
    )



def _v1_always_binds_model() -> types.ModuleType:
    """pymemcg.model, except that a v1 socket is bound (and charges tcpmem)
    whether or not socket accounting is active in its cgroup:
    mem_cgroup_sk_alloc()'s memcg1_tcpmem_active() check forgotten."""

    class AlwaysBindsHierarchy(pymemcg.model.Hierarchy):
        def _sock_create(self, cg: Any) -> Any:
            was = cg._tcpmem_active
            cg._tcpmem_active = True  # the planted bug: the check passes
            try:
                return super()._sock_create(cg)
            finally:
                cg._tcpmem_active = was

    return testing.replaced(pymemcg.model, "v1_always_binds_model", Hierarchy=AlwaysBindsHierarchy)


def test_machine_catches_v1_socket_bound_without_tcpmem_accounting() -> None:
    """The machine fails when one backend binds a v1 socket in a cgroup
    where tcpmem accounting is not active (stopping at the first failure,
    unshrunk)."""
    machine = testing.make_hierarchy_machine(pymemcg, _v1_always_binds_model())
    with pytest.raises(AssertionError) as info:
        run_state_machine_as_test(
            machine,
            settings=testing.machine_settings(
                500, STEPS_PER_EXAMPLE, database=None, phases=(Phase.generate,)
            ),
        )
    assert any(w in str(info.value) for w in ("bound", "sock", "tcpmem")), str(info.value)[:2000]
