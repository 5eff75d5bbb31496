"""Reference decoders: ExaBGP 5.0 and os-ken 4.2 reading BGP UPDATE messages.

Each ``decode_*`` function takes complete BGP messages (19-octet header
included, as ``bench_codec.py`` and :func:`make_updates.type2_updates` build
them) and runs them through that library's own message parser, the one its
BGP speaker uses on received bytes, so every path attribute and every EVPN
route becomes one of the library's objects.  It then walks the routes, reading the fields of each,
and returns how many EVPN MAC/IP routes it got.

The libraries are imported inside the functions: this module imports without
either of them installed.

The messages assume the session context of :mod:`make_updates`: four-octet
AS capability on both sides, L2VPN/EVPN negotiated, local AS
:data:`make_updates.LOCAL_AS`, peer AS :data:`make_updates.PEER_AS`.  ExaBGP
is given that context by negotiating it: its OPEN is built from a
:class:`~exabgp.bgp.neighbor.Neighbor` the way its reactor builds one, the
peer's OPEN is parsed from wire bytes, and the two are fed to
:class:`~exabgp.bgp.message.open.capability.Negotiated`.  os-ken's packet
library has no session context: it guesses the AS_PATH width from the bytes.
"""

from __future__ import annotations

import struct
from functools import cache
from typing import TYPE_CHECKING, Any

# benchmarks/ is on sys.path: bench_codec.py, which imports this module, runs from it.
from make_updates import FOUR_OCTET_AS, LOCAL_AS, PEER_AS

if TYPE_CHECKING:
    from exabgp.bgp.message.open.capability import Negotiated

__all__ = [
    "decode_exabgp",
    "decode_osken",
    "exabgp_negotiated",
    "sample_exabgp",
    "sample_osken",
]

_MARKER = b"\xff" * 16
_HEADER = struct.Struct("!16sHB")
_UPDATE = 2
_AS_TRANS = 23456
_LOCAL_ROUTER_ID = "192.0.2.253"
_PEER_ROUTER_ID = 0xC00002FE  # 192.0.2.254


def _split_header(message: bytes) -> tuple[int, bytes]:
    """Check the BGP header as a session reader would; return (type, body)."""
    marker, length, kind = _HEADER.unpack_from(message)
    if marker != _MARKER or length != len(message):
        raise ValueError("not one complete BGP message")
    return kind, message[_HEADER.size :]


def _peer_open_body() -> bytes:
    """Build the peer's OPEN body: BGP-4, AS_TRANS, MP L2VPN/EVPN, 4-octet AS."""
    capabilities = struct.pack("!BBHBB", 1, 4, 25, 0, 70)  # multiprotocol l2vpn/evpn
    if FOUR_OCTET_AS:
        capabilities += struct.pack("!BBI", 65, 4, PEER_AS)
    parameters = struct.pack("!BB", 2, len(capabilities)) + capabilities
    my_as = PEER_AS if PEER_AS <= 0xFFFF else _AS_TRANS
    return struct.pack("!BHHIB", 4, my_as, 180, _PEER_ROUTER_ID, len(parameters)) + parameters


