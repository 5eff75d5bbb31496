"""The RIB behind the speaker (:mod:`evpn.speaker` with :mod:`evpn.rib`), end to end.

Speakers run in one process, wired with ``trio.testing.memory_stream_pair()`` through
``Speaker.attach`` (every peer passive, nobody listening), on ``MockClock(autojump_threshold=0)``
so that restart and stale-path timers of minutes pass in milliseconds.  Where a test needs a peer
that a :class:`~evpn.speaker.Speaker` cannot play (one that advertises graceful restart with a
family and the F bit, that sends ROUTE-REFRESH, or that drops its TCP connection without a
NOTIFICATION), a :class:`RawPeer` runs a bare :class:`~evpn.session.Session` on the other end.
One test lets the speaker dial out for real (to a closed port on 127.0.0.1), on a MockClock that
jumps only after 50 ms of real idleness.

Router IDs are the peer addresses: A (the speaker under test, a route reflector where it
matters) 192.0.2.1, then B, C, D, E, F; their VTEPs are 198.18.0.x.
"""

from __future__ import annotations

import contextlib
import math
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from test_speaker import by_type, free_port, imet, vni_attributes

from evpn.config import Config, PeerConfig, SpeakerConfig, parse_config
from evpn.events import (
    EndOfRib,
    Event,
    FloodChange,
    MacChange,
    NeighborChange,
    PeerDown,
    PeerUp,
    RouteAdded,
    RouteWithdrawn,
)
from evpn.rib import FloodEntry, Reason, RemoteMac, route_key
from evpn.session import (
    BeginRouteRefresh,
    EndRouteRefresh,
    Session,
    SessionConfig,
    SessionEvent,
    State,
    UpdateReceived,
    WantClose,
)
from evpn.session import EndOfRib as SessionEndOfRib
from evpn.speaker import Speaker, open_speaker
from evpn.wire import (
    AsPath,
    AsPathSegment,
    Attribute,
    Capability,
    ClusterList,
    Encapsulation,
    ExtendedCommunities,
    GracefulRestart,
    LocalPref,
    MacIpRoute,
    MacMobility,
    Nlri,
    Origin,
    OriginatorId,
    PmsiTunnel,
    RouteTarget,
    TunnelType,
)
from evpn.wire.attributes import AS_SEQUENCE

ASN, EBGP_ASN, OTHER_ASN = 65001, 65002, 65003
A_ID, B_ID, C_ID, D_ID, E_ID, F_ID = (f"192.0.2.{n}" for n in range(1, 7))
VTEP_A, VTEP_B, VTEP_C, VTEP_D, VTEP_E, VTEP_F = (f"198.18.0.{n}" for n in range(1, 7))
EVPN = (25, 70)
FORWARDING_PRESERVED = 0x80  # RFC 4724 §3, the F bit
MAC = "02:00:00:00:00:0b"
HOST = "198.19.100.11"


def ip(text: str) -> bytes:
    return socket.inet_aton(text)


def ebgp_attributes(peer_asn: int, vni: int, vtep: str, *extra: Attribute) -> list[Attribute]:
    """What an eBGP peer in ``peer_asn`` sends with a type-3 route: ORIGIN and AS_PATH (well-known
    mandatory, RFC 4271 §5.1), route target ASN:``vni`` (our AS), VXLAN, PMSI tunnel to ``vtep``."""
    return [Origin(0), AsPath([AsPathSegment(AS_SEQUENCE, (peer_asn,))]), *vni_attributes(ASN, vni, vtep), *extra]


# --- watching a speaker's events ------------------------------------------------------------


