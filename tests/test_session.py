"""The sans-I/O session: two :class:`Session` objects wired together in memory.

No sockets, no sleeps: :class:`Link` moves ``data_to_send()`` from one session to the
other and advances a fake ``now``; crafted bytes are fed to a single session where a
test needs a misbehaving peer.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import pytest

from evpn.errors import Action, ConfigError
from evpn.session import (
    BeginRouteRefresh,
    Down,
    EndOfRib,
    EndRouteRefresh,
    Established,
    FamilyDisabled,
    NotificationReceived,
    RouteRefreshRequested,
    Session,
    SessionConfig,
    SessionEvent,
    SessionStateError,
    State,
    UpdateReceived,
    WantClose,
    WantConnect,
    negotiate,
    resolve_collision,
)
from evpn.wire import (
    AS_TRANS,
    AddPath,
    AsPath,
    AsPathSegment,
    CapabilityParameter,
    Context,
    ExtendedCommunities,
    FourOctetAS,
    Fqdn,
    Keepalive,
    MacIpRoute,
    Message,
    MessageReader,
    Multiprotocol,
    Notification,
    Open,
    Origin,
    RouteRefresh,
    RouteTarget,
    UnknownParameter,
    Update,
    decode_message,
    pack_updates,
)
from evpn.wire.codes import MessageType

A_ID, B_ID = "192.0.2.1", "192.0.2.2"
EVPN = (25, 70)
IPV4 = (1, 1)


def config_a(**kw: object) -> SessionConfig:
    settings: dict[str, object] = {"local_asn": 65001, "router_id": A_ID, "peer_asn": 65002, **kw}
    return SessionConfig(**settings)  # type: ignore[arg-type]


def config_b(**kw: object) -> SessionConfig:
    settings: dict[str, object] = {"local_asn": 65002, "router_id": B_ID, "peer_asn": 65001, "passive": True, **kw}
    return SessionConfig(**settings)  # type: ignore[arg-type]


def drain(session: Session) -> list[SessionEvent]:
    events = []
    while (event := session.next_event()) is not None:
        events.append(event)
    return events


def messages(data: bytes) -> list[Message]:
    """Decode a byte stream of whole messages (4-octet AS, extended sizes allowed)."""
    reader = MessageReader(65535)
    reader.feed(data)
    out = [decode_message(raw, Context(extended_message=True)) for raw in reader]
    assert reader.pending == 0
    return out


def notifications(data: bytes) -> list[tuple[int, int]]:
    return [(m.code, m.subcode) for m in messages(data) if isinstance(m, Notification)]


def of_type(events: Sequence[SessionEvent], kind: type) -> list[SessionEvent]:
    return [e for e in events if isinstance(e, kind)]


class Link:
    """Two sessions joined by an in-memory TCP connection, with a fake clock.

    ``mute_a``/``mute_b`` drop what that side sends (a silent peer).  A :class:`WantClose`
    closes the link: the closing side's last bytes are delivered, then the other side
    hears ``connection_lost``.
    """

    def __init__(self, a: Session, b: Session, now: float = 0.0) -> None:
        self.a, self.b, self.now = a, b, now
        self.events: dict[str, list[SessionEvent]] = {"a": [], "b": []}
        self.mute_a = self.mute_b = False
        self.up = False

    def start(self) -> None:
        self.a.start(self.now)
        self.b.start(self.now)
        self.collect()

    def connect(self) -> None:
        self.up = True
        self.a.connection_made(self.now)
        self.b.connection_made(self.now)
        self.pump()

    def establish(self) -> None:
        self.start()
        self.connect()
        assert self.a.state is State.ESTABLISHED and self.b.state is State.ESTABLISHED

    def collect(self) -> tuple[bool, bool]:
        closes = []
        for name, session in (("a", self.a), ("b", self.b)):
            new = drain(session)
            self.events[name] += new
            closes.append(any(isinstance(e, WantClose) for e in new))
        return closes[0], closes[1]

    def pump(self) -> None:
        for _ in range(100):
            moved = False
            for sender, receiver, muted in ((self.a, self.b, self.mute_a), (self.b, self.a, self.mute_b)):
                data = sender.data_to_send()
                if data and self.up and not muted:
                    receiver.receive_data(data, self.now)
                    moved = True
            close_a, close_b = self.collect()
            if (close_a or close_b) and self.up:
                self.up = False
                for closer, other in ((self.a, self.b), (self.b, self.a)):
                    data = closer.data_to_send()
                    if data and closer is (self.a if close_a else self.b):
                        other.receive_data(data, self.now)
                self.a.connection_lost(self.now)
                self.b.connection_lost(self.now)
                self.collect()
            if not moved:
                return
        raise AssertionError("the sessions keep talking")

    def advance(self, seconds: float, step: float = 1.0) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now = min(self.now + step, end)
            for session in (self.a, self.b):
                deadline = session.next_deadline()
                if deadline is not None and deadline <= self.now:
                    session.handle_timer(self.now)
            self.pump()

    def take(self, name: str) -> list[SessionEvent]:
        events, self.events[name] = self.events[name], []
        return events


def established() -> Link:
    link = Link(Session(config_a()), Session(config_b()))
    link.establish()
    return link


def open_sent(config: SessionConfig | None = None) -> Session:
    """A session that sent its OPEN and waits for the peer's."""
    session = Session(config or config_a())
    session.start(0)
    session.connection_made(0)
    assert session.state is State.OPEN_SENT
    assert [type(m) for m in messages(session.data_to_send())] == [Open]
    drain(session)
    return session


