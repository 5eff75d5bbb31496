"""Tests for the ``evpn`` command line: ``evpn decode`` on hex, raw files and pcaps."""

from __future__ import annotations

import io
import json
import re
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import dpkt
import pytest

from evpn.cli import decode as decode_module
from evpn.cli.decode import (
    Negotiation,
    decode_messages,
    detect_framing,
    negotiated_context,
    parse_hex,
    route_text,
)
from evpn.cli.main import main
from evpn.wire import (
    AFI,
    SAFI,
    AddPath,
    AsPath,
    AsPathSegment,
    Context,
    Encapsulation,
    EthernetADRoute,
    EthernetSegmentRoute,
    ExtendedCommunities,
    ExtendedMessage,
    FourOctetAS,
    InclusiveMulticastRoute,
    IPPrefixRoute,
    Keepalive,
    MacIpRoute,
    MpReach,
    MpUnreach,
    Multiprotocol,
    NextHop,
    Notification,
    Open,
    Origin,
    PmsiTunnel,
    Prefix,
    RouteRefresh,
    RouteTarget,
    UnknownRoute,
    Update,
    encode_attribute,
    end_of_rib,
    pack_updates,
)
from evpn.wire.jsonform import nlri_json

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
MARKER = b"\xff" * 16
NH = bytes((198, 18, 0, 2))
EVPN = (AFI.L2VPN, SAFI.EVPN)
STATS_LINE = re.compile(
    r"^(?P<messages>\d+) messages?(?: \((?P<by_type>[^)]*)\))?, (?P<routes>\d+) routes?(?: \((?P<by_route>[^)]*)\))?, "
    r"(?P<seconds>\d+\.\d{6}) s, (?P<rate>\d+) routes/s$"
)

T2 = MacIpRoute(rd="198.18.0.2:2", mac="02:00:00:00:00:01", ip="198.19.0.1", label1=100)
T3 = InclusiveMulticastRoute(rd="198.18.0.2:2", originator_ip="198.18.0.2")
EVPN_UPDATE = Update(
    attributes=[
        Origin(0),
        AsPath([AsPathSegment(2, [65002])]),
        ExtendedCommunities([RouteTarget(65002, 100), Encapsulation(8)]),
        PmsiTunnel(6, 100, NH),
        MpReach(AFI.L2VPN, SAFI.EVPN, NH, [T2, T3]),
    ]
)
EVPN_UPDATE_BYTES = EVPN_UPDATE.encode()
EVPN_UPDATE_TEXT = [
    "UPDATE 137 bytes",
    "  origin igp",
    "  as-path 65002",
    "  extended-communities RT:65002:100 ENCAP:vxlan",
    "  pmsi-tunnel ingress-replication label 100 endpoint 198.18.0.2",
    "  mp-reach l2vpn/evpn next-hop 198.18.0.2",
    "  + [2][198.18.0.2:2][0][48][02:00:00:00:00:01][32][198.19.0.1] label1 100 esi 00:00:00:00:00:00:00:00:00:00",
    "  + [3][198.18.0.2:2][0][32][198.18.0.2]",
]
KEEPALIVE = Keepalive().encode()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``evpn ARGV`` in-process; return (status, stdout, stderr)."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def json_lines(out: str) -> list[dict[str, Any]]:
    """Every stdout line parsed as JSON (each must be valid)."""
    return [json.loads(line) for line in out.splitlines()]


def open_msg(asn: int = 65001, *caps: Any, four_octet: bool = True) -> Open:
    """An OPEN advertising EVPN, the 4-octet AS capability (unless told not to) and ``caps``."""
    capabilities = [Multiprotocol(*EVPN), *caps]
    if four_octet:
        capabilities.append(FourOctetAS(asn))
    return Open.build(asn, 90, "198.18.0.1", capabilities)


def two_octet_update() -> bytes:
    """An UPDATE whose AS_PATH is encoded with 2-octet ASNs."""
    return Update(attributes=[Origin(0), AsPath([AsPathSegment(2, [65001, 65002])]), MpReach(*EVPN, NH, [T3])]).encode(
        Context(four_octet_as=False)
    )


# --- pcap building -------------------------------------------------------------------


def tcp_frame(src: tuple[str, int], dst: tuple[str, int], seq: int, payload: bytes = b"", flags: int = 0x18) -> bytes:
    """An Ethernet/IPv4/TCP frame."""
    tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=seq, flags=flags, data=payload)
    ip = dpkt.ip.IP(src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=6, data=tcp)
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + bytes(ip)


