"""GFP flags: how an allocation may behave when its charge hits a limit.

The bits are pymemcg's own (the kernel's values change between releases);
the names and their meaning in the charge path are the kernel's.
"""

from __future__ import annotations

from ._common import check_int
from .errors import InvalidError

__all__ = [
    "GFP_DIRECT_RECLAIM", "GFP_KSWAPD_RECLAIM", "GFP_NORETRY", "GFP_RETRY_MAYFAIL",
    "GFP_NOFAIL", "GFP_HIGH", "GFP_ACCOUNT", "GFP_FS", "GFP_KERNEL", "GFP_NOFS", "GFP_NOWAIT",
    "GFP_ATOMIC", "GFP_KERNEL_ACCOUNT", "check_gfp",
]

#: May reclaim and wait (``__GFP_DIRECT_RECLAIM``): the charge path runs reclaim.
GFP_DIRECT_RECLAIM = 0x1
#: May wake kswapd (``__GFP_KSWAPD_RECLAIM``); with DIRECT, "may spin".
GFP_KSWAPD_RECLAIM = 0x2
#: Give up after the first round of reclaim (``__GFP_NORETRY``).
GFP_NORETRY = 0x4
#: Retry, but fail instead of invoking the OOM killer (``__GFP_RETRY_MAYFAIL``).
GFP_RETRY_MAYFAIL = 0x8
#: Never fail: charge over the limit if need be (``__GFP_NOFAIL``).
GFP_NOFAIL = 0x10
#: High priority: atomic allocations get through over the limit (``__GFP_HIGH``).
GFP_HIGH = 0x20
#: Account to the memcg (``__GFP_ACCOUNT``), for kernel allocations: on the
#: white list (``Config.kmem_accounting == "whitelist"``, 4.5+) a task's
#: allocation (:meth:`Task.kmem_alloc`) is charged only with it (or from a
#: ``SLAB_ACCOUNT`` cache); the 3.8 black list charges without it.
GFP_ACCOUNT = 0x40
#: May call into the filesystem (``__GFP_FS``): 3.8 let a kernel-memory
#: charge invoke the OOM killer only with it (and without NORETRY).
GFP_FS = 0x80

GFP_KERNEL = GFP_DIRECT_RECLAIM | GFP_KSWAPD_RECLAIM | GFP_FS
GFP_NOFS = GFP_DIRECT_RECLAIM | GFP_KSWAPD_RECLAIM
#: May not block: no reclaim, no OOM; at a limit the charge fails (before
#: the max event), unless GFP_HIGH or GFP_NOFAIL force it (current kernels).
GFP_NOWAIT = GFP_KSWAPD_RECLAIM
#: Interrupt-safe and high priority: forced over the limit on current
#: kernels, refused at the limit on 3.8.
GFP_ATOMIC = GFP_HIGH | GFP_KSWAPD_RECLAIM
#: What most accounted kernel allocations use (the default of Task.kmem_alloc).
GFP_KERNEL_ACCOUNT = GFP_KERNEL | GFP_ACCOUNT

_ALL = 0xFF


def check_gfp(flags: object) -> int:
    """Return ``flags`` as an int, refusing unknown bits.

    Integers as :func:`pymemcg._common.check_int` reads them (numpy integers
    and 0-d integer arrays included); anything else, ``bool`` included,
    raises :class:`InvalidTypeError`; a negative value or an unknown bit
    :class:`InvalidError`.
    """
    if flags.__class__ is not int:
        flags = check_int(flags, "flags")
    if flags < 0 or flags & ~_ALL:
        raise InvalidError(f"unknown GFP bits in {flags:#x}")
    return flags