def peer_open(
    asn: int = 65002,
    hold_time: int = 90,
    router_id: str = B_ID,
    capabilities: Sequence[object] | None = None,
    **kw: object,
) -> Open:
    caps = capabilities if capabilities is not None else (Multiprotocol(25, 70), FourOctetAS(asn))
    return Open(asn if asn <= 0xFFFF else AS_TRANS, hold_time, router_id, (CapabilityParameter(caps),), **kw)  # type: ignore[arg-type]


def evpn_routes(n: int = 2) -> list[MacIpRoute]:
    return [
        MacIpRoute(
            rd=f"{A_ID}:1",
            mac=f"02:00:00:00:{i // 256:02x}:{i % 256:02x}",
            ip=f"10.1.{i // 256}.{i % 256}",
            label1=10010,
        )
        for i in range(n)
    ]


ATTRIBUTES = (
    Origin(0),
    AsPath((AsPathSegment(2, (65001,)),)),
    ExtendedCommunities((RouteTarget.parse("65001:10010"),)),
)


def frame(msg_type: int, body: bytes) -> bytes:
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), msg_type) + body


def update_with_attributes(attributes: bytes) -> bytes:
    return frame(2, b"\x00\x00" + struct.pack("!H", len(attributes)) + attributes)


# --- establishing ---------------------------------------------------------------------------


def test_pair_negotiates_established_with_evpn() -> None:
    link = Link(Session(config_a(hostname="leaf1")), Session(config_b()))
    link.start()
    assert link.a.state is State.CONNECT and link.take("a") == [WantConnect()]
    assert link.b.state is State.ACTIVE and link.take("b") == []
    link.connect()
    assert link.a.state is State.ESTABLISHED and link.b.state is State.ESTABLISHED
    (up_a,) = of_type(link.take("a"), Established)
    (up_b,) = of_type(link.take("b"), Established)
    assert isinstance(up_a, Established) and isinstance(up_b, Established)
    neg = up_b.negotiated
    assert neg.families == {EVPN}
    assert neg.peer_asn == 65001 and neg.peer_router_id == A_ID
    assert neg.hold_time == 90 and neg.keepalive_time == 30
    assert neg.four_octet_as and neg.route_refresh and neg.enhanced_route_refresh and neg.extended_message
    assert neg.graceful_restart is not None and neg.graceful_restart.restart_time == 120
    assert neg.peer_hostname == "leaf1"
    assert neg.context.extended_message and neg.send_context.max_message_size == 65535
    assert link.a.negotiated == up_a.negotiated and link.a.peer_router_id == B_ID
    assert link.a.initiated_locally and not link.b.initiated_locally
    counters = link.a.counters
    assert (
        counters.messages_out_by_type[MessageType.OPEN] == 1
        and counters.messages_in_by_type[MessageType.KEEPALIVE] == 1
    )
    assert counters.established_transitions == 1


def test_hold_time_is_the_smaller_and_keepalive_a_third() -> None:
    link = Link(Session(config_a(hold_time=30)), Session(config_b(hold_time=90)))
    link.establish()
    assert link.a.negotiated is not None and link.b.negotiated is not None
    assert link.a.negotiated.hold_time == link.b.negotiated.hold_time == 30
    assert link.b.next_deadline() == pytest.approx(10.0)  # KeepaliveTimer = 30 / 3


def test_receive_data_in_one_byte_chunks() -> None:
    a, b = Session(config_a()), Session(config_b())
    a.start(0)
    b.start(0)
    a.connection_made(0)
    b.connection_made(0)
    for _ in range(3):
        for sender, receiver in ((a, b), (b, a)):
            for byte in sender.data_to_send():
                receiver.receive_data(bytes((byte,)), 0)
    assert a.state is State.ESTABLISHED and b.state is State.ESTABLISHED


def test_passive_session_waits_in_active() -> None:
    session = Session(config_b())
    session.start(0)
    assert session.state is State.ACTIVE
    assert drain(session) == [] and session.next_deadline() is None
    session.handle_timer(10_000)
    assert session.state is State.ACTIVE and drain(session) == []
    session.connection_made(10_000)
    assert session.state is State.OPEN_SENT and not session.initiated_locally
    assert [type(m) for m in messages(session.data_to_send())] == [Open]
    assert session.next_deadline() == 10_000 + 240  # the large HoldTimer (RFC 4271 §8.2.2)


# --- routes ---------------------------------------------------------------------------------


def test_updates_are_received_with_the_same_routes() -> None:
    link = established()
    link.take("b")
    routes = evpn_routes(3)
    link.a.send_routes(ATTRIBUTES, routes, next_hop=A_ID)
    link.pump()
    (received,) = link.take("b")
    assert isinstance(received, UpdateReceived) and received.action is None
    mp = received.update.mp_reach
    assert mp is not None and (mp.afi, mp.safi) == EVPN
    assert list(mp.nlri) == routes and mp.next_hop == bytes((192, 0, 2, 1))
    assert received.update.attribute(16) == ATTRIBUTES[2]
    assert link.a.counters.updates_out == 1 and link.b.counters.updates_in == 1

    link.a.send_withdrawals(routes[:1])
    link.pump()
    (withdrawn,) = link.take("b")
    assert isinstance(withdrawn, UpdateReceived)
    assert withdrawn.update.mp_unreach is not None and list(withdrawn.update.mp_unreach.nlri) == routes[:1]


