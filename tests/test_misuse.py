"""Misuse: every error from the public API is a package error (and the fitting
builtin, with the kernel's errno where there is one), and a refused call
changes nothing.

Issue 7, finding 7: ``pack_ops`` raised ``struct.error``; a bad ``out=`` plain
ValueError/TypeError; ``flags=np.array([1])`` a TypeError; an ``__index__``
returning a non-int an AssertionError; names with a newline were accepted and
a long name gave EINVAL.

Cgroup names follow the kernel as a live 6.18 kernel answers ``mkdir`` in a
v1 memory hierarchy (see :func:`pymemcg._common.check_name`).
"""

from __future__ import annotations

import array
import enum
import errno
import struct
import subprocess
import sys
import types
from typing import Any, Callable, List, Tuple

import pytest

import pymemcg
import pymemcg.errors as E
import pymemcg.model
from pymemcg import replay as R
from pymemcg._common import (NAME_MAX, PATH_MAX, check_bool, check_count, check_cpu, check_int,
                             check_name)
from pymemcg.gfp import check_gfp

np = pytest.importorskip("numpy")

PCM = pymemcg.PAGE_COUNTER_MAX


# --------------------------------------------------------------------------- helpers


class IntSub(int):
    """An int subclass whose own methods lie: only its int value may count."""

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return False

    def __le__(self, other: object) -> bool:
        return True

    def __ge__(self, other: object) -> bool:
        return True

    def __index__(self) -> int:
        return 0

    def __int__(self) -> int:
        return 0


class Color(enum.IntEnum):
    RED = 1
    BLUE = 3


class Index:
    """An object whose __index__ returns ``value`` or raises ``exc``."""

    def __init__(self, value: Any = None, exc: "BaseException | None" = None) -> None:
        self.value, self.exc = value, exc

    def __index__(self) -> Any:
        if self.exc is not None:
            raise self.exc
        return self.value

    def __repr__(self) -> str:
        return f"Index({self.value!r}, {self.exc!r})"


class DtypeRaises:
    """A numpy look-alike whose ``dtype`` raises."""

    @property
    def dtype(self) -> Any:
        raise RuntimeError("no dtype")

    def __index__(self) -> int:
        return 1


#: Not integers: each must raise InvalidTypeError (a TypeError) wherever an
#: integer argument goes.
NOT_INTEGERS: List[Any] = [
    True, False, 1.0, float("nan"), 3 + 0j, "1", b"1", None, [1], (1,), object(),
    np.True_, np.False_, np.array(True), np.array([True]), np.float64(1.0), np.float32(2.0),
    np.array([1]), np.array([[1]]), np.array([1, 2]), np.array(1.0), np.array([], dtype=np.int64),
    Index(1.0), Index(True), Index(IntSub(1)), Index("1"), Index(None),
    Index(exc=ValueError("bad")), Index(exc=RuntimeError("bad")), Index(exc=OverflowError("big")),
    Index(exc=TypeError("bad")), Index(exc=ZeroDivisionError()), Index(exc=RecursionError()),
    DtypeRaises(),
]

#: Integers: (value, the int it reads as).
INTEGERS: List[Tuple[Any, int]] = [
    (2, 2), (np.int64(2), 2), (np.uint8(2), 2), (np.int32(2), 2), (np.uint64(2), 2),
    (np.array(2), 2), (np.array(2, dtype=np.uint16), 2), (IntSub(2), 2), (Color.BLUE, 3),
    (Index(2), 2),
]


def label(value: Any) -> str:
    """A short, stable test id: the repr (cut, with the length), or the type
    name where the repr would hold an address."""
    if type(value).__repr__ is object.__repr__:
        return type(value).__name__
    r = repr(value)
    return r if len(r) <= 24 else f"{r[:16]}...len{len(value) if isinstance(value, (str, bytes)) else len(r)}"


def assert_package_error(ei: Any, cls: type, builtin: type, err: "int | None") -> None:
    exc = ei.value
    assert type(exc) is cls, f"{type(exc).__name__} is not {cls.__name__}: {exc}"
    assert isinstance(exc, pymemcg.MemcgError)
    assert isinstance(exc, builtin)
    if err is not None:
        assert exc.errno == err, f"errno {exc.errno} is not {errno.errorcode[err]}"


