"""Command line: ``pymemcg demo | replay FILE | bench`` (also ``python -m pymemcg``).

The demo walks through the page counter's behaviour on the C core and
replays every step on the pure-Python model, printing both; every number
shown is computed by the run.  ``replay`` runs a text or binary trace
(:mod:`pymemcg.trace`; ``--convert`` writes a text trace as binary) and prints the final counters, events and stats.

Every bad input is one line on standard error, ``pymemcg: FILE:LINE:
message`` (``pymemcg: FILE: message`` where there is no line), never a
traceback; the exit status says what happened (:data:`EXIT_STATUSES`).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import itertools
import os
import sys
from types import ModuleType
from typing import (IO, Any, Callable, Iterable, Iterator, List, NoReturn, Optional, Protocol,
                    Sequence)

import pymemcg
import pymemcg.model

__all__ = ["main", "demo", "EXIT_STATUSES"]

#: The exit statuses of the command.
EXIT_STATUSES = """\
exit status:
  0    success
  1    bad input: a file that cannot be read, a trace line that cannot be run,
       bad records (each reported), the C core and the model disagree
       (--compare), the C core not built
  2    bad command line
  70   an internal error (a bug: please report it; PYMEMCG_TRACEBACK=1 shows it)
  130  interrupted (Ctrl-C)
  141  the reader of standard output went away (a closed pipe, as in
       `pymemcg replay big.trace | head`): the command stops quietly, with the
       status a shell reports for coreutils killed by SIGPIPE (128 + 13)
