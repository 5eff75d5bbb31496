"""The RFC 4271 §8.2.2 transition table, checked against an independent reading of the RFC.

``EXPECTED_NEXT`` below was transcribed from the RFC text state by state (not from
``evpn.session.fsm``); every (state, event) pair and every guarded branch must agree with
it, and every row must satisfy the invariants the RFC text implies (an OPEN goes out when
entering OpenSent, a NOTIFICATION before the TCP connection is dropped, ...).
"""

from __future__ import annotations

import itertools

import pytest

from evpn.session import fsm
from evpn.session.fsm import OTHER_EVENTS, TABLE, Event, Guard, Guarded, State, Step, Transition

IDLE, CONN, ACT, SENT, CONF, EST = (
    State.IDLE,
    State.CONNECT,
    State.ACTIVE,
    State.OPEN_SENT,
    State.OPEN_CONFIRM,
    State.ESTABLISHED,
)


def _states(spec: str) -> dict[int, State]:
    """Parse one line of the matrix: 28 symbols, one per event number."""
    symbols = {"I": IDLE, "C": CONN, "A": ACT, "S": SENT, "O": CONF, "E": EST}
    items = spec.split()
    assert len(items) == 28
    return {n: symbols[s] for n, s in enumerate(items, start=1)}


# Next state per event 1..28 with no guard holding (DelayOpen FALSE, not passive, DelayOpenTimer idle).
# One column per event 1..28; I/C/A/S/O/E = Idle/Connect/Active/OpenSent/OpenConfirm/Established.
EXPECTED_NEXT = {
    IDLE: _states("C I C A A I I I I I  I  I  C  I  I  I  I  I  I  I  I  I  I  I  I  I  I  I"),
    CONN: _states("C I C C C C C I C I  I  S  I  C  C  S  S  I  I  O  I  I  I  I  I  I  I  I"),
    ACT: _states("A I A A A A A I C I  I  S  I  A  A  S  S  I  I  O  I  I  I  I  I  I  I  I"),
    SENT: _states("S I S S S S S I I I  I  I  I  S  S  S  S  A  O  I  I  I  I  I  I  I  I  I"),
    CONF: _states("O I O O O O O I I I  O  I  I  O  O  O  O  I  I  I  I  I  I  I  I  E  I  I"),
    EST: _states("E I E E E E E I I I  E  I  I  E  E  E  E  I  I  I  I  I  I  I  I  E  E  I"),
}
# Where a guard changes the outcome (RFC 4271 §8.2.2 "If the DelayOpen attribute is set to TRUE ...").
GUARDED_NEXT = {
    (IDLE, Event.IDLE_HOLD_TIMER_EXPIRES, Guard.PASSIVE): ACT,
    (CONN, Event.TCP_CR_ACKED, Guard.DELAY_OPEN): CONN,
    (CONN, Event.TCP_CONNECTION_CONFIRMED, Guard.DELAY_OPEN): CONN,
    (ACT, Event.TCP_CR_ACKED, Guard.DELAY_OPEN): ACT,
    (ACT, Event.TCP_CONNECTION_CONFIRMED, Guard.DELAY_OPEN): ACT,
    (CONN, Event.TCP_CONNECTION_FAILS, Guard.DELAY_OPEN_TIMER_RUNNING): ACT,
}
# The events each state's "any other event" sentence names (RFC 4271 §8.2.2), minus the ones
# the table handles on purpose (documented in fsm.py).  Idle: the RFC names 9-12 and 15-28;
# Event 14 (a valid connection while Idle) is ignored too.
RFC_OTHER_EVENTS = {
    IDLE: (9, 10, 11, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28),
    CONN: (8, 10, 11, 13, 19, 23, 25, 26, 27, 28),
    ACT: (8, 10, 11, 13, 19, 23, 25, 26, 27, 28),
    SENT: (9, 11, 12, 13, 20, 26, 27, 28),  # 25 handled like OpenConfirm (DEVIATION)
    CONF: (9, 12, 13, 19, 20, 27, 28),  # 19: an OPEN on this very connection
    EST: (9, 12, 13, 19, 20, 22),  # 21 sends the §6.1 Message Header Error (DEVIATION)
}
NOTIFICATIONS = {
    Step.SEND_NOTIFICATION_ERROR,
    Step.SEND_NOTIFICATION_FSM_ERROR,
    Step.SEND_NOTIFICATION_CEASE,
    Step.SEND_NOTIFICATION_HOLD_TIMER,
}
GUARD_SETS = [
    frozenset(),
    frozenset({Guard.DELAY_OPEN}),
    frozenset({Guard.DELAY_OPEN, Guard.DELAY_OPEN_TIMER_RUNNING}),
    frozenset({Guard.PASSIVE}),
]


