"""The JSON form of messages, attributes, routes and communities.

Every function returns plain ``dict``/``list``/``str``/``int``/``bool``/``None`` values
that :func:`json.dumps` accepts as they are.  The shapes are documented in
``docs/cli.md``; the same shapes are used by ``python -m evpn decode --json`` and by
every other place that shows wire values as JSON.

Conventions: addresses, prefixes, RDs (as FRR prints them), ESIs and MACs are text;
labels are the raw 24-bit field; opaque bytes are lower-case hex; names are lower-case
with hyphens and fall back to the number when a code has no name.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from evpn.errors import BGPError
from evpn.types import ESI, format_ip, format_mac
from evpn.wire.attributes import (
    AS_CONFED_SEQUENCE,
    AS_CONFED_SET,
    AS_SEQUENCE,
    AS_SET,
    Aggregator,
    As4Aggregator,
    As4Path,
    AsPath,
    AsPathSegment,
    AtomicAggregate,
    Attribute,
    ClusterList,
    Communities,
    ExtendedCommunities,
    LargeCommunities,
    LocalPref,
    MpReach,
    MpUnreach,
    MultiExitDisc,
    NextHop,
    Nlri,
    Origin,
    OriginatorId,
    PmsiTunnel,
    UnknownAttribute,
)
from evpn.wire.capabilities import (
    AddPath,
    Capability,
    EnhancedRouteRefresh,
    ExtendedMessage,
    FourOctetAS,
    Fqdn,
    GracefulRestart,
    Multiprotocol,
    RouteRefreshCapability,
    UnknownCapability,
    UnknownParameter,
)
from evpn.wire.codes import AFI, SAFI
from evpn.wire.extcommunities import (
    ArpNd,
    DefaultGateway,
    Encapsulation,
    EsiLabel,
    EsImportRouteTarget,
    ExtCommunity,
    MacMobility,
    RouterMac,
    RouteTarget,
    TunnelType,
    UnknownExtCommunity,
)
from evpn.wire.messages import Keepalive, Message, Notification, Open, RouteRefresh, Update
from evpn.wire.prefixes import OpaqueNlri, Prefix
from evpn.wire.routes import (
    EthernetADRoute,
    EthernetSegmentRoute,
    EvpnRoute,
    InclusiveMulticastRoute,
    IPPrefixRoute,
    MacIpRoute,
    UnknownRoute,
)

__all__ = [
    "JsonObject",
    "action_name",
    "afi_name",
    "as_path_json",
    "attributes_json",
    "capability_json",
    "error_json",
    "error_name",
    "evpn_route_from_json",
    "ext_community_json",
    "message_json",
    "next_hop_json",
    "nlri_json",
    "pmsi_tunnel_json",
    "pmsi_tunnel_type_name",
    "safi_name",
    "tunnel_type_name",
]

JsonObject: TypeAlias = dict[str, Any]
"""A JSON object as built here: string keys, JSON-compatible values."""


def _name(value: int, enum_type: type[enum.IntEnum]) -> str | int:
    try:
        return enum_type(value).name.lower().replace("_", "-")
    except ValueError:
        return value


def afi_name(afi: int) -> str | int:
    """``"ipv4"``, ``"ipv6"``, ``"l2vpn"``, or the number for other AFIs."""
    return _name(afi, AFI)


def safi_name(safi: int) -> str | int:
    """``"unicast"``, ``"multicast"``, ``"evpn"``, ``"mpls-vpn"``, or the number for other SAFIs."""
    return _name(safi, SAFI)


def tunnel_type_name(tunnel_type: int) -> str | int:
    """The encapsulation community's tunnel type (``"vxlan"``, ``"mpls-in-gre"``, ...) or its number."""
    return _name(tunnel_type, TunnelType)


_PMSI_TUNNEL_TYPES = {
    0: "no-tunnel-information",
    1: "rsvp-te-p2mp",
    2: "mldp-p2mp",
    3: "pim-ssm",
    4: "pim-sm",
    5: "bidir-pim",
    6: "ingress-replication",
    7: "mldp-mp2mp",
}


def pmsi_tunnel_type_name(tunnel_type: int) -> str | int:
    """The PMSI tunnel type (RFC 6514 §5: ``"ingress-replication"`` ...) or its number."""
    return _PMSI_TUNNEL_TYPES.get(tunnel_type, tunnel_type)


