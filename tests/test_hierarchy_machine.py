"""The C cgroup tree against the pure-Python oracle, step by step
(pymemcg.testing.HierarchyComparison).

``test_c_hierarchy_matches_model`` runs the machine for a budget of rule
executions: ``PYMEMCG_HIERARCHY_STEPS`` if set, else 8000 in CI (``CI`` set
or ``HYPOTHESIS_PROFILE=ci``) and 1500 otherwise.  It reports the step count
and how often each edge was reached (in the "pymemcg report" section of
pytest's summary; also stored in the pytest cache under
``pymemcg/hierarchy_machine``) and fails if a required edge
(``pymemcg.testing.HIERARCHY_REQUIRED_EDGES``) was never reached, after up to
four more budgets spent looking for the missing ones.

``test_machine_catches_local_only_events`` shows the machine can fail: a
model that forgets to raise memory.events in the ancestors (v2) must be
caught.
"""

from __future__ import annotations

import math
import os
import time
import types
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

import pymemcg
import pymemcg.model
from pymemcg import testing

STEPS_PER_EXAMPLE = 60
#: Examples per run_state_machine_as_test call (a large budget is spent in
#: several runs, each with a fresh seed).
EXAMPLES_PER_RUN = 100


def _budget() -> int:
    env = os.environ.get("PYMEMCG_HIERARCHY_STEPS")
    if env:
        return int(env)
    ci = bool(os.environ.get("CI")) or os.environ.get("HYPOTHESIS_PROFILE") == "ci"
    return 8000 if ci else 1500


def _machine_settings(max_examples: int, **kwargs: Any) -> settings:
    if os.environ.get("PYMEMCG_NO_SHRINK") and "phases" not in kwargs:
        # Report the first failure as found (a long example shrinks slowly).
        kwargs["phases"] = (Phase.explicit, Phase.reuse, Phase.generate)
    return settings(
        settings.default,
        max_examples=max_examples,
        stateful_step_count=STEPS_PER_EXAMPLE,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        **kwargs,
    )


def test_c_hierarchy_matches_model(request: pytest.FixtureRequest, report: Any) -> None:
    budget = _budget()
    testing.reset_counters()
    machine = testing.make_hierarchy_machine(pymemcg, pymemcg.model)
    started = time.perf_counter()
    runs = 0

    def run_until(target: int) -> None:
        nonlocal runs
        max_runs = runs + 10 + 4 * math.ceil(target / (EXAMPLES_PER_RUN * STEPS_PER_EXAMPLE))
        while testing.STEP_COUNT["total"] < target and runs < max_runs:
            missing = target - testing.STEP_COUNT["total"]
            examples = math.ceil(missing / (0.6 * STEPS_PER_EXAMPLE))
            run_state_machine_as_test(
                machine, settings=_machine_settings(min(EXAMPLES_PER_RUN, max(10, examples)))
            )
            runs += 1

    def missing_edges() -> list[str]:
        return [n for n in testing.HIERARCHY_REQUIRED_EDGES if testing.EDGE_EVENTS[n] == 0]

    run_until(budget)
    missing_at_budget = missing_edges()
    extra_until = 5 * budget
    while missing_edges() and testing.STEP_COUNT["total"] < extra_until:
        run_until(min(extra_until, testing.STEP_COUNT["total"] + max(budget // 4, 500)))
    elapsed = time.perf_counter() - started

    steps = testing.STEP_COUNT["total"]
    summary = {
        "budget": budget,
        "steps": steps,
        "runs": runs,
        "seconds": round(elapsed, 2),
        "rules": {k: v for k, v in sorted(testing.STEP_COUNT.items()) if k != "total"},
        "edges": dict(sorted(testing.EDGE_EVENTS.items())),
    }
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        cache.set("pymemcg/hierarchy_machine", summary)
    lines = [
        f"hierarchy machine (C vs model): {steps} steps in {runs} run(s), "
        f"{elapsed:.1f} s, budget {budget}"
    ]
    if missing_at_budget:
        lines.append(f"  (steps past the budget looked for: {', '.join(missing_at_budget)})")
    lines += [f"  edge {name!r}: {count}" for name, count in summary["edges"].items()]
    for name in testing.HIERARCHY_REQUIRED_EDGES:
        if name not in summary["edges"]:
            lines.append(f"  edge {name!r}: 0")
    for line in lines:
        report(line)

    assert steps >= budget, f"only {steps} of {budget} steps ran"
    assert not missing_edges(), f"edges never reached in {steps} steps: {missing_edges()}"


def _local_events_model() -> types.ModuleType:
    """pymemcg.model, except that memory.events counts an event in the
    cgroup where it happened only: the v2 hierarchical propagation (SPEC 2.6)
    is forgotten."""

    class LocalEventsHierarchy(pymemcg.model.Hierarchy):
        def _memcg_memory_event(self, memcg: Any, name: str) -> None:
            memcg._events_local[name] += 1
            memcg._events[name] += 1  # the planted bug: no walk up the tree

    buggy = types.ModuleType("local_events_model")
    buggy.__dict__.update(
        {k: v for k, v in vars(pymemcg.model).items() if not k.startswith("__")}
    )
    buggy.Hierarchy = LocalEventsHierarchy  # type: ignore[attr-defined]
    return buggy


def test_machine_catches_local_only_events() -> None:
    """The machine fails when one backend forgets to raise memory.events in
    the ancestors (stopping at the first failure, unshrunk)."""
    machine = testing.make_hierarchy_machine(_local_events_model(), pymemcg.model)
    with pytest.raises(AssertionError) as info:
        run_state_machine_as_test(
            machine, settings=_machine_settings(500, database=None, phases=(Phase.generate,))
        )
    assert "events" in str(info.value), str(info.value)[:2000]
