"""One test suite, two backends (the python-zstandard pattern).

A test that takes the ``backend`` fixture runs once against the C-backed
API (``pymemcg``) and once against the pure-Python oracle
(``pymemcg.model``).  Both modules export the same names: PageCounter,
memparse, page_counter_memparse, PAGE_SIZE, PAGE_COUNTER_MAX and the error
classes (shared, so ``pytest.raises(pymemcg.BusyError)`` works for both).
"""

from __future__ import annotations

import os
import types
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, settings

import pymemcg
import pymemcg.model

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(params=["c", "model"])
def backend(request: pytest.FixtureRequest) -> types.ModuleType:
    """The module under test: ``pymemcg`` (C core) or ``pymemcg.model``."""
    return pymemcg if request.param == "c" else pymemcg.model


_REPORT: list[str] = []


@pytest.fixture
def report() -> "Callable[[str], None]":
    """Lines a test wants in the closing summary (shown even under capture),
    e.g. the state machine's step and edge counts that CI logs must show."""
    return _REPORT.append


def pytest_sessionfinish(session: Any) -> None:
    """Under pytest-xdist a worker hands its report lines to the controller."""
    out = getattr(session.config, "workeroutput", None)
    if out is not None:
        out["pymemcg_report"] = list(_REPORT)


def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller collects each worker's report lines (pytest-xdist)."""
    _REPORT.extend(getattr(node, "workeroutput", {}).get("pymemcg_report", []))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The report, quiet by default: the totals; every edge's count with
    ``-v`` or ``PYMEMCG_EDGES=1`` (a missing required edge fails its test
    anyway, and the counts are kept in the pytest cache)."""
    if not _REPORT:
        return
    full = terminalreporter.config.getoption("verbose") > 0 or os.environ.get("PYMEMCG_EDGES")
    terminalreporter.section("pymemcg report")
    hidden = 0
    for line in _REPORT:
        if not full and line.startswith("  edge "):
            hidden += 1
            continue
        terminalreporter.write_line(line)
    if hidden:
        terminalreporter.write_line(f"({hidden} edge counts not shown: -v or PYMEMCG_EDGES=1 shows them)")
