"""EVPN NLRI (AFI 25 / SAFI 70): route types 1 to 5 and unknown types.

RFC 7432 §7 defines the NLRI ``route type (1) | length (1) | route type specific``;
RFC 9136 §3 adds type 5.  Each route is a frozen value; ``key`` is its identity in a
RIB (what RFC 7432 §7 says is part of the NLRI for BGP processing); the 3-byte label
fields are kept raw (24 bits) with views for VXLAN (RFC 8365 §5.1.3: the whole field is
the VNI) and MPLS (RFC 3032: 20-bit label + bottom of stack).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeAlias

import attrs
import netaddr

from evpn.types import ESI, RouteDistinguisher, format_ip, mac_bytes, mpls_label
from evpn.wire._common import U32, Malformed, address, bits, check_bytes, optional_bits

__all__ = [
    "EthernetADRoute",
    "EthernetSegmentRoute",
    "EvpnRoute",
    "IPPrefixRoute",
    "InclusiveMulticastRoute",
    "MacIpRoute",
    "UnknownRoute",
    "decode_evpn_nlri",
    "encode_evpn_nlri",
]

_new = object.__new__
_set = object.__setattr__

_T1 = struct.Struct("!8s10sI")  # RD, ESI, Ethernet Tag  (+ 3-byte label)
_T2 = struct.Struct("!8s10sIB6sB")  # RD, ESI, Ethernet Tag, MAC len, MAC, IP len
_T2_IPV4 = struct.Struct("!8s10sIB6sB4sBH")  # ... IP (4), label (3)
_T3 = struct.Struct("!8sIB")  # RD, Ethernet Tag, IP len
_T4 = struct.Struct("!8s10sB")  # RD, ESI, IP len
_T5 = struct.Struct("!8s10sIB")  # RD, ESI, Ethernet Tag, IP prefix len
# RIB keys (RFC 7432 §7): type, RD, then the type's key fields; variable-length fields last,
# after their length, and the ADD-PATH path identifier (RFC 7911 §3) appended when present.
_K1 = struct.Struct("!B8s10sI")  # type, RD, ESI, Ethernet Tag
_K2 = struct.Struct("!B8sI6sB")  # type, RD, Ethernet Tag, MAC, IP length
_K3 = struct.Struct("!B8sIB")  # type, RD, Ethernet Tag, IP length
_K4 = struct.Struct("!B8s10sB")  # type, RD, ESI, IP length
_K5 = struct.Struct("!B8sIBB")  # type, RD, Ethernet Tag, prefix length, address length


def _to_rd(value: object) -> RouteDistinguisher:
    return RouteDistinguisher.coerce(value)


def _to_esi(value: object) -> ESI:
    return ESI.coerce(value)


def _ip(value: object) -> bytes:
    return address("ip", value, optional=True)


def _originator_ip(value: object) -> bytes:
    return address("originator_ip", value)


def _prefix(value: object) -> bytes:
    return address("prefix", value)


def _gateway(value: object) -> bytes:
    return address("gateway", value, optional=True)


def _label_bytes(value: int) -> bytes:
    return value.to_bytes(3, "big")


def _path_suffix(path_id: int | None) -> bytes:
    return b"" if path_id is None else U32.pack(path_id)


class _RouteBase:
    """Views shared by every route type (mixed into the attrs classes)."""

    __slots__ = ()
    route_type: ClassVar[int]
    path_id: int | None

    def _body(self) -> bytes:
        raise NotImplementedError

    def encode(self) -> bytes:
        """The NLRI bytes: ``[path id] type length value`` (RFC 7432 §7, RFC 7911 §3)."""
        body = self._body()
        head = bytes((self.route_type, len(body)))
        if self.path_id is None:
            return head + body
        return U32.pack(self.path_id) + head + body


@attrs.frozen(kw_only=True)
class EthernetADRoute(_RouteBase):
    """Type 1, Ethernet Auto-Discovery route (RFC 7432 §7.1)."""

    route_type: ClassVar[int] = 1
    rd: RouteDistinguisher = attrs.field(converter=_to_rd)
    esi: ESI = attrs.field(default=ESI.ZERO, converter=_to_esi)
    ethernet_tag: int = attrs.field(default=0, validator=bits(32))
    label: int = attrs.field(default=0, validator=bits(24))
    path_id: int | None = attrs.field(default=None, validator=optional_bits(32))

    @property
    def key(self) -> bytes:
        """RIB identity: RD, ESI, Ethernet Tag (RFC 7432 §7.1; the label is not part of it)."""
        return _K1.pack(1, self.rd.raw, self.esi.raw, self.ethernet_tag) + _path_suffix(self.path_id)

    def _body(self) -> bytes:
        return _T1.pack(self.rd.raw, self.esi.raw, self.ethernet_tag) + _label_bytes(self.label)


@attrs.frozen(kw_only=True)
class MacIpRoute(_RouteBase):
    """Type 2, MAC/IP Advertisement route (RFC 7432 §7.2).

    ``mac`` is 6 bytes; ``ip`` is 0 (no IP), 4 or 16 bytes.  ``label1`` is the L2 VNI and
    ``label2`` (optional) the L3 VNI for symmetric IRB (RFC 9135 §5.1).
    """

    route_type: ClassVar[int] = 2
    rd: RouteDistinguisher = attrs.field(converter=_to_rd)
    esi: ESI = attrs.field(default=ESI.ZERO, converter=_to_esi)
    ethernet_tag: int = attrs.field(default=0, validator=bits(32))
    mac: bytes = attrs.field(converter=mac_bytes)
    ip: bytes = attrs.field(default=b"", converter=_ip)
    label1: int = attrs.field(default=0, validator=bits(24))
    label2: int | None = attrs.field(default=None, validator=optional_bits(24))
    path_id: int | None = attrs.field(default=None, validator=optional_bits(32))

    @property
    def key(self) -> bytes:
        """RIB identity: RD, Ethernet Tag, MAC, IP (RFC 7432 §7.2: ESI and labels are not part of it)."""
        key = _K2.pack(2, self.rd.raw, self.ethernet_tag, self.mac, len(self.ip)) + self.ip
        return key if self.path_id is None else key + U32.pack(self.path_id)

    @property
    def vni(self) -> int:
        """The L2 VNI: label1 read as a VXLAN VNI (RFC 8365 §5.1.3)."""
        return self.label1

    @property
    def mpls_label1(self) -> int:
        """label1 read as an MPLS label (RFC 7432 §7.2)."""
        return mpls_label(self.label1)

    @property
    def mac_address(self) -> netaddr.EUI:
        """The MAC as a :class:`netaddr.EUI`."""
        return netaddr.EUI(int.from_bytes(self.mac, "big"), version=48, dialect=netaddr.mac_unix_expanded)

    @property
    def ip_address(self) -> netaddr.IPAddress | None:
        """The IP as a :class:`netaddr.IPAddress`, or ``None`` for a MAC-only route."""
        return netaddr.IPAddress(format_ip(self.ip)) if self.ip else None

    def _body(self) -> bytes:
        body = _T2.pack(self.rd.raw, self.esi.raw, self.ethernet_tag, 48, self.mac, len(self.ip) * 8)
        body += self.ip + _label_bytes(self.label1)
        if self.label2 is not None:
            body += _label_bytes(self.label2)
        return body


@attrs.frozen(kw_only=True)
class InclusiveMulticastRoute(_RouteBase):
    """Type 3, Inclusive Multicast Ethernet Tag route (RFC 7432 §7.3): VTEP discovery."""

    route_type: ClassVar[int] = 3
    rd: RouteDistinguisher = attrs.field(converter=_to_rd)
    ethernet_tag: int = attrs.field(default=0, validator=bits(32))
    originator_ip: bytes = attrs.field(converter=_originator_ip)
    path_id: int | None = attrs.field(default=None, validator=optional_bits(32))

    @property
    def key(self) -> bytes:
        """RIB identity: every field (RFC 7432 §7.3)."""
        head = _K3.pack(3, self.rd.raw, self.ethernet_tag, len(self.originator_ip))
        return head + self.originator_ip + _path_suffix(self.path_id)

    @property
    def originator_address(self) -> netaddr.IPAddress:
        """The originating router's IP as a :class:`netaddr.IPAddress`."""
        return netaddr.IPAddress(format_ip(self.originator_ip))

    def _body(self) -> bytes:
        return _T3.pack(self.rd.raw, self.ethernet_tag, len(self.originator_ip) * 8) + self.originator_ip


