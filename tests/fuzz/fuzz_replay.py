"""Fuzz ``Hierarchy.replay`` buffers, C core against model.

The same small tree is built in both backends: root, a, a/b, d with limits,
a/c charged then removed (dying), e removed (freed: a stale handle), x
removed and created again (its old handle names a reused id), and a second
hierarchy whose cgroups give foreign handles.  Records name cgroups through
those handles, mixed with zero, transformed (bit flips, masks, negation,
small offsets) and constant garbage handles; the other fields are mostly
plausible, sometimes raw.  Handles differ between the two backends (each
hierarchy carries a tag), so each backend gets its own buffer: the same
records with its own handles, the garbage derived the same way from them.
A raw mode uses the fuzzer's bytes as the buffer itself (any length, the
handles of either backend translated to the other's).

Buffers come as bytes, bytearray, numpy arrays and misaligned memoryviews;
``out`` as None, numpy int64, array('q'), too short, or other buffers.  Up
to four batches run, with tree changes between them.  Properties: the same
results (or the same error), the same reclaim hook calls, the same state
(every counter, event and stock slot) after each batch and after drain_all,
and no exception but the package's (and the hook's own).
"""

from __future__ import annotations

import array
import struct

import fuzzlib
from fuzzlib import Input, agree, outcome, state

with fuzzlib.instrumented():
    import pymemcg
    import pymemcg.model
    from pymemcg import replay as R

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

PRESETS = [
    lambda: pymemcg.Config.linux_3_8(ncpus=2),
    lambda: pymemcg.Config.current(ncpus=2, charge_batch=8),
    lambda: pymemcg.Config.current_v1(ncpus=2, charge_batch=8),
    lambda: pymemcg.Config.current(ncpus=3),
]
OPS = [R.OP_CHARGE] * 8 + [R.OP_UNCHARGE] * 4 + [R.OP_DRAIN, R.OP_DRAIN_ALL, 0]
FLAGS = [pymemcg.GFP_KERNEL, pymemcg.GFP_NOWAIT, pymemcg.GFP_ATOMIC, 0,
         pymemcg.GFP_KERNEL | pymemcg.GFP_NOFAIL, pymemcg.GFP_KERNEL | pymemcg.GFP_NORETRY,
         pymemcg.GFP_KERNEL | pymemcg.GFP_ACCOUNT, 0x80]
PCM = pymemcg.PAGE_COUNTER_MAX
PAGES = [0, 1, 2, 3, 7, 8, 9, 16, 30, 33, 64, 100, PCM, PCM + 1, -1]
CPUS = [0, 1, 0, 1, 0, 1, 0, 1, 2, -1]
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
CONSTANTS = [-1, INT64_MIN, INT64_MAX, INT64_MIN + 1]
# Handle slots: the cgroups of Side.handles, in this order.
SLOTS = ["", "a", "a/b", "a/c", "d", "e", "x(old)", "x", "foreign /", "foreign f"]
ALLOWED = (pymemcg.MemcgError,)


class HookError(Exception):
    """Raised by the fuzzed reclaim hook: replay stops and re-raises it."""


def wrap64(v: int) -> int:
    return (v + 2**63) % 2**64 - 2**63


class Side:
    """One backend: the hierarchy, the handles, the reclaim hook's log."""

    def __init__(self, mod: object, cfg: pymemcg.Config, setup: tuple, hook: tuple) -> None:
        limit_a, limit_b, limit_d, dying_pages = setup
        self.mod = mod
        self.hook_mode, self.hook_limit = hook
        self.log: list[tuple[str, int, int]] = []
        self.ledger = {"a/b": 0, "d": 0}
        self.hook_on = False  # not during the set-up
        self.h = h = mod.Hierarchy(cfg, reclaim=self.hook if self.hook_mode else None)
        cgs = {p: h.create(p) for p in ("a", "a/b", "a/c", "d", "e", "x")}
        cgs["a"]._set_max("memory", limit_a)
        cgs["a/b"]._set_max("memory", limit_b)
        cgs["d"]._set_max("memory", limit_d)
        if dying_pages:
            cgs["a/c"].try_charge(dying_pages, flags=pymemcg.GFP_KERNEL | pymemcg.GFP_NOFAIL)
        cgs["a/c"].remove()
        cgs["e"].remove()
        cgs["x"].remove()
        x_old = cgs["x"]
        cgs["x"] = h.create("x")
        self.h2 = mod.Hierarchy(cfg)
        f = self.h2.create("f")
        self.cgroups = [h.root, cgs["a"], cgs["a/b"], cgs["a/c"], cgs["d"], cgs["e"], x_old,
                        cgs["x"], self.h2.root, f]
        self.handles = [cg.handle for cg in self.cgroups]
        self.hook_on = True

    def hook(self, cg: object, nr_pages: int) -> int:
        path = cg.path
        if not self.hook_on:
            return 0
        if self.hook_mode == 3 and len(self.log) >= self.hook_limit:
            self.log.append((path, nr_pages, -1))
            raise HookError(f"hook call {len(self.log)}")
        if self.hook_mode == 2:  # claims progress it did not make
            self.log.append((path, nr_pages, nr_pages))
            return nr_pages
        freed = 0
        if self.hook_mode == 1:  # frees what the harness charged below cg
            freed = fuzzlib.free_from_ledger(self.h, self.ledger, path, nr_pages,
                                             (pymemcg.NotFoundError, pymemcg.StaleHandleError))
        self.log.append((path, nr_pages, freed))
        return freed


