"""Sockets of the model: ``Socket`` and the hierarchy's socket charges (v2
through the stock, v1's tcpmem and its pressure: ``SockHierarchyMixin``)."""

from __future__ import annotations

import heapq

from typing import Optional, cast
from .._common import PAGE_COUNTER_MAX, check_count, check_cpu as _check_cpu
from ..config import Config
from ..errors import InvalidError, NoSpaceError, StaleHandleError
from ..gfp import GFP_KERNEL, GFP_NOFAIL, check_gfp
from .page_counter import PageCounter

from .task import Task, _Seg

from . import hierarchy as _h  # imported first: partly made when this runs


def _hierarchy(obj: object) -> _h.Hierarchy:
    """The mixin's object is a Hierarchy (the class that mixes it in)."""
    return cast("_h.Hierarchy", obj)


# ---------------------------------------------------------------------- Socket


class Socket:
    """A socket (a ``struct sock`` with its ``sk_memcg``): network buffers
    charged to the cgroup it was bound to at creation.  Made by
    :meth:`Cgroup.sock_create`, never directly.

    Counts are pages.  ``pages`` is what the socket holds
    (``sk_forward_alloc`` in pages): charged to ``cgroup`` when bound, only
    counted when not.  Once closed, ``alive`` is False and everything but
    ``handle`` raises :class:`StaleHandleError`.

    Not thread-safe.
    """

    # Set by _new(); declared here for the type checker (annotations only).
    _hierarchy: _h.Hierarchy
    _slot: int
    _gen: int
    _open: bool
    _memcg: Optional[_h.Cgroup]
    _pages: int

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("sockets are made by Cgroup.sock_create()")

    @classmethod
    def _new(cls, hierarchy: _h.Hierarchy, slot: int, memcg: Optional[_h.Cgroup]) -> Socket:
        self = object.__new__(cls)
        self._hierarchy = hierarchy
        self._slot = slot
        gen = (hierarchy._sock_slot_gens.get(slot, 0) + 1) & _h._GEN_MASK
        self._gen = gen or 1
        hierarchy._sock_slot_gens[slot] = self._gen
        self._open = True
        self._memcg = memcg  # sk->sk_memcg, or None
        self._pages = 0
        return self

    @property
    def handle(self) -> int:
        """``slot | 1 << 21 | generation << 22 | 1 << 46 | tag << 47``, the
        C core's layout."""
        return ((self._hierarchy._tag << _h._TAG_SHIFT) | _h._KIND_TASK | (self._gen << _h._SLOT_BITS)
                | _h._SOCK_SLOT | self._slot)

    @property
    def alive(self) -> bool:
        """Not closed (and its hierarchy not closed)."""
        return self._open and not self._hierarchy._closed

    def _live(self, what: str = "socket") -> None:
        if not self.alive:
            raise StaleHandleError(f"{what}: the socket is closed")

    @property
    def bound(self) -> bool:
        """Whether its pages are charged to a cgroup (``sk->sk_memcg``)."""
        self._live()
        return self._memcg is not None

    @property
    def cgroup(self) -> Optional[_h.Cgroup]:
        """The cgroup it is bound to (online or dying), or None."""
        self._live()
        return self._memcg

    @property
    def pages(self) -> int:
        """Pages it holds (charged to its cgroup when bound)."""
        self._live()
        return self._pages

    def __repr__(self) -> str:
        if not self.alive:
            return "<model.Socket (closed)>"
        return f"<model.Socket pages={self._pages} {'bound' if self._memcg else 'unbound'}>"

    def charge(self, nr_pages: int, cpu: int = 0, flags: int = GFP_KERNEL) -> bool:
        """``mem_cgroup_charge_skmem()``: True when charged, False when
        refused (nothing charged).  v2: the era's try_charge on memory
        through the stock, then the ``sock`` statistic; v1: the ``tcpmem``
        counter alone, with its pressure flag (``Config.tcpmem_counter``).
        An unbound socket is never refused.  More than PAGE_COUNTER_MAX held
        in all raises :class:`InvalidError`.  memory.high is then handled
        for the socket's cgroup (the kernel's is the sending task's)."""
        n = check_count(nr_pages)
        h = self._hierarchy
        cpu = _check_cpu(cpu, h.config.ncpus)
        gfp = check_gfp(flags)
        self._live("charge")
        if self._pages + n > PAGE_COUNTER_MAX:
            raise InvalidError(f"charge {n} pages: the socket holds {self._pages}")
        memcg = self._memcg
        if memcg is None:
            self._pages += n  # the protocol's own accounting only
            return True
        memcg._pins += 1  # the charge's css reference: a hook may close us meanwhile
        done = [False]
        try:
            try:
                charged = h._charge_skmem(memcg, n, cpu, gfp, done)
            finally:
                # Charged: held even when the memory.high work then raised
                # in a hook (the kernel runs it after the charge returned).
                if done[0] and self._open:
                    self._pages += n
                elif done[0]:
                    # Closed meanwhile: what it held went back; so do these pages.
                    h._uncharge_skmem(memcg, n, cpu)
            if done[0] and not self._open:
                raise StaleHandleError("charge: the socket is closed")
            return charged
        finally:
            memcg._pins -= 1
            h._free_check()

    def uncharge(self, nr_pages: int, cpu: int = 0) -> None:
        """``mem_cgroup_uncharge_skmem()``: v2 takes the ``sock`` statistic
        down and gives the pages to the CPU's stock (``refill_stock()``,
        4.14+; before, straight to the counters); v1 uncharges ``tcpmem``.
        More than the socket holds raises :class:`InvalidError`."""
        n = check_count(nr_pages)
        h = self._hierarchy
        cpu = _check_cpu(cpu, h.config.ncpus)
        self._live("uncharge")
        if n > self._pages:
            raise InvalidError(f"uncharge {n} pages: the socket holds {self._pages}")
        self._pages -= n
        if self._memcg is not None:
            try:
                h._uncharge_skmem(self._memcg, n, cpu)
            finally:
                h._free_check()

    def close(self, cpu: int = 0) -> None:
        """Close: what it holds is uncharged, then ``mem_cgroup_sk_free()``
        lets go of its cgroup (a removed one it kept may be freed)."""
        h = self._hierarchy
        cpu = _check_cpu(cpu, h.config.ncpus)
        self._live("close")
        self._open = False
        del h._socks[self.handle]
        heapq.heappush(h._free_sock_slots, self._slot)
        h._sock_slot_gens[self._slot] = (self._gen + 1) & _h._GEN_MASK
        memcg, self._memcg = self._memcg, None
        pages, self._pages = self._pages, 0
        if memcg is not None:
            h._uncharge_skmem(memcg, pages, cpu)
            memcg._nr_sockets -= 1
            h._free_check()




