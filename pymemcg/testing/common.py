"""The pieces the machines share: edge and step counts, budgets and
settings, the runner, and the strategies for counts, limits and memparse
texts."""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import time
import types

from typing import Any, Iterable, Sequence
from hypothesis import (
    HealthCheck,
    Phase,
    settings,
    event as _hypothesis_event,
    strategies as st,
)
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import rule, run_state_machine_as_test
from .._common import PAGE_COUNTER_MAX

#: How many times each edge was reached (name -> count), over all runs since
#: the last :func:`reset_counters`.
EDGE_EVENTS: collections.Counter[str] = collections.Counter()
#: Rule executions: ``STEP_COUNT["total"]`` and one entry per rule name.
STEP_COUNT: collections.Counter[str] = collections.Counter()

# Edge names.  REQUIRED_EDGES are the ones a long enough run must reach.
FAIL_AT_ANCESTOR = "fail at ancestor"
UNDERFLOW_CLAMP = "underflow clamp"
SET_MAX_EBUSY = "set_max EBUSY"
EP_OVERCOMMITTED = "effective protection overcommitted"
EP_RECURSIVE = "effective protection recursive"
WATERMARK_LEFT_BEHIND = "watermark left behind by failed charge"
CHARGE_TO_MAX = "charge exactly to max"
FORCED_OVER_MAX = "forced over max"

REQUIRED_EDGES: tuple[str, ...] = (
    FAIL_AT_ANCESTOR,
    UNDERFLOW_CLAMP,
    SET_MAX_EBUSY,
    EP_OVERCOMMITTED,
    EP_RECURSIVE,
    WATERMARK_LEFT_BEHIND,
    CHARGE_TO_MAX,
    FORCED_OVER_MAX,
)

#: The fields of :class:`pymemcg.PageCounterState`, compared exactly.
FIELDS: tuple[str, ...] = (
    "usage",
    "max",
    "min",
    "low",
    "high",
    "watermark",
    "local_watermark",
    "failcnt",
    "min_usage",
    "low_usage",
    "children_min_usage",
    "children_low_usage",
    "emin",
    "elow",
)

#: A usage this large is negative as the kernel's signed long: cancel clamps it.
_LONG_MIN_AS_U64 = 2**63


def record_edge(name: str) -> None:
    """Count one visit of edge ``name`` and report it to Hypothesis."""
    EDGE_EVENTS[name] += 1
    try:
        _hypothesis_event(name)
    except InvalidArgument:  # called outside a Hypothesis test
        pass


def reset_counters() -> None:
    """Forget :data:`EDGE_EVENTS` and :data:`STEP_COUNT`."""
    EDGE_EVENTS.clear()
    STEP_COUNT.clear()


def step_budget(env_var: str, ci_steps: int, dev_steps: int) -> int:
    """Rule executions a machine test should run: ``env_var`` if set, else
    ``ci_steps`` in CI (``CI`` set, or ``HYPOTHESIS_PROFILE=ci``), else
    ``dev_steps``."""
    env = os.environ.get(env_var)
    if env:
        return int(env)
    ci = bool(os.environ.get("CI")) or os.environ.get("HYPOTHESIS_PROFILE") == "ci"
    return ci_steps if ci else dev_steps


#: The health checks the project's machines turn off, and why:
#: - ``too_slow``: a step may reclaim, run the OOM killer, drain every CPU or
#:   walk a 16-level chain on both backends (the model is pure Python), so an
#:   example of 60 steps takes far longer than the check allows, by design.
#: - ``data_too_large``: a 60-step example draws hundreds of choices (cgroups,
#:   CPUs, flags, sizes per step); long examples are the point of a stateful
#:   machine, not a sign of a runaway strategy.
#: The others stay on: ``filter_too_much`` (the rules draw from explicit pools
#: and never filter) and ``differing_executors``/``function_scoped_fixture``
#: would each point at a real mistake.
_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large]


def machine_settings(max_examples: int, steps_per_example: int, **kwargs: Any) -> settings:
    """Settings for one run of a comparison machine: the loaded profile with
    ``max_examples`` examples of up to ``steps_per_example`` rules, no
    deadline, no health checks.  ``PYMEMCG_NO_SHRINK=1`` reports the first
    failure unshrunk (a long example shrinks slowly)."""
    if os.environ.get("PYMEMCG_NO_SHRINK") and "phases" not in kwargs:
        kwargs["phases"] = (Phase.explicit, Phase.reuse, Phase.generate)
    return settings(
        settings.default,
        max_examples=max_examples,
        stateful_step_count=steps_per_example,
        deadline=None,
        derandomize=False,
        suppress_health_check=_SUPPRESSED,
        **kwargs,
    )


