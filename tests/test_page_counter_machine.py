"""The C core against the pure-Python oracle, step by step (pymemcg.testing).

``test_c_core_matches_model`` runs :class:`pymemcg.testing.PageCounterComparison`
for a budget of rule executions: ``PYMEMCG_MACHINE_STEPS`` if set, else 20000
in CI (``CI`` set or ``HYPOTHESIS_PROFILE=ci``) and 3000 otherwise.  It reports
the step count and how often each edge was reached (in the "pymemcg report"
section of pytest's summary, shown even under capture; also stored in the
pytest cache under ``pymemcg/page_counter_machine``), and fails if a required edge
(``pymemcg.testing.REQUIRED_EDGES``) was never reached, after up to four more
budgets spent looking for the missing ones.

``test_machine_catches_a_forgotten_failcnt`` shows the machine can fail: a
model whose try_charge forgets to count failures must be caught.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import types
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.stateful import run_state_machine_as_test

import pymemcg
import pymemcg.model
from pymemcg import testing

STEPS_PER_EXAMPLE = 50
#: Examples per run_state_machine_as_test call: Hypothesis keeps every
#: example's choices for the length of a run (about 5 kB a step), so a large
#: budget is spent in several runs, each with a fresh seed.
EXAMPLES_PER_RUN = 250


def _budget() -> int:
    env = os.environ.get("PYMEMCG_MACHINE_STEPS")
    if env:
        return int(env)
    ci = bool(os.environ.get("CI")) or os.environ.get("HYPOTHESIS_PROFILE") == "ci"
    return 20000 if ci else 3000


def _machine_settings(max_examples: int, **kwargs: Any) -> settings:
    return settings(
        settings.default,
        max_examples=max_examples,
        stateful_step_count=STEPS_PER_EXAMPLE,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        **kwargs,
    )


def test_c_core_matches_model(request: pytest.FixtureRequest, report: Any) -> None:
    budget = _budget()
    testing.reset_counters()
    machine = testing.make_comparison_machine(pymemcg, pymemcg.model)
    started = time.perf_counter()
    runs = 0

    def run_until(target: int) -> None:
        nonlocal runs
        # An example runs up to STEPS_PER_EXAMPLE rules, about 40 on average;
        # the cap on runs only stops a loop that makes no progress.
        max_runs = runs + 10 + 4 * math.ceil(target / (EXAMPLES_PER_RUN * STEPS_PER_EXAMPLE))
        while testing.STEP_COUNT["total"] < target and runs < max_runs:
            missing = target - testing.STEP_COUNT["total"]
            examples = math.ceil(missing / (0.75 * STEPS_PER_EXAMPLE))
            run_state_machine_as_test(
                machine, settings=_machine_settings(min(EXAMPLES_PER_RUN, max(10, examples)))
            )
            runs += 1

    def missing_edges() -> list[str]:
        return [name for name in testing.REQUIRED_EDGES if testing.EDGE_EVENTS[name] == 0]

    run_until(budget)
    # A small budget can miss a rare edge by bad luck (examples are few and
    # Hypothesis disables random subsets of rules per example): spend up to
    # four more budgets' worth on the missing edges before calling it a failure.
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
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    if cache is not None:
        cache.set("pymemcg/page_counter_machine", summary)
    lines = [
        f"page-counter machine (C vs model): {steps} steps in {runs} run(s), "
        f"{elapsed:.1f} s, budget {budget}"
    ]
    lines += [f"  edge {name!r}: {count}" for name, count in summary["edges"].items()]
    for name in testing.REQUIRED_EDGES:
        if name not in summary["edges"]:
            lines.append(f"  edge {name!r}: 0")
    for line in lines:
        report(line)

    assert steps >= budget, f"only {steps} of {budget} steps ran"
    assert not missing_edges(), f"edges never reached in {steps} steps: {missing_edges()}"


def _forgetful_model() -> types.ModuleType:
    """pymemcg.model, except that try_charge forgets to count failures."""

    class ForgetfulPageCounter(pymemcg.model.PageCounter):
        # The model's PageCounter has __slots__; this subclass gets a __dict__.
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.forgotten = 0

        def try_charge(self, nr_pages: int) -> Any:
            fail = super().try_charge(nr_pages)
            if fail is not None and self.track_failcnt:
                fail.forgotten += 1  # the planted bug: that failcnt++ is lost
            return fail

        @property
        def failcnt(self) -> int:
            return super().failcnt - self.forgotten

        def snapshot(self) -> pymemcg.model.PageCounterState:
            state = super().snapshot()
            return dataclasses.replace(state, failcnt=state.failcnt - self.forgotten)

    forgetful = types.ModuleType("forgetful_model")
    forgetful.__dict__.update(
        {k: v for k, v in vars(pymemcg.model).items() if not k.startswith("__")}
    )
    forgetful.PageCounter = ForgetfulPageCounter  # type: ignore[attr-defined]
    return forgetful


def test_machine_catches_a_forgotten_failcnt() -> None:
    machine = testing.make_comparison_machine(_forgetful_model(), pymemcg.model)
    with pytest.raises(AssertionError, match="failcnt"):
        # No shrinking: only that it fails matters here, and fast.
        run_state_machine_as_test(
            machine, settings=_machine_settings(100, database=None, phases=(Phase.generate,))
        )


@settings(max_examples=300, deadline=None)
@given(text=testing.memparse_texts())
def test_memparse_texts_agree(text: str) -> None:
    """memparse and page_counter_memparse agree on the shipped strategy."""
    for parse in ("memparse", "page_counter_memparse"):
        outcome = []
        for backend in (pymemcg, pymemcg.model):
            try:
                outcome.append(("returned", getattr(backend, parse)(text)))
            except pymemcg.MemcgError as e:
                outcome.append(("raised", type(e)))
        assert outcome[0] == outcome[1], f"{parse}({text!r}): C {outcome[0]} != model {outcome[1]}"
