"""The cgroup tree and the memcg charge path, backed by the C core.

:class:`Hierarchy` owns a tree of :class:`Cgroup` objects that live in the C
core (``csrc/memcg.c``, ``csrc/stock.c``); the Python objects hold handles
(id and generation), never pointers.  Return codes become exceptions in
:func:`pymemcg.errors.raise_errno`; the reclaim hook is the one place where
C calls back into Python, and it is never on a charge's fast path.
"""

from __future__ import annotations

import errno as _errno
import struct as _struct
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, NoReturn, Optional, Tuple

from ._common import PAGE_SIZE, PageCounterState, check_bool, check_count, check_int, check_name
from ._common import check_cpu as _check_cpu
from ._core import ffi, lib
from ._limits import Limits
from ._views import CounterView
from .config import Config
from .errors import (
    BusyError,
    ChargeError,
    ForkError,
    KilledError,
    InvalidError,
    InvalidTypeError,
    NotFoundError,
    StaleHandleError,
    UnderflowError,
    raise_errno,
)
from . import replay as _replay
from . import slab as _slab
from .slab import KmemCache, ObjStock, SlabinfoRow, SlabPinning
from .gfp import GFP_KERNEL, GFP_KERNEL_ACCOUNT, check_gfp

if TYPE_CHECKING:
    from . import owned_cpu as _owned_cpu
    from . import replayer as _replayer

__all__ = ["Hierarchy", "Cgroup", "Task", "Socket", "EVENTS", "STATS", "ReclaimHook"]

#: memory.events keys, in the kernel's order.
EVENTS = ("low", "high", "max", "oom", "oom_kill", "oom_group_kill")
#: memory.stat keys that pymemcg keeps (bytes), in memory_stats[] order.
STATS = ("anon", "kernel", "kernel_stack", "pagetables", "sock", "slab_reclaimable",
         "slab_unreclaimable")
#: Of those, the ones the core keeps in bytes already (the rest in pages).
_BYTE_STATS = frozenset(("slab_reclaimable", "slab_unreclaimable"))

ReclaimHook = Callable[["Cgroup", int], int]

_COUNTER_INDEX = {"memory": 0, "memsw": 1, "swap": 1, "kmem": 2, "tcpmem": 3}
#: Levels the 16 bits per counter of pmc_cgroup_uncharge's mask name one by one.
_MASK_LEVELS = 15
_try_charge = lib.pmc_cgroup_try_charge
_uncharge = lib.pmc_cgroup_uncharge

# Live hierarchies by C handle, for the reclaim callback.
_HIERARCHIES: "weakref.WeakValueDictionary[int, Hierarchy]" = weakref.WeakValueDictionary()
# An exception raised by a reclaim hook, waiting for its C call to return.
_pending = threading.local()


def _config_struct(cfg: Config) -> Any:
    return ffi.new("struct pmc_config *", {
        "version": cfg.version,
        "ncpus": cfg.ncpus,
        "charge_batch": cfg.charge_batch,
        "reclaim_retries": cfg.reclaim_retries,
        "stock_slots": cfg.stock_slots,
        "stock_single_page": cfg.stock_single_page,
        "stock_refill_cap": cfg.stock_refill_cap,
        "memsw": cfg.memsw,
        "kmem_on_limit": cfg.kmem_activation == "on_limit",
        "kmem_limit": ("enforced", "ignored", "absent", "eopnotsupp").index(cfg.kmem_limit),
        "kmem_first": cfg.kmem_first,
        "kmem_uncharge_via_stock": cfg.kmem_uncharge_via_stock,
        "failcnt": ("none", "memory", "all").index(cfg.failcnt),
        "allow_spinning_batch": cfg.allow_spinning_batch,
        "memory_localevents": cfg.memory_localevents,
        "hz": cfg.hz,
        "id_at_offline": cfg.id_at_offline,
        "id_errno": _errno.EBUSY if cfg.id_errno == "EBUSY" else _errno.ENOSPC,
        "charge_loop": 1 if cfg.charge_loop == "3.8" else 0,
        "objcg": cfg.objcg,
        "reparent_user_pages": cfg.reparent_user_pages,
        "kernel_stack_pages": cfg.kernel_stack_pages,
        "stack_per_page": cfg.stack_per_page,
        "pagetables_accounted": cfg.pagetables_accounted,
        "tcpmem_counter": 1 if cfg.tcpmem_counter == "res_counter" else 0,
        "kmem_accounting": 1 if cfg.kmem_accounting == "blacklist" else 0,
        "slab_mode": ("auto", "clone", "objcg", "none").index(cfg.slab),
        "slab_reparent": cfg.slab_reparent,
        "slab_work_delay": cfg.slab_work_delay,
        "slab_clone_name": ("kmemcg_id", "css_id", "serial").index(cfg.slab_clone_name),
        "seed": cfg.seed,
    })


def _reclaim_error(exc_type: Any, exc: BaseException, tb: Any) -> int:
    _pending.exc = exc.with_traceback(tb)
    return -_errno.ECANCELED


@ffi.def_extern(onerror=_reclaim_error)
def pmc_py_reclaim(hierarchy: int, cgroup: int, nr_pages: int) -> int:
    """The C core's reclaim callback: dispatch to the hierarchy's hook."""
    h = _HIERARCHIES.get(hierarchy)
    hook = h._reclaim if h is not None else None
    if h is None or hook is None:
        return 0
    freed = hook(h._cgroup(cgroup), nr_pages)
    if freed.__class__ is not int:
        if isinstance(freed, bool) or not hasattr(freed, "__index__"):
            raise InvalidTypeError(
                f"a reclaim hook returns the pages it freed (int), not {type(freed).__name__}")
        freed = freed.__index__()
    if freed < 0:
        raise InvalidError(f"a reclaim hook returned {freed} pages")
    return min(freed, 2**62)


lib.pmc_set_reclaim_callback(lib.pmc_py_reclaim)


def _check(r: int, what: str) -> int:
    """Raise for a negative return code; the pending hook exception first."""
    if r >= 0:
        return r
    if r == -_errno.ECANCELED:
        exc = getattr(_pending, "exc", None)
        if exc is not None:
            _pending.exc = None
            raise exc
    raise_errno(r, what)


