"""BGP messages (RFC 4271 §4): OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH.

:class:`MessageReader` turns a byte stream in any chunking into complete messages with
the RFC 4271 §6.1 header checks; :func:`decode_message` decodes one message and
``message.encode(ctx)`` encodes it.  :func:`pack_updates` / :func:`pack_withdrawals`
pack many routes that share attributes into as few UPDATEs as the negotiated maximum
message size allows.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeAlias

import attrs

from evpn.errors import Action, BGPError
from evpn.types import format_ip
from evpn.wire._common import U16, Malformed, address, bits, check_range, flag, max_bytes, to_tuple
from evpn.wire.attributes import (
    AS_TRANS,
    EXTENDED,
    OPTIONAL,
    Aggregator,
    As4Aggregator,
    As4Path,
    AsPath,
    Attribute,
    MpReach,
    MpUnreach,
    Nlri,
    decode_attributes,
    encode_attribute,
    merge_as4_path,
)
from evpn.wire.capabilities import (
    Capability,
    CapabilityParameter,
    FourOctetAS,
    UnknownParameter,
    decode_capability_list,
)
from evpn.wire.codes import (
    AFI,
    SAFI,
    AttrType,
    CeaseSubcode,
    ErrorCode,
    MessageHeaderSubcode,
    MessageType,
    OpenSubcode,
    RouteRefreshSubcode,
    UpdateSubcode,
    subcode_name,
)
from evpn.wire.context import Context
from evpn.wire.prefixes import Prefix, decode_prefixes

__all__ = [
    "HEADER_SIZE",
    "MARKER",
    "Keepalive",
    "Message",
    "MessageReader",
    "Notification",
    "Open",
    "OptionalParameter",
    "RouteRefresh",
    "Update",
    "decode_message",
    "end_of_rib",
    "pack_updates",
    "pack_withdrawals",
]

MARKER = b"\xff" * 16
HEADER_SIZE = 19
_HEADER = struct.Struct("!16sHB")
_OPEN = struct.Struct("!BHH4sB")
_ROUTE_REFRESH = struct.Struct("!HBB")
_MIN_LENGTH = {
    MessageType.OPEN: 29,
    MessageType.UPDATE: 23,
    MessageType.NOTIFICATION: 21,
    MessageType.KEEPALIVE: 19,
    MessageType.ROUTE_REFRESH: 23,
}

OptionalParameter: TypeAlias = CapabilityParameter | UnknownParameter


def _frame(msg_type: int, body: bytes, ctx: Context) -> bytes:
    length = HEADER_SIZE + len(body)
    limit = 4096 if msg_type in (MessageType.OPEN, MessageType.KEEPALIVE) else ctx.max_message_size
    if length > limit:
        raise ValueError(f"{MessageType(msg_type).name} of {length} bytes exceeds the maximum of {limit}")
    return _HEADER.pack(MARKER, length, msg_type) + body


def _router_id(value: object) -> bytes:
    return address("router_id (BGP Identifier)", value)


@attrs.frozen
class Open:
    """OPEN (RFC 4271 §4.2) with optional parameters (RFC 5492, RFC 9072).

    ``asn`` is the 2-octet "My Autonomous System" field (AS_TRANS for a 4-octet ASN);
    :attr:`speaker_asn` gives the real one.  ``extended_parameters`` records that the
    RFC 9072 encoding was used (it is chosen automatically when the parameters need it).
    Build one with :meth:`build`.
    """

    asn: int = attrs.field(validator=bits(16))
    hold_time: int = attrs.field(validator=bits(16))
    router_id: bytes = attrs.field(converter=_router_id, repr=lambda v: repr(format_ip(v)))
    parameters: tuple[OptionalParameter, ...] = attrs.field(default=(), converter=to_tuple)
    version: int = attrs.field(default=4, validator=bits(8))
    extended_parameters: bool = attrs.field(default=False, validator=flag)

    @router_id.validator
    def _check(self, _: Any, value: bytes) -> None:
        if len(value) != 4:
            raise ValueError("router_id (BGP Identifier) must be an IPv4 address")

    @classmethod
    def build(cls, asn: int, hold_time: int, router_id: object, capabilities: Sequence[Capability]) -> Open:
        """An OPEN for ``asn`` (AS_TRANS in the 2-octet field when it does not fit, RFC 6793 §4.1),
        one capability per optional parameter as FRR sends them."""
        check_range("asn", asn, 32)
        return cls(
            asn if asn <= 0xFFFF else AS_TRANS,
            hold_time,
            router_id,
            tuple(CapabilityParameter((cap,)) for cap in capabilities),
        )

    @property
    def capabilities(self) -> tuple[Capability, ...]:
        """Every capability, from every capabilities parameter, in order."""
        return tuple(c for p in self.parameters if isinstance(p, CapabilityParameter) for c in p.capabilities)

    @property
    def speaker_asn(self) -> int:
        """The sender's ASN: from the 4-octet AS capability if present (RFC 6793 §4.1)."""
        for cap in self.capabilities:
            if isinstance(cap, FourOctetAS):
                return cap.asn
        return self.asn

    def encode(self, ctx: Context | None = None) -> bytes:
        """The whole message, header included."""
        params = [(p.type if isinstance(p, UnknownParameter) else 2, p.value_bytes()) for p in self.parameters]
        plain = b"".join(bytes((t, len(v))) + v for t, v in params if len(v) <= 255)
        extended = self.extended_parameters or any(len(v) > 255 for _, v in params) or len(plain) > 254
        if extended:
            body = b"".join(bytes((t,)) + U16.pack(len(v)) + v for t, v in params)
            opt = b"\xff\xff" + U16.pack(len(body)) + body
        else:
            opt = bytes((len(plain),)) + plain
        head = _OPEN.pack(self.version, self.asn, self.hold_time, self.router_id, 0)[:-1]
        return _frame(MessageType.OPEN, head + opt, ctx or Context())


