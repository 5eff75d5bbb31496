"""Loaders for the shared BGP/EVPN test corpus (``../shared/corpus``, see its README.txt).

Every accessor skips the calling test when the corpus is not there, so the suite runs
(with those tests skipped) on a machine without it.  Nothing here asserts anything about
the codec: these helpers only find files, split captures into BGP messages, pick the
:class:`~evpn.wire.Context` a stream was sent with, and read the other projects'
expected-output formats (hex vector files, tcpdump ``-v`` text, BMP streams).

Context inference (:func:`infer_context`): when both directions of a TCP connection
show an OPEN, the context is what the two OPENs negotiated -- 4-octet AS only if both
carry the capability (RFC 6793 §4), ADD-PATH for the families the sender may send and
the receiver may receive (RFC 7911 §4), extended messages if both advertise them
(RFC 8654 §3).  Without both OPENs the stream is decoded with 4-octet AS numbers first
and, if that yields UPDATE errors or exceptions, again with 2-octet ones; the reading with
fewer problems wins (4-octet on a tie).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import dpkt  # type: ignore[import-untyped]
import pytest

from evpn.cli import capture
from evpn.errors import BGPError
from evpn.wire import (
    AddPath,
    Context,
    ExtendedMessage,
    FourOctetAS,
    Message,
    MessageReader,
    Open,
    Update,
    decode_message,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
MARKER = b"\xff" * 16


# --- finding files -------------------------------------------------------------------


def corpus_available() -> bool:
    """Whether the shared corpus is present."""
    return (CORPUS / "README.txt").is_file()


def corpus_path(*parts: str) -> Path:
    """The corpus file ``parts``; skips the calling test when it is absent."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus file {path} not available")
    return path


def corpus_params(subdir: str, pattern: str, exclude: Iterable[str] = ()) -> list[Any]:
    """Names of corpus files in ``subdir`` matching ``pattern``, for ``pytest.mark.parametrize``.

    Without the corpus this is one parameter that skips, so the test shows up as skipped
    rather than silently vanishing.
    """
    skip = set(exclude)
    names = sorted(p.name for p in (CORPUS / subdir).glob(pattern) if p.name not in skip)
    if not names:
        return [pytest.param("<corpus absent>", marks=pytest.mark.skip(reason=f"no corpus files {subdir}/{pattern}"))]
    return names


def frame(msg_type: int, body: bytes) -> bytes:
    """A BGP message: marker, length, type, ``body`` (RFC 4271 §4.1)."""
    return MARKER + struct.pack("!HB", 19 + len(body), msg_type) + body


# --- hex vector files (vectors/*.txt) -----------------------------------------------


@dataclass(frozen=True)
class Vector:
    """One line of a ``vectors/*.txt`` file: ``<hex> # [<source>] <meaning>``."""

    data: bytes
    source: str
    meaning: str
    line: int

    @property
    def id(self) -> str:
        """A short test id: line number and the start of the meaning."""
        words = re.sub(r"[^A-Za-z0-9_.:/-]+", "-", self.meaning)[:48].strip("-")
        return f"L{self.line}-{words}"


_VECTOR = re.compile(r"^(?P<hex>[0-9a-fA-F]+)\s+#\s+\[(?P<source>[^\]]*)\]\s*(?P<meaning>.*)$")


def load_vectors(name: str) -> list[Vector]:
    """Every vector of ``vectors/<name>`` (skips when the corpus is absent)."""
    path = corpus_path("vectors", name)
    out = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _VECTOR.match(line)
        if match is None:
            raise ValueError(f"{path}:{number}: not a vector line: {line[:60]!r}")
        out.append(Vector(bytes.fromhex(match["hex"]), match["source"], match["meaning"], number))
    return out


def vector_params(name: str) -> list[Any]:
    """``load_vectors`` as parametrize values with readable ids (one skipping param without corpus)."""
    if not corpus_available():
        return [pytest.param(None, marks=pytest.mark.skip(reason="corpus absent"))]
    return [pytest.param(v, id=v.id) for v in load_vectors(name)]


# --- ExaBGP qa/decoding files ---------------------------------------------------------


