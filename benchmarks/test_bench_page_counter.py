"""pytest-benchmark versions of the Python-level pair benchmarks.

    .venv/bin/python -m pytest benchmarks/ --benchmark-only

Not collected by `make test` (pyproject's testpaths is tests/).  Each test
times one call of a loop of PAIRS `try_charge(1)` + `uncharge(1)` pairs;
pytest-benchmark's figures are per loop, ``extra_info`` has them per pair:

  ns_per_pair       median of the benchmark's rounds / PAIRS
  floor_ns_per_pair the FLOOR of this session: the same two calls made bare
                    through CFFI to empty C functions (median of 7 runs of
                    FLOOR_PAIRS pairs, time.perf_counter_ns, measured once
                    per module before any test)
  ratio_to_floor    ns_per_pair / floor_ns_per_pair (target <= 1.5 for
                    pymemcg; it is 1 for the floor by construction, near 1
                    for the floor as timed by pytest-benchmark)

Ratios never gate anything: the tests only check that every pair was
uncharged.  Run with --benchmark-disable to use them as smoke tests.
"""

from __future__ import annotations

import gc
import itertools
import statistics
import time
from typing import Any, Callable

import pytest

import pymemcg
import pymemcg.model
from pymemcg._core import lib

PAIRS = 1000            # pairs per benchmarked call
FLOOR_PAIRS = 100_000   # pairs per run of the session floor
FLOOR_REPEATS = 7
TARGET = 1.5
DEPTHS = (1, 4)


def _chain(cls: Any, depth: int) -> list[Any]:
    counters = [cls()]
    for _ in range(depth - 1):
        counters.append(cls(parent=counters[-1]))
    return counters


def _api_loop(pc: Any) -> Callable[[int], None]:
    def loop(n: int) -> None:
        for _ in itertools.repeat(None, n):
            pc.try_charge(1)
            pc.uncharge(1)

    return loop


def _floor_loop(pc: Any) -> Callable[[int], None]:
    def loop(n: int) -> None:
        try_charge = lib.pmc_bench_nop_try_charge
        uncharge = lib.pmc_bench_nop_uncharge
        h = pc._h
        for _ in itertools.repeat(None, n):
            try_charge(h, 1)
            uncharge(h, 1)

    return loop


@pytest.fixture(scope="module")
def floor_ns() -> float:
    """ns per bare CFFI pair, measured once, before the benchmarks."""
    pc = pymemcg.PageCounter()
    loop = _floor_loop(pc)
    loop(FLOOR_PAIRS // 10)  # warm-up
    samples = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(FLOOR_REPEATS):
            t0 = time.perf_counter_ns()
            loop(FLOOR_PAIRS)
            samples.append((time.perf_counter_ns() - t0) / FLOOR_PAIRS)
    finally:
        if enabled:
            gc.enable()
    return statistics.median(samples)


def _record(benchmark: Any, floor: float, **info: Any) -> None:
    benchmark.extra_info.update(info)
    benchmark.extra_info["pairs_per_call"] = PAIRS
    benchmark.extra_info["floor_ns_per_pair"] = round(floor, 2)
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: nothing was timed
        return
    ns = stats.stats.median * 1e9 / PAIRS
    benchmark.extra_info["ns_per_pair"] = round(ns, 2)
    benchmark.extra_info["ratio_to_floor"] = round(ns / floor, 3)


def test_floor_pair(benchmark: Any, floor_ns: float) -> None:
    pc = pymemcg.PageCounter()
    benchmark.group = "pair: floor"
    benchmark(_floor_loop(pc), PAIRS)
    _record(benchmark, floor_ns, what="bare CFFI calls to empty C functions")
    assert pc.usage == 0


@pytest.mark.parametrize("depth", DEPTHS)
def test_pymemcg_pair(benchmark: Any, floor_ns: float, depth: int) -> None:
    counters = _chain(pymemcg.PageCounter, depth)
    benchmark.group = f"pair: depth {depth}"
    benchmark(_api_loop(counters[-1]), PAIRS)
    _record(benchmark, floor_ns, what="pymemcg.PageCounter", depth=depth, target=TARGET)
    assert all(c.usage == 0 for c in counters)


@pytest.mark.parametrize("depth", DEPTHS)
def test_model_pair(benchmark: Any, floor_ns: float, depth: int) -> None:
    counters = _chain(pymemcg.model.PageCounter, depth)
    benchmark.group = f"pair: depth {depth}"
    benchmark(_api_loop(counters[-1]), PAIRS)
    _record(benchmark, floor_ns, what="pymemcg.model.PageCounter", depth=depth)
    assert all(c.usage == 0 for c in counters)
