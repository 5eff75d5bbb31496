"""An independent reference encoder for the BGP/EVPN wire formats, for differential tests.

Written declaratively with :mod:`bitstring` straight from the RFC packet diagrams; it takes
plain Python values (ints, bytes, text) and shares no code with :mod:`evpn`.  Each function
names the RFC section whose layout it transcribes.  Field widths are written out in the
format strings, so a value that does not fit its field raises instead of being truncated.

IP addresses may be given as text (parsed with the standard :mod:`ipaddress` module) or
as their 4/16 wire bytes; ``b""`` (or ``None``) means "no address" where a layout allows it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from bitstring import BitArray, pack

__all__ = [
    "aggregator",
    "as_path",
    "attribute",
    "bgp_message",
    "cap_add_path",
    "cap_four_octet_as",
    "cap_fqdn",
    "cap_graceful_restart",
    "cap_multiprotocol",
    "capability",
    "communities",
    "esi_type0",
    "esi_type1",
    "esi_type2",
    "esi_type3",
    "esi_type4",
    "esi_type5",
    "evpn_ethernet_ad",
    "evpn_ethernet_segment",
    "evpn_inclusive_multicast",
    "evpn_ip_prefix",
    "evpn_mac_ip",
    "evpn_nlri",
    "ext_arp_nd",
    "ext_default_gateway",
    "ext_encapsulation",
    "ext_es_import",
    "ext_esi_label",
    "ext_mac_mobility",
    "ext_route_target",
    "ext_router_mac",
    "ip",
    "ip_prefix",
    "ipv4",
    "keepalive",
    "large_communities",
    "mp_reach",
    "mp_unreach",
    "notification",
    "open_message",
    "origin",
    "pmsi_tunnel",
    "rd_type0",
    "rd_type1",
    "rd_type2",
    "route_refresh",
    "u32_value",
    "update",
    "update_packs",
]

MARKER = b"\xff" * 16
HEADER = 19


def ip(value: str | bytes | None) -> bytes:
    """An IP address as wire bytes: 4 (IPv4), 16 (IPv6) or 0 (none)."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        if len(value) not in (0, 4, 16):
            raise ValueError(f"IP address of {len(value)} bytes")
        return value
    return ipaddress.ip_address(value).packed


def ipv4(value: str | bytes) -> bytes:
    """An IPv4 address as its 4 wire bytes."""
    raw = ip(value)
    if len(raw) != 4:
        raise ValueError("not an IPv4 address")
    return raw


def _fixed(value: bytes, size: int) -> bytes:
    if len(value) != size:
        raise ValueError(f"expected {size} bytes, got {len(value)}")
    return value


# --- route distinguishers (RFC 4364 §4.2) ---------------------------------------------


def rd_type0(asn: int, assigned: int) -> bytes:
    """Type 0: Type (2) = 0 | Administrator: 2-byte ASN | Assigned Number (4)."""
    return pack("uint16=0, uint16, uint32", asn, assigned).bytes


def rd_type1(address: str | bytes, assigned: int) -> bytes:
    """Type 1: Type (2) = 1 | Administrator: IPv4 address (4) | Assigned Number (2)."""
    return pack("uint16=1, bytes4, uint16", ipv4(address), assigned).bytes


def rd_type2(asn: int, assigned: int) -> bytes:
    """Type 2: Type (2) = 2 | Administrator: 4-byte ASN | Assigned Number (2)."""
    return pack("uint16=2, uint32, uint16", asn, assigned).bytes


# --- Ethernet Segment Identifiers (RFC 7432 §5) ---------------------------------------


def esi_type0(value: bytes) -> bytes:
    """T=0x00 | 9-octet arbitrary value."""
    return pack("uint8=0, bytes9", _fixed(value, 9)).bytes


def esi_type1(system_mac: bytes, port_key: int) -> bytes:
    """T=0x01 | CE LACP System MAC (6) | CE LACP Port Key (2) | 0x00."""
    return pack("uint8=1, bytes6, uint16, uint8=0", _fixed(system_mac, 6), port_key).bytes


