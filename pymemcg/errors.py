"""The pymemcg error hierarchy.

Every error is a :class:`MemcgError` and also the builtin exception a Python
programmer would expect, so callers may catch either::

    try:
        counter.set_max(10)
    except OSError as e:          # or pymemcg.BusyError, or pymemcg.MemcgError
        assert e.errno == errno.EBUSY

Errors that the kernel reports with an errno (``EBUSY``, ``EINVAL``,
``ENOMEM`` ...) carry it in ``errno`` whatever their builtin base.
C return codes become exceptions in exactly one place: :func:`raise_errno`.
"""

from __future__ import annotations

import errno as _errno
from typing import Any, NoReturn, Sequence

__all__ = [
    "MemcgError",
    "InvalidError",
    "InvalidTypeError",
    "BusyError",
    "ChargeError",
    "ForkError",
    "KilledError",
    "StaleHandleError",
    "UnderflowError",
    "NoSpaceError",
    "NotFoundError",
    "ExistsError",
    "AgainError",
    "RangeError",
    "TooBigError",
    "NoDeviceError",
    "NotSupportedError",
    "NameTooLongError",
    "NotOwnerError",
    "DeadlockError",
    "raise_errno",
]


class MemcgError(Exception):
    """Base class of every error pymemcg raises.

    (No ``errno`` class attribute here: it would hide the one that
    :class:`OSError` stores for the subclasses that are also OSErrors.)
    """


class _OSErrorWithDefault(MemcgError, OSError):
    """An OSError that knows its errno: ``BusyError("message")`` reads
    ``errno == EBUSY`` like ``OSError(EBUSY, "message")`` would."""

    default_errno = 0

    def __init__(self, *args: Any) -> None:
        if not args or isinstance(args[0], str):
            msg = args[0] if args else _errno.errorcode[self.default_errno]
            super().__init__(self.default_errno, msg)
        else:
            super().__init__(*args)




class InvalidError(_OSErrorWithDefault, ValueError):
    """Bad argument or unparsable text (the kernel's ``EINVAL``).

    Also an :class:`OSError` with errno EINVAL, as a write to a real
    cgroupfs file raises it, so code written against the kernel's files
    catches it unchanged; and a :class:`ValueError`, as Python code expects
    of a bad argument.
    """

    default_errno = _errno.EINVAL


class InvalidTypeError(MemcgError, TypeError):
    """An argument of the wrong type: a float or bool where a count goes, a
    counter of the other backend as a parent, ..."""

    errno = _errno.EINVAL


class BusyError(_OSErrorWithDefault, OSError):
    """The kernel's ``EBUSY``: a limit below the usage, a busy cgroup."""

    default_errno = _errno.EBUSY


class ChargeError(_OSErrorWithDefault, OSError):
    """A charge was refused (the kernel's ``ENOMEM``)."""

    default_errno = _errno.ENOMEM


class ForkError(ChargeError):
    """A fork refused: its kernel stack could not be charged (ENOMEM).
    Nothing stays charged.  A fork bomb meets it at the kmem limit."""


class KilledError(_OSErrorWithDefault, ProcessLookupError):
    """The task was killed by the OOM killer during the call (ESRCH)."""

    default_errno = _errno.ESRCH


class NoSpaceError(_OSErrorWithDefault, OSError):
    """Out of ids or table space (the kernel's ``ENOSPC``)."""

    default_errno = _errno.ENOSPC


class NotFoundError(_OSErrorWithDefault, FileNotFoundError):
    """No such cgroup or file (the kernel's ``ENOENT``)."""

    default_errno = _errno.ENOENT


class ExistsError(_OSErrorWithDefault, FileExistsError):
    """The cgroup already exists (the kernel's ``EEXIST``)."""

    default_errno = _errno.EEXIST


class AgainError(_OSErrorWithDefault, BlockingIOError):
    """Try again (the kernel's ``EAGAIN``): memory.reclaim gave up after its
    unproductive reclaim rounds."""

    default_errno = _errno.EAGAIN


class RangeError(_OSErrorWithDefault, OSError):
    """A number out of range (the kernel's ``ERANGE``): ``kstrtoull`` and
    ``kstrtoint`` overflow in an interface-file write."""

    default_errno = _errno.ERANGE


