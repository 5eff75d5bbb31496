"""The trio edge: TCP listener and peers around the sans-I/O sessions.

``async with open_speaker(config) as speaker:`` runs a listener (when configured) and one
task per peer.  Each peer owns one long-lived :class:`~evpn.session.Session`; this module
moves bytes between sockets and sessions, drives their timers with ``trio.current_time()``,
feeds what peers send and what we originate to the :class:`~evpn.rib.Rib`, sends each peer
the best paths it may have (its Adj-RIB-Out, RFC 4271 §9.2, RFC 4456 §6) and reports typed
events (:mod:`evpn.events`), the RIB's VNI/VRF deltas among them.  Leaving the ``async with``
block sends a Cease to every peer.
"""

from __future__ import annotations

import gc
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
from evpn.origination import find_vni, inclusive_multicast_route, local_routes, mac_ip_route
from evpn.rib import Path, Rib, Source, advertises, export_attributes, family_of, route_key
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
from evpn.session.session import EVPN
from evpn.sink.base import Sink
from evpn.sink.dataplane import Dataplane, open_sink
from evpn.sink.learn import LearnedChange, LocalMacChange
from evpn.tcp_md5 import set_md5sig
from evpn.types import ip_bytes, mac_bytes
from evpn.wire.attributes import Attribute, MpReach, MpUnreach, Nlri
from evpn.wire.capabilities import GracefulRestart
from evpn.wire.codes import AFI, SAFI, AttrType, CeaseSubcode, ErrorCode
from evpn.wire.messages import Notification

__all__ = ["PeerStatistics", "Speaker", "SpeakerStatistics", "open_speaker"]

log = logging.getLogger("evpn.speaker")

IPV4_UNICAST: Family = (AFI.IPV4, SAFI.UNICAST)
_EVENT_BUFFER = 4096
_SEND_BATCH = 2000  # routes packed per write, so a slow peer holds at most this many in bytes
_CLOSE_GRACE = 2.0  # seconds to flush a NOTIFICATION before closing
_STALE_PATH_TIME = 360.0  # seconds a restarted peer has to send End-of-RIB (FRR's stalepath-time)
_GC_THRESHOLDS = (100_000, 50, 1000)  # gc.set_threshold() while a speaker runs (defaults: 700, 10, 10)
_FORWARDING_PRESERVED = 0x80  # the F bit of a graceful restart family (RFC 4724 §3)


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
        self.source: Source | None = None
        """Our view of the peer as a RIB source, while the session is Established."""
        self.graceful_restart: GracefulRestart | None = None
        """The peer's graceful restart capability from its last OPEN (RFC 4724 §3)."""
        self.restart_timer: trio.CancelScope | None = None
        self.pending: dict[object, Path | None] = {}
        """Adj-RIB-Out changes not yet sent: RIB key → path, ``None`` to withdraw."""
        self.end_of_rib_due: set[Family] = set()
        self.eorr_due: set[Family] = set()
        """Families re-advertised after a BoRR that still need their EoRR (RFC 7313 §4)."""
        self.advertised: dict[object, Path] = {}
        """What the peer was sent and not withdrawn (the Adj-RIB-Out, RFC 4271 §3.2)."""

    @property
    def address(self) -> str:
        return self.config.address

    def wake(self) -> None:
        self.wake_task.set()
        self.wake_writer.set()
        self.wake_events.set()


