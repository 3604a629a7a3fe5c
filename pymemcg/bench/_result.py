"""What a benchmark run produces: :class:`Row` and :class:`Result`, as JSON."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

__all__ = ["Row", "Result", "FORMAT_VERSION", "ratio_of", "verdict_of", "PARALLEL_FRACTION",
           "NOISE_MARGIN"]

#: Version of the JSON document (``Result.to_json``).
FORMAT_VERSION = 1
#: A row of n >= 2 threads counts as parallel when thread CPU time / wall time
#: reaches this fraction of n: 1.9 for 2 threads.
PARALLEL_FRACTION = 0.95
#: A ratio this far below its physical floor is noise (3 %).
NOISE_MARGIN = 0.97


def ratio_of(value: float, baseline: float, units: float, higher_is_better: bool) -> float:
    """The ratio a row reports: ``value / (units * baseline)``, or its
    inverse (a speed-up) for rows where higher is better."""
    ref = units * baseline
    if ref <= 0 or value <= 0:
        return math.nan
    return ref / value if higher_is_better else value / ref


def verdict_of(row: "Row") -> str:
    """pass / miss against the row's target and limit; ``noise`` when the
    ratio is below its physical floor; ``not parallel`` for a row of 2+
    threads that did not run at once (its figure measures nothing about
    contention); ``""`` when the row has no target."""
    if row.threads >= 2 and row.cpu_wall is not None and \
            row.cpu_wall < PARALLEL_FRACTION * row.threads:
        return "not parallel"
    if row.ratio is not None and row.floor is not None and not math.isnan(row.ratio):
        below = row.ratio > row.floor / NOISE_MARGIN if row.higher_is_better \
            else row.ratio < row.floor * NOISE_MARGIN
        if below:
            return "noise"
    ok: Optional[bool] = None
    if row.target is not None and row.ratio is not None:
        ok = row.ratio >= row.target if row.higher_is_better else row.ratio <= row.target
    if row.limit is not None:
        within = row.value <= row.limit
        ok = within if ok is None else (ok and within)
    if ok is None:
        return ""
    return "pass" if ok else "miss"


@dataclass
class Row:
    """One measured figure and, where it has one, its ratio to a baseline
    measured in the same run (for C rows: in the same C call).

    ``value`` is in ``unit`` (ns per op unless said otherwise): the minimum
    over the samples of thread CPU time per op.  ``ratio`` is ``value /
    (units * baseline_value)`` (``units``: how many baseline operations the
    row's op must do at least, e.g. 2 * depth atomic adds for a counter
    pair), or its inverse when ``higher_is_better`` (a speed-up).
    ``target`` applies to the ratio, ``limit`` to the value itself (an
    absolute target such as 50 ms or 512 bytes); ``floor`` is the least
    ratio physics allows: below it the row is ``noise``.
    """

    workload: str
    name: str
    value: float
    unit: str = "ns/op"
    op: str = ""
    params: Dict[str, Any] = field(default_factory=dict)
    baseline: Optional[str] = None
    baseline_value: Optional[float] = None
    units: float = 1.0
    ratio: Optional[float] = None
    higher_is_better: bool = False
    target: Optional[float] = None
    limit: Optional[float] = None
    floor: Optional[float] = None
    source: str = ""
    verdict: str = ""
    threads: int = 1
    cpu_wall: Optional[float] = None
    samples: List[float] = field(default_factory=list)
    baseline_samples: List[float] = field(default_factory=list)
    ir: Optional[float] = None
    baseline_ir: Optional[float] = None
    c_call: Optional[Dict[str, Any]] = None
    baseline_call: Optional[Dict[str, Any]] = None
    note: str = ""

    def finish(self) -> "Row":
        """Compute ratio and verdict from the fields (called by the workloads)."""
        if self.baseline_value is not None:
            self.ratio = ratio_of(self.value, self.baseline_value, self.units,
                                  self.higher_is_better)
        self.verdict = verdict_of(self)
        return self

    @property
    def ir_ratio(self) -> Optional[float]:
        """The ratio of instructions per op, oriented as ``ratio``."""
        if not self.ir or not self.baseline_ir:
            return None
        return ratio_of(self.ir, self.baseline_ir, self.units, self.higher_is_better)

    @property
    def key(self) -> str:
        return f"{self.workload}/{self.name}"


@dataclass
class Result:
    """A whole run: the machine, the rule, every row.  ``to_json`` and
    ``from_json`` round-trip."""

    machine: Dict[str, Any]
    rule: str
    size: str
    workloads: List[str]
    rows: List[Row] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    seconds: float = 0.0
    callgrind: Optional[str] = None
    version: int = FORMAT_VERSION

    def to_json(self, indent: Optional[int] = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=True)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, text: str) -> "Result":
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, doc: Dict[str, Any]) -> "Result":
        if doc.get("version") != FORMAT_VERSION:
            raise ValueError(f"not a pymemcg.bench result of version {FORMAT_VERSION}")
        known = {f.name for f in dataclasses.fields(Row)}
        rows = [Row(**{k: v for k, v in r.items() if k in known}) for r in doc["rows"]]
        fields = {k: v for k, v in doc.items() if k != "rows"}
        return cls(rows=rows, **fields)

    def rows_of(self, workload: str) -> List[Row]:
        return [r for r in self.rows if r.workload == workload]

    def row(self, workload: str, name: str) -> Row:
        for r in self.rows:
            if r.workload == workload and r.name == name:
                return r
        raise KeyError(f"{workload}/{name}")

    def table(self) -> str:
        from ._report import render

        return render(self)
