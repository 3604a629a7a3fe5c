"""One hand-worked test per rule of SPEC section 1 (mm/page_counter.c).

Every expected number below is worked out by hand from the kernel's rules
(the arithmetic is in the comments), never computed by calling the model.
Each test runs over both backends through the ``backend`` fixture.
"""

from __future__ import annotations

import errno

import pytest

PCM = 2251799813685247  # LONG_MAX // 4096 = (2**63 - 1) // 2**12 = 2**51 - 1


def fields(c):
    """(usage, watermark, local_watermark, failcnt) of one counter."""
    return (c.usage, c.watermark, c.local_watermark, c.failcnt)


# --------------------------------------------------------------------------
# 1.3 PAGE_COUNTER_MAX, initial state
# --------------------------------------------------------------------------


def test_page_counter_max_value(backend):
    # 9223372036854775807 // 4096 = 2251799813685247 = 2**51 - 1
    assert backend.PAGE_COUNTER_MAX == 2251799813685247
    assert backend.PAGE_SIZE == 4096
    # the v1 "unlimited" byte value: 2251799813685247 * 4096
    assert backend.PAGE_COUNTER_MAX * backend.PAGE_SIZE == 9223372036854771712


def test_new_counter_initial_state(backend):
    root = backend.PageCounter()
    child = backend.PageCounter(root, max=7)
    for c, mx in ((root, PCM), (child, 7)):
        s = c.snapshot()
        assert s == backend.PageCounterState(
            usage=0, max=mx, min=0, low=0, high=PCM, watermark=0, local_watermark=0,
            failcnt=0, emin=0, elow=0, min_usage=0, low_usage=0,
            children_min_usage=0, children_low_usage=0,
        )
    assert root.parent is None and child.parent is root
    assert root.depth == 0 and child.depth == 1
    assert root.track_failcnt is True and root.protection is True


def test_charge_up_to_page_counter_max(backend):
    # default max is PCM; new == max is allowed (new > max refuses)
    root = backend.PageCounter()
    assert root.try_charge(PCM) is None
    assert root.usage == PCM and root.watermark == PCM
    assert root.try_charge(1) is root
    assert root.usage == PCM and root.failcnt == 1


# --------------------------------------------------------------------------
# 1.4 try_charge
# --------------------------------------------------------------------------


def test_try_charge_returns_refusing_ancestor(backend):
    root = backend.PageCounter(max=10)
    mid = backend.PageCounter(root, max=100)
    leaf = backend.PageCounter(mid, max=100)
    # leaf 11 <= 100, mid 11 <= 100, root 11 > 10 -> root refuses
    assert leaf.try_charge(11) is root
    assert (leaf.usage, mid.usage, root.usage) == (0, 0, 0)
    # 10 fits exactly at root
    assert leaf.try_charge(10) is None
    assert (leaf.usage, mid.usage, root.usage) == (10, 10, 10)


def test_try_charge_reports_lowest_failing_level(backend):
    # walk is leaf -> root; the first level with usage + n > max is reported,
    # even when every level above would also refuse
    root = backend.PageCounter(max=5)
    mid = backend.PageCounter(root, max=5)
    leaf = backend.PageCounter(mid, max=5)
    assert leaf.try_charge(6) is leaf         # 6 > 5 already at the leaf
    assert (leaf.failcnt, mid.failcnt, root.failcnt) == (1, 0, 0)
    assert (leaf.usage, mid.usage, root.usage) == (0, 0, 0)


def test_try_charge_lowest_failing_level_mid(backend):
    root = backend.PageCounter(max=5)
    mid = backend.PageCounter(root, max=5)
    leaf = backend.PageCounter(mid)           # max PCM
    # leaf 6 ok; mid 6 > 5 -> mid refuses; root (6 > 5 too) never looked at
    assert leaf.try_charge(6) is mid
    assert (leaf.failcnt, mid.failcnt, root.failcnt) == (0, 1, 0)
    small = backend.PageCounter(mid, max=3)
    # small 4 > 3 refuses at the leaf itself
    assert small.try_charge(4) is small
    assert (small.failcnt, mid.failcnt, root.failcnt) == (1, 1, 0)
    assert (small.usage, leaf.usage, mid.usage, root.usage) == (0, 0, 0, 0)


