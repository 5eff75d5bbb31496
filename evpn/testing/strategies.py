"""Hypothesis strategies for BGP EVPN: every value the wire codec encodes, with the exact
field bounds, and malformed EVPN input with the handling RFC 7606 prescribes for it.

This module needs `Hypothesis <https://hypothesis.readthedocs.io>`_ at import time; install
it with the ``testing`` extra (``pip install 'evpn[testing]'``).  It is meant for your own
tests of code that consumes or produces EVPN routes, for fuzzers (see
``examples/route_fuzzer.py``), and for the project's tests.

**Valid values.**  Every strategy builds values through the public constructors (so it also
exercises their converters and validators) and only produces values that are valid *and*
re-encodable under the :class:`~evpn.wire.Context` they are drawn for: 2-octet
AS_PATH/AGGREGATOR hold ASNs <= 65535 only, routes carry a path identifier exactly when the
context has ADD-PATH for their family, messages fit the context's maximum size, and so on.
:func:`evpn_updates` draws the UPDATEs an EVPN peer sends, which a receiver must accept.

**Invalid input.**  :func:`malformed_evpn_nlri` draws EVPN NLRI bytes with one malformed
route (RFC 7432 §7, RFC 9136 §3.1) among well-formed ones, and
:func:`malformed_evpn_updates` whole UPDATE messages that are malformed in one way, each as
a :class:`MalformedUpdate` that names the RFC 7606 §2 approach (attribute discard,
treat-as-withdraw, AFI/SAFI disable, session reset) and, for a session reset, the
NOTIFICATION (RFC 4271 §6) a receiver must apply.  ``MALFORMED_NLRI_KINDS`` and
``MALFORMED_UPDATE_KINDS`` list the kinds, to pick one (``kind=...``) or to go through them all.

**Outside a test.**  :func:`generate` draws a fixed number of values with a seed, the same
ones on every run: for fuzzers and load generators.

Conventions: functions returning strategies are named after what they draw, in the
plural (``evpn_routes()``, ``ext_communities()``); those depending on a context take it
as their first argument.  Each docstring names the RFC section of what it draws.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from evpn.errors import Action
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
    ErrorCode,
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
    MessageHeaderSubcode,
    MessageType,
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
    UpdateSubcode,
    encode_attribute,
)

__all__ = [
    "CAPABILITY_STRATEGIES",
    "EVPN",
    "EXTENDED",
    "EXT_COMMUNITY_STRATEGIES",
    "HEADER_SIZE",
    "IPV4_UNICAST",
    "IPV6_UNICAST",
    "IP_FAMILIES",
    "KNOWN_ATTRIBUTE_CODES",
    "KNOWN_CAPABILITY_CODES",
    "KNOWN_EXT_COMMUNITY_KEYS",
    "KNOWN_ROUTE_TYPES",
    "MALFORMED_NLRI_KINDS",
    "MALFORMED_UPDATE_KINDS",
    "MESSAGE_KINDS",
    "OPTIONAL",
    "OPTIONAL_TRANSITIVE",
    "PARTIAL",
    "PMSI_INGRESS_REPLICATION",
    "ROUTE_STRATEGIES",
    "TRANSITIVE",
    "UPDATE_FIXED",
    "WELL_KNOWN",
    "MalformedUpdate",
    "arp_nds",
    "as_path_segments",
    "asns",
    "attr_flags",
    "attribute_size",
    "attribute_strategies",
    "attributes",
    "blobs",
    "bulk_routes",
    "capabilities",
    "contexts",
    "distinct_attributes",
    "esi_raws",
    "esis",
    "ethernet_ad_routes",
    "ethernet_segment_routes",
    "evpn_routes",
    "evpn_routes_for",
    "evpn_updates",
    "ext_communities",
    "generate",
    "inclusive_multicast_routes",
    "ip_prefix_routes",
    "ips",
    "ipv4_texts",
    "ipv4s",
    "ipv6s",
    "keepalives",
    "mac_ip_routes",
    "mac_texts",
    "macs",
    "malformed_evpn_nlri",
    "malformed_evpn_updates",
    "messages",
    "mp_families",
    "mp_reaches",
    "mp_unreaches",
    "nlri_size",
    "notifications",
    "opens",
    "optional_parameters",
    "packing_cases",
    "path_ids",
    "pmsi_tunnels",
    "prefixes",
    "rd_raws",
    "rd_texts",
    "route_distinguishers",
    "route_refreshes",
    "route_targets",
    "u8",
    "u16",
    "u24",
    "u32",
    "uint",
    "unknown_attributes",
    "unknown_ext_communities",
    "unknown_routes",
    "update_size",
    "updates",
    "value_size",
    "withdrawal_cases",
]

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

PMSI_INGRESS_REPLICATION = 6  # PMSI tunnel type (RFC 6514 §5, RFC 7432 §11.1)

HEADER_SIZE = 19
UPDATE_FIXED = HEADER_SIZE + 4  # header + withdrawn length + total path attribute length


def uint(bits: int) -> st.SearchStrategy[int]:
    """Unsigned integers of exactly ``bits`` bits, 0 .. 2**bits - 1: a fixed-width field
    (RFC 4271 §4.1: unsigned, network byte order)."""
    return st.integers(0, (1 << bits) - 1)


u8, u16, u24, u32 = uint(8), uint(16), uint(24), uint(32)


def blobs(size: int) -> st.SearchStrategy[bytes]:
    """Exactly ``size`` bytes: a fixed-size opaque field, such as an address, a MAC (RFC 7432 §7.2)
    or an RD value (RFC 4364 §4.2)."""
    return st.binary(min_size=size, max_size=size)


ipv4s = blobs(4)
ipv6s = blobs(16)
ips = st.one_of(ipv4s, ipv6s)
macs = blobs(6)


def ipv4_texts() -> st.SearchStrategy[str]:
    """Dotted-quad IPv4 addresses (RFC 791 §3.1 addresses; the BGP Identifier and NEXT_HOP of
    RFC 4271 §4.2, §5.1.3) in the canonical form the decoders print."""
    return ipv4s.map(lambda b: str(ipaddress.IPv4Address(b)))


def mac_texts() -> st.SearchStrategy[str]:
    """MACs (the 48-bit MAC Address field of RFC 7432 §7.2) as ``aa:bb:cc:dd:ee:ff`` text."""
    return macs.map(lambda b: ":".join(f"{x:02x}" for x in b))


# --- contexts ------------------------------------------------------------------------


def contexts(*, extended_message: bool | None = None) -> st.SearchStrategy[Context]:
    """Negotiated contexts: 2/4-octet AS (RFC 6793 §3), ADD-PATH (RFC 7911 §4) for EVPN and
    IPv4/IPv6 unicast, extended messages (RFC 8654 §3)."""
    return st.builds(
        Context,
        four_octet_as=st.booleans(),
        add_path=st.sets(st.sampled_from([EVPN, IPV4_UNICAST, IPV6_UNICAST])),
        extended_message=st.booleans() if extended_message is None else st.just(extended_message),
    )


def asns(ctx: Context) -> st.SearchStrategy[int]:
    """ASNs that the AS_PATH/AGGREGATOR encoding of ``ctx`` carries exactly (RFC 6793 §3, §4)."""
    return u32 if ctx.four_octet_as else u16


def path_ids(ctx: Context, family: tuple[int, int]) -> st.SearchStrategy[int | None]:
    """A path identifier when ``ctx`` has ADD-PATH for ``family`` (RFC 7911 §3), else ``None``."""
    return u32 if family in ctx.add_path else st.none()


# --- route distinguishers and ESIs (RFC 4364 §4.2, RFC 7432 §5) ------------------------


@st.composite
def rd_raws(draw: st.DrawFn) -> bytes:
    """8 wire bytes of an RD of type 0, 1, 2 (RFC 4364 §4.2) or any other (opaque) type."""
    kind = draw(st.sampled_from(["type0", "type1", "type2", "other"]))
    if kind == "type0":
        return struct.pack("!HHI", 0, draw(u16), draw(u32))
    if kind == "type1":
        return struct.pack("!H4sH", 1, draw(ipv4s), draw(u16))
    if kind == "type2":
        return struct.pack("!HIH", 2, draw(u32), draw(u16))
    return struct.pack("!H", draw(st.integers(3, 0xFFFF))) + draw(blobs(6))


def route_distinguishers() -> st.SearchStrategy[RouteDistinguisher]:
    """RDs of every type (RFC 4364 §4.2), built from their wire bytes."""
    return rd_raws().map(RouteDistinguisher)


@st.composite
def rd_texts(draw: st.DrawFn) -> tuple[str, bytes]:
    """``(text, wire bytes)`` for RDs (RFC 4364 §4.2) that :meth:`RouteDistinguisher.parse` accepts.

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
    """ESIs of every type (RFC 7432 §5)."""
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
    """Route types other than 1..5 with a body of at most 255 bytes, which a receiver keeps
    opaque (RFC 7432 §7: the length lets it skip them; RFC 7606 §5.4)."""
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
    """Any EVPN route of RFC 7432 §7 / RFC 9136 §3.1 (or an unknown type); with a path
    identifier (RFC 7911 §3) exactly when ``add_path``."""
    return st.one_of([make(add_path) for make in ROUTE_STRATEGIES.values()])


