"""The C core against the pure-Python oracle, step by step (pymemcg.testing).

``test_c_core_matches_model`` runs :class:`pymemcg.testing.PageCounterComparison`
for a budget of rule executions: ``PYMEMCG_MACHINE_STEPS`` if set, else 5000
in CI (``CI`` set or ``HYPOTHESIS_PROFILE=ci``) and 3000 otherwise.  It reports
the step count and how often each edge was reached (in the "pymemcg report"
section of pytest's summary, shown even under capture: the edges with -v or
PYMEMCG_EDGES=1; also stored in the
pytest cache under ``pymemcg/page_counter_machine``), and fails if a required edge
(``pymemcg.testing.REQUIRED_EDGES``) was never reached, after up to four more
budgets spent looking for the missing ones.

``test_machine_catches_a_forgotten_failcnt`` shows the machine can fail: a
model whose try_charge forgets to count failures must be caught.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis.stateful import run_state_machine_as_test

import pymemcg
import pymemcg.model
from pymemcg import testing

STEPS_PER_EXAMPLE = 50
#: Examples per run_state_machine_as_test call: Hypothesis keeps every
#: example's choices for the length of a run (about 5 kB a step), so a large
#: budget is spent in several runs, each with a fresh seed.
EXAMPLES_PER_RUN = 250


def test_c_core_matches_model(request: pytest.FixtureRequest, report: Any) -> None:
    budget = testing.step_budget("PYMEMCG_MACHINE_STEPS", ci_steps=5000, dev_steps=3000)
    run = testing.run_machine(
        testing.make_comparison_machine(pymemcg, pymemcg.model),
        budget,
        testing.REQUIRED_EDGES,
        steps_per_example=STEPS_PER_EXAMPLE,
        examples_per_run=EXAMPLES_PER_RUN,
    )
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    if cache is not None:
        cache.set("pymemcg/page_counter_machine", dataclasses.asdict(run))
    for line in run.report("page-counter machine (C vs model)", testing.REQUIRED_EDGES):
        report(line)

    assert run.steps >= budget, f"only {run.steps} of {budget} steps ran"
    assert not run.missing, f"edges never reached in {run.steps} steps: {run.missing}"


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

    return testing.replaced(pymemcg.model, "forgetful_model", PageCounter=ForgetfulPageCounter)


def test_machine_catches_a_forgotten_failcnt() -> None:
    machine = testing.make_comparison_machine(_forgetful_model(), pymemcg.model)
    with pytest.raises(AssertionError, match="failcnt"):
        # No shrinking: only that it fails matters here, and fast.
        run_state_machine_as_test(
            machine,
            settings=testing.machine_settings(
                100, STEPS_PER_EXAMPLE, database=None, phases=(Phase.generate,)
            ),
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
