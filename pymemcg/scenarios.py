"""The seed's kernel-memory scenarios, run end to end (``pymemcg demo``).

Each scenario is a function of a backend module (:mod:`pymemcg` or
:mod:`pymemcg.model`) that builds a small tree, drives it, and returns what
it measured as plain data: the demo runs it on both backends, checks that
they agree, and prints the tree with its counters.  Every number printed is
computed by the run; nothing here is a constant of the scenario's outcome.

1. A fork bomb capped by a kmem limit while its sibling keeps working, and
   the same bomb without one (Linux 3.8 with and without the limit; a
   current kernel, where stacks always count against ``memory.max``).
2. One workload under the three configurations of
   ``memory.kmem.limit_in_bytes`` against ``memory.limit_in_bytes``
   (4.x-5.15 v1, where a kmem limit is enforced).
3. A dentry flood: in clone mode the cgroup's clone of the dentry cache
   appears lazily (the first dentry comes from the root cache, uncharged)
   and its slab pages are charged whole; then two cgroups flood in turns
   and one frees all of its dentries: the pages it leaves pinned by the
   other's, and what each is charged, in clone, objcg and none modes.
4. Many page tables with little user memory (a sparse mapping), with and
   without page-table accounting (x86: 4.8+).
5. An OOM skewed by kernel memory: the killer scores user pages and page
   tables only, so a cgroup full of kernel memory no task owns kills in vain.
6. Cache-line bouncing: kmem charge+uncharge pairs from one and two
   threads on a shared cgroup, through per-CPU stocks and with batch 1
   (every charge on the shared counters); measured by :mod:`pymemcg.bench`,
   C only.

``plot(name, data, path)`` draws a scenario's picture (matplotlib, the
``plot`` extra).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

__all__ = ["SCENARIOS", "Scenario", "tree_lines", "plot"]

PAGE = 4096


class Scenario:
    """A named scenario: ``run(mod)`` returns its data; ``show(data)`` the
    lines to print; ``both``: whether the model runs it too."""

    def __init__(self, key: str, title: str, run: Optional[Callable[[ModuleType], Any]],
                 show: Callable[[Any], List[str]], both: bool = True,
                 missing: str = "") -> None:
        self.key, self.title, self.run, self.show = key, title, run, show
        self.both, self.missing = both, missing


# -- printing -------------------------------------------------------------------------


def _cgroup_row(cg: Any, v1: bool) -> Dict[str, Any]:
    ev = cg.events
    row = {
        "path": cg.path or "/",
        "usage": cg.memory.usage,
        "tasks": len(cg.tasks),
        "oom": ev["oom"],
        "oom_kill": ev["oom_kill"],
        "kernel_stack": cg.stat["kernel_stack"] // PAGE,
        "pagetables": cg.stat["pagetables"] // PAGE,
        "anon": cg.stat["anon"] // PAGE,
    }
    if v1:
        row["kmem"] = cg.kmem.usage
        row["kmem_failcnt"] = cg.kmem.failcnt
        row["failcnt"] = cg.memory.failcnt
    return row


def snapshot(h: Any, skip_root: bool = True) -> List[Dict[str, Any]]:
    """One row per cgroup (pages; the root left out unless asked), with the
    per-CPU stocks drained first, so that usage is what is really in use."""
    v1 = h.config.version == 1
    h.drain_all()
    return [_cgroup_row(cg, v1) for cg in h.cgroups() if not (skip_root and cg is h.root)]


def tree_lines(rows: Sequence[Dict[str, Any]]) -> List[str]:
    """The rows as an indented table; counts in pages."""
    if not rows:
        return []
    v1 = "kmem" in rows[0]
    cols = [("usage", "memory"), ("anon", "anon"), ("kernel_stack", "stack"),
            ("pagetables", "ptables"), ("tasks", "tasks"), ("oom", "oom"),
            ("oom_kill", "oom_kill")]
    if v1:
        cols[1:1] = [("kmem", "kmem"), ("kmem_failcnt", "kmem failcnt"), ("failcnt", "failcnt")]
    width = max(len("cgroup"), *(len("  " * r["path"].count("/") + r["path"].rsplit("/", 1)[-1])
                                 for r in rows))
    head = "    " + "cgroup".ljust(width) + "".join(f"{label:>{max(8, len(label) + 1)}}"
                                                   for _, label in cols)
    out = [head + "   (pages)"]
    for r in rows:
        name = "  " * r["path"].count("/") + r["path"].rsplit("/", 1)[-1]
        out.append("    " + name.ljust(width) + "".join(
            f"{r[key]:>{max(8, len(label) + 1)}}" for key, label in cols))
    return out


# -- 1. a fork bomb ---------------------------------------------------------------------

BOMB_ATTEMPTS = 300
SIBLING_PAGES = 256


def _bomb(mod: ModuleType, preset: str, kmem_limit: Optional[str]) -> Dict[str, Any]:
    """machine (memory limit 2M = 512 pages) holds a sibling whose task maps
    256 pages, and a bomb that forks 300 times; then the sibling maps 64
    more pages."""
    cfg = getattr(mod.Config, preset)()
    h = mod.Hierarchy(cfg)
    machine = h.create("machine")
    if cfg.version == 1:
        machine.write("memory.use_hierarchy", "1")
        machine.write("memory.limit_in_bytes", "2M")
    else:
        machine.write("memory.max", "2M")
    bomb, sibling = machine.create("bomb"), machine.create("sibling")
    if kmem_limit is not None:
        bomb.write("memory.kmem.limit_in_bytes", kmem_limit)
    worker = sibling.fork()
    worker.fault(SIBLING_PAGES)
    forks = refused = 0
    for _ in range(BOMB_ATTEMPTS):
        try:
            bomb.fork()
            forks += 1
        except mod.ForkError:
            refused += 1
    try:
        worker.fault(64)
        sibling_result = "mapped 64 more pages"
    except mod.KilledError:
        sibling_result = "killed"
    except mod.StaleHandleError:
        sibling_result = "already killed by the OOM killer"
    except mod.ChargeError:
        sibling_result = "refused"
    return {"forks": forks, "refused": refused, "sibling": sibling_result,
            "tree": snapshot(h)}


def _run_bomb(mod: ModuleType) -> Dict[str, Any]:
    return {
        "3.8, kmem limit 128K": _bomb(mod, "linux_3_8", "128K"),
        "3.8, no kmem limit (stacks not accounted)": _bomb(mod, "linux_3_8", None),
        "current v2 (stacks count against memory.max)": _bomb(mod, "current", None),
    }


def _show_bomb(data: Dict[str, Any]) -> List[str]:
    out = [f"  machine: memory limit 2M (512 pages); sibling's task maps {SIBLING_PAGES} pages; "
           f"the bomb forks {BOMB_ATTEMPTS} times; then the sibling maps 64 more"]
    for label, d in data.items():
        out.append(f"  -- {label}: {d['forks']} forks, {d['refused']} refused; "
                   f"sibling: {d['sibling']}")
        out += tree_lines(d["tree"])
    return out


# -- 2. the three kmem-limit configurations -------------------------------------------------


def _kmem_config(mod: ModuleType, kmem_limit: Optional[str]) -> Dict[str, Any]:
    """g (memory limit 4M = 1024 pages): a database task maps 512 pages,
    then g forks 200 times."""
    # The kmem limit enforced (4.x-5.15), and every counter's failcnt kept,
    # as those kernels kept it (only memory's moves from 6.15 on).
    h = mod.Hierarchy(mod.Config.current_v1(kmem_limit="enforced", failcnt="all"))
    g = h.create("g")
    g.write("memory.limit_in_bytes", "4M")
    if kmem_limit is not None:
        g.write("memory.kmem.limit_in_bytes", kmem_limit)
    db = g.fork()
    db.fault(512)
    forks = refused = 0
    for _ in range(200):
        try:
            g.fork()
            forks += 1
        except mod.ForkError:
            refused += 1
    return {"forks": forks, "refused": refused, "db alive": db.alive, "tree": snapshot(h)}


def _run_kmem_configs(mod: ModuleType) -> Dict[str, Any]:
    return {
        "kmem unlimited (tracked only)": _kmem_config(mod, None),
        "kmem limit 1M, below the memory limit": _kmem_config(mod, "1M"),
        "kmem limit 8M, above the memory limit": _kmem_config(mod, "8M"),
    }


def _show_kmem_configs(data: Dict[str, Any]) -> List[str]:
    out = ["  v1 (4.x-5.15, kmem limits enforced); g: memory limit 4M (1024 pages); a database "
           "task maps 512 pages, then g forks 200 times (16K stacks)"]
    for label, d in data.items():
        out.append(f"  -- {label}: {d['forks']} forks, {d['refused']} refused; "
                   f"database {'alive' if d['db alive'] else 'killed'}")
        out += tree_lines(d["tree"])
    return out


# -- 3. a dentry flood ------------------------------------------------------------------------

_SLAB_MODES: Dict[str, Dict[str, Any]] = {
    "clone (3.8-5.8)": {"objcg": False}, "objcg (5.9+)": {}, "none": {"slab_mode": "none"}}


def _slab_rows(h: Any) -> List[Tuple[str, int, int, int]]:
    return [(r.name, r.active_objs, r.num_objs, r.nr_slabs * r.pagesperslab)
            for r in h.slabinfo()]


def _flood_alone(mod: ModuleType) -> Dict[str, Any]:
    """Clone mode: 'flood' allocates 1,000 dentries, one by one."""
    h = mod.Hierarchy(mod.Config.current(objcg=False))
    g = h.create("flood")
    dentry = h.standard_cache("dentry")
    first = dentry.alloc(g)
    window = {"cache": first.cache.name, "charged pages": g.memory.usage,
              "pending work": h.pending_work}
    for _ in range(999):
        dentry.alloc(g)
    return {"window": window, "slabinfo": _slab_rows(h), "tree": snapshot(h),
            "slab bytes": g.stat["slab_reclaimable"], "kernel": g.stat["kernel"] // PAGE}


def _flood_pair(mod: ModuleType, fields: Dict[str, Any]) -> Dict[str, Any]:
    """a and b allocate 1,000 dentries each, in turns; then a frees all of its."""
    h = mod.Hierarchy(mod.Config.current(**fields))
    a, b = h.create("a"), h.create("b")
    dentry = h.standard_cache("dentry")
    mine = []
    for _ in range(1000):
        mine.append(dentry.alloc(a))
        dentry.alloc(b)
    h.run_pending_work()
    before = sum(r[3] for r in _slab_rows(h))
    for o in mine:
        o.free()
    h.drain_all()
    pin_b = h.slab_pinning(b)
    # What b's dentries would take packed: the rest of the pages they hold
    # are kept only because a's freed slots share them.
    packed = -(-pin_b.objects // dentry.objects_per_slab) << dentry.order
    return {"pages before": before, "pages after": sum(r[3] for r in _slab_rows(h)),
            "b pages": pin_b.pages, "left pinned": pin_b.pages - packed,
            "kept empty": h.slab_pinning().retained_pages,
            "a charged": a.memory.usage, "b charged": b.memory.usage,
            "util": h.slab_utilisation()["total"]}


def _run_slab(mod: ModuleType) -> Dict[str, Any]:
    return {"alone": _flood_alone(mod),
            "pair": {label: _flood_pair(mod, f) for label, f in _SLAB_MODES.items()}}


def _show_slab(data: Dict[str, Any]) -> List[str]:
    al = data["alone"]
    w = al["window"]
    out = ["  clone mode (Config.current(objcg=False)): flood allocates 1,000 dentries (192 B, "
           "21 per page)",
           f"  -- the first: served by {w['cache']!r} (the root cache), {w['charged pages']} "
           f"pages charged, {w['pending work']} clone creation queued",
           f"  -- after 1,000: {al['kernel']} kernel pages charged to flood, slab_reclaimable "
           f"{al['slab bytes']:,} bytes; slabinfo (name, objects, slots, pages):"]
    out += [f"       {n:<20} {act:6} {tot:6} {pg:5}" for n, act, tot, pg in al["slabinfo"]]
    out += tree_lines(al["tree"])
    out.append("  a and b allocate 1,000 dentries each, in turns; then a frees all of its "
               "and every stock is drained:")
    out.append(f"    {'mode':<16} {'pages before':>12} {'after':>6} {'b uses':>7} "
               f"{'left pinned':>11} {'kept empty':>10} {'a charged':>10} {'b charged':>10}")
    for label, d in data["pair"].items():
        out.append(f"    {label:<16} {d['pages before']:>12} {d['pages after']:>6} "
                   f"{d['b pages']:>7} {d['left pinned']:>11} {d['kept empty']:>10} "
                   f"{d['a charged']:>10} {d['b charged']:>10}")
    out.append("  (left pinned: pages b's dentries hold beyond what they would fill packed, "
               "kept only because a's freed slots share them.  clone: a's pages come back "
               "but the empty ones its dying-free clone keeps; shared caches: a's freed "
               "slots stay inside b's pages, charged to nobody.  Pages charged: after the "
               "drain)")
    return out


# -- 4. page tables --------------------------------------------------------------------------


def _tables(mod: ModuleType, preset: str, sparse: bool) -> Dict[str, Any]:
    """g (memory limit 4M = 1024 pages) with one task mapping 1000 pages."""
    cfg = getattr(mod.Config, preset)()
    h = mod.Hierarchy(cfg)
    g = h.create("g")
    if cfg.version == 1:
        g.write("memory.limit_in_bytes", "4M")
        # 3.8: a finite kmem limit activates kmem accounting (-1 would not):
        # the stack is charged; page tables never were in 3.8.
        g.write("memory.kmem.limit_in_bytes", "4M")
    else:
        g.write("memory.max", "4M")
    t = g.fork(sparse=sparse)
    try:
        t.fault(1000)
        result, mapped = "mapped all", 1000
    except (mod.KilledError, mod.ChargeError) as e:
        result, mapped = type(e).__name__, e.faulted
    info = (t.rss, t.pagetables) if t.alive else (None, None)
    return {"result": result, "mapped": mapped, "alive": t.alive, "rss": info[0],
            "pagetables": info[1], "tree": snapshot(h)}


def _run_tables(mod: ModuleType) -> Dict[str, Any]:
    return {
        "current, dense": _tables(mod, "current", False),
        "current, sparse": _tables(mod, "current", True),
        "3.8, sparse (page tables not accounted)": _tables(mod, "linux_3_8", True),
    }


def _show_tables(data: Dict[str, Any]) -> List[str]:
    out = ["  g: memory limit 4M (1024 pages); one task maps 1000 pages (sparse: each in its "
           "own 2 MiB region, one PTE page per page)"]
    for label, d in data.items():
        tail = (f"rss {d['rss']}, page-table pages {d['pagetables']}" if d["alive"]
                else "the task was killed")
        out.append(f"  -- {label}: {d['result']} after {d['mapped']} pages; {tail}")
        out += tree_lines(d["tree"])
    return out


# -- 5. an OOM skewed by kernel memory --------------------------------------------------------


def _run_skew(mod: ModuleType) -> Dict[str, Any]:
    """g (memory.max 1M = 256 pages) holds 200 pages of kernel memory no task
    owns (dentries, say) and two tasks; a third task's fault needs more."""
    h = mod.Hierarchy(mod.Config.current())
    g = h.create("g")
    g.write("memory.max", "1M")
    g.try_charge(200, kmem=True)
    a, b = g.fork(), g.fork()
    a.fault(20)
    b.fault(5)
    c = g.fork()
    before = snapshot(h)
    try:
        c.fault(100)
        result = "mapped all 100"
    except (mod.KilledError, mod.ChargeError) as e:
        result = f"{type(e).__name__} after {e.faulted} pages"
    return {"result": result, "alive": [t.alive for t in (a, b, c)], "before": before,
            "after": snapshot(h)}


