"""Throw random valid and malformed EVPN UPDATEs at a BGP speaker, and report what it did.

The target is an ``evpn`` speaker (AS 65000) listening on 127.0.0.1 in this process.  The
fuzzer is a BGP peer (AS 65099) that connects from 127.0.0.2.  It runs the protocol with
evpn's sans-I/O :class:`~evpn.session.Session` (OPEN exchange, KEEPALIVEs, NOTIFICATIONs)
and writes its UPDATEs as raw bytes.  The UPDATEs come from :mod:`evpn.testing.strategies`
(Hypothesis), the same ones for the same ``--seed``:

1. ``--count`` valid UPDATEs (``evpn_updates()``): random EVPN routes of every type, with the
   attributes an EVPN peer sends.  The target must accept every route.
2. ``--invalid`` malformed messages (``malformed_evpn_updates()``), going through every kind
   of ``MALFORMED_UPDATE_KINDS`` in turn: for each kind the simplest case first, then random
   ones.  Each case says what RFC 7606 prescribes, and the fuzzer checks that the target did
   it.  Before a case, the fuzzer announces the well-formed routes that the case carries.
   After the case, it announces an EVPN *probe* route.  The outcome is then one of:

   * ``accepted``: the case's routes are accepted again (attribute discard, RFC 7606 §2);
   * ``treat-as-withdraw``: the routes announced just before are withdrawn, and the probe is
     accepted (RFC 7606 §2);
   * ``afi-safi-disable``: the probe is ignored, because EVPN is off for the rest of the
     session (RFC 7606 §2, RFC 4760 §7).  The fuzzer then reconnects;
   * ``session-reset``: the target sends a NOTIFICATION and closes the session (RFC 4271 §6).
     The fuzzer checks the code and subcode, then reconnects.

The fuzzer needs to know when the target has handled an UPDATE.  After each one it announces
an IPv4 unicast *marker* route and waits until the target reports it (a peer's UPDATEs are
handled in order), or until the session ends.

Only loopback addresses are used: nothing leaves the host::

    python examples/route_fuzzer.py --count 20 --invalid 40 --seed 1 [--port 21792]

The exit status is 1 if the target did anything other than what was expected.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import trio

from evpn.config import Config, PeerConfig, SpeakerConfig
from evpn.errors import Action
from evpn.events import Event, PeerDown, RouteAdded, RouteWithdrawn
from evpn.rib import route_key
from evpn.session import Down, Established, Session, SessionConfig, State, WantClose
from evpn.speaker import Speaker, open_speaker
from evpn.testing.strategies import (
    EVPN,
    IPV4_UNICAST,
    MALFORMED_UPDATE_KINDS,
    MalformedUpdate,
    evpn_updates,
    generate,
    malformed_evpn_updates,
)
from evpn.wire import (
    AsPath,
    AsPathSegment,
    Context,
    InclusiveMulticastRoute,
    NextHop,
    Notification,
    Origin,
    Prefix,
    Update,
)

TARGET, TARGET_ASN = "127.0.0.1", 65000
SOURCE, ASN = "127.0.0.2", 65099  # the fuzzer
VTEP = "198.51.100.99"  # the next hop of the fuzzer's EVPN routes
# What both sides negotiate: 4-octet ASNs and extended messages (RFC 6793, RFC 8654), no ADD-PATH.
CONTEXT = Context(four_octet_as=True, extended_message=True)
OUTCOMES = {
    Action.ATTRIBUTE_DISCARD: "accepted",
    Action.TREAT_AS_WITHDRAW: "treat-as-withdraw",
    Action.AFI_SAFI_DISABLE: "afi-safi-disable",
    Action.SESSION_RESET: "session-reset",
}
STEP_TIMEOUT = 10.0  # seconds for the target to handle one UPDATE


# --- the target's side: its events ------------------------------------------------------------


class Observer:
    """Every route and session event the target reports, in order."""

    def __init__(self) -> None:
        self.log: list[Event] = []
        self._changed = trio.Event()

    async def run(self, target: Speaker, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Record the target's events until cancelled."""
        events = target.events(RouteAdded, RouteWithdrawn, PeerDown)
        task_status.started()  # subscribed at the first iteration, which follows at once
        async for event in events:
            self.log.append(event)
            self._changed.set()
            self._changed = trio.Event()

    async def until(self, start: int, last: Callable[[Event], bool]) -> list[Event]:
        """The events from ``log[start]`` on, up to the first one for which ``last`` holds."""
        checked = start
        while True:
            for index in range(checked, len(self.log)):
                if last(self.log[index]):
                    return self.log[start : index + 1]
            checked = len(self.log)
            await self._changed.wait()


