"""Tests for evpn.cli.capture: TCP stream extraction from pcap/pcapng files."""

from __future__ import annotations

import re
import socket
import struct
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import dpkt  # type: ignore[import-untyped]
import pytest

from evpn.cli.capture import Stream, read_streams

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
MARKER = b"\xff" * 16
ISN = 1000


def corpus_file(name: str) -> Path:
    """Return a corpus file, skipping the test when the corpus is absent."""
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus file {path} not available")
    return path


def bgp_messages(data: bytes) -> int:
    """Count whole BGP messages in ``data``; fail on anything else."""
    count = offset = 0
    while offset < len(data):
        assert data[offset : offset + 16] == MARKER, f"no marker at {offset}"
        length = int.from_bytes(data[offset + 16 : offset + 18], "big")
        assert 19 <= length <= len(data) - offset
        offset += length
        count += 1
    return count


def ip_packet(
    seq: int,
    payload: bytes = b"",
    *,
    flags: int = dpkt.tcp.TH_ACK,
    src: str = "10.0.0.1",
    dst: str = "10.0.0.2",
    sport: int = 50000,
    dport: int = 179,
) -> bytes:
    """Build an IPv4 or IPv6 (if ``src`` contains ':') TCP packet."""
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, flags=flags, data=payload)
    if ":" in src:
        family = socket.AF_INET6
        return bytes(
            dpkt.ip6.IP6(
                src=socket.inet_pton(family, src),
                dst=socket.inet_pton(family, dst),
                nxt=6,
                hlim=64,
                plen=len(bytes(tcp)),
                data=tcp,
            )
        )
    return bytes(dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=6, data=tcp))


def ether(packet: bytes, *, vlan: bool = False) -> bytes:
    """Wrap an IP packet in Ethernet II, optionally with an 802.1Q tag."""
    ethertype = b"\x86\xdd" if packet[0] >> 4 == 6 else b"\x08\x00"
    tag = b"\x81\x00\x00\x64" if vlan else b""
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + tag + ethertype + packet


def write_pcap(path: Path, frames: list[bytes], linktype: int = 1) -> Path:
    """Write ``frames`` to a classic pcap file."""
    with path.open("wb") as fh:
        writer = dpkt.pcap.Writer(fh, linktype=linktype)
        for i, frame in enumerate(frames):
            writer.writepkt(frame, ts=1700000000 + i)
    return path


def one_stream(path: Path) -> Stream:
    """Read ``path`` and return its only stream."""
    streams = read_streams(path)
    assert len(streams) == 1, streams
    return streams[0]


def syn() -> bytes:
    """The client's SYN with sequence number ISN."""
    return ether(ip_packet(ISN, flags=dpkt.tcp.TH_SYN))


# --- corpus -----------------------------------------------------------------


def test_corpus_evpn_pkt_1() -> None:
    stream = one_stream(corpus_file("tcpdump/bgp-evpn-pkt-1.pcap"))
    assert stream.data[:16] == MARKER
    assert stream.src == "[fe80::1eea:bff:fe6a:39de]:179"
    assert stream.dst == "[fe80::a236:9fff:fe27:c97c]:44398"
    assert bgp_messages(stream.data) == 7  # 7 UPDATEs per the corpus README


def test_corpus_netgauze_multiple_sessions() -> None:
    streams = read_streams(corpus_file("netgauze/bgp__multiple-sessions__traffic.pcap"))
    assert len(streams) > 2
    assert all(stream.data.startswith(MARKER) for stream in streams)
    assert len({(stream.src, stream.dst) for stream in streams}) == len(streams)
    # tcpdump counts 20 OPEN + 100 UPDATE + 171 KEEPALIVE in this capture
    assert sum(bgp_messages(stream.data) for stream in streams) == 291


def test_corpus_pcapng() -> None:
    stream = one_stream(corpus_file("tcpdump/bgp-extended-msg.pcapng"))
    assert stream.src == "192.168.10.68:179"
    assert stream.data.startswith(MARKER)
    assert bgp_messages(stream.data) == 1


def test_corpus_bmp_on_port_1790_is_not_bgp() -> None:
    assert read_streams(corpus_file("netgauze/bmp__evpn__evpn.pcap")) == []