def resolve(state: State, event: Event, guards: frozenset[Guard] = frozenset()) -> Transition:
    """What the session does: the table row, or the state's "any other event" row."""
    try:
        return fsm.transition(state, event, guards)
    except fsm.UnexpectedEventError:
        return OTHER_EVENTS[state]


def expected_next(state: State, event: Event, guards: frozenset[Guard]) -> State:
    for guard in guards:
        if (state, event, guard) in GUARDED_NEXT:
            return GUARDED_NEXT[state, event, guard]
    return EXPECTED_NEXT[state][event.value]


def all_rows() -> list[tuple[State, Event, str, Transition]]:
    """Every row of TABLE, each branch of a guarded row separately."""
    rows = []
    for (state, event), row in TABLE.items():
        if isinstance(row, Guarded):
            rows.append((state, event, f"{row.guard.name}", row.then))
            rows.append((state, event, f"not {row.guard.name}", row.otherwise))
        else:
            rows.append((state, event, "", row))
    return rows


ROWS = all_rows()
ROW_IDS = [f"{s.name}-{e.name}{'-' + g if g else ''}" for s, e, g, _ in ROWS]


# --- the events themselves ----------------------------------------------------------------


def test_event_numbers_are_rfc_4271_section_8_1() -> None:
    assert [e.value for e in Event] == list(range(1, 29))
    assert Event(1).rfc_name == "ManualStart"
    assert Event(17).rfc_name == "TcpConnectionConfirmed"
    assert Event(20).rfc_name == "BGPOpen with DelayOpenTimer running"
    assert Event(28).rfc_name == "UpdateMsgErr"
    assert str(Event.HOLD_TIMER_EXPIRES) == "HoldTimer_Expires (Event 10)"


def test_message_events_for_rfc_6608() -> None:
    assert {e.value for e in Event if e.is_message} == {19, 20, 21, 22, 24, 25, 26, 27, 28}


# --- next state: every pair, every guard -------------------------------------------------------


@pytest.mark.parametrize("guards", GUARD_SETS, ids=lambda g: "+".join(sorted(x.name for x in g)) or "none")
@pytest.mark.parametrize("state", list(State), ids=lambda s: s.name)
def test_next_state_matches_rfc(state: State, guards: frozenset[Guard]) -> None:
    wrong = {}
    for event in Event:
        got = resolve(state, event, guards).state
        want = expected_next(state, event, guards)
        if got is not want:
            wrong[event.name] = (got.name, want.name)
    assert wrong == {}


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.name)
def test_other_events_are_lookup_errors(state: State) -> None:
    """The RFC's "any other event" pairs are not in the table: the lookup raises (as in h11)."""
    for number in RFC_OTHER_EVENTS[state]:
        with pytest.raises(fsm.UnexpectedEventError) as info:
            fsm.transition(state, Event(number))
        assert info.value.state is state and info.value.event is Event(number)
    covered = {event.value for (s, event) in TABLE if s is state}
    assert covered | set(RFC_OTHER_EVENTS[state]) == set(range(1, 29))
    assert covered.isdisjoint(RFC_OTHER_EVENTS[state])


