"""Kernel entries and the operations on them: what a sink is asked to program.

The entries are those a Linux VTEP needs (``docs/dataplane.md``): remote MACs in a VXLAN
device's forwarding database, the flood list of remote VTEPs (head-end replication), neighbour
entries that make the bridge answer ARP/ND itself, and routes in a VRF's table for symmetric
IRB.  An :class:`Op` replaces (adds or changes) or removes one entry; each entry has a
:attr:`key` naming what it replaces, so that a sink can keep a table of what it installed.
"""

from __future__ import annotations

import enum
from typing import TypeAlias

import attrs

from evpn.types import format_ip, format_mac

__all__ = ["Action", "Entry", "FdbEntry", "FloodEntry", "NeighborEntry", "Op", "RouteEntry"]


def _ip_repr(value: bytes) -> str:
    return repr(format_ip(value))


def _mac_repr(value: bytes) -> str:
    return repr(format_mac(value))


@attrs.frozen
class FdbEntry:
    """A remote MAC behind VTEP ``vtep`` on VXLAN device ``device`` (and its bridge):
    ``bridge fdb replace MAC dev DEVICE dst VTEP self master extern_learn`` (RFC 7432 §9.2.2).
    ``sticky`` MACs (RFC 7432 §15.2) are installed static instead of extern_learn."""

    device: str
    mac: bytes = attrs.field(repr=_mac_repr)
    vtep: bytes = attrs.field(repr=_ip_repr)
    sticky: bool = False

    @property
    def key(self) -> tuple[str, str, bytes]:
        """What this entry replaces: the MAC on the device."""
        return ("fdb", self.device, self.mac)


@attrs.frozen
class FloodEntry:
    """Remote VTEP ``vtep`` in the flood list of VXLAN device ``device``:
    ``bridge fdb append 00:00:00:00:00:00 dev DEVICE dst VTEP self permanent`` (RFC 7432 §11,
    RFC 8365 §5.1.3: ingress replication)."""

    device: str
    vtep: bytes = attrs.field(repr=_ip_repr)

    @property
    def key(self) -> tuple[str, str, bytes]:
        """What this entry replaces: one (all-zero MAC, VTEP) pair on the device."""
        return ("flood", self.device, self.vtep)


@attrs.frozen
class NeighborEntry:
    """An IP-to-MAC binding on ``device`` (an SVI: the bridge): ``ip neigh replace IP lladdr MAC
    dev DEVICE nud noarp extern_learn``.  On an L2 VNI's bridge it makes the bridge answer ARP/ND
    (RFC 7432 §10, ``neigh_suppress``); on an L3 VNI's bridge it resolves a VTEP to its Router's
    MAC (RFC 9135 §4.2)."""

    device: str
    ip: bytes = attrs.field(repr=_ip_repr)
    mac: bytes = attrs.field(repr=_mac_repr)

    @property
    def key(self) -> tuple[str, str, bytes]:
        """What this entry replaces: the IP on the device."""
        return ("neigh", self.device, self.ip)


@attrs.frozen
class RouteEntry:
    """A route in routing table ``table``: ``ip route replace PREFIX/LENGTH table TABLE
    nexthop via VTEP dev DEVICE onlink …`` (RFC 9135 §4.2, RFC 9136 §4.4.1).  ``next_hops``
    are the gateways, IPv4-mapped for an IPv6 prefix over an IPv4 underlay."""

    table: int
    prefix: bytes = attrs.field(repr=_ip_repr)
    length: int
    device: str
    next_hops: tuple[bytes, ...] = attrs.field(repr=lambda v: repr(tuple(format_ip(h) for h in v)))

    @property
    def key(self) -> tuple[str, int, bytes, int]:
        """What this entry replaces: the prefix in the table."""
        return ("route", self.table, self.prefix, self.length)


Entry: TypeAlias = FdbEntry | FloodEntry | NeighborEntry | RouteEntry
"""Anything a sink installs."""


class Action(enum.Enum):
    """What to do with an entry."""

    REPLACE = "replace"
    """Install the entry, replacing the one with the same key."""
    REMOVE = "remove"
    """Remove the entry."""


@attrs.frozen
class Op:
    """One operation for a sink."""

    action: Action
    entry: Entry
