"""Owned CPUs (``Hierarchy.cpu``): the contract, on both backends.

The oracle: an owned CPU's charges and uncharges must leave exactly the
state that the single calls with ``cpu=`` that CPU leave (checked against
the single calls on a twin hierarchy, and against the model); every
misuse of the contract raises the error the contract names and changes
nothing.
"""

from __future__ import annotations

import random
import threading
import time
import types
from typing import Any, Callable, List

import pytest

import pymemcg
import pymemcg.model


def _state(h: Any) -> List[Any]:
    """Everything an owned call may change: counters, stats, events, stocks."""
    out: List[Any] = []
    for cg in h.cgroups():
        out.append((cg.path, cg.memory.usage, cg.memory.watermark, cg.memory.failcnt,
                    sorted(cg.stat.items()), sorted(cg.events.items())))
    for cpu in range(h.config.ncpus):
        out.append(tuple((c.path if c is not None else None, n) for c, n in h.stock(cpu)))
    return out


def _tree(mc: types.ModuleType, **cfg: Any) -> Any:
    h = mc.Hierarchy(mc.Config.current(ncpus=2, **cfg))
    a = h.create("a")
    a.write("memory.max", str(300 * 4096))
    for name in ("b", "c"):
        a.create(name)
    return h


def test_owned_calls_equal_single_calls(backend: types.ModuleType) -> None:
    """A random mix through an owned CPU leaves the state of the same mix as
    single calls on that CPU, refusals, clamps and drains included."""
    owned, single = _tree(backend), _tree(backend)
    rng = random.Random(7)
    ops = []
    for _ in range(1500):
        r = rng.random()
        leaf = rng.choice("bc")
        nr = rng.randint(1, 80)
        kmem = rng.random() < 0.3
        ops.append(("charge" if r < 0.55 else "uncharge" if r < 0.97 else "drain",
                    leaf, nr, kmem))

    leaves_o = {n: owned[f"a/{n}"] for n in "bc"}
    leaves_s = {n: single[f"a/{n}"] for n in "bc"}

    def _apply_owned(h: Any, cpu: Any, op: str, leaf: str, nr: int, kmem: bool) -> Any:
        cg = leaves_o[leaf]
        try:
            if op == "charge":
                over = cpu.try_charge(cg, nr, kmem=kmem)
                return None if over is None else over.path
            if op == "uncharge":
                cpu.uncharge(cg, nr, kmem=kmem)
                return "ok"
            cpu.drain()
            return "drained"
        except pymemcg.UnderflowError as e:
            return ("underflow", sorted(v.cgroup.path for v in e.counters))

    def _apply_single(h: Any, op: str, leaf: str, nr: int, kmem: bool) -> Any:
        cg = leaves_s[leaf]
        try:
            if op == "charge":
                over = cg.try_charge(nr, cpu=1, kmem=kmem)
                return None if over is None else over.path
            if op == "uncharge":
                cg.uncharge(nr, cpu=1, kmem=kmem)
                return "ok"
            h.drain(1)
            return "drained"
        except pymemcg.UnderflowError as e:
            return ("underflow", sorted(v.cgroup.path for v in e.counters))

    with owned.cpu(1) as cpu:
        got = [_apply_owned(owned, cpu, *op) for op in ops]
    want = [_apply_single(single, *op) for op in ops]
    assert got == want
    assert any(r not in (None, "ok", "drained") for r in want)   # refusals or clamps happened
    assert _state(owned) == _state(single)


def test_c_and_model_agree_through_owned_cpus() -> None:
    """The same owned-CPU session on C and on the model: the same results
    and the same state after each burst, with removals between bursts."""
    hs = [_tree(pymemcg), _tree(pymemcg.model)]
    leaves = [{n: h[f"a/{n}"] for n in "bc"} for h in hs]
    rng = random.Random(3)
    for burst in range(30):
        cpu_no = rng.randrange(2)
        plan = [(rng.choice("bc"), rng.randint(1, 70), rng.random() < 0.5, rng.random() < 0.4)
                for _ in range(40)]
        outs = []
        for h, lv in zip(hs, leaves):
            with h.cpu(cpu_no) as cpu:
                out = [_owned_op(cpu, lv[leaf], nr, charge, kmem)
                       for leaf, nr, charge, kmem in plan]
            outs.append(out)
            if burst % 7 == 6:
                # Between bursts: a cgroup made, charged and removed (frees).
                t = h["a"].create(f"t{burst}")
                t.try_charge(5, cpu=1 - cpu_no)
                t.uncharge(5, cpu=1 - cpu_no)
                t.remove()
        assert outs[0] == outs[1]
        assert _state(hs[0]) == _state(hs[1])