@dataclass(frozen=True)
class ExabgpCase:
    """An ExaBGP ``qa/decoding`` file: line 1 kind, line 2 hex, line 3 (optional) JSON."""

    name: str
    kind: str
    data: bytes
    expected_json: str | None


def load_exabgp(name: str) -> ExabgpCase:
    """Read an ExaBGP decoding case; the hex may contain ':' and blanks as separators."""
    lines = corpus_path("exabgp-qa-decoding", name).read_text().splitlines()
    data = bytes.fromhex(re.sub(r"[\s:]", "", lines[1]))
    return ExabgpCase(name, lines[0].strip(), data, lines[2] if len(lines) > 2 else None)


# --- captures -------------------------------------------------------------------------


@dataclass
class Flow:
    """One direction of one TCP connection, split into messages.

    ``data`` is the reassembled stream; ``messages`` are whole messages (header included); ``trailing`` the bytes after the
    last whole one (a capture that stops mid-message); ``framing_error`` what
    :class:`MessageReader` raised, if it stopped on a bad header.
    """

    src: str
    dst: str
    data: bytes
    messages: list[bytes]
    trailing: bytes = b""
    framing_error: BGPError | None = None
    ctx: Context = field(default_factory=Context)
    ctx_reason: str = ""


def split_messages(data: bytes, max_size: int = 65535) -> tuple[list[bytes], bytes, BGPError | None]:
    """Split a byte stream with :class:`MessageReader`: (messages, trailing bytes, header error)."""
    reader = MessageReader(max_size)
    reader.feed(data)
    messages: list[bytes] = []
    try:
        messages.extend(reader)
    except BGPError as exc:
        consumed = sum(map(len, messages))
        return messages, data[consumed:], exc
    return messages, data[len(data) - reader.pending :], None


def first_open(messages: list[bytes]) -> Open | None:
    """The first OPEN among ``messages`` (decoded with the default context), if any."""
    for raw in messages:
        if raw[18] == 1:
            try:
                msg = decode_message(raw)
            except BGPError:
                return None
            return msg if isinstance(msg, Open) else None
    return None


def negotiated(sender: Open, receiver: Open) -> Context:
    """What the OPENs of the two sides negotiate for messages from ``sender``."""
    sent, received = sender.capabilities, receiver.capabilities
    four = any(isinstance(c, FourOctetAS) for c in sent) and any(isinstance(c, FourOctetAS) for c in received)
    extended = any(isinstance(c, ExtendedMessage) for c in sent) and any(
        isinstance(c, ExtendedMessage) for c in received
    )
    can_send = {(a, s) for c in sent if isinstance(c, AddPath) for a, s, mode in c.families if mode & 2}
    can_receive = {(a, s) for c in received if isinstance(c, AddPath) for a, s, mode in c.families if mode & 1}
    return Context(four_octet_as=four, add_path=can_send & can_receive, extended_message=extended)


def _problems(messages: list[bytes], ctx: Context) -> int:
    count = 0
    for raw in messages:
        try:
            msg = decode_message(raw, ctx)
        except BGPError:
            count += 1
            continue
        if isinstance(msg, Update) and msg.errors:
            count += 1
    return count


def infer_context(messages: list[bytes], reverse: list[bytes]) -> tuple[Context, str]:
    """The context ``messages`` were sent with, and how it was found (see the module doc)."""
    mine, theirs = first_open(messages), first_open(reverse)
    if mine is not None and theirs is not None:
        return negotiated(mine, theirs), "negotiated"
    extended = any(len(m) > 4096 for m in messages)
    four = Context(four_octet_as=True, extended_message=extended)
    two = Context(four_octet_as=False, extended_message=extended)
    problems4 = _problems(messages, four)
    if problems4 and _problems(messages, two) < problems4:
        return two, "guessed 2-octet"
    return four, "guessed 4-octet"


def capture_flows(path: Path, port: int = 179) -> list[Flow]:
    """Every TCP flow direction on ``port`` of a pcap/pcapng, split into BGP messages.

    Reassembly is :func:`evpn.cli.capture.read_streams`; ``port`` other than 179 (BMP
    uses 1790) patches its module constant for the call.
    """
    if port == capture._BGP_PORT:
        streams = capture.read_streams(path)
    else:
        with mock.patch.object(capture, "_BGP_PORT", port):
            streams = capture.read_streams(path)
    flows = [Flow(s.src, s.dst, s.data, *split_messages(s.data)) for s in streams]
    by_direction = {(f.src, f.dst): f for f in flows}
    for flow in flows:
        reverse = by_direction.get((flow.dst, flow.src))
        flow.ctx, flow.ctx_reason = infer_context(flow.messages, reverse.messages if reverse else [])
    return flows


