"""The cgroup interface files (pymemcg.cgroupfs): parse, format, errno.

Every expected value is worked out by hand from the kernel's code (the
arithmetic is in the comments) or is a value a live Linux 6.18 kernel
printed (SPEC.md section 10 and the probes quoted here), never computed by
calling pymemcg.  Each test runs on the pure-Python oracle and on the C core.

The last test holds pymemcg against the running kernel's cgroup v1 memory
files when it can (root, a writable v1 memory hierarchy, Linux 6.6+); it
skips with the reason otherwise.
"""

from __future__ import annotations

import errno
import os
import uuid

import pytest

import pymemcg
import pymemcg.model
from pymemcg import _kstrtox, cgroupfs
from pymemcg.errors import AgainError, NoDeviceError, RangeError, TooBigError

PCM = 2**51 - 1  # PAGE_COUNTER_MAX
PAGE = 4096
UNLIMITED_V1 = "9223372036854771712\n"  # PAGE_COUNTER_MAX * 4096
UNLIMITED_38 = "9223372036854775807\n"  # res_counter RESOURCE_MAX = LLONG_MAX


# The `backend` fixture (C core and model) comes from conftest.py.


def make(backend, preset: str = "current_v1", ncpus: int = 1, hook=None, **changes):
    cfg = getattr(backend.Config, preset)(ncpus=ncpus, **changes)
    return backend.Hierarchy(config=cfg, reclaim=hook)


class Recorder:
    """A reclaim hook that records its calls; optionally uncharges what it
    is asked for (a perfect reclaimer) or a fixed number of pages."""

    def __init__(self, uncharge: bool = False, per_call: int | None = None) -> None:
        self.calls: list = []
        self.uncharge = uncharge
        self.per_call = per_call

    def __call__(self, cg, nr_pages):
        self.calls.append((cg.path, nr_pages))
        n = nr_pages if self.per_call is None else self.per_call
        if self.uncharge:
            n = min(n, cg.memory.usage)
            cg.uncharge(n)
            return n
        return 0


def err(fn, *args):
    """The errno name an operation fails with, or "ok"."""
    try:
        fn(*args)
    except OSError as e:
        return errno.errorcode[e.errno]
    except (ValueError, TypeError) as e:
        return errno.errorcode[e.errno]
    return "ok"


# ==========================================================================
# The kernel's string helpers
# ==========================================================================


def test_strstrip_uses_the_kernel_isspace_set():
    # lib/ctype.c: \t \n \v \f \r, space and 0xA0 are _S; 0x1c-0x1f and 0x85 are not
    assert cgroupfs._strstrip(b" \t\n\v\f\r\xa0x y\xa0\r\f\v\n\t ") == b"x y"
    assert cgroupfs._strstrip(b"\x1cx\x85") == b"\x1cx\x85"
    assert cgroupfs._strstrip(b"") == b"" and cgroupfs._strstrip(b" \n ") == b""


@pytest.mark.parametrize("text, value", [
    (b"1", 1), (b"1\n", 1), (b"+1", 1), (b"0x1f", 31), (b"0X1F", 31), (b"010", 8),
    (b"0", 0), (b"18446744073709551615", 2**64 - 1),
])
def test_kstrtoull_accepts(text, value):
    assert _kstrtox.kstrtoull(text) == value


@pytest.mark.parametrize("text, exc", [
    (b"", pymemcg.InvalidError), (b" 1", pymemcg.InvalidError), (b"1 ", pymemcg.InvalidError),
    (b"1\n\n", pymemcg.InvalidError), (b"-1", pymemcg.InvalidError),
    (b"0x", pymemcg.InvalidError),  # octal 0, then "x" is left over
    (b"08", pymemcg.InvalidError), (b"++1", pymemcg.InvalidError),
    (b"18446744073709551616", RangeError),  # 2**64
    (b"99999999999999999999", RangeError),
])
def test_kstrtoull_rejects(text, exc):
    with pytest.raises(exc):
        _kstrtox.kstrtoull(text)


@pytest.mark.parametrize("text, value", [
    (b"-0", 0), (b"-1", -1), (b"+7", 7), (b"2147483647", 2**31 - 1), (b"-2147483648", -(2**31)),
])
def test_kstrtoint_accepts(text, value):
    assert _kstrtox.kstrtoint(text) == value


@pytest.mark.parametrize("text, exc", [
    (b"2147483648", RangeError), (b"-2147483649", RangeError), (b"-+1", pymemcg.InvalidError),
    (b"9223372036854775808", RangeError), (b"abc", pymemcg.InvalidError),
])
def test_kstrtoint_rejects(text, exc):
    with pytest.raises(exc):
        _kstrtox.kstrtoint(text)


CORPUS = [b"", b"0", b"1", b"4095", b"4096", b"4097", b"8K", b"8k", b"1M", b"0x1000", b"010M",
          b"K", b"1KB", b"1Ki", b"1.5G", b"12 M", b"-2", b"max", b"-1", b"0x", b"08", b"1e",
          b"0x1e", b"1e6", b"16E", b"99999999999999999999", b"9223372036854771712",
          b"18446744073709551615", b"3g", b"0X100000"]


@pytest.mark.parametrize("token", [b"-1", b"max"])
def test_page_counter_memparse_agrees_with_both_backends(token):
    for text in CORPUS:
        for mod in (pymemcg, pymemcg.model):
            try:
                want = mod.page_counter_memparse(text, token)
            except pymemcg.InvalidError:
                want = "EINVAL"
            try:
                got = cgroupfs._page_counter_memparse(text, token)
            except pymemcg.InvalidError:
                got = "EINVAL"
            assert got == want, (text, token, mod.__name__)


@pytest.mark.parametrize("text, pages", [
    (b"1", 1), (b"4096", 1), (b"4097", 2), (b"0", 0), (b"-1", PCM), (b"-01", PCM),
    (b"-0001", PCM), (b"8K", 2), (b"1M", 256),
    # 2**64 - 1 + 4095 wraps to 4094; & ~4095 -> 0
    (b"18446744073709551615", 0),
    # 9223372036854771713 rounds up to 2**63 bytes = 2**51 pages > PCM: capped
    (b"9223372036854771713", PCM),
])
def test_res_counter_memparse_rounds_up(text, pages):
    assert cgroupfs._res_counter_memparse(text) == pages


