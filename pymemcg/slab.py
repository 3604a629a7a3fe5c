"""Slab caches and objects, backed by the C core (``csrc/slab.c``).

A :class:`KmemCache` is made with :meth:`Hierarchy.kmem_cache_create`;
:meth:`KmemCache.alloc` makes a :class:`SlabObject` for a cgroup or a task,
charged as ``Config.slab`` says:

* ``"clone"`` (Linux 3.8-5.8): the cgroup's own clone of the cache serves
  it, made by queued work on its first accounted allocation (until that work
  runs -- :meth:`Hierarchy.run_pending_work`, or by itself after
  ``Config.slab_work_delay`` allocations -- the root cache serves it,
  uncharged); a clone's slab pages are charged whole, as kernel memory.
* ``"objcg"`` (5.9+): one set of caches; each object is charged its slot
  plus the 8-byte objcg pointer, in bytes, through the per-CPU object stock.
* ``"none"``: nothing is charged.

The model of a cache (SLUB without debugging, documented in
``csrc/slab.c``): the slot is the object size aligned to 8 and then to
``align``; the slab order and objects per slab follow SLUB's
``calculate_order()`` with the hierarchy's CPUs; empty slabs are kept while
the cache has fewer than ``min_partial`` partial slabs (SLUB's
``set_min_partial()``: ilog2(size) / 2 within 5..10).  Allocation takes the
first partial slab, then a kept empty one, then a new one; a slab's free
slots are a LIFO list.

Handles: an object is a slot, named by its slab page and the page's
generation -- not its own: a raw handle of a freed object whose slot was
taken again names the new object (a stale pointer in the kernel does the
same).  :class:`SlabObject` remembers its own free, so ``free()`` twice
raises :class:`StaleHandleError`.
"""

from __future__ import annotations

import array
import errno as _errno
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from ._common import check_bool, check_count, check_int
from ._common import check_cpu as _check_cpu
from ._core import ffi, lib
from .errors import ChargeError, InvalidError, InvalidTypeError, KilledError, StaleHandleError
from .gfp import GFP_KERNEL, check_gfp
from ._slab_common import (
    OBJCG_POINTER_SIZE,
    STANDARD_CACHES,
    ObjStock,
    SlabinfoRow,
    SlabPinning,
    check_cache_geometry,
    check_cache_name,
)

if TYPE_CHECKING:  # pragma: no cover
    from .hierarchy import Cgroup, Hierarchy, Task

__all__ = ["KmemCache", "SlabObject", "SlabinfoRow", "SlabPinning", "ObjStock",
           "STANDARD_CACHES", "OBJCG_POINTER_SIZE"]

def _cache_flags(account: bool, reclaimable: bool) -> int:
    return ((lib.PMC_CACHE_ACCOUNT if check_bool(account, "account") else 0)
            | (lib.PMC_CACHE_RECLAIMABLE if check_bool(reclaimable, "reclaimable") else 0))


def create(hier: "Hierarchy", name: str, object_size: int, align: int = 8, account: bool = True,
           order: Optional[int] = None, reclaimable: bool = False,
           min_partial: Optional[int] = None) -> "KmemCache":
    """:meth:`Hierarchy.kmem_cache_create`."""
    raw = check_cache_name(name).encode()
    size = check_int(object_size, "object_size")
    align = check_int(align, "align")
    check_cache_geometry(size, align)
    flags = _cache_flags(account, reclaimable)
    o = -1 if order is None else check_int(order, "order")
    if order is not None and not 0 <= o <= 3:
        raise InvalidError(f"order must be in 0..3, not {o}")
    mp = -1 if min_partial is None else check_int(min_partial, "min_partial")
    if min_partial is not None and not 0 <= mp <= 1 << 20:
        raise InvalidError(f"min_partial must be in 0..{1 << 20}, not {mp}")
    r = lib.pmc_kmem_cache_create(hier._h, raw, size, align, flags, o, mp)
    if r == -_errno.EINVAL:
        raise InvalidError(f"kmem_cache_create {name!r}: no {size}-byte object fits a slab "
                           f"of order {o}")
    return hier._kmem_cache(_check(r, "kmem_cache_create"))