def write_pcap(path: Path, conversation: list[tuple[bool, bytes]]) -> Path:
    """A capture of one TCP connection 10.0.0.1:50000 <-> 10.0.0.2:179; ``conversation``
    lists (from_client, payload) in order, each payload split in two segments."""
    client, server = ("10.0.0.1", 50000), ("10.0.0.2", 179)
    seq = {True: 1000, False: 5000}
    frames = [tcp_frame(client, server, 999, flags=0x02), tcp_frame(server, client, 4999, flags=0x12)]
    for from_client, payload in conversation:
        src, dst = (client, server) if from_client else (server, client)
        half = len(payload) // 2
        for part in (payload[:half], payload[half:]):
            frames.append(tcp_frame(src, dst, seq[from_client], part))
            seq[from_client] += len(part)
    with path.open("wb") as fh:
        writer = dpkt.pcap.Writer(fh, linktype=1)
        for i, frame in enumerate(frames):
            writer.writepkt(frame, ts=1700000000 + i)
    return path


# --- hex input -----------------------------------------------------------------------


def test_hex_full_message_text(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "decode", EVPN_UPDATE_BYTES.hex())
    assert (status, err) == (0, "")
    assert out.splitlines() == EVPN_UPDATE_TEXT


def test_hex_without_marker_decodes_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "decode", EVPN_UPDATE_BYTES[16:].hex())
    assert status == 0
    assert out.splitlines() == EVPN_UPDATE_TEXT


def test_hex_bare_update_body(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "decode", "--json", EVPN_UPDATE_BYTES[19:].hex())
    assert status == 0
    [obj] = json_lines(out)
    assert obj["mp_reach"]["nlri"] == [nlri_json(T2), nlri_json(T3)]
    status, out, _ = run(capsys, "decode", EVPN_UPDATE_BYTES[19:].hex())
    assert out.splitlines() == EVPN_UPDATE_TEXT  # the length shown includes the header added back


def test_hex_separators_prefixes_and_comments(capsys: pytest.CaptureFixture[str]) -> None:
    raw = EVPN_UPDATE_BYTES
    colons = ":".join(f"{b:02x}" for b in raw[:40])
    c_array = ", ".join(f"0x{b:02X}" for b in raw[40:90])
    text = f"{colons}\n{c_array}  # a comment ff ff\n\t{raw[90:].hex()}"
    status, out, _ = run(capsys, "decode", *text.split(" "))
    assert status == 0
    assert out.splitlines() == EVPN_UPDATE_TEXT


def test_several_messages_concatenated(capsys: pytest.CaptureFixture[str]) -> None:
    data = KEEPALIVE + EVPN_UPDATE_BYTES + Notification.cease(2, "bye").encode()
    status, out, _ = run(capsys, "decode", "--json", data.hex())
    assert status == 0
    objs = json_lines(out)
    assert [o["type"] for o in objs] == ["KEEPALIVE", "UPDATE", "NOTIFICATION"]
    assert objs[2]["shutdown_communication"] == "bye"
    # the same without markers
    stripped = b"".join(m[16:] for m in (KEEPALIVE, EVPN_UPDATE_BYTES, Notification.cease(2, "bye").encode()))
    status, out2, _ = run(capsys, "decode", "--json", stripped.hex())
    assert (status, out2) == (0, out)


def test_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{KEEPALIVE.hex()}\n{end_of_rib().encode().hex()}\n"))
    status, out, _ = run(capsys, "decode", "--json", "-")
    assert status == 0
    assert json_lines(out) == [
        {"type": "KEEPALIVE"},
        {
            "type": "UPDATE",
            "attributes": {},
            "withdrawn": [],
            "nlri": [],
            "mp_unreach": {"afi": "l2vpn", "safi": "evpn", "nlri": []},
            "end_of_rib": {"afi": "l2vpn", "safi": "evpn"},
        },
    ]