@pytest.mark.parametrize("text", [b"-2", b"-1x", b"-0x1", b"- 1", b"max", b"1.5M", b"-"])
def test_res_counter_memparse_rejects(text):
    with pytest.raises(pymemcg.InvalidError):
        cgroupfs._res_counter_memparse(text)


@pytest.mark.parametrize("token, ok", [
    (b"swappiness=0", True), (b"swappiness=200", True), (b"swappiness=201", False),
    (b"swappiness=max", True), (b"swappiness=", False), (b"swappiness=60x", False),
    (b"swappiness=0x10", True), (b"swappiness=-1", False),
    (b"swappiness=-", True),  # %d matches "-" (to != from); simple_strtol("-") is 0
    (b"swappiness=-x", False), (b"swappiness=+5", False), (b"swappiness=08", False),
    (b"swappiness=" + b"0" * 23, True), (b"swappiness=" + b"0" * 24, False),  # NUMBER_BUF_LEN
    (b"swappiness", False), (b"foo", False), (b"Swappiness=1", False),
])
def test_memory_reclaim_swappiness_token(token, ok):
    assert cgroupfs._match_swappiness(token) is ok


# ==========================================================================
# kernfs and the cgroup core: the write buffer, missing handlers, files
# ==========================================================================


def test_zero_length_write_is_a_no_op_even_on_read_only_files(backend):
    h = make(backend)
    g = h.create("a")
    g.write("memory.limit_in_bytes", "")  # cgroup_file_write: if (!nbytes) return 0
    g.write("memory.limit_in_bytes", b"")
    assert g.read("memory.limit_in_bytes") == UNLIMITED_V1
    g.write("memory.usage_in_bytes", "")  # read-only, but the no-op comes first
    with g.open("memory.limit_in_bytes") as f:
        assert f.write(b"") == 0


@pytest.mark.parametrize("data, want", [
    (b"\0", "0\n"),  # one byte: the empty string -> 0 bytes -> 0 pages (kernel 6.18)
    (b"\0 123", "0\n"),  # the text ends at the NUL
    (b"12\0 junk", "0\n"),  # "12" -> 12 bytes -> 0 pages
    (b"\xa04096\xa0", "4096\n"),  # 0xA0 is a kernel space
    (b"\x0b8192\x0c", "8192\n"),  # \v and \f
    (b" 1\n\n", "0\n"),
    (b"\t", "0\n"),  # strips to "" -> memparse("") -> 0
    ("4096 ", "4096\n"), ("-1 ", UNLIMITED_V1),
])
def test_write_buffer_nul_and_isspace(backend, data, want):
    h = make(backend)
    g = h.create("a")
    g.write("memory.limit_in_bytes", data)
    assert g.read("memory.limit_in_bytes") == want


def test_str_is_written_as_utf8(backend):
    h = make(backend)
    g = h.create("a")
    # U+00A0 is the two bytes c2 a0 in UTF-8: c2 is no space, memparse stops there
    with pytest.raises(pymemcg.InvalidError):
        g.write("memory.limit_in_bytes", "\u00a04096")
    g.write("memory.limit_in_bytes", bytearray(b"8K"))
    assert g.read("memory.limit_in_bytes") == "8192\n"
    with pytest.raises(pymemcg.InvalidError):
        g.write("memory.limit_in_bytes", "\ud800")  # a lone surrogate has no UTF-8
    with pytest.raises(pymemcg.InvalidTypeError):
        g.write("memory.limit_in_bytes", 4096)
    with pytest.raises(pymemcg.InvalidTypeError):
        g.read(b"memory.limit_in_bytes")


def test_one_page_is_the_longest_write(backend):
    h = make(backend)
    g = h.create("a")
    # 4096 ones: accepted (kernel 6.18 read back 8198552921648689152: the value
    # wrapped mod 2**64 and rounded down to a page)
    g.write("memory.limit_in_bytes", "1" * 4096)
    assert g.read("memory.limit_in_bytes") == "8198552921648689152\n"
    g.write("memory.limit_in_bytes", "-1")
    with pytest.raises(TooBigError) as ei:
        g.write("memory.limit_in_bytes", "1" * 4097)  # kernfs atomic_write_len: E2BIG
    assert ei.value.errno == errno.E2BIG
    assert g.read("memory.limit_in_bytes") == UNLIMITED_V1


def test_missing_handlers_are_einval(backend):
    h = make(backend)
    g = h.create("a")
    for name in ("memory.usage_in_bytes", "memory.stat", "memory.kmem.usage_in_bytes"):
        with pytest.raises(pymemcg.InvalidError) as ei:
            g.write(name, "1")  # cgroup_file_write: no write handler
        assert ei.value.errno == errno.EINVAL
    with pytest.raises(pymemcg.InvalidError):
        g.read("memory.force_empty")  # cgroup_seqfile_show: no read handler
    h2 = make(backend, "current")
    with pytest.raises(pymemcg.InvalidError):
        h2.root.read("memory.reclaim")
    with pytest.raises(pymemcg.InvalidError):
        h2.create("a").write("memory.current", "1")


def test_which_files_exist(backend):
    v1 = make(backend).create("a")
    assert len(cgroupfs.files(v1)) == 23  # 4 counters x 4 files + 7 others
    assert cgroupfs.files(v1) == cgroupfs.files(v1.hierarchy.root)  # no NOT_ON_ROOT in v1
    for name in ("memory.max", "memory.current", "cgroup.stat", "memory.events",
                 "memory.numa_stat", "nope"):
        with pytest.raises(pymemcg.NotFoundError) as ei:
            v1.read(name)
        assert ei.value.errno == errno.ENOENT and isinstance(ei.value, FileNotFoundError)
    assert v1.read("memory.kmem.slabinfo") == ""  # 5.9+ kept the file, empty
    no_memsw = make(backend, memsw=False).create("a")
    assert len(cgroupfs.files(no_memsw)) == 19
    with pytest.raises(pymemcg.NotFoundError):
        no_memsw.write("memory.memsw.limit_in_bytes", "1M")
    v2 = make(backend, "current")
    g = v2.create("a")
    assert len(cgroupfs.files(g)) == 17
    assert cgroupfs.files(v2.root) == ["cgroup.stat", "memory.reclaim", "memory.stat"]
    for name in ("memory.max", "memory.current", "memory.peak", "memory.events",
                 "memory.oom.group", "memory.swap.max", "memory.limit_in_bytes"):
        with pytest.raises(pymemcg.NotFoundError):
            v2.root.read(name)
    with pytest.raises(pymemcg.NotFoundError):
        g.read("memory.limit_in_bytes")