def _check(r: int, what: str) -> int:
    from .hierarchy import _check as check
    return check(r, what)


def _owner(hier: "Hierarchy", owner: object) -> int:
    from .hierarchy import Cgroup, Task
    if isinstance(owner, Cgroup):
        return hier._own(owner, "owner")._cg
    if isinstance(owner, Task):
        if owner._hier is not hier:
            raise InvalidError("owner: a task of another hierarchy")
        return owner._t
    raise InvalidTypeError(f"owner must be a Cgroup or a Task, not {type(owner).__name__}")


class KmemCache:
    """A slab cache of a :class:`Hierarchy`: a root cache
    (:meth:`Hierarchy.kmem_cache_create`) or, in clone mode, a cgroup's
    clone of one.  Root caches live as long as their hierarchy; a clone is
    destroyed once its cgroup is removed and its last slab page freed, and
    then every use raises :class:`StaleHandleError`."""

    __slots__ = ("_hier", "_h", "_c", "__weakref__")

    def __init__(self, hierarchy: "Hierarchy", handle: int) -> None:
        self._hier = hierarchy
        self._h = hierarchy._h
        self._c = handle
        hierarchy._caches[handle] = self

    @property
    def handle(self) -> int:
        return self._c

    def _info(self) -> Any:
        info = ffi.new("struct pmc_kmem_cache_info *")
        r = lib.pmc_kmem_cache_info(self._h, self._c, info)
        if r < 0:
            raise StaleHandleError("the cache was destroyed (or its hierarchy closed)")
        return info

    @property
    def alive(self) -> bool:
        info = ffi.new("struct pmc_kmem_cache_info *")
        return bool(lib.pmc_kmem_cache_info(self._h, self._c, info) == 0)

    @property
    def name(self) -> str:
        """Its name (a clone's in its era's format, ``dentry(2:a)``)."""
        return str(ffi.string(self._info().name).decode())

    @property
    def object_size(self) -> int:
        return int(self._info().object_size)

    @property
    def size(self) -> int:
        """The slot: the object size aligned (what objcg mode charges, plus 8)."""
        return int(self._info().size)

    @property
    def align(self) -> int:
        return int(self._info().align)

    @property
    def order(self) -> int:
        """A slab page is ``1 << order`` pages."""
        return int(self._info().order)

    @property
    def objects_per_slab(self) -> int:
        return int(self._info().objects_per_slab)

    @property
    def account(self) -> bool:
        """Created with SLAB_ACCOUNT."""
        return bool(self._info().flags & lib.PMC_CACHE_ACCOUNT)

    @property
    def reclaimable(self) -> bool:
        """Created with SLAB_RECLAIM_ACCOUNT (its pages count as slab_reclaimable)."""
        return bool(self._info().flags & lib.PMC_CACHE_RECLAIMABLE)

    @property
    def min_partial(self) -> int:
        """Empty slabs are kept while fewer than this many are partial (0 when dying)."""
        return int(self._info().min_partial)

    @property
    def root(self) -> Optional["KmemCache"]:
        """A clone's root cache; None for a root cache."""
        r = self._info().root
        return self._hier._kmem_cache(r) if r else None

    @property
    def cgroup(self) -> Optional["Cgroup"]:
        """A clone's cgroup now (its parent's after 5.3's reparenting); None for a root cache."""
        c = self._info().cgroup
        return self._hier._cgroup(c) if c else None

    @property
    def dying(self) -> bool:
        """A clone of a removed cgroup: no new objects, destroyed when its last slab goes."""
        return bool(self._info().dying)

    @property
    def clones(self) -> Tuple["KmemCache", ...]:
        """A root cache's live clones, in creation order."""
        return tuple(c for c in self._hier.kmem_caches() if c.root is self)

    @property
    def active_objects(self) -> int:
        return int(self._info().active_objs)

    @property
    def total_objects(self) -> int:
        info = self._info()
        return int(info.nr_slabs * info.objects_per_slab)

    @property
    def nr_slabs(self) -> int:
        return int(self._info().nr_slabs)

    @property
    def lists(self) -> Tuple[int, int, int]:
        """Slabs partial, full and empty (kept)."""
        info = self._info()
        return int(info.nr_partial), int(info.nr_full), int(info.nr_empty)

    def _args(self, owner: object, cpu: int, flags: int, interrupt: bool) -> Tuple[int, int, int, int]:
        return (_owner(self._hier, owner), _check_cpu(cpu, self._hier.config.ncpus),
                check_gfp(flags),
                lib.PMC_KMEM_INTERRUPT if check_bool(interrupt, "interrupt") else 0)

    def alloc(self, owner: Union["Cgroup", "Task"], cpu: int = 0, flags: int = GFP_KERNEL,
              interrupt: bool = False) -> "SlabObject":
        """One object for ``owner``: a cgroup (online) or a task (alive;
        the allocation is made in its context: its cgroup now, the OOM
        killer may choose it, memory.high throttles it).  Accounted as
        ``Task.kmem_alloc`` is: not in interrupt context, not in the root,
        then ``GFP_ACCOUNT`` in ``flags`` or a SLAB_ACCOUNT cache (4.5+), or
        always (3.8-4.4).  :class:`ChargeError` (ENOMEM, ``over``: the
        cgroup over its limit) when the charge is refused, with no object
        made (in objcg mode the object was taken first and went back, as in
        the kernel: a slab page made for it may stay, kept empty);
        :class:`KilledError` when the OOM killer killed the task meanwhile."""
        own, cpu, gfp, how = self._args(owner, cpu, flags, interrupt)
        over = ffi.new("int64_t *")
        r = lib.pmc_slab_alloc(self._h, self._c, own, cpu, gfp, how, over)
        if r > 0:
            return SlabObject(self._hier, r)
        self._refused(r, over[0], "alloc")
        raise AssertionError("unreachable")  # pragma: no cover

    def alloc_many(self, owner: Union["Cgroup", "Task"], n: int, cpu: int = 0,
                   flags: int = GFP_KERNEL, interrupt: bool = False) -> "array.array[int]":
        """Up to ``n`` objects in one call, as :meth:`alloc` makes each: an
        ``array('q')`` of their handles (for :meth:`Hierarchy.free_many`),
        shorter than ``n`` if a charge was refused (the objects made stay).
        Bad arguments raise before anything is made."""
        n = check_count(n, "n")
        own, cpu, gfp, how = self._args(owner, cpu, flags, interrupt)
        out = array.array("q", bytes(8 * n))
        err = ffi.new("int64_t *")
        over = ffi.new("int64_t *")
        buf = ffi.from_buffer("int64_t[]", out, require_writable=True)
        try:
            r = lib.pmc_slab_alloc_bulk(self._h, self._c, own, n, cpu, gfp, how, buf, err, over)
        finally:
            ffi.release(buf)
        if r < 0:
            self._refused(r, over[0], "alloc_many")
        e = int(err[0])
        if e and e not in (-_errno.ENOMEM, -_errno.ESRCH):
            _check(e, "alloc_many")
        del out[r:]
        return out

    def _refused(self, r: int, over: int, what: str) -> None:
        if r == -_errno.ENOMEM:
            err: Exception = ChargeError(f"{what} from {self.name}: the charge was refused")
            err.over = self._hier._cgroup(over) if over > 0 else None  # type: ignore[attr-defined]
            raise err
        if r == -_errno.ESRCH:
            raise KilledError(f"{what}: the OOM killer killed the task")
        if r == -_errno.ESTALE:
            self._hier._live()
            raise StaleHandleError(f"{what}: the owner is gone (a removed cgroup, an exited task)")
        if r == -_errno.EINVAL and self.root is not None:
            raise InvalidError(f"{what}: allocate from the root cache, not the clone {self.name}")
        _check(r, what)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KmemCache) and other._c == self._c and other._h == self._h

    def __hash__(self) -> int:
        return hash((self._h, self._c))

    def __repr__(self) -> str:
        info = ffi.new("struct pmc_kmem_cache_info *")
        if lib.pmc_kmem_cache_info(self._h, self._c, info):
            return "<pymemcg.KmemCache (destroyed)>"
        return (f"<pymemcg.KmemCache {ffi.string(info.name).decode()} size={info.size} "
                f"objs={info.active_objs}/{info.nr_slabs * info.objects_per_slab}>")


