"""Text traces: what ``pymemcg replay FILE`` runs.

:func:`run_trace` runs the lines of a trace on either backend and returns
an :class:`Outcome`; :func:`format_state` prints its final counters, events
and stats as the command does.  Every problem with a trace is a
:class:`TraceError` (a :class:`pymemcg.MemcgError`) that names the line.
"""

from __future__ import annotations

import dataclasses
import errno as _errno
import itertools
import re
import struct
from types import ModuleType
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from . import gfp as _gfp
from . import replay as R
from ._common import PAGE_COUNTER_MAX
from .config import Config
from .errors import InvalidError, MemcgError

__all__ = ["FORMAT", "TraceError", "Outcome", "run_trace", "format_state", "MAX_REPORTED"]

#: The trace format, as ``pymemcg replay --help`` and the README show it.
FORMAT = """\
A trace is UTF-8 text, one operation per line (a line ends with a newline;
a carriage return before it is ignored).  Words are separated by
whitespace; '#' starts a comment that runs to the end of the line; blank
lines are ignored.  Cgroup paths are relative to the root (a/b), so a name in a
trace cannot hold whitespace or '#'.

  config PRESET [FIELD=VALUE ...]   optional, before any other operation: a
                                    preset (linux_3_8, current, current_v1)
                                    and Config fields (ncpus=2 memsw=yes)
  create PATH                       mkdir (the parent must exist)
  remove PATH                       rmdir
  write PATH FILE VALUE             write an interface file; VALUE is the rest
                                    of the line (64M, max, 10M swappiness=60)
  charge PATH PAGES [cpu=N] [gfp=FLAGS] [kmem]
                                    try_charge (defaults: cpu=0, gfp=KERNEL)
  uncharge PATH PAGES [cpu=N] [kmem]
                                    uncharge
  drain CPU                         drain one CPU's stock
  drain_all [PATH]                  drain every stock (holding PATH's pages)

Numbers are decimal (no leading zeros) or 0x hex; PAGES counts pages of
4096 bytes, and interface files take the kernel's syntax (64M, max).  FLAGS
are names of pymemcg.gfp without GFP_, joined with '|' (gfp=KERNEL|NOFAIL).
Config values: integers, yes/no (or 1/0, true/false, on/off) for switches,
words for choices (failcnt=memory).

Consecutive charge, uncharge and drain lines run as one batch
(Hierarchy.replay, one C call); config, create, remove and write run between
batches.  A line that cannot be read, or an operation that fails (create,
remove, write, a path with no online cgroup), stops the trace with an error
that names the line.  A record that the replay refuses (a CPU that the config
does not have, more than PAGE_COUNTER_MAX pages) is a bad record: counted,
reported with its line, and the trace goes on.  A refused charge and an
uncharge that underflows are outcomes of the kernel's rules, not errors.
"""

__doc__ = (__doc__ or "") + "\n" + FORMAT

#: How many bad records an :class:`Outcome` describes one by one (all are counted).
MAX_REPORTED = 20


class TraceError(InvalidError):
    """A line of a trace that cannot be read or run.

    ``lineno`` is the line (1 for the first), ``reason`` the message without
    the line; ``errno`` is EINVAL for a line that cannot be read, else the
    errno of the operation that failed (EBUSY for a write below usage ...),
    whose exception is the ``__cause__``.
    """

    lineno: int = 0
    reason: str = ""

    @classmethod
    def at(cls, lineno: int, reason: str, errno: int = _errno.EINVAL) -> "TraceError":
        """The error of line ``lineno``."""
        e = cls(errno, f"line {lineno}: {reason}")
        e.lineno, e.reason = lineno, reason
        return e


@dataclasses.dataclass
class Outcome:
    """What a trace did: the hierarchy at the end and a tally of its records.

    ``errors`` counts the bad records (refused by the replay: see
    :data:`FORMAT`); ``bad`` describes the first :data:`MAX_REPORTED` of
    them as ``(line, message)``.
    """

    hierarchy: Any
    ops: int = 0
    charged: int = 0
    refused: int = 0
    underflows: int = 0
    errors: int = 0
    bad: List[Tuple[int, str]] = dataclasses.field(default_factory=list)


