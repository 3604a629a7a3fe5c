"""Bad arguments: the documented exception (and its builtin), and no state change.

Every count argument goes through check_count: bool / float / str / None ->
InvalidTypeError (a TypeError); < 0 or > PAGE_COUNTER_MAX -> InvalidError (a
ValueError).  A bad argument must leave every observable of the tree as it was.
"""

from __future__ import annotations

import errno

import pytest

import pymemcg
import pymemcg.errors as E
import pymemcg.model

PCM = 2251799813685247

def _label(value: object) -> str:
    """A stable test id (pytest-xdist needs the same ids in every worker):
    the repr, or the type's name where the repr holds an address."""
    return type(value).__name__ if type(value).__repr__ is object.__repr__ else repr(value)


TYPE_BAD = [True, False, 1.0, 3.5, float("nan"), "3", b"3", None, [3], object(), 3 + 0j]
VALUE_BAD = [-1, -(2**63), PCM + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**64 + 3, 2**200]

COUNT_METHODS = ["charge", "try_charge", "uncharge", "set_max", "set_min", "set_low", "set_high"]


def other_backend(backend):
    return pymemcg.model if backend is pymemcg else pymemcg


def build(backend):
    """A small tree with every field moved off its default."""
    root = backend.PageCounter(max=1000)
    mid = backend.PageCounter(root, max=500, track_failcnt=True)
    leaf = backend.PageCounter(mid, max=100, protection=False)
    sib = backend.PageCounter(mid, track_failcnt=False)
    mid.set_min(40)
    mid.set_low(60)
    leaf.set_min(5)
    sib.set_low(7)
    leaf.charge(30)
    sib.charge(20)
    mid.charge(5)
    assert leaf.try_charge(200) is leaf          # failcnt 1 at leaf
    sib.uncharge(4)
    leaf.set_high(50)
    for c in (root, mid, leaf, sib):
        c.calculate_protection(root)
    mid.reset_local_watermark()
    return [root, mid, leaf, sib]


def observe(counters):
    out = []
    for c in counters:
        out.append(
            (
                c.snapshot(),
                c.parent,
                c.track_failcnt,
                c.protection,
                c.depth,
                c.usage,
                c.max,
                c.min,
                c.low,
                c.high,
                c.watermark,
                c.local_watermark,
                c.failcnt,
                c.emin,
                c.elow,
            )
        )
    return out


def expected_exc(backend, bad):
    if isinstance(bad, int) and not isinstance(bad, bool):
        return backend.InvalidError, ValueError
    return backend.InvalidTypeError, TypeError


@pytest.mark.parametrize("method", COUNT_METHODS)
@pytest.mark.parametrize("bad", TYPE_BAD + VALUE_BAD, ids=_label)
@pytest.mark.parametrize("which", [1, 2])      # mid, leaf
def test_bad_count_argument(backend, method, bad, which):
    tree = build(backend)
    before = observe(tree)
    exc, builtin = expected_exc(backend, bad)
    with pytest.raises(exc) as ei:
        getattr(tree[which], method)(bad)
    assert isinstance(ei.value, builtin)
    assert isinstance(ei.value, backend.MemcgError)
    # not mistaken for an underflow or a busy limit
    assert not isinstance(ei.value, (backend.UnderflowError, backend.BusyError))
    assert observe(tree) == before


@pytest.mark.parametrize("bad", TYPE_BAD + VALUE_BAD, ids=_label)
def test_bad_constructor_max(backend, bad):
    tree = build(backend)
    before = observe(tree)
    exc, builtin = expected_exc(backend, bad)
    with pytest.raises(exc) as ei:
        backend.PageCounter(tree[2], max=bad)
    assert isinstance(ei.value, builtin)
    with pytest.raises(exc):
        backend.PageCounter(max=bad)
    with pytest.raises(exc):
        backend.PageCounter(None, bad)
    assert observe(tree) == before


@pytest.mark.parametrize("kind", ["other_backend", "int", "str", "object", "state"])
def test_bad_constructor_parent(backend, kind):
    tree = build(backend)
    other_tree = build(other_backend(backend))
    before, other_before = observe(tree), observe(other_tree)
    bad = {
        "other_backend": other_tree[1],
        "int": 5,
        "str": "root",
        "object": object(),
        "state": tree[1].snapshot(),
    }[kind]
    with pytest.raises(backend.InvalidTypeError) as ei:
        backend.PageCounter(bad)
    assert isinstance(ei.value, TypeError)
    with pytest.raises(backend.InvalidTypeError):
        backend.PageCounter(parent=bad, max=10)
    assert observe(tree) == before
    assert observe(other_tree) == other_before