"""

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
        code = e.errno if isinstance(e, OSError) else None
        return f"{type(e).__name__}({code and __import__('errno').errorcode[code]})"


class _Counter(Protocol):
    """What the demo uses of a page counter: :class:`pymemcg.PageCounter`
    and :class:`pymemcg.model.PageCounter` alike."""

    @property
    def usage(self) -> int: ...
    @property
    def max(self) -> int: ...
    @property
    def watermark(self) -> int: ...
    @property
    def failcnt(self) -> int: ...
    def charge(self, nr_pages: int) -> None: ...
    def try_charge(self, nr_pages: int) -> Optional[_Counter]: ...
    def uncharge(self, nr_pages: int) -> None: ...
    def set_max(self, nr_pages: int) -> None: ...


def _tree(mod: ModuleType, limits: Sequence[int]) -> List[_Counter]:
    """A chain root -> ... with the given limits, root first."""
    chain: List[_Counter] = []
    parent = None
    for limit in limits:
        parent = mod.PageCounter(parent=parent, max=limit)
        chain.append(parent)
    return chain


def demo(out: Callable[[str], None] = print, plots: Optional[str] = None,
         scenarios: bool = True) -> int:
    """Walk through the page counter, the cgroup tree and the seed's
    kernel-memory scenarios (:mod:`pymemcg.scenarios`); with ``plots`` a
    directory, draw the scenarios' pictures there (matplotlib).  Returns the
    number of disagreements between the C core and the model (0 when all
    is well)."""
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
        d.both(f"memparse({text!r})", functools.partial(_memparse, text=text))
    for text in ("4097", "1k", "-1"):
        d.both(f"page_counter_memparse({text!r}, '-1')",
               functools.partial(_page_counter_memparse, text=text))
    for text in ("1.5G", "12 M", "-2"):
        d.both(f"memparse({text!r})", functools.partial(_memparse, text=text))

    _demo_tree(d)
    if scenarios:
        _demo_scenarios(d, plots)

    out("")
    if d.disagreements:
        out(f"{d.disagreements} step(s) where the C core and the model disagree")
    else:
        out("The C core and the pure-Python model agree on every step.")
    return d.disagreements


def _memparse(mod: ModuleType, text: str) -> object:
    return mod.memparse(text)


def _page_counter_memparse(mod: ModuleType, text: str) -> object:
    return mod.page_counter_memparse(text, "-1")


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
               functools.partial(stock_after_two_charges, preset=preset))

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
                   functools.partial(_fail_small, preset=preset) if nr == 8
                   else functools.partial(failing_charge, preset=preset, nr=nr))

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


def _demo_scenarios(d: "_Demo", plots: Optional[str]) -> None:
    """The seed's scenarios, each run on the C core and (but the timed one)
    on the model, which must agree; counts are pages."""
    from . import scenarios

    if plots:
        os.makedirs(plots, exist_ok=True)
    for key, sc in scenarios.SCENARIOS.items():
        other: object = None
        d.section(sc.title)
        if sc.run is None:
            d.out(f"  not run: {sc.missing}")
            continue
        data = sc.run(pymemcg)
        if sc.both:
            other = sc.run(pymemcg.model)
            if other != data:
                d.disagreements += 1
                d.out("  the C core and the model DISAGREE; the model's run:")
                for line in sc.show(other):
                    d.out(line)
                d.out("  the C core's run:")
        for line in sc.show(data):
            d.out(line)
        if sc.both and other == data:
            d.out("  (the model's run gives the same numbers)")
        if plots:
            path = os.path.join(plots, f"{key}.png")
            try:
                if scenarios.plot(key, data, path):
                    d.out(f"  picture: {path}")
            except ImportError:
                d.out("  no picture: matplotlib is not installed (pip install 'pymemcg[plot]')")


def _fail_small(mod: ModuleType, preset: str) -> object:
    h = mod.Hierarchy(getattr(mod.Config, preset)())
    g = h.create("g")
    g._set_max("memory", 100)
    g.try_charge(93, flags=mod.GFP_NOFAIL)
    over = g.try_charge(8)
    return (over is g, g.events["max"], g.events["oom"], g.memory.failcnt)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line: ``pymemcg: message``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog.split()[0]}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    from . import trace

    parser = _Parser(prog="pymemcg", description="Linux memory-cgroup (memcg) accounting in "
                     "user space: the C core and the pure-Python model.",
                     epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"pymemcg {pymemcg.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    dp = sub.add_parser("demo", help="walk through the accounting and the seed's scenarios, "
                        "C core vs model",
                        description="Walk through the accounting on the C core and the model, "
                                    "then run the seed's kernel-memory scenarios (a fork bomb "
                                    "and a kmem limit, the three kmem-limit configurations, "
                                    "page tables, an OOM skewed by kernel memory, cache-line "
                                    "bouncing); counts are pages.",
                        epilog=EXIT_STATUSES,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    dp.add_argument("--plots", metavar="DIR",
                    help="also draw the scenarios' pictures into DIR (needs matplotlib: "
                         "pip install 'pymemcg[plot]')")
    rp = sub.add_parser(
        "replay", help="run a trace (text or binary) and print the final counters, events and "
                       "stats",
        description="Run a trace, text or binary (told apart by its first bytes), and print "
                    "the final counters (pages), events and memory.stat (bytes) of every "
                    "cgroup.",
        epilog="trace format:\n" + _indent(trace.FORMAT) + "\n" + EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    rp.add_argument("file", metavar="FILE", help="the trace; - for standard input")
    which = rp.add_mutually_exclusive_group()
    which.add_argument("--model", action="store_true",
                       help="run the pure-Python model instead of the C core")
    which.add_argument("--compare", action="store_true",
                       help="run both; exit status 1 if the C core and the model disagree")
    which.add_argument("--convert", metavar="OUT",
                       help="write the text trace FILE as a binary trace OUT (an .npz, "
                            "needs numpy) and run nothing")
    rp.add_argument("--no-progress", action="store_true",
                    help="no progress bar (one is shown on standard error for runs longer "
                         "than a second when it is a terminal and tqdm is installed)")
    # Listed here; its options are pymemcg.bench's own (main() hands it the
    # command line), so that no other command pays for importing it.
    sub.add_parser("bench", add_help=False,
                   help="time the charge paths against baselines measured in the same run "
                        "(pymemcg bench --help)")
    return parser


def _indent(text: str) -> str:
    return "\n".join("  " + line if line else line for line in text.splitlines())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command: returns its exit status (:data:`EXIT_STATUSES`)."""
    try:
        try:
            words = list(sys.argv[1:] if argv is None else argv)
            if words[:1] == ["bench"]:
                from . import bench

                return bench.main(words[1:])
            args = _parser().parse_args(argv)
        except SystemExit as e:  # --help, --version, a bad command line
            return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        if args.command == "demo":
            return 1 if demo(plots=args.plots) else 0
        return _replay(args.file, args.model, args.compare, not args.no_progress,
                       args.convert)
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except _Failed as e:
        _error(str(e))
        return 1
    except ImportError as e:
        if getattr(e, "name", None) != "pymemcg._core":
            return _internal(e)
        _error("the C core (pymemcg._core) is not built: pip install . (or make venv) "
               "builds it; replay --model runs without it")
        return 1
    except Exception as e:  # noqa: BLE001 - a bug: one line, not a traceback
        return _internal(e)


