"""The page-counter comparison machine: two backends' ``PageCounter`` trees
through the same random steps (see :mod:`pymemcg.testing`)."""

from __future__ import annotations

import errno
import importlib
import time
import types

from typing import Any, Callable, Sequence
from hypothesis import settings, strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)
from .._common import PAGE_COUNTER_MAX, U64_MASK
from ..errors import (
    BusyError,
    InvalidError,
    InvalidTypeError,
    MemcgError,
    UnderflowError,
)

from .common import (
    STEP_COUNT,
    FAIL_AT_ANCESTOR,
    UNDERFLOW_CLAMP,
    SET_MAX_EBUSY,
    EP_OVERCOMMITTED,
    EP_RECURSIVE,
    WATERMARK_LEFT_BEHIND,
    CHARGE_TO_MAX,
    FORCED_OVER_MAX,
    FIELDS,
    _LONG_MIN_AS_U64,
    record_edge,
    _clamp_count,
    page_counts,
    counter_limits,
    _show,
)

# --------------------------------------------------------------------------
# The differential state machine
# --------------------------------------------------------------------------


class _DefaultBackend:
    """Class attribute that imports its module on first use, so that
    importing this module needs neither backend to be importable."""

    def __init__(self, module_name: str) -> None:
        self.module_name = module_name

    def __get__(self, obj: object, owner: type | None = None) -> types.ModuleType:
        return importlib.import_module(self.module_name)


IMPL, ORACLE = 0, 1
_SIDE_NAMES = ("impl", "oracle")

_COUNT_METHODS = ("charge", "try_charge", "uncharge", "set_max", "set_min", "set_low", "set_high")


