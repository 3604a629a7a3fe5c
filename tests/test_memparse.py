"""memparse / page_counter_memparse: every example of SPEC 1.9 and SPEC 10.

memparse returns BYTES (lib/cmdline.c, u64 wrapping); page_counter_memparse
returns PAGES, rounded down and clamped to PAGE_COUNTER_MAX.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PCM = 2251799813685247  # (2**63 - 1) // 4096
U64 = 2**64

# ---- memparse, bytes --------------------------------------------------------

MEMPARSE_OK = [
    ("1", 1),
    ("0", 0),
    ("00", 0),
    ("4095", 4095),
    ("4096", 4096),
    ("4097", 4097),
    ("8K", 8 * 1024),
    ("8k", 8 * 1024),
    ("1M", 2**20),
    ("2m", 2 * 2**20),
    ("3g", 3 * 2**30),               # 3221225472
    ("1G", 2**30),
    ("1T", 2**40),
    ("1t", 2**40),
    ("1P", 2**50),
    ("1p", 2**50),
    ("1E", 2**60),
    ("1e", 2**60),                   # 'e' is the exa suffix
    ("15E", 15 * 2**60),
    ("16E", 0),                      # 16 << 60 = 2**64 -> wraps to 0
    ("17179869184G", 0),             # 2**34 << 30 = 2**64 -> 0
    ("0x1000", 4096),
    ("0X1000", 4096),
    ("0x100000", 2**20),
    ("0x1e", 30),                    # 'e' is a hex digit here
    ("0x1E", 30),
    ("0xff", 255),
    ("0xFFk", 255 * 1024),
    ("0x10k", 16 * 1024),
    ("010M", 8 * 2**20),             # octal 010 = 8
    ("010", 8),
    ("0777", 511),
    ("07k", 7 * 1024),
    ("0k", 0),
    ("K", 0),                        # zero digits, suffix consumed
    ("k", 0),
    ("", 0),
    ("1k", 1024),
    ("99999999999999999999", 99999999999999999999 % U64),   # 7766279631452241919
    ("18446744073709551615", U64 - 1),
    ("18446744073709551616", 0),     # 2**64 wraps
    ("0xffffffffffffffff", U64 - 1),
    ("0x10000000000000000", 0),
    ("9223372036854771712", PCM * 4096),
]

MEMPARSE_BAD = [
    "-2",      # no sign: zero digits, then '-' is left over
    "-1",
    "0x",      # no hex digit after 0x: octal "0", then "x" left
    "0xg",
    "08",      # 8 is not an octal digit
    "09k",
    "1e6",     # suffix 'e' consumed, "6" left
    "1KB",
    "1Ki",
    "1kk",
    "kk",
    "12 M",
    " 2M",     # no stripping here (callers strstrip)
    "2M ",
    "2M\n",
    "1.5G",
    "1.5M",
    "max",
    "x",
    "+1",
    "1_000",
]


@pytest.mark.parametrize("text, expected", MEMPARSE_OK)
def test_memparse_examples(backend, text, expected):
    assert backend.memparse(text) == expected
    assert backend.memparse(text.encode("ascii")) == expected


@pytest.mark.parametrize("text", MEMPARSE_BAD)
def test_memparse_invalid(backend, text):
    with pytest.raises(backend.InvalidError) as ei:
        backend.memparse(text)
    assert isinstance(ei.value, ValueError)
    with pytest.raises(backend.InvalidError):
        backend.memparse(text.encode("ascii"))


# ---- page_counter_memparse, pages ------------------------------------------

PCM_OK = [
    # (text, max_token, pages)
    ("1", "max", 0),                 # 1 byte rounds down to 0 pages
    ("4095", "max", 0),
    ("4096", "max", 1),
    ("4097", "max", 1),              # SPEC 10: 4097 reads back 4096 bytes
    ("1k", "-1", 0),                 # SPEC 10: 1k reads back 0
    ("8K", "max", 2),
    ("8k", "max", 2),
    ("1M", "max", 256),
    ("2m", "-1", 512),               # SPEC 10
    ("3g", "-1", 786432),            # SPEC 10: 3221225472 bytes / 4096
    ("0x1000", "max", 1),
    ("0x100000", "-1", 256),         # SPEC 10: hex
    ("010M", "max", 2048),           # octal 8 MiB
    ("K", "max", 0),
    ("1e", "max", 2**48),            # 2**60 bytes
    ("0x1e", "max", 0),              # 30 bytes
    ("16E", "max", 0),               # wraps to 0
    ("8E", "max", PCM),              # 2**63 bytes = 2**51 pages -> clamp 2**51 - 1
    ("15E", "max", PCM),
    ("9223372036854771712", "max", PCM),          # exactly PCM pages
    ("9223372036854771711", "max", PCM - 1),      # one byte short: rounds down
    ("9223372036854775807", "max", PCM),          # LONG_MAX bytes -> floor = PCM
    ("9223372036854775808", "max", PCM),          # 2**51 pages -> clamped
    ("99999999999999999999", "-1", 7766279631452237824 // 4096),   # SPEC 10: 1896064363147519
    ("max", "max", PCM),
    ("-1", "-1", PCM),               # SPEC 10: -1 reads back 9223372036854771712 bytes
    ("", "max", 0),
    ("", "", PCM),                   # memory.reclaim style token
    ("max\x00junk", "max", PCM),     # strcmp stops at the NUL
    ("0", "", 0),
]

PCM_BAD = [
    ("1KB", "max"),
    ("1Ki", "max"),
    ("1.5G", "max"),
    ("1.5M", "-1"),                  # SPEC 10
    ("12 M", "max"),
    ("-2", "max"),
    ("-2", "-1"),                    # SPEC 10
    ("max", "-1"),                   # "max" in a v1 file, SPEC 10
    ("-1", "max"),                   # "-1" in a v2 file
    ("0x", "max"),
    ("08", "max"),
    ("1e6", "max"),
    (" 2M", "-1"),                   # no stripping inside the function
    ("max ", "max"),
    ("MAX", "max"),
    ("max", ""),
]


@pytest.mark.parametrize("text, token, pages", PCM_OK)
def test_page_counter_memparse_examples(backend, text, token, pages):
    assert backend.page_counter_memparse(text, token) == pages
    assert backend.page_counter_memparse(text.encode(), token.encode()) == pages
    if token == "max":
        assert backend.page_counter_memparse(text) == pages   # default token


@pytest.mark.parametrize("text, token", PCM_BAD)
def test_page_counter_memparse_invalid(backend, text, token):
    with pytest.raises(backend.InvalidError) as ei:
        backend.page_counter_memparse(text, token)
    assert isinstance(ei.value, ValueError)
    with pytest.raises(backend.InvalidError):
        backend.page_counter_memparse(text.encode(), token.encode())


def test_page_counter_memparse_after_strip(backend):
    # SPEC 10: " 2M" is accepted by the kernel file because the caller strips
    assert backend.page_counter_memparse(" 2M".strip(), "-1") == 512
    assert backend.page_counter_memparse("2M\n".strip(), "max") == 512
    assert PCM * backend.PAGE_SIZE == 9223372036854771712


# ---- C-string and type rules ----------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("12\x00abc", 12),
        ("4K\x00zz", 4096),
        ("\x00", 0),
        ("\x001", 0),
        ("0x10\x00\xff", 16),
    ],
)
def test_memparse_nul_ends_string(backend, text, expected):
    assert backend.memparse(text.encode("latin-1")) == expected
    if text.isascii():
        assert backend.memparse(text) == expected


@pytest.mark.parametrize("text", ["1\u00e9", "\uff11", "1\u00b5", "\u00e9", "1K\u2009"])
def test_non_ascii_str_is_invalid(backend, text):
    with pytest.raises(backend.InvalidError):
        backend.memparse(text)
    with pytest.raises(backend.InvalidError):
        backend.page_counter_memparse(text)


def test_non_ascii_bytes_left_over_is_invalid(backend):
    with pytest.raises(backend.InvalidError):
        backend.memparse(b"1\xe9")
    with pytest.raises(backend.InvalidError):
        backend.page_counter_memparse(b"4096\xff")


@pytest.mark.parametrize("bad", [1, 1.0, None, ["1"], bytearray(b"1"), memoryview(b"1"), True, object()])
def test_memparse_bad_type(backend, bad):
    with pytest.raises(backend.InvalidTypeError) as ei:
        backend.memparse(bad)
    assert isinstance(ei.value, TypeError)
    with pytest.raises(backend.InvalidTypeError):
        backend.page_counter_memparse(bad)
    with pytest.raises(backend.InvalidTypeError):
        backend.page_counter_memparse("1", bad)


# ---- properties ---------------------------------------------------------------

# ``backend`` is a module, not per-example state: reusing it across examples is fine.
fixture_ok = settings(
    suppress_health_check=[*settings.default.suppress_health_check, HealthCheck.function_scoped_fixture]
)

SUFFIXES = [("", 0)] + [
    (ch, 10 * (i + 1)) for i, letters in enumerate(["kK", "mM", "gG", "tT", "pP", "eE"]) for ch in letters
]


@fixture_ok
@given(v=st.integers(0, 2**64 - 1), suffix=st.sampled_from(SUFFIXES), as_bytes=st.booleans())
def test_memparse_decimal_property(backend, v, suffix, as_bytes):
    s, shift = suffix
    text = f"{v}{s}"
    arg = text.encode() if as_bytes else text
    expected = (v << shift) % U64
    assert backend.memparse(arg) == expected
    assert backend.page_counter_memparse(arg) == min(expected // 4096, PCM)


@fixture_ok
@given(v=st.integers(0, 2**70), suffix=st.sampled_from(SUFFIXES))
def test_memparse_wraps_property(backend, v, suffix):
    s, shift = suffix
    assert backend.memparse(f"{v}{s}") == (v << shift) % U64


@fixture_ok
@given(
    v=st.integers(0, 2**64 - 1),
    upper=st.booleans(),
    suffix=st.sampled_from([x for x in SUFFIXES if x[0] not in "eE"]),
)
def test_memparse_hex_property(backend, v, upper, suffix):
    s, shift = suffix
    text = (f"0X{v:X}" if upper else f"0x{v:x}") + s
    assert backend.memparse(text) == (v << shift) % U64


@fixture_ok
@given(v=st.integers(0, 2**64 - 1), suffix=st.sampled_from(SUFFIXES))
def test_memparse_octal_property(backend, v, suffix):
    s, shift = suffix
    assert backend.memparse(f"0{v:o}{s}") == (v << shift) % U64


@fixture_ok
@given(text=st.text(alphabet="0123456789abcdefxXkKmMgGtTpPeE -.", max_size=12))
def test_page_counter_memparse_consistent_with_memparse(backend, text):
    try:
        b = backend.memparse(text)
    except backend.InvalidError:
        if text != "max":
            with pytest.raises(backend.InvalidError):
                backend.page_counter_memparse(text)
        return
    assert backend.page_counter_memparse(text) == min(b // 4096, PCM)
