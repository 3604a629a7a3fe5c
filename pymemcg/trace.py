"""Traces: what ``pymemcg replay FILE`` runs, as text or binary.

:func:`run_trace` runs the lines of a text trace, or a :class:`BinaryTrace`
(:func:`load_binary`; :func:`save_binary` writes one from a text trace), on
either backend and returns an :class:`Outcome`; :func:`format_state` prints its final counters, events
and stats as the command does.  Every problem with a trace is a
:class:`TraceError` (a :class:`pymemcg.MemcgError`) that names the line.
"""

from __future__ import annotations

import array
import dataclasses
import errno as _errno
import io
import itertools
import re
import struct
import zipfile
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import gfp as _gfp
from . import replay as R
from ._common import PAGE_COUNTER_MAX
from .config import Config
from .errors import InvalidError, MemcgError, StaleHandleError

__all__ = ["FORMAT", "TraceError", "Outcome", "run_trace", "format_state", "MAX_REPORTED",
           "BinaryTrace", "load_binary", "save_binary", "to_binary", "is_binary"]

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

A binary trace is a numpy .npz archive (numpy.savez), told from text by its
first bytes; `pymemcg replay TEXT --convert OUT.npz` (or
pymemcg.trace.save_binary) writes one from a text trace.  Its members, each
an array as numpy.save writes it:

  records      OP_DTYPE records (pymemcg.OP_DTYPE), whose cgroup field is an
               index into paths: k names paths[k-1], 0 no cgroup (drain,
               drain_all of the whole tree)
  paths        the cgroup paths (a 1-D str array)
  trace        a text trace (a str) for all but the records: config, create,
               remove, write ...; its line "records N" runs the next N
               records (with no such line, all of them run after the text, as
               if on the line after it)
  lines        optional: the line of each record, and of each line of
  trace_lines  trace, in the text trace it came from (for the messages)

Each "records N" maps the paths to the cgroups online at that point (a path
with none stops the trace, naming the first record that uses it) and runs
the records in Hierarchy.replay calls of 16384.  The outcome is that of the
text trace: bad records are counted and reported with their line (without
lines: the line of their "records N" and their index, from 1).
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


def _parse_record(words: List[str], lineno: int) -> Tuple[int, int, int, int, int]:
    """A charge or uncharge line's (op, flags, nr_pages, cpu, kmem); its
    path is words[1]."""
    cmd = words[0]
    op = R.OP_CHARGE if cmd == "charge" else R.OP_UNCHARGE
    if len(words) < 3:
        usage = ("charge PATH PAGES [cpu=N] [gfp=FLAGS] [kmem]" if op == R.OP_CHARGE
                 else "uncharge PATH PAGES [cpu=N] [kmem]")
        raise TraceError.at(lineno, f"usage: {usage}")
    nr = _pages(words[2], lineno)
    cpu, flags, kmem = 0, (_KERNEL if op == R.OP_CHARGE else 0), 0
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
    return op, flags, nr, cpu, kmem


def _record_line(words: List[str], lineno: int) -> Optional[Tuple[int, int, Optional[str], int,
                                                                   int, int]]:
    """A record line's (op, flags, path or None, nr_pages, cpu, kmem); None
    for a line that is not a record (an operation, or a drain of the wrong
    shape, whose usage error the run reports)."""
    cmd, n = words[0], len(words)
    if cmd == "charge" or cmd == "uncharge":
        op, flags, nr, cpu, kmem = _parse_record(words, lineno)
        return op, flags, words[1], nr, cpu, kmem
    if cmd == "drain" and n == 2:
        return R.OP_DRAIN, 0, None, 0, _int(words[1], "CPU", lineno, _INT32), 0
    if cmd == "drain_all" and n <= 2:
        return R.OP_DRAIN_ALL, 0, (words[1] if n == 2 else None), 0, 0, 0
    return None


_OP_STRUCT = struct.Struct(R.OP_FORMAT)
_UNPACK_FROM = _OP_STRUCT.unpack_from

try:
    from ._core import ffi as _ffi, lib as _lib
except ImportError:   # no C core: the model backend runs, and reads every line here
    _ffi = _lib = None  # type: ignore[assignment]

