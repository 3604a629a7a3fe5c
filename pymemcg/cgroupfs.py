"""The memory controller's cgroup interface files: parse, format, errno.

One implementation for both backends.  :func:`read` and :func:`write` (and
``Cgroup.read``/``write``/``open``, which call them) work only through a
cgroup's public API and the primitives every backend's ``Cgroup`` offers
(``_counter_state``, ``_set_max``, ``_xchg_max``, ``_set_min``, ``_set_low``,
``_set_high``, ``_reset_watermark``, ``_reset_local_watermark``,
``_reset_failcnt``, ``_reclaim``, ``_event``, ``kmem_active``,
``_activate_kmem``, ``hierarchy.drain_all``), so the C core and the model
get the same file semantics byte for byte.

The kernel is the oracle.  Sources (read for this module):

* kernfs and the cgroup core: ``fs/kernfs/file.c`` (``kernfs_fop_write_iter``:
  a write longer than ``atomic_write_len`` -- one page for cgroup files --
  is ``E2BIG``; the buffer gets a terminating NUL, so the text ends at the
  first NUL byte) and ``kernel/cgroup/cgroup.c`` (``cgroup_file_write``:
  ``if (!nbytes) return 0`` -- a zero-length write is a no-op, even on a
  read-only file; no write handler -> ``EINVAL``; ``write_u64`` files go
  through ``kstrtoull(buf, 0)`` *without* stripping;
  ``cgroup_seqfile_show``: no read handler -> ``EINVAL``; cgroup files are
  opened without kernfs' extra permission check, so root reaches those
  handlers).  The byte count is checked before the NUL cut: ``b"\\0"`` is a
  one-byte write of the empty string (a v1 limit of 0).
* ``mm/memcontrol-v1.c`` (v1 files: ``mem_cgroup_read_u64``,
  ``mem_cgroup_write``, ``mem_cgroup_reset``, ``mem_cgroup_resize_max``,
  ``memcg_update_tcp_max``, ``mem_cgroup_force_empty``,
  ``mem_cgroup_hierarchy_write``, ``mem_cgroup_oom_control_*``,
  ``memcg1_stat_format``, ``mem_cgroup_legacy_files[]``) and
  ``mm/memcontrol.c`` (v2 files: ``memory_files[]``, ``swap_files[]``,
  ``memory_{min,low,high,max}_write``, ``peak_show``/``peak_write``,
  ``__memory_events_show``, ``memory_oom_group_write``, ``swap_events_show``)
  and ``mm/vmscan.c`` ``user_proactive_reclaim`` (memory.reclaim).

Every rule here was also checked against a live Linux 6.18 kernel's v1
files (tests/test_cgroupfs.py has the differential test).

Files per preset (anything else raises :class:`NotFoundError`, ``ENOENT``):

* cgroup v1 (``config.version == 1``), on every cgroup including the root:
  ``memory.{usage_in_bytes,limit_in_bytes,max_usage_in_bytes,failcnt,
  soft_limit_in_bytes,stat,force_empty,use_hierarchy,oom_control}``,
  ``memory.kmem.{usage_in_bytes,limit_in_bytes,max_usage_in_bytes,failcnt}``,
  ``memory.kmem.tcp.{...same four}``, and with ``config.memsw``
  ``memory.memsw.{usage_in_bytes,limit_in_bytes,max_usage_in_bytes,failcnt}``.
  v1 has no ``cgroup.stat`` (it is a v2 core file: ``cgroup1_base_files[]``
  lacks it).
* cgroup v2: ``memory.{current,min,low,high,max,peak,events,events.local,
  oom.group}`` and ``memory.swap.{current,high,max,peak,events}`` on
  non-root cgroups only (``CFTYPE_NOT_ON_ROOT``); ``memory.stat``,
  ``memory.reclaim`` and ``cgroup.stat`` everywhere.
* Not modelled (real files that raise ``ENOENT`` here): v1
  ``move_charge_at_immigrate``, ``pressure_level``, ``numa_stat``,
  ``cgroup.event_control``; v2 ``numa_stat``,
  ``zswap.*``; the cgroup core's ``cgroup.procs``, ``tasks`` and friends.

Decisions (documented deviations and choices):

* Text: a ``str`` is written as its UTF-8 bytes.  Handlers strip with the
  kernel's ``isspace`` set (space, ``\\t \\n \\v \\f \\r`` and byte 0xA0)
  where the kernel calls ``strstrip()``, and not where it does not
  (``write_u64`` files: one trailing ``\\n`` allowed, nothing else).
* Reads return ``str`` ending in ``"\\n"`` exactly as the kernel prints.
* v1 root usage: the kernel approximates the root's ``usage_in_bytes``
  from global page statistics (file + anon pages system-wide); pymemcg
  prints the root's counter, which children charge hierarchically.
* ``limit_rounding == "up"`` (3.8, res_counter): a limit is rounded up to a
  page (``PAGE_ALIGN``, wrapping mod 2**64), ``-`` is only accepted as a
  base-10 1 (``-1``, ``-01``), and unlimited reads ``9223372036854775807``
  (LLONG_MAX).  A byte value at or above ``PAGE_COUNTER_MAX`` pages is
  stored as unlimited (res_counter would keep and print the exact value).
  Limits are lowered with the era's loop (``config.charge_loop``): the
  current ``mem_cgroup_resize_max`` (drain once, then one page per round,
  EBUSY on a round without progress), or 3.8's ``mem_cgroup_resize_limit``
  (``MEM_CGROUP_RECLAIM_RETRIES`` fruitless rounds per cgroup of the
  subtree, no drain of its own, so stocked pages keep usage up).  The
  current cgroup core is used on every preset (3.8's core rejected writes
  of 64 bytes or more, stripped ``write_u64`` input and had no zero-length
  shortcut).
* memory.stat prints only the keys pymemcg keeps, in the kernel's order:
  v1 ``rss`` (this cgroup's anon), ``hierarchical_memory_limit``,
  ``hierarchical_memsw_limit``, ``total_rss`` (the subtree's anon, dying
  cgroups included; v1's memory.stat has no kernel-memory keys); v2
  ``anon``, ``kernel``, ``kernel_stack``, ``pagetables``, ``sock``,
  ``slab_reclaimable``, ``slab_unreclaimable``, ``slab`` (hierarchical, in
  bytes; ``kernel`` includes the stacks, page tables and slab pages, as
  MEMCG_KMEM does, and not ``sock``; the slab keys are the clone era's
  whole slab pages, or the objcg era's object bytes as flushed from the
  per-CPU object stocks, which hold back up to a page per CPU).
  v1 ``memory.kmem.slabinfo`` (read-only) lists the cgroup's clones in
  /proc/slabinfo's format in clone mode, and is empty in 5.9+ modes.  Negative
  statistics print as 0, as ``memcg_page_state()`` clamps them.
* memory.kmem.tcp.limit_in_bytes sets the ``tcpmem`` limit (EBUSY below
  its usage, no reclaim), then switches socket accounting for the cgroup's
  new sockets by era (``Config.tcpmem_counter``): 4.5+ any successful
  write turns it on for good (even "-1"); 3.x a finite limit turns it on and
  unlimited turns it off.  A failed write switches nothing.
* memory.events prints the backend's event names in order (``low high max
  oom oom_kill oom_group_kill``: Linux 5.17 to 6.18; 6.19 appends
  ``sock_throttled``, which pymemcg does not count).
* cgroup.stat prints ``nr_descendants``, ``nr_subsys_memory``,
  ``nr_dying_descendants``, ``nr_dying_subsys_memory`` (the 6.11+ format
  restricted to the one controller pymemcg has).
* memory.max: with every reclaim round exhausted it raises the ``oom``
  event and stops (``mem_cgroup_out_of_memory`` finds no task to kill:
  pymemcg has no OOM killer yet).
* memory.reclaim asks the hook for ``max((want - done) // 4,
  SWAP_CLUSTER_MAX)`` pages per round: the kernel asks for a quarter of
  the rest and relies on ``try_to_free_mem_cgroup_pages()`` reclaiming at
  least SWAP_CLUSTER_MAX (32).  ``swappiness=`` is parsed and validated,
  then ignored (hooks see no swappiness).
* v1 ``oom_control`` and ``swappiness`` are kept by the core, and a new
  cgroup copies both from its parent (``mem_cgroup_css_alloc``; a child
  of the root copies the vm.swappiness sysctl, which is what the root's
  ``swappiness`` file shows and, on current kernels, sets).  In 3.x a write
  to either is EINVAL under a use_hierarchy parent (so nowhere in the 3.8
  preset, which runs with use_hierarchy = 1), and 3.8 printed no
  ``oom_kill`` line.  ``under_oom`` is always 0.  ``soft_limit_in_bytes`` is
  stored and read back; it drives nothing (cgroupfs' per-cgroup state).
* v1 ``use_hierarchy`` reads ``config.use_hierarchy``; writing that value
  succeeds, anything else is ``EINVAL`` (3.8's 0/EBUSY rules are not
  modelled: the 3.8 preset fixes use_hierarchy at 1).
* Signals (``EINTR``) and ``O_NONBLOCK`` are not modelled.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, Dict, Iterator, Optional, Union

from . import _kstrtox
from ._common import PAGE_COUNTER_MAX, PAGE_SIZE, U64_MASK
from .errors import (
    AgainError,
    BusyError,
    InvalidError,
    InvalidTypeError,
    NoDeviceError,
    NotFoundError,
    NotSupportedError,
    RangeError,
    StaleHandleError,
    TooBigError,
)

__all__ = ["read", "write", "open", "open_peak", "CgroupFile", "PeakFile", "files"]

Data = Union[str, bytes, bytearray, memoryview]

#: LLONG_MAX: res_counter's RES_COUNTER_MAX / RESOURCE_MAX ("unlimited" on 3.8).
LLONG_MAX = 2**63 - 1
#: SWAP_CLUSTER_MAX: the least try_to_free_mem_cgroup_pages() reclaims.
SWAP_CLUSTER_MAX = 32
#: memory.reclaim's swappiness range (MIN_SWAPPINESS, MAX_SWAPPINESS).
_MIN_SWAPPINESS, _MAX_SWAPPINESS = 0, 200
#: lib/parser.c NUMBER_BUF_LEN (match_int's copy of the digits).
_NUMBER_BUF_LEN = 24
#: Per-open-file peak value before the first write (OFP_PEAK_UNSET).
OFP_PEAK_UNSET = -1

# The kernel's isspace() (lib/ctype.c: _S for \t \n \v \f \r, space and 0xA0).
_ISSPACE = frozenset(b" \t\n\v\f\r\xa0")
# memparse's suffixes, either case: K << 10 ... E << 60.


# ---------------------------------------------------------------------------
# text: the write buffer, strstrip, the kernel's number parsers


def _raw(data: object) -> bytes:
    """The bytes a write(2) of ``data`` sends."""
    if isinstance(data, str):
        try:
            return data.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidError(f"cannot write {data!r}: not encodable as UTF-8") from None
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise InvalidTypeError(f"data must be str or bytes, not {type(data).__name__}")


def _cstring(raw: bytes) -> bytes:
    """The write buffer as a C string: it ends at the first NUL."""
    nul = raw.find(b"\0")
    return raw if nul < 0 else raw[:nul]


def _strstrip(s: bytes) -> bytes:
    """``strstrip()``/``strim()``: trailing, then leading ``isspace``."""
    end = len(s)
    while end and s[end - 1] in _ISSPACE:
        end -= 1
    start = 0
    while start < end and s[start] in _ISSPACE:
        start += 1
    return s[start:end]


def _page_counter_memparse(s: bytes, max_token: bytes) -> int:
    """``page_counter_memparse()``: pages, rounded down, capped."""
    if s == max_token:
        return PAGE_COUNTER_MAX
    value, end = _kstrtox.memparse(s)
    if end != len(s):
        raise InvalidError(f"invalid size {s!r}")
    return min(value // PAGE_SIZE, PAGE_COUNTER_MAX)


def _res_counter_memparse(s: bytes) -> int:
    """3.8 ``res_counter_memparse_write_strategy()``, in pages: ``-`` only
    as a base-10 1; else memparse, ``PAGE_ALIGN`` (wrapping), capped."""
    if s[:1] == b"-":
        value, end = _kstrtox.simple_strtoull(s, 1, 10)
        if value != 1 or end != len(s):
            raise InvalidError(f"invalid size {s!r}")
        return PAGE_COUNTER_MAX
    value, end = _kstrtox.memparse(s)
    if end != len(s):
        raise InvalidError(f"invalid size {s!r}")
    aligned = (value + PAGE_SIZE - 1) & U64_MASK & ~(PAGE_SIZE - 1)
    return min(aligned // PAGE_SIZE, PAGE_COUNTER_MAX)


def _match_swappiness(token: bytes) -> bool:
    """lib/parser.c ``match_token()`` for ``swappiness=%d`` then
    ``swappiness=max``; True if the token is a valid swappiness option."""
    prefix = b"swappiness="
    if not token.startswith(prefix):
        return False
    rest = token[len(prefix):]
    # %d: simple_strtol(s, &to, 0); a match needs to != from and nothing after.
    neg = rest[:1] == b"-"
    value, end = _kstrtox.simple_strtoull(rest, 1 if neg else 0, 0)
    if end > 0 and end == len(rest):
        digits = rest[:end]
        # match_int(): match_strlcpy into NUMBER_BUF_LEN, simple_strtol, int range
        if len(digits) >= _NUMBER_BUF_LEN:
            return False
        if value >= 2**63:  # the unsigned long long reinterpreted as long
            value -= 2**64
        if neg:
            value = -value
        return _MIN_SWAPPINESS <= value <= _MAX_SWAPPINESS
    return rest == b"max"


# ---------------------------------------------------------------------------
# per-cgroup state that only the interface files keep


class _State:
    __slots__ = ("soft_limit", "peaks")

    def __init__(self) -> None:
        self.soft_limit = PAGE_COUNTER_MAX  # css_alloc: memcg->soft_limit = PAGE_COUNTER_MAX
        # counter name -> open files that have written (the kernel's watchers list)
        self.peaks: Dict[str, "weakref.WeakSet[CgroupFile]"] = {}


#: hierarchy -> {cgroup handle: _State}.  Keyed by handle, not by the Cgroup
#: object, because a hierarchy need not keep its Cgroup objects alive.
_STATES: "weakref.WeakKeyDictionary[Any, Dict[int, _State]]" = weakref.WeakKeyDictionary()
_state_lock = threading.Lock()
#: memcg_max_mutex: serialises the v1 limit invariant check with set_max.
_max_mutex = threading.Lock()
#: memcg->peaks_lock.
_peaks_lock = threading.Lock()


def _state(cg: Any) -> _State:
    hier, handle = cg.hierarchy, cg.handle
    with _state_lock:
        states = _STATES.get(hier)
        if states is None:
            states = _STATES[hier] = {}
        st = states.get(handle)
        if st is None:
            if len(states) >= 64 and (len(states) & (len(states) - 1)) == 0:
                _forget_freed(hier, states)
            st = states[handle] = _State()
        return st


def _forget_freed(hier: Any, states: Dict[int, _State]) -> None:
    """Drop the states of freed cgroups (a handle is never reused), at each
    doubling of the table: amortised O(1) per new state."""
    live = {c.handle for c in hier.cgroups()}
    for handle in [h for h in states if h not in live]:
        del states[handle]


# ---------------------------------------------------------------------------
# helpers over the primitives


def _hierarchy_of(cg: Any) -> Any:
    """The hierarchy of a cgroup of either backend, even a freed one."""
    h = getattr(cg, "_hier", None)
    return h if h is not None else cg._hierarchy


def _config(cg: Any) -> Any:
    return cg.hierarchy.config


def _is_root(cg: Any) -> bool:
    return cg.parent is None


def _counter(cg: Any, name: str) -> Any:
    return cg._counter_state(name)


def _v1_bytes(cg: Any, pages: int) -> int:
    """A v1 limit in bytes: unlimited is LLONG_MAX with res_counter (3.8)."""
    if pages == PAGE_COUNTER_MAX and _config(cg).limit_rounding == "up":
        return LLONG_MAX
    return pages * PAGE_SIZE


def _tunable(pages: int) -> str:
    """``seq_puts_memcg_tunable()``: ``max`` or bytes."""
    return "max\n" if pages == PAGE_COUNTER_MAX else f"{pages * PAGE_SIZE}\n"


def _v1_parse_limit(cg: Any, buf: bytes) -> int:
    s = _strstrip(buf)
    if _config(cg).limit_rounding == "up":
        return _res_counter_memparse(s)
    return _page_counter_memparse(s, b"-1")


# ---------------------------------------------------------------------------
# v1 handlers


def _v1_usage(counter: str) -> Callable[[Any], str]:
    def show(cg: Any) -> str:
        # mem_cgroup_read_u64 RES_USAGE; the root's memory/memsw usage is the
        # kernel's global-stat approximation, here the hierarchical counter.
        return f"{_counter(cg, counter).usage * PAGE_SIZE}\n"
    return show


def _v1_limit_show(counter: str) -> Callable[[Any], str]:
    def show(cg: Any) -> str:
        return f"{_v1_bytes(cg, _counter(cg, counter).max)}\n"
    return show


def _v1_max_usage_show(counter: str) -> Callable[[Any], str]:
    def show(cg: Any) -> str:
        return f"{_counter(cg, counter).watermark * PAGE_SIZE}\n"
    return show


def _v1_failcnt_show(counter: str) -> Callable[[Any], str]:
    def show(cg: Any) -> str:
        return f"{_counter(cg, counter).failcnt}\n"
    return show


def _v1_reset_watermark(counter: str) -> Callable[[Any, bytes], None]:
    def store(cg: Any, buf: bytes) -> None:
        cg._reset_watermark(counter)  # mem_cgroup_reset: the value is ignored
    return store


def _v1_reset_failcnt(counter: str) -> Callable[[Any, bytes], None]:
    def store(cg: Any, buf: bytes) -> None:
        cg._reset_failcnt(counter)
    return store


def _resize_max(cg: Any, pages: int, memsw: bool) -> None:
    """``mem_cgroup_resize_max()``: the memory.max <= memsw.max invariant
    (EINVAL), set_max; after the first EBUSY drain the stocks once, then
    reclaim one page a round; EBUSY as soon as a round frees nothing."""
    counter = "memsw" if memsw else "memory"
    drained = False
    while True:
        with _max_mutex:
            if memsw:
                ok = pages >= _counter(cg, "memory").max
            else:
                ok = pages <= _counter(cg, "memsw").max
            if not ok:
                raise InvalidError(
                    f"{'memsw' if memsw else 'memory'} limit would break memory.max <= memsw.max")
            try:
                cg._set_max(counter, pages)
                return
            except BusyError:
                pass
        if not drained:
            cg.hierarchy.drain_all(root=cg)
            drained = True
            continue
        if not cg._reclaim(1):
            raise BusyError(f"cannot shrink {cg.path or '/'} below its {counter} usage")


def _margin(cg: Any, counter: str) -> int:
    """``mem_cgroup_margin()`` of one counter: pages left below its max."""
    c = _counter(cg, counter)
    return c.max - c.usage if c.usage < c.max else 0


def _resize_limit_3_8(cg: Any, pages: int, memsw: bool) -> None:
    """3.8 ``mem_cgroup_resize_limit()`` / ``_memsw_limit()``: no drain of its
    own; a budget of MEM_CGROUP_RECLAIM_RETRIES per cgroup of the subtree,
    spent only by rounds after which usage did not drop; each round is a
    ``mem_cgroup_reclaim(SHRINK)``, which stops at the first pass that frees
    anything or leaves a margin under the old limit, and drains the stocks
    only on a second pass.  EBUSY when the budget is spent."""
    counter = "memsw" if memsw else "memory"
    subtree = 1 + cg.nr_descendants
    retry_count = _config(cg).reclaim_retries * subtree
    oldusage = _counter(cg, counter).usage
    while retry_count:
        with _max_mutex:
            if memsw:
                ok = pages >= _counter(cg, "memory").max
            else:
                ok = pages <= _counter(cg, "memsw").max
            if not ok:
                raise InvalidError(
                    f"{'memsw' if memsw else 'memory'} limit would break memory.max <= memsw.max")
            try:
                cg._set_max(counter, pages)
                return
            except BusyError:
                pass
        total = 0
        for loop in range(100):                 # mem_cgroup_reclaim(SHRINK)
            if loop:
                cg.hierarchy.drain_all(root=cg)  # drain_all_stock_async
            total += cg._reclaim(32)
            if total:
                break
            margin = _margin(cg, "memory")
            if _config(cg).memsw:
                margin = min(margin, _margin(cg, "memsw"))
            if margin:
                break
            if loop and not total:
                break
        curusage = _counter(cg, counter).usage
        if curusage >= oldusage:
            retry_count -= 1
        else:
            oldusage = curusage
    raise BusyError(f"cannot shrink {cg.path or '/'} below its {counter} usage")


def _v1_limit_store(counter: str) -> Callable[[Any, bytes], None]:
    def store(cg: Any, buf: bytes) -> None:
        pages = _v1_parse_limit(cg, buf)
        if _is_root(cg):
            raise InvalidError("cannot set a limit on the root cgroup")
        if counter in ("memory", "memsw") and _config(cg).charge_loop == "3.8":
            _resize_limit_3_8(cg, pages, counter == "memsw")
        elif counter in ("memory", "memsw"):
            _resize_max(cg, pages, counter == "memsw")
        elif counter == "kmem":
            _kmem_limit(cg, pages)
        else:
            _tcp_limit(cg, pages)
    return store


def _tcp_limit(cg: Any, pages: int) -> None:
    """memory.kmem.tcp.limit_in_bytes: the limit (EBUSY below the usage, no
    reclaim), then socket accounting for the cgroup's new sockets.
    4.5+ ``memcg_update_tcp_max``: any successful write turns it on, for
    good.  3.x ``tcp_update_limit``: a finite limit turns it on, unlimited
    ("-1", or any value at or above PAGE_COUNTER_MAX pages, which the
    res_counter preset stores as unlimited) turns it off."""
    with _max_mutex:
        cg._set_max("tcpmem", pages)
        if _config(cg).tcpmem_counter == "res_counter":
            cg._tcpmem_activate(pages != PAGE_COUNTER_MAX)
        elif not cg.tcpmem_active:
            cg._tcpmem_activate(True)


def _kmem_limit(cg: Any, pages: int) -> None:
    mode = _config(cg).kmem_limit
    if mode == "ignored":  # 6.6+: "Writing any value to this file has no effect"
        return
    if mode == "eopnotsupp":  # 5.16-6.5: parsed, then refused ("deprecated")
        raise NotSupportedError(f"memory.kmem.limit_in_bytes: EOPNOTSUPP on this kernel")
    # "enforced": 3.8 memcg_update_kmem_limit / 4.x memcg_update_kmem_max.
    # The first limit activates kmem accounting (EBUSY with children); a kmem
    # limit never reclaims, so EBUSY if the kmem usage is above it.
    with _max_mutex:
        if not cg.kmem_active and pages != PAGE_COUNTER_MAX:
            cg._activate_kmem()
        cg._set_max("kmem", pages)


def _soft_limit_show(cg: Any) -> str:
    return f"{_v1_bytes(cg, _state(cg).soft_limit)}\n"


def _soft_limit_store(cg: Any, buf: bytes) -> None:
    _state(cg).soft_limit = _v1_parse_limit(cg, buf)


def _force_empty_store(cg: Any, buf: bytes) -> None:
    """``mem_cgroup_force_empty()``: drain, then reclaim a page at a time
    while anything is charged, giving up after ``reclaim_retries``
    unproductive rounds; succeeds either way."""
    if _is_root(cg):
        raise InvalidError("force_empty on the root cgroup")
    cg.hierarchy.drain_all(root=cg)
    retries = _config(cg).reclaim_retries
    while retries and _counter(cg, "memory").usage:
        if not cg._reclaim(1):
            retries -= 1


def _use_hierarchy_show(cg: Any) -> str:
    return f"{int(bool(_config(cg).use_hierarchy))}\n"


def _use_hierarchy_store(cg: Any, buf: bytes) -> None:
    if _kstrtox.kstrtoull(buf) != int(bool(_config(cg).use_hierarchy)):
        raise InvalidError("non-hierarchical mode is not supported")


def _oom_control_show(cg: Any) -> str:
    text = f"oom_kill_disable {cg._tunable('oom_kill_disable')}\nunder_oom 0\n"
    if _config(cg).charge_loop == "3.8":
        return text  # 3.8 printed no oom_kill count
    return text + f"oom_kill {cg.events['oom_kill']}\n"


def _v1_tunable_locked(cg: Any) -> bool:
    """3.x ``mem_cgroup_oom_control_write`` / ``_swappiness_write``: EINVAL
    when the parent has use_hierarchy, or the cgroup has use_hierarchy and
    children (so with use_hierarchy = 1 from the root, nowhere)."""
    parent = cg.parent
    return _config(cg).charge_loop == "3.8" and (
        (parent is not None and _config(cg).use_hierarchy)
        or (_config(cg).use_hierarchy and bool(cg.children)))


def _oom_control_store(cg: Any, buf: bytes) -> None:
    val = _kstrtox.kstrtoull(buf)
    if _is_root(cg) or val not in (0, 1):
        raise InvalidError("oom_control takes 0 or 1 on a non-root cgroup")
    if _v1_tunable_locked(cg):
        raise InvalidError("3.x: oom_control is fixed under a hierarchical parent")
    cg._tunable("oom_kill_disable", val)


def _swappiness_show(cg: Any) -> str:
    return f"{cg._tunable('swappiness')}\n"


def _swappiness_store(cg: Any, buf: bytes) -> None:
    """``mem_cgroup_swappiness_write``: 0..MAX_SWAPPINESS (200; 100 in 3.x);
    on the root it sets the vm.swappiness sysctl (6.x) or is EINVAL (3.x)."""
    val = _kstrtox.kstrtoull(buf)
    old = _config(cg).charge_loop == "3.8"
    if val > (100 if old else 200):
        raise InvalidError(f"swappiness {val} is out of range")
    if old and (_is_root(cg) or _v1_tunable_locked(cg)):
        raise InvalidError("3.x: swappiness is fixed on the root and under a hierarchical parent")
    cg._tunable("swappiness", val)


def _v1_stat_show(cg: Any) -> str:
    rss = max(cg.stat_local["anon"], 0)
    total_rss = max(cg._stat_hierarchical()["anon"], 0)
    memory = memsw = PAGE_COUNTER_MAX
    c = cg
    while c is not None:
        memory = min(memory, _counter(c, "memory").max)
        memsw = min(memsw, _counter(c, "memsw").max)
        c = c.parent
    return (f"rss {rss}\n"
            f"hierarchical_memory_limit {_v1_bytes(cg, memory)}\n"
            f"hierarchical_memsw_limit {_v1_bytes(cg, memsw)}\n"
            f"total_rss {total_rss}\n")


# ---------------------------------------------------------------------------
# v2 handlers


def _v2_current(counter: str) -> Callable[[Any], str]:
    def show(cg: Any) -> str:
        return f"{_counter(cg, counter).usage * PAGE_SIZE}\n"
    return show


def _v2_tunable(counter: str, field: str) -> Callable[[Any], str]:
    def show(cg: Any) -> str:
        return _tunable(getattr(_counter(cg, counter), field))
    return show


def _v2_parse(buf: bytes) -> int:
    return _page_counter_memparse(_strstrip(buf), b"max")


def _min_store(cg: Any, buf: bytes) -> None:
    cg._set_min(_v2_parse(buf))


def _low_store(cg: Any, buf: bytes) -> None:
    cg._set_low(_v2_parse(buf))


def _high_store(cg: Any, buf: bytes) -> None:
    """``memory_high_write()``: set high, then reclaim toward it (drain
    first); stop after ``reclaim_retries`` unproductive rounds.  Never fails."""
    high = _v2_parse(buf)
    cg._set_high("memory", high)
    retries = _config(cg).reclaim_retries
    drained = False
    while True:
        usage = _counter(cg, "memory").usage
        if usage <= high:
            break
        if not drained:
            cg.hierarchy.drain_all(root=cg)
            drained = True
            continue
        if not cg._reclaim(usage - high):
            if not retries:
                break
            retries -= 1


def _max_store(cg: Any, buf: bytes) -> None:
    """``memory_max_write()``: install the limit whatever the usage, then
    reclaim toward it (drain first); after ``reclaim_retries`` unproductive
    rounds raise ``oom`` and run the OOM killer, again while it kills
    someone and the usage is above the limit.  Never fails."""
    limit = _v2_parse(buf)
    cg._xchg_max("memory", limit)
    nr_reclaims = _config(cg).reclaim_retries
    drained = False
    while True:
        usage = _counter(cg, "memory").usage
        if usage <= limit:
            break
        if not drained:
            cg.hierarchy.drain_all(root=cg)
            drained = True
            continue
        if nr_reclaims:
            if not cg._reclaim(usage - limit):
                nr_reclaims -= 1
            continue
        cg._event("oom")
        if not cg._out_of_memory():
            break  # mem_cgroup_out_of_memory() found no one to kill


def _swap_high_store(cg: Any, buf: bytes) -> None:
    cg._set_high("swap", _v2_parse(buf))


def _swap_max_store(cg: Any, buf: bytes) -> None:
    cg._xchg_max("swap", _v2_parse(buf))


def _events_show(local: bool) -> Callable[[Any], str]:
    def show(cg: Any) -> str:
        events = cg.events_local if local else cg.events
        return "".join(f"{name} {count}\n" for name, count in events.items())
    return show


def _swap_events_show(cg: Any) -> str:
    return "high 0\nmax 0\nfail 0\n"  # no swap is modelled


def _v2_stat_show(cg: Any) -> str:
    stat = cg.stat  # hierarchical on v2
    # memory_stats[] order: anon, (file), kernel, kernel_stack, pagetables,
    # (sec_pagetables, percpu), sock, (vmalloc ... unevictable),
    # slab_reclaimable, slab_unreclaimable -- and right after the latter
    # memcg_stat_format() prints "slab", the sum of the two.
    out = "".join(f"{key} {max(stat[key], 0)}\n"
                  for key in ("anon", "kernel", "kernel_stack", "pagetables", "sock",
                              "slab_reclaimable", "slab_unreclaimable"))
    slab = max(stat["slab_reclaimable"], 0) + max(stat["slab_unreclaimable"], 0)
    return out + f"slab {slab}\n"


def _kmem_slabinfo_show(cg: Any) -> str:
    """v1 memory.kmem.slabinfo: clone mode (3.8-5.8) lists the cgroup's
    caches under /proc/slabinfo's header (nothing at all while it has none);
    5.9+ kept the file and prints nothing."""
    return str(cg._kmem_slabinfo())


def _oom_group_show(cg: Any) -> str:
    return f"{cg._tunable('oom_group')}\n"


def _oom_group_store(cg: Any, buf: bytes) -> None:
    value = _kstrtox.kstrtoint(_strstrip(buf))
    if value not in (0, 1):
        raise InvalidError("memory.oom.group takes 0 or 1")
    cg._tunable("oom_group", value)


def _reclaim_store(cg: Any, buf: bytes) -> None:
    """``memory.reclaim`` (``user_proactive_reclaim()``): "SIZE
    [swappiness=N|max]"; reclaim until SIZE is reclaimed; EAGAIN after
    ``reclaim_retries`` unproductive rounds and one more."""
    s = _strstrip(buf)
    value, end = _kstrtox.memparse(s)
    if end == 0:
        raise InvalidError(f"memory.reclaim needs a size: {s!r}")
    nr_to_reclaim = value // PAGE_SIZE
    for token in _strstrip(s[end:]).split(b" "):
        if token and not _match_swappiness(token):
            raise InvalidError(f"memory.reclaim: bad option {token!r}")
    retries = _config(cg).reclaim_retries
    nr_reclaimed = 0
    while nr_reclaimed < nr_to_reclaim:
        # "Will converge on zero, but reclaim enforces a minimum"
        batch = max((nr_to_reclaim - nr_reclaimed) // 4, SWAP_CLUSTER_MAX)
        reclaimed = cg._reclaim(batch)
        if not reclaimed:
            if not retries:
                raise AgainError(
                    f"memory.reclaim: {nr_reclaimed} of {nr_to_reclaim} pages reclaimed")
            retries -= 1
        nr_reclaimed += reclaimed


def _cgroup_stat_show(cg: Any) -> str:
    n, d = cg.nr_descendants, cg.nr_dying_descendants
    return (f"nr_descendants {n}\nnr_subsys_memory {n + 1}\n"
            f"nr_dying_descendants {d}\nnr_dying_subsys_memory {d}\n")


# memory.peak / memory.swap.peak: peak_show() and peak_write() per open file


def _peak_show(f: "CgroupFile", counter: str) -> str:
    c = _counter(f._cg, counter)
    if f._peak == OFP_PEAK_UNSET:
        pages = c.watermark
    else:
        pages = max(f._peak, c.local_watermark)
    return f"{pages * PAGE_SIZE}\n"


def _peak_write(f: "CgroupFile", counter: str) -> None:
    cg = f._cg
    with _peaks_lock:
        cg._reset_local_watermark(counter)  # local_watermark := usage
        usage = _counter(cg, counter).usage
        watchers = _state(cg).peaks.setdefault(counter, weakref.WeakSet())
        for peer in list(watchers):
            if usage > peer._peak:
                peer._peak = usage
        if f._peak == OFP_PEAK_UNSET:
            watchers.add(f)
        f._peak = usage


def _peak_release(f: "CgroupFile", counter: str) -> None:
    if f._peak == OFP_PEAK_UNSET:
        return
    with _peaks_lock:
        watchers = _state(f._cg).peaks.get(counter)
        if watchers is not None:
            watchers.discard(f)


# ---------------------------------------------------------------------------
# the file table


class _File:
    __slots__ = ("show", "store", "version", "on_root", "needs", "peak")

    def __init__(self, version: int, show: Optional[Callable[[Any], str]] = None,
                 store: Optional[Callable[[Any, bytes], None]] = None, on_root: bool = True,
                 needs: Optional[Callable[[Any], bool]] = None,
                 peak: Optional[str] = None) -> None:
        self.version = version
        self.show = show
        self.store = store
        self.on_root = on_root
        self.needs = needs
        self.peak = peak  # the counter of a memory.peak-like file


def _table() -> Dict[str, _File]:
    t: Dict[str, _File] = {}
    for counter, prefix in (("memory", "memory."), ("memsw", "memory.memsw."),
                            ("kmem", "memory.kmem."), ("tcpmem", "memory.kmem.tcp.")):
        needs = (lambda cfg: cfg.memsw) if counter == "memsw" else None
        t[prefix + "usage_in_bytes"] = _File(1, _v1_usage(counter), needs=needs)
        t[prefix + "limit_in_bytes"] = _File(1, _v1_limit_show(counter),
                                             _v1_limit_store(counter), needs=needs)
        t[prefix + "max_usage_in_bytes"] = _File(1, _v1_max_usage_show(counter),
                                                 _v1_reset_watermark(counter), needs=needs)
        t[prefix + "failcnt"] = _File(1, _v1_failcnt_show(counter),
                                      _v1_reset_failcnt(counter), needs=needs)
    t["memory.soft_limit_in_bytes"] = _File(1, _soft_limit_show, _soft_limit_store)
    t["memory.stat"] = _File(1, _v1_stat_show)
    t["memory.force_empty"] = _File(1, None, _force_empty_store)
    t["memory.use_hierarchy"] = _File(1, _use_hierarchy_show, _use_hierarchy_store)
    t["memory.oom_control"] = _File(1, _oom_control_show, _oom_control_store)
    t["memory.swappiness"] = _File(1, _swappiness_show, _swappiness_store)
    t["memory.kmem.slabinfo"] = _File(1, _kmem_slabinfo_show)
    return t


def _table_v2() -> Dict[str, _File]:
    t: Dict[str, _File] = {}
    t["memory.current"] = _File(2, _v2_current("memory"), on_root=False)
    t["memory.min"] = _File(2, _v2_tunable("memory", "min"), _min_store, on_root=False)
    t["memory.low"] = _File(2, _v2_tunable("memory", "low"), _low_store, on_root=False)
    t["memory.high"] = _File(2, _v2_tunable("memory", "high"), _high_store, on_root=False)
    t["memory.max"] = _File(2, _v2_tunable("memory", "max"), _max_store, on_root=False)
    t["memory.peak"] = _File(2, on_root=False, peak="memory")
    t["memory.events"] = _File(2, _events_show(False), on_root=False)
    t["memory.events.local"] = _File(2, _events_show(True), on_root=False)
    t["memory.stat"] = _File(2, _v2_stat_show)
    t["memory.oom.group"] = _File(2, _oom_group_show, _oom_group_store, on_root=False)
    t["memory.reclaim"] = _File(2, None, _reclaim_store)
    t["memory.swap.current"] = _File(2, _v2_current("swap"), on_root=False)
    t["memory.swap.high"] = _File(2, _v2_tunable("swap", "high"), _swap_high_store,
                                  on_root=False)
    t["memory.swap.max"] = _File(2, _v2_tunable("swap", "max"), _swap_max_store, on_root=False)
    t["memory.swap.peak"] = _File(2, on_root=False, peak="swap")
    t["memory.swap.events"] = _File(2, _swap_events_show, on_root=False)
    t["cgroup.stat"] = _File(2, _cgroup_stat_show)
    return t


_FILES = {1: _table(), 2: _table_v2()}


def _lookup(cg: Any, name: object) -> _File:
    """The file ``name`` of ``cg``, or NotFoundError (ENOENT) if the cgroup
    is gone or the preset has no such file there."""
    if not isinstance(name, str):
        raise InvalidTypeError(f"file name must be a str, not {type(name).__name__}")
    if not cg.online:
        if _hierarchy_of(cg).closed:
            raise StaleHandleError(f"cgroup {cg.path or '/'!r}: its hierarchy is closed")
        raise NotFoundError(f"cgroup {cg.path or '/'!r} has been removed: no {name}")
    cfg = _config(cg)
    f = _FILES[cfg.version].get(name)
    if f is None or (f.needs is not None and not f.needs(cfg)) or (
            not f.on_root and _is_root(cg)):
        where = "the root cgroup" if _is_root(cg) else f"cgroup {cg.path!r}"
        raise NotFoundError(f"{where} has no file {name} (cgroup v{cfg.version})")
    return f


def files(cg: Any) -> list[str]:
    """The names of the interface files ``cg`` has, sorted (like ``ls``)."""
    cfg = _config(cg)
    root = _is_root(cg)
    return sorted(name for name, f in _FILES[cfg.version].items()
                  if (f.needs is None or f.needs(cfg)) and (f.on_root or not root))


# ---------------------------------------------------------------------------
# open files


class CgroupFile:
    """An open interface file (``open(2)`` on it): ``read()``, ``write()``,
    ``close()``; a context manager.

    Only memory.peak and memory.swap.peak keep state per open file (SPEC
    4.4): the first write of anything non-empty registers the file and
    records the current usage; reads then show ``max(recorded,
    local_watermark)`` instead of the all-time watermark; a write through
    another open file raises every registered file's value to the usage at
    that moment.  Using a file whose cgroup has been removed raises
    :class:`NoDeviceError` (ENODEV); a closed file raises ValueError.
    """

    __slots__ = ("_cg", "name", "closed", "_file", "_peak", "_peak_counter", "__weakref__")

    def __init__(self, cg: Any, name: str) -> None:
        self._file = _lookup(cg, name)
        self._cg = cg
        self.name = name
        self.closed = False
        self._peak_counter = self._file.peak
        self._peak = OFP_PEAK_UNSET  # peak_open()

    @property
    def cgroup(self) -> Any:
        """The cgroup the file belongs to."""
        return self._cg

    def _check(self) -> None:
        if self.closed:
            raise ValueError(f"I/O operation on closed file {self.name}")
        if not self._cg.online:
            raise NoDeviceError(f"{self.name}: cgroup {self._cg.path or '/'!r} has been removed")

    def read(self) -> str:
        """The file's whole content, exactly as the kernel prints it."""
        self._check()
        if self._peak_counter is not None:
            return _peak_show(self, self._peak_counter)
        if self._file.show is None:  # cgroup_seqfile_show: no read handler
            raise InvalidError(f"{self.name} is write-only")
        return self._file.show(self._cg)

    def write(self, data: Data) -> int:
        """Write ``data`` (str as UTF-8, or bytes) in one write(2); return the
        number of bytes written.  Raises the kernel's errno as an OSError or
        ValueError subclass (see :mod:`pymemcg.errors`)."""
        self._check()
        raw = _raw(data)
        if len(raw) > PAGE_SIZE:  # kernfs atomic_write_len
            raise TooBigError(f"{self.name}: a write of {len(raw)} bytes exceeds {PAGE_SIZE}")
        if not raw:  # cgroup_file_write: if (!nbytes) return 0
            return 0
        if self._peak_counter is not None:
            _peak_write(self, self._peak_counter)  # any non-empty write resets
            return len(raw)
        if self._file.store is None:
            raise InvalidError(f"{self.name} is read-only")
        self._file.store(self._cg, _cstring(raw))
        return len(raw)

    def close(self) -> None:
        """Release the file (``peak_release()``: unregister it)."""
        if not self.closed:
            self.closed = True
            if self._peak_counter is not None:
                _peak_release(self, self._peak_counter)

    def __enter__(self) -> "CgroupFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<CgroupFile {self._cg.path or '/'}/{self.name} {state}>"