class Hierarchy:
    """A cgroup tree with its per-CPU charge stocks, run by the C core.

    Args:
        config: the kernel to reproduce (default :meth:`Config.current`).
        reclaim: a hook ``(cgroup, nr_pages) -> pages_freed`` standing in for
            page reclaim.  It runs while the core holds no lock and may
            uncharge anything; the core believes only the progress it sees on
            the counter.  Without a hook, reclaim frees nothing.

    Thread-safe: any cgroup and any CPU may be used from any thread.

    Lifetime: :meth:`close` (or leaving a ``with`` block) frees the tree at
    once; without it, the tree is freed when the hierarchy and every
    :class:`Cgroup` of it are unreachable (a Cgroup keeps its hierarchy
    alive; the hierarchy keeps no Cgroup alive, so no reference cycle
    needs the cyclic garbage collector).
    """

    __slots__ = ("_h", "config", "_root", "_by_path", "_cgroups", "_tasks", "_socks",
                 "_caches", "_reclaim", "_close_lock", "__weakref__")

    def __init__(self, config: Optional[Config] = None,
                 reclaim: Optional[ReclaimHook] = None) -> None:
        self._h = 0
        if config is None:
            config = Config.current()
        if not isinstance(config, Config):
            raise InvalidTypeError(f"config must be a pymemcg.Config, not {type(config).__name__}")
        if reclaim is not None and not callable(reclaim):
            raise InvalidTypeError("reclaim must be a callable (cgroup, nr_pages) -> int or None")
        h = lib.pmc_hierarchy_new(_config_struct(config))
        _check(h, "Hierarchy")
        self._h = h
        self.config = config
        self._close_lock = threading.Lock()
        self._cgroups: "weakref.WeakValueDictionary[int, Cgroup]" = weakref.WeakValueDictionary()
        self._tasks: "weakref.WeakValueDictionary[int, Task]" = weakref.WeakValueDictionary()
        self._socks: "weakref.WeakValueDictionary[int, Socket]" = weakref.WeakValueDictionary()
        self._caches: "weakref.WeakValueDictionary[int, KmemCache]" = weakref.WeakValueDictionary()
        # Path -> handle of the online cgroups created through this object
        # (handles, not Cgroups: the hierarchy keeps no Cgroup alive).
        self._by_path: Dict[str, int] = {}
        self._reclaim: Optional[ReclaimHook] = None
        _HIERARCHIES[h] = self
        self._root = lib.pmc_cgroup_root(h)
        self._by_path[""] = self._root
        self.reclaim = reclaim

    # -- lifetime ----------------------------------------------------------------

    def close(self) -> None:
        """Free the tree now.  Every later use of the hierarchy or of its
        cgroups raises :class:`StaleHandleError`; closing again does nothing.

        Safe while other threads use the hierarchy: calls already running
        are waited for (a replay batch stops at its next lock hand-over and
        raises StaleHandleError in its thread), later ones are refused.
        From inside this hierarchy's own reclaim hook it would wait for
        itself: it raises :class:`BusyError` there and closes nothing.
        """
        with self._close_lock:
            h = self._h
            if h <= 0:
                return
            r = lib.pmc_hierarchy_close(h)
            if r == -_errno.EBUSY:
                if lib.pmc_hierarchy_cpu_owned(h) > 0:
                    raise BusyError(_errno.EBUSY, "close(): a CPU of this hierarchy is owned "
                                    "(Hierarchy.cpu): release it first")
                raise BusyError(_errno.EBUSY, "close() from inside a call on this hierarchy "
                                "(its reclaim hook): it would wait for itself")
            self._h = -h        # keeps its sign: closed (0 is "never opened")
            _HIERARCHIES.pop(h, None)
            self._by_path.clear()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._h <= 0

    def __enter__(self) -> "Hierarchy":
        self._live()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        h = getattr(self, "_h", 0)
        if h > 0:
            self._h = -h
            lib.pmc_hierarchy_close(h)

    def _live(self) -> int:
        h = self._h
        if h <= 0:
            raise StaleHandleError("the hierarchy is closed")
        return h

    # -- the tree --------------------------------------------------------------

    @property
    def root(self) -> "Cgroup":
        """The root cgroup."""
        self._live()
        cg = self._cgroups.get(self._root)
        if cg is None:
            cg = Cgroup(self, self._root, None, "", 1)
        return cg

    def _cgroup(self, handle: int) -> "Cgroup":
        """The Python object of a C handle (the same one while it lives)."""
        cg = self._cgroups.get(handle)
        if cg is None:
            # The lineage ends with the cgroup itself.
            cg = self._build(_list(lib.pmc_cgroup_list, self._h, handle, lib.PMC_LIST_LINEAGE))[-1]
        return cg

    def _build(self, entries: List["_Entry"]) -> List["Cgroup"]:
        """The Cgroups of a listing's entries; parents come before children
        (in the listing, or known already)."""
        made: Dict[int, Cgroup] = {}        # strong: keeps new parents alive meanwhile
        out = []
        get = self._cgroups.get
        for handle, parent, _state, name, cgid in entries:
            cg = made.get(handle) or get(handle)
            if cg is None:
                p = (made.get(parent) or get(parent)) if parent else None
                cg = Cgroup(self, handle, p, name, cgid)
                made[handle] = cg
            out.append(cg)
        return out

    def create(self, path: str) -> "Cgroup":
        """Create the cgroup at ``path`` ("a/b/c"); its parent must exist."""
        parent_path, _, name = _split(path).rpartition("/")
        return self[parent_path].create(name)

    def __getitem__(self, path: str) -> "Cgroup":
        handle = self._by_path.get(_split(path))
        if handle is not None:
            try:
                cg = self._cgroup(handle)
            except StaleHandleError:
                cg = None
            if cg is not None and cg.online:
                return cg
        self._live()
        if lib.pmc_cpu_held_here(self._h):
            _check(-_errno.EDEADLK, f"h[{path!r}]")
        raise NotFoundError(f"no cgroup {path!r}")

    def get(self, path: str, default: Any = None) -> Any:
        """``h[path]``, or ``default`` if there is no such cgroup."""
        try:
            return self[path]
        except NotFoundError:
            return default

    def _task(self, handle: int) -> "Task":
        t = self._tasks.get(handle)
        if t is None:
            t = Task(self, handle)
        return t

    # -- slab caches (pymemcg.slab) ------------------------------------------------

    def _kmem_cache(self, handle: int) -> "KmemCache":
        c = self._caches.get(handle)
        if c is None:
            c = _slab.KmemCache(self, handle)
        return c

    def kmem_cache_create(self, name: str, object_size: int, align: int = 8,
                          account: bool = True, order: Optional[int] = None,
                          reclaimable: bool = False,
                          min_partial: Optional[int] = None) -> "KmemCache":
        """A root slab cache (``kmem_cache_create``): objects of
        ``object_size`` bytes in slots aligned to 8 and to ``align``.
        ``account``: SLAB_ACCOUNT (charged under the 4.5+ white list);
        ``reclaimable``: SLAB_RECLAIM_ACCOUNT (its objects count as
        slab_reclaimable).  ``order`` (0..3) and ``min_partial`` default to
        SLUB's choices (:mod:`pymemcg.slab`).  InvalidError for a bad name
        (1..64 printable ASCII bytes, no spaces) or geometry."""
        return _slab.create(self, name, object_size, align, account, order, reclaimable,
                            min_partial)

    def standard_cache(self, name: str) -> "KmemCache":
        """A root cache with the geometry of :data:`pymemcg.slab.STANDARD_CACHES` ``[name]``."""
        if name not in _slab.STANDARD_CACHES:
            raise NotFoundError(f"no standard cache {name!r}: {sorted(_slab.STANDARD_CACHES)}")
        return self.kmem_cache_create(name, **_slab.STANDARD_CACHES[name])

    def kmem_caches(self) -> List["KmemCache"]:
        """Every live cache: root caches in creation order, each followed by its clones."""
        return _slab.caches(self)

    def run_pending_work(self) -> int:
        """Clone mode: run the queued clone creations now (the kernel's
        work items); returns how many clones were made."""
        return _check(lib.pmc_slab_run_pending(self._h), "run_pending_work")

    @property
    def pending_work(self) -> int:
        """Clone mode: clone creations queued and not run yet."""
        return _check(lib.pmc_slab_pending(self._h), "pending_work")

    def free_many(self, handles: Any, cpu: int = 0) -> None:
        """Free objects by handle (from :meth:`KmemCache.alloc_many`, or
        ``SlabObject.handle``) in one call: a buffer of int64 (``array('q')``,
        numpy) or a list.  Every handle is checked first: a stale one, one
        twice in the batch or one of another hierarchy raises
        (StaleHandleError, InvalidError) and nothing is freed."""
        _slab.free_many(self, handles, cpu)

    def slabinfo(self) -> List["SlabinfoRow"]:
        """One row per live cache, as :meth:`kmem_caches` orders them."""
        return _slab.slabinfo(self)

    def slab_pinning(self, cgroup: Optional["Cgroup"] = None) -> "SlabPinning":
        """What ``cgroup``'s live objects pin: the slab pages they share with
        another cgroup's live objects, and the pages that would stay
        allocated if it freed all of them now (the shared ones, plus its
        clones' kept empty slabs in clone mode).  None: the whole hierarchy
        (pages holding live objects of two cgroups or more, kept empty slab
        pages).  A walk of every slab."""
        return _slab.pinning(self, cgroup)

    def slab_utilisation(self) -> Dict[str, Tuple[int, int]]:
        """``{cache: (live object bytes, slab page bytes)}`` per root cache
        (its clones included) and ``"total"``; utilisation is the ratio."""
        return _slab.utilisation(self)

    def obj_stock(self, cpu: int) -> "ObjStock":
        """A CPU's object stock (objcg mode): the objcg cached, its bytes,
        and the slab statistic deltas it has not flushed yet."""
        return _slab.obj_stock(self, cpu)

    def by_id(self, cgid: int) -> "Cgroup":
        """The cgroup (online or dying) that holds the memcg id ``cgid``
        (what a refused replay record returns); :class:`NotFoundError` if
        none does."""
        cgid = check_int(cgid, "id")
        r = lib.pmc_cgroup_by_id(self._h, cgid)
        if r == -_errno.ENOENT:
            raise NotFoundError(f"no cgroup holds id {cgid}")
        return self._cgroup(_check(r, "by_id"))

    def __contains__(self, item: object) -> bool:
        """``path in h``: an online cgroup at that path; ``cgroup in h``: a
        cgroup of this hierarchy that still exists (online or dying)."""
        if isinstance(item, str):
            return self.get(item) is not None
        if isinstance(item, Cgroup):
            return item._hier is self and (item.online or item.dying)
        return False

    def __len__(self) -> int:
        """How many cgroups exist, online and dying, the root included."""
        root = self.root._info()
        return 1 + int(root.nr_descendants) + int(root.nr_dying_descendants)

    def cgroups(self) -> List["Cgroup"]:
        """Every cgroup that exists, online and dying, in creation order:
        one snapshot of the tree (linear in its size)."""
        return self._build(_list(lib.pmc_cgroup_list, self._h, 0, lib.PMC_LIST_ALL))

    def __iter__(self) -> Iterator["Cgroup"]:
        return iter(self.cgroups())

    # -- stocks ----------------------------------------------------------------

    def drain(self, cpu: int) -> None:
        """Drain one CPU's stock: its pages go back to their counters."""
        _check(lib.pmc_hierarchy_drain(self._h, _check_cpu(cpu, self.config.ncpus)), "drain")

    def drain_all(self, root: Optional["Cgroup"] = None) -> None:
        """drain_all_stock: drain every CPU whose stock holds pages of
        ``root``'s subtree (the whole tree by default).  Synchronous."""
        if root is not None:
            self._own(root, "root")
        _check(lib.pmc_hierarchy_drain_all(self._h, root._cg if root is not None else 0),
               "drain_all")

    def cpu(self, cpu: int) -> "_owned_cpu.OwnedCpu":
        """Own CPU ``cpu`` from this thread until :meth:`OwnedCpu.release`
        (or the end of a ``with`` block): its charges and uncharges then
        take no lock, as kernel code running on its CPU takes none::

            with h.cpu(0) as cpu0:
                for _ in range(1000):
                    cpu0.try_charge(leaf, 1)

        The contract (:class:`OwnedCpu`): hold it like a lock, for bursts;
        meanwhile this thread may use nothing else of the hierarchy
        (:class:`DeadlockError`), other threads' calls that need this CPU
        (single calls and replays naming it, drain_all, removals, the frees
        of removed cgroups, statistics reads) wait for the release, and
        :meth:`close` raises :class:`BusyError`.  Raises :class:`BusyError`
        when the CPU is owned already, :class:`DeadlockError` when this
        thread owns a CPU of this hierarchy already.
        """
        from .owned_cpu import OwnedCpu

        return OwnedCpu(self, _check_cpu(cpu, self.config.ncpus))

    def _own(self, cg: Any, what: str) -> "Cgroup":
        """``cg`` as a Cgroup of this hierarchy (InvalidError for another's)."""
        if not isinstance(cg, Cgroup):
            raise InvalidTypeError(f"{what} must be a Cgroup, not {type(cg).__name__}")
        if cg._hier is not self:
            raise InvalidError(f"{what} {cg.path or '/'!r} is a cgroup of another hierarchy")
        return cg

    def stock(self, cpu: int) -> Tuple[Tuple[Optional["Cgroup"], int], ...]:
        """The slots of one CPU's stock: (cached cgroup or None, pages), one
        snapshot (a cgroup seen in a slot is described as it was then)."""
        cpu = _check_cpu(cpu, self.config.ncpus)
        n = self.config.stock_slots
        cached = ffi.new("int64_t[]", n)
        pages = ffi.new("uint64_t[]", n)
        entries = _list(lib.pmc_hierarchy_stock_list, self._h, cpu, cached, pages, n)
        # Strong references to every cgroup of the lineages until the slots are built.
        made = self._build(entries)
        by_handle = {cg._cg: cg for cg in made}
        return tuple((by_handle[cached[i]] if cached[i] else None, int(pages[i]))
                     for i in range(n))

    # -- batch -------------------------------------------------------------------

    def replay(self, ops: Any, out: Any = None) -> Any:
        """Apply a buffer of :data:`pymemcg.OP_DTYPE` records in one C call
        (zero-copy); one int64 result per record (see :mod:`pymemcg.replay`).

        ``out``: a writable int64 buffer of at least one result per record,
        returned filled; by default a new one.  In a loop, pass the same
        ``out`` each time: allocating and zeroing the results costs about as
        much as replaying the records."""
        n = len(_replay.as_bytes(ops)) // _replay.OP_SIZE
        if out is None:
            out = _replay.new_results(n)
        _replay.check_out(out, n).release()
        # The C core copies each record before it checks it and writes each
        # result once: another thread may rewrite either buffer meanwhile.
        src = ffi.from_buffer("char[]", ops)
        res = ffi.from_buffer("char[]", out, require_writable=True)
        try:
            done = lib.pmc_hierarchy_replay(self._h, src, n, res)
            _check(done, "replay")
            last = _replay_result(res, done - 1) if done else 0
        finally:
            ffi.release(res)
            ffi.release(src)
        if last == -_errno.ECANCELED:
            _check(-_errno.ECANCELED, "replay")
        if done < n:
            raise StaleHandleError(f"replay: the hierarchy was closed after {done} of {n} records")
        return out

    def _replay_mapped(self, ops: Any, table: Any, out: Any) -> int:
        """For pymemcg.trace: replay a contiguous numpy array of records
        whose cgroup fields index ``table`` (int64 handles, 0: not looked up),
        results into ``out``; stops before a record it cannot map and returns
        how many ran (pmc_hierarchy_replay_mapped).  Raises as replay does."""
        n = len(ops)
        src = ffi.from_buffer("char[]", ops)
        m = ffi.from_buffer("int64_t[]", table)
        res = ffi.from_buffer("int64_t[]", out, require_writable=True)
        try:
            done = lib.pmc_hierarchy_replay_mapped(self._h, src, n, m, len(table), res)
            _check(done, "replay")
            if done and res[done - 1] == -_errno.ECANCELED:
                _check(-_errno.ECANCELED, "replay")
        finally:
            ffi.release(res)
            ffi.release(m)
            ffi.release(src)
        return int(done)

    def replayer(self, ops: Any, out: Any = None) -> "_replayer.Replayer":
        """Bind a buffer of records (and one of results) once, for many
        :meth:`Replayer.run` calls: the buffers are checked and wrapped for
        C here, so a run costs one C call, however few records it replays.
        A simulator that refills the same buffer between runs pays the
        crossing once per batch, not the buffer handling
        (:meth:`replay` checks and wraps both buffers on every call).

        ``ops`` and ``out`` are what :meth:`replay` takes; the replayer holds
        them (a bytearray or array.array cannot be resized meanwhile) until
        :meth:`Replayer.close` or the end of a ``with`` block."""
        from .replayer import Replayer

        return Replayer(self, ops, out)

    # -- reclaim ---------------------------------------------------------------

    @property
    def reclaim(self) -> Optional[ReclaimHook]:
        """The reclaim hook, or None (reclaim frees nothing)."""
        return self._reclaim

    @reclaim.setter
    def reclaim(self, hook: Optional[ReclaimHook]) -> None:
        if hook is not None and not callable(hook):
            raise InvalidTypeError("reclaim must be a callable (cgroup, nr_pages) -> int or None")
        self._reclaim = hook
        lib.pmc_hierarchy_set_reclaim(self._h, hook is not None)

    def __repr__(self) -> str:
        return f"<pymemcg.Hierarchy v{self.config.version} ncpus={self.config.ncpus}>"


