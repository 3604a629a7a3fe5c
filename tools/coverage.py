#!/usr/bin/env python3
"""Line coverage of csrc/ by the C test programs and by the Python suite.

    .venv/bin/python tools/coverage.py [--min 95] [--skip-c] [--skip-python]
                                       [-- PYTEST_ARGS...]

(``make coverage`` runs it.)  Both builds compile one snapshot of csrc/ (build/coverage/src/csrc, copied
at the start), so that they agree line for line even while csrc/ is being
edited, and name every source line by the same absolute path.  Three steps,
then one report:

1. The C programs of tests/c in their gcov flavour (``-O0 --coverage``,
   ``make -C tests/c cov`` with CSRC and BUILD pointing into
   build/coverage), counts zeroed first, each program run once (run-cov).
2. The CFFI extension built with ``-O0 --coverage`` under
   build/coverage/ext, put into a copy of the package in
   build/coverage/pkg.  The in-place build (pymemcg/_core*.so) is not
   touched.  The pytest suite then runs with that copy first on sys.path;
   before it, a child interpreter prints ``pymemcg._core.__file__`` and the
   run stops unless it is the copy's.
3. gcovr reads each build's counts into a JSON trace (build/coverage/c.json,
   py.json) and merges the two per source line (``--add-tracefile``): a line
   is covered if either build ran it.

The report: line coverage of csrc/ by the C programs alone, by the Python
suite alone and by both (gcovr's table: per file, total, missing lines),
then every uncovered line with its text (also in build/coverage/uncovered.txt).
Exit status 1 if the merged total is below --min (default 95, or
$COVERAGE_MIN), or if a test run failed (the report is printed all the same).
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "coverage")
SNAP = os.path.join(OUT, "src")         # the snapshot: SNAP/csrc
CSRC = os.path.join(SNAP, "csrc")
CBUILD = os.path.join(OUT, "c")         # the C programs' build (flavour cov)
EXT = os.path.join(OUT, "ext")
PKG = os.path.join(OUT, "pkg")
COV_FLAGS = ["-O0", "-g", "--coverage"]
# Seconds the Python suite may take (it takes about a minute and a half).
PYTEST_TIMEOUT = int(os.environ.get("COVERAGE_PYTEST_TIMEOUT", 1800))


def log(msg: str) -> None:
    print(f"coverage: {msg}", flush=True)


def run(cmd: list[str], **kw: Any) -> int:
    log("$ " + " ".join(cmd))
    return subprocess.call(cmd, **kw)


def gcovr_cmd() -> list[str]:
    """gcovr, installed from pyproject's `coverage` extra if it is missing."""
    try:
        import gcovr  # noqa: F401
    except ImportError:
        with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"^coverage\s*=\s*\[(.*?)\]", text, re.M | re.S)
        reqs = re.findall(r'"([^"]+)"', m.group(1)) if m else ["gcovr>=7"]
        if run([sys.executable, "-m", "pip", "install", "-q", *reqs]):
            sys.exit("coverage: could not install " + " ".join(reqs))
    return [sys.executable, "-m", "gcovr"]


def snapshot() -> None:
    shutil.rmtree(SNAP, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "csrc"), CSRC)
    log(f"csrc/ copied to {os.path.relpath(CSRC, ROOT)}: both builds compile that")


# --- 1. the C programs --------------------------------------------------------

def c_programs() -> bool:
    make = [os.environ.get("MAKE", "make"), "--no-print-directory", "-C",
            os.path.join(ROOT, "tests", "c"), f"CSRC={CSRC}", f"BUILD={CBUILD}"]
    if run(make + ["cov"]):
        sys.exit("coverage: the gcov flavour of tests/c does not build")
    run(make + ["-s", "cov-zero"])
    return run(make + ["run-cov"]) == 0


# --- 2. the extension and the Python suite -------------------------------------

def _without(args: list[str], drop: "re.Pattern[str]") -> list[str]:
    return [a for a in args if not drop.match(a)]


def _in_snapshot(path: str) -> str:
    """A path of the builder (relative to the repository) in the snapshot."""
    rel = os.path.relpath(os.path.join(ROOT, path), os.path.join(ROOT, "csrc"))
    if rel.startswith(os.pardir):
        raise SystemExit(f"coverage: the builder compiles {path}, outside csrc/")
    return os.path.normpath(os.path.join(CSRC, rel))