def test_try_charge_new_equal_max_allowed(backend):
    root = backend.PageCounter(max=10)
    root.charge(4)
    # 4 + 6 = 10, not > 10 -> allowed
    assert root.try_charge(6) is None
    assert root.usage == 10
    # 10 + 1 = 11 > 10 -> refused, usage unchanged
    assert root.try_charge(1) is root
    assert root.usage == 10 and root.failcnt == 1


@pytest.mark.parametrize(
    "leaf_track, root_track, expected_root_failcnt",
    [
        (True, True, 2),    # two failed calls, one increment each
        (True, False, 2),   # the charging leaf's flag rules, not root's
        (False, True, 0),   # leaf says no: root's True is ignored
        (False, False, 0),
    ],
)
def test_failcnt_uses_leaf_flag(backend, leaf_track, root_track, expected_root_failcnt):
    root = backend.PageCounter(max=10, track_failcnt=root_track)
    leaf = backend.PageCounter(root, track_failcnt=leaf_track)
    assert leaf.try_charge(5) is None         # success: no failcnt
    assert leaf.try_charge(6) is root         # 5 + 6 = 11 > 10
    assert leaf.try_charge(100) is root
    assert root.failcnt == expected_root_failcnt
    assert leaf.failcnt == 0                  # the leaf never failed
    assert (leaf.usage, root.usage) == (5, 5)


def test_failed_try_charge_leaves_levels_above_untouched(backend):
    root = backend.PageCounter()
    mid = backend.PageCounter(root, max=10)
    leaf = backend.PageCounter(mid)
    root.charge(20)                           # root usage 20, watermarks 20
    before = root.snapshot()
    # leaf 11 ok, mid 11 > 10 -> fail at mid; root never touched
    assert leaf.try_charge(11) is mid
    assert root.snapshot() == before
    assert root.usage == 20 and root.failcnt == 0


def test_failed_try_charge_rolls_back_below_keeps_watermarks(backend):
    root = backend.PageCounter(max=10)
    mid = backend.PageCounter(root)
    leaf = backend.PageCounter(mid)
    leaf.charge(3)                            # usage 3 / 3 / 3, watermarks 3
    # leaf 3+8=11 (wm 11), mid 11 (wm 11), root 11 > 10 -> fail at root
    assert leaf.try_charge(8) is root
    assert fields(leaf) == (3, 11, 11, 0)     # rolled back to 3, watermark kept
    assert fields(mid) == (3, 11, 11, 0)
    assert fields(root) == (3, 3, 3, 1)       # usage unchanged, failcnt 1


def test_failed_try_charge_rollback_repropagates_protection(backend):
    root = backend.PageCounter(max=20)
    mid = backend.PageCounter(root)
    leaf = backend.PageCounter(mid)
    mid.set_min(100)
    leaf.set_min(10)
    # try_charge(30): leaf new 30 -> leaf.min_usage = min(30,10) = 10, mid.cmu 10;
    # mid new 30 -> mid.min_usage = min(30,100) = 30, root.cmu 30;
    # root 30 > 20 -> fail. cancel(leaf, 30): 0 -> min_usage 0, mid.cmu 0;
    # cancel(mid, 30): 0 -> min_usage 0, root.cmu 0.
    assert leaf.try_charge(30) is root
    assert (leaf.min_usage, mid.children_min_usage) == (0, 0)
    assert (mid.min_usage, root.children_min_usage) == (0, 0)
    assert (leaf.watermark, mid.watermark, root.watermark) == (30, 30, 0)


# --------------------------------------------------------------------------
# 1.5 forced charge
# --------------------------------------------------------------------------


def test_forced_charge_ignores_max(backend):
    root = backend.PageCounter(max=10)
    leaf = backend.PageCounter(root, max=5)
    leaf.charge(12)                           # no limit check: 12 > 5 and 12 > 10
    assert fields(leaf) == (12, 12, 12, 0)    # no failcnt on forced charges
    assert fields(root) == (12, 12, 12, 0)
    assert leaf.max == 5 and root.max == 10
    # now any try_charge fails at the leaf: 12 + 1 = 13 > 5
    assert leaf.try_charge(1) is leaf
    assert leaf.usage == 12 and leaf.failcnt == 1


# --------------------------------------------------------------------------
# 1.6 uncharge and underflow
# --------------------------------------------------------------------------


