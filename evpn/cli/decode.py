"""``evpn decode``: decode BGP messages from hex, a raw binary file or a pcap/pcapng capture.

Input forms:

* hex (arguments, or ``-`` for stdin): whitespace, colons, commas, ``0x`` prefixes and
  ``#`` comments are ignored.  The bytes are read as one of (first match wins):

  1. whole messages, if they start with the 16-byte all-ones marker;
  2. messages without their marker (starting at the length field, which still counts
     the 19-byte header), if the first three bytes read as a length (19 or more) and a
     message type (1 to 5);
  3. one bare UPDATE body (withdrawn routes length onwards), if its two length fields fit;
  4. otherwise whole messages again, so that the error reports the missing marker.

  Several messages may follow each other (all with or all without the marker).
* ``--raw FILE``: whole messages back to back, as on the TCP connection.
* ``--pcap FILE``: every direction of every TCP connection on port 179, reassembled.

Each message is decoded with the :class:`~evpn.wire.Context` its session negotiated:
for a capture, from the OPENs of both directions of the TCP connection; for hex/raw
input, from the last two OPENs seen so far.  Without OPENs the default applies
(4-octet AS, no ADD-PATH, 4096-byte messages).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TextIO

from evpn.cli.capture import Stream, read_streams
from evpn.errors import BGPError
from evpn.wire._common import U16
from evpn.wire.capabilities import AddPath, ExtendedMessage, FourOctetAS
from evpn.wire.codes import ErrorCode, MessageHeaderSubcode, MessageType
from evpn.wire.context import Context
from evpn.wire.jsonform import JsonObject, error_name, message_json
from evpn.wire.messages import (
    HEADER_SIZE,
    MARKER,
    Keepalive,
    Message,
    Notification,
    Open,
    RouteRefresh,
    Update,
    check_header,
    decode_message,
)
from evpn.wire.prefixes import Prefix
from evpn.wire.routes import (
    EthernetADRoute,
    EthernetSegmentRoute,
    InclusiveMulticastRoute,
    IPPrefixRoute,
    MacIpRoute,
    UnknownRoute,
)

__all__ = [
    "DecodeError",
    "Decoded",
    "Negotiation",
    "Stats",
    "add_parser",
    "decode_messages",
    "detect_framing",
    "message_text",
    "negotiated_context",
    "parse_hex",
    "route_text",
    "run",
    "stream_contexts",
]

FULL, MARKERLESS, BODY = "full", "markerless", "body"


# --- input ---------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s:,]+")
_COMMENT = re.compile(r"#[^\n]*")


def parse_hex(text: str) -> bytes:
    """Turn hex text into bytes, ignoring whitespace, colons, commas, ``0x`` prefixes and
    ``#`` comments; raise :class:`ValueError` naming the problem."""
    tokens = _SEPARATORS.split(_COMMENT.sub(" ", text))
    digits = "".join(t[2:] if t[:2] in ("0x", "0X") else t for t in tokens)
    bad = re.search(r"[^0-9a-fA-F]", digits)
    if bad:
        raise ValueError(f"not a hex digit: {bad.group()!r} in {digits[max(bad.start() - 8, 0) : bad.start() + 8]!r}")
    if len(digits) % 2:
        raise ValueError(f"odd number of hex digits ({len(digits)})")
    return bytes.fromhex(digits)


def detect_framing(data: bytes) -> str:
    """How hex input is framed: ``"full"`` (with marker), ``"markerless"`` or ``"body"``
    (a bare UPDATE body); see the module documentation for the rules."""
    if data[:16] == MARKER:
        return FULL
    if len(data) >= 3 and U16.unpack_from(data)[0] >= HEADER_SIZE and 1 <= data[2] <= 5:
        return MARKERLESS
    if len(data) >= 4:
        withdrawn = U16.unpack_from(data)[0]
        if 4 + withdrawn <= len(data) and 4 + withdrawn + U16.unpack_from(data, 2 + withdrawn)[0] <= len(data):
            return BODY
    return FULL


# --- negotiation ---------------------------------------------------------------------


def _has(message: Open, cls: type) -> bool:
    return any(isinstance(c, cls) for c in message.capabilities)


def _add_path_modes(message: Open, bit: int) -> set[tuple[int, int]]:
    return {
        (afi, safi)
        for c in message.capabilities
        if isinstance(c, AddPath)
        for afi, safi, mode in c.families
        if mode & bit
    }


