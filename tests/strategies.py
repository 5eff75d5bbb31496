"""Hypothesis strategies for every value the wire codec encodes, with the exact field bounds.

Every strategy builds values through the public constructors (so it also exercises their
converters and validators) and only produces values that are valid *and* re-encodable
under the :class:`~evpn.wire.Context` they are drawn for: 2-octet AS_PATH/AGGREGATOR
hold ASNs <= 65535 only, routes carry a path identifier exactly when the context has
ADD-PATH for their family, messages fit the context's maximum size, and so on.

Conventions: functions returning strategies are named after what they draw, in the
plural (``evpn_routes()``, ``ext_communities()``); those depending on a context take it
as their first argument.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

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
)

# --- flag bits and type codes (RFC 4271 §4.3; IANA registries) ---------------------

OPTIONAL, TRANSITIVE, PARTIAL, EXTENDED = 0x80, 0x40, 0x20, 0x10
WELL_KNOWN, OPTIONAL_TRANSITIVE = TRANSITIVE, OPTIONAL | TRANSITIVE

EVPN = (AFI.L2VPN, SAFI.EVPN)
IPV4_UNICAST = (AFI.IPV4, SAFI.UNICAST)
IPV6_UNICAST = (AFI.IPV6, SAFI.UNICAST)
IP_FAMILIES = [(afi, safi) for afi in (AFI.IPV4, AFI.IPV6) for safi in (SAFI.UNICAST, SAFI.MULTICAST)]

KNOWN_ATTRIBUTE_CODES = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 22, 32})
KNOWN_CAPABILITY_CODES = frozenset({1, 2, 6, 64, 65, 69, 70, 73})
KNOWN_EXT_COMMUNITY_KEYS = frozenset(
    {
        (0x00, 0x02),
        (0x01, 0x02),
        (0x02, 0x02),
        (0x03, 0x0C),
        (0x03, 0x0D),
        (0x06, 0x00),
        (0x06, 0x01),
        (0x06, 0x02),
        (0x06, 0x03),
        (0x06, 0x08),
    }
)
KNOWN_ROUTE_TYPES = frozenset({1, 2, 3, 4, 5})

HEADER_SIZE = 19
UPDATE_FIXED = HEADER_SIZE + 4  # header + withdrawn length + total path attribute length


def uint(bits: int) -> st.SearchStrategy[int]:
    """Unsigned integers of exactly ``bits`` bits: 0 .. 2**bits - 1."""
    return st.integers(0, (1 << bits) - 1)


u8, u16, u24, u32 = uint(8), uint(16), uint(24), uint(32)


def blobs(size: int) -> st.SearchStrategy[bytes]:
    """Exactly ``size`` bytes."""
    return st.binary(min_size=size, max_size=size)


ipv4s = blobs(4)
ipv6s = blobs(16)
ips = st.one_of(ipv4s, ipv6s)
macs = blobs(6)


def ipv4_texts() -> st.SearchStrategy[str]:
    """Dotted-quad IPv4 addresses in the canonical form the decoders print."""
    return ipv4s.map(lambda b: str(ipaddress.IPv4Address(b)))


def mac_texts() -> st.SearchStrategy[str]:
    """MACs as ``aa:bb:cc:dd:ee:ff`` text."""
    return macs.map(lambda b: ":".join(f"{x:02x}" for x in b))


# --- contexts ------------------------------------------------------------------------


def contexts(*, extended_message: bool | None = None) -> st.SearchStrategy[Context]:
    """Negotiated contexts: 2/4-octet AS, ADD-PATH for EVPN (and IPv4/IPv6 unicast), RFC 8654."""
    return st.builds(
        Context,
        four_octet_as=st.booleans(),
        add_path=st.sets(st.sampled_from([EVPN, IPV4_UNICAST, IPV6_UNICAST])),
        extended_message=st.booleans() if extended_message is None else st.just(extended_message),
    )


def asns(ctx: Context) -> st.SearchStrategy[int]:
    """ASNs that the AS_PATH/AGGREGATOR encoding of ``ctx`` carries exactly."""
    return u32 if ctx.four_octet_as else u16


def path_ids(ctx: Context, family: tuple[int, int]) -> st.SearchStrategy[int | None]:
    """A path identifier when ``ctx`` has ADD-PATH for ``family`` (RFC 7911 §3), else ``None``."""
    return u32 if family in ctx.add_path else st.none()


# --- route distinguishers and ESIs (RFC 4364 §4.2, RFC 7432 §5) ------------------------


@st.composite
def rd_raws(draw: st.DrawFn) -> bytes:
    """8 wire bytes of an RD of type 0, 1, 2 or any other (opaque) type."""
    kind = draw(st.sampled_from(["type0", "type1", "type2", "other"]))
    if kind == "type0":
        return struct.pack("!HHI", 0, draw(u16), draw(u32))
    if kind == "type1":
        return struct.pack("!H4sH", 1, draw(ipv4s), draw(u16))
    if kind == "type2":
        return struct.pack("!HIH", 2, draw(u32), draw(u16))
    return struct.pack("!H", draw(st.integers(3, 0xFFFF))) + draw(blobs(6))


def route_distinguishers() -> st.SearchStrategy[RouteDistinguisher]:
    """RDs of every type, built from their wire bytes."""
    return rd_raws().map(RouteDistinguisher)


@st.composite
def rd_texts(draw: st.DrawFn) -> tuple[str, bytes]:
    """``(text, wire bytes)`` for RDs that :meth:`RouteDistinguisher.parse` accepts.

    ASN:NN with ASN <= 65535 is type 0 (NN 32 bits), a larger ASN type 2 (NN 16 bits),
    A.B.C.D:NN type 1 (NN 16 bits).
    """
    kind = draw(st.sampled_from([0, 1, 2]))
    if kind == 0:
        asn, nn = draw(u16), draw(u32)
        return f"{asn}:{nn}", struct.pack("!HHI", 0, asn, nn)
    if kind == 1:
        ip, nn = draw(ipv4s), draw(u16)
        return f"{ipaddress.IPv4Address(ip)}:{nn}", struct.pack("!H4sH", 1, ip, nn)
    asn, nn = draw(st.integers(0x10000, 0xFFFFFFFF)), draw(u16)
    return f"{asn}:{nn}", struct.pack("!HIH", 2, asn, nn)


@st.composite
def esi_raws(draw: st.DrawFn) -> bytes:
    """10 wire bytes of an ESI of type 0 to 5 (RFC 7432 §5 layouts) or arbitrary."""
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return b"\x00" + draw(blobs(9))
    if kind in (1, 2):  # system/root bridge MAC, port key/priority, 0x00
        return bytes((kind,)) + draw(macs) + struct.pack("!H", draw(u16)) + b"\x00"
    if kind == 3:  # system MAC, 3-octet local discriminator
        return b"\x03" + draw(macs) + draw(u24).to_bytes(3, "big")
    if kind in (4, 5):  # router ID / ASN, 4-octet local discriminator, 0x00
        return bytes((kind,)) + draw(blobs(4)) + struct.pack("!I", draw(u32)) + b"\x00"
    return draw(blobs(10))


def esis() -> st.SearchStrategy[ESI]:
    """ESIs of every type."""
    return esi_raws().map(ESI)


# --- EVPN routes (RFC 7432 §7, RFC 9136 §3.1) ---------------------------------------


def _rd_inputs() -> st.SearchStrategy[object]:
    """What route constructors accept as an RD: an RD, its text or its wire bytes."""
    return st.one_of(route_distinguishers(), rd_raws(), rd_texts().map(lambda t: t[0]))


def _esi_inputs() -> st.SearchStrategy[object]:
    return st.one_of(esis(), esi_raws(), esis().map(str))


def _pid(add_path: bool) -> st.SearchStrategy[int | None]:
    return u32 if add_path else st.none()


def ethernet_ad_routes(add_path: bool = False) -> st.SearchStrategy[EthernetADRoute]:
    """Type 1 (RFC 7432 §7.1)."""
    return st.builds(
        EthernetADRoute, rd=_rd_inputs(), esi=_esi_inputs(), ethernet_tag=u32, label=u24, path_id=_pid(add_path)
    )


def mac_ip_routes(add_path: bool = False) -> st.SearchStrategy[MacIpRoute]:
    """Type 2 (RFC 7432 §7.2): IP of 0, 4 or 16 bytes, optional label2."""
    return st.builds(
        MacIpRoute,
        rd=_rd_inputs(),
        esi=_esi_inputs(),
        ethernet_tag=u32,
        mac=st.one_of(macs, mac_texts()),
        ip=st.one_of(st.just(b""), st.none(), ips),
        label1=u24,
        label2=st.none() | u24,
        path_id=_pid(add_path),
    )


def inclusive_multicast_routes(add_path: bool = False) -> st.SearchStrategy[InclusiveMulticastRoute]:
    """Type 3 (RFC 7432 §7.3)."""
    return st.builds(
        InclusiveMulticastRoute, rd=_rd_inputs(), ethernet_tag=u32, originator_ip=ips, path_id=_pid(add_path)
    )


def ethernet_segment_routes(add_path: bool = False) -> st.SearchStrategy[EthernetSegmentRoute]:
    """Type 4 (RFC 7432 §7.4)."""
    return st.builds(
        EthernetSegmentRoute, rd=_rd_inputs(), esi=_esi_inputs(), originator_ip=ips, path_id=_pid(add_path)
    )


@st.composite
def ip_prefix_routes(draw: st.DrawFn, add_path: bool = False) -> IPPrefixRoute:
    """Type 5 (RFC 9136 §3.1): prefix and gateway of the same family, length 0..32/128."""
    size = draw(st.sampled_from([4, 16]))
    gateway = draw(st.one_of(st.none(), blobs(size)))
    return IPPrefixRoute(
        rd=draw(_rd_inputs()),
        esi=draw(_esi_inputs()),
        ethernet_tag=draw(u32),
        prefix=draw(blobs(size)),
        prefix_length=draw(st.integers(0, size * 8)),
        gateway=gateway,
        label=draw(u24),
        path_id=draw(_pid(add_path)),
    )


def unknown_routes(add_path: bool = False) -> st.SearchStrategy[UnknownRoute]:
    """Route types other than 1..5 with a body of at most 255 bytes."""
    return st.builds(
        UnknownRoute,
        route_type=u8.filter(lambda t: t not in KNOWN_ROUTE_TYPES),
        raw=st.binary(max_size=255),
        path_id=_pid(add_path),
    )


ROUTE_STRATEGIES: dict[str, Callable[[bool], st.SearchStrategy[Any]]] = {
    "type1": ethernet_ad_routes,
    "type2": mac_ip_routes,
    "type3": inclusive_multicast_routes,
    "type4": ethernet_segment_routes,
    "type5": ip_prefix_routes,
    "unknown": unknown_routes,
}


def evpn_routes(add_path: bool = False) -> st.SearchStrategy[Any]:
    """Any EVPN route; with a path identifier exactly when ``add_path``."""
    return st.one_of([make(add_path) for make in ROUTE_STRATEGIES.values()])


def evpn_routes_for(ctx: Context) -> st.SearchStrategy[Any]:
    """EVPN routes as ``ctx`` carries them (path identifier iff ADD-PATH for EVPN)."""
    return evpn_routes(EVPN in ctx.add_path)


# --- IP prefixes (RFC 4271 §4.3, RFC 4760 §5) ---------------------------------------


@st.composite
def prefixes(draw: st.DrawFn, afi: int = AFI.IPV4, add_path: bool = False) -> Prefix:
    """A prefix of ``afi``; bytes past ceil(length/8) are zero (they are not on the wire),
    host bits inside the last octet are kept (they are)."""
    size = 4 if afi == AFI.IPV4 else 16
    length = draw(st.integers(0, size * 8))
    nbytes = (length + 7) // 8
    network = draw(blobs(nbytes)) + bytes(size - nbytes)
    return Prefix(network, length, path_id=draw(_pid(add_path)))


@st.composite
def bulk_routes(draw: st.DrawFn, family: tuple[int, int], add_path: bool, max_count: int) -> list[Any]:
    """Up to ``max_count`` routes of ``family`` (EVPN or IPv4/IPv6 unicast) made from one
    seeded PRNG: enough of them to fill several messages without spending hypothesis's
    entropy budget on each field (the per-field bounds are covered by the strategies above)."""
    count = draw(st.integers(0, max_count))
    rnd = draw(st.randoms(use_true_random=False))

    def pid() -> int | None:
        return rnd.getrandbits(32) if add_path else None

    out: list[Any] = []
    for _ in range(count):
        if family != EVPN:
            size = 4 if family[0] == AFI.IPV4 else 16
            length = rnd.randint(0, size * 8)
            nbytes = (length + 7) // 8
            out.append(Prefix(rnd.randbytes(nbytes) + bytes(size - nbytes), length, path_id=pid()))
            continue
        kind = rnd.randrange(3)
        rd = rnd.randbytes(8)
        if kind == 0:
            ip = rnd.choice([b"", rnd.randbytes(4), rnd.randbytes(16)])
            label2 = rnd.choice([None, rnd.getrandbits(24)])
            out.append(
                MacIpRoute(rd=rd, mac=rnd.randbytes(6), ip=ip, label1=rnd.getrandbits(24), label2=label2, path_id=pid())
            )
        elif kind == 1:
            size = rnd.choice([4, 16])
            prefix = rnd.randbytes(size)
            out.append(IPPrefixRoute(rd=rd, prefix=prefix, prefix_length=rnd.randint(0, size * 8), path_id=pid()))
        else:
            route_type = rnd.choice([0, *range(6, 256)])
            out.append(UnknownRoute(route_type=route_type, raw=rnd.randbytes(rnd.randint(0, 255)), path_id=pid()))
    return out


# --- extended communities (RFC 4360, RFC 7432 §7.5-7.9, RFC 9135, RFC 9047, RFC 9012) -


@st.composite
def route_targets(draw: st.DrawFn) -> RouteTarget:
    """Route targets of kind 0 (AS2:NN32), 1 (IPv4:NN16) and 2 (AS4:NN16)."""
    kind = draw(st.sampled_from([0, 1, 2, None]))
    if kind == 0:
        return RouteTarget(draw(u16), draw(u32), kind=0)
    if kind == 1:
        return RouteTarget(draw(ipv4_texts()), draw(u16), kind=1)
    if kind == 2:
        return RouteTarget(draw(u32), draw(u16), kind=2)
    # kind chosen by the constructor from the values
    admin = draw(st.one_of(u16, st.integers(0x10000, 0xFFFFFFFF), ipv4_texts()))
    assigned = draw(u32 if isinstance(admin, int) and admin <= 0xFFFF else u16)
    return RouteTarget(admin, assigned)


def arp_nds() -> st.SearchStrategy[ArpNd]:
    """ARP/ND communities; ``other_flags`` never overlaps R (0x01), O (0x02), I (0x08)."""
    return st.builds(ArpNd, st.booleans(), st.booleans(), st.booleans(), u8.map(lambda f: f & ~0x0B))


@st.composite
def unknown_ext_communities(draw: st.DrawFn) -> UnknownExtCommunity:
    """8 bytes that do not decode to a known community: an unknown (type, sub-type), or a
    known one whose reserved bits are set (the codec keeps those opaque)."""
    if draw(st.booleans()):
        head = draw(st.tuples(u8, u8).filter(lambda k: k not in KNOWN_EXT_COMMUNITY_KEYS))
        return UnknownExtCommunity(bytes(head) + draw(blobs(6)))
    nonzero = st.binary(min_size=1, max_size=1).filter(lambda b: b != b"\0")
    kind = draw(st.sampled_from(["encap", "defgw", "mobility", "esilabel", "arpnd"]))
    if kind == "encap":  # reserved 4 octets not zero
        reserved = draw(blobs(4).filter(lambda b: b != bytes(4)))
        return UnknownExtCommunity(b"\x03\x0c" + reserved + draw(blobs(2)))
    if kind == "defgw":
        return UnknownExtCommunity(b"\x03\x0d" + draw(blobs(6).filter(lambda b: b != bytes(6))))
    if kind == "arpnd":
        return UnknownExtCommunity(b"\x06\x08" + draw(blobs(1)) + draw(blobs(5).filter(lambda b: b != bytes(5))))
    sub = b"\x00" if kind == "mobility" else b"\x01"
    if draw(st.booleans()):  # a flag bit other than the low one
        flags = draw(u8.filter(lambda f: f & ~1)).to_bytes(1, "big")
        reserved = draw(blobs(1))
    else:
        flags, reserved = draw(st.sampled_from([b"\0", b"\1"])), draw(nonzero)
    tail = draw(blobs(4 if kind == "mobility" else 3))
    if kind == "esilabel":
        reserved = reserved + draw(blobs(1))  # ESI label has a 2-octet reserved field
    return UnknownExtCommunity(b"\x06" + sub + flags + reserved + tail)


EXT_COMMUNITY_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "route_target": route_targets(),
    "encapsulation": st.builds(Encapsulation, u16),
    "default_gateway": st.builds(DefaultGateway),
    "mac_mobility": st.builds(MacMobility, u32, st.booleans()),
    "esi_label": st.builds(EsiLabel, u24, st.booleans()),
    "es_import": st.builds(EsImportRouteTarget, st.one_of(macs, mac_texts())),
    "router_mac": st.builds(RouterMac, st.one_of(macs, mac_texts())),
    "arp_nd": arp_nds(),
    "unknown": unknown_ext_communities(),
}


def ext_communities() -> st.SearchStrategy[Any]:
    """Any extended community."""
    return st.one_of(list(EXT_COMMUNITY_STRATEGIES.values()))


# --- path attributes (RFC 4271 §5 and extensions) -----------------------------------


def attr_flags(base: int) -> st.SearchStrategy[int]:
    """Valid flags for an attribute whose O/T bits are ``base``: the extended-length bit
    either way, the partial bit only on optional transitive attributes (RFC 4271 §4.3)."""
    partial = st.sampled_from([0, PARTIAL]) if base & OPTIONAL and base & TRANSITIVE else st.just(0)
    return st.builds(lambda e, p: base | e | p, st.sampled_from([0, EXTENDED]), partial)


def as_path_segments(asn: st.SearchStrategy[int], max_asns: int = 255) -> st.SearchStrategy[AsPathSegment]:
    """Segments of type 1 (AS_SET), 2 (AS_SEQUENCE), 3/4 (confederation; RFC 5065) with 1..255 ASNs."""
    return st.builds(AsPathSegment, st.sampled_from([1, 2, 3, 4]), st.lists(asn, min_size=1, max_size=max_asns))


def mp_families(
    ctx: Context, max_nlri: int = 8
) -> st.SearchStrategy[tuple[int, int, st.SearchStrategy[list[Any]], st.SearchStrategy[bytes]]]:
    """(afi, safi, NLRI-list strategy, next-hop strategy) for EVPN, IPv4/IPv6 unicast and
    multicast, and an opaque family (its NLRI kept as one blob); next hops of the lengths
    each family uses (EVPN: 4, 16 or 32 bytes)."""
    nh_evpn = st.one_of(blobs(4), blobs(16), blobs(32))
    choices = [(*EVPN, st.lists(evpn_routes_for(ctx), max_size=max_nlri), nh_evpn)]
    for afi, safi in IP_FAMILIES:
        nh = blobs(4) if afi == AFI.IPV4 else st.one_of(blobs(16), blobs(32))
        choices.append((afi, safi, st.lists(prefixes(afi, (afi, safi) in ctx.add_path), max_size=max_nlri), nh))
    other = st.tuples(u16, u8).filter(lambda f: f != EVPN and f not in IP_FAMILIES)
    opaque_nlri = st.one_of(st.just([]), st.binary(min_size=1, max_size=200).map(lambda raw: [OpaqueNlri(raw)]))
    return st.one_of(
        st.sampled_from(choices),
        other.map(lambda f: (f[0], f[1], opaque_nlri, st.binary(max_size=255))),
    )


@st.composite
def mp_reaches(draw: st.DrawFn, ctx: Context, max_nlri: int = 8) -> MpReach:
    """MP_REACH_NLRI (RFC 4760 §3) with NLRI valid for ``ctx``."""
    afi, safi, nlri, next_hop = draw(mp_families(ctx, max_nlri))
    return MpReach(afi, safi, draw(next_hop), draw(nlri), flags=draw(attr_flags(OPTIONAL)))


@st.composite
def mp_unreaches(draw: st.DrawFn, ctx: Context, max_nlri: int = 8) -> MpUnreach:
    """MP_UNREACH_NLRI (RFC 4760 §4)."""
    afi, safi, nlri, _ = draw(mp_families(ctx, max_nlri))
    return MpUnreach(afi, safi, draw(nlri), flags=draw(attr_flags(OPTIONAL)))


@st.composite
def pmsi_tunnels(draw: st.DrawFn) -> PmsiTunnel:
    """PMSI_TUNNEL (RFC 6514 §5): ingress replication (6) to a 4/16-byte endpoint, or any other type."""
    if draw(st.booleans()):
        tunnel_type, tunnel_id = 6, draw(ips)
    else:
        tunnel_type, tunnel_id = draw(u8.filter(lambda t: t != 6)), draw(st.binary(max_size=300))
    return PmsiTunnel(tunnel_type, draw(u24), tunnel_id, draw(u8), flags=draw(attr_flags(OPTIONAL_TRANSITIVE)))


def unknown_attributes() -> st.SearchStrategy[UnknownAttribute]:
    """Attributes of type codes this codec does not know, with the optional bit set."""
    flags = st.builds(
        lambda t, p, e: OPTIONAL | t | (p if t else 0) | e,
        st.sampled_from([0, TRANSITIVE]),
        st.sampled_from([0, PARTIAL]),
        st.sampled_from([0, EXTENDED]),
    )
    return st.builds(
        UnknownAttribute,
        u8.filter(lambda t: t not in KNOWN_ATTRIBUTE_CODES),
        st.binary(max_size=300),
        flags=flags,
    )


def attribute_strategies(ctx: Context, *, max_items: int = 20) -> dict[int | str, st.SearchStrategy[Any]]:
    """One strategy per attribute type code (and ``"unknown"``) valid under ``ctx``."""
    asn = asns(ctx)
    segs = st.lists(as_path_segments(asn), max_size=4)
    return {
        1: st.builds(Origin, st.sampled_from([0, 1, 2]), flags=attr_flags(WELL_KNOWN)),
        2: st.builds(AsPath, segs, flags=attr_flags(WELL_KNOWN)),
        3: st.builds(NextHop, st.one_of(ipv4s, ipv4_texts()), flags=attr_flags(WELL_KNOWN)),
        4: st.builds(MultiExitDisc, u32, flags=attr_flags(OPTIONAL)),
        5: st.builds(LocalPref, u32, flags=attr_flags(WELL_KNOWN)),
        6: st.builds(AtomicAggregate, flags=attr_flags(WELL_KNOWN)),
        7: st.builds(Aggregator, asn, ipv4s, flags=attr_flags(OPTIONAL_TRANSITIVE)),
        8: st.builds(Communities, st.lists(u32, min_size=1, max_size=max_items), flags=attr_flags(OPTIONAL_TRANSITIVE)),
        9: st.builds(OriginatorId, ipv4s, flags=attr_flags(OPTIONAL)),
        10: st.builds(ClusterList, st.lists(ipv4s, min_size=1, max_size=max_items), flags=attr_flags(OPTIONAL)),
        14: mp_reaches(ctx),
        15: mp_unreaches(ctx),
        16: st.builds(
            ExtendedCommunities,
            st.lists(ext_communities(), min_size=1, max_size=max_items),
            flags=attr_flags(OPTIONAL_TRANSITIVE),
        ),
        17: st.builds(As4Path, st.lists(as_path_segments(u32), max_size=4), flags=attr_flags(OPTIONAL_TRANSITIVE)),
        18: st.builds(As4Aggregator, u32, ipv4s, flags=attr_flags(OPTIONAL_TRANSITIVE)),
        22: pmsi_tunnels(),
        32: st.builds(
            LargeCommunities,
            st.lists(st.tuples(u32, u32, u32), min_size=1, max_size=max_items),
            flags=attr_flags(OPTIONAL_TRANSITIVE),
        ),
        "unknown": unknown_attributes(),
    }


def attributes(ctx: Context) -> st.SearchStrategy[Any]:
    """Any path attribute valid under ``ctx``."""
    return st.one_of(list(attribute_strategies(ctx).values()))


# --- size arithmetic (from the RFC layouts; used to keep messages within limits) ----


def nlri_size(item: Any) -> int:
    """Bytes an NLRI item takes on the wire (RFC 7432 §7, RFC 9136 §3.1, RFC 4271 §4.3, RFC 7911)."""
    extra = 0 if getattr(item, "path_id", None) is None else 4
    if isinstance(item, OpaqueNlri):
        return len(item.raw)
    if isinstance(item, Prefix):
        return extra + 1 + (item.length + 7) // 8
    body = {
        EthernetADRoute: lambda r: 25,
        MacIpRoute: lambda r: 33 + len(r.ip) + (0 if r.label2 is None else 3),
        InclusiveMulticastRoute: lambda r: 13 + len(r.originator_ip),
        EthernetSegmentRoute: lambda r: 19 + len(r.originator_ip),
        IPPrefixRoute: lambda r: 26 + 2 * len(r.prefix),
        UnknownRoute: lambda r: len(r.raw),
    }[type(item)](item)
    return extra + 2 + body


def value_size(attr: Any, ctx: Context) -> int:
    """Bytes of an attribute's value (RFC 4271 §4.3 and the RFC of each attribute)."""
    if isinstance(attr, AsPath | As4Path):
        width = 4 if isinstance(attr, As4Path) or ctx.four_octet_as else 2
        return sum(2 + width * len(s.asns) for s in attr.segments)
    if isinstance(attr, Aggregator):
        return 8 if ctx.four_octet_as else 6
    if isinstance(attr, MpReach):
        return 5 + len(attr.next_hop) + sum(nlri_size(n) for n in attr.nlri)
    if isinstance(attr, MpUnreach):
        return 3 + sum(nlri_size(n) for n in attr.nlri)
    sizes: dict[type, Callable[[Any], int]] = {
        Origin: lambda a: 1,
        NextHop: lambda a: 4,
        MultiExitDisc: lambda a: 4,
        LocalPref: lambda a: 4,
        AtomicAggregate: lambda a: 0,
        As4Aggregator: lambda a: 8,
        Communities: lambda a: 4 * len(a.values),
        OriginatorId: lambda a: 4,
        ClusterList: lambda a: 4 * len(a.cluster_ids),
        ExtendedCommunities: lambda a: 8 * len(a.communities),
        PmsiTunnel: lambda a: 5 + len(a.tunnel_id),
        LargeCommunities: lambda a: 12 * len(a.values),
        UnknownAttribute: lambda a: len(a.value),
    }
    return sizes[type(attr)](attr)


