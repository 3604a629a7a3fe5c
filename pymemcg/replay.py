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

numpy is optional: records may be any buffer, results any writable int64
buffer (:func:`check_out`).  With numpy, ``OP_DTYPE`` is the matching
structured dtype and results come back as an ``int64`` array.  numpy is
imported on first use (``OP_DTYPE``, or a replay without ``out``), never by
``import pymemcg``.

Every bad argument raises a package error (also the fitting builtin):
:class:`InvalidTypeError` for a wrong type, :class:`InvalidError` for a bad
value; :func:`pack_ops` names the record and the field.
"""

from __future__ import annotations

import array
import struct
import sys
from typing import Any, Iterable, Optional, Tuple

from ._common import check_int
from .errors import InvalidError, InvalidTypeError

__all__ = [
    "OP_CHARGE", "OP_UNCHARGE", "OP_DRAIN", "OP_DRAIN_ALL", "RESULT_UNDERFLOW",
    "OP_FORMAT", "OP_SIZE", "OP_DTYPE", "pack_ops", "iter_ops", "new_results", "check_out",
]

OP_CHARGE = 1
OP_UNCHARGE = 2
OP_DRAIN = 3
OP_DRAIN_ALL = 4
RESULT_UNDERFLOW = -34

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
        except ImportError:  # pragma: no cover - numpy is an optional extra
            numpy = None  # type: ignore[assignment]
        _numpy_module, _numpy_tried = numpy, True
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
        fields: Tuple[Any, ...] = r  # type: ignore[assignment]
    elif isinstance(r, (str, bytes, bytearray, memoryview)):
        raise InvalidTypeError(
            f"record {i}: a record is a sequence of 6 integers, not {type(r).__name__}")
    else:
        try:
            fields = tuple(r)  # type: ignore[call-overload]
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
        it = iter(records)  # type: ignore[call-overload]
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
        if r.__class__ is tuple and len(r) == 6:  # type: ignore[arg-type]
            a, b, c, d, e, f = r  # type: ignore[misc]
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


def as_bytes(ops: Any) -> memoryview:
    """The records of any buffer (numpy array, bytes, bytearray ...), as bytes."""
    try:
        view = memoryview(ops)
    except TypeError:
        raise InvalidTypeError(f"replay needs a buffer of records, not {type(ops).__name__}") \
            from None
    except Exception as exc:  # a released memoryview, a buffer that refuses export ...
        raise InvalidError(f"replay cannot read the buffer of records: {exc}") from exc
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


def iter_ops(ops: Any) -> "Iterable[Record]":
    """Unpack the records of a buffer."""
    return struct.iter_unpack(OP_FORMAT, as_bytes(ops))  # type: ignore[return-value]


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
