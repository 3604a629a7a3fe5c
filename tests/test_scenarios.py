"""The demo's scenarios (pymemcg.scenarios): each run on both backends,
its key numbers worked out by hand from the kernel's rules (the arithmetic
in the comments), and the demo's pictures drawn where matplotlib is
installed."""

from __future__ import annotations

import importlib.util
import os

import pytest

from pymemcg import cli, scenarios

# The `backend` fixture (C core and model) comes from conftest.py.


def rows(data):
    return {r["path"]: r for r in data["tree"]}


def test_fork_bomb(backend):
    d = scenarios.SCENARIOS["forkbomb"].run(backend)
    capped = d["3.8, kmem limit 128K"]
    # 128K = 32 pages of kmem; 3.8 stacks are order-1 (2 pages): 16 forks,
    # the other 284 refused (each raising the kmem failcnt).  3.8 charges
    # kmem to memory too: machine = sibling 256 + 64 + bomb 32 = 352.
    assert (capped["forks"], capped["refused"]) == (16, 284)
    r = rows(capped)
    assert (r["machine/bomb"]["kmem"], r["machine/bomb"]["kmem_failcnt"]) == (32, 284)
    assert r["machine/bomb"]["tasks"] == 16 and r["machine/bomb"]["oom"] == 0
    assert capped["sibling"] == "mapped 64 more pages"
    assert (r["machine/sibling"]["anon"], r["machine"]["usage"]) == (320, 352)

    free = d["3.8, no kmem limit (stacks not accounted)"]
    # Without a kmem-limit write 3.8 accounts no kernel memory: unbounded.
    assert (free["forks"], free["refused"]) == (300, 0)
    assert rows(free)["machine/bomb"]["usage"] == 0

    v2 = d["current v2 (stacks count against memory.max)"]
    # machine max 512 pages; the sibling: 256 + pud/pmd/pte 3 + stack 4 =
    # 263.  62 bombs fit (511); the 63rd's second stack page meets the
    # limit: the OOM killer takes the sibling's task (badness 256 + 3, the
    # bombs score 0).  Then at most 512 / 4 = 128 bombs live: every later
    # fork kills one (a tie goes to the later task), 300 - 128 = 172 kills.
    r = rows(v2)
    assert v2["forks"] == 300 and v2["sibling"] == "already killed by the OOM killer"
    assert r["machine/bomb"]["tasks"] == 128 and r["machine/bomb"]["oom_kill"] == 172
    assert r["machine/sibling"]["oom_kill"] == 1 and r["machine/sibling"]["usage"] == 0
    assert (r["machine"]["oom"], r["machine"]["oom_kill"], r["machine"]["usage"]) == (173, 173, 512)


def test_three_kmem_limit_configurations(backend):
    d = scenarios.SCENARIOS["kmemlimit"].run(backend)
    # The database: 512 user pages + 3 page-table pages + a 4-page stack = 519.
    for label in ("kmem unlimited (tracked only)", "kmem limit 8M, above the memory limit"):
        # The memory limit (1024) is met first: (1024 - 519) / 4 = 126 forks
        # fit; the 127th's second page runs the OOM killer, which kills the
        # database (badness 515) and frees 519 pages: all 200 forks go in.
        c = d[label]
        g = rows(c)["g"]
        assert (c["forks"], c["db alive"]) == (200, False)
        assert (g["oom"], g["oom_kill"], g["kmem"], g["usage"], g["kmem_failcnt"]) == (1, 1, 800, 800, 0)
    below = d["kmem limit 1M, below the memory limit"]
    # kmem 256 pages: (256 - 7) / 4 = 62 forks; each later fork charges one
    # page (256), is refused the next (ENOMEM, kmem failcnt + 1) and gives
    # the first back: no reclaim, no OOM.
    g = rows(below)["g"]
    assert (below["forks"], below["refused"], below["db alive"]) == (62, 138, True)
    assert (g["kmem"], g["kmem_failcnt"], g["usage"], g["oom"]) == (255, 138, 512 + 255, 0)


