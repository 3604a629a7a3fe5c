"""Batch replay: many charge-path operations in one call.

Every call into the C core costs 50-100 ns of CFFI crossing; a simulator
that drives millions of charges fills a buffer of fixed-size records and
hands it over once with :meth:`Hierarchy.replay`.  Records are 32 bytes, the
layout of ``struct pmc_op`` in ``csrc/pymemcg.h``:

======== ======= ==========================================================
field    type    meaning
======== ======= ==========================================================
op       uint32  OP_CHARGE, OP_UNCHARGE, OP_DRAIN, OP_DRAIN_ALL
flags    uint32  GFP bits of a charge
cgroup   int64   the cgroup's :attr:`Cgroup.handle` (id and generation), or
                 0 with OP_DRAIN_ALL for the whole tree
nr_pages int64   pages
cpu      int32   the CPU the operation runs on
kmem     int32   1: kernel memory (kmem=True)
======== ======= ==========================================================

Results are one int64 per record: 0 when it succeeded, the *id* of the
cgroup over its limit when a charge was refused, ``RESULT_UNDERFLOW`` when an
uncharge clamped some level (the state changed, as with the single call),
or ``-errno`` (``-ESTALE`` for a removed or freed cgroup, ``-EINVAL`` for a
bad record, which changes nothing; the batch goes on).  The generation in
each record makes sure a record never reaches a newer cgroup that reuses an
id.  If a reclaim hook raises, the batch stops after that record and the
exception propagates; the results written so far stay in ``out``.

Build records with :func:`ops` (from tuples or from columns: flags default
to ``GFP_KERNEL`` for charges, as :meth:`Cgroup.try_charge` does, where a
zeroed record would say 0) and read the results with :func:`decode`
(``ok`` / ``refused`` by which cgroup / ``underflow`` / ``error`` with its
errno name): the raw conventions above need not be remembered.

numpy is optional: records may be a buffer of raw bytes (``bytes``,
``bytearray``, :func:`pack_ops`) or of ``OP_DTYPE`` records (checked by
field names and types: any other structured dtype, or a buffer of other
items such as int64, is refused with :class:`InvalidTypeError`); results
any writable int64 buffer (:func:`check_out`).  With numpy, ``OP_DTYPE``
is the matching structured dtype and results come back as an ``int64``
array.  numpy is
imported on first use (``OP_DTYPE``, or a replay without ``out``), never by
``import pymemcg``.

Every bad argument raises a package error (also the fitting builtin):
:class:`InvalidTypeError` for a wrong type, :class:`InvalidError` for a bad
value; :func:`pack_ops` names the record and the field.
"""

from __future__ import annotations

import array
import errno as _errno
import re
import struct
import sys
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple

from ._common import check_bool, check_int
from .errors import InvalidError, InvalidTypeError, NotFoundError
from .gfp import GFP_KERNEL

__all__ = [
    "OP_CHARGE", "OP_UNCHARGE", "OP_DRAIN", "OP_DRAIN_ALL", "RESULT_UNDERFLOW",
    "OP_FORMAT", "OP_SIZE", "OP_DTYPE", "OP_NAMES", "ops", "decode", "ReplayResult",
    "pack_ops", "iter_ops", "new_results", "check_out",
]

OP_CHARGE = 1
OP_UNCHARGE = 2
OP_DRAIN = 3
OP_DRAIN_ALL = 4
RESULT_UNDERFLOW = -34

#: The op of each name that :func:`ops` and the text traces accept.
OP_NAMES = {"charge": OP_CHARGE, "uncharge": OP_UNCHARGE, "drain": OP_DRAIN,
            "drain_all": OP_DRAIN_ALL}

#: struct layout of one record (little-endian, naturally aligned).
OP_FORMAT = "<IIqqii"
_OP_STRUCT = struct.Struct(OP_FORMAT)
OP_SIZE = _OP_STRUCT.size
if OP_SIZE != 32:  # pragma: no cover - a property of the format string
    raise RuntimeError(f"struct pmc_op is 32 bytes, OP_FORMAT packs {OP_SIZE}")