def test_other_events_rows() -> None:
    assert OTHER_EVENTS[IDLE] == Transition(IDLE, ())
    for state in (CONN, ACT):  # no OPEN went out: no NOTIFICATION
        target, steps = OTHER_EVENTS[state]
        assert target is IDLE
        assert not NOTIFICATIONS & set(steps)
        assert {Step.DROP_TCP, Step.RELEASE_RESOURCES, Step.INCREMENT_CONNECT_RETRY_COUNTER} <= set(steps)
    for state in (SENT, CONF, EST):
        target, steps = OTHER_EVENTS[state]
        assert target is IDLE
        assert steps[0] is Step.SEND_NOTIFICATION_FSM_ERROR
        assert Step.DROP_TCP in steps and Step.REPORT_DOWN in steps


def test_guarded_rows_choose_by_guard() -> None:
    row = TABLE[CONN, Event.TCP_CONNECTION_CONFIRMED]
    assert isinstance(row, Guarded) and row.guard is Guard.DELAY_OPEN
    assert fsm.transition(CONN, Event.TCP_CONNECTION_CONFIRMED, {Guard.DELAY_OPEN}) == Transition(
        CONN, (Step.STOP_CONNECT_RETRY_TIMER, Step.START_DELAY_OPEN_TIMER)
    )
    assert fsm.transition(CONN, Event.TCP_CONNECTION_CONFIRMED, {Guard.PASSIVE}) == Transition(
        SENT, (Step.STOP_CONNECT_RETRY_TIMER, Step.SEND_OPEN, Step.START_HOLD_TIMER_LARGE)
    )


# --- exact steps of the rows that matter most (RFC 4271 §8.2.2 wording) ------------------------

EXACT = {
    (IDLE, Event.MANUAL_START): Transition(
        CONN,
        (
            Step.INIT_RESOURCES,
            Step.RESET_CONNECT_RETRY_COUNTER,
            Step.START_CONNECT_RETRY_TIMER,
            Step.INITIATE_TCP,
        ),
    ),
    (IDLE, Event.MANUAL_START_WITH_PASSIVE_TCP_ESTABLISHMENT): Transition(
        ACT, (Step.INIT_RESOURCES, Step.RESET_CONNECT_RETRY_COUNTER, Step.START_CONNECT_RETRY_TIMER)
    ),
    (IDLE, Event.AUTOMATIC_START_WITH_DAMP_PEER_OSCILLATIONS): Transition(IDLE, (Step.START_IDLE_HOLD_TIMER,)),
    (CONN, Event.CONNECT_RETRY_TIMER_EXPIRES): Transition(
        CONN, (Step.DROP_TCP, Step.START_CONNECT_RETRY_TIMER, Step.STOP_DELAY_OPEN_TIMER, Step.INITIATE_TCP)
    ),
    (CONN, Event.DELAY_OPEN_TIMER_EXPIRES): Transition(SENT, (Step.SEND_OPEN, Step.START_HOLD_TIMER_LARGE)),
    (CONN, Event.BGP_OPEN_WITH_DELAY_OPEN_TIMER_RUNNING): Transition(
        CONF,
        (
            Step.STOP_CONNECT_RETRY_TIMER,
            Step.STOP_DELAY_OPEN_TIMER,
            Step.SEND_OPEN,
            Step.SEND_KEEPALIVE,
            Step.RESTART_KEEPALIVE_TIMER,
            Step.RESTART_HOLD_TIMER,
        ),
    ),
    (ACT, Event.CONNECT_RETRY_TIMER_EXPIRES): Transition(CONN, (Step.START_CONNECT_RETRY_TIMER, Step.INITIATE_TCP)),
    (SENT, Event.BGP_OPEN): Transition(
        CONF,
        (
            Step.STOP_DELAY_OPEN_TIMER,
            Step.STOP_CONNECT_RETRY_TIMER,
            Step.SEND_KEEPALIVE,
            Step.RESTART_KEEPALIVE_TIMER,
            Step.RESTART_HOLD_TIMER,
        ),
    ),
    (SENT, Event.TCP_CONNECTION_FAILS): Transition(
        ACT, (Step.RELEASE_RESOURCES, Step.DROP_TCP, Step.START_CONNECT_RETRY_TIMER, Step.REPORT_DOWN)
    ),
    (SENT, Event.HOLD_TIMER_EXPIRES): Transition(
        IDLE,
        (
            Step.SEND_NOTIFICATION_HOLD_TIMER,
            Step.STOP_CONNECT_RETRY_TIMER,
            Step.RELEASE_RESOURCES,
            Step.DROP_TCP,
            Step.INCREMENT_CONNECT_RETRY_COUNTER,
            Step.REPORT_DOWN,
        ),
    ),
    (CONF, Event.KEEP_ALIVE_MSG): Transition(EST, (Step.RESTART_HOLD_TIMER, Step.REPORT_ESTABLISHED)),
    (CONF, Event.KEEPALIVE_TIMER_EXPIRES): Transition(CONF, (Step.SEND_KEEPALIVE, Step.RESTART_KEEPALIVE_TIMER)),
    (EST, Event.KEEP_ALIVE_MSG): Transition(EST, (Step.RESTART_HOLD_TIMER,)),
    (EST, Event.UPDATE_MSG): Transition(EST, (Step.PROCESS_UPDATE, Step.RESTART_HOLD_TIMER)),
    (EST, Event.MANUAL_STOP): Transition(
        IDLE,
        (
            Step.SEND_NOTIFICATION_CEASE,
            Step.STOP_CONNECT_RETRY_TIMER,
            Step.RELEASE_RESOURCES,
            Step.DROP_TCP,
            Step.RESET_CONNECT_RETRY_COUNTER,
            Step.REPORT_DOWN,
        ),
    ),
    (EST, Event.UPDATE_MSG_ERR): Transition(
        IDLE,
        (
            Step.SEND_NOTIFICATION_ERROR,
            Step.STOP_CONNECT_RETRY_TIMER,
            Step.RELEASE_RESOURCES,
            Step.DROP_TCP,
            Step.INCREMENT_CONNECT_RETRY_COUNTER,
            Step.REPORT_DOWN,
        ),
    ),
}


