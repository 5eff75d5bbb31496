"""OPEN capabilities (RFC 5492) and optional parameters (RFC 4271 §4.2, RFC 9072).

Known capabilities decode to frozen values; unknown ones are kept as
:class:`UnknownCapability` and re-encode byte-exact.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, ClassVar, TypeAlias

import attrs

from evpn.wire._common import U16, U32, Malformed, bits, check_range, flag, max_bytes, to_tuple, to_tuple_of_tuples
from evpn.wire.codes import CapabilityCode

__all__ = [
    "AddPath",
    "Capability",
    "CapabilityParameter",
    "EnhancedRouteRefresh",
    "ExtendedMessage",
    "FourOctetAS",
    "Fqdn",
    "GracefulRestart",
    "Multiprotocol",
    "RouteRefreshCapability",
    "UnknownCapability",
    "UnknownParameter",
    "decode_capability_list",
]

_AFI_SAFI = struct.Struct("!HxB")
_GR_FAMILY = struct.Struct("!HBB")
_ADD_PATH = struct.Struct("!HBB")


@attrs.frozen
class Multiprotocol:
    """Multiprotocol extensions capability (RFC 4760 §8): one (AFI, SAFI)."""

    code: ClassVar[int] = CapabilityCode.MULTIPROTOCOL
    afi: int = attrs.field(validator=bits(16))
    safi: int = attrs.field(validator=bits(8))

    def value_bytes(self) -> bytes:
        """The capability value on the wire."""
        return _AFI_SAFI.pack(self.afi, self.safi)


@attrs.frozen
class RouteRefreshCapability:
    """Route refresh capability (RFC 2918 §3)."""

    code: ClassVar[int] = CapabilityCode.ROUTE_REFRESH

    def value_bytes(self) -> bytes:
        """The capability value on the wire (empty)."""
        return b""


@attrs.frozen
class EnhancedRouteRefresh:
    """Enhanced route refresh capability (RFC 7313 §3.1)."""

    code: ClassVar[int] = CapabilityCode.ENHANCED_ROUTE_REFRESH

    def value_bytes(self) -> bytes:
        """The capability value on the wire (empty)."""
        return b""


@attrs.frozen
class ExtendedMessage:
    """Extended message capability (RFC 8654 §3): messages up to 65535 bytes."""

    code: ClassVar[int] = CapabilityCode.EXTENDED_MESSAGE

    def value_bytes(self) -> bytes:
        """The capability value on the wire (empty)."""
        return b""


@attrs.frozen
class FourOctetAS:
    """Support for 4-octet AS numbers capability (RFC 6793 §3), carrying the speaker's ASN."""

    code: ClassVar[int] = CapabilityCode.FOUR_OCTET_AS
    asn: int = attrs.field(validator=bits(32))

    def value_bytes(self) -> bytes:
        """The capability value on the wire."""
        return U32.pack(self.asn)


@attrs.frozen
class GracefulRestart:
    """Graceful restart capability (RFC 4724 §3; N bit from RFC 8538 §2).

    ``families`` holds (AFI, SAFI, flags) with flag 0x80 = forwarding state preserved.
    """

    code: ClassVar[int] = CapabilityCode.GRACEFUL_RESTART
    restart_time: int = attrs.field(default=120, validator=bits(12))
    restarting: bool = attrs.field(default=False, validator=flag)
    notification: bool = attrs.field(default=False, validator=flag)
    families: tuple[tuple[int, int, int], ...] = attrs.field(default=(), converter=to_tuple_of_tuples)

    @families.validator
    def _check_families(self, _: Any, value: tuple[tuple[int, ...], ...]) -> None:
        for family in value:  # AFI (2) | SAFI (1) | Flags for Address Family (1), RFC 4724 §3
            if len(family) != 3:
                raise ValueError(f"graceful restart family must be (AFI, SAFI, flags), got {family!r}")
            check_range("graceful restart AFI", family[0], 16)
            check_range("graceful restart SAFI", family[1], 8)
            check_range("graceful restart family flags", family[2], 8)

    reserved_flags: int = attrs.field(default=0, validator=bits(2))

    def value_bytes(self) -> bytes:
        """The capability value on the wire."""
        head = (self.restarting << 15) | (self.notification << 14) | (self.reserved_flags << 12) | self.restart_time
        return U16.pack(head) + b"".join(_GR_FAMILY.pack(*f) for f in self.families)


