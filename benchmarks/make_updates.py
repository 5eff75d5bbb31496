"""Deterministic BGP UPDATE messages carrying EVPN MAC/IP routes, for benchmarks.

:func:`type2_plan` decides what each UPDATE announces; :func:`encode_update`
encodes a plan with plain :mod:`struct`, independently of any BGP library.
``bench_codec.py`` encodes the same plans with ``evpn``'s own encoder and
checks the two agree attribute by attribute, so the hand-written encoder is
an independent check of ``evpn``'s output (the two differ only in attribute
order: here by type code, ``evpn`` puts MP_REACH_NLRI last).

Each message is what a datacenter EVPN-VXLAN speaker sends over an eBGP
session on which both sides announced the four-octet AS capability
(RFC 6793): one MP_REACH_NLRI (AFI 25 L2VPN / SAFI 70 EVPN, IPv4 next hop =
the VTEP) full of route type 2 MAC/IPv4 advertisements (RFC 7432 7.2), with
ORIGIN, a four-octet AS_PATH and EXTENDED_COMMUNITIES carrying a route target
and the VXLAN encapsulation community (RFC 9012 4.1). There is no
LOCAL_PREF, the session being eBGP.

Every route in one UPDATE belongs to one (VTEP, VNI) pair, since it shares
that UPDATE's next hop and route target: RD ``vtep-ip:n`` (type 1), ESI 0,
Ethernet tag 0, MPLS Label1 = the VNI as a raw 24-bit value (RFC 8365 5.1.3),
no Label2.
"""

from __future__ import annotations

import ipaddress
import random
import struct
from collections.abc import Sequence
from typing import Final, NamedTuple

__all__ = [
    "BGP_MAX_MESSAGE_SIZE",
    "EVPN_ROUTE_SIZE",
    "FOUR_OCTET_AS",
    "LOCAL_AS",
    "MAX_ROUTES_PER_UPDATE",
    "PEER_AS",
    "RT_AS",
    "VNI_BASE",
    "VTEP_COUNT",
    "UpdatePlan",
    "encode_type2_update",
    "encode_update",
    "leaf_as",
    "type2_plan",
    "type2_updates",
    "vtep_address",
]

# --------------------------------------------------------------------------
# Session context the messages are valid for.  A decoder must be configured
# with these to read them as the receiving speaker would.

FOUR_OCTET_AS: Final[bool] = True
"""Both speakers announced the four-octet AS capability: AS_PATH holds 4-octet ASNs."""

LOCAL_AS: Final[int] = 65000
"""AS of the receiving speaker (the decoder's side of the session)."""

PEER_AS: Final[int] = 4_200_000_100
"""AS of the sending speaker (a spine); first AS of every AS_PATH."""

RT_AS: Final[int] = 65000
"""Global administrator of the two-octet-AS route target ``RT_AS:VNI``."""

VTEP_COUNT: Final[int] = 32
"""Number of distinct VTEPs (next hops, RD administrators, origin ASes)."""

VNI_BASE: Final[int] = 100
"""First VNI; successive UPDATEs for one VTEP use VNI_BASE, VNI_BASE + 1, ..."""

BGP_MAX_MESSAGE_SIZE: Final[int] = 4096
"""RFC 4271 maximum message size (no extended message capability)."""

# --------------------------------------------------------------------------
# Wire layout.

_MARKER: Final[bytes] = b"\xff" * 16
_HEADER = struct.Struct("!16sHB")  # marker, length, type
_UPDATE_TYPE: Final[int] = 2

_AFI_L2VPN: Final[int] = 25
_SAFI_EVPN: Final[int] = 70

# Path attribute flags.
_WELL_KNOWN: Final[int] = 0x40  # transitive
_OPTIONAL_TRANSITIVE: Final[int] = 0xC0
_OPTIONAL_EXTENDED: Final[int] = 0x90  # optional, non-transitive, extended length

_ATTR_ORIGIN: Final[int] = 1
_ATTR_AS_PATH: Final[int] = 2
_ATTR_MP_REACH_NLRI: Final[int] = 14
_ATTR_EXTENDED_COMMUNITIES: Final[int] = 16

_ORIGIN_IGP: Final[int] = 0
_AS_SEQUENCE: Final[int] = 2

# Extended communities: two-octet AS route target (type 0x00, sub-type 0x02)
# and encapsulation (type 0x03, sub-type 0x0c) with tunnel type 8 = VXLAN.
_RT_TWO_OCTET_AS = struct.Struct("!BBHI")
_ENCAPSULATION = struct.Struct("!BB4xH")
_TUNNEL_VXLAN: Final[int] = 8