def handle_spec(inp: Input) -> tuple:
    """How a record names its cgroup, independent of the backend."""
    k = inp.below(24)
    slot = inp.below(len(SLOTS))
    if k < 14:
        return ("slot", slot)
    if k < 16:
        return ("zero",)
    if k == 16:
        return ("flip", slot, inp.below(64))
    if k == 17:
        return ("xor", slot, inp.uint(8))
    if k == 18:
        return ("neg", slot)
    if k == 19:
        return ("not", slot)
    if k == 20:
        return ("add", slot, inp.sint(2))
    if k == 21:
        return ("const", inp.pick(CONSTANTS))
    return ("slot", inp.pick([1, 2, 4, 7]))


def resolve(spec: tuple, handles: list[int]) -> int:
    kind = spec[0]
    if kind == "zero":
        return 0
    if kind == "const":
        return spec[1]
    h = handles[spec[1]]
    if kind == "slot":
        return h
    if kind == "flip":
        return wrap64(h ^ (1 << spec[2]))
    if kind == "xor":
        return wrap64(h ^ spec[2])
    if kind == "neg":
        return wrap64(-h)
    if kind == "not":
        return ~h
    if kind == "add":
        return wrap64(h + spec[2])
    raise AssertionError(spec)


def make_records(inp: Input) -> list[tuple]:
    records = []
    for _ in range(1 + inp.below(24)):
        if inp.exhausted:
            break
        op = inp.pick(OPS) if inp.below(16) else inp.uint(4)
        flags = inp.pick(FLAGS) if inp.below(16) else inp.uint(4)
        spec = handle_spec(inp)
        nr = inp.pick(PAGES) if inp.below(8) else inp.sint(8)
        cpu = inp.pick(CPUS) if inp.below(16) else inp.sint(4)
        kmem = inp.below(2) if inp.below(16) else inp.sint(4)
        records.append((op, flags, spec, nr, cpu, kmem))
    return records


def translate(raw: bytes, mine: list[int], theirs: list[int]) -> bytes:
    """The raw buffer for one backend: a cgroup field that holds one of the
    other backend's handles gets this backend's handle of the same slot."""
    out = bytearray(raw)
    swap = {t: m for t, m in zip(theirs, mine) if t != m}
    for off in range(0, len(out) - len(out) % R.OP_SIZE, R.OP_SIZE):
        (v,) = struct.unpack_from("<q", out, off + 8)
        if v in swap:
            struct.pack_into("<q", out, off + 8, swap[v])
    return bytes(out)


def as_buffer(raw: bytes, kind: int) -> object:
    if kind == 0:
        return raw
    if kind == 1:
        return bytearray(raw)
    if kind == 2 and np is not None and len(raw) % R.OP_SIZE == 0:
        return np.frombuffer(bytearray(raw), dtype=R.OP_DTYPE)
    # misaligned: a bytearray sliced at an odd offset
    off = 1 + kind % 7
    return memoryview(bytearray(b"\xa5" * off + raw))[off:]


def make_out(kind: int, n: int) -> object:
    if kind < 8 or np is None:
        return None
    if kind < 10:
        return np.full(n + kind - 8, 0x5A5A, dtype=np.int64)
    if kind == 10:
        return array.array("q", [7] * n)
    if kind == 11:
        return np.zeros(max(n - 1, 0), dtype=np.int64)
    if kind == 12:
        return bytearray(8 * n)
    if kind == 13:
        return np.zeros(n, dtype=np.int32)
    if kind == 14:
        return bytes(8 * n)  # read-only
    return memoryview(bytearray(8 * n + 3))[3:]  # misaligned int64 results


def results_of(out: object) -> list[int]:
    if np is not None and isinstance(out, np.ndarray):
        return [int(x) for x in out.tolist()]
    if isinstance(out, (bytearray, bytes, memoryview)):
        mv = memoryview(bytes(out))
        return list(mv.cast("q")) if len(mv) % 8 == 0 else list(mv)
    return [int(x) for x in out]


def run_batch(side: Side, buf: object, out: object) -> tuple:
    def call() -> list[int]:
        res = side.h.replay(buf, out) if out is not None else side.h.replay(buf)
        return results_of(res)

    r = outcome(call, allowed=ALLOWED + (HookError,), what="replay")
    partial = results_of(out) if out is not None and r[0] == "err" else None
    return r, partial


