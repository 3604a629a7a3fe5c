"""The memcg tree and its charge path (mm/memcontrol.c) in plain Python.

This is the oracle of the C core's ``memcg.c``/``stock.c``: a
:class:`Hierarchy` of :class:`Cgroup` objects, each holding the page counters
of its preset (v1: memory, memsw, kmem, tcpmem; v2: memory, swap) chained to
the parent's counters of the same name; per-CPU charge stocks; the kernel's
``try_charge_memcg()`` retry loop with its events, drains, retries and OOM
accounting; memory.high handling at the end of each charging call; the 3.8
kmem path; the lifetime of removed ("dying") cgroups; and tasks (``task.c``:
a kernel stack, user pages and the page tables that map them) with the
memcg OOM killer that kills them (``oom.c``); and sockets (``sock.c``:
network buffers charged to the cgroup bound at creation, v1 on tcpmem, v2
on memory through the stock).

Everything is deterministic and single-threaded.  The model is NOT
thread-safe: there are no locks; use a hierarchy from one thread at a time.
A reclaim hook may call back into the same hierarchy (charge, uncharge,
remove ...); the cgroup being charged is pinned meanwhile so that it cannot
be freed under the charge.
"""

from __future__ import annotations

import errno
import heapq
import operator
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

from .. import replay as _replay
from .._common import (
    PAGE_COUNTER_MAX,
    PAGE_SIZE,
    U64_MASK,
    PageCounterState,
    check_bool,
    check_count,
    check_int,
    check_name,
)
from .._common import check_cpu as _check_cpu
from .._limits import Limits
from .._views import CounterView
from ..config import Config
from ..errors import (
    BusyError,
    ChargeError,
    DeadlockError,
    ExistsError,
    ForkError,
    KilledError,
    InvalidError,
    InvalidTypeError,
    NoSpaceError,
    NotFoundError,
    StaleHandleError,
    UnderflowError,
)
from ..gfp import (
    GFP_ACCOUNT,
    GFP_DIRECT_RECLAIM,
    GFP_FS,
    GFP_HIGH,
    GFP_KERNEL,
    GFP_KERNEL_ACCOUNT,
    GFP_KSWAPD_RECLAIM,
    GFP_NOFAIL,
    GFP_NORETRY,
    GFP_RETRY_MAYFAIL,
    check_gfp,
)
from .page_counter import PageCounter, _cancel
from .slab import SLAB_STATS, SlabHierarchyMixin, SlabState
from .task import Task, TaskHierarchyMixin
from .sock import SockHierarchyMixin, Socket
from .oom import OomHierarchyMixin

if TYPE_CHECKING:
    from . import owned_cpu as _owned_cpu
    from . import replayer as _replayer

if TYPE_CHECKING:
    from .. import cgroupfs

__all__ = ["Hierarchy", "Cgroup", "Task", "Socket", "EVENT_NAMES", "EVENTS", "STATS"]

#: memory.events keys, in the kernel's order (enum memcg_memory_event).
EVENT_NAMES: tuple[str, ...] = ("low", "high", "max", "oom", "oom_kill", "oom_group_kill")
EVENTS = EVENT_NAMES
#: memory.stat keys that pymemcg keeps (bytes), in memory_stats[] order.
#: ``kernel`` is every kernel page (MEMCG_KMEM), the stacks and page tables
#: included; ``kernel_stack`` and ``pagetables`` are those of tasks;
#: ``sock`` (MEMCG_SOCK) the v2 socket buffers, never part of ``kernel``;
#: ``slab_reclaimable``/``slab_unreclaimable`` (NR_SLAB_*_B) are kept in
#: bytes (model/slab.py), the others in pages.
STATS: tuple[str, ...] = ("anon", "kernel", "kernel_stack", "pagetables", "sock", *SLAB_STATS)


def _stat_bytes(stats: dict[str, int]) -> dict[str, int]:
    """memory.stat in bytes: pages * PAGE_SIZE, the slab keys as they are."""
    return {k: v if k in SLAB_STATS else v * PAGE_SIZE for k, v in stats.items()}

#: Cgroup ids are 1..MAX_ID (the root holds 1): the kernel's cgroup id space
#: for memcg (MEM_CGROUP_ID_MAX = USHRT_MAX).
MAX_ID = 65535
#: Cgroup handles: slot (bits 0..21), the slot's generation (22..45), the
#: kind (46: 0 a cgroup, 1 a task), the hierarchy's tag (47..62), as the C
#: core's.  A slot lives as long as its
#: cgroup (dying included); the memcg id is separate (given back at offline
#: on current kernels).  Both are handed out lowest free first.
_SLOT_BITS = 22
_SLOT_MAX = (1 << _SLOT_BITS) - 1
_GEN_MASK = (1 << 24) - 1
_KIND_TASK = 1 << 46  # bit 46: the handle names a task
# A socket's handle is of the task kind with bit 21 of the slot set; task
# slots stop below it (the C core's MEMCG_HANDLE_SOCK_SLOT).
_SOCK_SLOT = 1 << 21
_TASK_SLOT_MAX = _SOCK_SLOT - 1
_TAG_SHIFT = 47
_TAG_MAX = 0xFFFF
# Tags of live model hierarchies: unique among them, handed out round-robin
# (as the C core's), so a cgroup handle given to another hierarchy is seen.
_live_tags: "weakref.WeakValueDictionary[int, Hierarchy]" = weakref.WeakValueDictionary()
_tag_cursor = [0]


def _tag_alloc(h: "Hierarchy") -> int:
    for i in range(_TAG_MAX):
        tag = (_tag_cursor[0] + i) % _TAG_MAX + 1
        if tag not in _live_tags:
            _live_tags[tag] = h
            _tag_cursor[0] = tag
            return tag
    raise NoSpaceError("65,535 hierarchies are open")

#: PAGE_ALLOC_COSTLY_ORDER: charges above this order are not retried on mere
#: progress and do not invoke the OOM killer.
PAGE_ALLOC_COSTLY_ORDER = 3

#: oom_score_adj: OOM_SCORE_ADJ_MIN (never chosen) .. OOM_SCORE_ADJ_MAX.
OOM_SCORE_ADJ_MIN = -1000
OOM_SCORE_ADJ_MAX = 1000
#: x86-64 four-level page tables: entries per PTE, PMD and PUD page.
PTRS_PER_TABLE = 512


# memory.high throttling (mm/memcontrol.c)
_MEMCG_DELAY_PRECISION_SHIFT = 20
_MEMCG_DELAY_SCALING_SHIFT = 14
_SWAP_CLUSTER_MAX = 32
_MEM_CGROUP_MAX_RECLAIM_LOOPS = 100


def _calculate_overage(usage: int, high: int) -> int:
    """``calculate_overage()``: ((usage - high) << 20) / high in u64."""
    if usage <= high:
        return 0
    high = max(high, 1)
    return (((usage - high) << _MEMCG_DELAY_PRECISION_SHIFT) & U64_MASK) // high


def _calculate_high_delay(cfg: Config, nr_pages: int, max_overage: int) -> int:
    """``calculate_high_delay()``: overage^2 * HZ >> 34, scaled by
    nr_pages / MEMCG_CHARGE_BATCH, in unsigned long."""
    if not max_overage:
        return 0
    penalty = (max_overage * max_overage * cfg.hz) & U64_MASK
    penalty >>= _MEMCG_DELAY_PRECISION_SHIFT + _MEMCG_DELAY_SCALING_SHIFT
    return ((penalty * nr_pages) & U64_MASK) // cfg.charge_batch


# splitmix64 constants
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB

ReclaimHook = Callable[["Cgroup", int], int]


# ---------------------------------------------------------------------- helpers


def _check_hook_result(freed: object) -> int:
    """A reclaim hook returns the pages it freed: an int >= 0 (any size;
    ``bool`` and non-integers raise :class:`InvalidTypeError`, a negative
    value :class:`InvalidError`)."""
    if freed.__class__ is not int:
        if isinstance(freed, bool):
            raise InvalidTypeError("a reclaim hook returns the pages it freed (int), not bool")
        try:
            freed = operator.index(freed)  # type: ignore[arg-type]
        except TypeError:
            raise InvalidTypeError(
                f"a reclaim hook returns the pages it freed (int), not {type(freed).__name__}"
            ) from None
    assert isinstance(freed, int)
    if freed < 0:
        raise InvalidError(f"a reclaim hook returned {freed} pages")
    return freed


def _depth(cg: "Cgroup") -> int:
    """Number of ancestors (0 for the root)."""
    depth, p = 0, cg._parent
    while p is not None:
        depth, p = depth + 1, p._parent
    return depth


def _get_order(nr_pages: int) -> int:
    """``get_order(nr_pages * PAGE_SIZE)``: the smallest o with 2**o >= nr_pages
    (0 for 0 or 1 page)."""
    return (nr_pages - 1).bit_length() if nr_pages > 1 else 0


class _SplitMix64:
    """splitmix64, the per-CPU generator behind random stock-slot eviction
    (stands in for the kernel's ``get_random_u32_below()``)."""

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        self.state = seed & U64_MASK

    def next(self) -> int:
        """The next 64-bit output."""
        self.state = (self.state + _GOLDEN) & U64_MASK
        z = self.state
        z = ((z ^ (z >> 30)) * _MIX1) & U64_MASK
        z = ((z ^ (z >> 27)) * _MIX2) & U64_MASK
        return z ^ (z >> 31)


class _CgCounter(PageCounter):
    """A page counter that knows its cgroup and its name (``memcg->memory`` ...),
    so a failing level maps back to the cgroup over its limit
    (``mem_cgroup_from_counter()``)."""

    __slots__ = ("cgroup", "cname")

    def __init__(
        self,
        cgroup: Cgroup,
        cname: str,
        parent: Optional[PageCounter],
        track_failcnt: bool,
        protection: bool,
    ) -> None:
        super().__init__(parent, track_failcnt=track_failcnt, protection=protection)
        self.cgroup = cgroup
        self.cname = cname


def _views_of(exc: UnderflowError) -> list[CounterView]:
    """The clamped levels of a page-counter underflow as CounterViews."""
    out = []
    for c in exc.counters:
        assert isinstance(c, _CgCounter)
        out.append(CounterView(c.cgroup, c.cname))
    return out


class _ChargeCtx:
    """The state of one charging call (the C core's ``struct charge_ctx``):
    the CPU, the charging task if any (the OOM killer's ``current``), pages
    charged over memory.high (``current->memcg_nr_pages_over_high``), the
    memory.high delay the call earned, and whether 3.8 bypassed the charge
    to the root."""

    __slots__ = ("cpu", "task", "pending_high", "throttle_jiffies", "bypassed", "charged")

    def __init__(self, cpu: int, task: Optional[Task]) -> None:
        self.cpu = cpu
        self.task = task
        self.pending_high = 0
        self.throttle_jiffies = 0
        self.bypassed = False
        # The pages are charged (before the memory.high work, which may then
        # raise in a reclaim hook: the pages are the caller's all the same).
        self.charged = False


