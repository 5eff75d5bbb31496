"""BGP path attributes (RFC 4271 §4.3/§5 and extensions) with RFC 7606 error handling.

Every attribute is a frozen value with its ``flags`` (defaulting to the RFC's flags for
its type; the extended-length bit is kept so a received attribute re-encodes exactly and is
set automatically when the value needs it).  :func:`decode_attributes` classifies every
malformed attribute as RFC 7606 §7 prescribes for its type.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, TypeAlias, get_args

import attrs
import netaddr

from evpn.errors import Action, BGPError
from evpn.types import format_ip, ip_bytes
from evpn.wire._common import (
    U16,
    U32,
    Malformed,
    address,
    bits,
    check_bytes,
    check_range,
    items_of,
    max_bytes,
    to_tuple,
    to_tuple_of_tuples,
)
from evpn.wire.codes import AFI, SAFI, AttrType, ErrorCode, UpdateSubcode
from evpn.wire.context import Context
from evpn.wire.extcommunities import ExtCommunity, decode_ext_community
from evpn.wire.prefixes import OpaqueNlri, Prefix, decode_prefixes
from evpn.wire.routes import EvpnRoute, decode_evpn_nlri

__all__ = [
    "AS_TRANS",
    "Aggregator",
    "As4Aggregator",
    "As4Path",
    "AsPath",
    "AsPathSegment",
    "AtomicAggregate",
    "Attribute",
    "ClusterList",
    "Communities",
    "ExtendedCommunities",
    "LargeCommunities",
    "LocalPref",
    "MpReach",
    "MpUnreach",
    "MultiExitDisc",
    "NextHop",
    "Nlri",
    "Origin",
    "OriginatorId",
    "PmsiTunnel",
    "UnknownAttribute",
    "decode_attributes",
    "encode_attribute",
    "merge_as4_path",
]

OPTIONAL = 0x80
TRANSITIVE = 0x40
PARTIAL = 0x20
EXTENDED = 0x10
WELL_KNOWN = TRANSITIVE
OPTIONAL_TRANSITIVE = OPTIONAL | TRANSITIVE
AS_TRANS = 23456
"""The 2-octet placeholder for a 4-octet AS number (RFC 6793 §9)."""

Nlri: TypeAlias = EvpnRoute | Prefix | OpaqueNlri
_NLRI: tuple[type, ...] = get_args(Nlri)
_EVPN_ROUTE: tuple[type, ...] = get_args(EvpnRoute)
_EXT_COMMUNITY: tuple[type, ...] = get_args(ExtCommunity)


def _flags_field(default: int) -> Any:
    return attrs.field(default=default, kw_only=True, validator=bits(8))


def _next_hop_address(value: object) -> bytes:
    return address("NEXT_HOP", value)


def _address(value: object) -> bytes:
    return address("address", value)


def _router_id(value: object) -> bytes:
    return address("router_id", value)


def _cluster_id(value: object) -> bytes:
    """One CLUSTER_LIST entry: an IPv4-address-like 4-byte cluster ID (RFC 4456 §8)."""
    raw = ip_bytes(value)
    if len(raw) != 4:
        raise ValueError(f"cluster ID must be an IPv4 address, got {format_ip(raw)}")
    return raw


def _is_ipv4(_instance: Any, attribute: Any, value: bytes) -> None:
    """An attrs validator naming the field when it does not hold an IPv4 address."""
    if len(value) != 4:
        raise ValueError(f"{attribute.name} must be an IPv4 address, got {format_ip(value)}")


def _cluster_ids(value: Iterable[object]) -> tuple[bytes, ...]:
    ids = tuple(_cluster_id(x) for x in value)
    if not ids:  # "a non-zero multiple of 4" octets (RFC 7606 §7.10)
        raise ValueError("CLUSTER_LIST must hold at least one cluster ID")
    return ids


@attrs.frozen
class Origin:
    """ORIGIN (RFC 4271 §5.1.1): 0 IGP, 1 EGP, 2 INCOMPLETE."""

    type_code: ClassVar[int] = AttrType.ORIGIN
    value: int = attrs.field(default=0)
    flags: int = _flags_field(WELL_KNOWN)

    @value.validator
    def _check(self, _: Any, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value not in (0, 1, 2):
            raise ValueError(f"ORIGIN must be 0 (IGP), 1 (EGP) or 2 (INCOMPLETE), got {value!r}")

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return bytes((self.value,))


@attrs.frozen
class AsPathSegment:
    """One AS_PATH segment (RFC 4271 §4.3, RFC 5065 §3): 1 AS_SET, 2 AS_SEQUENCE, 3/4 confederation."""

    type: int = attrs.field()
    asns: tuple[int, ...] = attrs.field(converter=to_tuple)

    @type.validator
    def _check_type(self, _: Any, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value not in (1, 2, 3, 4):
            raise ValueError(f"AS_PATH segment type must be 1..4, got {value!r}")

    @asns.validator
    def _check_asns(self, _: Any, value: tuple[int, ...]) -> None:
        if not 1 <= len(value) <= 255:  # "one or more AS numbers" (RFC 4271 §4.3)
            raise ValueError(f"AS_PATH segment holds 1 to 255 ASNs, got {len(value)}")
        for asn in value:
            check_range("ASN", asn, 32)


AS_SET, AS_SEQUENCE, AS_CONFED_SEQUENCE, AS_CONFED_SET = 1, 2, 3, 4


def _segments_bytes(segments: Sequence[AsPathSegment], four_octet: bool) -> bytes:
    out = bytearray()
    for seg in segments:
        out += bytes((seg.type, len(seg.asns)))
        if four_octet:
            out += struct.pack(f"!{len(seg.asns)}I", *seg.asns)
        else:
            out += struct.pack(f"!{len(seg.asns)}H", *(a if a <= 0xFFFF else AS_TRANS for a in seg.asns))
    return bytes(out)


def _decode_segments(data: bytes, four_octet: bool) -> tuple[AsPathSegment, ...]:
    size = 4 if four_octet else 2
    fmt = "I" if four_octet else "H"
    segments = []
    pos, end = 0, len(data)
    while pos < end:
        if pos + 2 > end:
            raise Malformed("AS_PATH segment header truncated", UpdateSubcode.MALFORMED_AS_PATH)
        seg_type, count = data[pos], data[pos + 1]
        if seg_type not in (1, 2, 3, 4):
            raise Malformed(f"AS_PATH segment type {seg_type} unknown", UpdateSubcode.MALFORMED_AS_PATH)
        if count == 0:
            raise Malformed("AS_PATH segment of length zero (RFC 7606 §7.2)", UpdateSubcode.MALFORMED_AS_PATH)
        pos += 2
        if pos + count * size > end:
            raise Malformed(f"AS_PATH segment of {count} ASNs overruns the attribute", UpdateSubcode.MALFORMED_AS_PATH)
        asns = struct.unpack_from(f"!{count}{fmt}", data, pos)
        segment = AsPathSegment.__new__(AsPathSegment)
        object.__setattr__(segment, "type", seg_type)
        object.__setattr__(segment, "asns", asns)
        segments.append(segment)
        pos += count * size
    return tuple(segments)


def _path_length(segments: Iterable[AsPathSegment]) -> int:
    """Path length for RFC 6793 §4.2.3: an AS_SET counts 1, confederation segments 0."""
    total = 0
    for seg in segments:
        if seg.type == AS_SEQUENCE:
            total += len(seg.asns)
        elif seg.type == AS_SET:
            total += 1
    return total


@attrs.frozen
class AsPath:
    """AS_PATH (RFC 4271 §5.1.2).  ASNs are always held as full 4-octet numbers; the session's
    :class:`Context` picks 2- or 4-octet encoding (RFC 6793 §3, §4.2.2)."""

    type_code: ClassVar[int] = AttrType.AS_PATH
    segments: tuple[AsPathSegment, ...] = attrs.field(
        default=(), converter=to_tuple, validator=items_of(AsPathSegment, "AsPathSegment values")
    )
    flags: int = _flags_field(WELL_KNOWN)

    @property
    def length(self) -> int:
        """The path length used by the decision process (RFC 4271 §9.1.2.2 a)."""
        return _path_length(self.segments)

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire (ASNs above 65535 become AS_TRANS in 2-octet mode)."""
        return _segments_bytes(self.segments, ctx.four_octet_as)