#: (name, lowest, highest) of each field, in record order: what the C type holds.
_FIELDS = (
    ("op", 0, 2**32 - 1),
    ("flags", 0, 2**32 - 1),
    ("cgroup", -(2**63), 2**63 - 1),
    ("nr_pages", -(2**63), 2**63 - 1),
    ("cpu", -(2**31), 2**31 - 1),
    ("kmem", -(2**31), 2**31 - 1),
)

Record = Tuple[int, int, int, int, int, int]

_numpy_module: Any = None
_numpy_tried = False


def _numpy() -> Any:
    """numpy, imported on first use; None when it is not installed."""
    global _numpy_module, _numpy_tried
    if not _numpy_tried:
        try:
            import numpy
            _numpy_module = numpy
        except ImportError:  # pragma: no cover - numpy is an optional extra
            _numpy_module = None
        _numpy_tried = True
    return _numpy_module


def __getattr__(name: str) -> Any:
    # OP_DTYPE is built on first access, so that importing pymemcg does not
    # import numpy.  None when numpy is not installed.
    if name == "OP_DTYPE":
        np = _numpy()
        dtype = None
        if np is not None:
            #: numpy structured dtype of a record.
            dtype = np.dtype([("op", "<u4"), ("flags", "<u4"), ("cgroup", "<i8"),
                              ("nr_pages", "<i8"), ("cpu", "<i4"), ("kmem", "<i4")])
            if dtype.itemsize != OP_SIZE:  # pragma: no cover
                raise RuntimeError(f"OP_DTYPE is {dtype.itemsize} bytes, not {OP_SIZE}")
        globals()["OP_DTYPE"] = dtype
        return dtype
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _record(i: int, r: object) -> Record:
    """Record ``i`` checked field by field: six integers, each in the range
    of its C type (what the record *means* is the replay's business: an
    unknown op or a bad cgroup is a -EINVAL result, not an exception)."""
    if r.__class__ is tuple:
        fields: Tuple[Any, ...] = r
    elif isinstance(r, (str, bytes, bytearray, memoryview)):
        raise InvalidTypeError(
            f"record {i}: a record is a sequence of 6 integers, not {type(r).__name__}")
    else:
        try:
            # any iterable will do; anything else raises, reported below
            fields = tuple(r)  # type: ignore[arg-type]
        except Exception as exc:
            raise InvalidTypeError(
                f"record {i}: a record is a sequence of 6 integers "
                f"(op, flags, cgroup, nr_pages, cpu, kmem), not {type(r).__name__}") from exc
    if len(fields) != 6:
        raise InvalidError(
            f"record {i} has {len(fields)} fields, not 6 (op, flags, cgroup, nr_pages, cpu, kmem)")
    out = []
    for (name, lo, hi), v in zip(_FIELDS, fields):
        if v.__class__ is not int:
            v = check_int(v, f"record {i}: {name}")
        if not lo <= v <= hi:
            raise InvalidError(f"record {i}: {name} = {v} is out of range {lo}..{hi}")
        out.append(v)
    return tuple(out)  # type: ignore[return-value]


