"""The kernel's number parsing (lib/kstrtox.c, lib/vsprintf.c, lib/cmdline.c),
byte by byte, shared by the model's memparse and the interface files.

Values are ``unsigned long long``: they wrap modulo 2**64 where the kernel's
do, and the overflow the kernel notices is reported where it reports it.
"""

from __future__ import annotations

from ._common import U64_MASK
from .errors import InvalidError, RangeError

__all__ = ["fixup_radix", "parse_integer", "simple_strtoull", "memparse", "kstrtoull",
           "kstrtoint"]

_HEX = frozenset(b"0123456789abcdefABCDEF")
# memparse's switch: each suffix falls through the cases below it, one
# ``<<= 10`` per case, so E is << 60 ... K is << 10; either case.
_SUFFIX_SHIFT = {c: 10 * (i % 6 + 1) for i, c in enumerate(b"KMGTPEkmgtpe")}


def fixup_radix(s: bytes, pos: int, base: int) -> tuple[int, int]:
    """``_parse_integer_fixup_radix()``: base 0 becomes 16 (``0x`` and a hex
    digit; the prefix is skipped), 8 (leading ``0``) or 10."""
    if base == 0:
        if s[pos:pos + 1] == b"0":
            if len(s) > pos + 2 and s[pos + 1] | 0x20 == ord("x") and s[pos + 2] in _HEX:
                base = 16
            else:
                base = 8
        else:
            base = 10
    if base == 16 and s[pos:pos + 1] == b"0" and len(s) > pos + 1 and s[pos + 1] | 0x20 == ord("x"):
        pos += 2
    return base, pos


def parse_integer(s: bytes, pos: int, base: int) -> tuple[int, int, bool]:
    """``parse_integer()``: (value mod 2**64, end, overflowed)."""
    res, overflow = 0, False
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
        res = res * base + val
        if res > U64_MASK:
            overflow = True
            res &= U64_MASK
        pos += 1
    return res, pos, overflow


def simple_strtoull(s: bytes, pos: int = 0, base: int = 0) -> tuple[int, int]:
    """``simple_strtoull(s + pos, &end, base)``: (value mod 2**64, end)."""
    base, pos = fixup_radix(s, pos, base)
    value, end, _ = parse_integer(s, pos, base)
    return value, end


def memparse(s: bytes) -> tuple[int, int]:
    """``memparse(s, &end)`` (lib/cmdline.c): (bytes mod 2**64, end)."""
    value, end = simple_strtoull(s)
    if end < len(s) and s[end] in _SUFFIX_SHIFT:
        value = (value << _SUFFIX_SHIFT[s[end]]) & U64_MASK  # one <<= 10 per case
        end += 1  # exactly one suffix character
    return value, end


def _kstrtoull_noplus(s: bytes) -> int:
    """``kstrtoull(s, 0)``: digits, one optional trailing newline, nothing
    else; EINVAL without digits or with trailing text, ERANGE on overflow."""
    base, pos = fixup_radix(s, 0, 0)
    value, end, overflow = parse_integer(s, pos, base)
    if overflow:
        raise RangeError(f"number out of range: {s!r}")
    if end == pos:
        raise InvalidError(f"not a number: {s!r}")
    if end < len(s) and s[end] == 0x0A:
        end += 1
    if end != len(s):
        raise InvalidError(f"not a number: {s!r}")
    return value


def kstrtoull(s: bytes) -> int:
    """``kstrtoull(s, 0)``: a leading ``+`` is allowed."""
    return _kstrtoull_noplus(s[1:] if s[:1] == b"+" else s)


def kstrtoint(s: bytes) -> int:
    """``kstrtoint(s, 0)`` (via ``kstrtoll``): ERANGE outside int."""
    if s[:1] == b"-":
        value = -_kstrtoull_noplus(s[1:])
        if value < -(2**63):
            raise RangeError(f"number out of range: {s!r}")
    else:
        value = kstrtoull(s)
        if value > 2**63 - 1:
            raise RangeError(f"number out of range: {s!r}")
    if not -(2**31) <= value <= 2**31 - 1:
        raise RangeError(f"number out of range: {s!r}")
    return value
