"""Read-only views shared by both backends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._common import PageCounterState

__all__ = ["CounterView"]


class CounterView:
    """A read-only view of one of a cgroup's page counters (``g.memory``,
    ``g.memsw``, ``g.kmem``, ``g.tcpmem``, ``g.swap``).

    Every property reads the live value (pages).  Limits change through the
    interface files, which apply the kernel's rules.
    """

    __slots__ = ("cgroup", "name")

    if TYPE_CHECKING:  # the properties are made from PageCounterState's fields below
        usage: int
        max: int
        min: int
        low: int
        high: int
        watermark: int
        local_watermark: int
        failcnt: int
        emin: int
        elow: int
        min_usage: int
        low_usage: int
        children_min_usage: int
        children_low_usage: int

    def __init__(self, cgroup: Any, name: str) -> None:
        self.cgroup = cgroup
        self.name = name

    def snapshot(self) -> PageCounterState:
        """Every field at once."""
        state: PageCounterState = self.cgroup._counter_state(self.name)
        return state

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, CounterView) and other.cgroup is self.cgroup
                and other.name == self.name)

    def __hash__(self) -> int:
        return hash((id(self.cgroup), self.name))

    def __repr__(self) -> str:
        s = self.snapshot()
        return f"<CounterView {self.cgroup.path or '/'}:{self.name} usage={s.usage} max={s.max}>"


def _field(name: str) -> property:
    def get(self: CounterView) -> int:
        return getattr(self.snapshot(), name)  # type: ignore[no-any-return]

    get.__doc__ = f"The counter's ``{name}`` (pages)."
    return property(get)


for _name in PageCounterState.__dataclass_fields__:
    setattr(CounterView, _name, _field(_name))
del _name