class SlabObject:
    """An object of a :class:`KmemCache` (made by :meth:`KmemCache.alloc`)."""

    __slots__ = ("_hier", "_h", "_o", "_freed")

    def __init__(self, hierarchy: "Hierarchy", handle: int) -> None:
        self._hier = hierarchy
        self._h = hierarchy._h
        self._o = handle
        self._freed = False

    @property
    def handle(self) -> int:
        return self._o

    def _info(self) -> Any:
        info = ffi.new("struct pmc_slab_object_info *")
        if self._freed or lib.pmc_slab_object_info(self._h, self._o, info) < 0:
            raise StaleHandleError("the object was freed (or its hierarchy closed)")
        return info

    @property
    def alive(self) -> bool:
        info = ffi.new("struct pmc_slab_object_info *")
        return not self._freed and lib.pmc_slab_object_info(self._h, self._o, info) == 0

    @property
    def cache(self) -> KmemCache:
        """The cache it lives in: a root cache, or a clone in clone mode."""
        return self._hier._kmem_cache(self._info().cache)

    @property
    def cgroup(self) -> "Cgroup":
        """The cgroup that allocated it (whose objcg it charged, in objcg mode)."""
        return self._hier._cgroup(self._info().cgroup)

    @property
    def charged(self) -> int:
        """Bytes it charged through its cgroup's objcg (objcg mode; 0 otherwise)."""
        return int(self._info().charged)

    def free(self, cpu: int = 0) -> None:
        """Free it (``kmem_cache_free``): in objcg mode its bytes go back
        through the CPU's object stock; a slab page left empty may go."""
        cpu = _check_cpu(cpu, self._hier.config.ncpus)
        if self._freed:
            raise StaleHandleError("free: the object was freed already")
        r = lib.pmc_slab_free(self._h, self._o, cpu)
        if r == -_errno.ESTALE:
            self._hier._live()
            raise StaleHandleError("free: not a live object")
        _check(r, "free")
        self._freed = True

    def __repr__(self) -> str:
        return f"<pymemcg.SlabObject {self._o:#x}{' (freed)' if self._freed else ''}>"