def make(backend: types.ModuleType, preset: str = "current", ncpus: int = 2) -> Any:
    """A small tree with usage, limits, events and stocks moved off zero."""
    h = backend.Hierarchy(getattr(backend.Config, preset)(ncpus=ncpus, charge_batch=8))
    a = h.create("a")
    b = h.create("a/b")
    h.create("c")
    a._set_max("memory", 40)
    assert b.try_charge(3, cpu=0) is None
    assert b.try_charge(5, cpu=1) is None
    assert a.try_charge(2, cpu=1) is None
    assert b.try_charge(100, cpu=0) is not None      # refused: events move
    return h


def observe(h: Any) -> Any:
    """Everything a refused call must leave as it was."""
    out: List[Any] = []
    for cg in h.cgroups():
        counters = tuple(getattr(cg, name).snapshot() for name in h.config.counters)
        out.append((cg.path, cg.name, cg.id, cg.handle, cg.online, cg.dying, counters,
                    sorted(cg.stat.items()), sorted(cg.events.items())))
    for cpu in range(h.config.ncpus):
        out.append(tuple((c.path if c is not None else None, n) for c, n in h.stock(cpu)))
    return out


# --------------------------------------------------------------------------- the error class


def test_name_too_long_error() -> None:
    assert issubclass(E.NameTooLongError, pymemcg.MemcgError)
    assert issubclass(E.NameTooLongError, OSError)
    assert "NameTooLongError" in E.__all__
    e = E.NameTooLongError("too long")
    assert e.errno == errno.ENAMETOOLONG and e.strerror == "too long"
    assert E.NameTooLongError().errno == errno.ENAMETOOLONG
    with pytest.raises(E.NameTooLongError) as ei:
        E.raise_errno(-errno.ENAMETOOLONG, "create")
    assert_package_error(ei, E.NameTooLongError, OSError, errno.ENAMETOOLONG)


# --------------------------------------------------------------------------- integers


@pytest.mark.parametrize("bad", NOT_INTEGERS, ids=label)
@pytest.mark.parametrize("check", [
    lambda v: check_int(v, "x"),
    check_count,
    lambda v: check_cpu(v, 4),
    check_gfp,
], ids=["check_int", "check_count", "check_cpu", "check_gfp"])
def test_not_an_integer(check: Callable[[Any], int], bad: Any) -> None:
    with pytest.raises(pymemcg.InvalidTypeError) as ei:
        check(bad)
    assert_package_error(ei, pymemcg.InvalidTypeError, TypeError, errno.EINVAL)


def test_integer_rule_holds_in_any_order() -> None:
    # check_int caches the reader of each scalar type; arrays, whose dtype
    # varies by instance, are looked at every time.
    for _ in range(2):
        assert check_int(np.array(5), "x") == 5
        with pytest.raises(pymemcg.InvalidTypeError):
            check_int(np.array(True), "x")
        with pytest.raises(pymemcg.InvalidTypeError):
            check_int(np.array(5.0), "x")
        assert check_int(np.int64(7), "x") == 7
        assert check_int(Index(3), "x") == 3
        with pytest.raises(pymemcg.InvalidTypeError):
            check_int(Index(3.0), "x")
        with pytest.raises(pymemcg.InvalidTypeError):
            check_int(True, "x")
        assert check_int(Color.BLUE, "x") == 3


def test_index_exception_is_the_cause() -> None:
    boom = ValueError("boom")
    with pytest.raises(pymemcg.InvalidTypeError) as ei:
        check_count(Index(exc=boom))
    assert ei.value.__cause__ is boom


@pytest.mark.parametrize("value,want", INTEGERS, ids=label)
def test_integers(value: Any, want: int) -> None:
    for got in (check_int(value, "x"), check_count(value), check_cpu(value, 4), check_gfp(value)):
        assert got == want and type(got) is int


@pytest.mark.parametrize("bad", [-1, PCM + 1, 2**64, np.int64(-1), np.uint64(2**64 - 1),
                                 np.array(-1), Index(-5), IntSub(-1)], ids=label)
def test_count_out_of_range(bad: Any) -> None:
    with pytest.raises(pymemcg.InvalidError) as ei:
        check_count(bad)
    assert_package_error(ei, pymemcg.InvalidError, ValueError, errno.EINVAL)


@pytest.mark.parametrize("bad", [-1, 4, np.int64(4), np.array(9), IntSub(-1), 2**70], ids=label)
def test_cpu_out_of_range(bad: Any) -> None:
    with pytest.raises(pymemcg.InvalidError) as ei:
        check_cpu(bad, 4)
    assert_package_error(ei, pymemcg.InvalidError, ValueError, errno.EINVAL)