#: Whether run_trace reads the common record lines in C (pmc_trace_parse);
#: the lines it leaves, and every message, are read here either way.
USE_C_PARSER = _lib is not None

#: Lines read and run a chunk at a time (text), records per replay call (binary).
_TEXT_CHUNK = 8192
_BINARY_CHUNK = 16384
#: Distinct record lines remembered (each with its packed record) until the tree changes.
_CACHE_LINES = 1 << 16


def _pack1(rec: Tuple[int, int, int, int, int, int]) -> bytes:
    try:
        return _OP_STRUCT.pack(*rec)
    except struct.error:  # pragma: no cover - every field was checked as its line was read
        return bytes(R.pack_ops([rec]))


#: The first words of the lines that pmc_trace_parse may read.
_RECORD_WORDS = ("charge", "uncharge", "drain")


class _Runner:
    """The state of one trace run: the hierarchy, the batch, the tally."""

    def __init__(self, backend: ModuleType) -> None:
        self.backend = backend
        self.out: Optional[Outcome] = None
        self.batch: List[bytes] = []        # packed records, waiting for the next replay
        self.nbatch = 0                     # how many records batch holds
        self.lines = array.array("q")       # the line of each
        self.paths: Dict[str, Any] = {}     # path -> online Cgroup, until the tree changes
        #: A record line as read (newline and all) -> its packed record, likewise:
        #: a trace repeats few distinct lines, and this skips reading them again.
        self.cache: Dict[str, bytes] = {}
        self.handles: Dict[str, int] = {}   # path -> its handle, likewise
        self.pages: Dict[str, int] = {}     # PAGES text -> value, the first few thousand
        #: a record's command and options -> (op, flags, cpu, kmem)
        self.options: Dict[Any, Tuple[int, int, int, int]] = {}
        self.results: Any = None            # the int64 results buffer, reused
        self.np = R._numpy()
        #: binary traces: the handle of each index of paths, and which are known.
        self.table: Any = None              # binary traces: path index -> handle (0: not yet)
        #: text traces read in C: the online cgroups (path -> handle; None:
        #: to be listed), their table as pmc_trace_parse takes it (None: to
        #: be built), and its output buffers.
        self.online: Optional[Dict[str, int]] = None
        self.ctable: Optional[Tuple[bytes, Any, Any, int]] = None
        self.cbufs: Any = None

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
        return cg

    def line(self, raw: str, lineno: int) -> None:
        """Run one line of a text trace (the general path)."""
        text = raw
        cut = text.find("#")
        if cut >= 0:
            text = text[:cut]
        words = text.split()
        if not words:
            return
        cmd = words[0]
        if cmd == "config":
            if self.out is not None:
                raise TraceError.at(lineno, "config must come before any other operation")
            self.start(lineno, _parse_config(words[1:], lineno))
            return
        if self.out is None:
            self.start(lineno)
        n = len(words)
        rec = _record_line(words, lineno)
        if rec is not None:
            op, flags, path, nr, cpu, kmem = rec
            handle = 0 if path is None else self.cgroup(path, lineno, cmd).handle
            packed = _pack1((op, flags, handle, nr, cpu, kmem))
            if op == R.OP_CHARGE or op == R.OP_UNCHARGE:
                # For run_trace's words path: each word, seen before.
                assert path is not None
                self.handles[path] = handle
                self.options[cmd if n == 3 else (cmd, *words[3:])] = (op, flags, cpu, kmem)
                if len(self.pages) < _CACHE_LINES:
                    self.pages[words[2]] = nr
            cache = self.cache
            if len(cache) >= _CACHE_LINES:
                cache.clear()
            cache[raw] = packed
            self.batch.append(packed)
            self.nbatch += 1
            self.lines.append(lineno)
            return
        assert self.out is not None
        h = self.out.hierarchy
        if cmd == "create" and n == 2:
            self.ctable = None
            made = self.operation(lineno, f"create {words[1]}", h.create, words[1])
            if self.online is not None:
                self.online[made.path] = made.handle
        elif cmd == "remove" and n == 2:
            self.flush()
            cg = self.cgroup(words[1], lineno, cmd)
            self.ctable = self.online = None
            self.operation(lineno, f"remove {words[1]}", cg.remove)
        elif cmd == "write" and n >= 4:
            self.flush()
            cg = self.cgroup(words[1], lineno, cmd)
            value = text.split(None, 3)[3].strip()
            self.operation(lineno, f"write {words[1]} {words[2]}", cg.write, words[2], value)
        elif cmd in _USAGE:
            raise TraceError.at(lineno, f"usage: {_USAGE[cmd]}")
        else:
            raise TraceError.at(lineno, f"unknown operation {cmd!r} (operations: "
                                        f"{', '.join(_USAGE)})")

    def _results(self, n: int) -> Any:
        res = self.results
        if res is None or len(res) < n:
            res = self.results = R.new_results(max(n, _TEXT_CHUNK))
        return res

    def flush(self) -> None:
        """Replay the batch of text records."""
        out, batch = self.out, self.batch
        if not batch or out is None:
            return
        buf = b"".join(batch)
        n = self.nbatch
        res = out.hierarchy.replay(buf, self._results(n))
        lines = self.lines
        self._tally(buf, None, res, n, lambda i: (lines[i], ""))
        batch.clear()
        self.nbatch = 0
        del lines[:]

    def _tally(self, buf: Any, ops: Any, res: Any, n: int,
               where: Callable[[int], Tuple[int, str]]) -> None:
        """Count the results of n records (packed in buf; ops: their op
        column as a numpy array, or None to read it from buf); where(i) is
        the line of record i and a prefix for its message."""
        out = self.out
        assert out is not None
        out.ops += n
        np = self.np
        bad: List[int] = []
        codes: List[int] = []
        if np is not None:
            r = np.asarray(res)[:n]
            if ops is None:
                ops = np.frombuffer(buf, dtype=R.OP_DTYPE, count=n)["op"]
            ok = r == 0
            if ok.all():
                out.charged += int(np.count_nonzero(ops == R.OP_CHARGE))
                return
            out.charged += int(np.count_nonzero(ok & (ops == R.OP_CHARGE)))
            out.refused += int(np.count_nonzero(r > 0))
            under = int(np.count_nonzero(r == R.RESULT_UNDERFLOW))
            out.underflows += under
            errors = int(np.count_nonzero(r < 0)) - under
            if errors:
                out.errors += errors
                room = MAX_REPORTED - len(out.bad)
                if room > 0:
                    bad = np.flatnonzero((r < 0) & (r != R.RESULT_UNDERFLOW))[:room].tolist()
                    codes = [int(r[i]) for i in bad]
        else:
            codes_all = res[:n].tolist()
            op_list = memoryview(buf).cast("I")[::8].tolist()
            for i, (code, op) in enumerate(zip(codes_all, op_list)):
                if code == 0:
                    if op == R.OP_CHARGE:
                        out.charged += 1
                elif code > 0:
                    out.refused += 1
                elif code == R.RESULT_UNDERFLOW:
                    out.underflows += 1
                else:
                    out.errors += 1
                    if len(out.bad) + len(bad) < MAX_REPORTED:
                        bad.append(i)
            codes = [codes_all[i] for i in bad]
        for i, code in zip(bad, codes):
            lineno, prefix = where(i)
            out.bad.append((lineno, prefix + self._why(_UNPACK_FROM(buf, i * R.OP_SIZE), code)))

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

    def operation(self, lineno: int, what: str, fn: Any, *args: Any) -> Any:
        """Run a tree or file operation between batches; its result."""
        self.flush()
        try:
            return fn(*args)
        except MemcgError as e:
            raise TraceError.at(lineno, f"{what}: {_message(e)}", _errno_of(e)) from e
        finally:
            self.paths.clear()
            self.cache.clear()
            self.handles.clear()
            self.table = None

    # -- text traces read in C --------------------------------------------------

    def _ctable(self) -> Tuple[bytes, Any, Any, int]:
        """The online cgroups as pmc_trace_parse's path table."""
        table = self.ctable
        if table is None:
            if self.online is None:
                assert self.out is not None
                self.online = {cg.path: cg.handle for cg in self.out.hierarchy.cgroups()
                               if cg.online and cg.path}
            items = sorted((p.encode("utf-8", "surrogatepass"), h)
                           for p, h in self.online.items())
            names = b"".join(p for p, _ in items)
            offs = _ffi.new("int64_t[]", list(itertools.accumulate(
                (len(p) for p, _ in items), initial=0)))
            handles = _ffi.new("int64_t[]", [h for _, h in items] or [0])
            table = self.ctable = (names, offs, handles, len(items))
        return table

    def text_chunk(self, chunk: List[str], base: int) -> None:
        """Run a chunk of text lines (the first is line base): the record
        lines pmc_trace_parse reads, in C, and the others one by one here."""
        line = self.line
        k, count = 0, len(chunk)
        while k < count and self.out is None:
            line(chunk[k], base + k)
            k += 1
        if k == count:
            return
        text = "\0".join(chunk[k:] if k else chunk)
        data = None
        if text.count("\0") == count - k - 1:     # no line holds a NUL of its own
            try:
                data = text.encode()
            except UnicodeEncodeError:   # a lone surrogate: the lines are read here
                pass
        if data is None:
            for k in range(k, count):
                line(chunk[k], base + k)
            return
        bufs = self.cbufs
        if bufs is None or bufs[3] < count:
            cap = max(count, _TEXT_CHUNK)
            bufs = self.cbufs = (_ffi.new("char[]", cap * R.OP_SIZE),
                                 _ffi.new("int64_t[]", cap), _ffi.new("int64_t[3]"), cap)
        ops, lines, done, cap = bufs
        parse, buffer = _lib.pmc_trace_parse, _ffi.buffer
        size, pos = len(data), 0
        batch, linenos = self.batch, self.lines
        while True:
            names, offs, handles, npaths = self.ctable or self._ctable()
            n = parse(data, size, pos, 0, names, offs, handles, npaths, ops, cap, lines,
                      base + k, done)
            if n < 0:  # pragma: no cover - every argument is checked here
                raise RuntimeError(f"pmc_trace_parse: {n}")
            if n:
                batch.append(buffer(ops, n * R.OP_SIZE)[:])
                linenos.frombytes(buffer(lines, n * 8))
                self.nbatch += n
            k += done[0]
            if done[1] >= size:
                return
            line(chunk[k], base + k)     # a line that C leaves: read and run here
            k += 1
            pos = done[2]
            if self.ctable is None:
                # The tree changed: the lines up to the next record are read
                # here too (a run of creates rebuilds the path table once).
                while k < count and not chunk[k].lstrip().startswith(_RECORD_WORDS):
                    line(chunk[k], base + k)
                    k += 1
                    pos = data.find(b"\0", pos) + 1 or size
                if k == count:
                    return

    # -- binary traces ----------------------------------------------------------

    def records(self, bt: "BinaryTrace", first: int, count: int, lineno: int,
                progress: Optional[Callable[[int], None]]) -> None:
        """Run records[first:first + count] of a binary trace, whose
        ``records N`` line is ``lineno``, a chunk per replay call."""
        np = self.np
        self.flush()
        out = self.out
        assert out is not None and np is not None
        paths, lines = bt.paths, bt.lines
        npaths = len(paths)
        for start in range(first, first + count, _BINARY_CHUNK):
            stop = min(start + _BINARY_CHUNK, first + count)
            chunk = np.ascontiguousarray(bt.records[start:stop])
            n = stop - start

            def where(i: int, start: int = start) -> Tuple[int, str]:
                k = start + i
                if lines is not None:
                    return int(lines[k]), ""
                return lineno, f"record {k + 1}: "

            if self.table is None:
                # Index -> handle, 0 while not looked up (index 0: no cgroup).
                self.table = np.zeros(npaths + 1, dtype=np.int64)
            table = self.table
            res = self._results(n)
            done = 0
            while done < n:
                # One C call maps the indexes as it reads the records; it
                # stops before an index it cannot map (bad, or not looked up).
                done += out.hierarchy._replay_mapped(chunk[done:], table, res[done:n])
                if done == n:
                    break
                k = int(chunk["cgroup"][done])
                at, prefix = where(done)
                if k < 0 or k > npaths:
                    raise TraceError.at(at, f"{prefix}cgroup {k} is not an index into "
                                            f"paths (0, or 1..{npaths})")
                if table[k]:
                    raise StaleHandleError(  # pragma: no cover - closed meanwhile
                        f"replay: the hierarchy was closed after {done} of {n} records")
                op = int(chunk["op"][done])
                cmd = prefix + _OP_WORDS.get(op, f"op {op}")
                table[k] = self.cgroup(paths[k - 1], at, cmd).handle
            self._tally(chunk, chunk["op"], res, n, where)
            if progress is not None:
                progress(n)


