"""Standalone hierarchical page counters, backed by the C core.

A thin class over a C handle, in the manner of pymunk: the counter lives in
a table owned by ``csrc/``; this object holds its handle (index and
generation), never a pointer.  Return codes become exceptions in
:func:`pymemcg.errors.raise_errno` only.
"""

from __future__ import annotations

import errno as _errno
from typing import Any, Optional

from ._common import PAGE_COUNTER_MAX, PageCounterState, check_bool, check_count
from ._core import ffi, lib
from .errors import InvalidError, InvalidTypeError, UnderflowError, raise_errno

__all__ = ["PageCounter"]

# Bound once: a global lookup per call is cheaper than an attribute chain.
_try_charge = lib.pmc_page_counter_try_charge
_uncharge = lib.pmc_page_counter_uncharge
_charge = lib.pmc_page_counter_charge
_read = lib.pmc_page_counter_read
_new_info = ffi.new
_INFO = "struct pmc_page_counter_info *"


#: Levels that the return mask of pmc_page_counter_uncharge names one by one.
_MASK_LEVELS = 62


def _raise_underflow(clamped: "list[PageCounter]", nr_pages: int) -> None:
    raise UnderflowError(
        f"page_counter underflow: uncharged {nr_pages} pages, "
        f"{len(clamped)} level(s) clamped to 0",
        counters=clamped,
        nr_pages=nr_pages,
    )


def _bad_count(nr_pages: object, what: str = "nr_pages") -> int:
    """Slow path of the argument check: raises, or returns an index()-ed int."""
    return check_count(nr_pages, what)


def _failed(r: int, nr_pages: int, what: str) -> None:
    """A negative return code: EINVAL on these paths is always the count."""
    if r == -_errno.EINVAL:
        check_count(nr_pages)
    raise_errno(r, what)