def esi_type2(root_bridge_mac: bytes, priority: int) -> bytes:
    """T=0x02 | Root Bridge MAC (6) | Root Bridge Priority (2) | 0x00."""
    return pack("uint8=2, bytes6, uint16, uint8=0", _fixed(root_bridge_mac, 6), priority).bytes


def esi_type3(system_mac: bytes, local_discriminator: int) -> bytes:
    """T=0x03 | System MAC (6) | Local Discriminator (3)."""
    return pack("uint8=3, bytes6, uint24", _fixed(system_mac, 6), local_discriminator).bytes


def esi_type4(router_id: str | bytes, local_discriminator: int) -> bytes:
    """T=0x04 | Router ID (4) | Local Discriminator (4) | 0x00."""
    return pack("uint8=4, bytes4, uint32, uint8=0", ipv4(router_id), local_discriminator).bytes


def esi_type5(asn: int, local_discriminator: int) -> bytes:
    """T=0x05 | AS number (4) | Local Discriminator (4) | 0x00."""
    return pack("uint8=5, uint32, uint32, uint8=0", asn, local_discriminator).bytes


# --- EVPN NLRI (RFC 7432 §7, RFC 9136 §3.1, RFC 7911 §3) -------------------------------


def evpn_nlri(route_type: int, body: bytes, path_id: int | None = None) -> bytes:
    """RFC 7432 §7: Route Type (1) | Length (1) | Route Type specific (variable);
    preceded by a 4-octet Path Identifier under ADD-PATH (RFC 7911 §3)."""
    nlri = pack("uint8, uint8, bytes", route_type, len(body), body)
    if path_id is not None:
        nlri = pack("uint32", path_id) + nlri
    return nlri.bytes


def evpn_ethernet_ad(rd: bytes, esi: bytes, ethernet_tag: int, label: int, path_id: int | None = None) -> bytes:
    """RFC 7432 §7.1: RD (8) | ESI (10) | Ethernet Tag ID (4) | MPLS Label (3)."""
    body = pack("bytes8, bytes10, uint32, uint24", _fixed(rd, 8), _fixed(esi, 10), ethernet_tag, label)
    return evpn_nlri(1, body.bytes, path_id)


def evpn_mac_ip(
    rd: bytes,
    esi: bytes,
    ethernet_tag: int,
    mac: bytes,
    ip_address: str | bytes | None,
    label1: int,
    label2: int | None = None,
    path_id: int | None = None,
) -> bytes:
    """RFC 7432 §7.2: RD (8) | ESI (10) | Ethernet Tag ID (4) | MAC Address Length (1) = 48 |
    MAC Address (6) | IP Address Length (1, in bits) | IP Address (0, 4 or 16) |
    MPLS Label1 (3) | MPLS Label2 (0 or 3)."""
    addr = ip(ip_address)
    body = pack(
        "bytes8, bytes10, uint32, uint8=48, bytes6, uint8, bytes, uint24",
        _fixed(rd, 8),
        _fixed(esi, 10),
        ethernet_tag,
        _fixed(mac, 6),
        len(addr) * 8,
        addr,
        label1,
    )
    if label2 is not None:
        body += pack("uint24", label2)
    return evpn_nlri(2, body.bytes, path_id)


def evpn_inclusive_multicast(
    rd: bytes, ethernet_tag: int, originator: str | bytes, path_id: int | None = None
) -> bytes:
    """RFC 7432 §7.3: RD (8) | Ethernet Tag ID (4) | IP Address Length (1) |
    Originating Router's IP Address (4 or 16)."""
    addr = ip(originator)
    body = pack("bytes8, uint32, uint8, bytes", _fixed(rd, 8), ethernet_tag, len(addr) * 8, addr)
    return evpn_nlri(3, body.bytes, path_id)


def evpn_ethernet_segment(rd: bytes, esi: bytes, originator: str | bytes, path_id: int | None = None) -> bytes:
    """RFC 7432 §7.4: RD (8) | ESI (10) | IP Address Length (1) |
    Originating Router's IP Address (4 or 16)."""
    addr = ip(originator)
    body = pack("bytes8, bytes10, uint8, bytes", _fixed(rd, 8), _fixed(esi, 10), len(addr) * 8, addr)
    return evpn_nlri(4, body.bytes, path_id)


