"""The workloads of ``pymemcg bench``, each a function of a :class:`Context`
that returns :class:`Row` objects.

To add one (slab will come): write a function decorated with
``@workload("name", "what it measures")`` here or in any module imported
before :func:`pymemcg.bench.run`; measure C loops through ``ctx.c_table``
(specs understood by :class:`pymemcg.bench._measure.CRunner`: add a
``fn`` kind there for a new C entry point) and Python loops through
``ctx.py_table``; build each row with a baseline measured in the same
table, then ``row.finish()``.  Sizes come from ``ctx.size`` (tiny for the
tests, quick, full).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import os
import random
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ._measure import CMeasure, CRunner, PySampler, config_of, interleave, merge, tree_shape
from ._result import Row

__all__ = ["Size", "SIZES", "Context", "Workload", "WORKLOADS", "workload"]


@dataclass(frozen=True)
class Size:
    """How much each workload measures."""

    name: str
    rounds: int                 # round-robin rounds of every C call of a table
    samples: int                # samples per C call
    sample_us: float            # one C sample, about
    base_us: float              # one baseline sample (bare adds), about
    py_rounds: int              # Python samples per run, round-robin
    py_sample_us: float
    depths: Tuple[int, ...]
    cgroups: Tuple[int, ...]    # the number-of-cgroups workload
    listing: Tuple[int, int]    # h.cgroups() of a small and a big tree
    attr_children: Tuple[int, int]
    memory_cgroups: int
    replay_batch: int           # records per h.replay call (a simulator's chunk)
    model_records: int
    trace_records: int
    slab_objects: int = 1_000_000   # objects made in bulk for the bytes-per-object row


SIZES: Dict[str, Size] = {
    "tiny": Size("tiny", rounds=2, samples=3, sample_us=20, base_us=5, py_rounds=2,
                 py_sample_us=50, depths=(1, 2), cgroups=(1, 64, 200), listing=(20, 200),
                 attr_children=(4, 40), memory_cgroups=100, replay_batch=1024,
                 model_records=128, trace_records=200, slab_objects=20_000),
    "quick": Size("quick", rounds=3, samples=15, sample_us=150, base_us=100, py_rounds=9,
                  py_sample_us=400, depths=(1, 2, 4, 8), cgroups=(1, 64, 1000, 10_000, 60_000),
                  listing=(2_000, 20_000), attr_children=(10, 10_000), memory_cgroups=5_000,
                  replay_batch=65_536, model_records=2_048, trace_records=20_000),
    "full": Size("full", rounds=5, samples=40, sample_us=250, base_us=150, py_rounds=25,
                 py_sample_us=1000, depths=(1, 2, 4, 8), cgroups=(1, 64, 1000, 10_000, 60_000),
                 listing=(2_000, 20_000), attr_children=(10, 10_000), memory_cgroups=20_000,
                 replay_batch=65_536, model_records=4_096, trace_records=100_000),
}


class Context:
    """What a workload gets: the size, the thread count, the C runner, notes."""

    def __init__(self, size: Size, max_threads: int, runner: CRunner) -> None:
        self.size = size
        self.max_threads = max_threads
        self.runner = runner
        self.notes: List[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)

    def c_table(self, specs: Dict[str, Dict[str, Any]]) -> Dict[str, CMeasure]:
        """Every spec calibrated, then ``rounds`` rounds of one call each,
        round-robin; each call takes ``samples`` samples (and its baseline)."""
        s = self.size
        plan = {name: self.runner.calibrated(spec, s.sample_us, s.base_us)
                for name, spec in specs.items()}
        def one(spec: Dict[str, Any], plan: Tuple[int, int]) -> Callable[[], CMeasure]:
            return lambda: self.runner.call(spec, plan[0], s.samples, plan[1])

        runs = {name: one(spec, plan[name]) for name, spec in specs.items()}
        return {name: merge(ms) for name, ms in interleave(s.rounds, runs).items()}

    def py_table(self, samplers: Dict[str, PySampler]) -> Dict[str, List[float]]:
        """``py_rounds`` samples of every sampler, round-robin."""
        return interleave(self.size.py_rounds, {k: v.__call__ for k, v in samplers.items()})

    def py_sampler(self, loop: Callable[[int], Any], ops_per_iter: int = 1) -> PySampler:
        return PySampler(loop, self.size.py_sample_us, ops_per_iter)


@dataclass(frozen=True)
class Workload:
    name: str
    help: str
    fn: Callable[[Context], List[Row]]


#: Every workload, in the order ``pymemcg bench`` runs them.
WORKLOADS: Dict[str, Workload] = {}


def workload(name: str, help: str) -> Callable[[Callable[[Context], List[Row]]],
                                               Callable[[Context], List[Row]]]:
    def register(fn: Callable[[Context], List[Row]]) -> Callable[[Context], List[Row]]:
        WORKLOADS[name] = Workload(name, help, fn)
        return fn
    return register


ATOMIC = {"fn": "atomic_add"}
ADD = "atomic add"


def c_row(workload: str, name: str, m: CMeasure, spec: Dict[str, Any], *, op: str,
          units: float = 1.0, target: Optional[float] = None, floor: Optional[float] = None,
          source: str = "", params: Optional[Dict[str, Any]] = None, note: str = "") -> Row:
    """A C row whose baseline is the bare atomic add timed in its own calls."""
    return Row(workload, name, m.value, op=op, params=dict(params or {}), baseline=ADD,
               baseline_value=m.base_value, units=units, target=target, floor=floor,
               source=source, threads=m.threads, cpu_wall=m.cpu_wall if m.threads > 1 else None,
               samples=list(m.ns), baseline_samples=list(m.base), c_call=spec,
               baseline_call=ATOMIC, note=note).finish()


def vs_row(workload: str, name: str, m: CMeasure, spec: Optional[Dict[str, Any]],
           base: CMeasure, base_name: str, base_spec: Optional[Dict[str, Any]], *, op: str,
           units: float = 1.0, higher_is_better: bool = False, target: Optional[float] = None,
           floor: Optional[float] = None, source: str = "",
           params: Optional[Dict[str, Any]] = None, note: str = "") -> Row:
    """A C row against another run of the same table."""
    return Row(workload, name, m.value, op=op, params=dict(params or {}), baseline=base_name,
               baseline_value=base.value, units=units, higher_is_better=higher_is_better,
               target=target, floor=floor, source=source, threads=m.threads,
               cpu_wall=m.cpu_wall if m.threads > 1 else None, samples=list(m.ns),
               baseline_samples=list(base.ns), c_call=spec, baseline_call=base_spec,
               note=note).finish()


def py_row(workload: str, name: str, samples: Sequence[float], base_samples: Sequence[float],
           base_name: str, *, op: str, unit: str = "ns/op", units: float = 1.0,
           higher_is_better: bool = False, target: Optional[float] = None,
           floor: Optional[float] = None, limit: Optional[float] = None, source: str = "",
           params: Optional[Dict[str, Any]] = None, note: str = "") -> Row:
    """A Python row: the min of its samples against the min of its
    baseline's, both sampled round-robin in the same table."""
    return Row(workload, name, min(samples), unit=unit, op=op, params=dict(params or {}),
               baseline=base_name, baseline_value=min(base_samples), units=units,
               higher_is_better=higher_is_better, target=target, floor=floor, limit=limit,
               source=source, samples=list(samples), baseline_samples=list(base_samples),
               note=note).finish()