def test_extended_messages_carry_more_than_4096_bytes() -> None:
    link = established()
    link.take("b")
    routes = evpn_routes(300)  # ~12 kB of NLRI
    link.a.send_routes(ATTRIBUTES, routes, next_hop=bytes((192, 0, 2, 1)))
    assert link.a.counters.updates_out == 1
    link.pump()
    (received,) = link.take("b")
    assert isinstance(received, UpdateReceived) and received.update.mp_reach is not None
    assert len(received.update.mp_reach.nlri) == 300
    assert link.b.state is State.ESTABLISHED


def test_end_of_rib_and_route_refresh() -> None:
    link = established()
    link.take("a")
    link.take("b")
    link.a.send_end_of_rib()
    link.b.send_route_refresh(EVPN)
    link.b.send_route_refresh(EVPN, subtype=1)
    link.b.send_route_refresh(EVPN, subtype=2)
    link.pump()
    assert link.take("b") == [EndOfRib(EVPN)]
    assert link.take("a") == [RouteRefreshRequested(EVPN), BeginRouteRefresh(EVPN), EndRouteRefresh(EVPN)]
    assert link.b.counters.messages_out_by_type[MessageType.ROUTE_REFRESH] == 3


def test_route_refresh_for_a_family_not_negotiated_is_ignored() -> None:
    link = established()
    link.take("a")
    link.a.receive_data(RouteRefresh(1, 1).encode(), link.now)
    assert drain(link.a) == [] and link.a.state is State.ESTABLISHED


def test_sending_needs_established_and_a_negotiated_family() -> None:
    session = open_sent()
    with pytest.raises(SessionStateError):
        session.send_routes(ATTRIBUTES, evpn_routes(1), A_ID)
    with pytest.raises(SessionStateError):
        session.send_end_of_rib()
    link = established()
    with pytest.raises(ValueError, match="not negotiated"):
        link.a.send_end_of_rib(IPV4)
    with pytest.raises(ValueError, match="subtype"):
        link.a.send_route_refresh(EVPN, subtype=7)
    assert not isinstance(SessionStateError("x"), ValueError)  # local misuse kinds stay apart


# --- timers ---------------------------------------------------------------------------------


def test_keepalives_keep_the_session_up_for_three_hold_times() -> None:
    link = established()
    link.take("a")
    link.take("b")
    for _ in range(270):
        link.advance(1.0)
        assert link.a.state is State.ESTABLISHED and link.b.state is State.ESTABLISHED
        for session in (link.a, link.b):
            deadline = session.next_deadline()
            assert deadline is not None and link.now < deadline <= link.now + 90
    assert link.take("a") == [] and link.take("b") == []
    assert link.a.counters.messages_out_by_type[MessageType.KEEPALIVE] >= 270 // 30


def test_sending_an_update_restarts_the_keepalive_timer() -> None:
    """RFC 4271 §4.4: "Each time the local system sends a KEEPALIVE or UPDATE message, it restarts
    its KeepaliveTimer"."""
    link = established()
    assert link.a.next_deadline() == 30
    link.a.send_routes(ATTRIBUTES, evpn_routes(1), A_ID, now=20)
    assert link.a.next_deadline() == 50
    link.a.send_end_of_rib(now=25)
    assert link.a.next_deadline() == 55
    link.a.handle_timer(30)
    assert [type(m) for m in messages(link.a.data_to_send())] == [Update, Update]  # no KEEPALIVE due at 30


def test_hold_timer_expires_when_the_peer_goes_silent() -> None:
    link = established()
    link.take("a")
    link.take("b")
    link.mute_b = True
    link.advance(89)
    assert link.a.state is State.ESTABLISHED
    link.advance(1)
    assert link.now == 90
    assert link.a.state is State.IDLE
    events_a = link.take("a")
    down = of_type(events_a, Down)
    assert down == [Down("HoldTimer expired", Notification(4, 0), True)]
    assert WantClose() in events_a
    events_b = link.take("b")
    assert NotificationReceived(Notification(4, 0)) in events_b
    (down_b,) = of_type(events_b, Down)
    assert isinstance(down_b, Down) and not down_b.sent and down_b.notification == Notification(4, 0)


def test_hold_time_zero_means_no_keepalives() -> None:
    link = Link(Session(config_a(hold_time=0)), Session(config_b()))
    link.establish()
    assert link.a.next_deadline() is None and link.b.next_deadline() is None
    link.advance(1000, step=100)
    assert link.a.state is State.ESTABLISHED
    assert link.a.counters.messages_out_by_type[MessageType.KEEPALIVE] == 1  # only the OpenConfirm one


def test_connect_retry_timer_restarts_a_hanging_connect() -> None:
    session = Session(config_a())
    session.start(0)
    assert drain(session) == [WantConnect()] and session.next_deadline() == 30
    session.handle_timer(29.9)
    assert drain(session) == []
    session.handle_timer(30)
    assert drain(session) == [WantClose(), WantConnect()]
    assert session.state is State.CONNECT and session.next_deadline() == 60


