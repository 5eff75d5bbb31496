"""Typed events a running speaker reports (``Speaker.events()``), and their JSON form."""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs

from evpn.types import format_ip
from evpn.wire.attributes import Attribute, Nlri
from evpn.wire.jsonform import attributes_json, nlri_json

__all__ = ["EndOfRib", "Event", "PeerDown", "PeerUp", "RouteAdded", "RouteWithdrawn", "event_json"]


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


Event: TypeAlias = PeerUp | PeerDown | RouteAdded | RouteWithdrawn | EndOfRib


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
        return out
    return {"event": "route", "action": "withdraw", "peer": event.peer, "route": nlri_json(event.route)}