@attrs.frozen(kw_only=True)
class EthernetSegmentRoute(_RouteBase):
    """Type 4, Ethernet Segment route (RFC 7432 §7.4)."""

    route_type: ClassVar[int] = 4
    rd: RouteDistinguisher = attrs.field(converter=_to_rd)
    esi: ESI = attrs.field(converter=_to_esi)
    originator_ip: bytes = attrs.field(converter=_originator_ip)
    path_id: int | None = attrs.field(default=None, validator=optional_bits(32))

    @property
    def key(self) -> bytes:
        """RIB identity: RD, ESI, originating router's IP (RFC 7432 §7.4)."""
        head = _K4.pack(4, self.rd.raw, self.esi.raw, len(self.originator_ip))
        return head + self.originator_ip + _path_suffix(self.path_id)

    def _body(self) -> bytes:
        return _T4.pack(self.rd.raw, self.esi.raw, len(self.originator_ip) * 8) + self.originator_ip


@attrs.frozen(kw_only=True)
class IPPrefixRoute(_RouteBase):
    """Type 5, IP Prefix route (RFC 9136 §3.1).

    ``prefix`` and ``gateway`` are 4 bytes (IPv4) or 16 bytes (IPv6), of the same family.
    The prefix is kept as received (host bits included) so that it re-encodes exactly;
    ``key`` and :attr:`network` use it masked to ``prefix_length``.
    """

    route_type: ClassVar[int] = 5
    rd: RouteDistinguisher = attrs.field(converter=_to_rd)
    esi: ESI = attrs.field(default=ESI.ZERO, converter=_to_esi)
    ethernet_tag: int = attrs.field(default=0, validator=bits(32))
    prefix: bytes = attrs.field(converter=_prefix)
    prefix_length: int = attrs.field()
    gateway: bytes = attrs.field(default=None, converter=_gateway)
    label: int = attrs.field(default=0, validator=bits(24))
    path_id: int | None = attrs.field(default=None, validator=optional_bits(32))

    def __attrs_post_init__(self) -> None:
        bits = len(self.prefix) * 8
        length = self.prefix_length
        if not isinstance(length, int) or isinstance(length, bool) or not 0 <= length <= bits:
            raise ValueError(f"prefix_length must be an integer in 0..{bits} for this prefix, got {length!r}")
        if not self.gateway:
            _set(self, "gateway", bytes(len(self.prefix)))
        elif len(self.gateway) != len(self.prefix):
            raise ValueError(
                f"gateway {format_ip(self.gateway)} and prefix {format_ip(self.prefix)}"
                " must be of the same address family (RFC 9136 §3.1)"
            )

    @property
    def network(self) -> netaddr.IPNetwork:
        """The prefix as a :class:`netaddr.IPNetwork`, host bits cleared."""
        return netaddr.IPNetwork(f"{format_ip(self.prefix)}/{self.prefix_length}").cidr

    @property
    def gateway_address(self) -> netaddr.IPAddress:
        """The gateway IP as a :class:`netaddr.IPAddress` (all zeros: none)."""
        return netaddr.IPAddress(format_ip(self.gateway))

    @property
    def vni(self) -> int:
        """The L3 VNI: the label read as a VXLAN VNI (RFC 9136 §3.1, RFC 8365 §5.1.3)."""
        return self.label

    @property
    def key(self) -> bytes:
        """RIB identity: RD, Ethernet Tag, IP prefix (RFC 9136 §3.1: ESI, gateway, label are not)."""
        size = len(self.prefix)
        shift = size * 8 - self.prefix_length
        masked = (int.from_bytes(self.prefix, "big") >> shift << shift).to_bytes(size, "big")
        head = _K5.pack(5, self.rd.raw, self.ethernet_tag, self.prefix_length, size)
        return head + masked + _path_suffix(self.path_id)

    def _body(self) -> bytes:
        head = _T5.pack(self.rd.raw, self.esi.raw, self.ethernet_tag, self.prefix_length)
        return head + self.prefix + self.gateway + _label_bytes(self.label)