def negotiated_context(sender: Open | None, receiver: Open | None) -> Context:
    """The context for messages from ``sender`` to ``receiver`` (either may be unknown).

    4-octet AS (RFC 6793 §4) and extended messages (RFC 8654 §3) need every known OPEN to
    advertise them; a family carries path identifiers (RFC 7911 §4) when the sender can
    send and the receiver can receive them, which needs both OPENs.  With no OPEN at all
    the default :class:`Context` applies.
    """
    known = [o for o in (sender, receiver) if o is not None]
    if not known:
        return Context()
    add_path: set[tuple[int, int]] = set()
    if sender is not None and receiver is not None:
        add_path = _add_path_modes(sender, 2) & _add_path_modes(receiver, 1)
    return Context(
        four_octet_as=all(_has(o, FourOctetAS) for o in known),
        add_path=frozenset(add_path),
        extended_message=all(_has(o, ExtendedMessage) for o in known),
    )


class Negotiation:
    """The context to decode the next message with.

    ``fixed`` pins it (a capture, where both OPENs are known up front); otherwise it
    follows the last two OPENs seen in the message sequence, whose direction is
    unknown, so path identifiers are expected for a family either side can send.
    """

    def __init__(self, fixed: Context | None = None) -> None:
        self.context = fixed or Context()
        self._fixed = fixed is not None
        self._opens: list[Open] = []

    def observe(self, message: Message) -> None:
        """Take note of a decoded message (only OPENs matter)."""
        if self._fixed or not isinstance(message, Open):
            return
        self._opens = [*self._opens[-1:], message]
        if len(self._opens) == 1:
            self.context = negotiated_context(message, None)
            return
        a, b = self._opens
        forward, backward = negotiated_context(a, b), negotiated_context(b, a)
        self.context = Context(forward.four_octet_as, forward.add_path | backward.add_path, forward.extended_message)


# --- decoding ------------------------------------------------------------------------


class Decoded(NamedTuple):
    """One decoded message: where it started in the input, its length and the message."""

    offset: int
    length: int
    message: Message


class DecodeError(Exception):
    """A message could not be decoded: ``error`` at byte ``offset`` of message ``index`` (0-based)."""

    def __init__(self, offset: int, index: int, error: BGPError) -> None:
        super().__init__(f"message {index + 1} at byte {offset}: {error}")
        self.offset = offset
        self.index = index
        self.error = error


def _truncated(length: int, have: int, msg_type: int | None) -> BGPError:
    """The error for input that ends inside a message (``length`` 0: inside its header)."""
    if not length:
        field = f"input ends {have} bytes into a message header (truncated)"
    else:
        names = {int(t): t.name for t in MessageType}
        field = f"{names.get(msg_type or 0, 'message')} of {length} bytes truncated: the input ends after {have}"
    return BGPError(
        ErrorCode.MESSAGE_HEADER,
        MessageHeaderSubcode.BAD_MESSAGE_LENGTH,
        field,
        U16.pack(length) if length else b"",
    )


def decode_messages(data: bytes, negotiation: Negotiation | None = None, framing: str = FULL) -> Iterator[Decoded]:
    """Decode the messages in ``data`` one by one, with the context ``negotiation`` tracks.

    ``framing`` is ``"full"``, ``"markerless"`` or ``"body"`` (see :func:`detect_framing`).
    Raises :class:`DecodeError` at the first message that cannot be decoded, after
    yielding the ones before it.
    """
    negotiation = negotiation or Negotiation()
    if framing == BODY:
        ctx = negotiation.context
        raw = MARKER + U16.pack(HEADER_SIZE + len(data)) + bytes((MessageType.UPDATE,)) + data
        if len(raw) > ctx.max_message_size:  # a bare body has no session: allow any size
            ctx = Context(ctx.four_octet_as, ctx.add_path, extended_message=True)
        try:
            message = decode_message(raw, ctx)
        except BGPError as exc:
            raise DecodeError(0, 0, exc) from None
        yield Decoded(0, len(raw), message)
        return
    markerless = framing == MARKERLESS
    skip = 16 if markerless else 0  # bytes of each message not present in the input
    pos, end, index = 0, len(data), 0
    while pos < end:
        ctx = negotiation.context
        try:
            head = MARKER + data[pos : pos + 3] if markerless else data[pos : pos + HEADER_SIZE]
            if len(head) < HEADER_SIZE:
                if head[:16] != MARKER[: len(head)]:
                    check_header(head[:16].ljust(HEADER_SIZE, b"\0"), ctx.max_message_size)  # reports the marker
                raise _truncated(0, end - pos, None)
            length, msg_type = check_header(head, ctx.max_message_size)
            size = length - skip
            if pos + size > end:
                raise _truncated(length, end - pos + skip, msg_type)
            raw = MARKER + data[pos : pos + size] if markerless else data[pos : pos + size]
            message = decode_message(raw, ctx)
        except BGPError as exc:
            raise DecodeError(pos, index, exc) from None
        yield Decoded(pos, length, message)
        negotiation.observe(message)
        pos += size
        index += 1


