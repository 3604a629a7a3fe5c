"""The kernel's ``memparse`` (lib/cmdline.c) and ``page_counter_memparse``
(mm/page_counter.c), character by character.

Both take the text as the C string the kernel would see: a ``str`` must be
ASCII and is encoded, ``bytes`` are taken as they are, and the string ends at
its first NUL byte.  Nothing is stripped (the kernel's callers ``strstrip()``
first; callers of this function do that themselves).
"""

from __future__ import annotations

from .. import _kstrtox
from .._common import PAGE_COUNTER_MAX, PAGE_SIZE
from ..errors import InvalidError, InvalidTypeError

__all__ = ["memparse", "page_counter_memparse"]

def _c_string(text: object, what: str) -> bytes:
    """``text`` as the bytes of a C string: ASCII only, cut at the first NUL."""
    if isinstance(text, str):
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError:
            raise InvalidError(f"{what} must be ASCII") from None
    elif isinstance(text, bytes):
        raw = bytes(text)
    else:
        raise InvalidTypeError(f"{what} must be str or bytes, not {type(text).__name__}")
    nul = raw.find(b"\0")
    return raw if nul < 0 else raw[:nul]


def memparse(text: str | bytes) -> int:
    """Parse a size such as ``"8K"``, ``"0x1000"`` or ``"010M"`` into bytes.

    The kernel's ``memparse()``: ``simple_strtoull`` in base 0 (``0x`` hex,
    leading ``0`` octal, else decimal; no sign; wraps mod 2**64), then at
    most one suffix letter K M G T P E (either case, shifts of 10..60 bits,
    wrapping).  Unlike the kernel, which hands the end pointer back, the whole
    text must be consumed: anything left raises :class:`InvalidError` (this is
    ``page_counter_memparse``'s ``*end != '\\0'`` test).  Zero digits parse as 0
    (``""`` and ``"K"`` are 0; ``"-2"`` leaves ``-`` over and is invalid).
    """
    s = _c_string(text, "text")
    value, end = _kstrtox.memparse(s)
    if end != len(s):
        raise InvalidError(f"invalid size {text!r}: trailing {s[end:]!r}")
    return value


def page_counter_memparse(text: str | bytes, max_token: str | bytes = "max") -> int:
    """Parse a limit written to a cgroup file into pages.

    The kernel's ``page_counter_memparse()``: ``strcmp(text, max_token) == 0``
    gives ``PAGE_COUNTER_MAX`` (both compared as C strings, so ``""`` as the
    token makes an empty text mean "max"); otherwise the text goes through
    :func:`memparse` and the bytes are ROUNDED DOWN to pages and capped at
    ``PAGE_COUNTER_MAX``.  Trailing text raises :class:`InvalidError`.
    """
    s = _c_string(text, "text")
    token = _c_string(max_token, "max_token")
    if s == token:  # strcmp(buf, max_token) == 0
        return PAGE_COUNTER_MAX
    return min(memparse(s) // PAGE_SIZE, PAGE_COUNTER_MAX)
