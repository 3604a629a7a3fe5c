"""How pymemcg.bench measures: C calls with their same-call baseline,
Python loops on thread CPU time, calibration and interleaving.

The rules (benchmarks/README.md):

* times are thread CPU time (``CLOCK_THREAD_CPUTIME_ID``, in C and through
  :func:`time.thread_time_ns`), so time spent waiting for a CPU on a busy
  two-core machine is not counted;
* a figure is the minimum of many short samples (a sample lasts about a
  quarter of a millisecond in C, a millisecond in Python), taken round-robin
  with the other runs of its table, so a disturbance hits every run alike
  and the minimum is the undisturbed cost;
* every C call times its own baseline (bare atomic adds on a private cache
  line) between its samples, on the same threads; Python rows are
  interleaved with their floor (the bare CFFI call of the same signature);
* rows with two or more threads are kept only from samples where every
  thread ran (thread CPU >= 0.95 * threads * wall); the row's cpu/wall over
  all its samples says whether they ran at once at all.
"""

from __future__ import annotations

import gc
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from ._result import PARALLEL_FRACTION

__all__ = ["CMeasure", "CRunner", "machine_facts", "interleave", "PySampler", "config_of",
           "MODES", "Tree"]

T = TypeVar("T")

#: pmc_bench_memcg modes by name (csrc/pymemcg.h).
MODES = ("STOCK_HIT", "DIRECT", "KMEM_PAIR", "REPLAY_HIT", "REPLAY_KMEM", "REPLAY_USER",
         "USER_PAIR", "FORK_EXIT", "FAULT_UNMAP", "SLAB_PAIR", "SLAB_BULK", "OWNED_HIT",
         "OWNED_KMEM")


# -- the machine ---------------------------------------------------------------