@attrs.frozen(kw_only=True)
class UnknownRoute(_RouteBase):
    """A route of a type this library does not interpret, kept byte-exact (RFC 7432 §7)."""

    route_type: int = attrs.field(validator=bits(8))  # type: ignore[misc]  # a field here, a ClassVar on the others

    @route_type.validator
    def _check_type(self, _: Any, value: int) -> None:
        if value in _DECODERS:
            raise ValueError(f"route_type {value} has its own class; UnknownRoute is for the other types")

    raw: bytes = attrs.field()
    path_id: int | None = attrs.field(default=None, validator=optional_bits(32))

    @raw.validator
    def _check(self, _: Any, value: bytes) -> None:
        check_bytes("raw route body", value, 255)  # the route length octet (RFC 7432 §7)

    @property
    def key(self) -> bytes:
        """RIB identity: the type, the body's length and the body."""
        return bytes((self.route_type, len(self.raw))) + self.raw + _path_suffix(self.path_id)

    def _body(self) -> bytes:
        return self.raw


EvpnRoute: TypeAlias = (
    EthernetADRoute | MacIpRoute | InclusiveMulticastRoute | EthernetSegmentRoute | IPPrefixRoute | UnknownRoute
)


# --- decoding (RFC 7432 §7, RFC 9136 §3.1) -----------------------------------------
# The decoders build objects without running the constructors' converters: lengths and
# ranges were checked against the wire format here, which is cheaper than re-checking.


