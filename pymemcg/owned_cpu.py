"""Owned CPUs of the C-backed :class:`pymemcg.Hierarchy` (``h.cpu(n)``):
a thread holds a CPU's lock from acquire to release, and its charges and
uncharges take none (csrc/cpu.c has the contract in full)."""

from __future__ import annotations

import errno as _errno
from typing import Any, NoReturn, Optional

from ._common import OwnedCpuBase, check_bool, check_count
from ._core import ffi, lib
from .errors import BusyError, DeadlockError, InvalidError, InvalidTypeError, StaleHandleError
from .gfp import GFP_KERNEL, check_gfp
from .hierarchy import _MASK_LEVELS, Cgroup, Hierarchy, _check

__all__ = ["OwnedCpu"]


class OwnedCpu(OwnedCpuBase):
    """A CPU of a :class:`Hierarchy` owned by one thread (:meth:`Hierarchy.cpu`).

    The kernel's model: code runs on its CPU and finds its stock without
    asking anyone.  The owner's :meth:`try_charge` and :meth:`uncharge`
    return and raise exactly what :meth:`Cgroup.try_charge` and
    :meth:`Cgroup.uncharge` with ``cpu=`` this CPU do; a stock hit costs a
    few loads and stores in C, no atomic.  A charge the stock cannot serve
    lets the CPU go for its slow part (reclaim, the reclaim hook, drains),
    as the single call does where the kernel may sleep, and takes it back.

    The contract:

    * Only the thread that acquired it may use it (:class:`NotOwnerError`,
      EPERM, elsewhere); after :meth:`release`, :class:`StaleHandleError`.
    * One CPU per thread and hierarchy; while it owns one, the thread may
      call nothing else of that hierarchy (:class:`DeadlockError`, EDEADLK):
      the call could wait for its own CPU, or for a thread waiting for it.
    * Other threads' calls that need the CPU wait for its release: single
      calls, replays and drains naming it, ``drain_all``, removals and the
      frees of removed cgroups, statistics reads.  :meth:`Hierarchy.close`
      raises :class:`BusyError` instead of waiting.
    * A thread that ends owning a CPU gives it back.

    None of the refusals waits or changes anything.
    """

    __slots__ = ("_hier", "_h", "_token", "_cpu", "__weakref__")

    def __init__(self, hierarchy: Hierarchy, cpu: int) -> None:
        self._hier = hierarchy
        self._h = hierarchy._h
        self._cpu = cpu
        self._token = 0
        r = lib.pmc_cpu_acquire(self._h, cpu)
        if r == -_errno.EBUSY:
            raise BusyError(_errno.EBUSY, f"cpu({cpu}): the CPU is owned already")
        if r == -_errno.EDEADLK:
            raise DeadlockError(_errno.EDEADLK,
                                f"cpu({cpu}): this thread owns a CPU of this hierarchy already")
        if r == -_errno.ESTALE:
            raise StaleHandleError(f"cpu({cpu}): the hierarchy is closed")
        self._token = _check(r, f"cpu({cpu})")

    @property
    def hierarchy(self) -> Hierarchy:
        return self._hier

    def _fail(self, r: int, what: str) -> NoReturn:
        if r == -_errno.ESTALE and not self._token:
            raise StaleHandleError(f"cpu {self._cpu}: {what} after release")
        if r == -_errno.EDEADLK:
            raise DeadlockError(_errno.EDEADLK, f"cpu {self._cpu}: {what} from inside a call "
                                "that let the CPU go (a reclaim hook)")
        _check(r, f"cpu {self._cpu}: {what}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _cgroup(self, cg: Any) -> "Cgroup":
        if cg.__class__ is not Cgroup:
            if not isinstance(cg, Cgroup):
                raise InvalidTypeError(f"cgroup must be a Cgroup, not {type(cg).__name__}")
        if cg._hier is not self._hier:
            raise InvalidError(f"cgroup {cg.path or '/'!r} is a cgroup of another hierarchy")
        return cg

    def try_charge(self, cgroup: "Cgroup", nr_pages: int, flags: int = GFP_KERNEL,
                   kmem: bool = False) -> Optional["Cgroup"]:
        """:meth:`Cgroup.try_charge` on this CPU: None when charged, else
        the cgroup over its limit."""
        cg = self._cgroup(cgroup)
        if nr_pages.__class__ is not int:
            nr_pages = check_count(nr_pages)
        if flags.__class__ is not int:
            flags = check_gfp(flags)
        if kmem.__class__ is not bool:
            kmem = check_bool(kmem, "kmem")
        try:
            r = _cpu_try_charge(self._token, cg._cg, nr_pages, flags, kmem)
        except OverflowError:
            check_count(nr_pages)
            check_gfp(flags)
            raise  # pragma: no cover - one of the checks raises
        if not r:
            return None
        if r > 0:
            return self._hier._cgroup(r)
        if r == -_errno.EINVAL:
            check_count(nr_pages)
            check_gfp(flags)
        if r == -_errno.ESTALE and self._token:
            cg._bad(r, nr_pages, self._cpu, flags, "try_charge")
        self._fail(r, "try_charge")

    def uncharge(self, cgroup: "Cgroup", nr_pages: int, kmem: bool = False) -> None:
        """:meth:`Cgroup.uncharge` on this CPU (:class:`UnderflowError` after
        applying the whole uncharge, if more was uncharged than charged)."""
        cg = self._cgroup(cgroup)
        if nr_pages.__class__ is not int:
            nr_pages = check_count(nr_pages)
        if kmem.__class__ is not bool:
            kmem = check_bool(kmem, "kmem")
        if cg._depth >= _MASK_LEVELS:
            return self._uncharge_deep(cg, nr_pages, kmem)
        try:
            r = _cpu_uncharge(self._token, cg._cg, nr_pages, kmem)
        except OverflowError:
            check_count(nr_pages)
            raise  # pragma: no cover - check_count raises
        if r:
            if r < 0:
                if r == -_errno.ESTALE and self._token:
                    cg._bad(r, nr_pages, self._cpu, 0, "uncharge")
                self._fail(r, "uncharge")
            cg._underflow(r, nr_pages)

    def _uncharge_deep(self, cg: "Cgroup", nr_pages: int, kmem: bool) -> None:
        n = cg._depth + 1
        levels = ffi.new("uint8_t[]", 4 * n)
        r = lib.pmc_cpu_uncharge_levels(self._token, cg._cg, check_count(nr_pages), kmem,
                                        levels, n)
        if r < 0:
            if r == -_errno.ESTALE and self._token:
                cg._bad(r, nr_pages, self._cpu, 0, "uncharge")
            self._fail(r, "uncharge")
        if r:
            cg._report_levels(levels, n, nr_pages)

    def drain(self) -> None:
        """Drain this CPU's stocks (:meth:`Hierarchy.drain`)."""
        r = lib.pmc_cpu_drain(self._token)
        if r:
            self._fail(r, "drain")

    def release(self) -> None:
        """Let the CPU go.  Only the owning thread may; twice raises
        :class:`StaleHandleError`."""
        r = lib.pmc_cpu_release(self._token)
        if r:
            self._fail(r, "release")
        self._token = 0

    def __del__(self) -> None:
        # Forgotten without release: give it back if this is its thread;
        # elsewhere its thread gives it back when it ends.
        if getattr(self, "_token", 0):
            lib.pmc_cpu_release(self._token)

    def __repr__(self) -> str:
        state = "owned" if self._token else "released"
        return f"<pymemcg.OwnedCpu cpu={self._cpu} {state}>"


_cpu_try_charge = lib.pmc_cpu_try_charge
_cpu_uncharge = lib.pmc_cpu_uncharge
