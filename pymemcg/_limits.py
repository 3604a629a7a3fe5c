"""Limits and protections as typed setters, the same call on every preset.

A simulator that switches presets should not rewrite ``memory.max`` into
``memory.limit_in_bytes``: ``g.set_max("64M")`` writes whichever file the
preset has, with the kernel's own parsing and errors (the write goes through
the interface file, so the rules -- EBUSY when the new limit is below usage
on v1, the reclaim a v2 ``memory.max`` write runs, 3.8's kmem activation --
are the file's).  Both backends' ``Cgroup`` classes inherit these.

Every setter takes a number of pages (an ``int``), a string in the kernel's
size syntax (``"64M"``, ``"1g"``, ``"4096"``: bytes, as the file takes it;
``"max"`` and ``"-1"`` as the file accepts them) or ``None`` for unlimited.
A setter the preset has no file for raises :class:`NotFoundError` (ENOENT),
as opening the file would.
"""

from __future__ import annotations

from typing import Optional, Union

from ._common import PAGE_COUNTER_MAX, PAGE_SIZE
from .errors import InvalidError, InvalidTypeError, NotFoundError

__all__ = ["Limits", "LimitValue"]

#: What a setter takes: pages, the kernel's size syntax (bytes), or None.
LimitValue = Optional[Union[int, str]]


def _text(value: LimitValue, version: int, what: str) -> str:
    """The text written to the file for ``value``."""
    if value is None:
        return "max" if version == 2 else "-1"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidTypeError(f"{what}: pages (int), a size string or None, "
                               f"not {type(value).__name__}")
    if isinstance(value, str):
        return value
    if value < 0 or value > PAGE_COUNTER_MAX:
        raise InvalidError(f"{what}: {value} pages is out of range 0..{PAGE_COUNTER_MAX}")
    return str(value * PAGE_SIZE)


class Limits:
    """The setters; the class that inherits them provides ``write(name,
    data)`` and ``hierarchy.config``."""

    __slots__ = ()

    def _limit_write(self, v1: Optional[str], v2: Optional[str], value: LimitValue,
                     what: str) -> None:
        version = self.hierarchy.config.version  # type: ignore[attr-defined]
        name = v2 if version == 2 else v1
        if name is None:
            raise NotFoundError(f"{what}: cgroup v{version} has no such file")
        self.write(name, _text(value, version, what))  # type: ignore[attr-defined]

    def set_max(self, value: LimitValue) -> None:
        """The memory limit: ``memory.max`` (v2) or
        ``memory.limit_in_bytes`` (v1)."""
        self._limit_write("memory.limit_in_bytes", "memory.max", value, "set_max")

    def set_high(self, value: LimitValue) -> None:
        """``memory.high`` (v2 only): over it, charges are throttled and
        reclaimed on the way back to user space, never refused."""
        self._limit_write(None, "memory.high", value, "set_high")

    def set_low(self, value: LimitValue) -> None:
        """``memory.low`` (v2 only): best-effort protection from reclaim."""
        self._limit_write(None, "memory.low", value, "set_low")

    def set_min(self, value: LimitValue) -> None:
        """``memory.min`` (v2 only): hard protection from reclaim."""
        self._limit_write(None, "memory.min", value, "set_min")

    def set_swap_max(self, value: LimitValue) -> None:
        """The swap limit: ``memory.swap.max`` (v2, swap alone) or
        ``memory.memsw.limit_in_bytes`` (v1, memory plus swap)."""
        self._limit_write("memory.memsw.limit_in_bytes", "memory.swap.max", value,
                          "set_swap_max")

    def set_kmem_max(self, value: LimitValue) -> None:
        """``memory.kmem.limit_in_bytes`` (v1 only): enforced, ignored or
        refused as the preset's ``Config.kmem_limit`` says; on 3.8 the first
        write of a finite limit activates kmem accounting."""
        self._limit_write("memory.kmem.limit_in_bytes", None, value, "set_kmem_max")

    def set_tcp_max(self, value: LimitValue) -> None:
        """``memory.kmem.tcp.limit_in_bytes`` (v1 only): socket memory."""
        self._limit_write("memory.kmem.tcp.limit_in_bytes", None, value, "set_tcp_max")

    def set_soft_limit(self, value: LimitValue) -> None:
        """``memory.soft_limit_in_bytes`` (v1 only)."""
        self._limit_write("memory.soft_limit_in_bytes", None, value, "set_soft_limit")
