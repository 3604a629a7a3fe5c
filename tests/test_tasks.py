"""Hand-worked tests of tasks, kernel stacks, page tables and the memcg OOM
killer (issue 8, parts 2 and 4).

Every expected number is worked out by hand from the kernel's rules; the
arithmetic is in the comments.  The rules, by kernel function:

* fork: ``alloc_thread_stack_node`` + ``memcg_charge_kernel_stack`` (current
  kernels: THREAD_SIZE 16 KiB = 4 pages, charged page by page with GFP_KERNEL,
  the pages charged so far given back when one is refused); 3.8:
  ``alloc_thread_info_node`` with ``__GFP_KMEMCG``, one order-1 (2-page)
  allocation through ``memcg_kmem_newpage_charge``.
* faults: ``__pte_alloc`` / ``__pmd_alloc`` / ``__pud_alloc`` with
  GFP_PGTABLE_USER (= GFP_KERNEL | __GFP_ACCOUNT since 4.8 on x86), then the
  page with ``mem_cgroup_charge``; x86-64 tables of 512 entries.
* the OOM killer: ``mem_cgroup_oom`` (skipped above PAGE_ALLOC_COSTLY_ORDER),
  ``mem_cgroup_out_of_memory`` (no kill when the margin already fits),
  ``select_bad_process`` / ``oom_evaluate_task`` (a tie goes to the later
  task; 3.8's ``>`` kept the first), ``oom_badness`` (rss + page tables +
  adj * totalpages / 1000, totalpages = the cgroup's memory.max; 3.8: rss +
  nr_ptes, at least 1), ``oom_kill_process`` with ``memory.oom.group``.

Each test runs against the C core and the pure-Python oracle.
"""

from __future__ import annotations

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pymemcg
import pymemcg.model

P = 4096  # PAGE_SIZE

# The `backend` fixture (C core and model) comes from conftest.py.


def make(backend, preset: str = "current", **changes):
    return backend.Hierarchy(config=getattr(backend.Config, preset)(**changes))


def limit_file(preset: str) -> str:
    return "memory.max" if preset == "current" else "memory.limit_in_bytes"


def stat(anon=0, kernel=0, kernel_stack=0, pagetables=0, sock=0):
    """memory.stat in bytes, from page counts (no slab objects here)."""
    return {"anon": anon * P, "kernel": kernel * P, "kernel_stack": kernel_stack * P,
            "pagetables": pagetables * P, "sock": sock * P, "slab_reclaimable": 0,
            "slab_unreclaimable": 0}


def squeeze(h, cg, preset):
    """Set the cgroup's limit to its usage with the stocks drained: the
    next page charged must reclaim, then OOM."""
    h.drain_all()
    cg.write(limit_file(preset), str(cg.memory.usage * P))


# ==========================================================================
# fork and exit: the kernel stack
# ==========================================================================


def test_fork_charges_the_stack_and_exit_gives_it_back(backend):
    h = make(backend)
    a = h.create("a")
    t = a.fork()
    assert t.alive and t.cgroup == a and a.tasks == (t,)
    assert (t.stack, t.rss, t.pagetables, t.oom_score_adj) == (4, 0, 0, 0)
    # Four 1-page kmem charges: the first takes a batch of 64 and leaves 63 in
    # the stock, the other three come from it.
    assert a.memory.usage == 64 and h.stock(0)[0] == (a, 60)
    assert a.stat == stat(kernel=4, kernel_stack=4)  # MEMCG_KMEM includes the stack
    h.drain_all()
    assert a.memory.usage == 4
    t.exit()
    assert not t.alive and a.tasks == ()
    assert a.stat == stat()
    # obj_cgroup_uncharge_pages -> refill_stock: the 4 pages wait in the stock.
    assert a.memory.usage == 4 and h.stock(0)[0] == (a, 4)
    h.drain_all()
    assert a.memory.usage == 0
    for use in (lambda: t.rss, lambda: t.fault(1), lambda: t.exit(), lambda: t.move(a)):
        with pytest.raises(pymemcg.StaleHandleError):
            use()


def test_exit_gives_the_stack_back_page_by_page(backend):
    # exit_task_stack_account: a memcg_kmem_uncharge_page (a refill_stock)
    # for each of the 4 pages.  With CPU 0's stock at 62 pages: 63, 64, 65 ->
    # drained (above the batch of 64) to 0, then 1.  One 4-page refill would
    # have drained it to 0.
    h = make(backend, ncpus=2)
    a = h.create("a")
    t = a.fork(cpu=0)  # a batch of 64 on CPU 0, 60 left in its stock
    assert a.try_charge(2, cpu=1, kmem=True) is None  # a batch on CPU 1
    a.uncharge(2, cpu=0, kmem=True)  # through CPU 0's stock: 62
    assert h.stock(0)[0] == (a, 62) and a.memory.usage == 128
    t.exit(cpu=0)
    assert h.stock(0)[0] == (a, 1) and a.memory.usage == 128 - 65
    h.drain_all()
    assert a.memory.usage == 0


