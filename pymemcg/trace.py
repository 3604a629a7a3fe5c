"""Text traces for ``python -m pymemcg replay FILE``.

One operation per line; ``#`` starts a comment; blank lines are ignored::

    config current_v1 ncpus=2 charge_batch=32   # optional, before anything else:
                                                # a preset and Config fields
    create a/b                                  # mkdir (parents must exist)
    write a memory.limit_in_bytes 64M           # write an interface file
    charge a/b 10 cpu=1 gfp=KERNEL|NOFAIL kmem  # try_charge (defaults: cpu=0, KERNEL)
    uncharge a/b 10 cpu=1 kmem                  # uncharge
    drain 0                                     # drain CPU 0's stock
    drain_all a                                 # drain_all (the whole tree without a path)
    remove a/b                                  # rmdir

Consecutive charge, uncharge and drain lines run as one
:meth:`Hierarchy.replay` batch (one C call); tree and file operations run
between batches.  ``gfp`` names are those of :mod:`pymemcg.gfp` without the
``GFP_`` prefix, joined with ``|``.
"""

from __future__ import annotations

import dataclasses
import shlex
from types import ModuleType
from typing import Any, Dict, Iterable, List, Tuple

from . import gfp as _gfp
from . import replay as R
from .config import Config
from .errors import InvalidError

__all__ = ["TraceError", "Outcome", "run_trace", "format_state"]


class TraceError(InvalidError):
    """A line of a trace that cannot be run."""


@dataclasses.dataclass
class Outcome:
    """What a trace did: the hierarchy at the end and a tally of results."""

    hierarchy: Any
    ops: int = 0
    charged: int = 0
    refused: int = 0
    underflows: int = 0
    errors: int = 0


def _parse_config(args: List[str], lineno: int) -> Config:
    presets = {"linux_3_8": Config.linux_3_8, "current": Config.current,
               "current_v1": Config.current_v1}
    if not args or args[0] not in presets:
        raise TraceError(f"line {lineno}: config needs a preset: {', '.join(presets)}")
    fields = {f.name: f.type for f in dataclasses.fields(Config)}
    changes: Dict[str, Any] = {}
    for item in args[1:]:
        key, sep, value = item.partition("=")
        if not sep or key not in fields:
            raise TraceError(f"line {lineno}: not a Config field: {item!r}")
        if fields[key] == "bool":
            changes[key] = value.lower() in ("1", "true", "yes")
        elif fields[key] == "int":
            changes[key] = int(value, 0)
        else:
            changes[key] = value
    return presets[args[0]](**changes)


def _parse_gfp(text: str, lineno: int) -> int:
    flags = 0
    for name in text.split("|"):
        value = getattr(_gfp, "GFP_" + name.upper(), None)
        if not isinstance(value, int):
            raise TraceError(f"line {lineno}: unknown GFP flag {name!r}")
        flags |= value
    return flags


def _charge_record(h: Any, words: List[str], lineno: int) -> Tuple[int, ...]:
    op = R.OP_CHARGE if words[0] == "charge" else R.OP_UNCHARGE
    if len(words) < 3:
        raise TraceError(f"line {lineno}: {words[0]} PATH NR_PAGES [cpu=N] [gfp=F] [kmem]")
    cg = h[words[1]]
    try:
        nr = int(words[2], 0)
    except ValueError:
        raise TraceError(f"line {lineno}: not a page count: {words[2]!r}") from None
    cpu, flags, kmem = 0, _gfp.GFP_KERNEL, 0
    for opt in words[3:]:
        if opt == "kmem":
            kmem = 1
        elif opt.startswith("cpu="):
            cpu = int(opt[4:], 0)
        elif opt.startswith("gfp=") and op == R.OP_CHARGE:
            flags = _parse_gfp(opt[4:], lineno)
        else:
            raise TraceError(f"line {lineno}: unknown option {opt!r}")
    return (op, flags if op == R.OP_CHARGE else 0, cg.handle, nr, cpu, kmem)


def run_trace(lines: Iterable[str], backend: ModuleType) -> Outcome:
    """Run a trace on ``backend`` (``pymemcg`` or ``pymemcg.model``)."""
    h = None
    out: Outcome | None = None
    batch: List[Tuple[int, ...]] = []

    def flush() -> None:
        if not batch or out is None:
            return
        results = out.hierarchy.replay(R.pack_ops(batch))
        for rec, res in zip(batch, results):
            out.ops += 1
            if rec[0] == R.OP_CHARGE and res == 0:
                out.charged += 1
            elif rec[0] == R.OP_CHARGE and res > 0:
                out.refused += 1
            elif res == R.RESULT_UNDERFLOW:
                out.underflows += 1
            elif res < 0:
                out.errors += 1
        batch.clear()

    for lineno, raw in enumerate(lines, 1):
        words = shlex.split(raw, comments=True)
        if not words:
            continue
        cmd = words[0]
        if cmd == "config":
            if h is not None:
                raise TraceError(f"line {lineno}: config must come first")
            h = backend.Hierarchy(_parse_config(words[1:], lineno))
            out = Outcome(h)
            continue
        if h is None:
            h = backend.Hierarchy()
            out = Outcome(h)
        assert out is not None
        if cmd in ("charge", "uncharge"):
            batch.append(_charge_record(h, words, lineno))
        elif cmd == "drain" and len(words) == 2:
            batch.append((R.OP_DRAIN, 0, 0, 0, int(words[1], 0), 0))
        elif cmd == "drain_all" and len(words) <= 2:
            handle = h[words[1]].handle if len(words) == 2 else 0
            batch.append((R.OP_DRAIN_ALL, 0, handle, 0, 0, 0))
        elif cmd == "create" and len(words) == 2:
            flush()
            h.create(words[1])
        elif cmd == "remove" and len(words) == 2:
            flush()
            h[words[1]].remove()
        elif cmd == "write" and len(words) >= 4:
            flush()
            h[words[1]].write(words[2], " ".join(words[3:]))
        else:
            raise TraceError(f"line {lineno}: cannot read {raw.strip()!r}")
    if out is None:
        h = backend.Hierarchy()
        out = Outcome(h)
    flush()
    return out


def format_state(out: Outcome) -> List[str]:
    """The final counters and events of every cgroup, as printed by the CLI."""
    h = out.hierarchy
    lines = [f"{out.ops} operations: {out.charged} charged, {out.refused} refused, "
             f"{out.underflows} underflows, {out.errors} errors"]
    for cg in h.cgroups():
        state = "online" if cg.online else "dying"
        lines.append(f"{cg.path or '/'} (id {cg.id}, {state})")
        for name in h.config.counters:
            s = getattr(cg, name).snapshot()
            limit = "max" if s.max == 2**51 - 1 else str(s.max)
            lines.append(f"  {name:<7} usage {s.usage:>8}  max {limit:>8}  peak {s.watermark:>8}"
                         f"  failcnt {s.failcnt}")
        events = " ".join(f"{k}={v}" for k, v in cg.events.items())
        stat = " ".join(f"{k}={v}" for k, v in cg.stat.items())
        lines.append(f"  events  {events}")
        lines.append(f"  stat    {stat}")
    return lines