def test_uncharge_plain(backend):
    root = backend.PageCounter()
    leaf = backend.PageCounter(root)
    leaf.charge(10)
    leaf.uncharge(4)                          # 10 - 4 = 6 at both levels
    assert fields(leaf) == (6, 10, 10, 0)     # watermarks never lowered
    assert fields(root) == (6, 10, 10, 0)


def test_uncharge_underflow_clamps_each_level_independently(backend):
    parent = backend.PageCounter()
    child = backend.PageCounter(parent)
    child.charge(2)                           # child 2, parent 2
    parent.charge(8)                          # parent 10
    with pytest.raises(backend.UnderflowError) as ei:
        child.uncharge(5)
    # child: 2 - 5 < 0 -> clamped to 0; parent: 10 - 5 = 5 (full n)
    assert child.usage == 0
    assert parent.usage == 5
    e = ei.value
    assert isinstance(e, ValueError)
    assert isinstance(e, backend.MemcgError)
    assert len(e.counters) == 1 and e.counters[0] is child
    assert e.nr_pages == 5
    assert (child.watermark, parent.watermark) == (2, 10)


def test_uncharge_underflow_both_levels(backend):
    parent = backend.PageCounter()
    child = backend.PageCounter(parent)
    child.charge(2)
    parent.charge(1)                          # child 2, parent 3
    with pytest.raises(backend.UnderflowError) as ei:
        child.uncharge(5)                     # 2-5 < 0 and 3-5 < 0: both clamp
    assert (child.usage, parent.usage) == (0, 0)
    assert len(ei.value.counters) == 2
    assert ei.value.counters[0] is child and ei.value.counters[1] is parent


def test_uncharge_underflow_parent_only(backend):
    parent = backend.PageCounter()
    child = backend.PageCounter(parent)
    child.charge(5)                           # child 5, parent 5
    parent.uncharge(3)                        # parent 2, child 5 (no underflow)
    with pytest.raises(backend.UnderflowError) as ei:
        child.uncharge(4)                     # child 5-4 = 1; parent 2-4 < 0 -> 0
    assert (child.usage, parent.usage) == (1, 0)
    assert len(ei.value.counters) == 1 and ei.value.counters[0] is parent


# --------------------------------------------------------------------------
# 1.8 set_max
# --------------------------------------------------------------------------


def test_set_max_ebusy_when_usage_above(backend):
    c = backend.PageCounter()
    c.charge(10)
    with pytest.raises(backend.BusyError) as ei:
        c.set_max(9)                          # 10 > 9 -> EBUSY
    assert ei.value.errno == errno.EBUSY
    assert isinstance(ei.value, OSError)
    assert c.max == PCM                       # unchanged
    c.set_max(10)                             # 10 > 10 is false -> allowed
    assert c.max == 10
    with pytest.raises(OSError):
        c.set_max(0)
    assert c.max == 10
    assert c.failcnt == 0


def test_set_max_checks_only_own_usage(backend):
    parent = backend.PageCounter()
    child = backend.PageCounter(parent)
    parent.charge(50)                         # parent 50, child 0
    child.set_max(0)                          # child usage 0 <= 0: parent's 50 irrelevant
    assert child.max == 0
    child.set_max(PCM)
    child.charge(5)                           # child 5, parent 55
    child.set_max(5)
    parent.set_max(55)
    assert (child.max, parent.max) == (5, 55)
    with pytest.raises(backend.BusyError):
        parent.set_max(54)                    # 55 > 54
    with pytest.raises(backend.BusyError):
        child.set_max(4)                      # 5 > 4
    # a root with no charges of its own can be limited whatever a child does
    other = backend.PageCounter(parent)
    other.set_max(0)
    assert other.max == 0


def test_set_max_raising_is_checked_against_usage(backend):
    c = backend.PageCounter(max=5)
    c.charge(12)                              # forced over the limit: usage 12
    with pytest.raises(backend.BusyError):
        c.set_max(8)                          # raising 5 -> 8, but 12 > 8: EBUSY
    assert c.max == 5
    c.set_max(12)                             # 12 > 12 false -> fine
    c.set_max(PCM)                            # raising to the top is always fine
    assert c.max == PCM


# --------------------------------------------------------------------------
# 1.7 propagate_protected_usage, set_min / set_low
# --------------------------------------------------------------------------