@pytest.mark.parametrize("bad", [-1, 0x100, np.int64(0x200), np.array(-1), 2**64], ids=label)
def test_gfp_unknown_bits(bad: Any) -> None:
    with pytest.raises(pymemcg.InvalidError) as ei:
        check_gfp(bad)
    assert_package_error(ei, pymemcg.InvalidError, ValueError, errno.EINVAL)


EXOTIC_BAD = [np.array([1]), np.True_, Index(1.0), Index(IntSub(1)), Index(exc=RuntimeError("x")),
              IntSub(-1)]


def _expected(bad: Any) -> Tuple[type, type]:
    if isinstance(bad, int) and not isinstance(bad, bool):
        return pymemcg.InvalidError, ValueError
    return pymemcg.InvalidTypeError, TypeError


@pytest.mark.parametrize("bad", EXOTIC_BAD, ids=label)
@pytest.mark.parametrize("call", [
    lambda h, bad: h["a/b"].try_charge(bad),
    lambda h, bad: h["a/b"].try_charge(1, cpu=bad),
    lambda h, bad: h["a/b"].try_charge(1, flags=bad),
    lambda h, bad: h["a/b"].try_charge(1, cpu=0, flags=bad, kmem=True),
    lambda h, bad: h["a/b"].uncharge(bad),
    lambda h, bad: h["a/b"].uncharge(1, cpu=bad),
    lambda h, bad: h.drain(bad),
    lambda h, bad: h.stock(bad),
], ids=["try_charge", "try_charge-cpu", "try_charge-flags", "try_charge-kmem-flags", "uncharge",
        "uncharge-cpu", "drain", "stock"])
def test_bad_integer_arguments_change_nothing(backend: types.ModuleType, call: Callable,
                                              bad: Any) -> None:
    h = make(backend)
    before = observe(h)
    cls, builtin = _expected(bad)
    with pytest.raises(cls) as ei:
        call(h, bad)
    assert_package_error(ei, cls, builtin, errno.EINVAL)
    assert observe(h) == before


@pytest.mark.parametrize("bad", EXOTIC_BAD, ids=label)
@pytest.mark.parametrize("method", ["charge", "try_charge", "uncharge", "set_max", "set_min",
                                    "set_low", "set_high"])
def test_page_counter_bad_counts(backend: types.ModuleType, method: str, bad: Any) -> None:
    root = backend.PageCounter(max=100)
    leaf = backend.PageCounter(root, max=50)
    leaf.charge(7)
    before = (root.snapshot(), leaf.snapshot())
    cls, builtin = _expected(bad)
    with pytest.raises(cls) as ei:
        getattr(leaf, method)(bad)
    assert_package_error(ei, cls, builtin, errno.EINVAL)
    assert (root.snapshot(), leaf.snapshot()) == before


@pytest.mark.parametrize("value,want", INTEGERS, ids=label)
def test_integer_like_arguments_work(backend: types.ModuleType, value: Any, want: int) -> None:
    h = backend.Hierarchy(backend.Config.current(ncpus=4, charge_batch=1))
    g = h.create("g")
    assert g.try_charge(value, cpu=value, flags=backend.GFP_KERNEL) is None
    assert g.memory.usage == want
    assert h.stock(value) == h.stock(want)
    g.uncharge(value, cpu=value)
    assert g.memory.usage == 0


class BadBool:
    def __bool__(self) -> bool:
        raise RuntimeError("no truth value")


NOT_BOOLS = [None, "no", "", b"", 1.0, 0.0, [], [1], np.array([1, 2]), np.array([True]),
             np.float64(0.0), BadBool(), object(), Index(exc=RuntimeError("x"))]
BOOLS = [(True, True), (False, False), (0, False), (1, True), (2, True), (np.True_, True),
         (np.False_, False), (np.array(True), True), (np.int64(0), False), (Color.RED, True),
         (Index(0), False)]


@pytest.mark.parametrize("bad", NOT_BOOLS, ids=label)
def test_check_bool_refuses(bad: Any) -> None:
    with pytest.raises(pymemcg.InvalidTypeError) as ei:
        check_bool(bad, "kmem")
    assert_package_error(ei, pymemcg.InvalidTypeError, TypeError, errno.EINVAL)


@pytest.mark.parametrize("value,want", BOOLS, ids=label)
def test_check_bool_accepts(value: Any, want: bool) -> None:
    assert check_bool(value, "kmem") is want