def pack_ops(records: "Iterable[Record]") -> bytearray:
    """Pack ``(op, flags, cgroup_handle, nr_pages, cpu, kmem)`` tuples into a
    buffer that :meth:`Hierarchy.replay` accepts (no numpy needed).

    Each record is a sequence of six integers (as ``check_int`` reads them:
    ``bool`` and ``float`` are not integers), each within its C type (``op``
    and ``flags`` uint32, ``cgroup`` and ``nr_pages`` int64, ``cpu`` and
    ``kmem`` int32).  Anything else raises :class:`InvalidTypeError` (a
    wrong type) or :class:`InvalidError` (a wrong number of fields, a value
    out of range), naming the record's index; an exception raised while
    iterating ``records`` becomes :class:`InvalidTypeError` with that
    exception as its ``__cause__``.
    """
    try:
        it = iter(records)
    except Exception as exc:
        raise InvalidTypeError(
            f"pack_ops needs an iterable of records, not {type(records).__name__}") from exc
    out = bytearray()
    pack = _OP_STRUCT.pack
    i = 0
    while True:
        try:
            r = next(it)
        except StopIteration:
            break
        except Exception as exc:
            raise InvalidTypeError(
                f"iterating the records raised {type(exc).__name__} at record {i}: {exc}") from exc
        if r.__class__ is tuple and len(r) == 6:
            a, b, c, d, e, f = r
            if (a.__class__ is int and b.__class__ is int and c.__class__ is int
                    and d.__class__ is int and e.__class__ is int and f.__class__ is int):
                try:
                    out += pack(a, b, c, d, e, f)
                    i += 1
                    continue
                except struct.error:
                    pass  # out of range: _record names the field
        out += pack(*_record(i, r))
        i += 1
    return out


#: (name, signed, size) of each field of a record: what a structured buffer
#: of records must hold, in this order (OP_DTYPE, a ctypes structure ...).
_RECORD_FIELDS = (("op", False, 4), ("flags", False, 4), ("cgroup", True, 8),
                  ("nr_pages", True, 8), ("cpu", True, 4), ("kmem", True, 4))
_WANTED = "op uint32, flags uint32, cgroup int64, nr_pages int64, cpu int32, kmem int32"
_STRUCT_ITEM = re.compile(r"([@=<>!^]?)(\d*)([a-zA-Z?])(?::([^:]*):)?")
#: buffer format -> why replay refuses it ("" when it is fine); bounded.
_FORMAT_VERDICTS: Dict[str, str] = {}


def _format_problem(fmt: str) -> str:
    """Why a buffer of format ``fmt`` is not a buffer of records ("" if it is).

    Raw bytes (``B``, ``b``, ``c``: bytes, bytearray, a uint8 array, what
    :func:`pack_ops` makes) are records by layout.  A structured buffer (a
    numpy structured array, a ctypes structure) must have the fields of
    ``OP_DTYPE``, by name and type, little-endian, without padding.  Anything
    else (int64 items, floats, another structure of 32 bytes) is refused.
    """
    verdict = _FORMAT_VERDICTS.get(fmt)
    if verdict is None:
        verdict = _judge_format(fmt)
        if len(_FORMAT_VERDICTS) < 64:
            _FORMAT_VERDICTS[fmt] = verdict
    return verdict


def _judge_format(fmt: str) -> str:
    plain = fmt.lstrip("@=<>!^")
    if plain in ("B", "b", "c") or re.fullmatch(r"\d*x", plain):
        return ""
    refused = (f"replay needs raw bytes or records of OP_DTYPE ({_WANTED}); "
               f"this buffer holds items of format {fmt!r}")
    if not (fmt.startswith("T{") and fmt.endswith("}")):
        return refused
    body, order, pos = fmt[2:-1], "@", 0
    # (name, signed or None where not an integer, size, format code, little-endian)
    fields: List[Tuple[str, Optional[bool], int, str, bool]] = []
    while pos < len(body):
        m = _STRUCT_ITEM.match(body, pos)
        if not m or m.end() == pos:
            return refused
        pos = m.end()
        order = m.group(1) or order
        code, name = m.group(3), m.group(4) or "?"
        if m.group(2) not in ("", "1") or code not in "bBhHiIlLqQnN":
            fields.append((name, None, 0, code, True))
            continue
        std = order in "<>!="
        size = struct.calcsize(("<" if std else "@") + code)
        little = order == "<" or (order in "@=^" and sys.byteorder == "little")
        fields.append((name, code.islower(), size, code, little))
    got = [(n, s, z) if little else None for n, s, z, _, little in fields]
    if got == list(_RECORD_FIELDS):
        return ""
    shown = ", ".join(
        f"{n} {'int' if s else 'uint'}{8 * z}{'' if little else ' big-endian'}"
        if s is not None else f"{n} {c!r}" for n, s, z, c, little in fields)
    return (f"replay needs records of OP_DTYPE ({_WANTED}, little-endian); this buffer's "
            f"records are ({shown})")


