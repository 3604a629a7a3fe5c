"""pymemcg.bench: structure, not speed.

Every workload runs at the tiny size (a smoke run: the figures mean
nothing and nothing here looks at them); the tests check that each row
carries its baseline measured in the same run and that its ratio is
computed from it, that verdicts follow the rules, and that the JSON
round-trips.  Speed never gates anything (benchmarks/README.md).
"""

from __future__ import annotations

import errno
import importlib.util
import json
import math
import shutil
from typing import Any, Dict

import pytest

import pymemcg
import pymemcg.bench as bench
from pymemcg import cli
from pymemcg._core import ffi, lib
from pymemcg.bench import Result, Row
from pymemcg.bench._measure import MODES, CRunner
from pymemcg.bench._result import ratio_of, verdict_of
from pymemcg.bench.workloads import ATOMIC, TASK_PRESETS

VERDICTS = {"", "pass", "miss", "noise", "not parallel"}


@pytest.fixture(scope="module")
def tiny() -> Result:
    return bench.run(size="tiny", threads=2)


def test_every_workload_gives_rows(tiny: Result) -> None:
    assert tiny.workloads == list(bench.WORKLOADS)
    for name in bench.WORKLOADS:
        assert tiny.rows_of(name), name
    keys = [r.key for r in tiny.rows]
    assert len(keys) == len(set(keys)), "row names are unique within a workload"
    assert tiny.machine["cpu"] and tiny.machine["nproc"] >= 1
    assert "thread CPU time" in tiny.rule


def test_rows_are_well_formed(tiny: Result) -> None:
    for r in tiny.rows:
        # memory/per CPU slot is a difference of two heap measurements: 0 since a
        # cgroup's bytes do not grow with the CPUs (stock-slot statistics), so noise
        # may make it a hair negative; a real per-CPU cost is tens of bytes.
        floor = -8.0 if r.key == "memory/per CPU slot" else 0.0
        assert math.isfinite(r.value) and r.value > floor, r
        assert r.unit and r.op, r
        assert r.verdict in VERDICTS, r
        assert r.verdict == verdict_of(r), r
        if r.threads >= 2:
            assert r.cpu_wall is not None and r.cpu_wall > 0, r


def test_ratios_come_from_same_run_baselines(tiny: Result) -> None:
    with_baseline = [r for r in tiny.rows if r.baseline is not None]
    assert len(with_baseline) >= 0.8 * len([r for r in tiny.rows if r.workload != "memory"])
    for r in with_baseline:
        # The baseline's samples travel with the row: they were taken in this
        # run (for C rows, in the same C calls as the row's own samples).
        assert r.baseline_samples, r
        assert r.baseline_value is not None and r.ratio is not None
        # The min of its samples (of those where every thread ran, for a
        # baseline of several threads).
        assert r.baseline_value in r.baseline_samples, r
        if r.baseline == "atomic add" or r.threads == 1:
            assert r.baseline_value == min(r.baseline_samples), r
        assert r.ratio == pytest.approx(ratio_of(r.value, r.baseline_value, r.units,
                                                 r.higher_is_better)), r
        assert r.value in r.samples, r
        if r.threads == 1:
            assert r.value == min(r.samples), r
    c_rows = [r for r in with_baseline if r.baseline == "atomic add"]
    assert c_rows
    for r in c_rows:
        assert r.c_call is not None and r.baseline_call == ATOMIC
        # One baseline sample per sample of the row: the same calls took both.
        assert len(r.baseline_samples) == len(r.samples), r


def test_row_against_row_uses_that_rows_figure(tiny: Result) -> None:
    for r in tiny.rows:
        if r.baseline is None or r.baseline == "atomic add":
            continue
        twins = [o for o in tiny.rows_of(r.workload)
                 if o.name == r.baseline and o is not r]
        for o in twins:       # the baseline is another row of the table: the same figure
            assert r.baseline_value == o.value, (r.name, o.name)