@dataclasses.dataclass
class MachineRun:
    """What :func:`run_machine` did: steps, Hypothesis runs, seconds, rule
    and edge counts, and the required edges missing at the budget and at
    the end."""

    budget: int
    steps: int
    runs: int
    seconds: float
    rules: dict[str, int]
    edges: dict[str, int]
    missing_at_budget: list[str]
    missing: list[str]

    def report(self, label: str, required: Iterable[str]) -> list[str]:
        """Lines for a test report: the totals, then every edge's count (the
        required ones included when never reached)."""
        lines = [
            f"{label}: {self.steps} steps in {self.runs} run(s), {self.seconds:.1f} s, "
            f"budget {self.budget}"
        ]
        if self.missing_at_budget:
            lines.append(f"  (steps past the budget looked for: {', '.join(self.missing_at_budget)})")
        lines += [f"  edge {name!r}: {count}" for name, count in self.edges.items()]
        lines += [f"  edge {name!r}: 0" for name in required if name not in self.edges]
        return lines


def run_machine(
    machine: type,
    budget: int,
    required: Sequence[str],
    *,
    steps_per_example: int,
    examples_per_run: int,
    mean_fill: float = 0.75,
) -> MachineRun:
    """Run ``machine`` (a comparison machine class) for ``budget`` rule
    executions, in runs of at most ``examples_per_run`` examples, each with a
    fresh seed (Hypothesis keeps every example of a run in memory).  An
    example runs ``mean_fill * steps_per_example`` rules on average.  If a
    ``required`` edge was not reached, up to four more budgets are spent
    looking for it: a small budget can miss a rare edge by bad luck.
    Resets :data:`EDGE_EVENTS` and :data:`STEP_COUNT` first."""
    reset_counters()
    started = time.perf_counter()
    runs = 0

    def run_until(target: int) -> None:
        nonlocal runs
        # The cap on runs only stops a loop that makes no progress.
        max_runs = runs + 10 + 4 * math.ceil(target / (examples_per_run * steps_per_example))
        while STEP_COUNT["total"] < target and runs < max_runs:
            examples = math.ceil((target - STEP_COUNT["total"]) / (mean_fill * steps_per_example))
            n = min(examples_per_run, max(10, examples))
            run_state_machine_as_test(_run_seeded(machine, runs),
                                      settings=machine_settings(n, steps_per_example))
            runs += 1

    def missing() -> list[str]:
        return [name for name in required if EDGE_EVENTS[name] == 0]

    run_until(budget)
    missing_at_budget = missing()
    while missing() and STEP_COUNT["total"] < 5 * budget:
        run_until(min(5 * budget, STEP_COUNT["total"] + max(budget // 4, 500)))
    return MachineRun(
        budget=budget,
        steps=STEP_COUNT["total"],
        runs=runs,
        seconds=round(time.perf_counter() - started, 2),
        rules={k: v for k, v in sorted(STEP_COUNT.items()) if k != "total"},
        edges=dict(sorted(EDGE_EVENTS.items())),
        missing_at_budget=missing_at_budget,
        missing=missing(),
    )


def _run_seeded(machine: type, run: int) -> type:
    """``machine`` itself, unless a seed is forced (``pytest --hypothesis-seed``):
    then a subclass seeded from that seed and the run's number.  A forced
    seed would otherwise give every run the same examples (Hypothesis also
    turns its database off then), and the search for missing edges would
    repeat the same steps forever."""
    import hypothesis.core

    forced = getattr(hypothesis.core, "global_force_seed", None)
    if forced is None:
        return machine
    seeded = type(machine.__name__, (machine,), {"__module__": machine.__module__})
    return hypothesis.seed(hash((forced, run)) & 0xFFFFFFFF)(seeded)


def replaced(module: types.ModuleType, name: str, **attrs: Any) -> types.ModuleType:
    """A copy of backend ``module`` (say pymemcg.model) named ``name`` with
    some attributes replaced: to plant a bug and check that a machine
    catches it."""
    copy = types.ModuleType(name)
    copy.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    copy.__dict__.update(attrs)
    return copy


# --------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------

_NEAR_PAGE_COUNTER_MAX: tuple[int, ...] = (
    PAGE_COUNTER_MAX,
    PAGE_COUNTER_MAX - 1,
    PAGE_COUNTER_MAX - 2,
    PAGE_COUNTER_MAX // 2,
    PAGE_COUNTER_MAX // 2 + 1,
    PAGE_COUNTER_MAX // 2 - 1,
    PAGE_COUNTER_MAX - 511,
    2**32 - 1,
    2**32,
)


def _clamp_count(value: int) -> int:
    return min(max(value, 0), PAGE_COUNTER_MAX)


def page_counts(limit: int | Iterable[int] | None = None) -> st.SearchStrategy[int]:
    """Valid page counts (``0..PAGE_COUNTER_MAX``) that find the edges.

    A mixture of 0, 1, small counts, counts near ``PAGE_COUNTER_MAX``
    (itself, minus one, half of it ...) and any count.  ``limit`` (one count
    or several: a max, a usage, the headroom ``max - usage`` ...) adds each
    given value and its neighbours ``value - 2 .. value + 2``, clamped into
    range, with a high weight.
    """
    if limit is None:
        limits: tuple[int, ...] = ()
    elif isinstance(limit, int):
        limits = (limit,)
    else:
        limits = tuple(limit)
    limits = tuple(sorted({_clamp_count(v) for v in limits}))
    small = st.integers(0, 16)
    parts: list[st.SearchStrategy[int]] = [
        st.just(0),
        st.just(1),
        small,
        small,
        st.integers(0, 256),
        st.sampled_from(_NEAR_PAGE_COUNTER_MAX),
        st.integers(0, PAGE_COUNTER_MAX),
    ]
    if limits:
        exact = st.sampled_from(limits)
        near = st.tuples(exact, st.integers(-2, 2)).map(lambda t: _clamp_count(t[0] + t[1]))
        parts += [exact, exact, near, near, near]
    return st.one_of(parts)


def counter_limits() -> st.SearchStrategy[int]:
    """Values for ``max``: mostly small (0..20, so that charges fail often),
    sometimes ``PAGE_COUNTER_MAX`` (the default) or anything."""
    small = st.integers(0, 20)
    return st.one_of(
        small,
        small,
        small,
        small,
        st.just(PAGE_COUNTER_MAX),
        st.just(PAGE_COUNTER_MAX),
        st.sampled_from(_NEAR_PAGE_COUNTER_MAX),
        st.integers(0, PAGE_COUNTER_MAX),
    )


_SPECIAL_MEMPARSE_TEXTS = (
    "",
    "0",
    "1",
    "8K",
    "0x1000",
    "0X1000",
    "010M",
    "0x",
    "0X",
    "0xg",
    "08",
    "09K",
    "1e",
    "0x1e",
    "1e6",
    "16E",
    "1KB",
    "1kb",
    "12 M",
    " 12M",
    "12M ",
    "1.5G",
    "-2",
    "+2",
    "K",
    "k",
    "max",
    "MAX",
    "9223372036854771712",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999",
    "0xffffffffffffffff",
    "0x10000000000000000",
    "8589934591P",
    "4G\x00junk",
    "\x00",
    "1\n",
    "1\x00",
    "١",  # a non-ASCII digit
    "5é",
)


def memparse_texts() -> st.SearchStrategy[str]:
    """Kernel size strings (``memparse`` / ``page_counter_memparse`` input),
    valid and invalid: decimal, octal and hex numbers of any size (values
    wrap mod 2**64), each suffix K M G T P E in either case, trailing junk
    (``B``, spaces, ``.5``, a second suffix, a NUL and what follows it),
    leading signs and spaces, non-ASCII text, and the kernel's own examples.
    """
    big = st.one_of(st.integers(0, 4096), st.integers(0, 2**66))
    number = st.one_of(
        big.map(str),
        big.map(lambda v: "0x%x" % v),
        big.map(lambda v: "0X%X" % v),
        big.map(lambda v: "0%o" % v),
        st.just(""),
        st.text("0123456789abcdefABCDEFxX", max_size=6),
    )
    suffix = st.sampled_from(
        ("", "", "", "", "k", "K", "m", "M", "g", "G", "t", "T", "p", "P", "e", "E")
    )
    junk = st.sampled_from(
        (
            "",
            "",
            "",
            "",
            "",
            "",
            "B",
            "iB",
            " ",
            "\n",
            ".5",
            "x",
            "-",
            "K",
            "0x",
            "\x00",
            "\x00junk",
            "é",
        )
    )
    prefix = st.sampled_from(("", "", "", "", "", "-", "+", " ", "\t"))
    composed = st.builds(lambda p, n, s, j: p + n + s + j, prefix, number, suffix, junk)
    return st.one_of(
        composed,
        composed,
        composed,
        st.sampled_from(_SPECIAL_MEMPARSE_TEXTS),
        st.text(max_size=8),
    )

def _show(outcome: tuple[Any, ...]) -> str:
    if outcome[0] == "raised":
        return f"raised {outcome[1].__name__} {outcome[2]!r}"
    return f"returned {outcome[1]!r}"
