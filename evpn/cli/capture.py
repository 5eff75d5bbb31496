"""Extract BGP TCP byte streams from pcap and pcapng capture files.

The container formats are read with ``dpkt``; the link, IP and TCP headers are
decoded here with ``struct`` so that truncated or malformed packets can be
skipped without surprises.  Each direction of every TCP connection with port
179 at either end is reassembled into its in-order payload bytes.
"""

from __future__ import annotations

import io
import ipaddress
import os
import struct
from collections.abc import Iterator
from typing import Any, BinaryIO

import attrs
import dpkt

_BGP_PORT = 179
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_IP_ETHERTYPES = frozenset({0x0800, 0x86DD})
_VLAN_ETHERTYPES = frozenset({0x8100, 0x88A8, 0x9100})
_PPP_IP_PROTOCOLS = frozenset({0x0021, 0x0057})
_RAW_LINKTYPES = frozenset({12, 14, 101, 228, 229})  # raw IP, IPv4 only, IPv6 only
_NULL_LINKTYPES = frozenset({0, 108})  # BSD loopback: 4-byte address family
_IPV6_EXT_HEADERS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options


@attrs.frozen
class Stream:
    """One direction of one TCP connection carrying BGP."""

    src: str  # "ip:port" ("[v6]:port" for IPv6)
    dst: str
    data: bytes  # the reassembled in-order payload bytes of that direction


def _ethertype_payload(frame: bytes, type_offset: int, header_len: int) -> bytes | None:
    """Return the IP packet after a header whose ethertype sits at ``type_offset``."""
    if len(frame) < header_len:
        return None
    ethertype = int.from_bytes(frame[type_offset : type_offset + 2], "big")
    return frame[header_len:] if ethertype in _IP_ETHERTYPES else None


def _ethernet_payload(frame: bytes) -> bytes | None:
    """Strip an Ethernet II header and any 802.1Q/802.1ad VLAN tags."""
    offset = 12
    while int.from_bytes(frame[offset : offset + 2], "big") in _VLAN_ETHERTYPES:
        offset += 4
    return _ethertype_payload(frame, offset, offset + 2)


def _link_payload(linktype: int, frame: bytes) -> bytes | None:
    """Strip the link-layer header of ``frame``; None for unsupported link types."""
    if linktype == 1:  # Ethernet
        return _ethernet_payload(frame)
    if linktype == 113:  # Linux cooked capture (SLL)
        return _ethertype_payload(frame, 14, 16)
    if linktype == 276:  # Linux cooked capture v2 (SLL2)
        return _ethertype_payload(frame, 0, 20)
    if linktype in _RAW_LINKTYPES:
        return frame
    if linktype in _NULL_LINKTYPES:
        return frame[4:]
    if linktype in (9, 50):  # PPP, PPP in HDLC-like framing
        body = frame[2:] if frame[:2] == b"\xff\x03" else frame
        proto = int.from_bytes(body[:2], "big")
        return body[2:] if proto in _PPP_IP_PROTOCOLS else None
    if linktype == 178 and frame[:3] == b"MGC":  # Juniper Ethernet
        flags, offset = frame[3], 4
        if flags & 0x02:  # JUNIPER_BPF_NO_L2: no Ethernet header follows
            return None
        if flags & 0x80:  # JUNIPER_BPF_EXT: TLV extensions with a 16-bit length
            offset += 2 + int.from_bytes(frame[4:6], "big")
        return _ethernet_payload(frame[offset:])
    return None


def _ip_segment(packet: bytes) -> tuple[str, str, bytes] | None:
    """Return (src ip, dst ip, TCP segment) of an unfragmented TCP/IP packet.

    The segment is cut at the IP length (dropping link padding); a packet truncated
    by the snaplen yields a short segment, which later shows up as a sequence hole.
    """
    version = packet[0] >> 4 if packet else 0
    if version == 4 and len(packet) >= 20:
        header_len = (packet[0] & 0x0F) * 4
        total, frag = struct.unpack_from("!H2xH", packet, 2)
        if packet[9] != 6 or header_len < 20 or frag & 0x3FFF:  # not TCP, bad, fragment
            return None
        end = total or len(packet)  # total length 0: TCP segmentation offload
        src, dst = (str(ipaddress.IPv4Address(packet[i : i + 4])) for i in (12, 16))
        return (src, dst, packet[header_len:end]) if end >= header_len else None
    if version == 6 and len(packet) >= 40:
        payload_len, next_header = struct.unpack_from("!HB", packet, 4)
        offset, end = 40, (40 + payload_len if payload_len else len(packet))
        while next_header in _IPV6_EXT_HEADERS and len(packet) >= offset + 2:
            next_header, offset = packet[offset], offset + (packet[offset + 1] + 1) * 8
        if next_header != 6 or offset > end:  # also skips fragments (header 44)
            return None
        src, dst = (f"[{ipaddress.IPv6Address(packet[i : i + 16])}]" for i in (8, 24))
        return src, dst, packet[offset:end]
    return None


def _tcp(segment: bytes) -> tuple[int, int, int, bool, bytes] | None:
    """Return (src port, dst port, seq, SYN flag, payload) of a TCP segment."""
    if len(segment) < 20:
        return None
    sport, dport, seq = struct.unpack_from("!HHI", segment)
    header_len = (segment[12] >> 4) * 4
    if header_len < 20 or header_len > len(segment):
        return None
    return sport, dport, seq, bool(segment[13] & 0x02), segment[header_len:]


