"""pymemcg.model — the pure-Python oracle of pymemcg.

Same public API as the C-backed :mod:`pymemcg` (same names, same arguments,
same exceptions — the error classes are the very objects of
:mod:`pymemcg.errors`), reproducing every quirk of the kernel's
``mm/page_counter.c`` (mainline >= 6.15) and ``lib/cmdline.c``:
unsigned 64-bit arithmetic that wraps where the kernel's ``unsigned long``
wraps, watermarks not rolled back by a failed charge, failcnt counted only at
the failing level and only if the charging counter tracks it, the charging
leaf's flags used for the whole walk, per-level clamping on underflow, stale
effective protection, and so on.

The model is written for clarity, not speed.  It is deterministic and
single-threaded: it is NOT thread-safe (no locks, no atomics); share a tree
between threads only under your own lock.
"""

from __future__ import annotations

from .._common import PAGE_COUNTER_MAX, PAGE_SIZE, PageCounterState
from ..errors import (
    BusyError,
    ChargeError,
    InvalidError,
    InvalidTypeError,
    MemcgError,
    NoSpaceError,
    StaleHandleError,
    UnderflowError,
)
from .memparse import memparse, page_counter_memparse
from .page_counter import PageCounter

__all__ = [
    "PAGE_SIZE",
    "PAGE_COUNTER_MAX",
    "memparse",
    "page_counter_memparse",
    "PageCounter",
    "PageCounterState",
    "MemcgError",
    "InvalidError",
    "InvalidTypeError",
    "BusyError",
    "ChargeError",
    "NoSpaceError",
    "StaleHandleError",
    "UnderflowError",
]
