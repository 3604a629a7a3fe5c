"""Kernel behaviour as configuration: one frozen :class:`Config`, presets
named after real kernels.

Behaviour that changed across kernel releases is a field here, not a fork
of the code; users may mix fields to ask "what if" (what if the batch were
128, what if kmem were charged before memory).  The C core mirrors this
dataclass in ``struct pmc_config``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from .errors import InvalidError, InvalidTypeError

__all__ = ["Config"]

KmemActivation = Literal["always", "on_limit"]
KmemLimit = Literal["enforced", "ignored", "eopnotsupp", "absent"]
Failcnt = Literal["all", "memory", "none"]
Rounding = Literal["up", "down"]
IdErrno = Literal["ENOSPC", "EBUSY"]
ChargeLoop = Literal["current", "3.8"]
TcpmemCounter = Literal["page_counter", "res_counter"]
KmemAccounting = Literal["whitelist", "blacklist"]
SlabMode = Literal["auto", "clone", "objcg", "none"]
SlabCloneName = Literal["kmemcg_id", "css_id", "serial"]

_CHOICES: dict[str, tuple[str, ...]] = {
    "kmem_activation": ("always", "on_limit"),
    "kmem_limit": ("enforced", "ignored", "eopnotsupp", "absent"),
    "failcnt": ("all", "memory", "none"),
    "limit_rounding": ("up", "down"),
    "id_errno": ("ENOSPC", "EBUSY"),
    "charge_loop": ("current", "3.8"),
    "tcpmem_counter": ("page_counter", "res_counter"),
    "kmem_accounting": ("whitelist", "blacklist"),
    "slab_mode": ("auto", "clone", "objcg", "none"),
    "slab_clone_name": ("kmemcg_id", "css_id", "serial"),
}


@dataclass(frozen=True)
class Config:
    """How the simulated kernel behaves.  Use a preset and ``replace()``::

        cfg = Config.current(ncpus=4).replace(charge_batch=128)
    """

    #: Interface and counters: 1 (memory, memsw, kmem, tcpmem; v1 files) or
    #: 2 (memory, swap; v2 files).
    version: int = 2
    #: Number of simulated CPUs, each with its own charge stock.
    ncpus: int = 1
    #: MEMCG_CHARGE_BATCH: pages pre-charged per counter walk (32 before
    #: Linux 6.1, 64 since).
    charge_batch: int = 64
    #: MAX_RECLAIM_RETRIES: unproductive reclaim rounds before OOM (5 before
    #: Linux 5.9, 16 since).
    reclaim_retries: int = 16
    #: Cgroups cached per CPU stock (1 before Linux 6.16, NR_MEMCG_STOCK = 7
    #: since; a full stock evicts a random slot).
    stock_slots: int = 7
    #: Linux 3.8: the stock serves only single-page charges, a page at a time.
    stock_single_page: bool = False
    #: Refill drains a slot that grows above charge_batch (Linux 4.14+).
    stock_refill_cap: bool = True
    #: cgroup v1 memory+swap counter (memsw) charged alongside memory.
    memsw: bool = False
    #: "always" (Linux 4.6+) or "on_limit": kmem accounting starts with the
    #: first write of a kmem limit (Linux 3.8-4.5).
    kmem_activation: KmemActivation = "always"
    #: memory.kmem.limit_in_bytes: "enforced" (fails kmem charges, no
    #: reclaim: 3.8-5.15), "eopnotsupp" (a write fails with EOPNOTSUPP and
    #: the kmem counter is charged without a limit: 5.16-6.5), "ignored"
    #: (accepted, no effect: 6.6+ on v1) or "absent" (no such file: v2).
    kmem_limit: KmemLimit = "absent"
    #: Linux 3.8 charged the kmem counter before memory; 4.x+ after.
    kmem_first: bool = False
    #: Kernel memory uncharges go through the per-CPU stock (Linux 4.14+).
    kmem_uncharge_via_stock: bool = True
    #: Which counters count failures: "all" (res_counter, also on forced
    #: charges over the limit), "memory" (v1 since 6.15) or "none" (v2).
    failcnt: Failcnt = "none"
    #: Linux 6.16: a charge that may not even spin charges exactly nr_pages.
    allow_spinning_batch: bool = True
    #: Limits written to files round "up" to a page (res_counter) or "down"
    #: (page_counter, Linux 3.19+).
    limit_rounding: Rounding = "down"
    #: Kernel stack pages per task (THREAD_SIZE: 8 KiB before 3.15, 16 KiB since).
    kernel_stack_pages: int = 4
    #: The stack is charged page by page, the pages charged so far given back
    #: when one is refused (VMAP stacks, memcg_charge_kernel_stack); else as
    #: one allocation of all its pages (3.8's order-1 thread_info).
    stack_per_page: bool = True
    #: User page tables are charged as kernel memory (__GFP_ACCOUNT; x86
    #: since 4.8): the PTE, PMD and PUD pages a task's mapping needs.
    pagetables_accounted: bool = True
    #: Hierarchical accounting (always 1 since 5.11; the 3.8 preset uses 1).
    use_hierarchy: bool = True
    #: cgroup2 mount option: memory.events counts only local events.
    memory_localevents: bool = False
    #: cgroup2 mount option: unclaimed protection floats down.
    memory_recursiveprot: bool = False
    #: CONFIG_HZ: jiffies per second, the unit of memory.high throttling
    #: (the delay is computed, never slept: Cgroup.throttle_jiffies).
    hz: int = 1000
    #: The memcg id is given back at offline (Linux 4.8+, 73f576c04b94: only
    #: swap could hold it longer, and swap is not modelled), so dying cgroups
    #: do not use up the 65,535 ids; before, at free (zombies exhaust them).
    id_at_offline: bool = True
    #: What mkdir returns when no memcg id is left: "ENOSPC" (idr, 3.8) or
    #: "EBUSY" (xa_alloc with a limit, current kernels).
    id_errno: IdErrno = "EBUSY"
    #: Whose charge loop runs: "current" (try_charge_memcg, 4.x and later:
    #: one drain, forced NOFAIL/HIGH charges, OOM once) or "3.8"
    #: (__mem_cgroup_try_charge: no forcing, a drain in each failing reclaim
    #: round, retries reset by the OOM path; see Cgroup.oom_livelocks).
    charge_loop: ChargeLoop = "current"
    #: Kernel memory is charged through the cgroup's objcg, which offline
    #: hands to the parent (Linux 5.9+): a removed cgroup holding only kernel
    #: memory is freed at once, its kernel pages still charged to (and later
    #: uncharged from) its nearest online ancestor.
    objcg: bool = True
    #: Offline moves the cgroup's user pages to its parent (3.8
    #: mem_cgroup_reparent_charges): only kernel memory keeps a 3.8 cgroup
    #: dying, and later user uncharges of it come off the parent.
    reparent_user_pages: bool = False
    #: cgroup v1 socket accounting (the ``tcpmem`` counter, memory.kmem.tcp.*).
    #: "page_counter" (Linux 4.5+, ``memcg_update_tcp_max``,
    #: ``memcg1_charge_skmem``): any successful limit write, even "-1", turns
    #: accounting on for the cgroup's new sockets, for good; a charge is a
    #: ``page_counter_try_charge``, forced with GFP_NOFAIL; a failure sets the
    #: cgroup's pressure flag, a success clears it.  "res_counter" (3.x
    #: ``tcp_update_limit``, ``memcg_memory_allocated_add``): only a finite
    #: limit turns it on and "-1" turns it off again (for new sockets); a
    #: charge goes up every level with ``res_counter_charge_nofail`` (max_usage
    #: and each over-limit level's failcnt move) and is taken back when a
    #: level ended over its limit, unless GFP_NOFAIL (a stream send under its
    #: sndbuf); a failure sets the socket's cgroup's flag, a success clears
    #: it on that cgroup and every ancestor (``sk_leave_memory_pressure``).
    #: Eras: "res_counter" is tcp_memcontrol.c up to 3.18; 3.19-4.4 kept its
    #: activation rule on page counters (not modelled); 4.5 moved socket
    #: accounting into memcontrol.c ("page_counter").
    tcpmem_counter: TcpmemCounter = "page_counter"
    #: Which kernel allocations a task makes are charged (SPEC 6,
    #: :meth:`Task.kmem_alloc`), where the cgroup is not the root and its
    #: kmem accounting is active: "whitelist" (Linux 4.5+, a9bb7e620efd:
    #: only allocations flagged ``GFP_ACCOUNT`` or from a ``SLAB_ACCOUNT``
    #: cache) or "blacklist" (3.8-4.4: every allocation in process context).
    #: Never in interrupt context.  Kernel stacks and page tables follow
    #: their own fields (both eras charge stacks; page tables see
    #: ``pagetables_accounted``).
    kmem_accounting: KmemAccounting = "whitelist"
    #: How slab objects are accounted (:meth:`Hierarchy.kmem_cache_create`,
    #: ``pymemcg/slab.py``): "clone" (Linux 3.8-5.8: each cgroup gets its own
    #: clone of a root cache, created by queued work on its first accounted
    #: allocation; whole slab pages are charged to the clone's cgroup),
    #: "objcg" (Linux 5.9+: one set of caches; each object is charged its
    #: slot size plus the 8-byte objcg pointer, in bytes, through the per-CPU
    #: object stock) or "none" (nothing charged: the unaccounted baseline).
    #: "auto" follows ``objcg``: "objcg" where it is set, else "clone".
    #: "clone" needs ``objcg=False`` and "objcg" needs ``objcg=True``.
    slab_mode: SlabMode = "auto"
    #: Clone mode: a removed cgroup's caches go to its parent (Linux 5.3-5.8),
    #: so the cgroup is freed at once and its slab pages are uncharged from
    #: the parent; else (3.8-5.2) the dying caches keep it a zombie until
    #: their last slab page is freed.
    slab_reparent: bool = False
    #: Clone mode: the queued creation of a clone runs by itself at the start
    #: of the ``slab_work_delay``-th object allocation after it was queued
    #: (1: before the very next one); 0: only :meth:`Hierarchy.run_pending_work`.
    slab_work_delay: int = 1
    #: Clone mode: how a clone is named: "kmemcg_id" (3.8-3.19:
    #: ``dentry(0:a)``, the cgroup's kmem cache id, from 0 in activation
    #: order), "css_id" (4.0-4.6: ``dentry(2:a)``, the memcg id standing in
    #: for css->id) or "serial" (4.7-5.8: ``dentry(5:a)``, the cgroup's
    #: creation serial number, never reused).
    slab_clone_name: SlabCloneName = "serial"
    #: Seed of the per-CPU stock eviction generators (splitmix64, seed + cpu).
    seed: int = 0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _CHOICES:
                if value not in _CHOICES[f.name]:
                    raise InvalidError(f"{f.name} must be one of {_CHOICES[f.name]}, not {value!r}")
            elif f.type in ("bool",):
                if not isinstance(value, bool):
                    raise InvalidTypeError(f"{f.name} must be a bool, not {type(value).__name__}")
            elif f.type in ("int",):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InvalidTypeError(f"{f.name} must be an int, not {type(value).__name__}")
        _check_range("version", self.version, 1, 2)
        _check_range("ncpus", self.ncpus, 1, 1024)
        _check_range("charge_batch", self.charge_batch, 1, 1 << 20)
        _check_range("reclaim_retries", self.reclaim_retries, 0, 1 << 20)
        _check_range("stock_slots", self.stock_slots, 1, 16)
        _check_range("kernel_stack_pages", self.kernel_stack_pages, 1, 1 << 10)
        _check_range("seed", self.seed, 0, 2**64 - 1)
        _check_range("hz", self.hz, 1, 100000)
        _check_range("slab_work_delay", self.slab_work_delay, 0, 1 << 30)
        if self.slab_mode == "clone" and self.objcg:
            raise InvalidError("slab_mode 'clone' (3.8-5.8) needs objcg=False")
        if self.slab_mode == "objcg" and not self.objcg:
            raise InvalidError("slab_mode 'objcg' (5.9+) needs objcg=True")
        if self.version == 2 and (self.memsw or self.kmem_limit != "absent" or self.kmem_first):
            raise InvalidError("cgroup v2 has no memsw counter, no kmem counter and no kmem limit")
        if not self.stock_refill_cap and self.stock_slots != 1:
            raise InvalidError("an uncapped stock (before Linux 4.14) has exactly one slot")
        if self.objcg and self.reparent_user_pages:
            raise InvalidError("objcg (5.9+) and reparent_user_pages (3.8) belong to two eras")
        if self.version == 1 and self.kmem_limit == "absent":
            raise InvalidError("cgroup v1 always has memory.kmem.limit_in_bytes")

    def replace(self, **changes: Any) -> "Config":
        """A copy with some fields changed (validated like a new Config)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def linux_3_8(cls, ncpus: int = 1, **changes: Any) -> "Config":
        """Linux 3.8, the kernel of the kmem controller's design (cgroup v1,
        res_counter era; two deliberate differences, see DESIGN.md)."""
        return _preset(
            dict(version=1, ncpus=ncpus, charge_batch=32, reclaim_retries=5, stock_slots=1,
                 stock_single_page=False, stock_refill_cap=False, memsw=True,
                 kmem_activation="on_limit", kmem_limit="enforced", kmem_first=True,
                 kmem_uncharge_via_stock=False, failcnt="all", allow_spinning_batch=False,
                 limit_rounding="up", kernel_stack_pages=2, id_at_offline=False,
                 id_errno="ENOSPC", charge_loop="3.8", objcg=False,
                 reparent_user_pages=True, stack_per_page=False,
                 pagetables_accounted=False, tcpmem_counter="res_counter",
                 kmem_accounting="blacklist", slab_clone_name="kmemcg_id"),
            changes,
        )

    @classmethod
    def current(cls, ncpus: int = 1, **changes: Any) -> "Config":
        """A current kernel (Linux 6.16+) on the cgroup v2 hierarchy."""
        return _preset(dict(version=2, ncpus=ncpus), changes)

    @classmethod
    def current_v1(cls, ncpus: int = 1, **changes: Any) -> "Config":
        """A current kernel with the cgroup v1 memory controller (what many
        container hosts run)."""
        return _preset(
            dict(version=1, ncpus=ncpus, memsw=True, kmem_limit="ignored", failcnt="memory"),
            changes,
        )

    @property
    def slab(self) -> str:
        """The slab mode in force: ``slab_mode`` with "auto" resolved."""
        if self.slab_mode == "auto":
            return "objcg" if self.objcg else "clone"
        return self.slab_mode

    @property
    def counters(self) -> tuple[str, ...]:
        """The page counters each cgroup has, in this order."""
        return ("memory", "memsw", "kmem", "tcpmem") if self.version == 1 else ("memory", "swap")


def _preset(fields: dict[str, Any], changes: dict[str, Any]) -> Config:
    """A preset's fields with the caller's changes on top (validated once)."""
    unknown = set(changes) - {f.name for f in dataclasses.fields(Config)}
    if unknown:
        raise InvalidTypeError(f"Config has no field(s) {sorted(unknown)}")
    return Config(**{**fields, **changes})


def _check_range(name: str, value: int, lo: int, hi: int) -> None:
    if not lo <= value <= hi:
        raise InvalidError(f"{name} must be in {lo}..{hi}, not {value}")