def as_bytes(ops: Any) -> memoryview:
    """The records of a buffer (an ``OP_DTYPE`` array, bytes, bytearray ...),
    as bytes; :class:`InvalidTypeError` for a buffer of anything else
    (another structured dtype, int64 items ...)."""
    try:
        view = memoryview(ops)
    except TypeError:
        raise InvalidTypeError(f"replay needs a buffer of records, not {type(ops).__name__}") \
            from None
    except Exception as exc:  # a released memoryview, a buffer that refuses export ...
        raise InvalidError(f"replay cannot read the buffer of records: {exc}") from exc
    problem = _format_problem(view.format)
    if problem:
        raise InvalidTypeError(problem)
    if not view.c_contiguous:
        raise InvalidError("replay needs a contiguous buffer of records")
    try:
        view = view.cast("B")
    except (TypeError, ValueError) as exc:  # pragma: no cover - C-contiguous views cast
        raise InvalidError(f"replay cannot read the buffer of records: {exc}") from exc
    if len(view) % OP_SIZE:
        raise InvalidError(f"buffer of {len(view)} bytes is not a whole number of "
                           f"{OP_SIZE}-byte records")
    return view


# ------------------------------------------------------------------ building

#: The columns of :func:`ops`, in the order of a record tuple.
_COLUMNS = ("op", "cgroup", "nr_pages", "cpu", "flags", "kmem")
_RANGES = {name: (lo, hi) for name, lo, hi in _FIELDS}


def _op_code(value: Any, where: str) -> int:
    if isinstance(value, str):
        try:
            return OP_NAMES[value]
        except KeyError:
            raise InvalidError(f"{where}: unknown op {value!r} (one of {', '.join(OP_NAMES)}, "
                               "or an OP_* number)") from None
    return check_int(value, f"{where}: op")


def _handle(value: Any, where: str) -> int:
    """A record's cgroup field: a Cgroup (either backend) or a handle; None is 0."""
    if value is None:
        return 0
    handle = getattr(value, "handle", None)
    if handle is not None and not isinstance(value, int):
        return check_int(handle, f"{where}: cgroup.handle")
    return check_int(value, f"{where}: cgroup")


def _in_range(name: str, v: int, where: str) -> int:
    lo, hi = _RANGES[name]
    if not lo <= v <= hi:
        raise InvalidError(f"{where}: {name} = {v} is out of range {lo}..{hi}")
    return v


def _one(where: str, op: Any, cgroup: Any, nr_pages: Any, cpu: Any, flags: Any,
         kmem: Any) -> Record:
    """One record in pack_ops order, every field checked."""
    code = _op_code(op, where)
    if code in (OP_CHARGE, OP_UNCHARGE):
        if cgroup is None:
            raise InvalidError(f"{where}: a charge or uncharge needs a cgroup")
        if nr_pages is None:
            raise InvalidError(f"{where}: a charge or uncharge needs nr_pages")
    if flags is None:
        flags = GFP_KERNEL if code == OP_CHARGE else 0
    return (_in_range("op", code, where),
            _in_range("flags", check_int(flags, f"{where}: flags"), where),
            _in_range("cgroup", _handle(cgroup, where), where),
            _in_range("nr_pages", check_int(0 if nr_pages is None else nr_pages,
                                            f"{where}: nr_pages"), where),
            _in_range("cpu", check_int(0 if cpu is None else cpu, f"{where}: cpu"), where),
            int(check_bool(False if kmem is None else kmem, f"{where}: kmem")))


