"""Constants, argument checks and value types shared by both backends.

The C-backed API (:mod:`pymemcg`) and the pure-Python oracle
(:mod:`pymemcg.model`) accept exactly the same arguments and raise exactly
the same exceptions for bad ones; the checks live here once.
"""

from __future__ import annotations

from dataclasses import dataclass
import abc
from typing import Any, Callable, TypeVar

from .errors import ExistsError, InvalidError, InvalidTypeError, NameTooLongError

PAGE_SIZE = 4096
PAGE_SHIFT = 12
#: LONG_MAX // PAGE_SIZE: the largest page count a counter holds (2**51 - 1).
PAGE_COUNTER_MAX = (2**63 - 1) // PAGE_SIZE
#: Counters use the kernel's ``unsigned long`` arithmetic: 64 bits, wrapping.
U64_MASK = 2**64 - 1


def check_int(value: object, what: str) -> int:
    """``value`` as an exact :class:`int`, or :class:`InvalidTypeError`.

    The one rule for every integer argument (counts, CPUs, GFP flags, replay
    record fields):

    * an ``int`` is itself; an ``int`` subclass (an ``IntEnum`` member ...)
      is read as the plain ``int`` it holds, never through its own methods;
    * ``bool`` is refused, and so is anything numpy calls a boolean (a
      ``numpy.bool_`` or a boolean array);
    * anything else is an integer if its type has ``__index__`` and that
      returns an exact ``int``: numpy integer scalars, and 0-d integer arrays
      (numpy's own rule for "an integer scalar array").  A 1-element array of
      one or more dimensions is not an integer (numpy's ``__index__`` refuses
      it too).  ``float``, ``str``, ``None`` ... have no ``__index__``;
    * an ``__index__`` that returns something other than an exact ``int``
      (a float, a bool, an ``int`` subclass), or that raises, is refused, its
      exception chained as ``__cause__``.

    No range check here; the callers check their own ranges.
    """
    cls = value.__class__
    if cls is int:
        return value  # type: ignore[return-value]
    index = _INDEX.get(cls)
    if index is None:
        index = _index_of(value, cls, what)
    try:
        result = index(value)
    except Exception as exc:
        raise InvalidTypeError(
            f"{what} must be an integer: {cls.__name__}.__index__ raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if result.__class__ is not int:
        raise InvalidTypeError(
            f"{what} must be an integer: {cls.__name__}.__index__ returned "
            f"{type(result).__name__}, not int"
        )
    return result


#: type -> the function that reads its instances as an int, for the types
#: whose instances are all integers when ``__index__`` succeeds (never a
#: boolean): int subclasses other than bool, numpy integer scalar types,
#: classes without a ``dtype``.  Bounded, so that made-up classes cannot grow it.
_INDEX: "dict[type, Callable[[Any], Any]]" = {}
_INDEX_LIMIT = 256


def _index_of(value: object, cls: type, what: str) -> "Callable[[Any], Any]":
    """check_int's slow path: the ``__index__`` of a type not seen before,
    or of a numpy array (whose dtype varies by instance)."""
    if isinstance(value, int):
        if isinstance(value, bool):
            raise InvalidTypeError(f"{what} must be an integer, not bool")
        index: "Callable[[Any], Any]" = int.__index__  # the plain int inside a subclass
        cacheable = True
    else:
        try:
            dtype = getattr(value, "dtype", None)
            if getattr(dtype, "kind", None) == "b":
                raise InvalidTypeError(f"{what} must be an integer, not a numpy bool")
            index = getattr(cls, "__index__", None)  # type: ignore[assignment]
            # numpy scalar types have one dtype; arrays (and look-alikes) do not
            cacheable = dtype is None or (
                cls.__module__ == "numpy" and cls.__name__ != "ndarray"
                and getattr(value, "ndim", None) == 0)
        except InvalidTypeError:
            raise
        except Exception as exc:  # a dtype property that raises ...
            raise InvalidTypeError(f"{what} must be an integer, not {cls.__name__}") from exc
        if index is None:
            raise InvalidTypeError(f"{what} must be an integer, not {cls.__name__}")
    if cacheable and len(_INDEX) < _INDEX_LIMIT:
        _INDEX[cls] = index
    return index


def check_count(nr_pages: object, what: str = "nr_pages") -> int:
    """Return ``nr_pages`` as an int in ``0..PAGE_COUNTER_MAX``.

    Integers as :func:`check_int` reads them (numpy integers included);
    ``bool``, ``float`` and other non-integers raise
    :class:`InvalidTypeError`, a value out of range :class:`InvalidError`.
    """
    if nr_pages.__class__ is not int:
        nr_pages = check_int(nr_pages, what)
    if nr_pages < 0 or nr_pages > PAGE_COUNTER_MAX:
        raise InvalidError(f"{what} must be in 0..PAGE_COUNTER_MAX, got {nr_pages}")
    return nr_pages


def check_cpu(cpu: object, ncpus: int) -> int:
    """``cpu`` as an int in ``0..ncpus-1``.

    Integers as :func:`check_int` reads them; ``bool``, ``float`` and other
    non-integers raise :class:`InvalidTypeError`, an integer out of range
    :class:`InvalidError`.
    """
    if cpu.__class__ is not int:
        cpu = check_int(cpu, "cpu")
    if not 0 <= cpu < ncpus:
        raise InvalidError(f"cpu must be in 0..{ncpus - 1}, got {cpu}")
    return cpu


def check_bool(value: object, what: str) -> bool:
    """``value`` as a :class:`bool`, or :class:`InvalidTypeError`.

    For switches (``kmem=``, ``track_failcnt=``, ``protection=``): a
    ``bool``, a numpy boolean scalar (or 0-d boolean array), or an integer as
    :func:`check_int` reads it (0 is False, anything else True, as the C
    ``int`` fields of a replay record read).  Anything else - ``None``, a
    str, a float, an array of several elements, an object whose truth value
    raises - is refused rather than read by its truth value, so that a
    misplaced argument (``kmem="no"``) does not silently mean True.
    """
    if value is True or value is False:
        return value
    if value.__class__ is int:
        return value != 0
    try:
        dtype = getattr(value, "dtype", None)
        if getattr(dtype, "kind", None) == "b" and getattr(value, "ndim", None) == 0:
            return bool(value)
    except Exception as exc:
        raise InvalidTypeError(f"{what} must be a bool, not {type(value).__name__}") from exc
    if isinstance(value, (str, bytes, bytearray, float, complex)) or value is None:
        raise InvalidTypeError(f"{what} must be a bool, not {type(value).__name__}")
    try:
        return check_int(value, what) != 0
    except InvalidTypeError as exc:
        raise InvalidTypeError(f"{what} must be a bool, not {type(value).__name__}") from exc


#: The kernel's ``PATH_MAX``: ``mkdir`` refuses a path argument of this many
#: bytes or more (the terminating NUL included) with ENAMETOOLONG, in
#: ``getname()``, before it looks at anything else.
PATH_MAX = 4096
#: The longest cgroup name, in bytes: ``PATH_MAX - 1``, as on the kernel.
#: cgroupfs is kernfs, whose lookup has no ``NAME_MAX`` (255) check, so a
#: live 6.18 kernel creates cgroups with names of up to ``PATH_MAX - 1``
#: bytes (given relative to the parent); only ``getname()`` refuses a longer
#: path argument, with ENAMETOOLONG.
NAME_MAX = PATH_MAX - 1


def check_name(name: object) -> bytes:
    """The kernel's rules for a cgroup directory name, as ``mkdir`` of
    ``<parent>/<name>`` sees them; returns the name's UTF-8 bytes.

    ``name`` must be a ``str`` (a subclass is read as the plain ``str`` it
    holds); ``bytes`` and everything else raise :class:`InvalidTypeError`:
    paths and names are ``str`` throughout the API, as :attr:`Cgroup.name`
    is.  It is encoded as UTF-8 (what ``os.mkdir`` sends on a UTF-8 system).

    Checked in the kernel's order (each verified on a live 6.18 kernel,
    cgroup v1 memory hierarchy):

    1. a character UTF-8 cannot encode (a lone surrogate):
       :class:`InvalidError`; a NUL: :class:`InvalidError` (``os.mkdir``
       refuses it with ValueError before any system call);
    2. ``PATH_MAX`` bytes or more: :class:`NameTooLongError` (ENAMETOOLONG,
       ``getname()`` - so a long name that also holds a newline is
       ENAMETOOLONG);
    3. a ``/`` (a name is one path component) or the empty name:
       :class:`InvalidError`;
    4. ``.`` and ``..``: :class:`ExistsError` (EEXIST: they exist; the VFS
       answers before the cgroup code runs);
    5. a newline: :class:`InvalidError` (EINVAL: ``cgroup_mkdir()`` refuses
       it "to prevent making /proc/<pid>/cgroup unparsable").

    Every other byte is allowed, as in the kernel: spaces, tabs, control
    characters, any non-ASCII text.
    """
    if name.__class__ is not str:
        if not isinstance(name, str):
            raise InvalidTypeError(f"a cgroup name must be a str, not {type(name).__name__}")
        name = str.__str__(name)
    try:
        raw = str.encode(name, "utf-8")
    except UnicodeEncodeError:
        raise InvalidError(f"cgroup name {name!r} cannot be encoded as UTF-8") from None
    if b"\0" in raw:
        raise InvalidError(f"cgroup name {name!r} contains a NUL byte")
    if len(raw) >= PATH_MAX:
        raise NameTooLongError(f"cgroup name of {len(raw)} bytes: the path is too long")
    if b"/" in raw:
        raise InvalidError(f"cgroup name {name!r} contains '/' (create the parent first)")
    if not raw:
        raise InvalidError("a cgroup name cannot be empty")
    if raw == b"." or raw == b"..":
        raise ExistsError(f"cgroup name {name!r}: the directory exists")
    if b"\n" in raw:
        raise InvalidError(f"cgroup name {name!r} contains a newline")
    return raw


@dataclass(frozen=True)
class PageCounterState:
    """Every field of one page counter at one instant (pages)."""

    usage: int
    max: int
    min: int
    low: int
    high: int
    watermark: int
    local_watermark: int
    failcnt: int
    emin: int
    elow: int
    min_usage: int
    low_usage: int
    children_min_usage: int
    children_low_usage: int


_Owned = TypeVar("_Owned", bound="OwnedCpuBase")


class OwnedCpuBase(abc.ABC):
    """What both backends' ``OwnedCpu`` share: the CPU's number, whether it
    is still owned, and the ``with`` block that releases it."""

    __slots__ = ()
    _cpu: int
    _token: int

    @property
    def cpu(self) -> int:
        """The CPU's number."""
        return self._cpu

    @property
    def owned(self) -> bool:
        """True until :meth:`release`."""
        return self._token != 0

    @abc.abstractmethod
    def release(self) -> None:
        """Let the CPU go (each backend's)."""

    def __enter__(self: _Owned) -> _Owned:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token:
            self.release()


_Bound = TypeVar("_Bound", bound="ReplayerBase")


class ReplayerBase(abc.ABC):
    """What both backends' ``Replayer`` share: its size and the ``with``
    block that lets go of the buffers."""

    __slots__ = ()
    _size: int

    def __len__(self) -> int:
        return self._size

    @abc.abstractmethod
    def close(self) -> None:
        """Let go of the buffers (each backend's)."""

    def __enter__(self: _Bound) -> _Bound:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