# needs the wiring: kmem= goes through check_bool
@pytest.mark.parametrize("bad", [np.array([1, 2]), BadBool(), "no", None], ids=label)
@pytest.mark.parametrize("call", [
    lambda h, bad: h["a/b"].try_charge(1, kmem=bad),
    lambda h, bad: h["a/b"].uncharge(1, kmem=bad),
], ids=["try_charge-kmem", "uncharge-kmem"])
def test_bad_kmem_changes_nothing(backend: types.ModuleType, call: Callable, bad: Any) -> None:
    h = make(backend)
    before = observe(h)
    with pytest.raises(pymemcg.InvalidTypeError) as ei:
        call(h, bad)
    assert_package_error(ei, pymemcg.InvalidTypeError, TypeError, errno.EINVAL)
    assert observe(h) == before


# needs the wiring: track_failcnt= and protection= go through check_bool
@pytest.mark.parametrize("bad", [np.array([1, 2]), BadBool(), "no", None], ids=label)
@pytest.mark.parametrize("switch", ["track_failcnt", "protection"])
def test_bad_page_counter_switches(backend: types.ModuleType, switch: str, bad: Any) -> None:
    root = backend.PageCounter(max=100)
    before = root.snapshot()
    with pytest.raises(pymemcg.InvalidTypeError) as ei:
        backend.PageCounter(root, **{switch: bad})
    assert_package_error(ei, pymemcg.InvalidTypeError, TypeError, errno.EINVAL)
    assert root.snapshot() == before


# --------------------------------------------------------------------------- cgroup names

#: (name, exception, builtin, errno): each as a live 6.18 kernel answers mkdir
#: (cgroup v1 memory hierarchy).
BAD_NAMES: List[Tuple[Any, type, type, int]] = [
    ("a\nb", pymemcg.InvalidError, ValueError, errno.EINVAL),
    ("\n", pymemcg.InvalidError, ValueError, errno.EINVAL),
    ("a\n", pymemcg.InvalidError, ValueError, errno.EINVAL),
    # 301 bytes with a newline: below PATH_MAX, so cgroup_mkdir's EINVAL
    ("\n" + "a" * 300, pymemcg.InvalidError, ValueError, errno.EINVAL),
    # PATH_MAX bytes: getname()'s ENAMETOOLONG comes before the newline check
    ("\n" + "a" * (PATH_MAX - 1), E.NameTooLongError, OSError, errno.ENAMETOOLONG),
    ("a" * PATH_MAX, E.NameTooLongError, OSError, errno.ENAMETOOLONG),
    ("a" * (NAME_MAX + 1), E.NameTooLongError, OSError, errno.ENAMETOOLONG),
    ("\u00e9" * 2048, E.NameTooLongError, OSError, errno.ENAMETOOLONG),  # 2048 chars, 4096 bytes
    ("", pymemcg.InvalidError, ValueError, errno.EINVAL),
    ("a\0b", pymemcg.InvalidError, ValueError, errno.EINVAL),
    ("\0", pymemcg.InvalidError, ValueError, errno.EINVAL),
    ("\ud800", pymemcg.InvalidError, ValueError, errno.EINVAL),        # a lone surrogate
    ("a\udcffb", pymemcg.InvalidError, ValueError, errno.EINVAL),
    (".", pymemcg.ExistsError, FileExistsError, errno.EEXIST),
    ("..", pymemcg.ExistsError, FileExistsError, errno.EEXIST),
    (b"a", pymemcg.InvalidTypeError, TypeError, errno.EINVAL),
    (bytearray(b"a"), pymemcg.InvalidTypeError, TypeError, errno.EINVAL),
    (None, pymemcg.InvalidTypeError, TypeError, errno.EINVAL),
    (1, pymemcg.InvalidTypeError, TypeError, errno.EINVAL),
    (["a"], pymemcg.InvalidTypeError, TypeError, errno.EINVAL),
]

#: Names the kernel accepts, and pymemcg too.
GOOD_NAMES = ["a b", " ", "a\tb", "a\rb", "\x01\x7f", "\u540d\u524d", "-", "...", ".a", "a.",
              "a" * NAME_MAX, "\u00e9" * 127 + "a", "\U0001f600" * 63 + "abc",
              # 256..4095 bytes: over the VFS's NAME_MAX, but kernfs has no such check
              "a" * 256, "\u00e9" * 2047 + "a"]