def test_corpus_pmacct_syn_carrying_data() -> None:
    # pmacct's synthetic capture puts the OPEN in a SYN without counting the SYN
    name = "netgauze/pmacct-tests__300-BGP-IPv6-CISCO-extNH_enc__traffic-00.pcap"
    stream = one_stream(corpus_file(name))
    assert bgp_messages(stream.data) == 47  # 1 OPEN + 45 UPDATE + 1 KEEPALIVE


# --- synthetic captures -------------------------------------------------------


def test_out_of_order_segments(tmp_path: Path) -> None:
    a, b, c = b"A" * 5, b"B" * 7, b"C" * 3
    frames = [
        syn(),
        ether(ip_packet(ISN + 1 + 5, b)),
        ether(ip_packet(ISN + 1 + 12, c)),
        ether(ip_packet(ISN + 1, a)),
    ]
    stream = one_stream(write_pcap(tmp_path / "ooo.pcap", frames))
    assert stream == Stream("10.0.0.1:50000", "10.0.0.2:179", a + b + c)


def test_retransmission_keeps_first_copy(tmp_path: Path) -> None:
    frames = [
        syn(),
        ether(ip_packet(ISN + 1, b"AAAA")),
        ether(ip_packet(ISN + 5, b"BBBB")),
        ether(ip_packet(ISN + 1, b"AAAA")),  # plain duplicate
        ether(ip_packet(ISN + 3, b"XXXXXX")),  # overlapping, different bytes
        ether(ip_packet(ISN + 7, b"YYYY")),  # overlaps BB, adds two new bytes
    ]
    stream = one_stream(write_pcap(tmp_path / "dup.pcap", frames))
    assert stream.data == b"AAAABBBBYY"


def test_sequence_wrap_around_with_syn(tmp_path: Path) -> None:
    isn = 2**32 - 3
    frames = [
        ether(ip_packet(isn, flags=dpkt.tcp.TH_SYN)),
        ether(ip_packet(0, b"def")),  # 2**32 - 2 + 2 wraps to 0
        ether(ip_packet(isn + 1, b"ab")),
    ]
    assert one_stream(write_pcap(tmp_path / "wrap.pcap", frames)).data == b"abdef"


def test_sequence_wrap_around_mid_connection(tmp_path: Path) -> None:
    frames = [
        ether(ip_packet(1, b"def")),
        ether(ip_packet(2**32 - 2, b"abc")),  # lowest sequence number, before the wrap
        ether(ip_packet(4, b"ghi")),
    ]
    stream = one_stream(write_pcap(tmp_path / "wrap2.pcap", frames))
    assert stream.data == b"abcdefghi"


def test_hole_keeps_prefix_only(tmp_path: Path) -> None:
    frames = [
        syn(),
        ether(ip_packet(ISN + 1, b"first")),
        ether(ip_packet(ISN + 1 + 5 + 6, b"after-the-hole")),  # 6 bytes never seen
    ]
    assert one_stream(write_pcap(tmp_path / "hole.pcap", frames)).data == b"first"


def test_ipv6_and_direction_order(tmp_path: Path) -> None:
    client, server = "2001:db8::1", "2001:db8::2"
    frames = [
        ether(ip_packet(5000, b"open-c", src=server, dst=client, sport=179, dport=40000)),
        ether(ip_packet(ISN, b"open-s", src=client, dst=server, sport=40000)),
        ether(ip_packet(5006, b"+ka", src=server, dst=client, sport=179, dport=40000)),
    ]
    streams = read_streams(write_pcap(tmp_path / "v6.pcap", frames))
    assert streams == [
        Stream("[2001:db8::2]:179", "[2001:db8::1]:40000", b"open-c+ka"),
        Stream("[2001:db8::1]:40000", "[2001:db8::2]:179", b"open-s"),
    ]


def test_truncated_packets(tmp_path: Path) -> None:
    cut = ether(ip_packet(ISN + 11, b"B" * 10))[:-6]  # snaplen cut 6 payload bytes
    frames = [
        syn(),
        ether(ip_packet(ISN + 1, b"A" * 10)),
        ether(ip_packet(ISN + 1, b"Z" * 10))[:40],  # cut inside the TCP header
        cut,
        ether(ip_packet(ISN + 21, b"C" * 10)),
    ]
    stream = one_stream(write_pcap(tmp_path / "trunc.pcap", frames))
    assert stream.data == b"A" * 10 + b"B" * 4