# EVPN NLRI, route type 2 (MAC/IP advertisement) with an IPv4 address and one
# label: type, length, RD (type 1: IPv4 admin + 2-octet number), ESI,
# Ethernet tag, MAC length, MAC, IP length, IP, Label1.
_EVPN_MAC_IP = struct.Struct("!BBH4sH10sIB6sB4s3s")
_ROUTE_TYPE_MAC_IP: Final[int] = 2
_RD_TYPE_IPV4: Final[int] = 1
_ESI_ZERO: Final[bytes] = bytes(10)

EVPN_ROUTE_SIZE: Final[int] = _EVPN_MAC_IP.size
"""Octets of one MAC/IPv4 route in the MP_REACH_NLRI (39)."""

# The same without an IP address (IP Address Length 0): a MAC-only route, 35 octets.
_EVPN_MAC_ONLY = struct.Struct("!BBH4sH10sIB6sB3s")

# MP_REACH_NLRI value before the NLRI: AFI, SAFI, next hop length, IPv4 next
# hop, reserved octet.
_MP_REACH_HEAD = struct.Struct("!HBB4sx")

# Address pools (only ever used as data).
_VTEP_BASE: Final[int] = int(ipaddress.IPv4Address("192.0.2.0"))
_HOST_BASE: Final[int] = int(ipaddress.IPv4Address("100.64.0.0"))
_HOST_SPACE: Final[int] = 1 << 22  # 100.64.0.0/10
_MAC_SPACE: Final[int] = 1 << 24

_LEAF_AS_BASE: Final[int] = 4_200_000_001


def vtep_address(index: int) -> str:
    """Return the IPv4 address (next hop and RD administrator) of VTEP ``index``."""
    return str(ipaddress.IPv4Address(_VTEP_BASE + 1 + index))


def leaf_as(index: int) -> int:
    """Return the 4-octet AS of the leaf behind VTEP ``index`` (last AS in AS_PATH)."""
    return _LEAF_AS_BASE + index


def _attribute(flags: int, code: int, value: bytes) -> bytes:
    if flags & 0x10:
        return struct.pack("!BBH", flags, code, len(value)) + value
    return struct.pack("!BBB", flags, code, len(value)) + value


def _path_attributes(next_hop: bytes, origin_as: int, vni: int, nlri: bytes) -> bytes:
    """Encode ORIGIN, AS_PATH, MP_REACH_NLRI and EXTENDED_COMMUNITIES, in type order."""
    as_path = struct.pack("!BBII", _AS_SEQUENCE, 2, PEER_AS, origin_as)
    mp_reach = _MP_REACH_HEAD.pack(_AFI_L2VPN, _SAFI_EVPN, 4, next_hop) + nlri
    communities = _RT_TWO_OCTET_AS.pack(0x00, 0x02, RT_AS, vni) + _ENCAPSULATION.pack(0x03, 0x0C, _TUNNEL_VXLAN)
    return b"".join(
        (
            _attribute(_WELL_KNOWN, _ATTR_ORIGIN, bytes((_ORIGIN_IGP,))),
            _attribute(_WELL_KNOWN, _ATTR_AS_PATH, as_path),
            _attribute(_OPTIONAL_EXTENDED, _ATTR_MP_REACH_NLRI, mp_reach),
            _attribute(_OPTIONAL_TRANSITIVE, _ATTR_EXTENDED_COMMUNITIES, communities),
        )
    )


def _update(next_hop: bytes, origin_as: int, vni: int, nlri: bytes) -> bytes:
    attributes = _path_attributes(next_hop, origin_as, vni, nlri)
    # withdrawn routes length (0), path attribute length, attributes, no IPv4 NLRI
    body = struct.pack("!HH", 0, len(attributes)) + attributes
    return _HEADER.pack(_MARKER, _HEADER.size + len(body), _UPDATE_TYPE) + body


MAX_ROUTES_PER_UPDATE: Final[int] = (
    BGP_MAX_MESSAGE_SIZE - len(_update(bytes(4), leaf_as(0), VNI_BASE, b""))
) // EVPN_ROUTE_SIZE
"""Most MAC/IPv4 routes one UPDATE of this shape holds within 4096 octets."""


class UpdatePlan(NamedTuple):
    """What one benchmark UPDATE announces, independently of how it is encoded.

    The UPDATE is sent by VTEP ``vtep`` (next hop and RD administrator
    :func:`vtep_address`, last AS of the AS_PATH :func:`leaf_as`) for VNI
    ``vni`` (Label1 and route target ``RT_AS:vni``); its routes have RD
    ``vtep_address(vtep):rd_number``, ESI 0 and Ethernet tag 0.  ``hosts``
    holds one (MAC, IPv4 address) pair per route, as 6 and 4 octets.
    """

    vtep: int
    vni: int
    rd_number: int
    hosts: tuple[tuple[bytes, bytes], ...]


