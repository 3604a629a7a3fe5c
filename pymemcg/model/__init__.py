"""pymemcg.model — the pure-Python oracle of pymemcg.

Same public API as the C-backed :mod:`pymemcg` (same names, same arguments,
same exceptions — the error classes are the very objects of
:mod:`pymemcg.errors`), reproducing every quirk of the kernel's
``mm/page_counter.c`` (mainline >= 6.15) and ``lib/cmdline.c``:
unsigned 64-bit arithmetic that wraps where the kernel's ``unsigned long``
wraps, watermarks not rolled back by a failed charge, failcnt counted only at
the failing level and only if the charging counter tracks it, the charging
leaf's flags used for the whole walk, per-level clamping on underflow, stale
effective protection, and so on.  :class:`Hierarchy` and :class:`Cgroup`
(``hierarchy.py``) add the cgroup tree of ``mm/memcontrol.c``: per-CPU
charge stocks, the ``try_charge_memcg()`` retry loop with its events, drains
and retries, memory.high, the kmem paths of each era and dying cgroups;
:class:`Task` adds tasks (kernel stack, user pages, page tables) and the
memcg OOM killer that kills them.

The model is written for clarity, not speed.  It is deterministic and
single-threaded: it is NOT thread-safe (no locks, no atomics); share a tree
between threads only under your own lock.

It is pure Python: it imports and runs without the compiled C core (a
checkout never built, a platform without a compiler).
"""

from __future__ import annotations

from .._common import PAGE_COUNTER_MAX, PAGE_SHIFT, PAGE_SIZE, PageCounterState
from .._views import CounterView
from ..config import Config
from ..errors import (
    AgainError,
    BusyError,
    ChargeError,
    ForkError,
    KilledError,
    ExistsError,
    InvalidError,
    InvalidTypeError,
    MemcgError,
    NoDeviceError,
    NotSupportedError,
    NoSpaceError,
    NotFoundError,
    RangeError,
    StaleHandleError,
    NotOwnerError,
    DeadlockError,
    TooBigError,
    NameTooLongError,
    UnderflowError,
)
from ..gfp import (
    GFP_ACCOUNT,
    GFP_ATOMIC,
    GFP_FS,
    GFP_NOFS,
    GFP_DIRECT_RECLAIM,
    GFP_HIGH,
    GFP_KERNEL,
    GFP_KERNEL_ACCOUNT,
    GFP_KSWAPD_RECLAIM,
    GFP_NOFAIL,
    GFP_NORETRY,
    GFP_NOWAIT,
    GFP_RETRY_MAYFAIL,
)
from .hierarchy import Cgroup, Hierarchy, Socket, Task
from .owned_cpu import OwnedCpu
from .replayer import Replayer
from ..replay import (
    OP_CHARGE,
    OP_DRAIN,
    OP_DRAIN_ALL,
    OP_UNCHARGE,
    RESULT_UNDERFLOW,
    ReplayResult,
    decode,
    ops,
    pack_ops,
)
from .memparse import memparse, page_counter_memparse
from .page_counter import PageCounter
from .slab import STANDARD_CACHES, KmemCache, ObjStock, SlabinfoRow, SlabObject, SlabPinning

__all__ = [
    "AgainError",
    "NoDeviceError",
    "NotSupportedError",
    "RangeError",
    "TooBigError",
    "PAGE_SHIFT",
    "OP_DTYPE",
    "OP_CHARGE",
    "OP_UNCHARGE",
    "OP_DRAIN",
    "OP_DRAIN_ALL",
    "RESULT_UNDERFLOW",
    "pack_ops",
    "ops",
    "decode",
    "ReplayResult",
    "PAGE_SIZE",
    "PAGE_COUNTER_MAX",
    "memparse",
    "page_counter_memparse",
    "PageCounter",
    "PageCounterState",
    "Hierarchy",
    "Cgroup",
    "Task",
    "Socket",
    "KmemCache",
    "SlabObject",
    "SlabinfoRow",
    "SlabPinning",
    "ObjStock",
    "STANDARD_CACHES",
    "Config",
    "CounterView",
    "GFP_DIRECT_RECLAIM",
    "GFP_KSWAPD_RECLAIM",
    "GFP_NORETRY",
    "GFP_RETRY_MAYFAIL",
    "GFP_NOFAIL",
    "GFP_HIGH",
    "GFP_ACCOUNT",
    "GFP_KERNEL",
    "GFP_NOWAIT",
    "GFP_ATOMIC",
    "GFP_FS",
    "GFP_NOFS",
    "GFP_KERNEL_ACCOUNT",
    "MemcgError",
    "InvalidError",
    "InvalidTypeError",
    "BusyError",
    "ChargeError",
    "ForkError",
    "KilledError",
    "NoSpaceError",
    "NotFoundError",
    "ExistsError",
    "StaleHandleError",
    "NotOwnerError",
    "DeadlockError",
    "OwnedCpu",
    "Replayer",
    "UnderflowError",
    "NameTooLongError",
]


def __getattr__(name: str) -> object:
    # OP_DTYPE is a numpy dtype: built (and numpy imported) on first use only.
    if name == "OP_DTYPE":
        from .. import replay

        return replay.OP_DTYPE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
