"""A sans-I/O BGP session: the RFC 4271 §8 state machine driven by bytes and time.

:class:`Session` owns no socket and reads no clock.  The caller (the "edge") feeds it
what happened -- ``start``, ``connection_made``, ``receive_data``, ``handle_timer``,
each with the current time ``now`` in seconds -- and then collects what to do:
:meth:`Session.data_to_send` (bytes for the TCP connection), :meth:`Session.next_event`
(typed :data:`SessionEvent` values, including :class:`WantConnect` and
:class:`WantClose`) and :meth:`Session.next_deadline` (when to call
:meth:`Session.handle_timer` next).  This is the h11/aioquic model.

An edge loop looks like::

    session.start(now)
    while True:
        while (event := session.next_event()) is not None:
            ...  # WantConnect -> open TCP, then connection_made / connection_failed
                 # WantClose  -> send data_to_send(), then close the socket
        sock.send(session.data_to_send())
        # wait for bytes or until session.next_deadline(), then
        session.receive_data(data, now) or session.handle_timer(now)

One :class:`Session` runs one FSM and owns at most one TCP connection at a time.  After
it goes down it restarts by itself (IdleHoldTime damping, RFC 4271 §8.1.1) until
:meth:`Session.stop` is called.  A second, colliding connection (§6.8) gets a second
:class:`Session`; :func:`resolve_collision` says which one to keep and
:meth:`Session.collision_dump` closes the other.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TypeAlias

import attrs
import netaddr

from evpn.errors import Action, BGPError, ConfigError
from evpn.session import fsm
from evpn.session.fsm import Event, Guard, State, Step
from evpn.session.negotiation import Family, Negotiated, negotiate
from evpn.types import ip_bytes
from evpn.wire.attributes import Attribute, Nlri
from evpn.wire.capabilities import (
    AddPath,
    Capability,
    EnhancedRouteRefresh,
    ExtendedMessage,
    FourOctetAS,
    Fqdn,
    GracefulRestart,
    Multiprotocol,
    RouteRefreshCapability,
)
from evpn.wire.codes import (
    CeaseSubcode,
    ErrorCode,
    FsmSubcode,
    MessageType,
    OpenSubcode,
)
from evpn.wire.context import Context
from evpn.wire.messages import (
    Keepalive,
    MessageReader,
    Notification,
    Open,
    RouteRefresh,
    Update,
    decode_message,
    end_of_rib,
    pack_updates,
    pack_withdrawals,
)

__all__ = [
    "LARGE_HOLD_TIME",
    "BeginRouteRefresh",
    "Down",
    "EndOfRib",
    "EndRouteRefresh",
    "Established",
    "FamilyDisabled",
    "NotificationReceived",
    "RouteRefreshRequested",
    "Session",
    "SessionConfig",
    "SessionCounters",
    "SessionEvent",
    "SessionStateError",
    "UpdateReceived",
    "WantClose",
    "WantConnect",
    "resolve_collision",
]

LARGE_HOLD_TIME = 240.0
"""The HoldTimer while waiting for the peer's OPEN: "a large value", 4 minutes (RFC 4271 §8.2.2)."""

EVPN: Family = (25, 70)


class SessionStateError(RuntimeError):
    """The caller asked for something the session cannot do in its current state
    (e.g. send an UPDATE before Established).  Local misuse, never a peer's fault."""


# --- configuration ---------------------------------------------------------------------


def _check_config(config: SessionConfig) -> None:
    def fail(key: str, why: str) -> None:
        raise ConfigError(f"{key}: {why}")

    for key in ("local_asn", "peer_asn"):
        value = getattr(config, key)
        if not isinstance(value, int) or not 1 <= value <= 0xFFFFFFFF:
            fail(key, f"must be an ASN in 1..4294967295, got {value!r}")
    try:
        router_id = ip_bytes(config.router_id)
    except ValueError:
        router_id = b""
    if len(router_id) != 4 or router_id == b"\0\0\0\0":
        fail("router_id", f"must be a non-zero IPv4 address, got {config.router_id!r}")
    if not (config.hold_time == 0 or 3 <= config.hold_time <= 0xFFFF):
        fail("hold_time", f"must be 0 or 3..65535 seconds (RFC 4271 §4.2), got {config.hold_time!r}")
    if not config.families:
        fail("families", "at least one (AFI, SAFI) is needed")
    for afi, safi in config.families:
        if not (0 <= afi <= 0xFFFF and 0 <= safi <= 0xFF):
            fail("families", f"({afi}, {safi}) is not an (AFI, SAFI)")
    if config.connect_retry_time <= 0:
        fail("connect_retry_time", f"must be positive, got {config.connect_retry_time!r}")
    if config.delay_open_time is not None and config.delay_open_time <= 0:
        fail("delay_open_time", f"must be positive or None, got {config.delay_open_time!r}")
    if config.idle_hold_time <= 0:
        fail("idle_hold_time", f"must be positive, got {config.idle_hold_time!r}")
    if config.max_idle_hold_time < config.idle_hold_time:
        fail("max_idle_hold_time", "must be at least idle_hold_time")
    if not 0 <= config.graceful_restart_time <= 0xFFF:
        fail("graceful_restart_time", f"must be 0..4095 seconds (RFC 4724 §3), got {config.graceful_restart_time!r}")


