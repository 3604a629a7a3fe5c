"""Replay that cannot be misused quietly: mc.ops, mc.decode, the records' dtype."""

from __future__ import annotations

import array
import ctypes
import errno
import types
from typing import Any

import numpy as np
import pytest

import pymemcg
from pymemcg import replay as R


def tree(backend: types.ModuleType) -> Any:
    h = backend.Hierarchy(backend.Config.current(ncpus=2, charge_batch=8))
    g = h.create("a").create("b")
    g._set_max("memory", 10)
    return h, g


# ------------------------------------------------------------------ ops

def test_ops_from_tuples_equals_pack_ops(backend: types.ModuleType) -> None:
    h, g = tree(backend)
    K = backend.GFP_KERNEL
    built = backend.ops([("charge", g, 3), (backend.OP_CHARGE, g.handle, 5, 1),
                         ("charge", g, 1, 0, backend.GFP_NOFAIL, True),
                         ("uncharge", g, 2, 1, None, 1), ("drain", None, 0, 1), ("drain_all",),
                         {"op": "drain_all", "cgroup": g}, {"op": "charge", "cgroup": g,
                                                            "nr_pages": 4, "cpu": 1}])
    assert isinstance(built, np.ndarray) and built.dtype == backend.OP_DTYPE
    assert bytes(built) == bytes(backend.pack_ops([
        (R.OP_CHARGE, K, g.handle, 3, 0, 0), (R.OP_CHARGE, K, g.handle, 5, 1, 0),
        (R.OP_CHARGE, backend.GFP_NOFAIL, g.handle, 1, 0, 1), (R.OP_UNCHARGE, 0, g.handle, 2, 1, 1),
        (R.OP_DRAIN, 0, 0, 0, 1, 0), (R.OP_DRAIN_ALL, 0, 0, 0, 0, 0),
        (R.OP_DRAIN_ALL, 0, g.handle, 0, 0, 0), (R.OP_CHARGE, K, g.handle, 4, 1, 0)]))


def test_charges_default_to_gfp_kernel_as_try_charge(backend: types.ModuleType) -> None:
    """A zeroed record has flags 0 (no reclaim, no max events); ops says GFP_KERNEL."""
    def after(charge: Any) -> Any:
        h, g = tree(backend)
        charge(h, g)
        return g.events["max"], g.memory.usage, g.memory.failcnt

    by_call = after(lambda h, g: (g.try_charge(8), g.try_charge(8)))
    by_ops = after(lambda h, g: h.replay(backend.ops([("charge", g, 8)] * 2)))
    zeroed = after(lambda h, g: h.replay(backend.pack_ops([(R.OP_CHARGE, 0, g.handle, 8, 0, 0)]
                                                          * 2)))
    assert by_ops == by_call and by_call[0] > 0
    assert zeroed[0] == 0
    assert backend.ops(op="charge", cgroup=1, nr_pages=1)["flags"][0] == backend.GFP_KERNEL
    assert backend.ops(op="uncharge", cgroup=1, nr_pages=1)["flags"][0] == 0


def test_ops_from_columns(backend: types.ModuleType) -> None:
    h, g = tree(backend)
    n = 6
    cols = backend.ops(op=np.array([R.OP_CHARGE, R.OP_UNCHARGE] * 3, dtype=np.uint32),
                       cgroup=g, nr_pages=np.arange(n), cpu=[0, 1] * 3,
                       kmem=np.array([True, False] * 3))
    rows = backend.ops([(op, g, i, i % 2, None, i % 2 == 0)
                        for i, op in enumerate(["charge", "uncharge"] * 3)])
    assert bytes(cols) == bytes(rows)
    # handles in an int array; names in a list; Cgroups in a list
    mixed = backend.ops(op=["charge", "uncharge"], cgroup=[g, g.handle], nr_pages=1)
    handles = backend.ops(op=R.OP_CHARGE, cgroup=np.array([g.handle] * 2), nr_pages=[1, 2])
    assert list(mixed["cgroup"]) == list(handles["cgroup"]) == [g.handle] * 2
    assert list(mixed["flags"]) == [backend.GFP_KERNEL, 0]
    one = backend.ops(op="drain", cpu=1)
    assert len(one) == 1 and tuple(one[0]) == (R.OP_DRAIN, 0, 0, 0, 1, 0)
    assert len(backend.ops([])) == 0
    assert len(backend.ops(op="charge", cgroup=g, nr_pages=np.zeros(0, np.int64))) == 0


