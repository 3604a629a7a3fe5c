#!/usr/bin/env python3
"""Plant known bugs in a copy of csrc/, one at a time; the C programs must catch each.

    python3 tests/c/planted.py [--seeds N] [--only NAME ...]      (make -C tests/c planted)

Each plant names a function of csrc/ (found in whichever file defines it), a
piece of its code and what replaces it; the copy is built in build/planted/<name> in the plant's flavour and the
programs listed run (stress_memcg with seeds 1..N until one fails).  A plant
is caught when a program fails (a failed check, a sanitizer report or a
crash).  A plant whose code is no longer where it was is "not applicable"
(the core moved on: update the plant), which does not fail the run; a plant
that is not caught does.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "build", "planted")
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
           UBSAN_OPTIONS="halt_on_error=1", TSAN_OPTIONS="halt_on_error=1")


@dataclass
class Plant:
    name: str
    why: str
    function: str
    old: str
    new: str
    flavour: str
    programs: tuple[str, ...]


PLANTS = [
    Plant("free-before-quiescence",
          "a dying cgroup freed without waiting for the CPUs that may still use it",
          "memcg_free_dying", "synchronize_cpus(h);", "/* planted */",
          "asan", ("stress_memcg",)),
    Plant("failed-hook-ignored",
          "a reclaim callback's failure taken for no progress",
          "try_charge_memcg", "return (int)nr_reclaimed;", "nr_reclaimed = 0;",
          "plain", ("test_memcg", "stress_memcg")),
    Plant("liar-believed",
          "the progress of reclaim taken from the callback's claim",
          "reclaim_unlocked", "return (long)claimed;",
          "return (long)claimed;\n\treturn (long)claimed;", "plain", ("test_memcg", "stress_memcg")),
    Plant("high-not-reclaimed",
          "memory.high events without the reclaim that goes with them",
          "reclaim_high", "r = reclaim_unlocked(h, memcg, nr_pages);", "r = 0;",
          "plain", ("test_memcg", "stress_memcg")),
    Plant("drain-record-ignored",
          "a replay drain record that drains nothing",
          "replay_drain", "drain_stock_fully(st->h, op->cpu);", "/* planted */",
          "plain", ("test_memcg",)),
]


def function_span(text: str, name: str) -> tuple[int, int] | None:
    """[start, end) of a top-level C function definition (its body closes with "\\n}\\n")."""
    m = re.search(r"^[A-Za-z_][^\n;]*\b" + re.escape(name) + r"\([^;{]*\)\s*\{", text, re.M)
    if not m:
        return None
    end = text.find("\n}\n", m.end())
    return (m.start(), end + 3) if end >= 0 else None


def plant(p: Plant) -> str | None:
    """Build the planted copy; None if the plant does not apply."""
    d = os.path.join(OUT, p.name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "csrc"), os.path.join(d, "csrc"))
    for path in sorted(glob.glob(os.path.join(d, "csrc", "*.c"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        span = function_span(text, p.function)
        if span and p.old in text[span[0]:span[1]]:
            break
    else:
        return None
    body = text[span[0]:span[1]].replace(p.old, p.new, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:span[0]] + body + text[span[1]:])
    targets = [os.path.join(d, "build", p.flavour, prog) for prog in p.programs]
    # A plant may leave a parameter unused: warnings are not errors here.
    build = subprocess.run(["make", "-s", "-C", HERE, f"CSRC={d}/csrc", f"BUILD={d}/build",
                            "CFLAGS=-Wno-error", *targets], capture_output=True, text=True)
    if build.returncode:
        sys.exit(f"planted: {p.name}: the planted copy does not build:\n{build.stderr}")
    return d


def caught(p: Plant, d: str, seeds: int) -> str | None:
    """What caught the plant (its first line of evidence), or None."""
    for prog in p.programs:
        for seed in range(1, (seeds if prog.startswith("stress") else 1) + 1):
            args = ["4", "20000", str(seed)] if prog.startswith("stress") else []
            out = subprocess.run([os.path.join(d, "build", p.flavour, prog), *args], env=ENV,
                                 capture_output=True, text=True, timeout=600)
            if out.returncode:
                text = out.stderr + out.stdout
                line = next((ln for ln in text.splitlines()
                             if "ERROR: AddressSanitizer" in ln or "WARNING: ThreadSanitizer" in ln
                             or "FAILED" in ln), f"exit status {out.returncode}")
                return f"{prog} seed {seed}: {line.strip()[:160]}"
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=6, help="stress seeds to try (1..N)")
    ap.add_argument("--only", nargs="*", help="plant names")
    ap.add_argument("--flavour", help="build every plant in this flavour (plain, asan, tsan)")
    args = ap.parse_args()
    missed = 0
    for p in PLANTS:
        if args.only and p.name not in args.only:
            continue
        if args.flavour:
            p = Plant(**{**p.__dict__, "flavour": args.flavour})
        d = plant(p)
        if d is None:
            print(f"planted {p.name}: not applicable ({p.function}() is gone or changed)")
            continue
        how = caught(p, d, args.seeds)
        if how:
            print(f"planted {p.name} ({p.why}): caught by {how}")
        else:
            missed += 1
            print(f"planted {p.name} ({p.why}): NOT CAUGHT by {', '.join(p.programs)} "
                  f"({p.flavour})")
    print("planted: every plant caught" if not missed else f"planted: {missed} not caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
