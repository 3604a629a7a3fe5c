"""Command line: ``python -m pymemcg demo | replay FILE``.

The demo walks through the page counter's behaviour on the C core and
replays every step on the pure-Python model, printing both; every number
shown is computed by the run.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType
from typing import Callable, List, Optional, Sequence

import pymemcg
import pymemcg.model

__all__ = ["main", "demo"]

MiB = 1 << 20


def _pages(nbytes: int) -> int:
    return nbytes // pymemcg.PAGE_SIZE


class _Demo:
    """Runs one scenario on both backends and checks that they agree."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.disagreements = 0

    def section(self, title: str) -> None:
        self.out("")
        self.out(f"== {title}")

    def both(self, label: str, fn: Callable[[ModuleType], object]) -> object:
        got_c = _outcome(fn, pymemcg)
        got_m = _outcome(fn, pymemcg.model)
        agree = got_c == got_m
        if not agree:
            self.disagreements += 1
        mark = "" if agree else f"   <-- the model says {got_m}"
        self.out(f"  {label:<58} {got_c}{mark}")
        return got_c


def _outcome(fn: Callable[[ModuleType], object], mod: ModuleType) -> object:
    try:
        return fn(mod)
    except pymemcg.MemcgError as e:
        return f"{type(e).__name__}({e.errno and __import__('errno').errorcode[e.errno]})"


def _tree(mod: ModuleType, limits: Sequence[int]) -> List[object]:
    """A chain root -> ... with the given limits, root first."""
    chain: List[object] = []
    parent = None
    for limit in limits:
        parent = mod.PageCounter(parent=parent, max=limit)
        chain.append(parent)
    return chain