@pytest.mark.parametrize("attr", ["min", "low"])
def test_set_protection_propagates(backend, attr):
    other = "low" if attr == "min" else "min"
    p = backend.PageCounter()
    a = backend.PageCounter(p)
    b = backend.PageCounter(p)

    def setp(c, n):
        getattr(c, f"set_{attr}")(n)

    def prot(c):
        return getattr(c, f"{attr}_usage")

    def kids(c):
        return getattr(c, f"children_{attr}_usage")

    a.charge(30)
    b.charge(10)
    assert (prot(a), prot(b), kids(p)) == (0, 0, 0)     # settings 0: min(u, 0) = 0
    setp(a, 20)                   # a: min(30, 20) = 20; p: 0 + 20 = 20
    assert getattr(a, attr) == 20
    assert (prot(a), kids(p)) == (20, 20)
    setp(b, 50)                   # b: min(10, 50) = 10; p: 20 + 10 = 30
    assert (prot(b), kids(p)) == (10, 30)
    b.charge(60)                  # b usage 70: min(70, 50) = 50; p: 20 + 50 = 70
    assert (prot(b), kids(p)) == (50, 70)
    a.uncharge(25)                # a usage 5: min(5, 20) = 5; p: 5 + 50 = 55
    assert (prot(a), kids(p)) == (5, 55)
    setp(a, 0)                    # a: 0; p: 0 + 50 = 50
    assert (prot(a), kids(p)) == (0, 50)
    setp(p, 100)                  # root: stored, but no propagation for the root
    assert getattr(p, attr) == 100
    assert prot(p) == 0
    assert p.usage == 75          # 5 + 70
    # the other kind of protection never moved
    for c in (p, a, b):
        assert getattr(c, f"{other}_usage") == 0
        assert getattr(c, f"children_{other}_usage") == 0


def test_charge_propagates_at_every_level(backend):
    g = backend.PageCounter()
    p = backend.PageCounter(g)
    leaf = backend.PageCounter(p)
    p.set_min(40)
    leaf.set_min(10)
    leaf.charge(25)
    # leaf: min(25, 10) = 10 -> p.cmu 10; p: min(25, 40) = 25 -> g.cmu 25
    assert (leaf.min_usage, p.children_min_usage) == (10, 10)
    assert (p.min_usage, g.children_min_usage) == (25, 25)
    p.charge(30)
    # p usage 55: min(55, 40) = 40 -> g.cmu 40; leaf untouched
    assert (p.min_usage, g.children_min_usage) == (40, 40)
    assert (leaf.min_usage, p.children_min_usage) == (10, 10)
    assert g.min_usage == 0


def test_protection_false_leaf(backend):
    # root(prot) -> p(prot, min 100) -> leaf(protection=False, min 10)
    r = backend.PageCounter()
    p = backend.PageCounter(r)
    leaf = backend.PageCounter(p, protection=False)
    assert leaf.protection is False
    p.set_min(100)                # p usage 0: min_usage 0
    leaf.set_min(10)
    leaf.charge(30)
    # charge uses the leaf's flag (False) at EVERY level: nothing propagates
    assert (leaf.usage, p.usage, r.usage) == (30, 30, 30)
    assert (leaf.min_usage, p.children_min_usage) == (0, 0)
    assert (p.min_usage, r.children_min_usage) == (0, 0)
    # set_min walks from the leaf to the root unconditionally:
    # leaf: min(30, 10) = 10 -> p.cmu 10; p: min(30, 100) = 30 -> r.cmu 30
    leaf.set_min(10)
    assert (leaf.min_usage, p.children_min_usage) == (10, 10)
    assert (p.min_usage, r.children_min_usage) == (30, 30)
    # try_charge likewise does not propagate: p would be min(31, 100) = 31
    assert leaf.try_charge(1) is None
    assert (leaf.usage, p.usage) == (31, 31)
    assert (p.min_usage, r.children_min_usage) == (30, 30)
    # uncharge: cancel uses each level's OWN flag
    leaf.uncharge(26)
    # leaf (False): usage 5, min_usage stays 10 (stale; would be 5), p.cmu stays 10
    # p (True): usage 5, min_usage min(5, 100) = 5, r.cmu 5
    assert (leaf.usage, p.usage, r.usage) == (5, 5, 5)
    assert (leaf.min_usage, p.children_min_usage) == (10, 10)
    assert (p.min_usage, r.children_min_usage) == (5, 5)
    # set_low on the leaf walks up too and re-syncs leaf's min_usage: min(5, 10) = 5
    leaf.set_low(0)
    assert (leaf.min_usage, p.children_min_usage) == (5, 5)


