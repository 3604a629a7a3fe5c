"""Shared runner of the fuzz harnesses in this directory (see README.md).

Each harness (``fuzz_*.py``) defines ``test_one_input(data: bytes)`` that
raises on a property violation, and ends with ``fuzzlib.main(test_one_input)``.
The body never depends on atheris: it reads its input through :class:`Input`,
a tiny deterministic byte reader, so the same body runs under

* ``atheris`` (libFuzzer, coverage-guided; the pymemcg package is
  instrumented, the C core is not), the engine of ``make fuzz``, and
* ``hypothesis`` (``st.binary()`` plus the checked-in seeds), the fallback
  where atheris cannot be installed, so the properties are still exercised.

Command line (unknown ``-flags`` go to libFuzzer untouched)::

    python tests/fuzz/fuzz_memparse.py [--engine auto|atheris|hypothesis]
        [--runs N] [--seconds S] [--workdir DIR] [--no-seeds]
        [--triage N] [libFuzzer flags] [CRASH_FILE ...]

``--runs``/``--seconds`` bound the run (libFuzzer ``-runs``/``-max_total_time``).
New corpus entries and crash artifacts go to ``--workdir`` (a fresh temporary
directory by default), never into the checked-in seed directory
``corpus/<harness>/``.  Files given as arguments are run once each (how a
crash is reproduced, with either engine).  ``--triage N`` runs N inputs
without stopping at the first violation and prints one reproducer per
distinct violation (for bug reports).
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import hashlib
import os
import shlex
import sys
import tempfile
import time
import traceback
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "corpus")

try:  # atheris is optional: pip install '.[fuzz]'
    import atheris  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the machine
    atheris = None

# Everything the package imports, imported before instrumentation starts so
# that only pymemcg itself is instrumented (instrumenting numpy takes ~10 s).
try:
    import numpy  # noqa: F401
except ImportError:  # pragma: no cover
    pass


class Violation(AssertionError):
    """A property the harness checks does not hold (a finding).  ``sig``
    names the kind of finding for ``--triage`` (default: where it was
    raised and the start of the message)."""

    def __init__(self, message: str, sig: Optional[str] = None) -> None:
        super().__init__(message)
        self.sig = sig


def _engine_from_argv(argv: Sequence[str]) -> str:
    """The engine this process runs: decided before the harness imports
    pymemcg, because instrumentation has to wrap those imports."""
    engine = os.environ.get("PYMEMCG_FUZZ_ENGINE", "auto")
    for i, a in enumerate(argv):
        if a.startswith("--engine="):
            engine = a.split("=", 1)[1]
        elif a == "--engine" and i + 1 < len(argv):
            engine = argv[i + 1]
    if engine == "auto":
        engine = "atheris" if atheris is not None else "hypothesis"
    if any(a == "--triage" or a.startswith("--triage=") for a in argv) or any(
            not a.startswith("-") and os.path.isfile(a) for a in argv[1:]):
        engine = "plain"  # triage, or reproducing files: no fuzzing engine
    return engine


ENGINE = _engine_from_argv(sys.argv)


def instrumented() -> Any:
    """Context manager for the harness' imports of pymemcg: atheris
    instruments them for coverage feedback when atheris runs the show."""
    if atheris is not None and ENGINE == "atheris":
        return atheris.instrument_imports(include=["pymemcg"])
    return contextlib.nullcontext()


# ---------------------------------------------------------------------------
# reading structured values from the fuzzer's bytes


class Input:
    """A deterministic reader over the fuzzer's bytes: every read succeeds
    (zeros once the bytes run out), so every byte string is a valid input."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.pos = 0

    def __len__(self) -> int:
        return len(self.data) - self.pos

    @property
    def exhausted(self) -> bool:
        return self.pos >= len(self.data)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        b = self.data[self.pos]
        self.pos += 1
        return b

    def bytes(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def rest(self) -> bytes:
        return self.bytes(len(self.data))

    def uint(self, nbytes: int) -> int:
        return int.from_bytes(self.bytes(nbytes).ljust(nbytes, b"\0"), "little")

    def sint(self, nbytes: int) -> int:
        return int.from_bytes(self.bytes(nbytes).ljust(nbytes, b"\0"), "little", signed=True)

    def below(self, n: int) -> int:
        """An int in 0..n-1."""
        if n <= 1:
            return 0
        return (self.byte() if n <= 256 else self.uint(2)) % n

    def pick(self, seq: Sequence[Any]) -> Any:
        return seq[self.below(len(seq))]

    def flag(self) -> bool:
        return bool(self.byte() & 1)

    def chunk(self, limit: int = 64) -> bytes:
        """A length-prefixed byte string of at most ``limit`` bytes."""
        return self.bytes(self.below(limit + 1))


# ---------------------------------------------------------------------------
# comparing two backends


def outcome(fn: Callable[..., Any], *args: Any, allowed: Tuple[type, ...] = (),
            what: str = "", **kwargs: Any) -> Tuple[Any, ...]:
    """``("ok", value)`` or ``("err", class name, errno)``.  An exception that
    is not an instance of ``allowed`` is a :class:`Violation` (chained)."""
    try:
        return ("ok", fn(*args, **kwargs))
    except allowed as e:
        return ("err", type(e).__name__, getattr(e, "errno", None))
    except Violation:
        raise
    except Exception as e:  # noqa: BLE001 - anything else is a finding
        raise Violation(f"{what or getattr(fn, '__qualname__', fn)}: "
                        f"{type(e).__name__} escaped ({e!r}); only "
                        f"{', '.join(c.__name__ for c in allowed)} may") from e


def agree(what: str, c: Any, model: Any, sig: Optional[str] = None) -> None:
    if c != model:
        raise Violation(f"{what}: the C core and the model disagree:\n"
                        f"  C:     {c!r}\n  model: {model!r}", sig)


def cgroup_state(cg: Any, counters: Sequence[str]) -> Tuple[Any, ...]:
    """One cgroup, backend-neutral: no handles (they differ between
    hierarchies), no Python objects."""
    return (cg.path, cg.id, cg.online,
            tuple(getattr(cg, name).snapshot() for name in counters),
            cg.stat, cg.events, cg.events_local)


def state(h: Any) -> List[Any]:
    """Every cgroup (online and dying, in creation order) and every stock
    slot, through the public API of either backend."""
    counters = h.config.counters
    tree = [cgroup_state(cg, counters) for cg in h.cgroups()]
    stocks = [tuple((c.path if c is not None else None, n) for c, n in h.stock(cpu))
              for cpu in range(h.config.ncpus)]
    return [tree, stocks]


def free_from_ledger(h: Any, ledger: Dict[str, int], path: str, nr_pages: int,
                     errors: Tuple[type, ...]) -> int:
    """A deterministic reclaim hook's work: uncharge pages the harness charged
    (``ledger``: path -> pages) below ``path``; return the pages uncharged.

    It frees at least ``nr_pages`` when it can, and half of what it holds
    below ``path`` when that is more: reclaim that frees exactly what is asked
    keeps the kernel's charge loop retrying once per call (it retries while
    reclaim makes progress), and after a forced charge of 2**32 pages over a
    limit of 16 that is ~600 million hook calls: a hang of the harness, not
    of the library.  ``errors``: uncharge errors that skip a path (removed).
    """
    from pymemcg import UnderflowError  # imported (and instrumented) by the harness already

    below = sorted(p for p in ledger if not path or p == path or p.startswith(path + "/"))
    want = max(nr_pages, sum(ledger[p] for p in below) // 2)
    freed = 0
    for p in below:
        k = min(ledger[p], want - freed)
        if k <= 0:
            continue
        try:
            h[p].uncharge(k)
        except UnderflowError:
            pass  # clamped: the pages are gone all the same
        except errors:
            continue
        ledger[p] -= k
        freed += k
    return freed


# ---------------------------------------------------------------------------
# engines


def _seed_files(name: str) -> List[str]:
    d = os.path.join(SEEDS, name)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d) if not f.startswith("."))