@attrs.frozen
class Keepalive:
    """KEEPALIVE (RFC 4271 §4.4): a header and nothing else."""

    def encode(self, ctx: Context | None = None) -> bytes:
        """The whole message, header included."""
        return _frame(MessageType.KEEPALIVE, b"", ctx or Context())


@attrs.frozen
class Notification:
    """NOTIFICATION (RFC 4271 §4.5).  Codes and subcodes are kept as numbers (unknown ones too);
    :attr:`name` names them and :attr:`shutdown_communication` reads RFC 9003 text."""

    code: int = attrs.field(validator=bits(8))
    subcode: int = attrs.field(default=0, validator=bits(8))
    data: bytes = attrs.field(default=b"", validator=max_bytes(0xFFFF - 21), repr=lambda v: repr(v.hex()))

    @classmethod
    def from_error(cls, error: BGPError) -> Notification:
        """The NOTIFICATION that reports ``error`` (RFC 4271 §6)."""
        return cls(error.code, error.subcode, error.data)

    @classmethod
    def cease(cls, subcode: int, communication: str = "") -> Notification:
        """A Cease (RFC 4486 §4); for Administrative Shutdown/Reset with the RFC 9003 §2
        shutdown communication (UTF-8, at most 255 bytes, cut at a character boundary)."""
        data = b""
        if communication and subcode in (CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, CeaseSubcode.ADMINISTRATIVE_RESET):
            text = communication.encode()[:255].decode("utf-8", "ignore").encode()
            data = bytes((len(text),)) + text
        return cls(ErrorCode.CEASE, subcode, data)

    @property
    def name(self) -> str:
        """``"CEASE/ADMINISTRATIVE_SHUTDOWN"``-style name, numbers for unknown codes."""
        try:
            code = ErrorCode(self.code).name
        except ValueError:
            code = f"code {self.code}"
        return f"{code}/{subcode_name(self.code, self.subcode)}"

    @property
    def shutdown_communication(self) -> str | None:
        """The RFC 9003 §2 shutdown communication of a Cease 2/4, or ``None`` if absent or malformed."""
        if self.code != ErrorCode.CEASE or self.subcode not in (2, 4) or not self.data:
            return None
        length = self.data[0]
        if length + 1 > len(self.data):
            return None
        try:
            return self.data[1 : 1 + length].decode("utf-8")
        except UnicodeDecodeError:
            return None

    def encode(self, ctx: Context | None = None) -> bytes:
        """The whole message, header included."""
        return _frame(MessageType.NOTIFICATION, bytes((self.code, self.subcode)) + self.data, ctx or Context())


