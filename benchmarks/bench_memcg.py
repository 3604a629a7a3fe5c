"""Benchmarks of the memcg charge path: stocks, contention, batch replay.

    python benchmarks/bench_memcg.py [--quick] [--repeats N] [--threads N]

Every figure is a ratio against a baseline measured in the same run:

* a stock-hit charge (one page served by the CPU's stock, through the C API
  with its handle look-up and CPU lock) against one bare relaxed atomic add,
  and against a direct charge (batch 1: every charge walks the counters);
* kernel-memory charge+uncharge pairs on one cgroup from 1..N threads, each
  on its own CPU slot: stocks (batch 64, kmem uncharge into the stock)
  against batch 1 with direct uncharges;
* replay per operation against the same operations as Python calls, and
  against the model replaying the same records.

The two-thread rows print cpu/wall: near the thread count when the threads
really ran at once, near 1 when they time-shared a CPU (then the row says
nothing about contention).  Nothing here gates CI.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

import pymemcg
import pymemcg.model
from pymemcg import replay as R
from pymemcg._core import ffi, lib
from pymemcg.hierarchy import _config_struct

from bench_page_counter import (  # noqa: E402  (a sibling script, not a package)
    Section,
    _check,
    c_atomic_add,
    interleaved,
    machine_facts,
    render,
)


def c_memcg(cfg: pymemcg.Config, depth: int, nthreads: int, mode: int,
            iters: int) -> tuple[float, float, float]:
    """(ns per op per thread, total ops per second, cpu/wall) of one C run."""
    out = ffi.new("struct pmc_bench_result *")
    w0, c0 = time.perf_counter_ns(), time.process_time_ns()
    rc = lib.pmc_bench_memcg(_config_struct(cfg), depth, nthreads, mode, iters, out)
    w1, c1 = time.perf_counter_ns(), time.process_time_ns()
    _check(rc, f"pmc_bench_memcg(depth={depth}, nthreads={nthreads}, mode={mode})")
    return out.ns_per_op, out.total_ops / out.seconds, (c1 - c0) / max(w1 - w0, 1)


def med(xs: list[Any], i: int | None = None) -> float:
    return statistics.median(x[i] if i is not None else x for x in xs)


def verdict(ok: bool) -> str:
    return "pass" if ok else "miss"


def stock_section(repeats: int, iters: int) -> Section:
    cfg = pymemcg.Config.current(ncpus=2)
    runs: dict[str, Callable[[], Any]] = {"atomic": lambda: c_atomic_add(iters)}
    for d in (1, 2, 4, 8):
        runs[f"hit{d}"] = lambda d=d: c_memcg(cfg, d, 1, lib.PMC_BENCH_STOCK_HIT, iters)
        runs[f"direct{d}"] = lambda d=d: c_memcg(cfg, d, 1, lib.PMC_BENCH_DIRECT, iters)
        runs[f"replay{d}"] = lambda d=d: c_memcg(cfg, d, 1, lib.PMC_BENCH_REPLAY_HIT, iters)
    s = interleaved(repeats, runs)
    atomic = med(s["atomic"])
    sec = Section("C: a one-page charge served by the stock",
                  ["depth", "call: hit ns", "x atomic add", "<= 1.25", "replay: hit ns",
                   "x atomic add", "<= 1.25", "direct ns", "call hit / direct",
                   "<= 0.3 at depth 4"],
                  f"atomic add = {atomic:.2f} ns; call = pmc_cgroup_try_charge (handle "
                  "look-ups, the CPU slot's lock: one atomic exchange); replay = the same "
                  "charges as records, 4096 per replay call (CPU and cgroup kept across "
                  "records, as a kernel charge keeps its CPU without an atomic); direct = "
                  "batch 1, every charge walks the counters")
    for d in (1, 2, 4, 8):
        hit, direct = med(s[f"hit{d}"], 0), med(s[f"direct{d}"], 0)
        rhit = med(s[f"replay{d}"], 0)
        sec.add(d, f"{hit:.2f}", f"{hit / atomic:.2f}", verdict(hit / atomic <= 1.25),
                f"{rhit:.2f}", f"{rhit / atomic:.2f}", verdict(rhit / atomic <= 1.25),
                f"{direct:.2f}", f"{hit / direct:.3f}",
                verdict(hit / direct <= 0.3) if d == 4 else "")
    return sec


def contention_section(repeats: int, iters: int, max_threads: int) -> Section:
    threads = [n for n in (1, 2, 4, 8, 16) if n <= max_threads]
    stocks = pymemcg.Config.current(ncpus=max_threads)
    batch1 = stocks.replace(charge_batch=1, kmem_uncharge_via_stock=False)
    runs: dict[str, Callable[[], Any]] = {}
    for n in threads:
        runs[f"s{n}"] = lambda n=n: c_memcg(stocks, 1, n, lib.PMC_BENCH_KMEM_PAIR, iters)
        runs[f"b{n}"] = lambda n=n: c_memcg(batch1, 1, n, lib.PMC_BENCH_KMEM_PAIR, iters)
    s = interleaved(repeats, runs)
    sec = Section("C: kmem charge+uncharge pairs, one cgroup, thread i on CPU i",
                  ["threads", "stocks Mpairs/s", "batch 1 Mpairs/s", "stocks / batch 1",
                   ">= 4", "scaling vs 1", ">= 1.7 at 2", "cpu/wall"],
                  "stocks: batch 64, kmem uncharges refill the stock; batch 1: every "
                  "charge walks the counters and every uncharge goes straight to them")
    one = med(s["s1"], 1)
    for n in threads:
        st, b1 = med(s[f"s{n}"], 1), med(s[f"b{n}"], 1)
        par = med(s[f"s{n}"], 2)
        ran = f"{par:.2f}" + ("" if n == 1 or par > 0.8 * min(n, 2) else " TIME-SHARED")
        sec.add(n, f"{st / 1e6:.1f}", f"{b1 / 1e6:.1f}", f"{st / b1:.1f}", verdict(st / b1 >= 4) if n > 1 else "",
                f"{st / one:.2f}", verdict(st / one >= 1.7) if n == 2 else "", ran)
    return sec


#: Records per replay call: a simulator's chunk (2 MiB of records), replayed
#: with one reused result buffer.
REPLAY_CHUNK = 65536


def replay_section(repeats: int, n: int) -> Section:
    """One record = one charge or uncharge of one page, alternating, on CPU 0:
    user pages (uncharges walk the counters, as the kernel's do) and kernel
    memory (both ends through the stock).  n records per sample, in calls of
    REPLAY_CHUNK records."""

    def setup(mod: Any, kmem: bool) -> tuple[Any, Any]:
        h = mod.Hierarchy(mod.Config.current())
        g = h.create("a").create("b")
        ops = np.zeros(REPLAY_CHUNK, dtype=R.OP_DTYPE)
        ops["op"][0::2] = R.OP_CHARGE
        ops["op"][1::2] = R.OP_UNCHARGE
        ops["flags"] = pymemcg.GFP_KERNEL
        ops["cgroup"] = g.handle
        ops["nr_pages"] = 1
        ops["kmem"] = int(kmem)
        return h, ops

    m = n // 20                       # the model and per-call Python: fewer ops, per op
    runs: dict[str, Callable[[], float]] = {}
    for kmem in (False, True):
        h_c, ops_c = setup(pymemcg, kmem)
        h_m, ops_m = setup(pymemcg.model, kmem)

        def replay_c(h: Any = h_c, ops: Any = ops_c,
                     out: Any = np.zeros(REPLAY_CHUNK, np.int64)) -> float:
            # A simulator reuses its result buffer (out=); without it, each
            # call would also allocate and zero a fresh one.
            calls = max(1, n // REPLAY_CHUNK)
            t0 = time.perf_counter_ns()
            for _ in range(calls):
                h.replay(ops, out)
            t1 = time.perf_counter_ns()
            assert not out.any()
            return (t1 - t0) / (calls * REPLAY_CHUNK)

        def calls(g: Any = h_c["a/b"], kmem: bool = kmem) -> float:
            charge, uncharge = g.try_charge, g.uncharge
            t0 = time.perf_counter_ns()
            for _ in range(m // 2):
                charge(1, 0, pymemcg.GFP_KERNEL, kmem)
                uncharge(1, 0, kmem)
            return (time.perf_counter_ns() - t0) / (m // 2 * 2)

        def replay_model(h: Any = h_m, ops: Any = ops_m) -> float:
            t0 = time.perf_counter_ns()
            h.replay(ops[:m])
            return (time.perf_counter_ns() - t0) / m

        runs.update({f"c{kmem}": replay_c, f"calls{kmem}": calls, f"model{kmem}": replay_model})

    s = interleaved(repeats, runs)
    sec = Section("Batch replay: ns per operation (one-page charge or uncharge, alternating)",
                  ["records", "C replay ns", "Python calls ns", "speed-up", ">= 30x",
                   "model replay ns", "speed-up", ">= 100x"],
                  "user pages: charges hit the stock, uncharges walk the counters (as the "
                  "kernel's do); kmem: both ends go through the stock")
    for kmem in (False, True):
        c, py, mo = med(s[f"c{kmem}"]), med(s[f"calls{kmem}"]), med(s[f"model{kmem}"])
        sec.add("kmem" if kmem else "user pages", f"{c:.1f}", f"{py:.1f}", f"{py / c:.1f}x",
                verdict(py / c >= 30), f"{mo:.1f}", f"{mo / c:.1f}x", verdict(mo / c >= 100))
    return sec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer iterations and repeats")
    ap.add_argument("--repeats", type=int, default=None, help="samples per run (median)")
    ap.add_argument("--threads", type=int, default=2, help="most threads in the contention table")
    args = ap.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    iters = 200_000 if args.quick else 1_000_000
    facts = machine_facts()
    sections = [
        stock_section(repeats, iters),
        contention_section(repeats, iters // 2, args.threads),
        replay_section(repeats, 200_000 if args.quick else 1_000_000),
    ]
    render(facts, f"median of {repeats} repeats, taken round-robin; every ratio is between "
                  "runs of this invocation", sections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
