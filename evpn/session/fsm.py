"""The BGP finite state machine of RFC 4271 §8 as a transition table.

:data:`TABLE` maps ``(State, Event)`` to the next state and the side effects
(:class:`Step`) the RFC lists for that event, in the RFC's order.  It is data, not
code: :class:`evpn.session.Session` looks a row up and performs its steps.  A pair
that is not in the table is an error of the lookup (:class:`UnexpectedEventError`, as in
h11); the session then applies the state's "any other event" row
(:data:`OTHER_EVENTS`), which is what RFC 4271 §8.2.2 prescribes for every event it
does not name.

A few rows depend on a session attribute or on a running timer (the RFC says
"If the DelayOpen attribute is set to TRUE ...").  They hold a :class:`Guarded`
pair of transitions and :func:`transition` picks one with the :class:`Guard` values
that hold.

Choices this table makes where RFC 4271 leaves room (each is marked ``DEVIATION`` or
``CHOICE`` below):

* Peer oscillation damping (§8.1.1 DampPeerOscillations, IdleHoldTime) is how this
  library restarts automatically: after a session goes down the
  :class:`~evpn.session.Session` feeds Event 6 (Event 7 when passive), which starts
  the IdleHoldTimer (the delay doubles with ConnectRetryCounter); Event 13 then starts
  the next connection attempt.  The rows therefore do not carry the RFC's
  "(optionally) performs peer oscillation damping" step.
* SendNOTIFICATIONwithoutOPEN (§8.1.1) is TRUE: with DelayOpen a NOTIFICATION is sent
  for a bad header or OPEN before our OPEN went out, so the peer learns why.
* One FSM runs per TCP connection, so an OPEN received in OpenConfirm or Established is
  an unexpected message on *this* connection: RFC 6608 FSM Error.  A collision with a
  second connection is resolved by the owner of both sessions
  (:func:`evpn.session.resolve_collision`) which feeds Event 23 to the loser.
* A session that reaches Idle reports it (:attr:`Step.REPORT_DOWN`); RFC 4271's
  "deletes all routes associated with this connection" is the RIB's answer to it.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from typing import NamedTuple

__all__ = [
    "OTHER_EVENTS",
    "TABLE",
    "Event",
    "Guard",
    "Guarded",
    "State",
    "Step",
    "Transition",
    "UnexpectedEventError",
    "transition",
]


class State(enum.Enum):
    """The six session states (RFC 4271 §8.2.2)."""

    IDLE = "Idle"
    CONNECT = "Connect"
    ACTIVE = "Active"
    OPEN_SENT = "OpenSent"
    OPEN_CONFIRM = "OpenConfirm"
    ESTABLISHED = "Established"

    def __str__(self) -> str:
        return self.value


_RFC_NAMES = {
    1: "ManualStart",
    2: "ManualStop",
    3: "AutomaticStart",
    4: "ManualStart_with_PassiveTcpEstablishment",
    5: "AutomaticStart_with_PassiveTcpEstablishment",
    6: "AutomaticStart_with_DampPeerOscillations",
    7: "AutomaticStart_with_DampPeerOscillations_and_PassiveTcpEstablishment",
    8: "AutomaticStop",
    9: "ConnectRetryTimer_Expires",
    10: "HoldTimer_Expires",
    11: "KeepaliveTimer_Expires",
    12: "DelayOpenTimer_Expires",
    13: "IdleHoldTimer_Expires",
    14: "TcpConnection_Valid",
    15: "Tcp_CR_Invalid",
    16: "Tcp_CR_Acked",
    17: "TcpConnectionConfirmed",
    18: "TcpConnectionFails",
    19: "BGPOpen",
    20: "BGPOpen with DelayOpenTimer running",
    21: "BGPHeaderErr",
    22: "BGPOpenMsgErr",
    23: "OpenCollisionDump",
    24: "NotifMsgVerErr",
    25: "NotifMsg",
    26: "KeepAliveMsg",
    27: "UpdateMsg",
    28: "UpdateMsgErr",
}


class Event(enum.IntEnum):
    """FSM events with their RFC 4271 §8.1 numbers; ``str(event)`` gives the RFC's name."""

    # §8.1.2 administrative events
    MANUAL_START = 1
    MANUAL_STOP = 2
    AUTOMATIC_START = 3
    MANUAL_START_WITH_PASSIVE_TCP_ESTABLISHMENT = 4
    AUTOMATIC_START_WITH_PASSIVE_TCP_ESTABLISHMENT = 5
    AUTOMATIC_START_WITH_DAMP_PEER_OSCILLATIONS = 6
    AUTOMATIC_START_WITH_DAMP_PEER_OSCILLATIONS_AND_PASSIVE_TCP_ESTABLISHMENT = 7
    AUTOMATIC_STOP = 8
    # §8.1.3 timer events
    CONNECT_RETRY_TIMER_EXPIRES = 9
    HOLD_TIMER_EXPIRES = 10
    KEEPALIVE_TIMER_EXPIRES = 11
    DELAY_OPEN_TIMER_EXPIRES = 12
    IDLE_HOLD_TIMER_EXPIRES = 13
    # §8.1.4 TCP connection-based events
    TCP_CONNECTION_VALID = 14
    TCP_CR_INVALID = 15
    TCP_CR_ACKED = 16
    TCP_CONNECTION_CONFIRMED = 17
    TCP_CONNECTION_FAILS = 18
    # §8.1.5 BGP message-based events
    BGP_OPEN = 19
    BGP_OPEN_WITH_DELAY_OPEN_TIMER_RUNNING = 20
    BGP_HEADER_ERR = 21
    BGP_OPEN_MSG_ERR = 22
    OPEN_COLLISION_DUMP = 23
    NOTIF_MSG_VER_ERR = 24
    NOTIF_MSG = 25
    KEEP_ALIVE_MSG = 26
    UPDATE_MSG = 27
    UPDATE_MSG_ERR = 28

    @property
    def rfc_name(self) -> str:
        """The event's name as RFC 4271 §8.1 spells it, e.g. ``"TcpConnectionFails"``."""
        return _RFC_NAMES[self.value]

    @property
    def is_message(self) -> bool:
        """Whether the event is the receipt of a message (§8.1.5, except OpenCollisionDump).

        RFC 6608 §4 uses this: an unexpected *message* gets a state-specific FSM Error subcode.
        """
        return self.value >= 19 and self is not Event.OPEN_COLLISION_DUMP

    def __str__(self) -> str:
        return f"{self.rfc_name} (Event {self.value})"