_INT_RE = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|0|[1-9][0-9]*)")
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_TRUE = ("1", "yes", "true", "on")
_FALSE = ("0", "no", "false", "off")
_PRESETS = {"linux_3_8": Config.linux_3_8, "current": Config.current,
            "current_v1": Config.current_v1}
_GFP = {name[4:]: getattr(_gfp, name) for name in _gfp.__all__ if name.startswith("GFP_")}
_CHARGE, _UNCHARGE, _KERNEL = R.OP_CHARGE, R.OP_UNCHARGE, _gfp.GFP_KERNEL
_OP_WORDS = {R.OP_CHARGE: "charge", R.OP_UNCHARGE: "uncharge", R.OP_DRAIN: "drain",
             R.OP_DRAIN_ALL: "drain_all"}


def _pages(text: str, lineno: int) -> int:
    """PAGES of a record: a plain decimal of up to 18 digits (the common
    case, well inside int64) without the regular expression; else _int."""
    if text.isascii() and text.isdigit() and len(text) <= 18 and (text[0] != "0" or len(text) == 1):
        return int(text)
    return _int(text, "PAGES", lineno, _INT64)


#: Records packed a chunk at a time: one struct call for _CHUNK records.
_CHUNK = 1024
_PACK_CHUNK = struct.Struct("<" + R.OP_FORMAT.lstrip("<=@!>") * _CHUNK)


def _pack(batch: List[Tuple[int, int, int, int, int, int]]) -> bytearray:
    """The batch as replay records.  Its fields were checked as the lines
    were read, so no per-record check is needed (R.pack_ops names a bad one
    should a value still not fit its C type)."""
    flat = list(itertools.chain.from_iterable(batch))
    n = len(batch)
    full = n - n % _CHUNK
    out = bytearray()
    try:
        for i in range(0, full, _CHUNK):
            out += _PACK_CHUNK.pack(*flat[i * 6:(i + _CHUNK) * 6])
        if full < n:
            out += struct.pack("<" + R.OP_FORMAT.lstrip("<=@!>") * (n - full), *flat[full * 6:])
    except struct.error:
        return R.pack_ops(batch)
    return out


def _int(text: str, what: str, lineno: int, bounds: Tuple[int, int]) -> int:
    """A number of the trace: decimal without leading zeros, or 0x hex."""
    if not _INT_RE.fullmatch(text):
        raise TraceError.at(lineno, f"{what} must be a number (decimal, or 0x hex), "
                                    f"not {text!r}")
    value = int(text, 0)
    lo, hi = bounds
    if not lo <= value <= hi:
        raise TraceError.at(lineno, f"{what} {text} is out of range {lo}..{hi}")
    return value


def _parse_config(args: Sequence[str], lineno: int) -> Config:
    if not args or args[0] not in _PRESETS:
        got = f", not {args[0]!r}" if args else ""
        raise TraceError.at(lineno, f"config needs a preset first: {', '.join(_PRESETS)}{got}")
    types = {f.name: f.type for f in dataclasses.fields(Config)}
    changes: Dict[str, Any] = {}
    for item in args[1:]:
        key, sep, value = item.partition("=")
        if not sep:
            raise TraceError.at(lineno, f"config takes FIELD=VALUE, not {item!r}")
        if key not in types:
            raise TraceError.at(lineno, f"config: no Config field {key!r} "
                                        f"(fields: {', '.join(types)})")
        if types[key] == "bool":
            if value.lower() in _TRUE:
                changes[key] = True
            elif value.lower() in _FALSE:
                changes[key] = False
            else:
                raise TraceError.at(lineno, f"config: {key} takes yes or no, not {value!r}")
        elif types[key] == "int":
            changes[key] = _int(value, f"config: {key}", lineno, (-(2**64), 2**64))
        else:
            changes[key] = value
    try:
        return _PRESETS[args[0]](**changes)
    except MemcgError as e:
        raise TraceError.at(lineno, f"config: {_message(e)}") from e


