"""Differential tests: the production encoder and the bitstring reference encoder
(:mod:`reference_encoder`, written from the RFC layouts) agree byte for byte.

Values come from :mod:`strategies`; the tests read their fields back as plain ints, bytes
and text and hand those to the reference, which knows nothing of the project's classes.
Where the reference builds bytes from typed fields the codec keeps opaque (RD, ESI), the
comparison runs the other way: the production parser/accessors read the reference bytes.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
import reference_encoder as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from evpn.testing import strategies as gen
from evpn.types import ESI, RouteDistinguisher
from evpn.wire import (
    AFI,
    SAFI,
    AddPath,
    Aggregator,
    ArpNd,
    As4Aggregator,
    As4Path,
    AsPath,
    AsPathSegment,
    AtomicAggregate,
    CapabilityParameter,
    ClusterList,
    Communities,
    Context,
    DefaultGateway,
    Encapsulation,
    EnhancedRouteRefresh,
    EsiLabel,
    EsImportRouteTarget,
    EthernetADRoute,
    EthernetSegmentRoute,
    ExtendedCommunities,
    ExtendedMessage,
    FourOctetAS,
    Fqdn,
    GracefulRestart,
    InclusiveMulticastRoute,
    IPPrefixRoute,
    Keepalive,
    LargeCommunities,
    LocalPref,
    MacIpRoute,
    MacMobility,
    MpReach,
    MpUnreach,
    MultiExitDisc,
    Multiprotocol,
    NextHop,
    Notification,
    OpaqueNlri,
    Open,
    Origin,
    OriginatorId,
    PmsiTunnel,
    Prefix,
    RouteRefresh,
    RouteRefreshCapability,
    RouterMac,
    RouteTarget,
    UnknownAttribute,
    UnknownCapability,
    UnknownExtCommunity,
    UnknownParameter,
    UnknownRoute,
    Update,
    decode_evpn_nlri,
    decode_ext_community,
    decode_message,
    encode_attribute,
    encode_evpn_nlri,
    pack_updates,
    pack_withdrawals,
)

# --- plain-value adapters: production object -> reference call -------------------------


def ref_nlri(item: Any) -> bytes:
    """The reference encoding of one NLRI item, from its fields."""
    pid = getattr(item, "path_id", None)
    if isinstance(item, EthernetADRoute):
        return ref.evpn_ethernet_ad(item.rd.raw, item.esi.raw, item.ethernet_tag, item.label, pid)
    if isinstance(item, MacIpRoute):
        return ref.evpn_mac_ip(
            item.rd.raw, item.esi.raw, item.ethernet_tag, item.mac, item.ip, item.label1, item.label2, pid
        )
    if isinstance(item, InclusiveMulticastRoute):
        return ref.evpn_inclusive_multicast(item.rd.raw, item.ethernet_tag, item.originator_ip, pid)
    if isinstance(item, EthernetSegmentRoute):
        return ref.evpn_ethernet_segment(item.rd.raw, item.esi.raw, item.originator_ip, pid)
    if isinstance(item, IPPrefixRoute):
        return ref.evpn_ip_prefix(
            item.rd.raw, item.esi.raw, item.ethernet_tag, item.prefix_length, item.prefix, item.gateway, item.label, pid
        )
    if isinstance(item, UnknownRoute):
        return ref.evpn_nlri(item.route_type, item.raw, pid)
    if isinstance(item, Prefix):
        return ref.ip_prefix(item.network, item.length, pid)
    if isinstance(item, OpaqueNlri):
        return item.raw
    raise TypeError(item)


def ref_ext_community(c: Any) -> bytes:
    if isinstance(c, RouteTarget):
        return ref.ext_route_target(c.kind, c.administrator, c.assigned)
    if isinstance(c, Encapsulation):
        return ref.ext_encapsulation(c.tunnel_type)
    if isinstance(c, DefaultGateway):
        return ref.ext_default_gateway()
    if isinstance(c, MacMobility):
        return ref.ext_mac_mobility(c.sequence, c.sticky)
    if isinstance(c, EsiLabel):
        return ref.ext_esi_label(c.label, c.single_active)
    if isinstance(c, EsImportRouteTarget):
        return ref.ext_es_import(c.mac)
    if isinstance(c, RouterMac):
        return ref.ext_router_mac(c.mac)
    if isinstance(c, ArpNd):
        return ref.ext_arp_nd(c.router, c.override, c.immutable, c.other_flags)
    if isinstance(c, UnknownExtCommunity):
        return c.raw
    raise TypeError(c)


def ref_value(a: Any, ctx: Context) -> bytes:
    """The reference encoding of an attribute's value."""
    four = ctx.four_octet_as
    if isinstance(a, Origin):
        return ref.origin(a.value)
    if isinstance(a, AsPath):
        return ref.as_path([(s.type, s.asns) for s in a.segments], four)
    if isinstance(a, As4Path):
        return ref.as_path([(s.type, s.asns) for s in a.segments], True)
    if isinstance(a, NextHop | OriginatorId):
        return ref.ipv4(a.address if isinstance(a, NextHop) else a.router_id)
    if isinstance(a, MultiExitDisc | LocalPref):
        return ref.u32_value(a.value)
    if isinstance(a, AtomicAggregate):
        return b""
    if isinstance(a, Aggregator):
        return ref.aggregator(a.asn, a.address, four)
    if isinstance(a, As4Aggregator):
        return ref.aggregator(a.asn, a.address, True)
    if isinstance(a, Communities):
        return ref.communities(a.values)
    if isinstance(a, ClusterList):
        return b"".join(ref.ipv4(c) for c in a.cluster_ids)
    if isinstance(a, MpReach):
        return ref.mp_reach(a.afi, a.safi, a.next_hop, b"".join(ref_nlri(n) for n in a.nlri))
    if isinstance(a, MpUnreach):
        return ref.mp_unreach(a.afi, a.safi, b"".join(ref_nlri(n) for n in a.nlri))
    if isinstance(a, ExtendedCommunities):
        return b"".join(ref_ext_community(c) for c in a.communities)
    if isinstance(a, PmsiTunnel):
        return ref.pmsi_tunnel(a.tunnel_flags, a.tunnel_type, a.label, a.tunnel_id)
    if isinstance(a, LargeCommunities):
        return ref.large_communities(a.values)
    if isinstance(a, UnknownAttribute):
        return a.value
    raise TypeError(a)


