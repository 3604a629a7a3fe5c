"""Hypothesis strategies and a differential state machine for page counters.

For people property-testing accounting semantics: the strategies generate the
inputs that find the kernel's edges (page counts at 0, at a limit, at
``PAGE_COUNTER_MAX``; size strings that ``memparse`` accepts or refuses), and
:class:`PageCounterComparison` drives two backends (by default the C core,
:mod:`pymemcg`, against the pure-Python oracle, :mod:`pymemcg.model`) through
the same random steps on the same random trees of counters, asserting after
every step that they agree field by field and that the kernel's invariants
hold::

    from hypothesis import settings
    from hypothesis.stateful import run_state_machine_as_test
    import pymemcg, pymemcg.model
    from pymemcg.testing import make_comparison_machine

    Machine = make_comparison_machine(pymemcg, pymemcg.model)
    run_state_machine_as_test(Machine, settings=settings(max_examples=200))

    # or, under pytest:
    TestCounters = make_comparison_machine(pymemcg, pymemcg.model).TestCase

:class:`HierarchyComparison` does the same for whole cgroup trees
(:func:`make_hierarchy_machine`): random presets and CPUs, create and remove,
charge and uncharge (stocks, retries, forced charges, reclaim hooks that are
honest, lie, raise or meddle), drains, limits and resets through the
primitives and through the interface files, memory.peak handles, replay
batches, and tasks (fork, fault, unmap, move, exit, the memcg OOM killer with
memory.oom.group and v1 oom_control, v1 kmem limits), checking both backends
against each other and the kernel's invariants against a ledger of what was
charged.

Every edge the machine reaches is reported with :func:`hypothesis.event` (see
``pytest --hypothesis-show-statistics``) and counted in :data:`EDGE_EVENTS`;
every rule execution is counted in :data:`STEP_COUNT` (key ``"total"`` and one
key per rule), so a test can assert that a run really covered the edges.

Requires Hypothesis (``pip install hypothesis``); the rest of pymemcg does not.
"""


from __future__ import annotations

from .common import (
    EDGE_EVENTS,
    STEP_COUNT,
    REQUIRED_EDGES,
    FIELDS,
    page_counts,
    counter_limits,
    memparse_texts,
    record_edge,
    reset_counters,
    MachineRun,
    machine_settings,
    run_machine,
    step_budget,
    replaced,
)
from .page_counter import (
    PageCounterComparison,
    make_comparison_machine,
)
from .hierarchy import (
    HIERARCHY_REQUIRED_EDGES,
    ReclaimHookError,
    HierarchyComparison,
    make_hierarchy_machine,
    trees,
    build_tree,
    operations,
    as_records,
)
from .machine import (
    MemcgStateMachine,
    MACHINE_SETTINGS,
    configs,
)

__all__ = [
    "EDGE_EVENTS",
    "STEP_COUNT",
    "REQUIRED_EDGES",
    "FIELDS",
    "page_counts",
    "counter_limits",
    "memparse_texts",
    "record_edge",
    "reset_counters",
    "PageCounterComparison",
    "make_comparison_machine",
    "HIERARCHY_REQUIRED_EDGES",
    "ReclaimHookError",
    "HierarchyComparison",
    "make_hierarchy_machine",
    "MachineRun",
    "machine_settings",
    "run_machine",
    "step_budget",
    "replaced",
    "MemcgStateMachine",
    "MACHINE_SETTINGS",
    "configs",
    "trees",
    "build_tree",
    "operations",
    "as_records",
]
