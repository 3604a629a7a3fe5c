"""Hand-worked tests of selective kernel-memory accounting (issue 8, part 1):
``Task.kmem_alloc`` and SPEC 6's rule for when a task's kernel allocation is
charged, with the GFP flags that decide how the charge behaves at a limit.

Every expected number is worked out by hand from the kernel's rules; the
arithmetic is in the comments.  The rules, by kernel function:

* whether it is charged: never in interrupt context (4.x
  ``memcg_kmem_bypass``; 5.x+ ``current_obj_cgroup`` is NULL outside a task),
  never the root (``current_objcg_update`` stops there), not before 3.8's
  kmem activation (``memcg_can_account_kmem``); then the white list (4.5+,
  a9bb7e620efd: ``__GFP_ACCOUNT`` or a ``SLAB_ACCOUNT`` cache,
  ``memcg_slab_pre_alloc_hook``, ``__memcg_kmem_charge_page``) or 3.8's
  black list (``memcg_kmem_get_cache``: every cache in process context, but
  ``__GFP_NOFAIL`` goes to the root cache, unaccounted).
* how: ``obj_cgroup_charge_pages`` -> ``try_charge_memcg`` (current: a
  charge that may not block fails after the batch retry, before any reclaim
  and before the max event; ``__GFP_HIGH`` and ``__GFP_NOFAIL`` are forced
  over the limit with one max event; the OOM killer for orders up to 3, and
  ``passed_oom && task_is_dying()`` fails the charge of a killed task);
  3.8 ``memcg_charge_kmem``: the kmem counter first, then
  ``__mem_cgroup_try_charge`` (nothing forced; no ``__GFP_WAIT``: fails;
  the OOM killer only with ``__GFP_FS``; a chosen task is bypassed, which
  the kmem path turns into a forced charge).
* the pages belong to no task: ``oom_badness`` counts rss and page tables
  only, so a kill never frees them; the caller uncharges them, through the
  objcg (the nearest online ancestor once the cgroup is gone, 5.9+).

Each test runs against the C core and the pure-Python oracle.
"""

from __future__ import annotations

import errno

import pytest

import pymemcg

P = 4096  # PAGE_SIZE

# The `backend` fixture (C core and model) comes from conftest.py.


def make(backend, preset: str = "current", **changes):
    return backend.Hierarchy(config=getattr(backend.Config, preset)(**changes))


def stat(anon=0, kernel=0, kernel_stack=0, pagetables=0, sock=0):
    """memory.stat in bytes, from page counts (no slab objects here)."""
    return {"anon": anon * P, "kernel": kernel * P, "kernel_stack": kernel_stack * P,
            "pagetables": pagetables * P, "sock": sock * P, "slab_reclaimable": 0,
            "slab_unreclaimable": 0}


# ==========================================================================
# the configuration
# ==========================================================================


def test_presets_name_the_era(backend):
    assert backend.Config.linux_3_8().kmem_accounting == "blacklist"
    assert backend.Config.current().kmem_accounting == "whitelist"
    assert backend.Config.current_v1().kmem_accounting == "whitelist"
    with pytest.raises(pymemcg.InvalidError):
        backend.Config.current(kmem_accounting="greylist")
    with pytest.raises(pymemcg.InvalidError):
        backend.Config.current().replace(kmem_accounting=1)


# ==========================================================================
# the rule, white-list era (4.5+: the current presets)
# ==========================================================================