@dataclasses.dataclass
class BinaryTrace:
    """A binary trace, as :func:`load_binary` reads it (see :data:`FORMAT`).

    ``records``: a numpy ``OP_DTYPE`` array whose ``cgroup`` field is an
    index into ``paths`` (k names ``paths[k - 1]``, 0 no cgroup);
    ``text``: the lines of the text part; ``lines`` and ``trace_lines``:
    the line of each record and of each text line in the text trace it came
    from, or None (records are then named by their ``records N`` line and
    index, text lines by their line in the text part).
    """

    records: Any
    paths: List[str]
    text: List[str]
    lines: Any = None
    trace_lines: Any = None


#: The first bytes of a binary trace (.npz: a zip archive) and of a lone .npy file.
NPZ_MAGIC = b"PK\x03\x04"
NPY_MAGIC = b"\x93NUMPY"


def is_binary(head: bytes) -> bool:
    """Whether a file that starts with ``head`` (its first 6 bytes or more)
    is binary (an .npz archive or an .npy array) rather than a text trace."""
    return head.startswith(NPZ_MAGIC) or head.startswith(NPY_MAGIC)


def _need_numpy(what: str) -> Any:
    np = R._numpy()
    if np is None:
        raise TraceError.at(0, f"{what} needs numpy (pip install 'pymemcg[numpy]')")
    return np