def name_ids(cases: List[Any]) -> List[str]:
    return [label(c[0] if isinstance(c, tuple) else c) for c in cases]


class StrSub(str):
    def encode(self, *args: Any, **kwargs: Any) -> bytes:  # type: ignore[override]
        return b"evil"

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


@pytest.mark.parametrize("name,cls,builtin,err", BAD_NAMES, ids=name_ids(BAD_NAMES))
def test_check_name_refuses(name: Any, cls: type, builtin: type, err: int) -> None:
    with pytest.raises(cls) as ei:
        check_name(name)
    assert_package_error(ei, cls, builtin, err)


@pytest.mark.parametrize("name", GOOD_NAMES, ids=name_ids(GOOD_NAMES))
def test_check_name_accepts(name: str) -> None:
    raw = check_name(name)
    assert type(raw) is bytes and raw == name.encode("utf-8") and len(raw) <= NAME_MAX


def test_check_name_reads_a_str_subclass_as_plain_str() -> None:
    assert check_name(StrSub("x")) == b"x"
    with pytest.raises(pymemcg.InvalidError):
        check_name(StrSub("a\nb"))
    with pytest.raises(pymemcg.ExistsError):
        check_name(StrSub(".."))


def test_name_slash_is_one_component_only() -> None:
    for name in ("x/y", "/", "/x", "x/"):
        with pytest.raises(pymemcg.InvalidError) as ei:
            check_name(name)
        assert_package_error(ei, pymemcg.InvalidError, ValueError, errno.EINVAL)


# needs the wiring: both backends' create() call check_name
@pytest.mark.parametrize("name,cls,builtin,err", BAD_NAMES, ids=name_ids(BAD_NAMES))
def test_create_refuses_bad_names(backend: types.ModuleType, name: Any, cls: type,
                                  builtin: type, err: int) -> None:
    h = make(backend)
    before = observe(h)
    for create in (h.root.create, h["a"].create, h["a/b"].create):
        with pytest.raises(cls) as ei:
            create(name)
        assert_package_error(ei, cls, builtin, err)
    if isinstance(name, str) and name:
        with pytest.raises(cls) as ei:
            h.create("a/" + name)                           # the path form: the same name
        assert_package_error(ei, cls, builtin, err)
    assert observe(h) == before


# needs the wiring: both backends' create() call check_name
@pytest.mark.parametrize("name", GOOD_NAMES, ids=name_ids(GOOD_NAMES))
def test_create_accepts_kernel_names(backend: types.ModuleType, name: str) -> None:
    h = make(backend)
    g = h["a"].create(name)
    assert g.name == name and type(g.name) is str and g.path == "a/" + name
    assert h["a/" + name] is g and g.online
    assert g.try_charge(1) is None and g.memory.usage >= 1
    with pytest.raises(pymemcg.ExistsError):
        h["a"].create(name)


# needs the wiring: the name stored is the plain str, not the caller's subclass
def test_create_stores_a_plain_str(backend: types.ModuleType) -> None:
    h = make(backend)
    g = h.root.create(StrSub("x"))
    assert type(g.name) is str and g.name == "x"
    assert h["x"] is g
    h.root.create("y")                          # StrSub's __eq__ / __hash__ must not matter
    assert [c.name for c in h.root.children] == ["a", "c", "x", "y"]


# --------------------------------------------------------------------------- pack_ops

GOOD_RECORD = (R.OP_CHARGE, pymemcg.GFP_KERNEL, 2 | 1 << 16, 1, 0, 0)


def _pack_error(records: Any) -> Any:
    try:
        R.pack_ops(records)
    except pymemcg.MemcgError as e:
        assert not isinstance(e, struct.error)
        return e
    raise AssertionError("pack_ops accepted bad records")