class Step(enum.Enum):
    """A side effect of a transition, worded after RFC 4271 §8.2.2."""

    INIT_RESOURCES = "initializes all BGP resources for the peer connection"
    RELEASE_RESOURCES = "releases all BGP resources (stops the Hold, Keepalive and DelayOpen timers)"
    RESET_CONNECT_RETRY_COUNTER = "sets the ConnectRetryCounter to zero"
    INCREMENT_CONNECT_RETRY_COUNTER = "increments the ConnectRetryCounter by 1"
    START_CONNECT_RETRY_TIMER = "(re)starts the ConnectRetryTimer with the initial value (never when passive)"
    STOP_CONNECT_RETRY_TIMER = "stops the ConnectRetryTimer and sets it to zero"
    START_DELAY_OPEN_TIMER = "starts the DelayOpenTimer with the initial value"
    STOP_DELAY_OPEN_TIMER = "stops the DelayOpenTimer and sets it to zero"
    START_HOLD_TIMER_LARGE = "sets the HoldTimer to a large value (4 minutes, §8)"
    RESTART_HOLD_TIMER = "(re)starts the HoldTimer with the negotiated hold time (none if zero)"
    RESTART_KEEPALIVE_TIMER = "(re)starts the KeepaliveTimer (none if the hold time is zero)"
    START_IDLE_HOLD_TIMER = "starts the IdleHoldTimer (peer oscillation damping, §8.1.1)"
    INITIATE_TCP = "initiates a TCP connection to the other BGP peer"
    DROP_TCP = "drops the TCP connection"
    SEND_OPEN = "sends an OPEN message to its peer"
    SEND_KEEPALIVE = "sends a KEEPALIVE message"
    SEND_NOTIFICATION_ERROR = "sends a NOTIFICATION with the error code of the message error found"
    SEND_NOTIFICATION_FSM_ERROR = "sends a NOTIFICATION with the Error Code Finite State Machine Error (RFC 6608)"
    SEND_NOTIFICATION_CEASE = "sends a NOTIFICATION with a Cease (the subcode says why, RFC 4486)"
    SEND_NOTIFICATION_HOLD_TIMER = "sends a NOTIFICATION with the Error Code Hold Timer Expired"
    PROCESS_UPDATE = "processes the message (UPDATE or ROUTE-REFRESH)"
    REPORT_ESTABLISHED = "reports that the session is Established"
    REPORT_DOWN = "reports that the connection is down (the RIB deletes its routes)"