def test_idle_hold_backoff_grows_and_is_capped() -> None:
    session = Session(config_a())
    now = 0.0
    session.start(now)
    delays = []
    for _ in range(7):
        assert drain(session)[-1] == WantConnect()
        session.connection_failed(now)
        assert session.state is State.IDLE
        (down,) = of_type(drain(session), Down)
        assert isinstance(down, Down) and down.reason == "TCP connection failed"
        deadline = session.next_deadline()
        assert deadline is not None
        delays.append(deadline - now)
        session.handle_timer(deadline - 0.01)
        assert session.state is State.IDLE
        now = deadline
        session.handle_timer(now)
        assert session.state is State.CONNECT
    assert delays == [5, 10, 20, 40, 80, 120, 120]
    assert session.counters.connect_retry_counter == 7


def test_a_stable_session_restarts_the_backoff() -> None:
    link = Link(Session(config_a()), Session(config_b()))
    link.establish()
    link.a.reset(link.now)  # flap at once: counter 1
    link.pump()
    assert link.a.next_deadline() == link.now + 5
    link.advance(5)
    assert link.take("a")[-1] == WantConnect()
    link.b.start(link.now)
    link.connect()
    assert link.a.state is State.ESTABLISHED
    link.a.reset(link.now)  # flap again quickly: counter 2, the wait doubles
    link.pump()
    assert link.a.next_deadline() == link.now + 10
    link.advance(10)
    link.b.start(link.now)
    link.connect()
    link.advance(130)  # stable for longer than max_idle_hold_time
    link.a.reset(link.now)
    link.pump()
    assert link.a.next_deadline() == link.now + 5


# --- negotiation errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "code"),
    [
        (peer_open(asn=65009), (2, 2)),
        # 4-octet capability disagrees with My AS (neither the ASN nor AS_TRANS)
        (Open(1234, 90, B_ID, (CapabilityParameter((Multiprotocol(25, 70), FourOctetAS(65002))),)), (2, 2)),
        # AS_TRANS without the 4-octet capability: My AS is 23456, not the configured 65002
        (Open(AS_TRANS, 90, B_ID, (CapabilityParameter((Multiprotocol(25, 70),)),)), (2, 2)),
        (peer_open(hold_time=1), (2, 6)),
        (peer_open(hold_time=2), (2, 6)),
        (peer_open(router_id="0.0.0.0"), (2, 3)),
        (peer_open(capabilities=(Multiprotocol(1, 1), FourOctetAS(65002))), (2, 7)),
        (peer_open(capabilities=(FourOctetAS(65002),)), (2, 7)),  # no MP: IPv4 unicast only (RFC 4760 §8)
        (peer_open(version=3), (2, 1)),
        (Open(65002, 90, B_ID, (UnknownParameter(9, b"x"), CapabilityParameter((Multiprotocol(25, 70),)))), (2, 4)),
    ],
    ids=[
        "bad-peer-as",
        "as4-cap-mismatch",
        "as-trans-without-cap",
        "hold-1",
        "hold-2",
        "zero-router-id",
        "no-common-family",
        "no-mp-capability",
        "version-3",
        "unknown-parameter",
    ],
)
def test_bad_open_gets_the_open_message_error(peer: Open, code: tuple[int, int]) -> None:
    session = open_sent()
    session.receive_data(peer.encode(), 1)
    sent = messages(session.data_to_send())
    assert [(m.code, m.subcode) for m in sent if isinstance(m, Notification)] == [code]
    assert session.state is State.IDLE
    events = drain(session)
    assert WantClose() in events
    (down,) = of_type(events, Down)
    assert isinstance(down, Down) and down.sent and down.notification is not None
    assert (down.notification.code, down.notification.subcode) == code
    assert "OPEN rejected" in down.reason


def test_unsupported_version_data_and_unsupported_capability_data() -> None:
    session = open_sent()
    session.receive_data(peer_open(version=5).encode(), 0)
    (notification,) = messages(session.data_to_send())
    assert notification == Notification(2, 1, b"\x00\x04")  # RFC 4271 §6.2: the version we support
    session = open_sent(config_a(families=(EVPN, (2, 1))))
    session.receive_data(peer_open(capabilities=(Multiprotocol(1, 1), FourOctetAS(65002))).encode(), 0)
    (notification,) = messages(session.data_to_send())
    # RFC 5492 §5: our multiprotocol capabilities the peer lacks, encoded as in the OPEN
    assert notification == Notification(2, 7, bytes.fromhex("010400020001010400190046"))


@pytest.mark.parametrize(
    "peer",
    [
        peer_open(asn=4_200_000_001),  # My AS = AS_TRANS, ASN in the capability
        Open(AS_TRANS, 90, B_ID, (CapabilityParameter((Multiprotocol(25, 70), FourOctetAS(65002))),)),
        Open(65002, 90, B_ID, (CapabilityParameter((Multiprotocol(25, 70),)),)),  # a 2-octet-only speaker
        peer_open(hold_time=0),
        peer_open(hold_time=3),
        peer_open(router_id=A_ID),  # same Identifier is fine between ASes (RFC 6286 §2.2)
    ],
    ids=["as4-as-trans", "as-trans-small-asn", "two-octet-only", "hold-0", "hold-3", "ebgp-same-id"],
)
def test_acceptable_opens(peer: Open) -> None:
    asn = peer.speaker_asn
    session = open_sent(SessionConfig(local_asn=65001, router_id=A_ID, peer_asn=asn))
    session.receive_data(peer.encode(), 0)
    assert session.state is State.OPEN_CONFIRM
    assert [type(m) for m in messages(session.data_to_send())] == [Keepalive]
    assert session.negotiated is not None and session.negotiated.peer_asn == asn