BAD_RECORDS: List[Tuple[Any, type, str]] = [
    # (the bad record, its class, a word the message must hold)
    ((1, 0, 0, 0, 0), pymemcg.InvalidError, "5 fields"),
    ((1, 0, 0, 0, 0, 0, 0), pymemcg.InvalidError, "7 fields"),
    ((), pymemcg.InvalidError, "0 fields"),
    ((-1, 0, 0, 0, 0, 0), pymemcg.InvalidError, "op"),
    ((2**32, 0, 0, 0, 0, 0), pymemcg.InvalidError, "op"),
    ((1, -1, 0, 0, 0, 0), pymemcg.InvalidError, "flags"),
    ((1, 0, 2**63, 0, 0, 0), pymemcg.InvalidError, "cgroup"),
    ((1, 0, -(2**63) - 1, 0, 0, 0), pymemcg.InvalidError, "cgroup"),
    ((1, 0, 0, 2**64, 0, 0), pymemcg.InvalidError, "nr_pages"),
    ((1, 0, 0, 0, 2**31, 0), pymemcg.InvalidError, "cpu"),
    ((1, 0, 0, 0, 0, -(2**31) - 1), pymemcg.InvalidError, "kmem"),
    ((1, 0, 0, 1.0, 0, 0), pymemcg.InvalidTypeError, "nr_pages"),
    ((1, 0, 0, "1", 0, 0), pymemcg.InvalidTypeError, "nr_pages"),
    ((1, 0, None, 0, 0, 0), pymemcg.InvalidTypeError, "cgroup"),
    ((True, 0, 0, 0, 0, 0), pymemcg.InvalidTypeError, "op"),
    ((1, 0, 0, 0, 0, np.array([1])), pymemcg.InvalidTypeError, "kmem"),
    ((1, 0, 0, 0, Index(exc=RuntimeError("x")), 0), pymemcg.InvalidTypeError, "cpu"),
    ((1, 0, 0, 0, Index(0.0), 0), pymemcg.InvalidTypeError, "cpu"),
    (5, pymemcg.InvalidTypeError, "sequence"),
    (None, pymemcg.InvalidTypeError, "sequence"),
    ("abcdef", pymemcg.InvalidTypeError, "str"),
    (b"\x01\x00\x00\x00\x00\x00", pymemcg.InvalidTypeError, "bytes"),
]


@pytest.mark.parametrize("bad,cls,word", BAD_RECORDS, ids=label)
def test_pack_ops_bad_record(bad: Any, cls: type, word: str) -> None:
    e = _pack_error([GOOD_RECORD, GOOD_RECORD, bad, GOOD_RECORD])
    assert type(e) is cls and isinstance(e, ValueError if cls is pymemcg.InvalidError else TypeError)
    assert e.errno == errno.EINVAL
    assert "record 2" in str(e) and word in str(e), str(e)


@pytest.mark.parametrize("records", [5, None, 1.5, object()], ids=label)
def test_pack_ops_not_iterable(records: Any) -> None:
    e = _pack_error(records)
    assert type(e) is pymemcg.InvalidTypeError and isinstance(e, TypeError)


def test_pack_ops_iteration_error_is_the_cause() -> None:
    boom = KeyError("boom")

    def records() -> Any:
        yield GOOD_RECORD
        raise boom

    e = _pack_error(records())
    assert type(e) is pymemcg.InvalidTypeError and e.__cause__ is boom and "record 1" in str(e)


def test_pack_ops_accepts_integer_likes() -> None:
    plain = R.pack_ops([GOOD_RECORD, (R.OP_DRAIN, 0, 0, 0, 1, 0)])
    ops = np.zeros(2, dtype=R.OP_DTYPE)
    ops[0] = GOOD_RECORD
    ops[1] = (R.OP_DRAIN, 0, 0, 0, 1, 0)
    assert bytes(plain) == ops.tobytes()
    assert R.pack_ops(list(ops)) == plain                       # numpy records (np.void)
    assert R.pack_ops([list(GOOD_RECORD), (Color.RED, IntSub(0), np.int64(2 | 1 << 16),
                                           Index(1), np.array(1), False + 0)]) is not None
    assert R.pack_ops(iter([GOOD_RECORD, [R.OP_DRAIN, 0, 0, 0, 1, 0]])) == plain
    assert R.pack_ops([(IntSub(1), IntSub(pymemcg.GFP_KERNEL), 2 | 1 << 16, 1, 0, 0)]) == \
        R.pack_ops([GOOD_RECORD])
    assert R.pack_ops([]) == bytearray()
    # the extremes of each C type pack
    R.pack_ops([(0, 0, -(2**63), -(2**63), -(2**31), -(2**31)),
                (2**32 - 1, 2**32 - 1, 2**63 - 1, 2**63 - 1, 2**31 - 1, 2**31 - 1)])


# --------------------------------------------------------------------------- replay buffers


def _released() -> memoryview:
    m = memoryview(bytearray(32))
    m.release()
    return m