def action_name(error: BGPError) -> str:
    """The RFC 7606 action of ``error`` as ``"treat-as-withdraw"``, ``"session-reset"``, ..."""
    return error.action.name.lower().replace("_", "-")


def error_name(code: int, subcode: int) -> str:
    """``"UPDATE_MESSAGE/MALFORMED_AS_PATH"``-style name of an error code and subcode."""
    return Notification(code, subcode).name


def error_json(error: BGPError) -> JsonObject:
    """A protocol error: code, subcode, their name, the RFC 7606 action and the field at fault."""
    return {
        "code": error.code,
        "subcode": error.subcode,
        "name": error_name(error.code, error.subcode),
        "action": action_name(error),
        "field": error.field,
    }


# --- routes -----------------------------------------------------------------------


def _with_path_id(out: JsonObject, path_id: int | None) -> JsonObject:
    if path_id is not None:
        out["path_id"] = path_id
    return out


def nlri_json(route: Nlri) -> JsonObject | str:
    """One route: an EVPN route object, a prefix string (an object when it has a path id),
    or ``{"raw": hex}`` for the NLRI of a family that is not decoded."""
    if isinstance(route, Prefix):
        if route.path_id is None:
            return str(route)
        return {"prefix": str(route), "path_id": route.path_id}
    if isinstance(route, OpaqueNlri):
        return {"raw": route.raw.hex()}
    out: JsonObject
    if isinstance(route, MacIpRoute):
        out = {
            "route_type": 2,
            "rd": str(route.rd),
            "esi": str(route.esi),
            "ethernet_tag": route.ethernet_tag,
            "mac": format_mac(route.mac),
            "ip": format_ip(route.ip) if route.ip else None,
            "label1": route.label1,
            "label2": route.label2,
        }
    elif isinstance(route, InclusiveMulticastRoute):
        out = {
            "route_type": 3,
            "rd": str(route.rd),
            "ethernet_tag": route.ethernet_tag,
            "originator_ip": format_ip(route.originator_ip),
        }
    elif isinstance(route, IPPrefixRoute):
        out = {
            "route_type": 5,
            "rd": str(route.rd),
            "esi": str(route.esi),
            "ethernet_tag": route.ethernet_tag,
            "prefix": f"{format_ip(route.prefix)}/{route.prefix_length}",
            "gateway": format_ip(route.gateway),
            "label": route.label,
        }
    elif isinstance(route, EthernetADRoute):
        out = {
            "route_type": 1,
            "rd": str(route.rd),
            "esi": str(route.esi),
            "ethernet_tag": route.ethernet_tag,
            "label": route.label,
        }
    elif isinstance(route, EthernetSegmentRoute):
        out = {
            "route_type": 4,
            "rd": str(route.rd),
            "esi": str(route.esi),
            "originator_ip": format_ip(route.originator_ip),
        }
    elif isinstance(route, UnknownRoute):
        out = {"route_type": route.route_type, "raw": route.raw.hex()}
    else:  # pragma: no cover - every Nlri type is handled above
        raise TypeError(f"not a route: {route!r}")
    return _with_path_id(out, route.path_id)


def evpn_route_from_json(obj: Mapping[str, Any]) -> EvpnRoute:
    """The EVPN route an object in the shape of :func:`nlri_json` describes (its inverse).

    Raises :class:`ValueError` naming the key that is missing or wrong.
    """
    try:
        route_type = obj["route_type"]
        common: dict[str, Any] = {"path_id": obj.get("path_id")}
        if route_type == 2:
            return MacIpRoute(
                rd=obj["rd"],
                esi=obj.get("esi", ESI.ZERO),
                ethernet_tag=obj.get("ethernet_tag", 0),
                mac=obj["mac"],
                ip=obj.get("ip"),
                label1=obj["label1"],
                label2=obj.get("label2"),
                **common,
            )
        if route_type == 3:
            return InclusiveMulticastRoute(
                rd=obj["rd"], ethernet_tag=obj.get("ethernet_tag", 0), originator_ip=obj["originator_ip"], **common
            )
        if route_type == 5:
            prefix, _, length = obj["prefix"].partition("/")
            return IPPrefixRoute(
                rd=obj["rd"],
                esi=obj.get("esi", ESI.ZERO),
                ethernet_tag=obj.get("ethernet_tag", 0),
                prefix=prefix,
                prefix_length=int(length),
                gateway=obj.get("gateway"),
                label=obj["label"],
                **common,
            )
        if route_type == 1:
            return EthernetADRoute(
                rd=obj["rd"], esi=obj["esi"], ethernet_tag=obj.get("ethernet_tag", 0), label=obj["label"], **common
            )
        if route_type == 4:
            return EthernetSegmentRoute(rd=obj["rd"], esi=obj["esi"], originator_ip=obj["originator_ip"], **common)
        return UnknownRoute(route_type=route_type, raw=bytes.fromhex(obj["raw"]), **common)
    except KeyError as exc:
        raise ValueError(f"route {obj!r}: missing key {exc.args[0]!r}") from None