def load_binary(file: Any) -> BinaryTrace:
    """Read a binary trace: a path, a binary file object or bytes.  Every
    problem with its members is a :class:`TraceError` (line 0)."""
    np = _need_numpy("a binary trace")
    if isinstance(file, (bytes, bytearray, memoryview)):
        file = io.BytesIO(bytes(file))
    head = b""
    if hasattr(file, "read"):
        if not (hasattr(file, "seekable") and file.seekable()):
            file = io.BytesIO(file.read())     # a pipe: zipfile needs to seek
        pos = file.tell()
        head = file.read(6)
        file.seek(pos)
    else:
        with open(file, "rb") as f:
            head = f.read(6)
    if head.startswith(NPY_MAGIC):
        raise TraceError.at(0, "a lone .npy array holds records without their cgroups: a "
                               "binary trace is an .npz archive of records, paths and trace "
                               "(pymemcg replay TEXT --convert OUT.npz writes one)")
    if not head.startswith(NPZ_MAGIC):
        raise TraceError.at(0, "not a binary trace (an .npz archive)")
    try:
        with np.load(file, allow_pickle=False) as z:
            members = {name: z[name] for name in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise TraceError.at(0, f"cannot read the binary trace: {e}") from None
    return _check_binary(np, members)


def _check_binary(np: Any, m: Dict[str, Any]) -> BinaryTrace:
    unknown = sorted(set(m) - set(_MEMBERS))
    if unknown:
        raise TraceError.at(0, f"binary trace: unknown member(s) {', '.join(unknown)} "
                               f"(members: {', '.join(_MEMBERS)})")
    for name in ("records", "paths", "trace"):
        if name not in m:
            raise TraceError.at(0, f"binary trace: no {name} member")
    records = m["records"]
    if records.dtype != R.OP_DTYPE or records.ndim != 1:
        raise TraceError.at(0, f"binary trace: records must be a 1-D array of OP_DTYPE, not "
                               f"{records.ndim}-D {records.dtype}")
    paths = m["paths"]
    if paths.ndim != 1 or (paths.size and paths.dtype.kind != "U"):
        raise TraceError.at(0, f"binary trace: paths must be a 1-D array of str, not "
                               f"{paths.ndim}-D {paths.dtype}")
    text = m["trace"]
    if text.dtype.kind != "U" or text.ndim > 1:
        raise TraceError.at(0, f"binary trace: trace must be a str, not {text.dtype}")
    lines = str(text) if text.ndim == 0 else "\n".join(text.tolist())
    extra: List[Any] = []
    for name, n in (("lines", len(records)), ("trace_lines", len(lines.splitlines()))):
        arr = m.get(name)
        if arr is not None and (arr.ndim != 1 or arr.dtype.kind not in "iu" or len(arr) != n):
            raise TraceError.at(0, f"binary trace: {name} must be {n} integers, not "
                                   f"{arr.shape} {arr.dtype}")
        extra.append(arr)
    records = np.ascontiguousarray(records)
    return BinaryTrace(records, [str(p) for p in paths.tolist()], lines.splitlines(),
                       extra[0], extra[1])


_MEMBERS = ("records", "paths", "trace", "lines", "trace_lines")


def to_binary(lines: Iterable[str]) -> BinaryTrace:
    """A text trace as a :class:`BinaryTrace` (the record lines' syntax is
    checked as the run checks it: :class:`TraceError` naming the line)."""
    np = _need_numpy("a binary trace")
    index: Dict[str, int] = {}
    text: List[str] = []
    text_lines: List[int] = []
    rec_lines: List[int] = []
    parts: List[Any] = []
    pending: List[Tuple[int, int, int, int, int, int]] = []
    run_start = 0                     # the line of the first record of the run pending
    run_len = 0

    def close_run() -> None:
        nonlocal run_len
        if run_len:
            text.append(f"records {run_len}")
            text_lines.append(run_start)
            run_len = 0

    def spill() -> None:
        if pending:
            parts.append(np.array(pending, dtype=R.OP_DTYPE))
            pending.clear()

    for lineno, raw in enumerate(lines, 1):
        cut = raw.find("#")
        words = (raw[:cut] if cut >= 0 else raw).split()
        if not words:
            continue
        rec = _record_line(words, lineno)
        if rec is None:
            close_run()
            text.append((raw[:cut] if cut >= 0 else raw).strip())
            text_lines.append(lineno)
            continue
        op, flags, path, nr, cpu, kmem = rec
        k = 0
        if path is not None:
            k = index.setdefault(path, len(index) + 1)
        if not run_len:
            run_start = lineno
        run_len += 1
        pending.append((op, flags, k, nr, cpu, kmem))
        rec_lines.append(lineno)
        if len(pending) >= _BINARY_CHUNK:
            spill()
    close_run()
    spill()
    records = np.concatenate(parts) if parts else np.zeros(0, dtype=R.OP_DTYPE)
    return BinaryTrace(records, list(index), text, np.array(rec_lines, dtype=np.int64),
                       np.array(text_lines, dtype=np.int64))


def save_binary(trace: Any, file: Any, compress: bool = False) -> BinaryTrace:
    """Write a binary trace to ``file`` (a path or a binary file object):
    ``trace`` is a :class:`BinaryTrace` or the lines of a text trace
    (converted by :func:`to_binary`).  ``compress``: numpy.savez_compressed
    (smaller, slower to read).  Returns the :class:`BinaryTrace` written."""
    np = _need_numpy("a binary trace")
    bt = trace if isinstance(trace, BinaryTrace) else to_binary(trace)
    members: Dict[str, Any] = {
        "records": np.ascontiguousarray(bt.records, dtype=R.OP_DTYPE),
        "paths": np.array(bt.paths, dtype=str) if bt.paths else np.zeros(0, dtype="U1"),
        "trace": np.array("\n".join(bt.text) + ("\n" if bt.text else "")),
    }
    if bt.lines is not None:
        members["lines"] = np.asarray(bt.lines, dtype=np.int64)
    if bt.trace_lines is not None:
        members["trace_lines"] = np.asarray(bt.trace_lines, dtype=np.int64)
    (np.savez_compressed if compress else np.savez)(file, **members)
    return bt


def _errno_of(e: BaseException) -> int:
    code = getattr(e, "errno", None)
    return code if isinstance(code, int) and code > 0 else _errno.EINVAL


def run_trace(lines: Union[Iterable[str], BinaryTrace], backend: ModuleType,
              progress: Optional[Callable[[int], None]] = None) -> Outcome:
    """Run a trace on ``backend`` (``pymemcg`` or ``pymemcg.model``): an
    iterable of text lines (with or without their newlines), or a
    :class:`BinaryTrace` (:func:`load_binary`), whose records go to
    ``progress(n)`` a chunk at a time as they are done.

    Raises :class:`TraceError` naming the line for a line that cannot be
    read or an operation that fails (see :data:`FORMAT`); bad records are
    counted in the :class:`Outcome` instead.
    """
    run = _Runner(backend)
    if isinstance(lines, BinaryTrace):
        return _run_binary(run, lines, progress)
    it = iter(lines)
    if USE_C_PARSER:
        lineno = 0
        while True:
            chunk = list(itertools.islice(it, _TEXT_CHUNK))
            if not chunk:
                break
            run.text_chunk(chunk, lineno + 1)
            lineno += len(chunk)
            if run.nbatch >= _TEXT_CHUNK:
                run.flush()
        out = run.out if run.out is not None else run.start(0)
        run.flush()
        return out
    cache, handles, pages, options = run.cache, run.handles, run.pages, run.options
    get, pack = cache.get, _OP_STRUCT.pack
    batch, linenos = run.batch, run.lines
    line = run.line
    lineno = 0
    while True:
        chunk = list(itertools.islice(it, _TEXT_CHUNK))
        if not chunk:
            break
        base = lineno + 1
        lineno += len(chunk)
        # Most lines of a long trace are record lines seen before: their
        # records, looked up a chunk at a time, in C.
        recs: List[Any] = list(map(get, chunk))
        if all(recs):
            batch += recs
            run.nbatch += len(recs)
            linenos.extend(range(base, lineno + 1))
        else:
            for k, raw in enumerate(chunk, base):
                rec = get(raw)
                if rec is None:
                    # A record line not seen before, made of words seen before
                    # (a path's handle, a page count, a command and options).
                    cut = raw.find("#")
                    words = (raw if cut < 0 else raw[:cut]).split()
                    n = len(words)
                    if n >= 3:
                        opts = options.get(words[0] if n == 3 else (words[0], *words[3:]))
                        if opts is not None:
                            handle = handles.get(words[1])
                            nr = pages.get(words[2])
                            if handle is not None and nr is not None:
                                rec = pack(opts[0], opts[1], handle, nr, opts[2], opts[3])
                                if len(cache) >= _CACHE_LINES:
                                    cache.clear()
                                cache[raw] = rec
                    if rec is None:
                        line(raw, k)
                        continue
                batch.append(rec)
                run.nbatch += 1
                linenos.append(k)
        if run.nbatch >= _TEXT_CHUNK:
            run.flush()
    out = run.out if run.out is not None else run.start(0)
    run.flush()
    return out


def _run_binary(run: _Runner, bt: BinaryTrace,
                progress: Optional[Callable[[int], None]]) -> Outcome:
    _need_numpy("a binary trace")
    if getattr(bt.records, "dtype", None) != R.OP_DTYPE or bt.records.ndim != 1:
        raise TraceError.at(0, "binary trace: records must be a 1-D array of OP_DTYPE")
    tl = bt.trace_lines
    done = 0
    directives = 0
    total = len(bt.records)
    for t, raw in enumerate(bt.text, 1):
        lineno = int(tl[t - 1]) if tl is not None else t
        words = raw.split("#", 1)[0].split()
        if words[:1] != ["records"]:
            run.line(raw, lineno)
            continue
        directives += 1
        if len(words) != 2:
            raise TraceError.at(lineno, "usage: records N")
        n = _int(words[1], "N", lineno, (0, 2**63 - 1))
        if done + n > total:
            raise TraceError.at(lineno, f"records {n}: only {total - done} records are left "
                                        f"(the file holds {total})")
        if run.out is None:
            run.start(lineno)
        run.records(bt, done, n, lineno, progress)
        done += n
    if not directives and total:
        if run.out is None:
            run.start(0)
        run.records(bt, 0, total, len(bt.text) + 1, progress)   # as if a line after the text
        done = total
    if done != total:
        raise TraceError.at(0, f"the trace runs {done} records; the file holds {total}")
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
