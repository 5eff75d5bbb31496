"""The trio edge: TCP listener and peers around the sans-I/O sessions.

``async with open_speaker(config) as speaker:`` runs a listener (when configured) and one
task per peer.  Each peer owns one long-lived :class:`~evpn.session.Session`; this module
moves bytes between sockets and sessions, drives their timers with ``trio.current_time()``,
keeps each peer's Adj-RIB-In and what it was sent, and reports typed events
(:mod:`evpn.events`).  Leaving the ``async with`` block sends a Cease to every peer.
"""

from __future__ import annotations

import logging
import math
import socket
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import attrs
import trio

from evpn.config import Config, PeerConfig, family_name
from evpn.errors import Action
from evpn.events import EndOfRib, Event, PeerDown, PeerUp, RouteAdded, RouteWithdrawn
from evpn.origination import find_vni, local_routes, mac_ip_route
from evpn.session import (
    BeginRouteRefresh,
    Down,
    EndRouteRefresh,
    Established,
    Family,
    FamilyDisabled,
    RouteRefreshRequested,
    Session,
    SessionConfig,
    State,
    UpdateReceived,
    WantClose,
    WantConnect,
    resolve_collision,
)
from evpn.session import EndOfRib as SessionEndOfRib
from evpn.tcp_md5 import set_md5sig
from evpn.types import ip_bytes, mac_bytes
from evpn.wire.attributes import (
    AS_SEQUENCE,
    AsPath,
    AsPathSegment,
    Attribute,
    LocalPref,
    MpReach,
    MpUnreach,
    Nlri,
    Origin,
)
from evpn.wire.codes import AFI, SAFI, AttrType, CeaseSubcode
from evpn.wire.messages import Notification

__all__ = ["PeerStatistics", "Speaker", "SpeakerStatistics", "open_speaker"]

log = logging.getLogger("evpn.speaker")

EVPN: Family = (AFI.L2VPN, SAFI.EVPN)
IPV4_UNICAST: Family = (AFI.IPV4, SAFI.UNICAST)
_EVENT_BUFFER = 4096
_SEND_BATCH = 2000  # routes packed per write, so a slow peer holds at most this many in bytes
_CLOSE_GRACE = 2.0  # seconds to flush a NOTIFICATION before closing


@attrs.frozen
class PeerStatistics:
    """A snapshot of one peer (see :meth:`Speaker.statistics`)."""

    address: str
    asn: int
    state: str
    established_since: float | None
    """``trio.current_time()`` when the session last reached Established, or ``None``."""
    messages_in: int
    messages_out: int
    updates_in: int
    updates_out: int
    routes_received: int
    routes_advertised: int


@attrs.frozen
class SpeakerStatistics:
    """An immutable snapshot of the speaker: its peers and how many routes it originates."""

    peers: tuple[PeerStatistics, ...]
    local_routes: int


@attrs.frozen
class _Local:
    """A route we originate, with what goes with it."""

    route: Nlri
    attributes: tuple[Attribute, ...]
    next_hop: bytes
    family: Family


def _key(route: Nlri) -> object:
    """The RIB identity of a route (RFC 7432 §7 for EVPN; the prefix itself otherwise)."""
    return getattr(route, "key", route)