def _first_open(data: bytes) -> Open | None:
    """The OPEN that starts ``data``, if it does and decodes."""
    if len(data) < HEADER_SIZE or data[18] != MessageType.OPEN:
        return None
    try:
        message = decode_message(data[: U16.unpack_from(data, 16)[0]])
    except BGPError:
        return None
    return message if isinstance(message, Open) else None


def stream_contexts(streams: Sequence[Stream]) -> list[Context]:
    """The context of each stream, from its own first OPEN and that of the reverse direction
    of the same TCP connection (the n-th stream from A to B pairs with the n-th from B to A)."""
    seen: Counter[tuple[str, str]] = Counter()
    occurrence = []
    for stream in streams:
        occurrence.append(seen[(stream.src, stream.dst)])
        seen[(stream.src, stream.dst)] += 1
    opens = {(s.src, s.dst, n): _first_open(s.data) for s, n in zip(streams, occurrence, strict=True)}
    return [
        negotiated_context(opens[(s.src, s.dst, n)], opens.get((s.dst, s.src, n)))
        for s, n in zip(streams, occurrence, strict=True)
    ]


# --- statistics ----------------------------------------------------------------------

_MESSAGE_NAMES: dict[type, str] = {
    Open: "OPEN",
    Update: "UPDATE",
    Notification: "NOTIFICATION",
    Keepalive: "KEEPALIVE",
    RouteRefresh: "ROUTE-REFRESH",
}
_ROUTE_LABELS: dict[type, str] = {
    EthernetADRoute: "type-1",
    MacIpRoute: "type-2",
    InclusiveMulticastRoute: "type-3",
    EthernetSegmentRoute: "type-4",
    IPPrefixRoute: "type-5",
    UnknownRoute: "type-other",
    Prefix: "prefix",
}
_MESSAGE_ORDER = ("OPEN", "UPDATE", "NOTIFICATION", "KEEPALIVE", "ROUTE-REFRESH")


class Stats:
    """Counts of decoded messages (by type) and routes (by EVPN route type, or ``prefix``)."""

    def __init__(self) -> None:
        self.messages: Counter[str] = Counter()
        self._routes: Counter[type] = Counter()
        self.updates_with_errors = 0
        self.seconds = 0.0

    def add(self, message: Message) -> None:
        """Count one message and every route it carries (announced or withdrawn)."""
        if type(message) is Update:
            self.messages["UPDATE"] += 1
            routes = self._routes
            if message.withdrawn:
                routes.update(map(type, message.withdrawn))
            if message.nlri:
                routes.update(map(type, message.nlri))
            for attr in message.attributes:
                nlri = getattr(attr, "nlri", None)  # MP_REACH_NLRI / MP_UNREACH_NLRI
                if nlri:
                    routes.update(map(type, nlri))
            if message.errors:
                self.updates_with_errors += 1
        else:
            self.messages[_MESSAGE_NAMES[type(message)]] += 1

    @property
    def routes(self) -> Counter[str]:
        """Routes by label: ``type-1`` ... ``type-5``, ``type-other``, ``prefix``."""
        out: Counter[str] = Counter()
        for cls, count in self._routes.items():
            label = _ROUTE_LABELS.get(cls)
            if label is not None:
                out[label] += count
        return out

    def line(self) -> str:
        """The summary line printed by ``--stats``."""
        total_messages = sum(self.messages.values())
        routes = self.routes
        total_routes = sum(routes.values())
        parts = [_counted(total_messages, "message", [(n, self.messages[n]) for n in _MESSAGE_ORDER])]
        labels = ("type-1", "type-2", "type-3", "type-4", "type-5", "type-other", "prefix")
        parts.append(_counted(total_routes, "route", [(n, routes[n]) for n in labels]))
        parts.append(f"{self.seconds:.6f} s")
        rate = total_routes / self.seconds if self.seconds > 0 else 0.0
        parts.append(f"{rate:.0f} routes/s")
        if self.updates_with_errors:
            parts.append(_counted(self.updates_with_errors, "UPDATE", []) + " with RFC 7606 errors")
        return ", ".join(parts)