def test_whitelist_charges_only_what_is_flagged(backend):
    h = make(backend)
    a = h.create("a")
    t = a.fork()  # the stack: a batch of 64 charged, 60 left in the stock
    assert a.memory.usage == 64 and h.stock(0)[0] == (a, 60)
    # GFP_KERNEL_ACCOUNT (the default): charged to the task's cgroup, from the stock.
    assert t.kmem_alloc(3) == a
    assert h.stock(0)[0] == (a, 57)
    # GFP_KERNEL alone: not on the white list, nothing charged.
    assert t.kmem_alloc(3, flags=pymemcg.GFP_KERNEL) is None
    # From a SLAB_ACCOUNT cache: charged without the flag.
    assert t.kmem_alloc(2, flags=pymemcg.GFP_KERNEL, accounted_cache=True) == a
    # In interrupt context: never; nothing for nothing.
    assert t.kmem_alloc(2, interrupt=True) is None
    assert t.kmem_alloc(2, interrupt=True, accounted_cache=True) is None
    assert t.kmem_alloc(0) is None
    # 57 - 2 = 55 in the stock; memory.usage is still the one batch.
    assert h.stock(0)[0] == (a, 55) and a.memory.usage == 64
    # In memory.stat's kernel (4 + 3 + 2), not in the task's own counts.
    assert a.stat == stat(kernel=9, kernel_stack=4)
    assert (t.rss, t.stack, t.pagetables) == (0, 4, 0)
    # The caller frees it: kernel pages go back through the stock (55 + 3 + 2).
    a.uncharge(3, kmem=True)
    a.uncharge(2, kmem=True)
    assert h.stock(0)[0] == (a, 60) and a.stat == stat(kernel=4, kernel_stack=4)
    # Exit gives back the stack only (60 + 4 = 64, not above the batch).
    t.exit()
    assert h.stock(0)[0] == (a, 64)
    h.drain_all()
    assert a.memory.usage == 0


def test_whitelist_on_v1_charges_the_kmem_counter_too(backend):
    h = make(backend, "current_v1")
    a = h.create("a")
    t = a.fork()  # kmem: the 4 stack pages
    assert a.kmem.usage == 4
    assert t.kmem_alloc(3) == a and a.kmem.usage == 7  # memcg_account_kmem
    assert t.kmem_alloc(3, flags=pymemcg.GFP_KERNEL) is None and a.kmem.usage == 7


@pytest.mark.parametrize("preset", ["current", "linux_3_8"])
def test_the_root_is_never_charged(backend, preset):
    h = make(backend, preset)
    t = h.root.fork()
    for flags in (pymemcg.GFP_KERNEL_ACCOUNT, pymemcg.GFP_KERNEL):
        assert t.kmem_alloc(5, flags=flags) is None
    assert h.root.stat == stat()


def test_a_moved_task_charges_its_new_cgroup(backend):
    h = make(backend)
    a, b = h.create("a"), h.create("b")
    t = a.fork()
    t.move(b)
    assert t.kmem_alloc(2) == b  # a batch of 64 for b: 62 in its slot
    assert b.stat == stat(kernel=2) and a.stat == stat(kernel=4, kernel_stack=4)
    t.move(h.root)
    assert t.kmem_alloc(2) is None


def test_what_if_the_black_list_on_a_current_kernel(backend):
    # DESIGN: "what if kmem were charged by default".
    h = make(backend, kmem_accounting="blacklist")
    a = h.create("a")
    t = a.fork()
    assert t.kmem_alloc(3, flags=pymemcg.GFP_KERNEL) == a
    assert t.kmem_alloc(3, flags=pymemcg.GFP_KERNEL, interrupt=True) is None
    assert a.stat == stat(kernel=7, kernel_stack=4)


# ==========================================================================
# the rule, black-list era (the 3.8 preset)
# ==========================================================================