def _ip_len(bits: int, what: str) -> int:
    if bits == 32:
        return 4
    if bits == 128:
        return 16
    raise Malformed(f"{what} length {bits} (must be 32 or 128)")


def _setters(cls: type, *names: str) -> tuple[Callable[[object, object], None], ...]:
    """The slot descriptors' setters of a frozen attrs class, for building decoded values."""
    return tuple(cls.__dict__[name].__set__ for name in names)


_RDS: dict[bytes, RouteDistinguisher] = {}
_ESIS: dict[bytes, ESI] = {}


def _intern_rd(raw: bytes) -> RouteDistinguisher:
    if len(_RDS) >= 65536:
        _RDS.clear()
    rd = _RDS[raw] = RouteDistinguisher(raw)
    return rd


def _intern_esi(raw: bytes) -> ESI:
    if len(_ESIS) >= 65536:
        _ESIS.clear()
    esi = _ESIS[raw] = ESI(raw)
    return esi


_S1 = _setters(EthernetADRoute, "rd", "esi", "ethernet_tag", "label", "path_id")


def _type1(data: bytes, start: int, length: int, path_id: int | None) -> EthernetADRoute:
    if length != 25:
        raise Malformed(f"type-1 route length {length} (must be 25)")
    rd, esi, tag = _T1.unpack_from(data, start)
    s_rd, s_esi, s_tag, s_label, s_path = _S1
    r = _new(EthernetADRoute)
    s_rd(r, _RDS.get(rd) or _intern_rd(rd))
    s_esi(r, _ESIS.get(esi) or _intern_esi(esi))
    s_tag(r, tag)
    s_label(r, int.from_bytes(data[start + 22 : start + 25], "big"))
    s_path(r, path_id)
    return r