def attribute_size(attr: Any, ctx: Context) -> int:
    """Bytes of the whole attribute: 3- or 4-byte header (extended length) plus value."""
    size = value_size(attr, ctx)
    return size + (4 if attr.flags & EXTENDED or size > 255 else 3)


def update_size(update: Update, ctx: Context) -> int:
    """Bytes of the whole UPDATE message (RFC 4271 §4.3)."""
    return (
        UPDATE_FIXED
        + sum(nlri_size(p) for p in update.withdrawn)
        + sum(attribute_size(a, ctx) for a in update.attributes)
        + sum(nlri_size(p) for p in update.nlri)
    )


# --- messages (RFC 4271 §4, RFC 5492, RFC 9072, RFC 2918, RFC 7313) ------------------


@st.composite
def distinct_attributes(
    draw: st.DrawFn, ctx: Context, *, exclude: frozenset[int] = frozenset(), require: frozenset[int] = frozenset()
) -> list[Any]:
    """Attributes of distinct type codes, at most one of each, in random order; the codes in
    ``require`` always present, those in ``exclude`` never."""
    table = attribute_strategies(ctx)
    keys = [k for k in table if k not in exclude and k not in require]
    chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys))) if keys else []
    # "unknown" is a single key, so at most one unknown attribute: type codes stay distinct
    out = [draw(table[k]) for k in sorted(require) + chosen]
    return draw(st.permutations(out))


