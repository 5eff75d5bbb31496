"""What the RIB tells a dataplane: per-VNI and per-VRF changes, each from ``old`` to ``new``.

The entries describe *remote* state, the state a VTEP must program: MACs behind other
VTEPs, the VTEPs to flood to, neighbour (ARP/ND) entries and VRF routes.  ``old is None``
means the entry is new, ``new is None`` that it is gone; a MAC moving from one VTEP to
another is one :class:`MacChange` with both.  A MAC that a local path wins (it moved to
us) has ``new is None``: the dataplane learns local MACs itself.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs
import netaddr

from evpn.types import format_ip, format_mac

__all__ = [
    "Delta",
    "FloodChange",
    "FloodEntry",
    "MacChange",
    "Neighbor",
    "NeighborChange",
    "PrefixChange",
    "RemoteMac",
    "VrfNextHop",
    "VrfRoute",
]


def _ip_repr(value: bytes) -> str:
    return repr(format_ip(value))


def _mac_repr(value: bytes) -> str:
    return repr(format_mac(value))


@attrs.frozen
class RemoteMac:
    """A MAC behind a remote VTEP, from the best type-2 route for it (RFC 7432 §9.2.2, §15)."""

    vtep: bytes = attrs.field(repr=_ip_repr)
    """The VTEP address: the route's next hop (RFC 8365 §5.1.3)."""
    vni: int
    """The VNI to send with (label1, RFC 8365 §5.1.3)."""
    sequence: int = 0
    """MAC mobility sequence number (RFC 7432 §7.7)."""
    sticky: bool = False
    """Static MAC: it must not be moved (RFC 7432 §15.2)."""

    @property
    def vtep_address(self) -> netaddr.IPAddress:
        """:attr:`vtep` as a :class:`netaddr.IPAddress`."""
        return netaddr.IPAddress(format_ip(self.vtep))


@attrs.frozen
class Neighbor:
    """An IP-to-MAC binding from a type-2 MAC+IP route: what ARP/ND suppression answers with
    (RFC 7432 §10)."""

    mac: bytes = attrs.field(repr=_mac_repr)
    vtep: bytes = attrs.field(repr=_ip_repr)


@attrs.frozen
class FloodEntry:
    """A remote VTEP that joined the VNI's flood list with a type-3 route (RFC 7432 §11,
    RFC 8365 §5.1.3: ingress replication)."""

    vni: int
    """The VNI to send BUM traffic to this VTEP with: the PMSI tunnel label."""


@attrs.frozen
class VrfNextHop:
    """One next hop of a VRF route in symmetric IRB (RFC 9135 §4.2, RFC 9136 §4.4.1)."""

    vtep: bytes = attrs.field(repr=_ip_repr)
    """The remote VTEP."""
    router_mac: bytes = attrs.field(repr=_mac_repr)
    """Its Router's MAC (RFC 9135 §8.1): the inner destination MAC of routed packets."""
    vni: int
    """The L3 VNI: label2 of a type-2 route, the label of a type-5 route."""


@attrs.frozen
class VrfRoute:
    """An IP route in a VRF: one next hop, or several for multipath."""

    next_hops: tuple[VrfNextHop, ...]


@attrs.frozen
class MacChange:
    """A remote MAC in L2 VNI ``vni`` appeared, moved or left."""

    vni: int
    mac: bytes = attrs.field(repr=_mac_repr)
    old: RemoteMac | None
    new: RemoteMac | None


@attrs.frozen
class NeighborChange:
    """A neighbour entry of L2 VNI ``vni`` (keyed by ``ip``) appeared, changed or left."""

    vni: int
    ip: bytes = attrs.field(repr=_ip_repr)
    old: Neighbor | None
    new: Neighbor | None


@attrs.frozen
class FloodChange:
    """Remote VTEP ``vtep`` joined or left L2 VNI ``vni``'s flood list."""

    vni: int
    vtep: bytes = attrs.field(repr=_ip_repr)
    old: FloodEntry | None
    new: FloodEntry | None


@attrs.frozen
class PrefixChange:
    """The route to ``prefix``/``length`` in VRF ``vrf`` appeared, changed or left."""

    vrf: str
    prefix: bytes = attrs.field(repr=_ip_repr)
    length: int
    old: VrfRoute | None
    new: VrfRoute | None

    @property
    def network(self) -> netaddr.IPNetwork:
        """The prefix as a :class:`netaddr.IPNetwork`."""
        return netaddr.IPNetwork(f"{format_ip(self.prefix)}/{self.length}")


Delta: TypeAlias = MacChange | NeighborChange | FloodChange | PrefixChange
"""One change the RIB reports to sinks."""