def _is_column(value: Any) -> bool:
    """A column of values (one per record) rather than one value for all."""
    if value is None or isinstance(value, (str, bytes, bytearray, int)):
        return False
    if getattr(value, "handle", None) is not None:  # a Cgroup
        return False
    ndim = getattr(value, "ndim", None)
    if ndim is not None:
        return bool(ndim)
    try:
        iter(value)
    except TypeError:
        return False
    return True


def _finish(buf: bytearray) -> Any:
    np = _numpy()
    if np is None:
        return buf
    return np.frombuffer(buf, dtype=__getattr__("OP_DTYPE"))


def ops(records: Optional[Iterable[Any]] = None, *, op: Any = None, cgroup: Any = None,
        nr_pages: Any = None, cpu: Any = None, flags: Any = None, kmem: Any = None) -> Any:
    """Replay records, built and checked: a numpy array of ``OP_DTYPE`` when
    numpy is installed, else a ``bytearray`` (both are what
    :meth:`Hierarchy.replay` takes).

    From records::

        mc.ops([("charge", g, 10), ("uncharge", g, 4, 1), ("drain", None, 0, 1),
                {"op": "drain_all"}])

    each a tuple ``(op, cgroup, nr_pages, cpu, flags, kmem)`` of which the
    last three (or more, for drains) may be left out, or a mapping with those
    keys.  Or from columns, each a single value for every record or one
    value per record (a list, a numpy array ...)::

        mc.ops(op=mc.OP_CHARGE, cgroup=g, nr_pages=np.arange(1, 1001), cpu=cpus)

    Fields: ``op`` a name (``"charge"``, ``"uncharge"``, ``"drain"``,
    ``"drain_all"``) or an ``OP_*`` number; ``cgroup`` a :class:`Cgroup` of
    either backend, a handle (:attr:`Cgroup.handle`), or None (0: drains);
    ``nr_pages`` pages (0 if left out; a charge or uncharge needs it, and a
    cgroup); ``cpu`` (default 0); ``flags`` GFP bits, by default
    ``GFP_KERNEL`` for a charge, as :meth:`Cgroup.try_charge`, and 0 for the
    rest; ``kmem`` a bool (default False).  Every value is checked as
    :func:`pack_ops` checks it (integers, not bool or float; each within its
    C type), with the record's index in the message; whether a record makes
    sense to a hierarchy (a CPU it has, a cgroup that still exists) is the
    replay's answer, one result per record (:func:`decode`).
    """
    columns = {"op": op, "cgroup": cgroup, "nr_pages": nr_pages, "cpu": cpu,
               "flags": flags, "kmem": kmem}
    if records is not None:
        given = [k for k, v in columns.items() if v is not None]
        if given:
            raise InvalidError(f"ops: give records or columns ({', '.join(given)}), not both")
        return _finish(_pack(_from_records(records)))
    if op is None:
        raise InvalidError("ops needs records, or columns with at least op=")
    np = _numpy()
    if np is not None:
        return _columns_numpy(np, columns)
    return _finish(_pack(_from_columns(columns)))


def _pack(records: Iterable[Record]) -> bytearray:
    """Records already checked, packed."""
    out = bytearray()
    pack = _OP_STRUCT.pack
    for r in records:
        out += pack(*r)
    return out


def _from_records(records: Iterable[Any]) -> Iterable[Record]:
    if getattr(getattr(records, "dtype", None), "names", None):
        raise InvalidTypeError("ops takes tuples or mappings; this structured array already "
                               "holds records (replay takes an OP_DTYPE array as it is)")
    if isinstance(records, (str, bytes, bytearray, memoryview, Mapping)):
        raise InvalidTypeError(f"ops needs an iterable of records, not {type(records).__name__}")
    try:
        it = iter(records)
    except TypeError:
        raise InvalidTypeError(
            f"ops needs an iterable of records, not {type(records).__name__}") from None
    for i, r in enumerate(it):
        where = f"record {i}"
        if isinstance(r, Mapping):
            unknown = set(r) - set(_COLUMNS)
            if unknown:
                raise InvalidError(f"{where}: unknown field(s) {sorted(map(str, unknown))}; "
                                   f"the fields are {', '.join(_COLUMNS)}")
            if "op" not in r:
                raise InvalidError(f"{where}: no op")
            yield _one(where, *(r.get(k) for k in _COLUMNS))
            continue
        if isinstance(r, (str, bytes, bytearray)) or not hasattr(r, "__len__"):
            raise InvalidTypeError(f"{where}: a record is a tuple (op, cgroup, nr_pages, cpu, "
                                   f"flags, kmem) or a mapping, not {type(r).__name__}")
        fields = tuple(r)
        if not 1 <= len(fields) <= 6:
            raise InvalidError(f"{where} has {len(fields)} fields; a record is (op, cgroup, "
                               "nr_pages[, cpu[, flags[, kmem]]])")
        yield _one(where, *(fields + (None,) * (6 - len(fields))))