ISSUE10 = "issue 10"
EARLIER = "earlier benchmarks/README"


# -- counter pairs by depth ------------------------------------------------------


@workload("pairs", "page_counter try_charge(1) + uncharge(1) pairs by depth, 1 and 2 threads")
def pairs(ctx: Context) -> List[Row]:
    specs: Dict[str, Dict[str, Any]] = {}
    for d in ctx.size.depths:
        specs[f"d{d}"] = {"fn": "counter_pair", "depth": d, "threads": 1, "shared": False}
    two = ctx.max_threads >= 2
    tdepths = [d for d in ctx.size.depths if d in (2, 4)] if two else []
    for d in tdepths:
        for shared in (True, False):
            specs[f"d{d}-{shared}"] = {"fn": "counter_pair", "depth": d, "threads": 2,
                                       "shared": shared}
    t = ctx.c_table(specs)
    rows = []
    for d in ctx.size.depths:
        rows.append(c_row("pairs", f"depth {d}", t[f"d{d}"], specs[f"d{d}"], op="pair",
                          units=2 * d, target=1.25, floor=1.0, source=EARLIER,
                          params={"depth": d, "threads": 1},
                          note="reference: 2*depth adds (one per level each way)"))
    for d in tdepths:
        for shared in (True, False):
            k = f"d{d}-{shared}"
            leaves = "same leaf" if shared else "own leaves"
            rows.append(vs_row(
                "pairs", f"depth {d}, 2 threads, {leaves}", t[k], specs[k], t[f"d{d}"],
                f"depth {d}, 1 thread", specs[f"d{d}"], op="pair per thread", units=2,
                higher_is_better=True, params={"depth": d, "threads": 2, "shared": shared},
                note="ratio: total throughput / one thread's (2 * ns1 / ns2)"))
    return rows


# -- stock hits ------------------------------------------------------------------


@workload("stock", "a one-page charge served by the CPU's stock: single call and replay; "
                   "replay records; direct charges (batch 1)")
def stock(ctx: Context) -> List[Row]:
    cfg = {"preset": "current", "ncpus": 2}

    def spec(mode: str, depth: int) -> Dict[str, Any]:
        return {"fn": "memcg", "config": cfg, "depth": depth, "threads": 1, "mode": mode}

    depths = [d for d in ctx.size.depths if d in (1, 4)] or [ctx.size.depths[0]]
    specs: Dict[str, Dict[str, Any]] = {}
    for d in depths:
        specs[f"hit{d}"] = spec("STOCK_HIT", d)
        specs[f"rhit{d}"] = spec("REPLAY_HIT", d)
    for d in ctx.size.depths:
        specs[f"direct{d}"] = spec("DIRECT", d)
    specs["rkmem"] = spec("REPLAY_KMEM", 2)
    specs["ruser"] = spec("REPLAY_USER", 2)
    for d in depths:
        specs[f"owned{d}"] = spec("OWNED_HIT", d)
    specs["okmem"] = spec("OWNED_KMEM", 2)
    specs["kmem"] = spec("KMEM_PAIR", 2)
    t = ctx.c_table(specs)
    rows = []
    for d in depths:
        rows.append(c_row("stock", f"single call, depth {d}", t[f"hit{d}"], specs[f"hit{d}"],
                          op="charge", target=2.5, floor=1.0, source=ISSUE10,
                          params={"depth": d, "path": "call"},
                          note="pmc_cgroup_try_charge from any thread: handle look-up, the "
                               "CPU slot's lock (one atomic exchange: the floor), the stock"))
    for d in depths:
        rows.append(c_row("stock", f"owned CPU, depth {d}", t[f"owned{d}"], specs[f"owned{d}"],
                          op="charge", target=1.5, source=ISSUE10,
                          params={"depth": d, "path": "owned"},
                          note="pmc_cpu_try_charge on a CPU the thread owns (Hierarchy.cpu): "
                               "token and handle look-ups, the stock, no lock"))
    rows.append(c_row("stock", "owned CPU, kmem charge+uncharge pair, a/b", t["okmem"],
                      specs["okmem"], op="pair", params={"depth": 2, "path": "owned kmem"},
                      note="both ends served by the stock, no lock"))
    rows.append(vs_row("stock", "owned CPU / single calls, kmem pair, a/b", t["okmem"],
                       specs["okmem"], t["kmem"], "single calls, kmem pair, a/b",
                       specs["kmem"], op="pair", params={"depth": 2}))
    for d in depths:
        rows.append(c_row("stock", f"replay record, depth {d}", t[f"rhit{d}"],
                          specs[f"rhit{d}"], op="record", target=2.0, source=ISSUE10,
                          params={"depth": d, "path": "replay"},
                          note="charge records, 4096 per call: CPU and cgroup kept "
                               "across records"))
    rows.append(c_row("stock", "replay kmem charge/uncharge records, a/b", t["rkmem"],
                      specs["rkmem"], op="record", target=2.0, source=ISSUE10,
                      params={"depth": 2, "path": "replay kmem"},
                      note="both ends served by the stock"))
    rows.append(c_row("stock", "replay user-page charge/uncharge records, a/b", t["ruser"],
                      specs["ruser"], op="record", units=1.5, target=2.0, floor=1.0,
                      source=ISSUE10, params={"depth": 2, "path": "replay user"},
                      note="reference: 1.5 adds per record (3 locked subtractions per "
                           "uncharge, the charge from the stock)"))
    for d in ctx.size.depths:
        rows.append(c_row("stock", f"direct (batch 1), depth {d}", t[f"direct{d}"],
                          specs[f"direct{d}"], op="charge", units=d + 1, floor=1.0,
                          params={"depth": d, "path": "direct"},
                          note="reference: depth + 1 adds (the root's counter too)"))
    d4 = 4 if 4 in depths and 4 in ctx.size.depths else None
    if d4:
        rows.append(vs_row("stock", "single call hit / direct, depth 4", t["hit4"],
                           specs["hit4"], t["direct4"], "direct (batch 1), depth 4",
                           specs["direct4"], op="charge", target=0.3, source=EARLIER,
                           params={"depth": 4}))
    return rows