def evpn_ip_prefix(
    rd: bytes,
    esi: bytes,
    ethernet_tag: int,
    prefix_length: int,
    prefix: str | bytes,
    gateway: str | bytes | None,
    label: int,
    path_id: int | None = None,
) -> bytes:
    """RFC 9136 §3.1: RD (8) | ESI (10) | Ethernet Tag ID (4) | IP Prefix Length (1) |
    IP Prefix (4 or 16) | GW IP Address (4 or 16) | MPLS Label (3).

    The route is 34 bytes long for IPv4 and 58 for IPv6: prefix and gateway are the same
    family, and an absent gateway is all zeros.
    """
    net = ip(prefix)
    gw = ip(gateway) or bytes(len(net))
    if len(gw) != len(net):
        raise ValueError("prefix and gateway of different families")
    body = pack(
        "bytes8, bytes10, uint32, uint8, bytes, bytes, uint24",
        _fixed(rd, 8),
        _fixed(esi, 10),
        ethernet_tag,
        prefix_length,
        net,
        gw,
        label,
    )
    return evpn_nlri(5, body.bytes, path_id)


def ip_prefix(network: bytes, length: int, path_id: int | None = None) -> bytes:
    """RFC 4271 §4.3 / RFC 4760 §5.1.3: Length (1, in bits) | Prefix (the octets that hold
    ``length`` bits); preceded by a 4-octet Path Identifier under ADD-PATH (RFC 7911 §3)."""
    octets = (length + 7) // 8
    out = pack("uint8, bytes", length, network[:octets])
    if path_id is not None:
        out = pack("uint32", path_id) + out
    return out.bytes


# --- extended communities (RFC 4360 §2-§4, RFC 5668, RFC 7432 §7.5-§7.8, RFC 9135 §8.1,
#     RFC 9047 §3.1, RFC 9012 §4.1) ---------------------------------------------------


def ext_route_target(kind: int, administrator: int | str, assigned: int) -> bytes:
    """Route Target, sub-type 0x02 (RFC 4360 §4): Type 0x00 (RFC 4360 §3.1: 2-octet ASN (2),
    Local Administrator (4)), 0x01 (§3.2: IPv4 address (4), Local Administrator (2)) or
    0x02 (RFC 5668 §2: 4-octet ASN (4), Local Administrator (2))."""
    if kind == 0:
        return pack("uint8=0, uint8=2, uint16, uint32", administrator, assigned).bytes
    if kind == 1:
        return pack("uint8=1, uint8=2, bytes4, uint16", ipv4(str(administrator)), assigned).bytes
    if kind == 2:
        return pack("uint8=2, uint8=2, uint32, uint16", administrator, assigned).bytes
    raise ValueError(f"route target kind {kind}")


def ext_encapsulation(tunnel_type: int) -> bytes:
    """RFC 9012 §4.1: Type 0x03 | Sub-Type 0x0c | Reserved (4) | Tunnel Type (2)."""
    return pack("uint8=3, uint8=12, uint32=0, uint16", tunnel_type).bytes


def ext_default_gateway() -> bytes:
    """RFC 7432 §7.8: Type 0x03 | Sub-Type 0x0d | Value reserved, zero (6)."""
    return pack("uint8=3, uint8=13, uint48=0").bytes


def ext_mac_mobility(sequence: int, sticky: bool) -> bytes:
    """RFC 7432 §7.7: Type 0x06 | Sub-Type 0x00 | Flags (1; low-order bit: sticky/static) |
    Reserved (1) | Sequence Number (4)."""
    return pack("uint8=6, uint8=0, uint7=0, bool, uint8=0, uint32", sticky, sequence).bytes


def ext_esi_label(label: int, single_active: bool) -> bytes:
    """RFC 7432 §7.5: Type 0x06 | Sub-Type 0x01 | Flags (1; low-order bit: Single-Active) |
    Reserved (2) | ESI Label (3)."""
    return pack("uint8=6, uint8=1, uint7=0, bool, uint16=0, uint24", single_active, label).bytes