def _show_skew(data: Dict[str, Any]) -> List[str]:
    alive = ", ".join(f"{n} {'alive' if x else 'killed'}" for n, x in zip("abc", data["alive"]))
    out = ["  g: memory.max 1M (256 pages), 200 pages of kernel memory no task owns; task a "
           "maps 20 pages, b 5; then c faults 100 pages", "  -- before c's faults:"]
    out += tree_lines(data["before"])
    out.append(f"  -- c: {data['result']}; {alive} (kernel memory is in no score and "
               "no kill frees it)")
    out += tree_lines(data["after"])
    return out


# -- 6. cache-line bouncing ----------------------------------------------------------------


def _run_bouncing(mod: ModuleType) -> Dict[str, Any]:
    from . import bench

    res = bench.run(["contention"], size="quick", threads=2)
    rows = {r.name: r for r in res.rows}
    out: Dict[str, Any] = {"cpu": res.machine.get("cpu", "?"), "rows": []}
    for name in ("batch 1, 1 thread, shared cgroup", "batch 1, 2 threads, shared cgroup",
                 "stocks vs batch 1, 1 thread, shared cgroup",
                 "stocks vs batch 1, 2 threads, shared cgroup"):
        r = rows.get(name)
        if r is not None:
            out["rows"].append((name, r.value, r.ratio))
    out["notes"] = list(res.notes)
    return out


