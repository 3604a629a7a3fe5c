"""pymemcg: Linux memory-cgroup (memcg) accounting in user space.

The C core (``csrc/``) reproduces the kernel's lock-free hierarchical page
counters; this package binds it through CFFI.  :mod:`pymemcg.model` is a
pure-Python implementation of the same API, used as the oracle.

>>> import pymemcg as mc
>>> root = mc.PageCounter()
>>> a = mc.PageCounter(parent=root, max=100)
>>> a.try_charge(60) is None
True
>>> a.try_charge(50) is a      # refused by a, nothing charged
True
>>> (a.usage, root.usage, a.failcnt)
(60, 60, 1)
"""

from __future__ import annotations

from ._common import PAGE_COUNTER_MAX, PAGE_SHIFT, PAGE_SIZE, PageCounterState
from ._views import CounterView
from .config import Config
from .errors import (
    AgainError,
    BusyError,
    ChargeError,
    ExistsError,
    InvalidError,
    InvalidTypeError,
    MemcgError,
    NoDeviceError,
    NoSpaceError,
    NotFoundError,
    RangeError,
    StaleHandleError,
    TooBigError,
    NameTooLongError,
    UnderflowError,
)
from .gfp import (
    GFP_ACCOUNT,
    GFP_ATOMIC,
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
from .hierarchy import Cgroup, Hierarchy
from .replay import (
    OP_CHARGE,
    OP_DRAIN,
    OP_DRAIN_ALL,
    OP_UNCHARGE,
    RESULT_UNDERFLOW,
    pack_ops,
)
from .memparse import memparse, page_counter_memparse
from .page_counter import PageCounter

__version__ = "0.1.0"

__all__ = [
    "AgainError",
    "NoDeviceError",
    "RangeError",
    "TooBigError",
    "OP_DTYPE",
    "OP_CHARGE",
    "OP_UNCHARGE",
    "OP_DRAIN",
    "OP_DRAIN_ALL",
    "RESULT_UNDERFLOW",
    "pack_ops",
    "PAGE_SIZE",
    "PAGE_SHIFT",
    "PAGE_COUNTER_MAX",
    "PageCounter",
    "PageCounterState",
    "Config",
    "Hierarchy",
    "Cgroup",
    "CounterView",
    "GFP_ACCOUNT",
    "GFP_ATOMIC",
    "GFP_DIRECT_RECLAIM",
    "GFP_HIGH",
    "GFP_KERNEL",
    "GFP_KERNEL_ACCOUNT",
    "GFP_KSWAPD_RECLAIM",
    "GFP_NOFAIL",
    "GFP_NORETRY",
    "GFP_NOWAIT",
    "GFP_RETRY_MAYFAIL",
    "memparse",
    "page_counter_memparse",
    "MemcgError",
    "InvalidError",
    "InvalidTypeError",
    "BusyError",
    "ChargeError",
    "NoSpaceError",
    "NotFoundError",
    "ExistsError",
    "StaleHandleError",
    "UnderflowError",
    "NameTooLongError",
]


def __getattr__(name: str) -> object:
    # OP_DTYPE is a numpy dtype: built (and numpy imported) on first use only.
    if name == "OP_DTYPE":
        from . import replay

        return replay.OP_DTYPE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