def test_protection_true_leaf_under_protection_false_parent(backend):
    r = backend.PageCounter()
    p = backend.PageCounter(r, protection=False)
    leaf = backend.PageCounter(p)
    p.set_min(100)
    leaf.set_min(10)
    leaf.charge(30)
    # leaf flag True -> propagate at every level, p's own False ignored:
    # leaf min(30,10)=10 -> p.cmu 10; p min(30,100)=30 -> r.cmu 30
    assert (leaf.min_usage, p.children_min_usage) == (10, 10)
    assert (p.min_usage, r.children_min_usage) == (30, 30)
    leaf.uncharge(25)
    # leaf (True): min(5,10)=5 -> p.cmu 5; p (False): stays 30, r.cmu stays 30
    assert (leaf.min_usage, p.children_min_usage) == (5, 5)
    assert (p.min_usage, r.children_min_usage) == (30, 30)


# --------------------------------------------------------------------------
# set_high, watermarks
# --------------------------------------------------------------------------


def test_set_high_is_stored_only(backend):
    c = backend.PageCounter(max=100)
    assert c.high == PCM
    c.set_high(5)
    assert c.high == 5
    # try_charge ignores high: 10 > high 5 but 10 <= max 100
    assert c.try_charge(10) is None
    assert c.usage == 10 and c.failcnt == 0
    c.set_high(0)
    assert c.high == 0 and c.max == 100 and c.usage == 10


def test_reset_watermark_sets_to_usage(backend):
    p = backend.PageCounter()
    c = backend.PageCounter(p)
    c.charge(10)
    c.uncharge(7)                 # usage 3, watermarks 10
    assert fields(c) == (3, 10, 10, 0)
    c.reset_watermark()
    assert fields(c) == (3, 3, 3, 0)          # usage, not 0
    assert fields(p) == (3, 10, 10, 0)        # parent not touched


def test_reset_watermark_zero_usage(backend):
    c = backend.PageCounter()
    c.charge(10)
    c.uncharge(10)
    c.reset_watermark()
    assert (c.watermark, c.local_watermark) == (0, 0)


def test_local_watermark_two_level_update(backend):
    c = backend.PageCounter()
    c.charge(10)
    c.uncharge(7)                 # usage 3, wm 10, local 10
    c.reset_watermark()           # wm 3, local 3
    c.charge(5)                   # usage 8 > local 3 -> local 8; 8 > wm 3 -> wm 8
    assert fields(c) == (8, 8, 8, 0)
    c.uncharge(6)                 # usage 2
    c.reset_local_watermark()     # local 2, wm stays 8
    assert fields(c) == (2, 8, 2, 0)
    c.charge(3)                   # usage 5 > local 2 -> local 5; 5 > wm 8? no
    assert fields(c) == (5, 8, 5, 0)
    c.charge(4)                   # usage 9 > local 5 -> local 9; 9 > 8 -> wm 9
    assert fields(c) == (9, 9, 9, 0)


def test_local_watermark_on_ancestors(backend):
    r = backend.PageCounter()
    leaf = backend.PageCounter(r)
    leaf.charge(6)
    leaf.uncharge(4)              # 2 / 2, watermarks 6
    r.reset_local_watermark()     # r local 2
    leaf.charge(1)                # 3: r local 3, wm 6; leaf local 6 (3 < 6)
    assert fields(r) == (3, 6, 3, 0)
    assert fields(leaf) == (3, 6, 6, 0)


# --------------------------------------------------------------------------
# 1.10 calculate_protection
# --------------------------------------------------------------------------