def _counted(total: int, noun: str, breakdown: Iterable[tuple[str, int]]) -> str:
    text = f"{total} {noun}{'' if total == 1 else 's'}"
    detail = ", ".join(f"{name} {count}" for name, count in breakdown if count)
    return f"{text} ({detail})" if detail else text


# --- text form -----------------------------------------------------------------------


def _family(obj: JsonObject) -> str:
    return f"{obj['afi']}/{obj['safi']}"


def _ip_len(address: str) -> int:
    return 128 if ":" in address else 32


def route_text(route: JsonObject | str) -> str:
    """One route from its JSON form, in FRR's bracketed prefix style for EVPN routes."""
    if isinstance(route, str):
        return route
    if "prefix" in route and "route_type" not in route:
        return f"{route['prefix']} path-id {route['path_id']}"
    if "route_type" not in route:
        return f"raw {route['raw']}"
    kind = route["route_type"]
    rd = route.get("rd")
    if kind == 1:
        text = f"[1][{rd}][{route['esi']}][{route['ethernet_tag']}] label {route['label']}"
    elif kind == 2:
        text = f"[2][{rd}][{route['ethernet_tag']}][48][{route['mac']}]"
        if route["ip"] is not None:
            text += f"[{_ip_len(route['ip'])}][{route['ip']}]"
        text += f" label1 {route['label1']}"
        if route["label2"] is not None:
            text += f" label2 {route['label2']}"
        text += f" esi {route['esi']}"
    elif kind == 3:
        ip = route["originator_ip"]
        text = f"[3][{rd}][{route['ethernet_tag']}][{_ip_len(ip)}][{ip}]"
    elif kind == 4:
        ip = route["originator_ip"]
        text = f"[4][{rd}][{route['esi']}][{_ip_len(ip)}][{ip}]"
    elif kind == 5:
        address, length = route["prefix"].split("/")
        text = f"[5][{rd}][{route['ethernet_tag']}][{length}][{address}] gateway {route['gateway']} label {route['label']} esi {route['esi']}"
    else:
        text = f"[{kind}] raw {route['raw']}"
    if "path_id" in route:
        text += f" path-id {route['path_id']}"
    return text


def _as_path_text(segments: list[JsonObject]) -> str:
    if not segments:
        return "(empty)"
    out = []
    for seg in segments:
        asns = [str(a) for a in seg["asns"]]
        if seg["type"] == "as-sequence":
            out.append(" ".join(asns))
        elif seg["type"] == "as-set":
            out.append("{" + ",".join(asns) + "}")
        elif seg["type"] == "as-confed-sequence":
            out.append("(" + " ".join(asns) + ")")
        else:
            out.append("[" + ",".join(asns) + "]")
    return " ".join(out)


def _ext_community_text(c: JsonObject) -> str:
    kind = c["type"]
    if kind == "route-target":
        return f"RT:{c['value']}"
    if kind == "encapsulation":
        return f"ENCAP:{c['tunnel_type']}"
    if kind == "mac-mobility":
        return f"MM:{c['sequence']}" + (",sticky" if c["sticky"] else "")
    if kind == "router-mac":
        return f"RMAC:{c['mac']}"
    if kind == "default-gateway":
        return "DEFAULT-GW"
    if kind == "esi-label":
        return f"ESI-LABEL:{c['label']}" + (",single-active" if c["single_active"] else "")
    if kind == "es-import-route-target":
        return f"ES-IMPORT-RT:{c['mac']}"
    if kind == "arp-nd":
        flags = [f for f, key in (("R", "router"), ("O", "override"), ("I", "immutable")) if c[key]]
        if c["other_flags"]:
            flags.append(f"0x{c['other_flags']:02x}")
        return "ARP-ND:" + (",".join(flags) or "-")
    return f"0x{c['raw']}"


