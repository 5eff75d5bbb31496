"""Small value types shared by the codec and the RIB: RD, ESI, MAC/IP and label helpers.

Values are kept as ``bytes``/``int`` on the hot path; :mod:`netaddr` objects are made
only when a caller asks for them.
"""

from __future__ import annotations

import socket
import struct
from typing import Any, ClassVar

import attrs
import netaddr
from netaddr.strategy import eui48

__all__ = [
    "ESI",
    "RouteDistinguisher",
    "format_ip",
    "format_mac",
    "ip_bytes",
    "label_from_mpls",
    "mac_bytes",
    "mpls_bottom_of_stack",
    "mpls_label",
]

_RD0 = struct.Struct("!HHI")
_RD1 = struct.Struct("!H4sH")
_RD2 = struct.Struct("!HIH")
_ESI_TAIL = struct.Struct("!6sH")


def mac_bytes(value: object) -> bytes:
    """Convert a MAC given as text (any netaddr format), ``netaddr.EUI`` or 6 bytes to 6 bytes."""
    if isinstance(value, bytes | bytearray):
        if len(value) != 6:
            raise ValueError(f"MAC address must be 6 bytes, got {len(value)}: {bytes(value).hex()}")
        return bytes(value)
    if isinstance(value, netaddr.EUI):
        eui = value
    elif isinstance(value, str):
        if not eui48.valid_str(value.strip()):  # netaddr alone would read "5" as the integer 5
            raise ValueError(f"not a MAC address: {value!r}")
        eui = netaddr.EUI(value.strip())
    else:
        raise TypeError(f"MAC address must be text, 6 bytes or netaddr.EUI, not {value!r}")
    if eui.version != 48:
        raise ValueError(f"not a 48-bit MAC address: {value!r}")
    return eui.packed


def format_mac(raw: bytes) -> str:
    """Format 6 bytes as ``aa:bb:cc:dd:ee:ff`` (the form FRR and iproute2 print)."""
    return ":".join(f"{b:02x}" for b in raw)


def ip_bytes(value: object, *, allow_none: bool = False) -> bytes:
    """Convert an IPv4/IPv6 address (text, ``netaddr.IPAddress``, or 0/4/16 bytes) to bytes.

    ``None`` becomes ``b""`` (no address) when ``allow_none`` is true.
    """
    if value is None and allow_none:
        return b""
    if isinstance(value, bytes | bytearray):
        if len(value) not in (4, 16) and not (allow_none and len(value) == 0):
            raise ValueError(f"IP address must be 4 or 16 bytes, got {len(value)}: {bytes(value).hex()}")
        return bytes(value)
    try:
        ip = value if isinstance(value, netaddr.IPAddress) else netaddr.IPAddress(str(value))
    except (netaddr.AddrFormatError, TypeError, ValueError) as exc:
        raise ValueError(f"not an IP address: {value!r}") from exc
    return ip.packed


def format_ip(raw: bytes) -> str:
    """Format 4 or 16 bytes as an IPv4/IPv6 address (``""`` for no address)."""
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    return raw.hex()


def mpls_label(raw: int) -> int:
    """The 20-bit MPLS label held in a 3-byte label field (RFC 3032 §2.1, RFC 7432 §7)."""
    return raw >> 4


def mpls_bottom_of_stack(raw: int) -> bool:
    """The bottom-of-stack bit of a 3-byte MPLS label field (RFC 3032 §2.1)."""
    return bool(raw & 1)


def label_from_mpls(label: int, bottom_of_stack: bool = True) -> int:
    """Build the raw 24-bit label field from a 20-bit MPLS label (RFC 3032 §2.1).

    For VXLAN (RFC 8365 §5.1.3) the VNI is the raw 24-bit value itself; use it directly.
    """
    if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < 1 << 20:
        raise ValueError(f"MPLS label must be an integer in 0..1048575, got {label!r}")
    return label << 4 | int(bottom_of_stack)


@attrs.frozen(repr=False)
class RouteDistinguisher:
    """An 8-byte route distinguisher (RFC 4364 §4.2), types 0, 1 and 2.

    Kept as its wire bytes; ``str()`` prints it as FRR does (``ASN:NN`` or ``IP:NN``).
    Build one from text with :meth:`parse`.
    """

    raw: bytes = attrs.field()

    @raw.validator
    def _check(self, _: Any, value: bytes) -> None:
        if not isinstance(value, bytes) or len(value) != 8:
            raise ValueError(f"route distinguisher must be 8 bytes, got {value!r}")

    @property
    def type(self) -> int:
        """The RD type (0: 2-octet ASN, 1: IPv4 address, 2: 4-octet ASN; others opaque)."""
        return self.raw[0] << 8 | self.raw[1]

    @property
    def administrator(self) -> int | str:
        """The administrator subfield: an ASN (types 0, 2) or an IPv4 address (type 1)."""
        rd_type = self.type
        if rd_type == 1:
            return format_ip(self.raw[2:6])
        if rd_type == 0:
            return int(_RD0.unpack(self.raw)[1])
        return int(_RD2.unpack(self.raw)[1])

    @property
    def assigned(self) -> int:
        """The assigned-number subfield."""
        if self.type == 0:
            return int(_RD0.unpack(self.raw)[2])
        return int(_RD2.unpack(self.raw)[2])

    def __str__(self) -> str:
        if self.type > 2:
            return f"{self.type}:{self.raw[2:].hex()}"
        return f"{self.administrator}:{self.assigned}"

    def __repr__(self) -> str:
        return f"RouteDistinguisher({str(self)!r})"

    @classmethod
    def parse(cls, text: str) -> RouteDistinguisher:
        """Parse ``"ASN:NN"`` or ``"A.B.C.D:NN"`` (RFC 4364 §4.2 types 0/2 and 1).

        A 2-octet ASN gives type 0 (NN up to 2^32-1); a larger ASN gives type 2.
        """
        if not isinstance(text, str):
            raise TypeError(f"route distinguisher text must be str, not {text!r}")
        admin, sep, number = text.rpartition(":")
        try:
            assigned = int(number)
            if not sep:
                raise ValueError
            if "." in admin:
                ip = ip_bytes(admin)
                if len(ip) != 4 or assigned > 0xFFFF:
                    raise ValueError
                return cls(struct.pack("!H4sH", 1, ip, assigned))
            asn = int(admin)
            if asn <= 0xFFFF and assigned <= 0xFFFFFFFF:
                return cls(_RD0.pack(0, asn, assigned))
            if asn <= 0xFFFFFFFF and assigned <= 0xFFFF:
                return cls(_RD2.pack(2, asn, assigned))
            raise ValueError
        except (ValueError, struct.error):
            raise ValueError(f"route distinguisher {text!r}: expected ASN:NN or A.B.C.D:NN with NN in range") from None

    @classmethod
    def coerce(cls, value: object) -> RouteDistinguisher:
        """Accept an RD, its text form or its 8 wire bytes."""
        if isinstance(value, cls):
            return value
        if isinstance(value, bytes):
            return cls(value)
        if isinstance(value, str):
            return cls.parse(value)
        raise TypeError(f"route distinguisher must be str, bytes or RouteDistinguisher, not {value!r}")