def test_protection_target_first_level_and_stale(backend):
    r = backend.PageCounter()
    a = backend.PageCounter(r)
    b = backend.PageCounter(a)
    a.set_min(30)
    a.set_low(40)
    b.set_min(10)
    b.charge(10)                  # b 10, a 10, r 10
    r.set_min(7)
    r.calculate_protection(r)     # the target itself: nothing computed
    assert (r.emin, r.elow) == (0, 0)
    a.calculate_protection(r)     # parent is root: raw settings, not clamped to usage 10
    assert (a.emin, a.elow) == (30, 40)
    b.calculate_protection(r)
    # b: protected min(10, 10) = 10; a.cmu = 10 <= a.emin 30 -> 10
    # low: protected min(10, 0) = 0 -> 0
    assert (b.emin, b.elow) == (10, 0)
    # a as the target: its own e-values stay as they were (30), though min is now 5
    a.set_min(5)
    a.calculate_protection(a)
    assert (a.emin, a.elow) == (30, 40)
    # usage 0: values stay stale
    b.uncharge(10)                # b 0, a 0, r 0
    b.set_min(3)
    a.calculate_protection(r)     # usage 0 -> stays 30 (raw would be 5)
    b.calculate_protection(r)     # usage 0 -> stays 10
    assert (a.emin, a.elow) == (30, 40)
    assert (b.emin, b.elow) == (10, 0)


@pytest.mark.parametrize("recursive", [False, True])
def test_protection_overcommitted_proportional(backend, recursive):
    r = backend.PageCounter()
    p = backend.PageCounter(r)
    x = backend.PageCounter(p)
    y = backend.PageCounter(p)
    p.set_min(10)
    p.set_low(12)
    x.set_min(9)
    x.set_low(20)
    y.set_min(4)
    y.set_low(2)
    x.charge(20)
    y.charge(4)                   # p usage 24
    # p.cmu = min(20,9) + min(4,4) = 13 ; p.clu = min(20,20) + min(4,2) = 22
    assert (p.children_min_usage, p.children_low_usage) == (13, 22)
    for c in (p, x, y):
        c.calculate_protection(r, recursive)
    assert (p.emin, p.elow) == (10, 12)       # first level: raw
    # overcommitted (13 > 10, 22 > 12): protected * parent_eff // siblings
    # x.emin = 9*10 // 13 = 90 // 13 = 6   (divide first: 9*(10//13) = 0)
    # x.elow = 20*12 // 22 = 240 // 22 = 10 (divide first: 0)
    # y.emin = 4*10 // 13 = 40 // 13 = 3 ;  y.elow = 2*12 // 22 = 24 // 22 = 1
    assert (x.emin, x.elow) == (6, 10)
    assert (y.emin, y.elow) == (3, 1)


def test_protection_overcommitted_product_wraps(backend):
    # unsigned long arithmetic: protected * parent_effective wraps mod 2**64
    k = 2**33
    r = backend.PageCounter()
    p = backend.PageCounter(r)
    x = backend.PageCounter(p)
    y = backend.PageCounter(p)
    p.set_min(k)
    x.set_min(k + 3)
    y.set_min(k)
    x.charge(k + 3)
    y.charge(k)
    for c in (p, x, y):
        c.calculate_protection(r)
    assert p.emin == k
    # siblings = 2k + 3 > k. x: (k+3)*k = 2**66 + 3*2**33 -> mod 2**64 = 3*2**33;
    # 3*2**33 // (2**34 + 3) = 1   (without the wrap it would be about 2**32)
    assert x.emin == 1
    # y: k*k = 2**66 -> mod 2**64 = 0 -> 0
    assert y.emin == 0


@pytest.mark.parametrize("attr", ["min", "low"])
@pytest.mark.parametrize("recursive", [False, True])
def test_protection_recursive_floats_unclaimed(backend, attr, recursive):
    r = backend.PageCounter()
    p = backend.PageCounter(r)
    x = backend.PageCounter(p)
    y = backend.PageCounter(p)
    z = backend.PageCounter(p)
    w = backend.PageCounter(x)
    for c, n in ((p, 100), (x, 20), (y, 0), (z, 10), (w, 0)):
        getattr(c, f"set_{attr}")(n)
    w.charge(40)
    x.charge(10)                  # x usage 50 (40 from w)
    y.charge(25)
    z.charge(5)
    p.charge(10)                  # p usage 50 + 25 + 5 + 10 = 90
    assert p.usage == 90
    # siblings under p: min(50,20) + min(25,0) + min(5,10) = 20 + 0 + 5 = 25
    assert getattr(p, f"children_{attr}_usage") == 25
    for c in (p, x, y, z, w):     # top-down
        c.calculate_protection(r, recursive)
    e = lambda c: getattr(c, f"e{attr}")  # noqa: E731
    other = lambda c: getattr(c, "elow" if attr == "min" else "emin")  # noqa: E731
    assert e(p) == 100
    if recursive:
        # unclaimed = 100 - 25 = 75, spread by unprotected usage over 90 - 25 = 65
        # x: 20 + 75*(50-20)//65 = 20 + 2250//65 = 20 + 34 = 54  (divide first: 75//65*30 = 30)
        # y: 0 + 75*(25-0)//65 = 1875//65 = 28
        # z: usage 5 == protected 5 -> no share -> 5
        # w (under x: x.e = 54, x.children = 0, x usage 50):
        #    0 + (54-0)*(40-0)//(50-0) = 2160//50 = 43  (divide first: 54//50*40 = 40)
        assert (e(x), e(y), e(z), e(w)) == (54, 28, 5, 43)
    else:
        # each child gets min(usage, setting); nothing floats
        assert (e(x), e(y), e(z), e(w)) == (20, 0, 5, 0)
    # the other protection kind is all zero settings -> zero everywhere
    assert [other(c) for c in (p, x, y, z, w)] == [0, 0, 0, 0, 0]


