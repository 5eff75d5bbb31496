"""Extended communities (RFC 4360) used by EVPN, and an opaque fallback for the rest.

Each community is an 8-byte value ``type | sub-type | 6 bytes``.  Known ones decode to
typed frozen values; unknown ones are kept as :class:`UnknownExtCommunity` and re-encode
byte-exact.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from typing import TypeAlias

import attrs

from evpn.types import format_ip, format_mac, ip_bytes, mac_bytes
from evpn.wire._common import bits, check_range, flag

__all__ = [
    "ArpNd",
    "DefaultGateway",
    "Encapsulation",
    "EsImportRouteTarget",
    "EsiLabel",
    "ExtCommunity",
    "MacMobility",
    "RouteTarget",
    "RouterMac",
    "TunnelType",
    "UnknownExtCommunity",
    "decode_ext_community",
]

_RT_AS2 = struct.Struct("!BBHI")
_RT_IP = struct.Struct("!BB4sH")
_RT_AS4 = struct.Struct("!BBIH")
_ENCAP = struct.Struct("!BB4sH")  # type, sub-type, reserved, tunnel type (RFC 9012 §4.1)
_MOBILITY = struct.Struct("!BBBBI")  # type, sub-type, flags, reserved, sequence
_ESI_LABEL = struct.Struct("!BBBH3s")
_MAC = struct.Struct("!BB6s")
_ARP_ND = struct.Struct("!BBB5s")


class TunnelType(enum.IntEnum):
    """BGP tunnel encapsulation types (RFC 9012 §14, IANA), as carried by the encapsulation community."""

    L2TPV3 = 1
    GRE = 2
    IP_IN_IP = 7
    VXLAN = 8
    NVGRE = 9
    MPLS = 10
    MPLS_IN_GRE = 11
    VXLAN_GPE = 12
    MPLS_IN_UDP = 13
    IPV6_TUNNEL = 14
    SR_TE_POLICY = 15
    BARE = 16
    SR_TUNNEL = 17
    GENEVE = 19


@attrs.frozen
class RouteTarget:
    """Route target (RFC 4360 §4, RFC 5668 §2): ``ASN:NN`` (types 0x00/0x02) or ``IP:NN`` (0x01).

    ``administrator`` is an ASN (int) or an IPv4 address (text).  Build from text with
    :meth:`parse`; ``str()`` gives the text back.
    """

    administrator: int | str
    assigned: int
    kind: int = attrs.field(default=None)
    """0: 2-octet ASN, 1: IPv4 address, 2: 4-octet ASN (default: chosen from the values)."""

    def __attrs_post_init__(self) -> None:
        kind, admin = self.kind, self.administrator
        if kind is None:
            if not isinstance(admin, int | str):
                raise TypeError(f"route target administrator must be an ASN or an IPv4 address, got {admin!r}")
            kind = 1 if isinstance(admin, str) else 0 if admin <= 0xFFFF else 2
            object.__setattr__(self, "kind", kind)
        if kind == 1:
            try:
                ipv4 = isinstance(admin, str) and len(ip_bytes(admin)) == 4
            except ValueError:
                ipv4 = False
            if not ipv4:
                raise ValueError(f"route target administrator must be an IPv4 address, got {admin!r}")
            check_range("route target assigned number", self.assigned, 16)
        elif kind in (0, 2):
            if not isinstance(self.administrator, int):
                raise ValueError(f"route target administrator must be an ASN, got {self.administrator!r}")
            check_range("route target ASN", self.administrator, 16 if kind == 0 else 32)
            check_range("route target assigned number", self.assigned, 32 if kind == 0 else 16)
        else:
            raise ValueError(f"route target kind must be 0, 1 or 2, got {kind!r}")

    def encode(self) -> bytes:
        """The 8 wire bytes."""
        if self.kind == 1:
            return _RT_IP.pack(1, 2, ip_bytes(self.administrator), self.assigned)
        if self.kind == 0:
            return _RT_AS2.pack(0, 2, self.administrator, self.assigned)
        return _RT_AS4.pack(2, 2, self.administrator, self.assigned)

    def __str__(self) -> str:
        return f"{self.administrator}:{self.assigned}"

    @classmethod
    def parse(cls, text: str) -> RouteTarget:
        """Parse ``"ASN:NN"`` or ``"A.B.C.D:NN"`` (an ASN above 65535 gives the 4-octet form)."""
        admin, sep, number = text.rpartition(":")
        try:
            if not sep:
                raise ValueError("no ':'")
            if "." in admin:
                return cls(admin, int(number))
            return cls(int(admin), int(number))
        except ValueError as exc:
            raise ValueError(f"route target {text!r}: expected ASN:NN or A.B.C.D:NN ({exc})") from None


@attrs.frozen
class Encapsulation:
    """Encapsulation extended community (RFC 9012 §4.1; type 0x03 sub-type 0x0c)."""

    tunnel_type: int = attrs.field(default=TunnelType.VXLAN, validator=bits(16))

    def encode(self) -> bytes:
        """The 8 wire bytes."""
        return _ENCAP.pack(3, 0x0C, bytes(4), self.tunnel_type)


@attrs.frozen
class DefaultGateway:
    """Default gateway extended community (RFC 7432 §7.8; type 0x03 sub-type 0x0d)."""

    def encode(self) -> bytes:
        """The 8 wire bytes."""
        return bytes((3, 0x0D, 0, 0, 0, 0, 0, 0))


@attrs.frozen
class MacMobility:
    """MAC mobility extended community (RFC 7432 §7.7; type 0x06 sub-type 0x00)."""

    sequence: int = attrs.field(default=0, validator=bits(32))
    sticky: bool = attrs.field(default=False, validator=flag)

    def encode(self) -> bytes:
        """The 8 wire bytes."""
        return _MOBILITY.pack(6, 0, int(self.sticky), 0, self.sequence)


@attrs.frozen
class EsiLabel:
    """ESI label extended community (RFC 7432 §7.5; type 0x06 sub-type 0x01)."""

    label: int = attrs.field(validator=bits(24))
    single_active: bool = attrs.field(default=False, validator=flag)

    def encode(self) -> bytes:
        """The 8 wire bytes."""
        return _ESI_LABEL.pack(6, 1, int(self.single_active), 0, self.label.to_bytes(3, "big"))


@attrs.frozen
class EsImportRouteTarget:
    """ES-import route target (RFC 7432 §7.6; type 0x06 sub-type 0x02)."""

    mac: bytes = attrs.field(converter=mac_bytes, repr=lambda v: repr(format_mac(v)))

    def encode(self) -> bytes:
        """The 8 wire bytes."""
        return _MAC.pack(6, 2, self.mac)


@attrs.frozen
class RouterMac:
    """Router's MAC extended community (RFC 9135 §8.1; type 0x06 sub-type 0x03)."""

    mac: bytes = attrs.field(converter=mac_bytes, repr=lambda v: repr(format_mac(v)))

    def encode(self) -> bytes:
        """The 8 wire bytes."""
        return _MAC.pack(6, 3, self.mac)