@attrs.frozen(repr=False)
class ESI:
    """A 10-byte Ethernet Segment Identifier (RFC 7432 §5), types 0 to 5.

    The typed accessors (``system_mac``, ``router_id``, ``asn``, ...) read the fields of the
    type they belong to and raise :class:`ValueError` on an ESI of another type.
    """

    raw: bytes = attrs.field(default=bytes(10))

    ZERO: ClassVar[ESI]
    MAX: ClassVar[ESI]

    @raw.validator
    def _check(self, _: Any, value: bytes) -> None:
        if not isinstance(value, bytes) or len(value) != 10:
            raise ValueError(f"ESI must be 10 bytes, got {value!r}")

    @property
    def type(self) -> int:
        """The ESI type octet."""
        return self.raw[0]

    def _need(self, *types: int) -> None:
        if self.raw[0] not in types:
            raise ValueError(f"ESI type {self.raw[0]} has no such field (types {types} have)")

    @property
    def value(self) -> bytes:
        """Type 0: the 9-octet operator-configured value."""
        self._need(0)
        return self.raw[1:]

    @property
    def system_mac(self) -> str:
        """Type 1: the CE LACP system MAC; type 2: root bridge MAC; type 3: system MAC."""
        self._need(1, 2, 3)
        return format_mac(self.raw[1:7])

    @property
    def port_key(self) -> int:
        """Type 1: the CE LACP port key."""
        self._need(1)
        return int.from_bytes(self.raw[7:9], "big")

    @property
    def bridge_priority(self) -> int:
        """Type 2: the root bridge priority."""
        self._need(2)
        return int.from_bytes(self.raw[7:9], "big")

    @property
    def router_id(self) -> str:
        """Type 4: the router ID."""
        self._need(4)
        return format_ip(self.raw[1:5])

    @property
    def asn(self) -> int:
        """Type 5: the autonomous system number."""
        self._need(5)
        return int.from_bytes(self.raw[1:5], "big")

    @property
    def local_discriminator(self) -> int:
        """Type 3: 3-octet; types 4 and 5: 4-octet local discriminator."""
        self._need(3, 4, 5)
        if self.raw[0] == 3:
            return int.from_bytes(self.raw[7:10], "big")
        return int.from_bytes(self.raw[5:9], "big")

    def fields(self) -> dict[str, object]:
        """The type-specific fields as a dict (for JSON output)."""
        names = {
            0: ("value",),
            1: ("system_mac", "port_key"),
            2: ("system_mac", "bridge_priority"),
            3: ("system_mac", "local_discriminator"),
            4: ("router_id", "local_discriminator"),
            5: ("asn", "local_discriminator"),
        }.get(self.type, ())
        out: dict[str, object] = {"type": self.type}
        for name in names:
            value = getattr(self, name)
            out[name] = value.hex() if isinstance(value, bytes) else value
        return out

    def __str__(self) -> str:
        return ":".join(f"{b:02x}" for b in self.raw)

    def __repr__(self) -> str:
        return f"ESI({str(self)!r})"

    @classmethod
    def parse(cls, text: str) -> ESI:
        """Parse ten colon-separated hex octets, as FRR prints an ESI."""
        if not isinstance(text, str):
            raise TypeError(f"ESI text must be str, not {text!r}")
        try:
            raw = bytes(int(part, 16) for part in text.split(":"))
        except ValueError:
            raw = b""
        if len(raw) != 10:
            raise ValueError(f"ESI {text!r}: expected 10 colon-separated hex octets")
        return cls(raw)

    @classmethod
    def coerce(cls, value: object) -> ESI:
        """Accept an ESI, its text form or its 10 wire bytes."""
        if isinstance(value, cls):
            return value
        if isinstance(value, bytes):
            return cls(value)
        if isinstance(value, str):
            return cls.parse(value)
        raise TypeError(f"ESI must be str, bytes or ESI, not {value!r}")


ESI.ZERO = ESI(bytes(10))
ESI.MAX = ESI(b"\xff" * 10)