def test_text_forms_of_other_messages(capsys: pytest.CaptureFixture[str]) -> None:
    data = (
        open_msg(4200000001, AddPath([(*EVPN, 3)])).encode()
        + Notification.cease(2, "maintenance").encode()
        + RouteRefresh(*EVPN, 2).encode()
        + KEEPALIVE
        + end_of_rib().encode()
    )
    status, out, _ = run(capsys, "decode", data.hex())
    assert status == 0
    assert out.splitlines() == [
        "OPEN 53 bytes",
        "  version 4 asn 4200000001 hold-time 90 router-id 198.18.0.1",
        "  capability multiprotocol l2vpn/evpn",
        "  capability add-path l2vpn/evpn(both)",
        "  capability four-octet-as asn 4200000001",
        "NOTIFICATION 33 bytes",
        "  CEASE/ADMINISTRATIVE_SHUTDOWN (6/2) data 0b6d61696e74656e616e6365",
        '  shutdown-communication "maintenance"',
        "ROUTE-REFRESH 23 bytes",
        "  l2vpn/evpn subtype 2",
        "KEEPALIVE 19 bytes",
        "UPDATE 29 bytes",
        "  end-of-rib l2vpn/evpn",
        "  mp-unreach l2vpn/evpn",
    ]


def test_text_of_withdrawals_and_ipv4(capsys: pytest.CaptureFixture[str]) -> None:
    withdraw = Update(attributes=[MpUnreach(*EVPN, [T2])]).encode()
    ipv4 = Update(
        withdrawn=[Prefix.parse("10.0.0.0/8")],
        attributes=[Origin(1), AsPath([AsPathSegment(2, [1, 2]), AsPathSegment(1, [3, 4])]), NextHop("198.18.0.9")],
        nlri=[Prefix.parse("198.19.0.0/24")],
    ).encode()
    status, out, _ = run(capsys, "decode", (withdraw + ipv4).hex())
    assert status == 0
    assert out.splitlines() == [
        "UPDATE 68 bytes",
        "  mp-unreach l2vpn/evpn",
        "  - [2][198.18.0.2:2][0][48][02:00:00:00:00:01][32][198.19.0.1] label1 100 esi 00:00:00:00:00:00:00:00:00:00",
        "UPDATE 63 bytes",
        "  origin egp",
        "  as-path 1 2 {3,4}",
        "  next-hop 198.18.0.9",
        "  - 10.0.0.0/8",
        "  + 198.19.0.0/24",
    ]


@pytest.mark.parametrize(
    ("route", "text"),
    [
        (
            EthernetADRoute(rd="65001:1", esi="00:11:22:33:44:55:66:77:88:99", ethernet_tag=5, label=7),
            "[1][65001:1][00:11:22:33:44:55:66:77:88:99][5] label 7",
        ),
        (
            MacIpRoute(rd="65001:1", mac="02:00:00:00:00:01", label1=1, label2=2, path_id=3),
            "[2][65001:1][0][48][02:00:00:00:00:01] label1 1 label2 2 esi 00:00:00:00:00:00:00:00:00:00 path-id 3",
        ),
        (InclusiveMulticastRoute(rd="65001:1", originator_ip="2001:db8::1"), "[3][65001:1][0][128][2001:db8::1]"),
        (
            EthernetSegmentRoute(rd="65001:1", esi="01:00:00:00:00:00:00:00:00:01", originator_ip="198.18.0.1"),
            "[4][65001:1][01:00:00:00:00:00:00:00:00:01][32][198.18.0.1]",
        ),
        (
            IPPrefixRoute(rd="65001:1", prefix="198.19.5.0", prefix_length=24, label=100),
            "[5][65001:1][0][24][198.19.5.0] gateway 0.0.0.0 label 100 esi 00:00:00:00:00:00:00:00:00:00",
        ),
        (UnknownRoute(route_type=9, raw=b"\xab"), "[9] raw ab"),
    ],
)
def test_route_text(route: Any, text: str) -> None:
    assert route_text(nlri_json(route)) == text


# --- raw and pcap input -------------------------------------------------------------------


def test_raw_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    routes = [
        MacIpRoute(rd="198.18.0.2:2", mac=(0x020000000000 + i).to_bytes(6, "big"), label1=100) for i in range(300)
    ]
    messages = pack_updates([Origin(0), AsPath()], routes, next_hop=NH)
    assert len(messages) > 1
    path = tmp_path / "updates.bin"
    path.write_bytes(KEEPALIVE + b"".join(messages))
    status, out, _ = run(capsys, "decode", "--json", "--raw", str(path))
    assert status == 0
    objs = json_lines(out)
    assert [o["type"] for o in objs] == ["KEEPALIVE"] + ["UPDATE"] * len(messages)
    macs = [r["mac"] for o in objs[1:] for r in o["mp_reach"]["nlri"]]
    assert macs == [f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}" for i in range(300)]
    status, out, _ = run(capsys, "decode", "--stats", "--raw", str(path))
    assert status == 0
    assert out.startswith(
        f"{len(messages) + 1} messages (UPDATE {len(messages)}, KEEPALIVE 1), 300 routes (type-2 300), "
    )