@pytest.mark.parametrize("bad,cls", [
    (5, pymemcg.InvalidTypeError),
    ("records", pymemcg.InvalidTypeError),
    (None, pymemcg.InvalidTypeError),
    (b"\0" * 31, pymemcg.InvalidError),
    (b"\0" * 33, pymemcg.InvalidError),
    ("released", pymemcg.InvalidError),
    ("strided", pymemcg.InvalidError),
], ids=label)
def test_replay_bad_records_buffer(backend: types.ModuleType, bad: Any, cls: type) -> None:
    h = make(backend)
    if bad == "released":
        bad = _released()
    elif bad == "strided":
        bad = np.zeros(4, dtype=R.OP_DTYPE)[::2]
    before = observe(h)
    with pytest.raises(cls) as ei:
        h.replay(bad)
    assert_package_error(ei, cls, TypeError if cls is pymemcg.InvalidTypeError else ValueError,
                         errno.EINVAL)
    assert observe(h) == before


def _misaligned(n: int) -> Any:
    a = np.frombuffer(bytearray(8 * n + 1), dtype=np.int64, offset=1, count=n)
    assert a.flags.writeable and not a.flags.aligned
    return a


def _readonly(n: int) -> Any:
    a = np.zeros(n, dtype=np.int64)
    a.flags.writeable = False
    return a


#: (a maker of a bad ``out`` for n results, the exception class)
BAD_OUTS: List[Tuple[Callable[[int], Any], type]] = [
    (lambda n: bytes(8 * n), pymemcg.InvalidTypeError),
    (lambda n: bytearray(8 * n), pymemcg.InvalidTypeError),
    (lambda n: [0] * n, pymemcg.InvalidTypeError),
    (lambda n: 5, pymemcg.InvalidTypeError),
    (lambda n: "out", pymemcg.InvalidTypeError),
    (lambda n: np.zeros(n, dtype=np.float64), pymemcg.InvalidTypeError),
    (lambda n: np.zeros(n, dtype=np.uint64), pymemcg.InvalidTypeError),
    (lambda n: np.zeros(n, dtype=np.int32), pymemcg.InvalidTypeError),
    (lambda n: np.zeros(2 * n, dtype=np.int32), pymemcg.InvalidTypeError),
    (lambda n: np.zeros(n, dtype=">i8" if sys.byteorder == "little" else "<i8"),
     pymemcg.InvalidTypeError),
    (lambda n: array.array("d", [0.0] * n), pymemcg.InvalidTypeError),
    (lambda n: array.array("Q", [0] * n), pymemcg.InvalidTypeError),
    (_readonly, pymemcg.InvalidTypeError),
    (lambda n: memoryview(np.zeros(n, dtype=np.int64)).toreadonly(), pymemcg.InvalidTypeError),
    (lambda n: np.zeros(2 * n, dtype=np.int64)[::2], pymemcg.InvalidError),
    (lambda n: np.zeros((n, 2), dtype=np.int64).T, pymemcg.InvalidError),
    (lambda n: np.zeros(n - 1, dtype=np.int64), pymemcg.InvalidError),
    (lambda n: array.array("q"), pymemcg.InvalidError),
    (lambda n: np.zeros(0, dtype=np.int64), pymemcg.InvalidError),
    (_misaligned, pymemcg.InvalidError),
    (lambda n: _released(), pymemcg.InvalidError),
]
BAD_OUT_IDS = ["bytes", "bytearray", "list", "int", "str", "float64", "uint64", "int32",
               "int32x2", "other-endian", "array-d", "array-Q", "readonly-numpy",
               "readonly-view", "strided", "fortran", "short", "empty-array", "empty-numpy",
               "misaligned", "released"]


@pytest.mark.parametrize("make_out,cls", BAD_OUTS, ids=BAD_OUT_IDS)
def test_check_out_refuses(make_out: Callable[[int], Any], cls: type) -> None:
    with pytest.raises(cls) as ei:
        R.check_out(make_out(3), 3)
    assert_package_error(ei, cls, TypeError if cls is pymemcg.InvalidTypeError else ValueError,
                         errno.EINVAL)