# --- the fuzzer's side: a BGP connection run by evpn's Session ---------------------------------


class Client:
    """One BGP connection to the target.  A :class:`Session` speaks the protocol, and
    :meth:`send_raw` writes any bytes between its messages."""

    def __init__(self, session: Session, stream: trio.SocketStream) -> None:
        self.session = session
        self.stream = stream
        self.established = trio.Event()
        self.closed = trio.Event()
        self.down: Down | None = None
        """How the session ended, with the NOTIFICATION if there was one."""
        self._lock = trio.Lock()

    @classmethod
    async def connect(cls, nursery: trio.Nursery, port: int) -> Client:
        """Open a session to the target and wait until it is Established."""
        config = SessionConfig(ASN, VTEP, TARGET_ASN, hold_time=30, families=(EVPN, IPV4_UNICAST))
        session = Session(config)
        session.start(trio.current_time())
        sock = trio.socket.socket()
        await sock.bind((SOURCE, 0))
        await sock.connect((TARGET, port))
        session.connection_made(trio.current_time(), initiated_locally=True)
        client = cls(session, trio.SocketStream(sock))
        nursery.start_soon(client._pump)
        await client._service()  # our OPEN
        with trio.fail_after(STEP_TIMEOUT):
            await client.established.wait()
        return client

    async def send_raw(self, data: bytes) -> None:
        """Write ``data`` to the connection, between two of the session's messages."""
        async with self._lock:
            await self._send(self.session.data_to_send() + data)

    async def send_routes(self, attributes: Sequence[Any], routes: Sequence[Any], family: Any = EVPN) -> None:
        """Announce ``routes``: UPDATEs built by the session (RFC 4760 §3)."""
        if self.session.state is State.ESTABLISHED:  # else the target ended the session
            self.session.send_routes(attributes, routes, VTEP, family)
            await self._service()

    async def aclose(self) -> None:
        """End the session with a Cease (RFC 4486 §4) and close the connection."""
        if not self.closed.is_set():
            self.session.stop(trio.current_time())
            await self._service()
        await self.stream.aclose()
        self.closed.set()

    async def _send(self, data: bytes) -> None:
        if data and not self.closed.is_set():
            # If the target closed the connection, its events say why.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self.stream.send_all(data)

    async def _service(self) -> None:
        """Handle the session's events and send what it queued."""
        async with self._lock:
            close = False
            while (event := self.session.next_event()) is not None:
                if isinstance(event, Established):
                    self.established.set()
                elif isinstance(event, Down):
                    self.down = event
                elif isinstance(event, WantClose):
                    close = True
            await self._send(self.session.data_to_send())
            if close:
                await self.stream.aclose()
                self.closed.set()

    async def _pump(self) -> None:
        """Feed the session what the target sends, and run its timers (KEEPALIVEs)."""
        session = self.session
        while not self.closed.is_set():
            deadline = session.next_deadline()
            with trio.move_on_at(math.inf if deadline is None else deadline):
                try:
                    data = await self.stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                if data:
                    session.receive_data(bytes(data), trio.current_time())
                else:
                    session.connection_lost(trio.current_time())
                    self.closed.set()
            session.handle_timer(trio.current_time())
            await self._service()


# --- the fuzzer -------------------------------------------------------------------------------