@st.composite
def updates(draw: st.DrawFn, ctx: Context) -> Update:
    """UPDATEs valid under ``ctx``: distinct attributes, the well-known mandatory ones when
    there are routes (RFC 4271 §5, RFC 7606 §3 d), and within the maximum message size."""
    ipv4_pid = IPV4_UNICAST in ctx.add_path
    withdrawn = draw(st.lists(prefixes(AFI.IPV4, ipv4_pid), max_size=10))
    nlri = draw(st.lists(prefixes(AFI.IPV4, ipv4_pid), max_size=10))
    attrs_list = draw(distinct_attributes(ctx))
    codes = {a.type_code for a in attrs_list}
    has_mp_routes = any(isinstance(a, MpReach) and a.nlri for a in attrs_list)
    table = attribute_strategies(ctx)
    needed = [1, 2] if nlri or has_mp_routes else []
    needed += [3] if nlri else []
    attrs_list += [draw(table[c]) for c in needed if c not in codes]
    update = Update(withdrawn, attrs_list, nlri)
    if update_size(update, ctx) > ctx.max_message_size:
        # trim to fit: drop the big attributes that are not mandatory
        keep = [a for a in attrs_list if a.type_code in (1, 2, 3) or attribute_size(a, ctx) < 512]
        update = Update(withdrawn, keep, nlri)
    assume(update_size(update, ctx) <= ctx.max_message_size)
    return update


