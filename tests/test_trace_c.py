"""Text traces read in C (pmc_trace_parse) and read in Python: the same outcome.

run_trace reads the common record lines in C and every other line with the
Python reader; with USE_C_PARSER off, Python reads them all.  On random
traces (many cgroups, creates and removes between records, every option,
the numbers the C reader leaves to Python, bad lines mixed in) the final
state, the tally, the bad records and any error (message and line) must be
the same, on both backends.
"""

from __future__ import annotations

import itertools
import random
from typing import Any, List, Tuple

import pytest

import pymemcg
import pymemcg.model
from pymemcg import trace as tr

GFP_OK = list(tr._GFP) + ["kernel", "NoFail", "KERNEL|NOFAIL", "nofs|high"]
GFP_WORDS = ["", "BOGUS", "KERNEL|", "|FS", "GFP_KERNEL"]
#: Numbers that the C reader leaves to Python: fine ones, bad records (refused by
#: the replay), and (BAD_*) lines that stop the trace.
NUMBERS = ["0", "1", "7", "64", "512", "0x10", "+4", "-3", "999999999999999999",
           "1000000000000000000", "2251799813685247", "2251799813685248"]
BAD_NUMBERS = ["012", "00", "9223372036854775808", "1x"]
CPUS = ["0", "1", "3", "4", "-1", "0x2", "+1", "2147483647"]
BAD_CPUS = ["01", "2147483648", "99999999999", ""]


def _trace(rnd: random.Random, n: int, bad: bool) -> List[str]:
    v1 = rnd.random() < 0.3
    lines = ["config current_v1 ncpus=4 memsw=yes" if v1 else "config current ncpus=4"]
    paths: List[str] = []
    made = itertools.count()
    for i in range(rnd.randint(1, 4)):
        lines.append(f"create g{i}")
        paths.append(f"g{i}")
        for j in range(rnd.randint(0, 12)):
            lines.append(f"create g{i}/c{j}")
            paths.append(f"g{i}/c{j}")
    limit = "memory.limit_in_bytes" if v1 else "memory.max"
    for _ in range(2):
        lines.append(f"write {rnd.choice(paths)} {limit} {rnd.choice(['160K', '1600K', '-1' if v1 else 'max'])}")
    for _ in range(n):
        x = rnd.random()
        path = rnd.choice(paths)
        if x < 0.70:
            cmd = rnd.choice(["charge", "uncharge"])
            pages = str(rnd.randint(1, 64)) if rnd.random() < 0.9 else rnd.choice(NUMBERS)
            if bad and rnd.random() < 0.002:
                pages = rnd.choice(BAD_NUMBERS)
            opts = []
            if rnd.random() < 0.6:
                opts.append(f"cpu={rnd.randrange(4) if rnd.random() < 0.9 else rnd.choice(CPUS)}")
                if bad and rnd.random() < 0.002:
                    opts[-1] = f"cpu={rnd.choice(BAD_CPUS)}"
            if cmd == "charge" and rnd.random() < 0.3:
                opts.append(f"gfp={rnd.choice(GFP_WORDS) if bad and rnd.random() < 0.02 else rnd.choice(GFP_OK)}")
            if rnd.random() < 0.2:
                opts.append("kmem")
            rnd.shuffle(opts)
            sep = rnd.choice([" ", " ", " ", "\t", "  ", " \x1f"])
            line = sep.join([cmd, path, pages] + opts)
            if rnd.random() < 0.1:
                line += " # comment é"
            lines.append(rnd.choice(["", "  "]) + line)
        elif x < 0.75:
            lines.append(f"drain {rnd.randrange(4) if rnd.random() < 0.9 else rnd.choice(CPUS)}")
        elif x < 0.78:
            lines.append(rnd.choice(["drain_all", f"drain_all {path}"]))
        elif x < 0.82:
            lines.append(rnd.choice(["", "# note", "   ", "\t# x"]))
        elif x < 0.85:
            k = next(made)
            lines.append(f"create {path}/n{k}")
            paths.append(f"{path}/n{k}")
        elif x < 0.87:
            # Remove a leaf (one with no child made here): its records later are errors.
            leaves = [p for p in paths if not any(q.startswith(p + "/") for q in paths)]
            victim = rnd.choice(leaves)
            lines.append(f"remove {victim}")
            paths.remove(victim)
            if not paths:
                paths.append("g0")
        elif x < 0.90:
            lines.append(f"charge {rnd.choice(['/' + path, path + '/', path.replace('/', '//')])} 1")
        elif bad and x < 0.905:
            lines.append(rnd.choice([
                "charge nowhere 1", "charge g0 1 cpu=1 cpu=2", "uncharge g0 1 gfp=KERNEL",
                "charge g0 1 kmem kmem", "charge g0 1 bogus", "charge g0", "chargex g0 1",
                "charge g0 1 kmem=1", "drain", "drain x", "config current", "charge g0 é",
                "uncharge g0 1 cpu=", "charge g0 abc", "remove nowhere"]))
        else:
            lines.append(f"uncharge {path} {rnd.randint(1, 8)} cpu={rnd.randrange(4)}")
    ends = rnd.choice(["\n", "\r\n", ""])
    return [line + ends for line in lines]