class Watch:
    """One subscriber to a speaker's events (``speaker.events(*types)``), recorded in a list."""

    def __init__(self, speaker: Speaker, *types: type) -> None:
        self.speaker = speaker
        self.types = types
        self.events: list[Event] = []
        self._changed = trio.Event()

    async def run(self) -> None:
        async for event in self.speaker.events(*self.types):
            self.events.append(event)
            self._changed.set()
            self._changed = trio.Event()

    def of(self, kind: type[Any]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    def routes(self, kind: type[RouteAdded] | type[RouteWithdrawn] = RouteAdded) -> set[Nlri]:
        return {event.route for event in self.of(kind)}

    async def wait_for(self, condition: Callable[[], object]) -> None:
        while not condition():
            await self._changed.wait()

    async def wait_count(self, kind: type[Any], count: int) -> None:
        """Wait until at least ``count`` events of class ``kind`` are in."""
        await self.wait_for(lambda: len(self.of(kind)) >= count)


async def watch(nursery: trio.Nursery, speaker: Speaker, *types: type) -> Watch:
    """Subscribe to ``speaker``'s events (``types`` only, if given) before anything can happen:
    ``events()`` subscribes on its first iteration, so wait until the task is parked in it."""
    watcher = Watch(speaker, *types)
    nursery.start_soon(watcher.run)
    await trio.testing.wait_all_tasks_blocked()
    return watcher


def peer_stats(speaker: Speaker, address: str) -> Any:
    (stats,) = (p for p in speaker.statistics().peers if p.address == address)
    return stats


async def link(hub: Speaker, leaf: Speaker, leaf_address: str, hub_address: str = A_ID) -> trio.abc.Stream:
    """Connect ``hub`` and ``leaf`` over one in-memory connection; returns the leaf's end."""
    hub_end, leaf_end = trio.testing.memory_stream_pair()
    await hub.attach(leaf_address, hub_end)
    await leaf.attach(hub_address, leaf_end)
    return leaf_end


def leaf_config(router_id: str, asn: int = ASN) -> Config:
    """A speaker in ``asn`` whose only (passive) peer is A (AS ``ASN``)."""
    return Config(SpeakerConfig(asn, router_id), (PeerConfig(A_ID, ASN, passive=True),))


@attrs.define
class Net:
    """A, the speaker under test, with leaf speakers by router ID, every one watched."""

    hub: Speaker
    leaves: dict[str, Speaker]
    watches: dict[str, Watch]
    ends: dict[str, trio.abc.Stream]
    """Each leaf's end of its connection to A."""

    def __getitem__(self, address: str) -> Watch:
        return self.watches[address]


@contextlib.asynccontextmanager
async def network(hub_config: Config, *leaves: Config) -> AsyncIterator[Net]:
    """Run A with ``hub_config`` and a speaker per leaf config, each connected to A and Established."""
    async with contextlib.AsyncExitStack() as stack:
        hub = await stack.enter_async_context(open_speaker(hub_config))
        speakers = {}
        for config in leaves:
            speakers[config.speaker.router_id] = await stack.enter_async_context(open_speaker(config))
        nursery = await stack.enter_async_context(trio.open_nursery())
        watches = {A_ID: await watch(nursery, hub)}
        for address, speaker in speakers.items():
            watches[address] = await watch(nursery, speaker)
        ends = {}
        for address, speaker in speakers.items():
            ends[address] = await link(hub, speaker, address)
        for address, speaker in speakers.items():
            await hub.wait_established(address)
            await speaker.wait_established(A_ID)
            await watches[address].wait_count(EndOfRib, 1)
        yield Net(hub, speakers, watches, ends)
        nursery.cancel_scope.cancel()


# --- a peer driven by hand ------------------------------------------------------------------


@attrs.frozen
class PeerSessionConfig(SessionConfig):
    """A :class:`SessionConfig` whose graceful restart capability the test chooses
    (``None``: none at all); the speaker's own sessions always send ``GracefulRestart(120)``."""

    restart: GracefulRestart | None = attrs.field(factory=lambda: GracefulRestart(120))

    @property
    def capabilities(self) -> tuple[Capability, ...]:
        others = tuple(c for c in super().capabilities if not isinstance(c, GracefulRestart))
        return others if self.restart is None else (*others, self.restart)


DEFAULT_RESTART = GracefulRestart(120)
"""What our own SessionConfig advertises: a restart time, no families."""


def restart_capability(
    restart_time: int, flags: int = FORWARDING_PRESERVED, *, restarting: bool = False
) -> GracefulRestart:
    """Graceful restart for L2VPN EVPN with ``flags`` (RFC 4724 §3)."""
    return GracefulRestart(restart_time, restarting=restarting, families=((*EVPN, flags),))


def raw_config(restart: GracefulRestart | None = DEFAULT_RESTART, asn: int = EBGP_ASN) -> PeerSessionConfig:
    return PeerSessionConfig(local_asn=asn, router_id=B_ID, peer_asn=ASN, restart=restart)


class RawPeer:
    """Peer B as a bare :class:`Session` on one end of a memory stream, driven by the test:
    it sends what it is told, and records every session event (the routes A sends it)."""

    def __init__(self, config: SessionConfig) -> None:
        self.session = Session(config)
        self.events: list[SessionEvent] = []
        self.stream: trio.abc.Stream | None = None
        self._changed = trio.Event()
        self._wake = trio.Event()
        self._send_lock = trio.Lock()
        self._closing = False
        self._scope = trio.CancelScope()

    async def run(self, stream: trio.abc.Stream, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        session = self.session
        now = trio.current_time()
        session.start(now)
        session.connection_made(now, initiated_locally=True)
        self.stream = stream
        with self._scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._reader, stream)
                nursery.start_soon(self._timers)
                await self.step()  # our OPEN
                task_status.started()

    async def _reader(self, stream: trio.abc.Stream) -> None:
        while True:
            try:
                data = await stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            now = trio.current_time()
            if data:
                self.session.receive_data(bytes(data), now)
            else:
                self.session.connection_lost(now)
            await self.step()
            if not data:
                self._scope.cancel()
                return

    async def _timers(self) -> None:
        while True:
            deadline = self.session.next_deadline()
            with trio.move_on_at(math.inf if deadline is None else deadline):
                await self._wake.wait()
            self._wake = trio.Event()
            if deadline is not None and trio.current_time() >= deadline:
                self.session.handle_timer(trio.current_time())
                await self.step()

    async def step(self) -> None:
        """Collect the session's events and send what it queued."""
        while (event := self.session.next_event()) is not None:
            self.events.append(event)
            if isinstance(event, WantClose):
                self._closing = True
        stream = self.stream
        if stream is not None:
            async with self._send_lock:
                data = self.session.data_to_send()
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    if data:
                        await stream.send_all(data)
                    if self._closing:
                        self.stream = None
                        await stream.aclose()
                        self._scope.cancel()
        self._wake.set()
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, condition: Callable[[], object]) -> None:
        while not condition():
            await self._changed.wait()

    async def established(self) -> None:
        await self.wait_for(lambda: self.session.state is State.ESTABLISHED)

    # what it sends

    async def announce(self, routes: Sequence[Nlri], attributes: Sequence[Attribute], next_hop: str) -> None:
        self.session.send_routes(attributes, routes, next_hop, EVPN, now=trio.current_time())
        await self.step()

    async def withdraw(self, routes: Sequence[Nlri]) -> None:
        self.session.send_withdrawals(routes, EVPN, now=trio.current_time())
        await self.step()

    async def end_of_rib(self) -> None:
        self.session.send_end_of_rib(EVPN, now=trio.current_time())
        await self.step()

    async def route_refresh(self, subtype: int = 0) -> None:
        self.session.send_route_refresh(EVPN, subtype=subtype, now=trio.current_time())
        await self.step()

    async def drop(self) -> None:
        """Lose the TCP connection without a NOTIFICATION (a crash, a restart of the BGP process)."""
        stream, self.stream = self.stream, None
        self._scope.cancel()
        if stream is not None:
            await stream.aclose()

    # what it received

    def updates(self) -> list[Any]:
        return [event.update for event in self.events if isinstance(event, UpdateReceived)]

    def announced(self) -> list[Nlri]:
        """Every route A sent it, in order, repeats included."""
        return [route for u in self.updates() if u.mp_reach is not None for route in u.mp_reach.nlri]

    def withdrawn(self) -> list[Nlri]:
        return [route for u in self.updates() if u.mp_unreach is not None for route in u.mp_unreach.nlri]

    def end_of_ribs(self) -> int:
        return sum(isinstance(event, SessionEndOfRib) for event in self.events)


async def attach_raw(nursery: trio.Nursery, speaker: Speaker, peer: RawPeer, address: str = B_ID) -> None:
    """Connect ``peer`` to ``speaker`` (as its configured peer ``address``) and wait until Established."""
    speaker_end, peer_end = trio.testing.memory_stream_pair()
    await speaker.attach(address, speaker_end)
    await nursery.start(peer.run, peer_end)
    await peer.established()
    await speaker.wait_established(address)


# --- 1. route reflection --------------------------------------------------------------------


def reflector_config(cluster_id: str | None = None, **peers: PeerConfig) -> Config:
    return Config(SpeakerConfig(ASN, A_ID, cluster_id=cluster_id), tuple(peers.values()))


def client(address: str) -> PeerConfig:
    return PeerConfig(address, ASN, passive=True, route_reflector_client=True)


def non_client(address: str) -> PeerConfig:
    return PeerConfig(address, ASN, passive=True)