def ref_attribute(a: Any, ctx: Context) -> bytes:
    f = a.flags
    assert f & 0x0F == 0, "strategies keep the unused flag bits zero"
    return ref.attribute(
        a.type_code,
        ref_value(a, ctx),
        optional=bool(f & 0x80),
        transitive=bool(f & 0x40),
        partial=bool(f & 0x20),
        extended=bool(f & 0x10),
    )


def ref_capability_value(c: Any) -> bytes:
    if isinstance(c, Multiprotocol):
        return ref.cap_multiprotocol(c.afi, c.safi)
    if isinstance(c, RouteRefreshCapability | EnhancedRouteRefresh | ExtendedMessage):
        return b""
    if isinstance(c, FourOctetAS):
        return ref.cap_four_octet_as(c.asn)
    if isinstance(c, GracefulRestart):
        return ref.cap_graceful_restart(c.restarting, c.notification, c.reserved_flags, c.restart_time, c.families)
    if isinstance(c, AddPath):
        return ref.cap_add_path(c.families)
    if isinstance(c, Fqdn):
        return ref.cap_fqdn(c.hostname, c.domain)
    if isinstance(c, UnknownCapability):
        return c.value
    raise TypeError(c)


CAPABILITY_CODES = {
    Multiprotocol: 1,
    RouteRefreshCapability: 2,
    ExtendedMessage: 6,
    GracefulRestart: 64,
    FourOctetAS: 65,
    AddPath: 69,
    EnhancedRouteRefresh: 70,
    Fqdn: 73,
}