class _Peer:
    """One configured peer: its session, connection and per-peer RIB state."""

    def __init__(self, speaker: Speaker, config: PeerConfig) -> None:
        self.speaker = speaker
        self.config = config
        self.session = speaker._new_session(config)
        self.stream: trio.abc.Stream | None = None
        self.connect_scope: trio.CancelScope | None = None
        self.wake_task = trio.Event()
        self.wake_writer = trio.Event()
        self.wake_events = trio.Event()
        self.lock = trio.Lock()
        self.send_lock = trio.Lock()  # one send_all at a time on a stream (trio raises BusyResourceError)
        self.established = trio.Event()
        self.established_since: float | None = None
        self.adj_in: dict[Family, dict[object, RouteAdded]] = {}
        self.stale: dict[Family, set[object]] = {}
        self.pending: dict[object, _Local | None] = {}
        self.end_of_rib_due: set[Family] = set()
        self.advertised: dict[object, _Local] = {}

    @property
    def address(self) -> str:
        return self.config.address

    @property
    def ibgp(self) -> bool:
        return self.config.asn == self.speaker.config.speaker.asn

    def wake(self) -> None:
        self.wake_task.set()
        self.wake_writer.set()
        self.wake_events.set()

    def export_attributes(self, local: _Local) -> tuple[Attribute, ...]:
        """Our attributes as this peer must get them: ORIGIN and AS_PATH always, our AS
        prepended for eBGP (RFC 4271 §5.1.2), LOCAL_PREF for iBGP only (§5.1.5)."""
        asn = self.speaker.config.speaker.asn
        out: dict[int, Attribute] = {a.type_code: a for a in local.attributes}
        out.setdefault(AttrType.ORIGIN, Origin(0))
        path = out.get(AttrType.AS_PATH)
        segments = path.segments if isinstance(path, AsPath) else ()
        if not self.ibgp:
            segments = (AsPathSegment(AS_SEQUENCE, (asn,)), *segments)
            out.pop(AttrType.LOCAL_PREF, None)
        else:
            out.setdefault(AttrType.LOCAL_PREF, LocalPref(100))
        out[AttrType.AS_PATH] = AsPath(segments)
        return tuple(out[code] for code in sorted(out))


