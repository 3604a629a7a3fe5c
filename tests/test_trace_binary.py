"""Binary traces (pymemcg.trace: an .npz of OP_DTYPE records, their paths and
the rest as text) against the text form of the same trace, on both
backends; the text fast paths across chunk and block boundaries; the
command's --convert and binary input.  Expected values are worked out by
hand from the records, or are the text run's (the oracle of the binary
form)."""

from __future__ import annotations

import io
import pathlib
import subprocess
import sys
from types import ModuleType
from typing import Any, List

import pytest

import pymemcg
import pymemcg.model
from pymemcg import cli
from pymemcg import trace as tr

np = pytest.importorskip("numpy")

BACKENDS = pytest.mark.parametrize("backend", [pymemcg, pymemcg.model], ids=["c", "model"])

# a's max is 10 pages, the batch 16: each charge tries 16 pages, a refuses
# them, and the exact size is tried (no reclaim: the stock stays empty).
TRACE = """\
config current ncpus=2 charge_batch=16
create a
create a/b   # the leaf
write a memory.max 40K
charge a/b 8
charge a/b 5
uncharge a/b 20
charge a/b 1 cpu=2
uncharge a/b 2251799813685248
drain 7

drain_all a
charge a/b 2 cpu=1 kmem
remove a/b
create a/b
charge a/b 1
drain_all
""".splitlines()

BAD = [
    (8, "bad charge record (EINVAL): no CPU 2 (the config has ncpus=2)"),
    (9, "bad uncharge record (EINVAL): 2251799813685248 pages is out of range "
        "0..2251799813685247 (PAGE_COUNTER_MAX)"),
    (10, "bad drain record (EINVAL): no CPU 7 (the config has ncpus=2)"),
]


def roundtrip(lines: Any, tmp_path: pathlib.Path) -> tr.BinaryTrace:
    path = tmp_path / "t.npz"
    tr.save_binary(lines, str(path))
    return tr.load_binary(str(path))


def tally(out: tr.Outcome) -> tuple:
    return (out.ops, out.charged, out.refused, out.underflows, out.errors)


@BACKENDS
def test_binary_outcome_is_the_text_outcome(backend: ModuleType, tmp_path: pathlib.Path) -> None:
    text = tr.run_trace(TRACE, backend)
    bt = roundtrip(TRACE, tmp_path)
    binary = tr.run_trace(bt, backend)
    # by hand: charged 8, refused 5 (8 + 5 > 10), uncharge 20 underflows, three bad
    # records, then 2 kmem pages charged, a/b removed (its kmem reparented to a:
    # nothing left to hold it, so it goes), a new a/b charged 1.
    assert tally(text) == tally(binary) == (10, 3, 1, 1, 3)
    assert text.bad == binary.bad == BAD
    assert tr.format_state(binary) == tr.format_state(text)
    h = binary.hierarchy
    assert h["a"].memory.usage == 3 and h["a/b"].memory.usage == 1
    assert [cg.path for cg in h.cgroups()] == ["", "a", "a/b"]


def test_converted_members() -> None:
    bt = tr.to_binary(TRACE)
    assert bt.paths == ["a/b", "a"]
    assert bt.text == ["config current ncpus=2 charge_batch=16", "create a", "create a/b",
                       "write a memory.max 40K", "records 8", "remove a/b", "create a/b",
                       "records 2"]              # a blank line does not end a run of records
    assert bt.trace_lines.tolist() == [1, 2, 3, 4, 5, 14, 15, 16]
    assert bt.lines.tolist() == [5, 6, 7, 8, 9, 10, 12, 13, 16, 17]
    r = bt.records
    assert r["cgroup"].tolist() == [1, 1, 1, 1, 1, 0, 2, 1, 1, 0]
    assert r["op"].tolist() == [1, 1, 2, 1, 2, 3, 4, 1, 1, 4]
    assert r["flags"].tolist() == [pymemcg.GFP_KERNEL] * 2 + [0, pymemcg.GFP_KERNEL, 0, 0, 0] \
        + [pymemcg.GFP_KERNEL] * 2 + [0]
    assert r["cpu"].tolist() == [0, 0, 0, 2, 0, 7, 0, 1, 0, 0]
    assert r["kmem"].tolist() == [0] * 7 + [1, 0, 0]