def _families(value: Sequence[Sequence[int]]) -> tuple[Family, ...]:
    return tuple((int(afi), int(safi)) for afi, safi in value)


def _add_path(value: Sequence[Sequence[int]]) -> tuple[tuple[int, int, int], ...]:
    return tuple((int(a), int(s), int(m)) for a, s, m in value)


@attrs.frozen
class SessionConfig:
    """What one BGP session is configured with.

    ``families`` are advertised as multiprotocol capabilities (RFC 4760 §8).  Route
    refresh (RFC 2918), enhanced route refresh (RFC 7313), 4-octet AS (RFC 6793),
    extended messages (RFC 8654) and graceful restart (RFC 4724, restart time
    ``graceful_restart_time``, no families: we preserve no forwarding state) are always
    advertised; FQDN (``hostname``/``domain_name``) when ``hostname`` is set; ADD-PATH
    (RFC 7911) for the ``(afi, safi, mode)`` entries of ``add_path``.

    Timers, in seconds: ``connect_retry_time`` (ConnectRetryTimer, RFC 4271 §10);
    ``delay_open_time`` (``None``: the DelayOpen attribute is FALSE, §8.1.1);
    ``idle_hold_time`` is the first wait before an automatic restart, doubled after each
    further consecutive failure up to ``max_idle_hold_time`` (§8.1.1 IdleHoldTime).
    ``passive`` sessions (PassiveTcpEstablishment) never connect, they wait in Active.
    """

    local_asn: int
    router_id: str
    peer_asn: int
    hold_time: int = 90
    families: tuple[Family, ...] = attrs.field(default=(EVPN,), converter=_families)
    passive: bool = False
    connect_retry_time: float = 30.0
    delay_open_time: float | None = None
    idle_hold_time: float = 5.0
    max_idle_hold_time: float = 120.0
    graceful_restart_time: int = 120
    hostname: str | None = None
    domain_name: str = ""
    add_path: tuple[tuple[int, int, int], ...] = attrs.field(default=(), converter=_add_path)

    def __attrs_post_init__(self) -> None:
        _check_config(self)

    @property
    def capabilities(self) -> tuple[Capability, ...]:
        """The capabilities our OPEN carries, in order."""
        caps: list[Capability] = [Multiprotocol(afi, safi) for afi, safi in self.families]
        caps += [
            RouteRefreshCapability(),
            EnhancedRouteRefresh(),
            FourOctetAS(self.local_asn),
            ExtendedMessage(),
            GracefulRestart(self.graceful_restart_time),
        ]
        if self.add_path:
            caps.append(AddPath(self.add_path))
        if self.hostname is not None:
            caps.append(Fqdn(self.hostname, self.domain_name))
        return tuple(caps)

    def open_message(self) -> Open:
        """Our OPEN (RFC 4271 §4.2)."""
        return Open.build(self.local_asn, self.hold_time, self.router_id, self.capabilities)


# --- events ------------------------------------------------------------------------------


@attrs.frozen
class WantConnect:
    """Open a TCP connection to the peer, then call ``connection_made`` or ``connection_failed``.

    A new request replaces any attempt still in progress (ConnectRetryTimer, RFC 4271 §8.2.2).
    """


@attrs.frozen
class WantClose:
    """Send what :meth:`Session.data_to_send` returns, then close the TCP connection
    (or abandon the connection attempt).  The session no longer owns it."""


@attrs.frozen
class Established:
    """The session reached Established (RFC 4271 §8.2.2): UPDATEs may flow."""

    negotiated: Negotiated


@attrs.frozen
class Down:
    """The connection (or connection attempt) ended and the FSM left it (RFC 4271 §8.2.2).

    ``notification`` is the NOTIFICATION that ended it, if any: sent by us when ``sent``,
    received from the peer otherwise.  If the session had been Established, its routes
    are gone (the RIB flushes the peer's Adj-RIB-In).
    """

    reason: str
    notification: Notification | None = None
    sent: bool = False


@attrs.frozen
class UpdateReceived:
    """An UPDATE for a negotiated, enabled family (RFC 4271 §4.3).

    ``action`` is the RFC 7606 approach the receiver must apply (``None`` when the UPDATE
    was clean): :attr:`Action.TREAT_AS_WITHDRAW` means every route in it is withdrawn,
    :attr:`Action.ATTRIBUTE_DISCARD` that some attributes were dropped (already absent
    from ``update.attributes``).  AFI/SAFI disable is handled by the session
    (:class:`FamilyDisabled`) and never reaches here.
    """

    update: Update
    action: Action | None


@attrs.frozen
class EndOfRib:
    """The peer sent End-of-RIB for ``family`` (RFC 4724 §2)."""

    family: Family


@attrs.frozen
class RouteRefreshRequested:
    """The peer asks us to re-advertise ``family`` (RFC 2918 §4)."""

    family: Family


@attrs.frozen
class BeginRouteRefresh:
    """BoRR: the peer starts re-advertising ``family``; mark its routes stale (RFC 7313 §4)."""

    family: Family


@attrs.frozen
class EndRouteRefresh:
    """EoRR: the peer finished re-advertising ``family``; purge what is still stale (RFC 7313 §4)."""

    family: Family


@attrs.frozen
class NotificationReceived:
    """The peer sent a NOTIFICATION (RFC 4271 §4.5); a :class:`Down` follows."""

    notification: Notification


