"""Kernel memory never enters an OOM score and is never freed by a kill
(issue 8, part 5): a Hypothesis state machine forks tasks, faults and
unmaps their pages and charges and uncharges kernel memory no task owns
(dentries, say) in one cgroup under memory.max, on the C core and the
model at once.  After every step:

* the kernel memory no task owns (``kernel`` less stacks and page tables)
  is exactly what the raw charges left: no kill freed any of it;
* every kill took a live task: a kill with no candidate is impossible,
  and a victim's pages (user, tables, stack) all went with it;
* the two backends agree on everything: tasks alive, counters, events.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis import event
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import pymemcg
import pymemcg.model

P = 4096
BACKENDS = (pymemcg, pymemcg.model)


class KernelMemoryNeverKilled(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.hs, self.cgs, self.tasks = [], [], []
        self.raw = 0                      # raw kernel pages charged and not uncharged
        self.limit = 0

    @initialize(limit=st.integers(40, 400), preset=st.sampled_from(["current", "current_v1"]))
    def setup(self, limit: int, preset: str) -> None:
        self.limit = limit
        for m in BACKENDS:
            h = m.Hierarchy(getattr(m.Config, preset)())
            a = h.create("a")
            a.write("memory.max" if preset == "current" else "memory.limit_in_bytes",
                    str(limit * P))
            self.hs.append(h)
            self.cgs.append(a)
        self.tasks = [[], []]

    def _both(self, fn):
        out = []
        for side, m in enumerate(BACKENDS):
            try:
                out.append(("ok", fn(side, m)))
            except pymemcg.MemcgError as e:
                out.append((type(e).__name__, e.errno, getattr(e, "faulted", None)))
        assert out[0] == out[1], f"C {out[0]} but model {out[1]}"
        return out[0]

    @rule(adj=st.sampled_from([0, 0, 0, 300, -300, 1000, -1000]), sparse=st.booleans())
    def fork(self, adj: int, sparse: bool) -> None:
        def go(side, m):
            t = self.cgs[side].fork(oom_score_adj=adj, sparse=sparse)
            self.tasks[side].append(t)
            return None
        self._both(go)

    def _live(self, side):
        return [t for t in self.tasks[side] if t.alive]

    @rule(pick=st.integers(0, 1000), n=st.integers(1, 120))
    @precondition(lambda self: any(t.alive for t in self.tasks[0]))
    def fault(self, pick: int, n: int) -> None:
        self._both(lambda side, m: self._live(side)[pick % len(self._live(side))].fault(n))

    @rule(pick=st.integers(0, 1000), n=st.integers(1, 50))
    @precondition(lambda self: any(t.alive and t.rss for t in self.tasks[0]))
    def unmap(self, pick: int, n: int) -> None:
        def go(side, m):
            live = [t for t in self._live(side) if t.rss]
            t = live[pick % len(live)]
            t.unmap(min(n, t.rss))
        self._both(go)

    @rule(pick=st.integers(0, 1000))
    @precondition(lambda self: any(t.alive for t in self.tasks[0]))
    def exit(self, pick: int) -> None:
        self._both(lambda side, m: self._live(side)[pick % len(self._live(side))].exit())

    @rule(n=st.integers(1, 60))
    def kmem_charge(self, n: int) -> None:
        out = self._both(lambda side, m: self.cgs[side].try_charge(n, kmem=True) is None)
        if out == ("ok", True):
            self.raw += n

    @rule(n=st.integers(1, 60))
    @precondition(lambda self: self.raw > 0)
    def kmem_uncharge(self, n: int) -> None:
        n = min(n, self.raw)
        self._both(lambda side, m: self.cgs[side].uncharge(n, kmem=True))
        self.raw -= n

    @invariant()
    def kernel_memory_is_never_freed_by_a_kill(self) -> None:
        for side in range(len(self.hs)):
            a = self.cgs[side]
            self.hs[side].drain_all()
            s = a.stat
            live = self._live(side)
            stacks = sum(t.stack for t in live)
            tables = sum(t.pagetables for t in live)
            assert s["kernel"] - s["kernel_stack"] - s["pagetables"] == self.raw * P
            assert s["kernel_stack"] == stacks * P and s["pagetables"] == tables * P
            assert s["anon"] == sum(t.rss for t in live) * P
            # Every page charged is a raw kernel page or a live task's.
            assert a.memory.usage == self.raw + stacks + tables + sum(t.rss for t in live)
            assert a.memory.usage <= self.limit
            ev = a.events
            dead = sum(not t.alive for t in self.tasks[side])
            assert ev["oom_kill"] <= dead and ev["oom_kill"] <= ev["oom"]
            if side == 0 and ev["oom_kill"]:
                event("a task was killed")
                if self.raw:
                    event("a task was killed beside kernel memory no task owns")
        if len(self.hs) == 2:
            assert [t.alive for t in self.tasks[0]] == [t.alive for t in self.tasks[1]]
            assert self.cgs[0].events == self.cgs[1].events


KernelMemoryNeverKilled.TestCase.settings = settings(max_examples=150, stateful_step_count=40,
                                                     deadline=None)
test_kernel_memory_never_killed = KernelMemoryNeverKilled.TestCase