@pytest.mark.parametrize("call,cls,message", [
    (lambda g: R.ops([("charge", None, 1)]), pymemcg.InvalidError, "record 0: a charge"),
    (lambda g: R.ops([("drain",), ("charge", g)]), pymemcg.InvalidError,
     "record 1: a charge or uncharge needs nr_pages"),
    (lambda g: R.ops([("charge", g, 1.5)]), pymemcg.InvalidTypeError, "record 0: nr_pages"),
    (lambda g: R.ops([("charge", g, True)]), pymemcg.InvalidTypeError, "nr_pages"),
    (lambda g: R.ops([("charge", g, 1, 2**31)]), pymemcg.InvalidError,
     "record 0: cpu = 2147483648 is out of range"),
    (lambda g: R.ops([("charge", g, 1, 0, -1)]), pymemcg.InvalidError, "flags = -1"),
    (lambda g: R.ops([("charge", g, 1, 0, None, "yes")]), pymemcg.InvalidTypeError, "kmem"),
    (lambda g: R.ops([("frob", g, 1)]), pymemcg.InvalidError, "unknown op 'frob'"),
    (lambda g: R.ops([("charge", "a/b", 1)]), pymemcg.InvalidTypeError, "cgroup"),
    (lambda g: R.ops([(1, 2, 3, 4, 5, 6, 7)]), pymemcg.InvalidError, "record 0 has 7 fields"),
    (lambda g: R.ops([()]), pymemcg.InvalidError, "record 0 has 0 fields"),
    (lambda g: R.ops(["charge"]), pymemcg.InvalidTypeError, "record 0: a record is a tuple"),
    (lambda g: R.ops([{"op": "charge", "cgroups": g}]), pymemcg.InvalidError, "'cgroups'"),
    (lambda g: R.ops([{"cgroup": g}]), pymemcg.InvalidError, "record 0: no op"),
    (lambda g: R.ops("records"), pymemcg.InvalidTypeError, "iterable of records"),
    (lambda g: R.ops(5), pymemcg.InvalidTypeError, "iterable of records"),
    (lambda g: R.ops(np.zeros(2, R.OP_DTYPE)), pymemcg.InvalidTypeError, "already holds records"),
    (lambda g: R.ops([("charge", g, 1)], cpu=1), pymemcg.InvalidError, "not both"),
    (lambda g: R.ops(), pymemcg.InvalidError, "op="),
    (lambda g: R.ops(op="charge", nr_pages=1), pymemcg.InvalidError, "needs a cgroup"),
    (lambda g: R.ops(op=["drain", "charge"], cgroup=g), pymemcg.InvalidError,
     "record 1: a charge or uncharge needs nr_pages"),
    (lambda g: R.ops(op="charge", cgroup=g, nr_pages=np.array([1.0])), pymemcg.InvalidTypeError,
     "nr_pages must"),
    (lambda g: R.ops(op="charge", cgroup=g, nr_pages=[1, True]), pymemcg.InvalidTypeError,
     "record 1: nr_pages"),
    (lambda g: R.ops(op="charge", cgroup=g, nr_pages=[1, 2], cpu=[0, 1, 0]),
     pymemcg.InvalidError, "different lengths"),
    (lambda g: R.ops(op="charge", cgroup=g, nr_pages=np.array([1, 2]),
                     cpu=np.array([0, 2**40])), pymemcg.InvalidError,
     "record 1: cpu = 1099511627776 is out of range"),
    (lambda g: R.ops(op="charge", cgroup=g, nr_pages=np.ones((2, 2), np.int64)),
     pymemcg.InvalidError, "2 dimensions"),
    (lambda g: R.ops(op="charge", cgroup=g, nr_pages=2**63), pymemcg.InvalidError,
     "nr_pages = 9223372036854775808 is out of range"),
    (lambda g: R.ops(op=["charge", 2**32], cgroup=g, nr_pages=1), pymemcg.InvalidError,
     "record 1: op = 4294967296"),
])
@pytest.mark.parametrize("numpy", [True, False], ids=["numpy", "no-numpy"])
def test_ops_refuses_bad_records(monkeypatch: pytest.MonkeyPatch, call: Any, cls: type,
                                 message: str, numpy: bool) -> None:
    h, g = tree(pymemcg)
    if not numpy:
        monkeypatch.setattr(R, "_numpy", lambda: None)
    with pytest.raises(cls) as ei:
        call(g)
    assert message in str(ei.value)
    assert type(ei.value) is cls     # the error itself, not one wrapping it