#: The attribute a hook's exception carries out of a task's charge when the
#: charge itself went through (memcg_charge_task's *charged).
_CHARGED_MARK = "_pymemcg_charged"


def _take_charged(exc: BaseException) -> bool:
    """Did the charge that ``exc`` (a reclaim hook's) came out of go through?
    The mark is taken off: the exception goes on to the caller plain."""
    if getattr(exc, _CHARGED_MARK, False):
        delattr(exc, _CHARGED_MARK)
        return True
    return False


def _task_dying(task: Optional[Task]) -> bool:
    """``task_is_dying()`` (3.8: ``TIF_MEMDIE``) of the charging task: an
    OOM victim, or gone."""
    return task is not None and (not task._alive or task._oom_victim)


def _uncharge(counter: PageCounter, nr_pages: int, clamped: Optional[list[CounterView]]) -> None:
    """``page_counter_uncharge()``; clamped levels (the kernel WARNs) are
    appended to ``clamped`` when given, else ignored."""
    try:
        counter.uncharge(nr_pages)
    except UnderflowError as exc:
        if clamped is not None:
            clamped.extend(_views_of(exc))


# ---------------------------------------------------------------------- Cgroup


class Cgroup(Limits):
    """One memory cgroup (``struct mem_cgroup``).

    Made by :meth:`Hierarchy.create` / :meth:`Cgroup.create`, never directly.
    Looking up the same path twice returns the same object.  A handle stays
    valid while the cgroup exists, dying included (``remove()`` offlines it;
    it lives on while pages, children or stock slots still reference it);
    once it is freed every use except ``path``, ``name``, ``id``, ``online``,
    ``dying`` and ``repr()`` raises :class:`StaleHandleError`.

    Not thread-safe.
    """

    # Set by _new() (the object is made by object.__new__, never __init__);
    # declared here for the type checker.  Annotations only: no class attributes.
    _hierarchy: Hierarchy
    _parent: Optional[Cgroup]
    _name: str
    _path: str
    _id: int
    _id_held: bool
    _slot: int
    _gen: int
    _online: bool
    _freed: bool
    _children_all: list[Cgroup]
    _online_by_name: dict[str, Cgroup]
    _events: dict[str, int]
    _events_local: dict[str, int]
    _vmstats: dict[str, int]
    _stock_refs: int
    _pins: int
    _throttle_jiffies: int
    _kmem_own: int
    _shell: bool
    _nr_shells: int
    _user_segs: int
    _task_ksegs: int
    _dead_stat: dict[str, int]
    _tasks: dict[Task, None]
    _nr_forking: int
    _nr_sockets: int
    _tcpmem_active: bool
    _tcpmem_pressure: int
    _oom_group: int
    _oom_livelocks: int
    _oom_kill_disable: int
    _swappiness: int
    _kmem_active: bool
    _counters: dict[str, _CgCounter]

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("cgroups are made by Hierarchy.create() or Cgroup.create()")

    @classmethod
    def _new(cls, hierarchy: Hierarchy, parent: Optional[Cgroup], name: str, cgid: int,
             slot: int) -> Cgroup:
        """``mem_cgroup_alloc()`` + ``mem_cgroup_css_online()``."""
        self = object.__new__(cls)
        cfg = hierarchy.config
        self._hierarchy = hierarchy
        self._parent = parent
        self._name = name
        self._path = name if parent is None or parent._parent is None else f"{parent._path}/{name}"
        self._id = cgid
        hierarchy._by_id[cgid] = self
        self._id_held = True
        # The handle's slot and its generation, as the C core counts it: odd
        # while in use, bumped at every allocation and every free, wrapping
        # within 24 bits (0 skipped): handles do not repeat for 2**23 reuses.
        self._slot = slot
        gen = (hierarchy._slot_gens.get(slot, 0) + 1) & _GEN_MASK
        self._gen = gen or 1
        hierarchy._slot_gens[slot] = self._gen
        hierarchy._by_slot[slot] = self
        self._online = True
        self._freed = False
        self._children_all = []  # online and dying, creation order
        self._online_by_name = {}
        self._events = dict.fromkeys(EVENT_NAMES, 0)
        self._events_local = dict.fromkeys(EVENT_NAMES, 0)
        # memory.stat (STATS), in pages, signed (never clamped): what was
        # charged to this cgroup itself (memcg->vmstats).
        self._vmstats = dict.fromkeys(STATS, 0)
        self._stock_refs = 0  # stock slots caching this cgroup (css refs held by stocks)
        self._pins = 0  # calls in progress on this cgroup (css refs held by a charge)
        self._throttle_jiffies = 0  # memory.high delay its charges earned (not slept)
        self._kmem_own = 0  # kernel pages charged through its own objcg, not uncharged
        self._shell = False  # freed, but its objcg still has pages charged (C: MEMCG_SHELL)
        self._nr_shells = 0  # shells whose parent this is (they pin it)
        # Tasks' segments naming it (C: the user_segs list, task_ksegs): a
        # task's pages hold their cgroup as the kernel's hold a css reference.
        self._user_segs = 0
        self._task_ksegs = 0  # kernel pages: stacks and page tables
        self._dead_stat = dict.fromkeys(STATS, 0)  # folded in from freed descendants
        self._tasks = {}  # its live tasks, in fork / move-in order
        self._nr_forking = 0  # forks in progress: they count as tasks (EBUSY)
        self._nr_sockets = 0  # open sockets bound here: each a css reference (C: refs)
        self._tcpmem_active = False  # v1: new sockets are bound (memory.kmem.tcp.limit_in_bytes)
        self._tcpmem_pressure = 0  # v1: the last socket charge failed
        self._oom_group = 0  # v2 memory.oom.group (not inherited)
        self._oom_livelocks = 0  # 3.8 charges refused here that 3.8 would retry forever
        # v1 tunables, copied from the parent (mem_cgroup_css_alloc); the
        # root's swappiness is the hierarchy's vm_swappiness sysctl.
        self._oom_kill_disable = parent._oom_kill_disable if parent is not None else 0
        self._swappiness = hierarchy._swappiness_of(parent) if parent is not None else 0
        if cfg.kmem_activation == "always":
            self._kmem_active = True
        else:  # 3.8: children of an activated group are activated at creation
            self._kmem_active = parent._kmem_active if parent is not None else False
        self._counters = {}
        for cname in cfg.counters:
            if cfg.version == 2:
                prot, track = cname == "memory", False
            else:
                prot = False
                track = cfg.failcnt == "all" or (cfg.failcnt == "memory" and cname == "memory")
            pc = parent._counters[cname] if parent is not None else None
            self._counters[cname] = _CgCounter(self, cname, pc, track, prot)
        return self

    # ------------------------------------------------------------------ identity

    @property
    def name(self) -> str:
        """The last path component ("" for the root)."""
        return self._name

    @property
    def path(self) -> str:
        """The path below the root, ``"a/b"`` (the root is ``""``)."""
        return self._path

    @property
    def id(self) -> int:
        """The memcg id (``mem_cgroup_id()``), 1..65535; the root holds 1."""
        return self._id

    @property
    def handle(self) -> int:
        """``slot | generation << 22 | hierarchy tag << 47``, as replay
        records name a cgroup (the C core's layout)."""
        return (self._hierarchy._tag << _TAG_SHIFT) | (self._gen << _SLOT_BITS) | self._slot

    @property
    def online(self) -> bool:
        """True until :meth:`remove`."""
        return self._online

    @property
    def dying(self) -> bool:
        """Removed but not yet freed (an offline memcg still referenced by
        pages, children or stocks).  False once freed."""
        return not self._online and not self._freed

    def _live(self) -> None:
        h = self._hierarchy
        if h._owners and not h._owned_call:
            h._owner_guard()
        if self._freed:
            if self._hierarchy._closed:
                raise StaleHandleError(f"cgroup {self._path!r}: its hierarchy is closed")
            raise StaleHandleError(f"cgroup {self._path!r} (id {self._id}) has been freed")

    @property
    def hierarchy(self) -> Hierarchy:
        """The :class:`Hierarchy` this cgroup belongs to."""
        self._live()
        return self._hierarchy

    @property
    def parent(self) -> Optional[Cgroup]:
        """``parent_mem_cgroup()``: the parent cgroup, None for the root."""
        self._live()
        return self._parent

    @property
    def children(self) -> tuple[Cgroup, ...]:
        """The online children, in creation order."""
        self._live()
        return tuple(c for c in self._children_all if c._online)

    @property
    def nr_descendants(self) -> int:
        """cgroup.stat ``nr_descendants``: online descendants at all depths."""
        self._live()
        return sum(1 for c in self._descendants() if c._online)

    @property
    def nr_dying_descendants(self) -> int:
        """cgroup.stat ``nr_dying_descendants``: removed, not yet freed descendants."""
        self._live()
        return sum(1 for c in self._descendants() if not c._online)

    def _descendants(self) -> Iterator[Cgroup]:
        """Every existing descendant (online and dying), pre-order (iterative:
        trees may be deeper than Python's recursion limit)."""
        stack = list(reversed(self._children_all))
        while stack:
            c = stack.pop()
            yield c
            stack.extend(reversed(c._children_all))

    def _is_descendant_of(self, root: Cgroup) -> bool:
        """``mem_cgroup_is_descendant()`` (equality included)."""
        c: Optional[Cgroup] = self
        while c is not None:
            if c is root:
                return True
            c = c._parent
        return False

    def __repr__(self) -> str:
        state = "online" if self._online else ("freed" if self._freed else "dying")
        return f"<model.Cgroup {self._path!r} id={self._id} {state}>"

    # ------------------------------------------------------------------ tree

    def create(self, name: str) -> Cgroup:
        """Create the child ``name`` (``mkdir``: ``cgroup_mkdir()`` →
        ``mem_cgroup_css_alloc()``/``css_online()``).

        ``name`` follows mkdir's rules and errnos (see
        :func:`pymemcg._common.check_name`: :class:`InvalidError`,
        :class:`ExistsError` for ``.`` and ``..``, :class:`NameTooLongError`
        from 4096 bytes); an online child of that name raises :class:`ExistsError` (a dying one is
        invisible); a cgroup that is not online raises :class:`NotFoundError`;
        no free id raises :class:`NoSpaceError`.  The new cgroup takes the
        lowest free id.
        """
        name = check_name(name).decode()
        self._live()
        h = self._hierarchy
        if not self._online:
            raise NotFoundError(f"cgroup {self._path!r} has been removed")
        if name in self._online_by_name:
            raise ExistsError(f"cgroup {name!r} exists in {self._path!r}")
        cgid, slot = h._alloc_ids()
        child = Cgroup._new(h, self, name, cgid, slot)
        self._children_all.append(child)
        self._online_by_name[name] = child
        h._register(child)
        h._slab.cgroup_created(child)
        h._free_check()
        return child

    def remove(self) -> None:
        """Remove this cgroup (``rmdir``: ``mem_cgroup_css_offline()``).

        The root raises :class:`BusyError`; so does a cgroup with online
        children or with tasks (``cgroup_destroy_locked()``: the css_set
        has tasks); an already removed cgroup raises :class:`StaleHandleError`.
        The cgroup goes offline (dying), its memory.min and memory.low are
        reset to 0 (``page_counter_set_min/low``, with propagation), every
        stock caching it or a descendant is drained (``drain_all_stock``),
        and it is freed as soon as nothing references it.
        """
        self._live()
        if self._parent is None:
            raise BusyError("the root cgroup cannot be removed")
        if not self._online:
            raise StaleHandleError(f"cgroup {self._path!r} is already removed")
        if any(c._online for c in self._children_all):
            raise BusyError(f"cgroup {self._path!r} has online children")
        if self._tasks or self._nr_forking:
            raise BusyError(f"cgroup {self._path!r} has tasks")
        h = self._hierarchy
        try:
            self._online = False
            del self._parent._online_by_name[self._name]
            h._dying[self] = None
            memory = self._counters["memory"]
            memory.set_min(0)
            memory.set_low(0)
            h._slab.offline(self)  # memcg_offline_kmem(), before drain_all_stock
            h._drain_all_stock(self)
            if h._config.reparent_user_pages:
                h._reparent_user_pages(self)
            if h._config.id_at_offline:
                h._release_id(self)  # mem_cgroup_id_put(): no swap holds it
        finally:
            h._free_check()

    # ------------------------------------------------------------------ counters

    def _check_counter_name(self, cname: object) -> str:
        """``cname`` if the preset has that counter, else AttributeError."""
        if not isinstance(cname, str) or cname not in self._counters:
            raise AttributeError(f"this preset's cgroups have no {cname!r} counter")
        return cname

    def _counter(self, cname: object) -> _CgCounter:
        """The page counter called ``cname`` (AttributeError if the preset
        lacks it, then StaleHandleError if the cgroup is freed)."""
        name = self._check_counter_name(cname)
        self._live()
        return self._counters[name]

    def _view(self, cname: str) -> CounterView:
        self._counter(cname)
        return CounterView(self, cname)

    @property
    def memory(self) -> CounterView:
        """The ``memory`` counter (memory.current / memory.usage_in_bytes)."""
        return self._view("memory")

    @property
    def memsw(self) -> CounterView:
        """The v1 ``memsw`` counter (memory.memsw.*); AttributeError on v2."""
        return self._view("memsw")

    @property
    def kmem(self) -> CounterView:
        """The v1 ``kmem`` counter (memory.kmem.*); AttributeError on v2."""
        return self._view("kmem")

    @property
    def tcpmem(self) -> CounterView:
        """The v1 ``tcpmem`` counter (memory.kmem.tcp.*); AttributeError on v2."""
        return self._view("tcpmem")

    @property
    def swap(self) -> CounterView:
        """The v2 ``swap`` counter (memory.swap.*); AttributeError on v1."""
        return self._view("swap")

    def _counter_state(self, cname: str) -> PageCounterState:
        """Every field of the counter ``cname`` (what CounterView reads)."""
        return self._counter(cname).snapshot()

    def _set_max(self, cname: str, nr_pages: int) -> None:
        """``page_counter_set_max()`` on counter ``cname`` (BusyError if its
        usage is above ``nr_pages``)."""
        name = self._check_counter_name(cname)
        n = check_count(nr_pages)
        self._counter(name).set_max(n)

    def _xchg_max(self, cname: str, nr_pages: int) -> int:
        """``xchg(&counter->max, nr_pages)`` (v2 memory.max installs the limit
        whatever the usage); returns the old limit."""
        name = self._check_counter_name(cname)
        n = check_count(nr_pages)
        counter = self._counter(name)
        old = counter._max
        counter._max = n
        return old

    def _set_min(self, nr_pages: int) -> None:
        """``page_counter_set_min()`` on the memory counter (with propagation)."""
        n = check_count(nr_pages)
        self._live()
        self._counters["memory"].set_min(n)

    def _set_low(self, nr_pages: int) -> None:
        """``page_counter_set_low()`` on the memory counter (with propagation)."""
        n = check_count(nr_pages)
        self._live()
        self._counters["memory"].set_low(n)

    def _set_high(self, cname: str, nr_pages: int) -> None:
        """``page_counter_set_high()`` on ``memory`` or (v2) ``swap``."""
        if cname not in ("memory", "swap"):
            raise AttributeError(f"no high limit on the {cname!r} counter")
        name = self._check_counter_name(cname)
        n = check_count(nr_pages)
        self._counter(name).set_high(n)

    def _reset_watermark(self, cname: str) -> None:
        """``page_counter_reset_watermark()`` on ``cname`` (v1 max_usage reset)."""
        self._counter(cname).reset_watermark()

    def _reset_local_watermark(self, cname: str) -> None:
        """Reset ``local_watermark`` of ``cname`` (v2 memory.peak fd reset)."""
        self._counter(cname).reset_local_watermark()

    def _reset_failcnt(self, cname: str) -> None:
        """``failcnt = 0`` on ``cname`` (a write to memory.*failcnt)."""
        self._counter(cname)._failcnt = 0

    # ------------------------------------------------------------------ kmem activation

    @property
    def kmem_active(self) -> bool:
        """Whether kernel memory is accounted to this cgroup (always True
        unless ``kmem_activation == "on_limit"``, Linux 3.8-4.5)."""
        self._live()
        return self._kmem_active

    def _tunable(self, name: str, value: Optional[int] = None) -> int:
        """Read (or set) a tunable the core keeps: v1 "oom_kill_disable" and
        "swappiness" (the root's is the hierarchy's vm_swappiness), v2
        "oom_group" (memory.oom.group, not inherited)."""
        if name not in ("oom_kill_disable", "swappiness", "oom_group"):
            raise KeyError(name)
        self._live()
        h = self._hierarchy
        if name == "oom_kill_disable":
            if value is not None:
                if not 0 <= value <= 1:
                    raise InvalidError("oom_kill_disable is 0 or 1")
                self._oom_kill_disable = value
            return self._oom_kill_disable
        if name == "oom_group":
            if value is not None:
                if not 0 <= value <= 1:
                    raise InvalidError("memory.oom.group is 0 or 1")
                self._oom_group = value
            return self._oom_group
        if value is not None:
            if not 0 <= value <= 200:
                raise InvalidError("swappiness is 0..200")
            if self._parent is None:
                h._vm_swappiness = value
            else:
                self._swappiness = value
        return h._swappiness_of(self)

    def _activate_kmem(self) -> None:
        """3.8 ``memcg_update_kmem_limit()`` on the first kmem limit write:
        BusyError if the cgroup has children (its children list, which rmdir
        empties: online ones) or tasks (``cgroup_task_count()``) and kmem is
        not active yet; a no-op once active (always, with "always")."""
        self._live()
        if self._kmem_active:
            return
        if any(c._online for c in self._children_all):
            raise BusyError(f"cgroup {self._path!r} has children")
        if self._tasks or self._nr_forking:
            raise BusyError(f"cgroup {self._path!r} has tasks")
        self._kmem_active = True
        self._hierarchy._slab.kmem_activated(self)

    # ------------------------------------------------------------------ charging

    def try_charge(
        self, nr_pages: int, cpu: int = 0, flags: int = GFP_KERNEL, kmem: bool = False
    ) -> Optional[Cgroup]:
        """Charge ``nr_pages`` to this cgroup from ``cpu``.

        ``try_charge()``/``try_charge_memcg()`` for user pages, or with
        ``kmem`` the kmem path (``obj_cgroup_charge_pages()`` +
        ``memcg_account_kmem()``; on 3.8 ``memcg_charge_kmem()``).  Returns
        None when charged (or when nothing is charged at all: the root, 0
        pages, or kmem of a cgroup whose kmem accounting is not active), else the
        cgroup over its limit.  A removed cgroup raises
        :class:`StaleHandleError`.  An exception from the reclaim hook
        abandons the charge and propagates.
        """
        n = check_count(nr_pages)
        h = self._hierarchy
        cpu = _check_cpu(cpu, h.config.ncpus)
        gfp = check_gfp(flags)
        kmem = kmem if kmem.__class__ is bool else check_bool(kmem, "kmem")
        self._live()
        if not self._online:
            raise StaleHandleError(f"cannot charge the removed cgroup {self._path!r}")
        self._pins += 1
        try:
            return h._charge(self, n, cpu, gfp, kmem)
        finally:
            self._pins -= 1
            h._free_check()

    def uncharge(self, nr_pages: int, cpu: int = 0, kmem: bool = False) -> None:
        """Uncharge ``nr_pages`` (allowed on a dying cgroup).

        User pages go straight to the counters (``uncharge_batch()``); kernel
        pages (``kmem``) update the stat, the v1 kmem counter, and then go
        through the stock (``refill_stock()``, Linux 4.14+) or directly to
        memory[+memsw] (3.8 ``memcg_uncharge_kmem()``).  The root is a
        no-op.  Pages that offline moved come off the nearest online
        ancestor: kernel pages with the objcg (5.9+), user pages with 3.8's
        ``mem_cgroup_reparent_charges()``; a shell (a freed cgroup whose
        objcg still has kernel pages) takes kernel uncharges only.  If any
        level underflowed, the whole uncharge is still applied and then
        :class:`UnderflowError` names the clamped levels.
        """
        n = check_count(nr_pages)
        h = self._hierarchy
        cpu = _check_cpu(cpu, h.config.ncpus)
        kmem = kmem if kmem.__class__ is bool else check_bool(kmem, "kmem")
        if not (self._shell and kmem and not h._closed):
            self._live()    # a shell is only there for its objcg's kernel pages
        clamped: list[CounterView] = []
        try:
            h._uncharge(self, n, cpu, kmem, clamped)
        finally:
            h._free_check()
        if clamped:
            # Reported in one order for every path: by counter (memory,
            # memsw, kmem, tcpmem), each from the leaf up.
            order = {name: i for i, name in enumerate(h.config.counters)}
            clamped.sort(key=lambda v: (order[v.name], -_depth(v.cgroup)))
            raise UnderflowError(
                f"underflow uncharging {n} page(s) from {self._path!r} at {len(clamped)} level(s)",
                counters=clamped,
                nr_pages=n,
            )

    # ------------------------------------------------------------------ tasks

    def fork(self, cpu: int = 0, oom_score_adj: int = 0, sparse: bool = False) -> Task:
        """A new task in this cgroup (``copy_process()``).  Its kernel stack
        is charged as kernel memory (``Config.kernel_stack_pages``; page by
        page, the pages charged so far given back on a refusal, where
        ``Config.stack_per_page``: ``memcg_charge_kernel_stack()``; else as
        one allocation), which may reclaim and run the OOM killer.
        :class:`ForkError` (ENOMEM) if the stack is refused: nothing stays
        charged.  ``sparse``: the task maps every page in its own 2 MiB
        region (a page-table page per page).  A cgroup that is not online
        raises :class:`StaleHandleError`."""
        h = self._hierarchy
        cpu = _check_cpu(cpu, h.config.ncpus)
        adj = check_int(oom_score_adj, "oom_score_adj")
        if not OOM_SCORE_ADJ_MIN <= adj <= OOM_SCORE_ADJ_MAX:
            raise InvalidError(f"oom_score_adj must be in -1000..1000, not {adj}")
        sparse = check_bool(sparse, "sparse")
        self._live()
        if not self._online:
            raise StaleHandleError(f"fork: cgroup {self._path!r} is removed")
        return h._fork(self, cpu, adj, sparse)

    @property
    def tasks(self) -> tuple[Task, ...]:
        """Its live tasks, in fork order (a task moved in goes last)."""
        self._live()
        return tuple(self._tasks)

    # ------------------------------------------------------------------ sockets

    def sock_create(self) -> Socket:
        """A socket made by a task of this (online) cgroup, in process
        context (``mem_cgroup_sk_alloc()``).  Bound to this cgroup -- a css
        reference that keeps it, once removed, dying until the socket is
        closed -- unless this is the root or, on cgroup v1, socket accounting
        is not active here (:attr:`tcpmem_active`).  A cgroup that is not
        online raises :class:`StaleHandleError`."""
        self._live()
        if not self._online:
            raise StaleHandleError(f"sock_create: cgroup {self._path!r} is removed")
        return self._hierarchy._sock_create(self)

    @property
    def tcpmem_active(self) -> bool:
        """cgroup v1: new sockets are bound here (``tcpmem_active``; 3.x
        ``MEMCG_SOCK_ACTIVE``), after a write to
        memory.kmem.tcp.limit_in_bytes.  Always False on v2, where every
        non-root cgroup binds its sockets."""
        self._live()
        return self._tcpmem_active

    def _tcpmem_activate(self, active: bool) -> None:
        """Turn v1 socket accounting of new sockets on or off (the
        interface file applies the era's rule)."""
        self._live()
        if self._shell:
            raise StaleHandleError(f"cgroup {self._path!r} no longer exists")
        if self._hierarchy.config.version != 1:
            raise InvalidError("socket accounting is switched by a v1 file only")
        self._tcpmem_active = bool(active)

    @property
    def under_socket_pressure(self) -> bool:
        """``mem_cgroup_under_socket_pressure()``: on v1 the
        ``tcpmem_pressure`` flag (set by a refused socket charge, cleared by
        a successful one); on v2 vmpressure's flag, which LRU reclaim sets
        -- reclaim here is a hook that scans no LRU: always False."""
        self._live()
        return bool(self._tcpmem_pressure)

    @property
    def nr_sockets(self) -> int:
        """Open sockets bound to this cgroup."""
        self._live()
        return self._nr_sockets

    # ------------------------------------------------------------------ stats, events

    @property
    def stat(self) -> dict[str, int]:
        """memory.stat ``anon``, ``kernel``, ``kernel_stack`` and ``pagetables``
        in bytes (signed): the subtree's on cgroup v2 (its memory.stat is
        hierarchical), this cgroup's own on v1."""
        self._live()
        if self._hierarchy.config.version == 2:
            return self._subtree_stat()
        return _stat_bytes(self._vmstats)

    def _subtree_stat(self) -> dict[str, int]:
        """This cgroup's and every descendant's, freed ones' included (their
        counts stay in their ancestors, as the kernel's rstat keeps them)."""
        total = {k: self._vmstats[k] + self._dead_stat[k] for k in STATS}
        for c in self._descendants():
            for k in STATS:
                total[k] += c._vmstats[k] + c._dead_stat[k]
        return _stat_bytes(total)

    @property
    def stat_local(self) -> dict[str, int]:
        """The same statistics, charged to this cgroup itself, in bytes."""
        self._live()
        return _stat_bytes(self._vmstats)

    def _stat_hierarchical(self) -> dict[str, int]:
        """The same, summed over the whole subtree (v1's ``total_*`` keys)."""
        self._live()
        return self._subtree_stat()

    @property
    def oom_livelocks(self) -> int:
        """Charges refused here that Linux 3.8 would have retried forever (its
        memcg OOM killer found no victim, or could not be reached): pymemcg
        fails them instead.  Always 0 with the current charge loop."""
        self._live()
        return self._oom_livelocks

    @property
    def throttle_jiffies(self) -> int:
        """The memory.high throttling its charges earned: the jiffies
        ``mem_cgroup_handle_over_high()`` would have slept (not slept here)."""
        self._live()
        return self._throttle_jiffies

    @property
    def events(self) -> dict[str, int]:
        """memory.events: hierarchical on v2 (unless memory_localevents), local on v1."""
        self._live()
        return dict(self._events)

    @property
    def events_local(self) -> dict[str, int]:
        """memory.events.local: this cgroup's own events."""
        self._live()
        return dict(self._events_local)

    def _event(self, name: str) -> None:
        """``memcg_memory_event(self, name)``."""
        if name not in EVENT_NAMES:
            raise InvalidError(f"unknown memory event {name!r}")
        self._live()
        self._hierarchy._memcg_memory_event(self, name)

    def _out_of_memory(self, cpu: int = 0) -> bool:
        """``mem_cgroup_out_of_memory()`` for a limit write (v2 memory.max
        below the usage): True if the margin fits already or a task was
        killed (its pages uncharged on ``cpu``), False if there was no one
        to kill."""
        h = self._hierarchy
        cpu = _check_cpu(cpu, h.config.ncpus)
        self._live()
        if h._mem_cgroup_margin(self, h._config.memsw) >= 1:
            return True
        try:
            return h._oom_kill(_ChargeCtx(cpu, None), self)
        finally:
            h._free_check()

    def _reclaim(self, nr_pages: int) -> int:
        """Reclaim through the hook (``try_to_free_mem_cgroup_pages()``):
        the pages both claimed by the hook and seen gone from ``memory``."""
        n = check_count(nr_pages)
        self._live()
        h = self._hierarchy
        try:
            return h._try_to_free(self, n)
        finally:
            h._free_check()

    @property
    def objcg(self) -> tuple[int, int]:
        """Its objcg (objcg mode): leftover bytes (``nr_charged_bytes``) and
        references (objects charged through it, CPU object stocks caching it).
        A freed cgroup whose objcg lives on (a shell) still answers."""
        if not self._shell:
            self._live()
        return self._hierarchy._slab.objcg_info(self)

    def _kmem_slabinfo(self) -> str:
        """v1 memory.kmem.slabinfo (clone mode; "" otherwise): model/slab.py."""
        self._live()
        return self._hierarchy._slab.cgroup_slabinfo(self)

    # ------------------------------------------------------------------ interface files

    def read(self, name: str) -> str:
        """Read the interface file ``name`` ("memory.max", ...): exactly what
        the kernel prints.  See :mod:`pymemcg.cgroupfs`."""
        from .. import cgroupfs

        return cgroupfs.read(self, name)

    def write(self, name: str, data: str | bytes) -> None:
        """Write ``data`` to the interface file ``name``, with the kernel's
        parsing and errno.  See :mod:`pymemcg.cgroupfs`."""
        from .. import cgroupfs

        cgroupfs.write(self, name, data)

    def open(self, name: str) -> "cgroupfs.CgroupFile":
        """Open the interface file ``name``: a :class:`pymemcg.cgroupfs.CgroupFile`
        (memory.peak keeps state per open file)."""
        from .. import cgroupfs

        return cgroupfs.open(self, name)