class Fuzzer:
    """Sends the cases, one at a time, and tells what the target did with each."""

    def __init__(self, nursery: trio.Nursery, observer: Observer, port: int) -> None:
        self.nursery = nursery
        self.observer = observer
        self.port = port
        self.client: Client | None = None
        self.sessions = 0
        self.markers = 0
        self.probes = 0

    async def connect(self) -> Client:
        """A new session to the target."""
        self.client = await Client.connect(self.nursery, self.port)
        self.sessions += 1
        return self.client

    async def reconnect(self, target_down: bool) -> None:
        """End the session (if the target has not: ``target_down``) and open a new one."""
        assert self.client is not None
        start = len(self.observer.log)
        await self.client.aclose()
        if not target_down:  # the target has to see our Cease before we come back
            with trio.fail_after(STEP_TIMEOUT):
                await self.observer.until(start, lambda e: isinstance(e, PeerDown))
        await self.connect()

    async def settle(self, start: int) -> list[Event]:
        """Announce the next marker route; the target's events from ``log[start]`` on, up to
        the marker's arrival or the end of the session."""
        assert self.client is not None
        self.markers += 1
        n = self.markers
        marker = Prefix(bytes((10, n >> 16 & 255, n >> 8 & 255, n & 255)), 32)
        attributes = [Origin(0), AsPath([AsPathSegment(2, [ASN])]), NextHop(VTEP)]
        await self.client.send_routes(attributes, [marker], IPV4_UNICAST)

        def last(event: Event) -> bool:
            return isinstance(event, PeerDown) or (isinstance(event, RouteAdded) and event.route == marker)

        with trio.fail_after(STEP_TIMEOUT):
            return await self.observer.until(start, last)

    async def valid(self, update: Update) -> tuple[int, int]:
        """Send one valid UPDATE: (routes in it, routes the target accepted)."""
        client = self.client or await self.connect()
        start = len(self.observer.log)
        await client.send_raw(update.encode(CONTEXT))
        events = await self.settle(start)
        reach = update.mp_reach
        keys = {route_key(route) for route in (reach.nlri if reach else ())}
        added = {route_key(e.route) for e in events if isinstance(e, RouteAdded)}
        return len(keys), len(keys & added)

    async def malformed(self, case: MalformedUpdate) -> str:
        """Send one malformed case: what the target did (an ``OUTCOMES`` value, with the
        NOTIFICATION's name for a session reset), or ``"ignored"``."""
        client = self.client or await self.connect()
        base = [Origin(0), AsPath([AsPathSegment(2, [ASN])])]
        keys = {route_key(route) for route in case.routes}
        if case.routes:  # announce them first, to see them withdrawn
            start = len(self.observer.log)
            await client.send_routes(base, case.routes)
            await self.settle(start)
        start = len(self.observer.log)
        await client.send_raw(case.message)
        self.probes += 1
        probe = InclusiveMulticastRoute(rd=f"{ASN}:{self.probes}", originator_ip=VTEP)
        await client.send_routes(base, [probe])
        events = await self.settle(start)
        added = {route_key(e.route) for e in events if isinstance(e, RouteAdded)}
        withdrawn = {route_key(e.route) for e in events if isinstance(e, RouteWithdrawn)}
        if any(isinstance(e, PeerDown) for e in events):
            with trio.move_on_after(STEP_TIMEOUT):
                await client.closed.wait()  # we have read the target's NOTIFICATION, if it sent one
            down = client.down
            got = "session-reset"
            if down is not None and down.notification is not None and not down.sent:
                got += f" {down.notification.name}"
        elif route_key(probe) not in added:
            got = "afi-safi-disable"
        elif keys & added:
            got = "accepted"
        elif keys and keys <= withdrawn:
            got = "treat-as-withdraw"
        else:
            got = "ignored"
        if got.startswith(("session-reset", "afi-safi-disable")):  # the session is gone, or EVPN is off on it
            await self.reconnect(target_down=got.startswith("session-reset"))
        return got


def expected(case: MalformedUpdate) -> str:
    """What RFC 7606 (and RFC 4271 §6) prescribe for ``case``, as :meth:`Fuzzer.malformed` says it."""
    outcome = OUTCOMES[case.action]
    if case.notification is not None:
        outcome += f" {Notification(*case.notification).name}"
    return outcome