@pytest.mark.parametrize("cluster_id", [None, "198.18.255.1"], ids=["cluster-id=router-id", "cluster-id-configured"])
async def test_a_client_route_is_reflected_with_originator_and_cluster_list(
    autojump_clock: trio.testing.MockClock, cluster_id: str | None
) -> None:
    hub = reflector_config(cluster_id, b=client(B_ID), c=client(C_ID), d=non_client(D_ID))
    route = imet(0, VTEP_B)
    attributes = vni_attributes(ASN, 100, VTEP_B)
    with trio.fail_after(60):
        async with network(hub, leaf_config(B_ID), leaf_config(C_ID), leaf_config(D_ID)) as net:
            a, b = net.hub, net.leaves[B_ID]
            b.announce([route], attributes=attributes, next_hop=VTEP_B)
            for address in (C_ID, D_ID):  # RFC 4456 §6: from a client to every other iBGP peer
                await net[address].wait_count(RouteAdded, 1)
            assert [(e.peer, e.route, e.next_hop, e.best) for e in net[A_ID].of(RouteAdded)] == [
                (B_ID, route, ip(VTEP_B), "only-path")
            ]
            for address in (C_ID, D_ID):
                (added,) = net[address].of(RouteAdded)
                assert (added.peer, added.route) == (A_ID, route)
                assert added.next_hop == ip(VTEP_B)  # the VTEP, never rewritten to the reflector
                got = by_type(added.attributes)
                assert got[OriginatorId] == OriginatorId(B_ID)  # RFC 4456 §8
                assert got[ClusterList] == ClusterList((ip(cluster_id or A_ID),))
                assert got[LocalPref] == LocalPref(100)
                assert got[AsPath] == AsPath([])  # iBGP: nothing prepended
                assert got[ExtendedCommunities] == attributes[0]
                assert got[PmsiTunnel] == attributes[1]
            await trio.sleep(1)  # let anything else land
            # Never back to the peer it came from: B got nothing (nor had to reject a loop).
            assert net[B_ID].of(RouteAdded) == []
            assert (b.rib.rejected, peer_stats(b, A_ID).routes_received) == (0, 0)
            assert peer_stats(a, B_ID).routes_advertised == 0
            assert peer_stats(a, C_ID).routes_advertised == peer_stats(a, D_ID).routes_advertised == 1

            b.withdraw([route])
            for address in (C_ID, D_ID):
                await net[address].wait_count(RouteWithdrawn, 1)
                assert net[address].of(RouteWithdrawn) == [RouteWithdrawn(A_ID, route)]
            assert net[A_ID].of(RouteWithdrawn) == [RouteWithdrawn(B_ID, route)]
            assert len(a.rib) == 0


@pytest.mark.parametrize("how", ["reset", "close"])
async def test_a_client_going_down_withdraws_what_was_reflected(
    autojump_clock: trio.testing.MockClock, how: str
) -> None:
    hub = reflector_config(b=client(B_ID), c=client(C_ID))
    routes = [imet(0, VTEP_B), imet(1, VTEP_B)]
    with trio.fail_after(60):
        async with network(hub, leaf_config(B_ID), leaf_config(C_ID)) as net:
            a, c = net.hub, net[C_ID]
            net.leaves[B_ID].announce(routes, attributes=vni_attributes(ASN, 100, VTEP_B), next_hop=VTEP_B)
            await c.wait_for(lambda: len(c.of(RouteAdded)) == 2)
            if how == "reset":
                a.reset(B_ID)  # Cease/Administrative Reset
            else:
                await net.ends[B_ID].aclose()  # B's TCP connection goes away (B advertised GR without families)
            await c.wait_for(lambda: len(c.of(RouteWithdrawn)) == 2)
            assert c.routes(RouteWithdrawn) == set(routes)
            assert all(event.peer == A_ID for event in c.of(RouteWithdrawn))
            await net[A_ID].wait_for(lambda: net[A_ID].of(PeerDown))
            assert net[A_ID].routes(RouteWithdrawn) == set(routes)
            assert a.rib.count(B_ID) == 0 and a.rib.stale_families(B_ID) == ()
            assert peer_stats(a, C_ID).routes_advertised == 0
            # C's own session was never touched.
            assert not c.of(PeerDown) and peer_stats(a, C_ID).state == "ESTABLISHED"


async def test_who_gets_what_client_non_client_and_ebgp(autojump_clock: trio.testing.MockClock) -> None:
    """RFC 4456 §6 and RFC 4271 §9.2: a client's route goes to every peer, a non-client's to
    clients (and eBGP) only, an eBGP route to every peer; none goes back to its sender."""
    hub = reflector_config(
        b=client(B_ID),
        c=client(C_ID),
        d=non_client(D_ID),
        e=non_client(E_ID),
        f=PeerConfig(F_ID, EBGP_ASN, passive=True),
    )
    leaves = [leaf_config(B_ID), leaf_config(C_ID), leaf_config(D_ID), leaf_config(E_ID), leaf_config(F_ID, EBGP_ASN)]
    from_b, from_d, from_f = imet(0, VTEP_B), imet(0, VTEP_D), imet(0, VTEP_F)
    with trio.fail_after(60):
        async with network(hub, *leaves) as net:
            net.leaves[B_ID].announce([from_b], attributes=vni_attributes(ASN, 100, VTEP_B), next_hop=VTEP_B)
            net.leaves[D_ID].announce([from_d], attributes=vni_attributes(ASN, 100, VTEP_D), next_hop=VTEP_D)
            net.leaves[F_ID].announce([from_f], attributes=vni_attributes(ASN, 100, VTEP_F), next_hop=VTEP_F)
            expected = {
                B_ID: {from_d, from_f},  # a client gets reflected non-client routes
                C_ID: {from_b, from_d, from_f},
                D_ID: {from_b, from_f},  # a non-client gets client routes
                E_ID: {from_b, from_f},  # ... but not another non-client's
                F_ID: {from_b, from_d},  # eBGP gets every best path but its own
            }
            for address, routes in expected.items():
                await net[address].wait_count(RouteAdded, len(routes))
            await trio.sleep(1)
            for address, routes in expected.items():
                assert net[address].routes() == routes, address
                assert len(net[address].of(RouteAdded)) == len(routes), address
            assert net.hub.rib.rejected == 0
            assert {leaf.rib.rejected for leaf in net.leaves.values()} == {0}

            # The attributes on the way: reflected iBGP paths get ORIGINATOR_ID and CLUSTER_LIST,
            # eBGP-learned paths to iBGP get LOCAL_PREF but no reflection attributes, eBGP gets our AS.
            def received(address: str, route: Nlri) -> dict[type, Any]:
                (event,) = (e for e in net[address].of(RouteAdded) if e.route == route)
                return by_type(event.attributes)

            got = received(B_ID, from_d)
            assert (got[OriginatorId], got[ClusterList]) == (OriginatorId(D_ID), ClusterList((ip(A_ID),)))
            got = received(E_ID, from_b)
            assert (got[OriginatorId], got[ClusterList]) == (OriginatorId(B_ID), ClusterList((ip(A_ID),)))
            for address in (B_ID, C_ID, D_ID, E_ID):
                got = received(address, from_f)
                assert OriginatorId not in got and ClusterList not in got
                assert got[LocalPref] == LocalPref(100)
                assert got[AsPath] == AsPath([AsPathSegment(AS_SEQUENCE, (EBGP_ASN,))])
            for route in (from_b, from_d):
                got = received(F_ID, route)
                assert OriginatorId not in got and ClusterList not in got and LocalPref not in got
                assert got[AsPath] == AsPath([AsPathSegment(AS_SEQUENCE, (ASN,))])
            for address in expected:
                for event in net[address].of(RouteAdded):  # next hops unchanged, on eBGP too
                    assert event.next_hop == event.route.originator_ip