@BACKENDS
def test_handmade_archive_without_lines(backend: ModuleType, tmp_path: pathlib.Path) -> None:
    """What a user writes with numpy.savez: records name paths by index; no lines."""
    recs = np.zeros(5, dtype=pymemcg.OP_DTYPE)
    recs["op"] = [1, 1, 2, 1, 4]
    recs["flags"] = [pymemcg.GFP_KERNEL, pymemcg.GFP_KERNEL, 0, pymemcg.GFP_KERNEL, 0]
    recs["cgroup"] = [1, 2, 1, 2, 0]
    recs["nr_pages"] = [3, 4, 1, 1, 0]
    recs["cpu"] = [0, 0, 0, 5, 0]
    path = tmp_path / "h.npz"
    np.savez(path, records=recs, paths=np.array(["x", "y/z"]),
             trace=np.array("config current stock_slots=1\ncreate x\ncreate y\ncreate y/z\n"
                            "records 3\nwrite x memory.max 1M\nrecords 2\n"))
    out = tr.run_trace(tr.load_binary(str(path)), backend)
    assert tally(out) == (5, 2, 0, 0, 1)
    # record 4 (index from 1) is bad: its "records 2" is line 7 of the text part
    assert out.bad == [(7, "record 4: bad charge record (EINVAL): no CPU 5 (the config has "
                           "ncpus=1)")]
    h = out.hierarchy
    assert h["x"].memory.usage == 2 and h["y/z"].memory.usage == 4
    assert h["x"].memory.max == 256 and h["y"].memory.usage == 4


@BACKENDS
def test_records_run_after_the_text_without_a_records_line(backend: ModuleType,
                                                          tmp_path: pathlib.Path) -> None:
    recs = np.zeros(2, dtype=pymemcg.OP_DTYPE)
    recs["op"], recs["cgroup"], recs["nr_pages"] = [1, 1], [1, 1], [2, 3]
    recs["flags"] = pymemcg.GFP_KERNEL
    buf = io.BytesIO()
    np.savez(buf, records=recs, paths=np.array(["g"]), trace=np.array("create g\n"))
    out = tr.run_trace(tr.load_binary(buf.getvalue()), backend)
    assert tally(out) == (2, 2, 0, 0, 0)
    out.hierarchy.drain_all()
    assert out.hierarchy["g"].memory.usage == 5


def _archive(tmp_path: pathlib.Path, **members: Any) -> str:
    path = tmp_path / "bad.npz"
    np.savez(path, **members)
    return str(path)


def _recs(cgroups: List[int]) -> Any:
    recs = np.zeros(len(cgroups), dtype=pymemcg.OP_DTYPE)
    recs["op"], recs["cgroup"], recs["nr_pages"] = 1, cgroups, 1
    return recs


@BACKENDS
def test_a_record_whose_path_is_not_online_stops_the_trace(backend: ModuleType,
                                                           tmp_path: pathlib.Path) -> None:
    lines = ["create a", "charge a 1", "remove a", "uncharge a 1"]
    with pytest.raises(tr.TraceError) as text:
        tr.run_trace(lines, backend)
    with pytest.raises(tr.TraceError) as binary:
        tr.run_trace(roundtrip(lines, tmp_path), backend)
    assert text.value.lineno == binary.value.lineno == 4
    assert text.value.reason == binary.value.reason == "uncharge a: no cgroup 'a'"