def ref_parameter(p: Any) -> tuple[int, bytes]:
    if isinstance(p, CapabilityParameter):
        caps = b"".join(
            ref.capability(
                c.code if isinstance(c, UnknownCapability) else CAPABILITY_CODES[type(c)], ref_capability_value(c)
            )
            for c in p.capabilities
        )
        return 2, caps
    assert isinstance(p, UnknownParameter)
    return p.type, p.value


def ref_message(m: Any, ctx: Context) -> bytes:
    if isinstance(m, Update):
        return ref.update(
            b"".join(ref_nlri(p) for p in m.withdrawn),
            b"".join(ref_attribute(a, ctx) for a in m.attributes),
            b"".join(ref_nlri(p) for p in m.nlri),
        )
    if isinstance(m, Open):
        return ref.open_message(
            m.version,
            m.asn,
            m.hold_time,
            m.router_id,
            [ref_parameter(p) for p in m.parameters],
            extended=m.extended_parameters,
        )
    if isinstance(m, Notification):
        return ref.notification(m.code, m.subcode, m.data)
    if isinstance(m, Keepalive):
        return ref.keepalive()
    if isinstance(m, RouteRefresh):
        return ref.route_refresh(m.afi, m.safi, m.subtype, m.orf)
    raise TypeError(m)


# --- RD and ESI: reference bytes from typed fields, read by the production code ----------


@st.composite
def rd_cases(draw: st.DrawFn) -> tuple[str, bytes, int, int | str, int]:
    """(text, reference bytes, type, administrator, assigned number)."""
    kind = draw(st.sampled_from([0, 1, 2]))
    if kind == 0:
        asn, nn = draw(gen.u16), draw(gen.u32)
        return f"{asn}:{nn}", ref.rd_type0(asn, nn), 0, asn, nn
    if kind == 1:
        addr, nn = str(ipaddress.IPv4Address(draw(gen.ipv4s))), draw(gen.u16)
        return f"{addr}:{nn}", ref.rd_type1(addr, nn), 1, addr, nn
    asn, nn = draw(st.integers(0x10000, 0xFFFFFFFF)), draw(gen.u16)
    return f"{asn}:{nn}", ref.rd_type2(asn, nn), 2, asn, nn


@given(rd_cases())
def test_rd_parse_matches_reference(case: tuple[str, bytes, int, int | str, int]) -> None:
    text, wire, rd_type, admin, assigned = case
    rd = RouteDistinguisher.parse(text)
    assert rd.raw == wire
    assert (rd.type, rd.administrator, rd.assigned) == (rd_type, admin, assigned)
    assert str(RouteDistinguisher(wire)) == text


@st.composite
def esi_cases(draw: st.DrawFn) -> tuple[bytes, dict[str, object]]:
    """(reference ESI bytes, the fields production accessors must read back)."""
    kind = draw(st.integers(0, 5))
    mac = draw(gen.macs)
    mac_text = ":".join(f"{b:02x}" for b in mac)
    if kind == 0:
        value = draw(gen.blobs(9))
        return ref.esi_type0(value), {"type": 0, "value": value}
    if kind == 1:
        key = draw(gen.u16)
        return ref.esi_type1(mac, key), {"type": 1, "system_mac": mac_text, "port_key": key}
    if kind == 2:
        prio = draw(gen.u16)
        return ref.esi_type2(mac, prio), {"type": 2, "system_mac": mac_text, "bridge_priority": prio}
    if kind == 3:
        disc = draw(gen.u24)
        return ref.esi_type3(mac, disc), {"type": 3, "system_mac": mac_text, "local_discriminator": disc}
    disc = draw(gen.u32)
    if kind == 4:
        rid = str(ipaddress.IPv4Address(draw(gen.ipv4s)))
        return ref.esi_type4(rid, disc), {"type": 4, "router_id": rid, "local_discriminator": disc}
    asn = draw(gen.u32)
    return ref.esi_type5(asn, disc), {"type": 5, "asn": asn, "local_discriminator": disc}


@given(esi_cases())
def test_esi_accessors_read_reference_layout(case: tuple[bytes, dict[str, object]]) -> None:
    wire, fields = case
    esi = ESI(wire)
    for name, value in fields.items():
        assert getattr(esi, name) == value, name
    assert ESI.parse(str(esi)).raw == wire