def test_ops_without_numpy_is_a_bytearray(monkeypatch: pytest.MonkeyPatch,
                                          backend: types.ModuleType) -> None:
    h, g = tree(backend)
    with_numpy = backend.ops(op=["charge", "uncharge"], cgroup=g, nr_pages=[3, 1], cpu=1)
    monkeypatch.setattr(R, "_numpy", lambda: None)
    built = backend.ops([("charge", g, 3, 1), ("uncharge", g, 1, 1)])
    cols = backend.ops(op=["charge", "uncharge"], cgroup=g, nr_pages=[3, 1], cpu=1)
    assert type(built) is bytearray and built == cols == bytes(with_numpy)
    res = h.replay(built)
    assert isinstance(res, array.array) and list(res) == [0, 0]
    assert [o.kind for o in backend.decode(res)] == ["ok", "ok"]


# ------------------------------------------------------------------ decode

def test_decode_by_hand(backend: types.ModuleType) -> None:
    h, g = tree(backend)
    gone = h.create("gone")
    stale = gone.handle
    gone.remove()
    res = h.replay(backend.ops([
        ("charge", g, 3), ("charge", g, 5), ("charge", g, 3),     # refused by g (10 pages)
        ("uncharge", g, 9),                                      # 8 charged: clamps
        ("charge", g, 1, 5),                                     # no CPU 5
        ("charge", stale, 1),                                    # freed
        ("drain", None, 0, 1)]))
    out = backend.decode(res, h)
    assert [o.kind for o in out] == ["ok", "ok", "refused", "underflow", "error", "error", "ok"]
    refused = out[2]
    assert refused.cgroup_id == g.id and refused.cgroup.path == "a/b" and refused.code == g.id
    assert str(refused) == "refused by 'a/b' (id 3)"
    assert (out[4].error, out[4].code, str(out[4])) == ("EINVAL", -errno.EINVAL, "error EINVAL")
    assert out[5].error == "ESTALE" and out[3].code == backend.RESULT_UNDERFLOW
    assert out[0].ok and not out[2].ok and out[0] == ("ok", 0, None, None, None)
    assert backend.decode(res)[2].cgroup is None     # no hierarchy: the id alone
    assert str(backend.decode(res)[2]) == "refused by id 3"


def test_decode_accepts_any_int64_results(backend: types.ModuleType) -> None:
    codes = [0, 7, backend.RESULT_UNDERFLOW, -errno.ESTALE, -errno.ECANCELED, -9999]
    expected = ["ok", "refused", "underflow", "error", "error", "error"]
    for results in (codes, np.array(codes), array.array("q", codes), memoryview(np.array(codes)),
                    tuple(np.int64(c) for c in codes)):
        out = backend.decode(results)
        assert [o.kind for o in out] == expected
        assert [o.error for o in out][3:] == ["ESTALE", "ECANCELED", "9999"]


