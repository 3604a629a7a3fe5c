"""Fuzz interface-file writes on the three presets, C core against model.

The same small tree is built in both backends (root, a, a/b, c, and a
removed cgroup); then a sequence of fuzzed operations runs on both: writes
of fuzzed bytes (or str, bytearray, memoryview) to fuzzed file names, open
files (memory.peak keeps state per open file), charges and uncharges (so
limits meet usage), removals.  After each operation the outcome must agree
(success, or the same error class and errno) and only OSError or package
errors may escape; at the end the whole state and every file of every
cgroup must read back identically.  A reclaim hook (fuzzed: none, one that
frees what the harness charged, one that lies, one that raises) is called
the same way, with the same arguments, in both.
"""

from __future__ import annotations

import fuzzlib
from fuzzlib import Input, agree, outcome, state

with fuzzlib.instrumented():
    import pymemcg
    import pymemcg.model
    from pymemcg import cgroupfs

PRESETS = [
    lambda: pymemcg.Config.linux_3_8(ncpus=2),
    lambda: pymemcg.Config.current(ncpus=2),
    lambda: pymemcg.Config.current_v1(ncpus=2),
    lambda: pymemcg.Config.current(ncpus=2, charge_batch=8),
]
PATHS = ["a", "a/b", "c", "gone"]
NAMES = {v: sorted(cgroupfs._FILES[v]) for v in (1, 2)}
OTHER_NAMES = sorted(set(NAMES[1]) | set(NAMES[2])) + [
    "", "memory", "memory.", "memory.max ", "memory.max\0", "../memory.max", "cgroup.procs",
    "memory.swappiness", "MEMORY.MAX",
]
TOKENS = [b"max", b"-1", b"-", b"+", b"0", b"1", b"7", b"8", b"12", b"4096", b"4097", b"64K",
          b"1M", b"64M", b"1G", b"1E", b"16E", b"0x", b"0x10", b"0X1f", b"010", b"08", b"k", b"m",
          b"G", b"e", b" ", b"  ", b"\n", b"\t", b"\v", b"\f", b"\r", b"\xa0", b"\0",
          b"swappiness=", b"swappiness=max", b"60", b"200", b"201", b"18446744073709551615",
          b"18446744073709551616", b"9223372036854775807", b"9223372036854771712",
          b"2251799813685247", b"2251799813685248", b"-01", b"-2", b"00", b"\xff", b"\xc3\xa9"]
CPUS = [0, 1, 0, 1, 0, 1, 0, 2]
DATA_KINDS = ["bytes", "str", "bytearray", "memoryview"]
ALLOWED = (OSError, pymemcg.MemcgError)


class HookError(Exception):
    """Raised by the fuzzed reclaim hook (it must propagate, in both)."""


class Side:
    """One backend's hierarchy, its cgroups and the reclaim hook's log."""

    def __init__(self, mod: object, cfg: pymemcg.Config, hook_mode: int, hook_limit: int) -> None:
        self.mod = mod
        self.log: list[tuple[str, int, int]] = []
        self.ledger: dict[str, int] = {}  # pages the harness charged, per path
        self.hook_mode = hook_mode
        self.hook_limit = hook_limit
        self.h = mod.Hierarchy(cfg, reclaim=self.hook if hook_mode else None)
        self.cgs = [self.h.root] + [self.h.create(p) for p in PATHS]
        self.cgs[-1].remove()  # "gone": removed, nothing charged: freed

    def hook(self, cg: object, nr_pages: int) -> int:
        path = cg.path
        if self.hook_mode == 3 and len(self.log) >= self.hook_limit:
            self.log.append((path, nr_pages, -1))
            raise HookError(f"hook call {len(self.log)}")
        if self.hook_mode == 2:  # claims progress it did not make
            self.log.append((path, nr_pages, nr_pages))
            return nr_pages
        freed = fuzzlib.free_from_ledger(self.h, self.ledger, path, nr_pages,
                                         (pymemcg.NotFoundError, pymemcg.StaleHandleError))
        self.log.append((path, nr_pages, freed))
        return freed


def make_data(inp: Input) -> object:
    mode = inp.below(8)
    if mode < 3:
        raw = inp.chunk(48)
    elif mode < 7:
        raw = b"".join(inp.pick(TOKENS) for _ in range(inp.below(6) + 1))
    else:  # around kernfs' one-page atomic_write_len
        raw = inp.pick([b"1", b" ", b"\0"]) * (4094 + inp.below(4))
    kind = inp.pick(DATA_KINDS)
    if kind == "str":
        return raw.decode("utf-8", "surrogateescape")  # lone surrogates: not encodable
    if kind == "bytearray":
        return bytearray(raw)
    if kind == "memoryview":
        return memoryview(bytearray(b"#" + raw))[1:]
    return raw