#: memory.peak / memory.swap.peak handles are CgroupFiles (the name the
#: per-open-file semantics go by).
PeakFile = CgroupFile


def open(cg: Any, name: str) -> CgroupFile:  # noqa: A001 - the file operation's name
    """Open the interface file ``name`` of ``cg`` (NotFoundError if it has
    none)."""
    return CgroupFile(cg, name)


def open_peak(cg: Any, name: str = "memory.peak") -> CgroupFile:
    """Open memory.peak or memory.swap.peak (the files with per-open-file
    state)."""
    if name not in ("memory.peak", "memory.swap.peak"):
        raise InvalidError(f"{name} is not a peak file")
    return CgroupFile(cg, name)


def read(cg: Any, name: str) -> str:
    """Read the interface file ``name`` of ``cg``: exactly what the kernel
    prints.  NotFoundError (ENOENT) for a file the preset does not have,
    InvalidError (EINVAL) for a write-only file."""
    f = CgroupFile(cg, name)
    try:
        return f.read()
    finally:
        f.close()


def write(cg: Any, name: str, data: Data) -> None:
    """Write ``data`` to the interface file ``name`` of ``cg`` (one open,
    one write(2), close).  Errors carry the kernel's errno: InvalidError
    (EINVAL), BusyError (EBUSY), NotFoundError (ENOENT), AgainError (EAGAIN),
    RangeError (ERANGE), TooBigError (E2BIG)."""
    f = CgroupFile(cg, name)
    try:
        f.write(data)
    finally:
        f.close()