def _replay_result(res: Any, i: int) -> int:
    return int(_struct.unpack_from("<q", ffi.buffer(res), 8 * i)[0])


def _split(path: str) -> str:
    """A path as the VFS walks it: "/a//b/" is "a/b"."""
    if not isinstance(path, str):
        raise InvalidTypeError(f"path must be a str, not {type(path).__name__}")
    return "/".join(p for p in path.split("/") if p)


def _handles(fn: Any, *args: Any) -> List[int]:
    """Call a function that fills an int64 array and returns how many it
    has, with room enough for all of them (one snapshot)."""
    n = 16
    while True:
        out = ffi.new("int64_t[]", n)
        count = _check(fn(*args, out, n), "list")
        if count <= n:
            return [out[i] for i in range(count)]
        n = 2 * count


class Task:
    """A task of a :class:`Hierarchy`: a kernel stack, user pages and the
    page tables that map them, in a cgroup (made by :meth:`Cgroup.fork`).

    Counts are pages.  Once the task exited (or the OOM killer killed it)
    ``alive`` is False and everything else raises :class:`StaleHandleError`.
    """

    __slots__ = ("_hier", "_h", "_t", "__weakref__")

    def __init__(self, hierarchy: Hierarchy, handle: int) -> None:
        self._hier = hierarchy
        self._h = hierarchy._h
        self._t = handle
        hierarchy._tasks[handle] = self

    @property
    def handle(self) -> int:
        """Its handle (kind: task)."""
        return self._t

    def _info(self) -> Any:
        info = ffi.new("struct pmc_task_info *")
        if lib.pmc_task_info(self._h, self._t, info) < 0:
            raise StaleHandleError("the task has exited")
        return info

    @property
    def alive(self) -> bool:
        """Not exited, not killed."""
        info = ffi.new("struct pmc_task_info *")
        return bool(lib.pmc_task_info(self._h, self._t, info) == 0)

    @property
    def cgroup(self) -> "Cgroup":
        """The cgroup it is in."""
        return self._hier._cgroup(self._info().cgroup)

    @property
    def rss(self) -> int:
        """User pages mapped (charged)."""
        return int(self._info().rss)

    @property
    def pagetables(self) -> int:
        """Page-table pages (PTE + PMD + PUD) of its mapping, charged or not."""
        return int(self._info().pagetables)

    @property
    def stack(self) -> int:
        """Kernel-stack pages charged (0 where kernel memory was not accounted)."""
        return int(self._info().stack)

    @property
    def oom_score_adj(self) -> int:
        return int(self._info().oom_score_adj)

    @property
    def throttle_jiffies(self) -> int:
        """The memory.high throttling its faults earned (not slept)."""
        return int(self._info().throttle_jiffies)

    def fault(self, nr_pages: int, cpu: int = 0) -> None:
        """Map ``nr_pages`` more user pages, a fault each: the page tables
        the mapping needs (kernel memory, where the era accounts them), then
        the page.  :class:`ChargeError` (ENOMEM) when a charge is refused,
        :class:`KilledError` (ESRCH) when the OOM killer killed this task
        meanwhile; ``faulted`` on the error says how many pages went in."""
        nr_pages = check_count(nr_pages)
        cpu = _check_cpu(cpu, self._hier.config.ncpus)
        done = ffi.new("int64_t *")
        r = lib.pmc_task_fault(self._h, self._t, nr_pages, cpu, done)
        if r == 0:
            return
        if r == -_errno.ENOMEM:
            err: Exception = ChargeError(f"fault: a charge was refused after {done[0]} page(s)")
        elif r == -_errno.ESRCH:
            err = KilledError(f"fault: the OOM killer killed the task after {done[0]} page(s)")
        elif r == -_errno.ESTALE:
            err = StaleHandleError("fault: the task has exited")
        else:
            _check(r, "fault")
            return  # pragma: no cover
        err.faulted = int(done[0])  # type: ignore[attr-defined]
        raise err

    def kmem_alloc(self, nr_pages: int, flags: int = GFP_KERNEL_ACCOUNT, cpu: int = 0,
                   interrupt: bool = False, accounted_cache: bool = False) -> Optional["Cgroup"]:
        """A kernel allocation of ``nr_pages`` made by this task, charged as
        kernel memory to its cgroup when SPEC 6's selective accounting rule
        says so, in the task's context (the OOM killer may choose it,
        memory.high throttles it).

        The rule: never in interrupt context (``interrupt``), never in the
        root, not before 3.8's kmem activation (the first finite
        ``memory.kmem.limit_in_bytes`` write); then, with
        ``Config.kmem_accounting == "whitelist"`` (4.5+), only with
        ``GFP_ACCOUNT`` in ``flags`` or from a ``SLAB_ACCOUNT`` cache
        (``accounted_cache``); with ``"blacklist"`` (3.8-4.4) always.  The
        3.8 charge loop lets ``GFP_NOFAIL`` go unaccounted.

        Returns the cgroup charged, or None when nothing was charged (not
        accounted, or 0 pages).  The pages belong to no task: they never
        enter an OOM score and a kill does not free them; give them back
        with ``cgroup.uncharge(nr_pages, kmem=True)`` (after the cgroup's
        removal too: through its objcg where the era has one).  Raises
        :class:`ChargeError` (ENOMEM; ``over``: the cgroup over its limit)
        when the charge is refused (the v1 kmem limit; the memory limit after
        reclaim and the OOM killer as ``flags`` allow: GFP_NOWAIT fails
        without reclaim; GFP_HIGH and GFP_NOFAIL are forced over the limit
        where the era forces), :class:`KilledError` (ESRCH) when the OOM
        killer killed this task meanwhile (nothing stays charged).  An
        exception from the reclaim hook propagates (nothing charged)."""
        nr_pages = check_count(nr_pages)
        flags = check_gfp(flags)
        cpu = _check_cpu(cpu, self._hier.config.ncpus)
        how = ((lib.PMC_KMEM_INTERRUPT if check_bool(interrupt, "interrupt") else 0)
               | (lib.PMC_KMEM_ACCOUNTED_CACHE
                  if check_bool(accounted_cache, "accounted_cache") else 0))
        over = ffi.new("int64_t *")
        r = lib.pmc_task_kmem_charge(self._h, self._t, nr_pages, cpu, flags, how, over)
        if r > 0:
            return self._hier._cgroup(r)
        if r == 0:
            return None
        if r == -_errno.ENOMEM:
            err: Exception = ChargeError(f"kmem_alloc: {nr_pages} page(s) refused")
            err.over = self._hier._cgroup(over[0])  # type: ignore[attr-defined]
            raise err
        if r == -_errno.ESRCH:
            raise KilledError("kmem_alloc: the OOM killer killed the task")
        self._done(r, "kmem_alloc")
        return None  # pragma: no cover - _done raises

    def unmap(self, nr_pages: int, cpu: int = 0) -> None:
        """Unmap ``nr_pages`` user pages, the newest first (uncharged where
        each was charged); the page tables stay until exit."""
        nr_pages = check_count(nr_pages)
        cpu = _check_cpu(cpu, self._hier.config.ncpus)
        r = lib.pmc_task_unmap(self._h, self._t, nr_pages, cpu)
        if r == -_errno.EINVAL:
            raise InvalidError(f"unmap {nr_pages} pages: the task maps {self.rss}")
        self._done(r, "unmap")

    def move(self, cgroup: "Cgroup") -> None:
        """Move into ``cgroup`` (online, of this hierarchy).  What it has
        charged stays where it is; later faults charge the new cgroup."""
        cg = self._hier._own(cgroup, "cgroup")
        self._done(lib.pmc_task_move(self._h, self._t, cg._cg), "move")

    def exit(self, cpu: int = 0) -> None:
        """Exit: everything it charged is uncharged (kernel pages through
        their objcg, user pages where they went)."""
        cpu = _check_cpu(cpu, self._hier.config.ncpus)
        self._done(lib.pmc_task_exit(self._h, self._t, cpu), "exit")

    def _done(self, r: int, what: str) -> None:
        if r == -_errno.ESTALE:
            raise StaleHandleError(f"{what}: the task has exited, or its cgroup is gone")
        _check(r, what)

    def __repr__(self) -> str:
        info = ffi.new("struct pmc_task_info *")
        if lib.pmc_task_info(self._h, self._t, info):
            return "<pymemcg.Task (exited)>"
        return f"<pymemcg.Task rss={info.rss} pagetables={info.pagetables} stack={info.stack}>"