def test_page_tables(backend):
    d = scenarios.SCENARIOS["pagetables"].run(backend)
    dense = d["current, dense"]
    # 1000 pages: ceil(1000 / 512) = 2 PTE pages, 1 PMD, 1 PUD.
    assert (dense["rss"], dense["pagetables"]) == (1000, 4)
    assert rows(dense)["g"]["usage"] == 1000 + 4 + 4
    sparse = d["current, sparse"]
    # n pages mapped sparsely cost 4 (stack) + 2n (a PTE page each) + 1 + 1:
    # n = 509 fills the 1024 pages exactly; page 510's PTE page runs the
    # OOM killer, whose only candidate is the task itself.
    assert (sparse["result"], sparse["mapped"], sparse["alive"]) == ("KilledError", 509, False)
    assert rows(sparse)["g"]["usage"] == 0 and rows(sparse)["g"]["oom_kill"] == 1
    old = d["3.8, sparse (page tables not accounted)"]
    # 3.8 never charged page tables: 1003 of them for free; the 2-page stack is.
    assert (old["rss"], old["pagetables"]) == (1000, 1000 + 2 + 1)
    assert rows(old)["g"]["usage"] == 1000 + 2


def test_oom_skewed_by_kernel_memory(backend):
    d = scenarios.SCENARIOS["oomskew"].run(backend)
    # Before: 200 kernel + a 20 + b 5 user + 3 stacks of 4 + 2 x 3 tables = 243.
    assert d["before"][0]["usage"] == 243
    # c: its 3 tables (246), 10 pages (256); the 11th runs the OOM killer:
    # a scores 23, c 13, b 8: a dies (27 pages back); c maps 27 more (37);
    # the 38th: c scores 40, b 8: c kills itself.  The 200 kernel pages stay.
    assert d["result"] == "KilledError after 37 pages"
    assert d["alive"] == [False, True, False]
    after = d["after"][0]
    assert (after["usage"], after["oom"], after["oom_kill"]) == (200 + 5 + 4 + 3, 2, 2)


def test_dentry_flood(backend):
    d = scenarios.SCENARIOS["slab"].run(backend)
    alone = d["alone"]
    # The first dentry: no clone yet, the root cache serves it, uncharged,
    # and the clone's creation is queued (it runs before the next one).
    assert alone["window"] == {"cache": "dentry", "charged pages": 0, "pending work": 1}
    # 999 in dentry(2:flood): ceil(999 / 21) = 48 order-0 slabs, charged whole.
    assert alone["slabinfo"] == [("dentry", 1, 21, 1), ("dentry(2:flood)", 999, 1008, 48)]
    assert alone["kernel"] == 48 and alone["slab bytes"] == 48 * 4096
    clone, objcg, none = (d["pair"][k] for k in ("clone (3.8-5.8)", "objcg (5.9+)", "none"))
    # Clone: a's and b's first dentries share the root cache's page (the
    # window); 999 each in their clones: 1 + 48 + 48 = 97 pages.  a frees in
    # allocation order: its first three emptied slabs are kept (2, 3, 4 partial
    # or empty < min_partial 5), the next 44 discarded (5 >= 5), the last
    # (12 dentries, alone on the partial list: 1 + 3 < 5) kept: 4 kept pages,
    # still charged to a.  b: 48 pages packed + the root page a's freed slot
    # shares: 1 pinned.
    assert (clone["pages before"], clone["pages after"], clone["b pages"]) == (97, 53, 49)
    assert (clone["left pinned"], clone["kept empty"]) == (1, 4)
    assert (clone["a charged"], clone["b charged"]) == (4, 48)
    # Shared caches: 2,000 dentries in turns fill ceil(2000 / 21) = 96 slabs,
    # every one half a's; a's frees empty none: b's 1,000 keep all 96 pages
    # where 48 would hold them packed.
    for r in (objcg, none):
        assert (r["pages before"], r["pages after"], r["b pages"]) == (96, 96, 96)
        assert (r["left pinned"], r["kept empty"], r["a charged"]) == (48, 0, 0)
    # objcg charges bytes: b's 1,000 x (192 + 8) = 200,000 bytes = 49 pages
    # (48.8, its last page's rest in a stock or its objcg); none charges nothing.
    assert (objcg["b charged"], none["b charged"]) == (49, 0)


def test_bouncing_measures_the_shared_counters():
    d = scenarios.SCENARIOS["bouncing"].run(__import__("pymemcg"))
    names = [n for n, _, _ in d["rows"]]
    assert "batch 1, 1 thread, shared cgroup" in names
    assert all(v > 0 for _, v, _ in d["rows"])


def test_demo_prints_every_scenario(capsys):
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    for sc in scenarios.SCENARIOS.values():
        assert sc.title in out
    assert "not run" not in out  # every scenario's features have landed


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                    reason="matplotlib (the plot extra) is not installed")
def test_demo_plots(tmp_path):
    assert cli.main(["demo", "--plots", str(tmp_path)]) == 0
    for key in ("forkbomb", "kmemlimit", "slab", "pagetables", "oomskew", "bouncing"):
        with open(os.path.join(tmp_path, f"{key}.png"), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