@pytest.mark.parametrize("members,message", [
    ({"records": _recs([3]), "paths": np.array(["a"]), "trace": np.array("create a\n")},
     "line 2: record 1: cgroup 3 is not an index into paths (0, or 1..1)"),
    ({"records": _recs([1]), "paths": np.array(["a"]), "trace": np.array("records 2\n")},
     "line 1: records 2: only 1 records are left"),
    ({"records": _recs([1, 1]), "paths": np.array(["a"]),
      "trace": np.array("create a\nrecords 1\n")}, "the trace runs 1 records; the file holds 2"),
    ({"records": _recs([1]), "paths": np.array(["a"]), "trace": np.array("records x\n")},
     "line 1: N must be a number"),
    ({"records": _recs([1]), "paths": np.array(["a"])}, "no trace member"),
    ({"records": np.zeros(2, dtype=np.int64), "paths": np.array(["a"]),
      "trace": np.array("")}, "records must be a 1-D array of OP_DTYPE"),
    ({"records": _recs([1]), "paths": np.array([1.5]), "trace": np.array("")},
     "paths must be a 1-D array of str"),
    ({"records": _recs([1]), "paths": np.array(["a"]), "trace": np.array(""),
      "lines": np.array([1, 2])}, "lines must be 1 integers"),
    ({"records": _recs([1]), "paths": np.array(["a"]), "trace": np.array(""),
      "extra": np.array(1)}, "unknown member(s) extra"),
])
@BACKENDS
def test_bad_binary_traces(backend: ModuleType, tmp_path: pathlib.Path, members: Any,
                           message: str) -> None:
    with pytest.raises(tr.TraceError) as ei:
        tr.run_trace(tr.load_binary(_archive(tmp_path, **members)), backend)
    assert message in str(ei.value), str(ei.value)
    assert isinstance(ei.value, pymemcg.MemcgError)


def test_a_lone_npy_and_garbage_are_refused(tmp_path: pathlib.Path) -> None:
    npy = tmp_path / "r.npy"
    np.save(npy, _recs([1]))
    with pytest.raises(tr.TraceError, match="lone .npy array"):
        tr.load_binary(str(npy))
    with pytest.raises(tr.TraceError, match="cannot read the binary trace"):
        tr.load_binary(tr.NPZ_MAGIC + b"not a zip at all")
    with pytest.raises(tr.TraceError, match="not a binary trace"):
        tr.load_binary(b"create a\n")
    assert tr.is_binary(npy.read_bytes()) and not tr.is_binary(b"create a\n")


