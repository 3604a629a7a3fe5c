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

numpy is optional: any writable buffer works.  With numpy, ``OP_DTYPE`` is the
matching structured dtype and results come back as an ``int64`` array.
"""

from __future__ import annotations

import array
import struct
from typing import Any, Iterator, Tuple

from .errors import InvalidError, InvalidTypeError

__all__ = [
    "OP_CHARGE", "OP_UNCHARGE", "OP_DRAIN", "OP_DRAIN_ALL", "RESULT_UNDERFLOW",
    "OP_FORMAT", "OP_SIZE", "OP_DTYPE", "pack_ops", "iter_ops", "new_results",
]

OP_CHARGE = 1
OP_UNCHARGE = 2
OP_DRAIN = 3
OP_DRAIN_ALL = 4
RESULT_UNDERFLOW = -34

#: struct layout of one record (little-endian, naturally aligned).
OP_FORMAT = "<IIqqii"
OP_SIZE = struct.calcsize(OP_FORMAT)
assert OP_SIZE == 32

try:
    import numpy as _np
except ImportError:  # pragma: no cover - numpy is an optional extra
    _np = None
    OP_DTYPE: Any = None
else:
    #: numpy structured dtype of a record.
    OP_DTYPE = _np.dtype([("op", "<u4"), ("flags", "<u4"), ("cgroup", "<i8"),
                          ("nr_pages", "<i8"), ("cpu", "<i4"), ("kmem", "<i4")])
    assert OP_DTYPE.itemsize == OP_SIZE

Record = Tuple[int, int, int, int, int, int]


def pack_ops(records: "list[Record] | Iterator[Record]") -> bytearray:
    """Pack ``(op, flags, cgroup_handle, nr_pages, cpu, kmem)`` tuples into a
    buffer that :meth:`Hierarchy.replay` accepts (no numpy needed)."""
    out = bytearray()
    for r in records:
        out += struct.pack(OP_FORMAT, *r)
    return out


def as_bytes(ops: Any) -> memoryview:
    """The records of any buffer (numpy array, bytes, bytearray ...), as bytes."""
    try:
        view = memoryview(ops)
    except TypeError:
        raise InvalidTypeError(f"replay needs a buffer of records, not {type(ops).__name__}") \
            from None
    if not view.c_contiguous:
        raise InvalidError("replay needs a contiguous buffer of records")
    view = view.cast("B")
    if len(view) % OP_SIZE:
        raise InvalidError(f"buffer of {len(view)} bytes is not a whole number of "
                           f"{OP_SIZE}-byte records")
    return view


def iter_ops(ops: Any) -> Iterator[Record]:
    """Unpack the records of a buffer."""
    return struct.iter_unpack(OP_FORMAT, as_bytes(ops))  # type: ignore[return-value]


def new_results(n: int) -> Any:
    """An int64 result buffer: a numpy array when numpy is there."""
    if _np is not None:
        return _np.zeros(n, dtype=_np.int64)
    return array.array("q", bytes(8 * n))