def type2_plan(n_routes: int, routes_per_update: int = 90, seed: int = 1) -> list[UpdatePlan]:
    """Plan the UPDATEs announcing ``n_routes`` EVPN MAC/IPv4 routes.

    UPDATEs carry ``routes_per_update`` routes each, the last one the
    remainder; a ``routes_per_update`` above :data:`MAX_ROUTES_PER_UPDATE` is
    lowered to it so that no message exceeds 4096 octets.

    UPDATE ``u`` is sent by VTEP ``u % VTEP_COUNT`` for VNI
    ``VNI_BASE + u // VTEP_COUNT``, with RD number ``1 + u // VTEP_COUNT``
    (so every UPDATE has its own RD).  MACs (locally administered) and IPv4
    addresses (in 100.64.0.0/10) are distinct across all routes and drawn from
    ``random.Random(seed)``, so the result depends only on the arguments.

    Raises:
        ValueError: if ``n_routes`` is negative or above 2**22, or
            ``routes_per_update`` is not positive.
    """
    if n_routes < 0 or n_routes > _HOST_SPACE:
        raise ValueError(f"n_routes must be in 0..{_HOST_SPACE}, got {n_routes}")
    if routes_per_update < 1:
        raise ValueError(f"routes_per_update must be positive, got {routes_per_update}")
    per_update = min(routes_per_update, MAX_ROUTES_PER_UPDATE)

    rng = random.Random(seed)
    mac_prefix = 0x02 << 40 | rng.getrandbits(16) << 24  # locally administered unicast
    macs = rng.sample(range(_MAC_SPACE), n_routes)
    hosts = rng.sample(range(_HOST_SPACE), n_routes)
    return [
        UpdatePlan(
            vtep=u % VTEP_COUNT,
            vni=VNI_BASE + u // VTEP_COUNT,
            rd_number=1 + u // VTEP_COUNT,
            hosts=tuple(
                ((mac_prefix | macs[i]).to_bytes(6, "big"), (_HOST_BASE + hosts[i]).to_bytes(4, "big"))
                for i in range(start, min(start + per_update, n_routes))
            ),
        )
        for u, start in enumerate(range(0, n_routes, per_update))
    ]


def encode_update(plan: UpdatePlan) -> bytes:
    """Encode the UPDATE ``plan`` describes, by hand (attributes in type order)."""
    return encode_type2_update(vtep_address(plan.vtep), plan.vni, plan.rd_number, plan.hosts, leaf_as(plan.vtep))


def encode_type2_update(
    vtep: str, vni: int, rd_number: int, hosts: Sequence[tuple[bytes, bytes]], origin_as: int
) -> bytes:
    """Encode, by hand, one UPDATE of the shape above from VTEP ``vtep`` (an IPv4 address: the
    next hop and RD administrator) for VNI ``vni``: RD ``vtep:rd_number``, AS_PATH
    ``PEER_AS origin_as``, and one route per ``(MAC, IPv4 address)`` of ``hosts``, where an empty
    address (``b""``) makes a MAC-only route (IP Address Length 0, RFC 7432 7.2; 35 octets).

    Raises:
        ValueError: if the message would exceed 4096 octets.
    """
    next_hop = ipaddress.IPv4Address(vtep).packed
    label = vni.to_bytes(3, "big")
    parts = []
    for mac, ip in hosts:
        if ip:
            parts.append(_EVPN_MAC_IP.pack(_ROUTE_TYPE_MAC_IP, EVPN_ROUTE_SIZE - 2, _RD_TYPE_IPV4, next_hop, rd_number,
                                           _ESI_ZERO, 0, 48, mac, 32, ip, label))  # fmt: skip
        else:
            parts.append(_EVPN_MAC_ONLY.pack(_ROUTE_TYPE_MAC_IP, _EVPN_MAC_ONLY.size - 2, _RD_TYPE_IPV4, next_hop,
                                             rd_number, _ESI_ZERO, 0, 48, mac, 0, label))  # fmt: skip
    nlri = b"".join(parts)
    message = _update(next_hop, origin_as, vni, nlri)
    if len(message) > BGP_MAX_MESSAGE_SIZE:
        raise ValueError(f"{len(hosts)} routes make a {len(message)}-octet UPDATE (at most {BGP_MAX_MESSAGE_SIZE})")
    return message


def type2_updates(n_routes: int, routes_per_update: int = 90, seed: int = 1) -> list[bytes]:
    """Build BGP UPDATE messages announcing ``n_routes`` EVPN MAC/IPv4 routes.

    Each returned item is one complete message (16-octet 0xff marker, length,
    type 2) encoding one :func:`type2_plan` entry with :func:`encode_update`.
    The session context the messages assume is given by
    :data:`FOUR_OCTET_AS`, :data:`LOCAL_AS` and :data:`PEER_AS`.

    Raises:
        ValueError: as :func:`type2_plan`.
    """
    return [encode_update(plan) for plan in type2_plan(n_routes, routes_per_update, seed)]