def free_many(hier: "Hierarchy", handles: Any, cpu: int) -> None:
    """:meth:`Hierarchy.free_many`."""
    cpu = _check_cpu(cpu, hier.config.ncpus)
    if isinstance(handles, (list, tuple)):
        handles = array.array("q", [check_int(x, "handle") for x in handles])
    try:
        mv = memoryview(handles).cast("B")
    except TypeError:
        raise InvalidTypeError("free_many takes a buffer of int64 handles (array('q'), numpy "
                               "int64) or a list of ints") from None
    if mv.nbytes % 8:
        raise InvalidError("free_many: the buffer is not a whole number of int64 handles")
    n = mv.nbytes // 8
    buf = ffi.from_buffer("int64_t[]", handles)
    bad = ffi.new("int64_t *")
    try:
        r = lib.pmc_slab_free_bulk(hier._h, buf, n, cpu, bad)
    finally:
        ffi.release(buf)
    if r == -_errno.ESTALE:
        hier._live()
        raise StaleHandleError(f"free_many: handle #{bad[0]} is not a live object "
                               "(or it is there twice): nothing was freed")
    if r == -_errno.EINVAL and bad[0] >= 0:
        raise InvalidError(f"free_many: handle #{bad[0]} is not an object of this hierarchy: "
                           "nothing was freed")
    _check(r, "free_many")