def _value_text(key: str, value: Any) -> str:
    if key in ("as_path", "as4_path"):
        return _as_path_text(value)
    if key == "extended_communities":
        return " ".join(_ext_community_text(c) for c in value)
    if key in ("aggregator", "as4_aggregator"):
        return f"{value['asn']} {value['address']}"
    if key == "pmsi_tunnel":
        return " ".join(str(v) if k == "tunnel_type" else f"{k.replace('_', '-')} {v}" for k, v in value.items())
    if key.startswith("attribute_"):
        return f"flags 0x{value['flags']:02x} value {value['value']}"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def _capability_text(cap: JsonObject) -> str:
    kind = cap["type"]
    if kind == "multiprotocol":
        return f"multiprotocol {_family(cap)}"
    if kind == "unknown":
        return f"unknown {cap['code']}" + (f" value {cap['value']}" if cap["value"] else "")
    parts = [kind]
    for key, value in cap.items():
        if key == "type":
            continue
        if key == "families":
            for fam in value:
                extra = [
                    str(v) if k == "send_receive" else k.replace("_", "-")
                    for k, v in fam.items()
                    if k not in ("afi", "safi") and v
                ]
                parts.append(_family(fam) + (f"({','.join(extra)})" if extra else ""))
        elif isinstance(value, bool):
            if value:
                parts.append(key.replace("_", "-"))
        elif value != "":
            parts.append(f"{key.replace('_', '-')} {value}")
    return " ".join(parts)


def message_text(obj: JsonObject, length: int) -> list[str]:
    """The readable form of a message (given as its JSON form): a header line
    ``TYPE N bytes`` and indented detail lines."""
    kind = obj["type"]
    lines = [f"{kind} {length} bytes"]
    if kind == "UPDATE":
        for key, value in obj["attributes"].items():
            text = _value_text(key, value)
            lines.append(f"  {key.replace('_', '-')}" + (f" {text}" if value is not True else ""))
        for err in obj.get("errors", ()):
            lines.append(f"  error {err['name']} ({err['code']}/{err['subcode']}) {err['action']}: {err['field']}")
        if "end_of_rib" in obj:
            lines.append(f"  end-of-rib {_family(obj['end_of_rib'])}")
        lines.extend(f"  - {route_text(r)}" for r in obj["withdrawn"])
        if "mp_unreach" in obj:
            mp = obj["mp_unreach"]
            lines.append(f"  mp-unreach {_family(mp)}")
            lines.extend(f"  - {route_text(r)}" for r in mp["nlri"])
        lines.extend(f"  + {route_text(r)}" for r in obj["nlri"])
        if "mp_reach" in obj:
            mp = obj["mp_reach"]
            lines.append(f"  mp-reach {_family(mp)} next-hop {' '.join(mp['next_hop']) or '(none)'}")
            lines.extend(f"  + {route_text(r)}" for r in mp["nlri"])
    elif kind == "OPEN":
        lines.append(
            f"  version {obj['version']} asn {obj['asn']} hold-time {obj['hold_time']} router-id {obj['router_id']}"
        )
        lines.extend(f"  capability {_capability_text(c)}" for c in obj["capabilities"])
        lines.extend(f"  parameter {p['type']} value {p['value']}" for p in obj.get("parameters", ()))
    elif kind == "NOTIFICATION":
        data = f" data {obj['data']}" if obj["data"] else ""
        lines.append(f"  {obj['name']} ({obj['code']}/{obj['subcode']}){data}")
        if "shutdown_communication" in obj:
            lines.append(f"  shutdown-communication {json.dumps(obj['shutdown_communication'])}")
    elif kind == "ROUTE-REFRESH":
        orf = f" orf {obj['orf']}" if "orf" in obj else ""
        lines.append(f"  {_family(obj)} subtype {obj['subtype']}{orf}")
    return lines


# --- the command ---------------------------------------------------------------------