@attrs.frozen
class As4Path:
    """AS4_PATH (RFC 6793 §3): the 4-octet path sent alongside a 2-octet AS_PATH."""

    type_code: ClassVar[int] = AttrType.AS4_PATH
    segments: tuple[AsPathSegment, ...] = attrs.field(
        default=(), converter=to_tuple, validator=items_of(AsPathSegment, "AsPathSegment values")
    )
    flags: int = _flags_field(OPTIONAL_TRANSITIVE)

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire (always 4-octet ASNs)."""
        return _segments_bytes(self.segments, True)


def merge_as4_path(as_path: AsPath, as4_path: As4Path | None) -> AsPath:
    """Reconstruct the real AS path from AS_PATH and AS4_PATH (RFC 6793 §4.2.3).

    If AS_PATH is shorter than AS4_PATH, AS4_PATH is ignored; otherwise the leading ASNs of
    AS_PATH that AS4_PATH does not cover are kept in front of AS4_PATH.
    """
    if as4_path is None:
        return as_path
    as4_segments = tuple(s for s in as4_path.segments if s.type in (AS_SET, AS_SEQUENCE))
    keep = _path_length(as_path.segments) - _path_length(as4_segments)
    if keep < 0:
        return as_path
    head: list[AsPathSegment] = []
    for seg in as_path.segments:
        if keep <= 0 and seg.type in (AS_SET, AS_SEQUENCE):
            break
        if seg.type == AS_SEQUENCE:
            take = seg.asns[:keep]
            keep -= len(take)
            head.append(AsPathSegment(seg.type, take))
        elif seg.type == AS_SET:
            keep -= 1
            head.append(seg)
        else:
            head.append(seg)
    if head and as4_segments and head[-1].type == as4_segments[0].type == AS_SEQUENCE:
        joined = head[-1].asns + as4_segments[0].asns
        if len(joined) <= 255:
            head[-1] = AsPathSegment(AS_SEQUENCE, joined)
            as4_segments = as4_segments[1:]
    return AsPath(tuple(head) + as4_segments, flags=as_path.flags)


@attrs.frozen
class NextHop:
    """NEXT_HOP (RFC 4271 §5.1.3): an IPv4 address."""

    type_code: ClassVar[int] = AttrType.NEXT_HOP
    address: bytes = attrs.field(converter=_next_hop_address, repr=lambda v: repr(format_ip(v)))
    flags: int = _flags_field(WELL_KNOWN)

    @address.validator
    def _check(self, _: Any, value: bytes) -> None:
        if len(value) != 4:
            raise ValueError(f"NEXT_HOP must be an IPv4 address, got {format_ip(value)}")

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return self.address


@attrs.frozen
class MultiExitDisc:
    """MULTI_EXIT_DISC (RFC 4271 §5.1.4)."""

    type_code: ClassVar[int] = AttrType.MULTI_EXIT_DISC
    value: int = attrs.field(validator=bits(32))
    flags: int = _flags_field(OPTIONAL)

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return U32.pack(self.value)


@attrs.frozen
class LocalPref:
    """LOCAL_PREF (RFC 4271 §5.1.5)."""

    type_code: ClassVar[int] = AttrType.LOCAL_PREF
    value: int = attrs.field(validator=bits(32))
    flags: int = _flags_field(WELL_KNOWN)

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return U32.pack(self.value)


@attrs.frozen
class AtomicAggregate:
    """ATOMIC_AGGREGATE (RFC 4271 §5.1.6)."""

    type_code: ClassVar[int] = AttrType.ATOMIC_AGGREGATE
    flags: int = _flags_field(WELL_KNOWN)

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire (empty)."""
        return b""