def test_removed_cgroup_has_no_files(backend):
    h = make(backend, "current")
    g = h.create("a")
    f = g.open("memory.max")
    g.try_charge(1)
    g.remove()  # dying: one page still charged
    assert g.dying
    with pytest.raises(pymemcg.NotFoundError):
        g.read("memory.max")
    with pytest.raises(NoDeviceError) as ei:
        f.read()  # an open file after rmdir: kernfs_get_active fails
    assert ei.value.errno == errno.ENODEV
    with pytest.raises(NoDeviceError):
        f.write("1M")
    f.close()
    with pytest.raises(ValueError):
        f.read()


def test_open_files(backend):
    h = make(backend)
    g = h.create("a")
    with g.open("memory.limit_in_bytes") as f:
        assert f.write("1M") == 2 and f.write(b"8K\n") == 3
        assert f.read() == "8192\n" and f.read() == "8192\n"
        assert f.cgroup is g and not f.closed
    assert f.closed
    with pytest.raises(ValueError):
        f.write("1")
    with pytest.raises(pymemcg.InvalidError):
        cgroupfs.open_peak(g, "memory.max")


# ==========================================================================
# cgroup v1 (current_v1): SPEC 10, observed on Linux 6.18
# ==========================================================================


@pytest.mark.parametrize("data, want", [
    ("4097", "4096\n"), ("1k", "0\n"), ("-1", UNLIMITED_V1), ("2m", "2097152\n"),
    (" 2M", "2097152\n"), ("3g", "3221225472\n"), ("0x100000", "1048576\n"),
    ("99999999999999999999", "7766279631452237824\n"),
    # more from the same kernel
    ("K", "0\n"), ("1e", "1152921504606846976\n"), ("16E", "0\n"), ("010M", "8388608\n"),
])
def test_spec10_limit_strings(backend, data, want):
    h = make(backend)
    g = h.create("a")
    g.write("memory.limit_in_bytes", data)
    assert g.read("memory.limit_in_bytes") == want


@pytest.mark.parametrize("data", ["max", "1.5M", "-2", "-01", "0x", "1KB", "12 M", "08", "abc"])
def test_spec10_limit_strings_rejected(backend, data):
    h = make(backend)
    g = h.create("a")
    g.write("memory.limit_in_bytes", "1M")
    with pytest.raises(pymemcg.InvalidError) as ei:
        g.write("memory.limit_in_bytes", data)  # "-01": page_counter_memparse strcmp()s "-1"
    assert ei.value.errno == errno.EINVAL
    assert g.read("memory.limit_in_bytes") == "1048576\n"


def test_limit_below_usage_without_reclaim_is_ebusy(backend):
    h = make(backend)
    g = h.create("a")
    assert g.try_charge(10) is None  # batch 64: usage 64, 54 in the stock
    assert g.read("memory.usage_in_bytes") == f"{64 * PAGE}\n"
    with pytest.raises(pymemcg.BusyError) as ei:
        g.write("memory.limit_in_bytes", "16384")  # 4 pages
    assert ei.value.errno == errno.EBUSY
    # set_max(4) refused (64 > 4); drain -> usage 10; refused; reclaim frees 0 -> EBUSY
    assert g.read("memory.limit_in_bytes") == UNLIMITED_V1
    assert g.read("memory.failcnt") == "0\n"
    assert g.read("memory.usage_in_bytes") == f"{10 * PAGE}\n"


def test_limit_below_usage_fits_after_the_drain(backend):
    h = make(backend, hook=Recorder())
    g = h.create("a")
    g.try_charge(1)  # usage 64, 63 in the stock
    g.write("memory.limit_in_bytes", "4096")  # refused, drain -> usage 1 <= 1
    assert g.read("memory.limit_in_bytes") == "4096\n"
    assert g.read("memory.usage_in_bytes") == "4096\n"
    assert h.reclaim.calls == []


def test_limit_reclaims_one_page_per_round(backend):
    hook = Recorder(uncharge=True)
    h = make(backend, hook=hook)
    g = h.create("a")
    g.try_charge(10)
    g.write("memory.limit_in_bytes", "16384")
    # drain -> 10; then one page a round: 10 -> 9 -> ... -> 4: six rounds
    assert hook.calls == [("a", 1)] * 6
    assert g.read("memory.limit_in_bytes") == "16384\n"
    assert g.read("memory.usage_in_bytes") == "16384\n"
    assert g.read("memory.failcnt") == "0\n"


def test_limit_gives_up_at_the_first_round_without_progress(backend):
    hook = Recorder(uncharge=True, per_call=0)
    h = make(backend, hook=hook)
    g = h.create("a")
    g.try_charge(10)
    with pytest.raises(pymemcg.BusyError):
        g.write("memory.limit_in_bytes", "16384")
    assert hook.calls == [("a", 1)]


def test_root_v1_limits_and_usage(backend):
    h = make(backend)
    r = h.root
    g = h.create("a")
    g.try_charge(10)
    # the root's counter, charged hierarchically: 64 pages (10 + 54 in the stock)
    assert r.read("memory.usage_in_bytes") == f"{64 * PAGE}\n"
    assert r.read("memory.memsw.usage_in_bytes") == f"{64 * PAGE}\n"
    for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                 "memory.kmem.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes"):
        with pytest.raises(pymemcg.InvalidError):
            r.write(name, "1M")
        assert r.read(name) == UNLIMITED_V1
    with pytest.raises(pymemcg.InvalidError):
        r.write("memory.force_empty", "1")
    with pytest.raises(pymemcg.InvalidError):
        r.write("memory.oom_control", "1")
    r.write("memory.soft_limit_in_bytes", "1M")  # no root check for the soft limit
    assert r.read("memory.soft_limit_in_bytes") == "1048576\n"


def test_max_usage_write_resets_to_the_current_usage(backend):
    h = make(backend)
    g = h.create("a")
    g.try_charge(10)  # usage 64 (stock), watermark 64
    g.uncharge(5)  # user pages bypass the stock: usage 59
    assert g.read("memory.max_usage_in_bytes") == f"{64 * PAGE}\n"
    g.write("memory.max_usage_in_bytes", "0")
    assert g.read("memory.max_usage_in_bytes") == f"{59 * PAGE}\n"  # 241664, not 0
    g.write("memory.kmem.max_usage_in_bytes", "anything at all")
    assert g.read("memory.kmem.max_usage_in_bytes") == "0\n"