def build_extension() -> str:
    """Build pymemcg._core with --coverage into EXT; returns the .so path."""
    spec = importlib.util.spec_from_file_location(
        "_pymemcg_build_for_coverage", os.path.join(ROOT, "pymemcg", "_build.py"))
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ffi = mod.ffibuilder
    # The builder's set_source() arguments, with absolute sources and the
    # optimisation and LTO flags replaced by the coverage flags.
    module_name, source, source_extension, kwds = ffi._assigned_source
    kwds = dict(kwds)
    kwds["sources"] = [_in_snapshot(s) for s in kwds.get("sources", [])]
    kwds["include_dirs"] = [_in_snapshot(d) for d in kwds.get("include_dirs", [])]
    opt = re.compile(r"^(-O.*|-flto.*|-fno-lto)$")
    kwds["extra_compile_args"] = _without(list(kwds.get("extra_compile_args", [])), opt) + COV_FLAGS
    kwds["extra_link_args"] = _without(list(kwds.get("extra_link_args", [])), opt) + ["--coverage"]
    assert all(s.startswith(CSRC + os.sep) for s in kwds["sources"]), kwds["sources"]
    ffi._assigned_source = (module_name, source, source_extension, kwds)
    if not kwds["sources"]:
        sys.exit("coverage: the builder lists no sources")
    shutil.rmtree(EXT, ignore_errors=True)
    os.makedirs(EXT)
    log(f"building {module_name} with {' '.join(COV_FLAGS)} in {os.path.relpath(EXT, ROOT)}")
    so = ffi.compile(tmpdir=EXT, verbose=False)
    return os.path.abspath(so)


def package_copy(so: str) -> None:
    """The package's Python files and the coverage build of _core, in PKG."""
    shutil.rmtree(PKG, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "pymemcg"), os.path.join(PKG, "pymemcg"),
                    ignore=shutil.ignore_patterns("_core*.so", "_core.c", "_core.o",
                                                  "__pycache__"))
    shutil.copy2(so, os.path.join(PKG, "pymemcg", os.path.basename(so)))
    # pymemcg/_build.py (read by tests) finds the header at ../csrc.
    os.symlink(CSRC, os.path.join(PKG, "csrc"))


def python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("HYPOTHESIS_PROFILE", "ci")
    return env


def check_import(env: dict[str, str]) -> None:
    """The copy, not the in-place build, is what `import pymemcg` finds."""
    out = subprocess.run(
        [sys.executable, "-c", "import pymemcg, pymemcg._core as c; print(c.__file__)"],
        cwd=PKG, env=env, capture_output=True, text=True)
    path = out.stdout.strip()
    log(f"pymemcg._core.__file__ = {path or out.stderr.strip()}")
    if out.returncode or not os.path.realpath(path).startswith(os.path.realpath(PKG) + os.sep):
        sys.exit("coverage: the Python suite would not import the coverage build")


def pytest_run(args: list[str], env: dict[str, str]) -> int:
    """One pytest process; its exit status (negative: killed by that signal)."""
    # cwd = the copy: `python -m` puts it first on sys.path (and not the repo).
    # Not the packaging tests: they build wheels of their own, not this extension.
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not packaging",
           "-o", "faulthandler_timeout=300", "--rootdir", ROOT, *args]
    log("$ " + " ".join(cmd))
    proc = subprocess.Popen(cmd, cwd=PKG, env=env)
    try:
        return proc.wait(timeout=PYTEST_TIMEOUT)
    except subprocess.TimeoutExpired:
        # SIGINT: pytest stops and the interpreter exits normally, so that
        # the counts are written (a killed process writes none).
        log(f"pytest ran past {PYTEST_TIMEOUT} s: interrupted")
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 1


def python_suite(pytest_args: list[str]) -> bool:
    """The suite, one process per test file unless pytest arguments are given:
    a process that crashes (or is killed by a timeout) writes no counts, and
    then only its file's are lost."""
    so = build_extension()
    package_copy(so)
    env = python_env()
    check_import(env)
    tests = os.path.join(ROOT, "tests")
    if pytest_args:
        runs = [pytest_args]
    else:
        files = sorted(glob.glob(os.path.join(tests, "**", "test_*.py"), recursive=True))
        runs = [[f] for f in files if os.sep + "c" + os.sep not in os.path.relpath(f, ROOT)]
    failed = []
    for args in runs:
        rc = pytest_run(args, env)
        if rc not in (0, 5):            # 5: nothing collected (all deselected)
            failed.append(f"{' '.join(os.path.relpath(a, ROOT) if os.path.isabs(a) else a for a in args)}"
                          f" (exit {rc})")
    if not glob.glob(os.path.join(EXT, "**", "*.gcda"), recursive=True):
        sys.exit("coverage: the Python suite left no counts: it did not run the coverage build")
    for f in failed:
        log(f"pytest FAILED: {f}")
    return not failed


# --- 3. the report -------------------------------------------------------------