CAPABILITY_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "multiprotocol": st.builds(Multiprotocol, u16, u8),
    "route_refresh": st.builds(RouteRefreshCapability),
    "enhanced_route_refresh": st.builds(EnhancedRouteRefresh),
    "extended_message": st.builds(ExtendedMessage),
    "four_octet_as": st.builds(FourOctetAS, u32),
    # 2 + 4n <= 255 bytes: at most 63 families
    "graceful_restart": st.builds(
        GracefulRestart,
        uint(12),
        st.booleans(),
        st.booleans(),
        st.lists(st.tuples(u16, u8, u8), max_size=63),
        uint(2),
    ),
    "add_path": st.builds(AddPath, st.lists(st.tuples(u16, u8, st.integers(1, 3)), max_size=63)),
    # hostname and domain each <= 255 bytes and, with their two length octets, <= 255 in all
    "fqdn": st.tuples(st.text(max_size=120), st.text(max_size=120))
    .filter(lambda hd: len(hd[0].encode()) + len(hd[1].encode()) <= 253)
    .map(lambda hd: Fqdn(*hd)),
    "unknown": st.builds(
        UnknownCapability, u8.filter(lambda c: c not in KNOWN_CAPABILITY_CODES), st.binary(max_size=255)
    ),
}


def capabilities() -> st.SearchStrategy[Any]:
    """Any capability (value at most 255 bytes, RFC 5492 §4)."""
    return st.one_of(list(CAPABILITY_STRATEGIES.values()))


