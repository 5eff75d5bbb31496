"""The sink protocol: what the speaker asks of a dataplane."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs

from evpn.sink.ops import Entry, Op

__all__ = ["OpError", "Sink"]


@attrs.frozen
class OpError:
    """An operation the dataplane refused, and why (for a kernel: the errno's text)."""

    op: Op
    reason: str


class Sink(Protocol):
    """A dataplane the speaker programs.

    ``apply`` installs a batch of operations in order and reports the ones that failed
    (one refused entry never stops the others).  ``reconcile`` makes the dataplane hold
    exactly ``desired`` among the entries this sink owns: it removes owned entries not in it
    and installs missing or different ones; entries it does not own are never touched.
    Both may be called from trio; a sink that blocks does so in a thread of its own.
    """

    async def apply(self, ops: Sequence[Op]) -> list[OpError]:
        """Install ``ops`` in order; the ones that failed."""
        ...

    async def reconcile(self, desired: Mapping[object, Entry]) -> list[OpError]:
        """Make the owned entries exactly ``desired``; the operations that failed."""
        ...

    async def aclose(self) -> None:
        """Release the sink's resources (the entries stay installed)."""
        ...