@pytest.mark.parametrize("kind", ["sibling", "descendant", "other_tree", "cousin_root"])
@pytest.mark.parametrize("recursive", [False, True])
def test_calculate_protection_root_not_ancestor(backend, kind, recursive):
    tree = build(backend)
    root, mid, leaf, sib = tree
    lone = backend.PageCounter()
    lone.charge(3)
    lone_kid = backend.PageCounter(lone)
    target, bad_root = {
        "sibling": (leaf, sib),
        "descendant": (mid, leaf),
        "other_tree": (leaf, lone),
        "cousin_root": (lone_kid, root),
    }[kind]
    everything = tree + [lone, lone_kid]
    before = observe(everything)
    with pytest.raises(backend.InvalidError) as ei:
        target.calculate_protection(bad_root, recursive)
    assert isinstance(ei.value, ValueError)
    assert observe(everything) == before


@pytest.mark.parametrize("kind", ["other_backend", "None", "int", "str"])
def test_calculate_protection_root_bad_type(backend, kind):
    tree = build(backend)
    other_tree = build(other_backend(backend))
    before, other_before = observe(tree), observe(other_tree)
    bad = {"other_backend": other_tree[0], "None": None, "int": 0, "str": "root"}[kind]
    with pytest.raises(backend.InvalidTypeError) as ei:
        tree[2].calculate_protection(bad)
    assert isinstance(ei.value, TypeError)
    assert observe(tree) == before
    assert observe(other_tree) == other_before


def test_calculate_protection_self_and_ancestors_accepted(backend):
    tree = build(backend)
    root, mid, leaf, sib = tree
    before = observe(tree)
    leaf.calculate_protection(leaf)      # the target itself: a no-op
    assert observe(tree) == before
    leaf.calculate_protection(mid)       # parent is the root: raw min 5, low 0
    assert (leaf.emin, leaf.elow) == (5, 0)


def test_numpy_integers_are_counts(backend):
    np = pytest.importorskip("numpy")
    root = backend.PageCounter(max=np.int64(10))
    assert root.max == 10
    leaf = backend.PageCounter(root, max=np.uint64(8))
    leaf.charge(np.int64(3))
    assert (leaf.usage, root.usage) == (3, 3)
    assert leaf.try_charge(np.int32(5)) is None         # 8 == max: fits
    assert leaf.try_charge(np.int16(1)) is leaf
    leaf.uncharge(np.uint8(2))
    leaf.set_min(np.int64(4))
    leaf.set_low(np.int64(5))
    leaf.set_high(np.int64(6))
    root.set_max(np.int64(7))
    assert (leaf.usage, leaf.min, leaf.low, leaf.high, root.max) == (6, 4, 5, 6, 7)
    assert leaf.min_usage == 4 and root.children_min_usage == 4
    for bad in (np.float64(3.0), np.int64(-1), np.uint64(2**64 - 1), np.int64(PCM + 1)):
        exc, _ = expected_exc(backend, int(bad) if isinstance(bad, np.integer) else 1.0)
        before = observe([root, leaf])
        with pytest.raises(exc):
            leaf.charge(bad)
        assert observe([root, leaf]) == before


# ---- the error hierarchy -----------------------------------------------------


def test_errors_hierarchy():
    assert issubclass(E.BusyError, OSError) and issubclass(E.BusyError, E.MemcgError)
    assert E.BusyError().errno == errno.EBUSY
    assert E.BusyError("limit below usage").errno == errno.EBUSY
    assert issubclass(E.InvalidError, ValueError) and issubclass(E.InvalidError, OSError)
    assert E.InvalidError().errno == errno.EINVAL
    assert E.InvalidError("bad").errno == errno.EINVAL
    assert issubclass(E.InvalidTypeError, TypeError)
    assert issubclass(E.UnderflowError, ValueError)
    assert not issubclass(E.UnderflowError, E.InvalidError)
    assert issubclass(E.ChargeError, OSError) and E.ChargeError().errno == errno.ENOMEM
    assert issubclass(E.StaleHandleError, RuntimeError)
    for cls in (
        E.InvalidError, E.InvalidTypeError, E.BusyError, E.ChargeError,
        E.StaleHandleError, E.UnderflowError, E.NoSpaceError,
    ):
        assert issubclass(cls, E.MemcgError)
    u = E.UnderflowError("x", counters=[1, 2], nr_pages=5)
    assert u.counters == (1, 2) and u.nr_pages == 5


@pytest.mark.parametrize(
    "code, cls", [(-errno.EBUSY, E.BusyError), (-errno.EINVAL, E.InvalidError), (-errno.ENOMEM, E.ChargeError)]
)
def test_raise_errno(code, cls):
    with pytest.raises(cls) as ei:
        E.raise_errno(code, "what")
    assert ei.value.errno == -code


@pytest.mark.parametrize(
    "name",
    ["MemcgError", "InvalidError", "InvalidTypeError", "BusyError", "ChargeError", "StaleHandleError", "UnderflowError"],
)
def test_backends_export_shared_error_classes(backend, name):
    assert getattr(backend, name) is getattr(E, name)


def test_busy_error_from_set_max(backend):
    c = backend.PageCounter()
    c.charge(2)
    with pytest.raises(backend.MemcgError) as ei:
        c.set_max(1)
    assert isinstance(ei.value, backend.BusyError)
    assert isinstance(ei.value, OSError)
    assert ei.value.errno == errno.EBUSY
    assert c.max == PCM