def cpu_model() -> str:
    """The CPU model as /proc/cpuinfo names it, with its family, model and
    stepping (a VM may show only "AMD EPYC"), else what platform says."""
    fields: Dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break                   # the first CPU is enough
                key, _, value = line.partition(":")
                fields.setdefault(key.strip().lower(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or fields.get("hardware") or fields.get("cpu model") or \
        platform.processor() or platform.machine() or "unknown"
    ids = [f"{k} {fields[k]}" for k in ("cpu family", "model", "stepping") if fields.get(k)]
    return f"{name} ({', '.join(ids)})" if ids else name


def machine_facts() -> Dict[str, Any]:
    """CPU model, CPU counts, load, Python and library versions, date."""
    import pymemcg

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
        "cpu": cpu_model(),
        "nproc": usable,
        "cpu_count": os.cpu_count(),
        "loadavg": loadavg,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cffi": cffi_version,
        "pymemcg": getattr(pymemcg, "__version__", "?"),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


# -- interleaving ----------------------------------------------------------------


def interleave(rounds: int, runs: Dict[str, Callable[[], T]]) -> Dict[str, List[T]]:
    """Call every run once per round, round-robin: round 1 of each, then
    round 2...  A machine that slows down during the measurement then
    slows every run alike instead of biasing one ratio."""
    out: Dict[str, List[T]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            out[name].append(fn())
    return out


# -- C calls -------------------------------------------------------------------


def config_of(spec: Dict[str, Any]) -> Any:
    """A pymemcg.Config from ``{"preset": "current", "ncpus": 2, field: value...}``."""
    import pymemcg

    fields = dict(spec)
    preset = fields.pop("preset", "current")
    return getattr(pymemcg.Config, preset)(**fields)


@dataclass
class CMeasure:
    """The samples of one or more C calls of one run, and what they give.

    Per sample: ``ns`` thread CPU ns per op per thread, ``base`` the
    baseline's ns per add (the fastest thread), ``wall`` wall ns per op per
    thread, ``parallel`` whether every thread ran for the whole sample.
    """

    threads: int
    ns: List[float] = field(default_factory=list)
    base: List[float] = field(default_factory=list)
    wall: List[float] = field(default_factory=list)
    parallel: List[bool] = field(default_factory=list)
    cpu_total: float = 0.0
    wall_total: float = 0.0
    iters: int = 0
    warmup: int = 0

    def add(self, other: "CMeasure") -> "CMeasure":
        self.ns += other.ns
        self.base += other.base
        self.wall += other.wall
        self.parallel += other.parallel
        self.cpu_total += other.cpu_total
        self.wall_total += other.wall_total
        self.iters, self.warmup = other.iters, other.warmup
        return self

    @property
    def value(self) -> float:
        """Min over the samples where every thread ran (all, if none did)."""
        kept = [x for x, p in zip(self.ns, self.parallel) if p]
        return min(kept or self.ns)

    @property
    def base_value(self) -> float:
        return min(self.base)

    @property
    def wall_value(self) -> float:
        return min(self.wall)

    @property
    def cpu_wall(self) -> float:
        """Thread CPU time / wall time over every sample: near the thread
        count when the threads really ran at once."""
        return self.cpu_total / self.wall_total if self.wall_total else 0.0

    @property
    def parallel_fraction(self) -> float:
        return sum(self.parallel) / len(self.parallel) if self.parallel else 0.0


def merge(measures: Sequence[CMeasure]) -> CMeasure:
    out = CMeasure(threads=measures[0].threads)
    for m in measures:
        out.add(m)
    return out


@dataclass
class Tree:
    """A hierarchy with ``ncgroups`` cgroups below the root: ``nmid`` middle
    cgroups and leaves spread below them (built by pmc_bench_tree)."""

    hierarchy: Any
    leaves: Any                 # int64_t[] of leaf handles
    nleaves: int
    nmid: int

    @property
    def ncgroups(self) -> int:
        return self.nmid + self.nleaves


def tree_shape(ncgroups: int) -> Tuple[int, int]:
    """(middle cgroups, leaves) for a tree of ncgroups below the root: about
    sqrt(n) middles, the rest leaves two levels down (1: one leaf)."""
    if ncgroups < 4:
        return 0, ncgroups
    mid = int(round(ncgroups ** 0.5))
    return mid, ncgroups - mid


class CRunner:
    """Runs C benchmark calls described by JSON-able specs (so that the
    callgrind child can run the same calls), keeping the trees that some
    need for the whole run."""

    def __init__(self) -> None:
        from .._core import ffi, lib

        self.ffi, self.lib = ffi, lib
        self._trees: Dict[Tuple[str, int], Tree] = {}

    def close(self) -> None:
        for t in self._trees.values():
            t.hierarchy.close()
        self._trees.clear()

    def tree(self, ncgroups: int, config: Dict[str, Any]) -> Tree:
        import json

        import pymemcg

        key = (json.dumps(config, sort_keys=True), ncgroups)
        t = self._trees.get(key)
        if t is None:
            h = pymemcg.Hierarchy(config_of(config))
            nmid, nleaves = tree_shape(ncgroups)
            leaves = self.ffi.new("int64_t[]", max(nleaves, 1))
            made = self.lib.pmc_bench_tree(h._h, h.root.handle, nmid, nleaves, leaves)
            _check(made, f"pmc_bench_tree({ncgroups})")
            t = Tree(h, leaves, nleaves, nmid)
            self._trees[key] = t
        return t

    def call(self, spec: Dict[str, Any], iters: int, samples: int, base_iters: int) -> CMeasure:
        """One C call: ``samples`` samples of ``iters`` ops per thread."""
        ffi, lib = self.ffi, self.lib
        out = ffi.new("struct pmc_bench_result *")
        cpu = ffi.new("uint64_t[]", samples)
        wall = ffi.new("uint64_t[]", samples)
        base = ffi.new("uint64_t[]", samples)
        out.samples = samples
        out.base_iters = base_iters
        out.sample_cpu_ns, out.sample_wall_ns, out.sample_base_ns = cpu, wall, base
        fn = spec["fn"]
        threads = int(spec.get("threads", 1))
        if fn == "atomic_add":
            rc = lib.pmc_bench_atomic_add(iters, out)
        elif fn == "counter_pair":
            rc = lib.pmc_bench_page_counter_pair(spec["depth"], threads, int(spec["shared"]),
                                                 iters, out)
        elif fn == "memcg":
            from ..hierarchy import _config_struct

            mode = getattr(lib, "PMC_BENCH_" + spec["mode"])
            if spec.get("own"):
                mode |= lib.PMC_BENCH_OWN_CGROUPS
            rc = lib.pmc_bench_memcg(_config_struct(config_of(spec["config"])), spec["depth"],
                                     threads, mode, iters, out)
        elif fn == "replay_pairs":
            t = self.tree(spec["ncgroups"], spec["config"])
            rc = lib.pmc_bench_replay_pairs(t.hierarchy._h, t.leaves, t.nleaves,
                                            int(spec["kmem"]), spec.get("seed", 1), iters, out)
        else:
            raise ValueError(f"unknown C benchmark call {fn!r}")
        _check(rc, f"{fn}({spec})")
        m = CMeasure(threads=threads, iters=iters, warmup=int(out.warmup_ops))
        for i in range(samples):
            c, w = int(cpu[i]), max(int(wall[i]), 1)
            m.ns.append(c / (iters * threads))
            m.wall.append(w / iters)
            m.base.append(int(base[i]) / base_iters)
            m.parallel.append(threads == 1 or c >= PARALLEL_FRACTION * threads * w)
            m.cpu_total += c
            m.wall_total += w
        return m

    def calibrated(self, spec: Dict[str, Any], sample_us: float, base_us: float,
                   max_iters: int = 10_000_000) -> Tuple[int, int]:
        """(iters, base_iters) for samples of about sample_us and base_us
        microseconds: one short call of 3 samples gives the cost per op."""
        probe = 512 if spec["fn"] == "replay_pairs" else 1000
        m = self.call(spec, probe, 3, 1000)
        iters = _even(sample_us * 1000 / max(min(m.ns), 0.05), 64, max_iters)
        base_iters = _even(base_us * 1000 / max(min(m.base), 0.05), 256, max_iters)
        return iters, base_iters


def _even(x: float, lo: int, hi: int) -> int:
    n = int(min(max(x, lo), hi))
    return n - n % 2


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise RuntimeError(f"{what}: {os.strerror(-rc)} ({rc})")


# -- Python loops -----------------------------------------------------------------


class PySampler:
    """Samples of a Python loop: each sample runs ``loop(n)`` and returns
    thread CPU ns per op (``ops_per_iter`` ops per iteration of the loop),
    with the cyclic garbage collector off.  Calibrated on creation (after a
    warm-up for caches and the specialising interpreter) to last about
    ``sample_us``."""

    def __init__(self, loop: Callable[[int], Any], sample_us: float, ops_per_iter: int = 1,
                 max_n: int = 1_000_000) -> None:
        self.loop = loop
        self.ops = ops_per_iter
        # Warm-up and calibration together: 1, 4, 16 ... iterations until a
        # tenth of a sample (a loop slower than a sample runs once per sample).
        goal = sample_us * 1000
        k, t = 1, self._time(1)
        while t < goal / 10 and k < max_n:
            k = min(k * 4, max_n)
            t = self._time(k)
        self.n = int(min(max(goal * k / max(t, 1.0), 1), max_n))

    def _time(self, n: int) -> float:
        enabled = gc.isenabled()
        gc.disable()
        try:
            t0 = time.thread_time_ns()
            self.loop(n)
            t1 = time.thread_time_ns()
        finally:
            if enabled:
                gc.enable()
        return float(t1 - t0)

    def __call__(self) -> float:
        return self._time(self.n) / (self.n * self.ops)


def thread_clock_ok() -> bool:
    """Whether thread CPU time has a useful resolution here."""
    try:
        res = time.get_clock_info("thread_time").resolution
    except (ValueError, OSError):  # pragma: no cover
        return False
    return res <= 1e-6


def python_is_debug() -> bool:
    return hasattr(sys, "gettotalrefcount")


def valgrind_path() -> Optional[str]:
    import shutil

    return shutil.which("valgrind")