# --- EVPN routes -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(gen.ROUTE_STRATEGIES))
@settings(max_examples=60)  # x6 route kinds
@given(data=st.data(), add_path=st.booleans())
def test_route_matches_reference(kind: str, add_path: bool, data: st.DataObject) -> None:
    route = data.draw(gen.ROUTE_STRATEGIES[kind](add_path))
    expected = ref_nlri(route)
    assert route.encode() == expected
    assert decode_evpn_nlri(expected, add_path) == [route]


@given(add_path=st.booleans(), data=st.data())
def test_route_run_matches_reference(add_path: bool, data: st.DataObject) -> None:
    routes = data.draw(st.lists(gen.evpn_routes(add_path), max_size=10))
    assert encode_evpn_nlri(routes) == b"".join(ref_nlri(r) for r in routes)


@given(
    rd=rd_cases(),
    esi=esi_cases(),
    tag=gen.u32,
    mac=gen.macs,
    addr=st.one_of(st.none(), gen.ipv4s, gen.ipv6s).map(lambda b: b and str(ipaddress.ip_address(b))),
    labels=st.tuples(gen.u24, st.none() | gen.u24),
)
def test_text_inputs_match_reference(
    rd: tuple[Any, ...], esi: tuple[bytes, Any], tag: int, mac: bytes, addr: str | None, labels: tuple[int, int | None]
) -> None:
    """Routes built from text (RD, ESI, MAC and IP as an operator writes them) encode as the
    reference builds them from the typed fields."""
    mac_text = "-".join(f"{b:02X}" for b in mac)  # another common MAC spelling
    esi_text = ":".join(f"{b:02x}" for b in esi[0])
    route = MacIpRoute(
        rd=rd[0], esi=esi_text, ethernet_tag=tag, mac=mac_text, ip=addr, label1=labels[0], label2=labels[1]
    )
    assert route.encode() == ref.evpn_mac_ip(rd[1], esi[0], tag, mac, addr, labels[0], labels[1])
    if addr is not None:
        imet = InclusiveMulticastRoute(rd=rd[0], ethernet_tag=tag, originator_ip=addr)
        assert imet.encode() == ref.evpn_inclusive_multicast(rd[1], tag, addr)
        es = EthernetSegmentRoute(rd=rd[0], esi=esi_text, originator_ip=addr)
        assert es.encode() == ref.evpn_ethernet_segment(rd[1], esi[0], addr)
        bits = 32 if "." in addr else 128
        t5 = IPPrefixRoute(rd=rd[0], esi=esi_text, prefix=addr, prefix_length=bits, label=labels[0])
        assert t5.encode() == ref.evpn_ip_prefix(rd[1], esi[0], 0, bits, addr, None, labels[0])


# --- extended communities --------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(gen.EXT_COMMUNITY_STRATEGIES))
@given(data=st.data())
def test_ext_community_matches_reference(kind: str, data: st.DataObject) -> None:
    community = data.draw(gen.EXT_COMMUNITY_STRATEGIES[kind])
    expected = ref_ext_community(community)
    assert community.encode() == expected
    assert decode_ext_community(expected) == community


# --- attributes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", [c for c in gen.attribute_strategies(Context()) if c != "unknown"] + ["unknown"], ids=str
)
@settings(max_examples=50)  # x18 attribute kinds
@given(data=st.data(), ctx=gen.contexts())
def test_attribute_matches_reference(code: int | str, ctx: Context, data: st.DataObject) -> None:
    attr = data.draw(gen.attribute_strategies(ctx)[code])
    assert encode_attribute(attr, ctx) == ref_attribute(attr, ctx)


@given(
    segments=st.lists(st.tuples(st.sampled_from([1, 2, 3, 4]), st.lists(gen.u16, min_size=1, max_size=255)), max_size=3)
)
def test_two_octet_as_path_matches_reference(segments: list[tuple[int, list[int]]]) -> None:
    ctx = Context(four_octet_as=False)
    attr = AsPath([AsPathSegment(t, a) for t, a in segments])
    value = ref.as_path(segments, four_octet=False)
    assert encode_attribute(attr, ctx) == ref.attribute(2, value, optional=False, transitive=True)


