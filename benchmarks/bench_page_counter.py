"""The page counter: try_charge + uncharge pairs by depth (C, 1 and 2 threads)
and the per-call Python cost against the bare CFFI call.

    python benchmarks/bench_page_counter.py [--quick] [--json FILE] [--plot FILE.png] ...

A thin caller of ``pymemcg bench pairs python`` (pymemcg.bench): every
option of ``pymemcg bench`` works here.  Nothing here gates CI.
"""

from __future__ import annotations

import os
import sys

try:
    import pymemcg.bench
except ImportError:  # run from a checkout without an install
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import pymemcg.bench

WORKLOADS = ["pairs", "python"]

if __name__ == "__main__":
    args = sys.argv[1:]
    named = [a for a in args if a in pymemcg.bench.WORKLOADS]
    sys.exit(pymemcg.bench.main(args if named else WORKLOADS + args))