def ext_es_import(mac: bytes) -> bytes:
    """RFC 7432 §7.6: Type 0x06 | Sub-Type 0x02 | ES-Import (6, a MAC address)."""
    return pack("uint8=6, uint8=2, bytes6", _fixed(mac, 6)).bytes


def ext_router_mac(mac: bytes) -> bytes:
    """RFC 9135 §8.1: Type 0x06 | Sub-Type 0x03 | EVPN Router's MAC Address (6)."""
    return pack("uint8=6, uint8=3, bytes6", _fixed(mac, 6)).bytes


def ext_arp_nd(router: bool, override: bool, immutable: bool, other_flags: int = 0) -> bytes:
    """RFC 9047 §3.1: Type 0x06 | Sub-Type 0x08 | Flags (1) | Reserved (5).

    Flags, bit 0 the most significant: I (Immutable ARP/ND Binding) is bit 4, O (Override)
    bit 6, R (Router) bit 7; ``other_flags`` fills the bits not assigned (0-3 and 5).
    """
    other = BitArray(uint=other_flags, length=8)
    flags = pack(
        "bits4, bool, bool, bool, bool",
        other[0:4],
        immutable,
        other[5],
        override,
        router,
    )
    if other[4] or other[6] or other[7]:
        raise ValueError("other_flags overlaps I/O/R")
    return pack("uint8=6, uint8=8, bits8, uint40=0", flags).bytes


# --- path attributes ------------------------------------------------------------------


def attribute(
    type_code: int,
    value: bytes,
    *,
    optional: bool,
    transitive: bool,
    partial: bool = False,
    extended: bool = False,
) -> bytes:
    """RFC 4271 §4.3: Attribute Flags (O, T, P, Extended Length, 4 unused bits) |
    Attribute Type Code (1) | Attribute Length (1, or 2 with Extended Length) | value.

    The Extended Length bit is set when asked for or when the value needs it (> 255 bytes).
    """
    extended = extended or len(value) > 255
    head = pack("bool, bool, bool, bool, uint4=0, uint8", optional, transitive, partial, extended, type_code)
    head += pack("uint16" if extended else "uint8", len(value))
    return head.bytes + value


def origin(value: int) -> bytes:
    """RFC 4271 §4.3 a: ORIGIN (1)."""
    return pack("uint8", value).bytes


def as_path(segments: Iterable[tuple[int, Sequence[int]]], four_octet: bool) -> bytes:
    """RFC 4271 §4.3 b (2-octet ASNs), RFC 6793 §3 (4-octet): segments of
    Path Segment Type (1) | Path Segment Length (1, in ASNs) | ASNs (2 or 4 each)."""
    width = 32 if four_octet else 16
    out = BitArray()
    for seg_type, asn_list in segments:
        out += pack("uint8, uint8", seg_type, len(asn_list))
        for asn in asn_list:
            out += pack(f"uint{width}", asn)
    return out.bytes


def u32_value(value: int) -> bytes:
    """A 4-octet value: MULTI_EXIT_DISC (RFC 4271 §4.3 d), LOCAL_PREF (§4.3 e)."""
    return pack("uint32", value).bytes


def aggregator(asn: int, address: str | bytes, four_octet: bool) -> bytes:
    """RFC 4271 §4.3 g: last AS (2) | IP address (4); 4-octet AS (RFC 6793 §3): AS (4) | IP (4).
    AS4_AGGREGATOR (RFC 6793 §3) is always the 4-octet form."""
    return pack(f"uint{32 if four_octet else 16}, bytes4", asn, ipv4(address)).bytes


def communities(values: Iterable[int]) -> bytes:
    """RFC 1997: a list of 4-octet communities."""
    return b"".join(pack("uint32", v).bytes for v in values)


def large_communities(values: Iterable[tuple[int, int, int]]) -> bytes:
    """RFC 8092 §3: Global Administrator (4) | Local Data Part 1 (4) | Local Data Part 2 (4)."""
    return b"".join(pack("uint32, uint32, uint32", *v).bytes for v in values)