def _run_files(test_one_input: Callable[[bytes], None], files: Sequence[str]) -> int:
    failed = 0
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        try:
            test_one_input(data)
        except Exception:  # noqa: BLE001
            failed += 1
            print(f"=== {path}: violation ===", file=sys.stderr)
            traceback.print_exc()
        else:
            print(f"{path}: ok ({len(data)} bytes)")
    return 1 if failed else 0


def _save(workdir: str, data: bytes, prefix: str = "crash-") -> str:
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, prefix + hashlib.sha1(data).hexdigest())
    with open(path, "wb") as f:
        f.write(data)
    return path


def _hypothesis(name: str, test_one_input: Callable[[bytes], None], runs: int,
                seconds: float, workdir: str, seeds: bool, max_len: int) -> int:
    from hypothesis import HealthCheck, Phase, example, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    start = time.monotonic()
    count = [0]
    failing: List[bytes] = []
    last = os.path.join(workdir, "last-input")  # what ran when a native crash hit

    def body(data: bytes) -> None:
        if seconds and time.monotonic() - start > seconds:
            return  # out of time: let Hypothesis wind down
        count[0] += 1
        with open(last, "wb") as f:
            f.write(data)
        try:
            test_one_input(data)
        except Exception:
            failing.append(data)
            raise

    test = given(st.binary(max_size=max_len))(body)
    if seeds:
        for path in _seed_files(name):
            with open(path, "rb") as f:
                test = example(f.read())(test)
    if os.environ.get("PYMEMCG_FUZZ_SEED"):  # deterministic, as libFuzzer's -seed=N
        test = hypothesis_seed(int(os.environ["PYMEMCG_FUZZ_SEED"]))(test)
    test = settings(max_examples=runs, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate, Phase.shrink],
                    suppress_health_check=list(HealthCheck))(test)
    print(f"{name}: hypothesis engine, up to {runs} examples", flush=True)
    try:
        test()
    except Exception:
        traceback.print_exc()
        if failing:
            data = failing[-1]  # Hypothesis runs the shrunk example last
            print(f"{name}: VIOLATION; reproducer ({len(data)} bytes) saved to "
                  f"{_save(workdir, data)}: {data!r}", file=sys.stderr)
        print(f"Done {count[0]} runs in {time.monotonic() - start:.0f} second(s) (hypothesis)")
        return 1
    print(f"Done {count[0]} runs in {time.monotonic() - start:.0f} second(s) (hypothesis)")
    return 0


