"""The trio edge (:mod:`evpn.speaker`): two speakers in one process.

Most tests wire two speakers with ``trio.testing.memory_stream_pair()`` through
``Speaker.attach`` (both configured with ``listen=None`` and passive peers, so nobody dials)
and run on ``MockClock(autojump_threshold=0)`` (pytest-trio's ``autojump_clock`` fixture):
hold times of minutes pass in milliseconds, and ``fail_after`` counts virtual seconds.  The
rest use real TCP on 127.0.0.1/127.0.0.2 with kernel-chosen ports (always above 20000), so
that parallel runs cannot clash.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from evpn.config import Config, PeerConfig, SpeakerConfig, VniConfig, VrfConfig
from evpn.events import EndOfRib, Event, PeerDown, PeerUp, RouteAdded, RouteWithdrawn
from evpn.origination import local_routes
from evpn.speaker import _EVENT_BUFFER, Speaker, open_speaker
from evpn.tcp_md5 import set_md5sig
from evpn.wire import (
    AsPath,
    AsPathSegment,
    Encapsulation,
    ExtendedCommunities,
    InclusiveMulticastRoute,
    LocalPref,
    MacIpRoute,
    Origin,
    PmsiTunnel,
    RouterMac,
    RouteTarget,
    TunnelType,
)
from evpn.wire.attributes import AS_SEQUENCE

A_ID, B_ID = "192.0.2.1", "192.0.2.2"  # router IDs, and the peer addresses on memory streams
EVPN = ("l2vpn-evpn",)


# --- helpers -------------------------------------------------------------------------------


def imet(index: int, vtep: str = "198.18.0.1") -> InclusiveMulticastRoute:
    """A type-3 route: VTEP ``vtep`` joins the flood list of VNI 100 + ``index``."""
    return InclusiveMulticastRoute(rd=f"{vtep}:{100 + index}", originator_ip=vtep)


def vni_attributes(asn: int, vni: int, vtep: str = "198.18.0.1") -> list[Any]:
    """What a VXLAN type-3 route carries: route target ASN:VNI, VXLAN encapsulation, PMSI tunnel."""
    return [
        ExtendedCommunities([RouteTarget(asn, vni), Encapsulation(TunnelType.VXLAN)]),
        PmsiTunnel(label=vni, tunnel_id=socket.inet_aton(vtep)),
    ]


def by_type(attributes: Iterable[Any]) -> dict[type, Any]:
    return {type(attribute): attribute for attribute in attributes}


def memory_pair(
    a_asn: int = 65001, b_asn: int = 65002, *, b_expects: int | None = None, hold_time: int = 90
) -> tuple[Config, Config]:
    """A and B, each with the other as its only, passive peer, not listening."""
    a = Config(SpeakerConfig(a_asn, A_ID, hold_time=hold_time), (PeerConfig(B_ID, b_asn, passive=True),))
    b = Config(
        SpeakerConfig(b_asn, B_ID, hold_time=hold_time),
        (PeerConfig(A_ID, a_asn if b_expects is None else b_expects, passive=True),),
    )
    return a, b


class Recorder:
    """Collects a speaker's events from a background task; :meth:`wait_for` waits on them."""

    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker
        self.events: list[Event] = []
        self._changed = trio.Event()

    async def run(self) -> None:
        async for event in self.speaker.events():
            self.events.append(event)
            self._changed.set()
            self._changed = trio.Event()

    def of(self, kind: type[Any]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    async def wait_for(self, condition: Callable[[], object]) -> None:
        while not condition():
            await self._changed.wait()


async def record(nursery: trio.Nursery, *speakers: Speaker) -> list[Recorder]:
    """Subscribe to the events of each speaker.  ``events()`` subscribes on its first
    iteration, so wait until the new tasks are parked in it before anything can happen."""
    recorders = [Recorder(speaker) for speaker in speakers]
    for recorder in recorders:
        nursery.start_soon(recorder.run)
    await trio.testing.wait_all_tasks_blocked()
    return recorders


async def connect(a: Speaker, b: Speaker, a_end: Faulty | None = None, b_end: Faulty | None = None) -> None:
    """Hand A and B the two ends of one in-memory connection, through ``a_end``/``b_end`` if given."""
    left, right = trio.testing.memory_stream_pair()
    if a_end is not None:
        a_end.inner = left
    if b_end is not None:
        b_end.inner = right
    await a.attach(B_ID, a_end or left)
    await b.attach(A_ID, b_end or right)


@attrs.define
class Pair:
    a: Speaker
    b: Speaker
    ra: Recorder
    rb: Recorder

    def stats(self) -> tuple[Any, Any]:
        (pa,) = self.a.statistics().peers
        (pb,) = self.b.statistics().peers
        return pa, pb


@contextlib.asynccontextmanager
async def two_speakers(a_config: Config, b_config: Config) -> AsyncIterator[Pair]:
    async with open_speaker(a_config) as a, open_speaker(b_config) as b, trio.open_nursery() as nursery:
        yield Pair(a, b, *await record(nursery, a, b))
        nursery.cancel_scope.cancel()


class Faulty(trio.abc.Stream):
    """One end of a connection, wrapped so that a test can break its sending direction.

    ``silent``: what is sent is dropped, as if the process behind it hung (the other side
    hears nothing, not even a FIN).  ``stalled``: ``send_all`` blocks, as on a full socket
    buffer that the peer stopped reading, until the stream is closed; then it raises
    ``ClosedResourceError``.  Like trio's ``SocketStream``, a second concurrent ``send_all``
    raises ``BusyResourceError``.
    """

    def __init__(self) -> None:
        self.inner: trio.abc.Stream
        self.silent = False
        self.stalled = False
        self._sending = False
        self._closed = trio.Event()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is currently sending data on this stream")
        self._sending = True
        try:
            if self._closed.is_set():
                raise trio.ClosedResourceError("the stream was closed")
            if self.stalled:
                await self._closed.wait()
                raise trio.ClosedResourceError("the stream was closed")
            if self.silent:
                await trio.lowlevel.checkpoint()
            else:
                await self.inner.send_all(data)
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        self._closed.set()
        await self.inner.aclose()


# --- a session over memory streams ----------------------------------------------------------


async def test_established_routes_statistics(autojump_clock: trio.testing.MockClock) -> None:
    a_config, b_config = memory_pair()
    routes = [imet(0), imet(1), imet(2)]
    with trio.fail_after(30):
        async with two_speakers(a_config, b_config) as pair:
            a, b, ra, rb = pair.a, pair.b, pair.ra, pair.rb
            # Announced before the session: they go in the initial transfer, before End-of-RIB.
            # LOCAL_PREF is ours to set for iBGP only: an eBGP peer must not get it (RFC 4271 §5.1.5).
            a.announce(routes, attributes=[*vni_attributes(65001, 100), LocalPref(200)], next_hop="198.18.0.1")
            assert a.statistics().local_routes == 3

            waited: list[float] = []

            async def wait_up() -> None:
                await a.wait_established(B_ID)
                waited.append(trio.current_time())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait_up)
                await trio.testing.wait_all_tasks_blocked()
                assert waited == []  # nothing to wait for yet: it really waits
                await connect(a, b)
                await rb.wait_for(lambda: rb.of(EndOfRib))
            assert len(waited) == 1
            await b.wait_established(A_ID)  # returns at once when up

            assert rb.of(PeerUp) == [PeerUp(A_ID, 65001, EVPN)]
            assert ra.of(PeerUp) == [PeerUp(B_ID, 65002, EVPN)]
            # RFC 4724 §2: the routes of the initial transfer come before End-of-RIB, which counts them.
            assert [type(e) for e in rb.events] == [PeerUp, RouteAdded, RouteAdded, RouteAdded, EndOfRib]
            assert rb.of(EndOfRib) == [EndOfRib(A_ID, "l2vpn-evpn", 3)]
            await ra.wait_for(lambda: ra.of(EndOfRib))
            assert ra.of(EndOfRib) == [EndOfRib(B_ID, "l2vpn-evpn", 0)]

            added = rb.of(RouteAdded)
            assert sorted((e.route for e in added), key=repr) == sorted(routes, key=repr)
            for event in added:
                assert event.peer == A_ID
                assert event.next_hop == socket.inet_aton("198.18.0.1")
                got = by_type(event.attributes)
                assert got[Origin] == Origin(0)  # IGP, filled in
                assert got[AsPath] == AsPath([AsPathSegment(AS_SEQUENCE, (65001,))])  # eBGP: our AS prepended
                assert LocalPref not in got
                assert got[ExtendedCommunities] == ExtendedCommunities(
                    [RouteTarget(65001, 100), Encapsulation(TunnelType.VXLAN)]
                )
                assert got[PmsiTunnel].label == 100

            await trio.sleep(1)  # let every byte land
            pa, pb = pair.stats()
            assert (pa.address, pa.asn, pa.state) == (B_ID, 65002, "ESTABLISHED")
            assert (pb.address, pb.asn, pb.state) == (A_ID, 65001, "ESTABLISHED")
            assert pa.established_since is not None and pa.established_since == waited[0]
            assert (pa.routes_advertised, pa.routes_received) == (3, 0)
            assert (pb.routes_advertised, pb.routes_received) == (0, 3)
            assert pa.messages_out == pb.messages_in and pb.messages_out == pa.messages_in
            assert pa.updates_out == pb.updates_in >= 2  # the routes, then End-of-RIB
            snapshot = a.statistics()

            # Withdraw one: the peer hears of it; withdrawing what we do not originate is a no-op.
            a.withdraw([routes[0], imet(9)])
            await rb.wait_for(lambda: rb.of(RouteWithdrawn))
            assert rb.of(RouteWithdrawn) == [RouteWithdrawn(A_ID, routes[0])]
            # Announce one again with new attributes: it replaces the old one (RFC 4271 §3.1).
            a.announce([routes[1]], attributes=vni_attributes(65001, 200), next_hop="198.18.0.9")
            await rb.wait_for(lambda: len(rb.of(RouteAdded)) == 4)
            again = rb.of(RouteAdded)[-1]
            assert again.route == routes[1]
            assert again.next_hop == socket.inet_aton("198.18.0.9")
            assert by_type(again.attributes)[ExtendedCommunities].communities[0] == RouteTarget(65001, 200)
            await trio.sleep(1)
            assert len(rb.of(RouteWithdrawn)) == 1  # nothing else was withdrawn

            pa, pb = pair.stats()
            assert a.statistics().local_routes == 2
            assert (pa.routes_advertised, pb.routes_received) == (2, 2)
            assert pa.updates_out == pb.updates_in == snapshot.peers[0].updates_out + 2
            # A snapshot is a value: it did not follow the changes, and cannot be changed.
            assert snapshot.local_routes == 3 and snapshot.peers[0].routes_advertised == 3
            with pytest.raises(attrs.exceptions.FrozenInstanceError):
                snapshot.local_routes = 0  # type: ignore[misc]
            with pytest.raises(KeyError, match=r"203\.0\.113\.9"):
                await a.wait_established("203.0.113.9")
            assert not ra.of(PeerDown) and not rb.of(PeerDown)