def test_json_round_trips(tiny: Result) -> None:
    text = tiny.to_json()
    doc = json.loads(text)
    assert doc["version"] == bench.FORMAT_VERSION
    back = Result.from_json(text)
    assert back == tiny
    assert back.to_json() == text
    with pytest.raises(ValueError):
        Result.from_json(json.dumps(dict(doc, version=0)))


def test_table_names_every_row(tiny: Result) -> None:
    text = tiny.table()
    assert tiny.machine["cpu"] in text
    for r in tiny.rows:
        assert r.name in text


def test_verdicts() -> None:
    def row(**kw: Any) -> Row:
        base: Dict[str, Any] = dict(workload="w", name="r", value=3.0, baseline="b",
                                    baseline_value=1.0, units=2.0)
        base.update(kw)
        return Row(**base).finish()

    assert row().ratio == 1.5 and row().verdict == ""
    assert row(target=1.5).verdict == "pass"
    assert row(target=1.4).verdict == "miss"
    assert row(value=1.0, floor=1.0, target=2.0).verdict == "noise"      # 0.5 < floor 1
    assert row(value=1.96, floor=1.0, target=2.0).verdict == "pass"      # within 3 %
    r = row(higher_is_better=True, target=0.5)
    assert r.ratio == pytest.approx(2 / 3) and r.verdict == "pass"
    assert row(threads=2, cpu_wall=1.89, target=9.0).verdict == "not parallel"
    assert row(threads=2, cpu_wall=1.9, target=9.0).verdict == "pass"
    assert row(limit=2.0).verdict == "miss"
    assert row(limit=3.0, target=1.5).verdict == "pass"
    assert Row("w", "m", 500.0, unit="B/cgroup", limit=512.0).finish().verdict == "pass"


def test_c_calls_time_their_baseline_per_sample() -> None:
    out = ffi.new("struct pmc_bench_result *")
    cpu, wall, base = (ffi.new("uint64_t[]", 5) for _ in range(3))
    out.samples, out.base_iters = 5, 1000
    out.sample_cpu_ns, out.sample_wall_ns, out.sample_base_ns = cpu, wall, base
    assert lib.pmc_bench_page_counter_pair(2, 2, 0, 2000, out) == 0
    assert out.nthreads == 2 and 0 <= out.parallel_samples <= 5
    assert out.ops_per_thread == 5 * 2000 and out.total_ops == 2 * 5 * 2000
    assert out.warmup_ops >= 1000 and out.warmup_ops % 2 == 0
    assert all(cpu[i] > 0 and wall[i] > 0 and base[i] > 0 for i in range(5))
    assert out.ns_per_op > 0 and out.base_ns_per_op > 0 and out.cpu_seconds > 0
    assert min(base[i] for i in range(5)) / 1000 == pytest.approx(out.base_ns_per_op)


def test_c_entry_points_refuse_bad_arguments() -> None:
    out = ffi.new("struct pmc_bench_result *")
    cfg = ffi.new("struct pmc_config *", {"version": 2, "ncpus": 2, "charge_batch": 64,
                                           "reclaim_retries": 16, "stock_slots": 7})
    leaves = ffi.new("int64_t[]", 1)
    bad = -errno.EINVAL
    assert lib.pmc_bench_atomic_add(0, out) == bad
    assert lib.pmc_bench_page_counter_pair(0, 1, 0, 100, out) == bad
    assert lib.pmc_bench_page_counter_pair(1, 0, 0, 100, out) == bad
    assert lib.pmc_bench_memcg(cfg, 1, 3, lib.PMC_BENCH_STOCK_HIT, 100, out) == bad  # > ncpus
    assert lib.pmc_bench_memcg(cfg, 1, 1, 99, 100, out) == bad
    assert lib.pmc_bench_memcg(cfg, 1, 1, lib.PMC_BENCH_FAULT_UNMAP + 1, 100, out) == bad
    assert lib.pmc_bench_memcg(cfg, 1, 1, 0, 100, out) == bad
    assert lib.pmc_bench_memcg(cfg, 1, 1, lib.PMC_BENCH_REPLAY_USER, 101, out) == bad  # odd
    assert lib.pmc_bench_replay_pairs(1, leaves, 0, 0, 1, 100, out) == bad
    assert lib.pmc_bench_replay_pairs(1, leaves, 1, 0, 1, 101, out) == bad
    assert lib.pmc_bench_tree(1, 1, -1, 0, ffi.NULL) == bad
    out.samples = -1
    assert lib.pmc_bench_atomic_add(100, out) == bad


