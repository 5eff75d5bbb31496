"""The BGP session, sans-I/O: RFC 4271 §8 FSM (:mod:`~evpn.session.fsm`), OPEN negotiation
(:mod:`~evpn.session.negotiation`) and :class:`Session`, which turns bytes and time into
bytes to send and typed events (:mod:`~evpn.session.session`)."""

from evpn.session.fsm import Event, State, Step
from evpn.session.negotiation import Family, Negotiated, negotiate
from evpn.session.session import (
    LARGE_HOLD_TIME,
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
    SessionCounters,
    SessionEvent,
    SessionStateError,
    UpdateReceived,
    WantClose,
    WantConnect,
    resolve_collision,
)

__all__ = [
    "LARGE_HOLD_TIME",
    "BeginRouteRefresh",
    "Down",
    "EndOfRib",
    "EndRouteRefresh",
    "Established",
    "Event",
    "Family",
    "FamilyDisabled",
    "Negotiated",
    "NotificationReceived",
    "RouteRefreshRequested",
    "Session",
    "SessionConfig",
    "SessionCounters",
    "SessionEvent",
    "SessionStateError",
    "State",
    "Step",
    "UpdateReceived",
    "WantClose",
    "WantConnect",
    "negotiate",
    "resolve_collision",
]