class Speaker:
    """A running BGP speaker; get one from :func:`open_speaker`."""

    def __init__(self, config: Config, nursery: trio.Nursery) -> None:
        self.config = config
        self._nursery = nursery
        self._peers = {peer.address: _Peer(self, peer) for peer in config.peers}
        self._local: dict[object, _Local] = {}
        self._subscribers: list[trio.MemorySendChannel[Event]] = []

    # --- public API ----------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """Iterate over the speaker's events from now on (RFC 4271 §8 state changes, routes).

        Each subscriber has a bounded queue: a consumer that falls behind slows the peers
        down (their sockets are read no faster than events are taken) instead of growing
        memory.  Without a subscriber, events are dropped.
        """
        send, receive = trio.open_memory_channel[Event](_EVENT_BUFFER)
        self._subscribers.append(send)
        try:
            async with receive:
                async for event in receive:
                    yield event
        finally:
            self._subscribers.remove(send)

    def statistics(self) -> SpeakerStatistics:
        """An immutable snapshot of every peer's state and counters."""
        peers = []
        for peer in self._peers.values():
            counters = peer.session.counters
            peers.append(
                PeerStatistics(
                    address=peer.address,
                    asn=peer.config.asn,
                    state=peer.session.state.name,
                    established_since=peer.established_since,
                    messages_in=counters.messages_in,
                    messages_out=counters.messages_out,
                    updates_in=counters.updates_in,
                    updates_out=counters.updates_out,
                    routes_received=sum(len(routes) for routes in peer.adj_in.values()),
                    routes_advertised=len(peer.advertised),
                )
            )
        return SpeakerStatistics(tuple(peers), len(self._local))

    async def wait_established(self, peer: str) -> None:
        """Wait until the session with ``peer`` (its configured address) is Established."""
        await self._peer(peer).established.wait()

    def announce(
        self,
        routes: Iterable[Nlri],
        *,
        attributes: Sequence[Attribute] = (),
        next_hop: str | None = None,
        family: Family = EVPN,
    ) -> None:
        """Originate ``routes`` with ``attributes`` to every peer that negotiated ``family``.

        ORIGIN defaults to IGP, our AS is prepended to AS_PATH for eBGP peers and LOCAL_PREF
        100 is added for iBGP peers.  ``next_hop`` (the VTEP address for EVPN) defaults to
        the router ID.  Announcing a route again replaces it (RFC 4271 §3.1).
        """
        hop = ip_bytes(next_hop or self.config.speaker.router_id)
        shared = tuple(a for a in attributes if not isinstance(a, MpReach | MpUnreach))
        for route in routes:
            local = _Local(route, shared, hop, family)
            key = _key(route)
            self._local[key] = local
            for peer in self._peers.values():
                if family in peer.session.families:
                    peer.pending[key] = local
                    peer.wake()

    def add_mac(self, vni: int, mac: str, ip: str | None = None) -> None:
        """Originate a type-2 route for a local ``mac`` (and ``ip``) in the configured ``vni``,
        with the same RD, labels and communities as the configured MACs (RFC 7432 §7.2, §9;
        RFC 9135 §5.1 when the VNI is bound to a VRF).  ValueError if ``vni`` is not configured."""
        self._announce_local([mac_ip_route(self.config, find_vni(self.config, vni), *self._mac_ip(mac, ip))])

    def remove_mac(self, vni: int, mac: str, ip: str | None = None) -> None:
        """Withdraw the type-2 route of ``mac`` (and ``ip``) in ``vni`` (RFC 7432 §9).
        ValueError if ``vni`` is not configured; a MAC not originated is ignored."""
        route, _, _ = mac_ip_route(self.config, find_vni(self.config, vni), *self._mac_ip(mac, ip))
        self.withdraw([route])

    def reset(self, peer: str, communication: str = "") -> None:
        """Close the session with ``peer`` with a Cease/Administrative Reset carrying the RFC 9003
        shutdown ``communication``; it re-establishes after the idle hold time (RFC 4486 §4)."""
        target = self._peer(peer)
        target.session.reset(trio.current_time(), communication)
        target.wake()

    async def attach(self, peer: str, stream: trio.abc.Stream) -> None:
        """Hand the speaker a connection to ``peer`` that was made elsewhere (socket activation,
        a test's memory stream), as if the listener had accepted it (RFC 4271 §8.2.1.1, §6.8)."""
        await self._incoming(self._peer(peer), stream)

    def withdraw(self, routes: Iterable[Nlri]) -> None:
        """Stop originating ``routes``; peers that were sent them get a withdrawal."""
        for route in routes:
            key = _key(route)
            if self._local.pop(key, None) is None:
                continue
            for peer in self._peers.values():
                if key in peer.advertised or key in peer.pending:
                    peer.pending[key] = None
                    peer.wake()

    # --- internals -----------------------------------------------------------------

    @staticmethod
    def _mac_ip(mac: str, ip: str | None) -> tuple[bytes, bytes]:
        raw = mac_bytes(mac)
        if raw[0] & 1 or raw == bytes(6):
            raise ValueError(f"{mac!r} is not the MAC address of a host (zero, multicast or broadcast)")
        return raw, ip_bytes(ip, allow_none=True)

    def _announce_local(self, routes: Iterable[tuple[Nlri, tuple[Attribute, ...], str]]) -> None:
        """Announce ``(route, attributes, next hop)`` triples, one :meth:`announce` per shared
        next hop and attributes."""
        groups: dict[tuple[tuple[Attribute, ...], str], list[Nlri]] = {}
        for route, attributes, next_hop in routes:
            groups.setdefault((attributes, next_hop), []).append(route)
        for (attributes, next_hop), members in groups.items():
            self.announce(members, attributes=attributes, next_hop=next_hop)

    def _peer(self, address: str) -> _Peer:
        try:
            return self._peers[address]
        except KeyError:
            raise KeyError(f"no peer {address!r} is configured") from None

    def _new_session(self, config: PeerConfig) -> Session:
        speaker = self.config.speaker
        return Session(
            SessionConfig(
                local_asn=speaker.asn,
                router_id=speaker.router_id,
                peer_asn=config.asn,
                hold_time=config.effective_hold_time(speaker),
                families=config.afi_safis,
                passive=config.passive,
                connect_retry_time=config.connect_retry,
            )
        )

    async def _publish(self, event: Event) -> None:
        for channel in list(self._subscribers):
            with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await channel.send(event)

    async def _run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            # Sessions start before the listener and before open_speaker() returns, so that an
            # accepted or attach()ed connection never meets a session still in Idle (it would be refused).
            for peer in self._peers.values():
                await nursery.start(self._peer_task, peer)
            if self.config.speaker.listen is not None:
                await nursery.start(self._listen, self.config.speaker.listen)
            task_status.started()

    async def _shutdown(self, communication: str = "") -> None:
        """ManualStop every session (Cease, RFC 4486 §4) and flush it to the socket."""
        now = trio.current_time()
        for peer in self._peers.values():
            peer.session.stop(now, communication)
        async with trio.open_nursery() as nursery:
            for peer in self._peers.values():
                nursery.start_soon(self._close, peer)

    # --- connections ---------------------------------------------------------------

    async def _listen(self, listen: tuple[str, int], task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        host, port = listen
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = trio.socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for peer in self._peers.values():
            if peer.config.password and (":" in peer.address) == (family == socket.AF_INET6):
                set_md5sig(sock, peer.address, peer.config.password)  # type: ignore[arg-type]
        await sock.bind((host, port))
        sock.listen(64)
        log.info("listening on %s port %d", host, port)
        async with trio.SocketListener(sock) as listener:
            task_status.started()
            while True:
                stream = await listener.accept()
                remote = stream.socket.getpeername()[0]
                target = self._peers.get(remote)
                if target is None:
                    log.warning("refused a connection from %s: not a configured peer", remote)
                    await stream.aclose()
                    continue
                self._nursery.start_soon(self._incoming, target, stream)

    def _attach(self, peer: _Peer, stream: trio.abc.Stream, *, initiated_locally: bool) -> None:
        peer.stream = stream
        peer.session.connection_made(trio.current_time(), initiated_locally=initiated_locally)
        self._nursery.start_soon(self._reader, peer, stream)
        peer.wake()

    async def _incoming(self, peer: _Peer, stream: trio.abc.Stream) -> None:
        # First handle what the session still has to say about its previous connection: a stale
        # Down or WantClose handled after _attach() would close the new connection.
        await self._drain(peer)
        state = peer.session.state
        if peer.stream is None and state in (State.IDLE, State.CONNECT, State.ACTIVE):
            if peer.connect_scope is not None:
                peer.connect_scope.cancel()  # the accepted connection replaces our attempt
            self._attach(peer, stream, initiated_locally=False)
            return
        if state is State.ESTABLISHED or peer.stream is None:
            # RFC 4271 §6.8: a collision with an Established session closes the new connection.
            await self._refuse(stream)
            return
        # RFC 4271 §6.8: run a second session on this connection until the peer's OPEN gives
        # its BGP identifier, then keep one of the two connections.
        other = self._new_session(peer.config)
        other.start(trio.current_time())
        while other.next_event() is not None:
            pass  # a WantConnect: this session already has its connection
        other.connection_made(trio.current_time(), initiated_locally=False)
        if not await self._until_open(other, stream) or other.peer_router_id is None:
            await stream.aclose()
            return
        existing = peer.session
        keep_existing = existing.state is State.ESTABLISHED or resolve_collision(
            self.config.speaker.router_id,
            other.peer_router_id,
            existing_initiated_locally=existing.initiated_locally,
            local_asn=self.config.speaker.asn,
            peer_asn=peer.config.asn,
        )
        loser = other if keep_existing else existing
        if keep_existing:
            other.data_to_send()  # drop the unsent KEEPALIVE: only the Cease goes out
        loser.collision_dump(trio.current_time())
        if keep_existing:
            with trio.move_on_after(_CLOSE_GRACE):
                await stream.send_all(other.data_to_send())
            await stream.aclose()
            return
        log.info("%s: connection collision, keeping the connection the peer opened", peer.address)
        async with peer.lock:
            await self._close(peer)
            peer.session = other
            peer.stream = stream
        self._nursery.start_soon(self._reader, peer, stream)
        peer.wake()

    async def _refuse(self, stream: trio.abc.Stream) -> None:
        with trio.move_on_after(_CLOSE_GRACE):
            with suppress(trio.BrokenResourceError, OSError):
                await stream.send_all(Notification.cease(CeaseSubcode.CONNECTION_COLLISION_RESOLUTION).encode())
        await stream.aclose()

    async def _until_open(self, session: Session, stream: trio.abc.Stream) -> bool:
        """Run ``session`` on ``stream`` until the peer's OPEN is in; False if it ended first."""
        with trio.move_on_after(session.config.hold_time or 240):
            try:
                while session.peer_router_id is None:
                    data = session.data_to_send()
                    if data:
                        await stream.send_all(data)
                    if session.state is State.IDLE:
                        return False
                    chunk = await stream.receive_some(65536)
                    if not chunk:
                        return False
                    session.receive_data(bytes(chunk), trio.current_time())
                # The KEEPALIVE confirming the peer's OPEN stays queued: it goes out only if
                # this connection wins the collision (RFC 4271 §6.8).
                return True
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                return False
        return False

    async def _connect(self, peer: _Peer) -> None:
        config = peer.config
        family = socket.AF_INET6 if ":" in config.address else socket.AF_INET
        sock = trio.socket.socket(family, socket.SOCK_STREAM)
        with trio.CancelScope() as scope:
            peer.connect_scope = scope
            try:
                if config.password:
                    set_md5sig(sock, config.address, config.password)  # type: ignore[arg-type]
                if config.local_address:
                    await sock.bind((config.local_address, 0))
                with trio.fail_after(config.connect_retry):
                    await sock.connect((config.address, config.port))
            except (OSError, trio.TooSlowError) as exc:
                sock.close()
                log.debug("%s: connect failed: %s", peer.address, exc)
                if peer.stream is None:  # else an accepted connection replaced this attempt
                    peer.session.connection_failed(trio.current_time())
                    peer.wake()
                return
            finally:
                peer.connect_scope = None
        if scope.cancelled_caught or peer.stream is not None:
            sock.close()
            return
        self._attach(peer, trio.SocketStream(sock), initiated_locally=True)

    async def _reader(self, peer: _Peer, stream: trio.abc.Stream) -> None:
        """Feed the session what the peer sends; wait for its events to be handled before
        reading more, so that a slow event consumer slows the peer down (TCP backpressure)."""
        while peer.stream is stream:
            try:
                data = await stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                data = b""
            if peer.stream is not stream:
                return
            now = trio.current_time()
            if data:
                peer.session.receive_data(bytes(data), now)
            else:
                peer.session.connection_lost(now)
            await self._drain(peer)
            peer.wake()
            if not data:
                return

    async def _close(self, peer: _Peer) -> None:
        """Flush what the session queued (a NOTIFICATION) and close the peer's connection."""
        stream, peer.stream = peer.stream, None
        if stream is None:
            return
        with trio.move_on_after(_CLOSE_GRACE):
            try:
                async with peer.send_lock:  # the writer may be in send_all on this stream
                    data = peer.session.data_to_send()
                    if data:
                        await stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
        await stream.aclose()

    # --- the peer's task: timers, events, writes -----------------------------------

    async def _peer_task(self, peer: _Peer, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Drive the session's timers; its events are handled by a task of their own, so that a
        subscriber that is slow to take events never delays a KEEPALIVE (RFC 4271 §4.4)."""
        peer.session.start(trio.current_time())
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._writer, peer)
            nursery.start_soon(self._event_task, peer, nursery)
            task_status.started()
            while True:
                deadline = peer.session.next_deadline()
                with trio.move_on_at(math.inf if deadline is None else deadline):
                    await peer.wake_task.wait()
                peer.wake_task = trio.Event()
                now = trio.current_time()
                if deadline is not None and now >= deadline:
                    peer.session.handle_timer(now)
                    peer.wake_writer.set()  # a timer may have queued a KEEPALIVE or NOTIFICATION
                peer.wake_events.set()

    async def _event_task(self, peer: _Peer, nursery: trio.Nursery) -> None:
        while True:
            await self._drain(peer, nursery)
            await peer.wake_events.wait()
            peer.wake_events = trio.Event()

    async def _drain(self, peer: _Peer, nursery: trio.Nursery | None = None) -> None:
        async with peer.lock:
            while (event := peer.session.next_event()) is not None:
                await self._handle(peer, event, nursery or self._nursery)

    async def _handle(self, peer: _Peer, event: object, nursery: trio.Nursery) -> None:
        if isinstance(event, WantConnect):
            nursery.start_soon(self._connect, peer)
        elif isinstance(event, WantClose):
            await self._close(peer)
        elif isinstance(event, Established):
            negotiated = event.negotiated
            peer.established.set()
            peer.established_since = trio.current_time()
            peer.pending = {k: v for k, v in self._local.items() if v.family in negotiated.families}
            peer.end_of_rib_due = set(negotiated.families)
            peer.wake()
            families = tuple(family_name(*f) for f in sorted(negotiated.families))
            log.info("%s: established, AS %d, %s", peer.address, negotiated.peer_asn, ", ".join(families))
            await self._publish(PeerUp(peer.address, negotiated.peer_asn, families))
        elif isinstance(event, Down):
            await self._down(peer, event)
        elif isinstance(event, UpdateReceived):
            await self._receive_update(peer, event)
        elif isinstance(event, SessionEndOfRib):
            routes = len(peer.adj_in.get(event.family, {}))
            await self._publish(EndOfRib(peer.address, family_name(*event.family), routes))
        elif isinstance(event, RouteRefreshRequested):
            peer.pending.update({k: v for k, v in self._local.items() if v.family == event.family})
            peer.wake()
        elif isinstance(event, BeginRouteRefresh):
            peer.stale[event.family] = set(peer.adj_in.get(event.family, {}))
        elif isinstance(event, EndRouteRefresh):
            table = peer.adj_in.get(event.family, {})
            for key in peer.stale.pop(event.family, set()):
                if (added := table.pop(key, None)) is not None:
                    await self._publish(RouteWithdrawn(peer.address, added.route))
        elif isinstance(event, FamilyDisabled):
            log.warning("%s: %s disabled: %s", peer.address, family_name(*event.family), event.error.field)
            for added in peer.adj_in.pop(event.family, {}).values():
                await self._publish(RouteWithdrawn(peer.address, added.route))

    async def _down(self, peer: _Peer, event: Down) -> None:
        was_up = peer.established.is_set()
        if was_up:  # a fresh Event for the next time; wait_established() callers keep waiting on this one
            peer.established = trio.Event()
        peer.established_since = None
        peer.advertised.clear()
        peer.pending.clear()
        peer.end_of_rib_due.clear()
        peer.stale.clear()
        if peer.stream is not None:
            await self._close(peer)
        tables, peer.adj_in = peer.adj_in, {}
        for table in tables.values():
            for added in table.values():
                await self._publish(RouteWithdrawn(peer.address, added.route))
        if was_up or event.notification is not None:
            reason = event.reason
            if event.sent and event.notification is not None:  # name what we sent, as a received one is
                reason += f"; NOTIFICATION sent: {event.notification.name}"
            log.info("%s: down: %s", peer.address, reason)
            await self._publish(PeerDown(peer.address, reason))

    async def _receive_update(self, peer: _Peer, event: UpdateReceived) -> None:
        update = event.update
        withdraw_all = event.action is Action.TREAT_AS_WITHDRAW  # RFC 7606 §2
        if (unreach := update.mp_unreach) is not None:
            await self._withdraw_in(peer, (unreach.afi, unreach.safi), unreach.nlri)
        await self._withdraw_in(peer, IPV4_UNICAST, update.withdrawn)
        attributes = tuple(a for a in update.attributes if not isinstance(a, MpReach | MpUnreach))
        if (reach := update.mp_reach) is not None:
            family = (reach.afi, reach.safi)
            if withdraw_all:
                await self._withdraw_in(peer, family, reach.nlri)
            else:
                await self._add_in(peer, family, reach.nlri, attributes, reach.next_hop)
        if update.nlri:
            if withdraw_all:
                await self._withdraw_in(peer, IPV4_UNICAST, update.nlri)
            else:
                next_hop = update.attribute(AttrType.NEXT_HOP)
                raw = getattr(next_hop, "address", b"")
                await self._add_in(peer, IPV4_UNICAST, update.nlri, attributes, raw)

    async def _add_in(
        self, peer: _Peer, family: Family, routes: Sequence[Nlri], attributes: tuple[Attribute, ...], next_hop: bytes
    ) -> None:
        table = peer.adj_in.setdefault(family, {})
        stale = peer.stale.get(family)
        for route in routes:
            key = _key(route)
            event = RouteAdded(peer.address, route, attributes, next_hop)
            table[key] = event
            if stale:
                stale.discard(key)
            await self._publish(event)

    async def _withdraw_in(self, peer: _Peer, family: Family, routes: Sequence[Nlri]) -> None:
        table = peer.adj_in.get(family)
        if not table:
            return
        for route in routes:
            if (added := table.pop(_key(route), None)) is not None:
                await self._publish(RouteWithdrawn(peer.address, added.route))

    async def _writer(self, peer: _Peer) -> None:
        """Serialise every write to the peer: pending routes in batches, then what the
        session queued (keepalives, NOTIFICATIONs, End-of-RIB)."""
        while True:
            stream = peer.stream
            if stream is not None and peer.session.state is State.ESTABLISHED:
                self._pack_pending(peer)
            sent = False
            if stream is not None:
                try:
                    async with peer.send_lock:
                        # Take the bytes only while holding the lock and still owning the stream:
                        # else _close() flushes them (a NOTIFICATION must not be lost).
                        data = peer.session.data_to_send() if stream is peer.stream else b""
                        if data:
                            sent = True
                            await stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    if stream is peer.stream:  # else it was closed on purpose, maybe replaced (§6.8)
                        peer.session.connection_lost(trio.current_time())
                        peer.wake()
            if sent and (peer.pending or peer.end_of_rib_due):
                await trio.sleep(0)
                continue
            await peer.wake_writer.wait()
            peer.wake_writer = trio.Event()

    def _pack_pending(self, peer: _Peer) -> None:
        """Give the session one batch of pending routes, grouped by shared attributes; once
        none are left, the End-of-RIB markers still due (RFC 4724 §2)."""
        if not peer.pending:
            for family in sorted(peer.end_of_rib_due):
                if family in peer.session.families:
                    peer.session.send_end_of_rib(family)
            peer.end_of_rib_due.clear()
            return
        withdrawals: dict[Family, list[Nlri]] = {}
        groups: dict[tuple[Family, tuple[Attribute, ...], bytes], list[Nlri]] = {}
        for key in list(peer.pending)[:_SEND_BATCH]:
            local = peer.pending.pop(key)
            if local is None:
                if (previous := peer.advertised.pop(key, None)) is not None:
                    withdrawals.setdefault(previous.family, []).append(previous.route)
                continue
            if local.family not in peer.session.families:
                continue
            groups.setdefault((local.family, peer.export_attributes(local), local.next_hop), []).append(local.route)
            peer.advertised[key] = local
        for family, routes in withdrawals.items():
            if family in peer.session.families:
                peer.session.send_withdrawals(routes, family)
        for (family, attributes, next_hop), routes in groups.items():
            peer.session.send_routes(attributes, routes, next_hop, family)


@asynccontextmanager
async def open_speaker(config: Config) -> AsyncIterator[Speaker]:
    """Run a speaker for ``config`` while the block runs (RFC 4271 §8).

    On exit every peer gets a Cease (Administrative Shutdown, RFC 4486 §4) and every task
    stops.
    """
    async with trio.open_nursery() as nursery:
        speaker = Speaker(config, nursery)
        speaker._announce_local(local_routes(config))  # the [[vnis]] and [[vrfs]] routes, before any peer is up
        await nursery.start(speaker._run)
        try:
            yield speaker
        finally:
            with trio.CancelScope(shield=True):
                await speaker._shutdown()
            nursery.cancel_scope.cancel()
            for channel in speaker._subscribers:
                channel.close()  # an events() loop running outside the block ends instead of hanging