class _Input(NamedTuple):
    label: str | None  # "src > dst" for a capture stream
    src: str | None
    dst: str | None
    data: bytes
    framing: str
    negotiation: Negotiation


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``decode`` subcommand to ``subparsers`` (from ``add_subparsers()``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "decode",
        help="decode BGP messages from hex, a raw file or a pcap",
        description=(
            "Decode BGP messages given as hex (with or without the 16-byte marker, or a bare UPDATE body; "
            "'-' reads hex from stdin), from a raw binary file (--raw) or from every BGP TCP stream of a "
            "pcap/pcapng capture (--pcap)."
        ),
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object per message")
    output.add_argument("--stats", action="store_true", help="decode everything, print one summary line")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--pcap", metavar="FILE", help="a pcap/pcapng capture (TCP port 179)")
    source.add_argument("--raw", metavar="FILE", help="a binary file of whole messages back to back")
    parser.add_argument("hex", nargs="*", metavar="HEX", help="hex bytes, or '-' to read hex from stdin")
    parser.set_defaults(run=run)
    return parser


def _read_inputs(args: argparse.Namespace) -> list[_Input]:
    """The inputs named by the arguments; raises ValueError/OSError for unusable ones."""
    if args.pcap is not None:
        streams = read_streams(args.pcap)
        contexts = stream_contexts(streams)
        return [
            _Input(f"{s.src} > {s.dst}", s.src, s.dst, s.data, FULL, Negotiation(ctx))
            for s, ctx in zip(streams, contexts, strict=True)
        ]
    if args.raw is not None:
        with open(args.raw, "rb") as fh:
            return [_Input(None, None, None, fh.read(), FULL, Negotiation())]
    text = sys.stdin.read() if args.hex == ["-"] else " ".join(args.hex)
    data = parse_hex(text)
    if not data:
        raise ValueError("no hex bytes given")
    return [_Input(None, None, None, data, detect_framing(data), Negotiation())]


def _error_line(item: _Input, failure: DecodeError) -> str:
    error = failure.error
    where = f"{item.label}: " if item.label else ""
    data = error.data.hex()
    if len(data) > 64:
        data = data[:64] + "..."
    read_as = {MARKERLESS: " (read as messages without marker)", BODY: " (read as a bare UPDATE body)"}
    return (
        f"evpn decode: {where}message {failure.index + 1} at byte {failure.offset}{read_as.get(item.framing, '')}: "
        f"{error_name(error.code, error.subcode)} ({error.code}/{error.subcode}): {error.field}"
        + (f" [data {data}]" if data else "")
    )


def run(args: argparse.Namespace) -> int:
    """Run ``evpn decode`` with parsed arguments; return the exit status."""
    out, err = sys.stdout, sys.stderr
    if args.hex and (args.pcap is not None or args.raw is not None):
        err.write("evpn decode: give hex, --raw FILE or --pcap FILE, not several\n")
        return 2
    if not args.hex and args.pcap is None and args.raw is None:
        err.write("evpn decode: nothing to decode (give HEX, '-', --raw FILE or --pcap FILE)\n")
        return 2
    if "-" in args.hex and args.hex != ["-"]:
        err.write("evpn decode: '-' (stdin) cannot be combined with hex arguments\n")
        return 2
    try:
        inputs = _read_inputs(args)
    except (OSError, ValueError) as exc:
        err.write(f"evpn decode: {exc}\n")
        return 2
    if args.stats:
        return _run_stats(inputs, out, err)
    return _run_print(inputs, out, err, as_json=args.json)


def _run_print(inputs: list[_Input], out: TextIO, err: TextIO, *, as_json: bool) -> int:
    status = 0
    for item in inputs:
        try:
            for decoded in decode_messages(item.data, item.negotiation, item.framing):
                obj = message_json(decoded.message)
                if as_json:
                    if item.src is not None:
                        obj = {"src": item.src, "dst": item.dst, **obj}
                    out.write(json.dumps(obj) + "\n")
                else:
                    lines = message_text(obj, decoded.length)
                    if item.label:
                        lines[0] = f"{item.label} {lines[0]}"
                    out.write("\n".join(lines) + "\n")
        except DecodeError as failure:
            out.flush()
            err.write(_error_line(item, failure) + "\n")
            status = 1
    return status


def _run_stats(inputs: list[_Input], out: TextIO, err: TextIO) -> int:
    stats = Stats()
    add = stats.add
    status = 0
    errors = []
    for item in inputs:
        start = time.perf_counter()
        try:
            for decoded in decode_messages(item.data, item.negotiation, item.framing):
                add(decoded.message)
        except DecodeError as failure:
            errors.append(_error_line(item, failure))
            status = 1
        stats.seconds += time.perf_counter() - start
    out.write(stats.line() + "\n")
    for line in errors:
        err.write(line + "\n")
    return status