def evpn_routes_for(ctx: Context) -> st.SearchStrategy[Any]:
    """EVPN routes (RFC 7432 §7) as ``ctx`` carries them: a path identifier iff ADD-PATH for
    EVPN (RFC 7911 §3)."""
    return evpn_routes(EVPN in ctx.add_path)


# --- IP prefixes (RFC 4271 §4.3, RFC 4760 §5) ---------------------------------------


@st.composite
def prefixes(draw: st.DrawFn, afi: int = AFI.IPV4, add_path: bool = False) -> Prefix:
    """A prefix of ``afi`` (RFC 4271 §4.3, RFC 4760 §5); bytes past ceil(length/8) are zero (they are not on the wire),
    host bits inside the last octet are kept (they are)."""
    size = 4 if afi == AFI.IPV4 else 16
    length = draw(st.integers(0, size * 8))
    nbytes = (length + 7) // 8
    network = draw(blobs(nbytes)) + bytes(size - nbytes)
    return Prefix(network, length, path_id=draw(_pid(add_path)))


@st.composite
def bulk_routes(draw: st.DrawFn, family: tuple[int, int], add_path: bool, max_count: int) -> list[Any]:
    """Up to ``max_count`` routes of ``family`` (EVPN types 2 and 5, RFC 7432 §7.2 and RFC 9136
    §3.1, and unknown types; or IPv4/IPv6 unicast prefixes, RFC 4760 §5) made from one
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
    """Route targets (RFC 4360 §4) of kind 0 (AS2:NN32), 1 (IPv4:NN16) and 2 (AS4:NN16, RFC 5668 §2)."""
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
    """ARP/ND extended communities (RFC 9047 §3); ``other_flags`` never overlaps R (0x01), O (0x02), I (0x08)."""
    return st.builds(ArpNd, st.booleans(), st.booleans(), st.booleans(), u8.map(lambda f: f & ~0x0B))


@st.composite
def unknown_ext_communities(draw: st.DrawFn) -> UnknownExtCommunity:
    """8 bytes (RFC 4360 §2) that do not decode to a known community: an unknown (type, sub-type), or a
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
    """Any extended community (RFC 4360 §2; the EVPN ones of RFC 7432 §7.5-7.9, RFC 9135 §8.1,
    RFC 9047 §3; the encapsulation one of RFC 9012 §4.1)."""
    return st.one_of(list(EXT_COMMUNITY_STRATEGIES.values()))


# --- path attributes (RFC 4271 §5 and extensions) -----------------------------------


def attr_flags(base: int) -> st.SearchStrategy[int]:
    """Valid flags (RFC 4271 §4.3) for an attribute whose O/T bits are ``base``: the extended-length bit
    either way, the partial bit only on optional transitive attributes (RFC 4271 §4.3)."""
    partial = st.sampled_from([0, PARTIAL]) if base & OPTIONAL and base & TRANSITIVE else st.just(0)
    return st.builds(lambda e, p: base | e | p, st.sampled_from([0, EXTENDED]), partial)


def as_path_segments(asn: st.SearchStrategy[int], max_asns: int = 255) -> st.SearchStrategy[AsPathSegment]:
    """Segments of type 1 (AS_SET), 2 (AS_SEQUENCE), 3/4 (confederation; RFC 5065) with 1..255 ASNs
    (RFC 4271 §4.3, RFC 5065 §3)."""
    return st.builds(AsPathSegment, st.sampled_from([1, 2, 3, 4]), st.lists(asn, min_size=1, max_size=max_asns))