def optional_parameters() -> st.SearchStrategy[Any]:
    """Capabilities parameters (type 2) and other parameter types kept opaque."""
    return st.one_of(
        st.builds(CapabilityParameter, st.lists(capabilities(), max_size=4)),
        st.builds(UnknownParameter, u8.filter(lambda t: t != 2), st.binary(max_size=300)),
    )


def _parameter_sizes(params: list[Any]) -> list[int]:
    sizes = []
    for p in params:
        if isinstance(p, CapabilityParameter):
            sizes.append(sum(2 + len(c.value_bytes()) for c in p.capabilities))
        else:
            sizes.append(len(p.value))
    return sizes


@st.composite
def opens(draw: st.DrawFn) -> Open:
    """OPEN messages (always <= 4096 bytes, RFC 8654 §4), with RFC 9072 extended parameters
    when requested or needed (a parameter over 255 bytes, or over 254 in all)."""
    params = draw(st.lists(optional_parameters(), max_size=6))
    sizes = _parameter_sizes(params)
    needs_extended = any(s > 255 for s in sizes) or sum(2 + s for s in sizes) > 254
    extended = needs_extended or draw(st.booleans())
    total = 29 + (3 if extended else 0) + sum((3 if extended else 2) + s for s in sizes)
    assume(total <= 4096)
    return Open(
        draw(u16),
        draw(u16),
        draw(st.one_of(ipv4s, ipv4_texts())),
        params,
        version=draw(u8),
        extended_parameters=extended,
    )


