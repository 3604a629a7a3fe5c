"""Replay buffers bound once to a model :class:`Hierarchy`
(``h.replayer(ops, out)``)."""

from __future__ import annotations

from typing import Any, Optional

from .. import replay as _replay
from .._common import ReplayerBase, check_int
from ..errors import InvalidError, StaleHandleError
from .hierarchy import Hierarchy

__all__ = ["Replayer"]


class Replayer(ReplayerBase):
    """A model :class:`Hierarchy`'s bound replay buffers
    (:meth:`Hierarchy.replayer`): the C-backed :class:`pymemcg.Replayer`'s
    API; each :meth:`run` replays a slice through :meth:`Hierarchy.replay`."""

    __slots__ = ("_hier", "ops", "out", "_n", "_size", "_view", "_res")

    def __init__(self, hierarchy: Hierarchy, ops: Any, out: Any = None) -> None:
        view = _replay.as_bytes(ops)
        n = len(view) // _replay.OP_SIZE
        if out is None:
            out = _replay.new_results(n)
        res = _replay.check_out(out, n)
        self._hier, self.ops, self.out, self._n = hierarchy, ops, out, n
        self._size = n
        self._view: Optional[memoryview] = view
        self._res: Optional[memoryview] = res

    def run(self, n: Optional[int] = None, start: int = 0) -> int:
        """Replay records ``start .. start + n - 1``; returns ``n``."""
        size = self._n
        if n is None:
            n = size - start
        start, n = check_int(start, "start"), check_int(n, "n")
        if start < 0 or n < 0 or start + n > size:
            raise InvalidError(f"run({n}, start={start}): the replayer holds {size} records")
        if self._view is None or self._res is None:
            raise StaleHandleError("the replayer is closed")
        op = _replay.OP_SIZE
        self._hier.replay(self._view[start * op:(start + n) * op],
                          self._res[start:start + n])
        return n

    def close(self) -> None:
        """Let go of the buffers."""
        for v in (self._view, self._res):
            if v is not None:
                v.release()
        self._view = self._res = None