class _Index:
    """Not an int, but a count all the same: check_count() takes anything
    with ``__index__`` (numpy integers are the common case)."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"_Index({self.value})"


class _IntSubclass(int):
    pass


def _count_styles() -> tuple[Callable[[int], Any], ...]:
    styles: list[Callable[[int], Any]] = [_Index, _IntSubclass]
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy is optional
        pass
    else:
        styles += [numpy.int64, numpy.uint64]
    return tuple(styles)


#: Invalid values for a count argument: an error, and no state change.
_BAD_COUNTS: tuple[Any, ...] = (
    -1,
    -(2**63),
    PAGE_COUNTER_MAX + 1,
    2**63,
    2**64,
    2**64 + 3,
    True,
    False,
    1.0,
    0.0,
    "1",
    None,
    b"1",
    _Index(-1),
    _Index(PAGE_COUNTER_MAX + 1),
    _IntSubclass(-1),
    _IntSubclass(2**64),
)


def _state_of(counter: Any) -> dict[str, int]:
    snap = counter.snapshot()
    return {name: getattr(snap, name) for name in FIELDS}


class PageCounterComparison(RuleBasedStateMachine):
    """Drive ``impl`` and ``oracle`` (two backend modules) through the same
    steps on the same random forest of counters; they must agree exactly.

    Node ``i`` is a counter in each backend; results and exceptions are
    compared with counters mapped to node indices.  After every step the
    snapshots of all nodes are compared field by field, then the kernel's
    invariants are checked on the oracle's state (equal to the impl's):

    * ``usage <= local_watermark <= watermark``;
    * ``failcnt`` never decreases;
    * ``usage <= max`` unless a forced :meth:`charge` went through this
      counter since it last fitted (``set_max`` cannot break it: EBUSY);
    * ``usage == direct + sum(children's usage)`` (so a parent's usage is
      at least its children's, unless past 2**64), where ``direct`` is
      what was charged to this very counter, as long as no uncharge
      through it was clamped and it was never uncharged by more than was
      charged to it directly;
    * ``children_min_usage == sum(children's min_usage)`` (same for low),
      ``min_usage <= min``, ``low_usage <= low``, and a root's
      ``min_usage``, ``low_usage``, ``emin`` and ``elow`` stay 0.

    Subclass it (or use :func:`make_comparison_machine`) to pick backends.
    """

    impl: Any = _DefaultBackend("pymemcg")
    oracle: Any = _DefaultBackend("pymemcg.model")
    #: Largest forest (node count) and deepest node (``depth``, 0 = root).
    MAX_NODES = 12
    MAX_DEPTH = 5

    nodes = Bundle("nodes")

    def __init__(self) -> None:
        super().__init__()
        cls = type(self)
        self.backends = (cls.impl, cls.oracle)
        self.counters: tuple[list[Any], list[Any]] = ([], [])
        self.index_of: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.parent_of: list[int | None] = []
        self.children: list[list[int]] = []
        self.depth: list[int] = []
        # Invariant bookkeeping (see the class docstring).
        self.direct: list[int] = []
        self.sum_ok: list[bool] = []
        self.forced_since_fit: list[bool] = []
        self.last_failcnt: list[int] = []

    # ---------------------------------------------------------------- helpers

    def _step(self, name: str) -> None:
        STEP_COUNT["total"] += 1
        STEP_COUNT[name] += 1

    def _path(self, i: int) -> list[int]:
        """Node ``i`` and its ancestors, leaf first."""
        path = [i]
        p = self.parent_of[i]
        while p is not None:
            path.append(p)
            p = self.parent_of[p]
        return path

    def _subtree_top_down(self, r: int) -> list[int]:
        order = [r]
        for i in order:  # breadth first: every parent before its children
            order.extend(self.children[i])
        return order

    def _ostate(self, i: int) -> dict[str, int]:
        return _state_of(self.counters[ORACLE][i])

    def _check_propagated(
        self, what: str, i: int, before: dict[str, int], after: dict[str, int], usage: int | None
    ) -> None:
        """Kernel rule for propagate_protected_usage(): node ``i``'s claimed
        protection is ``min(usage, min)`` / ``min(usage, low)`` if the step
        propagated it with ``usage`` (never for a root), else unchanged."""
        if usage is None or self.parent_of[i] is None:
            want = (before["min_usage"], before["low_usage"])
        else:
            want = (min(usage, after["min"]), min(usage, after["low"]))
        got = (after["min_usage"], after["low_usage"])
        assert got == want, f"{what}: node {i} (min_usage, low_usage) = {got}, kernel gives {want}"

    def _count_arg(self, data: st.DataObject, n: int) -> Any:
        """``n`` as an int most of the time, else as another integer type
        (an ``__index__`` object, an int subclass, a numpy integer)."""
        if data.draw(st.integers(0, 7), label="count is not an int") != 0:
            return n
        styles = _count_styles()
        arg = styles[data.draw(st.integers(0, len(styles) - 1), label="count type")](n)
        record_edge("count given as " + type(arg).__name__)
        return arg

    def _name(self, side: int, obj: Any) -> Any:
        """A counter of ``side`` as its node index (else a description)."""
        i = self.index_of[side].get(id(obj))
        if i is not None and self.counters[side][i] is obj:
            return ("node", i)
        return ("foreign object", type(obj).__name__)

    def _normalize(self, side: int, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, tuple):
            return tuple(self._normalize(side, v) for v in value)
        return self._name(side, value)

    def _outcome(self, side: int, call: Callable[[Any, Sequence[Any]], Any]) -> tuple[Any, ...]:
        """Run ``call(backend_module, counters)`` on one side; return a
        comparable (result, exception) description."""
        try:
            result = call(self.backends[side], self.counters[side])
        except MemcgError as e:
            detail: Any = None
            if isinstance(e, UnderflowError):
                detail = (tuple(self._name(side, c) for c in e.counters), e.nr_pages)
            elif isinstance(e, OSError):
                detail = e.errno
            return ("raised", type(e), detail)
        return ("returned", self._normalize(side, result))

    def _both(self, what: str, call: Callable[[Any, Sequence[Any]], Any]) -> tuple[Any, ...]:
        """Run ``call`` on both sides; assert the outcomes agree; return it."""
        got = self._outcome(IMPL, call)
        want = self._outcome(ORACLE, call)
        if got != want:
            raise AssertionError(f"{what}: impl {_show(got)} but oracle {_show(want)}")
        return want

    # ---------------------------------------------------------------- tree

    def _add(
        self, parent: int | None, max_: int, track_failcnt: bool, protection: bool, by_keyword: bool
    ) -> int:
        i = len(self.parent_of)
        if by_keyword:
            kwargs: dict[str, Any] = {"track_failcnt": track_failcnt, "protection": protection}
            if max_ != PAGE_COUNTER_MAX:
                kwargs["max"] = max_
            made = [
                m.PageCounter(None if parent is None else cs[parent], **kwargs)
                for m, cs in zip(self.backends, self.counters)
            ]
        else:
            made = [
                m.PageCounter(
                    None if parent is None else cs[parent], max_, track_failcnt, protection
                )
                for m, cs in zip(self.backends, self.counters)
            ]
        for side, c in enumerate(made):
            self.counters[side].append(c)
            self.index_of[side][id(c)] = i
        self.parent_of.append(parent)
        self.children.append([])
        self.depth.append(0 if parent is None else self.depth[parent] + 1)
        if parent is not None:
            self.children[parent].append(i)
        self.direct.append(0)
        self.sum_ok.append(True)
        self.forced_since_fit.append(False)
        self.last_failcnt.append(0)
        return i

    @initialize(
        target=nodes,
        shape=st.lists(
            st.tuples(
                st.sampled_from(("deeper", "deeper", "sibling", "any", "root")),
                st.integers(0, 2**16),
                counter_limits(),
                st.booleans(),
                st.booleans(),
                st.tuples(st.integers(0, 12), st.integers(0, 12), st.integers(0, 12)),
            ),
            min_size=1,
            max_size=8,
        ),
    )
    def initial_tree(
        self, shape: list[tuple[str, int, int, bool, bool, tuple[int, int, int]]]
    ) -> Any:
        """Start from a random forest, mostly deep chains with side branches,
        each new counter given a few pages (a forced charge) and a min and a
        low, so that every step can reach ancestors, siblings and protection
        from the start."""
        made: list[int] = []
        for how, pick, max_, track_failcnt, protection, (pages, min_, low) in shape:
            parent: int | None
            if not made or how == "root":
                parent = None
            elif how == "deeper":
                parent = made[-1]
            elif how == "sibling":
                parent = self.parent_of[made[-1]]
            else:
                parent = made[pick % len(made)]
            while parent is not None and self.depth[parent] >= self.MAX_DEPTH:
                parent = self.parent_of[parent]
            i = self._add(parent, max_, track_failcnt, protection, by_keyword=False)
            made.append(i)
            if pages:
                self._charge(i, pages)
            self._both(f"node {i}.set_min({min_})", lambda m, cs: cs[i].set_min(min_))
            self._both(f"node {i}.set_low({low})", lambda m, cs: cs[i].set_low(low))
        return multiple(*made)

    @precondition(lambda self: len(self.parent_of) < self.MAX_NODES)
    @rule(
        target=nodes,
        parent=st.one_of(st.none(), nodes, nodes, nodes, nodes),
        max_=counter_limits(),
        track_failcnt=st.booleans(),
        protection=st.booleans(),
        by_keyword=st.booleans(),
    )
    def add_counter(
        self, parent: int | None, max_: int, track_failcnt: bool, protection: bool, by_keyword: bool
    ) -> int:
        self._step("add_counter")
        while parent is not None and self.depth[parent] >= self.MAX_DEPTH:
            parent = self.parent_of[parent]
        i = self._add(parent, max_, track_failcnt, protection, by_keyword)
        want = {
            "parent": None if parent is None else ("node", parent),
            "depth": self.depth[i],
            "track_failcnt": bool(track_failcnt),
            "protection": bool(protection),
        }
        for side in (IMPL, ORACLE):
            c = self.counters[side][i]
            got = {
                "parent": None if c.parent is None else self._name(side, c.parent),
                "depth": c.depth,
                "track_failcnt": c.track_failcnt,
                "protection": c.protection,
            }
            assert got == want, f"new counter on {_SIDE_NAMES[side]}: {got} != {want}"
            state = _state_of(c)
            fresh = dict.fromkeys(FIELDS, 0)
            fresh.update(max=max_, high=PAGE_COUNTER_MAX)
            assert state == fresh, f"new counter on {_SIDE_NAMES[side]}: {state} != {fresh}"
        return i

    # ---------------------------------------------------------------- charging

    def _headrooms(self, path: list[int], states: list[dict[str, int]]) -> list[int]:
        out = []
        for s in states:
            out += [s["usage"], s["max"]]
            if s["max"] >= s["usage"]:
                out.append(s["max"] - s["usage"])
        return out

    @rule(node=nodes, data=st.data())
    def charge(self, node: int, data: st.DataObject) -> None:
        self._step("charge")
        path = self._path(node)
        pre = [self._ostate(i) for i in path]
        n = data.draw(page_counts(self._headrooms(path, pre)), label="nr_pages")
        self._charge(node, n, self._count_arg(data, n))

    def _charge(self, node: int, n: int, arg: Any = None) -> None:
        arg = n if arg is None else arg
        path = self._path(node)
        pre = [self._ostate(i) for i in path]
        self._both(f"node {node}.charge({arg!r})", lambda m, cs: cs[node].charge(arg))
        post = [self._ostate(i) for i in path]
        prot = self.counters[ORACLE][node].protection
        for i, b, a in zip(path, pre, post):
            assert a["usage"] == (b["usage"] + n) & U64_MASK, f"charge({n}) did not add at node {i}"
            self._check_propagated(
                f"node {node}.charge({n})", i, b, a, a["usage"] if prot else None
            )
            self.forced_since_fit[i] = True
        if any(a["usage"] > a["max"] for a in post):
            record_edge(FORCED_OVER_MAX)
        if n and any(a["usage"] == a["max"] for a in post):
            record_edge("forced charge exactly to max")
        self.direct[node] += n

    @rule(node=nodes, n=st.integers(1, 8))
    def charge_few(self, node: int, n: int) -> None:
        """A forced charge of a few pages: keeps usages non-zero and small,
        which the protection and limit edges need."""
        self._step("charge_few")
        self._charge(node, n)

    @rule(node=nodes, times=st.sampled_from((1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 4096, 8193)))
    def charge_max_repeatedly(self, node: int, times: int) -> None:
        """charge(PAGE_COUNTER_MAX) ``times`` times: 4096 take the usage past
        LONG_MAX (negative as the kernel's long: any cancel then clamps), 8193
        wrap it past 2**64 (the kernel's unsigned long)."""
        self._step("charge_max_repeatedly")
        path = self._path(node)
        pre = [self._ostate(i) for i in path]
        for _ in range(times):
            for side in (IMPL, ORACLE):
                self.counters[side][node].charge(PAGE_COUNTER_MAX)
        total = times * PAGE_COUNTER_MAX
        for i, b in zip(path, pre):
            a = self._ostate(i)
            assert a["usage"] == (b["usage"] + total) & U64_MASK, f"node {i}: {b} -> {a}"
            self.forced_since_fit[i] = True
            if b["usage"] + total > U64_MASK:
                record_edge("usage wrapped past 2**64")
        self.direct[node] += total

    def _try_charge(self, rule_name: str, node: int, n: int, arg: Any) -> None:
        self._step(rule_name)
        path = self._path(node)
        pre = [self._ostate(i) for i in path]
        out = self._both(f"node {node}.try_charge({arg!r})", lambda m, cs: cs[node].try_charge(arg))
        assert out[0] == "returned", out
        post = [self._ostate(i) for i in path]
        track = self.counters[ORACLE][node].track_failcnt
        prot = self.counters[ORACLE][node].protection
        what = f"node {node}.try_charge({n})"
        if out[1] is None:
            record_edge("try_charge succeeded")
            for i, b, a in zip(path, pre, post):
                ok = a["usage"] == (b["usage"] + n) & U64_MASK <= a["max"]
                assert ok, f"try_charge({n}) at node {i}: {b} -> {a}"
                assert a["failcnt"] == b["failcnt"]
                self._check_propagated(what, i, b, a, a["usage"] if prot else None)
            if n and any(a["usage"] == a["max"] for a in post):
                record_edge(CHARGE_TO_MAX)
            self.direct[node] += n
            return
        fail = out[1][1]
        assert fail in path, f"try_charge refused by node {fail}, not on the path {path}"
        k = path.index(fail)
        # Kernel rules 1, 2, 4 of try_charge: the first level over its max
        # refuses and counts the failure; levels above are untouched; levels
        # below are rolled back except for their watermarks.
        refuser = pre[k]
        assert (refuser["usage"] + n) & U64_MASK > refuser["max"], f"{what} at {fail}: {refuser}"
        failcnt = refuser["failcnt"] + (1 if track else 0)
        assert post[k]["failcnt"] == failcnt, f"{what}: failcnt of node {fail} is not {failcnt}"
        for i, b, a in zip(path[k + 1 :], pre[k + 1 :], post[k + 1 :]):
            assert a == b, f"{what} refused at node {fail} changed node {i} above it: {b} -> {a}"
        for i, b, a in zip(path, pre, post):
            assert a["usage"] == b["usage"], f"{what} refused, changed node {i}: {b} -> {a}"
        # Below the refusing level: charged (propagating with the leaf's
        # flag), then cancelled (propagating with the level's own flag).
        for i, b, a in zip(path[:k], pre[:k], post[:k]):
            if self.counters[ORACLE][i].protection:
                usage: int | None = a["usage"]
            elif prot:
                usage = (b["usage"] + n) & U64_MASK
            else:
                usage = None
            self._check_propagated(what, i, b, a, usage)
        self._check_propagated(what, fail, pre[k], post[k], None)
        record_edge("try_charge refused")
        if fail != node:
            record_edge(FAIL_AT_ANCESTOR)
        if not track:
            record_edge("failure not counted (track_failcnt off)")
        for b, a in zip(pre[:k], post[:k]):
            if a["watermark"] > b["watermark"] and a["watermark"] > a["usage"]:
                record_edge(WATERMARK_LEFT_BEHIND)
                break
        for b, a in zip(pre[:k], post[:k]):
            if (a["min_usage"], a["low_usage"]) != (b["min_usage"], b["low_usage"]):
                record_edge("protected usage moved by failed charge")
                break

    @rule(node=nodes, data=st.data())
    def try_charge(self, node: int, data: st.DataObject) -> None:
        path = self._path(node)
        pre = [self._ostate(i) for i in path]
        n = data.draw(page_counts(self._headrooms(path, pre)), label="nr_pages")
        self._try_charge("try_charge", node, n, self._count_arg(data, n))

    @rule(node=nodes, data=st.data())
    def try_charge_near_limit(self, node: int, data: st.DataObject) -> None:
        """try_charge with a count at, just under or just over the headroom
        of some level of the path (a second rule, to weigh try_charge up)."""
        path = self._path(node)
        pre = [self._ostate(i) for i in path]
        rooms = [s["max"] - s["usage"] for s in pre if s["max"] >= s["usage"]] or [0]
        room = data.draw(st.sampled_from(sorted(set(rooms))), label="headroom")
        n = _clamp_count(room + data.draw(st.integers(-1, 1), label="delta"))
        self._try_charge("try_charge_near_limit", node, n, self._count_arg(data, n))

    @rule(node=nodes, data=st.data())
    def uncharge(self, node: int, data: st.DataObject) -> None:
        self._step("uncharge")
        path = self._path(node)
        pre = [self._ostate(i) for i in path]
        limits = [s["usage"] for s in pre] + [self.direct[node]]
        n = data.draw(page_counts(limits), label="nr_pages")
        arg = self._count_arg(data, n)
        out = self._both(f"node {node}.uncharge({arg!r})", lambda m, cs: cs[node].uncharge(arg))
        post = [self._ostate(i) for i in path]
        clamped = []
        for i, b, a in zip(path, pre, post):
            new = (b["usage"] - n) & U64_MASK
            if new >= _LONG_MIN_AS_U64:
                clamped.append(("node", i))
                new = 0
            assert a["usage"] == new, f"uncharge({n}) at node {i}: {b} -> {a}, usage not {new}"
            own = self.counters[ORACLE][i].protection
            self._check_propagated(f"node {node}.uncharge({n})", i, b, a, new if own else None)
        if clamped:
            assert out == (
                "raised",
                UnderflowError,
                (tuple(clamped), n),
            ), f"uncharge({n}) clamped {clamped}: {out}"
            record_edge(UNDERFLOW_CLAMP)
            if ("node", node) not in clamped:
                record_edge("underflow clamp above the leaf only")
            for i in path:
                self.sum_ok[i] = False
        else:
            assert out == ("returned", None), f"uncharge({n}) clamped nothing but {out}"
            if any(a["usage"] == 0 for a in post) and n:
                record_edge("uncharge to zero")
        if n > self.direct[node]:
            # Took back pages that were charged to its children.
            self.sum_ok[node] = False
        self.direct[node] = max(0, self.direct[node] - n)

    # ---------------------------------------------------------------- settings

    @rule(node=nodes, data=st.data())
    def set_max(self, node: int, data: st.DataObject) -> None:
        self._step("set_max")
        pre = self._ostate(node)
        n = data.draw(page_counts([pre["usage"], pre["max"]]), label="nr_pages")
        arg = self._count_arg(data, n)
        out = self._both(f"node {node}.set_max({arg!r})", lambda m, cs: cs[node].set_max(arg))
        post = self._ostate(node)
        if pre["usage"] > n:
            assert out[:2] == (
                "raised",
                BusyError,
            ), f"set_max({n}) below usage {pre['usage']}: {out}"
            assert out[2] == 16, f"BusyError errno {out[2]}"
            assert post == pre
            record_edge(SET_MAX_EBUSY)
        else:
            assert out == ("returned", None), f"set_max({n}) with usage {pre['usage']}: {out}"
            assert post == dict(pre, max=n)
            if n == pre["usage"]:
                record_edge("set_max to usage exactly")

    def _set_protection(self, what: str, node: int, data: st.DataObject) -> None:
        self._step(what)
        path = self._path(node)
        pre = [self._ostate(i) for i in path]
        limits = [pre[0]["usage"], pre[0][what[4:]]] + [s["usage"] for s in pre[1:]]
        few = st.integers(1, 20)
        n = data.draw(st.one_of(few, few, page_counts(limits)), label="nr_pages")
        arg = self._count_arg(data, n)
        self._both(f"node {node}.{what}({arg!r})", lambda m, cs: getattr(cs[node], what)(arg))
        for i, b in zip(path, pre):
            a = self._ostate(i)
            if i == node:
                assert a == dict(
                    b,
                    **{what[4:]: n},
                    min_usage=a["min_usage"],
                    low_usage=a["low_usage"],
                    children_min_usage=a["children_min_usage"],
                    children_low_usage=a["children_low_usage"],
                )
            self._check_propagated(f"node {node}.{what}({n})", i, b, a, a["usage"])
        if n > pre[0]["usage"]:
            record_edge("protection above usage")
        if not self.counters[ORACLE][node].protection:
            record_edge(f"{what} on a counter without protection")

    @rule(node=nodes, data=st.data())
    def set_min(self, node: int, data: st.DataObject) -> None:
        self._set_protection("set_min", node, data)

    @rule(node=nodes, data=st.data())
    def set_low(self, node: int, data: st.DataObject) -> None:
        self._set_protection("set_low", node, data)

    @rule(node=nodes, n=page_counts())
    def set_high(self, node: int, n: int) -> None:
        self._step("set_high")
        self._both(f"node {node}.set_high({n})", lambda m, cs: cs[node].set_high(n))

    @rule(node=nodes)
    def reset_watermark(self, node: int) -> None:
        self._step("reset_watermark")
        self._both(f"node {node}.reset_watermark()", lambda m, cs: cs[node].reset_watermark())
        s = self._ostate(node)
        assert s["watermark"] == s["local_watermark"] == s["usage"], s

    @rule(node=nodes)
    def reset_local_watermark(self, node: int) -> None:
        self._step("reset_local_watermark")
        self._both(
            f"node {node}.reset_local_watermark()", lambda m, cs: cs[node].reset_local_watermark()
        )
        s = self._ostate(node)
        assert s["local_watermark"] == s["usage"], s

    # ---------------------------------------------------------------- protection

    def _protection_edges(self, r: int, i: int, recursive: bool) -> tuple[int, int] | None:
        """Name the branch effective_protection() is about to take for node
        ``i`` under root ``r``, from the oracle's state before the call, and
        return the (emin, elow) the kernel computes (None: left as they are)."""
        p = self.parent_of[i]
        if i == r or p is None:
            return None
        c = self._ostate(i)
        if c["usage"] == 0:
            record_edge("protection skipped: usage 0")
            return None
        if p == r:
            record_edge("protection: parent is the root")
            return (c["min"], c["low"])
        ps = self._ostate(p)
        expected = tuple(
            _effective_protection(c["usage"], ps["usage"], c[setting], ps[eff], ps[sib], recursive)
            for setting, eff, sib in (
                ("min", "emin", "children_min_usage"),
                ("low", "elow", "children_low_usage"),
            )
        )
        for setting, eff, sib in (
            ("min", "emin", "children_min_usage"),
            ("low", "elow", "children_low_usage"),
        ):
            protected = min(c["usage"], c[setting])
            if ps[sib] > ps[eff]:
                record_edge(EP_OVERCOMMITTED)
            elif (
                recursive and ps[eff] > ps[sib] and ps["usage"] > ps[sib] and c["usage"] > protected
            ):
                record_edge(EP_RECURSIVE)
            elif ps[eff] == 0:
                record_edge("effective protection: parent has none")
            else:
                record_edge("effective protection: plain")
        return expected  # type: ignore[return-value]

    def _check_protection(
        self, what: str, i: int, before: dict[str, int], expected: tuple[int, int] | None
    ) -> None:
        after = self._ostate(i)
        want = (
            dict(before) if expected is None else dict(before, emin=expected[0], elow=expected[1])
        )
        assert after == want, f"{what}: node {i} {after}, kernel gives {want}"

    @rule(
        root=nodes,
        up=st.sampled_from((0, 1, MAX_DEPTH, MAX_DEPTH)),
        recursive=st.sampled_from((True, False, True)),
    )
    def calculate_protection(self, root: int, up: int, recursive: bool) -> None:
        """Recalculate the effective protection of the whole subtree of a
        root ``R`` (``up`` levels above node ``root``, mostly a tree root),
        top-down, as memcontrol's reclaim walk does."""
        self._step("calculate_protection")
        root = self._path(root)[: up + 1][-1]
        for i in self._subtree_top_down(root):
            before = self._ostate(i)
            expected = self._protection_edges(root, i, recursive)
            what = f"node {i}.calculate_protection(node {root}, recursive={recursive})"
            self._both(
                what, lambda m, cs: cs[i].calculate_protection(cs[root], recursive=recursive)
            )
            self._check_protection(what, i, before, expected)

    @rule(
        node=nodes,
        other=nodes,
        up=st.sampled_from((None, 1, 2, MAX_DEPTH)),
        recursive=st.booleans(),
    )
    def calculate_protection_one(
        self, node: int, other: int, up: int | None, recursive: bool
    ) -> None:
        """One counter against one root, out of the top-down order: the
        ancestor ``up`` levels above (parents keep whatever stale emin/elow
        they have), or when ``up`` is None the node ``other`` (InvalidError
        unless it is an ancestor; nothing changes)."""
        self._step("calculate_protection_one")
        root = other if up is None else self._path(node)[: up + 1][-1]
        pre = self._ostate(node)
        expected = None
        if root in self._path(node):
            expected = self._protection_edges(root, node, recursive)
        what = f"node {node}.calculate_protection(node {root}, recursive={recursive})"
        out = self._both(what, lambda m, cs: cs[node].calculate_protection(cs[root], recursive))
        self._check_protection(what, node, pre, expected)
        if root not in self._path(node):
            assert out[:2] == (
                "raised",
                InvalidError,
            ), f"root {root} is not an ancestor of {node}: {out}"
            record_edge("calculate_protection outside the root")

    # ---------------------------------------------------------------- readers & bad input

    @rule(node=nodes)
    def read_properties(self, node: int) -> None:
        """The read-only properties agree with each other and snapshot()."""
        self._step("read_properties")
        seen = []
        for side in (IMPL, ORACLE):
            c = self.counters[side][node]
            props = {name: getattr(c, name) for name in FIELDS}
            assert props == _state_of(
                c
            ), f"{_SIDE_NAMES[side]} node {node}: properties {props} != snapshot"
            props["parent"] = None if c.parent is None else self._name(side, c.parent)
            props["depth"] = c.depth
            props["track_failcnt"] = c.track_failcnt
            props["protection"] = c.protection
            seen.append(props)
        assert seen[IMPL] == seen[ORACLE], f"node {node}: impl {seen[IMPL]}, oracle {seen[ORACLE]}"

    def _all_states(self) -> list[list[dict[str, int]]]:
        return [[_state_of(c) for c in cs] for cs in self.counters]

    @rule(
        node=nodes,
        method=st.sampled_from(_COUNT_METHODS + ("PageCounter",)),
        value=st.sampled_from(_BAD_COUNTS),
    )
    def bad_count(self, node: int, method: str, value: Any) -> None:
        """An invalid count raises the same error in both and changes nothing."""
        self._step("bad_count")
        before = self._all_states()
        if method == "PageCounter":
            call = lambda m, cs: m.PageCounter(cs[node], value)  # noqa: E731
        else:
            call = lambda m, cs: getattr(cs[node], method)(value)  # noqa: E731
        out = self._both(f"{method}({value!r}) at node {node}", call)
        integer = hasattr(type(value), "__index__") and not isinstance(value, bool)
        want = InvalidError if integer else InvalidTypeError
        assert out[:2] == (
            "raised",
            want,
        ), f"{method}({value!r}): {_show(out)}, wanted {want.__name__}"
        assert self._all_states() == before, f"{method}({value!r}) changed the state"

    @precondition(
        lambda self: not (
            issubclass(self.backends[IMPL].PageCounter, self.backends[ORACLE].PageCounter)
            or issubclass(self.backends[ORACLE].PageCounter, self.backends[IMPL].PageCounter)
        )
    )
    @rule(node=nodes, how=st.sampled_from(("parent", "root", "not a counter")))
    def foreign_counter(self, node: int, how: str) -> None:
        """A counter of the other backend (or no counter at all) as a parent
        or a protection root: InvalidTypeError, nothing changes."""
        self._step("foreign_counter")
        before = self._all_states()
        for side in (IMPL, ORACLE):
            mine = self.counters[side][node]
            other = self.counters[1 - side][node]
            m = self.backends[side]
            try:
                if how == "parent":
                    m.PageCounter(other)
                elif how == "root":
                    mine.calculate_protection(other)
                else:
                    m.PageCounter(parent=object())
            except InvalidTypeError:
                pass
            else:
                raise AssertionError(f"{_SIDE_NAMES[side]}: a foreign {how} was accepted")
        assert self._all_states() == before

    # ---------------------------------------------------------------- invariants

    @invariant()
    def backends_agree_and_kernel_invariants_hold(self) -> None:
        states = self._all_states()
        for i, (got, want) in enumerate(zip(*states)):
            if got != want:
                diff = {k: (got[k], want[k]) for k in FIELDS if got[k] != want[k]}
                raise AssertionError(f"node {i} differs, field: (impl, oracle): {diff}")
        oracle = states[ORACLE]
        for i, s in enumerate(oracle):
            assert s["usage"] <= s["local_watermark"] <= s["watermark"], f"node {i} watermarks: {s}"
            last = self.last_failcnt[i]
            assert s["failcnt"] >= last, f"node {i} failcnt went down: {last} -> {s}"
            self.last_failcnt[i] = s["failcnt"]
            if s["usage"] > s["max"]:
                assert self.forced_since_fit[i], f"node {i} over max, no forced charge: {s}"
            else:
                self.forced_since_fit[i] = False
            kids = self.children[i]
            if self.sum_ok[i]:
                below = sum(oracle[k]["usage"] for k in kids)
                # Implies usage >= sum(children) unless the sum wrapped.
                want = (self.direct[i] + below) & U64_MASK
                direct = self.direct[i]
                assert s["usage"] == want, f"node {i}: not {direct} here + {below} below: {s}"
            for prot in ("min", "low"):
                total = sum(oracle[k][prot + "_usage"] for k in kids) & U64_MASK
                got = s[f"children_{prot}_usage"]
                assert got == total, f"node {i} children_{prot}_usage is not {total}: {s}"
                assert s[f"{prot}_usage"] <= s[prot], f"node {i} {prot}_usage above {prot}: {s}"
            if self.parent_of[i] is None:
                zero = s["min_usage"] == s["low_usage"] == s["emin"] == s["elow"] == 0
                assert zero, f"root {i}: {s}"
            elif s["min_usage"] != min(s["usage"], s["min"]):
                record_edge("protected usage stale")
            elif s["low_usage"] != min(s["usage"], s["low"]):
                record_edge("protected usage stale")
            if s["usage"] >= _LONG_MIN_AS_U64:
                record_edge("usage beyond LONG_MAX")


def _effective_protection(
    usage: int,
    parent_usage: int,
    setting: int,
    parent_effective: int,
    siblings_protected: int,
    recursive: bool,
) -> int:
    """mm/page_counter.c effective_protection(), unsigned 64-bit: a third
    reading of the kernel, so that both backends cannot agree on a mistake."""
    protected = min(usage, setting)
    if siblings_protected > parent_effective:
        return ((protected * parent_effective) & U64_MASK) // siblings_protected
    ep = protected
    if not recursive:
        return ep
    if (
        parent_effective > siblings_protected
        and parent_usage > siblings_protected
        and usage > protected
    ):
        unclaimed = parent_effective - siblings_protected
        unclaimed = (unclaimed * (usage - protected)) & U64_MASK
        unclaimed //= parent_usage - siblings_protected
        ep = (ep + unclaimed) & U64_MASK
    return ep




def make_comparison_machine(impl: Any, oracle: Any) -> type[PageCounterComparison]:
    """A :class:`PageCounterComparison` subclass comparing backend module
    ``impl`` against backend module ``oracle``."""
    names = (getattr(impl, "__name__", "impl"), getattr(oracle, "__name__", "oracle"))
    name = "PageCounterComparison_{}_vs_{}".format(*names)
    name = "".join(ch if ch.isalnum() else "_" for ch in name)
    return type(
        name, (PageCounterComparison,), {"impl": impl, "oracle": oracle, "__module__": __name__}
    )