def _payloads(limit: int) -> st.SearchStrategy[bytes]:
    """Any bytes up to ``limit`` long: random content when short, a fill pattern of any
    length up to exactly ``limit`` (cheap even for 65 KB)."""
    return st.one_of(
        st.binary(max_size=min(limit, 600)),
        st.tuples(st.integers(0, limit), u8).map(lambda t: bytes([t[1]]) * t[0]),
        st.just(limit).map(bytes),  # exactly the limit (mapped: keeps the strategy repr short)
    )


def notifications(max_size: int = 4096) -> st.SearchStrategy[Notification]:
    """NOTIFICATIONs with any code/subcode and data filling up to the whole message."""
    return st.builds(Notification, u8, u8, _payloads(max_size - 21))


@st.composite
def route_refreshes(draw: st.DrawFn, max_size: int = 4096) -> RouteRefresh:
    """ROUTE-REFRESH with any AFI/SAFI and subtype (RFC 7313 §3.2); opaque ORF entries up to
    the whole message, except on a BoRR/EoRR (subtypes 1 and 2), which has none (RFC 7313 §5)."""
    subtype = draw(u8)
    orf = b"" if subtype in (1, 2) else draw(_payloads(max_size - 23))
    return RouteRefresh(draw(u16), draw(u8), subtype, orf)


