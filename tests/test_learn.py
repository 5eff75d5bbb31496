"""Local learning: the pure :class:`~evpn.sink.learn.Learner`, the netlink record parser, and
the speaker originating what a (fake) watcher reports, with MAC mobility against a peer.

The kernel side (:class:`~evpn.sink.netlink.NetlinkWatcher` in a namespace) is in
``tests/test_sink_netlink.py``; end to end against FRR in ``tests/interop/test_e2e_frr.py``.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

import evpn.speaker
from evpn.config import Config, PeerConfig, SpeakerConfig, parse_config
from evpn.sink import MemorySink
from evpn.sink.dataplane import Dataplane, open_sink
from evpn.sink.learn import Learner, LinkState, LocalMacChange, NeighborState, VniChange
from evpn.sink.ops import FdbEntry
from evpn.sink.translate import L2Devices
from evpn.speaker import Speaker, open_speaker
from evpn.types import ip_bytes, mac_bytes
from evpn.wire.attributes import ExtendedCommunities
from evpn.wire.extcommunities import Encapsulation, MacMobility, RouteTarget, TunnelType
from evpn.wire.routes import MacIpRoute

BRIDGE, VXLAN, PORT, OTHER_BRIDGE, OTHER_PORT = 10, 11, 12, 20, 21
LINKS = [
    LinkState(BRIDGE, "br100", 0, True),
    LinkState(VXLAN, "vxlan100", BRIDGE, True),
    LinkState(PORT, "hp1", BRIDGE, True),
    LinkState(OTHER_BRIDGE, "br9", 0, True),
    LinkState(OTHER_PORT, "hp9", OTHER_BRIDGE, True),
]
M1, M2 = mac_bytes("02:00:00:00:01:01"), mac_bytes("02:00:00:00:01:02")
IP1, IP2 = ip_bytes("198.19.100.11"), ip_bytes("198.19.100.12")
REACHABLE, STALE, FAILED, NOARP, PERMANENT = 0x02, 0x04, 0x20, 0x40, 0x80
EXT_LEARNED = 0x10


def fdb(mac: bytes, port: int = PORT, *, state: int = REACHABLE, flags: int = 0, present: bool = True) -> NeighborState:
    return NeighborState(
        socket.AF_BRIDGE, port, BRIDGE if port != OTHER_PORT else OTHER_BRIDGE, mac, b"", state, flags, present
    )


def neigh(ip: bytes, mac: bytes, *, state: int = REACHABLE, flags: int = 0, present: bool = True) -> NeighborState:
    family = socket.AF_INET if len(ip) == 4 else socket.AF_INET6
    return NeighborState(family, BRIDGE, 0, mac, ip, state, flags, present)


def learner(*neighbors: NeighborState) -> Learner:
    out = Learner({100: L2Devices("vxlan100", "br100")})
    out.snapshot(LINKS, neighbors)
    return out


def added(mac: bytes, ip: bytes = b"") -> LocalMacChange:
    return LocalMacChange(100, mac, ip, True)


def removed(mac: bytes, ip: bytes = b"") -> LocalMacChange:
    return LocalMacChange(100, mac, ip, False)


def test_a_mac_on_a_host_port_is_local_and_goes_when_forgotten() -> None:
    lr = learner(fdb(M1))
    assert lr.take() == [added(M1)]
    assert lr.take() == []
    lr.neighbor(fdb(M1, state=STALE))  # aging on: still there
    assert lr.take() == []
    lr.neighbor(fdb(M1, present=False))
    assert lr.take() == [removed(M1)]


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (fdb(M1, VXLAN, flags=EXT_LEARNED), "a remote MAC (on the VXLAN port)"),
        (fdb(M1, VXLAN), "learned on the VXLAN port"),
        (fdb(M1, BRIDGE, state=PERMANENT), "the bridge's own address"),
        (fdb(M1, state=PERMANENT), "a port's own address"),
        (fdb(M1, flags=EXT_LEARNED), "installed by a control plane"),
        (fdb(M1, OTHER_PORT), "a bridge of no configured VNI"),
        (fdb(bytes(6)), "the zero MAC"),
        (fdb(mac_bytes("01:00:5e:00:00:01")), "a multicast MAC"),
    ],
)
def test_entries_that_are_not_local_macs(entry: NeighborState, why: str) -> None:
    assert learner(entry).take() == [], why


def test_a_remote_mac_moving_to_a_host_port_becomes_local_and_back() -> None:
    lr = learner(fdb(M1, VXLAN, flags=EXT_LEARNED))
    assert lr.take() == []
    lr.neighbor(fdb(M1))  # the kernel took the entry over: the host is here now
    assert lr.take() == [added(M1)]
    lr.neighbor(fdb(M1, VXLAN, flags=EXT_LEARNED))  # moved away again (a remote route won)
    assert lr.take() == [removed(M1)]


def test_mac_ip_needs_a_valid_neighbour_and_a_local_mac() -> None:
    lr = learner(neigh(IP2, M2))  # M2 is not local (a host behind another VTEP): not ours
    assert lr.take() == []
    lr.neighbor(fdb(M2))
    assert lr.take() == [added(M2), added(M2, IP2)]
    lr.neighbor(neigh(IP2, M2, state=FAILED))
    assert lr.take() == [removed(M2, IP2)]
    lr.neighbor(neigh(IP2, M2, state=STALE))
    assert lr.take() == [added(M2, IP2)]
    lr.neighbor(fdb(M2, present=False))  # the MAC goes: its MAC+IP with it
    assert lr.take() == [removed(M2), removed(M2, IP2)]


def test_neighbour_changing_mac_moves_the_mac_ip() -> None:
    lr = learner(fdb(M1), fdb(M2), neigh(IP1, M1))
    assert set(lr.take()) == {added(M1), added(M2), added(M1, IP1)}
    lr.neighbor(neigh(IP1, M2))
    assert lr.take() == [removed(M1, IP1), added(M2, IP1)]


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (neigh(IP1, M1, flags=EXT_LEARNED, state=NOARP), "our own (a remote MAC+IP we installed)"),
        (neigh(ip_bytes("fe80::1"), M1), "IPv6 link-local"),
        (neigh(IP1, M1, state=FAILED), "not valid"),
        (neigh(ip_bytes("224.0.0.1"), M1), "multicast"),
        (NeighborState(socket.AF_INET, OTHER_BRIDGE, 0, M1, IP1, REACHABLE, 0), "not a VNI's SVI"),
    ],
)
def test_neighbours_that_are_not_local(entry: NeighborState, why: str) -> None:
    lr = learner(fdb(M1), entry)
    assert lr.take() == [added(M1)], why


def test_vni_follows_its_vxlan_device() -> None:
    lr = learner()
    assert lr.take() == []  # starts up, as announced at start
    lr.link(LinkState(VXLAN, "vxlan100", BRIDGE, False))
    assert lr.take() == [VniChange(100, False)]
    lr.link(LinkState(VXLAN, "vxlan100", BRIDGE, True))
    assert lr.take() == [VniChange(100, True)]
    lr.link(LinkState(VXLAN, "vxlan100", 0, True))  # out of the bridge
    assert lr.take() == [VniChange(100, False)]
    lr.link(LinkState(VXLAN, "vxlan100", 0, True, present=False))
    lr.link(LinkState(99, "vxlan100", BRIDGE, True))  # made again, with a new index
    assert lr.take() == [VniChange(100, True)]  # made again (a new index), in its bridge
    lr.link(LinkState(99, "vxlan100", BRIDGE, False))
    lr.link(LinkState(99, "vxlan100", BRIDGE, True))
    assert lr.take() == []  # down and up again between two takes: nothing to say


def test_a_missing_device_at_start_is_a_vni_down() -> None:
    lr = Learner({100: L2Devices("vxlan100", "br100")})
    lr.snapshot([LinkState(BRIDGE, "br100", 0, True)], [])
    assert lr.take() == [VniChange(100, False)]


def test_snapshot_after_lost_notifications_withdraws_what_went() -> None:
    lr = learner(fdb(M1), fdb(M2), neigh(IP1, M1))
    lr.take()
    lr.snapshot(LINKS, [fdb(M2)])
    assert lr.take() == [removed(M1), removed(M1, IP1)]


def test_installing_a_remote_entry_replaces_the_local_one() -> None:
    """Our own entries are not watched: the dataplane tells the learner of each remote MAC or
    neighbour it installs.  What it replaced is reported withdrawn (the RIB already dropped it),
    so that the kernel learning it again announces it again."""
    lr = learner(fdb(M1), neigh(IP1, M1), fdb(M2), neigh(IP2, M2))
    lr.take()
    lr.installed(100, M1)  # a remote VTEP's M1 won: the kernel entry is on the VXLAN port now
    lr.installed(100, M2, IP2)  # a remote MAC+IP for IP2
    assert lr.take() == [removed(M1), removed(M1, IP1), removed(M2, IP2)]
    lr.installed(100, M1)  # not local any more: nothing
    lr.installed(100, M1, IP2)
    assert lr.take() == []
    lr.neighbor(fdb(M1))  # the host talks again here: the kernel takes the entry back
    lr.neighbor(neigh(IP2, M2))
    assert lr.take() == [added(M1), added(M1, IP1), added(M2, IP2)]


def test_installed_then_learned_again_before_a_take_still_announces() -> None:
    lr = learner(fdb(M1))
    lr.take()
    lr.installed(100, M1)
    lr.neighbor(fdb(M1))
    assert lr.take() == [removed(M1), added(M1)]


EVENTS = st.lists(
    st.one_of(
        st.builds(
            fdb,
            st.sampled_from([M1, M2]),
            st.sampled_from([PORT, VXLAN, BRIDGE]),
            state=st.sampled_from([REACHABLE, STALE, NOARP, PERMANENT]),
            flags=st.sampled_from([0, EXT_LEARNED]),
            present=st.booleans(),
        ),
        st.builds(
            neigh,
            st.sampled_from([IP1, IP2]),
            st.sampled_from([M1, M2]),
            state=st.sampled_from([REACHABLE, STALE, FAILED, NOARP]),
            flags=st.sampled_from([0, EXT_LEARNED]),
            present=st.booleans(),
        ),
    ),
    max_size=30,
)


@given(EVENTS, st.lists(st.integers(0, 30), max_size=5))
def test_incremental_learning_agrees_with_a_fresh_snapshot(events: list[NeighborState], takes: list[int]) -> None:
    """Feeding events one by one (taking changes at random points) ends where a learner
    built from the final kernel state ends."""
    live = learner()
    reported: set[tuple[bytes, bytes]] = set()
    final: dict[tuple[int, bytes], NeighborState] = {}

    def collect() -> None:
        for change in live.take():
            assert isinstance(change, LocalMacChange)
            key = (change.mac, change.ip)
            assert (key in reported) != change.present, f"{change} repeats what was said"
            (reported.add if change.present else reported.discard)(key)

    for position, event in enumerate(events):
        live.neighbor(event)
        # the kernel keeps one bridge entry per MAC and one neighbour per IP
        final[(event.family, event.mac if event.family == socket.AF_BRIDGE else event.ip)] = event
        if position in takes:
            collect()
    collect()
    fresh = learner(*(e for e in final.values() if e.present))
    expected = {(c.mac, c.ip) for c in fresh.take() if isinstance(c, LocalMacChange)}
    assert reported == expected


# --- netlink records -----------------------------------------------------------------------------


def _nla(kind: int, value: bytes) -> bytes:
    size = 4 + len(value)
    return struct.pack("=HH", size, kind) + value + bytes(-size % 4)


def _message(kind: int, body: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body


def test_netlink_records_from_kernel_messages() -> None:
    netlink = pytest.importorskip("evpn.sink.netlink")
    bridge_fdb = _message(
        28,
        struct.pack("=BxxxiHBB", socket.AF_BRIDGE, PORT, REACHABLE, 0, 0)
        + _nla(2, M1)
        + _nla(9, struct.pack("=I", BRIDGE)),
    )  # RTM_NEWNEIGH of the bridge: NDA_LLADDR, NDA_MASTER
    vxlan_fdb = _message(
        28, struct.pack("=BxxxiHBB", socket.AF_BRIDGE, VXLAN, REACHABLE, 0x12, 0) + _nla(2, M1) + _nla(1, IP1)
    )  # the VXLAN device's own entry (no NDA_MASTER): not reported
    gone = _message(29, struct.pack("=BxxxiHBB", socket.AF_INET, BRIDGE, FAILED, 0, 0) + _nla(1, IP1) + _nla(2, M1))
    link = _message(
        16, struct.pack("=BxHiII", 0, 1, VXLAN, 1, 0) + _nla(3, b"vxlan100\0") + _nla(10, struct.pack("=I", BRIDGE))
    )
    dellink = _message(17, struct.pack("=BxHiII", 0, 1, PORT, 0, 0) + _nla(3, b"hp1\0"))
    junk = struct.pack("=IHHII", 8, 28, 0, 0, 0)  # a length below the header: the walk stops
    data = bridge_fdb + vxlan_fdb + gone + link + dellink + junk
    assert netlink._notifications(data, len(data)) == [
        NeighborState(socket.AF_BRIDGE, PORT, BRIDGE, M1, b"", REACHABLE, 0, True),
        NeighborState(socket.AF_INET, BRIDGE, 0, M1, IP1, FAILED, 0, False),
        LinkState(VXLAN, "vxlan100", BRIDGE, True),
        LinkState(PORT, "hp1", 0, False, present=False),
    ]


# --- the speaker originates what is learned ------------------------------------------------------

A_ID, B_ID, VTEP_A, VTEP_B, ASN = "198.18.0.1", "198.18.0.2", "198.18.0.1", "198.18.0.2", 65001


class FakeWatcher:
    """Plays the kernel: a snapshot, then whatever the test sends."""

    def __init__(self) -> None:
        self.send, self.receive = trio.open_memory_channel[tuple[bool, list[Any]]](10)

    async def changes(self) -> AsyncIterator[tuple[bool, list[Any]]]:
        async for item in self.receive:
            yield item


def b_config() -> Config:
    return parse_config(
        {
            "speaker": {"asn": ASN, "router_id": B_ID},
            "peers": [{"address": A_ID, "asn": ASN, "passive": True}],
            "vnis": [{"vni": 100, "vtep": VTEP_B}],
            "dataplane": {"sink": "memory"},
        }
    )


def with_watcher(watcher: FakeWatcher) -> Callable[[Config], Any]:
    async def opened(config: Config, sink: None = None) -> Dataplane | None:
        dataplane = await open_sink(config, sink)
        if dataplane is not None:
            dataplane.watcher = watcher
        return dataplane

    return opened


def local_macs(speaker: Speaker) -> dict[tuple[bytes, bytes], int]:
    """Our type-2 routes in the RIB: (MAC, IP) -> MAC mobility sequence number."""
    out = {}
    for _, path, _ in speaker.rib.best_paths():
        if path.source.address == "" and isinstance(path.route, MacIpRoute):
            out[(path.route.mac, path.route.ip)] = path.attributes.sequence
    return out


async def until(condition: Callable[[], object]) -> None:
    while not condition():
        await trio.sleep(0.01)


async def test_speaker_originates_learned_macs_with_mobility(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    watcher = FakeWatcher()
    monkeypatch.setattr(evpn.speaker, "open_sink", with_watcher(watcher))
    remote_m1 = MacIpRoute(rd=f"{VTEP_A}:100", mac=M1, label1=100)
    moved = [ExtendedCommunities([RouteTarget(ASN, 100), Encapsulation(TunnelType.VXLAN), MacMobility(3)])]
    with trio.fail_after(60):
        a_config = Config(SpeakerConfig(ASN, A_ID), (PeerConfig(B_ID, ASN, passive=True),))
        async with open_speaker(a_config) as a, open_speaker(b_config()) as b:
            left, right = trio.testing.memory_stream_pair()
            await a.attach(B_ID, left)
            await b.attach(A_ID, right)
            await b.wait_established(A_ID)
            a.announce([remote_m1], attributes=moved, next_hop=VTEP_A)  # M1 behind A, moved 3 times
            assert b.dataplane is not None
            sink = b.dataplane.sink
            assert isinstance(sink, MemorySink)
            await until(lambda: any(isinstance(e, FdbEntry) for e in sink.state.values()))

            await watcher.send.send((True, [*LINKS, fdb(M2), neigh(IP2, M2)]))
            await until(lambda: local_macs(b) == {(M2, b""): 0, (M2, IP2): 0})
            await watcher.send.send((False, [fdb(M1)]))  # the host behind A shows up here
            await until(lambda: (M1, b"") in local_macs(b))
            assert local_macs(b)[(M1, b"")] == 4  # RFC 7432 §15.1: above A's 3
            await until(lambda: not any(isinstance(e, FdbEntry) for e in sink.state.values()))
            # A hears of it: B's route is A's best now
            await until(
                lambda: any(
                    p.source.address == B_ID and getattr(p.route, "mac", None) == M1 for _, p, _ in a.rib.best_paths()
                )
            )
            await watcher.send.send((False, [fdb(M2, present=False)]))
            await until(lambda: local_macs(b) == {(M1, b""): 4})
            # The host moves back behind A (sequence 5): ours is withdrawn, A's entry installed ...
            back = [ExtendedCommunities([RouteTarget(ASN, 100), Encapsulation(TunnelType.VXLAN), MacMobility(5)])]
            a.announce([remote_m1], attributes=back, next_hop=VTEP_A)
            await until(lambda: FdbEntry("vxlan100", M1, ip_bytes(VTEP_A)) in sink.state.values())
            assert local_macs(b) == {}
            # ... and when it shows up here again, the kernel takes the entry back: sequence 6.
            await watcher.send.send((False, [fdb(M1)]))
            await until(lambda: local_macs(b) == {(M1, b""): 6})
            await watcher.send.send((False, [LinkState(VXLAN, "vxlan100", BRIDGE, False)]))
            await until(
                lambda: (
                    not any(
                        p.source.address == "" and type(p.route).__name__ == "InclusiveMulticastRoute"
                        for _, p, _ in b.rib.best_paths()
                    )
                )
            )