@attrs.frozen
class RouteRefresh:
    """ROUTE-REFRESH (RFC 2918 §3, RFC 7313 §3.2: subtype 0 request, 1 BoRR, 2 EoRR).

    ``orf`` holds Outbound Route Filtering entries (RFC 5291), kept opaque.
    """

    afi: int = attrs.field(validator=bits(16))
    safi: int = attrs.field(validator=bits(8))
    subtype: int = attrs.field(default=0, validator=bits(8))
    orf: bytes = attrs.field(default=b"", validator=max_bytes(0xFFFF - 23), repr=lambda v: repr(v.hex()))

    @orf.validator
    def _check(self, _: Any, value: bytes) -> None:
        if value and self.subtype in (1, 2):
            raise ValueError(f"orf: a BoRR/EoRR (subtype {self.subtype}) carries no ORF entries (RFC 7313 §5)")

    def encode(self, ctx: Context | None = None) -> bytes:
        """The whole message, header included."""
        return _frame(
            MessageType.ROUTE_REFRESH,
            _ROUTE_REFRESH.pack(self.afi, self.subtype, self.safi) + self.orf,
            ctx or Context(),
        )


@attrs.frozen
class Update:
    """UPDATE (RFC 4271 §4.3).  ``withdrawn``/``nlri`` are the IPv4 fields; other families
    travel in the :class:`MpReach`/:class:`MpUnreach` attributes (RFC 4760).

    ``errors`` lists what RFC 7606 handled while decoding (discarded attributes,
    treat-as-withdraw, AFI/SAFI disable); :attr:`action` is the strongest of them.
    """

    withdrawn: tuple[Prefix, ...] = attrs.field(default=(), converter=to_tuple)
    attributes: tuple[Attribute, ...] = attrs.field(default=(), converter=to_tuple)
    nlri: tuple[Prefix, ...] = attrs.field(default=(), converter=to_tuple)
    errors: tuple[BGPError, ...] = attrs.field(default=(), converter=to_tuple, eq=False, repr=False)

    def attribute(self, type_code: int) -> Attribute | None:
        """The attribute of that type, if present."""
        for attr in self.attributes:
            if attr.type_code == type_code:
                return attr
        return None

    @property
    def mp_reach(self) -> MpReach | None:
        """The MP_REACH_NLRI attribute, if present."""
        attr = self.attribute(AttrType.MP_REACH_NLRI)
        return attr if isinstance(attr, MpReach) else None

    @property
    def mp_unreach(self) -> MpUnreach | None:
        """The MP_UNREACH_NLRI attribute, if present."""
        attr = self.attribute(AttrType.MP_UNREACH_NLRI)
        return attr if isinstance(attr, MpUnreach) else None

    @property
    def action(self) -> Action | None:
        """The RFC 7606 approach to apply to this UPDATE, or ``None`` when it had no error."""
        return max((e.action for e in self.errors), default=None)

    @property
    def end_of_rib(self) -> tuple[int, int] | None:
        """(AFI, SAFI) if this UPDATE is an End-of-RIB marker (RFC 4724 §2), else ``None``."""
        if self.errors or self.withdrawn or self.nlri:
            return None
        if not self.attributes:
            return (AFI.IPV4, SAFI.UNICAST)
        if len(self.attributes) == 1 and isinstance(self.attributes[0], MpUnreach) and not self.attributes[0].nlri:
            return (self.attributes[0].afi, self.attributes[0].safi)
        return None

    @property
    def as_path(self) -> AsPath | None:
        """AS_PATH merged with AS4_PATH per RFC 6793 §4.2.3 (AS4_PATH is used only when
        AS_PATH carries AS_TRANS and no AGGREGATOR says otherwise)."""
        as_path = self.attribute(AttrType.AS_PATH)
        if not isinstance(as_path, AsPath):
            return None
        as4 = self.attribute(AttrType.AS4_PATH)
        if not isinstance(as4, As4Path) or not any(AS_TRANS in s.asns for s in as_path.segments):
            return as_path
        aggregator = self.attribute(AttrType.AGGREGATOR)
        if (
            isinstance(aggregator, Aggregator)
            and aggregator.asn != AS_TRANS
            and self.attribute(AttrType.AS4_AGGREGATOR)
        ):
            return as_path
        return merge_as4_path(as_path, as4)

    @property
    def aggregator(self) -> Aggregator | None:
        """AGGREGATOR, with AS4_AGGREGATOR's ASN when it carries AS_TRANS (RFC 6793 §4.2.3)."""
        agg = self.attribute(AttrType.AGGREGATOR)
        if not isinstance(agg, Aggregator):
            return None
        as4 = self.attribute(AttrType.AS4_AGGREGATOR)
        if agg.asn == AS_TRANS and isinstance(as4, As4Aggregator):
            return Aggregator(as4.asn, as4.address, flags=agg.flags)
        return agg

    def encode(self, ctx: Context | None = None) -> bytes:
        """The whole message, header included."""
        ctx = ctx or Context()
        withdrawn = b"".join(p.encode() for p in self.withdrawn)
        attributes = b"".join(encode_attribute(a, ctx) for a in self.attributes)
        nlri = b"".join(p.encode() for p in self.nlri)
        body = U16.pack(len(withdrawn)) + withdrawn + U16.pack(len(attributes)) + attributes + nlri
        return _frame(MessageType.UPDATE, body, ctx)