def caches(hier: "Hierarchy") -> List[KmemCache]:
    from .hierarchy import _handles
    return [hier._kmem_cache(c) for c in _handles(lib.pmc_kmem_caches, hier._h)]


def slabinfo(hier: "Hierarchy") -> List[SlabinfoRow]:
    rows = []
    for c in caches(hier):
        info = c._info()
        cg = hier._cgroup(info.cgroup) if info.cgroup else None
        rows.append(SlabinfoRow(ffi.string(info.name).decode(), cg, int(info.active_objs),
                                int(info.nr_slabs * info.objects_per_slab), int(info.size),
                                int(info.objects_per_slab), 1 << int(info.order),
                                int(info.nr_slabs), bool(info.dying)))
    return rows


def utilisation(hier: "Hierarchy") -> Dict[str, Tuple[int, int]]:
    """:meth:`Hierarchy.slab_utilisation`."""
    out: Dict[str, Tuple[int, int]] = {}
    total_live = total_slab = 0
    roots: Dict[int, str] = {}
    for c in caches(hier):
        info = c._info()
        name = roots.get(int(info.root)) if info.root else None
        if name is None:
            name = ffi.string(info.name).decode()
            roots[c._c] = name
        live = int(info.active_objs) * int(info.object_size)
        slab = int(info.nr_slabs) * (4096 << int(info.order))
        old = out.get(name, (0, 0))
        out[name] = (old[0] + live, old[1] + slab)
        total_live += live
        total_slab += slab
    out["total"] = (total_live, total_slab)
    return out


def pinning(hier: "Hierarchy", cgroup: Optional["Cgroup"]) -> SlabPinning:
    handle = 0 if cgroup is None else hier._own(cgroup, "cgroup")._cg
    out = ffi.new("struct pmc_slab_pinning *")
    _check(lib.pmc_slab_pinning(hier._live(), handle, out), "slab_pinning")
    return SlabPinning(int(out.shared_pages), int(out.retained_pages), int(out.objects),
                       int(out.pages))


def obj_stock(hier: "Hierarchy", cpu: int) -> ObjStock:
    cpu = _check_cpu(cpu, hier.config.ncpus)
    info = ffi.new("struct pmc_obj_stock_info *")
    _check(lib.pmc_obj_stock(hier._h, cpu, info), "obj_stock")
    cg = hier._cgroup(info.cached) if info.cached else None
    return ObjStock(cg, int(info.nr_bytes), int(info.slab_reclaimable_b),
                    int(info.slab_unreclaimable_b))


def objcg_info(cg: "Cgroup") -> Tuple[int, int]:
    nr = ffi.new("int64_t *")
    refs = ffi.new("int64_t *")
    r = lib.pmc_objcg_info(cg._h, cg._cg, nr, refs)
    if r < 0:
        cg._stale()
    return int(nr[0]), int(refs[0])


def kmem_slabinfo(cg: "Cgroup") -> str:
    room = 1 << 16
    while True:
        buf = ffi.new("char[]", room)
        r = lib.pmc_cgroup_slabinfo(cg._h, cg._cg, buf, room)
        if r == -_errno.ERANGE:
            room *= 4
            continue
        if r == -_errno.ESTALE:
            cg._stale()
        _check(r, "memory.kmem.slabinfo")
        return str(ffi.string(buf, r).decode())