def test_failcnt_any_write_resets(backend):
    h = make(backend)
    g = h.create("a")
    g.write("memory.limit_in_bytes", "32768")  # 8 pages
    assert g.try_charge(10) is g  # refused: memory failcnt counts each failed try
    assert int(g.read("memory.failcnt")) > 0
    assert g.read("memory.memsw.failcnt") == "0\n"  # current_v1: memory only
    g.write("memory.failcnt", "x")
    assert g.read("memory.failcnt") == "0\n"


def test_kmem_limit_is_ignored_on_current_v1(backend):
    h = make(backend)
    g = h.create("a")
    g.write("memory.kmem.limit_in_bytes", "100M")  # 6.6+: accepted, no effect
    assert g.read("memory.kmem.limit_in_bytes") == UNLIMITED_V1
    for bad in ("abc", "-2"):  # still parsed first
        with pytest.raises(pymemcg.InvalidError):
            g.write("memory.kmem.limit_in_bytes", bad)


def test_tcp_limit(backend):
    h = make(backend)
    g = h.create("a")
    for data, want in (("100M", "104857600\n"), ("-1", UNLIMITED_V1), ("1", "0\n")):
        g.write("memory.kmem.tcp.limit_in_bytes", data)
        assert g.read("memory.kmem.tcp.limit_in_bytes") == want
    with pytest.raises(pymemcg.InvalidError):
        g.write("memory.kmem.tcp.limit_in_bytes", "abc")
    assert g.read("memory.kmem.tcp.usage_in_bytes") == "0\n"
    assert g.read("memory.kmem.tcp.max_usage_in_bytes") == "0\n"
    assert g.read("memory.kmem.tcp.failcnt") == "0\n"


def test_soft_limit(backend):
    h = make(backend)
    g = h.create("a")
    assert g.read("memory.soft_limit_in_bytes") == UNLIMITED_V1  # css_alloc: PAGE_COUNTER_MAX
    g.write("memory.soft_limit_in_bytes", "4097")
    assert g.read("memory.soft_limit_in_bytes") == "4096\n"
    with pytest.raises(pymemcg.InvalidError):
        g.write("memory.soft_limit_in_bytes", "x")
    assert g.read("memory.soft_limit_in_bytes") == "4096\n"
    assert h.create("b").read("memory.soft_limit_in_bytes") == UNLIMITED_V1


def test_memsw_invariant(backend):
    h = make(backend)
    g = h.create("a")
    # the sequence seen on Linux 6.18
    with pytest.raises(pymemcg.InvalidError):
        g.write("memory.memsw.limit_in_bytes", "8192")  # below memory.max (unlimited)
    g.write("memory.limit_in_bytes", "4096")
    g.write("memory.memsw.limit_in_bytes", "8192")
    assert g.read("memory.memsw.limit_in_bytes") == "8192\n"
    with pytest.raises(pymemcg.InvalidError):
        g.write("memory.limit_in_bytes", "16384")  # above memsw.max
    assert g.read("memory.limit_in_bytes") == "4096\n"
    g.write("memory.limit_in_bytes", "8192")  # equal is allowed
    assert g.read("memory.limit_in_bytes") == "8192\n"


@pytest.mark.parametrize("data, outcome", [
    # Linux 6.18: write_u64 -> kstrtoull(buf, 0), no strstrip
    ("1", "ok"), (" 1", "EINVAL"), ("1\n", "ok"), ("1\n\n", "EINVAL"), ("1 ", "EINVAL"),
    ("+1", "ok"), ("0x1", "ok"), ("01", "ok"), ("0", "EINVAL"), ("2", "EINVAL"),
    ("99999999999999999999", "ERANGE"), ("", "ok"), ("\0", "EINVAL"), ("1\0x", "ok"),
])
def test_use_hierarchy(backend, data, outcome):
    h = make(backend)
    g = h.create("a")
    assert err(g.write, "memory.use_hierarchy", data) == outcome
    assert g.read("memory.use_hierarchy") == "1\n"


@pytest.mark.parametrize("data, outcome, disabled", [
    ("0", "ok", 0), ("1", "ok", 1), ("2", "EINVAL", 0), (" 1", "EINVAL", 0), ("1\n", "ok", 1),
    ("abc", "EINVAL", 0), ("99999999999999999999", "ERANGE", 0),
])
def test_oom_control(backend, data, outcome, disabled):
    h = make(backend)
    g = h.create("a")
    assert err(g.write, "memory.oom_control", data) == outcome
    assert g.read("memory.oom_control") == (
        f"oom_kill_disable {disabled}\nunder_oom 0\noom_kill 0\n")


def test_force_empty(backend):
    hook = Recorder()
    h = make(backend, hook=hook)
    g = h.create("a")
    g.try_charge(10)
    g.write("memory.force_empty", "0")  # succeeds although nothing was freed
    # drain -> 10 pages; then 16 unproductive one-page rounds (MAX_RECLAIM_RETRIES)
    assert hook.calls == [("a", 1)] * 16
    assert g.read("memory.usage_in_bytes") == f"{10 * PAGE}\n"
    hook.uncharge = True
    g.write("memory.force_empty", "whatever")
    assert hook.calls[16:] == [("a", 1)] * 10
    assert g.read("memory.usage_in_bytes") == "0\n"


def test_v1_stat(backend):
    h = make(backend)
    a = h.create("a")
    b = a.create("b")
    a.try_charge(10)
    b.try_charge(3)
    b.try_charge(2, kmem=True)  # kernel memory has no v1 stat key
    a.write("memory.limit_in_bytes", "1M")
    assert a.read("memory.stat") == (
        "rss 40960\n"  # 10 pages, a's own
        "hierarchical_memory_limit 1048576\n"
        "hierarchical_memsw_limit 9223372036854771712\n"
        "total_rss 53248\n")  # 13 pages, a and b
    assert b.read("memory.stat") == (
        "rss 12288\nhierarchical_memory_limit 1048576\n"
        "hierarchical_memsw_limit 9223372036854771712\ntotal_rss 12288\n")
    b.remove()  # dying with its pages: still in a's total
    assert a.read("memory.stat").endswith("total_rss 53248\n")


def test_oom_control_counts_oom_kill_events(backend):
    h = make(backend)
    g = h.create("a")
    assert g.read("memory.oom_control").endswith("oom_kill 0\n")


# ==========================================================================
# cgroup v1, Linux 3.8 (res_counter): rounded up, LLONG_MAX, kmem activation
# ==========================================================================


