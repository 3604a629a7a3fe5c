"""Hierarchy.replayer: buffers bound once, runs of any length (both backends).

Oracle: a run over a slice leaves the results and the state that
Hierarchy.replay of the same records leaves on a twin hierarchy.
"""

from __future__ import annotations

import random
import types
from typing import Any, List

import numpy as np
import pytest

import pymemcg
from pymemcg import replay as R


def _twin(mc: types.ModuleType) -> Any:
    h = mc.Hierarchy(mc.Config.current(ncpus=2))
    a = h.create("a")
    a.write("memory.max", str(200 * 4096))
    return h, [a.create("b"), a.create("c")]


def _records(cgs: List[Any], n: int, seed: int) -> Any:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        op = rng.choice([R.OP_CHARGE, R.OP_CHARGE, R.OP_UNCHARGE, R.OP_DRAIN])
        # ops() tuples: (op, cgroup, nr_pages, cpu, flags, kmem)
        rows.append((op, rng.choice(cgs).handle, rng.randint(1, 90), rng.randrange(2),
                     pymemcg.GFP_NOWAIT if op == R.OP_CHARGE else 0, int(rng.random() < 0.3)))
    return R.ops(rows)


def _state(h: Any) -> List[Any]:
    return [(c.path, c.memory.usage, sorted(c.stat.items())) for c in h.cgroups()]


def test_runs_of_slices_equal_replay(backend: types.ModuleType) -> None:
    h1, cg1 = _twin(backend)
    h2, cg2 = _twin(backend)
    ops1, ops2 = _records(cg1, 500, 1), _records(cg2, 500, 1)
    out1 = np.full(500, 7, dtype=np.int64)
    with h1.replayer(ops1, out1) as r:
        assert len(r) == 500 and r.ops is ops1 and r.out is out1
        done, start = 0, 0
        for n in (1, 63, 64, 0, 200, 172):
            done += r.run(n, start)
            start += n
        assert done == 500
        # Refill between runs: the buffer is read again at each run.
        assert r.run(0) == 0
    out2 = h2.replay(ops2)
    assert out1.tolist() == list(out2)
    assert any(x > 0 for x in out2) and any(x == R.RESULT_UNDERFLOW for x in out2)
    assert _state(h1) == _state(h2)


def test_refilled_buffer_is_read_at_each_run(backend: types.ModuleType) -> None:
    h, (b, c) = _twin(backend)
    ops = R.ops([(R.OP_CHARGE, b.handle, 3, 0, pymemcg.GFP_KERNEL, 0)])
    r = h.replayer(ops)
    r.run()
    ops["cgroup"][0] = c.handle
    ops["nr_pages"][0] = 5
    r.run()
    h.drain_all()
    assert (b.memory.usage, c.memory.usage) == (3, 5)
    assert list(r.out) == [0]


def test_bad_runs_are_refused(backend: types.ModuleType) -> None:
    h, (b, _) = _twin(backend)
    r = h.replayer(R.ops([(R.OP_CHARGE, b.handle, 1, 0, 0, 0)] * 4))
    for n, start in ((5, 0), (2, 3), (-1, 0), (1, -1)):
        with pytest.raises(backend.InvalidError):
            r.run(n, start)
    with pytest.raises(backend.InvalidTypeError):
        r.run(1.5)  # type: ignore[arg-type]
    assert b.memory.usage == 0
    with pytest.raises(backend.InvalidTypeError):
        h.replayer(np.zeros(4, dtype=np.int64))
    with pytest.raises(backend.InvalidError):
        h.replayer(R.ops([(R.OP_CHARGE, b.handle, 1, 0, 0, 0)] * 4), np.zeros(3, np.int64))
    r.close()
    with pytest.raises(backend.StaleHandleError):
        r.run()
    h.close()


def test_closed_hierarchy_and_hook_errors(backend: types.ModuleType) -> None:
    h, (b, _) = _twin(backend)

    def hook(cg: Any, nr: int) -> int:
        raise RuntimeError("reclaim failed")

    ops = R.ops([(R.OP_CHARGE, b.handle, 150, 0, pymemcg.GFP_KERNEL, 0),
                 (R.OP_CHARGE, b.handle, 150, 0, pymemcg.GFP_KERNEL, 0),
                 (R.OP_CHARGE, b.handle, 1, 0, pymemcg.GFP_KERNEL, 0)])
    r = h.replayer(ops)
    h.reclaim = hook
    with pytest.raises(RuntimeError):
        r.run()
    assert list(r.out[:2]) == [0, -__import__("errno").ECANCELED]
    h.reclaim = None
    h.close()
    with pytest.raises(backend.StaleHandleError):
        r.run()


def test_memoryview_of_part_is_refused_whole_is_taken() -> None:
    h, (b, _) = _twin(pymemcg)
    buf = bytearray(R.pack_ops([(R.OP_CHARGE, 0, b.handle, 1, 0, 0)] * 4))
    with pytest.raises(pymemcg.InvalidError):
        h.replayer(memoryview(buf)[32:])
    r = h.replayer(memoryview(buf))
    assert r.run() == 4
    h.drain_all()
    assert b.memory.usage == 4
    h.close()


def test_a_replayer_in_a_garbage_cycle_is_collected_safely() -> None:
    """A replayer reachable only from a cycle (here: a traceback's frame) is
    collected without crashing the interpreter (a memoryview holding an
    export in such a cycle would; the replayer wraps the buffers' owners)."""
    import subprocess
    import sys
    code = (
        "import gc, pymemcg\n"
        "from pymemcg import replay as R\n"
        "h = pymemcg.Hierarchy(pymemcg.Config.current(ncpus=2))\n"
        "b = h.create('a').create('b')\n"
        "class Holder: pass\n"
        "for view in (False, True):\n"
        "    ops = R.ops([(R.OP_CHARGE, b.handle, 1, 0, 0, 0)] * 3)\n"
        "    x = Holder(); x.self = x\n"
        "    x.r = h.replayer(memoryview(ops) if view else ops)\n"
        "    x.r.run()\n"
        "    del x, ops\n"
        "    gc.collect()\n"
        "print('ok')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
