"""Typed events a running speaker reports (``Speaker.events()``), and their JSON form.

Besides the session and route events defined here, the RIB's VNI/VRF deltas
(:mod:`evpn.rib.deltas`: :class:`MacChange`, :class:`NeighborChange`, :class:`FloodChange`,
:class:`PrefixChange`) are events too.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs

from evpn.rib.deltas import (
    FloodChange,
    FloodEntry,
    MacChange,
    Neighbor,
    NeighborChange,
    PrefixChange,
    RemoteMac,
    VrfRoute,
)
from evpn.types import format_ip, format_mac
from evpn.wire.attributes import Attribute, Nlri
from evpn.wire.jsonform import attributes_json, nlri_json

__all__ = [
    "EndOfRib",
    "Event",
    "FloodChange",
    "MacChange",
    "NeighborChange",
    "PeerDown",
    "PeerUp",
    "PrefixChange",
    "RouteAdded",
    "RouteWithdrawn",
    "event_json",
]


@attrs.frozen
class PeerUp:
    """A session reached Established (RFC 4271 §8.2.2) with these negotiated families."""

    peer: str
    asn: int
    families: tuple[str, ...]


@attrs.frozen
class PeerDown:
    """A session left Established, or failed before it; ``reason`` says why in words."""

    peer: str
    reason: str


@attrs.frozen
class RouteAdded:
    """A route was received, or received again with new attributes (implicit withdraw, RFC 4271 §3.1)."""

    peer: str
    route: Nlri
    attributes: tuple[Attribute, ...]
    next_hop: bytes = attrs.field(repr=lambda v: repr(format_ip(v) if len(v) in (4, 16) else v.hex()))
    best: str | None = None
    """Why this path is now the route's best path (a :class:`~evpn.rib.Reason`'s text, such as
    ``"only-path"`` or ``"sequence"``), or ``None`` when another path is best."""


@attrs.frozen
class RouteWithdrawn:
    """A route was withdrawn: explicitly, by RFC 7606 treat-as-withdraw, or because its session went down."""

    peer: str
    route: Nlri


@attrs.frozen
class EndOfRib:
    """The peer finished its initial table transfer for a family (RFC 4724 §2); ``routes`` is how
    many routes of that family the speaker then held from the peer."""

    peer: str
    family: str
    routes: int


Event: TypeAlias = (
    PeerUp | PeerDown | RouteAdded | RouteWithdrawn | EndOfRib | MacChange | NeighborChange | FloodChange | PrefixChange
)


def _entry_json(entry: RemoteMac | Neighbor | FloodEntry | VrfRoute | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    if isinstance(entry, RemoteMac):
        return {"vtep": format_ip(entry.vtep), "vni": entry.vni, "sequence": entry.sequence, "sticky": entry.sticky}
    if isinstance(entry, Neighbor):
        return {"mac": format_mac(entry.mac), "vtep": format_ip(entry.vtep)}
    if isinstance(entry, FloodEntry):
        return {"vni": entry.vni}
    hops = [{"vtep": format_ip(h.vtep), "router_mac": format_mac(h.router_mac), "vni": h.vni} for h in entry.next_hops]
    return {"next_hops": hops}


def event_json(event: Event) -> dict[str, Any]:
    """The JSON object ``python -m evpn run --json`` prints for ``event``."""
    if isinstance(event, PeerUp):
        return {"event": "peer_up", "peer": event.peer, "asn": event.asn, "families": list(event.families)}
    if isinstance(event, PeerDown):
        return {"event": "peer_down", "peer": event.peer, "reason": event.reason}
    if isinstance(event, EndOfRib):
        return {"event": "end_of_rib", "peer": event.peer, "family": event.family, "routes": event.routes}
    if isinstance(event, RouteAdded):
        out: dict[str, Any] = {"event": "route", "action": "add", "peer": event.peer, "route": nlri_json(event.route)}
        if len(event.next_hop) in (4, 16):
            out["next_hop"] = format_ip(event.next_hop)
        out["attributes"] = attributes_json(event.attributes)
        out["best"] = event.best
        return out
    if isinstance(event, RouteWithdrawn):
        return {"event": "route", "action": "withdraw", "peer": event.peer, "route": nlri_json(event.route)}
    if isinstance(event, MacChange):
        head: dict[str, Any] = {"event": "mac", "vni": event.vni, "mac": format_mac(event.mac)}
    elif isinstance(event, NeighborChange):
        head = {"event": "neighbor", "vni": event.vni, "ip": format_ip(event.ip)}
    elif isinstance(event, FloodChange):
        head = {"event": "flood", "vni": event.vni, "vtep": format_ip(event.vtep)}
    else:
        head = {"event": "prefix", "vrf": event.vrf, "prefix": f"{format_ip(event.prefix)}/{event.length}"}
    return {**head, "old": _entry_json(event.old), "new": _entry_json(event.new)}