def make_name(inp: Input, version: int) -> object:
    k = inp.below(32)
    if k == 31:
        return inp.chunk(24).decode("utf-8", "replace")
    if k == 30:
        return inp.pick([None, b"memory.max", 1])
    if k >= 26:
        return inp.pick(OTHER_NAMES)
    return inp.pick(NAMES[version])


def show(x: object) -> object:
    """A result, backend-neutral (cgroups by path)."""
    if hasattr(x, "path") and hasattr(x, "id"):
        return ("cgroup", x.path)
    return x


def step(side: Side, op: tuple) -> tuple:
    kind = op[0]
    cg = side.cgs[op[1]]
    allowed = ALLOWED + (HookError,)
    if kind == "write":
        _, _, name, data = op
        return outcome(cg.write, name, data, allowed=allowed, what=f"write {name!r}")
    if kind == "open":
        _, _, name, data, data2 = op

        def run() -> tuple:
            with cg.open(name) as f:
                first = outcome(f.write, data, allowed=allowed, what=f"write {name!r}")
                r1 = outcome(f.read, allowed=allowed, what=f"read {name!r}")
                # another open file's write raises this one's recorded peak
                second = outcome(cg.write, name, data2, allowed=allowed, what=f"write {name!r}")
                r2 = outcome(f.read, allowed=allowed, what=f"read {name!r}")
            return (first, r1, second, r2)

        return outcome(run, allowed=allowed, what=f"open {name!r}")
    if kind == "charge":
        _, _, n, cpu, kmem, flags = op
        r = outcome(cg.try_charge, n, cpu=cpu, flags=flags, kmem=kmem, allowed=allowed,
                    what="try_charge")
        if r == ("ok", None) and not kmem:
            side.ledger[cg.path] = side.ledger.get(cg.path, 0) + n
        return (r[0], show(r[1])) + r[2:]
    if kind == "uncharge":
        _, _, n, cpu, kmem = op
        r = outcome(cg.uncharge, n, cpu=cpu, kmem=kmem, allowed=allowed, what="uncharge")
        if not kmem and cg.path in side.ledger:
            side.ledger[cg.path] = max(0, side.ledger[cg.path] - n)
        return r
    if kind == "remove":
        return outcome(cg.remove, allowed=allowed, what="remove")
    if kind == "drain_all":
        return outcome(side.h.drain_all, allowed=allowed, what="drain_all")
    raise AssertionError(kind)


def read_all(side: Side) -> list:
    out = []
    for cg in side.h.cgroups():
        if not cg.online:
            continue
        names = cgroupfs.files(cg)
        out.append((cg.path, names))
        for name in names:
            out.append((cg.path, name, outcome(cg.read, name, allowed=ALLOWED,
                                               what=f"read {name}")))
    return out


def test_one_input(data: bytes) -> None:
    inp = Input(data)
    cfg = inp.pick(PRESETS)()
    hook_mode = inp.below(4)
    hook_limit = inp.below(8)
    c = Side(pymemcg, cfg, hook_mode, hook_limit)
    m = Side(pymemcg.model, cfg, hook_mode, hook_limit)
    ops = []
    first = inp.below(64)
    if first:
        ops.append(("charge", 2, first, 0, False, pymemcg.GFP_KERNEL))
    for _ in fuzzlib.iter_chunks(inp, 12):
        k = inp.below(16)
        target = inp.below(len(c.cgs))
        if k < 8:
            ops.append(("write", target, make_name(inp, cfg.version), make_data(inp)))
        elif k < 10:
            name = inp.pick(["memory.peak", "memory.swap.peak", "memory.max_usage_in_bytes",
                             "memory.max", "memory.limit_in_bytes"])
            ops.append(("open", target, name, make_data(inp), make_data(inp)))
        elif k < 13:
            ops.append(("charge", target, inp.below(80), inp.pick(CPUS), inp.flag(),
                        inp.pick([pymemcg.GFP_KERNEL, pymemcg.GFP_NOWAIT, pymemcg.GFP_ATOMIC,
                                  pymemcg.GFP_KERNEL | pymemcg.GFP_NOFAIL])))
        elif k < 14:
            ops.append(("uncharge", target, inp.below(80), inp.pick(CPUS), inp.flag()))
        elif k < 15:
            ops.append(("remove", target))
        else:
            ops.append(("drain_all", 0))
    for i, op in enumerate(ops):
        rc = step(c, op)
        rm = step(m, op)
        agree(f"op {i} {op!r}", rc, rm)
        agree(f"reclaim hook calls after op {i} {op!r}", c.log, m.log)
    agree("state at the end", state(c.h), state(m.h))
    agree("files at the end", read_all(c), read_all(m))
    c.h.drain_all()
    m.h.drain_all()
    agree("state after drain_all", state(c.h), state(m.h))


if __name__ == "__main__":
    fuzzlib.main(test_one_input, max_len=512, len_control=0)