def test_fork_3_8_charges_nothing_until_kmem_is_activated(backend):
    h = make(backend, "linux_3_8")
    a = h.create("a")
    t = a.fork()
    assert t.stack == 0 and a.memory.usage == 0 and a.kmem.usage == 0
    with pytest.raises(pymemcg.BusyError):  # a task: the first kmem-limit write fails
        a.write("memory.kmem.limit_in_bytes", "1M")
    t.exit()
    a.write("memory.kmem.limit_in_bytes", "1M")
    t = a.fork()
    # One order-1 allocation: kmem first (2 pages), then memory with 3.8's batch of 32.
    assert t.stack == 2 and a.kmem.usage == 2 and a.memory.usage == 32
    assert a.stat_local == stat(kernel=2, kernel_stack=2)


def test_fork_bomb_3_8_is_capped_by_the_kmem_limit(backend):
    h = make(backend, "linux_3_8")
    bomb, sibling = h.create("bomb"), h.create("sibling")
    bomb.write("memory.limit_in_bytes", "100M")
    bomb.write("memory.kmem.limit_in_bytes", str(20 * P))  # activates kmem accounting
    tasks = []
    with pytest.raises(pymemcg.ForkError) as exc:
        while True:
            tasks.append(bomb.fork())
    assert exc.value.errno == errno.ENOMEM and isinstance(exc.value, pymemcg.ChargeError)
    # 20 pages / 2 per stack = 10 tasks; the 11th is refused by the kmem
    # counter (charged first in 3.8): failcnt 1, no reclaim, no OOM.
    assert len(tasks) == 10 and len(bomb.tasks) == 10
    assert (bomb.kmem.usage, bomb.kmem.failcnt) == (20, 1)
    assert bomb.events["max"] == 0 and bomb.events["oom"] == 0
    assert bomb.memory.usage == 32  # one batch of 32 from the first stack; the refusal took none
    # The sibling is untouched and keeps charging.
    assert sibling.try_charge(1000) is None and sibling.memory.usage == 1000
    for t in tasks:
        t.exit()
    h.drain_all()
    assert (bomb.kmem.usage, bomb.memory.usage, bomb.stat_local) == (0, 0, stat())


def test_fork_refused_half_way_gives_back_the_pages_it_charged(backend):
    # A "what if": current v1 with the kmem limit enforced (4.x-5.15 rules):
    # the stack is charged page by page, memory first then the kmem counter.
    h = make(backend, "current_v1", kmem_limit="enforced", failcnt="all")
    a = h.create("a")
    a.write("memory.kmem.limit_in_bytes", str(6 * P))
    t = a.fork()  # kmem 4
    with pytest.raises(pymemcg.ForkError):
        a.fork()  # pages 5 and 6 fit, the 7th is refused: 5 and 6 are given back
    assert (a.kmem.usage, a.kmem.failcnt, a.memory.failcnt) == (4, 1, 0)
    assert a.stat == stat(kernel=4, kernel_stack=4) and a.tasks == (t,)
    assert a.events["max"] == 0 and a.events["oom"] == 0  # a kmem-limit failure: no reclaim
    h.drain_all()
    assert a.memory.usage == 4


def test_fork_refused_as_one_allocation_in_3_8(backend):
    h = make(backend, "linux_3_8")
    a = h.create("a")
    a.write("memory.kmem.limit_in_bytes", str(3 * P))
    a.fork()  # 2 pages
    with pytest.raises(pymemcg.ForkError):
        a.fork()  # 2 more do not fit in 3: all or nothing
    assert (a.kmem.usage, a.kmem.failcnt) == (2, 1)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 40), forks=st.integers(0, 60), sibling=st.integers(1, 200))
