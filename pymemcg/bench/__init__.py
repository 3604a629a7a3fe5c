"""pymemcg.bench: timed C loops on pthreads and Python loops, each against
a baseline measured in the same run (``pymemcg bench``).

    >>> import pymemcg.bench
    >>> result = pymemcg.bench.run(["pairs", "stock"], size="quick")
    >>> print(result.table())
    >>> open("bench.json", "w").write(result.to_json())

How it measures (benchmarks/README.md has the whole of it):

* C loops run on pthreads, each thread owning its CPU slot, started from
  Python with the GIL released (a CFFI call); each C call times its own
  baseline, bare atomic adds on a private cache line, between its samples,
  on the same threads;
* Python loops are sampled round-robin with their floor, the bare CFFI
  call of the same signature (empty C functions);
* times are thread CPU time; a figure is the minimum of many short samples
  taken round-robin with the other runs of its table; rows of 2+ threads
  report cpu/wall and are "not parallel" under 0.95 * threads (1.9 of 2);
* a ratio below its physical floor is reported as noise;
* ``callgrind=True`` adds instructions per op of the one-thread C rows,
  where valgrind is installed;
* nothing here is a test: speed never gates CI.

Workloads: :data:`WORKLOADS` (``pymemcg bench --list``); add one with
:func:`workload` (see :mod:`pymemcg.bench.workloads`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, List, NoReturn, Optional, Sequence

from ._result import FORMAT_VERSION, Result, Row
from .workloads import SIZES, WORKLOADS, Context, Size, Workload, workload

__all__ = ["run", "Result", "Row", "WORKLOADS", "SIZES", "Size", "Workload", "Context",
           "workload", "RULE", "main", "add_arguments", "main_args", "FORMAT_VERSION"]

RULE = ("thread CPU time; each figure the min of {samples} short samples taken round-robin "
        "across the runs of its table; each C call times its own baseline (bare atomic adds) "
        "between its samples; Python rows are sampled round-robin with their floor; every "
        "ratio is within this run")


def run(workloads: Optional[Sequence[str]] = None, *, size: str = "full",
        threads: Optional[int] = None, callgrind: bool = False,
        progress: Optional[Callable[[str], None]] = None) -> Result:
    """Run the workloads (all by default) and return their rows.

    size: ``"full"``, ``"quick"`` or ``"tiny"`` (a smoke run: every code
    path, figures meaningless).  threads: the most threads of the contention
    workload (default: the usable CPUs, at least 2).  callgrind: add
    instructions per op from valgrind's callgrind (slow; a note says why
    when it cannot).
    """
    from ._measure import CRunner, machine_facts

    names = list(workloads) if workloads else list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workload(s) {', '.join(unknown)}; "
                         f"known: {', '.join(WORKLOADS)}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}")
    sz = SIZES[size]
    if threads is None:
        try:
            threads = max(2, len(os.sched_getaffinity(0)))
        except (AttributeError, OSError):
            threads = max(2, os.cpu_count() or 2)
    if threads < 1:
        raise ValueError("threads must be at least 1")
    t0 = time.monotonic()
    facts = machine_facts()
    runner = CRunner()
    ctx = Context(sz, threads, runner)
    rows: List[Row] = []
    try:
        for name in names:
            t = time.monotonic()
            if progress:
                progress(f"{name} ...")
            rows += WORKLOADS[name].fn(ctx)
            if progress:
                progress(f"{name}: {time.monotonic() - t:.1f} s")
    finally:
        runner.close()
    result = Result(machine=facts, rule=RULE.format(samples=sz.rounds * sz.samples),
                    size=size, workloads=names, rows=rows, notes=ctx.notes)
    if callgrind:
        _add_callgrind(result, progress)
    result.seconds = time.monotonic() - t0
    return result


def _add_callgrind(result: Result, progress: Optional[Callable[[str], None]]) -> None:
    from . import _callgrind as cg

    specs = [s for r in result.rows for s in (r.c_call, r.baseline_call) if s]
    if not cg.available():
        result.callgrind = "not run: valgrind is not installed"
        return
    if progress:
        progress("callgrind ...")
    try:
        irs = cg.measure(specs)
    except (RuntimeError, OSError) as e:
        result.callgrind = f"failed: {e}"
        return
    from .workloads import ATOMIC

    for r in result.rows:
        if r.c_call:
            r.ir = irs.get(cg.spec_key(r.c_call))
        # Against another row only: an add's loop (6 Ir) is no unit of instructions.
        if r.baseline_call and r.baseline_call != ATOMIC:
            r.baseline_ir = irs.get(cg.spec_key(r.baseline_call))
    add = irs.get(cg.spec_key(ATOMIC))
    result.callgrind = (f"instructions per op (Ir/op) of the one-thread C rows, valgrind "
                        f"--tool=callgrind, the difference of runs of {cg.I2} and {cg.I1} ops; "
                        f"the bare atomic add's loop: {add if add is None else round(add, 1)} "
                        "Ir/op; Ir ratio = Ir/op / (x * the baseline row's Ir/op)")


# -- the command -------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``pymemcg bench`` (also ``python -m pymemcg.bench``)."""
    p.add_argument("workloads", nargs="*", metavar="WORKLOAD",
                   help=f"workloads to run (default: all): {', '.join(WORKLOADS)}")
    p.add_argument("--quick", action="store_true",
                   help="fewer and shorter samples, smaller trees (about a third of the time)")
    p.add_argument("--size", choices=list(SIZES), default=None,
                   help="full (default), quick (= --quick) or tiny (a smoke run: figures "
                        "meaningless)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="most threads of the contention workload (default: usable CPUs, "
                        "at least 2)")
    p.add_argument("--json", metavar="FILE", help="write the result as JSON to FILE")
    p.add_argument("--plot", metavar="FILE.png",
                   help="plot ns/op against threads, depth and number of cgroups "
                        "(needs matplotlib: the plot extra)")
    p.add_argument("--markdown", metavar="FILE",
                   help="write every row as a Markdown table to FILE (benchmarks/README.md)")
    p.add_argument("--callgrind", action="store_true",
                   help="instructions per op of the one-thread C rows from valgrind's "
                        "callgrind (slow; needs valgrind)")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--quiet", action="store_true", help="no progress lines on standard error")


def main_args(args: argparse.Namespace) -> int:
    """Run ``pymemcg bench`` with parsed arguments; returns the exit status
    (0 whatever the ratios: a miss is a figure, not a failure)."""
    if args.list:
        for w in WORKLOADS.values():
            print(f"{w.name:<12} {w.help}")
        return 0
    unknown = [n for n in args.workloads if n not in WORKLOADS]
    if unknown:
        print(f"pymemcg bench: unknown workload {unknown[0]!r} (known: "
              f"{', '.join(WORKLOADS)})", file=sys.stderr)
        return 2
    if args.threads is not None and args.threads < 1:
        print("pymemcg bench: --threads must be at least 1", file=sys.stderr)
        return 2
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("pymemcg bench: --plot needs matplotlib (pip install 'pymemcg[plot]')",
                  file=sys.stderr)
            return 1
    size = args.size or ("quick" if args.quick else "full")

    def progress(text: str) -> None:
        print(f"bench: {text}", file=sys.stderr, flush=True)

    result = run(args.workloads or None, size=size, threads=args.threads,
                 callgrind=args.callgrind, progress=None if args.quiet else progress)
    print(result.table(), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(result.to_json())
            f.write("\n")
    if args.markdown:
        from ._report import markdown

        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(markdown(result) + "\n")
    if args.plot:
        from ._report import plot

        plot(result, args.plot)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line, as the pymemcg command's."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``pymemcg bench``, ``python -m pymemcg.bench``; the benchmarks/
    scripts call this too.  Returns the exit status."""
    p = _Parser(prog="pymemcg bench",
                description="Timed C loops on pthreads and Python loops, each as a ratio to "
                            "a baseline measured in the same run (pymemcg.bench; "
                            "benchmarks/README.md has the rules).",
                epilog="exit status: 0 whatever the ratios (a miss is a figure, not a "
                       "failure); 1 when --plot lacks matplotlib; 2 for a bad command line")
    add_arguments(p)
    try:
        return main_args(p.parse_args(argv))
    except BrokenPipeError:  # `... | head`: stop quietly, as the pymemcg command does
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 141
