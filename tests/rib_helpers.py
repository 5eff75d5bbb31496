"""Builders shared by the RIB tests: sources, routes, attribute tuples and paths.

Addresses: VTEPs, router IDs and peers in 198.18.0.0/15, hosts in 198.19.0.0/16.
"""

from __future__ import annotations

from evpn.rib import Path, Rib, Source, path_attributes
from evpn.types import ip_bytes
from evpn.wire import (
    AsPath,
    AsPathSegment,
    Attribute,
    ClusterList,
    Encapsulation,
    ExtCommunity,
    ExtendedCommunities,
    InclusiveMulticastRoute,
    IPPrefixRoute,
    LocalPref,
    MacIpRoute,
    MacMobility,
    MultiExitDisc,
    Nlri,
    Origin,
    OriginatorId,
    PmsiTunnel,
    RouterMac,
    RouteTarget,
)

EVPN = (25, 70)
AS_SET, AS_SEQUENCE = 1, 2

OUR_ASN = 65000
OUR_ID = "198.18.0.1"
PEER_ASN = 65001

RT_L2 = RouteTarget.parse("65000:100")
RT_L2B = RouteTarget.parse("65000:200")
RT_L3 = RouteTarget.parse("65000:5000")
RT_OTHER = RouteTarget.parse("65000:999")

VNI, VNI_B, L3VNI, VRF = 100, 200, 5000, "blue"

VTEP_A, VTEP_B, VTEP_C = "198.18.0.2", "198.18.0.3", "198.18.0.4"
RD_A, RD_B, RD_C, RD_LOCAL = "198.18.0.2:1", "198.18.0.3:1", "198.18.0.4:1", "198.18.0.1:1"
MAC1, MAC2 = "02:00:00:00:00:01", "02:00:00:00:00:02"
HOST1, HOST2 = "198.19.100.11", "198.19.100.12"
RMAC_A, RMAC_B = "02:aa:00:00:00:02", "02:aa:00:00:00:03"


def ip(text: str) -> bytes:
    return ip_bytes(text)


def as_int(text: str) -> int:
    return int.from_bytes(ip_bytes(text), "big")


def ibgp(address: str, *, client: bool = False, router_id: str | None = None) -> Source:
    return Source(address, OUR_ASN, as_int(router_id or address), ibgp=True, rr_client=client)


def ebgp(address: str, *, asn: int = PEER_ASN, router_id: str | None = None) -> Source:
    return Source(address, asn, as_int(router_id or address), ibgp=False)


def make_rib(*, cluster_id: str | None = None, two_vnis: bool = False) -> Rib:
    vnis = [(VNI, [RT_L2])] + ([(VNI_B, [RT_L2B])] if two_vnis else [])
    return Rib(OUR_ASN, OUR_ID, cluster_id=cluster_id, vnis=vnis, vrfs=[(VRF, L3VNI, [RT_L3])])


def mac_route(rd: str = RD_A, mac: str = MAC1, host: str | None = None, *, label2: int | None = None) -> MacIpRoute:
    return MacIpRoute(rd=rd, mac=mac, ip=host, label1=VNI, label2=label2)


def imet(rd: str = RD_A, originator: str = VTEP_A) -> InclusiveMulticastRoute:
    return InclusiveMulticastRoute(rd=rd, originator_ip=originator)


def prefix(rd: str = RD_A, network: str = "198.19.50.0", length: int = 24) -> IPPrefixRoute:
    return IPPrefixRoute(rd=rd, prefix=network, prefix_length=length, label=L3VNI)


def attrs_(
    *rts: RouteTarget,
    seq: int | None = None,
    sticky: bool = False,
    rmac: str | None = None,
    local_pref: int | None = None,
    as_path: tuple[AsPathSegment, ...] | None = None,
    origin: int | None = None,
    med: int | None = None,
    originator: str | None = None,
    cluster: tuple[str, ...] = (),
    pmsi: str | None = None,
) -> tuple[Attribute, ...]:
    """An attribute tuple as a peer sends it: type-code order, only the attributes asked for."""
    out: list[Attribute] = []
    if origin is not None:
        out.append(Origin(origin))
    if as_path is not None:
        out.append(AsPath(as_path))
    if med is not None:
        out.append(MultiExitDisc(med))
    if local_pref is not None:
        out.append(LocalPref(local_pref))
    if originator is not None:
        out.append(OriginatorId(ip(originator)))
    if cluster:
        out.append(ClusterList(tuple(ip(c) for c in cluster)))
    communities: list[ExtCommunity] = [*rts, Encapsulation()]
    if seq is not None or sticky:
        communities.append(MacMobility(seq or 0, sticky))
    if rmac is not None:
        communities.append(RouterMac(rmac))
    out.append(ExtendedCommunities(tuple(communities)))
    if pmsi is not None:
        out.append(PmsiTunnel(label=VNI, tunnel_id=ip(pmsi)))
    return tuple(out)


def seq_path(*asns: int) -> tuple[AsPathSegment, ...]:
    return (AsPathSegment(AS_SEQUENCE, asns),)


def path(source: Source, route: Nlri, attributes: tuple[Attribute, ...], next_hop: str = VTEP_A) -> Path:
    return Path(source, route, path_attributes(attributes), ip(next_hop))