class Socket:
    """A socket of a :class:`Hierarchy` (made by :meth:`Cgroup.sock_create`):
    network buffers charged to the cgroup it was bound to at creation.

    Counts are pages.  ``pages`` is what the socket holds (its
    ``sk_forward_alloc``, in pages): charged to ``cgroup`` when bound, only
    counted when not.  Once closed, ``alive`` is False and everything else
    raises :class:`StaleHandleError`.
    """

    __slots__ = ("_hier", "_h", "_s", "__weakref__")

    def __init__(self, hierarchy: Hierarchy, handle: int) -> None:
        self._hier = hierarchy
        self._h = hierarchy._h
        self._s = handle
        hierarchy._socks[handle] = self

    @property
    def handle(self) -> int:
        """Its handle (kind: task, with bit 21 of the slot set)."""
        return self._s

    def _info(self) -> Any:
        info = ffi.new("struct pmc_sock_info *")
        if lib.pmc_sock_info(self._h, self._s, info) < 0:
            raise StaleHandleError("the socket is closed")
        return info

    @property
    def alive(self) -> bool:
        """Not closed (and its hierarchy not closed)."""
        info = ffi.new("struct pmc_sock_info *")
        return bool(lib.pmc_sock_info(self._h, self._s, info) == 0)

    @property
    def bound(self) -> bool:
        """Whether its pages are charged to a cgroup (``sk->sk_memcg``)."""
        return bool(self._info().cgroup)

    @property
    def cgroup(self) -> Optional["Cgroup"]:
        """The cgroup it is bound to (online or dying), or None."""
        handle = self._info().cgroup
        return self._hier._cgroup(handle) if handle else None

    @property
    def pages(self) -> int:
        """Pages it holds (charged to its cgroup when bound)."""
        return int(self._info().pages)

    def charge(self, nr_pages: int, cpu: int = 0, flags: int = GFP_KERNEL) -> bool:
        """``mem_cgroup_charge_skmem()``: True when charged, False when
        refused (nothing charged).  ``flags``: GFP_KERNEL in process context,
        GFP_ATOMIC in softirq (``gfp_memcg_charge()``); GFP_NOFAIL forces it
        (``__sk_mem_raise_allocated``'s stream send under its sndbuf).

        cgroup v2: the era's try_charge on ``memory`` through the CPU's
        stock (reclaim and OOM as the flags allow, GFP_ATOMIC and GFP_NOFAIL
        forced over the limit), then the ``sock`` statistic.  cgroup v1: the
        ``tcpmem`` counter alone (see ``Config.tcpmem_counter``); a refusal
        sets :attr:`Cgroup.under_socket_pressure`, a success clears it.  An
        unbound socket is never refused.  A reclaim hook's exception
        propagates (nothing charged).  memory.high is then handled for the
        socket's cgroup (the kernel throttles the sending task's cgroup on
        its way back to user space: the same one unless the task moved)."""
        nr_pages = check_count(nr_pages)
        cpu = _check_cpu(cpu, self._hier.config.ncpus)
        flags = check_gfp(flags)
        r: int = lib.pmc_sock_charge(self._h, self._s, nr_pages, cpu, flags)
        if r == -_errno.EINVAL:
            raise InvalidError(f"charge {nr_pages} pages: the socket holds {self.pages}")
        self._done(r, "charge")
        return r == 1

    def uncharge(self, nr_pages: int, cpu: int = 0) -> None:
        """``mem_cgroup_uncharge_skmem()``: v2 takes the ``sock`` statistic
        down and gives the pages to the CPU's stock (refill_stock: memory
        goes down when the stock drains); v1 uncharges ``tcpmem`` at once.
        More than the socket holds raises :class:`InvalidError`."""
        nr_pages = check_count(nr_pages)
        cpu = _check_cpu(cpu, self._hier.config.ncpus)
        r = lib.pmc_sock_uncharge(self._h, self._s, nr_pages, cpu)
        if r == -_errno.EINVAL:
            raise InvalidError(f"uncharge {nr_pages} pages: the socket holds {self.pages}")
        self._done(r, "uncharge")

    def close(self, cpu: int = 0) -> None:
        """Close: what it holds is uncharged (as :meth:`uncharge`), and its
        cgroup is let go (``mem_cgroup_sk_free``): a removed cgroup it kept
        dying may be freed."""
        cpu = _check_cpu(cpu, self._hier.config.ncpus)
        self._done(lib.pmc_sock_close(self._h, self._s, cpu), "close")

    def _done(self, r: int, what: str) -> None:
        if r == -_errno.ESTALE:
            raise StaleHandleError(f"{what}: the socket is closed")
        _check(r, what)

    def __repr__(self) -> str:
        info = ffi.new("struct pmc_sock_info *")
        if lib.pmc_sock_info(self._h, self._s, info):
            return "<pymemcg.Socket (closed)>"
        return f"<pymemcg.Socket pages={info.pages} {'bound' if info.cgroup else 'unbound'}>"