# --- communities and attributes -----------------------------------------------------


def ext_community_json(community: ExtCommunity) -> JsonObject:
    """One extended community as ``{"type": name, ...fields}`` (``"unknown"`` with ``raw`` hex)."""
    if isinstance(community, RouteTarget):
        return {"type": "route-target", "value": str(community)}
    if isinstance(community, Encapsulation):
        return {"type": "encapsulation", "tunnel_type": tunnel_type_name(community.tunnel_type)}
    if isinstance(community, MacMobility):
        return {"type": "mac-mobility", "sequence": community.sequence, "sticky": community.sticky}
    if isinstance(community, RouterMac):
        return {"type": "router-mac", "mac": format_mac(community.mac)}
    if isinstance(community, DefaultGateway):
        return {"type": "default-gateway"}
    if isinstance(community, EsiLabel):
        return {"type": "esi-label", "label": community.label, "single_active": community.single_active}
    if isinstance(community, EsImportRouteTarget):
        return {"type": "es-import-route-target", "mac": format_mac(community.mac)}
    if isinstance(community, ArpNd):
        return {
            "type": "arp-nd",
            "router": community.router,
            "override": community.override,
            "immutable": community.immutable,
            "other_flags": community.other_flags,
        }
    if isinstance(community, UnknownExtCommunity):
        return {"type": "unknown", "raw": community.raw.hex()}
    raise TypeError(f"not an extended community: {community!r}")  # pragma: no cover


def pmsi_tunnel_json(pmsi: PmsiTunnel) -> JsonObject:
    """PMSI_TUNNEL: ``tunnel_type`` name, raw ``label``, and ``endpoint`` for ingress
    replication or ``tunnel_id`` hex for other types; ``tunnel_flags`` only when not zero."""
    out: JsonObject = {"tunnel_type": pmsi_tunnel_type_name(pmsi.tunnel_type), "label": pmsi.label}
    endpoint = pmsi.endpoint
    if endpoint is not None:
        out["endpoint"] = str(endpoint)
    else:
        out["tunnel_id"] = pmsi.tunnel_id.hex()
    if pmsi.tunnel_flags:
        out["tunnel_flags"] = pmsi.tunnel_flags
    return out


_SEGMENT_TYPES = {
    AS_SET: "as-set",
    AS_SEQUENCE: "as-sequence",
    AS_CONFED_SEQUENCE: "as-confed-sequence",
    AS_CONFED_SET: "as-confed-set",
}


def as_path_json(segments: Sequence[AsPathSegment]) -> list[JsonObject]:
    """AS path segments as ``[{"type": "as-sequence", "asns": [...]}, ...]``."""
    return [{"type": _SEGMENT_TYPES[s.type], "asns": list(s.asns)} for s in segments]


def _origin_name(value: int) -> str:
    return ("igp", "egp", "incomplete")[value]


def next_hop_json(next_hop: bytes) -> list[str]:
    """An MP_REACH_NLRI next-hop field as addresses: one (4/16 bytes), global and link-local
    (32), after the zero RD of VPN families (12/24/48), else the field as hex."""
    size = len(next_hop)
    if size in (12, 24, 48):  # RD (always zero, RFC 4364 §4.3.2) + address(es)
        half = size // 2
        return (
            [format_ip(next_hop[8:half]), format_ip(next_hop[half + 8 :])] if size == 48 else [format_ip(next_hop[8:])]
        )
    if size == 32:
        return [format_ip(next_hop[:16]), format_ip(next_hop[16:])]
    if size in (4, 16):
        return [format_ip(next_hop)]
    return [next_hop.hex()] if next_hop else []


