"""The memcg charge path: stock hits (single call, replay), contention from
1..N threads, replay from Python, the number of cgroups, listing, memory
per cgroup, the trace command and tasks (fork+exit, fault+unmap).

    python benchmarks/bench_memcg.py [--quick] [--threads N] [--json FILE] ...

A thin caller of ``pymemcg bench stock contention replay scale listing
memory trace tasks`` (pymemcg.bench): every option of ``pymemcg bench`` works
here.  Nothing here gates CI.
"""

from __future__ import annotations

import os
import sys

try:
    import pymemcg.bench
except ImportError:  # run from a checkout without an install
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import pymemcg.bench

WORKLOADS = ["stock", "contention", "replay", "scale", "listing", "memory", "trace", "tasks"]

if __name__ == "__main__":
    args = sys.argv[1:]
    named = [a for a in args if a in pymemcg.bench.WORKLOADS]
    sys.exit(pymemcg.bench.main(args if named else WORKLOADS + args))