def test_blacklist_charges_every_allocation_once_kmem_is_active(backend):
    h = make(backend, "linux_3_8")
    a, b = h.create("a"), h.create("b")
    a.write("memory.kmem.limit_in_bytes", "1G")  # the first finite write activates kmem
    t = a.fork()  # the 2-page stack: kmem 2; memory a batch of 32, 30 in the stock
    assert (a.kmem.usage, a.memory.usage, h.stock(0)[0]) == (2, 32, (a, 30))
    # Every process-context allocation, flagged or not: kmem first, memory from the stock.
    assert t.kmem_alloc(3, flags=pymemcg.GFP_KERNEL) == a
    assert t.kmem_alloc(3) == a
    assert (a.kmem.usage, a.memory.usage, h.stock(0)[0]) == (8, 32, (a, 24))
    # __GFP_NOFAIL: memcg_kmem_get_cache leaves it on the root cache, unaccounted.
    assert t.kmem_alloc(3, flags=pymemcg.GFP_KERNEL | pymemcg.GFP_NOFAIL) is None
    # Interrupt context: never.
    assert t.kmem_alloc(3, flags=pymemcg.GFP_ATOMIC, interrupt=True) is None
    assert a.kmem.usage == 8
    assert a.stat == stat(kernel=8, kernel_stack=2)
    assert (t.rss, t.stack, t.pagetables) == (0, 2, 0)
    # b never had a kmem limit written: kmem is not accounted there at all.
    u = b.fork()
    assert u.stack == 0
    assert u.kmem_alloc(3, flags=pymemcg.GFP_KERNEL) is None
    assert u.kmem_alloc(3) is None
    assert (b.kmem.usage, b.memory.usage) == (0, 0)
    # The caller frees: kmem, then memory and memsw at once (no stock on 3.8's kmem uncharge).
    a.uncharge(6, kmem=True)
    assert (a.kmem.usage, a.memory.usage, a.memsw.usage) == (2, 26, 26)


def test_what_if_the_white_list_on_3_8(backend):
    h = make(backend, "linux_3_8", kmem_accounting="whitelist")
    a = h.create("a")
    a.write("memory.kmem.limit_in_bytes", "1G")
    t = a.fork()
    assert t.kmem_alloc(3, flags=pymemcg.GFP_KERNEL) is None
    assert t.kmem_alloc(3) == a and a.kmem.usage == 2 + 3
    # The 3.8 charge loop still leaves NOFAIL unaccounted.
    assert t.kmem_alloc(3, flags=pymemcg.GFP_KERNEL_ACCOUNT | pymemcg.GFP_NOFAIL) is None


# ==========================================================================
# the flags at a limit
# ==========================================================================


def limited(backend, pages, preset="current", **fork):
    """A cgroup limited to `pages` with one task; the stack was charged at
    the exact size (a batch never fits), so no stock holds anything."""
    h = make(backend, preset)
    a = h.create("a")
    if preset == "current":
        a.write("memory.max", str(pages * P))
    else:
        a.write("memory.limit_in_bytes", str(pages * P))
        a.write("memory.kmem.limit_in_bytes", "1G")
    return h, a, a.fork(**fork)


def test_nowait_fails_at_the_limit_without_reclaim_or_event(backend):
    reclaimed = []
    h, a, t = limited(backend, 10)
    h.reclaim = lambda cg, n: reclaimed.append(n) or 0
    assert a.memory.usage == 4 and h.stock(0)[0] == (None, 0)
    # 4 + 7 = 11 > 10: the batch of 64 fails, the exact 7 fails, and a charge
    # that may not block goes to nomem before the max event and reclaim.
    with pytest.raises(pymemcg.ChargeError) as exc:
        t.kmem_alloc(7, flags=pymemcg.GFP_NOWAIT | pymemcg.GFP_ACCOUNT)
    assert exc.value.errno == errno.ENOMEM and exc.value.over == a
    assert reclaimed == [] and a.events["max"] == 0 and a.memory.usage == 4
    # 6 fit exactly: 4 + 6 = 10.
    assert t.kmem_alloc(6, flags=pymemcg.GFP_NOWAIT | pymemcg.GFP_ACCOUNT) == a
    assert a.memory.usage == 10 and a.stat == stat(kernel=10, kernel_stack=4)


def test_high_is_forced_over_the_limit_on_current_kernels(backend):
    h, a, t = limited(backend, 10)
    # GFP_ATOMIC (__GFP_HIGH, no direct reclaim): 4 + 8 = 12 > 10, nomem,
    # then forced: one max event, exactly 8 pages, no stock.
    assert t.kmem_alloc(8, flags=pymemcg.GFP_ATOMIC | pymemcg.GFP_ACCOUNT) == a
    assert a.memory.usage == 12 and a.events["max"] == 1 and h.stock(0)[0] == (None, 0)
    assert a.stat == stat(kernel=12, kernel_stack=4)