def test_two_octet_peer_gets_two_octet_as_paths() -> None:
    session = open_sent()
    session.receive_data(Open(65002, 90, B_ID, (CapabilityParameter((Multiprotocol(25, 70),)),)).encode(), 0)
    assert session.negotiated is not None
    assert not session.negotiated.four_octet_as and not session.negotiated.context.four_octet_as
    assert not session.negotiated.extended_message and session.negotiated.max_message_size == 4096


def test_ibgp_peer_with_our_identifier_is_refused() -> None:
    session = open_sent(SessionConfig(local_asn=65001, router_id=A_ID, peer_asn=65001))
    session.receive_data(peer_open(asn=65001, router_id=A_ID).encode(), 0)
    assert notifications(session.data_to_send()) == [(2, 3)]


def test_ipv4_unicast_assumed_without_multiprotocol() -> None:
    local = Open.build(65001, 90, A_ID, [Multiprotocol(1, 1), FourOctetAS(65001)])
    negotiated = negotiate(local, Open(65002, 90, B_ID), 65002, A_ID)
    assert negotiated.families == {IPV4} and not negotiated.route_refresh


def test_add_path_is_negotiated_per_direction() -> None:
    local = Open.build(65001, 90, A_ID, [Multiprotocol(25, 70), FourOctetAS(65001), AddPath([(25, 70, 3)])])
    peer = Open.build(65002, 90, B_ID, [Multiprotocol(25, 70), FourOctetAS(65002), AddPath([(25, 70, 1)])])
    negotiated = negotiate(local, peer, 65002)
    assert negotiated.add_path == ((25, 70, 2),)  # the peer only receives: we send path ids, never get them
    assert negotiated.send_context.add_path == {EVPN} and negotiated.context.add_path == frozenset()


def test_the_other_side_hears_why() -> None:
    link = Link(Session(config_a()), Session(config_b(local_asn=65003)))
    link.start()
    link.connect()
    events_b = link.take("b")
    (received,) = of_type(events_b, NotificationReceived)
    assert isinstance(received, NotificationReceived) and received.notification.code == 2
    assert received.notification.subcode == 2
    assert link.a.state is State.IDLE and link.b.state is State.IDLE


# --- DelayOpen (RFC 4271 §8.1.1) ------------------------------------------------------------


def test_delay_open_waits_for_the_peer_open() -> None:
    link = Link(Session(config_a(delay_open_time=5)), Session(config_b()))
    link.start()
    link.up = True
    link.a.connection_made(0)
    assert link.a.state is State.CONNECT and link.a.data_to_send() == b""
    assert link.a.next_deadline() == 5  # DelayOpenTimer, ConnectRetryTimer stopped
    link.b.connection_made(0)
    link.a.receive_data(link.b.data_to_send(), 0)  # Event 20: OPEN while the DelayOpenTimer runs
    assert link.a.state is State.OPEN_CONFIRM
    assert [type(m) for m in messages(link.a.data_to_send())] == [Open, Keepalive]


def test_delay_open_timer_sends_our_open() -> None:
    link = Link(Session(config_a(delay_open_time=5)), Session(config_b(delay_open_time=10)))
    link.start()
    link.connect()
    assert link.a.state is State.CONNECT and link.b.state is State.ACTIVE
    link.advance(4)
    assert link.a.state is State.CONNECT
    link.advance(1)
    assert link.a.state is State.ESTABLISHED and link.b.state is State.ESTABLISHED


def test_delay_open_bad_open_is_notified() -> None:
    session = Session(config_a(delay_open_time=5))
    session.start(0)
    session.connection_made(0)
    session.receive_data(peer_open(asn=1).encode(), 1)
    assert notifications(session.data_to_send()) == [(2, 2)]  # SendNOTIFICATIONwithoutOPEN
    assert session.state is State.IDLE


def test_delay_open_connection_lost_goes_to_active() -> None:
    session = Session(config_a(delay_open_time=5))
    session.start(0)
    session.connection_made(0)
    session.connection_lost(1)
    assert session.state is State.ACTIVE  # RFC 4271 §8.2.2 Connect, Event 18 with DelayOpenTimer running
    assert session.next_deadline() == 31  # ConnectRetryTimer restarted
    session.handle_timer(31)
    assert session.state is State.CONNECT and drain(session)[-1] == WantConnect()


# --- malformed input and unexpected messages --------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x00" * 16 + b"\x00\x13\x04", Notification(1, 1)),
        (b"\xff" * 16 + b"\x00\x12\x04", Notification(1, 2, b"\x00\x12")),
        (b"\xff" * 16 + b"\x13\x88\x01", Notification(1, 2, b"\x13\x88")),  # OPEN of 5000 bytes
        (b"\xff" * 16 + b"\x00\x13\x09", Notification(1, 3, b"\x09")),
        (frame(1, bytes.fromhex("04fdea005ac000020201")), Notification(2, 0)),  # optional params overrun
    ],
    ids=["marker", "short", "long-open", "type", "open-params"],
)
def test_malformed_bytes_in_open_sent(data: bytes, expected: Notification) -> None:
    session = open_sent()
    session.receive_data(data, 0)
    assert messages(session.data_to_send()) == [expected]
    assert session.state is State.IDLE
    assert WantClose() in drain(session)