@pytest.mark.parametrize("bad,cls", [
    (np.zeros(3, np.int32), pymemcg.InvalidTypeError),
    (np.zeros(3, np.float64), pymemcg.InvalidTypeError),
    (b"\0" * 8, pymemcg.InvalidTypeError),
    ("0", pymemcg.InvalidTypeError),
    (5, pymemcg.InvalidTypeError),
    ([0, 1.5], pymemcg.InvalidTypeError),
    ([0, True], pymemcg.InvalidTypeError),
    (np.zeros(4, np.int64)[::2], pymemcg.InvalidError),
])
def test_decode_refuses_what_is_not_results(backend: types.ModuleType, bad: Any,
                                            cls: type) -> None:
    with pytest.raises(cls):
        backend.decode(bad)


def test_decode_of_an_id_no_cgroup_holds(backend: types.ModuleType) -> None:
    h, g = tree(backend)
    with pytest.raises(pymemcg.NotFoundError, match="result 1: no cgroup holds id 999"):
        backend.decode([0, 999], h)


# ------------------------------------------------------------------ the records' dtype

OTHER_32_BYTES = np.dtype([("a", "<u4"), ("b", "<u4"), ("c", "<i8"), ("d", "<i8"),
                           ("e", "<i4"), ("f", "<i4")])
BIG_ENDIAN = np.dtype([("op", ">u4"), ("flags", "<u4"), ("cgroup", "<i8"), ("nr_pages", "<i8"),
                       ("cpu", "<i4"), ("kmem", "<i4")])
SWAPPED = np.dtype([("op", "<u4"), ("flags", "<u4"), ("nr_pages", "<i8"), ("cgroup", "<i8"),
                    ("cpu", "<i4"), ("kmem", "<i4")])
UNSIGNED = np.dtype([("op", "<u4"), ("flags", "<u4"), ("cgroup", "<u8"), ("nr_pages", "<i8"),
                     ("cpu", "<i4"), ("kmem", "<i4")])


@pytest.mark.parametrize("buf", [
    np.zeros(2, OTHER_32_BYTES), np.zeros(2, BIG_ENDIAN), np.zeros(2, SWAPPED),
    np.zeros(2, UNSIGNED), np.zeros(8, np.int64), np.zeros(16, np.float32),
    array.array("q", [0] * 8), memoryview(np.zeros(2, OTHER_32_BYTES)),
], ids=["other-names", "big-endian", "swapped", "unsigned-cgroup", "int64", "float32",
        "array-q", "memoryview-of-other"])
def test_other_buffers_are_refused(backend: types.ModuleType, buf: Any) -> None:
    h, g = tree(backend)
    before = g.memory.usage
    with pytest.raises(pymemcg.InvalidTypeError, match="OP_DTYPE"):
        h.replay(buf)
    assert g.memory.usage == before


class CRecord(ctypes.Structure):
    _fields_ = [("op", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("cgroup", ctypes.c_int64),
                ("nr_pages", ctypes.c_int64), ("cpu", ctypes.c_int32), ("kmem", ctypes.c_int32)]


def test_records_by_layout_and_by_fields_are_accepted(backend: types.ModuleType) -> None:
    h, g = tree(backend)
    records = backend.ops([("charge", g, 1), ("uncharge", g, 1)])
    aligned = np.zeros(2, np.dtype(backend.OP_DTYPE.descr, align=True))
    aligned[:] = records
    c_array = (CRecord * 2)()
    ctypes.memmove(c_array, bytes(records), len(bytes(records)))
    for buf in (records, bytes(records), bytearray(records), memoryview(records),
                records.view(np.uint8), records.view(np.int8), records.view("V32"), aligned,
                c_array, records.reshape(1, 2)):
        assert list(h.replay(buf)) == [0, 0]
