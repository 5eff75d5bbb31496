"""Property tests: ``decode(encode(x)) == x`` for every value the codec handles, constructor
validation, UPDATE packing and End-of-RIB detection."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings, target
from hypothesis import strategies as st

from evpn.testing import strategies as gen
from evpn.types import ESI, RouteDistinguisher
from evpn.wire import (
    AFI,
    AS_TRANS,
    SAFI,
    AddPath,
    Aggregator,
    ArpNd,
    As4Aggregator,
    AsPath,
    AsPathSegment,
    CapabilityParameter,
    ClusterList,
    Communities,
    Context,
    Encapsulation,
    EsiLabel,
    EsImportRouteTarget,
    EthernetADRoute,
    EthernetSegmentRoute,
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
    MessageReader,
    MpReach,
    MpUnreach,
    MultiExitDisc,
    Multiprotocol,
    NextHop,
    Notification,
    Open,
    Origin,
    OriginatorId,
    PmsiTunnel,
    Prefix,
    RouteRefresh,
    RouteTarget,
    UnknownAttribute,
    UnknownCapability,
    UnknownExtCommunity,
    UnknownRoute,
    Update,
    decode_attributes,
    decode_capability_list,
    decode_evpn_nlri,
    decode_ext_community,
    decode_message,
    decode_prefixes,
    encode_attribute,
    encode_evpn_nlri,
    encode_prefixes,
    end_of_rib,
    pack_updates,
    pack_withdrawals,
)

EXTENDED = gen.EXTENDED


def as_decoded(attr: Any, ctx: Context) -> Any:
    """What ``attr`` decodes back to: the same, with the extended-length flag set when its
    value is over 255 bytes (the encoder sets it then, and the decoder keeps flags as received)."""
    if gen.value_size(attr, ctx) > 255 and not attr.flags & EXTENDED:
        return attrs.evolve(attr, flags=attr.flags | EXTENDED)
    return attr


def update_as_decoded(update: Update, ctx: Context) -> Update:
    return attrs.evolve(update, attributes=[as_decoded(a, ctx) for a in update.attributes])


# --- RD, ESI ---------------------------------------------------------------------------


@given(gen.rd_raws())
def test_rd_from_wire_bytes(raw: bytes) -> None:
    rd = RouteDistinguisher(raw)
    assert rd.raw == raw
    assert rd.type == struct.unpack("!H", raw[:2])[0]
    assert RouteDistinguisher.coerce(raw) == rd


@given(gen.rd_texts())
def test_rd_text_parse_and_print(case: tuple[str, bytes]) -> None:
    text, raw = case
    rd = RouteDistinguisher.parse(text)
    assert rd.raw == raw
    assert str(rd) == text
    assert RouteDistinguisher.parse(str(rd)) == rd


@given(gen.esi_raws())
def test_esi_text_roundtrip(raw: bytes) -> None:
    esi = ESI(raw)
    assert ESI.parse(str(esi)) == esi
    assert ESI.coerce(str(esi)).raw == raw
    assert esi.fields()["type"] == raw[0]


# --- EVPN routes ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(gen.ROUTE_STRATEGIES))
@pytest.mark.parametrize("add_path", [False, True], ids=["plain", "add_path"])
@settings(max_examples=60)  # x12 route kinds and add-path modes
@given(data=st.data())
def test_route_roundtrip(kind: str, add_path: bool, data: st.DataObject) -> None:
    route = data.draw(gen.ROUTE_STRATEGIES[kind](add_path))
    wire = route.encode()
    assert len(wire) == gen.nlri_size(route)
    (decoded,) = decode_evpn_nlri(wire, add_path)
    assert decoded == route
    assert type(decoded) is type(route)
    assert decoded.key == route.key
    assert decoded.encode() == wire


@given(st.booleans().flatmap(lambda ap: st.tuples(st.just(ap), st.lists(gen.evpn_routes(ap), max_size=12))))
def test_route_list_roundtrip(case: tuple[bool, list[Any]]) -> None:
    add_path, routes = case
    assert decode_evpn_nlri(encode_evpn_nlri(routes), add_path) == routes


@pytest.mark.parametrize("afi", [AFI.IPV4, AFI.IPV6])
@given(data=st.data(), add_path=st.booleans())
def test_prefix_roundtrip(afi: int, add_path: bool, data: st.DataObject) -> None:
    items = data.draw(st.lists(gen.prefixes(afi, add_path), max_size=10))
    assert decode_prefixes(encode_prefixes(items), afi, add_path) == items


# --- extended communities --------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(gen.EXT_COMMUNITY_STRATEGIES))
@given(data=st.data())
def test_ext_community_roundtrip(kind: str, data: st.DataObject) -> None:
    community = data.draw(gen.EXT_COMMUNITY_STRATEGIES[kind])
    wire = community.encode()
    assert len(wire) == 8
    decoded = decode_ext_community(wire)
    assert decoded == community
    assert type(decoded) is type(community)
    assert decoded.encode() == wire


@given(gen.route_targets())
def test_route_target_text(rt: RouteTarget) -> None:
    # the text form re-parses to the same RT except a kind-2 RT whose ASN fits 2 octets
    if rt.kind != 2 or rt.administrator > 0xFFFF:
        assert RouteTarget.parse(str(rt)) == rt


# --- attributes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", [c for c in gen.attribute_strategies(Context()) if c != "unknown"] + ["unknown"], ids=str
)
@settings(max_examples=50)  # x18 attribute kinds
@given(data=st.data(), ctx=gen.contexts())
def test_attribute_roundtrip(code: int | str, ctx: Context, data: st.DataObject) -> None:
    attr = data.draw(gen.attribute_strategies(ctx)[code])
    wire = encode_attribute(attr, ctx)
    assert len(wire) == gen.attribute_size(attr, ctx)
    assert wire[1] == attr.type_code
    assert wire[0] == attr.flags | (EXTENDED if gen.value_size(attr, ctx) > 255 else 0)
    decoded, errors = decode_attributes(wire, ctx)
    assert errors == []
    assert decoded == [as_decoded(attr, ctx)]
    assert encode_attribute(decoded[0], ctx) == wire


@given(data=st.data(), ctx=gen.contexts())
def test_attribute_list_roundtrip(ctx: Context, data: st.DataObject) -> None:
    items = data.draw(gen.distinct_attributes(ctx))
    wire = b"".join(encode_attribute(a, ctx) for a in items)
    decoded, errors = decode_attributes(wire, ctx)
    assert errors == []
    assert decoded == [as_decoded(a, ctx) for a in items]


@given(segments=st.lists(gen.as_path_segments(gen.u32), min_size=1, max_size=4))
def test_as_path_two_octet_uses_as_trans(segments: list[AsPathSegment]) -> None:
    """RFC 6793 §4.2.2: in a 2-octet session ASNs above 65535 are sent as AS_TRANS."""
    ctx = Context(four_octet_as=False)
    (decoded,), errors = decode_attributes(encode_attribute(AsPath(segments), ctx), ctx)
    assert errors == []
    want = [AsPathSegment(s.type, [a if a <= 0xFFFF else AS_TRANS for a in s.asns]) for s in segments]
    assert decoded.segments == tuple(want)


@given(asn=gen.u32, address=gen.ipv4s)
def test_aggregator_two_octet_uses_as_trans(asn: int, address: bytes) -> None:
    ctx = Context(four_octet_as=False)
    (decoded,), _ = decode_attributes(encode_attribute(Aggregator(asn, address), ctx), ctx)
    assert decoded == Aggregator(asn if asn <= 0xFFFF else AS_TRANS, address)


# --- capabilities and messages -------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(gen.CAPABILITY_STRATEGIES))
@given(data=st.data())
def test_capability_roundtrip(kind: str, data: st.DataObject) -> None:
    cap = data.draw(gen.CAPABILITY_STRATEGIES[kind])
    wire = CapabilityParameter([cap]).value_bytes()
    assert wire[0] == cap.code
    assert wire[1] == len(wire) - 2
    assert decode_capability_list(wire) == (cap,)


@given(st.lists(gen.capabilities(), max_size=8))
def test_capability_list_roundtrip(caps: list[Any]) -> None:
    assert decode_capability_list(CapabilityParameter(caps).value_bytes()) == tuple(caps)


@pytest.mark.parametrize("kind", sorted(gen.MESSAGE_KINDS))
@given(data=st.data(), ctx=gen.contexts())
def test_message_roundtrip(kind: str, ctx: Context, data: st.DataObject) -> None:
    msg = data.draw(gen.MESSAGE_KINDS[kind](ctx))
    wire = msg.encode(ctx)
    limit = 4096 if kind in ("open", "keepalive") else ctx.max_message_size
    assert 19 <= len(wire) <= limit
    assert wire[:16] == b"\xff" * 16
    assert struct.unpack("!H", wire[16:18])[0] == len(wire)
    decoded = decode_message(wire, ctx)
    expected = update_as_decoded(msg, ctx) if isinstance(msg, Update) else msg
    assert decoded == expected
    if isinstance(msg, Update):
        assert len(wire) == gen.update_size(msg, ctx)
        assert decoded.errors == ()
    assert decoded.encode(ctx) == wire


@settings(max_examples=50)
@given(gen.opens())
def test_open_extended_parameters_only_when_asked_or_needed(msg: Open) -> None:
    wire = msg.encode()
    assert (wire[28] == 255 and wire[29] == 255) == msg.extended_parameters
    assert decode_message(wire).extended_parameters == msg.extended_parameters


@settings(max_examples=30, deadline=None)
@given(ctx=gen.contexts(), data=st.data())
def test_message_reader_any_chunking(ctx: Context, data: st.DataObject) -> None:
    msgs = data.draw(st.lists(gen.messages(ctx), min_size=1, max_size=4))
    wires = [m.encode(ctx) for m in msgs]
    stream = b"".join(wires)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    reader = MessageReader(ctx.max_message_size)
    got = []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        reader.feed(stream[start:stop])
        got.extend(reader)
    assert got == wires
    assert reader.pending == 0


# --- constructors reject out-of-range values, naming the field ------------------------

RD = "65000:1"
MAC = "02:00:00:00:00:01"

REJECTED: list[tuple[str, Callable[[], object], str]] = [
    ("label 25 bits", lambda: EthernetADRoute(rd=RD, label=1 << 24), "label"),
    ("label1 25 bits", lambda: MacIpRoute(rd=RD, mac=MAC, label1=1 << 24), "label"),
    ("label2 25 bits", lambda: MacIpRoute(rd=RD, mac=MAC, label2=1 << 24), "label"),
    ("type-5 label", lambda: IPPrefixRoute(rd=RD, prefix="10.0.0.0", prefix_length=8, label=-1), "label"),
    ("MAC 7 bytes", lambda: MacIpRoute(rd=RD, mac=b"\x02" * 7), "MAC"),
    ("MAC garbage", lambda: MacIpRoute(rd=RD, mac="02:00:zz"), "MAC"),
    ("RD garbage", lambda: EthernetADRoute(rd="garbage"), "route distinguisher"),
    ("RD no number", lambda: EthernetADRoute(rd="65000:"), "route distinguisher"),
    ("RD type-1 NN 17 bits", lambda: EthernetADRoute(rd="192.0.2.1:65536"), "route distinguisher"),
    ("RD type-2 NN 17 bits", lambda: EthernetADRoute(rd="4200000000:65536"), "route distinguisher"),
    ("RD 7 bytes", lambda: RouteDistinguisher(bytes(7)), "route distinguisher"),
    ("ethernet tag 33 bits", lambda: EthernetADRoute(rd=RD, ethernet_tag=1 << 32), "ethernet_tag"),
    ("path id negative", lambda: EthernetADRoute(rd=RD, path_id=-1), "path_id"),
    ("prefix_length 33 on IPv4", lambda: IPPrefixRoute(rd=RD, prefix="10.0.0.0", prefix_length=33), "prefix_length"),
    (
        "prefix_length 129 on IPv6",
        lambda: IPPrefixRoute(rd=RD, prefix="2001:db8::", prefix_length=129),
        "prefix_length",
    ),
    (
        "gateway family",
        lambda: IPPrefixRoute(rd=RD, prefix="10.0.0.0", prefix_length=8, gateway="2001:db8::1"),
        "gateway",
    ),
    ("ESI 9 bytes", lambda: EthernetSegmentRoute(rd=RD, esi=bytes(9), originator_ip="192.0.2.1"), "ESI"),
    ("ESI text 9 octets", lambda: ESI.parse("00:11:22:33:44:55:66:77:88"), "ESI"),
    ("IP 5 bytes", lambda: MacIpRoute(rd=RD, mac=MAC, ip=bytes(5)), "IP address"),
    ("originator garbage", lambda: InclusiveMulticastRoute(rd=RD, originator_ip="not-an-ip"), "IP address"),
    ("unknown route 256 bytes", lambda: UnknownRoute(route_type=9, raw=bytes(256)), "raw"),
    ("unknown route type 256", lambda: UnknownRoute(route_type=256, raw=b""), "route_type"),
    ("AS path segment type 5", lambda: AsPathSegment(5, [1]), "segment type"),
    ("AS path segment type 0", lambda: AsPathSegment(0, [1]), "segment type"),
    ("AS path 256 ASNs", lambda: AsPathSegment(2, [1] * 256), "255 ASNs"),
    ("AS path ASN 33 bits", lambda: AsPathSegment(2, [1 << 32]), "ASN"),
    ("AS path segment empty", lambda: AsPathSegment(2, []), "AS_PATH segment"),
    ("ORIGIN 3", lambda: Origin(3), "ORIGIN"),
    ("NEXT_HOP IPv6", lambda: NextHop("2001:db8::1"), "NEXT_HOP"),
    ("MED 33 bits", lambda: MultiExitDisc(1 << 32), "value"),
    ("LOCAL_PREF negative", lambda: LocalPref(-1), "value"),
    ("AGGREGATOR IPv6", lambda: Aggregator(1, "2001:db8::1"), "address"),
    ("AGGREGATOR ASN 33 bits", lambda: Aggregator(1 << 32, "192.0.2.1"), "asn"),
    ("AS4_AGGREGATOR IPv6", lambda: As4Aggregator(1, "2001:db8::1"), "address"),
    ("ORIGINATOR_ID IPv6", lambda: OriginatorId("2001:db8::1"), "router_id"),
    ("CLUSTER_LIST IPv6 id", lambda: ClusterList(["2001:db8::1"]), "cluster"),
    ("COMMUNITIES 33 bits", lambda: Communities([1 << 32]), "communit"),
    ("COMMUNITIES empty", lambda: Communities([]), "communit"),
    ("LARGE_COMMUNITY pair", lambda: LargeCommunities([(1, 2)]), "large communit"),
    ("LARGE_COMMUNITY 33 bits", lambda: LargeCommunities([(1, 2, 1 << 32)]), "large communit"),
    ("MP_REACH next hop 256 bytes", lambda: MpReach(25, 70, bytes(256)), "next_hop"),
    ("MP_REACH AFI 17 bits", lambda: MpReach(1 << 16, 70, bytes(4)), "afi"),
    ("MP_UNREACH SAFI 9 bits", lambda: MpUnreach(25, 256), "safi"),
    ("PMSI label 25 bits", lambda: PmsiTunnel(label=1 << 24, tunnel_id=bytes(4)), "label"),
    ("PMSI tunnel type 256", lambda: PmsiTunnel(tunnel_type=256), "tunnel_type"),
    ("attribute flags 256", lambda: Origin(0, flags=256), "flags"),
    ("unknown attribute type 256", lambda: UnknownAttribute(256, b""), "type_code"),
    ("RT kind 0 NN 33 bits", lambda: RouteTarget(1, 1 << 32, kind=0), "assigned"),
    ("RT kind 1 not IPv4", lambda: RouteTarget(65000, 1, kind=1), "administrator"),
    ("RT kind 2 NN 17 bits", lambda: RouteTarget(4200000000, 1 << 16), "assigned"),
    ("RT kind 3", lambda: RouteTarget(1, 1, kind=3), "kind"),
    ("RT text garbage", lambda: RouteTarget.parse("rt-1"), "route target"),
    ("encapsulation 17 bits", lambda: Encapsulation(1 << 16), "tunnel_type"),
    ("MAC mobility sequence 33 bits", lambda: MacMobility(1 << 32), "sequence"),
    ("ESI label 25 bits", lambda: EsiLabel(1 << 24), "label"),
    ("ES-import MAC 5 bytes", lambda: EsImportRouteTarget(bytes(5)), "MAC"),
    ("ARP/ND other_flags overlap R", lambda: ArpNd(other_flags=0x01), "other_flags"),
    ("ARP/ND other_flags 9 bits", lambda: ArpNd(other_flags=0x100), "other_flags"),
    ("unknown ext community 7 bytes", lambda: UnknownExtCommunity(bytes(7)), "extended community"),
    ("multiprotocol AFI 17 bits", lambda: Multiprotocol(1 << 16, 1), "afi"),
    ("4-octet AS 33 bits", lambda: FourOctetAS(1 << 32), "asn"),
    ("graceful restart time 13 bits", lambda: GracefulRestart(4096), "restart_time"),
    ("ADD-PATH mode 0", lambda: AddPath([(25, 70, 0)]), "ADD-PATH"),
    ("graceful restart AFI 17 bits", lambda: GracefulRestart(families=[(1 << 16, 1, 0)]), "graceful restart AFI"),
    ("graceful restart family pair", lambda: GracefulRestart(families=[(1, 1)]), "graceful restart family"),
    ("ADD-PATH mode 4", lambda: AddPath([(25, 70, 4)]), "ADD-PATH"),
    ("FQDN hostname 256 bytes", lambda: Fqdn("h" * 256), "FQDN"),
    ("unknown capability code 256", lambda: UnknownCapability(256), "code"),
    ("OPEN asn 17 bits", lambda: Open(70000, 90, "192.0.2.1"), "asn"),
    ("OPEN router id IPv6", lambda: Open(65000, 90, "2001:db8::1"), "router_id"),
    ("OPEN build asn 33 bits", lambda: Open.build(1 << 32, 90, "192.0.2.1", []), "asn"),
    ("NOTIFICATION code 256", lambda: Notification(256), "code"),
    ("ROUTE-REFRESH SAFI 256", lambda: RouteRefresh(25, 256), "safi"),
    ("BoRR with ORF entries", lambda: RouteRefresh(25, 70, 1, b"\x01"), "orf"),
    ("prefix /33", lambda: Prefix(bytes(4), 33), "prefix length"),
    ("prefix path id 33 bits", lambda: Prefix(bytes(4), 8, path_id=1 << 32), "path_id"),
    ("prefix network 5 bytes", lambda: Prefix(bytes(5), 8), "prefix network"),
]


@pytest.mark.parametrize(("make", "field"), [(m, f) for _, m, f in REJECTED], ids=[n for n, _, _ in REJECTED])
def test_constructor_rejects(make: Callable[[], object], field: str) -> None:
    with pytest.raises(ValueError, match=f"(?i){field}"):
        make()


def test_constructors_accept_the_bounds() -> None:
    """The largest in-range values are accepted (so the rejections above are about range)."""
    EthernetADRoute(rd="4294967295:65535", ethernet_tag=(1 << 32) - 1, label=(1 << 24) - 1, path_id=(1 << 32) - 1)
    MacIpRoute(rd="65535:4294967295", mac=b"\xff" * 6, ip=bytes(16), label1=(1 << 24) - 1, label2=(1 << 24) - 1)
    IPPrefixRoute(rd="255.255.255.255:65535", prefix=bytes(16), prefix_length=128, gateway=bytes(16))
    AsPathSegment(4, [(1 << 32) - 1] * 255)
    UnknownRoute(route_type=255, raw=bytes(255))
    RouteTarget(65535, (1 << 32) - 1)
    GracefulRestart(4095, reserved_flags=3)


# --- UPDATE packing ------------------------------------------------------------------


def check_fewest(wires: list[bytes], sizes: list[int], counts: list[int], limit: int) -> None:
    """Every message but the last was too full to take the next route."""
    taken = 0
    for wire, count in zip(wires[:-1], counts[:-1], strict=True):
        taken += count
        assert len(wire) + sizes[taken] > limit


@pytest.mark.parametrize("classic", [False, True], ids=["evpn", "ipv4"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_pack_updates(classic: bool, data: st.DataObject) -> None:
    ctx, shared, routes, next_hop = data.draw(gen.packing_cases(classic))
    afi, safi = (AFI.IPV4, SAFI.UNICAST) if classic else (AFI.L2VPN, SAFI.EVPN)
    wires = pack_updates(shared, routes, afi=afi, safi=safi, next_hop=next_hop, ctx=ctx)
    assert bool(wires) == bool(routes)
    got: list[Any] = []
    counts = []
    expected_shared = [as_decoded(a, ctx) for a in shared]
    for wire in wires:
        assert len(wire) <= ctx.max_message_size
        msg = decode_message(wire, ctx)
        assert isinstance(msg, Update)
        assert msg.errors == ()
        assert msg.withdrawn == ()
        if classic:
            assert list(msg.attributes) == expected_shared
            batch = list(msg.nlri)
        else:
            *head, mp = msg.attributes
            assert head == expected_shared
            assert isinstance(mp, MpReach)
            assert (mp.afi, mp.safi, mp.next_hop) == (afi, safi, next_hop)
            assert msg.nlri == ()
            batch = list(mp.nlri)
        assert batch, "no empty UPDATE"
        got += batch
        counts.append(len(batch))
    assert got == routes
    target(float(len(wires)))  # steer generation towards several messages
    check_fewest(wires, [gen.nlri_size(r) for r in routes], counts, ctx.max_message_size)


@pytest.mark.parametrize("classic", [False, True], ids=["evpn", "ipv4"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_pack_withdrawals(classic: bool, data: st.DataObject) -> None:
    ctx, routes = data.draw(gen.withdrawal_cases(classic))
    afi, safi = (AFI.IPV4, SAFI.UNICAST) if classic else (AFI.L2VPN, SAFI.EVPN)
    wires = pack_withdrawals(routes, afi=afi, safi=safi, ctx=ctx)
    assert bool(wires) == bool(routes)
    got: list[Any] = []
    counts = []
    for wire in wires:
        assert len(wire) <= ctx.max_message_size
        msg = decode_message(wire, ctx)
        assert isinstance(msg, Update)
        assert msg.errors == ()
        assert msg.nlri == ()
        if classic:
            assert msg.attributes == ()
            batch = list(msg.withdrawn)
        else:
            (mp,) = msg.attributes
            assert isinstance(mp, MpUnreach)
            assert (mp.afi, mp.safi) == (afi, safi)
            assert msg.withdrawn == ()
            batch = list(mp.nlri)
        assert batch
        assert msg.end_of_rib is None
        got += batch
        counts.append(len(batch))
    assert got == routes
    target(float(len(wires)))  # steer generation towards several messages
    check_fewest(wires, [gen.nlri_size(r) for r in routes], counts, ctx.max_message_size)


def test_pack_splits_exactly_at_the_limit() -> None:
    """Routes that exactly fill a message stay in one; one byte more spills into a second."""
    ctx = Context()
    shared = [Origin(0), AsPath([])]
    next_hop = bytes(4)
    fixed = gen.UPDATE_FIXED + sum(gen.attribute_size(a, ctx) for a in shared) + 4 + 5 + len(next_hop)
    room = ctx.max_message_size - fixed
    body = 255  # UnknownRoute of 2 + 255 bytes
    n, rest = divmod(room, body + 2)
    routes = [UnknownRoute(route_type=200, raw=bytes(body)) for _ in range(n)]
    routes.append(UnknownRoute(route_type=200, raw=bytes(rest - 2)))
    (one,) = pack_updates(shared, routes, next_hop=next_hop, ctx=ctx)
    assert len(one) == ctx.max_message_size
    routes[-1] = UnknownRoute(route_type=200, raw=bytes(rest - 1))
    first, second = pack_updates(shared, routes, next_hop=next_hop, ctx=ctx)
    assert len(first) == ctx.max_message_size - rest
    assert decode_message(first).mp_reach.nlri == tuple(routes[:-1])
    assert decode_message(second).mp_reach.nlri == (routes[-1],)


def test_pack_rejects_what_cannot_fit() -> None:
    ctx = Context()
    huge = UnknownAttribute(200, bytes(4100 - 40))
    with pytest.raises(ValueError, match="fill"):
        pack_updates([Origin(0), AsPath([]), huge], [UnknownRoute(route_type=9, raw=b"")], next_hop=bytes(4), ctx=ctx)
    almost = UnknownAttribute(200, bytes(4096 - 23 - 4 - 8 - 4 - 9 - 100))
    with pytest.raises(ValueError, match="cannot fit"):
        pack_updates(
            [Origin(0), AsPath([]), almost], [UnknownRoute(route_type=9, raw=bytes(200))], next_hop=bytes(4), ctx=ctx
        )


# --- End-of-RIB (RFC 4724 §2) --------------------------------------------------------


@given(afi=gen.u16, safi=gen.u8, ctx=gen.contexts())
def test_end_of_rib_roundtrip(afi: int, safi: int, ctx: Context) -> None:
    marker = end_of_rib(afi, safi)
    assert marker.end_of_rib == (afi, safi)
    wire = marker.encode(ctx)
    if (afi, safi) == (AFI.IPV4, SAFI.UNICAST):
        assert wire == b"\xff" * 16 + b"\x00\x17\x02" + b"\x00\x00\x00\x00"
    else:
        assert len(wire) == 23 + 6
    assert decode_message(wire, ctx).end_of_rib == (afi, safi)


def test_end_of_rib_default_is_evpn() -> None:
    assert decode_message(end_of_rib().encode()).end_of_rib == (AFI.L2VPN, SAFI.EVPN)


@given(ctx=gen.contexts(), data=st.data())
def test_not_end_of_rib(ctx: Context, data: st.DataObject) -> None:
    """An UPDATE with any route, withdrawal or other attribute is not an End-of-RIB."""
    update = data.draw(gen.updates(ctx))
    is_eor = (
        update.withdrawn == ()
        and update.nlri == ()
        and (
            update.attributes == ()
            or (
                len(update.attributes) == 1
                and isinstance(update.attributes[0], MpUnreach)
                and not update.attributes[0].nlri
            )
        )
    )
    decoded = decode_message(update.encode(ctx), ctx)
    assert (decoded.end_of_rib is not None) == is_eor


def test_end_of_rib_negatives() -> None:
    route = UnknownRoute(route_type=9, raw=b"x")
    assert Update(attributes=[MpUnreach(25, 70, [route])]).end_of_rib is None
    assert Update(attributes=[MpUnreach(25, 70), Origin(0)]).end_of_rib is None
    assert Update(withdrawn=[Prefix(bytes(4), 0)]).end_of_rib is None
    assert Update(attributes=[MpReach(25, 70, bytes(4))]).end_of_rib is None
    assert Update(attributes=[MpUnreach(25, 70), UnknownAttribute(200, b"")]).end_of_rib is None
    # an empty MP_UNREACH_NLRI next to a malformed ORIGIN (treat-as-withdraw): not a marker
    marker = end_of_rib().encode()
    bad_origin = bytes((0x40, 1, 1, 7))
    body = marker[19:21] + struct.pack("!H", 6 + len(bad_origin)) + marker[23:] + bad_origin
    wire = marker[:16] + struct.pack("!HB", 19 + len(body), 2) + body
    with_error = decode_message(wire)
    assert with_error.errors
    assert with_error.attributes == (MpUnreach(25, 70),)
    assert with_error.end_of_rib is None


def test_keepalive_and_notification_basics() -> None:
    assert Keepalive().encode() == b"\xff" * 16 + b"\x00\x13\x04"
    note = Notification.cease(2, "maintenance")
    decoded = decode_message(note.encode())
    assert decoded == note
    assert decoded.shutdown_communication == "maintenance"