def mp_families(
    ctx: Context, max_nlri: int = 8
) -> st.SearchStrategy[tuple[int, int, st.SearchStrategy[list[Any]], st.SearchStrategy[bytes]]]:
    """(afi, safi, NLRI-list strategy, next-hop strategy) (RFC 4760 §3) for EVPN, IPv4/IPv6 unicast and
    multicast, and an opaque family (its NLRI kept as one blob); next hops of the lengths
    each family uses (EVPN: 4, 16 or 32 bytes)."""
    nh_evpn = st.one_of(blobs(4), blobs(16), blobs(32))
    choices = [(*EVPN, st.lists(evpn_routes_for(ctx), max_size=max_nlri), nh_evpn)]
    for afi, safi in IP_FAMILIES:
        nh = blobs(4) if afi == AFI.IPV4 else st.one_of(blobs(16), blobs(32))
        choices.append((afi, safi, st.lists(prefixes(afi, (afi, safi) in ctx.add_path), max_size=max_nlri), nh))
    other = st.tuples(u16, u8).filter(lambda f: f != EVPN and f not in IP_FAMILIES)
    opaque_nlri: st.SearchStrategy[list[Any]] = st.one_of(
        st.just([]), st.binary(min_size=1, max_size=200).map(lambda raw: [OpaqueNlri(raw)])
    )
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
        tunnel_type, tunnel_id = PMSI_INGRESS_REPLICATION, draw(ips)
    else:
        tunnel_type, tunnel_id = draw(u8.filter(lambda t: t != 6)), draw(st.binary(max_size=300))
    return PmsiTunnel(tunnel_type, draw(u24), tunnel_id, draw(u8), flags=draw(attr_flags(OPTIONAL_TRANSITIVE)))


def unknown_attributes() -> st.SearchStrategy[UnknownAttribute]:
    """Attributes of type codes this codec does not know, with the optional bit set, which a
    receiver keeps (and passes on if transitive, RFC 4271 §5, §9)."""
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
    """One strategy per path attribute type code (RFC 4271 §5 and the RFC of each attribute;
    and ``"unknown"``) valid under ``ctx``."""
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
    """Any path attribute (RFC 4271 §4.3, §5) valid under ``ctx``."""
    return st.one_of(list(attribute_strategies(ctx).values()))


# --- size arithmetic (from the RFC layouts; used to keep messages within limits) ----


def nlri_size(item: Any) -> int:
    """Bytes an NLRI item takes on the wire (RFC 7432 §7, RFC 9136 §3.1, RFC 4271 §4.3, RFC 7911)."""
    extra = 0 if getattr(item, "path_id", None) is None else 4
    if isinstance(item, OpaqueNlri):
        return len(item.raw)
    if isinstance(item, Prefix):
        return extra + 1 + (item.length + 7) // 8
    sizes: dict[type, Callable[[Any], int]] = {
        EthernetADRoute: lambda r: 25,
        MacIpRoute: lambda r: 33 + len(r.ip) + (0 if r.label2 is None else 3),
        InclusiveMulticastRoute: lambda r: 13 + len(r.originator_ip),
        EthernetSegmentRoute: lambda r: 19 + len(r.originator_ip),
        IPPrefixRoute: lambda r: 26 + 2 * len(r.prefix),
        UnknownRoute: lambda r: len(r.raw),
    }
    return extra + 2 + sizes[type(item)](item)


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
    """Bytes of the whole attribute (RFC 4271 §4.3): 3- or 4-byte header (extended length) plus value."""
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
    """Path attributes of distinct type codes (RFC 7606 §3 g), at most one of each, in random order; the codes in
    ``require`` always present, those in ``exclude`` never."""
    table = attribute_strategies(ctx)
    keys = [k for k in table if k not in exclude and k not in require]
    chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys))) if keys else []
    # "unknown" is a single key, so at most one unknown attribute: type codes stay distinct
    out = [draw(table[k]) for k in sorted(require) + chosen]
    return draw(st.permutations(out))


@st.composite
def updates(draw: st.DrawFn, ctx: Context) -> Update:
    """UPDATEs (RFC 4271 §4.3) valid under ``ctx``: distinct attributes, the well-known mandatory ones when
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
    """OPEN optional parameters (RFC 4271 §4.2): Capabilities (type 2, RFC 5492 §4) and other
    parameter types kept opaque."""
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
    """OPEN messages (RFC 4271 §4.2; always <= 4096 bytes, RFC 8654 §4), with RFC 9072 extended parameters
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
    """NOTIFICATIONs (RFC 4271 §4.5) with any code/subcode and data filling up to the whole message."""
    return st.builds(Notification, u8, u8, _payloads(max_size - 21))


@st.composite
def route_refreshes(draw: st.DrawFn, max_size: int = 4096) -> RouteRefresh:
    """ROUTE-REFRESH (RFC 2918 §3) with any AFI/SAFI and subtype (RFC 7313 §3.2); opaque ORF entries up to
    the whole message, except on a BoRR/EoRR (subtypes 1 and 2), which has none (RFC 7313 §5)."""
    subtype = draw(u8)
    orf = b"" if subtype in (1, 2) else draw(_payloads(max_size - 23))
    return RouteRefresh(draw(u16), draw(u8), subtype, orf)


def keepalives() -> st.SearchStrategy[Keepalive]:
    """KEEPALIVE (RFC 4271 §4.4; nothing to vary)."""
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
    """Any message (RFC 4271 §4: OPEN, UPDATE, NOTIFICATION, KEEPALIVE; RFC 2918 §3 ROUTE-REFRESH)
    valid under ``ctx``."""
    size = ctx.max_message_size
    return st.one_of(opens(), updates(ctx), notifications(size), keepalives(), route_refreshes(size))


# --- packing many routes into UPDATEs -----------------------------------------------


