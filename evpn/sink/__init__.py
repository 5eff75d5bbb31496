"""Dataplane sinks: the RIB's deltas as kernel (or other) entries.

:mod:`evpn.sink.translate` maps deltas to :mod:`evpn.sink.ops` operations; a :class:`Sink`
installs them.  :class:`MemorySink` records them; :class:`evpn.sink.netlink.NetlinkSink`
(needs ``pyroute2``, the ``netlink`` extra) programs a Linux VTEP.  See ``docs/dataplane.md``.
"""

from evpn.sink.base import OpError, Sink
from evpn.sink.memory import MemorySink
from evpn.sink.ops import Action, Entry, FdbEntry, FloodEntry, NeighborEntry, Op, RouteEntry
from evpn.sink.translate import L2Devices, L3Devices, Translator, mapped_ipv6

__all__ = [
    "Action",
    "Entry",
    "FdbEntry",
    "FloodEntry",
    "L2Devices",
    "L3Devices",
    "MemorySink",
    "NeighborEntry",
    "Op",
    "OpError",
    "RouteEntry",
    "Sink",
    "Translator",
    "mapped_ipv6",
]
