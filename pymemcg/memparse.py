"""The kernel's size syntax, parsed by the C core (lib/cmdline.c memparse
and mm/page_counter.c page_counter_memparse)."""

from __future__ import annotations

from typing import Union

from ._core import ffi, lib
from .errors import InvalidError, InvalidTypeError

__all__ = ["memparse", "page_counter_memparse"]

Text = Union[str, bytes]


def _to_c(text: object, what: str) -> bytes:
    if isinstance(text, bytes):
        return text
    if isinstance(text, str):
        try:
            return text.encode("ascii")
        except UnicodeEncodeError:
            raise InvalidError(f"{what} must be ASCII: {text!r}") from None
    raise InvalidTypeError(f"{what} must be str or bytes, not {type(text).__name__}")


def memparse(text: Text) -> int:
    """Parse a size the way the kernel does; return bytes.

    ``simple_strtoull`` with base 0 (``0x`` and a hex digit: hex; a leading
    ``0``: octal), then at most one suffix of K, M, G, T, P or E in either
    case.  No sign, no spaces, no stripping; the value wraps modulo 2**64
    without complaint, as in the kernel.  The text ends at its first NUL,
    as a C string does.  Raises :class:`InvalidError` if anything follows.

    >>> memparse("64M")
    67108864
    >>> memparse("010k")     # octal 8
    8192
    """
    out = ffi.new("uint64_t *")
    if lib.pmc_memparse(_to_c(text, "text"), out):
        raise InvalidError(f"invalid size: {text!r}")
    return int(out[0])


def page_counter_memparse(text: Text, max_token: Text = "max") -> int:
    """Parse a limit as a cgroup file does; return pages.

    ``max_token`` (``"max"`` in v2 files, ``"-1"`` in v1 files) means
    PAGE_COUNTER_MAX.  Otherwise the size is parsed by :func:`memparse`,
    rounded *down* to whole pages and capped at PAGE_COUNTER_MAX.

    >>> page_counter_memparse("4097")
    1
    """
    out = ffi.new("uint64_t *")
    if lib.pmc_page_counter_memparse(_to_c(text, "text"), _to_c(max_token, "max_token"), out):
        raise InvalidError(f"invalid size: {text!r}")
    return int(out[0])