@pytest.mark.parametrize("cluster_id", [None, "198.18.255.1"], ids=["cluster-id=router-id", "cluster-id-configured"])
async def test_routes_that_loop_back_are_ignored(
    autojump_clock: trio.testing.MockClock, cluster_id: str | None
) -> None:
    """RFC 4456 §8: our cluster ID in the CLUSTER_LIST, or our router ID as ORIGINATOR_ID."""
    ours = ip(cluster_id or A_ID)
    elsewhere = ip(A_ID) if cluster_id else ip("198.18.254.1")  # another cluster (A's router ID, if it differs)
    hub = reflector_config(cluster_id, b=client(B_ID), c=client(C_ID))
    looped_cluster, looped_originator, fine = imet(0, VTEP_B), imet(1, VTEP_B), imet(2, VTEP_B)
    base = vni_attributes(ASN, 100, VTEP_B)
    with trio.fail_after(60):
        async with network(hub, leaf_config(B_ID), leaf_config(C_ID)) as net:
            a, b, c = net.hub, net.leaves[B_ID], net[C_ID]
            b.announce([looped_cluster], attributes=[*base, ClusterList((ip("198.18.253.1"), ours))], next_hop=VTEP_B)
            b.announce([looped_originator], attributes=[*base, OriginatorId(A_ID)], next_hop=VTEP_B)
            b.announce([fine], attributes=[*base, ClusterList((elsewhere,))], next_hop=VTEP_B)
            await c.wait_for(lambda: c.of(RouteAdded))
            await trio.sleep(1)
            assert a.rib.rejected == 2
            assert a.rib.count(B_ID) == 1 and peer_stats(a, B_ID).routes_received == 1
            assert a.rib.best(route_key(looped_cluster)) is None
            assert a.rib.best(route_key(looped_originator)) is None
            assert [e.route for e in net[A_ID].of(RouteAdded)] == [fine]  # the ignored ones are not reported
            (added,) = c.of(RouteAdded)
            assert added.route == fine
            assert by_type(added.attributes)[ClusterList] == ClusterList((ours, elsewhere))  # ours prepended


async def test_a_looped_update_is_reported_as_a_withdrawal(autojump_clock: trio.testing.MockClock) -> None:
    """docs/rib.md: "Received paths that loop back to us are ignored (treated as withdrawn ...)".
    B sends a route, then the same route again with our cluster ID in its CLUSTER_LIST (an
    implicit withdrawal of its first path, RFC 4271 §3.1).  The RIB does drop B's path (C is
    sent a withdrawal), but A's own event stream never says so: a consumer that follows the
    events believes A still holds the route from B."""
    hub = reflector_config(b=client(B_ID), c=client(C_ID))
    route = imet(0, VTEP_B)
    base = vni_attributes(ASN, 100, VTEP_B)
    with trio.fail_after(60):
        async with network(hub, leaf_config(B_ID), leaf_config(C_ID)) as net:
            a, b, c = net.hub, net.leaves[B_ID], net[C_ID]
            b.announce([route], attributes=base, next_hop=VTEP_B)
            await c.wait_for(lambda: c.of(RouteAdded))
            b.announce([route], attributes=[*base, ClusterList((ip(A_ID),))], next_hop=VTEP_B)  # now a loop
            await c.wait_for(lambda: c.of(RouteWithdrawn))  # the RIB treated it as withdrawn
            await trio.sleep(1)
            assert a.rib.rejected == 1 and a.rib.count(B_ID) == 0
            assert len(net[A_ID].of(RouteAdded)) == 1  # only the first, clean one
            assert net[A_ID].of(RouteWithdrawn) == [RouteWithdrawn(B_ID, route)]


# --- 2. best path across peers ----------------------------------------------------------------


async def test_best_path_by_local_pref_and_the_third_peer_follows_it(autojump_clock: trio.testing.MockClock) -> None:
    """B and C (iBGP) send the same route (same RD and key) with LOCAL_PREF 200 and 100 and
    different VTEPs; F (eBGP) gets only the best, and the other one when the best goes."""
    hub = Config(
        SpeakerConfig(ASN, A_ID),
        (non_client(B_ID), non_client(C_ID), PeerConfig(F_ID, EBGP_ASN, passive=True)),
    )
    route = imet(0, "198.18.0.99")  # one route, as when a VTEP's route reaches us over two paths
    key = route_key(route)
    attributes = vni_attributes(ASN, 100, "198.18.0.99")
    with trio.fail_after(60):
        async with network(hub, leaf_config(B_ID), leaf_config(C_ID), leaf_config(F_ID, EBGP_ASN)) as net:
            a, f = net.hub, net[F_ID]
            # C's (LOCAL_PREF 100) first: the only path, F gets it.
            net.leaves[C_ID].announce([route], attributes=[*attributes, LocalPref(100)], next_hop=VTEP_C)
            await f.wait_for(lambda: f.of(RouteAdded))
            assert [(e.peer, e.best) for e in net[A_ID].of(RouteAdded)] == [(C_ID, "only-path")]
            assert f.of(RouteAdded)[-1].next_hop == ip(VTEP_C)

            # B's (LOCAL_PREF 200) wins: the event says so and why, the RIB agrees, F is sent B's path.
            net.leaves[B_ID].announce([route], attributes=[*attributes, LocalPref(200)], next_hop=VTEP_B)
            await f.wait_for(lambda: len(f.of(RouteAdded)) == 2)
            assert [(e.peer, e.best) for e in net[A_ID].of(RouteAdded)] == [(C_ID, "only-path"), (B_ID, "local-pref")]
            best = a.rib.best(key)
            assert best is not None and best[0].source.address == B_ID and best[1] is Reason.LOCAL_PREF
            assert [p.source.address for p in a.rib.paths(key)] == [B_ID, C_ID]
            assert f.of(RouteAdded)[-1].next_hop == ip(VTEP_B)
            assert LocalPref not in by_type(f.of(RouteAdded)[-1].attributes)  # eBGP

            # C sends its path again (LOCAL_PREF 150): still not best; F hears nothing of it.
            net.leaves[C_ID].announce([route], attributes=[*attributes, LocalPref(150)], next_hop=VTEP_C)
            await net[A_ID].wait_for(lambda: len(net[A_ID].of(RouteAdded)) == 3)
            assert net[A_ID].of(RouteAdded)[-1].best is None
            await trio.sleep(1)
            assert len(f.of(RouteAdded)) == 2
            best = a.rib.best(key)
            assert best is not None and best[0].source.address == B_ID and best[1] is Reason.LOCAL_PREF

            # B withdraws: F gets C's path as a replacement (RFC 4271 §3.1), not a withdrawal.
            net.leaves[B_ID].withdraw([route])
            await f.wait_for(lambda: len(f.of(RouteAdded)) == 3)
            assert f.of(RouteAdded)[-1].next_hop == ip(VTEP_C)
            await trio.sleep(1)
            assert f.of(RouteWithdrawn) == []
            assert peer_stats(net.leaves[F_ID], A_ID).routes_received == 1
            best = a.rib.best(key)
            assert best is not None and best[0].source.address == C_ID and best[1] is Reason.ONLY_PATH
            # B and C are iBGP non-clients: neither was ever sent the other's path.
            assert net[B_ID].of(RouteAdded) == [] and net[C_ID].of(RouteAdded) == []