@pytest.mark.parametrize(("key", "expected"), list(EXACT.items()), ids=[f"{s.name}-{e.name}" for s, e in EXACT])
def test_exact_rows(key: tuple[State, Event], expected: Transition) -> None:
    assert fsm.transition(*key) == expected


# --- invariants over every row -----------------------------------------------------------


@pytest.mark.parametrize(("state", "event", "guard", "row"), ROWS, ids=ROW_IDS)
def test_row_invariants(state: State, event: Event, guard: str, row: Transition) -> None:
    target, steps = row
    step_set = set(steps)
    assert len(steps) == len(step_set), "a step is repeated"
    # Starting again is ignored once started (§8.2.2 every state but Idle: Events 1, 3-7).
    if state is not IDLE and event.value in (1, 3, 4, 5, 6, 7):
        assert row == Transition(state, ())
    # Entering OpenSent: our OPEN goes out and the HoldTimer gets the large value.
    if target is SENT and state is not SENT:
        assert {Step.SEND_OPEN, Step.START_HOLD_TIMER_LARGE} <= step_set
    # Entering OpenConfirm: KEEPALIVE sent, Keepalive and Hold timers (re)started; our OPEN goes out
    # only if it had not yet (DelayOpen).
    if target is CONF and state is not CONF:
        assert {Step.SEND_KEEPALIVE, Step.RESTART_KEEPALIVE_TIMER, Step.RESTART_HOLD_TIMER} <= step_set
        assert (Step.SEND_OPEN in step_set) == (state in (CONN, ACT))
    # Established is reported exactly when it is entered.
    assert (Step.REPORT_ESTABLISHED in step_set) == (target is EST and state is not EST)
    # Leaving for Idle: resources released, connection-retry stopped, the owner told.
    if target is IDLE and state is not IDLE:
        assert {Step.RELEASE_RESOURCES, Step.STOP_CONNECT_RETRY_TIMER, Step.REPORT_DOWN} <= step_set
        assert Step.INITIATE_TCP not in step_set
    # ManualStop zeroes the ConnectRetryCounter, failures increment it -- never both.
    assert not {Step.RESET_CONNECT_RETRY_COUNTER, Step.INCREMENT_CONNECT_RETRY_COUNTER} <= step_set
    if event is Event.MANUAL_STOP and state is not IDLE:
        assert Step.RESET_CONNECT_RETRY_COUNTER in step_set
    # A NOTIFICATION is queued before the connection is dropped, and at most one per row.
    sent = [s for s in steps if s in NOTIFICATIONS]
    assert len(sent) <= 1
    if sent and Step.DROP_TCP in step_set:
        assert steps.index(sent[0]) < steps.index(Step.DROP_TCP)
    # Only UpdateMsg in Established processes a message.
    assert (Step.PROCESS_UPDATE in step_set) == (state is EST and event is Event.UPDATE_MSG)
    # A new TCP connection is initiated only on the way into Connect.
    if Step.INITIATE_TCP in step_set:
        assert target is CONN