_LABELS: dict[int, int] = {}
_LABELS_MAX = 65536  # distinct label values shared (a VTEP has a few VNIs); more are kept as they come


def _shared_label(value: int) -> int:
    """One int object per label value, so that a million routes of one VNI share it."""
    if len(_LABELS) < _LABELS_MAX:
        return _LABELS.setdefault(value, value)
    return value


_S2 = _setters(MacIpRoute, "rd", "esi", "ethernet_tag", "mac", "ip", "label1", "label2", "path_id")


def _type2(data: bytes, start: int, length: int, path_id: int | None) -> MacIpRoute:
    if length == 37:  # MAC + IPv4 with one label, the common case: one unpack reads it all
        rd, esi, tag, mac_len, mac, ip_bits, ip, label_hi, label_lo = _T2_IPV4.unpack_from(data, start)
        label1 = label_hi << 16 | label_lo
        label2 = None
    else:
        if length < 33:
            raise Malformed(f"type-2 route length {length} (must be 33, 37 or 49, +3 with label2)")
        rd, esi, tag, mac_len, mac, ip_bits = _T2.unpack_from(data, start)
        ip_end = start + 30 + (ip_bits >> 3)
        ip = data[start + 30 : ip_end]
        rest = start + length - ip_end
        if rest not in (3, 6):
            raise Malformed(f"type-2 route length {length} does not match IP address length {ip_bits}")
        label1 = data[ip_end] << 16 | data[ip_end + 1] << 8 | data[ip_end + 2]
        label2 = data[ip_end + 3] << 16 | data[ip_end + 4] << 8 | data[ip_end + 5] if rest == 6 else None
    if mac_len != 48:
        raise Malformed(f"type-2 MAC address length {mac_len} (must be 48)")
    if ip_bits not in (0, 32, 128) or length - 33 - (ip_bits >> 3) not in (0, 3):
        raise Malformed(f"type-2 IP address length {ip_bits} (must be 0, 32 or 128, matching route length {length})")
    s_rd, s_esi, s_tag, s_mac, s_ip, s_label1, s_label2, s_path = _S2
    r = _new(MacIpRoute)
    s_rd(r, _RDS.get(rd) or _intern_rd(rd))
    s_esi(r, _ESIS.get(esi) or _intern_esi(esi))
    s_tag(r, tag)
    s_mac(r, mac)
    s_ip(r, ip)
    s_label1(r, _LABELS.get(label1) or _shared_label(label1))
    s_label2(r, label2)
    s_path(r, path_id)
    return r


_S3 = _setters(InclusiveMulticastRoute, "rd", "ethernet_tag", "originator_ip", "path_id")


def _type3(data: bytes, start: int, length: int, path_id: int | None) -> InclusiveMulticastRoute:
    if length not in (17, 29):
        raise Malformed(f"type-3 route length {length} (must be 17 or 29)")
    rd, tag, ip_bits = _T3.unpack_from(data, start)
    ip_len = _ip_len(ip_bits, "type-3 originating router's IP")
    if length != 13 + ip_len:
        raise Malformed(f"type-3 route length {length} does not match IP address length {ip_bits}")
    s_rd, s_tag, s_ip, s_path = _S3
    r = _new(InclusiveMulticastRoute)
    s_rd(r, _RDS.get(rd) or _intern_rd(rd))
    s_tag(r, tag)
    s_ip(r, data[start + 13 : start + length])
    s_path(r, path_id)
    return r


_S4 = _setters(EthernetSegmentRoute, "rd", "esi", "originator_ip", "path_id")