def _owned_op(cpu: Any, cg: Any, nr: int, charge: bool, kmem: bool) -> Any:
    try:
        if charge:
            over = cpu.try_charge(cg, nr, kmem=kmem)
            return None if over is None else over.path
        cpu.uncharge(cg, nr, kmem=kmem)
        return "ok"
    except pymemcg.UnderflowError as e:
        return ("underflow", sorted(v.cgroup.path for v in e.counters))


def _raises(fn: Callable[[], Any], exc: type) -> BaseException:
    with pytest.raises(exc) as info:
        fn()
    return info.value


def test_misuse_is_refused_and_changes_nothing(backend: types.ModuleType) -> None:
    h = _tree(backend)
    b = h["a/b"]
    b.try_charge(3, cpu=0)
    before = _state(h)
    with h.cpu(0) as cpu:
        assert cpu.owned and cpu.cpu == 0 and cpu.hierarchy is h
        # Anything else of the hierarchy from the owning thread: EDEADLK.
        for call in (lambda: b.try_charge(1, cpu=1), lambda: h.drain_all(),
                     lambda: h.drain(1), lambda: h.cgroups(), lambda: b.stat,
                     lambda: h["a"].create("x"), lambda: b.memory.usage,
                     lambda: h.replay(pymemcg.pack_ops([]))):
            e = _raises(call, backend.DeadlockError)
            assert e.errno == 35 and isinstance(e, OSError)
        # A second CPU of the same hierarchy: EDEADLK; the same CPU: too.
        assert _raises(lambda: h.cpu(1), backend.DeadlockError).errno == 35
        assert _raises(lambda: h.cpu(0), backend.DeadlockError).errno == 35
        # Close while owned: EBUSY, nothing closed.
        assert _raises(h.close, backend.BusyError).errno == 16
        # Another thread: the token is not its (EPERM); it may not take the CPU (EBUSY).
        errs: List[BaseException] = []

        def other() -> None:
            for call in (lambda: cpu.try_charge(b, 1), lambda: cpu.release(),
                         lambda: cpu.uncharge(b, 1), lambda: h.cpu(0)):
                try:
                    call()
                except BaseException as exc:  # noqa: BLE001 - collected, checked below
                    errs.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert [type(e) for e in errs] == [backend.NotOwnerError] * 3 + [backend.BusyError]
        assert all(isinstance(e, PermissionError) for e in errs[:3])
        # Bad arguments, as the single calls refuse them.
        _raises(lambda: cpu.try_charge(b, -1), backend.InvalidError)
        _raises(lambda: cpu.try_charge(b, 1, flags=1 << 20), backend.InvalidError)
        _raises(lambda: cpu.try_charge("a/b", 1), backend.InvalidTypeError)
        other_h = _tree(backend)
        _raises(lambda: cpu.try_charge(other_h["a/b"], 1), backend.InvalidError)
        other_h.close()
    assert not cpu.owned
    assert _state(h) == before
    # After release: stale.
    for call in (lambda: cpu.try_charge(b, 1), lambda: cpu.uncharge(b, 1), cpu.drain,
                 cpu.release):
        _raises(call, backend.StaleHandleError)
    # Everything works again.
    assert b.try_charge(1, cpu=0) is None
    b.uncharge(4, cpu=0)
    h.close()
    _raises(lambda: h.cpu(0), backend.StaleHandleError)
    _raises(lambda: h.cpu(5), backend.InvalidError)


def test_refused_charge_names_the_cgroup_and_underflow(backend: types.ModuleType) -> None:
    """Worked by hand: a/ max 300 pages, batch 64 on current.  Charging 290
    on b (one walk of 290: no batch for a charge that big) fits; 20 more is
    a refusal by a (300 < 310, no reclaim hook frees anything); uncharging
    300 from c clamps c, a and the root."""
    h = _tree(backend)
    b, c, a = h["a/b"], h["a/c"], h["a"]
    with h.cpu(1) as cpu:
        assert cpu.try_charge(b, 290) is None
        over = cpu.try_charge(b, 20, flags=pymemcg.GFP_NOWAIT)
        assert over is not None and over.path == "a"
        with pytest.raises(backend.UnderflowError) as info:
            cpu.uncharge(c, 300)
        assert sorted(v.cgroup.path for v in info.value.counters) == ["", "a", "a/c"]
    assert b.memory.usage == 290 and a.memory.usage == 0
    h.close()


