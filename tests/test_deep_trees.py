"""Trees deeper than the C core's clamp masks still name every clamped level.

The fast uncharge returns a bit mask of clamped levels (62 levels for a page
counter); deeper counters use the exact per-level path.  Worked by hand: a
chain of 65 counters, 5 pages charged at the leaf (depth 64), 10 more at
depth 1.  Uncharging 6 at the leaf clamps depths 64..2 (each held 5 < 6) and
leaves depth 1 (15 - 6 = 9) and the root (9) alone: 63 clamped levels.
"""

from __future__ import annotations

import types

import pytest


@pytest.mark.parametrize("depth", [61, 62, 64, 70])
def test_deep_chain_underflow_names_exactly_the_clamped_levels(
        backend: types.ModuleType, depth: int) -> None:
    chain = [backend.PageCounter()]
    for _ in range(depth):
        chain.append(backend.PageCounter(parent=chain[-1]))
    chain[-1].charge(5)
    chain[1].charge(10)
    with pytest.raises(backend.UnderflowError) as info:
        chain[-1].uncharge(6)
    # Levels from the leaf up to depth 2 held 5 pages: clamped; depth 1 and root held 15.
    assert list(info.value.counters) == chain[2:][::-1]
    assert [c.usage for c in chain[:2]] == [9, 9]
    assert all(c.usage == 0 for c in chain[2:])