@pytest.mark.parametrize("data, want", [
    ("4097", "8192\n"), ("1", "4096\n"),  # the v1 doc's "echo 1 -> 4096"
    ("-1", UNLIMITED_38), ("-01", UNLIMITED_38), ("0", "0\n"), ("1M", "1048576\n"),
    ("18446744073709551615", "0\n"),  # PAGE_ALIGN wraps to 0
])
def test_38_limit_strings(backend, data, want):
    h = make(backend, "linux_3_8")
    g = h.create("a")
    assert g.read("memory.limit_in_bytes") == UNLIMITED_38
    g.write("memory.limit_in_bytes", data)
    assert g.read("memory.limit_in_bytes") == want


@pytest.mark.parametrize("data", ["-2", "-1x", "max", "1.5M", "-"])
def test_38_limit_strings_rejected(backend, data):
    h = make(backend, "linux_3_8")
    with pytest.raises(pymemcg.InvalidError):
        h.create("a").write("memory.limit_in_bytes", data)


def test_38_unlimited_reads(backend):
    h = make(backend, "linux_3_8")
    g = h.create("a")
    for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                 "memory.kmem.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes",
                 "memory.soft_limit_in_bytes"):
        assert g.read(name) == UNLIMITED_38
    assert g.read("memory.stat") == (
        "rss 0\nhierarchical_memory_limit 9223372036854775807\n"
        "hierarchical_memsw_limit 9223372036854775807\ntotal_rss 0\n")
    assert g.read("memory.use_hierarchy") == "1\n"
    g.write("memory.soft_limit_in_bytes", "1")
    assert g.read("memory.soft_limit_in_bytes") == "4096\n"


def test_38_kmem_limit_activates_accounting(backend):
    h = make(backend, "linux_3_8")
    g = h.create("a")
    assert not g.kmem_active
    g.write("memory.kmem.limit_in_bytes", "-1")  # unlimited: no activation
    assert not g.kmem_active and g.read("memory.kmem.limit_in_bytes") == UNLIMITED_38
    g.write("memory.kmem.limit_in_bytes", "1M")
    assert g.kmem_active and g.read("memory.kmem.limit_in_bytes") == "1048576\n"
    g.write("memory.kmem.limit_in_bytes", "-1")  # stays active, limit removed
    assert g.kmem_active and g.read("memory.kmem.limit_in_bytes") == UNLIMITED_38


def test_38_kmem_limit_with_children_is_ebusy(backend):
    h = make(backend, "linux_3_8")
    g = h.create("a")
    g.create("b")
    with pytest.raises(pymemcg.BusyError):
        g.write("memory.kmem.limit_in_bytes", "1M")
    assert not g.kmem_active and g.read("memory.kmem.limit_in_bytes") == UNLIMITED_38


def test_38_kmem_limit_below_usage_does_not_reclaim(backend):
    hook = Recorder(uncharge=True)
    h = make(backend, "linux_3_8", hook=hook)
    g = h.create("a")
    g.write("memory.kmem.limit_in_bytes", "1M")
    assert g.try_charge(10, kmem=True) is None  # kmem counter: exactly 10 pages
    assert g.read("memory.kmem.usage_in_bytes") == "40960\n"
    with pytest.raises(pymemcg.BusyError):
        g.write("memory.kmem.limit_in_bytes", "16384")
    assert hook.calls == []
    assert g.read("memory.kmem.limit_in_bytes") == "1048576\n"
    g.write("memory.kmem.limit_in_bytes", "40960")  # equal to the usage: fine
    assert g.read("memory.kmem.limit_in_bytes") == "40960\n"


# ==========================================================================
# cgroup v2 (current)
# ==========================================================================


@pytest.mark.parametrize("data, want", [
    ("max", "max\n"), ("4097", "4096\n"), (" 1M\n", "1048576\n"), ("0", "0\n"),
    ("9223372036854771712", "max\n"),  # PCM pages exactly
    ("9223372036854775807", "max\n"),  # clamped to PCM
    ("16E", "0\n"), ("K", "0\n"),
])
def test_v2_limit_strings(backend, data, want):
    h = make(backend, "current")
    g = h.create("a")
    for name in ("memory.max", "memory.high", "memory.min", "memory.low",
                 "memory.swap.max", "memory.swap.high"):
        g.write(name, data)
        assert g.read(name) == want, name


@pytest.mark.parametrize("data", ["-1", "1.5M", "max ", "mAx", "1 M"])
def test_v2_limit_strings_rejected(backend, data):
    h = make(backend, "current")
    g = h.create("a")
    if data == "max ":  # trailing space is stripped: that one is fine
        g.write("memory.max", data)
        return
    with pytest.raises(pymemcg.InvalidError):
        g.write("memory.max", data)
    assert g.read("memory.max") == "max\n"


def test_v2_defaults(backend):
    h = make(backend, "current")
    g = h.create("a")
    assert [g.read(n) for n in ("memory.current", "memory.min", "memory.low", "memory.high",
                                "memory.max", "memory.peak", "memory.oom.group",
                                "memory.swap.current", "memory.swap.high", "memory.swap.max",
                                "memory.swap.peak", "memory.swap.events")] == [
        "0\n", "0\n", "0\n", "max\n", "max\n", "0\n", "0\n", "0\n", "max\n", "max\n", "0\n",
        "high 0\nmax 0\nfail 0\n"]
    assert g.read("memory.events") == (
        "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n")
    assert g.read("memory.events.local") == g.read("memory.events")


def test_v2_max_installs_above_usage_then_ooms(backend):
    hook = Recorder()
    h = make(backend, "current", hook=hook)
    a = h.create("a")
    b = a.create("b")
    b.try_charge(10)  # usage 64 (stock 54)
    b.write("memory.max", "16384")  # never fails
    assert b.read("memory.max") == "16384\n"
    # xchg max = 4; drain -> 10; 16 unproductive rounds asking for 10 - 4 = 6; then oom
    assert hook.calls == [("a/b", 6)] * 16
    assert b.events_local["oom"] == 1
    assert b.read("memory.events.local") == (
        "low 0\nhigh 0\nmax 0\noom 1\noom_kill 0\noom_group_kill 0\n")
    assert a.read("memory.events").splitlines()[3] == "oom 1"  # hierarchical on v2
    assert a.read("memory.events.local").splitlines()[3] == "oom 0"
    assert b.read("memory.current") == "40960\n"
    # the new max holds for later charges
    assert b.try_charge(1) is b