def _show_bouncing(data: Dict[str, Any]) -> List[str]:
    out = [f"  kmem charge+uncharge pairs on a shared cgroup two levels down; CPU: {data['cpu']}",
           "  (ns per pair per thread; thread CPU time, the minimum of interleaved samples)"]
    for name, value, ratio in data["rows"]:
        if name.startswith("stocks vs"):
            out.append(f"    {name:<46} stocks {value:8.1f} ns   {ratio:5.1f}x faster")
        else:
            out.append(f"    {name:<46} {value:8.1f} ns   (every charge on the shared counters)")
    out += [f"  note: {n}" for n in data["notes"]]
    return out


SCENARIOS: Dict[str, Scenario] = {s.key: s for s in (
    Scenario("forkbomb", "1. A fork bomb capped by a kmem limit, and the same bomb without one",
             _run_bomb, _show_bomb),
    Scenario("kmemlimit", "2. One workload under the three kmem-limit configurations (v1)",
             _run_kmem_configs, _show_kmem_configs),
    Scenario("slab", "3. A dentry flood: per-cgroup slab clones against objcg accounting",
             _run_slab, _show_slab),
    Scenario("pagetables", "4. Many page tables with little user memory", _run_tables,
             _show_tables),
    Scenario("oomskew", "5. An OOM skewed by kernel memory: kills in vain", _run_skew,
             _show_skew),
    Scenario("bouncing", "6. Cache-line bouncing: a shared counter against per-CPU stocks",
             _run_bouncing, _show_bouncing, both=False),
)}