def _message(e: BaseException) -> str:
    """An exception's message without OSError's ``[Errno N]`` prefix."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e)


def _parse_gfp(text: str, lineno: int) -> int:
    flags = 0
    for name in text.split("|"):
        value = _GFP.get(name.upper())
        if value is None:
            raise TraceError.at(lineno, f"unknown GFP flag {name!r} (flags: {', '.join(_GFP)})")
        flags |= value
    return flags


class _Runner:
    """The state of one trace run: the hierarchy, the batch, the tally."""

    def __init__(self, backend: ModuleType) -> None:
        self.backend = backend
        self.out: Optional[Outcome] = None
        self.batch: List[Tuple[int, int, int, int, int, int]] = []
        self.lines: List[int] = []
        self.paths: Dict[str, Any] = {}   # path -> online Cgroup, until the tree changes
        self.handles: Dict[str, int] = {}  # path -> its handle, likewise (the fast path)
        self.pages: Dict[str, int] = {}    # PAGES text -> value, the first few thousand

    def start(self, lineno: int, config: Optional[Config] = None) -> Outcome:
        try:
            h = self.backend.Hierarchy(config) if config is not None else self.backend.Hierarchy()
        except MemcgError as e:
            raise TraceError.at(lineno, f"config: {_message(e)}", _errno_of(e)) from e
        self.out = Outcome(h)
        return self.out

    def cgroup(self, path: str, lineno: int, cmd: str) -> Any:
        cg = self.paths.get(path)
        if cg is None:
            assert self.out is not None
            try:
                cg = self.out.hierarchy[path]
            except MemcgError as e:
                raise TraceError.at(lineno, f"{cmd} {path}: {_message(e)}", _errno_of(e)) from e
            self.paths[path] = cg
            self.handles[path] = cg.handle
        return cg

    def record(self, words: List[str], lineno: int) -> None:
        cmd = words[0]
        op = R.OP_CHARGE if cmd == "charge" else R.OP_UNCHARGE
        if len(words) < 3:
            usage = ("charge PATH PAGES [cpu=N] [gfp=FLAGS] [kmem]" if op == R.OP_CHARGE
                     else "uncharge PATH PAGES [cpu=N] [kmem]")
            raise TraceError.at(lineno, f"usage: {usage}")
        cg = self.cgroup(words[1], lineno, cmd)
        nr = _pages(words[2], lineno)
        cpu, flags, kmem = 0, (_gfp.GFP_KERNEL if op == R.OP_CHARGE else 0), 0
        if len(words) > 3:
            seen = set()
            for opt in words[3:]:
                key = opt.partition("=")[0]
                if key in seen:
                    raise TraceError.at(lineno, f"{key} given twice")
                seen.add(key)
                if opt == "kmem":
                    kmem = 1
                elif opt.startswith("cpu="):
                    cpu = _int(opt[4:], "cpu", lineno, _INT32)
                elif opt.startswith("gfp="):
                    if op != R.OP_CHARGE:
                        raise TraceError.at(lineno, "uncharge takes no gfp= (an uncharge "
                                                    "never allocates)")
                    flags = _parse_gfp(opt[4:], lineno)
                else:
                    raise TraceError.at(lineno, f"{cmd}: unknown option {opt!r}")
        self.batch.append((op, flags, cg.handle, nr, cpu, kmem))
        self.lines.append(lineno)

    def flush(self) -> None:
        out, batch = self.out, self.batch
        if not batch or out is None:
            return
        results = out.hierarchy.replay(_pack(batch))
        codes = results.tolist() if hasattr(results, "tolist") else list(results)
        out.ops += len(batch)
        for rec, res, lineno in zip(batch, codes, self.lines):
            if res == 0:
                if rec[0] == R.OP_CHARGE:
                    out.charged += 1
            elif res > 0:
                out.refused += 1
            elif res == R.RESULT_UNDERFLOW:
                out.underflows += 1
            else:
                out.errors += 1
                if len(out.bad) < MAX_REPORTED:
                    out.bad.append((lineno, self._why(rec, res)))
        batch.clear()
        self.lines.clear()

    def _why(self, rec: Tuple[int, ...], res: int) -> str:
        """A bad record's message: its op, its errno name and the likely cause."""
        op, _, _, nr, cpu, _ = rec
        name = _errno.errorcode.get(-res, str(-res))
        assert self.out is not None
        ncpus = self.out.hierarchy.config.ncpus
        if res == -_errno.EINVAL and not 0 <= cpu < ncpus:
            why = f"no CPU {cpu} (the config has ncpus={ncpus})"
        elif res == -_errno.EINVAL and not 0 <= nr <= PAGE_COUNTER_MAX:
            why = f"{nr} pages is out of range 0..{PAGE_COUNTER_MAX} (PAGE_COUNTER_MAX)"
        elif res == -_errno.ESTALE:
            why = "the cgroup is gone"
        else:
            why = "refused by the replay"
        return f"bad {_OP_WORDS.get(op, str(op))} record ({name}): {why}"

    def operation(self, lineno: int, what: str, fn: Any, *args: Any) -> None:
        """Run a tree or file operation between batches."""
        self.flush()
        try:
            fn(*args)
        except MemcgError as e:
            raise TraceError.at(lineno, f"{what}: {_message(e)}", _errno_of(e)) from e
        finally:
            self.paths.clear()
            self.handles.clear()