@attrs.frozen
class ArpNd:
    """ARP/ND extended community (RFC 9047 §3.1; type 0x06 sub-type 0x08).

    Flags: ``router`` (R, bit 7), ``override`` (O, bit 6), ``immutable`` (I, bit 4).
    Flag bits this library does not know are kept in ``other_flags``.
    """

    router: bool = attrs.field(default=False, validator=flag)
    override: bool = attrs.field(default=False, validator=flag)
    immutable: bool = attrs.field(default=False, validator=flag)
    other_flags: int = attrs.field(default=0, validator=bits(8))

    @other_flags.validator
    def _check(self, _: object, value: int) -> None:
        if value & 0x0B:
            raise ValueError(f"other_flags 0x{value:02x} overlaps the R/O/I flags; use router/override/immutable")

    def encode(self) -> bytes:
        """The 8 wire bytes."""
        flags = self.other_flags | self.router | self.override << 1 | self.immutable << 3
        return _ARP_ND.pack(6, 8, flags, bytes(5))


@attrs.frozen
class UnknownExtCommunity:
    """An extended community this library does not interpret, kept byte-exact."""

    raw: bytes = attrs.field()

    @raw.validator
    def _check(self, _: object, value: bytes) -> None:
        if not isinstance(value, bytes) or len(value) != 8:
            raise ValueError(f"extended community must be 8 bytes, got {value!r}")

    @property
    def type(self) -> int:
        """The type octet (high bit 0x40 set: non-transitive)."""
        return self.raw[0]

    @property
    def subtype(self) -> int:
        """The sub-type octet."""
        return self.raw[1]

    def encode(self) -> bytes:
        """The 8 wire bytes."""
        return self.raw