@cache
def exabgp_negotiated() -> Negotiated:
    """Return an ExaBGP ``Negotiated`` for the benchmark session (receiving side).

    Our OPEN is built from a ``Neighbor`` configured for L2VPN/EVPN with the
    four-octet AS capability, as ExaBGP's reactor builds it
    (``Capabilities().new(neighbor, ...)``); the peer's OPEN is parsed from wire
    bytes with ``Open.unpack_message``.  Feeding both to ``Negotiated``
    computes the session state (``asn4``, families, ADD-PATH...) that
    ``Update.unpack_message`` consults.  The object is cached: build it once,
    outside any timed region.
    """
    from exabgp.bgp.message import Open
    from exabgp.bgp.message.direction import Direction
    from exabgp.bgp.message.open import ASN, HoldTime, RouterID, Version
    from exabgp.bgp.message.open.capability import Capabilities, Negotiated
    from exabgp.bgp.neighbor import Neighbor
    from exabgp.environment import getenv
    from exabgp.logger import log
    from exabgp.logger.option import option
    from exabgp.protocol.family import AFI, SAFI

    # The parsers log through ExaBGP's logger, which its daemon sets up at
    # start; without it every parse fails.  Set it up as the daemon does, from
    # the environment (default: INFO, nothing from the parser).
    if option.logger is None:
        log.init(getenv())

    neighbor = Neighbor()
    neighbor["router-id"] = RouterID(_LOCAL_ROUTER_ID)
    neighbor["local-as"] = ASN(LOCAL_AS)
    neighbor["peer-as"] = ASN(PEER_AS)
    neighbor["capability"]["asn4"] = FOUR_OCTET_AS
    neighbor.add_family((AFI.l2vpn, SAFI.evpn))

    sent = Open(
        Version(4),
        ASN(LOCAL_AS),
        HoldTime(180),
        RouterID(_LOCAL_ROUTER_ID),
        Capabilities().new(neighbor, False, local_as=ASN(LOCAL_AS)),
    )
    negotiated = Negotiated(neighbor)
    negotiated.sent(sent)
    negotiated.received(Open.unpack_message(_peer_open_body(), Direction.IN, negotiated))

    error = negotiated.validate(neighbor)
    if error is not None:
        raise RuntimeError(f"ExaBGP refused the session: {error}")
    if negotiated.asn4 != FOUR_OCTET_AS or (AFI.l2vpn, SAFI.evpn) not in negotiated.families:
        raise RuntimeError("ExaBGP did not negotiate 4-octet AS and L2VPN/EVPN")
    return negotiated


def decode_exabgp(messages: list[bytes]) -> int:
    """Decode ``messages`` with ExaBGP 5.0; return the number of EVPN MAC/IP routes.

    Each message goes through ``Message.unpack`` (hence
    ``Update.unpack_message``) with ``Direction.IN`` and the session's
    :func:`exabgp_negotiated`, which is what ExaBGP's reactor does with a
    received UPDATE.  The route and attribute fields are then read.

    Raises:
        ValueError: if a message is not an UPDATE or holds something other
            than EVPN MAC/IP routes.
    """
    from exabgp.bgp.message import Message
    from exabgp.bgp.message.direction import Direction
    from exabgp.bgp.message.update.attribute import Attribute
    from exabgp.bgp.message.update.nlri.evpn.mac import MAC

    negotiated = exabgp_negotiated()
    as_path_code = Attribute.CODE.AS_PATH
    communities_code = Attribute.CODE.EXTENDED_COMMUNITY
    routes = 0
    for message in messages:
        kind, body = _split_header(message)
        if kind != _UPDATE:
            raise ValueError(f"message type {kind} is not UPDATE")
        update = Message.unpack(kind, body, Direction.IN, negotiated)
        attributes = update.attributes
        if attributes.get(as_path_code) is None or attributes.get(communities_code) is None:
            raise ValueError("AS_PATH or EXTENDED_COMMUNITIES missing")
        for nlri in update.nlris:
            if type(nlri) is not MAC:
                raise ValueError(f"unexpected NLRI {nlri!r}")
            if nlri.rd is None or nlri.mac is None or nlri.ip is None or nlri.label is None:
                raise ValueError("route with a missing field")
            if nlri.nexthop is None:
                raise ValueError("route without next hop")
            routes += 1
    return routes