MIB = 256  # pages per MiB (1 MiB / 4 KiB)


@pytest.mark.parametrize("attr", ["min", "low"])
@pytest.mark.parametrize("recursive", [False, True])
def test_selftest_memcg_protection_setup(backend, attr, recursive):
    """SPEC 8.2 (tools/testing/selftests/cgroup test_memcg_min/low) in pages."""
    top = backend.PageCounter()
    a = backend.PageCounter(top, max=200 * MIB)      # 51200 pages
    b = backend.PageCounter(a)
    g = backend.PageCounter(a)
    c = backend.PageCounter(b)
    d = backend.PageCounter(b)
    e_ = backend.PageCounter(b)
    f = backend.PageCounter(b)
    setp = lambda cg, n: getattr(cg, f"set_{attr}")(n)  # noqa: E731
    eff = lambda cg: getattr(cg, f"e{attr}")  # noqa: E731
    setp(b, 50 * MIB)        # 12800
    setp(c, 75 * MIB)        # 19200
    setp(d, 25 * MIB)        # 6400
    setp(e_, 0)
    setp(f, 500 * MIB)       # 128000
    for cg in (c, d, e_):
        assert cg.try_charge(50 * MIB) is None        # 12800 each
    assert b.usage == 150 * MIB == 38400
    assert a.usage == 38400 and g.usage == 0
    # b's children claim min(12800,19200) + min(12800,6400) + 0 + min(0,128000)
    #   = 12800 + 6400 = 19200
    assert getattr(b, f"children_{attr}_usage") == 19200
    for cg in (a, b, g, c, d, e_, f):
        cg.calculate_protection(a, recursive)
    assert eff(a) == 0                       # the target: untouched
    assert eff(b) == 12800                   # first level below A: raw 50M
    # overcommitted: 19200 > 12800, so recursive makes no difference
    # C: 12800 * 12800 // 19200 = 163840000 // 19200 = 8533   (50*50/75 = 33.3M)
    # D:  6400 * 12800 // 19200 =  81920000 // 19200 = 4266   (25*50/75 = 16.7M)
    # E: protected 0 -> 0 ; F: usage 0 -> not computed, stays 0 (raw would be 128000)
    assert (eff(c), eff(d), eff(e_), eff(f)) == (8533, 4266, 0, 0)

    # after reclaim the selftest expects C ~ 29M, D ~ 21M, E ~ 0, B ~ 50M
    c.uncharge(50 * MIB - 29 * MIB)          # 12800 - 7424 = 5376 -> C 7424
    d.uncharge(50 * MIB - 21 * MIB)          # 12800 - 5376 = 7424 -> D 5376
    e_.uncharge(50 * MIB)                    # E 0
    assert b.usage == 50 * MIB               # 7424 + 5376 = 12800
    # claims: min(7424,19200) + min(5376,6400) = 12800 == b.e -> not overcommitted
    assert getattr(b, f"children_{attr}_usage") == 12800
    for cg in (a, b, g, c, d, e_, f):
        cg.calculate_protection(a, recursive)
    # C: 7424, D: 5376 (protected == usage, no float: parent_eff > siblings is false)
    # E: usage 0 -> stale 0
    assert (eff(b), eff(c), eff(d), eff(e_), eff(f)) == (12800, 7424, 5376, 0, 0)