def test_malformed_update_resets_the_session() -> None:
    link = established()
    link.take("a")
    link.a.receive_data(update_with_attributes(b"\x40\x63\x00"), link.now)  # unrecognized well-known attribute
    assert notifications(link.a.data_to_send()) == [(3, 2)]
    events = link.take("a") + drain(link.a)
    assert link.a.state is State.IDLE
    (down,) = of_type(events, Down)
    assert isinstance(down, Down) and down.sent and down.notification is not None
    assert down.notification.data == b"\x40\x63\x00"


def test_header_error_in_established_is_a_message_header_error() -> None:
    link = established()
    link.a.receive_data(b"\xff" * 16 + b"\x00\x13\x07", link.now)
    assert notifications(link.a.data_to_send()) == [(1, 3)]


def test_bad_borr_length_is_a_route_refresh_error() -> None:
    link = established()
    link.a.receive_data(frame(5, b"\x00\x19\x01\x46\x00"), link.now)
    assert notifications(link.a.data_to_send()) == [(7, 1)]


@pytest.mark.parametrize(
    ("stage", "message", "subcode"),
    [
        ("open_sent", Keepalive().encode(), 1),
        ("open_sent", update_with_attributes(b""), 1),
        ("open_confirm", update_with_attributes(b""), 2),
        ("open_confirm", peer_open().encode(), 2),
        ("established", peer_open().encode(), 3),
    ],
)
def test_unexpected_message_is_an_fsm_error(stage: str, message: bytes, subcode: int) -> None:
    """RFC 6608 §4: Receive Unexpected Message in OpenSent (1) / OpenConfirm (2) / Established (3)."""
    session = open_sent()
    if stage != "open_sent":
        session.receive_data(peer_open().encode(), 0)
        session.data_to_send()
    if stage == "established":
        session.receive_data(Keepalive().encode(), 0)
        assert session.state is State.ESTABLISHED
        session.data_to_send()
    drain(session)
    session.receive_data(message, 1)
    assert notifications(session.data_to_send()) == [(5, subcode)]
    assert session.state is State.IDLE
    (down,) = of_type(drain(session), Down)
    assert isinstance(down, Down) and "unexpected" in down.reason


def test_notification_in_open_sent_is_not_answered() -> None:
    session = open_sent()
    session.receive_data(Notification(6, 3).encode(), 0)
    assert session.data_to_send() == b""
    events = drain(session)
    assert events[0] == NotificationReceived(Notification(6, 3))
    (down,) = of_type(events, Down)
    assert down == Down("NOTIFICATION received: CEASE/PEER_DECONFIGURED", Notification(6, 3), False)


def test_treat_as_withdraw_still_reaches_the_rib() -> None:
    link = established()
    link.take("b")
    (raw,) = pack_updates(ATTRIBUTES, evpn_routes(1), next_hop=bytes((192, 0, 2, 1)))
    assert raw[23:27] == b"\x40\x01\x01\x00"  # ORIGIN comes first
    bad = raw[:26] + b"\x05" + raw[27:]  # ORIGIN 5 is malformed: treat-as-withdraw (RFC 7606 §7.1)
    link.b.receive_data(bad, link.now)
    (received,) = drain(link.b)
    assert isinstance(received, UpdateReceived) and received.action is Action.TREAT_AS_WITHDRAW
    assert received.update.mp_reach is not None and list(received.update.mp_reach.nlri) == evpn_routes(1)
    assert link.b.state is State.ESTABLISHED and link.b.data_to_send() == b""


def test_afi_safi_disable_turns_the_family_off() -> None:
    link = established()
    link.take("b")
    # MP_REACH_NLRI for EVPN with a 5-byte next hop (RFC 7606 §7.11: AFI/SAFI disable)
    mp = bytes.fromhex("900e000a00194605c00002010200")
    update = update_with_attributes(b"\x40\x01\x01\x00" + b"\x40\x02\x00" + mp)
    link.b.receive_data(update, link.now)
    link.b.receive_data(update, link.now)
    events = drain(link.b)
    assert len(events) == 1
    (disabled,) = events
    assert isinstance(disabled, FamilyDisabled) and disabled.family == EVPN
    assert disabled.error.action is Action.AFI_SAFI_DISABLE
    assert link.b.state is State.ESTABLISHED and link.b.families == frozenset()
    link.a.send_routes(ATTRIBUTES, evpn_routes(1), A_ID)
    link.pump()
    assert link.take("b") == []  # later UPDATEs for the family are ignored
    with pytest.raises(ValueError, match="disabled"):
        link.b.send_end_of_rib(EVPN)


# --- stopping -------------------------------------------------------------------------------


def test_admin_shutdown_carries_the_rfc_9003_text() -> None:
    link = established()
    link.take("b")
    link.a.stop(link.now, "maintenance window")
    link.pump()
    assert link.a.state is State.IDLE and link.b.state is State.IDLE
    (received,) = of_type(link.take("b"), NotificationReceived)
    assert isinstance(received, NotificationReceived)
    assert (received.notification.code, received.notification.subcode) == (6, 2)
    assert received.notification.shutdown_communication == "maintenance window"
    (down_a,) = of_type(link.take("a"), Down)
    assert isinstance(down_a, Down) and down_a.sent and "maintenance window" in down_a.reason
    assert link.a.next_deadline() is None  # a stopped session does not restart
    link.advance(1000, step=50)
    assert link.a.state is State.IDLE


