"""Run the fuzz harnesses, each in its own process, and summarize.

    python tests/fuzz/run_all.py [--seconds S] [--runs N] [--engine E]
                                 [--workdir DIR] [--seed N] [HARNESS ...]

``make fuzz`` runs every harness for ``FUZZ_SECONDS`` (default 600) with
atheris; ``tests/test_fuzz_short.py`` calls :func:`run_one` with a small
budget.  Each harness writes its log to ``WORKDIR/NAME.log`` and its corpus
and artifacts (``crash-*``, ``timeout-*``, ``oom-*``) under ``WORKDIR/NAME/``.
The summary gives each harness' execution count (libFuzzer's ``Done N runs``)
and exits 1 if any harness reported anything.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import re
import subprocess
import sys
import time
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESSES = ["fuzz_memparse", "fuzz_file_write", "fuzz_replay", "fuzz_trace"]


@dataclasses.dataclass
class Result:
    name: str
    engine: str
    ok: bool
    runs: int
    seconds: float
    log: str
    artifacts: List[str]
    tail: str

    @property
    def rate(self) -> float:
        return self.runs / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        status = "ok" if self.ok else "REPORT"
        text = (f"{self.name:<16} {status:<6} {self.engine:<10} {self.runs:>11,} executions "
                f"in {self.seconds:5.0f} s ({self.rate:,.0f}/s)")
        if not self.ok:
            text += f"\n    log: {self.log}"
            for a in self.artifacts:
                text += f"\n    reproducer: {a}  (python {HERE}/{self.name}.py {a})"
        return text


def atheris_available() -> bool:
    try:
        import atheris  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


def run_one(name: str, workdir: str, seconds: float = 0, runs: int = 0, engine: str = "auto",
            seed: Optional[int] = None, extra: Optional[List[str]] = None,
            python: str = sys.executable) -> Result:
    """Run one harness in a fresh process; never raises for a finding."""
    if engine == "auto":
        engine = "atheris" if atheris_available() else "hypothesis"
    wd = os.path.join(workdir, name)
    os.makedirs(wd, exist_ok=True)
    log = os.path.join(workdir, f"{name}.log")
    cmd = [python, os.path.join(HERE, f"{name}.py"), f"--engine={engine}", "--workdir", wd]
    if seconds:
        cmd += ["--seconds", str(seconds)]
    if runs:
        cmd += ["--runs", str(runs)]
    env = dict(os.environ)
    if seed is not None:
        if engine == "atheris":
            cmd.append(f"-seed={seed}")
        env["PYMEMCG_FUZZ_SEED"] = str(seed)
    cmd += extra or []
    before = set(_artifacts(wd))
    start = time.monotonic()
    # A hard limit well past the harness' own budget catches a hang that the
    # engine's per-input timeout did not (Hypothesis has none).
    limit = (seconds or 600) * 2 + 120
    with open(log, "w") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        try:
            rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                timeout=limit).returncode
        except subprocess.TimeoutExpired:
            rc = -1
            out.write(f"\nrun_all: killed after {limit} s\n")
    elapsed = time.monotonic() - start
    with open(log, errors="replace") as f:
        text = f.read()
    done = re.findall(r"^Done (\d+) runs in (\d+) second", text, re.M)
    units = re.findall(r"^stat::number_of_executed_units: (\d+)", text, re.M)
    counts = re.findall(r"^#(\d+)\s", text, re.M)  # libFuzzer's status lines
    n = int(units[-1]) if units else int(done[-1][0]) if done else int(counts[-1]) if counts else 0
    # libFuzzer's whole seconds are too coarse for a short run
    secs = float(done[-1][1]) if done and float(done[-1][1]) >= 10 else elapsed
    artifacts = sorted(set(_artifacts(wd)) - before)
    last = os.path.join(wd, "last-input")
    if rc < 0 and engine != "atheris" and os.path.exists(last):
        artifacts.append(last)  # killed by a signal: the input it was running
    ok = rc == 0 and not artifacts
    tail = "\n".join(_interesting(text))
    return Result(name, engine, ok, n, secs, log, artifacts, tail)


def _artifacts(wd: str) -> List[str]:
    return [p for pat in ("crash-*", "timeout-*", "oom-*", "leak-*", "slow-unit-*")
            for p in glob.glob(os.path.join(wd, pat))]


def _interesting(text: str, limit: int = 60) -> List[str]:
    """The log without libFuzzer's progress lines and instrumentation notes."""
    lines = [ln for ln in text.splitlines()
             if not re.match(r"^(#\d+\s|INFO: Instrumenting|\s*\"\\|\"[^\"]*\" # Uses)", ln)]
    return lines[-limit:]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", 600)))
    p.add_argument("--runs", type=int, default=0)
    p.add_argument("--engine", default="atheris", choices=["auto", "atheris", "hypothesis"])
    p.add_argument("--workdir", default=os.path.join("build", "fuzz"))
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("harness", nargs="*", default=HARNESSES)
    args = p.parse_args()
    if args.engine == "atheris" and not atheris_available():
        print("run_all: atheris is not installed (pip install '.[fuzz]'); "
              "use --engine hypothesis for the fallback", file=sys.stderr)
        return 2
    names = [os.path.splitext(os.path.basename(h))[0] for h in args.harness]
    names = [n if n.startswith("fuzz_") else f"fuzz_{n}" for n in names]
    results = []
    for name in names:
        print(f"== {name}: {args.engine}, {args.seconds:.0f} s"
              + (f", at most {args.runs} runs" if args.runs else "") + " ...", flush=True)
        r = run_one(name, args.workdir, args.seconds, args.runs, args.engine, args.seed)
        results.append(r)
        print(r.line(), flush=True)
        if not r.ok:
            print("    " + r.tail.replace("\n", "\n    "), flush=True)
    print("\nsummary (executions per harness):")
    for r in results:
        print("  " + r.line().split("\n")[0])
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