def test_modes_and_trees_run() -> None:
    runner = CRunner()
    try:
        cfg = {"preset": "current", "ncpus": 2}
        for mode in MODES:
            for own in (False, True):
                spec = {"fn": "memcg", "config": cfg, "depth": 2, "threads": 2, "mode": mode,
                        "own": own}
                m = runner.call(spec, 1000, 2, 500)
                assert len(m.ns) == len(m.base) == len(m.wall) == 2
        t = runner.tree(100, cfg)
        assert t.ncgroups == 100 and len(t.hierarchy) == 101
        m = runner.call({"fn": "replay_pairs", "ncgroups": 100, "kmem": True, "seed": 3,
                         "config": cfg}, 1000, 2, 500)
        assert m.threads == 1 and all(m.parallel)
        assert runner.tree(100, cfg) is t
        # The task modes on every era (3.8 with kmem activated by the call).
        for preset in TASK_PRESETS:
            for mode in ("USER_PAIR", "KMEM_PAIR", "FORK_EXIT", "FAULT_UNMAP"):
                spec = {"fn": "memcg", "config": {"preset": preset, "ncpus": 2}, "depth": 2,
                        "threads": 1, "mode": mode}
                m = runner.call(spec, 500, 2, 500)
                assert len(m.ns) == 2 and m.warmup >= 1000
    finally:
        runner.close()


def test_modes_match_the_header() -> None:
    for i, mode in enumerate(MODES, 1):
        assert getattr(lib, "PMC_BENCH_" + mode) == i, mode
    assert len(MODES) == lib.PMC_BENCH_OWNED_KMEM


def test_task_floors_are_bare_calls() -> None:
    done = ffi.new("int64_t *", 7)
    assert lib.pmc_bench_nop_task_fork(1, 2, 0, 0, 0) == 0
    assert lib.pmc_bench_nop_task_exit(1, 2, 0) == 0
    assert lib.pmc_bench_nop_task_fault(1, 2, 1, 0, done) == 0 and done[0] == 7
    assert lib.pmc_bench_nop_task_unmap(1, 2, 1, 0) == 0


def test_tasks_rows(tiny: Result) -> None:
    rows = {r.name: r for r in tiny.rows_of("tasks")}
    for preset in TASK_PRESETS:
        cfg = getattr(pymemcg.Config, preset)()
        user = rows[f"{preset}: user pair, stock hit"]
        # The baseline row: against the bare add, the locked operations it must do.
        assert user.baseline == "atomic add" and user.floor == 1.0
        assert user.units == 2 + 3 * (2 if cfg.memsw else 1)
        assert user.c_call is not None and user.c_call["mode"] == "USER_PAIR"
        assert user.c_call["config"]["preset"] == preset
        for what, mode, op in (("kmem pair, stock", "KMEM_PAIR", "pair"),
                               ("fork+exit", "FORK_EXIT", "fork+exit"),
                               ("fault+unmap", "FAULT_UNMAP", "fault+unmap")):
            r = rows[f"{preset}: {what}"]
            # Against the same preset's user pair, from the same table.
            assert r.baseline == user.name and r.baseline_call == user.c_call, r
            assert r.baseline_value == user.value and r.baseline_samples == user.samples
            assert r.units == 1 and r.op == op and not r.higher_is_better
            assert r.c_call is not None and r.c_call["mode"] == mode
            assert r.c_call["config"] == user.c_call["config"]
        assert rows[f"{preset}: fault+unmap"].floor == 1.0
        floor = rows[f"{preset}: fork+exit, per stack-page operation"]
        assert floor.baseline == "atomic add" and floor.floor == 1.0
        assert floor.units == 2 * cfg.kernel_stack_pages
        assert floor.c_call == rows[f"{preset}: fork+exit"].c_call
        assert floor.value == rows[f"{preset}: fork+exit"].value
    for name, base in (("Python: g.fork() + t.exit(), current",
                        "bare CFFI fork+exit (empty C functions)"),
                       ("Python: t.fault(1) + t.unmap(1), current",
                        "bare CFFI fault+unmap (empty C functions)")):
        r = rows[name]
        assert r.baseline == base and r.floor == 1.0 and r.c_call is None
        assert len(r.samples) == len(r.baseline_samples) == bench.SIZES["tiny"].py_rounds
    assert len(rows) == 5 * len(TASK_PRESETS) + 2


