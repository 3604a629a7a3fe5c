"""Slab accounting in plain Python: kmem caches, slab pages and objects.

The oracle of the C core's ``csrc/slab.c``; the contract both follow is the
slab section of SPEC (issue 9).  Three modes (``Config.slab``):

* "clone" (Linux 3.8-5.8): each cgroup gets its own clone of a root cache,
  made by queued work after its first accounted allocation (until then its
  objects come from the root cache, uncharged); each slab page of a clone is
  charged, whole, to the clone's cgroup.  Offline makes the clones dying
  (and, with ``slab_reparent``, hands them to the parent).
* "objcg" (Linux 5.9+, the 6.18 code): one set of caches; each object is
  charged its slot size plus the 8-byte objcg pointer, in bytes, through the
  per-CPU object stock (``obj_cgroup_charge_account()``,
  ``refill_obj_stock()``, ``drain_obj_stock()``), which also caches the
  slab statistics (``__account_obj_stock()``).
* "none": nothing charged (the unaccounted baseline).

The slab policy (which slab page an object comes from, when an empty slab
page is freed) is SLUB's node-partial-list policy, identical in all modes.

Handles (int64, positive), the hierarchy's tag in bits 47..62 as cgroups':

* an object: slot index (bits 0..11) | slab index (12..35) | the slab
  index's generation (36..46) | tag << 47.  Slab indices are handed out
  lowest free first from 1; a slab index's generation starts at 1 and is
  bumped (mod 2**11, skipping 0) when its slab page is freed.
* a cache: slot (bits 0..21) | generation (22..45) | tag << 47, as a
  cgroup's.  Cache slots are handed out lowest free first from 1; a slot's
  generation starts at 1 and is bumped (mod 2**24, skipping 0) when a clone
  is destroyed.  Root caches live as long as the hierarchy.

Nothing here is thread-safe (the model has no threads).
"""

from __future__ import annotations

import array
import errno
import heapq
from collections import deque
from typing import TYPE_CHECKING, Any, Optional, Union, cast

from .._common import PAGE_SIZE, check_bool, check_count, check_int
from .._common import check_cpu as _check_cpu
from ..errors import (
    ChargeError,
    InvalidError,
    InvalidTypeError,
    KilledError,
    NoSpaceError,
    NotFoundError,
    StaleHandleError,
)
from ..gfp import GFP_KERNEL, check_gfp
from .._slab_common import (
    OBJCG_POINTER_SIZE,
    STANDARD_CACHES,
    ObjStock,
    SlabinfoRow,
    SlabPinning,
    check_cache_geometry,
    check_cache_name,
)

if TYPE_CHECKING:
    from .hierarchy import Cgroup, Hierarchy, Task

__all__ = [
    "KmemCache",
    "SlabObject",
    "SlabinfoRow",
    "SlabPinning",
    "ObjStock",
    "STANDARD_CACHES",
    "SLAB_STATS",
    "calculate_order",
    "slab_size",
]

PAGE_SHIFT = 12
#: slub_max_order (PAGE_ALLOC_COSTLY_ORDER): the largest slab page order.
SLUB_MAX_ORDER = 3
#: The largest object (PAGE_SIZE << slub_max_order).
OBJECT_SIZE_MAX = PAGE_SIZE << SLUB_MAX_ORDER
#: SLUB's MIN_PARTIAL and MAX_PARTIAL.
MIN_PARTIAL = 5
MAX_PARTIAL = 10
MIN_PARTIAL_LIMIT = 1 << 20

#: The statistics (bytes) of slab memory, by SLAB_RECLAIM_ACCOUNT: index 0
#: reclaimable, 1 unreclaimable (NR_SLAB_RECLAIMABLE_B, NR_SLAB_UNRECLAIMABLE_B).
SLAB_STATS: tuple[str, str] = ("slab_reclaimable", "slab_unreclaimable")

_TAG_SHIFT = 47
_OBJ_SLOT_BITS = 12
_SLAB_INDEX_BITS = 24
_SLAB_INDEX_MAX = (1 << _SLAB_INDEX_BITS) - 1
_SLAB_GEN_SHIFT = _OBJ_SLOT_BITS + _SLAB_INDEX_BITS  # 36
_SLAB_GEN_MASK = (1 << 11) - 1
_CACHE_SLOT_BITS = 22
_CACHE_SLOT_MAX = (1 << _CACHE_SLOT_BITS) - 1
_CACHE_GEN_MASK = (1 << 24) - 1

# ---------------------------------------------------------------------- sizing


def _get_order_bytes(nbytes: int) -> int:
    """``get_order(nbytes)``: the smallest o with PAGE_SIZE << o >= nbytes."""
    o = 0
    while (PAGE_SIZE << o) < nbytes:
        o += 1
    return o


def slab_size(object_size: int, align: int) -> int:
    """SLUB's ``s->size`` without debugging: ALIGN(ALIGN(max(object_size, 8), 8), align)."""
    s = (max(object_size, 8) + 7) & ~7
    return (s + align - 1) & ~(align - 1)