def _signature(exc: BaseException) -> str:
    """Where a violation comes from: the exception class and the innermost
    frame in pymemcg (or the harness), with the message's first words."""
    if isinstance(exc, Violation) and exc.sig:
        return exc.sig
    root: BaseException = exc
    while root.__cause__ is not None:
        root = root.__cause__
    frames = traceback.extract_tb(root.__traceback__)
    where = ""
    for fr in reversed(frames):
        if "pymemcg" in fr.filename or "fuzz" in fr.filename:
            where = f"{os.path.basename(fr.filename)}:{fr.lineno}"
            break
    first = str(exc).split(":", 1)[0][:80]
    return f"{type(root).__name__} at {where} [{first}]"


def _triage(name: str, test_one_input: Callable[[bytes], None], runs: int,
            workdir: str, max_len: int, describe: Optional[Callable[[bytes], str]]) -> int:
    """Run ``runs`` inputs (the seeds, then random and mutated bytes) and keep
    the shortest input per distinct violation."""
    import random

    rng = random.Random(int(os.environ.get("PYMEMCG_FUZZ_SEED", "0")))
    pool: List[bytes] = []
    for path in _seed_files(name):
        with open(path, "rb") as f:
            pool.append(f.read())
    found: Dict[str, Tuple[bytes, str]] = {}
    last = os.path.join(workdir, "last-input")  # what ran when a native crash hit
    print(f"{name}: triage; the input being run is kept in {last}", flush=True)
    for i in range(runs):
        if i < len(pool):
            data = pool[i]
        elif pool and rng.random() < 0.7:
            data = bytearray(rng.choice(pool))
            for _ in range(rng.randint(1, 8)):
                k = rng.randrange(4)
                if k == 0 or not data:
                    data.insert(rng.randint(0, len(data)), rng.randrange(256))
                elif k == 1:
                    data[rng.randrange(len(data))] = rng.randrange(256)
                elif k == 2:
                    del data[rng.randrange(len(data))]
                else:
                    j = rng.randrange(len(data))
                    data[j:j] = data[j:j + rng.randint(1, 16)]
            data = bytes(data[:max_len])
        else:
            data = rng.randbytes(rng.randint(0, min(max_len, 256)))
        with open(last, "wb") as f:
            f.write(data)
        try:
            test_one_input(data)
        except Exception as e:  # noqa: BLE001
            sig = _signature(e)
            if sig not in found or len(data) < len(found[sig][0]):
                found[sig] = (data, "".join(traceback.format_exception(e)))
        else:
            if len(pool) < 2000 and rng.random() < 0.05:
                pool.append(data)
    print(f"{name}: triage of {runs} inputs: {len(found)} distinct violation(s)")
    for sig, (data, tb) in sorted(found.items()):
        print(f"\n--- {sig}\n    reproducer ({len(data)} bytes): {data!r}\n"
              f"    saved: {_save(workdir, data, 'triage-')}")
        if describe is not None:
            print(f"    input as the harness reads it: {describe(data)}")
        print("    " + tb.strip().replace("\n", "\n    "))
    return 1 if found else 0