def _from_columns(columns: Dict[str, Any]) -> List[Record]:
    """Columns to records without numpy."""
    n, cols = _column_length({k: v for k, v in columns.items()})
    out = []
    for i in range(n):
        vals = [cols[k][i] if k in cols else columns[k] for k in _COLUMNS]
        out.append(_one(f"record {i}", *vals))
    return out


def _column_length(columns: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
    """The number of records and the columns that have one value per record."""
    cols: Dict[str, Any] = {}
    n = None
    for name in _COLUMNS:
        value = columns[name]
        if not _is_column(value):
            continue
        if getattr(value, "ndim", 0) > 1:
            raise InvalidError(f"ops: column {name} has {value.ndim} dimensions, not 1")
        try:
            col = value if hasattr(value, "__len__") and hasattr(value, "__getitem__") \
                else list(value)
            length = len(col)
        except Exception as exc:
            raise InvalidTypeError(f"ops: column {name} cannot be read: {exc}") from exc
        if n is not None and length != n:
            raise InvalidError(f"ops: columns of different lengths ({n} and {name}: {length})")
        n = length
        cols[name] = col
    return (1 if n is None else n), cols


def _columns_numpy(np: Any, columns: Dict[str, Any]) -> Any:
    n, cols = _column_length(columns)
    out = np.zeros(n, dtype=__getattr__("OP_DTYPE"))
    # op and cgroup may hold names and Cgroup objects: read those one by one.
    for name, conv in (("op", _op_code), ("cgroup", _handle)):
        col = cols.get(name)
        if col is None:
            if columns[name] is not None:
                columns[name] = conv(columns[name], f"ops: {name}")
        elif not (hasattr(col, "dtype") and col.dtype.kind in "iu"):
            cols[name] = [conv(v, f"record {i}") for i, v in enumerate(col)]
    for name in _COLUMNS:
        col = cols.get(name)
        value = col if col is not None else columns[name]
        if value is None:
            if name == "flags":
                out["flags"] = np.where(out["op"] == OP_CHARGE, GFP_KERNEL, 0)
            elif name in ("cgroup", "nr_pages"):
                charges = np.flatnonzero((out["op"] == OP_CHARGE) | (out["op"] == OP_UNCHARGE))
                if len(charges):
                    raise InvalidError(f"record {charges[0]}: a charge or uncharge needs "
                                       f"{'a cgroup' if name == 'cgroup' else 'nr_pages'}")
            continue
        if col is None:  # one value for every record
            if name == "kmem":
                value = int(check_bool(value, "ops: kmem"))
            elif name not in ("op", "cgroup"):
                value = check_int(value, f"ops: {name}")
            out[name] = _in_range(name, value, f"ops: {name}")
            continue
        arr = _int_column(np, name, col)
        lo, hi = _RANGES[name]
        if len(arr):
            if arr.min() < lo or arr.max() > hi:
                i = int(np.flatnonzero((arr < lo) | (arr > hi))[0])
                raise InvalidError(f"record {i}: {name} = {int(arr[i])} is out of range {lo}..{hi}")
        out[name] = arr
    return out


def _int_column(np: Any, name: str, col: Any) -> Any:
    """A column as a numpy integer array: integers only (bool for kmem)."""
    if hasattr(col, "dtype") and hasattr(col, "ndim"):
        arr = col
    else:
        lo, hi = _RANGES[name]
        values = []
        for i, v in enumerate(col):
            if name == "kmem":
                v = int(check_bool(v, f"record {i}: kmem"))
            elif v.__class__ is not int:
                v = check_int(v, f"record {i}: {name}")
            values.append(_in_range(name, v, f"record {i}"))
        return np.array(values, dtype=np.int64)
    kind = arr.dtype.kind
    if kind == "b" and name == "kmem":
        return arr.astype(np.int32)
    if kind not in "iu":
        raise InvalidTypeError(f"ops: column {name} must hold integers, not {arr.dtype}")
    return arr


# ------------------------------------------------------------------ decoding

class ReplayResult(NamedTuple):
    """What one replay record did (:func:`decode`).

    ``kind`` is ``"ok"``, ``"refused"`` (a charge refused: ``cgroup_id`` is
    the memcg id of the cgroup over its limit, ``cgroup`` that
    :class:`Cgroup` when :func:`decode` was given the hierarchy),
    ``"underflow"`` (an uncharge clamped some level: the state changed) or
    ``"error"`` (the record was refused and changed nothing: ``error`` is the
    errno name, ``"EINVAL"`` for a bad record, ``"ESTALE"`` for a cgroup
    that is gone, ``"ECANCELED"`` where a reclaim hook raised).  ``code`` is
    the raw result.
    """

    kind: str
    code: int
    cgroup_id: Optional[int] = None
    cgroup: Any = None
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        """True for ``"ok"``."""
        return self.kind == "ok"

    def __str__(self) -> str:
        if self.kind == "refused":
            if self.cgroup is None:
                return f"refused by id {self.cgroup_id}"
            return f"refused by {self.cgroup.path or '/'!r} (id {self.cgroup_id})"
        if self.kind == "error":
            return f"error {self.error}"
        return self.kind


_OK = ReplayResult("ok", 0)
_UNDERFLOW = ReplayResult("underflow", RESULT_UNDERFLOW)


def _codes(results: Any) -> List[int]:
    """The results as a list of ints: an int64 buffer or integers."""
    try:
        view = memoryview(results)
    except TypeError:
        view = None
    except Exception as exc:
        raise InvalidError(f"decode cannot read the results: {exc}") from exc
    if view is not None:
        with view:
            if view.itemsize != 8 or view.format not in _INT64_FORMATS:
                raise InvalidTypeError(
                    f"decode needs int64 results (what replay returns), not a buffer of "
                    f"format {view.format!r}")
            if not view.c_contiguous:
                raise InvalidError("decode needs a contiguous buffer of results")
            codes: List[int] = view.cast("B").cast("q").tolist()
            return codes
    if isinstance(results, (str, Mapping)):
        raise InvalidTypeError(f"decode needs the results of a replay, not "
                               f"{type(results).__name__}")
    try:
        return [check_int(r, f"result {i}") for i, r in enumerate(results)]
    except TypeError as exc:
        if isinstance(exc, InvalidTypeError):
            raise
        raise InvalidTypeError(f"decode needs the results of a replay, not "
                               f"{type(results).__name__}") from None


def decode(results: Any, hierarchy: Any = None) -> List[ReplayResult]:
    """One :class:`ReplayResult` per result of :meth:`Hierarchy.replay`.

    ``results``: what replay returned (or its ``out``), or any sequence of
    the int64 codes.  With ``hierarchy`` (the one that replayed), a refused
    record's ``cgroup`` is the :class:`Cgroup` that holds ``cgroup_id``
    (:meth:`Hierarchy.by_id`): decode right after the replay, before the
    tree changes, since ids are reused; :class:`NotFoundError` if no cgroup
    holds it any more.
    """
    out: List[ReplayResult] = []
    refused: Dict[int, ReplayResult] = {}
    errors: Dict[int, ReplayResult] = {}
    for i, code in enumerate(_codes(results)):
        if code == 0:
            out.append(_OK)
        elif code > 0:
            r = refused.get(code)
            if r is None:
                cg = None
                if hierarchy is not None:
                    try:
                        cg = hierarchy.by_id(code)
                    except NotFoundError:
                        raise NotFoundError(
                            f"result {i}: no cgroup holds id {code} now (decode right after "
                            "the replay: ids are reused)") from None
                r = refused[code] = ReplayResult("refused", code, code, cg)
            out.append(r)
        elif code == RESULT_UNDERFLOW:
            out.append(_UNDERFLOW)
        else:
            r = errors.get(code)
            if r is None:
                name = _errno.errorcode.get(-code, str(-code))
                r = errors[code] = ReplayResult("error", code, error=name)
            out.append(r)
    return out


def iter_ops(ops: Any) -> "Iterable[Record]":
    """Unpack the records of a buffer."""
    return struct.iter_unpack(OP_FORMAT, as_bytes(ops))


def new_results(n: int) -> Any:
    """An int64 result buffer: a numpy array when numpy is there."""
    np = _numpy()
    if np is not None:
        return np.zeros(n, dtype=np.int64)
    return array.array("q", bytes(8 * n))


#: The buffer formats of a native signed 64-bit integer (with the native
#: byte-order prefixes); itemsize 8 is checked as well ('l' is 4 bytes on
#: some platforms).
_INT64_FORMATS = frozenset(
    p + c for p in ("", "@", "=", "<" if sys.byteorder == "little" else ">")
    for c in ("q", "l", "n")
)


def _address(view: memoryview) -> Optional[int]:
    """The address of a writable byte view, or None where ctypes is missing."""
    try:
        import ctypes
    except ImportError:  # pragma: no cover - ctypes is in every CPython build we support
        return None
    return ctypes.addressof((ctypes.c_char * len(view)).from_buffer(view))


def check_out(out: Any, n: int) -> memoryview:
    """Check a caller's result buffer for ``n`` int64 results; return a 1-D
    int64 memoryview of its first ``n`` items, to write the results through.

    ``out`` must be a writable buffer of native signed 64-bit integers
    (format ``q``, ``l`` or ``n`` with itemsize 8: a numpy ``int64`` array,
    ``array.array("q")``, a memoryview of either ...), else
    :class:`InvalidTypeError` (a bytes object, a bytearray, a float or
    unsigned array, a read-only buffer ...); C-contiguous, 8-byte aligned and
    at least ``n`` items long, else :class:`InvalidError`.  A contiguous
    buffer of several dimensions is read flat, in C order.

    The view holds the buffer (a bytearray or array.array cannot be resized
    meanwhile); release it when done (``with check_out(out, n) as res:``).
    """
    try:
        view = memoryview(out)
    except TypeError:
        raise InvalidTypeError(
            f"out must be a writable buffer of int64 results, not {type(out).__name__}") from None
    except Exception as exc:  # a released memoryview, a buffer that refuses export ...
        raise InvalidError(f"out cannot be used as a result buffer: {exc}") from exc
    if view.readonly:
        raise InvalidTypeError(f"out must be a writable buffer; this {type(out).__name__} "
                               "is read-only")
    if view.itemsize != 8 or view.format not in _INT64_FORMATS:
        raise InvalidTypeError(
            f"out must hold native int64 results (buffer format 'q'), not format "
            f"{view.format!r} with {view.itemsize}-byte items")
    if not view.c_contiguous:
        raise InvalidError("out must be a C-contiguous buffer")
    raw = view.cast("B")
    if len(raw) < 8 * n:
        raise InvalidError(f"out holds {len(raw) // 8} results, the batch has {n}")
    if raw:
        addr = _address(raw)
        if addr is not None and addr % 8:
            raise InvalidError("out is not 8-byte aligned (int64 results need an aligned buffer)")
    return raw.cast("q")[:n]