def _attribute_value(attr: Attribute) -> tuple[str, Any] | None:
    """(key, value) of one attribute for the ``attributes`` object; ``None`` for MP_(UN)REACH."""
    if isinstance(attr, Origin):
        return "origin", _origin_name(attr.value)
    if isinstance(attr, AsPath):
        return "as_path", as_path_json(attr.segments)
    if isinstance(attr, NextHop):
        return "next_hop", format_ip(attr.address)
    if isinstance(attr, MultiExitDisc):
        return "med", attr.value
    if isinstance(attr, LocalPref):
        return "local_pref", attr.value
    if isinstance(attr, AtomicAggregate):
        return "atomic_aggregate", True
    if isinstance(attr, Aggregator):
        return "aggregator", {"asn": attr.asn, "address": format_ip(attr.address)}
    if isinstance(attr, Communities):
        return "communities", [f"{v >> 16}:{v & 0xFFFF}" for v in attr.values]
    if isinstance(attr, OriginatorId):
        return "originator_id", format_ip(attr.router_id)
    if isinstance(attr, ClusterList):
        return "cluster_list", [format_ip(c) for c in attr.cluster_ids]
    if isinstance(attr, ExtendedCommunities):
        return "extended_communities", [ext_community_json(c) for c in attr.communities]
    if isinstance(attr, As4Path):
        return "as4_path", as_path_json(attr.segments)
    if isinstance(attr, As4Aggregator):
        return "as4_aggregator", {"asn": attr.asn, "address": format_ip(attr.address)}
    if isinstance(attr, PmsiTunnel):
        return "pmsi_tunnel", pmsi_tunnel_json(attr)
    if isinstance(attr, LargeCommunities):
        return "large_communities", [f"{g}:{a}:{b}" for g, a, b in attr.values]
    if isinstance(attr, UnknownAttribute):
        return f"attribute_{attr.type_code}", {"flags": attr.flags, "value": attr.value.hex()}
    return None


def attributes_json(attributes: Sequence[Attribute]) -> JsonObject:
    """The path attributes keyed by lower-case name, in wire order, without MP_REACH_NLRI and
    MP_UNREACH_NLRI (see :func:`message_json`).

    ``as_path`` and ``aggregator`` are the real values: AS_PATH merged with AS4_PATH and
    AGGREGATOR with AS4_AGGREGATOR as RFC 6793 §4.2.3 says; ``as4_path`` and
    ``as4_aggregator`` show those attributes as received when they are present.
    """
    merged = Update(attributes=attributes)
    out: JsonObject = {}
    for attr in attributes:
        item = _attribute_value(attr)
        if item is not None:
            out[item[0]] = item[1]
    if "as_path" in out:
        as_path = merged.as_path
        assert as_path is not None
        out["as_path"] = as_path_json(as_path.segments)
    if "aggregator" in out:
        aggregator = merged.aggregator
        assert aggregator is not None
        out["aggregator"] = {"asn": aggregator.asn, "address": format_ip(aggregator.address)}
    return out


def _mp_reach_json(mp: MpReach) -> JsonObject:
    return {
        "afi": afi_name(mp.afi),
        "safi": safi_name(mp.safi),
        "next_hop": next_hop_json(mp.next_hop),
        "nlri": [nlri_json(r) for r in mp.nlri],
    }


def _mp_unreach_json(mp: MpUnreach) -> JsonObject:
    return {"afi": afi_name(mp.afi), "safi": safi_name(mp.safi), "nlri": [nlri_json(r) for r in mp.nlri]}


# --- capabilities and messages -----------------------------------------------------

_ADD_PATH_MODES = {1: "receive", 2: "send", 3: "both"}