async def test_max_prefixes_ends_the_session_with_cease_1(autojump_clock: trio.testing.MockClock) -> None:
    a_config, b_config = memory_pair()
    b_config = attrs.evolve(b_config, peers=(attrs.evolve(b_config.peers[0], max_prefixes=3),))
    with trio.fail_after(700):
        async with two_speakers(a_config, b_config) as pair:
            pair.a.announce([imet(0), imet(1), imet(2)], attributes=vni_attributes(65001, 100))
            await connect(pair.a, pair.b)
            await pair.rb.wait_for(lambda: pair.rb.of(EndOfRib))
            assert pair.rb.of(EndOfRib) == [EndOfRib(A_ID, "l2vpn-evpn", 3)]  # the limit itself is fine
            pair.a.announce([imet(3)], attributes=vni_attributes(65001, 100))
            await pair.ra.wait_for(lambda: pair.ra.of(PeerDown))
            await pair.rb.wait_for(lambda: pair.rb.of(PeerDown))
            await trio.sleep(600)  # and it stays down
            _, pb = pair.stats()
    ((down_a),) = pair.ra.of(PeerDown)
    assert down_a.reason.startswith("NOTIFICATION received: CEASE/MAXIMUM_PREFIXES_REACHED")
    ((down_b),) = pair.rb.of(PeerDown)
    assert "more than 3" in down_b.reason and "NOTIFICATION sent: CEASE/MAXIMUM_PREFIXES_REACHED" in down_b.reason
    # B dropped every route A sent, the fourth too
    withdrawn = {e.route for e in pair.rb.of(RouteWithdrawn)}
    assert withdrawn == {imet(i) for i in range(4)}
    assert (pb.state, pb.routes_received) == ("IDLE", 0)


