"""The kernel's hierarchical page counter (mm/page_counter.c, mainline >= 6.15)
in plain Python.

Every value is an ``unsigned long`` of a 64-bit kernel: sums and products are
masked with ``U64_MASK`` where the kernel's would wrap, and ``usage`` is
tested for underflow as the signed ``long`` it is (``new >= 2**63``).
"""

from __future__ import annotations

from typing import Iterator

from .._common import PAGE_COUNTER_MAX, U64_MASK, PageCounterState, check_bool, check_count
from ..errors import BusyError, InvalidError, InvalidTypeError, UnderflowError

__all__ = ["PageCounter"]

_LONG_MIN = 2**63  # an unsigned value >= this is negative as a signed long


class PageCounter:
    """One node of a tree of page counters; a charge moves the whole ancestry.

    ``usage`` is hierarchical: charging a counter charges it and every
    ancestor.  ``protection`` is the kernel's ``protection_support`` (only the
    cgroup-v2 memory counter has it): it decides whether charges maintain the
    ``min_usage``/``low_usage`` sums.  ``track_failcnt`` decides whether failed
    charges count in ``failcnt``.  For charge and try_charge, the CHARGING
    (leaf) counter's two flags apply to every level of the walk.

    All counts are pages.  Not thread-safe.
    """

    __slots__ = (
        "_usage", "_max", "_min", "_low", "_high", "_watermark", "_local_watermark",
        "_failcnt", "_emin", "_elow", "_min_usage", "_low_usage",
        "_children_min_usage", "_children_low_usage",
        "_parent", "_track_failcnt", "_protection", "_depth",
    )  # fmt: skip

    def __init__(
        self,
        parent: PageCounter | None = None,
        max: int = PAGE_COUNTER_MAX,
        track_failcnt: bool = True,
        protection: bool = True,
    ) -> None:
        """Create a counter below ``parent`` (a root if None) with limit ``max``.

        Like ``page_counter_init()`` on a zeroed struct, every field starts at
        0 except ``max`` and ``high`` (``PAGE_COUNTER_MAX``, as memcontrol sets
        it).  ``parent`` must be a :class:`pymemcg.model.PageCounter`.
        """
        if parent is not None and not isinstance(parent, PageCounter):
            raise InvalidTypeError(
                f"parent must be a pymemcg.model.PageCounter or None, not {type(parent).__name__}"
            )
        limit = check_count(max, "max")
        track_failcnt = check_bool(track_failcnt, "track_failcnt")
        protection = check_bool(protection, "protection")
        self._usage = 0
        self._max = limit
        self._min = self._low = 0
        self._high = PAGE_COUNTER_MAX
        self._watermark = self._local_watermark = 0
        self._failcnt = 0
        self._emin = self._elow = 0
        self._min_usage = self._low_usage = 0
        self._children_min_usage = self._children_low_usage = 0
        self._parent = parent
        self._track_failcnt = track_failcnt
        self._protection = protection
        self._depth: int = 0 if parent is None else parent._depth + 1

    def _ancestry(self) -> Iterator[PageCounter]:
        """This counter, its parent, ..., the root (the kernel's walk order)."""
        c: PageCounter | None = self
        while c is not None:
            yield c
            c = c._parent

    # ------------------------------------------------------------------ charging

    def charge(self, nr_pages: int) -> None:
        """Charge ``nr_pages`` to this counter and every ancestor, unconditionally.

        ``page_counter_charge()``: no limit check, so usage may exceed max;
        protected usage is propagated at each level if THIS (leaf) counter has
        ``protection``; watermarks rise.
        """
        n = check_count(nr_pages)
        prot = self._protection  # track_protection(counter): the leaf's flag
        for c in self._ancestry():
            new = (c._usage + n) & U64_MASK  # atomic_long_add_return
            c._usage = new
            if prot:
                _propagate_protected_usage(c, new)
            _update_watermarks(c, new)

    def try_charge(self, nr_pages: int) -> PageCounter | None:
        """Charge ``nr_pages`` up the tree unless some level would exceed its max.

        ``page_counter_try_charge()``: walks leaf to root; the first level
        where ``usage + n > max`` (equality is fine) refuses.  That level's
        usage is unchanged and, only if THIS (leaf) counter has
        ``track_failcnt``, only ITS failcnt goes up by one; the levels below
        it are cancelled again (re-propagating protection), the levels above
        are never touched, and watermarks raised below it are NOT rolled back.
        Returns None when charged, else the refusing counter itself.
        """
        n = check_count(nr_pages)
        prot = self._protection  # the leaf's flags for the whole walk
        track = self._track_failcnt
        for c in self._ancestry():
            new = (c._usage + n) & U64_MASK
            if new > c._max:  # strictly greater: a counter may sit at max
                # the kernel adds, then atomic_long_sub()s: net unchanged
                if track:
                    c._failcnt = (c._failcnt + 1) & U64_MASK  # data_race(c->failcnt++)
                d: PageCounter | None = self
                while d is not c:  # roll back the levels below the failure
                    assert d is not None
                    _cancel(d, n)
                    d = d._parent
                return c
            c._usage = new
            if prot:
                _propagate_protected_usage(c, new)
            _update_watermarks(c, new)
        return None

    def uncharge(self, nr_pages: int) -> None:
        """Uncharge ``nr_pages`` from this counter and every ancestor.

        ``page_counter_uncharge()`` = ``page_counter_cancel()`` at each level,
        leaf to root.  A level that would go negative is clamped to 0 on its
        own (the kernel WARNs); the other levels still lose the full amount.
        Each level propagates protection if ITS OWN ``protection`` is set.
        Watermarks never go down.  If any level was clamped, raises
        :class:`UnderflowError` (``counters``: the clamped levels, leaf
        first) after the whole uncharge has been applied.
        """
        n = check_count(nr_pages)
        clamped = [c for c in self._ancestry() if _cancel(c, n)]
        if clamped:
            raise UnderflowError(
                f"page_counter underflow: nr_pages={n} at {len(clamped)} level(s)",
                counters=clamped,
                nr_pages=n,
            )

    # ------------------------------------------------------------------ setters

    def set_max(self, nr_pages: int) -> None:
        """Set the hard limit used by :meth:`try_charge`.

        ``page_counter_set_max()``: raises :class:`BusyError` (EBUSY) and
        changes nothing if this counter's OWN usage is above ``nr_pages``
        (equal is allowed); ancestors and descendants are not looked at.
        """
        n = check_count(nr_pages)
        if self._usage > n:
            raise BusyError(f"usage {self._usage} > new max {n}")
        self._max = n

    def set_min(self, nr_pages: int) -> None:
        """Set ``min`` (memory.min), then re-propagate protected usage.

        ``page_counter_set_min()``: the store is followed by
        ``propagate_protected_usage(c, c.usage)`` for every level from this
        one to the root, whatever ``protection`` says.
        """
        n = check_count(nr_pages)
        self._min = n
        for c in self._ancestry():
            _propagate_protected_usage(c, c._usage)

    def set_low(self, nr_pages: int) -> None:
        """Set ``low`` (memory.low), then re-propagate as :meth:`set_min` does."""
        n = check_count(nr_pages)
        self._low = n
        for c in self._ancestry():
            _propagate_protected_usage(c, c._usage)

    def set_high(self, nr_pages: int) -> None:
        """Set ``high``: a plain store; the page counter itself never reads it."""
        self._high = check_count(nr_pages)

    def reset_watermark(self) -> None:
        """``page_counter_reset_watermark()``: local_watermark, then watermark,
        become the current usage (the cgroup-v1 max_usage reset)."""
        self._local_watermark = self._usage
        self._watermark = self._usage

    def reset_local_watermark(self) -> None:
        """Set ``local_watermark`` to the current usage (a v2 memory.peak fd
        reset); ``watermark`` is kept."""
        self._local_watermark = self._usage

    # ------------------------------------------------------------------ protection

    def calculate_protection(self, root: PageCounter, recursive: bool = False) -> None:
        """Recompute this counter's ``emin``/``elow`` for reclaim below ``root``.

        ``page_counter_calculate_protection()``.  Not stateless: it reads the
        parent's emin/elow, so callers walk the tree top-down.  Nothing happens
        for ``root`` itself or for a counter with zero usage (its values stay
        stale); a child of ``root`` gets its raw ``min``/``low`` (not clamped to
        usage); deeper counters get :func:`_effective_protection`.
        ``recursive`` is the ``memory_recursiveprot`` mount option.  ``root``
        must be this counter or one of its ancestors.
        """
        if not isinstance(root, PageCounter):
            raise InvalidTypeError(
                f"root must be a pymemcg.model.PageCounter, not {type(root).__name__}"
            )
        if not any(c is root for c in self._ancestry()):
            raise InvalidError("root must be this counter or one of its ancestors")
        if root is self:  # the reclaim target's own values are ignored
            return
        usage = self._usage
        if usage == 0:
            return  # emin/elow left stale
        parent = self._parent
        assert parent is not None
        if parent is root:  # first level below the target: declared values
            self._emin = self._min
            self._elow = self._low
            return
        self._emin = _effective_protection(
            usage, parent._usage, self._min, parent._emin, parent._children_min_usage, recursive
        )
        self._elow = _effective_protection(
            usage, parent._usage, self._low, parent._elow, parent._children_low_usage, recursive
        )

    # ------------------------------------------------------------------ reading

    def snapshot(self) -> PageCounterState:
        """Every field at this instant, as a frozen :class:`PageCounterState`."""
        return PageCounterState(
            usage=self._usage,
            max=self._max,
            min=self._min,
            low=self._low,
            high=self._high,
            watermark=self._watermark,
            local_watermark=self._local_watermark,
            failcnt=self._failcnt,
            emin=self._emin,
            elow=self._elow,
            min_usage=self._min_usage,
            low_usage=self._low_usage,
            children_min_usage=self._children_min_usage,
            children_low_usage=self._children_low_usage,
        )

    @property
    def usage(self) -> int:
        """Pages charged to this counter and all its descendants."""
        return self._usage

    @property
    def max(self) -> int:
        """Hard limit checked by :meth:`try_charge`."""
        return self._max

    @property
    def min(self) -> int:
        """Declared hard protection (memory.min)."""
        return self._min

    @property
    def low(self) -> int:
        """Declared best-effort protection (memory.low)."""
        return self._low

    @property
    def high(self) -> int:
        """Stored only (memory.high); memcontrol, not the counter, acts on it."""
        return self._high

    @property
    def watermark(self) -> int:
        """Peak usage since creation or :meth:`reset_watermark`; never rolled
        back, not even by a failed :meth:`try_charge`."""
        return self._watermark

    @property
    def local_watermark(self) -> int:
        """Peak usage since the last reset of either kind (<= watermark)."""
        return self._local_watermark

    @property
    def failcnt(self) -> int:
        """Failed try_charge calls that stopped at THIS level (counted only
        when the charging counter has ``track_failcnt``)."""
        return self._failcnt

    @property
    def emin(self) -> int:
        """Effective min, as last computed by :meth:`calculate_protection`."""
        return self._emin

    @property
    def elow(self) -> int:
        """Effective low, as last computed by :meth:`calculate_protection`."""
        return self._elow

    @property
    def min_usage(self) -> int:
        """Claimed min protection, ``min(usage, min)`` as last propagated."""
        return self._min_usage

    @property
    def low_usage(self) -> int:
        """Claimed low protection, ``min(usage, low)`` as last propagated."""
        return self._low_usage

    @property
    def children_min_usage(self) -> int:
        """Sum of the direct children's ``min_usage`` (delta-maintained, mod 2**64)."""
        return self._children_min_usage

    @property
    def children_low_usage(self) -> int:
        """Sum of the direct children's ``low_usage`` (delta-maintained, mod 2**64)."""
        return self._children_low_usage

    @property
    def parent(self) -> PageCounter | None:
        """The parent counter, None for a root."""
        return self._parent

    @property
    def track_failcnt(self) -> bool:
        """Whether failed charges started here count in ``failcnt``."""
        return self._track_failcnt

    @property
    def protection(self) -> bool:
        """The kernel's ``protection_support``: maintain protected usage on charges."""
        return self._protection

    @property
    def depth(self) -> int:
        """Number of ancestors (0 for a root)."""
        return self._depth

    def __repr__(self) -> str:
        return f"<model.PageCounter depth={self._depth} usage={self._usage} max={self._max}>"