def test_callgrind_finds_every_loop() -> None:
    # With -flto a static loop may be renamed (bench_loop_charge.lto_priv.0):
    # --dump-after needs the names as they are, or a spec's dumps go missing.
    from pymemcg.bench import _callgrind

    names = _callgrind._loop_names()
    assert {n.split(".")[0] for n in names} >= set(_callgrind.LOOPS)


def test_cli(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b.json"
    assert cli.main(["bench", "--size", "tiny", "--quiet", "--json", str(out), "pairs",
                     "memory"]) == 0
    text = capsys.readouterr().out
    assert "== pairs" in text and "== memory" in text and "cpu:" in text
    res = Result.from_json(out.read_text())
    assert res.workloads == ["pairs", "memory"] and res.size == "tiny"
    assert cli.main(["bench", "--list"]) == 0
    assert "contention" in capsys.readouterr().out
    assert cli.main(["bench", "--size", "tiny", "nosuch"]) == 2
    assert "unknown workload 'nosuch'" in capsys.readouterr().err
    assert cli.main(["bench", "--threads", "0", "pairs"]) == 2
    assert capsys.readouterr().err == "pymemcg bench: --threads must be at least 1\n"
    assert cli.main(["bench", "--size", "huge"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pymemcg bench: argument --size"), err
    assert cli.main(["bench", "--help"]) == 0
    assert "--callgrind" in capsys.readouterr().out
    assert cli.main(["--help"]) == 0
    assert "bench" in capsys.readouterr().out
    with pytest.raises(ValueError):
        bench.run(["nosuch"])


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                    reason="matplotlib (the plot extra) is not installed")
def test_plot(tiny: Result, tmp_path: Any) -> None:
    from pymemcg.bench._report import plot

    png = tmp_path / "b.png"
    plot(tiny, str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_callgrind_counts_instructions() -> None:
    from pymemcg.bench import _callgrind

    pair = {"fn": "counter_pair", "depth": 2, "threads": 1, "shared": False}
    # A loop that -flto renames (a static function called from one place).
    user = {"fn": "memcg", "config": {"preset": "current", "ncpus": 2}, "depth": 2,
            "threads": 1, "mode": "USER_PAIR"}
    irs = _callgrind.measure([ATOMIC, pair, dict(pair, threads=2), user])
    assert set(irs) == {_callgrind.spec_key(s) for s in (ATOMIC, pair, user)}
    assert irs[_callgrind.spec_key(user)] > 4 * irs[_callgrind.spec_key(ATOMIC)]
    add, p = irs[_callgrind.spec_key(ATOMIC)], irs[_callgrind.spec_key(pair)]
    # Instruction counts, not times: a loop of adds is a handful per add, and
    # a pair of depth 2 does 4 atomic read-modify-writes and much more.
    assert 1 <= add <= 30 and p > 4 * add