# -- contention ------------------------------------------------------------------


@workload("contention", "kmem charge+uncharge pairs from 1..N threads, each on its own CPU "
                        "slot: shared and own cgroups, stocks vs batch 1")
def contention(ctx: Context) -> List[Row]:
    n_max = ctx.max_threads
    threads = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= n_max]
    if n_max not in threads:
        threads.append(n_max)
    stocks = {"preset": "current", "ncpus": n_max}
    batch1 = dict(stocks, charge_batch=1, kmem_uncharge_via_stock=False)
    specs: Dict[str, Dict[str, Any]] = {}
    for n in threads:
        for own in ((False,) if n == 1 else (False, True)):
            for label, cfg in (("stocks", stocks), ("batch1", batch1)):
                specs[f"{label}-{n}-{own}"] = {"fn": "memcg", "config": cfg, "depth": 2,
                                               "threads": n, "mode": "KMEM_PAIR", "own": own}
    t = ctx.c_table(specs)
    rows = []
    one = t["stocks-1-False"]
    for n in threads:
        for own in ((False,) if n == 1 else (False, True)):
            cg = "own cgroups" if own else "shared cgroup"
            s_key, b_key = f"stocks-{n}-{own}", f"batch1-{n}-{own}"
            params = {"threads": n, "own": own}
            rows.append(vs_row(
                "contention", f"stocks vs batch 1, {n} thread{'s' * (n > 1)}, {cg}", t[s_key],
                specs[s_key], t[b_key], f"batch 1, {n} thread{'s' * (n > 1)}, {cg}", specs[b_key],
                op="pair per thread", higher_is_better=True,
                target=4.0 if n == 2 and not own else None,
                source=EARLIER if n == 2 and not own else "", params=dict(params, config="stocks"),
                note="speed-up of the stocks over batch 1 (every charge and uncharge walks "
                     "the shared counters)"))
            rows.append(c_row("contention", f"batch 1, {n} thread{'s' * (n > 1)}, {cg}",
                              t[b_key], specs[b_key], op="pair per thread", units=6, floor=1.0,
                              params=dict(params, config="batch 1"),
                              note="reference: 6 adds (a/b and the root, each way)"))
            if n > 1:
                rows.append(vs_row(
                    "contention", f"stocks scaling, {n} threads, {cg}", t[s_key],
                    specs[s_key], one, "stocks, 1 thread", specs["stocks-1-False"],
                    op="pair per thread", units=n, higher_is_better=True,
                    target=1.7 if n == 2 and not own else None,
                    source=EARLIER if n == 2 and not own else "",
                    params=dict(params, config="stocks scaling"),
                    note="total throughput / one thread's"))
    if ctx.max_threads < 2:
        ctx.note("contention: one usable CPU: only the one-thread rows were measured")
    return rows


# -- replay from Python --------------------------------------------------------------