class _Failed(Exception):
    """A bad input, already worded: ``FILE:LINE: message`` or ``FILE: message``."""


def _error(message: str) -> None:
    try:
        print(f"pymemcg: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed too: nothing more to say
        pass


def _internal(e: BaseException) -> int:
    if os.environ.get("PYMEMCG_TRACEBACK"):
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__)
    else:
        _error(f"internal error: {type(e).__name__}: {e} (a bug: please report it; "
               "PYMEMCG_TRACEBACK=1 shows the traceback)")
    return 70


def _write(text: str) -> None:
    """Write to standard output, all of it or BrokenPipeError.

    Through the binary layer, in a loop: where stdout is unbuffered
    (``python -u``, PYTHONUNBUFFERED) its text layer writes to the raw file
    once and drops what a partial write left over, so a closed pipe would go
    unnoticed and the output be cut silently."""
    out = sys.stdout
    raw = getattr(out, "buffer", None)
    if raw is None:  # a stream without a binary layer (a StringIO ...)
        out.write(text)
        out.flush()
        return
    out.flush()
    view = memoryview(text.encode(out.encoding or "utf-8", "backslashreplace"))
    while view:
        n = raw.write(view)
        view = view[n if n is not None else 0:]
    raw.flush()


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null, so that the flush at
    exit does not complain (the recipe of Python's signal documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (pytest's capture ...)
        pass


def _read(path: str) -> "tuple[str, IO[bytes], Optional[int]]":
    """(the name used in messages, the open binary file, its size or None)."""
    if path == "-":
        return "<stdin>", sys.stdin.buffer, None
    try:
        f = open(path, "rb")
        size = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise _Failed(f"{path}: {e.strerror or e}") from None
    return path, f, size if size > 0 else None


def _decoded(name: str, f: IO[bytes], bar: Any) -> Iterator[str]:
    """The lines of a trace file, decoded: a byte that is not UTF-8 is a
    TraceError of its line.  Read and decoded a block at a time (lines
    split at newlines only, as a binary file's lines are), which feeds the
    progress bar (bytes read)."""
    return itertools.chain.from_iterable(_blocks(name, f, bar))


#: Bytes read at a time by _decoded.
_BLOCK = 1 << 20


def _blocks(name: str, f: IO[bytes], bar: Any) -> Iterator[List[str]]:
    from .trace import TraceError

    lineno = 0          # lines yielded so far
    rest = b""
    first = True
    try:
        while True:
            data = f.read(_BLOCK)
            if not data:
                block, rest = rest, b""
            else:
                data = rest + data
                cut = data.rfind(b"\n") + 1
                if not cut:        # no newline yet: a long line, read on
                    rest = data
                    continue
                block, rest = data[:cut], data[cut:]
            if not block:
                break
            try:
                text = block.decode("utf-8")
            except UnicodeDecodeError:
                for k, raw in enumerate(block.split(b"\n"), lineno + 1):
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise TraceError.at(k, f"not UTF-8 text: byte 0x{raw[e.start]:02x} "
                                               f"at column {e.start + 1}") from None
                raise  # pragma: no cover - some line of the block failed above
            if first and text.startswith("\ufeff"):
                text = text[1:]  # a byte-order mark
            first = False
            lines = text.split("\n")
            if lines[-1] == "":
                lines.pop()          # the block ends with a newline
            lineno += len(lines)
            if bar is not None:
                bar.update(len(block))
            yield lines
            if not data:
                break
    except TraceError:
        raise
    except OSError as e:  # a read error (EISDIR on some systems, EIO ...)
        raise _Failed(f"{name}: {e.strerror or e}") from None