def test_admin_reset_restarts_after_the_idle_hold_time() -> None:
    link = established()
    link.take("a")
    link.take("b")
    link.a.reset(link.now, "new policy")
    link.pump()
    (received,) = of_type(link.take("b"), NotificationReceived)
    assert isinstance(received, NotificationReceived)
    assert (received.notification.code, received.notification.subcode) == (6, 4)
    assert received.notification.shutdown_communication == "new policy"
    assert link.b.state is State.IDLE and link.b.next_deadline() == link.now + 5  # b restarts too
    assert link.a.next_deadline() == link.now + 5
    link.advance(5)
    assert link.a.state is State.CONNECT and link.take("a")[-1] == WantConnect()


def test_prefix_limit_sends_cease_1_with_afi_safi_and_limit_and_stays_down() -> None:
    link = established()
    link.take("a")
    link.take("b")
    link.a.prefix_limit_reached(link.now, (25, 70), 1000)
    link.pump()
    (received,) = of_type(link.take("b"), NotificationReceived)
    assert isinstance(received, NotificationReceived)
    notification = received.notification
    assert (notification.code, notification.subcode) == (6, 1)  # RFC 4486 §4
    assert notification.data == bytes.fromhex("0019 46 000003e8")  # AFI 25, SAFI 70, limit 1000
    (down,) = of_type(link.take("a"), Down)
    assert isinstance(down, Down) and down.sent and "more than 1000" in down.reason
    assert link.a.state is State.IDLE and link.a.next_deadline() is None  # down until start()
    link.advance(1000, step=50)
    assert link.a.state is State.IDLE
    link.a.start(link.now)
    assert link.a.state is State.CONNECT


def test_prefix_limit_with_restart_starts_again_after_that_delay() -> None:
    link = established()
    link.a.prefix_limit_reached(link.now, (25, 70), 10, restart=300)
    link.pump()
    link.take("a")
    assert link.a.state is State.IDLE and link.a.next_deadline() == link.now + 300
    link.advance(299)
    assert link.a.state is State.IDLE
    link.advance(1)
    assert link.a.state is State.CONNECT and link.take("a")[-1] == WantConnect()
    link.b.start(link.now)
    link.connect()
    assert link.a.state is State.ESTABLISHED
    link.a.reset(link.now)  # a later restart waits the (backed-off) idle hold time again, not 300 s
    link.pump()
    assert link.a.next_deadline() == link.now + link.a.idle_hold_delay() == link.now + 10


def test_prefix_limit_outside_established_is_ignored() -> None:
    session = open_sent()
    session.prefix_limit_reached(1, (25, 70), 10)
    assert session.state is State.OPEN_SENT and session.data_to_send() == b"" and drain(session) == []


def test_stop_before_connecting_drops_the_attempt() -> None:
    session = Session(config_a())
    session.start(0)
    drain(session)
    session.stop(1)
    assert session.state is State.IDLE and session.data_to_send() == b""
    events = drain(session)
    assert events[0] == WantClose() and isinstance(events[1], Down)


def test_connection_lost_in_established() -> None:
    link = established()
    link.take("a")
    link.a.connection_lost(link.now)
    assert link.a.state is State.IDLE
    events = link.take("a") + drain(link.a)
    (down,) = of_type(events, Down)
    assert down == Down("TCP connection lost", None, False)
    assert link.a.negotiated is None and link.a.peer_router_id is None
    link.a.connection_lost(link.now)  # a late duplicate report is ignored
    assert drain(link.a) == []


def test_open_sent_connection_lost_goes_to_active() -> None:
    session = open_sent()
    session.connection_lost(3)
    assert session.state is State.ACTIVE and session.next_deadline() == 33
    assert of_type(drain(session), Down) == [Down("TCP connection lost", None, False)]


def test_open_sent_hold_timer_is_four_minutes() -> None:
    session = open_sent()
    session.handle_timer(239)
    assert session.state is State.OPEN_SENT
    session.handle_timer(240)
    assert notifications(session.data_to_send()) == [(4, 0)]
    assert session.state is State.IDLE


def test_connection_made_twice_is_local_misuse() -> None:
    session = open_sent()
    with pytest.raises(SessionStateError):
        session.connection_made(0)


def test_connection_made_when_idle_is_refused() -> None:
    session = Session(config_a())
    session.connection_made(0)
    assert session.state is State.IDLE and drain(session) == [WantClose()]
    session.start(0)
    session.stop(0)
    drain(session)
    session.connection_made(1)
    assert session.state is State.IDLE and drain(session) == [WantClose()]


def test_connection_accepted_while_waiting_to_restart() -> None:
    session = open_sent()
    session.connection_lost(0)
    session.handle_timer(30)  # Active -> Connect
    session.connection_failed(30)
    assert session.state is State.IDLE and session.next_deadline() is not None
    drain(session)
    session.connection_made(31)  # the peer connects during our idle hold: take it
    assert session.state is State.OPEN_SENT and not session.initiated_locally
    assert [type(m) for m in messages(session.data_to_send())] == [Open]
    assert session.next_deadline() == 31 + 240


# --- collisions (RFC 4271 §6.8) -------------------------------------------------------------