def keepalives() -> st.SearchStrategy[Keepalive]:
    """KEEPALIVE (nothing to vary)."""
    return st.just(Keepalive())


MESSAGE_KINDS: dict[str, Callable[[Context], st.SearchStrategy[Any]]] = {
    "open": lambda ctx: opens(),
    "update": updates,
    "notification": lambda ctx: notifications(ctx.max_message_size),
    "keepalive": lambda ctx: keepalives(),
    "route_refresh": lambda ctx: route_refreshes(ctx.max_message_size),
}
"""Each message type's strategy under a context, by name (for parametrised tests)."""


def messages(ctx: Context) -> st.SearchStrategy[Any]:
    """Any message valid under ``ctx``."""
    size = ctx.max_message_size
    return st.one_of(opens(), updates(ctx), notifications(size), keepalives(), route_refreshes(size))


# --- packing many routes into UPDATEs -----------------------------------------------


@st.composite
def packing_cases(draw: st.DrawFn, classic: bool) -> tuple[Context, list[Any], list[Any], bytes]:
    """(context, shared attributes, routes, next hop) for ``pack_updates``: IPv4 unicast
    (``classic``, routes in the NLRI field) or EVPN (routes in MP_REACH_NLRI).

    Half the time a padding attribute leaves exactly a random amount of room between the
    biggest route and all of them, so the routes spill over several messages.
    """
    ctx = draw(contexts())
    family = IPV4_UNICAST if classic else EVPN
    add_path = family in ctx.add_path
    each = prefixes(AFI.IPV4, add_path) if classic else evpn_routes(add_path)
    routes = draw(st.one_of(st.lists(each, max_size=30), bulk_routes(family, add_path, 400 if classic else 60)))
    if classic:
        required, next_hop = frozenset({1, 2, 3}), b""
    else:
        required, next_hop = frozenset({1, 2}), draw(st.one_of(blobs(4), blobs(16), blobs(32)))
    shared = draw(distinct_attributes(ctx, exclude=frozenset({14, 15, "unknown"}), require=required))  # type: ignore[arg-type]
    room = ctx.max_message_size - UPDATE_FIXED - sum(attribute_size(a, ctx) for a in shared)
    room -= 0 if classic else 4 + 5 + len(next_hop)  # MP_REACH_NLRI header, AFI/SAFI/NH/reserved
    sizes = [nlri_size(r) for r in routes]
    biggest = max(sizes, default=1)
    assume(room >= biggest)
    if routes and draw(st.booleans()):
        target = draw(st.integers(biggest, max(biggest, min(room, sum(sizes)))))
        pad = room - target - 4  # an extended-length header is 4 bytes
        if pad >= 0:
            shared.append(UnknownAttribute(200, bytes(pad), flags=OPTIONAL | TRANSITIVE | EXTENDED))
    return ctx, shared, routes, next_hop


@st.composite
def withdrawal_cases(draw: st.DrawFn, classic: bool) -> tuple[Context, list[Any]]:
    """(context, routes) for ``pack_withdrawals``, often more than one message holds."""
    ctx = draw(contexts())
    family = IPV4_UNICAST if classic else EVPN
    add_path = family in ctx.add_path
    each = prefixes(AFI.IPV4, add_path) if classic else evpn_routes(add_path)
    routes = draw(st.one_of(st.lists(each, max_size=30), bulk_routes(family, add_path, 3000 if classic else 150)))
    return ctx, routes