class TooBigError(_OSErrorWithDefault, OSError):
    """A write longer than the file accepts at once (the kernel's ``E2BIG``:
    kernfs ``atomic_write_len``, one page for cgroup files)."""

    default_errno = _errno.E2BIG


class NotSupportedError(_OSErrorWithDefault, OSError):
    """The kernel's ``EOPNOTSUPP``: a write to ``memory.kmem.limit_in_bytes``
    on Linux 5.16 to 6.5 (``Config.kmem_limit == "eopnotsupp"``)."""

    default_errno = _errno.EOPNOTSUPP


class NoDeviceError(_OSErrorWithDefault, OSError):
    """The file's cgroup is gone (the kernel's ``ENODEV``: an open
    interface file used after rmdir)."""

    default_errno = _errno.ENODEV


class NameTooLongError(_OSErrorWithDefault, OSError):
    """A cgroup name that is too long (the kernel's ``ENAMETOOLONG``, what
    ``mkdir`` answers for a path of ``PATH_MAX`` bytes or more); see
    :func:`pymemcg._common.check_name` for the limits."""

    default_errno = _errno.ENAMETOOLONG


class NotOwnerError(_OSErrorWithDefault, PermissionError):
    """``EPERM``: an owned CPU (:meth:`Hierarchy.cpu`) used by a thread
    other than the one that acquired it."""

    default_errno = _errno.EPERM


class DeadlockError(_OSErrorWithDefault, OSError):
    """``EDEADLK``: a call that would wait for ever, refused.  A thread
    that owns a CPU of a hierarchy (:meth:`Hierarchy.cpu`) calls anything
    else of that hierarchy, or asks for a second CPU of it: the call would
    wait for its own CPU, or for a thread that waits for it.  Nothing
    changed; release the CPU first."""

    default_errno = _errno.EDEADLK


class StaleHandleError(MemcgError, RuntimeError):
    """A handle to an object that no longer exists (``ESTALE``)."""

    errno = _errno.ESTALE


class UnderflowError(MemcgError, ValueError):
    """More was uncharged than was charged.

    Not bad input: like the kernel, pymemcg has already clamped each
    underflowing level to zero (independently, level by level) when this is
    raised.  ``counters`` names the clamped levels, leaf first; ``nr_pages``
    is the amount that was uncharged.
    """

    errno = _errno.EINVAL

    def __init__(self, message: str, counters: Sequence[Any] = (), nr_pages: int = 0) -> None:
        super().__init__(message)
        self.counters = tuple(counters)
        self.nr_pages = nr_pages


_BY_ERRNO: dict[int, type[MemcgError]] = {
    _errno.EINVAL: InvalidError,
    _errno.EBUSY: BusyError,
    _errno.ENOMEM: ChargeError,
    _errno.ENOSPC: NoSpaceError,
    _errno.ESTALE: StaleHandleError,
    _errno.ENOENT: NotFoundError,
    _errno.EEXIST: ExistsError,
    _errno.EAGAIN: AgainError,
    _errno.ERANGE: RangeError,
    _errno.E2BIG: TooBigError,
    _errno.ENODEV: NoDeviceError,
    _errno.EOPNOTSUPP: NotSupportedError,
    _errno.ENAMETOOLONG: NameTooLongError,
    _errno.EPERM: NotOwnerError,
    _errno.EDEADLK: DeadlockError,
}

_HINTS = {
    _errno.EDEADLK: "this thread owns a CPU of this hierarchy (Hierarchy.cpu): "
                    "it may use nothing else of it until it releases the CPU",
    _errno.EPERM: "the CPU is owned by another thread",
}


def raise_errno(code: int, what: str = "") -> NoReturn:
    """Turn a negative C return code (``-errno``) into the matching exception.

    This is the one place where C error codes become Python exceptions.
    """
    err = -code if code < 0 else code
    cls = _BY_ERRNO.get(err)
    text = "EDEADLK" if err == _errno.EDEADLK else _errno.errorcode.get(err, str(err))
    if err in _HINTS:
        text = f"{text} ({_HINTS[err]})"
    msg = f"{what}: {text}" if what else text
    if cls is None:
        raise OSError(err, msg)
    if issubclass(cls, OSError):
        raise cls(err, msg)
    raise cls(msg)