Message: TypeAlias = Open | Update | Notification | Keepalive | RouteRefresh


# --- decoding ----------------------------------------------------------------------


def _header_error(subcode: int, field: str, data: bytes = b"") -> BGPError:
    return BGPError(ErrorCode.MESSAGE_HEADER, subcode, field, data)


def check_header(header: bytes, max_size: int) -> tuple[int, int]:
    """Validate a 19-byte header (RFC 4271 §6.1); return (length, type)."""
    marker, length, msg_type = _HEADER.unpack(header)
    if marker != MARKER:
        raise _header_error(MessageHeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, "marker is not all ones")
    minimum = _MIN_LENGTH.get(msg_type)
    if minimum is None:
        raise _header_error(
            MessageHeaderSubcode.BAD_MESSAGE_TYPE, f"message type {msg_type} unknown", bytes((msg_type,))
        )
    limit = 4096 if msg_type in (MessageType.OPEN, MessageType.KEEPALIVE) else max_size
    if length < minimum or length > limit or (msg_type == MessageType.KEEPALIVE and length != 19):
        raise _header_error(
            MessageHeaderSubcode.BAD_MESSAGE_LENGTH,
            f"{MessageType(msg_type).name} length {length} (allowed {minimum}..{19 if msg_type == MessageType.KEEPALIVE else limit})",
            U16.pack(length),
        )
    return length, msg_type


def _open_error(field: str, subcode: int = OpenSubcode.UNSPECIFIC, data: bytes = b"") -> BGPError:
    return BGPError(ErrorCode.OPEN_MESSAGE, subcode, field, data)