# ---------------------------------------------------------------------- Hierarchy


class Hierarchy(TaskHierarchyMixin, SockHierarchyMixin, OomHierarchyMixin, SlabHierarchyMixin):
    """A memcg hierarchy: the cgroup tree, the per-CPU stocks and the
    reclaim hook.

    ``Hierarchy(config=None, reclaim=None)``: ``config`` defaults to
    ``Config.current()``; ``reclaim`` is an optional callable
    ``(cgroup, nr_pages) -> pages freed`` standing in for
    ``try_to_free_mem_cgroup_pages()`` (without one, reclaim frees nothing).

    Not thread-safe.
    """

    def __init__(self, config: Optional[Config] = None, reclaim: Optional[ReclaimHook] = None) -> None:
        if config is None:
            config = Config.current()
        if not isinstance(config, Config):
            raise InvalidTypeError(f"config must be a pymemcg.Config, not {type(config).__name__}")
        if not config.stock_refill_cap and config.stock_slots != 1:
            # as the C core: the uncapped (pre-4.14) stock has exactly one slot
            raise InvalidError("a stock without the refill cap has exactly one slot")
        self._config = config
        self._reclaim: Optional[ReclaimHook] = None
        self.reclaim = reclaim
        ncpus, k = config.ncpus, config.stock_slots
        # memcg_stock_pcp: per CPU, k slots of (cached cgroup, nr_pages)
        self._cached: list[list[Optional[Cgroup]]] = [[None] * k for _ in range(ncpus)]
        self._nr_pages: list[list[int]] = [[0] * k for _ in range(ncpus)]
        self._rng = [_SplitMix64(config.seed + cpu) for cpu in range(ncpus)]
        self._free_ids: list[int] = []  # heap of released ids, all < _next_id
        self._by_id: dict[int, Cgroup] = {}  # id -> the cgroup holding it
        self._next_id = 1
        self._free_slots: list[int] = []  # heap of released handle slots, all < _next_slot
        self._slot_gens: dict[int, int] = {}  # slot -> its generation (even while free)
        self._by_slot: dict[int, Cgroup] = {}  # slot -> the cgroup holding it
        self._next_slot = 1
        self._serial = 0
        self._all: dict[int, Cgroup] = {}  # serial -> cgroup, creation order
        self._serial_of: dict[Cgroup, int] = {}
        self._dying: dict[Cgroup, None] = {}
        self._shells: dict[Cgroup, None] = {}
        self._tasks: dict[int, Task] = {}  # handle -> live task, fork order
        self._socks: dict[int, Socket] = {}  # handle -> open socket
        self._free_sock_slots: list[int] = []  # heap of released socket slots
        self._sock_slot_gens: dict[int, int] = {}  # socket slot -> its generation
        self._next_sock_slot = 1
        self._free_task_slots: list[int] = []  # heap of released task slots
        self._task_slot_gens: dict[int, int] = {}  # task slot -> its generation
        self._next_task_slot = 1
        self._closed = False
        self._vm_swappiness = 60  # the sysctl
        self._hook_depth = 0  # reclaim hooks running (close() from one is refused)
        self._owners: dict[int, _owned_cpu.OwnedCpu] = {}  # owned CPUs (Hierarchy.cpu)
        self._owned_call = 0  # inside an owned CPU's call: its own path passes
        self._tag = _tag_alloc(self)
        self._slab = SlabState(self)  # kmem caches, slab pages, objects (slab.py)
        self._root = Cgroup._new(self, None, "", *self._alloc_ids())
        self._register(self._root)

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Free the tree now, as the C core's ``pmc_hierarchy_close``: every
        later use of the hierarchy or its cgroups raises
        :class:`StaleHandleError`; closing again does nothing; from inside
        this hierarchy's reclaim hook it raises :class:`BusyError`."""
        if self._closed:
            return
        if self._hook_depth:
            raise BusyError(errno.EBUSY, "close() from inside a call on this hierarchy "
                            "(its reclaim hook): it would wait for itself")
        self._forget_gone_owners()
        if self._owners:
            raise BusyError(errno.EBUSY, "close(): a CPU of this hierarchy is owned "
                            "(Hierarchy.cpu): release it first")
        self._closed = True
        for cg in [*self._all.values(), *self._shells]:
            cg._online, cg._freed, cg._shell = False, True, False
        self._all.clear()
        self._shells.clear()
        self._dying.clear()
        for t in self._tasks.values():
            t._alive = False
        self._tasks.clear()
        for sk in self._socks.values():
            sk._open = False
        self._socks.clear()
        self._by_id.clear()
        self._by_slot.clear()
        self._slab.close()
        self._cached = [[None] * len(slots) for slots in self._cached]
        if _live_tags.get(self._tag) is self:
            del _live_tags[self._tag]

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._closed

    def __enter__(self) -> Hierarchy:
        self._open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        if self._owners and not self._owned_call:
            self._owner_guard()
        if self._closed:
            raise StaleHandleError("the hierarchy is closed")

    # ------------------------------------------------------------------ owned CPUs

    def _owner_guard(self) -> None:
        """DeadlockError if this thread owns a CPU of this hierarchy (the
        C core's hier_lock refuses then: the call could wait for ever)."""
        me = threading.get_ident()
        for owner in list(self._owners.values()):
            if owner._thread == me:
                raise DeadlockError(
                    errno.EDEADLK, "EDEADLK (this thread owns a CPU of this hierarchy "
                    "(Hierarchy.cpu): it may use nothing else of it until it releases the CPU)")

    def _forget_gone_owners(self) -> None:
        # A thread that ended owning a CPU gave it back (the C core's
        # pthread key destructor).
        live = {t.ident for t in threading.enumerate()}
        for cpu, owner in list(self._owners.items()):
            if owner._thread not in live:
                owner._token = 0
                del self._owners[cpu]

    def cpu(self, cpu: int) -> "_owned_cpu.OwnedCpu":
        """Own CPU ``cpu`` from this thread (see the C-backed
        :meth:`pymemcg.Hierarchy.cpu` for the contract, which the model
        keeps: the same refusals with the same errors)."""
        cpu = _check_cpu(cpu, self._config.ncpus)
        from .owned_cpu import OwnedCpu

        return OwnedCpu(self, cpu)

    # ------------------------------------------------------------------ basics

    @property
    def config(self) -> Config:
        """The :class:`~pymemcg.Config` (frozen)."""
        return self._config

    # ------------------------------------------------------------------ batch

    def _by_handle(self, handle: int) -> Optional[Cgroup]:
        """The cgroup a replay record names (dying ones included), if its
        id still has that generation."""
        if handle <= 0 or handle >> _TAG_SHIFT != self._tag or handle & _KIND_TASK:
            return None
        cg = self._by_slot.get(handle & _SLOT_MAX)
        return cg if cg is not None and cg._gen == (handle >> _SLOT_BITS) & _GEN_MASK else None

    def _task(self, handle: int) -> Task:
        """The live task a handle names; else a task that has exited (every
        use but ``handle`` raises StaleHandleError), as the C backend's."""
        t = self._tasks.get(handle)
        if t is None:
            t = object.__new__(Task)
            t._hierarchy, t._alive = self, False
            t._slot, t._gen = handle & _SLOT_MAX, (handle >> _SLOT_BITS) & _GEN_MASK
        return t

    def _handle_error(self, handle: int) -> int:
        """Why :meth:`_by_handle` found nothing: ``-EINVAL`` for what was
        never a handle of this hierarchy, ``-ESTALE`` for a cgroup gone."""
        if handle <= 0 or handle >> _TAG_SHIFT != self._tag or handle & _KIND_TASK:
            return -errno.EINVAL
        return -errno.ESTALE

    def replay(self, ops: Any, out: Any = None) -> Any:
        """Apply a buffer of replay records, one result per record, exactly as
        the C core's ``pmc_hierarchy_replay`` (see :mod:`pymemcg.replay`)."""
        self._open()
        view = _replay.as_bytes(ops)
        n = len(view) // _replay.OP_SIZE
        if out is None:
            out = _replay.new_results(n)
        res = _replay.check_out(out, n)
        for i, record in enumerate(_replay.iter_ops(bytes(view))):
            try:
                r = self._replay_one(*record)
            except BaseException:
                # Only a reclaim hook raises here; the batch stops at this record.
                res[i] = -errno.ECANCELED
                raise
            res[i] = r
        return out

    def _replay_mapped(self, ops: Any, table: Any, out: Any) -> int:
        """The C-backed Hierarchy._replay_mapped (pymemcg.trace's binary
        traces): records whose cgroup fields index ``table``, replayed up to
        the first one it cannot map; returns how many ran."""
        import numpy as np

        idx = ops["cgroup"]
        inside = (idx >= 0) & (idx < len(table))
        mapped = np.where(inside, table[np.where(inside, idx, 0)], 0)
        stop = np.flatnonzero(~inside | ((idx != 0) & (mapped == 0)))
        k = int(stop[0]) if len(stop) else len(ops)
        recs = ops[:k].copy()
        recs["cgroup"] = np.where(idx[:k] != 0, mapped[:k], 0)
        self.replay(recs, out[:k])
        return k

    def replayer(self, ops: Any, out: Any = None) -> "_replayer.Replayer":
        """Records and results bound once, for many :meth:`Replayer.run`
        calls (the C-backed :meth:`pymemcg.Hierarchy.replayer`)."""
        self._open()
        from .replayer import Replayer

        return Replayer(self, ops, out)

    def _replay_one(self, op: int, flags: int, handle: int, nr_pages: int, cpu: int,
                    kmem: int) -> int:
        ncpus = self._config.ncpus
        if op in (_replay.OP_CHARGE, _replay.OP_UNCHARGE):
            # The C core's order of checks: counts and CPU, flags, then the cgroup.
            if not 0 <= nr_pages <= PAGE_COUNTER_MAX or not 0 <= cpu < ncpus:
                return -errno.EINVAL
            if handle == 0:  # "no cgroup": only OP_DRAIN_ALL takes it
                return -errno.EINVAL
            if op == _replay.OP_CHARGE and flags & ~0xFF:
                return -errno.EINVAL
            cg = self._by_handle(handle)
            if cg is None:
                return self._handle_error(handle)
            if op == _replay.OP_UNCHARGE:
                if cg._shell and not kmem:
                    return -errno.ESTALE  # a shell is only there for its objcg's kernel pages
                try:
                    cg.uncharge(nr_pages, cpu, bool(kmem))
                except UnderflowError:
                    return _replay.RESULT_UNDERFLOW
                return 0
            if not cg._online:
                return -errno.ESTALE
            over = cg.try_charge(nr_pages, cpu, flags, bool(kmem))
            return 0 if over is None else over._id
        if op == _replay.OP_DRAIN:
            if not 0 <= cpu < ncpus:
                return -errno.EINVAL
            self.drain(cpu)
            return 0
        if op == _replay.OP_DRAIN_ALL:
            root = self._root if handle == 0 else self._by_handle(handle)
            if root is None:
                return self._handle_error(handle)
            if root._shell:
                return -errno.ESTALE  # a shell is only there for its objcg's kernel pages
            self.drain_all(root)
            return 0
        return -errno.EINVAL

    @property
    def root(self) -> Cgroup:
        """The root cgroup (path ``""``, id 1; never charged)."""
        self._open()
        return self._root

    @property
    def reclaim(self) -> Optional[ReclaimHook]:
        """The reclaim hook, or None (reclaim frees nothing)."""
        return self._reclaim

    @reclaim.setter
    def reclaim(self, hook: Optional[ReclaimHook]) -> None:
        if hook is not None and not callable(hook):
            raise InvalidTypeError(f"reclaim must be callable or None, not {type(hook).__name__}")
        self._reclaim = hook

    def __repr__(self) -> str:
        return f"<model.Hierarchy v{self._config.version} ncpus={self._config.ncpus} cgroups={len(self._all)}>"

    def _alloc_ids(self) -> tuple[int, int]:
        """A new cgroup's memcg id, the lowest free in 1..65535
        (``xa_alloc``/``idr_alloc``; none left: :class:`NoSpaceError` with the
        idr of 3.8, :class:`BusyError` with xa_alloc), and its handle slot
        (lowest free; 4M of them)."""
        if self._free_ids:
            cgid = heapq.heappop(self._free_ids)
        elif self._next_id > MAX_ID:
            if self._config.id_errno == "EBUSY":
                raise BusyError("no free memcg id (xa_alloc: EBUSY)")
            raise NoSpaceError("no free memcg id")
        else:
            cgid = self._next_id
            self._next_id += 1
        if self._free_slots:
            slot = heapq.heappop(self._free_slots)
        elif self._next_slot > _SLOT_MAX:
            heapq.heappush(self._free_ids, cgid)
            raise NoSpaceError("4,194,303 cgroups exist")
        else:
            slot = self._next_slot
            self._next_slot += 1
        return cgid, slot

    def _reparent_user_pages(self, cg: Cgroup) -> None:
        """3.8 ``mem_cgroup_reparent_charges()``: the user pages move to the
        parent; only this level's counters let go of them (the parent's have
        them already).  Tasks' user pages charged here go with them (their
        ``pc->mem_cgroup``): later unmaps and exits uncharge the parent."""
        parent = cg._parent
        assert parent is not None
        nr, cg._vmstats["anon"] = cg._vmstats["anon"], 0
        parent._vmstats["anon"] += nr
        if nr > 0:
            _cancel(cg._counters["memory"], nr)
            if self._config.memsw:
                _cancel(cg._counters["memsw"], nr)
        for t in self._tasks.values():
            for seg in t._user:
                if seg.memcg is cg:
                    seg.memcg = parent
                    seg.root_charged = parent is self._root

    def _reparent_late_charge(self, memcg: Cgroup, nr_pages: int) -> None:
        """3.8: a user charge that completed (after reclaim, say) once its
        cgroup's offline had moved the user pages to the parent.  3.8's
        offline loops (``mem_cgroup_reparent_charges()``) until no user page
        is left, so this one follows the others: to the nearest online
        ancestor, off the levels in between."""
        to = memcg
        while not to._online:
            assert to._parent is not None
            to = to._parent
        memcg._vmstats["anon"] -= nr_pages
        to._vmstats["anon"] += nr_pages
        m: Cgroup = memcg
        while m is not to:
            _cancel(m._counters["memory"], nr_pages)
            if self._config.memsw:
                _cancel(m._counters["memsw"], nr_pages)
            assert m._parent is not None
            m = m._parent

    def _swappiness_of(self, cg: Cgroup) -> int:
        """``mem_cgroup_swappiness()``: the root's is the sysctl."""
        return self._vm_swappiness if cg._parent is None else cg._swappiness

    def _release_id(self, cg: Cgroup) -> None:
        """``mem_cgroup_id_remove()``: the id is free for the next cgroup
        (and so is its kmemcg_id)."""
        self._slab.release_kmemcg_id(cg)
        if cg._id_held:
            cg._id_held = False
            heapq.heappush(self._free_ids, cg._id)
            del self._by_id[cg._id]

    def _register(self, cg: Cgroup) -> None:
        self._all[self._serial] = cg
        self._serial_of[cg] = self._serial
        self._serial += 1

    # ------------------------------------------------------------------ lookup

    @staticmethod
    def _components(path: object) -> list[str]:
        if not isinstance(path, str):
            raise InvalidTypeError(f"path must be a str, not {type(path).__name__}")
        return [p for p in path.split("/") if p]  # the VFS collapses "//"

    def _lookup(self, parts: list[str], path: str) -> Cgroup:
        cg = self._root
        for p in parts:
            nxt = cg._online_by_name.get(p)
            if nxt is None:
                raise NotFoundError(f"no cgroup {path!r}")
            cg = nxt
        return cg

    def __getitem__(self, path: str) -> Cgroup:
        """The online cgroup at ``path`` (``"a/b"``; ``""`` is the root);
        :class:`NotFoundError` if there is none.  Leading and trailing ``/``
        are ignored and ``"a//b"`` is ``"a/b"``, as the VFS walks a path."""
        parts = self._components(path)
        self._open()
        return self._lookup(parts, path)

    def get(self, path: str, default: Optional[Cgroup] = None) -> Optional[Cgroup]:
        """Like ``h[path]`` but returns ``default`` when there is no such cgroup."""
        parts = self._components(path)
        self._open()
        try:
            return self._lookup(parts, path)
        except NotFoundError:
            return default

    def create(self, path: str) -> Cgroup:
        """Create the last component of ``path`` (``mkdir``, not ``mkdir -p``):
        the parent must exist (:class:`NotFoundError`).  See :meth:`Cgroup.create`."""
        parts = self._components(path)
        if not parts:
            raise InvalidError("cannot create the root cgroup")
        self._open()
        parent = self._lookup(parts[:-1], path)
        return parent.create(parts[-1])

    def by_id(self, cgid: int) -> Cgroup:
        """The cgroup (online or dying) that holds the memcg id ``cgid``
        (what a refused replay record returns); :class:`NotFoundError` if
        none does."""
        cgid = check_int(cgid, "id")
        self._open()
        cg = self._by_id.get(cgid)
        if cg is None:
            raise NotFoundError(f"no cgroup holds id {cgid}")
        return cg

    def __contains__(self, item: object) -> bool:
        """``path in h``: an online cgroup at that path; ``cgroup in h``: a
        cgroup of this hierarchy that still exists (online or dying)."""
        if isinstance(item, str):
            return self.get(item) is not None
        if isinstance(item, Cgroup):
            return item._hierarchy is self and not item._freed
        return False

    def __len__(self) -> int:
        """How many cgroups exist, online and dying, the root included."""
        self._open()
        return len(self._all)

    def __iter__(self) -> Iterator[Cgroup]:
        return iter(self.cgroups())

    def cgroups(self) -> list[Cgroup]:
        """Every existing cgroup (online and dying), root first, in creation order."""
        self._open()
        return list(self._all.values())

    # ------------------------------------------------------------------ stocks

    def stock(self, cpu: int) -> tuple[tuple[Optional[Cgroup], int], ...]:
        """The stock of ``cpu``: (cached cgroup or None, nr_pages) per slot."""
        cpu = _check_cpu(cpu, self._config.ncpus)
        self._open()
        return tuple(zip(self._cached[cpu], self._nr_pages[cpu]))

    def drain(self, cpu: int) -> None:
        """Drain every slot of ``cpu``'s stock (``drain_local_stock()`` /
        ``drain_stock_fully()``; also CPU hotplug's ``memcg_hotplug_cpu_dead()``)."""
        cpu = _check_cpu(cpu, self._config.ncpus)
        self._open()
        try:
            self._drain_cpu(cpu)
            self._slab.drain_obj_stock(cpu)  # then the object stock
        finally:
            self._free_check()

    def drain_all(self, root: Optional[Cgroup] = None) -> None:
        """``drain_all_stock(root)``, synchronously: drain the whole stock of
        every CPU that has pages cached for ``root`` or a descendant
        (``root`` None: the hierarchy's root)."""
        if root is None:
            root = self._root
        elif not isinstance(root, Cgroup):
            raise InvalidTypeError(f"root must be a model Cgroup or None, not {type(root).__name__}")
        elif root._hierarchy is not self:
            raise InvalidError(f"root {root._path or '/'!r} is a cgroup of another hierarchy")
        self._open()
        root._live()
        try:
            self._drain_all_stock(root)
        finally:
            self._free_check()

    def _set_slot(self, cpu: int, i: int, cg: Optional[Cgroup], nr_pages: int) -> None:
        old = self._cached[cpu][i]
        if old is not cg:
            if old is not None:
                old._stock_refs -= 1  # css_put
            if cg is not None:
                cg._stock_refs += 1  # css_get
            self._cached[cpu][i] = cg
        self._nr_pages[cpu][i] = nr_pages

    def _memcg_uncharge(self, cg: Cgroup, nr_pages: int, clamped: Optional[list[CounterView]]) -> None:
        """``memcg_uncharge()``: memory, then memsw with memsw accounting."""
        _uncharge(cg._counters["memory"], nr_pages, clamped)
        if self._config.memsw:
            _uncharge(cg._counters["memsw"], nr_pages, clamped)

    def _drain_stock(self, cpu: int, i: int, clamped: Optional[list[CounterView]] = None) -> None:
        """``drain_stock(stock, i)``: give slot i's pages back to its cgroup's
        counters and empty the slot."""
        old = self._cached[cpu][i]
        if old is not None:
            nr = self._nr_pages[cpu][i]
            if nr:
                self._memcg_uncharge(old, nr, clamped)
            self._set_slot(cpu, i, None, 0)

    def _drain_cpu(self, cpu: int) -> None:
        """``drain_stock_fully()``: every slot of one CPU."""
        for i in range(self._config.stock_slots):
            self._drain_stock(cpu, i)

    def _consume_stock(self, memcg: Cgroup, nr_pages: int, cpu: int) -> bool:
        """``consume_stock()``: take ``nr_pages`` pre-charged pages of ``memcg``
        from ``cpu``'s stock if there are enough."""
        cfg = self._config
        cached, pages = self._cached[cpu], self._nr_pages[cpu]
        if cfg.stock_single_page:  # 3.8: 1-page charges only, slot 0
            if nr_pages == 1 and cached[0] is memcg and pages[0] > 0:
                pages[0] -= 1
                return True
            return False
        if nr_pages > cfg.charge_batch:
            return False
        for i in range(cfg.stock_slots):
            if cached[i] is memcg:  # the first matching slot decides
                if pages[i] >= nr_pages:
                    pages[i] -= nr_pages
                    return True
                return False
        return False

    def _refill_stock(
        self, memcg: Cgroup, nr_pages: int, cpu: int, clamped: Optional[list[CounterView]] = None
    ) -> None:
        """``refill_stock()``: park ``nr_pages`` charged pages of ``memcg`` in
        ``cpu``'s stock (3.8 ``refill_stock()``, 4.14-6.15
        ``__refill_stock()`` with the cap, 6.16+ multi-slot with random
        eviction)."""
        cfg = self._config
        k = cfg.stock_slots
        # Only clamps of memcg's own pages are reported (``clamped``, for an
        # uncharge through the stock); another cgroup's slot drained on the
        # way clamps silently (the kernel's WARN).
        if k == 1 and not cfg.stock_refill_cap:  # 3.8: replace, add, no cap
            if self._cached[cpu][0] is not memcg:
                self._drain_stock(cpu, 0)
                self._set_slot(cpu, 0, memcg, 0)
            self._nr_pages[cpu][0] += nr_pages
            return
        if cfg.stock_refill_cap and nr_pages > cfg.charge_batch:
            self._memcg_uncharge(memcg, nr_pages, clamped)
            return
        empty = -1
        for i in range(k):
            c = self._cached[cpu][i]
            if c is None:
                if empty < 0:
                    empty = i
            elif c is memcg:
                self._nr_pages[cpu][i] += nr_pages
                if cfg.stock_refill_cap and self._nr_pages[cpu][i] > cfg.charge_batch:
                    self._drain_stock(cpu, i, clamped)
                return
        if empty >= 0:
            i = empty
        else:
            i = self._rng[cpu].next() % k  # get_random_u32_below(NR_MEMCG_STOCK)
            self._drain_stock(cpu, i)
        self._set_slot(cpu, i, memcg, nr_pages)

    def _drain_all_stock(self, root: Cgroup) -> None:
        """``drain_all_stock(root)``: CPUs in order; a CPU with any slot
        holding pages of ``root`` or a descendant has its whole stock drained."""
        k = self._config.stock_slots
        for cpu in range(self._config.ncpus):
            cached, pages = self._cached[cpu], self._nr_pages[cpu]
            if any(
                pages[i] > 0 and cached[i] is not None and cached[i]._is_descendant_of(root)  # type: ignore[union-attr]
                for i in range(k)
            ):
                self._drain_cpu(cpu)
            if self._slab.obj_stock_needs_drain(cpu, root):  # then its object stock
                self._slab.drain_obj_stock(cpu)

    # ------------------------------------------------------------------ events, reclaim

    def _memcg_memory_event(self, memcg: Cgroup, name: str) -> None:
        """``memcg_memory_event()``: the local count, then memory.events on
        memcg and (v2 without memory_localevents) each ancestor below the root."""
        memcg._events_local[name] += 1
        local_only = self._config.version == 1 or self._config.memory_localevents
        x: Optional[Cgroup] = memcg
        while True:
            assert x is not None
            x._events[name] += 1
            if local_only:
                break
            x = x._parent
            if x is None or x is self._root:
                break

    def _try_to_free(self, memcg: Cgroup, nr_pages: int) -> int:
        """``try_to_free_mem_cgroup_pages()`` through the hook: min(pages the
        hook claims, pages actually gone from memcg's memory counter)."""
        hook = self._reclaim
        if hook is None:
            return 0
        memory = memcg._counters["memory"]
        before = memory.usage
        memcg._pins += 1
        self._hook_depth += 1
        try:
            claimed = hook(memcg, nr_pages)
        finally:
            self._hook_depth -= 1
            memcg._pins -= 1
        claimed = _check_hook_result(claimed)
        after = memory.usage
        progress = before - after if after < before else 0
        return min(claimed, progress)

    @staticmethod
    def _mem_cgroup_margin(memcg: Cgroup, memsw: bool) -> int:
        """``mem_cgroup_margin()``: pages chargeable before memory (and memsw)
        hit max."""
        c = memcg._counters["memory"]
        margin = c.max - c.usage if c.usage < c.max else 0
        if memsw:
            s = memcg._counters["memsw"]
            margin = min(margin, s.max - s.usage if s.usage < s.max else 0)
        return margin

    def _reclaim_high(self, memcg: Cgroup, nr_pages: int) -> int:
        """``reclaim_high()``: each non-root memcg from ``memcg`` up that is
        above memory.high gets a ``high`` event and a reclaim of
        ``nr_pages``; the pages reclaimed in all."""
        nr_reclaimed = 0
        m: Optional[Cgroup] = memcg
        while m is not None and m is not self._root:
            c = m._counters["memory"]
            if c.usage > c.high:
                self._memcg_memory_event(m, "high")
                nr_reclaimed += self._try_to_free(m, nr_pages)
            m = m._parent
        return nr_reclaimed

    def _max_overage(self, memcg: Cgroup, counter: str) -> int:
        """``mem_find_max_overage()`` / ``swap_find_max_overage()``: the
        largest overage from memcg up to, not including, the root."""
        best = 0
        m: Optional[Cgroup] = memcg
        while m is not None and m is not self._root:
            c = m._counters[counter]
            best = max(best, _calculate_overage(c.usage, c.high))
            m = m._parent
        return best

    def _handle_over_high(self, ctx: _ChargeCtx, memcg: Cgroup) -> None:
        """``mem_cgroup_handle_over_high()`` on the way back to user space:
        reclaim_high, then the penalty; reclaim again while reclaim makes
        progress or retries remain; the delay the kernel would sleep is added
        to the cgroup's throttle total (and the charging call's) instead."""
        cfg = self._config
        nr_pages = ctx.pending_high & 0xFFFFFFFF  # memcg_nr_pages_over_high: unsigned int
        ctx.pending_high = 0
        if not nr_pages:
            return
        retries = cfg.reclaim_retries
        in_retry = False
        memcg._pins += 1  # get_mem_cgroup_from_mm(): a css reference
        try:
            while True:
                nr_reclaimed = self._reclaim_high(memcg, _SWAP_CLUSTER_MAX if in_retry else nr_pages)
                penalty = _calculate_high_delay(cfg, nr_pages, self._max_overage(memcg, "memory"))
                if cfg.version == 2:
                    penalty += _calculate_high_delay(cfg, nr_pages, self._max_overage(memcg, "swap"))
                penalty = min(penalty & U64_MASK, 2 * cfg.hz)  # MEMCG_MAX_HIGH_DELAY_JIFFIES
                if penalty <= cfg.hz // 100:
                    return
                if nr_reclaimed:
                    in_retry = True
                    continue
                retries -= 1  # `nr_retries--` (post-decrement: tested before)
                if retries + 1 > 0:
                    in_retry = True
                    continue
                # schedule_timeout_killable(), not slept: counted
                memcg._throttle_jiffies += penalty
                ctx.throttle_jiffies += penalty
                return
        finally:
            memcg._pins -= 1

    # ------------------------------------------------------------------ charge path

    def _charge(self, cg: Cgroup, n: int, cpu: int, gfp: int, kmem: bool,
                ctx: Optional[_ChargeCtx] = None) -> Optional[Cgroup]:
        """``try_charge()`` + the kmem wrappers, then memory.high at "return
        to user" (``mem_cgroup_handle_over_high()``).  ``ctx``: the charging
        call's state (the charging task, if any, for the OOM killer)."""
        cfg = self._config
        if ctx is None:
            ctx = _ChargeCtx(cpu, None)
        if cg is self._root:
            return None  # mem_cgroup_is_root(): nothing is charged
        if n == 0:
            # The kernel never charges 0 pages (kmalloc(0) is ZERO_SIZE_PTR).
            # Taken literally, the loop would spin forever on a cgroup forced
            # above its max: try_charge(0) fails there, margin 0 >= 0 retries.
            return None
        if kmem and not cg._kmem_active:
            return None  # 3.8: kmem accounting not activated for this memcg
        if kmem and cfg.charge_loop == "3.8" and gfp & GFP_NOFAIL:
            return None  # 3.8 memcg_kmem_newpage_charge(): NOFAIL kmem is unaccounted
        if kmem and cfg.kmem_first and "kmem" in cg._counters:
            # 3.8 memcg_charge_kmem(): the kmem counter first, no reclaim on it
            kc = cg._counters["kmem"]
            fail = kc.try_charge(n)
            if fail is not None:
                assert isinstance(fail, _CgCounter)
                return fail.cgroup
            try:
                over = self._charge_loop(ctx, cg, gfp, n, kmem)
            except BaseException:
                _uncharge(kc, n, None)  # a clamp here is silent, as in the C core
                raise
            if over is not None:
                _uncharge(kc, n, None)
                return over
        else:
            over = self._charge_loop(ctx, cg, gfp, n, kmem)
        if over is None and ctx.bypassed:
            if not kmem:
                return None  # 3.8: the root took the page: not charged, not counted
            # 3.8 memcg_charge_kmem(): __mem_cgroup_try_charge() said -EINTR
            # (bypass); the kmem counter is charged, so memory (and memsw)
            # are forced on the same cgroup to match.
            ctx.bypassed = False
            self._force_charge(cg._counters["memory"], n)
            if cfg.memsw:
                self._force_charge(cg._counters["memsw"], n)
        if over is None and kmem and cfg.version == 1 and not cfg.kmem_first:
            kc = cg._counters["kmem"]
            if cfg.kmem_limit != "enforced":
                kc.charge(n)  # v1 >= 5.16: memcg_account_kmem() forces the kmem counter
            else:
                # 4.x-5.15 __memcg_kmem_charge_memcg(): the kmem limit after the
                # memory charge, no reclaim; failure cancels the memory charge.
                fail = kc.try_charge(n)
                if fail is not None:
                    if gfp & GFP_NOFAIL:
                        kc.charge(n)
                    else:
                        self._memcg_uncharge(cg, n, None)  # cancel_charge()
                        assert isinstance(fail, _CgCounter)
                        over = fail.cgroup
        if over is None:
            if kmem:
                cg._vmstats["kernel"] += n  # memcg_account_kmem(): MEMCG_KMEM
                cg._kmem_own += n
            else:
                cg._vmstats["anon"] += n
                if cfg.reparent_user_pages and not cg._online:
                    self._reparent_late_charge(cg, n)
        ctx.charged = over is None and not ctx.bypassed
        if ctx.pending_high:
            self._handle_over_high(ctx, cg)
        return over

    def _charge_loop(self, ctx: _ChargeCtx, memcg: Cgroup, gfp: int, nr_pages: int,
                     kmem: bool) -> Optional[Cgroup]:
        """The era's charge loop: 3.8's lets OOM in for user pages, and for
        kernel memory only with __GFP_FS and without NORETRY."""
        if self._config.charge_loop == "3.8":
            oom = not kmem or bool(gfp & GFP_FS and not gfp & GFP_NORETRY)
            return self._try_charge_memcg_38(ctx, memcg, gfp, nr_pages, oom)
        return self._try_charge_memcg(ctx, memcg, gfp, nr_pages)

    def _try_charge_memcg(self, ctx: _ChargeCtx, memcg: Cgroup, gfp: int,
                          nr_pages: int) -> Optional[Cgroup]:
        """``try_charge_memcg()``: None when charged, else the memcg over its
        limit.  Adds to ``ctx.pending_high`` (``current->memcg_nr_pages_over_high``)."""
        cfg = self._config
        cpu = ctx.cpu
        batch = max(cfg.charge_batch, nr_pages)
        if cfg.allow_spinning_batch and not gfp & (GFP_DIRECT_RECLAIM | GFP_KSWAPD_RECLAIM):
            batch = nr_pages  # !gfpflags_allow_spinning(): no stock refill
        nr_retries = cfg.reclaim_retries
        drained = raised_max = passed_oom = False
        memory = memcg._counters["memory"]
        memsw = memcg._counters["memsw"] if cfg.memsw else None
        while True:  # retry:
            if self._consume_stock(memcg, nr_pages, cpu):
                return None
            over: Optional[Cgroup] = None
            if memsw is not None:
                f = memsw.try_charge(batch)
                if f is not None:
                    assert isinstance(f, _CgCounter)
                    over = f.cgroup
            if over is None:
                f = memory.try_charge(batch)
                if f is None:
                    self._done_restock(ctx, memcg, batch, nr_pages)
                    return None
                if memsw is not None:
                    _uncharge(memsw, batch, None)
                assert isinstance(f, _CgCounter)
                over = f.cgroup
            # failed: (over is mem_over_limit)
            if batch > nr_pages:
                batch = nr_pages  # silently retry with the exact size first
                continue
            if not gfp & GFP_DIRECT_RECLAIM:  # !gfpflags_allow_blocking()
                break
            self._memcg_memory_event(over, "max")
            raised_max = True
            nr_reclaimed = self._try_to_free(over, nr_pages)
            if self._mem_cgroup_margin(over, cfg.memsw) >= nr_pages:
                continue
            if not drained:
                self._drain_all_stock(over)
                drained = True
                continue
            if gfp & GFP_NORETRY:
                break
            if nr_reclaimed and nr_pages <= (1 << PAGE_ALLOC_COSTLY_ORDER):
                continue
            if nr_retries > 0:
                nr_retries -= 1
                continue
            if gfp & GFP_RETRY_MAYFAIL:
                break
            # Avoid an endless loop for a dying task (task_is_dying(): chosen
            # by the OOM killer, or gone: its exit went on meanwhile).
            if passed_oom and _task_dying(ctx.task):
                break
            # Retry as long as the OOM killer makes progress; fail if it cannot.
            if self._mem_cgroup_oom(ctx, over, _get_order(nr_pages)):
                passed_oom = True
                nr_retries = cfg.reclaim_retries
                continue
            break
        # nomem:
        if not gfp & (GFP_NOFAIL | GFP_HIGH):
            return over
        # force:
        if not raised_max:
            self._memcg_memory_event(over, "max")
        self._force_charge(memory, nr_pages)
        if memsw is not None:
            self._force_charge(memsw, nr_pages)
        return None

    # -------------------------------------------------------------- 3.8's loop

    def _mem_cgroup_reclaim_38(self, over: Cgroup) -> int:
        """``mem_cgroup_reclaim()`` (3.8): up to 100 passes of
        SWAP_CLUSTER_MAX; from the second pass on, drain the subtree's
        stocks first (3.8's asynchronous drain, done at once here)."""
        total = 0
        for loop in range(_MEM_CGROUP_MAX_RECLAIM_LOOPS):
            if loop:
                self._drain_all_stock(over)
            total += self._try_to_free(over, _SWAP_CLUSTER_MAX)
            if self._mem_cgroup_margin(over, self._config.memsw):
                break
            if loop and not total:
                break
        return total

    def _do_charge_38(self, ctx: _ChargeCtx, memcg: Cgroup, gfp: int, batch: int,
                      min_pages: int, oom_check: bool) -> tuple[str, Optional[Cgroup]]:
        """``mem_cgroup_do_charge()`` (3.8): res (memory) first, then memsw."""
        cfg = self._config
        memory = memcg._counters["memory"]
        f = memory.try_charge(batch)
        if f is None:
            if not cfg.memsw:
                return "ok", None
            f = memcg._counters["memsw"].try_charge(batch)
            if f is None:
                return "ok", None
            _uncharge(memory, batch, None)
        assert isinstance(f, _CgCounter)
        over = f.cgroup
        if batch > min_pages:
            return "retry", over  # never reclaim on behalf of optional batching
        if not gfp & GFP_DIRECT_RECLAIM:
            return "wouldblock", over
        if gfp & GFP_NORETRY:
            return "nomem", over
        self._memcg_memory_event(over, "max")  # 3.8 had no events file: kept for show
        ret = self._mem_cgroup_reclaim_38(over)
        if self._mem_cgroup_margin(over, cfg.memsw) >= min_pages:
            return "retry", over
        if min_pages <= (1 << PAGE_ALLOC_COSTLY_ORDER) and ret:
            return "retry", over
        if not oom_check:
            return "nomem", over
        return self._mem_cgroup_handle_oom_38(ctx, over), over

    def _mem_cgroup_handle_oom_38(self, ctx: _ChargeCtx, over: Cgroup) -> str:
        """``mem_cgroup_handle_oom()`` (3.8): kill, then the charge retries
        (after a jiffy): "retry".  Where 3.8 would sleep until memory comes
        back (oom_kill_disable, or no victim) and so retry forever, the
        charge fails instead, counted: "livelock".  Where the charging task
        itself was chosen (TIF_MEMDIE): "oom_die", the charge is bypassed."""
        self._memcg_memory_event(over, "oom")
        if not over._oom_kill_disable:
            killed = self._oom_kill(ctx, over)
            if _task_dying(ctx.task):
                return "oom_die"
            if killed:
                return "retry"
        over._oom_livelocks += 1
        return "livelock"

    def _try_charge_memcg_38(self, ctx: _ChargeCtx, memcg: Cgroup, gfp: int, nr_pages: int,
                             oom: bool) -> Optional[Cgroup]:
        """``__mem_cgroup_try_charge()`` (3.8): None when charged (or
        bypassed: ``ctx.bypassed``), else the memcg over its limit.  Nothing
        is ever forced here."""
        cfg = self._config
        cpu = ctx.cpu
        batch = max(cfg.charge_batch, nr_pages)
        nr_oom_retries = cfg.reclaim_retries
        while True:  # again:
            if self._consume_stock(memcg, nr_pages, cpu):
                return None
            while True:
                oom_check = False
                if oom and not nr_oom_retries:
                    oom_check = True
                    nr_oom_retries = cfg.reclaim_retries
                ret, over = self._do_charge_38(ctx, memcg, gfp, batch, nr_pages, oom_check)
                if ret == "ok":
                    if batch > nr_pages:
                        self._refill_stock(memcg, batch - nr_pages, cpu)
                    return None
                if ret == "retry":
                    break
                if ret == "oom_die":
                    ctx.bypassed = True  # bypass: charged to the root, nothing counted
                    return None
                if ret == "nomem" and oom:
                    if oom_check:  # NORETRY: the OOM killer is never reached
                        assert over is not None
                        over._oom_livelocks += 1
                        return over
                    nr_oom_retries -= 1
                    continue
                return over  # wouldblock, nomem without OOM, livelock
            batch = nr_pages

    def _force_charge(self, counter: PageCounter, nr_pages: int) -> None:
        """``page_counter_charge()``; with res_counter failcnt ("all", 3.8
        ``res_counter_charge_nofail()``) each level left above its limit
        counts a failure."""
        counter.charge(nr_pages)
        if self._config.failcnt == "all":
            c: Optional[PageCounter] = counter
            while c is not None:
                if c.usage > c.max:
                    c._failcnt = (c._failcnt + 1) & U64_MASK
                c = c.parent

    def _done_restock(self, ctx: _ChargeCtx, memcg: Cgroup, batch: int, nr_pages: int) -> None:
        """``done_restock:``: park the surplus in the stock, then note pages
        over memory.high (or v2 swap.high) for the end of the call."""
        if batch > nr_pages:
            self._refill_stock(memcg, batch - nr_pages, ctx.cpu)
        v2 = self._config.version == 2
        m: Optional[Cgroup] = memcg
        while m is not None:
            mem = m._counters["memory"]
            over_high = mem.usage > mem.high
            if not over_high and v2:
                sw = m._counters["swap"]
                over_high = sw.usage > sw.high
            if over_high:
                ctx.pending_high += batch
                break
            m = m._parent

    # ------------------------------------------------------------------ uncharge

    def _uncharge(self, cg: Cgroup, n: int, cpu: int, kmem: bool,
                  clamped: Optional[list[CounterView]]) -> None:
        """``uncharge_batch()`` for user pages; ``obj_cgroup_uncharge_pages()``
        (or 3.8 ``memcg_uncharge_kmem()``) for kernel pages."""
        cfg = self._config
        if cg is self._root or n == 0:
            return  # nothing was charged to the root; uncharge_batch() skips 0 pages
        # Pages of a cgroup that is no longer online went to its nearest online
        # ancestor: kernel pages with its objcg (5.9+), user pages with 3.8's
        # mem_cgroup_reparent_charges().
        to = cg
        if cfg.objcg if kmem else cfg.reparent_user_pages:
            while not to._online:
                assert to._parent is not None
                to = to._parent
        if not kmem:
            self._memcg_uncharge(to, n, clamped)
            to._vmstats["anon"] -= n
            return
        if not cg._kmem_active:
            return
        to._vmstats["kernel"] -= n
        cg._kmem_own -= n
        if cfg.version == 1:
            _uncharge(to._counters["kmem"], n, clamped)
        if cfg.kmem_uncharge_via_stock:
            self._refill_stock(to, n, cpu, clamped)
        else:
            self._memcg_uncharge(to, n, clamped)

    # ------------------------------------------------------------------ lifetime

    def _free_check(self) -> None:
        """Free every dying cgroup nothing references any more (``css_release``
        → ``mem_cgroup_css_free``), then its parent in turn: no children,
        every counter at 0, no stock slot caching it, no call in progress."""
        changed = True
        while changed:
            changed = False
            for cg in list(self._dying):
                if self._freeable(cg):
                    self._free(cg)
                    changed = True
            for cg in list(self._shells):
                if not self._needs_shell(cg):
                    self._drop_shell(cg)
                    changed = True

    def _freeable(self, cg: Cgroup) -> bool:
        """Nothing holds it: no child, no stock slot, no call in progress;
        then by era: with objcgs only user pages hold it, 3.8 (user pages
        reparented at offline) and older every counter."""
        if cg._children_all or cg._stock_refs or cg._pins or cg._nr_sockets:
            return False
        if self._slab.holds(cg):  # objcg references, clones, queued clone creations
            return False
        # A task's pages hold their cgroup even when a caller's own uncharges
        # took its counts to zero (3.8 moved user pages to the parent at
        # offline; kernel pages go through an objcg: a shell, where there is one).
        if cg._user_segs and not self._config.reparent_user_pages:
            return False
        if cg._task_ksegs and not self._config.objcg:
            return False
        if self._config.objcg:
            return cg._vmstats["anon"] <= 0
        return all(c.usage == 0 for c in cg._counters.values())

    def _needs_shell(self, cg: Cgroup) -> bool:
        return self._config.objcg and (cg._nr_shells > 0 or cg._task_ksegs > 0 or cg._kmem_own > 0
                                       or cg in self._slab.refs)

    def _free(self, cg: Cgroup) -> None:
        """``css_free``: out of the tree; its statistics stay in the parent.
        With kernel pages still charged through its objcg it becomes a
        shell: its handle still uncharges them (from where the objcg points)."""
        del self._dying[cg]
        cg._freed = True
        self._release_id(cg)
        parent = cg._parent
        assert parent is not None
        parent._children_all.remove(cg)
        del self._all[self._serial_of.pop(cg)]
        self._fold_stats(cg)
        if self._needs_shell(cg):
            cg._shell = True
            parent._nr_shells += 1
            self._shells[cg] = None
        else:
            self._free_slot(cg)

    def _fold_stats(self, cg: Cgroup) -> None:
        """A freed cgroup's statistics go to its parent's dead ones, as the
        kernel's rstat keeps a dead memcg's counts in its ancestors: the
        subtree sums do not change."""
        parent = cg._parent
        assert parent is not None
        for k in STATS:
            parent._dead_stat[k] += cg._vmstats[k] + cg._dead_stat[k]
            cg._vmstats[k] = cg._dead_stat[k] = 0

    def _drop_shell(self, cg: Cgroup) -> None:
        del self._shells[cg]
        cg._shell = False
        assert cg._parent is not None
        cg._parent._nr_shells -= 1
        self._fold_stats(cg)  # zeros: its statistics went with its free
        self._free_slot(cg)

    def _free_slot(self, cg: Cgroup) -> None:
        heapq.heappush(self._free_slots, cg._slot)
        self._slot_gens[cg._slot] = (cg._gen + 1) & _GEN_MASK
        del self._by_slot[cg._slot]
