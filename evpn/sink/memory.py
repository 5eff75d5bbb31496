"""An in-memory sink: for tests, and for programs that feed another dataplane."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evpn.sink.base import OpError
from evpn.sink.ops import Action, Entry, Op

__all__ = ["MemorySink"]


class MemorySink:
    """Records what it is asked to install.

    :attr:`state` is the resulting table (entry key → entry), :attr:`log` every operation in
    order, and :attr:`redundant` the operations that changed nothing (installing an entry
    that is already there as it is, removing one that is not there): a translation that is
    idempotent and minimal leaves it empty.
    """

    def __init__(self) -> None:
        self.state: dict[object, Entry] = {}
        self.log: list[Op] = []
        self.redundant: list[Op] = []

    def apply_now(self, ops: Sequence[Op]) -> list[OpError]:
        """:meth:`apply` without awaiting."""
        for op in ops:
            self.log.append(op)
            key = op.entry.key
            if op.action is Action.REPLACE:
                if self.state.get(key) == op.entry:
                    self.redundant.append(op)
                self.state[key] = op.entry
            elif self.state.pop(key, None) is None:
                self.redundant.append(op)
        return []

    async def apply(self, ops: Sequence[Op]) -> list[OpError]:
        """Install ``ops`` in order (see :class:`~evpn.sink.base.Sink`)."""
        return self.apply_now(ops)

    async def reconcile(self, desired: Mapping[object, Entry]) -> list[OpError]:
        """Make :attr:`state` exactly ``desired`` (logged as the operations it took)."""
        ops = [Op(Action.REMOVE, entry) for key, entry in self.state.items() if key not in desired]
        ops += [Op(Action.REPLACE, entry) for key, entry in desired.items() if self.state.get(key) != entry]
        return self.apply_now(ops)

    async def aclose(self) -> None:
        """Nothing to release."""
