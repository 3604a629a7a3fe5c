"""The command line: demo and replay; every bad input a one-line error."""

from __future__ import annotations

import errno
import os
import pathlib
import re
import subprocess
import sys
from typing import List, Tuple

import pytest

import pymemcg
import pymemcg.model
from pymemcg import cli, trace
from pymemcg.trace import TraceError, format_state, run_trace

ROOT = pathlib.Path(__file__).resolve().parent.parent

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


def run_cli(*args: str, stdin: "bytes | None" = None, env: "dict[str, str] | None" = None,
            timeout: float = 60) -> "subprocess.CompletedProcess[bytes]":
    """``python -m pymemcg ARGS`` in a child process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "pymemcg", *args], input=stdin,
                          capture_output=True, timeout=timeout, cwd=str(ROOT),
                          env={**os.environ, **(env or {})})


def one_line_error(p: "subprocess.CompletedProcess[bytes]") -> str:
    """The single stderr line of a failed command (no traceback)."""
    err = p.stderr.decode()
    assert p.returncode != 0, (p.returncode, err)
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("pymemcg: "), err
    return lines[0]


# ------------------------------------------------------------------ the trace runs

def test_demo_agrees_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo"]) == 0
    assert "agree on every step" in capsys.readouterr().out


@pytest.mark.parametrize("backend", [pymemcg, pymemcg.model], ids=["c", "model"])
def test_trace_by_hand(backend: object) -> None:
    out = run_trace(TRACE.splitlines(), backend)   # type: ignore[arg-type]
    b = out.hierarchy.cgroups()[2]
    assert (b.path, b.dying) == ("a/b", True)
    assert b.memory.usage == 12 and b.memory.watermark == 32
    assert b.stat == {"anon": 7 * 4096, "kernel": 5 * 4096, "kernel_stack": 0, "pagetables": 0, "sock": 0, "slab_reclaimable": 0, "slab_unreclaimable": 0}
    assert (out.ops, out.charged, out.refused, out.errors) == (4, 2, 0, 0)


@pytest.mark.parametrize("backend", [pymemcg, pymemcg.model], ids=["c", "model"])
def test_trace_outcomes_and_write_values(backend: object) -> None:
    lines = ["config current_v1 charge_batch=4 memsw=yes",
             "create g",
             "write g memory.limit_in_bytes 40K   # 10 pages: the rest of the line is the value",
             "charge g 8",
             "charge g 8",                                 # refused by g
             "uncharge g 20",                              # underflow
             "charge g 3 gfp=KERNEL|NOFAIL",
             "write g memory.force_empty 0"]
    out = run_trace([line + "\n" for line in lines], backend)   # type: ignore[arg-type]
    g = out.hierarchy["g"]
    assert (out.ops, out.charged, out.refused, out.underflows, out.errors) == (4, 2, 1, 1, 0)
    assert g.read("memory.limit_in_bytes") == "40960\n"


def test_trace_words_need_no_shell_quoting() -> None:
    """The format splits on whitespace: quotes are characters of a name."""
    out = run_trace(["create 'a'", "charge 'a' 1"], pymemcg)
    assert out.hierarchy.cgroups()[1].path == "'a'"


@pytest.mark.parametrize("line,message", [
    ("frobnicate a", "unknown operation 'frobnicate'"),
    ("charge a x", "PAGES must be a number (decimal, or 0x hex), not 'x'"),
    ("charge a 010", "PAGES must be a number"),
    ("charge a 1_0", "PAGES must be a number"),
    ("charge a 99999999999999999999", "PAGES 99999999999999999999 is out of range"),
    ("charge a 1 cpu=4294967296", "cpu 4294967296 is out of range"),
    ("charge a 1 cpu=x", "cpu must be a number"),
    ("charge a 1 gfp=SOMETIMES", "unknown GFP flag 'SOMETIMES'"),
    ("charge a 1 gfp=KERNEL||", "unknown GFP flag ''"),
    ("charge a 1 cpu=0 cpu=1", "cpu given twice"),
    ("uncharge a 1 gfp=KERNEL", "uncharge takes no gfp="),
    ("charge a 1 frob", "unknown option 'frob'"),
    ("charge a", "usage: charge PATH PAGES"),
    ("charge nosuch 1", "charge nosuch: no cgroup 'nosuch'"),
    ("drain", "usage: drain CPU"),
    ("drain x", "CPU must be a number"),
    ("create a", "create a:"),
    ("remove a/b/c", "remove a/b/c: no cgroup"),
    ("write a memory.max nonsense", "write a memory.max:"),
    ("config current", "config must come before any other operation"),
])
@pytest.mark.parametrize("backend", [pymemcg, pymemcg.model], ids=["c", "model"])
def test_bad_trace_lines(backend: object, line: str, message: str) -> None:
    with pytest.raises(TraceError) as ei:
        run_trace(["create a", "", "# comment", line], backend)   # type: ignore[arg-type]
    e = ei.value
    assert isinstance(e, pymemcg.MemcgError) and e.lineno == 4
    assert message in e.reason and str(e).endswith(f"line 4: {e.reason}")


@pytest.mark.parametrize("line,message", [
    ("config nosuch", "config needs a preset first"),
    ("config", "config needs a preset first"),
    ("config current ncpus=x", "config: ncpus must be a number"),
    ("config current ncpus=_", "config: ncpus must be a number"),
    ("config current ncpus=0", "config: ncpus must be in 1..1024, not 0"),
    ("config current ncpus=99999999999999999999999", "out of range"),
    ("config current memsw=maybe", "config: memsw takes yes or no"),
    ("config current memsw=yes", "config: cgroup v2 has no memsw counter"),
    ("config current nosuch=1", "config: no Config field 'nosuch'"),
    ("config current ncpus", "config takes FIELD=VALUE"),
    ("config current failcnt=sometimes", "config: failcnt must be one of"),
])
@pytest.mark.parametrize("backend", [pymemcg, pymemcg.model], ids=["c", "model"])
def test_bad_config_lines(backend: object, line: str, message: str) -> None:
    with pytest.raises(TraceError) as ei:
        run_trace(["# first", line], backend)   # type: ignore[arg-type]
    assert ei.value.lineno == 2 and message in ei.value.reason, ei.value.reason


def test_failed_operation_keeps_its_errno() -> None:
    with pytest.raises(TraceError) as ei:
        run_trace(["config current_v1", "create a", "charge a 5 gfp=NOFAIL",
                   "write a memory.limit_in_bytes 4K"], pymemcg)
    assert ei.value.errno == errno.EBUSY and ei.value.lineno == 4
    assert isinstance(ei.value.__cause__, pymemcg.BusyError)


@pytest.mark.parametrize("backend", [pymemcg, pymemcg.model], ids=["c", "model"])
def test_bad_records_are_counted_with_their_lines(backend: object) -> None:
    lines = ["config current ncpus=2", "create a", "charge a 1 cpu=2", "charge a 1",
             "uncharge a 2251799813685248", "drain 5", "drain -1"]
    out = run_trace(lines, backend)   # type: ignore[arg-type]
    assert (out.ops, out.charged, out.errors) == (5, 1, 4)
    assert out.bad == [
        (3, "bad charge record (EINVAL): no CPU 2 (the config has ncpus=2)"),
        (5, "bad uncharge record (EINVAL): 2251799813685248 pages is out of range "
            "0..2251799813685247 (PAGE_COUNTER_MAX)"),
        (6, "bad drain record (EINVAL): no CPU 5 (the config has ncpus=2)"),
        (7, "bad drain record (EINVAL): no CPU -1 (the config has ncpus=2)"),
    ]


def test_bad_records_reported_up_to_a_limit() -> None:
    out = run_trace(["create a"] + ["charge a 1 cpu=9"] * 50, pymemcg)
    assert out.errors == 50 and len(out.bad) == trace.MAX_REPORTED


def test_format_state_labels_units_and_aligns_columns() -> None:
    out = run_trace(TRACE.splitlines(), pymemcg)
    lines = format_state(out)
    assert lines[0] == "records: 4 replayed (charged 2, refused 0, underflowed 0, bad 0)"
    text = "\n".join(lines)
    assert "counters, in pages (4096 bytes)" in text and "memory.stat, in bytes" in text
    header = next(l for l in lines if l.startswith("cgroup  id"))
    assert header.split() == ["cgroup", "id", "state", "counter", "usage_pages", "max_pages",
                              "peak_pages", "failcnt"]
    rows = [l for l in lines if l.startswith("a/b ")]
    assert rows[0].split() == ["a/b", "3", "dying", "memory", "12", "max", "32", "0"]
    assert "anon_bytes" in text and "kernel_bytes" in text
    # every row of a table has the header's width: the columns hold without a terminal
    block = lines[lines.index(header):lines.index(header) + 7]
    assert len({len(l) for l in block}) == 1


def test_table_keeps_wide_numbers_aligned() -> None:
    lines = trace.table(["name", "pages"], [["a", 1], ["long-name", 2251799813685247]])
    assert lines == ["name                  pages",
                     "a                         1",
                     "long-name  2251799813685247"]


# ------------------------------------------------------------------ the command

def test_replay_command_compares_backends(tmp_path: pathlib.Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.trace"
    path.write_text(TRACE)
    assert cli.main(["replay", "--compare", str(path)]) == 0
    printed = capsys.readouterr()
    assert printed.out.splitlines() == format_state(run_trace(TRACE.splitlines(), pymemcg))
    assert printed.err == ""


def test_version() -> None:
    p = run_cli("--version")
    assert p.returncode == 0 and p.stdout.decode().strip() == f"pymemcg {pymemcg.__version__}"


def test_help_documents_the_format_and_exit_statuses() -> None:
    p = run_cli("replay", "--help")
    out = p.stdout.decode()
    assert p.returncode == 0
    for line in trace.FORMAT.splitlines():
        assert line.strip() in out
    assert "141" in out and "exit status" in out


def test_readme_documents_the_same_format() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "```text\n" + trace.FORMAT + "```" in readme


def test_bad_records_exit_1_with_their_lines(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "t.trace"
    path.write_text("create a\ncharge a 1 cpu=3\ncharge a 2\n")
    p = run_cli("replay", str(path))
    assert p.returncode == 1
    assert p.stderr.decode() == (f"pymemcg: {path}:2: bad charge record (EINVAL): no CPU 3 "
                                 "(the config has ncpus=1)\n")
    assert p.stdout.decode().startswith("records: 2 replayed (charged 1, refused 0, "
                                        "underflowed 0, bad 1)")


def test_many_bad_records_are_summed_up(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "t.trace"
    path.write_text("create a\n" + "charge a 1 cpu=3\n" * 30)
    p = run_cli("replay", str(path))
    err = p.stderr.decode().splitlines()
    assert p.returncode == 1 and len(err) == trace.MAX_REPORTED + 1
    assert err[-1] == f"pymemcg: {path}: 30 bad records in all (the first 20 shown)"


def _bad_inputs(tmp: pathlib.Path) -> List[Tuple[str, List[str], "bytes | None", str]]:
    """(id, arguments, stdin, the expected message, a regular expression)."""
    def file(name: str, data: bytes) -> str:
        p = tmp / name
        p.write_bytes(data)
        return str(p)

    return [
        ("missing", ["replay", str(tmp / "nosuch.trace")], None,
         rf"pymemcg: {re.escape(str(tmp / 'nosuch.trace'))}: No such file or directory"),
        ("directory", ["replay", str(tmp)], None,
         rf"pymemcg: {re.escape(str(tmp))}: Is a directory"),
        ("not utf-8", ["replay", file("latin1.trace", b"create a\ncreate caf\xe9\n")], None,
         r"pymemcg: .*latin1.trace:2: not UTF-8 text: byte 0xe9 at column 11"),
        ("bad ncpus", ["replay", file("ncpus.trace", b"config current ncpus=x\n")], None,
         r"pymemcg: .*ncpus.trace:1: config: ncpus must be a number .*'x'"),
        ("zero ncpus", ["replay", file("ncpus0.trace", b"\nconfig current ncpus=0\n")], None,
         r"pymemcg: .*ncpus0.trace:2: config: ncpus must be in 1..1024, not 0"),
        ("out of range", ["replay", file("range.trace",
                                         b"create a\ncharge a 99999999999999999999\n")], None,
         r"pymemcg: .*range.trace:2: PAGES 99999999999999999999 is out of range"),
        ("unknown op", ["replay", "-"], b"create a\nfrob a\n",
         r"pymemcg: <stdin>:2: unknown operation 'frob'"),
        ("stdin not utf-8", ["replay", "--model", "-"], b"\xff\n",
         r"pymemcg: <stdin>:1: not UTF-8 text: byte 0xff at column 1"),
        ("no file", ["replay"], None,
         r"pymemcg: the following arguments are required: FILE \(see pymemcg replay --help\)"),
        ("no command", [], None, r"pymemcg: the following arguments are required: COMMAND"),
        ("bad option", ["replay", "--frob", "x"], None, r"pymemcg: unrecognized arguments: --frob"),
        ("model and compare", ["replay", "--model", "--compare", "x"], None,
         r"pymemcg: argument --compare: not allowed with argument --model"),
    ]


@pytest.mark.parametrize("case", range(12))
def test_every_bad_input_is_one_line(tmp_path: pathlib.Path, case: int) -> None:
    name, args, stdin, pattern = _bad_inputs(tmp_path)[case]
    p = run_cli(*args, stdin=stdin)
    line = one_line_error(p)
    assert re.match(pattern, line), (name, line)
    assert p.returncode == (2 if name in ("no file", "no command", "bad option",
                                          "model and compare") else 1)
    assert p.stdout == b""


def test_bad_inputs_in_process(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    """main() returns the status (it never raises SystemExit), for every case."""
    for name, args, stdin, pattern in _bad_inputs(tmp_path):
        if stdin is not None:
            continue
        assert cli.main(args) in (1, 2), name
        err = capsys.readouterr().err
        assert re.match(pattern, err) and err.count("\n") == 1, (name, err)


def test_closed_pipe_exits_quietly(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "big.trace"
    # many cgroups: far more output than a pipe buffer holds
    path.write_text("".join(f"create g{i}\ncharge g{i} {i}\n" for i in range(3000)))
    proc = subprocess.Popen([sys.executable, "-m", "pymemcg", "replay", "--model", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT))
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()              # the reader goes away, as `| head -1` does
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert first.startswith(b"records: 3000 replayed")
    assert err == b""


def test_missing_core_is_one_line() -> None:
    """Without the compiled extension: one line for the C core, --model still runs."""
    block = ("import sys\n"
             "class Block:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name == 'pymemcg._core':\n"
             "            raise ModuleNotFoundError('pymemcg._core is hidden', name=name)\n"
             "sys.meta_path.insert(0, Block())\n"
             "from pymemcg.cli import main\n"
             "sys.exit(main(sys.argv[1:]))\n")
    p = subprocess.run([sys.executable, "-c", block, "replay", "-"], input=b"create a\n",
                       capture_output=True, cwd=str(ROOT), timeout=60)
    assert "the C core (pymemcg._core) is not built" in one_line_error(p)
    p = subprocess.run([sys.executable, "-c", block, "replay", "--model", "-"],
                       input=b"create a\ncharge a 1\n", capture_output=True, cwd=str(ROOT),
                       timeout=60)
    assert p.returncode == 0 and p.stdout.startswith(b"records: 1 replayed (charged 1")


def test_internal_errors_are_one_line(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setattr(trace, "run_trace", boom)
    monkeypatch.delenv("PYMEMCG_TRACEBACK", raising=False)
    assert cli.main(["replay", os.devnull]) == 70
    err = capsys.readouterr().err
    assert err.startswith("pymemcg: internal error: RuntimeError: kaput") and err.count("\n") == 1


def test_progress_bar_only_on_a_terminal(tmp_path: pathlib.Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tqdm")
    assert cli._progress(True, 100, "x") is None             # pytest's stderr: no terminal

    class Tty:
        def isatty(self) -> bool:
            return True

        def write(self, s: str) -> int:
            return len(s)

        def flush(self) -> None:
            pass

    monkeypatch.setattr(sys, "stderr", Tty())
    bar = cli._progress(True, 100, "x")
    assert bar is not None
    bar.close()
    assert cli._progress(False, 100, "x") is None             # --no-progress


def test_progress_without_tqdm(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)          # import tqdm raises ImportError
    assert cli._progress(True, 100, "x") is None
    path = tmp_path / "t.trace"
    path.write_text(TRACE)
    assert cli.main(["replay", str(path)]) == 0


def test_large_output_is_written_whole(tmp_path: pathlib.Path) -> None:
    """Unbuffered stdout (PYTHONUNBUFFERED) must not cut a large table."""
    path = tmp_path / "big.trace"
    path.write_text("".join(f"create g{i}\n" for i in range(3000)))
    p = run_cli("replay", "--model", str(path), env={"PYTHONUNBUFFERED": "1"})
    out = p.stdout.decode().splitlines()
    assert p.returncode == 0 and len(out) == 1 + 3 * 3 + 2 * 3001 + 3001 + 3001   # counters: 2 each
    assert out[-1].split() == ["g2999"] + ["0"] * 7  # anon kernel kernel_stack pagetables sock slab_reclaimable slab_unreclaimable


def test_progress_counts_every_byte(tmp_path: pathlib.Path) -> None:
    class Bar:
        n = 0

        def update(self, k: int) -> None:
            self.n += k

    data = b"".join(b"charge a %d\n" % i for i in range(10000))
    path = tmp_path / "t.trace"
    path.write_bytes(data)
    bar = Bar()
    with open(path, "rb") as f:
        assert sum(1 for _ in cli._decoded(str(path), f, bar)) == 10000
    assert bar.n == len(data)