def pmsi_tunnel(flags: int, tunnel_type: int, label: int, tunnel_id: str | bytes) -> bytes:
    """RFC 6514 §5: Flags (1) | Tunnel Type (1) | MPLS Label (3) | Tunnel Identifier (variable).

    ``label`` is the whole 3-octet field (for VXLAN the VNI, RFC 8365 §5.1.3).  For Ingress
    Replication (type 6) the identifier is the endpoint's unicast IP address.
    """
    tid = ip(tunnel_id) if isinstance(tunnel_id, str) else tunnel_id
    return pack("uint8, uint8, uint24, bytes", flags, tunnel_type, label, tid).bytes


def mp_reach(afi: int, safi: int, next_hop: bytes, nlri: bytes) -> bytes:
    """RFC 4760 §3: AFI (2) | SAFI (1) | Length of Next Hop (1) | Next Hop | Reserved (1) | NLRI."""
    return pack("uint16, uint8, uint8, bytes, uint8=0, bytes", afi, safi, len(next_hop), next_hop, nlri).bytes


def mp_unreach(afi: int, safi: int, withdrawn: bytes) -> bytes:
    """RFC 4760 §4: AFI (2) | SAFI (1) | Withdrawn Routes."""
    return pack("uint16, uint8, bytes", afi, safi, withdrawn).bytes


# --- messages (RFC 4271 §4) -----------------------------------------------------------


def bgp_message(msg_type: int, body: bytes) -> bytes:
    """RFC 4271 §4.1: Marker (16, all ones) | Length (2, whole message) | Type (1) | body."""
    return pack("bytes16, uint16, uint8, bytes", MARKER, HEADER + len(body), msg_type, body).bytes


def update(withdrawn: bytes, path_attributes: bytes, nlri: bytes) -> bytes:
    """RFC 4271 §4.3: Withdrawn Routes Length (2) | Withdrawn Routes |
    Total Path Attribute Length (2) | Path Attributes | NLRI."""
    body = pack(
        "uint16, bytes, uint16, bytes, bytes",
        len(withdrawn),
        withdrawn,
        len(path_attributes),
        path_attributes,
        nlri,
    )
    return bgp_message(2, body.bytes)


def keepalive() -> bytes:
    """RFC 4271 §4.4: the header alone."""
    return bgp_message(4, b"")


def notification(code: int, subcode: int, data: bytes) -> bytes:
    """RFC 4271 §4.5: Error code (1) | Error subcode (1) | Data."""
    return bgp_message(3, pack("uint8, uint8, bytes", code, subcode, data).bytes)


def route_refresh(afi: int, safi: int, subtype: int = 0, orf: bytes = b"") -> bytes:
    """RFC 2918 §3 / RFC 7313 §3.2: AFI (2) | Message Subtype (1, was Reserved) | SAFI (1),
    followed by ORF entries (RFC 5291)."""
    return bgp_message(5, pack("uint16, uint8, uint8, bytes", afi, subtype, safi, orf).bytes)


def capability(code: int, value: bytes) -> bytes:
    """RFC 5492 §4: Capability Code (1) | Capability Length (1) | Capability Value."""
    return pack("uint8, uint8, bytes", code, len(value), value).bytes


def cap_multiprotocol(afi: int, safi: int) -> bytes:
    """RFC 4760 §8: AFI (2) | Reserved (1) | SAFI (1)."""
    return pack("uint16, uint8=0, uint8", afi, safi).bytes


def cap_four_octet_as(asn: int) -> bytes:
    """RFC 6793 §3: the speaker's 4-octet AS number."""
    return pack("uint32", asn).bytes


def cap_graceful_restart(
    restarting: bool,
    notification_bit: bool,
    reserved: int,
    restart_time: int,
    families: Iterable[tuple[int, int, int]],
) -> bytes:
    """RFC 4724 §3 (N bit: RFC 8538 §2): Restart Flags (4 bits: R, N, 2 reserved) |
    Restart Time (12 bits) | per family AFI (2) | SAFI (1) | Flags for Address Family (1)."""
    out = pack("bool, bool, uint2, uint12", restarting, notification_bit, reserved, restart_time)
    for afi, safi, flags in families:
        out += pack("uint16, uint8, uint8", afi, safi, flags)
    return out.bytes