def calculate_order(size: int, nr_cpus: int) -> int:
    """SLUB's ``calculate_order(size)`` (6.8+), slub_min_objects 0,
    slub_max_order 3, ``nr_cpus`` CPUs."""
    min_objects = 4 * (nr_cpus.bit_length() + 1)  # 4 * (fls(nr_cpus) + 1)
    max_objects = max(OBJECT_SIZE_MAX // size, 1)
    min_objects = min(min_objects, max_objects)
    min_order = _get_order_bytes(min_objects * size)
    for fraction in (16, 8, 4, 2):
        for o in range(min_order, SLUB_MAX_ORDER + 1):
            slab = PAGE_SIZE << o
            if slab % size <= slab // fraction:
                return o
    return _get_order_bytes(size)


def default_min_partial(size: int) -> int:
    """``set_min_partial()``: ilog2(size) / 2 within MIN_PARTIAL..MAX_PARTIAL."""
    return min(MAX_PARTIAL, max(MIN_PARTIAL, (size.bit_length() - 1) // 2))


def _nearest_online(cg: "Cgroup") -> "Cgroup":
    """Where an objcg points now (``obj_cgroup_memcg()``)."""
    while not cg._online:
        assert cg._parent is not None
        cg = cg._parent
    return cg


def _hmod() -> Any:
    """The hierarchy module (imported late: it imports this one)."""
    from . import hierarchy

    return hierarchy


# ---------------------------------------------------------------------- slabs

_PARTIAL, _FULL, _EMPTY = 0, 1, 2


class _Slab:
    """One slab page (1 << order pages): its slots' LIFO free list (top =
    last element) and its live objects by slot."""

    __slots__ = ("cache", "index", "gen", "free", "objs", "where", "charged")

    def __init__(self, cache: KmemCache, index: int, gen: int) -> None:
        self.cache = cache
        self.index = index
        self.gen = gen
        self.free: list[int] = list(range(cache._ops - 1, -1, -1))  # slot 0 on top
        self.objs: dict[int, SlabObject] = {}
        self.where = _PARTIAL
        self.charged = False  # clone mode: (1 << order) pages charged to the clone's cgroup

    @property
    def inuse(self) -> int:
        return self.cache._ops - len(self.free)


class _ObjStock:
    """A CPU's object stock (``struct obj_stock_pcp``)."""

    __slots__ = ("cached", "nr_bytes", "slab_b")

    def __init__(self) -> None:
        self.cached: Optional[Cgroup] = None
        self.nr_bytes = 0
        self.slab_b = [0, 0]  # nr_slab_reclaimable_b, nr_slab_unreclaimable_b


# ---------------------------------------------------------------------- KmemCache


class KmemCache:
    """A kmem cache (``struct kmem_cache``): a root cache made by
    :meth:`Hierarchy.kmem_cache_create`, or (clone mode) a cgroup's clone of
    one.  Once a clone is destroyed (or the hierarchy closed) everything but
    ``handle`` and ``alive`` raises :class:`StaleHandleError`."""

    _h: Hierarchy
    _st: SlabState
    _name: str
    _object_size: int
    _size: int
    _align: int
    _order: int
    _ops: int
    _account: bool
    _reclaimable: bool
    _min_partial: int
    _min_partial_now: int
    _root: Optional[KmemCache]
    _memcg: Optional[Cgroup]
    _origin: Optional[Cgroup]
    _dying: bool
    _alive: bool
    _clones: list[KmemCache]
    _slot: int
    _gen: int
    _partial: list[_Slab]
    _full: list[_Slab]
    _empty: list[_Slab]
    _active: int

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("caches are made by Hierarchy.kmem_cache_create()")

    @classmethod
    def _new(cls, st: SlabState, name: str, object_size: int, size: int, align: int,
             order: int, account: bool, reclaimable: bool, min_partial: int,
             root: Optional[KmemCache], memcg: Optional[Cgroup]) -> KmemCache:
        self = object.__new__(cls)
        self._h = st.h
        self._st = st
        self._name = name
        self._object_size = object_size
        self._size = size
        self._align = align
        self._order = order
        self._ops = (PAGE_SIZE << order) // size
        self._account = account
        self._reclaimable = reclaimable
        self._min_partial = min_partial
        self._min_partial_now = min_partial
        self._root = root
        self._memcg = memcg
        self._origin = memcg
        self._dying = False
        self._alive = True
        self._clones = []
        self._partial, self._full, self._empty = [], [], []
        self._active = 0
        self._slot = st._alloc_cache_slot()
        # The slot's generation: 1 at its first use, moved on when a cache leaves it.
        self._gen = st.cache_gens.get(self._slot, 1)
        st.cache_gens[self._slot] = self._gen
        st.cache_by_slot[self._slot] = self
        return self

    def _live(self) -> None:
        if not self._alive:
            if self._h._closed:
                raise StaleHandleError(f"cache {self._name!r}: its hierarchy is closed")
            raise StaleHandleError(f"cache {self._name!r} has been destroyed")

    # ------------------------------------------------------------------ identity

    @property
    def handle(self) -> int:
        """``slot | generation << 22 | 1 << 46 (the cache kind) | hierarchy tag << 47``."""
        return ((self._h._tag << _TAG_SHIFT) | (1 << 46) | (self._gen << _CACHE_SLOT_BITS)
                | self._slot)

    @property
    def alive(self) -> bool:
        """Not destroyed (a dying clone is alive until its last slab goes)."""
        return self._alive

    @property
    def name(self) -> str:
        """The name (a clone's: ``root(x:cgroup)``, see ``Config.slab_clone_name``)."""
        self._live()
        return self._name

    @property
    def object_size(self) -> int:
        self._live()
        return self._object_size

    @property
    def size(self) -> int:
        """The slot size (``s->size``)."""
        self._live()
        return self._size

    @property
    def align(self) -> int:
        self._live()
        return self._align

    @property
    def order(self) -> int:
        """A slab page is ``1 << order`` pages."""
        self._live()
        return self._order

    @property
    def objects_per_slab(self) -> int:
        self._live()
        return self._ops

    @property
    def account(self) -> bool:
        """SLAB_ACCOUNT."""
        self._live()
        return self._account

    @property
    def reclaimable(self) -> bool:
        """SLAB_RECLAIM_ACCOUNT: counted in slab_reclaimable, else slab_unreclaimable."""
        self._live()
        return self._reclaimable

    @property
    def min_partial(self) -> int:
        """Empty slab pages kept now (0 for a dying clone)."""
        self._live()
        return self._min_partial_now

    @property
    def root(self) -> Optional[KmemCache]:
        """A clone's root cache; None for a root cache."""
        self._live()
        return self._root

    @property
    def cgroup(self) -> Optional[Cgroup]:
        """A clone's cgroup now (its parent's after 5.3's reparenting); None
        for a root cache."""
        self._live()
        return self._memcg

    @property
    def dying(self) -> bool:
        """A clone of a removed cgroup (never a root cache)."""
        self._live()
        return self._dying

    @property
    def clones(self) -> tuple[KmemCache, ...]:
        """A root cache's clones not yet destroyed, in creation order."""
        self._live()
        return tuple(self._clones)

    @property
    def active_objects(self) -> int:
        self._live()
        return self._active

    @property
    def nr_slabs(self) -> int:
        self._live()
        return len(self._partial) + len(self._full) + len(self._empty)

    @property
    def total_objects(self) -> int:
        self._live()
        return self.nr_slabs * self._ops

    @property
    def lists(self) -> tuple[int, int, int]:
        """Slabs partial, full and empty (kept)."""
        self._live()
        return len(self._partial), len(self._full), len(self._empty)

    def __repr__(self) -> str:
        if not self._alive:
            return f"<model.KmemCache {self._name!r} (destroyed)>"
        return (f"<model.KmemCache {self._name!r} size={self._size} order={self._order} "
                f"objs={self._active}/{self.total_objects}>")

    # ------------------------------------------------------------------ allocation

    def _check_alloc(self, owner: object, cpu: int, flags: int, interrupt: bool
                     ) -> tuple[int, int, bool]:
        h = self._h
        hm = _hmod()
        if not isinstance(owner, (hm.Cgroup, hm.Task)):
            raise InvalidTypeError(f"owner must be a Cgroup or a Task, not {type(owner).__name__}")
        if owner._hierarchy is not h:
            raise InvalidError("owner belongs to another hierarchy")
        cpu = _check_cpu(cpu, h._config.ncpus)
        gfp = check_gfp(flags)
        irq = check_bool(interrupt, "interrupt")
        h._open()
        self._live()
        if self._root is not None:
            raise InvalidError(f"cache {self._name!r} is a clone: allocate from its root cache")
        self._st._owner_memcg(owner)  # StaleHandleError if it cannot allocate
        return cpu, gfp, irq

    def alloc(self, owner: Union[Cgroup, Task], cpu: int = 0, flags: int = GFP_KERNEL,
              interrupt: bool = False) -> SlabObject:
        """Allocate one object for ``owner`` (an online cgroup, or a live task:
        its cgroup, in its context).  :class:`ChargeError` (ENOMEM; ``over``:
        the cgroup over its limit) when refused, :class:`KilledError`
        (ESRCH) when the OOM killer killed the owning task meanwhile."""
        cpu, gfp, irq = self._check_alloc(owner, cpu, flags, interrupt)
        st = self._st
        try:
            return st._alloc(self, owner, cpu, gfp, irq)
        finally:
            self._h._free_check()

    def alloc_many(self, owner: Union[Cgroup, Task], n: int, cpu: int = 0,
                   flags: int = GFP_KERNEL, interrupt: bool = False) -> "array.array[int]":
        """Allocate up to ``n`` objects one at a time; stops at the first
        refusal (ChargeError, KilledError) and returns the handles made
        (fewer than ``n`` tells).  An owner gone meanwhile (a reclaim hook
        removed it) raises StaleHandleError, the objects made staying."""
        n = check_count(n, "n")
        cpu, gfp, irq = self._check_alloc(owner, cpu, flags, interrupt)
        st = self._st
        out: array.array[int] = array.array("q")
        try:
            for _ in range(n):
                try:
                    st._owner_memcg(owner)
                    obj = st._alloc(self, owner, cpu, gfp, irq)
                except (ChargeError, KilledError):
                    break
                out.append(obj._handle)
        finally:
            self._h._free_check()
        return out


# ---------------------------------------------------------------------- SlabObject


class SlabObject:
    """One object of a cache.  Made by :meth:`KmemCache.alloc`, never
    directly.  Once freed (through this object, or by its handle) ``alive``
    is False and everything but ``handle`` raises :class:`StaleHandleError`."""

    __slots__ = ("_st", "_slab", "_slot", "_handle", "_memcg", "_objcg", "_charged", "_alive")

    _st: SlabState
    _slab: _Slab
    _slot: int
    _handle: int
    _memcg: Cgroup
    _objcg: Optional[Cgroup]
    _charged: int
    _alive: bool

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("objects are made by KmemCache.alloc()")

    @property
    def handle(self) -> int:
        """``slot | slab index << 12 | slab generation << 36 | tag << 47``."""
        return self._handle

    @property
    def alive(self) -> bool:
        """Not freed (and its hierarchy not closed)."""
        return self._alive

    def _live(self) -> None:
        if not self._alive:
            if self._st.h._closed:
                raise StaleHandleError("slab object: its hierarchy is closed")
            raise StaleHandleError("slab object: freed")

    @property
    def cache(self) -> KmemCache:
        """The cache it lives in (a root cache or a clone)."""
        self._live()
        return self._slab.cache

    @property
    def cgroup(self) -> Cgroup:
        """The cgroup that allocated it; in objcg mode the cgroup whose objcg
        it charged (the root when not accounted)."""
        self._live()
        st = self._st
        if st.mode == "objcg":
            return self._objcg if self._objcg is not None else st.h._root
        return self._memcg

    @property
    def charged(self) -> int:
        """Bytes charged for it (objcg mode: slot size + 8, or 0)."""
        self._live()
        return self._charged

    def free(self, cpu: int = 0) -> None:
        """Free it (``kmem_cache_free()``)."""
        st = self._st
        cpu = _check_cpu(cpu, st.h._config.ncpus)
        st.h._open()
        self._live()
        try:
            st._free_obj(self, cpu)
        finally:
            st.h._free_check()

    def __repr__(self) -> str:
        if not self._alive:
            return "<model.SlabObject (freed)>"
        return f"<model.SlabObject {self._slab.cache._name!r} charged={self._charged}>"


# ---------------------------------------------------------------------- per-hierarchy state


class SlabState:
    """A hierarchy's slab state (``Hierarchy._slab``)."""

    def __init__(self, h: Hierarchy) -> None:
        cfg = h._config
        self.h = h
        self.mode = cfg.slab
        self.roots: list[KmemCache] = []  # creation order
        self.cache_by_slot: dict[int, KmemCache] = {}
        self.cache_gens: dict[int, int] = {}
        self.free_cache_slots: list[int] = []
        self.next_cache_slot = 1
        self.slabs: dict[int, _Slab] = {}
        self.slab_gens: dict[int, int] = {}
        self.free_slab_idx: list[int] = []
        self.next_slab_idx = 1
        # objcg mode
        self.stocks = [_ObjStock() for _ in range(cfg.ncpus)]
        self.nr_charged_bytes: dict[Cgroup, int] = {}
        self.refs: dict[Cgroup, int] = {}  # live objects charged + stocks caching
        # clone mode
        self.clone_of: dict[Cgroup, dict[KmemCache, KmemCache]] = {}  # online cgroups only
        self.clone_refs: dict[Cgroup, int] = {}  # clones whose cgroup it is now
        self.pending: deque[tuple[Cgroup, KmemCache, int]] = deque()
        self.pending_refs: dict[Cgroup, int] = {}
        self.alloc_seq = 0
        self.last_bypassed = False  # of the last _charge_pages
        self.kmemcg_ids: dict[Cgroup, int] = {}
        self.free_kmemcg_ids: list[int] = []
        self.next_kmemcg_id = 0

    # ------------------------------------------------------------------ ids

    def _alloc_cache_slot(self) -> int:
        if self.free_cache_slots:
            return heapq.heappop(self.free_cache_slots)
        if self.next_cache_slot > _CACHE_SLOT_MAX:
            raise NoSpaceError("4,194,303 caches exist")
        self.next_cache_slot += 1
        return self.next_cache_slot - 1

    def _free_cache_slot(self, c: KmemCache) -> None:
        del self.cache_by_slot[c._slot]
        gen = (c._gen + 1) & _CACHE_GEN_MASK
        self.cache_gens[c._slot] = gen or 1
        heapq.heappush(self.free_cache_slots, c._slot)

    def cgroup_created(self, cg: Cgroup) -> None:
        """A new (non-root) cgroup: its kmemcg_id if kmem is active at creation."""
        if cg._kmem_active:
            self.kmem_activated(cg)

    def kmem_activated(self, cg: Cgroup) -> None:
        """``memcg_activate_kmem()``/``memcg_online_kmem()``: the lowest free kmemcg_id."""
        if cg._parent is None or cg in self.kmemcg_ids:
            return
        if self.free_kmemcg_ids:
            kid = heapq.heappop(self.free_kmemcg_ids)
        else:
            kid = self.next_kmemcg_id
            self.next_kmemcg_id += 1
        self.kmemcg_ids[cg] = kid

    def release_kmemcg_id(self, cg: Cgroup) -> None:
        kid = self.kmemcg_ids.pop(cg, None)
        if kid is not None:
            heapq.heappush(self.free_kmemcg_ids, kid)

    # ------------------------------------------------------------------ lifetime hooks

    def holds(self, cg: Cgroup) -> bool:
        """Does slab state keep ``cg`` from being freed?  Its clones and
        queued clone creations (css references).  Its objcg's references do
        not: the objcg outlives the cgroup (a shell, ``_needs_shell``)."""
        return bool(self.clone_refs.get(cg) or self.pending_refs.get(cg))

    def offline(self, cg: Cgroup) -> None:
        """``memcg_offline_kmem()`` (run by Cgroup.remove(), before its
        drain_all_stock; uncharges on CPU 0)."""
        if self.mode == "objcg":
            if not self.refs.get(cg):
                self._objcg_release(cg)
        elif self.mode == "clone":
            self._clone_offline(cg)

    def close(self) -> None:
        for s in self.slabs.values():
            for obj in s.objs.values():
                obj._alive = False
        for c in list(self.cache_by_slot.values()):
            c._alive = False
        self.slabs.clear()
        self.cache_by_slot.clear()
        self.pending.clear()
        self.pending_refs.clear()
        self.refs.clear()
        self.clone_refs.clear()
        self.clone_of.clear()
        for stock in self.stocks:
            stock.cached, stock.nr_bytes, stock.slab_b = None, 0, [0, 0]

    # ------------------------------------------------------------------ owners

    def _owner_memcg(self, owner: Union[Cgroup, Task]) -> Cgroup:
        """The owner's cgroup; StaleHandleError unless it can allocate."""
        hm = _hmod()
        if isinstance(owner, hm.Task):
            if not owner.alive:
                raise StaleHandleError("alloc: the task has exited")
            return cast("Cgroup", owner._memcg)
        cg = cast("Cgroup", owner)
        cg._live()
        if not cg._online:
            raise StaleHandleError(f"alloc: cgroup {cg._path!r} is removed")
        return cg

    def _owner_of(self, obj: SlabObject) -> Cgroup:
        """Whose object it is for pinning: a clone's objects are the clone's
        cgroup's (now); else ``SlabObject.cgroup``."""
        cache = obj._slab.cache
        if cache._root is not None:
            assert cache._memcg is not None
            return cache._memcg
        if self.mode == "objcg":
            return obj._objcg if obj._objcg is not None else self.h._root
        return obj._memcg

    # ------------------------------------------------------------------ kernel pages

    def _charge_pages(self, memcg: Cgroup, task: Optional[Task], n: int, cpu: int,
                      gfp: int) -> tuple[int, Optional[Cgroup]]:
        """Charge ``n`` kernel pages to ``memcg`` as ``Task.kmem_alloc`` (the
        task the charging context) or ``Cgroup.try_charge(kmem=True)``
        does: (0, None), (-ENOMEM, the cgroup over its limit) or (-ESRCH,
        None): the OOM killer killed the task meanwhile, and what was
        charged went back."""
        h = self.h
        ctx = _hmod()._ChargeCtx(cpu, task)
        memcg._pins += 1
        try:
            over = h._charge(memcg, n, cpu, gfp, True, ctx)
        except BaseException:
            if ctx.charged:  # memory.high's hook failed after it: nothing stays charged
                h._uncharge_call(memcg, n, cpu, True)
            raise
        finally:
            memcg._pins -= 1
        self.last_bypassed = ctx.bypassed  # 3.8 charged the root instead: nothing counted
        if task is not None:
            task._throttle_jiffies += ctx.throttle_jiffies
            if not task._alive:
                if over is None:
                    h._uncharge_call(memcg, n, cpu, True)
                return -errno.ESRCH, None
        return (0, None) if over is None else (-errno.ENOMEM, over)

    @staticmethod
    def _raise(ret: int, over: Optional[Cgroup]) -> None:
        if ret == -errno.ESRCH:
            raise KilledError("alloc: the OOM killer killed the task")
        err = ChargeError("alloc: the charge was refused")
        err.over = over  # type: ignore[attr-defined]
        raise err

    def _uncharge_direct(self, x: Cgroup, pages: int) -> None:
        """Kernel pages uncharged through objcg ``x`` at once, never through
        the page stock (6.18 ``drain_obj_stock()``, ``obj_cgroup_release()``)."""
        h = self.h
        if not pages or not x._kmem_active:
            return
        to = _nearest_online(x)
        to._vmstats["kernel"] -= pages
        x._kmem_own -= pages
        if h._config.version == 1:
            _hmod()._uncharge(to._counters["kmem"], pages, None)
        h._memcg_uncharge(to, pages, None)

    # ------------------------------------------------------------------ slab policy

    def _new_slab(self, cache: KmemCache) -> _Slab:
        if self.free_slab_idx:
            idx = heapq.heappop(self.free_slab_idx)
        elif self.next_slab_idx > _SLAB_INDEX_MAX:
            raise NoSpaceError("16,777,215 slab pages exist")
        else:
            idx = self.next_slab_idx
            self.next_slab_idx += 1
        gen = self.slab_gens.get(idx, 1)
        self.slab_gens[idx] = gen
        s = _Slab(cache, idx, gen)
        self.slabs[idx] = s
        return s

    def _take(self, cache: KmemCache, task: Optional[Task], cpu: int, gfp: int) -> tuple[_Slab, int]:
        """Take a free slot of ``cache``: the head of partial, else the head
        of empty, else a new slab page (a clone's charged first)."""
        if cache._partial:
            s = cache._partial[0]
        elif cache._empty:
            s = cache._empty.pop(0)
            s.where = _PARTIAL
            cache._partial.insert(0, s)
        else:
            if cache._root is not None:
                self._charge_clone_slab(cache, task, cpu, gfp)
                try:
                    s = self._new_slab(cache)
                except BaseException:
                    self._uncharge_clone_pages(cache, cpu)
                    raise
                s.charged = not self.last_bypassed
            else:
                s = self._new_slab(cache)
            cache._partial.insert(0, s)
        slot = s.free.pop()
        if not s.free:
            cache._partial.remove(s)
            s.where = _FULL
            cache._full.insert(0, s)
        return s, slot

    def _charge_clone_slab(self, cache: KmemCache, task: Optional[Task], cpu: int,
                           gfp: int) -> None:
        """A clone's new slab page: (1 << order) kernel pages charged to its
        cgroup, then its slab statistic.  Raises when refused; if the
        clone's cgroup went offline during the charge (a reclaim hook
        removed it), the pages go back and StaleHandleError is raised."""
        memcg = cache._memcg
        assert memcg is not None
        n = 1 << cache._order
        ret, over = self._charge_pages(memcg, task, n, cpu, gfp)
        if ret:
            self._raise(ret, over)
        if not cache._alive or cache._dying or cache._memcg is not memcg:
            self.h._uncharge_call(memcg, n, cpu, True)
            raise StaleHandleError("alloc: the cgroup was removed during the charge")
        memcg._vmstats[SLAB_STATS[0 if cache._reclaimable else 1]] += PAGE_SIZE << cache._order

    def _uncharge_clone_pages(self, cache: KmemCache, cpu: int) -> None:
        """A clone's slab page freed: the statistic, then (1 << order) kernel
        pages uncharged as ``Cgroup.uncharge(kmem=True)`` does, from the
        clone's cgroup now."""
        h = self.h
        memcg = cache._memcg
        assert memcg is not None
        n = 1 << cache._order
        memcg._vmstats[SLAB_STATS[0 if cache._reclaimable else 1]] -= PAGE_SIZE << cache._order
        # Hierarchy._uncharge(memcg, n, cpu, kmem=True) but for the root too
        # (5.3+ reparenting may hand a clone to it): its counters hold the
        # pages its children charged; the root never goes into the stock.
        memcg._vmstats["kernel"] -= n
        memcg._kmem_own -= n
        if h._config.version == 1:
            _hmod()._uncharge(memcg._counters["kmem"], n, None)
        if h._config.kmem_uncharge_via_stock and memcg is not h._root:
            h._refill_stock(memcg, n, cpu)
        else:
            h._memcg_uncharge(memcg, n, None)

    def _put_slot(self, s: _Slab, slot: int, cpu: int) -> None:
        """The free policy: push the slot; a full slab goes to the tail of
        partial; an empty one is discarded when the cache keeps enough
        (``n->nr_partial >= s->min_partial``), else kept at the head of empty."""
        cache = s.cache
        was_full = s.where == _FULL
        s.free.append(slot)
        inuse = s.inuse
        if was_full:
            cache._full.remove(s)
            if inuse:
                s.where = _PARTIAL
                cache._partial.append(s)
                return
        elif inuse:
            return
        # now empty
        nr = len(cache._partial) + len(cache._empty)  # includes s iff it is on partial
        if not was_full:
            cache._partial.remove(s)
        if nr >= cache._min_partial_now:
            self._discard(s, cpu)
        else:
            s.where = _EMPTY
            cache._empty.insert(0, s)

    def _discard(self, s: _Slab, cpu: int) -> None:
        """``discard_slab()``: s is on no list any more."""
        cache = s.cache
        del self.slabs[s.index]
        gen = (s.gen + 1) & _SLAB_GEN_MASK
        self.slab_gens[s.index] = gen or 1
        heapq.heappush(self.free_slab_idx, s.index)
        if s.charged:
            self._uncharge_clone_pages(cache, cpu)
        if cache._dying and not (cache._partial or cache._full or cache._empty):
            self._destroy_clone(cache)

    # ------------------------------------------------------------------ alloc / free

    def _alloc(self, root: KmemCache, owner: Union[Cgroup, Task], cpu: int, gfp: int,
               irq: bool) -> SlabObject:
        hm = _hmod()
        h = self.h
        task: Optional[Task] = owner if isinstance(owner, hm.Task) else None
        memcg = self._owner_memcg(owner)
        self.alloc_seq += 1
        delay = h._config.slab_work_delay
        if delay > 0 and self.pending and self.pending[0][2] <= self.alloc_seq:
            self._run_pending()
        accounted = (self.mode != "none"
                     and h._kmem_accounted(memcg, 1, gfp, irq, root._account))
        cache = root
        if self.mode == "clone" and accounted:
            clone = self.clone_of.get(memcg, {}).get(root)
            if clone is not None:
                cache = clone
            else:
                self._queue(memcg, root)
        memcg._pins += 1
        try:
            s, slot = self._take(cache, task, cpu, gfp)
            charged = 0
            if self.mode == "objcg" and accounted:
                size = root._size + OBJCG_POINTER_SIZE
                try:
                    ret, over = self._obj_charge_account(memcg, task, gfp, size,
                                                         0 if root._reclaimable else 1, cpu)
                except BaseException:
                    self._put_slot(s, slot, cpu)
                    raise
                if ret:
                    self._put_slot(s, slot, cpu)
                    self._raise(ret, over)
                self.refs[memcg] = self.refs.get(memcg, 0) + 1
                charged = size
        finally:
            memcg._pins -= 1
        obj = object.__new__(SlabObject)
        obj._st = self
        obj._slab = s
        obj._slot = slot
        obj._handle = ((h._tag << _TAG_SHIFT) | (s.gen << _SLAB_GEN_SHIFT)
                       | (s.index << _OBJ_SLOT_BITS) | slot)
        obj._memcg = memcg
        obj._objcg = memcg if charged else None
        obj._charged = charged
        obj._alive = True
        s.objs[slot] = obj
        s.cache._active += 1
        return obj

    def _free_obj(self, obj: SlabObject, cpu: int) -> None:
        """``kmem_cache_free()``: the memcg free hook, then the slot."""
        s = obj._slab
        x = obj._objcg
        if x is not None:
            idx = 0 if s.cache._reclaimable else 1
            self._refill_obj_stock(x, obj._charged, True, -obj._charged, idx, cpu)
            self._objcg_put(x, cpu)
        obj._alive = False
        del s.objs[obj._slot]
        s.cache._active -= 1
        self._put_slot(s, obj._slot, cpu)

    def lookup(self, handle: int) -> SlabObject:
        """The live object a handle names (InvalidError: not this
        hierarchy's; StaleHandleError: nothing lives there)."""
        if handle <= 0 or handle >> _TAG_SHIFT != self.h._tag:
            raise InvalidError(f"{handle:#x} is not an object handle of this hierarchy")
        idx = (handle >> _OBJ_SLOT_BITS) & _SLAB_INDEX_MAX
        gen = (handle >> _SLAB_GEN_SHIFT) & _SLAB_GEN_MASK
        s = self.slabs.get(idx)
        obj = s.objs.get(handle & ((1 << _OBJ_SLOT_BITS) - 1)) if s is not None and s.gen == gen else None
        if obj is None:
            raise StaleHandleError(f"object {handle:#x} is not allocated")
        return obj

    # ------------------------------------------------------------------ objcg mode

    def _obj_charge_account(self, x: Cgroup, task: Optional[Task], gfp: int, size: int,
                            idx: int, cpu: int) -> tuple[int, Optional[Cgroup]]:
        """``obj_cgroup_charge_account()``."""
        stock = self.stocks[cpu]
        if stock.cached is x and stock.nr_bytes >= size:  # consume_obj_stock()
            stock.nr_bytes -= size
            self._account(stock, size, idx)
            return 0, None
        nr_pages = -(-size // PAGE_SIZE)
        leftover = (PAGE_SIZE - size % PAGE_SIZE) % PAGE_SIZE
        ret, over = self._charge_pages(x, task, nr_pages, cpu, gfp)
        if ret:
            return ret, over
        self._refill_obj_stock(x, leftover, False, size, idx, cpu)
        return 0, None

    def _refill_obj_stock(self, x: Cgroup, nr_bytes: int, allow_uncharge: bool, nr_acct: int,
                          idx: int, cpu: int) -> None:
        """``refill_obj_stock()`` (6.18)."""
        stock = self.stocks[cpu]
        if stock.cached is not x:
            self._drain_obj_stock(cpu)
            stock.cached = x
            self.refs[x] = self.refs.get(x, 0) + 1
            stock.nr_bytes = self.nr_charged_bytes.pop(x, 0)
            allow_uncharge = True
        stock.nr_bytes += nr_bytes
        self._account(stock, nr_acct, idx)
        if allow_uncharge and stock.nr_bytes > PAGE_SIZE:
            pages = stock.nr_bytes >> PAGE_SHIFT
            stock.nr_bytes &= PAGE_SIZE - 1
            self.h._uncharge(x, pages, cpu, True, None)  # obj_cgroup_uncharge_pages()

    def _account(self, stock: _ObjStock, nr: int, idx: int) -> None:
        """``__account_obj_stock()``: the first delta is always cached; later
        ones flush when |sum| > PAGE_SIZE, to where the objcg points now."""
        if nr == 0:
            return
        b = stock.slab_b[idx]
        if b == 0:
            stock.slab_b[idx] = nr
            return
        b += nr
        if abs(b) > PAGE_SIZE:
            assert stock.cached is not None
            _nearest_online(stock.cached)._vmstats[SLAB_STATS[idx]] += b
            stock.slab_b[idx] = 0
        else:
            stock.slab_b[idx] = b

    def _drain_obj_stock(self, cpu: int) -> None:
        """``drain_obj_stock()`` (6.18): whole pages uncharged directly, the
        rest to the objcg's nr_charged_bytes, the cached statistics flushed."""
        stock = self.stocks[cpu]
        old = stock.cached
        if old is None:
            return
        if stock.nr_bytes:
            pages = stock.nr_bytes >> PAGE_SHIFT
            rem = stock.nr_bytes & (PAGE_SIZE - 1)
            if pages:
                self._uncharge_direct(old, pages)
            if rem:
                self.nr_charged_bytes[old] = self.nr_charged_bytes.get(old, 0) + rem
            stock.nr_bytes = 0
        for i in (0, 1):
            if stock.slab_b[i]:
                _nearest_online(old)._vmstats[SLAB_STATS[i]] += stock.slab_b[i]
                stock.slab_b[i] = 0
        stock.cached = None
        self._objcg_put(old, cpu)

    def _objcg_put(self, x: Cgroup, cpu: int) -> None:
        n = self.refs[x] - 1
        if n:
            self.refs[x] = n
            return
        del self.refs[x]
        if not x._online:
            self._objcg_release(x)

    def _objcg_release(self, x: Cgroup) -> None:
        """``obj_cgroup_release()``: the whole pages of nr_charged_bytes
        uncharged directly; a remainder (never, by construction) is kept."""
        nb = self.nr_charged_bytes.pop(x, 0)
        if nb & (PAGE_SIZE - 1):
            self.nr_charged_bytes[x] = nb & (PAGE_SIZE - 1)
        self._uncharge_direct(x, nb >> PAGE_SHIFT)

    def drain_obj_stock(self, cpu: int) -> None:
        if self.mode == "objcg":
            self._drain_obj_stock(cpu)

    def obj_stock_needs_drain(self, cpu: int, root: Cgroup) -> bool:
        """``obj_stock_flush_required()``: the cached objcg points into root's subtree."""
        x = self.stocks[cpu].cached
        return x is not None and _nearest_online(x)._is_descendant_of(root)

    # ------------------------------------------------------------------ clone mode

    def _queue(self, memcg: Cgroup, root: KmemCache) -> None:
        """``memcg_schedule_kmem_cache_create()``, unless already queued."""
        for m, r, _ in self.pending:
            if m is memcg and r is root:
                return
        self.pending.append((memcg, root, self.alloc_seq + self.h._config.slab_work_delay))
        self.pending_refs[memcg] = self.pending_refs.get(memcg, 0) + 1

    def _run_pending(self) -> int:
        made = 0
        while self.pending:
            memcg, root, _ = self.pending.popleft()
            n = self.pending_refs[memcg] - 1
            if n:
                self.pending_refs[memcg] = n
            else:
                del self.pending_refs[memcg]
            if not memcg._online or root in self.clone_of.get(memcg, {}):
                continue
            self._create_clone(root, memcg)
            made += 1
        return made

    def _clone_name(self, root: KmemCache, memcg: Cgroup) -> str:
        fmt = self.h._config.slab_clone_name
        if fmt == "kmemcg_id":
            x = self.kmemcg_ids.get(memcg, -1)
        elif fmt == "css_id":
            x = memcg._id
        else:
            x = self.h._serial_of[memcg] + 1
        return f"{root._name}({x}:{memcg._name})"

    def _create_clone(self, root: KmemCache, memcg: Cgroup) -> KmemCache:
        c = KmemCache._new(self, self._clone_name(root, memcg), root._object_size, root._size,
                           root._align, root._order, root._account, root._reclaimable,
                           root._min_partial, root, memcg)
        root._clones.append(c)
        self.clone_of.setdefault(memcg, {})[root] = c
        self.clone_refs[memcg] = self.clone_refs.get(memcg, 0) + 1
        return c

    def _drop_clone_ref(self, memcg: Cgroup) -> None:
        n = self.clone_refs[memcg] - 1
        if n:
            self.clone_refs[memcg] = n
        else:
            del self.clone_refs[memcg]

    def _destroy_clone(self, c: KmemCache) -> None:
        assert c._root is not None and c._memcg is not None
        c._alive = False
        c._root._clones.remove(c)
        self._drop_clone_ref(c._memcg)
        self._free_cache_slot(c)

    def _clone_offline(self, cg: Cgroup) -> None:
        """Offline in clone mode: every clone whose cgroup is ``cg`` becomes
        dying (no kept empty slabs: they are freed now); a clone left with
        no slab is destroyed; with ``slab_reparent`` the others go to the
        parent, and ``cg``'s own counters forget their pages."""
        self.clone_of.pop(cg, None)
        mine = [c for r in self.roots for c in r._clones if c._memcg is cg]
        for c in mine:
            c._dying = True
            c._min_partial_now = 0
            while c._empty:
                s = c._empty.pop(0)
                self._discard(s, 0)
            if not c._alive:
                continue
            if not (c._partial or c._full):
                self._destroy_clone(c)
                continue
            if self.h._config.slab_reparent:
                self._reparent_clone(c, cg)

    def _reparent_clone(self, c: KmemCache, cg: Cgroup) -> None:
        """5.3-5.8 ``memcg_deactivate_kmem_caches()``: the clone's cgroup
        becomes the parent.  ``cg``'s own counters let go of the clone's
        pages (its ancestors keep them); its statistics of them go to the
        parent with them."""
        hm = _hmod()
        parent = cg._parent
        assert parent is not None
        pages = (len(c._partial) + len(c._full)) << c._order
        for cname in ("memory", "memsw", "kmem"):
            if cname in cg._counters and (cname != "memsw" or self.h._config.memsw):
                if cname == "kmem" and self.h._config.version != 1:
                    continue
                hm._cancel(cg._counters[cname], pages)
        key = SLAB_STATS[0 if c._reclaimable else 1]
        for k, v in (("kernel", pages), (key, pages * PAGE_SIZE)):
            cg._vmstats[k] -= v
            parent._vmstats[k] += v
        cg._kmem_own -= pages
        parent._kmem_own += pages
        c._memcg = parent
        self._drop_clone_ref(cg)
        self.clone_refs[parent] = self.clone_refs.get(parent, 0) + 1

    # ------------------------------------------------------------------ reports

    def live_caches(self) -> list[KmemCache]:
        out: list[KmemCache] = []
        for r in self.roots:
            out.append(r)
            out.extend(r._clones)
        return out

    def pinning_all(self) -> SlabPinning:
        mixed = objects = pages = kept = 0
        for s in self.slabs.values():
            owners = {self._owner_of(o) for o in s.objs.values()}
            objects += len(s.objs)
            if s.objs:
                pages += 1 << s.cache._order
            if len(owners) > 1:
                mixed += 1 << s.cache._order
        for c in self.live_caches():
            kept += len(c._empty) << c._order
        return SlabPinning(mixed, kept, objects, pages)

    def objcg_info(self, cg: Cgroup) -> tuple[int, int]:
        """``Cgroup.objcg``: (nr_charged_bytes, references)."""
        return self.nr_charged_bytes.get(cg, 0), self.refs.get(cg, 0)

    def cgroup_slabinfo(self, cg: Cgroup) -> str:
        """v1 memory.kmem.slabinfo (``memcg_slab_show()``)."""
        if self.mode != "clone":
            return ""
        mine = [c for r in self.roots for c in r._clones if c._memcg is cg]
        if not mine:
            return ""
        lines = [
            "slabinfo - version: 2.1\n",
            "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
            " : tunables <limit> <batchcount> <sharedfactor>"
            " : slabdata <active_slabs> <num_slabs> <sharedavail>\n",
        ]
        for c in mine:
            nr = c.nr_slabs
            lines.append(
                f"{c._name:<17} {c._active:6d} {nr * c._ops:6d} {c._size:6d} {c._ops:4d} "
                f"{1 << c._order:4d} : tunables {0:4d} {0:4d} {0:4d} : slabdata "
                f"{nr:6d} {nr:6d} {0:6d}\n")
        return "".join(lines)


# ---------------------------------------------------------------------- Hierarchy methods


class SlabHierarchyMixin:
    """The slab half of :class:`Hierarchy` (kept here; hierarchy.py is big)."""

    _slab: SlabState

    def _hier(self) -> Hierarchy:
        return cast("Hierarchy", self)

    def kmem_cache_create(self, name: str, object_size: int, align: int = 8,
                          account: bool = True, order: Optional[int] = None,
                          reclaimable: bool = False,
                          min_partial: Optional[int] = None) -> KmemCache:
        """A root cache (``kmem_cache_create()``; SLUB sizing without
        debugging).  Bad arguments raise :class:`InvalidError` (or
        :class:`InvalidTypeError` for a non-integer)."""
        h = self._hier()
        nm = check_cache_name(name)
        osize = check_int(object_size, "object_size")
        al = check_int(align, "align")
        check_cache_geometry(osize, al)
        acc = check_bool(account, "account")
        rec = check_bool(reclaimable, "reclaimable")
        size = slab_size(osize, al)
        if order is None:
            o = calculate_order(size, h._config.ncpus)
        else:
            o = check_int(order, "order")
            if not 0 <= o <= SLUB_MAX_ORDER:
                raise InvalidError(f"order must be in 0..{SLUB_MAX_ORDER}, got {o}")
            if size > PAGE_SIZE << o:
                raise InvalidError(f"a {size}-byte object does not fit an order-{o} slab")
        if min_partial is None:
            mp = default_min_partial(size)
        else:
            mp = check_int(min_partial, "min_partial")
            if not 0 <= mp <= MIN_PARTIAL_LIMIT:
                raise InvalidError(f"min_partial must be in 0..{MIN_PARTIAL_LIMIT}, got {mp}")
        h._open()
        st = self._slab
        c = KmemCache._new(st, nm, osize, size, al, o, acc, rec, mp, None, None)
        st.roots.append(c)
        return c

    def standard_cache(self, name: str) -> KmemCache:
        """A root cache made from ``STANDARD_CACHES[name]`` (NotFoundError if none)."""
        if not isinstance(name, str):
            raise InvalidTypeError(f"name must be a str, not {type(name).__name__}")
        kw = STANDARD_CACHES.get(name)
        if kw is None:
            raise NotFoundError(f"no standard cache {name!r}")
        return self.kmem_cache_create(name, **kw)

    def run_pending_work(self) -> int:
        """Clone mode: run the queued clone creations now; the clones made."""
        h = self._hier()
        h._open()
        try:
            return self._slab._run_pending()
        finally:
            h._free_check()

    @property
    def pending_work(self) -> int:
        """Clone creations queued."""
        self._hier()._open()
        return len(self._slab.pending)

    def free_many(self, handles: Any, cpu: int = 0) -> None:
        """Free objects by handle (a list of ints, or a buffer of int64:
        ``array("q")``, numpy).  Every handle is checked
        first (another hierarchy's: InvalidError; stale, never allocated,
        freed or twice in the batch: StaleHandleError): then nothing is freed."""
        h = self._hier()
        cpu = _check_cpu(cpu, h._config.ncpus)
        if isinstance(handles, (list, tuple)):
            raw = [check_int(x, "handle") for x in handles]
        else:
            try:
                mv = memoryview(handles).cast("B")
            except TypeError:
                raise InvalidTypeError("free_many takes a buffer of int64 handles (array('q'), "
                                       "numpy int64) or a list of ints") from None
            if mv.nbytes % 8:
                raise InvalidError("free_many: the buffer is not a whole number of int64 handles")
            raw = list(mv.cast("q"))
        h._open()
        st = self._slab
        objs: list[SlabObject] = []
        seen: set[int] = set()
        for x in raw:
            obj = st.lookup(x)
            if id(obj) in seen:
                raise StaleHandleError(f"object {obj._handle:#x} is twice in the batch")
            seen.add(id(obj))
            objs.append(obj)
        try:
            for obj in objs:
                st._free_obj(obj, cpu)
        finally:
            h._free_check()

    def slabinfo(self) -> list[SlabinfoRow]:
        """One row per cache: root caches in creation order, each followed by
        its clones (dying ones included)."""
        self._hier()._open()
        rows = []
        for c in self._slab.live_caches():
            nr = len(c._partial) + len(c._full) + len(c._empty)
            rows.append(SlabinfoRow(c._name, c._memcg, c._active, nr * c._ops, c._size, c._ops,
                                    1 << c._order, nr, c._dying))
        return rows

    def slab_pinning(self, cgroup: Optional[Cgroup] = None) -> SlabPinning:
        """Slab pages ``cgroup``'s live objects share with other cgroups',
        and the pages that would stay if it freed them all (shared pages +
        clone mode: its clones' kept empty slabs).  None: the whole
        hierarchy (pages holding live objects of two cgroups or more, every
        kept empty slab page, every live object, pages holding one)."""
        h = self._hier()
        if cgroup is None:
            h._open()
            return self._slab.pinning_all()
        if not isinstance(cgroup, _hmod().Cgroup):
            raise InvalidTypeError(f"cgroup must be a Cgroup, not {type(cgroup).__name__}")
        if cgroup._hierarchy is not h:
            raise InvalidError("a cgroup of another hierarchy")
        h._open()
        cgroup._live()
        st = self._slab
        shared = objects = pages = 0
        for s in st.slabs.values():
            owners = [st._owner_of(o) for o in s.objs.values()]
            mine = sum(1 for o in owners if o is cgroup)
            if mine:
                objects += mine
                pages += 1 << s.cache._order
                if mine < len(owners):
                    shared += 1 << s.cache._order
        kept = 0
        for r in st.roots:
            for c in r._clones:
                if c._memcg is cgroup:
                    kept += len(c._empty) << c._order
        return SlabPinning(shared, shared + kept, objects, pages)

    def slab_utilisation(self) -> dict[str, tuple[int, int]]:
        """{root cache name (its clones included; equal names summed) or
        "total": (live bytes = objects * object_size, slab bytes)}."""
        self._hier()._open()
        out: dict[str, tuple[int, int]] = {}
        tl = tb = 0
        for r in self._slab.roots:
            live = slab = 0
            for c in (r, *r._clones):
                live += c._active * c._object_size
                slab += (len(c._partial) + len(c._full) + len(c._empty)) * (PAGE_SIZE << c._order)
            a, b = out.get(r._name, (0, 0))
            out[r._name] = (a + live, b + slab)
            tl, tb = tl + live, tb + slab
        out["total"] = (tl, tb)
        return out

    def kmem_caches(self) -> list[KmemCache]:
        """Every live cache: root caches in creation order, each followed by its clones."""
        self._hier()._open()
        return self._slab.live_caches()

    def obj_stock(self, cpu: int) -> ObjStock:
        """A CPU's object stock (objcg mode): the objcg cached, its bytes,
        and the slab statistic deltas it has not flushed yet."""
        h = self._hier()
        cpu = _check_cpu(cpu, h._config.ncpus)
        h._open()
        s = self._slab.stocks[cpu]
        return ObjStock(s.cached, s.nr_bytes, s.slab_b[0], s.slab_b[1])
