"""Local origination: the EVPN routes a configuration makes us advertise, as FRR sends them.

Pure functions from :class:`~evpn.config.Config` to ``(route, attributes, next hop)``
triples, which :class:`~evpn.speaker.Speaker` announces at start:

* per L2 VNI (``[[vnis]]``) a type-3 Inclusive Multicast Ethernet Tag route for VTEP
  discovery with ingress replication (RFC 7432 §7.3, §11; RFC 8365 §5.1.3);
* per local MAC (``macs``) a type-2 MAC/IP Advertisement route (RFC 7432 §7.2, §9;
  RFC 8365 §5.1.2), with the L3 VNI as label2 and the Router's MAC when the VNI is bound
  to a VRF and the route carries an IP (symmetric IRB, RFC 9135 §5.1, §8.1);
* per VRF prefix (``[[vrfs]]``) a type-5 IP Prefix route (RFC 9136 §3.1, §4.4.1).

Every route carries the export route targets (RFC 4360 §4, RFC 7432 §7.10 / RFC 8365 §5.1.2.1)
and the encapsulation extended community with tunnel type VXLAN (RFC 9012 §4.1, RFC 8365 §5.1.3);
the next hop is the VTEP address (RFC 8365 §5.1.3).  The label fields hold the VNI itself,
all 24 bits (RFC 8365 §5.1.3), as FRR and other VXLAN implementations send it.
"""

from __future__ import annotations

from typing import TypeAlias

from evpn.config import Config, VniConfig, VrfConfig
from evpn.types import ip_bytes
from evpn.wire.attributes import Attribute, ExtendedCommunities, Nlri, PmsiTunnel
from evpn.wire.extcommunities import Encapsulation, ExtCommunity, RouterMac, TunnelType
from evpn.wire.prefixes import Prefix
from evpn.wire.routes import InclusiveMulticastRoute, IPPrefixRoute, MacIpRoute

__all__ = [
    "LocalRoute",
    "find_vni",
    "inclusive_multicast_route",
    "ip_prefix_route",
    "local_routes",
    "mac_ip_route",
    "vrf_vtep",
]

LocalRoute: TypeAlias = tuple[Nlri, tuple[Attribute, ...], str]
"""A route we originate: ``(route, attributes, next hop)``; the next hop is the VTEP address."""

_VXLAN = Encapsulation(TunnelType.VXLAN)


def _communities(*groups: tuple[ExtCommunity, ...]) -> ExtendedCommunities:
    """One EXTENDED_COMMUNITIES attribute (RFC 4360 §2) of ``groups`` in order, duplicates dropped."""
    out: list[ExtCommunity] = []
    for group in groups:
        out.extend(c for c in group if c not in out)
    return ExtendedCommunities(tuple(out))


def find_vni(config: Config, vni: int) -> VniConfig:
    """The ``[[vnis]]`` entry of ``vni``; :class:`ValueError` naming the VNI if there is none."""
    for candidate in config.vnis:
        if candidate.vni == vni:
            return candidate
    configured = ", ".join(str(v.vni) for v in config.vnis) or "none"
    raise ValueError(f"VNI {vni} is not configured (configured VNIs: {configured})")


def _vrf_of(config: Config, vni: VniConfig) -> VrfConfig | None:
    return next((vrf for vrf in config.vrfs if vrf.name == vni.vrf), None) if vni.vrf is not None else None


def vrf_vtep(config: Config, vrf: VrfConfig) -> str:
    """The VTEP address of ``vrf``'s routes: its own, or else the speaker's router ID."""
    return vrf.vtep if vrf.vtep is not None else config.speaker.router_id


def inclusive_multicast_route(vni: VniConfig) -> LocalRoute:
    """The type-3 route of an L2 VNI (RFC 7432 §7.3, RFC 8365 §5.1.3).

    Ethernet Tag 0 (VLAN-based service, one VNI per EVI, RFC 8365 §5.1.2), originator IP
    and PMSI tunnel endpoint the VTEP, PMSI tunnel type ingress replication (RFC 6514 §5,
    RFC 7432 §11.1) with the VNI in the label field (RFC 8365 §5.1.3).
    """
    route = InclusiveMulticastRoute(rd=vni.rd, ethernet_tag=0, originator_ip=vni.vtep)
    attributes: tuple[Attribute, ...] = (
        _communities(vni.export_targets, (_VXLAN,)),
        PmsiTunnel(label=vni.vni, tunnel_id=ip_bytes(vni.vtep)),
    )
    return route, attributes, vni.vtep


def mac_ip_route(config: Config, vni: VniConfig, mac: bytes, ip: bytes = b"") -> LocalRoute:
    """The type-2 route of a local MAC, with its IP if ``ip`` (RFC 7432 §7.2, §9).

    label1 is the L2 VNI (RFC 8365 §5.1.3).  When the VNI is bound to a VRF and the route
    has an IP, label2 is the VRF's L3 VNI and the route also carries the VRF's export route
    targets and the Router's MAC extended community (symmetric IRB, RFC 9135 §5.1, §8.1).
    A MAC-only route is a bridging route and never gets label2 (RFC 9135 §5.1).
    """
    vrf = _vrf_of(config, vni) if ip else None
    if vrf is None:
        route = MacIpRoute(rd=vni.rd, mac=mac, ip=ip, label1=vni.vni)
        return route, (_communities(vni.export_targets, (_VXLAN,)),), vni.vtep
    route = MacIpRoute(rd=vni.rd, mac=mac, ip=ip, label1=vni.vni, label2=vrf.l3vni)
    communities = _communities(vni.export_targets, vrf.export_targets, (_VXLAN, RouterMac(vrf.router_mac)))
    return route, (communities,), vni.vtep


def ip_prefix_route(config: Config, vrf: VrfConfig, prefix: Prefix) -> LocalRoute:
    """The type-5 route of a VRF prefix (RFC 9136 §3.1, §4.4.1: interface-less, gateway 0).

    ESI 0 and gateway IP 0 (the overlay index is the Router's MAC), label the L3 VNI
    (RFC 9136 §4.4.1, RFC 8365 §5.1.3), the VRF's export route targets, VXLAN
    encapsulation and the Router's MAC extended community (RFC 9135 §8.1).
    """
    route = IPPrefixRoute(rd=vrf.rd, prefix=prefix.network, prefix_length=prefix.length, label=vrf.l3vni)
    communities = _communities(vrf.export_targets, (_VXLAN, RouterMac(vrf.router_mac)))
    return route, (communities,), vrf_vtep(config, vrf)


def local_routes(config: Config) -> list[LocalRoute]:
    """Every route ``config`` makes us originate: per VNI its type-3 then its MACs' type-2
    routes, then per VRF its prefixes' type-5 routes, in file order."""
    routes: list[LocalRoute] = []
    for vni in config.vnis:
        routes.append(inclusive_multicast_route(vni))
        routes.extend(mac_ip_route(config, vni, mac, ip) for mac, ip in vni.macs)
    for vrf in config.vrfs:
        routes.extend(ip_prefix_route(config, vrf, prefix) for prefix in vrf.prefixes)
    return routes
