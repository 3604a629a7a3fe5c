"""pymemcg.trace's record fast path (no options, a path and a page count
seen before) against the general path, and its caches against tree changes.
Both backends; the expected values are worked out from the records."""

from __future__ import annotations

import pytest

from pymemcg import trace as tr

# The `backend` fixture (C core and model) comes from conftest.py.


def test_fast_and_general_records_agree(backend):
    plain = ["config current", "create a", "create a/b"] + ["charge a/b 3", "uncharge a/b 2"] * 50
    # The same records through the general path (an option on every line).
    general = ["config current", "create a", "create a/b"] + [
        "charge a/b 3 cpu=0", "uncharge a/b 2 cpu=0"] * 50
    outs = [tr.run_trace(t, backend) for t in (plain, general)]
    for out in outs:
        b = out.hierarchy["a/b"]
        out.hierarchy.drain_all()
        assert (out.ops, out.charged, out.errors) == (100, 50, 0)
        assert b.memory.usage == 50 and b.stat_local["anon"] == 50 * 4096


def test_the_path_cache_follows_the_tree(backend):
    # a is removed while holding a page (dying), and a new a made: the next
    # record must charge the new one, not the cached handle of the old.
    out = tr.run_trace(["config current", "create a", "charge a 1", "charge a 1",
                        "remove a", "create a", "charge a 2", "drain_all"], backend)
    h = out.hierarchy
    new = h["a"]
    assert new.memory.usage == 2 and out.errors == 0
    old = [cg for cg in h.cgroups() if cg.dying]
    assert len(old) == 1 and old[0].memory.usage == 2


@pytest.mark.parametrize("text,message", [
    ("charge a 01", "PAGES must be a number"),
    ("charge a x", "PAGES must be a number"),
    ("charge a \u00b2", "PAGES must be a number"),    # a digit to str.isdigit, not to the kernel
    ("charge a 99999999999999999999", "out of range"),
])
def test_bad_page_counts_are_refused_on_the_fast_path_too(backend, text, message):
    lines = ["config current", "create a", "charge a 1", text]
    with pytest.raises(tr.TraceError) as info:
        tr.run_trace(lines, backend)
    assert message in str(info.value) and "line 4" in str(info.value)