def _decode_open(body: bytes, ctx: Context) -> Open:
    version, asn, hold_time, router_id, opt_len = _OPEN.unpack_from(body)
    rest = body[10:]
    params: list[OptionalParameter] = []
    extended = opt_len == 255 and rest[:1] == b"\xff"
    if extended:  # RFC 9072 §2
        if len(rest) < 3:
            raise _open_error("extended optional parameters length truncated (RFC 9072)")
        opt_len = U16.unpack_from(rest, 1)[0]
        rest = rest[3:]
    if opt_len != len(rest):
        raise _open_error(f"optional parameters length {opt_len} but {len(rest)} bytes follow")
    head = 3 if extended else 2
    pos = 0
    while pos < len(rest):
        if pos + head > len(rest):
            raise _open_error(f"optional parameter header truncated at offset {pos}")
        ptype = rest[pos]
        plen = U16.unpack_from(rest, pos + 1)[0] if extended else rest[pos + 1]
        pos += head
        if pos + plen > len(rest):
            raise _open_error(f"optional parameter {ptype} length {plen} runs past the parameters")
        value = rest[pos : pos + plen]
        pos += plen
        if ptype == 2:
            try:
                params.append(CapabilityParameter(decode_capability_list(value)))
            except Malformed as exc:
                raise _open_error(str(exc)) from None
        else:
            params.append(UnknownParameter(ptype, value))
    msg = Open.__new__(Open)
    for name, item in (
        ("asn", asn),
        ("hold_time", hold_time),
        ("router_id", router_id),
        ("parameters", tuple(params)),
        ("version", version),
        ("extended_parameters", extended),
    ):
        object.__setattr__(msg, name, item)
    return msg


def _decode_update(body: bytes, ctx: Context) -> Update:
    end = len(body)
    withdrawn_len = U16.unpack_from(body)[0]
    if 4 + withdrawn_len > end:
        raise BGPError(
            ErrorCode.UPDATE_MESSAGE,
            UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
            f"withdrawn routes length {withdrawn_len} exceeds the message",
        )
    attr_len = U16.unpack_from(body, 2 + withdrawn_len)[0]
    attr_start = 4 + withdrawn_len
    if attr_start + attr_len > end:
        raise BGPError(
            ErrorCode.UPDATE_MESSAGE,
            UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
            f"total path attribute length {attr_len} exceeds the message",
        )
    ipv4 = (AFI.IPV4, SAFI.UNICAST) in ctx.add_path
    try:
        withdrawn = decode_prefixes(body[2 : 2 + withdrawn_len], AFI.IPV4, ipv4) if withdrawn_len else []
        nlri = decode_prefixes(body[attr_start + attr_len :], AFI.IPV4, ipv4) if attr_start + attr_len < end else []
    except Malformed as exc:
        raise BGPError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.INVALID_NETWORK_FIELD, str(exc)) from None
    attributes, errors = decode_attributes(body[attr_start : attr_start + attr_len], ctx)
    mp_reach = False
    present = set()
    for attr in attributes:
        present.add(attr.type_code)
        if isinstance(attr, MpReach) and attr.nlri:
            mp_reach = True
    required = []
    if nlri or mp_reach:
        required = [AttrType.ORIGIN, AttrType.AS_PATH]
    if nlri:
        required.append(AttrType.NEXT_HOP)
    for type_code in required:
        if type_code not in present and not any(e.data[1:2] == bytes((type_code,)) for e in errors):
            errors.append(
                BGPError(
                    ErrorCode.UPDATE_MESSAGE,
                    UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE,
                    f"missing well-known attribute {AttrType(type_code).name} (RFC 7606 §3 d)",
                    bytes((type_code,)),
                    Action.TREAT_AS_WITHDRAW,
                )
            )
    msg = Update.__new__(Update)
    object.__setattr__(msg, "withdrawn", tuple(withdrawn))
    object.__setattr__(msg, "attributes", tuple(attributes))
    object.__setattr__(msg, "nlri", tuple(nlri))
    object.__setattr__(msg, "errors", tuple(errors))
    return msg