def test_truncated_file_keeps_earlier_packets(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "cut.pcap", [syn(), ether(ip_packet(ISN + 1, b"abc"))])
    path.write_bytes(path.read_bytes() + b"\x00" * 7)  # half a record header
    assert one_stream(path).data == b"abc"


def test_other_ports_and_fragments_ignored(tmp_path: Path) -> None:
    fragment = bytearray(ip_packet(ISN + 1, b"frag"))
    fragment[6] |= 0x20  # set More Fragments
    fragment[10:12] = b"\x00\x00"  # checksum is not verified
    frames = [
        ether(ip_packet(ISN, b"http", dport=80)),
        ether(ip_packet(ISN, b"bmp", dport=1790)),
        ether(bytes(fragment)),
    ]
    assert read_streams(write_pcap(tmp_path / "other.pcap", frames)) == []


def test_new_connection_on_same_ports(tmp_path: Path) -> None:
    frames = [
        syn(),
        ether(ip_packet(ISN + 1, b"one")),
        ether(ip_packet(77, flags=dpkt.tcp.TH_SYN)),
        ether(ip_packet(78, b"two")),
    ]
    streams = read_streams(write_pcap(tmp_path / "again.pcap", frames))
    assert [stream.data for stream in streams] == [b"one", b"two"]


@pytest.mark.parametrize(
    ("linktype", "wrap"),
    [
        (1, lambda p: ether(p, vlan=True)),
        (113, lambda p: struct.pack("!HHH8sH", 0, 1, 6, b"", 0x0800) + p),
        (276, lambda p: struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 0, 6, b"") + p),
        (101, lambda p: p),
        (0, lambda p: struct.pack("<I", 2) + p),
    ],
    ids=["vlan", "sll", "sll2", "raw", "null"],
)
def test_link_types(tmp_path: Path, linktype: int, wrap: Callable[[bytes], bytes]) -> None:
    frames = [wrap(ip_packet(ISN, b"payload"))]
    path = write_pcap(tmp_path / "link.pcap", frames, linktype=linktype)
    assert one_stream(path).data == b"payload"


def test_unknown_link_type_is_skipped(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "usb.pcap", [ip_packet(ISN, b"x")], linktype=189)
    assert read_streams(path) == []


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a capture file at all", b"\x0a\x0d\x0d\x0a" + b"\x00" * 20],
    ids=["empty", "text", "bad-pcapng"],
)
def test_garbage_file_raises_value_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.pcap"
    path.write_bytes(content)
    message = re.escape(f"{path}: not a pcap or pcapng file")
    with pytest.raises(ValueError, match=message):
        read_streams(path)


@pytest.mark.parametrize("syn_counts", [True, False], ids=["rfc793", "synthetic"])
def test_syn_carrying_data(tmp_path: Path, syn_counts: bool) -> None:
    after_syn = ISN + 1 + 3 if syn_counts else ISN + 3
    frames = [
        ether(ip_packet(ISN, b"abc", flags=dpkt.tcp.TH_SYN)),
        ether(ip_packet(after_syn, b"def")),
    ]
    assert one_stream(write_pcap(tmp_path / "syn.pcap", frames)).data == b"abcdef"


@pytest.mark.parametrize("src", ["10.0.0.1", "2001:db8::1"], ids=["ipv4", "ipv6"])
def test_link_trailer_is_not_payload(tmp_path: Path, src: str) -> None:
    dst = "2001:db8::2" if ":" in src else "10.0.0.2"
    frames = [ether(ip_packet(ISN, b"data", src=src, dst=dst)) + b"FCS!"]
    assert one_stream(write_pcap(tmp_path / "fcs.pcap", frames)).data == b"data"


def test_corrupt_record_length_does_not_allocate(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "len.pcap", [syn(), ether(ip_packet(ISN + 1, b"ok"))])
    content = path.read_bytes()
    bogus = struct.pack("<II", 0xFFFFFFF0, 0xFFFFFFF0)  # caplen, origlen of record 3
    path.write_bytes(content + content[24:32] + bogus + b"junk")
    tracemalloc.start()
    try:
        stream = one_stream(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stream.data == b"ok"
    assert peak < 64 * 2**20
