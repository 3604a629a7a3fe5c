"""Constants, argument checks and value types shared by both backends.

The C-backed API (:mod:`pymemcg`) and the pure-Python oracle
(:mod:`pymemcg.model`) accept exactly the same arguments and raise exactly
the same exceptions for bad ones; the checks live here once.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from .errors import InvalidError, InvalidTypeError

PAGE_SIZE = 4096
PAGE_SHIFT = 12
#: LONG_MAX // PAGE_SIZE: the largest page count a counter holds (2**51 - 1).
PAGE_COUNTER_MAX = (2**63 - 1) // PAGE_SIZE
#: Counters use the kernel's ``unsigned long`` arithmetic: 64 bits, wrapping.
U64_MASK = 2**64 - 1


def check_count(nr_pages: object, what: str = "nr_pages") -> int:
    """Return ``nr_pages`` as an int in ``0..PAGE_COUNTER_MAX``.

    Anything with ``__index__`` is a count (numpy integers included);
    ``bool`` and ``float`` raise :class:`InvalidTypeError`, a value out of
    range :class:`InvalidError`.
    """
    if nr_pages.__class__ is not int:
        if isinstance(nr_pages, bool):
            raise InvalidTypeError(f"{what} must be an integer, not bool")
        try:
            nr_pages = operator.index(nr_pages)  # type: ignore[arg-type]
        except TypeError:
            raise InvalidTypeError(
                f"{what} must be an integer, not {type(nr_pages).__name__}"
            ) from None
    assert isinstance(nr_pages, int)
    if nr_pages < 0 or nr_pages > PAGE_COUNTER_MAX:
        raise InvalidError(f"{what} must be in 0..PAGE_COUNTER_MAX, got {nr_pages}")
    return nr_pages


def check_cpu(cpu: object, ncpus: int) -> int:
    """``cpu`` as an int in ``0..ncpus-1``.

    ``bool``, ``float`` and other non-integers raise :class:`InvalidTypeError`
    (anything with ``__index__`` is accepted, like a count); an integer out of
    range raises :class:`InvalidError`.
    """
    if cpu.__class__ is not int:
        if isinstance(cpu, bool):
            raise InvalidTypeError("cpu must be an integer, not bool")
        try:
            cpu = operator.index(cpu)  # type: ignore[arg-type]
        except TypeError:
            raise InvalidTypeError(f"cpu must be an integer, not {type(cpu).__name__}") from None
    assert isinstance(cpu, int)
    if not 0 <= cpu < ncpus:
        raise InvalidError(f"cpu must be in 0..{ncpus - 1}, got {cpu}")
    return cpu


@dataclass(frozen=True)
class PageCounterState:
    """Every field of one page counter at one instant (pages)."""

    usage: int
    max: int
    min: int
    low: int
    high: int
    watermark: int
    local_watermark: int
    failcnt: int
    emin: int
    elow: int
    min_usage: int
    low_usage: int
    children_min_usage: int
    children_low_usage: int
