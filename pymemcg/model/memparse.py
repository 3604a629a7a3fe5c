"""The kernel's ``memparse`` (lib/cmdline.c) and ``page_counter_memparse``
(mm/page_counter.c), character by character.

Both take the text as the C string the kernel would see: a ``str`` must be
ASCII and is encoded, ``bytes`` are taken as they are, and the string ends at
its first NUL byte.  Nothing is stripped (the kernel's callers ``strstrip()``
first; callers of this function do that themselves).
"""

from __future__ import annotations

from .._common import PAGE_COUNTER_MAX, PAGE_SIZE, U64_MASK
from ..errors import InvalidError, InvalidTypeError

__all__ = ["memparse", "page_counter_memparse"]

# memparse's switch: each suffix falls through the cases below it, one
# ``<<= 10`` per case, so E is << 60 ... K is << 10.
_SUFFIX_SHIFT = {ord(ch): 10 * (i + 1) for i, ch in enumerate("KMGTPE")}
_SUFFIX_SHIFT.update({ord(chr(c).lower()): s for c, s in list(_SUFFIX_SHIFT.items())})

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


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


def _simple_strtoull(s: bytes) -> tuple[int, int]:
    """``simple_strtoull(s, &end, 0)``: return (value mod 2**64, end index)."""
    # _parse_integer_fixup_radix(), base 0: "0x" + a hex digit => 16 (prefix
    # skipped), a leading "0" => 8, else 10.  _tolower(c) is c | 0x20.
    pos = 0
    if s[:1] == b"0":
        if len(s) > 2 and s[1] | 0x20 == ord("x") and s[2] in _HEX_DIGITS:
            base, pos = 16, 2
        else:
            base = 8
    else:
        base = 10
    # _parse_integer_limit(): digits 0-9, a-f/A-F; stop at the first char that
    # is not a digit or is not below the base.  Overflow is flagged but the
    # value wraps (res * base + val in unsigned long long).
    res = 0
    while pos < len(s):
        c = s[pos]
        if 0x30 <= c <= 0x39:
            val = c - 0x30
        elif 0x61 <= (c | 0x20) <= 0x66:
            val = (c | 0x20) - 0x61 + 10
        else:
            break
        if val >= base:
            break
        res = (res * base + val) & U64_MASK
        pos += 1
    return res, pos


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
    value, end = _simple_strtoull(s)
    if end < len(s) and s[end] in _SUFFIX_SHIFT:
        value = (value << _SUFFIX_SHIFT[s[end]]) & U64_MASK  # ret <<= 10 per case
        end += 1  # exactly one suffix char is consumed
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