def draw_cases(count: int, invalid: int, seed: int) -> tuple[list[Update], list[MalformedUpdate]]:
    """``count`` valid UPDATEs and ``invalid`` malformed cases, every kind in turn, for ``seed``."""
    valid = generate(evpn_updates(CONTEXT, asn=ASN), count, seed=seed) if count else []
    kinds = sorted(MALFORMED_UPDATE_KINDS)
    per_kind = Counter(kinds[i % len(kinds)] for i in range(invalid))
    drawn = {
        kind: generate(malformed_evpn_updates(CONTEXT, asn=ASN, kind=kind), n, seed=seed)
        for kind, n in per_kind.items()
    }
    malformed = [drawn[kinds[i % len(kinds)]][i // len(kinds)] for i in range(invalid)]
    return valid, malformed


def route_types(update: Update) -> str:
    """The route types of ``update``'s routes, e.g. ``"2,2,5"``."""
    reach = update.mp_reach
    return ",".join(str(getattr(route, "route_type", "?")) for route in (reach.nlri if reach else ()))


async def main(port: int, count: int, invalid: int, seed: int) -> int:
    """Fuzz the target; the exit status."""
    valid_cases, malformed_cases = draw_cases(count, invalid, seed)
    print(f"route_fuzzer: seed {seed}: {len(valid_cases)} valid and {len(malformed_cases)} malformed UPDATEs")
    print(f"target: evpn speaker AS {TARGET_ASN} on {TARGET}; fuzzer: AS {ASN} from {SOURCE}")
    target_config = Config(
        SpeakerConfig(TARGET_ASN, "198.18.0.1", listen=(TARGET, port), hold_time=30),
        (PeerConfig(SOURCE, ASN, passive=True, families=("l2vpn-evpn", "ipv4-unicast")),),
    )
    failures = 0
    routes_sent = routes_accepted = 0
    outcomes: Counter[str] = Counter()
    async with open_speaker(target_config) as target, trio.open_nursery() as nursery:
        observer = Observer()
        await nursery.start(observer.run, target)
        fuzzer = Fuzzer(nursery, observer, port)
        for number, update in enumerate(valid_cases, 1):
            sent, accepted = await fuzzer.valid(update)
            routes_sent += sent
            routes_accepted += accepted
            verdict = "accepted" if accepted == sent else f"MISSING {sent - accepted}"
            failures += accepted != sent
            routes = f"{sent} route{'s' if sent != 1 else ''}"
            print(f"valid     {number:3}  {routes} (types {route_types(update)}): {verdict}")
        for number, case in enumerate(malformed_cases, 1):
            want, got = expected(case), await fuzzer.malformed(case)
            outcomes[got.split()[0]] += 1
            verdict = "ok" if got == want else f"UNEXPECTED (RFC 7606: {want})"
            failures += got != want
            print(f"malformed {number:3}  {case.kind}: {got}: {verdict}")
        if fuzzer.client is not None:
            await fuzzer.client.aclose()
        statistics = target.statistics()
        nursery.cancel_scope.cancel()
    print("summary:")
    print(f"  valid: {len(valid_cases)} UPDATEs, {routes_sent} routes, {routes_accepted} accepted")
    by_outcome = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
    print(f"  malformed: {len(malformed_cases)} UPDATEs: {by_outcome or 'none'}")
    (peer,) = statistics.peers
    print(f"  sessions: {fuzzer.sessions}; the target read {peer.messages_in} messages and kept running")
    print(f"  unexpected: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="valid UPDATEs to send (default 20)")
    parser.add_argument("--invalid", type=int, default=None, help="malformed UPDATEs to send (default: --count)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed draws the same UPDATEs (default 0)")
    parser.add_argument("--port", type=int, default=21792, help="the target's BGP port on 127.0.0.1")
    args = parser.parse_args()
    # The target's warnings (an address family disabled, ...) go to stderr.
    logging.basicConfig(format="target log: %(message)s", level=logging.WARNING)
    invalid = args.count if args.invalid is None else args.invalid
    sys.exit(trio.run(main, args.port, args.count, invalid, args.seed))