class PageCounter:
    """A hierarchical page counter, the user-space twin of the kernel's
    ``struct page_counter`` (mm/page_counter.c, Linux 6.15+).

    ``usage`` counts pages charged to this counter *and all its
    descendants*.  Charges walk from this counter up to the root with one
    atomic add per level and no lock; every method may be called from any
    thread (the C call releases the GIL).

    Args:
        parent: the counter above this one, or None for a root.  A child
            keeps its parent alive.
        max: the hard limit in pages (default: no limit).
        track_failcnt: count refused charges in ``failcnt`` (the kernel
            does so for the cgroup v1 memory counter only).  The *charging*
            counter's flag decides for every level of its walk.
        protection: maintain the protected-usage sums of memory.min/low on
            charge (the kernel's ``protection_support``, on for the cgroup
            v2 memory counter).  The charging counter's flag decides for the
            charge walks; an uncharge uses each level's own flag.
    """

    __slots__ = ("_h", "_parent", "_depth", "__weakref__")

    _h: int
    _parent: Optional["PageCounter"]
    _depth: int

    def __init__(
        self,
        parent: Optional["PageCounter"] = None,
        max: int = PAGE_COUNTER_MAX,
        track_failcnt: bool = True,
        protection: bool = True,
    ) -> None:
        self._h = 0
        if parent is not None and not isinstance(parent, PageCounter):
            raise InvalidTypeError(
                f"parent must be a pymemcg.PageCounter, not {type(parent).__name__}"
            )
        max = check_count(max, "max")
        track_failcnt = check_bool(track_failcnt, "track_failcnt")
        protection = check_bool(protection, "protection")
        h = lib.pmc_page_counter_new(
            parent._h if parent is not None else 0, max, track_failcnt, protection
        )
        if h < 0:
            raise_errno(h, "PageCounter")
        self._h = h
        self._parent = parent
        self._depth = parent._depth + 1 if parent is not None else 0
        if self._depth >= _MASK_LEVELS:
            # Too deep for the clamp mask: uncharge names its levels one by one.
            self.__class__ = _DeepPageCounter

    def __del__(self) -> None:
        # Drop the owner's reference; C frees the counter after its children.
        h = self._h
        if h > 0:
            self._h = 0
            lib.pmc_page_counter_put(h)

    # -- charging --------------------------------------------------------

    def charge(self, nr_pages: int) -> None:
        """Charge ``nr_pages`` to this counter and every ancestor, ignoring
        the limits (the kernel's forced charge: usage may exceed max)."""
        if nr_pages.__class__ is not int:
            nr_pages = _bad_count(nr_pages)
        try:
            r = _charge(self._h, nr_pages)
        except OverflowError:
            r = _bad_count(nr_pages)
        if r:
            _failed(r, nr_pages, "charge")

    def try_charge(self, nr_pages: int) -> Optional["PageCounter"]:
        """Charge ``nr_pages`` if no level would exceed its max.

        Returns None when charged.  Otherwise nothing stays charged and the
        result is the lowest counter that refused (this one or an ancestor,
        the same object you created): its ``failcnt`` went up (when this
        counter tracks failcnt), the levels below it were rolled back but
        keep the peaks they reached, the levels above it were not touched.
        """
        if nr_pages.__class__ is not int:
            nr_pages = _bad_count(nr_pages)
        try:
            r = _try_charge(self._h, nr_pages)
        except OverflowError:
            r = _bad_count(nr_pages)
        if not r:
            return None
        if r < 0:
            _failed(r, nr_pages, "try_charge")
        c = self
        while r > 1:
            c = c._parent  # type: ignore[assignment]
            r -= 1
        return c

    def uncharge(self, nr_pages: int) -> None:
        """Uncharge ``nr_pages`` from this counter and every ancestor.

        Uncharging more than a level holds is a bug the kernel survives: it
        clamps that level to zero (each level on its own) and warns.  This
        does the same, then raises :class:`UnderflowError` naming the
        clamped levels; the state has changed by then.
        """
        if nr_pages.__class__ is not int:
            nr_pages = _bad_count(nr_pages)
        try:
            r = _uncharge(self._h, nr_pages)
        except OverflowError:
            r = _bad_count(nr_pages)
        if r:
            self._uncharge_failed(r, nr_pages)

    def _uncharge_failed(self, r: int, nr_pages: int) -> None:
        if r < 0:
            _failed(r, nr_pages, "uncharge")
        clamped = []
        c: Optional[PageCounter] = self
        level = 0
        while c is not None:
            if r & (1 << min(level, 62)):
                clamped.append(c)
            c = c._parent
            level += 1
        _raise_underflow(clamped, nr_pages)

    # -- limits and protection ----------------------------------------------

    def _set(self, fn: object, nr_pages: int, what: str) -> None:
        nr_pages = check_count(nr_pages, what)
        r = fn(self._h, nr_pages)  # type: ignore[operator]
        if r:
            raise_errno(r, what)

    def set_max(self, nr_pages: int) -> None:
        """Set the hard limit.  Raises :class:`BusyError` (``EBUSY``) if this
        counter's own usage is above ``nr_pages``; equality is fine."""
        self._set(lib.pmc_page_counter_set_max, nr_pages, "set_max")

    def set_min(self, nr_pages: int) -> None:
        """Set memory.min protection and re-propagate protected usage from
        this counter up to the root."""
        self._set(lib.pmc_page_counter_set_min, nr_pages, "set_min")

    def set_low(self, nr_pages: int) -> None:
        """Set memory.low protection and re-propagate protected usage from
        this counter up to the root."""
        self._set(lib.pmc_page_counter_set_low, nr_pages, "set_low")

    def set_high(self, nr_pages: int) -> None:
        """Store memory.high.  The counter itself never reads it."""
        self._set(lib.pmc_page_counter_set_high, nr_pages, "set_high")

    def reset_watermark(self) -> None:
        """Set both peaks to the current usage (a v1 write to
        ``max_usage_in_bytes``): not to zero."""
        r = lib.pmc_page_counter_reset_watermark(self._h)
        if r:
            raise_errno(r, "reset_watermark")

    def reset_local_watermark(self) -> None:
        """Set the local peak (memory.peak's per-file reset) to the current
        usage; the global watermark keeps its value."""
        r = lib.pmc_page_counter_reset_local_watermark(self._h)
        if r:
            raise_errno(r, "reset_local_watermark")

    def calculate_protection(self, root: "PageCounter", recursive: bool = False) -> None:
        """Update ``emin`` and ``elow`` for reclaim targeting ``root``.

        ``root`` is this counter or an ancestor.  The computation reads the
        parent's effective values, so call it top-down over a subtree, as
        the kernel's reclaim walk does.  ``recursive`` is the cgroup2
        ``memory_recursiveprot`` mount option.
        """
        if not isinstance(root, PageCounter):
            raise InvalidTypeError(
                f"root must be a pymemcg.PageCounter, not {type(root).__name__}"
            )
        r = lib.pmc_page_counter_calculate_protection(root._h, self._h, bool(recursive))
        if r:
            if r == -_errno.EINVAL:
                raise InvalidError("root must be this counter or one of its ancestors")
            raise_errno(r, "calculate_protection")

    # -- reading ---------------------------------------------------------------

    def _info(self) -> Any:  # a cdata "struct pmc_page_counter_info *"
        info = _new_info(_INFO)
        r = _read(self._h, info)
        if r:
            raise_errno(r, "read")
        return info

    def snapshot(self) -> PageCounterState:
        """Every field at once (one call into C)."""
        i = self._info()
        return PageCounterState(
            usage=i.usage,
            max=i.max,
            min=i.min,
            low=i.low,
            high=i.high,
            watermark=i.watermark,
            local_watermark=i.local_watermark,
            failcnt=i.failcnt,
            emin=i.emin,
            elow=i.elow,
            min_usage=i.min_usage,
            low_usage=i.low_usage,
            children_min_usage=i.children_min_usage,
            children_low_usage=i.children_low_usage,
        )

    @property
    def usage(self) -> int:
        """Pages charged here and below, stock pre-charges included."""
        return int(self._info().usage)

    @property
    def max(self) -> int:
        """The hard limit (pages)."""
        return int(self._info().max)

    @property
    def min(self) -> int:
        """memory.min (pages)."""
        return int(self._info().min)

    @property
    def low(self) -> int:
        """memory.low (pages)."""
        return int(self._info().low)

    @property
    def high(self) -> int:
        """memory.high (pages); PAGE_COUNTER_MAX until set."""
        return int(self._info().high)

    @property
    def watermark(self) -> int:
        """The highest usage seen since creation or the last reset."""
        return int(self._info().watermark)

    @property
    def local_watermark(self) -> int:
        """The highest usage since the last local (memory.peak) reset."""
        return int(self._info().local_watermark)

    @property
    def failcnt(self) -> int:
        """How many charges this counter refused (when tracked)."""
        return int(self._info().failcnt)

    @property
    def emin(self) -> int:
        """Effective min protection from the last calculate_protection."""
        return int(self._info().emin)

    @property
    def elow(self) -> int:
        """Effective low protection from the last calculate_protection."""
        return int(self._info().elow)

    @property
    def min_usage(self) -> int:
        """The min protection this counter claims: min(usage, min)."""
        return int(self._info().min_usage)

    @property
    def low_usage(self) -> int:
        """The low protection this counter claims: min(usage, low)."""
        return int(self._info().low_usage)

    @property
    def children_min_usage(self) -> int:
        """Sum of the children's ``min_usage``."""
        return int(self._info().children_min_usage)

    @property
    def children_low_usage(self) -> int:
        """Sum of the children's ``low_usage``."""
        return int(self._info().children_low_usage)

    @property
    def track_failcnt(self) -> bool:
        """Whether this counter's charges count failures."""
        return bool(self._info().track_failcnt)

    @property
    def protection(self) -> bool:
        """Whether this counter's charges propagate protected usage."""
        return bool(self._info().protection)

    @property
    def depth(self) -> int:
        """Number of ancestors (0 for a root)."""
        return int(self._info().depth)

    @property
    def parent(self) -> Optional["PageCounter"]:
        """The parent counter (the object it was created with), or None."""
        return self._parent

    def __repr__(self) -> str:
        if self._h <= 0:
            return "<pymemcg.PageCounter (released)>"
        i = self._info()
        return f"<pymemcg.PageCounter depth={i.depth} usage={i.usage} max={i.max}>"


class _DeepPageCounter(PageCounter):
    """A PageCounter 62 or more levels deep (``type()`` aside, the same
    class): its uncharge asks C for the clamped levels one by one, since the
    return mask of the fast path folds the deep ones together."""

    __slots__ = ()

    def uncharge(self, nr_pages: int) -> None:
        nr_pages = check_count(nr_pages)
        levels = ffi.new("uint8_t[]", self._depth + 1)
        r = lib.pmc_page_counter_uncharge_levels(self._h, nr_pages, levels, self._depth + 1)
        if r < 0:
            _failed(r, nr_pages, "uncharge")
        if r:
            clamped = []
            c: Optional[PageCounter] = self
            for level in range(self._depth + 1):
                assert c is not None
                if levels[level]:
                    clamped.append(c)
                c = c._parent
            _raise_underflow(clamped, nr_pages)