def test_nofail_is_forced_when_the_oom_killer_finds_no_victim(backend):
    h, a, t = limited(backend, 10, oom_score_adj=-1000)
    assert t.kmem_alloc(6) == a  # 4 + 6 = 10: fits
    # One more page: reclaim frees nothing.  Max events: the first round
    # (then the drain), 16 retries, the round that goes to the OOM killer:
    # 1 + 16 + 1 = 18.  The OOM killer finds nobody (-1000 is never chosen):
    # nomem, and NOFAIL forces the page (no second max event).
    assert t.kmem_alloc(1, flags=pymemcg.GFP_KERNEL_ACCOUNT | pymemcg.GFP_NOFAIL) == a
    assert a.memory.usage == 11
    assert (a.events["max"], a.events["oom"], a.events["oom_kill"]) == (18, 1, 0)
    # Without NOFAIL the same charge is refused after the same 18 + 1 OOM.
    with pytest.raises(pymemcg.ChargeError):
        t.kmem_alloc(1)
    assert a.memory.usage == 11
    assert (a.events["max"], a.events["oom"], a.events["oom_kill"]) == (36, 2, 0)
    assert t.alive


def test_3_8_forces_nothing(backend):
    h, a, t = limited(backend, 10, "linux_3_8")
    # The 2-page stack: kmem 2; memory: the batch of 32 failed (failcnt 1), then 2.
    assert (a.memory.usage, a.kmem.usage, a.memory.failcnt) == (2, 2, 1)
    # GFP_ATOMIC: 2 + 9 = 11 > 10.  kmem first (11 pages of 1G: fine), then
    # memory: the batch fails (failcnt 2), the exact size fails (3), no
    # __GFP_WAIT: refused, and the kmem counter given back.  Nothing forced.
    with pytest.raises(pymemcg.ChargeError) as exc:
        t.kmem_alloc(9, flags=pymemcg.GFP_ATOMIC)
    assert exc.value.over == a
    assert (a.memory.usage, a.kmem.usage, a.memory.failcnt) == (2, 2, 3)
    # __GFP_NOFAIL is not even accounted.
    assert t.kmem_alloc(9, flags=pymemcg.GFP_KERNEL | pymemcg.GFP_NOFAIL) is None
    assert (a.memory.usage, a.kmem.usage) == (2, 2)


def test_3_8_kmem_limit_refuses_without_reclaim(backend):
    h = make(backend, "linux_3_8")
    a = h.create("a")
    a.write("memory.kmem.limit_in_bytes", str(5 * P))
    t = a.fork()  # kmem 2 of 5
    with pytest.raises(pymemcg.ChargeError) as exc:
        t.kmem_alloc(4, flags=pymemcg.GFP_KERNEL)  # 2 + 4 = 6 > 5
    assert exc.value.over == a
    assert (a.kmem.usage, a.kmem.failcnt, a.events["max"], a.events["oom"]) == (2, 1, 0, 0)
    assert t.kmem_alloc(3, flags=pymemcg.GFP_KERNEL) == a and a.kmem.usage == 5


# ==========================================================================
# the OOM killer: the memory belongs to no task
# ==========================================================================


def test_oom_during_kmem_alloc_kills_by_rss(backend):
    h = make(backend)
    a = h.create("a")
    a.write("memory.max", str(24 * P))
    hog = a.fork()  # 4 stack pages, each at the exact size (a batch never fits)
    hog.fault(10)  # 10 user pages + PUD, PMD, PTE: 4 + 13 = 17
    k = a.fork()  # 17 + 4 = 21
    assert a.memory.usage == 21
    # 21 + 5 = 26 > 24: 18 max events (first round, 16 retries, the last),
    # then the OOM killer (order 3 <= PAGE_ALLOC_COSTLY_ORDER).  Scores: hog
    # 10 + 3 = 13, k 0.  hog exits: its 10 user pages come off the counter
    # (21 - 10 = 11), its 3 page-table and 4 stack pages go to the stock one
    # by one (7).  The retry takes 5 from the stock: 2 left.
    assert k.kmem_alloc(5) == a
    assert not hog.alive and k.alive
    assert (a.events["max"], a.events["oom"], a.events["oom_kill"]) == (18, 1, 1)
    assert a.memory.usage == 11 and h.stock(0)[0] == (a, 2)
    assert a.stat == stat(kernel=9, kernel_stack=4)
    assert (k.rss, k.stack, k.pagetables) == (0, 4, 0)