@attrs.frozen
class Aggregator:
    """AGGREGATOR (RFC 4271 §5.1.7, RFC 6793 §3): ASN and IPv4 address of the aggregating speaker."""

    type_code: ClassVar[int] = AttrType.AGGREGATOR
    asn: int = attrs.field(validator=bits(32))
    address: bytes = attrs.field(converter=_address, validator=_is_ipv4, repr=lambda v: repr(format_ip(v)))
    flags: int = _flags_field(OPTIONAL_TRANSITIVE)

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire (6 bytes in 2-octet mode, 8 in 4-octet mode)."""
        if ctx.four_octet_as:
            return U32.pack(self.asn) + self.address
        return U16.pack(self.asn if self.asn <= 0xFFFF else AS_TRANS) + self.address


@attrs.frozen
class As4Aggregator:
    """AS4_AGGREGATOR (RFC 6793 §3)."""

    type_code: ClassVar[int] = AttrType.AS4_AGGREGATOR
    asn: int = attrs.field(validator=bits(32))
    address: bytes = attrs.field(converter=_address, validator=_is_ipv4, repr=lambda v: repr(format_ip(v)))
    flags: int = _flags_field(OPTIONAL_TRANSITIVE)

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return U32.pack(self.asn) + self.address


@attrs.frozen
class Communities:
    """COMMUNITIES (RFC 1997): 32-bit values."""

    type_code: ClassVar[int] = AttrType.COMMUNITIES
    values: tuple[int, ...] = attrs.field(converter=to_tuple)

    @values.validator
    def _check(self, _: Any, value: tuple[int, ...]) -> None:
        if not value:  # "a non-zero multiple of 4" octets (RFC 7606 §7.8)
            raise ValueError("COMMUNITIES must hold at least one community")
        for community in value:
            check_range("community", community, 32)

    flags: int = _flags_field(OPTIONAL_TRANSITIVE)

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return struct.pack(f"!{len(self.values)}I", *self.values)


@attrs.frozen
class OriginatorId:
    """ORIGINATOR_ID (RFC 4456 §8)."""

    type_code: ClassVar[int] = AttrType.ORIGINATOR_ID
    router_id: bytes = attrs.field(converter=_router_id, validator=_is_ipv4, repr=lambda v: repr(format_ip(v)))
    flags: int = _flags_field(OPTIONAL)

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return self.router_id


@attrs.frozen
class ClusterList:
    """CLUSTER_LIST (RFC 4456 §8): 4-byte cluster IDs."""

    type_code: ClassVar[int] = AttrType.CLUSTER_LIST
    cluster_ids: tuple[bytes, ...] = attrs.field(converter=_cluster_ids)
    flags: int = _flags_field(OPTIONAL)

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return b"".join(self.cluster_ids)


def _encode_nlri(nlri: Sequence[Nlri]) -> bytes:
    return b"".join([n.encode() for n in nlri])


@attrs.frozen
class MpReach:
    """MP_REACH_NLRI (RFC 4760 §3): routes of (afi, safi) reachable via ``next_hop``.

    ``next_hop`` is the raw next-hop field: 4 or 16 bytes, or 32 (IPv6 global + link-local).
    """

    type_code: ClassVar[int] = AttrType.MP_REACH_NLRI
    afi: int = attrs.field(validator=bits(16))
    safi: int = attrs.field(validator=bits(8))
    next_hop: bytes = attrs.field(validator=max_bytes(255), repr=lambda v: repr(v.hex()))  # 1-octet length
    nlri: tuple[Nlri, ...] = attrs.field(default=(), converter=to_tuple, validator=items_of(_NLRI, "NLRI values"))
    flags: int = _flags_field(OPTIONAL)

    def __attrs_post_init__(self) -> None:
        problem = _next_hop_problem(self.afi, self.safi, len(self.next_hop))
        if problem:
            raise ValueError(f"next_hop: {problem}")
        _check_family_nlri(self.afi, self.safi, self.nlri)

    @property
    def next_hops(self) -> tuple[netaddr.IPAddress, ...]:
        """The next hop(s) as :class:`netaddr.IPAddress` (two for global + link-local IPv6)."""
        nh = self.next_hop
        if len(nh) == 32:
            return (netaddr.IPAddress(format_ip(nh[:16])), netaddr.IPAddress(format_ip(nh[16:])))
        if len(nh) in (4, 16):
            return (netaddr.IPAddress(format_ip(nh)),)
        return ()

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return (
            struct.pack("!HBB", self.afi, self.safi, len(self.next_hop))
            + self.next_hop
            + b"\0"
            + _encode_nlri(self.nlri)
        )


@attrs.frozen
class MpUnreach:
    """MP_UNREACH_NLRI (RFC 4760 §4).  With no NLRI it is the End-of-RIB marker (RFC 4724 §2)."""

    type_code: ClassVar[int] = AttrType.MP_UNREACH_NLRI
    afi: int = attrs.field(validator=bits(16))
    safi: int = attrs.field(validator=bits(8))
    nlri: tuple[Nlri, ...] = attrs.field(default=(), converter=to_tuple, validator=items_of(_NLRI, "NLRI values"))
    flags: int = _flags_field(OPTIONAL)

    def __attrs_post_init__(self) -> None:
        _check_family_nlri(self.afi, self.safi, self.nlri)

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return struct.pack("!HB", self.afi, self.safi) + _encode_nlri(self.nlri)


@attrs.frozen
class ExtendedCommunities:
    """EXTENDED_COMMUNITIES (RFC 4360 §2)."""

    type_code: ClassVar[int] = AttrType.EXTENDED_COMMUNITIES
    communities: tuple[ExtCommunity, ...] = attrs.field(
        converter=to_tuple, validator=items_of(_EXT_COMMUNITY, "extended community values")
    )

    @communities.validator
    def _check(self, _: Any, value: tuple[ExtCommunity, ...]) -> None:
        if not value:  # "a non-zero multiple of 8" octets (RFC 7606 §7.14)
            raise ValueError("EXTENDED_COMMUNITIES must hold at least one extended community")

    flags: int = _flags_field(OPTIONAL_TRANSITIVE)

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return b"".join([c.encode() for c in self.communities])


INGRESS_REPLICATION = 6


@attrs.frozen
class PmsiTunnel:
    """PMSI_TUNNEL (RFC 6514 §5; RFC 8365 §5.1.3 for VXLAN ingress replication).

    For ingress replication (tunnel type 6) ``tunnel_id`` is the replication endpoint's IP
    and ``label`` the raw 24-bit field (the VNI for VXLAN).
    """

    type_code: ClassVar[int] = AttrType.PMSI_TUNNEL
    tunnel_type: int = attrs.field(default=INGRESS_REPLICATION, validator=bits(8))
    label: int = attrs.field(default=0, validator=bits(24))
    tunnel_id: bytes = attrs.field(default=b"", repr=lambda v: repr(v.hex()))
    tunnel_flags: int = attrs.field(default=0, validator=bits(8))
    flags: int = _flags_field(OPTIONAL_TRANSITIVE)

    @tunnel_id.validator
    def _check(self, _: Any, value: bytes) -> None:
        check_bytes("tunnel_id", value, 0xFFFF - 5)  # the attribute length holds flags, type, label too
        if self.tunnel_type == INGRESS_REPLICATION and len(value) not in (4, 16):
            raise ValueError(
                f"tunnel_id of ingress replication must be a 4- or 16-byte IP address, got {value.hex()!r}"
            )

    @property
    def endpoint(self) -> netaddr.IPAddress | None:
        """The ingress-replication endpoint as a :class:`netaddr.IPAddress` (else ``None``)."""
        if self.tunnel_type == INGRESS_REPLICATION and len(self.tunnel_id) in (4, 16):
            return netaddr.IPAddress(format_ip(self.tunnel_id))
        return None

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return bytes((self.tunnel_flags, self.tunnel_type)) + self.label.to_bytes(3, "big") + self.tunnel_id


@attrs.frozen
class LargeCommunities:
    """LARGE_COMMUNITY (RFC 8092 §3): (global administrator, local data 1, local data 2) triples."""

    type_code: ClassVar[int] = AttrType.LARGE_COMMUNITY
    values: tuple[tuple[int, int, int], ...] = attrs.field(converter=to_tuple_of_tuples)

    @values.validator
    def _check(self, _: Any, value: tuple[tuple[int, ...], ...]) -> None:
        if not value:  # "a non-zero multiple of 12" octets (RFC 8092 §6)
            raise ValueError("LARGE_COMMUNITY must hold at least one large community")
        for community in value:
            if len(community) != 3:
                raise ValueError(f"large community must be 3 integers, got {community!r}")
            for part in community:
                check_range("large community part", part, 32)

    flags: int = _flags_field(OPTIONAL_TRANSITIVE)

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return b"".join(struct.pack("!III", *v) for v in self.values)


@attrs.frozen
class UnknownAttribute:
    """An optional attribute this library does not interpret, kept with its flags (RFC 4271 §5).

    :meth:`for_readvertisement` gives the copy to pass on: transitive ones with the partial
    bit set (RFC 4271 §9.1.2), non-transitive ones dropped.
    """

    type_code: int = attrs.field(validator=bits(8))
    value: bytes = attrs.field(validator=max_bytes(0xFFFF), repr=lambda v: repr(v.hex()))  # extended length
    flags: int = _flags_field(OPTIONAL_TRANSITIVE)

    def __attrs_post_init__(self) -> None:
        if self.type_code in _KNOWN:
            raise ValueError(f"type_code {self.type_code} has its own class; UnknownAttribute is for the other types")
        if not self.flags & OPTIONAL:
            raise ValueError("flags: an unrecognized attribute must be optional (RFC 4271 §5)")

    def value_bytes(self, ctx: Context) -> bytes:
        """The attribute value on the wire."""
        return self.value

    def for_readvertisement(self) -> UnknownAttribute | None:
        """The attribute as sent on to other peers, or ``None`` if it must not be (RFC 4271 §5)."""
        if not self.flags & TRANSITIVE:
            return None
        return attrs.evolve(self, flags=self.flags | PARTIAL)


Attribute: TypeAlias = (
    Origin
    | AsPath
    | NextHop
    | MultiExitDisc
    | LocalPref
    | AtomicAggregate
    | Aggregator
    | Communities
    | OriginatorId
    | ClusterList
    | MpReach
    | MpUnreach
    | ExtendedCommunities
    | As4Path
    | As4Aggregator
    | PmsiTunnel
    | LargeCommunities
    | UnknownAttribute
)


def encode_attribute(attr: Attribute, ctx: Context) -> bytes:
    """``flags type length value`` (RFC 4271 §4.3); the extended-length bit is set when needed."""
    value = attr.value_bytes(ctx)
    flags = attr.flags
    if len(value) > 255:
        flags |= EXTENDED
    if flags & EXTENDED:
        return struct.pack("!BBH", flags, attr.type_code, len(value)) + value
    return struct.pack("!BBB", flags, attr.type_code, len(value)) + value


# --- decoding ----------------------------------------------------------------------

_new = object.__new__
_set = object.__setattr__


def _fixed(name: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise Malformed(f"{name} length {len(value)} (must be {size})", UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)


def _multiple(name: str, value: bytes, size: int) -> None:
    # RFC 7606 §7.8, §7.10, §7.14 and RFC 8092 §6: a *non-zero* multiple
    if not value or len(value) % size:
        raise Malformed(
            f"{name} length {len(value)} (must be a non-zero multiple of {size})", UpdateSubcode.ATTRIBUTE_LENGTH_ERROR
        )


def _origin(value: bytes, flags: int, ctx: Context) -> Attribute:
    _fixed("ORIGIN", value, 1)
    if value[0] > 2:
        raise Malformed(f"ORIGIN value {value[0]} (must be 0, 1 or 2)", UpdateSubcode.INVALID_ORIGIN_ATTRIBUTE)
    return Origin(value[0], flags=flags)


def _as_path(value: bytes, flags: int, ctx: Context) -> Attribute:
    return AsPath(_decode_segments(value, ctx.four_octet_as), flags=flags)


def _as4_path(value: bytes, flags: int, ctx: Context) -> Attribute:
    return As4Path(_decode_segments(value, True), flags=flags)


def _next_hop(value: bytes, flags: int, ctx: Context) -> Attribute:
    _fixed("NEXT_HOP", value, 4)
    return NextHop(value, flags=flags)


def _med(value: bytes, flags: int, ctx: Context) -> Attribute:
    _fixed("MULTI_EXIT_DISC", value, 4)
    return MultiExitDisc(U32.unpack(value)[0], flags=flags)


def _local_pref(value: bytes, flags: int, ctx: Context) -> Attribute:
    _fixed("LOCAL_PREF", value, 4)
    return LocalPref(U32.unpack(value)[0], flags=flags)


def _atomic(value: bytes, flags: int, ctx: Context) -> Attribute:
    _fixed("ATOMIC_AGGREGATE", value, 0)
    return AtomicAggregate(flags=flags)


def _aggregator(value: bytes, flags: int, ctx: Context) -> Attribute:
    if ctx.four_octet_as:
        _fixed("AGGREGATOR", value, 8)
        return Aggregator(U32.unpack_from(value)[0], value[4:], flags=flags)
    _fixed("AGGREGATOR", value, 6)
    return Aggregator(U16.unpack_from(value)[0], value[2:], flags=flags)


def _as4_aggregator(value: bytes, flags: int, ctx: Context) -> Attribute:
    _fixed("AS4_AGGREGATOR", value, 8)
    return As4Aggregator(U32.unpack_from(value)[0], value[4:], flags=flags)


def _communities(value: bytes, flags: int, ctx: Context) -> Attribute:
    _multiple("COMMUNITIES", value, 4)
    return Communities(struct.unpack(f"!{len(value) // 4}I", value), flags=flags)


def _originator(value: bytes, flags: int, ctx: Context) -> Attribute:
    _fixed("ORIGINATOR_ID", value, 4)
    return OriginatorId(value, flags=flags)


def _cluster_list(value: bytes, flags: int, ctx: Context) -> Attribute:
    _multiple("CLUSTER_LIST", value, 4)
    return ClusterList([value[i : i + 4] for i in range(0, len(value), 4)], flags=flags)


def _next_hop_problem(afi: int, safi: int, length: int) -> str | None:
    """What is wrong with a next hop of ``length`` bytes for (afi, safi), if anything (RFC 7606 §7.11)."""
    if afi == AFI.L2VPN and safi == SAFI.EVPN and length not in (4, 16, 32):
        return f"EVPN next-hop length {length} (must be 4, 16 or 32)"
    # IPv6: 16 or 32 (RFC 2545 §3); IPv4: 4, or 16/32 with RFC 8950 §3
    if _is_ip_family(afi, safi) and length not in ((4, 16, 32) if afi == AFI.IPV4 else (16, 32)):
        return f"IPv{4 if afi == AFI.IPV4 else 6} next-hop length {length} inconsistent with the AFI"
    return None


def _is_ip_family(afi: int, safi: int) -> bool:
    return afi in (AFI.IPV4, AFI.IPV6) and safi in (SAFI.UNICAST, SAFI.MULTICAST)


def _check_family_nlri(afi: int, safi: int, nlri: tuple[Nlri, ...]) -> None:
    """Reject NLRI that (afi, safi) would not decode back to (for the MP_REACH/MP_UNREACH constructors)."""
    if afi == AFI.L2VPN and safi == SAFI.EVPN:
        wrong = [item for item in nlri if not isinstance(item, _EVPN_ROUTE)]
    elif _is_ip_family(afi, safi):
        wrong = [item for item in nlri if not (isinstance(item, Prefix) and item.afi == afi)]
    else:  # a family this library does not decode: its NLRI bytes, kept as one opaque value
        wrong = [item for item in nlri if not (isinstance(item, OpaqueNlri) and item.raw)] or list(nlri[1:])
    if wrong:
        raise TypeError(f"nlri of AFI {afi} SAFI {safi} cannot hold {wrong[0]!r}")
    if len({getattr(item, "path_id", None) is None for item in nlri}) > 1:
        raise ValueError("nlri must all have a path_id (ADD-PATH, RFC 7911) or none")


def _decode_nlri(afi: int, safi: int, data: bytes, ctx: Context) -> tuple[Nlri, ...]:
    add_path = (afi, safi) in ctx.add_path
    if afi == AFI.L2VPN and safi == SAFI.EVPN:
        return tuple(decode_evpn_nlri(data, add_path))
    if afi in (AFI.IPV4, AFI.IPV6) and safi in (SAFI.UNICAST, SAFI.MULTICAST):
        return tuple(decode_prefixes(data, afi, add_path))
    return (OpaqueNlri(data),) if data else ()


def _mp_reach(value: bytes, flags: int, ctx: Context) -> Attribute:
    if len(value) < 5:
        raise Malformed(f"MP_REACH_NLRI length {len(value)} (at least 5)", UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
    afi, safi, nh_len = struct.unpack_from("!HBB", value)
    if 5 + nh_len > len(value):
        raise Malformed(f"MP_REACH_NLRI next-hop length {nh_len} runs past the attribute")
    next_hop = value[4 : 4 + nh_len]
    problem = _next_hop_problem(afi, safi, nh_len)
    if problem:
        raise Malformed(problem)
    nlri = _decode_nlri(afi, safi, value[5 + nh_len :], ctx)
    attr = _new(MpReach)
    for name, item in (("afi", afi), ("safi", safi), ("next_hop", next_hop), ("nlri", nlri), ("flags", flags)):
        _set(attr, name, item)
    return attr


def _mp_unreach(value: bytes, flags: int, ctx: Context) -> Attribute:
    if len(value) < 3:
        raise Malformed(f"MP_UNREACH_NLRI length {len(value)} (at least 3)", UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
    afi, safi = struct.unpack_from("!HB", value)
    nlri = _decode_nlri(afi, safi, value[3:], ctx)
    attr = _new(MpUnreach)
    for name, item in (("afi", afi), ("safi", safi), ("nlri", nlri), ("flags", flags)):
        _set(attr, name, item)
    return attr


def _ext_communities(value: bytes, flags: int, ctx: Context) -> Attribute:
    _multiple("EXTENDED_COMMUNITIES", value, 8)
    communities = tuple(decode_ext_community(value[i : i + 8]) for i in range(0, len(value), 8))
    attr = _new(ExtendedCommunities)
    _set(attr, "communities", communities)
    _set(attr, "flags", flags)
    return attr


def _pmsi(value: bytes, flags: int, ctx: Context) -> Attribute:
    if len(value) < 5:
        raise Malformed(f"PMSI_TUNNEL length {len(value)} (at least 5)", UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
    tunnel_type = value[1]
    tunnel_id = value[5:]
    if tunnel_type == INGRESS_REPLICATION and len(tunnel_id) not in (4, 16):
        raise Malformed(f"PMSI_TUNNEL ingress-replication endpoint length {len(tunnel_id)} (must be 4 or 16)")
    return PmsiTunnel(tunnel_type, int.from_bytes(value[2:5], "big"), tunnel_id, value[0], flags=flags)


def _large_communities(value: bytes, flags: int, ctx: Context) -> Attribute:
    _multiple("LARGE_COMMUNITY", value, 12)
    n = len(value) // 12
    flat = struct.unpack(f"!{3 * n}I", value)
    return LargeCommunities([flat[i : i + 3] for i in range(0, 3 * n, 3)], flags=flags)


_Decoder = Callable[[bytes, int, Context], Attribute]

# type code -> (decoder, expected optional/transitive flags, RFC 7606 action when malformed,
#               default UPDATE error subcode)
_TAW = Action.TREAT_AS_WITHDRAW
_DISCARD = Action.ATTRIBUTE_DISCARD
_AFI_SAFI = Action.AFI_SAFI_DISABLE
_LEN = UpdateSubcode.ATTRIBUTE_LENGTH_ERROR
_OPT = UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR
_KNOWN: dict[int, tuple[_Decoder, int, Action, int]] = {
    AttrType.ORIGIN: (_origin, WELL_KNOWN, _TAW, _LEN),  # RFC 7606 §7.1
    AttrType.AS_PATH: (_as_path, WELL_KNOWN, _TAW, UpdateSubcode.MALFORMED_AS_PATH),  # §7.2
    AttrType.NEXT_HOP: (_next_hop, WELL_KNOWN, _TAW, _LEN),  # §7.3
    AttrType.MULTI_EXIT_DISC: (_med, OPTIONAL, _TAW, _LEN),  # §7.4
    AttrType.LOCAL_PREF: (_local_pref, WELL_KNOWN, _TAW, _LEN),  # §7.5
    AttrType.ATOMIC_AGGREGATE: (_atomic, WELL_KNOWN, _DISCARD, _LEN),  # §7.6
    AttrType.AGGREGATOR: (_aggregator, OPTIONAL_TRANSITIVE, _DISCARD, _LEN),  # §7.7
    AttrType.COMMUNITIES: (_communities, OPTIONAL_TRANSITIVE, _TAW, _LEN),  # §7.8
    AttrType.ORIGINATOR_ID: (_originator, OPTIONAL, _TAW, _LEN),  # §7.9
    AttrType.CLUSTER_LIST: (_cluster_list, OPTIONAL, _TAW, _LEN),  # §7.10
    AttrType.MP_REACH_NLRI: (_mp_reach, OPTIONAL, _AFI_SAFI, _OPT),  # §7.11
    AttrType.MP_UNREACH_NLRI: (_mp_unreach, OPTIONAL, _AFI_SAFI, _OPT),  # §7.11
    AttrType.EXTENDED_COMMUNITIES: (_ext_communities, OPTIONAL_TRANSITIVE, _TAW, _LEN),  # §7.14
    AttrType.AS4_PATH: (_as4_path, OPTIONAL_TRANSITIVE, _DISCARD, _OPT),  # RFC 6793 §6
    AttrType.AS4_AGGREGATOR: (_as4_aggregator, OPTIONAL_TRANSITIVE, _DISCARD, _OPT),  # RFC 6793 §6
    AttrType.PMSI_TUNNEL: (_pmsi, OPTIONAL_TRANSITIVE, _TAW, _OPT),  # as FRR does
    AttrType.LARGE_COMMUNITY: (_large_communities, OPTIONAL_TRANSITIVE, _TAW, _LEN),  # RFC 8092 §6
}


def _name(type_code: int) -> str:
    return AttrType(type_code).name if type_code in _KNOWN else f"attribute {type_code}"


def _update_error(subcode: int, field: str, data: bytes, action: Action) -> BGPError:
    return BGPError(ErrorCode.UPDATE_MESSAGE, subcode, field, data, action)


def decode_attributes(data: bytes, ctx: Context) -> tuple[list[Attribute], list[BGPError]]:
    """Decode the path attributes field of an UPDATE (RFC 4271 §4.3) under RFC 7606.

    Returns the attributes that survived and the non-fatal errors found (attribute discard,
    treat-as-withdraw, AFI/SAFI disable).  Raises :class:`BGPError` for errors that need a
    session reset: an unrecognized well-known attribute (RFC 4271 §6.3) and a repeated
    MP_REACH_NLRI/MP_UNREACH_NLRI (RFC 7606 §3 g).  The data of every error is the
    offending attribute (flags, type, length, value) and nothing more.
    """
    attributes: list[Attribute] = []
    errors: list[BGPError] = []
    seen: set[int] = set()
    pos, end = 0, len(data)
    known = _KNOWN
    while pos < end:
        if end - pos < 3 or (data[pos] & EXTENDED and end - pos < 4):
            errors.append(
                _update_error(
                    UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
                    f"{end - pos} trailing bytes too short for an attribute header (RFC 7606 §4)",
                    data[pos:],
                    _TAW,
                )
            )
            break
        flags, type_code = data[pos], data[pos + 1]
        if flags & EXTENDED:
            length = U16.unpack_from(data, pos + 2)[0]
            start = pos + 4
        else:
            length = data[pos + 2]
            start = pos + 3
        stop = start + length
        if stop > end:
            # RFC 7606 §4: treat-as-withdraw -- unless the overrunning attribute is MP_REACH_NLRI or
            # MP_UNREACH_NLRI, whose NLRI then cannot be located, so that the routes it names cannot
            # be withdrawn (RFC 7606 §5.3: session reset).
            mp = type_code in (AttrType.MP_REACH_NLRI, AttrType.MP_UNREACH_NLRI)
            overrun = _update_error(
                _LEN,
                f"{_name(type_code)} length {length} runs past the path attributes ({end - start} bytes left; RFC 7606 §4)",
                data[pos:],
                Action.SESSION_RESET if mp else _TAW,
            )
            if mp:
                raise overrun
            errors.append(overrun)
            break
        head = pos
        value = data[start:stop]
        pos = stop
        entry = known.get(type_code)
        if type_code in seen:
            if type_code in (AttrType.MP_REACH_NLRI, AttrType.MP_UNREACH_NLRI):
                raise _update_error(
                    UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
                    f"{_name(type_code)} appears twice (RFC 7606 §3 g)",
                    data[head:stop],
                    Action.SESSION_RESET,
                )
            errors.append(
                _update_error(
                    UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
                    f"{_name(type_code)} appears twice; repeat discarded (RFC 7606 §3 g)",
                    data[head:stop],
                    _DISCARD,
                )
            )
            continue
        seen.add(type_code)
        if entry is None:
            if not flags & OPTIONAL:
                raise _update_error(
                    UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                    f"unrecognized well-known attribute {type_code}",
                    data[head:stop],
                    Action.SESSION_RESET,
                )
            unknown = _new(UnknownAttribute)
            _set(unknown, "type_code", type_code)
            _set(unknown, "value", value)
            _set(unknown, "flags", flags)
            attributes.append(unknown)
            continue
        decoder, expected, action, subcode = entry
        if action is _AFI_SAFI and len(value) < 3:
            action = Action.SESSION_RESET  # the AFI/SAFI cannot even be read (RFC 7606 §7.11)
        mask = OPTIONAL | TRANSITIVE | (0 if expected == OPTIONAL_TRANSITIVE else PARTIAL)
        error = None
        if flags & mask != expected:
            error = _update_error(
                UpdateSubcode.ATTRIBUTE_FLAGS_ERROR,
                f"{_name(type_code)} flags 0x{flags:02x} (expected 0x{expected:02x}; RFC 7606 §3 c)",
                data[head:stop],
                action,
            )
        else:
            try:
                attributes.append(decoder(value, flags, ctx))
            except Malformed as exc:
                name, reason = _name(type_code), str(exc)
                field = reason if reason.startswith(name) else f"{name}: {reason}"
                error = _update_error(exc.subcode or subcode, field, data[head:stop], action)
        if error is not None:
            if action is Action.SESSION_RESET:  # raised, never reported on the UPDATE (see the docstring)
                raise error
            errors.append(error)
    return attributes, errors