@st.composite
def packing_cases(draw: st.DrawFn, classic: bool) -> tuple[Context, list[Any], list[Any], bytes]:
    """(context, shared attributes, routes, next hop) for ``pack_updates`` (RFC 4760 §3, RFC 8654 §4): IPv4 unicast
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
    """(context, routes) for ``pack_withdrawals`` (RFC 4760 §4, RFC 4271 §4.3), often more than one message holds."""
    ctx = draw(contexts())
    family = IPV4_UNICAST if classic else EVPN
    add_path = family in ctx.add_path
    each = prefixes(AFI.IPV4, add_path) if classic else evpn_routes(add_path)
    routes = draw(st.one_of(st.lists(each, max_size=30), bulk_routes(family, add_path, 3000 if classic else 150)))
    return ctx, routes


# --- valid EVPN UPDATEs (RFC 4271 §4.3, RFC 4760 §3, RFC 7432 §7) --------------------


def _as_paths(ctx: Context, asn: int | None) -> st.SearchStrategy[AsPath]:
    """An AS_SEQUENCE starting with ``asn`` (an eBGP peer's own AS, RFC 4271 §5.1.2), or any."""
    asn_values = asns(ctx)
    first = st.just(asn) if asn is not None else asn_values
    return st.builds(
        lambda head, tail: AsPath([AsPathSegment(2, [head, *tail])]), first, st.lists(asn_values, max_size=6)
    )


@st.composite
def evpn_updates(draw: st.DrawFn, ctx: Context | None = None, *, asn: int | None = None, max_routes: int = 6) -> Update:
    """UPDATEs announcing 1..``max_routes`` EVPN routes (RFC 7432 §7, RFC 9136 §3.1) in
    MP_REACH_NLRI (RFC 4760 §3) with the attributes an EVPN peer sends: ORIGIN, an AS_PATH
    starting with ``asn`` when given (an eBGP peer's AS, RFC 4271 §5.1.2), sometimes MED,
    extended communities (RFC 4360, RFC 7432 §7.5-7.9) and a PMSI tunnel (RFC 6514 §5).

    Nothing in them is malformed, so a receiver must accept every route (RFC 4271 §9).
    The next hop is a 4- or 16-byte VTEP address (RFC 8365 §5.1.3).
    """
    ctx = ctx or Context()
    routes = draw(st.lists(evpn_routes_for(ctx), min_size=1, max_size=max_routes))
    attributes: list[Any] = [Origin(draw(st.sampled_from([0, 1, 2]))), draw(_as_paths(ctx, asn))]
    if draw(st.booleans()):
        attributes.append(MultiExitDisc(draw(u32)))
    if draw(st.booleans()):
        attributes.append(ExtendedCommunities(draw(st.lists(ext_communities(), min_size=1, max_size=4))))
    if draw(st.booleans()):
        # ingress replication to a VTEP, label = the VNI (RFC 8365 §5.1.3)
        attributes.append(PmsiTunnel(PMSI_INGRESS_REPLICATION, draw(u24), draw(ips), draw(st.sampled_from([0, 1]))))
    attributes.append(MpReach(AFI.L2VPN, SAFI.EVPN, draw(st.one_of(ipv4s, ipv6s)), routes))
    return Update(attributes=draw(st.permutations(attributes)))


# --- malformed EVPN NLRI (RFC 7432 §7, RFC 9136 §3.1, RFC 7606 §5.3) ------------------

_T2_HEAD = 8 + 10 + 4  # RD, ESI, Ethernet Tag (RFC 7432 §7.2)
_T5_HEAD = 8 + 10 + 4  # RD, ESI, Ethernet Tag (RFC 9136 §3.1)


def _route(route_type: int, body: bytes) -> bytes:
    return bytes((route_type, len(body))) + body


@st.composite
def _sized(draw: st.DrawFn, head: bytes, length: int) -> bytes:
    """``head`` cut or padded with random bytes to exactly ``length`` bytes."""
    return (head + draw(blobs(max(0, length - len(head)))))[:length]


@st.composite
def _type1_lengths(draw: st.DrawFn) -> bytes:
    """Type 1 whose route length is not 25 (RFC 7432 §7.1)."""
    length = draw(st.integers(0, 255).filter(lambda n: n != 25))
    return _route(1, draw(blobs(length)))


@st.composite
def _type2_lengths(draw: st.DrawFn) -> bytes:
    """Type 2 with a 48-bit MAC and an IP length of 0, 32 or 128 bits, but a route length that is
    not 33 + IP bytes (+ 3 with label2) (RFC 7432 §7.2)."""
    ip_bits = draw(st.sampled_from([0, 32, 128]))
    good = {33 + ip_bits // 8, 36 + ip_bits // 8}
    length = draw(st.integers(0, 255).filter(lambda n: n not in good))
    head = draw(blobs(_T2_HEAD)) + b"\x30" + draw(macs) + bytes((ip_bits,))
    return _route(2, draw(_sized(head, length)))


@st.composite
def _type2_mac_lengths(draw: st.DrawFn) -> bytes:
    """Type 2 whose MAC length is not 48 bits, its route length otherwise right (RFC 7432 §7.2)."""
    ip = draw(blobs(draw(st.sampled_from([0, 4, 16]))))
    labels = draw(st.sampled_from([3, 6]))
    mac_bits = draw(u8.filter(lambda n: n != 48))
    body = draw(blobs(_T2_HEAD)) + bytes((mac_bits,)) + draw(macs) + bytes((len(ip) * 8,)) + ip + draw(blobs(labels))
    return _route(2, body)


@st.composite
def _type2_ip_lengths(draw: st.DrawFn) -> bytes:
    """Type 2 whose IP length is not 0, 32 or 128 bits (the openbmp IP length 255 case), its
    route length matching that many bits (RFC 7432 §7.2)."""
    ip_bits = draw(u8.filter(lambda n: n not in (0, 32, 128)))
    ip = draw(blobs((ip_bits + 7) // 8))
    labels = draw(st.sampled_from([3, 6]))
    body = draw(blobs(_T2_HEAD)) + b"\x30" + draw(macs) + bytes((ip_bits,)) + ip + draw(blobs(labels))
    return _route(2, body)


def _originator_ip_lengths(route_type: int, fixed: int) -> st.SearchStrategy[bytes]:
    """Type 3 (RFC 7432 §7.3, ``fixed`` 13) or 4 (§7.4, 19) whose route length and IP length
    disagree: only ``fixed`` + 4 with 32 bits and ``fixed`` + 16 with 128 bits are valid."""
    valid = {(fixed + 4, 32), (fixed + 16, 128)}

    @st.composite
    def draw_route(draw: st.DrawFn) -> bytes:
        ip_bits = draw(st.one_of(st.sampled_from([0, 8, 32, 64, 128, 255]), u8))
        length = draw(st.one_of(st.sampled_from([fixed + (ip_bits + 7) // 8, fixed + 4, fixed + 16]), u8))
        if (length, ip_bits) in valid:
            length += 1
        head = draw(blobs(fixed - 1)) + bytes((ip_bits,))
        return _route(route_type, draw(_sized(head, min(length, 255))))

    return draw_route()


@st.composite
def _type5_lengths(draw: st.DrawFn) -> bytes:
    """Type 5 whose route length is neither 34 (IPv4) nor 58 (IPv6), e.g. an IPv4 prefix with
    an IPv6 gateway (46) (RFC 9136 §3.1)."""
    length = draw(st.one_of(st.just(46), u8).filter(lambda n: n not in (34, 58)))
    head = draw(blobs(_T5_HEAD)) + bytes((draw(st.integers(0, 32)),))
    return _route(5, draw(_sized(head, length)))


@st.composite
def _type5_prefix_lengths(draw: st.DrawFn) -> bytes:
    """Type 5 whose prefix length does not fit its layout: 33..255 in the IPv4 one, 129..255
    in the IPv6 one (RFC 9136 §3.1; the FRR #22353 abort)."""
    size = draw(st.sampled_from([4, 16]))
    prefix_length = draw(st.integers(size * 8 + 1, 255))
    body = draw(blobs(_T5_HEAD)) + bytes((prefix_length,)) + draw(blobs(size)) + draw(blobs(size)) + draw(blobs(3))
    return _route(5, body)


@st.composite
def _overruns(draw: st.DrawFn) -> bytes:
    """A route whose length runs past the end of the NLRI (RFC 7432 §7; RFC 7606 §5.3)."""
    encoded: bytes = draw(evpn_routes()).encode()
    if encoded[1] == 0:  # an empty unknown route: claim a body
        return encoded[:1] + bytes((draw(st.integers(1, 255)),))
    return encoded[: len(encoded) - draw(st.integers(1, encoded[1]))]


def _cut_at_route_type() -> st.SearchStrategy[bytes]:
    """NLRI that end right after a route type byte, with no length (the GoBGP bad-len corpus)."""
    return u8.map(lambda t: bytes((t,)))


MALFORMED_NLRI_KINDS: dict[str, Callable[[], st.SearchStrategy[bytes]]] = {
    "type1-length": _type1_lengths,
    "type2-length": _type2_lengths,
    "type2-mac-length": _type2_mac_lengths,
    "type2-ip-length": _type2_ip_lengths,
    "type3-ip-length": lambda: _originator_ip_lengths(3, 13),
    "type4-ip-length": lambda: _originator_ip_lengths(4, 19),
    "type5-length": _type5_lengths,
    "type5-prefix-length": _type5_prefix_lengths,
    "overrun": _overruns,
    "cut-at-route-type": _cut_at_route_type,
}
"""Each kind of malformed EVPN route, by name: a strategy for the bytes of one such route."""

_LAST_ONLY = frozenset({"overrun", "cut-at-route-type"})  # nothing can follow them


@st.composite
def _malformed_nlri_parts(
    draw: st.DrawFn, add_path: bool = False, kind: str | None = None
) -> tuple[str, list[Any], bytes, list[Any]]:
    """(kind, well-formed routes before, the malformed route's bytes, well-formed routes after)."""
    kind = kind or draw(st.sampled_from(sorted(MALFORMED_NLRI_KINDS)))
    before = draw(st.lists(evpn_routes(add_path), max_size=3))
    bad = draw(MALFORMED_NLRI_KINDS[kind]())
    if add_path:  # the path identifier comes first (RFC 7911 §3); a cut may fall inside it
        bad = draw(blobs(4)) + bad
        if kind == "cut-at-route-type":
            bad = bad[: draw(st.integers(1, 5))]
    after = [] if kind in _LAST_ONLY else draw(st.lists(evpn_routes(add_path), max_size=3))
    return kind, before, bad, after


def malformed_evpn_nlri(add_path: bool = False, kind: str | None = None) -> st.SearchStrategy[bytes]:
    """EVPN NLRI bytes (RFC 7432 §7) holding one malformed route among 0..6 well-formed ones:
    a route length wrong for its type (RFC 7432 §7.1-7.4, RFC 9136 §3.1), a MAC length other
    than 48, an IP length other than 0/32/128 or disagreeing with the route length, a type-5
    prefix length that does not fit, a length running past the NLRI, NLRI cut after a route
    type.  ``kind`` picks one of :data:`MALFORMED_NLRI_KINDS`.

    A decoder must reject the whole field: RFC 7606 §5.3 leaves no way to find the routes of
    malformed NLRI, so the UPDATE carrying it gets AFI/SAFI disable or a session reset
    (RFC 7606 §7.11).  With ``add_path`` every route has a path identifier (RFC 7911 §3).
    """
    return _malformed_nlri_parts(add_path, kind).map(
        lambda p: b"".join(r.encode() for r in p[1]) + p[2] + b"".join(r.encode() for r in p[3])
    )


# --- malformed UPDATEs (RFC 4271 §6, RFC 7606) ---------------------------------------


@attrs.frozen
class MalformedUpdate:
    """An UPDATE (RFC 4271 §4.3), or what was meant to be one, that is malformed in one way, and
    what a receiver must do about it (RFC 7606 §2, RFC 4271 §6)."""

    kind: str
    """Which way it is malformed: a key of :data:`MALFORMED_UPDATE_KINDS`, plus the NLRI kind
    (:data:`MALFORMED_NLRI_KINDS`) after a ``/`` for malformed NLRI."""
    message: bytes = attrs.field(repr=lambda v: f"<{len(v)} bytes>")
    """The whole message, header included."""
    action: Action
    """The RFC 7606 §2 approach: ``ATTRIBUTE_DISCARD`` (the routes are accepted without the
    attribute), ``TREAT_AS_WITHDRAW``, ``AFI_SAFI_DISABLE`` (EVPN, for the rest of the
    session) or ``SESSION_RESET``."""
    notification: tuple[int, int] | None
    """The NOTIFICATION's (code, subcode) for a session reset (RFC 4271 §6), else ``None``."""
    routes: tuple[Any, ...] = ()
    """The well-formed EVPN routes it announces or withdraws, to a receiver that reads that far
    (none for a header error)."""


def _header(msg_type: int, length: int, marker: bytes = b"\xff" * 16) -> bytes:
    return marker + struct.pack("!HB", length, msg_type)


def _update_message(attributes: bytes, withdrawn: bytes = b"", nlri: bytes = b"") -> bytes:
    body = struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attributes)) + attributes + nlri
    return _header(MessageType.UPDATE, HEADER_SIZE + len(body)) + body


def _raw_attribute(flags: int, code: int, value: bytes) -> bytes:
    if flags & EXTENDED:
        return struct.pack("!BBH", flags, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


def _mp_reach_value(next_hop: bytes, nlri: bytes) -> bytes:
    return struct.pack("!HBB", AFI.L2VPN, SAFI.EVPN, len(next_hop)) + next_hop + b"\x00" + nlri


@attrs.frozen
class _Parts:
    """A well-formed EVPN UPDATE taken apart, for one piece to be broken."""

    ctx: Context
    routes: list[Any]
    origin: bytes
    as_path: bytes
    others: list[bytes]  # extended communities, MED, ...
    next_hop: bytes

    @property
    def nlri(self) -> bytes:
        return b"".join(r.encode() for r in self.routes)

    @property
    def mp_reach(self) -> bytes:
        return _raw_attribute(OPTIONAL | EXTENDED, 14, _mp_reach_value(self.next_hop, self.nlri))

    def message(self, *attributes: bytes) -> bytes:
        return _update_message(b"".join(attributes))


@st.composite
def _parts(draw: st.DrawFn, ctx: Context, asn: int | None) -> _Parts:
    update = draw(evpn_updates(ctx, asn=asn, max_routes=4))
    reach = update.mp_reach
    assert reach is not None
    encoded = {a.type_code: encode_attribute(a, ctx) for a in update.attributes}
    others = [v for code, v in encoded.items() if code not in (1, 2, 14)]
    return _Parts(ctx, list(reach.nlri), encoded[1], encoded[2], others, reach.next_hop)


_UPDATE = ErrorCode.UPDATE_MESSAGE
_HEADER = ErrorCode.MESSAGE_HEADER
_TAW, _DISCARD, _DISABLE, _RESET = (
    Action.TREAT_AS_WITHDRAW,
    Action.ATTRIBUTE_DISCARD,
    Action.AFI_SAFI_DISABLE,
    Action.SESSION_RESET,
)


def _malformed(
    kind: str, message: bytes, action: Action, parts: _Parts | None = None, *, subcode: int = 0, code: int = _UPDATE
) -> MalformedUpdate:
    notification = (int(code), int(subcode)) if action is _RESET else None
    return MalformedUpdate(kind, message, action, notification, tuple(parts.routes) if parts else ())


# Each builder takes (draw, parts) and returns a MalformedUpdate.


def _mp_reach_nlri(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """Malformed NLRI in MP_REACH_NLRI: AFI/SAFI disable (RFC 7606 §5.3, §7.11)."""
    kind, before, bad, after = draw(_malformed_nlri_parts(EVPN in p.ctx.add_path))
    nlri = b"".join(r.encode() for r in before) + bad + b"".join(r.encode() for r in after)
    reach = _raw_attribute(OPTIONAL | EXTENDED, 14, _mp_reach_value(p.next_hop, nlri))
    p = attrs.evolve(p, routes=before + after)
    return _malformed(f"mp-reach-nlri/{kind}", p.message(p.origin, p.as_path, *p.others, reach), _DISABLE, p)


def _mp_unreach_nlri(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """Malformed NLRI in MP_UNREACH_NLRI: AFI/SAFI disable (RFC 7606 §5.3, §7.11)."""
    kind, before, bad, after = draw(_malformed_nlri_parts(EVPN in p.ctx.add_path))
    nlri = b"".join(r.encode() for r in before) + bad + b"".join(r.encode() for r in after)
    unreach = _raw_attribute(OPTIONAL | EXTENDED, 15, struct.pack("!HB", AFI.L2VPN, SAFI.EVPN) + nlri)
    p = attrs.evolve(p, routes=before + after)
    return _malformed(f"mp-unreach-nlri/{kind}", p.message(unreach), _DISABLE, p)


def _mp_reach_next_hop(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """An EVPN next hop that is not 4, 16 or 32 bytes: AFI/SAFI disable (RFC 7606 §7.11)."""
    size = draw(st.integers(0, 40).filter(lambda n: n not in (4, 16, 32)))
    reach = _raw_attribute(OPTIONAL | EXTENDED, 14, _mp_reach_value(draw(blobs(size)), p.nlri))
    return _malformed("mp-reach-next-hop", p.message(p.origin, p.as_path, *p.others, reach), _DISABLE, p)


def _mp_flags(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """MP_REACH_NLRI not flagged optional non-transitive: AFI/SAFI disable (RFC 7606 §3 c, §7.11)."""
    flags = draw(st.sampled_from([0x00, 0x40, 0x50, 0xA0, 0xC0, 0xD0, 0xE0]))
    reach = _raw_attribute(flags | EXTENDED, 14, _mp_reach_value(p.next_hop, p.nlri))
    return _malformed("mp-reach-flags", p.message(p.origin, p.as_path, *p.others, reach), _DISABLE, p)


def _missing_mandatory(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """Routes without ORIGIN or AS_PATH: treat-as-withdraw (RFC 7606 §3 d, RFC 4271 §5)."""
    keep = draw(st.sampled_from([[p.origin], [p.as_path], []]))
    return _malformed("missing-mandatory", p.message(*keep, *p.others, p.mp_reach), _TAW, p)


def _origin(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """ORIGIN with a value other than 0..2 or a length other than 1: treat-as-withdraw (RFC 7606 §7.1)."""
    value = draw(
        st.one_of(st.integers(3, 255).map(lambda v: bytes((v,))), st.binary(max_size=4).filter(lambda b: len(b) != 1))
    )
    origin = _raw_attribute(TRANSITIVE, 1, value)
    return _malformed("origin", p.message(origin, p.as_path, *p.others, p.mp_reach), _TAW, p)


@st.composite
def _bad_as_path_values(draw: st.DrawFn, width: int) -> bytes:
    asn = blobs(width)
    kind = draw(st.sampled_from(["overrun", "empty-segment", "segment-type", "cut-header"]))
    if kind == "overrun":  # a segment claiming more ASNs than follow
        count = draw(st.integers(1, 255))
        return bytes((2, count)) + b"".join(draw(asn) for _ in range(draw(st.integers(0, min(count - 1, 8)))))
    if kind == "empty-segment":
        return b"\x02\x00"
    if kind == "segment-type":  # RFC 4271 §4.3 and RFC 5065 define types 1..4
        return bytes((draw(st.sampled_from([0, *range(5, 256)])), 1)) + draw(asn)
    return draw(st.sampled_from([b"\x02", b"\x01"]))


def _as_path(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """A malformed AS_PATH (a segment overrunning the attribute, an empty segment, an unknown
    segment type): treat-as-withdraw (RFC 7606 §7.2)."""
    value = draw(_bad_as_path_values(4 if p.ctx.four_octet_as else 2))
    as_path = _raw_attribute(TRANSITIVE, 2, value)
    return _malformed("as-path", p.message(p.origin, as_path, *p.others, p.mp_reach), _TAW, p)


def _ext_communities_length(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """EXTENDED_COMMUNITIES whose length is not a non-zero multiple of 8: treat-as-withdraw
    (RFC 7606 §7.14)."""
    length = draw(st.integers(0, 60).filter(lambda n: n == 0 or n % 8))
    bad = _raw_attribute(OPTIONAL_TRANSITIVE, 16, draw(blobs(length)))
    return _malformed("ext-communities-length", p.message(p.origin, p.as_path, bad, p.mp_reach), _TAW, p)


def _pmsi_tunnel(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """PMSI_TUNNEL shorter than its fixed 5 bytes, or ingress replication (type 6) to an endpoint
    that is not 4 or 16 bytes (RFC 6514 §5, RFC 8365 §5.1.3): treat-as-withdraw, as for the other
    attributes that decide how to forward (RFC 7606 §2, §8)."""
    value = draw(
        st.one_of(
            st.binary(max_size=4),
            st.builds(
                lambda flags, label, endpoint: bytes((flags, 6)) + label + endpoint,
                u8,
                blobs(3),
                st.binary(max_size=20).filter(lambda b: len(b) not in (4, 16)),
            ),
        )
    )
    bad = _raw_attribute(OPTIONAL_TRANSITIVE, 22, value)
    return _malformed("pmsi-tunnel", p.message(p.origin, p.as_path, bad, p.mp_reach), _TAW, p)


def _attribute_flags(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """ORIGIN or AS_PATH marked optional, EXTENDED_COMMUNITIES or PMSI_TUNNEL marked well-known
    or non-transitive: treat-as-withdraw (RFC 7606 §3 c)."""
    which = draw(st.sampled_from(["origin", "as_path", "ext", "pmsi"]))
    origin, as_path, others = p.origin, p.as_path, [o for o in p.others if o[1] not in (16, 22)]
    if which == "origin":
        origin = bytes((draw(st.sampled_from([0x00, 0x80, 0xC0])) | (origin[0] & EXTENDED),)) + origin[1:]
    elif which == "as_path":
        as_path = bytes((draw(st.sampled_from([0x00, 0x80, 0xC0, 0x60])) | (as_path[0] & EXTENDED),)) + as_path[1:]
    elif which == "ext":
        others.append(_raw_attribute(draw(st.sampled_from([0x00, 0x40, 0x80])), 16, bytes.fromhex("0002fde800000064")))
    else:
        pmsi = b"\x00\x06" + b"\x00\x06\x41" + bytes((198, 51, 100, 1))
        others.append(_raw_attribute(draw(st.sampled_from([0x00, 0x40, 0x80])), 22, pmsi))
    return _malformed("attribute-flags", p.message(origin, as_path, *others, p.mp_reach), _TAW, p)


def _attribute_overrun(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """The last attribute's length runs past the path attributes, or too few bytes are left for
    an attribute header: treat-as-withdraw (RFC 7606 §4)."""
    whole = _raw_attribute(OPTIONAL_TRANSITIVE, 16, draw(blobs(8 * draw(st.integers(1, 4)))))
    tail = whole[: draw(st.integers(1, len(whole) - 1))]
    return _malformed("attribute-overrun", p.message(p.origin, p.as_path, p.mp_reach, tail), _TAW, p)


def _repeated_attribute(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """ORIGIN, AS_PATH or EXTENDED_COMMUNITIES twice: the repeats are discarded (RFC 7606 §3 g)."""
    ext = _raw_attribute(OPTIONAL_TRANSITIVE, 16, bytes.fromhex("0002fde800000064"))
    which = draw(st.sampled_from([p.origin, p.as_path, ext]))
    others = [o for o in p.others if o[1] != 16]
    attributes = [p.origin, p.as_path, *others, p.mp_reach]
    if which is ext:
        attributes.insert(2, ext)
    attributes.insert(draw(st.integers(attributes.index(which) + 1, len(attributes))), which)
    return _malformed("repeated-attribute", p.message(*attributes), _DISCARD, p)


def _aggregator_length(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """AGGREGATOR of the wrong length, or ATOMIC_AGGREGATE not empty: the attribute is
    discarded (RFC 7606 §7.6, §7.7)."""
    if draw(st.booleans()):
        size = 8 if p.ctx.four_octet_as else 6
        bad = _raw_attribute(OPTIONAL_TRANSITIVE, 7, draw(blobs(draw(st.integers(0, 12).filter(lambda n: n != size)))))
    else:
        bad = _raw_attribute(TRANSITIVE, 6, draw(st.binary(min_size=1, max_size=8)))
    return _malformed("aggregator-length", p.message(p.origin, p.as_path, bad, *p.others, p.mp_reach), _DISCARD, p)


def _header_marker(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """A marker that is not all ones: Connection Not Synchronized (RFC 4271 §6.1)."""
    marker = draw(blobs(16).filter(lambda m: m != b"\xff" * 16))
    message = p.message(p.origin, p.as_path, p.mp_reach)
    return _malformed(
        "header-marker",
        marker + message[16:],
        _RESET,
        subcode=MessageHeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
        code=_HEADER,
    )


def _header_length(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """A length below 19, or below 23 for an UPDATE: Bad Message Length (RFC 4271 §6.1)."""
    length = draw(st.integers(0, UPDATE_FIXED - 1))
    message = _header(MessageType.UPDATE, length) + draw(blobs(max(0, length - HEADER_SIZE)))
    return _malformed("header-length", message, _RESET, subcode=MessageHeaderSubcode.BAD_MESSAGE_LENGTH, code=_HEADER)


def _header_type(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """A message type other than 1..5: Bad Message Type (RFC 4271 §6.1)."""
    msg_type = draw(st.sampled_from([0, *range(6, 256)]))
    body = draw(st.binary(max_size=16))
    message = _header(msg_type, HEADER_SIZE + len(body)) + body
    return _malformed("header-type", message, _RESET, subcode=MessageHeaderSubcode.BAD_MESSAGE_TYPE, code=_HEADER)


def _length_fields(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """A withdrawn routes length or total path attribute length beyond the message: Malformed
    Attribute List, session reset (RFC 4271 §6.3, RFC 7606 §4)."""
    attributes = p.origin + p.as_path + p.mp_reach
    if draw(st.booleans()):
        # the withdrawn routes leave fewer than the 2 bytes of the total path attribute length
        withdrawn = draw(st.integers(len(attributes) + 1, 0xFFFF))
        body = struct.pack("!H", withdrawn) + struct.pack("!H", len(attributes)) + attributes
    else:
        body = b"\x00\x00" + struct.pack("!H", draw(st.integers(len(attributes) + 1, 0xFFFF))) + attributes
    message = _header(MessageType.UPDATE, HEADER_SIZE + len(body)) + body
    return _malformed("length-fields", message, _RESET, p, subcode=UpdateSubcode.MALFORMED_ATTRIBUTE_LIST)


def _repeated_mp(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """MP_REACH_NLRI or MP_UNREACH_NLRI twice: Malformed Attribute List, session reset (RFC 7606 §3 g)."""
    unreach = _raw_attribute(OPTIONAL | EXTENDED, 15, struct.pack("!HB", AFI.L2VPN, SAFI.EVPN) + p.nlri)
    twice = draw(st.sampled_from([p.mp_reach, unreach]))
    message = p.message(p.origin, p.as_path, twice, *p.others, twice)
    return _malformed("repeated-mp", message, _RESET, p, subcode=UpdateSubcode.MALFORMED_ATTRIBUTE_LIST)


def _unrecognized_well_known(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """An attribute type this codec does not know, marked well-known: Unrecognized Well-known
    Attribute, session reset (RFC 4271 §6.3)."""
    code = draw(u8.filter(lambda c: c not in KNOWN_ATTRIBUTE_CODES))
    bad = _raw_attribute(TRANSITIVE, code, draw(st.binary(max_size=8)))
    message = p.message(p.origin, p.as_path, bad, p.mp_reach)
    return _malformed(
        "unrecognized-well-known", message, _RESET, p, subcode=UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE
    )


def _mp_too_short(draw: st.DrawFn, p: _Parts) -> MalformedUpdate:
    """MP_REACH_NLRI or MP_UNREACH_NLRI too short to hold an AFI/SAFI: there is no family to
    disable, so Attribute Length Error, session reset (RFC 7606 §7.11)."""
    code = draw(st.sampled_from([14, 15]))
    bad = _raw_attribute(OPTIONAL, code, draw(st.binary(max_size=2)))
    return _malformed(
        "mp-too-short", p.message(p.origin, p.as_path, bad), _RESET, subcode=UpdateSubcode.ATTRIBUTE_LENGTH_ERROR
    )


MALFORMED_UPDATE_KINDS: dict[str, Callable[[st.DrawFn, _Parts], MalformedUpdate]] = {
    "mp-reach-nlri": _mp_reach_nlri,
    "mp-unreach-nlri": _mp_unreach_nlri,
    "mp-reach-next-hop": _mp_reach_next_hop,
    "mp-reach-flags": _mp_flags,
    "missing-mandatory": _missing_mandatory,
    "origin": _origin,
    "as-path": _as_path,
    "ext-communities-length": _ext_communities_length,
    "pmsi-tunnel": _pmsi_tunnel,
    "attribute-flags": _attribute_flags,
    "attribute-overrun": _attribute_overrun,
    "repeated-attribute": _repeated_attribute,
    "aggregator-length": _aggregator_length,
    "header-marker": _header_marker,
    "header-length": _header_length,
    "header-type": _header_type,
    "length-fields": _length_fields,
    "repeated-mp": _repeated_mp,
    "unrecognized-well-known": _unrecognized_well_known,
    "mp-too-short": _mp_too_short,
}
"""Each way :func:`malformed_evpn_updates` breaks an UPDATE, by name (the builder's docstring
says how, and what RFC 7606 prescribes)."""


@st.composite
def malformed_evpn_updates(
    draw: st.DrawFn, ctx: Context | None = None, *, asn: int | None = None, kind: str | None = None
) -> MalformedUpdate:
    """Messages that a peer with which EVPN (and ``ctx``) was negotiated sends in place of an
    EVPN UPDATE, malformed in exactly one way, as :class:`MalformedUpdate` values that say
    what a receiver must do (RFC 7606 §2, RFC 4271 §6): malformed EVPN NLRI or an MP_REACH_NLRI
    next hop of the wrong length (AFI/SAFI disable, RFC 7606 §5.3, §7.11), broken ORIGIN,
    AS_PATH, EXTENDED_COMMUNITIES, PMSI_TUNNEL or attribute flags, missing mandatory
    attributes (treat-as-withdraw, RFC 7606 §3, §7), repeated or broken discardable
    attributes (attribute discard, RFC 7606 §3 g, §7.6, §7.7), and header and length-field
    errors (session reset, RFC 4271 §6.1, §6.3).

    ``asn`` starts the AS_PATH (an eBGP peer's own AS) so that the routes would be accepted
    were it not for the error.  ``kind`` picks one of :data:`MALFORMED_UPDATE_KINDS`.
    """
    ctx = ctx or Context()
    kind = kind or draw(st.sampled_from(sorted(MALFORMED_UPDATE_KINDS)))
    return MALFORMED_UPDATE_KINDS[kind](draw, draw(_parts(ctx, asn)))


# --- drawing outside a test ------------------------------------------------------------

_T = TypeVar("_T")


def generate(strategy: st.SearchStrategy[_T], count: int, *, seed: int = 0) -> list[_T]:
    """``count`` values drawn from ``strategy``, the same ones for the same ``seed`` (and the same
    Hypothesis version): for fuzzers and load generators, which draw outside a test.  What it
    draws is what ``strategy`` draws (see its RFC reference).

    Values come from Hypothesis's generation phase, so they include its edge cases (the
    simplest value first).  Do not call it from inside a Hypothesis test.
    """
    out: list[_T] = []
    round_ = 0
    while len(out) < count:
        missing = count - len(out)

        @settings(
            max_examples=missing,
            database=None,
            phases=[Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=False,
        )
        @hypothesis_seed(seed * 1_000_003 + round_)
        @given(strategy)
        def collect(value: _T) -> None:
            out.append(value)

        collect()
        round_ += 1
    return out[:count]