def test_stale_cgroup_through_an_owned_cpu(backend: types.ModuleType) -> None:
    h = _tree(backend)
    b = h["a/b"]
    b.remove()
    with h.cpu(0) as cpu:
        _raises(lambda: cpu.try_charge(b, 1), backend.StaleHandleError)
    h.close()


def test_reclaim_hook_during_an_owned_charge(backend: types.ModuleType) -> None:
    """A charge the stock cannot serve lets the CPU go for its slow part: the
    hook may call anything of the hierarchy, except the owned CPU itself."""
    seen: List[Any] = []
    h = _tree(backend)
    b = h["a/b"]
    holder: List[Any] = []

    def hook(cg: Any, nr: int) -> int:
        seen.append(h["a"].memory.usage)          # allowed: the CPU was let go
        try:
            holder[0].try_charge(b, 1)
        except backend.DeadlockError:
            seen.append("EDEADLK")
        b.uncharge(50, cpu=1)
        return 50

    h.reclaim = hook
    with h.cpu(0) as cpu:
        holder.append(cpu)
        assert cpu.try_charge(b, 280) is None
        assert cpu.try_charge(b, 40) is None          # over 300: reclaim frees 50
    assert seen == [280, "EDEADLK"]
    assert b.memory.usage == 280 + 40 - 50
    h.close()


def test_a_thread_that_ends_owning_gives_the_cpu_back(backend: types.ModuleType) -> None:
    h = _tree(backend)
    keep: List[Any] = []
    t = threading.Thread(target=lambda: keep.append(h.cpu(1)))
    t.start()
    t.join()
    # C: the CPU goes back as the OS thread exits, which may be a moment
    # after Thread.join returned (Python releases join before the thread's
    # pthread key destructors run).
    deadline = time.monotonic() + 5
    while True:
        try:
            cpu = h.cpu(1)
            break
        except backend.BusyError:
            assert time.monotonic() < deadline, "the ended thread's CPU never came back"
            time.sleep(0.001)
    with cpu:
        assert cpu.owned
    _raises(lambda: keep[0].try_charge(h["a/b"], 1), backend.StaleHandleError)
    h.close()


def test_owners_race_drains_and_frees() -> None:
    """Four threads own their CPU in bursts while another drains, charges
    single calls on their CPUs and removes cgroups (C core: each of those
    waits for the releases).  Every ledger balances at the end."""
    h = pymemcg.Hierarchy(pymemcg.Config.current(ncpus=4))
    a = h.create("a")
    leaves = [a.create(f"l{i}") for i in range(4)]
    stop = threading.Event()
    errors: List[BaseException] = []
    held = [0] * 4

    def owner(i: int) -> None:
        rng = random.Random(i)
        try:
            for _ in range(60):
                while True:
                    try:
                        cpu = h.cpu(i)
                        break
                    except pymemcg.BusyError:
                        pass
                with cpu:
                    for _ in range(50):
                        if held[i] and rng.random() < 0.45:
                            n = rng.randint(1, held[i])
                            cpu.uncharge(leaves[i], n)
                            held[i] -= n
                        else:
                            n = rng.randint(1, 9)
                            if cpu.try_charge(leaves[i], n) is None:
                                held[i] += n
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    def disturber() -> None:
        n = 0
        try:
            while not stop.is_set():
                h.drain_all()
                t = a.create(f"d{n}")
                t.try_charge(2, cpu=n % 4)
                t.uncharge(2, cpu=n % 4)
                t.remove()
                n += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=owner, args=(i,)) for i in range(4)]
    d = threading.Thread(target=disturber)
    d.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    d.join()
    assert not errors, errors
    h.drain_all()
    # The ledgers: each leaf holds exactly what its owner charged and kept.
    assert [leaf.memory.usage for leaf in leaves] == held
    for leaf, n in zip(leaves, held):
        if n:
            leaf.uncharge(n, cpu=0)
    h.drain_all()
    assert a.memory.usage == 0 and h.root.memory.usage == 0
    assert [c.path for c in h.cgroups() if not c.online] == []
    h.close()