async def test_ibgp_gets_local_pref_and_an_empty_as_path(autojump_clock: trio.testing.MockClock) -> None:
    a_config, b_config = memory_pair(65001, 65001)
    mac = MacIpRoute(rd="198.18.0.1:100", mac="02:00:00:00:00:01", ip="198.19.100.11", label1=100)
    with trio.fail_after(30):
        async with two_speakers(a_config, b_config) as pair:
            await connect(pair.a, pair.b)
            await pair.a.wait_established(B_ID)
            pair.a.announce([mac], attributes=vni_attributes(65001, 100)[:1])
            await pair.rb.wait_for(lambda: pair.rb.of(RouteAdded))
            (added,) = pair.rb.of(RouteAdded)
            assert added.route == mac
            assert added.next_hop == socket.inet_aton(A_ID)  # defaults to the router ID
            got = by_type(added.attributes)
            assert got[AsPath] == AsPath([])  # iBGP: nothing prepended (RFC 4271 §5.1.2)
            assert got[LocalPref] == LocalPref(100)
            assert got[Origin] == Origin(0)
            assert pair.rb.of(PeerUp) == [PeerUp(A_ID, 65001, EVPN)]


async def test_session_survives_three_hold_times_idle(autojump_clock: trio.testing.MockClock) -> None:
    a_config, b_config = memory_pair(hold_time=9)
    with trio.fail_after(60):
        async with two_speakers(a_config, b_config) as pair:
            await connect(pair.a, pair.b)
            await pair.a.wait_established(B_ID)
            await pair.b.wait_established(A_ID)
            await trio.sleep(0.5)  # past the End-of-RIB exchange
            before_a, before_b = pair.stats()
            await trio.sleep(3 * 9)
            after_a, after_b = pair.stats()
    assert (after_a.state, after_b.state) == ("ESTABLISHED", "ESTABLISHED")
    assert after_a.established_since == before_a.established_since  # the same session, never reset
    assert not pair.ra.of(PeerDown) and not pair.rb.of(PeerDown)
    # Keepalives every hold_time / 3 = 3 s each way (RFC 4271 §4.4, §10): at least 8 in 27 s.
    assert after_a.messages_in - before_a.messages_in >= 8
    assert after_b.messages_in - before_b.messages_in >= 8
    assert after_a.updates_in == before_a.updates_in  # only keepalives