class _Flow:
    """Segments collected for one direction of one TCP connection."""

    def __init__(self, src: str, dst: str) -> None:
        self.src, self.dst = src, dst
        self.syn_seq: int | None = None  # raw sequence number of the SYN, if seen
        self.start: int | None = None  # unwrapped seq of the first byte after the SYN
        self.last_raw = self.last_rel = 0  # raw and unwrapped seq of the latest packet
        self.segments: list[tuple[int, bytes, bool]] = []  # (seq, data, SYN flag)

    def is_new_connection(self, syn_seq: int) -> bool:
        """Whether a SYN with ``syn_seq`` starts a new connection on this 4-tuple."""
        if syn_seq == self.syn_seq:  # retransmitted SYN
            return False
        return self.syn_seq is not None or bool(self.segments)

    def add(self, seq: int, syn: bool, payload: bytes) -> None:
        """Record one TCP segment, unwrapping its 32-bit sequence number."""
        delta = (seq - self.last_raw + 2**31) % 2**32 - 2**31  # signed 32-bit distance
        self.last_raw, self.last_rel = seq, self.last_rel + delta
        if syn:  # the SYN consumes one sequence number
            self.syn_seq, self.start = seq, self.last_rel + 1
        if payload:
            self.segments.append((self.last_rel + int(syn), payload, syn))

    def assemble(self) -> bytes:
        """Return the contiguous payload from the start up to the first hole.

        Some synthetic captures put data in a SYN without counting the SYN's
        sequence number; if that reading yields a longer stream, it is used.
        """
        pieces = [(seq, data) for seq, data, _ in self.segments]
        if self.start is None:  # capture began mid-connection: lowest seq seen
            return _assemble(min(seq for seq, _ in pieces), pieces) if pieces else b""
        result = _assemble(self.start, pieces)
        if any(syn for _, _, syn in self.segments):
            pieces = [(seq - int(syn), data) for seq, data, syn in self.segments]
            result = max(result, _assemble(self.start - 1, pieces), key=len)
        return result


def _assemble(start: int, segments: list[tuple[int, bytes]]) -> bytes:
    """Join (seq, data) segments from ``start`` up to the first hole.

    Where segments overlap, the copy listed first (captured first) wins.
    """
    pieces = []
    for seq, data in segments:
        off = seq - start
        if off + len(data) > 0:  # drop bytes before the start
            pieces.append((max(off, 0), data[max(-off, 0) :]))
    end = 0
    for off, data in sorted(pieces, key=lambda piece: piece[0]):
        if off > end:  # a hole: keep only the prefix
            break
        end = max(end, off + len(data))
    buf = bytearray(end)
    for off, data in reversed(pieces):  # earlier copies overwrite later ones
        chunk = data[: max(end - off, 0)]
        buf[off : off + len(chunk)] = chunk
    return bytes(buf)


def _frames(reader: Any) -> Iterator[bytes]:
    """Yield raw frames, stopping quietly at a truncated or corrupt record."""
    packets = iter(reader)
    while True:
        try:
            _, frame = next(packets)
        except StopIteration:
            return
        except (dpkt.Error, ValueError, struct.error):
            return
        yield bytes(frame)


def _open(fh: BinaryIO, path: str | os.PathLike[str]) -> tuple[Any, int]:
    """Return a dpkt reader for ``fh`` and its link type, or raise ValueError."""
    try:
        is_pcapng = fh.read(4) == _PCAPNG_MAGIC
        fh.seek(0)
        reader = dpkt.pcapng.Reader(fh) if is_pcapng else dpkt.pcap.Reader(fh)
        return reader, int(reader.datalink()) & 0xFFFF
    except (dpkt.Error, ValueError, struct.error) as exc:
        name = os.fspath(path)
        raise ValueError(f"{name}: not a pcap or pcapng file ({exc})") from exc


def read_streams(path: str | os.PathLike[str]) -> list[Stream]:
    """Return the reassembled payload of each TCP flow direction on port 179.

    Every direction of every TCP connection in the pcap/pcapng file ``path``
    with port 179 at either end is returned, in order of first appearance;
    directions that carried no payload are omitted.  Reassembly stops at the
    first sequence hole; packets that cannot be parsed are skipped.  Raises
    ValueError if the file is neither pcap nor pcapng.
    """
    flows: dict[tuple[str, int, str, int], _Flow] = {}
    ordered: list[_Flow] = []
    with open(path, "rb") as fh:  # in memory: a corrupt length cannot over-allocate
        reader, linktype = _open(io.BytesIO(fh.read()), path)
    for frame in _frames(reader):
        packet = _link_payload(linktype, frame)
        ip = _ip_segment(packet) if packet else None
        tcp = _tcp(ip[2]) if ip else None
        if ip is None or tcp is None or _BGP_PORT not in tcp[:2]:
            continue
        (src_ip, dst_ip, _), (sport, dport, seq, syn, payload) = ip, tcp
        key = (src_ip, sport, dst_ip, dport)
        flow = flows.get(key)
        if flow is None or (syn and flow.is_new_connection(seq)):
            flow = _Flow(f"{src_ip}:{sport}", f"{dst_ip}:{dport}")
            flows[key] = flow
            ordered.append(flow)
        flow.add(seq, syn, payload)
    streams = [Stream(flow.src, flow.dst, flow.assemble()) for flow in ordered]
    return [stream for stream in streams if stream.data]
