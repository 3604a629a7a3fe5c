"""What the C-backed slab API (:mod:`pymemcg.slab`) and the model's
(:mod:`pymemcg.model.slab`) share: the ready-made caches, the result
tuples and the argument checks.  Pure Python: the model imports it without
the compiled core."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, NamedTuple, Optional

from .errors import InvalidError, InvalidTypeError

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any as Cgroup

__all__ = ["STANDARD_CACHES", "OBJCG_POINTER_SIZE", "SlabinfoRow", "SlabPinning", "ObjStock",
           "check_cache_name", "check_cache_geometry", "CACHE_NAME_MAX"]

#: Bytes an objcg-mode object is charged on top of its slot (the objcg pointer).
OBJCG_POINTER_SIZE = 8
#: A cache name's bytes at most.
CACHE_NAME_MAX = 64

#: Ready-made caches: name -> :meth:`Hierarchy.kmem_cache_create` arguments.
#: Sizes are configuration, not truth: the slot sizes (``objsize`` of
#: /proc/slabinfo) of a typical x86-64 distribution kernel of the 6.x series;
#: they move with the kernel version and its configuration, so check your
#: own /proc/slabinfo.  ``account``: created with SLAB_ACCOUNT (all of these
#: are, in kernels since 4.5); ``reclaimable``: SLAB_RECLAIM_ACCOUNT (dentry
#: and the inode caches).  The experiment of issue 9 fixes dentry 192 B, filp
#: 256 B, an inode-like cache of 640 B and vm_area_struct 176 B; the others
#: are typical values not checked against a 6.x x86-64 /proc/slabinfo.
STANDARD_CACHES: Dict[str, Dict[str, Any]] = {
    "dentry": dict(object_size=192, reclaimable=True),
    "filp": dict(object_size=256),
    "inode_cache": dict(object_size=640, reclaimable=True),
    "vm_area_struct": dict(object_size=176),
    "mm_struct": dict(object_size=1344, align=64),
    "task_struct": dict(object_size=9984, align=64),
    "signal_cache": dict(object_size=1152, align=64),
    "sighand_cache": dict(object_size=2112, align=64),
    "files_cache": dict(object_size=704, align=64),
    "cred_jar": dict(object_size=192, align=64),
    "anon_vma": dict(object_size=104),
    "pid": dict(object_size=128, align=64),
}


class SlabinfoRow(NamedTuple):
    """One cache's line of slabinfo (SLUB's ``get_slabinfo()``)."""

    name: str
    cgroup: Optional["Cgroup"]      # a clone's cgroup now; None for a root cache
    active_objs: int
    num_objs: int                   # slabs * objects per slab
    objsize: int                    # the slot
    objperslab: int
    pagesperslab: int
    nr_slabs: int
    dying: bool


class SlabPinning(NamedTuple):
    """What one cgroup's objects pin (``Hierarchy.slab_pinning``)."""

    shared_pages: int               # pages with its live objects and another cgroup's
    retained_pages: int             # pages that would stay if it freed all of its objects
    objects: int                    # its live objects
    pages: int                      # pages holding at least one of them


class ObjStock(NamedTuple):
    """A CPU's object stock (objcg mode)."""

    cgroup: Optional["Cgroup"]      # the objcg cached (its cgroup), or None
    nr_bytes: int
    slab_reclaimable: int           # statistic deltas not flushed yet, bytes
    slab_unreclaimable: int


def check_cache_name(name: object) -> str:
    """A cache name: 1..64 bytes of printable ASCII without spaces."""
    if not isinstance(name, str):
        raise InvalidTypeError(f"a cache name is a str, not {type(name).__name__}")
    if not 1 <= len(name) <= CACHE_NAME_MAX or not all("\x21" <= c <= "\x7e" for c in name):
        raise InvalidError(f"a cache name is 1..{CACHE_NAME_MAX} printable ASCII characters "
                           f"without spaces: {name!r}")
    return name


def check_cache_geometry(object_size: int, align: int) -> None:
    """object_size 1..32768 (PAGE_SIZE << 3), align a power of two 8..4096."""
    if not 1 <= object_size <= 32768:
        raise InvalidError(f"object_size must be in 1..32768, not {object_size}")
    if not 8 <= align <= 4096 or align & (align - 1):
        raise InvalidError(f"align must be a power of two in 8..4096, not {align}")