@attrs.frozen
class AddPath:
    """ADD-PATH capability (RFC 7911 §4): (AFI, SAFI, send/receive) with 1 receive, 2 send, 3 both."""

    code: ClassVar[int] = CapabilityCode.ADD_PATH
    families: tuple[tuple[int, int, int], ...] = attrs.field(converter=to_tuple_of_tuples)

    @families.validator
    def _check(self, _: Any, value: tuple[tuple[int, ...], ...]) -> None:
        for family in value:
            if len(family) != 3 or family[2] not in (1, 2, 3):  # RFC 7911 §4 Send/Receive
                raise ValueError(f"ADD-PATH family must be (AFI, SAFI, 1|2|3), got {family!r}")
            check_range("ADD-PATH AFI", family[0], 16)
            check_range("ADD-PATH SAFI", family[1], 8)

    def value_bytes(self) -> bytes:
        """The capability value on the wire."""
        return b"".join(_ADD_PATH.pack(*f) for f in self.families)


@attrs.frozen
class Fqdn:
    """FQDN (hostname) capability (draft-walton-bgp-hostname-capability §3): host and domain name."""

    code: ClassVar[int] = CapabilityCode.FQDN
    hostname: str = attrs.field()
    domain: str = ""

    @hostname.validator
    def _check(self, _: Any, value: str) -> None:
        for field, name in (("hostname", value), ("domain", self.domain)):
            if not isinstance(name, str):
                raise TypeError(f"FQDN {field} must be str, got {name!r}")
            if len(name.encode()) > 255:
                raise ValueError(f"FQDN {field} longer than 255 bytes: {name[:40]!r}...")

    def value_bytes(self) -> bytes:
        """The capability value on the wire."""
        host, domain = self.hostname.encode(), self.domain.encode()
        return bytes((len(host),)) + host + bytes((len(domain),)) + domain


@attrs.frozen
class UnknownCapability:
    """A capability this library does not interpret, kept byte-exact (RFC 5492 §3)."""

    code: int = attrs.field(validator=bits(8))
    value: bytes = attrs.field(default=b"", validator=max_bytes(255), repr=lambda v: repr(v.hex()))  # 1-octet length

    def value_bytes(self) -> bytes:
        """The capability value on the wire."""
        return self.value


Capability: TypeAlias = (
    Multiprotocol
    | RouteRefreshCapability
    | EnhancedRouteRefresh
    | ExtendedMessage
    | FourOctetAS
    | GracefulRestart
    | AddPath
    | Fqdn
    | UnknownCapability
)


@attrs.frozen
class CapabilityParameter:
    """Optional parameter type 2 (RFC 5492 §4) holding one or more capabilities."""

    capabilities: tuple[Capability, ...] = attrs.field(converter=to_tuple)

    def value_bytes(self) -> bytes:
        """The parameter value: the capabilities back to back (``code length value``)."""
        out = bytearray()
        for cap in self.capabilities:
            value = cap.value_bytes()
            if len(value) > 255:
                raise ValueError(f"capability {cap.code} value is {len(value)} bytes (at most 255)")
            out += bytes((cap.code, len(value))) + value
        return bytes(out)


@attrs.frozen
class UnknownParameter:
    """An optional parameter other than capabilities, kept byte-exact (RFC 4271 §4.2)."""

    type: int = attrs.field(validator=bits(8))
    value: bytes = attrs.field(validator=max_bytes(0xFFFF), repr=lambda v: repr(v.hex()))  # RFC 9072 length

    def value_bytes(self) -> bytes:
        """The parameter value on the wire."""
        return self.value