def _type4(data: bytes, start: int, length: int, path_id: int | None) -> EthernetSegmentRoute:
    if length not in (23, 35):
        raise Malformed(f"type-4 route length {length} (must be 23 or 35)")
    rd, esi, ip_bits = _T4.unpack_from(data, start)
    ip_len = _ip_len(ip_bits, "type-4 originating router's IP")
    if length != 19 + ip_len:
        raise Malformed(f"type-4 route length {length} does not match IP address length {ip_bits}")
    s_rd, s_esi, s_ip, s_path = _S4
    r = _new(EthernetSegmentRoute)
    s_rd(r, _RDS.get(rd) or _intern_rd(rd))
    s_esi(r, _ESIS.get(esi) or _intern_esi(esi))
    s_ip(r, data[start + 19 : start + length])
    s_path(r, path_id)
    return r


_S5 = _setters(IPPrefixRoute, "rd", "esi", "ethernet_tag", "prefix", "prefix_length", "gateway", "label", "path_id")


def _type5(data: bytes, start: int, length: int, path_id: int | None) -> IPPrefixRoute:
    if length == 34:
        ip_len = 4
    elif length == 58:
        ip_len = 16
    else:
        raise Malformed(f"type-5 route length {length} (must be 34 for IPv4 or 58 for IPv6)")
    rd, esi, tag, plen = _T5.unpack_from(data, start)
    if plen > ip_len * 8:
        raise Malformed(f"type-5 IP prefix length {plen} exceeds {ip_len * 8} for this route length")
    pos = start + 23
    s_rd, s_esi, s_tag, s_prefix, s_plen, s_gw, s_label, s_path = _S5
    r = _new(IPPrefixRoute)
    s_rd(r, _RDS.get(rd) or _intern_rd(rd))
    s_esi(r, _ESIS.get(esi) or _intern_esi(esi))
    s_tag(r, tag)
    s_prefix(r, data[pos : pos + ip_len])
    s_plen(r, plen)
    s_gw(r, data[pos + ip_len : pos + 2 * ip_len])
    s_label(r, int.from_bytes(data[pos + 2 * ip_len : pos + 2 * ip_len + 3], "big"))
    s_path(r, path_id)
    return r


_SU = _setters(UnknownRoute, "route_type", "raw", "path_id")


_DECODERS: dict[int, Callable[[bytes, int, int, int | None], EvpnRoute]] = {
    1: _type1,
    2: _type2,
    3: _type3,
    4: _type4,
    5: _type5,
}


def decode_evpn_nlri(data: bytes, add_path: bool = False) -> list[EvpnRoute]:
    """Decode a run of EVPN NLRI (RFC 7432 §7), with RFC 7911 path identifiers if ``add_path``.

    Unknown route types are kept as :class:`UnknownRoute`.  A length that runs past the
    data, or a known type whose fields disagree with its length, raises ``Malformed``
    (the caller turns it into the RFC 7606 outcome for the attribute that held it).
    """
    out: list[EvpnRoute] = []
    append = out.append
    decoders = _DECODERS
    end = len(data)
    pos = 0
    path_id = None
    while pos < end:
        if add_path:
            if pos + 4 > end:
                raise Malformed(f"EVPN NLRI path identifier truncated at offset {pos}")
            path_id = U32.unpack_from(data, pos)[0]
            pos += 4
        if pos + 2 > end:
            raise Malformed(f"EVPN NLRI truncated at offset {pos} (no route type/length)")
        route_type = data[pos]
        length = data[pos + 1]
        start = pos + 2
        pos = start + length
        if pos > end:
            raise Malformed(
                f"EVPN route type {route_type} length {length} runs past the NLRI ({end - start} bytes left)"
            )
        decoder = decoders.get(route_type)
        if decoder is None:
            route: EvpnRoute = _new(UnknownRoute)
            s_type, s_raw, s_path = _SU
            s_type(route, route_type)
            s_raw(route, data[start:pos])
            s_path(route, path_id)
            append(route)
        else:
            append(decoder(data, start, length, path_id))
    return out


def encode_evpn_nlri(routes: Iterable[EvpnRoute]) -> bytes:
    """Encode routes back to back (RFC 7432 §7); path identifiers are written where set."""
    return b"".join([route.encode() for route in routes])