def capability_json(cap: Capability) -> JsonObject:
    """One OPEN capability as ``{"type": name, ...fields}`` (``"unknown"`` with code and value hex)."""
    if isinstance(cap, Multiprotocol):
        return {"type": "multiprotocol", "afi": afi_name(cap.afi), "safi": safi_name(cap.safi)}
    if isinstance(cap, RouteRefreshCapability):
        return {"type": "route-refresh"}
    if isinstance(cap, EnhancedRouteRefresh):
        return {"type": "enhanced-route-refresh"}
    if isinstance(cap, ExtendedMessage):
        return {"type": "extended-message"}
    if isinstance(cap, FourOctetAS):
        return {"type": "four-octet-as", "asn": cap.asn}
    if isinstance(cap, GracefulRestart):
        return {
            "type": "graceful-restart",
            "restart_time": cap.restart_time,
            "restarting": cap.restarting,
            "notification": cap.notification,
            "families": [
                {"afi": afi_name(afi), "safi": safi_name(safi), "forwarding_state": bool(flags & 0x80)}
                for afi, safi, flags in cap.families
            ],
        }
    if isinstance(cap, AddPath):
        return {
            "type": "add-path",
            "families": [
                {"afi": afi_name(afi), "safi": safi_name(safi), "send_receive": _ADD_PATH_MODES.get(mode, mode)}
                for afi, safi, mode in cap.families
            ],
        }
    if isinstance(cap, Fqdn):
        return {"type": "fqdn", "hostname": cap.hostname, "domain": cap.domain}
    if isinstance(cap, UnknownCapability):
        return {"type": "unknown", "code": cap.code, "value": cap.value.hex()}
    raise TypeError(f"not a capability: {cap!r}")  # pragma: no cover


def _open_json(msg: Open) -> JsonObject:
    out: JsonObject = {
        "type": "OPEN",
        "version": msg.version,
        "asn": msg.speaker_asn,
        "hold_time": msg.hold_time,
        "router_id": format_ip(msg.router_id),
        "capabilities": [capability_json(c) for c in msg.capabilities],
    }
    unknown = [p for p in msg.parameters if isinstance(p, UnknownParameter)]
    if unknown:
        out["parameters"] = [{"type": p.type, "value": p.value.hex()} for p in unknown]
    return out


def _update_json(msg: Update) -> JsonObject:
    out: JsonObject = {
        "type": "UPDATE",
        "attributes": attributes_json(msg.attributes),
        "withdrawn": [nlri_json(p) for p in msg.withdrawn],
        "nlri": [nlri_json(p) for p in msg.nlri],
    }
    mp_reach = msg.mp_reach
    if mp_reach is not None:
        out["mp_reach"] = _mp_reach_json(mp_reach)
    mp_unreach = msg.mp_unreach
    if mp_unreach is not None:
        out["mp_unreach"] = _mp_unreach_json(mp_unreach)
    if msg.errors:
        out["errors"] = [error_json(e) for e in msg.errors]
    eor = msg.end_of_rib
    if eor is not None:
        out["end_of_rib"] = {"afi": afi_name(eor[0]), "safi": safi_name(eor[1])}
    return out


def _notification_json(msg: Notification) -> JsonObject:
    out: JsonObject = {
        "type": "NOTIFICATION",
        "code": msg.code,
        "subcode": msg.subcode,
        "name": msg.name,
        "data": msg.data.hex(),
    }
    text = msg.shutdown_communication
    if text is not None:
        out["shutdown_communication"] = text
    return out


def _route_refresh_json(msg: RouteRefresh) -> JsonObject:
    out: JsonObject = {
        "type": "ROUTE-REFRESH",
        "afi": afi_name(msg.afi),
        "safi": safi_name(msg.safi),
        "subtype": msg.subtype,
    }
    if msg.orf:
        out["orf"] = msg.orf.hex()
    return out


def message_json(msg: Message) -> JsonObject:
    """Any decoded message as a JSON object whose ``"type"`` is the message type name."""
    if isinstance(msg, Update):
        return _update_json(msg)
    if isinstance(msg, Open):
        return _open_json(msg)
    if isinstance(msg, Keepalive):
        return {"type": "KEEPALIVE"}
    if isinstance(msg, Notification):
        return _notification_json(msg)
    if isinstance(msg, RouteRefresh):
        return _route_refresh_json(msg)
    raise TypeError(f"not a message: {msg!r}")  # pragma: no cover
