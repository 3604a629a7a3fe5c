"""The model's memcg OOM killer: ``oom_badness``, the victim, memory.oom.group
(``OomHierarchyMixin``)."""

from __future__ import annotations

from typing import Optional, cast

from .task import Task

from . import hierarchy as _h  # imported first: partly made when this runs


def _hierarchy(obj: object) -> _h.Hierarchy:
    """The mixin's object is a Hierarchy (the class that mixes it in)."""
    return cast("_h.Hierarchy", obj)


class OomHierarchyMixin:
    """The memcg OOM killer of :class:`Hierarchy`."""

    # ------------------------------------------------------------------ the OOM killer

    def _mem_cgroup_oom(self, ctx: _h._ChargeCtx, over: _h.Cgroup, order: int) -> bool:
        """``mem_cgroup_oom()`` + ``mem_cgroup_out_of_memory()`` (current
        kernels), at the end of the charge loop: True to retry the charge,
        False to fail it."""
        h = _hierarchy(self)
        if order > _h.PAGE_ALLOC_COSTLY_ORDER:
            return False
        h._memcg_memory_event(over, "oom")
        if h._config.version == 1 and over._oom_kill_disable:
            return False  # memcg1_oom_prepare(): the charge fails
        if h._mem_cgroup_margin(over, h._config.memsw) >= 1 << order:
            return True  # someone freed memory meanwhile: no kill
        if _h._task_dying(ctx.task):
            return True  # task_is_dying(): it gets to go on and exit
        return h._oom_kill(ctx, over)

    def _oom_badness(self, t: Task, totalpages: int) -> Optional[int]:
        """``oom_badness()``: what the task owns, user pages and page tables
        (no swap is modelled), plus oom_score_adj thousandths of the limit.
        Current kernels count the PTE, PMD and PUD pages
        (``mm_pgtables_bytes``); None (LONG_MIN) for -1000, never chosen.
        3.8 counts the PTE pages only (``nr_ptes``) and gives at least 1, 0
        for -1000 (never chosen either).  Tasks are unprivileged: no
        CAP_SYS_ADMIN bonus."""
        h = _hierarchy(self)
        adj = t._oom_score_adj
        if h._config.charge_loop == "3.8":
            if adj == _h.OOM_SCORE_ADJ_MIN:
                return 0
            points = t._rss + t._pte + adj * (totalpages // 1000)
            return points if points > 0 else 1
        if adj == _h.OOM_SCORE_ADJ_MIN:
            return None
        return t._rss + t._pte + t._pmd + t._pud + adj * (totalpages // 1000)

    def _oom_select(self, over: _h.Cgroup) -> Optional[Task]:
        """``select_bad_process()`` over ``mem_cgroup_scan_tasks()``: the
        subtree of the cgroup over its limit, pre-order, each cgroup's tasks
        in order; the highest score wins.  On a tie the later task wins
        (``oom_evaluate_task()`` skips only lower scores); 3.8 kept the
        first (a strict >, from chosen_points = 0)."""
        h = _hierarchy(self)
        v38 = h._config.charge_loop == "3.8"
        limit = over._counters["memory"].max
        totalpages = limit if limit else 1  # mem_cgroup_get_max(); no swap
        chosen: Optional[Task] = None
        chosen_points = 0
        for c in (over, *over._descendants()):
            for t in c._tasks:
                points = h._oom_badness(t, totalpages)
                if points is None:
                    continue
                if (points > chosen_points if v38
                        else chosen is None or points >= chosen_points):
                    chosen, chosen_points = t, points
        return chosen

    def _oom_group_of(self, victim: Task, domain: _h.Cgroup) -> Optional[_h.Cgroup]:
        """``mem_cgroup_get_oom_group()``: the highest cgroup from the
        victim's up to the OOM domain with memory.oom.group set (v2 only)."""
        h = _hierarchy(self)
        if h._config.version != 2 or victim._memcg is h._root:
            return None
        group: Optional[_h.Cgroup] = None
        c: Optional[_h.Cgroup] = victim._memcg
        while c is not None:
            if c._oom_group:
                group = c
            if c is domain:
                break
            c = c._parent
        return group

    def _oom_mark(self, t: Task, victims: list[Task]) -> None:
        """``__oom_kill_process()``: an oom_kill event on the task's cgroup,
        and it is marked to die.  A victim killed again as a member of its
        group is counted again (it still has its mm then)."""
        h = _hierarchy(self)
        h._memcg_memory_event(t._memcg, "oom_kill")
        if not t._oom_victim:
            t._oom_victim = True
            victims.append(t)

    def _oom_kill(self, ctx: _h._ChargeCtx, over: _h.Cgroup) -> bool:
        """``out_of_memory()`` in a memcg: choose a victim, kill it (and, with
        memory.oom.group, every task of its group but those at -1000);
        True if something was killed.  A killed task exits at once (the OOM
        reaper and exit free its memory a little later; a simulation has no
        later): what it owns is uncharged on the charging CPU."""
        h = _hierarchy(self)
        victim = h._oom_select(over)
        if victim is None:
            return False
        group = h._oom_group_of(victim, over)
        victims: list[Task] = []
        h._oom_mark(victim, victims)
        if group is not None:
            h._memcg_memory_event(group, "oom_group_kill")
            for c in (group, *group._descendants()):
                for t in c._tasks:
                    if t._oom_score_adj != _h.OOM_SCORE_ADJ_MIN:
                        h._oom_mark(t, victims)
        for t in victims:
            h._task_exit(t, ctx.cpu)
        return True
