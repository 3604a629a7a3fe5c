"""Fuzz ``memparse`` and ``page_counter_memparse``: the C core, the model and
an independent reference (written here from lib/cmdline.c) agree on every
input, and only the package's errors escape.

Input: byte 0 picks the function, the argument types and the max token;
the rest is the text (``str`` inputs decode it as Latin-1, so non-ASCII
characters occur).
"""

from __future__ import annotations

import fuzzlib
from fuzzlib import Input, Violation, agree, outcome

with fuzzlib.instrumented():
    import pymemcg
    import pymemcg.model

U64 = 2**64
MAX_TOKENS = [b"max", b"-1", b"", b"0", b"max\n", None]  # None: take it from the input


def ref_memparse(s: bytes) -> int | None:
    """lib/cmdline.c memparse() over a C string that must be consumed whole
    (page_counter_memparse's ``*end != '\\0'``); None: invalid."""
    s = s.split(b"\0", 1)[0]
    i, base = 0, 10
    if s[:1] == b"0":  # _parse_integer_fixup_radix
        if s[1:2] in (b"x", b"X") and s[2:3] and s[2:3] in b"0123456789abcdefABCDEF":
            i, base = 2, 16
        else:
            base = 8
    value = 0
    while i < len(s):
        c = chr(s[i]).lower()
        d = "0123456789abcdef".find(c) if c.isascii() and c else -1
        if d < 0 or d >= base:
            break
        value = (value * base + d) % U64
        i += 1
    shifts = {"k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
    if i < len(s) and chr(s[i]).lower() in shifts:
        value = (value << shifts[chr(s[i]).lower()]) % U64
        i += 1
    return value if i == len(s) else None


def ref_page_counter_memparse(s: bytes, token: bytes) -> int | None:
    if s.split(b"\0", 1)[0] == token.split(b"\0", 1)[0]:
        return pymemcg.PAGE_COUNTER_MAX
    v = ref_memparse(s)
    return None if v is None else min(v // pymemcg.PAGE_SIZE, pymemcg.PAGE_COUNTER_MAX)


def test_one_input(data: bytes) -> None:
    inp = Input(data)
    mode = inp.byte()
    as_str = bool(mode & 1)
    pcm = bool(mode & 2)
    token = MAX_TOKENS[(mode >> 2) % len(MAX_TOKENS)]
    if token is None:
        token = inp.chunk(8)
    token_as_str = bool(mode & 0x40)
    raw = inp.rest()
    text = raw.decode("latin-1") if as_str else raw
    tok = token.decode("latin-1") if token_as_str else token
    allowed = (pymemcg.MemcgError,)
    if pcm:
        c = outcome(pymemcg.page_counter_memparse, text, tok, allowed=allowed)
        m = outcome(pymemcg.model.page_counter_memparse, text, tok, allowed=allowed)
    else:
        c = outcome(pymemcg.memparse, text, allowed=allowed)
        m = outcome(pymemcg.model.memparse, text, allowed=allowed)
    agree(f"{'page_counter_memparse' if pcm else 'memparse'}({text!r}, {tok!r})", c, m)
    # Non-ASCII text is InvalidError in both; otherwise check the reference.
    ascii_ok = not as_str or text.isascii()
    tok_ok = not token_as_str or tok.isascii()
    if not (ascii_ok and (tok_ok or not pcm)):
        if c[0] != "err" or c[1] != "InvalidError":
            raise Violation(f"non-ASCII str {text!r}/{tok!r} gave {c!r}, not InvalidError")
        return
    ref = ref_page_counter_memparse(raw, token) if pcm else ref_memparse(raw)
    expect = ("err", "InvalidError", 22) if ref is None else ("ok", ref)
    agree(f"the reference vs the C core on {text!r}, {tok!r}", c, expect)
    if c[0] == "ok":
        v = c[1]
        if type(v) is not int or not 0 <= v < U64 or (pcm and v > pymemcg.PAGE_COUNTER_MAX):
            raise Violation(f"{text!r} parsed to {v!r}")


if __name__ == "__main__":
    fuzzlib.main(test_one_input, max_len=64)