def _fixed(value: bytes, size: int, name: str) -> None:
    if len(value) != size:
        raise Malformed(f"{name} capability length {len(value)} (must be {size})")


def _families(value: bytes, size: int, name: str) -> None:
    if len(value) % size:
        raise Malformed(f"{name} capability length {len(value)} (must be a multiple of {size})")


def _mp(value: bytes) -> Capability:
    _fixed(value, 4, "multiprotocol")
    return Multiprotocol(*_AFI_SAFI.unpack(value))


def _empty(
    cls: type[RouteRefreshCapability | EnhancedRouteRefresh | ExtendedMessage], name: str
) -> Callable[[bytes], Capability]:
    def decode(value: bytes) -> Capability:
        _fixed(value, 0, name)
        return cls()

    return decode


def _as4(value: bytes) -> Capability:
    _fixed(value, 4, "4-octet AS")
    return FourOctetAS(U32.unpack(value)[0])


def _gr(value: bytes) -> Capability:
    if len(value) < 2 or (len(value) - 2) % 4:
        raise Malformed(f"graceful restart capability length {len(value)} (must be 2 + 4n)")
    head = U16.unpack_from(value)[0]
    families = [_GR_FAMILY.unpack_from(value, i) for i in range(2, len(value), 4)]
    return GracefulRestart(head & 0xFFF, bool(head & 0x8000), bool(head & 0x4000), families, head >> 12 & 3)


def _add_path(value: bytes) -> Capability:
    _families(value, 4, "ADD-PATH")
    families = [_ADD_PATH.unpack_from(value, i) for i in range(0, len(value), 4)]
    for afi, safi, mode in families:
        if mode not in (1, 2, 3):
            raise Malformed(f"ADD-PATH send/receive value {mode} for {afi}/{safi} (must be 1, 2 or 3)")
    return AddPath(families)


def _fqdn(value: bytes) -> Capability:
    if not value or 1 + value[0] >= len(value):
        raise Malformed("FQDN capability hostname length runs past the capability")
    host_end = 1 + value[0]
    domain_len = value[host_end]
    if host_end + 1 + domain_len != len(value):
        raise Malformed(f"FQDN capability domain length {domain_len} does not match the capability length {len(value)}")
    host = value[1:host_end].decode("utf-8", "replace")
    domain = value[host_end + 1 :].decode("utf-8", "replace")
    return Fqdn(host, domain)


_DECODERS: dict[int, Callable[[bytes], Capability]] = {
    CapabilityCode.MULTIPROTOCOL: _mp,
    CapabilityCode.ROUTE_REFRESH: _empty(RouteRefreshCapability, "route refresh"),
    CapabilityCode.ENHANCED_ROUTE_REFRESH: _empty(EnhancedRouteRefresh, "enhanced route refresh"),
    CapabilityCode.EXTENDED_MESSAGE: _empty(ExtendedMessage, "extended message"),
    CapabilityCode.FOUR_OCTET_AS: _as4,
    CapabilityCode.GRACEFUL_RESTART: _gr,
    CapabilityCode.ADD_PATH: _add_path,
    CapabilityCode.FQDN: _fqdn,
}


def decode_capability_list(data: bytes) -> tuple[Capability, ...]:
    """Decode the value of a capabilities optional parameter (RFC 5492 §4).

    Raises ``Malformed`` when a capability's length runs past the parameter or a known
    capability's value is malformed.
    """
    caps: list[Capability] = []
    pos, end = 0, len(data)
    while pos < end:
        if pos + 2 > end:
            raise Malformed(f"capability header truncated at offset {pos}")
        code, length = data[pos], data[pos + 1]
        pos += 2
        if pos + length > end:
            raise Malformed(f"capability {code} length {length} runs past the parameter")
        value = data[pos : pos + length]
        pos += length
        decoder = _DECODERS.get(code)
        caps.append(decoder(value) if decoder else UnknownCapability(code, value))
    return tuple(caps)