# -- pictures ---------------------------------------------------------------------------------


def plot(key: str, data: Any, path: str) -> bool:
    """Draw scenario ``key``'s picture into ``path`` (PNG); False when the
    scenario has none.  Needs matplotlib (the ``plot`` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if key == "forkbomb" or key == "kmemlimit":
        labels = list(data)
        fig, ax = plt.subplots(figsize=(8, 3.6))
        names = [r["path"] for r in data[labels[0]]["tree"]]
        width = 0.8 / len(labels)
        for i, label in enumerate(labels):
            rows = {r["path"]: r for r in data[label]["tree"]}
            ax.bar([j + i * width for j in range(len(names))],
                   [rows[n]["usage"] if n in rows else 0 for n in names], width, label=label)
        ax.set_xticks([j + width * (len(labels) - 1) / 2 for j in range(len(names))], names)
        ax.set_ylabel("memory usage (pages)")
        ax.set_title(SCENARIOS[key].title.split(". ", 1)[1], fontsize=10)
        ax.legend(fontsize=7)
    elif key == "pagetables":
        labels = list(data)
        fig, ax = plt.subplots(figsize=(7, 3.6))
        anon = [data[k]["tree"][0]["anon"] for k in labels]
        tables = [data[k]["tree"][0]["pagetables"] for k in labels]
        xs = range(len(labels))
        ax.bar(xs, anon, label="user pages (anon)")
        ax.bar(xs, tables, bottom=anon, label="page tables (charged)")
        ax.set_xticks(list(xs), [k.replace(" (", "\n(") for k in labels], fontsize=7)
        ax.set_ylabel("charged to g (pages)")
        ax.set_title("Page tables: dense vs sparse mapping, limit 1024 pages", fontsize=10)
        ax.legend(fontsize=7)
    elif key == "oomskew":
        fig, ax = plt.subplots(figsize=(6, 3.6))
        parts: List[Tuple[str, Callable[[Dict[str, Any]], int]]] = [
            ("kernel memory no task owns",
             lambda r: r["usage"] - r["anon"] - r["kernel_stack"] - r["pagetables"]),
            ("stacks + page tables", lambda r: r["kernel_stack"] + r["pagetables"]),
            ("user pages", lambda r: r["anon"]),
        ]
        bottom = [0, 0]
        for label, f in parts:
            vals = [f(data["before"][0]), f(data["after"][0])]
            ax.bar(["before c's faults", "after the kills"], vals, bottom=bottom, label=label)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_ylabel("g's memory (pages)")
        ax.set_title("The OOM killer frees what tasks own, never kernel memory", fontsize=10)
        ax.legend(fontsize=7)
    elif key == "slab":
        fig, ax = plt.subplots(figsize=(7, 3.6))
        labels = list(data["pair"])
        pairs = [data["pair"][k] for k in labels]
        xs = range(len(labels))
        only_b = [r["b pages"] - r["left pinned"] for r in pairs]
        shared = [r["left pinned"] for r in pairs]
        kept = [r["kept empty"] for r in pairs]
        ax.bar(xs, only_b, label="pages b's dentries fill, packed")
        ax.bar(xs, shared, bottom=only_b, label="pages a's freed slots leave pinned")
        ax.bar(xs, kept, bottom=[x + y for x, y in zip(only_b, shared)],
               label="empty slabs kept")
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set_ylabel("slab pages after a freed everything")
        ax.set_ylim(0, 1.45 * max(r["pages after"] for r in pairs))  # room for the legend
        ax.set_title("A dentry flood in turns: what a leaves behind", fontsize=10)
        ax.legend(fontsize=7)
    elif key == "bouncing":
        fig, ax = plt.subplots(figsize=(6, 3.6))
        rows = data["rows"]
        ax.bar([n.replace(", shared cgroup", "").replace("stocks vs batch 1", "stocks")
                for n, _, _ in rows], [v for _, v, _ in rows])
        ax.set_ylabel("ns per charge+uncharge pair")
        ax.set_title(f"Shared counters vs per-CPU stocks ({data['cpu']})", fontsize=9)
        plt.setp(ax.get_xticklabels(), fontsize=7)
    else:
        return False
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