# --- 3. VNI import through the speaker ----------------------------------------------------------


def vni_hub_config() -> Config:
    """A with ``[[vnis]] vni = 100`` (RD and route targets "auto") and eBGP peer B."""
    return parse_config(
        {
            "speaker": {"asn": ASN, "router_id": A_ID},
            "peers": [{"address": B_ID, "asn": EBGP_ASN, "passive": True}],
            "vnis": [{"vni": 100, "vtep": VTEP_A}],
        }
    )


def mac_route(vtep: str, mac: str = MAC, host: str | None = None) -> MacIpRoute:
    return MacIpRoute(rd=f"{vtep}:100", mac=mac, ip=host, label1=100)


def mac_attributes(target: RouteTarget, *extra: Any) -> list[Attribute]:
    return [ExtendedCommunities([target, Encapsulation(TunnelType.VXLAN), *extra])]


async def test_vni_import_by_route_target_and_removal_on_peer_down(autojump_clock: trio.testing.MockClock) -> None:
    config = vni_hub_config()
    assert config.vnis[0].import_targets == (RouteTarget(ASN, 100),)  # "auto" is ASN:VNI
    other_target = RouteTarget(ASN, 200)
    with trio.fail_after(60):
        async with network(config, leaf_config(B_ID, EBGP_ASN)) as net:
            a, b = net.hub, net.leaves[B_ID]
            async with trio.open_nursery() as nursery:
                deltas = await watch(nursery, a, FloodChange, MacChange)
                b.announce([imet(0, VTEP_B)], attributes=vni_attributes(ASN, 100, VTEP_B), next_hop=VTEP_B)
                await deltas.wait_for(lambda: deltas.of(FloodChange))
                b.announce(
                    [mac_route(VTEP_B, host=HOST)], attributes=mac_attributes(RouteTarget(ASN, 100)), next_hop=VTEP_B
                )
                await deltas.wait_for(lambda: deltas.of(MacChange))
                # Only the classes asked for: the MAC+IP route's NeighborChange is not delivered here.
                assert deltas.events == [
                    FloodChange(100, ip(VTEP_B), None, FloodEntry(100)),
                    MacChange(100, bytes.fromhex(MAC.replace(":", "")), None, RemoteMac(ip(VTEP_B), 100, 0, False)),
                ]
                await net[A_ID].wait_for(lambda: net[A_ID].of(NeighborChange))  # the unfiltered subscriber has it

                # Route target 65001:200 is not imported into VNI 100: the routes arrive, nothing changes.
                b.announce([imet(0, VTEP_C)], attributes=vni_attributes(ASN, 200, VTEP_C), next_hop=VTEP_C)
                b.announce(
                    [mac_route(VTEP_C, "02:00:00:00:00:0c")], attributes=mac_attributes(other_target), next_hop=VTEP_C
                )
                await net[A_ID].wait_for(lambda: len(net[A_ID].of(RouteAdded)) == 4)
                await trio.sleep(1)
                assert len(deltas.events) == 2
                assert set(a.rib.vnis[100].flood) == {ip(VTEP_B)}
                assert set(a.rib.vnis[100].macs) == {bytes.fromhex(MAC.replace(":", ""))}

                # B goes down: its VTEP leaves the flood list, its MAC is gone.
                a.reset(B_ID)
                await deltas.wait_for(lambda: len(deltas.events) == 4)
                assert set(deltas.events[2:]) == {
                    FloodChange(100, ip(VTEP_B), FloodEntry(100), None),
                    MacChange(100, bytes.fromhex(MAC.replace(":", "")), RemoteMac(ip(VTEP_B), 100, 0, False), None),
                }
                assert a.rib.vnis[100].flood == {} and a.rib.vnis[100].macs == {}
                nursery.cancel_scope.cancel()


# --- 4. MAC mobility via the API ----------------------------------------------------------------


def mobility(event: RouteAdded) -> list[MacMobility]:
    communities = by_type(event.attributes)[ExtendedCommunities].communities
    return [c for c in communities if isinstance(c, MacMobility)]