def decode_osken(messages: list[bytes]) -> int:
    """Decode ``messages`` with os-ken 4.2; return the number of EVPN MAC/IP routes.

    Each message goes through ``BGPMessage.parser``, the entry point os-ken's
    BGP speaker uses on received bytes.  The route and attribute fields are
    then read.

    Raises:
        ValueError: if a message is not an UPDATE or holds something other
            than EVPN MAC/IP routes.
    """
    from os_ken.lib.packet.bgp import (
        BGPMessage,
        BGPPathAttributeAsPath,
        BGPPathAttributeExtendedCommunities,
        BGPPathAttributeMpReachNLRI,
        BGPUpdate,
        EvpnMacIPAdvertisementNLRI,
    )

    parser = BGPMessage.parser
    routes = 0
    for message in messages:
        update, _, rest = parser(message)
        if type(update) is not BGPUpdate or rest:
            raise ValueError("not exactly one UPDATE")
        reach = None
        as_path = communities = False
        for attribute in update.path_attributes:
            if type(attribute) is BGPPathAttributeMpReachNLRI:
                reach = attribute
            elif type(attribute) is BGPPathAttributeAsPath:
                as_path = attribute.value is not None
            elif type(attribute) is BGPPathAttributeExtendedCommunities:
                communities = attribute.communities is not None
        if reach is None or not as_path or not communities:
            raise ValueError("MP_REACH_NLRI, AS_PATH or EXTENDED_COMMUNITIES missing")
        if reach.next_hop is None:
            raise ValueError("no next hop")
        for nlri in reach.nlri:
            if type(nlri) is not EvpnMacIPAdvertisementNLRI:
                raise ValueError(f"unexpected NLRI {nlri!r}")
            if nlri.route_dist is None or nlri.mac_addr is None or nlri.ip_addr is None:
                raise ValueError("route with a missing field")
            if nlri.mpls_labels is None:
                raise ValueError("route without label")
            routes += 1
    return routes


def sample_exabgp(message: bytes) -> dict[str, Any]:
    """Decode ``message`` with ExaBGP and describe its first route and attributes.

    The result uses library-neutral keys (``rd``, ``mac``, ``ip``, ``label``,
    ``next_hop``, ``as_path``, ``communities``) so that it can be compared
    with :func:`sample_osken` and with what the generator put in.
    """
    from exabgp.bgp.message import Message
    from exabgp.bgp.message.direction import Direction
    from exabgp.bgp.message.update.attribute import Attribute

    kind, body = _split_header(message)
    update = Message.unpack(kind, body, Direction.IN, exabgp_negotiated())
    nlri = update.nlris[0]
    as_path = update.attributes[Attribute.CODE.AS_PATH]
    communities = update.attributes[Attribute.CODE.EXTENDED_COMMUNITY]
    return {
        "routes": len(update.nlris),
        "rd": nlri.rd._str(),
        "esi": str(nlri.esi),
        "etag": nlri.etag.tag,
        "mac": str(nlri.mac).lower(),
        "ip": str(nlri.ip),
        "label": nlri.label.raw_labels[0] if nlri.label.raw_labels else None,
        "label_as_mpls": nlri.label.labels,
        "next_hop": str(nlri.nexthop),
        "as_path": [list(segment) for segment in as_path.aspath],
        "communities": [str(c) for c in communities.communities],
        "route": str(nlri),
    }


def sample_osken(message: bytes) -> dict[str, Any]:
    """Decode ``message`` with os-ken and describe its first route and attributes.

    Same keys as :func:`sample_exabgp`.
    """
    from os_ken.lib.packet.bgp import BGPMessage

    update, _, _ = BGPMessage.parser(message)
    attributes = {type(a).__name__: a for a in update.path_attributes}
    reach = attributes["BGPPathAttributeMpReachNLRI"]
    nlri = reach.nlri[0]
    return {
        "routes": len(reach.nlri),
        "rd": nlri.route_dist,
        "esi": nlri.esi.formatted_str,
        "etag": nlri.ethernet_tag_id,
        "mac": nlri.mac_addr.lower(),
        "ip": nlri.ip_addr,
        "label": nlri.vni,
        "label_as_mpls": nlri.mpls_labels,
        "next_hop": reach.next_hop,
        "as_path": [list(segment) for segment in attributes["BGPPathAttributeAsPath"].value],
        "communities": [_osken_community(c) for c in attributes["BGPPathAttributeExtendedCommunities"].communities],
        "route": nlri.formatted_nlri_str,
    }


def _osken_community(community: Any) -> str:
    """Format an os-ken extended community like ExaBGP's ``str()`` does, where known."""
    if community.type == 0x00 and community.subtype == 0x02:
        return f"target:{community.as_number}:{community.local_administrator}"
    if community.type == 0x03 and community.subtype == 0x0C:
        return "encap:VXLAN" if community.tunnel_type == 8 else f"encap:{community.tunnel_type}"
    return repr(community)