def _progress(enabled: bool, total: Optional[int], name: str, unit: str = "B") -> Any:
    """A tqdm bar on standard error, or None: without tqdm, when disabled,
    or when standard error is not a terminal."""
    if not enabled:
        return None
    try:  # optional (the `progress` extra); imported by name: no stubs needed
        tqdm = importlib.import_module("tqdm").tqdm
    except ImportError:
        return None
    try:
        if not sys.stderr.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return tqdm(total=total, desc=os.path.basename(name), unit=unit, unit_scale=True,
                unit_divisor=1024 if unit == "B" else 1000, delay=1.0, file=sys.stderr,
                leave=False)


def _head(f: IO[bytes]) -> bytes:
    """The first bytes of a file, left to be read again."""
    peek = getattr(f, "peek", None)
    if peek is not None:
        try:
            return bytes(peek(8)[:8])
        except (OSError, ValueError):
            pass
    if f.seekable():
        pos = f.tell()
        head = f.read(8)
        f.seek(pos)
        return head
    return b""


def _replay(path: str, model: bool, compare: bool, progress: bool,
            convert: Optional[str] = None) -> int:
    from . import trace

    name, f, size = _read(path)
    backends: List[ModuleType] = [pymemcg, pymemcg.model] if compare else \
        [pymemcg.model if model else pymemcg]
    bar = None
    outcomes = []

    def failed(e: "trace.TraceError") -> _Failed:
        return _Failed(f"{name}:{e.lineno}: {e.reason}" if e.lineno
                       else f"{name}: {e.reason or e}")

    try:
        try:
            binary = trace.is_binary(_head(f))
        except OSError as e:
            raise _Failed(f"{name}: {e.strerror or e}") from None
        if convert is not None:
            if binary:
                raise _Failed(f"{name}: already a binary trace (--convert reads a text trace)")
            try:
                bt = trace.to_binary(_decoded(name, f, None))
                with open(convert, "wb") as out:
                    trace.save_binary(bt, out)
            except trace.TraceError as e:
                raise failed(e) from None
            except OSError as e:
                raise _Failed(f"{convert}: {e.strerror or e}") from None
            return 0
        source: "Iterable[str] | trace.BinaryTrace"
        if binary:
            try:
                source = trace.load_binary(f)
            except trace.TraceError as e:
                raise failed(e) from None
            except OSError as e:
                raise _Failed(f"{name}: {e.strerror or e}") from None
            bar = _progress(progress, len(source.records) * len(backends), name, "records")
        else:
            bar = _progress(progress, size, name)
            source = _decoded(name, f, bar)
            if compare:
                source = list(source)  # read once, run twice
        for backend in backends:
            try:
                outcomes.append(trace.run_trace(source, backend,
                                                bar.update if binary and bar is not None
                                                else None))
            except trace.TraceError as e:
                raise failed(e) from None
    finally:
        if bar is not None:
            bar.close()
        if f is not sys.stdin.buffer:
            f.close()
    printed = [trace.format_state(o) for o in outcomes]
    first = outcomes[0]

    def where(lineno: int) -> str:
        return f"{name}:{lineno}" if lineno else name

    for lineno, message in first.bad:
        _error(f"{where(lineno)}: {message}")
    if first.errors > len(first.bad):
        _error(f"{name}: {first.errors} bad records in all (the first {len(first.bad)} shown)")
    _write("\n".join(printed[0]) + "\n")
    if compare and (printed[0] != printed[1] or first.bad != outcomes[1].bad):
        _error(f"{name}: the C core and the model disagree; the model printed:")
        for lineno, message in outcomes[1].bad:
            _error(f"{where(lineno)}: {message}")
        print("\n".join(printed[1]), file=sys.stderr)
        return 1
    return 1 if first.errors else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