class Guard(enum.Enum):
    """A condition a few §8.2.2 rows depend on."""

    DELAY_OPEN = "the DelayOpen attribute is TRUE (§8.1.1)"
    DELAY_OPEN_TIMER_RUNNING = "the DelayOpenTimer is running"
    PASSIVE = "the PassiveTcpEstablishment attribute is TRUE (§8.1.1)"


class Transition(NamedTuple):
    """The state to enter and the steps to perform, in order."""

    state: State
    steps: tuple[Step, ...]


class Guarded(NamedTuple):
    """A row whose outcome depends on ``guard``: ``then`` if it holds, else ``otherwise``."""

    guard: Guard
    then: Transition
    otherwise: Transition


class UnexpectedEventError(LookupError):
    """``(state, event)`` has no row in :data:`TABLE`: the state's "any other event" row applies."""

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"{event} is not expected in {state}")
        self.state = state
        self.event = event


S, E, T = State, Event, Transition
# Short names for the steps, so that each row fits on a line (deleted below).
INIT, RELEASE = Step.INIT_RESOURCES, Step.RELEASE_RESOURCES
ZERO_COUNT, COUNT = Step.RESET_CONNECT_RETRY_COUNTER, Step.INCREMENT_CONNECT_RETRY_COUNTER
START_CR, STOP_CR = Step.START_CONNECT_RETRY_TIMER, Step.STOP_CONNECT_RETRY_TIMER
START_DO, STOP_DO = Step.START_DELAY_OPEN_TIMER, Step.STOP_DELAY_OPEN_TIMER
HOLD_LARGE, HOLD, KEEPALIVE = Step.START_HOLD_TIMER_LARGE, Step.RESTART_HOLD_TIMER, Step.RESTART_KEEPALIVE_TIMER
IDLE_HOLD = Step.START_IDLE_HOLD_TIMER
CONNECT, DROP = Step.INITIATE_TCP, Step.DROP_TCP
SEND_OPEN, SEND_KA = Step.SEND_OPEN, Step.SEND_KEEPALIVE
NOTIFY_ERROR, NOTIFY_FSM = Step.SEND_NOTIFICATION_ERROR, Step.SEND_NOTIFICATION_FSM_ERROR
NOTIFY_CEASE, NOTIFY_HOLD = Step.SEND_NOTIFICATION_CEASE, Step.SEND_NOTIFICATION_HOLD_TIMER
PROCESS, UP, DOWN = Step.PROCESS_UPDATE, Step.REPORT_ESTABLISHED, Step.REPORT_DOWN

_IGNORE: tuple[Step, ...] = ()
_STARTS = (E.MANUAL_START, E.AUTOMATIC_START)
_PASSIVE_STARTS = (E.MANUAL_START_WITH_PASSIVE_TCP_ESTABLISHMENT, E.AUTOMATIC_START_WITH_PASSIVE_TCP_ESTABLISHMENT)
_DAMP_STARTS = (
    E.AUTOMATIC_START_WITH_DAMP_PEER_OSCILLATIONS,
    E.AUTOMATIC_START_WITH_DAMP_PEER_OSCILLATIONS_AND_PASSIVE_TCP_ESTABLISHMENT,
)
_ALL_STARTS = (*_STARTS, *_PASSIVE_STARTS, *_DAMP_STARTS)  # 1, 3-7: ignored once started
_TCP_UP = (E.TCP_CR_ACKED, E.TCP_CONNECTION_CONFIRMED)
_SECOND_CONNECTION = (E.TCP_CONNECTION_VALID, E.TCP_CR_INVALID, *_TCP_UP)  # another connection's business


def _rows(
    state: State, events: Collection[Event], outcome: Transition | Guarded
) -> dict[tuple[State, Event], Transition | Guarded]:
    return {(state, event): outcome for event in events}