@given(
    tunnel_type=gen.u8, label=gen.u24, flags=gen.u8, endpoint=st.one_of(gen.ipv4s, gen.ipv6s).map(ipaddress.ip_address)
)
def test_pmsi_endpoint_text_matches_reference(tunnel_type: int, label: int, flags: int, endpoint: Any) -> None:
    attr = PmsiTunnel(tunnel_type, label, endpoint.packed, flags)
    value = ref.pmsi_tunnel(flags, tunnel_type, label, str(endpoint))
    assert encode_attribute(attr, Context()) == ref.attribute(22, value, optional=True, transitive=True)


# --- messages --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(gen.MESSAGE_KINDS))
@given(data=st.data(), ctx=gen.contexts())
def test_message_matches_reference(kind: str, ctx: Context, data: st.DataObject) -> None:
    msg = data.draw(gen.MESSAGE_KINDS[kind](ctx))
    expected = ref_message(msg, ctx)
    assert msg.encode(ctx) == expected
    assert decode_message(expected, ctx).encode(ctx) == expected


@pytest.mark.parametrize("classic", [False, True], ids=["evpn", "ipv4"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_pack_updates_matches_reference(classic: bool, data: st.DataObject) -> None:
    ctx, shared, routes, next_hop = data.draw(gen.packing_cases(classic))
    afi, safi = (AFI.IPV4, SAFI.UNICAST) if classic else (AFI.L2VPN, SAFI.EVPN)
    head = b"".join(ref_attribute(a, ctx) for a in shared)
    encoded = [ref_nlri(r) for r in routes]
    expected = ref.update_packs(head, encoded, ctx.max_message_size, afi=afi, safi=safi, next_hop=next_hop)
    assert pack_updates(shared, routes, afi=afi, safi=safi, next_hop=next_hop, ctx=ctx) == expected


@pytest.mark.parametrize("classic", [False, True], ids=["evpn", "ipv4"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_pack_withdrawals_matches_reference(classic: bool, data: st.DataObject) -> None:
    ctx, routes = data.draw(gen.withdrawal_cases(classic))
    afi, safi = (AFI.IPV4, SAFI.UNICAST) if classic else (AFI.L2VPN, SAFI.EVPN)
    expected = ref.update_packs(
        b"", [ref_nlri(r) for r in routes], ctx.max_message_size, afi=afi, safi=safi, next_hop=None
    )
    assert pack_withdrawals(routes, afi=afi, safi=safi, ctx=ctx) == expected


def test_reference_encoder_known_vectors() -> None:
    """Pin the reference itself to hand-checked bytes, so both sides cannot drift together."""
    rd = ref.rd_type1("198.18.0.2", 2)
    assert rd.hex() == "0001c612000200" + "02"
    imet = ref.evpn_inclusive_multicast(rd, 0, "198.18.0.2")
    assert imet.hex() == "0311" + rd.hex() + "00000000" + "20" + "c6120002"
    rt2 = ref.evpn_mac_ip(rd, bytes(10), 0, bytes.fromhex("020000000001"), None, 100)
    assert rt2.hex() == "0221" + rd.hex() + "00" * 10 + "00000000" + "30" + "020000000001" + "00" + "000064"
    assert ref.ext_route_target(0, 65001, 100).hex() == "0002fde900000064"
    assert ref.ext_arp_nd(router=True, override=True, immutable=True).hex() == "06080b0000000000"
    assert ref.ext_mac_mobility(3, sticky=True).hex() == "0600010000000003"
    assert ref.pmsi_tunnel(0, 6, 100, "198.18.0.2").hex() == "0006000064c6120002"
    assert ref.attribute(16, bytes(300), optional=True, transitive=True)[:4].hex() == "d010012c"
    assert ref.keepalive().hex() == "ff" * 16 + "001304"
