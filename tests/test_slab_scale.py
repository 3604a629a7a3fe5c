"""Slab accounting at the size users run: thousands of cgroups, hundreds of
thousands of objects, on the C core (the model checks the same rules at
small sizes: test_slab_rules.py, test_slab_machine.py).  Invariants only,
never a time."""

from __future__ import annotations

import random

import pymemcg as mc

PAGE = mc.PAGE_SIZE


def _tree(h: mc.Hierarchy, n: int) -> list[mc.Cgroup]:
    mids = [h.create(f"m{i}") for i in range(n // 50)]
    return [mids[i % len(mids)].create(f"l{i}") for i in range(n)]


def test_objcg_bytes_add_up_over_2000_cgroups_and_200k_objects() -> None:
    with mc.Hierarchy(mc.Config.current(ncpus=4)) as h:
        leaves = _tree(h, 2000)
        caches = [h.standard_cache(n) for n in ("dentry", "filp", "inode_cache")]
        rng = random.Random(7)
        live: list[tuple[mc.Cgroup, object]] = []
        handles = []
        for i, g in enumerate(leaves):
            c = caches[i % 3]
            got = c.alloc_many(g, 100, cpu=i % 4)
            assert len(got) == 100
            handles.append((c, got))
            live.append((g, c))
        # Free a random half of every batch, from any CPU.
        for k, (c, got) in enumerate(handles):
            half = rng.sample(list(got), 50)
            h.free_many(half, cpu=k % 4)
        objs = sum(c.active_objects for c in caches)
        assert objs == 2000 * 50
        charged = sum((c.size + 8) * c.active_objects for c in caches)
        stocks = sum(h.obj_stock(cpu).nr_bytes for cpu in range(4))
        leftover = sum(g.objcg[0] for g in leaves)
        # Every byte charged is an object's, a stock's or an objcg's leftover.
        assert h.root.stat["kernel"] == charged + stocks + leftover
        pending = sum(s.slab_reclaimable + s.slab_unreclaimable
                      for s in (h.obj_stock(cpu) for cpu in range(4)))
        slab = h.root.stat["slab_reclaimable"] + h.root.stat["slab_unreclaimable"]
        assert slab + pending == charged
        # Remove them all with their objects alive: objcg reparenting frees every one.
        for g in leaves:
            g.remove()
        assert h.root.nr_dying_descendants == 0
        h.drain_all()
        assert h.root.stat["kernel"] == charged + sum(
            g.objcg[0] for g in leaves if _shell(g))


def _shell(g: mc.Cgroup) -> bool:
    try:
        g.objcg
        return True
    except mc.StaleHandleError:
        return False


def test_clone_pages_are_the_cgroups_own_over_2000_cgroups() -> None:
    cfg = mc.Config.current(ncpus=2, objcg=False)
    with mc.Hierarchy(cfg) as h:
        leaves = _tree(h, 2000)
        dentry = h.standard_cache("dentry")
        for i, g in enumerate(leaves):
            dentry.alloc_many(g, 30, cpu=i % 2)
        h.run_pending_work()
        # The window: the first object of each cgroup came from the root cache;
        # the work ran at the next allocation (delay 1) for every cgroup but the last.
        for i, g in enumerate(leaves):
            dentry.alloc_many(g, 30, cpu=i % 2)
        rows = h.slabinfo()
        assert len(rows) == 1 + 2000 and all(r.cgroup is not None for r in rows[1:])
        clone_pages = sum(r.nr_slabs * r.pagesperslab for r in rows[1:])
        assert h.root.stat["kernel"] == clone_pages * PAGE
        assert h.root.stat["slab_reclaimable"] == clone_pages * PAGE
        whole = h.slab_pinning()
        # Only the root cache's pages can hold two cgroups' objects.
        assert whole.shared_pages <= rows[0].nr_slabs * rows[0].pagesperslab
        # Removal: every cgroup with a live clone page stays a zombie.
        for g in leaves[:500]:
            g.remove()
        assert h.root.nr_dying_descendants == 500
        assert all(r.dying for r in h.slabinfo()[1:501])
