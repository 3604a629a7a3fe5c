"""The hierarchy comparison machine: two backends' cgroup trees, with
tasks, sockets, reclaim hooks and replay, through the same random steps
(see :mod:`pymemcg.testing`); and the strategies for configurations' mixes,
trees and operation sequences."""

from __future__ import annotations

import array
import collections
import dataclasses
import errno

from typing import Any, Callable, Sequence
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from .._common import PAGE_COUNTER_MAX
from ..errors import (
    BusyError,
    ChargeError,
    ExistsError,
    ForkError,
    InvalidError,
    InvalidTypeError,
    KilledError,
    MemcgError,
    NotFoundError,
    StaleHandleError,
    UnderflowError,
)

from .common import (
    EDGE_EVENTS,
    STEP_COUNT,
    FIELDS,
    record_edge,
    _show,
)

from .page_counter import (
    IMPL,
    ORACLE,
    _DefaultBackend,
    _SIDE_NAMES,
    _state_of,
)

# --------------------------------------------------------------------------
# The cgroup tree: Hierarchy against the model's Hierarchy
# --------------------------------------------------------------------------
#
# HierarchyComparison drives two backends' Hierarchy (by default the C core,
# pymemcg.Hierarchy, against the oracle, pymemcg.model.Hierarchy) through the
# same steps, single-threaded with explicit CPUs, and asserts after every step
# that everything observable agrees: the cgroups that exist (ids, online or
# dying), every counter's snapshot, stats, events, cgroup.stat numbers,
# kmem activation and every CPU's stock.  It keeps its own ledger of the pages
# truly charged (one per backend: the reclaim hook uncharges through its own
# backend), following them where removal sends them (to the nearest online
# ancestor, into the parent's dead statistics at free, objcg shells), and
# checks the kernel's invariants on the oracle against it.

# Edge names (hypothesis.event and EDGE_EVENTS).
EXACT_SIZE_RETRY = "exact-size retry"
FORCED_CHARGE = "forced charge"
SLOT_EVICTION = "slot eviction"
EBUSY_RESIZE = "EBUSY resize"
DYING_CGROUP = "dying cgroup"
FREED_CGROUP = "freed cgroup"
MAX_EVENT = "max event"
OOM_EVENT = "oom event"
HIGH_EVENT = "high event"
KMEM_LIMIT_REFUSED = "kmem limit refused (3.8)"
UNDERFLOW = "underflow"
HOOK_LIED = "hook lied"
HOOK_RAISED = "hook raised"
# What offline leaves behind (Config.objcg, Config.reparent_user_pages).
KMEM_FROM_ANCESTOR = "kmem uncharged from an ancestor"
SHELL = "shell"
SHELL_GONE = "shell gone"
USER_REPARENTED = "user pages reparented (3.8)"
UNCHARGED_FROM_PARENT = "uncharged from the parent (3.8)"
# Tasks and the OOM killer (issue 8).
FORK_KMEM_REFUSED = "fork refused by the kmem limit"
OOM_KILL_TASK = "OOM kill of a task"
OOM_GROUP_KILL = "oom group kill"
KILL_IN_VAIN = "OOM kill in vain (kernel memory no task owns)"
TASK_DYING_PAGES = "task pages of a dying cgroup uncharged"
MOVE_THEN_REMOVE = "move then remove of the old cgroup"
EXIT_FREES_DYING = "exit frees a dying cgroup"
# Sockets and selective kernel-memory accounting (issue 8).
SOCK_REFUSED_V2 = "socket charge refused (v2 memory.max)"
SOCK_PRESSURE_V1 = "v1 tcpmem pressure set"
SOCK_KEEPS_DYING = "socket keeps a removed cgroup dying"
KMEM_ALLOC_UNACCOUNTED = "kmem_alloc not accounted"
KMEM_ALLOC_CHARGED = "kmem_alloc charged"

#: The edges a run of the hierarchy machine must reach.  The first five
#: are the ones issue 3 asks for.
HIERARCHY_REQUIRED_EDGES: tuple[str, ...] = (
    EXACT_SIZE_RETRY,
    FORCED_CHARGE,
    SLOT_EVICTION,
    EBUSY_RESIZE,
    DYING_CGROUP,
    "limit written through the file",
    "peak reset through an open file",
    "replay charge refused",
    "replay underflow",
    FREED_CGROUP,
    MAX_EVENT,
    OOM_EVENT,
    HIGH_EVENT,
    KMEM_LIMIT_REFUSED,
    UNDERFLOW,
    HOOK_LIED,
    HOOK_RAISED,
    FORK_KMEM_REFUSED,
    OOM_KILL_TASK,
    OOM_GROUP_KILL,
    KILL_IN_VAIN,
    TASK_DYING_PAGES,
    MOVE_THEN_REMOVE,
    EXIT_FREES_DYING,
    SOCK_REFUSED_V2,
    SOCK_PRESSURE_V1,
    SOCK_KEEPS_DYING,
    KMEM_ALLOC_UNACCOUNTED,
    KMEM_ALLOC_CHARGED,
    "owned CPU burst",
    "owned CPU charge refused",
)


class ReclaimHookError(Exception):
    """Raised by the machine's raising reclaim hook; both backends must
    abandon the charge and let it through unchanged."""


def _gfp_choices() -> tuple[tuple[str, int], ...]:
    from .. import gfp

    return (
        ("GFP_KERNEL", gfp.GFP_KERNEL),
        ("GFP_KERNEL", gfp.GFP_KERNEL),
        ("GFP_NOWAIT", gfp.GFP_NOWAIT),
        ("GFP_ATOMIC", gfp.GFP_ATOMIC),
        ("GFP_KERNEL|GFP_NOFAIL", gfp.GFP_KERNEL | gfp.GFP_NOFAIL),
        ("GFP_KERNEL|GFP_NORETRY", gfp.GFP_KERNEL | gfp.GFP_NORETRY),
        ("GFP_KERNEL|GFP_RETRY_MAYFAIL", gfp.GFP_KERNEL | gfp.GFP_RETRY_MAYFAIL),
        ("0 (no spinning)", 0),
        ("GFP_NOFAIL (no spinning)", gfp.GFP_NOFAIL),
        ("GFP_KERNEL_ACCOUNT", gfp.GFP_KERNEL_ACCOUNT),
    )


_PRESETS = ("linux_3_8", "current", "current", "current_v1", "v1_kmem_enforced")


def _config_mixes() -> st.SearchStrategy[dict[str, Any]]:
    """A few Config fields changed at once (invalid combinations with the
    preset are skipped)."""
    return st.dictionaries(
        st.sampled_from(
            (
                "failcnt",
                "stock_slots",
                "kmem_first",
                "kmem_uncharge_via_stock",
                "allow_spinning_batch",
                "stock_single_page",
                "memory_localevents",
                "reclaim_retries",
                "objcg",
                "reparent_user_pages",
            )
        ),
        st.integers(0, 7),
        max_size=3,
    ).map(
        lambda d: {
            k: {
                "failcnt": ("all", "memory", "none")[v % 3],
                "stock_slots": (1, 2, 3, 7)[v % 4],
                "reclaim_retries": (0, 1, 2)[v % 3],
            }.get(k, bool(v & 1))
            for k, v in d.items()
        }
    )
_CG_NAMES = ("a", "b", "c", "d", "e")


def trees(min_size: int = 0, max_size: int = 5,
          names: Sequence[str] = _CG_NAMES) -> st.SearchStrategy[list[tuple[int, str]]]:
    """Cgroup trees as creation steps: ``(pick, name)`` pairs, each making a
    child named ``name`` of the ``pick``-th online cgroup (modulo how many
    there are, the root first).  :func:`build_tree` applies them; the
    machines start from such trees (names repeat: a step whose name is taken
    fails with EEXIST, as mkdir does)."""
    return st.lists(st.tuples(st.integers(0, 15), st.sampled_from(tuple(names))),
                    min_size=min_size, max_size=max_size)


def operations(ncpus: int = 1, max_size: int = 40
               ) -> st.SearchStrategy[list[tuple[str, int, int, int, bool]]]:
    """Operation sequences: ``(op, pick, nr_pages, cpu, kmem)`` steps, ``op``
    one of charge, uncharge, drain, drain_all; ``pick`` chooses a cgroup
    (modulo how many there are); CPUs below ``ncpus``.  :func:`as_records`
    turns them into :func:`pymemcg.ops` records for a hierarchy."""
    step = st.tuples(st.sampled_from(("charge", "charge", "charge", "uncharge", "uncharge",
                                      "drain", "drain_all")),
                     st.integers(0, 15), st.integers(0, 80), st.integers(0, ncpus - 1),
                     st.booleans())
    return st.lists(step, max_size=max_size)


def as_records(cgroups: Sequence[Any], steps: Sequence[tuple[str, int, int, int, bool]]
               ) -> list[tuple[Any, ...]]:
    """:func:`operations`' steps as record tuples for :func:`pymemcg.ops`
    over ``cgroups`` (of either backend)."""
    out: list[tuple[Any, ...]] = []
    for op, pick, n, cpu, kmem in steps:
        cg = cgroups[pick % len(cgroups)]
        if op == "drain":
            out.append(("drain", None, 0, cpu))
        elif op == "drain_all":
            out.append(("drain_all", None, 0, cpu))
        elif op == "charge":
            out.append(("charge", cg, n, cpu, None, kmem))
        else:
            out.append(("uncharge", cg, n, cpu, 0, kmem))
    return out


def build_tree(h: Any, shape: Sequence[tuple[int, str]]) -> list[Any]:
    """Apply :func:`trees`' steps to hierarchy ``h`` (either backend): the
    cgroups made, in order (a step whose name is taken makes none)."""
    made = []
    for pick, name in shape:
        online = [cg for cg in h.cgroups() if cg.online]
        try:
            made.append(online[pick % len(online)].create(name))
        except ExistsError:
            pass
    return made
#: Names mkdir refuses, with the error (its errno) the kernel gives.
_BAD_CG_NAME_ERRORS = {"": InvalidError, ".": ExistsError, "..": ExistsError, "x/y": InvalidError,
                       "a\nb": InvalidError}
_BAD_CG_NAMES = tuple(_BAD_CG_NAME_ERRORS)
_EVENT_NAMES = ("low", "high", "max", "oom", "oom_kill", "oom_group_kill")
#: Reclaim hooks: none; honest (returns what it uncharged); a liar (claims
#: more); one that raises ReclaimHookError every third call; one that returns
#: garbage (-1 or a str) every third call; a meddler that also drains, charges
#: and uncharges kernel pages from inside reclaim (see _meddle).
_HOOK_MODES = (None, None, "honest", "honest", "liar", "raiser", "raiser", "garbage", "meddler")
_HOOK_LIE = 3
_HOOK_PERIOD = 3
#: Hook calls in one step after which the hook frees nothing.
_HOOK_STAMINA = 64
_PAGE = 4096


