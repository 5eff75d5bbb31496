"""Fuzz targets shared by the atheris harness and the regression replay test.

An input is one *selector* byte followed by the payload.  ``TARGETS[selector % len(TARGETS)]``
is the target and ``selector // len(TARGETS)`` its *variant* (0..42), which each target
reads in its own way (decode context, ADD-PATH, chunk size, peer profile).
:func:`run_target` returns for every defined outcome and lets anything else escape:
an escaping exception is a crash.

Defined outcomes:

* decoders (``message``, ``stream``, ``attributes``, ``evpn-nlri``): a value, or
  :class:`~evpn.errors.BGPError` (the NLRI decoder's internal ``Malformed`` signal too).
  A message that decodes without RFC 7606 errors must also re-encode, and decode again
  to an equal value.
* sessions (``session``, ``session-open``): *nothing* may escape :meth:`Session.receive_data`
  or :meth:`Session.handle_timer` (remote misbehaviour becomes a NOTIFICATION and events);
  every byte the session queues must decode, and a session that left Established must
  have reported :class:`~evpn.session.Down`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from evpn.errors import BGPError
from evpn.session import Down, Established, Session, SessionConfig, SessionEvent, State
from evpn.wire import (
    AddPath,
    AsPath,
    AsPathSegment,
    Capability,
    Context,
    Encapsulation,
    EnhancedRouteRefresh,
    ExtendedCommunities,
    ExtendedMessage,
    FourOctetAS,
    Fqdn,
    GracefulRestart,
    InclusiveMulticastRoute,
    IPPrefixRoute,
    Keepalive,
    LocalPref,
    MacIpRoute,
    MacMobility,
    MessageReader,
    Multiprotocol,
    Notification,
    Open,
    Origin,
    PmsiTunnel,
    Prefix,
    RouteRefresh,
    RouteRefreshCapability,
    RouteTarget,
    Update,
    decode_attributes,
    decode_message,
    end_of_rib,
    pack_updates,
    pack_withdrawals,
)
from evpn.wire._common import Malformed
from evpn.wire.routes import EthernetADRoute, EthernetSegmentRoute, decode_evpn_nlri

EVPN, IPV4 = (25, 70), (1, 1)

CONTEXTS = (
    Context(),
    Context(four_octet_as=False),
    Context(add_path={EVPN, IPV4}, extended_message=True),
)

CHUNKS = (4096, 1, 7, 19, 64)
"""Sizes the stream and session targets cut their payload into (variant // 3 picks one)."""


# --- decoder targets --------------------------------------------------------------------


def check_reencode(raw: bytes, ctx: Context) -> None:
    """Decode one message; a clean decode must survive ``encode`` and decode back equal."""
    message = decode_message(raw, ctx)
    if isinstance(message, Update) and message.errors:
        return  # RFC 7606 dropped or re-read parts of it: re-encoding gives other bytes
    again = decode_message(message.encode(ctx), ctx)
    if again != message:
        raise AssertionError(f"decode(encode(decode(x))) != decode(x):\n  {message!r}\n  {again!r}")


def fuzz_message(payload: bytes, variant: int) -> None:
    """One whole message (RFC 4271 §4) under one of :data:`CONTEXTS`."""
    check_reencode(payload, CONTEXTS[variant % 3])


def chunks(payload: bytes, size: int) -> Iterator[bytes]:
    """``payload`` cut into pieces of ``size`` bytes (one empty piece for empty input)."""
    yield from (payload[cut : cut + size] for cut in range(0, max(len(payload), 1), size))


def fuzz_stream(payload: bytes, variant: int) -> None:
    """A byte stream framed by :class:`MessageReader`, fed in chunks, each message decoded."""
    ctx = CONTEXTS[variant % 3]
    reader = MessageReader(ctx.max_message_size)
    for piece in chunks(payload, CHUNKS[variant // 3 % len(CHUNKS)]):
        reader.feed(piece)
        for message in reader:
            decode_message(message, ctx)


def fuzz_attributes(payload: bytes, variant: int) -> None:
    """A path attribute list (RFC 4271 §4.3, RFC 7606)."""
    decode_attributes(payload, CONTEXTS[variant % 3])


def fuzz_evpn_nlri(payload: bytes, variant: int) -> None:
    """A run of EVPN NLRI (RFC 7432 §7), with path identifiers for odd variants (RFC 7911)."""
    decode_evpn_nlri(payload, add_path=bool(variant & 1))


# --- session targets ----------------------------------------------------------------------

LOCAL = SessionConfig(
    local_asn=65001,
    router_id="192.0.2.1",
    peer_asn=65002,
    passive=True,
    families=[EVPN, IPV4],
    add_path=[(*EVPN, 3), (*IPV4, 3)],
    hostname="fuzz",
)


def peer_open(profile: int) -> bytes:
    """The peer's OPEN for one of three profiles: a modern 4-octet-AS peer; a 2-octet-AS peer
    (no RFC 6793 capability); a peer with ADD-PATH, extended messages and route refresh."""
    caps: list[Capability] = [Multiprotocol(*EVPN), Multiprotocol(*IPV4)]
    if profile == 0:
        caps += [FourOctetAS(65002), GracefulRestart(120, families=[(*EVPN, 0x80)])]
    elif profile == 2:
        caps += [
            FourOctetAS(65002),
            AddPath([(*EVPN, 3), (*IPV4, 3)]),
            ExtendedMessage(),
            RouteRefreshCapability(),
            EnhancedRouteRefresh(),
            Fqdn("peer", "lab"),
        ]
    return Open.build(65002, 90, "192.0.2.2", caps).encode()


PEER_OPENS = tuple(peer_open(profile) for profile in range(3))
KEEPALIVE = Keepalive().encode()


def drain(session: Session) -> list[SessionEvent]:
    """Every event the session has queued."""
    events = []
    while (event := session.next_event()) is not None:
        events.append(event)
    return events


def check_output(data: bytes) -> None:
    """What the session queued must be whole messages that our decoder accepts."""
    reader = MessageReader(65535)
    reader.feed(data)
    for raw in reader:
        decode_message(raw, Context(extended_message=True))
    if reader.pending:
        raise AssertionError(f"session queued {reader.pending} bytes that are not a whole message")


def feed_session(session: Session, payload: bytes, size: int, now: float) -> list[SessionEvent]:
    """Feed ``payload`` in ``size``-byte pieces (a millisecond apart), then fire the next timer."""
    events: list[SessionEvent] = []
    for piece in chunks(payload, size):
        session.receive_data(piece, now)
        check_output(session.data_to_send())
        events += drain(session)
        now += 0.001
    deadline = session.next_deadline()
    if deadline is not None:
        session.handle_timer(deadline)
        check_output(session.data_to_send())
        events += drain(session)
    return events


def connected_session() -> Session:
    """A passive session that accepted a connection and sent its OPEN (OpenSent)."""
    session = Session(LOCAL)
    session.start(0.0)
    session.connection_made(0.0)
    session.data_to_send()
    drain(session)
    return session


def fuzz_session(payload: bytes, variant: int) -> None:
    """Bytes from the peer of an Established session (after an OPEN/KEEPALIVE exchange)."""
    session = connected_session()
    session.receive_data(PEER_OPENS[variant % 3] + KEEPALIVE, 0.0)
    session.data_to_send()
    if not any(isinstance(e, Established) for e in drain(session)):
        raise AssertionError(f"the handshake did not reach Established: {session.state}")
    events = feed_session(session, payload, CHUNKS[variant // 3 % len(CHUNKS)], 1.0)
    if session.state is not State.ESTABLISHED and not any(isinstance(e, Down) for e in events):
        raise AssertionError(f"session left Established for {session.state} without a Down event")


def fuzz_session_open(payload: bytes, variant: int) -> None:
    """Bytes from the peer of a session in OpenSent: its OPEN (and what follows) is fuzzed."""
    session = connected_session()
    feed_session(session, payload, CHUNKS[variant // 3 % len(CHUNKS)], 0.0)


# --- the table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One entry of :data:`TARGETS`."""

    name: str
    run: Callable[[bytes, int], None]
    allowed: tuple[type[Exception], ...] = ()
    """The exceptions that are a defined outcome (none for the sessions)."""


TARGETS = (
    Target("message", fuzz_message, (BGPError,)),
    Target("stream", fuzz_stream, (BGPError,)),
    Target("attributes", fuzz_attributes, (BGPError,)),
    Target("evpn-nlri", fuzz_evpn_nlri, (Malformed,)),  # callers turn it into a BGPError
    Target("session", fuzz_session),
    Target("session-open", fuzz_session_open),
)
BY_NAME = {target.name: index for index, target in enumerate(TARGETS)}
MAX_VARIANT = 255 // len(TARGETS)


def selector(name: str, variant: int = 0) -> bytes:
    """The first byte of an input for target ``name`` with ``variant``."""
    if not 0 <= variant <= MAX_VARIANT:
        raise ValueError(f"variant must be 0..{MAX_VARIANT}, got {variant}")
    return bytes([BY_NAME[name] + len(TARGETS) * variant])


def split(data: bytes) -> tuple[Target, int, bytes]:
    """(target, variant, payload) of a fuzz input (which is not empty)."""
    index, variant = data[0] % len(TARGETS), data[0] // len(TARGETS)
    return TARGETS[index], variant, data[1:]


def run_target(data: bytes) -> None:
    """Run ``data`` through the target its first byte selects.

    Returns on every defined outcome, including the exceptions the target allows.
    """
    if not data:
        return
    target, variant, payload = split(data)
    with contextlib.suppress(*target.allowed):
        target.run(payload, variant)


# --- seeds ----------------------------------------------------------------------------------


def seed_messages() -> list[bytes]:
    """Valid inputs for every target, built with the project's encoder."""
    rd = "198.18.0.2:2"
    routes = [
        MacIpRoute(rd=rd, mac="02:00:00:00:00:01", ip="198.19.0.1", label1=100, label2=5000),
        MacIpRoute(rd=rd, mac="02:00:00:00:00:02", label1=100),
        MacIpRoute(rd=rd, mac="02:00:00:00:00:03", ip="2001:db8::3", label1=100),
        InclusiveMulticastRoute(rd=rd, originator_ip="198.18.0.2"),
        IPPrefixRoute(rd=rd, prefix="198.19.5.0", prefix_length=24, label=5000),
        IPPrefixRoute(rd=rd, prefix="2001:db8::", prefix_length=64, label=5000),
        EthernetADRoute(rd=rd, esi=bytes([1] * 10), ethernet_tag=5, label=100),
        EthernetSegmentRoute(rd=rd, esi=bytes([3] * 10), originator_ip="198.18.0.2"),
    ]
    attributes = [
        Origin(0),
        AsPath([AsPathSegment(2, [65002, 4200000000])]),
        LocalPref(100),
        ExtendedCommunities([RouteTarget.parse("65001:100"), Encapsulation(8), MacMobility(3, True)]),
        PmsiTunnel(6, 100, bytes([198, 18, 0, 2])),
    ]
    updates = pack_updates(attributes, routes, next_hop=bytes([198, 18, 0, 2]))
    updates += pack_withdrawals(routes)
    updates.append(end_of_rib().encode())
    updates.append(end_of_rib(1, 1).encode())
    ipv4 = Update(attributes=[Origin(0), AsPath([AsPathSegment(2, [65002])])], nlri=[Prefix(bytes([10, 1, 2, 0]), 24)])
    updates.append(ipv4.encode())
    others = [
        Notification.cease(2, "maintenance").encode(),
        RouteRefresh(*EVPN).encode(),
        RouteRefresh(*EVPN, 1).encode(),
        KEEPALIVE,
    ]
    seeds = []
    for message in [*updates, *PEER_OPENS, *others]:
        seeds += [selector("message", v) + message for v in range(3)]
    stream = b"".join(updates)
    seeds += [selector("stream", v) + stream for v in (0, 3, 5)]
    for update in updates[:2]:
        attr_len = int.from_bytes(update[21:23], "big")
        seeds.append(selector("attributes") + update[23 : 23 + attr_len])
    seeds.append(selector("evpn-nlri") + b"".join(r.encode() for r in routes))
    seeds += [selector("session", v) + message for message in [*updates, *others] for v in range(3)]
    seeds += [selector("session", v) + stream + KEEPALIVE for v in (0, 4, 8, 11, 14)]
    seeds += [selector("session-open", v) + peer + KEEPALIVE + updates[0] for v, peer in enumerate(PEER_OPENS)]
    return seeds