def test_fork_bomb_property(k, forks, sibling):
    """With a kmem limit of K pages below the memory limit, live tasks never
    exceed K / stack pages, and a sibling's charges keep succeeding (both
    backends, the same answers)."""
    results = []
    for backend in (pymemcg, pymemcg.model):
        h = make(backend, "linux_3_8")
        bomb, sib = h.create("bomb"), h.create("sib")
        bomb.write("memory.limit_in_bytes", str(1000 * P))
        bomb.write("memory.kmem.limit_in_bytes", str(k * P))
        refused = 0
        for _ in range(forks):
            try:
                bomb.fork()
            except pymemcg.ForkError:
                refused += 1
            assert len(bomb.tasks) <= k // 2
            assert sib.try_charge(sibling) is None
        assert len(bomb.tasks) == min(forks, k // 2)
        assert bomb.kmem.failcnt == refused
        results.append((len(bomb.tasks), bomb.kmem.usage, sib.memory.usage))
    assert results[0] == results[1]


# ==========================================================================
# faults, page tables, unmap, move
# ==========================================================================


def test_page_tables_dense(backend):
    h = make(backend)
    a = h.create("a")
    t = a.fork()
    t.fault(1)  # one PTE, one PMD, one PUD page, then the page
    assert (t.rss, t.pagetables) == (1, 3)
    assert a.stat == stat(anon=1, kernel=4 + 3, kernel_stack=4, pagetables=3)
    t.fault(511)  # 512 pages: still one PTE page
    assert (t.rss, t.pagetables) == (512, 3)
    t.fault(1)  # the 513th needs a second PTE page
    assert (t.rss, t.pagetables) == (513, 4)
    t.unmap(513)  # the tables stay until exit
    assert (t.rss, t.pagetables) == (0, 4) and a.stat == stat(kernel=8, kernel_stack=4, pagetables=4)
    t.fault(513)  # under the high-water mark: no new tables
    assert t.pagetables == 4
    t.exit()
    assert a.stat == stat()
    h.drain_all()
    assert a.memory.usage == 0


def test_page_tables_installed_top_down_and_kept_on_a_refusal(backend):
    h = make(backend)
    a = h.create("a")
    a.write("memory.max", str(6 * P))
    t = a.fork(oom_score_adj=-1000)  # 4 pages, each charged exactly
    # The walk allocates the PUD page (5), the PMD page (6), then the PTE page
    # (7 > 6): reclaim, OOM with no victim, refused.  The two upper levels
    # stay installed, and charged.
    with pytest.raises(pymemcg.ChargeError) as exc:
        t.fault(1)
    assert exc.value.faulted == 0 and t.alive
    assert (t.rss, t.pagetables) == (0, 2) and a.memory.usage == 6
    assert a.stat == stat(kernel=6, kernel_stack=4, pagetables=2)
    assert (a.events["oom"], a.events["oom_kill"]) == (1, 0)
    a.write("memory.max", str(8 * P))
    t.fault(1)  # the PTE page (7), then the page (8)
    assert (t.rss, t.pagetables, a.memory.usage) == (1, 3, 8)


def test_page_tables_sparse(backend):
    h = make(backend)
    a = h.create("a")
    t = a.fork(sparse=True)
    t.fault(3)  # each page in its own 2 MiB region: 3 PTE pages, 1 PMD, 1 PUD
    assert (t.rss, t.pagetables) == (3, 5)
    assert a.stat == stat(anon=3, kernel=4 + 5, kernel_stack=4, pagetables=5)
    t.fault(512 * 512 - 3)  # 262,144 PTE pages fill 512 PMD pages' worth: 512 PMD, 1 PUD
    assert t.pagetables == 512 * 512 + 512 + 1
    assert a.stat["pagetables"] == (512 * 512 + 512 + 1) * P


def test_page_tables_3_8_are_not_accounted(backend):
    h = make(backend, "linux_3_8")
    a = h.create("a")
    a.write("memory.kmem.limit_in_bytes", "1G")
    t = a.fork()
    t.fault(600)  # 2 PTE + 1 PMD + 1 PUD, not charged (x86 accounts them from 4.8)
    assert (t.rss, t.pagetables, t.stack) == (600, 4, 2)
    assert a.stat_local == stat(anon=600, kernel=2, kernel_stack=2)
    assert a.kmem.usage == 2


def test_move_leaves_charges_behind_and_unmap_takes_the_newest(backend):
    h = make(backend)
    a, b = h.create("a"), h.create("b")
    t = a.fork()
    t.fault(10)
    t.move(b)
    assert t.cgroup == b and a.tasks == () and b.tasks == (t,)
    t.fault(5)  # charged to b; the tables for 15 pages already exist
    assert a.stat_local == stat(anon=10, kernel=7, kernel_stack=4, pagetables=3)
    assert b.stat_local == stat(anon=5)
    t.unmap(12)  # b's 5, then 7 of a's 10
    assert (a.stat_local["anon"], b.stat_local["anon"], t.rss) == (3 * P, 0, 3)
    t.exit()
    assert a.stat_local == stat() and b.stat_local == stat()
    h.drain_all()
    assert a.memory.usage == b.memory.usage == 0


def test_tasks_listing_order_and_move_to_the_tail(backend):
    h = make(backend)
    a, b = h.create("a"), h.create("b")
    t1, t2, t3 = a.fork(), a.fork(), b.fork()
    assert a.tasks == (t1, t2)
    t1.move(b)
    assert a.tasks == (t2,) and b.tasks == (t3, t1)


def test_root_tasks_charge_nothing(backend):
    h = make(backend)
    t = h.root.fork()
    t.fault(600)
    assert (t.rss, t.pagetables, t.stack) == (600, 4, 0)
    assert h.root.memory.usage == 0
    t.unmap(100)
    assert t.rss == 500
    t.exit()


def test_task_keeps_its_cgroup_busy(backend):
    h = make(backend)
    a = h.create("a")
    t = a.fork()
    with pytest.raises(pymemcg.BusyError):
        a.remove()
    t.exit()
    a.remove()


def test_user_pages_keep_a_removed_cgroup_dying_current(backend):
    h = make(backend)
    p = h.create("p")
    a = p.create("a")
    t = a.fork()
    t.fault(10)
    t.move(p)
    a.remove()
    # The stack and the page tables went to p with a's objcg; the 10 user
    # pages still point at a, which stays dying until they are unmapped.
    assert p.nr_dying_descendants == 1 and a.dying
    t.unmap(10)
    assert p.nr_dying_descendants == 0
    t.exit()
    h.drain_all()
    assert p.memory.usage == 0 and p.stat == stat()


def test_user_pages_move_to_the_parent_at_offline_3_8(backend):
    h = make(backend, "linux_3_8")
    p = h.create("p")
    a = p.create("a")
    t = a.fork()
    t.fault(10)
    t.move(p)
    a.remove()  # mem_cgroup_reparent_charges: a's 10 pages now p's
    assert p.nr_dying_descendants == 0
    assert p.stat_local["anon"] == 10 * P
    t.unmap(4)
    h.drain_all()
    assert p.stat_local["anon"] == 6 * P and p.memory.usage == 6
    t.exit()
    assert p.memory.usage == 0


# ==========================================================================
# the OOM killer
# ==========================================================================


def test_fork_at_memory_max_runs_the_oom_killer(backend):
    h = make(backend)
    a = h.create("a")
    a.write("memory.max", str(20 * P))
    t1 = a.fork()
    t1.fault(10)  # 4 + 3 + 10 = 17 pages, each charged exactly (a batch of 64 never fits)
    assert a.memory.usage == 17
    t2 = a.fork()  # pages 18, 19, 20; the 21st: reclaim (nothing), OOM
    # MAX once for each pass of try_charge_memcg: the first (then the drain),
    # 16 retries, and the last before OOM: 18.  The victim is t1 (score
    # 10 + 3 = 13 against t2's 0); its user pages come off the counter, its
    # 7 kernel pages go to the stock, which serves the retried page.
    assert not t1.alive and t2.alive and a.tasks == (t2,)
    assert a.events == {"low": 0, "high": 0, "max": 18, "oom": 1, "oom_kill": 1,
                        "oom_group_kill": 0}
    assert a.memory.usage == 10 and h.stock(0)[0] == (a, 6)
    h.drain_all()
    assert a.memory.usage == 4 and a.stat == stat(kernel=4, kernel_stack=4)


@pytest.mark.parametrize("preset", ["current", "current_v1", "linux_3_8"])
def test_oom_tie(backend, preset):
    h = make(backend, preset)
    a = h.create("a")
    t1, t2 = a.fork(), a.fork()
    t1.fault(100)
    t2.fault(100)
    squeeze(h, a, preset)
    assert a.try_charge(1) is None  # one kill, then the retry fits
    # Equal scores (100 + 3 tables; 3.8: 100 + 1 PTE page): oom_evaluate_task
    # skips only lower scores, so the later task wins; 3.8 kept the first.
    survivor, victim = (t2, t1) if preset == "linux_3_8" else (t1, t2)
    assert survivor.alive and not victim.alive
    assert (a.events["oom"], a.events["oom_kill"]) == (1, 1)


@pytest.mark.parametrize("preset", ["current", "linux_3_8"])
@pytest.mark.parametrize("adj", [990, 991, 992])
def test_oom_score_adj_scaled_by_the_limit(backend, preset, adj):
    h = make(backend, preset)
    a = h.create("a")
    t1, t2 = a.fork(), a.fork(oom_score_adj=adj)
    t1.fault(1000)
    t2.fault(10)
    squeeze(h, a, preset)
    # current: usage 4 + 1004 + 4 + 13 = 1025 = totalpages, so adj counts
    # adj * (1025 // 1000) = adj: t1 scores 1000 + 2 PTE + 1 PMD + 1 PUD = 1004,
    # t2 13 + adj.  990 -> 1003 (t1 dies), 991 -> 1004 (tie: the later, t2),
    # 992 -> 1005 (t2).
    # 3.8: usage 1010 (stacks and tables not charged); t1 1000 + 2 PTE = 1002,
    # t2 10 + 1 + adj.  990 -> 1001 (t1), 991 -> 1002 (tie: the first, t1),
    # 992 -> 1003 (t2).
    assert a.memory.usage == (1025 if preset == "current" else 1010)
    t2_dies = adj >= (991 if preset == "current" else 992)
    assert a.try_charge(1) is None
    assert (t1.alive, t2.alive) == (t2_dies, not t2_dies)


@pytest.mark.parametrize("preset", ["current", "current_v1", "linux_3_8"])
def test_oom_score_adj_min_is_never_chosen(backend, preset):
    h = make(backend, preset)
    a = h.create("a")
    t = a.fork(oom_score_adj=-1000)
    t.fault(50)
    small = a.fork()
    small.fault(1)
    squeeze(h, a, preset)
    assert a.try_charge(1) is None  # anyone else goes first, however small
    assert t.alive and not small.alive
    squeeze(h, a, preset)
    assert a.try_charge(1) == a  # no victim left: the charge fails
    assert t.alive and a.events["oom"] == 2 and a.events["oom_kill"] == 1
    # 3.8 would wait for memory forever: pymemcg fails the charge and counts it.
    assert a.oom_livelocks == (1 if preset == "linux_3_8" else 0)


@pytest.mark.parametrize("preset", ["current_v1", "linux_3_8"])
def test_oom_kill_disable(backend, preset):
    # 3.x allows the write only under a parent without use_hierarchy.
    h = make(backend, preset, **({"use_hierarchy": False} if preset == "linux_3_8" else {}))
    a = h.create("a")
    t = a.fork()
    t.fault(50)
    squeeze(h, a, preset)
    a.write("memory.oom_control", "1")
    assert a.try_charge(1) == a  # the kernel would leave it waiting: it fails
    assert t.alive and a.events["oom"] == 1 and a.events["oom_kill"] == 0
    assert a.oom_livelocks == (1 if preset == "linux_3_8" else 0)
    a.write("memory.oom_control", "0")
    assert a.try_charge(1) is None and not t.alive


def test_costly_charges_do_not_oom(backend):
    h = make(backend)
    a = h.create("a")
    t = a.fork()
    t.fault(50)
    squeeze(h, a, "current")
    # mem_cgroup_oom: order 4 (16 pages) > PAGE_ALLOC_COSTLY_ORDER: no OOM, no event.
    assert a.try_charge(16) == a and t.alive and a.events["oom"] == 0
    assert a.try_charge(8) is None and not t.alive  # order 3 may OOM
    assert a.events["oom"] == 1


def test_oom_group_selftest_counts(backend):
    # tools/testing/selftests/cgroup/test_memcontrol.c,
    # test_memcg_oom_group_score_events: memory.max 50M, oom.group 1; a 1M task
    # with oom_score_adj -1000, another 1M task, then one that allocates 100M.
    h = make(backend)
    m = h.create("memcg_test_0")
    m.write("memory.max", "50M")
    m.write("memory.oom.group", "1")
    safe = m.fork(oom_score_adj=-1000)
    safe.fault(256)
    other = m.fork()
    other.fault(256)
    hog = m.fork()
    with pytest.raises(pymemcg.KilledError) as exc:
        hog.fault(25600)
    assert exc.value.errno == errno.ESRCH
    # 12,800 pages = 3 stacks (12) + safe's and other's 256 + 3 tables each
    # (518) + the hog's pages and tables: 12,270 = n + 24 PTE (n/512) + PMD + PUD
    # gives n = 12,244 pages mapped before the charge that OOMs.
    assert exc.value.faulted == 12244
    # The victim (the hog) counts once as the victim and once more as a group
    # member; `other` once: oom_kill 3 (the selftest asserts exactly 3).
    assert m.events["oom_kill"] == 3 and m.events["oom_group_kill"] == 1
    assert m.events["oom"] == 1
    assert safe.alive and not other.alive and not hog.alive and m.tasks == (safe,)
    h.drain_all()
    assert m.memory.usage == 4 + 3 + 256


def test_oom_group_counted_on_the_group_and_its_ancestors(backend):
    # test_memcg_oom_group_parent_events: oom.group on the parent, tasks in
    # the child; all are killed, events hierarchical on v2.
    h = make(backend)
    parent = h.create("parent")
    child = parent.create("child")
    parent.write("memory.max", "80M")
    parent.write("memory.oom.group", "1")
    big = parent.fork()
    big.fault(15360)  # 60M
    c1, c2 = child.fork(), child.fork()
    c1.fault(256)
    c2.fault(256)
    hog = child.fork()
    with pytest.raises(pymemcg.KilledError):
        hog.fault(25600)
    assert parent.tasks == () and child.tasks == ()
    assert parent.events_local["oom_group_kill"] == 1 and child.events_local["oom_group_kill"] == 0
    # big is the victim (its 15,360 pages outscore the hog's): 1, then the
    # group: big again, c1, c2, hog: 4 kills on two cgroups.
    assert parent.events_local["oom_kill"] == 2 and child.events_local["oom_kill"] == 3
    # memcg_memory_event propagates up to, not into, the root.
    assert parent.events["oom_kill"] == 5 and h.root.events["oom_kill"] == 0


def test_a_cgroup_full_of_kernel_memory_kills_in_vain(backend):
    h = make(backend)
    a = h.create("a")
    a.write("memory.max", str(100 * P))
    assert a.try_charge(95, kmem=True) is None  # kernel memory that belongs to no task
    t = a.fork()  # 99 pages
    with pytest.raises(pymemcg.KilledError) as exc:
        t.fault(1)  # its 3 page-table pages do not fit: OOM, and the only task is t
    assert exc.value.faulted == 0 and not t.alive
    assert (a.events["oom"], a.events["oom_kill"]) == (1, 1)
    # The kill freed the task's stack, not the 95 pages: they never entered a
    # score, and the next OOM finds no one to kill.
    h.drain_all()
    assert a.memory.usage == 95 and a.stat == stat(kernel=95)
    assert a.try_charge(8) == a
    assert (a.events["oom"], a.events["oom_kill"]) == (2, 1)


def test_the_oom_killer_kills_the_wrong_task(backend):
    # A task with 1 page mapped in a cgroup full of kernel memory charged by
    # someone else: the task is the only candidate, and dies for it.
    h = make(backend)
    a = h.create("a")
    a.write("memory.max", str(200 * P))
    innocent = a.fork()
    innocent.fault(1)  # 4 + 3 + 1 = 8
    assert a.try_charge(192, kmem=True) is None  # 200
    assert a.try_charge(1, kmem=True) is None  # OOM: innocent killed, its 8 pages free
    assert not innocent.alive and a.events["oom_kill"] == 1
    h.drain_all()
    assert a.memory.usage == 193 and a.stat == stat(kernel=193)


def test_kill_of_the_charging_task_3_8_bypasses_to_the_root(backend):
    h = make(backend, "linux_3_8")
    a = h.create("a")
    t = a.fork()
    t.fault(10)
    squeeze(h, a, "linux_3_8")
    # t itself is chosen: 3.8 lets the charge through to the root (bypass),
    # nothing counted, and the task dies.
    with pytest.raises(pymemcg.KilledError) as exc:
        t.fault(1)
    assert exc.value.faulted == 0 and not t.alive
    assert a.memory.usage == 0 and h.root.memory.usage == 0


# ==========================================================================
# errors
# ==========================================================================


def test_bad_input(backend):
    h = make(backend)
    a = h.create("a")
    for adj in (-1001, 1001):
        with pytest.raises(pymemcg.InvalidError):
            a.fork(oom_score_adj=adj)
    with pytest.raises(pymemcg.InvalidError):
        a.fork(cpu=1)
    with pytest.raises(pymemcg.InvalidTypeError):
        a.fork(sparse="yes")
    t = a.fork()
    t.fault(3)
    with pytest.raises(pymemcg.InvalidError):
        t.unmap(4)
    with pytest.raises(pymemcg.InvalidError):
        t.fault(-1)
    assert t.rss == 3 and a.tasks == (t,)
    other = make(backend).create("x")
    with pytest.raises(pymemcg.MemcgError):
        t.move(other)
    b = h.create("b")
    b.remove()
    with pytest.raises(pymemcg.StaleHandleError):
        t.move(b)
    with pytest.raises(pymemcg.StaleHandleError):
        b.fork()
    assert t.cgroup == a


# ==========================================================================
# A task's pages hold their cgroup; a task ended under its own charge
# ==========================================================================


@pytest.mark.parametrize("preset", ["current", "current_v1", "linux_3_8"])
def test_task_pages_hold_their_cgroup_after_the_callers_uncharges(backend, preset):
    # The kernel's pages hold their memcg (a css reference; 3.8's kmem pages
    # a mem_cgroup_get): a caller whose own uncharges take a cgroup's counts
    # to zero while a task's pages are still charged there does not free it
    # under the task.  The task's exit then uncharges it (an underflow, the
    # caller's doing) and only then is it freed.
    h = make(backend, preset)
    a = h.create("a")
    if preset == "linux_3_8":
        a._activate_kmem()
    t = a.fork()
    t.fault(10)
    # Kernel pages: a 4-page stack and pud + pmd + pte (current kernels);
    # 3.8: an order-1 stack (2 pages), page tables unaccounted (x86: 4.8+).
    kernel = 2 if preset == "linux_3_8" else 4 + 3
    t.move(h.root)
    a.uncharge(10)
    a.uncharge(kernel, kmem=True)
    a.remove()
    # Held by the task's segments: its user pages (3.8 moved those to the
    # root at offline), its kernel pages (3.8; current kernels go through
    # the objcg, whose shell would do).
    assert (a.online, a.dying, a in h) == (False, True, True)
    t.exit()
    h.drain_all()
    assert (a.online, a.dying, a in h) == (False, False, False)
    with pytest.raises(backend.StaleHandleError):
        a.memory
    if preset == "current":
        # v2 statistics are hierarchical: +10 -10 (caller) -10 (exit) anon;
        # +7 -7 (caller) -7 (exit) kernel; the stack and the tables each
        # came off once, with the exit.
        assert h.root.stat == stat(anon=-10, kernel=-7)


def test_a_task_ended_by_a_reclaim_hook_stops_charging(backend):
    # The hook (another thread, in a simulator) ends the task whose fault is
    # reclaiming.  try_charge_memcg: the first pass raises `max` (the batch,
    # then the exact size), reclaim frees nothing, the drain retry raises it
    # again, no retries left: mem_cgroup_oom raises `oom`, and
    # mem_cgroup_out_of_memory kills nothing for a dying task but reports
    # progress; the retry raises `max` a third time and then fails
    # (passed_oom && task_is_dying): no endless loop.
    box = {}

    def hook(cg, nr):
        t = box.get("t")
        if t is not None and t.alive:
            t.exit()
        return 0

    h = backend.Hierarchy(backend.Config.current(reclaim_retries=0), reclaim=hook)
    a = h.create("a")
    a.write("memory.max", str(100 * P))
    assert a.try_charge(100) is None     # user memory no task owns
    t = h.root.fork()
    t.move(a)
    box["t"] = t
    with pytest.raises(backend.ChargeError) as info:
        t.fault(5)
    assert info.value.errno == errno.ENOMEM and not t.alive
    assert a.events == {"low": 0, "high": 0, "max": 3, "oom": 1, "oom_kill": 0, "oom_group_kill": 0}
    assert a.memory.usage == 100


def test_fault_of_zero_pages_is_nothing(backend):
    # The kernel never faults 0 pages; the API takes 0 as a count like any
    # other: nothing happens (the C core once returned ESTALE here).
    h = make(backend)
    t = h.create("a").fork()
    assert t.fault(0) is None and (t.rss, t.pagetables) == (0, 0) and t.alive


def test_3_8_task_pages_moved_to_the_root_come_off_it(backend):
    # 3.8 offline moves the task's user pages to the parent, here the root:
    # only a's counters let go of them, the root's keep them (and its anon
    # statistic gains them).  The task's unmap and exit then uncharge the
    # root, statistic and counters, as __mem_cgroup_uncharge_common() does
    # (the statistics also for the root).
    h = make(backend, "linux_3_8")
    a = h.create("a")
    t = a.fork()                          # kmem not active in a: the stack is not charged
    t.fault(2)                            # a batch of 32: a and the root 32, a's stock 30
    t.move(h.root)
    a.remove()                            # drain 30; the 2 pages go to the root
    assert h.root.stat_local["anon"] == 2 * P and h.root.memory.usage == 2
    t.unmap(1)
    assert h.root.stat_local["anon"] == 1 * P and h.root.memory.usage == 1
    t.exit()
    assert h.root.stat_local["anon"] == 0 and h.root.memory.usage == h.root.memsw.usage == 0


def test_memory_max_write_below_usage_runs_the_oom_killer(backend):
    # v2 memory_max_write(): the new max is installed, the stocks drained,
    # reclaim tried reclaim_retries times (no hook: nothing freed), then
    # memory.events oom and mem_cgroup_out_of_memory(), again and again
    # while it kills someone and the usage is still above the max.
    h = make(backend)
    g = h.create("g")
    t = g.fork()
    t.fault(100)                          # 100 + pud/pmd/pte 3 + stack 4 = 107
    u = g.fork()
    u.fault(10)                           # 10 + 3 + 4 = 17
    h.drain_all()
    assert g.memory.usage == 124
    g.write("memory.max", str(50 * P))    # t scores 103, u 13: t dies
    assert (t.alive, u.alive) == (False, True)
    # t's 100 user pages left the counters; its 7 kernel pages went to CPU
    # 0's stock (obj_cgroup_uncharge_pages -> refill_stock): 17 + 7 <= 50.
    assert (g.events["oom"], g.events["oom_kill"], g.memory.usage) == (1, 1, 24)
    g.write("memory.max", str(10 * P))    # drain: 17 > 10; reclaim, oom: u dies
    assert not u.alive and g.tasks == ()
    # u's 10 user pages off the counters, its 7 kernel pages into the stock.
    assert (g.events["oom"], g.events["oom_kill"], g.memory.usage) == (2, 2, 7)
    h.drain_all()
    assert g.memory.usage == 0 and g.memory.max == 10


def test_memory_max_write_with_no_one_to_kill_stops(backend):
    # Kernel memory no task owns: one oom event, no kill, the max stays
    # installed below the usage (memory_max_write never fails).
    h = make(backend)
    g = h.create("g")
    assert g.try_charge(30, kmem=True) is None
    h.drain_all()
    g.write("memory.max", str(10 * P))
    assert (g.events["oom"], g.events["oom_kill"], g.memory.usage, g.memory.max) == (1, 0, 30, 10)


class _Boom(Exception):
    pass


def _high_hierarchy(backend, config):
    """g with a reclaim hook that raises while ``armed[0]``: a charge that
    goes over memory.high goes through, then its memory.high work (at
    "return to user space") calls the hook, which raises.  Limit writes
    are made disarmed (memory.high's write reclaims too)."""
    armed = [False]

    def hook(cg, n):
        if armed[0]:
            raise _Boom
        return 0

    h = backend.Hierarchy(config=config, reclaim=hook)
    return h, h.create("g"), armed


def test_a_fault_keeps_its_page_when_memory_high_work_raises(backend):
    # current, batch 1 so that usage is exact.
    h, g, armed = _high_hierarchy(backend, backend.Config.current(charge_batch=1))
    g.write("memory.high", "8K")                   # 2 pages: a stack (4) goes over
    armed[0] = True
    with pytest.raises(_Boom):
        g.fork()
    # The fork fails with its whole stack given back: nothing stays (the
    # kernel pages go back through the stock: drained, nothing is charged).
    h.drain_all()
    assert g.memory.usage == 0 and g.stat["kernel"] == 0 and g.tasks == ()
    armed[0] = False
    g.write("memory.high", "max")
    t = g.fork()                                   # 4 stack pages
    g.write("memory.high", "20K")                  # 5 pages: the next charge goes over
    armed[0] = True
    # The fault: its page tables first (PUD, PMD, PTE: one page each; 5 > 5
    # is not over, 6 is).  The PUD page: usage 5, not over memory.high.
    t.fault(0)
    with pytest.raises(_Boom):
        t.fault(1)
    # Over memory.high from the PMD page on: each charge goes through and
    # its memory.high work raises; each table is the task's nonetheless, as
    # the kernel does that work on the way back to user space.
    tables = t.pagetables
    assert g.memory.usage == 4 + tables and g.stat["pagetables"] == tables * 4096
    while t.pagetables < 3:
        with pytest.raises(_Boom):
            t.fault(1)
    assert t.pagetables == 3 and t.rss == 0 and g.memory.usage == 7
    with pytest.raises(_Boom):                     # the page itself: the task's too
        t.fault(1)
    assert t.rss == 1 and g.memory.usage == 8 and g.stat["anon"] == 4096
    t.exit()
    h.drain_all()                                  # kernel pages go back through the stock
    assert g.memory.usage == 0


def test_kmem_alloc_charges_nothing_when_memory_high_work_raises(backend):
    h, g, armed = _high_hierarchy(backend, backend.Config.current(charge_batch=1))
    t = g.fork()
    g.write("memory.high", "4K")                   # 1 page: the stack is over already
    armed[0] = True
    with pytest.raises(_Boom):
        t.kmem_alloc(2)
    h.drain_all()
    assert g.memory.usage == 4 and g.stat["kernel"] == 4 * 4096   # only the stack