# ---------------------------------------------------------------------- kernel helpers


def _update_watermarks(c: PageCounter, new: int) -> None:
    """The two-level peak update of charge/try_charge (>= 6.12): because every
    reset lowers local_watermark with watermark, watermark >= local_watermark
    and watermark is only compared once local_watermark moved."""
    if new > c._local_watermark:
        c._local_watermark = new
        if new > c._watermark:
            c._watermark = new


def _propagate_protected_usage(c: PageCounter, usage: int) -> None:
    """``propagate_protected_usage()``: publish ``min(usage, min)`` (and the
    same for low) and add the change to the parent's children sum.  No-op
    for a root."""
    parent = c._parent
    if parent is None:
        return
    protected = min(usage, c._min)
    if protected != c._min_usage:  # compare before the xchg (>= 6.1)
        old, c._min_usage = c._min_usage, protected
        parent._children_min_usage = (parent._children_min_usage + protected - old) & U64_MASK
    protected = min(usage, c._low)
    if protected != c._low_usage:
        old, c._low_usage = c._low_usage, protected
        parent._children_low_usage = (parent._children_low_usage + protected - old) & U64_MASK


def _cancel(c: PageCounter, n: int) -> bool:
    """``page_counter_cancel()`` on one level; True if it underflowed.

    ``new = usage - n`` as a signed long; if negative the kernel WARNs and
    sets usage to 0.  Propagates protection if THIS level has ``protection``.
    """
    new = (c._usage - n) & U64_MASK
    clamped = new >= _LONG_MIN  # new < 0 as a long
    if clamped:
        new = 0
    c._usage = new
    if c._protection:  # track_protection(counter): this level's own flag
        _propagate_protected_usage(c, new)
    return clamped


def _effective_protection(
    usage: int,
    parent_usage: int,
    setting: int,
    parent_effective: int,
    siblings_protected: int,
    recursive: bool,
) -> int:
    """``effective_protection()`` in unsigned long arithmetic, multiply first.

    Overcommitted level (children claim more than the parent's effective
    value): share the parent's value in proportion to the claimed
    ``min(usage, setting)``.  Otherwise the claim itself, plus, with recursive
    protection, a share of the unclaimed rest in proportion to the
    unprotected usage.
    """
    protected = min(usage, setting)
    if siblings_protected > parent_effective:
        return ((protected * parent_effective) & U64_MASK) // siblings_protected
    ep = protected
    if not recursive:
        return ep
    # the kernel checks both usages: they are not read atomically
    if (
        parent_effective > siblings_protected
        and parent_usage > siblings_protected
        and usage > protected
    ):
        unclaimed = parent_effective - siblings_protected
        unclaimed = (unclaimed * (usage - protected)) & U64_MASK
        unclaimed //= parent_usage - siblings_protected
        ep = (ep + unclaimed) & U64_MASK
    return ep