def test_v2_max_reclaims_to_fit(backend):
    hook = Recorder(uncharge=True)
    h = make(backend, "current", hook=hook)
    g = h.create("a")
    g.try_charge(10)
    g.write("memory.max", "16384")
    assert hook.calls == [("a", 6)]  # drain -> 10, reclaim 6 -> 4 <= 4
    assert g.read("memory.current") == "16384\n" and g.events["oom"] == 0


def test_v2_high_reclaims_then_gives_up(backend):
    hook = Recorder()
    h = make(backend, "current", hook=hook)
    g = h.create("a")
    g.try_charge(10)
    g.write("memory.high", "16384")  # never fails
    # set_high 4; drain -> 10; "if (!reclaimed && !nr_retries--) break": 17 rounds of 6
    assert hook.calls == [("a", 6)] * 17
    assert g.read("memory.high") == "16384\n"
    assert g.events == {"low": 0, "high": 0, "max": 0, "oom": 0, "oom_kill": 0,
                        "oom_group_kill": 0}  # the write raises no event


def test_v2_high_drain_can_be_enough(backend):
    hook = Recorder()
    h = make(backend, "current", hook=hook)
    g = h.create("a")
    g.try_charge(4)  # usage 64, 60 in the stock
    g.write("memory.high", "16384")
    assert hook.calls == [] and g.read("memory.current") == "16384\n"


def test_v2_min_low(backend):
    h = make(backend, "current")
    g = h.create("a")
    g.write("memory.min", "8K")
    g.write("memory.low", "1M")
    assert (g.read("memory.min"), g.read("memory.low")) == ("8192\n", "1048576\n")
    assert (g.memory.min, g.memory.low) == (2, 256)
    with pytest.raises(pymemcg.InvalidError):
        g.write("memory.min", "-1")


def test_v2_reclaim(backend):
    hook = Recorder(uncharge=True)
    h = make(backend, "current", hook=hook)
    g = h.create("a")
    g.try_charge(300)  # batch = max(64, 300): usage 300, nothing in the stock
    g.write("memory.reclaim", "1M")  # 256 pages
    # asks max(rest // 4, 32): 64 (192 left), 48 (144), 36 (108), 27->32 (76),
    # 19->32 (44), 11->32 (12), 3->32 (-20: done) = 276 pages reclaimed
    assert hook.calls == [("a", n) for n in (64, 48, 36, 32, 32, 32, 32)]
    assert g.read("memory.current") == f"{24 * PAGE}\n"


def test_v2_reclaim_eagain(backend):
    hook = Recorder()
    h = make(backend, "current", hook=hook)
    g = h.create("a")
    with pytest.raises(AgainError) as ei:
        g.write("memory.reclaim", "1M swappiness=60")
    assert ei.value.errno == errno.EAGAIN and isinstance(ei.value, BlockingIOError)
    # "if (!reclaimed && !nr_retries--) return -EAGAIN": 17 rounds of 256 // 4
    assert hook.calls == [("a", 64)] * 17


@pytest.mark.parametrize("data, outcome", [
    ("0", "ok"), ("K", "ok"), ("m", "ok"),  # 0 pages: nothing to do
    ("\n", "EINVAL"),  # no size at all
    ("max", "EINVAL"),  # "m" is a suffix of 0; "ax" is left as an option
    ("0 swappiness=60", "ok"), ("0 swappiness=max", "ok"), ("0  swappiness=60", "ok"),
    ("0\tswappiness=60", "ok"), ("0 swappiness=201", "EINVAL"), ("0 swappiness=", "EINVAL"),
    ("0 swappiness=-", "ok"), ("0 foo", "EINVAL"), ("0foo", "EINVAL"),
    ("0 swappiness=60\tx", "EINVAL"), ("0 swappiness=1 swappiness=2", "ok"),
])
def test_v2_reclaim_syntax(backend, data, outcome):
    hook = Recorder()
    h = make(backend, "current", hook=hook)
    for g in (h.root, h.create("a")):  # memory.reclaim exists on the root too
        assert err(g.write, "memory.reclaim", data) == outcome
    assert hook.calls == []


def test_v2_oom_group(backend):
    h = make(backend, "current")
    g = h.create("a")
    table = [("1", "ok", 1), (" 0\n", "ok", 0), ("2", "EINVAL", 0), ("abc", "EINVAL", 0),
             ("0x1", "ok", 1), ("-0", "ok", 0), ("99999999999", "ERANGE", 0), ("-1", "EINVAL", 0)]
    for data, outcome, value in table:
        assert err(g.write, "memory.oom.group", data) == outcome, data
        assert g.read("memory.oom.group") == f"{value}\n", data


def test_v2_stat(backend):
    h = make(backend, "current")
    a = h.create("a")
    b = a.create("b")
    a.try_charge(10)
    b.try_charge(3)
    b.try_charge(2, kmem=True)
    tail = "kernel_stack 0\npagetables 0\nsock 0\nslab_reclaimable 0\nslab_unreclaimable 0\nslab 0\n"
    assert a.read("memory.stat") == "anon 53248\nkernel 8192\n" + tail  # 13 and 2 pages, hierarchical
    assert b.read("memory.stat") == "anon 12288\nkernel 8192\n" + tail
    assert h.root.read("memory.stat") == "anon 53248\nkernel 8192\n" + tail
    # A task: its stack (4 pages) and, for 513 dense pages, 2 PTE + 1 PMD + 1 PUD
    # page-table pages, all kernel memory; its user pages are anon.
    t = b.fork()
    t.fault(513)
    assert b.read("memory.stat") == (
        f"anon {(3 + 513) * 4096}\nkernel {(2 + 4 + 4) * 4096}\n"
        f"kernel_stack {4 * 4096}\npagetables {4 * 4096}\nsock 0\n"
        "slab_reclaimable 0\nslab_unreclaimable 0\nslab 0\n")
    t.exit()
    assert b.read("memory.stat") == "anon 12288\nkernel 8192\n" + tail


def test_cgroup_stat(backend):
    h = make(backend, "current")
    a = h.create("a")
    a.create("b")
    c = a.create("c")
    c.try_charge(1)
    c.remove()  # dying: one page still charged
    assert a.read("cgroup.stat") == (
        "nr_descendants 1\nnr_subsys_memory 2\nnr_dying_descendants 1\n"
        "nr_dying_subsys_memory 1\n")
    assert h.root.read("cgroup.stat") == (
        "nr_descendants 2\nnr_subsys_memory 3\nnr_dying_descendants 1\n"
        "nr_dying_subsys_memory 1\n")