def test_oom_kills_the_allocating_task(backend):
    h, a, t = limited(backend, 10)
    # 4 + 7 = 11 > 10: 18 max events, the OOM killer kills t (the only task,
    # score 0); its 4 stack pages go to the stock (the counter stays at 4).
    # The retry cannot use the 4 (7 wanted), 16 more retries and their max
    # events (the drain was done), then passed_oom && task_is_dying: nomem.
    with pytest.raises(pymemcg.KilledError) as exc:
        t.kmem_alloc(7)
    assert exc.value.errno == errno.ESRCH
    assert not t.alive
    assert (a.events["max"], a.events["oom"], a.events["oom_kill"]) == (35, 1, 1)
    assert a.stat == stat() and a.memory.usage == 4 and h.stock(0)[0] == (a, 4)
    h.drain_all()
    assert a.memory.usage == 0


def test_oom_kills_the_allocating_task_and_the_charge_goes_back(backend):
    # NOFAIL: after the kill and the 16 retries, nomem forces the 7 pages;
    # the task never sees the memory, so they go back through the stock,
    # next to the 4 of its stack: 11 (not above the batch of 64).
    h, a, t = limited(backend, 10)
    with pytest.raises(pymemcg.KilledError):
        t.kmem_alloc(7, flags=pymemcg.GFP_KERNEL_ACCOUNT | pymemcg.GFP_NOFAIL)
    assert a.stat == stat() and h.stock(0)[0] == (a, 11)
    assert a.memory.usage == 11  # the forced 7 and the 4 of the stack, all in the stock
    h.drain_all()
    assert a.memory.usage == 0


def test_3_8_oom_kills_the_allocating_task(backend):
    h, a, t = limited(backend, 10, "linux_3_8")
    # GFP_KERNEL has __GFP_FS: 3.8 lets the kmem charge reach the OOM killer,
    # which chooses t; 3.8 bypasses its charge, which memcg_charge_kmem turns
    # into a forced one; the task is dead, so it goes back: nothing stays.
    with pytest.raises(pymemcg.KilledError):
        t.kmem_alloc(9, flags=pymemcg.GFP_KERNEL)
    assert not t.alive
    assert (a.events["oom"], a.events["oom_kill"]) == (1, 1)
    assert (a.memory.usage, a.kmem.usage, a.memsw.usage) == (0, 0, 0)


def test_a_kill_does_not_free_kernel_memory(backend):
    h = make(backend)
    a = h.create("a")
    a.write("memory.max", str(20 * P))
    t = a.fork()  # 4
    assert t.kmem_alloc(15) == a  # 19, owned by nobody
    # The fault's PUD fits (20), its PMD does not: OOM, t (score 1, its PUD)
    # is killed, its stack and PUD go to the stock (5).  The kernel memory stays.
    with pytest.raises(pymemcg.KilledError):
        t.fault(1)
    h.drain_all()
    assert a.memory.usage == 15 and a.stat == stat(kernel=15)
    assert a.events["oom_kill"] == 1
    a.uncharge(15, kmem=True)
    h.drain_all()
    assert a.memory.usage == 0


# ==========================================================================
# after removal
# ==========================================================================


def test_uncharge_after_removal_comes_off_the_nearest_online_ancestor(backend):
    h = make(backend)
    p = h.create("p")
    c = h.create("p/c")
    t = c.fork()  # c: 4 stack pages (a batch of 64, 60 in the stock)
    assert t.kmem_alloc(3) == c
    t.move(p)
    c.remove()  # offline drains c's stock: p and c hold 4 + 3 = 7
    assert p.memory.usage == 7
    # The objcg now points at p: the 3 pages come off p, through the stock.
    # (memory.stat is hierarchical: c's own 7 stay on c, p's local goes -3.)
    c.uncharge(3, kmem=True)
    assert p.stat == stat(kernel=4, kernel_stack=4)
    h.drain_all()
    assert p.memory.usage == 4
    t.exit()  # its stack comes off p too
    h.drain_all()
    assert p.memory.usage == 0 and p.stat == stat()