def _errno_of(e: BaseException) -> int:
    code = getattr(e, "errno", None)
    return code if isinstance(code, int) and code > 0 else _errno.EINVAL


def run_trace(lines: Iterable[str], backend: ModuleType) -> Outcome:
    """Run a trace (an iterable of lines, with or without their newlines) on
    ``backend`` (``pymemcg`` or ``pymemcg.model``).

    Raises :class:`TraceError` naming the line for a line that cannot be
    read or an operation that fails (see :data:`FORMAT`); bad records are
    counted in the :class:`Outcome` instead.
    """
    run = _Runner(backend)
    handles, pages, batch, linenos = run.handles, run.pages, run.batch, run.lines
    for lineno, raw in enumerate(lines, 1):
        cut = raw.find("#")
        if cut >= 0:
            raw = raw[:cut]
        words = raw.split()
        if not words:
            continue
        cmd = words[0]
        if cmd == "config":
            if run.out is not None:
                raise TraceError.at(lineno, "config must come before any other operation")
            run.start(lineno, _parse_config(words[1:], lineno))
            continue
        if run.out is None:
            run.start(lineno)
        n = len(words)
        if n == 3 and (cmd == "charge" or cmd == "uncharge"):
            # The common record, inline: no options, a path seen since the
            # tree last changed, a page count seen before (about 1 us a
            # record all told, most of it Python's own line handling).
            handle = handles.get(words[1])
            if handle is not None:
                nr = pages.get(words[2])
                if nr is None:
                    nr = _pages(words[2], lineno)
                    if len(pages) < 4096:
                        pages[words[2]] = nr
                if cmd == "charge":
                    batch.append((_CHARGE, _KERNEL, handle, nr, 0, 0))
                else:
                    batch.append((_UNCHARGE, 0, handle, nr, 0, 0))
                linenos.append(lineno)
                continue
        h = run.out.hierarchy  # type: ignore[union-attr]
        if cmd == "charge" or cmd == "uncharge":
            run.record(words, lineno)
        elif cmd == "drain" and n == 2:
            cpu = _int(words[1], "CPU", lineno, _INT32)
            run.batch.append((R.OP_DRAIN, 0, 0, 0, cpu, 0))
            run.lines.append(lineno)
        elif cmd == "drain_all" and n <= 2:
            handle = run.cgroup(words[1], lineno, cmd).handle if n == 2 else 0
            run.batch.append((R.OP_DRAIN_ALL, 0, handle, 0, 0, 0))
            run.lines.append(lineno)
        elif cmd == "create" and n == 2:
            run.operation(lineno, f"create {words[1]}", h.create, words[1])
        elif cmd == "remove" and n == 2:
            run.flush()
            cg = run.cgroup(words[1], lineno, cmd)
            run.operation(lineno, f"remove {words[1]}", cg.remove)
        elif cmd == "write" and n >= 4:
            run.flush()
            cg = run.cgroup(words[1], lineno, cmd)
            value = raw.split(None, 3)[3].strip()
            run.operation(lineno, f"write {words[1]} {words[2]}", cg.write, words[2], value)
        elif cmd in _USAGE:
            raise TraceError.at(lineno, f"usage: {_USAGE[cmd]}")
        else:
            raise TraceError.at(lineno, f"unknown operation {cmd!r} (operations: "
                                        f"{', '.join(_USAGE)})")
    out = run.out if run.out is not None else run.start(0)
    run.flush()
    return out