# memory.peak: SPEC 4.4 (Linux 6.12+), fd-local resets


def test_peak_per_open_file(backend):
    h = make(backend, "current")
    g = h.create("a")
    # flags=0: a charge that may not even spin charges exactly nr_pages (6.16)
    g.try_charge(10, flags=0)  # usage 10, watermark 10
    f1 = g.open("memory.peak")
    assert f1.read() == "40960\n"  # unset: the global watermark
    assert f1.write("reset") == 5  # local_watermark := 10; f1 := 10
    g.try_charge(5, flags=0)  # usage 15: local_watermark and watermark 15
    g.uncharge(12)  # usage 3
    assert f1.read() == "61440\n"  # max(10, 15) = 15 pages
    f2 = g.open("memory.peak")
    f2.write("x")  # local_watermark := 3; f1 keeps 10 (3 > 10 is false); f2 := 3
    assert f1.read() == "40960\n"  # max(10, 3): the 15 is lost to f1 (the quirk)
    assert f2.read() == "12288\n"  # max(3, 3)
    assert g.read("memory.peak") == "61440\n"  # a fresh open file: the watermark, 15
    g.try_charge(20, flags=0)  # usage 23
    assert (f1.read(), f2.read()) == ("94208\n", "94208\n")  # 23 pages
    g.uncharge(23)
    g.write("memory.peak", "\n")  # open, reset, close: usage 0 -> local_watermark 0
    # f1 and f2 keep their own values (10 and 3): 0 > 10 and 0 > 3 raise nothing,
    # and the 23 that lived only in local_watermark is gone for both
    assert (f1.read(), f2.read()) == ("40960\n", "12288\n")
    assert f2.write(b"") == 0  # zero length: no reset
    assert f2.write(b"\0") == 1  # one byte: a reset, f2 := 0
    assert (f1.read(), f2.read()) == ("40960\n", "0\n")
    f2.close()
    g.try_charge(2, flags=0)  # usage 2: local_watermark 2
    g.write("memory.peak", "r")  # local_watermark := 2; the registered f1 stays 10
    assert f1.read() == "40960\n"
    f1.close()
    assert g.read("memory.peak") == "94208\n"  # the all-time watermark, 23


def test_peak_raises_registered_files(backend):
    h = make(backend, "current")
    g = h.create("a")
    with cgroupfs.open_peak(g) as f1, cgroupfs.open_peak(g) as f2:
        f1.write("x")  # usage 0: f1 := 0
        g.try_charge(7, flags=0)
        g.uncharge(2)  # usage 5, local_watermark 7
        f2.write("x")  # local_watermark := 5; f1: 5 > 0 -> 5; f2 := 5
        assert (f1.read(), f2.read()) == ("20480\n", "20480\n")


def test_swap_peak(backend):
    h = make(backend, "current")
    g = h.create("a")
    with g.open("memory.swap.peak") as f:
        f.write("reset")
        assert f.read() == "0\n"


# ==========================================================================
# The running kernel (differential)
# ==========================================================================


def _kernel_v1_memcg() -> tuple[str | None, str]:
    """(our own v1 memory cgroup's directory, "") or (None, why not)."""
    if os.geteuid() != 0:
        return None, f"not root (euid {os.geteuid()}): cannot create a memory cgroup"
    try:
        release = os.uname().release
        major, minor = (int(x) for x in release.split(".")[:2])
    except (ValueError, IndexError):
        return None, f"cannot parse the kernel release {os.uname().release!r}"
    if (major, minor) < (6, 6):
        return None, (f"Linux {release}: the current_v1 preset is Linux 6.6+ "
                      "(kmem.limit_in_bytes writes are no-ops only since 6.6)")
    try:
        with open("/proc/self/cgroup") as fh:
            lines = fh.read().splitlines()
    except OSError as e:
        return None, f"cannot read /proc/self/cgroup: {e}"
    path = None
    for line in lines:
        _, controllers, cgpath = line.split(":", 2)
        if "memory" in controllers.split(","):
            path = cgpath
    if path is None:
        return None, "no cgroup v1 memory controller in /proc/self/cgroup (cgroup v2 only?)"
    base = "/sys/fs/cgroup/memory" + path.rstrip("/")
    if not os.path.exists(os.path.join(base, "memory.limit_in_bytes")):
        return None, (f"{base}/memory.limit_in_bytes does not exist "
                      "(the v1 memory hierarchy is not mounted there)")
    if not os.access(base, os.W_OK):
        return None, f"{base} is not writable"
    return base, ""


def _kwrite(path: str, data: bytes) -> str:
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as e:
        return "open:" + errno.errorcode[e.errno]
    try:
        os.write(fd, data)
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
    finally:
        os.close(fd)


def _kread(path: str) -> str:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        return "open:" + errno.errorcode[e.errno]
    try:
        return os.read(fd, 1 << 16).decode()
    except OSError as e:
        return errno.errorcode[e.errno]
    finally:
        os.close(fd)


def _pwrite(g, name: str, data: bytes) -> str:
    try:
        g.write(name, data)
        return "ok"
    except FileNotFoundError:
        return "open:ENOENT"
    except (OSError, ValueError) as e:
        return errno.errorcode[e.errno]


def _pread(g, name: str) -> str:
    try:
        return g.read(name)
    except FileNotFoundError:
        return "open:ENOENT"
    except (OSError, ValueError) as e:
        return errno.errorcode[e.errno]