async def test_mac_mobility_sequence_numbers_through_add_mac(autojump_clock: trio.testing.MockClock) -> None:
    """RFC 7432 §15.1: B advertises MAC M with sequence 3; add_mac makes ours 4; B's 5 makes us
    withdraw ours, and M is behind B again."""
    mac = bytes.fromhex(MAC.replace(":", ""))
    target = RouteTarget(ASN, 100)
    theirs = mac_route(VTEP_B)
    ours = MacIpRoute(rd=f"{A_ID}:1", mac=MAC, label1=100)  # the VNI's auto RD: router-id:1
    with trio.fail_after(60):
        async with network(vni_hub_config(), leaf_config(B_ID, EBGP_ASN)) as net:
            a, b, rb = net.hub, net.leaves[B_ID], net[B_ID]
            async with trio.open_nursery() as nursery:
                macs = await watch(nursery, a, MacChange)
                b.announce([theirs], attributes=mac_attributes(target, MacMobility(3)), next_hop=VTEP_B)
                await macs.wait_for(lambda: macs.events)
                assert macs.events == [MacChange(100, mac, None, RemoteMac(ip(VTEP_B), 100, 3, False))]
                before = len(rb.of(RouteAdded))  # A's type-3 route for VNI 100

                a.add_mac(100, MAC)
                await rb.wait_for(lambda: len(rb.of(RouteAdded)) == before + 1)
                added = rb.of(RouteAdded)[-1]
                assert added.route == ours and added.next_hop == ip(VTEP_A)
                assert mobility(added) == [MacMobility(4)]
                await macs.wait_for(lambda: len(macs.events) == 2)  # M moved here: no remote entry
                assert macs.events[1] == MacChange(100, mac, RemoteMac(ip(VTEP_B), 100, 3, False), None)
                best = a.rib.best(route_key(ours))
                assert best is not None and best[0].source.is_local

                # B's sequence 5: the MAC moved back; we withdraw our route.
                b.announce([theirs], attributes=mac_attributes(target, MacMobility(5)), next_hop=VTEP_B)
                await rb.wait_for(lambda: rb.of(RouteWithdrawn))
                assert rb.of(RouteWithdrawn) == [RouteWithdrawn(A_ID, ours)]
                await macs.wait_for(lambda: len(macs.events) == 3)
                assert macs.events[2] == MacChange(100, mac, None, RemoteMac(ip(VTEP_B), 100, 5, False))
                assert a.rib.best(route_key(ours)) is None
                assert a.statistics().local_routes == 1  # only the VNI's type-3 route is left
                await trio.sleep(1)
                assert len(macs.events) == 3
                nursery.cancel_scope.cancel()


# --- 5. the events() filter -----------------------------------------------------------------------


async def test_events_filter_by_class(autojump_clock: trio.testing.MockClock) -> None:
    routes = [imet(0, VTEP_A), imet(1, VTEP_A)]
    hub = Config(SpeakerConfig(ASN, A_ID), (PeerConfig(B_ID, EBGP_ASN, passive=True),))
    with trio.fail_after(60):
        async with (
            open_speaker(hub) as a,
            open_speaker(leaf_config(B_ID, EBGP_ASN)) as b,
            trio.open_nursery() as nursery,
        ):
            ups = await watch(nursery, b, PeerUp)
            route_events = await watch(nursery, b, RouteAdded, RouteWithdrawn)
            everything = await watch(nursery, b)
            a.announce(routes, attributes=vni_attributes(ASN, 100, VTEP_A), next_hop=VTEP_A)
            await link(a, b, B_ID)
            await everything.wait_for(lambda: everything.of(EndOfRib))
            a.withdraw(routes[:1])
            await everything.wait_for(lambda: everything.of(RouteWithdrawn))
            a.reset(B_ID)
            await everything.wait_for(lambda: everything.of(PeerDown))
            await trio.sleep(1)
            nursery.cancel_scope.cancel()
    assert [type(e) for e in everything.events] == [
        PeerUp,
        RouteAdded,
        RouteAdded,
        EndOfRib,
        RouteWithdrawn,
        RouteWithdrawn,  # the other route, as the session goes down
        PeerDown,
    ]
    assert ups.events == [PeerUp(A_ID, ASN, ("l2vpn-evpn",))]
    assert route_events.events == [e for e in everything.events if isinstance(e, RouteAdded | RouteWithdrawn)]


# --- 6. graceful restart, the helper side (RFC 4724 §4.2) ------------------------------------------


def gr_hub_config() -> Config:
    """A with B (eBGP, the restarting peer) and an observer C (eBGP, another AS)."""
    return Config(
        SpeakerConfig(ASN, A_ID),
        (PeerConfig(B_ID, EBGP_ASN, passive=True), PeerConfig(C_ID, OTHER_ASN, passive=True)),
    )


B_ROUTES = [imet(i, VTEP_B) for i in range(5)]


@contextlib.asynccontextmanager
async def restart_setup(restart: GracefulRestart | None) -> AsyncIterator[tuple[Speaker, RawPeer, Watch, Watch]]:
    """A, observer C (a speaker), and raw peer B with ``restart``, which has sent B_ROUTES and End-of-RIB."""
    async with network(gr_hub_config(), leaf_config(C_ID, OTHER_ASN)) as net, trio.open_nursery() as nursery:
        a, ra, rc = net.hub, net[A_ID], net[C_ID]
        b = RawPeer(raw_config(restart))
        await attach_raw(nursery, a, b)
        await b.announce(B_ROUTES, ebgp_attributes(EBGP_ASN, 100, VTEP_B), VTEP_B)
        await b.end_of_rib()
        await ra.wait_for(lambda: ra.of(EndOfRib) and ra.of(EndOfRib)[-1].peer == B_ID)
        assert ra.of(EndOfRib)[-1] == EndOfRib(B_ID, "l2vpn-evpn", 5)
        await rc.wait_for(lambda: len(rc.of(RouteAdded)) == 5)
        yield a, b, ra, rc
        nursery.cancel_scope.cancel()


def of_b(recorder: Watch, kind: type[Any]) -> list[Any]:
    return [e for e in recorder.of(kind) if e.peer == B_ID]


def withdrawn_from_b(recorder: Watch) -> list[Nlri]:
    return [e.route for e in recorder.of(RouteWithdrawn) if e.peer == B_ID]


async def test_graceful_restart_keeps_routes_until_end_of_rib(autojump_clock: trio.testing.MockClock) -> None:
    restart_time = 60
    with trio.fail_after(1000):
        async with restart_setup(restart_capability(restart_time)) as (a, b, ra, rc):
            await b.drop()  # no NOTIFICATION: the BGP process restarts
            await ra.wait_for(lambda: ra.of(PeerDown))
            await trio.sleep(1)
            # RFC 4724 §4.2: the routes stay, marked stale; nobody hears of a withdrawal.
            assert ra.of(RouteWithdrawn) == [] and rc.of(RouteWithdrawn) == []
            assert peer_stats(a, B_ID).routes_received == 5
            assert a.rib.stale_families(B_ID) == (EVPN,)
            assert peer_stats(a, B_ID).state != "ESTABLISHED"

            await trio.sleep(10)  # back well within the restart time
            async with trio.open_nursery() as nursery:
                again = RawPeer(raw_config(restart_capability(restart_time, restarting=True)))
                await attach_raw(nursery, a, again)
                assert len(of_b(ra, PeerUp)) == 2
                await again.announce(B_ROUTES[:2], ebgp_attributes(EBGP_ASN, 100, VTEP_B), VTEP_B)
                await ra.wait_for(lambda: len(ra.of(RouteAdded)) == 7)
                await trio.sleep(1)
                # Until End-of-RIB the stale routes stay next to the fresh ones.
                assert ra.of(RouteWithdrawn) == [] and peer_stats(a, B_ID).routes_received == 5
                await again.end_of_rib()
                await ra.wait_for(lambda: len(of_b(ra, EndOfRib)) == 2)
                # End-of-RIB removes exactly what was not sent again.
                assert sorted(withdrawn_from_b(ra), key=repr) == sorted(B_ROUTES[2:], key=repr)
                assert ra.of(EndOfRib)[-1] == EndOfRib(B_ID, "l2vpn-evpn", 2)
                assert a.rib.stale_families(B_ID) == ()
                assert peer_stats(a, B_ID).routes_received == 2
                await rc.wait_for(lambda: len(rc.of(RouteWithdrawn)) == 3)
                assert rc.routes(RouteWithdrawn) == set(B_ROUTES[2:])
                # The restart and stale-path timers are done: nothing else goes, however long we wait.
                await trio.sleep(restart_time + 400)
                assert len(ra.of(RouteWithdrawn)) == 3 and peer_stats(a, B_ID).routes_received == 2
                assert peer_stats(a, B_ID).state == "ESTABLISHED"
                nursery.cancel_scope.cancel()


