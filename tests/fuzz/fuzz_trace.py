"""Fuzz the text trace format (``python -m pymemcg replay FILE``).

Arbitrary text (the input, decoded as UTF-8 with replacement characters,
split as the CLI splits it) must either run, or raise the package's error
(a MemcgError) whose message names a line of the trace; never another
exception.  The trace runs on both backends: the same exception class, or
the same printed state (``format_state``).

Half the inputs are taken as they are; the other half build lines from a
vocabulary of the format's words (commands, paths, files, options), so
that the fuzzer reaches deep traces quickly.
"""

from __future__ import annotations

import re
import traceback

import fuzzlib
from fuzzlib import Input, Violation, agree

with fuzzlib.instrumented():
    import pymemcg
    import pymemcg.model
    from pymemcg import trace

LINE_RE = re.compile(r"\bline (\d+)\b")
COMMANDS = ["config", "create", "remove", "write", "charge", "uncharge", "drain", "drain_all",
            "#", "", "CHARGE", "charge\t"]
PATHS = ["a", "a/b", "b", "/", "a/", "/a", "a//b", "..", ".", "x y", "'a'", '"a', "a\\", "é"]
CONFIG_ARGS = ["linux_3_8", "current", "current_v1", "ncpus=2", "ncpus=0", "ncpus=x",
               "charge_batch=32", "charge_batch=0x10", "stock_slots=1", "seed=-1",
               "memsw=yes", "kmem_activation=never", "limit_rounding=up", "version=3",
               "failcnt=all", "nosuch=1", "ncpus"]
FILES = ["memory.max", "memory.high", "memory.low", "memory.min", "memory.limit_in_bytes",
         "memory.kmem.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.reclaim",
         "memory.peak", "memory.oom.group", "memory.force_empty", "memory.nosuch"]
VALUES = ["64M", "max", "-1", "0", "1", "4096", "1E", "10 swappiness=60", "x", "''", "'1 2'"]
NUMBERS = ["0", "1", "7", "64", "0x10", "010", "08", "-1", "2251799813685247",
           "2251799813685248", "99999999999999999999", "x", "1e3"]
OPTIONS = ["cpu=0", "cpu=1", "cpu=-1", "cpu=x", "cpu=", "kmem", "gfp=KERNEL", "gfp=NOFAIL|KERNEL",
           "gfp=ATOMIC", "gfp=nowait", "gfp=", "gfp=BOGUS", "gfp=KERNEL||", "foo", "#x"]


def make_line(inp: Input) -> str:
    cmd = inp.pick(COMMANDS)
    words = [cmd]
    n = inp.below(5)
    if cmd == "config":
        words += [inp.pick(CONFIG_ARGS) for _ in range(n)]
    elif cmd in ("create", "remove", "drain_all"):
        words += [inp.pick(PATHS) for _ in range(min(n, 2))]
    elif cmd == "write":
        words += [inp.pick(PATHS), inp.pick(FILES)] + [inp.pick(VALUES) for _ in range(n)]
    elif cmd in ("charge", "uncharge"):
        words += [inp.pick(PATHS), inp.pick(NUMBERS)] + [inp.pick(OPTIONS) for _ in range(n)]
    elif cmd == "drain":
        words += [inp.pick(NUMBERS) for _ in range(min(n, 2))]
    if inp.below(8) == 0:  # some raw text somewhere
        words.insert(inp.below(len(words) + 1), inp.chunk(12).decode("utf-8", "replace"))
    return inp.pick([" ", "  ", "\t"]).join(words)


def make_text(inp: Input) -> str:
    if inp.flag():
        return inp.rest().decode("utf-8", "replace")
    lines = [make_line(inp) for _ in fuzzlib.iter_chunks(inp, 40)]
    return "\n".join(lines)


def run(backend: object, lines: list[str]) -> object:
    return trace.format_state(trace.run_trace(lines, backend))


def where(exc: BaseException) -> str:
    """The line of trace.py that led to ``exc`` (for --triage)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith("trace.py")]
    return f"trace.py:{frames[-1].lineno} {frames[-1].line}" if frames else "?"


def check_error(result: tuple, lines: list[str], text: str) -> None:
    if result[0] != "err":
        return
    exc = result[3]
    m = LINE_RE.search(str(exc))
    if not m or not 1 <= int(m.group(1)) <= max(len(lines), 1):
        raise Violation(f"trace error without a line number of the trace: "
                        f"{type(exc).__name__}: {exc}\ntrace: {text!r}",
                        sig=f"no line number: {type(exc).__name__} from {where(exc)}") from exc


def attempt(backend: object, lines: list[str]) -> tuple:
    try:
        return ("ok", run(backend, lines))
    except pymemcg.MemcgError as e:
        return ("err", type(e).__name__, getattr(e, "errno", None), e)
    except Exception as e:  # noqa: BLE001 - anything else is a finding
        raise Violation(f"{type(e).__name__} escaped run_trace ({e}); only pymemcg errors may",
                        sig=f"{type(e).__name__} escaped from {where(e)}") from e


def test_one_input(data: bytes) -> None:
    inp = Input(data)
    text = make_text(inp)
    lines = text.splitlines()  # as `pymemcg replay FILE` reads the file
    c = attempt(pymemcg, lines)
    m = attempt(pymemcg.model, lines)
    agree(f"trace {text!r}", c[:3], m[:3],
          sig=f"backends disagree: C {c[0]} {c[1] if c[0] == 'err' else ''}, "
              f"model {m[0]} {m[1] if m[0] == 'err' else ''}")
    check_error(c, lines, text)


if __name__ == "__main__":
    fuzzlib.main(test_one_input, max_len=2048, len_control=0, describe=lambda d: repr(make_text(Input(d))))
