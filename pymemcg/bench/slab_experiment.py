"""The slab experiment of issue 9: the same workload in clone, objcg and none
modes, and what each costs in slab pages, utilisation and pinned pages.

The workload, fixed before any result was seen:

* 500 cgroups below the root (``c0`` .. ``c499``), a hierarchy of 4 CPUs;
  cgroup *i* allocates on CPU ``i % 4``.
* Four root caches with the sizes of :data:`pymemcg.slab.STANDARD_CACHES`:
  dentry (192 B), filp (256 B), inode_cache (640 B), vm_area_struct (176 B).
* Each cgroup allocates from each cache a number of objects drawn from a
  geometric distribution with mean 40 (support 1, 2, ...: ``p = 1/40``),
  drawn with ``random.Random(1)`` cgroup by cgroup, cache by cache, by
  inverse transform (``ceil(log(1 - u) / log(1 - p))``).
* The allocations of all cgroups are interleaved: the list of every
  (cgroup, cache) allocation is shuffled with the same generator.
* Then each cgroup frees a random half (``floor(n / 2)`` of its ``n``
  objects of each cache, ``Random.sample``), all those frees shuffled.
* Measured: slab pages, live objects and bytes, utilisation (live object
  bytes / slab page bytes), pages shared between cgroups, the pages that
  would stay if each cgroup freed everything, what the cgroups are charged
  (after draining every stock), and the cgroups left dying once every
  cgroup is removed with its objects still allocated.

Modes: ``clone`` on ``Config.current(objcg=False)`` (the 4.x-5.2 design on
today's counters: clones made by queued work that runs before the next
allocation, whole slab pages charged, dying caches keep their cgroup),
``clone+reparent`` the same with ``slab_reparent`` (5.3-5.8), ``objcg`` on
``Config.current()`` (5.9+), ``none`` (nothing charged).

    python -m pymemcg.bench.slab_experiment [--cgroups N] [--model] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

CACHES = ("dentry", "filp", "inode_cache", "vm_area_struct")
MEAN = 40
SEED = 1
NCPUS = 4

MODES: Dict[str, Dict[str, Any]] = {
    "clone": {"objcg": False},
    "clone+reparent": {"objcg": False, "slab_reparent": True},
    "objcg": {},
    "none": {"slab_mode": "none"},
}


def geometric(rng: random.Random, mean: float) -> int:
    """A geometric draw on 1, 2, ... with the given mean (inverse transform)."""
    p = 1.0 / mean
    u = rng.random()
    return max(1, math.ceil(math.log(1.0 - u) / math.log(1.0 - p)))


def workload(ncgroups: int, seed: int = SEED, mean: float = MEAN
             ) -> Tuple[List[List[int]], List[Tuple[int, int]], random.Random]:
    """Counts per (cgroup, cache), the shuffled allocation order, and the
    generator (which then chooses the frees)."""
    rng = random.Random(seed)
    counts = [[geometric(rng, mean) for _ in CACHES] for _ in range(ncgroups)]
    events = [(i, k) for i in range(ncgroups) for k in range(len(CACHES))
              for _ in range(counts[i][k])]
    rng.shuffle(events)
    return counts, events, rng


def run_mode(mc: Any, mode: str, ncgroups: int, seed: int = SEED,
             mean: float = MEAN) -> Dict[str, Any]:
    """The workload on one mode, with backend ``mc`` (pymemcg or pymemcg.model)."""
    cfg = mc.Config.current(ncpus=NCPUS, **MODES[mode])
    counts, events, rng = workload(ncgroups, seed, mean)
    out: Dict[str, Any] = {"mode": mode, "slab": cfg.slab}
    with mc.Hierarchy(cfg) as h:
        cgs = [h.root.create(f"c{i}") for i in range(ncgroups)]
        caches = [h.standard_cache(name) for name in CACHES]
        objs: List[List[List[Any]]] = [[[] for _ in CACHES] for _ in range(ncgroups)]
        for i, k in events:
            objs[i][k].append(caches[k].alloc(cgs[i], cpu=i % NCPUS))
        full = h.slab_utilisation()["total"]
        out["slab_pages_allocated"] = full[1] // 4096
        out["utilisation_allocated"] = full[0] / full[1] if full[1] else 0.0
        frees = []
        for i in range(ncgroups):
            for k in range(len(CACHES)):
                frees += rng.sample(objs[i][k], len(objs[i][k]) // 2)
        rng.shuffle(frees)
        for obj in frees:
            obj.free(cpu=int(obj.cgroup.name[1:]) % NCPUS)
        out.update(measure(h, cgs, caches))
        out["pending_work"] = h.pending_work
        # Remove every cgroup with its objects still allocated: who stays dying?
        for cg in cgs:
            cg.remove()
        h.drain_all()
        out["dying_after_removal"] = h.root.nr_dying_descendants
        out["caches_after_removal"] = len(h.kmem_caches())
    out["allocations"] = len(events)
    out["frees"] = len(frees)
    return out


def measure(h: Any, cgs: Sequence[Any], caches: Sequence[Any]) -> Dict[str, Any]:
    rows = h.slabinfo()
    pages = sum(r.nr_slabs * r.pagesperslab for r in rows)
    objects = sum(r.active_objs for r in rows)
    util = h.slab_utilisation()
    live, slab_bytes = util["total"]
    shared = retained = 0
    for cg in cgs:
        p = h.slab_pinning(cg)
        shared += p.shared_pages
        retained += p.retained_pages
    whole = h.slab_pinning()
    h.drain_all()
    kernel = h.root.stat["kernel"] // 4096
    charged = sum(cg.memory.usage for cg in cgs)
    per_cache = {name: {"live_bytes": util[name][0], "slab_bytes": util[name][1],
                        "utilisation": util[name][0] / util[name][1] if util[name][1] else 0.0}
                 for name in CACHES}
    clones = sum(1 for r in rows if r.cgroup is not None)
    return {"slab_pages": pages, "objects": objects, "live_bytes": live,
            "slab_bytes": slab_bytes, "utilisation": live / slab_bytes if slab_bytes else 0.0,
            "mixed_pages": whole.shared_pages, "kept_empty_pages": whole.retained_pages,
            "shared_pages": shared, "retained_pages": retained, "charged_pages": charged,
            "kernel_pages": kernel, "clones": clones, "caches": per_cache}


def table(results: Sequence[Dict[str, Any]]) -> str:
    cols = [("mode", "mode", "{}"), ("pages at peak", "slab_pages_allocated", "{:,}"),
            ("util at peak", "utilisation_allocated", "{:.1%}"), ("slab pages", "slab_pages", "{:,}"),
            ("objects", "objects", "{:,}"), ("util", "utilisation", "{:.1%}"),
            ("mixed pages", "mixed_pages", "{:,}"), ("kept empty", "kept_empty_pages", "{:,}"),
            ("shared (sum)", "shared_pages", "{:,}"), ("retained (sum)", "retained_pages", "{:,}"),
            ("charged pages", "charged_pages", "{:,}"), ("clones", "clones", "{:,}"),
            ("dying after rmdir", "dying_after_removal", "{:,}")]
    head = [c[0] for c in cols]
    body = [[fmt.format(r[key]) for _, key, fmt in cols] for r in results]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(x.rjust(w) for x, w in zip(head, widths))]
    lines += ["  ".join(x.rjust(w) for x, w in zip(row, widths)) for row in body]
    per = ["", "utilisation per cache: " + ", ".join(CACHES)]
    for r in results:
        per.append(f"  {r['mode']:>15}: " + ", ".join(
            f"{r['caches'][c]['utilisation']:.1%}" for c in CACHES))
    return "\n".join(lines + per)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cgroups", type=int, default=500)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--mean", type=float, default=MEAN,
                    help=f"objects per cgroup and cache, on average (the fixed workload: {MEAN})")
    ap.add_argument("--model", action="store_true", help="run the pure-Python model")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = ap.parse_args(argv)
    if args.model:
        import pymemcg.model as mc
    else:
        import pymemcg as mc  # type: ignore[no-redef]
    results = [run_mode(mc, mode, args.cgroups, args.seed, args.mean) for mode in MODES]
    print(f"slab experiment: {args.cgroups} cgroups, geometric(mean {args.mean:g}) objects of "
          f"{', '.join(CACHES)} each, seed {args.seed}, a random half freed; "
          f"{results[0]['allocations']:,} allocations, {results[0]['frees']:,} frees; "
          f"{'model' if args.model else 'C core'}")
    print(table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
