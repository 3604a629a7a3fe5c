"""Replay buffers bound once to a C-backed :class:`pymemcg.Hierarchy`
(``h.replayer(ops, out)``): each run is one C call."""

from __future__ import annotations

import errno as _errno
from typing import Any, Optional

from . import replay as _replay
from ._common import ReplayerBase, check_int
from ._core import ffi, lib
from .errors import InvalidError, StaleHandleError
from .hierarchy import Hierarchy, _check

__all__ = ["Replayer"]


class Replayer(ReplayerBase):
    """Records and results bound once to a :class:`Hierarchy`
    (:meth:`Hierarchy.replayer`): each :meth:`run` is one C call.

    The records may be rewritten between runs (that is the point: refill,
    run, read the results); the C core copies each record before it checks
    it, so a buffer rewritten by another thread during a run is harmless.
    """

    __slots__ = ("_hier", "_h", "ops", "out", "_n", "_size", "_src", "_res", "__weakref__")

    def __init__(self, hierarchy: Hierarchy, ops: Any, out: Any = None) -> None:
        self._hier = hierarchy
        self._h = hierarchy._h
        view = _replay.as_bytes(ops)
        n = len(view) // _replay.OP_SIZE
        if out is None:
            out = _replay.new_results(n)
        _replay.check_out(out, n).release()
        view.release()
        self.ops, self.out, self._n, self._size = ops, out, n, n
        # The records and results as C sees them, wrapped once, from their
        # owners: a memoryview holding an export, reachable by the garbage
        # collector in a cycle (a Replayer in a traceback's frame), is
        # cleared while exported and crashes the interpreter.
        self._src = ffi.from_buffer("struct pmc_op[]", _exporter(ops, "ops"))
        self._res = ffi.from_buffer("int64_t[]", _exporter(out, "out"), require_writable=True)

    def run(self, n: Optional[int] = None, start: int = 0) -> int:
        """Replay records ``start .. start + n - 1`` (default: all from
        ``start``), their results into the same places of ``out``; returns
        how many ran (``n``).  Raises what :meth:`Hierarchy.replay` raises."""
        if n is None and not start:
            # The common call, every record: one C call and one test.
            k = self._n
            r = _replay_run(self._h, self._src, k, self._res)
            return r if r == k else self._incomplete(r, k, 0)
        size = self._size
        if n is None:
            n = size - start
        if (start.__class__ is not int or n.__class__ is not int or start < 0 or n < 0
                or start + n > size):
            check_int(start, "start")
            check_int(n, "n")
            raise InvalidError(f"run({n}, start={start}): the replayer holds {size} records")
        src, res = self._src, self._res
        if not src:
            raise StaleHandleError("the replayer is closed")
        r = _replay_run(self._h, src + start, n, res + start)
        return r if r == n else self._incomplete(r, n, start)

    def _incomplete(self, r: int, n: int, start: int) -> int:
        if not self._src:
            raise StaleHandleError("the replayer is closed")
        if r >= -lib.PMC_REPLAY_INCOMPLETE:
            _check(r, "replay")
        done = -r - lib.PMC_REPLAY_INCOMPLETE
        if done and self._res[start + done - 1] == -_errno.ECANCELED:
            _check(-_errno.ECANCELED, "replay")
        raise StaleHandleError(f"replay: the hierarchy was closed after {done} of {n} records")

    def close(self) -> None:
        """Let go of the buffers (they may be resized again)."""
        src, res = self._src, self._res
        self._src = self._res = ffi.NULL
        self._n = -1            # run() finds C refusing it, then the closed replayer
        if src:
            ffi.release(src)
            ffi.release(res)



_replay_run = lib.pmc_hierarchy_replay_run


def _exporter(buf: Any, what: str) -> Any:
    """The object that owns a buffer: ``buf`` itself, or for a memoryview
    the object it views, if it views all of it (else InvalidError)."""
    if not isinstance(buf, memoryview):
        return buf
    base = buf.obj
    a, b = ffi.from_buffer("char[]", buf), ffi.from_buffer("char[]", base)
    try:
        whole = ffi.cast("uintptr_t", a) == ffi.cast("uintptr_t", b) and len(a) == len(b)
    finally:
        ffi.release(a)
        ffi.release(b)
    if not whole:
        raise InvalidError(f"replayer: {what} is a memoryview of part of a buffer; pass the "
                           "buffer itself (a numpy array, bytearray, array.array ...)")
    return base