@attrs.frozen
class FamilyDisabled:
    """A malformed MP_REACH_NLRI/MP_UNREACH_NLRI disabled ``family`` for the rest of this
    session (RFC 7606 §2, RFC 4760 §7): its routes from this peer are gone, later UPDATEs
    for it are ignored, and nothing more is sent for it."""

    family: Family
    error: BGPError


SessionEvent: TypeAlias = (
    WantConnect
    | WantClose
    | Established
    | Down
    | UpdateReceived
    | EndOfRib
    | RouteRefreshRequested
    | BeginRouteRefresh
    | EndRouteRefresh
    | NotificationReceived
    | FamilyDisabled
)


@attrs.frozen
class SessionCounters:
    """A snapshot of a session's counters (over its whole life, all connections).

    ``messages_in``/``messages_out`` count every message, ``updates_in``/``updates_out``
    the UPDATEs among them, and ``*_by_type`` break them down by :class:`MessageType`.
    ``connect_retry_counter`` is RFC 4271 §8's ConnectRetryCounter (it drives the idle
    hold backoff); ``established_transitions`` counts how often the session came up.
    """

    messages_in: int
    messages_out: int
    updates_in: int
    updates_out: int
    messages_in_by_type: Mapping[MessageType, int] = attrs.field(hash=False)
    messages_out_by_type: Mapping[MessageType, int] = attrs.field(hash=False)
    connect_retry_counter: int = 0
    established_transitions: int = 0


# --- collision detection -----------------------------------------------------------------


def resolve_collision(
    local_router_id: str,
    peer_router_id: str,
    *,
    existing_initiated_locally: bool,
    local_asn: int | None = None,
    peer_asn: int | None = None,
) -> bool:
    """Which of two connections to the same peer survives a collision (RFC 4271 §6.8).

    Returns ``True`` to keep the *existing* connection (the one whose side we started
    with ``existing_initiated_locally``) and close the other, ``False`` to close the
    existing one and keep the other.  The connection kept is the one initiated by the
    speaker with the higher BGP Identifier, compared as 4-octet unsigned integers
    (RFC 6286 §2.3).  When both Identifiers are equal (allowed between ASes, RFC 6286
    §2.2) the speaker with the larger AS number wins; pass ``local_asn``/``peer_asn``.

    Call it once both sessions know the peer's Identifier (``peer_router_id`` is set from
    OpenConfirm on) and close the loser with :meth:`Session.collision_dump`.
    """
    local, peer = int(netaddr.IPAddress(local_router_id)), int(netaddr.IPAddress(peer_router_id))
    if local == peer:
        if local_asn is None or peer_asn is None or local_asn == peer_asn:
            raise ValueError(
                "equal BGP Identifiers: pass distinct local_asn and peer_asn to break the tie (RFC 6286 §2.3)"
            )
        local_wins = local_asn > peer_asn
    else:
        local_wins = local > peer
    return existing_initiated_locally == local_wins


# --- the session -------------------------------------------------------------------------

_TIMER_EVENTS = (
    Event.CONNECT_RETRY_TIMER_EXPIRES,
    Event.HOLD_TIMER_EXPIRES,
    Event.KEEPALIVE_TIMER_EXPIRES,
    Event.DELAY_OPEN_TIMER_EXPIRES,
    Event.IDLE_HOLD_TIMER_EXPIRES,
)
_TIMER_NAMES = {
    Event.CONNECT_RETRY_TIMER_EXPIRES: "ConnectRetryTimer",
    Event.HOLD_TIMER_EXPIRES: "HoldTimer",
    Event.KEEPALIVE_TIMER_EXPIRES: "KeepaliveTimer",
    Event.DELAY_OPEN_TIMER_EXPIRES: "DelayOpenTimer",
    Event.IDLE_HOLD_TIMER_EXPIRES: "IdleHoldTimer",
}
_FSM_SUBCODES = {
    State.OPEN_SENT: FsmSubcode.UNEXPECTED_IN_OPENSENT,
    State.OPEN_CONFIRM: FsmSubcode.UNEXPECTED_IN_OPENCONFIRM,
    State.ESTABLISHED: FsmSubcode.UNEXPECTED_IN_ESTABLISHED,
}
_ERROR_EVENTS: dict[int, Event] = {
    ErrorCode.MESSAGE_HEADER: Event.BGP_HEADER_ERR,
    ErrorCode.OPEN_MESSAGE: Event.BGP_OPEN_MSG_ERR,
}
_U16 = struct.Struct("!H")


def _mp_error_family(error: BGPError) -> Family | None:
    """The (AFI, SAFI) of the MP_REACH_NLRI/MP_UNREACH_NLRI an RFC 7606 AFI/SAFI-disable
    error is about: its data is the whole attribute (flags, type, length, value)."""
    data = error.data
    if len(data) < 3:
        return None
    start = 4 if data[0] & 0x10 else 3
    if len(data) < start + 3:
        return None
    return (_U16.unpack_from(data, start)[0], data[start + 2])


def _update_families(update: Update) -> set[Family]:
    families: set[Family] = set()
    if update.nlri or update.withdrawn:
        families.add((1, 1))
    for attr in (update.mp_reach, update.mp_unreach):
        if attr is not None:
            families.add((attr.afi, attr.safi))
    return families