def cap_add_path(families: Iterable[tuple[int, int, int]]) -> bytes:
    """RFC 7911 §4: per family AFI (2) | SAFI (1) | Send/Receive (1)."""
    return b"".join(pack("uint16, uint8, uint8", *f).bytes for f in families)


def cap_fqdn(hostname: str, domain: str) -> bytes:
    """draft-walton-bgp-hostname-capability §3: Hostname Length (1) | Hostname (UTF-8) |
    Domain Name Length (1) | Domain Name."""
    host, dom = hostname.encode("utf-8"), domain.encode("utf-8")
    return pack("uint8, bytes, uint8, bytes", len(host), host, len(dom), dom).bytes


def open_message(
    version: int,
    my_as: int,
    hold_time: int,
    bgp_id: str | bytes,
    parameters: Sequence[tuple[int, bytes]],
    *,
    extended: bool,
) -> bytes:
    """RFC 4271 §4.2: Version (1) | My AS (2) | Hold Time (2) | BGP Identifier (4) |
    Opt Parm Len (1) | Optional Parameters (Type (1) | Length (1) | Value).

    With ``extended`` the RFC 9072 §2 form: Non-Ext OP Len (1) = 255 | Non-Ext OP Type (1) = 255 |
    Extended Opt. Parm. Length (2) | parameters of Type (1) | Length (2) | Value.
    """
    head = pack("uint8, uint16, uint16, bytes4", version, my_as, hold_time, ipv4(bgp_id))
    if extended:
        params = b"".join(pack("uint8, uint16, bytes", t, len(v), v).bytes for t, v in parameters)
        head += pack("uint8=255, uint8=255, uint16, bytes", len(params), params)
    else:
        params = b"".join(pack("uint8, uint8, bytes", t, len(v), v).bytes for t, v in parameters)
        head += pack("uint8, bytes", len(params), params)
    return bgp_message(1, head.bytes)


def update_packs(
    path_attributes: bytes,
    encoded_routes: Sequence[bytes],
    max_size: int,
    *,
    afi: int,
    safi: int,
    next_hop: bytes | None,
) -> list[bytes]:
    """UPDATEs carrying ``encoded_routes`` in order, as many per message as fit ``max_size``
    (RFC 4271 §4.3 / RFC 8654 §4), after the shared ``path_attributes``.

    With ``next_hop`` the routes go into an MP_REACH_NLRI (RFC 4760 §3), else into an
    MP_UNREACH_NLRI (RFC 4760 §4); either is written with the Extended Length bit set so that
    its header size does not depend on how many routes it holds.  IPv4 unicast (1, 1) routes
    go into the NLRI field (with ``next_hop``) or the Withdrawn Routes field (without).
    """
    classic = (afi, safi) == (1, 1)

    def build(batch: Sequence[bytes]) -> bytes:
        routes = b"".join(batch)
        if classic and next_hop is not None:
            return update(b"", path_attributes, routes)
        if classic:
            return update(routes, b"", b"")
        if next_hop is not None:
            mp = attribute(14, mp_reach(afi, safi, next_hop, routes), optional=True, transitive=False, extended=True)
        else:
            mp = attribute(15, mp_unreach(afi, safi, routes), optional=True, transitive=False, extended=True)
        return update(b"", path_attributes + mp, b"")

    # header (19) + Withdrawn Routes Length (2) + Total Path Attribute Length (2), then the
    # shared attributes and, outside IPv4 unicast, the MP attribute's 4-byte header and its
    # AFI/SAFI (3) [+ next-hop length (1) + next hop + reserved (1)]
    overhead = HEADER + 4
    if not classic:
        overhead += len(path_attributes) + 4 + (3 if next_hop is None else 5 + len(next_hop))
    elif next_hop is not None:
        overhead += len(path_attributes)

    out: list[bytes] = []
    batch: list[bytes] = []
    size = overhead

    def flush() -> None:
        message = build(batch)
        if len(message) != size:
            raise AssertionError(f"reference size arithmetic: {len(message)} != {size}")
        out.append(message)

    for route in encoded_routes:
        if batch and size + len(route) > max_size:
            flush()
            batch, size = [], overhead
        batch.append(route)
        size += len(route)
    if batch:
        flush()
    return out