# Closing a connection that has sent its OPEN, after the NOTIFICATION step (if any).
_CLOSE = (STOP_CR, RELEASE, DROP, COUNT, DOWN)
# The same for ManualStop: the counter restarts from zero.
_CLOSE_MANUAL = (STOP_CR, RELEASE, DROP, ZERO_COUNT, DOWN)
# §8.2.2 OpenSent/OpenConfirm/Established "any other event": FSM Error (RFC 6608), then Idle.
_FSM_ERROR = T(S.IDLE, (NOTIFY_FSM, *_CLOSE))
# §8.2.2 Connect/Active "any other event": no OPEN was sent, so no NOTIFICATION.
_GIVE_UP = T(S.IDLE, _CLOSE)

TABLE: dict[tuple[State, Event], Transition | Guarded] = {
    # --- Idle (RFC 4271 §8.2.2 "Idle state") -------------------------------------------
    **_rows(S.IDLE, _STARTS, T(S.CONNECT, (INIT, ZERO_COUNT, START_CR, CONNECT))),
    **_rows(S.IDLE, _PASSIVE_STARTS, T(S.ACTIVE, (INIT, ZERO_COUNT, START_CR))),
    # "ManualStop (Event 2) and AutomaticStop (Event 8) events are ignored in the Idle state."
    **_rows(S.IDLE, (E.MANUAL_STOP, E.AUTOMATIC_STOP), T(S.IDLE, _IGNORE)),
    # DampPeerOscillations: Events 6, 7 and 13 "prevent peer oscillations"; the method is ours
    # (CHOICE): wait IdleHoldTime, then start like Event 3 (or 5) without zeroing the counter.
    **_rows(S.IDLE, _DAMP_STARTS, T(S.IDLE, (IDLE_HOLD,))),
    (S.IDLE, E.IDLE_HOLD_TIMER_EXPIRES): Guarded(
        Guard.PASSIVE,
        then=T(S.ACTIVE, (INIT, START_CR)),
        otherwise=T(S.CONNECT, (INIT, START_CR, CONNECT)),
    ),
    # Any other event (9-12, 14-28): "does not cause change in the state" (OTHER_EVENTS).
    #
    # --- Connect (§8.2.2 "Connect State") ----------------------------------------------
    **_rows(S.CONNECT, _ALL_STARTS, T(S.CONNECT, _IGNORE)),
    (S.CONNECT, E.MANUAL_STOP): Guarded(
        # CHOICE: with a running DelayOpenTimer the TCP connection is up; tell the peer (as Active does).
        Guard.DELAY_OPEN_TIMER_RUNNING,
        then=T(S.IDLE, (NOTIFY_CEASE, DROP, RELEASE, ZERO_COUNT, STOP_CR, DOWN)),
        otherwise=T(S.IDLE, (DROP, RELEASE, ZERO_COUNT, STOP_CR, DOWN)),
    ),
    (S.CONNECT, E.CONNECT_RETRY_TIMER_EXPIRES): T(S.CONNECT, (DROP, START_CR, STOP_DO, CONNECT)),
    (S.CONNECT, E.DELAY_OPEN_TIMER_EXPIRES): T(S.OPEN_SENT, (SEND_OPEN, HOLD_LARGE)),
    (S.CONNECT, E.TCP_CONNECTION_VALID): T(S.CONNECT, _IGNORE),  # "the TCP connection is processed"
    (S.CONNECT, E.TCP_CR_INVALID): T(S.CONNECT, _IGNORE),  # "the local system rejects the TCP connection"
    **_rows(
        S.CONNECT,
        _TCP_UP,
        Guarded(
            Guard.DELAY_OPEN,
            then=T(S.CONNECT, (STOP_CR, START_DO)),
            otherwise=T(S.OPEN_SENT, (STOP_CR, SEND_OPEN, HOLD_LARGE)),
        ),
    ),
    (S.CONNECT, E.TCP_CONNECTION_FAILS): Guarded(
        Guard.DELAY_OPEN_TIMER_RUNNING,
        then=T(S.ACTIVE, (START_CR, STOP_DO, DOWN)),
        # CHOICE: the RFC does not count this failure; we do, so that a refused connection backs off.
        otherwise=T(S.IDLE, (STOP_CR, DROP, RELEASE, COUNT, DOWN)),
    ),
    (S.CONNECT, E.BGP_OPEN_WITH_DELAY_OPEN_TIMER_RUNNING): T(
        S.OPEN_CONFIRM, (STOP_CR, STOP_DO, SEND_OPEN, SEND_KA, KEEPALIVE, HOLD)
    ),
    # "If BGP message header checking (Event 21) or OPEN message checking detects an error (Event 22)"
    **_rows(S.CONNECT, (E.BGP_HEADER_ERR, E.BGP_OPEN_MSG_ERR), T(S.IDLE, (NOTIFY_ERROR, *_CLOSE))),
    (S.CONNECT, E.NOTIF_MSG_VER_ERR): Guarded(
        Guard.DELAY_OPEN_TIMER_RUNNING,
        then=T(S.IDLE, (STOP_CR, STOP_DO, RELEASE, DROP, DOWN)),
        otherwise=T(S.IDLE, (STOP_CR, RELEASE, DROP, COUNT, DOWN)),
    ),
    # Any other event (8, 10-11, 13, 19, 23, 25-28): OTHER_EVENTS[CONNECT].
    #
    # --- Active (§8.2.2 "Active State") ------------------------------------------------
    **_rows(S.ACTIVE, _ALL_STARTS, T(S.ACTIVE, _IGNORE)),
    (S.ACTIVE, E.MANUAL_STOP): Guarded(
        # "If the DelayOpenTimer is running and the SendNOTIFICATIONwithoutOPEN session attribute is set,
        # the local system sends a NOTIFICATION with a Cease"
        Guard.DELAY_OPEN_TIMER_RUNNING,
        then=T(S.IDLE, (NOTIFY_CEASE, RELEASE, STOP_DO, DROP, ZERO_COUNT, STOP_CR, DOWN)),
        otherwise=T(S.IDLE, (RELEASE, DROP, ZERO_COUNT, STOP_CR, DOWN)),
    ),
    (S.ACTIVE, E.CONNECT_RETRY_TIMER_EXPIRES): T(S.CONNECT, (START_CR, CONNECT)),
    (S.ACTIVE, E.DELAY_OPEN_TIMER_EXPIRES): T(S.OPEN_SENT, (STOP_CR, STOP_DO, SEND_OPEN, HOLD_LARGE)),
    (S.ACTIVE, E.TCP_CONNECTION_VALID): T(S.ACTIVE, _IGNORE),
    (S.ACTIVE, E.TCP_CR_INVALID): T(S.ACTIVE, _IGNORE),
    **_rows(
        S.ACTIVE,
        _TCP_UP,
        Guarded(
            Guard.DELAY_OPEN,
            then=T(S.ACTIVE, (STOP_CR, START_DO)),
            otherwise=T(S.OPEN_SENT, (STOP_CR, SEND_OPEN, HOLD_LARGE)),
        ),
    ),
    # The RFC "restarts the ConnectRetryTimer" here; in Idle Event 9 is ignored, so it is stopped instead.
    (S.ACTIVE, E.TCP_CONNECTION_FAILS): T(S.IDLE, (STOP_CR, STOP_DO, RELEASE, COUNT, DOWN)),
    (S.ACTIVE, E.BGP_OPEN_WITH_DELAY_OPEN_TIMER_RUNNING): T(
        S.OPEN_CONFIRM, (STOP_CR, STOP_DO, SEND_OPEN, SEND_KA, KEEPALIVE, HOLD)
    ),
    **_rows(S.ACTIVE, (E.BGP_HEADER_ERR, E.BGP_OPEN_MSG_ERR), T(S.IDLE, (NOTIFY_ERROR, *_CLOSE))),
    (S.ACTIVE, E.NOTIF_MSG_VER_ERR): Guarded(
        Guard.DELAY_OPEN_TIMER_RUNNING,
        then=T(S.IDLE, (STOP_DO, STOP_CR, RELEASE, DROP, DOWN)),
        otherwise=T(S.IDLE, (STOP_CR, RELEASE, DROP, COUNT, DOWN)),
    ),
    # Any other event (8, 10-11, 13, 19, 23, 25-28): OTHER_EVENTS[ACTIVE].
    #
    # --- OpenSent (§8.2.2 "OpenSent") --------------------------------------------------
    **_rows(S.OPEN_SENT, _ALL_STARTS, T(S.OPEN_SENT, _IGNORE)),
    (S.OPEN_SENT, E.MANUAL_STOP): T(S.IDLE, (NOTIFY_CEASE, *_CLOSE_MANUAL)),
    (S.OPEN_SENT, E.AUTOMATIC_STOP): T(S.IDLE, (NOTIFY_CEASE, *_CLOSE)),
    (S.OPEN_SENT, E.HOLD_TIMER_EXPIRES): T(S.IDLE, (NOTIFY_HOLD, *_CLOSE)),
    # Events 14, 16, 17 concern a second connection (§6.8), which has its own session.
    **_rows(S.OPEN_SENT, _SECOND_CONNECTION, T(S.OPEN_SENT, _IGNORE)),
    # "closes the BGP connection, restarts the ConnectRetryTimer, continues to listen ..., Active"
    (S.OPEN_SENT, E.TCP_CONNECTION_FAILS): T(S.ACTIVE, (RELEASE, DROP, START_CR, DOWN)),
    (S.OPEN_SENT, E.BGP_OPEN): T(S.OPEN_CONFIRM, (STOP_DO, STOP_CR, SEND_KA, KEEPALIVE, HOLD)),
    **_rows(S.OPEN_SENT, (E.BGP_HEADER_ERR, E.BGP_OPEN_MSG_ERR), T(S.IDLE, (NOTIFY_ERROR, *_CLOSE))),
    (S.OPEN_SENT, E.OPEN_COLLISION_DUMP): T(S.IDLE, (NOTIFY_CEASE, *_CLOSE)),
    (S.OPEN_SENT, E.NOTIF_MSG_VER_ERR): T(S.IDLE, (STOP_CR, RELEASE, DROP, DOWN)),
    # DEVIATION: the RFC puts Event 25 among OpenSent's "other events" (FSM Error NOTIFICATION).
    # Answering a NOTIFICATION with one is pointless -- the peer has closed (§4.5) -- so it is
    # handled as in OpenConfirm.
    (S.OPEN_SENT, E.NOTIF_MSG): T(S.IDLE, _CLOSE),
    # Any other event (9, 11-13, 20, 26-28): OTHER_EVENTS[OPEN_SENT] (FSM Error, RFC 6608 subcode 1).
    #
    # --- OpenConfirm (§8.2.2 "OpenConfirm State") --------------------------------------
    **_rows(S.OPEN_CONFIRM, _ALL_STARTS, T(S.OPEN_CONFIRM, _IGNORE)),
    (S.OPEN_CONFIRM, E.MANUAL_STOP): T(S.IDLE, (NOTIFY_CEASE, *_CLOSE_MANUAL)),
    (S.OPEN_CONFIRM, E.AUTOMATIC_STOP): T(S.IDLE, (NOTIFY_CEASE, *_CLOSE)),
    (S.OPEN_CONFIRM, E.HOLD_TIMER_EXPIRES): T(S.IDLE, (NOTIFY_HOLD, *_CLOSE)),
    (S.OPEN_CONFIRM, E.KEEPALIVE_TIMER_EXPIRES): T(S.OPEN_CONFIRM, (SEND_KA, KEEPALIVE)),
    **_rows(S.OPEN_CONFIRM, _SECOND_CONNECTION, T(S.OPEN_CONFIRM, _IGNORE)),
    (S.OPEN_CONFIRM, E.TCP_CONNECTION_FAILS): T(S.IDLE, _CLOSE),
    # Event 19 here is the OPEN of a colliding connection, which has its own session; an OPEN on
    # this connection is "unexpected in OpenConfirm" (RFC 6608): OTHER_EVENTS[OPEN_CONFIRM].
    **_rows(S.OPEN_CONFIRM, (E.BGP_HEADER_ERR, E.BGP_OPEN_MSG_ERR), T(S.IDLE, (NOTIFY_ERROR, *_CLOSE))),
    (S.OPEN_CONFIRM, E.OPEN_COLLISION_DUMP): T(S.IDLE, (NOTIFY_CEASE, *_CLOSE)),
    **_rows(S.OPEN_CONFIRM, (E.NOTIF_MSG_VER_ERR, E.NOTIF_MSG), T(S.IDLE, _CLOSE)),
    (S.OPEN_CONFIRM, E.KEEP_ALIVE_MSG): T(S.ESTABLISHED, (HOLD, UP)),
    # Any other event (9, 12-13, 19-20, 27-28): OTHER_EVENTS[OPEN_CONFIRM] (RFC 6608 subcode 2).
    #
    # --- Established (§8.2.2 "Established State") --------------------------------------
    **_rows(S.ESTABLISHED, _ALL_STARTS, T(S.ESTABLISHED, _IGNORE)),
    (S.ESTABLISHED, E.MANUAL_STOP): T(S.IDLE, (NOTIFY_CEASE, *_CLOSE_MANUAL)),
    (S.ESTABLISHED, E.AUTOMATIC_STOP): T(S.IDLE, (NOTIFY_CEASE, *_CLOSE)),
    (S.ESTABLISHED, E.HOLD_TIMER_EXPIRES): T(S.IDLE, (NOTIFY_HOLD, *_CLOSE)),
    # "Each time the local system sends a KEEPALIVE or UPDATE message, it restarts its KeepaliveTimer"
    (S.ESTABLISHED, E.KEEPALIVE_TIMER_EXPIRES): T(S.ESTABLISHED, (SEND_KA, KEEPALIVE)),
    **_rows(S.ESTABLISHED, _SECOND_CONNECTION, T(S.ESTABLISHED, _IGNORE)),
    (S.ESTABLISHED, E.TCP_CONNECTION_FAILS): T(S.IDLE, _CLOSE),
    # DEVIATION: the RFC lists Event 21 among the "other events" (FSM Error); §6.1 prescribes the
    # Message Header Error NOTIFICATION, which tells the peer what was wrong.
    (S.ESTABLISHED, E.BGP_HEADER_ERR): T(S.IDLE, (NOTIFY_ERROR, *_CLOSE)),
    # CollisionDetectEstablishedState: the owner of both connections decides (§6.8).
    (S.ESTABLISHED, E.OPEN_COLLISION_DUMP): T(S.IDLE, (NOTIFY_CEASE, *_CLOSE)),
    **_rows(S.ESTABLISHED, (E.NOTIF_MSG_VER_ERR, E.NOTIF_MSG), T(S.IDLE, _CLOSE)),
    (S.ESTABLISHED, E.KEEP_ALIVE_MSG): T(S.ESTABLISHED, (HOLD,)),
    (S.ESTABLISHED, E.UPDATE_MSG): T(S.ESTABLISHED, (PROCESS, HOLD)),
    (S.ESTABLISHED, E.UPDATE_MSG_ERR): T(S.IDLE, (NOTIFY_ERROR, *_CLOSE)),
    # Any other event (9, 12-13, 19-20, 22): OTHER_EVENTS[ESTABLISHED] (RFC 6608 subcode 3).
}
"""Every row RFC 4271 §8.2.2 describes, keyed by ``(state, event)``."""