def demo(out: Callable[[str], None] = print) -> int:
    """Walk through the page counter; returns the number of disagreements
    between the C core and the model (0 when all is well)."""
    d = _Demo(out)
    out("pymemcg demo: hierarchical page counters (mm/page_counter.c), C core vs model")
    out(f"PAGE_SIZE = {pymemcg.PAGE_SIZE}, PAGE_COUNTER_MAX = {pymemcg.PAGE_COUNTER_MAX} pages "
        f"= {pymemcg.PAGE_COUNTER_MAX * pymemcg.PAGE_SIZE} bytes (v1 'unlimited')")

    top, mid = _pages(8 * MiB), _pages(4 * MiB)
    d.section(f"A chain root -> a (max {top} pages, 8M) -> b (max {mid} pages, 4M)")

    def fill_to_limit(mod: ModuleType) -> object:
        root, a, b = _tree(mod, [pymemcg.PAGE_COUNTER_MAX, top, mid])
        res = b.try_charge(mid)
        return (res is None, b.usage, a.usage, root.usage)

    d.both(f"b.try_charge({mid}): exactly at b's max is allowed (new > max fails)",
           fill_to_limit)

    def fail_at_ancestor(mod: ModuleType) -> object:
        root, a, b = _tree(mod, [pymemcg.PAGE_COUNTER_MAX, top, mid])
        a.charge(top - 100)               # a is nearly full through a direct charge
        res = b.try_charge(200)           # b has room, a does not
        return ("refused by a" if res is a else res, b.usage, a.usage, root.usage,
                b.failcnt, a.failcnt, b.watermark)

    d.section("A charge refused by an ancestor")
    out(f"  a.charge({top - 100}); b.try_charge(200) -> (result, b.usage, a.usage, root.usage, "
        "b.failcnt, a.failcnt, b.watermark)")
    d.both("  b was charged first, then rolled back; its peak stays", fail_at_ancestor)

    def forced(mod: ModuleType) -> object:
        root, a, b = _tree(mod, [pymemcg.PAGE_COUNTER_MAX, top, mid])
        b.charge(mid + 10)                # __GFP_NOFAIL: no limit check
        return (b.usage, b.max, b.watermark, b.try_charge(1) is b)

    d.section("A forced charge (page_counter_charge) ignores max")
    d.both(f"b.charge({mid + 10}) -> (b.usage, b.max, b.watermark, next try_charge refused)",
           forced)

    def underflow(mod: ModuleType) -> object:
        root, a, b = _tree(mod, [pymemcg.PAGE_COUNTER_MAX, top, mid])
        a.charge(30)
        b.charge(10)
        try:
            b.uncharge(25)
        except pymemcg.UnderflowError as e:
            return (len(e.counters), b.usage, a.usage, root.usage)
        return "no underflow"

    d.section("Uncharging more than was charged clamps each level on its own")
    d.both("a.charge(30); b.charge(10); b.uncharge(25) -> (clamped, b, a, root)", underflow)

    def resize(mod: ModuleType) -> object:
        root, a, b = _tree(mod, [pymemcg.PAGE_COUNTER_MAX, top, mid])
        b.charge(100)
        try:
            b.set_max(99)
        except pymemcg.BusyError:
            busy = "EBUSY"
        else:
            busy = "set"
        b.set_max(100)                    # equal to usage: allowed
        return (busy, b.max, a.max)

    d.section("set_max below usage is refused; equal is fine")
    d.both("b.charge(100); b.set_max(99); b.set_max(100) -> (first, b.max, a.max)", resize)

    def protection(mod: ModuleType, recursive: bool) -> object:
        # The memcg_protection selftest shape, in MiB-sized pages:
        # target A; B (min 50M) has C (min 75M, 50M used), D (min 25M, 50M),
        # E (min 0, 50M) and F (min 500M, nothing used).
        m = _pages(MiB)
        A = mod.PageCounter()
        B = mod.PageCounter(parent=A)
        B.set_min(50 * m)
        kids = []
        for setting, used in ((75, 50), (25, 50), (0, 50), (500, 0)):
            k = mod.PageCounter(parent=B)
            k.set_min(setting * m)
            k.charge(used * m)
            kids.append(k)
        for c in [B] + kids:              # top-down, as reclaim walks
            c.calculate_protection(A, recursive=recursive)
        return tuple(round(k.emin / m, 2) for k in kids)

    d.section("Effective protection (memory.min), selftest shape, target A, in MiB")
    out("  B.min=50M over C(min 75M, 50M used) D(25M, 50M) E(0, 50M) F(500M, 0)")
    d.both("emin of C, D, E, F (children claim 75M > 50M: overcommitted)",
           lambda mod: protection(mod, False))
    d.both("same with memory_recursiveprot", lambda mod: protection(mod, True))

    d.section("memparse: the kernel's size syntax (bytes), limits round down to pages")
    for text in ("64M", "1g", "0x1000", "010M", "1e", "4097", "99999999999999999999"):
        d.both(f"memparse({text!r})", lambda mod, t=text: mod.memparse(t))
    for text in ("4097", "1k", "-1"):
        d.both(f"page_counter_memparse({text!r}, '-1')",
               lambda mod, t=text: mod.page_counter_memparse(t, "-1"))
    for text in ("1.5G", "12 M", "-2"):
        d.both(f"memparse({text!r})", lambda mod, t=text: mod.memparse(t))

    _demo_tree(d)

    out("")
    if d.disagreements:
        out(f"{d.disagreements} step(s) where the C core and the model disagree")
    else:
        out("The C core and the pure-Python model agree on every step.")
    return d.disagreements