LIMIT = "memory.limit_in_bytes"
DIFF_WRITES = [
    (LIMIT, d) for d in (
        b"", b"\0", b"4097", b"\0 123", b"12\0 junk", b"\xa04096\xa0", b"\x0b8192\x0c",
        b" 1\n\n", b"1" * 4096, b"1" * 4097, b"-01", b"-1", b"K", b"\t", b"0x", b"1e", b"16E",
        b"4096 ", b"-1 ", b"1k", b"2m", b" 2M", b"3g", b"0x100000", b"max", b"1.5M", b"-2",
        b"99999999999999999999", b"010M", b"08", b"1KB", b"12 M", "\u00a04096".encode(),
        b"1M\n", b"0", b"-1")
] + [
    ("memory.soft_limit_in_bytes", d) for d in (b"4097", b"x", b"1G", b"-1")
] + [
    ("memory.max_usage_in_bytes", d) for d in (b"0", b"x", b"")
] + [
    ("memory.failcnt", b"x"), ("memory.kmem.failcnt", b"1"), ("memory.kmem.tcp.failcnt", b"")
] + [
    ("memory.use_hierarchy", d) for d in (
        b"1", b" 1", b"1\n", b"1\n\n", b"1 ", b"+1", b"0x1", b"01", b"0", b"2",
        b"99999999999999999999", b"", b"\0", b"1\0x")
] + [
    ("memory.oom_control", d) for d in (
        b"0", b"1", b"2", b" 1", b"1\n", b"abc", b"99999999999999999999", b"0")
] + [
    ("memory.kmem.limit_in_bytes", d) for d in (b"100M", b"abc", b"-1", b"-2")
] + [
    ("memory.kmem.tcp.limit_in_bytes", d) for d in (b"100M", b"abc", b"1", b"-1")
] + [
    ("memory.memsw.limit_in_bytes", b"8192"), (LIMIT, b"4096"),
    ("memory.memsw.limit_in_bytes", b"8192"), (LIMIT, b"16384"), (LIMIT, b"8192"),
    ("memory.memsw.limit_in_bytes", b"-1"), (LIMIT, b"-1"),
] + [
    ("memory.force_empty", b"0"), ("memory.force_empty", b""),
    ("memory.usage_in_bytes", b"1"), ("memory.usage_in_bytes", b""), ("memory.stat", b"1"),
    ("memory.max", b"1"), ("cgroup.stat", b"1"),
]
DIFF_READS = [
    LIMIT, "memory.soft_limit_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt",
    "memory.usage_in_bytes", "memory.use_hierarchy", "memory.oom_control",
    "memory.kmem.limit_in_bytes", "memory.kmem.usage_in_bytes", "memory.kmem.failcnt",
    "memory.kmem.max_usage_in_bytes", "memory.kmem.tcp.limit_in_bytes",
    "memory.kmem.tcp.usage_in_bytes", "memory.kmem.tcp.failcnt",
    "memory.kmem.tcp.max_usage_in_bytes", "memory.memsw.limit_in_bytes",
    "memory.memsw.usage_in_bytes", "memory.force_empty", "memory.max", "cgroup.stat",
]
STAT_KEYS = ("rss", "total_rss")


def test_against_the_running_kernel(backend):
    base, why = _kernel_v1_memcg()
    if base is None:
        pytest.skip(f"no real cgroup v1 memory controller to compare with: {why}")
    child = os.path.join(base, f"pymemcg-difftest-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        os.mkdir(child)
    except OSError as e:
        pytest.skip(f"cannot create {child}: {e}")
    try:
        memsw = os.path.exists(os.path.join(child, "memory.memsw.limit_in_bytes"))
        g = make(backend, memsw=memsw).create("difftest")
        mismatches = []

        def compare(step):
            for name in DIFF_READS:
                want, got = _kread(os.path.join(child, name)), _pread(g, name)
                if want != got:
                    mismatches.append((step, "read " + name, want, got))
            kstat = dict(line.split(" ", 1) for line in _kread(
                os.path.join(child, "memory.stat")).splitlines())
            pstat = dict(line.split(" ", 1) for line in _pread(g, "memory.stat").splitlines())
            for key in STAT_KEYS:
                if kstat.get(key) != pstat.get(key):
                    mismatches.append((step, "stat " + key, kstat.get(key), pstat.get(key)))

        compare("fresh")
        for name, data in DIFF_WRITES:
            if name.startswith("memory.memsw.") and not memsw:
                continue
            want = _kwrite(os.path.join(child, name), data)
            got = _pwrite(g, name, data)
            if want != got:
                mismatches.append((f"write {data[:24]!r}", name, want, got))
            compare(f"after writing {data[:24]!r} to {name}")
        assert mismatches == []
    finally:
        os.rmdir(child)


def test_v1_tunables_are_inherited(backend):
    # mem_cgroup_css_alloc: a new cgroup copies oom_kill_disable and
    # swappiness from its parent; a child of the root copies vm.swappiness.
    h = make(backend)                                   # current_v1
    assert h.root.read("memory.swappiness") == "60\n"
    h.root.write("memory.swappiness", "30")             # 6.x: sets the sysctl
    a = h.create("a")
    assert a.read("memory.swappiness") == "30\n"
    a.write("memory.oom_control", "1")
    a.write("memory.swappiness", "10")
    b = a.create("b")
    assert b.read("memory.oom_control").startswith("oom_kill_disable 1\nunder_oom 0\n")
    assert b.read("memory.swappiness") == "10\n"
    a.write("memory.oom_control", "0")                  # copied at creation, not linked
    assert b.read("memory.oom_control").startswith("oom_kill_disable 1\n")
    with pytest.raises(pymemcg.InvalidError):
        a.write("memory.swappiness", "201")
    with pytest.raises(pymemcg.InvalidError):
        h.root.write("memory.oom_control", "1")


def test_v1_tunables_locked_under_hierarchy_3_8(backend):
    # 3.x: EINVAL under a use_hierarchy parent (the 3.8 preset: everywhere),
    # swappiness at most 100 and not on the root; oom_control has no oom_kill.
    h = make(backend, "linux_3_8")
    a = h.create("a")
    for name, value in (("memory.oom_control", "1"), ("memory.swappiness", "10")):
        with pytest.raises(pymemcg.InvalidError) as ei:
            a.write(name, value)
        assert ei.value.errno == errno.EINVAL and isinstance(ei.value, OSError)
    with pytest.raises(pymemcg.InvalidError):
        h.root.write("memory.swappiness", "10")
    assert a.read("memory.oom_control") == "oom_kill_disable 0\nunder_oom 0\n"
    assert a.read("memory.swappiness") == "60\n"


def test_kmem_limit_eopnotsupp_5_16(backend):
    # 5.16-6.5 (58056f77502f): the value is parsed, then the write refused;
    # the kmem counter is charged without a limit.
    h = make(backend, kmem_limit="eopnotsupp")
    a = h.create("a")
    with pytest.raises(pymemcg.NotSupportedError) as ei:
        a.write("memory.kmem.limit_in_bytes", "1M")
    assert ei.value.errno == errno.EOPNOTSUPP and isinstance(ei.value, OSError)
    with pytest.raises(pymemcg.InvalidError):
        a.write("memory.kmem.limit_in_bytes", "1Q")       # parsed first: EINVAL
    assert a.try_charge(3, kmem=True) is None
    assert a.kmem.usage == 3 and a.kmem.max == backend.PAGE_COUNTER_MAX
