"""Tasks of the model: a kernel stack, user pages and the page tables that
map them (``Task``), and the hierarchy's task paths: fork, faults, kernel
allocations, exit (``TaskHierarchyMixin``)."""

from __future__ import annotations

import errno
import heapq

from typing import Optional, cast
from .._common import check_bool, check_count, check_cpu as _check_cpu
from ..errors import (
    ChargeError,
    ForkError,
    KilledError,
    InvalidError,
    InvalidTypeError,
    NoSpaceError,
    StaleHandleError,
)
from ..gfp import GFP_ACCOUNT, GFP_KERNEL, GFP_KERNEL_ACCOUNT, GFP_NOFAIL, check_gfp

from . import hierarchy as _h  # imported first: partly made when this runs


def _hierarchy(obj: object) -> _h.Hierarchy:
    """The mixin's object is a Hierarchy (the class that mixes it in)."""
    return cast("_h.Hierarchy", obj)


# ---------------------------------------------------------------------- Task


def _div_up(a: int, b: int) -> int:
    return -(-a // b)


def _pgtables_for(sparse: bool, mapped: int) -> tuple[int, int, int]:
    """The PTE, PMD and PUD pages that map ``mapped`` pages: one PTE page
    per 512 pages (a sparse task: one per page, each page in its own 2 MiB
    region), one PMD page per 512 PTE pages, one PUD page per 512 PMD pages.
    The PGD, allocated with the mm, is not modelled."""
    pte = mapped if sparse else _div_up(mapped, _h.PTRS_PER_TABLE)
    pmd = _div_up(pte, _h.PTRS_PER_TABLE)
    return pte, pmd, _div_up(pmd, _h.PTRS_PER_TABLE)


class _Seg:
    """Pages of a task charged to one cgroup (``struct task_seg``).  A
    task's user pages and its page tables each make a list of these, oldest
    first: a task that moves charges the new cgroup from then on, what it
    had stays where it was.  3.8's offline moves user segments to the
    parent with their pages."""

    __slots__ = ("memcg", "nr_pages", "root_charged")

    def __init__(self, memcg: _h.Cgroup, nr_pages: int) -> None:
        self.memcg = memcg
        self.nr_pages = nr_pages
        # 3.8: user pages that offline moved to the root stay on its counters
        # and in its anon statistic: their uncharge takes them off the root,
        # as an uncharge through the dying child's handle does (a root
        # task's own pages were never charged and are not).
        self.root_charged = False


def _seg_add(segs: list[_Seg], memcg: _h.Cgroup, nr_pages: int, user: bool) -> None:
    """Pages charged to memcg: the newest segment grows if it is memcg's;
    a new one holds memcg (``seg_add()``)."""
    if segs and segs[-1].memcg is memcg and not segs[-1].root_charged:
        segs[-1].nr_pages += nr_pages
        return
    segs.append(_Seg(memcg, nr_pages))
    if user:
        memcg._user_segs += 1
    else:
        memcg._task_ksegs += 1


class Task:
    """A task (a ``task_struct`` with its ``mm``): a kernel stack, user
    pages and the page tables that map them, in a cgroup.  Made by
    :meth:`Cgroup.fork`, never directly.

    Counts are pages.  Once the task exited (or the OOM killer killed it)
    ``alive`` is False and everything but ``handle`` raises
    :class:`StaleHandleError`.

    Not thread-safe.
    """

    # Set by _new() (or Hierarchy._task() for a stale handle); declared here
    # for the type checker.  Annotations only: no class attributes.
    _hierarchy: _h.Hierarchy
    _slot: int
    _gen: int
    _alive: bool
    _oom_victim: bool
    _sparse: bool
    _oom_score_adj: int
    _memcg: _h.Cgroup
    _stack_memcg: Optional[_h.Cgroup]
    _stack_pages: int
    _user: list[_Seg]
    _pgtables: list[_Seg]
    _rss: int
    _max_mapped: int
    _pte: int
    _pmd: int
    _pud: int
    _pt_charged: int
    _throttle_jiffies: int

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("tasks are made by Cgroup.fork()")

    @classmethod
    def _new(cls, hierarchy: _h.Hierarchy, memcg: _h.Cgroup, slot: int, oom_score_adj: int,
             sparse: bool) -> Task:
        self = object.__new__(cls)
        self._hierarchy = hierarchy
        # The handle: a slot of the hierarchy's task slots, lowest free first,
        # and its generation (odd while in use), as the C core's idmap.
        self._slot = slot
        gen = (hierarchy._task_slot_gens.get(slot, 0) + 1) & _h._GEN_MASK
        self._gen = gen or 1
        hierarchy._task_slot_gens[slot] = self._gen
        self._alive = True
        self._oom_victim = False  # chosen by the OOM killer (TIF_MEMDIE)
        self._sparse = sparse
        self._oom_score_adj = oom_score_adj
        self._memcg = memcg  # its cgroup now
        self._stack_memcg = None  # whose objcg the stack was charged through
        self._stack_pages = 0  # charged (0 where kmem was not accounted)
        self._user = []  # user pages, by the cgroup charged, oldest first
        self._pgtables = []  # charged page-table pages, likewise
        self._rss = 0  # user pages mapped
        self._max_mapped = 0  # page tables follow the high-water mark
        self._pte = self._pmd = self._pud = 0  # page-table pages by level
        self._pt_charged = 0  # of those, charged (accounted)
        self._throttle_jiffies = 0  # memory.high delay its faults earned
        return self

    # ------------------------------------------------------------------ state

    @property
    def handle(self) -> int:
        """``slot | generation << 22 | 1 << 46 (a task) | hierarchy tag << 47``,
        the C core's layout."""
        return ((self._hierarchy._tag << _h._TAG_SHIFT) | _h._KIND_TASK | (self._gen << _h._SLOT_BITS)
                | self._slot)

    @property
    def alive(self) -> bool:
        """Not exited, not killed (and its hierarchy not closed)."""
        return self._alive and not self._hierarchy._closed

    def _live(self, what: str = "task") -> None:
        if not self.alive:
            raise StaleHandleError(f"{what}: the task has exited")

    @property
    def cgroup(self) -> _h.Cgroup:
        """The cgroup it is in."""
        self._live()
        return self._memcg

    @property
    def rss(self) -> int:
        """User pages mapped (charged)."""
        self._live()
        return self._rss

    @property
    def pagetables(self) -> int:
        """Page-table pages (PTE + PMD + PUD) of its mapping, charged or not."""
        self._live()
        return self._pte + self._pmd + self._pud

    @property
    def stack(self) -> int:
        """Kernel-stack pages charged (0 where kernel memory was not accounted)."""
        self._live()
        return self._stack_pages

    @property
    def oom_score_adj(self) -> int:
        self._live()
        return self._oom_score_adj

    @property
    def throttle_jiffies(self) -> int:
        """The memory.high throttling its faults earned (not slept)."""
        self._live()
        return self._throttle_jiffies

    def __repr__(self) -> str:
        if not self.alive:
            return "<model.Task (exited)>"
        return (f"<model.Task rss={self._rss} pagetables={self._pte + self._pmd + self._pud} "
                f"stack={self._stack_pages}>")

    # ------------------------------------------------------------------ operations

    def fault(self, nr_pages: int, cpu: int = 0) -> None:
        """Map ``nr_pages`` more user pages, a fault each: the page tables
        the mapping needs (kernel memory, charged where the era accounts
        them: ``__GFP_ACCOUNT``, 4.8+), then the page (GFP_HIGHUSER_MOVABLE:
        may reclaim and run the OOM killer).  :class:`ChargeError` (ENOMEM)
        when a charge is refused, :class:`KilledError` (ESRCH) when the OOM
        killer killed this task meanwhile; ``faulted`` on the error says how
        many pages went in.  Page tables charged before a refused page stay."""
        n = check_count(nr_pages)
        h = self._hierarchy
        cpu = _check_cpu(cpu, h.config.ncpus)
        done = 0
        err: Optional[Exception] = None
        if not self.alive:
            err = StaleHandleError("fault: the task has exited")
        else:
            try:
                while done < n:
                    ret = h._fault_one(self, cpu)
                    if ret == -errno.ENOMEM:
                        err = ChargeError(f"fault: a charge was refused after {done} page(s)")
                    elif ret == -errno.ESRCH:
                        err = KilledError(
                            f"fault: the OOM killer killed the task after {done} page(s)")
                    elif ret:  # -ESTALE: its cgroup went offline meanwhile (a hook)
                        err = StaleHandleError("fault: the task's cgroup is gone")
                    if err is not None:
                        break
                    done += 1
            finally:
                h._free_check()
        if err is not None:
            err.faulted = done  # type: ignore[attr-defined]
            raise err

    def kmem_alloc(self, nr_pages: int, flags: int = GFP_KERNEL_ACCOUNT, cpu: int = 0,
                   interrupt: bool = False, accounted_cache: bool = False) -> Optional[_h.Cgroup]:
        """A kernel allocation of ``nr_pages`` made by this task
        (``pmc_task_kmem_charge()``), charged as kernel memory to its cgroup
        when SPEC 6's selective accounting rule says so
        (``Hierarchy._kmem_accounted()``), in the task's context: the OOM
        killer may choose it, memory.high throttles it.

        Returns the cgroup charged, or None when nothing was charged (not
        accounted, or 0 pages).  The pages belong to no task; give them back
        with ``cgroup.uncharge(nr_pages, kmem=True)``.  :class:`ChargeError`
        (ENOMEM; ``over``: the cgroup over its limit) when refused,
        :class:`KilledError` (ESRCH) when the OOM killer killed this task
        meanwhile (nothing stays charged)."""
        n = check_count(nr_pages)
        gfp = check_gfp(flags)
        h = self._hierarchy
        cpu = _check_cpu(cpu, h.config.ncpus)
        irq = check_bool(interrupt, "interrupt")
        cache = check_bool(accounted_cache, "accounted_cache")
        self._live("kmem_alloc")
        try:
            ret, cg = h._task_kmem_charge(self, n, cpu, gfp, irq, cache)
        finally:
            h._free_check()
        if ret == -errno.ENOMEM:
            err = ChargeError(f"kmem_alloc: {n} page(s) refused")
            err.over = cg  # type: ignore[attr-defined]
            raise err
        if ret == -errno.ESRCH:
            raise KilledError("kmem_alloc: the OOM killer killed the task")
        if ret:  # -ESTALE: its cgroup went offline under it (a hook)
            raise StaleHandleError("kmem_alloc: the task's cgroup is gone")
        return cg

    def unmap(self, nr_pages: int, cpu: int = 0) -> None:
        """Unmap ``nr_pages`` user pages, the newest first, each uncharged
        from where it went; the page tables stay until exit (the kernel
        frees them only when a whole range goes).  More than ``rss`` raises
        :class:`InvalidError`."""
        n = check_count(nr_pages)
        h = self._hierarchy
        cpu = _check_cpu(cpu, h.config.ncpus)
        self._live("unmap")
        if n > self._rss:
            raise InvalidError(f"unmap {n} pages: the task maps {self._rss}")
        try:
            left = n
            while left:
                s = self._user[-1]
                k = min(s.nr_pages, left)
                h._uncharge_user_seg(s, k, cpu)
                s.nr_pages -= k
                self._rss -= k
                left -= k
                if not s.nr_pages:
                    self._user.pop()
                    s.memcg._user_segs -= 1
        finally:
            h._free_check()

    def move(self, cgroup: _h.Cgroup) -> None:
        """Move into ``cgroup`` (online, of this hierarchy): it goes last in
        that cgroup's task list.  What it has charged stays where it is
        (cgroup v2; v1 with move_charge_at_immigrate = 0, the default);
        later faults charge the new cgroup."""
        h = self._hierarchy
        if not isinstance(cgroup, _h.Cgroup):
            raise InvalidTypeError(f"cgroup must be a Cgroup, not {type(cgroup).__name__}")
        if cgroup._hierarchy is not h:
            raise InvalidError(f"cgroup {cgroup._path or '/'!r} is a cgroup of another hierarchy")
        self._live("move")
        if not cgroup._online:
            raise StaleHandleError(f"move: cgroup {cgroup._path!r} is removed")
        del self._memcg._tasks[self]
        self._memcg = cgroup
        cgroup._tasks[self] = None

    def exit(self, cpu: int = 0) -> None:
        """Exit: everything it charged is uncharged on ``cpu``, each part
        from where it went (user pages from their cgroup, or where 3.8's
        offline moved them; kernel pages through their objcg)."""
        h = self._hierarchy
        cpu = _check_cpu(cpu, h.config.ncpus)
        self._live("exit")
        try:
            h._task_exit(self, cpu)
        finally:
            h._free_check()




class TaskHierarchyMixin:
    """The task half of :class:`Hierarchy`: fork, faults, kmem_alloc, exit."""

    # ------------------------------------------------------------------ tasks

    def _charge_task(self, cg: _h.Cgroup, task: Optional[Task], nr_pages: int, cpu: int,
                     gfp: int, kmem: bool) -> tuple[int, bool]:
        """``memcg_charge_task()``: a charge on behalf of a task (fork, a
        fault), known to the OOM killer.  0, -ENOMEM (refused) or -ESTALE;
        and whether 3.8 bypassed it to the root (nothing charged) because
        the OOM killer chose the task.  The task earns the memory.high
        throttle of the call."""
        h = _hierarchy(self)
        if not cg._online:
            return -errno.ESTALE, False
        ctx = _h._ChargeCtx(cpu, task)
        cg._pins += 1
        try:
            over = h._charge(cg, nr_pages, cpu, gfp, kmem, ctx)
        except BaseException as e:
            if ctx.charged:  # the charge stands: the caller keeps or undoes it
                setattr(e, _h._CHARGED_MARK, True)
            raise
        finally:
            cg._pins -= 1
        if task is not None:
            task._throttle_jiffies += ctx.throttle_jiffies
        return (0 if over is None else -errno.ENOMEM), ctx.bypassed

    def _uncharge_call(self, cg: _h.Cgroup, nr_pages: int, cpu: int, kmem: bool) -> None:
        """An uncharge as ``Cgroup.uncharge()`` makes it, on the task paths'
        own account (a clamp stays silent): nothing for a freed cgroup, a
        shell only takes kernel pages."""
        h = _hierarchy(self)
        if cg._freed and not (cg._shell and kmem):
            return
        h._uncharge(cg, nr_pages, cpu, kmem, None)

    def _charge_stack(self, cg: _h.Cgroup, cpu: int, pages: int) -> int:
        """The kernel stack, charged as kernel memory, all or nothing: 3.8 as
        one order-1 allocation; current kernels page by page (VMAP stacks,
        ``memcg_charge_kernel_stack()``), what was charged given back when a
        page is refused.  0, -ENOMEM or -ESTALE."""
        h = _hierarchy(self)
        if not h._config.stack_per_page:
            try:
                return h._charge_task(cg, None, pages, cpu, GFP_KERNEL, True)[0]
            except BaseException as e:
                # A hook failed in memory.high's work after the charge: the
                # fork fails, so the stack goes back too.
                if _h._take_charged(e):
                    h._uncharge_kmem_pages(cg, pages, cpu, "kernel_stack")
                raise
        for i in range(pages):
            try:
                ret = h._charge_task(cg, None, 1, cpu, GFP_KERNEL, True)[0]
            except BaseException as e:
                h._uncharge_kmem_pages(cg, i + _h._take_charged(e), cpu, "kernel_stack")
                raise
            if ret:  # memcg_charge_kernel_stack(): undo what was charged
                h._uncharge_kmem_pages(cg, i, cpu, "kernel_stack")
                return ret
        return 0

    def _fork(self, cg: _h.Cgroup, cpu: int, adj: int, sparse: bool) -> Task:
        """``copy_process()``: the stack (``alloc_thread_stack_node()``),
        then the task, last in its cgroup's list.  In the kernel the forking
        parent is a task of the cgroup: rmdir and 3.8's kmem activation fail
        with EBUSY until the fork is over; so here (``nr_forking``), and
        whether the stack is accounted cannot change meanwhile."""
        h = _hierarchy(self)
        cg._nr_forking += 1
        try:
            accounted = cg is not h._root and cg._kmem_active
            pages = h._config.kernel_stack_pages
            ret = h._charge_stack(cg, cpu, pages)
            if ret == -errno.ENOMEM:
                raise ForkError(f"fork in {cg._path or '/'}: the kernel stack was refused")
            if ret:  # -ESTALE: cannot happen while the fork holds the cgroup online
                raise StaleHandleError(f"fork: cgroup {cg._path!r} is removed")
            if h._free_task_slots:
                slot = heapq.heappop(h._free_task_slots)
            elif h._next_task_slot > _h._TASK_SLOT_MAX:
                # No task slot left: the fork fails, the stack goes back.
                if accounted:
                    h._uncharge_kmem_pages(cg, pages, cpu, "kernel_stack")
                raise NoSpaceError("2,097,151 tasks exist")
            else:
                slot = h._next_task_slot
                h._next_task_slot += 1
        finally:
            cg._nr_forking -= 1
            h._free_check()
        t = Task._new(h, cg, slot, adj, sparse)
        if accounted:
            t._stack_memcg, t._stack_pages = cg, pages
            cg._task_ksegs += 1  # the stack names it, as a segment would
            cg._vmstats["kernel_stack"] += pages
        cg._tasks[t] = None
        h._tasks[t.handle] = t
        return t

    @staticmethod
    def _missing_level(t: Task) -> tuple[Optional[str], int]:
        """The first page-table level, top-down, that the mapping's next
        page still lacks (None when it has them all), and the mapping's
        high-water mark."""
        mapped = max(t._rss + 1, t._max_mapped)
        pte, pmd, pud = _pgtables_for(t._sparse, mapped)
        for level, want in (("_pud", pud), ("_pmd", pmd), ("_pte", pte)):
            if getattr(t, level) < want:
                return level, mapped
        return None, mapped

    @staticmethod
    def _task_moved(t: Task, memcg: _h.Cgroup) -> bool:
        """A charge found the cgroup the task was in gone (-ESTALE): has
        the task moved on since (or gone)?  Then the charge is retried where
        it is now (a cgroup with tasks is never removed)."""
        return not t._alive or t._memcg is not memcg

    def _fault_tables(self, t: Task, cpu: int) -> int:
        """``fault_tables()``: the page tables a mapping of one more page
        needs, allocated top-down as the fault's walk does (``__pud_alloc()``,
        ``__pmd_alloc()``, ``__pte_alloc()``): one page each, and one charge
        with __GFP_ACCOUNT each where the era accounts them.  A level
        installed stays when a lower one is refused, as in the kernel.  Page
        tables follow the high-water mark of the mapping.  0, -ENOMEM
        (refused), -ESRCH (the task was killed meanwhile) or -ESTALE."""
        h = _hierarchy(self)
        while True:
            if not t._alive:
                return -errno.ESRCH
            level, mapped = h._missing_level(t)
            if level is None:
                t._max_mapped = mapped
                return 0
            memcg = t._memcg
            accounted = (h._config.pagetables_accounted and memcg is not h._root
                         and memcg._kmem_active)
            if not accounted:
                setattr(t, level, getattr(t, level) + 1)
                continue
            memcg._pins += 1  # up to the segment's commit, as _fault_one pins it
            hook: Optional[BaseException] = None
            try:
                ret, _ = h._charge_task(memcg, t, 1, cpu, GFP_KERNEL | GFP_ACCOUNT, True)
            except BaseException as e:
                if not _h._take_charged(e):
                    raise
                hook, ret = e, 0  # charged, then memory.high's hook failed: the table is ours
            finally:
                memcg._pins -= 1
            if ret == -errno.ESTALE and h._task_moved(t, memcg):
                continue  # it left a cgroup since removed: charge where it is
            if ret:
                return ret
            if not t._alive:  # killed meanwhile: the page goes back
                h._uncharge_kmem_pages(memcg, 1, cpu, "pagetables")
                if hook is not None:
                    raise hook
                return -errno.ESRCH
            if h._missing_level(t)[0] != level:
                # A racing fault put one there (pmd_install() and friends
                # free the table they were beaten to).
                h._uncharge_kmem_pages(memcg, 1, cpu, "pagetables")
                if hook is not None:
                    raise hook
                continue
            _seg_add(t._pgtables, memcg, 1, False)
            setattr(t, level, getattr(t, level) + 1)
            t._pt_charged += 1
            memcg._vmstats["pagetables"] += 1
            if hook is not None:
                raise hook

    def _fault_one(self, t: Task, cpu: int) -> int:
        """``fault_one()``: one fault, the page tables, then the page.  0,
        -ENOMEM (refused), -ESRCH (the task was killed meanwhile) or -ESTALE."""
        h = _hierarchy(self)
        ret = h._fault_tables(t, cpu)
        if ret:
            return ret
        while True:
            if not t._alive:
                return -errno.ESRCH
            memcg = t._memcg
            # A reference (the charge's css reference) up to the page's commit:
            # the task may leave the cgroup meanwhile and the cgroup be removed.
            memcg._pins += 1
            hook: Optional[BaseException] = None
            try:
                # The page: GFP_HIGHUSER_MOVABLE, which may wait and may OOM.
                try:
                    ret, bypassed = h._charge_task(memcg, t, 1, cpu, GFP_KERNEL, False)
                except BaseException as e:
                    if not _h._take_charged(e):
                        raise
                    # Charged, then memory.high's hook failed: the page is the task's.
                    hook, ret, bypassed = e, 0, False
                if ret == -errno.ESTALE and h._task_moved(t, memcg):
                    continue  # it left a cgroup since removed: charge where it is
                if ret:
                    return ret
                if not t._alive or bypassed:
                    if not bypassed:
                        h._uncharge_call(memcg, 1, cpu, False)
                    if hook is not None:
                        raise hook
                    return -errno.ESRCH
                # Removed meanwhile in 3.8: the page went to the parent with the others.
                owner = memcg
                if h._config.reparent_user_pages:
                    while not owner._online:
                        assert owner._parent is not None
                        owner = owner._parent
                # The root's pages too: nothing was charged, but unmap takes them in order.
                _seg_add(t._user, owner, 1, True)
                t._rss += 1
                if hook is not None:
                    raise hook
                return 0
            finally:
                memcg._pins -= 1

    def _kmem_accounted(self, memcg: _h.Cgroup, n: int, gfp: int, interrupt: bool,
                        accounted_cache: bool) -> bool:
        """``kmem_accounted()``: SPEC 6's rule, is a kernel allocation of
        ``n`` pages that a task of ``memcg`` makes now charged?  Never in
        interrupt context (4.x ``memcg_kmem_bypass()``; 5.x+
        ``current_obj_cgroup()`` is NULL outside a task); nothing for 0
        pages (``ZERO_SIZE_PTR``); never the root; not before 3.8's kmem
        activation (``memcg_can_account_kmem()``); the 3.8 charge loop lets
        __GFP_NOFAIL go unaccounted (``memcg_kmem_get_cache()``); then the
        white list (4.5+: __GFP_ACCOUNT or a SLAB_ACCOUNT cache) or the
        black list (3.8-4.4: everything)."""
        h = _hierarchy(self)
        cfg = h._config
        if interrupt or not n or memcg is h._root or not memcg._kmem_active:
            return False
        if cfg.charge_loop == "3.8" and gfp & GFP_NOFAIL:
            return False
        if cfg.kmem_accounting == "blacklist":
            return True
        return bool(gfp & GFP_ACCOUNT) or accounted_cache

    def _task_kmem_charge(self, t: Task, n: int, cpu: int, gfp: int, interrupt: bool,
                          accounted_cache: bool) -> tuple[int, Optional[_h.Cgroup]]:
        """``pmc_task_kmem_charge()``: (0, the cgroup charged or None),
        (-ENOMEM, the cgroup over its limit) or (-ESRCH, None): the task was
        killed meanwhile, and what was charged went back."""
        h = _hierarchy(self)
        while True:
            if not t._alive:
                return -errno.ESRCH, None
            memcg = t._memcg
            if not h._kmem_accounted(memcg, n, gfp, interrupt, accounted_cache):
                return 0, None
            if not memcg._online:
                ret, over = -errno.ESTALE, None
            else:
                ctx = _h._ChargeCtx(cpu, t)
                memcg._pins += 1  # the charge's css reference
                try:
                    over = h._charge(memcg, n, cpu, gfp, True, ctx)
                except BaseException:
                    if ctx.charged:  # memory.high's hook failed after it: nothing stays
                        h._uncharge_call(memcg, n, cpu, True)
                    raise
                finally:
                    memcg._pins -= 1
                t._throttle_jiffies += ctx.throttle_jiffies
                ret = 0 if over is None else -errno.ENOMEM
            if ret == -errno.ESTALE and h._task_moved(t, memcg):
                continue  # it left a cgroup since removed: charge where it is
            if not t._alive:
                # Chosen by the OOM killer meanwhile: whatever was charged goes back.
                if ret == 0:
                    h._uncharge_call(memcg, n, cpu, True)
                return -errno.ESRCH, None
            if ret:
                return ret, over
            return 0, memcg