def _outcome(lines: List[str], backend: Any, use_c: bool, monkeypatch: Any) -> Tuple[Any, ...]:
    monkeypatch.setattr(tr, "USE_C_PARSER", use_c)
    try:
        out = tr.run_trace(lines, backend)
    except tr.TraceError as e:
        return ("error", e.lineno, e.reason, e.errno)
    try:
        return ("ok", out.ops, out.charged, out.refused, out.underflows, out.errors,
                tuple(out.bad), tuple(tr.format_state(out)))
    finally:
        out.hierarchy.close()


@pytest.mark.parametrize("seed", range(40))
def test_c_reader_same_outcome(seed: int, monkeypatch: Any) -> None:
    rnd = random.Random(seed)
    lines = _trace(rnd, rnd.choice([50, 300, 3000]), bad=seed % 2 == 1)
    backends = [pymemcg] + ([pymemcg.model] if seed % 4 < 2 else [])
    for backend in backends:
        want = _outcome(lines, backend, False, monkeypatch)
        got = _outcome(lines, backend, True, monkeypatch)
        assert got == want, (backend.__name__, seed)


@pytest.mark.parametrize("seed", range(6))
def test_c_reader_chunks(seed: int, monkeypatch: Any) -> None:
    """Small chunks: a trace's lines cross many chunk ends and replay calls."""
    monkeypatch.setattr(tr, "_TEXT_CHUNK", 7)
    rnd = random.Random(1000 + seed)
    lines = _trace(rnd, 400, bad=seed % 2 == 1)
    assert _outcome(lines, pymemcg, True, monkeypatch) == _outcome(lines, pymemcg, False,
                                                                   monkeypatch)


@pytest.mark.parametrize("name", list(tr._GFP))
def test_c_reader_gfp_names(name: str, monkeypatch: Any) -> None:
    """Every gfp name of pymemcg.gfp, as C reads it (any case)."""
    lines = ["config current", "create a", "write a memory.max 3"]
    lines += [f"charge a 2 gfp={name}", f"charge a 2 gfp={name.lower()}|nofail",
              "uncharge a 1", f"charge a 1 kmem gfp={name.title()}"]
    assert _outcome(lines, pymemcg, True, monkeypatch) == _outcome(lines, pymemcg, False,
                                                                   monkeypatch)


def test_c_reader_odd_lines(monkeypatch: Any) -> None:
    """Lines the C reader leaves: a NUL in a line, a lone surrogate, no newlines."""
    for lines in (["config current", "create a", "charge a\x001"],
                  ["create a", "charge a 1", "charge a 2 # \udcff"],
                  ["create a", "charge a 1\ncharge a 2"],
                  ["charge a 1"],
                  ["create a\n", "remove a\n", "charge a 1\n"],
                  []):
        assert _outcome(lines, pymemcg, True, monkeypatch) == _outcome(lines, pymemcg, False,
                                                                       monkeypatch), lines
