"""IPv4/IPv6 unicast prefixes as carried in UPDATE and MP_REACH/MP_UNREACH NLRI (RFC 4271 §4.3, RFC 4760 §5)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
import netaddr

from evpn.types import format_ip
from evpn.wire._common import U32, Malformed, check_range, optional_bits

__all__ = ["OpaqueNlri", "Prefix", "decode_prefixes", "encode_prefixes"]


@attrs.frozen
class Prefix:
    """An IP prefix: ``network`` is the full 4 or 16 address bytes, ``length`` the prefix length.

    Bytes past the prefix length are kept as received so that the prefix re-encodes exactly.
    Build one from text with :meth:`parse`.
    """

    network: bytes = attrs.field()
    length: int = attrs.field()
    path_id: int | None = attrs.field(default=None, kw_only=True, validator=optional_bits(32))

    @network.validator
    def _check_network(self, _: Any, value: bytes) -> None:
        if not isinstance(value, bytes) or len(value) not in (4, 16):
            raise ValueError(f"prefix network must be 4 or 16 bytes, got {value!r}")

    @length.validator
    def _check_length(self, _: Any, value: int) -> None:
        check_range("prefix length", value, 8)
        if value > len(self.network) * 8:
            raise ValueError(f"prefix length {value} exceeds {len(self.network) * 8}")

    @property
    def afi(self) -> int:
        """1 for IPv4, 2 for IPv6."""
        return 1 if len(self.network) == 4 else 2

    def __str__(self) -> str:
        return f"{format_ip(self.network)}/{self.length}"

    @property
    def ip_network(self) -> netaddr.IPNetwork:
        """The prefix as a :class:`netaddr.IPNetwork` (host bits cleared)."""
        return netaddr.IPNetwork(str(self)).cidr

    @classmethod
    def parse(cls, text: str) -> Prefix:
        """Parse ``"198.19.0.0/24"`` or ``"2001:db8::/32"``."""
        try:
            net = netaddr.IPNetwork(text)
        except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
            raise ValueError(f"not an IP prefix: {text!r}") from exc
        return cls(net.ip.packed, net.prefixlen)

    def encode(self) -> bytes:
        """``[path id] length prefix-bytes`` (RFC 4271 §4.3, RFC 7911 §3)."""
        body = bytes((self.length,)) + self.network[: (self.length + 7) // 8]
        return body if self.path_id is None else U32.pack(self.path_id) + body


@attrs.frozen
class OpaqueNlri:
    """The NLRI bytes of an address family this library does not decode, kept byte-exact."""

    raw: bytes

    def encode(self) -> bytes:
        """The bytes as received."""
        return self.raw


def decode_prefixes(data: bytes, afi: int, add_path: bool = False) -> list[Prefix]:
    """Decode a run of prefixes of address family ``afi`` (1: IPv4, 2: IPv6).

    Raises ``Malformed`` when a prefix length exceeds the address size or runs past the data
    (RFC 7606 §5.3).
    """
    size = 4 if afi == 1 else 16
    out = []
    pos, end = 0, len(data)
    path_id = None
    while pos < end:
        if add_path:
            if pos + 4 > end:
                raise Malformed(f"path identifier truncated at offset {pos}")
            path_id = U32.unpack_from(data, pos)[0]
            pos += 4
            if pos >= end:
                raise Malformed(f"prefix missing after path identifier at offset {pos}")
        length = data[pos]
        if length > size * 8:
            raise Malformed(f"prefix length {length} exceeds {size * 8}")
        nbytes = (length + 7) // 8
        pos += 1
        if pos + nbytes > end:
            raise Malformed(f"prefix /{length} runs past the NLRI field")
        prefix = Prefix.__new__(Prefix)
        object.__setattr__(prefix, "network", data[pos : pos + nbytes] + bytes(size - nbytes))
        object.__setattr__(prefix, "length", length)
        object.__setattr__(prefix, "path_id", path_id)
        out.append(prefix)
        pos += nbytes
    return out


def encode_prefixes(prefixes: Iterable[Prefix]) -> bytes:
    """Encode prefixes back to back."""
    return b"".join(p.encode() for p in prefixes)