_Entry = Tuple[int, int, int, str, int]
_ENTRY_FORMAT = "<qqqiiII"      # struct pmc_cgroup_entry
_ENTRY_SIZE = _struct.calcsize(_ENTRY_FORMAT)


def _list(fn: Any, *args: Any) -> List[_Entry]:
    """Call a listing function (its last argument a struct pmc_cgroup_list),
    with more room until the whole snapshot fits; (handle, parent, state,
    name) per entry."""
    cap, names_cap = 64, 4096
    while True:
        entries = ffi.new("struct pmc_cgroup_entry[]", cap)
        names = ffi.new("char[]", names_cap)
        lst = ffi.new("struct pmc_cgroup_list *", {
            "entries": entries, "cap": cap, "names": names, "names_cap": names_cap})
        _check(fn(*args, lst), "list")
        count, names_len = lst.count, lst.names_len
        if count <= cap and names_len <= names_cap:
            break
        cap, names_cap = max(cap, 2 * count), max(names_cap, 2 * names_len)
    text = ffi.buffer(names, names_len)[:]
    return [(handle, parent, state, text[off:off + size].decode("utf-8", "surrogateescape"), cgid)
            for handle, parent, off, state, size, cgid, _
            in _struct.iter_unpack(_ENTRY_FORMAT, ffi.buffer(entries, _ENTRY_SIZE * count))]