def _decode_notification(body: bytes, ctx: Context) -> Notification:
    return Notification(body[0], body[1], body[2:])


def _decode_keepalive(body: bytes, ctx: Context) -> Keepalive:
    return Keepalive()


def _decode_route_refresh(body: bytes, ctx: Context) -> RouteRefresh:
    afi, subtype, safi = _ROUTE_REFRESH.unpack_from(body)
    if subtype in (1, 2) and len(body) != 4:  # RFC 7313 §5: the data is the whole message
        raise BGPError(
            ErrorCode.ROUTE_REFRESH_MESSAGE,
            RouteRefreshSubcode.INVALID_MESSAGE_LENGTH,
            f"ROUTE-REFRESH subtype {subtype} ({'BoRR' if subtype == 1 else 'EoRR'}) length {HEADER_SIZE + len(body)} (must be 23)",
            _HEADER.pack(MARKER, HEADER_SIZE + len(body), MessageType.ROUTE_REFRESH) + body,
        )
    return RouteRefresh(afi, safi, subtype, body[4:])


_DECODERS: dict[int, Callable[[bytes, Context], Message]] = {
    MessageType.OPEN: _decode_open,
    MessageType.UPDATE: _decode_update,
    MessageType.NOTIFICATION: _decode_notification,
    MessageType.KEEPALIVE: _decode_keepalive,
    MessageType.ROUTE_REFRESH: _decode_route_refresh,
}


def decode_message(data: bytes, ctx: Context | None = None) -> Message:
    """Decode one whole message, header included (RFC 4271 §4).

    Raises :class:`BGPError` (and nothing else) when the message needs a NOTIFICATION;
    RFC 7606 errors that do not reset the session are reported in ``Update.errors``.
    """
    ctx = ctx or Context()
    if len(data) < HEADER_SIZE:
        raise _header_error(
            MessageHeaderSubcode.BAD_MESSAGE_LENGTH, f"message of {len(data)} bytes is shorter than a header"
        )
    length, msg_type = check_header(data[:HEADER_SIZE], ctx.max_message_size)
    if length != len(data):
        raise _header_error(
            MessageHeaderSubcode.BAD_MESSAGE_LENGTH,
            f"header says {length} bytes but {len(data)} were given",
            U16.pack(length),
        )
    return _DECODERS[msg_type](data[HEADER_SIZE:], ctx)


