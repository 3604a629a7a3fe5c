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

Without the compiled extension (``pymemcg/_core*.so``, built by ``pip
install`` or ``make venv``), ``import pymemcg`` still works and so does all
of :mod:`pymemcg.model`; only the C-backed names (:class:`PageCounter`,
:class:`Hierarchy`, :class:`Cgroup`, :func:`memparse`,
:func:`page_counter_memparse`) raise :class:`ImportError`, saying so, when
they are used.
"""

from __future__ import annotations

from ._common import PAGE_COUNTER_MAX, PAGE_SHIFT, PAGE_SIZE, PageCounterState
from ._views import CounterView
from .config import Config
from .errors import (
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
from .gfp import (
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
from .replay import (
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

#: Why the C core did not load (None when it did): the C-backed names then
#: raise ImportError on use, and pymemcg.model works all the same.
_CORE_ERROR: "ImportError | None" = None
try:
    from .hierarchy import Cgroup, Hierarchy, Socket
    from .owned_cpu import OwnedCpu
    from .replayer import Replayer
    from .slab import KmemCache, SlabObject
    from .memparse import memparse, page_counter_memparse
    from .page_counter import PageCounter
except ImportError as _exc:
    # Only the extension itself may be missing; any other ImportError is a bug.
    if getattr(_exc, "name", None) != __name__ + "._core":
        raise
    _CORE_ERROR = _exc
    del _exc

#: The names that need the compiled C core.
_CORE_NAMES = frozenset({"Cgroup", "Hierarchy", "memparse", "page_counter_memparse",
                         "PageCounter", "Socket", "KmemCache", "SlabObject",
                         "OwnedCpu", "Replayer"})

__version__ = "0.1.0"

__all__ = [
    "AgainError",
    "NoDeviceError",
    "NotSupportedError",
    "RangeError",
    "TooBigError",
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
    "PAGE_SHIFT",
    "PAGE_COUNTER_MAX",
    "PageCounter",
    "PageCounterState",
    "Config",
    "Hierarchy",
    "Cgroup",
    "Socket",
    "KmemCache",
    "SlabObject",
    "CounterView",
    "GFP_ACCOUNT",
    "GFP_ATOMIC",
    "GFP_FS",
    "GFP_NOFS",
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
        from . import replay

        return replay.OP_DTYPE
    if name in _CORE_NAMES and _CORE_ERROR is not None:
        raise ImportError(
            f"pymemcg.{name} needs the compiled C core, which did not load "
            f"({_CORE_ERROR}): build it with `pip install .` or `make venv` (a C compiler "
            "and the Python headers), or use the pure-Python pymemcg.model, which has "
            "the same API", name=__name__ + "._core") from _CORE_ERROR
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