@pytest.mark.parametrize(("state", "event", "guard", "row"), ROWS, ids=ROW_IDS)
def test_which_notification(state: State, event: Event, guard: str, row: Transition) -> None:
    """The NOTIFICATION a row sends, as RFC 4271 §8.2.2 (and RFC 6608) say."""
    sent = {s for s in row.steps if s in NOTIFICATIONS}
    if state in (IDLE,) or row.state is not IDLE:
        assert sent == set()
        return
    if state in (CONN, ACT):  # no OPEN sent yet: only with SendNOTIFICATIONwithoutOPEN + a live connection
        if event in (Event.BGP_HEADER_ERR, Event.BGP_OPEN_MSG_ERR):
            assert sent == {Step.SEND_NOTIFICATION_ERROR}
        elif event is Event.MANUAL_STOP and guard == Guard.DELAY_OPEN_TIMER_RUNNING.name:
            assert sent == {Step.SEND_NOTIFICATION_CEASE}
        else:
            assert sent == set()
        return
    expected = {
        Event.MANUAL_STOP: Step.SEND_NOTIFICATION_CEASE,
        Event.AUTOMATIC_STOP: Step.SEND_NOTIFICATION_CEASE,
        Event.OPEN_COLLISION_DUMP: Step.SEND_NOTIFICATION_CEASE,
        Event.HOLD_TIMER_EXPIRES: Step.SEND_NOTIFICATION_HOLD_TIMER,
        Event.BGP_HEADER_ERR: Step.SEND_NOTIFICATION_ERROR,
        Event.BGP_OPEN_MSG_ERR: Step.SEND_NOTIFICATION_ERROR,
        Event.UPDATE_MSG_ERR: Step.SEND_NOTIFICATION_ERROR,
    }
    if event in (Event.TCP_CONNECTION_FAILS, Event.NOTIF_MSG_VER_ERR, Event.NOTIF_MSG):
        assert sent == set()  # the connection is gone or the peer already said goodbye
    else:
        assert sent == {expected.get(event, Step.SEND_NOTIFICATION_FSM_ERROR)}


def test_every_pair_resolves() -> None:
    """No (state, event, guards) combination is left without an outcome."""
    for state, event, guards in itertools.product(State, Event, GUARD_SETS):
        target, steps = resolve(state, event, guards)
        assert isinstance(target, State)
        assert all(isinstance(s, Step) for s in steps)


def test_idle_ignores_stops_and_other_events() -> None:
    for event in (Event.MANUAL_STOP, Event.AUTOMATIC_STOP, Event.KEEP_ALIVE_MSG, Event.TCP_CONNECTION_FAILS):
        assert resolve(IDLE, event) == Transition(IDLE, ())