def test_uncharge_after_removal_on_3_8_keeps_the_cgroup_dying(backend):
    h = make(backend, "linux_3_8")
    p = h.create("p")
    p.write("memory.kmem.limit_in_bytes", "1G")
    c = h.create("p/c")  # activated with its parent (use_hierarchy)
    t = c.fork()  # kmem 2; memory a batch of 32
    assert t.kmem_alloc(3) == c and c.kmem.usage == 5
    t.exit()
    c.remove()  # its 3 kernel pages keep it dying; the stock went back at offline
    assert c.dying and c.kmem.usage == 3 and p.kmem.usage == 3
    c.uncharge(3, kmem=True)  # 3.8: off the dying cgroup's own counters (and up)
    assert p.kmem.usage == 0 and p.memory.usage == 0
    assert not c.online and not c.dying  # freed


# ==========================================================================
# bad input changes nothing
# ==========================================================================


def test_bad_input(backend):
    h = make(backend)
    a = h.create("a")
    t = a.fork()
    before = (a.memory.usage, a.stat, h.stock(0))
    for args, kwargs, err in (
        ((-1,), {}, pymemcg.InvalidError),
        ((pymemcg.PAGE_COUNTER_MAX + 1,), {}, pymemcg.InvalidError),
        ((1.0,), {}, pymemcg.InvalidTypeError),
        ((True,), {}, pymemcg.InvalidTypeError),
        ((1,), {"flags": 0x100}, pymemcg.InvalidError),
        ((1,), {"flags": -1}, pymemcg.InvalidError),
        ((1,), {"flags": True}, pymemcg.InvalidTypeError),
        ((1,), {"cpu": 1}, pymemcg.InvalidError),
        ((1,), {"cpu": -1}, pymemcg.InvalidError),
        ((1,), {"interrupt": None}, pymemcg.InvalidTypeError),
        ((1,), {"accounted_cache": "yes"}, pymemcg.InvalidTypeError),
    ):
        with pytest.raises(err):
            t.kmem_alloc(*args, **kwargs)
    assert (a.memory.usage, a.stat, h.stock(0)) == before
    t.exit()
    with pytest.raises(pymemcg.StaleHandleError):
        t.kmem_alloc(1)


def test_a_reclaim_hook_exception_propagates_and_nothing_stays(backend):
    class Boom(Exception):
        pass

    def hook(cg, nr_pages):
        raise Boom

    h = make(backend)
    a = h.create("a")
    a.write("memory.max", str(10 * P))
    t = a.fork()  # 4, at the exact size
    h.reclaim = hook
    with pytest.raises(Boom):
        t.kmem_alloc(7)  # 4 + 7 > 10: the first reclaim raises
    assert t.alive and a.memory.usage == 4 and a.stat == stat(kernel=4, kernel_stack=4)


def test_memory_high_throttles_the_allocating_task(backend):
    h = make(backend)
    a = h.create("a")
    t = a.fork()
    h.drain_all()  # 4
    a.write("memory.high", str(10 * P))
    # A batch of 64: 68 > high 10, 64 pending.  mem_cgroup_handle_over_high:
    # overage (58 << 20) // 10 = 6081740, penalty far above 2 * HZ: 2000
    # jiffies (scaled by 64 / 64); reclaim frees nothing: 1 pass + 16 retries,
    # a high event each, then the task would sleep: its throttle and a's.
    assert t.kmem_alloc(1) == a
    assert a.events["high"] == 17
    assert (t.throttle_jiffies, a.throttle_jiffies) == (2000, 2000)
    # Not accounted: no charge, no memory.high handling.
    assert t.kmem_alloc(1, flags=pymemcg.GFP_KERNEL) is None
    assert t.throttle_jiffies == 2000
