#!/usr/bin/env python3
"""Microbenchmarks of the page counter, as ratios to baselines of the same run.

    python benchmarks/bench_page_counter.py [--quick] [--repeats N] [--json PATH]

Every figure is the MEDIAN of N repeats (default 7, 3 with --quick) of one
timed run, and every ratio divides two medians measured in this run on this
machine.  Absolute nanoseconds are printed for reading, not for comparing
across machines.  Nothing here gates CI: the exit status is 0 whatever the
ratios are (non-zero only if a benchmark itself fails).

Sections:
  baseline  ns of one bare relaxed atomic_fetch_add on a private cache line
            (C loop, csrc/bench.c: pmc_bench_atomic_add).
  C         ns of one page_counter_try_charge(1) + page_counter_uncharge(1)
            pair at depth 1, 2, 4, 8 on one thread (C loop), against 2*depth
            baseline adds: one add per level for the charge, one for the
            uncharge.  Target <= 1.25.
  threads   two threads charging the same leaf, or each its own leaf below
            a shared parent chain: ns per pair per thread, total throughput,
            and throughput relative to one thread at the same depth.
  Python    ns of one `pc.try_charge(1); pc.uncharge(1)` pair through
            pymemcg.PageCounter, against the FLOOR (the same two calls made
            bare through CFFI to empty C functions of the same signatures,
            bound to locals: the least any binding can cost) with target
            <= 1.5, and against the pure-Python model pymemcg.model.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable

try:
    import pymemcg
except ImportError:  # run from a checkout without an install
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import pymemcg

import pymemcg.model
from pymemcg._core import ffi, lib

try:
    import rich.console
    import rich.table

    HAVE_RICH = True
except ImportError:  # pragma: no cover - plain text fallback
    HAVE_RICH = False

C_TARGET = 1.25
PY_TARGET = 1.5
C_DEPTHS = (1, 2, 4, 8)
THREAD_DEPTHS = (2, 4)
PY_DEPTHS = (1, 4)
RULE = ("median of {n} repeats, taken round-robin across the runs of a table; "
        "every ratio divides medians measured in this run")


# -- machine -----------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    """CPU model, CPU counts, Python and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    try:
        import cffi

        cffi_version = cffi.__version__
    except ImportError:  # pragma: no cover
        cffi_version = "?"
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            loadavg = " ".join(f.read().split()[:3])
    except OSError:
        loadavg = "?"
    return {
        "cpu": cpu,
        "loadavg": loadavg,
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cffi": cffi_version,
        "pymemcg": getattr(pymemcg, "__version__", "?"),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


# -- C-level runs ------------------------------------------------------------


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise RuntimeError(f"{what}: {os.strerror(-rc)} ({rc})")


def c_atomic_add(iters: int) -> float:
    """ns per bare relaxed atomic add."""
    out = ffi.new("struct pmc_bench_result *")
    _check(lib.pmc_bench_atomic_add(iters, out), "pmc_bench_atomic_add")
    return out.ns_per_op


def c_pair(depth: int, nthreads: int, shared_leaf: bool, iters: int) -> tuple[float, float, float]:
    """(ns per pair per thread, total pairs per second, parallelism) of one C run.

    parallelism = process CPU time / wall time of the whole call (warm-up and
    thread start included): about nthreads when the threads really ran at
    once, about 1 when they had to share one CPU with each other or with
    another process.
    """
    out = ffi.new("struct pmc_bench_result *")
    w0, c0 = time.perf_counter_ns(), time.process_time_ns()
    rc = lib.pmc_bench_page_counter_pair(depth, nthreads, int(shared_leaf), iters, out)
    w1, c1 = time.perf_counter_ns(), time.process_time_ns()
    _check(rc, f"pmc_bench_page_counter_pair(depth={depth}, nthreads={nthreads})")
    return out.ns_per_op, out.total_ops / out.seconds, (c1 - c0) / max(w1 - w0, 1)


def interleaved(repeats: int, runs: dict[str, Callable[[], Any]]) -> dict[str, list[Any]]:
    """Samples of every run, taken round-robin: repeat 1 of each, then repeat 2...

    A machine that slows down or speeds up during the measurement (another
    process, frequency changes) then biases every run alike, not one of them.
    """
    samples: dict[str, list[Any]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            samples[name].append(fn())
    return samples


# -- Python-level runs -------------------------------------------------------


def chain(cls: Any, depth: int) -> list[Any]:
    """depth counters, root first; the last one is charged."""
    counters = [cls()]
    for _ in range(depth - 1):
        counters.append(cls(parent=counters[-1]))
    return counters


def _timed(loop: Callable[[int], None], n: int) -> float:
    """ns per pair of one run of `loop(n)`, with the collector off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        loop(n)
        t1 = time.perf_counter_ns()
    finally:
        if enabled:
            gc.enable()
    return (t1 - t0) / n


def api_loop(pc: Any) -> Callable[[int], None]:
    """The call as users write it: a method call on the counter object."""

    def loop(n: int) -> None:
        for _ in itertools.repeat(None, n):
            pc.try_charge(1)
            pc.uncharge(1)

    return loop


def floor_loop(pc: Any) -> Callable[[int], None]:
    """The same two calls made bare through CFFI to empty C functions."""

    def loop(n: int) -> None:
        try_charge = lib.pmc_bench_nop_try_charge
        uncharge = lib.pmc_bench_nop_uncharge
        h = pc._h
        for _ in itertools.repeat(None, n):
            try_charge(h, 1)
            uncharge(h, 1)

    return loop


def py_run(loop: Callable[[int], None], n: int) -> Callable[[], float]:
    """A sampler of ns per pair, after a warm-up (caches, specialising interpreter)."""
    loop(max(n // 10, 1000))
    return lambda: _timed(loop, n)


# -- tables ------------------------------------------------------------------


class Section:
    def __init__(self, title: str, columns: list[str], note: str = "") -> None:
        self.title = title
        self.columns = columns
        self.rows: list[list[str]] = []
        self.note = note

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])


def render(facts: dict[str, Any], rule: str, sections: list[Section]) -> None:
    header = [
        f"cpu: {facts['cpu']}",
        f"nproc: {facts['nproc']} usable (cpu_count {facts['cpu_count']})"
        f"  loadavg before: {facts['loadavg']}",
        f"python: {facts['python']}  cffi {facts['cffi']}  pymemcg {facts['pymemcg']}",
        f"platform: {facts['platform']}  at {facts['date']}",
        f"rule: {rule}",
    ]
    if HAVE_RICH:
        # Redirected output gets a fixed width, not rich's 80 columns.
        console = rich.console.Console(width=None if sys.stdout.isatty() else 120)
        for line in header:
            console.print(line, highlight=False)
        for s in sections:
            console.print()
            t = rich.table.Table(title=s.title, title_justify="left", caption=s.note or None,
                                 caption_justify="left")
            for i, c in enumerate(s.columns):
                t.add_column(c, justify="left" if i == 0 else "right", min_width=len(c),
                             no_wrap=True)
            for r in s.rows:
                styled = [
                    f"[green]{c}[/]" if c == "pass"
                    else f"[red]{c}[/]" if c in ("miss", "TIME-SHARED") else c
                    for c in r
                ]
                t.add_row(*styled)
            console.print(t)
        return
    for line in header:
        print(line)
    for s in sections:
        widths = [max(len(c), *(len(r[i]) for r in s.rows)) if s.rows else len(c)
                  for i, c in enumerate(s.columns)]
        print()
        print(s.title)
        fmt = "  ".join(
            "{:<%d}" % w if i == 0 else "{:>%d}" % w for i, w in enumerate(widths)
        )
        print(fmt.format(*s.columns))
        print("  ".join("-" * w for w in widths))
        for r in s.rows:
            print(fmt.format(*r))
        if s.note:
            print(s.note)


# -- main --------------------------------------------------------------------


def run(quick: bool, repeats: int) -> tuple[dict[str, Any], list[Section]]:
    scale = 10 if quick else 1
    results: dict[str, Any] = {}
    sections: list[Section] = []

    # Baseline and one-thread pairs, interleaved.
    add_iters = 20_000_000 // scale
    pair_iters = {d: max(10_000_000 // d // scale, 10_000) for d in C_DEPTHS}
    runs: dict[str, Callable[[], Any]] = {"base": lambda: c_atomic_add(add_iters)}
    for d in C_DEPTHS:
        runs[f"d{d}"] = lambda d=d: c_pair(d, 1, False, pair_iters[d])[0]
    samples = interleaved(repeats, runs)
    base_ns = statistics.median(samples["base"])
    results["baseline_atomic_add"] = {
        "ns": base_ns, "samples": samples["base"], "iters": add_iters,
    }
    s = Section("Baseline (C loop, one thread)", ["what", "ns/op", "iters"])
    s.add("relaxed atomic_fetch_add, private cache line", f"{base_ns:.2f}", add_iters)
    sections.append(s)

    one_thread: dict[int, float] = {}
    s = Section(
        "C: try_charge(1) + uncharge(1) pair, one thread",
        ["depth", "ns/pair", "2*depth adds ns", "ratio", "target", "result"],
        note="ratio = ns/pair / (2*depth * baseline ns): one atomic add per level each way",
    )
    results["c_pair"] = []
    for d in C_DEPTHS:
        ns = statistics.median(samples[f"d{d}"])
        one_thread[d] = ns
        ref = 2 * d * base_ns
        ratio = ns / ref
        verdict = "pass" if ratio <= C_TARGET else "miss"
        s.add(d, f"{ns:.2f}", f"{ref:.2f}", f"{ratio:.3f}", f"<= {C_TARGET}", verdict)
        results["c_pair"].append({
            "depth": d, "ns": ns, "samples": samples[f"d{d}"], "iters": pair_iters[d],
            "baseline_ns": ref, "ratio": ratio, "target": C_TARGET, "pass": ratio <= C_TARGET,
        })
    sections.append(s)

    # Two threads: shared leaf and own leaves, interleaved with one thread.
    nproc = machine_facts()["nproc"]
    s = Section(
        "C: two threads, same leaf vs own leaves under a shared parent",
        ["depth", "leaves", "threads", "ns/pair/thread", "Mpairs/s total", "vs 1 thread",
         "cpu/wall", "ran"],
        note="vs 1 thread = total throughput / one-thread throughput at the same depth "
        "(interleaved with these rows); cpu/wall = process CPU time / wall time of the call: "
        "near 2 when both threads ran at once, near 1 when they time-shared a CPU (a busy "
        "machine: a TIME-SHARED row measures nothing about contention, rerun when quiet)"
        + ("" if nproc >= 2 else f"; only {nproc} CPU usable"),
    )
    results["c_threads"] = []
    for d in THREAD_DEPTHS:
        iters = max(1_000_000 // d // scale, 10_000)
        iters1 = max(10_000_000 // d // scale, 10_000)
        tsamples = interleaved(repeats, {
            "one": lambda d=d: c_pair(d, 1, False, iters1),
            "shared": lambda d=d: c_pair(d, 2, True, iters),
            "own": lambda d=d: c_pair(d, 2, False, iters),
        })
        tput1 = statistics.median(r[1] for r in tsamples["one"])
        ns1 = statistics.median(r[0] for r in tsamples["one"])
        s.add(d, "-", 1, f"{ns1:.2f}", f"{tput1 / 1e6:.1f}", "1.00", "", "")
        for label in ("shared", "own"):
            runs_ = tsamples[label]
            ns = statistics.median(r[0] for r in runs_)
            tput = statistics.median(r[1] for r in runs_)
            par = statistics.median(r[2] for r in runs_)
            ran = "in parallel" if par >= 1.5 else "TIME-SHARED"
            s.add(d, label, 2, f"{ns:.2f}", f"{tput / 1e6:.1f}", f"{tput / tput1:.2f}",
                  f"{par:.2f}", ran)
            results["c_threads"].append({
                "depth": d, "leaves": label, "threads": 2, "ns": ns,
                "pairs_per_s": tput, "one_thread_pairs_per_s": tput1,
                "vs_one_thread": tput / tput1, "cpu_per_wall": par, "parallel": par >= 1.5,
                "iters": iters,
                "samples_ns": [r[0] for r in runs_],
            })
    sections.append(s)

    # Python.
    n = 200_000 // scale
    n_model = max(n // 10, 1000)
    s = Section(
        "Python: pc.try_charge(1) + pc.uncharge(1) pair",
        ["depth", "floor ns", "pymemcg ns", "ratio", "target", "result", "model ns",
         "speed-up", "C pair ns"],
        note="floor = the two calls bare through CFFI to empty C functions, bound to locals; "
        "ratio = pymemcg / floor; speed-up = model / pymemcg; C pair ns from the C section",
    )
    results["python_pair"] = []
    for d in PY_DEPTHS:
        counters = chain(pymemcg.PageCounter, d)
        leaf = counters[-1]
        mcounters = chain(pymemcg.model.PageCounter, d)
        psamples = interleaved(repeats, {
            "floor": py_run(floor_loop(leaf), n),
            "api": py_run(api_loop(leaf), n),
            "model": py_run(api_loop(mcounters[-1]), n_model),
        })
        floor_samples, api_samples, model_samples = (
            psamples["floor"], psamples["api"], psamples["model"])
        floor_ns = statistics.median(floor_samples)
        api_ns = statistics.median(api_samples)
        model_ns = statistics.median(model_samples)
        if leaf.usage or counters[0].usage or mcounters[-1].usage:
            raise RuntimeError("Python pairs left pages charged")
        ratio = api_ns / floor_ns
        verdict = "pass" if ratio <= PY_TARGET else "miss"
        c_ns = one_thread.get(d, float("nan"))
        s.add(d, f"{floor_ns:.1f}", f"{api_ns:.1f}", f"{ratio:.3f}", f"<= {PY_TARGET}", verdict,
              f"{model_ns:.1f}", f"{model_ns / api_ns:.1f}x", f"{c_ns:.1f}")
        results["python_pair"].append({
            "depth": d, "pairs": n, "model_pairs": n_model,
            "floor_ns": floor_ns, "floor_samples": floor_samples,
            "api_ns": api_ns, "api_samples": api_samples,
            "model_ns": model_ns, "model_samples": model_samples,
            "ratio_to_floor": ratio, "target": PY_TARGET, "pass": ratio <= PY_TARGET,
            "speedup_vs_model": model_ns / api_ns,
        })
    sections.append(s)
    return results, sections


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="a tenth of the iterations and 3 repeats (a smoke run)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="repeats per figure, the median is kept (default 7, 3 with --quick)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = ap.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    if repeats < 1:
        ap.error("--repeats must be at least 1")

    facts = machine_facts()
    rule = RULE.format(n=repeats)
    results, sections = run(args.quick, repeats)
    render(facts, rule, sections)
    if args.json:
        doc = {"machine": facts, "rule": rule, "repeats": repeats, "quick": args.quick,
               "results": results}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