async def test_hold_timer_expires_when_the_peer_goes_silent(autojump_clock: trio.testing.MockClock) -> None:
    a_config, b_config = memory_pair(hold_time=9)
    a_end = Faulty()
    routes = [imet(0), imet(1)]
    with trio.fail_after(60):
        async with two_speakers(a_config, b_config) as pair:
            pair.a.announce(routes, attributes=vni_attributes(65001, 100))
            await connect(pair.a, pair.b, a_end)
            await pair.rb.wait_for(lambda: pair.rb.of(EndOfRib))
            await trio.sleep(10)  # still fine after one hold time
            assert pair.stats()[1].state == "ESTABLISHED"
            a_end.silent = True  # A hangs: B hears nothing more, A still hears B
            silent_at = trio.current_time()
            await pair.rb.wait_for(lambda: pair.rb.of(PeerDown))
            waited = trio.current_time() - silent_at
            await pair.ra.wait_for(lambda: pair.ra.of(PeerDown))
            _, pb = pair.stats()

    # B's HoldTimer expires 9 s after the last KEEPALIVE it got, at most 3 s before the silence.
    assert 6 <= waited <= 9
    ((down_b),) = pair.rb.of(PeerDown)
    assert down_b.peer == A_ID
    assert "holdtimer expired" in down_b.reason.lower()
    assert "HOLD_TIMER_EXPIRED" in down_b.reason  # the NOTIFICATION B sent is named
    # Each route B had from A is withdrawn, before B reports the peer down.
    withdrawn = pair.rb.of(RouteWithdrawn)
    assert sorted((e.route for e in withdrawn), key=repr) == sorted(routes, key=repr)
    assert pair.rb.events.index(withdrawn[-1]) < pair.rb.events.index(down_b)
    assert (pb.routes_received, pb.state != "ESTABLISHED") == (0, True)
    # A was still listening: it got B's NOTIFICATION.
    ((down_a),) = pair.ra.of(PeerDown)
    assert down_a.reason.startswith("NOTIFICATION received: HOLD_TIMER_EXPIRED")


async def test_hold_timer_expires_while_the_peer_does_not_read(autojump_clock: trio.testing.MockClock) -> None:
    """B hangs while A is writing to it: A's send blocks on the full buffer.  A's HoldTimer
    still expires; A gives its NOTIFICATION a grace period, closes, and keeps working."""
    a_config, b_config = memory_pair(hold_time=9)
    a_end, b_end = Faulty(), Faulty()
    with trio.fail_after(60):
        async with two_speakers(a_config, b_config) as pair:
            await connect(pair.a, pair.b, a_end, b_end)
            await pair.ra.wait_for(lambda: pair.ra.of(EndOfRib))
            a_end.stalled = b_end.silent = True
            pair.a.announce([imet(i) for i in range(100)], attributes=vni_attributes(65001, 100))
            hung_at = trio.current_time()
            await pair.ra.wait_for(lambda: pair.ra.of(PeerDown))
            # The HoldTimer, then up to 2 s trying to get the NOTIFICATION out, then the close.
            assert 6 <= trio.current_time() - hung_at <= 9 + 2
            ((down),) = pair.ra.of(PeerDown)
            assert "holdtimer expired" in down.reason.lower()
            (pa,) = pair.a.statistics().peers
            assert pa.state != "ESTABLISHED"
            # The speaker survived (no BusyResourceError from two writers): a new connection comes up.
            await connect(pair.a, pair.b)
            await pair.a.wait_established(B_ID)
            await pair.rb.wait_for(lambda: len(pair.rb.of(RouteAdded)) == 100)
            (pa,) = pair.a.statistics().peers
            assert pa.state == "ESTABLISHED" and pa.routes_advertised == 100


