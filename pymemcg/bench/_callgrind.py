"""Instructions per op from callgrind, where valgrind is installed.

A child Python (``python -m pymemcg.bench._callgrind SPECS.json``) runs
under ``valgrind --tool=callgrind`` with collection on only inside the C
loop functions (``bench_loop_*`` of csrc/bench*.c, and what they call),
and a dump after each of them.  Every spec runs twice, at I1 and I2
operations (one sample each); instructions per op = (Ir of the I2 sample -
Ir of the I1 sample) / (I2 - I1), so whatever a call costs once (its
set-up, a replay buffer's first touch) cancels out.  One thread only:
callgrind serialises threads anyway.  Slow (Python starts under
valgrind): ``--callgrind`` asks for it.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["available", "measure", "spec_key", "LOOPS", "I1", "I2"]

I1, I2 = 2_000, 6_000
BASE_ITERS = 256
#: The loop functions of csrc/bench*.c, if nm cannot list them.
LOOPS = ("bench_loop_atomic_add", "bench_loop_counter_pair", "bench_loop_charge",
         "bench_loop_kmem_pair", "bench_loop_user_pair", "bench_loop_fork_exit",
         "bench_loop_fault_unmap", "bench_loop_replay", "bench_loop_slab_pair",
         "bench_loop_slab_bulk", "bench_loop_owned_hit", "bench_loop_owned_kmem")
#: Trees bigger than this take too long to build under valgrind.
MAX_CGROUPS = 10_000


def spec_key(spec: Dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True)


def available() -> Optional[str]:
    from ._measure import valgrind_path

    return valgrind_path()


def _loop_names() -> List[str]:
    """The loops' symbols as the extension has them: with -flto a static
    function may be renamed (``bench_loop_charge.lto_priv.0``), and
    ``--dump-after`` needs the name valgrind sees."""
    from .. import _core

    path = str(getattr(_core, "__file__", ""))
    try:
        out = subprocess.run(["nm", path], capture_output=True, text=True,
                             timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return list(LOOPS)
    names = sorted({m.group(1) for m in re.finditer(r"\s[tT]\s+(bench_loop_[\w.]+)$", out, re.M)})
    return names or list(LOOPS)


def measurable(spec: Dict[str, Any]) -> bool:
    return int(spec.get("threads", 1)) == 1 and \
        int(spec.get("ncgroups", 0)) <= MAX_CGROUPS


def measure(specs: Sequence[Dict[str, Any]], timeout: float = 900) -> Dict[str, float]:
    """Instructions per op of every spec (by :func:`spec_key`); raises
    RuntimeError when valgrind fails or its dumps do not add up."""
    valgrind = available()
    if not valgrind:
        raise RuntimeError("valgrind is not installed")
    todo = [s for s in specs if measurable(s)]
    uniq = list({spec_key(s): s for s in todo}.values())
    if not uniq:
        return {}
    with tempfile.TemporaryDirectory(prefix="pymemcg-callgrind-") as tmp:
        spec_file = os.path.join(tmp, "specs.json")
        with open(spec_file, "w", encoding="utf-8") as f:
            json.dump(uniq, f)
        out = os.path.join(tmp, "cg.out")
        cmd = [valgrind, "--tool=callgrind", "--collect-atstart=no",
               "--toggle-collect=bench_loop_*", f"--callgrind-out-file={out}"]
        cmd += [f"--dump-after={name}" for name in _loop_names()]
        cmd += [sys.executable, "-m", "pymemcg.bench._callgrind", spec_file]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"valgrind exited {proc.returncode}: {' / '.join(tail)}")
        dumps = sorted(glob.glob(out + ".*"), key=lambda p: int(p.rsplit(".", 1)[1]))
        irs = [_total(p) for p in dumps]
    if len(irs) != 4 * len(uniq):
        raise RuntimeError(f"callgrind: {len(irs)} dumps for {len(uniq)} specs (4 each)")
    result = {}
    for i, spec in enumerate(uniq):
        _w1, s1, _w2, s2 = irs[4 * i: 4 * i + 4]
        result[spec_key(spec)] = (s2 - s1) / (I2 - I1)
    return result


def _total(path: str) -> int:
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    return 0


def _child(spec_file: str) -> int:
    from ._measure import CRunner

    with open(spec_file, encoding="utf-8") as f:
        specs = json.load(f)
    runner = CRunner()
    try:
        for spec in specs:
            if spec["fn"] == "replay_pairs":
                runner.tree(spec["ncgroups"], spec["config"])   # built outside the counting
            runner.call(spec, I1, 1, BASE_ITERS)
            runner.call(spec, I2, 1, BASE_ITERS)
    finally:
        runner.close()
    return 0


if __name__ == "__main__":  # the child under valgrind
    sys.exit(_child(sys.argv[1]))