class Session:
    """One BGP peer's FSM (RFC 4271 §8) over one TCP connection at a time; sans-I/O.

    Every input takes ``now`` (seconds, any monotonic origin).  Remote misbehaviour never
    raises: it becomes a NOTIFICATION in :meth:`data_to_send` and events; local misuse
    raises :class:`SessionStateError` or :class:`ValueError`.
    """

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self._open = config.open_message()
        self._open_bytes = self._open.encode()
        self._state = State.IDLE
        self._timers: dict[Event, float] = {}
        self._events: deque[SessionEvent] = deque()
        self._out: list[bytes] = []
        self._reader = MessageReader()
        self._connected = False
        self._initiated_locally = False
        self._auto_restart = False
        self._next_idle_hold: float | None = None  # once, instead of idle_hold_delay()
        self._now = 0.0
        self._connect_retry_counter = 0
        self._established_at: float | None = None
        self._established_transitions = 0
        self._in = dict.fromkeys(MessageType, 0)
        self._out_count = dict.fromkeys(MessageType, 0)
        # Per connection:
        self._negotiated: Negotiated | None = None
        self._recv_ctx = Context()
        self._send_ctx = Context()
        self._disabled: set[Family] = set()
        # Per event being processed:
        self._reason = ""
        self._error: BGPError | None = None
        self._cease = Notification.cease(CeaseSubcode.ADMINISTRATIVE_RESET)
        self._pending: list[SessionEvent] = []
        self._sent: Notification | None = None
        self._received: Notification | None = None

    # --- properties ----------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The FSM state (RFC 4271 §8.2.2)."""
        return self._state

    @property
    def negotiated(self) -> Negotiated | None:
        """What the OPENs agreed on; known in OpenConfirm and Established, else ``None``."""
        return self._negotiated

    @property
    def peer_router_id(self) -> str | None:
        """The peer's BGP Identifier, known from OpenConfirm on (for collision detection, §6.8)."""
        return self._negotiated.peer_router_id if self._negotiated else None

    @property
    def local_open(self) -> Open:
        """The OPEN this session sends."""
        return self._open

    @property
    def families(self) -> frozenset[Family]:
        """The negotiated families not disabled by RFC 7606 (empty unless Established or OpenConfirm)."""
        if self._negotiated is None:
            return frozenset()
        return self._negotiated.families - self._disabled

    @property
    def initiated_locally(self) -> bool:
        """Whether we opened the current TCP connection (for collision detection, §6.8).

        :meth:`connection_made` sets it: from its ``initiated_locally`` argument, else
        True in Connect and False otherwise.  The edge may also set it.
        """
        return self._initiated_locally

    @initiated_locally.setter
    def initiated_locally(self, value: bool) -> None:
        self._initiated_locally = value

    @property
    def counters(self) -> SessionCounters:
        """A snapshot of the message counters."""
        received, sent = self._in, self._out_count
        return SessionCounters(
            messages_in=sum(received.values()),
            messages_out=sum(sent.values()),
            updates_in=received[MessageType.UPDATE],
            updates_out=sent[MessageType.UPDATE],
            messages_in_by_type=MappingProxyType(dict(received)),
            messages_out_by_type=MappingProxyType(dict(sent)),
            connect_retry_counter=self._connect_retry_counter,
            established_transitions=self._established_transitions,
        )

    def idle_hold_delay(self) -> float:
        """How long the next automatic restart waits: ``idle_hold_time`` doubled for each
        consecutive failure after the first (ConnectRetryCounter), at most
        ``max_idle_hold_time`` (RFC 4271 §8.1.1 IdleHoldTime)."""
        config = self.config
        exponent = max(self._connect_retry_counter - 1, 0)
        if exponent > 32:
            return config.max_idle_hold_time
        return min(config.idle_hold_time * 2.0**exponent, config.max_idle_hold_time)

    # --- administrative inputs -----------------------------------------------------------

    def start(self, now: float) -> None:
        """ManualStart (Event 1), or ManualStart_with_PassiveTcpEstablishment (Event 4) for a
        passive session (RFC 4271 §8.1.2).  Ignored unless Idle.  Enables automatic restarts."""
        self._tick(now)
        self._auto_restart = True
        self._timers.pop(Event.IDLE_HOLD_TIMER_EXPIRES, None)
        passive = self.config.passive
        self._fire(Event.MANUAL_START_WITH_PASSIVE_TCP_ESTABLISHMENT if passive else Event.MANUAL_START, now)

    def stop(self, now: float, communication: str = "") -> None:
        """ManualStop (Event 2): a Cease/Administrative Shutdown NOTIFICATION (RFC 4486 §4)
        with the RFC 9003 shutdown ``communication`` if an OPEN was sent, then Idle.  No
        automatic restart follows; :meth:`start` starts again."""
        self._tick(now)
        self._auto_restart = False
        self._timers.pop(Event.IDLE_HOLD_TIMER_EXPIRES, None)
        self._cease = Notification.cease(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, communication)
        self._fire(Event.MANUAL_STOP, now, "administrative shutdown" + (f": {communication}" if communication else ""))

    def reset(self, now: float, communication: str = "") -> None:
        """AutomaticStop (Event 8) with Cease/Administrative Reset (RFC 4486 §4, RFC 9003 text):
        the connection is closed and the session restarts after the idle hold time."""
        self._tick(now)
        self._cease = Notification.cease(CeaseSubcode.ADMINISTRATIVE_RESET, communication)
        self._fire(Event.AUTOMATIC_STOP, now, "administrative reset" + (f": {communication}" if communication else ""))

    def prefix_limit_reached(self, now: float, family: Family, limit: int, restart: float | None = None) -> None:
        """The peer sent more than ``limit`` routes of ``family``: a Cease/Maximum Number of
        Prefixes Reached NOTIFICATION whose data is the AFI, the SAFI and the limit (RFC 4486 §4),
        then Idle (AutomaticStop, Event 8).  The session starts again ``restart`` seconds later,
        or with ``None`` only on :meth:`start`.  Ignored unless Established."""
        self._tick(now)
        if self._state is not State.ESTABLISHED:
            return
        afi, safi = family
        self._cease = Notification(
            ErrorCode.CEASE, CeaseSubcode.MAXIMUM_PREFIXES_REACHED, struct.pack("!HBI", afi, safi, limit)
        )
        self._auto_restart = restart is not None
        self._next_idle_hold = restart
        self._fire(
            Event.AUTOMATIC_STOP, now, f"maximum number of prefixes reached: more than {limit} (AFI {afi} SAFI {safi})"
        )

    def collision_dump(self, now: float) -> None:
        """OpenCollisionDump (Event 23): close this connection with Cease/Connection Collision
        Resolution (RFC 4486 §4) because :func:`resolve_collision` chose the other one.
        The session does not restart by itself."""
        self._tick(now)
        self._auto_restart = False
        self._timers.pop(Event.IDLE_HOLD_TIMER_EXPIRES, None)
        self._cease = Notification.cease(CeaseSubcode.CONNECTION_COLLISION_RESOLUTION)
        self._fire(Event.OPEN_COLLISION_DUMP, now, "connection collision resolution (RFC 4271 §6.8)")

    # --- TCP inputs ----------------------------------------------------------------------

    def connection_made(self, now: float, *, initiated_locally: bool | None = None) -> None:
        """The TCP connection is up: Tcp_CR_Acked (Event 16) for one we initiated,
        TcpConnectionConfirmed (Event 17) for one we accepted (RFC 4271 §8.1.4).

        ``initiated_locally`` defaults to ``True`` in Connect and ``False`` otherwise.  In
        Idle, a connection accepted while an automatic restart is pending starts the session
        at once (AutomaticStart_with_PassiveTcpEstablishment, Event 5, then Event 17); a
        stopped session refuses it (a :class:`WantClose` follows).  Raises
        :class:`SessionStateError` if the session already owns a connection: a second
        connection needs its own :class:`Session` (§6.8).
        """
        self._tick(now)
        if self._connected:
            raise SessionStateError(f"connection_made in {self._state}: this session already has a connection")
        if initiated_locally is None:
            initiated_locally = self._state is State.CONNECT
        self._initiated_locally = initiated_locally
        if self._state is State.IDLE and self._auto_restart and not initiated_locally:
            self._fire(Event.AUTOMATIC_START_WITH_PASSIVE_TCP_ESTABLISHMENT, now)
        if self._state not in (State.CONNECT, State.ACTIVE):
            self._fire(Event.TCP_CONNECTION_CONFIRMED, now)
            self._emit(WantClose())
            return
        self._connected = True
        self._out.clear()
        self._reader = MessageReader()
        self._fire(Event.TCP_CR_ACKED if initiated_locally else Event.TCP_CONNECTION_CONFIRMED, now)

    def connection_failed(self, now: float) -> None:
        """The connection attempt failed: TcpConnectionFails (Event 18).  Ignored when the
        session is not waiting for a connection (a late report of an abandoned attempt)."""
        self._tick(now)
        if not self._connected and self._state is State.CONNECT:
            self._fire(Event.TCP_CONNECTION_FAILS, now, "TCP connection failed")

    def connection_lost(self, now: float) -> None:
        """The TCP connection closed or broke: TcpConnectionFails (Event 18).  Ignored when the
        session does not own a connection (e.g. after it asked for :class:`WantClose`)."""
        self._tick(now)
        if not self._connected:
            return
        self._connected = False
        self._out.clear()
        self._fire(Event.TCP_CONNECTION_FAILS, now, "TCP connection lost")

    # --- bytes in and out ----------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes read from the TCP connection, in any chunking (RFC 4271 §4.1).

        Complete messages are processed at once.  Bytes that arrive while the session has
        no connection (after :class:`WantClose`) are ignored.
        """
        self._tick(now)
        if not self._connected:
            return
        self._reader.feed(data)
        while self._connected:
            try:
                raw = next(self._reader, None)
            except BGPError as error:
                self._error = error
                self._fire(Event.BGP_HEADER_ERR, now, f"bad message header: {error.field}")
                return
            if raw is None:
                return
            self._receive_message(raw, now)

    def data_to_send(self) -> bytes:
        """Everything queued for the TCP connection; the queue is emptied."""
        data = b"".join(self._out)
        self._out.clear()
        return data

    def next_event(self) -> SessionEvent | None:
        """The oldest event not yet returned, or ``None``."""
        return self._events.popleft() if self._events else None

    # --- time ----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When the earliest armed timer expires (call :meth:`handle_timer` then), or ``None``."""
        return min(self._timers.values(), default=None)

    def handle_timer(self, now: float) -> None:
        """Fire every timer whose deadline is at or before ``now``, earliest first
        (RFC 4271 §8.1.3 Events 9-13).  Calling it early does nothing."""
        self._tick(now)
        for _ in range(16):  # each expiry may re-arm timers relative to now, i.e. later
            due = [(when, event) for event, when in self._timers.items() if when <= now]
            if not due:
                return
            _, event = min(due)
            del self._timers[event]
            self._fire(event, now, f"{_TIMER_NAMES[event]} expired")

    # --- sending -------------------------------------------------------------------------

    def send_routes(
        self,
        attributes: Sequence[Attribute],
        routes: Sequence[Nlri],
        next_hop: bytes | str,
        family: Family = EVPN,
        *,
        now: float | None = None,
    ) -> None:
        """Queue UPDATEs announcing ``routes`` with ``attributes`` (packed as few per message
        as the negotiated size allows, RFC 4760 §3 / RFC 8654).  ``next_hop`` is an address
        or its raw 4/16/32 bytes (unused for IPv4 unicast, whose NEXT_HOP is an attribute).

        ``now`` (default: the latest time the session was given) restarts the
        KeepaliveTimer (RFC 4271 §4.4).  Raises :class:`SessionStateError` unless
        Established, :class:`ValueError` for a family not negotiated or disabled.
        """
        ctx = self._check_send(family)
        hop = next_hop if isinstance(next_hop, bytes) else ip_bytes(next_hop)
        messages = pack_updates(attributes, routes, afi=family[0], safi=family[1], next_hop=hop, ctx=ctx)
        self._send_raw(messages, MessageType.UPDATE, now)

    def send_withdrawals(self, routes: Sequence[Nlri], family: Family = EVPN, *, now: float | None = None) -> None:
        """Queue UPDATEs withdrawing ``routes`` (RFC 4760 §4).  Same rules as :meth:`send_routes`."""
        ctx = self._check_send(family)
        self._send_raw(pack_withdrawals(routes, afi=family[0], safi=family[1], ctx=ctx), MessageType.UPDATE, now)

    def send_end_of_rib(self, family: Family = EVPN, *, now: float | None = None) -> None:
        """Queue the End-of-RIB marker for ``family`` (RFC 4724 §2)."""
        ctx = self._check_send(family)
        self._send_raw([end_of_rib(*family).encode(ctx)], MessageType.UPDATE, now)

    def send_route_refresh(self, family: Family = EVPN, *, subtype: int = 0, now: float | None = None) -> None:
        """Queue a ROUTE-REFRESH for ``family`` (RFC 2918 §3): a request (``subtype`` 0), or
        BoRR (1) / EoRR (2) around a re-advertisement (RFC 7313 §4).

        Raises :class:`ValueError` if the peer did not advertise route refresh (RFC 2918 §4)
        or, for BoRR/EoRR, enhanced route refresh (RFC 7313 §4).
        """
        ctx = self._check_send(family)
        negotiated = self._negotiated
        assert negotiated is not None
        if not negotiated.route_refresh:
            raise ValueError("the peer did not advertise the route refresh capability (RFC 2918 §4)")
        if subtype not in (0, 1, 2):
            raise ValueError(f"ROUTE-REFRESH subtype must be 0, 1 or 2, got {subtype!r}")
        if subtype and not negotiated.enhanced_route_refresh:
            raise ValueError("BoRR/EoRR need the enhanced route refresh capability (RFC 7313 §4)")
        message = RouteRefresh(family[0], family[1], subtype).encode(ctx)
        self._send_raw([message], MessageType.ROUTE_REFRESH, now)

    def _check_send(self, family: Family) -> Context:
        if self._state is not State.ESTABLISHED:
            raise SessionStateError(f"cannot send in {self._state}: the session is not Established")
        family = (int(family[0]), int(family[1]))
        if family not in self.families:
            negotiated = self._negotiated.families if self._negotiated else frozenset()
            why = "was disabled (RFC 7606)" if family in negotiated else "was not negotiated"
            raise ValueError(f"family {family[0]}/{family[1]} {why}")
        return self._send_ctx

    def _send_raw(self, messages: Sequence[bytes], msg_type: MessageType, now: float | None) -> None:
        if now is not None:
            self._tick(now)
        for message in messages:
            self._queue(message, msg_type)

    # --- internals -----------------------------------------------------------------------

    def _tick(self, now: float) -> None:
        if now > self._now:
            self._now = now

    def _emit(self, event: SessionEvent) -> None:
        self._events.append(event)

    def _queue(self, message: bytes, msg_type: MessageType) -> None:
        """Queue one encoded message; KEEPALIVE and UPDATE restart the KeepaliveTimer (§4.4)."""
        self._out.append(message)
        self._out_count[msg_type] += 1
        if msg_type in (MessageType.KEEPALIVE, MessageType.UPDATE) and self._negotiated is not None:
            self._arm_keepalive(self._now)

    def _arm(self, event: Event, delay: float, now: float) -> None:
        self._timers[event] = now + delay

    def _arm_keepalive(self, now: float) -> None:
        if self._negotiated is None or self._negotiated.hold_time == 0:
            self._timers.pop(Event.KEEPALIVE_TIMER_EXPIRES, None)
        else:
            self._arm(Event.KEEPALIVE_TIMER_EXPIRES, self._negotiated.keepalive_time, now)

    def _guards(self) -> set[Guard]:
        guards = set()
        if self.config.delay_open_time is not None:
            guards.add(Guard.DELAY_OPEN)
        if Event.DELAY_OPEN_TIMER_EXPIRES in self._timers:
            guards.add(Guard.DELAY_OPEN_TIMER_RUNNING)
        if self.config.passive:
            guards.add(Guard.PASSIVE)
        return guards

    def _fire(self, event: Event, now: float, reason: str = "") -> None:
        """Look ``event`` up in the table (or the state's "any other event" row) and run the row."""
        source = self._state
        try:
            target, steps = fsm.transition(source, event, self._guards())
        except fsm.UnexpectedEventError:
            target, steps = fsm.OTHER_EVENTS[source]
            if target is not source and event.is_message:
                reason = f"{event} unexpected in {source}" + (f" ({reason})" if reason else "")
        self._reason = reason or f"{event} in {source}"
        for step in steps:
            self._run(step, source, event, now)
        self._state = target
        if target is State.IDLE and source is not State.IDLE:
            self._connected = False
            self._error = None
            if self._auto_restart:  # IdleHoldTime damping (RFC 4271 §8.1.1), see fsm's docstring
                passive = self.config.passive
                self._fire(
                    Event.AUTOMATIC_START_WITH_DAMP_PEER_OSCILLATIONS_AND_PASSIVE_TCP_ESTABLISHMENT
                    if passive
                    else Event.AUTOMATIC_START_WITH_DAMP_PEER_OSCILLATIONS,
                    now,
                )

    def _run(self, step: Step, source: State, event: Event, now: float) -> None:
        if step is Step.INIT_RESOURCES:
            self._timers.pop(Event.IDLE_HOLD_TIMER_EXPIRES, None)
            self._reset_connection()
        elif step is Step.RELEASE_RESOURCES:
            for timer in (Event.HOLD_TIMER_EXPIRES, Event.KEEPALIVE_TIMER_EXPIRES, Event.DELAY_OPEN_TIMER_EXPIRES):
                self._timers.pop(timer, None)
        elif step is Step.RESET_CONNECT_RETRY_COUNTER:
            self._connect_retry_counter = 0
        elif step is Step.INCREMENT_CONNECT_RETRY_COUNTER:
            # A session that stayed up for max_idle_hold_time was stable: its failure starts a new series.
            if self._established_at is not None and now - self._established_at >= self.config.max_idle_hold_time:
                self._connect_retry_counter = 0
            self._connect_retry_counter += 1
        elif step is Step.START_CONNECT_RETRY_TIMER:
            if not self.config.passive:  # PassiveTcpEstablishment: never initiate (see SessionConfig)
                self._arm(Event.CONNECT_RETRY_TIMER_EXPIRES, self.config.connect_retry_time, now)
        elif step is Step.STOP_CONNECT_RETRY_TIMER:
            self._timers.pop(Event.CONNECT_RETRY_TIMER_EXPIRES, None)
        elif step is Step.START_DELAY_OPEN_TIMER:
            self._arm(Event.DELAY_OPEN_TIMER_EXPIRES, self.config.delay_open_time or 0.0, now)
        elif step is Step.STOP_DELAY_OPEN_TIMER:
            self._timers.pop(Event.DELAY_OPEN_TIMER_EXPIRES, None)
        elif step is Step.START_HOLD_TIMER_LARGE:
            self._arm(Event.HOLD_TIMER_EXPIRES, LARGE_HOLD_TIME, now)
        elif step is Step.RESTART_HOLD_TIMER:
            if self._negotiated is None or self._negotiated.hold_time == 0:
                self._timers.pop(Event.HOLD_TIMER_EXPIRES, None)
            else:
                self._arm(Event.HOLD_TIMER_EXPIRES, self._negotiated.hold_time, now)
        elif step is Step.RESTART_KEEPALIVE_TIMER:
            self._arm_keepalive(now)
        elif step is Step.START_IDLE_HOLD_TIMER:
            if self._auto_restart:
                delay = self.idle_hold_delay() if self._next_idle_hold is None else self._next_idle_hold
                self._next_idle_hold = None
                self._arm(Event.IDLE_HOLD_TIMER_EXPIRES, delay, now)
        elif step is Step.INITIATE_TCP:
            self._emit(WantConnect())
        elif step is Step.DROP_TCP:
            self._connected = False
            self._emit(WantClose())
        elif step is Step.SEND_OPEN:
            self._queue(self._open_bytes, MessageType.OPEN)
        elif step is Step.SEND_KEEPALIVE:
            self._queue(Keepalive().encode(), MessageType.KEEPALIVE)
        elif step is Step.SEND_NOTIFICATION_ERROR:
            error = self._error
            self._notify(Notification.from_error(error) if error else Notification(ErrorCode.CEASE, 0))
        elif step is Step.SEND_NOTIFICATION_FSM_ERROR:
            subcode = _FSM_SUBCODES.get(source, FsmSubcode.UNSPECIFIED) if event.is_message else 0
            self._notify(Notification(ErrorCode.FSM, subcode))
        elif step is Step.SEND_NOTIFICATION_CEASE:
            self._notify(self._cease)
        elif step is Step.SEND_NOTIFICATION_HOLD_TIMER:
            self._notify(Notification(ErrorCode.HOLD_TIMER_EXPIRED, 0))
        elif step is Step.PROCESS_UPDATE:
            for item in self._pending:
                self._emit(item)
            self._pending = []
        elif step is Step.REPORT_ESTABLISHED:
            assert self._negotiated is not None
            self._established_at = now
            self._established_transitions += 1
            self._emit(Established(self._negotiated))
        elif step is Step.REPORT_DOWN:
            if self._sent is not None:
                self._emit(Down(self._reason, self._sent, True))
            else:
                self._emit(Down(self._reason, self._received, False))
            self._sent = self._received = None
            self._negotiated = None
            self._disabled.clear()
            self._established_at = None
        else:  # pragma: no cover - every Step is handled above
            raise AssertionError(step)

    def _notify(self, notification: Notification) -> None:
        self._queue(notification.encode(), MessageType.NOTIFICATION)
        self._sent = notification

    def _reset_connection(self) -> None:
        self._negotiated = None
        self._recv_ctx = self._send_ctx = Context()
        self._disabled.clear()
        self._sent = self._received = None
        self._error = None

    def _negotiated_now(self, negotiated: Negotiated) -> None:
        self._negotiated = negotiated
        self._recv_ctx = negotiated.context
        self._send_ctx = negotiated.send_context
        self._reader.max_size = negotiated.max_message_size

    def _receive_message(self, raw: bytes, now: float) -> None:
        """Turn one framed message into its FSM event (RFC 4271 §8.1.5)."""
        msg_type = MessageType(raw[18])
        self._in[msg_type] += 1
        state = self._state
        if msg_type in (MessageType.UPDATE, MessageType.ROUTE_REFRESH) and state is not State.ESTABLISHED:
            self._fire(Event.UPDATE_MSG, now, f"{msg_type.name} received in {state}")
            return
        if msg_type is MessageType.OPEN and state not in (State.CONNECT, State.ACTIVE, State.OPEN_SENT):
            self._fire(Event.BGP_OPEN, now, f"OPEN received in {state}")
            return
        try:
            message = decode_message(raw, self._recv_ctx)
        except BGPError as error:
            self._error = error
            event = _ERROR_EVENTS.get(error.code, Event.UPDATE_MSG_ERR)
            self._fire(event, now, f"malformed {msg_type.name}: {error.field}")
            return
        if isinstance(message, Open):
            self._receive_open(message, now)
        elif isinstance(message, Notification):
            self._received = message
            self._emit(NotificationReceived(message))
            version_error = (
                message.code == ErrorCode.OPEN_MESSAGE and message.subcode == OpenSubcode.UNSUPPORTED_VERSION_NUMBER
            )
            reason = f"NOTIFICATION received: {message.name}"
            if message.shutdown_communication:
                reason += f": {message.shutdown_communication}"
            self._fire(Event.NOTIF_MSG_VER_ERR if version_error else Event.NOTIF_MSG, now, reason)
        elif isinstance(message, Keepalive):
            self._fire(Event.KEEP_ALIVE_MSG, now, "KEEPALIVE received")
        elif isinstance(message, RouteRefresh):
            self._pending = self._route_refresh_events(message)
            self._fire(Event.UPDATE_MSG, now)
        else:
            self._receive_update(message, now)

    def _receive_open(self, message: Open, now: float) -> None:
        try:
            negotiated = negotiate(self._open, message, self.config.peer_asn, self._open.router_id)
        except BGPError as error:
            self._error = error
            self._fire(Event.BGP_OPEN_MSG_ERR, now, f"OPEN rejected: {error.field}")
            return
        self._negotiated_now(negotiated)
        running = Event.DELAY_OPEN_TIMER_EXPIRES in self._timers
        self._fire(Event.BGP_OPEN_WITH_DELAY_OPEN_TIMER_RUNNING if running else Event.BGP_OPEN, now)

    def _route_refresh_events(self, message: RouteRefresh) -> list[SessionEvent]:
        family = (message.afi, message.safi)
        if family not in self.families:  # RFC 2918 §4: "shall ignore such a message"
            return []
        if message.subtype == 0:
            return [RouteRefreshRequested(family)]
        if message.subtype == 1:
            return [BeginRouteRefresh(family)]
        if message.subtype == 2:
            return [EndRouteRefresh(family)]
        return []  # RFC 7313 §5: other subtypes are ignored

    def _receive_update(self, update: Update, now: float) -> None:
        """Sort out RFC 7606/RFC 4760 handling before the FSM sees Event 27."""
        pending: list[SessionEvent] = []
        if update.action is Action.AFI_SAFI_DISABLE:
            for error in update.errors:
                if error.action is not Action.AFI_SAFI_DISABLE:
                    continue
                family = _mp_error_family(error)
                if family is None:  # cannot happen with our decoder; be safe: reset the session
                    self._error = BGPError(error.code, error.subcode, error.field, error.data)
                    self._fire(Event.UPDATE_MSG_ERR, now, f"malformed UPDATE: {error.field}")
                    return
                if family not in self._disabled:
                    self._disabled.add(family)
                    pending.append(FamilyDisabled(family, error))
        else:
            eor = update.end_of_rib
            active = self.families
            if eor is not None:
                if eor in active:
                    pending.append(EndOfRib(eor))
            else:
                families = _update_families(update)
                if not families or families & active:
                    pending.append(UpdateReceived(update, update.action))
        self._pending = pending
        self._fire(Event.UPDATE_MSG, now)