async def test_graceful_restart_peer_not_back_within_the_restart_time(autojump_clock: trio.testing.MockClock) -> None:
    restart_time = 30
    with trio.fail_after(1000):
        async with restart_setup(restart_capability(restart_time)) as (a, b, ra, rc):
            await b.drop()
            dropped_at = trio.current_time()
            await ra.wait_for(lambda: ra.of(PeerDown))
            await trio.sleep(restart_time - 1)
            assert ra.of(RouteWithdrawn) == [] and peer_stats(a, B_ID).routes_received == 5
            await ra.wait_for(lambda: len(ra.of(RouteWithdrawn)) == 5)
            assert restart_time <= trio.current_time() - dropped_at < restart_time + 1
            assert set(withdrawn_from_b(ra)) == set(B_ROUTES)
            assert a.rib.stale_families(B_ID) == () and peer_stats(a, B_ID).routes_received == 0
            await rc.wait_for(lambda: len(rc.of(RouteWithdrawn)) == 5)


@pytest.mark.parametrize(
    ("how", "restart"),
    [
        ("reset", restart_capability(120)),  # we send a NOTIFICATION
        ("notification", restart_capability(120)),  # the peer sends one
        ("drop", None),  # no graceful restart capability
        ("drop", GracefulRestart(120)),  # the capability without families, as our speaker sends it
        ("drop", restart_capability(0)),  # restart time 0
    ],
    ids=["reset", "peer-notification", "no-capability", "no-families", "restart-time-0"],
)
async def test_not_graceful_routes_go_at_once(
    autojump_clock: trio.testing.MockClock, how: str, restart: GracefulRestart | None
) -> None:
    with trio.fail_after(60):
        async with restart_setup(restart) as (a, b, ra, rc):
            started = trio.current_time()
            if how == "reset":
                a.reset(B_ID)
            elif how == "notification":
                b.session.stop(trio.current_time())  # Cease/Administrative Shutdown
                await b.step()
            else:
                await b.drop()
            await ra.wait_for(lambda: ra.of(PeerDown))
            await ra.wait_for(lambda: len(ra.of(RouteWithdrawn)) == 5)
            assert trio.current_time() - started < 1
            # When the session goes down, each route is withdrawn before the PeerDown.
            assert ra.events.index(ra.of(RouteWithdrawn)[-1]) < ra.events.index(ra.of(PeerDown)[0])
            assert set(withdrawn_from_b(ra)) == set(B_ROUTES)
            assert a.rib.stale_families(B_ID) == () and peer_stats(a, B_ID).routes_received == 0
            await rc.wait_for(lambda: len(rc.of(RouteWithdrawn)) == 5)


@pytest.mark.parametrize(
    "restart",
    [restart_capability(60, flags=0, restarting=True), None],
    ids=["forwarding-state-not-preserved", "no-capability"],
)
async def test_stale_routes_go_when_the_restarted_peer_does_not_preserve_the_family(
    autojump_clock: trio.testing.MockClock, restart: GracefulRestart | None
) -> None:
    """RFC 4724 §4.2: a restarted peer whose new OPEN lacks the family, or has its F bit clear,
    did not keep forwarding state: its stale routes go as soon as the session is Established."""
    with trio.fail_after(120):
        async with restart_setup(restart_capability(60)) as (a, b, ra, _):
            await b.drop()
            await ra.wait_for(lambda: ra.of(PeerDown))
            await trio.sleep(5)
            assert ra.of(RouteWithdrawn) == [] and a.rib.stale_families(B_ID) == (EVPN,)
            async with trio.open_nursery() as nursery:
                again = RawPeer(raw_config(restart))
                await attach_raw(nursery, a, again)
                await ra.wait_for(lambda: len(ra.of(RouteWithdrawn)) == 5 and len(of_b(ra, PeerUp)) == 2)
                assert len(of_b(ra, EndOfRib)) == 1  # B sent no End-of-RIB this time: the OPEN was enough
                assert set(withdrawn_from_b(ra)) == set(B_ROUTES)
                assert a.rib.stale_families(B_ID) == () and peer_stats(a, B_ID).routes_received == 0
                nursery.cancel_scope.cancel()


async def test_stale_routes_swept_when_no_end_of_rib_after_the_restart(autojump_clock: trio.testing.MockClock) -> None:
    """Back within the restart time, but never an End-of-RIB: the stale routes go after the
    stale-path time (360 s), the ones sent again stay."""
    with trio.fail_after(2000):
        async with restart_setup(restart_capability(60)) as (a, b, ra, _):
            await b.drop()
            await ra.wait_for(lambda: ra.of(PeerDown))
            async with trio.open_nursery() as nursery:
                again = RawPeer(raw_config(restart_capability(60, restarting=True)))
                await attach_raw(nursery, a, again)
                back_at = trio.current_time()
                await again.announce(B_ROUTES[:1], ebgp_attributes(EBGP_ASN, 100, VTEP_B), VTEP_B)
                await trio.sleep(300)  # past the restart time (60 s): that timer no longer applies
                assert ra.of(RouteWithdrawn) == [] and peer_stats(a, B_ID).routes_received == 5
                await ra.wait_for(lambda: len(ra.of(RouteWithdrawn)) == 4)
                assert 359 <= trio.current_time() - back_at < 361
                assert set(withdrawn_from_b(ra)) == set(B_ROUTES[1:])
                assert peer_stats(a, B_ID).routes_received == 1 and a.rib.stale_families(B_ID) == ()
                nursery.cancel_scope.cancel()


