"""Owned CPUs of a model :class:`Hierarchy` (``h.cpu(n)``): the C-backed
:class:`pymemcg.OwnedCpu`'s API and refusals, on the model's charge path."""

from __future__ import annotations

import errno
import threading
from typing import Any, Callable, Optional

from .._common import OwnedCpuBase
from ..errors import (BusyError, DeadlockError, InvalidError, InvalidTypeError, NotOwnerError,
                      StaleHandleError)
from ..gfp import GFP_KERNEL
from .hierarchy import Cgroup, Hierarchy

__all__ = ["OwnedCpu"]


class OwnedCpu(OwnedCpuBase):
    """A CPU of a model :class:`Hierarchy` owned by one thread
    (:meth:`Hierarchy.cpu`): the C-backed :class:`pymemcg.OwnedCpu`'s API
    and contract, on the model's charge path (the model has no locks; it
    keeps the refusals so that both backends raise alike)."""

    __slots__ = ("_hier", "_cpu", "_token", "_thread", "_in_call")

    _next_token = 0

    def __init__(self, hierarchy: Hierarchy, cpu: int) -> None:
        self._hier, self._cpu, self._token, self._in_call = hierarchy, cpu, 0, False
        self._thread = threading.get_ident()
        if hierarchy._closed:
            raise StaleHandleError(f"cpu({cpu}): the hierarchy is closed")
        hierarchy._forget_gone_owners()
        if any(o._thread == self._thread for o in hierarchy._owners.values()):
            raise DeadlockError(errno.EDEADLK,
                                f"cpu({cpu}): this thread owns a CPU of this hierarchy already")
        if cpu in hierarchy._owners:
            raise BusyError(errno.EBUSY, f"cpu({cpu}): the CPU is owned already")
        OwnedCpu._next_token += 1
        self._token = OwnedCpu._next_token
        hierarchy._owners[cpu] = self

    @property
    def hierarchy(self) -> Hierarchy:
        return self._hier

    def _enter(self, what: str) -> None:
        if not self._token:
            raise StaleHandleError(f"cpu {self._cpu}: {what} after release")
        if threading.get_ident() != self._thread:
            raise NotOwnerError(errno.EPERM, f"cpu {self._cpu}: {what}: EPERM "
                                "(the CPU is owned by another thread)")
        if self._in_call:
            raise DeadlockError(errno.EDEADLK, f"cpu {self._cpu}: {what} from inside a call "
                                "that let the CPU go (a reclaim hook)")

    def _cgroup(self, cg: Any) -> Cgroup:
        if not isinstance(cg, Cgroup):
            raise InvalidTypeError(f"cgroup must be a Cgroup, not {type(cg).__name__}")
        if cg._hierarchy is not self._hier:
            raise InvalidError(f"cgroup {cg.path or '/'!r} is a cgroup of another hierarchy")
        return cg

    def _call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        h = self._hier
        self._in_call = True
        h._owned_call += 1
        try:
            return fn(*args, **kw)
        finally:
            h._owned_call -= 1
            self._in_call = False

    def try_charge(self, cgroup: Cgroup, nr_pages: int, flags: int = GFP_KERNEL,
                   kmem: bool = False) -> Optional[Cgroup]:
        """:meth:`Cgroup.try_charge` on this CPU."""
        cg = self._cgroup(cgroup)
        self._enter("try_charge")
        result: Optional[Cgroup] = self._call(cg.try_charge, nr_pages, cpu=self._cpu,
                                              flags=flags, kmem=kmem)
        return result

    def uncharge(self, cgroup: Cgroup, nr_pages: int, kmem: bool = False) -> None:
        """:meth:`Cgroup.uncharge` on this CPU."""
        cg = self._cgroup(cgroup)
        self._enter("uncharge")
        self._call(cg.uncharge, nr_pages, cpu=self._cpu, kmem=kmem)

    def drain(self) -> None:
        """Drain this CPU's stocks."""
        self._enter("drain")
        self._call(self._hier.drain, self._cpu)

    def release(self) -> None:
        """Let the CPU go (only its thread may)."""
        self._enter("release")
        del self._hier._owners[self._cpu]
        self._token = 0

    def __repr__(self) -> str:
        state = "owned" if self._token else "released"
        return f"<pymemcg.model.OwnedCpu cpu={self._cpu} {state}>"