def test_progress_counts_every_record(tmp_path: pathlib.Path) -> None:
    lines = ["create a"] + ["charge a 1", "uncharge a 1"] * 70000 + ["create b", "charge b 1"]
    seen: List[int] = []
    out = tr.run_trace(roundtrip(lines, tmp_path), pymemcg, seen.append)
    c = tr._BINARY_CHUNK
    assert seen == [c] * (140000 // c) + [140000 % c, 1]   # chunks, then b's record
    assert out.ops == 140001
    assert out.charged == 70001 and out.errors == 0


# ------------------------------------------------------------------ text fast paths

@BACKENDS
def test_bad_records_keep_their_lines_across_chunks(backend: ModuleType) -> None:
    n = tr._TEXT_CHUNK + 100
    lines = ["config current ncpus=2", "create a"] + ["charge a 1", "uncharge a 1"] * n
    lines[n + 1] = "uncharge a 1 cpu=9"           # a line seen before in every other way
    lines[n + tr._TEXT_CHUNK] = "charge a 0x10"   # a page count spelled otherwise
    lines.insert(n + 5, "create b")               # the caches are cleared mid-chunk
    lines.append("uncharge b 1")                  # an underflow
    out = tr.run_trace(lines, backend)
    assert out.bad == [(n + 2, "bad uncharge record (EINVAL): no CPU 9 (the config has "
                               "ncpus=2)")]
    assert (out.ops, out.errors, out.underflows) == (2 * n + 1, 1, 1)
    out.hierarchy.drain_all()
    # the bad uncharge leaves its charge's page; charge 0x10 with its uncharge of 1, 15
    assert out.hierarchy["a"].memory.usage == 1 + 15


def test_text_runs_without_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ["config current ncpus=2", "create a", "charge a 4", "charge a 1 cpu=5",
             "uncharge a 9", "write a memory.max 4K", "charge a 64"]
    with_np = tr.run_trace(lines, pymemcg)
    monkeypatch.setattr(tr.R, "_numpy", lambda: None)
    without = tr.run_trace(lines, pymemcg)
    assert tally(without) == tally(with_np) == (4, 1, 1, 0, 1)   # 64 - 9: no underflow
    assert without.bad == with_np.bad == [
        (4, "bad charge record (EINVAL): no CPU 5 (the config has ncpus=2)")]
    assert tr.format_state(without) == tr.format_state(with_np)


@pytest.mark.parametrize("block", [1, 5, 7, 64])
def test_block_reading_yields_the_lines_of_a_file(monkeypatch: pytest.MonkeyPatch,
                                                  block: int) -> None:
    monkeypatch.setattr(cli, "_BLOCK", block)
    data = "\ufeffcreate café\r\ncharge café 1\n\nlast".encode()
    assert list(cli._decoded("x", io.BytesIO(data), None)) == [
        "create café\r", "charge café 1", "", "last"]
    with pytest.raises(tr.TraceError) as ei:
        list(cli._decoded("x", io.BytesIO(b"a\nb\nc\xe9d\n"), None))
    assert ei.value.lineno == 3 and "byte 0xe9 at column 2" in ei.value.reason


# ------------------------------------------------------------------ the command

def _run(*args: str) -> "subprocess.CompletedProcess[bytes]":
    return subprocess.run([sys.executable, "-m", "pymemcg", *args], capture_output=True,
                          timeout=60)


def test_command_converts_and_runs_binary(tmp_path: pathlib.Path) -> None:
    text = tmp_path / "t.trace"
    text.write_text("\n".join(TRACE) + "\n")
    npz = tmp_path / "t.npz"
    p = _run("replay", str(text), "--convert", str(npz))
    assert p.returncode == 0 and p.stdout == b"" and p.stderr == b""
    want = _run("replay", str(text))
    for args in ([str(npz)], ["--model", str(npz)], ["--compare", str(npz)]):
        got = _run("replay", *args)
        assert got.returncode == want.returncode == 1       # bad records
        assert got.stdout == want.stdout and got.stderr.replace(bytes(npz), b"F") == \
            want.stderr.replace(bytes(text), b"F")
    assert want.stderr.decode().splitlines()[0] == f"pymemcg: {text}:8: {BAD[0][1]}"
    stdin = subprocess.run([sys.executable, "-m", "pymemcg", "replay", "-"],
                           input=npz.read_bytes(), capture_output=True, timeout=60)
    assert stdin.stdout == want.stdout


def test_command_binary_errors_are_one_line(tmp_path: pathlib.Path) -> None:
    npz = tmp_path / "t.npz"
    tr.save_binary(["create a", "charge b 1"], str(npz))
    p = _run("replay", str(npz))
    assert p.returncode == 1 and p.stderr.decode() == \
        f"pymemcg: {npz}:2: charge b: no cgroup 'b'\n"
    p = _run("replay", str(npz), "--convert", str(tmp_path / "again.npz"))
    assert p.returncode == 1 and p.stderr.decode() == \
        f"pymemcg: {npz}: already a binary trace (--convert reads a text trace)\n"
    bad = tmp_path / "bad.trace"
    bad.write_text("create a\ncharge a 01\n")
    p = _run("replay", str(bad), "--convert", str(tmp_path / "x.npz"))
    assert p.returncode == 1 and p.stderr.decode().startswith(
        f"pymemcg: {bad}:2: PAGES must be a number")
