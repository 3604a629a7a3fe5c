"""Printing a :class:`Result` as text tables, and plotting it (matplotlib)."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

from ._result import Result, Row

__all__ = ["render", "plot", "fmt", "markdown"]


def fmt(x: Optional[float], digits: int = 3) -> str:
    if x is None:
        return ""
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.1f}"
    if ax >= 10:
        return f"{x:.2f}"
    return f"{x:.{digits}g}" if ax < 0.01 else f"{x:.3f}"


def unit(r: Row) -> str:
    """ns/op named after the op: ns/pair, ns/record, ns/charge ..."""
    if r.unit == "ns/op" and r.op:
        return "ns/" + r.op.split()[0]
    return r.unit


def _target(r: Row) -> str:
    parts = []
    if r.target is not None:
        parts.append(f"{'>=' if r.higher_is_better else '<='} {r.target:g}")
    if r.limit is not None:
        parts.append(f"{r.limit:g} {r.unit.split('/')[0]} max")
    return ", ".join(parts)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    keep = [i for i, h in enumerate(headers) if h.strip() or any(r[i] for r in rows)]
    keep = [i for i in keep if any(r[i] for r in rows) or i == 0]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cells[i].ljust(widths[i]) if i == 0 else cells[i].rjust(widths[i])
                         for i in keep).rstrip()

    return [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]


def render(result: Result) -> str:
    m = result.machine
    out = [
        f"cpu: {m.get('cpu')}   nproc: {m.get('nproc')} usable (cpu_count "
        f"{m.get('cpu_count')})   loadavg before: {m.get('loadavg')}",
        f"python: {m.get('python')}   cffi {m.get('cffi')}   pymemcg {m.get('pymemcg')}   "
        f"at {m.get('date')}",
        f"size: {result.size}   rule: {result.rule}",
    ]
    if result.callgrind:
        out.append(f"callgrind: {result.callgrind}")
    ir = any(r.ir is not None for r in result.rows)
    for w in result.workloads:
        rows = result.rows_of(w)
        if not rows:
            continue
        out.append("")
        out.append(f"== {w}")
        headers = ["row", "value", "unit", "baseline (same run)", "baseline", "x", "ratio",
                   "target", "result", "cpu/wall"]
        if ir:
            headers += ["Ir/op", "Ir ratio"]
        cells = []
        for r in rows:
            c = [r.name, fmt(r.value), unit(r), r.baseline or "", fmt(r.baseline_value),
                 fmt(r.units) if r.baseline and r.units != 1 else "",
                 (fmt(r.ratio) + ("x" if r.higher_is_better else "")) if r.ratio is not None
                 else "", _target(r), r.verdict,
                 fmt(r.cpu_wall, 2) if r.cpu_wall is not None else ""]
            if ir:
                c += [fmt(r.ir) if r.ir is not None else "", fmt(r.ir_ratio)]
            cells.append(c)
        out += _table(headers, cells)
        seen = set()
        for r in rows:
            if r.note and r.note not in seen:
                seen.add(r.note)
                out.append(f"  {r.name}: {r.note}")
    if result.notes:
        out.append("")
        out += [f"note: {n}" for n in result.notes]
    verdicts: Dict[str, int] = {}
    for r in result.rows:
        if r.verdict:
            verdicts[r.verdict] = verdicts.get(r.verdict, 0) + 1
    out.append("")
    out.append(f"{len(result.rows)} rows in {result.seconds:.1f} s: " +
               (", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())) or "no targets"))
    return "\n".join(out)


def plot(result: Result, path: str) -> None:
    """ns/op against threads, depth and the number of cgroups, one panel
    each, into a PNG (matplotlib, the ``plot`` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2))
    adds = [r.baseline_value for r in result.rows if r.baseline == "atomic add"
            and r.baseline_value]
    add = sorted(adds)[len(adds) // 2] if adds else None     # the median row's

    flagged: List[Any] = []

    def series(ax: Any, rows: List[Row], x: str, label: str, **kw: Any) -> None:
        pts = sorted((r.params[x], r.value, r.verdict == "not parallel")
                     for r in rows if x in r.params)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label, **kw)
            bad = [p for p in pts if p[2]]
            if bad:
                flagged.append(ax.scatter([p[0] for p in bad], [p[1] for p in bad], s=140,
                                          facecolors="none", edgecolors="black", zorder=3))

    # Threads.
    ax = axes[0]
    cont = result.rows_of("contention")
    for cfg, style in (("stocks", "-"), ("batch 1", "--")):
        for own in (False, True):
            rows = [r for r in cont if r.params.get("config") == cfg and
                    (r.params.get("own") == own or r.params.get("threads") == 1)]
            series(ax, rows, "threads", f"{cfg}, {'own cgroups' if own else 'shared cgroup'}",
                   linestyle=style)
    ticks = sorted({r.params["threads"] for r in cont if "threads" in r.params})
    if ticks:
        ax.set_xticks(ticks)
    if flagged:
        flagged[0].set_label("not parallel: cpu/wall < 0.95 x threads")
    ax.set_xlabel("threads (each on its own CPU slot)")
    ax.set_ylabel("ns per kmem charge+uncharge pair, per thread (thread CPU time)")
    ax.set_title("contention")

    # Depth.
    ax = axes[1]
    series(ax, [r for r in result.rows_of("pairs") if r.params.get("threads") == 1], "depth",
           "page counter pair")
    stock = result.rows_of("stock")
    for path_, label in (("call", "memcg charge, stock hit (single call)"),
                         ("replay", "memcg charge, stock hit (replay)"),
                         ("direct", "memcg charge, batch 1 (walks)")):
        series(ax, [r for r in stock if r.params.get("path") == path_], "depth", label)
    ax.set_xlabel("depth (levels below the root)")
    ax.set_ylabel("ns per op (thread CPU time)")
    ax.set_title("depth")

    # Number of cgroups.
    ax = axes[2]
    sc = result.rows_of("scale")
    series(ax, [r for r in sc if not r.params.get("python")], "cgroups",
           "replay, ns per record")
    series(ax, [r for r in sc if r.params.get("python")], "cgroups",
           "Python calls, ns per call")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cgroups in the tree (records on random leaves)")
    ax.set_ylabel("ns per op (thread CPU time)")
    ax.set_title("number of cgroups")

    for ax in axes:
        if add is not None:
            ax.axhline(add, color="grey", linestyle=":", label=f"bare atomic add ({add:.2f} ns)")
        if ax.lines:
            ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
        if ax is not axes[2]:
            ax.set_ylim(bottom=0)
    m = result.machine
    fig.suptitle(f"pymemcg bench ({result.size}): {m.get('cpu')}, {m.get('nproc')} CPUs, "
                 f"{m.get('date', '')[:10]}; min of interleaved samples, thread CPU time",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(result: Result) -> str:
    """Every row as one Markdown table (benchmarks/README.md is filled from it)."""
    m = result.machine
    ir = any(r.ir is not None for r in result.rows)
    out = [f"{m.get('cpu')}, {m.get('nproc')} usable CPUs, {m.get('python')}, "
           f"{str(m.get('date', ''))[:10]}, `pymemcg bench` (size {result.size}, "
           f"{result.seconds:.0f} s)", ""]
    head = ["workload", "row", "value", "baseline (same run)", "x", "ratio", "target",
            "result", "cpu/wall"] + (["Ir/op"] if ir else [])
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join("---" for _ in head) + "|")
    for r in result.rows:
        cells = [r.workload, r.name, f"{fmt(r.value)} {unit(r)}",
                 f"{r.baseline} ({fmt(r.baseline_value)})" if r.baseline else "",
                 fmt(r.units) if r.baseline and r.units != 1 else "",
                 (fmt(r.ratio) + ("x" if r.higher_is_better else "")) if r.ratio is not None
                 else "", _target(r), r.verdict or "",
                 fmt(r.cpu_wall, 2) if r.cpu_wall is not None else ""]
        if ir:
            cells.append(fmt(r.ir) if r.ir is not None else "")
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out)