_USAGE = {
    "config": "config PRESET [FIELD=VALUE ...]",
    "create": "create PATH",
    "remove": "remove PATH",
    "write": "write PATH FILE VALUE",
    "charge": "charge PATH PAGES [cpu=N] [gfp=FLAGS] [kmem]",
    "uncharge": "uncharge PATH PAGES [cpu=N] [kmem]",
    "drain": "drain CPU",
    "drain_all": "drain_all [PATH]",
}


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> List[str]:
    """Lines of a plain-text table: columns as wide as their widest cell
    (never cut to a terminal's width, so a pipe keeps them), two spaces
    apart, numbers right-aligned, the rest left-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    right = [bool(rows) and all(isinstance(r[i], int) or r[i] == "max" for r in rows)
             for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w)
                         for c, w, r in zip(row, widths, right)).rstrip()

    return [line(headers)] + [line(r) for r in cells]


def format_state(out: Outcome) -> List[str]:
    """The tally and the final state of every cgroup, as ``pymemcg replay``
    prints them: counters in pages, memory.events in events, memory.stat in
    bytes; each table's header says its unit."""
    h = out.hierarchy
    lines = [f"records: {out.ops} replayed (charged {out.charged}, refused {out.refused}, "
             f"underflowed {out.underflows}, bad {out.errors})"]
    cgroups = h.cgroups()
    counters, events, stats = [], [], []
    event_keys: List[str] = []
    stat_keys: List[str] = []
    for cg in cgroups:
        path = cg.path or "/"
        for name in h.config.counters:
            s = getattr(cg, name).snapshot()
            limit: object = "max" if s.max == PAGE_COUNTER_MAX else s.max
            counters.append([path, cg.id, "online" if cg.online else "dying", name,
                             s.usage, limit, s.watermark, s.failcnt])
        ev, st = cg.events, cg.stat
        event_keys += [k for k in ev if k not in event_keys]
        stat_keys += [k for k in st if k not in stat_keys]
        events.append((path, ev))
        stats.append((path, st))
    lines += ["", "counters, in pages (4096 bytes)"]
    lines += table(["cgroup", "id", "state", "counter", "usage_pages", "max_pages",
                    "peak_pages", "failcnt"], counters)
    lines += ["", "memory.events, in events"]
    lines += table(["cgroup"] + event_keys,
                   [[p] + [ev.get(k, 0) for k in event_keys] for p, ev in events])
    lines += ["", "memory.stat, in bytes"]
    lines += table(["cgroup"] + [f"{k}_bytes" for k in stat_keys],
                   [[p] + [st.get(k, 0) for k in stat_keys] for p, st in stats])
    return lines