async def test_a_failed_reconnection_attempt_keeps_the_stale_routes(autojump_clock: trio.testing.MockClock) -> None:
    """RFC 4724 §4.2: the stale routes are kept for the Restart Time unless the session is
    re-established without the family; a TCP connection that opens and closes again before
    any OPEN (the restarting peer not ready yet) re-establishes nothing."""
    with trio.fail_after(120):
        async with restart_setup(restart_capability(60)) as (a, b, ra, _):
            await b.drop()
            await ra.wait_for(lambda: ra.of(PeerDown))
            await trio.sleep(5)
            speaker_end, peer_end = trio.testing.memory_stream_pair()
            await a.attach(B_ID, speaker_end)
            await peer_end.aclose()  # connection accepted, then closed before an OPEN
            await trio.sleep(5)
            assert peer_stats(a, B_ID).state != "ESTABLISHED"
            assert ra.of(RouteWithdrawn) == []
            assert a.rib.stale_families(B_ID) == (EVPN,) and peer_stats(a, B_ID).routes_received == 5


@pytest.fixture
def patient_clock() -> trio.testing.MockClock:
    """Virtual time that jumps only after 50 ms of real idleness, so that a real TCP connect
    (refused at once by the kernel) completes before any timer fires."""
    return trio.testing.MockClock(autojump_threshold=0.05)


async def test_graceful_restart_survives_our_refused_reconnection_attempts(
    patient_clock: trio.testing.MockClock,
) -> None:
    """The usual configuration: an active peer.  While it restarts its BGP process, our session
    reconnects after the idle hold time (5 s) and is refused; that is no reason to drop the
    routes it asked us to keep for its restart time (60 s, RFC 4724 §4.2)."""
    port = free_port("127.0.0.1")  # nothing listens there: every connection attempt is refused
    hub = Config(SpeakerConfig(ASN, A_ID), (PeerConfig("127.0.0.1", EBGP_ASN, port=port, connect_retry=5),))
    with trio.fail_after(120):
        async with open_speaker(hub) as a, trio.open_nursery() as nursery:
            ra = await watch(nursery, a)
            b = RawPeer(raw_config(restart_capability(60)))
            await attach_raw(nursery, a, b, "127.0.0.1")
            await b.announce(B_ROUTES, ebgp_attributes(EBGP_ASN, 100, VTEP_B), VTEP_B)
            await b.end_of_rib()
            await ra.wait_for(lambda: ra.of(EndOfRib))
            await b.drop()
            await ra.wait_for(lambda: ra.of(PeerDown))
            assert a.rib.stale_families("127.0.0.1") == (EVPN,)
            await trio.sleep(30)  # half the restart time
            assert ra.of(RouteWithdrawn) == []
            assert a.rib.stale_families("127.0.0.1") == (EVPN,)
            assert peer_stats(a, "127.0.0.1").routes_received == 5
            nursery.cancel_scope.cancel()


# --- 7. route refresh ---------------------------------------------------------------------------


async def refresh_setup(nursery: trio.Nursery, a: Speaker, routes: Sequence[Nlri]) -> RawPeer:
    a.announce(routes, attributes=vni_attributes(ASN, 100, VTEP_A), next_hop=VTEP_A)
    b = RawPeer(raw_config())
    await attach_raw(nursery, a, b)
    await b.wait_for(lambda: b.end_of_ribs() == 1)
    assert sorted(b.announced(), key=repr) == sorted(routes, key=repr)
    return b


async def test_route_refresh_resends_the_table(autojump_clock: trio.testing.MockClock) -> None:
    routes = [imet(i, VTEP_A) for i in range(5)]
    hub = Config(SpeakerConfig(ASN, A_ID), (PeerConfig(B_ID, EBGP_ASN, passive=True),))
    with trio.fail_after(60):
        async with open_speaker(hub) as a, trio.open_nursery() as nursery:
            b = await refresh_setup(nursery, a, routes)
            updates_before = len(b.updates())
            await b.route_refresh()  # RFC 2918 §4: re-advertise the Adj-RIB-Out
            await b.wait_for(lambda: len(b.announced()) == 10)
            assert sorted(b.announced()[5:], key=repr) == sorted(routes, key=repr)
            await trio.sleep(1)
            assert len(b.announced()) == 10 and b.withdrawn() == []
            assert len(b.updates()) > updates_before
            assert peer_stats(a, B_ID).routes_advertised == 5
            nursery.cancel_scope.cancel()


async def test_route_refresh_is_framed_by_borr_and_eorr(autojump_clock: trio.testing.MockClock) -> None:
    """RFC 7313 §4: with the Enhanced Route Refresh capability exchanged (our SessionConfig
    always sends it, and so does the peer here), the re-advertisement in response to a route
    refresh request starts with a BoRR and ends with an EoRR."""
    routes = [imet(i, VTEP_A) for i in range(3)]
    hub = Config(SpeakerConfig(ASN, A_ID), (PeerConfig(B_ID, EBGP_ASN, passive=True),))
    with trio.fail_after(60):
        async with open_speaker(hub) as a, trio.open_nursery() as nursery:
            b = await refresh_setup(nursery, a, routes)
            negotiated = b.session.negotiated
            assert negotiated is not None and negotiated.enhanced_route_refresh
            start = len(b.events)
            await b.route_refresh()
            await b.wait_for(lambda: len(b.announced()) == 6)
            await trio.sleep(1)
            kinds = [type(e) for e in b.events[start:] if not isinstance(e, WantClose)]
            assert kinds[0] is BeginRouteRefresh and kinds[-1] is EndRouteRefresh
            nursery.cancel_scope.cancel()


async def test_enhanced_route_refresh_from_the_peer_sweeps_what_it_did_not_resend(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """RFC 7313 §4, the receiving side: BoRR marks B's routes stale, EoRR removes those B did
    not send again."""
    with trio.fail_after(60):
        async with restart_setup(GracefulRestart(120)) as (a, b, ra, _):
            await b.route_refresh(subtype=1)  # BoRR
            await b.announce(B_ROUTES[:3], ebgp_attributes(EBGP_ASN, 100, VTEP_B), VTEP_B)
            await ra.wait_for(lambda: len(ra.of(RouteAdded)) == 8)
            await trio.sleep(1)
            assert ra.of(RouteWithdrawn) == [] and peer_stats(a, B_ID).routes_received == 5
            await b.route_refresh(subtype=2)  # EoRR
            await ra.wait_for(lambda: len(ra.of(RouteWithdrawn)) == 2)
            assert set(withdrawn_from_b(ra)) == set(B_ROUTES[3:])
            assert peer_stats(a, B_ID).routes_received == 3 and a.rib.stale_families(B_ID) == ()