def _raise_cgroup_underflow(cg: "Cgroup", views: List[CounterView], nr_pages: int) -> None:
    raise UnderflowError(
        f"page_counter underflow: uncharged {nr_pages} pages from {cg.path or '/'}; "
        f"{len(views)} counter level(s) clamped to 0", counters=views, nr_pages=nr_pages)


class Cgroup(Limits):
    """One memory cgroup of a :class:`Hierarchy`.

    Counters count pages: ``g.memory`` (and on v1 ``g.memsw``, ``g.kmem``,
    ``g.tcpmem``; on v2 ``g.swap``) are read-only views.  A removed cgroup
    stays *dying* while anything is charged to it: it can be uncharged but
    not charged.  Once freed, every use raises :class:`StaleHandleError`.
    """

    __slots__ = ("_hier", "_h", "_cg", "_parent", "name", "path", "id", "_depth",
                 "__weakref__")

    def __init__(self, hierarchy: Hierarchy, handle: int, parent: Optional["Cgroup"],
                 name: str, cgid: int) -> None:
        self._hier = hierarchy
        self._h = hierarchy._h
        self._cg = handle
        self._parent = parent
        self.name = name
        if parent is None:
            self.path = ""
        else:
            self.path = f"{parent.path}/{name}" if parent.path else name
        self.id = cgid
        self._depth: int = parent._depth + 1 if parent is not None else 0
        hierarchy._cgroups[handle] = self

    # -- the tree --------------------------------------------------------------

    @property
    def hierarchy(self) -> Hierarchy:
        """The hierarchy this cgroup belongs to."""
        self._info()
        return self._hier

    @property
    def parent(self) -> Optional["Cgroup"]:
        """The parent cgroup (None for the root)."""
        self._info()
        return self._parent

    def _info(self) -> Any:
        info = ffi.new("struct pmc_cgroup_info *")
        r = lib.pmc_cgroup_info(self._h, self._cg, info)
        if r < 0:
            self._stale()
        return info

    def _stale(self) -> NoReturn:
        if lib.pmc_cpu_held_here(self._h):
            _check(-_errno.EDEADLK, "cgroup " + repr(self.path))
        if self._hier.closed:
            raise StaleHandleError(f"cgroup {self.path!r}: its hierarchy is closed")
        raise StaleHandleError(f"cgroup {self.path!r} (id {self.id}) no longer exists")

    def _stat(self, subtree: bool) -> Dict[str, int]:
        out = ffi.new("int64_t[]", len(STATS))
        if lib.pmc_cgroup_stat(self._h, self._cg, subtree, out, len(STATS)) < 0:
            self._stale()
        return {name: int(out[i]) * (1 if name in _BYTE_STATS else PAGE_SIZE)
                for i, name in enumerate(STATS)}

    def create(self, name: str) -> "Cgroup":
        """mkdir: a child cgroup named ``name``, with the kernel's rules and
        errnos for names (:func:`pymemcg._common.check_name`)."""
        raw = check_name(name)
        name = raw.decode()
        h = _check(lib.pmc_cgroup_create(self._h, self._cg, raw), f"create {name!r}")
        info = ffi.new("struct pmc_cgroup_info *")
        if lib.pmc_cgroup_info(self._h, h, info):     # removed and freed by another thread
            raise StaleHandleError(f"create {name!r}: removed as soon as created")
        child = Cgroup(self._hier, h, self, name, int(info.id))
        self._hier._by_path[child.path] = h
        return child

    def remove(self) -> None:
        """rmdir: take the cgroup offline.  It stays dying while anything is
        charged to it or cached in a stock; BusyError while it has online
        children."""
        _check(lib.pmc_cgroup_remove(self._h, self._cg), f"remove {self.path!r}")
        if self._hier._by_path.get(self.path) == self._cg:
            del self._hier._by_path[self.path]

    @property
    def handle(self) -> int:
        """The id and generation (``id | generation << 16``) that replay
        records carry: never valid again once this cgroup is freed."""
        return self._cg

    @property
    def online(self) -> bool:
        """Not removed."""
        info = ffi.new("struct pmc_cgroup_info *")
        return bool(lib.pmc_cgroup_info(self._h, self._cg, info) == 0 and info.state == 1)

    @property
    def dying(self) -> bool:
        """Removed but not yet freed."""
        info = ffi.new("struct pmc_cgroup_info *")
        return bool(lib.pmc_cgroup_info(self._h, self._cg, info) == 0 and info.state == 2)

    @property
    def children(self) -> Tuple["Cgroup", ...]:
        """Online children, in creation order (one snapshot)."""
        try:
            entries = _list(lib.pmc_cgroup_list, self._h, self._cg, lib.PMC_LIST_CHILDREN)
        except StaleHandleError:
            self._stale()
        return tuple(self._hier._build(entries))

    @property
    def nr_descendants(self) -> int:
        """cgroup.stat nr_descendants: online cgroups below this one."""
        return int(self._info().nr_descendants)

    @property
    def nr_dying_descendants(self) -> int:
        """cgroup.stat nr_dying_descendants."""
        return int(self._info().nr_dying_descendants)

    @property
    def kmem_active(self) -> bool:
        """Whether kernel memory is accounted here (3.8: after a kmem limit)."""
        return bool(self._info().kmem_active)

    # -- charging --------------------------------------------------------------

    def try_charge(self, nr_pages: int, cpu: int = 0, flags: int = GFP_KERNEL,
                   kmem: bool = False) -> Optional["Cgroup"]:
        """Charge ``nr_pages`` on CPU ``cpu``, as the kernel's charge path does:
        from the CPU's stock if it can, else a batch up the counters, with
        reclaim, drain and retries when a limit is hit.

        Returns None when charged (possibly over the limit, for GFP_NOFAIL
        and GFP_HIGH on current kernels), else the cgroup over its limit
        (for a v1 kmem-limit failure, the cgroup whose kmem limit was hit).

        An exception raised by the reclaim hook propagates.  Raised during
        the charge, it abandons the charge (nothing charged); raised during
        memory.high handling, after the charge went through, the charge
        stands (memory.high never fails a charge).
        """
        if nr_pages.__class__ is not int:
            nr_pages = check_count(nr_pages)
        if cpu.__class__ is not int:
            cpu = _check_cpu(cpu, self._hier.config.ncpus)
        if flags.__class__ is not int:
            flags = check_gfp(flags)
        try:
            r = _try_charge(self._h, self._cg, nr_pages, cpu, flags,
                            kmem if kmem.__class__ is bool else check_bool(kmem, "kmem"))
        except OverflowError:
            check_count(nr_pages)
            check_gfp(flags)
            raise InvalidError(f"cpu must be in 0..{self._hier.config.ncpus - 1}") from None
        if not r:
            return None
        if r > 0:
            return self._hier._cgroup(r)
        self._bad(r, nr_pages, cpu, flags, "try_charge")
        return None  # pragma: no cover - _bad raises

    def uncharge(self, nr_pages: int, cpu: int = 0, kmem: bool = False) -> None:
        """Uncharge ``nr_pages``: user pages straight from the counters,
        kernel memory through the CPU's stock where the era does so.

        Allowed on a removed cgroup.  Pages that offline moved come off its
        nearest online ancestor: kernel pages with the objcg (Linux 5.9+,
        ``Config.objcg``), user pages with 3.8's reparenting
        (``Config.reparent_user_pages``).  With objcgs, a freed cgroup whose
        objcg still has kernel pages charged takes kernel uncharges until
        they are all gone (everything else raises StaleHandleError).

        Raises :class:`UnderflowError` (after applying the whole uncharge,
        each level clamped on its own) if more was uncharged than charged.
        """
        if nr_pages.__class__ is not int:
            nr_pages = check_count(nr_pages)
        if cpu.__class__ is not int:
            cpu = _check_cpu(cpu, self._hier.config.ncpus)
        if kmem.__class__ is not bool:
            kmem = check_bool(kmem, "kmem")
        if self._depth >= _MASK_LEVELS:
            return self._uncharge_deep(nr_pages, cpu, kmem)
        try:
            r = _uncharge(self._h, self._cg, nr_pages, cpu, kmem)
        except OverflowError:
            check_count(nr_pages)
            raise InvalidError(f"cpu must be in 0..{self._hier.config.ncpus - 1}") from None
        if r:
            if r < 0:
                self._bad(r, nr_pages, cpu, 0, "uncharge")
            self._underflow(r, nr_pages)

    def _uncharge_deep(self, nr_pages: int, cpu: int, kmem: bool) -> None:
        # Too deep for the 16-bit-per-counter mask: one byte per counter and level.
        cpu = _check_cpu(cpu, self._hier.config.ncpus)
        n = self._depth + 1
        levels = ffi.new("uint8_t[]", 4 * n)
        r = lib.pmc_cgroup_uncharge_levels(self._h, self._cg, check_count(nr_pages), cpu, kmem,
                                           levels, n)
        if r < 0:
            self._bad(r, nr_pages, cpu, 0, "uncharge")
        if r:
            self._report_levels(levels, n, nr_pages)

    def _report_levels(self, levels: Any, n: int, nr_pages: int) -> None:
        """Raise UnderflowError for the levels (one byte per counter and level) clamped."""
        views = []
        for name in self._hier.config.counters:
            base, c = _COUNTER_INDEX[name] * n, self
            for level in range(n):
                if levels[base + level]:
                    views.append(CounterView(c, name))
                c = c._parent  # type: ignore[assignment]  # None only past the last level
        _raise_cgroup_underflow(self, views, nr_pages)

    def _bad(self, r: int, nr_pages: int, cpu: int, flags: int, what: str) -> None:
        if r == -_errno.EINVAL:
            check_count(nr_pages)
            _check_cpu(cpu, self._hier.config.ncpus)
            check_gfp(flags)
        if r == -_errno.ESTALE:
            if self._hier.closed:
                raise StaleHandleError(f"{what}: cgroup {self.path!r}: its hierarchy is closed")
            raise StaleHandleError(
                f"{what}: cgroup {self.path!r} (id {self.id}) is removed or freed")
        _check(r, what)

    def _underflow(self, mask: int, nr_pages: int) -> None:
        views = []
        for name in self._hier.config.counters:
            bits = (mask >> (16 * _COUNTER_INDEX[name])) & 0xFFFF
            level = 0
            c: Optional[Cgroup] = self
            while c is not None:
                if bits & (1 << level):
                    views.append(CounterView(c, name))
                c, level = c._parent, level + 1
        _raise_cgroup_underflow(self, views, nr_pages)

    # -- counters, statistics, events ---------------------------------------------

    def _counter_state(self, name: str) -> PageCounterState:
        idx = self._counter_index(name)
        info = ffi.new("struct pmc_page_counter_info *")
        r = lib.pmc_cgroup_counter(self._h, self._cg, idx, info)
        if r < 0:
            self._bad(r, 0, 0, 0, name)
        return PageCounterState(
            usage=info.usage, max=info.max, min=info.min, low=info.low, high=info.high,
            watermark=info.watermark, local_watermark=info.local_watermark,
            failcnt=info.failcnt, emin=info.emin, elow=info.elow, min_usage=info.min_usage,
            low_usage=info.low_usage, children_min_usage=info.children_min_usage,
            children_low_usage=info.children_low_usage)

    def _counter_index(self, name: str) -> int:
        if name not in self._hier.config.counters:
            raise AttributeError(f"cgroup v{self._hier.config.version} has no {name} counter")
        return _COUNTER_INDEX[name]

    def _view(self, name: str) -> CounterView:
        self._counter_index(name)
        self._info()
        return CounterView(self, name)

    @property
    def memory(self) -> CounterView:
        """The memory counter (memory.current / memory.usage_in_bytes)."""
        return self._view("memory")

    @property
    def memsw(self) -> CounterView:
        """v1 memory+swap counter."""
        return self._view("memsw")

    @property
    def kmem(self) -> CounterView:
        """v1 kernel memory counter."""
        return self._view("kmem")

    @property
    def tcpmem(self) -> CounterView:
        """v1 TCP buffer counter."""
        return self._view("tcpmem")

    @property
    def swap(self) -> CounterView:
        """v2 swap counter (no swap is modelled yet: it stays at zero)."""
        return self._view("swap")

    @property
    def stat(self) -> Dict[str, int]:
        """memory.stat entries that pymemcg keeps, in bytes: the subtree's on
        cgroup v2 (its memory.stat is hierarchical), this cgroup's own on v1."""
        return self._stat(self._hier.config.version == 2)

    @property
    def stat_local(self) -> Dict[str, int]:
        """The same, charged to this cgroup itself."""
        return self._stat(False)

    def _stat_hierarchical(self) -> Dict[str, int]:
        """The same, summed over the whole subtree (v1's ``total_*`` keys)."""
        return self._stat(True)

    @property
    def oom_livelocks(self) -> int:
        """Charges refused here that Linux 3.8 would have retried forever (its
        memcg OOM killer found no victim, or could not be reached): pymemcg
        fails them instead.  Always 0 with the current charge loop."""
        return int(self._info().oom_livelocks)

    @property
    def throttle_jiffies(self) -> int:
        """The memory.high throttling its charges earned: the jiffies
        ``mem_cgroup_handle_over_high()`` would have slept (not slept here)."""
        return int(self._info().throttle_jiffies)

    @property
    def events(self) -> Dict[str, int]:
        """memory.events (hierarchical on v2 unless memory_localevents)."""
        info = self._info()
        return {name: int(info.events[i]) for i, name in enumerate(EVENTS)}

    @property
    def events_local(self) -> Dict[str, int]:
        """memory.events.local."""
        info = self._info()
        return {name: int(info.events_local[i]) for i, name in enumerate(EVENTS)}

    # -- primitives for the interface files ------------------------------------------

    def _set_max(self, name: str, nr_pages: int) -> None:
        idx = self._counter_index(name)
        _check(lib.pmc_cgroup_set_max(self._h, self._cg, idx, check_count(nr_pages)), "set_max")

    def _xchg_max(self, name: str, nr_pages: int) -> int:
        """Install a limit whatever the usage (v2 memory.max); the old one."""
        idx = self._counter_index(name)
        return _check(lib.pmc_cgroup_xchg_max(self._h, self._cg, idx, check_count(nr_pages)),
                      "xchg_max")

    def _set_min(self, nr_pages: int) -> None:
        _check(lib.pmc_cgroup_set_min(self._h, self._cg, check_count(nr_pages)), "set_min")

    def _set_low(self, nr_pages: int) -> None:
        _check(lib.pmc_cgroup_set_low(self._h, self._cg, check_count(nr_pages)), "set_low")

    def _set_high(self, name: str, nr_pages: int) -> None:
        idx = self._counter_index(name)
        _check(lib.pmc_cgroup_set_high(self._h, self._cg, idx, check_count(nr_pages)),
               "set_high")

    def _reset(self, name: str, what: int) -> None:
        _check(lib.pmc_cgroup_reset(self._h, self._cg, self._counter_index(name), what), "reset")

    def _reset_watermark(self, name: str) -> None:
        self._reset(name, lib.PMC_RESET_WATERMARK)

    def _reset_local_watermark(self, name: str) -> None:
        self._reset(name, lib.PMC_RESET_LOCAL_WATERMARK)

    def _reset_failcnt(self, name: str) -> None:
        self._reset(name, lib.PMC_RESET_FAILCNT)

    def _reclaim(self, nr_pages: int) -> int:
        """Reclaim through the hook; the progress seen on the counter."""
        return _check(lib.pmc_cgroup_reclaim(self._h, self._cg, check_count(nr_pages)), "reclaim")

    def _out_of_memory(self, cpu: int = 0) -> bool:
        """``mem_cgroup_out_of_memory()`` for a limit write (v2 memory.max
        below the usage): True if the margin fits already or a task was
        killed (its pages uncharged on ``cpu``), False if there was no one
        to kill."""
        cpu = _check_cpu(cpu, self._hier.config.ncpus)
        return bool(_check(lib.pmc_cgroup_out_of_memory(self._h, self._cg, cpu), "out_of_memory"))

    def _event(self, name: str) -> None:
        if name not in EVENTS:
            raise InvalidError(f"no memory event {name!r}; events are {EVENTS}")
        _check(lib.pmc_cgroup_event(self._h, self._cg, EVENTS.index(name)), "event")

    def _tunable(self, name: str, value: Optional[int] = None) -> int:
        """Read (or set) a tunable the core keeps: v1 "oom_kill_disable" and
        "swappiness" (the root's is the hierarchy's vm_swappiness), v2
        "oom_group" (memory.oom.group)."""
        which = {"oom_kill_disable": lib.PMC_TUNABLE_OOM_KILL_DISABLE,
                 "swappiness": lib.PMC_TUNABLE_SWAPPINESS,
                 "oom_group": lib.PMC_TUNABLE_OOM_GROUP}[name]
        return _check(lib.pmc_cgroup_tunable(self._h, self._cg, which,
                                             -1 if value is None else value), name)

    @property
    def objcg(self) -> Tuple[int, int]:
        """Its objcg (objcg mode): leftover bytes (``nr_charged_bytes``) and
        references (objects charged through it, CPU object stocks caching it)."""
        return _slab.objcg_info(self)

    def _kmem_slabinfo(self) -> str:
        return _slab.kmem_slabinfo(self)

    def _activate_kmem(self) -> None:
        _check(lib.pmc_cgroup_activate_kmem(self._h, self._cg), "activate kmem")

    # -- tasks ---------------------------------------------------------------------

    def fork(self, cpu: int = 0, oom_score_adj: int = 0, sparse: bool = False) -> "Task":
        """A new task in this cgroup.  Its kernel stack is charged as kernel
        memory (``Config.kernel_stack_pages``; page by page, undone on a
        refusal, where ``Config.stack_per_page``), which may reclaim and run
        the OOM killer.  :class:`ForkError` (ENOMEM) if the stack is refused:
        nothing stays charged.  ``sparse``: the task maps every page in its
        own 2 MiB region (a page-table page per page)."""
        cpu = _check_cpu(cpu, self._hier.config.ncpus)
        adj = check_int(oom_score_adj, "oom_score_adj")
        if not -1000 <= adj <= 1000:
            raise InvalidError(f"oom_score_adj must be in -1000..1000, not {adj}")
        sparse = check_bool(sparse, "sparse")
        r = lib.pmc_task_fork(self._h, self._cg, cpu, adj, lib.PMC_FORK_SPARSE if sparse else 0)
        if r == -_errno.ENOMEM:
            raise ForkError(f"fork in {self.path or '/'}: the kernel stack was refused")
        if r == -_errno.ESTALE:
            self._bad(r, 0, cpu, 0, "fork")
        return self._hier._task(_check(r, "fork"))

    @property
    def tasks(self) -> Tuple["Task", ...]:
        """Its live tasks, in fork order."""
        handles = _handles(lib.pmc_cgroup_tasks, self._h, self._cg)
        return tuple(self._hier._task(t) for t in handles)

    # -- sockets -------------------------------------------------------------------

    def sock_create(self) -> "Socket":
        """A socket made by a task of this (online) cgroup, in process
        context (``mem_cgroup_sk_alloc()``).  It is bound to this cgroup --
        and holds it, once removed, dying until closed -- unless this is the
        root or, on cgroup v1, socket accounting is not active here
        (:attr:`tcpmem_active`); an unbound socket charges nothing."""
        r = lib.pmc_sock_create(self._h, self._cg)
        if r == -_errno.ESTALE:
            self._bad(r, 0, 0, 0, "sock_create")
        r = _check(r, "sock_create")
        s = self._hier._socks.get(r)
        return s if s is not None else Socket(self._hier, r)

    @property
    def tcpmem_active(self) -> bool:
        """cgroup v1: new sockets are bound here (``tcpmem_active``; 3.x
        ``MEMCG_SOCK_ACTIVE``), after a write to
        memory.kmem.tcp.limit_in_bytes.  Always False on v2, where every
        non-root cgroup binds its sockets."""
        return bool(self._info().tcpmem_active)

    def _tcpmem_activate(self, active: bool) -> None:
        _check(lib.pmc_cgroup_tcpmem_active(self._h, self._cg, 1 if active else 0),
               "tcpmem_active")

    @property
    def under_socket_pressure(self) -> bool:
        """``mem_cgroup_under_socket_pressure()``.  cgroup v1: the
        ``tcpmem_pressure`` flag (set by a refused socket charge, cleared by
        a successful one).  cgroup v2: the kernel's flag is set by vmpressure
        when LRU reclaim scans much and frees little; reclaim here is a hook
        that scans no LRU, so v2 is never under socket pressure (False)."""
        return bool(self._info().tcpmem_pressure)

    @property
    def nr_sockets(self) -> int:
        """Open sockets bound to this cgroup."""
        return int(self._info().nr_sockets)

    def __eq__(self, other: object) -> bool:
        """The same cgroup: the same hierarchy and handle (two Python objects
        may stand for one cgroup when the first was collected meanwhile)."""
        if not isinstance(other, Cgroup):
            return NotImplemented
        return self._cg == other._cg and self._hier is other._hier

    def __hash__(self) -> int:
        return hash(self._cg)

    def __repr__(self) -> str:
        info = ffi.new("struct pmc_cgroup_info *")
        if lib.pmc_cgroup_info(self._h, self._cg, info):
            return f"<pymemcg.Cgroup {self.path or '/'} id={self.id} (freed)>"
        state = "online" if info.state == 1 else "dying"
        return f"<pymemcg.Cgroup {self.path or '/'} id={self.id} {state}>"

    # -- interface files (pymemcg.cgroupfs) --------------------------------------

    def read(self, name: str) -> str:
        """Read the interface file ``name`` ("memory.max", ...): exactly what
        the kernel prints.  See :mod:`pymemcg.cgroupfs`."""
        from . import cgroupfs

        return cgroupfs.read(self, name)

    def write(self, name: str, data: "str | bytes") -> None:
        """Write ``data`` to the interface file ``name``, with the kernel's
        parsing and errno.  See :mod:`pymemcg.cgroupfs`."""
        from . import cgroupfs

        cgroupfs.write(self, name, data)

    def open(self, name: str) -> Any:
        """Open the interface file ``name``: a :class:`pymemcg.cgroupfs.CgroupFile`
        (memory.peak keeps state per open file)."""
        from . import cgroupfs

        return cgroupfs.open(self, name)