def tcp_payloads(path: Path) -> list[tuple[str, bytes]]:
    """The TCP payload of every packet, in capture order, as ``("src>dst", payload)``.

    Unlike :func:`capture_flows` nothing is reassembled and IP fragment bits are ignored,
    so crafted captures (tcpdump's ``*-oobr`` regression inputs, whose IP headers claim
    "more fragments") still yield their BGP bytes.  Ethernet, Linux SLL and raw IP only.
    """
    out = []
    with path.open("rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        reader = dpkt.pcapng.Reader(fh) if head == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(fh)
        linktype = reader.datalink()
        try:
            records = list(reader)
        except (dpkt.Error, ValueError, struct.error):
            records = []
    for _, frame in records:
        packet = _strip_link(linktype, bytes(frame))
        segment = _ip_payload(packet) if packet else None
        if segment is None or len(segment[2]) < 20:
            continue
        src, dst, tcp = segment
        offset = (tcp[12] >> 4) * 4
        sport, dport = struct.unpack_from("!HH", tcp)
        if offset >= 20:
            out.append((f"{src}:{sport}>{dst}:{dport}", tcp[offset:]))
    return out


def _strip_link(linktype: int, frame: bytes) -> bytes | None:
    if linktype == 1:
        offset = 12
        while frame[offset : offset + 2] in (b"\x81\x00", b"\x88\xa8"):
            offset += 4
        return frame[offset + 2 :]
    if linktype == 113:
        return frame[16:]
    if linktype in (12, 14, 101):
        return frame
    return None


def _ip_payload(packet: bytes) -> tuple[str, str, bytes] | None:
    if len(packet) >= 20 and packet[0] >> 4 == 4 and packet[9] == 6:
        total = struct.unpack_from("!H", packet, 2)[0] or len(packet)
        return packet[12:16].hex(), packet[16:20].hex(), packet[(packet[0] & 15) * 4 : total]
    if len(packet) >= 40 and packet[0] >> 4 == 6 and packet[6] == 6:
        return packet[8:24].hex(), packet[24:40].hex(), packet[40 : 40 + struct.unpack_from("!H", packet, 4)[0]]
    return None


# --- decoding helpers -------------------------------------------------------------------


@dataclass
class Decoded:
    """A message's bytes and what :func:`decode_message` made of them."""

    raw: bytes
    message: Message | None
    error: BGPError | None


def decode_all(messages: list[bytes], ctx: Context) -> list[Decoded]:
    """Decode each message, keeping a raised :class:`BGPError` instead of a message."""
    out = []
    for raw in messages:
        try:
            out.append(Decoded(raw, decode_message(raw, ctx), None))
        except BGPError as exc:
            out.append(Decoded(raw, None, exc))
    return out


# --- BMP (RFC 7854) -------------------------------------------------------------------------

BMP_ROUTE_MONITORING, BMP_STATS, BMP_PEER_DOWN, BMP_PEER_UP = 0, 1, 2, 3
_PEER_HEADER = 42


@dataclass
class BmpPdu:
    """A BGP message carried in a BMP message, with the context its peer header implies."""

    bmp_type: int
    raw: bytes
    ctx: Context


def bmp_messages(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Split a BMP v3 stream into (message type, message bytes) (RFC 7854 §4.1)."""
    pos = 0
    while pos + 6 <= len(data):
        version, length, bmp_type = struct.unpack_from("!BIB", data, pos)
        if version != 3 or length < 6 or pos + length > len(data):
            raise ValueError(f"BMP stream broken at offset {pos}")
        yield bmp_type, data[pos : pos + length]
        pos += length


def bmp_bgp_pdus(data: bytes) -> tuple[list[int], list[BmpPdu]]:
    """All BMP message types seen, and the BGP PDUs inside them.

    Route Monitoring carries one UPDATE (RFC 7854 §4.6), Peer Up the sent and received
    OPENs (§4.10), Peer Down with reason 1 or 3 a NOTIFICATION (§4.9).  The per-peer
    header's A flag (§4.2) says whether AS_PATH uses 2-octet ASNs.
    """
    kinds, pdus = [], []
    for bmp_type, msg in bmp_messages(data):
        kinds.append(bmp_type)
        if bmp_type not in (BMP_ROUTE_MONITORING, BMP_PEER_DOWN, BMP_PEER_UP):
            continue
        peer_flags = msg[7]
        ctx = Context(four_octet_as=not peer_flags & 0x20, extended_message=True)
        body = msg[6 + _PEER_HEADER :]
        if bmp_type == BMP_ROUTE_MONITORING:
            pdus.append(BmpPdu(bmp_type, body, ctx))
        elif bmp_type == BMP_PEER_DOWN:
            if body[0] in (1, 3):
                pdus.append(BmpPdu(bmp_type, body[1:], ctx))
        else:
            rest = body[20:]  # local address (16), local port, remote port
            for _ in range(2):
                length = struct.unpack_from("!H", rest, 16)[0]
                pdus.append(BmpPdu(bmp_type, rest[:length], ctx))
                rest = rest[length:]
    return kinds, pdus


# --- tcpdump -v text (tcpdump tests/*.out, PR #1233 EVPN printer) ---------------------------


@dataclass
class OutAttribute:
    """One path attribute as tcpdump prints it: name, type code, length, flags, text."""

    name: str
    code: int
    length: int
    flags: str
    inline: str
    lines: list[str] = field(default_factory=list)


@dataclass
class OutMessage:
    """One BGP message in a tcpdump ``-v`` decode."""

    kind: str
    length: int
    lines: list[str] = field(default_factory=list)
    attributes: list[OutAttribute] = field(default_factory=list)


_OUT_MESSAGE = re.compile(r"^\s*(\w[\w-]*) Message \((\d+)\), length: (\d+)")
_OUT_ATTRIBUTE = re.compile(r"^\s*(.+?) \((\d+)\), length: (\d+), Flags \[(\w*)\]: ?(.*?)\s*$")


def parse_tcpdump_out(path: Path) -> list[OutMessage]:
    """The BGP messages of a tcpdump ``-v`` decode, each with its attribute blocks.

    Only structure is parsed here (which line belongs to which message/attribute); the
    tests interpret the lines.  Packet header lines (those starting with a number or an
    address) end the current message block.
    """
    messages: list[OutMessage] = []
    current: OutMessage | None = None
    for line in path.read_text().splitlines():
        if not line.startswith("\t"):
            current = None
            continue
        match = _OUT_MESSAGE.match(line)
        if match:
            current = OutMessage(match[1], int(match[3]))
            messages.append(current)
            continue
        if current is None:
            continue
        match = _OUT_ATTRIBUTE.match(line) if current.kind == "Update" else None
        if match:
            current.attributes.append(OutAttribute(match[1], int(match[2]), int(match[3]), match[4], match[5]))
        elif current.attributes:
            current.attributes[-1].lines.append(line.strip())
        else:
            current.lines.append(line.strip())
    return messages


FLAG_LETTERS = {"O": 0x80, "T": 0x40, "P": 0x20, "E": 0x10}


def tcpdump_flags(letters: str) -> int:
    """tcpdump's ``Flags [OTPE]`` as the attribute flags byte."""
    return sum(FLAG_LETTERS[c] for c in letters)


def key_values(lines: Iterable[str]) -> list[dict[str, str]]:
    """Group ``Key: value`` lines into records, a new one at each ``EVPN Route-Type`` line."""
    records: list[dict[str, str]] = []
    for line in lines:
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        if key == "EVPN Route-Type":
            records.append({})
        if records:
            records[-1][key] = value.strip()
    return records


# --- the golden set: every capture and vector message that is not a malformed input -----------

MALFORMED_TCPDUMP = (
    # tcpdump's out-of-bounds-read / fuzz regression inputs (README "MALFORMED / FUZZ")
    "bgp_pmsi_tunnel-oobr.pcap",
    "bgp_mp_reach_nlri-oobr.pcap",
    "bgp_vpn_rt-oobr.pcap",
    "bgp_mvpn_6_and_7_oobr.pcap",
    "bgp-as-path-oobr.pcap",
    "bgp-aigp-oobr.pcap",
    "bgp-ub.pcap",
    "bgp-infinite-loop.pcap",
    "bgp-bgp_capabilities_print-oobr-1.pcap",
    "bgp-bgp_capabilities_print-oobr-2.pcap",
    "bgp-malformed-hard-reset.pcap",
    "bgpsec_invalid_signature_block_length.pcap",
)

# Contexts the OPENs in a capture cannot tell us (the capture starts after the OPENs).
CONTEXT_OVERRIDES = {
    # tcpdump prints "Path Id" on every prefix: the session negotiated ADD-PATH for IPv4 and
    # IPv6 unicast; its AS_PATH "100 200" is 6 bytes, i.e. 2-octet ASNs.
    "tcpdump/bgp-addpath.pcap": Context(four_octet_as=False, add_path={(1, 1), (2, 1)}),
}


def golden_capture_names() -> list[Any]:
    """``subdir/file`` of every golden capture (parametrize values; one skipping param without corpus)."""
    if not corpus_available():
        return [pytest.param("<corpus absent>", marks=pytest.mark.skip(reason="corpus absent"))]
    names = [f"tcpdump/{n}" for n in corpus_params("tcpdump", "*.pcap*", exclude=MALFORMED_TCPDUMP)]
    names += [f"ryu/{n}" for n in corpus_params("ryu", "*.pcap")]
    names += [f"netgauze/{n}" for n in corpus_params("netgauze", "*.pcap")]
    return names


def golden_flows(name: str) -> list[Flow]:
    """The flows of golden capture ``subdir/file`` with their (possibly overridden) contexts."""
    subdir, file = name.split("/")
    port = 1790 if file.startswith("bmp__") else 179
    flows = capture_flows(corpus_path(subdir, file), port=port)
    if name in CONTEXT_OVERRIDES:
        for flow in flows:
            flow.ctx = CONTEXT_OVERRIDES[name]
    return flows


def golden_messages(name: str) -> list[tuple[bytes, Context]]:
    """(message bytes, context) of every BGP message of a golden capture (BMP: the PDUs inside)."""
    if name.endswith("bmp__evpn__evpn.pcap"):
        return [(p.raw, p.ctx) for f in golden_flows(name) for p in bmp_bgp_pdus(f.data)[1]]
    out = []
    for flow in golden_flows(name):
        if flow.framing_error is not None:
            raise AssertionError(f"{name} {flow.src}>{flow.dst}: {flow.framing_error!r}")
        out.extend((raw, flow.ctx) for raw in flow.messages)
    return out


def exabgp_message(name: str) -> bytes:
    """The BGP message of an ExaBGP decoding case (UPDATE bodies get their header)."""
    case = load_exabgp(name)
    if case.data.startswith(MARKER):
        return case.data
    return frame(2, case.data)


def exabgp_names() -> list[Any]:
    """Every ExaBGP decoding case (parametrize values)."""
    return corpus_params("exabgp-qa-decoding", "*")


def golden_vector_messages() -> list[bytes]:
    """Every whole message among the vectors and the ExaBGP cases (bare NLRI cases left out)."""
    out = [v.data for v in load_vectors("evpn_update_and_attr_vectors.txt") if v.meaning.startswith("FULL UPDATE")]
    for vector in load_vectors("bgp_messages_scapy.txt"):
        out.extend(split_messages(vector.data)[0])
    for name in exabgp_names():
        if not load_exabgp(name).kind.startswith("nlri"):
            out.append(exabgp_message(name))
    return out


def all_golden_messages() -> dict[bytes, Context]:
    """Every distinct golden message (captures, BMP PDUs, vectors, ExaBGP) with a context.

    Vector/ExaBGP messages carry no OPEN; they get 4-octet ASNs unless that gives errors.
    """
    corpus_path("README.txt")
    out: dict[bytes, Context] = {}
    for name in golden_capture_names():
        for raw, ctx in golden_messages(name):
            out.setdefault(raw, ctx)
    for raw in golden_vector_messages():
        out.setdefault(raw, infer_context([raw], [])[0])
    return out