@dataclasses.dataclass
class _TaskTrack:
    """What the machine knows of one task: its handles (impl, oracle),
    whether it lives, the cgroup it is in, and where its pages went: user
    pages and charged page-table pages as ``[cgroup, pages]`` segments,
    oldest first (a task that moves charges the new cgroup from then on;
    what it had stays where it went), and its kernel stack ``(cgroup,
    pages)`` (0 pages where kernel memory was not accounted).  Segments of
    the root hold nothing charged (unmap still takes them in order)."""

    handles: list[Any]
    cg: int
    adj: int
    alive: bool = True
    stack: tuple[int, int] = (0, 0)
    user: list[list[int]] = dataclasses.field(default_factory=list)
    pt: list[list[int]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _SockTrack:
    """What the machine knows of one socket: its handles (impl, oracle),
    the cgroup it is bound to (None: unbound, it charges nothing), the
    pages it holds, whether it is open.  A bound socket's pages are charged
    to its cgroup (v2: ``memory`` and the ``sock`` statistic; v1: the
    ``tcpmem`` counter alone) and it holds its cgroup until closed."""

    handles: list[Any]
    cg: int | None
    pages: int = 0
    alive: bool = True


#: Live tasks at most (fork is not tried beyond).
_MAX_TASKS = 8
#: Open sockets at most (sock_create is not tried beyond).
_MAX_SOCKS = 6
#: A handle without its hierarchy tag (bits 47..62).
_TAG_MASK = (1 << 47) - 1
_OOM_ADJS = (0, 0, 0, 0, 1, -1, 500, -500, 999, -999, 1000, 1000, -1000, -1000)


class HierarchyComparison(RuleBasedStateMachine):
    """Drive ``impl.Hierarchy`` and ``oracle.Hierarchy`` through the same
    steps on the same preset; they must agree exactly, state by state.

    Cgroup ``i`` is the i-th cgroup created (0 is the root); results and
    exceptions are compared with cgroups mapped to that index.  The machine
    keeps a ledger per backend of the pages truly charged to each cgroup
    (user and kernel; forced charges included), as its stat_local counts
    them: an uncharge comes off the cgroup whose stat the core lowers, which
    for pages that offline moved is the named cgroup's nearest online
    ancestor (kernel pages with objcgs, ``Config.objcg``; user pages with
    3.8's reparenting, ``Config.reparent_user_pages``, which also moves the
    user ledger to the parent at remove).  A freed cgroup's ledger is folded
    into its parent's "dead" ledger (the kernel's rstat keeps its counts in
    the ancestors).  With objcgs it also counts the kernel pages charged
    through each cgroup's handle minus those uncharged through it: a freed
    cgroup with some left (or with a shell below) is a *shell*, whose handle
    still takes kernel uncharges.  It checks on the oracle:

    * ``stat_local`` is the ledger exactly (signed), ``stat`` its subtree sum
      (dead ledgers included) on v2; ``memory.events`` is the subtree sum of
      ``events.local`` on v2;
    * ``memory.usage == ledger(subtree) + stock pages cached for the subtree``
      for every cgroup whose subtree ledger never went below zero (so
      usage >= true, the excess is the stocks', at most ncpus x slots x
      charge_batch: SPEC 2.9; after ``drain_all()`` usage is the ledger);
      v1: ``memsw.usage == memory.usage``, ``kmem.usage`` = kernel ledger;
    * ``usage <= max`` unless a forced charge (GFP_NOFAIL / GFP_HIGH) went
      through the counter or ``_xchg_max`` set it since it last fitted;
    * a dying cgroup is held by something (children, a stock slot; with
      objcgs user pages, else any usage), and a freed one held nothing (with
      objcgs no user pages; else no pages at all); shells are out of every
      listing and stale but for kernel uncharges; cgroup.stat counts; ids
      are the lowest free; stocks hold no root (but where a reparented
      kernel uncharge refilled it), at most one slot per cgroup, no slot
      above the batch (capped eras).

    Tasks: the machine forks up to eight live tasks (any cgroup, the root
    too; oom_score_adj from -1000 to 1000; sparse sometimes), faults, unmaps,
    moves and exits them, squeezes limits under them (v2 memory.max, v1
    limit_in_bytes) so that the OOM killer picks victims (memory.oom.group,
    v1 oom_kill_disable), and follows each task's pages where they went
    (:class:`_TaskTrack`: user and page-table segments by cgroup, the stack).
    After every call the tasks that died are found on both sides alike and
    their pages come off the ledgers (an OOM kill's victims included, so a
    charge's stat moves by what it charged less what they gave back).  It
    checks each cgroup's task list, each live task's cgroup, rss, page
    tables, stack, oom_score_adj and throttle, and the ``kernel_stack`` and
    ``pagetables`` statistics against ledgers of their own.  The reclaim
    hook never takes pages a task holds (it stands in for reclaim of pages
    no task maps; taking a task's pages would make its later unmap or exit
    uncharge them twice), nor does the meddling hook's kernel uncharge; the
    uncharge rule sizes its uncharges by the pages no task holds, so that
    underflows stay the ones it asks for.  A hook that raises in memory.high's
    work after a task's charge went through leaves no page behind: a fault's
    page or table is the task's (the kernel does that work on the way back to
    user space), a fork's stack and a kmem_alloc's pages go back.
    ``Task.kmem_alloc`` charges (SPEC 6's rule:
    not in interrupt context, not the root, not before 3.8's activation,
    the white list's GFP_ACCOUNT / SLAB_ACCOUNT or 3.8's black list) are
    such plain kernel pages too: no task holds them, an OOM kill never
    frees them, the uncharge rule gives them back through the cgroup.

    Sockets (up to six open): created in any cgroup (bound unless the root,
    or on v1 where tcpmem accounting is not active; a removed cgroup is
    stale), charged around the limits with every GFP choice, uncharged
    (more than held: InvalidError), closed; v1 tcp limit writes (EBUSY,
    activation by era).  A bound socket's pages are the socket ledger
    (:class:`_SockTrack`): v2 on ``memory`` (in the usage equation above)
    and the ``sock`` statistic, v1 on ``tcpmem`` alone (its usage is the
    subtree's socket pages exactly, within its limit unless NOFAIL forced
    it); ``nr_sockets``, ``tcpmem_active``, ``under_socket_pressure`` (set
    by a v1 refusal, cleared by a success; never on v2) are compared, and
    an open bound socket holds its (dying) cgroup.

    Subclass it (or use :func:`make_hierarchy_machine`) to pick backends.
    """

    impl: Any = _DefaultBackend("pymemcg")
    oracle: Any = _DefaultBackend("pymemcg.model")
    #: Most cgroups that may exist at once (online and dying, root included).
    MAX_CGROUPS = 12
    #: Cgroups added to the first tree (a subclass's choice: ``large=N`` of
    #: :func:`make_hierarchy_machine`): about sqrt(N) middle cgroups below
    #: the root, the rest leaves below them, as simulators' trees are.
    LARGE = 0

    def __init__(self) -> None:
        super().__init__()
        cls = type(self)
        self.backends = (cls.impl, cls.oracle)
        self.config: Any = None
        self.hs: list[Any] = [None, None]
        self.cgs: tuple[list[Any], list[Any]] = ([], [])
        self.index_of: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.parent: list[int | None] = []
        self.status: list[str] = []  # "online", "dying", "freed"
        # Ledgers, per side: pages truly charged to each cgroup (signed).
        self.user: tuple[list[int], list[int]] = ([], [])
        self.kmem: tuple[list[int], list[int]] = ([], [])
        # Kernel pages charged through each cgroup's handle minus those
        # uncharged through it (whatever cgroup they came off): with objcgs
        # a freed cgroup with some left is a shell.
        self.own: tuple[list[int], list[int]] = ([], [])
        # Ledgers folded in from freed children (user, kernel), per side.
        self.dead_user: tuple[list[int], list[int]] = ([], [])
        self.dead_kmem: tuple[list[int], list[int]] = ([], [])
        # The freed cgroups that are shells (as of the last _sync).
        self.shells: set[int] = set()
        # kmem_active as last seen (a freed cgroup can no longer be asked).
        self.active_seen: list[bool] = []
        # A cgroup whose subtree ledger went below zero (it uncharged more
        # than it held): its counters may have been clamped; the ledger no
        # longer predicts them.
        self.dirty: list[bool] = []
        # (index, counter) that may be above max (forced charge, xchg).
        self.may_exceed: set[tuple[int, str]] = set()
        self.last_events_local: list[dict[str, int]] = []
        self.freed_events: list[dict[str, int] | None] = []
        self.hook_mode: str | None = None
        self.hook_k = 0
        self.hook_calls = [0, 0]
        # Pages the hook took away from each cgroup during the current step
        # (net of what it charged), user and kernel.
        self.hook_freed: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.hook_kfreed: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.hook_depth = [0, 0]
        self.meddles = [0, 0]
        self.hook_lies = [0, 0]
        self.hook_garbage = [0, 0]
        self.raw: list[Any] = [None, None]
        self.step_hook_calls = [0, 0]
        # During a replay step: pages the batch will uncharge from each
        # (cgroup, kmem), which the hook must leave alone (the ledgers are
        # updated from the results after the batch).
        self.pending_uncharge: dict[tuple[int, bool], int] = {}
        self.handles: tuple[list[int], list[int]] = ([], [])
        # Open memory.peak / memory.swap.peak files: (cgroup, name, [impl, oracle]).
        self.peak_files: list[tuple[int, str, list[Any]]] = []
        self.max_cgroups = self.MAX_CGROUPS
        # Tasks (see _TaskTrack): machine task k is the k-th task forked.
        self.tasks: list[_TaskTrack] = []
        # Per side: a task's handle (its hierarchy tag masked off) -> k.
        self.task_index: tuple[dict[int, int], dict[int, int]] = ({}, {})
        # The task the current step exits (its death is no OOM kill).
        self.exiting: int | None = None
        # Kernel-stack and page-table pages (sub-counts of the kernel
        # ledger), by the cgroup whose stat has them, and freed children's.
        self.kstack: tuple[list[int], list[int]] = ([], [])
        self.ptab: tuple[list[int], list[int]] = ([], [])
        self.dead_kstack: tuple[list[int], list[int]] = ([], [])
        self.dead_ptab: tuple[list[int], list[int]] = ([], [])
        # Pages that tasks killed during the current call gave back, by the
        # cgroup whose stat they came off (user, kernel), per side.
        self.oom_freed: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.oom_kfreed: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.killed_in_call = 0
        # Sockets (see _SockTrack): machine socket k is the k-th created.
        self.socks: list[_SockTrack] = []

    # ---------------------------------------------------------------- helpers

    def _step(self, name: str) -> None:
        STEP_COUNT["total"] += 1
        STEP_COUNT[name] += 1

    def _index(self, side: int, obj: Any) -> int | None:
        i = self.index_of[side].get(id(obj))
        if i is not None and self.cgs[side][i] is obj:
            return i
        return None

    def _norm(self, side: int, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, (tuple, list)):
            return tuple(self._norm(side, v) for v in value)
        i = self._index(side, value)
        if i is not None:
            return ("cgroup", i)
        path = getattr(value, "path", None)
        if path is not None:
            return ("new cgroup", path, getattr(value, "id", None))
        return ("foreign object", type(value).__name__)

    def _outcome(self, side: int, call: Callable[[int], Any]) -> tuple[Any, ...]:
        self.raw[side] = None
        try:
            result = call(side)
        except (MemcgError, ReclaimHookError) as e:
            detail: Any
            if isinstance(e, UnderflowError):
                views = tuple((self._norm(side, v.cgroup), v.name) for v in e.counters)
                detail = (views, e.nr_pages)
            elif isinstance(e, ReclaimHookError):
                detail = str(e)
            elif hasattr(e, "faulted"):  # Task.fault: the pages that went in
                detail = ("faulted", getattr(e, "errno", None), e.faulted)
            else:
                detail = getattr(e, "errno", None)
            return ("raised", type(e), detail)
        self.raw[side] = result
        return ("returned", self._norm(side, result))

    def _both(self, what: str, call: Callable[[int], Any]) -> tuple[Any, ...]:
        """Run ``call(side)`` on the impl, then on the oracle; the outcomes
        must agree.  Returns the oracle's."""
        for d in self.hook_freed + self.hook_kfreed + self.oom_freed + self.oom_kfreed:
            d.clear()
        self.meddles = [0, 0]
        self.step_hook_calls = [0, 0]
        self.killed_in_call = 0
        got = self._outcome(IMPL, call)
        want = self._outcome(ORACLE, call)
        if got != want:
            raise AssertionError(f"{what}: impl {_show(got)} but oracle {_show(want)}")
        self._reap(what)
        return want

    def _path_up(self, i: int) -> list[int]:
        out = [i]
        p = self.parent[i]
        while p is not None:
            out.append(p)
            p = self.parent[p]
        return out

    def _under(self, i: int, top: int) -> bool:
        return top in self._path_up(i)

    def _existing(self) -> list[int]:
        return [i for i, s in enumerate(self.status) if s != "freed"]

    def _n_existing(self) -> int:
        return sum(1 for s in self.status if s != "freed")

    def _what(self, i: int) -> str:
        cg = self.cgs[ORACLE][i]
        status = "shell" if i in self.shells else self.status[i]
        return f"cgroup {i} ({cg.path or '/'}, {status})"

    def _children(self, i: int) -> list[int]:
        return [j for j, p in enumerate(self.parent) if p == i]

    def _target(self, i: int, kmem: bool) -> int:
        """The cgroup whose stat and counters an uncharge named on cgroup i
        comes off: i itself, or, for pages that offline moved (kernel pages
        with objcgs, user pages with 3.8's reparenting), i's nearest online
        ancestor."""
        cfg = self.config
        if cfg.objcg if kmem else cfg.reparent_user_pages:
            for j in self._path_up(i):
                if self.status[j] == "online":
                    return j
        return i

    def _objcg_held(self, side: int, i: int) -> bool:
        """With objcgs: kernel pages charged through cgroup i's handle are
        still charged, or a shell below pins it; once freed, it is (or
        stays) a shell."""
        if not self.config.objcg:
            return False
        if self.own[side][i] > 0 or self._task_segs_name(i, user=False, kern=True):
            return True
        return any(self._objcg_held(side, j) for j in self._children(i) if self.status[j] != "online")

    def _handle_held(self, i: int, kmem: bool) -> int:
        """Pages an uncharge through cgroup i's handle may take without
        underflowing, by the oracle's ledgers: kernel pages charged through
        it; user pages of the cgroup they now belong to."""
        if kmem:
            return self.own[ORACLE][i] - self._task_kern_through(i)
        t = self._target(i, False)
        return self.user[ORACLE][t] - self._task_user_at(t)

    def _active(self, i: int) -> bool:
        """kmem_active, as last seen for a freed cgroup (a shell has kernel
        pages charged through it: it was active)."""
        if self.status[i] == "freed":
            return self.active_seen[i]
        return bool(self.cgs[ORACLE][i].kmem_active)

    def _subtree_sums(self, side: int) -> dict[int, tuple[int, int]]:
        """Per existing cgroup: (all pages, kernel pages) that the side's
        ledgers hold in its subtree, dead ledgers included."""
        sums: dict[int, tuple[int, int]] = {}
        for j in self._existing():
            kern = self.kmem[side][j] + self.dead_kmem[side][j]
            # v2 socket pages are on memory too (never a freed cgroup's:
            # a bound socket holds its cgroup, and takes them back at close).
            total = self.user[side][j] + self.dead_user[side][j] + kern + self._mem_sock_pages(j)
            for a in self._path_up(j):
                t, k = sums.get(a, (0, 0))
                sums[a] = (t + total, k + kern)
        return sums

    def _credit(self, side: int, i: int, n: int, kmem: bool) -> int:
        """``n`` pages (accounted: not the root, not 0, kmem active) were
        uncharged through cgroup i's handle: off the side's ledger of the
        cgroup they came off (returned), and off i's own kernel count;
        the levels they may have clamped are marked."""
        t = self._target(i, kmem)
        (self.kmem if kmem else self.user)[side][t] -= n
        if kmem:
            self.own[side][i] -= n
        self._mark_clamps(side, t)
        return t

    def _mark_clamps(self, side: int, t: int) -> None:
        """Pages came off cgroup t's counters (each level clamps on its
        own): mark every level from t up whose subtree ledger is below zero
        (v1: its kernel part too, for the kmem counter)."""
        kmem_counter = "kmem" in self.config.counters
        sums = self._subtree_sums(side)
        for j in self._path_up(t):
            total, kern = sums.get(j, (0, 0))
            if total < 0 or (kmem_counter and kern < 0):
                if not self.dirty[j]:
                    record_edge("uncharged more than held")
                self.dirty[j] = True

    # ---------------------------------------------------------------- task ledger

    def _tasks_in(self, i: int) -> list[int]:
        return [k for k, t in enumerate(self.tasks) if t.alive and t.cg == i]

    def _task_user_at(self, t: int) -> int:
        """User pages live tasks hold whose stat is cgroup t's: a reclaim
        hook leaves them alone (it stands in for reclaim of pages no task
        maps; a hook that took a task's pages would make the task's later
        unmap or exit uncharge them twice)."""
        return sum(
            n for tk in self.tasks if tk.alive for c, n in tk.user if c and self._target(c, False) == t
        )

    def _task_kern_through(self, i: int) -> int:
        """Kernel pages live tasks hold charged through cgroup i's handle
        (stacks and page tables): the meddling hook and the uncharge rule's
        sizes leave them alone."""
        total = 0
        for tk in self.tasks:
            if tk.alive:
                total += sum(n for c, n in tk.pt if c == i)
                if tk.stack[0] == i:
                    total += tk.stack[1]
        return total

    def _task_segs_name(self, i: int, user: bool, kern: bool) -> bool:
        """A live task has a segment naming cgroup i (user pages; kernel
        pages: its stack, page tables)."""
        for tk in self.tasks:
            if not tk.alive:
                continue
            if user and any(c == i for c, _ in tk.user):
                return True
            if kern and (any(c == i for c, _ in tk.pt) or (tk.stack[1] and tk.stack[0] == i)):
                return True
        return False

    def _credit_task_user(self, side: int, c: int, n: int) -> int:
        """A task's n user pages charged to cgroup c come off (unmap, exit):
        ``_credit``.  (3.8 pages that offline moved to the root come off the
        root's counters and anon statistic, as 3.8's
        __mem_cgroup_uncharge_common() lowers the root's statistics too.)"""
        if self._target(c, False) == 0 and self.config.reparent_user_pages:
            record_edge("task pages reparented to the root uncharged (3.8)")
        return self._credit(side, c, n, False)

    def _task_key(self, task: Any) -> int:
        return int(task.handle) & _TAG_MASK

    # ---------------------------------------------------------------- socket ledger

    def _sock_pages(self, i: int) -> int:
        """Pages the open sockets bound to cgroup i hold (charged to it)."""
        return sum(sk.pages for sk in self.socks if sk.alive and sk.cg == i)

    def _sock_holds(self, i: int) -> bool:
        """An open socket is bound to cgroup i (it holds a reference)."""
        return any(sk.alive and sk.cg == i for sk in self.socks)

    def _mem_sock_pages(self, i: int) -> int:
        """Socket pages of cgroup i on the ``memory`` counter (v2 only)."""
        return self._sock_pages(i) if self.config.version == 2 else 0

    def _task_gone(self, k: int, killed: bool) -> None:
        """Task k exited or was killed: everything it held comes off, each
        part from where it went (user pages newest first, then page tables,
        then the stack, as do_exit() frees them), on the side's ledgers."""
        tk = self.tasks[k]
        tk.alive = False
        dying = False
        for side in (IMPL, ORACLE):
            freed_u, freed_k = self.oom_freed[side], self.oom_kfreed[side]
            for c, n in reversed(tk.user):
                if c and n:
                    t = self._credit_task_user(side, c, n)
                    freed_u[t] = freed_u.get(t, 0) + n
                    dying |= self.status[c] != "online"
            kern = [(c, n, self.ptab) for c, n in reversed(tk.pt)] + [(*tk.stack, self.kstack)]
            for c, n, sub in kern:
                if c and n:
                    t = self._credit(side, c, n, True)
                    sub[side][t] -= n
                    freed_k[t] = freed_k.get(t, 0) + n
                    dying |= self.status[c] != "online"
        tk.user, tk.pt, tk.stack = [], [], (0, 0)
        if dying:
            record_edge(TASK_DYING_PAGES)
        if killed:
            self.killed_in_call += 1
            record_edge(OOM_KILL_TASK)
            record_edge(f"OOM kill (v{self.config.version}, {self.config.charge_loop} charge loop)")
        for side in (IMPL, ORACLE):
            try:
                tk.handles[side].rss
            except StaleHandleError:
                pass
            else:
                raise AssertionError(f"{_SIDE_NAMES[side]}: task {k} is gone but its handle works")

    def _reap(self, what: str) -> None:
        """After a call: the tasks it killed (or exited) are gone on both
        sides alike; their pages come off the ledgers."""
        for k, tk in enumerate(self.tasks):
            if not tk.alive:
                continue
            alive = [bool(tk.handles[s].alive) for s in (IMPL, ORACLE)]
            if alive[IMPL] != alive[ORACLE]:
                raise AssertionError(f"{what}: task {k} alive: impl {alive[IMPL]}, oracle {alive[ORACLE]}")
            if not alive[ORACLE]:
                self._task_gone(k, killed=k != self.exiting)

    def _pick(
        self,
        data: st.DataObject,
        label: str,
        online: int = 0,
        root: int = 0,
        dying: int = 0,
        freed: int = 0,
        held: int = 0,
        shell: int = 0,
    ) -> int:
        groups = {
            "online": [i for i, s in enumerate(self.status) if i and s == "online"],
            "root": [0],
            "dying": [i for i, s in enumerate(self.status) if s == "dying"],
            "freed": [i for i, s in enumerate(self.status) if s == "freed"],
            "held": [
                i
                for i, s in enumerate(self.status)
                if i and s != "freed" and (self.user[ORACLE][i] > 0 or self.own[ORACLE][i] > 0)
            ],
            "shell": sorted(self.shells),
        }
        kinds = [
            k
            for k, w in (
                ("online", online),
                ("root", root),
                ("dying", dying),
                ("freed", freed),
                ("held", held),
                ("shell", shell),
            )
            if groups[k]
            for _ in range(w)
        ]
        if not kinds:
            return 0
        kind = data.draw(st.sampled_from(kinds), label=f"{label} kind")
        return data.draw(st.sampled_from(groups[kind]), label=label)

    def _cpu(self, data: st.DataObject, bad: bool = False) -> int:
        n = self.config.ncpus
        cpus = [c for c in (0, 0, 0, 1, 2) if c < n]
        if bad:
            cpus.append(n)
        return data.draw(st.sampled_from(cpus), label="cpu")

    def _stocks(self, side: int) -> tuple[tuple[tuple[Any, int], ...], ...]:
        h = self.hs[side]
        return tuple(
            tuple((self._norm(side, c), p) for c, p in h.stock(cpu))
            for cpu in range(self.config.ncpus)
        )

    def _counter(self, side: int, i: int, cname: str) -> dict[str, int]:
        return _state_of(getattr(self.cgs[side][i], cname))

    def _probe(self) -> dict[str, Any]:
        """What the edges are read from: the oracle's stocks, counters and
        local events."""
        ctr = {}
        ev = {}
        for cg in self.hs[ORACLE].cgroups():  # not self.status: a step may free
            i = self._index(ORACLE, cg)
            ctr[i] = {c: _state_of(getattr(cg, c)) for c in self.config.counters}
            ev[i] = cg.events_local
        return {"stock": self._stocks(ORACLE), "ctr": ctr, "ev": ev}

    def _edges_between(self, pre: dict[str, Any], post: dict[str, Any]) -> dict[str, int]:
        """Record the event and stock edges of one step; return the event deltas."""
        delta = dict.fromkeys(_EVENT_NAMES, 0)
        for i, evs in post["ev"].items():
            if i in pre["ev"]:
                for name in _EVENT_NAMES:
                    delta[name] += evs[name] - pre["ev"][i][name]
        for name, edge in (("max", MAX_EVENT), ("oom", OOM_EVENT), ("high", HIGH_EVENT),
                           ("oom_group_kill", OOM_GROUP_KILL)):
            if delta[name] > 0:
                record_edge(edge)
        k = self.config.stock_slots
        for before, after in zip(pre["stock"], post["stock"]):
            if k > 1 and all(c is not None for c, _ in before):
                cached = {c for c, _ in before}
                for (b, _), (a, _) in zip(before, after):
                    if a is not None and a != b and a not in cached:
                        record_edge(SLOT_EVICTION if k == 7 else f"slot eviction ({k} slots)")
        return delta

    def _hook_edges(self, lies: int, garbage: int) -> None:
        if self.hook_lies[ORACLE] > lies:
            record_edge(HOOK_LIED)
        if self.hook_garbage[ORACLE] > garbage:
            record_edge("hook returned garbage")

    # ---------------------------------------------------------------- the reclaim hook

    def _make_hook(self, side: int) -> Callable[[Any, int], Any]:
        def hook(cg: Any, nr_pages: int) -> Any:
            return self._hook(side, cg, nr_pages)

        return hook

    def _hook(self, side: int, cg: Any, nr_pages: int) -> Any:
        """Uncharge up to k pages (k = nr_pages if 0) of user memory from the
        first cgroup, in creation order, under ``cg`` that the side's ledger
        says holds some; claim what the mode says."""
        self.hook_calls[side] += 1
        call = self.hook_calls[side]
        self.step_hook_calls[side] += 1
        if self.step_hook_calls[side] > _HOOK_STAMINA:
            # Small charges retry for as long as reclaim makes progress (as
            # the kernel's do): against a forced charge of 2**51 pages a
            # hook freeing one page a call would keep one step going for
            # ever.  Past its stamina the hook frees nothing, and the loop
            # runs out its retries.
            if side == ORACLE:
                record_edge("hook out of stamina")
            return 0
        mode = self.hook_mode
        if mode == "raiser" and call % _HOOK_PERIOD == 0:
            raise ReclaimHookError(f"reclaim hook call {call}")
        if mode == "garbage" and call % _HOOK_PERIOD == 0:
            self.hook_garbage[side] += 1
            return -1 if call % 2 else "pages"
        top = self._index(side, cg)
        assert top is not None, f"{_SIDE_NAMES[side]}: the reclaim hook got an unknown {cg!r}"
        if mode == "meddler" and self.hook_depth[side]:
            # Called back from the hook's own charge: free nothing (the
            # meddling charge reads its effect from the stat).
            return 0
        if mode == "meddler" and self.meddles[side] < 4:
            # At most four meddles a step: a charge refilled by the hook and
            # freed again would look like progress forever.
            self.meddles[side] += 1
            self.hook_depth[side] += 1
            try:
                self._meddle(side, call)
            finally:
                self.hook_depth[side] -= 1
        freed = 0
        ledger = self.user[side]
        for j, s in enumerate(self.status):
            obj = self.cgs[side][j]
            held = ledger[j] - self.pending_uncharge.get((j, False), 0) - self._task_user_at(j)
            if j and s != "freed" and held > 0 and self._under(j, top) and (obj.online or obj.dying):
                # (3.8: a dying cgroup's user pages went to its parent at
                # offline: its ledger is 0, the hook never picks it; those
                # of the root's children went to the root, whose own
                # uncharges do nothing.)
                freed = min(held, self.hook_k or nr_pages)
                if freed:
                    t = self._credit(side, j, freed, False)
                    self.hook_freed[side][t] = self.hook_freed[side].get(t, 0) + freed
                    self.cgs[side][j].uncharge(freed)
                break
        if mode == "liar":
            self.hook_lies[side] += 1
            return freed + _HOOK_LIE
        return freed

    def _meddle(self, side: int, call: int) -> None:
        """The meddling hook's side effect before it frees: by turns a drain
        of one CPU, a 1-page GFP_NOWAIT charge to the first online cgroup,
        a 1-page kmem uncharge (through the stock where the era does so) of
        the first cgroup holding kernel pages charged through it (with
        objcgs, a dying one's come off its nearest online ancestor), or
        nothing."""
        from ..gfp import GFP_NOWAIT

        cpu = call % self.config.ncpus
        h = self.hs[side]
        live = [
            j
            for j, s in enumerate(self.status)
            if j and s != "freed" and (self.cgs[side][j].online or self.cgs[side][j].dying)
        ]
        how = call % 4
        if how == 1:
            h.drain(cpu)
        elif how == 2:
            online = [j for j in live if self.cgs[side][j].online]
            if online:
                j = online[0]
                obj = self.cgs[side][j]
                anon = obj.stat_local["anon"]
                obj.try_charge(1, cpu=cpu, flags=GFP_NOWAIT)
                if obj.stat_local["anon"] != anon:
                    self.user[side][j] += 1
                    self.hook_freed[side][j] = self.hook_freed[side].get(j, 0) - 1
        elif how == 3:
            held = [
                j
                for j in live
                if self.own[side][j] - self._task_kern_through(j) > self.pending_uncharge.get((j, True), 0)
                and self.cgs[side][j].kmem_active
            ]
            if held:
                j = held[0]
                t = self._credit(side, j, 1, True)
                if t != j and side == ORACLE:
                    record_edge("kmem uncharged from an ancestor (meddling hook)")
                self.hook_kfreed[side][t] = self.hook_kfreed[side].get(t, 0) + 1
                self.cgs[side][j].uncharge(1, cpu=cpu, kmem=True)

    # ---------------------------------------------------------------- set-up

    def _register(self, side: int, obj: Any, i: int) -> None:
        assert len(self.cgs[side]) == i
        self.cgs[side].append(obj)
        self.index_of[side][id(obj)] = i
        self.handles[side].append(obj.handle)

    def _add_index(self, parent: int | None) -> int:
        i = len(self.parent)
        self.parent.append(parent)
        self.status.append("online")
        for side in (IMPL, ORACLE):
            for ledger in (self.user, self.kmem, self.own, self.dead_user, self.dead_kmem,
                           self.kstack, self.ptab, self.dead_kstack, self.dead_ptab):
                ledger[side].append(0)
        self.active_seen.append(False)
        self.dirty.append(False)
        self.last_events_local.append(dict.fromkeys(_EVENT_NAMES, 0))
        self.freed_events.append(None)
        return i

    @initialize(
        preset=st.sampled_from(_PRESETS),
        ncpus=st.sampled_from((1, 1, 2, 3)),
        batch=st.sampled_from((None, None, 4, 4, 8)),
        seed=st.one_of(st.integers(0, 2**16), st.just(2**64 - 1)),
        hook=st.sampled_from(_HOOK_MODES),
        hook_k=st.sampled_from((0, 1, 4, 32)),
        kmem_on_root=st.booleans(),
        shape=st.one_of(
            trees(max_size=5),
            # Wide trees: eight cgroups on one CPU evict from seven slots.
            trees(min_size=8, max_size=10),
        ),
        deep=st.sampled_from((0,) * 9 + (16,)),
        mix=st.one_of(st.just({}), st.just({}), st.just({}), _config_mixes()),
    )
    def setup(
        self,
        preset: str,
        ncpus: int,
        batch: int | None,
        seed: int,
        hook: str | None,
        hook_k: int,
        kmem_on_root: bool,
        shape: list[tuple[int, str]],
        deep: int,
        mix: dict[str, Any],
    ) -> None:
        """A preset (``linux_3_8``, ``current``, ``current_v1``, or the
        4.x-5.15 v1 with an enforced kmem limit) with 1-3 CPUs, sometimes a
        small charge batch (stocks matter more often), a seed for the
        eviction generators, sometimes other fields mixed in (the "what if"
        configurations Config accepts), maybe a reclaim hook, and a first
        tree of up to nine cgroups, or a chain ``deep`` cgroups deep (the C
        binding reports underflows below 15 levels another way)."""
        from ..config import Config

        if preset == "v1_kmem_enforced":
            cfg = Config.current_v1(ncpus=ncpus, seed=seed, kmem_limit="enforced")
        else:
            cfg = getattr(Config, preset)(ncpus=ncpus, seed=seed)
        if batch is not None:
            cfg = cfg.replace(charge_batch=batch)
        for key, value in mix.items():
            try:
                cfg = cfg.replace(**{key: value})
            except MemcgError:  # not a valid combination with this preset
                continue
            record_edge(f"config {key}={value!r}")
        if deep:
            self.max_cgroups = deep + 4
        if self.LARGE:
            self.max_cgroups = self.MAX_CGROUPS + self.LARGE
        self.config = cfg
        self.hook_mode, self.hook_k = hook, hook_k
        self._add_index(None)
        for side, m in enumerate(self.backends):
            h = m.Hierarchy(cfg, reclaim=None if hook is None else self._make_hook(side))
            self.hs[side] = h
            self._register(side, h.root, 0)
        record_edge(f"preset {preset}")
        if kmem_on_root and cfg.kmem_activation == "on_limit":
            self._both("root._activate_kmem()", lambda s: self.cgs[s][0]._activate_kmem())
        for pick, name in shape:
            online = [i for i, s in enumerate(self.status) if s == "online"]
            self._do_create(online[pick % len(online)], name, by_path=bool(pick & 1))
        for level in range(deep):
            self._do_create(len(self.status) - 1 if level else 0, "d", by_path=False)
        if deep:
            record_edge("deep chain")
        if self.LARGE:
            self._large_tree()
        self._sync()

    def _large_tree(self) -> None:
        middles = max(1, int(self.LARGE ** 0.5))
        first = len(self.status)
        for k in range(middles):
            self._do_create(0, f"m{k}", by_path=False)
        for k in range(self.LARGE - middles):
            self._do_create(first + k % middles, f"l{k}", by_path=False)
        record_edge("large tree")

    # ---------------------------------------------------------------- tree

    def _sync(self) -> None:
        """Read h.cgroups() on both sides: the same cgroups, in creation
        order, in the same states; note the ones freed by the last step."""
        seen = []
        for side in (IMPL, ORACLE):
            out = []
            for cg in self.hs[side].cgroups():
                i = self._index(side, cg)
                assert i is not None, f"{_SIDE_NAMES[side]}: h.cgroups() lists unknown {cg!r}"
                out.append((i, "online" if cg.online else "dying"))
            seen.append(out)
        assert seen[IMPL] == seen[ORACLE], f"cgroups(): impl {seen[IMPL]} but oracle {seen[ORACLE]}"
        order = [i for i, _ in seen[ORACLE]]
        assert order == sorted(order), f"cgroups() not in creation order: {order}"
        present = dict(seen[ORACLE])
        freed = []
        for i, s in enumerate(self.status):
            if s == "freed":
                assert i not in present, f"cgroup {i} came back"
            elif i in present:
                if s == "dying":
                    assert present[i] == "dying", f"cgroup {i} came back online"
                self.status[i] = present[i]
            else:
                freed.append(i)
        # Children first: a child's ledger goes into its parent's dead one
        # before the parent's goes on up.
        for i in reversed(freed):
            self._freed(i)
        for i in sorted(self.shells):
            if not self._objcg_held(ORACLE, i):
                self.shells.discard(i)
                record_edge(SHELL_GONE)
                self._check_stale(i, shell=False)

    def _freed(self, i: int) -> None:
        """Cgroup i was freed by the last step: it held nothing that keeps a
        cgroup (era by era), its ledgers go to its parent's dead ones, and
        it is stale, or a shell."""
        cfg = self.config
        self.status[i] = "freed"
        self.freed_events[i] = self.last_events_local[i]
        record_edge(FREED_CGROUP)
        assert i != 0, "the root was freed"
        assert not self._sock_holds(i), f"cgroup {i} freed while an open socket is bound to it"
        user, kern = self.user[ORACLE][i], self.kmem[ORACLE][i]
        dead_user, dead_kern = self.dead_user[ORACLE][i], self.dead_kmem[ORACLE][i]
        if cfg.objcg:
            # Only user pages keep a cgroup (its stat, exact and signed).
            assert user <= 0, f"cgroup {i} freed while it holds {user} user pages"
            if kern > 0:
                record_edge("freed with kernel pages (objcg)")
        elif not self.dirty[i]:
            # Every counter was empty: the ledger (no stock holds it) says so.
            held = user + kern + dead_user + dead_kern
            assert held == 0, f"cgroup {i} freed while it holds {held} pages ({user}, {kern})"
            if "kmem" in cfg.counters:
                assert kern + dead_kern == 0, f"cgroup {i} freed while it holds {kern} kernel pages"
        p = self.parent[i]
        assert p is not None
        for side in (IMPL, ORACLE):
            self.dead_user[side][p] += self.user[side][i] + self.dead_user[side][i]
            self.dead_kmem[side][p] += self.kmem[side][i] + self.dead_kmem[side][i]
            self.user[side][i] = self.kmem[side][i] = 0
            self.dead_user[side][i] = self.dead_kmem[side][i] = 0
            for sub, dead in ((self.kstack, self.dead_kstack), (self.ptab, self.dead_ptab)):
                dead[side][p] += sub[side][i] + dead[side][i]
                sub[side][i] = dead[side][i] = 0
        if user or kern or dead_user or dead_kern:
            record_edge("freed cgroup's counts kept by its parent")
        shell = self._objcg_held(ORACLE, i)
        if shell:
            self.shells.add(i)
            record_edge(SHELL)
            if self._task_segs_name(i, user=False, kern=True):
                record_edge("shell kept by a task's kernel pages")
            elif self.own[ORACLE][i] <= 0:
                record_edge("shell kept by a shell child")
        self._check_stale(i, shell)

    def _check_stale(self, i: int, shell: bool) -> None:
        """Freed cgroup i is stale on both sides: neither online nor dying,
        every use raises StaleHandleError (a shell still takes kernel
        uncharges: the uncharge rule tries them)."""
        for side in (IMPL, ORACLE):
            cg = self.cgs[side][i]
            assert not cg.online and not cg.dying, f"{_SIDE_NAMES[side]}: freed cgroup {i} online/dying"
            try:
                cg.stat
            except StaleHandleError:
                pass
            else:
                raise AssertionError(f"{_SIDE_NAMES[side]}: freed cgroup {i} not stale")
            if not shell:
                # Safe to try: a stale handle finds nothing (no free is queued).
                try:
                    cg.uncharge(0, kmem=True)
                except StaleHandleError:
                    pass
                else:
                    raise AssertionError(f"{_SIDE_NAMES[side]}: freed cgroup {i} takes kmem uncharges")

    def _do_create(self, p: int, name: str, by_path: bool) -> None:
        status = self.status[p]
        by_path = by_path and status == "online" and name in _CG_NAMES
        taken = {
            self.cgs[ORACLE][i].name
            for i in self._existing()
            if self.parent[i] == p and self.status[i] == "online"
        }
        # The ids in use: a dying cgroup gave its id back at offline (4.8+).
        ids = {self.cgs[ORACLE][i].id for i in self._existing()
               if self.status[i] == "online" or not self.config.id_at_offline}

        def call(side: int) -> Any:
            if by_path:
                ppath = self.cgs[side][p].path
                return self.hs[side].create(f"{ppath}/{name}" if ppath else name)
            return self.cgs[side][p].create(name)

        out = self._both(f"create {name!r} under {self._what(p)} (by path: {by_path})", call)
        if name in _BAD_CG_NAMES:
            want: Any = _BAD_CG_NAME_ERRORS[name]
        elif status == "freed":
            want = StaleHandleError
        elif status == "dying":
            want = NotFoundError
        elif name in taken:
            want = ExistsError
        else:
            want = None
        if want is None:
            assert out[0] == "returned", f"create {name!r} under {self._what(p)}: {_show(out)}"
        else:
            assert out[:2] == ("raised", want), f"create {name!r}: {_show(out)}, wanted {want}"
            if want is ExistsError and name not in _BAD_CG_NAMES:
                record_edge("create EEXIST")
            return
        i = self._add_index(p)
        for side in (IMPL, ORACLE):
            self._register(side, self.raw[side], i)
        lowest = next(x for x in range(1, 65536) if x not in ids)
        cg = self.cgs[ORACLE][i]
        assert cg.id == lowest, f"new cgroup {i} has id {cg.id}, the lowest free is {lowest}"
        if lowest < max(ids):
            record_edge("id reused")
        if lowest in {self.cgs[ORACLE][j].id for j in self._existing() if self.status[j] == "dying"}:
            record_edge("id of a dying cgroup reused")
        if name in {self.cgs[ORACLE][j].name for j in self._existing() if self.status[j] == "dying" and self.parent[j] == p}:
            record_edge("name of a dying cgroup reused")
        assert self._norm(ORACLE, cg.parent) == ("cgroup", p)

    @precondition(lambda self: self._n_existing() < self.max_cgroups)
    @rule(data=st.data())
    def create(self, data: st.DataObject) -> None:
        self._step("create")
        p = self._pick(data, "parent", online=8, root=4, dying=1, freed=1)
        name = data.draw(st.sampled_from(_CG_NAMES * 8 + _BAD_CG_NAMES), label="name")
        by_path = data.draw(st.booleans(), label="by path")
        self._do_create(p, name, by_path)
        self._sync()

    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        self._step("remove")
        self._do_remove(self._pick(data, "cgroup", online=10, root=1, dying=1, freed=1))

    @rule(data=st.data())
    def remove_holding(self, data: st.DataObject) -> None:
        """Remove an online leaf that holds pages (maybe after charging it
        a few user or kernel pages more), then uncharge through its handle up to
        three times: the paths of pages that offline left behind (a dying
        cgroup's, an objcg's from its nearest online ancestor, a shell's,
        3.8's reparented user pages from the parent)."""
        self._step("remove_holding")
        leaves = [
            i
            for i, s in enumerate(self.status)
            if i and s == "online"
            and not any(self.parent[j] == i and self.status[j] == "online" for j in self._existing())
        ]
        # Those holding user pages, those holding kernel pages (charged
        # through them): kernel pages keep a 3.8 cgroup dying, user pages an
        # objcg era's.
        kinds = {
            "user": [i for i in leaves if self.user[ORACLE][i] > 0],
            "kernel": [i for i in leaves if self.own[ORACLE][i] > 0],
            "any": leaves,
        }
        kind = data.draw(st.sampled_from([k for k, v in kinds.items() if v] or ["none"]), label="holding")
        if kind == "none":
            return
        i = data.draw(st.sampled_from(kinds[kind]), label="cgroup")
        gfp_kernel = _gfp_choices()[0][1]
        if data.draw(st.booleans(), label="user pages too"):
            n = data.draw(st.integers(1, 4), label="user pages")
            self._do_try_charge(i, n, self._cpu(data), gfp_kernel, False, "GFP_KERNEL")
        if kind == "any" or data.draw(st.booleans(), label="kernel pages too"):
            if self.config.kmem_activation == "on_limit":
                self._activate(i)  # a leaf: no online child refuses it
            n = data.draw(st.integers(1, 4), label="kernel pages")
            self._do_try_charge(i, n, self._cpu(data), gfp_kernel, True, "GFP_KERNEL")
        self._do_remove(i)
        for _ in range(data.draw(st.integers(0, 3), label="uncharges")):
            if self.status[i] == "freed" and i not in self.shells:
                break
            kmem = data.draw(st.booleans(), label="kmem")
            held = max(self._handle_held(i, kmem), 0)
            sizes = sorted({min(x, PAGE_COUNTER_MAX) for x in (held, max(held - 1, 0), 1, held + 1)})
            n = data.draw(st.sampled_from(sizes), label="nr_pages")
            self._do_uncharge(i, n, self._cpu(data), kmem)

    def _do_remove(self, i: int) -> None:
        status = self.status[i]
        if status == "online":
            # Its events so far (this step may have charged it): only an
            # online cgroup has events, and it may be freed at once.
            self.last_events_local[i] = self.cgs[ORACLE][i].events_local
        online_kids = any(self.parent[j] == i and self.status[j] == "online" for j in self._existing())
        pre = self._probe()
        out = self._both(f"remove {self._what(i)}", lambda s: self.cgs[s][i].remove())
        if i == 0:
            want: Any = BusyError
        elif status != "online":
            want = StaleHandleError
        elif online_kids or self._tasks_in(i):
            want = BusyError
        else:
            want = None
        if want is None:
            assert out == ("returned", None), f"remove {self._what(i)}: {_show(out)}"
            if self._task_segs_name(i, user=True, kern=True):
                record_edge(MOVE_THEN_REMOVE)
            self.status[i] = "dying"
            if self.config.reparent_user_pages:
                self._reparent_user_pages(i)
            self._check_drained(pre["stock"], i)
            self._sync()
            if self.status[i] == "dying":
                record_edge(DYING_CGROUP)
                m = self._counter(ORACLE, i, "memory")
                assert m["min"] == m["low"] == 0, f"removed {self._what(i)} keeps protection: {m}"
            else:
                record_edge("removed and freed at once")
        else:
            assert out[:2] == ("raised", want), f"remove {self._what(i)}: {_show(out)}, wanted {want}"
            if want is BusyError and i:
                record_edge("remove EBUSY (tasks)" if self._tasks_in(i) else "remove EBUSY (online children)")
            self._sync()

    def _reparent_user_pages(self, i: int) -> None:
        """3.8 offline: cgroup i's user pages (its stat, signed) moved to its
        parent, online (an online child keeps its parent online); i's own
        counters let go of them, if there were any to let go of."""
        p = self.parent[i]
        assert p is not None and self.status[p] == "online"
        moved = self.user[ORACLE][i]
        for side in (IMPL, ORACLE):
            self.user[side][p] += self.user[side][i]
            self.user[side][i] = 0
        if moved > 0:
            record_edge(USER_REPARENTED)
        total, _ = self._subtree_sums(ORACLE).get(i, (0, 0))
        if moved < 0 or total < 0:
            # A negative count is moved, but no counter changes (or i's clamps).
            self.dirty[i] = True

    def _check_drained(self, before: Any, top: int) -> None:
        """drain_all_stock(top) ran: every CPU that had pages of top's
        subtree is empty, the others did not change."""
        after = self._stocks(ORACLE)
        for cpu, (b, a) in enumerate(zip(before, after)):
            hit = any(c is not None and p > 0 and self._under(c[1], top) for c, p in b)
            if hit:
                assert all(x == (None, 0) for x in a), f"cpu {cpu} not drained: {b} -> {a}"
            else:
                assert a == b, f"cpu {cpu} drained for nothing: {b} -> {a}"

    # ---------------------------------------------------------------- charging

    def _charge_sizes(self, i: int) -> list[int]:
        batch = self.config.charge_batch
        sizes = [0, 1, 1, 1, 1, 2, 3, batch - 1, batch, batch + 1, 100]
        if self.status[i] != "freed":
            for j in self._path_up(i)[:-1]:
                for cname in ("memory", "memsw", "kmem"):
                    if cname in self.config.counters:
                        s = self._counter(ORACLE, j, cname)
                        room = s["max"] - s["usage"]
                        if 0 <= room <= 4096:
                            sizes += [room - 1, room, room + 1]
        return sorted({n for n in sizes if n >= 0})

    @rule(data=st.data())
    def try_charge(self, data: st.DataObject) -> None:
        self._step("try_charge")
        i = self._pick(data, "cgroup", online=14, root=1, dying=1, freed=1)
        sizes = self._charge_sizes(i)
        huge = st.sampled_from((PAGE_COUNTER_MAX, 2**40, 2**32 + 1))
        n = data.draw(
            st.one_of(
                st.sampled_from(sizes), st.sampled_from(sizes), st.integers(1, 40),
                st.integers(1, 40), st.integers(1, 40), huge,
            ),
            label="nr_pages",
        )
        cpu = self._cpu(data)
        flags_name, flags = data.draw(st.sampled_from(_gfp_choices()), label="flags")
        kmem = data.draw(st.sampled_from((False, False, True)), label="kmem")
        self._do_try_charge(i, n, cpu, flags, kmem, flags_name)

    @rule(data=st.data())
    def charge_each(self, data: st.DataObject) -> None:
        """One small charge to every online cgroup in turn on one CPU (fills
        the stocks: with 7 slots, eviction needs 8 cgroups)."""
        self._step("charge_each")
        if self.config.stock_slots > 1 and data.draw(st.booleans(), label="grow"):
            self._grow(self.config.stock_slots + 1)
        cpu = self._cpu(data)
        n = data.draw(st.sampled_from((1, 1, 2)), label="nr_pages")
        kmem = data.draw(st.sampled_from((False, False, True)), label="kmem")
        for i in [i for i, s in enumerate(self.status) if i and s == "online"]:
            if self.status[i] == "online":
                self._do_try_charge(i, n, cpu, _gfp_choices()[0][1], kmem, "GFP_KERNEL")

    def _grow(self, want: int) -> None:
        """Create cgroups (breadth first, free names) until ``want`` online
        cgroups below the root exist or the machine's cap is reached: one
        more cgroup than a CPU has stock slots makes a refill evict."""
        while self._n_existing() < self.max_cgroups:
            online = [i for i, s in enumerate(self.status) if s == "online"]
            if len(online) - 1 >= want:
                break
            parents = [p for p in online if p == 0 or self.parent[p] == 0]
            names = {p: {self.cgs[ORACLE][j].name for j in online if self.parent[j] == p} for p in parents}
            free = [(p, n) for p in parents for n in _CG_NAMES if n not in names[p]]
            if not free:
                break
            self._do_create(*free[0], by_path=False)
        self._sync()

    def _stat_local(self, side: int, i: int) -> tuple[int, int]:
        s = self.cgs[side][i].stat_local
        return s["anon"], s["kernel"]

    def _do_try_charge(
        self, i: int, n: int, cpu: int, flags: int, kmem: bool, flags_name: str
    ) -> None:
        from ..gfp import GFP_DIRECT_RECLAIM, GFP_HIGH, GFP_KSWAPD_RECLAIM, GFP_NOFAIL

        cfg = self.config
        status = self.status[i]
        what = f"{self._what(i)}.try_charge({n}, cpu={cpu}, flags={flags_name}, kmem={kmem})"
        pre = self._probe()
        stats = [self._stat_local(s, i) if status != "freed" else None for s in (IMPL, ORACLE)]
        active = status != "freed" and self.cgs[ORACLE][i].kmem_active
        lies, garbage = self.hook_lies[ORACLE], self.hook_garbage[ORACLE]
        calls = self.hook_calls[ORACLE]
        out = self._both(
            what, lambda s: self.cgs[s][i].try_charge(n, cpu=cpu, flags=flags, kmem=kmem)
        )
        # The meddling hook may have refilled the stock that the retry
        # then consumed: the stock-based edge reading below does not apply.
        meddled = self.hook_mode == "meddler" and self.hook_calls[ORACLE] > calls
        # So may the OOM killer: a victim's pages are uncharged on the
        # charging CPU, through its stock (kmem_uncharge_via_stock).
        meddled = meddled or bool(self.killed_in_call)
        self._hook_edges(lies, garbage)
        if status != "online":
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
            record_edge("charge a dying cgroup" if status == "dying" else "charge a freed cgroup")
            self._sync()
            return
        # What was charged, read from each side's stat (anon / kernel).
        charged = []
        for side in (IMPL, ORACLE):
            anon0, kern0 = stats[side]  # type: ignore[misc]
            anon1, kern1 = self._stat_local(side, i)
            d_anon = (anon1 - anon0) // _PAGE + self.hook_freed[side].get(i, 0) + self.oom_freed[side].get(i, 0)
            d_kern = (kern1 - kern0) // _PAGE + self.hook_kfreed[side].get(i, 0) + self.oom_kfreed[side].get(i, 0)
            got = d_kern if kmem else d_anon
            other = d_anon if kmem else d_kern
            assert other == 0 and got in (0, n), f"{what}: {_SIDE_NAMES[side]} stat moved {d_anon}/{d_kern}"
            charged.append(n > 0 and got == n)
        assert charged[IMPL] == charged[ORACLE], f"{what}: charged {charged}"
        ok = charged[ORACLE]
        # 3.8 left __GFP_NOFAIL kernel allocations unaccounted.
        unaccounted = kmem and cfg.charge_loop == "3.8" and bool(flags & GFP_NOFAIL)
        if out[0] == "returned":
            if out[1] is None:
                want = i != 0 and n > 0 and (not kmem or active) and not unaccounted
                assert ok == want, f"{what} returned None, charged {ok}, wanted {want}"
                if unaccounted and i and n and active:
                    record_edge("3.8 NOFAIL kmem unaccounted")
            else:
                assert not ok, f"{what} failed but charged"
                assert out[1][0] == "cgroup" and out[1][1] in self._path_up(i), f"{what}: {out}"
                record_edge("charge failed")
                if self.killed_in_call:
                    record_edge(KILL_IN_VAIN)
        elif out[1] is ReclaimHookError:
            record_edge(HOOK_RAISED)
            if ok:
                record_edge("hook raised after the charge (memory.high)")
        if ok:
            for side in (IMPL, ORACLE):
                (self.kmem if kmem else self.user)[side][i] += n
                if kmem:
                    self.own[side][i] += n
        if i == 0:
            record_edge("charge the root")
        if kmem and not active and i:
            record_edge("kmem not accounted (3.8, inactive)")
        post = self._probe()
        delta = self._edges_between(pre, post)
        path = self._path_up(i)
        mem_names = [c for c in ("memory", "memsw") if c in cfg.counters]
        forced_flags = bool(flags & (GFP_NOFAIL | GFP_HIGH))
        # 3.8: the kmem counter is charged first and its limit refuses
        # before anything else happens.
        if kmem and cfg.kmem_first and active and i and n > 0 and not unaccounted:
            refuser = next(
                (j for j in path if pre["ctr"][j]["kmem"]["usage"] + n > pre["ctr"][j]["kmem"]["max"]),
                None,
            )
            if refuser is not None:
                assert out == ("returned", ("cgroup", refuser)), f"{what}: kmem limit of {refuser}: {_show(out)}"
                assert all(v == 0 for v in delta.values()), f"{what}: kmem refusal raised events {delta}"
                record_edge(KMEM_LIMIT_REFUSED)
        if kmem and not cfg.kmem_first and cfg.kmem_limit == "enforced" and out[0] == "returned":
            if out[1] is not None and out[1][1] in pre["ctr"]:
                k = pre["ctr"][out[1][1]]["kmem"]
                if k["usage"] + n > k["max"]:
                    record_edge("kmem limit refused after the memory charge (4.x)")
        if ok and forced_flags:  # (a hook may raise after a forced charge)
            self.may_exceed.update((j, c) for j in path for c in mem_names)
            if kmem and "kmem" in cfg.counters:
                self.may_exceed.update((j, "kmem") for j in path)
        if out != ("returned", None) or not ok or meddled:
            self._sync()
            return
        # Consumed from the stock: one slot of this CPU caching i went down
        # by n (3.8: by one page), nothing else moved.
        took = 1 if cfg.stock_single_page else n
        changed = [
            (c, s)
            for c, (b, a) in enumerate(zip(pre["stock"], post["stock"]))
            for s, (x, y) in enumerate(zip(b, a))
            if x != y
        ]
        consumed = False
        if len(changed) == 1 and changed[0][0] == cpu:
            (b_cg, b_n), (a_cg, a_n) = pre["stock"][cpu][changed[0][1]], post["stock"][cpu][changed[0][1]]
            consumed = b_cg == a_cg == ("cgroup", i) and b_n - a_n == took
        if consumed:
            record_edge("charge from the stock")
            return self._sync()
        over = [
            (j, c) for j in path for c in mem_names if post["ctr"][j][c]["usage"] > post["ctr"][j][c]["max"]
        ]
        if over:
            assert forced_flags, f"{what}: charged over max without NOFAIL/HIGH at {over}"
            record_edge(FORCED_CHARGE)
            if flags & (GFP_DIRECT_RECLAIM | GFP_KSWAPD_RECLAIM) == GFP_KSWAPD_RECLAIM:
                record_edge("forced charge without reclaim (GFP_ATOMIC)")
        spins = bool(flags & (GFP_DIRECT_RECLAIM | GFP_KSWAPD_RECLAIM))
        first_batch = max(cfg.charge_batch, n)
        if cfg.allow_spinning_batch and not spins:
            first_batch = n
        if (
            first_batch > n
            and not over
            and post["stock"] == pre["stock"]
            and all(v == 0 for v in delta.values())
            and post["ctr"][i]["memory"]["usage"] - pre["ctr"][i]["memory"]["usage"] == n
        ):
            record_edge(EXACT_SIZE_RETRY)
        self._sync()

    @rule(data=st.data())
    def uncharge(self, data: st.DataObject) -> None:
        self._step("uncharge")
        i = self._pick(data, "cgroup", held=12, online=2, root=1, dying=3, freed=1, shell=3)
        shell = i in self.shells
        u, k = self._handle_held(i, False), self._handle_held(i, True)
        if shell:
            kmem = data.draw(st.integers(0, 7), label="other kind") != 0
        elif u > 0 and k > 0:
            kmem = data.draw(st.booleans(), label="kmem")
        elif u > 0 or k > 0:
            kmem = k > 0 if data.draw(st.integers(0, 7), label="other kind") else k <= 0
        else:
            kmem = data.draw(st.booleans(), label="kmem")
        held = k if kmem else u
        sizes = sorted({max(0, x) for x in (held, held, held, held - 1, 1, held + 1, held + 5, 0)})
        if data.draw(st.integers(0, 15), label="huge") == 0:
            sizes = [PAGE_COUNTER_MAX, min(max(held, 0) + 2**40, PAGE_COUNTER_MAX)]
        n = data.draw(st.one_of(st.sampled_from(sizes), st.integers(0, max(held, 1))), label="nr_pages")
        n = min(n, PAGE_COUNTER_MAX)
        self._do_uncharge(i, n, self._cpu(data), kmem)

    def _do_uncharge(self, i: int, n: int, cpu: int, kmem: bool) -> None:
        shell = i in self.shells
        status = self.status[i]
        active = self._active(i)
        pre = self._probe()
        what = f"{self._what(i)}.uncharge({n}, cpu={cpu}, kmem={kmem})"
        out = self._both(what, lambda s: self.cgs[s][i].uncharge(n, cpu=cpu, kmem=kmem))
        if status == "freed" and not (shell and kmem):
            # Freed: stale; a shell only takes kernel uncharges.
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
            return self._sync()
        t = i
        if i and n and (active or not kmem):
            for side in (IMPL, ORACLE):
                t = self._credit(side, i, n, kmem)
            if t != i:
                record_edge(KMEM_FROM_ANCESTOR if kmem else UNCHARGED_FROM_PARENT)
        if out[0] == "raised":
            assert out[1] is UnderflowError, f"{what}: {_show(out)}"
            clean = not any(self.dirty[j] for j in self._path_up(t))
            assert not clean, f"{what}: underflow, but the ledgers up the path held enough"
            record_edge(UNDERFLOW)
            if len(self._path_up(i)) > 15:
                record_edge("underflow 15+ levels deep")
        else:
            assert out == ("returned", None), f"{what}: {_show(out)}"
        if shell:
            record_edge("uncharge a shell")
        elif status == "dying":
            record_edge("uncharge a dying cgroup")
        self._edges_between(pre, self._probe())
        self._sync()

    # ---------------------------------------------------------------- stocks

    # A hook that raises (or returns garbage, which raises) after a charge
    # went through (memory.high's work) leaves that charge outside the
    # burst's own ledger: the single-call rules own that case.
    @precondition(lambda self: self.config is not None
                  and self.hook_mode not in ("raiser", "garbage"))
    @rule(data=st.data())
    def owned_burst(self, data: st.DataObject) -> None:
        """Own a CPU on both sides (``Hierarchy.cpu``) for a burst of charges
        on online cgroups, each outcome compared; everything that went in
        goes back through the same CPU before the release, so the ledgers
        stand, and the invariant compares the whole state afterwards (the
        stocks the burst filled and drained included).  In between, the
        owner's cached cgroup and stock slot are used and changed."""
        self._step("owned_burst")
        # Cgroups whose levels all hold what the ledgers say (none clamped by
        # an underflow): there, giving back what went in cannot underflow.
        online = [i for i, s in enumerate(self.status) if i and s == "online"
                  and not any(self.dirty[j] for j in self._path_up(i))]
        if not online:
            return
        cpu = self._cpu(data)
        # User pages: their charge and uncharge mirror each other in every
        # era (kernel memory's depend on activation and the era's stock rules,
        # which the single-call rules check).
        plan = data.draw(st.lists(st.tuples(st.sampled_from(online), st.integers(1, 70),
                                            st.just(False),
                                            st.sampled_from(_gfp_choices()),
                                            st.booleans()),
                                  min_size=1, max_size=12), label="burst")
        what = f"cpu({cpu}) burst " + ", ".join(
            f"{self._what(i)}+{n}{'k' if kmem else ''} {fl[0]}{' drain' if dr else ''}"
            for i, n, kmem, fl, dr in plan)

        def call(side: int) -> Any:
            cgs, results, held = self.cgs[side], [], []
            with self.hs[side].cpu(cpu) as owned:
                try:
                    for i, n, kmem, (_, flags), drain in plan:
                        over = owned.try_charge(cgs[i], n, flags=flags, kmem=kmem)
                        results.append(over)
                        if over is None:
                            held.append((i, n, kmem))
                        if drain:
                            owned.drain()
                finally:
                    for i, n, kmem in reversed(held):
                        owned.uncharge(cgs[i], n, kmem=kmem)
            return results

        out = self._both(what, call)
        from ..gfp import GFP_HIGH, GFP_NOFAIL

        # A forced charge (as _do_try_charge notes) may leave a stock over
        # the limit after the burst: the kmem given back stays in it.
        mem_names = [c for c in ("memory", "memsw") if c in self.config.counters]
        for k, (i, n, kmem, (_, flags), _dr) in enumerate(plan):
            charged = out[0] != "returned" or out[1][k] is None
            if charged and flags & (GFP_NOFAIL | GFP_HIGH):
                path = self._path_up(i)
                self.may_exceed.update((j, c) for j in path for c in mem_names)
                if kmem and "kmem" in self.config.counters:
                    self.may_exceed.update((j, "kmem") for j in path)
        if out[0] == "returned":
            record_edge("owned CPU burst")
            if any(r is not None for r in out[1]):
                record_edge("owned CPU charge refused")
        self._sync()

    @rule(data=st.data())
    def drain(self, data: st.DataObject) -> None:
        self._step("drain")
        cpu = self._cpu(data, bad=True)
        before = self._stocks(ORACLE)
        out = self._both(f"drain({cpu})", lambda s: self.hs[s].drain(cpu))
        if cpu >= self.config.ncpus:
            assert out[:2] == ("raised", InvalidError), f"drain({cpu}): {_show(out)}"
            return
        after = self._stocks(ORACLE)
        for c, (b, a) in enumerate(zip(before, after)):
            want = tuple((None, 0) for _ in b) if c == cpu else b
            assert a == want, f"drain({cpu}): cpu {c} {b} -> {a}"
        self._sync()

    @rule(data=st.data())
    def drain_all(self, data: st.DataObject) -> None:
        self._step("drain_all")
        top: int | None = None
        if data.draw(st.booleans(), label="with a root"):
            top = self._pick(data, "root", online=6, root=2, dying=2, freed=1)
        status = self.status[top] if top is not None else "online"
        before = self._stocks(ORACLE)
        what = "drain_all()" if top is None else f"drain_all({self._what(top)})"
        out = self._both(
            what, lambda s: self.hs[s].drain_all(None if top is None else self.cgs[s][top])
        )
        if status == "freed":
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
            return
        assert out == ("returned", None), f"{what}: {_show(out)}"
        self._check_drained(before, 0 if top is None else top)
        self._sync()
        for j in self._existing():
            if self._under(j, 0 if top is None else top) and not self.dirty[j]:
                usage = self._counter(ORACLE, j, "memory")["usage"]
                true = self._ledger_sum(ORACLE, j)
                assert usage == true, f"after {what}: {self._what(j)} usage {usage}, charged {true}"

    # ---------------------------------------------------------------- limits

    def _limit_values(self, s: dict[str, int]) -> list[int]:
        batch = self.config.charge_batch
        u = s["usage"]
        vals = [0, 1, 2, u - 1, u, u, u + 1, u + 2, u + batch, u + 2 * batch, 3 * batch, PAGE_COUNTER_MAX]
        return sorted({min(max(v, 0), PAGE_COUNTER_MAX) for v in vals})

    @rule(data=st.data())
    def set_max(self, data: st.DataObject) -> None:
        self._step("set_max")
        i = self._pick(data, "cgroup", online=10, root=1, dying=1, freed=1)
        cfg = self.config
        names = ("memory",) * 4 + cfg.counters
        if cfg.kmem_activation == "on_limit":
            names += ("kmem",) * 3  # 3.8: the kmem limit refuses first
        cname = data.draw(st.sampled_from(names), label="counter")
        if cname == "kmem" and cfg.kmem_activation == "on_limit" and self.status[i] != "freed":
            if data.draw(st.booleans(), label="activate kmem first"):
                self._activate(i)
        status = self.status[i]
        pre = self._counter(ORACLE, i, cname) if status != "freed" else None
        vals = self._limit_values(pre) if pre else [0, 5]
        n = data.draw(st.one_of(st.sampled_from(vals), st.integers(0, 3 * cfg.charge_batch)), label="max")
        what = f"{self._what(i)}._set_max({cname!r}, {n})"
        out = self._both(what, lambda s: self.cgs[s][i]._set_max(cname, n))
        if pre is None:
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
        elif pre["usage"] > n:
            assert out == ("raised", BusyError, 16), f"{what} below usage {pre['usage']}: {_show(out)}"
            record_edge(EBUSY_RESIZE)
        else:
            assert out == ("returned", None), f"{what}: {_show(out)}"
            assert self._counter(ORACLE, i, cname)["max"] == n
            if n == pre["usage"] and n:
                record_edge("limit set to usage")
        self._sync()

    @rule(data=st.data())
    def xchg_max(self, data: st.DataObject) -> None:
        self._step("xchg_max")
        i = self._pick(data, "cgroup", online=10, root=1, dying=1, freed=1)
        cname = data.draw(st.sampled_from(("memory",) * 4 + self.config.counters), label="counter")
        status = self.status[i]
        pre = self._counter(ORACLE, i, cname) if status != "freed" else None
        vals = self._limit_values(pre) if pre else [0]
        n = data.draw(st.sampled_from(vals), label="max")
        what = f"{self._what(i)}._xchg_max({cname!r}, {n})"
        out = self._both(what, lambda s: self.cgs[s][i]._xchg_max(cname, n))
        if pre is None:
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
        else:
            assert out == ("returned", pre["max"]), f"{what}: {_show(out)}, old max {pre['max']}"
            self.may_exceed.add((i, cname))
            if pre["usage"] > n:
                record_edge("xchg_max below usage")
        self._sync()

    @rule(data=st.data())
    def set_high(self, data: st.DataObject) -> None:
        self._step("set_high")
        i = self._pick(data, "cgroup", online=10, root=1, dying=1)
        names = ("memory", "memory", "memory", "swap") if self.config.version == 2 else ("memory",)
        cname = data.draw(st.sampled_from(names), label="counter")
        pre = self._counter(ORACLE, i, cname)
        n = data.draw(st.sampled_from(self._limit_values(pre)), label="high")
        what = f"{self._what(i)}._set_high({cname!r}, {n})"
        out = self._both(what, lambda s: self.cgs[s][i]._set_high(cname, n))
        assert out == ("returned", None), f"{what}: {_show(out)}"
        assert self._counter(ORACLE, i, cname)["high"] == n
        self._sync()

    @rule(data=st.data(), which=st.sampled_from(("_set_min", "_set_low")))
    def set_protection(self, data: st.DataObject, which: str) -> None:
        self._step(which)
        i = self._pick(data, "cgroup", online=10, dying=1, freed=1)
        if i == 0:
            return
        n = data.draw(st.sampled_from((0, 1, 3, 8, 64, PAGE_COUNTER_MAX)), label="pages")
        status = self.status[i]
        what = f"{self._what(i)}.{which}({n})"
        out = self._both(what, lambda s: getattr(self.cgs[s][i], which)(n))
        if status == "freed":
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
        else:
            assert out == ("returned", None), f"{what}: {_show(out)}"
        self._sync()

    @rule(data=st.data(), which=st.sampled_from(("watermark", "local_watermark", "failcnt")))
    def reset(self, data: st.DataObject, which: str) -> None:
        self._step("reset_" + which)
        i = self._pick(data, "cgroup", online=10, root=2, dying=1, freed=1)
        cname = data.draw(st.sampled_from(self.config.counters), label="counter")
        status = self.status[i]
        what = f"{self._what(i)}._reset_{which}({cname!r})"
        out = self._both(what, lambda s: getattr(self.cgs[s][i], f"_reset_{which}")(cname))
        if status == "freed":
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
            return
        assert out == ("returned", None), f"{what}: {_show(out)}"
        s = self._counter(ORACLE, i, cname)
        if which == "failcnt":
            assert s["failcnt"] == 0
        else:
            assert s["local_watermark"] == s["usage"], s
        self._sync()

    def _activate(self, i: int) -> None:
        status = self.status[i]
        # 3.8 memcg_has_children(): the children list, which rmdir empties.
        kids = any(self.parent[j] == i and self.status[j] == "online" for j in self._existing())
        was = status != "freed" and self.cgs[ORACLE][i].kmem_active
        what = f"{self._what(i)}._activate_kmem()"
        out = self._both(what, lambda s: self.cgs[s][i]._activate_kmem())
        if status == "freed":
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
        elif not was and (kids or self._tasks_in(i)):
            assert out == ("raised", BusyError, 16), f"{what} with children or tasks: {_show(out)}"
            record_edge("kmem activation EBUSY" if kids else "kmem activation EBUSY (tasks)")
        else:
            assert out == ("returned", None), f"{what}: {_show(out)}"
            assert self.cgs[ORACLE][i].kmem_active

    @precondition(lambda self: self.config is not None and self.config.kmem_activation == "on_limit")
    @rule(data=st.data())
    def activate_kmem(self, data: st.DataObject) -> None:
        self._step("activate_kmem")
        self._activate(self._pick(data, "cgroup", online=10, root=2, dying=1, freed=1))
        self._sync()

    # ---------------------------------------------------------------- reclaim, events

    @precondition(lambda self: self.config is not None and self.config.kmem_activation == "on_limit")
    @rule(data=st.data())
    def kmem_over_limit(self, data: st.DataObject) -> None:
        """3.8: give an online cgroup a kmem limit a few pages above its
        kmem usage (activating it), then charge past it: the kmem counter
        refuses before the memory counters are tried."""
        self._step("kmem_over_limit")
        i = self._pick(data, "cgroup", online=1)
        if i == 0:
            return
        room = data.draw(st.integers(0, 3), label="room")
        self._activate(i)
        if not self.cgs[ORACLE][i].kmem_active:
            return self._sync()
        usage = self._counter(ORACLE, i, "kmem")["usage"]
        if usage + room > PAGE_COUNTER_MAX:  # after a forced charge of 2**51 pages
            return self._sync()
        what = f"{self._what(i)}._set_max('kmem', {usage + room})"
        out = self._both(what, lambda s: self.cgs[s][i]._set_max("kmem", usage + room))
        assert out == ("returned", None), f"{what}: {_show(out)}"
        n = data.draw(st.integers(room + 1, room + 3), label="nr_pages")
        self._do_try_charge(i, n, self._cpu(data), _gfp_choices()[0][1], True, "GFP_KERNEL")

    @precondition(lambda self: self.hook_mode is not None)
    @rule(data=st.data())
    def reclaim(self, data: st.DataObject) -> None:
        """cg._reclaim(n): the hook's claim, capped by the progress seen."""
        self._step("reclaim")
        i = self._pick(data, "cgroup", online=8, root=2, dying=2, freed=1)
        n = data.draw(st.sampled_from((0, 1, 4, 32)), label="nr_pages")
        status = self.status[i]
        lies, garbage = self.hook_lies[ORACLE], self.hook_garbage[ORACLE]
        what = f"{self._what(i)}._reclaim({n})"
        out = self._both(what, lambda s: self.cgs[s][i]._reclaim(n))
        self._hook_edges(lies, garbage)
        if status == "freed":
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
            return
        freed = sum(self.hook_freed[ORACLE].values())
        if out[0] == "returned" and not self.dirty[i] and self.hook_mode != "meddler":
            assert out[1] == freed, f"{what} returned {out[1]}, the hook freed {freed}"
        elif out[0] == "raised":
            # UnderflowError: the hook uncharged below a clamped (dirty) level.
            allowed = (ReclaimHookError, InvalidError, InvalidTypeError)
            assert out[1] in allowed or (out[1] is UnderflowError and any(self.dirty)), _show(out)
            if out[1] is ReclaimHookError:
                record_edge(HOOK_RAISED)
        self._sync()

    @rule(data=st.data())
    def event(self, data: st.DataObject) -> None:
        self._step("event")
        i = self._pick(data, "cgroup", online=8, root=2, dying=2, freed=1)
        name = data.draw(st.sampled_from(_EVENT_NAMES + ("bogus",)), label="event")
        status = self.status[i]
        what = f"{self._what(i)}._event({name!r})"
        out = self._both(what, lambda s: self.cgs[s][i]._event(name))
        if name == "bogus":
            assert out[:2] == ("raised", InvalidError), f"{what}: {_show(out)}"
        elif status == "freed":
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
        else:
            assert out == ("returned", None), f"{what}: {_show(out)}"
        self._sync()

    # ---------------------------------------------------------------- tasks

    def _pick_task(self, data: st.DataObject, alive: int = 1, dead: int = 0) -> int | None:
        live = [k for k, t in enumerate(self.tasks) if t.alive]
        gone = [k for k, t in enumerate(self.tasks) if not t.alive]
        kinds = [
            kind for kind, w, ks in (("alive", alive, live), ("dead", dead, gone)) if ks for _ in range(w)
        ]
        if not kinds:
            return None
        kind = data.draw(st.sampled_from(kinds), label="task kind")
        return data.draw(st.sampled_from(live if kind == "alive" else gone), label="task")

    def _task_stats(self, i: int) -> list[tuple[int, int]]:
        return [tuple(v // _PAGE for v in self._stat_local(s, i)) for s in (IMPL, ORACLE)]  # type: ignore[misc]

    def _settle_task_call(
        self, what: str, i: int, before: list[tuple[int, int]], user: int, kern: int, out: tuple[Any, ...]
    ) -> None:
        """A fork or a fault charged cgroup i (online: a task is in it or
        forks there): its stat moved by what the task now holds more
        (``user`` and ``kern`` pages, the ledgers already say so), less what
        the hook and the OOM victims took off it.  No page is left that no
        task holds: where a hook raised in memory.high's work after a charge
        went through, a fault's page (or table) is the task's, as the kernel
        does that work on the way back to user space, and a fork's stack or a
        kmem_alloc's pages go back (the call could not hand them over)."""
        hook_error = out[0] == "raised" and out[1] not in (ChargeError, ForkError, KilledError, StaleHandleError)
        for side in (IMPL, ORACLE):
            anon1, kern1 = self._task_stats(i)[side]
            anon0, kern0 = before[side]
            d_anon = anon1 - anon0 + self.hook_freed[side].get(i, 0) + self.oom_freed[side].get(i, 0)
            d_kern = kern1 - kern0 + self.hook_kfreed[side].get(i, 0) + self.oom_kfreed[side].get(i, 0)
            leak_u, leak_k = d_anon - (user if i else 0), d_kern - (kern if i else 0)
            assert not (leak_u or leak_k), (
                f"{what}: {_SIDE_NAMES[side]} stat of cgroup {i} moved {d_anon}/{d_kern},"
                f" the task holds {user}/{kern} more ({_show(out)})"
            )
        if hook_error and (user or kern):
            record_edge("hook raised after a task's charge: the task keeps it")

    def _kill_edges(self, out: tuple[Any, ...], failed: bool) -> None:
        if failed and self.killed_in_call:
            record_edge(KILL_IN_VAIN)

    @precondition(lambda self: self.config is not None and sum(t.alive for t in self.tasks) < _MAX_TASKS)
    @rule(data=st.data())
    def fork(self, data: st.DataObject) -> None:
        """Fork a task in a cgroup (any, the root too; a removed one is
        stale): its kernel stack is charged where kernel memory is
        accounted, which may reclaim, run the OOM killer, or be refused
        (ForkError, nothing stays charged)."""
        self._step("fork")
        self._do_fork(self._pick(data, "cgroup", online=12, root=2, dying=1, freed=1), data)

    def _do_fork(self, i: int, data: st.DataObject) -> None:
        cfg = self.config
        status = self.status[i]
        adj = data.draw(st.sampled_from(_OOM_ADJS), label="oom_score_adj")
        sparse = data.draw(st.sampled_from((False, False, False, True)), label="sparse")
        cpu = self._cpu(data)
        accounted = status == "online" and i != 0 and self._active(i)
        pages = cfg.kernel_stack_pages if accounted else 0
        before = self._task_stats(i) if status == "online" else []
        pre = self._probe()
        lies, garbage = self.hook_lies[ORACLE], self.hook_garbage[ORACLE]
        what = f"{self._what(i)}.fork(cpu={cpu}, oom_score_adj={adj}, sparse={sparse})"
        out = self._both(what, lambda s: self.cgs[s][i].fork(cpu=cpu, oom_score_adj=adj, sparse=sparse))
        self._hook_edges(lies, garbage)
        self._edges_between(pre, self._probe())
        if status != "online":
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
            record_edge("fork in a removed cgroup")
            return self._sync()
        got = 0
        if out[0] == "returned":
            assert out[1] == ("foreign object", "Task"), f"{what}: {_show(out)}"
            k = len(self.tasks)
            tk = _TaskTrack(handles=[self.raw[IMPL], self.raw[ORACLE]], cg=i, adj=adj)
            self.tasks.append(tk)
            for side in (IMPL, ORACLE):
                self.task_index[side][self._task_key(tk.handles[side])] = k
            got = tk.handles[ORACLE].stack
            assert got == pages, f"{what}: stack {got}, wanted {pages}"
            if got:
                tk.stack = (i, got)
                for side in (IMPL, ORACLE):
                    self.kmem[side][i] += got
                    self.own[side][i] += got
                    self.kstack[side][i] += got
            record_edge("fork in the root" if i == 0 else "fork")
        else:
            assert out[1] is not StaleHandleError, f"{what}: {_show(out)}"
            if out[1] is ForkError:
                assert pages, f"{what}: refused, but the stack is not accounted"
                record_edge("fork refused")
                path = self._path_up(i)
                kmem_over = "kmem" in cfg.counters and cfg.kmem_limit == "enforced" and any(
                    pre["ctr"][j]["kmem"]["usage"] + pages > pre["ctr"][j]["kmem"]["max"] for j in path
                )
                mem_room = all(
                    pre["ctr"][j]["memory"]["usage"] + pages <= pre["ctr"][j]["memory"]["max"] for j in path
                )
                if kmem_over and mem_room:
                    record_edge(FORK_KMEM_REFUSED)
        self._kill_edges(out, out[:2] == ("raised", ForkError))
        self._settle_task_call(what, i, before, 0, got, out)
        self._sync()

    def _fault_sizes(self, i: int) -> list[int]:
        batch = self.config.charge_batch
        sizes = [1, 1, 1, 2, 3, 4, 8, 16, 32, batch + 1]
        sizes += [n for n in self._charge_sizes(i) if 0 < n <= 160]
        return sorted(set(sizes))

    @rule(data=st.data())
    def fault(self, data: st.DataObject) -> None:
        """A task maps more pages: page tables, then each page, charged to
        its cgroup; limits hit reclaim and the OOM killer (which may kill
        the faulting task itself: KilledError); ``faulted`` on an error is
        compared."""
        self._step("fault")
        k = self._pick_task(data, alive=12, dead=1)
        if k is None:
            return
        i = self.tasks[k].cg
        n = data.draw(st.one_of(st.sampled_from(self._fault_sizes(i)), st.integers(0, 12)), label="nr_pages")
        self._do_fault(k, n, self._cpu(data))

    def _do_fault(self, k: int, n: int, cpu: int) -> None:
        cfg = self.config
        tk = self.tasks[k]
        i = tk.cg
        what = f"task {k} (in {self._what(i)}).fault({n}, cpu={cpu})"
        if not tk.alive:
            out = self._both(what, lambda s: self.tasks[k].handles[s].fault(n, cpu=cpu))
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
            return
        accounted = cfg.pagetables_accounted and i != 0 and self._active(i)
        t = tk.handles[ORACLE]
        rss0, pt0 = t.rss, t.pagetables
        before = self._task_stats(i)
        pre = self._probe()
        lies, garbage = self.hook_lies[ORACLE], self.hook_garbage[ORACLE]
        out = self._both(what, lambda s: self.tasks[k].handles[s].fault(n, cpu=cpu))
        self._hook_edges(lies, garbage)
        self._edges_between(pre, self._probe())
        user = kern = 0
        if tk.alive:
            done, charged = t.rss - rss0, t.pagetables - pt0
            assert 0 <= done <= n and charged >= 0, f"{what}: rss {rss0} -> {t.rss}, tables {pt0} -> {t.pagetables}"
            if out[0] == "returned":
                assert done == n, f"{what}: returned, {done} faulted"
            elif isinstance(out[2], tuple) and out[2][:1] == ("faulted",):
                assert out[2][2] == done, f"{what}: {_show(out)}, but {done} faulted"
            if not accounted:
                charged = 0
            for segs, pages in ((tk.user, done), (tk.pt, charged)):
                if pages:
                    if segs and segs[-1][0] == i:
                        segs[-1][1] += pages
                    else:
                        segs.append([i, pages])
            if i:
                user, kern = done, charged
                for side in (IMPL, ORACLE):
                    self.user[side][i] += done
                    self.kmem[side][i] += charged
                    self.own[side][i] += charged
                    self.ptab[side][i] += charged
        else:
            # KilledError, or ChargeError where the charge that killed it
            # gave up (6.12 try_charge_memcg(): passed_oom && task_is_dying()
            # -> nomem), or a hook's error.
            assert out[0] == "raised" and out[1] is not StaleHandleError, (
                f"{what}: the task was killed, but {_show(out)}"
            )
            record_edge(f"fault: the faulting task was killed ({out[1].__name__})")
        if out[0] == "raised":
            record_edge(f"fault {out[1].__name__}")
        if tk.alive and t.throttle_jiffies:
            record_edge("task throttled (memory.high)")
        if out[:2] == ("raised", ChargeError) and any(
            self.cgs[ORACLE][j]._tunable("oom_kill_disable") for j in self._path_up(i)
        ):
            record_edge("fault refused under oom_kill_disable (v1)")
        self._kill_edges(out, out[:2] == ("raised", ChargeError))
        self._settle_task_call(what, i, before, user, kern, out)
        self._sync()

    @rule(data=st.data())
    def unmap(self, data: st.DataObject) -> None:
        """A task unmaps pages, the newest first, each uncharged from where
        it went (a cgroup it left, maybe removed since); more than it maps
        is EINVAL."""
        self._step("unmap")
        k = self._pick_task(data, alive=12, dead=1)
        if k is None:
            return
        tk = self.tasks[k]
        rss = sum(p for _, p in tk.user)
        n = data.draw(st.sampled_from(sorted({0, 1, rss // 2, max(rss - 1, 0), rss, rss, rss + 1})), label="nr_pages")
        self._do_unmap(k, n, self._cpu(data))

    def _do_unmap(self, k: int, n: int, cpu: int) -> None:
        tk = self.tasks[k]
        rss = sum(p for _, p in tk.user)
        alive = tk.alive
        what = f"task {k} (in {self._what(tk.cg)}).unmap({n}, cpu={cpu})"
        pre = self._probe()
        out = self._both(what, lambda s: self.tasks[k].handles[s].unmap(n, cpu=cpu))
        self._edges_between(pre, self._probe())
        if not alive:
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
            return
        if n > rss:
            assert out[:2] == ("raised", InvalidError), f"{what}: {_show(out)}"
            return
        assert out == ("returned", None), f"{what}: {_show(out)}"
        left = n
        while left:
            c, p = tk.user[-1]
            take = min(p, left)
            if c:
                for side in (IMPL, ORACLE):
                    self._credit_task_user(side, c, take)
                if self.status[c] != "online":
                    record_edge(TASK_DYING_PAGES)
                    record_edge("unmap of a removed cgroup's pages")
            left -= take
            if take == p:
                tk.user.pop()
            else:
                tk.user[-1][1] -= take
        self._sync()

    @rule(data=st.data())
    def move(self, data: st.DataObject) -> None:
        """Move a task to another cgroup (online: the root too; a removed
        one is stale): what it charged stays where it went."""
        self._step("move")
        k = self._pick_task(data, alive=12, dead=1)
        if k is None:
            return
        tk = self.tasks[k]
        j = self._pick(data, "target", online=10, root=2, dying=1, freed=1)
        alive, status = tk.alive, self.status[j]
        what = f"task {k} (in {self._what(tk.cg)}).move({self._what(j)})"
        out = self._both(what, lambda s: self.tasks[k].handles[s].move(self.cgs[s][j]))
        if not alive or status != "online":
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
            record_edge("move to a removed cgroup" if alive else "move of a dead task")
            return self._sync()
        assert out == ("returned", None), f"{what}: {_show(out)}"
        if j != tk.cg:
            record_edge("task moved")
        tk.cg = j
        self._sync()

    @rule(data=st.data())
    def exit(self, data: st.DataObject) -> None:
        """A task exits: everything it charged is uncharged from where it
        went (its objcg's cgroup now, for kernel pages); that may free a
        dying cgroup it held."""
        self._step("exit")
        k = self._pick_task(data, alive=12, dead=1)
        if k is None:
            return
        self._do_exit(k, self._cpu(data))

    def _do_exit(self, k: int, cpu: int) -> None:
        tk = self.tasks[k]
        alive = tk.alive
        dying = [i for i, s in enumerate(self.status) if s == "dying"]
        what = f"task {k} (in {self._what(tk.cg)}).exit(cpu={cpu})"
        pre = self._probe()
        self.exiting = k
        try:
            out = self._both(what, lambda s: self.tasks[k].handles[s].exit(cpu=cpu))
        finally:
            self.exiting = None
        self._edges_between(pre, self._probe())
        if not alive:
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
            return
        assert out == ("returned", None) and not tk.alive, f"{what}: {_show(out)}"
        self._sync()
        if any(self.status[i] == "freed" for i in dying):
            record_edge(EXIT_FREES_DYING)

    @rule(data=st.data())
    def move_out_and_remove(self, data: st.DataObject) -> None:
        """Move every task out of an online leaf that tasks hold pages of
        (to its parent), remove it, then unmap from or exit each task that
        still holds its pages: they come off the dying cgroup (or where
        offline sent them), and the last of them frees it."""
        self._step("move_out_and_remove")
        leaves = [
            i
            for i, s in enumerate(self.status)
            if i and s == "online"
            and not any(self.parent[j] == i and self.status[j] == "online" for j in self._existing())
            and self._task_segs_name(i, user=True, kern=True)
        ]
        if not leaves:
            return
        # Tasks' user pages keep a cgroup dying in every era (kernel pages
        # only where there is no objcg).
        users = [i for i in leaves if self._task_segs_name(i, user=True, kern=False)]
        i = data.draw(st.sampled_from(users * 3 + leaves), label="cgroup")
        p = self.parent[i]
        assert p is not None
        for k in self._tasks_in(i):
            what = f"task {k} (in {self._what(i)}).move({self._what(p)})"
            out = self._both(what, lambda s: self.tasks[k].handles[s].move(self.cgs[s][p]))
            assert out == ("returned", None), f"{what}: {_show(out)}"
            self.tasks[k].cg = p
        self._sync()
        if data.draw(st.booleans(), label="uncharge the rest first"):
            # What no task holds goes first: the tasks' pages are all that
            # keeps it dying, and the last exit frees it.
            for kmem in (False, True):
                held = self._handle_held(i, kmem)
                cpu = self._cpu(data)
                # Forced charges can take a ledger past PAGE_COUNTER_MAX, which
                # one uncharge cannot name: give it back in pieces.
                while held > 0 and (not kmem or self._active(i)):
                    part = min(held, PAGE_COUNTER_MAX)
                    self._do_uncharge(i, part, cpu, kmem)
                    held -= part
        self._do_remove(i)
        holders = [
            k for k, tk in enumerate(self.tasks)
            if tk.alive and (any(c == i for c, _ in tk.user + tk.pt) or tk.stack[0] == i)
        ]
        for k in holders:
            how = data.draw(st.sampled_from(("exit",) * 4 + ("unmap", "nothing")), label="then")
            if how == "exit":
                self._do_exit(k, self._cpu(data))
            elif how == "unmap":
                self._do_unmap(k, sum(n for _, n in self.tasks[k].user), self._cpu(data))

    @precondition(lambda self: self.config is not None and "kmem" in self.config.counters)
    @rule(data=st.data())
    def kmem_limit_write(self, data: st.DataObject) -> None:
        """v1: write memory.kmem.limit_in_bytes below, at or above the
        memory limit, at or below the kmem usage, or -1 (3.8 activates
        kmem accounting with the first limit: EBUSY with tasks or
        children; 4.x-5.15 enforce it; current v1 ignores it); then maybe
        fork there (a stack the kmem limit refuses)."""
        self._step("kmem_limit_write")
        i = self._pick(data, "cgroup", online=12, root=1, dying=1)
        if self.status[i] == "freed":
            return
        mem = self._counter(ORACLE, i, "memory")
        kmem = self._counter(ORACLE, i, "kmem")
        m, u = min(mem["max"], 2**40), kmem["usage"]
        stack = self.config.kernel_stack_pages
        pages = sorted({max(p, 0) for p in (m - 1, m, m + 1, u, u - 1, u + 1, u + stack - 1, u + stack, 0)})
        texts = [str(p * _PAGE) for p in pages] + ["-1", "-1"]
        # Too little for one more stack: the fork below is refused.
        texts += [str((u + stack - 1) * _PAGE)] * 3
        text = data.draw(st.sampled_from(texts), label="text")
        pre_active = self._active(i)
        probe = self._probe()
        what = f"{self._what(i)}.write('memory.kmem.limit_in_bytes', {text!r})"
        out = self._both(what, lambda s: self.cgs[s][i].write("memory.kmem.limit_in_bytes", text))
        self._edges_between(probe, self._probe())
        tag = "ok" if out[0] == "returned" else out[1].__name__
        record_edge(f"kmem limit write {tag} ({self.config.kmem_limit})")
        if out[1] is BusyError and not pre_active and self._tasks_in(i):
            record_edge("kmem activation EBUSY (tasks)")
        self._sync()
        if self.status[i] == "online" and data.draw(st.integers(0, 3), label="fork there"):
            if sum(t.alive for t in self.tasks) < _MAX_TASKS:
                self._do_fork(i, data)

    # ---------------------------------------------------------------- sockets

    def _note_forced(self, i: int) -> bool:
        """A charge to cgroup i went through: the counters up its path
        that it left over their max were forced (GFP_HIGH / NOFAIL)."""
        forced = False
        for j in self._path_up(i):
            for c in ("memory", "memsw", "kmem", "tcpmem"):
                if c in self.config.counters:
                    m = self._counter(ORACLE, j, c)
                    if m["usage"] > m["max"]:
                        self.may_exceed.add((j, c))
                        forced = True
        return forced

    def _pick_sock(self, data: st.DataObject) -> int | None:
        live = [k for k, sk in enumerate(self.socks) if sk.alive]
        if not live:
            return None
        return data.draw(st.sampled_from(live), label="socket")

    def _pressure(self, i: int | None) -> list[bool]:
        """under_socket_pressure of cgroup i and its ancestors (oracle)."""
        if i is None:
            return []
        return [bool(self.cgs[ORACLE][j].under_socket_pressure) for j in self._path_up(i)]

    @rule(data=st.data())
    def socket(self, data: st.DataObject) -> None:
        """One socket step (two rules, socket and socket_again, so that the
        other rules keep most of their share of the budget): create (below
        the cap), charge, uncharge, close, or (v1) a tcp limit write."""
        acts = ["charge", "charge", "charge", "uncharge", "uncharge", "close"]
        if sum(sk.alive for sk in self.socks) < _MAX_SOCKS:
            acts += ["create", "create"]
        if self.config.version == 1:
            acts += ["tcp limit"]
        held = sorted({sk.cg for sk in self.socks if sk.alive and sk.cg is not None and self.status[sk.cg] == "online"})
        if held:
            acts += ["remove"]
        act = data.draw(st.sampled_from(acts), label="socket action")
        if act == "remove":
            # rmdir the cgroup of an open socket (EBUSY with tasks or
            # online children): the socket keeps it dying.
            self._step("sock_remove")
            self._do_remove(data.draw(st.sampled_from(held), label="socket's cgroup"))
            return
        {"create": self.sock_create, "charge": self.sock_charge, "uncharge": self.sock_uncharge,
         "close": self.sock_close, "tcp limit": self.tcp_limit_write}[act](data)

    @rule(data=st.data())
    def socket_again(self, data: st.DataObject) -> None:
        """:meth:`socket`, twice the weight."""
        self.socket(data)

    def sock_create(self, data: st.DataObject) -> None:
        """A socket made in a cgroup (mem_cgroup_sk_alloc): bound there
        unless it is the root or (v1) tcpmem accounting is not active
        there; a removed cgroup is stale."""
        self._step("sock_create")
        i = self._pick(data, "cgroup", online=10, root=2, dying=1, freed=1)
        status = self.status[i]
        cfg = self.config
        active = status == "online" and bool(self.cgs[ORACLE][i].tcpmem_active)
        if cfg.version == 1 and status == "online" and i and not active and data.draw(st.booleans(), label="activate"):
            # A small tcp limit first (sockets bound, refusals near).
            self._do_tcp_limit_write(i, data, small=True)
            active = bool(self.cgs[ORACLE][i].tcpmem_active)
        what = f"{self._what(i)}.sock_create()"
        out = self._both(what, lambda s: self.cgs[s][i].sock_create())
        if status != "online":
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
            record_edge("sock_create in a removed cgroup")
            return self._sync()
        assert out == ("returned", ("foreign object", "Socket")), f"{what}: {_show(out)}"
        bound = i != 0 and (cfg.version == 2 or active)
        sk = _SockTrack(handles=[self.raw[IMPL], self.raw[ORACLE]], cg=i if bound else None)
        self.socks.append(sk)
        for side in (IMPL, ORACLE):
            s = sk.handles[side]
            assert s.alive and s.pages == 0 and bool(s.bound) == bound, (
                f"{what}: {_SIDE_NAMES[side]} socket bound {s.bound}, wanted {bound}"
            )
        if bound:
            record_edge(f"socket bound (v{cfg.version})")
        else:
            record_edge("socket unbound (root)" if i == 0 else "socket unbound (v1 tcpmem inactive)")
        self._sync()
        if data.draw(st.integers(0, 2), label="then charge"):
            self._do_sock_charge(len(self.socks) - 1, data)

    def _sock_sizes(self, k: int) -> list[int]:
        """Around the batch and the room left under the limits up the
        socket's path (memory on v2, tcpmem on v1)."""
        sk = self.socks[k]
        batch = self.config.charge_batch
        sizes = [0, 1, 1, 2, 3, batch - 1, batch, batch + 1, 100]
        if sk.cg is not None:
            c = "memory" if self.config.version == 2 else "tcpmem"
            room = min(
                self._counter(ORACLE, j, c)["max"] - self._counter(ORACLE, j, c)["usage"]
                for j in self._path_up(sk.cg)
            )
            sizes += [room - 1, room, room, room + 1, room + 2]
        return sorted({n for n in sizes if 0 <= n <= 4096})

    def sock_charge(self, data: st.DataObject) -> None:
        """mem_cgroup_charge_skmem: v2 through the stock on memory (reclaim,
        OOM, forced with GFP_HIGH/NOFAIL), v1 tcpmem alone (pressure set on
        a refusal, cleared on a success); an unbound socket never fails."""
        self._step("sock_charge")
        k = self._pick_sock(data)
        if k is not None:
            self._do_sock_charge(k, data)

    def _do_sock_charge(self, k: int, data: st.DataObject) -> None:
        sk = self.socks[k]
        cfg = self.config
        n = data.draw(st.sampled_from(self._sock_sizes(k)), label="nr_pages")
        name, flags = data.draw(st.sampled_from(_gfp_choices()), label="flags")
        cpu = self._cpu(data)
        i = sk.cg
        from ..gfp import GFP_NOFAIL

        # One charge in four squeezes first: "socket charge refused" is a
        # required edge, and one in eight left it unreached in a third of runs.
        if i is not None and cfg.version == 2 and self.status[i] == "online" and not data.draw(
            st.integers(0, 3), label="squeeze first"
        ):
            # memory.max just above the usage: the charge meets the limit.
            u = self._counter(ORACLE, i, "memory")["usage"]
            text = str((u + data.draw(st.sampled_from((0, 1, 2)), label="slack")) * _PAGE)
            self._both(f"{self._what(i)}.write('memory.max', {text!r})",
                       lambda s: self.cgs[s][i].write("memory.max", text))
            self._sync()
            n = data.draw(st.sampled_from(self._sock_sizes(k)), label="nr_pages after squeeze")
        pressure = self._pressure(i)
        pre = self._probe()
        lies, garbage = self.hook_lies[ORACLE], self.hook_garbage[ORACLE]
        what = f"socket {k} (cgroup {i}).charge({n}, cpu={cpu}, flags={name})"
        out = self._both(what, lambda s: self.socks[k].handles[s].charge(n, cpu=cpu, flags=flags))
        self._hook_edges(lies, garbage)
        self._edges_between(pre, self._probe())
        if out == ("returned", True):
            sk.pages += n
            record_edge("socket charged" if i is not None else "unbound socket charged")
            if i is not None and self._note_forced(i):
                record_edge(f"socket charge forced over the limit (v{cfg.version})")
        elif out == ("returned", False):
            assert i is not None, f"{what}: an unbound socket was refused"
            if cfg.version == 2:
                record_edge(SOCK_REFUSED_V2)
            else:
                record_edge("v1 socket charge refused (tcpmem)")
                if not pressure[0] and self._pressure(i)[0]:
                    record_edge(SOCK_PRESSURE_V1)
                assert self._pressure(i)[0], f"{what}: refused, but no tcpmem pressure"
        else:
            assert out[0] == "raised" and out[1] is not StaleHandleError, f"{what}: {_show(out)}"
            if out[1] is ReclaimHookError:
                record_edge(HOOK_RAISED)
            record_edge(f"socket charge raised {out[1].__name__}")
            # A hook that raises (or returns garbage) in the memory.high
            # handling after the charge went through leaves it charged.
            now = [int(sk.handles[side].pages) for side in (IMPL, ORACLE)]
            assert now[IMPL] == now[ORACLE] and now[ORACLE] in (sk.pages, sk.pages + n), (
                f"{what}: {_show(out)}, socket pages impl {now[IMPL]}, oracle {now[ORACLE]}, held {sk.pages}"
            )
            if now[ORACLE] != sk.pages:
                record_edge("hook raised after a socket's charge went through")
            sk.pages = now[ORACLE]
        if i is not None and cfg.version == 1 and out == ("returned", True) and n and not flags & GFP_NOFAIL:
            # (memcg1_charge_skmem: a NOFAIL charge the limit refused sets
            # the pressure, then is forced.)
            assert not self._pressure(i)[0], f"{what}: charged, but tcpmem pressure stays"
            if pressure[0]:
                record_edge("v1 tcpmem pressure cleared")
        assert self.socks[k].handles[ORACLE].pages == sk.pages, f"{what}: socket pages"
        self._sync()

    def sock_uncharge(self, data: st.DataObject) -> None:
        """mem_cgroup_uncharge_skmem: v2 sock stat down, pages to the stock;
        v1 straight off tcpmem; more than the socket holds: InvalidError."""
        self._step("sock_uncharge")
        k = self._pick_sock(data)
        if k is None:
            return
        sk = self.socks[k]
        held = sk.pages
        n = data.draw(st.sampled_from(sorted({0, 1, held, held, held - 1, held // 2, held + 1})), label="nr_pages")
        n = max(n, 0)
        cpu = self._cpu(data)
        pre = self._probe()
        what = f"socket {k} (cgroup {sk.cg}).uncharge({n}, cpu={cpu})"
        out = self._both(what, lambda s: self.socks[k].handles[s].uncharge(n, cpu=cpu))
        self._edges_between(pre, self._probe())
        if n > held:
            assert out[:2] == ("raised", InvalidError), f"{what}: {_show(out)}"
            record_edge("socket uncharge of more than it holds")
        else:
            assert out == ("returned", None), f"{what}: {_show(out)}"
            sk.pages -= n
            self._sock_clamps(sk.cg)
            if sk.cg is not None and self.status[sk.cg] == "dying":
                record_edge("socket uncharge in a dying cgroup")
        self._sync()

    def _sock_clamps(self, i: int | None) -> None:
        """v2 socket pages came off cgroup i's memory: where user pages
        were uncharged beyond the user ledger (the socket pages covered
        it), the counters may clamp now."""
        if i is not None and self.config.version == 2:
            for side in (IMPL, ORACLE):
                self._mark_clamps(side, i)

    def sock_close(self, data: st.DataObject) -> None:
        """Close a socket: its pages uncharged, its cgroup let go (a dying
        one may be freed); the handle is stale."""
        self._step("sock_close")
        k = self._pick_sock(data)
        if k is None:
            return
        sk = self.socks[k]
        cpu = self._cpu(data)
        pre = self._probe()
        what = f"socket {k} (cgroup {sk.cg}).close(cpu={cpu})"
        out = self._both(what, lambda s: self.socks[k].handles[s].close(cpu=cpu))
        self._edges_between(pre, self._probe())
        assert out == ("returned", None), f"{what}: {_show(out)}"
        dying = sk.cg is not None and self.status[sk.cg] == "dying"
        sk.alive, sk.pages = False, 0
        self._sock_clamps(sk.cg)
        for side in (IMPL, ORACLE):
            s = sk.handles[side]
            assert not s.alive, f"{what}: {_SIDE_NAMES[side]} socket still alive"
            try:
                s.charge(1, cpu=0)
            except StaleHandleError:
                pass
            else:
                raise AssertionError(f"{what}: {_SIDE_NAMES[side]} closed socket still charges")
        self._sync()
        if dying:
            j = sk.cg
            assert j is not None
            record_edge("socket closed in a dying cgroup")
            if self.status[j] == "freed":
                record_edge("socket close frees a dying cgroup")

    def tcp_limit_write(self, data: st.DataObject) -> None:
        """v1: write memory.kmem.tcp.limit_in_bytes around the tcpmem usage
        (EBUSY below it), small, or -1: 6.x activates socket accounting for
        good with any successful write; 3.x with a finite one, and -1
        deactivates it."""
        self._step("tcp_limit_write")
        i = self._pick(data, "cgroup", online=12, root=1, dying=1)
        if self.status[i] != "freed":
            self._do_tcp_limit_write(i, data)

    def _do_tcp_limit_write(self, i: int, data: st.DataObject, small: bool = False) -> None:
        u = self._counter(ORACLE, i, "tcpmem")["usage"]
        pages = sorted({max(p, 0) for p in (0, 1, 2, 4, u - 1, u, u + 1, u + 2, u + 8)})
        if small:
            texts = [str((u + d) * _PAGE) for d in (1, 2, 3, 8)]
        else:
            texts = [str(p * _PAGE) for p in pages] + ["-1", "-1", "8K", "1M"]
        text = data.draw(st.sampled_from(texts), label="text")
        name = "memory.kmem.tcp.limit_in_bytes"
        was = self.status[i] != "freed" and bool(self.cgs[ORACLE][i].tcpmem_active)
        probe = self._probe()
        what = f"{self._what(i)}.write({name!r}, {text!r})"
        out = self._both(what, lambda s: self.cgs[s][i].write(name, text))
        self._edges_between(probe, self._probe())
        tag = "ok" if out[0] == "returned" else out[1].__name__
        record_edge(f"tcp limit write {tag}")
        if self.status[i] == "online":
            now = bool(self.cgs[ORACLE][i].tcpmem_active)
            if out[0] == "raised":
                assert now == was, f"{what}: {_show(out)}, tcpmem_active {was} -> {now}"
            elif self.config.tcpmem_counter == "res_counter":
                if text == "-1":
                    assert not now, f"{what}: 3.x -1 leaves tcpmem active"
                    if was:
                        record_edge("tcpmem deactivated (3.x)")
                elif self._counter(ORACLE, i, "tcpmem")["max"] < PAGE_COUNTER_MAX:
                    assert now, f"{what}: 3.x finite limit, tcpmem not active"
            else:
                assert now, f"{what}: a limit write leaves tcpmem inactive"
            if now and not was:
                record_edge("tcpmem activated")
        self._sync()

    # ---------------------------------------------------------------- selective kmem

    def _kmem_alloc_reason(self, i: int, n: int, flags: int, interrupt: bool, cache: bool) -> str | None:
        """Why a task of cgroup i's kernel allocation is not charged (None:
        it is), by SPEC 6's rule; "maybe" where the era's NOFAIL handling
        decides."""
        from .. import gfp

        cfg = self.config
        if interrupt:
            return "interrupt"
        if n == 0:
            return "nothing"
        if i == 0:
            return "root"
        if not self._active(i):
            return "kmem inactive (3.8)"
        if cfg.kmem_accounting == "whitelist" and not (flags & gfp.GFP_ACCOUNT or cache):
            return "not flagged (white list)"
        if flags & gfp.GFP_NOFAIL and cfg.charge_loop == "3.8":
            # 3.8 memcg_kmem_get_cache: NOFAIL stays on the root cache.
            return "NOFAIL (3.8 charge loop)"
        if flags & gfp.GFP_NOFAIL and cfg.kmem_accounting == "blacklist":
            return "maybe"
        return None

    @rule(data=st.data())
    def kmem_alloc(self, data: st.DataObject) -> None:
        """A task's kernel allocation (Task.kmem_alloc), charged by SPEC 6's
        rule to the task's cgroup as kernel memory no task owns (an OOM kill
        never frees it; the uncharge rule gives it back through the
        cgroup's handle); refused (ChargeError) or the task killed
        (KilledError) as the flags and the era allow."""
        from .. import gfp

        self._step("kmem_alloc")
        gone = any(not t.alive for t in self.tasks) and data.draw(st.integers(0, 15), label="exited") == 0
        k = self._pick_task(data, alive=0 if gone else 1, dead=1 if gone else 0)
        if k is None:
            return
        tk = self.tasks[k]
        if not tk.alive:
            what = f"exited task {k}.kmem_alloc(1)"
            out = self._both(what, lambda s: self.tasks[k].handles[s].kmem_alloc(1))
            assert out[:2] == ("raised", StaleHandleError), f"{what}: {_show(out)}"
            record_edge("kmem_alloc of an exited task")
            return
        i = tk.cg
        choices = _gfp_choices() + (
            ("GFP_NOWAIT|GFP_ACCOUNT", gfp.GFP_NOWAIT | gfp.GFP_ACCOUNT),
            ("GFP_ATOMIC|GFP_ACCOUNT", gfp.GFP_ATOMIC | gfp.GFP_ACCOUNT),
            ("GFP_KERNEL_ACCOUNT|GFP_NOFAIL", gfp.GFP_KERNEL_ACCOUNT | gfp.GFP_NOFAIL),
            ("GFP_KERNEL_ACCOUNT", gfp.GFP_KERNEL_ACCOUNT),
        )
        name, flags = data.draw(st.sampled_from(choices), label="flags")
        interrupt = data.draw(st.sampled_from((False, False, False, False, True)), label="interrupt")
        cache = data.draw(st.sampled_from((False, False, True)), label="accounted_cache")
        n = data.draw(st.sampled_from(self._fault_sizes(i) + [0]), label="nr_pages")
        cpu = self._cpu(data)
        reason = self._kmem_alloc_reason(i, n, flags, interrupt, cache)
        before = self._task_stats(i)
        pre = self._probe()
        lies, garbage = self.hook_lies[ORACLE], self.hook_garbage[ORACLE]
        what = (f"task {k} ({self._what(i)}).kmem_alloc({n}, flags={name}, cpu={cpu},"
                f" interrupt={interrupt}, accounted_cache={cache})")
        out = self._both(what, lambda s: self.tasks[k].handles[s].kmem_alloc(
            n, flags=flags, cpu=cpu, interrupt=interrupt, accounted_cache=cache))
        self._hook_edges(lies, garbage)
        self._edges_between(pre, self._probe())
        got = 0
        if out == ("returned", None):
            assert reason is not None, f"{what}: not charged, but the rule says it is"
            record_edge(KMEM_ALLOC_UNACCOUNTED)
            record_edge(f"kmem_alloc not accounted ({reason})")
        elif out[0] == "returned":
            assert reason in (None, "maybe") and out[1] == ("cgroup", i), (
                f"{what}: {_show(out)}, the rule says {reason or 'charged to ' + str(i)}"
            )
            got = n
            for side in (IMPL, ORACLE):
                self.kmem[side][i] += n
                self.own[side][i] += n
            record_edge(KMEM_ALLOC_CHARGED)
            if reason == "maybe":
                record_edge("kmem_alloc NOFAIL charged")
        else:
            assert reason in (None, "maybe") and out[1] is not StaleHandleError, f"{what}: {_show(out)}"
            record_edge(f"kmem_alloc raised {out[1].__name__}")
            if out[1] is ReclaimHookError:
                record_edge(HOOK_RAISED)
        # NOFAIL / GFP_HIGH force a charge over memory.max, and (4.x-5.15
        # v1) NOFAIL over the kmem limit: also where the task was killed
        # or the hook raised after the charge.
        if reason in (None, "maybe") and self.status[i] == "online" and self._note_forced(i):
            record_edge("kmem_alloc forced over the limit")
        self._kill_edges(out, out[0] == "raised")
        self._settle_task_call(what, i, before, 0, got, out)
        self._sync()

    @rule(data=st.data())
    def oom_setting(self, data: st.DataObject) -> None:
        """memory.oom.group (v2: the OOM killer kills the whole group) or
        v1 memory.oom_control (oom_kill_disable: the charge fails instead)."""
        self._step("oom_setting")
        i = self._pick(data, "cgroup", online=12, root=1, dying=1)
        if self.status[i] == "freed":
            return
        name = "memory.oom.group" if self.config.version == 2 else "memory.oom_control"
        text = data.draw(st.sampled_from(("1", "1", "0", "2")), label="text")
        what = f"{self._what(i)}.write({name!r}, {text!r})"
        out = self._both(what, lambda s: self.cgs[s][i].write(name, text))
        record_edge(f"{name} write {'ok' if out[0] == 'returned' else out[1].__name__}")
        self._sync()

    @rule(data=st.data())
    def squeeze(self, data: st.DataObject) -> None:
        """Bring a cgroup's limit down to about what it holds (v2:
        memory.max at or below the usage; v1: limit_in_bytes at it), then
        fault a task below it (forking one first if there is none): the
        OOM killer picks victims, or, where no task owns enough (kernel
        memory), kills in vain."""
        self._step("squeeze")
        cfg = self.config
        live = [k for k, t in enumerate(self.tasks) if t.alive and t.cg]
        tops = sorted({j for k in live for j in self._path_up(self.tasks[k].cg) if j})
        online = [i for i, s in enumerate(self.status) if i and s == "online"]
        pool = tops * 4 + online
        if not pool:
            return
        i = data.draw(st.sampled_from(pool), label="cgroup")
        if not any(self._under(self.tasks[k].cg, i) for k in live):
            # No task below: fork one there and give it some pages first.
            if sum(t.alive for t in self.tasks) >= _MAX_TASKS:
                return
            self._do_fork(i, data)
            if not self._tasks_in(i):
                return
            k = self._tasks_in(i)[-1]
            live.append(k)
            self._do_fault(k, data.draw(st.sampled_from((1, 4, 16)), label="first pages"), self._cpu(data))
        held = max(self._ledger_sum(ORACLE, i), 0) if not self.dirty[i] else self._counter(ORACLE, i, "memory")["usage"]
        if cfg.version == 2:
            name = "memory.max"
            d = data.draw(st.sampled_from((0, 0, 1, 2, 4, -2)), label="below")
            if data.draw(st.booleans(), label="oom.group"):
                what = f"{self._what(i)}.write('memory.oom.group', '1')"
                out = self._both(what, lambda s: self.cgs[s][i].write("memory.oom.group", "1"))
                assert out == ("returned", None), f"{what}: {_show(out)}"
            if data.draw(st.integers(0, 3), label="memory.high instead") == 0:
                # Over memory.high instead: the faults earn throttling.
                name, d = "memory.high", held // 2
        else:
            name = "memory.limit_in_bytes"
            d = data.draw(st.sampled_from((0, 0, -1, -2, -4)), label="below")
            if data.draw(st.integers(0, 3), label="oom_kill_disable") == 0:
                # The charge fails instead of killing (EINVAL on 3.8 below the root).
                what = f"{self._what(i)}.write('memory.oom_control', '1')"
                self._both(what, lambda s: self.cgs[s][i].write("memory.oom_control", "1"))
        text = str(max(held - d, 0) * _PAGE)
        probe = self._probe()
        lies, garbage = self.hook_lies[ORACLE], self.hook_garbage[ORACLE]
        what = f"{self._what(i)}.write({name!r}, {text!r})"
        out = self._both(what, lambda s: self.cgs[s][i].write(name, text))
        self._hook_edges(lies, garbage)
        self._edges_between(probe, self._probe())
        if out[0] == "raised":
            record_edge(f"squeeze {out[1].__name__}")
        for c in cfg.counters:
            s = self._counter(ORACLE, i, c)
            if s["usage"] > s["max"]:
                self.may_exceed.add((i, c))
                record_edge("memory.max left below usage")
        self._sync()
        below = [k for k in live if self.tasks[k].alive and self._under(self.tasks[k].cg, i)]
        if not below:
            return
        then = data.draw(st.sampled_from(("fault",) * 3 + ("kernel charge",) * 2 + ("fork",)), label="then")
        record_edge(f"squeeze, then {then}")
        if then == "kernel charge" and self.status[i] == "online":
            # Kernel memory no task owns: the victims free too little, the
            # killer runs out of them and the charge fails (killed in vain).
            n = data.draw(st.sampled_from((4, 16, 64, 64)), label="kernel pages")
            self._do_try_charge(i, n, self._cpu(data), _gfp_choices()[0][1], True, "GFP_KERNEL")
            return
        if then == "fork" and self.status[i] == "online" and sum(t.alive for t in self.tasks) < _MAX_TASKS:
            self._do_fork(i, data)
            return
        k = data.draw(st.sampled_from(below), label="task")
        n = data.draw(st.sampled_from((1, 1, 2, 4, 8, 16, 64)), label="nr_pages")
        self._do_fault(k, n, self._cpu(data))

    @rule(data=st.data())
    def bad_arguments(self, data: st.DataObject) -> None:
        """A bad CPU, unknown GFP bits or a bad count: the same error on both
        sides, nothing changes."""
        self._step("bad_arguments")
        i = self._pick(data, "cgroup", online=8, root=1)
        hows: tuple[str, ...] = ("cpu", "cpu-1", "flags", "count", "big count", "uncharge count", "uncharge cpu",
                "fork cpu", "fork adj", "fork adj-")
        live = [k for k, t in enumerate(self.tasks) if t.alive]
        if live:
            hows += ("fault cpu", "fault count", "unmap cpu", "unmap count", "exit cpu")
        how = data.draw(st.sampled_from(hows), label="how")
        ncpus = self.config.ncpus
        k = data.draw(st.sampled_from(live), label="task") if live and how.split()[0] in ("fault", "unmap", "exit") else 0

        def task(s: int) -> Any:
            return self.tasks[k].handles[s]

        calls = {
            "fork cpu": lambda s: self.cgs[s][i].fork(cpu=ncpus),
            "fork adj": lambda s: self.cgs[s][i].fork(oom_score_adj=1001),
            "fork adj-": lambda s: self.cgs[s][i].fork(oom_score_adj=-1001),
            "fault cpu": lambda s: task(s).fault(1, cpu=ncpus),
            "fault count": lambda s: task(s).fault(-1),
            "unmap cpu": lambda s: task(s).unmap(0, cpu=ncpus),
            "unmap count": lambda s: task(s).unmap(PAGE_COUNTER_MAX + 1),
            "exit cpu": lambda s: task(s).exit(cpu=-1),
            "cpu": lambda s: self.cgs[s][i].try_charge(1, cpu=ncpus),
            "cpu-1": lambda s: self.cgs[s][i].try_charge(1, cpu=-1),
            "flags": lambda s: self.cgs[s][i].try_charge(1, flags=0x100),
            "count": lambda s: self.cgs[s][i].try_charge(-1),
            "big count": lambda s: self.cgs[s][i].try_charge(PAGE_COUNTER_MAX + 1),
            "uncharge count": lambda s: self.cgs[s][i].uncharge(2**64),
            "uncharge cpu": lambda s: self.cgs[s][i].uncharge(1, cpu=ncpus),
        }
        before = self._observe(ORACLE)
        out = self._both(f"{self._what(i)}: bad {how}", calls[how])
        assert out[:2] == ("raised", InvalidError), f"bad {how}: {_show(out)}"
        assert self._observe(ORACLE) == before, f"bad {how} changed the state"

    # ---------------------------------------------------------------- interface files

    def _file_values(self, i: int) -> list[str]:
        """What a write may carry: byte counts around the usage and the
        limits (page-aligned and not, with suffixes and whitespace), the
        tokens the files know, and garbage."""
        batch = self.config.charge_batch
        u = 0
        if self.status[i] != "freed":
            u = self._counter(ORACLE, i, "memory")["usage"]
        pages = sorted({max(p, 0) for p in (0, 1, u - 1, u, u + 1, u + batch, 3 * batch)})
        vals = [str(p * _PAGE) for p in pages] * 2
        vals += [f"{p * 4}k" for p in pages[:3]] + [f" {u * _PAGE}\n", f"{u * _PAGE + 1}"]
        vals += ["max", "max\n", "-1", "0", "1", "2", "1G", "1 swappiness=0", "4096 swappiness=max"]
        vals += ["", " ", "abc", "12abc", "0x1000", "-2", "1 2", "+8k"]
        vals += [str(2**63 - 1), str(2**63), str(2**64 - 1), str(2**64)]
        return vals

    @rule(data=st.data())
    def write_file(self, data: st.DataObject) -> None:
        """Write a limit, a reset or a token through an interface file
        (cgroupfs, the same code over both backends' primitives); the same
        outcome and errno on both sides, then every file of the cgroup reads
        back the same."""
        from .. import cgroupfs

        self._step("write_file")
        i = self._pick(data, "cgroup", online=10, root=2, dying=1, freed=1, held=10)
        status = self.status[i]
        version = self.config.version
        names = sorted(
            n
            for n, f in cgroupfs._FILES[version].items()
            if f.store is not None and (f.needs is None or f.needs(self.config))
        )
        limits = [n for n in names if n.endswith(("limit_in_bytes", "memory.max", "memory.high"))]
        names += ["memory.bogus"] + limits * 2
        name = data.draw(st.sampled_from(names), label="file")
        vals = self._file_values(i)
        if name.endswith("limit_in_bytes") and status != "freed":
            # Below the usage: the v1 resize loop (drain, reclaim, EBUSY).
            cname = {"memory.memsw.": "memsw", "memory.kmem.t": "tcpmem", "memory.kmem.": "kmem"}
            c = next((v for k, v in cname.items() if name.startswith(k)), "memory")
            u = self._counter(ORACLE, i, c)["usage"]
            if c in ("memory", "memsw") and not self.dirty[i]:
                u = self._ledger_sum(ORACLE, i)  # the stocks are drained first
            if u > 0:
                vals += [str((u - 1) * _PAGE), str(u * _PAGE - 1)] * 8
        text = data.draw(st.sampled_from(vals), label="text")
        pre = self._counter(ORACLE, i, "memory") if status != "freed" else None
        lies, garbage = self.hook_lies[ORACLE], self.hook_garbage[ORACLE]
        probe = self._probe()
        what = f"{self._what(i)}.write({name!r}, {text!r})"
        out = self._both(what, lambda s: self.cgs[s][i].write(name, text))
        self._hook_edges(lies, garbage)
        self._edges_between(probe, self._probe())
        if out[0] == "raised":
            err = out[1]
            record_edge(f"file write {err.__name__}")
            if err is BusyError and name.endswith("limit_in_bytes"):
                record_edge(EBUSY_RESIZE)
                record_edge("EBUSY resize through the file")
            if err is ReclaimHookError:
                record_edge(HOOK_RAISED)
        if name in ("memory.max", "memory.swap.max") and status != "freed":
            # v2 installs the new max first, then reclaims: it may stay over
            # (also when the hook raised or returned garbage meanwhile).
            for c in self.config.counters:
                st_ = self._counter(ORACLE, i, c)
                if st_["usage"] > st_["max"]:
                    self.may_exceed.add((i, c))
                    record_edge("memory.max left below usage")
        if pre is not None and out == ("returned", None) and name.endswith("limit_in_bytes"):
            record_edge("limit written through the file")
        self._sync()
        if self.status[i] == "online":
            self._compare_reads(i)

    def _compare_reads(self, i: int) -> None:
        from .. import cgroupfs

        for name in cgroupfs.files(self.cgs[ORACLE][i]):
            what = f"{self._what(i)}.read({name!r})"
            self._both(what, lambda s: self.cgs[s][i].read(name))

    @precondition(lambda self: self.config is not None and self.config.version == 2)
    @rule(data=st.data())
    def peak_file(self, data: st.DataObject) -> None:
        """Open memory.peak or memory.swap.peak, read it, write it (the
        per-open-file reset of SPEC 4.4), close it; the handles of both
        sides must read the same."""
        self._step("peak_file")
        files = self.peak_files
        weights = ["open"] * (3 if len(files) < 6 else 0)
        if files:
            weights += ["read"] * 4 + ["write"] * 3 + ["close"]
        action = data.draw(st.sampled_from(weights), label="peak action")
        if action == "open":
            i = self._pick(data, "cgroup", online=10, root=1, dying=1)
            name = data.draw(st.sampled_from(("memory.peak",) * 3 + ("memory.swap.peak",)), label="file")
            out = self._both(f"{self._what(i)}.open({name!r})", lambda s: self.cgs[s][i].open(name))
            if out[0] != "returned":
                record_edge(f"peak open {out[1].__name__}")
                return
            files.append((i, name, [self.raw[IMPL], self.raw[ORACLE]]))
            if not data.draw(st.booleans(), label="reset at once"):
                return
            action, k = "write", len(files) - 1  # the usual use: open, reset, read later
        else:
            k = data.draw(st.integers(0, len(files) - 1), label="open file")
        i, name, handles = files[k]
        what = f"{name} of {self._what(i)} (open file {k}).{action}()"
        if action == "read":
            out = self._both(what, lambda s: handles[s].read())
            if out[0] == "raised":
                record_edge(f"peak read {out[1].__name__}")
            else:
                record_edge("peak read")
        elif action == "write":
            text = data.draw(st.sampled_from(("reset", "0", "\n", "")), label="text")
            out = self._both(what, lambda s: handles[s].write(text))
            if out[0] == "returned" and text:
                record_edge("peak reset through an open file")
        else:
            self._both(what, lambda s: handles[s].close())
            del files[k]
            record_edge("peak close")

    # ---------------------------------------------------------------- replay

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """A batch of up to eight records through ``Hierarchy.replay``: the
        same results on both sides (cgroup ids for refusals, -errno for bad
        or stale records); the ledgers follow the results."""
        from .. import replay as rp
        from ..gfp import GFP_HIGH, GFP_NOFAIL

        self._step("replay")
        k = data.draw(st.integers(1, 8), label="records")
        recs = []
        for _ in range(k):
            op = data.draw(
                st.sampled_from((rp.OP_CHARGE,) * 4 + (rp.OP_UNCHARGE,) * 3 + (rp.OP_DRAIN, rp.OP_DRAIN_ALL, 9)),
                label="op",
            )
            i = self._pick(data, "cgroup", online=10, root=1, dying=1, freed=1, held=6, shell=2)
            if op == rp.OP_DRAIN_ALL and data.draw(st.booleans(), label="whole tree"):
                i = -1
            held = max(self._handle_held(i, False), self._handle_held(i, True), 1) if i >= 0 else 1
            n = data.draw(
                st.one_of(st.sampled_from((0, 1, 1, 2, self.config.charge_batch + 1, held)), st.integers(1, 40)),
                label="nr_pages",
            )
            cpu = self._cpu(data, bad=data.draw(st.integers(0, 15), label="bad cpu?") == 0)
            flags_name, flags = data.draw(st.sampled_from(_gfp_choices()), label="flags")
            kmem = data.draw(st.sampled_from((False, False, True)), label="kmem")
            recs.append((op, flags, i, n, cpu, kmem))
        SENT = -(2**62)

        def call(side: int) -> Any:
            buf = rp.pack_ops(
                (op, flags, 0 if i < 0 else self.handles[side][i], n, cpu, int(kmem))
                for op, flags, i, n, cpu, kmem in recs
            )
            out = array.array("q", [SENT] * k)
            self.raw[side] = out
            self.hs[side].replay(buf, out)
            return tuple(out)

        # Pages the batch will uncharge: user pages by the cgroup whose
        # ledger they come off, kernel pages by the handle named (its own
        # count), which the hook must leave alone.
        self.pending_uncharge = {}
        for op, _, i, n, _, kmem in recs:
            if op == rp.OP_UNCHARGE and i >= 0:
                key = (i, True) if kmem else (self._target(i, False), False)
                self.pending_uncharge[key] = self.pending_uncharge.get(key, 0) + n
        # A record that uncharges more than its cgroup holds clamps the
        # levels above it in the middle of the batch, before the ledgers
        # mark them dirty: a hook called later in the batch may then
        # underflow there.
        clamps = any(
            n > (self.own if km else self.user)[ORACLE][i]
            for (i, km), n in self.pending_uncharge.items()
            if i > 0
        )
        lies, garbage = self.hook_lies[ORACLE], self.hook_garbage[ORACLE]
        probe = self._probe()
        active = [self._active(j) for j in range(len(self.status))]
        status = list(self.status)
        what = "replay " + ", ".join(
            f"({op}, {flags:#x}, cg {i}, {n}, cpu {cpu}, kmem {kmem})" for op, flags, i, n, cpu, kmem in recs
        )
        try:
            out = self._both(what, call)
        finally:
            self.pending_uncharge = {}
        results = [tuple(self.raw[s]) for s in (IMPL, ORACLE)]
        assert results[IMPL] == results[ORACLE], f"{what}: results impl {results[IMPL]}, oracle {results[ORACLE]}"
        self._hook_edges(lies, garbage)
        self._edges_between(probe, self._probe())
        res = results[ORACLE]
        if out[0] == "raised":
            # The hook raised, or returned garbage (InvalidError/TypeError).
            # (UnderflowError: the hook uncharged below a clamped level.)
            allowed = (ReclaimHookError, InvalidError, InvalidTypeError)
            underflow = out[1] is UnderflowError and (any(self.dirty) or clamps)
            assert out[1] in allowed or underflow, f"{what}: {_show(out)}"
            record_edge("replay stopped by the hook")
        for r, ((op, flags, i, n, cpu, kmem), got) in enumerate(zip(recs, res)):
            if got == SENT:
                assert out[0] == "raised", f"{what}: record {r} not run"
                break
            big = op in (rp.OP_CHARGE, rp.OP_UNCHARGE) and n > PAGE_COUNTER_MAX
            if op == 9 or big or (op != rp.OP_DRAIN_ALL and cpu >= self.config.ncpus):
                assert got == -errno.EINVAL, f"{what}: record {r} -> {got}, wanted -EINVAL"
                continue
            if op in (rp.OP_DRAIN, rp.OP_DRAIN_ALL):
                assert got in (0, -errno.ESTALE), f"{what}: record {r} -> {got}"
                continue
            ledgers = self.kmem if kmem else self.user
            counts = i != 0 and n > 0 and (not kmem or active[i])
            if op == rp.OP_CHARGE and kmem and self.config.charge_loop == "3.8" and flags & GFP_NOFAIL:
                counts = False      # 3.8 left NOFAIL kernel allocations unaccounted
            # Stale: a charge of a cgroup not online, anything on a freed one
            # but a kernel uncharge through a shell (kernel pages still
            # charged through it, as the records before this one left it).
            shell = op == rp.OP_UNCHARGE and kmem and self._objcg_held(ORACLE, i)
            if op == rp.OP_CHARGE and status[i] != "online" or status[i] == "freed" and not shell:
                assert got == -errno.ESTALE, f"{what}: record {r} -> {got}, wanted -ESTALE"
                continue
            if got == -errno.ESTALE and shell:
                raise AssertionError(f"{what}: record {r} stale, but kernel pages are charged through it")
            if got == -errno.ECANCELED:
                # The hook raised in this record: it may have charged first
                # (memory.high runs after the charge); the stat says.
                assert op == rp.OP_CHARGE and out[0] == "raised", f"{what}: record {r} -> ECANCELED"
                for side in (IMPL, ORACLE):
                    anon, kern = self._stat_local(side, i)
                    d = (kern if kmem else anon) // _PAGE - ledgers[side][i]
                    assert d in ((0, n) if counts else (0,)), f"{what}: record {r} moved the stat by {d}"
                    ledgers[side][i] += d
                    if kmem:
                        self.own[side][i] += d
                break
            if got == -errno.ESTALE:
                # Freed in the middle of the batch (not a shell).
                assert status[i] == "dying", f"{what}: record {r} stale"
                record_edge("replay record stale after a free in the batch")
                continue
            if op == rp.OP_CHARGE:
                if got == 0:
                    if counts:
                        for side in (IMPL, ORACLE):
                            ledgers[side][i] += n
                            if kmem:
                                self.own[side][i] += n
                        if flags & (GFP_NOFAIL | GFP_HIGH):
                            names = [c for c in ("memory", "memsw") if c in self.config.counters]
                            if kmem and "kmem" in self.config.counters:
                                names.append("kmem")
                            self.may_exceed.update((j, c) for j in self._path_up(i) for c in names)
                    record_edge("replay charge")
                else:
                    ids = {self.cgs[ORACLE][j].id for j in self._path_up(i)}
                    assert got in ids, f"{what}: record {r} refused by {got}, not on the path"
                    record_edge("replay charge refused")
            else:
                assert got in (0, rp.RESULT_UNDERFLOW), f"{what}: record {r} -> {got}"
                was_dirty = any(self.dirty[j] for j in self._path_up(i))
                t = i
                if i != 0 and n > 0 and (active[i] or not kmem):
                    for side in (IMPL, ORACLE):
                        t = self._credit(side, i, n, kmem)
                    if t != i:
                        record_edge("replay: kmem uncharged from an ancestor" if kmem
                                    else "replay: uncharged from the parent (3.8)")
                if status[i] == "freed":
                    record_edge("replay: uncharge a shell")
                if got == rp.RESULT_UNDERFLOW:
                    # The ledgers said enough was held, unless the meddling
                    # hook charged (after this record ran) what the ledger
                    # counted before it.
                    meddled = self.hook_mode == "meddler" and self.step_hook_calls[ORACLE] > 0
                    now_dirty = any(self.dirty[j] for j in self._path_up(t))
                    assert was_dirty or now_dirty or meddled, f"{what}: record {r} underflow"
                    for j in self._path_up(t):
                        self.dirty[j] = True
                    record_edge("replay underflow")
        self._sync()

    # ---------------------------------------------------------------- invariants

    def _ledger_sum(self, side: int, top: int) -> int:
        return self._subtree_sums(side).get(top, (0, 0))[0]

    def _observe(self, side: int) -> dict[str, Any]:
        cfg = self.config
        groups = {}
        for cg in self.hs[side].cgroups():
            i = self._index(side, cg)
            groups[i] = {
                "path": cg.path,
                "name": cg.name,
                "id": cg.id,
                "online": cg.online,
                "dying": cg.dying,
                "parent": self._norm(side, cg.parent),
                "children": self._norm(side, cg.children),
                "counters": {c: _state_of(getattr(cg, c)) for c in cfg.counters},
                "stat": cg.stat,
                "stat_local": cg.stat_local,
                "events": cg.events,
                "events_local": cg.events_local,
                "nr_descendants": cg.nr_descendants,
                "nr_dying_descendants": cg.nr_dying_descendants,
                "kmem_active": cg.kmem_active,
                # Tags (bits 47..62) tell hierarchies apart; they differ between backends.
                "handle": cg.handle & ((1 << 47) - 1),
                "lookup": self._norm(side, self.hs[side].get(cg.path)),
                "tasks": tuple(
                    self.task_index[side].get(self._task_key(t), ("unknown task", self._task_key(t)))
                    for t in cg.tasks
                ),
                "oom_livelocks": cg.oom_livelocks,
                "throttle_jiffies": cg.throttle_jiffies,
                "oom_group": cg._tunable("oom_group"),
                "oom_kill_disable": cg._tunable("oom_kill_disable"),
                "tcpmem_active": cg.tcpmem_active,
                "under_socket_pressure": cg.under_socket_pressure,
                "nr_sockets": cg.nr_sockets,
            }
        tasks = {}
        for k, tk in enumerate(self.tasks):
            if not tk.alive:
                continue
            t = tk.handles[side]
            tasks[k] = {
                "alive": t.alive,
                "handle": self._task_key(t),
                "cgroup": self._norm(side, t.cgroup),
                "rss": t.rss,
                "pagetables": t.pagetables,
                "stack": t.stack,
                "throttle_jiffies": t.throttle_jiffies,
                "oom_score_adj": t.oom_score_adj,
            }
        socks = {}
        for k, sk in enumerate(self.socks):
            if not sk.alive:
                continue
            s = sk.handles[side]
            socks[k] = {"alive": s.alive, "pages": s.pages, "bound": s.bound,
                        "cgroup": self._norm(side, s.cgroup), "handle": s.handle & _TAG_MASK}
        return {"cgroups": groups, "stock": self._stocks(side), "tasks": tasks, "socks": socks}

    @invariant()
    def backends_agree_and_kernel_invariants_hold(self) -> None:
        if self.config is None:
            return
        seen = [self._observe(IMPL), self._observe(ORACLE)]
        if seen[IMPL] != seen[ORACLE]:
            lines = []
            a, b = seen[IMPL]["cgroups"], seen[ORACLE]["cgroups"]
            for i in sorted(set(a) | set(b)):
                x, y = a.get(i), b.get(i)
                if x == y:
                    continue
                if x is None or y is None:
                    lines.append(f"cgroup {i}: impl {x}, oracle {y}")
                    continue
                for key in x:
                    if x[key] != y[key]:
                        if key == "counters":
                            for c in x[key]:
                                d = {f: (x[key][c][f], y[key][c][f]) for f in FIELDS if x[key][c][f] != y[key][c][f]}
                                if d:
                                    lines.append(f"cgroup {i} {c} (impl, oracle): {d}")
                        else:
                            lines.append(f"cgroup {i} {key}: impl {x[key]}, oracle {y[key]}")
            if seen[IMPL]["stock"] != seen[ORACLE]["stock"]:
                lines.append(f"stocks: impl {seen[IMPL]['stock']}, oracle {seen[ORACLE]['stock']}")
            if seen[IMPL]["tasks"] != seen[ORACLE]["tasks"]:
                for k in sorted(set(seen[IMPL]["tasks"]) | set(seen[ORACLE]["tasks"])):
                    x, y = seen[IMPL]["tasks"].get(k), seen[ORACLE]["tasks"].get(k)
                    if x != y:
                        lines.append(f"task {k}: impl {x}, oracle {y}")
            if seen[IMPL]["socks"] != seen[ORACLE]["socks"]:
                for k in sorted(set(seen[IMPL]["socks"]) | set(seen[ORACLE]["socks"])):
                    x, y = seen[IMPL]["socks"].get(k), seen[ORACLE]["socks"].get(k)
                    if x != y:
                        lines.append(f"socket {k}: impl {x}, oracle {y}")
            raise AssertionError("impl and oracle differ:\n  " + "\n  ".join(lines))
        for name in ("user", "kmem", "own", "dead_user", "dead_kmem", "kstack", "ptab", "dead_kstack", "dead_ptab"):
            ledger = getattr(self, name)
            assert ledger[IMPL] == ledger[ORACLE], (
                f"{name} ledgers differ: impl {ledger[IMPL]}, oracle {ledger[ORACLE]}"
            )
        self._check_oracle(seen[ORACLE])

    def _check_oracle(self, obs: dict[str, Any]) -> None:
        cfg = self.config
        groups = obs["cgroups"]
        stock = obs["stock"]
        existing = self._existing()
        assert sorted(groups) == existing, f"cgroups {sorted(groups)}, machine has {existing}"
        ids = [g["id"] for g in groups.values()
               if not g["dying"] or not cfg.id_at_offline]     # the ids held
        assert len(set(ids)) == len(ids) and groups[0]["id"] == 1, f"ids {ids}"
        # Stocks.
        k, batch = cfg.stock_slots, cfg.charge_batch
        stocked: collections.Counter[int] = collections.Counter()
        total = 0
        # A kernel uncharge that came off the root (the objcg of one of its
        # children, removed) refills the root's stock like any other's.
        root_cached = cfg.objcg and cfg.kmem_uncharge_via_stock
        for cpu, slots in enumerate(stock):
            holders = [c for c, _ in slots if c is not None]
            assert len(holders) == len(set(holders)), f"cpu {cpu} caches a cgroup twice: {slots}"
            for c, p in slots:
                if c == ("cgroup", 0):
                    assert root_cached, f"cpu {cpu} caches the root: {slots}"
                    record_edge("root cached (kmem uncharged from the root)")
                if c is None:
                    assert p == 0, f"cpu {cpu}: pages in an empty slot: {slots}"
                    continue
                assert c[1] in groups, f"cpu {cpu} caches freed cgroup {c}"
                if cfg.stock_refill_cap:
                    assert p <= batch, f"cpu {cpu}: slot above the batch {batch}: {slots}"
                elif p > batch:
                    record_edge("3.8 stock above the batch")
                stocked[c[1]] += p
                total += p
        if cfg.stock_refill_cap:
            bound = cfg.ncpus * k * batch
            assert total <= bound, f"stocks hold {total} pages, bound {bound}"
        sums = self._subtree_sums(ORACLE)
        for i, g in groups.items():
            what = f"cgroup {i} ({g['path'] or '/'})"
            ctr = g["counters"]
            mem = ctr["memory"]
            # Ledger: stats are exact and signed.
            self.active_seen[i] = g["kmem_active"]
            # kernel_stack and pagetables: the tasks' (sub-counts of kernel).
            want_local = dict.fromkeys(g["stat_local"], 0)
            want_local.update(
                anon=self.user[ORACLE][i] * _PAGE,
                kernel=self.kmem[ORACLE][i] * _PAGE,
                kernel_stack=self.kstack[ORACLE][i] * _PAGE,
                pagetables=self.ptab[ORACLE][i] * _PAGE,
                sock=self._mem_sock_pages(i) * _PAGE,   # v1: tcpmem only, never memory.stat
            )
            assert g["stat_local"] == want_local, f"{what}: stat_local {g['stat_local']}, ledger {want_local}"
            below = [j for j in existing if self._under(j, i)]
            if cfg.version == 2:
                # Freed descendants' counts included (their dead ledgers).
                want = dict.fromkeys(g["stat"], 0)
                want.update(
                    anon=sum(self.user[ORACLE][j] + self.dead_user[ORACLE][j] for j in below) * _PAGE,
                    kernel=sum(self.kmem[ORACLE][j] + self.dead_kmem[ORACLE][j] for j in below) * _PAGE,
                    kernel_stack=sum(self.kstack[ORACLE][j] + self.dead_kstack[ORACLE][j] for j in below) * _PAGE,
                    pagetables=sum(self.ptab[ORACLE][j] + self.dead_ptab[ORACLE][j] for j in below) * _PAGE,
                    sock=sum(self._mem_sock_pages(j) for j in below) * _PAGE,
                )
                assert g["stat"] == want, f"{what}: stat {g['stat']}, subtree {want}"
                if self.dead_user[ORACLE][i] or self.dead_kmem[ORACLE][i]:
                    record_edge("v2 stat keeps a freed child's counts")
            else:
                assert g["stat"] == g["stat_local"], f"{what}: v1 stat {g['stat']}"
            # Usage: the ledger plus the stocks (SPEC 2.9), unless clamped.
            if not self.dirty[i]:
                true, kt = sums.get(i, (0, 0))
                cached = sum(stocked[j] for j in below)
                assert true >= 0
                assert mem["usage"] == true + cached, (
                    f"{what}: memory usage {mem['usage']} != charged {true} + stocked {cached}"
                    f" (ledgers user {self.user[ORACLE]}, kmem {self.kmem[ORACLE]},"
                    f" dead {self.dead_user[ORACLE]}/{self.dead_kmem[ORACLE]}, dirty {self.dirty},"
                    f" parents {self.parent}, stocks {stock})"
                )
                if "kmem" in ctr:
                    assert ctr["kmem"]["usage"] == kt, f"{what}: kmem usage {ctr['kmem']['usage']}, charged {kt}"
                if cached and true:
                    record_edge("usage above true by the stocks")
            if "memsw" in ctr:
                assert ctr["memsw"]["usage"] == mem["usage"], f"{what}: memsw {ctr['memsw']['usage']} != memory {mem['usage']}"
            if "swap" in ctr:
                assert ctr["swap"]["usage"] == 0, f"{what}: swap usage {ctr['swap']['usage']}"
            # Sockets: v1 tcpmem is the subtree's socket pages exactly (no
            # stock on that path); nr_sockets counts the open bound ones.
            if "tcpmem" in ctr:
                want_tcp = sum(self._sock_pages(j) for j in below) if cfg.version == 1 else 0
                assert ctr["tcpmem"]["usage"] == want_tcp, (
                    f"{what}: tcpmem usage {ctr['tcpmem']['usage']}, socket pages {want_tcp}"
                )
            nr = sum(1 for sk in self.socks if sk.alive and sk.cg == i)
            assert g["nr_sockets"] == nr, f"{what}: nr_sockets {g['nr_sockets']}, machine {nr}"
            if cfg.version == 2:
                assert not g["tcpmem_active"] and not g["under_socket_pressure"], f"{what}: v2 socket flags {g}"
            # Limits hold unless forced.
            checked = ["memory", "memsw", "tcpmem"] + (["kmem"] if cfg.kmem_limit == "enforced" else [])
            for c in checked:
                if c not in ctr:
                    continue
                s = ctr[c]
                assert s["usage"] <= s["local_watermark"] <= s["watermark"], f"{what} {c}: {s}"
                if s["usage"] > s["max"]:
                    assert (i, c) in self.may_exceed, f"{what}: {c} usage {s['usage']} > max {s['max']}, nothing forced"
                    record_edge("over max after a forced charge")
                else:
                    self.may_exceed.discard((i, c))
            # cgroup.stat, lifetime.
            desc = [j for j in below if j != i]
            online = sum(1 for j in desc if groups[j]["online"])
            assert (g["nr_descendants"], g["nr_dying_descendants"]) == (online, len(desc) - online), (
                f"{what}: cgroup.stat {g['nr_descendants']}/{g['nr_dying_descendants']}"
            )
            assert g["online"] == (self.status[i] == "online") and g["dying"] == (self.status[i] == "dying")
            if g["dying"]:
                kids = any(self.parent[j] == i for j in existing)
                if cfg.objcg:
                    # Only user pages hold it (its stat_local, exact and signed).
                    used = self.user[ORACLE][i] > 0
                else:
                    used = any(s["usage"] for s in ctr.values())
                slot = any(c == ("cgroup", i) for slots in stock for c, _ in slots)
                # A task's segments hold it (user pages where offline does
                # not move them, kernel pages where no objcg takes them).
                segs = self._task_segs_name(i, user=not cfg.reparent_user_pages, kern=not cfg.objcg)
                if segs and not (kids or used or slot):
                    record_edge("dying cgroup held by a task's pages only")
                # An open socket bound to it (mem_cgroup_sk_alloc's css reference).
                sock = self._sock_holds(i)
                if sock:
                    record_edge(SOCK_KEEPS_DYING)
                    if not (kids or used or slot or segs):
                        record_edge("dying cgroup held by a socket only")
                assert kids or used or slot or segs or sock, f"{what} is dying, held by nothing"
                if slot and not kids and not used:
                    record_edge("dying cgroup held by a stock slot only")
                if not cfg.objcg and not kids and not slot and self.kmem[ORACLE][i] > 0:
                    record_edge("dying cgroup held by kernel pages")
            if cfg.kmem_activation == "always":
                assert g["kmem_active"]
            # Events: v1 local; v2 the subtree's (root: its own).
            if cfg.version == 1 or cfg.memory_localevents or i == 0:
                assert g["events"] == g["events_local"], f"{what}: events {g['events']}"
            else:
                want_ev = dict(g["events_local"])
                for j in range(len(self.status)):
                    if j == i or not self._under(j, i):
                        continue
                    src = groups[j]["events_local"] if j in groups else self.freed_events[j]
                    for name in _EVENT_NAMES:
                        want_ev[name] += src[name]  # type: ignore[index]
                assert g["events"] == want_ev, f"{what}: events {g['events']}, subtree {want_ev}"
            self.last_events_local[i] = g["events_local"]
            # Its tasks: the ones the machine put there, still alive.
            assert sorted(g["tasks"], key=str) == sorted(self._tasks_in(i), key=str), (
                f"{what}: tasks {g['tasks']}, machine {self._tasks_in(i)}"
            )
        for k, info in obs["tasks"].items():
            tk = self.tasks[k]
            assert info["alive"] and info["cgroup"] == ("cgroup", tk.cg), f"task {k}: {info}, machine cgroup {tk.cg}"
            assert info["rss"] == sum(n for _, n in tk.user), f"task {k}: rss {info['rss']}, segments {tk.user}"
            assert info["stack"] == tk.stack[1] and info["oom_score_adj"] == tk.adj, f"task {k}: {info}"
            assert info["pagetables"] >= sum(n for _, n in tk.pt), f"task {k}: {info}, charged {tk.pt}"
        for k, info in obs["socks"].items():
            sk = self.socks[k]
            bound_to = None if sk.cg is None else ("cgroup", sk.cg)
            assert info["alive"] and info["pages"] == sk.pages, f"socket {k}: {info}, machine {sk}"
            assert info["bound"] == (sk.cg is not None) and info["cgroup"] == bound_to, f"socket {k}: {info}, machine {sk}"


def make_hierarchy_machine(impl: Any, oracle: Any, large: int = 0) -> type[HierarchyComparison]:
    """A :class:`HierarchyComparison` subclass comparing backend module
    ``impl`` against backend module ``oracle`` (each with a ``Hierarchy``);
    ``large``: cgroups added to every first tree (a tree of simulator size,
    every step then comparing all of them)."""
    names = (getattr(impl, "__name__", "impl"), getattr(oracle, "__name__", "oracle"))
    name = "HierarchyComparison_{}_vs_{}".format(*names) + (f"_large{large}" if large else "")
    name = "".join(ch if ch.isalnum() else "_" for ch in name)
    return type(
        name, (HierarchyComparison,),
        {"impl": impl, "oracle": oracle, "LARGE": large, "__module__": __name__}
    )