@pytest.mark.parametrize("make_out", [
    lambda n: np.zeros(n, dtype=np.int64),
    lambda n: np.zeros(n + 5, dtype=np.int64),
    lambda n: np.zeros((n, 1), dtype=np.int64),
    lambda n: np.zeros(n, dtype=np.longlong),
    lambda n: np.zeros(n, dtype=np.dtype("=i8")),
    lambda n: array.array("q", [0] * n),
    lambda n: memoryview(np.zeros(n, dtype=np.int64)),
    lambda n: R.new_results(n),
], ids=["int64", "longer", "2-d", "longlong", "=i8", "array-q", "memoryview", "new_results"])
def test_check_out_accepts(make_out: Callable[[int], Any]) -> None:
    out = make_out(3)
    res = R.check_out(out, 3)
    assert len(res) == 3 and res.format == "q" and not res.readonly
    res[0], res[2] = -5, 7
    assert list(memoryview(out).cast("B").cast("q"))[:3] == [-5, 0, 7]
    res.release()
    assert len(R.check_out(np.zeros(0, dtype=np.int64), 0)) == 0


# needs the wiring: both backends' replay() call check_out
@pytest.mark.parametrize("make_out,cls", BAD_OUTS, ids=BAD_OUT_IDS)
def test_replay_refuses_bad_out(backend: types.ModuleType, make_out: Callable[[int], Any],
                                cls: type) -> None:
    h = make(backend)
    g = h["a/b"]
    ops = R.pack_ops([(R.OP_CHARGE, backend.GFP_KERNEL, g.handle, 1, 0, 0),
                      (R.OP_UNCHARGE, 0, g.handle, 1, 1, 0),
                      (R.OP_DRAIN_ALL, 0, 0, 0, 0, 0)])
    out = make_out(3)
    try:
        out_before = bytes(memoryview(out))
    except (TypeError, ValueError):
        out_before = None
    before = observe(h)
    with pytest.raises(cls) as ei:
        h.replay(ops, out=out)
    assert_package_error(ei, cls, TypeError if cls is pymemcg.InvalidTypeError else ValueError,
                         errno.EINVAL)
    assert observe(h) == before
    if out_before is not None:
        assert bytes(memoryview(out)) == out_before


# needs the wiring: both backends' replay() write through check_out's view
@pytest.mark.parametrize("make_out", [
    lambda n: np.zeros((n, 1), dtype=np.int64),
    lambda n: array.array("q", [9] * (n + 2)),
    lambda n: memoryview(np.zeros(n, dtype=np.int64)),
], ids=["2-d", "array-q-longer", "memoryview"])
def test_replay_writes_any_good_out(backend: types.ModuleType,
                                    make_out: Callable[[int], Any]) -> None:
    h = make(backend)
    g = h["a/b"]
    ops = R.pack_ops([(R.OP_CHARGE, backend.GFP_KERNEL, g.handle, 1, 0, 0),
                      (9, 0, 0, 0, 0, 0),
                      (R.OP_DRAIN_ALL, 0, 0, 0, 0, 0)])
    out = make_out(3)
    assert h.replay(ops, out=out) is out
    got = list(memoryview(out).cast("B").cast("q"))
    assert got[:3] == [0, -errno.EINVAL, 0]
    assert got[3:] == [9] * (len(got) - 3)               # past n: untouched


# --------------------------------------------------------------------------- numpy is lazy


# needs the wiring: pymemcg/__init__.py and pymemcg/model/__init__.py re-export
# OP_DTYPE through a module __getattr__
def test_import_does_not_import_numpy() -> None:
    code = (
        "import sys, pymemcg, pymemcg.model\n"
        "assert 'numpy' not in sys.modules, 'import pymemcg imported numpy'\n"
        "h = pymemcg.Hierarchy(); m = pymemcg.model.Hierarchy()\n"
        "ops = pymemcg.pack_ops([(pymemcg.OP_DRAIN, 0, 0, 0, 0, 0)])\n"
        "import array\n"
        "h.replay(ops, out=array.array('q', [0])); m.replay(ops, out=array.array('q', [0]))\n"
        "assert 'numpy' not in sys.modules, 'a replay with out= imported numpy'\n"
        "d = pymemcg.OP_DTYPE\n"
        "assert 'numpy' in sys.modules and d.itemsize == 32\n"
        "assert pymemcg.model.OP_DTYPE is d and pymemcg.replay.OP_DTYPE is d\n"
        "from pymemcg import OP_DTYPE\n"
        "assert OP_DTYPE is d\n"
        "assert 'OP_DTYPE' in pymemcg.__all__ and 'OP_DTYPE' in pymemcg.model.__all__\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_op_dtype_matches_the_record_format() -> None:
    assert R.OP_DTYPE.itemsize == R.OP_SIZE == 32
    with pytest.raises(AttributeError):
        R.NO_SUCH_NAME  # noqa: B018
