"""The command line: demo and replay."""

from __future__ import annotations

import pathlib

import pytest

import pymemcg
import pymemcg.model
from pymemcg import cli
from pymemcg.trace import TraceError, run_trace

TRACE = """\
# a small trace
config current ncpus=2 charge_batch=16
create a
create a/b
charge a/b 10                 # 16 charged, 6 stay in CPU 0's stock
charge a/b 5 cpu=1 kmem       # 16 more, 11 in CPU 1's stock
uncharge a/b 3                # user pages: straight off the counters
drain_all                     # both stocks back: 32 - 3 - 6 - 11 = 12
remove a/b                    # still charged: dying
"""


def test_demo_agrees_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo"]) == 0
    assert "agree on every step" in capsys.readouterr().out


@pytest.mark.parametrize("backend", [pymemcg, pymemcg.model], ids=["c", "model"])
def test_trace_by_hand(backend: object) -> None:
    out = run_trace(TRACE.splitlines(), backend)   # type: ignore[arg-type]
    b = out.hierarchy.cgroups()[2]
    assert (b.path, b.dying) == ("a/b", True)
    assert b.memory.usage == 12 and b.memory.watermark == 32
    assert b.stat == {"anon": 7 * 4096, "kernel": 5 * 4096}
    assert (out.ops, out.charged, out.refused, out.errors) == (4, 2, 0, 0)


def test_replay_command_compares_backends(tmp_path: pathlib.Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.trace"
    trace.write_text(TRACE)
    assert cli.main(["replay", "--compare", str(trace)]) == 0
    printed = capsys.readouterr().out
    assert "a/b (id 3, dying)" in printed
    assert "memory  usage       12" in printed


@pytest.mark.parametrize("line", ["frobnicate a", "charge a x", "config nosuch",
                                  "charge a 1 gfp=SOMETIMES"])
def test_bad_trace_lines(line: str) -> None:
    with pytest.raises(TraceError):
        run_trace(["create a", line] if not line.startswith("config") else [line], pymemcg)