def results_sig(records: list | None, rc: tuple, rm: tuple, kind: int, out_kind: int) -> str:
    """The first record whose result differs, in words (for --triage)."""
    if rc[0] != "ok" or rm[0] != "ok":
        return (f"replay outcome (out kind {out_kind}): C {rc[0]} {rc[1] if rc[0] == 'err' else ''}"
                f", model {rm[0]} {rm[1] if rm[0] == 'err' else ''}")
    if records is None:
        return "replay results (raw buffer)"
    for rec, a, b in zip(records, rc[1], rm[1]):
        if a != b:
            op, spec = rec[0], rec[2]
            where = SLOTS[spec[1]] if spec[0] == "slot" else spec[0]
            return f"replay result: op {op} on {where}: C {a}, model {b}"
    return f"replay result count: C {len(rc[1])}, model {len(rm[1])}"


def tree_op(side: Side, op: tuple) -> tuple:
    kind, slot = op
    cg = side.cgroups[slot]
    if kind == "remove":
        return outcome(cg.remove, allowed=ALLOWED, what="remove")
    if kind == "create":
        return outcome(lambda: side.h.create(f"n{slot}").id, allowed=ALLOWED, what="create")
    if kind == "uncharge_all":  # empties a dying cgroup: it is freed
        def run() -> None:
            usage = cg.memory.usage
            if usage:
                cg.uncharge(usage)
        return outcome(run, allowed=ALLOWED, what="uncharge")
    raise AssertionError(kind)


def test_one_input(data: bytes) -> None:
    inp = Input(data)
    cfg = inp.pick(PRESETS)()
    setup = (inp.pick([0, 4, 16, 40, 100, PCM]), inp.pick([0, 8, 24, PCM]),
             inp.pick([0, 16, 64]), inp.pick([0, 3, 9]))
    hook = (inp.below(4), inp.below(6))
    c = Side(pymemcg, cfg, setup, hook)
    m = Side(pymemcg.model, cfg, setup, hook)
    agree("state after setup", state(c.h), state(m.h))
    for batch in range(4):
        if inp.exhausted:
            break
        mode = inp.below(16)
        if mode < 2:  # raw bytes: any length
            raw = inp.chunk(200)
            buf_c = translate(raw, c.handles, m.handles)
            buf_m = translate(raw, m.handles, c.handles)
            records = None
        else:
            records = make_records(inp)
            pack = [[(op, fl, resolve(sp, s.handles), nr, cpu, km)
                     for op, fl, sp, nr, cpu, km in records] for s in (c, m)]
            try:
                buf_c, buf_m = (b"".join(struct.pack(R.OP_FORMAT, *(
                    v & 0xFFFFFFFF if i < 2 else v for i, v in enumerate(r))) for r in p)
                    for p in pack)
            except struct.error:  # an i32 field out of range: wrap it
                buf_c, buf_m = (b"".join(struct.pack(
                    R.OP_FORMAT, r[0] & 0xFFFFFFFF, r[1] & 0xFFFFFFFF, r[2], wrap64(r[3]),
                    (r[4] + 2**31) % 2**32 - 2**31, (r[5] + 2**31) % 2**32 - 2**31)
                    for r in p) for p in pack)
            if inp.below(16) == 0:  # a torn record at the end
                tail = inp.bytes(1 + inp.below(31))
                buf_c, buf_m = buf_c + tail, buf_m + tail
        kind = inp.below(8)
        out_kind = inp.below(16)
        n = len(buf_c) // R.OP_SIZE
        rc, pc = run_batch(c, as_buffer(buf_c, kind), make_out(out_kind, n))
        rm, pm = run_batch(m, as_buffer(buf_m, kind), make_out(out_kind, n))
        what = f"batch {batch} (buffer kind {kind}, out kind {out_kind}, records {records!r})"
        agree(f"{what}: results", rc, rm, sig=results_sig(records, rc, rm, kind, out_kind))
        if rc[0] == "err" and rc[1] == "HookError":
            agree(f"{what}: results before the hook raised", pc, pm)
        agree(f"{what}: reclaim hook calls", c.log, m.log)
        agree(f"{what}: state", state(c.h), state(m.h))
        if rc[0] == "ok":
            for rec, res in zip(records or [], rc[1]):
                if rec[0] == R.OP_CHARGE and res == 0 and rec[5] == 0 and rec[2][0] == "slot":
                    path = SLOTS[rec[2][1]]
                    if path in c.ledger:
                        c.ledger[path] += rec[3]
                        m.ledger[path] += rec[3]
        if inp.below(4) == 0:
            op = (inp.pick(["remove", "create", "uncharge_all"]), inp.below(8))
            agree(f"tree op {op!r}", tree_op(c, op), tree_op(m, op))
            agree(f"state after tree op {op!r}", state(c.h), state(m.h))
    for s in (c, m):
        s.h.drain_all()
    agree("state after drain_all", state(c.h), state(m.h))


if __name__ == "__main__":
    fuzzlib.main(test_one_input, max_len=1024, len_control=0)