class Speaker:
    """A running BGP speaker; get one from :func:`open_speaker`."""

    def __init__(self, config: Config, nursery: trio.Nursery, dataplane: Dataplane | None = None) -> None:
        self.config = config
        self.dataplane = dataplane
        """Where the RIB's VNI/VRF state is programmed (``[dataplane]``), or ``None``."""
        self._nursery = nursery
        self._peers = {peer.address: _Peer(self, peer) for peer in config.peers}
        self.rib = Rib(
            config.speaker.asn,
            config.speaker.router_id,
            cluster_id=config.speaker.cluster_id,
            vnis=[(vni.vni, vni.import_targets) for vni in config.vnis],
            vrfs=[(vrf.name, vrf.l3vni, vrf.import_targets) for vrf in config.vrfs],
        )
        """The RIB (read it, do not change it: use :meth:`announce` and :meth:`withdraw`)."""
        self._cluster_id = ip_bytes(config.speaker.cluster_id or config.speaker.router_id)
        self._subscribers: list[tuple[trio.MemorySendChannel[Event], tuple[type, ...]]] = []
        self._local_changed = trio.Event()

    # --- public API ----------------------------------------------------------------

    async def events(self, *types: type) -> AsyncIterator[Event]:
        """Iterate over the speaker's events from now on: session state changes (RFC 4271 §8),
        received routes, End-of-RIB, and the RIB's VNI/VRF deltas (:mod:`evpn.rib.deltas`).

        Give event classes (``speaker.events(PeerUp, MacChange)``) to get only those; events
        nobody asked for are not even built.  Each subscriber has a bounded queue: a consumer
        that falls behind slows the peers down (their sockets are read no faster than events
        are taken) instead of growing memory.
        """
        send, receive = trio.open_memory_channel[Event](_EVENT_BUFFER)
        entry = (send, types)
        self._subscribers.append(entry)
        try:
            async with receive:
                async for event in receive:
                    yield event
        finally:
            self._subscribers.remove(entry)

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
                    routes_received=self.rib.count(peer.address),
                    routes_advertised=len(peer.advertised),
                )
            )
        return SpeakerStatistics(tuple(peers), self.rib.count(""))

    async def wait_established(self, peer: str) -> None:
        """Wait until the session with ``peer`` (its configured address) is Established."""
        await self._peer(peer).established.wait()

    def announce(
        self, routes: Iterable[Nlri], *, attributes: Sequence[Attribute] = (), next_hop: str | None = None
    ) -> None:
        """Originate ``routes`` with ``attributes`` (RFC 4271 §9.4): each goes to every peer
        that negotiated its family (L2VPN EVPN, or IPv4/IPv6 unicast for prefixes) if it
        becomes the best path.

        ORIGIN defaults to IGP, our AS is prepended to AS_PATH for eBGP peers and LOCAL_PREF
        100 is added for iBGP peers.  ``next_hop`` (the VTEP address for EVPN) defaults to
        the router ID.  Announcing a route again replaces it (RFC 4271 §3.1).  A type-2
        route for a MAC a remote VTEP advertises gets the next MAC mobility sequence
        number (RFC 7432 §15.1).
        """
        hop = ip_bytes(next_hop or self.config.speaker.router_id)
        shared = tuple(a for a in attributes if not isinstance(a, MpReach | MpUnreach))
        for route in routes:
            self.rib.originate(route, shared, hop)
        self._distribute()
        self._local_changed.set()

    def add_mac(self, vni: int, mac: str, ip: str | None = None) -> None:
        """Originate a type-2 route for a local ``mac`` (and ``ip``) in the configured ``vni``,
        with the same RD, labels and communities as the configured MACs (RFC 7432 §7.2, §9;
        RFC 9135 §5.1 when the VNI is bound to a VRF).  A MAC that a remote VTEP advertises
        with sequence number *s* is advertised with *s + 1*, so that it moves here (RFC 7432
        §15.1).  ValueError if ``vni`` is not configured."""
        self._announce_local([mac_ip_route(self.config, find_vni(self.config, vni), *self._mac_ip(mac, ip))])

    def remove_mac(self, vni: int, mac: str, ip: str | None = None) -> None:
        """Withdraw the type-2 route of ``mac`` (and ``ip``) in ``vni`` (RFC 7432 §9).
        ValueError if ``vni`` is not configured; a MAC not originated is ignored."""
        route, _, _ = mac_ip_route(self.config, find_vni(self.config, vni), *self._mac_ip(mac, ip))
        self.withdraw([route])

    def reset(self, peer: str, communication: str = "") -> None:
        """Close the session with ``peer`` with a Cease/Administrative Reset carrying the RFC 9003
        shutdown ``communication``; it re-establishes after the idle hold time (RFC 4486 §4).
        A session that is down (waiting to restart, or left down by
        :attr:`~evpn.config.PeerConfig.max_prefixes`) starts at once."""
        target = self._peer(peer)
        session, now = target.session, trio.current_time()
        if session.state is State.IDLE:
            session.start(now)
        else:
            session.reset(now, communication)
        target.wake()

    async def attach(self, peer: str, stream: trio.abc.Stream) -> None:
        """Hand the speaker a connection to ``peer`` that was made elsewhere (socket activation,
        a test's memory stream), as if the listener had accepted it (RFC 4271 §8.2.1.1, §6.8)."""
        await self._incoming(self._peer(peer), stream)

    def withdraw(self, routes: Iterable[Nlri]) -> None:
        """Stop originating ``routes``; peers that were sent them get a withdrawal (or the
        next best path, if another source has one)."""
        for route in routes:
            self.rib.remove_local(route)
        self._distribute()
        self._local_changed.set()

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

    def _wants(self, kind: type) -> bool:
        """Whether some subscriber takes events of class ``kind``."""
        return any(not types or kind in types for _, types in self._subscribers)

    async def _publish(self, event: Event) -> None:
        kind = type(event)
        for channel, types in list(self._subscribers):
            if not types or kind in types:
                with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await channel.send(event)

    def _distribute(self) -> None:
        """Queue the RIB's best-path changes on every Established peer's Adj-RIB-Out:
        the new best path where it may go (RFC 4271 §9.2, RFC 4456 §6), else a withdrawal
        of what the peer was sent."""
        changes = self.rib.take_changes()
        if not changes:
            return
        for peer in self._peers.values():
            source = peer.source
            if source is None:
                continue
            families = peer.session.families
            pending, advertised = peer.pending, peer.advertised
            for key, path in changes.items():
                if (
                    path is not None
                    and path.source is not source
                    and advertises(path, source)
                    and family_of(path.route) in families
                ):
                    pending[key] = path
                elif key in advertised or key in pending:
                    pending[key] = None
            if pending:
                peer.wake()

    async def _publish_deltas(self) -> None:
        """Report the RIB's VNI/VRF deltas as events (to the subscribers that take them)."""
        deltas = self.rib.take_deltas()
        if deltas and self.dataplane is not None:
            self.dataplane.push(deltas)
        if deltas and self._subscribers:
            for delta in deltas:
                await self._publish(delta)

    async def _withdrawn(self, peer: _Peer, paths: Iterable[Path]) -> None:
        """Report ``paths`` of ``peer`` as withdrawn, then move the RIB's output on."""
        if self._wants(RouteWithdrawn):
            for path in paths:
                await self._publish(RouteWithdrawn(peer.address, path.route))
        self._distribute()
        await self._publish_deltas()

    async def _run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            # Sessions start before the listener and before open_speaker() returns, so that an
            # accepted or attach()ed connection never meets a session still in Idle (it would be refused).
            for peer in self._peers.values():
                await nursery.start(self._peer_task, peer)
            if self.config.speaker.listen is not None:
                await nursery.start(self._listen, self.config.speaker.listen)
            nursery.start_soon(self._local_changes_task)
            if self.dataplane is not None:
                await nursery.start(self.dataplane.run)
                if self.dataplane.watcher is not None:
                    nursery.start_soon(self._learn, self.dataplane)
            task_status.started()

    async def _learn(self, dataplane: Dataplane) -> None:
        """Originate what the kernel learns (``[dataplane] learn``): a VNI whose devices were
        not found advertises no type-3 route."""
        missing = [vni for vni in self.config.vnis if vni.vni not in dataplane.translator.vnis]
        if missing:
            self.withdraw(inclusive_multicast_route(vni)[0] for vni in missing)
        await dataplane.learn(self._apply_learned)

    def _apply_learned(self, changes: list[LearnedChange]) -> None:
        """Originate or withdraw the local routes of ``changes`` (RFC 7432 §9, §11.1, §15.1)."""
        announce, withdraw = [], []
        for change in changes:
            vni = find_vni(self.config, change.vni)
            if isinstance(change, LocalMacChange):
                local = mac_ip_route(self.config, vni, change.mac, change.ip)
                present = change.present
            else:
                local = inclusive_multicast_route(vni)
                present = change.up
            if present:
                announce.append(local)
            else:
                withdraw.append(local[0])
            log.debug("learned: %s", change)
        if withdraw:
            self.withdraw(withdraw)
        if announce:
            self._announce_local(announce)

    async def _local_changes_task(self) -> None:
        """Report the deltas that :meth:`announce` and :meth:`withdraw` caused (they cannot wait)."""
        while True:
            await self._local_changed.wait()
            self._local_changed = trio.Event()
            await self._publish_deltas()

    async def _shutdown(self, communication: str = "") -> None:
        """ManualStop every session (Cease, RFC 4486 §4) and flush it to the socket."""
        now = trio.current_time()
        closing = []
        for peer in self._peers.values():
            peer.session.stop(now, communication)
            # Take each stream before the next checkpoint: a peer task that wakes up now must
            # not start closing it too, as this shielded flush is the one that gets to finish.
            if peer.stream is not None:
                closing.append((peer, peer.stream))
                peer.stream = None
        async with trio.open_nursery() as nursery:
            for peer, stream in closing:
                nursery.start_soon(self._flush_and_close, peer, stream)

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
                try:
                    remote = stream.socket.getpeername()[0]
                except OSError as exc:  # reset while it waited to be accepted (Linux: ENOTCONN)
                    log.info("dropped a connection gone before it was accepted: %s", exc)
                    await stream.aclose()
                    continue
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
        """Run ``session`` on ``stream`` until the peer's OPEN is in; False if it ended first.
        A peer silent for the hold time gets Hold Timer Expired (RFC 4271 §8.2.2, OpenSent)."""
        with trio.move_on_after(session.config.hold_time or 240) as waiting:
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
        if waiting.cancelled_caught:
            with (
                trio.move_on_after(_CLOSE_GRACE),
                suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError),
            ):
                await stream.send_all(Notification(ErrorCode.HOLD_TIMER_EXPIRED).encode())
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
        if stream is not None:
            await self._flush_and_close(peer, stream)

    async def _flush_and_close(self, peer: _Peer, stream: trio.abc.Stream) -> None:
        """Send what the session queued on ``stream``, no longer the peer's, then close it."""
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
            await self._established(peer, event, nursery)
        elif isinstance(event, Down):
            await self._down(peer, event, nursery)
        elif isinstance(event, UpdateReceived):
            await self._receive_update(peer, event)
        elif isinstance(event, SessionEndOfRib):
            # RFC 4724 §4.2: after a restart, End-of-RIB ends the peer's stale routes.
            await self._withdrawn(peer, self.rib.sweep(peer.address, event.family))
            if not self.rib.stale_families(peer.address) and peer.restart_timer is not None:
                peer.restart_timer.cancel()
            routes = self.rib.count(peer.address, event.family)
            if self.dataplane is not None and event.family == EVPN:
                self.dataplane.end_of_rib(peer.address)
            await self._publish(EndOfRib(peer.address, family_name(*event.family), routes))
        elif isinstance(event, RouteRefreshRequested):
            negotiated = peer.session.negotiated
            if negotiated is not None and negotiated.enhanced_route_refresh:
                # RFC 7313 §4: the re-advertisement goes between a BoRR and an EoRR.
                peer.session.send_route_refresh(event.family, subtype=1)
                peer.eorr_due.add(event.family)
            self._queue_table(peer, event.family)
        elif isinstance(event, BeginRouteRefresh):
            self.rib.mark_stale(peer.address, event.family)  # RFC 7313 §4
        elif isinstance(event, EndRouteRefresh):
            await self._withdrawn(peer, self.rib.sweep(peer.address, event.family))
        elif isinstance(event, FamilyDisabled):
            log.warning("%s: %s disabled: %s", peer.address, family_name(*event.family), event.error.field)
            await self._withdrawn(peer, self.rib.remove_family(peer.address, event.family))

    def _queue_table(self, peer: _Peer, family: Family | None = None) -> None:
        """Queue every best path ``peer`` may have (of ``family``, or of every negotiated
        family): its whole Adj-RIB-Out, at session start or on ROUTE-REFRESH (RFC 2918 §4)."""
        source = peer.source
        if source is None:
            return
        families = peer.session.families if family is None else {family}
        for key, path, _ in self.rib.best_paths():
            if path.source is not source and family_of(path.route) in families and advertises(path, source):
                peer.pending[key] = path
        peer.wake()

    async def _established(self, peer: _Peer, event: Established, nursery: trio.Nursery) -> None:
        negotiated = event.negotiated
        peer.established.set()
        peer.established_since = trio.current_time()
        peer.source = Source(
            peer.address,
            negotiated.peer_asn,
            int.from_bytes(ip_bytes(negotiated.peer_router_id), "big"),
            ibgp=negotiated.peer_asn == self.config.speaker.asn,
            rr_client=peer.config.route_reflector_client,
        )
        # RFC 4724 §4.2: stale routes of a family the restarted peer no longer preserves go now.
        restart = negotiated.graceful_restart
        preserved = {(a, s) for a, s, flags in restart.families if flags & _FORWARDING_PRESERVED} if restart else set()
        for family in self.rib.stale_families(peer.address):
            if family not in preserved or family not in negotiated.families:
                await self._withdrawn(peer, self.rib.sweep(peer.address, family))
        if self.rib.stale_families(peer.address):
            self._start_restart_timer(peer, _STALE_PATH_TIME, nursery)
        elif peer.restart_timer is not None:
            peer.restart_timer.cancel()
        peer.graceful_restart = restart
        peer.pending = {}
        self._queue_table(peer)
        peer.end_of_rib_due = set(negotiated.families)
        peer.wake()
        families = tuple(family_name(*f) for f in sorted(negotiated.families))
        log.info("%s: established, AS %d, %s", peer.address, negotiated.peer_asn, ", ".join(families))
        await self._publish(PeerUp(peer.address, negotiated.peer_asn, families))

    def _start_restart_timer(self, peer: _Peer, seconds: float, nursery: trio.Nursery) -> None:
        """Sweep the peer's stale routes after ``seconds`` unless its End-of-RIB comes first
        (RFC 4724 §4.2: the Restart Time, then the stale-path time once re-established)."""
        if peer.restart_timer is not None:
            peer.restart_timer.cancel()
        scope = peer.restart_timer = trio.CancelScope()

        async def expire() -> None:
            with scope:
                await trio.sleep(seconds)
                async with peer.lock:
                    for family in self.rib.stale_families(peer.address):
                        log.info(
                            "%s: graceful restart timer expired, %s stale routes removed",
                            peer.address,
                            family_name(*family),
                        )
                        await self._withdrawn(peer, self.rib.sweep(peer.address, family))

        nursery.start_soon(expire)

    async def _down(self, peer: _Peer, event: Down, nursery: trio.Nursery) -> None:
        was_up = peer.established.is_set()
        if was_up:  # a fresh Event for the next time; wait_established() callers keep waiting on this one
            peer.established = trio.Event()
        peer.established_since = None
        peer.source = None
        peer.advertised.clear()
        peer.pending.clear()
        peer.end_of_rib_due.clear()
        peer.eorr_due.clear()
        if peer.stream is not None:
            await self._close(peer)
        # RFC 4724 §4.2: a peer that can restart gracefully and lost its session without a
        # NOTIFICATION keeps its routes (as stale) for the families it preserves, for its Restart Time.
        # Only an Established session has routes: a later failed attempt (our redial, a
        # connection closed before its OPEN) leaves the stale ones to their timer.
        restart = peer.graceful_restart
        if was_up:
            keep: set[Family] = set()
            if restart is not None and restart.restart_time > 0 and event.notification is None:
                keep = {(afi, safi) for afi, safi, _ in restart.families}
            await self._withdrawn(peer, self.rib.peer_down(peer.address, keep=keep))
            if restart is not None and self.rib.stale_families(peer.address):
                log.info("%s: graceful restart: keeping its routes for %d s", peer.address, restart.restart_time)
                self._start_restart_timer(peer, restart.restart_time, nursery)
        if was_up or event.notification is not None:
            reason = event.reason
            if event.sent and event.notification is not None:  # name what we sent, as a received one is
                reason += f"; NOTIFICATION sent: {event.notification.name}"
            log.info("%s: down: %s", peer.address, reason)
            await self._publish(PeerDown(peer.address, reason))

    async def _receive_update(self, peer: _Peer, event: UpdateReceived) -> None:
        update = event.update
        source = peer.source
        if source is None or peer.session.state is not State.ESTABLISHED:  # e.g. ended by max_prefixes
            return
        withdraw_all = event.action is Action.TREAT_AS_WITHDRAW  # RFC 7606 §2
        gone: list[Path] = []
        if (unreach := update.mp_unreach) is not None:
            gone += self.rib.withdraw(source, (unreach.afi, unreach.safi), unreach.nlri)
        if update.withdrawn:
            gone += self.rib.withdraw(source, IPV4_UNICAST, update.withdrawn)
        attributes = tuple(a for a in update.attributes if not isinstance(a, MpReach | MpUnreach))
        if (reach := update.mp_reach) is not None:
            family = (reach.afi, reach.safi)
            if withdraw_all:
                gone += self.rib.withdraw(source, family, reach.nlri)
            else:
                await self._add_in(peer, source, family, reach.nlri, attributes, reach.next_hop)
        if update.nlri:
            if withdraw_all:
                gone += self.rib.withdraw(source, IPV4_UNICAST, update.nlri)
            else:
                next_hop = update.attribute(AttrType.NEXT_HOP)
                raw = getattr(next_hop, "address", b"")
                await self._add_in(peer, source, IPV4_UNICAST, update.nlri, attributes, raw)
        await self._withdrawn(peer, gone)

    async def _add_in(
        self,
        peer: _Peer,
        source: Source,
        family: Family,
        routes: Sequence[Nlri],
        attributes: tuple[Attribute, ...],
        next_hop: bytes,
    ) -> None:
        looped = self.rib.update(source, family, routes, attributes, next_hop)
        if looped is not None:  # treated as withdrawn (RFC 4271 §9.1.2, RFC 4456 §8)
            if self._wants(RouteWithdrawn):
                for path in looped:
                    await self._publish(RouteWithdrawn(peer.address, path.route))
        elif self._wants(RouteAdded):
            for route in routes:
                best = self.rib.best(route_key(route))
                reason = best[1].text if best is not None and best[0].source is source else None
                await self._publish(RouteAdded(peer.address, route, attributes, next_hop, reason))
        limit = peer.config.max_prefixes
        if limit is not None and self.rib.count(peer.address, family) > limit:
            # The session goes down: _down() then removes every route of the peer, these too.
            log.warning("%s: more than %d %s routes (max_prefixes)", peer.address, limit, family_name(*family))
            peer.session.prefix_limit_reached(trio.current_time(), family, limit, peer.config.max_prefixes_restart)
            peer.wake()

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
            if sent and (peer.pending or peer.end_of_rib_due or peer.eorr_due):
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
            for family in sorted(peer.eorr_due):
                if family in peer.session.families:
                    peer.session.send_route_refresh(family, subtype=2)
            peer.end_of_rib_due.clear()
            peer.eorr_due.clear()
            return
        target = peer.source
        if target is None:
            return
        asn = self.config.speaker.asn
        withdrawals: dict[Family, list[Nlri]] = {}
        # Grouped by the identity of the shared attributes: hashing attribute tuples per route
        # and peer would cost more than the rest of the packing.
        groups: dict[tuple[Family, int, bytes], list[Nlri]] = {}
        exported: dict[tuple[int, int], tuple[Attribute, ...]] = {}
        for key in list(peer.pending)[:_SEND_BATCH]:
            path = peer.pending.pop(key)
            if path is None:
                if (previous := peer.advertised.pop(key, None)) is not None:
                    withdrawals.setdefault(family_of(previous.route), []).append(previous.route)
                continue
            family = family_of(path.route)
            if family not in peer.session.families:
                continue
            shared = (id(path.attributes), id(path.source))  # both live as long as the path does
            attributes = exported.get(shared)
            if attributes is None:
                attributes = exported[shared] = export_attributes(
                    path.attributes, path.source, target, asn=asn, cluster_id=self._cluster_id
                )
            groups.setdefault((family, id(attributes), path.next_hop), []).append(path.route)
            peer.advertised[key] = path
        by_id = {id(attributes): attributes for attributes in exported.values()}
        for family, routes in withdrawals.items():
            if family in peer.session.families:
                peer.session.send_withdrawals(routes, family)
        for (family, attributes_id, next_hop), routes in groups.items():
            peer.session.send_routes(by_id[attributes_id], routes, next_hop, family)