class MessageReader:
    """Reassemble messages from a byte stream in any chunking (RFC 4271 §4.1).

    ``feed()`` bytes as they arrive, then iterate to get each complete message's bytes
    (header included).  A bad header raises :class:`BGPError` as soon as its 19 bytes are
    in.  Set :attr:`max_size` to 65535 once extended messages are negotiated (RFC 8654).
    """

    def __init__(self, max_size: int = 4096) -> None:
        self.max_size = max_size
        self._buffer = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        """Add received bytes."""
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        self._buffer += data

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as a complete message."""
        return len(self._buffer) - self._pos

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        buf, pos = self._buffer, self._pos
        if len(buf) - pos < HEADER_SIZE:
            raise StopIteration
        length, _ = check_header(bytes(buf[pos : pos + HEADER_SIZE]), self.max_size)
        if len(buf) - pos < length:
            raise StopIteration
        self._pos = pos + length
        return bytes(buf[pos : pos + length])


def end_of_rib(afi: int = AFI.L2VPN, safi: int = SAFI.EVPN) -> Update:
    """The End-of-RIB marker for a family (RFC 4724 §2): an empty UPDATE for IPv4 unicast,
    an UPDATE holding only an empty MP_UNREACH_NLRI otherwise."""
    if afi == AFI.IPV4 and safi == SAFI.UNICAST:
        return Update()
    return Update(attributes=(MpUnreach(afi, safi),))


# --- packing -----------------------------------------------------------------------


def pack_updates(
    attributes: Sequence[Attribute],
    routes: Sequence[Nlri],
    *,
    afi: int = AFI.L2VPN,
    safi: int = SAFI.EVPN,
    next_hop: bytes = b"",
    ctx: Context | None = None,
) -> list[bytes]:
    """Encode ``routes`` sharing ``attributes`` into as few UPDATEs as fit ``ctx.max_message_size``.

    The routes travel in one MP_REACH_NLRI per message (RFC 4760 §3) with ``next_hop``
    (raw 4/16/32 bytes); IPv4 unicast routes travel in the NLRI field instead and
    ``attributes`` must then hold NEXT_HOP (RFC 4271 §4.3).  Every message carries all of
    ``attributes`` (which must not hold MP_REACH_NLRI/MP_UNREACH_NLRI).
    """
    ctx = ctx or Context()
    head = b"".join(encode_attribute(a, ctx) for a in attributes)
    classic = afi == AFI.IPV4 and safi == SAFI.UNICAST
    if classic:
        fixed = head
    else:
        fixed = head + struct.pack("!BBH", OPTIONAL | EXTENDED, AttrType.MP_REACH_NLRI, 0)
        fixed += struct.pack("!HBB", afi, safi, len(next_hop)) + next_hop + b"\0"
    return _pack(head, fixed, [r.encode() for r in routes], classic, ctx)


def pack_withdrawals(
    routes: Sequence[Nlri], *, afi: int = AFI.L2VPN, safi: int = SAFI.EVPN, ctx: Context | None = None
) -> list[bytes]:
    """Encode withdrawals of ``routes`` into as few UPDATEs as fit (RFC 4760 §4; IPv4
    unicast in the Withdrawn Routes field, RFC 4271 §4.3)."""
    ctx = ctx or Context()
    encoded = [r.encode() for r in routes]
    if afi == AFI.IPV4 and safi == SAFI.UNICAST:
        room = ctx.max_message_size - HEADER_SIZE - 4
        out = []
        for chunk in _chunks(encoded, room):
            body = U16.pack(len(chunk)) + chunk + b"\0\0"
            out.append(_frame(MessageType.UPDATE, body, ctx))
        return out
    fixed = struct.pack("!BBHHB", OPTIONAL | EXTENDED, AttrType.MP_UNREACH_NLRI, 0, afi, safi)
    return _pack(b"", fixed, encoded, False, ctx)


def _chunks(encoded: list[bytes], room: int) -> Iterator[bytes]:
    batch: list[bytes] = []
    size = 0
    for item in encoded:
        if len(item) > room:
            raise ValueError(f"a route of {len(item)} bytes cannot fit in a message")
        if size + len(item) > room and batch:
            yield b"".join(batch)
            batch, size = [], 0
        batch.append(item)
        size += len(item)
    if batch:
        yield b"".join(batch)


def _pack(head: bytes, fixed: bytes, encoded: list[bytes], classic: bool, ctx: Context) -> list[bytes]:
    room = ctx.max_message_size - HEADER_SIZE - 4 - len(fixed)
    if room <= 0:
        raise ValueError("the attributes alone fill a whole message")
    out = []
    for chunk in _chunks(encoded, room):
        if classic:
            attrs_field = fixed
            tail = chunk
        else:
            mp_len = len(fixed) - len(head) - 4 + len(chunk)
            attrs_field = fixed[: len(head) + 2] + U16.pack(mp_len) + fixed[len(head) + 4 :] + chunk
            tail = b""
        body = b"\0\0" + U16.pack(len(attrs_field)) + attrs_field + tail
        out.append(_HEADER.pack(MARKER, HEADER_SIZE + len(body), MessageType.UPDATE) + body)
    return out