def trace(gcovr: list[str], name: str, search: str) -> str:
    path = os.path.join(OUT, f"{name}.json")
    summary = os.path.join(OUT, f"{name}-summary.json")
    if run([*gcovr, "--root", SNAP, "--filter", CSRC + os.sep, "--json", path,
            "--json-summary", summary, search], cwd=ROOT):
        sys.exit(f"coverage: gcovr failed on {search}")
    return path


def percent(summary: str) -> tuple[float, int, int]:
    with open(summary, encoding="utf-8") as f:
        s = json.load(f)
    return s["line_percent"], s["line_covered"], s["line_total"]


def ranges(lines: list[int]) -> str:
    out, start = [], None
    for i, n in enumerate(lines):
        if start is None:
            start = n
        if i + 1 == len(lines) or lines[i + 1] != n + 1:
            out.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ",".join(out)


def uncovered(merged: str) -> dict[str, list[int]]:
    with open(merged, encoding="utf-8") as f:
        data = json.load(f)
    missing: dict[str, set[int]] = {}
    for fobj in data["files"]:
        lines = missing.setdefault(fobj["file"], set())
        counts: dict[int, int] = {}
        for ln in fobj["lines"]:
            if ln.get("gcovr/noncode"):
                continue
            counts[ln["line_number"]] = counts.get(ln["line_number"], 0) + ln["count"]
        lines.update(n for n, c in counts.items() if c == 0)
    return {f: sorted(v) for f, v in sorted(missing.items())}


def report(gcovr: list[str], traces: dict[str, str], minimum: float) -> bool:
    merged = os.path.join(OUT, "all.json")
    summary = os.path.join(OUT, "all-summary.json")
    txt = os.path.join(OUT, "coverage.txt")
    cmd = [*gcovr, "--root", SNAP, "--filter", CSRC + os.sep]
    for t in traces.values():
        cmd += ["--add-tracefile", t]
    if run(cmd + ["--json", merged, "--json-summary", summary, "--txt", txt], cwd=ROOT):
        sys.exit("coverage: gcovr could not merge the traces")
    print()
    for name, t in traces.items():
        pct, cov, tot = percent(t.replace(".json", "-summary.json"))
        who = "the C programs (tests/c)" if name == "c" else "the Python suite"
        print(f"csrc/ lines run by {who}: {cov}/{tot} = {pct:.1f}%")
    with open(txt, encoding="utf-8") as f:
        print(f.read(), end="")
    miss = uncovered(merged)
    lines_out = []
    for path, lines in miss.items():
        if not lines:
            continue
        src = os.path.join(SNAP, path)
        with open(src, encoding="utf-8", errors="replace") as f:
            text = f.read().splitlines()
        lines_out.append(f"{path}: {len(lines)} lines not run: {ranges(lines)}")
        for n in lines:
            lines_out.append(f"  {n:5d}  {text[n - 1].strip() if n <= len(text) else ''}")
    with open(os.path.join(OUT, "uncovered.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines_out) + "\n")
    print("\nUncovered lines (with their text in build/coverage/uncovered.txt):")
    for path, lines in miss.items():
        if lines:
            print(f"  {path}: {ranges(lines)}")
    pct, cov, tot = percent(summary)
    ok = pct >= minimum
    print(f"\ncsrc/ lines run by the C programs and the Python suite together: "
          f"{cov}/{tot} = {pct:.1f}% ({'>=' if ok else 'below'} {minimum:g}%)")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--min", type=float, default=float(os.environ.get("COVERAGE_MIN", 95)))
    ap.add_argument("--skip-c", action="store_true",
                    help="reuse the C programs' last counts (and the last snapshot)")
    ap.add_argument("--skip-python", action="store_true",
                    help="reuse the Python suite's last counts (and the last snapshot)")
    ap.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = ap.parse_args()
    gcovr = gcovr_cmd()
    os.makedirs(OUT, exist_ok=True)
    ok_c = ok_py = True
    if not (args.skip_c or args.skip_python):
        snapshot()
    elif not os.path.isdir(CSRC):
        sys.exit("coverage: no earlier run whose snapshot of csrc/ a skip could reuse")
    if not args.skip_c:
        ok_c = c_programs()
    if not args.skip_python:
        ok_py = python_suite(args.pytest_args)
    # The library's objects only: the programs' own counts are not csrc/'s.
    traces = {"c": trace(gcovr, "c", os.path.join(CBUILD, "cov", "lib")),
              "py": trace(gcovr, "py", EXT)}
    ok = report(gcovr, traces, args.min)
    if not ok_c:
        print("coverage: a C test program FAILED (see above)")
    if not ok_py:
        print("coverage: the Python suite FAILED (see above)")
    return 0 if ok and ok_c and ok_py else 1


if __name__ == "__main__":
    sys.exit(main())