def _demo_tree(d: "_Demo") -> None:
    """The cgroup tree: stocks per era, the charge loop, events, dying cgroups."""
    presets = (("Linux 3.8", "linux_3_8"), ("current v1", "current_v1"), ("current v2", "current"))

    def stock_after_two_charges(mod: ModuleType, preset: str) -> object:
        h = mod.Hierarchy(getattr(mod.Config, preset)(ncpus=2))
        g = h.create("g")
        g.try_charge(1, cpu=0)           # a batch; the rest waits in CPU 0's stock
        g.try_charge(40, cpu=0)          # 3.8 serves only 1-page charges from the stock
        return (g.memory.usage, h.stock(0)[0][1])

    d.section("Two charges (1 page, then 40) on CPU 0: (usage, pages left in the stock)")
    for label, preset in presets:
        d.both(f"{label} (batch {getattr(pymemcg.Config, preset)().charge_batch})",
               lambda mod, p=preset: stock_after_two_charges(mod, p))

    def failing_charge(mod: ModuleType, preset: str, nr: int) -> object:
        h = mod.Hierarchy(getattr(mod.Config, preset)())
        g = h.create("g")
        g._set_max("memory", 100)
        over = g.try_charge(nr)
        return (over is g, g.events["max"], g.events["oom"], g.memory.failcnt)

    d.section("A charge no reclaim can satisfy (max 100 pages, no reclaim hook):")
    d.out("  (refused, max events, oom events, failcnt): exact-size retry, drain, retries, OOM")
    for label, preset in presets:
        for nr in (101, 8):
            d.both(f"{label}: try_charge({nr})" + (" after 93 charged" if nr == 8 else ""),
                   lambda mod, p=preset, n=nr: _fail_small(mod, p) if n == 8
                   else failing_charge(mod, p, n))

    def high(mod: ModuleType) -> object:
        h = mod.Hierarchy(mod.Config.current())
        a = h.create("a")
        b = a.create("b")
        a.write("memory.high", "40K")     # 10 pages
        b.try_charge(1)                   # a batch of 64 crosses a's high
        return (a.events["high"], b.events["high"], a.memory.usage)

    d.section("memory.high (v2): reclaimed on the way back to user space, never failing")
    d.both("a.high=10 pages; b.try_charge(1) -> (a high, b high, a usage)", high)

    def dying(mod: ModuleType) -> object:
        h = mod.Hierarchy(mod.Config.current())
        g = h.create("g")
        g.try_charge(5)
        g.remove()                        # offline: the stock is drained, 5 pages stay
        states = [g.dying, h.root.nr_dying_descendants]
        g.uncharge(5)                     # the last page: freed
        states += [g.online or g.dying, h.root.nr_dying_descendants]
        return tuple(states)

    d.section("A removed cgroup stays dying while anything is charged to it")
    d.both("remove with 5 charged; uncharge 5 -> (dying, nr_dying, exists, nr_dying)", dying)


def _fail_small(mod: ModuleType, preset: str) -> object:
    h = mod.Hierarchy(getattr(mod.Config, preset)())
    g = h.create("g")
    g._set_max("memory", 100)
    g.try_charge(93, flags=mod.GFP_NOFAIL)
    over = g.try_charge(8)
    return (over is g, g.events["max"], g.events["oom"], g.memory.failcnt)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="pymemcg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="walk through the accounting, C core vs model")
    rp = sub.add_parser("replay", help="run a text trace (see pymemcg.trace) and print the "
                                       "final counters and events")
    rp.add_argument("file", help="the trace; - for standard input")
    rp.add_argument("--model", action="store_true", help="run the pure-Python model")
    rp.add_argument("--compare", action="store_true",
                    help="run both and fail if the C core and the model disagree")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return 1 if demo() else 0
    if args.command == "replay":
        return _replay(args.file, args.model, args.compare)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _replay(path: str, model: bool, compare: bool) -> int:
    from .errors import MemcgError
    from .trace import format_state, run_trace

    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    backends = [pymemcg.model if model else pymemcg]
    if compare:
        backends = [pymemcg, pymemcg.model]
    outputs = []
    for backend in backends:
        try:
            outputs.append(format_state(run_trace(text.splitlines(), backend)))
        except MemcgError as e:
            print(f"pymemcg replay: {e}", file=sys.stderr)
            return 1
    print("\n".join(outputs[0]))
    if compare and outputs[0] != outputs[1]:
        print("the C core and the model disagree; the model printed:", file=sys.stderr)
        print("\n".join(outputs[1]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