class SockHierarchyMixin:
    """The socket half of :class:`Hierarchy`."""

    # ------------------------------------------------------------------ sockets

    def _sock_create(self, cg: _h.Cgroup) -> Socket:
        """``mem_cgroup_sk_alloc()``: a new socket, bound (a css reference)
        unless ``cg`` is the root or, on v1, not ``tcpmem_active``."""
        h = _hierarchy(self)
        if h._free_sock_slots:
            slot = heapq.heappop(h._free_sock_slots)
        elif h._next_sock_slot > _h._TASK_SLOT_MAX:
            raise NoSpaceError("2,097,151 sockets exist")
        else:
            slot = h._next_sock_slot
            h._next_sock_slot += 1
        bind = cg is not h._root and (h._config.version == 2 or cg._tcpmem_active)
        sk = Socket._new(h, slot, cg if bind else None)
        if bind:
            cg._nr_sockets += 1
        h._socks[sk.handle] = sk
        return sk

    def _charge_skmem(self, memcg: _h.Cgroup, n: int, cpu: int, gfp: int,
                      done: list[bool]) -> bool:
        """``mem_cgroup_charge_skmem()`` for a bound socket (its cgroup
        online or dying); ``done[0]`` says whether the pages were charged,
        set before the memory.high work (which may raise in a hook)."""
        h = _hierarchy(self)
        cfg = h._config
        if n == 0:
            done[0] = True
            return True
        if cfg.version == 1:
            done[0] = h._memcg1_charge_skmem(memcg, n, gfp)
            return done[0]
        ctx = _h._ChargeCtx(cpu, None)
        if cfg.charge_loop == "3.8":
            over = h._try_charge_memcg_38(ctx, memcg, gfp, n, True)
        else:
            over = h._try_charge_memcg(ctx, memcg, gfp, n)
        if over is None:
            memcg._vmstats["sock"] += n  # mod_memcg_state(MEMCG_SOCK)
            done[0] = True
        if ctx.pending_high:
            h._handle_over_high(ctx, memcg)
        return over is None

    def _memcg1_charge_skmem(self, memcg: _h.Cgroup, n: int, gfp: int) -> bool:
        """v1: the tcpmem counter alone (``memcg1_charge_skmem()``; 3.x
        ``memcg_memory_allocated_add()`` + ``__sk_mem_schedule()``, see
        ``Config.tcpmem_counter``)."""
        h = _hierarchy(self)
        tcp = memcg._counters["tcpmem"]
        if h._config.tcpmem_counter == "res_counter":
            h._force_charge(tcp, n)  # res_counter_charge_nofail()
            over = False
            c: Optional[PageCounter] = tcp
            while c is not None:
                over = over or c.usage > c.max
                c = c.parent
            if not over:
                m: Optional[_h.Cgroup] = memcg  # sk_leave_memory_pressure(): up the tree
                while m is not None:
                    m._tcpmem_pressure = 0
                    m = m._parent
                return True
            memcg._tcpmem_pressure = 1  # sk_enter_memory_pressure(): its own cgroup
            if gfp & GFP_NOFAIL:
                return True
            _h._uncharge(tcp, n, None)
            return False
        if tcp.try_charge(n) is None:
            memcg._tcpmem_pressure = 0
            return True
        memcg._tcpmem_pressure = 1
        if gfp & GFP_NOFAIL:
            tcp.charge(n)
            return True
        return False

    def _uncharge_skmem(self, memcg: _h.Cgroup, n: int, cpu: int) -> None:
        """``mem_cgroup_uncharge_skmem()``."""
        h = _hierarchy(self)
        if n == 0:
            return
        if h._config.version == 1:
            _h._uncharge(memcg._counters["tcpmem"], n, None)
            return
        memcg._vmstats["sock"] -= n
        if h._config.kmem_uncharge_via_stock:
            h._refill_stock(memcg, n, cpu)
        else:
            h._memcg_uncharge(memcg, n, None)

    def _kmem_per_page(self, stat: str) -> bool:
        """Are these kernel pages given back one page at a time?  The kernel
        frees each page-table page on its own (``pte_free()`` and friends),
        and a VMAP stack page by page: a ``memcg_kmem_uncharge_page()``,
        hence a ``refill_stock()``, for each (with the stock's refill cap
        the grouping shows).  3.8 freed its order-1 stack as one allocation."""
        h = _hierarchy(self)
        return stat == "pagetables" or h._config.stack_per_page

    def _uncharge_kmem_pages(self, cg: _h.Cgroup, nr_pages: int, cpu: int, stat: str) -> None:
        """Kernel pages given back on a failure path (``uncharge_kmem_pages()``):
        as an uncharge call, page by page where the kernel frees them so."""
        h = _hierarchy(self)
        if not h._kmem_per_page(stat):
            h._uncharge_call(cg, nr_pages, cpu, True)
            return
        for _ in range(nr_pages):
            h._uncharge_call(cg, 1, cpu, True)

    def _uncharge_kmem_stat(self, memcg: _h.Cgroup, nr_pages: int, cpu: int, stat: str) -> None:
        """``memcg_uncharge_kmem_stat()``: kernel pages of a task (its stack,
        its page tables) come off with their own statistic, from where their
        objcg points now."""
        h = _hierarchy(self)
        if memcg is h._root or not nr_pages:
            return
        to = memcg
        if h._config.objcg:
            while not to._online:
                assert to._parent is not None
                to = to._parent
        to._vmstats[stat] -= nr_pages
        h._uncharge(memcg, nr_pages, cpu, True, None)

    def _uncharge_user_seg(self, seg: _Seg, nr_pages: int, cpu: int) -> None:
        """A user segment's pages come off where they are charged: 3.8's
        pages moved to the root off the root (``memcg_uncharge_root_user()``)."""
        h = _hierarchy(self)
        if seg.root_charged:
            h._root._vmstats["anon"] -= nr_pages
            h._memcg_uncharge(h._root, nr_pages, None)
        else:
            h._uncharge(seg.memcg, nr_pages, cpu, False, None)

    def _seg_uncharge(self, seg: _Seg, cpu: int, kmem: bool, stat: str = "") -> None:
        """``seg_uncharge()``: a segment's pages come off (kernel pages with
        their own statistic, page by page where the kernel frees them so)."""
        h = _hierarchy(self)
        if not kmem:
            h._uncharge_user_seg(seg, seg.nr_pages, cpu)
        elif not h._kmem_per_page(stat):
            h._uncharge_kmem_stat(seg.memcg, seg.nr_pages, cpu, stat)
        else:
            for _ in range(seg.nr_pages):
                h._uncharge_kmem_stat(seg.memcg, 1, cpu, stat)

    def _task_exit(self, t: Task, cpu: int) -> None:
        """``do_exit()`` (or the OOM killer's kill): everything the task
        charged comes off on ``cpu``, each part from where it went: its user
        pages, then its page tables, then its stack, each list newest first."""
        h = _hierarchy(self)
        t._alive = False
        del t._memcg._tasks[t]
        del h._tasks[t.handle]
        heapq.heappush(h._free_task_slots, t._slot)
        h._task_slot_gens[t._slot] = (t._gen + 1) & _h._GEN_MASK
        for seg in reversed(t._user):
            h._seg_uncharge(seg, cpu, False)
            seg.memcg._user_segs -= 1
        for seg in reversed(t._pgtables):
            h._seg_uncharge(seg, cpu, True, "pagetables")
            seg.memcg._task_ksegs -= 1
        if t._stack_pages:
            assert t._stack_memcg is not None
            h._seg_uncharge(_Seg(t._stack_memcg, t._stack_pages), cpu, True, "kernel_stack")
            t._stack_memcg._task_ksegs -= 1
        t._user, t._pgtables = [], []
        t._rss = t._stack_pages = 0