async def test_leaving_open_speaker_sends_administrative_shutdown(autojump_clock: trio.testing.MockClock) -> None:
    a_config, b_config = memory_pair()
    routes = [imet(0), imet(1), imet(2)]
    with trio.fail_after(30):
        async with open_speaker(b_config) as b, trio.open_nursery() as nursery:
            (rb,) = await record(nursery, b)
            async with open_speaker(a_config) as a:
                a.announce(routes, attributes=vni_attributes(65001, 100))
                await connect(a, b)
                await rb.wait_for(lambda: rb.of(EndOfRib))
                left_at = trio.current_time()
            assert trio.current_time() - left_at < 2.0  # within the NOTIFICATION flush grace
            await rb.wait_for(lambda: rb.of(PeerDown))
            (pb,) = b.statistics().peers
            nursery.cancel_scope.cancel()
    ((down),) = rb.of(PeerDown)
    assert down.peer == A_ID
    assert down.reason.startswith("NOTIFICATION received")
    assert "CEASE" in down.reason and "shutdown" in down.reason.lower()  # Cease 6/2 (RFC 4486 §4)
    assert {e.route for e in rb.of(RouteWithdrawn)} == set(routes)
    assert pb.state != "ESTABLISHED" and pb.routes_received == 0


async def test_events_end_when_the_speaker_stops(autojump_clock: trio.testing.MockClock) -> None:
    a_config, _ = memory_pair()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            async with open_speaker(a_config) as a:
                (recorder,) = await record(nursery, a)
            # Here the loop over events() must end by itself, or the nursery waits forever.
            assert not nursery.cancel_scope.cancel_called
    assert recorder.events == []


async def test_wrong_peer_as_is_refused_with_bad_peer_as(autojump_clock: trio.testing.MockClock) -> None:
    a_config, b_config = memory_pair(b_expects=65003)  # B expects AS 65003, A is 65001
    with trio.fail_after(30):
        async with two_speakers(a_config, b_config) as pair:
            await connect(pair.a, pair.b)
            await pair.rb.wait_for(lambda: pair.rb.of(PeerDown))
            await pair.ra.wait_for(lambda: pair.ra.of(PeerDown))
            await trio.sleep(1)
            pa, pb = pair.stats()
    # B detects it (RFC 4271 §6.2: OPEN Message Error 2, subcode 2 Bad Peer AS) and says so.
    ((down_b),) = pair.rb.of(PeerDown)
    assert "65001" in down_b.reason and "65003" in down_b.reason
    assert "OPEN_MESSAGE/BAD_PEER_AS" in down_b.reason
    ((down_a),) = pair.ra.of(PeerDown)
    assert down_a.reason == "NOTIFICATION received: OPEN_MESSAGE/BAD_PEER_AS"
    assert not pair.ra.of(PeerUp) and not pair.rb.of(PeerUp)
    assert "ESTABLISHED" not in (pa.state, pb.state)


