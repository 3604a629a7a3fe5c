"""Typed limit setters (pymemcg/_limits.py): the same call on every preset,
written through the preset's interface file, so its rules and errors are
the file's.  Both backends."""

from __future__ import annotations

import errno

import pytest

import pymemcg

P = 4096
MAX = pymemcg.PAGE_COUNTER_MAX

# The `backend` fixture (C core and model) comes from conftest.py.


def make(backend, preset="current", **changes):
    return backend.Hierarchy(getattr(backend.Config, preset)(**changes))


def test_set_max_speaks_pages_sizes_and_none_on_v2(backend):
    g = make(backend).create("g")
    g.set_max("64M")                      # memparse: 64 MiB = 16384 pages
    assert g.memory.max == 16384 and g.read("memory.max") == str(64 << 20) + "\n"
    g.set_max(100)                        # pages
    assert g.memory.max == 100 and g.read("memory.max") == f"{100 * P}\n"
    g.set_max("4097")                     # bytes, rounded down to a page, as the file does
    assert g.memory.max == 1
    g.set_max(None)
    assert g.memory.max == MAX and g.read("memory.max") == "max\n"


def test_set_max_on_v1_writes_limit_in_bytes(backend):
    for preset in ("current_v1", "linux_3_8"):
        g = make(backend, preset).create("g")
        g.set_max("8M")
        assert g.memory.max == 2048 and g.read("memory.limit_in_bytes") == f"{8 << 20}\n"
        g.set_max(None)                   # "-1": unlimited (PAGE_COUNTER_MAX pages)
        assert g.memory.max == MAX


def test_v1_limit_below_usage_is_busy_and_changes_nothing(backend):
    h = make(backend, "current_v1")
    g = h.create("g")
    g.set_max(100)
    assert g.try_charge(10) is None
    h.drain_all()
    # mem_cgroup_resize_max: no reclaim frees anything here: EBUSY, max kept.
    with pytest.raises(backend.BusyError) as info:
        g.set_max(5)
    assert info.value.errno == errno.EBUSY and g.memory.max == 100


def test_protections_and_high_are_v2_files(backend):
    g = make(backend).create("g")
    g.set_min("1M")
    g.set_low(512)
    g.set_high(1000)
    assert (g.memory.min, g.memory.low, g.memory.high) == (256, 512, 1000)
    v1 = make(backend, "current_v1").create("g")
    for setter in (v1.set_min, v1.set_low, v1.set_high):
        with pytest.raises(backend.NotFoundError) as info:
            setter(10)
        assert info.value.errno == errno.ENOENT
    assert v1.memory.max == MAX


def test_swap_kmem_tcp_where_the_preset_has_them(backend):
    g = make(backend).create("g")
    g.set_swap_max(10)                    # v2: memory.swap.max, swap alone
    assert g.swap.max == 10
    for setter in (g.set_kmem_max, g.set_tcp_max, g.set_soft_limit):
        with pytest.raises(backend.NotFoundError):
            setter(10)
    v1 = make(backend, "current_v1").create("g")
    v1.set_max("8M")
    v1.set_swap_max("16M")                # v1: memsw, memory + swap, >= the memory limit
    assert v1.memsw.max == 4096
    with pytest.raises(backend.InvalidError):
        v1.set_swap_max("4M")             # memsw below the memory limit: EINVAL
    assert v1.memsw.max == 4096
    v1.set_tcp_max("1M")
    assert v1.tcpmem.max == 256


def test_set_kmem_max_follows_the_kmem_limit_config(backend):
    old = make(backend, "linux_3_8").create("g")
    assert not old.kmem_active
    old.set_kmem_max("80K")               # 3.8: the first finite write activates
    assert old.kmem_active and old.kmem.max == 20
    ignored = make(backend, "current_v1").create("g")   # 6.6+: accepted, ignored
    ignored.set_kmem_max(20)
    assert ignored.kmem.max == MAX
    refused = make(backend, "current_v1", kmem_limit="eopnotsupp").create("g")
    with pytest.raises(backend.NotSupportedError) as info:
        refused.set_kmem_max(20)
    assert info.value.errno == errno.EOPNOTSUPP


@pytest.mark.parametrize("value,exc", [
    (1.5, "InvalidTypeError"), (True, "InvalidTypeError"), (b"1M", "InvalidTypeError"),
    (-1, "InvalidError"), (MAX + 1, "InvalidError"), ("12 apples", "InvalidError"),
])
def test_bad_values_raise_and_change_nothing(backend, value, exc):
    g = make(backend).create("g")
    g.set_max(100)
    with pytest.raises(getattr(backend, exc)):
        g.set_max(value)
    assert g.memory.max == 100