ExtCommunity: TypeAlias = (
    RouteTarget
    | Encapsulation
    | DefaultGateway
    | MacMobility
    | EsiLabel
    | EsImportRouteTarget
    | RouterMac
    | ArpNd
    | UnknownExtCommunity
)

_new = object.__new__
_set = object.__setattr__


def _rt(raw: bytes) -> ExtCommunity:
    kind = raw[0]
    r = _new(RouteTarget)
    if kind == 0:
        _, _, admin, assigned = _RT_AS2.unpack(raw)
    elif kind == 1:
        _, _, ip, assigned = _RT_IP.unpack(raw)
        admin = format_ip(ip)
    else:
        _, _, admin, assigned = _RT_AS4.unpack(raw)
    _set(r, "administrator", admin)
    _set(r, "assigned", assigned)
    _set(r, "kind", kind)
    return r


def _encap(raw: bytes) -> ExtCommunity:
    _, _, reserved, tunnel_type = _ENCAP.unpack(raw)
    if reserved != bytes(4):
        return UnknownExtCommunity(raw)
    return Encapsulation(tunnel_type)


def _default_gw(raw: bytes) -> ExtCommunity:
    return DefaultGateway() if raw[2:] == bytes(6) else UnknownExtCommunity(raw)


def _mobility(raw: bytes) -> ExtCommunity:
    _, _, flags, reserved, seq = _MOBILITY.unpack(raw)
    if flags & ~1 or reserved:
        return UnknownExtCommunity(raw)
    return MacMobility(seq, bool(flags))


def _esi_label(raw: bytes) -> ExtCommunity:
    _, _, flags, reserved, label = _ESI_LABEL.unpack(raw)
    if flags & ~1 or reserved:
        return UnknownExtCommunity(raw)
    return EsiLabel(int.from_bytes(label, "big"), bool(flags))


def _arp_nd(raw: bytes) -> ExtCommunity:
    flags = raw[2]
    if raw[3:] != bytes(5):
        return UnknownExtCommunity(raw)
    return ArpNd(bool(flags & 1), bool(flags & 2), bool(flags & 8), flags & ~0x0B)


_DECODERS: dict[tuple[int, int], Callable[[bytes], ExtCommunity]] = {
    (0x00, 0x02): _rt,
    (0x01, 0x02): _rt,
    (0x02, 0x02): _rt,
    (0x03, 0x0C): _encap,
    (0x03, 0x0D): _default_gw,
    (0x06, 0x00): _mobility,
    (0x06, 0x01): _esi_label,
    (0x06, 0x02): lambda raw: EsImportRouteTarget(raw[2:]),
    (0x06, 0x03): lambda raw: RouterMac(raw[2:]),
    (0x06, 0x08): _arp_nd,
}


def decode_ext_community(raw: bytes) -> ExtCommunity:
    """Decode one 8-byte extended community (RFC 4360 §2, RFC 7432 §7.5-7.9, RFC 9047 §3.1).

    Values whose reserved bits are set are kept opaque so that they re-encode exactly.
    """
    decoder = _DECODERS.get((raw[0], raw[1]))
    if decoder is None:
        return UnknownExtCommunity(raw)
    return decoder(raw)
