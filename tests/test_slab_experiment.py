"""The issue 9 experiment (pymemcg.bench.slab_experiment) at a small size:
the C core and the model give the same figures, mode by mode, and the
figures obey the designs."""

from __future__ import annotations

import pytest

import pymemcg
import pymemcg.model
from pymemcg.bench import slab_experiment as ex


@pytest.mark.parametrize("mode", sorted(ex.MODES))
def test_c_and_model_agree(mode: str) -> None:
    assert ex.run_mode(pymemcg, mode, 12) == ex.run_mode(pymemcg.model, mode, 12)


def test_the_designs_show() -> None:
    r = {mode: ex.run_mode(pymemcg, mode, 40) for mode in ex.MODES}
    objects = {x["objects"] for x in r.values()}
    assert len(objects) == 1                      # the same workload everywhere
    # Shared caches pack the same objects into no more pages than clones do.
    assert r["objcg"]["slab_pages"] == r["none"]["slab_pages"] <= r["clone"]["slab_pages"]
    assert r["none"]["charged_pages"] == 0 and r["none"]["kernel_pages"] == 0
    # Clone pages hold one cgroup's objects: only the root caches' window pages
    # (one object per cgroup and cache) can mix, where shared caches mix everywhere.
    assert r["clone"]["mixed_pages"] < r["objcg"]["mixed_pages"]
    # Zombies: clones keep removed cgroups; reparenting and objcgs do not.
    assert r["clone"]["dying_after_removal"] == 40
    assert r["clone+reparent"]["dying_after_removal"] == 0 == r["objcg"]["dying_after_removal"]
    # What objcg charges is the objects' bytes, rounded to pages per cgroup: less than clones.
    assert r["objcg"]["charged_pages"] < r["clone"]["charged_pages"]