def main(test_one_input: Callable[[bytes], None], max_len: int = 1024,
         describe: Optional[Callable[[bytes], str]] = None,
         len_control: Optional[int] = None) -> None:
    """The command line of a harness (see the module docstring).  ``max_len``
    and ``len_control`` are libFuzzer defaults: structured harnesses pass
    ``len_control=0`` (long inputs at once: an operation takes several bytes,
    and libFuzzer's slow growth of lengths keeps a short run shallow)."""
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    p = argparse.ArgumentParser(prog=name, allow_abbrev=False)
    p.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto",
                   help="default: $PYMEMCG_FUZZ_ENGINE, else atheris if installed")
    p.add_argument("--runs", type=int, default=0, help="executions (0: no limit)")
    p.add_argument("--seconds", type=float, default=0, help="time budget (0: no limit)")
    p.add_argument("--workdir", default="", help="corpus and crash artifacts")
    p.add_argument("--no-seeds", action="store_true", help="ignore corpus/<harness>/")
    p.add_argument("--triage", type=int, default=0, metavar="N")
    p.add_argument("--max-len", type=int, default=max_len)
    args, rest = p.parse_known_args()
    files = [a for a in rest if not a.startswith("-") and os.path.isfile(a)]
    flags = [a for a in rest if a not in files]
    faulthandler.enable()
    if files:
        sys.exit(_run_files(test_one_input, files))
    workdir = args.workdir or tempfile.mkdtemp(prefix=f"pymemcg-{name}-")
    os.makedirs(workdir, exist_ok=True)
    if args.triage:
        sys.exit(_triage(name, test_one_input, args.triage, workdir, args.max_len, describe))
    engine = ENGINE
    if engine == "atheris" and atheris is None:
        sys.exit(f"{name}: atheris is not installed (pip install '.[fuzz]')")
    if engine == "hypothesis":
        runs = args.runs or 10**9
        sys.exit(_hypothesis(name, test_one_input, runs, args.seconds, workdir,
                             not args.no_seeds, args.max_len))
    corpus = os.path.join(workdir, "corpus")
    os.makedirs(corpus, exist_ok=True)
    # libFuzzer runs argv[0] through the shell for -merge=1 and -fork=N: make it a command.
    argv0 = f"{shlex.quote(sys.executable)} {shlex.quote(os.path.abspath(sys.argv[0]))}"
    argv = [argv0, f"-artifact_prefix={workdir}/", "-print_final_stats=1"]
    if not any(f.startswith("-timeout=") for f in flags):
        argv.append("-timeout=30")  # an input that runs this long is a hang: a finding
    if not any(f.startswith("-max_len=") for f in flags):
        argv.append(f"-max_len={args.max_len}")
    if len_control is not None and not any(f.startswith("-len_control=") for f in flags):
        argv.append(f"-len_control={len_control}")
    if args.runs:
        argv.append(f"-runs={args.runs}")
    if args.seconds:
        argv.append(f"-max_total_time={max(1, int(args.seconds))}")
    argv += flags + [corpus]
    if not args.no_seeds and os.path.isdir(os.path.join(SEEDS, name)):
        argv.append(os.path.join(SEEDS, name))
    print(f"{name}: atheris {getattr(atheris, '__version__', '')}".rstrip() +
          f", corpus and artifacts in {workdir}", flush=True)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


def iter_chunks(inp: Input, limit: int) -> Iterator[int]:
    """Step numbers while the input lasts (at most ``limit``)."""
    for i in range(limit):
        if inp.exhausted:
            return
        yield i