OTHER_EVENTS: dict[State, Transition] = {
    # §8.2.2 Idle: "Any other event ... does not cause change in the state of the local system."
    S.IDLE: T(S.IDLE, _IGNORE),
    # §8.2.2 Connect and Active: "In response to any other event ... changes its state to Idle."
    S.CONNECT: _GIVE_UP,
    S.ACTIVE: _GIVE_UP,
    # §8.2.2 OpenSent, OpenConfirm, Established: "sends the NOTIFICATION with the Error Code
    # Finite State Machine Error" (subcode per RFC 6608 §4), then Idle.
    S.OPEN_SENT: _FSM_ERROR,
    S.OPEN_CONFIRM: _FSM_ERROR,
    S.ESTABLISHED: _FSM_ERROR,
}
"""The "any other event" row of each state (RFC 4271 §8.2.2)."""

del S, E, T, INIT, RELEASE, ZERO_COUNT, COUNT, START_CR, STOP_CR, START_DO, STOP_DO, HOLD_LARGE, HOLD
del KEEPALIVE, IDLE_HOLD, CONNECT, DROP, SEND_OPEN, SEND_KA, NOTIFY_ERROR, NOTIFY_FSM, NOTIFY_CEASE, NOTIFY_HOLD
del PROCESS, UP, DOWN


def transition(state: State, event: Event, guards: Collection[Guard] = ()) -> Transition:
    """The row of :data:`TABLE` for ``(state, event)``, resolving a :class:`Guarded` row with
    ``guards`` (the conditions that hold).

    Raises :class:`UnexpectedEventError` when the table has no row: the caller applies
    ``OTHER_EVENTS[state]`` (RFC 4271 §8.2.2 "any other event").
    """
    try:
        row = TABLE[state, event]
    except KeyError:
        raise UnexpectedEventError(state, event) from None
    if isinstance(row, Guarded):
        return row.then if row.guard in guards else row.otherwise
    return row