def test_resolve_collision() -> None:
    # We have the higher Identifier: keep the connection we initiated.
    assert resolve_collision("10.0.0.2", "10.0.0.1", existing_initiated_locally=True) is True
    assert resolve_collision("10.0.0.2", "10.0.0.1", existing_initiated_locally=False) is False
    # The peer has the higher Identifier: keep the connection it initiated.
    assert resolve_collision("10.0.0.1", "10.0.0.2", existing_initiated_locally=True) is False
    assert resolve_collision("10.0.0.1", "10.0.0.2", existing_initiated_locally=False) is True
    # Compared as unsigned integers, not as text.
    assert resolve_collision("10.0.0.10", "10.0.0.9", existing_initiated_locally=True) is True
    # Equal Identifiers: the larger AS wins (RFC 6286 §2.3).
    assert resolve_collision("10.0.0.1", "10.0.0.1", existing_initiated_locally=True, local_asn=2, peer_asn=1)
    with pytest.raises(ValueError):
        resolve_collision("10.0.0.1", "10.0.0.1", existing_initiated_locally=True)


def test_collision_between_two_connection_pairs() -> None:
    """A and B connect to each other at once; both keep the connection B (higher Identifier) opened."""
    a1 = Session(config_a())  # A's outgoing connection (1)
    b2 = Session(config_b(passive=False))  # B's outgoing connection (2)
    b1 = Session(config_b())  # B's session for the connection A opened
    a2 = Session(config_a(passive=True))  # A's session for the connection B opened
    for session in (a1, b2, b1, a2):
        session.start(0)
    assert drain(a1) == [WantConnect()] and drain(b2) == [WantConnect()]
    conn1, conn2 = Link(a1, b1), Link(a2, b2)
    for link in (conn1, conn2):
        link.up = True
        link.a.connection_made(0)
        link.b.connection_made(0)
        # Both OPENs cross on the wire: each side reaches OpenConfirm.
        x, y = link.a.data_to_send(), link.b.data_to_send()
        link.b.receive_data(x, 0)
        link.a.receive_data(y, 0)
        assert link.a.state is State.OPEN_CONFIRM and link.b.state is State.OPEN_CONFIRM
    assert a1.initiated_locally and not a2.initiated_locally and b2.initiated_locally and not b1.initiated_locally

    # Each speaker compares Identifiers: its existing session is the one it initiated.
    assert a1.peer_router_id is not None and b2.peer_router_id is not None
    keep_a1 = resolve_collision(A_ID, a1.peer_router_id, existing_initiated_locally=a1.initiated_locally)
    keep_b2 = resolve_collision(B_ID, b2.peer_router_id, existing_initiated_locally=b2.initiated_locally)
    assert keep_a1 is False and keep_b2 is True
    a1.collision_dump(0)
    b1.collision_dump(0)
    assert notifications(a1.data_to_send()) == [(6, 7)] and notifications(b1.data_to_send()) == [(6, 7)]
    assert a1.state is State.IDLE and b1.state is State.IDLE
    assert a1.next_deadline() is None  # the dumped session does not restart by itself
    down = of_type(drain(a1), Down)
    assert len(down) == 1 and isinstance(down[0], Down) and down[0].notification == Notification(6, 7)

    conn2.pump()
    assert a2.state is State.ESTABLISHED and b2.state is State.ESTABLISHED
    assert a2.peer_router_id == B_ID and b2.peer_router_id == A_ID


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("hold_time", 2),
        ("router_id", "0.0.0.0"),
        ("router_id", "2001:db8::1"),
        ("peer_asn", 0),
        ("families", ()),
        ("connect_retry_time", 0),
        ("delay_open_time", -1),
    ],
)
def test_config_errors_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key):
        config_a(**{key: value})


def test_open_advertises_the_configured_capabilities() -> None:
    config = config_a(hostname="leaf1", add_path=[(25, 70, 3)], local_asn=4_200_000_001)
    message = config.open_message()
    assert message.asn == AS_TRANS and message.speaker_asn == 4_200_000_001
    codes = [c.code for c in message.capabilities]
    assert codes == [1, 2, 70, 65, 6, 64, 69, 73]
    assert Fqdn("leaf1") in message.capabilities


def test_update_family_other_than_negotiated_is_ignored() -> None:
    link = established()
    link.take("b")
    # An IPv4 unicast UPDATE on an EVPN-only session (RFC 4760 §7: not negotiated)
    body = (
        b"\x00\x00\x00\x0e"
        + b"\x40\x01\x01\x00"
        + b"\x40\x02\x00"
        + b"\x40\x03\x04\xc0\x00\x02\x01"
        + b"\x18\x0a\x00\x00"
    )
    link.b.receive_data(frame(2, body), link.now)
    assert drain(link.b) == [] and link.b.state is State.ESTABLISHED
    assert link.b.counters.updates_in == 1


def test_late_connect_failure_leaves_an_accepted_connection_alone() -> None:
    """A failure report for an abandoned attempt must not drop the connection that replaced it."""
    session = Session(config_a())
    session.start(0)
    assert drain(session)[-1] == WantConnect()
    session.connection_made(1, initiated_locally=False)  # the peer's connection came first
    assert session.state is State.OPEN_SENT
    session.connection_failed(2)  # our own attempt gives up later
    assert session.state is State.OPEN_SENT
    assert not of_type(drain(session), Down)