async def test_a_slow_subscriber_slows_the_peer_down(autojump_clock: trio.testing.MockClock) -> None:
    count = 10_000
    routes = [imet(i) for i in range(count)]
    a_config, b_config = memory_pair()
    gate = trio.Event()
    got: list[Event] = []

    async def slow_consumer() -> None:
        async for event in b.events():
            got.append(event)
            if len(got) == 1:
                await gate.wait()  # takes PeerUp, then stops reading for a while
            if isinstance(event, EndOfRib):
                return

    with trio.fail_after(60):
        async with open_speaker(a_config) as a, open_speaker(b_config) as b:
            a.announce(routes, attributes=vni_attributes(65001, 100))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(slow_consumer)
                await trio.testing.wait_all_tasks_blocked()
                await connect(a, b)
                await trio.sleep(5)  # well within the hold time: everything that can happen has
                (pa,) = a.statistics().peers
                (pb,) = b.statistics().peers
                # A sent everything, but B stopped reading once its subscriber's queue was full:
                # it holds the queue's worth of routes plus the UPDATE being handed over, not 10 000.
                assert [type(e) for e in got] == [PeerUp]
                assert pa.routes_advertised == count
                largest_update = max(pa.routes_advertised // pa.updates_out, 2000)
                assert pb.routes_received <= _EVENT_BUFFER + largest_update
                assert pb.routes_received < count
                assert pb.updates_in < pa.updates_out
                assert pb.messages_in < pa.messages_out
                assert pb.state == "ESTABLISHED"
                gate.set()
            # Then it catches up, losing nothing.
            (pb,) = b.statistics().peers
    assert isinstance(got[-1], EndOfRib) and got[-1].routes == count
    added = [e.route for e in got if isinstance(e, RouteAdded)]
    assert len(added) == count and set(added) == set(routes)
    assert pb.routes_received == count


# --- real TCP on loopback ---------------------------------------------------------------------


def free_port(host: str) -> int:
    """A TCP port on ``host`` that nothing uses right now, chosen by the kernel (above 20000)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port = int(probe.getsockname()[1])
    assert port > 20000
    return port


def tcp_established(*ports: int) -> list[tuple[tuple[str, int], tuple[str, int]]]:
    """ESTABLISHED IPv4 TCP sockets (local, remote) with one end on one of ``ports`` (/proc/net/tcp)."""

    def endpoint(text: str) -> tuple[str, int]:
        host, port = text.split(":")
        return socket.inet_ntoa(bytes.fromhex(host)[::-1]), int(port, 16)

    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = endpoint(fields[1]), endpoint(fields[2])
        if fields[3] == "01" and (local[1] in ports or remote[1] in ports):
            found.append((local, remote))
    return found


def listening_pair(port: int, *, passwords: tuple[str | None, str | None] = (None, None)) -> tuple[Config, Config]:
    """A listens on 127.0.0.1:``port`` for B; B connects to it from 127.0.0.2."""
    a = Config(
        SpeakerConfig(65001, A_ID, listen=("127.0.0.1", port), hold_time=9),
        (PeerConfig("127.0.0.2", 65002, passive=True, password=passwords[0]),),
    )
    b = Config(
        SpeakerConfig(65002, B_ID, hold_time=9),
        (PeerConfig("127.0.0.1", 65001, port=port, local_address="127.0.0.2", password=passwords[1], connect_retry=1),),
    )
    return a, b


async def test_tcp_listen_and_connect() -> None:
    port = free_port("127.0.0.1")
    a_config, b_config = listening_pair(port)
    with trio.fail_after(10):
        async with open_speaker(a_config) as a, open_speaker(b_config) as b, trio.open_nursery() as nursery:
            ra, rb = await record(nursery, a, b)
            await a.wait_established("127.0.0.2")  # A only accepts 127.0.0.2: local_address was used
            await b.wait_established("127.0.0.1")
            b.announce([imet(0, "198.18.0.2")], attributes=vni_attributes(65002, 100, "198.18.0.2"))
            await ra.wait_for(lambda: ra.of(RouteAdded))
            ((added),) = ra.of(RouteAdded)
            assert added.route == imet(0, "198.18.0.2") and added.peer == "127.0.0.2"
            assert by_type(added.attributes)[AsPath] == AsPath([AsPathSegment(AS_SEQUENCE, (65002,))])
            (conn,) = {tuple(sorted(c)) for c in tcp_established(port)}
            assert ("127.0.0.1", port) in conn and conn[0][0] != conn[1][0]
            nursery.cancel_scope.cancel()
    assert ra.of(PeerUp) == [PeerUp("127.0.0.2", 65002, EVPN)]
    assert rb.of(PeerUp) == [PeerUp("127.0.0.1", 65001, EVPN)]


def _md5_unavailable() -> str | None:
    try:
        with socket.socket() as sock:
            set_md5sig(sock, "127.0.0.2", "probe")
    except OSError as exc:
        return f"TCP_MD5SIG cannot be set here: {exc}"
    return None


@pytest.fixture
def md5() -> None:
    why = _md5_unavailable()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(why + " (CI=true: the TCP MD5 tests must run)")
        pytest.skip(why)


@pytest.mark.usefixtures("md5")
async def test_tcp_md5_matching_passwords() -> None:
    port = free_port("127.0.0.1")
    a_config, b_config = listening_pair(port, passwords=("s3cret-é", "s3cret-é"))
    with trio.fail_after(10):
        async with open_speaker(a_config) as a, open_speaker(b_config) as b:
            await a.wait_established("127.0.0.2")
            await b.wait_established("127.0.0.1")
            assert a.statistics().peers[0].state == "ESTABLISHED"


@pytest.mark.usefixtures("md5")
async def test_tcp_md5_mismatching_passwords_never_connect() -> None:
    port = free_port("127.0.0.1")
    a_config, b_config = listening_pair(port, passwords=("one password", "another"))
    with trio.fail_after(10):
        async with open_speaker(a_config) as a, open_speaker(b_config) as b:
            with trio.move_on_after(3) as waiting:
                await a.wait_established("127.0.0.2")
            assert waiting.cancelled_caught
            (pa,) = a.statistics().peers
            (pb,) = b.statistics().peers
    # The kernel drops the mis-signed SYNs: not one BGP message got through, either way.
    assert (pa.messages_in, pb.messages_in) == (0, 0)
    assert pa.state != "ESTABLISHED" and pb.state != "ESTABLISHED"


async def test_tcp_collision_keeps_one_connection() -> None:
    """Both active at once, each connection accepted while the other is in OpenSent: the
    connection opened by the higher BGP Identifier (B) survives (RFC 4271 §6.8)."""
    port_a, port_b = free_port("127.0.0.1"), free_port("127.0.0.2")
    a_config = Config(
        SpeakerConfig(65001, A_ID, hold_time=9),
        (PeerConfig("127.0.0.2", 65002, port=port_b, local_address="127.0.0.1"),),
    )
    b_config = Config(
        SpeakerConfig(65002, B_ID, hold_time=9),
        (PeerConfig("127.0.0.1", 65001, port=port_a, local_address="127.0.0.2"),),
    )
    # The test accepts in the speakers' place, so that both connections are up (each side in
    # OpenSent with its OPEN sent) before either speaker sees the other's connection.
    listeners = []
    for host, port in (("127.0.0.1", port_a), ("127.0.0.2", port_b)):
        listener = trio.socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        await listener.bind((host, port))
        listener.listen(4)
        listeners.append(listener)
    try:
        with trio.fail_after(10):
            async with open_speaker(a_config) as a, open_speaker(b_config) as b, trio.open_nursery() as nursery:
                ra, rb = await record(nursery, a, b)
                to_a, _ = await listeners[0].accept()  # B's connection
                to_b, _ = await listeners[1].accept()  # A's connection
                async with trio.open_nursery() as attaching:
                    attaching.start_soon(a.attach, "127.0.0.2", trio.SocketStream(to_a))
                    attaching.start_soon(b.attach, "127.0.0.1", trio.SocketStream(to_b))
                await a.wait_established("127.0.0.2")
                await b.wait_established("127.0.0.1")
                while len(tcp_established(port_a, port_b)) > 2:  # the loser's close is on its way
                    await trio.sleep(0.01)
                await trio.sleep(1)  # and it stays that way
                connections = tcp_established(port_a, port_b)
                states = (a.statistics().peers[0].state, b.statistics().peers[0].state)
                nursery.cancel_scope.cancel()
    finally:
        for listener in listeners:
            listener.close()
    assert states == ("ESTABLISHED", "ESTABLISHED")
    # One connection (its two sockets): the one B opened, from 127.0.0.2 to A's port.
    assert len(connections) == 2
    (client,) = {end for connection in connections for end in connection} - {("127.0.0.1", port_a)}
    assert client[0] == "127.0.0.2" and client[1] != port_b
    for recorder in (ra, rb):
        assert len(recorder.of(PeerUp)) == 1
        # Only the dumped connection may have been reported, and only before the survivor came up.
        for down in recorder.of(PeerDown):
            assert "collision" in down.reason.lower()
            assert recorder.events.index(down) < recorder.events.index(recorder.of(PeerUp)[0])


async def test_tcp_both_active_at_the_same_time() -> None:
    """Both listen and both dial, started together: whatever races, one session comes up and stays."""
    port_a, port_b = free_port("127.0.0.1"), free_port("127.0.0.2")
    a_config = Config(
        SpeakerConfig(65001, A_ID, listen=("127.0.0.1", port_a), hold_time=9),
        (PeerConfig("127.0.0.2", 65002, port=port_b, local_address="127.0.0.1", connect_retry=1),),
    )
    b_config = Config(
        SpeakerConfig(65002, B_ID, listen=("127.0.0.2", port_b), hold_time=9),
        (PeerConfig("127.0.0.1", 65001, port=port_a, local_address="127.0.0.2", connect_retry=1),),
    )
    recorders: list[Recorder] = []

    async def run(config: Config, ready: trio.Event, done: trio.Event) -> None:
        async with open_speaker(config) as speaker, trio.open_nursery() as nursery:
            recorders.extend(await record(nursery, speaker))
            await speaker.wait_established(config.peers[0].address)
            ready.set()
            await done.wait()
            nursery.cancel_scope.cancel()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            up_a, up_b, done = trio.Event(), trio.Event(), trio.Event()
            nursery.start_soon(run, a_config, up_a, done)
            nursery.start_soon(run, b_config, up_b, done)
            await up_a.wait()
            await up_b.wait()
            await trio.sleep(1)
            connections = tcp_established(port_a, port_b)
            states = [recorder.speaker.statistics().peers[0].state for recorder in recorders]
            events = [list(recorder.events) for recorder in recorders]
            done.set()
    assert states == ["ESTABLISHED", "ESTABLISHED"]
    assert len(connections) == 2  # one connection, seen from both ends
    for seen in events:
        ups = [i for i, event in enumerate(seen) if isinstance(event, PeerUp)]
        downs = [i for i, event in enumerate(seen) if isinstance(event, PeerDown)]
        assert len(ups) == 1 and all(i < ups[0] for i in downs), seen


# --- local origination: [[vnis]] and [[vrfs]] ------------------------------------------------


def originating_pair() -> tuple[Config, Config]:
    """A with VNI 100 (two MACs, bound to VRF tenant1) and VRF tenant1 (one prefix); B plain."""
    a, b = memory_pair()
    vni = VniConfig(
        100,
        "198.18.0.1",
        "198.18.0.1:1",
        ["65001:100"],
        ["65001:100"],
        [("02:aa:00:00:00:01", "198.19.100.11"), ("02:aa:00:00:00:02", None)],
        vrf="tenant1",
    )
    vrf = VrfConfig(
        "tenant1", 5000, "02:aa:00:00:50:00", "198.18.0.1:2", ["65001:5000"], ["65001:5000"], ["198.19.50.0/24"]
    )
    return attrs.evolve(a, vnis=(vni,), vrfs=(vrf,)), b


async def test_configured_routes_at_session_start_and_add_remove_mac(autojump_clock: trio.testing.MockClock) -> None:
    a_config, b_config = originating_pair()
    expected = {route.key: (route, attributes, hop) for route, attributes, hop in local_routes(a_config)}
    with trio.fail_after(30):
        async with two_speakers(a_config, b_config) as pair:
            a, b, rb = pair.a, pair.b, pair.rb
            assert a.statistics().local_routes == 4  # originated before any peer is up
            await connect(a, b)
            await rb.wait_for(lambda: rb.of(EndOfRib))
            # RFC 4724 §2: the configured routes are the initial transfer, before End-of-RIB.
            assert rb.of(EndOfRib) == [EndOfRib(A_ID, "l2vpn-evpn", 4)]
            added = rb.of(RouteAdded)
            assert {event.route.key for event in added} == set(expected)
            for event in added:
                route, attributes, hop = expected[event.route.key]
                assert event.route == route
                assert event.next_hop == socket.inet_aton(hop)
                got = by_type(event.attributes)
                for attribute in attributes:
                    assert got[type(attribute)] == attribute
            types = sorted((e.route.route_type, getattr(e.route, "label2", None) or 0) for e in added)
            assert types == [(2, 0), (2, 5000), (3, 0), (5, 0)]

            # Run time: a new MAC+IP in VNI 100 gets label2 5000 and the router MAC, as configured ones do.
            a.add_mac(100, "02:aa:00:00:00:03", "198.19.100.13")
            await rb.wait_for(lambda: len(rb.of(RouteAdded)) == 5)
            new = rb.of(RouteAdded)[-1]
            assert new.route == MacIpRoute(
                rd="198.18.0.1:1", mac="02:aa:00:00:00:03", ip="198.19.100.13", label1=100, label2=5000
            )
            assert by_type(new.attributes)[ExtendedCommunities] == ExtendedCommunities(
                [
                    RouteTarget(65001, 100),
                    RouteTarget(65001, 5000),
                    Encapsulation(TunnelType.VXLAN),
                    RouterMac("02:aa:00:00:50:00"),
                ]
            )
            assert b.statistics().peers[0].routes_received == 5

            a.remove_mac(100, "02:aa:00:00:00:03", "198.19.100.13")
            a.remove_mac(100, "02:aa:00:00:00:02")  # a configured one may go too
            await rb.wait_for(lambda: len(rb.of(RouteWithdrawn)) == 2)
            withdrawn = {(e.route.mac, e.route.ip) for e in rb.of(RouteWithdrawn)}
            assert withdrawn == {
                (bytes.fromhex("02aa00000003"), socket.inet_aton("198.19.100.13")),
                (bytes.fromhex("02aa00000002"), b""),
            }
            assert a.statistics().local_routes == 3

            with pytest.raises(ValueError, match=r"^VNI 200 is not configured"):
                a.add_mac(200, "02:aa:00:00:00:04")
            with pytest.raises(ValueError, match=r"^VNI 200 is not configured"):
                a.remove_mac(200, "02:aa:00:00:00:04")
            with pytest.raises(ValueError, match="not the MAC address of a host"):
                a.add_mac(100, "ff:ff:ff:ff:ff:ff")