@asynccontextmanager
async def open_speaker(config: Config, *, sink: Sink | None = None) -> AsyncIterator[Speaker]:
    """Run a speaker for ``config`` while the block runs (RFC 4271 §8).

    With a ``[dataplane]`` sink, or a ``sink`` of your own (any :class:`~evpn.sink.base.Sink`:
    another dataplane), the RIB's VNI/VRF state is programmed there (:attr:`Speaker.dataplane`).
    On exit every peer gets a Cease (Administrative Shutdown, RFC 4486 §4) and every task
    stops; what the sink installed stays, and ``sink`` is closed.
    """
    dataplane = await open_sink(config, sink)
    # Every held route is a GC-tracked object; with the default thresholds the collector walks
    # them all again and again during a table transfer (a third of the time at a million
    # routes).  Routes hold no reference cycles, so collect less often while the speaker runs.
    thresholds = gc.get_threshold()
    gc.set_threshold(*(max(now, ours) for now, ours in zip(thresholds, _GC_THRESHOLDS, strict=True)))
    try:
        async with _running(config, dataplane) as speaker:
            yield speaker
    finally:
        gc.set_threshold(*thresholds)


@asynccontextmanager
async def _running(config: Config, dataplane: Dataplane | None) -> AsyncIterator[Speaker]:
    async with trio.open_nursery() as nursery:
        speaker = Speaker(config, nursery, dataplane)
        speaker._announce_local(local_routes(config))  # the [[vnis]] and [[vrfs]] routes, before any peer is up
        await nursery.start(speaker._run)
        try:
            yield speaker
        finally:
            with trio.CancelScope(shield=True):
                await speaker._shutdown()
            nursery.cancel_scope.cancel()
            for channel, _ in speaker._subscribers:
                channel.close()  # an events() loop running outside the block ends instead of hanging
            if dataplane is not None:
                with trio.CancelScope(shield=True):
                    await dataplane.sink.aclose()