def test_pcap_negotiates_add_path_and_prefixes_streams(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    both = AddPath([(*EVPN, 3)])
    ctx = Context(add_path={EVPN})
    route = InclusiveMulticastRoute(rd="198.18.0.2:2", originator_ip="198.18.0.2", path_id=42)
    update = Update(attributes=[Origin(0), AsPath(), MpReach(*EVPN, NH, [route])]).encode(ctx)
    pcap = write_pcap(
        tmp_path / "addpath.pcap",
        [(True, open_msg(65001, both).encode()), (False, open_msg(65002, both).encode()), (False, KEEPALIVE + update)],
    )
    status, out, _ = run(capsys, "decode", "--json", "--pcap", str(pcap))
    assert status == 0
    objs = json_lines(out)
    assert [(o["src"], o["dst"], o["type"]) for o in objs] == [
        ("10.0.0.1:50000", "10.0.0.2:179", "OPEN"),
        ("10.0.0.2:179", "10.0.0.1:50000", "OPEN"),
        ("10.0.0.2:179", "10.0.0.1:50000", "KEEPALIVE"),
        ("10.0.0.2:179", "10.0.0.1:50000", "UPDATE"),
    ]
    assert objs[3]["mp_reach"]["nlri"][0]["path_id"] == 42
    assert list(objs[0])[:3] == ["src", "dst", "type"]
    status, out, _ = run(capsys, "decode", "--pcap", str(pcap))
    lines = out.splitlines()
    assert lines[0] == "10.0.0.1:50000 > 10.0.0.2:179 OPEN 53 bytes"
    assert "10.0.0.2:179 > 10.0.0.1:50000 KEEPALIVE 19 bytes" in lines
    assert "  + [3][198.18.0.2:2][0][32][198.18.0.2] path-id 42" in lines


def test_pcap_add_path_needs_both_sides(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The server may send path ids only if it advertised send and the client receive."""
    ctx = Context(add_path={EVPN})
    route = InclusiveMulticastRoute(rd="198.18.0.2:2", originator_ip="198.18.0.2", path_id=42)
    update = Update(attributes=[Origin(0), AsPath(), MpReach(*EVPN, NH, [route])]).encode(ctx)
    pcap = write_pcap(
        tmp_path / "half.pcap",
        [
            (True, open_msg(65001, AddPath([(*EVPN, 2)])).encode()),  # client: send only
            (False, open_msg(65002, AddPath([(*EVPN, 3)])).encode()),
            (False, update),
        ],
    )
    status, out, _ = run(capsys, "decode", "--json", "--pcap", str(pcap))
    assert status == 0
    obj = json_lines(out)[-1]
    assert obj["src"] == "10.0.0.2:179" and obj["type"] == "UPDATE"
    # read without path ids, the NLRI does not parse: RFC 7606 disables the family
    assert "mp_reach" not in obj
    assert [e["action"] for e in obj["errors"]] == ["afi-safi-disable"]


def test_pcap_two_octet_session(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pcap = write_pcap(
        tmp_path / "as2.pcap",
        [
            (True, open_msg(65001).encode()),
            (False, open_msg(65002, four_octet=False).encode()),
            (True, two_octet_update()),
        ],
    )
    status, out, _ = run(capsys, "decode", "--json", "--pcap", str(pcap))
    assert status == 0
    [update] = [o for o in json_lines(out) if o["type"] == "UPDATE"]
    assert update["attributes"]["as_path"] == [{"type": "as-sequence", "asns": [65001, 65002]}]
    assert "errors" not in update


def test_pcap_extended_message_only_when_both_advertise(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    big_ctx = Context(extended_message=True)
    routes = [MacIpRoute(rd="198.18.0.2:2", mac=(0x020000000000 + i).to_bytes(6, "big"), label1=1) for i in range(200)]
    [big] = pack_updates([Origin(0), AsPath()], routes, next_hop=NH, ctx=big_ctx)
    assert len(big) > 4096
    ext = ExtendedMessage()
    for server_caps, expected in (((ext,), 0), ((), 1)):
        pcap = write_pcap(
            tmp_path / "ext.pcap",
            [(True, open_msg(65001, ext).encode()), (False, open_msg(65002, *server_caps).encode()), (True, big)],
        )
        status, out, err = run(capsys, "decode", "--stats", "--pcap", str(pcap))
        assert status == expected
        if expected:
            assert "MESSAGE_HEADER/BAD_MESSAGE_LENGTH (1/2)" in err
        else:
            assert "200 routes (type-2 200)" in out


def test_pcap_error_in_one_stream_does_not_hide_the_other(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pcap = write_pcap(
        tmp_path / "bad.pcap",
        [(True, KEEPALIVE + b"\x00" * 19), (False, KEEPALIVE + KEEPALIVE)],
    )
    status, out, err = run(capsys, "decode", "--pcap", str(pcap))
    assert status == 1
    assert out.splitlines() == [
        "10.0.0.1:50000 > 10.0.0.2:179 KEEPALIVE 19 bytes",
        "10.0.0.2:179 > 10.0.0.1:50000 KEEPALIVE 19 bytes",
        "10.0.0.2:179 > 10.0.0.1:50000 KEEPALIVE 19 bytes",
    ]
    assert err == (
        "evpn decode: 10.0.0.1:50000 > 10.0.0.2:179: message 2 at byte 19: "
        "MESSAGE_HEADER/CONNECTION_NOT_SYNCHRONIZED (1/1): marker is not all ones\n"
    )


# --- context across a hex sequence -------------------------------------------------------


def test_hex_sequence_follows_the_opens(capsys: pytest.CaptureFixture[str]) -> None:
    update = two_octet_update()
    status, out, _ = run(capsys, "decode", "--json", (open_msg(65001, four_octet=False).encode() + update).hex())
    assert status == 0
    assert json_lines(out)[1]["attributes"]["as_path"] == [{"type": "as-sequence", "asns": [65001, 65002]}]
    # without the OPEN the default (4-octet) context misreads the 2-octet AS_PATH
    status, out, _ = run(capsys, "decode", "--json", update.hex())
    assert json_lines(out)[0]["errors"][0]["name"] == "UPDATE_MESSAGE/MALFORMED_AS_PATH"


def test_negotiated_context() -> None:
    a = open_msg(1, AddPath([(*EVPN, 3), (1, 1, 2)]), ExtendedMessage())
    b = open_msg(2, AddPath([(*EVPN, 1), (1, 1, 1)]), four_octet=False)
    assert negotiated_context(None, None) == Context()
    ab = negotiated_context(a, b)
    assert ab == Context(four_octet_as=False, add_path={EVPN, (1, 1)}, extended_message=False)
    assert negotiated_context(b, a).add_path == frozenset()  # b can only receive
    assert negotiated_context(a, None) == Context(four_octet_as=True, add_path=(), extended_message=True)
    negotiation = Negotiation()
    negotiation.observe(b)
    negotiation.observe(a)
    assert negotiation.context.add_path == {EVPN, (1, 1)}
    assert negotiation.context.four_octet_as is False
    negotiation.observe(KEEPALIVE_MSG)
    assert negotiation.context.add_path == {EVPN, (1, 1)}


KEEPALIVE_MSG = Keepalive()


# --- framing and hex parsing --------------------------------------------------------------


def test_detect_framing() -> None:
    assert detect_framing(EVPN_UPDATE_BYTES) == "full"
    assert detect_framing(EVPN_UPDATE_BYTES[16:]) == "markerless"
    assert detect_framing(KEEPALIVE[16:]) == "markerless"
    assert detect_framing(EVPN_UPDATE_BYTES[19:]) == "body"
    assert detect_framing(b"\0\0\0\0") == "body"
    assert detect_framing(bytes.fromhex("deadbeef")) == "full"


def test_parse_hex() -> None:
    assert parse_hex("0xFF 0a:0B,0c\n0x0d # ignored zz") == bytes.fromhex("ff0a0b0c0d")
    with pytest.raises(ValueError, match="not a hex digit: 'g'"):
        parse_hex("ffgg")
    with pytest.raises(ValueError, match="odd number"):
        parse_hex("fff")


def test_decode_messages_yields_offsets_before_failing() -> None:
    data = KEEPALIVE + EVPN_UPDATE_BYTES + KEEPALIVE[:10]
    seen = []
    with pytest.raises(decode_module.DecodeError) as info:
        for decoded in decode_messages(data):
            seen.append((decoded.offset, decoded.length, type(decoded.message).__name__))
    assert seen == [(0, 19, "Keepalive"), (19, 137, "Update")]
    assert info.value.offset == 156 and info.value.index == 2


# --- errors ---------------------------------------------------------------------------------


def test_malformed_update_prints_earlier_messages_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    ctx = Context()
    mp = encode_attribute(MpReach(*EVPN, NH, [T3]), ctx)
    attrs = encode_attribute(Origin(0), ctx) + encode_attribute(AsPath(), ctx) + mp + mp
    body = b"\0\0" + struct.pack("!H", len(attrs)) + attrs
    bad = MARKER + struct.pack("!HB", 19 + len(body), 2) + body
    status, out, err = run(capsys, "decode", "--json", (KEEPALIVE + bad).hex())
    assert status == 1
    assert json_lines(out) == [{"type": "KEEPALIVE"}]
    assert err.startswith("evpn decode: message 2 at byte 19: UPDATE_MESSAGE/MALFORMED_ATTRIBUTE_LIST (3/1): ")
    assert "MP_REACH_NLRI appears twice" in err
    assert "[data 800e1c0019460" in err  # the offending attribute


def test_truncated_input(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "decode", (KEEPALIVE + EVPN_UPDATE_BYTES[:-5]).hex())
    assert status == 1
    assert out == "KEEPALIVE 19 bytes\n"
    assert "MESSAGE_HEADER/BAD_MESSAGE_LENGTH (1/2): UPDATE of 137 bytes truncated: the input ends after 132" in err


def test_bad_length_and_marker(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "decode", (MARKER + b"\x00\x05\x04").hex())
    assert status == 1
    assert "MESSAGE_HEADER/BAD_MESSAGE_LENGTH (1/2): KEEPALIVE length 5" in err
    status, _, err = run(capsys, "decode", "deadbeef")
    assert status == 1
    assert "MESSAGE_HEADER/CONNECTION_NOT_SYNCHRONIZED (1/1): marker is not all ones" in err


def test_markerless_error_says_how_the_input_was_read(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "decode", EVPN_UPDATE_BYTES[16:-1].hex())
    assert status == 1
    assert "message 1 at byte 0 (read as messages without marker): MESSAGE_HEADER/BAD_MESSAGE_LENGTH" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["decode"], "nothing to decode"),
        (["decode", "xyz"], "not a hex digit"),
        (["decode", "abc"], "odd number of hex digits"),
        (["decode", "# only a comment"], "no hex bytes"),
        (["decode", "--raw", "/nonexistent/file", "ff"], "not several"),
        (["decode", "-", "ff"], "cannot be combined"),
        (["decode", "--raw", "/nonexistent/file"], "No such file"),
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert message in err


def test_argparse_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "decode", "--json", "--stats", "ff")[0] == 2
    assert run(capsys, "decode", "--raw", "a", "--pcap", "b")[0] == 2
    assert run(capsys, "frobnicate")[0] == 2
    status, _, err = run(capsys)
    assert status == 2 and "decode" in err
    not_pcap = tmp_path / "x.pcap"
    not_pcap.write_bytes(b"hello world, not a capture")
    status, _, err = run(capsys, "decode", "--pcap", str(not_pcap))
    assert status == 2 and "not a pcap or pcapng file" in err


# --- stats ---------------------------------------------------------------------------------


def test_stats_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_json(*_: object) -> None:
        raise AssertionError("--stats must not build JSON")

    monkeypatch.setattr(decode_module, "message_json", no_json)
    withdraw = Update(withdrawn=[Prefix.parse("10.0.0.0/8")]).encode()
    data = (
        open_msg().encode()
        + KEEPALIVE
        + EVPN_UPDATE_BYTES
        + EVPN_UPDATE_BYTES
        + withdraw
        + RouteRefresh(*EVPN).encode()
    )
    status, out, err = run(capsys, "decode", "--stats", data.hex())
    assert (status, err) == (0, "")
    assert out.count("\n") == 1
    match = STATS_LINE.match(out)
    assert match, out
    assert match["messages"] == "6"
    assert match["by_type"] == "OPEN 1, UPDATE 3, KEEPALIVE 1, ROUTE-REFRESH 1"
    assert match["routes"] == "5"
    assert match["by_route"] == "type-2 2, type-3 2, prefix 1"
    seconds, rate = float(match["seconds"]), int(match["rate"])
    assert seconds > 0
    # seconds is printed rounded to the microsecond, the rate to the unit
    assert 5 / (seconds + 5e-7) - 1 <= rate <= 5 / max(seconds - 5e-7, 1e-9) + 1


def test_stats_reports_rfc7606_errors_and_fatal_ones(capsys: pytest.CaptureFixture[str]) -> None:
    bad_origin = Update(attributes=[Origin(0), AsPath()]).encode()
    bad_origin = bad_origin[:23] + b"\x40\x01\x01\x07" + bad_origin[27:]  # ORIGIN 7
    status, out, err = run(capsys, "decode", "--stats", (bad_origin + KEEPALIVE[:5]).hex())
    assert status == 1
    assert out.startswith("1 message (UPDATE 1), 0 routes, ")
    assert out.rstrip().endswith("routes/s, 1 UPDATE with RFC 7606 errors")
    assert "message 2 at byte 30" in err


# --- the real thing --------------------------------------------------------------------------


def test_subprocess_python_m_evpn() -> None:
    data = (KEEPALIVE + EVPN_UPDATE_BYTES).hex()
    result = subprocess.run(
        [sys.executable, "-m", "evpn", "decode", "--json", data], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    objs = json_lines(result.stdout)
    assert [o["type"] for o in objs] == ["KEEPALIVE", "UPDATE"]
    assert objs[1]["attributes"]["pmsi_tunnel"] == {
        "tunnel_type": "ingress-replication",
        "label": 100,
        "endpoint": "198.18.0.2",
    }
    bad = subprocess.run(
        [sys.executable, "-m", "evpn", "decode", "ff" * 16], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1
    assert "BAD_MESSAGE_LENGTH" in bad.stderr


@pytest.mark.corpus
def test_corpus_tcpdump_evpn_pkt_1(capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "tcpdump" / "bgp-evpn-pkt-1.pcap"
    if not path.is_file():
        pytest.skip(f"corpus file {path} not available")
    status, out, err = run(capsys, "decode", "--json", "--pcap", str(path))
    assert (status, err) == (0, "")
    objs = json_lines(out)
    assert len(objs) == 7 and all(o["type"] == "UPDATE" for o in objs)
    assert {(o["src"], o["dst"]) for o in objs} == {
        ("[fe80::1eea:bff:fe6a:39de]:179", "[fe80::a236:9fff:fe27:c97c]:44398")
    }
    first = objs[0]
    assert first["mp_reach"] == {
        "afi": "ipv4",
        "safi": "unicast",
        "next_hop": ["fe80::1eea:bff:fe6a:39de", "fe80::1eea:bff:fe6a:39de"],
        "nlri": ["172.21.64.17/32"],
    }
    assert first["attributes"] == {
        "origin": "incomplete",
        "as_path": [{"type": "as-sequence", "asns": [4200005792, 4200004867]}],
    }
    routes = [r for o in objs[1:] for r in o["mp_reach"]["nlri"]]
    assert [r["route_type"] for r in routes].count(2) == 10
    assert [r["route_type"] for r in routes].count(3) == 3
    # tcpdump's -v decode of the first EVPN UPDATE (bgp-evpn-pkt-1.out)
    assert routes[0] == {
        "route_type": 2,
        "rd": "172.21.64.17:2",
        "esi": "00:00:00:00:00:00:00:00:00:00",
        "ethernet_tag": 0,
        "mac": "02:00:00:02:13:03",
        "ip": "2a02:238:f030:1c2::10df",
        "label1": 2,
        "label2": None,
    }
    assert routes[2]["ip"] is None
    assert objs[1]["attributes"]["extended_communities"] == [
        {"type": "route-target", "value": "64771:2"},
        {"type": "encapsulation", "tunnel_type": "vxlan"},
    ]
    assert objs[2]["attributes"]["pmsi_tunnel"] == {
        "tunnel_type": "ingress-replication",
        "label": 2,
        "endpoint": "172.21.64.17",
    }
    status, out, _ = run(capsys, "decode", "--stats", "--pcap", str(path))
    assert status == 0
    assert out.startswith("7 messages (UPDATE 7), 14 routes (type-2 10, type-3 3, prefix 1), ")