def _pairs_ops(mod: Any, g: Any, n: int, kmem: bool) -> Any:
    return mod.ops(op=[1, 2] * (n // 2), cgroup=g, nr_pages=1, kmem=kmem)


@workload("replay", "Hierarchy.replayer runs per record from Python: against Python calls, "
                    "the model, and 64-record batches")
def replay(ctx: Context) -> List[Row]:
    import pymemcg
    import pymemcg.model
    from pymemcg import GFP_KERNEL

    n = ctx.size.replay_batch
    samplers: Dict[str, PySampler] = {}
    keep: List[Any] = []
    for kmem in (False, True):
        h = pymemcg.Hierarchy(pymemcg.Config.current())
        g = h.create("a").create("b")
        hm = pymemcg.model.Hierarchy(pymemcg.Config.current())
        gm = hm.create("a").create("b")
        ops = _pairs_ops(pymemcg, g, n, kmem)
        ops64 = _pairs_ops(pymemcg, g, 64, kmem)
        opsm = _pairs_ops(pymemcg, gm, ctx.size.model_records, kmem)
        out = pymemcg.replay.new_results(n)
        out64 = pymemcg.replay.new_results(64)
        keep += [h, hm]

        run_big = h.replayer(ops, out).run
        run_small = h.replayer(ops64, out64).run

        def big(k: int, run: Any = run_big) -> None:
            for _ in itertools.repeat(None, k):
                run()

        def small(k: int, run: Any = run_small) -> None:
            for _ in itertools.repeat(None, k):
                run()

        def small_replay(k: int, h: Any = h, ops: Any = ops64, out: Any = out64) -> None:
            for _ in itertools.repeat(None, k):
                h.replay(ops, out)

        def calls(k: int, g: Any = g, kmem: bool = kmem) -> None:
            charge, uncharge = g.try_charge, g.uncharge
            for _ in itertools.repeat(None, k):
                charge(1, 0, GFP_KERNEL, kmem)
                uncharge(1, 0, kmem)

        def model(k: int, h: Any = hm, ops: Any = opsm) -> None:
            for _ in itertools.repeat(None, k):
                h.replay(ops)

        tag = "kmem" if kmem else "user"
        samplers[f"big-{tag}"] = ctx.py_sampler(big, n)
        samplers[f"small-{tag}"] = ctx.py_sampler(small, 64)
        samplers[f"smallr-{tag}"] = ctx.py_sampler(small_replay, 64)
        samplers[f"calls-{tag}"] = ctx.py_sampler(calls, 2)
        samplers[f"model-{tag}"] = ctx.py_sampler(model, ctx.size.model_records)
    s = ctx.py_table(samplers)
    for h in keep:
        h.close()
    rows = []
    for tag, what in (("user", "user pages"), ("kmem", "kmem")):
        big_name = f"{what}, {n:,}-record batches"
        rows.append(py_row("replay", f"{what}: replay vs Python calls", s[f"big-{tag}"],
                           s[f"calls-{tag}"], f"{what}: g.try_charge/g.uncharge calls",
                           op="record", higher_is_better=True, target=30.0, source=EARLIER,
                           params={"kmem": tag == "kmem", "batch": n}))
        rows.append(py_row("replay", f"{what}: replay vs model replay", s[f"big-{tag}"],
                           s[f"model-{tag}"], f"{what}: pymemcg.model replay",
                           op="record", higher_is_better=True, target=100.0, source=EARLIER,
                           params={"kmem": tag == "kmem", "batch": n}))
        rows.append(py_row("replay", f"{what}: 64-record batches", s[f"small-{tag}"],
                           s[f"big-{tag}"], big_name, op="record", target=1.5, floor=1.0,
                           source=ISSUE10, params={"kmem": tag == "kmem", "batch": 64},
                           note="Replayer.run (h.replayer: buffers bound once) of 64 records "
                                "against Replayer.run of 65,536: the fixed cost of a run"))
        rows.append(py_row("replay", f"{what}: 64-record batches, Hierarchy.replay",
                           s[f"smallr-{tag}"], s[f"big-{tag}"], big_name, op="record",
                           params={"kmem": tag == "kmem", "batch": 64, "entry": "replay"},
                           note="h.replay checks and wraps both buffers at every call"))
    return rows


# -- the number of cgroups ---------------------------------------------------------


SCALE_CONFIG = {"preset": "current", "ncpus": 4}


@workload("scale", "replay of user-page charge+uncharge pairs on random leaves among N "
                   "cgroups, and Python calls on them")
def scale(ctx: Context) -> List[Row]:
    ns = ctx.size.cgroups
    ref = 64 if 64 in ns else ns[0]
    specs: Dict[str, Dict[str, Any]] = {
        f"n{n}": {"fn": "replay_pairs", "ncgroups": n, "kmem": False, "seed": 1,
                  "config": SCALE_CONFIG} for n in ns}
    for n in ns:                           # build the trees before any timing
        ctx.runner.tree(n, SCALE_CONFIG)
    t = ctx.c_table(specs)
    samplers = {}
    for n in ns:
        tree = ctx.runner.tree(n, SCALE_CONFIG)
        leaves = [cg for cg in tree.hierarchy.cgroups() if cg.name.startswith("l")]
        rnd = random.Random(n)
        chosen = [rnd.choice(leaves) for _ in range(4096)]

        def calls(k: int, chosen: List[Any] = chosen) -> None:
            for g in itertools.islice(itertools.cycle(chosen), k):
                g.try_charge(1)
                g.uncharge(1)

        samplers[f"n{n}"] = ctx.py_sampler(calls, 2)
    p = ctx.py_table(samplers)
    rows = []
    for n in ns:
        k = f"n{n}"
        nmid, nleaves = tree_shape(n)
        params = {"cgroups": n, "leaves": nleaves}
        if n == ref:
            rows.append(c_row("scale", f"replay, {_cgroups(n)}", t[k], specs[k], op="record",
                              units=1.5, floor=1.0, params=params,
                              note="reference: 1.5 adds per record; the baseline of the "
                                   "other rows"))
        else:
            big = n >= 60_000
            rows.append(vs_row("scale", f"replay, {_cgroups(n)}", t[k], specs[k], t[f"n{ref}"],
                               f"replay, {_cgroups(ref)}", specs[f"n{ref}"], op="record",
                               target=2.5 if big else None, source=ISSUE10 if big else "",
                               floor=1.0 if n > ref else None, params=params))
    for n in ns:
        rows.append(py_row("scale", f"Python calls, {_cgroups(n)}", p[f"n{n}"], p[f"n{ref}"],
                           f"Python calls, {_cgroups(ref)}", op="call",
                           params={"cgroups": n, "python": True},
                           note="g.try_charge(1) and g.uncharge(1) on random leaves"))
    ctx.note(f"scale: trees of N cgroups below the root (about sqrt(N) middle cgroups, the "
             f"rest leaves two levels down; 1: one leaf), {SCALE_CONFIG['ncpus']} CPUs, "
             "records on CPU 0")
    return rows


def _cgroups(n: int) -> str:
    return f"{n:,} cgroup{'s' * (n != 1)}"


# -- listing and cheap attributes -----------------------------------------------------


def _getters(h: Any, a: Any) -> Dict[str, Callable[[], Any]]:
    return {"h['a']": lambda: h["a"], "a.online": lambda: a.online,
            "a.parent": lambda: a.parent, "a.nr_descendants": lambda: a.nr_descendants,
            "len(h)": lambda: len(h)}


@workload("listing", "h.cgroups() of 20,000 cgroups; cheap attributes with 10,000 children")
def listing(ctx: Context) -> List[Row]:
    import pymemcg

    small, big = ctx.size.listing
    cfg = {"preset": "current", "ncpus": 4}
    samplers: Dict[str, PySampler] = {}
    for n in (small, big):
        h = ctx.runner.tree(n, cfg).hierarchy

        def lst(k: int, h: Any = h) -> None:
            for _ in itertools.repeat(None, k):
                h.cgroups()

        samplers[f"list{n}"] = PySampler(lst, ctx.size.py_sample_us, 1, max_n=1000)
    # Cheap attributes of a cgroup with many children, 64 CPUs (the issue's case).
    few, many = ctx.size.attr_children
    attrs = ("h['a']", "a.online", "a.parent", "a.nr_descendants", "len(h)")
    hs = []
    for n in (few, many):
        h = pymemcg.Hierarchy(pymemcg.Config.current(ncpus=64))
        a = h.create("a")
        made = ctx.runner.lib.pmc_bench_tree(h._h, a.handle, 0, n, ctx.runner.ffi.NULL)
        if made != n:
            raise RuntimeError(f"pmc_bench_tree: {made}")
        hs.append(h)
        getters = _getters(h, a)
        for attr in attrs:
            def get(k: int, f: Callable[[], Any] = getters[attr]) -> None:
                for _ in itertools.repeat(None, k):
                    f()

            samplers[f"{attr}-{n}"] = PySampler(get, ctx.size.py_sample_us, 1, max_n=100_000)
    s = ctx.py_table(samplers)
    for h in hs:
        h.close()
    rows = [py_row("listing", f"h.cgroups(), {_cgroups(big)}",
                   [x / 1e6 for x in s[f"list{big}"]], [x / 1e6 for x in s[f"list{small}"]],
                   f"h.cgroups(), {_cgroups(small)}", op="listing", unit="ms",
                   units=big / small, target=1.5, floor=None,
                   limit=50.0 if big >= 20_000 else None, source=ISSUE10,
                   params={"cgroups": big},
                   note="ratio: cost per cgroup against the small tree's (1: linear); "
                        "limit: 50 ms")]
    for attr in attrs:
        rows.append(py_row("listing", f"{attr}, {many:,} children", s[f"{attr}-{many}"],
                           s[f"{attr}-{few}"], f"{attr}, {few:,} children", op="access",
                           target=1.5, source=ISSUE10, params={"children": many, "cpus": 64},
                           note="O(1): the same with few children (64 CPUs)"))
    return rows


# -- per-call Python cost ----------------------------------------------------------------


@workload("python", "per-call Python cost against the bare CFFI call of the same signature, "
                    "and against the model")
def python(ctx: Context) -> List[Row]:
    import pymemcg
    import pymemcg.model
    from pymemcg._core import lib

    samplers: Dict[str, PySampler] = {}

    def pair(obj: Any) -> Callable[[int], None]:
        def loop(k: int) -> None:
            try_charge, uncharge = obj.try_charge, obj.uncharge
            for _ in itertools.repeat(None, k):
                try_charge(1)
                uncharge(1)
        return loop

    pdepths = [d for d in (1, 4) if d <= max(ctx.size.depths)]
    keep: List[Any] = []
    for d in pdepths:
        chain = [pymemcg.PageCounter()]
        mchain = [pymemcg.model.PageCounter()]
        for _ in range(d - 1):
            chain.append(pymemcg.PageCounter(parent=chain[-1]))
            mchain.append(pymemcg.model.PageCounter(parent=mchain[-1]))
        leaf = chain[-1]

        def floor(k: int, h: int = leaf._h) -> None:
            tc, un = lib.pmc_bench_nop_try_charge, lib.pmc_bench_nop_uncharge
            for _ in itertools.repeat(None, k):
                tc(h, 1)
                un(h, 1)

        samplers[f"pc{d}"] = ctx.py_sampler(pair(leaf), 1)
        samplers[f"pcfloor{d}"] = ctx.py_sampler(floor, 1)
        samplers[f"pcmodel{d}"] = ctx.py_sampler(pair(mchain[-1]), 1)
        keep += [chain, mchain]
    h = pymemcg.Hierarchy(pymemcg.Config.current())
    g = h.create("a").create("b")
    hm = pymemcg.model.Hierarchy(pymemcg.Config.current())
    gm = hm.create("a").create("b")

    def cfloor(k: int, hh: int = h._h, cg: int = g.handle) -> None:
        tc, un = lib.pmc_bench_nop_cgroup_try_charge, lib.pmc_bench_nop_cgroup_uncharge
        gfp = pymemcg.GFP_KERNEL
        for _ in itertools.repeat(None, k):
            tc(hh, cg, 1, 0, gfp, 0)
            un(hh, cg, 1, 0, 0)

    samplers["cg"] = ctx.py_sampler(pair(g), 1)
    samplers["cgfloor"] = ctx.py_sampler(cfloor, 1)
    samplers["cgmodel"] = ctx.py_sampler(pair(gm), 1)
    s = ctx.py_table(samplers)
    h.close()
    rows = []
    for d in pdepths:
        rows.append(py_row("python", f"PageCounter pair, depth {d}", s[f"pc{d}"],
                           s[f"pcfloor{d}"], "bare CFFI pair (empty C functions)",
                           op="pair", target=1.5, floor=1.0, source=EARLIER,
                           params={"depth": d},
                           note="pc.try_charge(1) + pc.uncharge(1) against two bare calls "
                                "of the same signatures"))
        rows.append(py_row("python", f"PageCounter pair vs model, depth {d}", s[f"pc{d}"],
                           s[f"pcmodel{d}"], "pymemcg.model.PageCounter pair", op="pair",
                           higher_is_better=True, params={"depth": d}))
    rows.append(py_row("python", "Cgroup pair, a/b", s["cg"], s["cgfloor"],
                       "bare CFFI pair (empty C functions)", op="pair", floor=1.0,
                       params={"depth": 2},
                       note="g.try_charge(1) + g.uncharge(1): a stock hit and a walk of "
                            "3 counters"))
    rows.append(py_row("python", "Cgroup pair vs model, a/b", s["cg"], s["cgmodel"],
                       "pymemcg.model Cgroup pair", op="pair", higher_is_better=True,
                       params={"depth": 2}))
    return rows


# -- memory per cgroup ------------------------------------------------------------------


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _heap_probe() -> Optional[Callable[[], int]]:
    """Bytes in use by malloc (glibc mallinfo2), or None where there is none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _Mallinfo2
    fn.argtypes = []

    def used() -> int:
        m = fn()
        return int(m.uordblks + m.hblkhd)
    return used


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@workload("memory", "bytes per cgroup (malloc'ed by the C core) on the v2 preset, 1, 4 and "
                    "64 CPUs")
def memory(ctx: Context) -> List[Row]:
    import pymemcg

    n = ctx.size.memory_cgroups
    heap = _heap_probe()
    nmid, nleaves = tree_shape(n)
    rows = []
    per: Dict[int, float] = {}
    for ncpus in (1, 4, 64):
        h = pymemcg.Hierarchy(pymemcg.Config.current(ncpus=ncpus))
        root = h.root.handle
        heap0 = heap() if heap else 0
        rss0 = _rss()
        made = ctx.runner.lib.pmc_bench_tree(h._h, root, nmid, nleaves, ctx.runner.ffi.NULL)
        heap1 = heap() if heap else 0
        rss1 = _rss()
        h.close()
        if made != n:
            raise RuntimeError(f"pmc_bench_tree: {made}")
        value = (heap1 - heap0) / n if heap else (rss1 - rss0) / n
        per[ncpus] = value
        rows.append(Row("memory", f"v2, {ncpus} CPU{'s' * (ncpus > 1)}", value,
                        unit="B/cgroup", op="cgroup", params={"cpus": ncpus, "cgroups": n},
                        limit=512.0 if ncpus == 4 else None,
                        source=ISSUE10 if ncpus == 4 else "",
                        note=f"({'malloc in-use bytes (mallinfo2)' if heap else 'RSS'} after "
                             f"creating {n:,} cgroups - before) / {n:,}").finish())
    rows.append(Row("memory", "per CPU slot", (per[64] - per[1]) / 63, unit="B/cgroup/CPU",
                    op="cgroup and CPU", params={"cpus": "1..64"},
                    note="(64 CPUs - 1 CPU) / 63").finish())
    ctx.note(f"memory: C core only (Python Cgroup objects not counted), {n} cgroups, "
             f"{'glibc mallinfo2' if heap else '/proc/self/statm RSS'}")
    return rows


# -- slab objects -----------------------------------------------------------------------------

_SLAB_MODES = {"objcg": {"preset": "current", "ncpus": 2},
               "clone": {"preset": "current", "ncpus": 2, "objcg": False},
               "none": {"preset": "current", "ncpus": 2, "slab_mode": "none"}}
_SLAB_NOTE = {
    "objcg": "the object's 200 bytes from the CPU's object stock and back (consume_obj_stock, "
             "refill_obj_stock), its objcg reference, the slot; a page charged or uncharged "
             "through the page stock every ~20 objects",
    "clone": "the slot in the cgroup's clone (found by memcg id); its slab page, charged "
             "whole, stays (a kept empty slab), so nothing is charged after the first",
    "none": "the slot alone: the slab lock, the free list, the owner recorded",
}


@workload("slab", "slab objects (192 B, SLAB_ACCOUNT) allocated and freed in objcg, clone "
                  "and none modes, one call per object and 64 per call, against a stock-hit "
                  "page charge; the C core's bytes per live object")
def slab(ctx: Context) -> List[Row]:
    import pymemcg

    specs: Dict[str, Dict[str, Any]] = {
        "hit": {"fn": "memcg", "config": _SLAB_MODES["objcg"], "depth": 2, "threads": 1,
                "mode": "STOCK_HIT"}}
    for mode, cfg in _SLAB_MODES.items():
        for kind in ("PAIR", "BULK"):
            specs[f"{mode}-{kind}"] = {"fn": "memcg", "config": cfg, "depth": 2, "threads": 1,
                                       "mode": f"SLAB_{kind}"}
    t = ctx.c_table(specs)
    hit_name = "a/b: one-page charge, stock hit"
    rows = [c_row("slab", hit_name, t["hit"], specs["hit"], op="charge", floor=1.0,
                  params={"path": "stock hit"},
                  note="the baseline of this table: pmc_cgroup_try_charge served by the stock")]
    for mode in _SLAB_MODES:
        for kind, what in (("PAIR", "one call each"), ("BULK", "64 per call")):
            k = f"{mode}-{kind}"
            rows.append(vs_row(
                "slab", f"{mode}: alloc+free, {what}", t[k], specs[k], t["hit"], hit_name,
                specs["hit"], op="alloc+free", params={"mode": mode, "path": kind.lower()},
                note=_SLAB_NOTE[mode]))

    # Bytes per live object: objects made in bulk, malloc'ed bytes before and after.
    heap = _heap_probe()
    n = ctx.size.slab_objects

    def per_object(cfg: Dict[str, Any]) -> Tuple[float, int]:
        h = pymemcg.Hierarchy(config_of(dict(cfg)))
        g = h.create("a")
        caches = [h.standard_cache(c) for c in ("dentry", "filp", "inode_cache",
                                                 "vm_area_struct")]
        heap0 = heap() if heap else _rss()
        handles = [c.alloc_many(g, n // len(caches)) for c in caches]
        heap1 = heap() if heap else _rss()
        made = sum(len(x) for x in handles)
        for x in handles:
            h.free_many(x)
        h.close()
        # The Python arrays of handles are not the core's: 8 bytes each, taken off.
        return (heap1 - heap0 - 8 * made) / made, made

    # Once for nothing: the first large arrays of a process move glibc's mmap
    # threshold (an mmapped block is not in the heap's in-use bytes).
    per_object(_SLAB_MODES["none"])
    for mode, cfg in _SLAB_MODES.items():
        per, made = per_object(cfg)
        rows.append(Row("slab", f"{mode}: bytes per live object", per, unit="B/object",
                        op="object", params={"mode": mode, "objects": made},
                        limit=16.0, source="issue 9",
                        note=f"({'malloc in-use bytes (mallinfo2)' if heap else 'RSS'} after "
                             f"{made:,} objects of dentry, filp, inode_cache and "
                             f"vm_area_struct - before - their handles' 8 bytes) / {made:,}: "
                             "slab headers, free lists (2 B a slot), owners (8 B a slot), "
                             "free slots of partial slabs included").finish())
    return rows


# -- the trace command ---------------------------------------------------------------------


@workload("trace", "text traces (pymemcg replay FILE): records per second, against "
                   "Hierarchy.replay")
def trace(ctx: Context) -> List[Row]:
    import pymemcg
    from pymemcg import trace as tr

    n = ctx.size.trace_records
    lines = ["config current", "create a", "create a/b"]
    lines += ["charge a/b 1", "uncharge a/b 1"] * (n // 2)
    h = pymemcg.Hierarchy(pymemcg.Config.current())
    g = h.create("a").create("b")
    ops = _pairs_ops(pymemcg, g, n - n % 2, False)
    out = pymemcg.replay.new_results(len(lines) - 3)

    def text(k: int) -> None:
        for _ in itertools.repeat(None, k):
            tr.run_trace(lines, pymemcg)

    def binary(k: int) -> None:
        for _ in itertools.repeat(None, k):
            h.replay(ops, out)

    # The binary form of the same trace (pymemcg.trace.save_binary's members,
    # loaded once: reading the file aside, as for the text row).
    bt = tr.to_binary(lines)

    def npz(k: int) -> None:
        for _ in itertools.repeat(None, k):
            tr.run_trace(bt, pymemcg)

    # All-distinct lines: random leaves among 1,000 cgroups (10 x 100), random
    # page counts, cpu=N; the tree's lines (config, creates) are timed alone
    # and taken off, so the rows count the record lines only.
    rnd = random.Random(10)
    tree = ["config current ncpus=4"]
    leaves = []
    for i in range(10):
        tree.append(f"create p{i}")
        for j in range(100):
            tree.append(f"create p{i}/c{j}")
            leaves.append(f"p{i}/c{j}")
    distinct = tree + [f"{'un' if k % 2 else ''}charge {rnd.choice(leaves)} "
                       f"{rnd.randint(1, 512)} cpu={rnd.randrange(4)}" for k in range(n)]
    bt_distinct = tr.to_binary(distinct)

    def text_distinct(k: int) -> None:
        for _ in itertools.repeat(None, k):
            tr.run_trace(distinct, pymemcg)

    def npz_distinct(k: int) -> None:
        for _ in itertools.repeat(None, k):
            tr.run_trace(bt_distinct, pymemcg)

    def tree_only(k: int) -> None:
        for _ in itertools.repeat(None, k):
            tr.run_trace(tree, pymemcg)

    s = ctx.py_table({"text": PySampler(text, ctx.size.py_sample_us, n, max_n=100),
                      "binary": PySampler(npz, ctx.size.py_sample_us, n, max_n=1000),
                      "replay": PySampler(binary, ctx.size.py_sample_us, n, max_n=1000),
                      "distinct": PySampler(text_distinct, ctx.size.py_sample_us, n, max_n=100),
                      "distinct_binary": PySampler(npz_distinct, ctx.size.py_sample_us, n,
                                                   max_n=100),
                      "tree": PySampler(tree_only, ctx.size.py_sample_us, n, max_n=100)})
    h.close()
    tree_ns = min(s["tree"])
    return [py_row("trace", "text trace, user-page pairs", s["text"], s["replay"],
                   "Hierarchy.replay of the same records", op="record", limit=1000.0,
                   source=ISSUE10, params={"records": n},
                   note="pymemcg.trace.run_trace (what `pymemcg replay FILE` runs, reading "
                        "aside); limit 1000 ns = 1 M records/s"),
            py_row("trace", "binary trace, user-page pairs", s["binary"], s["replay"],
                   "Hierarchy.replay of the same records", op="record", target=2.0,
                   source=ISSUE10, params={"records": n},
                   note="pymemcg.trace.run_trace of the .npz form (pymemcg.trace.to_binary "
                        "of the text row's lines; file reading aside): paths mapped to "
                        "handles, a replay per 16,384 records, results tallied; target 2x"),
            py_row("trace", "text trace, all-distinct lines",
                   [max(x - tree_ns, 1.0) for x in s["distinct"]],
                   [max(x - tree_ns, 1.0) for x in s["distinct_binary"]],
                   "the binary form of the same trace", op="record", limit=1000.0,
                   source=ISSUE10, params={"records": n, "cgroups": 1010},
                   note="pymemcg.trace.run_trace of charge/uncharge lines naming random "
                        "leaves among 1,000 cgroups with random page counts and cpu=N "
                        "(the lines read in C, pmc_trace_parse), less the config and "
                        "create lines timed alone; limit 1000 ns = 1 M records/s")]


# -- tasks: fork + exit, kmem pairs, faults ------------------------------------------------


#: The presets of the tasks workload: their stacks and how they charge kernel memory.
TASK_PRESETS = ("current", "current_v1", "linux_3_8")
#: The cgroup the tasks run in: a/b, depth 2 (three counter levels with the root's).
TASK_DEPTH = 2


def _task_facts(preset: str) -> Dict[str, Any]:
    """What a preset's stack and user pair must do at least (pymemcg.Config)."""
    cfg = config_of({"preset": preset})
    ncounters = 2 if cfg.memsw else 1          # memory (+ memsw): a user uncharge's walk
    return {"stack_pages": cfg.kernel_stack_pages, "per_page": cfg.stack_per_page,
            "v1": cfg.version == 1, "ncounters": ncounters,
            "pair_adds": 2 + (TASK_DEPTH + 1) * ncounters}


_KMEM_NOTE = {
    "current": "both ends served by the stock (consume_stock, refill_stock): no counter "
               "touched",
    "current_v1": "both ends from the stock, and v1's kmem counter walked each way (3 "
                  "levels): kmem charges never take the stock fast path on v1",
    "linux_3_8": "the kmem counter walked first, then the charge from the stock (a "
                 "32-page walk of memory and memsw every 32 charges); the uncharge walks "
                 "kmem, memory and memsw (3.8 sends no uncharge through the stock)",
}


@workload("tasks", "per preset (current, current_v1, linux_3_8 with kmem active): fork+exit "
                   "of a task, a kmem pair, a fault+unmap of one page, against a stock-hit "
                   "user-page pair; Python fork+exit and fault+unmap")
def tasks(ctx: Context) -> List[Row]:
    import pymemcg
    from pymemcg._core import ffi, lib

    modes = {"user": "USER_PAIR", "kmem": "KMEM_PAIR", "fork": "FORK_EXIT",
             "fault": "FAULT_UNMAP"}
    specs: Dict[str, Dict[str, Any]] = {}
    for p in TASK_PRESETS:
        for key, mode in modes.items():
            specs[f"{p}-{key}"] = {"fn": "memcg", "config": {"preset": p, "ncpus": 2},
                                   "depth": TASK_DEPTH, "threads": 1, "mode": mode}
    t = ctx.c_table(specs)

    # Python: the wrappers against bare CFFI calls of the same signatures.
    h = pymemcg.Hierarchy(pymemcg.Config.current(ncpus=2))
    g = h.create("a").create("b")
    task = g.fork()
    task.fault(1)                  # its page tables, once: later faults charge the page only
    task.unmap(1)
    done = ffi.new("int64_t *")

    def fork_exit(k: int) -> None:
        fork = g.fork
        for _ in itertools.repeat(None, k):
            fork().exit()

    def fork_floor(k: int, hh: int = h._h, cg: int = g.handle) -> None:
        fk, ex = lib.pmc_bench_nop_task_fork, lib.pmc_bench_nop_task_exit
        for _ in itertools.repeat(None, k):
            ex(hh, fk(hh, cg, 0, 0, 0), 0)

    def fault_unmap(k: int) -> None:
        fault, unmap = task.fault, task.unmap
        for _ in itertools.repeat(None, k):
            fault(1)
            unmap(1)

    def fault_floor(k: int, hh: int = h._h, tk: int = task.handle) -> None:
        fa, un = lib.pmc_bench_nop_task_fault, lib.pmc_bench_nop_task_unmap
        for _ in itertools.repeat(None, k):
            fa(hh, tk, 1, 0, done)
            un(hh, tk, 1, 0)

    s = ctx.py_table({"fork": ctx.py_sampler(fork_exit), "forkfloor": ctx.py_sampler(fork_floor),
                      "fault": ctx.py_sampler(fault_unmap),
                      "faultfloor": ctx.py_sampler(fault_floor)})
    task.exit()
    h.close()

    rows = []
    for p in TASK_PRESETS:
        f = _task_facts(p)
        user, user_spec = t[f"{p}-user"], specs[f"{p}-user"]
        user_name = f"{p}: user pair, stock hit"
        params = {"preset": p, "depth": TASK_DEPTH}
        pages = f["stack_pages"]
        stack = (f"{pages} one-page kmem charges, and {pages} one-page uncharges at exit (the "
                 f"kernel frees a VMAP stack page by page)" if f["per_page"] else
                 f"one {pages}-page kmem charge, one {pages}-page uncharge")
        rows.append(c_row(
            "tasks", user_name, user, user_spec, op="pair", units=f["pair_adds"], floor=1.0,
            params=dict(params, path="user pair"),
            note=f"try_charge(1) + uncharge(1) of a user page on a/b, the batch raised so that "
                 f"every charge is a stock hit; the baseline of the other rows. Reference: "
                 f"{f['pair_adds']} adds (the CPU slot's exchange each way, and the uncharge's "
                 f"locked subtraction on {TASK_DEPTH + 1} levels of {f['ncounters']} "
                 f"counter{'s' * (f['ncounters'] > 1)})"))
        rows.append(vs_row(
            "tasks", f"{p}: kmem pair, stock", t[f"{p}-kmem"], specs[f"{p}-kmem"], user,
            user_name, user_spec, op="pair", params=dict(params, path="kmem pair"),
            note=f"try_charge(1) + uncharge(1) of a kernel page: {_KMEM_NOTE[p]}"))
        rows.append(vs_row(
            "tasks", f"{p}: fork+exit", t[f"{p}-fork"], specs[f"{p}-fork"], user, user_name,
            user_spec, op="fork+exit", params=dict(params, path="fork+exit",
                                                    stack_pages=pages),
            note=f"pmc_task_fork + pmc_task_exit: the kernel stack as kernel memory ({stack}), "
                 f"the task's slot, its lists; in user pairs"))
        rows.append(c_row(
            "tasks", f"{p}: fork+exit, per stack-page operation", t[f"{p}-fork"],
            specs[f"{p}-fork"], op="fork+exit", units=2 * pages, floor=1.0,
            params=dict(params, path="fork+exit floor", stack_pages=pages),
            note=f"floor 1: 2 x {pages} stack-page operations (each page charged and "
                 f"uncharged), each at least one locked read-modify-write (a counter level's "
                 f"add or the CPU slot's exchange)"))
        rows.append(vs_row(
            "tasks", f"{p}: fault+unmap", t[f"{p}-fault"], specs[f"{p}-fault"], user,
            user_name, user_spec, op="fault+unmap", floor=1.0,
            params=dict(params, path="fault+unmap"),
            note="pmc_task_fault(1) + pmc_task_unmap(1) of one page by a task whose page "
                 "tables are already there: the user pair's charge and uncharge through the "
                 "task (floor 1), plus the task's look-ups and its page list"))
    rows.append(py_row("tasks", "Python: g.fork() + t.exit(), current", s["fork"],
                       s["forkfloor"], "bare CFFI fork+exit (empty C functions)",
                       op="fork+exit", floor=1.0, params={"preset": "current", "python": True},
                       note="the Python wrappers (a Task object each) against bare calls of "
                            "pmc_task_fork's and pmc_task_exit's signatures"))
    rows.append(py_row("tasks", "Python: t.fault(1) + t.unmap(1), current", s["fault"],
                       s["faultfloor"], "bare CFFI fault+unmap (empty C functions)",
                       op="fault+unmap", floor=1.0, params={"preset": "current", "python": True},
                       note="against bare calls of pmc_task_fault's and pmc_task_unmap's "
                            "signatures"))
    ctx.note("tasks: a/b (depth 2), 2 CPUs, CPU 0; kernel memory activated on every cgroup "
             "(linux_3_8: as its first kmem-limit write does); rows in user pairs are against "
             "the same preset's user pair, from the same table")
    return rows
