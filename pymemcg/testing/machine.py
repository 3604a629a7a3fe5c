"""A state machine for users: subclass :class:`MemcgStateMachine` to check
your own invariant, or your own reclaim policy, against a memcg hierarchy
driven through random cgroup trees, charges, uncharges, limits, drains,
tasks and slab objects.

::

    from hypothesis import settings
    from hypothesis.stateful import invariant
    from pymemcg.testing import MemcgStateMachine

    class ChildrenWithinParent(MemcgStateMachine):
        @invariant()
        def child_usage_within_parent(self):
            for cg in self.online():
                if cg.parent is not None:
                    assert cg.memory.usage <= cg.parent.memory.usage

    TestChildrenWithinParent = ChildrenWithinParent.TestCase

The machine keeps a ledger of what it charged itself (``self.charged``:
cgroup -> pages still charged by its ``try_charge`` steps; the root is
never charged, as in the kernel) so an invariant can compare the kernel's
counters with the truth, and exposes the
hierarchy (``self.h``), its configuration (``self.config``) and helpers.
Override :meth:`reclaim` (``(cgroup, nr_pages) -> pages freed``) to plug a
reclaim policy in: it may uncharge what the ledger holds, through
:meth:`give_back`, which keeps the ledger true.

By default the machine runs the C core (:mod:`pymemcg`); set ``backend =
pymemcg.model`` in a subclass to run the oracle, and ``presets`` to choose
the kernels it draws from.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional, Sequence

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ..errors import ChargeError, KilledError, MemcgError

__all__ = ["MemcgStateMachine", "MACHINE_SETTINGS", "configs"]
# The tree strategy (pymemcg.testing.trees) lives with the project's machines.

#: Settings for users' machines.  Each relaxation, and why:
#: - ``deadline=None``: a step may reclaim, run the OOM killer or drain every
#:   CPU; the first call of a process also pays for imports and the C
#:   core's tables, so per-example time varies by far more than Hypothesis's
#:   200 ms deadline allows for, without being a bug.
#: - ``HealthCheck.too_slow``: the same reason, over whole examples.
#: - ``HealthCheck.filter_too_much`` and ``data_too_large`` stay on: the
#:   rules draw from small pools and never filter, so either one firing
#:   points at a real problem in a subclass's strategies.
MACHINE_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow],
                            max_examples=50, stateful_step_count=40)

_NAMES = ("a", "b", "c", "d")


def configs(backend: Any, presets: Sequence[str] = ("current", "current_v1", "linux_3_8"),
            ncpus: Sequence[int] = (1, 2)) -> st.SearchStrategy[Any]:
    """Configurations of ``backend`` (pymemcg or pymemcg.model): a preset
    with 1 or 2 CPUs and sometimes a small charge batch, so that stocks
    empty and refill often."""
    def make(preset: str, n: int, batch: Optional[int]) -> Any:
        cfg = getattr(backend.Config, preset)(ncpus=n)
        return cfg if batch is None else cfg.replace(charge_batch=batch)
    return st.builds(make, st.sampled_from(tuple(presets)), st.sampled_from(tuple(ncpus)),
                     st.sampled_from((None, None, 4)))


class MemcgStateMachine(RuleBasedStateMachine):
    """Random steps on one hierarchy; subclass to add invariants or a
    reclaim policy (see the module docstring)."""

    #: The backend the machine drives (None: pymemcg, the C core).
    backend: ClassVar[Any] = None
    #: The kernels the machine draws from.
    presets: ClassVar[Sequence[str]] = ("current", "current_v1", "linux_3_8")
    settings = MACHINE_SETTINGS

    def __init__(self) -> None:
        super().__init__()
        if self.backend is None:
            import pymemcg
            type(self).backend = pymemcg
        self.h: Any = None
        self.config: Any = None
        #: Pages each cgroup was charged by this machine's try_charge steps and
        #: not given back.  A removed cgroup keeps its entry: its pages stay
        #: charged to it (dying) until given back.
        self.charged: dict[Any, int] = {}
        #: A GFP_NOFAIL charge went over a limit (usage > max is allowed then).
        self.forced = False
        self.objects: list[Any] = []
        self.tasks: list[Any] = []

    # ------------------------------------------------------------------ hooks

    def reclaim(self, cgroup: Any, nr_pages: int) -> int:
        """The reclaim policy: called by the core when a charge needs room in
        ``cgroup``; return the pages freed.  Default: give back up to
        ``nr_pages`` of what this machine charged in ``cgroup``'s subtree."""
        freed = 0
        for cg in list(self.charged):
            if freed >= nr_pages:
                break
            if self.under(cg, cgroup):
                freed += self.give_back(cg, min(self.charged[cg], nr_pages - freed))
        return freed

    def give_back(self, cg: Any, nr_pages: int) -> int:
        """Uncharge ``nr_pages`` of what the machine charged to ``cg`` (the
        ledger follows); returns the pages given back."""
        n = min(nr_pages, self.charged.get(cg, 0))
        if n <= 0:
            return 0
        cg.uncharge(n)
        self.charged[cg] -= n
        return n

    @staticmethod
    def under(cg: Any, root: Any) -> bool:
        """Is ``cg`` in ``root``'s subtree (itself included)?"""
        while cg is not None:
            if cg == root:
                return True
            try:
                cg = cg.parent
            except MemcgError:  # freed: nothing of ours is charged to it
                return False
        return False

    def online(self) -> list[Any]:
        """The hierarchy's online cgroups (the root first)."""
        return [cg for cg in self.h.cgroups() if cg.online]

    # ------------------------------------------------------------------ set-up

    @initialize(data=st.data())
    def setup(self, data: st.DataObject) -> None:
        """A configuration (:func:`configs`) and a first tree (the project's
        machines start from the same :func:`pymemcg.testing.trees`)."""
        from . import build_tree, trees

        self.config = data.draw(configs(self.backend, self.presets), label="config")
        self.h = self.backend.Hierarchy(self.config, reclaim=self.reclaim)
        build_tree(self.h, data.draw(trees(max_size=4), label="tree"))

    def teardown(self) -> None:
        if self.h is not None:
            self.h.close()

    def _pick(self, data: st.DataObject, label: str) -> Any:
        cgs = self.online()
        return data.draw(st.sampled_from(cgs), label=label)

    def _cpu(self, data: st.DataObject) -> int:
        return data.draw(st.integers(0, self.config.ncpus - 1), label="cpu")

    # ------------------------------------------------------------------ rules

    @precondition(lambda self: self.h is not None and len(self.h) < 12)
    @rule(data=st.data(), name=st.sampled_from(_NAMES))
    def create(self, data: st.DataObject, name: str) -> None:
        parent = self._pick(data, "parent")
        try:
            parent.create(name)
        except MemcgError:
            pass  # it exists

    @precondition(lambda self: self.h is not None and len(self.h) > 1)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        cg = self._pick(data, "cgroup")
        parent = cg.parent
        try:
            cg.remove()
        except MemcgError:
            return  # the root, children, tasks: EBUSY
        if self.config.reparent_user_pages and self.charged.get(cg):
            # 3.8's offline moved the user pages to the parent: they are its now.
            self.charged[parent] = self.charged.get(parent, 0) + self.charged.pop(cg)

    @precondition(lambda self: self.h is not None)
    @rule(data=st.data(), pages=st.integers(1, 80), nofail=st.booleans())
    def try_charge(self, data: st.DataObject, pages: int, nofail: bool) -> None:
        cg = self._pick(data, "cgroup")
        from ..gfp import GFP_KERNEL, GFP_NOFAIL
        flags = GFP_KERNEL | (GFP_NOFAIL if nofail else 0)
        over = cg.try_charge(pages, cpu=self._cpu(data), flags=flags)
        if over is None and cg.parent is not None:  # the root is never charged
            self.charged[cg] = self.charged.get(cg, 0) + pages
            self.forced = self.forced or nofail

    @precondition(lambda self: self.h is not None and any(self.charged.values()))
    @rule(data=st.data())
    def uncharge(self, data: st.DataObject) -> None:
        cg = data.draw(st.sampled_from([c for c, n in self.charged.items() if n]),
                       label="cgroup")
        n = data.draw(st.integers(1, self.charged[cg]), label="pages")
        self.give_back(cg, n)

    @precondition(lambda self: self.h is not None and len(self.h) > 1)
    @rule(data=st.data(), pages=st.sampled_from((None, 0, 16, 64, 256)))
    def set_max(self, data: st.DataObject, pages: Optional[int]) -> None:
        cg = self._pick(data, "cgroup")
        if cg is self.h.root:
            return
        try:
            cg.set_max(pages)
        except MemcgError:
            pass  # EBUSY: usage above it and nothing to reclaim

    @precondition(lambda self: self.h is not None)
    @rule(data=st.data(), everything=st.booleans())
    def drain(self, data: st.DataObject, everything: bool) -> None:
        if everything:
            self.h.drain_all()
        else:
            self.h.drain(self._cpu(data))

    @precondition(lambda self: self.h is not None and len(self.tasks) < 4)
    @rule(data=st.data(), pages=st.integers(0, 40))
    def task(self, data: st.DataObject, pages: int) -> None:
        cg = self._pick(data, "cgroup")
        try:
            t = cg.fork(cpu=self._cpu(data))
            self.tasks.append(t)
            t.fault(pages)
        except (ChargeError, KilledError):
            pass  # refused, or the OOM killer chose it
        except MemcgError:
            pass

    @precondition(lambda self: self.h is not None and bool(self.tasks))
    @rule(data=st.data())
    def task_exit(self, data: st.DataObject) -> None:
        t = self.tasks.pop(data.draw(st.integers(0, len(self.tasks) - 1), label="task"))
        if t.alive:
            t.exit()

    @precondition(lambda self: self.h is not None and len(self.objects) < 100)
    @rule(data=st.data(), n=st.integers(1, 30))
    def slab_alloc(self, data: st.DataObject, n: int) -> None:
        cg = self._pick(data, "cgroup")
        if not hasattr(self, "_dentry"):
            self._dentry = self.h.standard_cache("dentry")
        for _ in range(n):
            try:
                self.objects.append(self._dentry.alloc(cg, cpu=self._cpu(data)))
            except (ChargeError, KilledError):
                break

    @precondition(lambda self: self.h is not None and bool(self.objects))
    @rule(data=st.data())
    def slab_free(self, data: st.DataObject) -> None:
        k = data.draw(st.integers(1, len(self.objects)), label="how many")
        for obj in self.objects[-k:]:
            obj.free(cpu=self._cpu(data))
        del self.objects[-k:]

    # ------------------------------------------------------------------ built in

    @invariant()
    def counters_cover_the_ledger(self) -> None:
        """What this machine charged is in the counters: every online
        cgroup's memory usage is at least the ledger of its subtree (stocks,
        tasks and slab pages come on top)."""
        if self.h is None:
            return
        for cg in self.online():
            mine = sum(n for c, n in self.charged.items() if self.under(c, cg))
            assert cg.memory.usage >= mine, (cg.path, cg.memory.usage, mine)
